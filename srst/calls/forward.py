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

A phone sets its forward-all target with its own dialogue (SCCP phones:
the CFwdAll softkey, L{srst.sccp.forwardkeys}), which stores it here with
L{ForwardSettings.setAll}.

A target never forwards back to its own number or to the caller's number,
so forwarding cannot loop.  Forward-all is followed hop by hop
(L{followAll}): a chain B -> C -> D rings D, a loop (B -> C -> B) or a chain
of more than L{MAX_REDIRECT} hops rings the last number reached before it.
"""

from __future__ import annotations

import enum
from typing import Protocol

from attrs import define, field, frozen

from srst.calls.interfaces import Party


class ForwardReason(enum.IntEnum):
    """
    CallInfo redirect reasons: the Q.931 redirecting reason codes, and
    C{TRANSFER}, which Q.931 lacks, as Cisco call control numbers it (its
    CDR redirect reason 4, "Call Transfer").
    """

    BUSY = 1
    NO_ANSWER = 2
    TRANSFER = 4
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


class CallForwardConfig(Protocol):
    """The C{call-forward} configuration the settings start from (the SCCP section's)."""

    all: str | None
    busy: str | None
    noAnswer: str | None
    noAnswerTimeout: float


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
    def fromConfig(cls, callForward: CallForwardConfig) -> "ForwardSettings":
        """
        @param callForward: the C{call-forward} section (C{CallForward} of
            the C{call-manager-fallback} configuration).
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


MAX_REDIRECT = 5
"""
The most forward-all hops a call follows: Cisco Unified CME's
C{max-redirect} default (telephony-service; SRST's call-manager-fallback
has no such command, so it is a constant here).
"""


@frozen
class ForwardChain:
    """
    Where forward-all takes a call (L{followAll}).

    @ivar target: the number to ring.
    @ivar redirect: the L{Redirect} the target shows, or L{None} when the
        dialled number does not forward.
    @ivar numbers: the numbers of the chain in order, the dialled one first
        and the target last.
    @ivar stopped: L{None} when the chain ended by itself; C{"loop"} when the
        next hop would return to a number of the chain (or the caller);
        C{"max-redirect"} when it is L{MAX_REDIRECT} hops long and would go on.
    @ivar next: the number the chain would have gone on to when stopped.
    """

    target: str
    redirect: Redirect | None
    numbers: tuple[str, ...]
    stopped: str | None = None
    next: str | None = None


def followAll(settings: ForwardSettings, number: str, caller: str, limit: int = MAX_REDIRECT) -> ForwardChain:
    """
    Follow the forward-all settings from C{number}, dialled by C{caller}.

    A number forwarding to itself through the router-wide C{call-forward
    all} target is that target: the chain ends there quietly.

    @return: the L{ForwardChain}.
    """
    numbers = [number]
    redirect: Redirect | None = None
    while True:
        current = numbers[-1]
        target = settings.allFor(current)
        if not target or (target == current and current not in settings.perDn):
            return ForwardChain(current, redirect, tuple(numbers))
        if target in numbers or target == caller:
            return ForwardChain(current, redirect, tuple(numbers), "loop", target)
        if len(numbers) > limit:
            return ForwardChain(current, redirect, tuple(numbers), "max-redirect", target)
        by = Party(current)
        redirect = (redirect.then(by, ForwardReason.ALL) if redirect is not None
                    else Redirect(by, by, ForwardReason.ALL))
        numbers.append(target)


def usable(target: str | None, *avoid: str) -> str | None:
    """
    @return: C{target} unless it is empty or one of C{avoid} (forwarding
        there would loop).
    """
    if not target or target in avoid:
        return None
    return target


__all__ = ["CallForwardConfig", "ForwardChain", "ForwardReason", "ForwardSettings", "MAX_REDIRECT", "Redirect",
           "followAll", "usable"]
