# -*- test-case-name: tests.test_media_srtp -*-
"""
SRTP (RFC 3711) for router-terminated media, a thin layer over pylibsrtp.

L{SrtpKeys} is a master key and salt for one direction of one call, the
same pair the router sends a phone in the SCCP key blocks (sccp.md 3;
L{srst.sccp.srtpkeys} converts).  L{SrtpSender}
protects the RTP (and RTCP) the router sends, L{SrtpReceiver} checks and
decrypts what it receives; every libsrtp failure becomes an L{SrtpError}.

Keys never appear in C{repr()}, C{str()} or log events.
"""

from __future__ import annotations

import enum
import os
from typing import Any, Callable, Optional

import pylibsrtp
from attrs import field, frozen

from srst.media.rtp import headerIds

MASTER_KEY_LENGTH = 16
MASTER_SALT_LENGTH = 14
"""AES-CM-128 master key and salt sizes (RFC 3711 8.2)."""


class SrtpProfile(enum.IntEnum):
    """
    The SRTP crypto suites srst offers; the values are the SCCP key block
    algorithm ids (sccp.md 3.3).  SCCP phones take only the 32-bit tag.
    """

    AES_CM_128_HMAC_SHA1_32 = 1
    AES_CM_128_HMAC_SHA1_80 = 2

    @property
    def libsrtpProfile(self) -> int:
        """The matching C{pylibsrtp.Policy} profile constant."""
        return _LIBSRTP_PROFILES[self]

    @property
    def tagLength(self) -> int:
        """Bytes of authentication tag on each SRTP packet."""
        return 4 if self is SrtpProfile.AES_CM_128_HMAC_SHA1_32 else 10


_LIBSRTP_PROFILES = {
    SrtpProfile.AES_CM_128_HMAC_SHA1_32:
        pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    SrtpProfile.AES_CM_128_HMAC_SHA1_80:
        pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
}


class SrtpError(ValueError):
    """
    libsrtp refused a packet: authentication failure, replay, or a packet
    too short to be (S)RTP.

    @ivar operation: C{"protect"}, C{"unprotect"}, C{"protect_rtcp"} or
        C{"unprotect_rtcp"}.
    @ivar reason: libsrtp's reason.
    @ivar ssrc: the packet's SSRC when its header could be read, else
        L{None}.
    @ivar sequenceNumber: the packet's sequence number (RTP only), else
        L{None}.
    """

    def __init__(self, operation: str, reason: str,
                 ssrc: Optional[int] = None,
                 sequenceNumber: Optional[int] = None) -> None:
        super().__init__(operation, reason, ssrc, sequenceNumber)
        self.operation = operation
        self.reason = reason
        self.ssrc = ssrc
        self.sequenceNumber = sequenceNumber

    def __str__(self) -> str:
        where = ""
        if self.ssrc is not None:
            where = " (ssrc 0x%08x" % (self.ssrc,)
            if self.sequenceNumber is not None:
                where += ", seq %d" % (self.sequenceNumber,)
            where += ")"
        return "SRTP %s failed: %s%s" % (self.operation, self.reason, where)


def _checkLength(length: int) -> Callable[[Any, Any, Any], None]:
    def check(instance: object, attribute: object, value: bytes) -> None:
        if not isinstance(value, bytes):
            raise TypeError("SRTP master keys and salts are bytes")
        if len(value) != length:
            raise ValueError("SRTP master %s must be %d bytes, not %d"
                             % ("key" if length == MASTER_KEY_LENGTH
                                else "salt", length, len(value)))
    return check


@frozen(repr=False)
class SrtpKeys:
    """
    An SRTP master key and salt for one direction of a stream.

    @ivar profile: the crypto suite.
    @ivar masterKey: 16-byte master key (never shown).
    @ivar masterSalt: 14-byte master salt (never shown).
    """

    profile: SrtpProfile = field(converter=SrtpProfile)
    masterKey: bytes = field(validator=_checkLength(MASTER_KEY_LENGTH))
    masterSalt: bytes = field(validator=_checkLength(MASTER_SALT_LENGTH))

    def __repr__(self) -> str:
        return ("SrtpKeys(profile=%s, masterKey=<hidden>, "
                "masterSalt=<hidden>)" % (self.profile.name,))

    __str__ = __repr__


def generateKeys(
        profile: SrtpProfile = SrtpProfile.AES_CM_128_HMAC_SHA1_32,
) -> SrtpKeys:
    """
    Fresh random master key and salt from C{os.urandom}.

    @param profile: the crypto suite; the 32-bit tag that SCCP phones
        accept by default.
    @return: the keys.
    """
    return SrtpKeys(profile=profile,
                    masterKey=os.urandom(MASTER_KEY_LENGTH),
                    masterSalt=os.urandom(MASTER_SALT_LENGTH))


def _rtcpSsrc(packet: bytes) -> Optional[int]:
    if len(packet) < 8:
        return None
    return int.from_bytes(packet[4:8], "big")


def _session(keys: SrtpKeys, ssrcType: int) -> pylibsrtp.Session:
    if not isinstance(keys, SrtpKeys):
        raise TypeError("expected SrtpKeys, not %s"
                        % (type(keys).__name__,))
    policy = pylibsrtp.Policy(key=keys.masterKey + keys.masterSalt,
                              ssrc_type=ssrcType,
                              srtp_profile=keys.profile.libsrtpProfile)
    return pylibsrtp.Session(policy)


class SrtpSender:
    """
    Protects outgoing RTP and RTCP with one set of keys, for any SSRC.

    @ivar profile: the crypto suite in use.
    """

    def __init__(self, keys: SrtpKeys) -> None:
        """
        @param keys: the master key and salt of this direction.
        """
        self.profile = keys.profile
        self._session = _session(keys,
                                 pylibsrtp.Policy.SSRC_ANY_OUTBOUND)

    def __repr__(self) -> str:
        return "<SrtpSender %s>" % (self.profile.name,)

    def protect(self, rtp: bytes) -> bytes:
        """
        Encrypt and authenticate one RTP packet.

        @param rtp: the RTP packet.
        @return: the SRTP packet (the tag length longer).
        @raise SrtpError: for a packet libsrtp cannot protect, or one whose
            sequence number was already protected.
        """
        try:
            return self._session.protect(rtp)
        except (pylibsrtp.Error, ValueError) as e:
            ssrc, seq = headerIds(rtp)
            raise SrtpError("protect", str(e), ssrc, seq) from None

    def protectRtcp(self, rtcp: bytes) -> bytes:
        """
        Encrypt and authenticate one RTCP packet (SRTCP).

        @param rtcp: the RTCP compound packet.
        @return: the SRTCP packet.
        @raise SrtpError: for a packet libsrtp cannot protect.
        """
        try:
            return self._session.protect_rtcp(rtcp)
        except (pylibsrtp.Error, ValueError) as e:
            raise SrtpError("protect_rtcp", str(e),
                            _rtcpSsrc(rtcp)) from None


class SrtpReceiver:
    """
    Authenticates and decrypts incoming SRTP and SRTCP with one set of
    keys, for any SSRC, rejecting replays.

    @ivar profile: the crypto suite in use.
    """

    def __init__(self, keys: SrtpKeys) -> None:
        """
        @param keys: the master key and salt of this direction.
        """
        self.profile = keys.profile
        self._session = _session(keys, pylibsrtp.Policy.SSRC_ANY_INBOUND)

    def __repr__(self) -> str:
        return "<SrtpReceiver %s>" % (self.profile.name,)

    def unprotect(self, srtp: bytes) -> bytes:
        """
        Check and decrypt one SRTP packet.

        @param srtp: the SRTP packet.
        @return: the RTP packet.
        @raise SrtpError: when authentication fails (wrong keys, tampering),
            the packet is a replay, or it is too short or too long for
            libsrtp's buffer.
        """
        try:
            return self._session.unprotect(srtp)
        except (pylibsrtp.Error, ValueError) as e:
            ssrc, seq = headerIds(srtp)
            raise SrtpError("unprotect", str(e), ssrc, seq) from None

    def unprotectRtcp(self, srtcp: bytes) -> bytes:
        """
        Check and decrypt one SRTCP packet.

        @param srtcp: the SRTCP packet.
        @return: the RTCP packet.
        @raise SrtpError: when authentication fails, the packet is a
            replay, or it is too short.
        """
        try:
            return self._session.unprotect_rtcp(srtcp)
        except (pylibsrtp.Error, ValueError) as e:
            raise SrtpError("unprotect_rtcp", str(e),
                            _rtcpSsrc(srtcp)) from None
