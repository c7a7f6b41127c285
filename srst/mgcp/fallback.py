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
counts as lost.  A transaction that timed out (L{FallbackMonitor.transactionTimedOut})
makes it lost at once if nothing has been heard from it for a keepalive
interval either; otherwise a keepalive is sent to check.  While the call
agent is lost it is probed with a keepalive every keepalive interval, and
any message from it (L{FallbackMonitor.trafficReceived}) or an answered
probe means it is back.

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
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from attrs import define, field
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface

from srst.mgcp.config import CcmManagerConfig, SwitchbackMode
from srst.mgcp._fallbackmachine import FALLBACK_ON, FallbackInputs, FallbackMachine, FallbackStatus

RESTART = "restart"
"""The RestartMethod of the RSIPs the monitor sends (mgcp.md 5.2)."""


class IFallbackTarget(Interface):
    """
    What the fallback monitor controls: the MGCP gateway and the voice
    ports.  Implemented by the service glue.
    """

    def sendKeepalive() -> Deferred:
        """
        Send an empty NTFY keepalive (C{NTFY <id> *@<gw>}, C{X: 0}, empty
        C{O:}) to the call agent.

        @return: a L{Deferred} firing when the call agent answers with 2xx
            and failing when it answers otherwise or the transaction times
            out.  The monitor reports a timeout itself; do not also call
            L{FallbackMonitor.transactionTimedOut} for it.
        """

    def sendRestart(method: str, portNames: Sequence[str]) -> Deferred:
        """
        Send RSIP with RestartMethod C{method} for the endpoints of
        C{portNames} (the wildcard C{*@<gw>} when that is every port).

        @return: a L{Deferred} as for L{sendKeepalive}.
        """

    def enterFallback() -> None:
        """
        Hand every port to local call control: clear calls being set up,
        keep connected calls until they hang up, and answer no MGCP
        commands for the ports.
        """

    def portNames() -> Sequence[str]:
        """
        @return: the names of the MGCP-controlled voice ports.
        """

    def isPortIdle(name: str) -> bool:
        """
        @return: whether voice port C{name} has no call (on hook, not
            ringing).
        """

    def returnPort(name: str) -> None:
        """
        Give voice port C{name} back to MGCP control.  A connected local
        call on it is the target's to keep or clear.
        """


def _cancel(timer: IDelayedCall | None) -> None:
    if timer is not None and timer.active():
        timer.cancel()


@define(eq=False)
class FallbackMonitor:
    """
    Watches the call agent and moves the voice ports between MGCP and local
    call control.  Create with L{newFallbackMonitor}.

    @ivar clock: the reactor's time.
    @ivar now: returns the aware wall-clock L{datetime} (C{schedule-time},
        show output).
    @ivar config: the C{ccm-manager:} settings.
    @ivar callAgent: the call agent's address as shown (C{"127.0.0.1"}).
    @ivar target: the L{IFallbackTarget}.
    @ivar lastKeepaliveSent: when the last keepalive was sent, or L{None}.
    @ivar lastTraffic: when the call agent was last heard from, or L{None}.
    @ivar lastFailover: when the call agent was last declared lost.
    @ivar fallbackStart: when the ports last went to local control.
    @ivar fallbackEnd: when they last came back (switchback).
    @ivar lastSwitchback: when the last switchback happened.
    @ivar pendingPorts: ports still under local control after a graceful
        switchback, returned as each becomes idle.
    """

    clock: IReactorTime
    now: Callable[[], datetime]
    config: CcmManagerConfig
    callAgent: str
    target: Any
    lastKeepaliveSent: datetime | None = None
    lastTraffic: datetime | None = None
    lastFailover: datetime | None = None
    fallbackStart: datetime | None = None
    fallbackEnd: datetime | None = None
    lastSwitchback: datetime | None = None
    pendingPorts: set[str] = field(factory=set)
    _heardAt: float | None = None
    _keepaliveTimer: IDelayedCall | None = None
    _failoverTimer: IDelayedCall | None = None
    _switchbackTimer: IDelayedCall | None = None
    _switchbackDue: bool = False
    _machine: Any = field(default=None, repr=False)

    _log = Logger(namespace="srst.mgcp.fallback")
    _debug = Logger(namespace="srst.debug.mgcp")

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
        Any valid MGCP message (command or response) arrived from the call
        agent.
        """
        self._machine.trafficReceived()

    def transactionTimedOut(self) -> None:
        """
        A command the gateway sent (NTFY, DLCX, ...) exhausted its
        retransmissions.  The monitor's own keepalives and RSIPs are
        watched without this.
        """
        self._machine.transactionTimedOut()

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
            return self.callAgent
        return None

    # helpers the transitions use

    def _changed(self, old: str, new: str, why: str) -> None:
        self._log.info("MGCP fallback monitor: {old} -> {new} ({why})", old=old, new=new, why=why)

    def _heard(self) -> None:
        self.lastTraffic = self.now()
        self._heardAt = self.clock.seconds()
        for timer, delay in ((self._keepaliveTimer, self.config.keepaliveInterval),
                             (self._failoverTimer, self.config.failoverInterval)):
            if timer is not None and timer.active():
                timer.reset(delay)

    def _silentFor(self) -> float:
        if self._heardAt is None:
            return float("inf")
        return self.clock.seconds() - self._heardAt

    def _armKeepalive(self) -> None:
        _cancel(self._keepaliveTimer)
        self._keepaliveTimer = self.clock.callLater(self.config.keepaliveInterval, self._machine._keepaliveDue)

    def _armFailover(self) -> None:
        _cancel(self._failoverTimer)
        self._failoverTimer = self.clock.callLater(self.config.failoverInterval, self._lose)

    def _armDetection(self) -> None:
        self._armKeepalive()
        self._armFailover()

    def _cancelTimers(self) -> None:
        for timer in (self._keepaliveTimer, self._failoverTimer, self._switchbackTimer):
            _cancel(timer)
        self._keepaliveTimer = self._failoverTimer = self._switchbackTimer = None

    def _lose(self) -> None:
        if self.config.fallbackMgcp:
            self._machine._lost()
        else:
            self._machine._disconnected()

    def _suspect(self) -> None:
        if self._silentFor() >= self.config.keepaliveInterval:
            self._debug.debug("MGCP transaction timed out; call agent silent for {seconds:.0f} s: lost",
                              seconds=min(self._silentFor(), 1e9))
            self._lose()
        else:
            self._sendKeepalive()

    def _sendKeepalive(self) -> None:
        self.lastKeepaliveSent = self.now()
        self._debug.debug("MGCP keepalive to {agent}", agent=self.callAgent)
        self.target.sendKeepalive().addCallbacks(self._keepaliveAnswered, self._keepaliveFailed)

    def _keepaliveAnswered(self, result: object) -> None:
        self._machine.trafficReceived()

    def _keepaliveFailed(self, reason: Failure) -> None:
        self._debug.debug("MGCP keepalive failed: {reason}", reason=reason.getErrorMessage())
        self._machine._probeFailed()

    def _sendRestart(self, ports: Sequence[str]) -> None:
        if not ports:
            # Nothing to restart (every port has a call): registered as it
            # is, on the next turn (this runs inside a transition).
            self.clock.callLater(0, self._nothingToRestart)
            return
        self._debug.debug("MGCP RSIP restart for {ports}", ports=list(ports))
        self.target.sendRestart(RESTART, list(ports)).addCallbacks(self._restartAnswered, self._restartFailed)

    def _nothingToRestart(self) -> None:
        if self.status is FallbackStatus.REGISTERING:
            self._machine._restartAnswered()

    def _restartAnswered(self, result: object) -> None:
        self._machine._restartAnswered()

    def _restartFailed(self, reason: Failure) -> None:
        self._debug.debug("MGCP RSIP restart failed: {reason}", reason=reason.getErrorMessage())
        self._machine._restartFailed()

    def _restartablePorts(self) -> list[str]:
        """
        The MGCP ports an RSIP restart may name: not waiting for switchback
        and idle (restart says the endpoint has no connection, mgcp.md 5.2;
        a port whose MGCP call outlived a disconnection keeps it, and the
        call agent knows it from the disconnected procedure's RSIP).
        """
        return [name for name in self.target.portNames()
                if name not in self.pendingPorts and self.target.isPortIdle(name)]

    def _callAgentLost(self) -> None:
        self.lastFailover = self.now()
        self._log.warn("MGCP call agent {agent} lost", agent=self.callAgent)

    def _enterFallback(self) -> None:
        self._callAgentLost()
        self.fallbackStart = self.now()
        self.pendingPorts.clear()
        self._log.warn("MGCP fallback: voice ports under local call control")
        self.target.enterFallback()

    def _callAgentBack(self) -> None:
        mode = self.config.switchback.mode
        if mode is SwitchbackMode.IMMEDIATE and self._anyPortIdle():
            self._machine._switchbackNow()
        elif mode is not SwitchbackMode.NEVER:
            self._machine._awaitSwitchback()

    def _armSwitchback(self) -> None:
        switchback = self.config.switchback
        self._switchbackDue = False
        if switchback.mode is SwitchbackMode.UPTIME_DELAY and switchback.minutes is not None:
            delay = switchback.minutes * 60.0
        elif switchback.mode is SwitchbackMode.SCHEDULE_TIME and switchback.time is not None:
            delay = secondsUntil(self.now(), switchback.time)
        else:
            self._checkSwitchback()
            return
        self._switchbackTimer = self.clock.callLater(delay, self._switchbackTimeReached)

    def _switchbackTimeReached(self) -> None:
        self._switchbackTimer = None
        self._switchbackDue = True
        self._checkSwitchback()

    def _anyPortIdle(self) -> bool:
        return any(self.target.isPortIdle(name) for name in self.target.portNames())

    def _checkSwitchback(self) -> None:
        """
        Switch back once it is due (graceful and immediate: as soon as the
        call agent answers; schedule-time and uptime-delay: once their time
        came) and some port is idle to go first: with every port in a call
        there is nothing to return yet, and leaving fallback with no port
        registered would only time out back into it.
        """
        due = self._switchbackDue or self.config.switchback.mode in (
            SwitchbackMode.GRACEFUL, SwitchbackMode.IMMEDIATE)
        if due and self._anyPortIdle():
            self._machine._switchbackNow()

    def _switchback(self) -> None:
        # Every mode returns the idle ports now; a port with a call (a local
        # one, or an MGCP call kept through fallback) stays until the call
        # ends and then re-registers with its own RSIP (mgcp.md 9.4): an
        # RSIP restart says the port has no connection.
        names = list(self.target.portNames())
        returned = [name for name in names if self.target.isPortIdle(name)]
        self.pendingPorts = set(names) - set(returned)
        self.lastSwitchback = self.fallbackEnd = self.now()
        self._log.info("MGCP switchback: ports {ports} back to the call agent; {pending} still local",
                       ports=returned, pending=sorted(self.pendingPorts))
        for name in returned:
            self.target.returnPort(name)
        if returned:
            self._sendRestart(returned)

    def _returnPending(self, name: str) -> None:
        if name in self.pendingPorts and self.target.isPortIdle(name):
            self.pendingPorts.discard(name)
            self.target.returnPort(name)
            self._sendRestart([name])

    def _returnIdlePending(self) -> None:
        for name in sorted(self.pendingPorts):
            self._returnPending(name)


def secondsUntil(now: datetime, time: tuple[int, int]) -> float:
    """
    @param now: the current wall-clock time.
    @param time: C{(hour, minute)}.
    @return: seconds from C{now} to the next C{hour:minute} in C{now}'s
        time zone (tomorrow's when today's has passed or is now).
    """
    hour, minute = time
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return (target - now).total_seconds()


def newFallbackMonitor(clock: IReactorTime, now: Callable[[], datetime], config: CcmManagerConfig,
                       callAgent: str, target: Any) -> FallbackMonitor:
    """
    Make a stopped L{FallbackMonitor}; call L{FallbackMonitor.start} once
    the MGCP socket is listening.

    @param clock: the reactor's time.
    @param now: returns the aware wall-clock time.
    @param config: the C{ccm-manager:} settings (L{CcmManagerConfig}C{()}
        when the section is absent: fallback not selected).
    @param callAgent: the call agent's address as shown.
    @param target: the L{IFallbackTarget}.
    """
    monitor = FallbackMonitor(clock, now, config, callAgent, IFallbackTarget(target))
    monitor._machine = FallbackMachine(monitor)
    return monitor


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
