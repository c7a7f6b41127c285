# -*- test-case-name: tests.test_calls_transfer -*-
"""
Call transfer (sccp.md 5.4 (h)).

The transferor A is connected to B.  Transfer on A's leg puts the call on
hold and opens a consult leg on the same endpoint (dial tone, digits).
Then:

  - blind (C{transfer-system blind|full-blind}, a target matching a
    C{transfer-pattern ... blind}, or a DN without a second channel:
    C{max-dn N dual-line} gives one): as soon as the target C rings, or
    when A presses Transfer again while C rings, A's legs are cleared and B
    is re-targeted to the ringing C, which shows B calling, redirected by
    A (reason transfer); B and C connect when C answers;
  - consultative (C{full-consult}, C{local-consult}): A talks to C, then
    Transfer again joins B and C with new media (fresh keys) and clears A.

A target that is not a local number is allowed only when it matches a
C{transfer-pattern} (L{patternMatches}); otherwise the consult leg gets
"Can Not Complete Transfer" and the original call resumes.  A consult leg
cleared before the transfer completes (EndCall, the target hangs up, a
failure, the phone unregistering) resumes the held call when it is still
there; a held leg cleared first leaves the consult leg as an ordinary call.

This module holds the rules: which numbers may be transfer targets
(L{patternMatches}, L{allowed}), whether transfers are blind (L{isBlind}),
and the record of a transfer in progress (L{Transfer}).  The engine
(L{srst.calls.engine.CallEngine}), which owns the calls, legs and
transfers, runs them: L{CallEngine.transfer
<srst.calls.engine.CallEngine.transfer>} starts and completes one.
"""

from __future__ import annotations

import re
from typing import Sequence

from attrs import frozen

from srst.calls.leg import Leg

_WILDCARDS = {".": "[0-9*#]", "T": "[0-9*#]*"}


def patternMatches(pattern: str, number: str) -> bool:
    """
    @param pattern: an IOS dial pattern: digits, C{.} (one digit), C{T}
        (any further digits), C{[..]} ranges.
    @param number: a dialled number.
    @return: whether the whole number matches.
    """
    parts = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            end = pattern.find("]", i)
            if end < 0:
                return False
            parts.append("[" + re.escape(pattern[i + 1:end]).replace("\\-", "-") + "]")
            i = end + 1
            continue
        parts.append(_WILDCARDS.get(char, re.escape(char)))
        i += 1
    return re.fullmatch("".join(parts), number) is not None


def allowed(patterns: Sequence[str], number: str) -> bool:
    """@return: whether a non-local C{number} may be a transfer target."""
    return any(patternMatches(p, number) for p in patterns)


@frozen(eq=False)
class Transfer:
    """
    A transfer in progress.

    @ivar held: the transferor's held leg (in the call with B).
    @ivar consult: the transferor's consult leg.
    @ivar blind: whether the transfer completes as soon as the target rings.
    """

    held: Leg
    consult: Leg
    blind: bool


def isBlind(system: str, channels: int) -> bool:
    """
    @param system: C{transfer-system}.
    @param channels: channels per DN (C{max-dn ... dual-line}: 2).
    @return: whether transfers are blind.
    """
    return system in ("blind", "full-blind") or channels < 2


__all__ = ["Transfer", "allowed", "isBlind", "patternMatches"]
