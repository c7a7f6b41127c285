"""
Tests for three-party conference: the rules of L{srst.calls.conference}
and the engine running them (L{srst.calls.engine.CallEngine.conference},
L{CallEngine.join <srst.calls.engine.CallEngine.join>}) between fake
endpoints and a fake bridge pool (L{tests.mediafakes}).
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from srst.calls.conference import Conference, Leaving, afterLeaving, secureConference
from srst.calls.engine import CallStateError
from srst.calls.interfaces import Party
from srst.calls.leg import LegStatus
from srst.calls.mediaservices import ConferenceRefused
from srst.debug import DebugSwitches
from srst.media.portrange import RtpPortAllocator
from srst.ports.callendpoint import VoicePortEndpoint
from srst.ports.media import MediaPump, PortMediaResources
from tests.callhelpers import PORT_DEBUG_LOG, FakeEndpoint
from tests.mediafakes import FakeBridges, FakeHoldMusic
from tests.test_calls_engine import Calls
from tests.test_ports_media import PortReactor, fxs

CONFERENCE = Party("", "Conference")


def conferenceCalls(secure: tuple[bool, bool, bool] = (False, False, False), maxConferences: int = 8,
                    secureAllowed: bool = True) -> tuple[Calls, FakeBridges, FakeHoldMusic]:
    """@return: Alice, Bob and Carol (two channels each) with music on hold and a bridge pool."""
    calls = Calls(channelsPerDn=2)
    calls.a.secure, calls.b.secure, calls.c.secure = secure
    bridges = FakeBridges(lambda number: FakeEndpoint("conference-%d" % (number,)), maxConferences, secureAllowed)
    music = FakeHoldMusic()
    calls.engine.useMediaServices(music, bridges)
    return calls, bridges, music


def consulting(calls: Calls, press: Callable[[Any], Any] | None = None) -> tuple[Any, Any, Any, Any]:
    """
    Alice, talking to Bob, presses Confrn and calls Carol, who answers; the
    events are cleared.

    @param press: what Alice presses instead of Confrn (the engine's
        C{transfer}): it takes her leg and returns the consult leg.
    """
    legA, legB = calls.connected()
    consult = (press or calls.engine.conference)(legA)
    calls.setup.dial(consult, "2003")
    [legC] = calls.engine.legsOf(calls.c)
    calls.engine.answer(legC)
    calls.clear()
    return legA, legB, consult, legC


def joined(calls: Calls) -> tuple[Any, Any, Any, Any]:
    """L{consulting}, then Confrn again: the conference runs."""
    legA, legB, consult, legC = consulting(calls)
    calls.engine.conference(consult)
    return legA, legB, consult, legC


class RulesTests(SynchronousTestCase):
    """
    The pure rules of L{srst.calls.conference}.
    """

    def test_afterLeaving(self) -> None:
        """
        The creator leaving ends the conference; another participant
        leaving two behind gives a direct call, more than two goes on.
        """
        a, b, c, d = (object() for _ in range(4))
        conference = Conference(1, object(), a)  # type: ignore[arg-type]
        for participant, bridgeLeg in ((a, 1), (b, 2), (c, 3)):
            conference.add(participant, bridgeLeg)  # type: ignore[arg-type]
        self.assertEqual((afterLeaving(conference, a), afterLeaving(conference, b)), (Leaving.END_ALL, Leaving.DIRECT))
        conference.add(d, 4)  # type: ignore[arg-type]
        self.assertIs(afterLeaving(conference, b), Leaving.CONTINUE)
        self.assertEqual((conference.bridgeLegOf(c), conference.participantOf(3)), (3, c))
        conference.remove(c)
        self.assertEqual((conference.participants, conference.bridgeLegOf(c)), ([a, b, d], None))

    def test_secureConference(self) -> None:
        """
        Secure only when allowed and every endpoint is secure.
        """
        secure, clear = FakeEndpoint(secure=True), FakeEndpoint()
        self.assertTrue(secureConference(True, [secure, secure, secure]))
        self.assertFalse(secureConference(True, [secure, clear, secure]))
        self.assertFalse(secureConference(False, [secure, secure, secure]))


class SetUpTests(SynchronousTestCase):
    """
    Confrn: reserving a bridge, the consult leg, refusals and cancelling.
    """

    def test_firstConfrnConsults(self) -> None:
        """
        Confrn on a connected call reserves a bridge, holds the call (Bob
        hears the music) and seizes a consult leg on Alice's line.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB = calls.connected()
        consult = calls.engine.conference(legA)
        self.assertEqual((calls.a.names(), calls.b.names()), (["held", "seized"], ["heldByRemote", "openReceive"]))
        self.assertTrue(consult.conferenceConsult)
        self.assertEqual(len(bridges.bridges), 1)
        [setup] = calls.engine.conferenceSetups()
        self.assertEqual((setup.held, setup.consult, setup.bridge), (legA, consult, bridges.bridges[0]))

    def test_reservedByNumber(self) -> None:
        """
        Confrn reserves the bridge in the creator's directory number (what
        C{show conference} shows), not an endpoint's internal label.
        """
        calls, bridges, music = conferenceCalls()
        calls.a.label = "ephone-1[1]"
        consulting(calls)
        [bridge] = bridges.bridges
        self.assertEqual(bridge.reservedBy, "2001")

    def test_refusedChangesNothing(self) -> None:
        """
        At C{max-conferences} Confrn raises L{ConferenceRefused} with the
        reason, and every leg and call is as it was.
        """
        calls, bridges, music = conferenceCalls(maxConferences=0)
        legA, legB = calls.connected()
        [call] = calls.engine.calls()
        with self.assertRaises(ConferenceRefused) as caught:
            calls.engine.conference(legA)
        self.assertEqual(caught.exception.reason, "max-conferences 0 reached")
        self.assertEqual((legA.status, legB.status, calls.engine.calls()), (LegStatus.CONNECTED, LegStatus.CONNECTED,
                                                                           [call]))
        self.assertEqual((calls.a.events, calls.b.events, calls.engine.conferenceSetups()), ([], [], []))
        self.assertEqual(calls.engine.legsOf(calls.a), [legA])

    def test_withoutBridgesRefused(self) -> None:
        """
        Without bridges (no media services) Confrn is not active.
        """
        calls = Calls()
        legA, legB = calls.connected()
        self.assertRaises(CallStateError, calls.engine.conference, legA)
        self.assertEqual(calls.a.events, [])

    def test_secondConfrnWhileRinging(self) -> None:
        """
        Confrn again while Carol still rings is refused; nothing changes.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB = calls.connected()
        consult = calls.engine.conference(legA)
        calls.setup.dial(consult, "2003")
        self.assertRaises(CallStateError, calls.engine.conference, consult)
        self.assertEqual(len(calls.engine.conferenceSetups()), 1)

    def test_consultHangUpResumes(self) -> None:
        """
        Hanging up the consult leg frees the reservation and resumes the
        call with Bob: Bob's music closes and new media opens.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB, consult, legC = consulting(calls)
        with capturedLogs() as events:
            calls.engine.hangUp(consult)
        self.assertEqual((bridges.bridges, calls.engine.conferenceSetups()), ([], []))
        self.assertEqual(legA.status, LegStatus.CONNECTED)
        self.assertEqual(calls.b.names(), ["mediaClosed", "resumedByRemote", "openReceive"])
        self.assertEqual(music.open(), [])
        self.assertIn("2001: conference cancelled; resuming", [formatEvent(e) for e in events])

    def test_heldPartyHangsUp(self) -> None:
        """
        Bob hanging up while Alice consults frees the reservation; Alice's
        call with Carol goes on as an ordinary call.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB, consult, legC = consulting(calls)
        calls.engine.hangUp(legB)
        self.assertEqual((bridges.bridges, calls.engine.conferenceSetups()), ([], []))
        [call] = calls.engine.calls()
        self.assertEqual((call.caller, call.callee, call.conference, consult.conferenceConsult),
                         (consult, legC, None, False))


class ConferenceTests(SynchronousTestCase):
    """
    The running conference.
    """

    def test_join(self) -> None:
        """
        The second Confrn: Bob's music, Alice's and Carol's streams close,
        Alice's held leg is released merged, and each participant (Alice
        first) gets a call to its own bridge leg, connected to
        "Conference" in the order of a call being answered by the bridge:
        the bridge side opens first.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB, consult, legC = joined(calls)
        [bridge] = bridges.bridges
        self.assertEqual(calls.a.names(), ["mediaClosed", "released", "connected", "openReceive"])
        self.assertEqual(calls.a.events[1][1:], (legA, None, True))
        self.assertTrue(legA.merged)
        self.assertEqual(calls.b.names(), ["mediaClosed", "connected", "openReceive"])
        self.assertTrue(calls.b.events[0][2].music)
        self.assertEqual(calls.c.names(), ["mediaClosed", "connected", "openReceive"])
        for endpoint, leg in ((calls.a, consult), (calls.b, legB), (calls.c, legC)):
            connected = [e for e in endpoint.events if e[0] == "connected"]
            self.assertEqual(connected, [("connected", leg, CONFERENCE, False)])
        self.assertEqual(bridge.endpoint.names(), ["openReceive", "connected"] * 3)
        faced = [bridge.endpoint.events[i][2] for i in (1, 3, 5)]
        self.assertEqual(faced, [Party("2001"), Party("2002"), Party("2003")])
        self.assertEqual(music.open(), [])
        self.assertEqual((bridge.creator, bridge.secure, calls.engine.conferenceSetups()), ("2001", False, []))
        self.assertEqual([(c.caller, c.conference.number) for c in calls.engine.calls()],
                         [(consult, bridge.number), (legB, bridge.number), (legC, bridge.number)])
        self.assertEqual(calls.engine.legsOf(calls.a), [consult])

    def test_secureKeysPerParticipant(self) -> None:
        """
        All three secure: the conference is secure, every participant's
        call is encrypted, and each participant's keys (to and from the
        bridge) are its own.
        """
        calls, bridges, music = conferenceCalls((True, True, True))
        legA, legB, consult, legC = joined(calls)
        [bridge] = bridges.bridges
        self.assertTrue(bridge.secure)
        keys = []
        for endpoint, leg in ((calls.a, consult), (calls.b, legB), (calls.c, legC)):
            self.assertEqual([e[3] for e in endpoint.events if e[0] == "connected"], [True])
            [stream] = [e[2] for e in endpoint.events if e[0] == "openReceive"]
            self.assertIsNotNone(stream.rxKeys)
            keys += [stream.rxKeys.masterKey, stream.txKeys.masterKey]
        self.assertEqual(len(set(keys)), 6)

    def test_oneClearMakesItClear(self) -> None:
        """
        One clear participant: every participant is told the call is not
        encrypted, and no keys are made.
        """
        calls, bridges, music = conferenceCalls((True, False, True))
        joined(calls)
        self.assertFalse(bridges.bridges[0].secure)
        for endpoint in (calls.a, calls.b, calls.c):
            self.assertEqual([e[3] for e in endpoint.events if e[0] == "connected"], [False])
            [stream] = [e[2] for e in endpoint.events if e[0] == "openReceive"]
            self.assertIsNone(stream.rxKeys)

    def test_conferenceSecureOff(self) -> None:
        """
        C{conference-secure: false}: clear even with three secure phones.
        """
        calls, bridges, music = conferenceCalls((True, True, True), secureAllowed=False)
        joined(calls)
        for endpoint in (calls.a, calls.b, calls.c):
            self.assertEqual([e[3] for e in endpoint.events if e[0] == "connected"], [False])

    def test_participantLeavesDirect(self) -> None:
        """
        Bob hanging up: Bob is released, Alice and Carol's bridge streams
        close, the bridge is released, and Alice and Carol are connected
        to each other with fresh media (new keys).
        """
        calls, bridges, music = conferenceCalls((True, True, True))
        legA, legB, consult, legC = joined(calls)
        [bridge] = bridges.bridges
        old = {e[1]: e[2] for e in calls.a.events + calls.c.events if e[0] == "openReceive"}
        calls.clear()
        bridge.endpoint.events.clear()
        with capturedLogs() as events:
            calls.engine.hangUp(legB)
        self.assertEqual(calls.b.names(), ["released"])
        self.assertEqual(calls.a.names(), ["mediaClosed", "connected", "openReceive"])
        self.assertEqual(calls.c.names(), ["mediaClosed", "connected", "openReceive"])
        self.assertEqual(calls.a.events[1][2:], (Party("2003"), True))
        self.assertEqual(calls.c.events[1][2:], (Party("2001"), True))
        self.assertEqual(bridge.endpoint.names(), ["released"] * 3)
        self.assertTrue(bridge.released)
        [call] = calls.engine.calls()
        self.assertEqual((call.caller, call.callee, call.conference), (consult, legC, None))
        newA = calls.a.events[2][2]
        self.assertNotEqual(newA.rxKeys.masterKey, old[consult].rxKeys.masterKey)
        self.assertIs(newA.remote, calls.c.events[2][2])
        self.assertIn("conference 1: 2002 left; two remain: they are connected directly",
                      [formatEvent(e) for e in events])
        self.assertEqual(calls.engine.legsOf(bridge.endpoint), [])

    def test_creatorLeavesEndsAll(self) -> None:
        """
        Alice (the creator) hanging up releases everyone and the bridge.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB, consult, legC = joined(calls)
        [bridge] = bridges.bridges
        calls.clear()
        calls.engine.hangUp(consult)
        for endpoint in (calls.a, calls.b, calls.c):
            self.assertEqual(endpoint.names(), ["released"])
        self.assertTrue(bridge.released)
        calls.assertIdle(self)
        self.assertEqual(calls.engine.legsOf(bridge.endpoint), [])

    def test_holdInConferenceNoMusic(self) -> None:
        """
        A participant holding inside a conference: its bridge leg is held
        without music; resume reopens media to the bridge.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB, consult, legC = joined(calls)
        [bridge] = bridges.bridges
        ports = len(music.ports)
        bridge.endpoint.events.clear()
        calls.engine.hold(legC)
        self.assertEqual(len(music.ports), ports)
        self.assertEqual(bridge.endpoint.names(), ["heldByRemote"])
        calls.engine.resume(legC)
        self.assertEqual(bridge.endpoint.names()[1:], ["resumedByRemote", "openReceive"])

    def test_joinKey(self) -> None:
        """
        Join: Alice presses Transfer, Carol answers the consult call, and
        Join makes the three a conference without a further step; the
        transfer is gone.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB, consult, legC = consulting(calls, calls.engine.transfer)
        calls.engine.join(consult)
        [bridge] = bridges.bridges
        self.assertTrue(legA.merged)
        self.assertEqual((legA.status, calls.engine.transfers()), (LegStatus.RELEASED, []))
        self.assertEqual([c.caller for c in calls.engine.calls()], [consult, legB, legC])
        self.assertEqual(bridge.creator, "2001")

    def test_joinOnConferenceConsult(self) -> None:
        """
        Join on a conference's consult leg completes it with the bridge
        already reserved.
        """
        calls, bridges, music = conferenceCalls(maxConferences=1)
        legA, legB, consult, legC = consulting(calls)
        calls.engine.join(consult)
        self.assertEqual((len(bridges.bridges), calls.engine.conferenceSetups()), (1, []))
        self.assertEqual(len(calls.engine.calls()), 3)

    def test_joinWithoutHeldCall(self) -> None:
        """
        Join with no held call on the endpoint is not active.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB = calls.connected()
        self.assertRaises(CallStateError, calls.engine.join, legA)
        self.assertEqual(bridges.bridges, [])


class VoicePortParticipantTests(SynchronousTestCase):
    """
    A voice port as a participant (design 14 §3): its endpoint is secure
    whenever the router terminates its media, so it does not make a
    conference of secure phones clear.  Pinned here until the issue owner
    decides otherwise.
    """

    def test_voicePortKeepsConferenceSecure(self) -> None:
        """
        Secure Alice and Bob conference in FXS port 1/0/0 (with media on
        the router): the conference is secure, every participant is told
        its call is encrypted, and the port's media leg opens with its own
        receive key.
        """
        calls, bridges, music = conferenceCalls((True, True, True))
        reactor = PortReactor()
        media = PortMediaResources(reactor, RtpPortAllocator("127.0.0.1", "42000-42003"), MediaPump(reactor),
                                   debug=DebugSwitches())
        port = VoicePortEndpoint(calls.engine, fxs(), media, debugLog=PORT_DEBUG_LOG)
        calls.setup.directory.add("81234", port)
        legA, legB = calls.connected()
        consult = calls.engine.conference(legA)
        calls.setup.dial(consult, "81234")
        [legP] = calls.engine.legsOf(port)
        calls.engine.answer(legP)
        calls.engine.conference(consult)
        [bridge] = bridges.bridges
        self.assertTrue(bridge.secure)
        for endpoint in (calls.a, calls.b):
            self.assertEqual([e[3] for e in endpoint.events if e[0] == "connected"][-1], True)
        [call] = [c for c in calls.engine.calls() if c.caller is legP]
        self.assertTrue(call.encrypted)
        self.assertIsNotNone(port.mediaLeg)
        self.assertIsNotNone(call.media.streamOf(legP).rxKeys)


class OtherKeysTests(SynchronousTestCase):
    """
    Transfer and shared-line pickup on a participant's call.
    """

    def test_noTransferFromConference(self) -> None:
        """
        Transfer on a conference call is not active: nothing changes.
        """
        calls, bridges, music = conferenceCalls()
        legA, legB, consult, legC = joined(calls)
        calls.clear()
        self.assertRaises(CallStateError, calls.engine.transfer, legB)
        self.assertEqual((calls.b.events, legB.status, calls.engine.transfers()), ([], LegStatus.CONNECTED, []))

    def test_sharedLinePickUpTakesThePlace(self) -> None:
        """
        Bob's desk phone (sharing 2002) picks up Bob's held part of the
        conference: it becomes the participant, and its hang-up leaves
        Alice and Carol connected directly.
        """
        calls, bridges, music = conferenceCalls()
        desk = FakeEndpoint("2002 desk")
        calls.setup.directory.add("2002", desk)
        legA = calls.aCalls("2002")
        [legB] = calls.engine.legsOf(calls.b)
        calls.engine.answer(legB)
        consult = calls.engine.conference(legA)
        calls.setup.dial(consult, "2003")
        [legC] = calls.engine.legsOf(calls.c)
        calls.engine.answer(legC)
        calls.engine.conference(consult)
        [bridge] = bridges.bridges
        [call] = [c for c in calls.engine.calls() if c.caller is legB]
        calls.engine.hold(legB)
        [monitor] = call.monitorsOn(desk)
        legDesk = calls.engine.pickUp(desk, monitor.reference)
        self.assertEqual(call.conference.participants, [consult, legDesk, legC])
        calls.engine.hangUp(legDesk)
        self.assertTrue(bridge.released)
        [direct] = calls.engine.calls()
        self.assertEqual((direct.caller, direct.callee), (consult, legC))
