# -*- test-case-name: tests.test_pki_ca,tests.test_pki_trust,tests.test_pki_tls -*-
"""
Every exception of L{srst.pki}, in one place (style.md section 2.11).

The modules that raise them re-export them, so C{srst.pki.ca},
C{srst.pki.trust} and C{srst.pki.tls} remain valid import locations:

  - the certificate server (L{srst.pki.ca}): L{CertificateServerError} and
    its subclasses L{ClockNotSetError}, L{CAExpiredError},
    L{CertificateStoreError}; the request queue's L{UnknownRequestError},
    L{RequestStateError}, L{RequestRejectedError}; L{InvalidRequestError},
    L{RevocationError};
  - names and keys: L{KeySpecError}, L{NameParseError};
  - trustpoints and certificate files (L{srst.pki.trust}):
    L{CertificateFileError}, L{TrustpointError}, L{IosChainParseError};
  - TLS contexts (L{srst.pki.tls}): L{TLSContextError}.
"""

from __future__ import annotations

import datetime

from srst.pki._time import isoTime


# -- the certificate server --------------------------------------------------------


class CertificateServerError(RuntimeError):
    """
    The certificate server cannot do what was asked in its current state.
    """

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ClockNotSetError(CertificateServerError):
    """
    The clock is before the CA certificate's notBefore: certificates issued
    now would not be valid yet (IOS prerequisite: set the clock).

    @ivar now: the clock's time.
    @ivar notBefore: the CA certificate's notBefore.
    """

    def __init__(self, name: str, now: datetime.datetime, notBefore: datetime.datetime) -> None:
        self.now = now
        self.notBefore = notBefore
        CertificateServerError.__init__(
            self,
            f"certificate server {name} refuses to issue: the clock ({isoTime(now)}) is before the"
            f" CA certificate's notBefore ({isoTime(notBefore)}); set the clock",
        )


class CAExpiredError(CertificateServerError):
    """
    The CA certificate has expired; nothing can be issued with it.
    """

    def __init__(self, name: str, now: datetime.datetime, notAfter: datetime.datetime) -> None:
        self.now = now
        self.notAfter = notAfter
        CertificateServerError.__init__(
            self,
            f"certificate server {name} refuses to issue: its CA certificate expired at"
            f" {isoTime(notAfter)} (clock {isoTime(now)})",
        )


class CertificateStoreError(CertificateServerError):
    """
    The state directory is inconsistent or unreadable (a file missing that
    must exist, a file that does not parse, a key that does not match).

    @ivar path: the offending file.
    @ivar reason: what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        CertificateServerError.__init__(self, f"{path}: {reason}")


class UnknownRequestError(ValueError):
    """
    No enrollment request with this id.
    """

    def __init__(self, server: str, requestId: int) -> None:
        ValueError.__init__(self, server, requestId)
        self.server = server
        self.requestId = requestId

    def __str__(self) -> str:
        return f"certificate server {self.server} has no enrollment request {self.requestId}"


class RequestStateError(ValueError):
    """
    The enrollment request is not pending (already granted or rejected).
    """

    def __init__(self, requestId: int, state: str) -> None:
        ValueError.__init__(self, requestId, state)
        self.requestId = requestId
        self.state = state

    def __str__(self) -> str:
        return f"enrollment request {self.requestId} is {self.state}, not pending"


class RequestRejectedError(RuntimeError):
    """
    The operator rejected the enrollment request (L{CertificateServer.whenGranted}
    fails with this).
    """

    def __init__(self, requestId: int) -> None:
        RuntimeError.__init__(self, requestId)
        self.requestId = requestId

    def __str__(self) -> str:
        return f"enrollment request {self.requestId} was rejected"


class InvalidRequestError(ValueError):
    """
    A certificate signing request cannot be accepted.
    """

    def __init__(self, reason: str) -> None:
        ValueError.__init__(self, reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid certificate request: {self.reason}"


class RevocationError(ValueError):
    """
    A serial number cannot be revoked.
    """

    def __init__(self, serial: int, reason: str) -> None:
        ValueError.__init__(self, serial, reason)
        self.serial = serial
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot revoke serial 0x{self.serial:X}: {self.reason}"


class KeySpecError(ValueError):
    """
    A key type or size that cannot be generated.
    """

    def __init__(self, keyType: str, bits: int | None, reason: str) -> None:
        ValueError.__init__(self, keyType, bits, reason)
        self.keyType = keyType
        self.bits = bits
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot generate a {self.keyType} key of {self.bits} bits: {self.reason}"


class NameParseError(ValueError):
    """
    A distinguished name string (C{CN=..,O=..}) does not parse.
    """

    def __init__(self, text: str, reason: str) -> None:
        ValueError.__init__(self, text, reason)
        self.text = text
        self.reason = reason

    def __str__(self) -> str:
        return f"bad distinguished name {self.text!r}: {self.reason}"


# -- trustpoints and certificate files ---------------------------------------------


class CertificateFileError(ValueError):
    """
    A certificate or key file is missing, unreadable or not what it should
    be.

    @ivar path: the file.
    @ivar reason: why it cannot be used.
    """

    def __init__(self, path: str, reason: str) -> None:
        ValueError.__init__(self, path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class TrustpointError(RuntimeError):
    """
    A trustpoint cannot do what was asked (not enrolled, key and
    certificate do not match).
    """

    def __init__(self, name: str, reason: str) -> None:
        RuntimeError.__init__(self, name, reason)
        self.name = name
        self.reason = reason

    def __str__(self) -> str:
        return f"trustpoint {self.name}: {self.reason}"


class IosChainParseError(ValueError):
    """
    An IOS C{crypto pki certificate chain} block does not parse.
    """

    def __init__(self, line: int, reason: str) -> None:
        ValueError.__init__(self, line, reason)
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        return f"IOS certificate chain, line {self.line}: {self.reason}"


# -- TLS contexts ------------------------------------------------------------------


class TLSContextError(ValueError):
    """
    A TLS context cannot be built (for example the identity key is too weak
    for the profile).
    """

    def __init__(self, listener: str, reason: str) -> None:
        ValueError.__init__(self, listener, reason)
        self.listener = listener
        self.reason = reason

    def __str__(self) -> str:
        return f"TLS for {self.listener}: {self.reason}"
