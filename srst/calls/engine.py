# -*- test-case-name: tests.test_calls_engine -*-
"""
The call engine: two-party calls between endpoints (sccp.md 5.4).

The engine owns the legs (L{srst.calls.leg}), the calls
(L{srst.calls.call}: two legs, the holders, a shared line's ringing legs
and monitors), their media (L{srst.calls.media}) and the transfers in
progress; it reaches endpoints only through
L{srst.calls.interfaces.ICallEndpoint} and finds numbers through
L{srst.calls.interfaces.IDirectory}.  An adapter (the SCCP one is
L{srst.sccp.callcontrol.SccpCallControl}) turns what a device does into the
engine's methods:

  - L{CallEngine.seize}, L{CallEngine.digit}: an endpoint goes off hook and
    dials; the number is routed when complete (L{srst.calls.dialing}).
  - L{CallEngine.answer}, L{CallEngine.hangUp}, L{CallEngine.hold},
    L{CallEngine.resume}: the user's actions on a leg.
  - L{CallEngine.mediaReady}: an endpoint opened its receive port; the other
    side is told to transmit there.
  - L{CallEngine.endpointGone}: the device disappeared; its calls clear.
  - L{CallEngine.transfer}, L{CallEngine.pickUp}: the Transfer key
    (the rules are in L{srst.calls.transfer}) and picking up a shared-line
    call held on another endpoint (L{srst.calls.call}).
  - L{CallEngine.directedPickUp}, L{CallEngine.groupPickUp}: call pickup
    (IOS C{PickUp}, C{GPickUp}): a call ringing elsewhere moves to the
    endpoint, whose leg becomes the callee; the ringing endpoints stop, the
    caller is connected to the new party and the media opens with fresh
    keys for the new pair.
  - L{CallEngine.conference}, L{CallEngine.join}: the Confrn and Join keys
    (the rules are in L{srst.calls.conference}): three parties on a
    conference bridge, one two-party call each to a leg of the bridge.

With L{CallEngine.useMediaServices} the router's own media takes part
(L{srst.calls.mediaservices}): a held party hears music on hold on a
receive-only stream of its own call, started by its ack and closed
(L{ICallEndpoint.mediaClosed}) when the hold ends; Confrn reserves a
bridge.  Without them a held party hears the tone on hold and Confrn is not
active.

A call attempt to a number nobody has fails with reorder, to an endpoint
that already has a call (the caller itself included) with busy.  Calls are
forwarded as L{ForwardSettings} say (L{srst.calls.forward}: all, busy,
no answer); a number on several endpoints rings them all, and the first to
answer takes the call.  Media is SRTP (fresh keys per direction,
L{MediaSession}) when both endpoints are secure; L{ICallEndpoint.connected}
tells the endpoints which.

Methods that act on a leg raise L{CallStateError} when the leg cannot do
that now (an Automat C{NoTransition} from a leg machine means the same); in
both cases nothing changed.

Each public method is an input, and inputs run one at a time: an input an
endpoint raises while the engine is inside another one (a voice port
reporting its media from L{ICallEndpoint.openReceive} while the engine
connects the call, an FXO line answering from L{ICallEndpoint.alerting})
is queued and runs when the current input has finished, as Automat runs an
input raised from inside a transition.  As in Automat, only inputs that
return nothing can wait: L{CallEngine.seize}, L{CallEngine.transfer} and
L{CallEngine.pickUp} (and the other inputs returning a leg) raised from
inside another input are refused with
C{RuntimeError}.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from typing import Callable, Collection, Iterable, TypeVar

from attrs import frozen
from automat import NoTransition
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from srst.calls.alias import Alias, Aliases
from srst.calls.call import Call, Monitor
from srst.calls.conference import Conference, ConferenceSetup, Leaving, afterLeaving, secureConference
from srst.calls.dialing import DialStep, combine
from srst.calls.dialplan import DialplanPattern, DialplanPatterns
from srst.calls.forward import ForwardChain, ForwardReason, ForwardSettings, Redirect, followAll, usable
from srst.calls.interfaces import Destination, DialMatch, FailureReason, ICallEndpoint, IDirectory, LineRef, Party
from srst.calls.leg import Leg, LegStatus, newLeg
from srst.calls.media import DEFAULT_CODEC, MediaSession, MediaStream, NoCommonCodec, chooseCodec
from srst.calls.mediaservices import IConferenceBridge, IConferenceBridges, IHoldMusic, MediaUnavailable, Music
from srst.calls.transfer import Transfer, allowed, isBlind
from srst.media.srtp import SrtpKeys, generateKeys


class CallStateError(RuntimeError):
    """
    An action a leg cannot take in its state.

    @ivar action: what was asked.
    @ivar status: the leg's L{LegStatus}, or L{None} for no leg.
    """

    def __init__(self, action: str, status: LegStatus | None) -> None:
        RuntimeError.__init__(self, action, status)
        self.action = action
        self.status = status

    def __str__(self) -> str:
        where = self.status.stateName if self.status is not None else "no call"
        return "cannot %s in state %s" % (self.action, where)


_T = TypeVar("_T")


@frozen
class Reach:
    """
    Where a call to a number goes now: the steps L{CallEngine} routes a
    dialled number through (C{show dialplan number} prints them).

    @ivar extension: the C{dialplan-pattern} and the extension a full
        number reaches, or L{None}.
    @ivar chain: the forward-all chain from the (extension) number, or
        L{None} for no number.
    @ivar target: the end of the chain: the number whose lines are looked
        at first.
    @ivar destinations: the lines with C{target}.
    @ivar alias: the C{alias} taken (nothing registered or free at
        C{target}), or L{None}.
    @ivar number: the number that rings: C{target}, or the alias's
        alternate number (or its C{cfw} when the alternate is busy).
    @ivar free: the free lines with C{number}.
    @ivar ringing: every line with C{number} (free or not).
    """

    extension: tuple[DialplanPattern, str] | None
    chain: ForwardChain | None
    target: str
    destinations: list[Destination]
    alias: Alias | None
    number: str
    free: list[Destination]
    ringing: list[Destination]


_QUIET = Logger(observer=lambda event: None)
"""A logger that drops everything: L{CallEngine.reach} only looks."""


def _party(line: LineRef) -> Party:
    return Party(line.number, line.name, tag=line.tag, owner=line.owner)


class CallEngine:
    """
    Calls between endpoints.

    @ivar clock: timers.
    @ivar interdigit: the inter-digit timeout, seconds.
    @ivar ringing: the no-answer timeout, seconds.
    @ivar secondaryDialtone: the access code for outside dial tone, or L{None}.
    @ivar forwards: the L{ForwardSettings}.
    @ivar transferSystem: C{transfer-system}.
    @ivar transferPatterns: C{transfer-pattern}s.
    @ivar blindTransferPatterns: C{transfer-pattern ... blind}s.
    @ivar channelsPerDn: channels per directory number.
    @ivar callsPlaced: calls set up since start (one per two-party call
        made: a dialled call, a pickup, a conference participant's call).
    @ivar callAttemptsFailed: call attempts failed since start, by
        L{FailureReason} value.
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, *, interdigit: float, ringing: float, busy: float = 0,
                 secondaryDialtone: str | None = None, keyFactory: Callable[[], SrtpKeys] = generateKeys,
                 forwards: ForwardSettings | None = None, transferSystem: str = "full-consult",
                 transferPatterns: Iterable[str] = (), blindTransferPatterns: Iterable[str] = (),
                 channelsPerDn: int = 1,
                 dialplanPatterns: Iterable[DialplanPattern] = (), aliases: Aliases | None = None) -> None:
        """
        @param clock: the reactor's L{IReactorTime}.
        @param interdigit: C{timeouts interdigit}, seconds.
        @param ringing: C{timeouts ringing}: seconds a call rings unanswered
            before it is cleared (0: for ever).
        @param busy: C{timeouts busy}: seconds a failed call attempt hears
            busy or reorder before its leg is released (0: until it hangs up).
        @param secondaryDialtone: C{secondary-dialtone}, or L{None}.
        @param keyFactory: makes SRTP master keys (tests inject).
        @param forwards: call forwarding targets (default: none).
        @param transferSystem: C{transfer-system} (blind, full-blind,
            full-consult, local-consult).
        @param transferPatterns: C{transfer-pattern}s: non-local numbers
            that may be transfer targets.
        @param blindTransferPatterns: the C{transfer-pattern}s given with
            C{blind}: a transfer to a number they match completes as soon
            as the target rings, whatever C{transfer-system} says.
        @param channelsPerDn: 1, or 2 with C{dual-line} (8 C{octo-line});
            consultative transfer needs 2.
        @param dialplanPatterns: C{dialplan-pattern}s: a full number dialled
            reaches its extension; an external call (out through a voice port) presents the caller's
            full number.
        @param aliases: the C{alias}es: where calls to a number no phone has
            (or, with C{no huntstop}, a busy one) go instead.
        """
        self.clock = clock
        self.interdigit = interdigit
        self.ringing = ringing
        self.busy = busy
        self.secondaryDialtone = secondaryDialtone
        self._keyFactory = keyFactory
        self.forwards = forwards if forwards is not None else ForwardSettings()
        self.transferSystem = transferSystem
        self.transferPatterns = tuple(transferPatterns)
        self.blindTransferPatterns = tuple(blindTransferPatterns)
        self.channelsPerDn = channelsPerDn
        self.dialplanPatterns = DialplanPatterns(dialplanPatterns)
        self.aliases = aliases if aliases is not None else Aliases()
        self._running = False
        self._queue: deque[tuple[Callable[..., None], tuple[object, ...]]] = deque()
        self._transfers: list[Transfer] = []
        self._conferenceSetups: list[ConferenceSetup] = []
        self._directories: list[IDirectory] = []
        self._legs: dict[ICallEndpoint, list[Leg]] = {}
        self._calls: list[Call] = []
        self.callsPlaced = 0
        self.callAttemptsFailed: Counter[str] = Counter()
        self._references = itertools.count(1)
        self._partyIds = itertools.count(0x01000001)
        self._callNumbers = itertools.count(1)
        self._holdMusic: IHoldMusic | None = None
        self._bridges: IConferenceBridges | None = None

    def useMediaServices(self, holdMusic: IHoldMusic | None, bridges: IConferenceBridges | None) -> None:
        """
        The router's own media: a held party hears C{holdMusic} (IOS C{moh})
        instead of the tone on hold, and Confrn reserves bridges from
        C{bridges}.  Without them (never called, or L{None}) a held party
        hears the tone on hold and Confrn is not offered.

        @param holdMusic: music on hold, or L{None}.
        @param bridges: the conference bridges, or L{None}.
        """
        self._holdMusic = holdMusic
        self._bridges = bridges

    # -- set-up and lookups --------------------------------------------------------------------

    def addDirectory(self, directory: IDirectory) -> None:
        """
        @param directory: numbers to route to (searched in the order added).
        """
        self._directories.append(directory)

    def legsOf(self, endpoint: ICallEndpoint) -> list[Leg]:
        """@return: the endpoint's legs (not released)."""
        return list(self._legs.get(endpoint, ()))

    def hasCall(self, endpoint: ICallEndpoint) -> bool:
        """@return: whether the endpoint has a leg (off hook, ringing, in a call)."""
        return bool(self._legs.get(endpoint))

    def calls(self) -> list[Call]:
        """@return: the calls (both legs exist)."""
        return list(self._calls)

    def transfers(self) -> list[Transfer]:
        """@return: the transfers in progress."""
        return list(self._transfers)

    def newReference(self) -> int:
        """@return: a fresh callReference (for adapter-only dialogues such as CFwdAll)."""
        return next(self._references)

    # -- inputs ----------------------------------------------------------------------------------

    def seize(self, endpoint: ICallEndpoint, line: LineRef) -> Leg:
        """
        The endpoint goes off hook on C{line} to place a call.

        @return: the new leg (dialling).
        @raise CallStateError: when the endpoint already has a leg.
        """
        return self._request(self._seize, endpoint, line)

    def digit(self, leg: Leg, digit: str) -> None:
        """
        A digit dialled on C{leg}; the number is routed once complete.

        @raise CallStateError: when the leg is not dialling.
        """
        self._input(self._digit, leg, digit)

    def answer(self, leg: Leg) -> None:
        """
        The ringing C{leg} answers: connect both legs and open the media.

        @raise CallStateError: when the leg is not ringing.
        """
        self._input(self._answer, leg)

    def hangUp(self, leg: Leg) -> None:
        """
        C{leg} hangs up: both legs of its call are released.

        @raise CallStateError: when the leg is already released.
        """
        self._input(self._hangUp, leg)

    def hold(self, leg: Leg) -> None:
        """
        C{leg} puts its connected call on hold: media closes on both sides.

        @raise CallStateError: when the leg is not connected.
        """
        self._input(self._hold, leg)

    def resume(self, leg: Leg) -> None:
        """
        C{leg} takes its call off hold; media reopens with fresh keys unless
        the other side holds it too.

        @raise CallStateError: when the leg did not hold the call.
        """
        self._input(self._resume, leg)

    def transfer(self, leg: Leg) -> Leg | None:
        """
        The Transfer key on C{leg} (sccp.md 5.4 (h), L{srst.calls.transfer}):
        on a connected call, hold it and open a consult leg; on a consult
        leg (or its held leg) whose target rings or answered, complete.

        @return: the new consult leg, or L{None} when the transfer completed.
        @raise CallStateError: when the leg cannot transfer now.
        """
        return self._request(self._transfer, leg)

    def conference(self, leg: Leg) -> Leg | None:
        """
        The Confrn key on C{leg} (L{srst.calls.conference}): on a connected
        call, reserve a bridge, hold the call and open a consult leg; on a
        conference's consult leg (or its held leg) once the consult call is
        connected, join the three parties on the bridge.

        @return: the new consult leg, or L{None} when the conference started.
        @raise CallStateError: when the leg cannot conference now (or no
            bridges are configured).
        @raise ConferenceRefused: at C{max-conferences}; nothing changed.
        """
        return self._request(self._conference, leg)

    def join(self, leg: Leg) -> None:
        """
        The Join key on the connected C{leg}: a call its endpoint holds and
        this one become a conference on a bridge.

        @raise CallStateError: when the leg is not connected or its endpoint
            holds no other call.
        @raise ConferenceRefused: at C{max-conferences}; nothing changed.
        """
        return self._request(self._join, leg)

    def conferenceSetups(self) -> list[ConferenceSetup]:
        """@return: the conferences being set up (a consult leg open)."""
        return list(self._conferenceSetups)

    def pickUp(self, endpoint: ICallEndpoint, reference: int) -> Leg:
        """
        C{endpoint} picks up a shared-line call held on another endpoint
        (C{reference}: the reference it shows the call under, 0: any).

        @return: the endpoint's new, connected leg.
        @raise CallStateError: when no held shared-line call shows there.
        """
        return self._request(self._pickUp, endpoint, reference)

    def directedPickUp(self, endpoint: ICallEndpoint, line: LineRef) -> Leg:
        """
        The PickUp key (IOS directed pickup): C{endpoint} gets dial tone on
        C{line} (or keeps the dial tone it has) and the number it dials is
        picked up, not called: the oldest call ringing that number moves to
        this leg; with nothing ringing there the leg fails with reorder.

        @return: the dialling leg.
        @raise CallStateError: when the endpoint has a leg past dial tone.
        """
        return self._request(self._directedPickUp, endpoint, line)

    def groupPickUp(self, endpoint: ICallEndpoint, line: LineRef, numbers: Collection[str]) -> Leg:
        """
        The GPickUp key (IOS group pickup): the oldest call ringing one of
        C{numbers} (the pickup group's numbers) on another endpoint moves to
        C{endpoint} on C{line}.

        @return: the endpoint's new, connected leg.
        @raise CallStateError: when nothing rings in the group (the endpoint
            is left as it was) or the endpoint has a leg past dial tone.
        """
        return self._request(self._groupPickUp, endpoint, line, frozenset(numbers))

    def ringingIn(self, endpoint: ICallEndpoint, numbers: Collection[str]) -> bool:
        """@return: whether a call rings one of C{numbers} on another endpoint than C{endpoint}."""
        return self._oldestRinging(endpoint, frozenset(numbers)) is not None

    def mediaReady(self, leg: Leg, passThruPartyId: int, host: str, port: int) -> None:
        """
        C{leg}'s endpoint opened its receive port at C{host}:C{port}: tell
        the other side to transmit there.  A stale answer is ignored.
        """
        self._input(self._mediaReady, leg, passThruPartyId, host, port)

    def mediaFailed(self, leg: Leg, reason: str) -> None:
        """
        C{leg}'s endpoint could not open or use its media: clear the call.
        """
        self._input(self._mediaFailed, leg, reason)

    def endpointGone(self, endpoint: ICallEndpoint) -> None:
        """
        The endpoint disappeared (connection lost, unregistered): clear its
        calls; the other sides get the hang-up.
        """
        self._input(self._endpointGone, endpoint)

    def dialTimedOut(self, leg: Leg) -> None:
        """
        The inter-digit timer of C{leg} fired: route what was dialled.
        """
        self._input(self._dialTimedOut, leg)

    def ringTimedOut(self, leg: Leg) -> None:
        """
        C{leg} rang for C{timeouts ringing} without an answer: clear the call.
        """
        self._input(self._ringTimedOut, leg)

    def busyTimedOut(self, leg: Leg) -> None:
        """
        C{leg} heard busy or reorder for C{timeouts busy}: release it.
        """
        self._input(self._busyTimedOut, leg)

    def noAnswerTimedOut(self, leg: Leg) -> None:
        """
        C{leg} rang C{no-answer-timeout} seconds: stop ringing it and ring
        the forward-no-answer target instead (if free; else keep ringing).
        """
        self._input(self._noAnswer, leg)

    # -- running inputs ---------------------------------------------------------------------------

    def _input(self, action: Callable[..., None], *args: object) -> None:
        """
        Run an input, or queue it when it arrives while another input runs
        (an endpoint reporting its media from L{ICallEndpoint.openReceive},
        a voice port answering from L{ICallEndpoint.alerting}): a queued
        input runs when the current one has finished, as Automat runs an
        input a transition raised.  A queued input the engine refuses
        (L{CallStateError}) is logged and dropped: its caller is gone.
        """
        if self._running:
            self._queue.append((action, args))
            return
        self._run(action, *args)

    def _request(self, action: Callable[..., _T], *args: object) -> _T:
        """
        Run an input that returns something (a new leg): it cannot wait in
        the queue, so it must not arrive while another input runs.

        @raise RuntimeError: when it does.
        """
        if self._running:
            raise RuntimeError("%s cannot be run from inside another input of the call engine"
                               % (action.__name__.lstrip("_"),))
        return self._run(action, *args)

    def _run(self, action: Callable[..., _T], *args: object) -> _T:
        """
        Run an input, then every input queued meanwhile, first queued first
        run (an input a queued one raises goes to the end of the queue).
        """
        self._running = True
        try:
            return action(*args)
        finally:
            try:
                while self._queue:
                    queued, queuedArgs = self._queue.popleft()
                    self._runQueued(queued, queuedArgs)
            finally:
                self._running = False

    def _runQueued(self, action: Callable[..., None], args: tuple[object, ...]) -> None:
        name = action.__name__.lstrip("_")
        try:
            action(*args)
        except (CallStateError, NoTransition) as e:
            self.log.info("queued {input} ignored: {why}", input=name, why=str(e))
        except Exception:
            self.log.failure("while running the queued {input}", input=name)

    # -- what the inputs do ---------------------------------------------------------------------

    def _seize(self, endpoint: ICallEndpoint, line: LineRef) -> Leg:
        current = self.legsOf(endpoint)
        if current:
            raise CallStateError("go off hook", current[0].status)
        leg = self._newLeg(endpoint, line)
        leg.machine.seize()
        return leg

    def _digit(self, leg: Leg, digit: str) -> None:
        if leg.status is not LegStatus.DIALING:
            raise CallStateError("dial", leg.status)
        collector = leg.collector
        first = not collector.digits
        step = collector.add(digit, self._match(collector.digits + digit) if digit != "#" else None)
        leg.machine.digit(digit, first)
        if step is DialStep.SECONDARY_DIALTONE:
            leg.machine.secondaryDialTone()
        elif step is DialStep.COMPLETE:
            self._dialled(leg, collector.digits)

    def _answer(self, leg: Leg) -> None:
        call = leg.call
        if leg.status is not LegStatus.RING_IN or call is None:
            raise CallStateError("answer", leg.status)
        leg.machine.answer()
        for other in call.answeredBy(leg):
            self._release(other, None)
        caller = call.caller
        if caller.status is LegStatus.RING_OUT:
            caller.machine.remoteAnswered()
        self.log.info("call {call}: {callee} answered {caller}", call=call.number, callee=leg.line.number,
                      caller=caller.line.number, secure=call.secure)
        self._connect(call, answering=leg)

    def _hangUp(self, leg: Leg) -> None:
        if leg.status in (LegStatus.RELEASED, LegStatus.IDLE):
            raise CallStateError("hang up", leg.status)
        call = leg.call
        if call is None:
            self._release(leg, None)
            return
        self._clear(call, leg)

    def _hold(self, leg: Leg) -> None:
        call = leg.call
        if leg.status is not LegStatus.CONNECTED or call is None:
            raise CallStateError("hold", leg.status)
        leg.machine.hold()
        other = call.other(leg)
        streams = self._closeMedia(call)
        self._stopMusic(call, notify=False)
        call.addHolder(leg)
        leg.endpoint.held(leg, streams.get(leg))
        if not call.isHeldBy(other):
            music = self._listen(call, other)
            if music is None:
                other.endpoint.heldByRemote(other, streams.get(other), self._holdTone(call, other))
            else:
                other.endpoint.heldByRemote(other, streams.get(other), False)
                call.music = music
                music.stream.receiving = True
                other.endpoint.openReceive(other, music.stream)
        call.showHeld(leg.line.number)

    def _resume(self, leg: Leg) -> None:
        call = leg.call
        if leg.status is not LegStatus.HELD or call is None:
            raise CallStateError("resume", leg.status)
        self._stopMusic(call)
        leg.machine.resume()
        call.removeHolder(leg)
        call.showInUse(leg.line.number)
        other = call.other(leg)
        if not call.held:
            other.endpoint.resumedByRemote(other)
            self._openMedia(call, [leg, other])

    def _transfer(self, leg: Leg) -> Leg | None:
        for transfer in self._transfers:
            if leg is transfer.consult or leg is transfer.held:
                consult = transfer.consult
                if consult.status not in (LegStatus.RING_OUT, LegStatus.CONNECTED) or consult.call is None:
                    raise CallStateError("complete the transfer", consult.status)
                self._completeTransfer(transfer)
                return None
        if leg.status is not LegStatus.CONNECTED or leg.call is None or leg.call.conference is not None:
            raise CallStateError("transfer", leg.status)
        self._hold(leg)
        consult = self._newLeg(leg.endpoint, leg.line)
        consult.consult = True
        self._transfers.append(Transfer(leg, consult, isBlind(self.transferSystem, self.channelsPerDn)))
        consult.machine.seize()
        return consult

    def _pickUp(self, endpoint: ICallEndpoint, reference: int) -> Leg:
        for call in self._calls:
            for monitor in call.monitorsOn(endpoint):
                if monitor.held and (not reference or monitor.reference == reference):
                    leg = self._takeOver(call, monitor)
                    if leg is not None:
                        return leg
        raise CallStateError("pick up", None)

    def _mediaReady(self, leg: Leg, passThruPartyId: int, host: str, port: int) -> None:
        call = leg.call
        if call is None:
            return
        music = call.music
        if music is not None and music.stream.leg is leg and music.stream.passThruPartyId == passThruPartyId:
            if music.stream.address is None:
                music.stream.address = (host, port)
                music.port.start((host, port))
            return
        remote = call.media.ackReceived(leg, passThruPartyId, host, port)
        if remote is None or remote.transmitting:
            return
        remote.transmitting = True
        remote.leg.endpoint.startTransmit(remote.leg, remote)

    def _mediaFailed(self, leg: Leg, reason: str) -> None:
        call = leg.call
        if call is not None and call.music is not None and call.music.stream.leg is leg:
            self.log.warn("call leg {line} ref {reference}: music on hold failed ({reason}); the call stays held",
                          line=leg.line.number, reference=leg.callReference, reason=reason)
            self._stopMusic(call)
            if self._holdTone(call, leg):
                leg.endpoint.heldByRemote(leg, None, True)
            return
        self.log.warn("call leg {line} ref {reference}: media failed ({reason}); clearing",
                      line=leg.line.number, reference=leg.callReference, reason=reason)
        if leg.status not in (LegStatus.RELEASED, LegStatus.IDLE):
            self._hangUp(leg)

    def _endpointGone(self, endpoint: ICallEndpoint) -> None:
        for call in self._calls:
            call.forgetEndpoint(endpoint)
        for leg in self.legsOf(endpoint):
            call = leg.call
            if call is not None and call.dropAlternate(leg):
                self._release(leg, None)
            elif leg.status not in (LegStatus.RELEASED, LegStatus.IDLE):
                self._hangUp(leg)
        self._legs.pop(endpoint, None)

    def _dialTimedOut(self, leg: Leg) -> None:
        if leg.status is not LegStatus.DIALING:
            return
        self._dialled(leg, leg.collector.timedOut())

    def _ringTimedOut(self, leg: Leg) -> None:
        if leg.status is not LegStatus.RING_IN:
            return
        self.log.info("{line} not answered in {seconds} s; clearing", line=leg.line.number, seconds=self.ringing)
        self._hangUp(leg)

    def _busyTimedOut(self, leg: Leg) -> None:
        if leg.status is not LegStatus.FAILED:
            return
        self.log.info("{line} heard busy or reorder for {seconds} s; releasing", line=leg.line.number,
                      seconds=self.busy)
        self._hangUp(leg)

    # -- legs and calls ----------------------------------------------------------------------------

    def _newLeg(self, endpoint: ICallEndpoint, line: LineRef) -> Leg:
        leg = newLeg(endpoint, line, next(self._references), self.clock, self.interdigit, self.dialTimedOut,
                     self.secondaryDialtone, self.ringing, self.ringTimedOut, self.busy, self.busyTimedOut)
        self._legs.setdefault(endpoint, []).append(leg)
        return leg

    def _makeCall(self, caller: Leg, callee: Leg) -> Call:
        """@return: a new call between two legs, registered with the engine."""
        secure = bool(caller.endpoint.secure and callee.endpoint.secure)
        call = Call(next(self._callNumbers), caller, callee, MediaSession(self._partyIds, self._keyFactory), secure)
        caller.call = callee.call = call
        self._calls.append(call)
        self.callsPlaced += 1
        return call

    def _fail(self, leg: Leg, reason: FailureReason) -> None:
        """C{leg}'s call attempt failed for C{reason}: count it and tell the leg."""
        self.callAttemptsFailed[reason.value] += 1
        leg.machine.fail(reason)

    def _forgetCall(self, call: Call) -> None:
        if call in self._calls:
            self._calls.remove(call)

    def _busy(self, endpoint: ICallEndpoint) -> bool:
        """Whether the endpoint has a leg, shows a shared-line call, or its line is in use."""
        return (self.hasCall(endpoint) or endpoint.lineBusy()
                or any(call.monitorsOn(endpoint) for call in self._calls))

    def _clear(self, call: Call, first: Leg) -> None:
        conference = call.conference
        if conference is not None and call in self._calls:
            participant = first if first in conference.participants else call.other(first)
            self._leaveConference(conference, participant)
            return
        self._clearCall(call, first)

    def _clearCall(self, call: Call, first: Leg) -> None:
        self._stopMusic(call, notify=False)
        streams = self._closeMedia(call)
        self._forgetCall(call)
        self.log.info("call {call}: {line} hung up", call=call.number, line=first.line.number)
        alternates = call.takeAlternates()
        for leg in [first, call.other(first), call.callee] + alternates:
            if leg.status not in (LegStatus.RELEASED, LegStatus.IDLE):
                self._release(leg, _activeStream(streams, leg))
        call.showIdle()

    def _release(self, leg: Leg, stream: MediaStream | None) -> None:
        legs = self._legs.get(leg.endpoint)
        if legs is not None and leg in legs:
            legs.remove(leg)
            if not legs:
                del self._legs[leg.endpoint]
        leg.machine.release(stream)
        for transfer in [t for t in self._transfers if leg is t.consult or leg is t.held]:
            self._transfers.remove(transfer)
            held = transfer.held
            if leg is transfer.consult and held.status is LegStatus.HELD and held.call is not None:
                self.log.info("{line}: transfer cancelled; resuming", line=held.line.number)
                self._resume(held)
        for setup in [s for s in self._conferenceSetups if leg is s.consult or leg is s.held]:
            self._conferenceSetups.remove(setup)
            setup.bridge.release()
            setup.consult.conferenceConsult = False
            held = setup.held
            if leg is setup.consult and held.status is LegStatus.HELD and held.call is not None:
                self.log.info("{line}: conference cancelled; resuming", line=held.line.number)
                self._resume(held)

    # -- routing -----------------------------------------------------------------------------------

    def _match(self, digits: str) -> DialMatch:
        matches = [d.match(digits) for d in self._directories]
        if self.aliases.completes(digits):
            matches.append(DialMatch.EXACT_OR_LONGER if self.aliases.couldBecome(digits) else DialMatch.EXACT)
        elif self.aliases.couldBecome(digits):
            matches.append(DialMatch.PREFIX)
        patterns = self.dialplanPatterns
        if patterns.couldBecome(digits):
            matches.append(DialMatch.PREFIX)
        local = patterns.extensionOf(digits)
        if local is not None and combine([d.match(local[1]) for d in self._directories]) in (
                DialMatch.EXACT, DialMatch.EXACT_OR_LONGER):
            matches.append(DialMatch.EXACT)
        return combine(matches)

    def extensionFor(self, number: str) -> tuple[DialplanPattern, str] | None:
        """
        @return: the C{dialplan-pattern} and the extension a full C{number}
            reaches, when that extension is a number here; else L{None}.
        """
        local = self.dialplanPatterns.extensionOf(number)
        if local is None or not self._resolve(local[1]):
            return None
        return local

    def resolve(self, number: str) -> list[Destination]:
        """
        @return: where a call to C{number} goes now (a full number goes to its
            extension by the C{dialplan-pattern}s).
        """
        local = self.extensionFor(number)
        return self._resolve(local[1] if local is not None else number)

    def _presented(self, call: Call, leg: Leg) -> Party:
        """@return: how C{leg} is presented to the other side of C{call}."""
        party = _party(leg.line)
        if call.external and leg is call.caller:
            full = self.dialplanPatterns.expand(party.number)
            if full is not None:
                return Party(full, party.name, tag=party.tag, owner=party.owner)
        return party

    def _named(self, party: Party) -> Party:
        """
        @return: C{party} with the name of the line that has its number
            (what CallInfo shows for a forwarding party), or as it is when
            no registered line has it.
        """
        found = self._resolve(party.number)
        return _party(found[0].line) if found else party

    def _resolve(self, number: str) -> list[Destination]:
        found: list[Destination] = []
        for directory in self._directories:
            found.extend(directory.resolve(number))
        return found

    def _route(self, leg: Leg, number: str) -> None:
        external = bool(self.dialplanPatterns) and bool(number) and not self.dialplanPatterns.isLocal(number)
        local = self.extensionFor(number) if number else None
        if local is not None:
            self.log.info("{number} is extension {extension} (dialplan-pattern {tag})", number=number,
                          extension=local[1], tag=local[0].tag)
            number = local[1]
        transfer = next((t for t in self._transfers if t.consult is leg), None)
        if transfer is not None and number and not self._resolve(number) \
                and not allowed(self.transferPatterns, number):
            self.log.info("{line}: transfer to {number} not allowed", line=leg.line.number, number=number)
            self._fail(leg, FailureReason.TRANSFER_REFUSED)
            self._hangUp(leg)
            return
        blindByPattern = (transfer is not None and not transfer.blind and bool(number)
                          and allowed(self.blindTransferPatterns, number))
        if blindByPattern:
            self.log.info("{line}: transfer to {number} is blind (transfer-pattern blind)",
                          line=leg.line.number, number=number)
        reach = self._reach(number, leg.line.number, self.log)
        redirect = None
        if reach.chain is not None and reach.chain.redirect is not None:
            redirect = Redirect(self._named(reach.chain.redirect.original),
                                self._named(reach.chain.redirect.lastRedirecting), reach.chain.redirect.reason)
        destinations, free, alias = reach.destinations, reach.free, reach.alias
        number, dialled = reach.number, reach.target
        if alias is None and not destinations:
            self.log.info("{line} dialled {number}: unknown number", line=leg.line.number, number=number)
            self._fail(leg, FailureReason.UNKNOWN_NUMBER)
            return
        elif alias is None:
            busyTarget = usable(self.forwards.busy, number, leg.line.number)
            if not free and busyTarget is not None:
                self.log.info("{number} busy; forwarded to {target}", number=number, target=busyTarget)
                by = _party(destinations[0].line)
                redirect = (redirect.then(by, ForwardReason.BUSY) if redirect is not None
                            else Redirect(by, by, ForwardReason.BUSY))
                free = [d for d in self._resolve(busyTarget) if not self._busy(d.endpoint)]
        withMedia = [d for d in free if d.endpoint.mediaAvailable()]
        if free and not withMedia:
            self.log.warn("{line} dialled {number}: no media resources at the destination; refused",
                          line=leg.line.number, number=number)
            free[0].endpoint.mediaRefused()
            self._fail(leg, FailureReason.CONGESTION)
            return
        free = withMedia
        if not free:
            self.log.info("{line} dialled {number}: busy", line=leg.line.number, number=dialled)
            self._fail(leg, FailureReason.BUSY)
            return
        noAnswerForward = ((alias.cfw, alias.cfwTimeout) if alias is not None and alias.cfw and number == alias.to
                           else None)
        destination = free[0]
        callee = self._newLeg(destination.endpoint, destination.line)
        callee.redirect, callee.noAnswerForward = redirect, noAnswerForward
        call = self._makeCall(leg, callee)
        call.external = external and destination.endpoint.outside
        self.log.info("call {call}: {caller} calls {callee}", call=call.number, caller=leg.line.number,
                      callee=destination.line.number, secure=call.secure)
        leg.machine.placed(_party(destination.line))
        self._showOutgoing(call, leg)
        self._offer(callee, leg)
        if len(free) > 1:
            call.addAlternate(callee)
            for other in free[1:]:
                alternate = self._newLeg(other.endpoint, other.line)
                alternate.redirect, alternate.call = redirect, call
                alternate.noAnswerForward = noAnswerForward
                call.addAlternate(alternate)
                self._offer(alternate, leg)
        if transfer is not None and (transfer.blind or blindByPattern) and transfer in self._transfers:
            self._completeTransfer(transfer)

    def reach(self, number: str) -> Reach:
        """
        @return: where a call to C{number} would go now, by the steps a
            dialled call takes (nothing is logged, nothing changes).
        """
        local = self.extensionFor(number) if number else None
        found = self._reach(local[1] if local is not None else number, "", _QUIET)
        return Reach(local, found.chain, found.target, found.destinations, found.alias, found.number, found.free,
                     found.ringing)

    def _reach(self, number: str, caller: str, log: Logger) -> Reach:
        """
        Follow forward-all from C{number} (already an extension), then hunt
        the C{alias}es when no line there is free.

        @param caller: the calling number (a chain back to it stops).
        @param log: where the steps are logged.
        """
        chain = None
        if number:
            chain = followAll(self.forwards, number, caller)
            for hop, target in zip(chain.numbers, chain.numbers[1:]):
                log.info("{number} forwarded (all) to {target}", number=hop, target=target)
            if chain.stopped is not None:
                log.warn("forward-all {stopped} after {chain} (next {next}); ringing {target}",
                         stopped=chain.stopped, chain=" -> ".join(chain.numbers), next=chain.next,
                         target=chain.target)
            number = chain.target
        destinations = self._resolve(number) if number else []
        free = [d for d in destinations if not self._busy(d.endpoint)]
        target, alias, ringing = number, None, destinations
        if not free and number and (not destinations or not self.aliases.huntstop):
            hunted = self._hunt(number, caller, log)
            if hunted is not None and (hunted[2] or not destinations):
                alias, number, free = hunted
                ringing = self._resolve(number)
        return Reach(None, chain, target, destinations, alias, number, free, ringing)

    def _hunt(self, number: str, caller: str, log: Logger) -> tuple[Alias, str, list[Destination]] | None:
        """
        Try the C{alias}es for C{number} (L{srst.calls.alias} has the rules).

        @return: the alias taken, the number to ring and its free
            destinations (empty: busy), or L{None} when no alias has a
            registered alternate.
        """
        for alias in self.aliases.forNumber(number):
            found = self._resolve(alias.to)
            if not found:
                continue
            free = [d for d in found if not self._busy(d.endpoint)]
            if free:
                log.info("{number} rerouted to {target} (alias {tag})", number=number, target=alias.to,
                              tag=alias.tag)
                return alias, alias.to, free
            cfw = usable(alias.cfw, alias.to, caller)
            if cfw is not None:
                log.info("{number} rerouted to {target} (alias {tag}): busy; forwarded to {cfw}",
                              number=number, target=alias.to, tag=alias.tag, cfw=cfw)
                return alias, cfw, [d for d in self._resolve(cfw) if not self._busy(d.endpoint)]
            if alias.huntstop or self.aliases.huntstop:
                log.info("{number} rerouted to {target} (alias {tag}): busy; huntstop", number=number,
                              target=alias.to, tag=alias.tag)
                return alias, alias.to, []
            log.info("{number} rerouted to {target} (alias {tag}): busy; hunting on", number=number,
                          target=alias.to, tag=alias.tag)
        return None

    def _noAnswerForward(self, leg: Leg) -> tuple[str | None, float]:
        """@return: where and after how long an unanswered C{leg} forwards."""
        if leg.noAnswerForward is not None:
            return leg.noAnswerForward
        return self.forwards.noAnswer, self.forwards.noAnswerTimeout

    def _offer(self, callee: Leg, caller: Leg) -> None:
        """Ring C{callee}; arm forward-no-answer when it applies."""
        target, timeout = self._noAnswerForward(callee)
        if usable(target, callee.line.number, caller.line.number) is not None:
            callee.ringing = timeout
            callee.onRingTimeout = self.noAnswerTimedOut
        call = callee.call
        callee.machine.offer(self._presented(call, caller) if call is not None else _party(caller.line))

    def _noAnswer(self, leg: Leg) -> None:
        """
        C{leg} rang C{no-answer-timeout} seconds: stop ringing it and ring
        the forward-no-answer target instead (if free; else keep ringing).
        """
        call = leg.call
        if leg.status is not LegStatus.RING_IN or call is None:
            return
        caller = call.caller
        configured, seconds = self._noAnswerForward(leg)
        target = usable(configured, leg.line.number, caller.line.number)
        free = [d for d in self._resolve(target) if not self._busy(d.endpoint)] if target else []
        if not free:
            self.log.info("{line} not answered; forward target {target} unavailable", line=leg.line.number,
                          target=target)
            return
        self.log.info("{line} not answered in {seconds} s; forwarded to {target}", line=leg.line.number,
                      seconds=seconds, target=target)
        for alternate in call.takeAlternates():
            if alternate is not leg:
                self._release(alternate, None)
        self._release(leg, None)
        leg.call = None
        destination = free[0]
        callee = self._newLeg(destination.endpoint, destination.line)
        by = _party(leg.line)
        callee.redirect = (leg.redirect.then(by, ForwardReason.NO_ANSWER) if leg.redirect is not None
                           else Redirect(by, by, ForwardReason.NO_ANSWER))
        call.callee = callee
        callee.call = call
        call.updateSecurity()
        caller.remote = _party(destination.line)
        caller.endpoint.redirected(caller, caller.remote)
        self._offer(callee, caller)

    # -- shared lines (sccp.md 5.4 (j), L{srst.calls.call}) -----------------------------------------

    def _showOutgoing(self, call: Call, leg: Leg) -> None:
        """
        C{leg} placed C{call}: the other free endpoints with its number (a
        shared line) show the call in use.
        """
        for other in self._resolve(leg.line.number):
            if other.endpoint is not leg.endpoint and not self._busy(other.endpoint):
                monitor = call.addMonitor(other.endpoint, other.line, self.newReference())
                other.endpoint.remoteInUse(other.line, monitor.reference)

    def _takeOver(self, call: Call, monitor: Monitor) -> Leg | None:
        """
        The endpoint of C{monitor} picks up the held shared-line call: the
        former owner becomes a monitor, the new leg is connected and media
        reopens.

        @return: the new leg, or L{None} when the call is not held on the
            monitor's number.
        """
        old = call.heldLegFor(monitor)
        if old is None:
            return None
        leg = self._newLeg(monitor.endpoint, monitor.line)
        leg.callReference = monitor.reference
        leg.call = call
        leg.remote = old.remote
        leg.outgoing = old.outgoing
        leg.redirect = old.redirect
        call.takeOver(old, leg, monitor)
        if call.conference is not None:
            call.conference.replace(old, leg)
        old.elsewhere = True
        old.call = None
        self._release(old, None)
        leg.machine.takeOver()
        call.updateSecurity()
        call.showInUse(monitor.line.number)
        call.addMonitor(old.endpoint, old.line, old.callReference)
        self._stopMusic(call)
        if not call.held:
            other = call.other(leg)
            other.endpoint.resumedByRemote(other)
            self._openMedia(call, [leg, other])
        return leg

    # -- call pickup (IOS PickUp, GPickUp) ---------------------------------------------------------------

    def _dialled(self, leg: Leg, number: str) -> None:
        """The number dialled on C{leg} is complete: pick it up or call it."""
        if leg.pickUp:
            self._pickUpNumber(leg, number)
        else:
            self._route(leg, number)

    def _pickerLeg(self, endpoint: ICallEndpoint, line: LineRef) -> Leg:
        """@return: the endpoint's leg at dial tone (no digit yet), else a new one."""
        for leg in self.legsOf(endpoint):
            if leg.status is LegStatus.DIALING and not leg.collector.digits and not leg.consult:
                return leg
        return self._seize(endpoint, line)

    def _directedPickUp(self, endpoint: ICallEndpoint, line: LineRef) -> Leg:
        leg = self._pickerLeg(endpoint, line)
        leg.pickUp = True
        return leg

    def _groupPickUp(self, endpoint: ICallEndpoint, line: LineRef, numbers: frozenset[str]) -> Leg:
        for leg in self.legsOf(endpoint):
            if leg.status is not LegStatus.DIALING or leg.collector.digits or leg.consult:
                raise CallStateError("pick up", leg.status)
        ringing = self._oldestRinging(endpoint, numbers)
        if ringing is None:
            self.log.info("{line}: group pickup: no call ringing in the group", line=line.number)
            raise CallStateError("pick up with no call ringing", None)
        picker = self._pickerLeg(endpoint, line)
        self._takeRinging(picker, ringing)
        return picker

    def _pickUpNumber(self, leg: Leg, number: str) -> None:
        ringing = self._oldestRinging(leg.endpoint, frozenset((number,))) if number else None
        if ringing is None:
            known = bool(number) and bool(self.resolve(number))
            self.log.info("{line}: pickup of {number}: {why}", line=leg.line.number, number=number,
                          why="no call ringing there" if known else "unknown number")
            self._fail(leg, FailureReason.NOTHING_TO_PICK_UP if known else FailureReason.UNKNOWN_NUMBER)
            return
        self._takeRinging(leg, ringing)

    def _oldestRinging(self, endpoint: ICallEndpoint, numbers: frozenset[str]) -> Leg | None:
        """
        @return: the ringing leg, on another endpoint, of the oldest call
            ringing one of C{numbers}; a transfer's consult call is not
            offered.
        """
        consults = [t.consult for t in self._transfers] + [s.consult for s in self._conferenceSetups]
        for call in self._calls:
            if call.caller in consults or call.caller.status is not LegStatus.RING_OUT:
                continue
            for leg in [call.callee] + call.alternates:
                if leg.status is LegStatus.RING_IN and leg.endpoint is not endpoint and leg.line.number in numbers:
                    return leg
        return None

    def _takeRinging(self, picker: Leg, ringing: Leg) -> None:
        """
        C{picker} (dialling) takes the call C{ringing} rings for: every
        ringing leg of the call is released, C{picker} becomes the callee
        and the call connects with new media (fresh SRTP keys for the new
        pair).
        """
        call = ringing.call
        assert call is not None, "a ringing leg belongs to a call"
        caller = call.caller
        self.log.info("call {call}: {picker} picked up {callee} ringing from {caller}", call=call.number,
                      picker=picker.line.number, callee=ringing.line.number, caller=caller.line.number)
        for alternate in call.takeAlternates():
            if alternate is not ringing:
                self._release(alternate, None)
        ringing.call = None
        self._release(ringing, None)
        picker.call = call
        picker.remote = self._presented(call, caller)
        caller.remote = _party(picker.line)
        call.callee = picker
        call.updateSecurity()
        picker.machine.pickedUp()
        caller.machine.remoteAnswered()
        self._connect(call, answering=picker)

    # -- transfer (sccp.md 5.4 (h), L{srst.calls.transfer}) -------------------------------------------

    def _completeTransfer(self, transfer: Transfer) -> None:
        """
        Join B (the held call's other leg) and the consult leg's target C;
        clear the transferor's legs.
        """
        held, consult = transfer.held, transfer.consult
        first, second = held.call, consult.call
        assert first is not None and second is not None, "a transfer completes between two calls"
        b, c = first.other(held), second.other(consult)
        ringing = c.status is LegStatus.RING_IN
        self._transfers.remove(transfer)
        streams = self._closeMedia(second)
        self._stopMusic(first)
        first.media.close()
        self._forgetCall(first)
        self._forgetCall(second)
        self.log.info("transfer: {b} to {c} by {a} ({how})", b=b.line.number, c=c.line.number,
                      a=held.line.number, how="blind" if ringing else "consult")
        for leg in (consult, held):
            leg.call = None
            self._release(leg, _activeStream(streams, leg))
        call = self._makeCall(b, c)
        call.adoptMonitors(first.takeMonitors() + second.takeMonitors(), (b.line.number, c.line.number))
        call.adoptAlternates(second)
        if b.status is LegStatus.HELD:
            call.addHolder(b)
        b.remote, c.remote = _party(c.line), _party(b.line)
        if ringing:
            by = _party(held.line)
            c.redirect = (held.redirect.then(by, ForwardReason.TRANSFER) if held.redirect is not None
                          and not held.outgoing else Redirect(by, by, ForwardReason.TRANSFER))
            b.endpoint.transferred(b, b.remote, True)
            c.endpoint.transferred(c, c.remote, False)
            return
        streamC = streams.get(c)
        if streamC is not None and streamC.active:
            c.endpoint.heldByRemote(c, streamC, False)
        for leg in (b, c):
            leg.endpoint.connected(leg, leg.remote, call.encrypted)
        if not call.held:
            self._openMedia(call, [b, c])

    # -- conference (L{srst.calls.conference}) ----------------------------------------------------------

    def _conference(self, leg: Leg) -> Leg | None:
        bridges = self._bridges
        if bridges is None:
            raise CallStateError("conference", leg.status)
        for setup in self._conferenceSetups:
            if leg is setup.consult or leg is setup.held:
                consult = setup.consult
                if consult.status is not LegStatus.CONNECTED or consult.call is None:
                    raise CallStateError("complete the conference", consult.status)
                self._conferenceSetups.remove(setup)
                self._joinConference(setup.held, consult, setup.bridge)
                return None
        if leg.status is not LegStatus.CONNECTED or leg.call is None or leg.call.conference is not None:
            raise CallStateError("conference", leg.status)
        bridge = bridges.reserve(leg.line.number)
        self._hold(leg)
        consult = self._newLeg(leg.endpoint, leg.line)
        consult.conferenceConsult = True
        self._conferenceSetups.append(ConferenceSetup(leg, consult, bridge))
        consult.machine.seize()
        return consult

    def _join(self, leg: Leg) -> None:
        bridges = self._bridges
        call = leg.call
        if bridges is None or leg.status is not LegStatus.CONNECTED or call is None or call.conference is not None:
            raise CallStateError("join", leg.status)
        held = [other for other in self.legsOf(leg.endpoint)
                if other is not leg and other.status is LegStatus.HELD and other.call is not None
                and other.call.conference is None]
        if not held:
            raise CallStateError("join", leg.status)
        for setup in self._conferenceSetups:
            if leg is setup.consult:
                self._conferenceSetups.remove(setup)
                self._joinConference(setup.held, leg, setup.bridge)
                return
        bridge = bridges.reserve(leg.line.number)
        for transfer in [t for t in self._transfers if t.consult is leg or t.held is held[0]]:
            self._transfers.remove(transfer)
        self._joinConference(held[0], leg, bridge)

    def _joinConference(self, held: Leg, active: Leg, bridge: IConferenceBridge) -> None:
        """
        The creator's held call (C{held}, with B) and its active call
        (C{active}, with C) become a conference on C{bridge}: both calls'
        media closes, the held leg is released quietly (merged), and each
        participant (C{active} first, then B and C) gets a call to a leg of
        the bridge, connected with fresh media.
        """
        first, second = held.call, active.call
        assert first is not None and second is not None, "a conference joins two calls"
        bridges = self._bridges
        assert bridges is not None, "a bridge comes from the pool"
        b, c = first.other(held), second.other(active)
        for call in (first, second):
            self._stopMusic(call)
        for call in (first, second):
            for stream in call.media.close():
                if stream.active and stream.leg is not held:
                    stream.leg.endpoint.mediaClosed(stream.leg, stream)
            self._forgetCall(call)
        monitors = {b: first.takeMonitors(), active: second.takeMonitors()}
        monitors[c] = monitors[active]
        held.call = None
        held.merged = True
        self._release(held, None)
        participants = [active, b, c]
        for participant in participants:
            participant.call = None
        secure = secureConference(bridges.secureAllowed, [p.endpoint for p in participants])
        bridge.secure = secure
        conference = Conference(bridge.number, bridge, active, secure=secure)
        bridge.activate(active.line.number)
        self.log.info("conference {number}: {a} joined {b} and {c} ({security})", number=bridge.number,
                      a=active.line.number, b=b.line.number, c=c.line.number,
                      security="secure" if secure else "clear")
        adopted: list[Monitor] = []
        for index, participant in enumerate(participants, 1):
            bridgeLeg = self._newLeg(bridge.endpoint, LineRef(index, "", "Conference"))
            bridgeLeg.machine.bridged()
            call = self._makeCall(participant, bridgeLeg)
            call.conference = conference
            conference.add(participant, bridgeLeg)
            participant.remote = Party("", "Conference")
            bridgeLeg.remote = _party(participant.line)
            shown = [m for m in monitors[participant] if m.line.number == participant.line.number]
            call.adoptMonitors(shown, [participant.line.number])
            adopted.extend(shown)
            if participant.status is LegStatus.HELD:
                call.addHolder(participant)
            else:
                self._connect(call, answering=bridgeLeg)
        for monitor in monitors[b] + monitors[active]:
            if monitor not in adopted:
                monitor.endpoint.remoteIdle(monitor.line, monitor.reference)

    def _leaveConference(self, conference: Conference, leaver: Leg) -> None:
        """
        C{leaver}'s call clears; the others follow L{afterLeaving}.
        """
        outcome = afterLeaving(conference, leaver)
        bridge = conference.bridge
        self.log.info("conference {number}: {line} left; {outcome}", number=conference.number,
                      line=leaver.line.number, outcome=outcome.value)
        call = leaver.call
        conference.remove(leaver)
        if call is not None:
            self._clearCall(call, leaver)
        if outcome is Leaving.CONTINUE:
            return
        if outcome is Leaving.END_ALL:
            for participant in list(conference.participants):
                conference.remove(participant)
                if participant.call is not None:
                    self._clearCall(participant.call, participant)
            bridge.release()
            return
        x, y = conference.participants
        monitors: list[Monitor] = []
        for participant in (x, y):
            old = participant.call
            assert old is not None, "a participant is in a call"
            bridgeLeg = old.other(participant)
            streams = self._closeMedia(old)
            stream = _activeStream(streams, participant)
            if stream is not None:
                participant.endpoint.mediaClosed(participant, stream)
            self._forgetCall(old)
            monitors += old.takeMonitors()
            conference.remove(participant)
            participant.call = None
            bridgeLeg.call = None
            self._release(bridgeLeg, _activeStream(streams, bridgeLeg))
        bridge.release()
        call = self._makeCall(x, y)
        call.adoptMonitors(monitors, (x.line.number, y.line.number))
        for participant in (x, y):
            if participant.status is LegStatus.HELD:
                call.addHolder(participant)
        x.remote, y.remote = _party(y.line), _party(x.line)
        for participant in (x, y):
            participant.endpoint.connected(participant, participant.remote, call.encrypted)
        if not call.held:
            self._openMedia(call, [x, y])

    # -- music on hold ------------------------------------------------------------------------------

    def _holdTone(self, call: Call, held: Leg) -> bool:
        """
        Whether C{held}, held without music on hold, hears the tone on hold:
        on a clear call, or on a secure one with C{moh-secure tone}.
        """
        return not call.secure or self._secureHoldTone(held)

    def _secureHoldTone(self, held: Leg) -> bool:
        """
        Whether a secure held party hears the tone on hold although the
        call is secure (C{moh-secure tone}, IOS's tone on hold for a secure
        phone).
        """
        music = self._holdMusic
        return music is not None and music.available() and self._secureMusic(held) and music.secureMode == "tone"

    @staticmethod
    def _secureMusic(held: Leg) -> bool:
        """
        Whether the music on hold of C{held} is SRTP: for a secure IP phone
        only.  A voice port (L{ICallEndpoint.outside}) is the router's own
        DSP: its music goes over loopback, clear RTP (and C{moh-secure tone},
        IOS's rule for secure phones, does not apply to it).
        """
        return bool(held.endpoint.secure) and not held.endpoint.outside

    def _listen(self, call: Call, held: Leg) -> Music | None:
        """
        Start music on hold for C{held}: a receive-only stream (with a
        fresh receive key when its endpoint is secure) and a listener of
        the music on hold sending with that key.

        @return: the music, or L{None} for the tone on hold (no music
            configured, the file gone, C{moh-secure tone} for a secure
            endpoint, no RTP port free).
        """
        music = self._holdMusic
        if music is None or call.conference is not None or not music.available() or self._secureHoldTone(held):
            return None
        stream = call.media.openMusic(held, call.media.codec or DEFAULT_CODEC, self._secureMusic(held))
        try:
            port = music.listen(stream.codec, stream.rxKeys, held.endpoint.label)
        except MediaUnavailable as e:
            call.media.forget(stream)
            self.log.error("call {call}: no music on hold for {line} ({why}): tone on hold", call=call.number,
                          line=held.line.number, why=str(e))
            return None
        return Music(stream, port)

    def _stopMusic(self, call: Call, *, notify: bool = True) -> None:
        """
        Stop the music on hold of C{call}, if any: the listener closes, and
        with C{notify} the held endpoint closes its stream
        (L{ICallEndpoint.mediaClosed}) and the call forgets it; without, the
        stream was (or is about to be) handed to the endpoint otherwise
        (L{ICallEndpoint.held}, L{ICallEndpoint.released}).
        """
        music, call.music = call.music, None
        if music is None:
            return
        stream = music.stream
        if notify and call.media.streamOf(stream.leg) is stream:
            call.media.forget(stream)
            stream.leg.endpoint.mediaClosed(stream.leg, stream)
        music.port.close().addErrback(
            lambda failure: self.log.failure("closing the music on hold of call {call}", failure, call=call.number))

    # -- media ---------------------------------------------------------------------------------------

    def _connect(self, call: Call, answering: Leg) -> None:
        streams = self._createStreams(call)
        if streams is None:
            return
        other = call.other(answering)
        first, second = streams[answering], streams[other]
        first.receiving = True
        answering.endpoint.openReceive(answering, first)
        answering.endpoint.connected(answering, self._presented(call, other), call.encrypted)
        other.endpoint.connected(other, self._presented(call, answering), call.encrypted)
        second.receiving = True
        other.endpoint.openReceive(other, second)

    def _openMedia(self, call: Call, order: Iterable[Leg]) -> None:
        streams = self._createStreams(call)
        if streams is None:
            return
        for leg in order:
            stream = streams[leg]
            stream.receiving = True
            leg.endpoint.openReceive(leg, stream)

    def _createStreams(self, call: Call) -> dict[Leg, MediaStream] | None:
        caller, callee = call.caller, call.callee
        try:
            codec = chooseCodec(tuple(caller.endpoint.capabilities), tuple(callee.endpoint.capabilities))
        except NoCommonCodec as e:
            self.log.warn("call {call}: {error}; clearing", call=call.number, error=str(e))
            self._clear(call, call.callee)
            return None
        a, b = call.media.open(caller, callee, codec, call.secure)
        return {caller: a, callee: b}

    @staticmethod
    def _closeMedia(call: Call) -> dict[Leg, MediaStream]:
        """@return: the streams the call had open, by leg (to be closed at the endpoints)."""
        return {stream.leg: stream for stream in call.media.close()}


def _activeStream(streams: dict[Leg, MediaStream], leg: Leg) -> MediaStream | None:
    """@return: C{leg}'s stream when its endpoint has it open, else L{None}."""
    stream = streams.get(leg)
    return stream if stream is not None and stream.active else None


__all__ = ["CallEngine", "CallStateError"]
