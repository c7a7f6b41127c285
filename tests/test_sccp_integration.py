"""
Integration tests for secure SCCP registration: the real router on
127.0.0.1, simulated phones (srst-phone's API) over mutual TLS on the secure
port and plain TCP on the clear-text port.
"""

import datetime
import io
import json
import os
from types import SimpleNamespace

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, gatherResults, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.threads import deferToThread
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from srst.admin.render import formatIOSDebugLine
from srst.pki._signing import buildCrl
from srst.pki._time import iosTime
from srst.sccp import messages as m
from srst.sccp.registry import AUTO_ASSIGN_FILE
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import PhoneConfig
from srst.tools._phonewire import clientTLSOptions, connectPhone
from srst.tools.cli import main as cliMain
from srst.tools.lsc import issueLSC
from tests.callhelpers import waitFor
from tests.debughelpers import normalise, seedSample
from tests.pkihelpers import CrlSite, iosChainText, makeCA, makePhoneCertificate, seedChainText, writePem
from tests.loghelpers import srstLog
from tests.routerhelpers import (SECURE_CMF_HEAD, bounded, freePort, routerYaml, runCommand, startRouter, stateDirectory,
                                 within)
from tests.test_sccp_station import registerMessage

CMF = SECURE_CMF_HEAD + """
  max-ephones: {maxEphones}
  max-connections-per-host: 300        # every simulated phone is 127.0.0.1
  max-dn: 500
  auto-assign: {{dn-range: "2000-2499"}}
  ephones:
    - mac: 1000.1111.0002
      type: "7970"
      buttons: [{{line: 1, dn: "2002", label: "2002", name: Reception}}]
"""

PHONE_CA = makeCA("CAPF-TEST")
OTHER_CA = makeCA("CAPF-OTHER")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def macOf(n):
    return "%012X" % n


class DriveBy(Protocol):
    """
    What a fuzz or a careless neighbour does on the plain port: send a
    Register for some MAC, read the answer and hang up.

    @ivar answered: fires with the answer's class name once the connection
        is closed.
    """

    def __init__(self, mac):
        self.mac = mac
        self.buffer = b""
        self.answer = None
        self.answered = Deferred()

    def connectionMade(self):
        self.transport.write(m.encodeMessage(registerMessage("SEP" + self.mac), protocolVersion=5))

    def dataReceived(self, data):
        frames, self.buffer = m.splitFrames(self.buffer + data)
        for frame in frames:
            msg = m.decodeMessage(frame, protocolVersion=5)
            if self.answer is None and isinstance(msg, (m.RegisterAck, m.RegisterReject)):
                self.answer = type(msg).__name__
                self.transport.loseConnection()

    def connectionLost(self, reason):
        self.answered.callback(self.answer)


class Unregistrations:
    """
    Watches the registry's log for the end of each registration, by MAC.
    """

    def __init__(self, testCase):
        self.seen = set()
        self.waiting = {}
        globalLogPublisher.addObserver(self)
        testCase.addCleanup(globalLogPublisher.removeObserver, self)

    def __call__(self, event):
        if event.get("log_format", "").endswith("{device} unregistered"):
            mac = event.get("mac")
            self.seen.add(mac)
            d = self.waiting.pop(mac, None)
            if d is not None:
                d.callback(mac)

    def wait(self, mac):
        """@return: a L{Deferred} firing once the registration of C{mac} has ended."""
        if mac in self.seen:
            return succeed(mac)
        return self.waiting.setdefault(mac, Deferred())


class SecureRegistrationTests(TestCase):
    """
    Phones register over TLS with LSCs from a CA configured as a phone
    trustpoint, and over plain TCP as clear-text phones.
    """

    timeout = 30

    @bounded
    def startRouter(self, maxEphones=250, stateDir=None, dnRange="2000-2499"):
        """
        Start a router whose phone trustpoint "capf" is PHONE_CA.
        """
        stateDir = stateDir or stateDirectory(self)
        capf = writePem(stateDir, "capf.pem", PHONE_CA.certificate)
        text = routerYaml(stateDir, extra=CMF.format(maxEphones=maxEphones).replace("2000-2499", dnRange)).replace(
            '"7970": {certificates:', f'capf: {{certificates: [{capf}]}}\n    "7970": {{certificates:')
        service = yield startRouter(self, text)
        self.caCertificate = service.certificateServer.caCertificate
        self.service = service
        self.stateDir = stateDir
        return service

    def phone(self, mac, tls=True, ca=PHONE_CA, deviceMac=None, **certOptions):
        """
        Connect one phone; with C{tls} it presents an LSC for C{mac} issued by
        C{ca} (C{None}: no certificate) and registers as C{deviceMac}.
        """
        phone = SimulatedPhone(PhoneConfig(mac=deviceMac or mac), clock=reactor)
        ports = self.service.ports()
        if tls:
            certificate = key = None
            if ca is not None:
                lsc = issueLSC(ca.certificate, ca.key, mac, now=now, **certOptions)
                certificate, key = lsc.certificate, lsc.privateKey
            options = clientTLSOptions("127.0.0.1", [self.caCertificate], certificate, key)
            connectPhone(reactor, phone, "127.0.0.1", ports["sccp-secure"], tlsOptions=options)
        else:
            connectPhone(reactor, phone, "127.0.0.1", ports["sccp"])
        self.addCleanup(phone.stop)
        return phone

    @bounded
    def test_debugEphoneRegisterLikeTheSeed(self):
        """
        A TLS phone's connection and handshake print the seed's C{debug
        ephone register} lines as C{srst-cli debug} renders them, line by
        line up to C{TLS Handshake completes}; only values differ, and the
        C{OPSSLReadWouldBlockErr} line comes once per handshake step that
        waited for the phone (a run of at least one, as many as there were).
        """
        yield self.startRouter()
        events = []
        self.service.debug.addStream(events.append, ["srst.debug.ephone.register"])
        self.addCleanup(self.service.debug.removeStream, events.append)
        yield within(self.phone("0000000000E1").whenRegistered(), "the phone to register")
        lines = [normalise(formatIOSDebugLine(e)) for e in events]
        completes = "*<time>:TLS Handshake completes"
        self.assertIn(completes, lines)
        actual = lines[:lines.index(completes) + 1]
        expected = [normalise(line) for line in seedSample("debug ephone register")]
        wouldBlock = "*<time>:TLS Handshake retcode OPSSLReadWouldBlockErr"
        self.assertGreaterEqual(actual.count(wouldBlock), 1)

        def oneRun(lines):
            return [line for i, line in enumerate(lines) if not (line == wouldBlock and lines[i - 1] == wouldBlock)]

        self.assertEqual(oneRun(actual), oneRun(expected))
        self.assertEqual(len(oneRun(expected)), 9)

    @bounded
    def test_200TLSPhonesAndAGarbageSender(self):
        """
        200 phones register over TLS and show as "+ Authentication +
        Encryption with TLS connection"; then one of them sends garbage and is
        disconnected while the other 199 stay registered and keep having their
        keepalives answered.
        """
        yield self.startRouter()
        phones = [self.phone(macOf(0x10000 + i)) for i in range(200)]
        results = yield DeferredList([p.whenRegistered() for p in phones], consumeErrors=True)
        self.assertEqual([ok for ok, _ in results], [True] * 200, [r for ok, r in results if not ok][:3])
        shown = yield runCommand(self.service, "show", "ephone")
        headers = [l for l in shown.text.splitlines() if l.startswith("ephone-") and " REGISTERED" in l]
        self.assertEqual(len(headers), 200)
        for line in headers:
            self.assertIn("REGISTERED in SCCP ver 11 + Authentication + Encryption with TLS connection", line)

        bad, good = phones[0], phones[1:]
        lost = bad.whenDisconnected()
        bad.protocol.transport.write(b"\xff\xff\xff\x7f" + os.urandom(64))
        yield lost
        acks = []
        answered = []
        for p in good:
            keepAliveAck = waitFor(p, lambda msg: isinstance(msg, m.KeepAliveAck), since=len(p.received))
            answered.append(keepAliveAck.addCallback(lambda msg, p=p: acks.append(p)))
            p.sendMessage(m.KeepAlive())
        yield gatherResults(answered)
        self.assertEqual(sorted(id(p) for p in acks), sorted(id(p) for p in good))
        registered = yield runCommand(self.service, "show", "ephone", "registered")
        self.assertEqual(len([l for l in registered.text.splitlines() if l.startswith("ephone-")]), 199)
        self.assertEqual(len(self.service.registry.registeredEphones()), 199)
        self.assertEqual(self.service.skinnyFactories[1].inputErrors.get("bad frame"), 1,
                         self.service.skinnyFactories[1].inputErrors)

    @bounded
    def assertRefused(self, phone, reason):
        yield within(phone.whenDisconnected(), f"{phone.deviceName} to be disconnected ({reason})")
        self.assertIsNone(phone.registeredAt)
        self.assertNotIn(phone.deviceName, [e.deviceName for e in self.service.registry.registeredEphones()])
        failures = self.service.skinnyFactories[1].handshakeFailures
        self.assertIn(reason, failures, failures)

    @bounded
    def test_noClientCertificate(self):
        """
        A phone without a certificate is refused at the TLS handshake, with the
        reason counted.
        """
        yield self.startRouter()
        yield self.assertRefused(self.phone("0000000000A1", ca=None), "no client certificate")

    @bounded
    def test_unknownIssuer(self):
        """
        A certificate from a CA that is not a phone trustpoint is refused.
        """
        yield self.startRouter()
        yield self.assertRefused(self.phone("0000000000A2", ca=OTHER_CA), "unknown issuer")

    @bounded
    def test_expiredCertificate(self):
        """
        An expired LSC is refused.
        """
        yield self.startRouter()
        past = now() - datetime.timedelta(days=30)
        phone = self.phone("0000000000A3", notBefore=past - datetime.timedelta(days=365), notAfter=past)
        yield self.assertRefused(phone, "certificate expired")

    @bounded
    def test_deviceMismatch(self):
        """
        A valid LSC for SEP000000000001 registering as SEP000000000002 gets
        RegisterReject "Certificate mismatch".
        """
        yield self.startRouter()
        phone = self.phone("000000000001", deviceMac="000000000002")
        reject = yield within(phone.whenRejected(), "RegisterReject for SEP000000000002")
        self.assertEqual(reject, m.RegisterReject("Certificate mismatch"))
        self.assertEqual(self.service.registry.registeredEphones(), [])

    @bounded
    def test_maxEphonesAndClearText(self):
        """
        Clear-text phones register on the plain port; the phone past
        max-ephones gets RegisterReject "Max ephones exceeded".
        """
        yield self.startRouter(maxEphones=2)
        first, second = self.phone("100011110002", tls=False), self.phone("0000000000B2", tls=False)
        yield within(first.whenRegistered(), "SEP100011110002 to register")
        yield within(second.whenRegistered(), "SEP0000000000B2 to register")
        third = self.phone("0000000000B3", tls=False)
        reject = yield within(third.whenRejected(), "RegisterReject for SEP0000000000B3")
        self.assertEqual(reject, m.RegisterReject("Max ephones exceeded"))
        shown = yield runCommand(self.service, "show", "ephone")
        header = [l for l in shown.text.splitlines() if "Mac:1000.1111.0002" in l][0]
        self.assertIn("REGISTERED in SCCP ver 11", header)
        self.assertNotIn("Authentication", header)
        self.assertIn("button 1: dn 1 number 2002 Reception CH1 IDLE", shown.text)

    @bounded
    def driveBys(self, macs):
        """
        Let every MAC in C{macs} connect to the plain port at once, send
        only Register and hang up; wait until the router has ended each
        registration it accepted.

        @return: the answers (RegisterAck or RegisterReject), by MAC.
        """
        unregistrations = Unregistrations(self)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.service.ports()["sccp"])
        connections = [connectProtocol(endpoint, DriveBy(mac)) for mac in macs]
        protocols = yield gatherResults(connections)
        answers = yield gatherResults([p.answered for p in protocols])
        yield gatherResults([unregistrations.wait(mac) for mac, answer in zip(macs, answers)
                             if answer == "RegisterAck"])
        return dict(zip(macs, answers))

    def reservationsOnDisk(self):
        """@return: the DN reserved on disk by MAC."""
        with open(os.path.join(self.stateDir, AUTO_ASSIGN_FILE)) as f:
            document = json.load(f)
        self.assertEqual(document["version"], 2)
        return {mac: entry["dn"] for mac, entry in document["reservations"].items()}

    @bounded
    def test_driveByRegistersReserveNothing(self):
        """
        The issue's reproduction: many more MACs than the auto-assign range
        holds send only Register over plain TCP and hang up.  They leave no
        reservation: a TLS phone then gets the range's first number and
        the file holds its reservation alone.  After a restart on the same
        state directory and another wave, a plain phone gets the next
        number, the TLS phone keeps its own, and C{show ephone auto-assign}
        lists the two.
        """
        service = yield self.startRouter(dnRange="2000-2009")
        answers = yield self.driveBys([macOf(0xD0000 + i) for i in range(40)])
        self.assertIn("RegisterAck", answers.values())
        self.assertEqual(set(answers.values()) - {"RegisterAck", "RegisterReject"}, set())
        secure = self.phone("0000000000E1")
        yield secure.whenRegistered()
        self.assertEqual(service.registry.byMac("0000000000E1").lines[0].assignment.dn, "2000")
        self.assertEqual(self.reservationsOnDisk(), {"0000000000E1": "2000"})
        yield secure.unregister()

        yield service.stopService()
        service = yield self.startRouter(dnRange="2000-2009", stateDir=self.stateDir)
        yield self.driveBys([macOf(0xD1000 + i) for i in range(40)])
        plain = self.phone("0000000000E2", tls=False)
        yield plain.whenRegistered()
        secure = self.phone("0000000000E1")
        yield secure.whenRegistered()
        self.assertEqual([service.registry.byMac(mac).lines[0].assignment.dn for mac in ("0000000000E1", "0000000000E2")],
                         ["2000", "2001"])
        self.assertEqual(self.reservationsOnDisk(), {"0000000000E1": "2000", "0000000000E2": "2001"})
        shown = yield runCommand(service, "show", "ephone", "auto-assign")
        self.assertEqual(shown.text.splitlines(), [
            "auto-assign dn-range 2000-2009 reservation-timeout-days 365: 2 reservations, 7 numbers free",
            "Mac             DN    Registered  Last seen  Expires in",
            "0000.0000.00E1  2000  yes         now        -",
            "0000.0000.00E2  2001  yes         now        -"])

    @bounded
    def test_driveBysLeaveNoEphone(self):
        """
        Thirty MACs send only Register over plain TCP and hang up, between
        a phone that stays registered and one that registered and left:
        C{show ephone} then lists the configured ephone and the two real
        phones only, the registry holds no record of any drive-by, and the
        next phone gets the lowest ephone number.
        """
        service = yield self.startRouter()
        stays = self.phone("0000000000F1", tls=False)
        yield stays.whenRegistered()
        leaves = self.phone("0000000000F2", tls=False)
        yield leaves.whenRegistered()
        yield leaves.unregister()
        driveBys = [macOf(0xD2000 + i) for i in range(30)]
        answers = yield self.driveBys(driveBys)
        self.assertEqual(set(answers.values()), {"RegisterAck"})
        shown = yield runCommand(service, "show", "ephone")
        headers = [line.split(" IP:")[0] for line in shown.text.splitlines() if line.startswith("ephone-")]
        self.assertEqual(headers, [
            "ephone-1 Mac:1000.1111.0002 TCP socket:[-1] activeLine:0 UNREGISTERED",
            "ephone-2 Mac:0000.0000.00F1 TCP socket:[1] activeLine:0 REGISTERED in SCCP ver 11",
            "ephone-3 Mac:0000.0000.00F2 TCP socket:[-1] activeLine:0 UNREGISTERED"])
        self.assertEqual([mac for mac in driveBys if service.registry.byMac(mac) is not None], [])
        self.assertEqual([(e.mac, e.registered) for e in service.registry.ephones()],
                         [("100011110002", False), ("0000000000F1", True), ("0000000000F2", False)])
        late = self.phone("0000000000F3", tls=False)
        yield late.whenRegistered()
        self.assertEqual(service.registry.byMac("0000000000F3").number, 4)

    @bounded
    def test_autoAssignedSurvivesRestart(self):
        """
        A phone gets the same auto-assigned DN after the service restarts,
        even when another phone registers first.
        """
        service = yield self.startRouter()
        a = self.phone("0000000000C1", tls=False)
        yield a.whenRegistered()
        dnA = service.registry.byMac("0000000000C1").lines[0].assignment.dn
        yield a.unregister()
        yield service.stopService()
        service = yield self.startRouter(stateDir=self.stateDir)
        b = self.phone("0000000000C2", tls=False)
        yield b.whenRegistered()
        a = self.phone("0000000000C1", tls=False)
        yield a.whenRegistered()
        self.assertEqual(service.registry.byMac("0000000000C1").lines[0].assignment.dn, dnA)
        self.assertNotEqual(service.registry.byMac("0000000000C2").lines[0].assignment.dn, dnA)


class IosChainTrustpointTests(TestCase):
    """
    Phone trustpoints whose certificate files are IOS C{crypto pki
    certificate chain} blocks pasted from a running-config.
    """

    timeout = 30

    @bounded
    def test_iosChainTrustpoints(self):
        """
        The seed's 7970, PEM and 7960 blocks and a fresh CA written as an IOS
        block load at start-up (the expired seed CAs with a warning naming
        their notAfter); C{srst-cli show crypto pki certificates} lists
        them, and a phone whose LSC that fresh CA issued registers over TLS.
        """
        stateDir = stateDirectory(self)
        paths = {}
        for name in ("7970", "PEM", "7960"):
            paths[name] = os.path.join(stateDir, f"{name}.txt")
            with open(paths[name], "w") as f:
                f.write("!\n" + seedChainText(name) + "!\n")
        ca = makeCA("CAPF-IOS-CHAIN", serial=0x7A11E)
        past = now() - datetime.timedelta(days=30)
        expired = makeCA("CAPF-IOS-EXPIRED", notBefore=past - datetime.timedelta(days=365), notAfter=past)
        paths["capf"] = os.path.join(stateDir, "capf.txt")
        with open(paths["capf"], "w") as f:
            f.write(iosChainText("capf", ca.certificate, expired.certificate))
        text = routerYaml(stateDir, phoneCA=paths["7970"], extra=CMF.format(maxEphones=4)).replace(
            '"7970": {certificates:',
            f'capf: {{certificates: [{paths["capf"]}]}}\n    PEM: {{certificates: [{paths["PEM"]}]}}\n'
            f'    "7960": {{certificates: [{paths["7960"]}]}}\n    "7970": {{certificates:')
        warnings = []

        def observe(event):
            if event.get("log_namespace") == "srst.pki.trust" and event["log_level"] == LogLevel.warn:
                warnings.append(formatEvent(event))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        service = yield startRouter(self, text)
        self.assertEqual(sorted(warnings), [
            f"Trustpoint {name}: CA certificate {serial} ({subject}) in {paths[name]} expired at {notAfter};"
            " kept, but a phone certificate verified against it fails as expired"
            for name, serial, subject, notAfter in sorted([
                ("capf", "01", "O=srst tests,CN=CAPF-IOS-EXPIRED", iosTime(past.replace(microsecond=0))),
                ("7960", "F301", "CN=CAPF-35E08332,O=Cisco Systems Inc,C=US", "20:55:01 UTC Apr 6 2019"),
                ("7970", "353FB24BD70F14A346C1F3A9AC725675", "CN=CAP-RTP-002,O=Cisco Systems",
                 "20:27:37 UTC Oct 10 2023"),
                ("PEM", "7612F960153D6F9F4E42202032B72356", "CN=CAP-RTP-001,O=Cisco Systems",
                 "23:36:34 UTC Feb 6 2023")])])

        out, err = io.StringIO(), io.StringIO()
        code = yield within(deferToThread(cliMain, ["--socket", service.config.admin.socket, "show", "crypto", "pki",
                                                    "certificates"], out, err), "srst-cli")
        self.assertEqual(code, 0, err.getvalue())
        blocks = out.getvalue().split("\n\n")
        for name, serial, commonName in [("7970", "353FB24BD70F14A346C1F3A9AC725675", "cn=CAP-RTP-002"),
                                         ("PEM", "7612F960153D6F9F4E42202032B72356", "cn=CAP-RTP-001"),
                                         ("7960", "F301", "cn=CAPF-35E08332"),
                                         ("capf", "07A11E", "cn=CAPF-IOS-CHAIN"),
                                         ("capf", "01", "cn=CAPF-IOS-EXPIRED")]:
            self.assertEqual(len([block for block in blocks
                                  if block.rstrip().endswith(f"Associated Trustpoints: {name}")
                                  and f"Certificate Serial Number (hex): {serial}\n" in block
                                  and commonName in block]), 1, (name, serial))

        phone = SimulatedPhone(PhoneConfig(mac="0000000000C1"), clock=reactor)
        lsc = issueLSC(ca.certificate, ca.key, "0000000000C1", now=now)
        options = clientTLSOptions("127.0.0.1", [service.certificateServer.caCertificate], lsc.certificate,
                                   lsc.privateKey)
        connectPhone(reactor, phone, "127.0.0.1", service.ports()["sccp-secure"], tlsOptions=options)
        self.addCleanup(phone.stop)
        yield within(phone.whenRegistered(), "the phone with an LSC from the IOS-chain CA to register")
        (line,) = [line for line in (yield runCommand(service, "show", "ephone")).text.splitlines()
                   if "0000.0000.00C1" in line.replace("0000.0000.00c1", "0000.0000.00C1")]
        self.assertIn("+ Authentication + Encryption with TLS connection", line)

        refused = SimulatedPhone(PhoneConfig(mac="0000000000C2"), clock=reactor)
        lsc = issueLSC(expired.certificate, expired.key, "0000000000C2", now=now,
                       notBefore=past - datetime.timedelta(days=60), notAfter=now() + datetime.timedelta(days=30))
        options = clientTLSOptions("127.0.0.1", [service.certificateServer.caCertificate], lsc.certificate,
                                   lsc.privateKey)
        connectPhone(reactor, refused, "127.0.0.1", service.ports()["sccp-secure"], tlsOptions=options)
        self.addCleanup(refused.stop)
        yield within(refused.whenDisconnected(), "the phone with an LSC from the expired IOS-chain CA to be refused")
        self.assertIsNone(refused.registeredAt)
        self.assertEqual(service.skinnyFactories[1].handshakeFailures, {"certificate expired": 1})


class RevocationTests(TestCase):
    """
    A phone trustpoint with C{revocation-check crl} refuses revoked LSCs at
    the 2443 handshake; the others register.
    """

    timeout = 30

    @bounded
    def startRouter(self, crl, revocation="crl"):
        """
        Start a router whose phone trustpoint "capf" (PHONE_CA) checks the
        CRL C{crl} (YAML flow text), or with C{None} the CRL Distribution
        Points of the phone certificates.
        """
        stateDir = stateDirectory(self)
        capf = writePem(stateDir, "capf.pem", PHONE_CA.certificate)
        source = f", crl: {crl}" if crl is not None else ""
        entry = f"capf: {{certificates: [{capf}], revocation-check: {revocation}{source}}}"
        text = routerYaml(stateDir, extra=CMF.format(maxEphones=10)).replace(
            '"7970": {certificates:', entry + '\n    "7970": {certificates:')
        self.service = yield startRouter(self, text)
        return self.service

    def phone(self, lsc, mac):
        phone = SimulatedPhone(PhoneConfig(mac=mac), clock=reactor)
        options = clientTLSOptions("127.0.0.1", [self.service.certificateServer.caCertificate],
                                   lsc.certificate, lsc.privateKey)
        connectPhone(reactor, phone, "127.0.0.1", self.service.ports()["sccp-secure"], tlsOptions=options)
        self.addCleanup(phone.stop)
        return phone

    @bounded
    def assertRefused(self, phone, reason, logged):
        yield within(phone.whenDisconnected(), f"{phone.deviceName} to be disconnected ({reason})")
        self.assertIsNone(phone.registeredAt)
        failures = self.service.skinnyFactories[1].handshakeFailures
        self.assertEqual(failures[reason], 1, failures)
        self.assertTrue(any(line.startswith("TLS handshake failed with 127.0.0.1 ") and line.endswith(": " + reason)
                            for line in logged), logged)

    @bounded
    def test_revokedLscRefused(self):
        """
        An LSC whose serial is on PHONE_CA's CRL is refused with "certificate
        revoked" (counted and logged); another LSC of the same CA registers.
        """
        stateDir = stateDirectory(self)
        revoked = issueLSC(PHONE_CA.certificate, PHONE_CA.key, "0000000000D1", now=now)
        good = issueLSC(PHONE_CA.certificate, PHONE_CA.key, "0000000000D2", now=now)
        start = now()
        crl = buildCrl(PHONE_CA.key, PHONE_CA.certificate, None, {revoked.certificate.serial_number: start},
                       start - datetime.timedelta(hours=1), start + datetime.timedelta(days=1))
        path = os.path.join(stateDir, "capf.crl")
        with open(path, "wb") as f:
            f.write(crl.public_bytes(Encoding.DER))
        logged = srstLog(self)
        yield self.startRouter(f"{{file: {path}}}")
        yield self.assertRefused(self.phone(revoked, "0000000000D1"), "certificate revoked", logged)
        yield within(self.phone(good, "0000000000D2").whenRegistered(), "SEP0000000000D2 to register")
        shown = yield runCommand(self.service, "show", "crypto", "pki", "crls")
        self.assertEqual(shown.text.splitlines(), [
            "CRL Issuer Name: ",
            "    O=srst tests,CN=CAPF-TEST",
            f"    LastUpdate: {iosTime(crl.last_update_utc)}",
            f"    NextUpdate: {iosTime(crl.next_update_utc)}",
            "    Retrieved from CRL Distribution Point: ",
            f"      {path}",
            f"    CRL size is {len(crl.public_bytes(Encoding.DER))} bytes",
            "    CRL is stored in parent trustpoint capf, 1 revoked",
        ])

    @bounded
    def test_distributionPointFollowed(self):
        """
        revocation-check crl without crl: the phone's first attempt starts
        the fetch of its certificate's CDP URL and is refused ("CRL
        unavailable (fetching URL)"); its next attempt is decided with the
        fetched CRL, and show crypto pki crls names the URL.
        """
        site = CrlSite(self)
        url = site.url("capf.crl")
        revoked, good = (SimpleNamespace(**dict(zip(("certificate", "privateKey"), makePhoneCertificate(
            PHONE_CA, mac, crlDistributionPoints=[url])))) for mac in ("0000000000D5", "0000000000D6"))
        start = now()
        site.publish("capf.crl", PHONE_CA, {revoked.certificate.serial_number: start}, start)
        logged = srstLog(self)
        yield self.startRouter(None)
        yield self.assertRefused(self.phone(good, "0000000000D6"), f"CRL unavailable (fetching {url})", logged)
        [checker] = self.service.crlService.checks.cdp.checkers
        yield checker.refresh()  # the fetch the refused handshake started
        yield within(self.phone(good, "0000000000D6").whenRegistered(), "SEP0000000000D6 to register")
        refused = self.phone(revoked, "0000000000D5")
        yield within(refused.whenDisconnected(), "SEP0000000000D5 to be disconnected (certificate revoked)")
        self.assertIsNone(refused.registeredAt)
        self.assertEqual(self.service.skinnyFactories[1].handshakeFailures["certificate revoked"], 1)
        shown = yield runCommand(self.service, "show", "crypto", "pki", "crls")
        self.assertIn(f"    Retrieved from CRL Distribution Point: \n      {url}\n", shown.text)

    @bounded
    def test_unreachableCrl(self):
        """
        With a CRL URL nobody answers, revocation-check crl refuses the phone
        ("CRL unavailable").
        """
        logged = srstLog(self)
        yield self.startRouter(f"{{url: 'http://127.0.0.1:{freePort()}/capf.crl'}}")
        lsc = issueLSC(PHONE_CA.certificate, PHONE_CA.key, "0000000000D3", now=now)
        yield self.assertRefused(self.phone(lsc, "0000000000D3"), "CRL unavailable", logged)

    @bounded
    def test_unreachableCrlFallbackNone(self):
        """
        With revocation-check [crl, none] (IOS revocation-check crl none) the
        phone registers when the CRL cannot be fetched, and a warning says so.
        """
        logged = srstLog(self)
        yield self.startRouter(f"{{url: 'http://127.0.0.1:{freePort()}/capf.crl'}}", "[crl, none]")
        lsc = issueLSC(PHONE_CA.certificate, PHONE_CA.key, "0000000000D4", now=now)
        yield within(self.phone(lsc, "0000000000D4").whenRegistered(), "SEP0000000000D4 to register")
        self.assertEqual(dict(self.service.skinnyFactories[1].handshakeFailures), {})
        self.assertEqual(len([line for line in logged if "accepted without a revocation check" in line]), 1, logged)

