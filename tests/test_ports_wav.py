"""
Tests for L{srst.ports.wav}: reading and writing 8 kHz mono WAV files.
"""

import os
import struct
import wave

from twisted.trial.unittest import SynchronousTestCase

from srst.ports import g711
from srst.ports.g711 import G711Law
from srst.ports.wav import (
    WavAudio,
    WavEncoding,
    WavError,
    formatWav,
    parseWav,
    readWav,
    writeWav,
)


def handWav(tag, body, rate=8000, bits=8, channels=1, extra=b""):
    """A WAV file built by hand: RIFF, an extra chunk, fmt, data."""
    fmt = struct.pack("<HHIIHHH", tag, channels, rate,
                      rate * channels * bits // 8, channels * bits // 8,
                      bits, 0)
    chunks = (extra + b"fmt " + struct.pack("<I", len(fmt)) + fmt
              + b"data" + struct.pack("<I", len(body)) + body)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


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
