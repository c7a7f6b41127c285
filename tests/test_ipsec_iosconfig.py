"""
Tests for L{srst.ipsec.iosconfig}: the C{crypto:} section as IOS commands
and the seed's IPsec lines imported back.
"""

from __future__ import annotations

import os

import yaml
from twisted.trial.unittest import SynchronousTestCase

from srst.config import loadString
from srst.ipsec.commands import renderCryptoMap, renderIpsecSa
from srst.ipsec.iosconfig import importIos, runningConfig, srstOnly
from srst.ipsec.plan import connectionsFor
from srst.iostext import ImportNotes, parseIosConfig
from srst.policing.iosconfig import importIos as importAccessLists
from tests.test_config import MINIMAL

SEED_IPSEC = """\
no crypto isakmp enable
crypto isakmp policy 1
 authentication pre-share
 lifetime 28800
crypto isakmp key cisco123 address 10.1.1.13
crypto ipsec transform-set rtpset esp-des esp-md5-hmac
crypto map rtp 1 ipsec-isakmp
 set peer 10.1.1.13
 set transform-set rtpset
 match address 116
interface FastEthernet0/0
 ip address 10.1.1.22 255.255.255.0
 duplex auto
 crypto map rtp
access-list 116 permit ip host 10.1.1.22 host 10.1.1.13
"""

MUST_MATCH = "CallManager's IPsec must change to match (or write the IOS values with crypto.allow-legacy-crypto: true)"


def _imported(text: str) -> tuple[dict, list[str], list[str]]:
    document: dict = {}
    notes = ImportNotes()
    rest = importIos(parseIosConfig(text), document, notes)
    rest = importAccessLists(rest, document, notes)
    return document, [str(each) for s in notes.sortedSkipped() for each in s.each()], [line.text for line in rest]


def _load(document: dict):
    return loadString(MINIMAL + yaml.safe_dump(document, sort_keys=False))


class SeedTests(SynchronousTestCase):
    """
    The seed's "Enable IPsec" lines into router.yaml and back.
    """

    def test_import(self) -> None:
        """
        The seed's lines become the section; its broken algorithms (and
        the policy's IOS defaults des and group 1) are imported as modern
        ones and listed with why; the interface keeps its other lines.
        """
        document, skipped, rest = _imported(SEED_IPSEC)
        self.assertEqual(document["crypto"], {
            "isakmp": {"policies": {1: {"authentication": "pre-share", "encryption": "aes 256", "hash": "sha",
                                        "group": 14, "lifetime": 28800}},
                       "keys": [{"address": "10.1.1.13", "key": "cisco123"}]},
            "transform-sets": {"rtpset": {"transforms": ["esp-aes 256", "esp-sha256-hmac"]}},
            "maps": {"rtp": {"interface-address": "10.1.1.22", "entries": [
                {"sequence": 1, "peer": "10.1.1.13", "transform-set": "rtpset", "match-address": 116}],
                "interface": "FastEthernet0/0"}},
        })
        self.assertEqual(skipped, [
            "line 1: no crypto isakmp enable: srst runs IKE (strongSwan's charon) for the maps under crypto:, and"
            " none without",
            "line 2: crypto isakmp policy 1: imported as encryption aes 256, group 14: IOS's default des is broken"
            " (56-bit DES); IOS's default group 1 is broken (768-bit MODP); " + MUST_MATCH,
            "line 6: crypto ipsec transform-set rtpset esp-des esp-md5-hmac: imported as esp-aes 256,"
            " esp-sha256-hmac: esp-des is broken (56-bit DES); esp-md5-hmac is broken (MD5); " + MUST_MATCH,
        ])
        self.assertEqual(rest, ["interface FastEthernet0/0"])
        left = [line for line in importIos(parseIosConfig(SEED_IPSEC), {}, ImportNotes())
                if line.startswith("interface")]
        self.assertEqual([c.text for c in left[0].children], ["ip address 10.1.1.22 255.255.255.0", "duplex auto"])

    def test_backToIos(self) -> None:
        """
        The imported YAML loads and prints the seed's lines, with the
        modern algorithms, the policy's encryption, hash and group written
        out, and the key hidden.
        """
        document, _, _ = _imported(SEED_IPSEC)
        config = _load(document)
        self.assertEqual(runningConfig(config.crypto), [
            "crypto isakmp policy 1",
            " encr aes 256",
            " hash sha",
            " authentication pre-share",
            " group 14",
            " lifetime 28800",
            "crypto isakmp key ***** address 10.1.1.13",
            "!",
            "crypto ipsec transform-set rtpset esp-aes 256 esp-sha256-hmac",
            "!",
            "crypto map rtp 1 ipsec-isakmp",
            " set peer 10.1.1.13",
            " set transform-set rtpset",
            " match address 116",
            "!",
        ])
        self.assertEqual(srstOnly(config.crypto), [
            "! srst: crypto map rtp interface-address 10.1.1.22 interface FastEthernet0/0"])
        [connection] = connectionsFor(config.crypto, config.accessLists)
        self.assertIn("interface: FastEthernet0/0\n", renderIpsecSa([connection], []))
        self.assertTrue(renderCryptoMap([connection]).endswith(
            "        Interfaces using crypto map rtp:\n                FastEthernet0/0"))

    def test_roundTrip(self) -> None:
        """
        What srst prints imports to the same section (but the hidden key,
        which is listed).
        """
        document, _, _ = _imported(SEED_IPSEC)
        config = _load(document)
        printed = "\n".join(runningConfig(config.crypto)) + "\ninterface FastEthernet0/0\n" \
            " ip address 10.1.1.22 255.0.0.0\n" \
            " crypto map rtp\n"
        again, skipped, _ = _imported(printed)
        self.assertEqual(skipped, ["line 7: crypto isakmp key ***** address 10.1.1.13: the key is hidden: write it"
                                   " in crypto.isakmp.keys (or a key-file)"])
        del document["crypto"]["isakmp"]["keys"]
        self.assertEqual(again["crypto"], document["crypto"])

    def test_legacyKept(self) -> None:
        """
        A section allowing legacy crypto prints its algorithms as they are,
        and says so in a comment; a key file is named, never read out.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("s3cret\n")
        os.chmod(path, 0o600)
        config = loadString(MINIMAL + f"""
crypto:
  allow-legacy-crypto: true
  vici-socket: /run/charon.vici
  ike-version: 2
  isakmp:
    policies: {{5: {{authentication: pre-share, encryption: 3des, hash: md5, group: 2}}}}
    keys: [{{address: 10.1.1.13, key-file: {path}}}]
  transform-sets: {{t: {{transforms: [esp-3des, esp-md5-hmac], mode: transport}}}}
""").crypto
        lines = runningConfig(config) + srstOnly(config)
        self.assertEqual(lines, [
            "crypto isakmp policy 5", " encr 3des", " hash md5", " authentication pre-share", " group 2",
            "crypto isakmp key ***** address 10.1.1.13", "!",
            "crypto ipsec transform-set t esp-3des esp-md5-hmac", " mode transport", "!",
            "! srst: crypto vici-socket /run/charon.vici", "! srst: crypto ike-version 2",
            f"! srst: crypto isakmp key address 10.1.1.13 key-file {path}",
            "! srst: crypto allow-legacy-crypto true",
        ])
        self.assertNotIn("s3cret", "\n".join(lines))

    def test_nothing(self) -> None:
        """
        No section, no lines.
        """
        self.assertEqual((runningConfig(None), srstOnly(None)), ([], []))


class SkipReasonTests(SynchronousTestCase):
    """
    Every IPsec line srst cannot take is listed with why.
    """

    def test_reasons(self) -> None:
        """
        Keys srst cannot read, transforms and policy settings it does not
        have, incomplete map entries and maps on no interface.
        """
        document, skipped, rest = _imported("""\
crypto isakmp key 6 AbCdEf address 10.1.1.13
crypto isakmp key cisco hostname cm.example.com
crypto isakmp key cisco address 10.1.1.0 255.255.255.0
crypto isakmp key 0 cisco123 address 10.1.1.13 255.255.255.255 no-xauth
crypto isakmp policy 2
 encryption aes 256
 lifetime 86400
crypto isakmp policy 3
 encr des
 hash md5
 group 2
 authentication pre-share
 lifetime 10
crypto ipsec transform-set ah ah-sha-hmac esp-aes
crypto ipsec transform-set t esp-gcm 256
 mode tunnel
 replay
crypto map rtp 1 ipsec-isakmp
 set peer 10.1.1.13
crypto map rtp 2 ipsec-isakmp
 set peer 10.1.1.13
 set transform-set t
 match address 116
 set pfs group14
crypto map other 1 ipsec-isakmp
 set peer 10.1.1.13
 set transform-set t
 match address 116
crypto map other 2 ipsec-manual
crypto isakmp keepalive 10
interface e0
 ip address 10.1.1.22 255.255.255.0
 crypto map rtp
interface e1
 crypto map other
""")
        self.assertEqual(skipped, [
            "line 1: crypto isakmp key 6 AbCdEf address 10.1.1.13: a type 6 key is encrypted with the router's"
            " master key: write the key in crypto.isakmp.keys (or a key-file)",
            "line 2: crypto isakmp key cisco hostname cm.example.com: srst keys a peer by its address (crypto"
            " isakmp key <key> address <peer>)",
            "line 3: crypto isakmp key cisco address 10.1.1.0 255.255.255.0: srst keys one peer address (no mask,"
            " no hostname)",
            "line 5: crypto isakmp policy 2: IOS's default authentication is rsa-sig: srst's IKE authenticates with"
            " pre-shared keys only (authentication pre-share)",
            "line 6: encryption aes 256: its policy is not imported",
            "line 7: lifetime 86400: its policy is not imported",
            "line 9: encr des: imported as encryption aes 256: des is broken (56-bit DES); " + MUST_MATCH,
            "line 10: hash md5: imported as hash sha256: md5 is broken (MD5); " + MUST_MATCH,
            "line 11: group 2: imported as group 14: group 2 is broken (1024-bit MODP); " + MUST_MATCH,
            "line 13: lifetime 10: srst's ISAKMP policies have encryption (aes [128|192|256]), hash, authentication"
            " pre-share, group and lifetime",
            "line 14: crypto ipsec transform-set ah ah-sha-hmac esp-aes: srst protects with ESP: esp-aes or esp-gcm"
            " and an esp-sha*-hmac, not ah-sha-hmac",
            "line 17: replay: srst's transform sets have mode tunnel or mode transport",
            "line 18: crypto map rtp 1 ipsec-isakmp: a crypto map entry needs set peer, set transform-set and match"
            " address",
            "line 24: set pfs group14: srst's crypto map entries have one set peer, one set transform-set and one"
            " numbered match address",
            "line 25: crypto map other 1 ipsec-isakmp: crypto map other is applied to no interface with an ip"
            " address (srst needs the address it protects from: interface-address)",
            "line 26: set peer 10.1.1.13: crypto map other is applied to no interface with an ip address (srst"
            " needs the address it protects from: interface-address)",
            "line 27: set transform-set t: crypto map other is applied to no interface with an ip address (srst"
            " needs the address it protects from: interface-address)",
            "line 28: match address 116: crypto map other is applied to no interface with an ip address (srst"
            " needs the address it protects from: interface-address)",
            "line 29: crypto map other 2 ipsec-manual: srst's IPsec has isakmp policies and keys, ipsec"
            " transform-sets and ipsec-isakmp crypto maps only",
            "line 30: crypto isakmp keepalive 10: srst's IPsec has isakmp policies and keys, ipsec transform-sets"
            " and ipsec-isakmp crypto maps only",
        ])
        self.assertEqual(rest, ["interface e0", "interface e1"])
        self.assertEqual(document["crypto"], {
            "isakmp": {"policies": {3: {"authentication": "pre-share", "encryption": "aes 256", "hash": "sha256",
                                        "group": 14}},
                       "keys": [{"address": "10.1.1.13", "key": "cisco123"}]},
            "transform-sets": {"t": {"transforms": ["esp-gcm 256"], "mode": "tunnel"}},
            "maps": {"rtp": {"interface-address": "10.1.1.22", "entries": [
                {"sequence": 2, "peer": "10.1.1.13", "transform-set": "t", "match-address": 116}], "interface": "e0"}},
        })
