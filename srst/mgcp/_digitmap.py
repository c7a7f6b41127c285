# -*- test-case-name: tests.test_mgcp_messages -*-
"""
MGCP digit maps (mgcp.md 7.3): parsing C{D:} values such as
C{(0T|00T|[1-7]xxx|8xxxxxxx|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)} and matching
dial strings against them.

A dial string is a sequence of event letters: digits C{0-9}, C{*}, C{#},
C{A}-C{D}, the other event letters and C{T} for an expired inter-digit
timer.  In a pattern C{x} is any digit C{0-9}, C{[...]} a set (with C{a-b}
ranges) and C{.} after an element means "zero or more of it".  Letters are
case-insensitive.

After each digit the gateway calls L{DigitMap.match}: a L{MatchResult.FULL}
result is reported at once, a L{MatchResult.PARTIAL} one starts the critical
timer (4 s) when C{fullMatchExists} else the partial timer (16 s); when the
timer fires, L{DigitMap.matchOnTimer} appends C{T}.  L{MatchResult.NONE}
means no pattern can match any more and the digits are reported as they
are.
"""

from __future__ import annotations

import enum
from attrs import field, frozen

from srst.mgcp._grammar import protocolError

DIGITS = "0123456789"
TIMER = "T"
_LETTERS = "ABCDEFGHIJKLMNOPQRSUVWYZ"
ALPHABET = frozenset(DIGITS + "*#" + _LETTERS + TIMER)
"""Every symbol a dial string (and a digit map position) can hold."""


class MatchResult(enum.Enum):
    """What a dial string is with respect to a digit map."""

    FULL = "full"
    """A pattern matches and no longer dial string could match: report."""

    PARTIAL = "partial"
    """More symbols could still complete (or extend) a match: wait."""

    NONE = "none"
    """No pattern matches, and none can: report the digits as they are."""


@frozen
class DigitMapMatch:
    """
    The outcome of matching a dial string.

    @ivar result: the L{MatchResult}.
    @ivar dialString: the dial string that was matched (with a C{T}
        appended by L{DigitMap.matchOnTimer} when that matched).
    @ivar fullMatchExists: whether some pattern matches C{dialString}
        exactly (for C{PARTIAL}: use the critical timer).
    """

    result: MatchResult
    dialString: str
    fullMatchExists: bool

    @property
    def criticalTimer(self) -> bool:
        """
        Whether the gateway should now run the short (critical) timer rather
        than the long (partial) one; only meaningful for C{PARTIAL}.
        """
        return self.result is MatchResult.PARTIAL and self.fullMatchExists


@frozen
class DigitPattern:
    """
    One alternative of a digit map.

    @ivar text: the pattern as given, e.g. C{"9011x.T"}.
    @ivar elements: the positions, each a set of symbols and whether it
        repeats (C{.}).
    """

    text: str
    elements: tuple[tuple[frozenset, bool], ...] = field(eq=False)

    def _advance(self, states: set[int], symbol: str) -> set[int]:
        following = set()
        for state in states:
            if state < len(self.elements):
                symbols, repeat = self.elements[state]
                if symbol in symbols:
                    following.add(state if repeat else state + 1)
        return self._close(following)

    def _close(self, states: set[int]) -> set[int]:
        closed = set(states)
        pending = list(states)
        while pending:
            state = pending.pop()
            if state < len(self.elements) and self.elements[state][1]:
                if state + 1 not in closed:
                    closed.add(state + 1)
                    pending.append(state + 1)
        return closed

    def states(self, dialString: str) -> set[int]:
        """
        Run the pattern over a dial string.

        @param dialString: upper-case symbols.
        @return: the pattern positions reachable after it (empty when the
            pattern cannot match any extension of C{dialString}).
        """
        states = self._close({0})
        for symbol in dialString:
            states = self._advance(states, symbol)
            if not states:
                break
        return states


@frozen
class DigitMap:
    """
    A parsed digit map.

    @ivar patterns: the alternatives in order.
    """

    patterns: tuple[DigitPattern, ...]

    def encode(self) -> str:
        """
        @return: the wire form C{(p1|p2|...)}.
        """
        return "(%s)" % ("|".join(p.text for p in self.patterns),)

    def match(self, dialString: str) -> DigitMapMatch:
        """
        Match the symbols collected so far.

        @param dialString: e.g. C{"9011"}; case-insensitive.
        @return: the match.
        """
        dialString = dialString.upper()
        full = longer = False
        for pattern in self.patterns:
            states = pattern.states(dialString)
            end = len(pattern.elements)
            if end in states:
                full = True
            if any(state < end for state in states):
                longer = True
        if longer:
            return DigitMapMatch(MatchResult.PARTIAL, dialString, full)
        if full:
            return DigitMapMatch(MatchResult.FULL, dialString, True)
        return DigitMapMatch(MatchResult.NONE, dialString, False)

    def matchOnTimer(self, dialString: str) -> DigitMapMatch:
        """
        The inter-digit timer expired: match C{dialString + "T"}; when that
        does not match but C{dialString} itself does, the result is a full
        match of C{dialString}.  The result is never C{PARTIAL} unless a
        pattern continues after the C{T}.

        @param dialString: the symbols collected before the timer expired.
        @return: the match; report its C{dialString}.
        """
        withTimer = self.match(dialString + TIMER)
        if withTimer.result is not MatchResult.NONE:
            return withTimer
        if self.match(dialString).fullMatchExists:
            return DigitMapMatch(MatchResult.FULL, dialString.upper(), True)
        return withTimer


def _parsePosition(text: str, index: int) -> tuple[frozenset, int]:
    char = text[index]
    upper = char.upper()
    if upper == "X":
        return frozenset(DIGITS), index + 1
    if upper in ALPHABET:
        return frozenset(upper), index + 1
    if char != "[":
        raise protocolError("bad digit map symbol %r in %r" % (char, text))
    end = text.find("]", index)
    if end < 0:
        raise protocolError("unterminated range in digit map %r" % (text,))
    body = text[index + 1:end].upper()
    symbols: set[str] = set()
    position = 0
    while position < len(body):
        first = body[position]
        if first not in ALPHABET and first != "X":
            raise protocolError("bad range symbol %r in %r" % (first, text))
        if position + 2 < len(body) and body[position + 1] == "-":
            last = body[position + 2]
            if first not in DIGITS or last not in DIGITS or last < first:
                raise protocolError("bad range %s-%s in %r"
                                    % (first, last, text))
            symbols.update(chr(c) for c in range(ord(first), ord(last) + 1))
            position += 3
        else:
            symbols.update(DIGITS if first == "X" else first)
            position += 1
    if not symbols:
        raise protocolError("empty range in digit map %r" % (text,))
    return frozenset(symbols), end + 1


def parseDigitPattern(text: str) -> DigitPattern:
    """
    Parse one digit map alternative.

    @param text: e.g. C{"[1-7]xxx"}.
    @return: the pattern.
    @raise MgcpDecodeError: (510) if malformed.
    """
    text = text.strip()
    if not text:
        raise protocolError("empty digit map pattern")
    elements: list[tuple[frozenset, bool]] = []
    index = 0
    while index < len(text):
        if text[index] == ".":
            if not elements or elements[-1][1]:
                raise protocolError("misplaced '.' in digit map %r"
                                    % (text,))
            elements[-1] = (elements[-1][0], True)
            index += 1
            continue
        symbols, index = _parsePosition(text, index)
        elements.append((symbols, False))
    return DigitPattern(text, tuple(elements))


def parseDigitMap(text: str) -> DigitMap:
    """
    Parse a digit map, C{(p1|p2|...)} or a single pattern.

    @param text: the C{D:} value.
    @return: the map.
    @raise MgcpDecodeError: (510) if malformed.
    """
    text = "".join(text.split())
    if text.startswith("(") != text.endswith(")") or not text:
        raise protocolError("bad digit map %r" % (text,))
    if text.startswith("("):
        text = text[1:-1]
    return DigitMap(tuple(parseDigitPattern(p) for p in text.split("|")))

