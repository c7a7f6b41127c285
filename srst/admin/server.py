# -*- test-case-name: tests.test_admin_server -*-
"""
The admin socket: where C{srst-cli} sends one command per connection.

Wire format (UTF-8, newline-delimited JSON), one request per connection::

    -> {"argv": ["show", "credentials"], "json": false}
    <- {"text": "Credentials IP: ...", "data": null, "exit": 0}

C{"data"} carries the command's JSON facts only when the request asked for
them (C{"json": true}); otherwise it is C{null}.  Errors are answered with
C{{"error": "% Invalid input detected", "exit": 1}} (a L{CommandError} becomes
C{"% <message>"}; anything unexpected is logged and answered C{"% Internal
error"}).  The server closes the connection after the answer.

A streaming (C{debug ...}) command answers C{{"text": <banner>}}, then one
C{{"line": "<IOS debug line>"}} per matching log event (with an C{"event"}
object of fields added when C{"json"} was asked for), until the client
disconnects or C{undebug all} ends the stream with
C{{"text": "All possible debugging has been turned off", "exit": 0}}.

L{listenAdminSocket} and L{AdminSocketService} put an L{AdminFactory} on a
UNIX socket with mode 0600.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import warnings
from typing import Any, Iterable, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IDelayedCall,
    IListeningPort,
    IPushProducer,
    IReactorTime,
    IReactorUNIX,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import LogEvent, Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from srst._files import makeDirectory
from srst.admin.commands import CommandError, CommandResult, CommandTable, DebugRequest
from srst.admin.render import columns, debugEventData, formatIOSDebugLine
from srst.debug import DebugSwitches

MAX_REQUEST_SIZE = 64 * 1024
"""The longest request line accepted, in bytes (without the newline)."""

IDLE_TIMEOUT = 30.0
"""Seconds a connection may stay open without sending its request."""

SOCKET_MODE = 0o600
"""The admin socket's file mode: only the router's own user may connect."""

BACKLOG = 1024
"""
Connections the kernel queues on the admin socket before the router accepts
them (Twisted's default is 50): a burst of C{srst-cli} clients (a monitoring
script run by many hosts' cron jobs at once, a shell loop) must wait, not be
refused with C{EAGAIN}.  Linux caps it at C{net.core.somaxconn} (4096).
"""

UNDEBUG_ALL_TEXT = "All possible debugging has been turned off"
"""What IOS answers to C{undebug all}; also the closing line of each stream."""

INTERNAL_ERROR = "% Internal error"
MALFORMED_REQUEST = "% Malformed request"
REQUEST_TOO_LARGE = "% Request too large"
REQUEST_TIMEOUT = "% Timed out waiting for a command"

# twisted.internet.unix._inFilesystemNamespace compares the path with both
# b"\0" and "\0", which under "python -b" warns for any path, str or bytes.
# The warning is Twisted's, not a bytes/str mix-up of ours: keep it out of
# the test output.  The module pattern also matches the file path, which is
# what trial's re-emitted warnings carry.
warnings.filterwarnings("ignore", category=BytesWarning, module=r".*twisted[./]internet[./]unix$")


class BadRequest(ValueError):
    """
    A request line is not the JSON object the wire format prescribes.

    @ivar reason: what is wrong with it.
    """

    def __init__(self, reason: str) -> None:
        ValueError.__init__(self, reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"bad admin request: {self.reason}"


class AdminSocketError(RuntimeError):
    """
    The admin socket cannot be created.

    @ivar path: the socket path.
    @ivar reason: why.
    """

    def __init__(self, path: str, reason: str) -> None:
        RuntimeError.__init__(self, path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"admin socket {self.path}: {self.reason}"


def decodeRequest(line: bytes) -> tuple[list[str], bool]:
    """
    Parse one request line.

    @param line: the bytes before the newline.
    @return: the command words and whether JSON data was asked for.
    @raise BadRequest: if the line is not a valid request.
    """
    try:
        request = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"not UTF-8 JSON ({e})") from e
    except RecursionError as e:
        # A line of nothing but brackets nests deeper than the parser's
        # recursion limit long before MAX_REQUEST_SIZE.
        raise BadRequest("nested too deeply") from e
    if not isinstance(request, dict):
        raise BadRequest("not a JSON object")
    argv = request.get("argv")
    if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
        raise BadRequest('"argv" is not a list of strings')
    wantJSON = request.get("json", False)
    if not isinstance(wantJSON, bool):
        raise BadRequest('"json" is not a boolean')
    return argv, wantJSON


def encodeMessage(message: dict[str, Any]) -> bytes:
    """
    Encode one response line.

    @param message: a JSON-serialisable dict.
    @return: the line, newline included.
    @raise TypeError: if the message holds something JSON cannot encode.
    @raise ValueError: if it is circular.
    """
    return json.dumps(message).encode("ascii") + b"\n"


_READING = "reading"
_RUNNING = "running"
_STREAMING = "streaming"
_DONE = "done"


@implementer(IPushProducer)
class AdminProtocol(Protocol):
    """
    One C{srst-cli} connection: read one request, answer it (or stream debug
    lines), close.

    While streaming, the protocol is the transport's push producer: when
    the client falls behind, debug lines are dropped (and counted) instead of
    piling up in memory.

    @ivar factory: the L{AdminFactory}.
    """

    log = Logger()
    factory: AdminFactory

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._state = _READING
        self._idleCall: IDelayedCall | None = None
        self._wantJSON = False
        self._command = ""
        self._paused = False
        self._dropped = 0
        self._lost = False

    def connectionMade(self) -> None:
        """
        Register with the factory and start the idle timer.
        """
        self.factory.connections.add(self)
        self._idleCall = self.factory.clock.callLater(self.factory.idleTimeout, self._idleTimedOut)

    def dataReceived(self, data: bytes) -> None:
        """
        Buffer up to one request line (bounded) and dispatch it; anything
        after the request is ignored.
        """
        if self._state != _READING:
            return
        self._buffer += data
        limit = self.factory.maxRequestSize
        newline = self._buffer.find(b"\n")
        if newline > limit or (newline == -1 and len(self._buffer) > limit):
            self.log.warn("admin request longer than {limit} bytes: closing", limit=limit)
            self._finish({"error": REQUEST_TOO_LARGE, "exit": 1})
            return
        if newline == -1:
            return
        line = bytes(self._buffer[:newline])
        self._buffer = bytearray()
        self._cancelIdle()
        self._state = _RUNNING
        try:
            argv, self._wantJSON = decodeRequest(line)
        except BadRequest as e:
            self.log.warn("{error}", error=str(e))
            self._finish({"error": MALFORMED_REQUEST, "exit": 1})
            return
        self._command = " ".join(argv)
        self.log.info("admin command: {command}", command=self._command)
        d = maybeDeferred(self.factory.dispatch, argv)
        d.addCallback(self._answered)
        d.addErrback(self._failed)

    def _answered(self, result: object) -> None:
        if self._lost:
            self.log.info("admin client left before the answer to {command!r}", command=self._command)
            return
        if isinstance(result, DebugRequest):
            self._startStream(result)
        elif isinstance(result, CommandResult):
            data = result.data if self._wantJSON else None
            payload = encodeMessage({"text": result.text, "data": data, "exit": result.exitCode})
            self._finishWith(payload)
        else:
            raise TypeError(f"handler returned {result!r}, not a CommandResult or DebugRequest")

    def _failed(self, failure: Failure) -> None:
        if failure.check(CommandError):
            message = {"error": "% " + str(failure.value), "exit": 1}
        else:
            self.log.failure("admin command {command!r} failed", failure, command=self._command)
            message = {"error": INTERNAL_ERROR, "exit": 1}
        if not self._lost:
            self._finish(message)

    def _finish(self, message: dict[str, Any]) -> None:
        self._finishWith(encodeMessage(message))

    def _finishWith(self, payload: bytes) -> None:
        self._state = _DONE
        self.transport.write(payload)
        self.transport.loseConnection()

    def _startStream(self, request: DebugRequest) -> None:
        self.factory.streamStarted(self, request.namespaces)
        self._state = _STREAMING
        self.transport.registerProducer(self, True)
        self.transport.write(encodeMessage({"text": request.banner}))

    def debugEvent(self, event: LogEvent) -> None:
        """
        Send one debug event to the client as an IOS debug line (the
        stream's log observer).

        @param event: a log event that passed the debug switches.
        """
        if self._state != _STREAMING:
            return
        if self._paused:
            self._dropped += 1
            return
        message: dict[str, Any] = {"line": formatIOSDebugLine(event)}
        if self._wantJSON:
            message["event"] = debugEventData(event)
        self.transport.write(encodeMessage(message))

    def endStream(self, text: str) -> None:
        """
        End a debug stream from the server side: send C{text} as the closing
        line and close.  Does nothing if this connection is not streaming.

        @param text: the closing line.
        """
        if self._state != _STREAMING:
            return
        self._state = _DONE
        self.factory.streamEnded(self)
        self.transport.unregisterProducer()
        self._finish({"text": text, "exit": 0})

    def pauseProducing(self) -> None:
        """
        The client is not keeping up: drop debug lines until resumed.
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        The client caught up: say how many lines were dropped, then carry on.
        """
        self._paused = False
        if self._dropped and self._state == _STREAMING:
            self.transport.write(
                encodeMessage({"line": f"% {self._dropped} debug messages dropped: srst-cli is not keeping up"})
            )
        self._dropped = 0

    def stopProducing(self) -> None:
        """
        The transport is going away; L{connectionLost} does the cleanup.
        """

    def _idleTimedOut(self) -> None:
        self._idleCall = None
        self.log.info(
            "admin connection sent no command within {timeout} seconds: closing",
            timeout=self.factory.idleTimeout,
        )
        self._finish({"error": REQUEST_TIMEOUT, "exit": 1})

    def _cancelIdle(self) -> None:
        if self._idleCall is not None:
            if self._idleCall.active():
                self._idleCall.cancel()
            self._idleCall = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Stop the timer, detach a debug stream (its switches go off unless
        still needed) and unregister.  A handler still running is left to
        finish (it may be changing state on disk); its answer is dropped.
        """
        self._lost = True
        self._cancelIdle()
        if self._state == _STREAMING:
            self._state = _DONE
            self.factory.streamEnded(self)
        self.factory.connections.discard(self)


class AdminFactory(Factory):
    """
    Serves the command table on the admin socket.

    Creating the factory registers the admin's own commands on the table
    (see L{registerAdminCommands}): C{help}, C{show debugging},
    C{undebug all} and C{no debug all}.

    @ivar table: the L{CommandTable}.
    @ivar switches: the router's L{DebugSwitches}.
    @ivar clock: for the idle timeout.
    @ivar idleTimeout: seconds to wait for a request.
    @ivar maxRequestSize: the longest request line, in bytes.
    @ivar connections: the open L{AdminProtocol}s.
    """

    protocol = AdminProtocol
    noisy = False

    def __init__(
        self,
        table: CommandTable,
        switches: DebugSwitches,
        clock: IReactorTime,
        idleTimeout: float = IDLE_TIMEOUT,
        maxRequestSize: int = MAX_REQUEST_SIZE,
    ) -> None:
        """
        @raise ValueError: if the admin commands are already on C{table}.
        """
        self.table = table
        self.switches = switches
        self.clock = clock
        self.idleTimeout = idleTimeout
        self.maxRequestSize = maxRequestSize
        self.connections: set[AdminProtocol] = set()
        self._streams: list[AdminProtocol] = []
        registerAdminCommands(table, self)

    def dispatch(self, argv: Sequence[str]) -> CommandResult | DebugRequest | Deferred[CommandResult | DebugRequest]:
        """
        Run the command for C{argv}.

        @return: the handler's result (a L{CommandResult}, L{DebugRequest},
            or a L{Deferred} firing with one).
        @raise InvalidInput: if no command matches.
        """
        command, variables = self.table.lookup(argv)
        return command.handler(**variables)

    def streamStarted(self, protocol: AdminProtocol, namespaces: Iterable[str]) -> None:
        """
        Attach C{protocol}'s debug stream to the switches.

        @raise ValueError: for bad namespaces.
        """
        self.switches.addStream(protocol.debugEvent, namespaces)
        self._streams.append(protocol)

    def streamEnded(self, protocol: AdminProtocol) -> None:
        """
        Detach C{protocol}'s debug stream.
        """
        self.switches.removeStream(protocol.debugEvent)
        if protocol in self._streams:
            self._streams.remove(protocol)

    def streams(self) -> list[AdminProtocol]:
        """
        @return: the connections currently streaming debug lines.
        """
        return list(self._streams)

    def undebugAll(self) -> CommandResult:
        """
        C{undebug all}: end every stream and turn every switch off.
        """
        previously = self.switches.enabledNamespaces()
        for protocol in list(self._streams):
            protocol.endStream(UNDEBUG_ALL_TEXT)
        self.switches.disableAll()
        return CommandResult(UNDEBUG_ALL_TEXT, {"disabled": list(previously)})

    def disconnectAll(self) -> None:
        """
        Close every admin connection (on shutdown).
        """
        for protocol in list(self.connections):
            if protocol.transport is not None:
                protocol.transport.loseConnection()


def registerAdminCommands(table: CommandTable, factory: AdminFactory) -> None:
    """
    Register C{help [<topic>]}, C{show debugging}, C{undebug all} and
    C{no debug all}.

    @raise ValueError: if one is already registered.
    """

    def helpCommand(topic: str | None = None) -> CommandResult:
        commands = table.commands()
        if topic is not None:
            commands = [c for c in commands if c.pattern[0].lower() == topic.lower()]
            if not commands:
                raise CommandError("Unrecognized command")
        patterns = [" ".join(c.pattern) for c in commands]
        width = max(len(p) for p in patterns) + 2
        text = "\n".join(columns([(p, c.help) for p, c in zip(patterns, commands)], [width]))
        data = [
            {"command": p, "help": c.help, "streaming": c.streaming}
            for p, c in zip(patterns, commands)
        ]
        return CommandResult(text, data)

    def showDebugging() -> CommandResult:
        namespaces = factory.switches.enabledNamespaces()
        lines = [f"  {namespace} debugging is on" for namespace in namespaces]
        if lines:
            lines.insert(0, "srst:")
        data = {"enabled": list(namespaces), "streams": len(factory.streams())}
        return CommandResult("\n".join(lines), data)

    table.add("help [<topic>]", helpCommand, help="list commands (optionally those starting with a word)")
    table.add("show debugging", showDebugging, help="debug switches that are on")
    table.add("undebug all", factory.undebugAll, help="turn off all debugging and end debug streams")
    table.add("no debug all", factory.undebugAll, help="turn off all debugging and end debug streams")


def registerDebugCommand(
    table: CommandTable,
    words: str,
    banner: str,
    namespaces: Iterable[str],
    help: str = "",
) -> None:
    """
    Register a streaming debug command, e.g.
    C{registerDebugCommand(table, "debug credentials", "Credentials server
    debugging is enabled", ("srst.debug.credentials",))}.

    @param words: the command pattern.
    @param banner: what IOS prints when the switch goes on.
    @param namespaces: the log namespaces the stream receives.
    @param help: the C{help} line; a default naming the command if empty.
    @raise ValueError: if C{namespaces} is empty or the pattern is taken.
    """
    request = DebugRequest(banner=banner, namespaces=tuple(namespaces))
    if not request.namespaces:
        raise ValueError(f"debug command {words!r} needs at least one namespace")

    def debugCommand() -> DebugRequest:
        return request

    table.add(words, debugCommand, help=help or f"stream {words} output", streaming=True)


def adminSocketProblem(path: str) -> str | None:
    """
    Say why the admin socket cannot be created at C{path}, changing nothing:
    a file or directory that is not a socket is in its place, a server
    answers on it, or a parent is not a directory.  A socket file nobody
    listens on (left by a crash) is no problem: it is removed when listening.
    Connecting to a UNIX socket either succeeds or fails at once, so the
    probe does not block in practice; it runs only at start-up.

    @param path: the socket path.
    @return: the reason, or L{None} when the socket can be created.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return "a parent of it is not a directory"
    if stat.S_ISDIR(mode):
        return "exists and is a directory, not a socket"
    if not stat.S_ISSOCK(mode):
        return "exists and is not a socket"
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError as e:
        if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            return e.strerror or str(e)
    else:
        return "another server is listening on it"
    finally:
        probe.close()
    return None


def _removeStaleSocket(path: str) -> None:
    """
    Remove a socket file nobody listens on any more (left by a crash).

    @raise AdminSocketError: if C{path} is not a socket or a server
        answers on it (L{adminSocketProblem}).
    """
    problem = adminSocketProblem(path)
    if problem is not None:
        raise AdminSocketError(path, problem)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def listenAdminSocket(reactor: IReactorUNIX, path: str, factory: Factory) -> IListeningPort:
    """
    Listen on the admin socket: create its directory (mode 0700) if needed,
    remove a stale socket file, and make sure the socket is created with
    mode 0600 (the umask is tightened around the bind, then the mode is
    checked); the listen backlog is L{BACKLOG}.

    @param reactor: the reactor.
    @param path: the socket path (relative to the working directory).
    @param factory: usually an L{AdminFactory}.
    @return: the listening port (stopping it removes the socket file).
    @raise AdminSocketError: if the socket cannot be created.
    """
    directory = os.path.dirname(path)
    if directory:
        try:
            makeDirectory(directory)
        except OSError as e:
            raise AdminSocketError(path, f"cannot create its directory: {e.strerror}") from e
    _removeStaleSocket(path)
    previousUmask = os.umask(0o177)
    try:
        port = reactor.listenUNIX(path, factory, backlog=BACKLOG, mode=SOCKET_MODE)
    except CannotListenError as e:
        raise AdminSocketError(path, str(e.socketError)) from e
    finally:
        os.umask(previousUmask)
    # A fake reactor (MemoryReactor) creates no file.
    if os.path.exists(path) and stat.S_IMODE(os.stat(path).st_mode) != SOCKET_MODE:
        os.chmod(path, SOCKET_MODE)
    return port


class AdminSocketService(Service):
    """
    Run an L{AdminFactory} on the admin socket while the service runs.

    @ivar port: the listening port while running, else L{None}.
    """

    def __init__(self, reactor: IReactorUNIX, path: str, factory: AdminFactory) -> None:
        self._reactor = reactor
        self.path = path
        self.factory = factory
        self.port: IListeningPort | None = None

    def startService(self) -> None:
        """
        Listen.

        @raise AdminSocketError: if the socket cannot be created.
        """
        Service.startService(self)
        self.port = listenAdminSocket(self._reactor, self.path, self.factory)

    def stopService(self) -> Deferred[None]:
        """
        Close every admin connection and stop listening (which removes the
        socket file).
        """
        Service.stopService(self)
        self.factory.disconnectAll()
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        return maybeDeferred(port.stopListening)
