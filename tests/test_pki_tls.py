"""
Tests for L{srst.pki.tls}: server contexts, the legacy profile and mutual
TLS failure reasons, all in memory with iosim.
"""

from __future__ import annotations

import os
from typing import Any

from OpenSSL import SSL
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from service_identity import VerificationError
from twisted.internet.ssl import optionsForClientTLS
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.pki import tls
from srst.pki.ca import CertificateServer
from srst.pki.tls import (
    HandshakeFailure,
    TLSContextError,
    describeSSLError,
    phoneClientTLSOptions,
    serverTLSOptions,
    trustRootFor,
)
from srst.pki.trust import IdentityTrustpoint, loadCertificateFile
from tests.pkihelpers import (
    ONE_DAY,
    TestCA,
    connectInMemory,
    connectPlain,
    fixture,
    issueCertificate,
    makeCA,
    makeExpiredCertificate,
    makePhoneCertificate,
    makeServerCertificate,
    resign,
    sharedKey,
    utcNow,
)
from tests.test_pki_ca import capture, warnings_

ROUTER_CA = makeCA("router CA")
ROUTER_CERT, ROUTER_KEY = makeServerCertificate(ROUTER_CA)
PHONE_CA = makeCA("phone CA")
PHONE_CERT, PHONE_KEY = makePhoneCertificate(PHONE_CA, "001122334455")
OTHER_CA = makeCA("other CA")


def server(profile: str = "modern", trusted: Any = (PHONE_CA.certificate,), **kwargs: Any) -> tls.ServerTLSOptions:
    """
    The router's server options (mutual TLS against C{trusted} unless None).
    """
    return serverTLSOptions("sccp secure", kwargs.pop("certificate", ROUTER_CERT), kwargs.pop("key", ROUTER_KEY),
                            [ROUTER_CA.certificate], profile=profile,
                            trustedCertificates=list(trusted) if trusted is not None else None)


def phone(certificate: Any = PHONE_CERT, key: Any = PHONE_KEY, **kwargs: Any) -> Any:
    """
    A phone's client options trusting the router CA.
    """
    return phoneClientTLSOptions([ROUTER_CA.certificate], certificate, key, **kwargs)


def weakCAPF() -> TestCA:
    """
    A CA like the seed's CAPF: RSA-1024, SHA-1, negative serial, X.509v3
    without basicConstraints.
    """
    key = sharedKey("capf", "rsa", 1024)
    bare = makeCA("CAPF-TEST", key, basicConstraints=False)
    return TestCA(resign(bare.certificate, key, "sha1", serial=b"\xf3\x01"), key)


class ServerContextTests(SynchronousTestCase):
    """
    Building server contexts.
    """

    def test_interface(self) -> None:
        """
        The options are an IOpenSSLServerConnectionCreator.
        """
        self.assertTrue(verifyObject(IOpenSSLServerConnectionCreator, server()))

    def test_modernHandshake(self) -> None:
        """
        A phone with a certificate from the trusted phone CA completes the
        handshake and its data arrives.
        """
        pair = connectInMemory(server(), phone())
        self.assertTrue(pair.server.handshakeDone)
        self.assertEqual(pair.server.received, b"hello")
        peer = pair.server.tlsTransport.getPeerCertificate().to_cryptography()
        self.assertEqual(peer.subject.rfc4514_string(), "CN=SEP001122334455")

    def test_modernMinimumIsTLS12(self) -> None:
        """
        The modern profile negotiates TLS 1.2 or newer with a current client.
        """
        pair = connectInMemory(server(trusted=None), phoneClientTLSOptions([ROUTER_CA.certificate]))
        version = pair.server.tlsTransport.getHandle().get_protocol_version_name()
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))

    def test_identityFromOwnCA(self) -> None:
        """
        A router identity enrolled with srst's own CA (IP SAN 127.0.0.1)
        passes service_identity for 127.0.0.1 and fails for 127.0.0.2.
        """
        directory = self.mktemp()
        cs = CertificateServer("srstcaserver", os.path.join(directory, "cs"), "CN=srstcaserver",
                               now=lambda: utcNow(), keyType="ecdsa", grant="auto")
        cs.start()
        tp = IdentityTrustpoint("srstca", os.path.join(directory, "tp"), keyType="ecdsa")
        tp.enrollWithServer(cs, ["branch-router"], ["127.0.0.1"])
        assert tp.certificate is not None
        options = serverTLSOptions("credentials", tp.certificate, tp.privateKey, tp.chain)
        root = trustRootFor([cs.caCertificate])
        good = connectInMemory(options, optionsForClientTLS("127.0.0.1", trustRoot=root))
        self.assertEqual(good.server.received, b"hello")
        bad = connectInMemory(options, optionsForClientTLS("127.0.0.2", trustRoot=root))
        self.assertEqual(bad.server.received, b"")
        self.assertIsNotNone(bad.client.lostReason.check(VerificationError))

    def test_weakIdentityModern(self) -> None:
        """
        An RSA-1024 identity is refused by the modern profile at build time,
        with a hint.
        """
        key = sharedKey("weak router", "rsa", 1024)
        cert, _ = makeServerCertificate(ROUTER_CA, "weak-router", key=key)
        error = self.assertRaises(TLSContextError, server, certificate=cert, key=key)
        self.assertIn("too small", str(error))
        self.assertIn("legacy", str(error))

    def test_weakIdentityLegacy(self) -> None:
        """
        The legacy profile serves an RSA-1024 identity to a legacy phone.
        """
        key = sharedKey("weak router", "rsa", 1024)
        cert, _ = makeServerCertificate(ROUTER_CA, "weak-router", key=key)
        pair = connectInMemory(server("legacy", certificate=cert, key=key), phone(profile="legacy"))
        self.assertEqual(pair.server.received, b"hello")

    def test_emptyTrustList(self) -> None:
        """
        Mutual TLS needs at least one trusted certificate.
        """
        self.assertRaises(ValueError, server, trusted=[])

    def test_unknownProfile(self) -> None:
        """
        An unknown profile is a ValueError.
        """
        self.assertRaises(ValueError, server, "ancient")


class LegacyProfileTests(SynchronousTestCase):
    """
    The one place security is lowered.
    """

    def test_tls10ClientModernFails(self) -> None:
        """
        A TLS 1.0-only phone cannot connect to a modern listener; the reason
        is the protocol version.
        """
        options = server()
        pair = connectInMemory(options, phone(tls10Only=True))
        self.assertFalse(pair.server.handshakeDone)
        failure = options.handshakeFailure(pair.server.tlsTransport, pair.server.lostReason)
        self.assertEqual(failure.reason, tls.PROTOCOL_VERSION)

    def test_tls10ClientLegacyWorks(self) -> None:
        """
        The same phone connects to a legacy listener over TLS 1.0.
        """
        pair = connectInMemory(server("legacy"), phone(tls10Only=True))
        self.assertEqual(pair.server.received, b"hello")
        self.assertEqual(pair.server.tlsTransport.getHandle().get_protocol_version_name(), "TLSv1")

    def test_weakPhoneKey(self) -> None:
        """
        A phone certificate with an RSA-1024 key is refused by modern
        ("key too small") and accepted by legacy.
        """
        key = sharedKey("old phone", "rsa", 1024)
        cert, _ = makePhoneCertificate(PHONE_CA, "00AA00AA00AA", key=key)
        modern = server()
        refused = connectInMemory(modern, phone(cert, key, profile="legacy"))
        self.assertEqual(modern.handshakeFailure(refused.server.tlsTransport, refused.server.lostReason).reason,
                         tls.KEY_TOO_SMALL)
        accepted = connectInMemory(server("legacy"), phone(cert, key, profile="legacy"))
        self.assertEqual(accepted.server.received, b"hello")

    def test_sha1PhoneCertificate(self) -> None:
        """
        A SHA-1-signed phone certificate is refused by modern ("weak
        signature hash") and accepted by legacy.
        """
        caKey = sharedKey("rsa phone CA", "rsa", 2048)
        ca = makeCA("rsa phone CA", caKey)
        cert, key = makePhoneCertificate(ca, "00BB00BB00BB")
        old = resign(cert, caKey, "sha1")
        modern = server(trusted=[ca.certificate])
        refused = connectInMemory(modern, phone(old, key, profile="legacy"))
        self.assertEqual(modern.handshakeFailure(refused.server.tlsTransport, refused.server.lostReason).reason,
                         tls.WEAK_SIGNATURE_HASH)
        accepted = connectInMemory(server("legacy", trusted=[ca.certificate]), phone(old, key, profile="legacy"))
        self.assertEqual(accepted.server.received, b"hello")

    def test_capfLikeAnchor(self) -> None:
        """
        An LSC from a CAPF-like CA (RSA-1024, SHA-1, negative serial, no
        basicConstraints) is accepted by legacy; modern refuses the CA's key.
        """
        capf = weakCAPF()
        lsc, key = makePhoneCertificate(capf, "00CC00CC00CC")
        events = capture(self)
        legacy = server("legacy", trusted=[capf.certificate])
        self.assertEqual(len(warnings_(events, "no basicConstraints")), 1)
        accepted = connectInMemory(legacy, phone(lsc, key, profile="legacy"))
        self.assertEqual(accepted.server.received, b"hello")
        modern = server(trusted=[capf.certificate])
        refused = connectInMemory(modern, phone(lsc, key, profile="legacy"))
        failure = modern.handshakeFailure(refused.server.tlsTransport, refused.server.lostReason)
        self.assertEqual((failure.reason, failure.depth), (tls.KEY_TOO_SMALL, 1))
        self.assertEqual(self.flushWarnings(), [])

    def test_unmarkedAnchorStillChecksTheLeaf(self) -> None:
        """
        Forgiving a CAPF-like anchor's missing basicConstraints does not
        forgive the phone certificate's own problems (expiry).
        """
        capf = weakCAPF()
        expired, key = makeExpiredCertificate(capf, "SEP00DD00DD00DD")
        options = server("legacy", trusted=[capf.certificate])
        pair = connectInMemory(options, phone(expired, key, profile="legacy"))
        self.assertEqual(options.handshakeFailure(pair.server.tlsTransport, pair.server.lostReason).reason,
                         tls.CERTIFICATE_EXPIRED)

    def test_seedTrustpoints(self) -> None:
        """
        The seed's phone CA certificates (negative serial, SHA-1, RSA-1024)
        build a legacy trust root without warnings from cryptography.
        """
        seed = [loadCertificateFile(fixture(n))[0] for n in ("CiscoCA.pem", "a69d2e04.0", "59fe77ccd.0")]
        options = server("legacy", trusted=seed)
        self.assertTrue(options.mutual)
        pair = connectInMemory(options, phone(profile="legacy"))
        self.assertEqual(options.handshakeFailure(pair.server.tlsTransport, pair.server.lostReason).reason,
                         tls.UNKNOWN_ISSUER)
        self.assertEqual(self.flushWarnings(), [])

    def test_warning(self) -> None:
        """
        Building a legacy context logs a warning naming the listener.
        """
        events = capture(self)
        server("legacy")
        found = warnings_(events, "legacy profile")
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0]["listener"], "sccp secure")

    def test_cipherDirectiveLast(self) -> None:
        """
        The legacy cipher list ends with @SECLEVEL=0 and includes the
        CBC-SHA suites old phones offer.
        """
        options = server("legacy").certificateOptions
        cipherString = options._cipherString  # type: ignore[attr-defined]
        self.assertTrue(cipherString.endswith(":@SECLEVEL=0"))
        self.assertIn("AES128-SHA", cipherString.split(":"))
        self.assertNotIn("@SECLEVEL", server().certificateOptions._cipherString)  # type: ignore[attr-defined]


class MutualTLSReasonTests(SynchronousTestCase):
    """
    Why a phone's handshake failed.
    """

    def reasonFor(self, client: Any, options: Any = None) -> HandshakeFailure:
        options = options or server()
        pair = connectInMemory(options, client)
        self.assertFalse(pair.server.handshakeDone)
        self.assertEqual(pair.server.received, b"")
        self.assertIsNotNone(pair.server.lostReason)
        return options.handshakeFailure(pair.server.tlsTransport, pair.server.lostReason)

    def test_noClientCertificate(self) -> None:
        """
        A phone without a certificate: "no client certificate".
        """
        failure = self.reasonFor(phone(None, None))
        self.assertEqual(failure.reason, tls.NO_CLIENT_CERTIFICATE)
        self.assertIsNone(failure.verifyCode)

    def test_unknownIssuer(self) -> None:
        """
        A certificate from another CA: "unknown issuer", with the subject.
        """
        cert, key = makePhoneCertificate(OTHER_CA, "0000000000AA")
        failure = self.reasonFor(phone(cert, key))
        self.assertEqual(failure.reason, tls.UNKNOWN_ISSUER)
        self.assertEqual(failure.verifyCode, 20)
        self.assertEqual(failure.depth, 0)
        self.assertEqual(failure.subject, "CN=SEP0000000000AA")
        self.assertIn("X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY", failure.detail)

    def test_expired(self) -> None:
        """
        An expired certificate: "certificate expired".
        """
        cert, key = makeExpiredCertificate(PHONE_CA)
        self.assertEqual(self.reasonFor(phone(cert, key)).reason, tls.CERTIFICATE_EXPIRED)

    def test_notYetValid(self) -> None:
        """
        A certificate from the future: "certificate not yet valid".
        """
        now = utcNow()
        cert, key = makePhoneCertificate(PHONE_CA, "0000000000BB", notBefore=now + 10 * ONE_DAY,
                                         notAfter=now + 20 * ONE_DAY)
        self.assertEqual(self.reasonFor(phone(cert, key)).reason, tls.CERTIFICATE_NOT_YET_VALID)

    def test_wrongExtendedKeyUsage(self) -> None:
        """
        A certificate for serverAuth only: "wrong key usage".
        """
        cert, key = issueCertificate(PHONE_CA, "SEP0000000000CC", serverAuth=True, clientAuth=False)
        self.assertEqual(self.reasonFor(phone(cert, key)).reason, tls.WRONG_KEY_USAGE)

    def test_wrongKeyUsage(self) -> None:
        """
        A certificate whose keyUsage lacks digitalSignature: "wrong key usage".
        """
        cert, key = issueCertificate(PHONE_CA, "SEP0000000000DD", digitalSignature=False)
        self.assertEqual(self.reasonFor(phone(cert, key)).reason, tls.WRONG_KEY_USAGE)

    def test_selfSigned(self) -> None:
        """
        A self-signed phone certificate: "self-signed certificate".
        """
        selfSigned = makeCA("SEP0000000000EE")
        self.assertEqual(self.reasonFor(phone(selfSigned.certificate, selfSigned.key)).reason, tls.SELF_SIGNED)

    def test_reasonWithoutMutual(self) -> None:
        """
        Without mutual TLS the reason comes from OpenSSL's error alone.
        """
        options = server(trusted=None)
        self.assertFalse(options.mutual)
        failure = self.reasonFor(phone(tls10Only=True), options)
        self.assertEqual(failure.reason, tls.PROTOCOL_VERSION)

    def test_plainTextClient(self) -> None:
        """
        A plain SCCP client on the TLS port fails the handshake as "not TLS".
        """
        options = server()
        register = b"\x28\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00" + b"SEP001122334455".ljust(40, b"\x00")
        pair = connectPlain(options, register)
        self.assertFalse(pair.server.handshakeDone)
        self.assertEqual(options.handshakeFailure(pair.server.tlsTransport, pair.server.lostReason).reason,
                         tls.NOT_TLS)


class DescribeTests(SynchronousTestCase):
    """
    describeSSLError on its own.
    """

    def test_connectionClosed(self) -> None:
        """
        A connection closed before the handshake ends is named as such.
        """
        self.assertEqual(describeSSLError(Failure(ConnectionDone())).reason, tls.CONNECTION_CLOSED)

    def test_unknownSSLError(self) -> None:
        """
        An unrecognised OpenSSL error keeps its words under "handshake failed".
        """
        failure = describeSSLError(SSL.Error([("SSL routines", "", "something new")]))
        self.assertEqual((failure.reason, failure.detail), (tls.HANDSHAKE_FAILED, "something new"))

    def test_otherException(self) -> None:
        """
        Any other exception is a failed handshake with its type in the detail.
        """
        failure = describeSSLError(RuntimeError("boom"))
        self.assertEqual(failure.reason, tls.HANDSHAKE_FAILED)
        self.assertIn("RuntimeError", failure.detail)
