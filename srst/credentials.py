# -*- test-case-name: tests.test_credentials -*-
"""
The Secure SRST credentials service (IOS C{credentials}, TCP 2445).

CallManager opens a TLS connection to this service and takes the router's
certificate from it, to put into the phones' configuration files.  The
TLS layer is Twisted's: the service is built by the composition root as::

    PolicingFactory(TLSMemoryBIOFactory(serverOptions, False,
                                        CredentialsFactory(der, reactor, debugLog)), ...)

where C{debugLog} is C{switches.logger(DEBUG_NAMESPACE)} on the router's
L{srst.debug.DebugSwitches}.

so L{CredentialsProtocol} is the application protocol I{inside} TLS.  It
only observes the handshake (the IOS C{debug credentials} lines, a handshake
deadline) and, after it, answers whatever CallManager sends with the DER
certificate preceded by its 4-byte big-endian length.  What CallManager
really sends after the handshake is not publicly documented; see
C{docs/credentials-protocol.md} for what is documented, what is inferred and
the exact bytes.

The show and debug commands (C{show credentials}, C{debug credentials}) are
registered on the admin L{CommandTable} by L{registerCredentialsCommands}.
"""

from __future__ import annotations

import struct
from typing import Any

from attrs import asdict, define
from cryptography import x509
from OpenSSL import SSL
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IAddress, IDelayedCall, IHandshakeListener, IReactorTime, ITransport
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.admin.commands import CommandResult, CommandTable, DebugRequest
from srst.lograte import LogLimiter

DEBUG_NAMESPACE = "srst.debug.credentials"
"""The log namespace C{debug credentials} turns on."""

DEBUG_BANNER = "Credentials server debugging is enabled"
"""What IOS prints when C{debug credentials} is entered (seed)."""

LENGTH_PREFIX = struct.Struct("!I")
"""The reply's framing: a 4-byte big-endian length, then that many bytes."""

CERTIFICATE_REQUEST = b"\x00\x00\x00\x00"
"""
What C{srst-ccm} sends after the handshake: an empty length-prefixed message
("send me your certificate").  The service answers any bytes; this value is
only the stand-in's choice (the real CallManager request is undocumented).
"""

MAX_REQUEST_BYTES = 4096
"""Application bytes a client may send in one session before it is aborted."""

MAX_REPLY_BYTES = 65536
"""The largest certificate a client accepts in a reply (L{decodeCertificateReply})."""

HEX_LOG_BYTES = 64
"""How much of each received chunk is hex-dumped into the log."""

WOULD_BLOCK_INTERVAL = 1.0
"""IOS retries a pending handshake, and logs it, about once per second."""

class InvalidCertificate(ValueError):
    """
    The certificate handed to L{CredentialsFactory} is not a DER X.509
    certificate.
    """

    def __init__(self, reason: str) -> None:
        ValueError.__init__(self, reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"credentials certificate is not a DER X.509 certificate: {self.reason}"


class ReplyTooLarge(ValueError):
    """
    A certificate reply announces more bytes than a client accepts.
    """

    def __init__(self, length: int, limit: int) -> None:
        ValueError.__init__(self, length, limit)
        self.length = length
        self.limit = limit

    def __str__(self) -> str:
        return f"certificate reply announces {self.length} bytes (at most {self.limit} accepted)"


def encodeCertificateReply(certificate: bytes) -> bytes:
    """
    Frame a DER certificate as the service sends it.

    @param certificate: the DER bytes.
    @return: the 4-byte big-endian length of C{certificate}, then C{certificate}.
    """
    return LENGTH_PREFIX.pack(len(certificate)) + certificate


def decodeCertificateReply(
    buffer: bytes, limit: int = MAX_REPLY_BYTES
) -> tuple[bytes | None, bytes]:
    """
    Take one framed certificate off the front of C{buffer}.

    @param buffer: bytes received so far.
    @param limit: the largest announced length accepted.
    @return: C{(certificate, rest)}; C{certificate} is L{None} (and C{rest}
        is C{buffer}) while the reply is incomplete.
    @raise ReplyTooLarge: if the announced length exceeds C{limit}.
    """
    if len(buffer) < LENGTH_PREFIX.size:
        return None, buffer
    (length,) = LENGTH_PREFIX.unpack_from(buffer)
    if length > limit:
        raise ReplyTooLarge(length, limit)
    end = LENGTH_PREFIX.size + length
    if len(buffer) < end:
        return None, buffer
    return buffer[LENGTH_PREFIX.size : end], buffer[end:]


def describeFailure(reason: Failure) -> str:
    """
    A one-line, human-readable reason for a lost TLS connection.

    @param reason: what C{connectionLost} received.
    @return: for OpenSSL errors, the OpenSSL reason strings (C{"wrong version
        number"}); otherwise the exception's own text.
    """
    value = reason.value
    if isinstance(value, SSL.Error):
        details = value.args[0] if value.args else None
        if isinstance(details, list):
            texts = [str(entry[-1]) for entry in details if isinstance(entry, tuple) and entry]
            if texts:
                return "TLS error: " + "; ".join(texts)
        return "TLS error: " + (str(value) or type(value).__name__)
    if isinstance(value, ConnectionDone):
        return "peer closed the connection"
    if isinstance(value, ConnectionLost):
        return "connection lost"
    return str(value) or type(value).__name__


@define
class CredentialsStatistics:
    """
    Counters of one L{CredentialsFactory}, for show commands and benchmarks.

    @ivar handshakesStarted: connections accepted (TLS handshake started).
    @ivar handshakesCompleted: handshakes that completed (certificate delivered).
    @ivar handshakesFailed: handshakes that did not complete, timeouts included.
    @ivar handshakesTimedOut: of those, the ones closed after the handshake timeout.
    @ivar requestsAnswered: post-handshake requests answered with the certificate.
    @ivar requestsRejected: sessions aborted for sending too much.
    @ivar sessionsActive: connections currently open.
    """

    handshakesStarted: int = 0
    handshakesCompleted: int = 0
    handshakesFailed: int = 0
    handshakesTimedOut: int = 0
    requestsAnswered: int = 0
    requestsRejected: int = 0
    sessionsActive: int = 0

    def asDict(self) -> dict[str, int]:
        """
        @return: the counters by name (JSON-serialisable).
        """
        return asdict(self)


def _peerOf(transport: ITransport) -> tuple[str, int]:
    peer = transport.getPeer()
    return str(getattr(peer, "host", peer)), int(getattr(peer, "port", 0))


def _cancel(call: IDelayedCall | None) -> None:
    if call is not None and call.active():
        call.cancel()


@implementer(IHandshakeListener)
class CredentialsProtocol(Protocol):
    """
    One CallManager connection, seen from inside TLS.

    @ivar socketNumber: the IOS "socket" number in the debug lines.
    @ivar peerHost: the client's address.
    @ivar peerPort: the client's source port.
    @ivar handshakeDone: C{True} once the TLS handshake has completed.
    """

    log = Logger()

    factory: CredentialsFactory

    def __init__(self, socketNumber: int) -> None:
        self.socketNumber = socketNumber
        self.peerHost = ""
        self.peerPort = 0
        self.handshakeDone = False
        self._received = 0
        self._answered = False
        self._timedOut = False
        self._rejected = False
        self._ticks: LoopingCall | None = None
        self._handshakeTimer: IDelayedCall | None = None
        self._idleTimer: IDelayedCall | None = None
        self._closeTimer: IDelayedCall | None = None

    def connectionMade(self) -> None:
        """
        Log C{Start TLS Handshake}, start the once-a-second "would block"
        lines and the handshake deadline.
        """
        factory = self.factory
        clock = factory.clock
        self.peerHost, self.peerPort = _peerOf(self.transport)
        factory.statistics.handshakesStarted += 1
        factory.statistics.sessionsActive += 1
        factory.debugLog.debug(
            "Credentials service: Start TLS Handshake {socket} {ip} {port}",
            socket=self.socketNumber,
            ip=self.peerHost,
            port=self.peerPort,
        )
        self._handshakeTimer = clock.callLater(factory.handshakeTimeout, self._handshakeTimedOut)
        self._ticks = LoopingCall(self._wouldBlock)
        self._ticks.clock = clock
        self._ticks.start(WOULD_BLOCK_INTERVAL, now=True)

    def _wouldBlock(self) -> None:
        self.factory.debugLog.debug(
            "Credentials service: TLS Handshake returns OPSSLReadWouldBlockErr",
            socket=self.socketNumber,
            ip=self.peerHost,
            port=self.peerPort,
        )

    def _stopTicks(self) -> None:
        if self._ticks is not None and self._ticks.running:
            self._ticks.stop()
        self._ticks = None

    def handshakeCompleted(self) -> None:
        """
        The certificate has been delivered in the handshake: log it and wait
        (at most the idle timeout) for a request.
        """
        factory = self.factory
        self.handshakeDone = True
        self._stopTicks()
        _cancel(self._handshakeTimer)
        self._handshakeTimer = None
        factory.statistics.handshakesCompleted += 1
        factory.debugLog.debug(
            "Credentials service: TLS Handshake completes.",
            socket=self.socketNumber,
            ip=self.peerHost,
            port=self.peerPort,
        )
        self._idleTimer = factory.clock.callLater(factory.idleTimeout, self._idleTimedOut)

    def _handshakeTimedOut(self) -> None:
        self._handshakeTimer = None
        self._timedOut = True
        self._stopTicks()
        factory = self.factory
        factory.statistics.handshakesTimedOut += 1
        factory.logLimiter.warn(
            self.log, self.peerHost, "TLS handshakes not completed in time",
            "Credentials service: TLS handshake with {ip} {port} not completed"
            " within {timeout} s; closing",
            ip=self.peerHost,
            port=self.peerPort,
            timeout=factory.handshakeTimeout,
            socket=self.socketNumber,
        )
        self.transport.abortConnection()

    def dataReceived(self, data: bytes) -> None:
        """
        Log what CallManager sent (hex, bounded) and answer the first request
        of the session with the length-prefixed DER certificate.
        """
        if self._rejected:
            return
        factory = self.factory
        self._received += len(data)
        if self._received > MAX_REQUEST_BYTES:
            self._rejected = True
            factory.statistics.requestsRejected += 1
            factory.logLimiter.warn(
                self.log, self.peerHost, "connections aborted for sending too much",
                "Credentials service: {ip} {port} sent {received} bytes after the"
                " handshake (limit {limit}); aborting",
                ip=self.peerHost,
                port=self.peerPort,
                received=self._received,
                limit=MAX_REQUEST_BYTES,
                socket=self.socketNumber,
            )
            self.transport.abortConnection()
            return
        if self._idleTimer is not None and self._idleTimer.active():
            self._idleTimer.reset(factory.idleTimeout)
        factory.logLimiter.info(
            self.log, self.peerHost, "requests received",
            "Credentials service: {ip} {port} sent {length} bytes: {hex}{more}",
            ip=self.peerHost,
            port=self.peerPort,
            length=len(data),
            hex=data[:HEX_LOG_BYTES].hex(),
            more="..." if len(data) > HEX_LOG_BYTES else "",
            socket=self.socketNumber,
        )
        if not self._answered:
            self._answered = True
            reply = encodeCertificateReply(factory.certificate)
            self.transport.write(reply)
            factory.statistics.requestsAnswered += 1
            factory.logLimiter.info(
                self.log, self.peerHost, "certificates sent",
                "Credentials service: sent the certificate ({length} bytes) to {ip} {port}",
                ip=self.peerHost,
                port=self.peerPort,
                length=len(factory.certificate),
                socket=self.socketNumber,
            )

    def _idleTimedOut(self) -> None:
        self._idleTimer = None
        factory = self.factory
        factory.logLimiter.info(
            self.log, self.peerHost, "idle connections closed",
            "Credentials service: {ip} {port} idle for {timeout} s; closing",
            ip=self.peerHost,
            port=self.peerPort,
            timeout=factory.idleTimeout,
            socket=self.socketNumber,
        )
        # A TLS close waits for the peer's close_notify; do not wait forever.
        self._closeTimer = factory.clock.callLater(factory.closeTimeout, self._closeTimedOut)
        self.transport.loseConnection()

    def _closeTimedOut(self) -> None:
        self._closeTimer = None
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Cancel every timer; count and log a handshake that did not complete.
        """
        factory = self.factory
        self._stopTicks()
        for timer in (self._handshakeTimer, self._idleTimer, self._closeTimer):
            _cancel(timer)
        self._handshakeTimer = self._idleTimer = self._closeTimer = None
        factory.statistics.sessionsActive -= 1
        if self.handshakeDone:
            return
        factory.statistics.handshakesFailed += 1
        if self._timedOut:
            return
        why = describeFailure(reason)
        factory.debugLog.debug(
            "Credentials service: TLS Handshake fails: {reason}",
            reason=why,
            socket=self.socketNumber,
            ip=self.peerHost,
            port=self.peerPort,
        )
        factory.logLimiter.warn(
            self.log, self.peerHost, "failed TLS handshakes",
            "Credentials service: TLS handshake with {ip} {port} failed: {reason}",
            ip=self.peerHost,
            port=self.peerPort,
            reason=why,
            socket=self.socketNumber,
        )


class CredentialsFactory(Factory):
    """
    The credentials service: hands the router certificate to CallManager.

    @ivar certificate: the DER certificate answered to requests (it must be
        the one the TLS layer presents; it may be replaced after re-enrolment).
    @ivar clock: timers for the handshake and idle deadlines.
    @ivar handshakeTimeout: seconds a client may take to complete the handshake.
    @ivar idleTimeout: seconds of silence after which a session is closed.
    @ivar closeTimeout: seconds to wait for the peer's TLS close before aborting.
    @ivar debugLog: the C{debug credentials} logger.
    @ivar statistics: the service's L{CredentialsStatistics}.
    @ivar logLimiter: the L{LogLimiter} of the lines any client can cause
        (handshakes, requests); it stops with the listener.
    """

    noisy = False

    def __init__(
        self,
        certificate: bytes,
        clock: IReactorTime,
        debugLog: Logger,
        handshakeTimeout: float = 10.0,
        idleTimeout: float = 30.0,
        closeTimeout: float = 5.0,
    ) -> None:
        """
        @param certificate: the router certificate, DER.
        @param clock: the reactor's L{IReactorTime}.
        @param debugLog: the C{debug credentials} logger: the router's
            C{switches.logger(DEBUG_NAMESPACE)}.
        @param handshakeTimeout: see L{handshakeTimeout}.
        @param idleTimeout: see L{idleTimeout}.
        @param closeTimeout: see L{closeTimeout}.
        @raise InvalidCertificate: if C{certificate} is not DER X.509.
        """
        try:
            x509.load_der_x509_certificate(certificate)
        except (TypeError, ValueError) as e:
            raise InvalidCertificate(str(e)) from e
        self.certificate = certificate
        self.clock = clock
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.closeTimeout = closeTimeout
        self.debugLog = debugLog
        self.statistics = CredentialsStatistics()
        self._sockets = 0
        self.logLimiter = LogLimiter(clock)

    def startFactory(self) -> None:
        """The listener started: rate-limit peer log lines."""
        self.logLimiter.start()

    def stopFactory(self) -> None:
        """The listener stopped: log what the rate limit held back."""
        self.logLimiter.stop()

    def buildProtocol(self, addr: IAddress) -> CredentialsProtocol:
        """
        @return: a L{CredentialsProtocol} with the next socket number (from 1).
        """
        self._sockets += 1
        protocol = CredentialsProtocol(self._sockets)
        protocol.factory = self
        return protocol


def registerCredentialsCommands(
    table: CommandTable,
    ipSourceAddress: str,
    port: int,
    trustpointName: str,
    factory: CredentialsFactory | None = None,
) -> None:
    """
    Register C{show credentials} and C{debug credentials}.

    @param table: the admin command table.
    @param ipSourceAddress: C{credentials / ip source-address}.
    @param port: the credentials port.
    @param trustpointName: C{credentials / trustpoint}.
    @param factory: the running service, whose counters C{--json} adds
        under C{"statistics"}; L{None} to leave them out.
    """

    def showCredentials() -> CommandResult:
        text = "\n".join(
            [
                f"Credentials IP: {ipSourceAddress}",
                f"Credentials PORT: {port}",
                f"Trustpoint: {trustpointName}",
            ]
        )
        data: dict[str, Any] = {
            "ipSourceAddress": ipSourceAddress,
            "port": port,
            "trustpoint": trustpointName,
        }
        if factory is not None:
            data["statistics"] = factory.statistics.asDict()
        return CommandResult(text, data)

    def debugCredentials() -> DebugRequest:
        return DebugRequest(banner=DEBUG_BANNER, namespaces=(DEBUG_NAMESPACE,))

    table.add("show credentials", showCredentials, help="credentials service settings")
    table.add(
        "debug credentials",
        debugCredentials,
        help="stream the credentials service's TLS handshakes",
        streaming=True,
    )
