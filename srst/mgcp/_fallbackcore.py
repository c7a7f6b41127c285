# -*- test-case-name: tests.test_mgcp_fallback -*-
"""
The core of the MGCP fallback monitor (L{srst.mgcp.fallback}): the
collaborators the fallback machine's transitions use (the clock, the
wall clock, the C{ccm-manager:} settings, the L{IFallbackTarget}), what
C{show ccm-manager} shows (the times of the last keepalive, traffic,
failover and switchback, the ports waiting for switchback), and the
decisions and actions the transitions take.

L{srst.mgcp.fallback} re-exports every public name here; import them from
there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Protocol, Sequence

from attrs import define, field
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface

from srst.mgcp.config import DEFAULT_MGCP_PORT, CcmManagerConfig, SwitchbackMode

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
            L{srst.mgcp.fallback.FallbackMonitor.transactionTimedOut} for
            it.
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

    def useCallAgent(address: tuple[str, int]) -> None:
        """
        Make C{address} the active call agent: the gateway's commands, NTFYs
        and keepalives go to it from now on (failover to a C{ccm-manager
        redundant-host}, or back to the primary).  Called only when
        C{ccm-manager: redundant-hosts} names backups.
        """

    def forgetCallAgent(address: tuple[str, int]) -> None:
        """
        The call agent at C{address} is lost and a backup takes over: end
        what the gateway still has outstanding to it (no retransmission
        behind the backup's RSIP restart, no disconnected procedure from
        its time-outs).
        """

    def probeCallAgent(address: tuple[str, int]) -> Deferred:
        """
        Send an empty NTFY keepalive to C{address}, a call agent that is
        not the active one (the primary while a backup is active), without
        making its silence an outage of the active one.

        @return: a L{Deferred} as for L{sendKeepalive}.
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


class Answers(Protocol):
    """The machine's inputs that the answers to keepalives and RSIPs feed."""

    def trafficReceived(self) -> None:
        "A keepalive was answered: the call agent is heard."

    def _probeFailed(self) -> None:
        "A keepalive got no (good) answer."

    def _hostAnswered(self, host: int) -> None:
        "A keepalive to call agent C{host}, no longer the active one, was answered."

    def _restartAnswered(self) -> None:
        "An RSIP restart was answered (or there was none to send)."

    def _restartFailed(self) -> None:
        "An RSIP restart got no (good) answer."

    def _primaryAnswered(self) -> None:
        "The primary call agent answered a probe while a backup is active."

    def _primaryFailed(self) -> None:
        "The primary call agent did not answer a probe while a backup is active."


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


@define
class FallbackCore:
    """
    The fallback machine's core: collaborators, settings and what
    C{show ccm-manager} shows.

    @ivar clock: the reactor's time (timers, silence).
    @ivar now: returns the aware wall-clock L{datetime} (C{schedule-time},
        show output).
    @ivar config: the C{ccm-manager:} settings.
    @ivar callAgent: the primary call agent's address as shown
        (C{"127.0.0.1"}).
    @ivar target: the L{IFallbackTarget}.
    @ivar debugLog: the C{debug mgcp} logger.
    @ivar lastKeepaliveSent: when the last keepalive was sent, or L{None}.
    @ivar lastTraffic: when the call agent was last heard from, or L{None}.
    @ivar lastFailover: when the call agent was last declared lost.
    @ivar fallbackStart: when the ports last went to local control.
    @ivar fallbackEnd: when they last came back (switchback).
    @ivar lastSwitchback: when the last switchback happened.
    @ivar pendingPorts: ports still under local control after a graceful
        switchback, returned as each becomes idle.
    @ivar heardAt: the clock time the call agent was last heard from.
    @ivar keepalivesOutstanding: keepalives sent and not yet answered or
        failed.
    @ivar callAgentPort: the primary call agent's UDP port.
    @ivar active: the index in L{hosts} of the active call agent (0: the
        primary; 1, 2: the C{redundant-hosts}).
    @ivar down: the indexes of the call agents found lost since one last
        accepted a restart.
    @ivar primaryDueAt: while a backup is active and the primary answers
        its probes, the clock time the C{switchback} policy lets the
        gateway return to it (L{None}: not answering, or C{never}).
    """

    clock: IReactorTime
    now: Callable[[], datetime]
    config: CcmManagerConfig
    callAgent: str
    target: IFallbackTarget
    debugLog: Logger
    lastKeepaliveSent: datetime | None = None
    lastTraffic: datetime | None = None
    lastFailover: datetime | None = None
    fallbackStart: datetime | None = None
    fallbackEnd: datetime | None = None
    lastSwitchback: datetime | None = None
    pendingPorts: set[str] = field(factory=set)
    heardAt: float | None = None
    keepalivesOutstanding: int = 0
    log: Logger = field(factory=lambda: Logger(namespace="srst.mgcp.fallback"), repr=False)
    callAgentPort: int = DEFAULT_MGCP_PORT
    active: int = 0
    down: set[int] = field(factory=set)
    primaryDueAt: float | None = None

    # -- the call agents: the primary and the redundant hosts ----------------------------------

    @property
    def hosts(self) -> list[tuple[str, int]]:
        """The call agents in order: the primary, then the C{redundant-hosts}."""
        return [(self.callAgent, self.callAgentPort)] + [host.address for host in self.config.redundantHosts]

    @property
    def activeHost(self) -> str:
        """The active call agent's address as shown."""
        return self.hosts[self.active][0]

    def onBackup(self) -> bool:
        """@return: whether a C{redundant-host} is the active call agent."""
        return self.active > 0

    def hasNextHost(self) -> bool:
        """@return: whether a backup follows the active call agent in the list."""
        return self.active + 1 < len(self.hosts)

    def _use(self, index: int) -> None:
        if index != self.active:
            self.active = index
            self.target.useCallAgent(self.hosts[index])

    def failover(self, answers: Answers) -> None:
        """
        The active call agent is lost and a backup follows it: make the
        backup active and register with it (RSIP restart for the idle
        ports; mgcp.md 9.2).
        """
        lost = self.activeHost
        self.lastFailover = self.now()
        self.down.add(self.active)
        self.target.forgetCallAgent(self.hosts[self.active])
        self._use(self.active + 1)
        self.primaryDueAt = None
        self.log.warn("MGCP call agent {agent} lost; switching over to backup call agent {backup}",
                      agent=lost, backup=self.activeHost)
        self.sendRestart(answers, self.restartablePorts())

    def nextProbeHost(self) -> None:
        """
        While every call agent counts as lost, probe them in turn, the
        primary first: the one that answers is the one the ports go back
        to.
        """
        if len(self.hosts) > 1:
            self._use((self.active + 1) % len(self.hosts))

    def useAnswering(self, host: int) -> None:
        """
        While every call agent counts as lost, a probe to call agent
        C{host} (an index in L{hosts}) was answered after the probes moved
        on to the next one: C{host} is the one heard alive, so it becomes
        the active call agent again (the ports go back to it, not to the
        one probed last, which may be dead).
        """
        self.debugLog.debug("MGCP keepalive answered by {agent}, probed before {probed}: it is the active call "
                            "agent again", agent=self.hosts[host][0], probed=self.activeHost)
        self._use(host)

    def staleAnswer(self, host: int) -> None:
        """
        A keepalive to call agent C{host} was answered after another one
        became active (failover, switchback): it says nothing of the active
        one, and which call agent is active is for the failover and
        switchback rules to decide.
        """
        self.debugLog.debug("MGCP keepalive answered by {agent}, no longer the active call agent: ignored",
                            agent=self.hosts[host][0])

    def registeredWithActive(self) -> None:
        """The active call agent accepted the restart: it is up."""
        self.down.discard(self.active)

    def probePrimary(self, answers: Answers) -> None:
        """
        A backup is active: check whether the primary answers (a keepalive
        to it); the answer goes to C{answers._primaryAnswered}, a failure
        to C{answers._primaryFailed}.
        """
        self.debugLog.debug("MGCP keepalive to primary call agent {agent}", agent=self.callAgent)
        self.target.probeCallAgent(self.hosts[0]).addCallbacks(
            lambda result: answers._primaryAnswered(), lambda reason: answers._primaryFailed())

    def primaryAnswered(self) -> None:
        """
        The primary answered a probe: up (no longer C{down}); the first
        answer of a run starts the C{switchback} clock (C{uptime-delay}:
        that many minutes of answers; C{schedule-time}: the next such
        wall-clock time; C{immediate} and C{graceful}: now; C{never}: no
        return).
        """
        self.down.discard(0)
        if self.primaryDueAt is not None:
            return
        switchback = self.config.switchback
        now = self.clock.seconds()
        if switchback.mode is SwitchbackMode.NEVER:
            return
        if switchback.mode is SwitchbackMode.UPTIME_DELAY and switchback.minutes is not None:
            self.primaryDueAt = now + switchback.minutes * 60.0
        elif switchback.mode is SwitchbackMode.SCHEDULE_TIME and switchback.time is not None:
            self.primaryDueAt = now + secondsUntil(self.now(), switchback.time)
        else:
            self.primaryDueAt = now
        self.log.info("MGCP primary call agent {agent} answers again (switchback {switchback})",
                      agent=self.callAgent, switchback=str(switchback))

    def primaryFailed(self) -> None:
        """The primary did not answer a probe: down; its uptime starts again."""
        self.down.add(0)
        self.primaryDueAt = None

    def returnToPrimaryDue(self) -> bool:
        """
        @return: whether the gateway goes back to the primary now: a backup
            is active, the primary answers, its C{switchback} time came,
            and with C{graceful} no port has a call.
        """
        if not self.onBackup() or self.primaryDueAt is None or self.clock.seconds() < self.primaryDueAt:
            return False
        if self.config.switchback.mode is SwitchbackMode.GRACEFUL:
            return all(self.target.isPortIdle(name) for name in self.target.portNames())
        return True

    def switchToPrimary(self, answers: Answers) -> None:
        """Make the primary active again and register with it (RSIP restart)."""
        backup = self.activeHost
        self._use(0)
        self.primaryDueAt = None
        self.lastSwitchback = self.now()
        self.log.info("MGCP switchback from backup call agent {backup} to primary call agent {agent}",
                      backup=backup, agent=self.callAgent)
        self.sendRestart(answers, self.restartablePorts())

    # -- timers and logging ---------------------------------------------------------------

    def startTimer(self, seconds: float, expire: Callable[[], None]) -> IDelayedCall:
        """@return: a timer calling C{expire} after C{seconds}."""
        return self.clock.callLater(seconds, expire)

    def changed(self, old: str, new: str, why: str) -> None:
        """Log a transition."""
        self.log.info("MGCP fallback monitor: {old} -> {new} ({why})", old=old, new=new, why=why)

    # -- the call agent heard or lost ------------------------------------------------------

    def heard(self) -> None:
        """The call agent was heard from: record when."""
        self.lastTraffic = self.now()
        self.heardAt = self.clock.seconds()

    def silentFor(self) -> float:
        """@return: seconds since the call agent was last heard from."""
        if self.heardAt is None:
            return float("inf")
        return self.clock.seconds() - self.heardAt

    def lostOnTimeout(self) -> bool:
        """
        A transaction timed out: does that make the call agent lost?  It
        does when it has been silent for a keepalive interval as well;
        otherwise a keepalive is to check.

        @return: whether it is lost.
        """
        if self.silentFor() >= self.config.keepaliveInterval:
            self.debugLog.debug("MGCP transaction timed out; call agent silent for {seconds:.0f} s: lost",
                                seconds=min(self.silentFor(), 1e9))
            return True
        return False

    def commandWhileLost(self) -> None:
        """
        A command arrived from the call agent's address while it counts as
        lost: the gateway answers it (501 for a port under local call
        control), but a datagram is no proof that the call agent runs
        (anyone can send one from its address); only its answer to the
        next keepalive is.
        """
        self.debugLog.debug("MGCP command from {agent} while it counts as lost: not taken as proof "
                            "that it is back; the next keepalive decides", agent=self.activeHost)

    def callAgentLost(self) -> None:
        """Record and log the call agent's loss."""
        self.lastFailover = self.now()
        self.down.add(self.active)
        self.log.warn("MGCP call agent {agent} lost", agent=self.activeHost)

    def enterFallback(self) -> None:
        """The call agent is lost: hand every port to local call control."""
        self.callAgentLost()
        self.down.update(range(len(self.hosts)))
        self.fallbackStart = self.now()
        self.pendingPorts.clear()
        self.log.warn("MGCP fallback: voice ports under local call control")
        self.target.enterFallback()

    # -- keepalives and RSIPs ---------------------------------------------------------------

    def sendKeepalive(self, answers: Answers) -> None:
        """
        Send a keepalive to the active call agent; its answer is fed to
        C{answers.trafficReceived} (to C{answers._hostAnswered} when
        another call agent became active meanwhile: the answer is that
        one's), its failure to C{answers._probeFailed}.
        """
        host = self.active
        self.lastKeepaliveSent = self.now()
        self.debugLog.debug("MGCP keepalive to {agent}", agent=self.activeHost)

        def failed(reason: Failure) -> None:
            self.debugLog.debug("MGCP keepalive failed: {reason}", reason=reason.getErrorMessage())
            answers._probeFailed()

        def done(result: object) -> object:
            self.keepalivesOutstanding -= 1
            return result

        def answered(result: object) -> None:
            if host == self.active:
                answers.trafficReceived()
            else:
                answers._hostAnswered(host)

        self.keepalivesOutstanding += 1
        self.target.sendKeepalive().addBoth(done).addCallbacks(answered, failed)

    def checkWithKeepalive(self, answers: Answers) -> None:
        """
        A transaction timed out while the call agent was heard recently:
        check it is there with a keepalive, unless one is already on its
        way (several commands timing out together need one check, not one
        each: its answer or failure speaks for all of them).
        """
        if self.keepalivesOutstanding:
            self.debugLog.debug("MGCP transaction timed out; a keepalive is already outstanding")
            return
        self.sendKeepalive(answers)

    def sendRestart(self, answers: Answers, ports: Sequence[str]) -> None:
        """
        Send RSIP restart for C{ports}; its answer is fed to
        C{answers._restartAnswered}, its failure to
        C{answers._restartFailed}.  With no port to name (every port has a
        call) the gateway is registered as it is: C{_restartAnswered} at
        once (from a transition, Automat runs it when the transition ends).
        """
        if not ports:
            answers._restartAnswered()
            return
        self.debugLog.debug("MGCP RSIP restart for {ports}", ports=list(ports))

        def failed(reason: Failure) -> None:
            self.debugLog.debug("MGCP RSIP restart failed: {reason}", reason=reason.getErrorMessage())
            answers._restartFailed()

        self.target.sendRestart(RESTART, list(ports)).addCallbacks(
            lambda result: answers._restartAnswered(), failed)

    def allPorts(self) -> list[str]:
        """@return: every MGCP port, for the boot RSIP."""
        return list(self.target.portNames())

    def restartablePorts(self) -> list[str]:
        """
        The MGCP ports an RSIP restart may name: not waiting for switchback
        and idle (restart says the endpoint has no connection, mgcp.md 5.2;
        a port whose MGCP call outlived a disconnection keeps it, and the
        call agent knows it from the disconnected procedure's RSIP).
        """
        return [name for name in self.target.portNames()
                if name not in self.pendingPorts and self.target.isPortIdle(name)]

    # -- switchback ----------------------------------------------------------------------------

    def anyPortIdle(self) -> bool:
        """@return: whether some port is idle (to go back first)."""
        return any(self.target.isPortIdle(name) for name in self.target.portNames())

    def switchbackAtOnce(self) -> bool:
        """
        The call agent is heard again in fallback: may the ports go back at
        once?  Only with C{switchback: immediate} and a port idle to go
        first.
        """
        return self.config.switchback.mode is SwitchbackMode.IMMEDIATE and self.anyPortIdle()

    def switchbackAwaited(self) -> bool:
        """@return: whether switchback ever happens (not C{never})."""
        return self.config.switchback.mode is not SwitchbackMode.NEVER

    def switchbackDelay(self) -> float | None:
        """
        @return: seconds until C{uptime-delay} or C{schedule-time} makes
            switchback due, or L{None} for the modes due as soon as the
            call agent answers.
        """
        switchback = self.config.switchback
        if switchback.mode is SwitchbackMode.UPTIME_DELAY and switchback.minutes is not None:
            return switchback.minutes * 60.0
        if switchback.mode is SwitchbackMode.SCHEDULE_TIME and switchback.time is not None:
            return secondsUntil(self.now(), switchback.time)
        return None

    def switchbackReady(self, timeReached: bool) -> bool:
        """
        Switch back once it is due (graceful and immediate: as soon as the
        call agent answers; schedule-time and uptime-delay: once their time
        came, C{timeReached}) and some port is idle to go first: with every
        port in a call there is nothing to return yet, and leaving fallback
        with no port registered would only time out back into it.
        """
        due = timeReached or self.config.switchback.mode in (
            SwitchbackMode.GRACEFUL, SwitchbackMode.IMMEDIATE)
        return due and self.anyPortIdle()

    def switchback(self, answers: Answers) -> None:
        """
        Return the idle ports now and RSIP them; a port with a call (a local
        one, or an MGCP call kept through fallback) stays until the call
        ends and then re-registers with its own RSIP (mgcp.md 9.4): an RSIP
        restart says the port has no connection.
        """
        names = list(self.target.portNames())
        returned = [name for name in names if self.target.isPortIdle(name)]
        self.pendingPorts = set(names) - set(returned)
        self.lastSwitchback = self.fallbackEnd = self.now()
        self.log.info("MGCP switchback: ports {ports} back to the call agent; {pending} still local",
                      ports=returned, pending=sorted(self.pendingPorts))
        for name in returned:
            self.target.returnPort(name)
        if returned:
            self.sendRestart(answers, returned)

    def returnPending(self, answers: Answers, name: str) -> None:
        """Return port C{name} if it waits for switchback and is idle now."""
        if name in self.pendingPorts and self.target.isPortIdle(name):
            self.pendingPorts.discard(name)
            self.target.returnPort(name)
            self.sendRestart(answers, [name])

    def returnIdlePending(self, answers: Answers) -> None:
        """Return every port waiting for switchback that is idle now."""
        for name in sorted(self.pendingPorts):
            self.returnPending(answers, name)


__all__ = ["Answers", "FallbackCore", "IFallbackTarget", "RESTART", "secondsUntil"]
