"""
Comparing recorded audio with what was played: G.711 payloads decoded
back to linear PCM, and the normalised cross-correlation the acceptance
criteria use (>= 0.9 for a recording of the music-on-hold file).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from srst.ports import g711
from srst.ports.g711 import G711Law


def decodePayloads(payloads: Iterable[bytes], law: G711Law) -> list[int]:
    """@return: the linear samples of G.711 C{payloads}, in order."""
    samples: list[int] = []
    for payload in payloads:
        samples.extend(g711.decode(law, payload))
    return samples


def _ncc(a: Sequence[int], b: Sequence[int]) -> float:
    n = min(len(a), len(b))
    if n == 0:
        return 0.0
    dot = sum(x * y for x, y in zip(a[:n], b[:n]))
    energy = math.sqrt(sum(x * x for x in a[:n]) * sum(y * y for y in b[:n]))
    return dot / energy if energy else 0.0


def normalizedXcorr(a: Sequence[int], b: Sequence[int], maxLag: int = 0) -> float:
    """
    The best normalised cross-correlation of C{a} against C{b} shifted by
    up to C{maxLag} samples either way (1.0: the same waveform).
    """
    best = -1.0
    for lag in range(-maxLag, maxLag + 1):
        if lag >= 0:
            value = _ncc(a[lag:], b)
        else:
            value = _ncc(a, b[-lag:])
        best = max(best, value)
    return best
