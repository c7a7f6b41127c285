# -*- test-case-name: tests.test_ipsec_config -*-
"""
The C{crypto:} section of router.yaml: IKE (ISAKMP) policies and
pre-shared keys, IPsec transform sets and crypto maps, as the seed's
C{crypto isakmp policy}, C{crypto isakmp key}, C{crypto ipsec
transform-set} and C{crypto map} configure them.

Everything here is a frozen value; nothing imports C{twisted.internet}.
L{readCrypto} builds a L{CryptoConfig} from router.yaml (it reads a
C{key-file} and checks its mode); what crosses sections (a map's
C{match-address} names an access list under C{access-lists:}) is checked by
L{srst.config}, with L{CryptoConfig.crossProblems}.

Broken algorithms -- the seed's C{esp-des} and C{esp-md5-hmac}, C{esp-3des},
IKE C{des}, C{3des}, C{md5} and Diffie-Hellman groups 1, 2 and 5 -- are
refused with the modern equivalent to use, unless C{allow-legacy-crypto:
true}; then L{CryptoConfig.legacyChoices} lists them for the warning the
runtime logs at every start.

IOS's defaults for a policy that omits them are C{des}, C{sha} and group 1:
broken.  srst's are C{aes 256}, C{sha256} and group 14 (2048-bit MODP);
C{show running-config} always prints the three lines, so the IOS text means
the same to IOS, and the IOS import writes IOS's defaults out (and maps them).
"""

from __future__ import annotations

import ipaddress
import os
import stat
from typing import Any

from attrs import field, frozen

from srst.configreader import ConfigProblem, Reader

__all__ = [
    "CryptoConfig",
    "CryptoMap",
    "CryptoMapEntry",
    "IsakmpPolicy",
    "PreSharedKey",
    "TransformSet",
    "VICI_SOCKET",
    "readCrypto",
]

VICI_SOCKET = "/var/run/charon.vici"
"""Where charon's VICI plugin listens by default (strongswan.conf
C{charon.plugins.vici.socket})."""

ALLOW_LEGACY = "crypto.allow-legacy-crypto: true"

IKE_ENCRYPTIONS = {"aes": (128, 192, 256), "3des": (), "des": ()}
"""C{encryption} of an ISAKMP policy, with the AES key sizes."""

IKE_HASHES = ("sha", "sha256", "sha384", "sha512", "md5")

IKE_GROUPS = (1, 2, 5, 14, 15, 16, 19, 20, 21, 24)
"""The Diffie-Hellman groups IOS offers."""

LIFETIME = (60, 86400)
"""C{lifetime} of an ISAKMP policy, seconds; IOS's default is the maximum."""

ESP_ENCRYPTIONS = {"esp-aes": (128, 192, 256), "esp-gcm": (128, 256), "esp-3des": (), "esp-des": ()}
"""ESP encryption transforms, with their key sizes (the first is IOS's
default)."""

ESP_INTEGRITY = ("esp-sha-hmac", "esp-sha256-hmac", "esp-sha384-hmac", "esp-sha512-hmac", "esp-md5-hmac")

MODES = ("tunnel", "transport")

EXTENDED_LISTS = "expected an extended access-list number (100 to 199 or 2000 to 2699)"

_LEGACY: dict[str, str] = {
    "esp-des": "esp-des is broken (56-bit DES): use esp-aes (esp-aes 256)",
    "esp-3des": "esp-3des is broken (64-bit blocks, Sweet32): use esp-aes (esp-aes 256)",
    "esp-md5-hmac": "esp-md5-hmac is broken (MD5): use esp-sha256-hmac",
    "des": "des is broken (56-bit DES): use aes (aes 256)",
    "3des": "3des is broken (64-bit blocks, Sweet32): use aes (aes 256)",
    "md5": "md5 is broken (MD5): use sha256",
    "group 1": "group 1 is broken (768-bit MODP): use group 14 (2048-bit MODP) or group 19 (256-bit ECP)",
    "group 2": "group 2 is broken (1024-bit MODP): use group 14 (2048-bit MODP) or group 19 (256-bit ECP)",
    "group 5": "group 5 is broken (1536-bit MODP): use group 14 (2048-bit MODP) or group 19 (256-bit ECP)",
}


def legacyReason(choice: str) -> str | None:
    """
    @param choice: a transform (C{esp-des}), an IKE encryption or hash
        (C{des}, C{md5}) or a group (C{group 1}).
    @return: why it is refused and what to use instead, or C{None} when it
        is not a broken algorithm.
    """
    return _LEGACY.get(choice)


@frozen
class IsakmpPolicy:
    """
    C{crypto isakmp policy <priority>}.

    @ivar priority: 1 to 10000 (lower is tried first).
    @ivar encryption: C{aes}, C{3des} or C{des}.
    @ivar keySize: the AES key size, or C{None} for (3)DES.
    @ivar hash: C{sha}, C{sha256}, C{sha384}, C{sha512} or C{md5}.
    @ivar group: the Diffie-Hellman group.
    @ivar lifetime: the IKE SA's lifetime, seconds.
    @ivar authentication: C{pre-share}.
    """

    priority: int
    encryption: str = "aes"
    keySize: int | None = 256
    hash: str = "sha256"
    group: int = 14
    lifetime: int = LIFETIME[1]
    authentication: str = "pre-share"

    @property
    def encryptionText(self) -> str:
        """
        The encryption as IOS writes it (C{aes 256}).
        """
        return self.encryption if self.keySize is None else f"{self.encryption} {self.keySize}"

    def legacy(self) -> list[str]:
        """
        @return: the reasons of this policy's broken algorithms.
        """
        reasons = (legacyReason(self.encryption), legacyReason(self.hash), legacyReason(f"group {self.group}"))
        return [reason for reason in reasons if reason is not None]


@frozen
class PreSharedKey:
    """
    C{crypto isakmp key <key> address <peer>}.  The key is never in a repr.

    @ivar address: the peer's address.
    @ivar key: the secret.
    @ivar file: the file it was read from, or C{None} when written in
        router.yaml.
    """

    address: str
    key: str = field(repr=False)
    file: str | None = None


@frozen
class TransformSet:
    """
    C{crypto ipsec transform-set <name> <encryption> [<integrity>]}, with
    C{mode}.

    @ivar encryption: C{esp-aes}, C{esp-gcm}, C{esp-3des} or C{esp-des}.
    @ivar keySize: its key size, or C{None} for (3)DES.
    @ivar integrity: the ESP HMAC, or C{None} with C{esp-gcm}.
    @ivar mode: C{tunnel} (IOS's default) or C{transport}.
    """

    name: str
    encryption: str = "esp-aes"
    keySize: int | None = 256
    integrity: str | None = "esp-sha256-hmac"
    mode: str = "tunnel"

    @property
    def transforms(self) -> list[str]:
        """
        The transforms as IOS writes them (C{["esp-aes 256",
        "esp-sha256-hmac"]}).
        """
        first = self.encryption if self.keySize is None else f"{self.encryption} {self.keySize}"
        return [first] + ([self.integrity] if self.integrity is not None else [])

    def legacy(self) -> list[str]:
        """
        @return: the reasons of this set's broken transforms.
        """
        reasons = (legacyReason(self.encryption), legacyReason(self.integrity or ""))
        return [reason for reason in reasons if reason is not None]


@frozen
class CryptoMapEntry:
    """
    C{crypto map <map> <sequence> ipsec-isakmp} with C{set peer}, C{set
    transform-set} and C{match address}.

    @ivar sequence: 1 to 65535.
    @ivar peer: the peer's address.
    @ivar transformSet: the name of a L{TransformSet}.
    @ivar matchAddress: the number of the access list whose C{permit}
        entries are the traffic to protect.
    """

    sequence: int
    peer: str
    transformSet: str
    matchAddress: int


@frozen
class CryptoMap:
    """
    A crypto map applied to the interface that has C{interfaceAddress}
    (IOS: C{interface ... / crypto map <name>}).

    @ivar name: the map's tag.
    @ivar interfaceAddress: the local address the tunnel starts from.
    @ivar entries: the L{CryptoMapEntry}s by sequence.
    @ivar interface: the name of that interface (C{"FastEthernet0/0"}), for
        C{show}; L{None} when not configured.
    """

    name: str
    interfaceAddress: str
    entries: tuple[CryptoMapEntry, ...] = ()
    interface: str | None = None

    @property
    def interfaceName(self) -> str:
        """
        @return: the interface as C{show} prints it: its name, or its
            address when no name is configured.
        """
        return self.interface if self.interface is not None else self.interfaceAddress


@frozen
class CryptoConfig:
    """
    The C{crypto:} section.

    @ivar viciSocket: the path of charon's VICI socket.
    @ivar ikeVersion: 1 (main mode, as the seed) or 2.
    @ivar policies: the L{IsakmpPolicy}s by priority.
    @ivar keys: the L{PreSharedKey}s.
    @ivar transformSets: the L{TransformSet}s by name.
    @ivar maps: the L{CryptoMap}s by name.
    @ivar allowLegacyCrypto: whether broken algorithms were allowed.
    """

    viciSocket: str = VICI_SOCKET
    ikeVersion: int = 1
    policies: tuple[IsakmpPolicy, ...] = ()
    keys: tuple[PreSharedKey, ...] = ()
    transformSets: tuple[TransformSet, ...] = ()
    maps: tuple[CryptoMap, ...] = ()
    allowLegacyCrypto: bool = False

    def keyFor(self, peer: str) -> PreSharedKey | None:
        """
        @return: the pre-shared key of C{peer}, or C{None}.
        """
        for key in self.keys:
            if key.address == peer:
                return key
        return None

    def transformSet(self, name: str) -> TransformSet | None:
        """
        @return: the transform set called C{name}, or C{None}.
        """
        for transformSet in self.transformSets:
            if transformSet.name == name:
                return transformSet
        return None

    def legacyChoices(self) -> list[str]:
        """
        The broken algorithms in use (only possible with
        C{allow-legacy-crypto: true}), one line each, for the warning logged
        at every start.

        @return: C{"<yaml path>: <reason>"} lines; empty when none.
        """
        lines = []
        for policy in self.policies:
            lines += [f"crypto.isakmp.policies.{policy.priority}: {reason}" for reason in policy.legacy()]
        for transformSet in self.transformSets:
            lines += [f"crypto.transform-sets.{transformSet.name}: {reason}" for reason in transformSet.legacy()]
        return lines

    def crossProblems(self, accessLists: dict[int, Any]) -> list[ConfigProblem]:
        """
        What a map entry names that is not configured: its access list
        (under C{access-lists:}).  The transform set and the peer's key
        are checked by L{readCrypto}.

        @param accessLists: the access lists by number.
        @return: the problems, with their YAML paths.
        """
        problems = []
        for cryptoMap in self.maps:
            for index, entry in enumerate(cryptoMap.entries):
                if entry.matchAddress not in accessLists:
                    problems.append(ConfigProblem(
                        f"crypto.maps.{cryptoMap.name}.entries[{index}].match-address", entry.matchAddress,
                        "expected the number of an access list under access-lists"))
        return problems


def _readLegacy(r: Reader, key: str, value: Any, choice: str, allowLegacy: bool) -> bool:
    """
    @return: whether C{choice} may be used (a refused one is a problem).
    """
    reason = legacyReason(choice)
    if reason is None or allowLegacy:
        return True
    r.problem(key, value, f"{reason}, or set {ALLOW_LEGACY}")
    return False


def _readPolicies(policies: Reader, allowLegacy: bool) -> list[IsakmpPolicy]:
    result = []
    for number in policies.keys():
        path = policies.sub(str(number))
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 10000:
            policies.problem(str(number), number, "expected a policy priority from 1 to 10000")
            continue
        p = Reader(policies.raw(number), path, policies.problems)
        ok = True
        authentication = p.string("authentication", required=True, choices=["pre-share"],
                                  allowed="expected pre-share (srst's IKE authenticates with pre-shared keys;"
                                          " IOS's default rsa-sig is not offered)")
        encryptionText = p.string("encryption", "aes 256",
                                  allowed="expected aes 128, aes 192 or aes 256 (aes is aes 128)")
        encryption, keySize = "aes", 256
        if encryptionText is not None:
            words = encryptionText.lower().split()
            sizes = IKE_ENCRYPTIONS.get(words[0]) if words else None
            if sizes is None or len(words) > 2 or (len(words) == 2 and (
                    not sizes or not words[1].isdigit() or int(words[1]) not in sizes)):
                p.problem("encryption", encryptionText, "expected aes 128, aes 192 or aes 256 (aes is aes 128)")
                ok = False
            else:
                encryption = words[0]
                keySize = (int(words[1]) if len(words) == 2 else sizes[0]) if sizes else None
                ok = _readLegacy(p, "encryption", encryptionText, encryption, allowLegacy) and ok
        hashName = p.string("hash", "sha256", choices=IKE_HASHES)
        if hashName is None:
            ok = False
        else:
            ok = _readLegacy(p, "hash", hashName, hashName, allowLegacy) and ok
        group = p.integer("group", 14, allowed="expected a Diffie-Hellman group: "
                          + ", ".join(str(g) for g in IKE_GROUPS))
        if group is not None and group not in IKE_GROUPS:
            p.problem("group", group, "expected a Diffie-Hellman group: " + ", ".join(str(g) for g in IKE_GROUPS))
            group = None
        if group is None:
            ok = False
        else:
            ok = _readLegacy(p, "group", group, f"group {group}", allowLegacy) and ok
        lifetime = p.integer("lifetime", LIFETIME[1], *LIFETIME)
        p.finish()
        if ok and authentication is not None and lifetime is not None and hashName is not None and group:
            result.append(IsakmpPolicy(priority=number, encryption=encryption, keySize=keySize, hash=hashName,
                                       group=group, lifetime=lifetime, authentication=authentication))
    return sorted(result, key=lambda policy: policy.priority)


def _readKeyFile(k: Reader, path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        k.problem("key-file", path, f"cannot read it: {e.strerror}")
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            k.problem("key-file", path, "expected a regular file holding the pre-shared key")
            return None
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            k.problem("key-file", path, f"{path} has mode {mode:04o}: a key file must be mode 0600 or stricter"
                                        f" (chmod 600 {path})")
            return None
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        text = ""
    if not text or "\n" in text or len(text) > 128:
        k.problem("key-file", path, "expected a file holding the key on one line (1 to 128 characters of UTF-8)")
        return None
    return text


def _readKeys(isakmp: Reader, seen: set[str]) -> list[PreSharedKey]:
    """
    @param seen: filled with every peer address given a key (a key with a
        problem included, so a map naming its peer is not a second problem).
    """

    def key(value: Any, path: str) -> PreSharedKey | None:
        k = Reader(value, path, isakmp.problems)
        if not isinstance(value, dict):
            return None
        address = k.address("address", required=True)
        secret: str | None = None
        source: str | None = None
        if k.has("key") and k.has("key-file"):
            k.problems.append(ConfigProblem.because(path, "expected key or key-file, not both"))
            k.raw("key")
            k.raw("key-file")
        elif k.has("key"):
            raw = k.raw("key")
            if isinstance(raw, str) and 1 <= len(raw) <= 128 and raw.strip() == raw:
                secret = raw
            else:
                k.problem("key", "<key hidden>", "expected the pre-shared key: a string of 1 to 128 characters"
                                                 " without surrounding blanks")
        elif k.has("key-file"):
            source = k.string("key-file")
            if source is not None:
                secret = _readKeyFile(k, source)
        else:
            k.problems.append(ConfigProblem.because(k.sub("key"), "missing; expected key or key-file (a file of"
                                                                  " mode 0600 holding the key)"))
        k.finish()
        if address is not None and address in seen:
            k.problem("address", address, "a second key for the same peer (one key per peer address)")
            return None
        if address is None:
            return None
        seen.add(address)
        if secret is None:
            return None
        return PreSharedKey(address=address, key=secret, file=source)

    return isakmp.listOf("keys", key)


def _readTransformSets(sets: Reader, allowLegacy: bool) -> list[TransformSet]:
    result = []
    allowedTransforms = ("expected an ESP encryption (esp-aes [128|192|256], esp-gcm [128|256]) and, except"
                         " with esp-gcm, an integrity transform (esp-sha-hmac, esp-sha256-hmac, esp-sha384-hmac,"
                         " esp-sha512-hmac)")
    for name in sets.keys():
        s = Reader(sets.raw(name), sets.sub(str(name)), sets.problems)
        mode = s.string("mode", "tunnel", choices=MODES)
        raw = s.raw("transforms")
        encryption: tuple[str, int | None] | None = None
        integrity: str | None = None
        ok = mode is not None
        if not isinstance(raw, list) or not raw:
            s.problem("transforms", raw, allowedTransforms)
            ok = False
            raw = []
        for index, item in enumerate(raw):
            key = f"transforms[{index}]"
            words = item.lower().split() if isinstance(item, str) else []
            if words and words[0] in ESP_ENCRYPTIONS and encryption is None:
                sizes = ESP_ENCRYPTIONS[words[0]]
                if len(words) > 2 or (len(words) == 2 and (
                        not sizes or not words[1].isdigit() or int(words[1]) not in sizes)):
                    s.problem(key, item, allowedTransforms)
                    ok = False
                    continue
                size = (int(words[1]) if len(words) == 2 else sizes[0]) if sizes else None
                encryption = (words[0], size)
                ok = _readLegacy(s, key, item, words[0], allowLegacy) and ok
            elif len(words) == 1 and words[0] in ESP_INTEGRITY and integrity is None:
                integrity = words[0]
                ok = _readLegacy(s, key, item, words[0], allowLegacy) and ok
            else:
                s.problem(key, item, allowedTransforms + ", once each")
                ok = False
        s.finish()
        if not ok:
            continue
        if encryption is None:
            s.problem("transforms", raw, "expected an ESP encryption transform (esp-aes 256)")
            continue
        if encryption[0] == "esp-gcm" and integrity is not None:
            s.problem("transforms", raw, "esp-gcm authenticates itself: no integrity transform with it")
            continue
        if encryption[0] != "esp-gcm" and integrity is None:
            s.problem("transforms", raw, f"{encryption[0]} needs an integrity transform (esp-sha256-hmac)")
            continue
        result.append(TransformSet(name=str(name), encryption=encryption[0], keySize=encryption[1],
                                   integrity=integrity, mode=mode or "tunnel"))
    return result


def _address(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _isExtended(number: Any) -> bool:
    return (not isinstance(number, bool) and isinstance(number, int)
            and (100 <= number <= 199 or 2000 <= number <= 2699))


def _readMaps(maps: Reader, peers: set[str], setNames: set[str]) -> list[CryptoMap]:
    """
    @param peers: the addresses given a key.
    @param setNames: the transform sets' names (those with a problem
        included).
    """
    result = []
    interfaces: dict[str, str] = {}
    for name in maps.keys():
        m = Reader(maps.raw(name), maps.sub(str(name)), maps.problems)
        address = m.required("interface-address", _address, "expected the IPv4 or IPv6 address of the interface"
                                                            " the map is applied to (crypto map on its interface)")
        if address is not None and address in interfaces:
            m.problem("interface-address", address,
                      f"crypto map {interfaces[address]} is applied there already (one crypto map per interface)")
            address = None
        interface = m.string("interface", allowed="expected the name of the interface (FastEthernet0/0)")
        sequences: set[int] = set()

        def entry(value: Any, path: str) -> CryptoMapEntry | None:
            e = Reader(value, path, maps.problems)
            if not isinstance(value, dict):
                return None
            sequence = e.integer("sequence", required=True, minimum=1, maximum=65535)
            if sequence is not None and sequence in sequences:
                e.problem("sequence", sequence, "a second entry with this sequence number in the map")
                sequence = None
            peer = e.address("peer", required=True)
            if peer is not None and peer not in peers:
                e.problem("peer", peer, "expected a peer with a pre-shared key under crypto.isakmp.keys")
                peer = None
            transformSet = e.string("transform-set", required=True)
            if transformSet is not None and transformSet not in setNames:
                e.problem("transform-set", transformSet, "expected the name of a transform set under"
                                                         " crypto.transform-sets")
                transformSet = None
            matchAddress = e.required("match-address", lambda v: v if _isExtended(v) else None, EXTENDED_LISTS)
            e.finish()
            if sequence is None or peer is None or transformSet is None or matchAddress is None:
                return None
            sequences.add(sequence)
            return CryptoMapEntry(sequence=sequence, peer=peer, transformSet=transformSet,
                                  matchAddress=matchAddress)

        entries = m.listOf("entries", entry)
        if not m.has("entries"):
            m.problems.append(ConfigProblem.because(m.sub("entries"), "missing; required; a list of {sequence, peer,"
                                                                      " transform-set, match-address}"))
        m.finish()
        if address is None:
            continue
        interfaces[address] = str(name)
        result.append(CryptoMap(name=str(name), interfaceAddress=address,
                                entries=tuple(sorted(entries, key=lambda e: e.sequence)), interface=interface))
    return result


def readCrypto(crypto: Reader) -> CryptoConfig:
    """
    Validate C{crypto:}: C{vici-socket}, C{ike-version}, C{isakmp}
    (C{policies}, C{keys}), C{transform-sets}, C{maps} and
    C{allow-legacy-crypto}.  A C{key-file} is read here (mode 0600 or
    stricter).

    @param crypto: the reader of the section.
    @return: the section without the parts that had problems (the problems
        are on C{crypto}).
    """
    allowLegacy = crypto.boolean("allow-legacy-crypto", False)
    viciSocket = crypto.string("vici-socket", VICI_SOCKET)
    ikeVersion = crypto.integer("ike-version", 1, allowed="expected 1 (IKEv1 main mode, as IOS's crypto isakmp)"
                                                          " or 2")
    if ikeVersion not in (1, 2, None):
        crypto.problem("ike-version", ikeVersion, "expected 1 (IKEv1 main mode, as IOS's crypto isakmp) or 2")
        ikeVersion = 1
    isakmp = crypto.child("isakmp")
    policies = _readPolicies(isakmp.child("policies"), allowLegacy)
    peers: set[str] = set()
    keys = _readKeys(isakmp, peers)
    isakmp.finish()
    sets = crypto.child("transform-sets")
    transformSets = _readTransformSets(sets, allowLegacy)
    maps = _readMaps(crypto.child("maps"), peers, {str(name) for name in sets.keys()})
    crypto.finish()
    return CryptoConfig(viciSocket=viciSocket or VICI_SOCKET, ikeVersion=ikeVersion or 1, policies=tuple(policies),
                        keys=tuple(keys), transformSets=tuple(transformSets), maps=tuple(maps),
                        allowLegacyCrypto=allowLegacy)

