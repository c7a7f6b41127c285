# -*- test-case-name: tests.test_sccp_iosconfig -*-
"""
The C{call-manager-fallback} block of C{show running-config} (with the
global C{vm-integration} block and the C{ephone-dn} / C{ephone} blocks
beside it), and their import.

An IOS SRST router learns its phones and their numbers when they register;
srst does too, and its C{ephones:} (lines and speed dials set for a phone
by MAC address) are what Cisco Unified CME says with C{ephone-dn} and
C{ephone}.  So they print as CME prints them (one C{ephone-dn} per number,
label, name and pickup group; C{ephone} with C{mac-address}, C{type},
C{button N:DN-TAG} and C{speed-dial}), and an IOS configuration with such
blocks imports into C{ephones:}.

Secure SRST presents the C{credentials} trustpoint's certificate to phones
(the one CallManager fetched and put in their configuration files): the
import sets C{trustpoint:} to it, and the render prints
C{call-manager-fallback.trustpoint} only when it is another (as a C{!
srst:} comment, L{srstOnly}, with the other keys IOS has no command for).
"""

from __future__ import annotations

from typing import Any, Sequence

from srst.iostext import ImportNotes, IosLine, indent, setCommands
from srst.sccp.config import CallManagerFallbackConfig, EphoneConfig, Timeouts
from srst.sccp.mediaconfig import DEFAULT_MAX_CONFERENCES, DEFAULT_MULTICAST_TTL

__all__ = ["importIos", "runningConfig", "srstOnly"]

_DATE_FORMATS = {"m/d/y": "mm-dd-yy", "d/m/y": "dd-mm-yy", "y/m/d": "yy-mm-dd"}
_TIMEOUTS = ("busy", "interdigit", "ringing")
_TWO_WORD = ("call-forward", "timeouts", "system", "multicast", "ip", "no")
_PATTERNS = (("direct", "direct"), ("extToExtBusy", "ext-to-ext busy"),
             ("extToExtNoAnswer", "ext-to-ext no-answer"))


def _quoted(text: str) -> str:
    return f"\"{text}\""


def _mac(mac: str) -> str:
    return ".".join(mac[i:i + 4] for i in (0, 4, 8)).lower()


def _fallback(c: CallManagerFallbackConfig) -> list[str]:
    body: list[str] = []
    if c.secondaryDialtone is not None:
        body.append(f"secondary-dialtone {c.secondaryDialtone}")
    body.append(f"transfer-system {c.transferSystem}")
    body.append(f"ip source-address {c.ipSourceAddress} port {c.port}")
    body.append(f"max-ephones {c.maxEphones}")
    body.append(f"max-dn {c.maxDn}" + ("" if c.lineMode == "single" else f" {c.lineMode}"))
    for pattern in c.transferPatterns:
        body.append(f"transfer-pattern {pattern}" + (" blind" if pattern in c.blindTransferPatterns else ""))
    if c.timeouts.keepalive != Timeouts().keepalive:
        body.append(f"keepalive {c.timeouts.keepalive}")
    for name in _TIMEOUTS:
        if getattr(c.timeouts, name) != getattr(Timeouts(), name):
            body.append(f"timeouts {name} {getattr(c.timeouts, name)}")
    for d in c.dialplanPatterns:
        body.append(f"dialplan-pattern {d.tag} {d.pattern} extension-length {d.extensionLength}"
                    + (f" extension-pattern {d.extensionPattern}" if d.extensionPattern else "")
                    + (" no-reg" if d.noReg else ""))
    for a in c.aliases:
        body.append(f"alias {a.tag} {a.pattern} to {a.to}"
                    + (f" preference {a.preference}" if a.preference else "")
                    + (f" cfw {a.cfw} timeout {a.cfwTimeout}" if a.cfw else "")
                    + (" huntstop" if a.huntstop else ""))
    if not c.huntstop:
        body.append("no huntstop")
    forward = c.callForward
    body += setCommands(("call-forward all", forward.all), ("call-forward busy", forward.busy))
    if forward.noAnswer is not None:
        body.append(f"call-forward noan {forward.noAnswer} timeout {forward.noAnswerTimeout}")
    body += setCommands(("voicemail", c.voicemail), ("system message primary", c.systemMessage))
    if c.dateFormat.lower() in _DATE_FORMATS and c.dateFormat.lower() != "m/d/y":
        body.append(f"date-format {_DATE_FORMATS[c.dateFormat.lower()]}")
    if c.moh.path is not None:
        body.append(f"moh {c.moh.path}")
    if c.moh.multicast is not None:
        body.append(f"multicast moh {c.moh.multicast.address} port {c.moh.multicast.port}")
    if c.conference.maxConferences != DEFAULT_MAX_CONFERENCES:
        body.append(f"max-conferences {c.conference.maxConferences}")
    return indent("call-manager-fallback", body) + ["!"]


def _vmIntegration(c: CallManagerFallbackConfig) -> list[str]:
    body = [f"pattern {command} {' '.join(pattern.items)}"
            for attr, command in _PATTERNS if (pattern := getattr(c.vmIntegration, attr)) is not None]
    return indent("vm-integration", body) + ["!"] if body else []


def _ephones(ephones: Sequence[EphoneConfig]) -> list[str]:
    tags: dict[tuple[str, str, str, str], int] = {}
    for ephone in ephones:
        for b in ephone.buttons:
            tags.setdefault((b.dn, b.label, b.name, b.pickupGroup), len(tags) + 1)
    lines: list[str] = []
    for (dn, label, name, group), tag in tags.items():
        body = [f"number {dn}"]
        body += [f"label {label}"] if label else []
        body += [f"name {name}"] if name else []
        body += [f"pickup-group {group}"] if group else []
        lines += indent(f"ephone-dn {tag}", body) + ["!"]
    for index, ephone in enumerate(ephones, start=1):
        body = [f"mac-address {_mac(ephone.mac)}"]
        body += [f"type {ephone.type}"] if ephone.type else []
        if ephone.buttons:
            body.append("button " + " ".join(
                f"{b.button}:{tags[(b.dn, b.label, b.name, b.pickupGroup)]}" for b in ephone.buttons))
        for s in ephone.speedDials:
            body.append(f"speed-dial {s.button} {s.number}" + (f" label {_quoted(s.label)}" if s.label else ""))
        lines += indent(f"ephone {index}", body) + ["!"]
    return lines


def runningConfig(section: CallManagerFallbackConfig | None, credentialsTrustpoint: str | None = None,
                  phoneCaTrustpoints: Sequence[str] | None = None) -> list[str]:
    """
    @param section: the C{call-manager-fallback:} section, or L{None}.
    @param credentialsTrustpoint: the C{credentials} trustpoint (what IOS
        presents to secure phones); used by L{srstOnly} alone.
    @param phoneCaTrustpoints: the configured phone CA trustpoints (the
        default C{phone-trustpoints}); used by L{srstOnly} alone.
    @return: C{call-manager-fallback}, then the global C{vm-integration}
        block and the C{ephone-dn} and C{ephone} blocks when srst has
        those settings; nothing for an absent section.
    """
    if section is None:
        return []
    return _fallback(section) + _vmIntegration(section) + _ephones(section.ephones)


def srstOnly(section: CallManagerFallbackConfig | None, credentialsTrustpoint: str | None = None,
             phoneCaTrustpoints: Sequence[str] | None = None) -> list[str]:
    """
    @return: C{! srst: call-manager-fallback.<key> <value>} for each key set
        away from its default that IOS has no command for.
    """
    if section is None:
        return []
    c = section
    out: list[tuple[str, object]] = []
    if c.securePort != (c.port + 443 if c.port else 0):
        out.append(("secure-port", c.securePort))
    if c.trustpoint != credentialsTrustpoint:
        out.append(("trustpoint", c.trustpoint if c.trustpoint is not None else "none"))
    if phoneCaTrustpoints is not None and tuple(c.phoneTrustpoints) != tuple(phoneCaTrustpoints):
        out.append(("phone-trustpoints", " ".join(c.phoneTrustpoints)))
    if c.tlsProfile != "modern":
        out.append(("tls-profile", c.tlsProfile))
    if c.maxConnections is not None:
        out.append(("max-connections", c.maxConnections))
    if c.maxConnectionsPerHost is not None:
        out.append(("max-connections-per-host", c.maxConnectionsPerHost))
    if c.autoAssign is not None:
        width = len(str(c.autoAssign[1]))
        out.append(("auto-assign.dn-range", f"{c.autoAssign[0]:0{width}d}-{c.autoAssign[1]}"))
        if c.reservationTimeoutDays != 365:
            out.append(("auto-assign.reservation-timeout-days", c.reservationTimeoutDays or "none"))
    if c.callForward.noAnswer is None and c.callForward.noAnswerTimeout != 20:
        out.append(("call-forward.no-answer-timeout", c.callForward.noAnswerTimeout))
    if c.dateFormat.lower() not in _DATE_FORMATS:
        out.append(("date-format", c.dateFormat))
    if c.moh.secureMode != "srtp":
        out.append(("moh-secure", c.moh.secureMode))
    if c.moh.multicast is not None and c.moh.multicast.ttl != DEFAULT_MULTICAST_TTL:
        out.append(("multicast-moh.ttl", c.moh.multicast.ttl))
    if not c.conference.secure:
        out.append(("conference-secure", "false"))
    return [f"! srst: call-manager-fallback.{key} {value}" for key, value in out]


def importIos(lines: Sequence[IosLine], document: dict[str, Any], notes: ImportNotes) -> list[IosLine]:
    """
    Import C{call-manager-fallback}, C{vm-integration}, C{ephone-dn} and
    C{ephone} into C{call-manager-fallback:}; C{credentials}' trustpoint is
    read (not taken) for the secure listener.

    @return: the lines that are none of those.
    """
    rest: list[IosLine] = []
    fallback: list[IosLine] = []
    vm: list[IosLine] = []
    dns: list[IosLine] = []
    phones: list[IosLine] = []
    trustpoint = None
    for line in lines:
        if line.startswith("call-manager-fallback") and len(line.words) == 1:
            fallback.append(line)
        elif line.startswith("vm-integration") and len(line.words) == 1:
            vm.append(line)
        elif line.startswith("ephone-dn"):
            dns.append(line)
        elif line.startswith("ephone") and len(line.words) == 2:
            phones.append(line)
        else:
            if line.startswith("credentials"):
                for child in line.children:
                    if child.startswith("trustpoint") and len(child.words) == 2:
                        trustpoint = child.words[1]
            rest.append(line)
    if not fallback:
        for line in vm + dns + phones:
            notes.skipTree(line, "srst keeps this under call-manager-fallback, which this configuration lacks")
        return rest
    section: dict[str, Any] = {}
    for line in fallback:
        _importFallback(line, section, notes)
    if "ip-source-address" not in section:
        for line in fallback + vm + dns + phones:
            notes.skipTree(line, "srst needs ip source-address in call-manager-fallback")
        return rest
    if trustpoint is not None:
        section["trustpoint"] = trustpoint
    for line in vm:
        _importVm(line, section, notes)
    ephones = _importEphones(dns, phones, notes)
    if ephones:
        section["ephones"] = ephones
    order = ("ip-source-address", "port", "trustpoint", "max-ephones", "max-dn", "secondary-dialtone",
             "transfer-system", "transfer-pattern", "dialplan-patterns", "aliases", "huntstop", "timeouts",
             "call-forward", "system-message", "voicemail", "vm-integration", "date-format", "moh",
             "multicast-moh", "max-conferences", "ephones")
    document["call-manager-fallback"] = {key: section[key] for key in order if key in section}
    return rest


def _importFallback(line: IosLine, s: dict[str, Any], notes: ImportNotes) -> None:
    for child in line.children:
        w = child.words
        low = [word.lower() for word in w]
        n = len(w)
        if low[:2] == ["ip", "source-address"] and n >= 3:
            extra = low[3:]
            if extra[:1] == ["port"] and len(extra) >= 2 and extra[1].isdigit():
                s["port"] = int(extra[1])
                extra = extra[2:]
            if extra not in ([], ["any-match"], ["strict-match"]):
                notes.skip(child, "expected ip source-address <ip> [port <n>] [any-match | strict-match]")
                continue
            s["ip-source-address"] = w[2]
        elif low[0] == "secondary-dialtone" and n == 2:
            s["secondary-dialtone"] = w[1]
        elif low[0] == "transfer-system" and n == 2:
            s["transfer-system"] = low[1]
        elif low[0] == "transfer-pattern" and n in (2, 3) and (n == 2 or low[2] == "blind"):
            s.setdefault("transfer-pattern", []).append(" ".join(w[1:2] + low[2:]))
        elif low[0] == "max-ephones" and n == 2 and w[1].isdigit():
            s["max-ephones"] = int(w[1])
        elif low[0] == "max-dn" and n >= 2 and w[1].isdigit():
            if n == 2:
                s["max-dn"] = int(w[1])
            elif n == 3 and low[2] in ("dual-line", "octo-line"):
                s["max-dn"] = f"{w[1]} {low[2]}"
            else:
                notes.skip(child, "srst has max-dn <n> [dual-line | octo-line] (no preference)")
        elif low[0] == "keepalive" and n == 2 and w[1].isdigit():
            s.setdefault("timeouts", {})["keepalive"] = int(w[1])
        elif low[0] == "timeouts" and n == 3 and low[1] in _TIMEOUTS and w[2].isdigit():
            s.setdefault("timeouts", {})[low[1]] = int(w[2])
        elif low[0] == "dialplan-pattern" and n >= 5 and low[3] == "extension-length":
            _dialplanPattern(child, s, notes)
        elif low[0] == "alias" and n >= 5 and low[3] == "to":
            _alias(child, s, notes)
        elif low == ["huntstop"] or low == ["no", "huntstop"]:
            s["huntstop"] = low[0] != "no"
        elif low[:2] == ["call-forward", "busy"] and n == 3:
            s.setdefault("call-forward", {})["busy"] = w[2]
        elif low[:2] == ["call-forward", "all"] and n == 3:
            s.setdefault("call-forward", {})["all"] = w[2]
        elif low[:2] == ["call-forward", "noan"] and n == 5 and low[3] == "timeout" and w[4].isdigit():
            s.setdefault("call-forward", {}).update({"no-answer": w[2], "no-answer-timeout": int(w[4])})
        elif low[:2] == ["system", "message"] and n >= 3 and low[2] != "secondary":
            s["system-message"] = child.text.split(None, 3 if low[2] == "primary" else 2)[-1]
        elif low[:2] == ["system", "message"]:
            notes.skip(child, "srst shows one system message (system message primary)")
        elif low[0] == "voicemail" and n == 2:
            s["voicemail"] = w[1]
        elif low[0] == "date-format" and n == 2 and low[1] in _DATE_FORMATS.values():
            s["date-format"] = {ios: mine for mine, ios in _DATE_FORMATS.items()}[low[1]]
        elif low[0] == "moh" and n == 2:
            s["moh"] = w[1]
        elif low[:2] == ["multicast", "moh"] and n >= 5 and low[3] == "port" and w[4].isdigit():
            s["multicast-moh"] = {"address": w[2], "port": int(w[4])}
            if n > 5:
                notes.skip(child, "srst sends multicast music from the media address (no route list): "
                                  "imported without " + " ".join(w[5:]))
        elif low[0] == "max-conferences" and n >= 2 and w[1].isdigit():
            s["max-conferences"] = int(w[1])
            if n > 2:
                notes.skip(child, f"srst mixes at unity gain: imported max-conferences {w[1]} without "
                                  + " ".join(w[2:]))
        else:
            command = " ".join(w[:2]) if low[0] in _TWO_WORD and n > 1 else w[0]
            notes.skipTree(child, f"srst has no call-manager-fallback {command}")


def _dialplanPattern(child: IosLine, s: dict[str, Any], notes: ImportNotes) -> None:
    w = child.words
    if not w[1].isdigit() or not w[4].isdigit():
        notes.skip(child, "expected dialplan-pattern <tag> <pattern> extension-length <n> "
                          "[extension-pattern <p>] [no-reg]")
        return
    entry: dict[str, Any] = {"tag": int(w[1]), "pattern": w[2], "extension-length": int(w[4])}
    extra = [word.lower() for word in w[5:]]
    if extra[:1] == ["extension-pattern"] and len(extra) >= 2:
        entry["extension-pattern"] = w[6]
        extra = extra[2:]
    if extra == ["no-reg"]:
        entry["no-reg"] = True
    elif extra:
        notes.skip(child, "expected dialplan-pattern <tag> <pattern> extension-length <n> "
                          "[extension-pattern <p>] [no-reg]")
        return
    s.setdefault("dialplan-patterns", []).append(entry)


def _alias(child: IosLine, s: dict[str, Any], notes: ImportNotes) -> None:
    w = child.words
    low = [word.lower() for word in w]
    if not w[1].isdigit():
        notes.skip(child, "expected alias <tag> <pattern> to <number> [preference <n>] "
                          "[cfw <number> timeout <s>] [huntstop]")
        return
    entry: dict[str, Any] = {"tag": int(w[1]), "pattern": w[2], "to": w[4]}
    i = 5
    while i < len(w):
        if low[i] == "preference" and i + 1 < len(w) and w[i + 1].isdigit():
            entry["preference"] = int(w[i + 1])
            i += 2
        elif low[i] == "cfw" and i + 3 < len(w) and low[i + 2] == "timeout" and w[i + 3].isdigit():
            entry["cfw"] = {"number": w[i + 1], "timeout": int(w[i + 3])}
            i += 4
        elif low[i] == "huntstop":
            entry["huntstop"] = True
            i += 1
        else:
            notes.skip(child, "expected alias <tag> <pattern> to <number> [preference <n>] "
                              "[cfw <number> timeout <s>] [huntstop]")
            return
    s.setdefault("aliases", []).append(entry)


def _importVm(line: IosLine, s: dict[str, Any], notes: ImportNotes) -> None:
    for child in line.children:
        low = [word.lower() for word in child.words]
        for key, command in (("direct", "direct"), ("ext-to-ext-busy", "ext-to-ext busy"),
                             ("ext-to-ext-no-answer", "ext-to-ext no-answer")):
            words = ["pattern"] + command.split()
            if low[:len(words)] == words and len(low) > len(words):
                pattern = s.setdefault("vm-integration", {}).setdefault("pattern", {})
                pattern[key] = " ".join(child.words[len(words):])
                break
        else:
            notes.skipTree(child, f"srst has no vm-integration {' '.join(child.words[:2])}")


def _importEphones(dns: list[IosLine], phones: list[IosLine], notes: ImportNotes) -> list[dict[str, Any]]:
    numbers: dict[str, dict[str, str]] = {}
    lines: dict[str, IosLine] = {}
    for line in dns:
        w = line.words
        if len(w) < 2 or not w[1].isdigit():
            notes.skipTree(line, "expected ephone-dn <tag>")
            continue
        if len(w) > 2:
            notes.skip(line, "srst sets dual-line or octo-line for every number (max-dn <n> dual-line): "
                             f"imported ephone-dn {w[1]} without {' '.join(w[2:])}")
        dn: dict[str, str] = {}
        for child in line.children:
            cw = child.words
            key = cw[0].lower()
            if key in ("number", "pickup-group") and len(cw) == 2:
                dn["dn" if key == "number" else key] = cw[1]
            elif key in ("label", "name") and len(cw) >= 2:
                dn[key] = child.text.split(None, 1)[1]
            else:
                notes.skipTree(child, f"srst has no ephone-dn {' '.join(cw[:2])}")
        if "dn" not in dn:
            notes.skipTree(line, "srst needs a number on an ephone-dn")
            continue
        numbers[w[1]], lines[w[1]] = dn, line
    used: set[str] = set()
    ephones: list[dict[str, Any]] = []
    for line in phones:
        phone: dict[str, Any] = {}
        buttons: list[dict[str, Any]] = []
        dials: list[dict[str, Any]] = []
        for child in line.children:
            cw = child.words
            key = cw[0].lower()
            if key == "mac-address" and len(cw) == 2:
                phone["mac"] = cw[1]
            elif key == "type" and len(cw) == 2:
                phone["type"] = cw[1]
            elif key == "button" and len(cw) >= 2 and all(_button(b, numbers) for b in cw[1:]):
                for pair in cw[1:]:
                    number, tag = pair.split(":")
                    used.add(tag)
                    buttons.append({"line": int(number), **numbers[tag]})
            elif key == "button":
                notes.skip(child, "srst has plain line buttons N:DN-TAG of configured ephone-dns only")
            elif key == "speed-dial" and len(cw) >= 3 and cw[1].isdigit():
                dial: dict[str, Any] = {"button": int(cw[1]), "number": cw[2]}
                if len(cw) >= 5 and cw[3].lower() == "label":
                    dial["label"] = child.text.split(None, 4)[4].strip('"')
                elif len(cw) != 3:
                    notes.skip(child, 'expected speed-dial <button> <number> [label "text"]')
                    continue
                dials.append(dial)
            else:
                notes.skipTree(child, f"srst has no ephone {' '.join(cw[:2])}")
        if "mac" not in phone:
            notes.skip(line, "srst needs a mac-address on an ephone")
            continue
        if buttons:
            phone["buttons"] = buttons
        if dials:
            phone["speed-dials"] = dials
        ephones.append(phone)
    for tag, line in lines.items():
        if tag not in used:
            notes.skip(line, "no ephone has a button for this ephone-dn: srst keeps numbers on phones' buttons")
    return ephones


def _button(pair: str, numbers: dict[str, dict[str, str]]) -> bool:
    parts = pair.split(":")
    return len(parts) == 2 and parts[0].isdigit() and parts[1] in numbers
