# -*- test-case-name: tests.test_calls_dialing,tests.test_calls_engine -*-
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

L{RegistryDirectory} is the L{IDirectory} of the phones registered in the
L{EphoneRegistry}: exact directory-number match (L{EphoneRegistry.byDn}),
and prefix matching of dialled digits by bisection over the registry's
sorted numbers in use (L{EphoneRegistry.dnsWithPrefix}).

Pure logic: no clock, no I/O.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Sequence

from attrs import define
from zope.interface import implementer

from srst.calls.interfaces import Destination, DialMatch, IDirectory, LineRef
from srst.sccp.registry import EphoneRegistry, Line

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


def lineRef(line: Line) -> LineRef:
    """
    @param line: a registered phone's line.
    @return: its L{LineRef}.
    """
    assignment = line.assignment
    return LineRef(assignment.instance, assignment.dn, assignment.name, assignment.dnTag)


@implementer(IDirectory)
class RegistryDirectory:
    """
    The directory numbers of the registered phones.

    @ivar registry: the shared L{EphoneRegistry}.
    """

    def __init__(self, registry: EphoneRegistry, endpointFor: Callable[[Any], Any]) -> None:
        """
        @param registry: the registry.
        @param endpointFor: the call endpoint of a registered phone's
            session (C{ephone.station}).
        """
        self.registry = registry
        self._endpointFor = endpointFor

    def match(self, digits: str) -> DialMatch:
        """
        How C{digits} match the numbers in use: the first two numbers in use
        starting with them, in sorted order (L{EphoneRegistry.dnsWithPrefix},
        a bisection, so the cost does not grow with the phones registered).
        C{digits} sorts before every longer number starting with it, so it
        is in use exactly when it comes first, and a longer number exists
        exactly when another one is found.

        @param digits: the digits dialled so far.
        @return: L{DialMatch.EXACT}, L{DialMatch.EXACT_OR_LONGER},
            L{DialMatch.PREFIX} or L{DialMatch.NONE}.
        """
        found = self.registry.dnsWithPrefix(digits, 2)
        if not found:
            return DialMatch.NONE
        if found[0] != digits:
            return DialMatch.PREFIX
        return DialMatch.EXACT_OR_LONGER if len(found) > 1 else DialMatch.EXACT

    def resolve(self, number: str) -> list[Destination]:
        """
        @return: the registered phones with a line for C{number}, each with
            that line, by ephone number.
        """
        found = []
        for ephone in self.registry.byDn(number):
            if ephone.station is None:
                continue
            for line in ephone.lines:
                if line.assignment.dn == number:
                    found.append(Destination(self._endpointFor(ephone.station), lineRef(line)))
                    break
        return found


__all__ = ["DialStep", "DigitCollector", "RegistryDirectory", "TERMINATOR", "combine", "lineRef"]
