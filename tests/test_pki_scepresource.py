"""
Tests for L{srst.pki.scepresource}: SCEP over real HTTP on 127.0.0.1, with
the replies checked by openssl (an independent CMS implementation).
"""

from __future__ import annotations

import base64
import os
from functools import partial
from io import BytesIO
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThreadPool
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Site

from srst.lograte import LogLimiter
from srst.pki.scep import FailInfo, MessageType, PkiStatus, ScepError, buildPkiMessage, encryptEnvelope
from srst.pki.scepresource import MAX_BODY, ScepResource
from srst.pki.scepserver import ChallengePasswords, ScepServer
from tests.pkihelpers import sharedKey, writeKey, writePem
from tests.routerhelpers import bounded
from tests.scephelpers import START, Client, Now, makeCsr, rsaCertificateServer, selfSigned
from tests.toolhelpers import requireFile, requireTool

SCEP_SUBMIT = "/usr/lib/certmonger/scep-submit"


class ScepResourceTests(TestCase):
    def setUp(self) -> None:
        self.now = Now()
        self.tmp = self.mktemp()
        self.ca = rsaCertificateServer(os.path.join(self.tmp, "srstcaserver"), self.now, "auto")
        self.scep = ScepServer(self.ca, ChallengePasswords(self.now), now=self.now)
        root = Resource()
        cgi = Resource()
        root.putChild(b"cgi-bin", cgi)
        cgi.putChild(b"pkiclient.exe", ScepResource(
            self.scep, partial(deferToThreadPool, reactor, reactor.getThreadPool()), LogLimiter(Clock())))  # type: ignore[arg-type]
        site = Site(root)
        site.log = lambda request: None  # type: ignore[method-assign]
        port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        self.url = b"http://127.0.0.1:%d/cgi-bin/pkiclient.exe" % (port.getHost().port,)
        self.agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        self.client = Client(self.ca.caCertificate, "SEP001122334455", START)

    @bounded
    def request(self, method: bytes, query: bytes, body: bytes | None = None) -> Any:
        producer = FileBodyProducer(BytesIO(body)) if body is not None else None
        response = yield self.agent.request(method, self.url + b"?" + query, Headers(), producer)
        content = yield readBody(response)
        return response.code, response.headers.getRawHeaders(b"content-type", [b""])[0], content

    @bounded
    def test_getCaCapsAndCert(self) -> Any:
        """
        GetCACaps is text; GetCACert the DER CA certificate with the SCEP
        content type.
        """
        code, kind, body = yield self.request(b"GET", b"operation=GetCACaps")
        self.assertEqual((code, kind), (200, b"text/plain"))
        self.assertIn(b"POSTPKIOperation\n", body)
        self.assertIn(b"SCEPStandard\n", body)
        code, kind, body = yield self.request(b"GET", b"operation=GetCACert")
        self.assertEqual((code, kind), (200, b"application/x-x509-ca-cert"))
        self.assertEqual(x509.load_der_x509_certificate(body), self.ca.caCertificate)

    @bounded
    def test_pkcsReqCheckedByOpenssl(self) -> Any:
        """
        A PKCSReq whose envelope openssl made is answered SUCCESS; openssl
        verifies the CertRep's signature with the CA certificate, shows its
        SCEP attributes, decrypts the envelope with the client's key and
        finds the issued certificate, which openssl verify accepts.
        """
        openssl = requireTool("openssl")
        d = self.tmp
        caFile = writePem(d, "ca.pem", self.ca.caCertificate)
        clientFile = writePem(d, "client.pem", self.client.certificate)
        keyFile = writeKey(d, "client.key", self.client.key)
        csrFile = os.path.join(d, "csr.der")
        with open(csrFile, "wb") as f:
            f.write(makeCsr(self.client.key, "SEP001122334455").public_bytes(serialization.Encoding.DER))
        envFile = os.path.join(d, "request-env.der")
        out, err, code = yield getProcessOutputAndValue(openssl, [
            "cms", "-encrypt", "-binary", "-aes128", "-outform", "DER", "-in", csrFile, "-out", envFile, caFile],
            reactor=reactor)
        self.assertEqual(code, 0, err)
        with open(envFile, "rb") as f:
            envelope = f.read()
        message = buildPkiMessage(MessageType.PKCS_REQ, self.client.transactionId, self.client.certificate,
                                  self.client.key, envelope=envelope, senderNonce=self.client.nonce)
        status, kind, body = yield self.request(b"POST", b"operation=PKIOperation", message)
        self.assertEqual((status, kind), (200, b"application/x-pki-message"))
        reply, [issued], _ = self.client.reply(body)
        self.assertEqual(reply.pkiStatus, PkiStatus.SUCCESS)

        replyFile = os.path.join(d, "reply.der")
        with open(replyFile, "wb") as f:
            f.write(body)
        out, err, code = yield getProcessOutputAndValue(openssl, [
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", replyFile], reactor=reactor)
        self.assertEqual(code, 0, err)
        printed = out.decode("ascii", "replace")
        for oid, value in [("2.16.840.1.113733.1.9.2", "PRINTABLESTRING:3"),
                           ("2.16.840.1.113733.1.9.3", "PRINTABLESTRING:0"),
                           ("2.16.840.1.113733.1.9.7", "PRINTABLESTRING:tx-client")]:
            self.assertRegex(printed, rf"\({oid}\)\s+set:\s+{value}\n")
        innerFile = os.path.join(d, "reply-env.der")
        out, err, code = yield getProcessOutputAndValue(openssl, [
            "cms", "-verify", "-binary", "-inform", "DER", "-in", replyFile, "-CAfile", caFile,
            "-purpose", "any", "-out", innerFile], reactor=reactor)
        self.assertEqual(code, 0, err)
        self.assertIn(b"Verification successful", err)
        p7File = os.path.join(d, "reply-p7.der")
        out, err, code = yield getProcessOutputAndValue(openssl, [
            "cms", "-decrypt", "-binary", "-inform", "DER", "-in", innerFile, "-recip", clientFile,
            "-inkey", keyFile, "-out", p7File], reactor=reactor)
        self.assertEqual(code, 0, err)
        out, err, code = yield getProcessOutputAndValue(openssl, [
            "pkcs7", "-inform", "DER", "-in", p7File, "-print_certs"], reactor=reactor)
        self.assertEqual(code, 0, err)
        self.assertIn(b"subject=CN = SEP001122334455", out)
        self.assertIn(b"issuer=CN = srstcaserver", out)
        issuedFile = writePem(d, "issued.pem", issued)
        out, err, code = yield getProcessOutputAndValue(openssl, [
            "verify", "-attime", str(int(START.timestamp()) + 60), "-CAfile", caFile, issuedFile], reactor=reactor)
        self.assertEqual(code, 0, (out, err))

    @bounded
    def test_getPkiOperation(self) -> Any:
        """
        PKIOperation by GET (base64 C{message=}) works like POST.
        """
        message = base64.b64encode(self.client.pkcsReq()).replace(b"+", b"%2B").replace(b"/", b"%2F")
        status, _, body = yield self.request(b"GET", b"operation=PKIOperation&message=" + message.replace(b"=", b"%3D"))
        self.assertEqual(status, 200)
        self.assertEqual(self.client.reply(body)[0].pkiStatus, PkiStatus.SUCCESS)

    @bounded
    def test_garbage(self) -> Any:
        """
        A body that is no SCEP message: 400 naming the failInfo; nothing is
        issued.
        """
        lastSerial = self.ca.lastSerial
        status, kind, body = yield self.request(b"POST", b"operation=PKIOperation", b"\x30\x82\x01\x00nonsense")
        self.assertEqual((status, kind), (400, b"text/plain"))
        self.assertIn(b"not a usable SCEP message: badMessageCheck: malformed pkiMessage", body)
        self.assertEqual(self.ca.lastSerial, lastSerial)

    @bounded
    def test_refusalsRateLimited(self) -> Any:
        """
        Refusals are logged with the client's address and reason: the first
        of a run in full, the repeats only counted (LogLimiter).
        """
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        for _ in range(3):
            yield self.request(b"POST", b"operation=PKIOperation", b"junk")
        other = selfSigned(sharedKey("scep-other", "rsa", 2048), self.client.subject, START)
        for _ in range(2):
            status, _, body = yield self.request(b"POST", b"operation=PKIOperation",
                                                 self.client.pkcsReq(recipient=other))
            self.assertEqual(self.client.reply(body)[0].failInfo, FailInfo.BAD_MESSAGE_CHECK)
        lines = [e["log_format"].format(**e) for e in events if e.get("log_namespace") == "srst.pki.scep"]
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].startswith("SCEP: 127.0.0.1: unusable PKIOperation message: badMessageCheck:"))
        self.assertTrue(lines[1].startswith("SCEP: 127.0.0.1: PKCSReq transaction tx-client from CN=SEP001122334455"
                                            " failed: badMessageCheck: the envelope does not decrypt"), lines[1])

    @bounded
    def test_pathBelowIs404(self) -> Any:
        """
        Only the endpoint answers: a path below it is 404, whatever the
        operation.
        """
        for path in (b"/foo", b"/GetCACaps/"):
            response = yield self.agent.request(b"GET", self.url + path + b"?operation=GetCACaps")
            body = yield readBody(response)
            self.assertEqual(response.code, 404, body)
            self.assertNotIn(b"POSTPKIOperation", body)

    @bounded
    def test_clientGoneBeforeAnswer(self) -> Any:
        """
        A client that hangs up while its PKIOperation is worked on is not
        answered: the late CertRep is dropped without an error.
        """
        working: Deferred[None] = Deferred()
        results: list[Deferred[Any]] = []
        requests: list[Any] = []

        def later(f: Any, *args: Any) -> Deferred[Any]:
            result: Deferred[Any] = Deferred()
            results.append(result)
            result.addCallback(lambda _: f(*args))
            working.callback(None)
            return result

        class Recording(Resource):
            def getChild(self, name: bytes, request: Any) -> Any:
                requests.append(request)
                return ScepResource(outer.scep, later, LogLimiter(Clock()))

        outer = self
        site = Site(Recording())
        site.log = lambda request: None  # type: ignore[method-assign]
        port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        message = self.client.pkcsReq()
        client = yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), Protocol())
        client.transport.write(b"POST /pkiclient.exe?operation=PKIOperation HTTP/1.1\r\nHost: r\r\n"
                               b"Content-Length: %d\r\n\r\n" % (len(message),) + message)
        yield working
        [request] = requests
        gone: Deferred[None] = request.notifyFinish()
        gone.addErrback(lambda failure: None)
        client.transport.loseConnection()
        yield gone
        lastSerial = self.ca.lastSerial
        [result] = results
        result.callback(None)  # the CertRep is ready: nobody to send it to
        yield result
        self.assertEqual(self.ca.lastSerial, lastSerial + 1)
        self.assertEqual(self.flushLoggedErrors(), [])

    @bounded
    def test_tooLarge(self) -> Any:
        """
        A body above the limit is refused with 413 before parsing.
        """
        status, _, body = yield self.request(b"POST", b"operation=PKIOperation", b"\x00" * (MAX_BODY + 1))
        self.assertEqual(status, 413)
        self.assertIn(b"larger than %d bytes" % (MAX_BODY,), body)

    @bounded
    def test_unknownOperation(self) -> Any:
        """
        An unknown operation is a 400 listing the supported ones.
        """
        status, _, body = yield self.request(b"GET", b"operation=GetNextCACert")
        self.assertEqual(status, 400)
        self.assertIn(b"GetCACaps, GetCACert, PKIOperation", body)

    def test_envelopeForEcdsaRecipient(self) -> None:
        """
        SCEP envelopes need an RSA recipient; an EC one is refused clearly.
        """
        ecCert = selfSigned(sharedKey("scep-ec"), self.client.subject, START)
        e = self.assertRaises(ScepError, encryptEnvelope, b"x", ecCert)
        self.assertEqual(e.failInfo, FailInfo.BAD_ALG)


class CertmongerTests(TestCase):
    """
    certmonger's C{scep-submit} helper (an independent SCEP implementation)
    talks to the resource: it reads GetCACaps and GetCACert, submits the
    PKIOperation messages, verifies the CA's signature on every CertRep and
    reports issued (exit 0), pending (1 or 5) or rejected (2).
    """

    def setUp(self) -> None:
        self.scepSubmit = requireFile(SCEP_SUBMIT, "certmonger's scep-submit (Debian package certmonger)")
        self.openssl = requireTool("openssl")

    def serve(self, grant: str) -> None:
        self.now = Now()
        self.tmp = self.mktemp()
        self.ca = rsaCertificateServer(os.path.join(self.tmp, "srstcaserver"), self.now, grant)
        self.scep = ScepServer(self.ca, ChallengePasswords(self.now), now=self.now)
        root, cgi = Resource(), Resource()
        root.putChild(b"cgi-bin", cgi)
        cgi.putChild(b"pkiclient.exe", ScepResource(
            self.scep, partial(deferToThreadPool, reactor, reactor.getThreadPool()), LogLimiter(Clock())))  # type: ignore[arg-type]
        site = Site(root)
        site.log = lambda request: None  # type: ignore[method-assign]
        port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        self.url = "http://127.0.0.1:%d/cgi-bin/pkiclient.exe" % (port.getHost().port,)
        self.caFile = writePem(self.tmp, "ca.pem", self.ca.caCertificate)
        self.client = Client(self.ca.caCertificate, "SEP001122334455", START)

    def submit(self, message: bytes, name: str) -> Any:
        path = os.path.join(self.tmp, name + ".pem")
        with open(path, "w") as f:
            f.write("-----BEGIN PKCS7-----\n" + base64.encodebytes(message).decode("ascii") + "-----END PKCS7-----\n")
        return getProcessOutputAndValue(self.scepSubmit, [
            "-u", self.url, "-r", self.caFile, "-N", self.caFile, "-p", path], reactor=reactor)

    @bounded(timeout=30)
    def test_capabilitiesAndCaCertificate(self) -> Any:
        """
        scep-submit -c lists our capabilities; -C prints our CA certificate.
        """
        self.serve("auto")
        out, err, code = yield getProcessOutputAndValue(self.scepSubmit, ["-u", self.url, "-c"], reactor=reactor)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.split(), [b"POSTPKIOperation", b"SHA-256", b"SHA-512", b"AES", b"Renewal",
                                       b"SCEPStandard"])
        out, err, code = yield getProcessOutputAndValue(self.scepSubmit, ["-u", self.url, "-C"], reactor=reactor)
        self.assertEqual(code, 0, err)
        self.assertIn(self.ca.caCertificate.public_bytes(serialization.Encoding.PEM), out)

    @bounded(timeout=30)
    def test_grantAuto(self) -> Any:
        """
        With grant auto scep-submit reports the certificate issued and prints
        the envelope, which openssl decrypts with the client's key to the
        issued certificate.
        """
        self.serve("auto")
        out, err, code = yield self.submit(self.client.pkcsReq(), "pkcsreq")
        self.assertEqual(code, 0, (out, err))
        envFile = os.path.join(self.tmp, "envelope.pem")
        with open(envFile, "wb") as f:
            f.write(out.replace(b"PKCS7", b"CMS"))
        keyFile = writeKey(self.tmp, "client.key", self.client.key)
        clientFile = writePem(self.tmp, "client.pem", self.client.certificate)
        p7File = os.path.join(self.tmp, "p7.der")
        out, err, code = yield getProcessOutputAndValue(self.openssl, [
            "cms", "-decrypt", "-binary", "-inform", "PEM", "-in", envFile, "-recip", clientFile,
            "-inkey", keyFile, "-out", p7File], reactor=reactor)
        self.assertEqual(code, 0, err)
        out, err, code = yield getProcessOutputAndValue(self.openssl, [
            "pkcs7", "-inform", "DER", "-in", p7File, "-print_certs"], reactor=reactor)
        self.assertIn(b"subject=CN = SEP001122334455", out)

    @bounded(timeout=30)
    def test_manualGrantAfterPoll(self) -> Any:
        """
        With grant manual scep-submit reports the request pending, and a
        poll pending; once the operator grants it, the poll is issued.
        """
        self.serve("manual")
        out, err, code = yield self.submit(self.client.pkcsReq(), "pkcsreq")
        self.assertIn(code, (1, 5), (out, err))
        self.assertEqual([r.subject for r in self.ca.pendingRequests()], ["CN=SEP001122334455"])
        out, err, code = yield self.submit(self.client.certPoll(), "poll")
        self.assertIn(code, (1, 5), (out, err))
        yield deferToThreadPool(reactor, reactor.getThreadPool(), self.ca.grant, 1)  # type: ignore[arg-type]
        out, err, code = yield self.submit(self.client.certPoll(), "poll")
        self.assertEqual(code, 0, (out, err))
        self.assertIn(b"-----BEGIN PKCS7-----", out)

    @bounded(timeout=30)
    def test_rejected(self) -> Any:
        """
        Once the operator rejects the request, scep-submit reports the CA
        rejected it (exit 2) with its text for failInfo badRequest.
        """
        self.serve("manual")
        yield self.submit(self.client.pkcsReq(), "pkcsreq")
        self.ca.reject(1)
        out, err, code = yield self.submit(self.client.certPoll(), "poll")
        self.assertEqual(code, 2, (out, err))
        self.assertEqual(out, b"Transaction either is not permitted or is not supported by server.\n")
