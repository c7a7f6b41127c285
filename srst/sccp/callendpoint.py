# -*- test-case-name: tests.test_sccp_callendpoint -*-
"""
One registered SCCP phone as a call endpoint.

L{SccpEndpoint} is the L{ICallEndpoint} of one phone: it sends the SCCP
messages of each engine event in the order of sccp.md 5.4: (a)-(g) for
basic calls (dial tone, digits, ringing, answer, media, hang-up, hold), (h)
transfer, (i) forwarding, (j) shared lines (in use elsewhere, remote hold,
idle), and the router's own media of design 14 section 2: the music on hold
a held phone receives, a conference's consult call, the quiet release of the
creator's merged call, and the participants' calls to the bridge.  It writes the C{debug ephone state} lines of the seed
(C{SetCallState line 1 DN 2(-1) chan 1 ref 6 TsOffHook}, C{Security Key
Generation}, C{Send Decryption Key}, C{StartMedia ...}, C{Send Encryption
Key}) through its station (never a key), and keeps the C{show ephone}
fields of the phone's L{Ephone} (line channels, off hook, ringing, active
line, media active) up to date.

It speaks the engine's vocabulary on one side and SCCP on the other:
L{engineCodec} and L{sccpCodec} map SCCP compressionType ids 4 and 2 to
and from the engine's G.711 codecs (any other id is a codec srst does not
carry), L{srst.sccp.srtpkeys} turns the engine's SRTP keys into key blocks,
and each L{FailureReason} becomes its tone and prompt.

The phone is reached only through its L{ICallStation}: the label, C{send},
the ephone, C{now()} and the C{debug ephone state} writer.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from twisted.logger import Logger
from zope.interface import implementer

from srst.calls.interfaces import FailureReason, ICallEndpoint, LineRef, Party
from srst.calls.leg import Leg, LegStatus
from srst.calls.media import Codec, ForeignCodec, MediaStream, OfferedCodec, payloadBytes
from srst.sccp import messages as m
from srst.sccp.constants import Codec as SccpCodec
from srst.sccp.constants import (
    PROTOCOL_VERSION_CALL_REFERENCE,
    CallSecurityStatus,
    CallState,
    CallType,
    LampMode,
    RingDuration,
    RingMode,
    SoftKeySet,
    SpeakerMode,
    Stimulus,
    Tone,
    ToneDirection,
)
from srst.sccp.registry import LINE_IDLE, Ephone
from srst.sccp.srtpkeys import toKeyInfo
from srst.sccp.station import ICallStation

_log = Logger(namespace="srst.calls.sccp")

ALL_KEYS = 0xFFFFFFFF
"""SelectSoftKeys.validKeyMask enabling every key of the set."""

PRECEDENCE_LEVEL = 4
"""CallState.precedenceLevel as CUCM sends it."""

KEY_NOT_ACTIVE_SECONDS = 5
"""How long "Key Is Not Active" (and "No call available for pickup") shows."""

NO_CALL_FOR_PICKUP = "No call available for pickup"
"""
What GPickUp shows when nothing rings in the phone's pickup group, and
PickUp when nothing rings at the number dialled (as CUCM words it).
"""

TOS_EF = 0xB8
"""StartMediaTransmission.precedenceValue: DSCP EF."""

NOTIFY_SECONDS, NOTIFY_PRIORITY = 10, 5
"""How long and with which priority the incoming-call notification shows."""

VOICE_PORT_PREFIX = "50/0/"
"""The slot and subunit of the ephone-dn voice ports (C{show voice call status})."""

DIAL_PEER_BASE = 20000
"""Added to an C{ephone-dn} tag to give the dial-peer tag IOS shows for it."""

CONFERENCE_PARTY = Party("", "Conference")
"""The other side of a conference participant's call (the bridge), as the engine names it."""

_TS = {
    CallState.OFF_HOOK: "TsOffHook", CallState.ON_HOOK: "TsOnHook", CallState.RING_OUT: "TsRingOut",
    CallState.RING_IN: "TsRingIn", CallState.CONNECTED: "TsConnected", CallState.BUSY: "TsBusy",
    CallState.HOLD: "TsHold", CallState.PROCEED: "TsProceed",
}
"""The IOS names C{debug ephone state} prints for call states."""

_TONE_NAMES = {Tone.INSIDE_DIAL: "DtInsideDialTone", Tone.OUTSIDE_DIAL: "DtOutsideDialTone",
               Tone.ALERTING: "DtAlertingTone", Tone.LINE_BUSY: "DtBusyTone", Tone.REORDER: "DtReorderTone",
               Tone.HOLD: "DtHoldTone"}
"""The IOS names C{debug ephone state} prints for tones."""

_IOS_CALL_STATES = {CallState.RING_OUT: 1, CallState.CONNECTED: 4, CallState.RING_IN: 7}
"""The channel state numbers IOS prints in C{Call Info ... call state n} (the seed's 1, 7, 4); other
states print their SCCP number."""

_OFF_HOOK_CHANNELS = frozenset(("SEIZE", "ALERTING", "CONNECTED", "HOLD"))
"""The channel states that count as off hook in C{show ephone}."""

_SCCP_CODECS = {Codec.G711_ULAW: SccpCodec.G711_ULAW_64K, Codec.G711_ALAW: SccpCodec.G711_ALAW_64K}
"""The compressionType of each codec the engine carries."""

_ENGINE_CODECS = {int(sccp): codec for codec, sccp in _SCCP_CODECS.items()}


def engineCodec(compressionType: int) -> OfferedCodec:
    """
    @param compressionType: an SCCP codec id (CapabilitiesRes).
    @return: the engine's L{Codec} for it, or a L{ForeignCodec} named by
        the id for a codec srst does not carry.
    """
    return _ENGINE_CODECS.get(compressionType) or ForeignCodec(str(int(compressionType)))


def sccpCodec(codec: Codec) -> SccpCodec:
    """
    @param codec: a codec the engine carries.
    @return: its SCCP compressionType.
    """
    return _SCCP_CODECS[codec]


@implementer(ICallEndpoint)
class SccpEndpoint:
    """
    One registered phone as a call endpoint (see the module docstring).

    @ivar station: the phone's session, as an L{ICallStation}.
    @ivar gone: whether the phone disappeared (nothing is sent any more).
    @ivar speaker: whether the phone went off hook on the speaker (softkey
        or line key) rather than the handset.
    """

    outside = False
    """A phone: calls to it are local."""

    def __init__(self, station: ICallStation) -> None:
        """
        @param station: a registered phone's session.
        """
        self.station = station
        self.gone = False
        self.speaker = False
        self._channels: dict[Leg, str] = {}
        self._transmitting: set[Leg] = set()
        self._holdTone: set[Leg] = set()
        self._toneOn: set[Leg] = set()

    # -- ICallEndpoint attributes --------------------------------------------------------------

    @property
    def label(self) -> str:
        """C{ephone-2[2]}."""
        return self.station.label()

    @property
    def ephone(self) -> Ephone | None:
        """The phone's record while this session holds the registration."""
        ephone = self.station.ephone
        if ephone is None or ephone.station is not self.station:
            return None
        return ephone

    @property
    def secure(self) -> bool:
        """Registered over verified TLS at a version with SRTP key blocks."""
        ephone = self.ephone
        return bool(ephone is not None and ephone.secure
                    and ephone.protocolVersion >= PROTOCOL_VERSION_CALL_REFERENCE)

    @property
    def capabilities(self) -> tuple[OfferedCodec, ...]:
        """The codecs of the phone's CapabilitiesRes, in the engine's terms."""
        ephone = self.ephone
        return tuple(engineCodec(c) for c in ephone.capabilities) if ephone is not None else ()

    def mediaAvailable(self) -> bool:
        """A phone opens its own media ports: always."""
        return True

    def mediaRefused(self) -> None:
        """Never asked: see L{mediaAvailable}."""

    def lineBusy(self) -> bool:
        """A phone without a call is busy only in do-not-disturb (L{Ephone.dnd})."""
        ephone = self.ephone
        return ephone is not None and ephone.dnd

    def mediaSnapshot(self) -> None:
        """Phones send media to each other, not through the router: none."""
        return None

    def voicePortName(self, line: LineRef) -> str:
        """C{50/0/<ephone-dn tag>.0}: the seed's pseudo voice port of the line's first channel."""
        return f"{VOICE_PORT_PREFIX}{line.tag}.0"

    def dialPeerTag(self, line: LineRef) -> int:
        """The dial-peer IOS creates for the C{ephone-dn}: L{DIAL_PEER_BASE} plus its tag (C{20014})."""
        return DIAL_PEER_BASE + line.tag

    # -- helpers ---------------------------------------------------------------------------------

    def send(self, *msgs: m.Message) -> None:
        """
        Send messages to the phone (nothing once it is gone).  A message
        that does not fit the phone's protocol version is logged and
        skipped, so that one phone's problem never breaks the other's.
        """
        if self.gone:
            return
        for msg in msgs:
            try:
                self.station.send(msg)
            except m.EncodeError as e:
                _log.error("{station}: cannot send {message}: {error}", station=self.label,
                           message=type(msg).__name__, error=str(e))

    def debug(self, text: str, **fields: Any) -> None:
        """Write a C{debug ephone state} line prefixed with the station (if that debug is on)."""
        self.station.stateDebug(text, **fields)

    def dnDebug(self, text: str, **fields: Any) -> None:
        """Write a C{debug ephone state} line of a DN's channel: IOS writes those without the station."""
        self.station.stateDebug(text, labelled=False, **fields)

    def _voiceMode(self, leg: Leg) -> m.ActivateCallPlane:
        self.dnDebug("DN {dn} chan 1 Voice_Mode", dn=leg.line.tag)
        return m.ActivateCallPlane(leg.line.instance)

    def _callState(self, leg: Leg, state: CallState) -> m.CallState:
        self.debug("SetCallState line {line} DN {dn}(-1) chan 1 ref {ref} {ts}", line=leg.line.instance,
                   dn=leg.line.tag, ref=leg.callReference, ts=_TS.get(state, str(int(state))))
        return m.CallState(state, leg.line.instance, leg.callReference, 0, PRECEDENCE_LEVEL, 0)

    def _tone(self, leg: Leg, tone: Tone) -> m.StartTone:
        self._toneOn.add(leg)
        self.dnDebug("dn_tone_control DN={dn} chan 1 tonetype={tone}:{name} onoff=1 pid={pid}", dn=leg.line.tag,
                     tone=int(tone), name=_TONE_NAMES.get(tone, "Tone"), pid=os.getpid())
        return m.StartTone(tone, ToneDirection.USER, leg.line.instance, leg.callReference)

    def _stopTone(self, leg: Leg) -> m.StopTone:
        """StopTone; C{dn_tone_control ... DtSilence onoff=0} when a tone was playing."""
        if leg in self._toneOn:
            self._toneOn.discard(leg)
            self.dnDebug("dn_tone_control DN={dn} chan 1 tonetype=0:DtSilence onoff=0 pid={pid}", dn=leg.line.tag,
                         pid=os.getpid())
        return m.StopTone(leg.line.instance, leg.callReference)

    def _keys(self, leg: Leg, softKeySet: SoftKeySet) -> m.SelectSoftKeys:
        return m.SelectSoftKeys(leg.line.instance, leg.callReference, softKeySet, ALL_KEYS)

    def _prompt(self, leg: Leg, text: str) -> m.DisplayPromptStatus:
        return m.DisplayPromptStatus(0, text[:32], leg.line.instance, leg.callReference)

    def _callInfo(self, leg: Leg, remote: Party | None, security: CallSecurityStatus,
                  state: CallState | None = None) -> m.CallInfo:
        """
        CallInfo; with C{state} (the call state it goes with), also the
        seed's C{Call Info} block of C{debug ephone state}.
        """
        own = Party(leg.line.number, leg.line.name)
        other = remote or Party("")
        calling, called = (own, other) if leg.outgoing else (other, own)
        redirect = None if leg.outgoing else leg.redirect
        original = redirect.original if redirect is not None else called
        last = redirect.lastRedirecting if redirect is not None else Party("")
        reason = int(redirect.reason) if redirect is not None else 0
        callType = CallType.OUTBOUND if leg.outgoing else CallType.FORWARD if redirect else CallType.INBOUND
        if state is not None and self.station.stateDebugEnabled():
            fields = dict(dn=leg.line.tag, line=leg.line.instance, ref=leg.callReference, called=called.number,
                          calling=calling.number, last=last.number, original=original.number)
            self.debug(":callingNumber {calling}", **fields)
            self.debug(":callingParty {party}", party=calling.name or calling.number, **fields)
            self.debug("Call Info DN {dn} line {line} ref {ref} call state {state} called {called} calling {calling}"
                       " origcalled {last}", state=_IOS_CALL_STATES.get(state, int(state)), **fields)
            self.debug("Call Info DN {dn} line {line} ref {ref} called {called} calling {calling} origcalled"
                       " {original} calltype {callType}", callType=int(callType), **fields)
            self.debug("Call Info for chan 1")
            self.debug("Original Called Name {name}", name=original.name or original.number)
            self.debug("{calling} calling ", **fields)
            self.debug("{called}", **fields)
        return m.CallInfo(
            callingPartyName=calling.name, callingParty=calling.number, calledPartyName=called.name,
            calledParty=called.number, lineInstance=leg.line.instance, callReference=leg.callReference,
            callType=callType, originalCalledPartyName=original.name, originalCalledParty=original.number,
            lastRedirectingPartyName=last.name, lastRedirectingParty=last.number, originalCdpnRedirectReason=reason,
            lastRedirectingReason=reason, callInstance=1, callSecurityStatus=security)

    def _stopStream(self, leg: Leg, stream: MediaStream | None) -> list[m.Message]:
        self._transmitting.discard(leg)
        if stream is None:
            return []
        ref = leg.callReference
        return [m.CloseReceiveChannel(ref, stream.passThruPartyId, ref),
                m.StopMediaTransmission(ref, stream.passThruPartyId, ref)]

    def _channel(self, leg: Leg, state: str | None) -> None:
        if state is None:
            self._channels.pop(leg, None)
        else:
            self._channels[leg] = state
        ephone = self.ephone
        if ephone is None:
            return
        states = list(self._channels.items())
        for line in ephone.lines:
            onLine = [s for l, s in states if l.line.instance == line.assignment.instance]
            line.channels[:] = (onLine + [LINE_IDLE] * len(line.channels))[:len(line.channels)]
        offHook = [l for l, s in states if s in _OFF_HOOK_CHANNELS]
        ephone.offhook = int(bool(offHook))
        ephone.ringing = int(any(s == "RINGING" for l, s in states))
        ephone.activeLine = offHook[0].line.instance if offHook else 0
        ephone.mediaActive = int(bool(self._transmitting))

    # -- ICallEndpoint ---------------------------------------------------------------------------

    def seized(self, leg: Leg) -> None:
        """sccp.md 5.4 (a): dial tone and "Enter number"."""
        n, ref = leg.line.instance, leg.callReference
        self.send(m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0))
        if self.speaker:
            self.send(m.SetSpeakerMode(SpeakerMode.ON))
        # IOS counts activeLine from 0.
        self.debug("SIEZE on activeLine {line} activeChan 1", line=n - 1, ref=ref)
        consult = leg.consult or leg.conferenceConsult
        self.send(m.SetLamp(Stimulus.LINE, n, LampMode.ON), self._callState(leg, CallState.OFF_HOOK),
                  self._keys(leg, SoftKeySet.OFF_HOOK_FEATURES if consult else SoftKeySet.OFF_HOOK),
                  self._prompt(leg, m.LABEL_ENTER_NUMBER))
        # srst has no PLAR for ephone lines: the check finds no number, so dial tone.
        self.debug("Check Plar Number ")
        self.send(self._voiceMode(leg), self._tone(leg, Tone.INSIDE_DIAL))
        self._channel(leg, LegStatus.DIALING.channel)

    def digitsStarted(self, leg: Leg) -> None:
        """The first digit: dial tone off, DigitsFoll softkeys."""
        self.send(self._stopTone(leg), self._keys(leg, SoftKeySet.DIGITS_FOLLOWING))

    def secondaryDialTone(self, leg: Leg) -> None:
        """The access code was dialled: outside dial tone."""
        self.send(self._tone(leg, Tone.OUTSIDE_DIAL))

    def _dialled(self, leg: Leg) -> None:
        """The leg's number is complete: Redial dials it next (L{Ephone.lastDialled})."""
        ephone = self.ephone
        if ephone is not None and leg.outgoing and leg.collector.digits:
            ephone.lastDialled = leg.collector.digits

    def proceeding(self, leg: Leg, called: Party) -> None:
        """sccp.md 5.4 (b): the number is complete and reaches a phone."""
        self._dialled(leg)
        if called.tag:
            self.debug("Skinny-to-Skinny call DN {dn} chan 1 to DN {calledDn} chan 1 instance 1", dn=leg.line.tag,
                       calledDn=called.tag, number=called.number)
        else:
            self.debug("Skinny-to-Skinny call DN {dn} chan 1 to {number} instance 1", dn=leg.line.tag,
                       number=called.number)
        self.send(m.DialedNumber(leg.collector.digits or called.number, leg.line.instance, leg.callReference),
                  self._callState(leg, CallState.PROCEED),
                  self._callInfo(leg, Party(called.number), CallSecurityStatus.UNKNOWN),
                  self._keys(leg, SoftKeySet.RING_OUT), self._prompt(leg, m.LABEL_RING_OUT))

    def ringback(self, leg: Leg, called: Party) -> None:
        """sccp.md 5.4 (c), caller side: RingOut and ringback tone."""
        self.send(self._callState(leg, CallState.RING_OUT), self._tone(leg, Tone.ALERTING),
                  self._callInfo(leg, called, CallSecurityStatus.UNKNOWN, CallState.RING_OUT))
        self._channel(leg, LegStatus.RING_OUT.channel)

    def alerting(self, leg: Leg, caller: Party) -> None:
        """sccp.md 5.4 (c), callee side: RingIn, lamp blink, ringer."""
        n, ref = leg.line.instance, leg.callReference
        text = (m.LABEL_FROM + (caller.name or caller.number))[:32]
        self.send(self._callState(leg, CallState.RING_IN), self._keys(leg, SoftKeySet.RING_IN),
                  self._prompt(leg, text), m.DisplayPriNotify(NOTIFY_SECONDS, NOTIFY_PRIORITY, text),
                  self._callInfo(leg, caller, CallSecurityStatus.UNKNOWN, CallState.RING_IN),
                  m.SetLamp(Stimulus.LINE, n, LampMode.BLINK),
                  m.SetRinger(RingMode.INSIDE, RingDuration.NORMAL, n, ref))
        self.debug("Ringer Inside Ring On")
        self._channel(leg, LegStatus.RING_IN.channel)

    def failed(self, leg: Leg, reason: FailureReason) -> None:
        """sccp.md 5.4 (b): unknown number (reorder), busy, congestion."""
        self._dialled(leg)
        if reason is FailureReason.BUSY:
            self.send(self._callState(leg, CallState.BUSY), self._tone(leg, Tone.LINE_BUSY),
                      self._prompt(leg, m.LABEL_BUSY))
        elif reason is FailureReason.UNKNOWN_NUMBER:
            self.send(self._prompt(leg, m.LABEL_UNKNOWN_NUMBER), self._tone(leg, Tone.REORDER))
        elif reason is FailureReason.TRANSFER_REFUSED:
            self.send(self._prompt(leg, m.LABEL_CAN_NOT_COMPLETE_TRANSFER), self._tone(leg, Tone.REORDER))
        elif reason is FailureReason.NOTHING_TO_PICK_UP:
            self.send(m.DisplayNotify(KEY_NOT_ACTIVE_SECONDS, NO_CALL_FOR_PICKUP), self._tone(leg, Tone.REORDER))
        else:
            self.send(self._tone(leg, Tone.REORDER), self._prompt(leg, m.LABEL_TEMP_FAIL))
        self._channel(leg, LegStatus.FAILED.channel)

    def answering(self, leg: Leg) -> None:
        """sccp.md 5.4 (d), callee side, up to the media."""
        n, ref = leg.line.instance, leg.callReference
        self.debug("Ringer Off")
        self.debug("ANSWER call")
        self.send(m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0))
        if self.speaker:
            self.send(m.SetSpeakerMode(SpeakerMode.ON))
        self.send(m.SetLamp(Stimulus.LINE, n, LampMode.ON), self._callState(leg, CallState.OFF_HOOK))
        caller, ephone = leg.remote, self.ephone
        if caller is not None and caller.owner and ephone is not None:
            self.station.stateDebug("{station}[{device}]:Answer Incoming call from {owner} DN {callerDn} chan 1",
                                    labelled=False, device=ephone.deviceName, owner=caller.owner,
                                    callerDn=caller.tag)
        self.send(self._voiceMode(leg), m.SetRinger(RingMode.OFF, RingDuration.NORMAL, n, ref), self._stopTone(leg))
        self._channel(leg, LegStatus.CONNECTED.channel)

    def openReceive(self, leg: Leg, stream: MediaStream) -> None:
        """OpenReceiveChannel, with the receive (decryption) key of a secure call."""
        ref = leg.callReference
        if stream.rxKeys is not None:
            self.debug("Security Key Generation")
        self.debug("OpenReceive DN {dn} chan 1 codec {codec}:{codecName} duration {ms} ms bytes {size}",
                   dn=leg.line.tag, codec=int(sccpCodec(stream.codec)), codecName=stream.codec.iosName,
                   ms=stream.milliseconds, size=payloadBytes(stream.codec, stream.milliseconds))
        self.send(m.OpenReceiveChannel(
            conferenceId=ref, passThruPartyId=stream.passThruPartyId, millisecondPacketSize=stream.milliseconds,
            compressionType=sccpCodec(stream.codec), echoCancellation=0, callReference=ref,
            rxKey=toKeyInfo(stream.rxKeys)))
        if stream.rxKeys is not None:
            self.debug("Send Decryption Key")

    def startTransmit(self, leg: Leg, stream: MediaStream) -> None:
        """StartMediaTransmission to the far end's address, with the encryption key."""
        remote = stream.remote
        if remote is None or remote.address is None:
            return
        host, port = remote.address
        ref = leg.callReference
        self.debug("StartMedia {ip} port={port}", ip=host, port=port)
        self.dnDebug("DN {dn} chan 1 codec {codec}:{codecName} duration {ms} ms bytes {size}", dn=leg.line.tag,
                     codec=int(sccpCodec(stream.codec)), codecName=stream.codec.iosName, ms=stream.milliseconds,
                     size=payloadBytes(stream.codec, stream.milliseconds))
        self.send(m.StartMediaTransmission(
            conferenceId=ref, passThruPartyId=stream.passThruPartyId, remoteIpAddr=ipaddress.ip_address(host),
            remotePortNumber=port, millisecondPacketSize=stream.milliseconds,
            compressionType=sccpCodec(stream.codec), precedenceValue=TOS_EF, silenceSuppression=0,
            maxFramesPerPacket=0, callReference=ref, txKey=toKeyInfo(stream.txKeys)))
        if stream.txKeys is not None:
            self.debug("Send Encryption Key")
        self._transmitting.add(leg)
        self._channel(leg, self._channels.get(leg, LegStatus.CONNECTED.channel))

    def connected(self, leg: Leg, remote: Party, encrypted: bool) -> None:
        """
        sccp.md 5.4 (d): Connected, with the padlock when encrypted.  A
        participant's call to a conference bridge shows "Conference" (prompt
        and CallInfo); a conference's consult call offers Confrn (the
        ConnectedConference set) to join the three.
        """
        security = CallSecurityStatus.ENCRYPTED if encrypted else CallSecurityStatus.NOT_AUTHENTICATED
        ringback = leg.outgoing and leg in self._toneOn
        if leg.outgoing:
            # The caller's media starts once connected (the engine opens it after this).
            self.dnDebug("defer_start for DN {dn} chan 1 at CONNECTED", dn=leg.line.tag)
        stopTone = self._stopTone(leg)
        if ringback:
            # The channel leaves the ringback tone's voice mode for the call's.
            self.dnDebug("DN {dn} chan 1 End Voice_Mode", dn=leg.line.tag)
            self.dnDebug("DN {dn} chan 1 Voice_Mode", dn=leg.line.tag)
        conference = remote == CONFERENCE_PARTY
        keys = SoftKeySet.CONNECTED_CONFERENCE if leg.conferenceConsult and not conference else SoftKeySet.CONNECTED
        self.send(stopTone, self._callState(leg, CallState.CONNECTED), self._keys(leg, keys),
                  self._prompt(leg, m.LABEL_CONFERENCE if conference else m.LABEL_CONNECTED),
                  self._callInfo(leg, remote, security, CallState.CONNECTED))
        self._channel(leg, LegStatus.CONNECTED.channel)

    def mediaClosed(self, leg: Leg, stream: MediaStream) -> None:
        """
        The router closed the leg's stream while the call goes on (design 14
        section 2): the music on hold ends (CloseReceiveChannel only: the
        phone never sent), or the leg moves to or off a conference bridge
        (CloseReceiveChannel and StopMediaTransmission).
        """
        if stream.music:
            ref = leg.callReference
            self.send(m.CloseReceiveChannel(ref, stream.passThruPartyId, ref))
        else:
            self.send(*self._stopStream(leg, stream))
        self._channel(leg, self._channels.get(leg, LegStatus.CONNECTED.channel))

    def held(self, leg: Leg, stream: MediaStream | None) -> None:
        """sccp.md 5.4 (g), holder side."""
        if leg in self._holdTone:
            self._holdTone.discard(leg)
            self.send(self._stopTone(leg))
        self.send(*self._stopStream(leg, stream))
        self.send(m.SetLamp(Stimulus.LINE, leg.line.instance, LampMode.WINK), self._callState(leg, CallState.HOLD),
                  self._keys(leg, SoftKeySet.ON_HOLD), self._prompt(leg, m.LABEL_HOLD),
                  m.SetSpeakerMode(SpeakerMode.OFF))
        self._channel(leg, LegStatus.HELD.channel)

    def heldByRemote(self, leg: Leg, stream: MediaStream | None, playTone: bool) -> None:
        """sccp.md 5.4 (g), held side: media closes; hold tone unless secure."""
        self.send(*self._stopStream(leg, stream))
        if playTone:
            self._holdTone.add(leg)
            self.send(self._tone(leg, Tone.HOLD))
        self._channel(leg, self._channels.get(leg, LegStatus.CONNECTED.channel))

    def resumed(self, leg: Leg) -> None:
        """sccp.md 5.4 (g): Resume, media follows."""
        self.send(self._callState(leg, CallState.CONNECTED), self._keys(leg, SoftKeySet.CONNECTED),
                  m.SetLamp(Stimulus.LINE, leg.line.instance, LampMode.ON), m.SetSpeakerMode(SpeakerMode.ON))
        self._channel(leg, LegStatus.CONNECTED.channel)

    def resumedByRemote(self, leg: Leg) -> None:
        """The other side resumed: stop the hold tone."""
        if leg in self._holdTone:
            self._holdTone.discard(leg)
            self.send(self._stopTone(leg))

    def released(self, leg: Leg, stream: MediaStream | None, answered: bool) -> None:
        """
        sccp.md 5.4 (f): the hang-up sequence.  The creator's held call that
        joined a conference (C{leg.merged}) is cleared quietly: OnHook and
        its keys for that call only, the phone staying off hook on the
        conference.
        """
        n, ref = leg.line.instance, leg.callReference
        self._holdTone.discard(leg)
        if leg.merged:
            self._toneOn.discard(leg)
            self.send(*self._stopStream(leg, stream))
            self.send(self._callState(leg, CallState.ON_HOOK), self._keys(leg, SoftKeySet.ON_HOOK))
            self._channel(leg, None)
            return
        if not leg.outgoing and not answered:
            self._toneOn.discard(leg)
            self.send(m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), self._callState(leg, CallState.ON_HOOK),
                      m.SetLamp(Stimulus.LINE, n, LampMode.OFF), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS))
        else:
            self.send(self._stopTone(leg), m.SetLamp(Stimulus.LINE, n, LampMode.OFF), m.ClearPromptStatus(n, ref))
            self.send(*self._stopStream(leg, stream))
            self.send(self._callState(leg, CallState.ON_HOOK), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS),
                      m.DefineTimeDate.fromDateTime(self.station.now()), m.SetSpeakerMode(SpeakerMode.OFF))
            if answered:
                self.send(m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0))
        self._transmitting.discard(leg)
        self._channel(leg, None)
        self.speaker = False

    # -- ICallEndpoint: transfer, forwarding, shared lines (sccp.md 5.4 (h)-(j)) ----------------

    def transferred(self, leg: Leg, remote: Party, ringing: bool) -> None:
        """sccp.md 5.4 (h): a transfer gave the leg a new other side (ringing: ringback)."""
        if leg in self._holdTone:
            self._holdTone.discard(leg)
            self.send(self._stopTone(leg))
        if ringing:
            self.send(self._callState(leg, CallState.RING_OUT), self._tone(leg, Tone.ALERTING))
        self.send(self._callInfo(leg, remote, CallSecurityStatus.UNKNOWN))

    def redirected(self, leg: Leg, called: Party) -> None:
        """sccp.md 5.4 (i): the caller's CallInfo names the forward target."""
        self.send(self._callInfo(leg, called, CallSecurityStatus.UNKNOWN))

    def answeredElsewhere(self, leg: Leg) -> None:
        """sccp.md 5.4 (j): another phone with the shared line took the call."""
        ringing = self._channels.get(leg, "") == LegStatus.RING_IN.channel
        self._transmitting.discard(leg)
        self._toneOn.discard(leg)
        self._channel(leg, None)
        self._showInUse(leg.line, leg.callReference, ringing)

    def remoteInUse(self, line: LineRef, reference: int) -> None:
        """sccp.md 5.4 (j): the shared line is in use on another phone."""
        self._showInUse(line, reference, False)

    def remoteHeld(self, line: LineRef, reference: int) -> None:
        """
        sccp.md 5.4 (j): the shared line's call is held elsewhere; Resume
        picks it up: flashing lamp, CallState(RemoteHold), OnHold keys.
        """
        n = line.instance
        self.send(m.SetLamp(Stimulus.LINE, n, LampMode.FLASH),
                  m.CallState(CallState.REMOTE_HOLD, n, reference, 0, PRECEDENCE_LEVEL, 0),
                  m.SelectSoftKeys(n, reference, SoftKeySet.ON_HOLD, ALL_KEYS))

    def remoteIdle(self, line: LineRef, reference: int) -> None:
        """
        sccp.md 5.4 (j): the shared line's call ended: lamp Off,
        CallState(OnHook), OnHook keys, DefineTimeDate.
        """
        n = line.instance
        self.send(m.SetLamp(Stimulus.LINE, n, LampMode.OFF),
                  m.CallState(CallState.ON_HOOK, n, reference, 0, PRECEDENCE_LEVEL, 0),
                  m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS),
                  m.DefineTimeDate.fromDateTime(self.station.now()))

    def _showInUse(self, line: LineRef, reference: int, ringing: bool) -> None:
        """
        The "in use elsewhere" sequence: SetRinger(Off) and
        ClearPromptStatus when it rang, lamp On, CallState(CallRemoteMultiline),
        SelectSoftKeys(InUseHint).
        """
        n = line.instance
        if ringing:
            self.send(m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), m.ClearPromptStatus(n, reference))
        self.send(m.SetLamp(Stimulus.LINE, n, LampMode.ON),
                  m.CallState(CallState.CALL_REMOTE_MULTILINE, n, reference, 0, PRECEDENCE_LEVEL, 0),
                  m.SelectSoftKeys(n, reference, SoftKeySet.IN_USE_HINT, ALL_KEYS))


__all__ = [
    "ALL_KEYS", "CONFERENCE_PARTY", "DIAL_PEER_BASE", "KEY_NOT_ACTIVE_SECONDS", "NO_CALL_FOR_PICKUP", "NOTIFY_PRIORITY", "NOTIFY_SECONDS", "PRECEDENCE_LEVEL", "SccpEndpoint", "TOS_EF",
    "VOICE_PORT_PREFIX", "engineCodec", "sccpCodec",
]
