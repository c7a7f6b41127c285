# -*- test-case-name: tests.test_calls_leg -*-
"""
A call leg: one endpoint line's part in a call, as an Automat
C{TypeMachineBuilder} machine (style.md 2.6).

States::

    idle --seize--> dialing --placed--> ringOut --remoteAnswered--> connected
    idle --offer--> ringIn --answer--> connected
    dialing --fail--> failed
    connected --hold--> held --resume--> connected
    idle --takeOver--> connected      (shared-line pick-up of a held call)
    any but idle/released --release--> released

  - C{dialing} owns the inter-digit timer (its state data): entering arms
    it, every digit resets it, every transition out cancels it.  The timer
    calls the engine (not the machine), which decides what the digits mean
    and feeds the result back as C{placed} or C{fail}.
  - C{ringIn} owns the no-answer timer (C{timeouts ringing}) the same way;
    when it fires the engine clears the call.
  - C{failed} owns the busy timer (C{timeouts busy}): the busy or reorder
    tone plays that long, then the engine releases the leg.
  - Each transition makes the outputs of its own leg (the endpoint's
    signalling); the engine coordinates the two legs of a call and the
    media.
  - C{status()} gives the L{LegStatus} for show commands.

An input a state does not accept raises C{NoTransition} and changes
nothing; the engine and the SCCP adapter catch it at their boundary.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Callable, Protocol

from attrs import define, field
from automat import TypeMachineBuilder
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from srst.calls.dialing import DigitCollector
from srst.calls.interfaces import FailureReason, ICallEndpoint, LineRef, Party
from srst.calls.media import MediaStream

if TYPE_CHECKING:
    from srst.calls.call import Call
    from srst.calls.forward import Redirect


class LegStatus(enum.Enum):
    """
    The state of a leg; C{channel} is what C{show ephone} prints for the
    line channel.
    """

    IDLE = ("idle", "IDLE")
    DIALING = ("dialing", "SEIZE")
    RING_OUT = ("ringOut", "ALERTING")
    RING_IN = ("ringIn", "RINGING")
    CONNECTED = ("connected", "CONNECTED")
    HELD = ("held", "HOLD")
    FAILED = ("failed", "SEIZE")
    RELEASED = ("released", "IDLE")

    def __init__(self, stateName: str, channel: str) -> None:
        self.stateName = stateName
        self.channel = channel


@define(eq=False)
class Leg:
    """
    The machine's core: one endpoint line in a call.

    @ivar endpoint: the L{srst.calls.interfaces.ICallEndpoint}.
    @ivar line: the L{LineRef} used.
    @ivar callReference: unique per leg (the SCCP callReference).
    @ivar clock: for the inter-digit timer.
    @ivar interdigit: inter-digit timeout, seconds.
    @ivar onDialTimeout: called with this leg when the timer fires.
    @ivar ringing: seconds an incoming call rings unanswered (0: for ever).
    @ivar onRingTimeout: called with this leg when it rang that long.
    @ivar busy: seconds a failed leg hears busy or reorder before it is
        released (0: until it hangs up).
    @ivar onBusyTimeout: called with this leg when it failed that long ago.
    @ivar collector: the digits dialled (outgoing legs).
    @ivar call: the L{srst.calls.call.Call}, once there is one.
    @ivar outgoing: whether this leg placed the call.
    @ivar remote: the party on the other side, once known.
    @ivar redirect: the L{srst.calls.forward.Redirect} of a forwarded
        incoming leg, or L{None}.
    @ivar noAnswerForward: this incoming leg's own forward-no-answer target
        and timeout (an C{alias} with C{cfw}), overriding C{call-forward}.
    @ivar elsewhere: set before releasing a shared-line leg that another
        phone took: the endpoint shows the call as in use elsewhere instead
        of hanging up.
    @ivar consult: whether this is a transfer's consult leg.
    @ivar conferenceConsult: whether this is a conference's consult leg.
    @ivar merged: set before releasing a conference creator's held leg
        whose call joined the conference: the endpoint clears only that
        line's call (the phone still talks on the consult leg).
    @ivar pickUp: whether the number this leg dials is a ringing number to
        pick up (the PickUp key) rather than one to call.
    @ivar machine: the leg's inputs (L{LegInputs}).
    """

    endpoint: ICallEndpoint
    line: LineRef
    callReference: int
    clock: IReactorTime
    interdigit: float
    onDialTimeout: Callable[["Leg"], None]
    ringing: float = 0
    onRingTimeout: Callable[["Leg"], None] | None = None
    busy: float = 0
    onBusyTimeout: Callable[["Leg"], None] | None = None
    collector: DigitCollector = field(factory=DigitCollector)
    call: Call | None = None
    outgoing: bool = False
    remote: Party | None = None
    redirect: Redirect | None = None
    noAnswerForward: tuple[str, float] | None = None
    elsewhere: bool = False
    consult: bool = False
    conferenceConsult: bool = False
    merged: bool = False
    pickUp: bool = False
    machine: "LegInputs" = field(default=None, repr=False)

    @property
    def status(self) -> LegStatus:
        """The leg's state."""
        return self.machine.status()


class LegInputs(Protocol):
    """The inputs of the leg machine."""

    def seize(self) -> None:
        "The endpoint went off hook to dial."

    def offer(self, caller: Party) -> None:
        "An incoming call for this leg."

    def digit(self, digit: str, first: bool) -> None:
        "A digit was dialled (C{first}: the first one)."

    def secondaryDialTone(self) -> None:
        "The access code was dialled."

    def placed(self, called: Party) -> None:
        "The dialled number reaches a free endpoint, which now rings."

    def fail(self, reason: FailureReason) -> None:
        "The dialled number cannot be reached."

    def answer(self) -> None:
        "This ringing leg answered."

    def pickedUp(self) -> None:
        "The dialling leg took a call ringing elsewhere (call pickup)."

    def remoteAnswered(self) -> None:
        "The called party answered."

    def hold(self) -> None:
        "This leg puts the call on hold."

    def takeOver(self) -> None:
        "This idle leg picks up a shared-line call held on another phone."

    def resume(self) -> None:
        "This leg takes the call off hold."

    def release(self, stream: MediaStream | None) -> None:
        "The leg is cleared; C{stream} is its open media, or L{None}."

    def status(self) -> LegStatus:
        "The current state."


def _cancel(timer: object) -> None:
    """Cancel a state's timer (an L{IDelayedCall}, or L{None} for none)."""
    if IDelayedCall.providedBy(timer) and timer.active():  # type: ignore[attr-defined]
        timer.cancel()  # type: ignore[attr-defined]


def _makeLegMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(LegInputs, Leg)

    def armInterdigit(inputs: LegInputs, leg: Leg, *args: object) -> IDelayedCall:
        return leg.clock.callLater(leg.interdigit, leg.onDialTimeout, leg)

    def armRinging(inputs: LegInputs, leg: Leg, *args: object) -> object:
        if not leg.ringing or leg.onRingTimeout is None:
            return None
        return leg.clock.callLater(leg.ringing, leg.onRingTimeout, leg)

    def armBusy(inputs: LegInputs, leg: Leg, *args: object) -> object:
        if not leg.busy or leg.onBusyTimeout is None:
            return None
        return leg.clock.callLater(leg.busy, leg.onBusyTimeout, leg)

    idle = builder.state("idle")
    dialing = builder.state("dialing", armInterdigit)
    ringOut = builder.state("ringOut")
    ringIn = builder.state("ringIn", armRinging)
    connected = builder.state("connected")
    held = builder.state("held")
    failed = builder.state("failed", armBusy)
    released = builder.state("released")

    for state, value in ((idle, LegStatus.IDLE), (ringOut, LegStatus.RING_OUT),
                         (connected, LegStatus.CONNECTED), (held, LegStatus.HELD), (released, LegStatus.RELEASED)):
        state.upon(LegInputs.status).loop().returns(value)
    dialing.upon(LegInputs.status, nodata=True).loop().returns(LegStatus.DIALING)
    ringIn.upon(LegInputs.status, nodata=True).loop().returns(LegStatus.RING_IN)
    failed.upon(LegInputs.status, nodata=True).loop().returns(LegStatus.FAILED)

    @idle.upon(LegInputs.seize).to(dialing)
    def _seize(inputs: LegInputs, leg: Leg) -> None:
        leg.outgoing = True
        leg.endpoint.seized(leg)

    @idle.upon(LegInputs.offer).to(ringIn)
    def _offer(inputs: LegInputs, leg: Leg, caller: Party) -> None:
        leg.remote = caller
        leg.endpoint.alerting(leg, caller)

    @dialing.upon(LegInputs.digit).loop()
    def _digit(inputs: LegInputs, leg: Leg, timer: IDelayedCall, digit: str, first: bool) -> None:
        timer.reset(leg.interdigit)
        if first:
            leg.endpoint.digitsStarted(leg)

    @dialing.upon(LegInputs.secondaryDialTone).loop()
    def _secondary(inputs: LegInputs, leg: Leg, timer: IDelayedCall) -> None:
        leg.endpoint.secondaryDialTone(leg)

    @dialing.upon(LegInputs.placed).to(ringOut)
    def _placed(inputs: LegInputs, leg: Leg, timer: IDelayedCall, called: Party) -> None:
        _cancel(timer)
        leg.remote = called
        leg.endpoint.proceeding(leg, called)
        leg.endpoint.ringback(leg, called)

    @dialing.upon(LegInputs.fail).to(failed)
    def _fail(inputs: LegInputs, leg: Leg, timer: IDelayedCall, reason: FailureReason) -> None:
        _cancel(timer)
        leg.endpoint.failed(leg, reason)

    @ringIn.upon(LegInputs.answer).to(connected)
    def _answer(inputs: LegInputs, leg: Leg, timer: object) -> None:
        _cancel(timer)
        leg.endpoint.answering(leg)

    @dialing.upon(LegInputs.pickedUp).to(connected)
    def _pickedUp(inputs: LegInputs, leg: Leg, timer: IDelayedCall) -> None:
        "The engine sends the connected signalling with the media."
        _cancel(timer)
        leg.outgoing = False

    @ringOut.upon(LegInputs.remoteAnswered).to(connected)
    def _remoteAnswered(inputs: LegInputs, leg: Leg) -> None:
        "The engine sends the connected signalling with the media."

    @connected.upon(LegInputs.hold).to(held)
    def _hold(inputs: LegInputs, leg: Leg) -> None:
        "The engine closes the media and signals both legs."

    @idle.upon(LegInputs.takeOver).to(connected)
    def _takeOver(inputs: LegInputs, leg: Leg) -> None:
        leg.endpoint.resumed(leg)

    @held.upon(LegInputs.resume).to(connected)
    def _resume(inputs: LegInputs, leg: Leg) -> None:
        leg.endpoint.resumed(leg)

    @dialing.upon(LegInputs.release).to(released)
    def _releaseDialing(inputs: LegInputs, leg: Leg, timer: IDelayedCall, stream: MediaStream | None) -> None:
        _cancel(timer)
        leg.endpoint.released(leg, None, False)

    @ringIn.upon(LegInputs.release).to(released)
    def _releaseRinging(inputs: LegInputs, leg: Leg, timer: object, stream: MediaStream | None) -> None:
        _cancel(timer)
        if leg.elsewhere:
            leg.endpoint.answeredElsewhere(leg)
        else:
            leg.endpoint.released(leg, stream, False)

    @ringOut.upon(LegInputs.release).to(released)
    def _releaseUnanswered(inputs: LegInputs, leg: Leg, stream: MediaStream | None) -> None:
        leg.endpoint.released(leg, stream, False)

    @failed.upon(LegInputs.release).to(released)
    def _releaseFailed(inputs: LegInputs, leg: Leg, timer: object, stream: MediaStream | None) -> None:
        _cancel(timer)
        leg.endpoint.released(leg, stream, False)

    for state in (connected, held):
        @state.upon(LegInputs.release).to(released)
        def _releaseAnswered(inputs: LegInputs, leg: Leg, stream: MediaStream | None) -> None:
            if leg.elsewhere:
                leg.endpoint.answeredElsewhere(leg)
            else:
                leg.endpoint.released(leg, stream, True)

    return builder.build()


LegMachine = _makeLegMachine()
"""The leg machine (C{LegMachine(leg)} gives its L{LegInputs})."""


def newLeg(endpoint: ICallEndpoint, line: LineRef, callReference: int, clock: IReactorTime, interdigit: float,
           onDialTimeout: Callable[[Leg], None], secondaryDialtone: str | None = None, ringing: float = 0,
           onRingTimeout: Callable[[Leg], None] | None = None, busy: float = 0,
           onBusyTimeout: Callable[[Leg], None] | None = None) -> Leg:
    """
    @return: an idle L{Leg} with its machine (see L{Leg} for the parameters).
    """
    leg = Leg(endpoint, line, callReference, clock, interdigit, onDialTimeout, ringing, onRingTimeout, busy,
              onBusyTimeout, DigitCollector(secondaryDialtone=secondaryDialtone))
    leg.machine = LegMachine(leg)
    return leg


__all__ = ["Leg", "LegInputs", "LegMachine", "LegStatus", "newLeg"]
