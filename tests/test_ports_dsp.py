"""
Tests for L{srst.ports.dsp}: the voice port's DSP channel.
"""

import os

from twisted.trial.unittest import SynchronousTestCase

from srst.ports import g711
from srst.ports.dsp import MAX_RECORD_SAMPLES, SimulatedDsp
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.tones import CallProgressTone, ToneGenerator
from srst.ports.wav import WavError, readWav, writeWav


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

    def test_recordingLimit(self):
        """
        A recording keeps at most its limit of samples (by default
        L{MAX_RECORD_SAMPLES}, three minutes) and says so once, when full;
        what comes after is dropped.
        """
        self.assertEqual(MAX_RECORD_SAMPLES, 180 * 8000)
        dsp = SimulatedDsp(G711Law.ULAW)
        full = []
        dsp.startRecording(limit=2 * FRAME_SAMPLES + 40, full=lambda: full.append(dsp.recording))
        payloads = [g711.encode(G711Law.ULAW, (index * 100,) * FRAME_SAMPLES) for index in range(4)]
        for payload in payloads:
            dsp.takePayload(payload)
        self.assertEqual(full, [True])
        self.assertEqual(dsp.stopRecording(),
                         g711.depacketise(G711Law.ULAW, payloads[:2]) + g711.decode(G711Law.ULAW, payloads[2][:40]))
