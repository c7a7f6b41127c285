# -*- test-case-name: tests.test_mgcp_config -*-
"""
The C{mgcp:} and C{ccm-manager:} sections of router.yaml.

C{mgcp:} is the
MGCP gateway (IOS C{mgcp}, C{mgcp call-agent}, C{mgcp dtmf-relay}, C{mgcp
sdp simple}, C{mgcp rtp unreachable}, C{mgcp package-capability}, C{mgcp
restart-delay}, C{mgcp request timeout}, C{mgcp validate call-agent
source-ipaddr}, C{mgcp persistent} and the C{mgcp profile default} timers of mgcp.md 5.1).  C{ccm-manager:} is CallManager keepalive,
redundant hosts, MGCP gateway fallback and switchback (mgcp.md 9).

Which voice ports are MGCP endpoints is the dial-peers' business, as in
IOS: a port is under MGCP only when a POTS dial-peer binds it with
C{application mgcpapp} (L{mgcpPortNames}, mgcp.md 9.3).  That such a
dial-peer names a configured voice port is checked where dial-peers are
read (L{srst.ports.config.readDialPeers}).

Every problem is recorded as a L{ConfigProblem} naming its YAML path.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Callable, Iterable, Optional

from attrs import frozen

from srst.configreader import ConfigProblem, Reader
from srst.mgcp.constants import CALL_AGENT_PORT, GATEWAY_PORT
from srst.ports.config import DialPeer

DEFAULT_MGCP_PORT = 2427
"""The MGCP port of gateways and call agents (C{mgcp call-agent <ip> 2427})."""

PACKAGE_NAMES = ("L", "D", "G", "R", "SST")
"""Packages an analog gateway may advertise (mgcp.md 7.4)."""

DEFAULT_PACKAGES = ("L", "D", "G", "R")
"""Line, DTMF, generic media and RTP (IOS default plus C{rtp-package})."""

MGCP_APPLICATION = "mgcpapp"
"""The dial-peer C{application} that binds its voice port to MGCP."""

PERSISTENT_NAMES = ("hookflash", "offhook", "onhook")
"""C{mgcp persistent hookflash|offhook|onhook}, in C{show mgcp} order."""

DEFAULT_PERSISTENT = ("offhook",)
"""IOS's default: persistent off-hook only."""

MAX_REDUNDANT_HOSTS = 2
"""C{ccm-manager redundant-host ip1 [ip2]}."""

_SCHEDULE = re.compile(r"^schedule-time\s+([0-9]{1,2}):([0-9]{2})$")
_UPTIME = re.compile(r"^uptime-delay\s+([0-9]{1,4})$")
_SWITCHBACK_ALLOWED = ("expected immediate, graceful, never, schedule-time HH:MM (00:00 to 23:59) "
                       "or uptime-delay N (minutes, 1 to 1440)")


@frozen
class HostPort:
    """
    An MGCP UDP address.

    @ivar host: an IPv4 or IPv6 address literal.
    @ivar port: the UDP port.
    """

    host: str
    port: int = DEFAULT_MGCP_PORT

    @property
    def address(self) -> tuple[str, int]:
        """
        @return: C{(host, port)}, the form datagram transports use.
        """
        return (self.host, self.port)


@frozen
class MgcpTimers:
    """
    C{mgcp request timeout} and the C{mgcp profile default} timers
    (mgcp.md 5.1), Cisco IOS defaults.

    @ivar requestTimeoutMs: first retransmission timeout, milliseconds.
    @ivar requestTimeoutMaxMs: cap of the doubling timeout, milliseconds.
    @ivar max1Retries: retransmissions after which the call agent is suspect.
    @ivar max2Retries: retransmissions after which a command fails.
    @ivar tsmax: longest a command stays in the retransmission queue, seconds.
    @ivar thist: how long responses are remembered, seconds.
    @ivar tdinit: disconnected procedure initial window, seconds.
    @ivar tdmin: least wait between disconnected RSIPs on local activity,
        seconds.
    @ivar tdmax: longest disconnected timer, seconds.

    The transaction layer builds its retransmission policy from these
    (L{srst.mgcp.transactions.RetransmissionPolicy.fromTimers}).
    """

    requestTimeoutMs: int = 500
    requestTimeoutMaxMs: int = 4000
    max1Retries: int = 5
    max2Retries: int = 7
    tsmax: int = 20
    thist: int = 30
    tdinit: int = 15
    tdmin: int = 15
    tdmax: int = 600


@frozen
class MgcpConfig:
    """
    The C{mgcp:} section.

    @ivar callAgent: C{mgcp call-agent <ip> <port>}.
    @ivar bind: the gateway's own UDP endpoint.
    @ivar version: C{version 0.1} or C{1.0}.
    @ivar dtmfRelay: C{"out-of-band"} (RFC 2833 events) or C{"none"}
        (in-band audio).
    @ivar sdp: C{"simple"} (C{mgcp sdp simple}: no C{o=}, C{s=}, C{t=}) or
        C{"full"}.
    @ivar rtpUnreachableTimeoutMs: C{mgcp rtp unreachable timeout}: how long
        after an ICMP port unreachable for the RTP a connection sends no RTP
        may arrive before the connection is deleted, milliseconds; or
        L{None} when C{rtp-unreachable: null} turns the check off.
    @ivar rtpUnreachableSilenceMs: C{rtp-unreachable.silence-timeout-ms}
        (no IOS command): delete a connection whose RTP, once it arrived,
        stops for this long, milliseconds; L{None} (the default) never
        does (a quiet far end keeps its connection).
    @ivar rtpUnreachableAction: C{"notify"} (tell the call agent with a
        gateway DLCX).
    @ivar restartDelay: RestartDelay sent in graceful RSIPs, seconds.
    @ivar packageCapabilities: package names advertised in AUEP C{v:}, in
        L{PACKAGE_NAMES} order.
    @ivar timers: the L{MgcpTimers}.
    @ivar validateSource: C{mgcp validate call-agent source-ipaddr}: only
        the call agent (and the C{ccm-manager: redundant-hosts}) may send
        the gateway MGCP; datagrams from any other host are dropped
        unanswered.  On by default (IOS: off).
    @ivar persistent: C{mgcp persistent}: the events (C{hookflash},
        C{offhook}, C{onhook}, in that order) an endpoint notifies whatever
        the call agent's current RequestedEvents say (RFC 3435 2.3.3).
        IOS's default is C{offhook} alone.
    """

    callAgent: HostPort
    bind: HostPort = HostPort("127.0.0.1", GATEWAY_PORT)
    version: str = "0.1"
    dtmfRelay: str = "out-of-band"
    sdp: str = "simple"
    rtpUnreachableTimeoutMs: Optional[int] = 1000
    rtpUnreachableAction: str = "notify"
    rtpUnreachableSilenceMs: Optional[int] = None
    restartDelay: int = 0
    packageCapabilities: tuple[str, ...] = DEFAULT_PACKAGES
    timers: MgcpTimers = MgcpTimers()
    validateSource: bool = True
    persistent: tuple[str, ...] = DEFAULT_PERSISTENT


class SwitchbackMode(enum.Enum):
    """
    C{ccm-manager switchback} modes, with their C{show ccm-manager} names.
    """

    IMMEDIATE = ("immediate", "Immediate")
    GRACEFUL = ("graceful", "Graceful")
    NEVER = ("never", "Never")
    SCHEDULE_TIME = ("schedule-time", "Schedule-time")
    UPTIME_DELAY = ("uptime-delay", "Uptime-delay")

    def __init__(self, configName: str, displayName: str) -> None:
        self.configName = configName
        self.displayName = displayName


@frozen
class Switchback:
    """
    When ports go back to CallManager after it answers again.

    @ivar mode: the L{SwitchbackMode}.
    @ivar time: C{(hour, minute)} for L{SwitchbackMode.SCHEDULE_TIME}, else
        L{None}.
    @ivar minutes: the delay for L{SwitchbackMode.UPTIME_DELAY}, else
        L{None}.
    """

    mode: SwitchbackMode = SwitchbackMode.GRACEFUL
    time: tuple[int, int] | None = None
    minutes: int | None = None

    def __str__(self) -> str:
        if self.time is not None:
            return "schedule-time %02d:%02d" % self.time
        if self.minutes is not None:
            return "uptime-delay %d" % (self.minutes,)
        return self.mode.configName


TFTP_PORT = 69
"""The TFTP server's well-known port."""


@frozen
class ConfigDownload:
    """
    C{ccm-manager config server <ip>} and C{ccm-manager config}: download
    the gateway configuration file over TFTP at start
    (L{srst.mgcp.download}).

    @ivar server: the TFTP server.
    @ivar file: the file's name; L{None}: C{<hostname>.cnf.xml}.
    @ivar timeout: seconds the download may take before the gateway starts
        with its local copy (or router.yaml alone).
    """

    server: HostPort
    file: Optional[str] = None
    timeout: int = 5


@frozen
class CcmManagerConfig:
    """
    The C{ccm-manager:} section.

    @ivar fallbackMgcp: C{ccm-manager fallback-mgcp}: hand the MGCP ports to
        local call control when no call agent answers.
    @ivar switchback: the L{Switchback} policy.
    @ivar keepaliveInterval: seconds of silence after which an empty NTFY
        keepalive is sent.
    @ivar failoverInterval: seconds without hearing from the call agent
        after which it counts as lost.
    @ivar redundantHosts: C{ccm-manager redundant-host}: up to two backup
        call agents, in order.
    @ivar config: the L{ConfigDownload}, or L{None} (no C{ccm-manager
        config}).
    @ivar musicOnHold: C{ccm-manager music-on-hold}: a voice-port caller
        CallManager holds with a multicast remote descriptor hears the
        group's stream (the gateway joins it and relays it to the port).
    """

    fallbackMgcp: bool = False
    switchback: Switchback = Switchback()
    keepaliveInterval: int = 15
    failoverInterval: int = 30
    redundantHosts: tuple[HostPort, ...] = ()
    config: Optional[ConfigDownload] = None
    musicOnHold: bool = False


def parseSwitchback(value: Any) -> Switchback | None:
    """
    Parse a C{switchback:} value.

    @param value: C{"immediate"}, C{"graceful"}, C{"never"},
        C{"schedule-time HH:MM"} or C{"uptime-delay N"}.
    @return: the L{Switchback}, or L{None} when C{value} is none of those.
    """
    if not isinstance(value, str):
        return None
    text = " ".join(value.strip().lower().split())
    for mode in (SwitchbackMode.IMMEDIATE, SwitchbackMode.GRACEFUL, SwitchbackMode.NEVER):
        if text == mode.configName:
            return Switchback(mode)
    match = _SCHEDULE.match(text)
    if match is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour <= 23 and minute <= 59:
            return Switchback(SwitchbackMode.SCHEDULE_TIME, time=(hour, minute))
        return None
    match = _UPTIME.match(text)
    if match is not None and 1 <= int(match.group(1)) <= 1440:
        return Switchback(SwitchbackMode.UPTIME_DELAY, minutes=int(match.group(1)))
    return None


def _hostPort(reader: Reader, defaultHost: str | None, defaultPort: int) -> HostPort | None:
    host = reader.address("host", defaultHost, required=defaultHost is None)
    port = reader.port("port", defaultPort)
    if host is None:
        return None
    return HostPort(host, port if port is not None else defaultPort)


def _version(reader: Reader) -> str:
    value = reader.raw("version", "0.1")
    text = str(value) if isinstance(value, (str, float)) and not isinstance(value, bool) else None
    if text not in ("0.1", "1.0"):
        reader.problem("version", value, 'expected "0.1" or "1.0" (MGCP protocol version)')
        return "0.1"
    return text


def _nameSet(reader: Reader, key: str, known: tuple[str, ...], default: tuple[str, ...],
             normalize: Callable[[str], str], noun: str, article: str) -> tuple[str, ...]:
    """
    Read C{key}: a list of names out of C{known} (any case, each at most
    once), returned in C{known}'s order; C{default} when absent.
    """
    if not reader.has(key):
        reader.raw(key)  # a null value: the default (and the key is known)
        return default
    allowed = f"expected {article} {noun} name: " + ", ".join(known)

    def item(value: Any, path: str) -> str | None:
        name = normalize(value) if isinstance(value, str) else None
        if name not in known:
            reader.problems.append(ConfigProblem(path, value, allowed))
            return None
        return name

    names = reader.listOf(key, item)
    if len(set(names)) != len(names):
        reader.problem(key, reader.raw(key), f"expected each {noun} at most once")
    return tuple(name for name in known if name in names)


def _packages(reader: Reader) -> tuple[str, ...]:
    return _nameSet(reader, "package-capabilities", PACKAGE_NAMES, DEFAULT_PACKAGES, str.upper, "package", "a")


def _persistent(reader: Reader) -> tuple[str, ...]:
    return _nameSet(reader, "persistent", PERSISTENT_NAMES, DEFAULT_PERSISTENT, str.lower, "event", "an")


def _readTimers(t: Reader) -> MgcpTimers:
    d = MgcpTimers()
    initial = t.integer("request-timeout-ms", d.requestTimeoutMs, 1, 10000)
    maximum = t.integer("request-timeout-max-ms", d.requestTimeoutMaxMs, 1, 60000)
    max1 = t.integer("max1-retries", d.max1Retries, 3, 30)
    max2 = t.integer("max2-retries", d.max2Retries, 3, 30)
    timers = MgcpTimers(
        requestTimeoutMs=initial if initial is not None else d.requestTimeoutMs,
        requestTimeoutMaxMs=maximum if maximum is not None else d.requestTimeoutMaxMs,
        max1Retries=max1 if max1 is not None else d.max1Retries,
        max2Retries=max2 if max2 is not None else d.max2Retries,
        tsmax=t.integer("tsmax", d.tsmax, 1, 100) or d.tsmax,
        thist=t.integer("thist", d.thist, 1, 120) or d.thist,
        tdinit=t.integer("tdinit", d.tdinit, 1, 30) or d.tdinit,
        tdmin=t.integer("tdmin", d.tdmin, 1, 30) or d.tdmin,
        tdmax=t.integer("tdmax", d.tdmax, 300, 600) or d.tdmax,
    )
    if initial is not None and maximum is not None and maximum < initial:
        t.problem("request-timeout-max-ms", maximum,
                  f"expected at least request-timeout-ms ({initial})")
    if max1 is not None and max2 is not None and max2 < max1:
        t.problem("max2-retries", max2, f"expected at least max1-retries ({max1})")
    t.finish()
    return timers


def readMgcp(m: Reader) -> MgcpConfig:
    """
    Read the C{mgcp:} mapping.
    """
    bind = _hostPort(m.child("bind"), "127.0.0.1", GATEWAY_PORT)
    callAgentReader = m.child("call-agent")
    callAgent = _hostPort(callAgentReader, None, DEFAULT_MGCP_PORT)
    if callAgent is not None and callAgent == (bind or HostPort("127.0.0.1", GATEWAY_PORT)):
        callAgentReader.problem(None, f"{callAgent.host} {callAgent.port}",
                                "the gateway's own address and port (mgcp.bind): the call agent is another host"
                                " or port")
    version = _version(callAgentReader)
    callAgentReader.finish()
    dtmf = m.string("dtmf-relay", "out-of-band", choices=["out-of-band", "none"])
    sdp = m.string("sdp", "simple", choices=["simple", "full"])
    if m.has("rtp-unreachable") and m.raw("rtp-unreachable") is None:
        # no mgcp rtp unreachable timeout: connections are never torn down for it
        timeoutMs, action, silenceMs = None, "notify", None
        m.child("rtp-unreachable").finish()
    else:
        unreachable = m.child("rtp-unreachable")
        timeoutMs = unreachable.integer("timeout-ms", 1000, 1000, 10000) or 1000
        action = unreachable.string("action", "notify", choices=["notify"])
        silenceMs = None
        if not (unreachable.has("silence-timeout-ms") and unreachable.raw("silence-timeout-ms") is None):
            silenceMs = unreachable.integer("silence-timeout-ms", None, 1000, 600000)
        unreachable.finish()
    restartDelay = m.integer("restart-delay", 0, 0, 600)
    packages = _packages(m)
    persistent = _persistent(m)
    timers = _readTimers(m.child("timers"))
    validate = m.child("validate")
    validateSource = validate.boolean("call-agent-source-ipaddr", True)
    validate.finish()
    m.finish()
    return MgcpConfig(
        callAgent=callAgent or HostPort("127.0.0.1", CALL_AGENT_PORT),
        bind=bind or HostPort("127.0.0.1", GATEWAY_PORT),
        version=version,
        dtmfRelay=dtmf or "out-of-band",
        sdp=sdp or "simple",
        rtpUnreachableTimeoutMs=timeoutMs,
        rtpUnreachableAction=action or "notify",
        rtpUnreachableSilenceMs=silenceMs,
        restartDelay=restartDelay or 0,
        packageCapabilities=packages,
        timers=timers,
        validateSource=validateSource,
        persistent=persistent,
    )


def readCcmManager(c: Reader) -> CcmManagerConfig:
    """
    Read the C{ccm-manager:} mapping.
    """
    fallback = c.boolean("fallback-mgcp", False)
    musicOnHold = c.boolean("music-on-hold", False)
    switchback = Switchback()
    if c.has("switchback"):
        raw = c.raw("switchback")
        parsed = parseSwitchback(raw)
        if parsed is None:
            c.problem("switchback", raw, _SWITCHBACK_ALLOWED)
        else:
            switchback = parsed
    else:
        c.raw("switchback")
    keepalive = c.integer("keepalive-interval", 15, 1, 3600)
    failover = c.integer("failover-interval", 30, 2, 7200)
    if keepalive is not None and failover is not None and failover <= keepalive:
        c.problem("failover-interval", failover,
                  f"expected more seconds than keepalive-interval ({keepalive}) so a keepalive "
                  "can be answered before the call agent counts as lost")

    def host(value: Any, path: str) -> HostPort | None:
        if not isinstance(value, dict):
            c.problems.append(ConfigProblem(path, value, "expected {host: <ip>, port: 2427}"))
            return None
        h = Reader(value, path, c.problems)
        result = _hostPort(h, None, DEFAULT_MGCP_PORT)
        h.finish()
        return result

    hosts = c.listOf("redundant-hosts", host)
    raw = c.raw("redundant-hosts")
    if isinstance(raw, list) and len(raw) > MAX_REDUNDANT_HOSTS:
        c.problem("redundant-hosts", raw, f"expected at most {MAX_REDUNDANT_HOSTS} backup call agents")
        hosts = hosts[:MAX_REDUNDANT_HOSTS]
    download = None
    if c.has("config"):
        d = c.child("config")
        server = d.address("server", None, required=True)
        port = d.port("port", TFTP_PORT)
        name = d.string("file", None)
        if name is not None and (not name or "/" in name or not name.isascii()):
            d.problem("file", name, "expected a file name (ASCII, no /)")
        timeout = d.integer("timeout-seconds", 5, 1, 60)
        d.finish()
        if server is not None:
            download = ConfigDownload(HostPort(server, port or TFTP_PORT), name or None, timeout or 5)
    c.finish()
    return CcmManagerConfig(
        fallbackMgcp=fallback,
        switchback=switchback,
        keepaliveInterval=keepalive or 15,
        failoverInterval=failover or 30,
        redundantHosts=tuple(hosts),
        config=download,
        musicOnHold=musicOnHold,
    )


def mgcpPortNames(dialPeers: Iterable[DialPeer]) -> frozenset[str]:
    """
    The voice ports that are MGCP endpoints: those a POTS dial-peer binds
    with C{application mgcpapp} (IOS compares application names without
    regard to case).  Every other port stays under the router's own call
    control, whether or not CallManager is reachable.

    @param dialPeers: the configured dial-peers.
    @return: the names of the ports they bind to MGCP.
    """
    return frozenset(peer.port for peer in dialPeers
                     if peer.port is not None and peer.application is not None
                     and peer.application.lower() == MGCP_APPLICATION)


__all__ = [
    "CcmManagerConfig",
    "ConfigDownload",
    "DEFAULT_MGCP_PORT",
    "DEFAULT_PACKAGES",
    "HostPort",
    "MGCP_APPLICATION",
    "MgcpConfig",
    "MgcpTimers",
    "PACKAGE_NAMES",
    "Switchback",
    "SwitchbackMode",
    "TFTP_PORT",
    "mgcpPortNames",
    "parseSwitchback",
    "readCcmManager",
    "readMgcp",
]
