"""
Tests for L{srst.ports.g711}: µ-law and A-law companding against the
quantisation tables of ITU-T G.711 (written as data in
C{tests/fixtures/g711/} from the standard's definition, with the known
values checked here), and its properties.
"""

import bisect
import os

from twisted.trial.unittest import SynchronousTestCase

from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "g711")

ALL_SAMPLES = range(-32768, 32768)


def readTable(name):
    """
    @return: the rows of C{tests/fixtures/g711/<name>}: C{(code, sign, k,
        low, high, y, sample16)}, in code order.
    """
    rows = []
    with open(os.path.join(FIXTURES, name)) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            code, sign, k, low, high, y, sample = line.split()
            rows.append((int(code, 16), sign, int(k), int(low), int(high), int(y), int(sample)))
    return rows


TABLES = {G711Law.ULAW: readTable("ulaw.txt"), G711Law.ALAW: readTable("alaw.txt")}


def uniformValue(law, sample):
    """
    The sign and G.711 uniform magnitude of a 16-bit sample (the reference
    C code's convention: see C{tests/fixtures/g711/generate.py}).
    """
    if law is G711Law.ULAW:
        return ("+", sample >> 2) if sample >= 0 else ("-", -(sample >> 2))
    return ("+", sample >> 3) if sample >= 0 else ("-", -(sample >> 3) - 1)


class G711TableTests(SynchronousTestCase):
    """
    µ-law and A-law companding against the G.711 tables.
    """

    def test_tables(self):
        """
        The fixture tables hold 256 distinct codes each, 128 intervals per
        sign with contiguous decision values, and the values G.711 gives:
        µ-law segment ends 31, 95, ... 8159 and outputs up to 8031, A-law
        segment ends 32, 64, ... 4096 and outputs up to 4032.
        """
        for law, (ends, top) in ((G711Law.ULAW, ([31, 95, 223, 479, 991, 2015, 4063, 8159], 8031)),
                                 (G711Law.ALAW, ([32, 64, 128, 256, 512, 1024, 2048, 4096], 4032))):
            rows = TABLES[law]
            self.assertEqual([r[0] for r in rows], list(range(256)))
            for sign in "+-":
                intervals = sorted(r[2:6] for r in rows if r[1] == sign)
                self.assertEqual([i[0] for i in intervals], list(range(128)))
                self.assertEqual(intervals[0][1], 0)
                for before, after in zip(intervals, intervals[1:]):
                    self.assertEqual(before[2], after[1])
                self.assertEqual([intervals[16 * s + 15][2] for s in range(8)], ends)
                self.assertEqual(intervals[-1][3], top)

    def test_knownValues(self):
        """
        Values everyone quotes from G.711: µ-law 0 is 0xFF and 0xFF decodes
        to 0, 0x80/0x00 are ±8031 (±32124 in 16 bits), 0x7F is negative
        zero, 0xEF (the first step of segment 1) is 33; A-law 0 is 0xD5
        (decoding to +1, i.e. 8), 0x55 is -8,
        0xAA/0x2A are ±4032 (±32256).
        """
        ulaw = {r[0]: r for r in TABLES[G711Law.ULAW]}
        alaw = {r[0]: r for r in TABLES[G711Law.ALAW]}
        self.assertEqual([ulaw[c][6] for c in (0xFF, 0x7F, 0x80, 0x00, 0xFE, 0xEF)], [0, 0, 32124, -32124, 8, 132])
        self.assertEqual([alaw[c][6] for c in (0xD5, 0x55, 0xAA, 0x2A, 0xD4)], [8, -8, 32256, -32256, 24])
        self.assertEqual(g711.encode(G711Law.ULAW, [0]), b"\xff")
        self.assertEqual(g711.encode(G711Law.ALAW, [0]), b"\xd5")
        self.assertEqual(g711.decode(G711Law.ULAW, b"\xff\x80\x00\x7f"), (0, 32124, -32124, 0))
        self.assertEqual(g711.decode(G711Law.ALAW, b"\xd5\x55\xaa\x2a"), (8, -8, 32256, -32256))

    def test_decodeEveryCode(self):
        """
        Decoding each of the 256 codes of both laws gives the table's
        16-bit sample.
        """
        for law, rows in TABLES.items():
            self.assertEqual(list(g711.decode(law, bytes(range(256)))), [r[6] for r in rows], law)

    def test_encodeEveryValue(self):
        """
        Every 16-bit value of both laws is encoded to the code of the
        interval its uniform value falls in (the last interval taking
        everything beyond).
        """
        for law, rows in TABLES.items():
            codes = {}
            lows = {}
            for code, sign, k, low, high, y, sample in rows:
                codes[sign, k] = code
                lows.setdefault(sign, []).append((k, low))
            bounds = {sign: [low for _, low in sorted(pairs)] for sign, pairs in lows.items()}
            expected = bytearray()
            for sample in ALL_SAMPLES:
                sign, value = uniformValue(law, sample)
                expected.append(codes[sign, bisect.bisect_right(bounds[sign], value) - 1])
            self.assertEqual(g711.encode(law, ALL_SAMPLES), bytes(expected), law)


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
