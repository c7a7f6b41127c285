# -*- test-case-name: tests.test_mgcp_fallback -*-
"""
The states and transitions of the MGCP fallback monitor (the diagram is in
L{srst.mgcp.fallback}), built with Automat's C{TypeMachineBuilder} over a
L{srst.mgcp.fallback.FallbackMonitor}.  The monitor owns the timers; every
transition out of a state cancels them.

L{srst.mgcp.fallback} re-exports every public name here; import them from
there.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Callable, Protocol

from automat import TypeMachineBuilder

if TYPE_CHECKING:
    from srst.mgcp.fallback import FallbackMonitor


class FallbackStatus(enum.Enum):
    """
    The state of a L{FallbackMonitor}.
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
        "A valid message arrived from the call agent."

    def transactionTimedOut(self) -> None:
        "A command the gateway sent got no answer."

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

    def _switchbackNow(self) -> None:
        "The switchback condition is met."

    def _awaitSwitchback(self) -> None:
        "The call agent is back; switchback waits for its condition."

    def status(self) -> FallbackStatus:
        "The current state."


def _makeFallbackMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(FallbackInputs, "FallbackMonitor")
    stopped = builder.state("stopped")
    registering = builder.state("registering")
    registered = builder.state("registered")
    disconnected = builder.state("disconnected")
    fallback = builder.state("fallback")
    pending = builder.state("switchbackPending")
    allStates = (stopped, registering, registered, disconnected, fallback, pending)

    for state, value in zip(allStates, FallbackStatus):
        state.upon(FallbackInputs.status).loop().returns(value)

    def ignore(state: Any, *inputs: Callable[..., None]) -> None:
        for method in inputs:
            @state.upon(method).loop()
            def _ignored(i: FallbackInputs, core: FallbackMonitor, *args: Any) -> None:
                pass

    I = FallbackInputs

    # stopped

    @stopped.upon(I.start).to(registering)
    def _start(i: FallbackInputs, core: FallbackMonitor) -> None:
        core._changed("stopped", "registering", "start")
        core._armFailover()
        core._sendRestart(core.target.portNames())

    ignore(stopped, I.stop, I.trafficReceived, I.transactionTimedOut, I.portIdle, I._keepaliveDue,
           I._lost, I._disconnected, I._restartAnswered, I._restartFailed, I._probeFailed,
           I._switchbackNow, I._awaitSwitchback)

    for state, status in zip(allStates[1:], list(FallbackStatus)[1:]):
        def stopFrom(name: str) -> Callable[..., None]:
            def _stop(i: FallbackInputs, core: FallbackMonitor) -> None:
                core._cancelTimers()
                core._changed(name, "stopped", "stop")
            return _stop
        state.upon(I.stop).to(stopped)(stopFrom(status.value))
        ignore(state, I.start)

    # registering: boot, after the call agent came back, after switchback

    @registering.upon(I._restartAnswered).to(registered)
    def _registered(i: FallbackInputs, core: FallbackMonitor) -> None:
        core._heard()
        core._cancelTimers()
        core._armDetection()
        core._changed("registering", "registered", "RSIP restart answered")

    @registering.upon(I._restartFailed).loop()
    def _restartFailed(i: FallbackInputs, core: FallbackMonitor) -> None:
        core._armKeepalive()

    @registering.upon(I._keepaliveDue).loop()
    def _retryRestart(i: FallbackInputs, core: FallbackMonitor) -> None:
        core._returnIdlePending()
        core._sendRestart(core._restartablePorts())

    for state in (registering, registered):
        @state.upon(I.portIdle).loop()
        def _portIdle(i: FallbackInputs, core: FallbackMonitor, name: str) -> None:
            core._returnPending(name)

    ignore(registering, I.transactionTimedOut, I._probeFailed, I._switchbackNow, I._awaitSwitchback)

    # registered

    @registered.upon(I._keepaliveDue).loop()
    def _keepalive(i: FallbackInputs, core: FallbackMonitor) -> None:
        core._returnIdlePending()
        core._sendKeepalive()
        core._armKeepalive()

    for state in (registered, pending):
        for method in (I.transactionTimedOut, I._restartFailed, I._probeFailed):
            @state.upon(method).loop()
            def _timedOut(i: FallbackInputs, core: FallbackMonitor) -> None:
                core._suspect()

    ignore(registered, I._restartAnswered, I._switchbackNow, I._awaitSwitchback)

    # the call agent is heard from

    for state in (registering, registered, pending):
        @state.upon(I.trafficReceived).loop()
        def _traffic(i: FallbackInputs, core: FallbackMonitor) -> None:
            core._heard()

    # the call agent is lost

    def lostFrom(name: str) -> tuple[Callable[..., None], Callable[..., None]]:
        def _fallback(i: FallbackInputs, core: FallbackMonitor) -> None:
            core._cancelTimers()
            core._enterFallback()
            core._armKeepalive()
            core._changed(name, "fallback", "call agent lost")

        def _disconnect(i: FallbackInputs, core: FallbackMonitor) -> None:
            core._cancelTimers()
            core._callAgentLost()
            core._armKeepalive()
            core._changed(name, "disconnected", "call agent lost; fallback-mgcp not selected")
        return _fallback, _disconnect

    for state, status in ((registering, FallbackStatus.REGISTERING), (registered, FallbackStatus.REGISTERED)):
        toFallback, toDisconnected = lostFrom(status.value)
        state.upon(I._lost).to(fallback)(toFallback)
        state.upon(I._disconnected).to(disconnected)(toDisconnected)

    @pending.upon(I._lost).to(fallback)
    def _lostAgain(i: FallbackInputs, core: FallbackMonitor) -> None:
        core._cancelTimers()
        core._callAgentLost()
        core._armKeepalive()
        core._changed("switchback-pending", "fallback", "call agent lost again")

    ignore(pending, I._disconnected)

    # disconnected and fallback: probe

    for state in (disconnected, fallback):
        @state.upon(I._keepaliveDue).loop()
        def _probe(i: FallbackInputs, core: FallbackMonitor) -> None:
            core._sendKeepalive()
            core._armKeepalive()

        ignore(state, I.transactionTimedOut, I.portIdle, I._lost, I._disconnected, I._restartFailed,
               I._probeFailed)

    for method in (I.trafficReceived, I._restartAnswered):
        @disconnected.upon(method).to(registering)
        def _reconnect(i: FallbackInputs, core: FallbackMonitor) -> None:
            core._heard()
            core._cancelTimers()
            core._armFailover()
            core._sendRestart(core._restartablePorts())
            core._changed("disconnected", "registering", "call agent heard")

        @fallback.upon(method).loop()
        def _reachable(i: FallbackInputs, core: FallbackMonitor) -> None:
            core._heard()
            core._callAgentBack()

    ignore(disconnected, I._switchbackNow, I._awaitSwitchback)

    @fallback.upon(I._awaitSwitchback).to(pending)
    def _awaitSwitchback(i: FallbackInputs, core: FallbackMonitor) -> None:
        core._cancelTimers()
        core._armDetection()
        core._changed("fallback", "switchback-pending", f"call agent heard; switchback {core.config.switchback}")
        core._armSwitchback()

    def switchbackFrom(name: str) -> Callable[..., None]:
        def _switchback(i: FallbackInputs, core: FallbackMonitor) -> None:
            core._cancelTimers()
            core._armFailover()
            core._switchback()
            core._changed(name, "registering", "switchback")
        return _switchback

    for state, status in ((fallback, FallbackStatus.FALLBACK), (pending, FallbackStatus.SWITCHBACK_PENDING)):
        state.upon(I._switchbackNow).to(registering)(switchbackFrom(status.value))

    # switchback pending

    @pending.upon(I._keepaliveDue).loop()
    def _pendingKeepalive(i: FallbackInputs, core: FallbackMonitor) -> None:
        core._sendKeepalive()
        core._armKeepalive()
        core._checkSwitchback()

    @pending.upon(I.portIdle).loop()
    def _pendingPortIdle(i: FallbackInputs, core: FallbackMonitor, name: str) -> None:
        core._checkSwitchback()

    ignore(pending, I._restartAnswered, I._awaitSwitchback)

    return builder.build()


FallbackMachine = _makeFallbackMachine()
"""The fallback machine (C{FallbackMachine(monitor)} gives its inputs)."""


__all__ = ["FALLBACK_ON", "FallbackInputs", "FallbackMachine", "FallbackStatus"]
