"""
Tests for L{srst.sccp.callcontrol}: the SCCP call flows of basic calls
between in-memory phones on a L{Clock} (off hook, dialling, ringing,
answer, media, hang-up, hold, SRTP keys, bad input), asserting the exact
messages each phone receives, in the order of sccp.md 5.4.
"""

from __future__ import annotations

from typing import Any


from automat import NoTransition
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from srst.sccp.config import CallForward, EphoneConfig, LineButton, SpeedDial, Timeouts
from srst.calls.engine import CallStateError
from srst.calls.interfaces import DialMatch, ICallEndpoint, IDirectory, LineRef
from srst.calls.leg import LegStatus
from srst.calls.mediaservices import ConferenceRefused
from srst.media.srtp import SrtpError, SrtpReceiver, SrtpSender, generateKeys
from srst.sccp import messages as m
from srst.sccp.callendpoint import ALL_KEYS
from srst.sccp.constants import (
    CallSecurityStatus,
    CallState,
    CallType,
    LampMode,
    RingDuration,
    RingMode,
    SoftKeyEvent,
    SoftKeySet,
    SpeakerMode,
    Stimulus,
    Tone,
    UnregisterStatus,
    sentByPhone,
)
from srst.sccp.srtpkeys import fromKeyInfo
from tests.callhelpers import (
    A_REF,
    B_REF,
    MAC_A,
    MAC_B,
    MAC_C,
    CallRouter,
    DN,
    NAMES,
    CallSetup,
    ack,
    assertAllIdle,
    callConfig,
    callInfo,
    callState,
    dial,
    forwardedInfo,
    hangUpSequence,
    keys,
    offHookSequence,
    only,
    prompt,
    tone,
)
from tests.pcap import buildPcap
from tests.test_sccp_station import types
from tests.toolhelpers import tsharkLines

IDLE_LINE = [["IDLE"]]
"""The line channels of an idle phone with one line."""


class BasicCallTests(SynchronousTestCase):
    """
    Off hook, dialling, ringing, answer, media and hang-up between two
    clear-text phones.
    """

    def test_offHookDialTone(self) -> None:
        """
        Lifting the handset gives the (a) sequence without the speaker;
        the NewCall softkey and the line key add SetSpeakerMode(On).
        """
        router = CallRouter()
        a, b, c = router.phone(MAC_A), router.phone(MAC_B), router.phone(MAC_C)
        self.assertEqual(a.ask(m.OffHook()), offHookSequence(A_REF))
        self.assertEqual(b.ask(m.SoftKeyEvent(SoftKeyEvent.NEW_CALL, 0, 0)), offHookSequence(2, speaker=True))
        self.assertEqual(c.ask(m.Stimulus(Stimulus.LINE, 1)), offHookSequence(3, speaker=True))

    def test_ringAndAnswer(self) -> None:
        """
        Dialling Bob's number gives Alice (b) then RingOut with ringback,
        Bob rings (c); Bob answering gives him (d) with OpenReceiveChannel
        and Alice Connected then OpenReceiveChannel; each ack sends
        StartMediaTransmission to the other phone with the acking phone's
        address.
        """
        call = CallSetup(self)
        ringA, ringB = call.ring()
        self.assertEqual(ringA[len(offHookSequence(A_REF)):], [
            m.StopTone(1, A_REF), keys(SoftKeySet.DIGITS_FOLLOWING, A_REF),
            m.DialedNumber("2002", 1, A_REF), callState(CallState.PROCEED, A_REF),
            callInfo("2001", "Alice", "2002", "", A_REF, CallType.OUTBOUND, 0),
            keys(SoftKeySet.RING_OUT, A_REF), prompt(m.LABEL_RING_OUT, A_REF),
            callState(CallState.RING_OUT, A_REF), tone(Tone.ALERTING, A_REF),
            callInfo("2001", "Alice", "2002", "Bob", A_REF, CallType.OUTBOUND, 0)])
        text = m.LABEL_FROM + "Alice"
        self.assertEqual(ringB, [
            callState(CallState.RING_IN, B_REF), keys(SoftKeySet.RING_IN, B_REF), prompt(text, B_REF),
            m.DisplayPriNotify(10, 5, text), callInfo("2001", "Alice", "2002", "Bob", B_REF, CallType.INBOUND, 0),
            m.SetLamp(Stimulus.LINE, 1, LampMode.BLINK), m.SetRinger(RingMode.INSIDE, RingDuration.NORMAL, 1, B_REF)])

        call.b.send(m.OffHook())
        answerB, answerA = call.b.received(), call.a.received()
        orcB = answerB[6]
        self.assertEqual(answerB, [
            m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), m.SetLamp(Stimulus.LINE, 1, LampMode.ON),
            callState(CallState.OFF_HOOK, B_REF), m.ActivateCallPlane(1),
            m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 1, B_REF), m.StopTone(1, B_REF), orcB,
            m.StopTone(1, B_REF), callState(CallState.CONNECTED, B_REF), keys(SoftKeySet.CONNECTED, B_REF),
            prompt(m.LABEL_CONNECTED, B_REF),
            callInfo("2001", "Alice", "2002", "Bob", B_REF, CallType.INBOUND, CallSecurityStatus.NOT_AUTHENTICATED)])
        self.assertIsInstance(orcB, m.OpenReceiveChannel)
        orcA = answerA[-1]
        self.assertEqual(answerA, [
            m.StopTone(1, A_REF), callState(CallState.CONNECTED, A_REF), keys(SoftKeySet.CONNECTED, A_REF),
            prompt(m.LABEL_CONNECTED, A_REF),
            callInfo("2001", "Alice", "2002", "Bob", A_REF, CallType.OUTBOUND, CallSecurityStatus.NOT_AUTHENTICATED),
            orcA])
        for orc, ref in ((orcA, A_REF), (orcB, B_REF)):
            self.assertEqual((orc.conferenceId, orc.callReference, orc.millisecondPacketSize,
                              orc.compressionType, orc.rxKey), (ref, ref, 20, 4, m.NO_KEY))
        self.assertNotEqual(orcA.passThruPartyId, orcB.passThruPartyId)

        self.assertEqual(ack(call.a, orcA, "10.1.1.8", 25552), [])
        smtB = only(call.b.received(), m.StartMediaTransmission)
        self.assertEqual((str(smtB.remoteIpAddr), smtB.remotePortNumber, smtB.passThruPartyId, smtB.callReference,
                          smtB.compressionType, smtB.precedenceValue, smtB.txKey),
                         ("10.1.1.8", 25552, orcB.passThruPartyId, B_REF, 4, 0xB8, m.NO_KEY))
        self.assertEqual(ack(call.b, orcB, "10.1.1.9", 17520), [])
        smtA = only(call.a.received(), m.StartMediaTransmission)
        self.assertEqual((str(smtA.remoteIpAddr), smtA.remotePortNumber, smtA.passThruPartyId),
                         ("10.1.1.9", 17520, orcA.passThruPartyId))


    def test_hangUpByCaller(self) -> None:
        """
        The caller's OnHook gives both phones the (f) sequence with
        CloseReceiveChannel and StopMediaTransmission; everything is idle
        afterwards.
        """
        call = CallSetup(self)
        call.connect()
        self.assertEqual(call.a.ask(m.OnHook()), hangUpSequence(A_REF, call.orcA))
        self.assertEqual(call.b.received(), hangUpSequence(B_REF, call.orcB))
        assertAllIdle(self, call.router, IDLE_LINE)

    def test_hangUpByCallee(self) -> None:
        """
        The callee's EndCall softkey clears both sides the same way.
        """
        call = CallSetup(self)
        call.connect()
        self.assertEqual(call.b.ask(m.SoftKeyEvent(SoftKeyEvent.END_CALL, 1, B_REF)), hangUpSequence(B_REF, call.orcB))
        self.assertEqual(call.a.received(), hangUpSequence(A_REF, call.orcA))
        assertAllIdle(self, call.router, IDLE_LINE)

    def test_callerGivesUpWhileRinging(self) -> None:
        """
        The caller hanging up while the callee rings stops the ringer:
        SetRinger Off, CallState OnHook, lamp Off, OnHook softkeys.
        """
        call = CallSetup(self)
        call.ring()
        self.assertEqual(call.a.ask(m.OnHook()), hangUpSequence(A_REF, None, answered=False))
        self.assertEqual(call.b.received(), [
            m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), callState(CallState.ON_HOOK, B_REF),
            m.SetLamp(Stimulus.LINE, 1, LampMode.OFF), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS)])
        assertAllIdle(self, call.router, IDLE_LINE)

    def test_noAnswerTimeout(self) -> None:
        """
        A call still ringing after timeouts ringing is cleared on both
        phones; answering in time cancels the timer.
        """
        call = CallSetup(self, router=CallRouter(callConfig(timeouts=Timeouts(ringing=30))))
        call.ring()
        call.router.clock.advance(29)
        self.assertEqual((call.a.received(), call.b.received()), ([], []))
        call.router.clock.advance(1)
        self.assertEqual(types(call.b.received()), ["SetRinger", "CallState", "SetLamp", "SelectSoftKeys"])
        self.assertEqual(call.a.received(), hangUpSequence(A_REF, None, answered=False))
        assertAllIdle(self, call.router, IDLE_LINE)
        call.ring()
        call.b.send(m.OffHook())
        call.router.clock.advance(60)
        self.assertEqual(call.router.engine.calls()[0].callee.status, LegStatus.CONNECTED)

    def test_busy(self) -> None:
        """
        Calling a phone that has a call gives busy: CallState Busy, busy
        tone, "Busy"; the call in progress is untouched.
        """
        call = CallSetup(self)
        call.connect()
        c = call.router.phone(MAC_C)
        c.send(m.OffHook())
        c.received()
        dial(c, "2001")
        self.assertEqual(c.received(), [
            m.StopTone(1, 3), keys(SoftKeySet.DIGITS_FOLLOWING, 3), callState(CallState.BUSY, 3),
            tone(Tone.LINE_BUSY, 3), prompt(m.LABEL_BUSY, 3)])
        self.assertEqual((call.a.received(), call.b.received()), ([], []))
        self.assertEqual(c.ask(m.OnHook()), hangUpSequence(3, None, answered=False))
        self.assertEqual(len(call.router.engine.calls()), 1)

    def test_unknownNumber(self) -> None:
        """
        A digit no registered number starts with ends dialling at once with
        "Unknown Number" and reorder; hanging up clears it.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        router.phone(MAC_B)
        a.send(m.OffHook())
        a.received()
        dial(a, "29")
        self.assertEqual(a.received(), [
            m.StopTone(1, A_REF), keys(SoftKeySet.DIGITS_FOLLOWING, A_REF),
            prompt(m.LABEL_UNKNOWN_NUMBER, A_REF), tone(Tone.REORDER, A_REF)])
        self.assertEqual(router.engine.legsOf(router.control.endpointFor(a.station))[0].status, LegStatus.FAILED)
        dial(a, "1")
        self.assertEqual(a.received(), [])
        self.assertEqual(a.ask(m.OnHook()), hangUpSequence(A_REF, None, answered=False))
        assertAllIdle(self, router, IDLE_LINE)

    def test_timeoutsBusy(self) -> None:
        """
        C{timeouts busy 5}: busy tone plays for 5 s and reorder too, then
        the tone stops and the phone is released (the on-hook sequence),
        usable again; the line shows IDLE and no timer is left.
        """
        router = CallRouter(callConfig(timeouts=Timeouts(busy=5)))
        a = router.phone(MAC_A)
        router.phone(MAC_B)
        a.send(m.OffHook())
        a.received()
        dial(a, "2001")
        self.assertIn(tone(Tone.LINE_BUSY, A_REF), a.received())
        router.clock.advance(4.9)
        self.assertEqual(a.received(), [])
        router.clock.advance(0.1)
        self.assertEqual(a.received(), hangUpSequence(A_REF, None, answered=False))
        assertAllIdle(self, router, IDLE_LINE)
        a.send(m.OffHook())
        a.received()
        dial(a, "29")
        self.assertEqual(a.received()[-1], tone(Tone.REORDER, 2))
        router.clock.advance(5)
        self.assertEqual(a.received(), hangUpSequence(2, None, answered=False))
        assertAllIdle(self, router, IDLE_LINE)
        self.assertEqual(a.ask(m.OnHook()), [])

    def test_callingYourself(self) -> None:
        """
        Dialling one's own number gives busy.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        a.send(m.OffHook())
        a.received()
        dial(a, "2001")
        received = a.received()
        self.assertEqual(received[2:], [callState(CallState.BUSY, A_REF), tone(Tone.LINE_BUSY, A_REF),
                                        prompt(m.LABEL_BUSY, A_REF)])
        a.send(m.OnHook())
        assertAllIdle(self, router, IDLE_LINE)

    def test_disappearingPhone(self) -> None:
        """
        When the callee's connection drops mid-call, the caller gets the
        hang-up sequence at once and nothing is left of the call.
        """
        call = CallSetup(self)
        call.connect()
        call.b.transport.loseConnection()
        self.assertEqual(call.a.received(), hangUpSequence(A_REF, call.orcA))
        assertAllIdle(self, call.router, IDLE_LINE)
        self.assertEqual(call.router.router.registry.byMac(MAC_B).station, None)

    def test_disappearingCaller(self) -> None:
        """
        When the caller disappears while the callee rings, the ringing stops.
        """
        call = CallSetup(self)
        call.ring()
        call.a.transport.loseConnection()
        self.assertEqual(types(call.b.received()), ["SetRinger", "CallState", "SetLamp", "SelectSoftKeys"])
        assertAllIdle(self, call.router, IDLE_LINE)

    def test_unregisterRefusedDuringCall(self) -> None:
        """
        A phone with a call gets UnregisterAck NAK; once idle it may
        unregister.
        """
        call = CallSetup(self)
        call.connect()
        self.assertEqual(call.a.ask(m.Unregister()), [m.UnregisterAck(UnregisterStatus.NAK)])
        call.a.send(m.OnHook())
        call.a.received()
        self.assertEqual(call.a.ask(m.Unregister()), [m.UnregisterAck(UnregisterStatus.OK)])

    def test_stimulusLineAndEnbloc(self) -> None:
        """
        The line key answers a ringing call; EnblocCall on an idle phone
        goes off hook on the speaker and dials the whole number.
        """
        router = CallRouter()
        a, b = router.phone(MAC_A), router.phone(MAC_B)
        received = a.ask(m.EnblocCall("2002", 1))
        self.assertEqual(received[:len(offHookSequence(A_REF, True))], offHookSequence(A_REF, True))
        self.assertIn(m.DialedNumber("2002", 1, A_REF), received)
        b.received()
        b.send(m.Stimulus(Stimulus.LINE, 1, B_REF))
        answered = b.received()
        self.assertEqual(answered[1], m.SetSpeakerMode(SpeakerMode.ON))
        self.assertIn(callState(CallState.CONNECTED, B_REF), answered)


class SpeedDialRedialTests(SynchronousTestCase):
    """
    A speed-dial button dials its number and Redial the phone's last
    dialled number, as if keyed in (issue 13 item 1); with nothing to dial
    the phone gets "Key Is Not Active" and stays idle.
    """

    def router(self) -> CallRouter:
        """Alice has speed dial 1 (button 2) to Bob's 2002."""
        ephones = tuple(
            EphoneConfig(mac, "7970", (LineButton(1, DN[mac], DN[mac], NAMES[mac]),),
                         (SpeedDial(2, "2002", "Bob"),) if mac == MAC_A else ())
            for mac in (MAC_A, MAC_B, MAC_C))
        return CallRouter(callConfig(ephones=ephones))

    def test_speedDialOnHook(self) -> None:
        """
        The speed-dial button on an idle phone goes off hook on the speaker
        and dials 2002: Bob rings.
        """
        router = self.router()
        a, b = router.phone(MAC_A), router.phone(MAC_B)
        received = a.ask(m.Stimulus(Stimulus.SPEED_DIAL, 1))
        self.assertEqual(received[:len(offHookSequence(A_REF, True))], offHookSequence(A_REF, True))
        self.assertIn(m.DialedNumber("2002", 1, A_REF), received)
        self.assertIn(callState(CallState.RING_IN, B_REF), b.received())

    def test_speedDialAtDialTone(self) -> None:
        """Off hook with dial tone, the speed-dial button dials; after a digit it is not active."""
        router = self.router()
        a = router.phone(MAC_A)
        router.phone(MAC_B)
        a.send(m.OffHook())
        a.received()
        received = a.ask(m.Stimulus(Stimulus.SPEED_DIAL, 1))
        self.assertEqual(received[:2], [m.StopTone(1, A_REF), keys(SoftKeySet.DIGITS_FOLLOWING, A_REF)])
        self.assertIn(m.DialedNumber("2002", 1, A_REF), received)
        self.assertEqual(a.ask(m.Stimulus(Stimulus.SPEED_DIAL, 1)), [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])

    def test_speedDialWithoutNumber(self) -> None:
        """
        A speed-dial instance with no configured number gets "Key Is Not
        Active" on hook and at dial tone; the phone stays usable.
        """
        router = self.router()
        a = router.phone(MAC_A)
        router.phone(MAC_B)
        self.assertEqual(a.ask(m.Stimulus(Stimulus.SPEED_DIAL, 5)), [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        assertAllIdle(self, router, IDLE_LINE)
        a.send(m.OffHook())
        a.received()
        self.assertEqual(a.ask(m.Stimulus(Stimulus.SPEED_DIAL, 5)), [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        dial(a, "2002")
        self.assertIn(m.DialedNumber("2002", 1, A_REF), a.received())

    def test_redial(self) -> None:
        """
        Redial with nothing dialled is not active; after a call to 2002,
        Redial (softkey on hook, button at dial tone) dials 2002 again,
        busy when Bob has a call, like any call; a number that got busy is
        remembered too.
        """
        router = self.router()
        a, b = router.phone(MAC_A), router.phone(MAC_B)
        c = router.phone(MAC_C)
        self.assertEqual(a.ask(m.SoftKeyEvent(SoftKeyEvent.REDIAL, 1, 0)),
                         [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        a.send(m.OffHook())
        dial(a, "2002")
        a.send(m.OnHook())
        a.received()
        b.received()
        received = a.ask(m.SoftKeyEvent(SoftKeyEvent.REDIAL, 1, 0))
        self.assertEqual(received[:len(offHookSequence(3, True))], offHookSequence(3, True))
        self.assertIn(m.DialedNumber("2002", 1, 3), received)
        self.assertIn(callState(CallState.RING_IN, 4), b.received())
        b.send(m.OffHook())
        a.send(m.OffHook())
        c.send(m.OffHook())
        dial(c, "2002")
        c.send(m.OnHook())
        c.received()
        c.send(m.OffHook())
        c.received()
        self.assertEqual(c.ask(m.Stimulus(Stimulus.LAST_NUMBER_REDIAL, 0)), [
            m.StopTone(1, 6), keys(SoftKeySet.DIGITS_FOLLOWING, 6), callState(CallState.BUSY, 6),
            tone(Tone.LINE_BUSY, 6), prompt(m.LABEL_BUSY, 6)])


class VoicemailButtonTests(SynchronousTestCase):
    """
    The Messages button (Stimulus 0x0F, VoiceMail) dials
    C{call-manager-fallback.voicemail} as if keyed in (issue 13 item 6);
    without one it is not active and the phone stays usable.
    """

    def test_messagesOnHook(self) -> None:
        """
        On hook, Messages goes off hook on the speaker and dials the
        voicemail number 2003: Carol's phone (the voicemail pilot) rings.
        """
        router = CallRouter(callConfig(voicemail="2003"))
        a, c = router.phone(MAC_A), router.phone(MAC_C)
        received = a.ask(m.Stimulus(Stimulus.VOICE_MAIL, 0))
        self.assertEqual(received[:len(offHookSequence(A_REF, True))], offHookSequence(A_REF, True))
        self.assertIn(m.DialedNumber("2003", 1, A_REF), received)
        self.assertIn(callState(CallState.RING_IN, B_REF), c.received())

    def test_messagesAtDialTone(self) -> None:
        """Off hook with dial tone Messages dials the voicemail number; after a digit it is not active."""
        router = CallRouter(callConfig(voicemail="2003"))
        a = router.phone(MAC_A)
        router.phone(MAC_C)
        a.send(m.OffHook())
        a.received()
        received = a.ask(m.Stimulus(Stimulus.VOICE_MAIL, 0))
        self.assertEqual(received[:2], [m.StopTone(1, A_REF), keys(SoftKeySet.DIGITS_FOLLOWING, A_REF)])
        self.assertIn(m.DialedNumber("2003", 1, A_REF), received)
        self.assertEqual(a.ask(m.Stimulus(Stimulus.VOICE_MAIL, 0)), [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])

    def test_messagesWithoutVoicemail(self) -> None:
        """
        With no voicemail number, Messages is logged as ignored with the
        reason and gets "Key Is Not Active"; the phone stays idle and can
        still call.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        router.phone(MAC_B)
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self.assertEqual(a.ask(m.Stimulus(Stimulus.VOICE_MAIL, 0)), [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        self.assertIn(": Stimulus ignored: cannot use the Messages button without a voicemail number "
                      "(call-manager-fallback.voicemail)", "\n".join(formatEvent(e) for e in events))
        assertAllIdle(self, router, IDLE_LINE)
        a.send(m.OffHook())
        dial(a, "2002")
        self.assertIn(m.DialedNumber("2002", 1, A_REF), a.received())


def voicemailRouter() -> CallRouter:
    """Voicemail 2003 (Carol's phone stands in for the voicemail system), the target of forward busy and no-answer."""
    return CallRouter(callConfig(voicemail="2003", callForward=CallForward(busy="2003", noAnswer="2003",
                                                                           noAnswerTimeout=10)))


def forwardedToVoicemail(reason: int) -> tuple[m.CallInfo, CallRouter]:
    """
    Alice calls Bob, who is busy (C{reason} 1) or does not answer (2): the
    call forwards to voicemail (Carol).

    @return: the CallInfo Carol's phone gets, and the router.
    """
    router = voicemailRouter()
    a, b, c = router.phone(MAC_A), router.phone(MAC_B), router.phone(MAC_C)
    if reason == 1:
        b.send(m.OffHook())
    a.send(m.OffHook())
    dial(a, "2002")
    if reason == 2:
        router.clock.advance(10)
    return only(c.received(), m.CallInfo), router


class ForwardToVoicemailTests(SynchronousTestCase):
    """
    A call forwarded (busy, no answer) to the voicemail number presents
    the number first dialled and the forwarding number to the voicemail
    phone, so the voicemail system can pick the mailbox (issue 13 item 6).
    """

    def test_busy(self) -> None:
        """
        Forward busy to voicemail: original called and last redirecting are
        Bob's 2002 with his name, reason busy (1).
        """
        info, router = forwardedToVoicemail(1)
        self.assertEqual(info, forwardedInfo(info.callReference, "2002", 1, "Bob"))

    def test_noAnswer(self) -> None:
        """Forward no-answer to voicemail: the same with reason no answer (2)."""
        info, router = forwardedToVoicemail(2)
        self.assertEqual(info, forwardedInfo(info.callReference, "2002", 2, "Bob"))


class ForwardToVoicemailTsharkTests(TestCase):
    """Wireshark's SCCP dissector reads the redirect fields of the voicemail phone's CallInfo."""

    timeout = 30

    def test_callInfoDecodes(self) -> Any:
        """
        tshark decodes the forwarded-busy CallInfo's original called party
        2002, last redirecting party 2002, both reasons 1 and call type 3
        (forward).
        """
        info, router = forwardedToVoicemail(1)
        fields = ("skinny.originalCalledParty", "skinny.lastRedirectingParty", "skinny.originalCdpnRedirectReason",
                  "skinny.lastRedirectingReason", "skinny.callType")
        arguments = ["-Y", "skinny.messageId == 0x8f", "-T", "fields"]
        for field in fields:
            arguments += ["-e", field]
        d = tsharkLines(self, buildPcap([(sentByPhone(m.messageIdOf(info)),
                                          m.encodeMessage(info, protocolVersion=11))]), *arguments)
        return d.addCallback(self.assertEqual, ["2002\t2002\t1\t1\t0x00000003"])
DND_ON = [m.SetLamp(Stimulus.DO_NOT_DISTURB, 1, LampMode.ON), m.DisplayPromptStatus(0, m.label(m.Label.DND), 0, 0)]
"""What a phone gets when do-not-disturb goes on: the DND lamp and prompt."""

DND_OFF = [m.SetLamp(Stimulus.DO_NOT_DISTURB, 1, LampMode.OFF), m.ClearPromptStatus(0, 0)]
"""What it gets when do-not-disturb goes off."""


class DoNotDisturbTests(SynchronousTestCase):
    """
    The DND softkey toggles do-not-disturb: the DND lamp and "DND" on the
    prompt line, and calls to the phone get busy treatment (issue 13 item
    3).
    """

    def test_dndShownAgainAfterReregistration(self) -> None:
        """
        A phone that registers again with do-not-disturb still on gets the
        DND lamp and prompt after its idle prompt, when its registration
        completes; without DND it gets only the idle prompt.
        """
        router = CallRouter()
        b = router.phone(MAC_B)
        self.assertEqual(b.ask(m.TimeDateReq())[1:], [m.DisplayPromptStatus(0, m.LABEL_CM_FALLBACK, 0, 0)])
        b.send(m.SoftKeyEvent(SoftKeyEvent.DND, 1, 0))
        b.send(m.Unregister())
        b.transport.loseConnection()
        again = router.phone(MAC_B)
        self.assertEqual(again.ask(m.TimeDateReq())[1:],
                         [m.DisplayPromptStatus(0, m.LABEL_CM_FALLBACK, 0, 0)] + DND_ON)
        self.assertTrue(router.router.registry.byMac(MAC_B).dnd)

    def test_dndGivesBusyAndForwardBusy(self) -> None:
        """
        Bob's DND: Alice calling him hears busy and Bob's phone gets
        nothing; with call-forward busy to Carol the call rings Carol as
        forwarded; DND again clears the prompt and Bob rings again.
        """
        router = CallRouter()
        a, b, c = router.phone(MAC_A), router.phone(MAC_B), router.phone(MAC_C)
        self.assertEqual(b.ask(m.SoftKeyEvent(SoftKeyEvent.DND, 1, 0)), DND_ON)
        self.assertTrue(router.router.registry.byMac(MAC_B).dnd)
        a.send(m.OffHook())
        a.received()
        dial(a, "2002")
        self.assertEqual(a.received(), [
            m.StopTone(1, A_REF), keys(SoftKeySet.DIGITS_FOLLOWING, A_REF), callState(CallState.BUSY, A_REF),
            tone(Tone.LINE_BUSY, A_REF), prompt(m.LABEL_BUSY, A_REF)])
        self.assertEqual(b.received(), [])
        a.send(m.OnHook())
        router.engine.forwards.busy = "2003"
        a.send(m.OffHook())
        dial(a, "2002")
        ringing = c.received()
        self.assertIn(callState(CallState.RING_IN, 3), ringing)
        self.assertEqual((only(ringing, m.CallInfo).callType, only(ringing, m.CallInfo).originalCalledParty),
                         (CallType.FORWARD, "2002"))
        self.assertEqual(b.received(), [])
        a.send(m.OnHook())
        router.engine.forwards.busy = None
        self.assertEqual(b.ask(m.SoftKeyEvent(SoftKeyEvent.DND, 1, 0)), DND_OFF)
        a.send(m.OffHook())
        dial(a, "2002")
        self.assertIn(callState(CallState.RING_IN, 5), b.received())


class DialingTests(SynchronousTestCase):
    """
    Digit collection: exact match, '#', secondary dial tone and the
    inter-digit timeout on the clock.
    """

    def router(self, **kwargs: Any) -> CallRouter:
        ephones = (EphoneConfig(MAC_A, "7970", (LineButton(1, "2001", "2001", "Alice"),)),
                   EphoneConfig(MAC_B, "7970", (LineButton(1, "2002", "2002", "Bob"),)),
                   EphoneConfig(MAC_C, "7970", (LineButton(1, "20021", "20021", "Carol"),)))
        return CallRouter(callConfig(ephones=ephones, **kwargs))

    def test_interdigitTimeout(self) -> None:
        """
        A number that is also the start of a longer one waits for the
        inter-digit timeout (timeouts interdigit), then rings.
        """
        router = self.router(timeouts=Timeouts(interdigit=5))
        a, b = router.phone(MAC_A), router.phone(MAC_B)
        router.phone(MAC_C)
        a.send(m.OffHook())
        dial(a, "2002")
        self.assertEqual(b.received(), [])
        router.clock.advance(4.9)
        self.assertEqual(b.received(), [])
        router.clock.advance(0.1)
        self.assertEqual(types(b.received())[0], "CallState")
        self.assertEqual(router.engine.calls()[0].callee.line.number, "2002")

    def test_eachDigitResetsTheTimer(self) -> None:
        """
        Every digit restarts the inter-digit timer; an incomplete number
        times out to reorder.
        """
        router = self.router(timeouts=Timeouts(interdigit=5))
        a = router.phone(MAC_A)
        router.phone(MAC_B)
        a.send(m.OffHook())
        dial(a, "20")
        router.clock.advance(4)
        dial(a, "0")
        router.clock.advance(4)
        self.assertNotIn(tone(Tone.REORDER, A_REF), a.received())
        router.clock.advance(1)
        self.assertEqual(a.received(), [prompt(m.LABEL_UNKNOWN_NUMBER, A_REF), tone(Tone.REORDER, A_REF)])

    def test_poundEndsDialling(self) -> None:
        """
        '#' completes the number at once.
        """
        router = self.router()
        a, b = router.phone(MAC_A), router.phone(MAC_B)
        a.send(m.OffHook())
        dial(a, "2002#")
        self.assertEqual(types(b.received())[0], "CallState")
        self.assertIn(m.DialedNumber("2002", 1, A_REF), a.received())

    def test_secondaryDialtone(self) -> None:
        """
        The secondary-dialtone access code plays the outside dial tone and
        does not fail as an unknown number.
        """
        router = self.router(secondaryDialtone="9")
        a = router.phone(MAC_A)
        a.send(m.OffHook())
        a.received()
        dial(a, "9")
        self.assertEqual(a.received()[-1], tone(Tone.OUTSIDE_DIAL, A_REF))


class BadInputTests(SynchronousTestCase):
    """
    Messages out of state never raise and never leave a call stuck.
    """

    def test_softKeysOutOfState(self) -> None:
        """
        Hold, Resume, Answer and EndCall on an idle phone get "Key Is Not
        Active"; an unknown softkey too; nothing else happens.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        for event in (SoftKeyEvent.HOLD, SoftKeyEvent.RESUME, SoftKeyEvent.ANSWER, SoftKeyEvent.END_CALL,
                      SoftKeyEvent.PARK):
            self.assertEqual(a.ask(m.SoftKeyEvent(event, 1, 99)), [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        self.assertTrue(a.open)
        assertAllIdle(self, router, IDLE_LINE)


    def test_inputDuringCall(self) -> None:
        """
        Digits, OffHook, NewCall and the line key during a connected call
        change nothing; OnHook on an idle phone is ignored.
        """
        call = CallSetup(self)
        call.connect()
        dial(call.a, "123")
        call.a.send(m.OffHook())
        self.assertEqual(call.a.received(), [])
        self.assertEqual(call.a.ask(m.SoftKeyEvent(SoftKeyEvent.NEW_CALL)),
                         [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        self.assertEqual(call.a.ask(m.Stimulus(Stimulus.LINE, 1)), [])
        self.assertEqual(call.a.ask(m.StartMediaTransmissionAck()), [])
        self.assertEqual(call.router.engine.calls()[0].caller.status, LegStatus.CONNECTED)
        c = call.router.phone(MAC_C)
        self.assertEqual(c.ask(m.OnHook()), [])
        self.assertEqual(c.ask(m.OpenReceiveChannelAck()), [])
        self.assertTrue(call.a.open and c.open)

    def test_badKeypadValue(self) -> None:
        """
        A keypad value outside the keypad is ignored; dialling goes on.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        a.send(m.OffHook())
        a.received()
        self.assertEqual(a.ask(m.KeypadButton(0x77)), [])
        self.assertTrue(a.open)
        dial(a, "2")
        self.assertEqual(types(a.received()), ["StopTone", "SelectSoftKeys"])

    def test_mediaFailureClearsTheCall(self) -> None:
        """
        An OpenReceiveChannelAck with an error status clears the call on
        both phones.
        """
        call = CallSetup(self)
        call.ring()
        call.b.send(m.OffHook())
        orcB = only(call.b.received(), m.OpenReceiveChannel)
        call.a.received()
        self.assertEqual(types(ack(call.b, orcB, "10.1.1.9", 17520, status=2))[:3],
                         ["StopTone", "SetLamp", "ClearPromptStatus"])
        self.assertIn(callState(CallState.ON_HOOK, A_REF), call.a.received())
        assertAllIdle(self, call.router, IDLE_LINE)

    def test_staleAck(self) -> None:
        """
        An ack with an unknown passThruPartyId sends nothing.
        """
        call = CallSetup(self)
        call.ring()
        call.b.send(m.OffHook())
        orcB = only(call.b.received(), m.OpenReceiveChannel)
        call.a.received()
        call.b.send(m.OpenReceiveChannelAck(0, orcB.sourceIpAddr, 4000, orcB.passThruPartyId + 100, B_REF))
        self.assertEqual((call.a.received(), call.b.received()), ([], []))

    def test_engineRefusesOutOfStateInputs(self) -> None:
        """
        The engine raises L{CallStateError} (and the leg machine
        C{NoTransition}) for actions a leg cannot take, changing nothing.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        a.send(m.OffHook())
        leg = router.engine.legsOf(router.control.endpointFor(a.station))[0]
        for action in (router.engine.answer, router.engine.hold, router.engine.resume):
            error = self.assertRaises(CallStateError, action, leg)
            self.assertIn("in state dialing", str(error))
        self.assertRaises(CallStateError, router.engine.seize, router.control.endpointFor(a.station),
                          leg.line)
        self.assertRaises(NoTransition, leg.machine.answer)
        self.assertEqual(leg.status, LegStatus.DIALING)

    def test_interfaces(self) -> None:
        """
        The SCCP endpoint provides L{ICallEndpoint} and the registry
        directory L{IDirectory}: exact match of registered numbers only.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        self.assertTrue(verifyObject(ICallEndpoint, router.control.endpointFor(a.station)))
        directory = router.control.directory
        self.assertTrue(verifyObject(IDirectory, directory))
        self.assertEqual(directory.match("200"), DialMatch.PREFIX)
        self.assertEqual(directory.match("2001"), DialMatch.EXACT)
        self.assertEqual(directory.match("3"), DialMatch.NONE)
        self.assertEqual(directory.resolve("2002"), [])
        [destination] = directory.resolve("2001")
        self.assertEqual(destination.line, LineRef(1, "2001", "Alice", 1))
        self.assertIs(destination.endpoint, router.control.endpointFor(a.station))


class HoldTests(SynchronousTestCase):
    """
    Hold and resume from either side (sccp.md 5.4 (g)).
    """

    def test_holdAndResume(self) -> None:
        """
        Hold closes media on both phones, winks the holder's lamp and shows
        Hold; the held clear-text phone hears the hold tone.  Resume
        reopens media on both with new passThruPartyIds.
        """
        call = CallSetup(self)
        call.connect()
        held = call.a.ask(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, A_REF))
        pid = call.orcA.passThruPartyId
        self.assertEqual(held, [
            m.CloseReceiveChannel(A_REF, pid, A_REF), m.StopMediaTransmission(A_REF, pid, A_REF),
            m.SetLamp(Stimulus.LINE, 1, LampMode.WINK), callState(CallState.HOLD, A_REF),
            keys(SoftKeySet.ON_HOLD, A_REF), prompt(m.LABEL_HOLD, A_REF), m.SetSpeakerMode(SpeakerMode.OFF)])
        pidB = call.orcB.passThruPartyId
        self.assertEqual(call.b.received(), [
            m.CloseReceiveChannel(B_REF, pidB, B_REF), m.StopMediaTransmission(B_REF, pidB, B_REF),
            tone(Tone.HOLD, B_REF)])
        alice = call.router.router.registry.byMac(MAC_A)
        self.assertEqual((alice.lines[0].channels, alice.mediaActive), (["HOLD"], 0))

        resumed = call.a.ask(m.SoftKeyEvent(SoftKeyEvent.RESUME, 1, A_REF))
        self.assertEqual(resumed[:4], [callState(CallState.CONNECTED, A_REF), keys(SoftKeySet.CONNECTED, A_REF),
                                       m.SetLamp(Stimulus.LINE, 1, LampMode.ON), m.SetSpeakerMode(SpeakerMode.ON)])
        orcA = only(resumed, m.OpenReceiveChannel)
        receivedB = call.b.received()
        self.assertEqual(receivedB[0], m.StopTone(1, B_REF))
        orcB = only(receivedB, m.OpenReceiveChannel)
        self.assertNotIn(orcA.passThruPartyId, (call.orcA.passThruPartyId, call.orcB.passThruPartyId))
        ack(call.a, orcA, "10.1.1.8", 25554)
        smtB = only(call.b.received(), m.StartMediaTransmission)
        self.assertEqual((smtB.remotePortNumber, smtB.passThruPartyId), (25554, orcB.passThruPartyId))
        call.b.send(m.OnHook())
        self.assertEqual(call.a.received(), hangUpSequence(A_REF, orcA))

    def test_secureResumeHasFreshKeysAndNoHoldTone(self) -> None:
        """
        On a secure call the held phone gets no hold tone, and resuming
        sends a new key pair, still paired per direction.
        """
        call = CallSetup(self, secureA=True, secureB=True)
        call.connect()
        call.b.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, B_REF))
        call.b.received()
        self.assertEqual(types(call.a.received()), ["CloseReceiveChannel", "StopMediaTransmission"])
        call.b.send(m.Stimulus(Stimulus.HOLD, 1, B_REF))
        orcB = only(call.b.received(), m.OpenReceiveChannel)
        orcA = only(call.a.received(), m.OpenReceiveChannel)
        self.assertNotIn(orcA.rxKey, (call.orcA.rxKey, call.orcB.rxKey))
        ack(call.a, orcA, "10.1.1.8", 25552)
        smtB = only(call.b.received(), m.StartMediaTransmission)
        ack(call.b, orcB, "10.1.1.9", 17520)
        smtA = only(call.a.received(), m.StartMediaTransmission)
        self.assertEqual((smtA.txKey, smtB.txKey), (orcB.rxKey, orcA.rxKey))

    def test_bothSidesHold(self) -> None:
        """
        When both sides hold, media reopens only after both resumed; a
        hang-up while held clears both phones.
        """
        call = CallSetup(self)
        call.connect()
        call.a.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, A_REF))
        call.b.received()
        self.assertEqual(call.b.ask(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, B_REF))[:2],
                         [m.StopTone(1, B_REF), m.SetLamp(Stimulus.LINE, 1, LampMode.WINK)])
        call.a.received()
        self.assertEqual(types(call.a.ask(m.SoftKeyEvent(SoftKeyEvent.RESUME, 1, A_REF))),
                         ["CallState", "SelectSoftKeys", "SetLamp", "SetSpeakerMode"])
        self.assertEqual(call.b.received(), [])
        self.assertEqual(types(call.b.ask(m.SoftKeyEvent(SoftKeyEvent.RESUME, 1, B_REF))),
                         ["CallState", "SelectSoftKeys", "SetLamp", "SetSpeakerMode", "OpenReceiveChannel"])
        self.assertEqual(types(call.a.received()), ["OpenReceiveChannel"])
        call.b.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, B_REF))
        call.b.received()
        call.a.received()
        call.b.send(m.OnHook())
        self.assertEqual(call.b.received(), hangUpSequence(B_REF, None))
        self.assertEqual(call.a.received(), hangUpSequence(A_REF, None))
        assertAllIdle(self, call.router, IDLE_LINE)


class SecureCallTests(SynchronousTestCase):
    """
    SRTP keys per direction between two phones registered over verified
    TLS, and no keys when either side is clear text.
    """

    def test_keyPairing(self) -> None:
        """
        K_AB goes in StartMediaTransmission to A and OpenReceiveChannel to
        B, K_BA in StartMediaTransmission to B and OpenReceiveChannel to A;
        the two differ, use AES_CM_128_HMAC_SHA1_32, and CallInfo after
        connect shows encrypted (3).
        """
        call = CallSetup(self, secureA=True, secureB=True)
        call.connect()
        kAB, kBA = call.smtA.txKey, call.smtB.txKey
        self.assertEqual(call.orcB.rxKey, kAB)
        self.assertEqual(call.orcA.rxKey, kBA)
        self.assertNotEqual(kAB.key, kBA.key)
        for info in (kAB, kBA):
            self.assertEqual((info.algorithmId, info.keyLength, info.saltLength), (1, 16, 14))
        self.assertEqual(only(call.answerA, m.CallInfo).callSecurityStatus, CallSecurityStatus.ENCRYPTED)
        self.assertEqual(only(call.answerB, m.CallInfo).callSecurityStatus, CallSecurityStatus.ENCRYPTED)
        self.assertEqual([i.callSecurityStatus for i in call.ringA if isinstance(i, m.CallInfo)], [0, 0])

    def test_packetsDecryptOnlyWithThePairedKey(self) -> None:
        """
        RTP protected with A's transmit key is decrypted by B's receive key;
        a third key set cannot decrypt it.
        """
        call = CallSetup(self, secureA=True, secureB=True)
        call.connect()
        rtp = bytes.fromhex("80000001000000a0deadbeef") + b"\xff" * 160
        protected = SrtpSender(fromKeyInfo(call.smtA.txKey)).protect(rtp)
        self.assertNotEqual(protected[12:172], rtp[12:])
        self.assertEqual(SrtpReceiver(fromKeyInfo(call.orcB.rxKey)).unprotect(protected), rtp)
        self.assertRaises(SrtpError, SrtpReceiver(generateKeys()).unprotect, protected)
        self.assertRaises(SrtpError, SrtpReceiver(fromKeyInfo(call.orcA.rxKey)).unprotect, protected)

    def test_clearTextCallHasNoKeys(self) -> None:
        """
        Two clear-text phones: algorithm 0 / NO_KEY everywhere, CallInfo
        status 1.
        """
        call = CallSetup(self)
        call.connect()
        self.assertEqual({call.smtA.txKey, call.smtB.txKey, call.orcA.rxKey, call.orcB.rxKey}, {m.NO_KEY})
        self.assertEqual(only(call.answerA, m.CallInfo).callSecurityStatus, CallSecurityStatus.NOT_AUTHENTICATED)

    def test_secureToClearText(self) -> None:
        """
        A secure phone calling a clear-text phone gets no keys, status 1.
        """
        call = CallSetup(self, secureA=True)
        call.connect()
        self.assertEqual({call.smtA.txKey, call.smtB.txKey, call.orcA.rxKey, call.orcB.rxKey}, {m.NO_KEY})
        self.assertEqual(only(call.answerB, m.CallInfo).callSecurityStatus, CallSecurityStatus.NOT_AUTHENTICATED)


def pickupConfig() -> Any:
    """Alice, Bob and Carol; Bob's and Carol's DNs in C{pickup-group 1}, Alice's in none."""
    groups = {MAC_A: "", MAC_B: "1", MAC_C: "1"}
    return callConfig(ephones=tuple(
        EphoneConfig(mac, "7970", (LineButton(1, DN[mac], DN[mac], NAMES[mac], groups[mac]),))
        for mac in (MAC_A, MAC_B, MAC_C)))


class CallPickUpTests(SynchronousTestCase):
    """
    PickUp and GPickUp (issue 13 item 2): a call ringing another phone
    moves to the phone that picks it up.
    """

    def test_groupPickUp(self) -> None:
        """
        Alice calls Bob; Carol (same pickup group) presses GPickUp: Bob's
        phone stops ringing and goes idle, Carol is connected to Alice and
        Alice sees Carol as the connected party; both get media.
        """
        router = CallRouter(pickupConfig())
        a, b, c = router.phone(MAC_A), router.phone(MAC_B), router.phone(MAC_C)
        a.send(m.OffHook())
        dial(a, "2002")
        self.assertIn(callState(CallState.RING_IN, 2), b.received())
        a.received()
        got = c.ask(m.SoftKeyEvent(SoftKeyEvent.GROUP_PICK_UP, 1, 0))
        self.assertIn(callState(CallState.CONNECTED, 3), got)
        self.assertEqual(only(got, m.CallInfo).callingParty, "2001")
        self.assertIsInstance(only(got, m.OpenReceiveChannel), m.OpenReceiveChannel)
        toBob = b.received()
        self.assertEqual(toBob[:1], [m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0)])
        self.assertIn(callState(CallState.ON_HOOK, 2), toBob)
        toAlice = a.received()
        self.assertIn(callState(CallState.CONNECTED, A_REF), toAlice)
        self.assertEqual((only(toAlice, m.CallInfo).calledParty, only(toAlice, m.CallInfo).calledPartyName),
                         ("2003", NAMES[MAC_C]))
        self.assertEqual(router.control.hasActiveCall(c.station), True)
        self.assertEqual(router.engine.legsOf(router.control.endpointOf(router.router.registry.byMac(MAC_B))), [])

    def test_groupPickUpNothingRinging(self) -> None:
        """
        GPickUp with nothing ringing in the group (Alice rings, but Alice
        is in no group; or nothing rings) shows "No call available for
        pickup" and changes nothing; the phone then places a call as usual.
        """
        router = CallRouter(pickupConfig())
        a, b, c = router.phone(MAC_A), router.phone(MAC_B), router.phone(MAC_C)
        self.assertEqual(c.ask(m.SoftKeyEvent(SoftKeyEvent.GROUP_PICK_UP, 1, 0)),
                         [m.DisplayNotify(5, "No call available for pickup")])
        b.send(m.OffHook())
        dial(b, "2001")
        a.received()
        self.assertEqual(c.ask(m.SoftKeyEvent(SoftKeyEvent.GROUP_PICK_UP, 1, 0)),
                         [m.DisplayNotify(5, "No call available for pickup")])
        self.assertEqual(a.ask(m.SoftKeyEvent(SoftKeyEvent.GROUP_PICK_UP, 1, 0)),
                         [m.DisplayNotify(5, "No call available for pickup")])
        c.send(m.OffHook())
        self.assertIn(tone(Tone.INSIDE_DIAL, 3), c.received())

    def test_directedPickUp(self) -> None:
        """
        Carol presses PickUp (dial tone) and dials 2002 while it rings:
        the call moves to Carol; PickUp and a number that is not ringing
        shows "No call available for pickup" with reorder (a number nobody
        has: "Unknown Number"), and hanging up leaves the phone idle.
        """
        router = CallRouter(pickupConfig())
        a, b, c = router.phone(MAC_A), router.phone(MAC_B), router.phone(MAC_C)
        got = c.ask(m.SoftKeyEvent(SoftKeyEvent.PICK_UP, 1, 0))
        self.assertIn(tone(Tone.INSIDE_DIAL, 1), got)
        dial(c, "2001")
        got = c.received()
        self.assertEqual(got[-2:], [m.DisplayNotify(5, "No call available for pickup"), tone(Tone.REORDER, 1)])
        self.assertEqual([msg for msg in got if isinstance(msg, (m.DisplayPromptStatus, m.CallState))], [])
        c.send(m.OnHook())
        c.received()
        c.send(m.SoftKeyEvent(SoftKeyEvent.PICK_UP, 1, 0))
        dial(c, "29")
        got = c.received()
        self.assertEqual(got[-2:], [prompt(m.LABEL_UNKNOWN_NUMBER, 2), tone(Tone.REORDER, 2)])
        c.send(m.OnHook())
        c.received()
        a.send(m.OffHook())
        dial(a, "2002")
        b.received()
        c.send(m.SoftKeyEvent(SoftKeyEvent.PICK_UP, 1, 0))
        dial(c, "2002")
        got = c.received()
        self.assertIn(callState(CallState.CONNECTED, 5), got)
        self.assertEqual(only(got, m.CallInfo).callingParty, "2001")
        self.assertIn(callState(CallState.ON_HOOK, 4), b.received())


class ConferenceInputs:
    """
    The call engine's conference inputs (C{conference}, C{join}: design 14
    section 1.1, delivered with the engine's package) as far as this
    adapter depends on them, put on a real L{CallEngine}: each records the
    leg it got and, with C{free} bridges used up, raises
    L{ConferenceRefused} before changing anything, as the engine's does.
    The three-party sequences run with the engine itself
    (L{tests.test_calls_conference}).
    """

    def __init__(self, testCase: SynchronousTestCase, engine: Any, free: int) -> None:
        self.free = free
        self.got: list[tuple[str, Any]] = []
        engine.conference = lambda leg: self._input("conference", leg)
        engine.join = lambda leg: self._input("join", leg)

        def remove() -> None:
            del engine.conference, engine.join
        testCase.addCleanup(remove)

    def _input(self, name: str, leg: Any) -> None:
        if not self.free:
            raise ConferenceRefused("max-conferences 0 reached")
        self.free -= 1
        self.got.append((name, leg))


class ConferenceKeyTests(SynchronousTestCase):
    """
    The Confrn and Join softkeys of a connected phone.
    """

    def connected(self, free: int) -> tuple[CallSetup, ConferenceInputs]:
        call = CallSetup(self)
        call.connect()
        return call, ConferenceInputs(self, call.router.engine, free)

    def legOf(self, call: CallSetup, phone: Any) -> Any:
        [leg] = call.router.engine.legsOf(call.router.control.endpointFor(phone.station))
        return leg

    def test_confrnAndJoinDispatch(self) -> None:
        """
        Confrn goes to the engine's C{conference} input and Join to its
        C{join}, with the leg of the call the key was pressed on (or, with
        reference 0, the phone's active call); the phone gets nothing from
        the adapter itself.
        """
        call, inputs = self.connected(free=3)
        alice, bob = self.legOf(call, call.a), self.legOf(call, call.b)
        self.assertEqual(call.a.ask(m.SoftKeyEvent(SoftKeyEvent.CONFRN, 1, A_REF)), [])
        self.assertEqual(call.b.ask(m.SoftKeyEvent(SoftKeyEvent.JOIN, 1, B_REF)), [])
        self.assertEqual(call.a.ask(m.SoftKeyEvent(SoftKeyEvent.CONFRN, 1, 0)), [])
        self.assertEqual(inputs.got, [("conference", alice), ("join", bob), ("conference", alice)])

    def test_refusedAtMaxConferences(self) -> None:
        """
        With no bridge free, Confrn (and Join) show "No Conference Bridge"
        for 5 s, logged with the engine's reason; the call is untouched:
        still connected on both phones, nothing sent to Bob, and Hold still
        works on it.
        """
        call, inputs = self.connected(free=0)
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        for event in (SoftKeyEvent.CONFRN, SoftKeyEvent.JOIN):
            self.assertEqual(call.a.ask(m.SoftKeyEvent(event, 1, A_REF)),
                             [m.DisplayNotify(5, m.LABEL_NO_CONFERENCE_BRIDGE)])
        self.assertEqual(m.LABEL_NO_CONFERENCE_BRIDGE, "\x80\x27")
        self.assertEqual(call.b.received(), [])
        self.assertEqual(inputs.got, [])
        self.assertIn("ephone-1[1]: Confrn refused: max-conferences 0 reached",
                      [formatEvent(e) for e in events])
        self.assertEqual([leg.status for leg in call.router.engine.legsOf(
            call.router.control.endpointFor(call.a.station))], [LegStatus.CONNECTED])
        held = call.a.ask(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, A_REF))
        self.assertIn(callState(CallState.HOLD, A_REF), held)

    def test_confrnWithoutCall(self) -> None:
        """
        Confrn and Join on an idle phone are not active.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        ConferenceInputs(self, router.engine, free=1)
        for event in (SoftKeyEvent.CONFRN, SoftKeyEvent.JOIN):
            self.assertEqual(a.ask(m.SoftKeyEvent(event, 1, 0)), [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        assertAllIdle(self, router, IDLE_LINE)
