"""
Tests for L{srst.tools.ccm}: the CallManager stand-in's credentials fetch
and the C{srst-ccm} command line.
"""

from __future__ import annotations

import io
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet import protocol
from twisted.internet.defer import CancelledError
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import Clock
from twisted.internet.utils import getProcessOutputAndValue
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, connect
from twisted.trial.unittest import SynchronousTestCase, TestCase

import srst
from srst.credentials import CERTIFICATE_REQUEST, encodeCertificateReply
from srst.tools import ccm
from srst.tools._credentialsfetch import _FetchProtocol
from srst.tools.ccm import (
    EXIT_CA_FILE,
    EXIT_CONNECT,
    EXIT_MISMATCH,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_TLS,
    CAFileError,
    FetchConnectionFailed,
    FetchProtocolError,
    FetchResult,
    FetchTimedOut,
    FetchTLSFailed,
    fetchCredentials,
    fingerprint,
    loadCACertificates,
    makeParser,
    run,
)
from tests.routerhelpers import bounded
from tests.test_credentials import (
    CALLMANAGER,
    SERVER,
    makePKI,
    serverOptions,
    startCredentialsService,
)

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(srst.__file__)))


class ParserTests(SynchronousTestCase):
    """
    The C{srst-ccm} argument parser.
    """

    def test_fetchDefaults(self):
        """
        C{credentials fetch} defaults to port 2445, a 10 s timeout and no CA.
        """
        args = makeParser().parse_args(["credentials", "fetch", "--host", "10.1.1.22"])
        self.assertEqual((args.host, args.port, args.timeout, args.ca), ("10.1.1.22", 2445, 10.0, None))
        self.assertIs(args.func, ccm._credentialsFetch)

    def test_usageErrors(self):
        """
        A missing command, action or --host is a usage error (exit code 2).
        """
        parser = makeParser()
        for argv in ([], ["credentials"], ["credentials", "fetch"], ["mgcp"]):
            stderr = io.StringIO()
            self.patch(sys, "stderr", stderr)
            error = self.assertRaises(SystemExit, parser.parse_args, argv)
            self.assertEqual(error.code, 2, argv)


class ValueTests(SynchronousTestCase):
    """
    Fingerprints, results and CA files.
    """

    def test_fingerprintFormat(self):
        """
        Fingerprints are upper-case hex pairs joined by colons.
        """
        certificate = makePKI().server.certificate
        sha1 = fingerprint(certificate, hashes.SHA1())
        self.assertEqual(len(sha1), 59)
        self.assertEqual(sha1.replace(":", ""), certificate.fingerprint(hashes.SHA1()).hex().upper())

    def test_matches(self):
        """
        A result matches when both certificates are the same.
        """
        pki = makePKI()
        self.assertTrue(FetchResult(pki.server.certificate, pki.server.certificate).matches)
        self.assertFalse(FetchResult(pki.server.certificate, pki.otherServer.certificate).matches)

    def _write(self, data: bytes) -> str:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_loadPEMBundleAndDER(self):
        """
        A PEM file with several certificates, and a DER file, both load.
        """
        pki = makePKI()
        bundle = self._write(pki.ca.pem + pki.otherCA.pem)
        self.assertEqual(loadCACertificates(bundle), [pki.ca.certificate, pki.otherCA.certificate])
        der = self._write(pki.ca.der)
        self.assertEqual(loadCACertificates(der), [pki.ca.certificate])

    def test_badCAFiles(self):
        """
        A missing or non-certificate file raises L{CAFileError} naming it.
        """
        missing = self.mktemp()
        error = self.assertRaises(CAFileError, loadCACertificates, missing)
        self.assertIn(missing, str(error))
        junk = self._write(b"not a certificate")
        error = self.assertRaises(CAFileError, loadCACertificates, junk)
        self.assertIn("not a PEM or DER certificate", str(error))


class BadServer(protocol.Protocol):
    """
    A server inside TLS that answers the request with fixed bytes, then
    optionally closes.
    """

    def __init__(self, reply: bytes, close: bool) -> None:
        self.reply = reply
        self.close = close
        self.request = b""

    def dataReceived(self, data: bytes) -> None:
        self.request += data
        self.transport.write(self.reply)
        if self.close:
            self.transport.loseConnection()


class FetchProtocolTests(SynchronousTestCase):
    """
    L{_FetchProtocol} in memory against servers that answer badly.
    """

    def _exchange(self, reply: bytes, close: bool):
        clock = Clock()
        pki = makePKI()
        server = BadServer(reply, close)
        outcomes: list = []
        client = _FetchProtocol("10.1.1.22", 2445, CERTIFICATE_REQUEST, outcomes.append)
        serverTop = TLSMemoryBIOFactory(
            serverOptions(pki), False, protocol.Factory.forProtocol(lambda: server), clock=clock
        ).buildProtocol(CALLMANAGER)
        clientTop = TLSMemoryBIOFactory(
            CertificateOptions(), True, protocol.Factory.forProtocol(lambda: client), clock=clock
        ).buildProtocol(SERVER)
        connect(
            serverTop,
            FakeTransport(serverTop, True, SERVER, CALLMANAGER),
            clientTop,
            FakeTransport(clientTop, False, CALLMANAGER, SERVER),
            clock=clock,
        )
        self.assertEqual(server.request, CERTIFICATE_REQUEST)
        [outcome] = outcomes
        return outcome

    def test_goodReply(self):
        """
        A length-prefixed DER certificate gives a result with both
        certificates.
        """
        der = makePKI().server.der
        outcome = self._exchange(encodeCertificateReply(der), close=False)
        self.assertIsInstance(outcome, FetchResult)
        self.assertTrue(outcome.matches)

    def test_replyTooLarge(self):
        """
        A reply announcing more than 64 KiB is a protocol error.
        """
        outcome = self._exchange(b"\x00\x01\x00\x01", close=False)
        self.assertIsInstance(outcome, Failure)
        self.assertIsInstance(outcome.value, FetchProtocolError)
        self.assertIn("65537 bytes", str(outcome.value))

    def test_replyNotACertificate(self):
        """
        A well-framed reply that is not DER X.509 is a protocol error.
        """
        outcome = self._exchange(encodeCertificateReply(b"hello"), close=False)
        self.assertIsInstance(outcome.value, FetchProtocolError)
        self.assertIn("not a DER certificate", str(outcome.value))

    def test_closedBeforeReplyComplete(self):
        """
        A server that closes in the middle of the reply is a protocol error
        saying how much arrived.
        """
        der = makePKI().server.der
        outcome = self._exchange(encodeCertificateReply(der)[:10], close=True)
        self.assertIsInstance(outcome.value, FetchProtocolError)
        self.assertIn("after 10 bytes of the reply", str(outcome.value))


class FetchTests(TestCase):
    """
    L{fetchCredentials} against real sockets on 127.0.0.1.
    """

    timeout = 30

    def setUp(self):
        from twisted.internet import reactor

        self.reactor = reactor

    @bounded
    def test_fetchReturnsHandshakeCertificate(self):
        """
        The fetch returns the certificate the handshake presented, and the
        reply carries the same certificate.
        """
        service = startCredentialsService(self, self.reactor)
        result = yield fetchCredentials(self.reactor, "127.0.0.1", service.port, timeout=5)
        self.assertEqual(result.handshakeCertificate, makePKI().server.certificate)
        self.assertEqual(result.replyCertificate, result.handshakeCertificate)
        self.assertEqual(service.factory.statistics.requestsAnswered, 1)

    @bounded
    def test_fetchVerifiesAgainstCA(self):
        """
        With the issuing CA the chain and the IP subjectAltName verify.
        """
        service = startCredentialsService(self, self.reactor)
        result = yield fetchCredentials(
            self.reactor, "127.0.0.1", service.port, [makePKI().ca.certificate], timeout=5
        )
        self.assertTrue(result.matches)

    @bounded
    def test_fetchWithOtherCAFails(self):
        """
        Against an unrelated CA the handshake fails with L{FetchTLSFailed}.
        """
        service = startCredentialsService(self, self.reactor)
        d = fetchCredentials(
            self.reactor, "127.0.0.1", service.port, [makePKI().otherCA.certificate], timeout=5
        )
        error = yield self.assertFailure(d, FetchTLSFailed)
        self.assertIn("TLS error", str(error))

    @bounded
    def test_fetchWrongIPFails(self):
        """
        A certificate without an IP subjectAltName for the address connected
        to fails verification.
        """
        service = startCredentialsService(self, self.reactor, interface="127.0.0.2")
        d = fetchCredentials(
            self.reactor, "127.0.0.2", service.port, [makePKI().ca.certificate], timeout=5
        )
        error = yield self.assertFailure(d, FetchTLSFailed)
        self.assertIn("certificate does not name 127.0.0.2 (IPAddressMismatch)", str(error))

    @bounded
    def test_connectionRefused(self):
        """
        A closed port fails with L{FetchConnectionFailed}.
        """
        port = yield self._closedPort()
        d = fetchCredentials(self.reactor, "127.0.0.1", port, timeout=5)
        error = yield self.assertFailure(d, FetchConnectionFailed)
        self.assertIn("refused", str(error).lower())

    @bounded
    def test_silentServerTimesOut(self):
        """
        A server that accepts but never speaks TLS makes the fetch fail with
        L{FetchTimedOut} once the timeout passes, with the connection closed.
        """
        from tests.test_credentials import TrackingFactory

        tracking = TrackingFactory(protocol.Factory.forProtocol(protocol.Protocol))
        listening = self.reactor.listenTCP(0, tracking, interface="127.0.0.1")
        self.addCleanup(listening.stopListening)
        self.addCleanup(tracking.whenIdle)
        d = fetchCredentials(self.reactor, "127.0.0.1", listening.getHost().port, timeout=0.3)
        yield self.assertFailure(d, FetchTimedOut)

    @bounded
    def test_cancel(self):
        """
        Cancelling a fetch in progress aborts its connection.
        """
        service = startCredentialsService(self, self.reactor)
        d = fetchCredentials(self.reactor, "127.0.0.1", service.port, timeout=5)
        d.cancel()
        yield self.assertFailure(d, CancelledError)

    @bounded
    def _closedPort(self):
        listening = self.reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
        port = listening.getHost().port
        yield listening.stopListening()
        return port


class RunTests(TestCase):
    """
    L{run}: output and exit codes, in-process.
    """

    timeout = 30

    def setUp(self):
        from twisted.internet import reactor

        self.reactor = reactor
        self.out = io.StringIO()
        self.err = io.StringIO()

    def _ccm(self, *argv: str):
        return run(self.reactor, list(argv), self.out, self.err)

    @bounded
    def test_printsPEMAndFingerprints(self):
        """
        A successful fetch prints the certificate as PEM, then its SHA-1 and
        SHA-256 fingerprints, and exits 0.
        """
        service = startCredentialsService(self, self.reactor)
        code = yield self._ccm("credentials", "fetch", "--host", "127.0.0.1", "--port", str(service.port))
        self.assertEqual(code, EXIT_OK)
        certificate = makePKI().server.certificate
        pem = certificate.public_bytes(Encoding.PEM).decode("ascii")
        self.assertEqual(
            self.out.getvalue(),
            pem
            + f"SHA-1 Fingerprint: {fingerprint(certificate, hashes.SHA1())}\n"
            + f"SHA-256 Fingerprint: {fingerprint(certificate, hashes.SHA256())}\n",
        )
        self.assertEqual(x509.load_pem_x509_certificate(pem.encode("ascii")), certificate)

    @bounded
    def test_mismatch(self):
        """
        When the reply carries another certificate than the handshake, the
        mismatch is reported with both fingerprints and the exit code is 1.
        """
        pki = makePKI()
        service = startCredentialsService(self, self.reactor, certificate=pki.otherServer.der)
        code = yield self._ccm("credentials", "fetch", "--host", "127.0.0.1", "--port", str(service.port))
        self.assertEqual(code, EXIT_MISMATCH)
        message = self.err.getvalue()
        self.assertIn("certificate mismatch", message)
        self.assertIn(fingerprint(pki.otherServer.certificate, hashes.SHA256()), message)
        self.assertEqual(self.out.getvalue(), "")

    @bounded
    def test_caFile(self):
        """
        C{--ca} verifies against the file's CA; an unrelated CA is a TLS
        failure (exit 4), an unreadable file exit 7.
        """
        pki = makePKI()
        service = startCredentialsService(self, self.reactor)
        good, other = self.mktemp(), self.mktemp()
        for path, pem in ((good, pki.ca.pem), (other, pki.otherCA.pem)):
            with open(path, "wb") as f:
                f.write(pem)
        base = ["credentials", "fetch", "--host", "127.0.0.1", "--port", str(service.port)]
        self.assertEqual((yield self._ccm(*base, "--ca", good)), EXIT_OK)
        self.assertEqual((yield self._ccm(*base, "--ca", other)), EXIT_TLS)
        self.assertEqual((yield self._ccm(*base, "--ca", self.mktemp())), EXIT_CA_FILE)
        self.assertIn("cannot use CA file", self.err.getvalue())

    @bounded
    def test_timeout(self):
        """
        A silent server gives exit code 5 and a timeout message.
        """
        from tests.test_credentials import TrackingFactory

        tracking = TrackingFactory(protocol.Factory.forProtocol(protocol.Protocol))
        listening = self.reactor.listenTCP(0, tracking, interface="127.0.0.1")
        self.addCleanup(listening.stopListening)
        self.addCleanup(tracking.whenIdle)
        code = yield self._ccm(
            "credentials", "fetch", "--host", "127.0.0.1",
            "--port", str(listening.getHost().port), "--timeout", "0.3",
        )
        self.assertEqual(code, EXIT_TIMEOUT)
        self.assertIn("timed out", self.err.getvalue())


class MainTests(TestCase):
    """
    The C{srst-ccm} console script, run as a process.
    """

    timeout = 30

    def setUp(self):
        from twisted.internet import reactor

        self.reactor = reactor

    def _main(self, *argv: str):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [CHECKOUT, env.get("PYTHONPATH")]))
        return getProcessOutputAndValue(
            sys.executable,
            ["-m", "srst.tools.ccm", *argv],
            env=env,
            path=CHECKOUT,
            reactor=self.reactor,
        )

    @bounded
    def test_success(self):
        """
        C{srst-ccm credentials fetch} against the service exits 0 and prints
        the fingerprints.
        """
        service = startCredentialsService(self, self.reactor)
        out, err, code = yield self._main(
            "credentials", "fetch", "--host", "127.0.0.1", "--port", str(service.port)
        )
        self.assertEqual(code, EXIT_OK, err)
        sha256 = fingerprint(makePKI().server.certificate, hashes.SHA256())
        self.assertIn(f"SHA-256 Fingerprint: {sha256}\n".encode("ascii"), out)

    @bounded
    def test_refused(self):
        """
        A refused connection exits 3 with a message naming host and port.
        """
        listening = self.reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
        port = listening.getHost().port
        yield listening.stopListening()
        out, err, code = yield self._main(
            "credentials", "fetch", "--host", "127.0.0.1", "--port", str(port)
        )
        self.assertEqual(code, EXIT_CONNECT)
        self.assertIn(f"cannot connect to the credentials service (127.0.0.1 port {port})".encode(), err)
        self.assertEqual(out, b"")

    @bounded
    def test_usage(self):
        """
        A usage error exits 2.
        """
        out, err, code = yield self._main("credentials", "fetch")
        self.assertEqual(code, 2)
        self.assertIn(b"--host", err)
