# -*- test-case-name: tests.test_sccp_callcontrol -*-
"""
The SCCP adapter of the call engine: what a registered phone does, turned
into engine inputs.

L{SccpCallControl} is the L{IStationListener} of both SCCP listeners (the
composition root gives it to each L{srst.sccp.factory.SkinnyFactory}):

  - L{SccpCallControl.callMessageReceived} gets a registered phone's
    call-control messages (OffHook, OnHook, KeypadButton, EnblocCall,
    SoftKeyEvent, Stimulus, OpenReceiveChannelAck, MediaTransmissionFailure)
    and turns each into the engine's inputs on the phone's
    L{SccpEndpoint} (one per registered session): seize, digit, answer,
    hang up, hold, resume, transfer, pick up a shared-line call, media
    ready or failed.  The CFwdAll key runs its own dialogue
    (L{srst.sccp.forwardkeys}).  A speed-dial button dials its number and
    Redial (softkey or button) the phone's last dialled number
    (L{Ephone.lastDialled}, kept in memory: not across restarts), both as
    if keyed in: on hook the phone goes off hook first; off hook it must
    still have dial tone.  The Messages button (voicemail stimulus) dials
    C{call-manager-fallback.voicemail} the same way; without one it is
    not active.  The DND softkey toggles do-not-disturb
    (L{Ephone.dnd}): the prompt line shows "DND" and the DND lamp is lit
    while it is on (shown again when the phone registers again), and the
    engine finds the phone busy (L{SccpEndpoint.lineBusy}).  PickUp gives
    dial tone and picks up the number dialled; GPickUp picks up the oldest
    call ringing in the line's C{pickup-group} (L{CallEngine.directedPickUp},
    L{CallEngine.groupPickUp}).  Confrn and Join go to the engine's
    conference inputs (L{CallEngine.conference}, L{CallEngine.join}); when
    no conference bridge is free the phone shows "No Conference Bridge"
    and its calls stay as they were.
  - L{SccpCallControl.hasActiveCall} tells a station whether to refuse an
    Unregister.
  - L{SccpCallControl.sessionEnded} clears the calls of a phone whose
    registration ended; the other sides hear the hang-up.

It gives the engine the registered phones' numbers as a
L{RegistryDirectory}.

Bad input never escapes: a message the phone's call state does not allow
(Automat C{NoTransition}, L{CallStateError}) is logged and ignored; a
softkey or button out of state gets "Key Is Not Active" (sccp.md 5.4 (k)).
"""

from __future__ import annotations

from typing import Any, Callable

from automat import NoTransition
from twisted.logger import Logger
from zope.interface import implementer

from srst.calls.engine import CallEngine, CallStateError
from srst.calls.interfaces import LineRef
from srst.calls.leg import Leg, LegStatus
from srst.calls.mediaservices import ConferenceRefused
from srst.sccp import messages as m
from srst.sccp._templates import doNotDisturbIndication
from srst.sccp.callendpoint import KEY_NOT_ACTIVE_SECONDS, NO_CALL_FOR_PICKUP, SccpEndpoint
from srst.sccp.constants import MediaStatus, SoftKeyEvent, Stimulus, keypadCharacter
from srst.sccp.directory import RegistryDirectory, lineRef
from srst.sccp.forwardkeys import CallForwardKeys
from srst.sccp.registry import Ephone, EphoneRegistry
from srst.sccp.station import ICallStation, IStationListener



@implementer(IStationListener)
class SccpCallControl:
    """
    The SCCP adapter of the call engine (see the module docstring).

    @ivar engine: the L{CallEngine}.
    @ivar registry: the shared L{EphoneRegistry}.
    @ivar directory: the engine's L{RegistryDirectory} of registered phones.
    @ivar forwardKeys: the CFwdAll dialogue (L{CallForwardKeys}).
    """

    log = Logger()

    def __init__(self, engine: CallEngine, registry: EphoneRegistry) -> None:
        """
        @param engine: the call engine; this adapter adds itself as a directory.
        @param registry: the registry both SCCP listeners share.
        """
        self.engine = engine
        self.registry = registry
        self._endpoints: dict[ICallStation, SccpEndpoint] = {}
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
            m.ForwardStatReq: self._forwardStat,
        }

    # -- the registered phones' endpoints ----------------------------------------------------------

    def endpointFor(self, station: ICallStation) -> SccpEndpoint:
        """@return: the endpoint of a registered phone's session (made on first use)."""
        endpoint = self._endpoints.get(station)
        if endpoint is None:
            endpoint = self._endpoints[station] = SccpEndpoint(station)
        return endpoint

    def endpointOf(self, ephone: Ephone) -> SccpEndpoint | None:
        """@return: the endpoint of the session holding C{ephone}'s registration, if it has one."""
        station = ephone.station
        return self._endpoints.get(station) if station is not None else None

    # -- IStationListener ----------------------------------------------------------------------------

    def callMessageReceived(self, station: ICallStation, msg: m.Message) -> None:
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
            self.log.debug("{station}: {kind} ignored", station=endpoint.label, kind=type(msg).__name__)
            return
        try:
            handler(endpoint, msg)
        except (NoTransition, CallStateError) as e:
            self.log.info("{station}: {kind} ignored: {why}", station=endpoint.label,
                          kind=type(msg).__name__, why=str(e))
            if isinstance(msg, (m.SoftKeyEvent, m.Stimulus)):
                endpoint.send(m.DisplayNotify(KEY_NOT_ACTIVE_SECONDS, m.LABEL_KEY_IS_NOT_ACTIVE))

    def hasActiveCall(self, station: ICallStation) -> bool:
        """Whether the phone has a call (L{IStationListener})."""
        endpoint = self._endpoints.get(station)
        return endpoint is not None and self.engine.hasCall(endpoint)

    def sessionEnded(self, station: ICallStation) -> None:
        """
        A phone's registration ended (L{IStationListener}: connection lost,
        keepalive timeout, Unregister, replaced): its calls clear, the other
        sides hear the hang-up.
        """
        endpoint = self._endpoints.pop(station, None)
        if endpoint is None:
            return
        endpoint.gone = True
        self.forwardKeys.gone(endpoint)
        self.engine.endpointGone(endpoint)

    # -- message handlers ---------------------------------------------------------------------------

    def _line(self, endpoint: SccpEndpoint, instance: int) -> LineRef:
        ephone = endpoint.ephone
        if ephone is None or not ephone.lines:
            raise CallStateError("go off hook without a line", None)
        line = ephone.line(instance) if instance else None
        return lineRef(line or ephone.lines[0], ephone)

    def _leg(self, endpoint: SccpEndpoint, reference: int, *statuses: LegStatus) -> Leg | None:
        for leg in self.engine.legsOf(endpoint):
            if (not reference or leg.callReference == reference) and (not statuses or leg.status in statuses):
                return leg
        return None

    def _forwardStat(self, endpoint: SccpEndpoint, msg: m.ForwardStatReq) -> None:
        ephone = endpoint.ephone
        line = ephone.line(msg.lineNumber) if ephone is not None else None
        self.forwardKeys.status(endpoint, msg.lineNumber, lineRef(line, ephone) if ephone is not None and line is not None else None)

    def _goOffHook(self, endpoint: SccpEndpoint, instance: int, reference: int, speaker: bool) -> None:
        ringing = self._leg(endpoint, reference, LegStatus.RING_IN) or self._leg(endpoint, 0, LegStatus.RING_IN)
        if ringing is not None:
            endpoint.debug("OFFHOOK")
            endpoint.debug("---SkinnySyncPhoneDnOverlays is onhook")
            endpoint.speaker = speaker
            self.engine.answer(ringing)
        elif not self.engine.hasCall(endpoint):
            endpoint.debug("OFFHOOK")
            endpoint.debug("---SkinnySyncPhoneDnOverlays is onhook")
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
        elif event in (SoftKeyEvent.CONFRN, SoftKeyEvent.JOIN):
            self._conference(endpoint, ref, event)
        elif event == SoftKeyEvent.CFWD_ALL:
            self._forwardAll(endpoint, msg.lineInstance)
        elif event == SoftKeyEvent.REDIAL:
            self._redial(endpoint, msg.lineInstance)
        elif event == SoftKeyEvent.DND:
            self._doNotDisturb(endpoint)
        elif event == SoftKeyEvent.PICK_UP:
            self._pickUp(endpoint, msg.lineInstance, group=False)
        elif event == SoftKeyEvent.GROUP_PICK_UP:
            self._pickUp(endpoint, msg.lineInstance, group=True)
        else:
            raise CallStateError("use softkey %d" % (int(event),), None)

    def _active(self, endpoint: SccpEndpoint) -> Leg | None:
        """@return: the endpoint's leg not on hold (else any leg)."""
        legs = self.engine.legsOf(endpoint)
        return next((leg for leg in legs if leg.status is not LegStatus.HELD), legs[0] if legs else None)

    def _transfer(self, endpoint: SccpEndpoint, reference: int) -> None:
        leg = (self._leg(endpoint, reference) if reference else None) or self._active(endpoint)
        if leg is None:
            raise CallStateError("transfer", None)
        self.engine.transfer(leg)

    def _conference(self, endpoint: SccpEndpoint, reference: int, event: SoftKeyEvent) -> None:
        """
        Confrn (start a conference, or join its consult call) or Join (make
        a conference of the phone's held and active calls) on the call the
        key was pressed on, else the active one.  At C{max-conferences}:
        "No Conference Bridge" (design 14 section 8: what IOS shows is not
        documented), the calls untouched.
        """
        join = event == SoftKeyEvent.JOIN
        leg = (self._leg(endpoint, reference) if reference else None) or self._active(endpoint)
        if leg is None:
            raise CallStateError("join" if join else "conference", None)
        try:
            if join:
                self.engine.join(leg)
            else:
                self.engine.conference(leg)
        except ConferenceRefused as e:
            self.log.info("{station}: {key} refused: {why}", station=endpoint.label, key="Join" if join else "Confrn",
                          why=e.reason)
            endpoint.send(m.DisplayNotify(KEY_NOT_ACTIVE_SECONDS, m.LABEL_NO_CONFERENCE_BRIDGE))

    def _pickUp(self, endpoint: SccpEndpoint, instance: int, group: bool) -> None:
        """
        PickUp: dial tone, and the number dialled is picked up; GPickUp: the
        oldest call ringing in the line's C{pickup-group} is picked up at
        once.  With nothing to pick up, GPickUp shows "No call available for
        pickup" and leaves the phone as it was.
        """
        if self.forwardKeys.active(endpoint):
            raise CallStateError("pick up while forwarding", None)
        line = self._line(endpoint, instance)
        if group:
            numbers = self._pickupGroup(endpoint, line.instance)
            if not self.engine.ringingIn(endpoint, numbers):
                self.log.info("{station}: GPickUp: no call ringing in its pickup group", station=endpoint.label)
                endpoint.send(m.DisplayNotify(KEY_NOT_ACTIVE_SECONDS, NO_CALL_FOR_PICKUP))
                return
        if not self.engine.hasCall(endpoint):
            endpoint.speaker = True
        if group:
            self.engine.groupPickUp(endpoint, line, numbers)
        else:
            self.engine.directedPickUp(endpoint, line)

    def _pickupGroup(self, endpoint: SccpEndpoint, instance: int) -> frozenset[str]:
        """@return: the numbers in the C{pickup-group} of the phone's line (none without one)."""
        ephone = endpoint.ephone
        line = ephone.line(instance) if ephone is not None else None
        group = line.assignment.pickupGroup if line is not None else ""
        if not group:
            return frozenset()
        return frozenset(other.assignment.dn for phone in self.registry.registeredEphones()
                         for other in phone.lines if other.assignment.pickupGroup == group)

    def _doNotDisturb(self, endpoint: SccpEndpoint) -> None:
        ephone = endpoint.ephone
        if ephone is None:
            return
        ephone.dnd = not ephone.dnd
        self.log.info("{station}: do-not-disturb {state}", station=endpoint.label,
                      state="on" if ephone.dnd else "off")
        endpoint.send(*doNotDisturbIndication(ephone.dnd))

    def _forwardAll(self, endpoint: SccpEndpoint, instance: int) -> None:
        if self.engine.hasCall(endpoint):
            raise CallStateError("forward all calls", self.engine.legsOf(endpoint)[0].status)
        self.forwardKeys.pressed(endpoint, self._line(endpoint, instance))

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
        elif msg.stimulus == Stimulus.SPEED_DIAL:
            ephone = endpoint.ephone
            speedDial = ephone.speedDial(msg.stimulusInstance) if ephone is not None else None
            self._dialNumber(endpoint, 0, speedDial.number if speedDial is not None else "",
                             "use speed dial %d without a number" % (msg.stimulusInstance,))
        elif msg.stimulus == Stimulus.LAST_NUMBER_REDIAL:
            self._redial(endpoint, 0)
        elif msg.stimulus == Stimulus.VOICE_MAIL:
            self._dialNumber(endpoint, 0, self.registry.config.voicemail or "",
                             "use the Messages button without a voicemail number (call-manager-fallback.voicemail)")
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
        self._dialDigits(leg, msg.calledParty.rstrip("#"))

    def _redial(self, endpoint: SccpEndpoint, instance: int) -> None:
        ephone = endpoint.ephone
        self._dialNumber(endpoint, instance, ephone.lastDialled if ephone is not None else "",
                         "redial with nothing dialled")

    def _dialNumber(self, endpoint: SccpEndpoint, instance: int, number: str, nothing: str) -> None:
        """
        Dial C{number} as if keyed in and ended with C{#} (speed dial,
        Redial): on hook, go off hook (speaker) first; off hook, only with
        dial tone (no digit yet).

        @param nothing: the refusal when C{number} is empty.
        @raise CallStateError: no number, or the phone is not idle or at
            dial tone ("Key Is Not Active"; the phone stays as it was).
        """
        if not number:
            raise CallStateError(nothing, None)
        leg = self._leg(endpoint, 0, LegStatus.DIALING)
        if leg is None:
            if self.engine.hasCall(endpoint) or self.forwardKeys.active(endpoint):
                legs = self.engine.legsOf(endpoint)
                raise CallStateError("dial %s" % (number,), legs[0].status if legs else None)
            self._goOffHook(endpoint, instance, 0, speaker=True)
            leg = self._leg(endpoint, 0, LegStatus.DIALING)
        elif leg.collector.digits:
            raise CallStateError("dial %s after digits" % (number,), leg.status)
        self._dialDigits(leg, number)

    def _dialDigits(self, leg: Leg | None, number: str) -> None:
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


__all__ = ["KEY_NOT_ACTIVE_SECONDS", "NO_CALL_FOR_PICKUP", "SccpCallControl"]
