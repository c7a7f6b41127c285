# -*- test-case-name: tests.test_pki_scepserver -*-
"""
The certificate server's SCEP operations (RFC 8894) over
L{srst.pki.ca.CertificateServer}: a pure object, no HTTP.

L{ScepServer.pkiOperation} takes a request body and always answers a signed
CertRep (or raises L{UnusableMessage} when the message is too broken to
answer at all, which the HTTP layer turns into a 400): bad input is a
FAILURE with the failInfo RFC 8894 names, never an exception escaping, and
it issues nothing.  Refusals are peer-caused, so they are not logged here
(this runs in a worker thread): the L{CertRep} carries the reason and the
HTTP layer logs it through its L{srst.lograte.LogLimiter}.

Challenge passwords (IOS C{crypto pki server <name> password generate
[minutes]}): L{ChallengePasswords} holds the one-time passwords.  A PKCSReq
whose CSR carries a valid one (used once, before it expires) is issued at
once whatever the grant mode; a wrong or spent one is a FAILURE badRequest;
a request without one follows the grant mode (auto: issued; manual:
PENDING, queued in the request database until C{grant} or C{reject}).  A
PKCSReq that repeats the transactionID of one answered PENDING is the same
transaction sent again (certmonger's C{getcert resubmit}, a client
restarted while pending): it is answered as a CertPoll for that request
(PENDING, the granted certificate, or FAILURE once rejected) instead of
queueing a duplicate; the server remembers these transactions while it
runs.  A
RenewalReq signed by a valid, unrevoked certificate this CA issued is
issued at once when it renews that certificate's identity (the same
subject, no subjectAltName the certificate does not hold): the existing
certificate authenticates it; any other RenewalReq is a FAILURE badRequest.

Like the certificate server it wraps, this is synchronous (signing,
C{fsync}); the HTTP resource runs it in a worker thread.
"""

from __future__ import annotations

import datetime
import hmac
import os
import secrets
import threading
from typing import Callable, TypeVar

from attrs import frozen
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AttributeOID
from twisted.logger import Logger

from srst.pki._requests import EnrollmentRequest, RequestState
from srst.pki._x509 import publicKeysEqual
from srst.pki.ca import CertificateServer
from srst.pki.errors import CAExpiredError, CertificateServerError, ClockNotSetError, InvalidRequestError
from srst.pki.scep import (
    FailInfo,
    MessageType,
    PkiMessage,
    PkiStatus,
    ScepError,
    buildPkiMessage,
    certificatesOnly,
    decryptEnvelope,
    encryptEnvelope,
    parseIssuerAndSerialNumber,
    parseIssuerAndSubject,
    parsePkiMessage,
)

__all__ = ["CAPABILITIES", "CertRep", "ChallengePasswords", "ScepServer", "UnusableMessage"]

_log = Logger(namespace="srst.pki.scep")
_T = TypeVar("_T")

# What GetCACaps advertises: exactly what pkiOperation implements.
CAPABILITIES = ("POSTPKIOperation", "SHA-256", "SHA-512", "AES", "Renewal", "SCEPStandard")


@frozen
class CertRep:
    """
    What L{ScepServer.pkiOperation} answers.

    @ivar der: the signed CertRep to send.
    @ivar refusal: for a FAILURE, why (for the log), naming the message
        type, transaction and signer; C{None} otherwise.
    """

    der: bytes
    pkiStatus: PkiStatus
    failInfo: FailInfo | None
    refusal: str | None


class UnusableMessage(Exception):
    """
    A PKIOperation body that is not a verifiable SCEP message: there is no
    signer to answer to, so the HTTP layer answers 400 with C{reason}.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChallengePasswords:
    """
    IOS one-time enrollment passwords: each is accepted once, until it
    expires.
    """

    DEFAULT_MINUTES = 60
    MAX_MINUTES = 1440

    def __init__(self, now: Callable[[], datetime.datetime], token: Callable[[int], str] = secrets.token_hex) -> None:
        self._now = now
        self._token = token
        self._lock = threading.Lock()
        self._valid: dict[str, datetime.datetime] = {}

    def generate(self, minutes: int = DEFAULT_MINUTES) -> str:
        """
        @param minutes: how long it stays valid (1-1440, IOS's range).
        @return: a new one-time password.
        @raise ValueError: C{minutes} out of range.
        """
        if not 1 <= minutes <= self.MAX_MINUTES:
            raise ValueError(f"the password lifetime must be 1-{self.MAX_MINUTES} minutes, not {minutes}")
        password = self._token(8).upper()
        with self._lock:
            self._valid[password] = self._now() + datetime.timedelta(minutes=minutes)
        return password

    def consume(self, password: str) -> bool:
        """
        @return: whether C{password} was valid; it is spent either way.
        """
        now = self._now()
        with self._lock:
            found = None
            for candidate, expires in list(self._valid.items()):
                if expires <= now:
                    del self._valid[candidate]
                elif hmac.compare_digest(candidate.encode("utf-8"), password.encode("utf-8")):
                    found = candidate
            if found is None:
                return False
            del self._valid[found]
            return True


def _challengePassword(csr: x509.CertificateSigningRequest) -> str | None:
    try:
        value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
    except x509.AttributeNotFound:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)



def requestedNames(csr: x509.CertificateSigningRequest | x509.Certificate) -> tuple[list[str], list[str]]:
    """
    The subjectAltNames a request asks for (its extensionRequest), which
    the certificate server puts in the certificate as the local
    enrollment does: a router's hostname and listener addresses (or, for
    a certificate, the ones it holds).

    @return: the DNS names and the IP addresses (as text).
    """
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return (list(sans.get_values_for_type(x509.DNSName)),
            [str(address) for address in sans.get_values_for_type(x509.IPAddress)])

class ScepServer:
    """
    SCEP for one certificate server.
    """

    def __init__(
        self,
        ca: CertificateServer,
        passwords: ChallengePasswords,
        *,
        now: Callable[[], datetime.datetime],
        nonce: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.ca = ca
        self.passwords = passwords
        self._now = now
        self._nonce = nonce
        self._pendingTransactions: set[str] = set()
        self._lock = threading.Lock()

    # -- the GET operations

    def capabilities(self) -> bytes:
        """
        @return: the GetCACaps body (one keyword a line).
        """
        return "".join(c + "\n" for c in CAPABILITIES).encode("ascii")

    def caCertificate(self) -> bytes:
        """
        @return: the GetCACert body: the CA certificate, DER.
        @raise CertificateServerError: the server is not enabled yet.
        """
        return self.ca.caCertificate.public_bytes(serialization.Encoding.DER)

    # -- PKIOperation

    def pkiOperation(self, body: bytes) -> CertRep:
        """
        Answer one PKIOperation message.

        @return: the CertRep.
        @raise UnusableMessage: the message does not parse or its signature
            does not verify, so no CertRep can be addressed.
        """
        try:
            message = parsePkiMessage(body)
        except ScepError as e:
            raise UnusableMessage(str(e)) from None
        try:
            status, content = self._dispatch(message)
            envelope = None if content is None else encryptEnvelope(content, message.signer)
        except ScepError as e:
            refusal = (f"{_typeName(message.messageType)} transaction {message.transactionId} from"
                       f" {message.signer.subject.rfc4514_string()} failed: {e}")
            return CertRep(self._sign(message, PkiStatus.FAILURE, None, e.failInfo),
                           PkiStatus.FAILURE, e.failInfo, refusal)
        return CertRep(self._sign(message, status, envelope, None), status, None, None)

    def _sign(self, message: PkiMessage, status: PkiStatus, envelope: bytes | None,
              failInfo: FailInfo | None) -> bytes:
        return buildPkiMessage(
            MessageType.CERT_REP, message.transactionId, self.ca.caCertificate, self.ca.privateKey,
            envelope=envelope, senderNonce=self._nonce(16), recipientNonce=message.senderNonce,
            pkiStatus=status, failInfo=failInfo, digest=message.digestAlgorithm)

    def _dispatch(self, message: PkiMessage) -> tuple[PkiStatus, bytes | None]:
        handlers = {
            MessageType.PKCS_REQ: self._pkcsReq,
            MessageType.RENEWAL_REQ: self._renewalReq,
            MessageType.CERT_POLL: self._certPoll,
            MessageType.GET_CERT: self._getCert,
            MessageType.GET_CRL: self._getCrl,
        }
        handler = handlers.get(message.messageType)  # type: ignore[call-overload]
        if handler is None:
            raise ScepError(FailInfo.BAD_REQUEST, f"unsupported messageType {message.messageType}")
        if message.envelope is None:
            raise ScepError(FailInfo.BAD_REQUEST, "the message has no pkcsPKIEnvelope")
        data = decryptEnvelope(message.envelope, self.ca.caCertificate, self.ca.privateKey)
        return handler(message, data)

    def _csr(self, message: PkiMessage, data: bytes) -> x509.CertificateSigningRequest:
        try:
            csr = x509.load_der_x509_csr(data)
        except ValueError as e:
            raise ScepError(FailInfo.BAD_REQUEST, f"the envelope does not hold a PKCS#10 request: {e}") from None
        if not csr.is_signature_valid:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the request's signature does not verify")
        return csr

    def _issue(self, issue: Callable[[], _T]) -> _T:
        try:
            return issue()
        except (ClockNotSetError, CAExpiredError) as e:
            raise ScepError(FailInfo.BAD_TIME, str(e)) from None
        except InvalidRequestError as e:
            raise ScepError(FailInfo.BAD_REQUEST, str(e)) from None
        except (CertificateServerError, OSError) as e:
            _log.error("SCEP: the certificate server could not issue: {error}", error=str(e))
            raise ScepError(FailInfo.BAD_REQUEST, f"the certificate server could not issue: {e}") from None

    def _success(self, certificate: x509.Certificate) -> tuple[PkiStatus, bytes]:
        return PkiStatus.SUCCESS, certificatesOnly([certificate])

    def _pkcsReq(self, message: PkiMessage, data: bytes) -> tuple[PkiStatus, bytes | None]:
        csr = self._csr(message, data)
        if not publicKeysEqual(csr.public_key(), message.signer.public_key()):
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the signer's key is not the request's key")
        subject = csr.subject.rfc4514_string()
        names = requestedNames(csr)
        password = _challengePassword(csr)
        if password is not None:
            if not self.passwords.consume(password):
                raise ScepError(FailInfo.BAD_REQUEST, "wrong, spent or expired challenge password")
            cert = self._issue(lambda: self.ca.issue(csr, *names))
            _log.info("SCEP: PKCSReq from {subject} granted with a one-time password (serial 0x{serial:X})",
                      subject=subject, serial=cert.serial_number)
            return self._success(cert)
        with self._lock:
            resent = message.transactionId in self._pendingTransactions
        if resent:
            found = self.ca.findRequest(csr.subject.public_bytes(), csr.public_key())
            if found is not None:
                return self._requestStatus(*found)
        result = self._issue(lambda: self.ca.submit(csr, *names))
        if result.certificate is None:
            with self._lock:
                self._pendingTransactions.add(message.transactionId)
            _log.info("SCEP: PKCSReq from {subject} is pending as request {requestId}",
                      subject=subject, requestId=result.requestId)
            return PkiStatus.PENDING, None
        return self._success(result.certificate)

    def _renewalReq(self, message: PkiMessage, data: bytes) -> tuple[PkiStatus, bytes | None]:
        csr = self._csr(message, data)
        self._checkIssuedByUs(message.signer)
        names = requestedNames(csr)
        _checkRenewsItself(csr, names, message.signer)
        cert = self._issue(lambda: self.ca.issue(csr, *names))
        _log.info("SCEP: RenewalReq from {subject} signed by serial 0x{old:X} granted (serial 0x{serial:X})",
                  subject=csr.subject.rfc4514_string(), old=message.signer.serial_number,
                  serial=cert.serial_number)
        return self._success(cert)

    def _checkIssuedByUs(self, certificate: x509.Certificate) -> None:
        ca = self.ca.caCertificate
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the signer's certificate was not issued by this CA") from None
        now = self._now()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise ScepError(FailInfo.BAD_TIME, "the signer's certificate is not valid now")
        if certificate.serial_number in self.ca.revokedSerials():
            raise ScepError(FailInfo.BAD_REQUEST,
                            f"the signer's certificate (serial 0x{certificate.serial_number:X}) is revoked")

    def _certPoll(self, message: PkiMessage, data: bytes) -> tuple[PkiStatus, bytes | None]:
        issuer, subjectDer = parseIssuerAndSubject(data)
        if issuer != self.ca.caCertificate.subject.public_bytes():
            raise ScepError(FailInfo.BAD_CERT_ID, "the poll names another issuer")
        found = self.ca.findRequest(subjectDer, message.signer.public_key())
        if found is None:
            raise ScepError(FailInfo.BAD_CERT_ID, "no request for this subject and key")
        return self._requestStatus(*found)

    def _requestStatus(self, request: EnrollmentRequest, certificate: x509.Certificate | None,
                       ) -> tuple[PkiStatus, bytes | None]:
        """
        The answer to a poll for C{request}: PENDING, its certificate, or
        FAILURE once rejected.
        """
        if request.state is RequestState.PENDING:
            return PkiStatus.PENDING, None
        if request.state is RequestState.REJECTED:
            raise ScepError(FailInfo.BAD_REQUEST, f"request {request.id} was rejected")
        assert certificate is not None
        return self._success(certificate)

    def _getCert(self, message: PkiMessage, data: bytes) -> tuple[PkiStatus, bytes | None]:
        issuer, serial = parseIssuerAndSerialNumber(data)
        ca = self.ca.caCertificate
        if issuer != ca.subject.public_bytes():
            raise ScepError(FailInfo.BAD_CERT_ID, "the certificate was not issued by this CA")
        certificate = ca if serial == ca.serial_number else self.ca.issuedCertificate(serial)
        if certificate is None:
            raise ScepError(FailInfo.BAD_CERT_ID, f"no certificate with serial 0x{serial:X}")
        return self._success(certificate)

    def _getCrl(self, message: PkiMessage, data: bytes) -> tuple[PkiStatus, bytes | None]:
        issuer, _ = parseIssuerAndSerialNumber(data)
        if issuer != self.ca.caCertificate.subject.public_bytes():
            raise ScepError(FailInfo.BAD_CERT_ID, "the certificate was not issued by this CA")
        return PkiStatus.SUCCESS, certificatesOnly([], [self.ca.crl])


def _checkRenewsItself(csr: x509.CertificateSigningRequest, names: tuple[list[str], list[str]],
                       signer: x509.Certificate) -> None:
    """
    A RenewalReq renews the signer's own identity: the request's subject is
    the signer certificate's and it asks for no subjectAltName that
    certificate does not hold (a phone cannot renew into a router).
    """
    if csr.subject != signer.subject:
        raise ScepError(FailInfo.BAD_REQUEST,
                        f"the request's subject {csr.subject.rfc4514_string()} is not the signer's"
                        f" {signer.subject.rfc4514_string()}")
    held = requestedNames(signer)
    dnsNames = {name.lower() for name in held[0]}
    extra = ([name for name in names[0] if name.lower() not in dnsNames]
             + [address for address in names[1] if address not in held[1]])
    if extra:
        raise ScepError(FailInfo.BAD_REQUEST,
                        f"the request asks for subjectAltNames the signer's certificate does not hold: {', '.join(extra)}")


def _typeName(messageType: int) -> str:
    try:
        return MessageType(messageType).label
    except ValueError:
        return f"messageType {messageType}"
