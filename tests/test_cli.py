"""
Tests for L{srst.tools.cli}, the C{srst-cli} console script.
"""

from __future__ import annotations

import errno
import io
import json
import os
import socket
import stat

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.admin.commands import CommandResult, CommandTable
from srst.admin.server import AdminFactory, AdminSocketService, registerDebugCommand
from srst.debug import DebugSwitches
from srst.tools import cli
from tests.routerhelpers import bounded

CREDENTIALS = "srst.debug.credentials"
BANNER = "Credentials server debugging is enabled"


class FakeReader(io.BytesIO):
    """
    The socket's file: the canned answer, then EOF or C{error}.
    """

    def __init__(self, data, error):
        io.BytesIO.__init__(self, data)
        self.error = error

    def readline(self, *args):
        line = io.BytesIO.readline(self, *args)
        if not line and self.error is not None:
            raise self.error
        return line


class FakeSocket:
    """
    Just enough of a connected socket for L{cli.run}.
    """

    def __init__(self, answer=b"", readError=None, sendError=None):
        self.answer = answer
        self.readError = readError
        self.sendError = sendError
        self.sent = b""
        self.timeouts = []
        self.closed = False

    def sendall(self, data):
        if self.sendError is not None:
            raise self.sendError
        self.sent += data

    def settimeout(self, timeout):
        self.timeouts.append(timeout)

    def makefile(self, mode):
        return FakeReader(self.answer, self.readError)

    def close(self):
        self.closed = True


def lines(*messages):
    """
    @return: C{messages} as the server's newline-delimited JSON.
    """
    return b"".join(json.dumps(m).encode("ascii") + b"\n" for m in messages)


class MainTests(SynchronousTestCase):
    """
    Tests for L{cli.main} against a fake socket.
    """

    def setUp(self):
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.connected = []

    def answer(self, *messages, **kwargs):
        """
        Make the next connection answer with C{messages}.
        """
        sock = FakeSocket(lines(*messages), **kwargs)

        def connect(path, timeout):
            self.connected.append((path, timeout))
            return sock

        self.patch(cli, "_connect", connect)
        return sock

    def main(self, *argv):
        return cli.main(list(argv), self.stdout, self.stderr)

    def test_text(self):
        """
        The request carries the words; the answer's text is printed and its
        exit code returned.
        """
        sock = self.answer({"text": "Credentials IP: 127.0.0.1", "data": None, "exit": 0})
        self.assertEqual(self.main("--socket", "s.sock", "show", "credentials"), 0)
        self.assertEqual(self.stdout.getvalue(), "Credentials IP: 127.0.0.1\n")
        self.assertEqual(json.loads(sock.sent), {"argv": ["show", "credentials"], "json": False})
        self.assertEqual(self.connected, [("s.sock", cli.DEFAULT_TIMEOUT)])
        self.assertTrue(sock.closed)

    def test_json(self):
        """
        With C{--json} (anywhere on the line) the data is printed as indented
        JSON.
        """
        sock = self.answer({"text": "x", "data": {"port": 2445}, "exit": 0})
        self.assertEqual(self.main("--socket", "s", "show", "--json", "credentials"), 0)
        self.assertEqual(self.stdout.getvalue(), json.dumps({"port": 2445}, indent=2) + "\n")
        self.assertTrue(json.loads(sock.sent)["json"])

    def test_emptyText(self):
        """
        An empty answer prints nothing; the command's exit code is used.
        """
        self.answer({"text": "", "data": None, "exit": 4})
        self.assertEqual(self.main("--socket", "s", "show", "x"), 4)
        self.assertEqual(self.stdout.getvalue(), "")

    def test_error(self):
        """
        An error answer is printed on stdout, as IOS shows it, and the exit
        code is 1.
        """
        self.answer({"error": "% Invalid input detected", "exit": 1})
        self.assertEqual(self.main("--socket", "s", "show", "bogus"), 1)
        self.assertEqual(self.stdout.getvalue(), "% Invalid input detected\n")

    def test_errorJSON(self):
        """
        With C{--json} an error is printed as a JSON object.
        """
        self.answer({"error": "% Invalid input detected", "exit": 1})
        self.assertEqual(self.main("--json", "--socket", "s", "bogus"), 1)
        self.assertEqual(json.loads(self.stdout.getvalue()), {"error": "% Invalid input detected"})

    def test_stream(self):
        """
        A debug stream prints the banner and each line, waits without a
        timeout after the banner, and exits 0 when the server closes.
        """
        sock = self.answer({"text": BANNER}, {"line": "Sep 29 01:01:50.903: one"}, {"line": "two"})
        self.assertEqual(self.main("--socket", "s", "debug", "credentials"), 0)
        self.assertEqual(self.stdout.getvalue(), BANNER + "\nSep 29 01:01:50.903: one\ntwo\n")
        self.assertEqual(sock.timeouts, [None])

    def test_streamClosedByUndebug(self):
        """
        The closing line of an C{undebug all} is printed and ends the stream
        with its exit code.
        """
        self.answer({"text": BANNER}, {"text": "All possible debugging has been turned off", "exit": 0})
        self.assertEqual(self.main("--socket", "s", "debug", "credentials"), 0)
        self.assertEqual(self.stdout.getvalue(), BANNER + "\nAll possible debugging has been turned off\n")

    def test_streamJSON(self):
        """
        With C{--json} a stream prints one JSON object per event on stdout and
        the banner on stderr.
        """
        event = {"text": "one", "fields": {"socket": 1}}
        self.answer({"text": BANNER}, {"line": "x: one", "event": event}, {"line": "plain"})
        self.assertEqual(self.main("--json", "--socket", "s", "debug", "credentials"), 0)
        printed = [json.loads(line) for line in self.stdout.getvalue().splitlines()]
        self.assertEqual(printed, [event, {"text": "plain"}])
        self.assertEqual(self.stderr.getvalue(), BANNER + "\n")

    def test_streamInterrupted(self):
        """
        Ctrl-C during a stream closes the connection and exits 0.
        """
        sock = self.answer({"text": BANNER}, readError=KeyboardInterrupt())
        self.assertEqual(self.main("--socket", "s", "debug", "credentials"), 0)
        self.assertTrue(sock.closed)

    def test_streamReset(self):
        """
        A stream the server resets ends quietly with exit 0.
        """
        self.answer({"text": BANNER}, readError=ConnectionResetError())
        self.assertEqual(self.main("--socket", "s", "debug", "credentials"), 0)

    def test_interruptedWaiting(self):
        """
        Ctrl-C while waiting for an ordinary answer exits 130.
        """
        self.answer(readError=KeyboardInterrupt())
        self.assertEqual(self.main("--socket", "s", "show", "x"), cli.EXIT_INTERRUPTED)

    def test_noAnswer(self):
        """
        A connection closed without an answer is a protocol error (exit 3).
        """
        self.answer()
        self.assertEqual(self.main("--socket", "s", "show", "x"), 3)
        self.assertEqual(self.stderr.getvalue(), "srst-cli: srst closed the connection without answering\n")

    def test_timeout(self):
        """
        No answer within C{--timeout} is reported with exit 3.
        """
        self.answer(readError=TimeoutError())
        self.assertEqual(self.main("--timeout", "2.5", "--socket", "s", "show", "x"), 3)
        self.assertEqual(self.stderr.getvalue(), "srst-cli: no answer from srst within 2.5 seconds\n")
        self.assertEqual(self.connected, [("s", 2.5)])

    def test_garbage(self):
        """
        An answer that is not a JSON object, or has a bad exit code, is a
        protocol error.
        """
        for raw in (b"nonsense\n", b"[1]\n", b'{"text": "x", "exit": "0"}\n'):
            self.stderr = io.StringIO()
            sock = FakeSocket(raw)
            self.patch(cli, "_connect", lambda path, timeout: sock)
            self.assertEqual(self.main("--socket", "s", "show", "x"), 3, raw)
            self.assertTrue(self.stderr.getvalue().startswith("srst-cli: cannot understand srst's answer"))

    def test_sendFails(self):
        """
        A failure sending the request is a protocol error.
        """
        self.answer(sendError=BrokenPipeError(32, "Broken pipe"))
        self.assertEqual(self.main("--socket", "s", "show", "x"), 3)
        self.assertEqual(self.stderr.getvalue(), "srst-cli: srst closed the connection: Broken pipe\n")

    def test_readFails(self):
        """
        A socket error while waiting for an ordinary answer is a protocol
        error.
        """
        self.answer(readError=ConnectionResetError(104, "Connection reset by peer"))
        self.assertEqual(self.main("--socket", "s", "show", "x"), 3)
        self.assertEqual(self.stderr.getvalue(), "srst-cli: talking to srst: Connection reset by peer\n")

    def test_missingSocket(self):
        """
        A socket that does not exist is reported in one line naming the path,
        exit 2.
        """
        path = os.path.join(self.mktemp(), "srst.sock")
        self.assertEqual(self.main("--socket", path, "show", "credentials"), 2)
        self.assertEqual(
            self.stderr.getvalue(), f"srst-cli: cannot reach srst at {path}: No such file or directory\n"
        )
        self.assertEqual(self.stdout.getvalue(), "")

    def test_usage(self):
        """
        No words, a bad timeout, or both C{--socket} and C{--config} are
        usage errors (exit 2, usage on stderr).
        """
        for argv in ([], ["--timeout", "0", "help"], ["--socket", "s", "--config", "c", "help"]):
            self.stderr = io.StringIO()
            self.assertEqual(self.main(*argv), 2, argv)
            self.assertTrue(self.stderr.getvalue().startswith("usage: srst-cli"), argv)

    def test_stdoutClosed(self):
        """
        When srst-cli's own output goes away (piped into C{head}), it stops
        quietly with exit 0.
        """

        class ClosedOutput(io.StringIO):
            def write(self, text):
                raise BrokenPipeError(32, "Broken pipe")

        sock = self.answer({"text": BANNER}, {"line": "one"})
        self.stdout = ClosedOutput()
        self.assertEqual(self.main("--socket", "s", "debug", "credentials"), 0)
        self.assertTrue(sock.closed)

    def test_help(self):
        """
        C{--help} prints the options on stdout and exits 0.
        """
        self.assertEqual(self.main("--help"), 0)
        self.assertIn("--socket PATH", self.stdout.getvalue())


class SocketPathTests(SynchronousTestCase):
    """
    Tests for L{cli.socketPath}.
    """

    def setUp(self):
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)

    def config(self, text):
        path = os.path.join(self.directory, "router.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_socketWins(self):
        """
        C{--socket} is used as given, the configuration is not read.
        """
        self.assertEqual(cli.socketPath("x.sock", "/nonexistent.yaml"), "x.sock")

    def test_adminSocket(self):
        """
        C{admin.socket} from the configuration is used, unchanged (relative
        to the working directory).
        """
        path = self.config("admin:\n  socket: run/admin.sock\n")
        self.assertEqual(cli.socketPath(None, path), "run/admin.sock")

    def test_stateDirDefault(self):
        """
        Without C{admin.socket} the router's default applies:
        C{<state-dir>/srst.sock}, C{var/srst.sock} without a state-dir.
        """
        self.assertEqual(cli.socketPath(None, self.config("state-dir: state\n")), "state/srst.sock")
        self.assertEqual(cli.socketPath(None, self.config("hostname: r\n")), "var/srst.sock")
        self.assertEqual(cli.socketPath(None, self.config("")), "var/srst.sock")

    def test_defaultConfig(self):
        """
        Without options, C{etc/router.yaml} in the working directory is read;
        if it does not exist, C{var/srst.sock} is used.
        """
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.directory)
        self.assertEqual(cli.socketPath(None, None), "var/srst.sock")
        os.makedirs("etc")
        with open(os.path.join("etc", "router.yaml"), "w") as f:
            f.write("admin: {socket: here.sock}\n")
        self.assertEqual(cli.socketPath(None, None), "here.sock")

    def test_missingConfig(self):
        """
        An explicit C{--config} that does not exist is an error naming it.
        """
        path = os.path.join(self.directory, "nosuch.yaml")
        error = self.assertRaises(cli.CliError, cli.socketPath, None, path)
        self.assertEqual(str(error), f"srst-cli: cannot read {path}: No such file or directory")
        self.assertEqual(error.exitCode, 2)

    def test_badConfig(self):
        """
        Invalid YAML, or an C{admin.socket} that is not a path, is an error
        naming the file.
        """
        for text, reason in (
            ("admin: [\n", "is not valid YAML"),
            ("- a\n", "the configuration is not a mapping"),
            ("admin: 3\n", "admin is not a mapping"),
            ("admin: {socket: 3}\n", "admin.socket is not a path"),
            ("state-dir: [1]\n", "state-dir is not a path"),
        ):
            path = self.config(text)
            error = self.assertRaises(cli.CliError, cli.socketPath, None, path)
            self.assertIn(path, str(error))
            self.assertIn(reason, str(error))


class ConnectRetryTests(SynchronousTestCase):
    """
    L{cli._connect} retries a refused or busy admin socket briefly, with an
    injected sleep (no real waiting).
    """

    def setUp(self):
        directory = self.mktemp()
        os.makedirs(directory)
        self.path = os.path.join(directory, "srst.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(self.server.close)
        self.server.bind(self.path)
        self.slept = []

    def connect(self, duringSleep=lambda: None):
        def sleep(seconds):
            self.slept.append(seconds)
            duringSleep()

        sock = cli._connect(self.path, 5.0, sleep=sleep)
        self.addCleanup(sock.close)
        return sock

    def test_refusedThenListening(self):
        """
        A socket nobody listens on yet (the router restarting) refuses the
        first attempt; once the router listens, the next attempt connects.
        """
        sock = self.connect(duringSleep=lambda: self.server.listen(5))
        self.assertEqual(self.slept, [0.1])
        accepted, _ = self.server.accept()
        self.addCleanup(accepted.close)
        sock.sendall(b"ping")
        self.assertEqual(accepted.recv(4), b"ping")

    def test_busyThenAccepting(self):
        """
        A listen queue that is full (EAGAIN: many clients at once) is retried;
        once the router accepts one waiting client, the next attempt
        connects.
        """
        self.server.listen(0)
        waiting = []
        while True:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.addCleanup(client.close)
            client.setblocking(False)
            try:
                client.connect(self.path)
            except BlockingIOError:
                break
            waiting.append(client)
        self.assertTrue(waiting)

        def acceptOne():
            accepted, _ = self.server.accept()
            self.addCleanup(accepted.close)

        self.connect(duringSleep=acceptOne)
        self.assertEqual(self.slept, [0.1])

    def test_givesUp(self):
        """
        A socket that keeps refusing is tried five times within about 1.5
        seconds, then reported as before, exit 2.
        """
        error = self.assertRaises(cli.CliError, self.connect)
        self.assertEqual(self.slept, [0.1, 0.2, 0.4, 0.8])
        self.assertLess(sum(self.slept), 2)
        self.assertEqual(error.message, f"srst-cli: cannot reach srst at {self.path}: Connection refused")
        self.assertEqual(error.exitCode, 2)

    def test_missingNotRetried(self):
        """
        A socket file that does not exist is reported at once (the router is
        not running there at all).
        """
        os.unlink(self.path)
        error = self.assertRaises(cli.CliError, self.connect)
        self.assertEqual(self.slept, [])
        self.assertEqual(error.message,
                         f"srst-cli: cannot reach srst at {self.path}: {os.strerror(errno.ENOENT)}")


class LineNotifyingOutput(io.StringIO):
    """
    The output of a C{srst-cli} running in a thread: C{firstLine} fires, in
    the reactor thread, once it has printed its first line (for a debug
    command, the banner: the router has attached the stream by then).
    """

    def __init__(self):
        io.StringIO.__init__(self)
        self.firstLine = Deferred()
        self._printed = False

    def write(self, text):
        written = io.StringIO.write(self, text)
        if not self._printed and "\n" in text:
            self._printed = True
            reactor.callFromThread(self.firstLine.callback, None)
        return written


class IntegrationTests(TestCase):
    """
    C{srst-cli}'s real C{main} against a real admin socket, the blocking
    client running in a thread so the reactor keeps serving.
    """

    timeout = 30

    def setUp(self):
        self.table = CommandTable()
        self.table.add("show credentials", lambda: CommandResult("Credentials PORT: 2445", {"port": 2445}))
        registerDebugCommand(self.table, "debug credentials", BANNER, (CREDENTIALS,))
        self.switches = DebugSwitches(lambda event: None)
        self.factory = AdminFactory(self.table, self.switches, reactor)
        self.directory = self.mktemp()
        self.path = os.path.join(self.directory, "srst.sock")
        self.service = AdminSocketService(reactor, self.path, self.factory)
        self.service.startService()
        self.addCleanup(self.service.stopService)

    def runCli(self, *argv, stdout=None):
        """
        Run C{main} in a thread.

        @param stdout: where it prints (a new L{io.StringIO} by default).
        @return: a L{Deferred} firing with (exit code, stdout, stderr).
        """
        stdout, stderr = stdout or io.StringIO(), io.StringIO()
        d = deferToThread(cli.main, list(argv), stdout, stderr)
        d.addCallback(lambda code: (code, stdout.getvalue(), stderr.getvalue()))
        return d

    @bounded
    async def test_show(self):
        """
        A show command prints the router's text and exits 0; the socket has
        mode 0600.
        """
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        code, out, err = await self.runCli("--socket", self.path, "show", "credentials")
        self.assertEqual((code, out, err), (0, "Credentials PORT: 2445\n", ""))

    @bounded
    async def test_configAndJSON(self):
        """
        The socket is found through C{--config}, and C{--json} prints the data.
        """
        config = os.path.join(self.directory, "router.yaml")
        with open(config, "w") as f:
            f.write(f"admin:\n  socket: {self.path}\n")
        code, out, _ = await self.runCli("--config", config, "--json", "show", "credentials")
        self.assertEqual((code, json.loads(out)), (0, {"port": 2445}))

    @bounded
    async def test_unknownCommand(self):
        """
        An unknown command prints C{% Invalid input detected} and exits 1.
        """
        code, out, _ = await self.runCli("--socket", self.path, "show", "bogus")
        self.assertEqual((code, out), (1, "% Invalid input detected\n"))

    @bounded
    async def test_missingSocket(self):
        """
        With no router listening, C{srst-cli} names the path and exits 2.
        """
        path = os.path.join(self.directory, "other.sock")
        code, out, err = await self.runCli("--socket", path, "show", "credentials")
        self.assertEqual(code, 2)
        self.assertEqual(err, f"srst-cli: cannot reach srst at {path}: No such file or directory\n")

    @bounded
    async def test_debugStream(self):
        """
        A debug stream prints the banner and the debug lines logged while it
        runs, and ends with exit 0 when the router turns debugging off.
        """
        stdout = LineNotifyingOutput()
        result = self.runCli("--socket", self.path, "debug", "credentials", stdout=stdout)
        await stdout.firstLine
        self.switches.logger(CREDENTIALS).debug("Credentials service: TLS Handshake completes.")
        self.factory.undebugAll()
        code, out, _ = await result
        printed = out.splitlines()
        self.assertEqual(code, 0)
        self.assertEqual(printed[0], BANNER)
        self.assertTrue(printed[1].endswith(": Credentials service: TLS Handshake completes."))
        self.assertEqual(printed[2:], ["All possible debugging has been turned off"])
        self.assertEqual(self.switches.enabledNamespaces(), ())
