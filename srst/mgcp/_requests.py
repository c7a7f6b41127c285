# -*- test-case-name: tests.test_mgcp_endpoint -*-
"""
Notification requests of an MGCP endpoint (mgcp.md 6.5, 7): the requested
events and their actions, signals on the voice port with their time-outs,
digit-map collection with the T(critical)/T(partial) timers, quarantine
(C{Q:} step/loop, process/discard) and persistent events (IOS C{mgcp
persistent}: off-hook by default, on-hook and hook flash when configured).

L{NotificationState} holds this for one endpoint
(L{srst.mgcp.endpoint.MgcpEndpoint} owns one): the endpoint hands it the
requests the call agent sends and the line events of its port
(L{NotificationState.event}), and it plays the signals on the port and
sends the notifications through the C{notify} callable it was given.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from attrs import define
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from srst.mgcp._signals import (
    PERSISTENT,
    MgcpCommandError,
    SignalKind,
    SignalSpec,
    callerIdNumber,
    checkRequestedEvent,
    eventMatches,
    lookupSignal,
    signalDigit,
    signalKey,
    signalOff,
    signalTimeout,
)
from srst.mgcp.constants import EventAction, QuarantineHandling, ResponseCode, responseText
from srst.mgcp.messages import (
    Command,
    DigitMap,
    EmbeddedRequest,
    EventName,
    MatchResult,
    NotifiedEntity,
    ObservedEvent,
    RequestedEvent,
    Response,
    SignalRequest,
)
from srst.ports.voiceport import PortStatus, VoicePort

_REQUEST_LINES = ("X", "R", "S", "D", "Q", "T")

@define
class NotificationRequest:
    """
    A validated notification request (RQNT, or one embedded in
    CRCX/MDCX/DLCX), applied only once the whole command succeeded.

    @ivar requestId: C{X:}.
    @ivar events: C{R:}.
    @ivar signals: C{S:} with their specs.
    @ivar digitMap: the digit map to use from now on.
    @ivar step: lockstep quarantine (C{Q: step}).
    @ivar process: replay quarantined events (C{Q: process}).
    @ivar notifiedEntity: a new C{N:}, or C{None}.
    """

    requestId: str
    events: tuple[RequestedEvent, ...]
    signals: tuple[tuple[SignalRequest, Optional[SignalSpec]], ...]
    digitMap: Optional[DigitMap]
    step: bool = True
    process: bool = True
    notifiedEntity: Optional[NotifiedEntity] = None


@define(eq=False)
class _ActiveSignal:
    request: SignalRequest
    spec: SignalSpec
    timer: Optional[IDelayedCall] = None


def commandResponse(command: Command, code: int, parameters: Any = (), sdp: Any = ()) -> Response:
    """
    @param command: the command answered.
    @param code: the response code.
    @param parameters: the parameter lines (L{Parameter}s or pairs).
    @param sdp: the session descriptions.
    @return: the response, with the conventional text for C{code}.
    """
    return Response(code, command.transactionId, responseText(code), parameters=parameters, sdp=sdp)


class NotificationState:
    """
    Requested events, signals, digit map and quarantine of one endpoint.

    The endpoint forgets the request (L{forget}, which stops every signal)
    when MGCP stops controlling its port, and feeds line events only while
    MGCP controls it; so events, signal time-outs included, are reported
    only under MGCP control.

    @ivar requestId: the current C{X:} (C{"0"} before any request).
    @ivar requested: the current requested events.
    @ivar digitMap: the current digit map, or C{None}.
    @ivar notifiedEntity: the last C{N:} received, or C{None} for the
        gateway's call agent.
    @ivar step: whether quarantine is lockstep (C{Q: step}).
    """

    def __init__(self, *, clock: IReactorTime, port: VoicePort, endpointName: str,
                 notify: Callable[[tuple[ObservedEvent, ...], str], object], debugLog: Logger,
                 tcrit: float = 4.0, tpar: float = 16.0,
                 persistent: frozenset[tuple[str, str]] = PERSISTENT,
                 relayDigits: Callable[[str], object] = lambda digits: None) -> None:
        """
        @param clock: signal time-outs and the digit map timers.
        @param port: the endpoint's voice port: signals are played on it.
        @param endpointName: the endpoint's name, for the debug lines.
        @param notify: C{notify(observedEvents, requestId)} sends an NTFY.
        @param debugLog: the C{debug mgcp} logger.
        @param tcrit: T(critical) inter-digit timer, seconds.
        @param tpar: T(partial) inter-digit timer, seconds.
        @param persistent: the persistent events, C{(package, name)} pairs
            (C{mgcp persistent}): notified even when the current request
            does not ask for them.
        @param relayDigits: C{relayDigits(digits)} sends the DTMF signals
            played on the line to the RTP far end as telephone-events too
            (when the connections relay DTMF out of band).
        """
        self.clock = clock
        self.persistent = persistent
        self.port = port
        self.endpointName = endpointName
        self.debugLog = debugLog
        self.tcrit = tcrit
        self.tpar = tpar
        self._notify = notify
        self._relayDigits = relayDigits
        self.requestId = "0"
        self.requested: tuple[RequestedEvent, ...] = ()
        self.digitMap: Optional[DigitMap] = None
        self.notifiedEntity: Optional[NotifiedEntity] = None
        self.step = True
        self._process = True
        self._awaitingRequest = False
        self._quarantine: list[tuple[str, str]] = []
        self._observed: list[ObservedEvent] = []
        self._dialString = ""
        self._digitTimer: Optional[IDelayedCall] = None
        self._signals: dict[tuple[str, str], _ActiveSignal] = {}

    @property
    def isFxs(self) -> bool:
        """Whether the port faces a telephone."""
        return bool(self.port.config.signal.isFxs)

    @property
    def observedEvents(self) -> tuple[ObservedEvent, ...]:
        """Events accumulated but not yet notified."""
        return tuple(self._observed)

    # -- notification requests ----------------------------------------------------------------

    def prepareRequest(self, command: Command, required: bool) -> Optional[NotificationRequest]:
        """
        Validate the notification request a command carries.

        @param command: an RQNT, or a CRCX/MDCX/DLCX maybe carrying one.
        @param required: whether C{X:} must be present (RQNT).
        @return: the request, or C{None} when the command carries none.
        @raise MgcpCommandError: for what the endpoint cannot honour; the
            endpoint is left unchanged.
        """
        if not any(command.has(name) for name in _REQUEST_LINES):
            if not required:
                return None
        requestId = command.get("X")
        if requestId is None:
            if required:
                raise MgcpCommandError(ResponseCode.PROTOCOL_ERROR, "missing X: RequestIdentifier")
            requestId = self.requestId
        digitMap = command.get("D") if command.has("D") else self.digitMap
        # An encapsulated request (CRCX/MDCX/DLCX with X:) is an RQNT
        # executed with the command: an absent R: is an empty list, as in
        # an RQNT (mgcp.md 6.2, 6.5): only persistent events stay reported.
        events = command.get("R") or ()
        for requested in events:
            checkRequestedEvent(requested, digitMap is not None, self.isFxs)
        signals = []
        for signal in command.get("S") or ():
            if signalOff(signal):
                signals.append((signal, None))
                continue
            spec = lookupSignal(signal, self.isFxs)
            if spec.kind is SignalKind.RING and self.port.status not in (
                    PortStatus.IDLE, PortStatus.RINGING):
                raise MgcpCommandError(ResponseCode.ALREADY_OFF_HOOK,
                                       "cannot ring %s: off hook" % (self.port.name,))
            signals.append((signal, spec))
        quarantine = command.get("Q") or ()
        return NotificationRequest(
            requestId, tuple(events), tuple(signals), digitMap,
            step=QuarantineHandling.LOOP not in quarantine,
            process=QuarantineHandling.DISCARD not in quarantine,
            notifiedEntity=command.get("N"))

    def applyRequest(self, request: NotificationRequest) -> None:
        """
        Make a validated request current: events, signals, digit map, then
        replay (or drop) the quarantined events.

        @param request: from L{prepareRequest}.
        """
        if request.notifiedEntity is not None:
            self.notifiedEntity = request.notifiedEntity
        self.requestId = request.requestId
        self.requested = request.events
        self.digitMap = request.digitMap
        self.step, self._process = request.step, request.process
        self._observed = []
        self._resetDigits()
        self._awaitingRequest = False
        self._applySignals(request.signals)
        held, self._quarantine = self._quarantine, []
        if self._process:
            for package, name in held:
                self._lineEvent(package, name)

    def notificationRequest(self, command: Command) -> Response:
        """
        Execute an RQNT (mgcp.md 6.5).

        @raise MgcpCommandError: with the previous request left in place.
        """
        request = self.prepareRequest(command, required=True)
        assert request is not None
        self.applyRequest(request)
        return commandResponse(command, ResponseCode.OK)

    def notificationFailed(self) -> None:
        """
        The call agent refused or never answered a notification: drop the
        current request (RFC 3435: no more events are reported until the
        next request, persistent ones excepted).
        """
        self.requested = ()
        self._observed = []
        self._resetDigits()

    def _applyEmbedded(self, embedded: EmbeddedRequest) -> None:
        if embedded.digitMap is not None:
            self.digitMap = embedded.digitMap
        if embedded.requestedEvents is not None:
            self.requested = embedded.requestedEvents
        if embedded.signalRequests is not None:
            self._applySignals(tuple((s, None if signalOff(s) else lookupSignal(s, self.isFxs))
                                     for s in embedded.signalRequests))

    # -- signals ------------------------------------------------------------------------------

    def _applySignals(self, signals: tuple[tuple[SignalRequest, Optional[SignalSpec]], ...]) -> None:
        wanted = {signalKey(s) for s, spec in signals if spec is not None}
        for key in list(self._signals):
            if key not in wanted:
                self._stopSignal(key)
        callerId = None
        for signal, spec in signals:
            if spec is not None and spec.kind is SignalKind.CALLER_ID:
                callerId = callerIdNumber(signal)
        digits = "".join(signalDigit(s) for s, spec in signals
                         if spec is not None and spec.kind is SignalKind.DTMF)
        if digits:
            # Brief signals (RFC 3660 2.2): played once, in order, never "active".
            self.port.playDigits(digits)
            self._relayDigits(digits)
        for signal, spec in signals:
            key = signalKey(signal)
            if spec is None:
                self._stopSignal(key)
                continue
            if key in self._signals or spec.kind in (SignalKind.NONE, SignalKind.CALLER_ID,
                                                     SignalKind.DTMF):
                continue
            if spec.kind is SignalKind.TONE:
                for other in [k for k, a in self._signals.items() if a.spec.kind is SignalKind.TONE]:
                    self._stopSignal(other)
                # A signal on the endpoint (no @connection) is played on the
                # analog line, never into the RTP stream to the far end.
                self.port.playTone(spec.tone, lineOnly=signal.event.connection is None)
            elif spec.kind is SignalKind.RING:
                if self.port.status is PortStatus.IDLE:
                    self.port.ring(callerId)
                elif self.port.status is not PortStatus.RINGING:
                    continue
            active = _ActiveSignal(signal, spec)
            timeout = signalTimeout(signal, spec)
            if timeout is not None:
                active.timer = self.clock.callLater(timeout, self._signalTimedOut, key)
            self._signals[key] = active

    def _stopSignal(self, key: tuple[str, str]) -> None:
        active = self._signals.pop(key, None)
        if active is None:
            return
        if active.timer is not None and active.timer.active():
            active.timer.cancel()
        if active.spec.kind is SignalKind.RING and self.port.status is PortStatus.RINGING:
            self.port.stopRinging()
        elif active.spec.kind is SignalKind.TONE and self.port.dsp.playing is active.spec.tone:
            self.port.stopTone()

    def _stopSignals(self) -> None:
        for key in list(self._signals):
            self._stopSignal(key)

    def _signalTimedOut(self, key: tuple[str, str]) -> None:
        active = self._signals.get(key)
        if active is None:
            return
        active.timer = None
        self._stopSignal(key)
        self.event("L", "oc")

    @property
    def activeSignals(self) -> tuple[SignalRequest, ...]:
        """The signals currently applied."""
        return tuple(active.request for active in self._signals.values())

    def playing(self, package: str, name: str) -> bool:
        """
        @return: whether the signal C{package/name} (name lower case) is
            applied.
        """
        return (package, name) in self._signals

    def lineOnHook(self) -> None:
        """
        The line went on hook: forget the tones and ringing it carried (the
        port has stopped them) and the digits being collected.
        """
        for key in [k for k, a in self._signals.items() if a.spec.kind is not SignalKind.NONE]:
            active = self._signals.pop(key)
            if active.timer is not None and active.timer.active():
                active.timer.cancel()
        self._resetDigits()

    def event(self, package: str, name: str) -> None:
        """
        A line event: hold it back (quarantine), or match it against the
        requested events and notify, accumulate or collect it.

        @param package: C{"L"} or C{"D"}.
        @param name: e.g. C{"hd"}, or a digit (upper case).
        """
        self.debugLog.debug("MGCP endpoint {endpoint}: event {package}/{name}",
                            endpoint=self.endpointName, package=package, name=name,
                            held=self._awaitingRequest)
        if self._awaitingRequest:
            self._quarantine.append((package, name))
            return
        self._lineEvent(package, name)

    def _lineEvent(self, package: str, name: str) -> None:
        if self._awaitingRequest:
            self._quarantine.append((package, name))
            return
        requested = next((r for r in self.requested if eventMatches(r.event, package, name)), None)
        observed = ObservedEvent(EventName(package, name))
        if requested is None:
            if (package, name) in self.persistent:
                self._stopSignals()
                self._observed.append(observed)
                self._sendNotify()
            return
        actions = {action.action for action in requested.actions}
        if EventAction.IGNORE in actions:
            return
        if EventAction.KEEP_SIGNALS not in actions:
            self._stopSignals()
        embedded = next((a.embedded for a in requested.actions
                         if a.action is EventAction.EMBEDDED and a.embedded is not None), None)
        if EventAction.DIGIT_MAP in actions and self.digitMap is not None:
            if embedded is not None:
                self._applyEmbedded(embedded)
            self._collectDigit(name)
            return
        self._observed.append(observed)
        if embedded is not None:
            self._applyEmbedded(embedded)
        quiet = {EventAction.ACCUMULATE, EventAction.EMBEDDED, EventAction.DIGIT_MAP}
        if EventAction.NOTIFY in actions or not actions & quiet:
            self._sendNotify()

    def _sendNotify(self) -> None:
        observed = tuple(self._observed)
        self._observed = []
        self._resetDigits()
        if self.step:
            self._awaitingRequest = True
        self._notify(observed, self.requestId)

    # -- digit map ------------------------------------------------------------------------------

    def _resetDigits(self) -> None:
        self._dialString = ""
        timer, self._digitTimer = self._digitTimer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _collectDigit(self, digit: str) -> None:
        assert self.digitMap is not None
        timer, self._digitTimer = self._digitTimer, None
        if timer is not None and timer.active():
            timer.cancel()
        self._dialString += digit
        match = self.digitMap.match(self._dialString)
        if match.result is MatchResult.PARTIAL:
            delay = self.tcrit if match.criticalTimer else self.tpar
            self._digitTimer = self.clock.callLater(delay, self._digitTimedOut)
        else:
            self._reportDigits(match.dialString)

    def _digitTimedOut(self) -> None:
        self._digitTimer = None
        if self.digitMap is None:
            return
        match = self.digitMap.matchOnTimer(self._dialString)
        if match.result is MatchResult.PARTIAL:
            self._dialString = match.dialString
            self._digitTimer = self.clock.callLater(self.tpar, self._digitTimedOut)
        else:
            self._reportDigits(match.dialString)

    def _reportDigits(self, dialString: str) -> None:
        self._dialString = ""
        self._observed.append(ObservedEvent(EventName("D", dialString)))
        self._sendNotify()

    def forget(self) -> None:
        """
        Forget the request: stop every signal, cancel the digit timer and
        start over with an empty request (fallback, switchback, gateway
        stop).
        """
        self._stopSignals()
        self.requestId = "0"
        self.requested = ()
        self.digitMap = None
        self._observed = []
        self._quarantine = []
        self._awaitingRequest = False
        self.step = self._process = True
        self._resetDigits()


__all__ = ["NotificationRequest", "NotificationState", "commandResponse"]
