"""
Tests for L{srst.calls.call}: a call's holders, a shared line's ringing
legs (alternates) and the endpoints that show the call (monitors), with
fake endpoints.
"""

from __future__ import annotations

import itertools
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from srst.calls.call import Call
from srst.calls.interfaces import LineRef
from srst.calls.leg import Leg, newLeg
from srst.calls.media import MediaSession
from tests.callhelpers import FakeEndpoint

_references = itertools.count(1)


def leg(endpoint: FakeEndpoint, number: str) -> Leg:
    """@return: an idle leg of C{endpoint} on a line with C{number}."""
    return newLeg(endpoint, LineRef(1, number), next(_references), Clock(), 10, lambda leg: None)


def call(caller: Leg, callee: Leg, secure: bool = False) -> Call:
    """@return: a call between two legs."""
    made = Call(1, caller, callee, MediaSession(itertools.count(100)), secure)
    caller.call = callee.call = made
    return made


class CallTests(SynchronousTestCase):
    """
    The legs and holders of a call.
    """

    def test_otherAndHolders(self) -> None:
        """
        C{other} is the leg that is not the one given; holders are added
        and removed; the call is held while any leg holds it.
        """
        a, b = leg(FakeEndpoint("a"), "2001"), leg(FakeEndpoint("b"), "2002")
        made = call(a, b)
        self.assertEqual((made.other(a), made.other(b)), (b, a))
        self.assertFalse(made.held)
        made.addHolder(a)
        self.assertEqual((made.held, made.isHeldBy(a), made.isHeldBy(b)), (True, True, False))
        made.removeHolder(a)
        self.assertFalse(made.held)

    def test_updateSecurity(self) -> None:
        """
        A call is secure while both legs' endpoints are.
        """
        a, b = leg(FakeEndpoint("a", secure=True), "2001"), leg(FakeEndpoint("b"), "2002")
        made = call(a, b, secure=True)
        made.updateSecurity()
        self.assertFalse(made.encrypted)
        b.endpoint.secure = True
        made.updateSecurity()
        self.assertTrue(made.secure)


class AlternatesTests(SynchronousTestCase):
    """
    The legs a shared line rings for one call.
    """

    def ringing(self) -> tuple[Call, Leg, Leg, Leg]:
        a = leg(FakeEndpoint("a"), "2001")
        b, c = leg(FakeEndpoint("b"), "2002"), leg(FakeEndpoint("c"), "2002")
        made = call(a, b)
        made.addAlternate(b)
        made.addAlternate(c)
        return made, a, b, c

    def test_answeredBy(self) -> None:
        """
        The leg that answers is the callee; each other ringing leg is to be
        released showing the call in use elsewhere, and becomes a monitor
        under its own reference.
        """
        made, a, b, c = self.ringing()
        self.assertEqual(made.answeredBy(c), [b])
        self.assertEqual((made.callee, made.alternates, b.elsewhere, c.elsewhere), (c, [], True, False))
        [monitor] = made.monitors
        self.assertEqual((monitor.endpoint, monitor.line, monitor.reference, monitor.held),
                         (b.endpoint, b.line, b.callReference, False))

    def test_dropAlternate(self) -> None:
        """
        A ringing leg whose endpoint disappeared is dropped while others
        ring (the callee moves to the next); the last one is not.
        """
        made, a, b, c = self.ringing()
        self.assertTrue(made.dropAlternate(b))
        self.assertEqual((made.callee, made.alternates), (c, [c]))
        self.assertFalse(made.dropAlternate(c))
        self.assertFalse(made.dropAlternate(a))

    def test_takeAndAdoptAlternates(self) -> None:
        """
        Taking the alternates empties the list; a call that adopts another
        call's alternates rings them for itself.
        """
        made, a, b, c = self.ringing()
        other = call(leg(FakeEndpoint("d"), "2004"), leg(FakeEndpoint("e"), "2005"))
        other.adoptAlternates(made)
        self.assertEqual((other.alternates, made.alternates, b.call, c.call), ([b, c], [], other, other))
        self.assertEqual(other.takeAlternates(), [b, c])
        self.assertEqual(other.alternates, [])


class MonitorTests(SynchronousTestCase):
    """
    The endpoints that show a shared-line call they do not own.
    """

    def setUp(self) -> None:
        self.owner = FakeEndpoint("owner")
        self.desk, self.other = FakeEndpoint("desk"), FakeEndpoint("other")
        self.caller = leg(FakeEndpoint("caller"), "2001")
        self.callee = leg(self.owner, "2002")
        self.call = call(self.caller, self.callee)
        self.deskMonitor = self.call.addMonitor(self.desk, LineRef(1, "2002"), 7)
        self.otherMonitor = self.call.addMonitor(self.other, LineRef(2, "2009"), 8)

    def test_showHeldInUseIdle(self) -> None:
        """
        Hold and resume by the owner of a number are shown on that number's
        monitors only; the end of the call idles and forgets every monitor.
        """
        self.call.showHeld("2002")
        self.assertEqual((self.desk.events, self.other.events), ([("remoteHeld", LineRef(1, "2002"), 7)], []))
        self.assertEqual((self.deskMonitor.held, self.otherMonitor.held), (True, False))
        self.call.showInUse("2002")
        self.assertEqual(self.desk.events[-1], ("remoteInUse", LineRef(1, "2002"), 7))
        self.assertFalse(self.deskMonitor.held)
        self.call.showIdle()
        self.assertEqual((self.desk.events[-1], self.other.events), (("remoteIdle", LineRef(1, "2002"), 7),
                                                                     [("remoteIdle", LineRef(2, "2009"), 8)]))
        self.assertEqual(self.call.monitors, [])

    def test_monitorsOnAndForget(self) -> None:
        """
        The monitors on an endpoint are found by the endpoint; a gone
        endpoint's monitors are forgotten without a word to it.
        """
        self.assertEqual(self.call.monitorsOn(self.desk), [self.deskMonitor])
        self.call.forgetEndpoint(self.desk)
        self.assertEqual((self.call.monitors, self.desk.events), ([self.otherMonitor], []))

    def test_heldLegForAndTakeOver(self) -> None:
        """
        A monitor may take over the leg that holds the call on its number:
        the new leg replaces it, no longer holding, and the monitor is gone.
        """
        self.assertIsNone(self.call.heldLegFor(self.deskMonitor))
        self.call.addHolder(self.callee)
        self.assertIsNone(self.call.heldLegFor(self.otherMonitor))
        self.assertIs(self.call.heldLegFor(self.deskMonitor), self.callee)
        picked = leg(self.desk, "2002")
        self.call.takeOver(self.callee, picked, self.deskMonitor)
        self.assertEqual((self.call.callee, self.call.held, self.call.monitors), (picked, False, [self.otherMonitor]))
        self.assertIsNone(self.call.heldLegFor(self.deskMonitor))

    def test_adoptMonitors(self) -> None:
        """
        A call replacing others (a transfer) adopts the monitors of its legs'
        numbers; the others go idle.
        """
        monitors = self.call.takeMonitors()
        self.assertEqual(self.call.monitors, [])
        replacement = call(leg(FakeEndpoint("x"), "2002"), leg(FakeEndpoint("y"), "2003"))
        replacement.adoptMonitors(monitors, ("2002", "2003"))
        self.assertEqual(replacement.monitors, [self.deskMonitor])
        self.assertEqual((self.desk.events, self.other.events), ([], [("remoteIdle", LineRef(2, "2009"), 8)]))
