"""
Tests for the voice port DSP building blocks: L{srst.ports.g711},
L{srst.ports.tones} and L{srst.ports.wav}.
"""

import array
import math
import os
import struct
import wave
import warnings

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from srst.ports import g711
from srst.ports.dsp import SimulatedDsp
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.tones import (
    TONE_PLAN,
    CallProgressTone,
    ToneGenerator,
)
from srst.ports.wav import (
    WavAudio,
    WavEncoding,
    WavError,
    formatWav,
    parseWav,
    readWav,
    writeWav,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:
        audioop = None


ALL_SAMPLES = range(-32768, 32768)


def goertzelPower(samples, frequency, rate=8000):
    """The power of C{samples} at C{frequency} (Goertzel algorithm)."""
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


def nativePcm(samples):
    """Samples as native-order 16-bit bytes, as audioop takes them."""
    return array.array("h", samples).tobytes()


class G711Tests(SynchronousTestCase):
    """
    µ-law and A-law companding, against the C{audioop} reference.
    """

    def setUp(self):
        if audioop is None:
            raise SkipTest("audioop (reference G.711) not available")

    def test_ulawEncodeEveryValue(self):
        """
        µ-law encoding of every 16-bit value matches audioop.lin2ulaw.
        """
        self.assertEqual(g711.encode(G711Law.ULAW, ALL_SAMPLES),
                         audioop.lin2ulaw(nativePcm(ALL_SAMPLES), 2))

    def test_alawEncodeEveryValue(self):
        """
        A-law encoding of every 16-bit value matches audioop.lin2alaw.
        """
        self.assertEqual(g711.encode(G711Law.ALAW, ALL_SAMPLES),
                         audioop.lin2alaw(nativePcm(ALL_SAMPLES), 2))

    def test_decodeEveryCode(self):
        """
        Decoding each of the 256 codes of both laws matches audioop.
        """
        codes = bytes(range(256))
        for law, reference in ((G711Law.ULAW, audioop.ulaw2lin),
                               (G711Law.ALAW, audioop.alaw2lin)):
            expected = array.array("h", reference(codes, 2)).tolist()
            self.assertEqual(list(g711.decode(law, codes)), expected)


class G711PropertiesTests(SynchronousTestCase):
    """
    G.711 properties that need no reference implementation.
    """

    def test_decodeEncodeIdempotent(self):
        """
        Re-encoding a decoded value gives back a code that decodes to the
        same value, for every code of both laws.
        """
        for law in G711Law:
            decoded = g711.decode(law, bytes(range(256)))
            self.assertEqual(g711.decode(law, g711.encode(law, decoded)),
                             decoded)

    def test_knownCodes(self):
        """
        Zero and the extremes map to the codes of the G.711 tables.
        """
        self.assertEqual(g711.encode(G711Law.ULAW, [0, 32767, -32768]),
                         b"\xff\x80\x00")
        self.assertEqual(g711.encode(G711Law.ALAW, [0, 32767, -32768]),
                         b"\xd5\xaa\x2a")
        self.assertEqual(g711.decode(G711Law.ULAW, b"\xff\x80\x00"),
                         (0, 32124, -32124))
        self.assertEqual(g711.decode(G711Law.ALAW, b"\xd5\xaa\x2a"),
                         (8, 32256, -32256))

    def test_payloadTypes(self):
        """
        The laws carry their static RTP payload types and silence codes.
        """
        self.assertEqual((G711Law.ULAW.payloadType,
                          G711Law.ALAW.payloadType), (0, 8))
        self.assertEqual(g711.encode(G711Law.ULAW, [0]),
                         bytes([G711Law.ULAW.silence]))
        self.assertEqual(g711.encode(G711Law.ALAW, [0]),
                         bytes([G711Law.ALAW.silence]))

    def test_outOfRange(self):
        """
        A sample outside signed 16-bit is refused.
        """
        self.assertRaises(ValueError, g711.encode, G711Law.ULAW, [32768])
        self.assertRaises(ValueError, g711.encode, G711Law.ALAW, [-32769])

    def test_packetise(self):
        """
        400 samples become three 160-byte payloads, the last padded with
        silence, and depacketise gives the companded samples back.
        """
        samples = [(i * 97) % 20000 - 10000 for i in range(400)]
        for law in G711Law:
            payloads = g711.packetise(law, samples)
            self.assertEqual([len(p) for p in payloads], [160] * 3)
            self.assertEqual(payloads[2][80:], bytes([law.silence]) * 80)
            back = g711.depacketise(law, payloads)
            self.assertEqual(len(back), 480)
            self.assertEqual(back[:400],
                             g711.decode(law, g711.encode(law, samples)))

    def test_framesExact(self):
        """
        frames() cuts exact multiples without padding and pads the rest.
        """
        self.assertEqual([len(f) for f in g711.frames(range(320))],
                         [FRAME_SAMPLES, FRAME_SAMPLES])
        self.assertEqual(list(g711.frames([1, 2], size=3)), [(1, 2, 0)])
        self.assertEqual(list(g711.frames([])), [])


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


def handWav(tag, body, rate=8000, bits=8, channels=1, extra=b""):
    """A WAV file built by hand: RIFF, an extra chunk, fmt, data."""
    fmt = struct.pack("<HHIIHHH", tag, channels, rate,
                      rate * channels * bits // 8, channels * bits // 8,
                      bits, 0)
    chunks = (extra + b"fmt " + struct.pack("<I", len(fmt)) + fmt
              + b"data" + struct.pack("<I", len(body)) + body)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


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


class WavTests(SynchronousTestCase):
    """
    Reading and writing 8 kHz mono WAV files.
    """

    samples = tuple((i * 523) % 30000 - 15000 for i in range(1000))

    def path(self):
        """A fresh file name in a fresh directory."""
        directory = self.mktemp()
        os.makedirs(directory)
        return os.path.join(directory, "audio.wav")

    def test_pcmRoundTrip(self):
        """
        16-bit PCM written and read back is unchanged, and the stdlib wave
        module sees 8 kHz mono 16-bit.
        """
        path = self.path()
        writeWav(path, self.samples)
        audio = readWav(path)
        self.assertEqual(audio, WavAudio(self.samples, WavEncoding.PCM16))
        self.assertEqual(audio.duration, 1000 / 8000)
        with wave.open(path, "rb") as reader:
            self.assertEqual((reader.getframerate(), reader.getnchannels(),
                              reader.getsampwidth(), reader.getnframes()),
                             (8000, 1, 2, 1000))
        self.assertEqual(os.listdir(os.path.dirname(path)), ["audio.wav"])

    def test_g711RoundTrip(self):
        """
        µ-law and A-law files written and read back give the companded
        samples, and declare their format tag.
        """
        for encoding, law in ((WavEncoding.ULAW, G711Law.ULAW),
                              (WavEncoding.ALAW, G711Law.ALAW)):
            path = self.path()
            writeWav(path, self.samples[:999], encoding)
            audio = readWav(path)
            self.assertEqual(audio.encoding, encoding)
            self.assertEqual(audio.samples, g711.decode(
                law, g711.encode(law, self.samples[:999])))
            with open(path, "rb") as f:
                self.assertEqual(struct.unpack_from("<H", f.read(), 20)[0],
                                 int(encoding))

    def test_handBuiltUlaw(self):
        """
        A µ-law file with an odd-sized chunk before fmt is read.
        """
        data = handWav(7, b"\xff\x80\x00",
                       extra=b"LIST\x03\x00\x00\x00abc\x00")
        audio = parseWav("x.wav", data)
        self.assertEqual(audio.samples, (0, 32124, -32124))

    def test_overwriteAtomically(self):
        """
        Writing over an existing file replaces it and leaves no
        temporary file.
        """
        path = self.path()
        writeWav(path, [1, 2, 3])
        writeWav(path, [4, 5])
        self.assertEqual(readWav(path).samples, (4, 5))
        self.assertEqual(os.listdir(os.path.dirname(path)), ["audio.wav"])

    def assertWavError(self, data, words):
        """Reading C{data} from a file fails naming the file and C{words}."""
        path = self.path()
        with open(path, "wb") as f:
            f.write(data)
        e = self.assertRaises(WavError, readWav, path)
        self.assertIsInstance(e, ValueError)
        self.assertTrue(str(e).startswith(path + ": "), str(e))
        self.assertIn(words, str(e))

    def test_wrongSampleRate(self):
        """
        A 16 kHz file is refused, naming the rate.
        """
        out = self.path()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(16000)
            writer.writeframes(b"\x00\x00" * 10)
        with open(out, "rb") as f:
            data = f.read()
        self.assertWavError(data, "sample rate 16000 Hz, expected 8000 Hz")

    def test_wrongFormats(self):
        """
        Stereo, 8-bit PCM, 16-bit µ-law and IEEE float files are refused
        with the reason.
        """
        self.assertWavError(handWav(1, bytes(8), bits=16, channels=2),
                            "2 channels")
        self.assertWavError(handWav(1, bytes(8), bits=8),
                            "8 bits per sample, expected 16")
        self.assertWavError(handWav(7, bytes(8), bits=16),
                            "16 bits per sample, expected 8")
        self.assertWavError(handWav(3, bytes(8), bits=32), "format tag 3")

    def test_notWav(self):
        """
        Files that are not RIFF/WAVE, lack chunks or are truncated are
        refused.
        """
        self.assertWavError(b"", "not a WAV file")
        self.assertWavError(b"RIFF\x00\x00\x00\x00AVI LIST", "not a WAV")
        self.assertWavError(b"RIFF\x04\x00\x00\x00WAVE", "no valid fmt")
        self.assertWavError(handWav(7, b"abc")[:-2], "truncated")
        data = handWav(7, b"abc")
        self.assertWavError(data[:data.index(b"data")], "no data chunk")

    def test_missingFile(self):
        """
        A missing file raises WavError naming it.
        """
        path = os.path.join(self.mktemp(), "none.wav")
        e = self.assertRaises(WavError, readWav, path)
        self.assertEqual(e.path, path)
        self.assertIn("cannot read", str(e))

    def test_unwritable(self):
        """
        Writing into a missing directory raises WavError naming the file.
        """
        path = os.path.join(self.mktemp(), "out.wav")
        e = self.assertRaises(WavError, writeWav, path, [0])
        self.assertIn("cannot write", str(e))

    def test_badSamples(self):
        """
        Samples beyond 16 bits cannot be written.
        """
        self.assertRaises(ValueError, formatWav, [70000])
        self.assertRaises(ValueError, formatWav, [70000], WavEncoding.ULAW)


class SimulatedDspTests(SynchronousTestCase):
    """
    The voice port DSP channel: tones, playback, silence and recording.
    """

    def test_silenceByDefault(self):
        """
        An idle DSP sends 160-byte payloads of the law's silence code.
        """
        for law in G711Law:
            dsp = SimulatedDsp(law)
            self.assertIsNone(dsp.playing)
            self.assertEqual(dsp.nextPayload(), bytes([law.silence]) * 160)

    def test_playTone(self):
        """
        Playing a tone sends its frames in order, companded, until
        stopped.
        """
        dsp = SimulatedDsp(G711Law.ULAW)
        dsp.playTone(CallProgressTone.BUSY)
        self.assertEqual(dsp.playing, CallProgressTone.BUSY)
        generator = ToneGenerator(CallProgressTone.BUSY)
        for _ in range(30):
            self.assertEqual(dsp.nextPayload(),
                             g711.encode(G711Law.ULAW,
                                         generator.nextFrame()))
        dsp.stop()
        self.assertIsNone(dsp.playing)
        self.assertEqual(dsp.nextFrame(), (0,) * 160)

    def test_playWavThenSilence(self):
        """
        A WAV file plays once, its last frame padded, then the DSP falls
        silent and reports nothing playing.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "announce.wav")
        samples = [1000] * 200
        writeWav(path, samples)
        dsp = SimulatedDsp(G711Law.ALAW)
        dsp.playWav(path)
        self.assertEqual(dsp.playing, path)
        self.assertEqual(dsp.nextFrame(), (1000,) * 160)
        self.assertEqual(dsp.nextFrame(), (1000,) * 40 + (0,) * 120)
        self.assertEqual(dsp.nextFrame(), (0,) * 160)
        self.assertIsNone(dsp.playing)

    def test_playSamplesPayloadsThenSilence(self):
        """
        Played samples go out as the G.711 of each frame in the DSP's law
        (a law change applies from the next frame), the last frame padded,
        then silence.
        """
        samples = tuple((i * 97) % 4000 - 2000 for i in range(400))
        dsp = SimulatedDsp(G711Law.ULAW)
        dsp.playSamples(samples)
        self.assertEqual(dsp.nextPayload(),
                         g711.encode(G711Law.ULAW, samples[:160]))
        dsp.law = G711Law.ALAW
        self.assertEqual(dsp.nextPayload(),
                         g711.encode(G711Law.ALAW, samples[160:320]))
        self.assertEqual(dsp.nextPayload(),
                         g711.encode(G711Law.ALAW,
                                     samples[320:] + (0,) * 80))
        self.assertEqual(dsp.nextPayload(), bytes([G711Law.ALAW.silence]) * 160)
        self.assertIsNone(dsp.playing)

    def test_portsPlayingOneAnnouncementShareEncoding(self):
        """
        Ports playing the same sample tuple encode each frame once between
        them, from wherever each is in the announcement.
        """
        encoded = []
        original = g711.encode

        def counting(law, frame):
            encoded.append(law)
            return original(law, frame)

        self.patch(g711, "encode", counting)
        samples = tuple(range(-1600, 1600, 2))  # 10 frames
        first, second = SimulatedDsp(G711Law.ULAW), SimulatedDsp(G711Law.ULAW)
        first.playSamples(samples)
        payloads = [first.nextPayload() for _ in range(10)]
        second.playSamples(samples)
        self.assertEqual([second.nextPayload() for _ in range(10)], payloads)
        self.assertEqual(len(encoded), 10)

    def test_playSamplesCopiesAList(self):
        """
        A list of samples is copied when play starts: changing it later
        does not change what is sent.
        """
        samples = [500] * 160
        dsp = SimulatedDsp(G711Law.ULAW)
        dsp.playSamples(samples)
        samples[:] = [-500] * 160
        self.assertEqual(dsp.nextFrame(), (500,) * 160)

    def test_portsPlayingOneWavShareItsSamples(self):
        """
        Ports playing the same WAV file play one copy of its samples (and
        so share its encoded frames); a file rewritten since is read anew.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "announce.wav")
        writeWav(path, [1000] * 320)
        encoded = []
        original = g711.encode
        self.patch(g711, "encode",
                   lambda law, frame: encoded.append(law) or original(law, frame))
        first, second = SimulatedDsp(G711Law.ULAW), SimulatedDsp(G711Law.ULAW)
        first.playWav(path)
        second.playWav(path)
        self.assertEqual([first.nextPayload(), first.nextPayload()],
                         [second.nextPayload(), second.nextPayload()])
        self.assertEqual(len(encoded), 2)
        writeWav(path, [-1000] * 480)
        os.utime(path, ns=(1, 1))
        third = SimulatedDsp(G711Law.ULAW)
        third.playWav(path)
        self.assertEqual(third.nextFrame(), (-1000,) * 160)
        # Replaced by a file of the same size with the same times (cp -p).
        staged = path + ".new"
        writeWav(staged, [2000] * 480)
        os.utime(staged, ns=(1, 1))
        os.replace(staged, path)
        fourth = SimulatedDsp(G711Law.ULAW)
        fourth.playWav(path)
        self.assertEqual(fourth.nextFrame(), (2000,) * 160)

    def test_playBadWavKeepsPlaying(self):
        """
        A WAV file that cannot be read raises WavError and the current
        tone keeps playing.
        """
        dsp = SimulatedDsp(G711Law.ULAW)
        dsp.playTone(CallProgressTone.DIAL)
        self.assertRaises(WavError, dsp.playWav,
                          os.path.join(self.mktemp(), "none.wav"))
        self.assertEqual(dsp.playing, CallProgressTone.DIAL)

    def test_recording(self):
        """
        Received payloads are decoded; while recording they are kept and
        written to a WAV file when recording stops.
        """
        dsp = SimulatedDsp(G711Law.ULAW)
        tone = ToneGenerator(CallProgressTone.RINGBACK)
        payloads = [g711.encode(G711Law.ULAW, tone.nextFrame())
                    for _ in range(3)]
        dsp.receivePayload(payloads[0])
        self.assertFalse(dsp.recording)
        dsp.startRecording()
        self.assertTrue(dsp.recording)
        for payload in payloads[1:]:
            self.assertEqual(dsp.receivePayload(payload),
                             g711.decode(G711Law.ULAW, payload))
        self.assertEqual(dsp.lastReceived,
                         g711.decode(G711Law.ULAW, payloads[2]))
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "take.wav")
        take = dsp.stopRecording(path)
        self.assertFalse(dsp.recording)
        self.assertEqual(take, g711.depacketise(G711Law.ULAW, payloads[1:]))
        self.assertEqual(readWav(path).samples, take)
        self.assertEqual(dsp.stopRecording(), ())
