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
so forwarding cannot loop.
"""

from __future__ import annotations

import enum
from typing import Protocol

from attrs import define, field, frozen

from srst.calls.interfaces import Party


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


def usable(target: str | None, *avoid: str) -> str | None:
    """
    @return: C{target} unless it is empty or one of C{avoid} (forwarding
        there would loop).
    """
    if not target or target in avoid:
        return None
    return target


__all__ = ["CallForwardConfig", "ForwardReason", "ForwardSettings", "Redirect", "usable"]
