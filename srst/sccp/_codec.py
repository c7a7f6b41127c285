# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
The SCCP codec core: the message base class and registry, the errors, and
L{decodeMessage} / L{encodeMessage}.

Every message is a frozen attrs class derived from L{Message} and registered
with C{@message(id)}.  Its fields, declared with L{srst.sccp._fields.wire},
are the wire layout; classes whose layout is not a flat sequence (arrays with
counts) override C{_decodeBody} / C{_encodeBody}.

Exact re-encoding: real CallManagers and phones leave garbage after string
terminators, in unused array slots and in unset fields, and some send surplus
trailing bytes.  A decoded message therefore remembers the frame it came from
(L{WireOrigin}, in the C{origin} attribute, excluded from equality and repr);
L{encodeMessage} re-emits those bytes when asked for the same protocol
version.  A changed message (made with L{attrs.evolve}) has no origin and is
encoded from its fields, with zero padding.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar, Optional

import attrs
from attrs import field, frozen

from srst.sccp._fields import (
    SPEC_KEY,
    FieldError,
    FieldSpec,
    Truncated,
)
from srst.sccp.constants import PROTOCOL_VERSION_IPV4OR6, MessageId

HEADER = struct.Struct("<III")
"""The 12-byte header: length (4 + body), header version, message id."""

HEADER_SIZE = HEADER.size
LENGTH_PREFIX_SIZE = 8
"""Bytes of a frame not counted by its length field (length + version)."""


class DecodeError(ValueError):
    """
    Bytes that are not a valid SCCP message.

    @ivar messageId: the message id, or C{None} when it was not read.
    @ivar offset: where in the frame (or buffer) the problem is.
    @ivar reason: what is wrong, one line.
    """

    def __init__(self, messageId: Optional[int], offset: int,
                 reason: str) -> None:
        ValueError.__init__(self, messageId, offset, reason)
        self.messageId = messageId
        self.offset = offset
        self.reason = reason

    def __str__(self) -> str:
        if self.messageId is None:
            what = "SCCP data"
        else:
            what = "SCCP message %s" % (describeMessageId(self.messageId),)
        return "cannot decode %s at offset %d: %s" % (
            what, self.offset, self.reason)


class FrameError(DecodeError):
    """
    A frame header with an impossible length: the byte stream cannot be
    resynchronised, so the connection that sent it must be closed.
    """

    def __str__(self) -> str:
        return "bad SCCP frame at stream offset %d: %s" % (
            self.offset, self.reason)


class EncodeError(ValueError):
    """
    A message field value that cannot be encoded.

    @ivar messageName: the message class name.
    @ivar fieldName: the field, or C{None} for the message as a whole.
    @ivar reason: what is wrong, one line.
    """

    def __init__(self, messageName: str, fieldName: Optional[str],
                 reason: str) -> None:
        ValueError.__init__(self, messageName, fieldName, reason)
        self.messageName = messageName
        self.fieldName = fieldName
        self.reason = reason

    def __str__(self) -> str:
        where = self.messageName
        if self.fieldName is not None:
            where += "." + self.fieldName
        return "cannot encode %s: %s" % (where, self.reason)


def describeMessageId(messageId: int) -> str:
    """
    Name a message id for logs and errors.

    @param messageId: any integer.
    @return: e.g. C{"0x0105 (OpenReceiveChannel)"} or C{"0x7777"}.
    """
    cls = _REGISTRY.get(messageId)
    if cls is not None:
        return "0x%04X (%s)" % (messageId, cls.__name__)
    try:
        return "0x%04X (%s)" % (messageId, MessageId(messageId).name)
    except ValueError:
        return "0x%04X" % (messageId,)


@frozen
class WireOrigin:
    """
    The frame a message was decoded from.

    @ivar frame: the whole frame, header included (not in repr: it may hold
        SRTP keys).
    @ivar protocolVersion: the protocol version it was decoded with.
    """

    frame: bytes = field(repr=False)
    protocolVersion: int

    @property
    def headerVersion(self) -> int:
        """The header's version ("reserved") field as received."""
        return HEADER.unpack_from(self.frame)[1]


@frozen
class Message:
    """
    Base class of all SCCP messages.

    @cvar MESSAGE_ID: the message id (set by L{message}).
    @ivar origin: the L{WireOrigin} of a decoded message, C{None} for one built
        in code or changed with L{attrs.evolve}.  Not part of equality.
    """

    MESSAGE_ID: ClassVar[int]
    SPECS: ClassVar[tuple[tuple[str, FieldSpec], ...]] = ()

    origin: Optional[WireOrigin] = field(
        default=None, init=False, eq=False, repr=False)

    @classmethod
    def _decodeBody(cls, body: bytes, version: int) -> Message:
        """
        Build a message from its body, reading the declared fields in order
        while bytes remain.

        @raise FieldError: for an impossible field value.
        """
        values: dict[str, Any] = {}
        offset = 0
        for name, spec in cls.SPECS:
            try:
                values[name], offset = spec.kind.decode(body, offset, version)
            except Truncated:
                break
        return cls(**values)

    def _encodeBody(self, version: int) -> bytes:
        """
        The body at protocol C{version}: every field whose C{since} is at
        most C{version}, less trailing optional fields left at default.

        @raise EncodeError: for a value that does not fit its field.
        """
        present = [(name, spec, getattr(self, name))
                   for name, spec in self.SPECS if spec.since <= version]
        while (present and present[-1][1].optional
               and present[-1][2] == present[-1][1].kind.default):
            present.pop()
        parts = []
        for name, spec, value in present:
            try:
                parts.append(spec.kind.encode(value, version))
            except (ValueError, TypeError, OverflowError,
                    struct.error) as e:
                raise EncodeError(type(self).__name__, name, str(e)) from None
        return b"".join(parts)


_REGISTRY: dict[int, type[Message]] = {}


def message(messageId: int):
    """
    Class decorator registering a message class for C{messageId}.

    @param messageId: the SCCP message id.
    @return: the decorator; it sets C{MESSAGE_ID} and the wire field specs.
    @raise ValueError: when the id is already registered or the declared
        C{since} versions are not in wire order.
    """
    def decorate(cls: type[Message]) -> type[Message]:
        if messageId in _REGISTRY:
            raise ValueError("message id 0x%04X registered twice (%s, %s)" % (
                messageId, _REGISTRY[messageId].__name__, cls.__name__))
        specs = tuple((f.name, f.metadata[SPEC_KEY])
                      for f in attrs.fields(cls) if SPEC_KEY in f.metadata)
        since = 0
        for name, spec in specs:
            if spec.since < since:
                raise ValueError("%s.%s: since=%d after a field since=%d" % (
                    cls.__name__, name, spec.since, since))
            since = spec.since
        cls.MESSAGE_ID = messageId
        cls.SPECS = specs
        _REGISTRY[messageId] = cls
        return cls
    return decorate


def messageClass(messageId: int) -> Optional[type[Message]]:
    """
    @param messageId: an SCCP message id.
    @return: the registered class, or C{None} for an unknown id.
    """
    return _REGISTRY.get(messageId)


def registeredMessages() -> dict[int, type[Message]]:
    """
    @return: a copy of the registry, message id to class.
    """
    return dict(_REGISTRY)


@frozen
class UnknownMessage(Message):
    """
    A message with an id the codec does not know; it re-encodes exactly.

    @ivar messageId: the message id.
    @ivar body: the body bytes.
    """

    messageId: int = 0
    body: bytes = b""

    def _encodeBody(self, version: int) -> bytes:
        if not isinstance(self.body, bytes):
            raise EncodeError("UnknownMessage", "body", "expected bytes")
        return self.body


_ALWAYS_HEADER_VERSION_ZERO = frozenset({
    MessageId.KEEP_ALIVE_ACK, MessageId.REGISTER_ACK,
    MessageId.UNREGISTER_ACK})


def defaultHeaderVersion(messageId: int, protocolVersion: int) -> int:
    """
    The header version field to send (sccp.md 1.2): 0 for KeepAliveAck,
    RegisterAck and UnregisterAck; 0 below protocol 17; the protocol version
    from 17 on.

    @param messageId: the message id.
    @param protocolVersion: the negotiated protocol version.
    @return: the value for the header's version field.
    """
    if (messageId in _ALWAYS_HEADER_VERSION_ZERO
            or protocolVersion < PROTOCOL_VERSION_IPV4OR6):
        return 0
    return protocolVersion


def messageIdOf(msg: Message) -> int:
    """
    @param msg: a message.
    @return: its message id.
    """
    if isinstance(msg, UnknownMessage):
        return msg.messageId
    return type(msg).MESSAGE_ID


def decodeMessage(frame: bytes, *, protocolVersion: int) -> Message:
    """
    Decode one complete frame (header included).

    @param frame: the frame bytes, as cut by
        L{srst.sccp._framing.splitFrames}.
    @param protocolVersion: the negotiated protocol version (0 before
        registration); it selects the v17+ address and v18+ number layouts.
    @return: a L{Message}, or L{UnknownMessage} for an unknown id; its
        C{origin} holds C{frame}.
    @raise DecodeError: for a frame whose length field does not match its
        size, or a body field that cannot be right.
    """
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise TypeError("an SCCP frame is bytes, not %r"
                        % (type(frame).__name__,))
    frame = bytes(frame)
    if len(frame) < HEADER_SIZE:
        raise DecodeError(None, 0, "frame of %d bytes is shorter than the "
                          "%d-byte header" % (len(frame), HEADER_SIZE))
    length, _headerVersion, messageId = HEADER.unpack_from(frame)
    if length + LENGTH_PREFIX_SIZE != len(frame):
        raise DecodeError(messageId, 0, "length field says %d bytes follow, "
                          "frame has %d" % (length,
                                            len(frame) - LENGTH_PREFIX_SIZE))
    body = frame[HEADER_SIZE:]
    cls = _REGISTRY.get(messageId)
    try:
        if cls is None:
            msg: Message = UnknownMessage(messageId, body)
        else:
            msg = cls._decodeBody(body, protocolVersion)
    except FieldError as e:
        raise DecodeError(messageId, HEADER_SIZE + e.offset,
                          e.reason) from None
    except (Truncated, struct.error, IndexError, UnicodeDecodeError) as e:
        raise DecodeError(messageId, HEADER_SIZE,
                          str(e) or type(e).__name__) from None
    object.__setattr__(msg, "origin", WireOrigin(frame, protocolVersion))
    return msg


def encodeMessage(msg: Message, *, protocolVersion: int,
                  headerVersion: Optional[int] = None) -> bytes:
    """
    Encode a message into one frame.

    @param msg: the message.
    @param protocolVersion: the negotiated protocol version; the layout of
        that version is sent.  A decoded, unchanged message decoded with the
        same version is re-sent byte for byte.
    @param headerVersion: the header version field.  By default a message
        re-sent from its origin keeps the value it was received with, any
        other gets L{defaultHeaderVersion}.
    @return: the frame bytes.
    @raise EncodeError: when a field value (or C{headerVersion}) cannot be
        encoded.
    @raise TypeError: when C{msg} is not a L{Message}.
    """
    if not isinstance(msg, Message):
        raise TypeError("not an SCCP message: %r" % (msg,))
    try:
        origin = msg.origin
        if origin is not None and origin.protocolVersion == protocolVersion:
            frame = origin.frame
            if (headerVersion is not None
                    and headerVersion != origin.headerVersion):
                frame = (frame[:4] + struct.pack("<I", headerVersion)
                         + frame[8:])
            return frame
        messageId = messageIdOf(msg)
        body = msg._encodeBody(protocolVersion)
        if headerVersion is None:
            headerVersion = defaultHeaderVersion(messageId, protocolVersion)
        return HEADER.pack(len(body) + 4, headerVersion, messageId) + body
    except struct.error as e:
        raise EncodeError(type(msg).__name__, None, str(e)) from None
