"""
Tests for L{srst.credentials}: the credentials service inside TLS, its IOS
debug lines, deadlines, the certificate reply, and C{show}/C{debug
credentials}.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from functools import lru_cache

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from OpenSSL import SSL
from twisted.internet import defer, protocol
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import Clock
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import LogLevel, Logger, capturedLogs, formatEvent
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, connect
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from srst.admin.commands import CommandResult, CommandTable, DebugRequest
from srst.credentials import (
    CERTIFICATE_REQUEST,
    DEBUG_NAMESPACE,
    MAX_REQUEST_BYTES,
    CredentialsFactory,
    CredentialsStatistics,
    InvalidCertificate,
    ReplyTooLarge,
    decodeCertificateReply,
    describeFailure,
    encodeCertificateReply,
    registerCredentialsCommands,
)
from srst.debug import DebugSwitches
from tests.routerhelpers import bounded
from tests.toolhelpers import requireTool

SERVER = IPv4Address("TCP", "10.1.1.22", 2445)
CALLMANAGER = IPv4Address("TCP", "10.1.1.13", 2187)

START = "Credentials service: Start TLS Handshake {n} 10.1.1.13 2187"
WOULD_BLOCK = "Credentials service: TLS Handshake returns OPSSLReadWouldBlockErr"
COMPLETES = "Credentials service: TLS Handshake completes."


# ---------------------------------------------------------------------------
# Certificates (made with cryptography directly; srst.pki is built elsewhere)


@frozen
class Identity:
    """
    A key and its certificate.
    """

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(Encoding.PEM)


@frozen
class TestPKI:
    """
    A CA, the router's server certificate it issued (SAN IP 127.0.0.1), a
    second server certificate from the same CA, and an unrelated CA.
    """

    ca: Identity
    server: Identity
    otherServer: Identity
    otherCA: Identity


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: Identity | None,
    isCA: bool,
    ips: tuple[str, ...] = (),
) -> Identity:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    signingKey = key if issuer is None else issuer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(subject) if issuer is None else issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=365))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=isCA, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    )
    if isCA:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        ).add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("branch-router")]
                + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
            ),
            critical=False,
        )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    return Identity(key, builder.sign(signingKey, hashes.SHA256()))


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@lru_cache(maxsize=None)
def makePKI() -> TestPKI:
    """
    @return: the test certificates (made once per process).
    """
    ca = _issue("srstcaserver", _key(), None, True)
    server = _issue("branch-router", _key(), ca, False, ("127.0.0.1",))
    otherServer = _issue("other-router", _key(), ca, False, ("127.0.0.1",))
    otherCA = _issue("someone-else", _key(), None, True)
    return TestPKI(ca, server, otherServer, otherCA)


def serverOptions(pki: TestPKI) -> CertificateOptions:
    """
    @return: the credentials service's TLS options: the router certificate
        and its CA chain, no client certificate requested.
    """
    return CertificateOptions(
        privateKey=pki.server.key,
        certificate=pki.server.certificate,
        extraCertChain=[pki.ca.certificate],
    )


# ---------------------------------------------------------------------------
# In-memory harness


@implementer(IHandshakeListener)
class RecordingClient(protocol.Protocol):
    """
    A CallManager-like client inside TLS: records the handshake, the peer
    certificate and what it receives.
    """

    def __init__(self) -> None:
        self.handshakeDone = False
        self.peerCertificate: x509.Certificate | None = None
        self.received = b""
        self.lostReason: Failure | None = None

    def handshakeCompleted(self) -> None:
        self.handshakeDone = True
        self.peerCertificate = self.transport.getPeerCertificate().to_cryptography()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lostReason = reason


class Harness:
    """
    One in-memory connection: a L{CredentialsFactory} inside
    L{TLSMemoryBIOFactory}, a client, a L{Clock} and an L{iosim} pump.
    """

    def __init__(
        self,
        clientProtocol: protocol.Protocol | None = None,
        clientOptions: object | None = None,
        factory: CredentialsFactory | None = None,
        clock: Clock | None = None,
        events: list | None = None,
    ) -> None:
        pki = makePKI()
        self.clock = clock if clock is not None else Clock()
        self.debugEvents: list = events if events is not None else []
        if factory is None:
            factory = CredentialsFactory(
                pki.server.der,
                clock=self.clock,
                handshakeTimeout=10,
                idleTimeout=30,
                closeTimeout=5,
                debugLog=Logger(namespace=DEBUG_NAMESPACE, observer=self.debugEvents.append),
            )
        self.factory = factory
        serverTLS = TLSMemoryBIOFactory(serverOptions(pki), False, factory, clock=self.clock)
        self.server = serverTLS.buildProtocol(CALLMANAGER)
        self.client = clientProtocol if clientProtocol is not None else RecordingClient()
        if clientOptions is None:
            clientOptions = CertificateOptions()
        if clientOptions is False:
            self.clientTop = self.client
        else:
            clientTLS = TLSMemoryBIOFactory(
                clientOptions, True, protocol.Factory.forProtocol(lambda: self.client),
                clock=self.clock,
            )
            self.clientTop = clientTLS.buildProtocol(SERVER)
        self.serverTransport = FakeTransport(
            self.server, isServer=True, hostAddress=SERVER, peerAddress=CALLMANAGER
        )
        self.clientTransport = FakeTransport(
            self.clientTop, isServer=False, hostAddress=CALLMANAGER, peerAddress=SERVER
        )

    def connect(self, greet: bool = True):
        """
        Connect both sides; with C{greet}, run the handshake to the end.
        """
        self.pump = connect(
            self.server,
            self.serverTransport,
            self.clientTop,
            self.clientTransport,
            greet=greet,
            clock=self.clock,
        )
        return self.pump

    def debugLines(self) -> list[str]:
        """
        @return: the C{debug credentials} lines so far, formatted.
        """
        return [formatEvent(e) for e in self.debugEvents]


def _warnings(events: list) -> list[dict]:
    return [e for e in events if e["log_level"] == LogLevel.warn]


class DebugLineTests(SynchronousTestCase):
    """
    The IOS C{debug credentials} lines.
    """

    def test_linesInOrder(self):
        """
        A CallManager handshake logs, in the srst.debug.credentials namespace
        and at debug level, Start TLS Handshake with socket, IP and port, one
        OPSSLReadWouldBlockErr and "TLS Handshake completes." as in the seed.
        """
        h = Harness()
        h.connect()
        self.assertTrue(h.client.handshakeDone)
        self.assertEqual(h.debugLines(), [START.format(n=1), WOULD_BLOCK, COMPLETES])
        for event in h.debugEvents:
            self.assertEqual(event["log_namespace"], DEBUG_NAMESPACE)
            self.assertEqual(event["log_level"], LogLevel.debug)
        start = h.debugEvents[0]
        self.assertEqual((start["socket"], start["ip"], start["port"]), (1, "10.1.1.13", 2187))

    def test_socketNumbersCountPerFactory(self):
        """
        Each connection gets the next socket number, starting at 1.
        """
        first = Harness()
        first.connect()
        second = Harness(factory=first.factory, clock=first.clock, events=first.debugEvents)
        second.connect()
        starts = [e["socket"] for e in first.debugEvents if "Start" in e["log_format"]]
        self.assertEqual(starts, [1, 2])

    def test_wouldBlockOncePerSecondWhilePending(self):
        """
        While the client has not finished the handshake, OPSSLReadWouldBlockErr
        is logged once per second; it stops when the handshake completes.
        """
        h = Harness()
        pump = h.connect(greet=False)
        for _ in range(3):
            h.clock.advance(1)
        self.assertEqual(h.debugLines(), [START.format(n=1)] + [WOULD_BLOCK] * 4)
        pump.flush()
        self.assertTrue(h.client.handshakeDone)
        h.clock.advance(5)
        self.assertEqual(h.debugLines(), [START.format(n=1)] + [WOULD_BLOCK] * 4 + [COMPLETES])


class HandshakeFailureTests(SynchronousTestCase):
    """
    Clients that do not complete the handshake are closed, logged and counted.
    """

    def test_stalledClientClosedAfterTimeout(self):
        """
        A client that stops mid-handshake is aborted once the handshake
        timeout passes, with a warning naming the peer and the timeout; no
        timer is left behind.
        """
        h = Harness()
        h.connect(greet=False)
        hello = h.clientTransport.getOutBuffer()
        with capturedLogs() as events:
            h.serverTransport.bufferReceived(hello[:20])
            h.clock.advance(9.5)
            self.assertFalse(h.serverTransport.disconnecting)
            h.clock.advance(0.5)
            self.assertTrue(h.serverTransport.disconnecting)
            h.pump.flush()
        [warning] = _warnings(events)
        self.assertEqual((warning["ip"], warning["port"]), ("10.1.1.13", 2187))
        self.assertEqual(warning["timeout"], 10)
        self.assertIn("not completed within 10 s", formatEvent(warning))
        stats = h.factory.statistics
        self.assertEqual(
            (stats.handshakesStarted, stats.handshakesFailed, stats.handshakesTimedOut),
            (1, 1, 1),
        )
        self.assertEqual(stats.sessionsActive, 0)
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_nonTLSClientClosedAndLogged(self):
        """
        Plain-text bytes fail the handshake: the connection is closed, a
        warning gives OpenSSL's reason, and a debug line says it failed.
        """
        raw = RecordingClient()
        h = Harness(clientProtocol=raw, clientOptions=False)
        with capturedLogs() as events:
            h.connect(greet=False)
            raw.transport.write(b"GET / HTTP/1.0\r\n\r\n")
            h.pump.flush()
        self.assertIsNotNone(raw.lostReason)
        [warning] = _warnings(events)
        self.assertTrue(warning["reason"].startswith("TLS error: "), warning["reason"])
        self.assertIn("failed", formatEvent(warning))
        self.assertEqual(h.debugLines()[-1], "Credentials service: TLS Handshake fails: "
                         + warning["reason"])
        stats = h.factory.statistics
        self.assertEqual((stats.handshakesFailed, stats.handshakesCompleted), (1, 0))
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_peerClosesMidHandshake(self):
        """
        A client that disconnects during the handshake is logged as a failed
        handshake with the reason, and counted.
        """
        h = Harness()
        h.connect(greet=False)
        with capturedLogs() as events:
            h.server.connectionLost(Failure(ConnectionDone()))
        [warning] = _warnings(events)
        self.assertIn(warning["reason"], ("peer closed the connection", "connection lost"))
        self.assertEqual(h.factory.statistics.handshakesFailed, 1)
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_failuresOfOnePeerShareOneKey(self):
        """
        Handshake failures of one peer for different reasons (OpenSSL's
        text, a close mid-handshake) are one kind of event for the log
        limiter: the first is logged with its reason, the next only counted
        and summed up after a minute, and the limiter tracks one key, so
        reason text a peer can vary cannot grow its table.
        """
        raw = RecordingClient()
        first = Harness(clientProtocol=raw, clientOptions=False)
        second = Harness(factory=first.factory, clock=first.clock)
        with capturedLogs() as events:
            first.connect(greet=False)
            raw.transport.write(b"GET / HTTP/1.0\r\n\r\n")
            first.pump.flush()
            second.connect(greet=False)
            second.server.connectionLost(Failure(ConnectionDone()))
            self.assertEqual(first.factory.logLimiter.tracked, 1)
            first.clock.advance(60)
        [failed, summary] = _warnings(events)
        self.assertTrue(formatEvent(failed).startswith(
            "Credentials service: TLS handshake with 10.1.1.13 2187 failed: TLS error: "), formatEvent(failed))
        self.assertEqual(formatEvent(summary), "10.1.1.13: 1 more failed TLS handshakes in the last minute")
        self.assertEqual(first.factory.statistics.handshakesFailed, 2)

    def test_noClientCertificateRequested(self):
        """
        The service does not ask for a client certificate: a client that has
        one completes the handshake without presenting it.
        """
        pki = makePKI()
        options = CertificateOptions(
            privateKey=pki.otherServer.key, certificate=pki.otherServer.certificate
        )
        h = Harness(clientOptions=options)
        h.connect()
        self.assertTrue(h.client.handshakeDone)
        self.assertIsNone(h.server.getPeerCertificate())


class SessionTests(SynchronousTestCase):
    """
    After the handshake: the certificate, the reply, the idle close.
    """

    def test_handshakePresentsRouterCertificate(self):
        """
        The certificate CallManager receives in the handshake is the router
        certificate the factory hands out.
        """
        h = Harness()
        h.connect()
        self.assertEqual(h.client.peerCertificate, makePKI().server.certificate)
        self.assertEqual(h.factory.statistics.handshakesCompleted, 1)

    def test_requestAnsweredWithLengthPrefixedCertificate(self):
        """
        Bytes sent after the handshake are logged in hex and answered with
        the DER certificate preceded by its 4-byte big-endian length.
        """
        h = Harness()
        h.connect()
        der = makePKI().server.der
        with capturedLogs() as events:
            h.client.transport.write(CERTIFICATE_REQUEST)
            h.pump.flush()
        self.assertEqual(h.client.received, len(der).to_bytes(4, "big") + der)
        [request] = [e for e in events if "hex" in e]
        self.assertEqual((request["hex"], request["length"]), ("00000000", 4))
        self.assertEqual(h.factory.statistics.requestsAnswered, 1)

    def test_requestHexDumpIsBounded(self):
        """
        Only the first 64 bytes of a chunk are hex-dumped, marked as cut.
        """
        h = Harness()
        h.connect()
        with capturedLogs() as events:
            h.client.transport.write(b"\x55" * 200)
            h.pump.flush()
        [request] = [e for e in events if "hex" in e]
        self.assertEqual(request["hex"], "55" * 64)
        self.assertEqual((request["length"], request["more"]), (200, "..."))

    def test_answeredOncePerSession(self):
        """
        Only the first request of a session is answered; later bytes are
        logged but not answered again.
        """
        h = Harness()
        h.connect()
        h.client.transport.write(b"first")
        h.pump.flush()
        answer = h.client.received
        h.client.transport.write(b"second")
        h.pump.flush()
        self.assertEqual(h.client.received, answer)
        self.assertEqual(h.factory.statistics.requestsAnswered, 1)

    def test_oversizedRequestAborted(self):
        """
        A client that sends more than the request limit is aborted with a
        warning, and counted.
        """
        h = Harness()
        h.connect()
        with capturedLogs() as events:
            h.client.transport.write(b"x" * (MAX_REQUEST_BYTES + 1))
            h.pump.flush()
        self.assertIsNotNone(h.client.lostReason)
        [warning] = _warnings(events)
        self.assertEqual(warning["limit"], MAX_REQUEST_BYTES)
        self.assertEqual(h.factory.statistics.requestsRejected, 1)
        self.assertEqual(h.client.received, b"")
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_idleSessionClosed(self):
        """
        A session closes (TLS close) after the idle timeout of silence,
        not before, and leaves no timer behind.
        """
        h = Harness()
        h.connect()
        h.clock.advance(29)
        h.pump.flush()
        self.assertIsNone(h.client.lostReason)
        h.clock.advance(1)
        h.pump.flush()
        self.assertIsNotNone(h.client.lostReason)
        self.assertEqual(h.factory.statistics.sessionsActive, 0)
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_dataResetsIdleTimer(self):
        """
        Receiving bytes restarts the idle timeout.
        """
        h = Harness()
        h.connect()
        h.clock.advance(20)
        h.client.transport.write(CERTIFICATE_REQUEST)
        h.pump.flush()
        h.clock.advance(20)
        h.pump.flush()
        self.assertIsNone(h.client.lostReason)
        h.clock.advance(10)
        h.pump.flush()
        self.assertIsNotNone(h.client.lostReason)

    def test_peerIgnoringCloseIsAborted(self):
        """
        If the peer does not answer the TLS close after the idle timeout, the
        connection is aborted after the close timeout.
        """
        h = Harness()
        h.connect()
        h.clock.advance(30)
        self.assertFalse(h.serverTransport.disconnecting)
        h.clock.advance(5)
        self.assertTrue(h.serverTransport.disconnecting)
        h.pump.flush()
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_peerClosesAfterHandshake(self):
        """
        A peer that closes after the handshake ends the session quietly: no
        warning, counted as completed, timers cancelled.
        """
        h = Harness()
        h.connect()
        with capturedLogs() as events:
            h.clientTop.loseConnection()
            h.pump.flush()
        self.assertEqual(_warnings(events), [])
        stats = h.factory.statistics
        self.assertEqual((stats.handshakesCompleted, stats.handshakesFailed), (1, 0))
        self.assertEqual(h.clock.getDelayedCalls(), [])


class FactoryTests(SynchronousTestCase):
    """
    L{CredentialsFactory} construction.
    """

    def test_clockRequired(self):
        """
        The clock is a required argument.
        """
        self.assertRaises(TypeError, CredentialsFactory, makePKI().server.der)

    def test_debugLogRequired(self):
        """
        The C{debug credentials} logger is a required argument: it comes from
        the router's switches, never from a default that bypasses them.
        """
        self.assertRaises(TypeError, CredentialsFactory, makePKI().server.der, Clock())

    def test_invalidCertificate(self):
        """
        A certificate that is not DER X.509 is refused at construction with
        a one-line message.
        """
        error = self.assertRaises(InvalidCertificate, CredentialsFactory, b"junk", Clock(),
                                  DebugSwitches().logger(DEBUG_NAMESPACE))
        self.assertTrue(str(error).startswith("credentials certificate is not a DER X.509"))
        self.assertNotIn("\n", str(error))

    def test_statisticsAsDict(self):
        """
        The counters are exported by name for --json and benchmarks.
        """
        stats = CredentialsStatistics(handshakesStarted=2, requestsAnswered=1)
        self.assertEqual(stats.asDict()["handshakesStarted"], 2)
        self.assertEqual(stats.asDict()["requestsAnswered"], 1)
        self.assertEqual(len(stats.asDict()), 7)


class ReplyCodecTests(SynchronousTestCase):
    """
    The reply framing: 4-byte big-endian length, then the DER bytes.
    """

    def test_encode(self):
        """
        The length prefix is big-endian.
        """
        self.assertEqual(encodeCertificateReply(b"\x30\x03abc"), b"\x00\x00\x00\x05\x30\x03abc")

    @given(st.binary(max_size=2000), st.binary(max_size=20))
    def test_roundTrip(self, der, rest):
        """
        Decoding an encoded reply gives back the certificate and what follows.
        """
        self.assertEqual(decodeCertificateReply(encodeCertificateReply(der) + rest), (der, rest))

    @given(st.binary(min_size=1, max_size=300))
    def test_incomplete(self, der):
        """
        Any strict prefix of a reply is incomplete, not an error.
        """
        framed = encodeCertificateReply(der)
        for cut in range(len(framed)):
            self.assertEqual(decodeCertificateReply(framed[:cut]), (None, framed[:cut]))

    def test_tooLarge(self):
        """
        An announced length above the limit is refused with a clear message.
        """
        error = self.assertRaises(ReplyTooLarge, decodeCertificateReply, b"\xff\xff\xff\xff")
        self.assertEqual(str(error), "certificate reply announces 4294967295 bytes"
                         " (at most 65536 accepted)")


class DescribeFailureTests(SynchronousTestCase):
    """
    L{describeFailure} turns connection-loss reasons into one line.
    """

    def test_openSSLError(self):
        """
        OpenSSL errors give their reason strings.
        """
        error = SSL.Error([("SSL routines", "", "wrong version number")])
        self.assertEqual(describeFailure(Failure(error)), "TLS error: wrong version number")

    def test_closed(self):
        """
        A clean close and a lost connection are named as such.
        """
        self.assertEqual(describeFailure(Failure(ConnectionDone())), "peer closed the connection")
        self.assertEqual(describeFailure(Failure(ConnectionLost())), "connection lost")

    def test_other(self):
        """
        Other exceptions give their text, or their class name when empty.
        """
        self.assertEqual(describeFailure(Failure(ValueError("bad"))), "bad")
        self.assertEqual(describeFailure(Failure(ValueError())), "ValueError")


class CommandTests(SynchronousTestCase):
    """
    C{show credentials} and C{debug credentials}.
    """

    def setUp(self):
        self.table = CommandTable()
        self.factory = CredentialsFactory(makePKI().server.der, clock=Clock(),
                                          debugLog=DebugSwitches().logger(DEBUG_NAMESPACE))
        registerCredentialsCommands(self.table, "10.1.1.22", 2445, "srstca", self.factory)

    def test_showCredentialsText(self):
        """
        C{show credentials} prints exactly the seed's three lines.
        """
        command, variables = self.table.lookup(["show", "credentials"])
        result = command.handler(**variables)
        self.assertIsInstance(result, CommandResult)
        self.assertEqual(
            result.text, "Credentials IP: 10.1.1.22\nCredentials PORT: 2445\nTrustpoint: srstca"
        )
        self.assertEqual(result.exitCode, 0)

    def test_showCredentialsData(self):
        """
        The --json data carries the same facts and the service's counters.
        """
        self.factory.statistics.handshakesCompleted = 3
        command, variables = self.table.lookup(["show", "credentials"])
        data = command.handler(**variables).data
        self.assertEqual(
            (data["ipSourceAddress"], data["port"], data["trustpoint"]),
            ("10.1.1.22", 2445, "srstca"),
        )
        self.assertEqual(data["statistics"]["handshakesCompleted"], 3)

    def test_showWithoutFactory(self):
        """
        Without a running service the data has no counters.
        """
        table = CommandTable()
        registerCredentialsCommands(table, "127.0.0.1", 2445, "srstca")
        command, variables = table.lookup(["show", "credentials"])
        self.assertNotIn("statistics", command.handler(**variables).data)

    def test_debugCredentials(self):
        """
        C{debug credentials} is a streaming command with the IOS banner and
        the credentials debug namespace.
        """
        command, variables = self.table.lookup(["debug", "credentials"])
        self.assertTrue(command.streaming)
        self.assertEqual(
            command.handler(**variables),
            DebugRequest(
                banner="Credentials server debugging is enabled",
                namespaces=("srst.debug.credentials",),
            ),
        )


# ---------------------------------------------------------------------------
# Real sockets on 127.0.0.1


class _TrackingProtocol(ProtocolWrapper):
    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        ProtocolWrapper.connectionLost(self, reason)
        self.factory.lost()


class TrackingFactory(WrappingFactory):
    """
    The outermost wrapper, where the lead's PolicingFactory sits: lets a
    test wait until every server connection is gone.
    """

    protocol = _TrackingProtocol

    def __init__(self, wrappedFactory) -> None:
        WrappingFactory.__init__(self, wrappedFactory)
        self._idle: list[Deferred] = []

    def lost(self) -> None:
        if not self.protocols:
            waiting, self._idle = self._idle, []
            for d in waiting:
                d.callback(None)

    def whenIdle(self) -> Deferred:
        """
        @return: a L{Deferred} that fires when no connection is open.
        """
        if not self.protocols:
            return defer.succeed(None)
        d: Deferred = Deferred()
        self._idle.append(d)
        return d


@frozen
class RunningService:
    """
    A credentials service listening on 127.0.0.1.
    """

    port: int
    factory: CredentialsFactory
    tracking: TrackingFactory


def startCredentialsService(
    testCase: TestCase,
    reactor,
    certificate: bytes | None = None,
    interface: str = "127.0.0.1",
    handshakeTimeout: float = 10,
) -> RunningService:
    """
    Listen with the real L{CredentialsFactory} inside TLS on an ephemeral
    port; cleanups wait for every connection to close and stop listening.
    """
    pki = makePKI()
    factory = CredentialsFactory(
        certificate if certificate is not None else pki.server.der,
        clock=reactor,
        debugLog=DebugSwitches().logger(DEBUG_NAMESPACE),
        handshakeTimeout=handshakeTimeout,
    )
    tracking = TrackingFactory(TLSMemoryBIOFactory(serverOptions(pki), False, factory, clock=reactor))
    port = reactor.listenTCP(0, tracking, interface=interface)
    testCase.addCleanup(port.stopListening)
    testCase.addCleanup(tracking.whenIdle)
    return RunningService(port.getHost().port, factory, tracking)


class RawClient(protocol.Protocol):
    """
    A plain TCP client (no TLS) that may send some bytes.
    """

    def __init__(self, send: bytes = b"") -> None:
        self.send = send
        self.lost: Deferred = Deferred()

    def connectionMade(self) -> None:
        if self.send:
            self.transport.write(self.send)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.reason = reason
        self.lost.callback(None)


class IntegrationTests(TestCase):
    """
    The service on a real socket.
    """

    timeout = 30

    def setUp(self):
        from twisted.internet import reactor

        self.reactor = reactor

    @bounded
    def test_badClientsDoNotBlockFetch(self):
        """
        While a non-TLS client and a stalled client are connected, a
        CallManager fetch still succeeds; the non-TLS client is closed at
        once and the stalled one at the handshake timeout.
        """
        from srst.tools.ccm import fetchCredentials

        service = startCredentialsService(self, self.reactor, handshakeTimeout=1.0)
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", service.port)
        stalled = RawClient()
        garbage = RawClient(b"GET / HTTP/1.0\r\n\r\n")
        yield connectProtocol(endpoint, stalled)
        yield connectProtocol(endpoint, garbage)
        yield garbage.lost
        result = yield fetchCredentials(self.reactor, "127.0.0.1", service.port, timeout=5)
        self.assertTrue(result.matches)
        self.assertEqual(result.handshakeCertificate, makePKI().server.certificate)
        self.assertFalse(stalled.lost.called)
        yield stalled.lost
        yield service.tracking.whenIdle()
        stats = service.factory.statistics
        self.assertEqual(
            (stats.handshakesStarted, stats.handshakesCompleted, stats.handshakesFailed,
             stats.handshakesTimedOut, stats.requestsAnswered),
            (3, 1, 2, 1, 1),
        )

    @bounded
    def _sClient(self, caPEM: bytes):
        openssl = requireTool("openssl")
        service = startCredentialsService(self, self.reactor)
        directory = self.mktemp()
        os.makedirs(directory)
        caFile = os.path.join(directory, "ca.pem")
        with open(caFile, "wb") as f:
            f.write(caPEM)
        out, err, code = yield getProcessOutputAndValue(
            openssl,
            ["s_client", "-connect", f"127.0.0.1:{service.port}", "-CAfile", caFile,
             "-verify_return_error"],
            env=dict(os.environ),
            reactor=self.reactor,
            stdinBytes=b"",
        )
        yield service.tracking.whenIdle()
        return out, err, code, service

    @bounded
    def test_opensslClientVerifies(self):
        """
        C{openssl s_client -CAfile ca.pem -verify_return_error} completes the
        handshake and verifies the router certificate against the CA.
        """
        out, err, code, service = yield self._sClient(makePKI().ca.pem)
        self.assertEqual(code, 0, err)
        self.assertIn(b"Verify return code: 0 (ok)", out)
        self.assertIn(b"CN = branch-router", out)
        self.assertEqual(service.factory.statistics.handshakesCompleted, 1)

    @bounded
    def test_opensslClientRejectsOtherCA(self):
        """
        With an unrelated CA, C{s_client -verify_return_error} fails, and the
        service logs a failed handshake.
        """
        with capturedLogs() as events:
            out, err, code, service = yield self._sClient(makePKI().otherCA.pem)
        self.assertNotEqual(code, 0)
        self.assertEqual(service.factory.statistics.handshakesFailed, 1)
        self.assertEqual(len(_warnings(events)), 1)
