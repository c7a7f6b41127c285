"""
Integration tests for L{srst.service}: the real router on 127.0.0.1 with
ephemeral ports, its CA made on first start, CallManager's credentials fetch,
the seed's control-plane policy, and the show commands.
"""

import os
import stat

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.defer import Deferred, DeferredList
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.config import ConfigError, loadString
from srst.pki.ca import certificateFingerprint
from srst.policing.meter import CONNECTION_ATTEMPT_BYTES
from srst.service import preflight
from srst.tools.ccm import fetchCredentials
from tests.routerhelpers import (
    SEED_POLICY,
    freePort,
    routerYaml,
    runCommand,
    startRouter,
    stateDirectory,
)


def readCA(stateDir):
    """
    The CA certificate the router made.
    """
    with open(os.path.join(stateDir, "pki", "server", "srstcaserver", "ca.crt"), "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


class FirstStartTests(TestCase):
    """
    A fresh state directory: CA and router certificate are created, and
    CallManager can fetch the router certificate.
    """

    timeout = 60

    @inlineCallbacks
    def test_caAndIdentityCreated(self):
        """
        On first start the CA (key mode 0600) and the router's certificate,
        issued by it with an IP SAN for the credentials address, exist.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir))
        caDir = os.path.join(stateDir, "pki", "server", "srstcaserver")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(caDir, "ca.key")).st_mode), 0o600)
        ca = readCA(stateDir)
        identity = service.identities["srstca"]
        self.assertEqual(identity.certificate.issuer, ca.subject)
        san = identity.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertIn("127.0.0.1", [str(ip) for ip in san.get_values_for_type(x509.IPAddress)])
        self.assertTrue(os.path.exists(os.path.join(caDir, "02.cer")))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(stateDir, "pki", "trustpoints", "srstca",
                                                           "key.pem")).st_mode), 0o600)

    @inlineCallbacks
    def test_fetchReturnsHandshakeCertificate(self):
        """
        srst-ccm's fetch gets the same certificate in the handshake and in the
        reply, it is the router's identity, and its chain verifies against
        the CA.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir))
        port = service.ports()["credentials"]
        result = yield fetchCredentials(reactor, "127.0.0.1", port, caCertificates=[readCA(stateDir)])
        self.assertTrue(result.matches)
        self.assertEqual(result.handshakeCertificate.public_bytes(Encoding.DER),
                         service.identities["srstca"].certificate.public_bytes(Encoding.DER))

    @inlineCallbacks
    def test_restartKeepsCAAndIdentity(self):
        """
        A second start on the same state directory keeps the CA fingerprint
        and the router certificate.
        """
        stateDir = stateDirectory(self)
        text = routerYaml(stateDir)
        first = yield startRouter(self, text)
        fingerprint = certificateFingerprint(readCA(stateDir))
        serial = first.identities["srstca"].certificate.serial_number
        yield first.stopService()
        second = yield startRouter(self, text)
        self.assertEqual(certificateFingerprint(readCA(stateDir)), fingerprint)
        self.assertEqual(second.identities["srstca"].certificate.serial_number, serial)
        self.assertEqual(second.certificateServer.lastSerial, 2)

    @inlineCallbacks
    def test_manualGrantWaitsForOperator(self):
        """
        With grant manual the credentials listener starts only after the
        operator grants the router's own enrollment request.
        """
        stateDir = stateDirectory(self)
        config = loadString(routerYaml(stateDir, grant="manual"), "t.yaml")
        from srst.service import RouterService, utcNow
        from tests.routerhelpers import synchronously

        service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        service.startService()
        self.addCleanup(service.stopService)
        ready = service.whenReady()
        self.assertNoResult(ready)
        self.assertNotIn("credentials", service.ports())
        result = yield runCommand(service, "crypto", "pki", "server", "srstcaserver", "info", "requests")
        self.assertIn("CN=branch-router", result.text)
        yield runCommand(service, "crypto", "pki", "server", "srstcaserver", "grant", "1")
        yield ready
        self.assertIsNotNone(service.ports()["credentials"])


class ShowTests(TestCase):
    """
    Show commands render the running router's values in the seed's format.
    """

    timeout = 60

    @inlineCallbacks
    def test_showCredentials(self):
        """
        show credentials prints exactly the seed's three lines.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir))
        result = yield runCommand(service, "show", "credentials")
        self.assertEqual(result.text.splitlines(), [
            "Credentials IP: 127.0.0.1",
            "Credentials PORT: 0",
            "Trustpoint: srstca",
        ])

    @inlineCallbacks
    def test_showCryptoPkiServer(self):
        """
        show crypto pki server follows the seed's sample line for line, with
        the running CA's fingerprint and last serial.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir))
        result = yield runCommand(service, "show", "crypto", "pki", "server")
        lines = result.text.splitlines()
        fingerprint = certificateFingerprint(readCA(stateDir))
        self.assertEqual(lines[0], "Certificate Server srstcaserver:")
        self.assertEqual(lines[1], "Status: enabled")
        self.assertEqual(lines[2], "Server's configuration is locked (enter \"shut\" to unlock it)")
        self.assertEqual(lines[3], "Issuer name: CN=srstcaserver")
        self.assertEqual(lines[4], f"CA cert fingerprint: {fingerprint}")
        self.assertEqual(lines[5], "Granting mode is: auto")
        self.assertEqual(lines[6], "Last certificate issued serial number: 0x2")
        self.assertTrue(lines[7].startswith("CA certificate expiration timer: "))
        self.assertTrue(lines[8].startswith("CRL NextUpdate timer: "))
        self.assertTrue(lines[9].startswith("Current storage dir: "))
        self.assertEqual(lines[10], "Database Level: Complete - all issued certs written as <serialnum>.cer")


class _Counting(Protocol):
    def connectionMade(self):
        self.factory.made += 1
        self.transport.write(b"\x16")  # a first byte, as a TLS client would send

    def connectionLost(self, reason):
        self.factory.lost.append(self.factory.made)
        if len(self.factory.lost) == self.factory.total:
            self.factory.done.callback(None)


class PolicingTests(TestCase):
    """
    The seed's Configuration 2 protects the credentials port: a trusted host
    fetches, everybody else is dropped and counted.
    """

    timeout = 60

    @inlineCallbacks
    def test_seedPolicyDropsUntrusted(self):
        """
        500 connections from 127.0.0.2 are all dropped (no TLS served) and
        counted, while every fetch from 127.0.0.1 succeeds.
        """
        stateDir = stateDirectory(self)
        port = freePort()
        service = yield startRouter(self, routerYaml(stateDir, credentialsPort=port,
                                                     extra=SEED_POLICY.format(port=port)))
        self.assertEqual(service.ports()["credentials"], port)
        factory = ClientFactory()
        factory.protocol = _Counting
        factory.made, factory.lost, factory.total = 0, [], 500
        factory.done = Deferred()
        received = []

        class Recorder(_Counting):
            def dataReceived(self, data):
                received.append(data)

        factory.protocol = Recorder
        for _ in range(500):
            reactor.connectTCP("127.0.0.1", port, factory, bindAddress=("127.0.0.2", 0))
        fetches = [fetchCredentials(reactor, "127.0.0.1", port) for _ in range(10)]
        results = yield DeferredList(fetches, fireOnOneErrback=True, consumeErrors=True)
        yield factory.done
        self.assertTrue(all(ok and r.matches for ok, r in results))
        self.assertEqual(received, [])
        stats = yield runCommand(service, "show", "policy-map", "control-plane")
        sccp, default = stats.data["classes"]
        self.assertEqual((sccp["name"], default["name"]), ("sccp-class", "class-default"))
        # Every attempt from 127.0.0.2 is one SYN-sized packet (60 bytes), policed and dropped.
        self.assertEqual((sccp["packets"], sccp["bytes"]), (500, 500 * CONNECTION_ATTEMPT_BYTES))
        self.assertEqual((sccp["droppedPackets"], sccp["droppedBytes"]), (500, 500 * CONNECTION_ATTEMPT_BYTES))
        self.assertEqual((sccp["refusedConnections"], sccp["abortedConnections"]), (500, 0))
        police = sccp["police"]
        self.assertEqual(police["conformedPackets"] + police["exceededPackets"], 500)
        self.assertEqual(police["conformedBytes"] + police["exceededBytes"], 500 * CONNECTION_ATTEMPT_BYTES)
        # bc 1500 bytes lets at most 25 attempts (plus what the bucket refills) conform.
        self.assertGreater(police["exceededPackets"], 400)
        # The trusted fetches from 127.0.0.1 fall to class-default and are never dropped.
        self.assertGreaterEqual(default["packets"], 10)
        self.assertEqual((default["droppedPackets"], default["refusedConnections"]), (0, 0))
        lines = stats.text.splitlines()
        at = lines.index("    Class-map: sccp-class (match-all)")
        self.assertEqual(lines[at + 1], f"      500 packets, {500 * CONNECTION_ATTEMPT_BYTES} bytes")
        self.assertIn(f"        conformed {police['conformedPackets']} packets, {police['conformedBytes']} bytes; "
                      "actions:", lines)
        self.assertIn(f"        exceeded {police['exceededPackets']} packets, {police['exceededBytes']} bytes; "
                      "actions:", lines)


class PreflightTests(SynchronousTestCase):
    """
    Certificate files named by the configuration are checked before start-up.
    """

    def test_nonCertificateFile(self):
        """
        A phone trustpoint file that is not PEM or DER stops start-up with a
        line naming its YAML path and file.
        """
        stateDir = stateDirectory(self)
        bogus = os.path.join(stateDir, "bogus.0")
        with open(bogus, "w") as f:
            f.write("not a certificate\n")
        config = loadString(routerYaml(stateDir, phoneCA=bogus), "t.yaml")
        error = self.assertRaises(ConfigError, preflight, config)
        self.assertIn("pki.trustpoints.7970.certificates[0]", str(error))
        self.assertIn("bogus.0", str(error))
