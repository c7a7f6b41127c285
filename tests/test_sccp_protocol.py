"""
Tests for L{srst.sccp.protocol} and L{srst.sccp.factory}: framing, bad
input, pausing, the socket/TLS debug lines, handshake failures, and a real
TLS handshake in memory.
"""

from __future__ import annotations

import os

import random
import struct
from typing import Any

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import ClientCreator, Factory, Protocol
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import Logger, formatEvent, globalLogPublisher
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from srst.pki.tls import HandshakeFailure, phoneClientTLSOptions, serverTLSOptions
from srst.sccp import messages as m
from srst.sccp.factory import HANDSHAKE_TIMED_OUT
from srst.sccp.protocol import MAX_BUFFER
from srst.sccp.station import HANDSHAKE_TIMEOUT, StationStatus
from tests.pkihelpers import makeCA, makePhoneCertificate, makeServerCertificate
from tests.routerhelpers import within
from tests.test_sccp_station import (
    CONFIGURED_MAC,
    CertificateTransport,
    Events,
    Listener,
    Router,
    makeConfig,
    phoneCA,
    registerMessage,
    types,
)


def _undecodableFrame() -> bytes:
    """
    A ConnectionStatisticsRes whose text length field exceeds the frame: a
    complete frame that does not decode.
    """
    body = b"\x00" * 60 + struct.pack("<I", 9999)
    return struct.pack("<III", 4 + len(body), 0, 0x0023) + body


class FramingTests(SynchronousTestCase):
    """
    Cutting the byte stream into messages.
    """

    def test_byteByByte(self) -> None:
        """
        A Register delivered one byte at a time is acted on once complete.
        """
        router = Router()
        phone = router.connect()
        data = m.encodeMessage(registerMessage(), protocolVersion=0)
        for index in range(len(data) - 1):
            phone.protocol.dataReceived(data[index:index + 1])
        self.assertEqual(phone.received(), [])
        phone.protocol.dataReceived(data[-1:])
        self.assertEqual(types(phone.received()), ["RegisterAck", "CapabilitiesReq"])

    def test_framesAcrossChunks(self) -> None:
        """
        Frames that straddle chunk boundaries are reassembled in order.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        data = b"".join(m.encodeMessage(msg, protocolVersion=5)
                        for msg in (m.KeepAlive(), m.LineStatReq(1), m.KeepAlive()))
        phone.protocol.dataReceived(data[:7])
        phone.protocol.dataReceived(data[7:20])
        phone.protocol.dataReceived(data[20:])
        self.assertEqual(types(phone.received()), ["KeepAliveAck", "LineStat", "KeepAliveAck"])

    def test_unknownMessageSkipped(self) -> None:
        """
        An unknown message id is logged at info and skipped; the connection
        stays open and the next message is handled.
        """
        router = Router()
        phone = router.connect()
        events = Events()
        phone.protocol.log = Logger(namespace="test", observer=events)
        unknown = struct.pack("<III", 8, 0, 0x7777) + b"abcd"
        phone.protocol.dataReceived(unknown + m.encodeMessage(m.KeepAlive(), protocolVersion=0))
        self.assertEqual(phone.received(), [m.KeepAliveAck()])
        [event] = events.find("unknown message")
        self.assertEqual(event["log_level"].name, "info")
        self.assertEqual(event["messageId"], "0x7777")
        self.assertTrue(phone.open)


class BadInputTests(SynchronousTestCase):
    """
    Bad input closes only the connection that sent it.
    """

    def setUp(self) -> None:
        self.router = Router(makeConfig(maxEphones=2))
        self.good = self.router.connect(port=40000)
        self.good.register("SEP0011223344AA")
        self.good.received()

    def assertGoodStillWorks(self) -> None:
        self.assertTrue(self.good.open)
        self.assertEqual(self.good.ask(m.KeepAlive()), [m.KeepAliveAck()])
        self.assertEqual([e.mac for e in self.router.registry.registeredEphones()], ["0011223344AA"])

    def test_randomBytes(self) -> None:
        """
        Random bytes close the connection with a logged reason; another
        registered phone keeps working.  The reason is logged once per kind
        of bad input from one peer, and the repeats are summed up when the
        minute is over.
        """
        rng = random.Random(2000)
        events = Events()
        for _ in range(20):
            bad = self.router.connect(port=41000)
            bad.protocol.log = Logger(namespace="test", observer=events)
            bad.protocol.dataReceived(bytes(rng.randrange(256) for _ in range(64)))
            self.assertFalse(bad.open)
        self.assertGoodStillWorks()
        self.assertEqual(self.router.clock.getDelayedCalls()[0].getTime(), 60)
        self.assertEqual(self.router.clock.getDelayedCalls()[1].getTime(), 90)
        closing = events.find("closing")
        self.assertEqual([e["what"] for e in closing], ["bad frame"])
        self.router.clock.advance(60)
        self.assertEqual([formatEvent(e) for e in events.find("more {what}")], [
            "10.1.1.40: 19 more connections closed (bad frame) in the last minute",
            "10.1.1.40: 19 more connections closed with an unfinished frame in the last minute"])
        self.assertEqual(len(events.events), 4)

    def test_impossibleLength(self) -> None:
        """
        A length field beyond the frame limit aborts the connection.
        """
        bad = self.router.connect(port=41000)
        events = Events()
        bad.protocol.log = Logger(namespace="test", observer=events)
        bad.protocol.dataReceived(struct.pack("<III", 0xFFFFFFF0, 0, 1))
        self.assertTrue(bad.transport.disconnected)
        [event] = events.find("closing")
        self.assertEqual((event["what"], event["peer"]), ("bad frame", "skinny[2] 10.1.1.40 41000"))
        self.assertEqual(self.router.plain.inputErrors["bad frame"], 1)
        self.assertGoodStillWorks()

    def test_lengthBelowFour(self) -> None:
        """
        A length field below 4 (no room for the message id) aborts the
        connection of a registered phone, which is unregistered.
        """
        bad = self.router.connect(port=41000)
        bad.register()
        bad.protocol.dataReceived(struct.pack("<II", 2, 0) + b"xx")
        self.assertTrue(bad.transport.disconnected)
        self.assertFalse(self.router.registry.byMac(CONFIGURED_MAC).registered)
        self.assertGoodStillWorks()

    def test_undecodableMessage(self) -> None:
        """
        A complete frame that does not decode closes the connection (without
        aborting) and is counted.
        """
        frame = _undecodableFrame()
        self.assertRaises(m.DecodeError, m.decodeMessage, frame, protocolVersion=0)
        bad = self.router.connect(port=41000)
        bad.protocol.dataReceived(frame + m.encodeMessage(m.KeepAlive(), protocolVersion=0))
        self.assertFalse(bad.open)
        self.assertFalse(bad.transport.disconnected)
        self.assertEqual(bad.received(), [])
        self.assertEqual(self.router.plain.inputErrors["undecodable message"], 1)
        self.assertGoodStillWorks()

    def test_truncatedFrame(self) -> None:
        """
        A connection lost in the middle of a frame ends cleanly: the phone
        is unregistered and no timer is left for it.
        """
        bad = self.router.connect(port=41000)
        bad.register()
        events = Events()
        bad.protocol.log = Logger(namespace="test", observer=events)
        bad.protocol.dataReceived(m.encodeMessage(m.LineStatReq(1), protocolVersion=5)[:10])
        bad.transport.loseConnection()
        self.assertEqual(events.find("unfinished frame")[0]["count"], 10)
        self.assertIs(bad.station.status(), StationStatus.CLOSED)
        self.assertEqual(len(self.router.clock.getDelayedCalls()), 1)
        self.assertGoodStillWorks()

    def test_unexpectedMessageIgnored(self) -> None:
        """
        A message the session's state does not allow is logged and ignored.
        """
        phone = self.router.connect(port=41000)
        events = Events()
        phone.protocol.log = Logger(namespace="test", observer=events)
        phone.send(m.OnHook())
        [event] = events.find("ignored in state")
        self.assertEqual((event["what"], event["state"]), ("OnHook", "connected"))
        self.assertTrue(phone.open)

    def test_bugClosesOnlyThisConnection(self) -> None:
        """
        An unexpected exception while handling a message is logged with its
        traceback and aborts only that connection.
        """
        def broken(station: Any, msg: m.Message) -> None:
            raise ZeroDivisionError("call engine bug")

        self.router.plain.listener = Listener(onMessage=broken)
        bad = self.router.connect(port=41000)
        bad.register()
        bad.send(m.OffHook())
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertTrue(bad.transport.disconnected)
        self.assertGoodStillWorks()

    def test_bufferLimit(self) -> None:
        """
        A connection whose unparsed data would exceed the buffer limit while
        parsing is paused is aborted.
        """
        bad = self.router.connect(port=41000)
        bad.protocol.pauseProducing()
        keepAlive = m.encodeMessage(m.KeepAlive(), protocolVersion=0)
        bad.protocol.dataReceived(keepAlive * (MAX_BUFFER // len(keepAlive)))
        self.assertTrue(bad.open)
        bad.protocol.dataReceived(keepAlive)
        self.assertTrue(bad.transport.disconnected)
        self.assertEqual(self.router.plain.inputErrors["buffer overflow"], 1)
        self.assertGoodStillWorks()

    def test_bigReadWhileNotPaused(self) -> None:
        """
        A read larger than the buffer limit is parsed normally when the
        connection is not paused.
        """
        phone = self.router.connect(port=41000)
        keepAlive = m.encodeMessage(m.KeepAlive(), protocolVersion=0)
        count = 2 * MAX_BUFFER // len(keepAlive)
        phone.protocol.dataReceived(keepAlive * count)
        self.assertTrue(phone.open)
        self.assertEqual(len(phone.received()), count)


class PauseTests(SynchronousTestCase):
    """
    Parsing stops while the protocol is paused.
    """

    def test_pauseAndResume(self) -> None:
        """
        Frames received while paused are handled, in order, on resume; the
        transport is paused and resumed with the protocol.
        """
        router = Router()
        phone = router.connect()
        phone.protocol.pauseProducing()
        self.assertEqual(phone.transport.producerState, "paused")
        phone.send(registerMessage(), m.KeepAlive())
        self.assertEqual(phone.received(), [])
        phone.protocol.resumeProducing()
        self.assertEqual(phone.transport.producerState, "producing")
        self.assertEqual(types(phone.received()), ["RegisterAck", "CapabilitiesReq", "KeepAliveAck"])

    def test_pauseFromHandler(self) -> None:
        """
        A pause requested while a chunk is being dispatched keeps the rest of
        the chunk for later.
        """
        seen: list[str] = []
        router = Router(listener=Listener(onMessage=lambda station, msg: (
            seen.append(type(msg).__name__), station.core.sender.pauseProducing())))
        phone = router.connect()
        phone.register()
        phone.send(m.OffHook(), m.OnHook())
        self.assertEqual(seen, ["OffHook"])
        phone.protocol.resumeProducing()
        self.assertEqual(seen, ["OffHook", "OnHook"])

    def test_stopProducing(self) -> None:
        """
        stopProducing closes the connection.
        """
        router = Router()
        phone = router.connect()
        phone.protocol.stopProducing()
        self.assertFalse(phone.open)


class DebugLineTests(SynchronousTestCase):
    """
    The C{debug ephone register} lines about sockets and TLS (seed).
    """

    def test_plainSocket(self) -> None:
        """
        A new plain connection logs the seed's socket lines with the count
        of other active sockets.
        """
        router = Router()
        router.connect(host="10.5.43.177", port=51617)
        router.connect(host="10.5.43.178", port=51618)
        texts = [e["log_format"].format(**e) for e in router.debug.events
                 if e["log_namespace"] == "srst.debug.ephone.register"]
        self.assertEqual(texts, [
            "New Skinny socket accepted [1] (0 active)",
            "sin_family 2, sin_port 51617, in_addr 10.5.43.177",
            "New Skinny socket accepted [2] (1 active)",
            "sin_family 2, sin_port 51618, in_addr 10.5.43.178",
        ])
        self.assertEqual(router.plain.statistics()["activeConnections"], 2)

    def test_secureSocket(self) -> None:
        """
        A secure connection also logs the secure session count, the start
        and the completion of the TLS handshake.
        """
        router = Router()
        certificate, _ = makePhoneCertificate(phoneCA(), CONFIGURED_MAC)
        secure = router.makeFactory(secure=True)
        transport = CertificateTransport(certificate, peerAddress=IPv4Address("TCP", "10.5.43.177", 51617))
        phone = router.connect(factory=secure, transport=transport, host="10.5.43.177", port=51617)
        phone.protocol.handshakeCompleted()
        texts = [e["log_format"].format(**e) for e in router.debug.events
                 if e["log_namespace"] == "srst.debug.ephone.register"]
        self.assertEqual(texts, [
            "New Skinny socket accepted [1] (0 active)",
            "sin_family 2, sin_port 51617, in_addr 10.5.43.177",
            "skinny_socket_process: secure skinny sessions = 1",
            f"add_skinny_secure_socket: pid ={os.getpid()}, new_sock=1, ip address = 10.5.43.177",
            f"skinny_secure_handshake: pid ={os.getpid()}, sock=1, args->pid={os.getpid()}, ip address = 10.5.43.177",
            "Start TLS Handshake 1 10.5.43.177 51617",
            "TLS Handshake completes",
        ])
        self.assertEqual(secure.handshakesCompleted, 1)

    def test_stateLines(self) -> None:
        """
        The station machine's transitions are logged on their own debug
        namespace, not on C{debug ephone state}: IOS prints no
        C{[1]:new -> connected (TCP connection)} there.
        """
        router = Router(debugOn=("srst.debug.ephone", "srst.debug.sccp.machine"))
        router.connect().register()
        texts = [e["log_format"].format(**e) for e in router.debug.events
                 if e["log_namespace"] == "srst.debug.sccp.machine"]
        self.assertEqual(texts, ["[1]:new -> connected (TCP connection)",
                                 "ephone-1[1]:connected -> registered (Register accepted)"])
        state = [e["log_format"].format(**e) for e in router.debug.events
                 if e["log_namespace"] == "srst.debug.ephone.state"]
        self.assertEqual([text for text in state if " -> " in text], [])


class _FakeTLSOptions:
    def __init__(self) -> None:
        self.asked: list[Any] = []

    def observeHandshake(self, transport: Any, observer: Any) -> None:
        pass

    def handshakeFailure(self, transport: Any, reason: Failure) -> HandshakeFailure:
        self.asked.append(transport)
        return HandshakeFailure("unknown issuer", 20, 0, "CN=SEP001122334455", "X509_V_ERR 20")


class HandshakeFailureTests(SynchronousTestCase):
    """
    TLS handshakes that do not complete are counted by reason.
    """

    def test_failureReasonFromTLSOptions(self) -> None:
        """
        A connection lost before the handshake completed asks the TLS options
        why, logs it and counts it under that reason.
        """
        router = Router()
        options = _FakeTLSOptions()
        secure = router.makeFactory(secure=True)
        secure.tlsOptions = options
        phone = router.connect(factory=secure, transport=CertificateTransport(None))
        events = Events()
        secure.log = Logger(namespace="test", observer=events)
        phone.protocol.connectionLost(Failure(ConnectionLost("gone")))
        self.assertEqual(options.asked, [phone.transport])
        self.assertEqual(dict(secure.handshakeFailures), {"unknown issuer": 1})
        [event] = events.find("TLS handshake failed")
        self.assertEqual((event["reason"], event["ip"]), ("unknown issuer", "10.1.1.40"))
        self.assertTrue(router.debug.find("TLS Handshake fails"))
        self.assertEqual(router.clock.getDelayedCalls(), [])

    def test_reasonsOfOnePeerShareOneLogKey(self) -> None:
        """
        Failed handshakes of one peer for different reasons are one kind
        of event for the log limiter: the first is logged with its reason,
        the next only counted (under its own reason) and summed up after a
        minute without a reason, so reason text cannot grow the limiter's
        table.
        """
        router = Router()
        secure = router.makeFactory(secure=True)
        events = Events()
        secure.log = Logger(namespace="test", observer=events)
        secure.tlsOptions = _FakeTLSOptions()
        first = router.connect(factory=secure, transport=CertificateTransport(None))
        first.protocol.connectionLost(Failure(ConnectionLost("gone")))
        secure.tlsOptions = None
        second = router.connect(factory=secure, transport=CertificateTransport(None))
        second.transport.loseConnection()
        self.assertEqual(dict(secure.handshakeFailures), {"unknown issuer": 1, "connection closed during handshake": 1})
        self.assertEqual(secure.logLimiter.tracked, 1)
        router.clock.advance(60)
        self.assertEqual([formatEvent(e) for e in events.events], [
            "TLS handshake failed with 10.1.1.40 32626 (socket 1): unknown issuer",
            "10.1.1.40: 1 more failed TLS handshakes in the last minute"])

    def test_failureWithoutOptions(self) -> None:
        """
        Without TLS options the reason comes from the connection error.
        """
        router = Router()
        secure = router.makeFactory(secure=True)
        phone = router.connect(factory=secure, transport=CertificateTransport(None))
        phone.transport.loseConnection()
        self.assertEqual(dict(secure.handshakeFailures), {"connection closed during handshake": 1})

    def test_timeoutCounted(self) -> None:
        """
        A handshake that times out is counted as such.
        """
        router = Router()
        secure = router.makeFactory(secure=True)
        secure.tlsOptions = _FakeTLSOptions()
        router.connect(factory=secure, transport=CertificateTransport(None))
        router.clock.advance(HANDSHAKE_TIMEOUT)
        self.assertEqual(dict(secure.handshakeFailures), {HANDSHAKE_TIMED_OUT: 1})

    def test_plainListenerNeverCounts(self) -> None:
        """
        The plain listener has no handshake to fail.
        """
        router = Router()
        router.connect().transport.loseConnection()
        self.assertEqual(dict(router.plain.handshakeFailures), {})


@implementer(IHandshakeListener)
class _PhoneSide(Protocol):
    """A TLS client that sends Register once the handshake completes."""

    def __init__(self, deviceName: str) -> None:
        self.deviceName = deviceName
        self.received = b""
        self.handshakeDone = False

    def handshakeCompleted(self) -> None:
        self.handshakeDone = True
        self.transport.write(m.encodeMessage(registerMessage(self.deviceName), protocolVersion=0))

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any) -> None:
        self.lost = reason


class InMemoryTLSTests(SynchronousTestCase):
    """
    The secure listener behind C{TLSMemoryBIOFactory}, with certificates
    from test CAs.
    """

    def connect(self, router: Router, certificate: Any, key: Any, deviceName: str) -> tuple[Any, _PhoneSide]:
        routerCA = makeCA("router CA")
        serverCertificate, serverKey = makeServerCertificate(routerCA)
        serverOptions = serverTLSOptions("sccp secure", serverCertificate, serverKey,
                                         trustedCertificates=[phoneCA().certificate])
        secure = router.makeFactory(secure=True)
        secure.tlsOptions = serverOptions
        phone = _PhoneSide(deviceName)

        class PhoneFactory(Factory):
            def buildProtocol(self, addr: Any) -> _PhoneSide:
                return phone

        serverFactory = TLSMemoryBIOFactory(serverOptions, False, secure, clock=router.clock)
        clientFactory = TLSMemoryBIOFactory(
            phoneClientTLSOptions([routerCA.certificate], certificate, key), True, PhoneFactory(),
            clock=router.clock)
        _, _, pump = iosim.connectedServerAndClient(
            lambda: serverFactory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000)),
            lambda: clientFactory.buildProtocol(None), clock=router.clock)
        pump.flush()
        return secure, phone

    def test_securePhoneRegisters(self) -> None:
        """
        A phone with a certificate from the trusted phone CA naming its
        device registers as secure.
        """
        router = Router()
        certificate, key = makePhoneCertificate(phoneCA(), CONFIGURED_MAC)
        secure, phone = self.connect(router, certificate, key, "SEP" + CONFIGURED_MAC)
        frames, _ = m.splitFrames(phone.received)
        self.assertEqual([type(m.decodeMessage(f, protocolVersion=5)).__name__ for f in frames],
                         ["RegisterAck", "CapabilitiesReq"])
        self.assertTrue(router.registry.byMac(CONFIGURED_MAC).secure)
        self.assertEqual(secure.handshakesCompleted, 1)

    def test_wrongDeviceRejected(self) -> None:
        """
        A verified certificate for another device gets RegisterReject.
        """
        router = Router()
        certificate, key = makePhoneCertificate(phoneCA(), "0011223344AA")
        _, phone = self.connect(router, certificate, key, "SEP" + CONFIGURED_MAC)
        frames, _ = m.splitFrames(phone.received)
        self.assertEqual([m.decodeMessage(f, protocolVersion=0) for f in frames],
                         [m.RegisterReject("Certificate mismatch")])
        self.assertEqual(router.registry.registeredEphones(), [])

    def test_untrustedCertificate(self) -> None:
        """
        A certificate from an unknown CA fails the handshake, counted with
        the verification reason.
        """
        router = Router()
        certificate, key = makePhoneCertificate(makeCA("rogue CA"), CONFIGURED_MAC)
        secure, phone = self.connect(router, certificate, key, "SEP" + CONFIGURED_MAC)
        self.assertEqual(phone.received, b"")
        self.assertEqual(dict(secure.handshakeFailures), {"unknown issuer": 1})
        self.assertEqual(router.registry.registeredEphones(), [])


class _Flooder(Protocol):
    """
    Send C{count} frames of an unknown message, then a KeepAlive; fire
    C{acked} when the router answers (every frame has been handled).
    """

    def __init__(self, count: int, acked: Deferred[None]) -> None:
        self.count = count
        self.acked = acked

    def connectionMade(self) -> None:
        unknown = struct.pack("<III", 8, 0, 0x7777) + b"junk"
        self.transport.write(unknown * self.count + m.encodeMessage(m.KeepAlive(), protocolVersion=0))

    def dataReceived(self, data: bytes) -> None:
        if not self.acked.called:
            self.acked.callback(None)


class LogFloodTests(TestCase):
    """
    Garbage from peers over real loopback sockets is logged once per peer
    and kind, and summed up when the minute (on the factory's clock) is over.
    """

    timeout = 10

    def test_thousandUnknownMessages(self) -> None:
        """
        1000 unknown messages from 127.0.0.1 give one line and one summary
        with the other 999; 127.0.0.2, flooding at the same time, gets its
        own first line and summary.
        """
        router = Router()
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        port = reactor.listenTCP(0, router.plain, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        address = port.getHost()
        done = []
        for source in ("127.0.0.1", "127.0.0.2"):
            acked: Deferred[None] = Deferred()
            client = ClientCreator(reactor, _Flooder, 1000, acked)
            connected = client.connectTCP(address.host, address.port, bindAddress=(source, 0))
            connected.addCallback(lambda p: self.addCleanup(p.transport.loseConnection))
            done.append(acked)

        def check(ignored: object) -> None:
            def lines(summary: bool) -> list[str]:
                return sorted(formatEvent(e) for e in events
                              if e["log_namespace"].startswith("srst.sccp") and "unknown" in formatEvent(e)
                              and e.get("summary", False) is summary)
            first = lines(summary=False)
            self.assertEqual([line.split(": ", 1)[1] for line in first],
                             ["unknown message 0x7777 (4 bytes) ignored"] * 2)
            self.assertEqual([line.split()[1] for line in first], ["127.0.0.1", "127.0.0.2"])
            self.assertEqual(lines(summary=True), [])
            router.clock.advance(60)
            self.assertEqual(lines(summary=True), [
                "127.0.0.1: 999 more unknown messages ignored in the last minute",
                "127.0.0.2: 999 more unknown messages ignored in the last minute"])
            self.assertEqual(len(lines(summary=False)), 2)

        return within(gatherResults(done), "both floods to be acknowledged").addCallback(check)
