"""
Tests for L{srst.ports.tones}: the North American call-progress tones and
their shared frames.
"""

import math

from twisted.trial.unittest import SynchronousTestCase

from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.tones import (
    TONE_PLAN,
    CallProgressTone,
    ToneGenerator,
)


def goertzelPower(samples, frequency, rate=8000):
    """The power of C{samples} at C{frequency} (Goertzel algorithm)."""
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


def collect(tone, frameCount):
    """Generate C{frameCount} frames of C{tone}, concatenated."""
    generator = ToneGenerator(tone)
    samples = []
    for _ in range(frameCount):
        frame = generator.nextFrame()
        assert len(frame) == FRAME_SAMPLES
        samples.extend(frame)
    return samples


OTHER_FREQUENCIES = (300, 350, 400, 440, 480, 520, 620, 700, 1000, 1400)


class ToneTests(SynchronousTestCase):
    """
    North American call-progress tones.
    """

    def assertDominant(self, samples, frequencies):
        """
        The power at C{frequencies} is each over 100 times the power at
        any other probed frequency.
        """
        wanted = [goertzelPower(samples, f) for f in frequencies]
        others = [goertzelPower(samples, f) for f in OTHER_FREQUENCIES
                  if f not in frequencies]
        self.assertTrue(min(wanted) > 100 * max(others),
                        (frequencies, wanted, others))

    def test_frequencies(self):
        """
        Dial tone is 350+440 Hz, ringback 440+480 Hz, busy and reorder
        480+620 Hz: those two frequencies dominate the first 100 ms.
        """
        for tone, frequencies in (
                (CallProgressTone.DIAL, (350, 440)),
                (CallProgressTone.RINGBACK, (440, 480)),
                (CallProgressTone.BUSY, (480, 620)),
                (CallProgressTone.REORDER, (480, 620))):
            self.assertDominant(collect(tone, 5)[:800], frequencies)

    def test_levels(self):
        """
        Dial tone is at -13 dBm0 per frequency: its RMS equals the
        per-component peak of about 5090, within 2%.
        """
        samples = collect(CallProgressTone.DIAL, 50)
        rms = math.sqrt(sum(x * x for x in samples) / len(samples))
        amplitude = TONE_PLAN[CallProgressTone.DIAL].amplitude
        self.assertTrue(abs(amplitude - 5093) < 5, amplitude)
        self.assertTrue(abs(rms / amplitude - 1.0) < 0.02, rms)
        self.assertTrue(max(map(abs, samples)) < 2 * amplitude + 1)

    def assertCadence(self, tone, onSeconds, offSeconds, cycles=2):
        """
        Samples are sounding exactly during each on period and silent
        during each off period, over C{cycles} cycles.
        """
        on, off = int(onSeconds * 8000), int(offSeconds * 8000)
        period = on + off
        samples = collect(tone, (period * cycles) // FRAME_SAMPLES + 1)
        for cycle in range(cycles):
            start = cycle * period
            burst = samples[start:start + on]
            self.assertTrue(any(burst[:8]))
            self.assertGreater(sum(1 for x in burst if x), 0.9 * on)
            self.assertTrue(any(burst[-4:]))
            self.assertEqual(samples[start + on:start + period],
                             [0] * off)
        self.assertTrue(any(samples[cycles * period:
                                    cycles * period + 8]))

    def test_ringbackCadence(self):
        """
        Ringback is 2 s on, 4 s off.
        """
        self.assertCadence(CallProgressTone.RINGBACK, 2.0, 4.0)

    def test_busyCadence(self):
        """
        Busy is 0.5 s on, 0.5 s off.
        """
        self.assertCadence(CallProgressTone.BUSY, 0.5, 0.5, cycles=3)

    def test_reorderCadence(self):
        """
        Reorder is 0.25 s on, 0.25 s off, even though 0.25 s is not a
        whole number of 20 ms frames.
        """
        self.assertCadence(CallProgressTone.REORDER, 0.25, 0.25, cycles=3)

    def test_dialContinuous(self):
        """
        Dial tone never stops.
        """
        generator = ToneGenerator(CallProgressTone.DIAL)
        self.assertTrue(all(generator.isOn(i)
                            for i in range(0, 800000, 997)))

    def test_silence(self):
        """
        The silence tone is all zeros.
        """
        self.assertEqual(collect(CallProgressTone.SILENCE, 3), [0] * 480)

    def test_phaseContinuity(self):
        """
        Frames of 160 samples concatenate to exactly what one long frame
        holds, so phase carries across frame boundaries.
        """
        small = collect(CallProgressTone.BUSY, 30)
        big = ToneGenerator(CallProgressTone.BUSY,
                            frameSamples=160 * 30).nextFrame()
        self.assertEqual(tuple(small), big)

    def test_iteratorAndPosition(self):
        """
        A generator is an iterator of frames and tracks its position.
        """
        generator = ToneGenerator(CallProgressTone.DIAL)
        first = next(iter(generator))
        self.assertEqual(len(first), 160)
        self.assertEqual(generator.position, 160)
        self.assertEqual(generator.spec.frequencies, (350.0, 440.0))

    def test_encodesToPayloads(self):
        """
        A tone frame compands to a 160-byte payload that decodes close to
        the original.
        """
        frame = ToneGenerator(CallProgressTone.DIAL).nextFrame()
        payload = g711.encode(G711Law.ULAW, frame)
        self.assertEqual(len(payload), 160)
        back = g711.decode(G711Law.ULAW, payload)
        self.assertTrue(all(abs(a - b) <= 256 for a, b in zip(frame, back)))


class ToneCacheTests(SynchronousTestCase):
    """
    Tone frames are computed once per period position and shared.
    """

    def test_cachedFramesMatchTheFormula(self) -> None:
        """Every tone's frames over more than one full cadence equal the samples computed directly."""
        for tone in CallProgressTone:
            generator, reference = ToneGenerator(tone), ToneGenerator(tone)
            for index in range(320):
                start = index * 160
                self.assertEqual(generator.nextFrame(),
                                 tuple(reference.sample(i) for i in range(start, start + 160)), (tone, index))

    def test_framesShared(self) -> None:
        """A repeating tone gives the same frame object again one waveform period later (dial tone: 5 frames)."""
        generator = ToneGenerator(CallProgressTone.DIAL)
        frames = [generator.nextFrame() for _ in range(6)]
        self.assertIs(frames[5], frames[0])
