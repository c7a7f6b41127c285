"""
Tests for L{srst.tools._phonescreen} and C{srst-phone run}: the key map on
its own, then the whole terminal phone in a detached tmux session (100x30)
against a router run by C{twistd -n srst --config} in a child process, as
a person would use them.

Waits are event-driven: the pane's output is piped (C{tmux pipe-pane}) into
a FIFO the reactor reads, and each chunk of output is followed by one
C{tmux capture-pane -p} that is checked for the text waited for; every wait
is bounded (L{tests.routerhelpers.within}).
"""

from __future__ import annotations

import curses
import os
import re
import signal
import sys
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReadDescriptor
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyClass

from srst.tools import phone as cli
from srst.tools._phonescreen import Action, Do, KeyMap, Terminal
from tests.phonehelpers import synchronously
from tests.routerhelpers import ROOT, bounded, routerYaml, stateDirectory, within
from tests.test_phone_call import Lines
from tests.toolhelpers import requireTool

ALICE, BOB = "0000000000F1", "0000000000F2"

PLAIN_CMF = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  max-ephones: 4
  max-dn: 10
  ephones:
    - {mac: 0000.0000.00F1, type: "7970", buttons: [{line: 1, dn: "3001", label: "3001", name: Alice}]}
    - {mac: 0000.0000.00F2, type: "7970", buttons: [{line: 1, dn: "3002", label: "3002", name: Bob}]}
"""

PHONE = "from srst.tools.phone import main; main()"
TWISTD = "from twisted.scripts.twistd import run; run()"


class KeyMapTests(SynchronousTestCase):
    """
    L{KeyMap}: key codes to actions.
    """

    def test_keys(self) -> None:
        """
        o, h, space, digits, * and #, F1..F8, s then 1..8, and q; other
        keys and an F9 do nothing; a prefix s is used up by the next key.
        """
        keys = KeyMap(curses.KEY_F1)
        pressed = [keys.press(code) for code in [ord("o"), ord("H"), ord(" "), ord("7"), ord("#"), curses.KEY_F1,
                                                 curses.KEY_F1 + 7, curses.KEY_F1 + 8, ord("s"), ord("3"), ord("3"),
                                                 ord("s"), ord("x"), ord("q"), ord("z")]]
        self.assertEqual(pressed, [
            Action(Do.OFF_HOOK), Action(Do.ON_HOOK), Action(Do.HOOK), Action(Do.DIAL, digit="7"),
            Action(Do.DIAL, digit="#"), Action(Do.SOFTKEY, softKey=1), Action(Do.SOFTKEY, softKey=8), None,
            None, Action(Do.SOFTKEY, softKey=3), Action(Do.DIAL, digit="3"), None, None, Action(Do.QUIT), None])


class TerminalInterfaceTests(SynchronousTestCase):
    """
    L{Terminal} is what the reactor reads: an L{IReadDescriptor}.
    """

    def test_readDescriptor(self) -> None:
        """
        L{Terminal} declares L{IReadDescriptor} and has its methods.
        """
        self.assertTrue(IReadDescriptor.implementedBy(Terminal))
        self.assertTrue(verifyClass(IReadDescriptor, Terminal))


class Twistd(ProcessProtocol):
    """A router under twistd; C{sccp} fires with its SCCP port."""

    def __init__(self) -> None:
        self.output = b""
        self.sccp: Deferred[int] = Deferred()
        self.ended: Deferred[None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        match = re.search(rb"sccp listening on 127\.0\.0\.1 port (\d+)", self.output)
        if match and not self.sccp.called:
            self.sccp.callback(int(match.group(1)))

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        if not self.sccp.called:
            self.sccp.errback(RuntimeError("twistd ended:\n" + self.output.decode("utf-8", "replace")))
        self.ended.callback(None)


class FifoReader:
    """The read end of a FIFO, for the reactor: each chunk calls C{received}."""

    def __init__(self, path: str, received: Any) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own write end: no EOF (and no busy loop) before tmux opens it.
        self.keep = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        self._received = received

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "pane"

    def doRead(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        if data:
            self._received()

    def connectionLost(self, reason: Failure) -> None:
        pass

    def close(self) -> None:
        reactor.removeReader(self)
        os.close(self.fd)
        os.close(self.keep)


class Pane:
    """
    One tmux pane on a private tmux server: keys sent, and waits for text
    on its screen, checked after every chunk of output.
    """

    def __init__(self, testCase: TestCase, directory: str) -> None:
        self.server = "srst-test-%d" % (os.getpid(),)
        self.screen = ""
        self._waiting: list[tuple[str, Deferred[str]]] = []
        self._capturing = False
        self._again = False
        fifo = os.path.join(directory, "pane.fifo")
        os.mkfifo(fifo)
        self.fifo = fifo
        self.reader = FifoReader(fifo, self._output)
        reactor.addReader(self.reader)
        testCase.addCleanup(self.reader.close)
        testCase.addCleanup(self.tmux, "kill-server")

    def tmux(self, *words: str) -> Deferred[tuple[bytes, bytes, int]]:
        return getProcessOutputAndValue("tmux", ["-L", self.server, *words], env=os.environ, reactor=reactor)

    @bounded
    def start(self, command: str) -> Any:
        """Start C{command} in a detached 100x30 session, its output piped to the FIFO."""
        out, err, code = yield self.tmux("new-session", "-d", "-s", "phone", "-x", "100", "-y", "30", command)
        assert code == 0, err
        yield self.tmux("set-option", "-w", "-t", "phone", "remain-on-exit", "on")
        yield self.tmux("pipe-pane", "-t", "phone", "cat >> %s" % (self.fifo,))
        self._output()

    def keys(self, *keys: str) -> Deferred[Any]:
        return self.tmux("send-keys", "-t", "phone", *keys)

    def whenShows(self, text: str) -> Deferred[str]:
        """@return: a L{Deferred} firing with the screen once it shows C{text}."""
        d: Deferred[str] = Deferred()
        self._waiting.append((text, d))
        self._output()
        return d

    def _output(self) -> None:
        if self._capturing:
            self._again = True
            return
        self._capturing = True
        # With the history (-S -): a line printed just after curses ends
        # can be scrolled off the visible screen by tmux.
        self.tmux("capture-pane", "-p", "-S", "-", "-t", "phone").addCallback(self._captured)

    def _captured(self, result: tuple[bytes, bytes, int]) -> None:
        self._capturing = False
        self.screen = result[0].decode("utf-8", "replace")
        for entry in list(self._waiting):
            if entry[0] in self.screen:
                self._waiting.remove(entry)
                entry[1].callback(self.screen)
        if self._again:
            self._again = False
            self._output()


class TerminalPhoneTests(TestCase):
    """
    C{srst-phone run} in tmux against a twistd router.
    """

    timeout = 60

    def setUp(self) -> None:
        requireTool("tmux")

    def startRouter(self, directory: str) -> Deferred[int]:
        config = os.path.join(directory, "router.yaml")
        with open(config, "w") as f:
            f.write(routerYaml(directory, extra=PLAIN_CMF))
        process = Twistd()
        transport = reactor.spawnProcess(
            process, sys.executable, [sys.executable, "-c", TWISTD, "-n", "--pidfile=", "srst", "--config", config],
            env=dict(os.environ, PYTHONPATH=ROOT), path=directory)

        def stop() -> Deferred[None]:
            if not process.ended.called:
                transport.signalProcess(signal.SIGTERM)
            return process.ended
        self.addCleanup(stop)
        return process.sccp

    @bounded(timeout=40)
    def test_callFromTheTerminal(self) -> Any:
        """
        Alice's phone in tmux shows the idle prompt, her line and the
        softkeys; o gives dial tone (Enter Number), 3002 rings Bob's
        C{srst-phone answer}, which answers (connected, line lamp on); h
        hangs up; F-key NewCall gives dial tone again, space hangs up; q
        unregisters and quits.
        """
        directory = stateDirectory(self)
        port = yield within(self.startRouter(directory), "twistd", timeout=20)
        bobOut, bobErr = Lines(), Lines()
        answering = cli.run(reactor, ["answer", "--mac", BOB, "--port", str(port)], bobOut, bobErr, synchronously)
        self.addCleanup(lambda: None if answering.called else answering.cancel())
        yield within(bobOut.whenLine("waiting for a call"), "Bob waiting")

        pane = Pane(self, directory)
        yield pane.start("cd %s && PYTHONPATH=%s exec %s -c '%s' run --mac %s --port %d 2>%s" % (
            directory, ROOT, sys.executable, PHONE, ALICE, port, os.path.join(directory, "phone.err")))
        screen = yield within(pane.whenShows("prompt: CM Fallback Service Operating"), "registered screen")
        self.assertIn("srst-phone SEP0000000000F1: registered", screen)
        self.assertRegex(screen, r"\n  1  3001 +Alice +lamp off")
        self.assertIn("call:   on hook", screen)
        softkeys = re.search(r"softkeys: (.*)", screen).group(1)
        newCall = re.search(r"F(\d) NewCall", softkeys)
        self.assertIsNotNone(newCall, softkeys)

        yield pane.keys("o")
        yield within(pane.whenShows("call:   off hook (dial tone)"), "dial tone")
        # The prompt comes in its own message, after the call state.
        yield within(pane.whenShows("prompt: Enter Number"), "the Enter Number prompt")
        yield pane.keys("3", "0", "0", "2")
        screen = yield within(pane.whenShows("connected to 3002 (Bob)"), "connected")
        yield within(pane.whenShows("call:   connected"), "connected state")
        yield within(bobOut.whenLine("connected to 3001 (Alice)"), "Bob connected")
        screen = yield within(pane.whenShows("lamp on"), "line lamp")
        self.assertIn("ringing out", screen)

        yield pane.keys("h")
        yield within(pane.whenShows("call:   on hook"), "on hook")
        self.assertEqual((yield within(answering, "Bob's answer")), cli.EXIT_OK, bobErr.getvalue())

        yield pane.keys("F" + newCall.group(1))
        screen = yield within(pane.whenShows("call:   off hook (dial tone)"), "NewCall dial tone")
        self.assertIn("pressed NewCall", screen)
        yield pane.keys("Space")
        yield within(pane.whenShows("call:   on hook"), "on hook again")

        yield pane.keys("q")
        screen = yield within(pane.whenShows("unregistered SEP0000000000F1"), "unregistered")
        self.assertNotIn("softkeys:", screen)
        with open(os.path.join(directory, "phone.err")) as f:
            self.assertEqual(f.read(), "")

    @bounded(timeout=40)
    def test_ctrlCOffHook(self) -> Any:
        """
        Ctrl-C with the phone off hook hangs up, unregisters and exits 0,
        as q does: the pane shows the unregistered line and nothing goes
        to standard error.
        """
        directory = stateDirectory(self)
        port = yield within(self.startRouter(directory), "twistd", timeout=20)
        pane = Pane(self, directory)
        yield pane.start("cd %s && PYTHONPATH=%s %s -c '%s' run --mac %s --port %d 2>%s; echo \"exited $?\"" % (
            directory, ROOT, sys.executable, PHONE, ALICE, port, os.path.join(directory, "phone.err")))
        yield within(pane.whenShows("prompt: CM Fallback Service Operating"), "registered screen")
        yield pane.keys("o")
        yield within(pane.whenShows("call:   off hook (dial tone)"), "dial tone")
        yield pane.keys("C-c")
        screen = yield within(pane.whenShows("exited "), "exit")
        self.assertIn("unregistered SEP0000000000F1\n", screen)
        self.assertIn("exited 0\n", screen)
        with open(os.path.join(directory, "phone.err")) as f:
            self.assertEqual(f.read(), "")


class NoTerminalTests(TestCase):
    """
    C{srst-phone run} without a terminal.
    """

    @bounded
    def test_stdoutAPipe(self) -> Any:
        """
        With standard output a pipe, C{run} exits 2 with a message saying
        it needs a terminal, before it connects (port 1 would refuse).
        """
        out, err, code = yield within(getProcessOutputAndValue(
            sys.executable, ["-c", PHONE, "run", "--mac", ALICE, "--port", "1"],
            env=dict(os.environ, PYTHONPATH=ROOT), reactor=reactor), "srst-phone run")
        self.assertEqual((out, err.decode("utf-8"), code), (
            b"", "srst-phone: run needs a terminal on standard input and output (use call or answer from scripts)\n",
            cli.EXIT_USAGE))
