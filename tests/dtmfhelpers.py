"""
A DTMF detector for the tests: the Goertzel algorithm measures the power
of each ITU-T Q.23 frequency in 20 ms blocks of 8 kHz linear PCM, and a
digit is heard when one low-group and one high-group frequency stand well
above the others and above the noise floor for at least two blocks in a
row (40 ms, the Q.24 minimum).

Written for the tests, independently of L{srst.ports.tones} (which only
lists the frequencies; this module has its own table).
"""

from __future__ import annotations

import math
from typing import Sequence

_LOW = (697.0, 770.0, 852.0, 941.0)
_HIGH = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYS = ("123A", "456B", "789C", "*0#D")
_BLOCK = 160
_RATE = 8000


def goertzelPower(samples: Sequence[int], frequency: float, rate: int = _RATE) -> float:
    """
    @return: the power of C{frequency} in C{samples} (Goertzel).
    """
    coefficient = 2.0 * math.cos(2.0 * math.pi * frequency / rate)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    return previous * previous + before * before - coefficient * previous * before


def blockDigit(block: Sequence[int]) -> str | None:
    """
    @return: the digit sounding in one block, or L{None}.
    """
    energy = sum(sample * sample for sample in block)
    if energy < 1e6 * len(block) / _BLOCK:
        return None
    low = [goertzelPower(block, f) for f in _LOW]
    high = [goertzelPower(block, f) for f in _HIGH]
    row, column = max(range(4), key=low.__getitem__), max(range(4), key=high.__getitem__)
    if any(p * 10 > low[row] for i, p in enumerate(low) if i != row):
        return None
    if any(p * 10 > high[column] for i, p in enumerate(high) if i != column):
        return None
    # Both tones together must carry most of the block's energy.
    if (low[row] + high[column]) * 2.0 / len(block) < 0.5 * energy:
        return None
    return _KEYS[row][column]


def detectDigits(samples: Sequence[int]) -> str:
    """
    @param samples: 8 kHz signed 16-bit linear PCM.
    @return: the DTMF digits heard, in order (a digit counts once however
        long it lasts, and again only after a block without it).
    """
    digits = []
    last, run = None, 0
    for start in range(0, len(samples) - _BLOCK + 1, _BLOCK):
        digit = blockDigit(samples[start:start + _BLOCK])
        if digit is not None and digit == last:
            run += 1
            if run == 2:
                digits.append(digit)
        else:
            last, run = digit, 1
    return "".join(digits)
