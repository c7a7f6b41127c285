"""
Tests for L{srst.debug}: the debug switches and the loggers that publish
through them.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from srst.admin.render import formatIOSDebugLine
from srst.debug import DebugSwitches

CREDENTIALS = "srst.debug.credentials"
REGISTER = "srst.debug.ephone.register"
STATE = "srst.debug.ephone.state"


def messages(events):
    """
    @return: the C{log_format} of every event in C{events}.
    """
    return [event["log_format"] for event in events]


class DebugSwitchesTests(SynchronousTestCase):
    """
    Tests for L{DebugSwitches}.
    """

    def setUp(self):
        self.published = []
        self.switches = DebugSwitches(self.published.append)

    def test_debugDroppedWhenOff(self):
        """
        A debug event on a debug logger reaches nobody while its switch is off.
        """
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.assertEqual(self.published, [])
        self.assertEqual(self.switches.enabledNamespaces(), ())

    def test_infoPassesWhenOff(self):
        """
        Only debug-level events are gated: an info event on a debug logger is
        forwarded even when the switch is off.
        """
        self.switches.logger(CREDENTIALS).info("started")
        self.assertEqual(messages(self.published), ["started"])

    def test_otherNamespacesNotGated(self):
        """
        Debug events outside C{srst.debug} published to the observer pass.
        """
        Logger(namespace="srst.sccp", observer=self.switches.observer).debug("frame")
        self.assertEqual(messages(self.published), ["frame"])

    def test_enable(self):
        """
        An enabled switch lets its debug events through to the publisher,
        with their namespace and fields intact.
        """
        self.switches.enable(CREDENTIALS)
        self.switches.logger(CREDENTIALS).debug("socket {socket}", socket=1)
        [event] = self.published
        self.assertEqual(event["log_namespace"], CREDENTIALS)
        self.assertEqual(event["log_level"], LogLevel.debug)
        self.assertEqual(event["socket"], 1)
        self.assertEqual(self.switches.enabledNamespaces(), (CREDENTIALS,))

    def test_hierarchical(self):
        """
        Enabling C{srst.debug.ephone} enables register and state, but not
        other categories nor a namespace that merely shares the prefix.
        """
        self.switches.enable("srst.debug.ephone")
        self.switches.logger(REGISTER).debug("register")
        self.switches.logger(STATE).debug("state")
        self.switches.logger("srst.debug.mgcp").debug("mgcp")
        self.switches.logger("srst.debug.ephonex").debug("ephonex")
        self.assertEqual(messages(self.published), ["register", "state"])
        self.assertTrue(self.switches.isEnabled(REGISTER))
        self.assertFalse(self.switches.isEnabled("srst.debug.mgcp"))

    def test_disable(self):
        """
        Disabling an enabled switch drops its debug events again.
        """
        self.switches.enable(REGISTER)
        self.switches.disable(REGISTER)
        self.switches.logger(REGISTER).debug("register")
        self.assertEqual(self.published, [])
        self.assertEqual(self.switches.enabledNamespaces(), ())

    def test_disableParent(self):
        """
        Disabling a parent namespace also undoes enables below it.
        """
        self.switches.enable(REGISTER)
        self.switches.enable(STATE)
        self.switches.enable(CREDENTIALS)
        self.switches.disable("srst.debug.ephone")
        self.assertEqual(self.switches.enabledNamespaces(), (CREDENTIALS,))

    def test_streamReceives(self):
        """
        An attached stream turns its switch on and receives matching events;
        the global publisher receives them too.
        """
        stream = []
        self.switches.addStream(stream.append, [CREDENTIALS])
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.assertEqual(messages(stream), ["handshake"])
        self.assertEqual(messages(self.published), ["handshake"])
        self.assertEqual(self.switches.enabledNamespaces(), (CREDENTIALS,))
        self.assertEqual(self.switches.streamCount(), 1)

    def test_clockStampsEvents(self):
        """
        Given a clock, the switches stamp each debug event with the clock's
        time, not C{time.time()}: a stream renders that time as IOS's
        C{*Mon DD HH:MM:SS.mmm:} prefix.
        """
        clock = Clock()
        clock.advance(1727571710.903)
        stream: list = []
        switches = DebugSwitches(lambda event: None, clock=clock)
        switches.addStream(stream.append, [CREDENTIALS])
        switches.logger(CREDENTIALS).debug("Credentials service: TLS Handshake completes.")
        self.assertEqual([formatIOSDebugLine(e) for e in stream],
                         ["*Sep 29 01:01:50.903: Credentials service: TLS Handshake completes."])

    def test_streamHierarchical(self):
        """
        A stream for C{srst.debug.ephone} receives register and state events.
        """
        stream = []
        self.switches.addStream(stream.append, ["srst.debug.ephone"])
        self.switches.logger(REGISTER).debug("register")
        self.switches.logger(STATE).debug("state")
        self.assertEqual(messages(stream), ["register", "state"])

    def test_streamOnlyItsNamespaces(self):
        """
        A stream does not see events of other categories even when those
        are switched on by someone else.
        """
        stream = []
        self.switches.addStream(stream.append, [CREDENTIALS])
        self.switches.enable(REGISTER)
        self.switches.logger(REGISTER).debug("register")
        Logger(namespace="srst.sccp", observer=self.switches.observer).info("other")
        self.assertEqual(stream, [])
        self.assertEqual(messages(self.published), ["register", "other"])

    def test_removeStream(self):
        """
        Removing the last stream turns its switch off and it receives nothing
        more.
        """
        stream = []
        self.switches.addStream(stream.append, [CREDENTIALS])
        self.switches.removeStream(stream.append)
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.assertEqual(stream, [])
        self.assertEqual(self.published, [])
        self.assertEqual(self.switches.enabledNamespaces(), ())
        self.switches.removeStream(stream.append)  # unknown: no effect
        self.assertEqual(self.switches.streamCount(), 0)

    def test_removeStreamKeepsOtherStream(self):
        """
        While another stream needs the switch it stays on and that stream
        keeps receiving.
        """
        first, second = [], []
        self.switches.addStream(first.append, [CREDENTIALS])
        self.switches.addStream(second.append, [CREDENTIALS])
        self.switches.removeStream(first.append)
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.assertEqual(first, [])
        self.assertEqual(messages(second), ["handshake"])

    def test_removeStreamKeepsExplicit(self):
        """
        A switch enabled explicitly stays on when a stream for it goes away.
        """
        stream = []
        self.switches.enable(CREDENTIALS)
        self.switches.addStream(stream.append, [CREDENTIALS])
        self.switches.removeStream(stream.append)
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.assertEqual(messages(self.published), ["handshake"])

    def test_disableKeepsStream(self):
        """
        Disabling a switch a stream still needs leaves it on for the stream.
        """
        stream = []
        self.switches.addStream(stream.append, [CREDENTIALS])
        self.switches.enable(CREDENTIALS)
        self.switches.disable(CREDENTIALS)
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.assertEqual(messages(stream), ["handshake"])

    def test_addStreamAgainReplaces(self):
        """
        Adding the same observer again replaces its namespaces.
        """
        stream = []
        self.switches.addStream(stream.append, [CREDENTIALS])
        self.switches.addStream(stream.append, [REGISTER])
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.switches.logger(REGISTER).debug("register")
        self.assertEqual(messages(stream), ["register"])
        self.assertEqual(self.switches.enabledNamespaces(), (REGISTER,))

    def test_disableAll(self):
        """
        C{disableAll} forgets explicit enables and detaches every stream.
        """
        stream = []
        self.switches.enable(REGISTER)
        self.switches.addStream(stream.append, [CREDENTIALS])
        self.switches.disableAll()
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.switches.logger(REGISTER).debug("register")
        self.assertEqual(stream, [])
        self.assertEqual(self.published, [])
        self.assertEqual(self.switches.enabledNamespaces(), ())
        self.assertEqual(self.switches.streamCount(), 0)

    def test_badNamespaces(self):
        """
        Empty or dotted-edge namespaces, and streams without namespaces, are
        refused with L{ValueError}.
        """
        self.assertRaises(ValueError, self.switches.enable, "")
        self.assertRaises(ValueError, self.switches.disable, ".srst")
        self.assertRaises(ValueError, self.switches.addStream, [].append, [])
        self.assertRaises(ValueError, self.switches.addStream, [].append, ["srst."])
        self.assertRaises(ValueError, self.switches.logger, "")
        self.assertEqual(self.switches.enabledNamespaces(), ())

    def test_brokenStream(self):
        """
        A stream observer that raises does not stop delivery to the publisher;
        the failure is reported to the remaining observers.
        """

        def broken(event):
            raise ZeroDivisionError()

        self.switches.addStream(broken, [CREDENTIALS])
        self.switches.logger(CREDENTIALS).debug("handshake")
        self.assertEqual(self.published[0]["log_format"], "handshake")
        failures = [e for e in self.published if "log_failure" in e]
        self.assertEqual(len(failures), 1)
        self.assertTrue(failures[0]["log_failure"].check(ZeroDivisionError))

    def test_defaultPublisherIsGlobal(self):
        """
        Without an explicit publisher, events that pass go to the global log
        publisher.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        switches = DebugSwitches()
        switches.enable(CREDENTIALS)
        switches.logger(CREDENTIALS).debug("to the world")
        self.assertIn("to the world", messages(events))


class LoggerTests(SynchronousTestCase):
    """
    L{DebugSwitches.logger}.
    """

    def test_oneLoggerPerCategory(self) -> None:
        """
        Asking twice for a category's logger gives the same logger (every
        RTP stream asks for one), and a malformed namespace is still refused.
        """
        switches = DebugSwitches(lambda event: None)
        self.assertIs(switches.logger("srst.debug.media"), switches.logger("srst.debug.media"))
        self.assertIsNot(switches.logger("srst.debug.media"), switches.logger("srst.debug.mgcp"))
        self.assertEqual(switches.logger("srst.debug.mgcp").namespace, "srst.debug.mgcp")
        for bad in ("", ".srst", "srst.", None, 7):
            self.assertRaises(ValueError, switches.logger, bad)
