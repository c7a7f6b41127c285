# -*- test-case-name: tests.test_mgcp_commands -*-
"""
MGCP gateway operator commands: C{show ccm-manager} and C{show ccm-manager
fallback-mgcp} (mgcp.md 9.5), rendered from a
L{srst.mgcp.fallback.FallbackMonitor}; C{show mgcp} and C{show mgcp
statistics}, rendered from the L{srst.mgcp.gateway.MgcpGateway}, in the
shape of IOS but only with the lines the gateway has facts for.  The
datagrams dropped by source validation (C{mgcp validate call-agent
source-ipaddr}) are IOS's C{Unrecognized rx pkts}.

The gateway is analog only, so the Backhaul/PRI block of the IOS output is
left out.  Times are shown in UTC as IOS does
(C{09:33:10 UTC Mar 24 2015 (elapsed time: 00:00:01)}).  The C{Status}
column shows C{Registered}, C{Registering}, C{Switchback Pending} or
C{Down} for the active call agent (the primary, or a backup after a
failover); a call agent that is not active shows C{Down} once it was found
lost (the primary: until it answers its probes again) and C{Backup Ready}
otherwise; backups not configured show C{None}.  C{Current active Call
Manager} names the active one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from srst.admin.commands import CommandResult, CommandTable
from srst.mgcp.fallback import FallbackMonitor
from srst.mgcp.gateway import MgcpGateway

BACKHAUL_PORT = 2428
"""C{Backhaul/Redundant link port}: the IOS default, shown for the shape."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_BACKUPS = ("First Backup", "Second Backup")


class NamedRouter(Protocol):
    """What the commands read of the router's configuration."""

    hostname: str


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc)


def formatTime(moment: datetime | None, now: datetime | None = None) -> str:
    """
    Render a time as C{show ccm-manager} does.

    @param moment: the time (an aware L{datetime}; naive ones are taken as
        UTC), or L{None}.
    @param now: the current time, to add C{(elapsed time: HH:MM:SS)}; or
        L{None} for no elapsed time.
    @return: C{"09:33:10 UTC Mar 24 2015 (elapsed time: 00:00:01)"}, or
        C{"None"}.
    """
    if moment is None:
        return "None"
    t = _utc(moment)
    text = f"{t:%H:%M:%S} UTC {_MONTHS[t.month - 1]} {t.day} {t.year}"
    if now is None:
        return text
    elapsed = max(0, int((_utc(now) - t).total_seconds()))
    hours, rest = divmod(elapsed, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{text} (elapsed time: {hours:02d}:{minutes:02d}:{seconds:02d})"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else _utc(moment).isoformat()


def _switchbackText(monitor: FallbackMonitor) -> str:
    switchback = monitor.config.switchback
    text = switchback.mode.displayName
    if switchback.time is not None:
        text += " %02d:%02d" % switchback.time
    if switchback.minutes is not None:
        text += f" {switchback.minutes} minutes"
    return text


def _field(label: str, value: Any) -> str:
    return f"{label + ':':<32}{value}"


def renderCcmManager(monitor: FallbackMonitor, domain: str, now: datetime) -> CommandResult:
    """
    @param monitor: the fallback monitor.
    @param domain: the MGCP domain name (the router's host name).
    @param now: the current wall-clock time.
    @return: C{show ccm-manager}.
    """
    statuses = monitor.hostStatuses
    host, status = statuses[0]
    lines = [
        f"MGCP Domain Name: {domain}",
        f"{'Priority':<16}{'Status':<25}Host",
        "=" * 60,
        f"{'Primary':<16}{status:<25}{host}",
    ]
    agents = [{"priority": "primary", "status": status, "host": host}]
    backups = monitor.config.redundantHosts
    for index, label in enumerate(_BACKUPS):
        if index < len(backups):
            host, status = statuses[index + 1]
            lines.append(f"{label:<16}{status:<25}{host}")
            agents.append({"priority": label.lower(), "status": status, "host": host,
                           "port": backups[index].port})
        else:
            lines.append(f"{label:<16}None")
    times = {
        "lastKeepaliveSent": monitor.lastKeepaliveSent,
        "lastTraffic": monitor.lastTraffic,
        "lastFailover": monitor.lastFailover,
        "lastSwitchback": monitor.lastSwitchback,
        "fallbackStart": monitor.fallbackStart,
        "fallbackEnd": monitor.fallbackEnd,
    }
    active = monitor.activeCallManager
    lines += [
        "",
        _field("Current active Call Manager", active or "None"),
        _field("Backhaul/Redundant link port", BACKHAUL_PORT),
        _field("Failover Interval", f"{monitor.config.failoverInterval} seconds"),
        _field("Keepalive Interval", f"{monitor.config.keepaliveInterval} seconds"),
        _field("Last keepalive sent", formatTime(times["lastKeepaliveSent"], now)),
        _field("Last MGCP traffic time", formatTime(times["lastTraffic"], now)),
        _field("Last failover time", formatTime(times["lastFailover"], now)),
        _field("Last switchback time", formatTime(times["lastSwitchback"], now)),
        _field("Switchback mode", _switchbackText(monitor)),
        _field("MGCP Fallback mode", monitor.fallbackMode),
        _field("Last MGCP Fallback start time", formatTime(times["fallbackStart"], now)),
        _field("Last MGCP Fallback end time", formatTime(times["fallbackEnd"], now)),
        _field("MGCP Download Tones", "Disabled"),
        _field("TFTP retry count to shut Ports", 2),
        "",
        "FAX mode: disable",
        "Configuration Error History:",
    ]
    data = {
        "domain": domain,
        "callAgents": agents,
        "activeCallManager": active,
        "state": monitor.status.value,
        "failoverInterval": monitor.config.failoverInterval,
        "keepaliveInterval": monitor.config.keepaliveInterval,
        "switchback": str(monitor.config.switchback),
        "fallbackMode": monitor.fallbackMode,
        "pendingPorts": sorted(monitor.pendingPorts),
    }
    data.update({key: _iso(value) for key, value in times.items()})
    return CommandResult("\n".join(lines), data)


def renderFallbackMgcp(monitor: FallbackMonitor) -> CommandResult:
    """
    @param monitor: the fallback monitor.
    @return: C{show ccm-manager fallback-mgcp}.
    """
    active = monitor.activeCallManager
    lines = [
        _field("Current active Call Manager", active or "None"),
        _field("MGCP Fallback mode", monitor.fallbackMode),
        _field("Last MGCP Fallback start time", formatTime(monitor.fallbackStart)),
        _field("Last MGCP Fallback end time", formatTime(monitor.fallbackEnd)),
    ]
    data = {
        "activeCallManager": active,
        "fallbackMode": monitor.fallbackMode,
        "state": monitor.status.value,
        "fallbackStart": _iso(monitor.fallbackStart),
        "fallbackEnd": _iso(monitor.fallbackEnd),
        "pendingPorts": sorted(monitor.pendingPorts),
    }
    return CommandResult("\n".join(lines), data)


def _enabled(flag: bool) -> str:
    return "ENABLED" if flag else "DISABLED"


def renderMgcp(gateway: MgcpGateway) -> CommandResult:
    """
    @param gateway: the MGCP gateway.
    @return: C{show mgcp}.
    """
    host, port = gateway.callAgent
    policy = gateway.transactions.policy
    lines = [
        "MGCP Admin State ACTIVE, Oper State ACTIVE - Cause Code NONE",
        f"MGCP call-agent: {host} {port} Initial protocol service is {gateway.version}",
        f"MGCP validate call-agent source-ipaddr {_enabled(gateway.validateSource)}",
        f"MGCP request timeout {round(policy.initial * 1000)}",
        f"MGCP maximum exponential request timeout {round(policy.maximum * 1000)}",
        f"MGCP restart delay {gateway.restartDelay:g}",
    ]
    lines += [f"MGCP persistent {name}: {_enabled(name in gateway.persistent)}"
              for name in ("hookflash", "offhook", "onhook")]
    data = {
        "callAgent": {"host": host, "port": port},
        "version": gateway.version,
        "validateCallAgentSourceIpaddr": gateway.validateSource,
        "callAgents": sorted(gateway.trustedHosts),
        "requestTimeoutMs": round(policy.initial * 1000),
        "requestTimeoutMaxMs": round(policy.maximum * 1000),
        "restartDelay": gateway.restartDelay,
        "persistent": list(gateway.persistent),
    }
    return CommandResult("\n".join(lines), data)


def renderMgcpStatistics(gateway: MgcpGateway) -> CommandResult:
    """
    @param gateway: the MGCP gateway.
    @return: C{show mgcp statistics}.
    """
    c = gateway.counters
    lines = [
        f"UDP pkts rx {c.received}, tx {c.sent}",
        f"Unrecognized rx pkts {c.refused}, MGCP message parsing errors {c.malformed}",
        f"Duplicate MGCP ack tx {c.duplicates}",
        f"RestartInProgress tx {c.restarts}",
        f"Notify tx {c.notifications + c.keepalives} (keepalives {c.keepalives})",
        f"Retransmissions tx {c.retransmissions}, timeouts {c.timeouts}",
    ]
    data = {
        "received": c.received, "sent": c.sent, "refused": c.refused, "malformed": c.malformed,
        "duplicates": c.duplicates, "restarts": c.restarts, "notifications": c.notifications,
        "keepalives": c.keepalives, "retransmissions": c.retransmissions, "timeouts": c.timeouts,
        "errors": {str(code): count for code, count in sorted(c.errors.items())},
    }
    return CommandResult("\n".join(lines), data)


def registerMgcpCommands(table: CommandTable, fallback: FallbackMonitor, config: NamedRouter,
                         now: Callable[[], datetime], gateway: MgcpGateway | None = None) -> None:
    """
    Register C{show ccm-manager} and C{show ccm-manager fallback-mgcp}, and
    with a C{gateway} C{show mgcp} and C{show mgcp statistics}.

    @param table: the router's command table.
    @param fallback: the gateway's L{FallbackMonitor}.
    @param config: the L{srst.config.RouterConfig} (its C{hostname} is the
        MGCP domain name).
    @param now: returns the aware wall-clock time.
    @param gateway: the L{MgcpGateway}, or L{None}.
    """
    table.add("show ccm-manager", lambda: renderCcmManager(fallback, config.hostname, now()),
              help="MGCP call agents, keepalive, fallback and switchback status")
    table.add("show ccm-manager fallback-mgcp", lambda: renderFallbackMgcp(fallback),
              help="MGCP gateway fallback status")
    if gateway is not None:
        table.add("show mgcp", lambda: renderMgcp(gateway),
                  help="MGCP gateway settings: call agent, source validation, timers")
        table.add("show mgcp statistics", lambda: renderMgcpStatistics(gateway),
                  help="MGCP datagrams and commands counted, drops by source validation")


__all__ = ["BACKHAUL_PORT", "formatTime", "registerMgcpCommands", "renderCcmManager", "renderFallbackMgcp",
           "renderMgcp", "renderMgcpStatistics"]
