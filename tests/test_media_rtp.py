"""
Tests for L{srst.media.rtp}: the RTP codec (exact bytes, round trips,
malformed input) and RFC 3550 receive and send statistics.
"""

import struct

import attrs
from hypothesis import example, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from srst.media.rtp import (
    MAX_DROPOUT,
    RTP_HEADER_LENGTH,
    PayloadType,
    ReceiveStatistics,
    RtpDecodeError,
    RtpExtension,
    RtpPacket,
    SendStatistics,
    decodePlainHeader,
    decodeRtp,
    encodeRtp,
    encodeRtpHeader,
    headerIds,
    isRtpHeader,
)

SSRC = 0x11223344


def packet(seq, ts=None, payload=b"\xff" * 160, ssrc=SSRC,
           payloadType=PayloadType.PCMU, **kw):
    """An RTP packet of G.711 audio; the timestamp follows the sequence."""
    if ts is None:
        ts = (seq * 160) % (1 << 32)
    return RtpPacket(payloadType=payloadType, sequenceNumber=seq,
                     timestamp=ts, ssrc=ssrc, payload=payload, **kw)


PACKETS = st.builds(
    RtpPacket,
    payloadType=st.integers(0, 127),
    sequenceNumber=st.integers(0, 65535),
    timestamp=st.integers(0, 2 ** 32 - 1),
    ssrc=st.integers(0, 2 ** 32 - 1),
    payload=st.binary(max_size=300),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 2 ** 32 - 1), max_size=15).map(tuple),
    extension=st.none() | st.builds(
        RtpExtension, profile=st.integers(0, 65535),
        data=st.integers(0, 8).flatmap(
            lambda n: st.binary(min_size=4 * n, max_size=4 * n))),
    padding=st.integers(0, 255),
)


class RtpCodecTests(SynchronousTestCase):
    """
    Encoding and decoding RTP packets.
    """

    def test_encodeExactBytes(self):
        """
        A PCMU packet with the marker bit encodes to the RFC 3550 header in
        network byte order followed by the payload.
        """
        data = encodeRtp(packet(0x1234, ts=0xAABBCCDD, payload=b"ab",
                                marker=True))
        self.assertEqual(
            data, b"\x80\x80\x12\x34\xaa\xbb\xcc\xdd\x11\x22\x33\x44ab")

    def test_decodeExactBytes(self):
        """
        A header with CSRCs, an extension and padding decodes field by
        field, the padding stripped from the payload.
        """
        data = (b"\xb2\x08\x00\x07\x00\x00\x00\x10\x00\x00\x00\x01"
                b"\x00\x00\x00\x02\x00\x00\x00\x03"
                b"\xbe\xde\x00\x01abcd"
                b"xyz\x00\x00\x03")
        p = decodeRtp(data)
        self.assertEqual(p, RtpPacket(
            payloadType=8, sequenceNumber=7, timestamp=16, ssrc=1,
            payload=b"xyz", csrcs=(2, 3),
            extension=RtpExtension(0xBEDE, b"abcd"), padding=3))
        self.assertEqual(p.version, 2)
        self.assertEqual(encodeRtp(p), data)

    def test_roundTripCsrcExtensionPadding(self):
        """
        A packet with every optional part survives encode then decode.
        """
        p = packet(65535, csrcs=(1, 2, 3), marker=True, padding=4,
                   extension=RtpExtension(1, b"12345678"))
        self.assertEqual(decodeRtp(encodeRtp(p)), p)

    @given(PACKETS)
    @settings(max_examples=200, deadline=None)
    def test_roundTripProperty(self, p):
        """
        Any valid packet decodes back to itself after encoding.
        """
        self.assertEqual(decodeRtp(encodeRtp(p)), p)

    @given(st.one_of(st.binary(max_size=80),
                     st.binary(min_size=1, max_size=80).map(lambda b: bytes([0x80 | b[0] & 0x3F]) + b[1:])))
    @example(b"\xa0" + bytes(11) + b"\x01\x02")  # padding octets that are not zero
    @settings(max_examples=500, deadline=None)
    def test_arbitraryBytesOnlyRaiseDecodeError(self, data):
        """
        Arbitrary bytes (and arbitrary bytes with version 2) either decode
        to a packet that encodes back to those bytes (padding octets zeroed), or raise
        RtpDecodeError saying "malformed RTP packet" at an offset inside
        the datagram; never IndexError or struct.error.
        """
        try:
            p = decodeRtp(data)
        except RtpDecodeError as e:
            self.assertIsInstance(e, ValueError)
            self.assertTrue(str(e).startswith("malformed RTP packet"))
            self.assertTrue(0 <= e.offset <= len(data), (e.offset, len(data)))
        else:
            self.assertIsInstance(p, RtpPacket)
            # Padding octets before the count carry no meaning (RFC 3550
            # 5.1); the encoder writes them as zeros.
            expected = data
            if p.padding:
                expected = data[:-p.padding] + bytes(p.padding - 1) + data[-1:]
            self.assertEqual(encodeRtp(p), expected)

    @given(PACKETS, st.data())
    @settings(max_examples=200, deadline=None)
    def test_truncatedOnlyRaiseDecodeError(self, p, data):
        """
        Any prefix of a valid packet, with its version bits kept, decodes
        or raises RtpDecodeError.
        """
        raw = encodeRtp(p)
        cut = data.draw(st.integers(0, len(raw)))
        try:
            decoded = decodeRtp(raw[:cut])
        except RtpDecodeError as e:
            self.assertTrue(0 <= e.offset <= cut)
        else:
            self.assertEqual(decoded.sequenceNumber, p.sequenceNumber)

    def assertDecodeError(self, data, words):
        """Decoding C{data} fails with a reason containing C{words}."""
        e = self.assertRaises(RtpDecodeError, decodeRtp, data)
        self.assertIn(words, e.reason)
        return e

    def test_tooShort(self):
        """
        Fewer than 12 bytes is not an RTP packet.
        """
        e = self.assertDecodeError(b"\x80\x00\x00", "shorter")
        self.assertEqual(e.offset, 0)

    def test_wrongVersion(self):
        """
        A header with version 1 is refused.
        """
        self.assertDecodeError(b"\x40" + bytes(11), "version 1")

    def test_csrcsDoNotFit(self):
        """
        A CSRC count larger than the packet holds is refused.
        """
        e = self.assertDecodeError(b"\x83" + bytes(11) + bytes(8), "CSRCs")
        self.assertEqual(e.offset, 12)

    def test_extensionTruncated(self):
        """
        An extension bit with no room for the extension header, or an
        extension length beyond the packet, is refused.
        """
        self.assertDecodeError(b"\x90" + bytes(11) + b"\x00", "extension")
        self.assertDecodeError(b"\x90" + bytes(11) + b"\x00\x00\x00\x02"
                               + bytes(4), "extension")

    def test_badPadding(self):
        """
        A padding count of zero, one beyond the payload, or a padding bit
        with nothing after the header, is refused.
        """
        self.assertDecodeError(b"\xa0" + bytes(11) + b"ab\x00", "padding")
        self.assertDecodeError(b"\xa0" + bytes(11) + b"ab\x04", "padding")
        self.assertDecodeError(b"\xa0" + bytes(11), "padding")

    def test_invalidFieldValues(self):
        """
        Building a packet with out-of-range fields raises ValueError.
        """
        self.assertRaises(ValueError, packet, 65536)
        self.assertRaises(ValueError, packet, 1, payloadType=128)
        self.assertRaises(ValueError, packet, 1, csrcs=tuple(range(16)))
        self.assertRaises(ValueError, RtpExtension, 1, b"abc")


def feed(stats, seqs, interval=0.02, start=100.0):
    """
    Feed packets with the given sequence numbers, arriving one interval
    apart, with timestamps matching their sequence numbers.
    """
    results = []
    for i, seq in enumerate(seqs):
        results.append(stats.receive(packet(seq), start + i * interval))
    return results


class PlainPacketPathTests(SynchronousTestCase):
    """
    The media path's shortcuts agree with the general codec: the fixed
    header writer and the decoder's fast path for plain packets.
    """

    @given(st.integers(0, 127), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF),
           st.integers(0, 0xFFFFFFFF), st.binary(max_size=200), st.booleans())
    @settings(max_examples=200)
    def test_sameAsGeneralCodec(self, payloadType, sequenceNumber, timestamp, ssrc, payload, marker) -> None:
        """encodeRtpHeader + payload is encodeRtp's output, and it decodes to an equal, valid packet."""
        packet = RtpPacket(payloadType, sequenceNumber, timestamp, ssrc, payload, marker)
        datagram = encodeRtpHeader(payloadType, sequenceNumber, timestamp, ssrc, marker) + payload
        self.assertEqual(datagram, encodeRtp(packet))
        decoded = decodeRtp(datagram)
        self.assertEqual(decoded, packet)
        self.assertEqual(attrs.evolve(decoded), packet)

    @given(PACKETS)
    @settings(max_examples=300)
    def test_plainHeaderAsDecoded(self, packet) -> None:
        """
        decodePlainHeader reads exactly the header fields decodeRtp reads,
        and the payload follows the fixed header, for every plain packet;
        it declines every other one.
        """
        datagram = encodeRtp(packet)
        header = decodePlainHeader(datagram)
        plain = not (packet.csrcs or packet.extension is not None or packet.padding)
        if not plain:
            self.assertIsNone(header)
            return
        self.assertEqual(header, (packet.payloadType, packet.sequenceNumber, packet.timestamp, packet.ssrc))
        self.assertEqual(datagram[RTP_HEADER_LENGTH:], packet.payload)

    @given(PACKETS)
    @settings(max_examples=200)
    def test_idsAsDecoded(self, packet) -> None:
        """headerIds and isRtpHeader agree with decodeRtp on every packet."""
        datagram = encodeRtp(packet)
        self.assertTrue(isRtpHeader(datagram))
        self.assertEqual(headerIds(datagram), (packet.ssrc, packet.sequenceNumber))

    @given(st.binary(max_size=40))
    @settings(max_examples=300)
    def test_shortCutsOnAnyBytes(self, datagram) -> None:
        """
        On arbitrary bytes the short cuts never raise: decodePlainHeader
        answers only where decodeRtp decodes the same fields, isRtpHeader
        only for 12 bytes or more of version 2, and headerIds only for 12
        bytes or more.
        """
        header = decodePlainHeader(datagram)
        if header is not None:
            packet = decodeRtp(datagram)
            self.assertEqual(header, (packet.payloadType, packet.sequenceNumber, packet.timestamp,
                                      packet.ssrc))
        self.assertEqual(isRtpHeader(datagram), len(datagram) >= 12 and datagram[0] >> 6 == 2)
        ids = headerIds(datagram)
        if len(datagram) < 12:
            self.assertEqual(ids, (None, None))
        else:
            self.assertEqual(ids, (int.from_bytes(datagram[8:12], "big"),
                                   int.from_bytes(datagram[2:4], "big")))


class ReceiveStatisticsTests(SynchronousTestCase):
    """
    RFC 3550 appendix A.1/A.3/A.8 receive statistics.
    """

    def test_inOrder(self):
        """
        Packets in order: after the probation packet every packet counts,
        nothing is lost, and byte and packet counts include every packet.
        """
        stats = ReceiveStatistics()
        results = feed(stats, range(1000, 1010))
        self.assertEqual(results, [False] + [True] * 9)
        snap = stats.snapshot()
        self.assertEqual((snap.packets, snap.octets), (10, 1600))
        self.assertEqual((snap.expected, snap.received, snap.lost),
                         (9, 9, 0))
        self.assertEqual(snap.extendedHighestSequence, 1009)
        self.assertEqual(stats.nextReport().fractionLost, 0)

    def test_noProbation(self):
        """
        With minSequential 1 the first packet validates the source.
        """
        stats = ReceiveStatistics(minSequential=1)
        self.assertEqual(feed(stats, [5, 6]), [True, True])
        self.assertEqual(stats.snapshot().expected, 2)

    def test_probationRestartsOnGap(self):
        """
        A source on probation that skips a number stays on probation.
        """
        stats = ReceiveStatistics()
        self.assertEqual(feed(stats, [1, 3, 4, 5]),
                         [False, False, True, True])
        self.assertEqual(stats.snapshot().lost, 0)

    def test_loss(self):
        """
        Two missing packets are counted as lost, and the fraction lost of
        the interval is 2/10 in units of 1/256.
        """
        stats = ReceiveStatistics()
        feed(stats, [0, 1, 2, 5, 6, 7, 8, 9, 10])
        snap = stats.snapshot()
        self.assertEqual((snap.expected, snap.received, snap.lost),
                         (10, 8, 2))
        report = stats.nextReport()
        self.assertEqual(report.fractionLost, (2 << 8) // 10)
        self.assertEqual(report.cumulativeLost, 2)
        self.assertEqual(report.ssrc, SSRC)
        feed(stats, [11, 12], start=200.0)
        self.assertEqual(stats.nextReport().fractionLost, 0)

    def test_reorder(self):
        """
        A late packet within MAX_MISORDER is counted as received and
        misordered, not lost, and does not move the highest sequence.
        """
        stats = ReceiveStatistics()
        feed(stats, [0, 1, 2, 4, 5, 3, 6])
        snap = stats.snapshot()
        self.assertEqual((snap.lost, snap.misordered, snap.duplicates),
                         (0, 1, 0))
        self.assertEqual(snap.extendedHighestSequence, 6)

    def test_duplicate(self):
        """
        A repeated packet, latest or older, counts as a duplicate; RFC 3550
        counts it received, so the cumulative loss goes negative.
        """
        stats = ReceiveStatistics()
        feed(stats, [0, 1, 2, 3, 3, 4, 2])
        snap = stats.snapshot()
        self.assertEqual(snap.duplicates, 2)
        self.assertEqual(snap.misordered, 0)
        self.assertEqual(snap.lost, -2)

    def test_wrapAround(self):
        """
        Sequence numbers wrapping from 65535 to 0 add a cycle to the
        extended highest sequence and lose nothing.
        """
        stats = ReceiveStatistics()
        feed(stats, [65533, 65534, 65535, 0, 1, 2])
        snap = stats.snapshot()
        self.assertEqual(snap.extendedHighestSequence, 65536 + 2)
        self.assertEqual((snap.expected, snap.lost), (5, 0))

    def test_wrapAroundWithLossAndLatePacket(self):
        """
        Loss across the wrap is counted, and a late packet from before the
        wrap fills its gap without adding a cycle.
        """
        stats = ReceiveStatistics()
        feed(stats, [65532, 65533, 65535, 1, 2, 65534])
        snap = stats.snapshot()
        self.assertEqual(snap.extendedHighestSequence, 65536 + 2)
        self.assertEqual((snap.expected, snap.received, snap.lost),
                         (6, 5, 1))
        self.assertEqual(snap.misordered, 1)

    def test_largeJumpDiscardedThenResync(self):
        """
        A jump beyond MAX_DROPOUT is discarded; two sequential packets
        after it resynchronise the stream (the sender restarted).
        """
        stats = ReceiveStatistics()
        feed(stats, [10, 11, 12])
        jump = 12 + MAX_DROPOUT + 10
        self.assertEqual(feed(stats, [jump], start=200.0), [False])
        self.assertEqual(stats.snapshot().discarded, 1)
        self.assertEqual(feed(stats, [jump + 1, jump + 2], start=201.0),
                         [True, True])
        snap = stats.snapshot()
        self.assertEqual(snap.extendedHighestSequence, jump + 2)
        self.assertEqual(snap.lost, 0)

    def test_newSsrcRestartsTracking(self):
        """
        A packet from another SSRC restarts sequence tracking but keeps
        the packet and byte counters.
        """
        stats = ReceiveStatistics()
        feed(stats, [100, 101, 102])
        stats.receive(packet(7, ssrc=9), 200.0)
        stats.receive(packet(8, ssrc=9), 200.02)
        snap = stats.snapshot()
        self.assertEqual(stats.ssrc, 9)
        self.assertEqual(snap.packets, 5)
        self.assertEqual((snap.expected, snap.lost), (1, 0))

    def test_jitterConstantTransit(self):
        """
        Packets arriving exactly at their timestamp spacing have zero
        jitter.
        """
        stats = ReceiveStatistics()
        feed(stats, range(50))
        self.assertAlmostEqual(stats.jitter, 0.0, places=6)
        self.assertAlmostEqual(stats.snapshot().jitterMs, 0.0, places=6)
        self.assertEqual(stats.nextReport().jitter, 0)

    def test_jitterVaryingTransit(self):
        """
        With transit times varying by known amounts the jitter follows the
        RFC 3550 A.8 estimator J += (|D| - J) / 16 in timestamp units.
        """
        stats = ReceiveStatistics()
        delays = [0.0, 0.005, 0.001, 0.010, 0.002, 0.0, 0.030, 0.004]
        expected = 0.0
        for i, delay in enumerate(delays):
            stats.receive(packet(i), 10.0 + 0.02 * i + delay)
            if i:
                d = abs((delay - delays[i - 1]) * 8000)
                expected += (d - expected) / 16
        self.assertAlmostEqual(stats.jitter, expected, places=6)
        self.assertAlmostEqual(stats.snapshot().jitterMs,
                               expected / 8.0, places=6)
        self.assertEqual(stats.nextReport().jitter, int(expected))

    def test_jitterTimestampWrap(self):
        """
        A timestamp wrapping past 2**32 does not disturb the jitter.
        """
        stats = ReceiveStatistics()
        base = 2 ** 32 - 320
        for i in range(5):
            stats.receive(packet(i, ts=(base + 160 * i) % 2 ** 32),
                          1.0 + 0.02 * i)
        self.assertAlmostEqual(stats.jitter, 0.0, places=6)


class _GeneralPathStatistics(ReceiveStatistics):
    """
    The oracle for the in-order short path: RFC 3550 A.1 and A.8 applied
    to every packet, as L{ReceiveStatistics.receiveHeader} does for any
    packet that is not the next in sequence.
    """

    def receiveHeader(self, ssrc, seq, timestamp, payloadLength, arrival):
        self._packets += 1
        self._octets += payloadLength
        if self.ssrc != ssrc:
            self._startSource(ssrc, seq)
        valid = self._updateSeq(seq)
        if valid or self._probation:
            self._updateJitter(timestamp, arrival)
        return valid


# Packet streams as steps from one packet to the next: mostly the next in
# order, with losses, duplicates, reordering, large jumps, wrap-around and
# a change of source.
_STEPS = st.lists(
    st.tuples(
        st.sampled_from([1] * 6 + [0, 2, 5, -1, -3, 3500, -200, 32768]),
        st.integers(0, 40),
        st.integers(0, 19).map(lambda n: n == 0)),
    max_size=120)


class ReceiveShortPathTests(SynchronousTestCase):
    """
    The next-in-sequence short path of L{ReceiveStatistics.receiveHeader}
    gives exactly the statistics of the general path.
    """

    @given(st.integers(0, 65535), st.integers(0, 2 ** 32 - 1), _STEPS,
           st.integers(1, 3))
    @settings(max_examples=300, deadline=None)
    def test_sameAsGeneralPath(self, firstSeq, firstTs, steps, minSequential):
        fast = ReceiveStatistics(minSequential=minSequential)
        general = _GeneralPathStatistics(minSequential=minSequential)
        seq, ts, ssrc, arrival = firstSeq, firstTs, SSRC, 100.0
        for advance, lateMs, newSource in [(0, 0, False)] + steps:
            seq = (seq + advance) % 65536
            ts = (ts + 160 * advance) % (1 << 32)
            arrival += 0.020 * max(advance, 0) + lateMs / 1000.0
            if newSource:
                ssrc = (ssrc + 1) % (1 << 32)
            self.assertEqual(
                fast.receiveHeader(ssrc, seq, ts, 160, arrival),
                general.receiveHeader(ssrc, seq, ts, 160, arrival))
        self.assertEqual(fast.snapshot(), general.snapshot())
        self.assertEqual(fast.extendedHighestSequence,
                         general.extendedHighestSequence)

    def test_receiveIsReceiveHeader(self):
        """
        L{ReceiveStatistics.receive} of a packet is
        L{ReceiveStatistics.receiveHeader} of its fields.
        """
        a, b = ReceiveStatistics(), ReceiveStatistics()
        for i, seq in enumerate([65534, 65535, 0, 2, 1, 1]):
            p = packet(seq)
            arrival = 1.0 + 0.02 * i
            self.assertEqual(
                a.receive(p, arrival),
                b.receiveHeader(p.ssrc, seq, p.timestamp, 160, arrival))
        self.assertEqual(a.snapshot(), b.snapshot())


class SendStatisticsTests(SynchronousTestCase):
    """
    Send counters.
    """

    def test_counts(self):
        """
        Each sent packet adds one packet and its payload octets.
        """
        stats = SendStatistics()
        self.assertEqual(stats.snapshot().packets, 0)
        for i in range(3):
            stats.sent(packet(i, payload=b"x" * (100 + i)))
        snap = stats.snapshot()
        self.assertEqual((snap.packets, snap.octets), (3, 303))

    def test_snapshotFrozen(self):
        """
        A snapshot is a frozen value that later traffic does not change.
        """
        stats = SendStatistics()
        snap = stats.snapshot()
        stats.sent(packet(1))
        self.assertEqual(snap.packets, 0)
        self.assertRaises(AttributeError, setattr, snap, "packets", 5)


class StructUseTests(SynchronousTestCase):
    """
    The header layout is network byte order.
    """

    def test_sequenceNetworkOrder(self):
        """
        The sequence number is big-endian at offset 2.
        """
        data = encodeRtp(packet(0x0102))
        self.assertEqual(struct.unpack_from("!H", data, 2)[0], 0x0102)
