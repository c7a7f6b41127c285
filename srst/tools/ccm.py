# -*- test-case-name: tests.test_ccm -*-
"""
C{srst-ccm}: a CallManager stand-in.

It has two command groups.  C{credentials}::

    srst-ccm credentials fetch --host 127.0.0.1 --port 2445 [--ca ca.pem] [--timeout 10]

does what CallManager's CTL provider does against a Secure SRST router:
open TLS to the credentials service (no client certificate), take the
router's certificate from the handshake, send a request, read the
length-prefixed DER certificate the service answers, and check that both are
the same certificate.  It prints the certificate (PEM) and its SHA-1 and
SHA-256 fingerprints, the values a CallManager administrator is asked to
accept.  The wire exchange is described in C{docs/credentials-protocol.md}.

C{mgcp}::

    srst-ccm mgcp agent --domain branch-router --line 81234=aaln/S1/SU0/0 \
        --line 81236=1/0/1 [--listen 127.0.0.1:2727] [--gateway 127.0.0.1:2427] \
        [--digit-map "(8xxxx)"] [--duration 60] [--no-audit]

runs an MGCP call agent (L{srst.tools._callagent.CallAgent}) that registers
the gateway's analog lines and connects calls between them as CallManager
does; it prints one line per event until SIGINT or C{--duration} seconds,
then a summary (C{docs/srst-ccm.md}).

Command groups are added with a function that takes the subparsers object
(see L{_addCredentialsCommands}, L{_addMgcpCommands}).  Every leaf command is a function C{(reactor, args, out, err) ->
Deferred[int]}, so L{run} can be called in-process by tests.

Exit codes: 0 success; 1 the two certificates differ; 2 usage error;
3 connection failed (refused, unreachable); 4 TLS failure (handshake or
verification); 5 timeout; 6 protocol error (bad reply); 7 unreadable C{--ca}
file.  C{mgcp agent} exits 0 when stopped, 2 for bad options and 3 when it
cannot listen.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence, TextIO

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from service_identity import VerificationError
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.error import CannotListenError, ConnectError
from twisted.internet.interfaces import IDelayedCall, IHandshakeListener
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.ssl import (
    Certificate,
    CertificateOptions,
    optionsForClientTLS,
    trustRootFromCertificates,
)
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.credentials import (
    CERTIFICATE_REQUEST,
    MAX_REPLY_BYTES,
    ReplyTooLarge,
    decodeCertificateReply,
    describeFailure,
)
from srst.tools._callagent import CallAgent, LineSpecError, parseLineSpec

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_TLS = 4
EXIT_TIMEOUT = 5
EXIT_PROTOCOL = 6
EXIT_CA_FILE = 7


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
        self, host: str, port: int, request: bytes, finished: Callable[[Any], None]
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

    def _outcome(self, reason: Failure) -> Any:
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
        reactor: Any,
        host: str,
        port: int,
        creator: Any,
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

    def _connectionMade(self, tlsProtocol: Any) -> None:
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

    def _finish(self, outcome: Any) -> None:
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
    reactor: Any,
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
        C{IReactorPluggableNameResolver}.
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
        creator: Any = optionsForClientTLS(host, trustRoot=trustRoot)
    else:
        creator = CertificateOptions()
    return _Fetch(reactor, host, port, creator, timeout, request).result


def _credentialsFetch(reactor: Any, args: argparse.Namespace, out: TextIO, err: TextIO):
    try:
        caCertificates = loadCACertificates(args.ca) if args.ca else None
    except CAFileError as e:
        err.write(f"srst-ccm: {e}\n")
        return succeed(EXIT_CA_FILE)
    d = fetchCredentials(reactor, args.host, args.port, caCertificates, args.timeout)

    def report(result: FetchResult) -> int:
        handshake, reply = result.handshakeCertificate, result.replyCertificate
        if not result.matches:
            err.write(
                "srst-ccm: certificate mismatch: the TLS handshake presented"
                f" SHA-256 {fingerprint(handshake, hashes.SHA256())} but the reply"
                f" carried SHA-256 {fingerprint(reply, hashes.SHA256())}\n"
            )
            return EXIT_MISMATCH
        out.write(handshake.public_bytes(Encoding.PEM).decode("ascii"))
        out.write(f"SHA-1 Fingerprint: {fingerprint(handshake, hashes.SHA1())}\n")
        out.write(f"SHA-256 Fingerprint: {fingerprint(handshake, hashes.SHA256())}\n")
        return EXIT_OK

    def failed(reason: Failure) -> int:
        reason.trap(FetchError)
        err.write(f"srst-ccm: {reason.value}\n")
        return reason.value.exitCode

    d.addCallbacks(report, failed)
    return d


def _addCredentialsCommands(groups: Any) -> None:
    credentials = groups.add_parser(
        "credentials", help="talk to a Secure SRST credentials service"
    )
    actions = credentials.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = actions.add_parser(
        "fetch",
        help="fetch the router certificate and print it with its fingerprints",
        description="Fetch the router certificate from the credentials service"
        " (TLS, no client certificate) and check that the reply carries the"
        " certificate presented in the handshake.",
    )
    fetch.add_argument("--host", required=True, help="the service's address")
    fetch.add_argument("--port", type=int, default=2445, help="its TCP port (default 2445)")
    fetch.add_argument(
        "--ca",
        metavar="FILE",
        help="verify the server against these CA certificates (PEM or DER);"
        " without it any certificate is accepted, as CallManager pins by fingerprint",
    )
    fetch.add_argument(
        "--timeout", type=float, default=10.0, help="seconds for the whole exchange (default 10)"
    )
    fetch.set_defaults(func=_credentialsFetch)


def _hostPort(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _lineArgument(text: str) -> Any:
    try:
        return parseLineSpec(text)
    except LineSpecError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _mgcpAgent(reactor: Any, args: argparse.Namespace, out: TextIO, err: TextIO):
    try:
        agent = CallAgent(reactor, args.domain, args.lines, args.gateway, args.listen,
                          args.digitMap, args.audit, f"MGCP {args.protocolVersion}")
        agent.start()
    except ValueError as e:
        err.write(f"srst-ccm: {e}\n")
        return succeed(EXIT_USAGE)
    except CannotListenError as e:
        err.write(f"srst-ccm: cannot listen on {args.listen[0]}:{args.listen[1]}: {e.socketError}\n")
        return succeed(EXIT_CONNECT)

    def show(event: Any) -> None:
        out.write(event.describe() + "\n")
        out.flush()

    host, port = agent.listenAddress
    out.write(f"listening on {host}:{port} for {agent.domain}, digit map {agent.digitMapText}\n")
    out.flush()
    agent.observers.append(show)
    done: Deferred[int] = Deferred()
    handles: dict[str, Any] = {}

    def summary(_: object) -> int:
        c = agent.counters
        out.write(f"stopped: {len(agent.calls)} calls, {c.commandsSent} commands sent,"
                  f" {c.responsesReceived} responses, {c.errorResponses} errors,"
                  f" {c.timeouts} timeouts, {c.commandsReceived} commands received\n")
        out.flush()
        return EXIT_OK

    def finish() -> Deferred[int]:
        if "finishing" not in handles:
            timer, trigger = handles.get("timer"), handles.pop("trigger", None)
            if timer is not None and timer.active():
                timer.cancel()
            if trigger is not None:
                reactor.removeSystemEventTrigger(trigger)
            handles["finishing"] = agent.stop().addCallback(summary)
            handles["finishing"].chainDeferred(done)
        return done

    if args.duration:
        handles["timer"] = reactor.callLater(args.duration, finish)
    handles["trigger"] = reactor.addSystemEventTrigger("before", "shutdown", finish)
    return done


def _addMgcpCommands(groups: Any) -> None:
    mgcp = groups.add_parser("mgcp", help="act as CallManager towards an MGCP gateway")
    actions = mgcp.add_subparsers(dest="action", metavar="ACTION", required=True)
    agent = actions.add_parser(
        "agent",
        help="run an MGCP call agent for the gateway's analog lines",
        description="Register the gateway's endpoints (RSIP, AUEP, RQNT) and connect"
        " calls between the configured lines (CRCX, MDCX, DLCX) as CallManager does,"
        " printing one line per event until SIGINT or --duration.",
    )
    agent.add_argument("--listen", type=_hostPort, default=("127.0.0.1", 2727),
                       metavar="HOST:PORT", help="UDP address to listen on (default 127.0.0.1:2727)")
    agent.add_argument("--gateway", type=_hostPort, metavar="HOST:PORT",
                       help="the gateway's MGCP address (default: where its RSIP came from)")
    agent.add_argument("--domain", required=True,
                       help="the gateway's MGCP domain name, as in aaln/S1/SU0/0@DOMAIN")
    agent.add_argument("--line", type=_lineArgument, action="append", required=True,
                       dest="lines", metavar="NUMBER=ENDPOINT",
                       help="a directory number on an endpoint (aaln/S1/SU0/0 or voice port"
                       " 1/0/0); repeat for each line")
    agent.add_argument("--digit-map", dest="digitMap", metavar="MAP",
                       help="the digit map sent with dial tone (default: from the numbers)")
    agent.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                       help="stop after this many seconds (default: run until SIGINT)")
    agent.add_argument("--no-audit", dest="audit", action="store_false",
                       help="do not send AUEP before arming the lines")
    agent.add_argument("--protocol-version", dest="protocolVersion", default="0.1",
                       help="MGCP version of our commands (default 0.1, as with CallManager)")
    agent.set_defaults(func=_mgcpAgent)


_COMMAND_GROUPS: list[Callable[[Any], None]] = [_addCredentialsCommands, _addMgcpCommands]


def makeParser() -> argparse.ArgumentParser:
    """
    @return: the C{srst-ccm} argument parser, one sub-command per group.
    """
    parser = argparse.ArgumentParser(
        prog="srst-ccm",
        description="CallManager stand-in for a Secure SRST router.",
        epilog="exit codes: 0 ok, 1 certificate mismatch, 2 usage, 3 connection failed,"
        " 4 TLS failure, 5 timeout, 6 bad reply, 7 unreadable CA file;"
        " mgcp agent: 0 stopped, 2 bad options, 3 cannot listen",
    )
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for addGroup in _COMMAND_GROUPS:
        addGroup(groups)
    return parser


def run(
    reactor: Any, argv: Sequence[str], out: TextIO, err: TextIO
) -> Deferred[int]:
    """
    Run one C{srst-ccm} command on a running reactor.

    @param argv: the arguments, without the program name.
    @param out: where results go.
    @param err: where errors go.
    @return: a L{Deferred} firing with the exit code.
    @raise SystemExit: on a usage error (from C{argparse}, code 2).
    """
    args = makeParser().parse_args(list(argv))
    return args.func(reactor, args, out, err)


def _main(reactor: Any, argv: Sequence[str]) -> Deferred[None]:
    d = run(reactor, argv, sys.stdout, sys.stderr)

    def exit(code: int) -> None:
        if code:
            raise SystemExit(code)

    return d.addCallback(exit)


def main(argv: Sequence[str] | None = None) -> None:
    """
    The C{srst-ccm} console script.

    @param argv: the arguments without the program name; C{sys.argv[1:]}
        when L{None}.
    """
    from twisted.internet.task import react

    arguments = list(sys.argv[1:] if argv is None else argv)
    makeParser().parse_args(arguments)  # usage errors exit 2 before the reactor runs
    react(_main, (arguments,))


if __name__ == "__main__":
    main()
