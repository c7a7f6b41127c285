# -*- test-case-name: tests.test_calls_dialing -*-
"""
Digit collection (sccp.md 5.4 (b)): when is a dialled number complete?

A L{DigitCollector} gets the digits of one off-hook leg.  The number is
complete when:

  - C{#} is pressed (the C{#} is not part of the number);
  - the digits are a registered number and no longer number starts with
    them (L{DialMatch.EXACT});
  - no number starts with them (L{DialMatch.NONE}) and they are not (the
    start of) the C{secondary-dialtone} access code: the call fails at once
    with reorder;
  - otherwise the inter-digit timeout (C{timeouts interdigit}, armed by the
    leg on the injected clock) completes it with what was dialled.

L{combine} merges what several directories
(L{srst.calls.interfaces.IDirectory}) say about the same digits.

Pure logic: no clock, no I/O.
"""

from __future__ import annotations

import enum
from typing import Sequence

from attrs import define

from srst.calls.interfaces import DialMatch

TERMINATOR = "#"
"""Ends dialling at once."""


class DialStep(enum.Enum):
    """What the engine does after a digit."""

    MORE = "more"
    """Wait for more digits (or the timeout)."""

    SECONDARY_DIALTONE = "secondary dialtone"
    """The access code was dialled: play the outside dial tone, wait."""

    COMPLETE = "complete"
    """Route the number now."""


def combine(matches: Sequence[DialMatch]) -> DialMatch:
    """
    @param matches: what each directory said about the same digits.
    @return: the overall match.
    """
    exact = DialMatch.EXACT in matches or DialMatch.EXACT_OR_LONGER in matches
    longer = DialMatch.PREFIX in matches or DialMatch.EXACT_OR_LONGER in matches
    if exact:
        return DialMatch.EXACT_OR_LONGER if longer else DialMatch.EXACT
    return DialMatch.PREFIX if longer else DialMatch.NONE


@define
class DigitCollector:
    """
    The digits of one leg.

    @ivar secondaryDialtone: the access code after which the outside dial
        tone plays, or L{None}.
    @ivar digits: the digits so far (no terminator).
    @ivar complete: whether dialling ended.
    @ivar secondaryPlayed: whether the outside dial tone was played.
    """

    secondaryDialtone: str | None = None
    digits: str = ""
    complete: bool = False
    secondaryPlayed: bool = False

    def add(self, digit: str, match: DialMatch | None = None) -> DialStep:
        """
        Add one digit.

        @param digit: one of C{0-9 * # A-D +}.
        @param match: how the digits, this one included, match the
            directory (ignored for C{#}); L{None} when there is no directory.
        @return: what to do next.
        """
        if self.complete:
            return DialStep.COMPLETE
        if digit == TERMINATOR:
            self.complete = True
            return DialStep.COMPLETE
        self.digits += digit
        code = self.secondaryDialtone
        if code:
            if self.digits == code and not self.secondaryPlayed:
                self.secondaryPlayed = True
                return DialStep.SECONDARY_DIALTONE
            if code.startswith(self.digits) or self.digits.startswith(code):
                return DialStep.MORE
        if match is DialMatch.EXACT or match is DialMatch.NONE:
            self.complete = True
            return DialStep.COMPLETE
        return DialStep.MORE

    def timedOut(self) -> str:
        """
        The inter-digit timeout fired: dialling ends with what was dialled.

        @return: the number.
        """
        self.complete = True
        return self.digits


__all__ = ["DialStep", "DigitCollector", "TERMINATOR", "combine"]
