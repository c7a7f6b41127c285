"""
Integration tests for secure SCCP registration: the real router on
127.0.0.1, simulated phones (srst-phone's API) over mutual TLS on the secure
port and plain TCP on the clear-text port.
"""

import datetime
import os

from twisted.internet import reactor
from twisted.internet.defer import DeferredList, gatherResults, inlineCallbacks
from twisted.trial.unittest import TestCase

from srst.sccp import messages as m
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import PhoneConfig
from srst.tools._phonewire import clientTLSOptions, connectPhone
from srst.tools.lsc import issueLSC
from tests.callhelpers import waitFor
from tests.pkihelpers import makeCA, writePem
from tests.routerhelpers import routerYaml, runCommand, startRouter, stateDirectory, within

CMF = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  secure-port: 0
  trustpoint: srstca
  phone-trustpoints: [capf]
  max-ephones: {maxEphones}
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


class SecureRegistrationTests(TestCase):
    """
    Phones register over TLS with LSCs from a CA configured as a phone
    trustpoint, and over plain TCP as clear-text phones.
    """

    timeout = 120

    @inlineCallbacks
    def startRouter(self, maxEphones=250, stateDir=None):
        """
        Start a router whose phone trustpoint "capf" is PHONE_CA.
        """
        stateDir = stateDir or stateDirectory(self)
        capf = writePem(stateDir, "capf.pem", PHONE_CA.certificate)
        text = routerYaml(stateDir, extra=CMF.format(maxEphones=maxEphones)).replace(
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

    @inlineCallbacks
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

    @inlineCallbacks
    def assertRefused(self, phone, reason):
        yield within(phone.whenDisconnected(), f"{phone.deviceName} to be disconnected ({reason})")
        self.assertIsNone(phone.registeredAt)
        self.assertNotIn(phone.deviceName, [e.deviceName for e in self.service.registry.registeredEphones()])
        failures = self.service.skinnyFactories[1].handshakeFailures
        self.assertIn(reason, failures, failures)

    @inlineCallbacks
    def test_noClientCertificate(self):
        """
        A phone without a certificate is refused at the TLS handshake, with the
        reason counted.
        """
        yield self.startRouter()
        yield self.assertRefused(self.phone("0000000000A1", ca=None), "no client certificate")

    @inlineCallbacks
    def test_unknownIssuer(self):
        """
        A certificate from a CA that is not a phone trustpoint is refused.
        """
        yield self.startRouter()
        yield self.assertRefused(self.phone("0000000000A2", ca=OTHER_CA), "unknown issuer")

    @inlineCallbacks
    def test_expiredCertificate(self):
        """
        An expired LSC is refused.
        """
        yield self.startRouter()
        past = now() - datetime.timedelta(days=30)
        phone = self.phone("0000000000A3", notBefore=past - datetime.timedelta(days=365), notAfter=past)
        yield self.assertRefused(phone, "certificate expired")

    @inlineCallbacks
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

    @inlineCallbacks
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

    @inlineCallbacks
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
