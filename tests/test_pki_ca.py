"""
Tests for L{srst.pki.ca} (the certificate server, with its database
L{srst.pki._database}, request queue L{srst.pki._requests}, signing
L{srst.pki._signing} and errors L{srst.pki.errors}) and the atomic writes of
L{srst._files} it relies on.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet.defer import CancelledError
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst import _files
from srst.pki.ca import (
    CAExpiredError,
    CertificateServer,
    CertificateServerError,
    CertificateStoreError,
    ClockNotSetError,
    DatabaseLevel,
    GrantMode,
    InvalidRequestError,
    KeySpecError,
    NameParseError,
    RequestRejectedError,
    RequestState,
    RequestStateError,
    RevocationError,
    UnknownRequestError,
    certificateFingerprint,
    fingerprint,
    generatePrivateKey,
    iosTime,
    parseDistinguishedName,
    serialFileName,
)
from tests.pkihelpers import sharedKey
from tests.routerhelpers import bounded
from tests.toolhelpers import requireTool

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 4, 12, 19, 45, 16, tzinfo=UTC)


class FakeNow:
    """
    A settable wall clock for the certificate server.
    """

    def __init__(self, when: datetime.datetime = T0) -> None:
        self.when = when

    def __call__(self) -> datetime.datetime:
        return self.when

    def advance(self, **kwargs: float) -> None:
        self.when += datetime.timedelta(**kwargs)


class SimulatedCrash(Exception):
    """
    The process "died" during a state write.
    """


class CrashingWriter:
    """
    Delegates to the atomic writer, and raises L{SimulatedCrash} on the
    C{crashAt}-th write: before writing it, or (C{afterWrite}) after the
    file was replaced.  C{crashAt=None} only counts.
    """

    def __init__(self, crashAt: int | None = None, afterWrite: bool = False) -> None:
        self.crashAt = crashAt
        self.afterWrite = afterWrite
        self.count = 0
        self.paths: list[str] = []

    def __call__(self, path: str, data: bytes, mode: int) -> None:
        self.count += 1
        if self.count == self.crashAt and not self.afterWrite:
            raise SimulatedCrash(path)
        _files.atomicWrite(path, data, mode)
        self.paths.append(path)
        if self.count == self.crashAt:
            raise SimulatedCrash(path)


def makeCSR(commonName: str = "branch-router", key: Any = None) -> x509.CertificateSigningRequest:
    """
    A signed request for C{CN=commonName}.
    """
    key = key or sharedKey("csr:" + commonName)
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)]))
            .sign(key, hashes.SHA256()))


def capture(test: SynchronousTestCase) -> list[dict[str, Any]]:
    """
    Collect log events for the rest of the test.
    """
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    test.addCleanup(globalLogPublisher.removeObserver, events.append)
    return events


def warnings_(events: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """
    The warn-level events whose format contains C{text}.
    """
    return [e for e in events if e.get("log_level") is not None and e["log_level"].name == "warn"
            and text in e.get("log_format", "")]


class ServerMixin:
    """
    Make certificate servers in a temporary directory (ECDSA keys: fast).
    """

    def makeServer(self, directory: str | None = None, **kwargs: Any) -> CertificateServer:
        kwargs.setdefault("now", FakeNow())
        kwargs.setdefault("keyType", "ecdsa")
        kwargs.setdefault("grant", "auto")
        if directory is None:
            directory = os.path.join(self.mktemp(), "srstcaserver")  # type: ignore[attr-defined]
        return CertificateServer("srstcaserver", directory, kwargs.pop("issuerName", "CN=srstcaserver"), **kwargs)

    def started(self, directory: str | None = None, **kwargs: Any) -> CertificateServer:
        server = self.makeServer(directory, **kwargs)
        server.start()
        return server


class FirstStartTests(ServerMixin, SynchronousTestCase):
    """
    The first start creates the CA; later starts load it.
    """

    def test_createsCAFiles(self) -> None:
        """
        The first start writes the key (mode 0600), the CA certificate, the
        serial counter (1, the CA's own serial) and a CRL.
        """
        server = self.started()
        for name in ("ca.key", "ca.crt", "ca.ser", "crl.der"):
            self.assertTrue(os.path.exists(os.path.join(server.directory, name)), name)
        mode = stat.S_IMODE(os.stat(os.path.join(server.directory, "ca.key")).st_mode)
        self.assertEqual(mode, 0o600)
        with open(os.path.join(server.directory, "ca.ser"), "rb") as f:
            self.assertEqual(f.read(), b"1\n")
        self.assertEqual(server.lastSerial, 1)

    def test_caCertificate(self) -> None:
        """
        The CA certificate is self-signed by the issuer name, serial 1, with
        critical basicConstraints CA and keyUsage digitalSignature, keyCertSign
        and cRLSign, and an AKI equal to its SKI; it lasts caLifetimeDays.
        """
        server = self.started(issuerName="CN=srstcaserver,O=Branch")
        cert = server.caCertificate
        self.assertEqual(cert.subject, cert.issuer)
        self.assertEqual(cert.subject, parseDistinguishedName("CN=srstcaserver,O=Branch"))
        self.assertEqual(cert.serial_number, 1)
        self.assertEqual(cert.not_valid_before_utc, T0)
        self.assertEqual(cert.not_valid_after_utc, T0 + datetime.timedelta(days=1095))
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        self.assertTrue(bc.critical)
        self.assertTrue(bc.value.ca)
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        self.assertTrue(ku.critical)
        self.assertEqual((ku.value.digital_signature, ku.value.key_cert_sign, ku.value.crl_sign,
                          ku.value.key_encipherment), (True, True, True, False))
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        self.assertEqual(aki.key_identifier, ski.digest)
        cert.verify_directly_issued_by(cert)

    def test_issuerNameChanged(self) -> None:
        """
        A changed issuer-name does not replace an existing CA: it is kept,
        shown with its real name, and a warning explains why.
        """
        server = self.started()
        events = capture(self)
        restarted = self.started(server.directory, issuerName="CN=another")
        self.assertEqual(certificateFingerprint(restarted.caCertificate), certificateFingerprint(server.caCertificate))
        self.assertEqual(restarted.status().issuerName, "CN=srstcaserver")
        self.assertEqual(len(warnings_(events, "differs from the existing CA")), 1)

    def test_expiredCAWarns(self) -> None:
        """
        Starting with an expired CA certificate logs a warning.
        """
        now = FakeNow()
        server = self.started(now=now, caLifetimeDays=1)
        events = capture(self)
        now.advance(days=2)
        self.started(server.directory, now=now)
        self.assertEqual(len(warnings_(events, "expired")), 1)

    def test_rsaKey(self) -> None:
        """
        keyType rsa generates an RSA CA key of the configured size.
        """
        server = self.started(keyType="rsa", keyBits=2048)
        self.assertIsInstance(server.caCertificate.public_key(), rsa.RSAPublicKey)
        self.assertEqual(server.caCertificate.public_key().key_size, 2048)  # type: ignore[union-attr]

    def test_restartKeepsFingerprint(self) -> None:
        """
        A restart loads the same CA (same fingerprint) and continues the
        serials where they stopped.
        """
        first = self.started()
        first.issue(makeCSR())
        before = certificateFingerprint(first.caCertificate)
        second = self.started(first.directory)
        self.assertEqual(certificateFingerprint(second.caCertificate), before)
        self.assertEqual(second.lastSerial, 2)
        self.assertEqual(second.issue(makeCSR()).serial_number, 3)

    def test_grantAutoWarnsAtStart(self) -> None:
        """
        Starting with grant auto logs the seed's security caution.
        """
        events = capture(self)
        self.started(grant="auto")
        self.assertEqual(len(warnings_(events, "grant auto is enabled")), 1)

    def test_grantManualDoesNotWarn(self) -> None:
        """
        grant manual starts without that warning.
        """
        events = capture(self)
        self.started(grant="manual")
        self.assertEqual(warnings_(events, "grant auto"), [])

    def test_statusBeforeStart(self) -> None:
        """
        status() before start reports a disabled server without CA facts.
        """
        status = self.makeServer().status()
        self.assertFalse(status.enabled)
        self.assertIsNone(status.caFingerprint)
        self.assertIsNone(status.lastSerial)

    def test_status(self) -> None:
        """
        status() carries what show crypto pki server prints.
        """
        server = self.started(grant="manual", databaseLevel="names")
        status = server.status()
        self.assertTrue(status.enabled)
        self.assertEqual(status.issuerName, "CN=srstcaserver")
        self.assertEqual(status.caFingerprint, certificateFingerprint(server.caCertificate))
        self.assertEqual(status.grantMode, GrantMode.MANUAL)
        self.assertEqual(status.databaseLevel, DatabaseLevel.NAMES)
        self.assertEqual(status.lastSerial, 1)
        self.assertEqual(status.caNotAfter, T0 + datetime.timedelta(days=1095))
        self.assertEqual(status.crlNextUpdate, T0 + datetime.timedelta(hours=168))
        self.assertEqual(status.storageDir, server.directory)

    def test_issueBeforeStart(self) -> None:
        """
        Issuing before start raises CertificateServerError.
        """
        self.assertRaises(CertificateServerError, self.makeServer().issue, makeCSR())

    def test_keyMissingWithCertificate(self) -> None:
        """
        A state directory with ca.crt but no ca.key is refused, naming ca.key.
        """
        server = self.started()
        os.unlink(os.path.join(server.directory, "ca.key"))
        error = self.assertRaises(CertificateStoreError, self.makeServer(server.directory).start)
        self.assertIn("ca.key", str(error))

    def test_keyDoesNotMatchCertificate(self) -> None:
        """
        A ca.key that does not match ca.crt is refused.
        """
        server = self.started()
        other = self.started()
        os.replace(os.path.join(other.directory, "ca.key"), os.path.join(server.directory, "ca.key"))
        error = self.assertRaises(CertificateStoreError, self.makeServer(server.directory).start)
        self.assertIn("does not match", str(error))

    def test_corruptSerialCounter(self) -> None:
        """
        An unreadable serial counter stops start-up with the file's name.
        """
        server = self.started()
        with open(os.path.join(server.directory, "ca.ser"), "wb") as f:
            f.write(b"garbage")
        error = self.assertRaises(CertificateStoreError, self.makeServer(server.directory).start)
        self.assertIn("ca.ser", str(error))

    def test_corruptStateFiles(self) -> None:
        """
        A CA key, CA certificate, CRL or request file that does not parse
        stops start-up with an error naming the file.
        """
        server = self.started(grant="manual")
        server.submit(makeCSR())
        for name in ("ca.key", "ca.crt", "crl.der", os.path.join("requests", "1.json"), "requests.ser"):
            path = os.path.join(server.directory, name)
            with open(path, "rb") as f:
                saved = f.read()
            with open(path, "wb") as f:
                f.write(b"\x00garbage")
            error = self.assertRaises(CertificateStoreError, self.makeServer(server.directory).start)
            self.assertEqual(error.path, path)
            with open(path, "wb") as f:
                f.write(saved)
        self.assertEqual(self.started(server.directory).pendingRequests()[0].id, 1)

    def test_lostCACertificateIsRecreated(self) -> None:
        """
        If ca.crt is lost after issuing, it is re-created from the key with
        a fresh serial (never reusing one) and the same key identifier.
        """
        server = self.started()
        issued = server.issue(makeCSR())
        os.unlink(os.path.join(server.directory, "ca.crt"))
        again = self.started(server.directory)
        self.assertGreater(again.caCertificate.serial_number, issued.serial_number)
        issued.verify_directly_issued_by(again.caCertificate)

    def test_lostCounterRecoveredFromFiles(self) -> None:
        """
        Without ca.ser the next serial is still above every issued one
        (recovered from the <serial>.cer files).
        """
        server = self.started()
        for _ in range(3):
            server.issue(makeCSR())
        os.unlink(os.path.join(server.directory, "ca.ser"))
        self.assertEqual(self.started(server.directory).issue(makeCSR()).serial_number, 5)

    def assertRecoveredAfter(self, lastSerial: int) -> None:
        """
        Issue certificates up to C{lastSerial}, lose ca.ser, restart: the
        next certificate has serial C{lastSerial + 1}, reuses no serial and
        overwrites no stored certificate.
        """
        server = self.started()
        csr = makeCSR()
        issued = []
        while not issued or issued[-1].serial_number < lastSerial:
            issued.append(server.issue(csr))
        self.assertEqual(issued[-1].serial_number, lastSerial)
        os.unlink(os.path.join(server.directory, "ca.ser"))
        again = self.started(server.directory)
        following = again.issue(csr)
        self.assertEqual(following.serial_number, lastSerial + 1)
        self.assertNotIn(following.serial_number, [c.serial_number for c in issued])
        for cert in issued:
            self.assertEqual(again.issuedCertificate(cert.serial_number), cert)

    def test_lostCounterRecoveredPast09(self) -> None:
        """
        The <serial>.cer names are hex: with 0A.cer the highest file, the
        next serial is 0x0B (read as decimal, 0A.cer is skipped and serial
        0x0A would be issued again).
        """
        self.assertRecoveredAfter(0x0A)

    def test_lostCounterRecoveredPast0F(self) -> None:
        """
        With 10.cer (serial 16) the highest file, the next serial is 0x11
        (read as decimal, 10.cer is serial 10 and 11..16 would be reused).
        """
        self.assertRecoveredAfter(0x10)


class IssueTests(ServerMixin, SynchronousTestCase):
    """
    Issuing certificates.
    """

    def test_endEntityCertificate(self) -> None:
        """
        An issued certificate has the request's subject and key, SHA-256,
        critical keyUsage digitalSignature + keyEncipherment (RSA key), EKU
        serverAuth + clientAuth, SKI, an AKI naming the CA, and the SANs.
        """
        server = self.started()
        key = sharedKey("rsa-csr", "rsa", 1024)
        cert = server.issue(makeCSR("branch-router", key), ["branch-router"], ["127.0.0.1", "::1"])
        self.assertEqual(cert.subject.rfc4514_string(), "CN=branch-router")
        self.assertIsInstance(cert.signature_hash_algorithm, hashes.SHA256)
        self.assertEqual(cert.not_valid_before_utc, T0)
        self.assertEqual(cert.not_valid_after_utc, T0 + datetime.timedelta(days=365))
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        self.assertTrue(ku.critical)
        self.assertEqual((ku.value.digital_signature, ku.value.key_encipherment, ku.value.key_cert_sign),
                         (True, True, False))
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(list(eku), [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
        self.assertFalse(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        caSki = server.caCertificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        self.assertEqual(aki.key_identifier, caSki.digest)
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        self.assertEqual(ski, x509.SubjectKeyIdentifier.from_public_key(key.public_key()))
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["branch-router"])
        self.assertEqual([str(a) for a in san.get_values_for_type(x509.IPAddress)], ["127.0.0.1", "::1"])
        cert.verify_directly_issued_by(server.caCertificate)

    def test_ecdsaRequestUsesKeyAgreement(self) -> None:
        """
        An ECDSA request gets digitalSignature + keyAgreement (no
        keyEncipherment, which does not apply to EC keys).
        """
        server = self.started()
        ku = server.issue(makeCSR()).extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertEqual((ku.digital_signature, ku.key_agreement, ku.key_encipherment), (True, True, False))

    def test_lifetimeCappedByCA(self) -> None:
        """
        No certificate outlives the CA.
        """
        now = FakeNow()
        server = self.started(now=now, caLifetimeDays=100, certificateLifetimeDays=365)
        now.advance(days=10)
        cert = server.issue(makeCSR())
        self.assertEqual(cert.not_valid_after_utc, server.caCertificate.not_valid_after_utc)

    def test_twoHundredSerials(self) -> None:
        """
        200 issued certificates have 200 distinct, strictly increasing
        serials, and database level complete writes 200 <serial>.cer files
        holding exactly those certificates.
        """
        server = self.started()
        csr = makeCSR()
        serials = [server.issue(csr).serial_number for _ in range(200)]
        self.assertEqual(serials, sorted(set(serials)))
        self.assertEqual(len(serials), 200)
        files = sorted(n for n in os.listdir(server.directory) if n.endswith(".cer"))
        self.assertEqual(files, sorted(serialFileName(s) for s in serials))
        for serial in (serials[0], serials[-1]):
            stored = server.issuedCertificate(serial)
            assert stored is not None
            self.assertEqual(stored.serial_number, serial)

    def test_issuedCertificateLookup(self) -> None:
        """
        issuedCertificate finds stored certificates and answers None for
        others.
        """
        server = self.started()
        cert = server.issue(makeCSR())
        self.assertEqual(server.issuedCertificate(cert.serial_number), cert)
        self.assertIsNone(server.issuedCertificate(99))

    def test_databaseLevelNames(self) -> None:
        """
        Database level names records each serial's subject and writes no
        certificate files.
        """
        server = self.started(databaseLevel="names")
        server.issue(makeCSR("phone-a"))
        server.issue(makeCSR("phone-b"))
        with open(os.path.join(server.directory, "names.json"), "rb") as f:
            self.assertEqual(json.loads(f.read()), {"2": "CN=phone-a", "3": "CN=phone-b"})
        self.assertEqual([n for n in os.listdir(server.directory) if n.endswith(".cer")], [])

    def test_databaseLevelMinimal(self) -> None:
        """
        Database level minimal keeps only the serial counter.
        """
        server = self.started(databaseLevel="minimal")
        server.issue(makeCSR())
        names = os.listdir(server.directory)
        self.assertNotIn("names.json", names)
        self.assertEqual([n for n in names if n.endswith(".cer")], [])
        self.assertEqual(self.started(server.directory, databaseLevel="minimal").lastSerial, 2)

    def test_clockBeforeCA(self) -> None:
        """
        While the clock is before the CA's notBefore, issuing is refused
        with an error naming both times, and start-up warns.
        """
        server = self.started()
        events = capture(self)
        early = FakeNow(T0 - datetime.timedelta(days=3650))
        restarted = self.started(server.directory, now=early)
        self.assertEqual(len(warnings_(events, "set the clock")), 1)
        error = self.assertRaises(ClockNotSetError, restarted.issue, makeCSR())
        self.assertIn("2014-04-15 19:45:16 UTC", str(error))
        self.assertIn("2024-04-12 19:45:16 UTC", str(error))
        self.assertIn("set the clock", str(error))
        self.assertEqual(restarted.lastSerial, 1)

    def test_caExpired(self) -> None:
        """
        After the CA expires nothing is issued.
        """
        now = FakeNow()
        server = self.started(now=now, caLifetimeDays=10)
        now.advance(days=11)
        self.assertRaises(CAExpiredError, server.issue, makeCSR())

    def test_badRequestSignature(self) -> None:
        """
        A request whose signature does not verify is refused before any
        serial is used.
        """
        server = self.started()
        der = bytearray(makeCSR().public_bytes(serialization.Encoding.DER))
        der[-5] ^= 0xFF
        csr = x509.load_der_x509_csr(bytes(der))
        self.assertRaises(InvalidRequestError, server.issue, csr)
        self.assertEqual(server.lastSerial, 1)

    def test_badSubjectAltName(self) -> None:
        """
        A bad IP address for the SAN is refused with InvalidRequestError.
        """
        server = self.started()
        error = self.assertRaises(InvalidRequestError, server.issue, makeCSR(), [], ["not-an-ip"])
        self.assertIn("not-an-ip", str(error))


class CrashTests(ServerMixin, SynchronousTestCase):
    """
    A crash between any two writes never leads to a reused serial.
    """

    def scenario(self, server: CertificateServer, returned: list[int]) -> None:
        """
        Start, issue three certificates directly, queue and grant one
        request (the server is grant manual).
        """
        server.start()
        for name in ("a", "b", "c"):
            returned.append(server.issue(makeCSR(name)).serial_number)
        result = server.submit(makeCSR("d"))
        assert result.requestId is not None
        returned.append(server.grant(result.requestId).serial_number)

    def serialsOnDisk(self, directory: str) -> list[int]:
        found = []
        for name in os.listdir(directory):
            if name.endswith(".cer"):
                with open(os.path.join(directory, name), "rb") as f:
                    cert = x509.load_der_x509_certificate(f.read())
                self.assertEqual(name, serialFileName(cert.serial_number))
                found.append(cert.serial_number)
        return found

    def check(self, level: str, afterWrite: bool) -> None:
        counter = CrashingWriter()
        self.scenario(self.makeServer(writer=counter, grant="manual", databaseLevel=level), [])
        self.assertGreater(counter.count, 8)
        for k in range(1, counter.count + 1):
            directory = os.path.join(self.mktemp(), "srstcaserver")
            returned: list[int] = []
            crashing = self.makeServer(directory, writer=CrashingWriter(k, afterWrite), grant="manual",
                                       databaseLevel=level)
            self.assertRaises(SimulatedCrash, self.scenario, crashing, returned)
            caBefore = crashing._caCert
            fingerprintBefore = (certificateFingerprint(caBefore)
                                 if caBefore is not None and os.path.exists(os.path.join(directory, "ca.crt"))
                                 else None)
            seen = set(returned) | set(self.serialsOnDisk(directory))
            restarted = self.started(directory, grant="manual", databaseLevel=level)
            if fingerprintBefore is not None:
                self.assertEqual(certificateFingerprint(restarted.caCertificate), fingerprintBefore)
            seen.add(restarted.caCertificate.serial_number)
            fresh = [restarted.issue(makeCSR("after")).serial_number for _ in range(3)]
            for pending in restarted.pendingRequests():
                fresh.append(restarted.grant(pending.id).serial_number)
            self.assertEqual(fresh, sorted(set(fresh)), f"crash at write {k}")
            self.assertGreater(min(fresh), max(seen), f"crash at write {k}: reused serial")
            self.assertEqual(len(set(self.serialsOnDisk(directory))), len(self.serialsOnDisk(directory)))

    def test_crashBeforeEachWriteComplete(self) -> None:
        """
        Database level complete: a crash just before any write (start,
        issue, submit, grant), then a restart, issues only serials above
        every serial returned or stored before the crash.
        """
        self.check("complete", afterWrite=False)

    def test_crashAfterEachWriteComplete(self) -> None:
        """
        The same with the crash just after each write lands on disk.
        """
        self.check("complete", afterWrite=True)

    def test_crashBeforeEachWriteNames(self) -> None:
        """
        Database level names survives a crash before any write.
        """
        self.check("names", afterWrite=False)

    def test_crashAfterEachWriteMinimal(self) -> None:
        """
        Database level minimal survives a crash after any write.
        """
        self.check("minimal", afterWrite=True)

    def test_counterWrittenBeforeCertificate(self) -> None:
        """
        Within one issuance the serial counter is written before the
        certificate file.
        """
        writer = CrashingWriter()
        server = self.started(writer=writer)
        start = len(writer.paths)
        cert = server.issue(makeCSR())
        written = [os.path.basename(p) for p in writer.paths[start:]]
        self.assertEqual(written, ["ca.ser", serialFileName(cert.serial_number)])


    def test_issuedCountCountsCertificates(self) -> None:
        """
        L{CertificateServer.issuedCount} counts the certificates issued
        since start: a serial reserved by an issuance that failed to
        record its certificate is not counted (so it is not C{lastSerial -
        1}), and a restarted server counts from 0.
        """
        writer = CrashingWriter()
        server = self.started(writer=writer)
        self.assertEqual(server.issuedCount, 0)
        server.issue(makeCSR("one"))
        writer.crashAt = writer.count + 2  # the certificate file, after ca.ser
        self.assertRaises(SimulatedCrash, server.issue, makeCSR("lost"))
        server.issue(makeCSR("two"))
        self.assertEqual((server.issuedCount, server.lastSerial), (2, 4))
        self.assertEqual(self.started(server.directory).issuedCount, 0)

class GrantTests(ServerMixin, SynchronousTestCase):
    """
    grant auto and the manual request queue.
    """

    def test_autoIssuesAndWarns(self) -> None:
        """
        With grant auto a submitted request is issued at once and each
        automatic grant logs a warning.
        """
        server = self.started(grant="auto")
        events = capture(self)
        result = server.submit(makeCSR(), ["branch-router"], ["127.0.0.1"])
        self.assertIsNone(result.requestId)
        assert result.certificate is not None
        self.assertEqual(result.certificate.serial_number, 2)
        self.assertEqual(len(warnings_(events, "without operator approval")), 1)

    def test_manualQueues(self) -> None:
        """
        With grant manual requests are queued with ids 1, 2, ... and nothing
        is issued.
        """
        server = self.started(grant="manual")
        csr = makeCSR("a")
        first = server.submit(csr, ["a"], ["127.0.0.1"])
        second = server.submit(makeCSR("b"))
        self.assertEqual((first.requestId, second.requestId), (1, 2))
        self.assertIsNone(first.certificate)
        pending = server.pendingRequests()
        self.assertEqual([(r.id, r.subject, r.state) for r in pending],
                         [(1, "CN=a", RequestState.PENDING), (2, "CN=b", RequestState.PENDING)])
        self.assertEqual(pending[0].dnsNames, ("a",))
        self.assertEqual(pending[0].ipAddresses, ("127.0.0.1",))
        self.assertEqual(pending[0].fingerprint,
                         fingerprint(csr.public_bytes(serialization.Encoding.DER)).replace(" ", ""))
        self.assertEqual(server.lastSerial, 1)

    def test_queueSurvivesRestart(self) -> None:
        """
        Queued requests are on disk: a restarted server lists and grants
        them, and new requests continue the ids.
        """
        server = self.started(grant="manual")
        server.submit(makeCSR("a"), ["a"], ["10.1.1.22"])
        restarted = self.started(server.directory, grant="manual")
        self.assertEqual([r.id for r in restarted.pendingRequests()], [1])
        cert = restarted.grant(1)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual([str(a) for a in san.get_values_for_type(x509.IPAddress)], ["10.1.1.22"])
        self.assertEqual(restarted.submit(makeCSR("b")).requestId, 2)

    def test_grantFiresWhenGranted(self) -> None:
        """
        whenGranted fires with the certificate when the request is granted;
        the request then shows as granted with its serial.
        """
        server = self.started(grant="manual")
        requestId = server.submit(makeCSR()).requestId
        assert requestId is not None
        d = server.whenGranted(requestId)
        self.assertNoResult(d)
        cert = server.grant(requestId)
        self.assertEqual(self.successResultOf(d), cert)
        self.assertEqual(server.requests()[0].state, RequestState.GRANTED)
        self.assertEqual(server.requests()[0].serial, cert.serial_number)
        self.assertEqual(server.pendingRequests(), [])

    def test_whenGrantedAfterGrant(self) -> None:
        """
        whenGranted on an already granted request (also after a restart)
        fires at once with the certificate.
        """
        server = self.started(grant="manual")
        requestId = server.submit(makeCSR()).requestId
        assert requestId is not None
        cert = server.grant(requestId)
        restarted = self.started(server.directory, grant="manual")
        self.assertEqual(self.successResultOf(restarted.whenGranted(requestId)), cert)

    def test_rejectFailsWaiters(self) -> None:
        """
        reject fails whenGranted with RequestRejectedError, now and later.
        """
        server = self.started(grant="manual")
        requestId = server.submit(makeCSR()).requestId
        assert requestId is not None
        d = server.whenGranted(requestId)
        server.reject(requestId)
        self.failureResultOf(d, RequestRejectedError)
        self.failureResultOf(server.whenGranted(requestId), RequestRejectedError)
        self.assertEqual(server.requests()[0].state, RequestState.REJECTED)
        self.assertEqual(server.lastSerial, 1)

    def test_unknownAndNotPending(self) -> None:
        """
        Granting or rejecting an unknown id, or a request that is no longer
        pending, raises a typed error naming the id.
        """
        server = self.started(grant="manual")
        error = self.assertRaises(UnknownRequestError, server.grant, 7)
        self.assertIn("7", str(error))
        self.assertRaises(UnknownRequestError, server.reject, 7)
        self.failureResultOf(server.whenGranted(7), UnknownRequestError)
        requestId = server.submit(makeCSR()).requestId
        assert requestId is not None
        server.grant(requestId)
        error2 = self.assertRaises(RequestStateError, server.grant, requestId)
        self.assertIn("granted", str(error2))
        self.assertRaises(RequestStateError, server.reject, requestId)

    def test_cancelWaiting(self) -> None:
        """
        Cancelling whenGranted stops waiting; the request stays pending.
        """
        server = self.started(grant="manual")
        requestId = server.submit(makeCSR()).requestId
        assert requestId is not None
        d = server.whenGranted(requestId)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        server.grant(requestId)
        self.assertEqual(server.requests()[0].state, RequestState.GRANTED)

    def test_notificationsThroughCallFromThread(self) -> None:
        """
        Waiters are fired through the callFromThread callable (the reactor's
        in production, since grant may run in a worker thread).
        """
        scheduled: list[Any] = []
        server = self.started(grant="manual", callFromThread=lambda f, *a: scheduled.append((f, a)))
        requestId = server.submit(makeCSR()).requestId
        assert requestId is not None
        d = server.whenGranted(requestId)
        cert = server.grant(requestId)
        self.assertNoResult(d)
        [(f, args)] = scheduled
        f(*args)
        self.assertEqual(self.successResultOf(d), cert)


class RevocationTests(ServerMixin, SynchronousTestCase):
    """
    revoke and the CRL.
    """

    def test_revoke(self) -> None:
        """
        revoke adds the serial to a re-signed CRL (on disk too) whose
        nextUpdate is now + the CRL lifetime, with an increasing CRL number.
        """
        now = FakeNow()
        server = self.started(now=now, crlLifetimeHours=24)
        cert = server.issue(makeCSR())
        firstNumber = server.crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        now.advance(hours=2)
        crl = server.revoke(cert.serial_number)
        self.assertEqual([r.serial_number for r in crl], [cert.serial_number])
        self.assertEqual(crl.get_revoked_certificate_by_serial_number(2).revocation_date_utc, now())
        self.assertEqual(crl.next_update_utc, now() + datetime.timedelta(hours=24))
        self.assertTrue(crl.is_signature_valid(server.caCertificate.public_key()))  # type: ignore[arg-type]
        self.assertGreater(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number, firstNumber)
        with open(os.path.join(server.directory, "crl.der"), "rb") as f:
            self.assertEqual(f.read(), crl.public_bytes(serialization.Encoding.DER))
        self.assertEqual(self.started(server.directory).revokedSerials(), {2: now()})

    def test_refusals(self) -> None:
        """
        The CA's own serial, a serial never issued and one already revoked
        cannot be revoked.
        """
        server = self.started()
        server.issue(makeCSR())
        self.assertIn("CA certificate", str(self.assertRaises(RevocationError, server.revoke, 1)))
        self.assertIn("never issued", str(self.assertRaises(RevocationError, server.revoke, 9)))
        server.revoke(2)
        self.assertIn("already revoked", str(self.assertRaises(RevocationError, server.revoke, 2)))

    def test_refreshCrl(self) -> None:
        """
        refreshCrl re-signs only once nextUpdate has passed (or when forced),
        keeping the revoked entries.
        """
        now = FakeNow()
        server = self.started(now=now, crlLifetimeHours=1)
        server.issue(makeCSR())
        server.revoke(2)
        before = server.crl
        now.advance(minutes=30)
        self.assertIs(server.refreshCrl(), before)
        now.advance(minutes=31)
        after = server.refreshCrl()
        self.assertEqual(after.next_update_utc, now() + datetime.timedelta(hours=1))
        self.assertEqual([r.serial_number for r in after], [2])


class CdpUrlTests(ServerMixin, SynchronousTestCase):
    """
    C{cdp-url}: where the certificates the server issues say its CRL is.
    """

    def test_issuedCertificateCarriesCdp(self) -> None:
        """
        With a CDP URL, every certificate issued has a CRL Distribution
        Points extension with that URL as its one full name.
        """
        url = "http://127.0.0.1:8080/crl/srstcaserver.crl"
        server = self.started(cdpUrl=url)
        cert = server.issue(makeCSR())
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        self.assertFalse(points.critical)
        self.assertEqual([[name.value for name in point.full_name] for point in points.value], [[url]])

    def test_noCdpByDefault(self) -> None:
        """
        Without one, no CRL Distribution Points (as before).
        """
        cert = self.started().issue(makeCSR())
        self.assertRaises(x509.ExtensionNotFound, cert.extensions.get_extension_for_class,
                          x509.CRLDistributionPoints)


class HelperTests(SynchronousTestCase):
    """
    Names, keys, fingerprints and formats.
    """

    def test_parseName(self) -> None:
        """
        Attributes keep the written order; + joins a multi-valued RDN;
        spaces around parts are ignored.
        """
        name = parseDistinguishedName("CN=router, O=Branch,C=US")
        self.assertEqual([a.value for a in name], ["router", "Branch", "US"])
        multi = parseDistinguishedName("serialNumber=D0B9E79C+hostname=jaso2691.cisco.com")
        self.assertEqual(len(multi.rdns), 1)
        self.assertEqual(multi.get_attributes_for_oid(NameOID.UNSTRUCTURED_NAME)[0].value, "jaso2691.cisco.com")
        escaped = parseDistinguishedName(r"CN=a\, b")
        self.assertEqual(escaped.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, "a, b")

    def test_parseNameErrors(self) -> None:
        """
        Bad names raise NameParseError with the reason.
        """
        for text, reason in [("", "empty"), ("CN", "no '='"), ("XX=1", "unknown attribute"),
                             ("CN=", "empty value"), ("C=USA", "two letters")]:
            error = self.assertRaises(NameParseError, parseDistinguishedName, text)
            self.assertIn(reason, str(error))

    def test_badIssuerName(self) -> None:
        """
        A certificate server with a bad issuer name is refused at construction.
        """
        self.assertRaises(NameParseError, CertificateServer, "cs", self.mktemp(), "CN", now=FakeNow())

    def test_keySpecs(self) -> None:
        """
        generatePrivateKey makes RSA and P-256 keys and refuses sizes it
        cannot generate.
        """
        self.assertIsInstance(generatePrivateKey("ecdsa"), ec.EllipticCurvePrivateKey)
        self.assertEqual(generatePrivateKey("rsa", 1024).key_size, 1024)
        self.assertIn("1024", str(self.assertRaises(KeySpecError, generatePrivateKey, "rsa", 512)))
        self.assertRaises(KeySpecError, generatePrivateKey, "ecdsa", 384)
        self.assertRaises(KeySpecError, generatePrivateKey, "dsa", 1024)

    def test_fingerprint(self) -> None:
        """
        Fingerprints are upper-case hex in groups of eight digits.
        """
        self.assertEqual(fingerprint(b"abc"), "90015098 3CD24FB0 D6963F7D 28E17F72")
        self.assertEqual(len(fingerprint(b"abc", "sha256").split()), 8)

    def test_iosTime(self) -> None:
        """
        Times print as IOS timers do, in UTC, day without padding.
        """
        self.assertEqual(iosTime(datetime.datetime(2007, 12, 1, 13, 46, 57, tzinfo=UTC)), "13:46:57 UTC Dec 1 2007")
        other = datetime.timezone(datetime.timedelta(hours=-8))
        self.assertEqual(iosTime(datetime.datetime(2005, 1, 19, 6, 54, 57, tzinfo=other)), "14:54:57 UTC Jan 19 2005")

    def test_serialFileName(self) -> None:
        """
        Serial file names are upper-case hex with an even number of digits.
        """
        self.assertEqual([serialFileName(s) for s in (2, 10, 200, 256)], ["02.cer", "0A.cer", "C8.cer", "0100.cer"])

    def test_generalPurposeSignature(self) -> None:
        """
        The CA signs with its own key (an RSA issued certificate verifies
        with PKCS#1 v1.5 and SHA-256 against the CA).
        """
        server = CertificateServer("cs", os.path.join(self.mktemp(), "cs"), "CN=cs", now=FakeNow(),
                                   keyType="rsa", keyBits=1024, grant="auto")
        server.start()
        cert = server.issue(makeCSR())
        key = server.caCertificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())


class AtomicWriteTests(ServerMixin, SynchronousTestCase):
    """
    The atomic writer.
    """

    def test_writesWithMode(self) -> None:
        """
        atomicWrite replaces the file with the given mode and leaves no
        temporary file behind.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "key.pem")
        _files.atomicWrite(path, b"old", 0o644)
        _files.atomicWrite(path, b"secret", 0o600)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"secret")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(os.listdir(directory), ["key.pem"])

    def test_failureKeepsOldContent(self) -> None:
        """
        If the rename fails, the old content stays and the temp file is
        removed.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "ca.ser")
        _files.atomicWrite(path, b"5\n")

        def failingReplace(src: str, dst: str) -> None:
            raise OSError(28, "No space left on device")

        self.patch(_files.os, "replace", failingReplace)
        self.assertRaises(OSError, _files.atomicWrite, path, b"6\n")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"5\n")
        self.assertEqual(os.listdir(directory), ["ca.ser"])

    def test_staleTemporaries(self) -> None:
        """
        A temp file left by a write interrupted before its rename is removed
        at the next start; the real files are untouched.
        """
        server = self.started()
        stale = os.path.join(server.directory, ".ca.ser.abc123.tmp")
        with open(stale, "wb") as f:
            f.write(b"99\n")
        restarted = self.started(server.directory)
        self.assertFalse(os.path.exists(stale))
        self.assertEqual(restarted.lastSerial, 1)
        self.assertEqual(_files.removeStaleTemporaries(os.path.join(server.directory, "nowhere")), [])

    def test_removeFile(self) -> None:
        """
        removeFile removes a file and ignores a missing one.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "request.id")
        _files.atomicWrite(path, b"1\n")
        _files.removeFile(path)
        _files.removeFile(path)
        self.assertFalse(os.path.exists(path))


class OpenSSLCheckTests(ServerMixin, TestCase):
    """
    The openssl command line accepts what the certificate server produces.
    """

    timeout = 30

    def setUp(self) -> None:
        self.openssl = requireTool("openssl")

    @bounded
    def test_verifyChainAndCRL(self) -> Any:
        """
        openssl verify accepts an issued certificate against the CA (for
        the sslserver and sslclient purposes) and the CRL's signature.
        """
        from twisted.internet import reactor

        server = self.started(keyType="rsa", keyBits=2048, now=lambda: datetime.datetime.now(UTC))
        cert = server.issue(makeCSR("branch-router"), ["branch-router"], ["127.0.0.1"])
        server.revoke(server.issue(makeCSR("phone")).serial_number)
        caFile = os.path.join(server.directory, "ca.crt")
        certFile = os.path.join(server.directory, "router.pem")
        with open(certFile, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        for purpose in ("sslserver", "sslclient"):
            out, err, code = yield getProcessOutputAndValue(
                self.openssl, ["verify", "-purpose", purpose, "-CAfile", caFile, certFile],
                reactor=reactor)
            self.assertEqual(code, 0, (out, err))
            self.assertIn(b"OK", out)
        out, err, code = yield getProcessOutputAndValue(
            self.openssl,
            ["crl", "-inform", "DER", "-in", os.path.join(server.directory, "crl.der"), "-CAfile", caFile,
             "-noout", "-text"], reactor=reactor)
        self.assertEqual(code, 0, (out, err))
        self.assertIn(b"verify OK", out + err)
        self.assertIn(b"Serial Number: 03", out)
