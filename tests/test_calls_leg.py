"""
Tests for L{srst.calls.leg}: the leg machine on its own, with a recording
endpoint.
"""

from __future__ import annotations

from typing import Any

from automat import NoTransition
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from srst.calls.interfaces import FailureReason, LineRef, Party
from srst.calls.leg import LegStatus, newLeg
from tests.callhelpers import FakeEndpoint


class LegMachineTests(SynchronousTestCase):
    """
    The leg machine on its own, with a recording endpoint.
    """

    def test_dialTimerIsStateData(self) -> None:
        """
        Seizing arms the inter-digit timer; releasing cancels it.
        """
        clock = Clock()
        endpoint = FakeEndpoint()
        timeouts: list[Any] = []
        leg = newLeg(endpoint, LineRef(1, "2001"), 7, clock, 10, timeouts.append)
        leg.machine.seize()
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        leg.machine.release(None)
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(endpoint.names(), ["seized", "released"])
        self.assertEqual((leg.status, timeouts), (LegStatus.RELEASED, []))

    def test_bridged(self) -> None:
        """
        A conference bridge's idle leg goes to connected without telling
        its endpoint (the engine connects the call with the media); it
        releases as an answered leg.
        """
        endpoint = FakeEndpoint()
        leg = newLeg(endpoint, LineRef(1, "", "Conference"), 9, Clock(), 10, lambda leg: None)
        leg.machine.bridged()
        self.assertEqual((leg.status, endpoint.events), (LegStatus.CONNECTED, []))
        leg.machine.release(None)
        self.assertEqual(endpoint.events, [("released", leg, None, True)])
        self.assertRaises(NoTransition, leg.machine.bridged)

    def test_ringTimerIsStateData(self) -> None:
        """
        An offered leg with a ringing timeout arms it; answering cancels it,
        and the endpoint is told it rings, then answers.
        """
        clock = Clock()
        endpoint = FakeEndpoint()
        rang: list[Any] = []
        leg = newLeg(endpoint, LineRef(1, "2002"), 8, clock, 10, rang.append, ringing=30, onRingTimeout=rang.append)
        leg.machine.offer(Party("2001", "Alice"))
        self.assertEqual((leg.status, leg.remote, len(clock.getDelayedCalls())),
                         (LegStatus.RING_IN, Party("2001", "Alice"), 1))
        leg.machine.answer()
        self.assertEqual((clock.getDelayedCalls(), leg.status, rang), ([], LegStatus.CONNECTED, []))
        self.assertEqual(endpoint.names(), ["alerting", "answering"])

    def test_ringTimeoutFires(self) -> None:
        """
        A leg that rings for its ringing timeout calls its timeout with
        itself; without a timeout it rings for ever.
        """
        clock = Clock()
        rang: list[Any] = []
        leg = newLeg(FakeEndpoint(), LineRef(1, "2002"), 8, clock, 10, rang.append, ringing=30,
                     onRingTimeout=rang.append)
        leg.machine.offer(Party("2001"))
        clock.advance(30)
        self.assertEqual(rang, [leg])
        forever = newLeg(FakeEndpoint(), LineRef(1, "2003"), 9, clock, 10, rang.append)
        forever.machine.offer(Party("2001"))
        self.assertEqual(len(clock.getDelayedCalls()), 0)

    def test_outOfStateInput(self) -> None:
        """
        An input the state does not accept raises C{NoTransition} and
        changes nothing: a dialling leg cannot be answered; a failed one
        only releases.
        """
        endpoint = FakeEndpoint()
        leg = newLeg(endpoint, LineRef(1, "2001"), 7, Clock(), 10, lambda leg: None)
        leg.machine.seize()
        self.assertRaises(NoTransition, leg.machine.answer)
        self.assertEqual(leg.status, LegStatus.DIALING)
        leg.machine.fail(FailureReason.BUSY)
        self.assertEqual((leg.status, endpoint.events[-1]), (LegStatus.FAILED, ("failed", leg, FailureReason.BUSY)))
        self.assertRaises(NoTransition, leg.machine.hold)
        leg.machine.release(None)
        self.assertEqual((leg.status, endpoint.events[-1]), (LegStatus.RELEASED, ("released", leg, None, False)))
