# -*- test-case-name: tests.test_ipsec_iosconfig -*-
"""
The C{crypto:} section as IOS commands, and back: C{crypto isakmp policy},
C{crypto isakmp key}, C{crypto ipsec transform-set}, C{crypto map} and the
C{crypto map} line of the interface a map is applied to (the seed's "Enable
IPsec" lines).

srst never prints a secret: a pre-shared key is C{crypto isakmp key *****
address <peer>} (IOS prints it in clear unless C{service
password-encryption}).  An ISAKMP policy prints its encryption, hash and
group always, since srst's defaults for them are not IOS's.

The import takes a broken algorithm (C{esp-des}, C{esp-md5-hmac}, IKE C{des}
and group 1 -- IOS's defaults for a policy that omits them) as its modern
equivalent and lists the line with what it became and why: the result
loads, and the operator reads that CallManager's side must change to match
(or writes the old values back with C{allow-legacy-crypto: true}).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Sequence

from srst.ipsec.config import ALLOW_LEGACY, LIFETIME, VICI_SOCKET, CryptoConfig, legacyReason
from srst.iostext import ImportNotes, IosLine, indent

__all__ = ["importIos", "runningConfig", "srstOnly"]

HIDDEN_KEY = "*****"
"""What C{show running-config} prints for a pre-shared key."""


def runningConfig(crypto: CryptoConfig | None) -> list[str]:
    """
    @return: the ISAKMP policies and keys, the transform sets and the
        crypto maps, in IOS order (nothing without the section).
    """
    if crypto is None:
        return []
    lines: list[str] = []
    for policy in crypto.policies:
        body = [f"encr {policy.encryptionText}", f"hash {policy.hash}", f"authentication {policy.authentication}",
                f"group {policy.group}"]
        if policy.lifetime != LIFETIME[1]:
            body.append(f"lifetime {policy.lifetime}")
        lines += indent(f"crypto isakmp policy {policy.priority}", body)
    lines += [f"crypto isakmp key {HIDDEN_KEY} address {key.address}" for key in crypto.keys]
    if lines:
        lines.append("!")
    for transformSet in crypto.transformSets:
        body = [f"mode {transformSet.mode}"] if transformSet.mode != "tunnel" else []
        lines += indent(f"crypto ipsec transform-set {transformSet.name} {' '.join(transformSet.transforms)}",
                        body) + ["!"]
    for cryptoMap in crypto.maps:
        for entry in cryptoMap.entries:
            lines += indent(f"crypto map {cryptoMap.name} {entry.sequence} ipsec-isakmp", [
                f"set peer {entry.peer}", f"set transform-set {entry.transformSet}",
                f"match address {entry.matchAddress}"]) + ["!"]
    return lines


def srstOnly(crypto: CryptoConfig | None) -> list[str]:
    """
    @return: C{! srst: crypto ...} for what IOS has no command for: the
        interface address of each map, the VICI socket and the IKE version
        when not the defaults, the key files (their paths, never a key) and
        C{allow-legacy-crypto}.
    """
    if crypto is None:
        return []
    lines = [f"crypto map {m.name} interface-address {m.interfaceAddress}"
             + (f" interface {m.interface}" if m.interface is not None else "") for m in crypto.maps]
    if crypto.viciSocket != VICI_SOCKET:
        lines.append(f"crypto vici-socket {crypto.viciSocket}")
    if crypto.ikeVersion != 1:
        lines.append(f"crypto ike-version {crypto.ikeVersion}")
    lines += [f"crypto isakmp key address {key.address} key-file {key.file}" for key in crypto.keys
              if key.file is not None]
    if crypto.allowLegacyCrypto:
        lines.append("crypto allow-legacy-crypto true")
    return [f"! srst: {line}" for line in lines]


# -- import -------------------------------------------------------------------------

_MODERN = {"des": "aes 256", "3des": "aes 256", "md5": "sha256", "group": "14",
           "esp-des": "esp-aes 256", "esp-3des": "esp-aes 256", "esp-md5-hmac": "esp-sha256-hmac"}

_MUST_MATCH = (f"CallManager's IPsec must change to match (or write the IOS values with {ALLOW_LEGACY})")


def _why(choice: str) -> str:
    reason = legacyReason(choice) or choice
    return reason.split(": use ", 1)[0]


def _mapped(changes: list[tuple[str, str]], defaults: bool = False) -> str:
    """
    The reason listed for a line whose broken algorithms were imported as
    modern ones.

    @param changes: (broken choice, what it became).
    @param defaults: whether the broken choices are IOS's defaults (the
        line omits them).
    """
    became = ", ".join(new for _, new in changes)
    whys = "; ".join(("IOS's default " if defaults else "") + _why(old) for old, _ in changes)
    return f"imported as {became}: {whys}; {_MUST_MATCH}"


class _Unusable(ValueError):
    pass


_ENCRYPTIONS = {"aes": (128, 192, 256), "3des": (), "des": ()}
_HASHES = ("sha", "sha256", "sha384", "sha512", "md5")
_GROUPS = ("1", "2", "5", "14", "15", "16", "19", "20", "21", "24")
_POLICY_SETTINGS = ("srst's ISAKMP policies have encryption (aes [128|192|256]), hash, authentication"
                    " pre-share, group and lifetime")


def _importPolicy(line: IosLine, notes: ImportNotes) -> dict[str, Any] | None:
    policy: dict[str, Any] = {}
    defaultsMapped: list[tuple[str, str]] = []
    for child in line.children:
        words = [w.lower() for w in child.words]
        key = words[0] if words else ""
        if key in ("encr", "encryption") and 2 <= len(words) <= 3 and words[1] in _ENCRYPTIONS and (
                len(words) == 2 or words[2].isdigit() and int(words[2]) in _ENCRYPTIONS[words[1]]):
            if legacyReason(words[1]):
                notes.skip(child, _mapped([(words[1], f"encryption {_MODERN[words[1]]}")]))
                policy["encryption"] = _MODERN[words[1]]
            else:
                policy["encryption"] = " ".join(words[1:]) if len(words) == 3 else "aes 128"
        elif key == "hash" and len(words) == 2 and words[1] in _HASHES:
            if legacyReason(words[1]):
                notes.skip(child, _mapped([(words[1], f"hash {_MODERN[words[1]]}")]))
                policy["hash"] = _MODERN[words[1]]
            else:
                policy["hash"] = words[1]
        elif key == "group" and len(words) == 2 and words[1] in _GROUPS:
            if legacyReason(f"group {words[1]}"):
                notes.skip(child, _mapped([(f"group {words[1]}", "group 14")]))
                policy["group"] = 14
            else:
                policy["group"] = int(words[1])
        elif key == "authentication" and len(words) == 2 and words[1] == "pre-share":
            policy["authentication"] = "pre-share"
        elif key == "lifetime" and len(words) == 2 and words[1].isdigit() and (
                LIFETIME[0] <= int(words[1]) <= LIFETIME[1]):
            policy["lifetime"] = int(words[1])
        else:
            notes.skip(child, _POLICY_SETTINGS)
    if "authentication" not in policy:
        notes.skip(line, "IOS's default authentication is rsa-sig: srst's IKE authenticates with pre-shared keys"
                         " only (authentication pre-share)")
        for child in line.children:
            if not any(s.lineno == child.lineno for s in notes.skipped):
                notes.skip(child, "its policy is not imported")
        return None
    for key, default, modern in (("encryption", "des", "aes 256"), ("hash", "sha", None), ("group", "group 1", 14)):
        if key not in policy:
            if modern is None:
                policy[key] = default
            else:
                policy[key] = modern
                defaultsMapped.append((default, f"{key} {modern}"))
    if defaultsMapped:
        notes.skip(line, _mapped(defaultsMapped, defaults=True))
    return {k: policy[k] for k in ("authentication", "encryption", "hash", "group", "lifetime") if k in policy}


def _importKey(words: list[str]) -> dict[str, Any]:
    # crypto isakmp key [0|6] <key> address <ip> [<mask>] [no-xauth]
    rest = words[3:]
    if rest[:1] == ["6"] and len(rest) > 2:
        raise _Unusable("a type 6 key is encrypted with the router's master key: write the key in"
                        " crypto.isakmp.keys (or a key-file)")
    if rest[:1] == ["0"] and len(rest) > 3:
        rest = rest[1:]
    if rest[:1] == [HIDDEN_KEY]:
        raise _Unusable("the key is hidden: write it in crypto.isakmp.keys (or a key-file)")
    if len(rest) < 3 or rest[1] != "address":
        raise _Unusable("srst keys a peer by its address (crypto isakmp key <key> address <peer>)")
    key, address, tail = rest[0], rest[2], rest[3:]
    if tail[:1] == ["255.255.255.255"]:
        tail = tail[1:]
    if tail[:1] == ["no-xauth"]:
        tail = tail[1:]
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        raise _Unusable("srst keys a peer by its address (crypto isakmp key <key> address <peer>)")
    if tail:
        raise _Unusable("srst keys one peer address (no mask, no hostname)")
    return {"address": address, "key": key}


def _importTransformSet(line: IosLine, notes: ImportNotes) -> tuple[str, dict[str, Any]] | None:
    words = [w.lower() for w in line.words]
    name = line.words[3]
    transforms: list[str] = []
    changes: list[tuple[str, str]] = []
    rest = words[4:]
    while rest:
        word = rest.pop(0)
        if word in ("esp-aes", "esp-gcm") and rest and rest[0].isdigit():
            word = f"{word} {rest.pop(0)}"
        if word in _MODERN and word.startswith("esp-"):
            changes.append((word, _MODERN[word]))
            word = _MODERN[word]
        elif word.split()[0] not in ("esp-aes", "esp-gcm", "esp-sha-hmac", "esp-sha256-hmac", "esp-sha384-hmac",
                                     "esp-sha512-hmac"):
            notes.skipTree(line, f"srst protects with ESP: esp-aes or esp-gcm and an esp-sha*-hmac, not {word}")
            return None
        transforms.append(word)
    section: dict[str, Any] = {"transforms": transforms}
    for child in line.children:
        if child.startswith("mode") and len(child.words) == 2 and child.words[1].lower() in ("tunnel", "transport"):
            section["mode"] = child.words[1].lower()
        else:
            notes.skip(child, "srst's transform sets have mode tunnel or mode transport")
    if changes:
        notes.skip(line, _mapped(changes))
    return name, section


def _importMapEntry(line: IosLine, notes: ImportNotes) -> dict[str, Any] | None:
    entry: dict[str, Any] = {"sequence": int(line.words[3])}
    for child in line.children:
        words = child.words
        if child.startswith("set", "peer") and len(words) == 3 and "peer" not in entry:
            entry["peer"] = words[2]
        elif child.startswith("set", "transform-set") and len(words) == 3 and "transform-set" not in entry:
            entry["transform-set"] = words[2]
        elif child.startswith("match", "address") and len(words) == 3 and words[2].isdigit() and (
                "match-address" not in entry):
            entry["match-address"] = int(words[2])
        else:
            notes.skip(child, "srst's crypto map entries have one set peer, one set transform-set and one"
                              " numbered match address")
    if not {"peer", "transform-set", "match-address"} <= set(entry):
        notes.skip(line, "a crypto map entry needs set peer, set transform-set and match address")
        return None
    return {k: entry[k] for k in ("sequence", "peer", "transform-set", "match-address")}


def _appliedMaps(lines: Sequence[IosLine]) -> tuple[list[IosLine], dict[str, tuple[str, IosLine, str]]]:
    """
    Take C{crypto map <name>} off the interfaces that have an address.

    @return: the lines (interfaces without their claimed C{crypto map}
        line) and, by map name, the interface's address, the line and the
        interface's name.
    """
    applied: dict[str, tuple[str, IosLine, str]] = {}
    result = []
    for line in lines:
        if line.startswith("interface"):
            address = None
            for child in line.children:
                words = child.words
                if child.startswith("ip", "address") and len(words) >= 3:
                    try:
                        address = str(ipaddress.ip_address(words[2]))
                    except ValueError:
                        pass
            kept = []
            for child in line.children:
                if (child.startswith("crypto", "map") and len(child.words) == 3 and address is not None
                        and child.words[2] not in applied):
                    applied[child.words[2]] = (address, child, " ".join(line.words[1:]))
                else:
                    kept.append(child)
            line = IosLine(line.text, line.lineno, tuple(kept))
        result.append(line)
    return result, applied


def importIos(lines: Sequence[IosLine], document: dict[str, Any], notes: ImportNotes) -> list[IosLine]:
    """
    Take C{crypto isakmp}, C{crypto ipsec} and C{crypto map} commands, and
    the C{crypto map} line of the interface each map is applied to, into
    C{document["crypto"]}.

    @return: the lines not claimed (interfaces without their C{crypto map}
        line).
    """
    lines, applied = _appliedMaps(lines)
    rest: list[IosLine] = []
    policies: dict[int, dict[str, Any]] = {}
    keys: list[dict[str, Any]] = []
    transformSets: dict[str, dict[str, Any]] = {}
    entries: dict[str, list[tuple[IosLine, dict[str, Any]]]] = {}
    for line in lines:
        words = line.words
        if line.startswith("crypto", "isakmp", "policy") and len(words) == 4 and words[3].isdigit():
            policy = _importPolicy(line, notes)
            if policy is not None:
                policies[int(words[3])] = policy
        elif line.startswith("crypto", "isakmp", "key") and not line.children:
            try:
                keys.append(_importKey(words))
            except _Unusable as e:
                notes.skip(line, str(e))
        elif line.startswith("crypto", "ipsec", "transform-set") and len(words) >= 5:
            imported = _importTransformSet(line, notes)
            if imported is not None:
                transformSets[imported[0]] = imported[1]
        elif line.startswith("crypto", "map") and len(words) == 5 and words[3].isdigit() and (
                words[4].lower() == "ipsec-isakmp"):
            entry = _importMapEntry(line, notes)
            if entry is not None:
                entries.setdefault(words[2], []).append((line, entry))
        elif line.startswith("no", "crypto", "isakmp", "enable"):
            notes.skip(line, "srst runs IKE (strongSwan's charon) for the maps under crypto:, and none without")
        elif any(line.startswith(*head) for head in (("crypto", "isakmp"), ("crypto", "ipsec"), ("crypto", "map"))):
            notes.skipTree(line, "srst's IPsec has isakmp policies and keys, ipsec transform-sets and"
                                 " ipsec-isakmp crypto maps only")
        else:
            rest.append(line)
    maps: dict[str, dict[str, Any]] = {}
    for name, mapEntries in entries.items():
        if name not in applied:
            for line, _ in mapEntries:
                notes.skipTree(line, f"crypto map {name} is applied to no interface with an ip address (srst needs"
                                     f" the address it protects from: interface-address)")
            continue
        address, _, interface = applied[name]
        maps[name] = {"interface-address": address, "entries": [entry for _, entry in mapEntries]}
        if interface:
            maps[name]["interface"] = interface
    for name, (_, line, _) in applied.items():
        if name not in maps:
            notes.skip(line, f"crypto map {name} is not imported")
    section: dict[str, Any] = {}
    if policies:
        section["isakmp"] = {"policies": policies}
    if keys:
        section.setdefault("isakmp", {})["keys"] = keys
    if transformSets:
        section["transform-sets"] = transformSets
    if maps:
        section["maps"] = maps
    if section:
        document["crypto"] = section
    return rest
