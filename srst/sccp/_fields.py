# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
Field types of the SCCP codec: how one message field is laid out on the
wire.  (The SRTP key block is in L{srst.sccp._keys}.)

A message class declares its fields, in wire order, with L{wire}::

    lineInstance: int = wire(U32)
    calledParty: str = wire(DIRNUM)
    txKey: KeyInfo = wire(KEY_INFO, since=5)

Each field type (a L{Kind}) knows its size at a protocol version, how to
decode itself from a body at an offset and how to encode a value.  Decoding is
sequential and tolerant (sccp.md 1.4): a field that does not fit in the bytes
left raises L{Truncated}, which ends the message there (missing trailing
fields keep their zero defaults, a partial trailing field is ignored).  A value
that cannot be right raises L{FieldError}, which the codec turns into a
L{DecodeError}.

Byte order: integers little-endian, IPv4 address bytes in network order
(sccp.md 1.3).  Strings are fixed-size, NUL-padded, Latin-1 (sccp.md 1.5).
"""

from __future__ import annotations

import abc
import enum
import ipaddress
import struct
from typing import Any, Optional, Union

from attrs import field, frozen

from srst.sccp.constants import (
    PROTOCOL_VERSION_IPV4OR6,
    PROTOCOL_VERSION_PACKED_DN,
    IpAddrType,
)

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

ANY_IPV4 = ipaddress.IPv4Address(0)
ANY_IPV6 = ipaddress.IPv6Address(0)
TEXT_ENCODING = "latin-1"


class Truncated(Exception):
    """
    The body ends before this field: decoding stops here.  A signal between
    field kinds and the message decoder, never raised to callers.
    """


class FieldError(ValueError):
    """
    A field holds a value that cannot be right (turned into a
    L{srst.sccp._codec.DecodeError} by the codec).

    @ivar offset: body offset of the field.
    @ivar reason: what is wrong, one line.
    """

    def __init__(self, offset: int, reason: str) -> None:
        ValueError.__init__(self, offset, reason)
        self.offset = offset
        self.reason = reason


def enumValue(enumType: Optional[type[enum.IntEnum]], value: int) -> int:
    """
    Turn a wire integer into a member of C{enumType} when it is one.

    @param enumType: an L{enum.IntEnum} or L{enum.IntFlag} class, or C{None}.
    @param value: the integer read from the wire.
    @return: the enum member, or C{value} itself (unknown values stay plain
        integers; they compare equal to members either way).
    """
    if enumType is None:
        return value
    if issubclass(enumType, enum.IntFlag):
        return enumType(value)
    try:
        return enumType(value)
    except ValueError:
        return value


def _need(data: bytes, offset: int, size: int) -> None:
    if len(data) - offset < size:
        raise Truncated()


class Kind(abc.ABC):
    """
    How one field is laid out.  Subclasses implement L{size}, L{decode} and
    L{encode}; C{default} is the value of a field missing from the wire.
    """

    default: Any = 0

    @abc.abstractmethod
    def size(self, version: int) -> int:
        """
        @param version: the protocol version.
        @return: the encoded size in bytes (0 when variable).
        """

    @abc.abstractmethod
    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        """
        Read the field at C{offset}.

        @return: C{(value, offsetAfterField)}.
        @raise Truncated: when the body ends before the field does.
        @raise FieldError: when the value is impossible.
        """

    @abc.abstractmethod
    def encode(self, value: Any, version: int) -> bytes:
        """
        @return: the wire bytes of C{value}.
        @raise ValueError: (or L{TypeError}, L{struct.error}) when C{value}
            cannot be encoded at this version.
        """


class Int(Kind):
    """
    A little-endian integer, optionally an enum, optionally followed by
    alignment padding (zero when sent, skipped when read).
    """

    def __init__(self, fmt: str, enumType: Optional[type] = None,
                 pad: int = 0) -> None:
        self._struct = struct.Struct("<" + fmt)
        self.enumType = enumType
        self.pad = pad

    def __call__(self, enumType: type) -> Int:
        """
        @return: the same integer kind whose decoded values are members of
            C{enumType} when possible.
        """
        return Int(self._struct.format[1:], enumType, self.pad)

    def size(self, version: int) -> int:
        return self._struct.size + self.pad

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        _need(data, offset, self._struct.size)
        (value,) = self._struct.unpack_from(data, offset)
        end = min(len(data), offset + self._struct.size + self.pad)
        return enumValue(self.enumType, value), end

    def encode(self, value: Any, version: int) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("expected an integer, not %r" % (value,))
        return self._struct.pack(value) + b"\x00" * self.pad


class NarrowingInt(Int):
    """
    A u32 that shrinks to a single byte, packed, from protocol C{narrowAt}
    (ConnectionStatisticsRes.statsProcessingMode at 22, per chan-sccp's
    captures of real phones).
    """

    def __init__(self, narrowAt: int, enumType: Optional[type] = None
                 ) -> None:
        Int.__init__(self, "I", enumType)
        self.narrowAt = narrowAt
        self._narrow = Int("B", enumType)

    def __call__(self, enumType: type) -> Int:
        return NarrowingInt(self.narrowAt, enumType)

    def _at(self, version: int) -> Int:
        if version >= self.narrowAt:
            return self._narrow
        return Int("I", self.enumType)

    def size(self, version: int) -> int:
        return self._at(version).size(version)

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        return self._at(version).decode(data, offset, version)

    def encode(self, value: Any, version: int) -> bytes:
        return self._at(version).encode(value, version)


U8 = Int("B")
U16 = Int("H")
U16_PADDED = Int("H", pad=2)
U32 = Int("I")
I32 = Int("i")


def encodeText(value: Any, size: int) -> bytes:
    """
    Encode a string into a fixed-size NUL-padded field.

    @param value: the string (Latin-1; label codes as C{"\\x80"}, ...).
    @param size: the field size; the string may fill it completely.
    @return: exactly C{size} bytes.
    @raise ValueError: for a non-Latin-1 character, a NUL, or a string longer
        than the field.
    @raise TypeError: when C{value} is not a C{str}.
    """
    if not isinstance(value, str):
        raise TypeError("expected a str, not %r" % (type(value).__name__,))
    try:
        raw = value.encode(TEXT_ENCODING)
    except UnicodeEncodeError as e:
        raise ValueError("not Latin-1 text: %s" % (e.reason,)) from None
    if b"\x00" in raw:
        raise ValueError("text contains a NUL character")
    if len(raw) > size:
        raise ValueError("text of %d characters does not fit in %d bytes"
                         % (len(raw), size))
    return raw + b"\x00" * (size - len(raw))


def decodeText(raw: bytes) -> str:
    """
    Decode a NUL-padded field: cut at the first NUL (whatever follows is
    sender garbage), then Latin-1.

    @param raw: the field bytes.
    @return: the text.
    """
    end = raw.find(b"\x00")
    if end >= 0:
        raw = raw[:end]
    return raw.decode(TEXT_ENCODING)


class Text(Kind):
    """
    A fixed-size C{char[N]}, optionally followed by padding.
    """

    default = ""

    def __init__(self, size: int, pad: int = 0) -> None:
        self.fieldSize = size
        self.pad = pad

    def _sizeAt(self, version: int) -> int:
        return self.fieldSize

    def _padAt(self, version: int) -> int:
        return self.pad

    def size(self, version: int) -> int:
        return self._sizeAt(version) + self._padAt(version)

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        size = self._sizeAt(version)
        _need(data, offset, size)
        text = decodeText(data[offset:offset + size])
        return text, min(len(data), offset + size + self._padAt(version))

    def encode(self, value: Any, version: int) -> bytes:
        return (encodeText(value, self._sizeAt(version))
                + b"\x00" * self._padAt(version))


class DirNum(Text):
    """
    A directory number: C{char[24]}; from protocol 18 C{char[25]}, packed
    (no padding, sccp.md 1.3) or, for the messages Wireshark aligns
    (ConnectionStatisticsReq/Res), followed by 3 padding bytes.
    """

    def __init__(self, aligned: bool = False) -> None:
        Text.__init__(self, 24)
        self.aligned = aligned

    def _sizeAt(self, version: int) -> int:
        return 25 if version >= PROTOCOL_VERSION_PACKED_DN else 24

    def _padAt(self, version: int) -> int:
        if self.aligned and version >= PROTOCOL_VERSION_PACKED_DN:
            return 3
        return 0


class Raw(Kind):
    """
    A fixed number of opaque bytes.
    """

    def __init__(self, size: int) -> None:
        self.fieldSize = size
        self.default = b"\x00" * size

    def size(self, version: int) -> int:
        return self.fieldSize

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        _need(data, offset, self.fieldSize)
        return data[offset:offset + self.fieldSize], offset + self.fieldSize

    def encode(self, value: Any, version: int) -> bytes:
        if not isinstance(value, bytes) or len(value) != self.fieldSize:
            raise ValueError("expected %d bytes, not %r"
                             % (self.fieldSize, value))
        return value


class IPv4(Kind):
    """
    An IPv4 address: 4 bytes in network order.
    """

    default = ANY_IPV4

    def size(self, version: int) -> int:
        return 4

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        _need(data, offset, 4)
        return ipaddress.IPv4Address(data[offset:offset + 4]), offset + 4

    def encode(self, value: Any, version: int) -> bytes:
        if not isinstance(value, ipaddress.IPv4Address):
            raise TypeError("expected an IPv4Address, not %r" % (value,))
        return value.packed


class IPv6(Kind):
    """
    An IPv6 address: 16 bytes in network order.
    """

    default = ANY_IPV6

    def size(self, version: int) -> int:
        return 16

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        _need(data, offset, 16)
        return ipaddress.IPv6Address(data[offset:offset + 16]), offset + 16

    def encode(self, value: Any, version: int) -> bytes:
        if not isinstance(value, ipaddress.IPv6Address):
            raise TypeError("expected an IPv6Address, not %r" % (value,))
        return value.packed


_IP_TYPE = struct.Struct("<I")


class IPv4or6(Kind):
    """
    An address field that is plain IPv4 below protocol 17 and "ipv4or6"
    from 17: a u32 L{IpAddrType} then 16 bytes, IPv4 in the first 4.
    """

    default = ANY_IPV4

    def size(self, version: int) -> int:
        return 20 if version >= PROTOCOL_VERSION_IPV4OR6 else 4

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        if version < PROTOCOL_VERSION_IPV4OR6:
            return IPv4().decode(data, offset, version)
        _need(data, offset, 20)
        (addressType,) = _IP_TYPE.unpack_from(data, offset)
        raw = data[offset + 4:offset + 20]
        if addressType == IpAddrType.IPV6:
            return ipaddress.IPv6Address(raw), offset + 20
        if addressType in (IpAddrType.IPV4, IpAddrType.IPV4_AND_IPV6):
            return ipaddress.IPv4Address(raw[:4]), offset + 20
        raise FieldError(offset, "unknown ipv4or6 address type %d"
                         % (addressType,))

    def encode(self, value: Any, version: int) -> bytes:
        if version < PROTOCOL_VERSION_IPV4OR6:
            if isinstance(value, ipaddress.IPv6Address):
                raise ValueError("IPv6 address %s needs protocol 17 or later"
                                 % (value,))
            return IPv4().encode(value, version)
        if isinstance(value, ipaddress.IPv4Address):
            return _IP_TYPE.pack(IpAddrType.IPV4) + value.packed + b"\x00" * 12
        if isinstance(value, ipaddress.IPv6Address):
            return _IP_TYPE.pack(IpAddrType.IPV6) + value.packed
        raise TypeError("expected an IP address, not %r" % (value,))


class CString(Kind):
    """
    A variable-length NUL-terminated string, zero-padded to a multiple of 4
    when sent.
    """

    default = ""

    def size(self, version: int) -> int:
        return 0

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        _need(data, offset, 1)
        return decodeText(data[offset:]), len(data)

    def encode(self, value: Any, version: int) -> bytes:
        if not isinstance(value, str):
            raise TypeError("expected a str, not %r" % (type(value).__name__,))
        # Latin-1 is one byte per character, so the field is exactly the text.
        raw = encodeText(value, len(value)) + b"\x00"
        return raw + b"\x00" * (-len(raw) % 4)


_SIZE = struct.Struct("<I")


class SizedText(Kind):
    """
    A u32 length followed by that many bytes of text (no terminator).
    """

    default = ""

    def __init__(self, maxSize: int) -> None:
        self.maxSize = maxSize

    def size(self, version: int) -> int:
        return 0

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        _need(data, offset, 4)
        (length,) = _SIZE.unpack_from(data, offset)
        start = offset + 4
        if length > self.maxSize or length > len(data) - start:
            raise FieldError(offset, "text length %d exceeds the %d bytes left"
                             " (at most %d allowed)"
                             % (length, len(data) - start, self.maxSize))
        return decodeText(data[start:start + length]), start + length

    def encode(self, value: Any, version: int) -> bytes:
        if not isinstance(value, str):
            raise TypeError("expected a str, not %r" % (type(value).__name__,))
        raw = encodeText(value, self.maxSize).rstrip(b"\x00")
        return _SIZE.pack(len(raw)) + raw


TEXT = Text
DIRNUM = DirNum()
DIRNUM_ALIGNED = DirNum(aligned=True)
IPV4 = IPv4()
IPV6 = IPv6()
IPV4OR6 = IPv4or6()
CSTRING = CString()


@frozen
class FieldSpec:
    """
    Wire metadata of one message field.

    @ivar kind: the L{Kind}.
    @ivar since: the first protocol version whose layout includes the field
        (encoding omits it below; decoding reads it whenever bytes remain).
    @ivar optional: a trailing field sent only when it is not the default.
    """

    kind: Kind
    since: int = 0
    optional: bool = False


SPEC_KEY = "srst.sccp.wire"


def wire(kind: Kind, *, since: int = 0, optional: bool = False,
         enumType: Optional[type] = None, repr: bool = True) -> Any:
    """
    Declare a message field and its wire layout.

    @param kind: the field type (L{U32}, C{TEXT(40)}, L{DIRNUM}, ...).
    @param since: first protocol version that sends the field.
    @param optional: send the field only when it differs from its default
        (for trailing fields that some senders omit).
    @param enumType: decode into members of this enum when possible.
    @param repr: whether the field appears in the message's C{repr()}.
    @return: an L{attrs.field} with the kind's zero default.
    """
    if enumType is not None:
        if not isinstance(kind, Int):
            raise TypeError("only integer fields take an enum")
        kind = kind(enumType)
    return field(default=kind.default, repr=repr,
                 metadata={SPEC_KEY: FieldSpec(kind, since, optional)})
