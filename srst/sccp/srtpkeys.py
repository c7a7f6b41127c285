# -*- test-case-name: tests.test_sccp_srtpkeys -*-
"""
SRTP keys in SCCP key blocks (sccp.md 3.2): the router sends a phone the
master key and salt of each direction of a secure call in the C{rxKey} of
OpenReceiveChannel and the C{txKey} of StartMediaTransmission.

L{toKeyInfo} turns the media layer's L{SrtpKeys} (or L{None} for clear
text) into a L{KeyInfo}; L{fromKeyInfo} reads one back (srst-phone does, for
the keys the router sent it), refusing with L{SrtpKeyError} a block that
cannot be used as SRTP keys.  The key block's algorithm id is the profile's
value (L{SrtpProfile} follows the SCCP algorithm ids).

Keys never appear in C{repr()}, C{str()} or errors.
"""

from __future__ import annotations

from srst.media.srtp import MASTER_KEY_LENGTH, MASTER_SALT_LENGTH, SrtpKeys, SrtpProfile
from srst.sccp.constants import KeyAlgorithm
from srst.sccp.messages import NO_KEY, KeyInfo


class SrtpKeyError(ValueError):
    """
    A key block cannot be used as SRTP keys.

    @ivar reason: why, as one line (never the key itself).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return "unusable SRTP key block: %s" % (self.reason,)


def toKeyInfo(keys: SrtpKeys | None) -> KeyInfo:
    """
    The SCCP key block carrying C{keys}: algorithm id of the profile,
    keyLength 16, saltLength 14 (the codec pads the salt field to 16
    bytes); L{NO_KEY} (algorithm NONE) for clear text.

    @param keys: one direction's keys, or L{None}.
    @return: the key block.
    """
    if keys is None:
        return NO_KEY
    return KeyInfo(algorithmId=KeyAlgorithm(int(keys.profile)), key=keys.masterKey, salt=keys.masterSalt)


def fromKeyInfo(info: KeyInfo) -> SrtpKeys:
    """
    Keys from an SCCP key block.  A 16-byte salt is accepted when its last
    two bytes are the zero padding.

    @param info: the key block.
    @return: the keys.
    @raise SrtpKeyError: for algorithm NONE or one srst does not support,
        or a key or salt of the wrong length.
    """
    try:
        profile = SrtpProfile(info.algorithmId)
    except ValueError:
        raise SrtpKeyError("algorithm id %d is not one of %s" % (
            int(info.algorithmId), ", ".join("%d (%s)" % (int(p), p.name) for p in SrtpProfile))) from None
    salt = info.salt
    if len(salt) == MASTER_SALT_LENGTH + 2 and salt[MASTER_SALT_LENGTH:] == b"\x00\x00":
        salt = salt[:MASTER_SALT_LENGTH]
    if len(info.key) != MASTER_KEY_LENGTH:
        raise SrtpKeyError("key is %d bytes, expected %d" % (len(info.key), MASTER_KEY_LENGTH))
    if len(salt) != MASTER_SALT_LENGTH:
        raise SrtpKeyError("salt is %d bytes, expected %d" % (len(info.salt), MASTER_SALT_LENGTH))
    return SrtpKeys(profile=profile, masterKey=info.key, masterSalt=salt)


__all__ = ["SrtpKeyError", "fromKeyInfo", "toKeyInfo"]
