"""
Tests for L{srst.pki.scepenroll}: an identity trustpoint enrolls over SCEP
(real HTTP on 127.0.0.1) with the router's own SCEP server.
"""

from __future__ import annotations

import datetime
import os
import socket
from functools import partial
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.application.service import MultiService
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThreadPool
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.internet.interfaces import IProtocol
from twisted.python.components import proxyForInterface
from twisted.web.iweb import IAgent, IResponse
from twisted.web.server import NOT_DONE_YET, Site
from zope.interface import implementer

from srst.lograte import LogLimiter
from srst.pki._x509 import certificateFingerprint
from srst.pki.errors import TrustpointError
from srst.pki.scep import MAX_MESSAGE
from srst.pki.scepenroll import TIMEOUT_SECONDS, AutoEnroll, ScepEnrollment
from srst.pki.scepresource import ScepResource
from srst.pki.scepserver import ChallengePasswords, ScepServer
from srst.pki.trust import IdentityTrustpoint
from tests.pkihelpers import sharedKey, writeKey
from tests.scephelpers import Now, rsaCertificateServer
from tests.routerhelpers import WatchedClock, bounded

PATH = "pki.trustpoints.srstca.enrollment"


class ScepEnrollmentTests(TestCase):
    def serve(self, grant: str) -> None:
        self.now = Now()
        self.tmp = self.mktemp()
        self.ca = rsaCertificateServer(os.path.join(self.tmp, "srstcaserver"), self.now, grant)
        self.passwords = ChallengePasswords(self.now)
        self.scep = ScepServer(self.ca, self.passwords, now=self.now)
        self.runInThread = partial(deferToThreadPool, reactor, reactor.getThreadPool())  # type: ignore[arg-type]
        root = Resource()
        cgi = Resource()
        root.putChild(b"cgi-bin", cgi)
        cgi.putChild(b"pkiclient.exe", ScepResource(self.scep, self.runInThread, LogLimiter(Clock())))
        site = Site(root)
        site.log = lambda request: None  # type: ignore[method-assign]
        port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        self.url = "http://127.0.0.1:%d" % (port.getHost().port,)
        self.clock = WatchedClock()
        self.identity = IdentityTrustpoint("srstca", os.path.join(self.tmp, "srstca"), subjectName="CN=router-b")
        os.makedirs(self.identity.directory)
        writeKey(self.identity.directory, "key.pem", sharedKey("scep-router-b", "rsa", 2048))  # a stored key
        self.events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def enrollment(self, fingerprint: str | None = "sha256", password: str | None = None,
                   **retry: Any) -> ScepEnrollment:
        if fingerprint in ("md5", "sha256"):
            fingerprint = "".join(certificateFingerprint(self.ca.caCertificate, fingerprint).split())
        pool = HTTPConnectionPool(reactor, persistent=False)
        return ScepEnrollment("srstca", self.url, fingerprint, password, agent=Agent(reactor, pool=pool),
                              clock=self.clock, now=self.now, configPath=PATH, **retry)

    def enroll(self, enrollment: ScepEnrollment) -> Deferred[None]:
        return Deferred.fromCoroutine(enrollment.enroll(self.identity, ["router-b"], self.runInThread, ["127.0.0.1"]))

    def logged(self) -> str:
        return "\n".join(e.get("log_format", "").format(**e) for e in self.events
                         if e.get("log_namespace") == "srst.pki.scep")

    def assertEnrolled(self) -> None:
        self.assertTrue(self.identity.enrolled)
        certificate = self.identity.certificate
        assert certificate is not None
        self.assertEqual(certificate.issuer, self.ca.caCertificate.subject)
        self.assertEqual(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, "router-b")
        reloaded = IdentityTrustpoint("srstca", self.identity.directory)
        self.assertTrue(reloaded.load())
        self.assertEqual((reloaded.certificate, reloaded.chain), (certificate, [self.ca.caCertificate]))

    @bounded
    def test_grantAuto(self) -> Any:
        """
        GetCACert is pinned by the SHA-256 fingerprint; PKCSReq is granted at
        once and the certificate is stored as the trustpoint's, with the CA
        as its chain.
        """
        self.serve("auto")
        yield self.enroll(self.enrollment("sha256"))
        self.assertEnrolled()
        self.assertIn("CA certificate CN=srstcaserver authenticated by fingerprint", self.logged())

    @bounded
    def test_grantManualThenPoll(self) -> Any:
        """
        With grant manual the request is PENDING; the trustpoint polls on
        the clock, and once the operator grants the request (C{crypto pki
        server srstcaserver grant 1}) the next poll installs the certificate.
        """
        self.serve("manual")
        pending = self.waitFor("polling every")
        done = self.enroll(self.enrollment("md5"))
        line = yield pending
        self.assertEqual(line, "Trustpoint srstca: enrollment request to %s/cgi-bin/pkiclient.exe is pending;"
                               " polling every 60 seconds" % (self.url,))
        yield self.grantedAtNextPoll(done)

    @bounded
    def test_retryPeriodAndCount(self) -> Any:
        """
        IOS C{enrollment retry period 5} and C{enrollment retry count 2}: a
        PENDING request is polled every 300 s on the clock, twice, then
        the enrollment gives up naming the count; nothing is installed.
        """
        self.serve("manual")
        pending = self.waitFor("polling every")
        armed = self.clock.armed(300)
        done = self.enroll(self.enrollment("md5", pollInterval=300, pollLimit=2))
        self.assertEqual((yield pending), "Trustpoint srstca: enrollment request to %s/cgi-bin/pkiclient.exe is"
                                          " pending; polling every 300 seconds" % (self.url,))
        yield armed
        self.assertEqual(len(self.ca.pendingRequests()), 1)
        # Poll 1 at 300 s: still PENDING, the next wait is armed.
        armed = self.clock.armed(300)
        self.clock.advance(299)
        self.assertFalse(done.called)
        self.clock.advance(1)
        yield armed
        # Poll 2 at 600 s: still PENDING, and that was the last.
        self.clock.advance(299)
        self.assertFalse(done.called)
        self.clock.advance(1)
        e = yield self.assertFailure(done, TrustpointError)
        self.assertEqual(e.reason, f"{self.url}/cgi-bin/pkiclient.exe left the request pending after 2 polls")
        self.assertFalse(self.identity.enrolled)
        self.assertEqual(self.clock.seconds(), 600)

    @bounded
    def test_retryCountZeroIsUnlimited(self) -> Any:
        """
        C{enrollment retry count 0} polls until the request is granted,
        past the default ten polls.
        """
        self.serve("manual")
        armed = self.clock.armed(60)
        done = self.enroll(self.enrollment("md5", pollInterval=60, pollLimit=0))
        yield armed
        for _ in range(11):
            armed = self.clock.armed(60)
            self.clock.advance(60)
            yield armed
        yield self.grantedAtNextPoll(done)

    @bounded
    def test_refused(self) -> Any:
        """
        A wrong challenge password is refused; the error names the failInfo
        and nothing is installed.
        """
        self.serve("manual")
        self.passwords.generate()
        e = yield self.assertFailure(self.enroll(self.enrollment(password="guess")), TrustpointError)
        self.assertEqual(e.reason, f"{self.url}/cgi-bin/pkiclient.exe refused the enrollment request (badRequest)")
        self.assertFalse(self.identity.enrolled)

    @bounded
    def test_noFingerprint(self) -> Any:
        """
        Without a configured fingerprint the CA certificate is not trusted:
        its fingerprints are logged for the operator and the error names
        the YAML path to set.
        """
        self.serve("auto")
        lastSerial = self.ca.lastSerial
        e = yield self.assertFailure(self.enroll(self.enrollment(None)), TrustpointError)
        md5 = certificateFingerprint(self.ca.caCertificate, "md5")
        self.assertEqual(str(e), f"trustpoint srstca: {PATH}.fingerprint is not configured; the CA certificate's"
                                 f" MD5 fingerprint is {md5}")
        self.assertIn(f"has MD5 fingerprint {md5}, SHA-256 fingerprint "
                      f"{certificateFingerprint(self.ca.caCertificate, 'sha256')}; not trusted until "
                      f"{PATH}.fingerprint says so", self.logged())
        self.assertEqual(self.ca.lastSerial, lastSerial)

    @bounded
    def test_fingerprintMismatch(self) -> Any:
        """
        A fingerprint that does not match the CA certificate is an error
        naming the YAML path; no request is sent.
        """
        self.serve("auto")
        lastSerial = self.ca.lastSerial
        e = yield self.assertFailure(self.enroll(self.enrollment("AB" * 32)), TrustpointError)
        self.assertIn(f"{PATH}.fingerprint {'AB' * 32} does not match the CA certificate from {self.url}", e.reason)
        self.assertEqual(self.ca.lastSerial, lastSerial)

    @bounded
    def test_unreachable(self) -> Any:
        """
        A certificate server that does not answer is one error naming the
        URL, not a traceback.
        """
        self.serve("auto")
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        self.addCleanup(holder.close)
        self.url = "http://127.0.0.1:%d" % (holder.getsockname()[1],)  # bound, not listening: refused
        e = yield self.assertFailure(self.enroll(self.enrollment("sha256")), TrustpointError)
        self.assertTrue(e.reason.startswith(f"cannot reach {self.url}/cgi-bin/pkiclient.exe (GetCACert): "
                                            "Connection was refused by other side"), e.reason)

    def autoEnroll(self, enrollment: ScepEnrollment, percent: int = 80) -> tuple[AutoEnroll, list[None]]:
        renewed: list[None] = []
        auto = AutoEnroll(enrollment, self.identity, percent, dnsNames=["router-b"], ipAddresses=["127.0.0.1"],
                          runInThread=self.runInThread, renewed=lambda: renewed.append(None))
        parent = MultiService()
        auto.setServiceParent(parent)
        parent.startService()
        self.addCleanup(parent.stopService)
        return auto, renewed

    @bounded
    def grantedAtNextPoll(self, done: Deferred[None]) -> Any:
        """
        The enrollment C{done} is still pending; the operator grants its
        request, and the next poll (60 s on) installs the certificate.
        """
        self.assertFalse(done.called)
        [request] = self.ca.pendingRequests()
        self.ca.grant(request.id)
        self.clock.advance(60)
        yield done
        self.assertEnrolled()

    @bounded
    def enrolled(self) -> Any:
        """
        Serve with grant auto and enroll the identity.

        @return: (via a L{Deferred}) the enrollment and the certificate it
            installed.
        """
        self.serve("auto")
        enrollment = self.enrollment("sha256")
        yield self.enroll(enrollment)
        old = self.identity.certificate
        assert old is not None
        return enrollment, old

    def replaced(self, old: x509.Certificate) -> x509.Certificate:
        """
        @return: the identity's certificate, asserting it is a new one (not
            serial C{old}'s).
        """
        new = self.identity.certificate
        assert new is not None
        self.assertNotEqual(new.serial_number, old.serial_number)
        return new

    @bounded
    def renewsOnTime(self, auto: AutoEnroll, renewed: list[None], old: x509.Certificate,
                     when: datetime.datetime | None = None) -> Any:
        """
        Nothing is renewed a second before C{auto}'s scheduled time; at it
        (with the wall clock at C{when}, if given), the certificate is
        renewed and the listeners told.

        @return: (via a L{Deferred}) the new certificate.
        """
        self.clock.advance(auto.scheduled - 1)
        self.assertEqual((renewed, self.identity.certificate), ([], old))
        rearmed = self.waitFor("auto-enroll renews certificate")
        if when is not None:
            self.now.when = when
        self.clock.advance(1)
        yield rearmed
        self.assertEqual(renewed, [None])
        return self.replaced(old)

    def waitFor(self, text: str) -> Deferred[str]:
        seen: Deferred[str] = Deferred()

        def observe(event: dict[str, Any]) -> None:
            if text in event.get("log_format", "") and not seen.called:
                seen.callback(event["log_format"].format(**event))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        return seen

    def misbehaving(self, endless: bool) -> list[Any]:
        """
        Point the enrollment at a server that answers headers and then
        either streams a chunked body forever (C{endless}) or stalls.

        @return: the requests it got.
        """
        requests: list[Any] = []

        class Misbehaving(Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> Any:
                requests.append(request)
                if endless:
                    for _ in range(MAX_MESSAGE // 16384 + 2):  # no length, no end: chunked
                        request.write(b"x" * 16384)
                else:
                    request.setHeader(b"content-length", b"100")
                    request.write(b"x" * 10)
                return NOT_DONE_YET

        site = Site(Misbehaving())
        site.log = lambda request: None  # type: ignore[method-assign]
        port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        self.url = "http://127.0.0.1:%d" % (port.getHost().port,)
        return requests

    @bounded
    def test_endlessBody(self) -> Any:
        """
        A server that streams an endless chunked body is cut off once it
        passes the SCEP message limit: the enrollment fails saying so.
        """
        self.serve("auto")
        requests = self.misbehaving(endless=True)
        e = yield self.assertFailure(self.enroll(self.enrollment("sha256")), TrustpointError)
        self.assertEqual(e.reason, f"{self.url}/cgi-bin/pkiclient.exe answered GetCACert with a body larger than"
                                   f" {MAX_MESSAGE} bytes")
        [request] = requests
        gone: Deferred[None] = request.notifyFinish()
        gone.addErrback(lambda failure: None)  # the client hung up
        yield gone

    @bounded
    def test_stallAfterHeaders(self) -> Any:
        """
        The timeout covers the whole exchange: a server that sends its
        headers and then stalls fails the enrollment when it expires.
        """
        self.serve("auto")
        self.misbehaving(endless=False)
        agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        reading: Deferred[None] = Deferred()

        class WatchedBody(proxyForInterface(IProtocol)):  # type: ignore[misc]
            def dataReceived(self, data: bytes) -> None:
                self.original.dataReceived(data)
                if not reading.called:
                    reading.callback(None)  # the headers are in, the body is being read

        class WatchedResponse(proxyForInterface(IResponse)):  # type: ignore[misc]
            def deliverBody(self, protocol: Any) -> None:
                self.original.deliverBody(WatchedBody(protocol))

        @implementer(IAgent)
        class Watched:
            def request(self, *args: Any) -> Deferred[Any]:
                return agent.request(*args).addCallback(WatchedResponse)

        enrollment = self.enrollment("sha256")
        enrollment.agent = Watched()
        failed = self.assertFailure(self.enroll(enrollment), TrustpointError)
        yield reading
        self.clock.advance(TIMEOUT_SECONDS)
        e = yield failed
        self.assertEqual(e.reason, f"cannot reach {self.url}/cgi-bin/pkiclient.exe (GetCACert): no complete answer"
                                   f" within {TIMEOUT_SECONDS} s")

    @bounded
    def test_renew(self) -> Any:
        """
        The renewal is signed with the current certificate and keeps the
        key; the new certificate is installed (and stored) in its place.
        """
        enrollment, old = yield self.enrolled()
        yield Deferred.fromCoroutine(enrollment.renew(self.identity, ["router-b"], self.runInThread))
        self.assertEnrolled()
        new = self.replaced(old)
        self.assertEqual(new.public_key().public_numbers(), old.public_key().public_numbers())
        self.assertIn(f"SCEP: RenewalReq from CN=router-b signed by serial 0x{old.serial_number:X} granted"
                      f" (serial 0x{new.serial_number:X})", self.logged())

    @bounded
    def test_autoEnrollSchedule(self) -> Any:
        """
        The renewal starts at C{percent} of the validity on the clock;
        once renewed the listeners are told and the timer is armed for the
        new certificate.
        """
        enrollment, old = yield self.enrolled()
        auto, renewed = self.autoEnroll(enrollment, 80)
        auto.schedule()
        validity = (old.not_valid_after_utc - old.not_valid_before_utc).total_seconds()
        start = (old.not_valid_before_utc - self.now()).total_seconds()
        self.assertAlmostEqual(auto.scheduled, start + validity * 0.8, places=3)
        new = yield self.renewsOnTime(auto, renewed, old)
        self.assertIn(f"Trustpoint srstca: auto-enroll renewed certificate serial 0x{old.serial_number:X} as serial"
                      f" 0x{new.serial_number:X}, valid until {new.not_valid_after_utc.isoformat()}", self.logged())
        self.assertAlmostEqual(auto.scheduled, self.clock.seconds() + (
            new.not_valid_before_utc - self.now()).total_seconds() + validity * 0.8, places=3)

    @bounded
    def test_bareAutoEnrollAtExpiry(self) -> Any:
        """
        IOS C{auto-enroll} without a percentage (100): the renewal starts
        when the certificate expires, not a second before; the expired
        certificate cannot sign a RenewalReq, so the router enrolls again
        (PKCSReq, same key, the challenge password) and installs the new
        certificate.
        """
        enrollment, old = yield self.enrolled()
        auto, renewed = self.autoEnroll(enrollment, 100)
        auto.schedule()
        expiry = (old.not_valid_after_utc - self.now()).total_seconds()
        self.assertAlmostEqual(auto.scheduled, expiry, places=3)
        new = yield self.renewsOnTime(auto, renewed, old, when=old.not_valid_after_utc)
        self.assertEqual(new.public_key().public_numbers(), old.public_key().public_numbers())
        self.assertIn(f"Trustpoint srstca: certificate serial 0x{old.serial_number:X} expired at"
                      f" {old.not_valid_after_utc.isoformat()}; enrolling again (PKCSReq) with"
                      f" {self.url}/cgi-bin/pkiclient.exe", self.logged())
        self.assertNotIn("RenewalReq", self.logged())

    @bounded
    def test_autoEnrollFailure(self) -> Any:
        """
        A failed renewal leaves the current certificate, logs the reason and
        tries again after an hour; stopping cancels the timer.
        """
        enrollment, old = yield self.enrolled()
        self.ca.revoke(old.serial_number)
        auto, renewed = self.autoEnroll(enrollment, 10)
        auto.schedule()
        failed = self.waitFor("auto-enroll renewal failed")
        self.clock.advance(auto.scheduled)
        line = yield failed
        self.assertEqual(line, f"Trustpoint srstca: auto-enroll renewal failed: {self.url}/cgi-bin/pkiclient.exe"
                               " refused the renewal request (badRequest); the current certificate stays,"
                               " trying again in 3600 seconds")
        self.assertEqual((renewed, self.identity.certificate), ([], old))
        self.assertEqual(auto.scheduled, self.clock.seconds() + 3600)
        reloaded = IdentityTrustpoint("srstca", self.identity.directory)
        self.assertTrue(reloaded.load())
        self.assertEqual(reloaded.certificate, old)
        yield auto.stopService()
        self.assertIsNone(auto.scheduled)
