"""
Tests for L{srst.calls.forward}: forward-all from the configuration and
the CFwdAll softkey, forward-busy and forward-no-answer (sccp.md 5.4 (i)),
asserting the exact messages each in-memory SCCP phone receives.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.forward import ForwardReason, ForwardSettings, Redirect, usable
from srst.calls.interfaces import Party
from srst.calls.leg import LegStatus
from srst.calls.sccpline import ALL_KEYS
from srst.sccp import messages as m
from srst.sccp.config import CallForward
from srst.sccp.constants import (
    CallState,
    CallType,
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
    callInfo,
    callState,
    dial,
    hangUpSequence,
    keys,
    only,
)
from tests.test_sccp_station import types


def forwardedInfo(ref: int, original: str, reason: int, originalName: str = "") -> m.CallInfo:
    """The CallInfo of a forwarded incoming call from Alice (callType 3)."""
    return m.CallInfo(callingPartyName="Alice", callingParty="2001", calledPartyName="Carol",
                      calledParty="2003", lineInstance=1, callReference=ref, callType=CallType.FORWARD,
                      originalCalledPartyName=originalName, originalCalledParty=original,
                      lastRedirectingPartyName=originalName, lastRedirectingParty=original,
                      originalCdpnRedirectReason=reason, lastRedirectingReason=reason, callInstance=1,
                      callSecurityStatus=0)


def assertAllIdle(testCase: SynchronousTestCase, router: CallRouter) -> None:
    """
    No leg, no call, no leg timer; every line channel IDLE (any number of
    channels) and the show ephone counters 0.
    """
    testCase.assertEqual(router.engine.calls(), [])
    for ephone in router.router.registry.registeredEphones():
        testCase.assertEqual(router.engine.legsOf(router.control.endpointFor(ephone.station)), [])
        testCase.assertEqual({state for line in ephone.lines for state in line.channels}, {"IDLE"})
        testCase.assertEqual((ephone.activeLine, ephone.offhook, ephone.ringing, ephone.mediaActive), (0, 0, 0, 0))
    testCase.assertFalse([c for c in router.clock.getDelayedCalls() if "timedOut" not in repr(c.func)],
                         router.clock.getDelayedCalls())


def stopRinging(ref: int) -> list[m.Message]:
    """sccp.md 5.4 (f) for a still-ringing phone."""
    return [m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), callState(CallState.ON_HOOK, ref),
            m.SetLamp(Stimulus.LINE, 1, LampMode.OFF), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS)]


class Phones:
    """Alice, Bob and Carol registered on one router with the given forwarding."""

    def __init__(self, **forwards: Any) -> None:
        self.router = CallRouter()
        for name, value in forwards.items():
            setattr(self.router.engine.forwards, name, value)
        self.a, self.b, self.c = (self.router.phone(mac) for mac in (MAC_A, MAC_B, MAC_C))

    def aCallsBob(self) -> None:
        self.a.send(m.OffHook())
        dial(self.a, "2002")

    def assertAllIdle(self, testCase: SynchronousTestCase) -> None:
        assertAllIdle(testCase, self.router)


class ForwardSettingsTests(SynchronousTestCase):
    """
    The settings value and its helpers.
    """

    def test_fromConfig(self) -> None:
        """
        The call-forward section gives the router-wide targets and timeout.
        """
        settings = ForwardSettings.fromConfig(CallForward(all="3000", busy="3001", noAnswer="3002",
                                                          noAnswerTimeout=12))
        self.assertEqual((settings.all, settings.busy, settings.noAnswer, settings.noAnswerTimeout),
                         ("3000", "3001", "3002", 12))

    def test_perDnOverridesAll(self) -> None:
        """
        A phone's own forward-all wins over the router-wide one; clearing
        it falls back to the router-wide target.
        """
        settings = ForwardSettings(all="3000")
        settings.setAll("2002", "2003")
        self.assertEqual((settings.allFor("2002"), settings.allFor("2001")), ("2003", "3000"))
        settings.setAll("2002", None)
        self.assertEqual(settings.allFor("2002"), "3000")

    def test_usable(self) -> None:
        """
        A target equal to a number to avoid (loop) or empty is not used.
        """
        self.assertEqual((usable("2003", "2002"), usable("2002", "2002"), usable("", "2002"), usable(None)),
                         ("2003", None, None, None))

    def test_redirectThen(self) -> None:
        """
        Forwarding a forwarded call keeps the original number.
        """
        first = Redirect(Party("2002"), Party("2002"), ForwardReason.ALL)
        self.assertEqual(first.then(Party("2003"), ForwardReason.NO_ANSWER),
                         Redirect(Party("2002"), Party("2003"), ForwardReason.NO_ANSWER))


class ForwardAllTests(SynchronousTestCase):
    """
    Forward-all from the configuration and from the CFwdAll softkey.
    """

    def test_configuredForwardAll(self) -> None:
        """
        With call-forward all set, a call to Bob rings the target Carol
        with callType forward and original called party 2002; Bob's phone
        gets nothing.
        """
        phones = Phones(all="2003")
        phones.aCallsBob()
        ringC = phones.c.received()
        self.assertEqual(ringC[4], forwardedInfo(2, "2002", ForwardReason.ALL))
        self.assertEqual(types(ringC)[0], "CallState")
        self.assertEqual(phones.b.received(), [])
        aMsgs = phones.a.received()
        self.assertEqual(aMsgs[-1], callInfo("2001", "Alice", "2003", "Carol", 1, CallType.OUTBOUND, 0))
        phones.a.send(m.OnHook())
        self.assertEqual(phones.c.received(), stopRinging(2))
        phones.assertAllIdle(self)

    def test_softKeySetsForward(self) -> None:
        """
        CFwdAll opens "Enter number" on a fresh reference; the digits and
        '#' give ForwardStat(active), OnHook, OnHook keys, speaker off and
        "Forwarded to 2003"; a call to Bob then rings Carol.
        """
        phones = Phones()
        ref = 1
        self.assertEqual(phones.b.ask(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0)), [
            callState(CallState.OFF_HOOK, ref), keys(SoftKeySet.OFF_HOOK_FEATURES, ref),
            m.SetSpeakerMode(SpeakerMode.ON), m.DisplayPromptStatus(0, m.LABEL_ENTER_NUMBER, 1, ref)])
        dial(phones.b, "2003")
        self.assertEqual(phones.b.received(), [])
        self.assertEqual(phones.b.ask(m.KeypadButton(15)), [
            m.ForwardStat(1, 1, 1, "2003", 0, "", 0, ""), callState(CallState.ON_HOOK, ref),
            m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS), m.SetSpeakerMode(SpeakerMode.OFF),
            m.DisplayNotify(10, m.LABEL_FORWARDED_TO + "2003")])
        phones.aCallsBob()
        self.assertEqual(phones.b.received(), [])
        self.assertEqual(phones.c.received()[4], forwardedInfo(3, "2002", ForwardReason.ALL))
        phones.a.send(m.OnHook())
        phones.assertAllIdle(self)

    def test_softKeyCancels(self) -> None:
        """
        CFwdAll on a forwarded line sends ForwardStat all zero and calls
        ring the phone again.
        """
        phones = Phones()
        phones.b.send(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0))
        dial(phones.b, "2003#")
        phones.b.received()
        self.assertEqual(phones.b.ask(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0)),
                         [m.ForwardStat(0, 1, 0, "", 0, "", 0, "")])
        phones.aCallsBob()
        self.assertEqual(types(phones.b.received())[0], "CallState")
        self.assertEqual(phones.c.received(), [])
        phones.a.send(m.OnHook())
        phones.assertAllIdle(self)

    def test_keyAgainOrTimeoutEndsInput(self) -> None:
        """
        The forward button pressed again ends the input like '#'; the
        inter-digit timeout does too, and with no digits nothing is set.
        """
        phones = Phones()
        phones.b.send(m.Stimulus(Stimulus.FORWARD_ALL, 1))
        dial(phones.b, "2003")
        phones.b.received()
        self.assertEqual(phones.b.ask(m.Stimulus(Stimulus.FORWARD_ALL, 1))[0],
                         m.ForwardStat(1, 1, 1, "2003", 0, "", 0, ""))
        self.assertEqual(phones.router.engine.forwards.perDn, {"2002": "2003"})
        phones.c.send(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0))
        phones.c.received()
        phones.router.clock.advance(phones.router.engine.interdigit)
        self.assertEqual(phones.c.received(), [
            callState(CallState.ON_HOOK, 2), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS),
            m.SetSpeakerMode(SpeakerMode.OFF)])
        self.assertEqual(phones.router.engine.forwards.perDn, {"2002": "2003"})
        phones.assertAllIdle(self)

    def test_notDuringCall(self) -> None:
        """
        CFwdAll while the phone has a call is "Key Is Not Active".
        """
        phones = Phones()
        phones.a.send(m.OffHook())
        phones.a.received()
        self.assertEqual(phones.a.ask(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0)),
                         [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        phones.a.send(m.OnHook())
        phones.assertAllIdle(self)

    def test_unregisterDuringInput(self) -> None:
        """
        A phone that disappears while entering a number leaves no timer.
        """
        phones = Phones()
        phones.b.send(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0))
        phones.b.transport.loseConnection()
        phones.b.protocol.connectionLost(None)
        self.assertFalse(phones.router.control.forwardKeys.active(phones.b))
        self.assertFalse([c for c in phones.router.clock.getDelayedCalls() if "timedOut" not in repr(c.func)])


class ForwardBusyNoAnswerTests(SynchronousTestCase):
    """
    Router-wide forward-busy and forward-no-answer.
    """

    def test_busyForwards(self) -> None:
        """
        A call to a busy Bob rings Carol with the busy reason.
        """
        phones = Phones(busy="2003")
        phones.b.send(m.OffHook())
        phones.b.received()
        phones.aCallsBob()
        self.assertEqual(phones.c.received()[4], forwardedInfo(3, "2002", ForwardReason.BUSY))
        phones.a.send(m.OnHook())
        phones.b.send(m.OnHook())
        phones.assertAllIdle(self)

    def test_busyTargetBusyToo(self) -> None:
        """
        When the busy target is busy as well, the caller hears busy.
        """
        phones = Phones(busy="2003")
        phones.b.send(m.OffHook())
        phones.c.send(m.OffHook())
        phones.aCallsBob()
        self.assertIn(callState(CallState.BUSY, 3), phones.a.received())
        for phone in (phones.a, phones.b, phones.c):
            phone.send(m.OnHook())
        phones.assertAllIdle(self)

    def test_noAnswerForwards(self) -> None:
        """
        After no-answer-timeout seconds Bob stops ringing (SetRinger Off,
        OnHook, lamp Off, OnHook keys), Alice's CallInfo names Carol, and
        Carol rings with callType forward and original called 2002; Carol
        answers and the call connects with media.
        """
        phones = Phones(noAnswer="2003", noAnswerTimeout=8)
        phones.aCallsBob()
        phones.a.received()
        phones.b.received()
        phones.router.clock.advance(7)
        self.assertEqual((phones.a.received(), phones.b.received(), phones.c.received()), ([], [], []))
        phones.router.clock.advance(1)
        self.assertEqual(phones.b.received(), stopRinging(2))
        self.assertEqual(phones.a.received(),
                         [callInfo("2001", "Alice", "2003", "Carol", 1, CallType.OUTBOUND, 0)])
        ringC = phones.c.received()
        self.assertEqual(types(ringC), ["CallState", "SelectSoftKeys", "DisplayPromptStatus", "DisplayPriNotify",
                                        "CallInfo", "SetLamp", "SetRinger"])
        self.assertEqual(ringC[4], forwardedInfo(3, "2002", ForwardReason.NO_ANSWER, "Bob"))
        phones.c.send(m.OffHook())
        orcC = only(phones.c.received(), m.OpenReceiveChannel)
        orcA = only(phones.a.received(), m.OpenReceiveChannel)
        ack(phones.a, orcA, "10.1.1.8", 25552)
        self.assertEqual(types(phones.c.received()), ["StartMediaTransmission"])
        self.assertEqual(phones.router.engine.calls()[0].callee.status, LegStatus.CONNECTED)
        self.assertEqual(phones.c.ask(m.OnHook()), hangUpSequence(3, orcC))
        self.assertEqual(phones.a.received(), hangUpSequence(1, orcA))
        phones.assertAllIdle(self)

    def test_noAnswerTargetBusy(self) -> None:
        """
        When the no-answer target is busy, the original phone keeps ringing
        until answered.
        """
        phones = Phones(noAnswer="2003", noAnswerTimeout=8)
        phones.c.send(m.OffHook())
        phones.aCallsBob()
        phones.b.received()
        phones.router.clock.advance(8)
        self.assertEqual(phones.b.received(), [])
        phones.b.send(m.OffHook())
        self.assertEqual(phones.router.engine.calls()[0].callee.status, LegStatus.CONNECTED)
        for phone in (phones.a, phones.c):
            phone.send(m.OnHook())
        phones.assertAllIdle(self)
