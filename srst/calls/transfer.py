# -*- test-case-name: tests.test_calls_transfer -*-
"""
Call transfer (sccp.md 5.4 (h)).

The transferor A is connected to B.  Transfer on A's leg puts the call on
hold and opens a consult leg on the same endpoint (dial tone, digits).
Then:

  - blind (C{transfer-system blind|full-blind}, or a DN without a second
    channel: C{max-dn N dual-line} gives one): as soon as the target C
    rings, or when A presses Transfer again while C rings, A's legs are
    cleared and B is re-targeted to the ringing C; B and C connect when C
    answers;
  - consultative (C{full-consult}, C{local-consult}): A talks to C, then
    Transfer again joins B and C with new media (fresh keys) and clears A.

A target that is not a local number is allowed only when it matches a
C{transfer-pattern} (L{patternMatches}); otherwise the consult leg gets
"Can Not Complete Transfer" and the original call resumes.  A consult leg
cleared before the transfer completes (EndCall, the target hangs up, a
failure, the phone unregistering) resumes the held call when it is still
there; a held leg cleared first leaves the consult leg as an ordinary call.

The functions take the engine (L{srst.calls.engine.CallEngine}) and use its
internals; the engine calls them from its public methods.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from attrs import define

from srst.calls.interfaces import Party
from srst.calls.leg import LegStatus
from srst.calls.sharedline import handOver

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


@define(eq=False)
class Transfer:
    """
    A transfer in progress.

    @ivar held: the transferor's held leg (in the call with B).
    @ivar consult: the transferor's consult leg.
    @ivar blind: whether the transfer completes as soon as the target rings.
    """

    held: Any
    consult: Any
    blind: bool


def isBlind(system: str, channels: int) -> bool:
    """
    @param system: C{transfer-system}.
    @param channels: channels per DN (C{max-dn ... dual-line}: 2).
    @return: whether transfers are blind.
    """
    return system in ("blind", "full-blind") or channels < 2


def complete(engine: Any, transfer: Transfer) -> None:
    """
    Join B (the held call's other leg) and the consult leg's target C;
    clear the transferor's legs.
    """
    held, consult = transfer.held, transfer.consult
    first, second = held.call, consult.call
    b, c = first.other(held), second.other(consult)
    ringing = c.status is LegStatus.RING_IN
    engine._transfers.remove(transfer)
    streams = {id(s.leg): s for s in second.media.close()}
    first.media.close()
    for call in (first, second):
        if call in engine._calls:
            engine._calls.remove(call)
    engine.log.info("transfer: {b} to {c} by {a} ({how})", b=b.line.number, c=c.line.number, a=held.line.number,
                    how="blind" if ringing else "consult")
    for leg in (consult, held):
        stream = streams.get(id(leg))
        leg.call = None
        engine._release(leg, stream if stream is not None and stream.active else None)
    call = engine._makeCall(b, c)
    handOver(first.monitors + second.monitors, call, (b.line.number, c.line.number))
    first.monitors, second.monitors = [], []
    call.alternates, second.alternates = second.alternates, []
    for alternate in call.alternates:
        alternate.call = call
    if b.status is LegStatus.HELD:
        call.heldBy.append(b)
    b.call = c.call = call
    b.remote, c.remote = _party(c.line), _party(b.line)
    if ringing:
        b.endpoint.transferred(b, b.remote, True)
        c.endpoint.transferred(c, c.remote, False)
        return
    streamC = streams.get(id(c))
    if streamC is not None and streamC.active:
        c.endpoint.heldByRemote(c, streamC, False)
    for leg in (b, c):
        leg.endpoint.connected(leg, leg.remote, call.encrypted)
    if not call.heldBy:
        engine._openMedia(call, [b, c])


def _party(line: Any) -> Party:
    return Party(line.number, line.name)


__all__ = ["Transfer", "allowed", "complete", "isBlind", "patternMatches"]
