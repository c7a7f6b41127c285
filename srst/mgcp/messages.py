# -*- test-case-name: tests.test_mgcp_messages,tests.test_mgcp_tshark -*-
"""
The MGCP (RFC 3435) codec: datagrams in, typed commands and responses out,
and back (mgcp.md sections 1, 2 and 4).

Sans-IO: nothing here touches sockets or the reactor.  Use::

    for text in splitDatagram(datagram):        # piggy-backed messages
        try:
            message = decodeMessage(text)       # -> Command | Response
        except MgcpDecodeError as error:
            reply = errorResponse(error)        # "510 <id> ..." or None
    data = encodeMessage(message)               # one message, CRLF lines
    data = encodeDatagram([response, command])  # joined by "." lines

  - L{Command}: C{verb}, C{transactionId}, C{endpoint} (case kept),
    C{version} (C{"MGCP 0.1"}, C{"MGCP 1.0"}), optional C{profile},
    ordered C{parameters} and C{sdp} bodies.
  - L{Response}: C{code} (0-999, sent as three digits), C{transactionId},
    optional C{package} and C{commentary}, C{parameters}, C{sdp} (an AUCX
    response may carry two bodies: local, then remote).
  - Each L{Parameter} keeps its raw value; C{message.get("R")} parses it
    into its typed form (table in L{parseParameterValue}) and
    L{parameter} builds one from a typed value.  Decoding parses every
    line, so a decoded message only holds valid values.
  - Input: UTF-8, CRLF or bare LF, any case for verbs, parameter names and
    keywords, one or more blanks between header tokens and any blanks
    after a colon; at most L{MAX_MESSAGE_SIZE} (4096) bytes.  Output:
    CRLF, upper-case verbs and names, C{"Name: value"} (C{"S:"} when
    empty).  A decoded message re-encodes to the received text modulo
    those normalisations.
  - Bad input raises L{MgcpDecodeError} carrying the response code to
    answer with and the transaction id when it could be read; nothing
    else escapes the decoder.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional, Union

from attrs import field, frozen

from srst.mgcp._digitmap import (
    DigitMap,
    DigitMapMatch,
    DigitPattern,
    MatchResult,
    parseDigitMap,
)
from srst.mgcp._events import (
    EmbeddedRequest,
    EventName,
    ObservedEvent,
    RequestedAction,
    RequestedEvent,
    SignalRequest,
    parseEventName,
    parseObservedEvents,
    parseRequestedEvents,
    parseSignalRequests,
)
from srst.mgcp._grammar import (
    MgcpDecodeError,
    MgcpEncodeError,
    checkText,
    protocolError,
)
from srst.mgcp._parameters import (
    ConnectionParameters,
    NotifiedEntity,
    OptionList,
    Reason,
    ResponseAck,
    checkParameterName,
    encodeParameterValue,
    parseEndpointName,
    parseParameterValue,
    parseRange,
)
from srst.mgcp.constants import (
    MAX_MESSAGE_SIZE,
    MAX_TRANSACTION_ID,
    REPEATABLE_PARAMETERS,
    ResponseCode,
    Verb,
    responseText,
)
from srst.mgcp.sdp import SdpError, SessionDescription, encodeSdp, parseSdp

__all__ = [
    "Command", "Response", "Parameter", "Message", "parameter",
    "decodeMessage", "encodeMessage", "splitDatagram", "encodeDatagram",
    "errorResponse", "MgcpDecodeError", "MgcpEncodeError", "SdpError",
    "SessionDescription", "parseSdp", "encodeSdp", "DigitMap",
    "DigitMapMatch", "DigitPattern", "MatchResult", "parseDigitMap",
    "EventName", "EmbeddedRequest", "RequestedAction", "RequestedEvent",
    "SignalRequest", "ObservedEvent", "parseEventName",
    "parseRequestedEvents", "parseSignalRequests", "parseObservedEvents",
    "ConnectionParameters", "NotifiedEntity", "OptionList", "Reason",
    "ResponseAck", "parseParameterValue", "encodeParameterValue",
    "parseRange",
]

_VERSION = re.compile(r"MGCP [0-9]+\.[0-9]+\Z")
_VERB = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
_TRANSACTION = re.compile(r"[0-9]{1,9}\Z")
_CODE = re.compile(r"[0-9]{3}\Z")
_HEADER = re.compile(r"[ \t]*(\S+)[ \t]+(\S+)(?:[ \t]+(.*?))?[ \t]*\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SNIFF = re.compile(rb"[ \t\r\n]*(\S+)[ \t]+([0-9]{1,9})(?:[ \t\r\n]|\Z)")


def _checkLine(instance, attribute, value) -> None:
    if value is not None:
        checkText(value, attribute.name)


def _checkTransactionId(instance, attribute, value) -> None:
    if not isinstance(value, int) or not 1 <= value <= MAX_TRANSACTION_ID:
        raise MgcpEncodeError("transaction id %r outside 1..%d"
                              % (value, MAX_TRANSACTION_ID))


def _encodeName(name: str) -> str:
    try:
        return checkParameterName(name)
    except MgcpDecodeError as error:
        raise MgcpEncodeError(error.reason) from error


def _strip(value: str) -> str:
    return value.strip() if isinstance(value, str) else value


def _optionalText(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    return value.strip() or None


@frozen
class Parameter:
    """
    One parameter line.

    @ivar name: the canonical (upper-case) name, e.g. C{"ES"}, C{"X-FOO"}.
    @ivar value: the raw value, without surrounding blanks.
    """

    name: str = field(converter=_encodeName)
    value: str = field(converter=_strip, validator=_checkLine)

    @property
    def typed(self) -> Any:
        """
        The parsed value (see L{parseParameterValue}); extensions give the
        raw text.

        @raise MgcpDecodeError: if the raw value is invalid.
        """
        return parseParameterValue(self.name, self.value,
                                   frozenset([self.name]))


def parameter(name: str, value: Any) -> Parameter:
    """
    Build a parameter line from a typed value or raw text.

    @param name: e.g. C{"R"}; any case.
    @param value: a value of the type L{parseParameterValue} returns for
        that name, an C{int}, or a C{str} taken as raw text.
    @return: the line.
    @raise MgcpEncodeError: for a value the line cannot carry.
    """
    name = _encodeName(name)
    return Parameter(name, encodeParameterValue(name, value).strip())


def _toParameters(items: Iterable) -> tuple[Parameter, ...]:
    result = []
    for item in items:
        if not isinstance(item, Parameter):
            name, value = item
            item = parameter(name, value)
        result.append(item)
    return tuple(result)


def _toSdp(bodies: Iterable) -> tuple[SessionDescription, ...]:
    result = tuple(bodies)
    for body in result:
        if not isinstance(body, SessionDescription):
            raise MgcpEncodeError("not a SessionDescription: %r" % (body,))
    return result


class _ParameterAccess:
    parameters: tuple[Parameter, ...]

    def raw(self, name: str) -> Optional[str]:
        """
        @param name: a parameter name, any case.
        @return: the raw value of the first such line, or C{None}.
        """
        name = name.upper()
        for line in self.parameters:
            if line.name == name:
                return line.value
        return None

    def has(self, name: str) -> bool:
        """
        @param name: a parameter name, any case.
        @return: whether the message carries that line (maybe empty).
        """
        return self.raw(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """
        @param name: a parameter name, any case.
        @param default: returned when the line is absent.
        @return: the typed value of the first such line.
        """
        name = name.upper()
        for line in self.parameters:
            if line.name == name:
                return line.typed
        return default

    def getAll(self, name: str) -> list[Any]:
        """
        @param name: a repeatable parameter name such as C{"A"} or C{"Z"}.
        @return: the typed values of every such line, in order.
        """
        name = name.upper()
        return [line.typed for line in self.parameters if line.name == name]


@frozen
class Command(_ParameterAccess):
    """
    An MGCP command.

    @ivar verb: the verb, upper case (a L{Verb} value, or an experimental
        C{X...} verb).
    @ivar transactionId: 1 .. 999 999 999.
    @ivar endpoint: C{local@domain}, case kept.
    @ivar version: C{"MGCP 0.1"}, C{"MGCP 1.0"}, ...
    @ivar profile: e.g. C{"NCS 1.0"}, or C{None}.
    @ivar parameters: the parameter lines in order.
    @ivar sdp: the session descriptions (CRCX/MDCX remote descriptor).
    """

    verb: str = field(converter=str.upper)
    transactionId: int = field(validator=_checkTransactionId)
    endpoint: str = field()
    version: str = field()
    profile: Optional[str] = field(default=None, validator=_checkLine)
    parameters: tuple[Parameter, ...] = field(default=(),
                                              converter=_toParameters)
    sdp: tuple[SessionDescription, ...] = field(default=(), converter=_toSdp)

    @verb.validator
    def _checkVerb(self, attribute, value) -> None:
        if not _VERB.match(value) or len(value) != 4:
            raise MgcpEncodeError("bad verb %r" % (value,))

    @endpoint.validator
    def _checkEndpoint(self, attribute, value) -> None:
        checkText(value, "endpoint")
        try:
            parseEndpointName(value)
        except MgcpDecodeError as error:
            raise MgcpEncodeError(error.reason) from error

    @version.validator
    def _checkVersion(self, attribute, value) -> None:
        if not _VERSION.match(value):
            raise MgcpEncodeError("bad version %r" % (value,))


@frozen
class Response(_ParameterAccess):
    """
    An MGCP response.

    @ivar code: 0 .. 999 (see L{ResponseCode}).
    @ivar transactionId: the id of the command answered.
    @ivar commentary: free text such as C{"OK"}, or C{None}.
    @ivar package: the package name of an 8xx code (without C{/}), or
        C{None}.
    @ivar parameters: the parameter lines in order.
    @ivar sdp: the session descriptions (local descriptor; AUCX: local
        then remote).
    """

    code: int = field()
    transactionId: int = field(validator=_checkTransactionId)
    commentary: Optional[str] = field(default=None, converter=_optionalText,
                                      validator=_checkLine)
    package: Optional[str] = field(default=None, validator=_checkLine)
    parameters: tuple[Parameter, ...] = field(default=(),
                                              converter=_toParameters)
    sdp: tuple[SessionDescription, ...] = field(default=(), converter=_toSdp)

    @code.validator
    def _checkCode(self, attribute, value) -> None:
        if not isinstance(value, int) or not 0 <= value <= 999:
            raise MgcpEncodeError("response code %r outside 0..999"
                                  % (value,))

    @property
    def isProvisional(self) -> bool:
        """
        Whether this is a 1xx provisional response.
        """
        return 100 <= self.code <= 199


Message = Union[Command, Response]


def _sniff(data: bytes) -> tuple[Optional[int], Optional[bool]]:
    match = _SNIFF.match(data)
    if match is None:
        return None, None
    transactionId = int(match.group(2))
    if transactionId < 1:
        return None, None
    return transactionId, bool(re.match(rb"[0-9]{3}\Z", match.group(1)))


def decodeMessage(data: bytes,
                  knownExtensions: frozenset = frozenset()) -> Message:
    """
    Decode one message (one item of L{splitDatagram}).

    @param data: the message bytes, UTF-8, CRLF or LF line ends.
    @param knownExtensions: upper-case names of C{X+} parameters the
        receiver understands; other C{X+} lines fail with 511.
    @return: a L{Command} or L{Response}.
    @raise MgcpDecodeError: with C{code}, C{transactionId} (when readable)
        and C{isResponse} set.
    """
    transactionId, isResponse = _sniff(data)
    if len(data) > MAX_MESSAGE_SIZE:
        raise MgcpDecodeError(ResponseCode.PROTOCOL_ERROR,
                              "message longer than %d bytes"
                              % (MAX_MESSAGE_SIZE,), transactionId,
                              isResponse)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MgcpDecodeError(ResponseCode.PROTOCOL_ERROR,
                              "not UTF-8 text", transactionId,
                              isResponse) from error
    lines = [line[:-1] if line.endswith("\r") else line
             for line in text.split("\n")]
    if _CONTROL.search("\n".join(lines)):
        raise MgcpDecodeError(ResponseCode.PROTOCOL_ERROR,
                              "control character in message", transactionId,
                              isResponse)
    while lines and not lines[0].strip():
        del lines[0]
    if not lines:
        raise MgcpDecodeError(ResponseCode.PROTOCOL_ERROR, "empty message")
    header = _HEADER.match(lines[0])
    if header is None or not _TRANSACTION.match(header.group(2)) or int(
            header.group(2)) < 1:
        raise MgcpDecodeError(ResponseCode.PROTOCOL_ERROR,
                              "bad message header %r" % (lines[0][:80],),
                              transactionId, isResponse)
    transactionId = int(header.group(2))
    isResponse = header.group(1).isascii() and header.group(1).isdigit()
    try:
        if isResponse:
            make = _decodeResponseHeader(header)
        else:
            make = _decodeCommandHeader(header)
        parameters, bodies = _decodeRest(lines[1:], knownExtensions)
        return make(parameters, bodies)
    except MgcpDecodeError as error:
        raise error.locate(transactionId, isResponse)


def _decodeResponseHeader(header):
    codeText, rest = header.group(1), header.group(3)
    if not _CODE.match(codeText):
        raise protocolError("response code %r is not three digits"
                            % (codeText,))
    package = None
    if rest and rest.startswith("/"):
        token, _, rest = rest.partition(" ")
        package = token[1:]
        if not package:
            raise protocolError("empty package name in response")
        rest = rest.strip()
    commentary = rest or None

    def make(parameters, bodies):
        return Response(int(codeText), int(header.group(2)), commentary,
                        package, parameters, bodies)
    return make


def _decodeCommandHeader(header):
    verb = header.group(1)
    if not _VERB.match(verb):
        raise protocolError("bad verb %r" % (verb[:20],))
    verb = verb.upper()
    if Verb.lookup(verb) is None and not (len(verb) == 4 and
                                          verb.startswith("X")):
        raise MgcpDecodeError(ResponseCode.UNKNOWN_COMMAND,
                              "unknown command %r" % (verb[:20],))
    tokens = (header.group(3) or "").split()
    if len(tokens) < 3:
        raise protocolError("command header needs endpoint and version")
    endpoint = parseEndpointName(tokens[0])
    version = "%s %s" % (tokens[1].upper(), tokens[2])
    if not _VERSION.match(version):
        raise MgcpDecodeError(ResponseCode.INCOMPATIBLE_PROTOCOL_VERSION,
                              "unsupported version %r" % (version[:20],))
    profile = " ".join(tokens[3:]) or None

    def make(parameters, bodies):
        return Command(verb, int(header.group(2)), endpoint, version,
                       profile, parameters, bodies)
    return make


def _decodeRest(lines: list[str], knownExtensions: frozenset):
    parameters = []
    seen = set()
    index = 0
    for index, line in enumerate(lines):
        if not line.strip():
            break
        name, colon, value = line.partition(":")
        if not colon:
            raise protocolError("parameter line without ':': %r"
                                % (line[:80],))
        name = checkParameterName(name)
        if name in seen and name not in REPEATABLE_PARAMETERS:
            raise protocolError("repeated parameter " + name)
        seen.add(name)
        value = value.strip()
        parseParameterValue(name, value, knownExtensions)
        parameters.append(Parameter(name, value))
    else:
        index = len(lines)
    bodies = []
    chunk: list[str] = []
    for line in lines[index:] + [""]:
        if line.strip():
            chunk.append(line)
        elif chunk:
            bodies.append(parseSdp("\n".join(chunk)))
            chunk = []
    return tuple(parameters), tuple(bodies)


def encodeMessage(message: Message) -> bytes:
    """
    Encode one message.

    @param message: a L{Command} or L{Response}.
    @return: UTF-8 text, every line CRLF-terminated, SDP bodies each after
        an empty line.
    """
    if isinstance(message, Command):
        header = "%s %d %s %s" % (message.verb, message.transactionId,
                                  message.endpoint, message.version)
        if message.profile:
            header += " " + message.profile
    else:
        header = "%03d %d" % (message.code, message.transactionId)
        if message.package:
            header += " /" + message.package
        if message.commentary:
            header += " " + message.commentary
    lines = [header]
    for line in message.parameters:
        lines.append("%s: %s" % (line.name, line.value) if line.value
                     else line.name + ":")
    text = "\r\n".join(lines) + "\r\n"
    for body in message.sdp:
        text += "\r\n" + encodeSdp(body)
    return text.encode("utf-8")


def splitDatagram(data: bytes) -> list[bytes]:
    """
    Split a datagram into its piggy-backed messages (separated by lines
    holding a single C{.}).

    @param data: the datagram.
    @return: each message's bytes, in order; blank parts are dropped.
    @raise MgcpDecodeError: (510) for a datagram over L{MAX_MESSAGE_SIZE}.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        transactionId, isResponse = _sniff(data)
        raise MgcpDecodeError(ResponseCode.PROTOCOL_ERROR,
                              "datagram longer than %d bytes"
                              % (MAX_MESSAGE_SIZE,), transactionId,
                              isResponse)
    messages = []
    chunk: list[bytes] = []
    for line in data.split(b"\n") + [b"."]:
        if line.strip() == b".":
            if b"".join(chunk).strip():
                message = b"\n".join(chunk)
                if not message.endswith(b"\n"):
                    message += b"\n"
                messages.append(message)
            chunk = []
        else:
            chunk.append(line)
    return messages


def encodeDatagram(messages: Iterable[Message]) -> bytes:
    """
    Encode messages piggy-backed in one datagram.

    @param messages: one or more messages, in processing order.
    @return: the datagram.
    @raise MgcpEncodeError: for an empty list.
    """
    encoded = [encodeMessage(message) for message in messages]
    if not encoded:
        raise MgcpEncodeError("a datagram needs at least one message")
    return b".\r\n".join(encoded)


def errorResponse(error: MgcpDecodeError) -> Optional[Response]:
    """
    The response a gateway sends for a command it could not decode.

    @param error: the decode error.
    @return: C{"<code> <id> <text>"}, or C{None} when the message must be
        dropped (no readable transaction id, or it was a response).
    """
    if error.transactionId is None or error.isResponse is not False:
        return None
    reason = "".join(c for c in error.reason if " " <= c <= "~")[:100]
    return Response(error.code, error.transactionId,
                    "%s: %s" % (responseText(error.code), reason))
