"""
Integration tests for L{srst.service}: the real router on 127.0.0.1 with
ephemeral ports, its CA made on first start, CallManager's credentials fetch,
the seed's control-plane policy, and the show commands.
"""

import datetime
import errno
from io import BytesIO
import os
import re
import socket
import stat
import typing
import wave

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet import reactor
from twisted.internet.protocol import ClientFactory, DatagramProtocol, Protocol
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import LogEvent, LogLevel, capturedLogs, formatEvent, globalLogPublisher
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool, readBody
from zope.interface import directlyProvides, providedBy
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.config import ConfigError, loadString
from srst.pki._signing import buildCrl
from srst.pki._time import iosTime
from srst.pki.ca import certificateFingerprint
from srst.pki.errors import TrustpointError
from srst.listening import ListenerError
from srst.policing.meter import CONNECTION_ATTEMPT_BYTES
from srst.ports.wav import writeWav
from srst.ipsec.vici import REQUEST_TIMEOUT
from srst.service import ExitOnStartupError, RouterService, StartupError, ipsecHold, makeService, preflight, utcNow
from srst.tools.ccm import fetchCredentials
from tests.pkihelpers import makeCA, seedChainText, sharedKey, writeKey, writePem
from tests.policinghelpers import requireLoopbackAliases
from tests.toolhelpers import requireTool
from tests.loghelpers import firstLogLine
from tests.routerhelpers import (
    ClockedReactor,
    TimersOnClock,
    bounded,
    SEED_POLICY,
    freePort,
    routerYaml,
    runCommand,
    spawnRouter,
    startRouter,
    stateDirectory,
    synchronously,
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

    @bounded
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

    @bounded
    def test_stateDirectoriesPrivateUnderOpenUmask(self):
        """
        Under umask 000 every directory the router creates in its state
        directory (and the state directory itself) is 0700: other users can
        list neither the CA database nor the trustpoints.
        """
        self.addCleanup(os.umask, os.umask(0))
        stateDir = os.path.join(stateDirectory(self), "state")
        yield startRouter(self, routerYaml(stateDir))
        directories = [stateDir]
        for parent, names, _ in os.walk(stateDir):
            directories.extend(os.path.join(parent, name) for name in names)
        self.assertIn(os.path.join(stateDir, "pki", "trustpoints", "srstca"), directories)
        self.assertIn(os.path.join(stateDir, "pki", "server", "srstcaserver", "requests"), directories)
        self.assertEqual({path: oct(stat.S_IMODE(os.stat(path).st_mode)) for path in directories},
                         {path: oct(0o700) for path in directories})

    @bounded
    def test_openStateDirectoriesTightened(self):
        """
        State directories an older run left open to other users are
        tightened to 0700 at start, with a warning naming each one.
        """
        stateDir = stateDirectory(self)
        opened = [os.path.join(stateDir, *names)
                  for names in [("pki",), ("pki", "server"), ("pki", "server", "srstcaserver"),
                                ("pki", "trustpoints"), ("pki", "trustpoints", "srstca")]]
        for path in opened:
            os.mkdir(path)
            os.chmod(path, 0o777)
        with capturedLogs() as events:
            yield startRouter(self, routerYaml(stateDir))
        self.assertEqual([oct(stat.S_IMODE(os.stat(path).st_mode)) for path in opened], [oct(0o700)] * len(opened))
        warned = [e["path"] for e in events if e.get("log_namespace") == "srst.files"]
        self.assertEqual(sorted(warned), sorted(opened))

    @bounded
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

    @bounded
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

    @bounded
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

    @bounded
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

    @bounded
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

    @bounded
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


CDP_URL = "http://127.0.0.1:8080/crl/srstcaserver.crl"


def _body(data):
    return FileBodyProducer(BytesIO(data))


def httpRouterYaml(stateDir, port=0, extra=""):
    """
    A test router with C{http-server:} on 127.0.0.1 and a CDP URL.
    """
    return routerYaml(stateDir, extra=f"http-server: {{address: 127.0.0.1, port: {port}}}\n" + extra).replace("    issuer-name: CN=srstcaserver\n",
                              f"    issuer-name: CN=srstcaserver\n    cdp-url: {CDP_URL}\n")


class HttpServerTests(TestCase):
    """
    C{http-server:}: the router's web site in the service, its CRL, its
    policing.
    """

    timeout = 30

    def get(self, port, path):
        agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        return agent.request(b"GET", b"http://127.0.0.1:%d%s" % (port, path))

    @bounded
    def test_crlPublished(self):
        """
        The router's site serves the certificate server's current CRL: a
        revocation through C{crypto pki server ... revoke} shows in the
        next fetch; the router's own certificate carries the CDP URL;
        unknown paths are 404; each request is one srst.http.access event.
        """
        stateDir = stateDirectory(self)
        with capturedLogs() as events:
            service = yield startRouter(self, httpRouterYaml(stateDir))
            # lifetime crl 168 h: the CRL is re-signed an hour before it expires.
            self.assertLess(abs(service.crlRenewal.scheduled - reactor.seconds() - 167 * 3600), 60)
            port = service.ports()["http"]
            identity = service.identities["srstca"].certificate
            points = identity.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            self.assertEqual([name.value for name in points[0].full_name], [CDP_URL])
            yield runCommand(service, "crypto", "pki", "server", "srstcaserver", "revoke",
                             format(identity.serial_number))
            response = yield self.get(port, b"/crl/srstcaserver.crl")
            self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"application/pkix-crl"])
            crl = x509.load_der_x509_crl((yield readBody(response)))
            self.assertEqual([r.serial_number for r in crl], [identity.serial_number])
            self.assertTrue(crl.is_signature_valid(readCA(stateDir).public_key()))
            # SCEP (RFC 8894) is served on the same site: GetCACert gives the CA certificate.
            response = yield self.get(port, b"/cgi-bin/pkiclient.exe?operation=GetCACert")
            self.assertEqual(response.code, 200)
            self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"application/x-x509-ca-cert"])
            caDer = yield readBody(response)
            self.assertEqual(caDer, readCA(stateDir).public_bytes(Encoding.DER))
            # The one-time SCEP challenge password command is the running router's.
            result = yield runCommand(service, "crypto", "pki", "server", "srstcaserver", "password", "generate", "5")
            self.assertEqual(result.data["minutes"], 5)
            self.assertIn("(valid 5 minutes)", result.text)
            response = yield self.get(port, b"/nothing-here")
            self.assertEqual(response.code, 404)
            notFound = yield readBody(response)
        access = [formatEvent(e) for e in events if e.get("log_namespace") == "srst.http.access"]
        self.assertEqual(access, [
            f'127.0.0.1 "GET /crl/srstcaserver.crl" 200 {len(crl.public_bytes(Encoding.DER))}',
            f'127.0.0.1 "GET /cgi-bin/pkiclient.exe?operation=GetCACert" 200 {len(caDer)}',
            f'127.0.0.1 "GET /nothing-here" 404 {len(notFound)}',
        ])

    @bounded
    def test_scepRefusalSummaryAtStop(self):
        """
        The SCEP resource's refusal lines go through the site's limiter,
        which stops with the router: the repeats counted so far are logged
        as one summary at stopService, and no summary timer is left behind.
        """
        service = yield startRouter(self, httpRouterYaml(stateDirectory(self)))
        port = service.ports()["http"]
        agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        with capturedLogs() as events:
            for _ in range(3):
                response = yield agent.request(b"POST", b"http://127.0.0.1:%d/cgi-bin/pkiclient.exe"
                                               b"?operation=PKIOperation" % (port,), bodyProducer=_body(b"junk"))
                self.assertEqual(response.code, 400)
                yield readBody(response)
            yield service.stopService()
        self.assertFalse(service.httpSite.logLimiter.timerArmed)
        lines = [formatEvent(e) for e in events if e.get("log_namespace") == "srst.pki.scep"]
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].startswith("SCEP: 127.0.0.1: unusable PKIOperation message:"), lines)
        self.assertTrue(lines[1].startswith("127.0.0.1: 2 more unusable SCEP messages in the last "), lines)

    @bounded
    def test_portTaken(self):
        """
        A taken HTTP port stops start-up with the listener's one line.
        """
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        config = loadString(httpRouterYaml(stateDirectory(self), port), "t.yaml")
        service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        error = self.assertRaises(StartupError, service.startService)
        self.assertEqual(str(error), f"cannot listen for http on 127.0.0.1 port {port}:"
                                     " [Errno 98] Address already in use")
        yield service.stopService()

    @bounded
    def test_policingDropsFlood(self):
        """
        An access list naming the HTTP port puts a flood from 127.0.0.2 in
        the policed class: every connection is dropped unanswered and
        counted, while 127.0.0.1 is served.
        """
        requireLoopbackAliases()
        port = freePort()
        service = yield startRouter(self, httpRouterYaml(stateDirectory(self), port,
                                                         SEED_POLICY.format(port=port)))
        factory = ClientFactory()
        factory.made, factory.lost, factory.total = 0, [], 200
        factory.done = Deferred()
        received = []

        class Requester(_Counting):
            def connectionMade(self):
                self.factory.made += 1
                self.transport.write(b"GET /crl/srstcaserver.crl HTTP/1.1\r\nHost: r\r\n\r\n")

            def dataReceived(self, data):
                received.append(data)

        factory.protocol = Requester
        for _ in range(200):
            reactor.connectTCP("127.0.0.1", port, factory, bindAddress=("127.0.0.2", 0))
        response = yield self.get(port, b"/crl/srstcaserver.crl")
        self.assertEqual(response.code, 200)
        yield readBody(response)
        yield factory.done
        self.assertEqual(received, [])
        stats = yield runCommand(service, "show", "policy-map", "control-plane")
        sccp, default = stats.data["classes"]
        self.assertEqual((sccp["refusedConnections"], sccp["droppedPackets"]), (200, 200))
        self.assertEqual(default["droppedPackets"], 0)


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

    def test_iosChainFile(self):
        """
        A phone trustpoint file of IOS certificate chain blocks passes
        preflight; a bad one stops start-up with a line naming its YAML
        path, the file and the file's line.
        """
        stateDir = stateDirectory(self)
        good = os.path.join(stateDir, "7970.txt")
        with open(good, "w") as f:
            f.write(seedChainText("7970"))
        preflight(loadString(routerYaml(stateDir, phoneCA=good), "t.yaml"))
        bad = os.path.join(stateDir, "7960.txt")
        with open(bad, "w") as f:
            f.write(seedChainText("7960"))
        error = self.assertRaises(ConfigError, preflight, loadString(routerYaml(stateDir, phoneCA=bad), "t.yaml"))
        self.assertEqual(str(error), f"t.yaml: pki.trustpoints.7970.certificates[0]: '{bad}' is not allowed;"
                                     " line 1: the block is for trustpoint 7960, not 7970")

    def test_identityIosChainFile(self):
        """
        An identity trustpoint's enrollment terminal certificate file of IOS
        certificate chain blocks is checked too, naming its YAML path.
        """
        stateDir = stateDirectory(self)
        path = os.path.join(stateDir, "srstca.txt")
        with open(path, "w") as f:
            f.write(seedChainText("srstcaserver").replace("chain srstcaserver", "chain srstca"))
        key = writeKey(stateDir, "srstca.key", sharedKey("preflight"))
        text = routerYaml(stateDir).replace("enrollment: {server: srstcaserver}",
                                            f"enrollment: terminal\n      terminal: {{certificate: {path}, key: {key}}}")
        error = self.assertRaises(ConfigError, preflight, loadString(text, "t.yaml"))
        self.assertEqual(str(error), f"t.yaml: pki.trustpoints.srstca.terminal.certificate: '{path}' is not allowed;"
                                     " expected one certificate <serial> block (the router's own) and certificate ca"
                                     " blocks, found 0 certificate blocks")

    def test_badCrlSignature(self):
        """
        With revocation-check crl, a CRL file not signed by the trustpoint's
        CA stops start-up with a line naming its YAML path and why; with
        revocation-check [crl, none] it does not (the router falls back at
        run time).
        """
        stateDir = stateDirectory(self)
        ca, forger = makeCA("PREFLIGHT-CAPF"), makeCA("PREFLIGHT-FORGER")
        capf = writePem(stateDir, "capf.pem", ca.certificate)
        start = utcNow()
        crl = buildCrl(forger.key, ca.certificate, None, {}, start, start + datetime.timedelta(days=1))
        path = os.path.join(stateDir, "capf.crl")
        with open(path, "wb") as f:
            f.write(crl.public_bytes(Encoding.PEM))
        for revocation in ("crl", "[crl, none]"):
            config = loadString(routerYaml(stateDir).replace(
                '"7970": {certificates:',
                f'capf: {{certificates: [{capf}], revocation-check: {revocation}, crl: {{file: {path}}}}}\n'
                '    "7970": {certificates:'), "t.yaml")
            if revocation == "crl":
                error = self.assertRaises(ConfigError, preflight, config)
                self.assertEqual(str(error), f"t.yaml: pki.trustpoints.capf.crl.file: '{path}' is not allowed;"
                                             " bad signature: not signed by the key of O=srst tests,CN=PREFLIGHT-CAPF")
            else:
                preflight(config)

    def test_duplicatePort(self):
        """
        Two listeners configured on one port stop start-up with a line naming
        the second and the first.
        """
        stateDir = stateDirectory(self)
        port = freePort()
        config = loadString(routerYaml(stateDir, credentialsPort=port, extra=f"""
            call-manager-fallback:
              ip-source-address: 127.0.0.1
              port: {port}
            """), "t.yaml")
        error = self.assertRaises(ConfigError, preflight, config)
        self.assertEqual(str(error), f"t.yaml: call-manager-fallback.port: 127.0.0.1 port {port}"
                                     " is credentials.port already")

    def test_httpPortDuplicate(self):
        """
        The HTTP port is checked with the others.
        """
        port = freePort()
        config = loadString(httpRouterYaml(stateDirectory(self), port).replace(
            "credentials:\n  ip-source-address: 127.0.0.1\n  port: 0", f"credentials:\n  ip-source-address: 127.0.0.1\n  port: {port}"), "t.yaml")
        error = self.assertRaises(ConfigError, preflight, config)
        self.assertEqual(str(error), f"t.yaml: http-server.port: 127.0.0.1 port {port} is credentials.port already")

    def test_udpPortInUse(self):
        """
        The MGCP gateway's UDP port, held by another socket, is one line
        naming mgcp.bind.port.
        """
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        stateDir = stateDirectory(self)
        config = loadString(routerYaml(stateDir, extra=f"""
            voice-ports:
              1/0/0: {{signal: fxs-loop-start}}
            mgcp:
              bind: {{host: 127.0.0.1, port: {port}}}
              call-agent: {{host: 127.0.0.1, port: 2727}}
            """), "t.yaml")
        error = self.assertRaises(ConfigError, preflight, config)
        self.assertEqual(str(error), f"t.yaml: mgcp.bind.port: cannot listen on 127.0.0.1 port {port}:"
                                     " Address already in use")


class StopRecordingReactor:
    """
    The global reactor, except that C{stop} is recorded rather than done.
    """

    def __init__(self):
        self.stopped = 0
        directlyProvides(self, providedBy(reactor))

    def stop(self):
        self.stopped += 1

    def __getattr__(self, name):
        return getattr(reactor, name)


class MakeServiceTests(TestCase):
    """
    L{makeService}, as the twistd plugin calls it, run in-process on
    ephemeral loopback ports.
    """

    timeout = 30

    @bounded
    def test_startListenStop(self):
        """
        The service built by L{makeService} (PKI work in the reactor's
        thread pool) comes up with the credentials, SCCP and secure SCCP
        listeners and the admin socket accepting connections, and stopping
        it closes them all.
        """
        stateDir = stateDirectory(self)
        config = loadString(routerYaml(stateDir, extra="""
            call-manager-fallback:
              ip-source-address: 127.0.0.1
              port: 0
              trustpoint: srstca
            """), "t.yaml")
        service = makeService(config, reactor)
        self.assertIsInstance(service, RouterService)
        service.startService()
        self.addCleanup(lambda: service.stopService() if service.running else None)
        yield service.whenReady()
        ports = service.ports()
        self.assertEqual(sorted(ports), ["credentials", "sccp", "sccp-secure"])
        for name, port in ports.items():
            yield TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(
                Factory.forProtocol(Protocol)).addCallback(lambda p: p.transport.loseConnection())
        result = yield runCommand(service, "show", "credentials")
        self.assertIn("Trustpoint: srstca", result.text)
        self.assertTrue(stat.S_ISSOCK(os.stat(config.admin.socket).st_mode))
        yield service.stopService()
        for port in ports.values():
            probe = socket.socket()
            self.addCleanup(probe.close)
            self.assertEqual(probe.connect_ex(("127.0.0.1", port)), errno.ECONNREFUSED)
        self.assertFalse(os.path.exists(config.admin.socket))


class StartupFailureTests(TestCase):
    """
    A port or the admin socket taken when the router starts stops start-up
    with one line.
    """

    timeout = 30

    def holdPort(self):
        """
        @return: a TCP port on 127.0.0.1 another socket listens on.
        """
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        return holder.getsockname()[1]

    @bounded
    def test_plainPortTaken(self):
        """
        A taken SCCP port makes C{startService} raise L{StartupError} naming
        the listener, the address and the reason; the admin socket that had
        started is closed and its file removed.
        """
        stateDir = stateDirectory(self)
        port = self.holdPort()
        config = loadString(routerYaml(stateDir, extra=f"""
            call-manager-fallback:
              ip-source-address: 127.0.0.1
              port: {port}
            """), "t.yaml")
        service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        error = self.assertRaises(StartupError, service.startService)
        self.assertEqual(str(error), f"cannot listen for sccp on 127.0.0.1 port {port}:"
                                     " [Errno 98] Address already in use")
        self.assertFalse(service.running)
        self.assertFalse(service.admin.running)
        yield service.stopService()
        self.assertFalse(os.path.exists(config.admin.socket))

    def test_exitOnStartupError(self):
        """
        What twistd runs logs the reason as one critical line and exits
        with status 1 (twistd would print a traceback for the exception).
        """
        stateDir = stateDirectory(self)
        port = self.holdPort()
        config = loadString(routerYaml(stateDir, extra=f"""
            call-manager-fallback:
              ip-source-address: 127.0.0.1
              port: {port}
            """), "t.yaml")
        service = ExitOnStartupError(makeService(config, reactor))
        with capturedLogs() as events:
            error = self.assertRaises(SystemExit, service.startService)
        self.assertEqual(error.code, 1)
        [event] = [e for e in events if e["log_level"] == LogLevel.critical]
        self.assertEqual(formatEvent(event), f"srst could not start: cannot listen for sccp on 127.0.0.1"
                                             f" port {port}: [Errno 98] Address already in use")
        self.assertFalse(service.running)

    def test_adminSocketTakenAtStart(self):
        """
        An admin socket path that another server took after the
        configuration was checked stops start-up with one line.
        """
        stateDir = stateDirectory(self)
        config = loadString(routerYaml(stateDir), "t.yaml")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(server.close)
        server.bind(config.admin.socket)
        server.listen(1)
        service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        error = self.assertRaises(StartupError, service.startService)
        self.assertEqual(str(error), f"admin socket {config.admin.socket}: another server is listening on it")

    def test_stateDirTakenAtStart(self):
        """
        A file where a key directory goes stops start-up with one line naming
        the state directory.
        """
        stateDir = stateDirectory(self)
        with open(os.path.join(stateDir, "pki"), "w"):
            pass
        config = loadString(routerYaml(stateDir), "t.yaml")
        service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        error = self.assertRaises(StartupError, service.startService)
        self.assertEqual(str(error), f"state-dir {stateDir}: cannot create {stateDir}/pki: File exists")

    @bounded
    def test_credentialsPortTakenLater(self):
        """
        The credentials port, bound once the router's certificate is
        enrolled, taken by then: L{RouterService.whenReady} fails with the
        reason.
        """
        stateDir = stateDirectory(self)
        port = self.holdPort()
        config = loadString(routerYaml(stateDir, credentialsPort=port), "t.yaml")
        service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        ready = service.whenReady()
        service.startService()
        self.addCleanup(service.stopService)
        error = yield self.assertFailure(ready, ListenerError)
        self.assertEqual(str(error), f"cannot listen for credentials on 127.0.0.1 port {port}:"
                                     " [Errno 98] Address already in use")

    def test_credentialsPortTakenNobodyWaiting(self):
        """
        With nobody waiting for the router (twistd), a port taken when the
        TLS listeners start logs one critical line, no traceback, and stops
        the reactor.
        """
        stateDir = stateDirectory(self)
        port = self.holdPort()
        config = loadString(routerYaml(stateDir, credentialsPort=port), "t.yaml")
        stopRecording = StopRecordingReactor()
        service = RouterService(config, stopRecording, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        with capturedLogs() as events:
            service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(stopRecording.stopped, 1)
        [event] = [e for e in events if e["log_level"] >= LogLevel.error]
        self.assertEqual(event["log_level"], LogLevel.critical)
        self.assertNotIn("log_failure", event)
        self.assertEqual(formatEvent(event), f"srst could not start: cannot listen for credentials on"
                                             f" 127.0.0.1 port {port}: [Errno 98] Address already in use")


class MohPreflightTests(SynchronousTestCase):
    """
    The music-on-hold file (C{call-manager-fallback.moh}) is read before
    start-up: a file the router could not stream stops it with one line
    naming the YAML path, the file and the reason.
    """

    def problemWith(self, path):
        """
        @return: the preflight error text of a router whose C{moh} is C{path}.
        """
        stateDir = stateDirectory(self)
        config = loadString(routerYaml(stateDir, extra=f"""
            call-manager-fallback:
              ip-source-address: 127.0.0.1
              port: 0
              moh: {path}
            """), "t.yaml")
        return str(self.assertRaises(ConfigError, preflight, config))

    def wavFile(self, rate=8000, channels=1):
        """
        @return: the path of a short 16-bit WAV file in the test's directory.
        """
        path = os.path.abspath(self.mktemp()) + ".wav"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with wave.open(path, "wb") as writer:
            writer.setnchannels(channels)
            writer.setsampwidth(2)
            writer.setframerate(rate)
            writer.writeframes(b"\x00\x00" * channels * 800)
        return path

    def test_missingFile(self):
        """
        A file that does not exist.
        """
        path = os.path.abspath(self.mktemp()) + ".wav"
        self.assertEqual(self.problemWith(path),
                         f"t.yaml: call-manager-fallback.moh: '{path}' is not allowed;"
                         " cannot read: No such file or directory")

    def test_directory(self):
        """
        A directory where the file should be.
        """
        path = os.path.abspath(self.mktemp())
        os.makedirs(path)
        self.assertEqual(self.problemWith(path),
                         f"t.yaml: call-manager-fallback.moh: '{path}' is not allowed;"
                         " not a regular file (a directory)")

    def test_notWav(self):
        """
        A file that is no WAV file.
        """
        path = os.path.abspath(self.mktemp())
        with open(path, "wb") as f:
            f.write(b"ID3 not a wave file" * 10)
        self.assertEqual(self.problemWith(path),
                         f"t.yaml: call-manager-fallback.moh: '{path}' is not allowed;"
                         " not a WAV file (no RIFF/WAVE header)")

    def test_not8kHz(self):
        """
        A 44.1 kHz file.
        """
        path = self.wavFile(rate=44100)
        self.assertEqual(self.problemWith(path),
                         f"t.yaml: call-manager-fallback.moh: '{path}' is not allowed;"
                         " sample rate 44100 Hz, expected 8000 Hz")

    def test_stereo(self):
        """
        A stereo file.
        """
        path = self.wavFile(channels=2)
        self.assertEqual(self.problemWith(path),
                         f"t.yaml: call-manager-fallback.moh: '{path}' is not allowed;"
                         " 2 channels, expected mono")

    def test_goodFile(self):
        """
        An 8 kHz mono file passes.
        """
        stateDir = stateDirectory(self)
        config = loadString(routerYaml(stateDir, extra=f"""
            call-manager-fallback:
              ip-source-address: 127.0.0.1
              port: 0
              moh: {self.wavFile()}
            """), "t.yaml")
        self.assertIsNone(preflight(config))


class MediaWiringTests(SynchronousTestCase):
    """
    The router hands its media services to the call engine and the MGCP
    gateway.
    """

    def router(self, extra):
        stateDir = stateDirectory(self)
        config = loadString(routerYaml(stateDir, extra=extra), "t.yaml")
        return RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                             callFromThread=reactor.callFromThread)

    def test_ccmManagerMusicOnHold(self):
        """
        C{ccm-manager music-on-hold: true} reaches every MGCP endpoint (they
        relay CallManager's multicast music to their port), whose legs can
        open multicast sockets on the router's reactor.
        """
        for flag in True, False:
            service = self.router(f"""
                voice-ports:
                  1/0/0: {{signal: fxs-loop-start}}
                dial-peers:
                  - {{tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, application: mgcpapp}}
                mgcp:
                  bind: {{host: 127.0.0.1, port: 0}}
                  call-agent: {{host: 127.0.0.1, port: 2727}}
                ccm-manager:
                  music-on-hold: {str(flag).lower()}
                """)
            [endpoint] = service.mgcpService.gateway.endpoints.values()
            self.assertIs(endpoint.musicOnHold, flag)
            self.assertIs(service.portService.media.multicastReactor, reactor)

    def test_phoneOnlyRouter(self):
        """
        A router with phones and no voice port still has music on hold and
        bridges (max-conferences from the configuration) on the media
        resources (the end-to-end tests show the engine uses them); without
        call-manager-fallback there are none.
        """
        path = os.path.abspath(self.mktemp()) + ".wav"
        writeWav(path, [0] * 1600)
        service = self.router(f"""
            call-manager-fallback:
              ip-source-address: 127.0.0.1
              port: 0
              moh: {path}
              max-conferences: 3
            """)
        farm = service.mediaFarm
        self.assertEqual(service.voicePorts, [])
        self.assertEqual((farm.holdMusic.path, farm.bridges.maxConferences), (path, 3))
        self.assertIs(farm.holdMusic.resources, service.portService.media)
        self.assertIs(farm.bridges.resources, service.portService.media)
        self.assertIsNone(self.router("").mediaFarm)


def scepRouterYaml(stateDir, caUrl, fingerprint):
    """
    Router B of the seed's shape: no certificate server; its srstca
    trustpoint enrolls over SCEP with router A's (IOS C{enrollment url}).
    """
    return (routerYaml(stateDir)
            .replace("  server:\n    name: srstcaserver\n    issuer-name: CN=srstcaserver\n    database-level: complete\n"
                     "    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n", "")
            .replace("      enrollment: {server: srstcaserver}\n      subject-name: CN=branch-router\n"
                     "      rsakeypair: {type: ecdsa, bits: 256}\n",
                     f"      enrollment: {{url: '{caUrl}', fingerprint: '{fingerprint}'}}\n"
                     "      subject-name: CN=router-b\n      rsakeypair: {type: rsa, bits: 2048}\n"))


@bounded
def opensslVerifiesPresentedChain(testCase, port, ca):
    """
    Capture the chain the router presents on C{port} with C{openssl s_client
    -showcerts} (which trusts nothing) and check it with C{openssl verify
    -CAfile <ca> -purpose sslserver}, the real binary (L{requireTool}).

    @return: the presented certificates, leaf first.
    """
    openssl = requireTool("openssl")
    out, err, code = yield getProcessOutputAndValue(
        openssl, ["s_client", "-connect", f"127.0.0.1:{port}", "-showcerts"],
        env=dict(os.environ), reactor=reactor, stdinBytes=b"")
    pems = re.findall(rb"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", out, re.S)
    testCase.assertTrue(pems, err)
    directory = testCase.mktemp()
    os.makedirs(directory)
    files = {}
    for name, data in (("ca.pem", ca.public_bytes(Encoding.PEM)), ("leaf.pem", pems[0]),
                       ("chain.pem", b"".join(pems[1:]))):
        files[name] = os.path.join(directory, name)
        with open(files[name], "wb") as f:
            f.write(data)
    arguments = ["verify", "-CAfile", files["ca.pem"], "-purpose", "sslserver"]
    if len(pems) > 1:
        arguments += ["-untrusted", files["chain.pem"]]
    out, err, code = yield getProcessOutputAndValue(openssl, arguments + [files["leaf.pem"]],
                                                    env=dict(os.environ), reactor=reactor)
    testCase.assertEqual((code, out.decode()), (0, f"{files['leaf.pem']}: OK\n"), err)
    return [x509.load_pem_x509_certificate(pem) for pem in pems]


class ScepEnrollmentTests(TestCase):
    """
    The seed's shape: router A runs the certificate server and serves SCEP
    on its http-server; router B's srstca trustpoint enrolls with it over
    SCEP (C{enrollment: {url: ...}}) and B's TLS listener presents the
    certificate A issued.
    """

    timeout = 30

    @bounded(timeout=20)
    def test_secondRouterEnrollsWithFirst(self):
        """
        B authenticates A's CA by its SHA-256 fingerprint, enrolls (grant
        auto), shows the certificate in C{show crypto pki certificates},
        and presents it at the credentials TLS handshake.
        """
        stateA = stateDirectory(self)
        a = yield startRouter(self, httpRouterYaml(stateA).replace(
            "    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n",
            "    grant: auto\n    rsakeypair: {type: rsa, bits: 2048}\n"))
        ca = readCA(stateA)
        fingerprint = "".join(certificateFingerprint(ca, "sha256").split())
        stateB = stateDirectory(self)
        with capturedLogs() as events:
            b = yield startRouter(self, scepRouterYaml(stateB, "http://127.0.0.1:%d" % (a.ports()["http"],),
                                                       fingerprint))
        enrolled = b.identities["srstca"].certificate
        self.assertEqual((enrolled.issuer, enrolled.subject.rfc4514_string()), (ca.subject, "CN=router-b"))
        enrolled.verify_directly_issued_by(ca)
        self.assertIn(f"trustpoint srstca: enrolling over SCEP with http://127.0.0.1:{a.ports()['http']}",
                      [formatEvent(e) for e in events])
        shown = (yield runCommand(b, "show", "crypto", "pki", "certificates", "srstca")).text
        self.assertIn("  Issuer:\n    cn=srstcaserver\n  Subject:\n    cn=router-b\n", shown)
        # B asked for its hostname and listener address, and A's certificate server put them in, as a
        # local enrollment does: CallManager's fetch checks the chain and the address.
        sans = enrolled.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertIn("127.0.0.1", [str(a) for a in sans.get_values_for_type(x509.IPAddress)])
        result = yield fetchCredentials(reactor, "127.0.0.1", b.ports()["credentials"], caCertificates=[ca])
        self.assertTrue(result.matches)
        self.assertEqual(result.handshakeCertificate, enrolled)
        # The chain B presents is one openssl accepts against A's CA alone.
        presented = yield opensslVerifiesPresentedChain(self, b.ports()["credentials"], ca)
        self.assertEqual(presented[0], enrolled)

    @bounded(timeout=30)
    def test_lateStartFailureExitsOne(self):
        """
        Under twistd, a start-up that fails once the reactor runs (the SCEP
        enrollment URL is a closed port) ends the process with status 1 and
        the reason on its output, not with twistd's normal 0.
        """
        closed = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        url = f"http://127.0.0.1:{closed.getHost().port}"
        yield closed.stopListening()
        stateDir = stateDirectory(self)
        router, _ = spawnRouter(self, scepRouterYaml(stateDir, url, "AB" * 16), stateDir)
        router.ready.addErrback(lambda failure: None)  # it never gets ready: what the test expects
        yield router.ended
        self.assertEqual(router.exitCode, 1, router.text())
        self.assertIn(f"srst could not start: trustpoint srstca: cannot reach {url}/cgi-bin/pkiclient.exe"
                      " (GetCACert): Connection was refused by other side", router.text())

    @bounded(timeout=20)
    def test_fingerprintMismatchStopsStartUp(self):
        """
        A configured fingerprint that is not A's CA certificate's stops B's
        start-up with an error naming the YAML path; nothing is enrolled.
        """
        stateA = stateDirectory(self)
        a = yield startRouter(self, httpRouterYaml(stateA).replace(
            "    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n",
            "    grant: auto\n    rsakeypair: {type: rsa, bits: 2048}\n"))
        url = "http://127.0.0.1:%d" % (a.ports()["http"],)
        error = yield self.assertFailure(startRouter(self, scepRouterYaml(stateDirectory(self), url, "AB" * 16)),
                                         TrustpointError)
        self.assertTrue(str(error).startswith(
            f"trustpoint srstca: pki.trustpoints.srstca.enrollment.fingerprint {'AB' * 16} does not match the CA"
            f" certificate from {url}/cgi-bin/pkiclient.exe (MD5 "), str(error))

    @bounded(timeout=20)
    def test_grantManualOnFirstRouter(self):
        """
        With grant manual on A, B's PKCSReq is PENDING and B polls on its
        clock every C{enrollment.retry.period} minutes; after C{crypto pki server srstcaserver grant 1} on A the next
        poll enrolls B, which then comes up with A's certificate (its
        handshake is checked in the grant auto test: B's timers are a
        Clock here).
        """
        stateA = stateDirectory(self)
        yamlA = httpRouterYaml(stateA).replace("    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n",
                                               "    grant: auto\n    rsakeypair: {type: rsa, bits: 2048}\n")
        first = yield startRouter(self, yamlA)  # A enrolls its own srstca, then runs with grant manual
        yield first.stopService()
        a = yield startRouter(self, yamlA.replace("    grant: auto\n", "    grant: manual\n"))
        ca = readCA(stateA)
        fingerprint = "".join(certificateFingerprint(ca, "md5").split())
        polling: Deferred = Deferred()

        def observe(event):
            if "polling every" in event.get("log_format", "") and not polling.called:
                polling.callback(formatEvent(event))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        clock = Clock()
        url = "http://127.0.0.1:%d" % (a.ports()["http"],)
        # enrollment retry period 2 (IOS minutes): B polls every 120 s.
        ready = startRouter(self, scepRouterYaml(stateDirectory(self), url, fingerprint).replace(
            "'}\n", "', retry: {period: 2, count: 5}}\n", 1), reactor=ClockedReactor(reactor, clock))
        line = yield polling
        self.assertEqual(line, f"Trustpoint srstca: enrollment request to {url}/cgi-bin/pkiclient.exe is pending;"
                               " polling every 120 seconds")
        [request] = a.certificateServer.pendingRequests()
        # What IOS shows on A with B's request pending: the request database, the server, its CRL times.
        requests = yield runCommand(a, "crypto", "pki", "server", "srstcaserver", "info", "requests")
        self.assertEqual(requests.text.splitlines()[-3:], [
            "ReqID  State      Fingerprint                      SubjectName",
            "-" * 62,
            f"{request.id:<7d}pending    {request.fingerprint} CN=router-b",
        ])
        self.assertEqual(len(request.fingerprint), 32)
        crl = a.certificateServer.crl
        server = yield runCommand(a, "show", "crypto", "pki", "server")
        self.assertEqual(server.text.splitlines(), [
            "Certificate Server srstcaserver:",
            "Status: enabled",
            "Server's configuration is locked (enter \"shut\" to unlock it)",
            "Issuer name: CN=srstcaserver",
            f"CA cert fingerprint: {certificateFingerprint(ca)}",
            "Granting mode is: manual",
            f"Last certificate issued serial number: 0x{a.identities['srstca'].certificate.serial_number:X}",
            f"CA certificate expiration timer: {iosTime(ca.not_valid_after_utc)}",
            f"CRL NextUpdate timer: {iosTime(crl.next_update_utc)}",
            f"Current storage dir: {os.path.join(stateA, 'pki', 'server', 'srstcaserver')}",
            "Database Level: Complete - all issued certs written as <serialnum>.cer",
        ])
        self.assertEqual(server.data["pendingRequests"], 1)
        shown = (yield runCommand(a, "crypto", "pki", "server", "srstcaserver", "grant", str(request.id))).text
        self.assertFalse(ready.called, shown)
        clock.advance(119)
        self.assertFalse(ready.called)
        clock.advance(1)
        b = yield ready
        enrolled = b.identities["srstca"].certificate
        enrolled.verify_directly_issued_by(ca)
        self.assertEqual(request.subject, "CN=router-b")
        self.assertIsNotNone(b.ports()["credentials"])
        # B shows the certificate A issued over SCEP with A's cdp-url, in IOS's layout.
        certificates = yield runCommand(b, "show", "crypto", "pki", "certificates", "srstca")
        self.assertEqual(certificates.text.split("\n\n")[0].splitlines(), [
            "Certificate",
            "  Status: Available",
            f"  Certificate Serial Number (hex): {enrolled.serial_number:02X}",
            "  Certificate Usage: General Purpose",
            "  Issuer:",
            "    cn=srstcaserver",
            "  Subject:",
            "    cn=router-b",
            "  CRL Distribution Points:",
            f"    {CDP_URL}",
            "  Validity Date:",
            f"    start date: {iosTime(enrolled.not_valid_before_utc)}",
            f"    end   date: {iosTime(enrolled.not_valid_after_utc)}",
            "  Associated Trustpoints: srstca",
        ])
        self.assertEqual(certificates.data[0]["crlDistributionPoints"], [CDP_URL])
        requests = yield runCommand(a, "show", "crypto", "pki", "server", "srstcaserver", "requests")
        self.assertEqual(requests.text.splitlines()[-1],
                         f"{request.id:<7d}granted    {request.fingerprint} CN=router-b")


    @bounded(timeout=20)
    def autoEnrolledRouter(self, percent=50):
        """
        Start A (grant auto) and B, whose srstca enrolls with A over SCEP
        with C{auto-enroll: percent}, B's timers on a L{Clock}.

        @return: A, B, B's clock, A's CA certificate and B's renewal service.
        """
        stateA = stateDirectory(self)
        a = yield startRouter(self, httpRouterYaml(stateA).replace(
            "    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n",
            "    grant: auto\n    rsakeypair: {type: rsa, bits: 2048}\n"))
        ca = readCA(stateA)
        fingerprint = "".join(certificateFingerprint(ca, "sha256").split())
        clock = Clock()
        b = yield startRouter(self, scepRouterYaml(stateDirectory(self), "http://127.0.0.1:%d" % (a.ports()["http"],),
                                                   fingerprint).replace("'}\n", f"', auto-enroll: {percent}}}\n", 1),
                              reactor=TimersOnClock(reactor, clock))
        return a, b, clock, ca, b.getServiceNamed("auto-enroll srstca")

    @bounded(timeout=20)
    def test_autoEnrollRenews(self):
        """
        With C{auto-enroll: 50}, B renews at half its certificate's
        validity over SCEP (RenewalReq signed with the current certificate,
        same key), logs it, re-arms for the new certificate, and its next
        credentials handshake presents the new certificate.
        """
        a, b, clock, ca, renewal = yield self.autoEnrolledRouter(50)
        identity = b.identities["srstca"]
        old = identity.certificate
        due = old.not_valid_before_utc + (old.not_valid_after_utc - old.not_valid_before_utc) / 2
        self.assertLess(abs(renewal.scheduled - clock.seconds() - (due - utcNow()).total_seconds()), 5)
        renewed = firstLogLine(self, "auto-enroll renewed")
        rearmed = firstLogLine(self, "auto-enroll renews certificate")
        clock.advance(renewal.scheduled - clock.seconds())
        line = yield renewed
        yield rearmed
        new = identity.certificate
        self.assertNotEqual(new.serial_number, old.serial_number)
        self.assertEqual(line, f"Trustpoint srstca: auto-enroll renewed certificate serial 0x{old.serial_number:X}"
                               f" as serial 0x{new.serial_number:X}, valid until {new.not_valid_after_utc.isoformat()}")
        new.verify_directly_issued_by(ca)
        self.assertEqual((new.subject, new.public_key().public_numbers()), (old.subject, old.public_key().public_numbers()))
        sans = new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertIn("127.0.0.1", [str(a) for a in sans.get_values_for_type(x509.IPAddress)])
        self.assertEqual(a.certificateServer.issuedCertificate(new.serial_number), new)
        # Re-armed for the new certificate.
        self.assertGreater(renewal.scheduled, clock.seconds() + 60)
        result = yield fetchCredentials(reactor, "127.0.0.1", b.ports()["credentials"], caCertificates=[ca])
        self.assertTrue(result.matches)
        self.assertEqual(result.handshakeCertificate, new)

    @bounded(timeout=20)
    def test_autoEnrollFailureKeepsCertificate(self):
        """
        A refused renewal (A revoked B's certificate) is logged with the
        reason, leaves the current certificate in place, and is tried
        again an hour later.
        """
        a, b, clock, ca, renewal = yield self.autoEnrolledRouter(80)
        identity = b.identities["srstca"]
        old = identity.certificate
        a.certificateServer.revoke(old.serial_number)
        failed = firstLogLine(self, "auto-enroll renewal failed")
        clock.advance(renewal.scheduled - clock.seconds())
        line = yield failed
        url = f"http://127.0.0.1:{a.ports()['http']}/cgi-bin/pkiclient.exe"
        self.assertEqual(line, f"Trustpoint srstca: auto-enroll renewal failed: {url} refused the renewal request"
                               " (badRequest); the current certificate stays, trying again in 3600 seconds")
        self.assertIs(identity.certificate, old)
        self.assertEqual(renewal.scheduled, clock.seconds() + 3600)
        result = yield fetchCredentials(reactor, "127.0.0.1", b.ports()["credentials"], caCertificates=[ca])
        self.assertEqual(result.handshakeCertificate, old)

    @bounded(timeout=20)
    def test_enrollsWithItself(self):
        """
        The seed's own shape: the router's srstca trustpoint enrolls over
        SCEP with its own certificate server on its own http-server.  The
        first start, with no fingerprint, stops naming the YAML path and
        logs the CA fingerprint for the operator; with it configured the
        next start enrolls.
        """
        stateDir = stateDirectory(self)
        port = freePort()
        yaml = httpRouterYaml(stateDir, port).replace(
            "    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n",
            "    grant: auto\n    rsakeypair: {type: rsa, bits: 2048}\n").replace(
            "      enrollment: {server: srstcaserver}\n      subject-name: CN=branch-router\n"
            "      rsakeypair: {type: ecdsa, bits: 256}\n",
            f"      enrollment: {{url: 'http://127.0.0.1:{port}'}}\n      subject-name: CN=branch-router\n"
            "      rsakeypair: {type: rsa, bits: 2048}\n")
        first = RouterService(loadString(yaml, "t.yaml"), reactor, now=utcNow, runInThread=synchronously,
                              callFromThread=reactor.callFromThread)
        with capturedLogs() as events:
            first.startService()
            error = yield self.assertFailure(first.whenReady(), TrustpointError)
        yield first.stopService()
        md5 = certificateFingerprint(readCA(stateDir), "md5")
        self.assertEqual(str(error), "trustpoint srstca: pki.trustpoints.srstca.enrollment.fingerprint is not"
                                     f" configured; the CA certificate's MD5 fingerprint is {md5}")
        self.assertTrue(any(f"has MD5 fingerprint {md5}," in formatEvent(e) for e in events))
        service = yield startRouter(self, yaml.replace(
            f"{{url: 'http://127.0.0.1:{port}'}}", f"{{url: 'http://127.0.0.1:{port}', fingerprint: '{md5}'}}"))
        enrolled = service.identities["srstca"].certificate
        enrolled.verify_directly_issued_by(readCA(stateDir))
        self.assertEqual(enrolled.subject.rfc4514_string(), "CN=branch-router")
        # The chain it presents at the credentials port (2445) is one openssl accepts.
        presented = yield opensslVerifiesPresentedChain(self, service.ports()["credentials"], readCA(stateDir))
        self.assertEqual(presented[0], enrolled)


IPSEC_YAML = """
access-lists:
  116: [{action: permit, protocol: ip, source: 10.1.1.22, destination: 10.1.1.13}]
crypto:
  vici-socket: {socket}
  allow-legacy-crypto: true
  isakmp:
    policies:
      1: {authentication: pre-share, encryption: aes 256, hash: sha256, group: 2}
    keys:
      - {address: 10.1.1.13, key: cisco123}
  transform-sets:
    rtpset: {transforms: [esp-aes 256, esp-sha256-hmac]}
  maps:
    rtp:
      interface-address: 10.1.1.22
      entries:
        - {sequence: 1, peer: 10.1.1.13, transform-set: rtpset, match-address: 116}
"""
"""The seed's crypto map with a broken group allowed, and no charon at
C{{socket}}."""


class IpsecWiringTests(TestCase):
    """
    The router's C{crypto:} section: the legacy warning at every start and
    the C{debug crypto isakmp} switch.
    """

    timeout = 30

    async def router(self) -> RouterService:
        stateDir = stateDirectory(self)
        yamlText = routerYaml(stateDir, extra=IPSEC_YAML.replace("{socket}", os.path.join(stateDir, "charon.vici")))
        return await startRouter(self, yamlText)

    async def test_legacyWarnedAtEveryStart(self) -> None:
        """
        An algorithm allowed by C{allow-legacy-crypto} is warned about at
        every start, naming its YAML path once and the switch that allows it.
        """
        for _ in range(2):
            with capturedLogs() as events:
                service = await self.router()
                await service.stopService()
            lines = [formatEvent(event) for event in events if "allow-legacy-crypto" in formatEvent(event)]
            self.assertEqual(lines, [
                "crypto.isakmp.policies.1: group 2 is broken (1024-bit MODP): use group 14 (2048-bit MODP) or "
                "group 19 (256-bit ECP); allowed by crypto.allow-legacy-crypto"])

    def callAgent(self) -> tuple[Deferred[bytes], typing.Any]:
        """
        A UDP call agent on 127.0.0.1 (closed at clean-up).

        @return: a L{Deferred} firing with the first datagram it receives
            (the gateway's RSIP), and its port.
        """
        rsip: Deferred[bytes] = Deferred()

        class CallAgent(DatagramProtocol):
            def datagramReceived(self, data: bytes, address: object) -> None:
                if not rsip.called:
                    rsip.callback(data)

        agent = reactor.listenUDP(0, CallAgent(), interface="127.0.0.1")
        self.addCleanup(agent.stopListening)
        return rsip, agent

    def mgcpRouter(self, callAgentPort: int, clock: Clock | None = None) -> tuple[RouterService, str]:
        """
        @return: a router (not started) with L{IPSEC_YAML}'s crypto section,
            its VICI socket path in the test's state directory, and an MGCP
            gateway whose call agent is on C{callAgentPort}; its timers on
            C{clock} when given.
        """
        stateDir = stateDirectory(self)
        socketPath = os.path.join(stateDir, "charon.vici")
        config = loadString(routerYaml(stateDir, extra=IPSEC_YAML.replace("{socket}", socketPath) + (
            "voice-ports:\n"
            "  1/0/0: {signal: fxs-loop-start}\n"
            "dial-peers:\n"
            '  - {tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, application: mgcpapp}\n'
            "mgcp:\n"
            "  bind: {host: 127.0.0.1, port: 0}\n"
            f"  call-agent: {{host: 127.0.0.1, port: {callAgentPort}}}\n")), "test-router.yaml")
        routerReactor = reactor if clock is None else TimersOnClock(reactor, clock)
        service = RouterService(config, routerReactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        return service, socketPath

    @bounded(timeout=5)
    async def test_mgcpStartsWithoutCharon(self) -> None:
        """
        With a C{crypto:} section the MGCP gateway starts only once IPsec's
        first load into charon has ended, so that its first RSIP meets the
        crypto map's trap policy; without charon that attempt fails at once
        (logged) and the gateway then starts: the router is ready with the
        MGCP port bound and its RSIP reaches the call agent.
        """
        rsip, agent = self.callAgent()
        service, socketPath = self.mgcpRouter(agent.getHost().port)
        mgcpRunning: list[bool] = []

        def observe(event: LogEvent) -> None:
            if formatEvent(event).startswith("IPsec: charon not reachable"):
                mgcpRunning.append(service.mgcpService.running)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        self.assertFalse(service.mgcpService.running)
        service.startService()
        self.addCleanup(service.stopService)
        await service.whenReady()
        self.assertEqual(mgcpRunning, [False])
        self.assertTrue(service.mgcpService.running)
        self.assertIsNotNone(service.ports()["mgcp"])
        self.assertTrue((await rsip).startswith(b"RSIP "))
        self.assertEqual(service.ipsec.problem,
                         f"charon not reachable at {socketPath}: No such file or directory (is charon running? "
                         "see etc/supervisord.conf [program:charon])")

    def silentCharon(self, socketPath: str) -> Deferred[None]:
        """
        Listen on C{socketPath} as a charon that accepts the VICI connection
        and never answers.

        @return: a L{Deferred} firing once it accepted.
        """
        accepted: Deferred[None] = Deferred()

        class Silent(Protocol):
            def connectionMade(self) -> None:
                accepted.callback(None)

        charon = reactor.listenUNIX(socketPath, Factory.forProtocol(Silent))
        self.addCleanup(charon.stopListening)
        return accepted

    @bounded(timeout=5)
    async def test_mgcpHoldBounded(self) -> None:
        """
        The MGCP hold lasts as long as charon can take to answer every
        request of the first load (the VICI request timeout per request and
        for the connection: 70 s for one entry); a charon that never answers
        ends the attempt sooner, when its first request times out: the
        gateway then starts and its RSIP leaves.
        """
        rsip, agent = self.callAgent()
        clock = Clock()
        service, socketPath = self.mgcpRouter(agent.getHost().port, clock)
        accepted = self.silentCharon(socketPath)
        self.assertEqual(ipsecHold(service.ipsec), (3 + 3 + 1) * REQUEST_TIMEOUT)
        with capturedLogs() as events:
            service.startService()
            self.addCleanup(service.stopService)
            await accepted
            self.assertFalse(service.mgcpService.running)
            clock.advance(REQUEST_TIMEOUT)
            await service.whenReady()
        self.assertTrue((await rsip).startswith(b"RSIP "))
        lines = [formatEvent(event) for event in events]
        self.assertIn(f"IPsec: lost the VICI connection to charon at {socketPath}: charon did not answer register "
                      "log within 10 s; retrying every 10 s", lines)
        self.assertEqual([line for line in lines if line.startswith("MGCP: starting without IPsec")], [])

    @bounded(timeout=5)
    async def test_stopDuringMgcpHold(self) -> None:
        """
        A stop while a silent charon holds the MGCP gateway: the gateway
        never starts, and once the unanswered request timed out the router
        has stopped with no timer left.
        """
        clock = Clock()
        service, socketPath = self.mgcpRouter(1, clock)
        accepted = self.silentCharon(socketPath)
        service.startService()
        await accepted
        stopped = service.stopService()
        clock.advance(REQUEST_TIMEOUT)
        await stopped
        self.assertFalse(service.mgcpService.running)
        self.assertIsNone(service.mgcpService.parent)
        self.assertEqual(clock.getDelayedCalls(), [])

    async def test_debugCryptoIsakmp(self) -> None:
        """
        A charon log event reaches a session that switched C{debug crypto
        isakmp} on through the admin command table, and not before.
        """
        service = await self.router()
        received: list[str] = []
        service.ipsec.charonEvent("log", {"ikesa-name": "rtp-1", "ikesa-uniqueid": "1", "msg": "before"})
        command, variables = service.commands.lookup(["debug", "crypto", "isakmp"])
        request = command.handler(**variables)
        self.assertEqual(request.banner, "Crypto ISAKMP debugging is on")
        service.debug.addStream(lambda event: received.append(formatEvent(event)), request.namespaces)
        service.ipsec.charonEvent("log", {"ikesa-name": "rtp-1", "ikesa-uniqueid": "1",
                                          "msg": "initiating Main Mode IKE_SA rtp-1[1] to 10.1.1.13"})
        self.assertEqual(received, ["ISAKMP (rtp-1[1]): initiating Main Mode IKE_SA rtp-1[1] to 10.1.1.13"])
