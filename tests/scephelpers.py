"""
Test helpers for SCEP: an RSA certificate server, and a client built from the
codec (the tests also check the messages with openssl, an independent
implementation).
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from srst.pki.ca import CertificateServer
from srst.pki.scep import (
    MessageType,
    PkiMessage,
    buildPkiMessage,
    decryptEnvelope,
    encryptEnvelope,
    issuerAndSerialNumber,
    issuerAndSubject,
    parseCertificatesOnly,
    parsePkiMessage,
)
from tests.pkihelpers import sharedKey

UTC = datetime.timezone.utc
START = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Now:
    """
    A settable wall clock.
    """

    def __init__(self, when: datetime.datetime = START) -> None:
        self.when = when

    def __call__(self) -> datetime.datetime:
        return self.when


def rsaCertificateServer(directory: str, now: Now, grant: str = "auto") -> CertificateServer:
    """
    A started certificate server with a shared RSA CA key (SCEP envelopes
    need RSA; generating one per test is slow).
    """
    os.makedirs(directory)
    key = sharedKey("scep-ca", "rsa", 2048)
    with open(os.path.join(directory, "ca.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    server = CertificateServer("srstcaserver", directory, "CN=srstcaserver", now=now, keyType="rsa", grant=grant)
    server.start()
    return server


def selfSigned(key: Any, subject: x509.Name, now: datetime.datetime) -> x509.Certificate:
    """
    The transient self-signed certificate a SCEP client signs PKCSReq with.
    """
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def makeCsr(key: Any, commonName: str, password: str | None = None) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)]))
    if password is not None:
        builder = builder.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, password.encode("utf-8"))
    return builder.sign(key, hashes.SHA256())


class Client:
    """
    A SCEP client made from the codec.
    """

    def __init__(self, ca: x509.Certificate, commonName: str, now: datetime.datetime, label: str = "client") -> None:
        self.ca = ca
        self.key = sharedKey("scep-" + label, "rsa", 2048)
        self.subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)])
        self.commonName = commonName
        self.certificate = selfSigned(self.key, self.subject, now)
        self.nonce = os.urandom(16)
        self.transactionId = "tx-" + label

    def message(self, messageType: MessageType, content: bytes, *, recipient: x509.Certificate | None = None,
                signer: tuple[x509.Certificate, Any] | None = None) -> bytes:
        certificate, key = signer or (self.certificate, self.key)
        return buildPkiMessage(messageType, self.transactionId, certificate, key,
                               envelope=encryptEnvelope(content, recipient or self.ca), senderNonce=self.nonce)

    def pkcsReq(self, password: str | None = None, **kwargs: Any) -> bytes:
        csr = makeCsr(self.key, self.commonName, password)
        return self.message(MessageType.PKCS_REQ, csr.public_bytes(serialization.Encoding.DER), **kwargs)

    def certPoll(self) -> bytes:
        return self.message(MessageType.CERT_POLL, issuerAndSubject(self.ca.subject, self.subject))

    def getCert(self, serial: int) -> bytes:
        return self.message(MessageType.GET_CERT, issuerAndSerialNumber(self.ca.subject, serial))

    def getCrl(self, serial: int) -> bytes:
        return self.message(MessageType.GET_CRL, issuerAndSerialNumber(self.ca.subject, serial))

    def reply(self, der: bytes, recipient: x509.Certificate | None = None,
              ) -> tuple[PkiMessage, list[x509.Certificate], list[x509.CertificateRevocationList]]:
        """
        Open a CertRep: check it is signed by the CA and answers our nonce,
        and decrypt its content.
        """
        message = parsePkiMessage(der)
        assert message.signer == self.ca, message.signer
        assert message.messageType == MessageType.CERT_REP, message.messageType
        assert message.recipientNonce == self.nonce
        assert message.transactionId == self.transactionId
        if message.envelope is None:
            return message, [], []
        certs, crls = parseCertificatesOnly(decryptEnvelope(message.envelope, recipient or self.certificate, self.key))
        return message, certs, crls
