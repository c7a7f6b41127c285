"""
Tests for L{srst.pki.publication}: the CRL served over HTTP and re-signed
before it expires.
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.application.service import Service
from twisted.internet import reactor
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool, readBody

from srst.http.site import HttpSite
from srst.pki.publication import CrlRenewal, CrlResource, crlPath
from tests.routerhelpers import bounded
from tests.test_pki_ca import T0, ServerMixin, makeCSR


class CrlResourceTests(ServerMixin, TestCase):
    """
    C{GET /crl/<server>.crl} on a real socket.
    """

    def setUp(self):
        self.server = self.makeServer()
        site = HttpSite(reactor)
        site.add(crlPath(self.server), CrlResource(self.server))
        port = reactor.listenTCP(0, site.factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.url = b"http://127.0.0.1:%d/crl/srstcaserver.crl" % (port.getHost().port,)
        self.agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))

    @bounded
    def test_currentCrl(self):
        """
        The CRL is served as DER with RFC 2585's media type, signed by the
        CA, and a revocation shows in the next fetch.
        """
        response = yield self.agent.request(b"GET", self.url)
        self.assertEqual(response.code, 503)
        self.assertEqual((yield readBody(response)), b"certificate server not started\n")
        self.server.start()
        self.server.issue(makeCSR())
        response = yield self.agent.request(b"GET", self.url)
        self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"application/pkix-crl"])
        crl = x509.load_der_x509_crl((yield readBody(response)))
        self.assertTrue(crl.is_signature_valid(self.server.caCertificate.public_key()))
        self.assertEqual(list(crl), [])
        self.server.revoke(2)
        response = yield self.agent.request(b"GET", self.url)
        crl = x509.load_der_x509_crl((yield readBody(response)))
        self.assertEqual([r.serial_number for r in crl], [2])

    @bounded
    def test_head(self):
        """
        HEAD answers the GET's headers and length with no body, and does
        not log Twisted's "returning a message body" warning.
        """
        self.server.start()
        self.server.issue(makeCSR())
        with capturedLogs() as events:
            response = yield self.agent.request(b"HEAD", self.url)
            body = yield readBody(response)
        der = self.server.crl.public_bytes(Encoding.DER)
        self.assertEqual((response.code, body), (200, b""))
        self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"application/pkix-crl"])
        self.assertEqual(response.headers.getRawHeaders(b"content-length"), [b"%d" % (len(der),)])
        warnings = [formatEvent(e) for e in events if "message body" in formatEvent(e)]
        self.assertEqual(warnings, [])


class CrlRenewalTests(ServerMixin, SynchronousTestCase):
    """
    L{CrlRenewal} on a L{Clock}, with the server's wall clock following it.
    """

    def setUp(self):
        self.clock = Clock()
        self.now = lambda: T0 + datetime.timedelta(seconds=self.clock.seconds())
        self.server = self.started(now=self.now, crlLifetimeHours=2)
        self.renewal = CrlRenewal(self.server, self.clock, self.now, maybeDeferred)
        self.renewal.startService()
        self.addCleanup(self.renewal.stopService)
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def test_nextUpdateFollowsLifetime(self):
        """
        C{lifetime crl}: nextUpdate is thisUpdate + the lifetime.
        """
        crl = self.server.crl
        self.assertEqual(crl.next_update_utc - crl.last_update_utc, datetime.timedelta(hours=2))

    def test_reSignedAnHourBeforeExpiry(self):
        """
        The CRL is re-signed an hour before its nextUpdate, keeping its
        entries, with a new nextUpdate a lifetime on; and again a lifetime
        later.
        """
        self.server.issue(makeCSR())
        self.server.revoke(2)
        first = self.server.crl
        self.renewal.schedule()
        self.clock.advance(3599)
        self.assertIs(self.server.crl, first)
        self.clock.advance(1)
        second = self.server.crl
        self.assertIsNot(second, first)
        self.assertEqual(second.next_update_utc, self.now() + datetime.timedelta(hours=2))
        self.assertLess(self.now(), first.next_update_utc)
        self.assertEqual([r.serial_number for r in second], [2])
        self.assertIn("Certificate server srstcaserver: CRL re-signed, next update " +
                      second.next_update_utc.isoformat(),
                      [e["log_format"].format(**e) for e in self.events if "log_format" in e])
        self.clock.advance(3600)
        self.assertIsNot(self.server.crl, second)

    def test_revocationMovesTheTimer(self):
        """
        A revocation re-signs the CRL; the timer then only re-arms for the
        new CRL without signing again early.
        """
        self.server.issue(makeCSR())
        self.renewal.schedule()
        self.clock.advance(1800)
        self.server.revoke(2)
        revoked = self.server.crl
        self.clock.advance(1800)
        self.assertIs(self.server.crl, revoked)
        self.clock.advance(1800)
        self.assertIsNot(self.server.crl, revoked)
        self.assertEqual([r.serial_number for r in self.server.crl], [2])

    def test_dueWithoutResigningWaits(self):
        """
        A CRL still due after the timer fired (the server's clock behind
        ours) is tried again a minute later, never in a tight loop.
        """
        self.renewal = CrlRenewal(self.server, self.clock, lambda: self.now() + datetime.timedelta(hours=5),
                                  maybeDeferred)
        self.renewal.startService()
        self.addCleanup(self.renewal.stopService)
        self.renewal.schedule()
        [call] = self.clock.getDelayedCalls()
        self.assertEqual(call.getTime(), 60)

    def test_stopCancels(self):
        """
        Stopping the service cancels the timer.
        """
        self.renewal.schedule()
        self.assertEqual(self.renewal.scheduled, 7200 - 3600)
        self.renewal.stopService()
        self.assertIsNone(self.renewal.scheduled)
        self.assertIsInstance(self.renewal, Service)
