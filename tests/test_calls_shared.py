"""
Tests for shared lines (L{srst.calls.call}, L{srst.calls.engine}): one
directory number on two phones (sccp.md 5.4 (j)), asserting the exact
messages each in-memory SCCP phone receives.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst._cmfconfig import EphoneConfig, LineButton
from srst.calls.leg import LegStatus
from srst.calls.sccpline import ALL_KEYS
from srst.sccp import messages as m
from srst.sccp.constants import (
    CallState,
    DeviceType,
    LampMode,
    RingDuration,
    RingMode,
    SoftKeyEvent,
    SoftKeySet,
    SpeakerMode,
    Stimulus,
)
from tests.test_calls_engine import (
    MAC_A,
    MAC_B,
    MAC_C,
    CallRouter,
    ack,
    callConfig,
    callState,
    dial,
    hangUpSequence,
    keys,
    only,
)
from tests.test_calls_forward import assertAllIdle, stopRinging
from tests.test_sccp_station import NOW, types

B_REF, C_REF = 2, 3
MAC_D = "0000000000D4"


def inUse(ref: int, rang: bool = True) -> list[m.Message]:
    """What a phone sharing the line gets when another phone has the call."""
    return (([m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), m.ClearPromptStatus(1, ref)] if rang else [])
            + [m.SetLamp(Stimulus.LINE, 1, LampMode.ON), callState(CallState.CALL_REMOTE_MULTILINE, ref),
               keys(SoftKeySet.IN_USE_HINT, ref)])


def remoteIdle(ref: int) -> list[m.Message]:
    """The shared line's call ended."""
    return [m.SetLamp(Stimulus.LINE, 1, LampMode.OFF), callState(CallState.ON_HOOK, ref),
            m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS), m.DefineTimeDate.fromDateTime(NOW)]


class SharedLine:
    """Alice (2001); Bob and Carol both have 2002 (Bob's name)."""

    def __init__(self) -> None:
        self.router = CallRouter(callConfig(ephones=(
            EphoneConfig(MAC_A, "7970", (LineButton(1, "2001", "2001", "Alice"),)),
            EphoneConfig(MAC_B, "7970", (LineButton(1, "2002", "2002", "Bob"),)),
            EphoneConfig(MAC_C, "7970", (LineButton(1, "2002", "2002", "Bob"),)))))
        self.a, self.b, self.c = (self.router.phone(mac) for mac in (MAC_A, MAC_B, MAC_C))

    def ring(self) -> None:
        self.a.send(m.OffHook())
        dial(self.a, "2002")

    def carolAnswers(self) -> None:
        self.ring()
        for phone in (self.a, self.b, self.c):
            phone.received()
        self.c.send(m.OffHook())
        self.answerC, self.answerA, self.answerB = self.c.received(), self.a.received(), self.b.received()
        self.orcA = only(self.answerA, m.OpenReceiveChannel)
        self.orcC = only(self.answerC, m.OpenReceiveChannel)
        ack(self.a, self.orcA, "10.1.1.8", 25552)
        ack(self.c, self.orcC, "10.1.1.10", 17520)
        self.a.received()
        self.c.received()


class SharedLineTests(SynchronousTestCase):
    """
    Ringing, answering, hold / pick-up and hang-up on a shared line.
    """

    def assertAllIdle(self, shared: SharedLine) -> None:
        assertAllIdle(self, shared.router)

    def test_allRing(self) -> None:
        """
        A call to the shared number rings both phones with the (c)
        sequence; the caller giving up stops both.
        """
        shared = SharedLine()
        shared.ring()
        ringB, ringC = shared.b.received(), shared.c.received()
        self.assertEqual(types(ringB), types(ringC))
        self.assertEqual(ringB[-1], m.SetRinger(RingMode.INSIDE, RingDuration.NORMAL, 1, B_REF))
        self.assertEqual(ringC[-1], m.SetRinger(RingMode.INSIDE, RingDuration.NORMAL, 1, C_REF))
        shared.a.send(m.OnHook())
        self.assertEqual(shared.b.received(), stopRinging(B_REF))
        self.assertEqual(shared.c.received(), stopRinging(C_REF))
        self.assertAllIdle(shared)

    def test_firstAnswerTakesCall(self) -> None:
        """
        Carol answering takes the call; Bob's phone stops ringing and shows
        the call in use (CallRemoteMultiline, lamp on, InUseHint keys);
        hang-up sends Bob lamp Off, OnHook, OnHook keys, DefineTimeDate.
        """
        shared = SharedLine()
        shared.carolAnswers()
        self.assertEqual(shared.answerB, inUse(B_REF))
        self.assertEqual(types(shared.answerC)[:3], ["SetRinger", "SetLamp", "CallState"])
        self.assertEqual(shared.router.engine.calls()[0].callee.endpoint.station, shared.c.station)
        self.assertEqual(shared.a.ask(m.OnHook()), hangUpSequence(1, shared.orcA))
        self.assertEqual(shared.c.received(), hangUpSequence(C_REF, shared.orcC))
        self.assertEqual(shared.b.received(), remoteIdle(B_REF))
        self.assertAllIdle(shared)

    def test_secondCallBusy(self) -> None:
        """
        While the shared line is in use, another call to it gets busy.
        """
        shared = SharedLine()
        shared.carolAnswers()
        shared.b.send(m.SoftKeyEvent(SoftKeyEvent.NEW_CALL, 1, 0))
        dial(shared.b, "2001")
        self.assertIn(callState(CallState.BUSY, 4), shared.b.received())
        shared.b.send(m.OnHook())
        shared.a.send(m.OnHook())
        self.assertAllIdle(shared)

    def test_holdAndPickUp(self) -> None:
        """
        Hold on Carol shows Bob RemoteHold with a flashing lamp; Bob's
        Resume picks the call up: Carol shows it in use, Bob is connected
        with new media, Alice's hold tone stops and her media reopens.
        """
        shared = SharedLine()
        shared.carolAnswers()
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, C_REF))
        self.assertEqual(types(shared.c.received())[-4:], ["CallState", "SelectSoftKeys", "DisplayPromptStatus",
                                                           "SetSpeakerMode"])
        self.assertEqual(shared.b.received(), [
            m.SetLamp(Stimulus.LINE, 1, LampMode.FLASH), callState(CallState.REMOTE_HOLD, B_REF),
            keys(SoftKeySet.ON_HOLD, B_REF)])
        self.assertEqual(types(shared.a.received())[-1], "StartTone")
        resumeB = shared.b.ask(m.SoftKeyEvent(SoftKeyEvent.RESUME, 1, B_REF))
        orcB = resumeB[-1]
        self.assertEqual(resumeB, [
            callState(CallState.CONNECTED, B_REF), keys(SoftKeySet.CONNECTED, B_REF),
            m.SetLamp(Stimulus.LINE, 1, LampMode.ON), m.SetSpeakerMode(SpeakerMode.ON), orcB])
        self.assertIsInstance(orcB, m.OpenReceiveChannel)
        self.assertEqual(shared.c.received(), inUse(C_REF, rang=False))
        resumeA = shared.a.received()
        self.assertEqual(resumeA[0], m.StopTone(1, 1))
        orcA = only(resumeA, m.OpenReceiveChannel)
        ack(shared.a, orcA, "10.1.1.8", 25552)
        smt = only(shared.b.received(), m.StartMediaTransmission)
        self.assertEqual((str(smt.remoteIpAddr), smt.remotePortNumber), ("10.1.1.8", 25552))
        ack(shared.b, orcB, "10.1.1.9", 17530)
        self.assertEqual(only(shared.a.received(), m.StartMediaTransmission).remotePortNumber, 17530)
        self.assertEqual(shared.router.engine.calls()[0].callee.status, LegStatus.CONNECTED)
        self.assertEqual(shared.b.ask(m.OnHook()), hangUpSequence(B_REF, orcB))
        self.assertEqual(types(shared.a.received())[:3], ["StopTone", "SetLamp", "ClearPromptStatus"])
        self.assertEqual(shared.c.received(), remoteIdle(C_REF))
        self.assertAllIdle(shared)

    def test_ownerResumes(self) -> None:
        """
        The owner resuming its held call shows the other phone in use again;
        Resume on a phone with nothing held is not active.
        """
        shared = SharedLine()
        shared.carolAnswers()
        self.assertEqual(shared.b.ask(m.SoftKeyEvent(SoftKeyEvent.RESUME, 1, B_REF)),
                         [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, C_REF))
        shared.b.received()
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.RESUME, 1, C_REF))
        self.assertEqual(shared.b.received(), inUse(B_REF, rang=False))
        shared.c.send(m.OnHook())
        self.assertEqual(shared.b.received(), remoteIdle(B_REF))
        self.assertAllIdle(shared)

    def test_unregisterWhileShown(self) -> None:
        """
        A sharing phone that disappears while ringing or while showing the
        call leaves the call to the others, and no stuck state.
        """
        shared = SharedLine()
        shared.ring()
        shared.b.transport.loseConnection()
        shared.b.protocol.connectionLost(None)
        shared.c.received()
        shared.c.send(m.OffHook())
        shared.c.received()
        self.assertEqual(shared.router.engine.calls()[0].callee.status, LegStatus.CONNECTED)
        self.assertEqual(shared.c.ask(m.OnHook())[:3], [m.StopTone(1, C_REF), m.SetLamp(Stimulus.LINE, 1, LampMode.OFF),
                                                      m.ClearPromptStatus(1, C_REF)])
        self.assertAllIdle(shared)

    def test_monitorGoneThenHold(self) -> None:
        """
        A sharing phone that disappears while showing the call is no longer
        told about hold or hang-up, and the owner's call goes on.
        """
        shared = SharedLine()
        shared.carolAnswers()
        shared.b.transport.loseConnection()
        shared.b.protocol.connectionLost(None)
        self.assertEqual(shared.router.engine.calls()[0].monitors, [])
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, C_REF))
        self.assertEqual(shared.router.engine.calls()[0].callee.status, LegStatus.HELD)
        shared.a.send(m.OnHook())
        self.assertAllIdle(shared)

    def test_outgoingShowsInUseAndPickUp(self) -> None:
        """
        A call placed from the shared line shows in use on the other phone;
        held there, the other phone picks it up, and the hang-up leaves both
        idle.
        """
        shared = SharedLine()
        shared.b.send(m.OffHook())
        dial(shared.b, "2001")
        self.assertEqual(shared.c.received(), inUse(3, rang=False))
        shared.a.send(m.OffHook())
        orcB = only(shared.b.received(), m.OpenReceiveChannel)
        shared.a.received()
        shared.b.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, 1))
        self.assertEqual(shared.c.received(), [
            m.SetLamp(Stimulus.LINE, 1, LampMode.FLASH), callState(CallState.REMOTE_HOLD, 3),
            keys(SoftKeySet.ON_HOLD, 3)])
        self.assertNotEqual(orcB.passThruPartyId, 0)
        shared.b.received()
        picked = shared.c.ask(m.SoftKeyEvent(SoftKeyEvent.RESUME, 1, 3))
        self.assertEqual(picked[0], callState(CallState.CONNECTED, 3))
        self.assertEqual(shared.b.received(), inUse(1, rang=False))
        self.assertEqual(shared.router.engine.calls()[0].caller.endpoint.station, shared.c.station)
        shared.a.send(m.OnHook())
        self.assertEqual(types(shared.c.received())[:3], ["StopTone", "SetLamp", "ClearPromptStatus"])
        self.assertEqual(shared.b.received(), remoteIdle(1))
        self.assertAllIdle(shared)

    def test_transferAwayClearsMonitor(self) -> None:
        """
        When the owner of the shared line transfers the call to another
        number, the phone that showed it in use goes idle.
        """
        router = CallRouter(callConfig(ephones=(
            EphoneConfig(MAC_A, "7970", (LineButton(1, "2001", "2001", "Alice"),)),
            EphoneConfig(MAC_B, "7970", (LineButton(1, "2002", "2002", "Bob"),)),
            EphoneConfig(MAC_C, "7970", (LineButton(1, "2002", "2002", "Bob"),)),
            EphoneConfig(MAC_D, "7970", (LineButton(1, "2004", "2004", "Dave"),)))))
        a, b, c = (router.phone(mac) for mac in (MAC_A, MAC_B, MAC_C))
        d = router.router.connect(port=30004)
        d.register("SEP" + MAC_D, protocolVersion=11, deviceType=DeviceType.PHONE_7970)
        a.send(m.OffHook())
        dial(a, "2002")
        c.send(m.OffHook())
        b.received()
        c.send(m.SoftKeyEvent(SoftKeyEvent.TRANSFER, 1, C_REF))
        dial(c, "2004")
        self.assertEqual(router.engine.calls()[0].caller.line.number, "2001")
        self.assertEqual(b.received(), [
            m.SetLamp(Stimulus.LINE, 1, LampMode.FLASH), callState(CallState.REMOTE_HOLD, B_REF),
            keys(SoftKeySet.ON_HOLD, B_REF)] + remoteIdle(B_REF))
        self.assertEqual(router.engine.calls()[0].monitors, [])
        a.send(m.OnHook())
        assertAllIdle(self, router)
