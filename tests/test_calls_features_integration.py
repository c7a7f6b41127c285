"""
Integration tests for the call features (hold / resume, shared lines,
transfer, call forwarding, pickup, bad input) through the real router on 127.0.0.1: TLS
phones with LSCs from a CA configured as a phone trustpoint, each with a
L{PhoneMedia} that answers the router's media messages and exchanges real
SRTP with its peer.  Waits are Deferreds fired by what the phones receive
(messages, media packets), with a bound; only the no-answer forward waits
for a timer (the 3 s configuration minimum).
"""

from __future__ import annotations

import io
import json
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from srst.media.srtp import SrtpError, SrtpReceiver, SrtpSender, generateKeys
from srst.sccp import messages as m
from srst.sccp.commands import renderEphone
from srst.sccp.srtpkeys import fromKeyInfo
from srst.sccp.constants import (
    CallSecurityStatus,
    CallState,
    CallType,
    LampMode,
    RingMode,
    SoftKeyEvent,
    Stimulus,
    Tone,
)
from srst.tools._phoneclient import SimulatedPhone
from srst.tools.cli import main as cliMain
from tests.callhelpers import expect, isCallState, isMessage, waitUntil
from tests.phonehelpers import registeredPhone, routerYamlWithCapf
from tests.routerhelpers import SECURE_CMF_HEAD, bounded, runCommand, startRouter, stateDirectory

ALICE, BOB, CAROL, DESK1, DESK2 = "0000000000F1", "0000000000F2", "0000000000F3", "0000000000F4", "0000000000F5"
DN_A, DN_B, DN_C, DN_SHARED = "3001", "3002", "3003", "3004"

CMF = SECURE_CMF_HEAD + """
  max-ephones: 10
  max-dn: "50 dual-line"
  transfer-system: full-consult
  transfer-pattern: ["9....", "3004 blind"]
  call-forward: {no-answer: "3003", no-answer-timeout: 3}
  voicemail: "3003"
  ephones:
    - {mac: 0000.0000.00F1, type: "7970", buttons: [{line: 1, dn: "3001", label: "3001", name: Alice}],
       speed-dials: [{button: 2, number: "3002", label: Bob}]}
    - {mac: 0000.0000.00F2, type: "7970",
       buttons: [{line: 1, dn: "3002", label: "3002", name: Bob, pickup-group: 7}]}
    - {mac: 0000.0000.00F3, type: "7970",
       buttons: [{line: 1, dn: "3003", label: "3003", name: Carol, pickup-group: 7}]}
    - {mac: 0000.0000.00F4, type: "7970", buttons: [{line: 1, dn: "3004", label: "3004", name: Desk}]}
    - {mac: 0000.0000.00F5, type: "7970", buttons: [{line: 1, dn: "3004", label: "3004", name: Desk}]}
"""

FEATURES_CMF = CMF.replace("  ephones:\n", """\
  aliases:
    - {tag: 1, pattern: "6001", to: "6002"}
    - {tag: 2, pattern: "6002", to: "6001"}
  dialplan-patterns:
    - {tag: 1, pattern: "40855530..", extension-length: 4}
  ephones:
""", 1)
"""L{CMF} with an alias loop (6001 -> 6002 -> 6001) and a dialplan-pattern (40855530.. is 30..)."""


RINGING = isMessage(m.SetRinger, ringMode=RingMode.INSIDE)
HOLD_TONE = isMessage(m.StartTone, tone=Tone.HOLD)


class CallFeaturesIntegrationTests(TestCase):
    """
    Hold, shared lines, transfer and forwarding between TLS phones with SRTP
    media on a router configured with dual-line DNs, full-consult transfer,
    transfer-pattern 9.... and 3004 blind, no-answer forward to Carol after 3 s and one DN
    on two phones.
    """

    timeout = 30

    @bounded
    def setUp(self) -> Any:
        self.service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), FEATURES_CMF))
        self.engine = self.service.callEngine
        self.caCertificate = self.service.certificateServer.caCertificate
        self.phones: list[SimulatedPhone] = []

    @bounded
    def register(self, *macs: str) -> Any:
        """@return: registered TLS phones with media, one per MAC, in order."""
        registered = yield gatherResults([registeredPhone(self, self.service, mac) for mac in macs])
        phones = [phone for phone, dn in registered]
        self.phones.extend(phones)
        return phones

    def ref(self, phone: SimulatedPhone, state: int, since: int = 0) -> int:
        """@return: the call reference of the last CallState C{state} since C{since}."""
        return [msg for msg in phone.received[since:] if isCallState(state)(msg)][-1].callReference

    @bounded
    def connectCall(self, caller: SimulatedPhone, callee: SimulatedPhone, number: str) -> Any:
        """
        C{caller} dials C{number}, C{callee} answers; both are told they are
        connected, SRTP flows both ways.

        @return: the call references of caller and callee.
        """
        mark = len(caller.received), len(callee.received)
        caller.offHook()
        caller.pressKeys(number)
        yield expect(callee, RINGING, "ringing", mark[1])
        refCallee = self.ref(callee, CallState.RING_IN, mark[1])
        callee.offHook()
        yield expect(caller, isCallState(CallState.CONNECTED), "caller connected", mark[0])
        yield expect(callee, isCallState(CallState.CONNECTED, refCallee), "callee connected", mark[1])
        yield self.assertMediaFlows(caller, callee)
        return self.ref(caller, CallState.CONNECTED, mark[0]), refCallee

    def lastInfo(self, phone: SimulatedPhone) -> m.CallInfo:
        """@return: the last CallInfo the phone received."""
        return phone.receivedOfType(m.CallInfo)[-1]

    def assertSecureInfo(self, phone: SimulatedPhone, calling: str, called: str) -> m.CallInfo:
        """The phone's last CallInfo names C{calling} and C{called} and shows encrypted."""
        info = self.lastInfo(phone)
        self.assertEqual((info.callingParty, info.calledParty, info.callSecurityStatus),
                         (calling, called, CallSecurityStatus.ENCRYPTED))
        return info

    @bounded
    def assertMediaFlows(self, x: SimulatedPhone, y: SimulatedPhone, packets: int = 10) -> Any:
        """
        C{x} and C{y} each send SRTP on exactly one stream and each decrypts
        at least C{packets} more packets from the other's stream.
        """
        def streams() -> bool:
            return len(x.media.transmitters) == 1 and len(y.media.transmitters) == 1

        yield waitUntil(streams, "one SRTP stream each on %s and %s" % (x.deviceName, y.deviceName), x, y)
        base = x.media.packetsDecrypted, y.media.packetsDecrypted

        def flowing() -> bool:
            if not streams():
                return False
            for receiving, sending, start in (x, y, base[0]), (y, x, base[1]):
                [transmitter] = sending.media.transmitters.values()
                if receiving.media.packetsDecrypted < start + packets or receiving.media.lastPacket is None \
                        or receiving.media.lastPacket.ssrc != transmitter.ssrc:
                    return False
            return True

        yield waitUntil(flowing, "SRTP both ways between %s and %s" % (x.deviceName, y.deviceName), x, y)
        for phone in x, y:
            [transmitter] = phone.media.transmitters.values()
            self.assertIsNotNone(transmitter.sender)
            self.assertEqual(phone.media.plainPacketsReceived, 0)

    def rxKeys(self, *phones: SimulatedPhone) -> set[bytes]:
        """@return: every rx key the router gave these phones so far."""
        return {orc.rxKey.key for phone in phones for orc in phone.receivedOfType(m.OpenReceiveChannel)}

    @bounded
    def bobRingingForAlice(self) -> Any:
        """
        Register Alice, Bob and Carol; Alice calls Bob, whose phone rings.

        @return: C{(a, b, c, keys, mark)}: the phones, the rx keys they had
            before the call (L{rxKeys}) and where their messages stood.
        """
        a, b, c = yield self.register(ALICE, BOB, CAROL)
        keys = self.rxKeys(a, b, c)
        mark = len(a.received), len(b.received), len(c.received)
        a.offHook()
        a.pressKeys(DN_B)
        yield expect(b, RINGING, "ringing", mark[1])
        return a, b, c, keys, mark

    @bounded
    def assertCarolPickedUp(self, a: SimulatedPhone, b: SimulatedPhone, c: SimulatedPhone, keys: set[bytes],
                            mark: tuple[int, int, int]) -> Any:
        """
        Carol picked up Alice's call to Bob: Carol and Alice are connected,
        Bob is back on hook with his ringer off, each of Alice and Carol
        sees the other with the padlock on, and SRTP flows between them
        with new keys (L{assertMovedWithNewKeys} against C{keys}).

        @param mark: where the three phones' messages stood before the call.
        """
        yield expect(c, isCallState(CallState.CONNECTED), "Carol connected", mark[2])
        yield expect(a, isCallState(CallState.CONNECTED), "Alice connected", mark[0])
        yield expect(b, isCallState(CallState.ON_HOOK), "Bob back on hook", mark[1])
        self.assertEqual(b.receivedOfType(m.SetRinger)[-1].ringMode, RingMode.OFF)
        yield expect(a, isMessage(m.CallInfo, calledParty=DN_C), "Alice sees Carol", mark[0])
        yield expect(c, isMessage(m.CallInfo, callingParty=DN_A), "Carol sees Alice", mark[2])
        self.assertSecureInfo(a, DN_A, DN_C)
        self.assertSecureInfo(c, DN_A, DN_C)
        yield self.assertMediaFlows(a, c)
        self.assertMovedWithNewKeys(a, c, keys, (mark[0], mark[2]))

    @bounded
    def hangUpAndCheckIdle(self, phone: SimulatedPhone, *others: SimulatedPhone) -> Any:
        """
        C{phone} hangs up; everyone ends on hook with media closed, the
        engine has no call and every channel in the registry is idle.
        """
        def onHook(phone: SimulatedPhone) -> bool:
            states = phone.receivedOfType(m.CallState)
            return bool(states) and states[-1].callState == CallState.ON_HOOK

        phone.onHook()
        yield waitUntil(lambda: all(onHook(other) for other in (phone,) + others), "everyone on hook",
                        *self.phones)
        yield waitUntil(lambda: self.engine.calls() == [], "no call left", *self.phones)
        yield waitUntil(lambda: not any(p.media.active for p in self.phones), "all media closed", *self.phones)
        for other in (phone,) + others:
            self.assertEqual(other.receivedOfType(m.CallState)[-1].callState, CallState.ON_HOOK)
        self.assertAllIdle()

    def assertMovedWithNewKeys(self, caller: SimulatedPhone, picker: SimulatedPhone, oldKeys: set[bytes],
                               mark: tuple[int, int]) -> None:
        """
        After a pickup: the picker's new receive key is none of C{oldKeys};
        what the caller sends with its new transmit key decrypts with the
        picker's receive key and not with a third key set.
        """
        orc = [msg for msg in picker.received[mark[1]:] if isinstance(msg, m.OpenReceiveChannel)][-1]
        smt = [msg for msg in caller.received[mark[0]:] if isinstance(msg, m.StartMediaTransmission)][-1]
        self.assertNotIn(orc.rxKey.key, oldKeys)
        rtp = bytes([0x80, 0x00, 0x00, 0x01]) + bytes(8) + bytes(160)
        protected = SrtpSender(fromKeyInfo(smt.txKey)).protect(rtp)
        self.assertEqual(SrtpReceiver(fromKeyInfo(orc.rxKey)).unprotect(protected), rtp)
        self.assertRaises(SrtpError, SrtpReceiver(generateKeys()).unprotect, protected)

    @bounded
    def failAndHangUp(self, phone: SimulatedPhone, press: Callable[[], None], shown: Callable[[m.Message], bool],
                      what: str) -> Any:
        """
        C{press} makes C{phone} try something that fails: it shows
        C{shown}; no call exists (engine, C{show voice call status}); the
        phone hangs up and every channel is idle.
        """
        mark = len(phone.received)
        press()
        yield expect(phone, shown, what, mark)
        yield expect(phone, isMessage(m.StartTone, tone=Tone.REORDER), what + ": reorder", mark)
        self.assertEqual(self.engine.calls(), [])
        status = yield runCommand(self.service, "show", "voice", "call", "status")
        self.assertEqual(status.data["activeCalls"], 0)
        mark = len(phone.received)
        phone.onHook()
        yield expect(phone, isCallState(CallState.ON_HOOK), what + ": on hook", mark)
        yield waitUntil(lambda: not phone.media.active, "media closed", phone)
        self.assertAllIdle()

    def assertAllIdle(self) -> None:
        """Every channel of every registered ephone is idle, nothing off hook."""
        self.assertEqual(self.engine.calls(), [])
        ephones = self.service.registry.registeredEphones()
        self.assertEqual(len(ephones), len(self.phones))
        for ephone in ephones:
            self.assertEqual({state for line in ephone.lines for state in line.channels}, {"IDLE"})
            self.assertEqual((ephone.offhook, ephone.mediaActive), (0, 0))

    @bounded
    def test_holdAndResumeEitherParty(self) -> None:
        """
        Alice holds (HOLD state, both phones' media closed, no hold tone on
        a secure call) and resumes with new SRTP keys and media both ways; then Bob does
        the same from his side.
        """
        a, b = yield self.register(ALICE, BOB)
        refA, refB = yield self.connectCall(a, b, DN_B)
        self.assertSecureInfo(a, DN_A, DN_B)
        self.assertSecureInfo(b, DN_A, DN_B)
        for holder, heldParty, ref in (a, b, refA), (b, a, refB):
            keys = self.rxKeys(a, b)
            mark = len(holder.received), len(heldParty.received)
            holder.softKey(SoftKeyEvent.HOLD, 1, ref)
            yield expect(holder, isCallState(CallState.HOLD, ref), "hold", mark[0])
            yield expect(heldParty, isMessage(m.CloseReceiveChannel), "held party's media closed", mark[1])
            yield waitUntil(lambda: not (holder.media.active or heldParty.media.active), "media closed",
                            holder, heldParty)
            self.assertEqual([msg for msg in heldParty.received[mark[1]:] if HOLD_TONE(msg)], [])
            mark = len(holder.received), len(heldParty.received)
            holder.softKey(SoftKeyEvent.RESUME, 1, ref)
            yield expect(holder, isCallState(CallState.CONNECTED, ref), "resumed", mark[0])
            for phone, since in (holder, mark[0]), (heldParty, mark[1]):
                orc = yield expect(phone, isMessage(m.OpenReceiveChannel), "media reopened", since)
                self.assertNotIn(orc.rxKey.key, keys)
            yield self.assertMediaFlows(a, b)
        yield self.hangUpAndCheckIdle(a, b)

    @bounded
    def test_sharedLine(self) -> None:
        """
        A call to the shared DN rings both phones; the one that answers is
        connected and the other shows CallRemoteMultiline; held there, the
        other phone picks it up with Resume and media flows to it.
        """
        a, desk1, desk2 = yield self.register(ALICE, DESK1, DESK2)
        mark = len(desk1.received), len(desk2.received)
        a.offHook()
        a.pressKeys(DN_SHARED)
        yield expect(desk1, RINGING, "ringing", mark[0])
        yield expect(desk2, RINGING, "ringing", mark[1])
        ref1, ref2 = self.ref(desk1, CallState.RING_IN, mark[0]), self.ref(desk2, CallState.RING_IN, mark[1])
        desk1.offHook()
        yield expect(desk2, isCallState(CallState.CALL_REMOTE_MULTILINE, ref2), "in use elsewhere", mark[1])
        yield expect(desk1, isCallState(CallState.CONNECTED, ref1), "connected", mark[0])
        yield self.assertMediaFlows(a, desk1)
        self.assertSecureInfo(desk1, DN_A, DN_SHARED)
        self.assertFalse(desk2.media.active)

        mark = len(desk1.received), len(desk2.received)
        desk1.softKey(SoftKeyEvent.HOLD, 1, ref1)
        yield expect(desk1, isCallState(CallState.HOLD, ref1), "hold", mark[0])
        yield expect(desk2, isCallState(CallState.REMOTE_HOLD, ref2), "remote hold", mark[1])
        mark = len(desk1.received), len(desk2.received)
        desk2.softKey(SoftKeyEvent.RESUME, 1, ref2)
        yield expect(desk2, isCallState(CallState.CONNECTED, ref2), "picked up", mark[1])
        yield expect(desk1, isCallState(CallState.CALL_REMOTE_MULTILINE, ref1), "in use elsewhere", mark[0])
        yield self.assertMediaFlows(a, desk2)
        self.assertFalse(desk1.media.active)
        self.assertEqual(self.engine.calls()[0].callee.endpoint.station.ephone.mac, DESK2)
        yield self.hangUpAndCheckIdle(a, desk1, desk2)

    @bounded
    def startTransfer(self) -> Any:
        """
        Alice calls Bob, Bob answers and presses Transfer: his call is held
        and a consult leg opens with dial tone.

        @return: the phones, Bob's original and consult call references.
        """
        a, b, c = yield self.register(ALICE, BOB, CAROL)
        _, refB = yield self.connectCall(a, b, DN_B)
        mark, markA = len(b.received), len(a.received)
        b.softKey(SoftKeyEvent.TRANSFER, 1, refB)
        yield expect(b, isCallState(CallState.HOLD, refB), "original call held", mark)
        yield expect(b, isCallState(CallState.OFF_HOOK), "consult leg", mark)
        consult = self.ref(b, CallState.OFF_HOOK, mark)
        self.assertNotEqual(consult, refB)
        yield expect(a, isMessage(m.CloseReceiveChannel), "Alice's media closed", markA)
        return a, b, c, refB, consult

    @bounded
    def assertTransferred(self, a: SimulatedPhone, b: SimulatedPhone, c: SimulatedPhone,
                          refB: int, consult: int, mark: tuple[int, int, int]) -> Any:
        """
        Bob's two legs end and he is idle; Alice and Carol are connected
        with each other in CallInfo and SRTP flows between them.
        """
        yield expect(b, isCallState(CallState.ON_HOOK, refB), "original leg cleared", mark[1])
        yield expect(b, isCallState(CallState.ON_HOOK, consult), "consult leg cleared", mark[1])
        yield expect(a, isCallState(CallState.CONNECTED), "connected to Carol", mark[0])
        yield expect(c, isCallState(CallState.CONNECTED), "connected to Alice", mark[2])
        yield self.assertMediaFlows(a, c)
        for phone, other in (a, DN_C), (c, DN_A):
            info = self.lastInfo(phone)
            self.assertIn(other, (info.callingParty, info.calledParty))
            self.assertEqual(info.callSecurityStatus, CallSecurityStatus.ENCRYPTED)
        self.assertFalse(b.media.active)
        self.assertEqual(self.service.registry.byMac(BOB).lines[0].channels, ["IDLE", "IDLE"])
        [call] = self.engine.calls()
        self.assertEqual({call.caller.line.number, call.callee.line.number}, {DN_A, DN_C})

    @bounded
    def test_consultTransfer(self) -> None:
        """
        Bob consults Carol (SRTP between them while Alice is held) and
        presses Transfer again: Alice and Carol are connected with SRTP
        between them and Bob is idle.
        """
        a, b, c, refB, consult = yield self.startTransfer()
        markC = len(c.received)
        b.pressKeys(DN_C)
        yield expect(c, RINGING, "ringing", markC)
        c.offHook()
        yield expect(b, isCallState(CallState.CONNECTED, consult), "consult connected")
        yield self.assertMediaFlows(b, c)
        self.assertEqual(self.service.registry.byMac(BOB).lines[0].channels, ["HOLD", "CONNECTED"])
        mark = len(a.received), len(b.received), len(c.received)
        b.softKey(SoftKeyEvent.TRANSFER, 1, consult)
        yield self.assertTransferred(a, b, c, refB, consult, mark)
        yield self.hangUpAndCheckIdle(c, a, b)

    @bounded
    def test_blindTransferWhileRinging(self) -> None:
        """
        Transfer pressed again while Carol rings completes blind: Bob is
        cleared, Alice hears ringback, and when Carol answers Alice and
        Carol are connected with SRTP.
        """
        a, b, c, refB, consult = yield self.startTransfer()
        markC = len(c.received)
        b.pressKeys(DN_C)
        yield expect(c, RINGING, "ringing", markC)
        yield expect(b, isCallState(CallState.RING_OUT, consult), "consult ringback")
        mark = len(a.received), len(b.received), len(c.received)
        b.softKey(SoftKeyEvent.TRANSFER, 1, consult)
        yield expect(a, isCallState(CallState.RING_OUT), "ringback to Carol", mark[0])
        yield expect(b, isCallState(CallState.ON_HOOK, refB), "Bob cleared", mark[1])
        c.offHook()
        yield self.assertTransferred(a, b, c, refB, consult, mark)
        yield self.hangUpAndCheckIdle(a, b, c)

    @bounded
    def test_blindTransferByPattern(self) -> None:
        """
        With full-consult, Bob's Transfer to the desk (3004, matching
        C{transfer-pattern 3004 blind}) completes as soon as the number is
        dialled: the desk rings for Alice (CallInfo: Alice calling,
        redirected by Bob for transfer), Bob is idle, Alice hears
        ringback; the desk answers and SRTP flows with Alice.
        """
        [desk] = yield self.register(DESK1)
        a, b, c, refB, consult = yield self.startTransfer()
        mark = len(a.received), len(b.received), len(desk.received)
        b.pressKeys(DN_SHARED)
        yield expect(desk, RINGING, "ringing", mark[2])
        yield expect(b, isCallState(CallState.ON_HOOK, refB), "Bob's call cleared", mark[1])
        yield expect(b, isCallState(CallState.ON_HOOK, consult), "Bob's consult leg cleared", mark[1])
        yield expect(a, isCallState(CallState.RING_OUT), "ringback to the desk", mark[0])
        info = yield expect(desk, isMessage(m.CallInfo, lastRedirectingReason=4), "transferred CallInfo", mark[2])
        self.assertEqual((info.callingParty, info.calledParty, info.originalCalledParty, info.lastRedirectingParty),
                         (DN_A, DN_SHARED, DN_B, DN_B))
        self.assertEqual(self.service.registry.byMac(BOB).lines[0].channels, ["IDLE", "IDLE"])
        desk.offHook()
        yield expect(a, isCallState(CallState.CONNECTED), "connected to the desk", mark[0])
        yield self.assertMediaFlows(a, desk)
        self.assertEqual(self.lastInfo(a).calledParty, DN_SHARED)
        self.assertEqual([msg for msg in c.received if RINGING(msg)], [])
        yield self.hangUpAndCheckIdle(a, b, desk)

    @bounded
    def test_transferRefusedByPattern(self) -> None:
        """
        A non-local target outside transfer-pattern 9.... is refused with
        "Can Not Complete Transfer"; the consult leg clears and the original
        call resumes with new SRTP keys and media both ways.
        """
        a, b, c, refB, consult = yield self.startTransfer()
        keys = self.rxKeys(a, b)
        mark = len(a.received), len(b.received)
        b.pressKeys("5")
        yield expect(b, isMessage(m.DisplayPromptStatus, promptStatus=m.LABEL_CAN_NOT_COMPLETE_TRANSFER,
                               callReference=consult), "refused", mark[1])
        yield expect(b, isCallState(CallState.ON_HOOK, consult), "consult leg cleared", mark[1])
        yield expect(b, isCallState(CallState.CONNECTED, refB), "original call resumed", mark[1])
        for phone, since in (a, mark[0]), (b, mark[1]):
            orc = yield expect(phone, isMessage(m.OpenReceiveChannel), "media reopened", since)
            self.assertNotIn(orc.rxKey.key, keys)
        yield self.assertMediaFlows(a, b)
        self.assertEqual([msg for msg in c.received if RINGING(msg)], [])
        yield self.hangUpAndCheckIdle(b, a)

    @bounded
    def test_noAnswerForward(self) -> None:
        """
        Bob not answering for the 3 s no-answer-timeout stops his ringing,
        rings Carol with a forwarded CallInfo (original called 3002) and
        names Carol to Alice; Carol answers and SRTP flows with Alice.
        """
        a, b, c = yield self.register(ALICE, BOB, CAROL)
        mark = len(a.received), len(b.received), len(c.received)
        a.offHook()
        a.pressKeys(DN_B)
        yield expect(b, RINGING, "ringing", mark[1])
        started = reactor.seconds()
        refB = self.ref(b, CallState.RING_IN, mark[1])
        yield expect(c, RINGING, "forwarded ringing", mark[2], timeout=8)
        self.assertGreaterEqual(reactor.seconds() - started, 2.5)
        yield expect(b, isCallState(CallState.ON_HOOK, refB), "Bob stops ringing", mark[1])
        info = self.lastInfo(c)
        self.assertEqual((info.callingParty, info.calledParty, info.callType, info.originalCalledParty),
                         (DN_A, DN_C, CallType.FORWARD, DN_B))
        self.assertEqual(self.lastInfo(a).calledParty, DN_C)
        c.offHook()
        yield expect(a, isCallState(CallState.CONNECTED), "connected", mark[0])
        yield self.assertMediaFlows(a, c)
        self.assertFalse(b.media.active)
        yield self.hangUpAndCheckIdle(a, b, c)

    @bounded
    def test_forwardAllSoftKey(self) -> None:
        """
        Bob's CFwdAll softkey, 3003 and '#' give ForwardStat(all active,
        3003); a call to Bob then rings Carol at once with a forwarded
        CallInfo, Bob's phone does not ring, and Carol answers with SRTP.
        """
        a, b, c = yield self.register(ALICE, BOB, CAROL)
        mark = len(b.received)
        b.softKey(SoftKeyEvent.CFWD_ALL, 1, 0)
        yield expect(b, isMessage(m.DisplayPromptStatus, promptStatus=m.LABEL_ENTER_NUMBER), "enter number", mark)
        b.pressKeys(DN_C + "#")
        stat = yield expect(b, isMessage(m.ForwardStat, forwardAllActive=1), "forward-all on", mark)
        self.assertEqual(stat.forwardAllDirnum, DN_C)
        yield expect(b, isCallState(CallState.ON_HOOK), "input ended", mark)
        mark = len(a.received), len(b.received), len(c.received)
        a.offHook()
        a.pressKeys(DN_B)
        yield expect(c, RINGING, "forwarded ringing", mark[2])
        info = self.lastInfo(c)
        self.assertEqual((info.callingParty, info.calledParty, info.callType, info.originalCalledParty),
                         (DN_A, DN_C, CallType.FORWARD, DN_B))
        c.offHook()
        yield expect(a, isCallState(CallState.CONNECTED), "connected", mark[0])
        yield self.assertMediaFlows(a, c)
        self.assertEqual([msg for msg in b.received[mark[1]:] if RINGING(msg)], [])
        yield self.hangUpAndCheckIdle(c, a)

    @bounded
    def test_forwardAllChain(self) -> None:
        """
        Bob forwards all to Carol, Carol to the desk (3004): Alice's call to
        Bob rings the desk with CallInfo original called 3002 and last
        redirecting 3003; neither Bob nor Carol rings; the desk answers and
        SRTP flows with Alice.
        """
        a, b, c, desk = yield self.register(ALICE, BOB, CAROL, DESK1)
        self.engine.forwards.setAll(DN_B, DN_C)
        self.engine.forwards.setAll(DN_C, DN_SHARED)
        mark = len(a.received), len(b.received), len(c.received), len(desk.received)
        a.offHook()
        a.pressKeys(DN_B)
        yield expect(desk, RINGING, "forwarded twice, ringing", mark[3])
        info = self.lastInfo(desk)
        self.assertEqual((info.callingParty, info.calledParty, info.callType, info.originalCalledParty,
                          info.lastRedirectingParty, info.lastRedirectingReason),
                         (DN_A, DN_SHARED, CallType.FORWARD, DN_B, DN_C, 15))
        desk.offHook()
        yield expect(a, isCallState(CallState.CONNECTED), "connected", mark[0])
        yield self.assertMediaFlows(a, desk)
        for phone, since in (b, mark[1]), (c, mark[2]):
            self.assertEqual([msg for msg in phone.received[since:] if RINGING(msg)], [])
        yield self.hangUpAndCheckIdle(desk, a)

    @bounded
    def callByStimulus(self, caller: SimulatedPhone, calling: str, callee: SimulatedPhone, called: str,
                       stimulus: int, instance: int, what: str) -> Any:
        """
        C{caller} (number C{calling}) on hook presses C{stimulus}
        C{instance}: it dials C{called}, C{callee} rings (C{what}) and
        answers; SRTP flows and the caller's CallInfo is secure; then the
        caller hangs up and both phones are idle.
        """
        mark = len(caller.received), len(callee.received)
        caller.stimulus(stimulus, instance)
        yield expect(callee, RINGING, what, mark[1])
        self.assertEqual(caller.receivedOfType(m.DialedNumber)[-1].dialedNumber, called)
        callee.offHook()
        yield expect(caller, isCallState(CallState.CONNECTED), "connected", mark[0])
        yield self.assertMediaFlows(caller, callee)
        self.assertSecureInfo(caller, calling, called)
        yield self.hangUpAndCheckIdle(caller, callee)

    @bounded
    def test_speedDialAndRedial(self) -> None:
        """
        Alice's speed-dial button (3002) on hook goes off hook and rings
        Bob, who answers: SRTP flows.  After the hang-up, Redial rings Bob
        again; a speed-dial instance with no number gets "Key Is Not
        Active" and Alice can still call.
        """
        a, b = yield self.register(ALICE, BOB)
        yield self.callByStimulus(a, DN_A, b, DN_B, Stimulus.SPEED_DIAL, 1, "ringing from the speed dial")
        mark = len(a.received), len(b.received)
        a.softKey(SoftKeyEvent.REDIAL, 1, 0)
        yield expect(b, RINGING, "ringing from Redial", mark[1])
        b.offHook()
        yield expect(a, isCallState(CallState.CONNECTED), "connected again", mark[0])
        yield self.hangUpAndCheckIdle(b, a)
        mark = len(a.received)
        a.stimulus(Stimulus.SPEED_DIAL, 7)
        yield expect(a, isMessage(m.DisplayNotify, notify=m.LABEL_KEY_IS_NOT_ACTIVE), "key not active", mark)
        self.assertAllIdle()

    @bounded
    def test_messagesButtonDialsVoicemail(self) -> None:
        """
        Alice's Messages button (Stimulus VoiceMail) on hook goes off hook
        and dials the voicemail number 3003: Carol's phone, standing in for
        the voicemail system, rings and answers; SRTP flows.
        """
        a, c = yield self.register(ALICE, CAROL)
        yield self.callByStimulus(a, DN_A, c, DN_C, Stimulus.VOICE_MAIL, 0, "ringing from the Messages button")

    @bounded
    def test_messageWaitingLamp(self) -> None:
        """
        C{srst-cli mwi on 3001} over the router's admin socket lights
        Alice's message-waiting lamp (SetLamp, voice-mail stimulus,
        instance 0) and C{show ephone --json} says so; C{mwi off} puts it
        out; an unknown number is refused with exit code 1.
        """
        [a] = yield self.register(ALICE)
        socket = self.service.config.admin.socket
        lamp = isMessage(m.SetLamp, stimulus=Stimulus.VOICE_MAIL, stimulusInstance=0)

        def cli(*words: str) -> Any:
            out, err = io.StringIO(), io.StringIO()
            d = deferToThread(cliMain, ["--socket", socket] + list(words), out, err)
            return d.addCallback(lambda code: (code, out.getvalue(), err.getvalue()))

        mark = len(a.received)
        result = yield cli("mwi", "on", DN_A)
        self.assertEqual(result, (0, "Message waiting on for 3001: lamp set on ephone-1\n", ""))
        on = yield expect(a, lamp, "lamp on", mark)
        self.assertEqual(on.lampMode, LampMode.ON)
        code, out, err = yield cli("--json", "show", "ephone", "registered")
        self.assertEqual([e["messageWaiting"] for e in json.loads(out)["ephones"]], [True])
        mark = len(a.received)
        result = yield cli("mwi", "off", DN_A)
        self.assertEqual(result[0], 0)
        off = yield expect(a, lamp, "lamp off", mark)
        self.assertEqual(off.lampMode, LampMode.OFF)
        result = yield cli("mwi", "on", "9999")
        self.assertEqual(result, (1, "% Unknown number 9999: no ephone has a line with that number\n", ""))

    @bounded
    def test_doNotDisturb(self) -> None:
        """
        Bob's DND softkey shows "DND"; Alice calling him hears busy and his
        phone does not ring; show ephone marks him DnD.  DND again clears
        it and Alice's call rings him.
        """
        a, b = yield self.register(ALICE, BOB)
        mark = len(b.received)
        b.softKey(SoftKeyEvent.DND, 1, 0)
        yield expect(b, isMessage(m.DisplayPromptStatus, promptStatus=m.label(m.Label.DND)), "DND prompt", mark)
        [ephone] = [e for e in self.service.registry.registeredEphones() if e.mac == BOB]
        self.assertIn(" DnD", renderEphone(ephone)[1])
        mark = len(a.received), len(b.received)
        a.offHook()
        a.pressKeys(DN_B)
        yield expect(a, isMessage(m.DisplayPromptStatus, promptStatus=m.LABEL_BUSY), "busy", mark[0])
        self.assertEqual([msg for msg in b.received[mark[1]:] if RINGING(msg)], [])
        yield self.hangUpAndCheckIdle(a)
        mark = len(a.received), len(b.received)
        b.softKey(SoftKeyEvent.DND, 1, 0)
        yield expect(b, isMessage(m.ClearPromptStatus), "DND cleared", mark[1])
        self.assertNotIn("DnD", renderEphone(ephone)[1])
        a.offHook()
        a.pressKeys(DN_B)
        yield expect(b, RINGING, "ringing without DND", mark[1])
        yield self.hangUpAndCheckIdle(a, b)

    @bounded
    def test_groupPickUp(self) -> None:
        """
        Alice calls Bob; while Bob rings, Carol (Bob's pickup group) presses
        GPickUp: Bob stops ringing and goes on hook, Alice and Carol are
        connected (Alice sees Carol, padlock on), SRTP flows both ways with
        new keys for the new pair, and a third key set decrypts nothing.
        """
        a, b, c, keys, mark = yield self.bobRingingForAlice()
        c.softKey(SoftKeyEvent.GROUP_PICK_UP, 1, 0)
        yield self.assertCarolPickedUp(a, b, c, keys, mark)
        self.assertEqual([msg for msg in b.received[mark[1]:] if isinstance(msg, m.OpenReceiveChannel)], [])
        yield self.hangUpAndCheckIdle(a, c)

    @bounded
    def test_directedPickUp(self) -> None:
        """
        Alice calls Bob; while Bob rings, Carol presses PickUp and dials
        3002: Bob stops ringing and goes on hook, Alice and Carol are
        connected (each sees the other, padlock on), SRTP flows both ways
        with new keys for the new pair, and a third key set decrypts
        nothing.
        """
        a, b, c, keys, mark = yield self.bobRingingForAlice()
        c.softKey(SoftKeyEvent.PICK_UP, 1, 0)
        yield expect(c, isMessage(m.StartTone, tone=Tone.INSIDE_DIAL), "PickUp dial tone", mark[2])
        c.pressKeys(DN_B)
        yield self.assertCarolPickedUp(a, b, c, keys, mark)
        yield self.hangUpAndCheckIdle(c, a)

    @bounded
    def test_badInputLeavesNoCall(self) -> None:
        """
        Carol's PickUp of 3002 with nothing ringing shows "No call
        available for pickup"; Alice dialling 6001 (aliases 6001 -> 6002 ->
        6001, nobody registered) and 4085553099 (the dialplan-pattern's
        extension 3099 is nobody's) gets "Unknown Number".  Each leaves no
        call and reorder; after hanging up both phones place a call with
        SRTP as usual.
        """
        a, b, c = yield self.register(ALICE, BOB, CAROL)

        def pickUp() -> None:
            c.softKey(SoftKeyEvent.PICK_UP, 1, 0)
            c.pressKeys(DN_B)

        yield self.failAndHangUp(c, pickUp, isMessage(m.DisplayNotify, notify="No call available for pickup"),
                                 "PickUp with nothing ringing")
        for number in "6001", "4085553099":
            def dial(number: str = number) -> None:
                a.offHook()
                a.pressKeys(number)

            yield self.failAndHangUp(a, dial, isMessage(m.DisplayPromptStatus, promptStatus=m.LABEL_UNKNOWN_NUMBER),
                                     "dialled " + number)
        yield self.connectCall(a, b, DN_B)
        yield self.hangUpAndCheckIdle(a, b)
        yield self.connectCall(c, b, DN_B)
        yield self.hangUpAndCheckIdle(c, b)


FORWARD_ALL_CMF = SECURE_CMF_HEAD + """
  max-ephones: 10
  max-dn: 50
  call-forward: {all: "3003"}
  ephones:
    - {mac: 0000.0000.00F2, type: "7970", buttons: [{line: 1, dn: "3002", label: "3002", name: Bob}]}
    - {mac: 0000.0000.00F3, type: "7970", buttons: [{line: 1, dn: "3003", label: "3003", name: Carol}]}
"""


class ConfiguredForwardAllIntegrationTests(TestCase):
    """
    A configured C{call-forward all} over real sockets.
    """

    timeout = 30

    @bounded
    def test_forwardStatAtRegistration(self) -> None:
        """
        With C{call-forward: {all: 3003}}, Bob's TLS phone registering asks
        for its line's forward state and is told forward-all is on to 3003
        (so it shows "Forwarded to" at once); Carol, the target, is told
        her line is not forwarded.
        """
        service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), FORWARD_ALL_CMF))
        (b, _), (c, _) = yield gatherResults([registeredPhone(self, service, mac) for mac in (BOB, CAROL)])
        stat = yield expect(b, isMessage(m.ForwardStat), "Bob's ForwardStat")
        self.assertEqual((stat.activeForward, stat.lineNumber, stat.forwardAllActive, stat.forwardAllDirnum),
                         (1, 1, 1, DN_C))
        stat = yield expect(c, isMessage(m.ForwardStat), "Carol's ForwardStat")
        self.assertEqual((stat.activeForward, stat.lineNumber, stat.forwardAllActive, stat.forwardAllDirnum),
                         (0, 1, 0, ""))
