# -*- test-case-name: tests.test_sccp_forwardkeys -*-
"""
The CFwdAll softkey dialogue of SCCP phones (sccp.md 5.4 (i)).

CFwdAll (softkey or button) on an idle phone opens an input: CallState
OffHook, OffHookWithFeatures keys, speaker on, "Enter number".  The digits
that follow are the target; C{#}, CFwdAll again or the inter-digit timeout
end the input: the target is stored as the line's forward-all
(L{srst.calls.forward.ForwardSettings.setAll}, which the engine consults
when it routes a call) and the phone gets ForwardStat, the idle sequence and
"Forwarded to <target>".  CFwdAll on a forwarded line cancels its
forward-all (ForwardStat inactive).  A target equal to the line's own
number is refused (L{srst.calls.forward.usable}).

A phone asks for each line's state while it registers (ForwardStatReq): a
line whose number is forwarded (by C{call-forward all} or an earlier
CFwdAll) gets ForwardStat with the target, so it shows "Forwarded to" at once.
"""

from __future__ import annotations

from typing import Callable

from attrs import define
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from srst.calls.forward import ForwardSettings, usable
from srst.calls.interfaces import LineRef
from srst.sccp import messages as m
from srst.sccp.callendpoint import ALL_KEYS, PRECEDENCE_LEVEL, SccpEndpoint
from srst.sccp.constants import CallState, SoftKeySet, SpeakerMode

FORWARD_NOTIFY_SECONDS = 10
"""How long "Forwarded to" shows."""

_log = Logger(namespace="srst.calls.forward")


@define(eq=False)
class _Input:
    """
    One phone entering a forward-all target.

    @ivar line: the line being forwarded.
    @ivar reference: the callReference the input shows under.
    @ivar timer: ends the input after the inter-digit timeout.
    @ivar digits: the target so far.
    """

    line: LineRef
    reference: int
    timer: IDelayedCall
    digits: str = ""


class CallForwardKeys:
    """
    The CFwdAll dialogue of every SCCP phone (see the module docstring).

    @ivar settings: the engine's L{ForwardSettings}.
    """

    def __init__(self, clock: IReactorTime, settings: ForwardSettings, timeout: float,
                 newReference: Callable[[], int]) -> None:
        """
        @param clock: for the input timeout.
        @param settings: where forward-all targets are kept.
        @param timeout: seconds without a digit that end the input.
        @param newReference: gives a fresh callReference.
        """
        self.clock = clock
        self.settings = settings
        self.timeout = timeout
        self._newReference = newReference
        self._inputs: dict[SccpEndpoint, _Input] = {}

    def active(self, endpoint: SccpEndpoint) -> bool:
        """@return: whether the endpoint is entering a forward number."""
        return endpoint in self._inputs

    def pressed(self, endpoint: SccpEndpoint, line: LineRef) -> None:
        """
        CFwdAll (softkey or button): start the input, end it when it runs,
        or cancel the line's forward-all.
        """
        if endpoint in self._inputs:
            self._finish(endpoint)
            return
        if line.number in self.settings.perDn:
            self.settings.setAll(line.number, None)
            _log.info("{station}: forward-all of {dn} cancelled", station=endpoint.label, dn=line.number)
            endpoint.send(m.ForwardStat(0, line.instance, 0, "", 0, "", 0, ""))
            return
        ref = self._newReference()
        timer = self.clock.callLater(self.timeout, self._finish, endpoint)
        self._inputs[endpoint] = _Input(line, ref, timer)
        n = line.instance
        endpoint.send(m.CallState(CallState.OFF_HOOK, n, ref, 0, PRECEDENCE_LEVEL, 0),
                      m.SelectSoftKeys(n, ref, SoftKeySet.OFF_HOOK_FEATURES, ALL_KEYS),
                      m.SetSpeakerMode(SpeakerMode.ON),
                      m.DisplayPromptStatus(0, m.LABEL_ENTER_NUMBER, n, ref))

    def status(self, endpoint: SccpEndpoint, instance: int, line: LineRef | None) -> None:
        """
        ForwardStatReq: send line C{instance}'s forward-all state.

        @param line: that line, or L{None} when the phone has no such line
            (then the state is "not forwarded").
        """
        target = usable(self.settings.allFor(line.number), line.number) if line is not None else None
        if target is None:
            endpoint.send(m.ForwardStat(0, instance, 0, "", 0, "", 0, ""))
        else:
            endpoint.send(m.ForwardStat(1, instance, 1, target, 0, "", 0, ""))

    def digit(self, endpoint: SccpEndpoint, digit: str) -> bool:
        """
        A keypad digit.

        @return: whether it belonged to a forward input.
        """
        state = self._inputs.get(endpoint)
        if state is None:
            return False
        if digit == "#":
            self._finish(endpoint)
        else:
            state.digits += digit
            state.timer.reset(self.timeout)
        return True

    def gone(self, endpoint: SccpEndpoint) -> None:
        """The endpoint disappeared: drop its input."""
        state = self._inputs.pop(endpoint, None)
        if state is not None and state.timer.active():
            state.timer.cancel()

    def _finish(self, endpoint: SccpEndpoint) -> None:
        state = self._inputs.pop(endpoint, None)
        if state is None:
            return
        if state.timer.active():
            state.timer.cancel()
        n, ref, number = state.line.instance, state.reference, state.digits
        target = usable(number, state.line.number)
        if target is not None:
            self.settings.setAll(state.line.number, target)
            _log.info("{station}: {dn} forwarded to {target}", station=endpoint.label, dn=state.line.number,
                      target=target)
            endpoint.send(m.ForwardStat(1, n, 1, target, 0, "", 0, ""))
        endpoint.send(m.CallState(CallState.ON_HOOK, n, ref, 0, PRECEDENCE_LEVEL, 0),
                      m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS), m.SetSpeakerMode(SpeakerMode.OFF))
        if target is not None:
            endpoint.send(m.DisplayNotify(FORWARD_NOTIFY_SECONDS, (m.LABEL_FORWARDED_TO + target)[:32]))


__all__ = ["CallForwardKeys", "FORWARD_NOTIFY_SECONDS"]
