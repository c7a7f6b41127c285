"""
Tests for L{srst.ipsec.config}: the C{crypto:} section of router.yaml (the
seed's C{crypto isakmp}, C{crypto ipsec transform-set} and C{crypto map}),
read through L{srst.config.loadString}.
"""

from __future__ import annotations

import os

import yaml
from twisted.trial.unittest import SynchronousTestCase

from srst.config import ConfigError, loadString
from srst.ipsec.config import (
    VICI_SOCKET,
    CryptoConfig,
    CryptoMap,
    CryptoMapEntry,
    IsakmpPolicy,
    PreSharedKey,
    TransformSet,
)
from tests.test_config import MINIMAL, problemsOf

ACL = "access-lists:\n  116: [{action: permit, source: 10.1.1.22, destination: 10.1.1.13}]\n"


def crypto(**changes) -> dict:
    """
    The seed's crypto lines as a C{crypto:} section (with a modern
    transform set), with C{changes} merged in (a value of C{None} deletes
    the key).
    """
    section = {
        "isakmp": {"policies": {1: {"authentication": "pre-share", "lifetime": 28800}},
                   "keys": [{"address": "10.1.1.13", "key": "cisco123"}]},
        "transform-sets": {"rtpset": {"transforms": ["esp-aes 256", "esp-sha256-hmac"]}},
        "maps": {"rtp": {"interface-address": "10.1.1.22", "entries": [
            {"sequence": 1, "peer": "10.1.1.13", "transform-set": "rtpset", "match-address": 116}]}},
    }
    for key, value in changes.items():
        if value is None:
            section.pop(key, None)
        else:
            section[key] = value
    return section


def document(section: dict, acl: str = ACL) -> str:
    """
    @return: router.yaml text with C{section} as C{crypto:}.
    """
    return MINIMAL + acl + yaml.safe_dump({"crypto": section}, sort_keys=False)


SEED = CryptoConfig(
    policies=(IsakmpPolicy(priority=1, lifetime=28800),),
    keys=(PreSharedKey(address="10.1.1.13", key="cisco123"),),
    transformSets=(TransformSet(name="rtpset"),),
    maps=(CryptoMap(name="rtp", interfaceAddress="10.1.1.22",
                    entries=(CryptoMapEntry(sequence=1, peer="10.1.1.13", transformSet="rtpset", matchAddress=116),)),),
)


class ReadTests(SynchronousTestCase):
    """
    Valid sections and their defaults.
    """

    def test_seed(self) -> None:
        """
        The seed's lines (modern transforms) read into their values; the
        policy's omitted encryption, hash and group are srst's modern
        defaults (aes 256, sha256, group 14), IKEv1 and charon's usual VICI
        socket are the defaults.
        """
        config = loadString(document(crypto())).crypto
        self.assertEqual(config, SEED)
        self.assertEqual((config.viciSocket, config.ikeVersion, config.allowLegacyCrypto), (VICI_SOCKET, 1, False))
        self.assertEqual(config.policies[0].encryptionText, "aes 256")
        self.assertEqual(config.transformSets[0].transforms, ["esp-aes 256", "esp-sha256-hmac"])
        self.assertEqual(config.keyFor("10.1.1.13").key, "cisco123")
        self.assertEqual(config.legacyChoices(), [])

    def test_interfaceName(self) -> None:
        """
        C{maps.<tag>.interface} names the interface for C{show}; without
        it C{show} uses the address.
        """
        section = crypto(maps={"rtp": {"interface-address": "10.1.1.22", "interface": "FastEthernet0/0",
                                       "entries": [{"sequence": 1, "peer": "10.1.1.13", "transform-set": "rtpset",
                                                    "match-address": 116}]}})
        [cryptoMap] = loadString(document(section)).crypto.maps
        self.assertEqual((cryptoMap.interface, cryptoMap.interfaceName), ("FastEthernet0/0", "FastEthernet0/0"))
        self.assertEqual(SEED.maps[0].interfaceName, "10.1.1.22")
        broken = crypto(maps={"rtp": {"interface-address": "10.1.1.22", "interface": ["e0"], "entries": [
            {"sequence": 1, "peer": "10.1.1.13", "transform-set": "rtpset", "match-address": 116}]}})
        with self.assertRaises(ConfigError) as caught:
            loadString(document(broken))
        self.assertIn("crypto.maps.rtp.interface: ['e0'] is not allowed; expected the name of the"
                      " interface (FastEthernet0/0)", str(caught.exception))

    def test_absent(self) -> None:
        """
        Without the section there is no IPsec.
        """
        self.assertIsNone(loadString(MINIMAL).crypto)

    def test_everyKey(self) -> None:
        """
        Every key, written out.
        """
        section = crypto(**{
            "vici-socket": "/run/charon.vici", "ike-version": 2, "allow-legacy-crypto": False,
            "isakmp": {"policies": {10: {"authentication": "pre-share", "encryption": "aes", "hash": "sha384",
                                         "group": 19, "lifetime": 3600}},
                       "keys": [{"address": "10.1.1.13", "key": "k"}]},
            "transform-sets": {"rtpset": {"transforms": ["esp-gcm 256"], "mode": "transport"}},
        })
        config = loadString(document(section)).crypto
        self.assertEqual((config.viciSocket, config.ikeVersion), ("/run/charon.vici", 2))
        self.assertEqual(config.policies, (IsakmpPolicy(priority=10, encryption="aes", keySize=128, hash="sha384",
                                                        group=19, lifetime=3600),))
        self.assertEqual(config.transformSets, (TransformSet(name="rtpset", encryption="esp-gcm", keySize=256,
                                                             integrity=None, mode="transport"),))

    def test_keyNeverShown(self) -> None:
        """
        The pre-shared key is in no repr.
        """
        config = loadString(document(crypto())).crypto
        self.assertNotIn("cisco123", repr(config))

    def test_keyFile(self) -> None:
        """
        C{key-file}: a 0600 file's first line is the key.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("s3cret\n")
        os.chmod(path, 0o600)
        section = crypto(isakmp={"keys": [{"address": "10.1.1.13", "key-file": path}]})
        config = loadString(document(section)).crypto
        self.assertEqual((config.keys[0].key, config.keys[0].file), ("s3cret", path))
        self.assertNotIn("s3cret", repr(config))

    def test_legacyAllowed(self) -> None:
        """
        With C{allow-legacy-crypto: true} the seed's own lines load, and
        L{CryptoConfig.legacyChoices} lists each broken choice for the
        warning at start.
        """
        section = crypto(**{
            "allow-legacy-crypto": True,
            "isakmp": {"policies": {1: {"authentication": "pre-share", "encryption": "des", "hash": "md5",
                                        "group": 1}},
                       "keys": [{"address": "10.1.1.13", "key": "cisco123"}]},
            "transform-sets": {"rtpset": {"transforms": ["esp-des", "esp-md5-hmac"]}},
        })
        config = loadString(document(section)).crypto
        self.assertEqual(config.transformSets[0].transforms, ["esp-des", "esp-md5-hmac"])
        self.assertEqual(config.legacyChoices(), [
            "crypto.isakmp.policies.1: des is broken (56-bit DES): use aes (aes 256)",
            "crypto.isakmp.policies.1: md5 is broken (MD5): use sha256",
            "crypto.isakmp.policies.1: group 1 is broken (768-bit MODP): use group 14 (2048-bit MODP) or group 19"
            " (256-bit ECP)",
            "crypto.transform-sets.rtpset: esp-des is broken (56-bit DES): use esp-aes (esp-aes 256)",
            "crypto.transform-sets.rtpset: esp-md5-hmac is broken (MD5): use esp-sha256-hmac",
        ])


P = "router.yaml: crypto."
LEGACY = ", or set crypto.allow-legacy-crypto: true"
TRANSFORMS = ("expected an ESP encryption (esp-aes [128|192|256], esp-gcm [128|256]) and, except with esp-gcm, an"
              " integrity transform (esp-sha-hmac, esp-sha256-hmac, esp-sha384-hmac, esp-sha512-hmac)")
KEY = [{"address": "10.1.1.13", "key": "cisco123"}]


def _policy(**values) -> dict:
    return {"isakmp": {"policies": {1: {"authentication": "pre-share", **values}}, "keys": KEY}}


def _set(*transforms, **values) -> dict:
    return {"transform-sets": {"rtpset": {"transforms": list(transforms), **values}}}


def _entry(**values) -> dict:
    entry = {"sequence": 1, "peer": "10.1.1.13", "transform-set": "rtpset", "match-address": 116, **values}
    return {"maps": {"rtp": {"interface-address": "10.1.1.22", "entries": [
        {k: v for k, v in entry.items() if v is not None}]}}}


# (what changes in the seed's section, the problem lines)
PROBLEMS = [
    ({"vici-socket": 5.5}, [P + "vici-socket: 5.5 is not allowed; expected a string"]),
    ({"ike-version": 3}, [P + "ike-version: 3 is not allowed; expected 1 (IKEv1 main mode, as IOS's crypto isakmp)"
                              " or 2"]),
    ({"allow-legacy-crypto": "yes"}, [P + "allow-legacy-crypto: 'yes' is not allowed; expected true or false"]),
    ({"ipsec": {}}, [P + "ipsec: {} is not allowed; unknown key; known keys here: allow-legacy-crypto, ike-version,"
                         " isakmp, maps, transform-sets, vici-socket"]),
    (_policy(encryption="des"), [P + "isakmp.policies.1.encryption: 'des' is not allowed; des is broken (56-bit"
                                     " DES): use aes (aes 256)" + LEGACY]),
    (_policy(encryption="3des"), [P + "isakmp.policies.1.encryption: '3des' is not allowed; 3des is broken (64-bit"
                                      " blocks, Sweet32): use aes (aes 256)" + LEGACY]),
    (_policy(encryption="aes 512"), [P + "isakmp.policies.1.encryption: 'aes 512' is not allowed; expected aes 128,"
                                         " aes 192 or aes 256 (aes is aes 128)"]),
    (_policy(hash="md5"), [P + "isakmp.policies.1.hash: 'md5' is not allowed; md5 is broken (MD5): use sha256"
                               + LEGACY]),
    (_policy(hash="sha1"), [P + "isakmp.policies.1.hash: 'sha1' is not allowed; expected one of: sha, sha256,"
                                " sha384, sha512, md5"]),
    (_policy(group=1), [P + "isakmp.policies.1.group: 1 is not allowed; group 1 is broken (768-bit MODP): use group"
                            " 14 (2048-bit MODP) or group 19 (256-bit ECP)" + LEGACY]),
    (_policy(group=2), [P + "isakmp.policies.1.group: 2 is not allowed; group 2 is broken (1024-bit MODP): use group"
                            " 14 (2048-bit MODP) or group 19 (256-bit ECP)" + LEGACY]),
    (_policy(group=5), [P + "isakmp.policies.1.group: 5 is not allowed; group 5 is broken (1536-bit MODP): use group"
                            " 14 (2048-bit MODP) or group 19 (256-bit ECP)" + LEGACY]),
    (_policy(group=3), [P + "isakmp.policies.1.group: 3 is not allowed; expected a Diffie-Hellman group: 1, 2, 5,"
                            " 14, 15, 16, 19, 20, 21, 24"]),
    (_policy(lifetime=30), [P + "isakmp.policies.1.lifetime: 30 is not allowed; expected an integer from 60 to"
                                " 86400"]),
    (_policy(authentication="rsa-sig"), [
        P + "isakmp.policies.1.authentication: 'rsa-sig' is not allowed; expected pre-share (srst's IKE"
            " authenticates with pre-shared keys; IOS's default rsa-sig is not offered)"]),
    ({"isakmp": {"policies": {1: {"lifetime": 28800}}, "keys": KEY}}, [
        P + "isakmp.policies.1.authentication: missing; required; expected pre-share (srst's IKE authenticates"
            " with pre-shared keys; IOS's default rsa-sig is not offered)"]),
    ({"isakmp": {"policies": {0: {"authentication": "pre-share"}}, "keys": KEY}}, [
        P + "isakmp.policies.0: 0 is not allowed; expected a policy priority from 1 to 10000"]),
    ({"isakmp": {"keys": [{"address": "10.1.1.13"}]}}, [
        P + "isakmp.keys[0].key: missing; expected key or key-file (a file of mode 0600 holding the key)"]),
    ({"isakmp": {"keys": [{"address": "10.1.1.13", "key": "cisco123", "key-file": "/etc/psk"}]}}, [
        P + "isakmp.keys[0]: expected key or key-file, not both"]),
    ({"isakmp": {"keys": [{"address": "10.1.1.13", "key": " cisco123"}]}}, [
        P + "isakmp.keys[0].key: '<key hidden>' is not allowed; expected the pre-shared key: a string of 1 to 128"
            " characters without surrounding blanks"]),
    ({"isakmp": {"keys": [{"address": "callmanager", "key": "cisco123"}]}}, [
        P + "isakmp.keys[0].address: 'callmanager' is not allowed; expected an IPv4 or IPv6 address such as"
            " 127.0.0.1",
        P + "maps.rtp.entries[0].peer: '10.1.1.13' is not allowed; expected a peer with a pre-shared key under"
            " crypto.isakmp.keys"]),
    ({"isakmp": {"keys": KEY + KEY}}, [
        P + "isakmp.keys[1].address: '10.1.1.13' is not allowed; a second key for the same peer (one key per peer"
            " address)"]),
    ({"isakmp": {"keys": KEY, "policy": {}}}, [
        P + "isakmp.policy: {} is not allowed; unknown key; known keys here: keys, policies"]),
    (_set("esp-des", "esp-sha256-hmac"), [
        P + "transform-sets.rtpset.transforms[0]: 'esp-des' is not allowed; esp-des is broken (56-bit DES): use"
            " esp-aes (esp-aes 256)" + LEGACY]),
    (_set("esp-3des", "esp-sha256-hmac"), [
        P + "transform-sets.rtpset.transforms[0]: 'esp-3des' is not allowed; esp-3des is broken (64-bit blocks,"
            " Sweet32): use esp-aes (esp-aes 256)" + LEGACY]),
    (_set("esp-aes 256", "esp-md5-hmac"), [
        P + "transform-sets.rtpset.transforms[1]: 'esp-md5-hmac' is not allowed; esp-md5-hmac is broken (MD5): use"
            " esp-sha256-hmac" + LEGACY]),
    (_set("esp-des", "esp-md5-hmac"), [
        P + "transform-sets.rtpset.transforms[0]: 'esp-des' is not allowed; esp-des is broken (56-bit DES): use"
            " esp-aes (esp-aes 256)" + LEGACY,
        P + "transform-sets.rtpset.transforms[1]: 'esp-md5-hmac' is not allowed; esp-md5-hmac is broken (MD5): use"
            " esp-sha256-hmac" + LEGACY]),
    (_set("esp-aes 512", "esp-sha256-hmac"), [
        P + "transform-sets.rtpset.transforms[0]: 'esp-aes 512' is not allowed; " + TRANSFORMS]),
    (_set("esp-aes", "ah-sha-hmac"), [
        P + "transform-sets.rtpset.transforms[1]: 'ah-sha-hmac' is not allowed; " + TRANSFORMS + ", once each"]),
    (_set("esp-aes", "esp-aes 256"), [
        P + "transform-sets.rtpset.transforms[1]: 'esp-aes 256' is not allowed; " + TRANSFORMS + ", once each"]),
    (_set(), [P + "transform-sets.rtpset.transforms: [] is not allowed; " + TRANSFORMS]),
    (_set("esp-sha256-hmac"), [P + "transform-sets.rtpset.transforms: ['esp-sha256-hmac'] is not allowed; expected"
                                   " an ESP encryption transform (esp-aes 256)"]),
    (_set("esp-aes"), [P + "transform-sets.rtpset.transforms: ['esp-aes'] is not allowed; esp-aes needs an"
                           " integrity transform (esp-sha256-hmac)"]),
    (_set("esp-gcm", "esp-sha-hmac"), [P + "transform-sets.rtpset.transforms: ['esp-gcm', 'esp-sha-hmac'] is not"
                                           " allowed; esp-gcm authenticates itself: no integrity transform with"
                                           " it"]),
    (_set("esp-aes", "esp-sha-hmac", mode="tunnel-mode"), [
        P + "transform-sets.rtpset.mode: 'tunnel-mode' is not allowed; expected one of: tunnel, transport"]),
    (_entry(sequence=0), [P + "maps.rtp.entries[0].sequence: 0 is not allowed; expected an integer from 1 to"
                              " 65535"]),
    (_entry(peer="10.1.1.14"), [P + "maps.rtp.entries[0].peer: '10.1.1.14' is not allowed; expected a peer with a"
                                    " pre-shared key under crypto.isakmp.keys"]),
    (_entry(**{"transform-set": "other"}), [
        P + "maps.rtp.entries[0].transform-set: 'other' is not allowed; expected the name of a transform set under"
            " crypto.transform-sets"]),
    (_entry(**{"match-address": 117}), [
        P + "maps.rtp.entries[0].match-address: 117 is not allowed; expected the number of an access list under"
            " access-lists"]),
    (_entry(**{"match-address": 10}), [
        P + "maps.rtp.entries[0].match-address: 10 is not allowed; expected an extended access-list number (100 to"
            " 199 or 2000 to 2699)"]),
    (_entry(**{"match-address": None}), [
        P + "maps.rtp.entries[0].match-address: missing; required; expected an extended access-list number (100 to"
            " 199 or 2000 to 2699)"]),
    ({"maps": {"rtp": {"interface-address": "10.1.1.22", "entries": [
        {"sequence": 1, "peer": "10.1.1.13", "transform-set": "rtpset", "match-address": 116}] * 2}}}, [
        P + "maps.rtp.entries[1].sequence: 1 is not allowed; a second entry with this sequence number in the map"]),
    ({"maps": {"rtp": {"entries": []}}}, [
        P + "maps.rtp.interface-address: missing; required; expected the IPv4 or IPv6 address of the interface the"
            " map is applied to (crypto map on its interface)"]),
    ({"maps": {"rtp": {"interface-address": "FastEthernet0/0", "entries": []}}}, [
        P + "maps.rtp.interface-address: 'FastEthernet0/0' is not allowed; expected the IPv4 or IPv6 address of the"
            " interface the map is applied to (crypto map on its interface)"]),
    ({"maps": {"rtp": {"interface-address": "10.1.1.22"}}}, [
        P + "maps.rtp.entries: missing; required; a list of {sequence, peer, transform-set, match-address}"]),
    ({"maps": {"rtp": {"interface-address": "10.1.1.22", "entries": []},
               "rtp2": {"interface-address": "10.1.1.22", "entries": []}}}, [
        P + "maps.rtp2.interface-address: '10.1.1.22' is not allowed; crypto map rtp is applied there already (one"
            " crypto map per interface)"]),
]


class ProblemTests(SynchronousTestCase):
    """
    Every problem of the section, with its YAML path and exact words.
    """

    def test_table(self) -> None:
        """
        Each change of the seed's section gives exactly its problems.
        """
        for changes, expected in PROBLEMS:
            with self.subTest(changes=changes):
                self.assertEqual(problemsOf(self, document(crypto(**changes))), expected)

    def test_keyFileMode(self) -> None:
        """
        A key file readable by others is refused, naming the path and its
        mode; a missing one says why.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("s3cret\n")
        os.chmod(path, 0o640)
        section = crypto(isakmp={"keys": [{"address": "10.1.1.13", "key-file": path}]})
        self.assertEqual(problemsOf(self, document(section)), [
            f"{P}isakmp.keys[0].key-file: {path!r} is not allowed; {path} has mode 0640: a key file must be mode"
            f" 0600 or stricter (chmod 600 {path})"])
        os.remove(path)
        self.assertEqual(problemsOf(self, document(section)), [
            f"{P}isakmp.keys[0].key-file: {path!r} is not allowed; cannot read it: No such file or directory"])

    def test_keyFileEmpty(self) -> None:
        """
        An empty key file is refused.
        """
        path = self.mktemp()
        with open(path, "w"):
            pass
        os.chmod(path, 0o400)
        section = crypto(isakmp={"keys": [{"address": "10.1.1.13", "key-file": path}]})
        self.assertEqual(problemsOf(self, document(section)), [
            f"{P}isakmp.keys[0].key-file: {path!r} is not allowed; expected a file holding the key on one line"
            f" (1 to 128 characters of UTF-8)"])

    def test_keyNotInProblems(self) -> None:
        """
        A refused key is not shown in the problem.
        """
        section = crypto(isakmp={"keys": [{"address": "10.1.1.13", "key": "secret ", "key-file": "x"}]})
        self.assertNotIn("secret", "\n".join(problemsOf(self, document(section))))


class DeploymentTests(SynchronousTestCase):
    """
    The shipped files meet: router.yaml's commented crypto section loads
    and names the VICI socket etc/strongswan.conf gives charon, which
    etc/supervisord.conf starts before srst.
    """

    def setUp(self) -> None:
        from tests.routerhelpers import ROOT

        self.root = ROOT
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        cwd = os.getcwd()
        os.chdir(ROOT)
        self.addCleanup(os.chdir, cwd)

    def test_routerYamlCryptoComment(self) -> None:
        """
        etc/router.yaml starts without crypto; its commented seed lines,
        uncommented, load into the seed's crypto map with a modern transform
        set, on the socket etc/strongswan.conf names.
        """
        import re

        from srst.config import load
        from srst.ipsec.plan import connectionsFor

        path = os.path.join("etc", "router.yaml")
        self.assertIsNone(load(path).crypto)
        with open(path) as f:
            text = f.read()
        text = text.replace("  # 116: [", "  116: [")
        text = re.sub(r"^# (crypto:\n(?:#   .*\n)+)", lambda m: m.group(1).replace("\n#   ", "\n  "), text,
                      flags=re.M)
        loaded = os.path.join(self.directory, "router.yaml")
        with open(loaded, "w") as f:
            f.write(text)
        config = load(loaded)
        assert config.crypto is not None
        [rtp] = connectionsFor(config.crypto, config.accessLists)
        self.assertEqual((rtp.name, rtp.localAddress, rtp.remoteAddress, rtp.psk, rtp.espProposals,
                          rtp.ikeProposals, rtp.ikeLifetime, rtp.localTs, rtp.remoteTs),
                         ("rtp-1", "10.1.1.22", "10.1.1.13", "cisco123", ("aes256-sha256",),
                          ("aes256-sha256-modp2048",), 28800, ("10.1.1.22/32",), ("10.1.1.13/32",)))
        with open(os.path.join("etc", "strongswan.conf")) as f:
            sockets = re.findall(r"^\s*socket = unix://(\S+)$", f.read(), flags=re.M)
        self.assertEqual(sockets, [config.crypto.viciSocket])
        self.assertEqual(config.crypto.viciSocket, VICI_SOCKET)

    def test_supervisordStartsCharonFirst(self) -> None:
        """
        supervisord runs charon with etc/strongswan.conf before srst.
        """
        import configparser

        parser = configparser.RawConfigParser()
        parser.read(os.path.join("etc", "supervisord.conf"))
        charon, srst = parser["program:charon"], parser["program:srst"]
        self.assertEqual(charon["command"], "/usr/lib/ipsec/charon")
        self.assertEqual(charon["environment"], 'STRONGSWAN_CONF="%(here)s/strongswan.conf"')
        self.assertLess(int(charon["priority"]), int(srst["priority"]))
