# -*- test-case-name: tests.test_calls_ports -*-
"""
Voice ports as call endpoints: L{VoicePortEndpoint} is the
L{ICallEndpoint} of one FXS L{srst.ports.voiceport.VoicePort}, and follows
the port as its L{IVoicePortListener}.

This round carries signalling only: an incoming call rings the port, the
telephone going off hook answers it, either side hanging up clears it.  A
telephone that goes off hook to dial holds a leg (so the port is busy to
callers) and its digits are passed to the engine; the port has no number
of its own yet, so its calls show none.  The
media hooks record the far end's address (L{VoicePortEndpoint.remoteMedia})
for the step that terminates RTP on the router; no audio flows yet.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger
from zope.interface import implementer

from srst.calls.interfaces import FailureReason, ICallEndpoint, LineRef, Party
from srst.calls.leg import LegStatus
from srst.ports.interfaces import IVoicePortListener
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus

_FAILURE_TONES = {
    FailureReason.BUSY: CallProgressTone.BUSY,
    FailureReason.UNKNOWN_NUMBER: CallProgressTone.REORDER,
    FailureReason.CONGESTION: CallProgressTone.REORDER,
    FailureReason.TRANSFER_REFUSED: CallProgressTone.REORDER,
}


@implementer(ICallEndpoint, IVoicePortListener)
class VoicePortEndpoint:
    """
    The call engine's view of one FXS voice port.

    @ivar engine: the L{srst.calls.engine.CallEngine}.
    @ivar port: the L{srst.ports.voiceport.VoicePort}.
    @ivar label: the port name, for logs.
    @ivar secure: always C{False}: a port takes no SRTP keys.
    @ivar capabilities: G.711 mu-law, then A-law (the port's DSP codecs).
    @ivar leg: the engine leg on this port, or L{None}.
    @ivar remoteMedia: the far end's C{(host, port)} from the last
        L{startTransmit}, kept for router-terminated media (not used yet).
    """

    log = Logger(namespace="srst.debug.voiceport.call")
    secure = False
    capabilities = (4, 2)

    def __init__(self, engine: Any, port: Any) -> None:
        """
        @param engine: the call engine.
        @param port: the voice port; this endpoint subscribes to it.
        """
        self.engine = engine
        self.port = port
        self.label = "voice-port " + port.name
        self.leg: Any = None
        self.remoteMedia: tuple[str, int] | None = None
        port.subscribe(self)

    def line(self, number: str) -> LineRef:
        """
        @param number: the number that reached this port.
        @return: the L{LineRef} a leg on this port uses.
        """
        return LineRef(1, number, self.label)

    # -- IVoicePortListener ----------------------------------------------------------------------

    def offHook(self, port: Any) -> None:
        """
        The telephone went off hook: answer the ringing leg, or else seize
        a leg so that the engine sees the port busy (its digits are routed
        by L{digit}).
        """
        leg = self.leg
        if leg is None:
            self.leg = self.engine.seize(self, self.line(""))
        elif leg.status is LegStatus.RING_IN:
            self.engine.answer(leg)

    def onHook(self, port: Any) -> None:
        """The telephone hung up: clear its leg."""
        leg, self.leg = self.leg, None
        if leg is not None and leg.status not in (LegStatus.RELEASED, LegStatus.IDLE):
            self.engine.hangUp(leg)

    def digit(self, port: Any, digit: str) -> None:
        """A digit dialled on the port: pass it to a dialling leg."""
        leg = self.leg
        if leg is not None and leg.status is LegStatus.DIALING:
            self.engine.digit(leg, digit)

    def flash(self, port: Any) -> None:
        """Hook flash is not used in this round."""

    def incoming(self, port: Any, callerId: str | None) -> None:
        """FXO ringing is not routed in this round."""

    # -- ICallEndpoint ---------------------------------------------------------------------------

    def alerting(self, leg: Any, caller: Party) -> None:
        """Ring the telephone with the caller's number."""
        self.leg = leg
        self.log.debug("{port}: ringing for {caller}", port=self.port.name, caller=caller.number)
        self.port.ring(caller.number or None)

    def released(self, leg: Any, stream: Any, answered: bool) -> None:
        """
        The call ended: stop ringing, or play reorder to a telephone still
        off hook (it goes idle when it hangs up).
        """
        if leg is not self.leg:
            return
        self.leg = None
        self.remoteMedia = None
        status = self.port.status
        if status is PortStatus.RINGING:
            self.port.stopRinging()
        elif status is not PortStatus.IDLE:
            self.port.playTone(CallProgressTone.REORDER)

    def failed(self, leg: Any, reason: FailureReason) -> None:
        """A call attempt from the port failed: play busy or reorder."""
        self.port.playTone(_FAILURE_TONES[reason])

    def ringback(self, leg: Any, called: Party) -> None:
        """Play ringback to the line."""
        self.port.playTone(CallProgressTone.RINGBACK)

    def connected(self, leg: Any, remote: Party, encrypted: bool) -> None:
        """The call is connected: stop any tone."""
        self.port.stopTone()

    def openReceive(self, leg: Any, stream: Any) -> None:
        """No router media yet: the receive port is opened in a later step."""

    def startTransmit(self, leg: Any, stream: Any) -> None:
        """Record the far end's media address for router-terminated media (none sent yet)."""
        remote = stream.remote
        self.remoteMedia = remote.address if remote is not None else None

    def seized(self, leg: Any) -> None:
        """Outgoing calls from ports are not routed in this round."""

    def digitsStarted(self, leg: Any) -> None:
        """Outgoing calls from ports are not routed in this round."""

    def secondaryDialTone(self, leg: Any) -> None:
        """Outgoing calls from ports are not routed in this round."""

    def proceeding(self, leg: Any, called: Party) -> None:
        """Outgoing calls from ports are not routed in this round."""

    def redirected(self, leg: Any, called: Party) -> None:
        """Nothing to show on an analogue line."""

    def answering(self, leg: Any) -> None:
        """The port answered; the engine connects it next."""

    def held(self, leg: Any, stream: Any) -> None:
        """A port does not hold calls."""

    def heldByRemote(self, leg: Any, stream: Any, playTone: bool) -> None:
        """The far end held the call: silence until it resumes."""
        self.port.stopTone()

    def resumed(self, leg: Any) -> None:
        """A port does not hold calls."""

    def resumedByRemote(self, leg: Any) -> None:
        """The far end resumed; media follows (a later step)."""

    def answeredElsewhere(self, leg: Any) -> None:
        """A port has no shared lines."""

    def remoteInUse(self, line: LineRef, reference: int) -> None:
        """A port has no shared lines."""

    def remoteHeld(self, line: LineRef, reference: int) -> None:
        """A port has no shared lines."""

    def remoteIdle(self, line: LineRef, reference: int) -> None:
        """A port has no shared lines."""

    def transferred(self, leg: Any, remote: Party, ringing: bool) -> None:
        """A transfer gave the port a new far end; nothing to show."""


__all__ = ["VoicePortEndpoint"]
