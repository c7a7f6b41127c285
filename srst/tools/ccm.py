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

C{tftp}::

    srst-ccm tftp serve --file branch-router.cnf.xml=gw.xml [--listen 127.0.0.1:69]

serves gateway configuration files (C{docs/gateway-config.md}) as
CallManager's TFTP server does for C{ccm-manager config}.

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
from typing import Callable, Protocol, Sequence, TextIO, TypeAlias

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from srst.debug import DebugSwitches
from srst.media.udpport import UDPReactor
from srst.tftp.server import TftpServer
from srst.tools._callagent import CallAgent, CallAgentEvent, LineSpec, LineSpecError, parseLineSpec
from srst.tools._credentialsfetch import (
    EXIT_CA_FILE,
    EXIT_CONNECT,
    EXIT_MISMATCH,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_TIMEOUT,
    EXIT_TLS,
    EXIT_USAGE,
    CAFileError,
    FetchConnectionFailed,
    FetchError,
    FetchProtocolError,
    FetchReactor,
    FetchResult,
    FetchTimedOut,
    FetchTLSFailed,
    fetchCredentials,
    fingerprint,
    loadCACertificates,
)


class CcmReactor(UDPReactor, FetchReactor, Protocol):
    """
    What C{srst-ccm} uses of the reactor: the call agent's
    (L{UDPReactor}: the clock and C{IReactorUDP.listenUDP}), the
    credentials client's (L{FetchReactor}: C{IReactorTCP.connectTCP}, the
    clock and C{IReactorPluggableNameResolver}), and the system event
    triggers of L{twisted.internet.interfaces.IReactorCore} that stop the
    agent before the reactor shuts down.
    """

    def addSystemEventTrigger(self, phase: str, eventType: str, callable: Callable[..., object],
                              *args: object, **kwargs: object) -> object:
        "Call C{callable} at C{phase} of C{eventType}; returns the trigger's id."

    def removeSystemEventTrigger(self, triggerID: object) -> None:
        "Remove a trigger added with C{addSystemEventTrigger}."


_SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""The type of the object a command group adds its commands to."""


def _credentialsFetch(reactor: FetchReactor, args: argparse.Namespace, out: TextIO,
                      err: TextIO) -> Deferred[int]:
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


def _addCredentialsCommands(groups: _SubParsers) -> None:
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


def _lineArgument(text: str) -> LineSpec:
    try:
        return parseLineSpec(text)
    except LineSpecError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _mgcpAgent(reactor: CcmReactor, args: argparse.Namespace, out: TextIO, err: TextIO) -> Deferred[int]:
    try:
        agent = CallAgent(reactor, args.domain, args.lines, args.gateway, args.listen,
                          args.digitMap, args.audit, f"MGCP {args.protocolVersion}",
                          debug=DebugSwitches(), ignored=args.ignored)
        agent.start()
    except ValueError as e:
        err.write(f"srst-ccm: {e}\n")
        return succeed(EXIT_USAGE)
    except CannotListenError as e:
        err.write(f"srst-ccm: cannot listen on {args.listen[0]}:{args.listen[1]}: {e.socketError}\n")
        return succeed(EXIT_CONNECT)

    def show(event: CallAgentEvent) -> None:
        out.write(event.describe() + "\n")
        out.flush()

    host, port = agent.listenAddress
    out.write(f"listening on {host}:{port} for {agent.domain}, digit map {agent.digitMapText}\n")
    out.flush()
    agent.observers.append(show)
    done: Deferred[int] = Deferred()
    timer: IDelayedCall | None = None
    trigger: object = None
    finishing = False

    def summary(_: object) -> int:
        c = agent.counters
        out.write(f"stopped: {len(agent.calls)} calls, {c.commandsSent} commands sent,"
                  f" {c.responsesReceived} responses, {c.errorResponses} errors,"
                  f" {c.timeouts} timeouts, {c.commandsReceived} commands received\n")
        out.flush()
        return EXIT_OK

    def finish() -> Deferred[int]:
        nonlocal trigger, finishing
        if not finishing:
            finishing = True
            if timer is not None and timer.active():
                timer.cancel()
            if trigger is not None:
                reactor.removeSystemEventTrigger(trigger)
                trigger = None
            agent.stop().addCallback(summary).chainDeferred(done)
        return done

    def shuttingDown() -> Deferred[int]:
        nonlocal trigger
        trigger = None  # firing now: a fired trigger is not removed
        return finish()

    if args.duration:
        timer = reactor.callLater(args.duration, finish)
    trigger = reactor.addSystemEventTrigger("before", "shutdown", shuttingDown)
    return done


def _addMgcpCommands(groups: _SubParsers) -> None:
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
    agent.add_argument("--ignore-endpoint", action="append", default=[], dest="ignored",
                       metavar="ENDPOINT",
                       help="never answer the gateway's commands for this endpoint (aaln/S1/SU0/0"
                       " or voice port 1/0/0), as Asterisk does for an endpoint it has no"
                       " configuration for; repeat for each")
    agent.add_argument("--protocol-version", dest="protocolVersion", default="0.1",
                       help="MGCP version of our commands (default 0.1, as with CallManager)")
    agent.set_defaults(func=_mgcpAgent)


def _fileArgument(text: str) -> tuple[str, str]:
    name, equals, path = text.partition("=")
    if not equals or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, path


def _tftpServe(reactor: CcmReactor, args: argparse.Namespace, out: TextIO, err: TextIO) -> Deferred[int]:
    files = dict(args.files)

    def source(name: str) -> bytes | None:
        path = files.get(name)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    host, port = args.listen
    try:
        listening = reactor.listenUDP(port, TftpServer(reactor, source, host), interface=host)
    except CannotListenError as e:
        err.write(f"srst-ccm: cannot listen on {host}:{port}: {e.socketError}\n")
        return succeed(EXIT_CONNECT)
    out.write(f"serving {', '.join(sorted(files))} over TFTP on {host}:{listening.getHost().port}\n")
    out.flush()
    timer: IDelayedCall | None = None
    trigger: object = None

    def stop() -> None:
        nonlocal trigger
        if timer is not None and timer.active():
            timer.cancel()
        if trigger is not None:
            reactor.removeSystemEventTrigger(trigger)
            trigger = None
        listening.stopListening()

    def finish() -> None:
        nonlocal trigger
        trigger = None  # a fired trigger is not removed
        if not done.called:
            stop()
            done.callback(EXIT_OK)

    done: Deferred[int] = Deferred(lambda _: stop())
    if args.duration:
        timer = reactor.callLater(args.duration, finish)
    trigger = reactor.addSystemEventTrigger("before", "shutdown", finish)
    return done


def _addTftpCommands(groups: _SubParsers) -> None:
    tftp = groups.add_parser("tftp", help="serve gateway configuration files as CallManager's TFTP server")
    actions = tftp.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve", help="serve files over TFTP (read-only, RFC 1350)",
        description="Serve each NAME (as the gateway asks for it, e.g. branch-router.cnf.xml) from"
        " PATH, read at each request, until SIGINT or --duration.")
    serve.add_argument("--listen", type=_hostPort, default=("127.0.0.1", 69), metavar="HOST:PORT",
                       help="UDP address to listen on (default 127.0.0.1:69)")
    serve.add_argument("--file", type=_fileArgument, action="append", required=True, dest="files",
                       metavar="NAME=PATH", help="a file to serve; repeat for each")
    serve.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                       help="stop after this many seconds (default: run until SIGINT)")
    serve.set_defaults(func=_tftpServe)


_COMMAND_GROUPS: list[Callable[[_SubParsers], None]] = [_addCredentialsCommands, _addMgcpCommands,
                                                        _addTftpCommands]


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
    reactor: CcmReactor, argv: Sequence[str], out: TextIO, err: TextIO
) -> Deferred[int]:
    """
    Run one C{srst-ccm} command on a running reactor.

    @param reactor: the reactor (L{CcmReactor}).
    @param argv: the arguments, without the program name.
    @param out: where results go.
    @param err: where errors go.
    @return: a L{Deferred} firing with the exit code.
    @raise SystemExit: on a usage error (from C{argparse}, code 2).
    """
    args = makeParser().parse_args(list(argv))
    return args.func(reactor, args, out, err)


def _main(reactor: CcmReactor, argv: Sequence[str]) -> Deferred[None]:
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


__all__ = [
    # the credentials client, re-exported from srst.tools._credentialsfetch
    "CAFileError", "EXIT_CA_FILE", "EXIT_CONNECT", "EXIT_MISMATCH", "EXIT_OK", "EXIT_PROTOCOL",
    "EXIT_TIMEOUT", "EXIT_TLS", "EXIT_USAGE", "FetchConnectionFailed", "FetchError",
    "FetchProtocolError", "FetchResult", "FetchTLSFailed", "FetchTimedOut", "fetchCredentials",
    "fingerprint", "loadCACertificates",
    # the command line
    "CcmReactor", "main", "makeParser", "run",
]
