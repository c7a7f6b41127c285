"""
Tests for L{srst.sccp.callendpoint}: one registered phone as an
L{ICallEndpoint}: what it answers the engine, how it maps codecs, the
C{debug ephone state} lines and C{show ephone} fields it keeps, and the
SCCP signalling of the call features between in-memory phones on a
L{Clock}, asserting the exact messages each phone receives: transfer,
forwarding and shared lines (sccp.md 5.4 (h)-(j)).  (The basic call flows:
L{tests.test_sccp_callcontrol}.)
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.sccp.config import EphoneConfig, LineButton
from srst.admin.render import formatIOSDebugLine
from srst.calls.forward import ForwardReason
from srst.calls.interfaces import ICallEndpoint, LineRef, Party
from srst.calls.leg import LegStatus
from srst.calls.media import Codec as EngineCodec
from srst.calls.media import ForeignCodec, MediaStream
from srst.media.srtp import generateKeys
from srst.sccp import messages as m
from srst.sccp.callendpoint import (
    ALL_KEYS,
    CONFERENCE_PARTY,
    DIAL_PEER_BASE,
    VOICE_PORT_PREFIX,
    engineCodec,
    sccpCodec,
)
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
    UnregisterStatus,
)
from srst.sccp.constants import Codec as SccpCodec
from srst.sccp.srtpkeys import toKeyInfo
from tests.callhelpers import (
    A_REF,
    B_REF,
    MAC_A,
    MAC_B,
    MAC_C,
    CallRouter,
    CallSetup,
    Phones,
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
    sharedLineConfig,
    stopRinging,
    tone,
)
from tests.debughelpers import normalise, seedSample
from tests.test_sccp_station import NOW, types

IDLE_LINE = [["IDLE"]]
"""The line channels of an idle phone with one line."""


class EndpointTests(SynchronousTestCase):
    """
    What a phone's endpoint answers the engine and show commands.
    """

    def test_interface(self) -> None:
        """
        The endpoint provides L{ICallEndpoint}: a phone always has media
        (it opens its own ports), is never busy without a call, the router
        terminates none of its media; its lines are the ephone-dn pseudo
        voice ports C{50/0/<tag>.0} with dial-peers C{20000 + tag}; it is
        labelled by its session and secure only over verified TLS.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        endpoint = router.control.endpointFor(a.station)
        self.assertTrue(verifyObject(ICallEndpoint, endpoint))
        line = LineRef(1, "2001", "Alice", 14)
        self.assertEqual((endpoint.mediaAvailable(), endpoint.lineBusy(), endpoint.mediaSnapshot()),
                         (True, False, None))
        self.assertIsNone(endpoint.mediaRefused())
        self.assertEqual((endpoint.voicePortName(line), endpoint.dialPeerTag(line)), ("50/0/14.0", 20014))
        self.assertEqual((VOICE_PORT_PREFIX, DIAL_PEER_BASE), ("50/0/", 20000))
        self.assertEqual((endpoint.label, endpoint.secure, endpoint.capabilities),
                         ("ephone-1[1]", False, (EngineCodec.G711_ULAW, EngineCodec.G711_ALAW)))
        secure = router.control.endpointFor(router.phone(MAC_B, secure=True).station)
        self.assertTrue(secure.secure)

    def test_codecMapping(self) -> None:
        """
        SCCP compressionType 4 and 2 are the engine's G.711 u-law and A-law
        and back; any other id is a codec srst does not carry, named by its
        id.
        """
        self.assertEqual([engineCodec(c) for c in (4, 2, SccpCodec.G729_ANNEX_A)],
                         [EngineCodec.G711_ULAW, EngineCodec.G711_ALAW, ForeignCodec("12")])
        self.assertEqual([sccpCodec(c) for c in EngineCodec], [SccpCodec.G711_ULAW_64K, SccpCodec.G711_ALAW_64K])

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
        assertAllIdle(self, router, IDLE_LINE)

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
        assertAllIdle(self, call.router, IDLE_LINE)

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

    def test_debugEphoneStateLikeTheSeed(self) -> None:
        """
        The seed's secure call from ephone-2 (DN 2, 6000) to ephone-3 (DN 4,
        6001) prints the seed's C{debug ephone state} lines as C{srst-cli
        debug} renders them, line by line; only values differ, and the
        order differs only where srst's wire order (sccp.md 5.4) does, each
        place listed below.
        """
        # The seed's phones: ephone-1 takes DN 1, ephone-2 DNs 2 (6000) and 3, ephone-3 DN 4 (6001).
        config = callConfig(ephones=(
            EphoneConfig(MAC_A, "7970", (LineButton(1, "5000", "5000"),)),
            EphoneConfig(MAC_B, "7970", (LineButton(1, "6000", "6000"), LineButton(2, "6002", "6002"))),
            EphoneConfig(MAC_C, "7970", (LineButton(1, "6001", "6001"),))))
        router = CallRouter(config)
        router.phone(MAC_A)
        caller, callee = router.phone(MAC_B, secure=True), router.phone(MAC_C, secure=True)
        events = router.router.debug.events
        del events[:]
        caller.send(m.OffHook())
        dial(caller, "6001")
        caller.received()
        callee.received()
        callee.send(m.OffHook())
        orcCallee, orcCaller = only(callee.received(), m.OpenReceiveChannel), only(caller.received(), m.OpenReceiveChannel)
        ack(caller, orcCaller, "1.1.1.8", 25552)
        ack(callee, orcCallee, "1.1.1.9", 17520)
        actual = [normalise(formatIOSDebugLine(e)) for e in events
                  if e.get("log_namespace") == "srst.debug.ephone.state"]

        expected = [normalise(line) for line in seedSample("debug ephone state")]
        e2, e3 = "*<time>:ephone-2[<socket>]:", "*<time>:ephone-3[<socket>]:"

        def block(prefix: str, state: int, dn: int, callType: int) -> list[str]:
            return [prefix + line for line in (
                ":callingNumber 6000", ":callingParty 6000",
                f"Call Info DN {dn} line 1 ref <ref> call state {state} called 6001 calling 6000 origcalled",
                f"Call Info DN {dn} line 1 ref <ref> called 6001 calling 6000 origcalled 6001 calltype {callType}",
                "Call Info for chan 1", "Original Called Name 6001", "6000 calling", "6001")]

        def keys(prefix: str, dn: int) -> list[str]:
            return [prefix + "Security Key Generation",
                    prefix + f"OpenReceive DN {dn} chan 1 codec 4:G711Ulaw64k duration 20 ms bytes 160",
                    prefix + "Send Decryption Key"]

        def move(lines: list[str], after: list[str]) -> None:
            """Move the first run of C{lines} in C{expected} to just after the first run of C{after}."""
            def find(run: list[str]) -> int:
                return [i for i in range(len(expected)) if expected[i:i + len(run)] == run][0]
            start = find(lines)
            del expected[start:start + len(lines)]
            end = find(after) + len(after)
            expected[end:end] = lines

        # The seed's document cuts this line short ("origc"): the words are those of its twin lines.
        truncated = expected.index(e2 + "Call Info DN 2 line 1 ref <ref> call state 4 called 6001 calling 6000 origc")
        expected[truncated] = block(e2, 4, 2, 2)[2]
        # srst sends the caller's ringback tone with its RingOut, before the callee rings (sccp.md 5.4 (c)).
        move(["*<time>:dn_tone_control DN=2 chan 1 tonetype=36:DtAlertingTone onoff=1 pid=<pid>"],
             after=[e2 + "SetCallState line 1 DN 2(<index>) chan 1 ref <ref> TsRingOut"])
        # srst activates the callee's call plane as it answers, and the engine opens the answering
        # phone's receive channel (with its key) before the Connected states (sccp.md 5.4 (d)).
        answered = ["*<time>:ephone-3[<socket>][SEP<mac>]:Answer Incoming call from ephone-(2) DN 2 chan 1"]
        move(["*<time>:DN 4 chan 1 Voice_Mode"], after=answered)
        move(keys(e3, 4), after=answered + ["*<time>:DN 4 chan 1 Voice_Mode"])
        # srst sends each phone's connected CallInfo with its Connected state, and stops the
        # caller's ringback tone there too (not after the media is open).
        move(block(e3, 4, 4, 1), after=[e3 + "SetCallState line 1 DN 4(<index>) chan 1 ref <ref> TsConnected"])
        move(["*<time>:dn_tone_control DN=2 chan 1 tonetype=0:DtSilence onoff=0 pid=<pid>",
              "*<time>:DN 2 chan 1 End Voice_Mode", "*<time>:DN 2 chan 1 Voice_Mode"],
             after=["*<time>:defer_start for DN 2 chan 1 at CONNECTED"])
        move(block(e2, 4, 2, 2), after=[e2 + "SetCallState line 1 DN 2(<index>) chan 1 ref <ref> TsConnected"])
        # After ephone-3's StartMedia the seed names DN 2 (the receiving DN) and after ephone-2's
        # also DN 2 (the sending one); srst names the sending DN both times.
        first = expected.index(e3 + "StartMedia <ip> port=<n>") + 1
        expected[first] = "*<time>:DN 4 chan 1 codec 4:G711Ulaw64k duration 20 ms bytes 160"

        self.maxDiff = None
        self.assertEqual(actual, expected)
        self.assertEqual(len(expected), 73)


CONSULT_REF, TRANSFER_TARGET_REF = 3, 4


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
        Carol's CallInfo shows Bob calling, redirected by Alice (original
        called and last redirecting 2001, reason transfer, callType
        forward); Carol answers and Bob and Carol get media.
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
        self.assertEqual(ringC[-1], m.CallInfo(
            callingPartyName="Bob", callingParty="2002", calledPartyName="Carol", calledParty="2003",
            lineInstance=1, callReference=TRANSFER_TARGET_REF, callType=CallType.FORWARD,
            originalCalledPartyName="Alice", originalCalledParty="2001", lastRedirectingPartyName="Alice",
            lastRedirectingParty="2001", originalCdpnRedirectReason=ForwardReason.TRANSFER,
            lastRedirectingReason=ForwardReason.TRANSFER, callInstance=1, callSecurityStatus=0))
        self.assertEqual(ForwardReason.TRANSFER, 4)
        t.c.send(m.OffHook())
        orcC = only(t.c.received(), m.OpenReceiveChannel)
        orcB = only(t.b.received(), m.OpenReceiveChannel)
        ack(t.b, orcB, "10.1.1.9", 17600)
        self.assertEqual(only(t.c.received(), m.StartMediaTransmission).remotePortNumber, 17600)
        self.assertEqual(t.engine.legsOf(t.call.router.control.endpointFor(t.a.station)), [])
        self.assertEqual(t.c.ask(m.OnHook()), hangUpSequence(TRANSFER_TARGET_REF, orcC))
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
        t.c.send(m.SoftKeyEvent(SoftKeyEvent.END_CALL, 1, TRANSFER_TARGET_REF))
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
        self.assertEqual(receivedC[:2], [m.CloseReceiveChannel(TRANSFER_TARGET_REF, pid, TRANSFER_TARGET_REF),
                                         m.StopMediaTransmission(TRANSFER_TARGET_REF, pid, TRANSFER_TARGET_REF)])
        self.assertEqual(receivedC[2:6], [m.StopTone(1, TRANSFER_TARGET_REF), callState(CallState.CONNECTED, TRANSFER_TARGET_REF),
                                          keys(SoftKeySet.CONNECTED, TRANSFER_TARGET_REF), prompt(m.LABEL_CONNECTED, TRANSFER_TARGET_REF)])
        newB, newC = only(receivedB, m.OpenReceiveChannel), only(receivedC, m.OpenReceiveChannel)
        ack(t.b, newB, "10.1.1.9", 17610)
        self.assertEqual(only(t.c.received(), m.StartMediaTransmission).remotePortNumber, 17610)
        t.b.send(m.OnHook())
        self.assertEqual(t.c.received(), hangUpSequence(TRANSFER_TARGET_REF, newC))
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
        self.assertEqual(t.c.ask(m.OnHook()), hangUpSequence(TRANSFER_TARGET_REF, orcC))
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


class ForwardTests(SynchronousTestCase):
    """
    Forwarded calls (sccp.md 5.4 (i)): the target rings with callType
    forward and the redirecting numbers; the caller's CallInfo names the
    target.
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
        self.assertEqual(ringC[4], forwardedInfo(2, "2002", ForwardReason.ALL, "Bob"))
        self.assertEqual(types(ringC)[0], "CallState")
        self.assertEqual(phones.b.received(), [])
        aMsgs = phones.a.received()
        self.assertEqual(aMsgs[-1], callInfo("2001", "Alice", "2003", "Carol", 1, CallType.OUTBOUND, 0))
        phones.a.send(m.OnHook())
        self.assertEqual(phones.c.received(), stopRinging(2))
        phones.assertAllIdle(self)

    def test_busyForwards(self) -> None:
        """
        A call to a busy Bob rings Carol with the busy reason.
        """
        phones = Phones(busy="2003")
        phones.b.send(m.OffHook())
        phones.b.received()
        phones.aCallsBob()
        self.assertEqual(phones.c.received()[4], forwardedInfo(3, "2002", ForwardReason.BUSY, "Bob"))
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


SHARED_C_REF = 3
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


class SharedLine(Phones):
    """Alice (2001); Bob and Carol both have 2002 (Bob's name)."""

    def __init__(self) -> None:
        Phones.__init__(self, sharedLineConfig())

    def ring(self) -> None:
        self.aCallsBob()

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
        self.assertEqual(ringC[-1], m.SetRinger(RingMode.INSIDE, RingDuration.NORMAL, 1, SHARED_C_REF))
        shared.a.send(m.OnHook())
        self.assertEqual(shared.b.received(), stopRinging(B_REF))
        self.assertEqual(shared.c.received(), stopRinging(SHARED_C_REF))
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
        self.assertEqual(shared.c.received(), hangUpSequence(SHARED_C_REF, shared.orcC))
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
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, SHARED_C_REF))
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
        self.assertEqual(shared.c.received(), inUse(SHARED_C_REF, rang=False))
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
        self.assertEqual(shared.c.received(), remoteIdle(SHARED_C_REF))
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
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, SHARED_C_REF))
        shared.b.received()
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.RESUME, 1, SHARED_C_REF))
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
        self.assertEqual(shared.c.ask(m.OnHook())[:3], [m.StopTone(1, SHARED_C_REF), m.SetLamp(Stimulus.LINE, 1, LampMode.OFF),
                                                      m.ClearPromptStatus(1, SHARED_C_REF)])
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
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, SHARED_C_REF))
        self.assertEqual(shared.router.engine.calls()[0].callee.status, LegStatus.HELD)
        shared.a.send(m.OnHook())
        self.assertAllIdle(shared)

    def test_monitorUnregisters(self) -> None:
        """
        A sharing phone that unregisters while showing the call (it has no
        call of its own, so its Unregister is accepted) shows it no more:
        its registration's end clears it from the call, and it is not told
        about the hold.
        """
        shared = SharedLine()
        shared.carolAnswers()
        self.assertEqual(shared.b.ask(m.Unregister()), [m.UnregisterAck(UnregisterStatus.OK)])
        self.assertEqual(shared.router.engine.calls()[0].monitors, [])
        shared.c.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, SHARED_C_REF))
        self.assertEqual(shared.b.received(), [])
        shared.a.send(m.OnHook())
        self.assertEqual(shared.b.received(), [])
        self.assertEqual(shared.router.engine.calls(), [])

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
        c.send(m.SoftKeyEvent(SoftKeyEvent.TRANSFER, 1, SHARED_C_REF))
        dial(c, "2004")
        self.assertEqual(router.engine.calls()[0].caller.line.number, "2001")
        self.assertEqual(b.received(), [
            m.SetLamp(Stimulus.LINE, 1, LampMode.FLASH), callState(CallState.REMOTE_HOLD, B_REF),
            keys(SoftKeySet.ON_HOLD, B_REF)] + remoteIdle(B_REF))
        self.assertEqual(router.engine.calls()[0].monitors, [])
        a.send(m.OnHook())
        assertAllIdle(self, router)


class RouterMediaTests(SynchronousTestCase):
    """
    The phone's side of the router's own media (design 14 section 2),
    driven as the engine drives it: the music on hold a held phone
    receives, a conference's consult call, the creator's merged call, and
    a participant's call to the bridge.  The engine's inputs that produce
    these calls (Confrn, Join) are tested with the engine
    (L{tests.test_calls_conference}).
    """

    def connectedCall(self, secure: bool = False) -> CallSetup:
        call = CallSetup(self, secureA=secure, secureB=secure)
        call.connect()
        return call

    def legOf(self, call: CallSetup, phone: Any) -> Any:
        endpoint = call.router.control.endpointFor(phone.station)
        [leg] = call.router.engine.legsOf(endpoint)
        return endpoint, leg

    def test_musicStreamClosed(self) -> None:
        """
        Bob, held by Alice, receives the router's music: OpenReceiveChannel
        with the router's key (secure phones), no StartMediaTransmission.
        When the music ends only the receive channel closes
        (CloseReceiveChannel): Bob never sent.
        """
        call = self.connectedCall(secure=True)
        call.a.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, A_REF))
        call.a.received()
        heldByRemote = call.b.received()
        self.assertEqual(heldByRemote[:2], [m.CloseReceiveChannel(B_REF, call.orcB.passThruPartyId, B_REF),
                                            m.StopMediaTransmission(B_REF, call.orcB.passThruPartyId, B_REF)])
        endpoint, leg = self.legOf(call, call.b)
        music = MediaStream(leg, 0x7001, EngineCodec.G711_ULAW, rxKeys=generateKeys(), music=True)
        endpoint.openReceive(leg, music)
        orc = only(call.b.received(), m.OpenReceiveChannel)
        self.assertEqual((orc.passThruPartyId, orc.callReference, orc.rxKey), (0x7001, B_REF, toKeyInfo(music.rxKeys)))
        endpoint.mediaClosed(leg, music)
        self.assertEqual(call.b.received(), [m.CloseReceiveChannel(B_REF, 0x7001, B_REF)])

    def test_callStreamClosed(self) -> None:
        """
        A connected leg moving to or off a bridge has its stream closed with
        the pair CloseReceiveChannel, StopMediaTransmission; show ephone no
        longer counts its media active.
        """
        call = self.connectedCall()
        endpoint, leg = self.legOf(call, call.b)
        stream = leg.call.media.streamOf(leg)
        endpoint.mediaClosed(leg, stream)
        pid = call.orcB.passThruPartyId
        self.assertEqual(call.b.received(), [m.CloseReceiveChannel(B_REF, pid, B_REF),
                                             m.StopMediaTransmission(B_REF, pid, B_REF)])
        bob = call.router.router.registry.byMac(MAC_B)
        self.assertEqual((bob.mediaActive, bob.lines[0].channels), (0, ["CONNECTED"]))

    def test_mergedRelease(self) -> None:
        """
        The creator's held call that joined a conference is cleared quietly:
        CallState(OnHook) and the OnHook keys for that call only; no lamp,
        speaker, prompt or time change, since Alice talks on in the
        conference.
        """
        call = self.connectedCall()
        call.a.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, A_REF))
        call.a.received()
        endpoint, leg = self.legOf(call, call.a)
        leg.merged = True
        endpoint.released(leg, None, True)
        self.assertEqual(call.a.received(), [callState(CallState.ON_HOOK, A_REF), keys(SoftKeySet.ON_HOOK, A_REF)])
        alice = call.router.router.registry.byMac(MAC_A)
        self.assertEqual(alice.lines[0].channels, ["IDLE"])

    def test_conferenceConnected(self) -> None:
        """
        A participant's call to the bridge shows Connected with the
        "Conference" prompt and CallInfo naming Conference, encrypted when
        the conference is; the Connected keys, even on the creator's
        consult leg.
        """
        call = self.connectedCall()
        for phone, ref in ((call.a, A_REF), (call.b, B_REF)):
            endpoint, leg = self.legOf(call, phone)
            leg.conferenceConsult = phone is call.a
            endpoint.connected(leg, CONFERENCE_PARTY, True)
            conference = CONFERENCE_PARTY.name
            calling, called = (("2001", "Alice"), ("", conference)) if phone is call.a else (
                ("", conference), ("2002", "Bob"))
            self.assertEqual(phone.received(), [
                m.StopTone(1, ref), callState(CallState.CONNECTED, ref), keys(SoftKeySet.CONNECTED, ref),
                prompt(m.LABEL_CONFERENCE, ref),
                callInfo(*calling, *called, ref, CallType.OUTBOUND if phone is call.a else CallType.INBOUND,
                         CallSecurityStatus.ENCRYPTED)])
        self.assertEqual((CONFERENCE_PARTY, m.LABEL_CONFERENCE), (Party("", "Conference"), "\x80\x34"))

    def test_conferenceConsultKeys(self) -> None:
        """
        A conference's consult leg goes off hook with the
        OffHookWithFeatures keys and, once the third party answers, offers
        the ConnectedConference keys (EndCall, Confrn) rather than Hold and
        Transfer.
        """
        call = self.connectedCall()
        endpoint, leg = self.legOf(call, call.a)
        leg.conferenceConsult = True
        endpoint.seized(leg)
        self.assertEqual(call.a.received(), consultSequence(A_REF))
        endpoint.connected(leg, Party("2003", "Carol"), False)
        received = call.a.received()
        self.assertEqual(received[2:4], [keys(SoftKeySet.CONNECTED_CONFERENCE, A_REF), prompt(m.LABEL_CONNECTED, A_REF)])
