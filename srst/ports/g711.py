# -*- test-case-name: tests.test_ports_g711 -*-
"""
G.711 (ITU-T G.711) µ-law and A-law companding of 16-bit linear PCM, and
packetisation into 20 ms RTP payloads.

The algorithms are the standard segment searches of the G.711 reference
(the Sun Microsystems public-domain C code that most implementations and
Python's former C{audioop} module follow): µ-law works on the top 14 bits
with a bias of 0x84, A-law on the top 13 bits.  Tables are built on first
use.

Linear PCM is a sequence of signed 16-bit integers; G.711 is C{bytes}, one
byte per sample.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from typing import Iterable, Iterator, Sequence

SAMPLE_RATE = 8000
"""G.711 samples per second."""

FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
"""Samples (and G.711 bytes) in one 20 ms RTP payload: 160."""

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159
_ULAW_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_ALAW_SEGMENT_ENDS = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


class G711Law(enum.Enum):
    """
    The two G.711 companding laws.

    @ivar payloadType: the static RTP payload type (RFC 3551).
    @ivar silence: the code of a zero sample.
    """

    ULAW = "PCMU"
    ALAW = "PCMA"

    @property
    def payloadType(self) -> int:
        """The static RTP payload type: 0 for PCMU, 8 for PCMA."""
        return 0 if self is G711Law.ULAW else 8

    @property
    def silence(self) -> int:
        """The code that decodes to zero: 0xFF (µ-law), 0xD5 (A-law)."""
        return 0xFF if self is G711Law.ULAW else 0xD5


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for segment, end in enumerate(ends):
        if value <= end:
            return segment
    return len(ends)


def linearToUlaw(sample: int) -> int:
    """
    Compress one 16-bit linear sample to µ-law.

    @param sample: a signed 16-bit sample.
    @return: the µ-law code, 0 to 255.
    """
    value = sample >> 2
    if value < 0:
        value = -value
        mask = 0x7F
    else:
        mask = 0xFF
    value = min(value, _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = _segment(value, _ULAW_SEGMENT_ENDS)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def ulawToLinear(code: int) -> int:
    """
    Expand one µ-law code to 16-bit linear.

    @param code: the µ-law code, 0 to 255.
    @return: the signed 16-bit sample (-32124 to 32124).
    """
    code = ~code & 0xFF
    t = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return _ULAW_BIAS - t if code & 0x80 else t - _ULAW_BIAS


def linearToAlaw(sample: int) -> int:
    """
    Compress one 16-bit linear sample to A-law.

    @param sample: a signed 16-bit sample.
    @return: the A-law code, 0 to 255 (even bits inverted).
    """
    value = sample >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    segment = _segment(value, _ALAW_SEGMENT_ENDS)
    if segment >= 8:
        return 0x7F ^ mask
    code = segment << 4
    if segment < 2:
        code |= (value >> 1) & 0x0F
    else:
        code |= (value >> segment) & 0x0F
    return code ^ mask


def alawToLinear(code: int) -> int:
    """
    Expand one A-law code to 16-bit linear.

    @param code: the A-law code, 0 to 255.
    @return: the signed 16-bit sample (-32256 to 32256).
    """
    code ^= 0x55
    t = (code & 0x0F) << 4
    segment = (code & 0x70) >> 4
    if segment == 0:
        t += 8
    else:
        t = (t + 0x108) << (segment - 1)
    return t if code & 0x80 else -t


@lru_cache(maxsize=None)
def _encodeTable(law: G711Law) -> bytes:
    encode = linearToUlaw if law is G711Law.ULAW else linearToAlaw
    # Indexed by the sample as an unsigned 16-bit value.
    return bytes(encode(i - 65536 if i >= 32768 else i)
                 for i in range(65536))


@lru_cache(maxsize=None)
def _decodeTable(law: G711Law) -> tuple[int, ...]:
    decode = ulawToLinear if law is G711Law.ULAW else alawToLinear
    return tuple(decode(code) for code in range(256))


def encode(law: G711Law, samples: Iterable[int]) -> bytes:
    """
    Compress linear PCM.

    @param law: µ-law or A-law.
    @param samples: signed 16-bit samples.
    @return: one code byte per sample.
    @raise ValueError: for a sample outside -32768..32767.
    """
    table = _encodeTable(law)
    out = bytearray()
    for sample in samples:
        if not -32768 <= sample <= 32767:
            raise ValueError("sample %r is not signed 16-bit" % (sample,))
        out.append(table[sample & 0xFFFF])
    return bytes(out)


def decode(law: G711Law, data: bytes) -> tuple[int, ...]:
    """
    Expand G.711 codes to linear PCM.

    @param law: µ-law or A-law.
    @param data: one code byte per sample.
    @return: signed 16-bit samples.
    """
    table = _decodeTable(law)
    return tuple(table[code] for code in data)


def frames(samples: Sequence[int],
           size: int = FRAME_SAMPLES) -> Iterator[tuple[int, ...]]:
    """
    Cut linear PCM into frames, padding the last one with silence.

    @param samples: signed 16-bit samples.
    @param size: samples per frame (160 for 20 ms).
    @return: an iterator of frames of exactly C{size} samples.
    """
    for start in range(0, len(samples), size):
        frame = tuple(samples[start:start + size])
        yield frame + (0,) * (size - len(frame))


def packetise(law: G711Law, samples: Sequence[int]) -> list[bytes]:
    """
    Linear PCM to 20 ms G.711 payloads of 160 bytes each; the last one is
    padded with silence.

    @param law: µ-law or A-law.
    @param samples: signed 16-bit samples at 8 kHz.
    @return: the payloads, in order.
    """
    return [encode(law, frame) for frame in frames(samples)]


def depacketise(law: G711Law, payloads: Iterable[bytes]) -> tuple[int, ...]:
    """
    G.711 payloads back to one run of linear PCM.

    @param law: µ-law or A-law.
    @param payloads: payloads in playout order.
    @return: signed 16-bit samples.
    """
    return decode(law, b"".join(payloads))
