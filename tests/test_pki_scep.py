"""
Tests for L{srst.pki.scep}: the SCEP message codec.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from srst.pki.scep import (
    FailInfo,
    MessageType,
    PkiStatus,
    ScepError,
    buildPkiMessage,
    certificatesOnly,
    decryptEnvelope,
    encryptEnvelope,
    issuerAndSerialNumber,
    issuerAndSubject,
    parseCertificatesOnly,
    parseIssuerAndSerialNumber,
    parseIssuerAndSubject,
    parsePkiMessage,
)
from tests.pkihelpers import sharedKey
from tests.scephelpers import START, selfSigned

KEY = sharedKey("scep-client", "rsa", 2048)
OTHER = sharedKey("scep-other", "rsa", 2048)
EC = sharedKey("scep-ec")


def _cert(key: Any, cn: str = "client") -> x509.Certificate:
    return selfSigned(key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]), START)


class CodecTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.cert = _cert(KEY)
        self.other = _cert(OTHER, "other")

    def test_roundTrip(self) -> None:
        """
        Every SCEP attribute written is read back, and the envelope opens
        with the recipient's key.
        """
        env = encryptEnvelope(b"payload", self.other)
        der = buildPkiMessage(MessageType.CERT_REP, "tx", self.cert, KEY, envelope=env, senderNonce=b"s" * 16,
                              recipientNonce=b"r" * 16, pkiStatus=PkiStatus.FAILURE, failInfo=FailInfo.BAD_CERT_ID,
                              digest="sha512")
        m = parsePkiMessage(der)
        self.assertEqual((m.messageType, m.transactionId, m.senderNonce, m.recipientNonce, m.pkiStatus,
                          m.failInfo, m.signer, m.digestAlgorithm),
                         (3, "tx", b"s" * 16, b"r" * 16, PkiStatus.FAILURE, FailInfo.BAD_CERT_ID, self.cert, "sha512"))
        self.assertEqual(decryptEnvelope(m.envelope, self.other, OTHER), b"payload")

    def test_ecdsaSigner(self) -> None:
        """
        An ECDSA signer's message verifies too (the CertRep of an EC CA).
        """
        ec = _cert(EC, "ec")
        self.assertEqual(parsePkiMessage(buildPkiMessage(MessageType.GET_CRL, "t", ec, EC)).signer, ec)

    def test_wrongRecipient(self) -> None:
        """
        An envelope for someone else: badMessageCheck.
        """
        e = self.assertRaises(ScepError, decryptEnvelope, encryptEnvelope(b"x", self.cert), self.other, OTHER)
        self.assertEqual(e.failInfo, FailInfo.BAD_MESSAGE_CHECK)
        self.assertIn("does not decrypt", str(e))

    def test_tamperedContent(self) -> None:
        """
        A content that does not match the signed messageDigest: badMessageCheck.
        """
        der = bytearray(buildPkiMessage(MessageType.PKCS_REQ, "tx", self.cert, KEY,
                                        envelope=encryptEnvelope(b"x" * 64, self.other)))
        i = der.index(b"\x04\x10", 200)  # inside the envelope
        der[i + 5] ^= 1
        e = self.assertRaises(ScepError, parsePkiMessage, bytes(der))
        self.assertEqual(e.failInfo, FailInfo.BAD_MESSAGE_CHECK)

    def test_helpers(self) -> None:
        """
        IssuerAndSerialNumber, IssuerAndSubject and certificates-only
        messages round-trip.
        """
        self.assertEqual(parseIssuerAndSerialNumber(issuerAndSerialNumber(self.cert.subject, 0x1234)),
                         (self.cert.subject.public_bytes(), 0x1234))
        self.assertEqual(parseIssuerAndSubject(issuerAndSubject(self.cert.subject, self.other.subject)),
                         (self.cert.subject.public_bytes(), self.other.subject.public_bytes()))
        certs, crls = parseCertificatesOnly(certificatesOnly([self.cert, self.other]))
        self.assertEqual((set(certs), crls), ({self.cert, self.other}, []))  # a DER SET OF: sorted
        self.assertEqual(self.assertRaises(ScepError, parseIssuerAndSubject, b"\x30\x00").failInfo,
                         FailInfo.BAD_REQUEST)

    @settings(max_examples=50, deadline=None)
    @given(st.binary(max_size=300))
    def test_garbageNeverEscapes(self, data: bytes) -> None:
        """
        Whatever the bytes, parsing raises only ScepError (badMessageCheck).
        """
        try:
            parsePkiMessage(data)
        except ScepError as e:
            self.assertEqual(e.failInfo, FailInfo.BAD_MESSAGE_CHECK)

    def test_truncationNeverEscapes(self) -> None:
        """
        Every truncation of a real message is a clean badMessageCheck.
        """
        der = buildPkiMessage(MessageType.PKCS_REQ, "tx", self.cert, KEY, envelope=encryptEnvelope(b"x", self.other))
        for n in range(0, len(der), 7):
            self.assertEqual(self.assertRaises(ScepError, parsePkiMessage, der[:n]).failInfo,
                             FailInfo.BAD_MESSAGE_CHECK)
