# -*- test-case-name: tests.test_calls_engine,tests.test_calls_integration,tests.test_calls_transfer -*-
"""
The SCCP side of the call engine.

L{SccpCallControl} plugs into L{srst.sccp.factory.SkinnyFactory}: its
C{callHandler(station, msg)} gets a registered phone's call-control
messages and turns them into engine inputs; C{hasActiveCall(ephone)} tells
the station whether to refuse an Unregister; C{stationLost(station)} clears
the calls of a phone whose connection ended.  It gives the engine a
L{RegistryDirectory} of the registered phones' directory numbers.

L{SccpEndpoint} is one phone as an L{ICallEndpoint}: it sends the SCCP
messages of each engine event in the order of sccp.md 5.4 (a)-(g) (the
features (h)-(j) come from L{srst.calls.sccpfeatures}), writes
the C{debug ephone state} lines of the seed (C{SetCallState line 1 DN 2(-1)
chan 1 ref 6 TsOffHook}, C{Security Key Generation}, C{Send Decryption
Key}, C{OpenReceiveChannelAck:IP ...}, C{StartMedia ...}, C{Send
Encryption Key}) on the station's state logger (never a key), and keeps the
C{show ephone} fields of the phone's L{Ephone} up to date.

Bad input never escapes: a message the phone's call state does not allow
(Automat C{NoTransition}, L{CallStateError}) is logged and ignored; a
softkey out of state gets "Key Is Not Active" (sccp.md 5.4 (k)).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

from automat import NoTransition
from twisted.logger import Logger
from zope.interface import implementer

from srst.calls.engine import CallEngine, CallStateError
from srst.calls.dialing import RegistryDirectory, lineRef
from srst.calls.forward import CallForwardKeys
from srst.calls.sccpfeatures import FeatureControl, FeatureEndpoint
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
    MediaStatus,
    RingDuration,
    RingMode,
    SoftKeyEvent,
    SoftKeySet,
    SpeakerMode,
    Stimulus,
    Tone,
    ToneDirection,
    keypadCharacter,
)
from srst.sccp.registry import LINE_IDLE, Ephone, EphoneRegistry
from srst.sccp.srtpkeys import toKeyInfo
from srst.sccp.station import IStationListener

from srst.calls._sccpvalues import (ALL_KEYS, KEY_NOT_ACTIVE_SECONDS, NOTIFY_PRIORITY, NOTIFY_SECONDS,
                                    PRECEDENCE_LEVEL, TOS_EF, _OFF_HOOK_CHANNELS, _TONE_NAMES, _TS)

_log = Logger(namespace="srst.calls.sccp")

VOICE_PORT_PREFIX = "50/0/"
"""The slot and subunit of the ephone-dn voice ports (C{show voice call status})."""

DIAL_PEER_BASE = 20000
"""Added to an C{ephone-dn} tag to give the dial-peer tag IOS shows for it."""

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
class SccpEndpoint(FeatureEndpoint):
    """
    One registered phone as a call endpoint (see the module docstring).

    @ivar station: the phone's L{srst.sccp.station.Station}.
    @ivar gone: whether the phone disappeared (nothing is sent any more).
    @ivar speaker: whether the phone went off hook on the speaker (softkey
        or line key) rather than the handset.
    """

    def __init__(self, station: Any) -> None:
        """
        @param station: a registered phone's session (C{send}, C{ephone},
            C{core.stateLog}, C{core.now}, C{core.label()}).
        """
        self.station = station
        self.gone = False
        self.speaker = False
        self._channels: dict[int, tuple[Leg, str]] = {}
        self._transmitting: set[int] = set()
        self._holdTone: set[int] = set()

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
        """A phone's line is in use only with a call: never busy without one."""
        return False

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

    def _callState(self, leg: Leg, state: CallState) -> m.CallState:
        self.debug("SetCallState line {line} DN {dn}(-1) chan 1 ref {ref} {ts}", line=leg.line.instance,
                   dn=leg.line.tag, ref=leg.callReference, ts=_TS.get(state, str(int(state))))
        return m.CallState(state, leg.line.instance, leg.callReference, 0, PRECEDENCE_LEVEL, 0)

    def _tone(self, leg: Leg, tone: Tone) -> m.StartTone:
        self.debug("dn_tone_control DN={dn} chan 1 tonetype={tone}:{name} onoff=1", dn=leg.line.tag,
                   tone=int(tone), name=_TONE_NAMES.get(tone, "Tone"))
        return m.StartTone(tone, ToneDirection.USER, leg.line.instance, leg.callReference)

    def _keys(self, leg: Leg, softKeySet: SoftKeySet) -> m.SelectSoftKeys:
        return m.SelectSoftKeys(leg.line.instance, leg.callReference, softKeySet, ALL_KEYS)

    def _prompt(self, leg: Leg, text: str) -> m.DisplayPromptStatus:
        return m.DisplayPromptStatus(0, text[:32], leg.line.instance, leg.callReference)

    def _callInfo(self, leg: Leg, remote: Party | None, security: CallSecurityStatus) -> m.CallInfo:
        own = Party(leg.line.number, leg.line.name)
        other = remote or Party("")
        calling, called = (own, other) if leg.outgoing else (other, own)
        redirect = None if leg.outgoing else leg.redirect
        original = redirect.original if redirect is not None else called
        last = redirect.lastRedirecting if redirect is not None else Party("")
        reason = int(redirect.reason) if redirect is not None else 0
        callType = CallType.OUTBOUND if leg.outgoing else CallType.FORWARD if redirect else CallType.INBOUND
        return m.CallInfo(
            callingPartyName=calling.name, callingParty=calling.number, calledPartyName=called.name,
            calledParty=called.number, lineInstance=leg.line.instance, callReference=leg.callReference,
            callType=callType, originalCalledPartyName=original.name, originalCalledParty=original.number,
            lastRedirectingPartyName=last.name, lastRedirectingParty=last.number, originalCdpnRedirectReason=reason,
            lastRedirectingReason=reason, callInstance=1, callSecurityStatus=security)

    def _stopStream(self, leg: Leg, stream: MediaStream | None) -> list[m.Message]:
        self._transmitting.discard(id(leg))
        if stream is None:
            return []
        ref = leg.callReference
        return [m.CloseReceiveChannel(ref, stream.passThruPartyId, ref),
                m.StopMediaTransmission(ref, stream.passThruPartyId, ref)]

    def _channel(self, leg: Leg, state: str | None) -> None:
        if state is None:
            self._channels.pop(id(leg), None)
        else:
            self._channels[id(leg)] = (leg, state)
        ephone = self.ephone
        if ephone is None:
            return
        states = list(self._channels.values())
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
        self.send(m.SetLamp(Stimulus.LINE, n, LampMode.ON), self._callState(leg, CallState.OFF_HOOK),
                  self._keys(leg, SoftKeySet.OFF_HOOK_FEATURES if leg.consult else SoftKeySet.OFF_HOOK),
                  self._prompt(leg, m.LABEL_ENTER_NUMBER),
                  m.ActivateCallPlane(n), self._tone(leg, Tone.INSIDE_DIAL))
        self._channel(leg, LegStatus.DIALING.channel)
        self.debug("SIEZE on activeLine {line} activeChan 1", line=n, ref=ref)

    def digitsStarted(self, leg: Leg) -> None:
        """The first digit: dial tone off, DigitsFoll softkeys."""
        self.send(m.StopTone(leg.line.instance, leg.callReference), self._keys(leg, SoftKeySet.DIGITS_FOLLOWING))

    def secondaryDialTone(self, leg: Leg) -> None:
        """The access code was dialled: outside dial tone."""
        self.send(self._tone(leg, Tone.OUTSIDE_DIAL))

    def proceeding(self, leg: Leg, called: Party) -> None:
        """sccp.md 5.4 (b): the number is complete and reaches a phone."""
        self.debug("Skinny-to-Skinny call DN {dn} chan 1 to {number} instance 1", dn=leg.line.tag,
                   number=called.number)
        self.send(m.DialedNumber(leg.collector.digits or called.number, leg.line.instance, leg.callReference),
                  self._callState(leg, CallState.PROCEED),
                  self._callInfo(leg, Party(called.number), CallSecurityStatus.UNKNOWN),
                  self._keys(leg, SoftKeySet.RING_OUT), self._prompt(leg, m.LABEL_RING_OUT))

    def ringback(self, leg: Leg, called: Party) -> None:
        """sccp.md 5.4 (c), caller side: RingOut and ringback tone."""
        self.send(self._callState(leg, CallState.RING_OUT), self._tone(leg, Tone.ALERTING),
                  self._callInfo(leg, called, CallSecurityStatus.UNKNOWN))
        self._channel(leg, LegStatus.RING_OUT.channel)

    def alerting(self, leg: Leg, caller: Party) -> None:
        """sccp.md 5.4 (c), callee side: RingIn, lamp blink, ringer."""
        n, ref = leg.line.instance, leg.callReference
        text = (m.LABEL_FROM + (caller.name or caller.number))[:32]
        self.send(self._callState(leg, CallState.RING_IN), self._keys(leg, SoftKeySet.RING_IN),
                  self._prompt(leg, text), m.DisplayPriNotify(NOTIFY_SECONDS, NOTIFY_PRIORITY, text),
                  self._callInfo(leg, caller, CallSecurityStatus.UNKNOWN),
                  m.SetLamp(Stimulus.LINE, n, LampMode.BLINK),
                  m.SetRinger(RingMode.INSIDE, RingDuration.NORMAL, n, ref))
        self.debug("Ringer Inside Ring On")
        self._channel(leg, LegStatus.RING_IN.channel)

    def failed(self, leg: Leg, reason: FailureReason) -> None:
        """sccp.md 5.4 (b): unknown number (reorder), busy, congestion."""
        if reason is FailureReason.BUSY:
            self.send(self._callState(leg, CallState.BUSY), self._tone(leg, Tone.LINE_BUSY),
                      self._prompt(leg, m.LABEL_BUSY))
        elif reason is FailureReason.UNKNOWN_NUMBER:
            self.send(self._prompt(leg, m.LABEL_UNKNOWN_NUMBER), self._tone(leg, Tone.REORDER))
        elif reason is FailureReason.TRANSFER_REFUSED:
            self.send(self._prompt(leg, m.LABEL_CAN_NOT_COMPLETE_TRANSFER), self._tone(leg, Tone.REORDER))
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
        self.send(m.SetLamp(Stimulus.LINE, n, LampMode.ON), self._callState(leg, CallState.OFF_HOOK),
                  m.ActivateCallPlane(n), m.SetRinger(RingMode.OFF, RingDuration.NORMAL, n, ref),
                  m.StopTone(n, ref))
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
            compressionType=sccpCodec(stream.codec), echoCancellation=0, callReference=ref, rxKey=toKeyInfo(stream.rxKeys)))
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
        self.send(m.StartMediaTransmission(
            conferenceId=ref, passThruPartyId=stream.passThruPartyId, remoteIpAddr=ipaddress.ip_address(host),
            remotePortNumber=port, millisecondPacketSize=stream.milliseconds, compressionType=sccpCodec(stream.codec),
            precedenceValue=TOS_EF, silenceSuppression=0, maxFramesPerPacket=0, callReference=ref,
            txKey=toKeyInfo(stream.txKeys)))
        if stream.txKeys is not None:
            self.debug("Send Encryption Key")
        self._transmitting.add(id(leg))
        self._channel(leg, self._channels.get(id(leg), (leg, LegStatus.CONNECTED.channel))[1])

    def connected(self, leg: Leg, remote: Party, encrypted: bool) -> None:
        """sccp.md 5.4 (d): Connected, with the padlock when encrypted."""
        security = CallSecurityStatus.ENCRYPTED if encrypted else CallSecurityStatus.NOT_AUTHENTICATED
        self.send(m.StopTone(leg.line.instance, leg.callReference), self._callState(leg, CallState.CONNECTED),
                  self._keys(leg, SoftKeySet.CONNECTED), self._prompt(leg, m.LABEL_CONNECTED),
                  self._callInfo(leg, remote, security))
        self._channel(leg, LegStatus.CONNECTED.channel)

    def held(self, leg: Leg, stream: MediaStream | None) -> None:
        """sccp.md 5.4 (g), holder side."""
        if id(leg) in self._holdTone:
            self._holdTone.discard(id(leg))
            self.send(m.StopTone(leg.line.instance, leg.callReference))
        self.send(*self._stopStream(leg, stream))
        self.send(m.SetLamp(Stimulus.LINE, leg.line.instance, LampMode.WINK), self._callState(leg, CallState.HOLD),
                  self._keys(leg, SoftKeySet.ON_HOLD), self._prompt(leg, m.LABEL_HOLD),
                  m.SetSpeakerMode(SpeakerMode.OFF))
        self._channel(leg, LegStatus.HELD.channel)

    def heldByRemote(self, leg: Leg, stream: MediaStream | None, playTone: bool) -> None:
        """sccp.md 5.4 (g), held side: media closes; hold tone unless secure."""
        self.send(*self._stopStream(leg, stream))
        if playTone:
            self._holdTone.add(id(leg))
            self.send(self._tone(leg, Tone.HOLD))
        self._channel(leg, self._channels.get(id(leg), (leg, LegStatus.CONNECTED.channel))[1])

    def resumed(self, leg: Leg) -> None:
        """sccp.md 5.4 (g): Resume, media follows."""
        self.send(self._callState(leg, CallState.CONNECTED), self._keys(leg, SoftKeySet.CONNECTED),
                  m.SetLamp(Stimulus.LINE, leg.line.instance, LampMode.ON), m.SetSpeakerMode(SpeakerMode.ON))
        self._channel(leg, LegStatus.CONNECTED.channel)

    def resumedByRemote(self, leg: Leg) -> None:
        """The other side resumed: stop the hold tone."""
        if id(leg) in self._holdTone:
            self._holdTone.discard(id(leg))
            self.send(m.StopTone(leg.line.instance, leg.callReference))

    def released(self, leg: Leg, stream: MediaStream | None, answered: bool) -> None:
        """sccp.md 5.4 (f): the hang-up sequence."""
        n, ref = leg.line.instance, leg.callReference
        self._holdTone.discard(id(leg))
        if not leg.outgoing and not answered:
            self.send(m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), self._callState(leg, CallState.ON_HOOK),
                      m.SetLamp(Stimulus.LINE, n, LampMode.OFF), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS))
        else:
            self.send(m.StopTone(n, ref), m.SetLamp(Stimulus.LINE, n, LampMode.OFF), m.ClearPromptStatus(n, ref))
            self.send(*self._stopStream(leg, stream))
            self.send(self._callState(leg, CallState.ON_HOOK), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS),
                      m.DefineTimeDate.fromDateTime(self.station.now()), m.SetSpeakerMode(SpeakerMode.OFF))
            if answered:
                self.send(m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0))
        self._transmitting.discard(id(leg))
        self._channel(leg, None)
        self.speaker = False


@implementer(IStationListener)
class SccpCallControl(FeatureControl):
    """
    The SCCP adapter of the call engine (see the module docstring).

    @ivar engine: the L{CallEngine}.
    @ivar registry: the shared L{EphoneRegistry}.
    @ivar directory: the engine's L{RegistryDirectory} of registered phones.
    @ivar forwardKeys: the CFwdAll dialogue (L{CallForwardKeys}).
    """

    log = _log

    def __init__(self, engine: CallEngine, registry: EphoneRegistry) -> None:
        """
        @param engine: the call engine; this adapter adds itself as a directory.
        @param registry: the registry both SCCP listeners share.
        """
        self.engine = engine
        self.registry = registry
        self._endpoints: dict[int, SccpEndpoint] = {}
        self.directory = RegistryDirectory(registry, self.endpointFor)
        engine.addDirectory(self.directory)
        self.forwardKeys = CallForwardKeys(engine.clock, engine.forwards, engine.interdigit, engine.newReference)
        self._handlers: dict[type, Callable[[SccpEndpoint, Any], None]] = {
            m.OffHook: lambda endpoint, msg: self._goOffHook(endpoint, msg.lineInstance, msg.callReference, False),
            m.OnHook: self._onHook,
            m.SoftKeyEvent: self._softKey,
            m.Stimulus: self._stimulus,
            m.KeypadButton: self._keypad,
            m.EnblocCall: self._enbloc,
            m.OpenReceiveChannelAck: self._receiveAck,
            m.MediaTransmissionFailure: self._transmissionFailure,
        }

    # -- hooks for SkinnyFactory -----------------------------------------------------------------

    def endpointFor(self, station: Any) -> SccpEndpoint:
        """@return: the endpoint of a registered phone's session."""
        endpoint = self._endpoints.get(id(station))
        if endpoint is None or endpoint.station is not station:
            endpoint = self._endpoints[id(station)] = SccpEndpoint(station)
        return endpoint

    def callMessageReceived(self, station: Any, msg: m.Message) -> None:
        """
        A registered phone's call-control message (L{IStationListener}).

        @param station: its session.
        @param msg: the message.
        """
        if station.ephone is None:
            return
        endpoint = self.endpointFor(station)
        handler = self._handlers.get(type(msg))
        if handler is None:
            self.log.debug("{station}: {message} ignored", station=endpoint.label, message=type(msg).__name__)
            return
        try:
            handler(endpoint, msg)
        except (NoTransition, CallStateError) as e:
            self.log.info("{station}: {message} ignored: {why}", station=endpoint.label,
                          message=type(msg).__name__, why=str(e))
            if isinstance(msg, (m.SoftKeyEvent, m.Stimulus)):
                endpoint.send(m.DisplayNotify(KEY_NOT_ACTIVE_SECONDS, m.LABEL_KEY_IS_NOT_ACTIVE))

    def hasActiveCall(self, station: Any) -> bool:
        """Whether the phone has a call (L{IStationListener})."""
        endpoint = self._endpoints.get(id(station))
        return endpoint is not None and endpoint.station is station and self.engine.hasCall(endpoint)

    def sessionEnded(self, station: Any) -> None:
        """
        A phone's registration ended (L{IStationListener}: connection lost,
        keepalive timeout, Unregister, replaced): its calls clear, the other
        sides hear the hang-up.
        """
        endpoint = self._endpoints.get(id(station))
        if endpoint is None or endpoint.station is not station:
            return
        del self._endpoints[id(station)]
        endpoint.gone = True
        self.forwardKeys.gone(endpoint)
        self.engine.endpointGone(endpoint)

    # -- message handlers ---------------------------------------------------------------------------

    def _line(self, endpoint: SccpEndpoint, instance: int) -> LineRef:
        ephone = endpoint.ephone
        if ephone is None or not ephone.lines:
            raise CallStateError("go off hook without a line", None)
        line = ephone.line(instance) if instance else None
        return lineRef(line or ephone.lines[0])

    def _leg(self, endpoint: SccpEndpoint, reference: int, *statuses: LegStatus) -> Leg | None:
        for leg in self.engine.legsOf(endpoint):
            if (not reference or leg.callReference == reference) and (not statuses or leg.status in statuses):
                return leg
        return None

    def _goOffHook(self, endpoint: SccpEndpoint, instance: int, reference: int, speaker: bool) -> None:
        ringing = self._leg(endpoint, reference, LegStatus.RING_IN) or self._leg(endpoint, 0, LegStatus.RING_IN)
        if ringing is not None:
            endpoint.debug("OFFHOOK")
            endpoint.speaker = speaker
            self.engine.answer(ringing)
        elif not self.engine.hasCall(endpoint):
            endpoint.debug("OFFHOOK")
            endpoint.speaker = speaker
            self.engine.seize(endpoint, self._line(endpoint, instance))
        else:
            raise CallStateError("go off hook", self.engine.legsOf(endpoint)[0].status)

    def _onHook(self, endpoint: SccpEndpoint, msg: m.OnHook) -> None:
        ref = msg.callReference
        leg = (self._leg(endpoint, ref) if ref else None) or self._active(endpoint)
        if leg is not None:
            endpoint.debug("ONHOOK")
            self.engine.hangUp(leg)

    def _softKey(self, endpoint: SccpEndpoint, msg: m.SoftKeyEvent) -> None:
        event, ref = msg.softKeyEvent, msg.callReference
        if event == SoftKeyEvent.NEW_CALL:
            if self.engine.hasCall(endpoint):
                raise CallStateError("start a new call", self.engine.legsOf(endpoint)[0].status)
            self._goOffHook(endpoint, msg.lineInstance, 0, speaker=True)
        elif event == SoftKeyEvent.ANSWER:
            leg = self._leg(endpoint, ref, LegStatus.RING_IN) or self._leg(endpoint, 0, LegStatus.RING_IN)
            if leg is None:
                raise CallStateError("answer", None)
            endpoint.speaker = True
            self.engine.answer(leg)
        elif event == SoftKeyEvent.END_CALL:
            leg = self._leg(endpoint, ref) or self._leg(endpoint, 0)
            if leg is None:
                raise CallStateError("end a call", None)
            self.engine.hangUp(leg)
        elif event == SoftKeyEvent.HOLD:
            self.engine.hold(self._required(endpoint, ref, "hold", LegStatus.CONNECTED))
        elif event == SoftKeyEvent.RESUME:
            if self._leg(endpoint, 0, LegStatus.HELD) is None:
                self.engine.pickUp(endpoint, ref)
            else:
                self.engine.resume(self._required(endpoint, ref, "resume", LegStatus.HELD))
        elif event == SoftKeyEvent.TRANSFER:
            self._transfer(endpoint, ref)
        elif event == SoftKeyEvent.CFWD_ALL:
            self._forwardAll(endpoint, msg.lineInstance)
        else:
            raise CallStateError("use softkey %d" % (int(event),), None)

    def _required(self, endpoint: SccpEndpoint, reference: int, action: str, status: LegStatus) -> Leg:
        leg = self._leg(endpoint, reference, status) or self._leg(endpoint, 0, status)
        if leg is None:
            raise CallStateError(action, None)
        return leg

    def _stimulus(self, endpoint: SccpEndpoint, msg: m.Stimulus) -> None:
        if msg.stimulus == Stimulus.LINE:
            if self._leg(endpoint, 0, LegStatus.RING_IN) is not None or not self.engine.hasCall(endpoint):
                self._goOffHook(endpoint, msg.stimulusInstance, msg.callReference, speaker=True)
        elif msg.stimulus == Stimulus.HOLD:
            held = self._leg(endpoint, 0, LegStatus.HELD)
            if held is not None:
                self.engine.resume(held)
            else:
                self.engine.hold(self._required(endpoint, msg.callReference, "hold", LegStatus.CONNECTED))
        elif msg.stimulus == Stimulus.TRANSFER:
            self._transfer(endpoint, msg.callReference)
        elif msg.stimulus == Stimulus.FORWARD_ALL:
            self._forwardAll(endpoint, msg.stimulusInstance)
        else:
            raise CallStateError("use button %d" % (int(msg.stimulus),), None)

    def _keypad(self, endpoint: SccpEndpoint, msg: m.KeypadButton) -> None:
        leg = self._leg(endpoint, 0, LegStatus.DIALING)
        forwarding = self.forwardKeys.active(endpoint)
        if leg is not None or forwarding:
            try:
                digit = keypadCharacter(msg.kpButton)
            except ValueError as e:
                raise CallStateError("dial %s" % (e,), leg.status if leg else None) from None
            if leg is not None:
                self.engine.digit(leg, digit)
            else:
                self.forwardKeys.digit(endpoint, digit)

    def _enbloc(self, endpoint: SccpEndpoint, msg: m.EnblocCall) -> None:
        leg = self._leg(endpoint, 0, LegStatus.DIALING)
        if leg is None:
            self._goOffHook(endpoint, msg.lineInstance, 0, speaker=True)
            leg = self._leg(endpoint, 0, LegStatus.DIALING)
        number = msg.calledParty.rstrip("#")
        for digit in number + "#":
            if leg is None or leg.status is not LegStatus.DIALING:
                break
            self.engine.digit(leg, digit)

    def _receiveAck(self, endpoint: SccpEndpoint, msg: m.OpenReceiveChannelAck) -> None:
        leg = self._mediaLeg(endpoint, msg.callReference, msg.passThruPartyId)
        if leg is None:
            return
        endpoint.debug("OpenReceiveChannelAck:IP {ip}, port={port}, dn_index={dn}, dn={dn}, chan=1",
                       ip=str(msg.ipAddr), port=msg.portNumber, dn=leg.line.tag)
        if msg.mediaReceptionStatus != MediaStatus.OK:
            self.engine.mediaFailed(leg, "OpenReceiveChannelAck status %d" % (int(msg.mediaReceptionStatus),))
            return
        self.engine.mediaReady(leg, msg.passThruPartyId, str(msg.ipAddr), msg.portNumber)

    def _transmissionFailure(self, endpoint: SccpEndpoint, msg: m.MediaTransmissionFailure) -> None:
        leg = self._mediaLeg(endpoint, msg.callReference, msg.passThruPartyId)
        if leg is not None:
            self.engine.mediaFailed(leg, "MediaTransmissionFailure")

    def _mediaLeg(self, endpoint: SccpEndpoint, reference: int, passThruPartyId: int) -> Leg | None:
        for leg in self.engine.legsOf(endpoint):
            if reference and leg.callReference != reference:
                continue
            stream = leg.call.media.streamOf(leg) if leg.call is not None else None
            if stream is not None and stream.passThruPartyId == passThruPartyId:
                return leg
        return None


__all__ = ["SccpCallControl", "SccpEndpoint"]
