"""
Tests for L{srst.mgcp._disconnected}: the disconnected procedure's machine
on a L{Clock}, with the RSIPs it sends answered by hand (the gateway's use
of it is in tests.test_mgcp_gateway).
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.internet.testing import EventLoggingObserver
from twisted.trial.unittest import SynchronousTestCase

from srst.mgcp._disconnected import (
    DISCONNECTED,
    DisconnectedCore,
    DisconnectedInputs,
    DisconnectedMachine,
    DisconnectedStatus,
)
from srst.mgcp.messages import Response
from srst.mgcp.transactions import MgcpTimeout


TIMEOUT = MgcpTimeout(1, 5, ("127.0.0.1", 2427))
"""How an RSIP's transaction fails when the call agent never answers."""


class Procedure:
    """
    A disconnected procedure on a L{Clock} (C{random()} is 0.2, so the
    first wait is 3 s of Tdinit 15 s), recording the RSIPs it sends.

    @ivar sent: C{(secondsDisconnected, Deferred)} of every RSIP.
    """

    def __init__(self, **settings: float) -> None:
        self.clock = Clock()
        self.clock.advance(100)
        self.sent: list[tuple[int, Deferred[Response]]] = []
        self.core = DisconnectedCore(clock=self.clock, random=lambda: 0.2, sendRestart=self.send,
                                     **settings)
        self.inputs: DisconnectedInputs = DisconnectedMachine(self.core)

    def send(self, seconds: int) -> Deferred[Response]:
        sending: Deferred[Response] = Deferred()
        self.sent.append((seconds, sending))
        return sending

    def status(self) -> DisconnectedStatus:
        return self.inputs.status()

    def answer(self, index: int = -1, code: int = 200) -> None:
        """Answer an RSIP sent."""
        self.sent[index][1].callback(Response(code, 1, "OK"))

    def timeOut(self, index: int = -1) -> None:
        """Fail an RSIP sent, as its transaction timing out."""
        self.sent[index][1].errback(TIMEOUT)


class DisconnectedProcedureTests(SynchronousTestCase):
    """
    The waits, attempts and results of the disconnected procedure.
    """

    def setUp(self) -> None:
        self.p = Procedure()

    def test_connectedAtFirst(self) -> None:
        """
        The procedure starts connected, arms no timer, and ignores commands,
        local activity and stop until a command times out.
        """
        self.assertIs(self.p.status(), DisconnectedStatus.CONNECTED)
        self.p.inputs.commandReceived()
        self.p.inputs.localActivity()
        self.p.inputs.stop()
        self.assertEqual((self.p.sent, self.p.clock.getDelayedCalls()), ([], []))
        self.assertNotIn(self.p.status(), DISCONNECTED)

    def test_firstWait(self) -> None:
        """
        A timed-out command starts an episode: random()*Tdinit later the
        RSIP goes out with RD: the whole seconds since; another timeout
        meanwhile changes nothing.
        """
        self.p.inputs.commandTimedOut()
        self.assertIs(self.p.status(), DisconnectedStatus.WAITING)
        self.assertEqual((self.p.core.since, self.p.core.attempts, self.p.core.wait), (100, 0, 3.0))
        self.p.clock.advance(2)
        self.p.inputs.commandTimedOut()
        self.p.clock.advance(0.9)
        self.assertEqual(self.p.sent, [])
        self.p.clock.advance(0.1)
        self.assertEqual([seconds for seconds, _ in self.p.sent], [3])
        self.assertIs(self.p.status(), DisconnectedStatus.SENDING)
        self.assertEqual(self.p.core.attempts, 1)
        self.assertEqual(self.p.clock.getDelayedCalls(), [])

    def test_backOff(self) -> None:
        """
        Each failed RSIP doubles the wait (at least 2 s) up to Tdmax, and
        the next RSIP goes out after it.
        """
        p = Procedure(tdmax=20.0)
        p.inputs.commandTimedOut()
        waits = []
        for attempt in range(5):
            p.clock.advance(p.core.wait)
            self.assertEqual(len(p.sent), attempt + 1)
            p.timeOut()
            self.assertIs(p.status(), DisconnectedStatus.RETRYING)
            waits.append(p.core.wait)
        self.assertEqual(waits, [6.0, 12.0, 20.0, 20.0, 20.0])
        short = Procedure(tdinit=0.0)
        short.inputs.commandTimedOut()
        short.clock.advance(0)
        short.timeOut()
        self.assertEqual(short.core.wait, 2.0)

    def test_answered(self) -> None:
        """
        An answered RSIP ends the procedure (logged with its code); nothing
        is left armed.
        """
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.p.inputs.commandTimedOut()
        self.p.clock.advance(3)
        self.p.answer()
        self.assertIs(self.p.status(), DisconnectedStatus.CONNECTED)
        self.assertEqual(self.p.clock.getDelayedCalls(), [])
        self.assertIn(200, [event.get("code") for event in events])

    def test_commandEndsWait(self) -> None:
        """
        A command from a call agent sends the RSIP at once, from the first
        wait or after a failure; not while one is outstanding.
        """
        self.p.inputs.commandTimedOut()
        self.p.clock.advance(1)
        self.p.inputs.commandReceived()
        self.assertEqual([seconds for seconds, _ in self.p.sent], [1])
        self.p.inputs.commandReceived()
        self.assertEqual(len(self.p.sent), 1)
        self.p.timeOut()
        self.p.clock.advance(2)
        self.p.inputs.commandReceived()
        self.assertEqual([seconds for seconds, _ in self.p.sent], [1, 3])
        self.assertEqual(self.p.clock.getDelayedCalls(), [])

    def test_localActivity(self) -> None:
        """
        Local activity sends the RSIP at once when none was sent yet, else
        brings the timer forward to Tdmin after the last attempt (never
        later than it was).
        """
        p = Procedure(tdmin=5.0)
        p.inputs.commandTimedOut()
        p.inputs.localActivity()
        self.assertEqual(len(p.sent), 1)
        p.timeOut()
        self.assertEqual(p.core.wait, 6.0)
        p.clock.advance(1)
        p.inputs.localActivity()
        [timer] = p.clock.getDelayedCalls()
        self.assertEqual(timer.getTime(), 105.0)
        p.clock.advance(4)
        self.assertEqual(len(p.sent), 2)
        p.timeOut()
        p.clock.advance(10)
        p.inputs.localActivity()
        self.assertEqual(len(p.sent), 3)
        p.timeOut()
        p.inputs.localActivity()
        [timer] = p.clock.getDelayedCalls()
        self.assertEqual(timer.getTime(), 115.0 + 5.0)
        late = Procedure(tdmin=50.0)
        late.inputs.commandTimedOut()
        late.inputs.localActivity()
        late.timeOut()
        late.inputs.localActivity()
        [timer] = late.clock.getDelayedCalls()
        self.assertEqual(timer.getTime(), 100.0 + 6.0)

    def test_stopCancelsWait(self) -> None:
        """
        Stopped while waiting, the procedure cancels its timer.
        """
        self.p.inputs.commandTimedOut()
        self.p.inputs.stop()
        self.assertIs(self.p.status(), DisconnectedStatus.CONNECTED)
        self.assertEqual(self.p.clock.getDelayedCalls(), [])
        self.p.clock.advance(100)
        self.assertEqual(self.p.sent, [])

    def test_stoppedWhileSending(self) -> None:
        """
        Stopped with its RSIP outstanding, the procedure is abandoned until
        that RSIP's result comes, which is then not acted on.
        """
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.p.inputs.commandTimedOut()
        self.p.clock.advance(3)
        self.p.inputs.stop()
        self.assertIs(self.p.status(), DisconnectedStatus.ABANDONED)
        self.assertNotIn(self.p.status(), DISCONNECTED)
        self.p.inputs.commandReceived()
        self.p.inputs.localActivity()
        self.assertEqual(len(self.p.sent), 1)
        self.p.timeOut()
        self.assertIs(self.p.status(), DisconnectedStatus.CONNECTED)
        self.assertEqual(self.p.clock.getDelayedCalls(), [])
        self.assertNotIn("MGCP: disconnected RSIP failed ({error}); next in {wait:.1f} s",
                         [event["log_format"] for event in events])
        self.p.inputs.commandTimedOut()
        self.p.clock.advance(3)
        self.p.inputs.stop()
        self.p.answer()
        self.assertIs(self.p.status(), DisconnectedStatus.CONNECTED)
        self.assertNotIn(200, [event.get("code") for event in events])

    def test_newEpisodeWhileAbandoned(self) -> None:
        """
        A command timing out again while an abandoned RSIP is outstanding
        begins a new episode that takes that RSIP as its attempt: no second
        RSIP goes out, and its failure doubles the new episode's wait.
        """
        self.p.inputs.commandTimedOut()
        self.p.clock.advance(3)
        self.p.inputs.stop()
        self.p.clock.advance(7)
        self.p.inputs.commandTimedOut()
        self.assertIs(self.p.status(), DisconnectedStatus.SENDING)
        self.assertEqual((self.p.core.since, self.p.core.attempts), (110, 0))
        self.assertEqual(self.p.clock.getDelayedCalls(), [])
        self.p.timeOut()
        self.assertIs(self.p.status(), DisconnectedStatus.RETRYING)
        self.assertEqual(self.p.core.wait, 6.0)
        self.p.clock.advance(6)
        self.assertEqual([seconds for seconds, _ in self.p.sent], [3, 6])

    def test_immediateResult(self) -> None:
        """
        An RSIP that fails at once (from inside the transition that sends
        it) is handled once that transition is over: the procedure retries.
        """
        clock = Clock()
        inputs: DisconnectedInputs = DisconnectedMachine(DisconnectedCore(
            clock=clock, random=lambda: 0.0, sendRestart=lambda seconds: fail(TIMEOUT)))
        inputs.commandTimedOut()
        clock.advance(0)
        self.assertIs(inputs.status(), DisconnectedStatus.RETRYING)
        [timer] = clock.getDelayedCalls()
        self.assertEqual(timer.getTime(), 2.0)
