"""
Tests for L{srst.ports.g711}: µ-law and A-law companding against the
C{audioop} reference, and its properties.
"""

import array
import warnings

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:
        audioop = None


ALL_SAMPLES = range(-32768, 32768)


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
