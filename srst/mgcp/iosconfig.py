# -*- test-case-name: tests.test_mgcp_iosconfig -*-
"""
The C{mgcp}, C{mgcp profile default}, C{ccm-manager} and C{call application
alternate DEFAULT} commands of C{show running-config}, and their import.

IOS prints C{call application alternate DEFAULT} before the voice ports and
C{ccm-manager} before C{mgcp}: L{callApplicationConfig} and
L{runningConfig} (C{ccm-manager} then C{mgcp}) render them.

A few seed commands state what srst always does and are rendered whenever
the gateway is: C{no mgcp package-capability fxr-package} (srst has no fax
relay package), C{no mgcp timer receive-rtcp} (srst never times a connection
out on RTCP), C{mgcp fax t38 inhibit} (srst has no T.38).  On import they
are taken silently.

Where IOS's default differs from srst's, an IOS configuration that leaves a
command out gets IOS's behaviour: no C{mgcp dtmf-relay} is in-band DTMF
(C{dtmf-relay: none}), no C{mgcp sdp simple} is full SDP, no C{mgcp rtp
unreachable} never tears a connection down.  The one exception is C{mgcp
validate call-agent source-ipaddr}: srst keeps it on when the command is
left out, as a gateway that answers any host is not what an operator wants,
and the render prints it either way (C{no mgcp validate ...} when off).

L{srstOnly} lists the keys with no IOS command as C{! srst:} comments.
"""

from __future__ import annotations

from typing import Any, Sequence

from srst.iostext import ImportNotes, IosLine, indent
from srst.mgcp.config import (
    DEFAULT_MGCP_PORT,
    DEFAULT_PERSISTENT,
    TFTP_PORT,
    CcmManagerConfig,
    MgcpConfig,
    MgcpTimers,
    Switchback,
    parseSwitchback,
)
from srst.mgcp.constants import GATEWAY_PORT

__all__ = ["callApplicationConfig", "importIos", "runningConfig", "srstOnly"]

_PACKAGES = {"L": "line-package", "D": "dtmf-package", "G": "gm-package", "R": "rtp-package", "SST": "sst-package"}
_IOS_DEFAULT_PACKAGES = ("L", "D", "G")
_PROFILE = (("tsmax", "timeout tsmax"), ("thist", "timeout thist"), ("tdinit", "timeout tdinit"),
            ("tdmin", "timeout tdmin"), ("tdmax", "timeout tdmax"),
            ("max1Retries", "max1 retries"), ("max2Retries", "max2 retries"))
_PROFILE_KEYS = {"tsmax": "tsmax", "thist": "thist", "tdinit": "tdinit", "tdmin": "tdmin", "tdmax": "tdmax",
                 "max1Retries": "max1-retries", "max2Retries": "max2-retries"}
_ALWAYS = ("no mgcp timer receive-rtcp", "mgcp fax t38 inhibit")


def callApplicationConfig(ccmManager: CcmManagerConfig | None) -> list[str]:
    """
    @return: C{call application alternate DEFAULT} (the router's own call
        control takes calls MGCP cannot) when C{ccm-manager fallback-mgcp}
        is on, else nothing.
    """
    if ccmManager is None or not ccmManager.fallbackMgcp:
        return []
    return ["call application alternate DEFAULT", "!"]


def _ccmManager(ccm: CcmManagerConfig, mgcp: MgcpConfig | None) -> list[str]:
    lines: list[str] = []
    if ccm.fallbackMgcp:
        lines.append("ccm-manager fallback-mgcp")
    if ccm.redundantHosts:
        lines.append("ccm-manager redundant-host " + " ".join(h.host for h in ccm.redundantHosts))
    if ccm.switchback != Switchback():
        lines.append(f"ccm-manager switchback {ccm.switchback}")
    if mgcp is not None:
        lines.append("ccm-manager mgcp")
    if ccm.musicOnHold:
        lines.append("ccm-manager music-on-hold")
    if ccm.config is not None:
        lines += [f"ccm-manager config server {ccm.config.server.host}", "ccm-manager config"]
    return lines + ["!"]


def _mgcp(m: MgcpConfig) -> list[str]:
    lines = ["mgcp"]
    lines.append(f"mgcp call-agent {m.callAgent.host} {m.callAgent.port} service-type mgcp version {m.version}")
    if m.restartDelay:
        lines.append(f"mgcp restart-delay {m.restartDelay}")
    if m.dtmfRelay == "out-of-band":
        lines.append("mgcp dtmf-relay voip codec all mode out-of-band")
    if m.rtpUnreachableTimeoutMs is not None:
        lines.append(f"mgcp rtp unreachable timeout {m.rtpUnreachableTimeoutMs} action {m.rtpUnreachableAction}")
    for name in _IOS_DEFAULT_PACKAGES:
        if name not in m.packageCapabilities:
            lines.append(f"no mgcp package-capability {_PACKAGES[name]}")
    for name in ("R", "SST"):
        if name in m.packageCapabilities:
            lines.append(f"mgcp package-capability {_PACKAGES[name]}")
    lines.append("no mgcp package-capability fxr-package")
    lines.append(_ALWAYS[0])
    if m.timers.requestTimeoutMs != MgcpTimers().requestTimeoutMs:
        lines.append(f"mgcp request timeout {m.timers.requestTimeoutMs}")
    if m.sdp == "simple":
        lines.append("mgcp sdp simple")
    lines.append(("" if m.validateSource else "no ") + "mgcp validate call-agent source-ipaddr")
    for event in ("hookflash", "onhook"):
        if event in m.persistent:
            lines.append(f"mgcp persistent {event}")
    if "offhook" not in m.persistent:
        lines.append("no mgcp persistent offhook")
    lines.append(_ALWAYS[1])
    lines.append("!")
    profile = [f"{command} {getattr(m.timers, attr)}" for attr, command in _PROFILE
               if getattr(m.timers, attr) != getattr(MgcpTimers(), attr)]
    return lines + indent("mgcp profile default", profile) + ["!"]


def runningConfig(mgcp: MgcpConfig | None, ccmManager: CcmManagerConfig | None) -> list[str]:
    """
    @return: the C{ccm-manager} lines, then C{mgcp} and C{mgcp profile
        default} (only the timers that differ from IOS's), each group
        followed by C{!}; nothing for an absent section.
    """
    lines = _ccmManager(ccmManager, mgcp) if ccmManager is not None else []
    return lines + (_mgcp(mgcp) if mgcp is not None else [])


def srstOnly(mgcp: MgcpConfig | None, ccmManager: CcmManagerConfig | None) -> list[str]:
    """
    @return: C{! srst: <key> <value>} for each key set away from its default
        that has no IOS command.
    """
    lines: list[str] = []
    if mgcp is not None:
        if (mgcp.bind.host, mgcp.bind.port) != ("127.0.0.1", GATEWAY_PORT):
            lines.append(f"! srst: mgcp.bind {mgcp.bind.host} {mgcp.bind.port}")
        if mgcp.rtpUnreachableSilenceMs is not None:
            lines.append(f"! srst: mgcp.rtp-unreachable.silence-timeout-ms {mgcp.rtpUnreachableSilenceMs}")
        if mgcp.timers.requestTimeoutMaxMs != MgcpTimers().requestTimeoutMaxMs:
            lines.append(f"! srst: mgcp.timers.request-timeout-max-ms {mgcp.timers.requestTimeoutMaxMs}")
    if ccmManager is not None:
        if ccmManager.keepaliveInterval != 15:
            lines.append(f"! srst: ccm-manager.keepalive-interval {ccmManager.keepaliveInterval}")
        if ccmManager.failoverInterval != 30:
            lines.append(f"! srst: ccm-manager.failover-interval {ccmManager.failoverInterval}")
        for index, host in enumerate(ccmManager.redundantHosts):
            if host.port != DEFAULT_MGCP_PORT:
                lines.append(f"! srst: ccm-manager.redundant-hosts[{index}].port {host.port}")
        download = ccmManager.config
        if download is not None:
            if download.server.port != TFTP_PORT:
                lines.append(f"! srst: ccm-manager.config.port {download.server.port}")
            if download.file is not None:
                lines.append(f"! srst: ccm-manager.config.file {download.file}")
            if download.timeout != 5:
                lines.append(f"! srst: ccm-manager.config.timeout-seconds {download.timeout}")
    return lines


def importIos(lines: Sequence[IosLine], document: dict[str, Any], notes: ImportNotes) -> list[IosLine]:
    """
    Import the C{mgcp ...}, C{ccm-manager ...} and C{call application
    alternate DEFAULT} lines into C{mgcp:} and C{ccm-manager:}.

    @return: the lines that are none of those.
    """
    rest: list[IosLine] = []
    mine: list[IosLine] = []
    ccm: list[IosLine] = []
    for line in lines:
        if line.startswith("mgcp") or line.startswith("no", "mgcp"):
            mine.append(line)
        elif line.startswith("ccm-manager") or line.startswith("no", "ccm-manager"):
            ccm.append(line)
        elif line.startswith("call", "application"):
            if not line.startswith("call", "application", "alternate", "DEFAULT") or len(line.words) != 4:
                notes.skipTree(line, "srst has no IOS call applications (Tcl/VoiceXML); "
                                     "its own call control is the default")
        else:
            rest.append(line)
    if mine:
        mgcp = _importMgcp(mine, notes)
        if mgcp is not None:
            document["mgcp"] = mgcp
    if ccm:
        if "mgcp" not in document:
            for line in ccm:
                notes.skipTree(line, "srst's ccm-manager needs the mgcp gateway (no mgcp call-agent imported)")
        else:
            document["ccm-manager"] = _importCcm(ccm, notes)
    return rest


def _importMgcp(lines: list[IosLine], notes: ImportNotes) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    packages = set(_IOS_DEFAULT_PACKAGES)
    persistent = set(DEFAULT_PERSISTENT)
    byName = {ios: short for short, ios in _PACKAGES.items()}
    timers: dict[str, int] = {}
    enabled = False
    dtmf, sdp, unreachable = "none", "full", None
    for line in lines:
        w = [word.lower() for word in line.words]
        negated = w[0] == "no"
        if negated:
            w = w[1:]
        if w == ["mgcp"]:
            enabled = not negated
        elif w[:2] == ["mgcp", "call-agent"] and not negated and len(w) >= 3:
            agent = _callAgent(line.words[2:])
            if agent is None:
                notes.skip(line, "expected mgcp call-agent <ip> [<port>] service-type mgcp version 0.1|1.0 "
                                 "(srst has no DNS names or other service types)")
            else:
                out["call-agent"] = agent
        elif w == ["mgcp", "dtmf-relay", "voip", "codec", "all", "mode", "out-of-band"]:
            dtmf = "out-of-band" if not negated else "none"
        elif w[:2] == ["mgcp", "dtmf-relay"] and negated:
            dtmf = "none"
        elif w[:2] == ["mgcp", "dtmf-relay"]:
            notes.skip(line, "srst relays DTMF out-of-band (RFC 2833) for all codecs or not at all")
        elif (w[:4] == ["mgcp", "rtp", "unreachable", "timeout"] and len(w) == 7 and w[4].isdigit()
              and w[5:] == ["action", "notify"] and not negated and 1000 <= int(w[4]) <= 10000):
            unreachable = {"timeout-ms": int(w[4]), "action": "notify"}
        elif w[:3] == ["mgcp", "rtp", "unreachable"] and negated:
            unreachable = None
        elif w[:2] == ["mgcp", "package-capability"] and len(w) == 3:
            short = byName.get(w[2])
            if short is not None:
                (packages.discard if negated else packages.add)(short)
            elif not negated:
                notes.skip(line, f"srst has no {w[2]} (it offers line, dtmf, gm, rtp and sst packages)")
        elif w == ["mgcp", "timer", "receive-rtcp"] and negated:
            pass  # srst never times a connection out on RTCP
        elif w == ["mgcp", "fax", "t38", "inhibit"] and not negated:
            pass  # srst has no T.38: inhibited is what it does
        elif w[:3] == ["mgcp", "rtp", "payload-type"]:
            notes.skip(line, f"srst carries G.711 only: no {line.words[3]} payload type to set")
        elif w == ["mgcp", "sdp", "simple"]:
            sdp = "full" if negated else "simple"
        elif w[:2] == ["mgcp", "restart-delay"] and len(w) == 3 and w[2].isdigit() and not negated:
            out["restart-delay"] = int(w[2])
        elif w[:3] == ["mgcp", "request", "timeout"] and len(w) == 4 and w[3].isdigit() and not negated:
            timers["request-timeout-ms"] = int(w[3])
        elif w == ["mgcp", "validate", "call-agent", "source-ipaddr"]:
            if negated:
                out.setdefault("validate", {})["call-agent-source-ipaddr"] = False
        elif w[:2] == ["mgcp", "persistent"] and len(w) == 3 and w[2] in ("hookflash", "offhook", "onhook"):
            (persistent.discard if negated else persistent.add)(w[2])
        elif w == ["mgcp", "profile", "default"] and not negated:
            for child in line.children:
                _profileLine(child, timers, notes)
        elif w[:2] == ["mgcp", "profile"]:
            notes.skipTree(line, "srst has the default MGCP profile only")
        else:
            notes.skipTree(line, "srst has no " + " ".join(line.words[int(negated):][:3]))
    if not enabled or "call-agent" not in out:
        for line in lines:
            notes.skipTree(line, "srst needs both mgcp and mgcp call-agent to run the MGCP gateway")
        return None
    result: dict[str, Any] = {"call-agent": out["call-agent"], "dtmf-relay": dtmf, "sdp": sdp,
                              "rtp-unreachable": unreachable}
    if "restart-delay" in out:
        result["restart-delay"] = out["restart-delay"]
    result["package-capabilities"] = [name for name in _PACKAGES if name in packages]
    if persistent != set(DEFAULT_PERSISTENT):
        result["persistent"] = [e for e in ("hookflash", "offhook", "onhook") if e in persistent]
    if timers:
        result["timers"] = timers
    if "validate" in out:
        result["validate"] = out["validate"]
    return result


def _callAgent(words: list[str]) -> dict[str, Any] | None:
    host, rest = words[0], words[1:]
    port = DEFAULT_MGCP_PORT
    if rest and rest[0].isdigit():
        port, rest = int(rest[0]), rest[1:]
    low = [w.lower() for w in rest]
    version = "0.1"
    if low[:2] == ["service-type", "mgcp"]:
        low = low[2:]
    elif low:
        return None
    if low[:1] == ["version"] and len(low) == 2 and low[1] in ("0.1", "1.0"):
        version = low[1]
    elif low:
        return None
    if not all(part.isdigit() for part in host.split(".")) and ":" not in host:
        return None
    return {"host": host, "port": port, "version": version}


def _profileLine(child: IosLine, timers: dict[str, int], notes: ImportNotes) -> None:
    w = [word.lower() for word in child.words]
    for attr, command in _PROFILE:
        words = command.split()
        if w[:len(words)] == words and len(w) == len(words) + 1 and w[-1].isdigit():
            timers[_PROFILE_KEYS[attr]] = int(w[-1])
            return
    notes.skipTree(child, "srst has no mgcp profile " + " ".join(child.words[:2]))


def _importCcm(lines: list[IosLine], notes: ImportNotes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    server: IosLine | None = None
    download: IosLine | None = None
    for line in lines:
        w = line.words
        low = [word.lower() for word in w]
        if low == ["ccm-manager", "fallback-mgcp"]:
            out["fallback-mgcp"] = True
        elif low == ["ccm-manager", "mgcp"]:
            pass  # srst's ccm-manager always manages the mgcp gateway
        elif low == ["ccm-manager", "music-on-hold"]:
            out["music-on-hold"] = True
        elif low[:2] == ["ccm-manager", "switchback"] and parseSwitchback(" ".join(w[2:])) is not None:
            out["switchback"] = " ".join(low[2:])
        elif low[:2] == ["ccm-manager", "redundant-host"] and 3 <= len(w) <= 4:
            out["redundant-hosts"] = [{"host": host, "port": DEFAULT_MGCP_PORT} for host in w[2:]]
        elif low[:3] == ["ccm-manager", "config", "server"] and len(w) == 4:
            server = line
        elif low == ["ccm-manager", "config"]:
            download = line
        else:
            notes.skipTree(line, "srst has no " + " ".join(w[:3]))
    if server is not None and download is not None:
        out["config"] = {"server": server.words[3]}
    elif server is not None:
        notes.skip(server, "without ccm-manager config the gateway downloads nothing: srst keeps no server")
    elif download is not None:
        notes.skip(download, "srst needs ccm-manager config server <ip> (no DHCP option 150)")
    order = ("fallback-mgcp", "music-on-hold", "switchback", "redundant-hosts", "config")
    return {key: out[key] for key in order if key in out}
