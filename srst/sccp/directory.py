# -*- test-case-name: tests.test_sccp_directory -*-
"""
The registered phones' directory numbers as the call engine's
L{IDirectory}.

L{RegistryDirectory} matches dialled digits against the numbers in use by
bisection over the L{EphoneRegistry}'s sorted numbers
(L{EphoneRegistry.dnsWithPrefix}), so matching costs the same with ten or
ten thousand phones registered, and resolves a complete number to the
phones with a line for it (L{EphoneRegistry.byDn}; several for a shared
line), each as the call endpoint of its session with that line's
L{LineRef} (L{lineRef}).
"""

from __future__ import annotations

from typing import Callable

from zope.interface import implementer

from srst.calls.interfaces import Destination, DialMatch, ICallEndpoint, IDirectory, LineRef
from srst.sccp.registry import Ephone, EphoneRegistry, Line
from srst.sccp.station import ICallStation


def lineRef(line: Line, ephone: Ephone) -> LineRef:
    """
    @param line: a registered phone's line.
    @param ephone: the phone it belongs to (its C{ephone-(n)} owner name).
    @return: its L{LineRef}.
    """
    assignment = line.assignment
    return LineRef(assignment.instance, assignment.dn, assignment.name, assignment.dnTag,
                   owner=f"ephone-({ephone.number})")


@implementer(IDirectory)
class RegistryDirectory:
    """
    The directory numbers of the registered phones.

    @ivar registry: the shared L{EphoneRegistry}.
    """

    def __init__(self, registry: EphoneRegistry, endpointFor: Callable[[ICallStation], ICallEndpoint]) -> None:
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
                    found.append(Destination(self._endpointFor(ephone.station), lineRef(line, ephone)))
                    break
        return found


__all__ = ["RegistryDirectory", "lineRef"]
