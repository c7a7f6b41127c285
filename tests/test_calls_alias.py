"""
Tests for L{srst.calls.alias}: the IOS C{alias} rules, as a table of the
IOS examples, through the call engine on a L{Clock} with fake endpoints,
and through the real router on 127.0.0.1 with TLS phones.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.calls.alias import Alias, Aliases
from srst.calls.interfaces import FailureReason, Party
from srst.calls.leg import LegStatus
from srst.sccp.constants import CallState
from srst.tools._phoneclient import SimulatedPhone
from tests.callhelpers import Engine, isCallState
from tests.routerhelpers import bounded, startRouter, stateDirectory
from tests.phonehelpers import routerYamlWithCapf
from tests import test_calls_features_integration as features
from tests.test_calls_features_integration import ALICE, CAROL, CMF, DN_A, DN_B, DN_C, RINGING, expect

# IOS examples: alias 1 60.. to 5001 preference 1 cfw 2000 timeout 10,
# a second alias for the same range, and a range pattern.
OPERATOR = Alias(1, "60..", "5001", 1, "2000", 10)
BACKUP = Alias(2, "60..", "5002", 2)
RANGE = Alias(3, "1[0-5]0.", "5002")


class AliasTableTests(SynchronousTestCase):
    """
    Which aliases a number takes, in which order, and how dialled digits
    match the alias patterns.
    """

    def test_forNumber(self) -> None:
        """
        C{.} is any digit, C{[0-5]} one of the range; aliases come in
        preference order (then tag) whatever the configured order.
        """
        aliases = Aliases([BACKUP, RANGE, OPERATOR])
        table = [
            ("6001", [OPERATOR, BACKUP]),
            ("6099", [OPERATOR, BACKUP]),
            ("600", []),
            ("60011", []),
            ("7001", []),
            ("1507", [RANGE]),
            ("1607", []),
            ("1000", [RANGE]),
        ]
        self.assertEqual([(n, aliases.forNumber(n)) for n, _ in table], table)
        same = Aliases([Alias(9, "6001", "5009"), Alias(4, "6001", "5004")])
        self.assertEqual([a.tag for a in same.forNumber("6001")], [4, 9])

    def test_match(self) -> None:
        """
        Digits matching a pattern complete it; its start could become one; a
        C{T} pattern (any number of further digits) does both.
        """
        aliases = Aliases([OPERATOR, Alias(4, "7T", "5001")])
        table = [("60", (False, True)), ("6001", (True, False)), ("8", (False, False)),
                 ("60012", (False, False)), ("7", (True, True)), ("71", (True, True))]
        self.assertEqual([(d, (aliases.completes(d), aliases.couldBecome(d))) for d, _ in table], table)
        self.assertEqual((Aliases().completes("6001"), Aliases().couldBecome("6")), (False, False))


class AliasRoutingTests(SynchronousTestCase):
    """
    Calls to an aliased number through the engine: Alice (2001) calls, the
    operator (5001), the backup (5002) and the cfw target (2000) answer.
    """

    def make(self, aliases: list[Alias], huntstop: bool = True, **kwargs: Any) -> None:
        self.setup = Engine(aliases=Aliases(aliases, huntstop), **kwargs)
        self.engine = self.setup.engine
        self.a, self.lineA = self.setup.endpoint("2001")
        self.endpoints = {n: self.setup.endpoint(n) for n in ("5001", "5002", "2000", "6042")}

    def call(self, number: str) -> tuple[Any, list[str]]:
        """@return: Alice's leg dialling C{number} (no timer advanced) and the log lines."""
        with capturedLogs() as events:
            leg = self.engine.seize(self.a, self.lineA)
            self.setup.dial(leg, number)
        return leg, [formatEvent(e) for e in events]

    def ringing(self, number: str) -> bool:
        endpoint, _ = self.endpoints[number]
        return any(leg.status is LegStatus.RING_IN for leg in self.engine.legsOf(endpoint))

    def busy(self, number: str) -> None:
        endpoint, line = self.endpoints[number]
        self.engine.seize(endpoint, line)

    def assertFailed(self, leg: Any, reason: FailureReason) -> None:
        self.assertEqual(self.a.events[-1], ("failed", leg, reason))

    def test_unregisteredNumber(self) -> None:
        """
        A number no phone has rings the alias's alternate as soon as it is
        dialled (no inter-digit wait), and the log says which alias.
        """
        self.make([BACKUP, OPERATOR])
        leg, lines = self.call("6001")
        self.assertTrue(self.ringing("5001"))
        self.assertFalse(self.ringing("5002"))
        self.assertEqual(leg.remote, Party("5001"))
        self.assertIn("6001 rerouted to 5001 (alias 1)", lines)

    def test_registeredNumberWins(self) -> None:
        """A phone registered with the number itself is the longer match: it rings, not the alternate."""
        self.make([OPERATOR])
        self.call("6042")
        self.assertTrue(self.ringing("6042"))
        self.assertFalse(self.ringing("5001"))

    def test_alternateNotRegistered(self) -> None:
        """An alias whose alternate has no phone is skipped; with none left the caller gets reorder."""
        self.make([Alias(1, "60..", "5999"), BACKUP])
        self.call("6001")
        self.assertTrue(self.ringing("5002"))
        self.make([Alias(1, "60..", "5999")])
        leg, lines = self.call("6001")
        self.assertFailed(leg, FailureReason.UNKNOWN_NUMBER)
        self.assertIn("2001 dialled 6001: unknown number", lines)

    def test_busyAlternateCfw(self) -> None:
        """A busy alternate forwards to its alias's cfw number."""
        self.make([OPERATOR, BACKUP])
        self.busy("5001")
        _, lines = self.call("6001")
        self.assertTrue(self.ringing("2000"))
        self.assertFalse(self.ringing("5002"))
        self.assertIn("6001 rerouted to 5001 (alias 1): busy; forwarded to 2000", lines)

    def test_busyAlternateHuntstop(self) -> None:
        """
        With C{huntstop} (the default) a busy alternate without cfw gives
        busy; with C{no huntstop} the next alias rings, unless the busy
        alias has its own C{huntstop}.
        """
        backupFirst = Alias(1, "60..", "5002")
        self.make([backupFirst, Alias(2, "60..", "5001")])
        self.busy("5002")
        leg, lines = self.call("6001")
        self.assertFailed(leg, FailureReason.BUSY)
        self.assertEqual(lines[-2:], ["6001 rerouted to 5002 (alias 1): busy; huntstop", "2001 dialled 6001: busy"])
        self.make([backupFirst, Alias(2, "60..", "5001")], huntstop=False)
        self.busy("5002")
        _, lines = self.call("6001")
        self.assertTrue(self.ringing("5001"))
        self.assertIn("6001 rerouted to 5002 (alias 1): busy; hunting on", lines)
        self.make([Alias(1, "60..", "5002", huntstop=True), Alias(2, "60..", "5001")], huntstop=False)
        self.busy("5002")
        leg, _ = self.call("6001")
        self.assertFailed(leg, FailureReason.BUSY)

    def test_busyNumberNoHuntstop(self) -> None:
        """
        A busy registered number hunts to its aliases only with C{no
        huntstop}; with C{huntstop} it is busy.
        """
        self.make([OPERATOR])
        self.busy("6042")
        leg, _ = self.call("6042")
        self.assertFailed(leg, FailureReason.BUSY)
        self.make([OPERATOR], huntstop=False)
        self.busy("6042")
        self.call("6042")
        self.assertTrue(self.ringing("5001"))

    def test_cfwNoAnswer(self) -> None:
        """
        The alternate not answering in the alias's cfw timeout (10 s, not
        the router-wide 30 s) forwards to the cfw number.
        """
        self.make([OPERATOR])
        self.setup.engine.forwards.noAnswerTimeout = 30
        leg, _ = self.call("6001")
        with capturedLogs() as events:
            self.setup.clock.advance(9)
            self.assertTrue(self.ringing("5001"))
            self.setup.clock.advance(1)
        self.assertFalse(self.ringing("5001"))
        self.assertTrue(self.ringing("2000"))
        self.assertEqual(leg.remote, Party("2000"))
        self.assertIn("5001 not answered in 10 s; forwarded to 2000", [formatEvent(e) for e in events])

    def test_aliasLoop(self) -> None:
        """
        Aliases pointing at each other (6001 to 7001, 7001 to 6001) with
        neither number registered: the alternate is never aliased again, so
        the caller gets reorder at once and no call, leg or timer is left.
        """
        self.make([Alias(1, "6001", "7001"), Alias(2, "7001", "6001")], huntstop=False)
        leg, lines = self.call("6001")
        self.assertFailed(leg, FailureReason.UNKNOWN_NUMBER)
        self.assertIn("2001 dialled 6001: unknown number", lines)
        self.engine.hangUp(leg)
        self.assertEqual((self.engine.calls(), self.engine.legsOf(self.a), self.setup.clock.getDelayedCalls()),
                         ([], [], []))
        self.call("2000")
        self.assertTrue(self.ringing("2000"))


ALIAS_CMF = CMF.replace("  call-forward: {no-answer: \"3003\", no-answer-timeout: 3}\n",
                        "  aliases:\n    - {tag: 1, pattern: \"300.\", to: \"3003\", preference: 1}\n")


class AliasIntegrationTests(TestCase):
    """
    The real router on 127.0.0.1 with C{alias 1 300. to 3003 preference 1}:
    Bob (3002) is configured but not registered, Carol (3003) is the
    operator; TLS phones with SRTP media (the helpers are the call features
    integration tests').
    """

    timeout = 30
    register = features.CallFeaturesIntegrationTests.register
    lastInfo = features.CallFeaturesIntegrationTests.lastInfo
    assertMediaFlows = features.CallFeaturesIntegrationTests.assertMediaFlows
    hangUpAndCheckIdle = features.CallFeaturesIntegrationTests.hangUpAndCheckIdle
    assertAllIdle = features.CallFeaturesIntegrationTests.assertAllIdle

    @bounded
    def setUp(self) -> Any:
        self.service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), ALIAS_CMF))
        self.engine = self.service.callEngine
        self.caCertificate = self.service.certificateServer.caCertificate
        self.phones: list[SimulatedPhone] = []

    @bounded
    def test_unregisteredReachesOperator(self) -> None:
        """
        Alice dials Bob, whose phone is not registered: the operator rings
        with Alice calling, answers, SRTP flows both ways; hanging up leaves
        every phone idle.
        """
        a, c = yield self.register(ALICE, CAROL)
        mark = len(a.received), len(c.received)
        with capturedLogs() as events:
            a.offHook()
            a.pressKeys(DN_B)
            yield expect(c, RINGING, "operator ringing", mark[1])
        self.assertIn("3002 rerouted to 3003 (alias 1)", [formatEvent(e) for e in events])
        self.assertEqual(self.lastInfo(c).callingParty, DN_A)
        c.offHook()
        yield expect(a, isCallState(CallState.CONNECTED), "connected", mark[0])
        self.assertEqual(self.lastInfo(a).calledParty, DN_C)
        yield self.assertMediaFlows(a, c)
        yield self.hangUpAndCheckIdle(a, c)

