# -*- test-case-name: tests.test_ccm -*-
"""
The client side of the credentials service, as CallManager's CTL provider
runs it against a Secure SRST router (C{srst-ccm credentials fetch}): open
TLS without a client certificate, take the router's certificate from the
handshake, send the request, read the length-prefixed DER certificate the
service answers, and check the two are the same certificate
(C{docs/credentials-protocol.md}).
"""

from __future__ import annotations

import typing
from typing import Callable, Sequence, Union

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from service_identity import VerificationError
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import (
    IConnector,
    IDelayedCall,
    IHandshakeListener,
    IHostnameResolver,
    IOpenSSLClientConnectionCreator,
)
from twisted.internet.protocol import ClientFactory
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.ssl import (
    Certificate,
    CertificateOptions,
    optionsForClientTLS,
    trustRootFromCertificates,
)
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.credentials import (
    CERTIFICATE_REQUEST,
    MAX_REPLY_BYTES,
    ReplyTooLarge,
    decodeCertificateReply,
    describeFailure,
)

EXIT_OK = 0
"""srst-ccm's exit codes (see L{srst.tools.ccm}); a fetch failure carries its own."""
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_TLS = 4
EXIT_TIMEOUT = 5
EXIT_PROTOCOL = 6
EXIT_CA_FILE = 7


class FetchReactor(typing.Protocol):
    """
    What a fetch uses of the reactor, as L{HostnameEndpoint} and the TLS
    layer need it: L{twisted.internet.interfaces.IReactorTCP.connectTCP},
    the clock (L{twisted.internet.interfaces.IReactorTime}: the deadline,
    the endpoint's and the TLS layer's timers) and the name resolver of
    L{twisted.internet.interfaces.IReactorPluggableNameResolver}.
    """

    @property
    def nameResolver(self) -> IHostnameResolver:
        "Resolves the service's host name."

    def seconds(self) -> float:
        "The current time."

    def callLater(self, delay: float, callable: Callable[..., object], *args: object,
                  **kwargs: object) -> IDelayedCall:
        "Call C{callable} after C{delay} seconds."

    def getDelayedCalls(self) -> Sequence[IDelayedCall]:
        "The timers not yet run."

    def connectTCP(self, host: str, port: int, factory: ClientFactory, timeout: float = 30,
                   bindAddress: tuple[str, int] | None = None) -> IConnector:
        "Connect C{factory} to C{host}:C{port} over TCP."


class FetchError(RuntimeError):
    """
    Fetching the router certificate failed.

    @ivar host: the credentials service's host.
    @ivar port: its port.
    @ivar reason: one line saying why.
    @cvar exitCode: what C{srst-ccm} exits with for this error.
    """

    exitCode = EXIT_PROTOCOL
    what = "credentials fetch failed"

    def __init__(self, host: str, port: int, reason: str) -> None:
        RuntimeError.__init__(self, host, port, reason)
        self.host = host
        self.port = port
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.what} ({self.host} port {self.port}): {self.reason}"


class FetchConnectionFailed(FetchError):
    """
    The TCP connection could not be made (refused, unreachable, no route).
    """

    exitCode = EXIT_CONNECT
    what = "cannot connect to the credentials service"


class FetchTLSFailed(FetchError):
    """
    The TLS handshake failed, or the certificate did not verify.
    """

    exitCode = EXIT_TLS
    what = "TLS handshake with the credentials service failed"


class FetchTimedOut(FetchError):
    """
    No complete reply within the timeout.
    """

    exitCode = EXIT_TIMEOUT
    what = "credentials service timed out"


class FetchProtocolError(FetchError):
    """
    The service's reply was not a length-prefixed DER certificate.
    """

    exitCode = EXIT_PROTOCOL
    what = "bad reply from the credentials service"


class CAFileError(ValueError):
    """
    The C{--ca} file cannot be read or holds no certificate.
    """

    def __init__(self, path: str, reason: str) -> None:
        ValueError.__init__(self, path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot use CA file {self.path}: {self.reason}"


@frozen
class FetchResult:
    """
    What one credentials fetch obtained.

    @ivar handshakeCertificate: the certificate the server presented in TLS.
    @ivar replyCertificate: the certificate in the service's reply.
    """

    handshakeCertificate: x509.Certificate
    replyCertificate: x509.Certificate

    @property
    def matches(self) -> bool:
        """
        C{True} when both are the same certificate (same DER).
        """
        return self.handshakeCertificate.public_bytes(
            Encoding.DER
        ) == self.replyCertificate.public_bytes(Encoding.DER)


TLSCreator = Union[IOpenSSLClientConnectionCreator, CertificateOptions]
"""What the fetch's TLS layer is built from: verifying client options, or any certificate."""

FetchOutcome = Union[FetchResult, Failure]
"""How a fetch ends: its L{FetchResult}, or a L{Failure} of a L{FetchError}."""


def fingerprint(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> str:
    """
    @return: the certificate's fingerprint as upper-case hex pairs joined
        by colons (C{"AA:BB:..."}).
    """
    return certificate.fingerprint(algorithm).hex(":").upper()


def loadCACertificates(path: str) -> list[x509.Certificate]:
    """
    Read the CA certificates in a PEM (one or more certificates) or DER file.

    @raise CAFileError: if the file is unreadable or holds no certificate.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CAFileError(path, e.strerror or str(e)) from e
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise CAFileError(path, f"not a PEM or DER certificate ({e})") from e


@implementer(IHandshakeListener)
class _FetchProtocol(Protocol):
    """
    The client side of one fetch, inside TLS.  It reports, once, when the
    connection is gone: the L{FetchResult} or a L{FetchError}.
    """

    def __init__(
        self, host: str, port: int, request: bytes, finished: Callable[[FetchOutcome], None]
    ) -> None:
        self._host = host
        self._port = port
        self._request = request
        self._finished = finished
        self._buffer = b""
        self._handshakeCertificate: x509.Certificate | None = None
        self._reply: bytes | None = None
        self._error: FetchError | None = None
        self.timedOut = False

    def handshakeCompleted(self) -> None:
        peer = self.transport.getPeerCertificate()
        if peer is None:
            self._fail(FetchTLSFailed(self._host, self._port, "no server certificate"))
            return
        self._handshakeCertificate = peer.to_cryptography()
        self.transport.write(self._request)

    def dataReceived(self, data: bytes) -> None:
        if self._reply is not None or self._error is not None:
            return
        self._buffer += data
        try:
            reply, _ = decodeCertificateReply(self._buffer, MAX_REPLY_BYTES)
        except ReplyTooLarge as e:
            self._fail(FetchProtocolError(self._host, self._port, str(e)))
            return
        if reply is not None:
            self._reply = reply
            self._buffer = b""
            self.transport.loseConnection()

    def _fail(self, error: FetchError) -> None:
        self._error = error
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._finished(self._outcome(reason))

    def _outcome(self, reason: Failure) -> FetchOutcome:
        host, port = self._host, self._port
        if self.timedOut:
            return Failure(FetchTimedOut(host, port, "no complete reply"))
        if self._error is not None:
            return Failure(self._error)
        if self._handshakeCertificate is None:
            if reason.check(VerificationError):
                kinds = sorted({type(e).__name__ for e in reason.value.errors})
                why = f"certificate does not name {host} ({', '.join(kinds)})"
            else:
                why = describeFailure(reason)
            return Failure(FetchTLSFailed(host, port, why))
        if self._reply is None:
            return Failure(
                FetchProtocolError(
                    host,
                    port,
                    f"connection closed after {len(self._buffer)} bytes of the reply"
                    f" ({describeFailure(reason)})",
                )
            )
        try:
            replyCertificate = x509.load_der_x509_certificate(self._reply)
        except ValueError as e:
            return Failure(
                FetchProtocolError(host, port, f"reply is not a DER certificate ({e})")
            )
        return FetchResult(self._handshakeCertificate, replyCertificate)


class _Fetch:
    """
    One fetch: the connection attempt, the overall deadline and the result.
    """

    def __init__(
        self,
        reactor: FetchReactor,
        host: str,
        port: int,
        creator: TLSCreator,
        timeout: float,
        request: bytes,
    ) -> None:
        self.result: Deferred[FetchResult] = Deferred(self._cancel)
        self._cancelled = False
        self._host = host
        self._port = port
        self._protocol = _FetchProtocol(host, port, request, self._finish)
        tlsFactory = TLSMemoryBIOFactory(
            creator, True, Factory.forProtocol(lambda: self._protocol), clock=reactor
        )
        endpoint = HostnameEndpoint(reactor, host, port, timeout=timeout)
        self._connected = False
        self._timer: IDelayedCall | None = reactor.callLater(timeout, self._timedOut)
        self._connecting = endpoint.connect(tlsFactory)
        self._connecting.addCallbacks(self._connectionMade, self._connectionFailed)

    def _connectionMade(self, tlsProtocol: TLSMemoryBIOProtocol) -> None:
        self._connected = True

    def _connectionFailed(self, reason: Failure) -> None:
        if self._cancelled:
            self._finish(Failure(CancelledError()))
            return
        if self._protocol.timedOut:
            error: FetchError = FetchTimedOut(self._host, self._port, "no connection")
        elif reason.check(ConnectError):
            error = FetchConnectionFailed(self._host, self._port, str(reason.value))
        else:
            error = FetchConnectionFailed(self._host, self._port, describeFailure(reason))
        self._finish(Failure(error))

    def _timedOut(self) -> None:
        self._timer = None
        self._protocol.timedOut = True
        self._abort()

    def _cancel(self, result: Deferred[FetchResult]) -> None:
        self._cancelled = True
        self._abort()

    def _abort(self) -> None:
        if self._connected:
            transport = self._protocol.transport
            if transport is not None:
                transport.abortConnection()
        else:
            self._connecting.cancel()

    def _finish(self, outcome: FetchOutcome) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self.result.called:
            return
        if isinstance(outcome, Failure):
            self.result.errback(outcome)
        else:
            self.result.callback(outcome)


def fetchCredentials(
    reactor: FetchReactor,
    host: str,
    port: int,
    caCertificates: Sequence[x509.Certificate] | None = None,
    timeout: float = 10.0,
    request: bytes = CERTIFICATE_REQUEST,
) -> Deferred[FetchResult]:
    """
    Fetch the router certificate from a credentials service, as CallManager
    does.

    The returned L{Deferred} fires only once the connection is closed, so a
    caller (a test) never leaves a socket behind.

    @param reactor: provides C{IReactorTCP}, C{IReactorTime} and
        C{IReactorPluggableNameResolver} (L{FetchReactor}).
    @param host: the service's address (an IP address or a name).
    @param port: its TCP port.
    @param caCertificates: when given, the server's chain must verify against
        them and its certificate must name C{host} (an IP address is checked
        against its C{iPAddress} subjectAltNames); when L{None}, any
        certificate is accepted (CallManager pins it by fingerprint).
    @param timeout: seconds for the whole exchange.
    @param request: the bytes sent after the handshake.
    @return: a L{Deferred} firing with a L{FetchResult}, or failing with a
        L{FetchError} subclass.  Cancelling it fails it at once with
        L{CancelledError} and aborts the connection.
    """
    if caCertificates:
        trustRoot = trustRootFromCertificates(
            [Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in caCertificates]
        )
        creator: TLSCreator = optionsForClientTLS(host, trustRoot=trustRoot)
    else:
        creator = CertificateOptions()
    return _Fetch(reactor, host, port, creator, timeout, request).result
