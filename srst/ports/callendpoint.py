# -*- test-case-name: tests.test_ports_callendpoint -*-
"""
Voice ports as call endpoints: L{VoicePortEndpoint} is the
L{ICallEndpoint} of one L{srst.ports.voiceport.VoicePort}, and follows the
port as its L{IVoicePortListener}.

  - FXS (a telephone on the port): an incoming call rings it and going off
    hook answers; going off hook on an idle port seizes a leg whose digits
    the engine routes (the port calls with its station-id number).
  - FXO (a line from the exchange): a call routed to the port seizes the
    line and dials the dial-peer's forwarded digits, and is connected at
    once (loop start cannot see the far end answer); the exchange ringing
    the port calls the C{connection plar} number, or without one the port
    answers and gives dial tone for a second stage of digits.

Media is terminated on the router: L{ICallEndpoint.openReceive} opens a
L{srst.ports.media.PortMediaLeg} with the stream's keys (SRTP towards a
secure phone, so the port counts as secure: the lock covers the IP leg
only), reports it with L{CallEngine.mediaReady} (which the engine runs
once it has finished connecting the call), and
L{ICallEndpoint.startTransmit} points it at the far end.  When no RTP port
is free the port takes no call (L{mediaAvailable}: the caller hears
reorder) and an off-hook telephone hears reorder.

While the MGCP gateway controls the port (L{active} is false) the
endpoint ignores the line and the port is not offered calls.

The endpoint speaks the engine's vocabulary to the port: a L{FailureReason}
becomes the port's busy or reorder tone, the engine's codecs its RTP
payload types (G.711 u-law PCMU, A-law PCMA).  Its C{debug voice-port}
lines go to the logger the service makes from the router's
L{srst.debug.DebugSwitches}.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import implementer

from srst.calls.engine import CallEngine
from srst.calls.forward import ForwardReason
from srst.calls.interfaces import FailureReason, ICallEndpoint, LineRef, Party
from srst.calls.leg import Leg, LegStatus
from srst.calls.media import Codec, MediaStream
from srst.calls.voicemail import Voicemail, VmKind
from srst.media.portrange import PortRangeExhausted
from srst.media.rtp import PayloadType
from srst.media.transport import StreamSnapshot
from srst.ports.interfaces import IVoicePortListener
from srst.ports.media import PendingCloses, PortMediaLeg, PortMediaResources
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus, VoicePort

DEBUG_NAMESPACE = "srst.debug.voiceport.call"
"""The log namespace of the voice ports' call debug lines."""

_FAILURE_TONES = {
    FailureReason.BUSY: CallProgressTone.BUSY,
    FailureReason.UNKNOWN_NUMBER: CallProgressTone.REORDER,
    FailureReason.CONGESTION: CallProgressTone.REORDER,
    FailureReason.TRANSFER_REFUSED: CallProgressTone.REORDER,
    FailureReason.NOTHING_TO_PICK_UP: CallProgressTone.REORDER,
}

_PAYLOAD_TYPES = {Codec.G711_ULAW: PayloadType.PCMU, Codec.G711_ALAW: PayloadType.PCMA}

_OFF_HOOK = (PortStatus.OFF_HOOK, PortStatus.COLLECTING, PortStatus.CONNECTED)

_VM_KINDS = {ForwardReason.BUSY: VmKind.BUSY, ForwardReason.NO_ANSWER: VmKind.NO_ANSWER}


@implementer(ICallEndpoint, IVoicePortListener)
class NoSharedLines:
    """
    The shared-line part of L{ICallEndpoint} for an endpoint whose lines no
    other endpoint shares (a voice port, a conference bridge): nothing to
    show when a line's other appearances change.
    """

    def answeredElsewhere(self, leg: Leg) -> None:
        """No other appearance answered: nothing to do."""

    def remoteInUse(self, line: LineRef, reference: int) -> None:
        """No other appearance: nothing to show."""

    def remoteHeld(self, line: LineRef, reference: int) -> None:
        """No other appearance: nothing to show."""

    def remoteIdle(self, line: LineRef, reference: int) -> None:
        """No other appearance: nothing to show."""


class VoicePortEndpoint(NoSharedLines):
    """
    The call engine's view of one voice port.

    @ivar engine: the L{srst.calls.engine.CallEngine}.
    @ivar debugLog: the C{debug voice-port} logger.
    @ivar port: the L{srst.ports.voiceport.VoicePort}.
    @ivar media: the L{srst.ports.media.PortMediaResources}, or L{None}
        for signalling only (no audio).
    @ivar number: the port's own number (C{station-id number}, else its
        dial-peer's), shown to the parties it calls; may be empty.
    @ivar plar: C{connection plar}: the number an FXS port going off hook,
        or the exchange ringing an FXO port, calls at once; or L{None}.
    @ivar label: the port name, for logs.
    @ivar secure: whether the router terminates SRTP for it (with media).
    @ivar outside: always true: a call to a voice port leaves the router
        (an external call, C{dialplan-pattern}).
    @ivar capabilities: G.711 mu-law, then A-law (the port's DSP codecs).
    @ivar leg: the engine leg on this port, or L{None}.
    @ivar mediaLeg: the open L{srst.ports.media.PortMediaLeg}, or L{None}.
    @ivar remoteMedia: the far end's C{(host, port)} from the last
        L{startTransmit}.
    @ivar active: whether local call control has the port (not MGCP):
        L{takeControl}, L{giveUpControl}.
    @ivar dialPeer: the tag of the POTS dial-peer on the port (0: none),
        for C{show voice call status}.
    @ivar voicemail: the voice-mail number and its C{vm-integration}
        patterns, or L{None}: a call to that number sends its pattern's
        DTMF digits on the line once answered.
    """

    capabilities = (Codec.G711_ULAW, Codec.G711_ALAW)

    def __init__(self, engine: CallEngine, port: VoicePort, media: PortMediaResources | None = None, *,
                 debugLog: Logger, number: str = "", name: str = "", plar: str | None = None,
                 voicemail: Voicemail | None = None) -> None:
        """
        @param engine: the call engine.
        @param port: the voice port; this endpoint subscribes to it.
        @param media: the shared L{srst.ports.media.PortMediaResources}, or
            L{None} for signalling only.
        @param debugLog: the C{debug voice-port} logger (L{DEBUG_NAMESPACE},
            from the router's L{srst.debug.DebugSwitches}).
        @param number: the port's calling number.
        @param name: the port's calling name (C{station-id name}).
        @param plar: C{connection plar}, or L{None}.
        @param voicemail: C{voicemail} and C{vm-integration}, or L{None}.
        """
        self.engine = engine
        self.debugLog = debugLog
        self.port = port
        self.media = media
        self.number = number
        self.displayName = name
        self.plar = plar
        self.voicemail = voicemail
        self._vmSentTo: Leg | None = None
        self.label = "voice-port " + port.name
        self.secure = media is not None
        self.outside = True
        self.leg: Leg | None = None
        self.mediaLeg: PortMediaLeg | None = None
        self.remoteMedia: tuple[str, int] | None = None
        self.active = True
        self._idleObservers: list[Callable[[str], object]] = []
        self.unreachable = 0
        self.dialPeer = 0
        self._closing = PendingCloses()
        port.subscribe(self)

    def takeControl(self) -> None:
        """Local call control has the port now (MGCP gateway fallback)."""
        self.active = True

    def giveUpControl(self) -> None:
        """
        The port is MGCP's: the line is ignored here and the port is offered
        no calls.
        """
        self.active = False

    def whenIdle(self, observer: Callable[[str], object]) -> None:
        """
        @param observer: called with the port name whenever a local call
            on the port has ended and the line is idle (MGCP switchback).
        """
        self._idleObservers.append(observer)

    @property
    def isFxs(self) -> bool:
        """Whether a telephone is on the port (else the exchange)."""
        return bool(self.port.config.signal.isFxs)

    def line(self, number: str, forwarded: str = "") -> LineRef:
        """
        @param number: the number that reached this port (or its own).
        @param forwarded: the digits its dial-peer forwards.
        @return: the L{LineRef} a leg on this port uses.
        """
        return LineRef(1, number, self.displayName or self.label, forwarded=forwarded)

    def mediaAvailable(self) -> bool:
        """
        @return: whether the port can take a call: local control has it
            and an RTP port is free (always, without media).
        """
        if not self.active:
            return False
        return self.media is None or self.media.available()

    def mediaRefused(self) -> None:
        """
        The engine refused a call to this port for want of media (after
        L{mediaAvailable} said no): count and log it, once per call.
        """
        if self.media is not None and self.active:
            self.media.refused(self.port.name, "no RTP port free in the media range")

    def lineBusy(self) -> bool:
        """
        @return: whether the line is in use with no call on it (a telephone
            still off hook hearing reorder, an FXO line not yet released):
            the engine then treats the port as busy.  A port MGCP controls
            is not busy but unavailable (L{mediaAvailable}: reorder).
        """
        return self.active and self.leg is None and self.port.status is not PortStatus.IDLE

    def mediaSnapshot(self) -> StreamSnapshot | None:
        """@return: the statistics of the open media leg, or L{None}."""
        return self.mediaLeg.snapshot() if self.mediaLeg is not None else None

    def voicePortName(self, line: LineRef) -> str:
        """@return: the port's name (C{1/0/0})."""
        return str(self.port.name)

    def dialPeerTag(self, line: LineRef) -> int:
        """@return: the tag of the POTS dial-peer on the port (0: none)."""
        return self.dialPeer

    # -- IVoicePortListener ----------------------------------------------------------------------

    def offHook(self, port: VoicePort) -> None:
        """
        The telephone went off hook: answer the ringing leg, or else seize
        a leg to dial (reorder when no RTP port is free).
        """
        if not self.active:
            return
        leg = self.leg
        if leg is None:
            if self.media is not None and not self.media.available():
                self.media.refused(port.name, "no RTP port free in the media range")
                port.playTone(CallProgressTone.REORDER)
                return
            self.leg = leg = self.engine.seize(self, self.line(self.number))
            if self.plar is not None:
                self._dial(leg, self.plar)
        elif leg.status is LegStatus.RING_IN:
            self.engine.answer(leg)

    def _dial(self, leg: Leg, digits: str) -> None:
        """Dial C{digits} on C{leg} (C{connection plar}) while it still collects digits."""
        self.debugLog.debug("{port}: plar {plar}", port=self.port.name, plar=digits)
        for digit in digits:
            if self.leg is not leg or leg.status is not LegStatus.DIALING:
                break
            self.engine.digit(leg, digit)

    def onHook(self, port: VoicePort) -> None:
        """The telephone hung up (or the exchange stopped ringing): clear its leg."""
        leg, self.leg = self.leg, None
        self._closeMedia()
        if leg is not None and leg.status not in (LegStatus.RELEASED, LegStatus.IDLE):
            self.engine.hangUp(leg)
        if self.active:
            self._idle()

    def _idle(self) -> None:
        """Tell the observers the port has no call and its line is idle."""
        if self.leg is None and self.port.status is PortStatus.IDLE:
            for observer in list(self._idleObservers):
                observer(self.port.name)

    def digit(self, port: VoicePort, digit: str) -> None:
        """A digit dialled on the port: pass it to a dialling leg."""
        leg = self.leg
        if self.active and leg is not None and leg.status is LegStatus.DIALING:
            self.engine.digit(leg, digit)

    def flash(self, port: VoicePort) -> None:
        """Hook flash has no feature on an analogue port here."""

    def incoming(self, port: VoicePort, callerId: str | None) -> None:
        """
        The exchange rings an FXO port: call the C{plar} number, or answer
        and give dial tone for the caller's digits.
        """
        if not self.active or self.leg is not None:
            return
        if self.media is not None and not self.media.available():
            self.media.refused(port.name, "no RTP port free in the media range")
            return
        leg = self.engine.seize(self, self.line(callerId or self.number))
        self.leg = leg
        if self.plar is None:
            port.seize()
            port.playTone(CallProgressTone.DIAL)
            return
        self.debugLog.debug("{port}: incoming from {caller}", port=port.name, caller=callerId)
        self._dial(leg, self.plar)

    # -- ICallEndpoint ---------------------------------------------------------------------------

    def alerting(self, leg: Leg, caller: Party) -> None:
        """
        FXS: ring the telephone with the caller's number.  FXO: seize the
        line, dial the forwarded digits, and answer (the engine runs the
        answer once it has finished offering the call).
        """
        self.leg = leg
        self.debugLog.debug("{port}: call from {caller}", port=self.port.name, caller=caller.number)
        if self.isFxs:
            self.port.ring(caller.number or None)
            return
        self.port.seize()
        digits = leg.line.forwarded
        if digits:
            self.port.outpulse(digits)
        self.engine.answer(leg)

    def released(self, leg: Leg, stream: MediaStream | None, answered: bool) -> None:
        """
        The call ended: close the media, stop ringing, release an FXO line,
        or play reorder to a telephone still off hook.
        """
        if leg is not self.leg:
            return
        self.leg = None
        self._vmSentTo = None
        self.remoteMedia = None
        self._closeMedia()
        status = self.port.status
        if status is PortStatus.RINGING and self.isFxs:
            self.port.stopRinging()
        elif not self.isFxs and status in _OFF_HOOK:
            self.port.release()
        elif status is not PortStatus.IDLE and self.isFxs:
            self.port.playTone(CallProgressTone.REORDER)
        self._idle()

    def failed(self, leg: Leg, reason: FailureReason) -> None:
        """A call attempt from the port failed: play busy or reorder."""
        self.port.playTone(_FAILURE_TONES[reason])

    def ringback(self, leg: Leg, called: Party) -> None:
        """Play ringback to the line."""
        if self.port.status in _OFF_HOOK:
            self.port.playTone(CallProgressTone.RINGBACK)

    def connected(self, leg: Leg, remote: Party, encrypted: bool) -> None:
        """
        The call is connected: stop any tone; an FXO port rung by the
        exchange answers it; a call to the voice-mail number sends its
        C{vm-integration} digits.
        """
        if not self.isFxs and self.port.status is PortStatus.RINGING:
            self.port.seize()
        self.port.stopTone()
        if leg is self.leg and not leg.outgoing and leg is not self._vmSentTo:
            self._voicemailDigits(leg, remote)

    def _voicemailDigits(self, leg: Leg, caller: Party) -> None:
        """
        Send the voice-mail system the DTMF digits of the C{vm-integration}
        pattern for how C{leg} reached it (once per call): C{direct} when
        the voice-mail number was dialled, C{ext-to-ext busy} or
        C{no-answer} when a call was forwarded there.
        """
        voicemail = self.voicemail
        if voicemail is None or leg.line.number != voicemail.number:
            return
        self._vmSentTo = leg
        redirect = leg.redirect
        if redirect is None:
            kind, called, forwarding = VmKind.DIRECT, voicemail.number, ""
        elif redirect.reason in _VM_KINDS:
            kind = _VM_KINDS[redirect.reason]
            called, forwarding = redirect.original.number, redirect.lastRedirecting.number
        else:
            self.debugLog.debug("{port}: voicemail: no vm-integration pattern for a forward-all call",
                                port=self.port.name)
            return
        digits = voicemail.digits(kind, caller.number, called, forwarding)
        if digits is None:
            self.debugLog.debug("{port}: voicemail: no {kind} pattern", port=self.port.name, kind=kind.value)
            return
        self.debugLog.debug("{port}: voicemail {kind} pattern: DTMF {digits}", port=self.port.name,
                            kind=kind.value, digits=digits)
        self.port.playDigits(digits)

    def openReceive(self, leg: Leg, stream: MediaStream) -> None:
        """
        Open the router's RTP (or SRTP, with the stream's keys) port for
        this leg and report it; with no port free the call is cleared.
        """
        if self.media is None:
            return
        self._closeMedia()
        payloadType = _PAYLOAD_TYPES.get(stream.codec, PayloadType.PCMU)
        mediaLeg = self.media.newLeg(self.port, payloadType, txKeys=stream.txKeys, rxKeys=stream.rxKeys,
                                     onUnreachable=lambda: self._unreachable(leg))
        try:
            host, number = mediaLeg.open()
        except PortRangeExhausted as e:
            self.media.refused(self.port.name, str(e))
            self.engine.mediaFailed(leg, str(e))
            return
        self.mediaLeg = mediaLeg
        self.debugLog.debug("{port}: media on {host}:{number} ({kind})", port=self.port.name, host=host,
                   number=number, kind="SRTP" if mediaLeg.secure else "RTP")
        self.engine.mediaReady(leg, stream.passThruPartyId, host, number)

    def startTransmit(self, leg: Leg, stream: MediaStream) -> None:
        """Send the port's audio to the far end's media address."""
        remote = stream.remote
        self.remoteMedia = remote.address if remote is not None else None
        if self.mediaLeg is not None and self.remoteMedia is not None and leg is self.leg:
            self.mediaLeg.start(self.remoteMedia)

    def _unreachable(self, leg: Leg) -> None:
        self.unreachable += 1
        self.debugLog.warn("{port}: RTP from the far end unreachable (call {reference}); the call stays up",
                      port=self.port.name, reference=leg.callReference)

    def _closeMedia(self) -> None:
        mediaLeg, self.mediaLeg = self.mediaLeg, None
        if mediaLeg is None:
            return
        self._closing.add(mediaLeg.close())

    def closeMedia(self) -> Deferred[None]:
        """
        Close the open media leg, if any (the service stopping).

        @return: a L{Deferred} firing once every media leg this endpoint
            closed has stopped listening: its RTP port is back in the range.
        """
        self._closeMedia()
        return self._closing.whenDone()

    def seized(self, leg: Leg) -> None:
        """The port went off hook to dial: the port already gives dial tone."""

    def digitsStarted(self, leg: Leg) -> None:
        """The port stops dial tone at the first digit itself."""

    def secondaryDialTone(self, leg: Leg) -> None:
        """The access code was dialled: dial tone again."""
        self.port.playTone(CallProgressTone.DIAL)

    def proceeding(self, leg: Leg, called: Party) -> None:
        """The number is being offered; ringback follows."""

    def redirected(self, leg: Leg, called: Party) -> None:
        """Nothing to show on an analogue line."""

    def answering(self, leg: Leg) -> None:
        """The port answered; the engine connects it next."""

    def mediaClosed(self, leg: Leg, stream: MediaStream) -> None:
        """The router closed the leg's stream (music on hold ended): close the media leg."""
        self._closeMedia()

    def held(self, leg: Leg, stream: MediaStream | None) -> None:
        """A port does not hold calls."""

    def heldByRemote(self, leg: Leg, stream: MediaStream | None, playTone: bool) -> None:
        """The far end held the call: close the media (fresh media follows the resume)."""
        self._closeMedia()
        self.port.stopTone()

    def resumed(self, leg: Leg) -> None:
        """A port does not hold calls."""

    def resumedByRemote(self, leg: Leg) -> None:
        """The far end resumed; the engine opens new media."""

    def transferred(self, leg: Leg, remote: Party, ringing: bool) -> None:
        """A transfer gave the port a new far end; new media follows."""


__all__ = ["VoicePortEndpoint"]
