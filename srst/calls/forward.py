# -*- test-case-name: tests.test_calls_forward -*-
"""
Call forwarding (sccp.md 5.4 (i)).

  - L{ForwardSettings}: the targets the engine consults when it routes a
    call: forward-all (router-wide from C{call-forward all}, or per
    directory number from the phone's CFwdAll softkey), forward-busy and
    forward-no-answer (C{call-forward busy|no-answer}, with
    C{no-answer-timeout}).
  - L{Redirect}: why a called leg rings although another number was
    dialled; the SCCP endpoint shows it in CallInfo (callType 3).
  - L{CallForwardKeys}: the CFwdAll softkey dialogue of SCCP phones:
    "Enter number", digits, C{#} / CFwdAll again / inter-digit timeout;
    then ForwardStat and "Forwarded to"; CFwdAll on a forwarded line
    cancels.

A target never forwards back to its own number or to the caller's number,
so forwarding cannot loop.
"""

from __future__ import annotations

import enum
from typing import Any, Callable

from attrs import define, field, frozen
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from srst.calls.interfaces import LineRef, Party
from srst.sccp import messages as m
from srst.sccp.constants import CallState, SoftKeySet, SpeakerMode

FORWARD_NOTIFY_SECONDS = 10
"""How long "Forwarded to" shows."""

_log = Logger(namespace="srst.calls.forward")


class ForwardReason(enum.IntEnum):
    """CallInfo redirect reasons (Q.931 redirecting reason codes)."""

    BUSY = 1
    NO_ANSWER = 2
    ALL = 15


@frozen
class Redirect:
    """
    Why a leg rings for a number other than its own.

    @ivar original: the number first dialled.
    @ivar lastRedirecting: the number that forwarded last.
    @ivar reason: the L{ForwardReason}.
    """

    original: Party
    lastRedirecting: Party
    reason: ForwardReason

    def then(self, by: Party, reason: ForwardReason) -> "Redirect":
        """@return: this redirect forwarded once more by C{by}."""
        return Redirect(self.original, by, reason)


@define
class ForwardSettings:
    """
    Forwarding targets.

    @ivar all: router-wide forward-all target (C{call-forward all}) or L{None}.
    @ivar busy: forward-busy target or L{None}.
    @ivar noAnswer: forward-no-answer target or L{None}.
    @ivar noAnswerTimeout: seconds before a call forwards on no answer.
    @ivar perDn: forward-all targets set from phones, by directory number.
    """

    all: str | None = None
    busy: str | None = None
    noAnswer: str | None = None
    noAnswerTimeout: float = 20
    perDn: dict[str, str] = field(factory=dict)

    @classmethod
    def fromConfig(cls, callForward: Any) -> "ForwardSettings":
        """
        @param callForward: a L{srst._cmfconfig.CallForward}.
        @return: the settings it configures.
        """
        return cls(callForward.all, callForward.busy, callForward.noAnswer, callForward.noAnswerTimeout)

    def setAll(self, dn: str, target: str | None) -> None:
        """Set (or with L{None} clear) the forward-all target of C{dn}."""
        if target:
            self.perDn[dn] = target
        else:
            self.perDn.pop(dn, None)

    def allFor(self, dn: str) -> str | None:
        """@return: where calls to C{dn} go unconditionally, or L{None}."""
        return self.perDn.get(dn) or self.all


def usable(target: str | None, *avoid: str) -> str | None:
    """
    @return: C{target} unless it is empty or one of C{avoid} (forwarding
        there would loop).
    """
    if not target or target in avoid:
        return None
    return target


@define
class _Input:
    line: LineRef
    reference: int
    timer: Any
    digits: str = ""


class CallForwardKeys:
    """
    The CFwdAll softkey of SCCP phones (see the module docstring).

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
        self._inputs: dict[int, tuple[Any, _Input]] = {}

    def active(self, endpoint: Any) -> bool:
        """@return: whether the endpoint is entering a forward number."""
        return id(endpoint) in self._inputs

    def pressed(self, endpoint: Any, line: LineRef) -> None:
        """
        CFwdAll (softkey or button): start the input, end it when it runs,
        or cancel the line's forward-all.
        """
        current = self._inputs.get(id(endpoint))
        if current is not None:
            self._finish(endpoint)
            return
        if line.number in self.settings.perDn:
            self.settings.setAll(line.number, None)
            _log.info("{station}: forward-all of {dn} cancelled", station=endpoint.label, dn=line.number)
            endpoint.send(m.ForwardStat(0, line.instance, 0, "", 0, "", 0, ""))
            return
        ref = self._newReference()
        timer = self.clock.callLater(self.timeout, self._finish, endpoint)
        self._inputs[id(endpoint)] = (endpoint, _Input(line, ref, timer))
        n = line.instance
        endpoint.send(m.CallState(CallState.OFF_HOOK, n, ref, 0, 4, 0),
                      m.SelectSoftKeys(n, ref, SoftKeySet.OFF_HOOK_FEATURES, 0xFFFFFFFF),
                      m.SetSpeakerMode(SpeakerMode.ON),
                      m.DisplayPromptStatus(0, m.LABEL_ENTER_NUMBER, n, ref))

    def digit(self, endpoint: Any, digit: str) -> bool:
        """
        A keypad digit.

        @return: whether it belonged to a forward input.
        """
        entry = self._inputs.get(id(endpoint))
        if entry is None:
            return False
        state = entry[1]
        if digit == "#":
            self._finish(endpoint)
        else:
            state.digits += digit
            state.timer.reset(self.timeout)
        return True

    def gone(self, endpoint: Any) -> None:
        """The endpoint disappeared: drop its input."""
        entry = self._inputs.pop(id(endpoint), None)
        if entry is not None:
            _cancel(entry[1].timer)

    def _finish(self, endpoint: Any) -> None:
        entry = self._inputs.pop(id(endpoint), None)
        if entry is None:
            return
        state = entry[1]
        _cancel(state.timer)
        n, ref, number = state.line.instance, state.reference, state.digits
        target = usable(number, state.line.number)
        if target is not None:
            self.settings.setAll(state.line.number, target)
            _log.info("{station}: {dn} forwarded to {target}", station=endpoint.label, dn=state.line.number,
                      target=target)
            endpoint.send(m.ForwardStat(1, n, 1, target, 0, "", 0, ""))
        endpoint.send(m.CallState(CallState.ON_HOOK, n, ref, 0, 4, 0),
                      m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, 0xFFFFFFFF), m.SetSpeakerMode(SpeakerMode.OFF))
        if target is not None:
            endpoint.send(m.DisplayNotify(FORWARD_NOTIFY_SECONDS, (m.LABEL_FORWARDED_TO + target)[:32]))


def _cancel(timer: Any) -> None:
    if IDelayedCall.providedBy(timer) and timer.active():
        timer.cancel()


__all__ = ["CallForwardKeys", "ForwardReason", "ForwardSettings", "Redirect", "usable"]
