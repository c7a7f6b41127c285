# -*- test-case-name: tests.test_pki_scepclient -*-
"""
The client side of SCEP (RFC 8894), sans-IO: the messages an identity
trustpoint sends to enroll with a certificate server (PKCSReq, CertPoll,
GetCert, GetCRL) and the reading of the CertRep that answers them.

Nothing here does I/O; the caller carries the bytes over HTTP.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from typing import Callable, NamedTuple, Sequence

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from srst.pki._x509 import PrivateKey
from srst.pki.scep import (
    FailInfo,
    MessageType,
    PkiMessage,
    PkiStatus,
    ScepError,
    buildPkiMessage,
    decryptEnvelope,
    encryptEnvelope,
    issuerAndSerialNumber,
    issuerAndSubject,
    parseCertificatesOnly,
    parsePkiMessage,
)

__all__ = ["CertRep", "Enrolled", "Pending", "Refused", "ScepClient", "transactionIdFor"]

# How long the transient self-signed signer certificate is valid around now.
_SIGNER_LIFETIME = datetime.timedelta(days=1)


class CertRep(NamedTuple):
    """
    A CertRep that answered this client, signed by its CA, opened.

    @ivar certificates: the certificates of the decrypted content (SUCCESS).
    @ivar crls: the CRLs of the decrypted content (GetCRL).
    """

    message: PkiMessage
    certificates: list[x509.Certificate]
    crls: list[x509.CertificateRevocationList]


@frozen
class Enrolled:
    """
    SUCCESS: the certificate issued for our key.
    """

    certificate: x509.Certificate


@frozen
class Pending:
    """
    PENDING: the request waits for the certificate server's operator; poll.
    """


@frozen
class Refused:
    """
    FAILURE, with the failInfo the certificate server gave.
    """

    failInfo: FailInfo | None

    @property
    def reason(self) -> str:
        """
        The failInfo's RFC name, for the log.
        """
        return "no failInfo" if self.failInfo is None else self.failInfo.label


def transactionIdFor(key: PrivateKey) -> str:
    """
    @return: the transactionID for an enrollment of C{key}: the SHA-256 of
        its SubjectPublicKeyInfo in hex (RFC 8894 section 3.2.1.1), so a
        poll or a retry after a restart names the same transaction.
    """
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest().upper()


class ScepClient:
    """
    One enrollment of C{key} under C{subject} with the certificate server
    whose CA certificate is C{ca}.

    SCEP replies are encrypted to the requester's certificate, so the key
    must be RSA.

    @ivar certificate: the certificate that signs the requests (and
        receives the replies): a transient self-signed one until the CA
        issues one, the current one for a renewal.
    @ivar nonce: the senderNonce of the last message built; the reply must
        echo it.
    """

    def __init__(self, ca: x509.Certificate, key: PrivateKey, subject: x509.Name,
                 now: Callable[[], datetime.datetime], *, transactionId: str | None = None,
                 dnsNames: Sequence[str] = (), ipAddresses: Sequence[str] = (),
                 current: x509.Certificate | None = None) -> None:
        """
        @param dnsNames: DNS subjectAltNames to ask for (the router's hostname).
        @param ipAddresses: IP subjectAltNames to ask for (its listener addresses).
        @param current: for a renewal, the certificate the CA issued for
            C{key} before: it signs the RenewalReq and receives the reply.
        """
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ScepError(FailInfo.BAD_ALG, "SCEP enrollment needs an RSA key (replies are encrypted to it)")
        self.ca = ca
        self.key = key
        self.subject = subject
        self.dnsNames, self.ipAddresses = tuple(dnsNames), tuple(ipAddresses)
        self.transactionId = transactionId if transactionId is not None else transactionIdFor(key)
        when = now()
        self.certificate = current or (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(when - datetime.timedelta(hours=1)).not_valid_after(when + _SIGNER_LIFETIME)
            .sign(key, hashes.SHA256()))
        self.nonce = os.urandom(16)

    def csr(self, password: str | None = None) -> x509.CertificateSigningRequest:
        """
        @return: the request for our key and subject (and the
            subjectAltNames asked for), with the challenge password if one is
            given.
        """
        builder = x509.CertificateSigningRequestBuilder().subject_name(self.subject)
        if self.dnsNames or self.ipAddresses:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(name) for name in self.dnsNames]
                + [x509.IPAddress(ipaddress.ip_address(address)) for address in self.ipAddresses]), critical=False)
        if password is not None:
            builder = builder.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, password.encode("utf-8"))
        return builder.sign(self.key, hashes.SHA256())

    def message(self, messageType: MessageType, content: bytes, *, recipient: x509.Certificate | None = None,
                signer: tuple[x509.Certificate, PrivateKey] | None = None) -> bytes:
        """
        @return: a signed C{pkiMessage} of C{messageType} whose envelope
            holds C{content} for C{recipient} (the CA), signed by C{signer}
            (our transient certificate; a renewal signs with the current
            one), with a fresh senderNonce.
        """
        certificate, key = signer or (self.certificate, self.key)
        self.nonce = os.urandom(16)
        return buildPkiMessage(messageType, self.transactionId, certificate, key,
                               envelope=encryptEnvelope(content, recipient or self.ca), senderNonce=self.nonce)

    def pkcsReq(self, password: str | None = None, *, recipient: x509.Certificate | None = None) -> bytes:
        """
        @return: the PKCSReq enrolling our key (its envelope for
            C{recipient}, the CA unless told).
        """
        return self.message(MessageType.PKCS_REQ, self.csr(password).public_bytes(serialization.Encoding.DER),
                            recipient=recipient)

    def renewalReq(self) -> bytes:
        """
        @return: the RenewalReq for our key, signed with the current
            certificate (the C{current} given).
        """
        return self.message(MessageType.RENEWAL_REQ, self.csr().public_bytes(serialization.Encoding.DER))

    def certPoll(self) -> bytes:
        """
        @return: the CertPoll asking after a PENDING PKCSReq.
        """
        return self.message(MessageType.CERT_POLL, issuerAndSubject(self.ca.subject, self.subject))

    def getCert(self, serial: int) -> bytes:
        """
        @return: the GetCert for the CA's certificate numbered C{serial}.
        """
        return self.message(MessageType.GET_CERT, issuerAndSerialNumber(self.ca.subject, serial))

    def getCrl(self, serial: int) -> bytes:
        """
        @return: the GetCRL for the certificate numbered C{serial}.
        """
        return self.message(MessageType.GET_CRL, issuerAndSerialNumber(self.ca.subject, serial))

    def reply(self, der: bytes, recipient: x509.Certificate | None = None) -> CertRep:
        """
        Open a CertRep: it must be signed by the CA, answer our transaction
        and our last nonce; its content is decrypted with our key.

        @raise ScepError: badMessageCheck, with the reason, for anything else.
        """
        message = parsePkiMessage(der)
        if message.signer != self.ca:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK,
                            f"the reply is signed by {message.signer.subject.rfc4514_string()}, not the CA")
        if message.messageType != MessageType.CERT_REP:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, f"the reply is messageType {message.messageType}, not CertRep")
        if message.transactionId != self.transactionId:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the reply is for another transaction")
        if message.recipientNonce != self.nonce:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the reply does not echo our nonce")
        if message.pkiStatus is None:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the reply has no pkiStatus")
        if message.envelope is None:
            return CertRep(message, [], [])
        content = decryptEnvelope(message.envelope, recipient or self.certificate, self.key)
        certificates, crls = parseCertificatesOnly(content)
        return CertRep(message, certificates, crls)

    def outcome(self, der: bytes) -> Enrolled | Pending | Refused:
        """
        Read the CertRep answering our PKCSReq or CertPoll.

        @raise ScepError: as L{reply}, and badMessageCheck for a SUCCESS
            without a certificate for our key.
        """
        opened = self.reply(der)
        status = opened.message.pkiStatus
        if status is PkiStatus.PENDING:
            return Pending()
        if status is PkiStatus.FAILURE:
            return Refused(opened.message.failInfo)
        ours = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        for certificate in opened.certificates:
            if certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo) == ours:
                return Enrolled(certificate)
        raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the SUCCESS reply holds no certificate for our key")
