# -*- test-case-name: tests.test_callagent -*-
"""
Value types of the C{srst-ccm} MGCP call agent (L{srst.tools._callagent}):
line specifications, line and call states, events and the L{EventSource}
that delivers them, counters and errors.
"""

from __future__ import annotations

import enum
import re
from typing import Callable, Iterable, Optional

from attrs import define, field, frozen
from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger

from srst.mgcp.constants import responseText
from srst.mgcp.messages import SessionDescription

DIGIT_EVENTS = "L/hu(N),D/[0-9#*T](D)"
"""The requested events while collecting digits."""

LOCAL_OPTIONS = "p:20, a:PCMU"
"""The LocalConnectionOptions of every CRCX."""

_VOICE_PORT = re.compile(r"([0-9]+)/([0-9]+)/([0-9]+)\Z")
_NUMBER = re.compile(r"[0-9*#]{1,32}\Z")


class LineSpecError(ValueError):
    """
    A C{NUMBER=ENDPOINT} line specification is malformed.
    """

    def __init__(self, text: str, reason: str) -> None:
        ValueError.__init__(self, text, reason)
        self.text = text
        self.reason = reason

    def __str__(self) -> str:
        return "bad line %r: %s" % (self.text, self.reason)


class CommandRejected(RuntimeError):
    """
    The gateway answered one of our commands with an error code.

    @ivar verb: the command's verb.
    @ivar endpoint: its endpoint.
    @ivar code: the response code.
    """

    def __init__(self, verb: str, endpoint: str, code: int) -> None:
        RuntimeError.__init__(self, verb, endpoint, code)
        self.verb = verb
        self.endpoint = endpoint
        self.code = code

    def __str__(self) -> str:
        return "%s %s rejected: %03d %s" % (self.verb, self.endpoint,
                                           self.code, responseText(self.code))


def voicePortEndpoint(voicePort: str) -> str:
    """
    The Cisco local endpoint name of an analog voice port (mgcp.md 3).

    @param voicePort: C{"slot/subunit/port"}, e.g. C{"1/0/0"}.
    @return: e.g. C{"aaln/S1/SU0/0"}.
    @raise LineSpecError: if C{voicePort} is not three numbers.
    """
    match = _VOICE_PORT.match(voicePort.strip())
    if match is None:
        raise LineSpecError(voicePort, "not a slot/subunit/port voice port")
    return "aaln/S%s/SU%s/%s" % match.groups()


@frozen
class LineSpec:
    """
    One configured line: a directory number on a gateway endpoint.

    @ivar number: the directory number, e.g. C{"81234"}.
    @ivar localName: the endpoint's local name, e.g. C{"aaln/S1/SU0/0"}.
    """

    number: str
    localName: str


def parseLineSpec(text: str) -> LineSpec:
    """
    Parse C{NUMBER=ENDPOINT}; the endpoint is a local name
    (C{aaln/S1/SU0/0}) or a voice port (C{1/0/0}).

    @param text: the specification.
    @return: the line.
    @raise LineSpecError: if malformed.
    """
    number, equals, endpoint = text.partition("=")
    number, endpoint = number.strip(), endpoint.strip()
    if not equals or not _NUMBER.match(number):
        raise LineSpecError(text, "expected NUMBER=ENDPOINT")
    if _VOICE_PORT.match(endpoint):
        endpoint = voicePortEndpoint(endpoint)
    if not endpoint or "@" in endpoint or re.search(r"[\s*$]", endpoint):
        raise LineSpecError(text, "endpoint must be a local name such as "
                            "aaln/S1/SU0/0 (no @domain, no wildcard)")
    return LineSpec(number, endpoint)


def defaultDigitMap(numbers: Iterable[str]) -> str:
    """
    A digit map matching the configured numbers by length and first digit.

    @param numbers: the directory numbers.
    @return: e.g. C{"(8xxxx)"} for C{81234} and C{81236}.
    """
    patterns = sorted({n[0] + "x" * (len(n) - 1) for n in numbers
                       if n[0].isdigit()} | {n for n in numbers
                                             if not n[0].isdigit()})
    return "(%s)" % ("|".join(patterns) or "x.T",)


class LineState(enum.Enum):
    """Where one endpoint is, as the call agent sees it."""

    UNKNOWN = "unknown"
    """Not armed since the gateway restarted."""
    OUT_OF_SERVICE = "out-of-service"
    """Taken out of service by a graceful or forced RSIP."""
    IDLE = "idle"
    """On hook, off-hook detection requested."""
    DIALING = "dialing"
    """Off hook, dial tone, collecting digits."""
    RINGBACK = "ringback"
    """Caller of a call being set up or ringing."""
    ALERTING = "alerting"
    """Called party, ringing."""
    CONNECTED = "connected"
    """In a connected call."""
    CLEARING = "clearing"
    """Off hook after a failure, busy, reorder or far-end hang-up."""


class CallState(enum.Enum):
    """The life of a L{Call}."""

    SETUP = "setup"
    RINGING = "ringing"
    CONNECTED = "connected"
    RELEASED = "released"
    FAILED = "failed"


class EventKind(enum.Enum):
    """What a L{CallAgentEvent} reports."""

    RESTART = "restart"
    REGISTERED = "registered"
    DISCONNECTED = "disconnected"
    OUT_OF_SERVICE = "out-of-service"
    OFF_HOOK = "off-hook"
    ON_HOOK = "on-hook"
    DIGITS = "digits"
    REORDER = "reorder"
    BUSY = "busy"
    RINGING = "ringing"
    CONNECTED = "connected"
    RELEASED = "released"
    FAILED = "failed"


@define(eq=False)
class Line:
    """
    One configured endpoint and its state.

    @ivar number: the directory number.
    @ivar localName: the local endpoint name.
    @ivar endpoint: C{localName@domain}.
    @ivar state: a L{LineState}.
    @ivar requestId: the C{X:} of the last request sent, or C{None}.
    @ivar call: the L{Call} the line is in, or C{None}.
    @ivar digits: the digits collected while dialing.
    @ivar capabilities: the raw C{A:} lines of the last audit.
    @ivar outOfService: set by a graceful/forced RSIP.
    """

    number: str
    localName: str
    endpoint: str
    state: LineState = LineState.UNKNOWN
    requestId: Optional[str] = None
    call: Optional["Call"] = None
    digits: str = ""
    capabilities: tuple[str, ...] = ()
    outOfService: bool = False


@define(eq=False)
class Call:
    """
    One call between two lines of the gateway.

    @ivar index: 1, 2, ... in order of creation.
    @ivar callId: the C{C:} hex call id.
    @ivar caller: the calling L{Line}.
    @ivar called: the called L{Line}.
    @ivar state: a L{CallState}.
    @ivar connectionIds: the gateway's connection id per endpoint name.
    @ivar sdp: the gateway's SDP answer per endpoint name.
    @ivar statistics: the C{P:} text of each DLCX answer per endpoint name.
    @ivar started: clock time of the set-up; C{connected}, C{ended} too.
    @ivar reason: why it ended, or C{None}.
    """

    index: int
    callId: str
    caller: Line
    called: Line
    state: CallState = CallState.SETUP
    connectionIds: dict[str, str] = field(factory=dict)
    sdp: dict[str, SessionDescription] = field(factory=dict)
    statistics: dict[str, str] = field(factory=dict)
    started: float = 0.0
    connected: Optional[float] = None
    ended: Optional[float] = None
    reason: Optional[str] = None

    @property
    def active(self) -> bool:
        """
        Whether the call has not ended.
        """
        return self.state in (CallState.SETUP, CallState.RINGING,
                              CallState.CONNECTED)

    def parties(self) -> tuple[Line, Line]:
        """
        @return: C{(caller, called)}.
        """
        return (self.caller, self.called)


@frozen
class CallAgentEvent:
    """
    One thing that happened.

    @ivar kind: an L{EventKind}.
    @ivar numbers: the directory numbers concerned.
    @ivar detail: one line of text.
    @ivar call: the L{Call}, if any.
    """

    kind: EventKind
    numbers: tuple[str, ...]
    detail: str
    call: Optional[Call] = field(default=None, eq=False)

    def describe(self) -> str:
        """
        @return: one printable line, e.g. C{"connected 81234 81236 call 1"}.
        """
        return " ".join([self.kind.value] + list(self.numbers)
                        + ([self.detail] if self.detail else []))


@define
class CallAgentCounters:
    """
    @ivar commandsSent: commands the agent sent (not counting resends).
    @ivar responsesReceived: final responses to them.
    @ivar errorResponses: final responses with a code of 400 or more.
    @ivar timeouts: commands that got no answer.
    @ivar commandsReceived: commands from the gateway.
    @ivar notifies: NTFYs with observed events.
    @ivar keepalives: NTFYs without observed events.
    @ivar restarts: RSIPs received.
    """

    commandsSent: int = 0
    responsesReceived: int = 0
    errorResponses: int = 0
    timeouts: int = 0
    commandsReceived: int = 0
    notifies: int = 0
    keepalives: int = 0
    restarts: int = 0


class EventSource:
    """
    Reports L{CallAgentEvent}s to observers and to waiting L{Deferred}s.

    @ivar observers: callables taking each L{CallAgentEvent}.
    """

    log = Logger()

    def __init__(self) -> None:
        self.observers: list[Callable[[CallAgentEvent], None]] = []
        self._waiters: list[tuple[EventKind, Optional[str], Deferred[CallAgentEvent]]] = []

    def whenEvent(self, kind: EventKind,
                  number: Optional[str] = None) -> Deferred[CallAgentEvent]:
        """
        @param kind: the L{EventKind} to wait for.
        @param number: only an event concerning this directory number.
        @return: a L{Deferred} firing with the next such L{CallAgentEvent};
            cancelling it stops waiting.
        """
        def cancel(deferred: Deferred[CallAgentEvent]) -> None:
            self._waiters[:] = [w for w in self._waiters if w[2] is not
                                deferred]
        deferred: Deferred[CallAgentEvent] = Deferred(cancel)
        self._waiters.append((kind, number, deferred))
        return deferred

    def whenCallConnected(self, number: Optional[str] = None) -> Deferred[Optional[Call]]:
        """
        @param number: a caller or called number, or C{None} for any call.
        @return: a L{Deferred} firing with the next L{Call} that connects.
        """
        return self.whenEvent(EventKind.CONNECTED, number).addCallback(
            lambda event: event.call)

    def whenCallReleased(self, number: Optional[str] = None) -> Deferred[Optional[Call]]:
        """
        @param number: a caller or called number, or C{None} for any call.
        @return: a L{Deferred} firing with the next L{Call} that is
            released or fails.
        """
        released = self.whenEvent(EventKind.RELEASED, number)
        failed = self.whenEvent(EventKind.FAILED, number)

        def first(result: tuple[CallAgentEvent, int]) -> Optional[Call]:
            for other in (released, failed):
                if not other.called:
                    other.cancel()
            return result[0].call

        return DeferredList([released, failed], fireOnOneCallback=True,
                            consumeErrors=True).addCallback(first)

    def _emit(self, kind: EventKind, numbers: tuple[str, ...],
              detail: str = "", call: Optional[Call] = None) -> None:
        event = CallAgentEvent(kind, numbers, detail, call)
        self.log.info("MGCP call agent: {event}", event=event.describe())
        for observer in list(self.observers):
            observer(event)
        ready = [w for w in self._waiters if w[0] is kind and (
            w[1] is None or w[1] in numbers)]
        self._waiters[:] = [w for w in self._waiters if w not in ready]
        for _, _, deferred in ready:
            deferred.callback(event)


class _Abandoned(RuntimeError):
    """
    Internal: a call set-up step found the call already released.
    """

    def __str__(self) -> str:
        return "call released during set-up"
