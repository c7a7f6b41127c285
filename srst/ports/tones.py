# -*- test-case-name: tests.test_ports_tones -*-
"""
Call-progress tones of the North American precise tone plan, generated as
16-bit linear PCM at 8 kHz in 20 ms frames, and DTMF digits (ITU-T Q.23)
as PCM to play once (L{dtmfSamples}).

Every sample is computed from its absolute index in the tone, so phase
and cadence carry across frames exactly, however long the tone plays.
Levels are per frequency component, in dBm0, with a 0 dBm0 sine peaking
3.17 dB below full scale (the G.711 digital milliwatt).
"""

from __future__ import annotations

import enum
import math
from functools import lru_cache
from typing import Any

from attrs import define, field, frozen, validators

from srst.ports.g711 import FRAME_SAMPLES, SAMPLE_RATE

_FULL_SCALE = 32767
_DIGITAL_MILLIWATT_DB = 3.17


@frozen
class ToneSpec:
    """
    One call-progress tone.

    @ivar frequencies: the component frequencies in Hz.
    @ivar levelDbm0: the level of each component, in dBm0.
    @ivar cadence: (on, off) pairs in seconds, repeated; empty for a
        continuous tone.
    """

    frequencies: tuple[float, ...]
    levelDbm0: float
    cadence: tuple[tuple[float, float], ...] = ()

    @property
    def amplitude(self) -> float:
        """The peak amplitude of each component in 16-bit PCM."""
        return _FULL_SCALE * 10.0 ** (
            (self.levelDbm0 - _DIGITAL_MILLIWATT_DB) / 20.0)


class CallProgressTone(enum.Enum):
    """The tones a voice port plays to its line."""

    DIAL = "dial"
    RINGBACK = "ringback"
    BUSY = "busy"
    REORDER = "reorder"
    SILENCE = "silence"


TONE_PLAN = {
    CallProgressTone.DIAL: ToneSpec((350.0, 440.0), -13.0),
    CallProgressTone.RINGBACK: ToneSpec((440.0, 480.0), -19.0,
                                        ((2.0, 4.0),)),
    CallProgressTone.BUSY: ToneSpec((480.0, 620.0), -24.0, ((0.5, 0.5),)),
    CallProgressTone.REORDER: ToneSpec((480.0, 620.0), -24.0,
                                       ((0.25, 0.25),)),
    CallProgressTone.SILENCE: ToneSpec((), 0.0),
}
"""The North American precise tone plan (Telcordia GR-506 / LSSGR)."""


DTMF_FREQUENCIES = {
    digit: (low, high)
    for row, low in zip(("123A", "456B", "789C", "*0#D"), (697.0, 770.0, 852.0, 941.0))
    for digit, high in zip(row, (1209.0, 1336.0, 1477.0, 1633.0))
}
"""The low- and high-group frequencies of each DTMF digit (ITU-T Q.23)."""

DTMF_LEVEL_DBM0 = -7.0
"""The level of each of a digit's two frequencies, in dBm0."""

DTMF_ON_SECONDS = 0.1
DTMF_OFF_SECONDS = 0.1
"""How long a digit sounds, and the silence after it (Q.24 asks at least
40 ms of each; 100 ms + 100 ms is what every receiver detects)."""


@lru_cache(maxsize=64)
def dtmfSamples(digits: str, sampleRate: int = SAMPLE_RATE) -> tuple[int, ...]:
    """
    DTMF digits as linear PCM: each digit's two Q.23 frequencies for
    L{DTMF_ON_SECONDS}, then L{DTMF_OFF_SECONDS} of silence.  The same
    digits give the same tuple (cached), so ports playing them share it.

    @param digits: C{0-9 * # A-D} (lower case accepted).
    @param sampleRate: samples per second.
    @return: signed 16-bit samples.
    @raise ValueError: for a character that is no DTMF digit.
    """
    amplitude = ToneSpec((), DTMF_LEVEL_DBM0).amplitude
    on = round(DTMF_ON_SECONDS * sampleRate)
    off = (0,) * round(DTMF_OFF_SECONDS * sampleRate)
    samples: list[int] = []
    for digit in digits.upper():
        if digit not in DTMF_FREQUENCIES:
            raise ValueError("%r is no DTMF digit" % (digit,))
        low, high = DTMF_FREQUENCIES[digit]
        samples.extend(
            round(amplitude * (math.sin(2.0 * math.pi * low * i / sampleRate)
                               + math.sin(2.0 * math.pi * high * i / sampleRate)))
            for i in range(on))
        samples.extend(off)
    return tuple(samples)


def _cadenceSamples(spec: ToneSpec,
                    sampleRate: int) -> tuple[tuple[int, int], ...]:
    return tuple((round(on * sampleRate), round(off * sampleRate))
                 for on, off in spec.cadence)


_MAX_CACHED_PERIOD = 10 * 60 * SAMPLE_RATE
"""Tones repeating within ten minutes have their frames cached."""

_FRAMES: dict[tuple[Any, ...], tuple[int, ...]] = {}
"""Computed tone frames by (tone, rate, frame size, start within the period)."""


def _period(spec: ToneSpec, sampleRate: int, cycle: int) -> int:
    """
    @return: the samples after which a tone repeats exactly: the least
        common multiple of its waveform's period (the rate over the
        frequencies' greatest common divisor, for whole frequencies) and its
        cadence cycle.
    """
    period = 1
    if spec.frequencies:
        if not all(float(f).is_integer() for f in spec.frequencies):
            return 1 << 62
        common = 0
        for f in spec.frequencies:
            common = math.gcd(common, int(f))
        period = sampleRate // math.gcd(sampleRate, common)
    if cycle:
        period = period * cycle // math.gcd(period, cycle)
    return period


@define
class ToneGenerator:
    """
    Plays one tone as successive PCM frames.

    @ivar tone: the tone playing.
    @ivar sampleRate: samples per second (8000).
    @ivar frameSamples: samples per frame (160, 20 ms).
    @ivar position: index of the next sample to generate.
    """

    tone: CallProgressTone = field(
        validator=validators.instance_of(CallProgressTone))
    sampleRate: int = field(default=SAMPLE_RATE,
                            validator=[validators.instance_of(int),
                                       validators.gt(0)])
    frameSamples: int = field(default=FRAME_SAMPLES,
                              validator=[validators.instance_of(int),
                                         validators.gt(0)])
    position: int = field(default=0, init=False)
    _spec: ToneSpec = field(init=False)
    _cadence: tuple[tuple[int, int], ...] = field(init=False)
    _cycle: int = field(init=False)
    _period: int = field(init=False)

    def __attrs_post_init__(self) -> None:
        self._spec = TONE_PLAN[self.tone]
        self._cadence = _cadenceSamples(self._spec, self.sampleRate)
        self._cycle = sum(on + off for on, off in self._cadence)
        self._period = _period(self._spec, self.sampleRate, self._cycle)

    @property
    def spec(self) -> ToneSpec:
        """The tone's frequencies, level and cadence."""
        return self._spec

    def isOn(self, index: int) -> bool:
        """
        Whether the cadence sounds the tone at a sample.

        @param index: the sample's index from the tone's start.
        @return: L{True} during an "on" period or for a continuous tone.
        """
        if not self._spec.frequencies:
            return False
        if not self._cadence:
            return True
        offset = index % self._cycle
        for on, off in self._cadence:
            if offset < on:
                return True
            offset -= on + off
            if offset < 0:
                return False
        return False

    def sample(self, index: int) -> int:
        """
        One sample of the tone.

        @param index: the sample's index from the tone's start.
        @return: the signed 16-bit sample.
        """
        if not self.isOn(index):
            return 0
        t = index / self.sampleRate
        value = sum(math.sin(2.0 * math.pi * f * t)
                    for f in self._spec.frequencies)
        return max(-32768, min(32767,
                               round(self._spec.amplitude * value)))

    def nextFrame(self) -> tuple[int, ...]:
        """
        The next frame, continuing phase and cadence from the last one.
        A tone repeats after L{period} samples, so each distinct frame is
        computed once per process and then shared.

        @return: C{frameSamples} signed 16-bit samples.
        """
        start = self.position
        self.position += self.frameSamples
        if self._period > _MAX_CACHED_PERIOD:
            return tuple(self.sample(i) for i in range(start, self.position))
        offset = start % self._period
        key = (self.tone, self.sampleRate, self.frameSamples, offset)
        frame = _FRAMES.get(key)
        if frame is None:
            frame = tuple(self.sample(i) for i in range(offset, offset + self.frameSamples))
            _FRAMES[key] = frame
        return frame

    def __iter__(self) -> "ToneGenerator":
        return self

    def __next__(self) -> tuple[int, ...]:
        return self.nextFrame()
