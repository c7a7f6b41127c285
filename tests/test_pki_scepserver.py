"""
Tests for L{srst.pki.scepserver}: the certificate server's SCEP operations.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from srst.pki._requests import RequestState
from srst.pki.scep import FailInfo, MessageType, PkiStatus
from srst.pki.scepclient import ScepClient
from srst.pki.scepserver import CAPABILITIES, ChallengePasswords, ScepServer, UnusableMessage
from tests.pkihelpers import sharedKey
from tests.scephelpers import START, Client, Now, rsaCertificateServer, selfSigned


class ScepServerMixin:
    def setUpServer(self, grant: str = "auto") -> None:
        self.now = Now()
        self.directory = os.path.join(self.mktemp(), "srstcaserver")  # type: ignore[attr-defined]
        self.ca = rsaCertificateServer(self.directory, self.now, grant)
        self.passwords = ChallengePasswords(self.now)
        self.scep = ScepServer(self.ca, self.passwords, now=self.now)
        self.client = Client(self.ca.caCertificate, "SEP001122334455", START)
        self.events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)  # type: ignore[attr-defined]

    def logged(self) -> str:
        return "\n".join(e.get("log_format", "").format(**e) for e in self.events
                         if e.get("log_namespace") == "srst.pki.scep")

    def answer(self, message: bytes, recipient: x509.Certificate | None = None,
               ) -> tuple[Any, list[x509.Certificate], list[x509.CertificateRevocationList]]:
        certRep = self.scep.pkiOperation(message)
        self.refusal = certRep.refusal
        reply = self.client.reply(certRep.der, recipient)
        self.assertEqual((reply[0].pkiStatus, reply[0].failInfo),  # type: ignore[attr-defined]
                         (certRep.pkiStatus, certRep.failInfo))
        return reply

    def assertFailure(self, message: bytes, failInfo: FailInfo, reason: str) -> None:
        lastSerial = self.ca.lastSerial
        reply, certs, _ = self.answer(message)
        self.assertEqual((reply.pkiStatus, reply.failInfo, certs), (PkiStatus.FAILURE, failInfo, []))  # type: ignore[attr-defined]
        self.assertIn(reason, self.refusal)  # type: ignore[attr-defined]
        self.assertEqual(self.ca.lastSerial, lastSerial)  # type: ignore[attr-defined]


class GetOperationsTests(ScepServerMixin, SynchronousTestCase):
    def setUp(self) -> None:
        self.setUpServer()

    def test_capabilities(self) -> None:
        """
        GetCACaps lists what pkiOperation implements, one keyword a line.
        """
        self.assertEqual(self.scep.capabilities().decode("ascii").split("\n"), [*CAPABILITIES, ""])
        self.assertIn("POSTPKIOperation", CAPABILITIES)
        self.assertIn("Renewal", CAPABILITIES)

    def test_caCertificate(self) -> None:
        """
        GetCACert is the CA certificate, DER.
        """
        self.assertEqual(x509.load_der_x509_certificate(self.scep.caCertificate()), self.ca.caCertificate)


class AutoGrantTests(ScepServerMixin, SynchronousTestCase):
    def setUp(self) -> None:
        self.setUpServer("auto")

    def test_pkcsReqGrantAuto(self) -> None:
        """
        With grant auto a PKCSReq is answered SUCCESS with the issued
        certificate, enveloped to the client's key and signed by the CA.
        """
        reply, certs, _ = self.answer(self.client.pkcsReq())
        self.assertEqual(reply.pkiStatus, PkiStatus.SUCCESS)
        [cert] = certs
        self.assertEqual(cert.subject, self.client.subject)
        cert.verify_directly_issued_by(self.ca.caCertificate)
        self.assertEqual(cert.serial_number, self.ca.lastSerial)

    def test_getCertAndCrl(self) -> None:
        """
        GetCert answers the certificate with that serial; GetCRL the CA's CRL;
        an unknown serial is FAILURE badCertId.
        """
        _, [cert], _ = self.answer(self.client.pkcsReq())
        _, certs, _ = self.answer(self.client.getCert(cert.serial_number))
        self.assertEqual(certs, [cert])
        self.ca.revoke(cert.serial_number)
        _, _, [crl] = self.answer(self.client.getCrl(cert.serial_number))
        self.assertEqual(crl.public_bytes(serialization.Encoding.DER),
                         self.ca.crl.public_bytes(serialization.Encoding.DER))
        self.assertIsNotNone(crl.get_revoked_certificate_by_serial_number(cert.serial_number))
        self.assertFailure(self.client.getCert(0x77), FailInfo.BAD_CERT_ID, "no certificate with serial 0x77")

    def test_renewal(self) -> None:
        """
        A RenewalReq signed by a valid certificate this CA issued gets a new
        certificate; once that certificate is revoked, renewal fails.
        """
        _, [cert], _ = self.answer(self.client.pkcsReq())
        signer = (cert, self.client.key)
        reply, [renewed], _ = self.answer(self.client.message(
            MessageType.RENEWAL_REQ, _csrDer(self.client), signer=signer), recipient=cert)
        self.assertEqual(reply.pkiStatus, PkiStatus.SUCCESS)
        self.assertGreater(renewed.serial_number, cert.serial_number)
        self.ca.revoke(cert.serial_number)
        reply, certs, _ = self.answer(self.client.message(
            MessageType.RENEWAL_REQ, _csrDer(self.client), signer=signer))
        self.assertEqual((reply.pkiStatus, reply.failInfo, certs), (PkiStatus.FAILURE, FailInfo.BAD_REQUEST, []))
        self.assertEqual(self.refusal, "RenewalReq transaction tx-client from CN=SEP001122334455 failed: badRequest: the signer's certificate (serial 0x2) is revoked", self.logged())

    def test_renewalOtherIdentity(self) -> None:
        """
        A RenewalReq renews the signer's own identity: a phone's certificate
        cannot sign a request for the router's subject, nor for a
        subjectAltName its certificate does not hold (FAILURE badRequest,
        nothing issued); the same subject and names renew.
        """
        router = ScepClient(self.ca.caCertificate, self.client.key, x509.Name.from_rfc4514_string("CN=branch-router"),
                            lambda: START, transactionId="tx-client", dnsNames=["branch-router.example.com"],
                            ipAddresses=["192.0.2.1"])
        phone = self.client
        self.client = router
        _, [routerCert], _ = self.answer(router.pkcsReq())
        self.client = phone
        _, [cert], _ = self.answer(self.client.pkcsReq())
        signer = (cert, self.client.key)
        self.assertFailure(self.client.message(MessageType.RENEWAL_REQ, _csrDer(router), signer=signer),
                           FailInfo.BAD_REQUEST,
                           "the request's subject CN=branch-router is not the signer's CN=SEP001122334455")
        widened = ScepClient(self.ca.caCertificate, self.client.key, self.client.subject, lambda: START,
                             transactionId="tx-client", dnsNames=["branch-router.example.com"])
        self.assertFailure(self.client.message(MessageType.RENEWAL_REQ, _csrDer(widened), signer=signer),
                           FailInfo.BAD_REQUEST, "the request asks for subjectAltNames the signer's certificate"
                           " does not hold: branch-router.example.com")
        narrower = ScepClient(self.ca.caCertificate, self.client.key, router.subject, lambda: START,
                              transactionId="tx-client", ipAddresses=["192.0.2.1"])
        self.client = router
        reply, [renewed], _ = self.answer(router.message(
            MessageType.RENEWAL_REQ, _csrDer(narrower), signer=(routerCert, self.client.key)), recipient=routerCert)
        self.assertEqual((reply.pkiStatus, renewed.subject), (PkiStatus.SUCCESS, router.subject))

    def test_renewalSelfSigned(self) -> None:
        """
        A RenewalReq signed by a certificate this CA did not issue fails.
        """
        self.assertFailure(self.client.message(MessageType.RENEWAL_REQ, _csrDer(self.client)),
                           FailInfo.BAD_MESSAGE_CHECK, "was not issued by this CA")

    def test_garbage(self) -> None:
        """
        A body that is not a SCEP message cannot be answered with a CertRep.
        """
        e = self.assertRaises(UnusableMessage, self.scep.pkiOperation, b"\x30\x03garbage")
        self.assertIn("badMessageCheck: malformed pkiMessage", e.reason)

    def test_badSignature(self) -> None:
        """
        A message whose signature does not verify is unusable.
        """
        message = bytearray(self.client.pkcsReq())
        message[-3] ^= 0x55
        e = self.assertRaises(UnusableMessage, self.scep.pkiOperation, bytes(message))
        self.assertIn("signature does not verify", e.reason)

    def test_wrongRecipient(self) -> None:
        """
        A request enveloped to another certificate: FAILURE badMessageCheck,
        nothing issued.
        """
        other = selfSigned(sharedKey("scep-other", "rsa", 2048), self.client.subject, START)
        self.assertFailure(self.client.pkcsReq(recipient=other), FailInfo.BAD_MESSAGE_CHECK,
                           "the envelope does not decrypt")

    def test_csrBadSignature(self) -> None:
        """
        A CSR whose own signature is broken: FAILURE badMessageCheck.
        """
        der = bytearray(_csrDer(self.client))
        der[-3] ^= 0x55
        self.assertFailure(self.client.message(MessageType.PKCS_REQ, bytes(der)), FailInfo.BAD_MESSAGE_CHECK,
                           "the request's signature does not verify")

    def test_notACsr(self) -> None:
        """
        An envelope that holds no PKCS#10 request: FAILURE badRequest.
        """
        self.assertFailure(self.client.message(MessageType.PKCS_REQ, b"hello"), FailInfo.BAD_REQUEST,
                           "does not hold a PKCS#10 request")

    def test_unknownPoll(self) -> None:
        """
        A CertPoll for a request never made: FAILURE badCertId.
        """
        self.assertFailure(self.client.certPoll(), FailInfo.BAD_CERT_ID, "no request for this subject and key")

    def test_clockNotSet(self) -> None:
        """
        A clock before the CA's notBefore: FAILURE badTime.
        """
        self.now.when = START - datetime.timedelta(days=1)
        self.assertFailure(self.client.pkcsReq(), FailInfo.BAD_TIME, "clock")


class ManualGrantTests(ScepServerMixin, SynchronousTestCase):
    def setUp(self) -> None:
        self.setUpServer("manual")

    def test_pendingThenGranted(self) -> None:
        """
        With grant manual a PKCSReq is PENDING and queued in the request
        database; CertPoll stays PENDING until the operator grants it, then
        answers SUCCESS with the certificate.
        """
        reply, certs, _ = self.answer(self.client.pkcsReq())
        self.assertEqual((reply.pkiStatus, certs), (PkiStatus.PENDING, []))
        [request] = self.ca.pendingRequests()
        self.assertEqual(request.subject, "CN=SEP001122334455")
        self.assertIn("pending as request 1", self.logged())
        self.assertEqual(self.answer(self.client.certPoll())[0].pkiStatus, PkiStatus.PENDING)
        granted = self.ca.grant(request.id)
        reply, certs, _ = self.answer(self.client.certPoll())
        self.assertEqual((reply.pkiStatus, certs), (PkiStatus.SUCCESS, [granted]))

    def test_rejected(self) -> None:
        """
        Once the operator rejects the request, CertPoll is FAILURE.
        """
        self.answer(self.client.pkcsReq())
        self.ca.reject(1)
        self.assertEqual(self.ca.requests()[0].state, RequestState.REJECTED)
        self.assertFailure(self.client.certPoll(), FailInfo.BAD_REQUEST, "request 1 was rejected")

    def test_resentPkcsReqIsAPoll(self) -> None:
        """
        A PKCSReq sent again with the transactionID of one answered PENDING
        (certmonger's C{getcert resubmit}) is the same transaction: PENDING
        without queueing a second request, then the granted certificate.
        """
        self.answer(self.client.pkcsReq())
        reply, certs, _ = self.answer(self.client.pkcsReq())
        self.assertEqual((reply.pkiStatus, certs), (PkiStatus.PENDING, []))
        self.assertEqual([r.id for r in self.ca.requests()], [1])
        granted = self.ca.grant(1)
        reply, certs, _ = self.answer(self.client.pkcsReq())
        self.assertEqual((reply.pkiStatus, certs), (PkiStatus.SUCCESS, [granted]))
        self.assertEqual([r.id for r in self.ca.requests()], [1])

    def test_resentPkcsReqRejected(self) -> None:
        """
        Once the operator rejects the request, the PKCSReq sent again is
        FAILURE badRequest, and nothing new is queued.
        """
        self.answer(self.client.pkcsReq())
        self.ca.reject(1)
        self.assertFailure(self.client.pkcsReq(), FailInfo.BAD_REQUEST, "request 1 was rejected")
        self.assertEqual([r.id for r in self.ca.requests()], [1])

    def test_oneTimePassword(self) -> None:
        """
        A PKCSReq carrying a generated one-time password is issued at once even
        with grant manual; the password cannot be used twice.
        """
        password = self.passwords.generate()
        reply, [cert], _ = self.answer(self.client.pkcsReq(password))
        self.assertEqual(reply.pkiStatus, PkiStatus.SUCCESS)
        self.assertEqual(self.ca.pendingRequests(), [])
        self.assertFailure(self.client.pkcsReq(password), FailInfo.BAD_REQUEST,
                           "wrong, spent or expired challenge password")

    def test_wrongPassword(self) -> None:
        """
        A wrong challenge password: FAILURE badRequest, nothing queued.
        """
        self.passwords.generate()
        self.assertFailure(self.client.pkcsReq("guess"), FailInfo.BAD_REQUEST,
                           "wrong, spent or expired challenge password")
        self.assertEqual(self.ca.requests(), [])

    def test_expiredPassword(self) -> None:
        """
        A one-time password is refused after its lifetime.
        """
        password = self.passwords.generate(minutes=5)
        self.now.when = START + datetime.timedelta(minutes=5)
        self.assertFailure(self.client.pkcsReq(password), FailInfo.BAD_REQUEST, "expired challenge password")


class ChallengePasswordsTests(SynchronousTestCase):
    def test_range(self) -> None:
        """
        The lifetime is IOS's 1-1440 minutes.
        """
        passwords = ChallengePasswords(Now())
        self.assertIn("1-1440 minutes", str(self.assertRaises(ValueError, passwords.generate, 0)))
        self.assertEqual(len(passwords.generate(1440)), 16)


def _csrDer(client: ScepClient) -> bytes:
    return client.csr().public_bytes(serialization.Encoding.DER)
