# -*- test-case-name: tests.test_ports_mixer -*-
"""
The conference mixer of the router's DSP, sans-IO: G.711 payloads in, one
mix-minus payload per participant out (each hears the sum of the others,
clipped to 16 bits, in its own law), 20 ms at a time.

Every per-sample step runs in C, with no Python-level loop per sample (no
numpy, no C{audioop}: deprecated in Python 3.11, gone in 3.13).  In a
three-party conference each participant hears at most two others, and that
mix is one lookup per sample: the two frames are interleaved into 16-bit
words by slice assignment and each word indexes a 64 KiB L{pairTable}
(decode both, sum, clip, encode); one other talker is a C{bytes.translate}.
More talkers go through I{offset} samples (linear + 32768, never
negative): decoding is C{map} over a 256-entry table, summing is
C{map(operator.add, ...)}, and clipping and encoding are one lookup in a
bytes table indexed by the offset sum (L{clipEncodeTable}).

A L{JitterSlot} per participant holds what arrived between two ticks.
"""

from __future__ import annotations

import sys
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


@lru_cache(maxsize=None)
def transcodeTable(source: G711Law, law: G711Law) -> bytes:
    """
    @return: the C{bytes.translate} table from C{source} codes to C{law}
        codes of the same sample.
    """
    table = clipEncodeTable(law, 1)
    return bytes(table[OFFSET_DECODE[source][code]] for code in range(256))


@lru_cache(maxsize=None)
def pairTable(first: G711Law, second: G711Law, law: G711Law) -> bytes:
    """
    The mix of two participants in one lookup per sample.

    @return: a table whose entry C{(a << 8) | b} is the C{law} code of the
        clipped sum of C{first} code C{a} and C{second} code C{b}.
    """
    table = clipEncodeTable(law, 2)
    highs = [value for value in OFFSET_DECODE[first] for _ in range(256)]
    lows = OFFSET_DECODE[second] * 256
    return bytes(map(table.__getitem__, map(add, highs, lows)))


def _fit(payload: bytes, law: G711Law, samples: int) -> bytes:
    if len(payload) == samples:
        return payload
    return payload[:samples].ljust(samples, bytes((law.silence,)))


def _pair(first: bytes, firstLaw: G711Law, second: bytes, secondLaw: G711Law, law: G711Law) -> bytes:
    # Interleave the two frames into native 16-bit words (first << 8) | second,
    # by slice assignment: no Python-level step per sample.
    words = bytearray(2 * len(first))
    high, low = (1, 0) if sys.byteorder == "little" else (0, 1)
    words[high::2] = first
    words[low::2] = second
    return bytes(map(pairTable(firstLaw, secondLaw, law).__getitem__, memoryview(words).cast("H")))


def _mixTotal(frames: Sequence[Optional[bytes]], laws: Sequence[G711Law], samples: int) -> list[bytes]:
    silence = [OFFSET] * samples  # exact zero (an A-law silence code is +8)
    decoded = [silence if frame is None else list(map(OFFSET_DECODE[law].__getitem__, frame))
               for frame, law in zip(frames, laws)]
    total = decoded[0]
    for other in decoded[1:]:
        total = list(map(add, total, other))
    inputs = len(frames) - 1
    return [bytes(map(clipEncodeTable(law, inputs).__getitem__, map(sub, total, own)))
            for own, law in zip(decoded, laws)]


def mixMinus(payloads: Sequence[Optional[bytes]], laws: Sequence[G711Law],
             samples: int = FRAME_SAMPLES) -> list[bytes]:
    """
    Mix one frame of a conference.

    Up to two other talkers (a three-party conference) cost one table
    lookup per sample: a C{bytes.translate} for one, a L{pairTable}
    lookup for two; more go through the offset sum, C{total - own}.

    @param payloads: per participant, its G.711 payload of this interval,
        or L{None} when none arrived (silence); a payload of another
        length is cut or padded with silence to C{samples}.
    @param laws: per participant, its law (of its input and its output).
    @param samples: samples per frame.
    @return: per participant, the clipped sum of every other
        participant's frame, encoded in its law.
    """
    if len(payloads) != len(laws):
        raise ValueError("%d payloads but %d laws" % (len(payloads), len(laws)))
    frames = [None if payload is None else _fit(payload, law, samples) for payload, law in zip(payloads, laws)]
    present = [n for n, frame in enumerate(frames) if frame is not None]
    if len(present) > 3:
        return _mixTotal(frames, laws, samples)
    out = []
    for n, law in enumerate(laws):
        others = [frames[m] for m in present if m != n]
        otherLaws = [laws[m] for m in present if m != n]
        if not others:
            out.append(bytes((law.silence,)) * samples)
        elif len(others) == 1:
            out.append(others[0].translate(transcodeTable(otherLaws[0], law)))
        else:
            out.append(_pair(others[0], otherLaws[0], others[1], otherLaws[1], law))
    return out


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
