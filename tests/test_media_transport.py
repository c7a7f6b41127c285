"""
Tests for L{srst.media.transport}: the RTP port allocator and L{RtpStream}.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from twisted.internet import defer, reactor as globalReactor
from twisted.internet.address import IPv4Address
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.debug import DebugSwitches
from srst.media.rtp import PayloadType, RtpExtension, RtpPacket, decodeRtp, encodeRtp
from srst.media.srtp import SrtpProfile, SrtpSender, generateKeys
from srst.media.portrange import PortRangeExhausted, RtpPortAllocator
from srst.media.transport import MAX_DATAGRAM, RtpStream, StreamNotReady
from srst.policing.config import (
    AccessList,
    AccessListEntry,
    ClassMap,
    ControlPlanePolicy,
    Police,
    PolicyClass,
)
from srst.policing.datagram import PolicingDatagramProtocol
from srst.policing.meter import ControlPlane
from tests.pcap import buildUdpPcapOf
from tests.routerhelpers import bounded
from tests.toolhelpers import requireTool

HOST = "127.0.0.1"
ADDR_A = (HOST, 20000)
ADDR_B = (HOST, 20002)


class FakeDatagramTransport:
    """
    A minimal bound UDP port: records writes, stops like a real port.
    """

    def __init__(self, protocol: DatagramProtocol, port: int) -> None:
        self.protocol = protocol
        self.port = port
        self.written: list[tuple[bytes, Any]] = []
        self.listening = True

    def write(self, datagram: bytes, addr: Any = None) -> None:
        self.written.append((datagram, addr))

    def getHost(self) -> IPv4Address:
        return IPv4Address("UDP", HOST, self.port)

    def stopListening(self) -> None:
        if self.listening:
            self.listening = False
            self.protocol.doStop()


def bindFake(protocol: DatagramProtocol, port: int) -> FakeDatagramTransport:
    transport = FakeDatagramTransport(protocol, port)
    protocol.makeConnection(transport)
    return transport


class RtpPortAllocatorTests(SynchronousTestCase):
    """
    Tests for L{RtpPortAllocator}.
    """

    def test_evenPortsOnly(self) -> None:
        """An odd-starting range yields only its even ports, each once."""
        allocator = RtpPortAllocator(HOST, "16385-16393")
        ports = [allocator.allocate() for _ in range(4)]
        self.assertEqual(ports, [16386, 16388, 16390, 16392])
        self.assertEqual(allocator.capacity, 4)
        self.assertEqual(allocator.inUse, frozenset(ports))

    def test_exhaustion(self) -> None:
        """Once every even port is held, allocation raises
        L{PortRangeExhausted}; a released port can be handed out again."""
        allocator = RtpPortAllocator(HOST, "16384-16387")
        first = allocator.allocate()
        second = allocator.allocate()
        self.assertEqual({first, second}, {16384, 16386})
        with self.assertRaises(PortRangeExhausted) as cm:
            allocator.allocate()
        self.assertIsInstance(cm.exception, RuntimeError)
        self.assertEqual(str(cm.exception),
                         "no free even RTP port in 16384-16387 (2 in use)")
        allocator.release(first)
        self.assertEqual(allocator.allocate(), first)

    def test_neverTwiceWhileHeld(self) -> None:
        """Releasing one port does not let a held port be handed out
        again, and the allocator moves on rather than reusing at once."""
        allocator = RtpPortAllocator(HOST, "16384-16393")
        a = allocator.allocate()
        b = allocator.allocate()
        allocator.release(a)
        c = allocator.allocate()
        self.assertNotIn(c, (a, b))
        self.assertEqual(len({a, b, c}), 3)

    def test_bindSkipsBusyPorts(self) -> None:
        """A port the host refuses is released and the next even port is
        bound instead."""
        allocator = RtpPortAllocator(HOST, "16384-16399")
        tried: list[int] = []
        stream = RtpStream(Clock(), debug=DebugSwitches())

        def listen(port: int, protocol: DatagramProtocol) -> Any:
            tried.append(port)
            if port < 16388:
                raise CannotListenError(HOST, port, OSError(98, "in use"))
            return bindFake(protocol, port)

        with capturedLogs() as events:
            listening = allocator.bind(stream, listen)
        self.assertEqual(tried, [16384, 16386, 16388])
        self.assertEqual(listening.port, 16388)
        self.assertEqual(stream.localPort, 16388)
        self.assertEqual(allocator.inUse, frozenset([16388]))
        self.assertEqual([e["port"] for e in events
                          if e["log_level"] == LogLevel.warn],
                         [16384, 16386])

    def test_bindAttemptsBounded(self) -> None:
        """After C{maxBindAttempts} refusals, L{PortRangeExhausted} names
        the refusals and no port stays held."""
        allocator = RtpPortAllocator(HOST, "16384-32767", maxBindAttempts=3)
        tried: list[int] = []

        def listen(port: int, protocol: DatagramProtocol) -> Any:
            tried.append(port)
            raise CannotListenError(HOST, port, OSError(98, "in use"))

        with capturedLogs():
            with self.assertRaises(PortRangeExhausted) as cm:
                allocator.bind(RtpStream(Clock(), debug=DebugSwitches()), listen)
        self.assertEqual(len(tried), 3)
        self.assertEqual(cm.exception.bindFailures, 3)
        self.assertIn("3 refused by the host", str(cm.exception))
        self.assertEqual(allocator.inUse, frozenset())

    def test_bindExhausted(self) -> None:
        """Binding when every port is held raises L{PortRangeExhausted}
        without calling C{listen}."""
        allocator = RtpPortAllocator(HOST, "16384-16385")
        allocator.allocate()
        calls: list[int] = []
        with self.assertRaises(PortRangeExhausted):
            allocator.bind(RtpStream(Clock(), debug=DebugSwitches()),
                           lambda port, proto: calls.append(port))
        self.assertEqual(calls, [])


class StreamPair:
    """
    Two L{RtpStream}s on fake transports pointing at each other; L{pump}
    carries what each wrote to the other.
    """

    def __init__(self, secure: bool = False, **kwargs: Any) -> None:
        self.clock = Clock()
        keysAB = generateKeys() if secure else None
        keysBA = generateKeys() if secure else None
        self.keysAB = keysAB
        self.gotA: list[tuple[bytes, RtpPacket]] = []
        self.gotB: list[tuple[bytes, RtpPacket]] = []
        self.a = RtpStream(self.clock, debug=DebugSwitches(), txKeys=keysAB, rxKeys=keysBA,
                           onPayload=lambda p, pkt: self.gotA.append(
                               (p, pkt)), **kwargs)
        self.b = RtpStream(self.clock, debug=DebugSwitches(), txKeys=keysBA, rxKeys=keysAB,
                           onPayload=lambda p, pkt: self.gotB.append(
                               (p, pkt)), **kwargs)
        self.ta = bindFake(self.a, ADDR_A[1])
        self.tb = bindFake(self.b, ADDR_B[1])
        self.a.remote = ADDR_B
        self.b.remote = ADDR_A

    def pump(self) -> None:
        for source, transport, target in ((ADDR_A, self.ta, self.b),
                                          (ADDR_B, self.tb, self.a)):
            written, transport.written = transport.written, []
            for datagram, _ in written:
                target.datagramReceived(datagram, source)


class RtpStreamSendReceiveTests(SynchronousTestCase):
    """
    Tests for sending and receiving with L{RtpStream}.
    """

    def test_plainRoundTrip(self) -> None:
        """Plain RTP sent by one stream reaches the other's C{onPayload}
        with increasing sequence numbers and timestamps."""
        pair = StreamPair(ssrc=0x1234)
        for i in range(5):
            pair.a.send(bytes([i]) * 160, 160)
            pair.clock.advance(0.02)
        datagram = pair.ta.written[0][0]
        self.assertEqual(pair.ta.written[0][1], ADDR_B)
        pair.pump()
        self.assertEqual([p for p, _ in pair.gotB],
                         [bytes([i]) * 160 for i in range(5)])
        packets = [pkt for _, pkt in pair.gotB]
        self.assertEqual({pkt.ssrc for pkt in packets}, {0x1234})
        self.assertEqual(packets[0], decodeRtp(datagram))
        for before, after in zip(packets, packets[1:]):
            self.assertEqual(after.sequenceNumber,
                             (before.sequenceNumber + 1) % 65536)
            self.assertEqual(after.timestamp,
                             (before.timestamp + 160) % (1 << 32))
        self.assertEqual(packets[0].payloadType, PayloadType.PCMU)
        snapshot = pair.b.snapshot()
        self.assertEqual(snapshot.counters.received, 5)
        self.assertEqual(snapshot.counters.delivered, 5)
        self.assertEqual(snapshot.counters.decrypted, 0)
        self.assertEqual(snapshot.receive.packets, 5)
        self.assertEqual(snapshot.receive.lost, 0)
        self.assertEqual(pair.a.snapshot().send.packets, 5)
        self.assertEqual(pair.a.snapshot().send.octets, 800)
        self.assertFalse(snapshot.secure)

    def test_srtpHeaderReadOnce(self) -> None:
        """An SRTP stream accounts for and delivers a plain packet (its
        header read before decryption) and one with CSRCs and an extension
        (decoded after decryption) alike."""
        pair = StreamPair(secure=True)
        sender = SrtpSender(pair.keysAB)
        plain = RtpPacket(0, 10, 1600, 7, b"p" * 160)
        rich = RtpPacket(0, 11, 1760, 7, b"r" * 160, csrcs=(1, 2),
                         extension=RtpExtension(0xBEDE, b"abcd"))
        for packet in (plain, rich):
            pair.b.datagramReceived(sender.protect(encodeRtp(packet)), ADDR_A)
        self.assertEqual(pair.gotB, [(b"p" * 160, plain), (b"r" * 160, rich)])
        snapshot = pair.b.snapshot()
        self.assertEqual((snapshot.counters.decrypted, snapshot.counters.delivered), (2, 2))
        self.assertEqual((snapshot.receive.packets, snapshot.receive.octets,
                          snapshot.receive.extendedHighestSequence), (2, 320, 11))

    def test_srtpRoundTrip(self) -> None:
        """SRTP both ways: what is written is not the plain RTP, and each
        side decrypts and delivers the other's payloads."""
        pair = StreamPair(secure=True)
        for i in range(3):
            pair.a.send(b"A%d" % (i,), 160)
            pair.b.send(b"B%d" % (i,), 160)
        self.assertEqual(len(pair.ta.written[0][0]),
                         12 + 2 + SrtpProfile.AES_CM_128_HMAC_SHA1_32
                         .tagLength)
        self.assertNotIn(b"A0", pair.ta.written[0][0])
        pair.pump()
        self.assertEqual([p for p, _ in pair.gotB], [b"A0", b"A1", b"A2"])
        self.assertEqual([p for p, _ in pair.gotA], [b"B0", b"B1", b"B2"])
        for stream in (pair.a, pair.b):
            counters = stream.counters
            self.assertEqual((counters.received, counters.decrypted,
                              counters.delivered), (3, 3, 3))
            self.assertTrue(stream.snapshot().secure)

    def test_sendNotReady(self) -> None:
        """Sending before binding, before the far end is known, or after
        close raises L{StreamNotReady}."""
        stream = RtpStream(Clock(), debug=DebugSwitches())
        self.assertRaises(StreamNotReady, stream.send, b"x", 160)
        transport = bindFake(stream, 20000)
        with self.assertRaises(StreamNotReady) as cm:
            stream.send(b"x", 160)
        self.assertIn("far end not known", str(cm.exception))
        stream.remote = ADDR_B
        stream.send(b"x", 160)
        stream.close()
        self.assertRaises(StreamNotReady, stream.send, b"x", 160)
        self.assertEqual(len(transport.written), 1)

    def test_anySourceBeforeRemoteKnown(self) -> None:
        """Before L{RtpStream.remote} is set, packets from any source are
        accepted."""
        got: list[bytes] = []
        stream = RtpStream(Clock(), debug=DebugSwitches(), onPayload=lambda p, pkt: got.append(p))
        bindFake(stream, 20000)
        stream.datagramReceived(encodeRtp(RtpPacket(0, 1, 1, 7, b"hi")),
                                ("127.0.0.9", 4000))
        self.assertEqual(got, [b"hi"])

    def test_callbackErrorContained(self) -> None:
        """An exception from C{onPayload} is logged as a failure and does
        not escape C{datagramReceived}."""
        def boom(payload: bytes, packet: RtpPacket) -> None:
            raise ZeroDivisionError()

        stream = RtpStream(Clock(), debug=DebugSwitches(), onPayload=boom)
        bindFake(stream, 20000)
        with capturedLogs() as events:
            stream.datagramReceived(encodeRtp(RtpPacket(0, 1, 1, 7, b"x")),
                                    ADDR_B)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertTrue(any("log_failure" in e for e in events))
        self.assertEqual(stream.counters.delivered, 1)


class RtpStreamBadInputTests(SynchronousTestCase):
    """
    Each class of bad input is counted and dropped, never raised.
    """

    def setUp(self) -> None:
        self.pair = StreamPair(secure=True)
        self.events = self.enterContext(capturedLogs())

    def assertOnly(self, **expected: int) -> None:
        counters = self.pair.b.counters
        for name in ("malformed", "authFailures", "replays", "wrongSource"):
            self.assertEqual(getattr(counters, name),
                             expected.get(name, 0), name)
        self.assertEqual(self.pair.gotB, [])

    def test_malformed(self) -> None:
        """Datagrams too short or of the wrong version are malformed."""
        for datagram in (b"", b"\x80\x00", b"\x40" + bytes(40)):
            self.pair.b.datagramReceived(datagram, ADDR_A)
        self.assertOnly(malformed=3)
        warnings = [e for e in self.events
                    if e["log_level"] == LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertEqual(warnings[0]["kind"], "malformed")
        self.assertEqual(warnings[0]["peer"], ADDR_A)

    def test_laterDropsInDebugMedia(self) -> None:
        """
        Drops after the first of a kind go to the stream's debug switches
        in C{srst.debug.media}, which pass them only while that category
        is on.
        """
        published: list[dict[str, Any]] = []
        switches = DebugSwitches(publisher=published.append)
        stream = RtpStream(Clock(), debug=switches)
        bindFake(stream, 20004)
        stream.datagramReceived(b"", ADDR_A)
        stream.datagramReceived(b"", ADDR_A)
        self.assertEqual(published, [])
        switches.enable("srst.debug.media")
        stream.datagramReceived(b"", ADDR_A)
        self.assertEqual([(e["log_namespace"], e["log_level"], e["kind"], e["count"]) for e in published],
                         [("srst.debug.media", LogLevel.debug, "malformed", 3)])
        self.assertEqual(stream.counters.malformed, 3)

    def test_malformedPlain(self) -> None:
        """A plain stream drops an RTP datagram that does not decode."""
        pair = StreamPair()
        pair.b.datagramReceived(b"\x80\x00\x00", ADDR_A)
        pair.b.datagramReceived(b"\x8f" + bytes(20), ADDR_A)
        self.assertEqual(pair.b.counters.malformed, 2)
        self.assertEqual(pair.gotB, [])

    def test_malformedAfterDecrypt(self) -> None:
        """An authentic SRTP packet whose RTP does not decode (a padding
        count too large) is counted as malformed after decryption."""
        sender = SrtpSender(self.pair.keysAB)
        rtp = bytearray(encodeRtp(RtpPacket(0, 1, 1, 7, b"abcd")))
        rtp[0] |= 0x20
        rtp[-1] = 200
        self.pair.b.datagramReceived(sender.protect(bytes(rtp)), ADDR_A)
        self.assertOnly(malformed=1)
        self.assertEqual(self.pair.b.counters.decrypted, 1)

    def test_authFailure(self) -> None:
        """A tampered packet, or one under other keys, fails
        authentication."""
        self.pair.a.send(b"payload", 160)
        datagram = self.pair.ta.written.pop()[0]
        tampered = datagram[:-1] + bytes([datagram[-1] ^ 1])
        self.pair.b.datagramReceived(tampered, ADDR_A)
        other = SrtpSender(generateKeys())
        self.pair.b.datagramReceived(
            other.protect(encodeRtp(RtpPacket(0, 9, 1, 7, b"x"))), ADDR_A)
        self.assertOnly(authFailures=2)

    def test_replay(self) -> None:
        """The same SRTP packet twice is delivered once, then counted as
        a replay."""
        self.pair.a.send(b"payload", 160)
        datagram = self.pair.ta.written.pop()[0]
        self.pair.b.datagramReceived(datagram, ADDR_A)
        self.assertEqual(len(self.pair.gotB), 1)
        self.pair.gotB.clear()
        self.pair.b.datagramReceived(datagram, ADDR_A)
        self.assertOnly(replays=1)

    def test_wrongSource(self) -> None:
        """Once the far end is known, datagrams from another host are
        dropped before any decryption; the first valid packet from the far
        end's host latches its source, and other ports are dropped after."""
        self.pair.a.send(b"payload", 160)
        datagram = self.pair.ta.written.pop()[0]
        self.pair.b.datagramReceived(datagram, ("127.0.0.2", ADDR_A[1]))
        self.assertOnly(wrongSource=1)
        self.assertEqual(self.pair.b.counters.decrypted, 0)
        self.pair.b.datagramReceived(datagram, ADDR_A)
        self.assertEqual([p for p, _ in self.pair.gotB], [b"payload"])
        self.assertEqual(self.pair.b.source, ADDR_A)
        self.pair.a.send(b"second", 160)
        second = self.pair.ta.written.pop()[0]
        self.pair.b.datagramReceived(second, (HOST, ADDR_A[1] + 2))
        self.assertEqual(self.pair.b.counters.wrongSource, 2)
        self.assertEqual(len(self.pair.gotB), 1)

    def test_sourceLatchedFromAnotherPort(self) -> None:
        """A far end that sends from another port than it receives on
        (same host) is accepted and latched; a new remote unlatches."""
        self.pair.a.send(b"payload", 160)
        datagram = self.pair.ta.written.pop()[0]
        other = (HOST, ADDR_A[1] + 10)
        self.pair.b.datagramReceived(datagram, other)
        self.assertEqual(self.pair.b.source, other)
        self.pair.b.remote = (HOST, ADDR_A[1] + 20)
        self.assertIsNone(self.pair.b.source)


class RtpStreamRobustnessTests(SynchronousTestCase):
    """
    Failures around a stream that must not stop it or leak: a refused
    send, an oversized datagram, a stray sender, a payload type it does
    not play, a port closing.
    """

    def test_refusedSendKeepsSrtpGoing(self) -> None:
        """
        A send the host refuses is counted and logged, not raised; the
        next packet gets a fresh SRTP index and decrypts at the far end
        (it is not refused as a replay of the failed one).
        """
        pair = StreamPair(secure=True)
        write = pair.ta.write
        failures = [OSError(105, "No buffer space available")]

        def flaky(datagram: bytes, addr: Any = None) -> None:
            if failures:
                raise failures.pop()
            write(datagram, addr)

        pair.ta.write = flaky
        with capturedLogs() as events:
            pair.a.send(b"lost", 160)
            pair.a.send(b"next", 160)
        self.assertEqual(pair.a.counters.sendFailures, 1)
        self.assertEqual(pair.a.snapshot().send.packets, 1)
        self.assertEqual(len([e for e in events if e["log_level"] == LogLevel.warn]), 1)
        pair.pump()
        self.assertEqual([p for p, _ in pair.gotB], [b"next"])

    def test_oversizedDatagram(self) -> None:
        """
        A datagram longer than L{MAX_DATAGRAM} is malformed, on an SRTP
        stream (libsrtp would refuse it with a ValueError) and a plain one.
        """
        for secure in (True, False):
            pair = StreamPair(secure=secure)
            pair.b.datagramReceived(b"\x80" + bytes(MAX_DATAGRAM), ADDR_A)
            self.assertEqual((pair.b.counters.malformed, pair.b.counters.authFailures), (1, 0))
            self.assertEqual(pair.gotB, [])

    def test_farEndRelatches(self) -> None:
        """
        A stray packet from another port of the far end's host may latch
        first; the far end's own address still gets through (and latches),
        and the stray port is dropped after.
        """
        pair = StreamPair()
        stray = (HOST, ADDR_A[1] + 40)
        pair.b.datagramReceived(encodeRtp(RtpPacket(0, 1, 1, 99, b"stale")), stray)
        self.assertEqual(pair.b.source, stray)
        pair.a.send(b"real", 160)
        pair.pump()
        self.assertEqual(pair.b.source, ADDR_A)
        pair.b.datagramReceived(encodeRtp(RtpPacket(0, 2, 2, 99, b"stale")), stray)
        self.assertEqual([p for p, _ in pair.gotB], [b"stale", b"real"])
        self.assertEqual(pair.b.counters.wrongSource, 1)

    def test_otherPayloadTypesNotDelivered(self) -> None:
        """
        With C{acceptPayloadTypes}, comfort noise, telephone events and
        another codec are accounted for but not delivered.
        """
        got: list[bytes] = []
        stream = RtpStream(Clock(), debug=DebugSwitches(), onAudio=got.append, acceptPayloadTypes=frozenset({0}))
        bindFake(stream, 20000)
        for seq, payloadType in enumerate((0, 13, 101, 8, 0)):
            stream.datagramReceived(encodeRtp(RtpPacket(payloadType, seq, seq * 160, 7, b"%d" % payloadType)),
                                    ADDR_B)
        self.assertEqual(got, [b"0", b"0"])
        self.assertEqual((stream.counters.otherPayloadType, stream.counters.delivered), (3, 2))
        self.assertEqual(stream.snapshot().receive.packets, 5)

    def test_portReleasedOnlyOnceClosed(self) -> None:
        """
        The port goes back to the range only when the socket has closed,
        so it cannot be handed out while still bound.
        """
        released: list[int] = []
        stream = RtpStream(Clock(), debug=DebugSwitches(), releasePort=released.append)
        transport = bindFake(stream, 20000)
        closing: defer.Deferred[None] = defer.Deferred()
        transport.stopListening = lambda: closing
        done = stream.close()
        self.assertEqual(released, [])
        closing.callback(None)
        self.assertEqual(released, [20000])
        self.successResultOf(done)


class RtpStreamTimerTests(SynchronousTestCase):
    """
    Tests for the RTP-unreachable timer and L{RtpStream.close}.
    """

    def makeStream(self) -> tuple[Clock, RtpStream, list[int],
                                  list[int]]:
        clock = Clock()
        fired: list[int] = []
        released: list[int] = []
        stream = RtpStream(clock, debug=DebugSwitches(), unreachableTimeout=1.0,
                           onUnreachable=lambda: fired.append(1),
                           releasePort=released.append)
        bindFake(stream, 20000)
        stream.remote = ADDR_B
        return clock, stream, fired, released

    def test_unreachableAfterMedia(self) -> None:
        """
        With C{unreachableAfterMedia} the timeout runs only once RTP has
        arrived: silence before any packet (a call still ringing) never
        fires it, silence after media does; pausing disarms it.
        """
        clock, stream, fired, _ = self.makeStream()
        stream.unreachableAfterMedia = True
        stream.startMedia()
        clock.advance(10)
        self.assertEqual(fired, [])
        stream.datagramReceived(encodeRtp(RtpPacket(0, 1, 160, 7, b"x")), ADDR_B)
        clock.advance(0.9)
        self.assertEqual(fired, [])
        clock.advance(0.1)
        self.assertEqual(fired, [1])
        clock2, paused, fired2, _ = self.makeStream()
        paused.unreachableAfterMedia = True
        paused.startMedia()
        paused.stopMedia()
        paused.datagramReceived(encodeRtp(RtpPacket(0, 1, 160, 7, b"x")), ADDR_B)
        clock2.advance(10)
        self.assertEqual(fired2, [])

    def test_newFarEndTimedAfresh(self) -> None:
        """
        When the far end changes (an MGCP MDCX with a new remote), the
        timeout runs for the new far end from scratch: with
        C{unreachableAfterMedia} from its first packet, otherwise from the
        change.
        """
        clock, stream, fired, _ = self.makeStream()
        stream.unreachableAfterMedia = True
        stream.startMedia()
        stream.datagramReceived(encodeRtp(RtpPacket(0, 1, 160, 7, b"x")), ADDR_B)
        clock.advance(0.5)
        moved = (HOST, ADDR_B[1] + 100)
        stream.remote = moved
        clock.advance(5)
        self.assertEqual(fired, [])
        stream.datagramReceived(encodeRtp(RtpPacket(0, 1, 160, 8, b"x")), moved)
        clock.advance(1)
        self.assertEqual(fired, [1])
        clock, stream, fired, _ = self.makeStream()
        stream.startMedia()
        clock.advance(0.8)
        stream.remote = (HOST, ADDR_B[1] + 100)
        clock.advance(0.8)
        self.assertEqual(fired, [])
        clock.advance(0.2)
        self.assertEqual(fired, [1])

    def test_unreachableOnce(self) -> None:
        """With no packets after media starts, C{onUnreachable} is called
        once after the timeout, with a warning carrying fields."""
        clock, stream, fired, _ = self.makeStream()
        stream.startMedia()
        with capturedLogs() as events:
            clock.advance(0.999)
            self.assertEqual(fired, [])
            clock.advance(0.001)
            self.assertEqual(fired, [1])
            clock.advance(10)
            stream.startMedia()
            clock.advance(10)
        self.assertEqual(fired, [1])
        self.assertTrue(stream.unreachable)
        self.assertTrue(stream.snapshot().unreachable)
        [event] = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual((event["localPort"], event["remote"],
                          event["timeout"]), (20000, ADDR_B, 1.0))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_notBeforeMediaStarts(self) -> None:
        """The timer is not armed until media starts."""
        clock, stream, fired, _ = self.makeStream()
        clock.advance(5)
        self.assertEqual(fired, [])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_packetsKeepItReachable(self) -> None:
        """Good packets every half timeout reset the timer; bad ones do
        not, so it fires once the good ones stop."""
        clock, stream, fired, _ = self.makeStream()
        stream.startMedia()
        for seq in range(10):
            clock.advance(0.5)
            stream.datagramReceived(
                encodeRtp(RtpPacket(0, seq, seq * 160, 7, b"x")), ADDR_B)
        self.assertEqual(fired, [])
        with capturedLogs():
            for _ in range(3):
                clock.advance(0.4)
                stream.datagramReceived(b"junk", ADDR_B)
        self.assertEqual(fired, [1])

    def test_closeCancelsEverything(self) -> None:
        """Closing cancels the timer, stops listening and releases the
        port once; a second close does nothing."""
        clock, stream, fired, released = self.makeStream()
        transport = stream.transport
        stream.startMedia()
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        d = stream.close()
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertFalse(transport.listening)
        self.assertEqual(released, [20000])
        self.successResultOf(stream.close())
        self.assertEqual(released, [20000])
        stream.startMedia()
        clock.advance(5)
        self.assertEqual(fired, [])
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertTrue(stream.snapshot().closed)

    def test_stopProtocolCancelsTimer(self) -> None:
        """A port stopped from outside cancels the timer too."""
        clock, stream, fired, _ = self.makeStream()
        stream.startMedia()
        stream.transport.stopListening()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_allocatorRelease(self) -> None:
        """Closing a stream bound through the allocator frees its port."""
        allocator = RtpPortAllocator(HOST, "16384-16385")
        stream = RtpStream(Clock(), debug=DebugSwitches(), releasePort=allocator.release)
        allocator.bind(stream, lambda port, proto: bindFake(proto, port))
        self.assertEqual(allocator.inUse, frozenset([16384]))
        stream.close()
        self.assertEqual(allocator.inUse, frozenset())


class RtpStreamRefusedTests(SynchronousTestCase):
    """
    Tests for the ICMP-port-unreachable trigger (C{mgcp rtp unreachable}):
    L{RtpStream.connectionRefused} arms a timer that a good packet disarms.
    """

    def makeStream(self, refusedTimeout: float | None = 1.0) -> tuple[Clock, RtpStream, list[int]]:
        clock = Clock()
        fired: list[int] = []
        stream = RtpStream(clock, debug=DebugSwitches(), refusedTimeout=refusedTimeout,
                           onUnreachable=lambda: fired.append(1))
        bindFake(stream, 20000)
        stream.remote = ADDR_B
        return clock, stream, fired

    def test_refusedThenSilent(self) -> None:
        """
        An ICMP port unreachable and then no RTP for C{refusedTimeout}:
        unreachable, reported once, with a warning that says why.
        """
        clock, stream, fired = self.makeStream()
        with capturedLogs() as events:
            stream.connectionRefused()
            stream.connectionRefused()
            clock.advance(0.999)
            self.assertEqual((fired, stream.unreachable), ([], False))
            clock.advance(0.001)
            clock.advance(10)
        self.assertEqual((fired, stream.unreachable, stream.refusals), ([1], True, 2))
        [warning] = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(formatEvent(warning),
                         "RTP to ('127.0.0.1', 20002) from port 20000 unreachable: ICMP port "
                         "unreachable and no valid packet for 1.0 s")
        self.assertTrue(stream.snapshot().unreachable)

    def test_rtpAfterRefusal(self) -> None:
        """A good packet after the refusal: the far end answers after all."""
        clock, stream, fired = self.makeStream()
        stream.connectionRefused()
        clock.advance(0.5)
        stream.datagramReceived(encodeRtp(RtpPacket(0, 1, 160, 7, b"x")), ADDR_B)
        clock.advance(10)
        self.assertEqual((fired, stream.unreachable), ([], False))

    def test_silenceAloneKept(self) -> None:
        """Without a refusal, silence never makes the far end unreachable."""
        clock, stream, fired = self.makeStream()
        stream.startMedia()
        stream.datagramReceived(encodeRtp(RtpPacket(0, 1, 160, 7, b"x")), ADDR_B)
        clock.advance(3600)
        self.assertEqual((fired, clock.getDelayedCalls()), ([], []))

    def test_newFarEndOrClose(self) -> None:
        """A refusal was the old far end's: a new remote or closing disarms it."""
        clock, stream, fired = self.makeStream()
        stream.connectionRefused()
        stream.remote = (HOST, ADDR_B[1] + 100)
        clock.advance(5)
        self.assertEqual(fired, [])
        stream.connectionRefused()
        stream.close()
        clock.advance(5)
        self.assertEqual(fired, [])

    def test_ignoredWithoutTimeout(self) -> None:
        """With no C{refusedTimeout} a refusal is only counted."""
        clock, stream, fired = self.makeStream(None)
        stream.connectionRefused()
        self.assertEqual((clock.getDelayedCalls(), stream.refusals), ([], 1))
        self.assertRaises(ValueError, RtpStream, clock, debug=DebugSwitches(), refusedTimeout=0)


class RtpStreamPolicingTests(SynchronousTestCase):
    """
    An L{RtpStream} bound behind L{PolicingDatagramProtocol}.
    """

    def test_policedStream(self) -> None:
        """Datagrams the control-plane policy drops never reach the
        stream; others are delivered, and closing stops both."""
        acl = AccessList(150, [
            AccessListEntry("deny", "udp", HOST, None),
            AccessListEntry("permit", "udp", None, None),
        ])
        policy = ControlPlanePolicy(classes=[PolicyClass(
            ClassMap("rtp-class", acl),
            Police(8000, 1500, 1500, "drop", "drop"))])
        clock = Clock()
        controlPlane = ControlPlane(policy, clock)
        allocator = RtpPortAllocator(HOST, "16384-16399")
        got: list[bytes] = []
        stream = RtpStream(clock, debug=DebugSwitches(), releasePort=allocator.release,
                           onPayload=lambda p, pkt: got.append(p))
        wrapper = PolicingDatagramProtocol(stream, controlPlane)
        transport = allocator.bind(
            wrapper, lambda port, proto: bindFake(proto, port))
        self.assertIs(stream.transport, transport)
        self.assertEqual(stream.localPort, 16384)
        datagram = encodeRtp(RtpPacket(0, 1, 1, 7, b"ok"))
        with capturedLogs():
            transport.protocol.datagramReceived(datagram,
                                                ("127.0.0.2", 5000))
        transport.protocol.datagramReceived(datagram, (HOST, 5000))
        self.assertEqual(got, [b"ok"])
        self.assertEqual(stream.counters.received, 1)
        self.assertEqual(
            controlPlane.stats().byName("rtp-class").droppedPackets, 1)
        stream.close()
        self.assertFalse(transport.listening)
        self.assertEqual(allocator.inUse, frozenset())


class RtpStreamSocketTests(TestCase):
    """
    Two L{RtpStream}s on real UDP sockets on 127.0.0.1.
    """

    timeout = 30

    @bounded
    def test_srtpExchange(self) -> Any:
        """Fifty SRTP packets each way between two bound streams arrive
        with no loss in the receive statistics."""
        keysAB, keysBA = generateKeys(), generateKeys()
        got: dict[str, list[bytes]] = {"a": [], "b": []}
        allArrived: dict[str, defer.Deferred[None]] = {"a": defer.Deferred(), "b": defer.Deferred()}

        def collect(name: str) -> Any:
            def onPayload(payload: bytes, packet: RtpPacket) -> None:
                got[name].append(payload)
                if len(got[name]) == 50:
                    allArrived[name].callback(None)
            return onPayload

        a = RtpStream(globalReactor, debug=DebugSwitches(), txKeys=keysAB, rxKeys=keysBA,
                      onPayload=collect("a"), unreachableTimeout=10.0)
        b = RtpStream(globalReactor, debug=DebugSwitches(), txKeys=keysBA, rxKeys=keysAB,
                      onPayload=collect("b"), unreachableTimeout=10.0)
        for stream in (a, b):
            globalReactor.listenUDP(0, stream, interface=HOST)
            self.addCleanup(stream.close)
        a.remote = (HOST, b.localPort)
        b.remote = (HOST, a.localPort)
        a.startMedia()
        b.startMedia()
        for i in range(50):
            a.send(b"a%02d" % (i,) + bytes(157), 160)
            b.send(b"b%02d" % (i,) + bytes(157), 160)
        yield defer.gatherResults([allArrived["a"], allArrived["b"]])
        self.assertEqual([p[:3] for p in got["b"]],
                         [b"a%02d" % (i,) for i in range(50)])
        self.assertEqual([p[:3] for p in got["a"]],
                         [b"b%02d" % (i,) for i in range(50)])
        for stream in (a, b):
            snapshot = stream.snapshot()
            self.assertEqual(snapshot.counters.decrypted, 50)
            self.assertEqual(snapshot.receive.packets, 50)
            self.assertEqual(snapshot.receive.lost, 0)
            self.assertEqual(snapshot.receive.expected,
                             snapshot.receive.received)
            self.assertEqual(snapshot.send.packets, 50)
            self.assertFalse(snapshot.unreachable)


class RtpTsharkTests(TestCase):
    """
    Wireshark's RTP dissector reads what an L{RtpStream} sends over a real
    UDP socket on 127.0.0.1 (the router-terminated media of a voice-port
    call), written to a pcap as it arrived.
    """

    timeout = 30

    @bounded
    def test_tsharkDecodesSentRtp(self) -> Any:
        """
        Twenty PCMA packets from a stream with SSRC 0x5EC0DE11, the first
        marked: tshark finds no malformed packet and reads the SSRC,
        consecutive sequence numbers, timestamps 160 apart, payload type 8,
        the marker and the payloads that were sent, the same as the bytes
        of the RTP header (RFC 3550 5.1) say.
        """
        tshark = requireTool("tshark")
        count = 20
        captured: list[tuple[Any, bytes]] = []
        arrived: defer.Deferred[None] = defer.Deferred()

        class Recorder(DatagramProtocol):
            def datagramReceived(self, datagram: bytes, addr: Any) -> None:
                captured.append((addr, datagram))
                if len(captured) == count:
                    arrived.callback(None)

        port = globalReactor.listenUDP(0, Recorder(), interface=HOST)
        self.addCleanup(port.stopListening)
        stream = RtpStream(globalReactor, debug=DebugSwitches(), payloadType=PayloadType.PCMA, ssrc=0x5EC0DE11)
        globalReactor.listenUDP(0, stream, interface=HOST)
        self.addCleanup(stream.close)
        destination = (HOST, port.getHost().port)
        stream.remote = destination
        payloads = [bytes((i * 7 + j) % 256 for j in range(160)) for i in range(count)]
        sent = [stream.send(payload, 160, marker=(i == 0)) for i, payload in enumerate(payloads)]
        yield arrived.addTimeout(10, globalReactor)
        self.assertEqual([d for _, d in captured], sent)
        self.assertEqual({addr for addr, _ in captured}, {(HOST, stream.localPort)})

        path = self.mktemp() + ".pcap"
        with open(path, "wb") as f:
            f.write(buildUdpPcapOf([(addr, destination, d) for addr, d in captured]))
        home = self.mktemp()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home}
        decodeAs = ("-n", "-r", path, "-d", "udp.port==%d,rtp" % (destination[1],))
        out, err, code = yield getProcessOutputAndValue(
            tshark, decodeAs + ("-Y", "_ws.malformed || _ws.expert.severity == error"), env=env,
            reactor=globalReactor)
        self.assertEqual((code, out), (0, b""), err)
        out, err, code = yield getProcessOutputAndValue(
            tshark, decodeAs + ("-T", "fields", "-E", "separator=;", "-e", "rtp.version", "-e", "rtp.ssrc",
                                "-e", "rtp.seq", "-e", "rtp.timestamp", "-e", "rtp.p_type", "-e", "rtp.marker",
                                "-e", "rtp.payload"),
            env=env, reactor=globalReactor)
        self.assertEqual(code, 0, err)
        rows = [line.split(";") for line in out.decode("ascii").splitlines()]
        self.assertEqual(len(rows), count)
        firstSeq, firstTs = struct.unpack_from("!HI", sent[0], 2)
        for i, (row, payload) in enumerate(zip(rows, payloads)):
            version, ssrc, seq, timestamp, payloadType, marker, data = row
            self.assertEqual((version, int(ssrc, 16), int(seq), int(timestamp), payloadType),
                             ("2", 0x5EC0DE11, (firstSeq + i) % 65536, (firstTs + 160 * i) % 2 ** 32, "8"))
            self.assertIn(marker, ("1", "True") if i == 0 else ("0", "False"))
            self.assertEqual(bytes.fromhex(data.replace(":", "")), payload)
