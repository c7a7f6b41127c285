# -*- test-case-name: tests.test_calls_alias -*-
"""
Call rerouting with IOS C{alias} (C{call-manager-fallback}).

C{alias tag number-pattern to alternate-number [preference n] [cfw number
timeout seconds] [huntstop]}: in IOS each alias is a dial-peer for
C{number-pattern} that rings the phone registered with C{alternate-number}.
A phone registered with the dialled number itself is the longer (more
exact) match and wins, so an alias only takes a call to a number no phone
has registered; with C{no huntstop} (L{Aliases.huntstop} false) a call to
a busy number also hunts on to the aliases.  The engine
(L{srst.calls.engine}) applies these rules:

  - The aliases for a number are tried in C{preference} order (0 first),
    then by tag.
  - An alternate number that no phone has registered is skipped (IOS
    creates the alias dial-peer only when the alternate registers).
  - A busy alternate: its alias's C{cfw} number takes the call if set;
    otherwise, with C{huntstop} (the default, or the alias's own
    C{huntstop}) the caller hears busy, and with C{no huntstop} the next
    alias is tried.
  - An alternate that does not answer in C{timeout} seconds forwards to
    C{cfw} (its own forward-no-answer, overriding C{call-forward}).

Alternate and C{cfw} numbers are resolved as plain numbers, never through
another alias, so aliases cannot loop (C{alias 1 1001 to 2001} with
C{alias 2 2001 to 1001} reaches whichever of the two is registered, or no
one).

Pure logic: no clock, no I/O, nothing from Twisted (the C{call-manager-fallback}
configuration builds L{Alias}es).
"""

from __future__ import annotations

from typing import Iterable

from attrs import frozen

from srst.calls.dialplan import DestinationPattern, DialPatternError, parseDestinationPattern

MAX_TAG = 50
"""IOS allows alias tags 1 to 50."""


def _matches(pattern: DestinationPattern, number: str) -> bool:
    """@return: whether C{number} is all of a number C{pattern} matches."""
    elements = pattern.elements
    if len(number) < len(elements):
        return False
    if len(number) > len(elements) and not pattern.variable:
        return False
    return all(c in e.characters for e, c in zip(elements, number))


def _couldBecome(pattern: DestinationPattern, digits: str) -> bool:
    """@return: whether more digits after C{digits} could match C{pattern}."""
    elements = pattern.elements
    if not all(c in e.characters for e, c in zip(elements, digits)):
        return False
    return len(digits) < len(elements) or pattern.variable


@frozen
class Alias:
    """
    One C{alias} command.

    @ivar tag: 1 to L{MAX_TAG}.
    @ivar pattern: the C{number-pattern} (IOS C{destination-pattern}
        grammar: C{.} is any digit).
    @ivar to: the C{alternate-number}.
    @ivar preference: 0 (first) to 10.
    @ivar cfw: forward busy / no-answer target, or L{None}.
    @ivar cfwTimeout: the C{cfw} no-answer timeout, seconds.
    @ivar huntstop: stop hunting at this alias.
    """

    tag: int
    pattern: str
    to: str
    preference: int = 0
    cfw: str | None = None
    cfwTimeout: int = 20
    huntstop: bool = False



class Aliases:
    """
    The configured aliases.

    @ivar huntstop: C{huntstop} under C{call-manager-fallback} (default
        on): no hunting on from a busy number or a busy alternate.
    """

    def __init__(self, aliases: Iterable[Alias] = (), huntstop: bool = True) -> None:
        ordered = sorted(aliases, key=lambda a: (a.preference, a.tag))
        self._aliases = [(a, parseDestinationPattern(a.pattern)) for a in ordered]
        self.huntstop = huntstop

    def __bool__(self) -> bool:
        return bool(self._aliases)

    def forNumber(self, number: str) -> list[Alias]:
        """@return: the aliases a call to C{number} tries, in order."""
        return [a for a, pattern in self._aliases if _matches(pattern, number)]

    def completes(self, digits: str) -> bool:
        """@return: whether the digits dialled so far are a number an alias takes."""
        return any(_matches(pattern, digits) for _, pattern in self._aliases)

    def couldBecome(self, digits: str) -> bool:
        """@return: whether more digits could make a number an alias takes."""
        return any(_couldBecome(pattern, digits) for _, pattern in self._aliases)


def aliasPatternProblem(pattern: str) -> str | None:
    """@return: why C{pattern} cannot be an alias number-pattern, or L{None}."""
    try:
        parseDestinationPattern(pattern)
    except DialPatternError as e:
        return str(e)
    return None


__all__ = ["Alias", "Aliases", "MAX_TAG", "aliasPatternProblem"]
