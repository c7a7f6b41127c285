# -*- test-case-name: tests.test_mgcp_messages -*-
"""
Event and signal names and the three event lists of MGCP: RequestedEvents
(C{R:}, with actions and embedded requests), SignalRequests (C{S:}) and
ObservedEvents (C{O:}); C{T:} and C{ES:} reuse the observed-event syntax
(mgcp.md 7.1, 7.2).

Names are kept in the case they were given; they compare case-insensitively.
"""

from __future__ import annotations

from typing import Optional

from attrs import field, frozen

from srst.mgcp._digitmap import DigitMap, parseDigitMap
from srst.mgcp._grammar import (
    MgcpDecodeError,
    MgcpEncodeError,
    protocolError,
    splitList,
    splitParenthesised,
)
from srst.mgcp.constants import EventAction, ResponseCode


def _fold(value: Optional[str]) -> Optional[str]:
    return value.lower() if value is not None else None


_FORBIDDEN = set(" \t,()\"")


@frozen
class EventName:
    """
    An event or signal name C{[package/]name[@connection]}, e.g. C{L/hd},
    C{D/[0-9#*]}, C{hu}, C{R/qa@1A}.

    @ivar package: the package, or C{None} for the endpoint's default one.
    @ivar name: the event id, range or wildcard.
    @ivar connection: the connection id (or C{$}/C{*}), or C{None}.
    """

    package: Optional[str] = field(eq=_fold)
    name: str = field(eq=str.lower)
    connection: Optional[str] = field(default=None, eq=_fold)

    def encode(self) -> str:
        """
        @return: the wire form.
        """
        text = self.name
        if self.package is not None:
            text = self.package + "/" + text
        if self.connection is not None:
            text += "@" + self.connection
        return text

    def __str__(self) -> str:
        return self.encode()


def parseEventName(text: str) -> EventName:
    """
    Parse an event or signal name.

    @param text: e.g. C{"L/hd"}.
    @return: the name.
    @raise MgcpDecodeError: (510) if malformed.
    """
    text = original = text.strip()
    closing = text.rfind("]")
    at = text.find("@", closing + 1)
    connection = None
    if at >= 0:
        text, connection = text[:at], text[at + 1:]
        if not connection or set(connection) & _FORBIDDEN:
            raise protocolError("bad connection in event name %r"
                                % (original,))
    opening = text.find("[")
    slash = text.find("/", 0, opening if opening >= 0 else len(text))
    package = None
    if slash >= 0:
        package, text = text[:slash], text[slash + 1:]
        if not package or set(package) & _FORBIDDEN:
            raise protocolError("bad package in event name %r"
                                % (original,))
    if not text or set(text) & _FORBIDDEN:
        raise protocolError("bad event name %r" % (original,))
    return EventName(package, text, connection)


@frozen
class EmbeddedRequest:
    """
    The body of an C{E(...)} action: a new request that replaces the current
    one when the event occurs.

    @ivar requestedEvents: the embedded C{R(...)}, or C{None}.
    @ivar signalRequests: the embedded C{S(...)}, or C{None}.
    @ivar digitMap: the embedded C{D(...)}, or C{None}.
    """

    requestedEvents: Optional[tuple["RequestedEvent", ...]] = None
    signalRequests: Optional[tuple["SignalRequest", ...]] = None
    digitMap: Optional[DigitMap] = None

    def encode(self) -> str:
        """
        @return: the wire form, without the surrounding C{E(...)}.
        """
        parts = []
        if self.requestedEvents is not None:
            parts.append("R(%s)" % (encodeRequestedEvents(
                self.requestedEvents),))
        if self.signalRequests is not None:
            parts.append("S(%s)" % (encodeEventList(self.signalRequests),))
        if self.digitMap is not None:
            parts.append("D(%s)" % (self.digitMap.encode(),))
        return ",".join(parts)


@frozen
class RequestedAction:
    """
    One action of a requested event.

    @ivar action: the action.
    @ivar embedded: the embedded request of an C{E} action, else C{None}.
    """

    action: EventAction
    embedded: Optional[EmbeddedRequest] = None

    def encode(self) -> str:
        """
        @return: the wire form, e.g. C{"N"} or C{"E(S(L/dl))"}.
        """
        if self.action is EventAction.EMBEDDED:
            embedded = self.embedded or EmbeddedRequest()
            return "E(%s)" % (embedded.encode(),)
        return self.action.value


@frozen
class RequestedEvent:
    """
    One entry of C{R:} (or of an embedded C{R(...)}).

    @ivar event: the event name.
    @ivar actions: the actions; empty means the default, notify (C{N}).
    @ivar parameters: the raw event parameters of a second parenthesised
        group, or C{None}.
    """

    event: EventName
    actions: tuple[RequestedAction, ...] = ()
    parameters: Optional[str] = None

    def encode(self) -> str:
        """
        @return: the wire form, e.g. C{"D/[0-9#*](N)"}.
        @raise MgcpEncodeError: for parameters without actions.
        """
        text = self.event.encode()
        if self.actions:
            text += "(%s)" % (",".join(a.encode() for a in self.actions),)
        if self.parameters is not None:
            if not self.actions:
                raise MgcpEncodeError(
                    "event parameters need explicit actions: %r" % (text,))
            text += "(%s)" % (self.parameters,)
        return text


@frozen
class SignalRequest:
    """
    One entry of C{S:}, e.g. C{L/rg} or C{L/ci(10/14/17/26,"555 1212",X)}.

    @ivar event: the signal name.
    @ivar parameters: the raw comma-separated parameters (quotes kept), or
        C{None} when there were no parentheses.
    """

    event: EventName
    parameters: Optional[tuple[str, ...]] = None

    def encode(self) -> str:
        """
        @return: the wire form.
        """
        text = self.event.encode()
        if self.parameters is not None:
            text += "(%s)" % (",".join(self.parameters),)
        return text


@frozen
class ObservedEvent:
    """
    One entry of C{O:} (also of C{T:} and C{ES:}), e.g. C{D/91234}.

    @ivar event: the event name.
    @ivar parameters: raw parameters, or C{None}.
    """

    event: EventName
    parameters: Optional[tuple[str, ...]] = None

    def encode(self) -> str:
        """
        @return: the wire form.
        """
        text = self.event.encode()
        if self.parameters is not None:
            text += "(%s)" % (",".join(self.parameters),)
        return text


def _parseWithParameters(item: str, cls):
    head, groups = splitParenthesised(item)
    if len(groups) > 1:
        raise protocolError("more than one parameter group in %r" % (item,))
    parameters = None
    if groups:
        parameters = tuple(splitList(groups[0]))
    return cls(parseEventName(head), parameters)


def parseSignalRequests(text: str) -> tuple[SignalRequest, ...]:
    """
    Parse a C{S:} value; empty means "stop all time-out signals".

    @param text: the value.
    @return: the signals in order.
    @raise MgcpDecodeError: (510) if malformed.
    """
    return tuple(_parseWithParameters(item, SignalRequest)
                 for item in splitList(text))


def parseObservedEvents(text: str) -> tuple[ObservedEvent, ...]:
    """
    Parse a C{O:}, C{T:} or C{ES:} value.

    @param text: the value.
    @return: the events in order.
    @raise MgcpDecodeError: (510) if malformed.
    """
    return tuple(_parseWithParameters(item, ObservedEvent)
                 for item in splitList(text))


def encodeEventList(events) -> str:
    """
    Encode signal requests or observed events.

    @param events: L{SignalRequest}s or L{ObservedEvent}s.
    @return: the comma-separated wire form.
    """
    return ",".join(event.encode() for event in events)


MAX_EMBEDDED_DEPTH = 4
"""Embedded requests (C{E(R(...))}) nested deeper than this are refused
(510): the grammar allows nesting, no call agent needs more, and an
unbounded depth would let one datagram exhaust the parser's stack."""


def _parseAction(text: str, depth: int) -> RequestedAction:
    head, groups = splitParenthesised(text)
    action = EventAction.lookup(head)
    if action is None:
        raise MgcpDecodeError(ResponseCode.UNKNOWN_ACTION,
                              "unknown event action %r" % (head,))
    if action is EventAction.EMBEDDED:
        if len(groups) != 1:
            raise protocolError("embedded request needs one group: %r"
                                % (text,))
        if depth >= MAX_EMBEDDED_DEPTH:
            raise protocolError("embedded requests nested deeper than %d"
                                % (MAX_EMBEDDED_DEPTH,))
        return RequestedAction(action, _parseEmbedded(groups[0], depth + 1))
    if groups:
        raise protocolError("action %r takes no parameters" % (text,))
    return RequestedAction(action)


def _parseEmbedded(text: str, depth: int) -> EmbeddedRequest:
    requested = signals = digitMap = None
    for item in splitList(text):
        head, groups = splitParenthesised(item)
        if len(groups) != 1:
            raise protocolError("bad embedded request item %r" % (item,))
        kind = head.upper()
        if kind == "R" and requested is None:
            requested = _parseRequestedEvents(groups[0], depth)
        elif kind == "S" and signals is None:
            signals = parseSignalRequests(groups[0])
        elif kind == "D" and digitMap is None:
            digitMap = parseDigitMap(groups[0])
        else:
            raise protocolError("bad embedded request item %r" % (item,))
    return EmbeddedRequest(requested, signals, digitMap)


def parseRequestedEvents(text: str) -> tuple[RequestedEvent, ...]:
    """
    Parse an C{R:} value such as C{"L/hu(N),D/[0-9#*](D)"}.

    @param text: the value; empty means "detect nothing".
    @return: the requested events in order.
    @raise MgcpDecodeError: 510 if malformed (embedded requests nested
        deeper than L{MAX_EMBEDDED_DEPTH} included), 523 for an unknown
        action.
    """
    return _parseRequestedEvents(text, 0)


def _parseRequestedEvents(text: str, depth: int) -> tuple[RequestedEvent, ...]:
    result = []
    for item in splitList(text):
        head, groups = splitParenthesised(item)
        if len(groups) > 2:
            raise protocolError("too many groups in %r" % (item,))
        actions: tuple[RequestedAction, ...] = ()
        parameters = None
        if groups:
            actionItems = splitList(groups[0])
            if not actionItems:
                raise protocolError("empty action list in %r" % (item,))
            actions = tuple(_parseAction(a, depth) for a in actionItems)
        if len(groups) == 2:
            parameters = groups[1]
        result.append(RequestedEvent(parseEventName(head), actions,
                                     parameters))
    return tuple(result)


def encodeRequestedEvents(events) -> str:
    """
    Encode requested events.

    @param events: L{RequestedEvent}s.
    @return: the comma-separated wire form.
    """
    return ",".join(event.encode() for event in events)
