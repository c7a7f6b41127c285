"""
Revocation end to end on one router (issue 15): the router's certificate
server issues the phones' LSCs (standing in for CAPF), its phone trustpoint
checks the router's own CRL over HTTP (C{revocation-check: crl}), and a
phone revoked with C{crypto pki server srstcaserver revoke N} is refused at
the 2443 handshake once the CRL is refreshed, by C{crypto pki crl request}
or by the refresh timer, while the other phone keeps registering.
"""

import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from srst.admin.commands import CommandError
from srst.pki._time import iosTime
from srst.pki.commands import iosTimeLeft
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import PhoneConfig
from srst.tools._phonewire import clientTLSOptions, connectPhone
from tests.loghelpers import firstLogLine, srstLog
from tests.routerhelpers import TimersOnClock, bounded, freePort, runCommand, startRouter, stateDirectory, within
from tests.test_sccp_integration import CMF
from tests.test_service import httpRouterYaml, readCA


class PhoneLsc:
    """
    A phone's LSC and key, issued by the router's certificate server from
    the phone's CSR (as CAPF would issue it).
    """

    def __init__(self, service, mac):
        self.privateKey = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"SEP{mac}")]))
               .sign(self.privateKey, hashes.SHA256()))
        self.mac = mac
        self.certificate = service.certificateServer.issue(csr)


class RevocationEndToEndTests(TestCase):
    """
    One router: certificate server, http-server with its CRL, and a phone
    trustpoint C{capf} that trusts the router's CA and checks that CRL.
    """

    timeout = 30

    @bounded(timeout=20)
    def startRouter(self, crl="", revocation="crl", reactor=reactor, path="/crl/srstcaserver.crl"):
        """
        Start the router once to make its CA, then again with the phone
        trustpoint C{capf} trusting that CA and checking the CRL at C{path}
        on the router's own site (C{crl} adds keys to its C{crl:} map).

        @return: the running router.
        """
        stateDir = stateDirectory(self)
        port = freePort()
        first = yield startRouter(self, httpRouterYaml(stateDir, port))
        yield first.stopService()
        caFile = os.path.join(stateDir, "pki", "server", "srstcaserver", "ca.crt")
        self.url = f"http://127.0.0.1:{port}{path}"
        entry = (f"capf: {{certificates: [{caFile}], revocation-check: {revocation},"
                 f" crl: {{url: '{self.url}'{crl}}}}}")
        text = httpRouterYaml(stateDir, port, CMF.format(maxEphones=10)).replace(
            '"7970": {certificates:', entry + '\n    "7970": {certificates:')
        self.service = yield startRouter(self, text, reactor=reactor)
        self.ca = readCA(stateDir)
        return self.service

    def phone(self, lsc):
        phone = SimulatedPhone(PhoneConfig(mac=lsc.mac), clock=reactor)
        options = clientTLSOptions("127.0.0.1", [self.ca], lsc.certificate, lsc.privateKey)
        connectPhone(reactor, phone, "127.0.0.1", self.service.ports()["sccp-secure"], tlsOptions=options)
        self.addCleanup(phone.stop)
        return phone

    @bounded
    def assertRevokedRefused(self, lsc, logged):
        """
        A new TLS registration with C{lsc} is refused "certificate revoked":
        counted in C{show ephone} (its listeners) and logged.
        """
        phone = self.phone(lsc)
        yield within(phone.whenDisconnected(), f"SEP{lsc.mac} to be refused")
        self.assertIsNone(phone.registeredAt)
        shown = yield runCommand(self.service, "show", "ephone")
        secure = [listener for listener in shown.data["listeners"] if listener["secure"]]
        self.assertEqual([listener["handshakeFailures"] for listener in secure], [{"certificate revoked": 1}])
        self.assertTrue(any(line.startswith("TLS handshake failed with 127.0.0.1 ")
                            and line.endswith(": certificate revoked") for line in logged), logged)

    @bounded(timeout=25)
    def test_revokedPhoneRefusedAfterCrlRequest(self):
        """
        Two phones with LSCs from the router's CA register over TLS; the
        operator revokes one and runs C{crypto pki crl request capf}; the
        revoked phone's next registration is refused ("certificate
        revoked"), the other phone registers again, and C{show crypto pki
        crls} shows the fetched CRL.
        """
        logged = srstLog(self)
        service = yield self.startRouter()
        stolen, kept = PhoneLsc(service, "0000000000E1"), PhoneLsc(service, "0000000000E2")
        first = self.phone(stolen)
        second = self.phone(kept)
        yield within(first.whenRegistered(), "SEP0000000000E1 to register")
        yield within(second.whenRegistered(), "SEP0000000000E2 to register")
        revoked = yield runCommand(service, "crypto", "pki", "server", "srstcaserver", "revoke",
                                   f"0x{stolen.certificate.serial_number:X}")
        self.assertTrue(revoked.text.startswith(f"% Certificate 0x{stolen.certificate.serial_number:X} revoked;"))
        yield first.stop()
        yield second.stop()
        result = yield runCommand(service, "crypto", "pki", "crl", "request", "capf")
        crl = service.certificateServer.crl
        self.assertEqual(result.text, f"% CRL for trustpoint capf retrieved from {self.url}: 1 revoked,"
                                      f" NextUpdate {iosTime(crl.next_update_utc)}")
        self.assertEqual(result.data["revoked"], [stolen.certificate.serial_number])
        yield self.assertRevokedRefused(stolen, logged)
        yield within(self.phone(kept).whenRegistered(), "SEP0000000000E2 to register again")
        shown = yield runCommand(service, "show", "crypto", "pki", "crls")
        self.assertEqual(shown.text.splitlines(), [
            "CRL Issuer Name: ",
            "    CN=srstcaserver",
            f"    LastUpdate: {iosTime(crl.last_update_utc)}",
            f"    NextUpdate: {iosTime(crl.next_update_utc)}",
            "    Retrieved from CRL Distribution Point: ",
            f"      {self.url}",
            f"    CRL size is {len(crl.public_bytes(Encoding.DER))} bytes",
            "    CRL is stored in parent trustpoint capf, 1 revoked",
        ])

    @bounded(timeout=25)
    def test_revokedPhoneRefusedAfterTimedRefresh(self):
        """
        With C{cache-delete-after: 1} the CRL refresh is a one-minute timer
        (C{show crypto pki timers} lists it with the certificate server's);
        a revocation is not seen before it fires, and once the injected
        clock fires it the revoked phone is refused while the other
        registers.
        """
        logged = srstLog(self)
        clock = Clock()
        clock.advance(reactor.seconds())
        service = yield self.startRouter(", cache-delete-after: 1", reactor=TimersOnClock(reactor, clock))
        stolen, kept = PhoneLsc(service, "0000000000E3"), PhoneLsc(service, "0000000000E4")
        yield runCommand(service, "crypto", "pki", "server", "srstcaserver", "revoke",
                         str(stolen.certificate.serial_number))
        timers = yield runCommand(service, "show", "crypto", "pki", "timers")
        lines = timers.text.splitlines()
        csCrl = iosTimeLeft(service.crlRenewal.scheduled - clock.seconds())
        self.assertEqual(lines[:6], [
            "PKI Timers",
            "|        1:00.000",
            "|        1:00.000  CRL UPDATE capf",
            "CS Timers",
            f"| {csCrl:>15}",
            f"| {csCrl:>15}  CS CRL UPDATE",
        ])
        self.assertRegex(lines[6], r"^\| 109[45]d\d\d:\d\d:\d\d\.\d\d\d  CS CERT EXPIRE$")
        self.assertEqual(len(lines), 7)
        self.assertEqual(timers.data["PKI"], [{"name": "CRL UPDATE capf", "seconds": 60.0}])
        # Not yet refreshed: the CRL in memory does not list the revocation (IOS's cached CRL too).
        early = self.phone(stolen)
        yield within(early.whenRegistered(), "SEP0000000000E3 to register before the refresh")
        yield early.stop()
        yield within(self.phone(kept).whenRegistered(), "SEP0000000000E4 to register")
        loaded = firstLogLine(self, "Trustpoint capf: CRL from")
        clock.advance(60)
        line = yield within(loaded, "the timed CRL refresh")
        self.assertIn(f"Trustpoint capf: CRL from {self.url} loaded, 1 revoked", line)
        yield self.assertRevokedRefused(stolen, logged)
        self.assertEqual(service.crlService.checks.checkers[0].nextRefresh, clock.seconds() + 60)

    @bounded(timeout=25)
    def test_crlUnavailable(self):
        """
        A CRL URL the router's site does not serve: C{crypto pki crl
        request} fails naming the URL and the reason, and with
        C{revocation-check: crl} a phone is refused ("CRL unavailable",
        counted); C{[crl, none]} is L{tests.test_sccp_integration.RevocationTests}.
        An unknown trustpoint is named.
        """
        logged = srstLog(self)
        service = yield self.startRouter(path="/crl/nothing.crl")
        error = yield self.assertFailure(runCommand(service, "crypto", "pki", "crl", "request", "capf"),
                                         CommandError)
        self.assertEqual(str(error), f"CRL for trustpoint capf could not be retrieved from {self.url}:"
                                     " HTTP 404 Not Found")
        phone = self.phone(PhoneLsc(service, "0000000000E5"))
        yield within(phone.whenDisconnected(), "SEP0000000000E5 to be refused")
        self.assertEqual(dict(service.skinnyFactories[1].handshakeFailures), {"CRL unavailable": 1})
        self.assertTrue(any(line.endswith(": CRL unavailable") for line in logged), logged)
        error = yield self.assertFailure(runCommand(service, "crypto", "pki", "crl", "request", "srstca"),
                                         CommandError)
        self.assertEqual(str(error), "Trustpoint srstca has no CRL to request (revocation-check crl: capf)")

    @bounded(timeout=25)
    def test_crlUnavailableFallbackNone(self):
        """
        The twin of L{test_crlUnavailable} under C{revocation-check: [crl,
        none]} (IOS C{revocation-check crl none}): the CRL still cannot be
        had (C{crypto pki crl request} says why), but the phone registers,
        no handshake is refused, and one warning says it was accepted
        without a revocation check.
        """
        logged = srstLog(self)
        service = yield self.startRouter(revocation="[crl, none]", path="/crl/nothing.crl")
        error = yield self.assertFailure(runCommand(service, "crypto", "pki", "crl", "request", "capf"),
                                         CommandError)
        self.assertEqual(str(error), f"CRL for trustpoint capf could not be retrieved from {self.url}:"
                                     " HTTP 404 Not Found")
        phone = self.phone(PhoneLsc(service, "0000000000E6"))
        yield within(phone.whenRegistered(), "SEP0000000000E6 to register")
        self.assertEqual(dict(service.skinnyFactories[1].handshakeFailures), {})
        warnings = [line for line in logged if "accepted without a revocation check" in line]
        self.assertEqual(len(warnings), 1, logged)
        self.assertIn("Trustpoint capf: ", warnings[0])
