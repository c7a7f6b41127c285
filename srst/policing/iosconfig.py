# -*- test-case-name: tests.test_policing_iosconfig -*-
"""
The C{access-lists:} and C{control-plane:} sections as IOS commands, and
back: numbered C{access-list}s, C{class-map}, C{policy-map} with C{police},
C{control-plane} / C{service-policy input} (the seed's Configuration 2).

srst access lists match a source, a protocol, a destination port and, for
the traffic a crypto map protects, a destination address (a class map's list
matches what reaches the router: its destination is always C{any}).  A class
map matches one access group; a policy map is imported when the control plane
applies it.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping, Sequence

from srst.iostext import ImportNotes, IosLine, indent
from srst.policing.config import AccessList, AccessListEntry, ControlPlanePolicy

__all__ = ["accessListLine", "importIos", "runningConfig"]


def _isStandard(number: int) -> bool:
    return 1 <= number <= 99 or 1300 <= number <= 1999


def _source(entry: AccessListEntry) -> str:
    if entry.source is None:
        return "any"
    if entry.source.num_addresses == 1:
        return f"host {entry.source.network_address}"
    return f"{entry.source.network_address} {entry.source.hostmask}"


def accessListLine(number: int, entry: AccessListEntry) -> str:
    """
    @return: one entry of access list C{number} as IOS prints it
        (C{"access-list 116 permit ip host 10.1.1.22 host 10.1.1.13"}).
    """
    if _isStandard(number) and entry.protocol == "ip" and entry.port is None:
        return f"access-list {number} {entry.action} {_source(entry)}"
    return f"access-list {number} {entry.describe()}"


def runningConfig(accessLists: Mapping[int, AccessList], controlPlane: ControlPlanePolicy | None) -> list[str]:
    """
    @return: the access lists, the class maps and policy map of the control
        plane's policy, and C{control-plane}, in IOS order.
    """
    lines: list[str] = []
    for number in sorted(accessLists):
        lines += [accessListLine(number, entry) for entry in accessLists[number].entries]
    if lines:
        lines.append("!")
    if controlPlane is None:
        return lines
    for policyClass in controlPlane.classes:
        classMap = policyClass.classMap
        lines += indent(f"class-map {classMap.matchType} {classMap.name}",
                        [f"match access-group {classMap.accessList.number}"]) + ["!"]
    body: list[str] = []
    for policyClass in controlPlane.classes:
        police = policyClass.police
        body += indent(f"class {policyClass.name}", [
            f"police {police.rateBps} {police.normalBurst} {police.maxBurst}"
            f" conform-action {police.conformAction} exceed-action {police.exceedAction}"])
    lines += indent(f"policy-map {controlPlane.name}", body) + ["!"]
    lines += indent("control-plane", [f"service-policy input {controlPlane.name}"]) + ["!"]
    return lines


# -- import -------------------------------------------------------------------------

_ACTIONS = ("permit", "deny")
_PROTOCOLS = ("ip", "tcp", "udp")


class _Unusable(ValueError):
    pass


def _readAddress(words: list[str]) -> tuple[str, list[str]]:
    """
    @return: an C{any} / C{host A} / C{A W} operand as srst's source
        (C{"any"}, C{"A/len"}) and the words after it.
    """
    if not words:
        raise _Unusable("expected an address")
    if words[0] == "any":
        return "any", words[1:]
    if words[0] == "host" and len(words) >= 2:
        text, rest = f"{words[1]}/32" if ":" not in words[1] else f"{words[1]}/128", words[2:]
    elif len(words) >= 2 and words[1].count(".") == 3:
        text, rest = f"{words[0]}/{words[1]}", words[2:]
    else:
        text, rest = f"{words[0]}/32", words[1:]
    try:
        return str(ipaddress.ip_network(text, strict=True)), rest
    except ValueError:
        raise _Unusable(f"srst matches an address and a contiguous wildcard, not {' '.join(words[:2])}")


def _readEntry(number: int, words: list[str]) -> dict[str, Any]:
    action = words[0]
    if action not in _ACTIONS:
        raise _Unusable("srst access lists permit or deny")
    if _isStandard(number):
        source, rest = _readAddress(words[1:])
        if rest:
            raise _Unusable(f"srst has no {' '.join(rest)} on an access-list entry")
        return {"action": action, "protocol": "ip", "source": source}
    if len(words) < 2 or words[1] not in _PROTOCOLS:
        raise _Unusable("srst access lists match ip, tcp or udp")
    source, rest = _readAddress(words[2:])
    destination, rest = _readAddress(rest)
    entry: dict[str, Any] = {"action": action, "protocol": words[1], "source": source}
    if rest[:1] == ["eq"] and len(rest) == 2 and rest[1].isdigit() and words[1] != "ip":
        entry["port"] = int(rest[1])
        rest = []
    if rest:
        raise _Unusable(f"srst has no {' '.join(rest)} on an access-list entry (only eq <port> with tcp or udp)")
    if destination != "any":
        entry["destination"] = destination
    return entry


def _readPolice(line: IosLine) -> dict[str, Any]:
    words = line.words[1:]
    police: dict[str, Any] = {}
    if words[:1] == ["cir"]:
        words = words[1:]
        numbers = []
        if words and words[0].isdigit():
            numbers.append(int(words.pop(0)))
        for keyword in ("bc", "be"):
            if words[:1] == [keyword] and len(words) >= 2 and words[1].isdigit():
                numbers.append(int(words[1]))
                words = words[2:]
    else:
        numbers = []
        while words and words[0].isdigit() and len(numbers) < 3:
            numbers.append(int(words.pop(0)))
    if not numbers:
        raise _Unusable("expected police <bps> [<normal-burst> [<max-burst>]]")
    for key, value in zip(("rate-bps", "normal-burst", "max-burst"), numbers):
        police[key] = value
    actions = words + [w for child in line.children for w in child.words]
    while actions:
        if len(actions) >= 2 and actions[0] in ("conform-action", "exceed-action") and actions[1] in (
                "transmit", "drop"):
            police[actions[0]] = actions[1]
            actions = actions[2:]
        else:
            raise _Unusable(f"srst's policer has no {' '.join(actions)} (conform-action and exceed-action"
                            f" transmit or drop)")
    return police


def importIos(lines: Sequence[IosLine], document: dict[str, Any], notes: ImportNotes) -> list[IosLine]:
    """
    Take the numbered C{access-list}s, C{class-map}s, C{policy-map}s and
    C{control-plane} into C{document["access-lists"]} and
    C{document["control-plane"]}.

    @return: the lines not claimed.
    """
    rest: list[IosLine] = []
    lists: dict[int, list[dict[str, Any]]] = {}
    classMaps: dict[str, IosLine] = {}
    policyMaps: dict[str, IosLine] = {}
    applied: list[tuple[IosLine, str]] = []
    for line in lines:
        words = line.words
        if line.startswith("access-list") and len(words) >= 3 and words[1].isdigit():
            number = int(words[1])
            if not 1 <= number <= 2699:
                notes.skip(line, "srst has numbered access lists 1 to 2699")
            elif words[2] == "remark":
                notes.skip(line, "srst keeps no remarks")
            else:
                try:
                    entry = _readEntry(number, words[2:])
                except _Unusable as e:
                    notes.skip(line, str(e))
                else:
                    lists.setdefault(number, []).append(entry)
        elif line.startswith("class-map") and len(words) >= 2:
            classMaps[words[-1]] = line
        elif line.startswith("policy-map") and len(words) == 2:
            policyMaps[words[1]] = line
        elif line.startswith("control-plane") and len(words) == 1:
            for child in line.children:
                if child.startswith("service-policy", "input") and len(child.words) == 3:
                    applied.append((child, child.words[2]))
                else:
                    notes.skipTree(child, "srst polices the control plane's input only (service-policy input)")
        else:
            rest.append(line)
    if lists:
        document["access-lists"] = lists
    usedPolicy = None
    for child, name in applied:
        if name not in policyMaps:
            notes.skip(child, f"no policy-map {name} in the configuration")
        elif usedPolicy is not None and usedPolicy != name:
            notes.skip(child, "srst applies one policy map to the control plane")
        else:
            usedPolicy = name
    for name, line in policyMaps.items():
        if name != usedPolicy:
            notes.skipTree(line, "not applied with control-plane service-policy input (srst polices only"
                                 " the control plane)")
    if usedPolicy is None:
        for line in classMaps.values():
            notes.skipTree(line, "not used by the control-plane service-policy")
        return rest
    imported: dict[str, dict[str, Any]] = {}
    classes: list[dict[str, Any]] = []
    used: set[str] = set()
    tried: dict[str, dict[str, Any] | None] = {}
    for child in policyMaps[usedPolicy].children:
        name = child.words[1] if child.startswith("class") and len(child.words) == 2 else None
        if name == "class-default" and not child.children:
            continue
        if name is None or name == "class-default":
            notes.skipTree(child, "srst's class-default passes everything; a policy map lists class <name>"
                                  " blocks with police")
            continue
        if name not in classMaps:
            notes.skipTree(child, f"no class-map {name} in the configuration")
            continue
        if name not in tried:
            tried[name] = _importClassMap(classMaps[name], lists, notes)
        classMap = tried[name]
        if classMap is None:
            notes.skipTree(child, f"class-map {name} is not imported")
            continue
        polices = [c for c in child.children if c.startswith("police")]
        for other in child.children:
            if not other.startswith("police"):
                notes.skipTree(other, "srst's policy classes only police")
        if len(polices) != 1:
            notes.skip(child, "srst needs exactly one police line in each class")
            for police in polices:
                notes.skipTree(police, "srst needs exactly one police line in each class")
            continue
        try:
            police = _readPolice(polices[0])
        except _Unusable as e:
            notes.skipTree(polices[0], str(e))
            continue
        used.add(name)
        imported[name] = classMap
        classes.append({"class": name, "police": police})
    for name, line in classMaps.items():
        if name not in tried:
            notes.skipTree(line, "not used by the control-plane service-policy")
        elif name not in used and tried[name] is not None:
            notes.skipTree(line, "its class in the policy map is not imported")
    document["control-plane"] = {"class-maps": imported,
                                 "service-policy": {"name": usedPolicy, "input": classes}}
    return rest


def _importClassMap(line: IosLine, lists: Mapping[int, Any], notes: ImportNotes) -> dict[str, Any] | None:
    words = line.words
    if not (len(words) == 2 or len(words) == 3 and words[1] in ("match-all", "match-any")):
        notes.skipTree(line, "srst reads class-map [match-all | match-any] <name>")
        return None
    matches = [c for c in line.children if c.startswith("match", "access-group") and len(c.words) == 3
               and c.words[2].isdigit()]
    if len(matches) != 1 or len(line.children) != 1:
        notes.skipTree(line, "srst's class maps match exactly one numbered access group (match access-group N)")
        return None
    number = int(matches[0].words[2])
    if number not in lists:
        notes.skipTree(line, f"access-list {number} is not in the configuration (or none of its lines imported)")
        return None
    if any("destination" in entry for entry in lists[number]):
        notes.skipTree(line, f"srst's control plane matches traffic to the router itself: access-list {number}"
                             f" has a destination other than any")
        return None
    return {"match-access-group": number}
