# -*- test-case-name: tests.test_mgcp_fallback -*-
"""
MGCP gateway fallback and switchback (mgcp.md 9.1, 9.3, 9.4): the
C{FallbackMonitor} that decides who controls the voice ports, CallManager
(over MGCP) or the router's own call control.

States (L{FallbackStatus})::

    stopped --start--> registering --RSIP answered--> registered
    registering / registered --CA lost--> fallback       (fallback-mgcp)
                                      \\-> disconnected   (not selected)
    disconnected --CA heard--> registering
    fallback --CA heard--> registering                   (switchback immediate)
                      \\-> switchback-pending            (graceful, schedule-time,
                                                          uptime-delay; never stays)
    switchback-pending --condition met--> registering
                      \\--CA lost again--> fallback

Detection (9.1): when the call agent has been silent for the keepalive
interval an empty NTFY keepalive is sent (and again every interval while
the silence lasts); when it has been silent for the failover interval it
counts as lost.  A transaction for the whole gateway that timed out
(L{FallbackMonitor.transactionTimedOut}) makes it lost at once if nothing
has been heard from it for a keepalive interval either; otherwise a
keepalive is sent to check.  A transaction for one endpoint that timed out
(L{FallbackMonitor.endpointTimedOut}) only sends a keepalive to check (none
if one is outstanding): the call agent may not serve that endpoint, which
is then disconnected alone (RFC 3435 4.3).  Heard means an
answer to one of the gateway's commands (L{FallbackMonitor.trafficReceived})
or, while it is registered, a command from its address
(L{FallbackMonitor.commandReceived}).  While the call agent is lost it is
probed with a keepalive every keepalive interval, and only an answer to one
of the gateway's own commands (the probe, matched by transaction id and by
the address it went to) means it is back: a command from its address is
answered (501 for a port under local call control) but proves nothing, as
anyone can send a datagram from an address.

Backup call agents (9.2, C{ccm-manager: redundant-hosts}): when the
active call agent is lost and a backup follows it in the list, the monitor
makes the backup active (L{IFallbackTarget.useCallAgent}) and registers
with it (C{registering}, RSIP restart for the idle ports); a backup that
does not answer within the failover interval hands over to the next; only
the last one's loss means fallback (or disconnected).  While in fallback
or disconnected the probes go to each call agent in turn, the primary
first, so the ports go back to the one that answers.  While a backup is
active (C{registered}) the primary is probed every keepalive interval
(L{IFallbackTarget.probeCallAgent}; its silence is no outage of the
backup) and the gateway returns to it per C{switchback}: C{immediate} at
its first answer, C{graceful} at an answer with every port idle,
C{uptime-delay} after that many minutes of answers, C{schedule-time} at
that time after its first answer, C{never} not at all.  With no backups
configured none of this happens.

Switchback (9.4) returns ports with L{IFallbackTarget.returnPort} and then
sends RSIP restart for them.  C{immediate} returns every port as soon as
the call agent answers; C{schedule-time} and C{uptime-delay} return every
port when their time comes (the target decides what happens to a connected
local call); C{never} keeps the ports local.  C{graceful} returns the idle
ports as soon as at least one port is idle, and every other port when it
becomes idle (L{FallbackMonitor.portIdle}, or found idle at a keepalive
interval), each with its own RSIP; those are L{FallbackMonitor.pendingPorts}
meanwhile.

The monitor drives an L{IFallbackTarget} (the service glue): it sends the
keepalives and RSIPs, hands the ports to local call control on fallback and
gives them back on switchback.  Time comes from an injected clock
(C{IReactorTime}); wall-clock time (C{schedule-time} and the times shown by
C{show ccm-manager}) from an injected C{now} returning an aware
L{datetime.datetime}.

The machine is in L{srst.mgcp._fallbackmachine} (its timers are the data
of the states they belong to), its core in L{srst.mgcp._fallbackcore}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from srst.mgcp._fallbackcore import RESTART, FallbackCore, IFallbackTarget, secondsUntil
from srst.mgcp._fallbackmachine import FALLBACK_ON, FallbackInputs, FallbackMachine, FallbackStatus
from srst.mgcp.config import DEFAULT_MGCP_PORT, CcmManagerConfig


class FallbackMonitor:
    """
    Watches the call agent and moves the voice ports between MGCP and local
    call control.  Create with L{newFallbackMonitor}.
    """

    def __init__(self, core: FallbackCore) -> None:
        """
        @param core: the machine's core (see L{newFallbackMonitor}).
        """
        self._core = core
        self._machine: FallbackInputs = FallbackMachine(core)

    # the public inputs

    def start(self) -> None:
        """
        Register with the call agent: RSIP restart for every port.
        """
        self._machine.start()

    def stop(self) -> None:
        """
        Cancel every timer.  Outstanding keepalives and RSIPs are ignored
        when they complete.
        """
        self._machine.stop()

    def trafficReceived(self) -> None:
        """
        The call agent answered one of the gateway's commands (matched by
        transaction id and address): it is alive.
        """
        self._machine.trafficReceived()

    def commandReceived(self) -> None:
        """
        A valid command arrived from the call agent's address: it holds
        off keepalives while the call agent is registered, and is no proof
        that it is back while it counts as lost.
        """
        self._machine.commandReceived()

    def transactionTimedOut(self) -> None:
        """
        A command the gateway sent (NTFY, DLCX, ...) exhausted its
        retransmissions.  The monitor's own keepalives and RSIPs are
        watched without this.
        """
        self._machine.transactionTimedOut()

    def endpointTimedOut(self) -> None:
        """
        A command the gateway sent for one endpoint (its NTFY, DLCX, RSIP)
        exhausted its retransmissions.  The call agent may just not serve
        that endpoint (Asterisk's chan_mgcp does not answer for one it has
        no configuration for; RFC 3435 4.3 disconnects that endpoint alone),
        so this is no proof that the call agent is gone: a keepalive checks.
        """
        self._machine.endpointTimedOut()

    def portIdle(self, name: str) -> None:
        """
        Voice port C{name} became idle (graceful switchback returns it).
        """
        self._machine.portIdle(name)

    # what show commands read

    @property
    def status(self) -> FallbackStatus:
        """The monitor's state."""
        return self._machine.status()

    @property
    def config(self) -> CcmManagerConfig:
        """The C{ccm-manager:} settings."""
        return self._core.config

    @property
    def callAgent(self) -> str:
        """The primary call agent's address as shown (C{"127.0.0.1"})."""
        return self._core.callAgent

    @property
    def activeHost(self) -> str:
        """
        The call agent the gateway works with (the primary, or a
        C{redundant-host} after a failover), or the one being probed while
        the ports are local.
        """
        return self._core.activeHost

    @property
    def lastKeepaliveSent(self) -> datetime | None:
        """When the last keepalive was sent, or L{None}."""
        return self._core.lastKeepaliveSent

    @property
    def keepalivesOutstanding(self) -> int:
        """Keepalives sent and not yet answered or failed."""
        return self._core.keepalivesOutstanding

    @property
    def lastTraffic(self) -> datetime | None:
        """When the call agent was last heard from, or L{None}."""
        return self._core.lastTraffic

    @property
    def lastFailover(self) -> datetime | None:
        """When the call agent was last declared lost, or L{None}."""
        return self._core.lastFailover

    @property
    def fallbackStart(self) -> datetime | None:
        """When the ports last went to local control, or L{None}."""
        return self._core.fallbackStart

    @property
    def fallbackEnd(self) -> datetime | None:
        """When they last came back (switchback), or L{None}."""
        return self._core.fallbackEnd

    @property
    def lastSwitchback(self) -> datetime | None:
        """When the last switchback happened, or L{None}."""
        return self._core.lastSwitchback

    @property
    def pendingPorts(self) -> frozenset[str]:
        """
        The ports still under local control after a graceful switchback,
        returned as each becomes idle.
        """
        return frozenset(self._core.pendingPorts)

    @property
    def fallbackMode(self) -> str:
        """
        C{MGCP Fallback mode}: C{"Not Selected"}, C{"Enabled/OFF"} or
        C{"Enabled/ON"} (the ports are under local control).
        """
        if not self.config.fallbackMgcp:
            return "Not Selected"
        return "Enabled/ON" if self.status in FALLBACK_ON else "Enabled/OFF"

    @property
    def activeCallManager(self) -> str | None:
        """
        The call agent controlling the ports, or L{None} when none does.
        """
        if self.status in (FallbackStatus.REGISTERING, FallbackStatus.REGISTERED):
            return self._core.activeHost
        return None

    @property
    def hostStatuses(self) -> list[tuple[str, str]]:
        """
        Each call agent (the primary, then the C{redundant-hosts}) with its
        C{show ccm-manager} status: the active one C{Registered},
        C{Registering} or C{Switchback Pending} (C{Down} when the ports are
        local or the monitor is stopped); another one C{Down} when it was
        found lost (or, for the primary while a backup is active, does not
        answer its probes) and C{Backup Ready} otherwise.
        """
        core = self._core
        active = _ACTIVE_STATUS[self.status]
        statuses = []
        for index, (host, port) in enumerate(core.hosts):
            if index == core.active and (active != "Down" or index == 0):
                statuses.append((host, active))
            else:
                statuses.append((host, "Down" if index in core.down else "Backup Ready"))
        return statuses


_ACTIVE_STATUS = {
    FallbackStatus.STOPPED: "Down",
    FallbackStatus.REGISTERING: "Registering",
    FallbackStatus.REGISTERED: "Registered",
    FallbackStatus.DISCONNECTED: "Down",
    FallbackStatus.FALLBACK: "Down",
    FallbackStatus.SWITCHBACK_PENDING: "Switchback Pending",
}


def newFallbackMonitor(clock: IReactorTime, now: Callable[[], datetime], config: CcmManagerConfig,
                       callAgent: str, target: IFallbackTarget, debugLog: Logger,
                       callAgentPort: int = DEFAULT_MGCP_PORT) -> FallbackMonitor:
    """
    Make a stopped L{FallbackMonitor}; call L{FallbackMonitor.start} once
    the MGCP socket is listening.

    @param clock: the reactor's time.
    @param now: returns the aware wall-clock time.
    @param config: the C{ccm-manager:} settings (L{CcmManagerConfig}C{()}
        when the section is absent: fallback not selected).
    @param callAgent: the call agent's address as shown.
    @param target: the L{IFallbackTarget}.
    @param debugLog: the C{debug mgcp} logger, made by the router's
        L{srst.debug.DebugSwitches.logger}.
    @param callAgentPort: the primary call agent's UDP port (used when
        the gateway returns to it from a backup).
    """
    return FallbackMonitor(FallbackCore(clock, now, config, callAgent, IFallbackTarget(target), debugLog,
                                        callAgentPort=callAgentPort))


__all__ = [
    "FALLBACK_ON",
    "FallbackInputs",
    "FallbackMachine",
    "FallbackMonitor",
    "FallbackStatus",
    "IFallbackTarget",
    "RESTART",
    "newFallbackMonitor",
    "secondsUntil",
]
