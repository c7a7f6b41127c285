# -*- test-case-name: tests.test_media_rtp -*-
"""
RTP (RFC 3550) as a sans-IO codec, and per-stream statistics.

L{decodeRtp} turns a datagram into an L{RtpPacket} and L{encodeRtp} turns
it back; malformed input only ever raises L{RtpDecodeError}.  This module is
the one reader of the RTP header: the media path's short cuts are here too
(L{encodeRtpHeader} for senders, L{decodePlainHeader} for the receive path,
L{isRtpHeader} and L{headerIds} for SRTP's checks and error reports).
L{ReceiveStatistics} follows RFC 3550 appendix A.1 (sequence validation
with wrap-around, probation, C{MAX_DROPOUT}/C{MAX_MISORDER}), A.3 (expected,
lost, fraction lost) and A.8 (interarrival jitter, from arrival times that
the caller passes in); L{SendStatistics} counts what is sent.  Both give a
frozen snapshot for show commands.

Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import enum
import struct
from typing import Any, Callable, Optional

from attrs import define, field, frozen, setters, validators

RTP_VERSION = 2
"""The only RTP version there is (RFC 3550 5.1)."""

RTP_SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2
"""RFC 3550 A.1 constants: sequence modulus, the largest forward jump taken
as loss, the largest backward step taken as misordering, and the number of
sequential packets that validate a new source."""

G711_CLOCK_RATE = 8000
"""RTP timestamp clock rate of G.711 (RFC 3551 4.5.14)."""

RTP_HEADER_LENGTH = 12
"""Bytes of the fixed RTP header (RFC 3550 5.1)."""

_HEADER = struct.Struct("!BBHII")
_PLAIN_FIELDS = struct.Struct("!BHII")
"""The fixed header after its first octet: marker and payload type,
sequence number, timestamp, SSRC."""
_unpackPlainFields = _PLAIN_FIELDS.unpack_from
_IDS = struct.Struct("!H4xI")
"""The sequence number and the SSRC, from the third octet on."""
_EXTENSION_HEADER = struct.Struct("!HH")
_WORD = struct.Struct("!I")
_MAX_CSRCS = 15
_CUMULATIVE_LOST_MAX = 0x7FFFFF
_CUMULATIVE_LOST_MIN = -0x800000
_DUPLICATE_WINDOW = 1024
_SEEN_MASK = (1 << _DUPLICATE_WINDOW) - 1


class PayloadType(enum.IntEnum):
    """Static RTP payload types srst meets (RFC 3551 table 4)."""

    PCMU = 0
    PCMA = 8
    G722 = 9
    G729 = 18


class RtpDecodeError(ValueError):
    """
    A datagram is not a valid RTP packet.

    @ivar offset: the byte offset where decoding failed.
    @ivar reason: what is wrong, as one line.
    """

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(offset, reason)
        self.offset = offset
        self.reason = reason

    def __str__(self) -> str:
        return "malformed RTP packet at offset %d: %s" % (self.offset,
                                                         self.reason)


def _uint(bits: int) -> list[Callable[[Any, Any, Any], None]]:
    return [validators.instance_of(int), validators.ge(0),
            validators.lt(1 << bits)]


def _checkCsrcs(instance: object, attribute: object,
                value: tuple[int, ...]) -> None:
    if len(value) > _MAX_CSRCS:
        raise ValueError("at most %d CSRCs fit, not %d"
                         % (_MAX_CSRCS, len(value)))
    for csrc in value:
        if not isinstance(csrc, int) or not 0 <= csrc < 1 << 32:
            raise ValueError("CSRC %r is not a 32-bit unsigned integer"
                             % (csrc,))


def _checkExtensionData(instance: object, attribute: object,
                        value: bytes) -> None:
    if not isinstance(value, bytes):
        raise TypeError("extension data must be bytes")
    if len(value) % 4 or len(value) > 4 * 0xFFFF:
        raise ValueError("extension data is %d bytes, not a multiple of 4 "
                         "up to %d" % (len(value), 4 * 0xFFFF))


@frozen
class RtpExtension:
    """
    The one header extension an RTP packet may carry (RFC 3550 5.3.1).

    @ivar profile: the 16-bit profile-defined value (0xBEDE for RFC 8285).
    @ivar data: the extension body, a multiple of 4 bytes.
    """

    profile: int = field(validator=_uint(16))
    data: bytes = field(default=b"", validator=_checkExtensionData)


@frozen
class RtpPacket:
    """
    One RTP packet (RFC 3550 5.1).  The version is always 2.

    @ivar payloadType: 7-bit payload type (L{PayloadType} for static ones).
    @ivar sequenceNumber: 16-bit sequence number.
    @ivar timestamp: 32-bit RTP timestamp.
    @ivar ssrc: 32-bit synchronisation source.
    @ivar payload: the payload, without padding.
    @ivar marker: the marker bit.
    @ivar csrcs: up to 15 contributing sources.
    @ivar extension: the header extension, or L{None}.
    @ivar padding: the number of padding octets at the end (0 for none,
        otherwise 1 to 255, the count octet included).
    """

    payloadType: int = field(validator=_uint(7))
    sequenceNumber: int = field(validator=_uint(16))
    timestamp: int = field(validator=_uint(32))
    ssrc: int = field(validator=_uint(32))
    payload: bytes = field(default=b"",
                           validator=validators.instance_of(bytes))
    marker: bool = field(default=False, converter=bool)
    csrcs: tuple[int, ...] = field(default=(), converter=tuple,
                                   validator=_checkCsrcs)
    extension: Optional[RtpExtension] = field(
        default=None,
        validator=validators.optional(validators.instance_of(RtpExtension)))
    padding: int = field(default=0, validator=_uint(8))

    @property
    def version(self) -> int:
        """The RTP version, always L{RTP_VERSION}."""
        return RTP_VERSION


_PLAIN_FIRST_OCTET = RTP_VERSION << 6
"""Version 2 with no padding, no extension and no CSRC: what phones send."""

_FIELDS = ("payloadType", "sequenceNumber", "timestamp", "ssrc", "payload",
           "marker", "csrcs", "extension", "padding")


def _plainPacket(payloadType: int, sequenceNumber: int, timestamp: int,
                 ssrc: int, payload: bytes, marker: bool) -> RtpPacket:
    """
    Build an L{RtpPacket} from header fields that are in range by
    construction (unpacked from a fixed header), skipping the validators:
    the media path decodes 50 packets a second per stream.
    """
    packet = object.__new__(RtpPacket)
    for name, value in zip(_FIELDS, (payloadType, sequenceNumber, timestamp,
                                     ssrc, payload, marker, (), None, 0)):
        object.__setattr__(packet, name, value)
    return packet


def encodeRtpHeader(payloadType: int, sequenceNumber: int, timestamp: int,
                    ssrc: int, marker: bool = False) -> bytes:
    """
    The fixed 12-byte header of a plain packet (no padding, extension or
    CSRC), for senders that add the payload themselves.

    @raise struct.error: for a value out of range.
    """
    return _HEADER.pack(_PLAIN_FIRST_OCTET,
                        (0x80 if marker else 0) | payloadType,
                        sequenceNumber, timestamp, ssrc)


def decodePlainHeader(datagram: bytes) -> Optional[tuple[int, int, int, int]]:
    """
    The header of a plain packet, read in place: the receive path's short
    cut for what phones send (version 2, no padding, extension or CSRC),
    which builds no L{RtpPacket}.  The payload is everything after the
    first L{RTP_HEADER_LENGTH} bytes.

    @param datagram: a datagram.
    @return: C{(payloadType, sequenceNumber, timestamp, ssrc)}, or L{None}
        for any other datagram (L{decodeRtp} reads it, or says why not).
    """
    # RTP_HEADER_LENGTH and _PLAIN_FIRST_OCTET as literals, and the bound
    # unpack: every received packet of a call comes through here.
    if len(datagram) >= 12 and datagram[0] == 0x80:
        second, sequenceNumber, timestamp, ssrc = _unpackPlainFields(datagram, 1)
        return second & 0x7F, sequenceNumber, timestamp, ssrc
    return None


def isRtpHeader(datagram: bytes) -> bool:
    """
    @param datagram: a datagram.
    @return: whether it is long enough for the fixed header and says
        version 2: what an (S)RTP packet must at least be before SRTP
        can check it.
    """
    return len(datagram) >= RTP_HEADER_LENGTH and datagram[0] >> 6 == RTP_VERSION


def headerIds(datagram: bytes) -> tuple[Optional[int], Optional[int]]:
    """
    The SSRC and sequence number of an RTP or SRTP packet (SRTP leaves the
    header in the clear), for naming a packet in an error.

    @param datagram: a datagram.
    @return: C{(ssrc, sequenceNumber)}, or C{(None, None)} when it is
        shorter than the fixed header.
    """
    if len(datagram) < RTP_HEADER_LENGTH:
        return None, None
    sequenceNumber, ssrc = _IDS.unpack_from(datagram, 2)
    return ssrc, sequenceNumber


def encodeRtp(packet: RtpPacket) -> bytes:
    """
    Serialise an RTP packet in network byte order.

    @param packet: the packet.
    @return: the datagram; padding octets are zero but for the count.
    """
    first = ((RTP_VERSION << 6) | (0x20 if packet.padding else 0)
             | (0x10 if packet.extension is not None else 0)
             | len(packet.csrcs))
    second = (0x80 if packet.marker else 0) | packet.payloadType
    parts = [_HEADER.pack(first, second, packet.sequenceNumber,
                          packet.timestamp, packet.ssrc)]
    parts.extend(_WORD.pack(csrc) for csrc in packet.csrcs)
    if packet.extension is not None:
        parts.append(_EXTENSION_HEADER.pack(packet.extension.profile,
                                            len(packet.extension.data) // 4))
        parts.append(packet.extension.data)
    parts.append(packet.payload)
    if packet.padding:
        parts.append(bytes(packet.padding - 1) + bytes([packet.padding]))
    return b"".join(parts)


def decodeRtp(data: bytes) -> RtpPacket:
    """
    Parse an RTP datagram.

    @param data: the datagram.
    @return: the packet.
    @raise RtpDecodeError: when the datagram is shorter than its header,
        is not version 2, or its CSRC count, extension length or padding
        count do not fit in it.
    """
    if not isinstance(data, bytes):
        raise TypeError("RTP datagrams are bytes, not %s"
                        % (type(data).__name__,))
    if len(data) >= _HEADER.size and data[0] == _PLAIN_FIRST_OCTET:
        first, second, sequenceNumber, timestamp, ssrc = _HEADER.unpack_from(
            data, 0)
        return _plainPacket(second & 0x7F, sequenceNumber, timestamp, ssrc,
                            data[_HEADER.size:], bool(second & 0x80))
    if len(data) < _HEADER.size:
        raise RtpDecodeError(0, "%d bytes, shorter than the %d-byte header"
                             % (len(data), _HEADER.size))
    first, second, sequenceNumber, timestamp, ssrc = _HEADER.unpack_from(
        data, 0)
    version = first >> 6
    if version != RTP_VERSION:
        raise RtpDecodeError(0, "version %d, expected %d"
                             % (version, RTP_VERSION))
    csrcCount = first & 0x0F
    offset = _HEADER.size
    end = len(data)
    if end - offset < 4 * csrcCount:
        raise RtpDecodeError(offset, "%d CSRCs do not fit in %d bytes"
                             % (csrcCount, end - offset))
    csrcs = struct.unpack_from("!%dI" % (csrcCount,), data, offset)
    offset += 4 * csrcCount
    extension = None
    if first & 0x10:
        if end - offset < _EXTENSION_HEADER.size:
            raise RtpDecodeError(offset, "header extension truncated")
        profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
        offset += _EXTENSION_HEADER.size
        if end - offset < 4 * words:
            raise RtpDecodeError(offset - 2, "extension of %d words does "
                                 "not fit in %d bytes"
                                 % (words, end - offset))
        extension = RtpExtension(profile, data[offset:offset + 4 * words])
        offset += 4 * words
    padding = 0
    if first & 0x20:
        if end == offset:
            raise RtpDecodeError(offset, "padding bit set with no padding")
        padding = data[-1]
        if padding == 0 or padding > end - offset:
            raise RtpDecodeError(end - 1, "padding count %d does not fit "
                                 "in %d bytes after the header"
                                 % (padding, end - offset))
        end -= padding
    return RtpPacket(payloadType=second & 0x7F,
                     sequenceNumber=sequenceNumber, timestamp=timestamp,
                     ssrc=ssrc, payload=data[offset:end],
                     marker=bool(second & 0x80), csrcs=csrcs,
                     extension=extension, padding=padding)


@frozen
class ReceiveSnapshot:
    """
    What one receive stream has seen so far, for show commands.

    @ivar packets: every packet handed to L{ReceiveStatistics.receive}.
    @ivar octets: their payload octets (RFC 3550 counts payload only).
    @ivar expected: RFC 3550 A.3 packets expected since the base sequence.
    @ivar received: RFC 3550 A.1 valid packets (duplicates included).
    @ivar lost: cumulative packets lost, C{expected - received} clamped
        to 24 bits signed; negative when duplicates outnumber losses.
    @ivar jitterMs: interarrival jitter (A.8) in milliseconds.
    @ivar duplicates: packets whose sequence number was already seen.
    @ivar misordered: late packets not seen before.
    @ivar discarded: packets dropped by sequence validation (large jumps).
    @ivar extendedHighestSequence: cycles plus highest sequence number.
    """

    packets: int
    octets: int
    expected: int
    received: int
    lost: int
    jitterMs: float
    duplicates: int
    misordered: int
    discarded: int
    extendedHighestSequence: int


@frozen
class ReportBlock:
    """
    The figures of an RTCP reception report block (RFC 3550 6.4.1).

    @ivar ssrc: the source reported on.
    @ivar fractionLost: lost fraction since the last report, in 1/256.
    @ivar cumulativeLost: packets lost since the start (24-bit signed).
    @ivar extendedHighestSequence: cycles plus highest sequence number.
    @ivar jitter: interarrival jitter in timestamp units.
    """

    ssrc: int
    fractionLost: int
    cumulativeLost: int
    extendedHighestSequence: int
    jitter: int


@define(on_setattr=setters.NO_OP)
class ReceiveStatistics:
    """
    RFC 3550 receive statistics of one stream.  Feed every packet to
    L{receive} with its arrival time; a new SSRC restarts the sequence
    tracking (a phone re-pointing its media) but keeps the counters.

    @ivar clockRate: RTP timestamp units per second (8000 for G.711).
    @ivar minSequential: sequential packets needed to validate a source
        (1 accepts the first packet at once).
    @ivar ssrc: the source being tracked, L{None} before the first packet.
    """

    clockRate: int = field(default=G711_CLOCK_RATE,
                           validator=[validators.instance_of(int),
                                      validators.gt(0)])
    minSequential: int = field(default=MIN_SEQUENTIAL,
                               validator=[validators.instance_of(int),
                                          validators.ge(1)])
    ssrc: Optional[int] = field(default=None, init=False)
    _packets: int = field(default=0, init=False)
    _octets: int = field(default=0, init=False)
    _maxSeq: int = field(default=0, init=False)
    _cycles: int = field(default=0, init=False)
    _baseSeq: int = field(default=0, init=False)
    _badSeq: int = field(default=RTP_SEQ_MOD + 1, init=False)
    _probation: int = field(default=0, init=False)
    _received: int = field(default=0, init=False)
    _expectedPrior: int = field(default=0, init=False)
    _receivedPrior: int = field(default=0, init=False)
    _haveReference: bool = field(default=False, init=False)
    _lastArrival: float = field(default=0.0, init=False)
    _lastTimestamp: int = field(default=0, init=False)
    _jitter: float = field(default=0.0, init=False)
    _seen: int = field(default=0, init=False)
    _duplicates: int = field(default=0, init=False)
    _misordered: int = field(default=0, init=False)
    _discarded: int = field(default=0, init=False)

    def _initSeq(self, seq: int) -> None:
        self._baseSeq = seq
        self._maxSeq = seq
        self._badSeq = RTP_SEQ_MOD + 1
        self._cycles = 0
        self._received = 0
        self._receivedPrior = 0
        self._expectedPrior = 0
        self._seen = 1

    def _startSource(self, ssrc: int, seq: int) -> None:
        self.ssrc = ssrc
        self._initSeq(seq)
        self._maxSeq = (seq - 1) % RTP_SEQ_MOD
        self._seen = 0
        self._probation = self.minSequential
        self._haveReference = False

    def _updateSeq(self, seq: int) -> bool:
        udelta = (seq - self._maxSeq) % RTP_SEQ_MOD
        if self._probation:
            if seq == (self._maxSeq + 1) % RTP_SEQ_MOD:
                self._probation -= 1
                self._maxSeq = seq
                if self._probation == 0:
                    self._initSeq(seq)
                    self._received += 1
                    return True
            else:
                self._probation = self.minSequential - 1
                self._maxSeq = seq
            return False
        if udelta < MAX_DROPOUT:
            if seq < self._maxSeq:
                self._cycles += RTP_SEQ_MOD
            self._maxSeq = seq
            self._markSeen(udelta)
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            if seq == self._badSeq:
                self._initSeq(seq)
                self._haveReference = False
            else:
                self._badSeq = (seq + 1) % RTP_SEQ_MOD
                self._discarded += 1
                return False
        else:
            self._markLate(RTP_SEQ_MOD - udelta)
        self._received += 1
        return True

    def _markSeen(self, advance: int) -> None:
        if advance == 0:
            self._duplicates += 1
            return
        mask = (1 << _DUPLICATE_WINDOW) - 1
        self._seen = ((self._seen << advance) | 1) & mask

    def _markLate(self, behind: int) -> None:
        bit = 1 << behind
        if self._seen & bit:
            self._duplicates += 1
        else:
            self._misordered += 1
            self._seen |= bit

    def _updateJitter(self, timestamp: int, arrival: float) -> None:
        if not self._haveReference:
            self._haveReference = True
        else:
            elapsed = (timestamp - self._lastTimestamp) % (1 << 32)
            if elapsed >= 1 << 31:
                elapsed -= 1 << 32
            d = abs((arrival - self._lastArrival) * self.clockRate - elapsed)
            self._jitter += (d - self._jitter) / 16.0
        self._lastArrival = arrival
        self._lastTimestamp = timestamp

    def receive(self, packet: RtpPacket, arrival: float) -> bool:
        """
        Account for one received packet.

        @param packet: the packet.
        @param arrival: its arrival time in seconds (any epoch, the same
            for every call: C{clock.seconds()}).
        @return: whether RFC 3550 A.1 validation accepted it (L{False}
            while a new source is on probation and for a large jump).
        """
        return self.receiveHeader(packet.ssrc, packet.sequenceNumber,
                                  packet.timestamp, len(packet.payload),
                                  arrival)

    def receiveHeader(self, ssrc: int, seq: int, timestamp: int,
                      payloadLength: int, arrival: float) -> bool:
        """
        L{receive} from the header fields, for a receiver that has not
        built an L{RtpPacket}; the next in-sequence packet of a validated
        source (nearly every packet of a call) takes a short path.

        @return: as L{receive}.
        """
        self._packets += 1
        self._octets += payloadLength
        if self.ssrc != ssrc:
            self._startSource(ssrc, seq)
        elif (not self._probation and self._haveReference
                and seq == (self._maxSeq + 1) & 0xFFFF):
            # The next packet in order (RFC 3550 A.1 with udelta == 1).
            if seq == 0:
                self._cycles += RTP_SEQ_MOD
            self._maxSeq = seq
            self._seen = ((self._seen << 1) | 1) & _SEEN_MASK
            self._received += 1
            elapsed = (timestamp - self._lastTimestamp) & 0xFFFFFFFF
            if elapsed >= 0x80000000:
                elapsed -= 0x100000000
            d = abs((arrival - self._lastArrival) * self.clockRate - elapsed)
            self._jitter += (d - self._jitter) / 16.0
            self._lastArrival = arrival
            self._lastTimestamp = timestamp
            return True
        valid = self._updateSeq(seq)
        if valid or self._probation:
            self._updateJitter(timestamp, arrival)
        return valid

    @property
    def extendedHighestSequence(self) -> int:
        """The highest sequence number seen, extended with the cycles."""
        return self._cycles + self._maxSeq

    @property
    def expected(self) -> int:
        """Packets expected since the base sequence (RFC 3550 A.3)."""
        if self.ssrc is None or self._probation:
            return 0
        return self.extendedHighestSequence - self._baseSeq + 1

    @property
    def cumulativeLost(self) -> int:
        """Packets lost, clamped to 24 bits signed (RFC 3550 A.3)."""
        lost = self.expected - self._received
        return max(_CUMULATIVE_LOST_MIN, min(_CUMULATIVE_LOST_MAX, lost))

    @property
    def jitter(self) -> float:
        """Interarrival jitter in timestamp units (RFC 3550 A.8)."""
        return self._jitter

    def nextReport(self) -> ReportBlock:
        """
        Figures for the next reception report; starts a new interval for
        the fraction lost.

        @return: the report block.
        """
        expected = self.expected
        expectedInterval = expected - self._expectedPrior
        self._expectedPrior = expected
        receivedInterval = self._received - self._receivedPrior
        self._receivedPrior = self._received
        lostInterval = expectedInterval - receivedInterval
        if expectedInterval == 0 or lostInterval <= 0:
            fraction = 0
        else:
            fraction = (lostInterval << 8) // expectedInterval
        return ReportBlock(ssrc=self.ssrc or 0, fractionLost=fraction,
                           cumulativeLost=self.cumulativeLost,
                           extendedHighestSequence=(
                               self.extendedHighestSequence % (1 << 32)),
                           jitter=int(self._jitter))

    def snapshot(self) -> ReceiveSnapshot:
        """
        @return: the figures so far, as a frozen value.
        """
        return ReceiveSnapshot(
            packets=self._packets, octets=self._octets,
            expected=self.expected, received=self._received,
            lost=self.cumulativeLost,
            jitterMs=self._jitter * 1000.0 / self.clockRate,
            duplicates=self._duplicates, misordered=self._misordered,
            discarded=self._discarded,
            extendedHighestSequence=self.extendedHighestSequence)


@frozen
class SendSnapshot:
    """
    What one send stream has sent so far.

    @ivar packets: packets sent.
    @ivar octets: their payload octets (RFC 3550 sender octet count).
    """

    packets: int
    octets: int


@define(on_setattr=setters.NO_OP)
class SendStatistics:
    """
    Counters of one send stream (the RTCP sender report figures).
    """

    _packets: int = field(default=0, init=False)
    _octets: int = field(default=0, init=False)

    def sent(self, packet: RtpPacket) -> None:
        """
        Account for one sent packet.

        @param packet: the packet.
        """
        self.sentPayload(len(packet.payload))

    def sentPayload(self, octets: int) -> None:
        """
        Account for one sent packet by its payload size.

        @param octets: the payload octets.
        """
        self._packets += 1
        self._octets += octets

    def snapshot(self) -> SendSnapshot:
        """
        @return: the figures so far, as a frozen value.
        """
        return SendSnapshot(packets=self._packets, octets=self._octets)
