"""
Tests for L{srst.pki.scepclient}: the router's SCEP client against the
router's own SCEP server (sans-IO both ways).
"""

from __future__ import annotations

import hashlib
import os

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from twisted.trial.unittest import SynchronousTestCase

from srst.pki.scep import FailInfo, MessageType, ScepError, parsePkiMessage
from srst.pki.scepclient import Enrolled, Pending, Refused, ScepClient, transactionIdFor
from srst.pki.scepserver import ChallengePasswords, ScepServer
from tests.pkihelpers import sharedKey
from tests.scephelpers import START, Now, rsaCertificateServer, selfSigned

SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router-b.example.com")])


class ScepClientTests(SynchronousTestCase):
    def setUpServer(self, grant: str) -> None:
        self.now = Now()
        self.ca = rsaCertificateServer(os.path.join(self.mktemp(), "srstcaserver"), self.now, grant)
        self.passwords = ChallengePasswords(self.now)
        self.scep = ScepServer(self.ca, self.passwords, now=self.now)
        self.key = sharedKey("scep-router-b", "rsa", 2048)
        self.client = ScepClient(self.ca.caCertificate, self.key, SUBJECT, self.now)

    def ask(self, message: bytes) -> Enrolled | Pending | Refused:
        return self.client.outcome(self.scep.pkiOperation(message).der)

    def assertOurs(self, outcome: Enrolled | Pending | Refused) -> x509.Certificate:
        assert isinstance(outcome, Enrolled), outcome
        certificate = outcome.certificate
        self.assertEqual((certificate.subject, certificate.issuer), (SUBJECT, self.ca.caCertificate.subject))
        self.assertEqual(certificate.public_key(), self.key.public_key())
        return certificate

    def test_grantAuto(self) -> None:
        """
        PKCSReq carries a CSR for the trustpoint's key and subject, signed by
        a transient self-signed certificate; with grant auto the CertRep is
        SUCCESS and holds the certificate issued for that key.
        """
        self.setUpServer("auto")
        request = self.client.pkcsReq()
        message = parsePkiMessage(request)
        self.assertEqual((message.messageType, message.transactionId, message.senderNonce),
                         (MessageType.PKCS_REQ, transactionIdFor(self.key), self.client.nonce))
        self.assertEqual((message.signer.subject, message.signer.issuer), (SUBJECT, SUBJECT))
        certificate = self.assertOurs(self.ask(request))
        self.assertEqual(certificate.serial_number, self.ca.lastSerial)

    def test_grantManualThenPoll(self) -> None:
        """
        With grant manual the PKCSReq and every CertPoll are PENDING until
        the operator grants the request; the next CertPoll is SUCCESS.
        """
        self.setUpServer("manual")
        self.assertEqual(self.ask(self.client.pkcsReq()), Pending())
        self.assertEqual(self.ask(self.client.certPoll()), Pending())
        [request] = self.ca.pendingRequests()
        granted = self.ca.grant(request.id)
        self.assertEqual(self.assertOurs(self.ask(self.client.certPoll())), granted)

    def test_challengePassword(self) -> None:
        """
        A one-time password from C{crypto pki server <name> password
        generate} is carried in the CSR and enrolls at once under grant
        manual; a wrong one is FAILURE badRequest.
        """
        self.setUpServer("manual")
        self.passwords.generate()
        refused = self.ask(self.client.pkcsReq("guess"))
        self.assertEqual(refused, Refused(FailInfo.BAD_REQUEST))
        assert isinstance(refused, Refused)
        self.assertEqual(refused.reason, "badRequest")
        self.assertOurs(self.ask(self.client.pkcsReq(self.passwords.generate())))

    def test_rejected(self) -> None:
        """
        A request the operator rejects: CertPoll is FAILURE badRequest.
        """
        self.setUpServer("manual")
        self.ask(self.client.pkcsReq())
        self.ca.reject(1)
        self.assertEqual(self.ask(self.client.certPoll()), Refused(FailInfo.BAD_REQUEST))

    def test_transactionId(self) -> None:
        """
        The transactionID is the SHA-256 of the key's SubjectPublicKeyInfo,
        so a poll after a restart names the same transaction.
        """
        key = sharedKey("scep-router-b", "rsa", 2048)
        spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        self.assertEqual(transactionIdFor(key), hashlib.sha256(spki).hexdigest().upper())

    def test_staleNonce(self) -> None:
        """
        A CertRep that does not echo the nonce of the last request is refused
        with the reason; the answer to the last one is read.
        """
        self.setUpServer("auto")
        stale = self.scep.pkiOperation(self.client.pkcsReq()).der
        fresh = self.client.pkcsReq()
        e = self.assertRaises(ScepError, self.client.outcome, stale)
        self.assertEqual((e.failInfo, e.reason), (FailInfo.BAD_MESSAGE_CHECK, "the reply does not echo our nonce"))
        self.assertOurs(self.ask(fresh))

    def test_notThePinnedCA(self) -> None:
        """
        A CertRep signed by another CA than the one the client pinned is
        refused, naming the signer.
        """
        self.setUpServer("auto")
        pinned = selfSigned(sharedKey("scep-impostor", "rsa", 2048),
                            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pinned")]), START)
        client = ScepClient(pinned, self.key, SUBJECT, self.now)
        request = client.message(MessageType.PKCS_REQ, client.csr().public_bytes(serialization.Encoding.DER),
                                 recipient=self.ca.caCertificate)
        e = self.assertRaises(ScepError, client.outcome, self.scep.pkiOperation(request).der)
        self.assertEqual(e.reason, "the reply is signed by CN=srstcaserver, not the CA")

    def test_rsaOnly(self) -> None:
        """
        SCEP replies are encrypted to the requester, so an ECDSA trustpoint
        key cannot enroll over SCEP; the error says so.
        """
        self.setUpServer("auto")
        e = self.assertRaises(ScepError, ScepClient, self.ca.caCertificate, sharedKey("scep-router-b-ec"),
                              SUBJECT, self.now)
        self.assertEqual(str(e), "badAlg: SCEP enrollment needs an RSA key (replies are encrypted to it)")
