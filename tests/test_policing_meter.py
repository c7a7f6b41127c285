"""
Tests for L{srst.policing.meter}: token buckets, rates and the aggregate
L{ControlPlane} shared by every policed listener.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import formatEvent, LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from srst.policing.config import CLASS_DEFAULT
from srst.policing.meter import CONNECTION_ATTEMPT_BYTES, ControlPlane, RateMeter, TokenBucket
from tests.policinghelpers import TRUSTED, UNTRUSTED, seedPolicy


class TokenBucketTests(SynchronousTestCase):
    """
    L{TokenBucket} in IOS units: bits per second, bytes of burst.
    """

    def test_startsFull(self):
        """
        A new bucket holds its whole burst, and an exceeding packet takes
        nothing.
        """
        bucket = TokenBucket(8000, 1500)
        self.assertTrue(bucket.consume(1000, 0))
        self.assertTrue(bucket.consume(500, 0))
        self.assertFalse(bucket.consume(1, 0))
        self.assertEqual(bucket.level(0), 0)

    def test_refillRate(self):
        """
        8000 bps refills 1000 bytes per second, capped at the burst.
        """
        bucket = TokenBucket(8000, 1500)
        bucket.consume(1500, 10.0)
        self.assertEqual(bucket.level(10.5), 500)
        self.assertFalse(bucket.consume(600, 10.5))
        self.assertTrue(bucket.consume(500, 10.5))
        self.assertEqual(bucket.level(100.0), 1500)

    def test_timeUntil(self):
        """
        C{timeUntil} says when the bucket will hold a number of bytes
        (at most the burst), and is 0 when it already does.
        """
        bucket = TokenBucket(8000, 1500)
        self.assertEqual(bucket.timeUntil(1500, 0), 0)
        bucket.consume(1500, 0)
        self.assertEqual(bucket.timeUntil(250, 0), 0.25)
        self.assertEqual(bucket.timeUntil(99999, 0), 1.5)

    def test_drainIntoDebt(self):
        """
        C{drain} takes bytes the bucket does not hold; the debt is repaid at
        the rate before tokens are available again.
        """
        bucket = TokenBucket(8000, 1500)
        bucket.drain(2500, 0)
        self.assertEqual(bucket.level(0), -1000)
        self.assertEqual(bucket.timeUntil(500, 0), 1.5)
        self.assertFalse(bucket.consume(1, 0.9))
        self.assertTrue(bucket.consume(500, 1.5))

    def test_clockBackwards(self):
        """
        Time going backwards refills nothing and breaks nothing.
        """
        bucket = TokenBucket(8000, 1500)
        bucket.consume(1500, 100.0)
        self.assertEqual(bucket.level(50.0), 0)
        self.assertEqual(bucket.level(100.5), 500)

    def test_validation(self):
        """
        Rate and burst must be positive integers.
        """
        self.assertRaises(ValueError, TokenBucket, 0, 1500)
        self.assertRaises(ValueError, TokenBucket, 8000, 0)


class RateMeterTests(SynchronousTestCase):
    """
    L{RateMeter}, the "5 minute" rates.
    """

    def test_steadyRate(self):
        """
        A steady 1000 bytes per second converges to 8000 bps and decays once
        the traffic stops.
        """
        meter = RateMeter()
        for second in range(3000):
            meter.add(1000, float(second))
        self.assertApproximates(meter.rate(3000.0), 8000, 30)
        self.assertLess(meter.rate(6000.0), 8000 * 0.0001 + 1)


class ControlPlaneTests(SynchronousTestCase):
    """
    L{ControlPlane}: aggregate buckets and counters.
    """

    def test_admitSeed(self):
        """
        With the seed's drop/drop, every untrusted connection attempt is
        refused whether it conforms or exceeds; trusted ones are class-default.
        """
        clock = Clock()
        cp = ControlPlane(seedPolicy(), clock)
        outcomes = [cp.admitConnection("tcp", UNTRUSTED, 2445) for _ in range(30)]
        self.assertFalse(any(a.allowed for a in outcomes))
        self.assertEqual(sum(a.verdict.conformed for a in outcomes), 1500 // CONNECTION_ATTEMPT_BYTES)
        trusted = cp.admitConnection("tcp", TRUSTED, 2445)
        self.assertTrue(trusted.allowed)
        self.assertIsNone(trusted.policyClass)
        stats = cp.stats()
        sccp = stats.byName("sccp-class")
        self.assertEqual((sccp.packets, sccp.bytes), (30, 30 * CONNECTION_ATTEMPT_BYTES))
        self.assertEqual((sccp.droppedPackets, sccp.refusedConnections), (30, 30))
        self.assertEqual((sccp.police.conformedPackets, sccp.police.exceededPackets), (25, 5))
        default = stats.byName(CLASS_DEFAULT)
        self.assertEqual((default.packets, default.bytes, default.police), (1, 60, None))
        self.assertRaises(KeyError, stats.byName, "nosuch")

    def test_nonIPPeer(self):
        """
        A connection with no IP source (a UNIX socket) is class-default.
        """
        cp = ControlPlane(seedPolicy(), Clock())
        self.assertTrue(cp.admitConnection("tcp", None, 2445).allowed)
        self.assertEqual(cp.stats().byName(CLASS_DEFAULT).packets, 1)

    def test_warnRateLimited(self):
        """
        Warnings about one class and kind are logged once a minute; the
        repeats are summed up when the minute is over, at the same level and
        in the same namespace.
        """
        clock = Clock()
        cp = ControlPlane(seedPolicy(), clock)
        [sccp] = cp.policy.classes
        with capturedLogs() as events:
            for _ in range(5):
                cp.warn("refuse", sccp, "refused {peer}", peer="x")
            clock.advance(1.0)
            cp.warn("refuse", sccp, "refused {peer}", peer="y")
            cp.warn("abort", sccp, "aborted {peer}", peer="z")
            clock.advance(59.0)
        self.assertEqual([formatEvent(e) for e in events], [
            "refused x", "aborted z", "control-plane sccp-class: 5 more connections dropped in the last minute"])
        self.assertEqual([(e.get("policyClass"), e.get("kind")) for e in events[:2]],
                         [("sccp-class", "refuse"), ("sccp-class", "abort")])
        self.assertTrue(all(e["log_level"] == LogLevel.warn for e in events))
        self.assertEqual({e["log_namespace"] for e in events}, {"srst.policing"})
        self.assertEqual(clock.getDelayedCalls(), [])
