# -*- test-case-name: tests.test_mgcp_fallback -*-
"""
The states and transitions of the MGCP fallback monitor (the diagram is in
L{srst.mgcp.fallback}), built with Automat's C{TypeMachineBuilder} over a
L{FallbackCore}.  The timers are the data of the states they belong to:
each state's factory arms them on entry (C{registering}: the failover timer
and, after a failed RSIP, the retry timer; C{registered}: keepalive and
failover; C{disconnected} and C{fallback}: the probe; C{switchback-pending}:
keepalive, failover and the C{uptime-delay}/C{schedule-time} timer), and
every transition out of a state cancels them.  An input raised from inside
a transition (the call agent lost after a timeout, switchback due, an RSIP
with no port to name) is queued by Automat and runs when the transition
ends.

L{srst.mgcp.fallback} re-exports every public name here; import them from
there.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import Any, Callable, Protocol

from attrs import define
from automat import TypeMachineBuilder
from twisted.internet.interfaces import IDelayedCall

from srst.mgcp._fallbackcore import FallbackCore


class FallbackStatus(enum.Enum):
    """
    The state of a L{srst.mgcp.fallback.FallbackMonitor}.
    """

    STOPPED = "stopped"
    REGISTERING = "registering"
    REGISTERED = "registered"
    DISCONNECTED = "disconnected"
    FALLBACK = "fallback"
    SWITCHBACK_PENDING = "switchback-pending"


FALLBACK_ON = frozenset({FallbackStatus.FALLBACK, FallbackStatus.SWITCHBACK_PENDING})
"""The states in which the ports are under local call control."""


class FallbackInputs(Protocol):
    """The inputs of the fallback machine."""

    def start(self) -> None:
        "Register with the call agent (boot RSIP restart)."

    def stop(self) -> None:
        "Stop all timers; nothing more is sent."

    def trafficReceived(self) -> None:
        "The call agent answered one of the gateway's commands (a keepalive, an RSIP, ...)."

    def commandReceived(self) -> None:
        "A command arrived from the call agent's address (no proof that it is alive)."

    def transactionTimedOut(self) -> None:
        "A command the gateway sent got no answer."

    def endpointTimedOut(self) -> None:
        "A command the gateway sent for one endpoint got no answer (no proof the call agent is gone)."

    def portIdle(self, name: str) -> None:
        "Voice port C{name} became idle."

    def _keepaliveDue(self) -> None:
        "The keepalive (or probe, or RSIP retry) timer fired."

    def _lost(self) -> None:
        "The call agent is lost and fallback is selected."

    def _disconnected(self) -> None:
        "The call agent is lost and fallback is not selected."

    def _restartAnswered(self) -> None:
        "The call agent answered our RSIP restart."

    def _restartFailed(self) -> None:
        "Our RSIP restart got no (good) answer."

    def _probeFailed(self) -> None:
        "Our keepalive got no (good) answer."

    def _hostAnswered(self, host: int) -> None:
        "A keepalive to call agent C{host} (an index in the hosts), no longer the active one, was answered."

    def _switchbackNow(self) -> None:
        "The switchback condition is met."

    def _awaitSwitchback(self) -> None:
        "The call agent is back; switchback waits for its condition."

    def _switchbackTime(self) -> None:
        "The C{uptime-delay} or C{schedule-time} timer fired."

    def _failover(self) -> None:
        "The active call agent is lost and a backup follows it in the list."

    def _probePrimary(self) -> None:
        "The timer to probe the primary while a backup is active fired."

    def _primaryAnswered(self) -> None:
        "The primary answered a probe while a backup is active."

    def _primaryFailed(self) -> None:
        "The primary did not answer a probe while a backup is active."

    def _switchToPrimary(self) -> None:
        "The switchback policy lets the gateway return from a backup to the primary."

    def status(self) -> FallbackStatus:
        "The current state."


def _cancel(timer: IDelayedCall | None) -> None:
    if timer is not None and timer.active():
        timer.cancel()


def _reset(timer: IDelayedCall | None, seconds: float) -> None:
    if timer is not None and timer.active():
        timer.reset(seconds)


class _Timers(ABC):
    """The data of a state: its timers."""

    @abstractmethod
    def cancel(self) -> None:
        "Cancel them (every transition out of the state does)."


@define
class _Registering(_Timers):
    """The timers of C{registering}: failover, and the RSIP retry after a failure."""

    failover: IDelayedCall
    retry: IDelayedCall | None = None

    def cancel(self) -> None:
        _cancel(self.failover)
        _cancel(self.retry)


@define
class _Watching(_Timers):
    """The timers of C{registered}: keepalive and failover."""

    keepalive: IDelayedCall
    failover: IDelayedCall

    def cancel(self) -> None:
        _cancel(self.keepalive)
        _cancel(self.failover)


@define
class _Registered(_Watching):
    """
    The timers of C{registered}: keepalive, failover and, while a backup is
    active, the probe of the primary.
    """

    primaryProbe: IDelayedCall | None = None

    def cancel(self) -> None:
        super().cancel()
        _cancel(self.primaryProbe)


@define
class _Probing(_Timers):
    """The timer of C{disconnected} and C{fallback}: the next probe."""

    probe: IDelayedCall

    def cancel(self) -> None:
        _cancel(self.probe)


@define
class _AwaitingSwitchback(_Watching):
    """
    The timers of C{switchback-pending}: keepalive, failover and the
    C{uptime-delay}/C{schedule-time} timer (L{None} for the other modes),
    and whether that time came.
    """

    switchback: IDelayedCall | None
    timeReached: bool = False

    def cancel(self) -> None:
        super().cancel()
        _cancel(self.switchback)


def _lose(inputs: FallbackInputs, core: FallbackCore) -> Callable[[], None]:
    """
    @return: the input for a lost call agent: the next backup when one
        follows it, else fallback when selected.
    """
    if core.hasNextHost():
        return inputs._failover
    return inputs._lost if core.config.fallbackMgcp else inputs._disconnected


def _makeFallbackMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(FallbackInputs, FallbackCore)
    I = FallbackInputs

    def keepaliveTimer(inputs: FallbackInputs, core: FallbackCore) -> IDelayedCall:
        return core.startTimer(core.config.keepaliveInterval, inputs._keepaliveDue)

    def failoverTimer(inputs: FallbackInputs, core: FallbackCore) -> IDelayedCall:
        return core.startTimer(core.config.failoverInterval, lambda: _lose(inputs, core)())

    def startRegistering(inputs: FallbackInputs, core: FallbackCore, *args: object) -> _Registering:
        return _Registering(failoverTimer(inputs, core))

    def startWatching(inputs: FallbackInputs, core: FallbackCore, *args: object) -> _Watching:
        return _Watching(keepaliveTimer(inputs, core), failoverTimer(inputs, core))

    def startRegistered(inputs: FallbackInputs, core: FallbackCore, *args: object) -> _Registered:
        probe = core.startTimer(core.config.keepaliveInterval, inputs._probePrimary) if core.onBackup() else None
        return _Registered(keepaliveTimer(inputs, core), failoverTimer(inputs, core), probe)

    def startProbing(inputs: FallbackInputs, core: FallbackCore, *args: object) -> _Probing:
        return _Probing(keepaliveTimer(inputs, core))

    def startAwaiting(inputs: FallbackInputs, core: FallbackCore, *args: object) -> _AwaitingSwitchback:
        keepalive, failover = keepaliveTimer(inputs, core), failoverTimer(inputs, core)
        delay = core.switchbackDelay()
        timer = core.startTimer(delay, inputs._switchbackTime) if delay is not None else None
        return _AwaitingSwitchback(keepalive, failover, timer)

    stopped = builder.state("stopped")
    registering = builder.state("registering", startRegistering)
    registered = builder.state("registered", startRegistered)
    disconnected = builder.state("disconnected", startProbing)
    fallback = builder.state("fallback", startProbing)
    pending = builder.state("switchbackPending", startAwaiting)
    dataStates = (registering, registered, disconnected, fallback, pending)

    backupInputs = (I._failover, I._probePrimary, I._primaryAnswered, I._primaryFailed, I._switchToPrimary)

    stopped.upon(I.status).loop().returns(FallbackStatus.STOPPED)
    for state, value in zip(dataStates, list(FallbackStatus)[1:]):
        state.upon(I.status, nodata=True).loop().returns(value)

    def ignore(state: Any, *inputs: Callable[..., None]) -> None:
        for method in inputs:
            upon = state.upon(method) if state is stopped else state.upon(method, nodata=True)

            @upon.loop()
            def _ignored(i: FallbackInputs, core: FallbackCore, *args: Any) -> None:
                "Nothing to do in this state."

    # stopped

    @stopped.upon(I.start).to(registering)
    def _start(i: FallbackInputs, core: FallbackCore) -> None:
        core.changed("stopped", "registering", "start")
        core.sendRestart(i, core.allPorts())

    ignore(stopped, I.stop, I.trafficReceived, I.commandReceived, I.transactionTimedOut, I.endpointTimedOut,
           I.portIdle, I._keepaliveDue,
           I._lost, I._disconnected, I._restartAnswered, I._restartFailed, I._probeFailed,
           I._switchbackNow, I._awaitSwitchback, I._switchbackTime, I._hostAnswered, *backupInputs)

    for state in (registering, registered, pending):
        @state.upon(I._hostAnswered, nodata=True).loop()
        def _staleAnswer(i: FallbackInputs, core: FallbackCore, host: int) -> None:
            core.staleAnswer(host)

    for state, status in zip(dataStates, list(FallbackStatus)[1:]):
        def stopFrom(name: str) -> Callable[..., None]:
            def _stop(i: FallbackInputs, core: FallbackCore, timers: _Timers) -> None:
                timers.cancel()
                core.changed(name, "stopped", "stop")
            return _stop
        state.upon(I.stop).to(stopped)(stopFrom(status.value))
        ignore(state, I.start)

    # registering: boot, after the call agent came back, after switchback

    @registering.upon(I._restartAnswered).to(registered)
    def _registered(i: FallbackInputs, core: FallbackCore, timers: _Registering) -> None:
        core.heard()
        core.registeredWithActive()
        timers.cancel()
        core.changed("registering", "registered", "RSIP restart answered")

    @registering.upon(I._restartFailed).loop()
    def _restartFailed(i: FallbackInputs, core: FallbackCore, timers: _Registering) -> None:
        _cancel(timers.retry)
        timers.retry = keepaliveTimer(i, core)

    @registering.upon(I._keepaliveDue).loop()
    def _retryRestart(i: FallbackInputs, core: FallbackCore, timers: _Registering) -> None:
        core.returnIdlePending(i)
        core.sendRestart(i, core.restartablePorts())

    @registering.upon(I.trafficReceived).loop()
    @registering.upon(I.commandReceived).loop()
    def _heardRegistering(i: FallbackInputs, core: FallbackCore, timers: _Registering) -> None:
        core.heard()
        _reset(timers.retry, core.config.keepaliveInterval)
        _reset(timers.failover, core.config.failoverInterval)

    for state in (registering, registered):
        @state.upon(I.portIdle, nodata=True).loop()
        def _portIdle(i: FallbackInputs, core: FallbackCore, name: str) -> None:
            core.returnPending(i, name)
            if core.returnToPrimaryDue():
                i._switchToPrimary()

    ignore(registering, I.transactionTimedOut, I.endpointTimedOut, I._probeFailed, I._switchbackNow, I._awaitSwitchback,
           I._switchbackTime, I._probePrimary, I._primaryAnswered, I._primaryFailed, I._switchToPrimary)

    # registered

    @registered.upon(I._keepaliveDue).loop()
    def _keepalive(i: FallbackInputs, core: FallbackCore, timers: _Watching) -> None:
        core.returnIdlePending(i)
        core.sendKeepalive(i)
        timers.keepalive = keepaliveTimer(i, core)

    for state in (registered, pending):
        @state.upon(I.trafficReceived).loop()
        @state.upon(I.commandReceived).loop()
        def _heard(i: FallbackInputs, core: FallbackCore, timers: _Watching) -> None:
            core.heard()
            _reset(timers.keepalive, core.config.keepaliveInterval)
            _reset(timers.failover, core.config.failoverInterval)

        for method in (I.transactionTimedOut, I._restartFailed, I._probeFailed):
            @state.upon(method, nodata=True).loop()
            def _timedOut(i: FallbackInputs, core: FallbackCore) -> None:
                if core.lostOnTimeout():
                    _lose(i, core)()
                else:
                    core.checkWithKeepalive(i)

        @state.upon(I.endpointTimedOut, nodata=True).loop()
        def _endpointTimedOut(i: FallbackInputs, core: FallbackCore) -> None:
            # The call agent may simply not serve that endpoint (RFC 3435
            # 4.3: the endpoint alone is disconnected); whether the call
            # agent itself is gone is for a keepalive to tell.
            core.checkWithKeepalive(i)

    ignore(registered, I._restartAnswered, I._switchbackNow, I._awaitSwitchback, I._switchbackTime)

    # a backup is active: probe the primary, go back to it per the switchback policy

    @registered.upon(I._probePrimary).loop()
    def _probePrimary(i: FallbackInputs, core: FallbackCore, timers: _Registered) -> None:
        core.probePrimary(i)
        timers.primaryProbe = core.startTimer(core.config.keepaliveInterval, i._probePrimary)

    @registered.upon(I._primaryAnswered, nodata=True).loop()
    def _primaryAnswered(i: FallbackInputs, core: FallbackCore) -> None:
        core.primaryAnswered()
        if core.returnToPrimaryDue():
            i._switchToPrimary()

    @registered.upon(I._primaryFailed, nodata=True).loop()
    def _primaryFailed(i: FallbackInputs, core: FallbackCore) -> None:
        core.primaryFailed()

    @registered.upon(I._switchToPrimary).to(registering)
    def _switchToPrimary(i: FallbackInputs, core: FallbackCore, timers: _Registered) -> None:
        timers.cancel()
        core.switchToPrimary(i)
        core.changed("registered", "registering", "switchback to the primary call agent")

    # the active call agent is lost and a backup follows it

    @registered.upon(I._failover).to(registering)
    def _failover(i: FallbackInputs, core: FallbackCore, timers: _Registered) -> None:
        timers.cancel()
        core.failover(i)
        core.changed("registered", "registering", f"call agent lost; switchover to backup {core.activeHost}")

    @registering.upon(I._failover).loop()
    def _failoverAgain(i: FallbackInputs, core: FallbackCore, timers: _Registering) -> None:
        # A loop keeps the state's data: the timers are armed again here.
        timers.cancel()
        timers.retry = None
        timers.failover = failoverTimer(i, core)
        core.failover(i)
        core.changed("registering", "registering", f"call agent lost; switchover to backup {core.activeHost}")

    # the call agent is lost

    def lostFrom(name: str) -> tuple[Callable[..., None], Callable[..., None]]:
        def _fallback(i: FallbackInputs, core: FallbackCore, timers: _Timers) -> None:
            timers.cancel()
            core.enterFallback()
            core.changed(name, "fallback", "call agent lost")

        def _disconnect(i: FallbackInputs, core: FallbackCore, timers: _Timers) -> None:
            timers.cancel()
            core.callAgentLost()
            core.changed(name, "disconnected", "call agent lost; fallback-mgcp not selected")
        return _fallback, _disconnect

    for state, status in ((registering, FallbackStatus.REGISTERING), (registered, FallbackStatus.REGISTERED)):
        toFallback, toDisconnected = lostFrom(status.value)
        state.upon(I._lost).to(fallback)(toFallback)
        state.upon(I._disconnected).to(disconnected)(toDisconnected)

    @pending.upon(I._failover).to(fallback)
    @pending.upon(I._lost).to(fallback)
    def _lostAgain(i: FallbackInputs, core: FallbackCore, timers: _AwaitingSwitchback) -> None:
        timers.cancel()
        core.callAgentLost()
        core.changed("switchback-pending", "fallback", "call agent lost again")

    ignore(pending, I._disconnected, I._probePrimary, I._primaryAnswered, I._primaryFailed, I._switchToPrimary)

    # disconnected and fallback: probe

    for state in (disconnected, fallback):
        @state.upon(I._keepaliveDue).loop()
        def _probe(i: FallbackInputs, core: FallbackCore, timers: _Probing) -> None:
            core.nextProbeHost()
            core.sendKeepalive(i)
            timers.probe = keepaliveTimer(i, core)

        ignore(state, I.transactionTimedOut, I.endpointTimedOut, I.portIdle, I._lost, I._disconnected, I._restartFailed,
               I._probeFailed, I._switchbackTime, *backupInputs)

        @state.upon(I.commandReceived, nodata=True).loop()
        def _notProof(i: FallbackInputs, core: FallbackCore) -> None:
            core.commandWhileLost()

        @state.upon(I._hostAnswered, nodata=True).loop()
        def _answeredLate(i: FallbackInputs, core: FallbackCore, host: int) -> None:
            # The probes moved on to the next call agent before this one
            # answered: the one that answered is alive, so it is the one
            # the gateway goes back to.
            core.useAnswering(host)
            i.trafficReceived()

    for method in (I.trafficReceived, I._restartAnswered):
        @disconnected.upon(method).to(registering)
        def _reconnect(i: FallbackInputs, core: FallbackCore, timers: _Probing) -> None:
            core.heard()
            timers.cancel()
            core.sendRestart(i, core.restartablePorts())
            core.changed("disconnected", "registering", "call agent heard")

        @fallback.upon(method).loop()
        def _reachable(i: FallbackInputs, core: FallbackCore, timers: _Probing) -> None:
            core.heard()
            _reset(timers.probe, core.config.keepaliveInterval)
            if core.switchbackAtOnce():
                i._switchbackNow()
            elif core.switchbackAwaited():
                i._awaitSwitchback()

    ignore(disconnected, I._switchbackNow, I._awaitSwitchback)

    @fallback.upon(I._awaitSwitchback).to(pending)
    def _awaitSwitchback(i: FallbackInputs, core: FallbackCore, timers: _Probing) -> None:
        timers.cancel()
        core.changed("fallback", "switchback-pending", f"call agent heard; switchback {core.config.switchback}")
        if core.switchbackDelay() is None and core.switchbackReady(False):
            i._switchbackNow()

    def switchbackFrom(name: str) -> Callable[..., None]:
        def _switchback(i: FallbackInputs, core: FallbackCore, timers: _Timers) -> None:
            timers.cancel()
            core.switchback(i)
            core.changed(name, "registering", "switchback")
        return _switchback

    for state, status in ((fallback, FallbackStatus.FALLBACK), (pending, FallbackStatus.SWITCHBACK_PENDING)):
        state.upon(I._switchbackNow).to(registering)(switchbackFrom(status.value))

    # switchback pending

    @pending.upon(I._keepaliveDue).loop()
    def _pendingKeepalive(i: FallbackInputs, core: FallbackCore, timers: _AwaitingSwitchback) -> None:
        core.sendKeepalive(i)
        timers.keepalive = keepaliveTimer(i, core)
        if core.switchbackReady(timers.timeReached):
            i._switchbackNow()

    @pending.upon(I.portIdle).loop()
    def _pendingPortIdle(i: FallbackInputs, core: FallbackCore, timers: _AwaitingSwitchback,
                         name: str) -> None:
        if core.switchbackReady(timers.timeReached):
            i._switchbackNow()

    @pending.upon(I._switchbackTime).loop()
    def _switchbackTime(i: FallbackInputs, core: FallbackCore, timers: _AwaitingSwitchback) -> None:
        timers.switchback = None
        timers.timeReached = True
        if core.switchbackReady(True):
            i._switchbackNow()

    ignore(pending, I._restartAnswered, I._awaitSwitchback)

    return builder.build()


FallbackMachine = _makeFallbackMachine()
"""The fallback machine (C{FallbackMachine(core)} gives its L{FallbackInputs})."""


__all__ = ["FALLBACK_ON", "FallbackInputs", "FallbackMachine", "FallbackStatus"]
