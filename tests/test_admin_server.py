"""
Tests for L{srst.admin.server} (and the text helpers in L{srst.admin.render}).
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransportWithDisconnection
from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.admin.commands import CommandError, CommandResult, CommandTable, DebugRequest
from srst.admin.server import (
    BACKLOG,
    IDLE_TIMEOUT,
    MAX_REQUEST_SIZE,
    UNDEBUG_ALL_TEXT,
    AdminFactory,
    AdminSocketError,
    AdminSocketService,
    BadRequest,
    decodeRequest,
    listenAdminSocket,
    registerDebugCommand,
)
from srst.debug import DebugSwitches
from tests.routerhelpers import bounded

CREDENTIALS = "srst.debug.credentials"
BANNER = "Credentials server debugging is enabled"
IOS_LINE = re.compile(r"^\*[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d\.\d{3}: ")


DEEP_REQUEST = b'{"argv": ' + b"[" * 2000 + b"]" * 2000 + b"}"
"""A request nested 2000 levels deep (the fuzz run's), well under MAX_REQUEST_SIZE."""


class Harness:
    """
    A command table, switches and factory, and a way to open connections.
    """

    def __init__(self, maxRequestSize=MAX_REQUEST_SIZE):
        self.clock = Clock()
        self.table = CommandTable()
        self.published = []
        self.switches = DebugSwitches(self.published.append)
        self.table.add(
            "show credentials",
            lambda: CommandResult("Credentials IP: 127.0.0.1", {"port": 2445}),
            help="credentials service settings",
        )
        registerDebugCommand(self.table, "debug credentials", BANNER, (CREDENTIALS,))
        self.factory = AdminFactory(self.table, self.switches, self.clock, maxRequestSize=maxRequestSize)
        self.debugLog = self.switches.logger(CREDENTIALS)

    def connect(self):
        """
        @return: a connected protocol and its transport.
        """
        protocol = self.factory.buildProtocol(None)
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        return protocol, transport

    def request(self, argv, wantJSON=False):
        """
        Open a connection and send one request.

        @return: the protocol and transport.
        """
        protocol, transport = self.connect()
        line = json.dumps({"argv": argv, "json": wantJSON}).encode("ascii") + b"\n"
        protocol.dataReceived(line)
        return protocol, transport


def answers(transport):
    """
    @return: the JSON messages written to C{transport}.
    """
    return [json.loads(line) for line in transport.value().splitlines()]


class RequestTests(SynchronousTestCase):
    """
    Tests for ordinary (non-streaming) commands.
    """

    def setUp(self):
        self.harness = Harness()

    def test_show(self):
        """
        A show command is answered with its text, no data, exit 0, and the
        connection is closed.
        """
        _, transport = self.harness.request(["show", "credentials"])
        self.assertEqual(answers(transport), [{"text": "Credentials IP: 127.0.0.1", "data": None, "exit": 0}])
        self.assertFalse(transport.connected)
        self.assertEqual(self.harness.factory.connections, set())

    def test_caseInsensitive(self):
        """
        Command words match regardless of case, as in IOS.
        """
        _, transport = self.harness.request(["SHOW", "Credentials"])
        self.assertEqual(answers(transport)[0]["exit"], 0)

    def test_json(self):
        """
        With C{"json": true} the answer carries the command's data.
        """
        _, transport = self.harness.request(["show", "credentials"], wantJSON=True)
        self.assertEqual(answers(transport)[0]["data"], {"port": 2445})

    def test_variablesAndExitCode(self):
        """
        Pattern variables reach the handler as keyword arguments, and the
        result's exit code is passed on.
        """
        self.harness.table.add("show ephone [<name>]", lambda name="all": CommandResult(name, None, 3))
        _, transport = self.harness.request(["show", "ephone", "offhook"])
        self.assertEqual(answers(transport), [{"text": "offhook", "data": None, "exit": 3}])

    def test_unknownCommand(self):
        """
        Words that match nothing are answered exactly C{% Invalid input
        detected} with exit 1.
        """
        _, transport = self.harness.request(["show", "bogus"])
        self.assertEqual(answers(transport), [{"error": "% Invalid input detected", "exit": 1}])
        self.assertFalse(transport.connected)

    def test_emptyCommand(self):
        """
        An empty word list is invalid input.
        """
        _, transport = self.harness.request([])
        self.assertEqual(answers(transport)[0]["error"], "% Invalid input detected")

    def test_commandError(self):
        """
        A handler's L{CommandError} becomes C{% <message>}, exit 1.
        """

        def fail():
            raise CommandError("Trustpoint nosuch not found")

        self.harness.table.add("show fail", fail)
        _, transport = self.harness.request(["show", "fail"])
        self.assertEqual(answers(transport), [{"error": "% Trustpoint nosuch not found", "exit": 1}])

    def test_handlerBug(self):
        """
        An unexpected exception is logged and answered C{% Internal error};
        the server keeps serving other connections.
        """

        def broken():
            return 1 / 0

        self.harness.table.add("show broken", broken)
        _, transport = self.harness.request(["show", "broken"])
        self.assertEqual(answers(transport), [{"error": "% Internal error", "exit": 1}])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        _, transport = self.harness.request(["show", "credentials"])
        self.assertEqual(answers(transport)[0]["exit"], 0)

    def test_badResult(self):
        """
        A handler returning something other than a result is an internal
        error.
        """
        self.harness.table.add("show odd", lambda: "text")
        _, transport = self.harness.request(["show", "odd"])
        self.assertEqual(answers(transport), [{"error": "% Internal error", "exit": 1}])
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)

    def test_unserialisableData(self):
        """
        Data JSON cannot encode is an internal error, not a crash.
        """
        self.harness.table.add("show odd", lambda: CommandResult("x", {"when": object()}))
        _, transport = self.harness.request(["show", "odd"], wantJSON=True)
        self.assertEqual(answers(transport), [{"error": "% Internal error", "exit": 1}])
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)

    def test_deferredResult(self):
        """
        A handler may return a L{Deferred}; the answer is sent when it fires.
        """
        pending = Deferred()
        self.harness.table.add("show later", lambda: pending)
        _, transport = self.harness.request(["show", "later"])
        self.assertEqual(transport.value(), b"")
        self.assertTrue(transport.connected)
        pending.callback(CommandResult("done"))
        self.assertEqual(answers(transport), [{"text": "done", "data": None, "exit": 0}])
        self.assertFalse(transport.connected)

    def test_deferredCommandError(self):
        """
        A L{Deferred} failing with L{CommandError} is answered like a raised
        one.
        """
        pending = Deferred()
        self.harness.table.add("show later", lambda: pending)
        _, transport = self.harness.request(["show", "later"])
        pending.errback(CommandError("Request 7 not found"))
        self.assertEqual(answers(transport), [{"error": "% Request 7 not found", "exit": 1}])

    def test_deferredAfterDisconnect(self):
        """
        When the client leaves before a slow handler finishes, the handler is
        left to finish and its answer is dropped quietly.
        """
        pending = Deferred()
        self.harness.table.add("show later", lambda: pending)
        _, transport = self.harness.request(["show", "later"])
        transport.loseConnection()
        pending.callback(CommandResult("done"))
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.harness.factory.connections, set())

    def test_failureAfterDisconnect(self):
        """
        A slow handler failing after the client left is still logged if
        unexpected, and nothing is written.
        """
        pending = Deferred()
        self.harness.table.add("show later", lambda: pending)
        _, transport = self.harness.request(["show", "later"])
        transport.loseConnection()
        pending.errback(ZeroDivisionError())
        self.assertEqual(transport.value(), b"")
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_requestInPieces(self):
        """
        A request split over several reads is assembled.
        """
        protocol, transport = self.harness.connect()
        for piece in (b'{"argv": ["show",', b' "credentials"]', b"}\n"):
            protocol.dataReceived(piece)
        self.assertEqual(answers(transport)[0]["text"], "Credentials IP: 127.0.0.1")

    def test_dataAfterRequestIgnored(self):
        """
        Only the first request on a connection is run.
        """
        calls = []
        self.harness.table.add("show count", lambda: calls.append(1) or CommandResult("x"))
        pending = Deferred()
        self.harness.table.add("show later", lambda: pending)
        protocol, transport = self.harness.request(["show", "later"])
        protocol.dataReceived(b'{"argv": ["show", "count"]}\n')
        self.assertEqual(calls, [])

    def test_oversizedRequest(self):
        """
        A request longer than the limit without a newline is refused and the
        connection closed, without waiting for the rest.
        """
        harness = Harness(maxRequestSize=100)
        protocol, transport = harness.connect()
        protocol.dataReceived(b"x" * 60)
        self.assertTrue(transport.connected)
        protocol.dataReceived(b"x" * 60)
        self.assertEqual(answers(transport), [{"error": "% Request too large", "exit": 1}])
        self.assertFalse(transport.connected)

    def test_oversizedLine(self):
        """
        A complete line longer than the limit is refused too.
        """
        harness = Harness(maxRequestSize=100)
        protocol, transport = harness.connect()
        protocol.dataReceived(b"x" * 101 + b"\n")
        self.assertEqual(answers(transport)[0]["error"], "% Request too large")

    def test_requestAtLimit(self):
        """
        A request exactly at the limit is accepted.
        """
        line = json.dumps({"argv": ["show", "credentials"]}).encode("ascii")
        harness = Harness(maxRequestSize=len(line))
        protocol, transport = harness.connect()
        protocol.dataReceived(line + b"\n")
        self.assertEqual(answers(transport)[0]["exit"], 0)

    def test_malformedRequest(self):
        """
        A line that is not a valid request is answered C{% Malformed
        request} and closed.
        """
        for line in (b"show credentials\n", b"[]\n", b'{"argv": "show"}\n', b'{"argv": [1]}\n',
                     b'{"argv": [], "json": 1}\n', b"\xff\xfe\n"):
            protocol, transport = self.harness.connect()
            protocol.dataReceived(line)
            self.assertEqual(answers(transport), [{"error": "% Malformed request", "exit": 1}], line)
            self.assertFalse(transport.connected)

    def test_idleTimeout(self):
        """
        A connection that sends no request is closed once the idle timeout
        passes.
        """
        _, transport = self.harness.connect()
        self.harness.clock.advance(IDLE_TIMEOUT - 1)
        self.assertTrue(transport.connected)
        self.harness.clock.advance(1)
        self.assertEqual(answers(transport), [{"error": "% Timed out waiting for a command", "exit": 1}])
        self.assertFalse(transport.connected)

    def test_idleTimerCancelled(self):
        """
        The idle timer is cancelled by a request and by a disconnect.
        """
        pending = Deferred()
        self.harness.table.add("show later", lambda: pending)
        self.harness.request(["show", "later"])
        self.assertEqual(self.harness.clock.getDelayedCalls(), [])
        _, transport = self.harness.connect()
        transport.loseConnection()
        self.assertEqual(self.harness.clock.getDelayedCalls(), [])

    def test_disconnectAll(self):
        """
        C{disconnectAll} closes every open connection.
        """
        _, first = self.harness.connect()
        _, second = self.harness.request(["debug", "credentials"])
        self.harness.factory.disconnectAll()
        self.assertFalse(first.connected)
        self.assertFalse(second.connected)
        self.assertEqual(self.harness.switches.enabledNamespaces(), ())


class DecodeRequestTests(SynchronousTestCase):
    """
    Tests for L{decodeRequest}.
    """

    def test_defaults(self):
        """
        C{"json"} defaults to false.
        """
        self.assertEqual(decodeRequest(b'{"argv": ["help"]}'), (["help"], False))

    def test_badRequest(self):
        """
        L{BadRequest} names what is wrong in one line.
        """
        error = self.assertRaises(BadRequest, decodeRequest, b'{"argv": 3}')
        self.assertEqual(str(error), 'bad admin request: "argv" is not a list of strings')

    def test_nestedTooDeeply(self):
        """
        A request nested deeper than the parser's recursion limit is a
        L{BadRequest}, not a C{RecursionError}.
        """
        error = self.assertRaises(BadRequest, decodeRequest, DEEP_REQUEST)
        self.assertEqual(str(error), "bad admin request: nested too deeply")


class StreamTests(SynchronousTestCase):
    """
    Tests for streaming (debug) commands.
    """

    def setUp(self):
        self.harness = Harness()

    def test_banner(self):
        """
        A debug command answers its banner, keeps the connection open,
        registers as the transport's producer and turns its switch on.
        """
        protocol, transport = self.harness.request(["debug", "credentials"])
        self.assertEqual(answers(transport), [{"text": BANNER}])
        self.assertTrue(transport.connected)
        self.assertIs(transport.producer, protocol)
        self.assertEqual(self.harness.switches.enabledNamespaces(), (CREDENTIALS,))
        self.assertEqual(self.harness.factory.streams(), [protocol])

    def test_lines(self):
        """
        Events on the debug logger arrive as IOS debug lines; events of
        other namespaces do not.
        """
        _, transport = self.harness.request(["debug", "credentials"])
        transport.clear()
        self.harness.switches.enable("srst.debug.ephone.register")
        self.harness.switches.logger("srst.debug.ephone.register").debug("register")
        Logger(namespace="srst.admin", observer=self.harness.switches.observer).info("other")
        self.harness.debugLog.debug("Credentials service: TLS Handshake completes.")
        [message] = answers(transport)
        self.assertEqual(list(message), ["line"])
        self.assertRegex(message["line"], IOS_LINE)
        self.assertTrue(message["line"].endswith(": Credentials service: TLS Handshake completes."))

    def test_jsonLines(self):
        """
        With C{"json": true} each line also carries the event's fields.
        """
        _, transport = self.harness.request(["debug", "credentials"], wantJSON=True)
        transport.clear()
        self.harness.debugLog.debug("Start TLS Handshake {socket}", socket=1)
        [message] = answers(transport)
        self.assertEqual(message["event"]["fields"], {"socket": 1})
        self.assertEqual(message["event"]["namespace"], CREDENTIALS)

    def test_disconnectStops(self):
        """
        When the client disconnects the stream is detached and the switch
        goes off: later events are neither sent nor published.
        """
        _, transport = self.harness.request(["debug", "credentials"])
        transport.loseConnection()
        transport.clear()
        self.harness.debugLog.debug("late")
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.harness.published, [])
        self.assertEqual(self.harness.switches.enabledNamespaces(), ())
        self.assertEqual(self.harness.factory.streams(), [])

    def test_otherStreamKeepsSwitch(self):
        """
        With two streams, one disconnecting leaves the switch on for the
        other.
        """
        _, first = self.harness.request(["debug", "credentials"])
        _, second = self.harness.request(["debug", "credentials"])
        first.loseConnection()
        second.clear()
        self.harness.debugLog.debug("still here")
        self.assertEqual(len(answers(second)), 1)

    def test_undebugAll(self):
        """
        C{undebug all} ends every stream with the IOS closing line, turns
        every switch off (explicit ones too) and answers the same line.
        """
        _, stream = self.harness.request(["debug", "credentials"])
        self.harness.switches.enable("srst.debug.mgcp")
        stream.clear()
        _, transport = self.harness.request(["undebug", "all"], wantJSON=True)
        self.assertEqual(
            answers(transport),
            [{"text": UNDEBUG_ALL_TEXT, "data": {"disabled": [CREDENTIALS, "srst.debug.mgcp"]}, "exit": 0}],
        )
        self.assertEqual(answers(stream), [{"text": UNDEBUG_ALL_TEXT, "exit": 0}])
        self.assertFalse(stream.connected)
        self.assertIsNone(stream.producer)
        self.assertEqual(self.harness.switches.enabledNamespaces(), ())
        self.assertEqual(self.harness.factory.streams(), [])

    def test_noDebugAll(self):
        """
        C{no debug all} is the same as C{undebug all}.
        """
        _, stream = self.harness.request(["debug", "credentials"])
        _, transport = self.harness.request(["no", "debug", "all"])
        self.assertEqual(answers(transport)[0]["text"], UNDEBUG_ALL_TEXT)
        self.assertFalse(stream.connected)

    def test_slowClient(self):
        """
        While the transport has paused the stream, lines are dropped and
        counted; on resume the count is reported and lines flow again.
        """
        protocol, transport = self.harness.request(["debug", "credentials"])
        transport.clear()
        protocol.pauseProducing()
        self.harness.debugLog.debug("one")
        self.harness.debugLog.debug("two")
        self.assertEqual(transport.value(), b"")
        protocol.resumeProducing()
        self.harness.debugLog.debug("three")
        lines = [message["line"] for message in answers(transport)]
        self.assertEqual(lines[0], "% 2 debug messages dropped: srst-cli is not keeping up")
        self.assertTrue(lines[1].endswith(": three"))
        protocol.stopProducing()
        self.assertTrue(transport.connected)

    def test_badNamespaces(self):
        """
        A debug handler returning an unusable namespace is an internal error.
        """
        self.harness.table.add("debug odd", lambda: DebugRequest("odd", ("",)), streaming=True)
        _, transport = self.harness.request(["debug", "odd"])
        self.assertEqual(answers(transport), [{"error": "% Internal error", "exit": 1}])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        self.assertEqual(self.harness.factory.streams(), [])

    def test_endStreamNotStreaming(self):
        """
        C{endStream} on a connection that is not streaming does nothing.
        """
        protocol, transport = self.harness.connect()
        protocol.endStream("bye")
        self.assertTrue(transport.connected)
        self.assertEqual(transport.value(), b"")


class AdminCommandsTests(SynchronousTestCase):
    """
    Tests for the commands the factory registers itself.
    """

    def setUp(self):
        self.harness = Harness()

    def test_help(self):
        """
        C{help} lists every pattern with its help line, aligned, and the
        same as data.
        """
        _, transport = self.harness.request(["help"], wantJSON=True)
        [answer] = answers(transport)
        lines = answer["text"].splitlines()
        self.assertIn("show credentials   credentials service settings", lines)
        commands = [entry["command"] for entry in answer["data"]]
        self.assertEqual(
            commands,
            ["show credentials", "debug credentials", "help [<topic>]", "show debugging", "undebug all",
             "no debug all"],
        )
        self.assertTrue(answer["data"][1]["streaming"])

    def test_helpTopic(self):
        """
        C{help show} lists only commands starting with C{show}; an unknown
        topic is an error.
        """
        _, transport = self.harness.request(["help", "show"], wantJSON=True)
        self.assertEqual([e["command"] for e in answers(transport)[0]["data"]], ["show credentials", "show debugging"])
        _, transport = self.harness.request(["help", "bogus"])
        self.assertEqual(answers(transport), [{"error": "% Unrecognized command", "exit": 1}])

    def test_showDebugging(self):
        """
        C{show debugging} lists the switches that are on and counts streams.
        """
        _, transport = self.harness.request(["show", "debugging"], wantJSON=True)
        self.assertEqual(answers(transport), [{"text": "", "data": {"enabled": [], "streams": 0}, "exit": 0}])
        self.harness.request(["debug", "credentials"])
        _, transport = self.harness.request(["show", "debugging"], wantJSON=True)
        [answer] = answers(transport)
        self.assertEqual(answer["text"], "srst:\n  srst.debug.credentials debugging is on")
        self.assertEqual(answer["data"], {"enabled": [CREDENTIALS], "streams": 1})

    def test_registeredOnce(self):
        """
        A second factory on the same table is refused: the admin commands
        are already there.
        """
        self.assertRaises(
            ValueError, AdminFactory, self.harness.table, self.harness.switches, self.harness.clock
        )

    def test_registerDebugCommand(self):
        """
        L{registerDebugCommand} registers a streaming command returning the
        banner and namespaces; it refuses an empty namespace list.
        """
        command, variables = self.harness.table.lookup(["debug", "credentials"])
        self.assertTrue(command.streaming)
        self.assertEqual(command.handler(**variables), DebugRequest(BANNER, (CREDENTIALS,)))
        self.assertEqual(command.help, "stream debug credentials output")
        self.assertRaises(ValueError, registerDebugCommand, CommandTable(), "debug x", "x", ())


class ListenTests(SynchronousTestCase):
    """
    Tests for L{listenAdminSocket} and L{AdminSocketService}.
    """

    def setUp(self):
        self.directory = self.mktemp()
        self.path = os.path.join(self.directory, "run", "srst.sock")
        self.reactor = MemoryReactorClock()
        self.factory = Harness().factory

    def test_listen(self):
        """
        The socket is listened on with mode 0600 and a backlog of 1024 (a
        burst of clients waits instead of being refused), and its directory
        is created with mode 0700.
        """
        listenAdminSocket(self.reactor, self.path, self.factory)
        [(address, factory, backlog, mode, _)] = self.reactor.unixServers
        self.assertEqual((address, factory, backlog, mode), (self.path, self.factory, 1024, 0o600))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.path)).st_mode), 0o700)

    def test_directoriesPrivateUnderOpenUmask(self):
        """
        Under umask 000 every directory created for the socket, parents
        included, is 0700.
        """
        self.addCleanup(os.umask, os.umask(0))
        listenAdminSocket(self.reactor, self.path, self.factory)
        self.assertEqual([oct(stat.S_IMODE(os.stat(d).st_mode)) for d in [self.directory, os.path.dirname(self.path)]],
                         [oct(0o700)] * 2)

    def _bind(self):
        os.makedirs(os.path.dirname(self.path))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(self.path)
        return sock

    def test_staleSocket(self):
        """
        A socket file nobody listens on is removed before listening.
        """
        self._bind().close()
        self.assertTrue(os.path.exists(self.path))
        listenAdminSocket(self.reactor, self.path, self.factory)
        self.assertFalse(os.path.exists(self.path))
        self.assertEqual(len(self.reactor.unixServers), 1)

    def test_liveSocket(self):
        """
        A socket another server listens on is left alone and reported.
        """
        self._bind().listen(1)
        error = self.assertRaises(AdminSocketError, listenAdminSocket, self.reactor, self.path, self.factory)
        self.assertEqual(str(error), f"admin socket {self.path}: another server is listening on it")
        self.assertTrue(os.path.exists(self.path))
        self.assertEqual(self.reactor.unixServers, [])

    def test_notASocket(self):
        """
        A regular file in the socket's place is never deleted.
        """
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            f.write("precious")
        error = self.assertRaises(AdminSocketError, listenAdminSocket, self.reactor, self.path, self.factory)
        self.assertEqual(error.reason, "exists and is not a socket")
        self.assertTrue(os.path.exists(self.path))

    def test_service(self):
        """
        The service listens when started, and on stop closes the admin
        connections and stops listening.
        """
        service = AdminSocketService(self.reactor, self.path, self.factory)
        service.startService()
        self.assertEqual(len(self.reactor.unixServers), 1)
        self.assertIsNotNone(service.port)
        protocol = self.factory.buildProtocol(None)
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        self.successResultOf(service.stopService())
        self.assertIsNone(service.port)
        self.assertFalse(transport.connected)
        self.assertFalse(service.running)
        self.successResultOf(service.stopService())


class AnswerCollector(Protocol):
    """
    An admin client: sends one request line, collects the answer, and fires
    C{done} with it when the server closes the connection.
    """

    def __init__(self, request):
        self.request = request
        self.received = b""
        self.done = Deferred()

    def connectionMade(self):
        self.transport.write(self.request)

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.done.callback([json.loads(line) for line in self.received.splitlines()])


class RealSocketTests(TestCase):
    """
    The admin socket over a real UNIX socket with the reactor.
    """

    timeout = 20

    def setUp(self):
        self.path = os.path.join(self.mktemp(), "srst.sock")
        self.service = AdminSocketService(reactor, self.path, Harness().factory)
        self.service.startService()
        self.addCleanup(self.service.stopService)

    @bounded
    async def ask(self, request):
        client = AnswerCollector(request)
        await connectProtocol(UNIXClientEndpoint(reactor, self.path), client)
        return await client.done

    @bounded
    async def test_deepRequest(self):
        """
        A request nested 2000 levels deep is answered C{% Malformed request}
        (it used to raise an unhandled RecursionError and get no answer), and
        the next client is served.
        """
        self.assertEqual(await self.ask(DEEP_REQUEST + b"\n"), [{"error": "% Malformed request", "exit": 1}])
        answer = await self.ask(b'{"argv": ["show", "credentials"]}\n')
        self.assertEqual(answer, [{"text": "Credentials IP: 127.0.0.1", "data": None, "exit": 0}])
        self.assertEqual(self.flushLoggedErrors(), [])

    @bounded
    async def test_burst(self):
        """
        200 clients connecting while the router accepts none (the reactor is
        busy running this test) are all queued by the kernel, none refused
        (Twisted's default backlog of 50 refused the 52nd with EAGAIN), and
        are then served.
        """
        clients = []
        for _ in range(200):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.addCleanup(sock.close)
            sock.setblocking(False)
            sock.connect(self.path)
            clients.append(sock)
        self.assertGreater(BACKLOG, len(clients))
        for sock in clients[1:]:
            sock.close()
        first = clients[0]
        first.sendall(b'{"argv": ["show", "credentials"]}\n')
        answered = Deferred()

        def readable():
            reactor.removeReader(watcher)
            answered.callback(first.recv(4096))

        watcher = _Readable(first, readable)
        reactor.addReader(watcher)
        self.addCleanup(reactor.removeReader, watcher)
        self.assertEqual(json.loads(await answered)["text"], "Credentials IP: 127.0.0.1")


class _Readable:
    """
    An L{IReadDescriptor} for a plain socket: calls C{readable} when it can
    be read.
    """

    def __init__(self, sock, readable):
        self.sock = sock
        self.readable = readable

    def fileno(self):
        return self.sock.fileno()

    def doRead(self):
        self.readable()

    def connectionLost(self, reason):
        pass

    def logPrefix(self):
        return "admin-client"
