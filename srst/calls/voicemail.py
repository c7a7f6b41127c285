# -*- test-case-name: tests.test_calls_voicemail -*-
"""
Voice-mail integration: IOS C{voicemail} and C{vm-integration}.

A voice-mail system behind an analogue voice port learns why a call
reaches it from DTMF digits the router sends once the port has answered.
IOS configures them as C{pattern} commands under C{vm-integration}::

    pattern direct tag1 {CGN|CDN|FDN} [tag2 {CGN|CDN|FDN}] [tag3 {CGN|CDN|FDN}] [last-tag]
    pattern ext-to-ext busy ...
    pattern ext-to-ext no-answer ...

A tag is 1 to 3 DTMF characters (C{0-9 * # A-D}) sent as written; a token
is replaced by a number of the call: C{CGN} the calling number, C{CDN} the
called number (the extension first dialled, for a forwarded call), C{FDN}
the number that forwarded the call last.  With C{# CDN #2}, a call to 6000
forwarded busy sends C{#6000#2}.

L{VmPattern} is one such pattern, L{VmIntegration} the three patterns
(C{direct}: the call was made to the voice-mail number; C{ext-to-ext
busy} and C{ext-to-ext no-answer}: it was forwarded there), and
L{Voicemail} the voice-mail number with them.  Pure data and logic: no
clock, no I/O (the C{call-manager-fallback} configuration builds them).
"""

from __future__ import annotations

import enum
import re
from typing import Sequence

from attrs import frozen

TOKENS = ("CGN", "CDN", "FDN")
"""The IOS tokens: calling, called and forwarding number."""

_TAG = re.compile(r"[0-9*#A-Da-d]{1,3}\Z")

PATTERN_SYNTAX = ("expected tag1 TOKEN [tag2 TOKEN] [tag3 TOKEN] [last-tag], "
                  "tags of 1 to 3 DTMF characters (0-9 * # A-D), tokens CGN, CDN or FDN")
"""What a bad pattern's configuration error says is expected."""


class VmKind(enum.Enum):
    """Why a call reaches the voice-mail number: which pattern applies."""

    DIRECT = "direct"
    BUSY = "ext-to-ext busy"
    NO_ANSWER = "ext-to-ext no-answer"


def patternProblem(items: Sequence[str]) -> str | None:
    """
    @param items: a pattern's tags and tokens, in order.
    @return: why it is not an IOS pattern (L{PATTERN_SYNTAX}), or L{None}.
    """
    if not 2 <= len(items) <= 7:
        return PATTERN_SYNTAX
    for position, item in enumerate(items):
        isToken = item.upper() in TOKENS
        if isToken != (position % 2 == 1) or (not isToken and not _TAG.match(item)):
            return PATTERN_SYNTAX
    return None


@frozen
class VmPattern:
    """
    One C{vm-integration} pattern.

    @ivar items: its tags and tokens in order (tokens upper case), as
        L{patternProblem} accepts them.
    """

    items: tuple[str, ...]

    def digits(self, calling: str, called: str, forwarding: str) -> str:
        """
        @return: the DTMF digits of this pattern for a call: tags as
            written, tokens replaced by the numbers.
        """
        numbers = {"CGN": calling, "CDN": called, "FDN": forwarding}
        return "".join(numbers.get(item, item.upper()) for item in self.items)

    def __str__(self) -> str:
        return " ".join(self.items)


@frozen
class VmIntegration:
    """
    C{vm-integration}: the patterns, each L{None} when not configured.
    """

    direct: VmPattern | None = None
    extToExtBusy: VmPattern | None = None
    extToExtNoAnswer: VmPattern | None = None

    def pattern(self, kind: VmKind) -> VmPattern | None:
        """@return: the pattern for C{kind}, if configured."""
        return {VmKind.DIRECT: self.direct, VmKind.BUSY: self.extToExtBusy,
                VmKind.NO_ANSWER: self.extToExtNoAnswer}[kind]


@frozen
class Voicemail:
    """
    The voice-mail number and its integration.

    @ivar number: C{voicemail}: the voice-mail pilot number.
    @ivar integration: the C{vm-integration} patterns.
    """

    number: str
    integration: VmIntegration = VmIntegration()

    def digits(self, kind: VmKind, calling: str, called: str, forwarding: str) -> str | None:
        """
        @param kind: why the call reached the voice-mail number.
        @return: the digits to send once the voice-mail system answers, or
            L{None} when no pattern is configured for C{kind}.
        """
        pattern = self.integration.pattern(kind)
        return pattern.digits(calling, called, forwarding) if pattern is not None else None


__all__ = ["PATTERN_SYNTAX", "TOKENS", "VmIntegration", "VmKind", "VmPattern", "Voicemail", "patternProblem"]
