# -*- test-case-name: tests.test_calls_dialplan -*-
"""
The dial plan that matches dialled digits against POTS dial-peers, as IOS
does (C{dial-peer voice TAG pots}), and the IOS C{destination-pattern}
grammar.

A peer is any L{DialPeerLike} value (the configured ones are
L{srst.ports.config.DialPeer}s).  Its C{destination-pattern} is parsed by
L{parseDestinationPattern} into a L{DestinationPattern}:

  - C{0}-C{9}, C{*}, C{#}: that digit exactly;
  - C{.}: any one digit C{0}-C{9};
  - C{[2-5]}, C{[0-9]}, C{[135]}, C{[^1]}: one digit from (or, with C{^},
    not from) the listed digits and ranges;
  - C{T} (last): any number of further digits, matched only once the
    inter-digit timeout has occurred;
  - C{+} (first): the E.164 marker, matched literally;
  - C{$} (last): exact end.  A pattern only ever matches a dialled string
    it fully covers, so C{$} is accepted for IOS compatibility and changes
    nothing.

L{DialPlan.match} says whether the digits dialled so far are complete
(L{MatchKind.COMPLETE}, with the best peer and the digits to forward), may
still become complete (L{MatchKind.NEEDS_MORE}) or never will
(L{MatchKind.NO_MATCH}: the caller plays reorder).  The most specific match
wins: more exactly matched digits, then more range digits, then more C{.}
digits, then more C{T} digits; on a tie a registered directory number (an
implicit peer, L{ImplicitPeer}) beats a POTS peer, then the lower
C{preference}, then the lower tag.

Pure logic: no clock, no I/O.
"""

from __future__ import annotations

import enum
from typing import Callable, Iterable, Literal, Protocol, Sequence

from attrs import frozen

DIGITS = frozenset("0123456789")
"""What C{.}, C{T} and ranges match."""

EXACT_CHARACTERS = frozenset("0123456789*#")
"""Characters that match themselves in a pattern."""

MIN_PREFERENCE = 0
"""The most preferred C{preference}."""

MAX_PREFERENCE = 10
"""The least preferred C{preference}."""


class DialPatternError(ValueError):
    """
    A C{destination-pattern} is malformed.

    @ivar pattern: the pattern text.
    @ivar position: the 0-based index of the offending character, or
        L{None} when the problem is the pattern as a whole.
    @ivar reason: what is wrong.
    """

    def __init__(self, pattern: str, position: int | None, reason: str) -> None:
        super().__init__(pattern, position, reason)
        self.pattern = pattern
        self.position = position
        self.reason = reason

    def __str__(self) -> str:
        where = "" if self.position is None else f" at position {self.position}"
        return f"bad destination-pattern {self.pattern!r}{where}: {self.reason}"


class ElementKind(enum.Enum):
    """What one position of a pattern matches, most specific first."""

    EXACT = "exact"
    RANGE = "range"
    ANY = "any"


@frozen
class PatternElement:
    """
    One fixed position of a pattern.

    @ivar kind: the L{ElementKind}.
    @ivar characters: the characters it accepts.
    """

    kind: ElementKind
    characters: frozenset[str]


@frozen
class DestinationPattern:
    """
    A parsed C{destination-pattern}.

    @ivar text: the pattern as configured.
    @ivar elements: the fixed positions, in order (a leading C{+} is an
        exact element).
    @ivar variable: whether the pattern ends with C{T}.
    @ivar exactEnd: whether the pattern ends with C{$}.
    """

    text: str
    elements: tuple[PatternElement, ...]
    variable: bool = False
    exactEnd: bool = False

    @property
    def explicitPrefixLength(self) -> int:
        """
        @return: how many leading elements are exact: the digits IOS strips
            by default before forwarding.
        """
        count = 0
        for element in self.elements:
            if element.kind is not ElementKind.EXACT:
                break
            count += 1
        return count


def _parseRange(text: str, start: int) -> tuple[PatternElement, int]:
    """
    Parse the bracket expression opening at C{text[start]}.

    @return: the element and the index after the closing bracket.
    @raise DialPatternError: for an unclosed, empty or reversed range.
    """
    index = start + 1
    negate = index < len(text) and text[index] == "^"
    if negate:
        index += 1
    chosen: set[str] = set()
    while index < len(text) and text[index] != "]":
        low = text[index]
        if low not in DIGITS:
            raise DialPatternError(text, index, f"{low!r} is not a digit inside [...]")
        if index + 1 < len(text) and text[index + 1] == "-":
            if index + 2 >= len(text) or text[index + 2] not in DIGITS:
                raise DialPatternError(text, index + 1, "'-' in [...] needs a digit on each side")
            high = text[index + 2]
            if high < low:
                raise DialPatternError(text, index, f"range {low}-{high} is reversed")
            chosen.update(str(digit) for digit in range(int(low), int(high) + 1))
            index += 3
        else:
            chosen.add(low)
            index += 1
    if index >= len(text):
        raise DialPatternError(text, start, "'[' is never closed with ']'")
    characters = DIGITS - chosen if negate else frozenset(chosen)
    if not chosen:
        raise DialPatternError(text, start, "empty range []")
    if not characters:
        raise DialPatternError(text, start, "range excludes every digit")
    return PatternElement(ElementKind.RANGE, frozenset(characters)), index + 1


def parseDestinationPattern(text: str) -> DestinationPattern:
    """
    Parse an IOS C{destination-pattern}.

    @param text: the pattern, e.g. C{"81234"}, C{"9[2-9]......"},
        C{"+4940T"}.
    @return: the parsed pattern.
    @raise DialPatternError: when the pattern is empty or malformed; the
        message names the character and why.
    """
    if not isinstance(text, str):
        raise DialPatternError(repr(text), None, "a pattern must be a string")
    if not text:
        raise DialPatternError(text, None, "the pattern is empty")
    elements: list[PatternElement] = []
    variable = exactEnd = False
    index = 0
    while index < len(text):
        character = text[index]
        if variable or exactEnd:
            what = "'T'" if variable else "'$'"
            raise DialPatternError(text, index, f"nothing may follow {what}")
        if character in EXACT_CHARACTERS:
            elements.append(PatternElement(ElementKind.EXACT, frozenset(character)))
        elif character == ".":
            elements.append(PatternElement(ElementKind.ANY, DIGITS))
        elif character == "[":
            element, index = _parseRange(text, index)
            elements.append(element)
            continue
        elif character == "]":
            raise DialPatternError(text, index, "']' without '['")
        elif character == "T":
            variable = True
        elif character == "$":
            exactEnd = True
        elif character == "+":
            if index != 0:
                raise DialPatternError(text, index, "'+' is only allowed as the first character")
            elements.append(PatternElement(ElementKind.EXACT, frozenset("+")))
        else:
            raise DialPatternError(text, index, f"unsupported character {character!r}")
        index += 1
    if not elements and not variable:
        raise DialPatternError(text, None, "the pattern matches no digits")
    return DestinationPattern(text, tuple(elements), variable, exactEnd)


class DialPeerLike(Protocol):
    """
    What the dial plan reads of a POTS dial-peer (L{srst.ports.config.DialPeer}
    is the configured one).
    """

    @property
    def tag(self) -> int:
        "The dial-peer tag: the last tie-breaker, lower wins."

    @property
    def destinationPattern(self) -> str | None:
        "The C{destination-pattern}, or L{None}: the peer never matches."

    @property
    def forwardDigits(self) -> Literal["all"] | int | None:
        """
        C{forward-digits}: L{None} (strip the leading exactly matched
        digits), C{"all"}, or a count N (the last N digits).
        """

    @property
    def prefix(self) -> str:
        "The C{prefix} put before the forwarded digits."

    @property
    def preference(self) -> int:
        "C{preference}, L{MIN_PREFERENCE}..L{MAX_PREFERENCE}, lower preferred."


def forwardedDigits(peer: DialPeerLike, pattern: DestinationPattern, digits: str) -> str:
    """
    @param peer: the peer the digits matched.
    @param pattern: its parsed pattern.
    @param digits: the dialled digits the pattern matched.
    @return: what the peer sends on: its C{prefix} and the digits kept by
        C{forward-digits}.
    """
    if peer.forwardDigits == "all":
        kept = digits
    elif peer.forwardDigits is None:
        kept = digits[pattern.explicitPrefixLength:]
    else:
        kept = digits[max(0, len(digits) - peer.forwardDigits):]
    return peer.prefix + kept


@frozen
class ImplicitPeer:
    """
    A registered phone's directory number, which matches like an exact
    pattern (IOS creates these for every C{ephone-dn}).

    @ivar dn: the directory number.
    """

    dn: str


class MatchKind(enum.Enum):
    """What the digits dialled so far amount to."""

    COMPLETE = "complete"
    """Route the call to L{MatchResult.peer}."""

    NEEDS_MORE = "needs more"
    """Some pattern could still match with more digits: wait."""

    NO_MATCH = "no match"
    """Nothing matches and nothing can: play reorder."""


@frozen
class MatchResult:
    """
    The outcome of L{DialPlan.match}.

    @ivar kind: the L{MatchKind}.
    @ivar peer: the winning L{DialPeerLike} or L{ImplicitPeer} when complete,
        else L{None}.
    @ivar forwardedDigits: the digits to send to the peer when complete
        (for an implicit peer, the directory number), else C{""}.
    """

    kind: MatchKind
    peer: DialPeerLike | ImplicitPeer | None = None
    forwardedDigits: str = ""


class _State(enum.Enum):
    NONE = "none"
    PREFIX = "prefix"
    FULL = "full"
    FULL_ON_TIMEOUT = "full on timeout"


_Score = tuple[int, int, int, int]


def _evaluate(pattern: DestinationPattern, digits: str) -> tuple[_State, _Score]:
    """
    @return: how C{digits} match C{pattern}, and when they match, the
        specificity (exact, range, any, T digit counts).
    """
    elements = pattern.elements
    fixed = min(len(digits), len(elements))
    for element, character in zip(elements, digits[:fixed]):
        if character not in element.characters:
            return _State.NONE, (0, 0, 0, 0)
    if len(digits) < len(elements):
        return _State.PREFIX, (0, 0, 0, 0)
    rest = digits[len(elements):]
    if rest and not pattern.variable:
        return _State.NONE, (0, 0, 0, 0)
    if not set(rest) <= DIGITS:
        return _State.NONE, (0, 0, 0, 0)
    counts = {kind: 0 for kind in ElementKind}
    for element in elements:
        counts[element.kind] += 1
    score = (counts[ElementKind.EXACT], counts[ElementKind.RANGE], counts[ElementKind.ANY], len(rest))
    return (_State.FULL_ON_TIMEOUT if pattern.variable else _State.FULL), score


def _noImplicitPeers() -> Iterable[str]:
    return ()


class DialPlan:
    """
    The POTS dial-peers plus the registered directory numbers.

    @ivar peers: the configured dial-peers, in configuration order.
    """

    def __init__(self, peers: Sequence[DialPeerLike],
                 implicitPeers: Callable[[], Iterable[str]] = _noImplicitPeers) -> None:
        """
        @param peers: the configured POTS dial-peers.
        @param implicitPeers: returns the directory numbers of the phones
            registered now; asked on every L{match}.
        @raise DialPatternError: if a peer's pattern is malformed.
        """
        self.peers = tuple(peers)
        self._implicitPeers = implicitPeers
        self._patterns = tuple(
            (peer, parseDestinationPattern(peer.destinationPattern))
            for peer in self.peers if peer.destinationPattern is not None)

    def match(self, digits: str, timedOut: bool = False) -> MatchResult:
        """
        Match the digits dialled so far.

        @param digits: the digits (no C{#} terminator).
        @param timedOut: whether the inter-digit timeout has occurred: then
            no more digits come, and C{T} patterns may match.
        @return: the L{MatchResult}.
        """
        waiting = False
        best: tuple[tuple[object, ...], DialPeerLike | ImplicitPeer, str] | None = None
        for dn in self._implicitPeers():
            if dn == digits:
                key = ((-len(dn), 0, 0, 0), 0, 0, 0)
                if best is None or key < best[0]:
                    best = (key, ImplicitPeer(dn), dn)
            elif len(dn) > len(digits) and dn.startswith(digits):
                waiting = True
        for peer, pattern in self._patterns:
            state, score = _evaluate(pattern, digits)
            if state is _State.NONE:
                continue
            if state is not _State.FULL:
                waiting = True
            if state is _State.FULL or (state is _State.FULL_ON_TIMEOUT and timedOut):
                key = (tuple(-count for count in score), 1, peer.preference, peer.tag)
                if best is None or key < best[0]:
                    best = (key, peer, digits)
        if waiting and not timedOut:
            return MatchResult(MatchKind.NEEDS_MORE)
        if best is None:
            return MatchResult(MatchKind.NO_MATCH)
        _, winner, matched = best
        if isinstance(winner, ImplicitPeer):
            return MatchResult(MatchKind.COMPLETE, winner, winner.dn)
        pattern = next(parsed for peer, parsed in self._patterns if peer is winner)
        return MatchResult(MatchKind.COMPLETE, winner, forwardedDigits(winner, pattern, matched))


def _fits(template: str, digits: str) -> bool:
    """@return: whether C{digits} fill C{template} (digits and C{.})."""
    return len(digits) == len(template) and all(
        t == d or (t == "." and d in DIGITS) for t, d in zip(template, digits))


@frozen
class DialplanPattern:
    """
    One IOS C{dialplan-pattern tag pattern extension-length n
    [extension-pattern p] [no-reg]}: the full (E.164) numbers of the
    extensions.

    @ivar tag: lower tags are tried first.
    @ivar pattern: the full number, digits and C{.} (e.g.
        C{"40855501.."}).
    @ivar extensionLength: how many digits an extension has.
    @ivar extensionPattern: the extension's digits and C{.} when they are
        not the pattern's last C{extensionLength} characters; its C{.}s take
        the pattern's C{.} digits in order.
    @ivar noReg: IOS's C{no-reg} (do not register the full numbers with a
        gatekeeper); there is no gatekeeper here, so it changes no routing.
    """

    tag: int
    pattern: str
    extensionLength: int
    extensionPattern: str | None = None
    noReg: bool = False

    @property
    def _extensionTemplate(self) -> str:
        if self.extensionPattern is not None:
            return self.extensionPattern
        return self.pattern[-self.extensionLength:]

    def extensionOf(self, number: str) -> str | None:
        """
        @return: the extension the full C{number} stands for, or L{None}
            when the number does not match the pattern.
        """
        if not _fits(self.pattern, number):
            return None
        if self.extensionPattern is None:
            return number[-self.extensionLength:]
        wild = iter(d for t, d in zip(self.pattern, number) if t == ".")
        return "".join(next(wild) if t == "." else t for t in self.extensionPattern)

    def expand(self, extension: str) -> str | None:
        """
        @return: the full number of C{extension}, or L{None} when the
            extension is not in this pattern's range.
        """
        template = self._extensionTemplate
        if not _fits(template, extension):
            return None
        if self.extensionPattern is None:
            return self.pattern[:-self.extensionLength] + extension
        wild = iter(d for t, d in zip(template, extension) if t == ".")
        return "".join(next(wild) if t == "." else t for t in self.pattern)

    def couldBecome(self, digits: str) -> bool:
        """@return: whether more digits could make C{digits} a full number."""
        return len(digits) < len(self.pattern) and _fits(self.pattern[:len(digits)], digits)


def dialplanPatternProblem(pattern: str, extensionLength: int, extensionPattern: str | None) -> str | None:
    """
    @return: what is wrong with a C{dialplan-pattern}, or L{None}.
    """
    if not pattern or not set(pattern) <= DIGITS | {"."}:
        return "expected a pattern of digits and '.'"
    if not 1 <= extensionLength <= len(pattern):
        return f"extension-length must be 1..{len(pattern)} (the pattern's length)"
    if extensionPattern is None:
        if "." in pattern[:-extensionLength]:
            return "every '.' must be in the last extension-length digits (or give extension-pattern)"
        return None
    if not set(extensionPattern) <= DIGITS | {"."}:
        return "extension-pattern: expected digits and '.'"
    if len(extensionPattern) != extensionLength:
        return f"extension-pattern must have extension-length ({extensionLength}) characters"
    if extensionPattern.count(".") != pattern.count("."):
        return "extension-pattern must have as many '.' as the pattern"
    return None


class DialplanPatterns:
    """
    The configured C{dialplan-pattern}s, lowest tag first.
    """

    def __init__(self, patterns: Iterable[DialplanPattern] = ()) -> None:
        self.patterns = tuple(sorted(patterns, key=lambda p: p.tag))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def extensionOf(self, number: str) -> tuple[DialplanPattern, str] | None:
        """@return: the first pattern the full C{number} matches and its extension."""
        for pattern in self.patterns:
            extension = pattern.extensionOf(number)
            if extension is not None:
                return pattern, extension
        return None

    def expand(self, extension: str) -> str | None:
        """@return: the full number of C{extension} by the first pattern covering it."""
        for pattern in self.patterns:
            full = pattern.expand(extension)
            if full is not None:
                return full
        return None

    def couldBecome(self, digits: str) -> bool:
        """@return: whether more digits could make C{digits} a full number."""
        return any(pattern.couldBecome(digits) for pattern in self.patterns)

    def isLocal(self, number: str) -> bool:
        """
        @return: whether a call to C{number} is local (IOS: the called
            number matches a dial-plan pattern, as a full number or an
            extension); any other call through a voice port is external.
        """
        return any(pattern.extensionOf(number) is not None or pattern.expand(number) is not None
                   for pattern in self.patterns)
