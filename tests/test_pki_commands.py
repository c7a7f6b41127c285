"""
Tests for L{srst.pki.commands}: the PKI show and exec commands.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from twisted.trial.unittest import SynchronousTestCase

from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.pki.ca import CertificateServer, certificateFingerprint
from srst.pki.commands import (
    PkiTimer,
    certificateUsage,
    iosNameLines,
    iosTimeLeft,
    parseSerial,
    registerPkiCommands,
    renderServer,
    renderTimers,
)
from srst.pki.trust import (
    IdentityTrustpoint,
    PhoneTrustpoint,
    certificateDer,
    loadCertificateFile,
    parseCertificates,
)
from tests.pkihelpers import fixture
from tests.test_pki_ca import T0, FakeNow, makeCSR
from tests.test_pki_trust import runNow


class PkiCommandsMixin:
    """
    A router with a certificate server, an enrolled srstca identity and the
    seed's phone trustpoints, and a command table.
    """

    def setUpRouter(self, grant: str = "auto", databaseLevel: str = "complete", enroll: bool = True) -> None:
        self.now = FakeNow()
        self.stateDir = self.mktemp()  # type: ignore[attr-defined]
        self.server = CertificateServer(
            "srstcaserver", os.path.join(self.stateDir, "pki", "server", "srstcaserver"), "CN=srstcaserver",
            now=self.now, keyType="ecdsa", grant=grant, databaseLevel=databaseLevel)
        self.server.start()
        self.identity = IdentityTrustpoint("srstca", os.path.join(self.stateDir, "pki", "trustpoints", "srstca"),
                                           subjectName="CN=branch-router", keyType="ecdsa")
        if enroll:
            self.identity.enrollWithServer(self.server, ["branch-router"], ["127.0.0.1"])
        self.phones = [
            PhoneTrustpoint.fromFiles("7970", [fixture("CiscoCA.pem")]),
            PhoneTrustpoint.fromFiles("PEM", [fixture("a69d2e04.0")]),
            PhoneTrustpoint.fromFiles("7960", [fixture("59fe77ccd.0")]),
        ]
        self.table = CommandTable()
        registerPkiCommands(self.table, self.server, [self.identity], self.phones, runInThread=runNow)

    def dispatch(self, line: str) -> Any:
        """
        Dispatch a command line through the table as the admin server does.
        """
        command, variables = self.table.lookup(line.split())
        return command.handler(**variables)

    def runDeferred(self, line: str) -> CommandResult:
        return self.successResultOf(self.dispatch(line))  # type: ignore[attr-defined,no-any-return]

    def commandError(self, line: str) -> str:
        try:
            result = self.dispatch(line)
        except CommandError as e:
            return str(e)
        return str(self.failureResultOf(result, CommandError).value)  # type: ignore[attr-defined]


class ShowServerTests(PkiCommandsMixin, SynchronousTestCase):
    """
    show crypto pki server.
    """

    def test_seedFormat(self) -> None:
        """
        The output has the seed's lines, in order, with UTC times, the MD5
        CA fingerprint and the last serial in hex.
        """
        self.setUpRouter()
        result = self.dispatch("show crypto pki server")
        fp = certificateFingerprint(self.server.caCertificate)
        self.assertEqual(result.text.split("\n"), [
            "Certificate Server srstcaserver:",
            "Status: enabled",
            "Server's configuration is locked (enter \"shut\" to unlock it)",
            "Issuer name: CN=srstcaserver",
            f"CA cert fingerprint: {fp}",
            "Granting mode is: auto",
            "Last certificate issued serial number: 0x2",
            "CA certificate expiration timer: 19:45:16 UTC Apr 12 2027",
            "CRL NextUpdate timer: 19:45:16 UTC Apr 19 2024",
            f"Current storage dir: {self.server.directory}",
            "Database Level: Complete - all issued certs written as <serialnum>.cer",
        ])
        self.assertRegex(fp, r"^[0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8}$")

    def test_data(self) -> None:
        """
        The data carries the same facts.
        """
        self.setUpRouter(grant="manual")
        data = self.dispatch("show crypto pki server").data
        self.assertEqual(data, {
            "name": "srstcaserver", "status": "enabled", "locked": True, "issuerName": "CN=srstcaserver",
            "caFingerprint": certificateFingerprint(self.server.caCertificate), "grantMode": "manual",
            "lastSerial": 1, "caExpiration": (T0 + datetime.timedelta(days=1095)).isoformat(),
            "crlNextUpdate": (T0 + datetime.timedelta(hours=168)).isoformat(),
            "storageDir": self.server.directory, "databaseLevel": "complete", "pendingRequests": 1,
        })

    def test_byName(self) -> None:
        """
        show crypto pki server <name> shows that server; another name is an
        error.
        """
        self.setUpRouter()
        self.assertEqual(self.dispatch("show crypto pki server srstcaserver").text,
                         self.dispatch("show crypto pki server").text)
        self.assertIn("nosuch is not configured", self.commandError("show crypto pki server nosuch"))

    def test_databaseLevels(self) -> None:
        """
        Each database level has its IOS text.
        """
        for level, text in [("minimal", "Minimum - no cert data written to storage"),
                            ("names", "Names - cert serial numbers and subject names written to storage")]:
            self.setUpRouter(databaseLevel=level)
            self.assertEqual(self.dispatch("show crypto pki server").text.split("\n")[-1], f"Database Level: {text}")

    def test_disabled(self) -> None:
        """
        A server that has not started shows as disabled and unlocked.
        """
        server = CertificateServer("srstcaserver", self.mktemp(), "CN=srstcaserver", now=FakeNow(), grant="manual")
        lines = renderServer(server).text.split("\n")
        self.assertEqual(lines[1:5], ["Status: disabled",
                                      "Server's configuration is unlocked (enter \"no shut\" to lock it)",
                                      "Issuer name: CN=srstcaserver", "CA cert fingerprint: -Not found-"])

    def test_noServer(self) -> None:
        """
        Without a certificate server the show prints nothing.
        """
        table = CommandTable()
        registerPkiCommands(table, None, runInThread=runNow)
        command, variables = table.lookup(["show", "crypto", "pki", "server"])
        self.assertEqual(command.handler(**variables).text, "")


class ShowCertificatesTests(PkiCommandsMixin, SynchronousTestCase):
    """
    show crypto pki certificates.
    """

    def test_identityBlock(self) -> None:
        """
        The router's certificate is shown first, IOS-style.
        """
        self.setUpRouter()
        blocks = self.dispatch("show crypto pki certificates").text.split("\n\n")
        self.assertEqual(blocks[0].split("\n"), [
            "Certificate",
            "  Status: Available",
            "  Certificate Serial Number (hex): 02",
            "  Certificate Usage: General Purpose",
            "  Issuer:",
            "    cn=srstcaserver",
            "  Subject:",
            "    cn=branch-router",
            "  Validity Date:",
            "    start date: 19:45:16 UTC Apr 12 2024",
            "    end   date: 19:45:16 UTC Apr 12 2025",
            "  Associated Trustpoints: srstca",
        ])

    def test_crlDistributionPoints(self) -> None:
        """
        A certificate issued with the server's C{cdp-url} lists it under
        C{CRL Distribution Points:} between Subject and Validity Date, as
        IOS does; one without the extension has no such lines.
        """
        self.setUpRouter()
        self.server.cdpUrl = "http://10.1.1.22/crl/srstcaserver.crl"
        issued = self.server.issue(makeCSR("phone"))
        phones = [PhoneTrustpoint("issued", (issued,), ("issued.pem",))]
        table = CommandTable()
        registerPkiCommands(table, None, [], phones, runInThread=runNow)
        command, variables = table.lookup("show crypto pki certificates".split())
        result = command.handler(**variables)
        self.assertIn("  Subject:\n    cn=phone\n  CRL Distribution Points:\n"
                      "    http://10.1.1.22/crl/srstcaserver.crl\n  Validity Date:\n", result.text)
        self.assertEqual(result.data[0]["crlDistributionPoints"], ["http://10.1.1.22/crl/srstcaserver.crl"])
        own = self.dispatch("show crypto pki certificates srstca")
        self.assertNotIn("CRL Distribution Points", own.text)
        self.assertEqual(own.data[0]["crlDistributionPoints"], [])

    def test_caBlocks(self) -> None:
        """
        The CA certificate is listed once with both trustpoints; the seed's
        CAPF certificate shows its serial as IOS does (F301).
        """
        self.setUpRouter()
        result = self.dispatch("show crypto pki certificates")
        blocks = result.text.split("\n\n")
        self.assertEqual(len(blocks), 5)
        self.assertTrue(blocks[1].startswith("CA Certificate\n"))
        self.assertIn("  Certificate Usage: Signature", blocks[1])
        self.assertIn("  Associated Trustpoints: srstca srstcaserver", blocks[1])
        self.assertIn("  Certificate Serial Number (hex): F301", blocks[4])
        self.assertIn("    cn=CAPF-35E08332\n    o=Cisco Systems Inc\n    c=US", blocks[4])
        self.assertEqual([d["trustpoints"] for d in result.data],
                         [["srstca"], ["srstca", "srstcaserver"], ["7970"], ["PEM"], ["7960"]])
        self.assertEqual(result.data[4]["serial"], "F301")

    def test_filter(self) -> None:
        """
        A trustpoint name limits the output to its certificates; an unknown
        one is an error.
        """
        self.setUpRouter()
        result = self.dispatch("show crypto pki certificates 7970")
        self.assertEqual(len(result.data), 1)
        self.assertIn("cn=CAP-RTP-002", result.text)
        self.assertIn("Trustpoint 7971 is not configured", self.commandError("show crypto pki certificates 7971"))

    def test_seedRouterCertificateSubject(self) -> None:
        """
        IOS's default enrollment subject shows Name and Serial Number lines
        before the RDNs.
        """
        self.setUpRouter()
        device = loadCertificateFile(fixture("srstca-02.cer"))[0]
        lines = [line.strip() for line in iosNameLines(device.subject)]
        self.assertEqual(lines, ["serialNumber=D0B9E79C+hostname=jaso2691.cisco.com"])
        phones = [PhoneTrustpoint("old", (device,), ("srstca-02.cer",))]
        table = CommandTable()
        registerPkiCommands(table, None, [], phones, runInThread=runNow)
        command, variables = table.lookup("show crypto pki certificates".split())
        text = command.handler(**variables).text
        self.assertIn("  Subject:\n    Name: jaso2691.cisco.com\n    Serial Number: D0B9E79C\n"
                      "    serialNumber=D0B9E79C+hostname=jaso2691.cisco.com", text)
        self.assertEqual(certificateUsage(device), "General Purpose")


class ExportTests(PkiCommandsMixin, SynchronousTestCase):
    """
    crypto pki export <tp> pem.
    """

    def test_identity(self) -> None:
        """
        An identity exports its CA certificate and its own certificate,
        never its key.
        """
        self.setUpRouter()
        result = self.dispatch("crypto pki export srstca pem terminal")
        caPem = self.server.caCertificate.public_bytes(serialization.Encoding.PEM).decode().rstrip("\n")
        assert self.identity.certificate is not None
        ownPem = self.identity.certificate.public_bytes(serialization.Encoding.PEM).decode().rstrip("\n")
        self.assertEqual(result.text, f"% CA certificate:\n{caPem}\n% General Purpose Certificate:\n{ownPem}")
        self.assertNotIn("PRIVATE KEY", result.text)
        self.assertEqual(result.data["certificate"], ownPem)

    def test_phoneAndServer(self) -> None:
        """
        Phone and server trustpoints export their CA certificates; the seed's
        CAPF certificate keeps its original bytes.
        """
        self.setUpRouter()
        with open(fixture("59fe77ccd.0"), "rb") as f:
            original = f.read()
        result = self.dispatch("crypto pki export 7960 pem")
        self.assertTrue(result.text.startswith("% CA certificate:\n-----BEGIN CERTIFICATE-----"))
        exported = parseCertificates(result.data["caCertificates"][0].encode("ascii"), "export")[0]
        self.assertEqual(certificateDer(exported), original)
        self.assertIn("% CA certificate:", self.dispatch("crypto pki export srstcaserver pem").text)

    def test_errors(self) -> None:
        """
        Unknown and not enrolled trustpoints are errors.
        """
        self.setUpRouter(enroll=False)
        self.assertIn("srstca is not enrolled", self.commandError("crypto pki export srstca pem"))
        self.assertIn("nosuch is not configured", self.commandError("crypto pki export nosuch pem"))


class RequestCommandTests(PkiCommandsMixin, SynchronousTestCase):
    """
    info requests, grant, reject and revoke.
    """

    def test_infoRequests(self) -> None:
        """
        The request database lists each request with id, state, fingerprint
        and subject under "Router certificates requests".
        """
        self.setUpRouter(grant="manual", enroll=False)
        self.server.submit(makeCSR("phone-a"))
        text = self.dispatch("crypto pki server srstcaserver info requests").text
        lines = text.split("\n")
        self.assertEqual(lines[0], "Enrollment Request Database:")
        self.assertEqual(lines[10:13], ["Router certificates requests:",
                                        "ReqID  State      Fingerprint                      SubjectName",
                                        "-" * 62])
        request = self.server.requests()[0]
        self.assertEqual(lines[13], f"1      pending    {request.fingerprint} CN=phone-a")
        self.assertEqual(self.dispatch("show crypto pki server srstcaserver requests").text, text)

    def test_grant(self) -> None:
        """
        grant <id> issues the certificate (and completes a waiting
        enrollment); the request shows as granted.
        """
        self.setUpRouter(grant="manual", enroll=False)
        d = self.identity.enroll(self.server, ["branch-router"], ["127.0.0.1"], runNow)
        result = self.runDeferred("crypto pki server srstcaserver grant 1")
        self.assertEqual(result.text, "% Request 1 granted: serial 0x2 issued to CN=branch-router")
        self.assertEqual(result.data, [{"requestId": 1, "serial": 2, "subject": "CN=branch-router"}])
        self.successResultOf(d)
        self.assertTrue(self.identity.enrolled)
        self.assertIn("1      granted", self.dispatch("crypto pki server srstcaserver info requests").text)

    def test_grantAll(self) -> None:
        """
        grant all grants every pending request.
        """
        self.setUpRouter(grant="manual", enroll=False)
        self.server.submit(makeCSR("a"))
        self.server.submit(makeCSR("b"))
        result = self.runDeferred("crypto pki server srstcaserver grant all")
        self.assertEqual([d["requestId"] for d in result.data], [1, 2])
        self.assertEqual(self.server.pendingRequests(), [])
        self.assertEqual(self.runDeferred("crypto pki server srstcaserver grant all").text, "% No pending requests")

    def test_reject(self) -> None:
        """
        reject <id> rejects the request.
        """
        self.setUpRouter(grant="manual", enroll=False)
        self.server.submit(makeCSR("a"))
        self.assertEqual(self.runDeferred("crypto pki server srstcaserver reject 1").text, "% Request 1 rejected")
        self.assertIn("1      rejected", self.dispatch("crypto pki server srstcaserver info requests").text)

    def test_grantErrors(self) -> None:
        """
        Unknown requests, requests no longer pending, bad ids and unknown
        servers are CommandErrors with a clear text.
        """
        self.setUpRouter(grant="manual", enroll=False)
        self.assertIn("no enrollment request 5", self.commandError("crypto pki server srstcaserver grant 5"))
        self.server.submit(makeCSR("a"))
        self.server.reject(1)
        self.assertIn("rejected, not pending", self.commandError("crypto pki server srstcaserver grant 1"))
        self.assertIn("Invalid request id", self.commandError("crypto pki server srstcaserver grant x1"))
        self.assertIn("other is not configured", self.commandError("crypto pki server other grant 1"))

    def test_grantBeforeClockSet(self) -> None:
        """
        Granting while the clock is before the CA is refused with the reason.
        """
        self.setUpRouter(grant="manual", enroll=False)
        self.server.submit(makeCSR("a"))
        self.now.when = T0 - datetime.timedelta(days=1)
        self.assertIn("set the clock", self.commandError("crypto pki server srstcaserver grant 1"))

    def test_revoke(self) -> None:
        """
        revoke takes 0x2 or 2 and puts the serial on the CRL.
        """
        self.setUpRouter()
        self.server.issue(makeCSR("phone"))
        result = self.runDeferred("crypto pki server srstcaserver revoke 0x2")
        self.assertEqual(result.text, "% Certificate 0x2 revoked; CRL next update 19:45:16 UTC Apr 19 2024")
        self.runDeferred("crypto pki server srstcaserver revoke 3")
        self.assertEqual(sorted(self.server.revokedSerials()), [2, 3])
        self.assertIn("already revoked", self.commandError("crypto pki server srstcaserver revoke 2"))
        self.assertIn("Invalid serial number", self.commandError("crypto pki server srstcaserver revoke zz"))

    def test_parseSerial(self) -> None:
        """
        Serials: 0x prefix is hex, digits are decimal, other hex digits hex.
        """
        self.assertEqual([parseSerial(s) for s in ("0x2", "2", "10", "0x10", "0A")], [2, 2, 10, 16, 10])
        self.assertRaises(CommandError, parseSerial, "0xZZ")


class TimersTests(SynchronousTestCase):
    """
    show crypto pki timers.
    """

    def test_timeLeft(self) -> None:
        """
        IOS's timer format: seconds, minutes, hours, days, to the millisecond.
        """
        self.assertEqual([iosTimeLeft(s) for s in (0.0764, 59.9986, 500.008, 86388, 3 * 86400 + 86388, -1)],
                         ["0.076", "59.999", "8:20.008", "23:59:48.000", "3d23:59:48.000", "0.000"])

    def test_layout(self) -> None:
        """
        Each section opens with its soonest time, then lists every timer,
        soonest first; an empty section is left out; --json has the same.
        """
        result = renderTimers([PkiTimer("CS", "CS CERT EXPIRE", 94607999.5), PkiTimer("PKI", "RENEW srstca", 15724800),
                               PkiTimer("CS", "CS CRL UPDATE", 601200), PkiTimer("PKI", "CRL UPDATE capf", 59.25)])
        self.assertEqual(result.text.splitlines(), [
            "PKI Timers",
            "|          59.250",
            "|          59.250  CRL UPDATE capf",
            "| 182d00:00:00.000  RENEW srstca",
            "CS Timers",
            "|  6d23:00:00.000",
            "|  6d23:00:00.000  CS CRL UPDATE",
            "| 1094d23:59:59.500  CS CERT EXPIRE",
        ])
        self.assertEqual(result.data["PKI"], [{"name": "CRL UPDATE capf", "seconds": 59.25},
                                              {"name": "RENEW srstca", "seconds": 15724800}])
        self.assertEqual(renderTimers([PkiTimer("CS", "CS CRL UPDATE", 1)]).text.splitlines()[0], "CS Timers")
