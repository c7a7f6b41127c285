# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
The SRTP key block of OpenReceiveChannel (rx key) and StartMediaTransmission
(tx key), sccp.md 3.2: the L{KeyInfo} value type and its field kind.

On the wire: algorithmId u32, keyLength u16, saltLength u16, key[16],
salt[16] (40 bytes), then isMKIPresent u32 and keyDerivationRate u32 from
protocol 11 (48 bytes).  Keys never appear in C{repr()}.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

import attrs
from attrs import field, frozen

from srst.sccp._fields import FieldError, Kind, Truncated, enumValue
from srst.sccp.constants import PROTOCOL_VERSION_V11, KeyAlgorithm

KEY_FIELD_SIZE = 16
SALT_FIELD_SIZE = 16


def _checkKeyBytes(limit: int) -> Callable[[Any, Any, Any], None]:
    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, bytes):
            raise TypeError("%s must be bytes" % (attribute.name,))
        if len(value) > limit:
            raise ValueError("%s is %d bytes, at most %d fit"
                             % (attribute.name, len(value), limit))
    return check


@frozen(repr=False)
class KeyInfo:
    """
    An SRTP master key block (sccp.md 3.2), the rx key of OpenReceiveChannel
    or the tx key of StartMediaTransmission.  The key and salt are never part
    of C{repr()} (keys must not reach logs); keyLength and saltLength on the
    wire are the lengths of L{key} and L{salt}.

    @ivar algorithmId: a L{KeyAlgorithm}; C{NONE} (0) for an unencrypted call.
    @ivar key: the master key (16 bytes for AES-CM-128), at most 16 bytes.
    @ivar salt: the master salt (14 bytes for AES-CM-128), at most 16 bytes.
    @ivar isMKIPresent: 0 (protocol 11+ layouts only).
    @ivar keyDerivationRate: 0 (protocol 11+ layouts only).
    """

    algorithmId: int = 0
    key: bytes = field(default=b"", validator=_checkKeyBytes(KEY_FIELD_SIZE))
    salt: bytes = field(default=b"",
                        validator=_checkKeyBytes(SALT_FIELD_SIZE))
    isMKIPresent: int = 0
    keyDerivationRate: int = 0

    @property
    def keyLength(self) -> int:
        """The keyLength sent on the wire."""
        return len(self.key)

    @property
    def saltLength(self) -> int:
        """The saltLength sent on the wire."""
        return len(self.salt)

    @property
    def encrypted(self) -> bool:
        """Whether this block carries a key (algorithm other than NONE)."""
        return self.algorithmId != KeyAlgorithm.NONE

    def __repr__(self) -> str:
        return ("KeyInfo(algorithmId=%r, keyLength=%d, saltLength=%d, "
                "isMKIPresent=%r, keyDerivationRate=%r)"
                % (self.algorithmId, self.keyLength, self.saltLength,
                   self.isMKIPresent, self.keyDerivationRate))


NO_KEY = KeyInfo()
"""The key block of an unencrypted call: algorithm NONE, no key."""

_KEY_HEAD = struct.Struct("<IHH")
_KEY_TAIL = struct.Struct("<II")
_KEY_BASE_SIZE = _KEY_HEAD.size + KEY_FIELD_SIZE + SALT_FIELD_SIZE


class KeyBlock(Kind):
    """
    The key block: 40 bytes below protocol 11, 48 from 11.  Decoding reads
    the two trailing u32 whenever the body holds them.
    """

    default = NO_KEY

    def size(self, version: int) -> int:
        if version >= PROTOCOL_VERSION_V11:
            return _KEY_BASE_SIZE + _KEY_TAIL.size
        return _KEY_BASE_SIZE

    def decode(self, data: bytes, offset: int,
               version: int) -> tuple[Any, int]:
        if len(data) - offset < _KEY_BASE_SIZE:
            raise Truncated()
        algorithmId, keyLength, saltLength = _KEY_HEAD.unpack_from(
            data, offset)
        if keyLength > KEY_FIELD_SIZE:
            raise FieldError(offset + 4, "keyLength %d exceeds %d"
                             % (keyLength, KEY_FIELD_SIZE))
        if saltLength > SALT_FIELD_SIZE:
            raise FieldError(offset + 6, "saltLength %d exceeds %d"
                             % (saltLength, SALT_FIELD_SIZE))
        keyStart = offset + _KEY_HEAD.size
        saltStart = keyStart + KEY_FIELD_SIZE
        end = saltStart + SALT_FIELD_SIZE
        tail = [0, 0]
        for i in range(2):
            if len(data) - end < 4:
                break
            (tail[i],) = struct.unpack_from("<I", data, end)
            end += 4
        info = KeyInfo(
            algorithmId=enumValue(KeyAlgorithm, algorithmId),
            key=data[keyStart:keyStart + keyLength],
            salt=data[saltStart:saltStart + saltLength],
            isMKIPresent=tail[0], keyDerivationRate=tail[1])
        return info, end

    def encode(self, value: Any, version: int) -> bytes:
        if not isinstance(value, KeyInfo):
            raise TypeError("expected a KeyInfo, not %r"
                            % (type(value).__name__,))
        out = (_KEY_HEAD.pack(value.algorithmId, value.keyLength,
                              value.saltLength)
               + value.key.ljust(KEY_FIELD_SIZE, b"\x00")
               + value.salt.ljust(SALT_FIELD_SIZE, b"\x00"))
        if version >= PROTOCOL_VERSION_V11:
            out += _KEY_TAIL.pack(value.isMKIPresent, value.keyDerivationRate)
        return out


KEY_INFO = KeyBlock()
