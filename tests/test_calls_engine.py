"""
Tests for L{srst.calls.engine}, L{srst.calls.leg}, L{srst.calls.dialing} and
L{srst.calls.sccpline}: basic calls between in-memory SCCP phones on a
L{Clock}, asserting the exact messages each phone receives (sccp.md 5.4).
"""

from __future__ import annotations

import ipaddress
from functools import partial
from typing import Any

from automat import NoTransition
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst._cmfconfig import EphoneConfig, LineButton, Timeouts
from srst.calls.dialing import DialStep, DigitCollector, combine
from srst.calls.engine import CallEngine, CallStateError
from srst.calls.interfaces import DialMatch, FailureReason, ICallEndpoint, IDirectory, LineRef
from srst.calls.leg import LegStatus, newLeg
from srst.calls.media import Codec as EngineCodec
from srst.calls.media import ForeignCodec
from srst.calls.sccpline import ALL_KEYS, SccpCallControl, engineCodec, sccpCodec
from srst.media.srtp import generateKeys
from srst.sccp import messages as m
from srst.sccp.constants import Codec as SccpCodec
from srst.sccp.constants import (
    CallSecurityStatus,
    CallState,
    CallType,
    DeviceType,
    LampMode,
    RingDuration,
    RingMode,
    SoftKeyEvent,
    SoftKeySet,
    SpeakerMode,
    Stimulus,
    Tone,
    ToneDirection,
    UnregisterStatus,
)
from srst.sccp.factory import SkinnyFactory
from tests.callhelpers import FakeDirectory, FakeEndpoint
from tests.pkihelpers import makePhoneCertificate
from tests.test_sccp_station import NOW, Phone, Router, makeConfig, phoneCA, secureConnect, types

MAC_A, MAC_B, MAC_C = "0000000000A1", "0000000000B2", "0000000000C3"
DN = {MAC_A: "2001", MAC_B: "2002", MAC_C: "2003"}
NAMES = {MAC_A: "Alice", MAC_B: "Bob", MAC_C: "Carol"}
PORTS = {MAC_A: 30001, MAC_B: 30002, MAC_C: 30003}


def callConfig(**kwargs: Any) -> Any:
    """Three configured 7970s with lines 2001 (Alice), 2002 (Bob), 2003 (Carol)."""
    kwargs.setdefault("ephones", tuple(
        EphoneConfig(mac, "7970", (LineButton(1, DN[mac], DN[mac], NAMES[mac]),)) for mac in (MAC_A, MAC_B, MAC_C)))
    kwargs.setdefault("autoAssign", None)
    return makeConfig(**kwargs)


class CallRouter:
    """
    L{Router} plus the call engine wired into both listeners the way the
    service does it: the SCCP call adapter is their station listener.
    """

    def __init__(self, config: Any = None, keyFactory: Any = generateKeys) -> None:
        self.router = Router(config or callConfig())
        self.clock = self.router.clock
        cmf = self.router.config
        self.engine = CallEngine(self.clock, interdigit=cmf.timeouts.interdigit, ringing=cmf.timeouts.ringing,
                                 secondaryDialtone=cmf.secondaryDialtone, keyFactory=keyFactory)
        self.control = SccpCallControl(self.engine, self.router.registry)
        self.router.factoryArgs = dict(listener=self.control)
        self.plain = self.router.plain
        self.plain.listener = self.control
        self.secure = self.router.makeFactory(secure=True)

    def phone(self, mac: str, secure: bool = False, version: int = 11,
              capabilities: tuple[int, ...] = (4, 2)) -> Phone:
        """@return: a registered phone whose capabilities are known; its inbox is empty."""
        if secure:
            certificate, _ = makePhoneCertificate(phoneCA(), mac)
            phone = secureConnect(self.router, certificate, factory=self.secure, port=PORTS[mac])
        else:
            phone = self.router.connect(port=PORTS[mac])
        phone.register("SEP" + mac, protocolVersion=version, deviceType=DeviceType.PHONE_7970)
        phone.send(m.CapabilitiesRes([m.MediaCapability(c, 40) for c in capabilities]))
        phone.received()
        return phone


def ack(phone: Phone, orc: m.OpenReceiveChannel, host: str, port: int, status: int = 0) -> list[m.Message]:
    """Answer an OpenReceiveChannel; @return: what the router sent back to this phone."""
    phone.send(m.OpenReceiveChannelAck(status, ipaddress.IPv4Address(host), port, orc.passThruPartyId,
                                       orc.callReference))
    return phone.received()


A_REF, B_REF = 1, 2


def dial(phone: Any, digits: str) -> None:
    """Press keypad buttons (0-9, *, #)."""
    phone.send(*[m.KeypadButton("0123456789ABCD*#".index(c)) for c in digits])


def callState(state: int, ref: int) -> m.CallState:
    return m.CallState(state, 1, ref, 0, 4, 0)


def keys(softKeySet: int, ref: int) -> m.SelectSoftKeys:
    return m.SelectSoftKeys(1, ref, softKeySet, ALL_KEYS)


def prompt(text: str, ref: int) -> m.DisplayPromptStatus:
    return m.DisplayPromptStatus(0, text, 1, ref)


def tone(value: int, ref: int) -> m.StartTone:
    return m.StartTone(value, ToneDirection.USER, 1, ref)


def callInfo(calling: str, callingName: str, called: str, calledName: str, ref: int, callType: int,
             security: int) -> m.CallInfo:
    return m.CallInfo(callingPartyName=callingName, callingParty=calling, calledPartyName=calledName,
                      calledParty=called, lineInstance=1, callReference=ref, callType=callType,
                      originalCalledPartyName=calledName, originalCalledParty=called, callInstance=1,
                      callSecurityStatus=security)


def offHookSequence(ref: int, speaker: bool = False) -> list[m.Message]:
    """sccp.md 5.4 (a)."""
    return ([m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0)]
            + ([m.SetSpeakerMode(SpeakerMode.ON)] if speaker else [])
            + [m.SetLamp(Stimulus.LINE, 1, LampMode.ON), callState(CallState.OFF_HOOK, ref),
               keys(SoftKeySet.OFF_HOOK, ref), prompt(m.LABEL_ENTER_NUMBER, ref), m.ActivateCallPlane(1),
               tone(Tone.INSIDE_DIAL, ref)])


def hangUpSequence(ref: int, media: m.OpenReceiveChannel | None, answered: bool = True) -> list[m.Message]:
    """sccp.md 5.4 (f)."""
    stop = [] if media is None else [m.CloseReceiveChannel(ref, media.passThruPartyId, ref),
                                     m.StopMediaTransmission(ref, media.passThruPartyId, ref)]
    return ([m.StopTone(1, ref), m.SetLamp(Stimulus.LINE, 1, LampMode.OFF), m.ClearPromptStatus(1, ref)] + stop
            + [callState(CallState.ON_HOOK, ref), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS),
               m.DefineTimeDate.fromDateTime(NOW), m.SetSpeakerMode(SpeakerMode.OFF)]
            + ([m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0)] if answered else []))


def only(msgs: list[m.Message], kind: type) -> Any:
    found = [msg for msg in msgs if isinstance(msg, kind)]
    assert len(found) == 1, (kind, types(msgs))
    return found[0]


class CallSetup:
    """A call from Alice (2001) to Bob (2002) taken to the connected state."""

    def __init__(self, testCase: SynchronousTestCase, secureA: bool = False, secureB: bool = False,
                 router: CallRouter | None = None) -> None:
        self.router = router or CallRouter()
        self.a = self.router.phone(MAC_A, secure=secureA)
        self.b = self.router.phone(MAC_B, secure=secureB)

    def ring(self) -> tuple[list[m.Message], list[m.Message]]:
        self.a.send(m.OffHook())
        dial(self.a, "2002")
        return self.a.received(), self.b.received()

    def connect(self) -> None:
        self.ringA, self.ringB = self.ring()
        self.b.send(m.OffHook())
        self.answerB = self.b.received()
        self.answerA = self.a.received()
        self.orcA = only(self.answerA, m.OpenReceiveChannel)
        self.orcB = only(self.answerB, m.OpenReceiveChannel)
        ack(self.a, self.orcA, "10.1.1.8", 25552)
        self.smtB = only(self.b.received(), m.StartMediaTransmission)
        ack(self.b, self.orcB, "10.1.1.9", 17520)
        self.smtA = only(self.a.received(), m.StartMediaTransmission)


class InputQueueTests(SynchronousTestCase):
    """
    An input an endpoint raises while the engine runs another is queued and
    runs when the current input has finished.
    """

    def call(self, **reactions: Any) -> tuple[Engine, FakeEndpoint, FakeEndpoint, Any]:
        """
        @return: the engine, endpoints A and B and A's leg: A dials B, whose
            C{reactions} get the engine as first argument.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, _ = setup.endpoint("2002")
        for name, reaction in reactions.items():
            b.reactions[name] = partial(reaction, setup.engine)
        leg = setup.engine.seize(a, lineA)
        setup.dial(leg, "2002")
        return setup, a, b, leg

    def test_mediaReadyFromOpenReceive(self) -> None:
        """
        An endpoint that reports its receive port from inside
        L{ICallEndpoint.openReceive} (a voice port) is told nothing out of
        order: the call is connected on both sides and the other side's
        port requested first, then the other side transmits to it.
        """
        def report(engine: CallEngine, leg: Any, stream: Any) -> None:
            engine.mediaReady(leg, stream.passThruPartyId, "10.0.0.2", 4002)

        setup, a, b, legA = self.call(openReceive=report)
        [legB] = setup.engine.legsOf(b)
        setup.engine.answer(legB)
        self.assertEqual(b.names(), ["alerting", "answering", "openReceive", "connected"])
        self.assertEqual(a.names()[4:], ["connected", "openReceive", "startTransmit"])
        self.assertEqual(a.events[-1][2].remote.address, ("10.0.0.2", 4002))

    def test_answerFromAlerting(self) -> None:
        """
        An endpoint that answers from inside L{ICallEndpoint.alerting} (an
        FXO line) is answered once the offer is complete: the caller hears
        ringback first, then is connected.
        """
        setup, a, b, legA = self.call(alerting=lambda engine, leg, caller: engine.answer(leg))
        self.assertEqual(a.names(), ["seized", "digitsStarted", "proceeding", "ringback", "connected",
                                     "openReceive"])
        self.assertEqual(b.names(), ["alerting", "answering", "openReceive", "connected"])
        self.assertEqual(setup.engine.calls()[0].callee.status, LegStatus.CONNECTED)

    def test_mediaFailedFromOpenReceive(self) -> None:
        """
        An endpoint that cannot open its media and says so from inside
        L{ICallEndpoint.openReceive} has the call cleared once it is
        connected: both sides are released, nothing is left.
        """
        setup, a, b, legA = self.call(openReceive=lambda engine, leg, stream: engine.mediaFailed(leg, "no port"))
        [legB] = setup.engine.legsOf(b)
        setup.engine.answer(legB)
        self.assertEqual(b.names()[-3:], ["openReceive", "connected", "released"])
        self.assertEqual(a.names()[-3:], ["connected", "openReceive", "released"])
        self.assertEqual((setup.engine.calls(), setup.engine.legsOf(a), setup.engine.legsOf(b)), ([], [], []))

    def test_queuedInputRefused(self) -> None:
        """
        A queued input the engine refuses when its turn comes (an answer
        for a leg released by the input queued before it) is logged and
        dropped; the inputs before it ran in order.
        """
        def giveUpThenAnswer(engine: CallEngine, leg: Any, caller: Any) -> None:
            engine.hangUp(leg)
            engine.answer(leg)

        with capturedLogs() as events:
            setup, a, b, legA = self.call(alerting=giveUpThenAnswer)
        self.assertEqual(b.names(), ["alerting", "released"])
        self.assertEqual(a.names()[-1], "released")
        self.assertEqual(setup.engine.calls(), [])
        [ignored] = [e for e in events if e.get("log_format", "").startswith("queued {input} ignored")]
        self.assertEqual((ignored["input"], ignored["why"]), ("answer", "cannot answer in state released"))

    def test_requestInsideInputRefused(self) -> None:
        """
        An input that returns a leg (seize) cannot wait in the queue: raised
        from inside another input, it is refused with L{RuntimeError} (a bug
        of the endpoint, as Automat refuses such an input), and the other
        endpoint gets no leg.
        """
        other = FakeEndpoint("2003")
        line = LineRef(1, "2003")
        error = self.assertRaises(RuntimeError, self.call,
                                  alerting=lambda engine, leg, caller: engine.seize(other, line))
        self.assertEqual(str(error), "seize cannot be run from inside another input of the call engine")
        self.assertEqual(other.events, [])


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

    def assertAllIdle(self, router: CallRouter) -> None:
        """No leg, no call, no leg timer; every line channel IDLE and the show ephone counters 0."""
        self.assertEqual(router.engine.calls(), [])
        for ephone in router.router.registry.registeredEphones():
            self.assertEqual(router.engine.legsOf(router.control.endpointFor(ephone.station)), [])
            self.assertEqual([line.channels for line in ephone.lines], [["IDLE"]], ephone.deviceName)
            self.assertEqual((ephone.activeLine, ephone.offhook, ephone.ringing, ephone.mediaActive), (0, 0, 0, 0))
        self.assertFalse([c for c in router.clock.getDelayedCalls() if "timedOut" not in repr(c.func)],
                         router.clock.getDelayedCalls())

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
        self.assertAllIdle(call.router)

    def test_hangUpByCallee(self) -> None:
        """
        The callee's EndCall softkey clears both sides the same way.
        """
        call = CallSetup(self)
        call.connect()
        self.assertEqual(call.b.ask(m.SoftKeyEvent(SoftKeyEvent.END_CALL, 1, B_REF)), hangUpSequence(B_REF, call.orcB))
        self.assertEqual(call.a.received(), hangUpSequence(A_REF, call.orcA))
        self.assertAllIdle(call.router)

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
        self.assertAllIdle(call.router)

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
        self.assertAllIdle(call.router)
        call.ring()
        call.b.send(m.OffHook())
        call.router.clock.advance(60)
        self.assertEqual(call.router.engine.calls()[0].callee.status, LegStatus.CONNECTED)

    def test_showEphoneFields(self) -> None:
        """
        The Ephone fields of show ephone follow the call: ringing and
        RINGING on the callee, off hook and ALERTING on the caller, then
        CONNECTED with mediaActive once media started, IDLE at the end.
        """
        call = CallSetup(self)
        call.ring()
        registry = call.router.router.registry
        alice, bob = registry.byMac(MAC_A), registry.byMac(MAC_B)
        self.assertEqual((alice.lines[0].channels, alice.offhook, alice.activeLine, alice.ringing),
                         (["ALERTING"], 1, 1, 0))
        self.assertEqual((bob.lines[0].channels, bob.offhook, bob.ringing), (["RINGING"], 0, 1))
        call.b.send(m.OffHook())
        self.assertEqual((bob.lines[0].channels, bob.offhook, bob.ringing, bob.mediaActive), (["CONNECTED"], 1, 0, 0))
        orcB = only(call.b.received(), m.OpenReceiveChannel)
        orcA = only(call.a.received(), m.OpenReceiveChannel)
        ack(call.b, orcB, "10.1.1.9", 17520)
        self.assertEqual((alice.lines[0].channels, alice.mediaActive), (["CONNECTED"], 1))
        ack(call.a, orcA, "10.1.1.8", 25552)
        self.assertEqual(bob.mediaActive, 1)
        call.b.send(m.OnHook())
        self.assertAllIdle(call.router)

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
        self.assertAllIdle(router)

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
        self.assertAllIdle(router)

    def test_disappearingPhone(self) -> None:
        """
        When the callee's connection drops mid-call, the caller gets the
        hang-up sequence at once and nothing is left of the call.
        """
        call = CallSetup(self)
        call.connect()
        call.b.transport.loseConnection()
        self.assertEqual(call.a.received(), hangUpSequence(A_REF, call.orcA))
        self.assertAllIdle(call.router)
        self.assertEqual(call.router.router.registry.byMac(MAC_B).station, None)

    def test_disappearingCaller(self) -> None:
        """
        When the caller disappears while the callee rings, the ringing stops.
        """
        call = CallSetup(self)
        call.ring()
        call.a.transport.loseConnection()
        self.assertEqual(types(call.b.received()), ["SetRinger", "CallState", "SetLamp", "SelectSoftKeys"])
        self.assertAllIdle(call.router)

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

    def test_collector(self) -> None:
        """
        The collector completes on EXACT, NONE and '#', and waits on PREFIX
        and EXACT_OR_LONGER.
        """
        collector = DigitCollector()
        self.assertIs(collector.add("2", DialMatch.PREFIX), DialStep.MORE)
        self.assertIs(collector.add("0", DialMatch.EXACT_OR_LONGER), DialStep.MORE)
        self.assertIs(collector.add("#"), DialStep.COMPLETE)
        self.assertEqual((collector.digits, collector.complete), ("20", True))
        self.assertIs(DigitCollector().add("5", DialMatch.NONE), DialStep.COMPLETE)
        self.assertIs(DigitCollector().add("5", DialMatch.EXACT), DialStep.COMPLETE)
        self.assertEqual(combine([DialMatch.NONE, DialMatch.EXACT]), DialMatch.EXACT)
        self.assertEqual(combine([DialMatch.PREFIX, DialMatch.EXACT]), DialMatch.EXACT_OR_LONGER)
        self.assertEqual(combine([DialMatch.NONE]), DialMatch.NONE)
        self.assertEqual(combine([]), DialMatch.NONE)


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
        self.assertAllIdle(router)

    def assertAllIdle(self, router: CallRouter) -> None:
        BasicCallTests.assertAllIdle(self, router)  # type: ignore[arg-type]

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

    def test_noCommonCodec(self) -> None:
        """
        A phone whose capabilities list only codecs srst cannot carry (G.729)
        gets no default codec: its call is cleared when answered, on both
        phones, and nothing is left of it.
        """
        router = CallRouter()
        a = router.phone(MAC_A, capabilities=(SccpCodec.G729_ANNEX_A,))
        b = router.phone(MAC_B)
        a.send(m.OffHook())
        dial(a, "2002")
        a.received()
        b.received()
        b.send(m.OffHook())
        self.assertNotIn("OpenReceiveChannel", types(a.received()))
        self.assertIn(callState(CallState.ON_HOOK, B_REF), b.received())
        BasicCallTests.assertAllIdle(self, router)  # type: ignore[arg-type]

    def test_codecMapping(self) -> None:
        """
        SCCP compressionType 4 and 2 are the engine's G.711 u-law and A-law
        and back; any other id is a codec srst does not carry, named by its
        id.
        """
        self.assertEqual([engineCodec(c) for c in (4, 2, SccpCodec.G729_ANNEX_A)],
                         [EngineCodec.G711_ULAW, EngineCodec.G711_ALAW, ForeignCodec("12")])
        self.assertEqual([sccpCodec(c) for c in EngineCodec], [SccpCodec.G711_ULAW_64K, SccpCodec.G711_ALAW_64K])

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
        BasicCallTests.assertAllIdle(self, call.router)  # type: ignore[arg-type]

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


class Engine:
    """A L{CallEngine} on a L{Clock} with one L{FakeDirectory}."""

    def __init__(self, **kwargs: Any) -> None:
        self.clock = Clock()
        kwargs.setdefault("interdigit", 10)
        kwargs.setdefault("ringing", 0)
        self.engine = CallEngine(self.clock, **kwargs)
        self.directory = FakeDirectory()
        self.engine.addDirectory(self.directory)

    def endpoint(self, number: str, **kwargs: Any) -> tuple[FakeEndpoint, LineRef]:
        """@return: a new fake endpoint with a line for C{number}, and the line."""
        endpoint = FakeEndpoint(number, **kwargs)
        return endpoint, self.directory.add(number, endpoint)

    def dial(self, leg: Any, digits: str) -> None:
        for digit in digits:
            self.engine.digit(leg, digit)


class DeviceNeutralTests(SynchronousTestCase):
    """
    The engine with fake endpoints: what it asks an endpoint through
    L{ICallEndpoint} before it offers a call.
    """

    def test_fakesProvideTheInterfaces(self) -> None:
        """
        The test fakes implement every method of L{ICallEndpoint} and
        L{IDirectory}.
        """
        self.assertTrue(verifyObject(ICallEndpoint, FakeEndpoint()))
        self.assertTrue(verifyObject(IDirectory, FakeDirectory()))

    def test_noMediaIsCongestion(self) -> None:
        """
        A free destination whose L{ICallEndpoint.mediaAvailable} says no is
        not offered the call: the caller fails with congestion and the
        destination is told once (L{ICallEndpoint.mediaRefused}).
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, _ = setup.endpoint("2002", available=False)
        leg = setup.engine.seize(a, lineA)
        setup.dial(leg, "2002")
        self.assertEqual(a.events[-1], ("failed", leg, FailureReason.CONGESTION))
        self.assertEqual((b.events, b.refusals, setup.engine.calls()), ([], 1, []))

    def test_lineBusyIsBusy(self) -> None:
        """
        A destination whose line is in use without a call
        (L{ICallEndpoint.lineBusy}) is busy: the caller fails with busy and
        the destination hears nothing.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, _ = setup.endpoint("2002", busy=True)
        leg = setup.engine.seize(a, lineA)
        setup.dial(leg, "2002")
        self.assertEqual(a.events[-1], ("failed", leg, FailureReason.BUSY))
        self.assertEqual((b.events, b.refusals), ([], 0))

    def test_callBetweenFakes(self) -> None:
        """
        A call between two fake endpoints: the caller is seized, proceeds
        and hears ringback, the callee is alerted; the callee answering
        opens a receive stream on each side (answering side first) and
        connects both; each side's receive address, once reported, makes
        the other side transmit there.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, lineB = setup.endpoint("2002")
        legA = setup.engine.seize(a, lineA)
        setup.dial(legA, "2002")
        self.assertEqual(a.names(), ["seized", "digitsStarted", "proceeding", "ringback"])
        [legB] = setup.engine.legsOf(b)
        self.assertEqual(b.names(), ["alerting"])
        setup.engine.answer(legB)
        self.assertEqual(b.names()[1:], ["answering", "openReceive", "connected"])
        self.assertEqual(a.names()[4:], ["connected", "openReceive"])
        streamA, streamB = a.events[-1][2], b.events[2][2]
        setup.engine.mediaReady(legA, streamA.passThruPartyId, "10.0.0.1", 4000)
        self.assertEqual(b.events[-1], ("startTransmit", legB, streamB))
        setup.engine.mediaReady(legB, streamB.passThruPartyId, "10.0.0.2", 4002)
        self.assertEqual(a.events[-1], ("startTransmit", legA, streamA))
        self.assertEqual((streamA.address, streamB.address), (("10.0.0.1", 4000), ("10.0.0.2", 4002)))
        setup.engine.hangUp(legA)
        self.assertEqual((a.names()[-1], b.names()[-1], setup.engine.calls()), ("released", "released", []))


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
        from srst.media.srtp import SrtpError, SrtpReceiver, SrtpSender, generateKeys
        from srst.sccp.srtpkeys import fromKeyInfo

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

    def test_debugEphoneState(self) -> None:
        """
        debug ephone state shows the seed's lines for a secure call, and no
        key material appears in any logged event.
        """
        call = CallSetup(self, secureA=True, secureB=True)
        call.connect()
        call.a.send(m.OnHook())
        debug = call.router.router.debug
        lines = [e["log_format"].format(**e) for e in debug.events if e.get("log_namespace") ==
                 "srst.debug.ephone.state"]
        text = "\n".join(lines)
        for expected in ("ephone-1[1]:OFFHOOK", "ephone-1[1]:SetCallState line 1 DN 1(-1) chan 1 ref 1 TsOffHook",
                         "ephone-1[1]:SetCallState line 1 DN 1(-1) chan 1 ref 1 TsProceed",
                         "ephone-1[1]:SetCallState line 1 DN 1(-1) chan 1 ref 1 TsRingOut",
                         "ephone-2[2]:SetCallState line 1 DN 2(-1) chan 1 ref 2 TsRingIn",
                         "ephone-2[2]:Ringer Inside Ring On", "ephone-2[2]:ANSWER call",
                         "ephone-2[2]:SetCallState line 1 DN 2(-1) chan 1 ref 2 TsConnected",
                         "ephone-1[1]:Security Key Generation",
                         "ephone-1[1]:OpenReceive DN 1 chan 1 codec 4:G711Ulaw64k duration 20 ms bytes 160",
                         "ephone-1[1]:Send Decryption Key",
                         "ephone-1[1]:OpenReceiveChannelAck:IP 10.1.1.8, port=25552, dn_index=1, dn=1, chan=1",
                         "ephone-2[2]:StartMedia 10.1.1.8 port=25552", "ephone-2[2]:Send Encryption Key",
                         "ephone-1[1]:SetCallState line 1 DN 1(-1) chan 1 ref 1 TsOnHook"):
            self.assertIn(expected, lines)
        for info in (call.smtA.txKey, call.smtB.txKey):
            for secret in (info.key, info.salt):
                self.assertNotIn(secret.hex(), text)
                for event in debug.events:
                    self.assertNotIn(secret, repr(event).encode("latin-1", "replace"))
                    self.assertNotIn(secret.hex(), repr(event))


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
        BasicCallTests.assertAllIdle(self, call.router)  # type: ignore[arg-type]
