# -*- test-case-name: tests.test_ports_mixer -*-
"""
The conference mixer of the router's DSP, sans-IO: G.711 payloads in, one
mix-minus payload per participant out (each hears the sum of the others,
clipped to 16 bits, in its own law), 20 ms at a time.

Every per-sample step runs in C: decoding is C{map} over a 256-entry
table of I{offset} samples (linear + 32768, never negative), summing is
C{map(operator.add, ...)}, and clipping and encoding are one lookup in a
bytes table indexed by the offset sum (L{clipEncodeTable}).  No numpy, no
C{audioop} (deprecated in Python 3.11, gone in 3.13).

A L{JitterSlot} per participant holds what arrived between two ticks.
"""

from __future__ import annotations

from functools import lru_cache
from operator import add, sub
from typing import Optional, Sequence

from srst.ports.g711 import FRAME_SAMPLES, G711Law, _decodeTable, _encodeTable

OFFSET = 32768
"""Added to every linear sample so that an offset sum indexes a table."""

OFFSET_DECODE: dict[G711Law, tuple[int, ...]] = {
    law: tuple(sample + OFFSET for sample in _decodeTable(law)) for law in G711Law}
"""Per law, the 256 G.711 codes decoded to linear + 32768."""

JITTER_DEPTH = 3
"""Payloads a L{JitterSlot} holds at most (60 ms)."""


@lru_cache(maxsize=None)
def clipEncodeTable(law: G711Law, inputs: int) -> bytes:
    """
    The encoder of a sum of C{inputs} offset samples.

    @param law: the law to encode in.
    @param inputs: how many offset samples are summed (1 or more).
    @return: a table whose entry C{s} (0 to C{inputs * 65535}) is the
        G.711 code of the linear sum C{s - inputs * 32768} clipped to
        -32768..32767.
    """
    if inputs < 1:
        raise ValueError("a mix sums at least one input, not %d" % (inputs,))
    table = _encodeTable(law)  # indexed by the sample as unsigned 16 bits
    ordered = table[OFFSET:] + table[:OFFSET]  # indexed by sample + 32768
    below = (inputs - 1) * OFFSET
    size = inputs * 65535 + 1
    above = size - below - len(ordered)
    return ordered[:1] * below + ordered + ordered[-1:] * above


def _decode(payload: Optional[bytes], law: G711Law, samples: int) -> list[int]:
    if payload is None:
        return [OFFSET] * samples  # exact zero (an A-law silence code is +8)
    if len(payload) != samples:
        payload = payload[:samples].ljust(samples, bytes((law.silence,)))
    return list(map(OFFSET_DECODE[law].__getitem__, payload))


def mixMinus(payloads: Sequence[Optional[bytes]], laws: Sequence[G711Law],
             samples: int = FRAME_SAMPLES) -> list[bytes]:
    """
    Mix one frame of a conference.

    @param payloads: per participant, its G.711 payload of this interval,
        or L{None} when none arrived (silence); a payload of another
        length is cut or padded with silence to C{samples}.
    @param laws: per participant, its law (of its input and its output).
    @param samples: samples per frame.
    @return: per participant, the clipped sum of every other
        participant's frame, encoded in its law.
    """
    count = len(payloads)
    if count != len(laws):
        raise ValueError("%d payloads but %d laws" % (count, len(laws)))
    decoded = [_decode(payload, law, samples) for payload, law in zip(payloads, laws)]
    if count == 1:
        return [bytes((laws[0].silence,)) * samples]
    if count == 2:
        return [bytes(map(clipEncodeTable(laws[0], 1).__getitem__, decoded[1])),
                bytes(map(clipEncodeTable(laws[1], 1).__getitem__, decoded[0]))]
    if count == 3:
        first, second, third = decoded
        return [bytes(map(clipEncodeTable(laws[0], 2).__getitem__, map(add, second, third))),
                bytes(map(clipEncodeTable(laws[1], 2).__getitem__, map(add, first, third))),
                bytes(map(clipEncodeTable(laws[2], 2).__getitem__, map(add, first, second)))]
    total = decoded[0]
    for other in decoded[1:]:
        total = list(map(add, total, other))
    return [bytes(map(clipEncodeTable(law, count - 1).__getitem__, map(sub, total, own)))
            for own, law in zip(decoded, laws)]


class JitterSlot:
    """
    What one participant sent since the mixer last took a frame: up to
    L{JITTER_DEPTH} payloads, oldest first.

    @ivar underruns: ticks that found the slot empty.
    @ivar overruns: payloads dropped because the slot was full (the
        oldest goes, so the delay stays bounded).
    """

    def __init__(self, depth: int = JITTER_DEPTH) -> None:
        self.depth = depth
        self.underruns = 0
        self.overruns = 0
        self._payloads: list[bytes] = []

    def __len__(self) -> int:
        return len(self._payloads)

    def put(self, payload: bytes) -> None:
        """Keep one received payload."""
        if len(self._payloads) >= self.depth:
            del self._payloads[0]
            self.overruns += 1
        self._payloads.append(payload)

    def take(self) -> Optional[bytes]:
        """@return: the oldest payload, or L{None} (an underrun)."""
        if not self._payloads:
            self.underruns += 1
            return None
        return self._payloads.pop(0)
