"""
Tests for L{srst.lograte}: the first log line of a run is logged, the
repeats are summed up once per interval, with one timer and a bounded
table.
"""

import gc
import weakref

from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from srst.lograte import OTHER_KINDS, LogLimiter


class LogLimiterTests(SynchronousTestCase):
    """
    L{LogLimiter} on a L{Clock}, logging to a list.
    """

    def setUp(self):
        self.clock = Clock()
        self.events = []
        self.log = Logger(namespace="srst.test", observer=self.events.append)
        self.limiter = LogLimiter(self.clock)

    def bad(self, peer, count=1, what="bad frames"):
        """
        Log C{count} bad frames from C{peer}.
        """
        for n in range(count):
            self.limiter.warn(self.log, peer, what, "{peer}: bad frame {n}", peer=peer, n=n)

    def lines(self):
        """
        @return: the text of every event logged so far.
        """
        return [formatEvent(e) for e in self.events]

    def test_thousandFromOnePeer(self):
        """
        1000 bad frames from one peer give one line and, when the minute is
        over, one summary with the count of the others; a second peer gets
        its own first line meanwhile.
        """
        self.bad("127.0.0.1", 1000)
        self.bad("127.0.0.2")
        self.assertEqual(self.lines(), ["127.0.0.1: bad frame 0", "127.0.0.2: bad frame 0"])
        self.clock.advance(59.9)
        self.assertEqual(len(self.events), 2)
        self.clock.advance(0.1)
        self.assertEqual(self.lines()[2:], ["127.0.0.1: 999 more bad frames in the last minute"])
        summary = self.events[2]
        self.assertEqual((summary["log_level"], summary["log_namespace"], summary["repeats"], summary["summary"]),
                         (LogLevel.warn, "srst.test", 999, True))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_floodGoesOn(self):
        """
        A flood that goes on gives one summary a minute and no full line.
        """
        for _ in range(3):
            self.bad("127.0.0.1", 100)
            self.clock.advance(60)
        self.assertEqual(self.lines(), [
            "127.0.0.1: bad frame 0",
            "127.0.0.1: 99 more bad frames in the last minute",
            "127.0.0.1: 100 more bad frames in the last minute",
            "127.0.0.1: 100 more bad frames in the last minute",
        ])

    def test_quietIntervalForgets(self):
        """
        A key whose interval ends without repeats is forgotten without a
        timer: its next event is logged in full.
        """
        self.bad("127.0.0.1")
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(60)
        self.bad("127.0.0.1")
        self.assertEqual(self.lines(), ["127.0.0.1: bad frame 0", "127.0.0.1: bad frame 0"])
        self.assertEqual(self.limiter.tracked, 1)

    def test_whatIsPartOfTheKey(self):
        """
        Another kind of event from the same peer has its own first line.
        """
        self.bad("127.0.0.1", 2)
        self.bad("127.0.0.1", 2, what="alarms")
        self.clock.advance(60)
        self.assertEqual(self.lines(), [
            "127.0.0.1: bad frame 0", "127.0.0.1: bad frame 0",
            "127.0.0.1: 1 more bad frames in the last minute", "127.0.0.1: 1 more alarms in the last minute"])

    def test_oneTimer(self):
        """
        However many peers repeat themselves, one timer is armed, for the
        earliest interval end; it moves on to the next.
        """
        for n in range(50):
            self.bad(f"10.0.0.{n}", 2)
            self.clock.advance(1)
        self.assertEqual([c.getTime() for c in self.clock.getDelayedCalls()], [60])
        self.clock.advance(10)
        self.assertEqual([c.getTime() for c in self.clock.getDelayedCalls()], [61])
        self.clock.advance(60)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(len(self.events), 100)

    def test_tableBounded(self):
        """
        Past C{maxPeers} keys, peers not tracked share one key per kind of
        event: a flood from many addresses logs one more first line and one
        summary, and the table does not grow.
        """
        limiter = self.limiter = LogLimiter(self.clock, maxPeers=3)
        for n in range(1000):
            self.bad(f"10.0.{n // 256}.{n % 256}")
        self.assertEqual(limiter.tracked, 4)
        self.assertEqual(len(self.events), 4)
        self.clock.advance(60)
        self.assertEqual(self.lines()[4:], ["other peers: 996 more bad frames in the last minute"])

    def test_stop(self):
        """
        L{LogLimiter.stop} logs the pending summaries at once (over the
        time they cover), cancels the timer, and lets later events through;
        L{LogLimiter.start} limits again.
        """
        self.bad("127.0.0.1", 10)
        self.clock.advance(12)
        self.limiter.stop()
        self.assertEqual(self.lines()[1:], ["127.0.0.1: 9 more bad frames in the last 12 s"])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.bad("127.0.0.1", 2)
        self.assertEqual(len(self.events), 4)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.limiter.start()
        self.bad("127.0.0.1", 2)
        self.assertEqual(len(self.events), 5)

    def test_fieldsKept(self):
        """
        The first line is the caller's event, fields, level and namespace
        as they were; a field called C{peer} is the caller's own.
        """
        self.limiter.info(self.log, "127.0.0.1", "alarms", "{peer}: alarm {text}", peer="skinny[1] x", text="hi")
        [event] = self.events
        self.assertEqual((formatEvent(event), event["log_level"], event["text"]),
                         ("skinny[1] x: alarm hi", LogLevel.info, "hi"))
        self.assertNotIn("summary", event)

    def test_badArguments(self):
        """
        A limiter needs a positive interval and room for one key.
        """
        self.assertRaises(ValueError, LogLimiter, self.clock, 0)
        self.assertRaises(ValueError, LogLimiter, self.clock, 60, 0)
        self.assertRaises(ValueError, LogLimiter, self.clock, 60, 1, 0)

    def test_kindsOfOtherPeersBounded(self):
        """
        Past C{maxKinds} kinds of event counted for peers not tracked, any
        other kind counts under one catch-all key: a flood of events whose
        C{what} varies (reason text from the peer) neither grows the table
        nor gives a first line per kind; the summary names the catch-all.
        """
        limiter = self.limiter = LogLimiter(self.clock, maxPeers=2, maxKinds=3)
        self.bad("127.0.0.1")
        self.bad("127.0.0.2")
        for n in range(500):
            self.bad(f"10.0.{n // 256}.{n % 256}", what=f"failed TLS handshakes (reason {n})")
        self.assertEqual(limiter.tracked, 2 + 3 + 1)
        self.assertEqual(len(self.events), 2 + 3 + 1)
        self.clock.advance(60)
        self.assertEqual(self.lines()[6:], [f"other peers: 496 more {OTHER_KINDS} in the last minute"])
        self.assertEqual((self.events[6]["log_namespace"], self.events[6]["log_level"]), ("srst.test", LogLevel.warn))

    def test_summaryKeepsNoConnectionAlive(self):
        """
        A connection that logged through the limiter (its class's logger,
        whose source is the connection) and was dropped is not kept alive
        by the summary still pending; the summary comes in the
        connection's namespace, to its observer, with no source.
        """
        seen = []

        def observer(event):
            seen.append((event["log_namespace"], event.get("log_source") is not None, formatEvent(event)))

        class Connection:
            log = Logger(observer=observer)

            def __init__(self, limiter):
                self.limiter = limiter

            def garbage(self):
                self.limiter.warn(self.log, "127.0.0.2", "bad frames", "{peer}: bad frame", peer="127.0.0.2")

        connection = Connection(self.limiter)
        connection.garbage()
        connection.garbage()
        dropped = weakref.ref(connection)
        del connection
        gc.collect()
        self.assertIsNone(dropped())
        self.assertTrue(self.limiter.timerArmed)
        self.clock.advance(60)
        self.assertEqual(seen, [("tests.test_lograte.Connection", True, "127.0.0.2: bad frame"),
                                ("tests.test_lograte.Connection", False, "127.0.0.2: 1 more bad frames in the last minute")])
