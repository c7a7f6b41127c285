# -*- test-case-name: tests.test_pki_tls -*-
"""
TLS contexts for srst's listeners, built with Twisted's L{CertificateOptions}
from C{cryptography} objects (style.md section 2.8).

L{serverTLSOptions} makes the server side of a listener: the identity
(certificate, key, chain), a profile, and optionally mutual TLS against the
phone trustpoints' CA certificates.  It returns a L{ServerTLSOptions}, an
C{IOpenSSLServerConnectionCreator} for C{TLSMemoryBIOFactory} that wraps the
L{CertificateOptions} only to record, per connection, why OpenSSL rejected a
client certificate, so the listener can log and count handshake failures
with a reason (L{ServerTLSOptions.handshakeFailure}).

Profiles:
  - C{modern}: Twisted's defaults (TLS 1.2 minimum, its cipher selection,
    OpenSSL's default security level).
  - C{legacy}: for old phones.  L{legacyCertificateOptions} is the one place
    where security is lowered: TLS 1.0 minimum and OpenSSL security level 0
    (RSA-1024 and SHA-1 certificates, weak identity keys), for that
    listener's context only, with a warning logged.

L{TLSContextError} is defined in L{srst.pki.errors} and re-exported here.
"""

from __future__ import annotations

import base64
import enum
import weakref
from typing import Any, Iterable, Sequence

from attrs import frozen
from cryptography import x509
from OpenSSL import SSL, crypto
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IAcceptableCiphers, ICipher, IOpenSSLServerConnectionCreator
from twisted.internet.ssl import (
    AcceptableCiphers,
    Certificate,
    CertificateOptions,
    TLSVersion,
    trustRootFromCertificates,
)
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from srst.pki._x509 import publicKeysEqual
from srst.pki.errors import TLSContextError
from srst.pki.trust import PrivateKey, certificateDer, certificateFromDer

_log = Logger(namespace="srst.pki.tls")


class TLSProfile(enum.Enum):
    """
    The C{tls-profile} of a listener.
    """

    MODERN = "modern"
    LEGACY = "legacy"


# -- the legacy lowering -------------------------------------------------------------


@implementer(ICipher)
@frozen
class _CipherStringDirective:
    """
    Not a cipher: an OpenSSL cipher-string directive (C{@SECLEVEL=0})
    appended to the context's cipher list.
    """

    fullName: str


SECURITY_LEVEL_ZERO = "@SECLEVEL=0"
_LEGACY_SUITES = ("ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA", "AES128-SHA", "AES256-SHA")
_MODERN_CIPHERS = AcceptableCiphers.fromOpenSSLCipherString(
    "TLS13-AES-256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES-128-GCM-SHA256:"
    "ECDH+AESGCM:ECDH+CHACHA20:DH+AESGCM:DH+CHACHA20:ECDH+AES256:DH+AES256:"
    "ECDH+AES128:DH+AES:RSA+AESGCM:RSA+AES:!aNULL:!MD5:!DSS"
)


@implementer(IAcceptableCiphers)
class _LegacyCiphers:
    """
    Twisted's default selection plus the CBC-SHA suites old phones offer,
    then C{@SECLEVEL=0}.
    """

    def selectCiphers(self, availableCiphers: Sequence[Any]) -> tuple[Any, ...]:
        selected = list(_MODERN_CIPHERS.selectCiphers(availableCiphers))
        names = {c.fullName for c in selected}
        for cipher in availableCiphers:
            if cipher.fullName in _LEGACY_SUITES and cipher.fullName not in names:
                selected.append(cipher)
        return (*selected, _CipherStringDirective(SECURITY_LEVEL_ZERO))


class _LegacyCertificateOptions(CertificateOptions):
    """
    L{CertificateOptions} whose context starts at OpenSSL security level 0,
    so that a weak identity key is accepted when the certificate is loaded
    (which happens before the cipher list is applied).
    """

    @staticmethod
    def _contextFactory(method: int) -> SSL.Context:
        context = SSL.Context(method)
        context.set_cipher_list(b"ALL:" + SECURITY_LEVEL_ZERO.encode("ascii"))
        return context


def legacyCertificateOptions(listener: str, **kwargs: Any) -> CertificateOptions:
    """
    The only place srst lowers TLS security, for phones that predate TLS 1.2
    and strong keys: minimum TLS 1.0, Twisted's ciphers plus the CBC-SHA
    suites, and OpenSSL security level 0 (RSA below 2048 bits, SHA-1 and MD5
    signatures) for this one context.  Logs a warning.

    @param listener: the listener's name, for the warning.
    @param kwargs: the other L{CertificateOptions} arguments.
    @return: the options.
    """
    _log.warn("TLS for {listener} uses the legacy profile: TLS 1.0 and weak keys and signature hashes"
              " (OpenSSL security level 0) are accepted on this listener", listener=listener)
    return _LegacyCertificateOptions(insecurelyLowerMinimumTo=TLSVersion.TLSv1_0,
                                     acceptableCiphers=_LegacyCiphers(), **kwargs)


# -- trust roots ---------------------------------------------------------------------


def _pemFromDer(der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


def trustRootFor(certificates: Iterable[x509.Certificate]) -> Any:
    """
    A Twisted trust root from CA certificates, built from their original DER
    (see L{srst.pki.trust.certificateDer}).

    @param certificates: the CA certificates (phone trustpoints).
    @return: an C{IOpenSSLTrustRoot}.
    @raise ValueError: if C{certificates} is empty.
    """
    loaded = [Certificate.loadPEM(_pemFromDer(certificateDer(c))) for c in certificates]
    if not loaded:
        raise ValueError("a trust root needs at least one CA certificate")
    return trustRootFromCertificates(loaded)


# -- handshake failure reasons --------------------------------------------------------

NO_CLIENT_CERTIFICATE = "no client certificate"
UNKNOWN_ISSUER = "unknown issuer"
CERTIFICATE_EXPIRED = "certificate expired"
CERTIFICATE_NOT_YET_VALID = "certificate not yet valid"
WRONG_KEY_USAGE = "wrong key usage"
SELF_SIGNED = "self-signed certificate"
KEY_TOO_SMALL = "key too small"
WEAK_SIGNATURE_HASH = "weak signature hash"
BAD_SIGNATURE = "bad signature"
INVALID_CA = "invalid CA certificate"
CERTIFICATE_REVOKED = "certificate revoked"
CRL_UNAVAILABLE = "CRL unavailable"
CRL_EXPIRED = "CRL expired"
CERTIFICATE_REJECTED = "certificate rejected"
PROTOCOL_VERSION = "protocol version"
NO_SHARED_CIPHER = "no shared cipher"
NOT_TLS = "not TLS"
CONNECTION_CLOSED = "connection closed during handshake"
HANDSHAKE_FAILED = "handshake failed"

VERIFY_ERRORS: dict[int, tuple[str, str]] = {
    2: ("X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT", UNKNOWN_ISSUER),
    3: ("X509_V_ERR_UNABLE_TO_GET_CRL", CRL_UNAVAILABLE),
    4: ("X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE", BAD_SIGNATURE),
    7: ("X509_V_ERR_CERT_SIGNATURE_FAILURE", BAD_SIGNATURE),
    9: ("X509_V_ERR_CERT_NOT_YET_VALID", CERTIFICATE_NOT_YET_VALID),
    10: ("X509_V_ERR_CERT_HAS_EXPIRED", CERTIFICATE_EXPIRED),
    12: ("X509_V_ERR_CRL_HAS_EXPIRED", CRL_EXPIRED),
    18: ("X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT", SELF_SIGNED),
    19: ("X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN", UNKNOWN_ISSUER),
    20: ("X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY", UNKNOWN_ISSUER),
    21: ("X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE", UNKNOWN_ISSUER),
    22: ("X509_V_ERR_CERT_CHAIN_TOO_LONG", INVALID_CA),
    23: ("X509_V_ERR_CERT_REVOKED", CERTIFICATE_REVOKED),
    24: ("X509_V_ERR_NO_ISSUER_PUBLIC_KEY", INVALID_CA),
    25: ("X509_V_ERR_PATH_LENGTH_EXCEEDED", INVALID_CA),
    26: ("X509_V_ERR_INVALID_PURPOSE", WRONG_KEY_USAGE),
    27: ("X509_V_ERR_CERT_UNTRUSTED", UNKNOWN_ISSUER),
    28: ("X509_V_ERR_CERT_REJECTED", CERTIFICATE_REJECTED),
    32: ("X509_V_ERR_KEYUSAGE_NO_CERTSIGN", INVALID_CA),
    37: ("X509_V_ERR_INVALID_NON_CA", CERTIFICATE_REJECTED),
    39: ("X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE", WRONG_KEY_USAGE),
    66: ("X509_V_ERR_EE_KEY_TOO_SMALL", KEY_TOO_SMALL),
    67: ("X509_V_ERR_CA_KEY_TOO_SMALL", KEY_TOO_SMALL),
    68: ("X509_V_ERR_CA_MD_TOO_WEAK", WEAK_SIGNATURE_HASH),
    79: ("X509_V_ERR_INVALID_CA", INVALID_CA),
}
"""
OpenSSL X509_V_ERR codes -> (name, srst reason).
"""

X509_V_ERR_UNABLE_TO_GET_CRL = 3
X509_V_ERR_CRL_HAS_EXPIRED = 12
X509_V_ERR_CERT_REVOKED = 23


@frozen
class Refusal:
    """
    A revocation refusal with its own words (rather than the code's reason).

    @ivar code: the X509_V_ERR code.
    @ivar reason: the reason logged and counted, such as C{"CRL unavailable
        (fetching http://...)"}.
    """

    code: int
    reason: str


class IRevocationCheck(Interface):
    """
    Decides whether a peer certificate that OpenSSL verified is revoked
    (IOS C{revocation-check}); see L{srst.pki.crl}.
    """

    def refusal(certificate: x509.Certificate, issuer: x509.Certificate | None = None,
                anchor: x509.Certificate | None = None) -> int | Refusal | None:
        """
        @param certificate: a certificate of the peer's chain below the
            trust anchor (the peer's own, or an intermediate CA), already
            verified by OpenSSL.
        @param issuer: the certificate that issued it (the next one up the
            verified chain).
        @param anchor: the trust anchor at the top of that chain.
        @return: the X509_V_ERR code that refuses it
            (L{X509_V_ERR_CERT_REVOKED}, L{X509_V_ERR_UNABLE_TO_GET_CRL},
            L{X509_V_ERR_CRL_HAS_EXPIRED}) or a L{Refusal} with its words,
            or C{None} to accept it.
        """

_SSL_ERRORS: tuple[tuple[str, str], ...] = (
    ("peer did not return a certificate", NO_CLIENT_CERTIFICATE),
    ("certificate required", NO_CLIENT_CERTIFICATE),
    ("unsupported protocol", PROTOCOL_VERSION),
    ("protocol version", PROTOCOL_VERSION),
    ("version too low", PROTOCOL_VERSION),
    ("no shared cipher", NO_SHARED_CIPHER),
    ("no suitable signature algorithm", NO_SHARED_CIPHER),
    ("http request", NOT_TLS),
    ("wrong version number", NOT_TLS),
    ("record layer failure", NOT_TLS),
    ("packet length too long", NOT_TLS),
    ("ee key too small", KEY_TOO_SMALL),
    ("ca key too small", KEY_TOO_SMALL),
    ("ca md too weak", WEAK_SIGNATURE_HASH),
    ("certificate expired", CERTIFICATE_EXPIRED),
    ("unknown ca", UNKNOWN_ISSUER),
    ("unsupported certificate", WRONG_KEY_USAGE),
    ("bad certificate", CERTIFICATE_REJECTED),
    ("certificate verify failed", CERTIFICATE_REJECTED),
)


@frozen
class HandshakeFailure:
    """
    Why a TLS handshake failed.

    @ivar reason: a short, stable reason (the module's constants:
        C{"no client certificate"}, C{"unknown issuer"}, C{"certificate
        expired"}, C{"wrong key usage"}, ...), for logs and counters.
    @ivar verifyCode: the OpenSSL X509_V_ERR code, when certificate
        verification failed.
    @ivar depth: the chain depth of the certificate that failed (0 = the
        peer's own).
    @ivar subject: that certificate's subject.
    @ivar detail: OpenSSL's words.
    """

    reason: str
    verifyCode: int | None = None
    depth: int | None = None
    subject: str | None = None
    detail: str = ""


def _sslErrorText(error: SSL.Error) -> str:
    parts = []
    for entry in error.args[0] if error.args and isinstance(error.args[0], list) else ():
        if isinstance(entry, tuple) and entry:
            parts.append(str(entry[-1]))
    return "; ".join(parts) or str(error)


def describeSSLError(reason: Failure | BaseException) -> HandshakeFailure:
    """
    Map an exception that ended a handshake to a L{HandshakeFailure}
    (without per-connection verify information).

    @param reason: the C{connectionLost} reason or the exception.
    @return: the failure.
    """
    error = reason.value if isinstance(reason, Failure) else reason
    if isinstance(error, SSL.Error):
        text = _sslErrorText(error)
        lowered = text.lower()
        for needle, meaning in _SSL_ERRORS:
            if needle in lowered:
                return HandshakeFailure(meaning, detail=text)
        return HandshakeFailure(HANDSHAKE_FAILED, detail=text)
    if isinstance(error, (ConnectionDone, ConnectionLost)):
        return HandshakeFailure(CONNECTION_CLOSED, detail=str(error))
    return HandshakeFailure(HANDSHAKE_FAILED, detail=f"{type(error).__name__}: {error}")


_FORGIVEN_FOR_ANCHORS = (79, 26)


def _certificateDer(certificate: crypto.X509) -> bytes:
    return bytes(crypto.dump_certificate(crypto.FILETYPE_ASN1, certificate))


class IHandshakeObserver(Interface):
    """
    Told of the steps of one server-side TLS handshake (for C{debug ephone
    register}); see L{ServerTLSOptions.observeHandshake}.
    """

    def readWouldBlock() -> None:
        """
        A handshake step returned because it needs more bytes from the peer
        (OpenSSL's C{SSL_ERROR_WANT_READ}: IOS's C{OPSSLReadWouldBlockErr}).
        """

    def verifying(count: int) -> None:
        """
        The peer's certificate chain is being verified: C{count} of its
        certificates below the trust anchor (at least 1).
        """


def _revocationRefusal(revocation: IRevocationCheck, der: bytes, issuerDer: bytes | None,
                       anchorDer: bytes | None) -> int | Refusal | None:
    try:
        certificate = certificateFromDer(der)
        issuer = certificateFromDer(issuerDer) if issuerDer is not None else None
        anchor = certificateFromDer(anchorDer) if anchorDer is not None else None
    except ValueError:
        return 28  # X509_V_ERR_CERT_REJECTED: cannot be checked, so not trusted
    return revocation.refusal(certificate, issuer, anchor)


class _VerifyRecord:
    """
    The first certificate verification error seen on one connection, and
    the L{IHandshakeObserver} told of its handshake steps.

    Two errors are forgiven, only for a configured trust anchor that has no
    basicConstraints: C{X509_V_ERR_INVALID_CA} and C{X509_V_ERR_INVALID_PURPOSE}
    at depth > 0.  Old CAPF certificates (the seed's C{CAPF-35E08332}) are
    X.509v3 without any extension, which OpenSSL does not accept as a CA;
    IOS trusts them because the operator enrolled them as CA certificates,
    and so does srst.  Everything else (signatures, validity, key sizes,
    the phone certificate's own purpose) is checked as usual.
    """

    def __init__(self, unmarkedAnchors: frozenset[bytes], revocation: IRevocationCheck | None = None) -> None:
        self.unmarkedAnchors = unmarkedAnchors
        self.revocation = revocation
        self.code: int | None = None
        self.reason: str | None = None
        self.depth: int | None = None
        self.subject: str | None = None
        self.observer: IHandshakeObserver | None = None
        self._verifying = False
        self._done = False
        self._top = 0
        self._chain: dict[int, bytes] = {}

    def info(self, connection: SSL.Connection, where: int, ret: int) -> None:
        """The OpenSSL info callback: tell the observer of each handshake step that wants more bytes."""
        if where & SSL.SSL_CB_HANDSHAKE_DONE:
            self._done = True
        elif (where & SSL.SSL_CB_EXIT and ret < 0 and not self._done and connection.want_read()
              and self.observer is not None):
            self.observer.readWouldBlock()

    def callback(self, connection: SSL.Connection, certificate: crypto.X509, code: int, depth: int, ok: int) -> bool:
        if not self._verifying:
            # OpenSSL calls first for the top of the chain: depth certificates lie below the anchor.
            self._verifying = True
            self._top = depth
            if self.observer is not None:
                self.observer.verifying(max(depth, 1))
        if ok and (depth >= self._top or self.revocation is None or self.code is not None):
            if self.revocation is not None and self.code is None:
                self._chain[depth] = _certificateDer(certificate)  # an issuer (or the anchor) of what follows
            return True
        der = _certificateDer(certificate)
        self._chain[depth] = der
        if ok:
            # A certificate below the anchor (the phone's own or an intermediate CA) verified: is it revoked?
            refusal = _revocationRefusal(self.revocation, der, self._chain.get(depth + 1),
                                         self._chain.get(self._top)) if self.revocation is not None else None
            if refusal is None:
                return True
            if isinstance(refusal, Refusal):
                code, self.reason = refusal.code, refusal.reason
            else:
                code = refusal
        elif depth > 0 and code in _FORGIVEN_FOR_ANCHORS and der in self.unmarkedAnchors:
            return True
        if self.code is None:
            self.code, self.depth = code, depth
            try:
                self.subject = certificateFromDer(der).subject.rfc4514_string()
            except ValueError:
                self.subject = None
        return False


# -- the server side ------------------------------------------------------------------


@implementer(IOpenSSLServerConnectionCreator)
class ServerTLSOptions:
    """
    The server side of one TLS listener.

    @ivar certificateOptions: the underlying L{CertificateOptions}.
    @ivar profile: the listener's L{TLSProfile}.
    @ivar mutual: whether a client certificate is required.
    """

    def __init__(self, listener: str, certificateOptions: CertificateOptions, profile: TLSProfile,
                 anchors: Sequence[x509.Certificate] | None, revocation: IRevocationCheck | None = None) -> None:
        """
        @param listener: the listener's name.
        @param certificateOptions: the options (with C{trustRoot} for mutual TLS).
        @param profile: the profile they were built for.
        @param anchors: the trusted CA certificates for mutual TLS, else C{None}.
        @param revocation: for mutual TLS, what refuses revoked client
            certificates once OpenSSL verified them, else C{None}.
        """
        self.revocation = revocation
        self.listener = listener
        self.certificateOptions = certificateOptions
        self.profile = profile
        self.mutual = anchors is not None
        self._unmarkedAnchors = frozenset(certificateDer(c) for c in anchors or () if not _isMarkedCA(c))
        try:
            self._context = certificateOptions.getContext()
        except SSL.Error as e:
            raise TLSContextError(listener, _contextErrorText(e, profile)) from e
        self._records: weakref.WeakKeyDictionary[TLSMemoryBIOProtocol, _VerifyRecord] = weakref.WeakKeyDictionary()
        self._identity: tuple[x509.Certificate, PrivateKey] | None = None

    def useIdentity(self, certificate: x509.Certificate, privateKey: PrivateKey) -> None:
        """
        Present C{certificate} from the next handshake on (a renewed
        identity certificate: the chain sent after it stays the one the
        options were built with, the same CA's).

        @raise TLSContextError: the certificate is not for C{privateKey}.
        """
        if not publicKeysEqual(certificate.public_key(), privateKey.public_key()):
            raise TLSContextError(self.listener, "the renewed certificate is not for the identity key")
        self._identity = (certificate, privateKey)

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        Make the connection; with mutual TLS, install a verify callback that
        records the first verification error (verification itself is
        OpenSSL's, unchanged).

        @param tlsProtocol: the C{TLSMemoryBIOProtocol}.
        @return: the OpenSSL connection.
        """
        connection = self.certificateOptions.serverConnectionForTLS(tlsProtocol)
        if self._identity is not None:
            connection.use_certificate(self._identity[0])
            connection.use_privatekey(self._identity[1])
        record = self._records[tlsProtocol] = _VerifyRecord(self._unmarkedAnchors, self.revocation)
        connection.set_info_callback(record.info)
        if self.mutual:
            connection.set_verify(self._context.get_verify_mode(), record.callback)
        return connection

    def observeHandshake(self, tlsProtocol: TLSMemoryBIOProtocol, observer: IHandshakeObserver) -> None:
        """
        Tell C{observer} of the handshake steps of the connection of
        C{tlsProtocol} from now on: each step that waits for the peer, and
        the start of the peer certificate's verification.

        @param tlsProtocol: a C{TLSMemoryBIOProtocol} made with these options.
        @param observer: the observer.
        """
        record = self._records.get(tlsProtocol)
        if record is not None:
            record.observer = observer

    def handshakeFailure(self, transport: TLSMemoryBIOProtocol, reason: Failure | BaseException) -> HandshakeFailure:
        """
        Why the handshake on C{transport} failed.

        Call it from the wrapped protocol's C{connectionLost} when the
        handshake had not completed (C{IHandshakeListener.handshakeCompleted}
        was not called).

        @param transport: the wrapped protocol's transport (the
            C{TLSMemoryBIOProtocol}).
        @param reason: the C{connectionLost} reason.
        @return: the failure, with the verify error when there was one.
        """
        record = self._records.get(transport)
        described = describeSSLError(reason)
        if record is not None and record.code is not None:
            name, meaning = VERIFY_ERRORS.get(record.code, (f"X509_V_ERR {record.code}", CERTIFICATE_REJECTED))
            return HandshakeFailure(record.reason or meaning, record.code, record.depth, record.subject,
                                    f"{name} at depth {record.depth}; {described.detail}")
        return described


def _contextErrorText(error: SSL.Error, profile: TLSProfile) -> str:
    text = _sslErrorText(error)
    if "too small" in text or "too weak" in text:
        orLegacy = ", or the legacy profile" if profile is TLSProfile.MODERN else ""
        hint = f" (use a 2048-bit RSA or a P-256 key{orLegacy})"
        return f"the identity certificate or key is rejected: {text}{hint}"
    return f"OpenSSL rejects the identity: {text}"


def serverTLSOptions(
    listener: str,
    certificate: x509.Certificate,
    privateKey: PrivateKey,
    chain: Sequence[x509.Certificate] = (),
    *,
    profile: TLSProfile | str = TLSProfile.MODERN,
    trustedCertificates: Sequence[x509.Certificate] | None = None,
    revocation: IRevocationCheck | None = None,
) -> ServerTLSOptions:
    """
    Build the TLS server side of a listener.

    @param listener: its name, for logs and errors (C{"sccp secure"}).
    @param certificate: the identity certificate.
    @param privateKey: its key.
    @param chain: CA certificates sent after it.
    @param profile: C{"modern"} or C{"legacy"}.
    @param trustedCertificates: for mutual TLS, the CA certificates a client
        certificate must chain to (the phone trustpoints); C{None} for no
        client certificate.
    @param revocation: with C{trustedCertificates}, what refuses revoked
        client certificates (the phone trustpoints' C{revocation-check crl}).
    @return: the connection creator for C{TLSMemoryBIOFactory}.
    @raise TLSContextError: OpenSSL refuses the identity (e.g. a key too
        weak for the profile).
    @raise ValueError: an unknown profile or an empty trusted list.
    """
    profile = TLSProfile(profile)
    kwargs: dict[str, Any] = dict(privateKey=privateKey, certificate=certificate, extraCertChain=list(chain))
    if trustedCertificates is not None:
        kwargs["trustRoot"] = trustRootFor(trustedCertificates)
    if profile is TLSProfile.LEGACY:
        options = legacyCertificateOptions(listener, **kwargs)
    else:
        options = CertificateOptions(**kwargs)
    for anchor in trustedCertificates or ():
        if not _isMarkedCA(anchor):
            _log.warn("TLS for {listener}: trusted certificate {subject} has no basicConstraints CA:TRUE;"
                      " accepted as a trust anchor (as IOS does for old CAPF certificates)",
                      listener=listener, subject=anchor.subject.rfc4514_string())
    return ServerTLSOptions(listener, options, profile, trustedCertificates, revocation)


def _isMarkedCA(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def phoneClientTLSOptions(
    trustedCertificates: Sequence[x509.Certificate],
    certificate: x509.Certificate | None = None,
    privateKey: PrivateKey | None = None,
    *,
    profile: TLSProfile | str = TLSProfile.MODERN,
    tls10Only: bool = False,
) -> CertificateOptions:
    """
    The client side a phone (or C{srst-phone}) uses: verify the router's
    chain against C{trustedCertificates} (phones check the certificate they
    got from CallManager, not a host name) and present the phone's own
    certificate if given.

    @param trustedCertificates: the router's CA (or its certificate).
    @param certificate: the phone's LSC/MIC.
    @param privateKey: its key.
    @param profile: C{"legacy"} to accept TLS 1.0 and weak keys.
    @param tls10Only: offer only TLS 1.0, like an old phone (needs legacy).
    @return: client options for C{TLSMemoryBIOFactory} or C{connectSSL}.
    """
    profile = TLSProfile(profile)
    kwargs: dict[str, Any] = dict(trustRoot=trustRootFor(trustedCertificates))
    if certificate is not None:
        kwargs.update(privateKey=privateKey, certificate=certificate)
    if tls10Only:
        kwargs["lowerMaximumSecurityTo"] = TLSVersion.TLSv1_0
    if profile is TLSProfile.LEGACY or tls10Only:
        return legacyCertificateOptions("phone client", **kwargs)
    return CertificateOptions(**kwargs)
