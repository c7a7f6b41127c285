"""
Tests for L{srst.pki.crl}: phone certificates checked against their
trustpoint's CRL at the TLS handshake, over real TLS on 127.0.0.1.
"""

from __future__ import annotations

import datetime
import os
import time
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import Data
from zope.interface import implementer

from srst.pki._signing import buildCrl
from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.pki._time import iosTime
from srst.pki.crl import (CdpCrls, CdpPolicy, CrlChecker, CrlError, RevocationChecks, loadCrlFile, registerCrlCommands,
                          renderCrls)
from srst.pki.tls import phoneClientTLSOptions, serverTLSOptions, trustRootFor
from tests.loghelpers import logLines
from tests.pkihelpers import HOUR, CrlSite, makeCA, makePhoneCertificate, makeServerCertificate

CA = makeCA("CRL-CAPF")
OTHER = makeCA("CRL-OTHER")
ROUTER_CA = makeCA("CRL-ROUTER-CA")
ROUTER = makeServerCertificate(ROUTER_CA, "router")


def writeCrl(directory: str, name: str, revoked: dict[int, datetime.datetime], start: datetime.datetime,
             lifetime: datetime.timedelta = 24 * HOUR, signer: Any = None) -> str:
    """
    Mint a CRL of L{CA} (signed by C{signer}, default the CA's key) into a file.
    """
    crl = buildCrl(signer or CA.key, CA.certificate, None, revoked, start - HOUR, start + lifetime)
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(crl.public_bytes(Encoding.PEM))
    return path


@implementer(IHandshakeListener)
class Side(Protocol):
    """One end: fires C{outcome} with True (handshake done) or the lost reason."""

    def __init__(self) -> None:
        self.outcome: Deferred[Any] = Deferred()
        self.lost: Deferred[Any] = Deferred()
        self.tlsTransport: Any = None

    def connectionMade(self) -> None:
        self.tlsTransport = self.transport

    def handshakeCompleted(self) -> None:
        if not self.outcome.called:
            self.outcome.callback(True)
        self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        if not self.outcome.called:
            self.outcome.callback([reason])
        self.lost.callback(None)


class LoopbackTLS:
    """A TLS server on 127.0.0.1 with the given options; L{connect} makes one phone connection."""

    def __init__(self, testCase: TestCase, options: Any) -> None:
        self.options = options
        self.servers: list[Side] = []

        class ServerFactory(Factory):
            def buildProtocol(inner, addr: Any) -> Side:
                side = Side()
                self.servers.append(side)
                return side

        self.port = reactor.listenTCP(0, TLSMemoryBIOFactory(options, False, ServerFactory()), interface="127.0.0.1")
        testCase.addCleanup(self.port.stopListening)

    @inlineCallbacks
    def connect(self, certificate: Any, key: Any, chain: Any = ()) -> Any:
        """
        @param chain: the intermediate CA certificates the phone sends
            after its own.
        @return: a L{Deferred} firing with the server's reason for refusing
            (a string) or C{None} when the handshake completed.
        """
        client = Side()
        if chain:
            clientOptions = CertificateOptions(privateKey=key, certificate=certificate, extraCertChain=list(chain),
                                               trustRoot=trustRootFor([ROUTER_CA.certificate]))
        else:
            clientOptions = phoneClientTLSOptions([ROUTER_CA.certificate], certificate, key)
        factory = ClientFactory.forProtocol(lambda: client)
        reactor.connectTCP("127.0.0.1", self.port.getHost().port, TLSMemoryBIOFactory(clientOptions, True, factory))
        yield client.lost
        server = self.servers[-1]
        outcome = yield server.outcome
        yield server.lost
        if outcome is True:
            return None
        return self.options.handshakeFailure(server.tlsTransport, outcome[0]).reason


def tlsServer(testCase: TestCase, checker: CrlChecker) -> LoopbackTLS:
    options = serverTLSOptions("sccp secure", ROUTER[0], ROUTER[1], [ROUTER_CA.certificate],
                               trustedCertificates=[CA.certificate], revocation=RevocationChecks([checker]))
    return LoopbackTLS(testCase, options)


def realTimeClock() -> Clock:
    clock = Clock()
    clock.advance(time.time())
    return clock


def clockTime(clock: Clock) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(clock.seconds(), datetime.timezone.utc)


class VerifyTests(TestCase):
    """
    A CRL is used only if a CA of the trustpoint issued and signed it.
    """

    def test_badSignature(self):
        """
        A CRL naming the CA but signed by another key is refused with
        "bad signature".
        """
        path = writeCrl(self.dir(), "bad.crl", {}, datetime.datetime.now(datetime.timezone.utc), signer=OTHER.key)
        with self.assertRaises(CrlError) as caught:
            loadCrlFile(path, [CA.certificate])
        self.assertEqual(caught.exception.reason, "bad signature: not signed by the key of "
                         + CA.certificate.subject.rfc4514_string())

    def test_foreignIssuer(self):
        """
        A CRL of another CA is refused, naming its issuer.
        """
        path = writeCrl(self.dir(), "good.crl", {}, datetime.datetime.now(datetime.timezone.utc))
        with self.assertRaises(CrlError) as caught:
            loadCrlFile(path, [OTHER.certificate])
        self.assertIn("which is not a CA certificate of the trustpoint", caught.exception.reason)

    def dir(self) -> str:
        path = self.mktemp()
        os.makedirs(path)
        return path


class HandshakeTests(TestCase):
    """
    At the handshake, a phone certificate on its issuer's CRL is refused;
    the CRL is refreshed before nextUpdate on the clock.
    """

    def setUp(self):
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.clock = realTimeClock()
        self.revoked = makePhoneCertificate(CA, "0000000000C1")
        self.good = makePhoneCertificate(CA, "0000000000C2")

    def checker(self, **kwargs: Any) -> CrlChecker:
        checker = CrlChecker("capf", [CA.certificate], self.clock, **kwargs)
        checker.start()
        self.addCleanup(checker.stop)
        return checker

    @inlineCallbacks
    def test_revokedRefusedGoodAccepted(self):
        """
        A revoked LSC is refused with "certificate revoked"; another from the
        same CA completes its handshake.
        """
        start = clockTime(self.clock)
        path = writeCrl(self.directory, "capf.crl", {self.revoked[0].serial_number: start}, start)
        server = tlsServer(self, self.checker(file=path))
        self.assertEqual((yield server.connect(*self.revoked)), "certificate revoked")
        self.assertIsNone((yield server.connect(*self.good)))

    @inlineCallbacks
    def test_refreshedBeforeNextUpdate(self):
        """
        The CRL file is read again shortly before nextUpdate: a phone revoked
        in the new CRL is refused from then on.
        """
        start = clockTime(self.clock)
        path = writeCrl(self.directory, "capf.crl", {}, start)
        server = tlsServer(self, self.checker(file=path))
        self.assertIsNone((yield server.connect(*self.good)))
        writeCrl(self.directory, "capf.crl", {self.good[0].serial_number: start}, start + 23 * HOUR)
        self.clock.advance(22 * 3600)
        self.assertIsNone((yield server.connect(*self.good)), "refreshed too early")
        self.clock.advance(2 * 3600 - 299)
        self.assertEqual((yield server.connect(*self.good)), "certificate revoked")

    @inlineCallbacks
    def test_expiredCrl(self):
        """
        Past nextUpdate with no newer CRL: "CRL expired" with
        revocation-check crl.
        """
        start = clockTime(self.clock)
        path = writeCrl(self.directory, "capf.crl", {}, start, lifetime=HOUR)
        server = tlsServer(self, self.checker(file=path))
        os.remove(path)
        self.clock.advance(3600)
        self.assertEqual((yield server.connect(*self.good)), "CRL expired")

    @inlineCallbacks
    def test_fetchedOverHttp(self):
        """
        A CRL URL is fetched with the agent at start and refreshed on the
        clock; a phone revoked in the newer CRL is refused.
        """
        start = clockTime(self.clock)
        first = buildCrl(CA.key, CA.certificate, None, {}, start - HOUR, start + 24 * HOUR)
        site = CrlSite(self)
        published = Data(first.public_bytes(Encoding.DER), "application/pkix-crl")
        site.root.putChild(b"capf.crl", published)
        url = site.url("capf.crl")
        checker = CrlChecker("capf", [CA.certificate], self.clock, url=url, agent=Agent(reactor), cacheSeconds=600)
        self.addCleanup(checker.stop)
        yield checker.start()
        self.assertIsNone(checker.problem)
        server = tlsServer(self, checker)
        self.assertIsNone((yield server.connect(*self.good)))
        second = buildCrl(CA.key, CA.certificate, first, {self.good[0].serial_number: start}, start, start + 24 * HOUR)
        published.data = second.public_bytes(Encoding.DER)
        self.clock.advance(600)  # cache-delete-after: the clock starts a fetch
        yield checker.refresh()  # the fetch under way
        self.assertIsNone(checker.problem)
        self.assertEqual((yield server.connect(*self.good)), "certificate revoked")

    @inlineCallbacks
    def test_endlessBodyCutOff(self):
        """
        A CRL URL that answers with a chunked body and no length, longer
        than the checker's limit, is cut off once the limit is passed (the
        server sees its client go) and the CRL is unavailable, not read
        into memory whole.
        """
        class Endless(Resource):
            isLeaf = True
            requests: list[Any] = []

            def render_GET(self, request: Any) -> Any:
                self.requests.append(request)
                request.write(b"x" * 4096)
                return NOT_DONE_YET

        endless = Endless()
        url = CrlSite(self, endless).url("capf.crl")
        checker = CrlChecker("capf", [CA.certificate], self.clock, url=url, agent=Agent(reactor), maxBytes=1000)
        self.addCleanup(checker.stop)
        yield checker.start().addTimeout(5, reactor)
        self.assertEqual(checker.problem, "larger than 1000 bytes")
        [request] = endless.requests
        gone: Deferred[None] = request.notifyFinish()
        gone.addErrback(lambda failure: None)  # the client hung up: what the test waits for
        yield gone

    @inlineCallbacks
    def test_unreachableUrl(self):
        """
        A CRL URL nobody answers: refused with "CRL unavailable" under
        revocation-check crl; accepted with one warning under crl none.
        """
        lines = logLines(self, "srst.pki.crl")
        closed = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        url = f"http://127.0.0.1:{closed.getHost().port}/capf.crl"
        yield closed.stopListening()
        strict = CrlChecker("capf", [CA.certificate], self.clock, url=url, agent=Agent(reactor))
        self.addCleanup(strict.stop)
        yield strict.start()
        self.assertEqual((yield tlsServer(self, strict).connect(*self.good)), "CRL unavailable")
        optional = CrlChecker("capf", [CA.certificate], self.clock, url=url, agent=Agent(reactor), optional=True)
        self.addCleanup(optional.stop)
        yield optional.start()
        server = tlsServer(self, optional)
        self.assertIsNone((yield server.connect(*self.good)))
        self.assertIsNone((yield server.connect(*self.revoked)))
        accepted = [line for line in lines if "accepted without a revocation check" in line]
        self.assertEqual(len(accepted), 1, lines)
        self.assertIn("Trustpoint capf: CN=SEP0000000000C2", accepted[0])
        self.assertIn("(revocation-check crl none): Connection was refused", accepted[0])


class RequestCommandTests(TestCase):
    """
    C{crypto pki crl request <trustpoint>}: the CRL is re-read now, and the
    refresh timer re-armed from it.
    """

    def setUp(self):
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.clock = realTimeClock()
        self.table = CommandTable()

    def command(self, *words: str) -> Deferred[CommandResult]:
        command, variables = self.table.lookup(list(words))
        return command.handler(**variables)

    def test_requestReloads(self):
        """
        A CRL file rewritten with a revocation is in memory once the command
        ran (not at the next timer), the command says what it loaded, and
        the timer is re-armed for the new CRL.
        """
        start = clockTime(self.clock)
        path = writeCrl(self.directory, "capf.crl", {}, start)
        checker = CrlChecker("capf", [CA.certificate], self.clock, file=path, cacheSeconds=600)
        checker.start()
        self.addCleanup(checker.stop)
        registerCrlCommands(self.table, [checker])
        self.clock.advance(100)
        writeCrl(self.directory, "capf.crl", {7: start}, start, lifetime=48 * HOUR)
        result = self.successResultOf(self.command("crypto", "pki", "crl", "request", "capf"))
        nextUpdate = (start + 48 * HOUR).replace(microsecond=0)  # CRL times are whole seconds
        self.assertEqual(result.text, f"% CRL for trustpoint capf retrieved from {path}: 1 revoked,"
                                      f" NextUpdate {iosTime(nextUpdate)}")
        self.assertEqual(result.data, {"trustpoint": "capf", "source": path, "revoked": [7],
                                       "nextUpdate": nextUpdate.isoformat()})
        self.assertEqual(checker.nextRefresh, self.clock.seconds() + 600)

    def test_requestFails(self):
        """
        A CRL that cannot be had fails the command naming the source and
        why; an unknown trustpoint names those that check CRLs.
        """
        path = os.path.join(self.directory, "missing.crl")
        checker = CrlChecker("capf", [CA.certificate], self.clock, file=path, optional=True)
        checker.start()
        self.addCleanup(checker.stop)
        registerCrlCommands(self.table, [checker])
        error = self.failureResultOf(self.command("crypto", "pki", "crl", "request", "capf"), CommandError).value
        self.assertEqual(str(error), f"CRL for trustpoint capf could not be retrieved from {path}:"
                                     " cannot read the CRL: No such file or directory")
        error = self.assertRaises(CommandError, self.command, "crypto", "pki", "crl", "request", "7970")
        self.assertEqual(str(error), "Trustpoint 7970 has no CRL to request (revocation-check crl: capf)")


class DistributionPointTests(TestCase):
    """
    C{revocation-check crl} without C{crl:}: the CRL comes from the CRL
    Distribution Point of the certificate checked, fetched over HTTP when a
    handshake first names it; that handshake is refused (or accepted with a
    warning under C{crl none}) and the next one is decided with the CRL.
    """

    def setUp(self):
        self.clock = realTimeClock()
        self.start = clockTime(self.clock)
        self.site = CrlSite(self)
        self.url = self.site.url("capf.crl")
        self.revoked = makePhoneCertificate(CA, "0000000000D1", crlDistributionPoints=[self.url])
        self.good = makePhoneCertificate(CA, "0000000000D2", crlDistributionPoints=[self.url])
        self.site.publish("capf.crl", CA, {self.revoked[0].serial_number: self.start}, self.start)

    def server(self, optional: bool = False, **kwargs: Any) -> tuple[LoopbackTLS, CdpCrls]:
        cdp = CdpCrls(self.clock, Agent(reactor), **kwargs)
        self.addCleanup(cdp.stop)
        checks = RevocationChecks([], [CdpPolicy("capf", (CA.certificate,), optional)], cdp)
        options = serverTLSOptions("sccp secure", ROUTER[0], ROUTER[1], [ROUTER_CA.certificate],
                                   trustedCertificates=[CA.certificate], revocation=checks)
        return LoopbackTLS(self, options), cdp

    @inlineCallbacks
    def test_fetchedOnFirstHandshake(self):
        """
        The first handshake naming the CDP URL is refused with "CRL
        unavailable (fetching URL)" and starts the fetch; once fetched, a
        revoked phone is refused and a good one accepted, and show crypto
        pki crls lists the CRL with the URL as its source.
        """
        server, cdp = self.server()
        self.assertEqual((yield server.connect(*self.good)), f"CRL unavailable (fetching {self.url})")
        [checker] = cdp.checkers
        yield checker.refresh()  # the fetch the handshake started
        self.assertIsNone(checker.problem)
        self.assertEqual((yield server.connect(*self.revoked)), "certificate revoked")
        self.assertIsNone((yield server.connect(*self.good)))
        shown = renderCrls(cdp.checkers)
        self.assertIn(f"    Retrieved from CRL Distribution Point: \n      {self.url}\n", shown.text)
        self.assertEqual(shown.data[0]["revoked"], [self.revoked[0].serial_number])

    @inlineCallbacks
    def test_optionalAcceptsWhileFetching(self):
        """
        Under revocation-check crl none the first handshake is accepted with
        a warning naming the fetch; the next one is decided with the CRL.
        """
        lines = logLines(self, "srst.pki.crl")
        server, cdp = self.server(optional=True)
        self.assertIsNone((yield server.connect(*self.revoked)))
        yield cdp.checkers[0].refresh()
        self.assertEqual((yield server.connect(*self.revoked)), "certificate revoked")
        accepted = [line for line in lines if "accepted without a revocation check" in line]
        self.assertEqual(accepted, ["Trustpoint capf: CN=SEP0000000000D1 accepted without a revocation check"
                                    f" (revocation-check crl none): CRL unavailable (fetching {self.url})"])

    @inlineCallbacks
    def test_noDistributionPoint(self):
        """
        A certificate without an http:// CDP is refused with "no CRL
        distribution point"; an ldap:// one is ignored with a log line.
        """
        lines = logLines(self, "srst.pki.crl")
        server, cdp = self.server()
        bare = makePhoneCertificate(CA, "0000000000D3")
        ldap = makePhoneCertificate(CA, "0000000000D4", crlDistributionPoints=["ldap://ca/CN=CAPF"])
        self.assertEqual((yield server.connect(*bare)), "no CRL distribution point")
        self.assertEqual((yield server.connect(*ldap)), "no CRL distribution point")
        self.assertEqual(cdp.checkers, ())
        self.assertIn("Trustpoint capf: CRL distribution point ldap://ca/CN=CAPF of CN=SEP0000000000D4 ignored"
                      " (only http:// is fetched)", lines)

    @inlineCallbacks
    def test_verifiedAgainstIssuer(self):
        """
        A CRL at the CDP URL not signed by the certificate's issuer is not
        used: the phone is refused with "CRL unavailable" and the problem
        says why.
        """
        self.site.publish("capf.crl", CA, {}, self.start, signer=OTHER.key)
        server, cdp = self.server()
        yield server.connect(*self.good)
        [checker] = cdp.checkers
        yield checker.refresh()
        self.assertEqual(checker.problem, "bad signature: not signed by the key of "
                         + CA.certificate.subject.rfc4514_string())
        self.assertEqual((yield server.connect(*self.good)), "CRL unavailable")

    @inlineCallbacks
    def test_boundedCache(self):
        """
        The cache keeps at most maxCrls CRLs: the least recently used one
        is dropped (and stops refreshing) for a new URL.
        """
        other = self.site.url("other.crl")
        self.site.publish("other.crl", CA, {}, self.start)
        elsewhere = makePhoneCertificate(CA, "0000000000D5", crlDistributionPoints=[other])
        lines = logLines(self, "srst.pki.crl")
        server, cdp = self.server(maxCrls=1)
        yield server.connect(*self.good)
        [first] = cdp.checkers
        yield first.refresh()
        self.assertEqual((yield server.connect(*elsewhere)), f"CRL unavailable (fetching {other})")
        self.assertEqual([checker.source for checker in cdp.checkers], [other])
        self.assertIn(f"CRL from {self.url} dropped from the CRL cache", lines)
        yield cdp.checkers[0].refresh()
        self.assertEqual((yield server.connect(*self.good)), f"CRL unavailable (fetching {self.url})")

    @inlineCallbacks
    def test_boundedBytes(self):
        """
        Past maxTotalBytes of CRLs, the least recently used is dropped once
        a new one is in.
        """
        other = self.site.url("other.crl")
        self.site.publish("other.crl", CA, {}, self.start)
        elsewhere = makePhoneCertificate(CA, "0000000000D5", crlDistributionPoints=[other])
        server, cdp = self.server(maxTotalBytes=300)
        yield server.connect(*self.good)
        yield cdp.checkers[0].refresh()
        self.assertLess(len(cdp.checkers[0].crl.public_bytes(Encoding.DER)), 300)
        yield server.connect(*elsewhere)
        yield cdp.checkers[-1].refresh()
        self.assertEqual([checker.source for checker in cdp.checkers], [other])


ROOT = makeCA("CRL-ROOT")


class IntermediateTests(TestCase):
    """
    A phone chain root -> sub-CA -> LSC: every certificate below the anchor
    is checked against its issuer's CRL, so a revoked sub-CA refuses every
    phone under it.
    """

    def setUp(self):
        self.clock = realTimeClock()
        self.start = clockTime(self.clock)
        self.site = CrlSite(self)
        self.rootUrl = self.site.url("root.crl")
        self.subUrl = self.site.url("sub.crl")
        self.sub = makeCA("CRL-SUB", issuer=ROOT, serial=7, crlDistributionPoints=[self.rootUrl])
        self.phone = makePhoneCertificate(self.sub, "0000000000E1", crlDistributionPoints=[self.subUrl])
        self.site.publish("sub.crl", self.sub, {}, self.start)

    def server(self, checkers: Any = ()) -> tuple[LoopbackTLS, CdpCrls]:
        cdp = CdpCrls(self.clock, Agent(reactor))
        self.addCleanup(cdp.stop)
        checks = RevocationChecks(checkers, [CdpPolicy("capf", (ROOT.certificate,))], cdp)
        options = serverTLSOptions("sccp secure", ROUTER[0], ROUTER[1], [ROUTER_CA.certificate],
                                   trustedCertificates=[ROOT.certificate], revocation=checks)
        return LoopbackTLS(self, options), cdp

    @inlineCallbacks
    def connect(self, server: LoopbackTLS) -> Any:
        """The phone connects, sending its sub-CA after its LSC."""
        return (yield server.connect(*self.phone, chain=[self.sub.certificate]))

    @inlineCallbacks
    def test_revokedSubCa(self):
        """
        The sub-CA on the root's CRL (its CDP): the phone under it is
        refused with "certificate revoked" at depth 1.
        """
        self.site.publish("root.crl", ROOT, {self.sub.certificate.serial_number: self.start}, self.start)
        server, cdp = self.server()
        self.assertEqual((yield self.connect(server)), f"CRL unavailable (fetching {self.rootUrl})")
        yield cdp.checkers[-1].refresh()
        self.assertEqual((yield self.connect(server)), "certificate revoked")
        self.assertEqual(server.options.handshakeFailure(server.servers[-1].tlsTransport, None).depth, 1)
        self.assertEqual([checker.source for checker in cdp.checkers], [self.rootUrl])

    @inlineCallbacks
    def test_goodChainChecksBothLevels(self):
        """
        Neither revoked: both CRLs are fetched (the sub-CA's from the root's
        CDP, the phone's from the sub-CA's) and the phone is accepted; once
        the sub-CA's CRL lists the phone, it is refused.
        """
        self.site.publish("root.crl", ROOT, {}, self.start)
        server, cdp = self.server()
        self.assertEqual((yield self.connect(server)), f"CRL unavailable (fetching {self.rootUrl})")
        yield cdp.checkers[-1].refresh()
        self.assertEqual((yield self.connect(server)), f"CRL unavailable (fetching {self.subUrl})")
        yield cdp.checkers[-1].refresh()
        self.assertIsNone((yield self.connect(server)))
        self.assertEqual([checker.source for checker in cdp.checkers], [self.rootUrl, self.subUrl])
        self.site.publish("sub.crl", self.sub, {self.phone[0].serial_number: self.start}, self.start)
        yield cdp.checkers[-1].refresh()
        self.assertEqual((yield self.connect(server)), "certificate revoked")

    @inlineCallbacks
    def test_configuredCrlCoversSubCa(self):
        """
        With a configured CRL of the root (crl: file) listing the sub-CA,
        the phone is refused "certificate revoked" at once, without a fetch.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        crl = buildCrl(ROOT.key, ROOT.certificate, None, {self.sub.certificate.serial_number: self.start},
                       self.start - HOUR, self.start + 24 * HOUR)
        path = os.path.join(directory, "root.crl")
        with open(path, "wb") as f:
            f.write(crl.public_bytes(Encoding.PEM))
        checker = CrlChecker("capf", [ROOT.certificate], self.clock, file=path)
        checker.start()
        self.addCleanup(checker.stop)
        server, cdp = self.server([checker])
        self.assertEqual((yield self.connect(server)), "certificate revoked")
        self.assertEqual(cdp.checkers, ())

    @inlineCallbacks
    def test_configuredSubCaCrl(self):
        """
        A trustpoint holding the root and the sub-CA with the sub-CA's CRL
        configured: the phone is checked against it, and the sub-CA itself
        (not covered by its own CRL) against the root's CRL from its CDP.
        """
        self.site.publish("root.crl", ROOT, {}, self.start)
        directory = self.mktemp()
        os.makedirs(directory)
        crl = buildCrl(self.sub.key, self.sub.certificate, None, {self.phone[0].serial_number: self.start},
                       self.start - HOUR, self.start + 24 * HOUR)
        path = os.path.join(directory, "sub.crl")
        with open(path, "wb") as f:
            f.write(crl.public_bytes(Encoding.PEM))
        checker = CrlChecker("capf", [ROOT.certificate, self.sub.certificate], self.clock, file=path)
        checker.start()
        self.addCleanup(checker.stop)
        server, cdp = self.server([checker])
        self.assertEqual((yield self.connect(server)), f"CRL unavailable (fetching {self.rootUrl})")
        yield cdp.checkers[-1].refresh()
        self.assertEqual((yield self.connect(server)), "certificate revoked")
        self.assertEqual(server.options.handshakeFailure(server.servers[-1].tlsTransport, None).depth, 0)
        self.assertEqual([checker.source for checker in cdp.checkers], [self.rootUrl])
