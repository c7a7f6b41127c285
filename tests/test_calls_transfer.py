"""
Tests for L{srst.calls.transfer}: blind and consultative transfer,
transfer patterns, cancelling and unregistering mid-transfer (sccp.md 5.4
(h)), asserting the exact messages each in-memory SCCP phone receives.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from srst._cmfconfig import CallForward
from srst.calls.engine import CallEngine
from srst.calls.forward import ForwardSettings
from srst.calls.leg import LegStatus
from srst.calls.transfer import allowed, isBlind, patternMatches
from srst.sccp import messages as m
from srst.sccp.constants import (
    CallState,
    CallType,
    LampMode,
    SoftKeyEvent,
    SoftKeySet,
    SpeakerMode,
    Stimulus,
    Tone,
)
from tests.test_calls_engine import (
    A_REF,
    B_REF,
    MAC_C,
    CallRouter,
    CallSetup,
    ack,
    callConfig,
    callInfo,
    callState,
    dial,
    hangUpSequence,
    keys,
    offHookSequence,
    only,
    prompt,
    tone,
)
from tests.test_calls_forward import assertAllIdle
from tests.test_sccp_station import makeConfig, types

CONSULT_REF, C_REF = 3, 4


def holdSequence(ref: int, orc: m.OpenReceiveChannel) -> list[m.Message]:
    """sccp.md 5.4 (g), holder side."""
    pid = orc.passThruPartyId
    return [m.CloseReceiveChannel(ref, pid, ref), m.StopMediaTransmission(ref, pid, ref),
            m.SetLamp(Stimulus.LINE, 1, LampMode.WINK), callState(CallState.HOLD, ref),
            keys(SoftKeySet.ON_HOLD, ref), prompt(m.LABEL_HOLD, ref), m.SetSpeakerMode(SpeakerMode.OFF)]


def consultSequence(ref: int) -> list[m.Message]:
    """The consult leg's off-hook sequence, with the OffHookWithFeatures keys."""
    return [keys(SoftKeySet.OFF_HOOK_FEATURES, ref) if isinstance(msg, m.SelectSoftKeys) else msg
            for msg in offHookSequence(ref)]


class Transferring:
    """Alice talks to Bob; Carol is registered too."""

    def __init__(self, testCase: SynchronousTestCase, channels: int = 1, system: str = "full-consult",
                 secure: bool = False, patterns: tuple[str, ...] = ()) -> None:
        self.testCase = testCase
        router = CallRouter(callConfig(lineMode="dual-line" if channels == 2 else "single"))
        self.call = CallSetup(testCase, secureA=secure, secureB=secure, router=router)
        engine = self.engine = self.call.router.engine
        engine.channelsPerDn, engine.transferSystem, engine.transferPatterns = channels, system, patterns
        self.a, self.b = self.call.a, self.call.b
        self.c = self.call.router.phone(MAC_C, secure=secure)
        self.call.connect()

    def press(self, ref: int = A_REF) -> list[m.Message]:
        """Alice presses Transfer; @return: what she got."""
        return self.a.ask(m.SoftKeyEvent(SoftKeyEvent.TRANSFER, 1, ref))

    def start(self) -> None:
        self.press()
        for phone in (self.a, self.b):
            phone.received()

    def carolAnswers(self) -> tuple[m.OpenReceiveChannel, m.OpenReceiveChannel]:
        """Carol answers the consult call; media flows; @return: the ORCs of Alice and Carol."""
        self.c.received()
        self.c.send(m.OffHook())
        orcC = only(self.c.received(), m.OpenReceiveChannel)
        orcA = only(self.a.received(), m.OpenReceiveChannel)
        ack(self.a, orcA, "10.1.1.8", 25560)
        ack(self.c, orcC, "10.1.1.10", 25570)
        self.a.received()
        self.c.received()
        return orcA, orcC

    def assertAllIdle(self) -> None:
        assertAllIdle(self.testCase, self.call.router)


class PatternTests(SynchronousTestCase):
    """
    IOS dial patterns of transfer-pattern, and the blind decision.
    """

    def test_wildcards(self) -> None:
        """
        '.' matches one digit, 'T' any further digits, ranges one of a set;
        the whole number must match.
        """
        self.assertTrue(patternMatches("555....", "5551234"))
        self.assertFalse(patternMatches("555....", "555123"))
        self.assertTrue(patternMatches("9T", "9"))
        self.assertTrue(patternMatches("9T", "90123456"))
        self.assertTrue(patternMatches("4[0-3]..", "4210"))
        self.assertFalse(patternMatches("4[0-3]..", "4510"))
        self.assertFalse(patternMatches("4[0-3", "4510"))
        self.assertEqual((allowed(("1...", "9T"), "912"), allowed((), "912")), (True, False))

    def test_isBlind(self) -> None:
        """
        Blind for blind/full-blind, or without a second channel.
        """
        self.assertEqual([isBlind("full-consult", 2), isBlind("full-consult", 1), isBlind("blind", 2),
                          isBlind("full-blind", 8), isBlind("local-consult", 2)],
                         [False, True, True, True, False])


class WiringTests(SynchronousTestCase):
    """
    The engine built from a call-manager-fallback section the way the
    service is meant to build it.
    """

    def test_fromConfig(self) -> None:
        """
        call-forward, transfer-system, transfer-pattern and max-dn dual-line
        reach the engine's settings; dual-line full-consult is not blind.
        """
        cmf = makeConfig(callForward=CallForward(busy="2003", noAnswer="2004", noAnswerTimeout=9),
                         transferSystem="full-consult", transferPatterns=("9T",), lineMode="dual-line")
        engine = CallEngine(Clock(), interdigit=cmf.timeouts.interdigit, ringing=cmf.timeouts.ringing,
                            secondaryDialtone=cmf.secondaryDialtone,
                            forwards=ForwardSettings.fromConfig(cmf.callForward),
                            transferSystem=cmf.transferSystem, transferPatterns=cmf.transferPatterns,
                            channelsPerDn=cmf.channelsPerDn)
        self.assertEqual((engine.forwards.busy, engine.forwards.noAnswer, engine.forwards.noAnswerTimeout,
                          engine.transferPatterns, engine.channelsPerDn),
                         ("2003", "2004", 9, ("9T",), 2))
        self.assertFalse(isBlind(engine.transferSystem, engine.channelsPerDn))


class TransferTests(SynchronousTestCase):
    """
    The Transfer softkey on a connected call.
    """

    def test_startHoldsAndOpensConsult(self) -> None:
        """
        Transfer puts Alice's call on hold (Bob hears the hold tone) and
        opens a consult leg with dial tone and OffHookWithFeatures keys.
        """
        t = Transferring(self, channels=2)
        self.assertEqual(t.press(), holdSequence(A_REF, t.call.orcA) + consultSequence(CONSULT_REF))
        self.assertEqual(t.b.received()[-1], tone(Tone.HOLD, B_REF))
        resumed = t.a.ask(m.OnHook())
        self.assertEqual(resumed[:-1], hangUpSequence(CONSULT_REF, None, answered=False) + [
            callState(CallState.CONNECTED, A_REF), keys(SoftKeySet.CONNECTED, A_REF),
            m.SetLamp(Stimulus.LINE, 1, LampMode.ON), m.SetSpeakerMode(SpeakerMode.ON)])
        self.assertIsInstance(resumed[-1], m.OpenReceiveChannel)
        t.a.send(m.OnHook())
        t.assertAllIdle()

    def test_blindWithoutSecondChannel(self) -> None:
        """
        On a single-channel DN the transfer is blind: once Carol rings,
        Alice's legs are cleared, Bob hears ringback with Carol in CallInfo,
        Carol's CallInfo shows Bob calling; Carol answers and Bob and Carol
        get media.
        """
        t = Transferring(self)
        t.start()
        dial(t.a, "2003")
        received = t.a.received()
        end = len(hangUpSequence(CONSULT_REF, None, answered=False)) + len(hangUpSequence(A_REF, None))
        self.assertEqual(received[-end:], hangUpSequence(CONSULT_REF, None, answered=False)
                         + hangUpSequence(A_REF, None))
        self.assertEqual(t.b.received(), [
            m.StopTone(1, B_REF), callState(CallState.RING_OUT, B_REF), tone(Tone.ALERTING, B_REF),
            callInfo("2003", "Carol", "2002", "Bob", B_REF, CallType.INBOUND, 0)])
        ringC = t.c.received()
        self.assertEqual(ringC[-1], callInfo("2002", "Bob", "2003", "Carol", C_REF, CallType.INBOUND, 0))
        t.c.send(m.OffHook())
        orcC = only(t.c.received(), m.OpenReceiveChannel)
        orcB = only(t.b.received(), m.OpenReceiveChannel)
        ack(t.b, orcB, "10.1.1.9", 17600)
        self.assertEqual(only(t.c.received(), m.StartMediaTransmission).remotePortNumber, 17600)
        self.assertEqual(t.engine.legsOf(t.call.router.control.endpointFor(t.a.station)), [])
        self.assertEqual(t.c.ask(m.OnHook()), hangUpSequence(C_REF, orcC))
        self.assertEqual(t.b.received(), hangUpSequence(B_REF, orcB))
        t.assertAllIdle()

    def test_blindByPressingAgainWhileRinging(self) -> None:
        """
        With a second channel, Transfer pressed again while Carol rings
        completes blind.
        """
        t = Transferring(self, channels=2)
        t.start()
        dial(t.a, "2003")
        self.assertEqual(types(t.a.received())[-3:], ["CallState", "StartTone", "CallInfo"])
        self.assertEqual(t.press(CONSULT_REF), hangUpSequence(CONSULT_REF, None, answered=False)
                         + hangUpSequence(A_REF, None))
        self.assertEqual(types(t.b.received()), ["StopTone", "CallState", "StartTone", "CallInfo"])
        t.b.send(m.OnHook())
        self.assertEqual(types(t.c.received())[-4:], ["SetRinger", "CallState", "SetLamp", "SelectSoftKeys"])
        t.assertAllIdle()

    def test_transferSystemBlind(self) -> None:
        """
        transfer-system blind completes as soon as the target rings, even
        with a second channel.
        """
        t = Transferring(self, channels=2, system="blind")
        t.start()
        dial(t.a, "2003")
        self.assertEqual(t.a.received()[-len(hangUpSequence(A_REF, None)):], hangUpSequence(A_REF, None))
        self.assertEqual(t.engine.calls()[0].caller.line.number, "2002")
        t.c.send(m.SoftKeyEvent(SoftKeyEvent.END_CALL, 1, C_REF))
        t.assertAllIdle()

    def test_consult(self) -> None:
        """
        Full-consult with dual-line: Alice talks to Carol, Transfer again
        clears both of Alice's legs and joins Bob and Carol with Connected,
        their CallInfo and new OpenReceiveChannels.
        """
        t = Transferring(self, channels=2)
        t.start()
        dial(t.a, "2003")
        t.a.received()
        orcA, orcC = t.carolAnswers()
        alice = t.call.router.router.registry.byMac(t.call.a.station.ephone.mac)
        self.assertEqual(alice.lines[0].channels, ["HOLD", "CONNECTED"])
        self.assertEqual(t.press(CONSULT_REF), hangUpSequence(CONSULT_REF, orcA) + hangUpSequence(A_REF, None))
        receivedB, receivedC = t.b.received(), t.c.received()
        self.assertEqual(receivedB[:5], [
            m.StopTone(1, B_REF), callState(CallState.CONNECTED, B_REF), keys(SoftKeySet.CONNECTED, B_REF),
            prompt(m.LABEL_CONNECTED, B_REF), callInfo("2003", "Carol", "2002", "Bob", B_REF, CallType.INBOUND, 1)])
        pid = orcC.passThruPartyId
        self.assertEqual(receivedC[:2], [m.CloseReceiveChannel(C_REF, pid, C_REF),
                                         m.StopMediaTransmission(C_REF, pid, C_REF)])
        self.assertEqual(receivedC[2:6], [m.StopTone(1, C_REF), callState(CallState.CONNECTED, C_REF),
                                          keys(SoftKeySet.CONNECTED, C_REF), prompt(m.LABEL_CONNECTED, C_REF)])
        newB, newC = only(receivedB, m.OpenReceiveChannel), only(receivedC, m.OpenReceiveChannel)
        ack(t.b, newB, "10.1.1.9", 17610)
        self.assertEqual(only(t.c.received(), m.StartMediaTransmission).remotePortNumber, 17610)
        t.b.send(m.OnHook())
        self.assertEqual(t.c.received(), hangUpSequence(C_REF, newC))
        t.assertAllIdle()

    def test_secureConsultFreshKeys(self) -> None:
        """
        Joining two secure phones sends new SRTP keys, different from those
        of both earlier calls.
        """
        t = Transferring(self, channels=2, secure=True)
        t.start()
        dial(t.a, "2003")
        t.a.received()
        orcA, orcC = t.carolAnswers()
        t.press(CONSULT_REF)
        newB, newC = only(t.b.received(), m.OpenReceiveChannel), only(t.c.received(), m.OpenReceiveChannel)
        self.assertNotEqual(newB.rxKey, m.NO_KEY)
        old = {t.call.orcA.rxKey, t.call.orcB.rxKey, orcA.rxKey, orcC.rxKey}
        self.assertNotIn(newB.rxKey, old)
        self.assertNotIn(newC.rxKey, old)
        t.c.send(m.OnHook())
        t.assertAllIdle()

    def test_patternRefused(self) -> None:
        """
        A non-local target matching no transfer-pattern gets "Can Not
        Complete Transfer" with reorder; the consult leg clears and the
        original call resumes with new media.
        """
        t = Transferring(self, channels=2)
        t.start()
        received = t.a.ask(m.KeypadButton(5))
        refused = [prompt(m.LABEL_CAN_NOT_COMPLETE_TRANSFER, CONSULT_REF), tone(Tone.REORDER, CONSULT_REF)]
        self.assertEqual(received[2:4], refused)
        self.assertEqual(received[4:11], hangUpSequence(CONSULT_REF, None, answered=False))
        self.assertEqual(received[11:15], [callState(CallState.CONNECTED, A_REF), keys(SoftKeySet.CONNECTED, A_REF),
                                           m.SetLamp(Stimulus.LINE, 1, LampMode.ON), m.SetSpeakerMode(SpeakerMode.ON)])
        self.assertIsInstance(received[15], m.OpenReceiveChannel)
        receivedB = t.b.received()
        self.assertEqual(receivedB[0], m.StopTone(1, B_REF))
        self.assertEqual(t.engine.calls()[0].caller.status, LegStatus.CONNECTED)
        t.b.send(m.OnHook())
        t.assertAllIdle()

    def test_patternAllowed(self) -> None:
        """
        A non-local target matching a transfer-pattern is not refused; with
        no route it fails as an unknown number and the held call stays held
        until the consult leg is ended.
        """
        t = Transferring(self, channels=2, patterns=("5T",))
        t.start()
        received = t.a.ask(m.KeypadButton(5))
        self.assertEqual(received[2:], [prompt(m.LABEL_UNKNOWN_NUMBER, CONSULT_REF),
                                        tone(Tone.REORDER, CONSULT_REF)])
        self.assertEqual(t.engine.calls()[0].caller.status, LegStatus.HELD)
        t.a.send(m.SoftKeyEvent(SoftKeyEvent.END_CALL, 1, CONSULT_REF))
        self.assertEqual(t.engine.calls()[0].caller.status, LegStatus.CONNECTED)
        t.a.send(m.OnHook())
        t.assertAllIdle()

    def test_targetHangsUpDuringConsult(self) -> None:
        """
        Carol hanging up during the consultation clears the consult leg and
        resumes Alice's call with Bob.
        """
        t = Transferring(self, channels=2)
        t.start()
        dial(t.a, "2003")
        t.a.received()
        orcA, orcC = t.carolAnswers()
        self.assertEqual(t.c.ask(m.OnHook()), hangUpSequence(C_REF, orcC))
        received = t.a.received()
        self.assertEqual(received[:len(hangUpSequence(CONSULT_REF, orcA))], hangUpSequence(CONSULT_REF, orcA))
        self.assertEqual(types(received)[-5:], ["CallState", "SelectSoftKeys", "SetLamp", "SetSpeakerMode",
                                                "OpenReceiveChannel"])
        self.assertEqual(types(t.b.received()), ["StopTone", "OpenReceiveChannel"])
        t.a.send(m.OnHook())
        t.assertAllIdle()

    def test_unregisterTransferorMidTransfer(self) -> None:
        """
        The transferor disappearing while the target rings clears Bob and
        Carol and leaves no stuck call or timer.
        """
        t = Transferring(self, channels=2)
        t.start()
        dial(t.a, "2003")
        t.a.transport.loseConnection()
        t.a.protocol.connectionLost(None)
        self.assertEqual(types(t.b.received())[-1], "SetRinger")
        self.assertEqual(types(t.c.received())[-4:], ["SetRinger", "CallState", "SetLamp", "SelectSoftKeys"])
        self.assertEqual(t.engine.calls(), [])
        self.assertEqual(t.engine.transfers(), [])
        self.assertFalse([c for c in t.call.router.clock.getDelayedCalls() if "timedOut" not in repr(c.func)])

    def test_heldPartyGoneMidTransfer(self) -> None:
        """
        Bob disappearing during the consultation leaves Alice's consult call
        with Carol as an ordinary call; Transfer on it is then a new
        transfer attempt, not a completion.
        """
        t = Transferring(self, channels=2)
        t.start()
        dial(t.a, "2003")
        t.a.received()
        t.carolAnswers()
        t.b.transport.loseConnection()
        t.b.protocol.connectionLost(None)
        self.assertEqual(t.a.received(), hangUpSequence(A_REF, None))
        self.assertEqual(t.engine.transfers(), [])
        self.assertEqual([call.caller.line.number for call in t.engine.calls()], ["2001"])
        t.c.send(m.OnHook())
        self.assertEqual(t.engine.calls(), [])

    def test_transferWhenNotConnected(self) -> None:
        """
        Transfer on a phone that is only dialling is not active.
        """
        t: Any = Transferring(self)
        t.c.send(m.OffHook())
        t.c.received()
        self.assertEqual(t.c.ask(m.SoftKeyEvent(SoftKeyEvent.TRANSFER, 1, 0)),
                         [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        for phone in (t.a, t.c):
            phone.send(m.OnHook())
        t.assertAllIdle()
