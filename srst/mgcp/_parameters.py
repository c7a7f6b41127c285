# -*- test-case-name: tests.test_mgcp_messages -*-
"""
Typed values of MGCP parameter lines (mgcp.md 2.3) and the table that maps
each line name to its parser and encoder.

L{parseParameterValue} turns a raw value into its typed form (see the table
in its docstring); L{encodeParameterValue} does the reverse.  Messages keep
the raw text too, so a decoded message re-encodes to what was received.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional, Union

from attrs import field, frozen

from srst.mgcp._digitmap import DigitMap, parseDigitMap
from srst.mgcp._events import (
    encodeEventList,
    encodeRequestedEvents,
    parseObservedEvents,
    parseRequestedEvents,
    parseSignalRequests,
)
from srst.mgcp._grammar import (
    MgcpDecodeError,
    MgcpEncodeError,
    parseHexIdentifier,
    parseInteger,
    protocolError,
    splitList,
)
from srst.mgcp.constants import (
    MAX_TRANSACTION_ID,
    ConnectionMode,
    QuarantineHandling,
    ResponseCode,
    RestartMethod,
)

_NAME = re.compile(r"(?:[A-Z][A-Z0-9]?|X[-+][A-Z0-9][A-Z0-9_.-]*)\Z")
_ENDPOINT = re.compile(r"[^\s@]+@[^\s@]+\Z")


def checkParameterName(name: str) -> str:
    """
    Canonicalise a parameter line name.

    @param name: as received, e.g. C{"es"} or C{"x-Cisco"}.
    @return: the upper-case name.
    @raise MgcpDecodeError: (510) if it is not a name at all.
    """
    upper = name.strip().upper()
    if not _NAME.match(upper):
        raise protocolError("bad parameter name %r" % (name,))
    return upper


def isExtension(name: str) -> bool:
    """
    @param name: an upper-case parameter name.
    @return: whether it is an C{X-}/C{X+} vendor extension.
    """
    return len(name) > 2 and name[:2] in ("X-", "X+")


def parseEndpointName(text: str) -> str:
    """
    Check an endpoint name C{local@domain} (wildcards allowed).

    @param text: the name.
    @return: the name, case kept.
    @raise MgcpDecodeError: (510) if malformed.
    """
    text = text.strip()
    if not _ENDPOINT.match(text):
        raise protocolError("bad endpoint name %r" % (text,))
    return text


@frozen
class ResponseAck:
    """
    A C{K:} value: confirmed transaction ids as inclusive ranges.  Empty in a
    final response means "please acknowledge with 000".

    @ivar ranges: C{(first, last)} pairs in wire order.
    """

    ranges: tuple[tuple[int, int], ...] = ()

    def __contains__(self, transactionId: object) -> bool:
        return any(first <= transactionId <= last  # type: ignore
                   for first, last in self.ranges)

    def encode(self) -> str:
        """
        @return: the wire form, e.g. C{"6234-6255, 6257"}.
        """
        return ", ".join(str(a) if a == b else "%d-%d" % (a, b)
                         for a, b in self.ranges)


def parseResponseAck(text: str) -> ResponseAck:
    """
    Parse a C{K:} value.

    @param text: e.g. C{"6234-6255, 6257"} or C{""}.
    @return: the acknowledged ranges.
    @raise MgcpDecodeError: (510) if malformed.
    """
    ranges = []
    for item in splitList(text):
        first, dash, last = item.partition("-")
        low = parseInteger(first, 1, MAX_TRANSACTION_ID)
        high = parseInteger(last, 1, MAX_TRANSACTION_ID) if dash else low
        if high < low:
            raise protocolError("reversed range %r" % (item,))
        ranges.append((low, high))
    return ResponseAck(tuple(ranges))


def _foldItems(items):
    return tuple((key.lower(), value) for key, value in items)


@frozen
class OptionList:
    """
    A comma list of C{key:value} items: LocalConnectionOptions (C{L:}),
    Capabilities (C{A:}) and BearerInformation (C{B:}).  Keys are
    case-insensitive; values are kept as given.

    @ivar items: C{(key, value)} pairs in wire order.
    """

    items: tuple[tuple[str, str], ...] = field(eq=_foldItems)

    def get(self, key: str) -> Optional[str]:
        """
        @param key: e.g. C{"a"}.
        @return: the value of the first item with that key, or C{None}.
        """
        key = key.lower()
        for itemKey, value in self.items:
            if itemKey.lower() == key:
                return value
        return None

    def getList(self, key: str) -> tuple[str, ...]:
        """
        @param key: e.g. C{"a"}.
        @return: that value split at C{;} (C{"PCMU;G729"}), or C{()}.
        """
        value = self.get(key)
        if value is None:
            return ()
        return tuple(v.strip() for v in value.split(";") if v.strip())

    def encode(self) -> str:
        """
        @return: the wire form, e.g. C{"p:20, a:PCMU"}.
        """
        return ", ".join("%s:%s" % item for item in self.items)


def parseOptionList(text: str) -> OptionList:
    """
    Parse a C{key:value} comma list.

    @param text: e.g. C{"p:20, a:PCMU, s:off, t:b8"}.
    @return: the list.
    @raise MgcpDecodeError: (510) on an item without a key.
    """
    items = []
    for item in splitList(text):
        key, colon, value = item.partition(":")
        key = key.strip()
        if not colon or not key or " " in key:
            raise protocolError("option %r is not key:value" % (item,))
        items.append((key, value.strip()))
    return OptionList(tuple(items))


def parseRange(text: str) -> tuple[int, int]:
    """
    Parse a C{p:}/C{b:} style value C{"20"} or C{"10-30"}.

    @param text: the value.
    @return: C{(low, high)}.
    @raise MgcpDecodeError: (510) if malformed.
    """
    low, dash, high = text.partition("-")
    first = parseInteger(low)
    last = parseInteger(high) if dash else first
    if last < first:
        raise protocolError("reversed range %r" % (text,))
    return first, last


@frozen
class ConnectionParameters:
    """
    A C{P:} value: C{PS=1390, OS=222400, ...}.

    @ivar items: C{(NAME, raw value)} pairs in wire order; names upper case.
    """

    items: tuple[tuple[str, str], ...]

    def get(self, name: str) -> Union[int, str, None]:
        """
        @param name: e.g. C{"PS"}.
        @return: the value (an C{int} for standard counters, the raw text
            for C{X-} extensions), or C{None}.
        """
        name = name.upper()
        for itemName, value in self.items:
            if itemName == name:
                return value if isExtension(name) else int(value)
        return None

    def encode(self) -> str:
        """
        @return: the wire form.
        """
        return ", ".join("%s=%s" % item for item in self.items)


def parseConnectionParameters(text: str) -> ConnectionParameters:
    """
    Parse a C{P:} value.

    @param text: the value.
    @return: the parameters.
    @raise MgcpDecodeError: (510) if malformed.
    """
    items = []
    for item in splitList(text):
        name, equals, value = item.partition("=")
        name = name.strip().upper()
        value = value.strip()
        if not equals or not re.match(r"[A-Z][A-Z0-9+-]*\Z", name):
            raise protocolError("bad connection parameter %r" % (item,))
        if not isExtension(name):
            value = str(parseInteger(value))
        items.append((name, value))
    return ConnectionParameters(tuple(items))


@frozen
class NotifiedEntity:
    """
    An C{N:} value C{[local@]host[:port]}.

    @ivar localName: the part before C{@}, or C{None}.
    @ivar host: a host name or an IP literal (C{[1.2.3.4]} keeps brackets).
    @ivar port: the UDP port, or C{None} for the default.
    """

    localName: Optional[str]
    host: str
    port: Optional[int] = None

    def encode(self) -> str:
        """
        @return: the wire form, e.g. C{"ca@10.1.1.13:2427"}.
        """
        text = self.host
        if self.localName is not None:
            text = self.localName + "@" + text
        if self.port is not None:
            text += ":%d" % (self.port,)
        return text


def parseNotifiedEntity(text: str) -> NotifiedEntity:
    """
    Parse an C{N:} value.

    @param text: e.g. C{"ca@ca1.example.net:2427"}.
    @return: the entity.
    @raise MgcpDecodeError: (510) if malformed.
    """
    text = text.strip()
    local, at, rest = text.rpartition("@")
    localName = local if at else None
    if at and not local:
        raise protocolError("empty local name in %r" % (text,))
    port = None
    closing = rest.rfind("]")
    colon = rest.rfind(":")
    if colon > closing:
        rest, portText = rest[:colon], rest[colon + 1:]
        port = parseInteger(portText, 1, 65535)
    if not rest or re.search(r"[\s,@]", rest) or (
            localName is not None and re.search(r"\s", localName)):
        raise protocolError("bad notified entity %r" % (text,))
    return NotifiedEntity(localName, rest, port)


@frozen
class Reason:
    """
    An C{E:} value: a three-digit reason (or error) code and optional text.

    @ivar code: the code (see L{srst.mgcp.constants.ReasonCode}).
    @ivar text: the commentary, or C{None}.
    """

    code: int
    text: Optional[str] = None

    def encode(self) -> str:
        """
        @return: the wire form, e.g. C{"900 Endpoint malfunctioning"}.
        """
        if self.text:
            return "%03d %s" % (self.code, self.text)
        return "%03d" % (self.code,)


def parseReason(text: str) -> Reason:
    """
    Parse an C{E:} value.

    @param text: e.g. C{"900 text"}.
    @return: the reason.
    @raise MgcpDecodeError: (510) unless it starts with three digits.
    """
    parts = text.strip().split(None, 1)
    if not parts or len(parts[0]) != 3:
        raise protocolError("bad reason code %r" % (text,))
    code = parseInteger(parts[0])
    return Reason(code, parts[1] if len(parts) > 1 else None)


def _parseKeyword(enumType, code: int, what: str):
    def parse(text: str):
        member = enumType.lookup(text)
        if member is not None:
            return member
        text = text.strip()
        package, slash, name = text.partition("/")
        if slash and package and name and not re.search(r"[\s,]", text):
            return text
        raise MgcpDecodeError(code, "unknown %s %r" % (what, text))
    return parse


def _parseQuarantine(text: str) -> tuple[QuarantineHandling, ...]:
    result = []
    for item in splitList(text):
        member = QuarantineHandling.lookup(item)
        if member is None:
            raise MgcpDecodeError(ResponseCode.UNKNOWN_QUARANTINE_HANDLING,
                                  "unknown quarantine handling %r" % (item,))
        result.append(member)
    return tuple(result)


def _parseRequestedInfo(text: str) -> tuple[str, ...]:
    result = []
    for item in splitList(text):
        upper = item.upper()
        if not _NAME.match(upper):
            raise protocolError("bad requested info %r" % (item,))
        result.append(upper)
    return tuple(result)


def _parsePackageList(text: str) -> tuple[tuple[str, int], ...]:
    result = []
    for item in splitList(text):
        name, colon, version = item.partition(":")
        if not colon or not name.strip():
            raise protocolError("bad package list item %r" % (item,))
        result.append((name.strip(), parseInteger(version)))
    return tuple(result)


def _parseConnectionIds(text: str) -> tuple[str, ...]:
    return tuple(parseHexIdentifier(i) for i in splitList(text))


def _parseDigitMapValue(text: str) -> Optional[DigitMap]:
    return parseDigitMap(text) if text.strip() else None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "K": parseResponseAck,
    "B": parseOptionList,
    "C": parseHexIdentifier,
    "A": parseOptionList,
    "I": _parseConnectionIds,
    "M": _parseKeyword(ConnectionMode, ResponseCode.UNSUPPORTED_MODE,
                       "connection mode"),
    "P": parseConnectionParameters,
    "T": parseObservedEvents,
    "D": _parseDigitMapValue,
    "ES": parseObservedEvents,
    "L": parseOptionList,
    "MD": parseInteger,
    "N": parseNotifiedEntity,
    "O": parseObservedEvents,
    "PL": _parsePackageList,
    "Q": _parseQuarantine,
    "E": parseReason,
    "F": _parseRequestedInfo,
    "R": parseRequestedEvents,
    "X": parseHexIdentifier,
    "RD": parseInteger,
    "RM": _parseKeyword(RestartMethod, ResponseCode.UNKNOWN_RESTART_METHOD,
                        "restart method"),
    "I2": parseHexIdentifier,
    "Z2": parseEndpointName,
    "S": parseSignalRequests,
    "Z": parseEndpointName,
}


def parseParameterValue(name: str, text: str,
                        knownExtensions: frozenset = frozenset()) -> Any:
    """
    Parse the value of one parameter line.

    Typed results: C{K} L{ResponseAck}; C{B}, C{A}, C{L} L{OptionList};
    C{C}, C{X}, C{I2} hex C{str}; C{I} C{tuple} of hex C{str}; C{M}
    L{ConnectionMode} (or C{"pkg/mode"} C{str}); C{P}
    L{ConnectionParameters}; C{T}, C{ES}, C{O} C{tuple} of
    L{ObservedEvent}; C{D} L{DigitMap} or C{None} when empty; C{MD}, C{RD}
    C{int}; C{N} L{NotifiedEntity}; C{PL} C{tuple} of C{(package, version)};
    C{Q} C{tuple} of L{QuarantineHandling}; C{E} L{Reason}; C{F} C{tuple}
    of upper-case C{str}; C{R} C{tuple} of L{RequestedEvent}; C{RM}
    L{RestartMethod} (or C{"pkg/method"}); C{S} C{tuple} of
    L{SignalRequest}; C{Z}, C{Z2} endpoint C{str}; C{X-}/C{X+} extensions
    the stripped raw C{str}.

    @param name: the upper-case line name.
    @param text: the raw value.
    @param knownExtensions: upper-case C{X+} names the receiver supports.
    @return: the typed value.
    @raise MgcpDecodeError: 539 for an unknown name, 511 for an unknown
        C{X+} extension, 510 (or the specific code) for a bad value.
    """
    parser = _PARSERS.get(name)
    if parser is None:
        if name.startswith("X+") and name not in knownExtensions:
            raise MgcpDecodeError(ResponseCode.UNRECOGNIZED_EXTENSION,
                                  "unknown critical extension " + name,
                                  parameter=name)
        if isExtension(name):
            return text.strip()
        raise MgcpDecodeError(ResponseCode.UNSUPPORTED_PARAMETER,
                              "unsupported parameter " + name,
                              parameter=name)
    try:
        return parser(text)
    except MgcpDecodeError as error:
        if error.parameter is None:
            error.parameter = name
        raise


def encodeParameterValue(name: str, value: Any) -> str:
    """
    Encode a typed value (as returned by L{parseParameterValue}) or a raw
    C{str} for a parameter line.

    @param name: the upper-case line name.
    @param value: the value.
    @return: the wire text after the colon.
    @raise MgcpEncodeError: for a value the line cannot carry.
    """
    if isinstance(value, str):
        return value
    if value is None and name == "D":
        return ""
    if hasattr(value, "encode") and not isinstance(value, tuple):
        return value.encode()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, tuple):
        if name in ("O", "T", "ES", "S"):
            return encodeEventList(value)
        if name == "R":
            return encodeRequestedEvents(value)
        if name == "PL":
            return ",".join("%s:%d" % item for item in value)
        if name in ("I", "F", "Q"):
            return ",".join(str(item) for item in value)
    raise MgcpEncodeError("cannot encode %r as %s:" % (value, name))
