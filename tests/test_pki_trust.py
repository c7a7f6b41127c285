"""
Tests for L{srst.pki.trust}: certificate files and DER serials
(L{srst.pki._x509}), the seed's certificates, IOS certificate chains, and
trustpoints.
"""

from __future__ import annotations

import datetime
import os
import stat
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID
from twisted.internet.defer import maybeDeferred
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from srst.pki import _x509
from srst.pki.ca import CertificateServer, RequestRejectedError, certificateFingerprint
from srst.pki.trust import (
    CertificateFileError,
    IdentityTrustpoint,
    IosChainParseError,
    PhoneTrustpoint,
    TrustpointError,
    certificateDer,
    isIosCertificateChain,
    loadCertificateFile,
    loadIdentityCertificateFile,
    loadPrivateKeyFile,
    loadTrustpointCertificateFile,
    parseCertificates,
    parseIosCertificateChain,
    rawSerial,
    serialHex,
    serialNumber,
    trustpointDirectory,
)
from tests.routerhelpers import PHONE_CA_DIR
from tests.pkihelpers import (fixture, iosChainText, issueCertificate, makeCA, seedChainText, sharedKey, writeKey,
                              writePem)
from tests.test_pki_ca import FakeNow, CrashingWriter
from tests.toolhelpers import requireFile

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED_DOCUMENT = os.environ.get("SRST_SEED_DOCUMENT") or os.path.join(
    REPOSITORY_ROOT, "..", "shared", "seed", "secure-srst-configuration-example.txt")
"""
The seed document, in the C{shared/} checkout beside the repository (as CI
lays them out), or where C{SRST_SEED_DOCUMENT} says; tests that need it skip
when it is absent, or fail under C{SRST_REQUIRE_TOOLS=1}
(L{tests.toolhelpers}).
"""
SEED_SERIALS = [
    ("srstca", "02", False), ("srstca", "01", True), ("srstcaserver", "01", True),
    ("7970", "353FB24BD70F14A346C1F3A9AC725675", True), ("PEM", "7612F960153D6F9F4E42202032B72356", True),
    ("7960", "F301", True),
]


def readFixture(name: str) -> bytes:
    with open(fixture(name), "rb") as f:
        return f.read()


def runNow(f: Any, *args: Any, **kwargs: Any) -> Any:
    """
    The synchronous runInThread for tests.
    """
    return maybeDeferred(f, *args, **kwargs)


class SeedCertificateTests(SynchronousTestCase):
    """
    The seed document's certificates load, odd as they are.
    """

    def test_phoneCAFiles(self) -> None:
        """
        CiscoCA.pem and a69d2e04.0 (PEM) and 59fe77ccd.0 (DER) load as the
        seed's 7970, PEM and 7960 CA certificates.
        """
        self.assertEqual(loadCertificateFile(fixture("CiscoCA.pem"))[0].subject.rfc4514_string(),
                         "CN=CAP-RTP-002,O=Cisco Systems")
        self.assertEqual(loadCertificateFile(fixture("a69d2e04.0"))[0].subject.rfc4514_string(),
                         "CN=CAP-RTP-001,O=Cisco Systems")
        self.assertEqual(loadCertificateFile(fixture("59fe77ccd.0"))[0].subject.rfc4514_string(),
                         "CN=CAPF-35E08332,O=Cisco Systems Inc,C=US")

    def test_negativeSerial(self) -> None:
        """
        The CAPF certificate's negative serial (-0x0CFF, IOS prints F301)
        loads and reads without any warning.
        """
        cert = loadCertificateFile(fixture("59fe77ccd.0"))[0]
        self.assertEqual(serialNumber(cert), -0x0CFF)
        self.assertEqual(serialHex(cert), "F301")
        self.assertEqual(certificateDer(cert), readFixture("59fe77ccd.0"))
        self.assertEqual(self.flushWarnings(), [])

    def test_negativeSerialRefused(self) -> None:
        """
        If cryptography refuses negative serials outright, the certificate
        still loads: a display copy with the serial made positive, while
        certificateDer and serialHex keep the original.
        """
        original = _x509._loadDer

        def strict(der: bytes) -> x509.Certificate:
            if int.from_bytes(rawSerial(der), "big", signed=True) <= 0:
                raise ValueError("negative serial")
            return original(der)

        self.patch(_x509, "_loadDer", strict)
        cert = loadCertificateFile(fixture("59fe77ccd.0"))[0]
        self.assertEqual(cert.serial_number, 0x0CFF)
        self.assertEqual(cert.subject.rfc4514_string(), "CN=CAPF-35E08332,O=Cisco Systems Inc,C=US")
        self.assertEqual(certificateDer(cert), readFixture("59fe77ccd.0"))
        self.assertEqual(serialHex(cert), "F301")

    def test_routerCertificateRsa512Md5(self) -> None:
        """
        The seed's router certificate (RSA-512, md5WithRSA, IOS's default
        serialNumber + unstructuredName subject) loads and verifies against
        the seed's srstcaserver CA.
        """
        device = loadCertificateFile(fixture("srstca-02.cer"))[0]
        ca = loadCertificateFile(fixture("srstcaserver-ca-01.cer"))[0]
        self.assertEqual(device.public_key().key_size, 512)  # type: ignore[union-attr]
        self.assertIsInstance(device.signature_hash_algorithm, hashes.MD5)
        self.assertEqual(device.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value, "D0B9E79C")
        self.assertEqual(device.subject.get_attributes_for_oid(NameOID.UNSTRUCTURED_NAME)[0].value,
                         "jaso2691.cisco.com")
        ca.public_key().verify(device.signature, device.tbs_certificate_bytes,  # type: ignore[union-attr,call-arg]
                               padding.PKCS1v15(), hashes.MD5())  # type: ignore[call-arg]
        self.assertEqual(certificateFingerprint(ca), "F68BDE58 C5178CCF 95B954AA 19AD90F6")


class IosChainTests(SynchronousTestCase):
    """
    parseIosCertificateChain.
    """

    def test_seedBlocks(self) -> None:
        """
        Every certificate block of the seed's running-config parses, with
        its trustpoint, serial and ca flag, into the fixture files' DER.
        """
        with open(fixture("running-config-chains.txt")) as f:
            found = parseIosCertificateChain(f.read())
        self.assertEqual([(c.trustpoint, c.serial, c.isCA) for c in found], SEED_SERIALS)
        byTrustpoint = {c.trustpoint: c.der for c in found}
        self.assertEqual(byTrustpoint["7960"], readFixture("59fe77ccd.0"))
        self.assertEqual(byTrustpoint["srstcaserver"], readFixture("srstcaserver-ca-01.cer"))
        self.assertEqual(found[0].der, readFixture("srstca-02.cer"))
        self.assertEqual(found[3].certificate, loadCertificateFile(fixture("CiscoCA.pem"))[0])
        self.assertEqual(found[4].certificate, loadCertificateFile(fixture("a69d2e04.0"))[0])

    def test_wholeSeedDocument(self) -> None:
        """
        The seed document itself (both copies of the srstca chain) parses.
        """
        requireFile(SEED_DOCUMENT, "the seed document (expected in shared/ beside the repository checkout)")
        with open(SEED_DOCUMENT) as f:
            found = parseIosCertificateChain(f.read())
        self.assertEqual([(c.trustpoint, c.serial) for c in found],
                         [(t, s) for t, s, _ in SEED_SERIALS] + [("srstca", "02"), ("srstca", "01")])

    def test_indentedAndSurrounded(self) -> None:
        """
        Blocks indented inside other text (as in the seed's verification
        section, with trailing tabs) parse the same.
        """
        with open(fixture("running-config-chains.txt")) as f:
            text = f.read()
        indented = "Router#show running-config\n" + "\n".join("    " + line + "\t" for line in text.splitlines())
        indented += "\n  2. Issue the show crypto pki server command.\n"
        self.assertEqual([c.serial for c in parseIosCertificateChain(indented)], [s for _, s, _ in SEED_SERIALS])

    def test_missingQuit(self) -> None:
        """
        A certificate without quit is an error naming its line.
        """
        text = "crypto pki certificate chain tp\n certificate 02\n  308201AD 30820116\n"
        error = self.assertRaises(IosChainParseError, parseIosCertificateChain, text)
        self.assertEqual(error.line, 2)
        self.assertIn("quit", str(error))

    def test_badHex(self) -> None:
        """
        Non-hex data inside a certificate is an error.
        """
        text = "crypto pki certificate chain tp\n certificate 02\n  3082ZZAD\n  quit\n"
        self.assertIn("line 3", str(self.assertRaises(IosChainParseError, parseIosCertificateChain, text)))

    def test_serialMismatch(self) -> None:
        """
        A header serial that is not the certificate's is an error.
        """
        der = readFixture("59fe77ccd.0").hex().upper()
        words = " ".join(der[i:i + 8] for i in range(0, len(der), 8))
        text = f"crypto pki certificate chain 7960\n certificate ca 0A\n  {words}\n  quit\n"
        error = self.assertRaises(IosChainParseError, parseIosCertificateChain, text)
        self.assertIn("F301", str(error))

    def test_dataOutsideCertificate(self) -> None:
        """
        Hex words after quit, outside any certificate, are an error.
        """
        text = "crypto pki certificate chain tp\n  30820207 30820170\n"
        self.assertIn("outside", str(self.assertRaises(IosChainParseError, parseIosCertificateChain, text)))

    def test_oddDigits(self) -> None:
        """
        An odd number of hex digits is an error.
        """
        text = "crypto pki certificate chain tp\n certificate 02\n  308\n  quit\n"
        self.assertIn("odd", str(self.assertRaises(IosChainParseError, parseIosCertificateChain, text)))

    def test_notACertificate(self) -> None:
        """
        Hex that is not a certificate is an error.
        """
        text = "crypto pki certificate chain tp\n certificate 02\n  30030201 02\n  quit\n"
        self.assertIn("does not parse", str(self.assertRaises(IosChainParseError, parseIosCertificateChain, text)))


SEED_CHAIN_CERTIFICATES = {
    "7970": ("353FB24BD70F14A346C1F3A9AC725675", "CN=CAP-RTP-002,O=Cisco Systems", "20:27:37 UTC Oct 10 2023"),
    "PEM": ("7612F960153D6F9F4E42202032B72356", "CN=CAP-RTP-001,O=Cisco Systems", "23:36:34 UTC Feb 6 2023"),
    "7960": ("F301", "CN=CAPF-35E08332,O=Cisco Systems Inc,C=US", "20:55:01 UTC Apr 6 2019"),
    "srstcaserver": ("01", "CN=srstcaserver", "19:45:16 UTC Apr 12 2007"),
}
"""
The seed's phone and CA trustpoints: serial (as in the block header), subject
and notAfter of their one C{certificate ca}.
"""


class IosChainFileTests(SynchronousTestCase):
    """
    Phone trustpoint certificate files holding IOS C{crypto pki certificate
    chain} blocks (L{loadTrustpointCertificateFile}, L{PhoneTrustpoint.fromFiles}).
    """

    def write(self, name: str, text: str | bytes) -> str:
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(text.encode("ascii") if isinstance(text, str) else text)
        return path

    def test_seedBlocks(self) -> None:
        """
        The seed's 7970, PEM, 7960 and srstcaserver blocks, each pasted into
        its own file, load as that trustpoint's CA certificate with the
        header's serial, the subject and the original DER.
        """
        for name, (serial, subject, _) in SEED_CHAIN_CERTIFICATES.items():
            path = self.write(f"{name}.txt", seedChainText(name))
            tp = PhoneTrustpoint.fromFiles(name, [path])
            self.assertEqual([(serialHex(c), c.subject.rfc4514_string()) for c in tp.certificates],
                             [(serial, subject)], name)
            self.assertEqual(tp.sources, (path,))
        tp = PhoneTrustpoint.fromFiles("7960", [self.write("7960", seedChainText("7960"))])
        self.assertEqual(tp.derCertificates(), [readFixture("59fe77ccd.0")])

    def test_detection(self) -> None:
        """
        A file is an IOS chain when its first line that is not blank or an
        IOS comment starts with C{crypto}; PEM and DER files are not.
        """
        self.assertTrue(isIosCertificateChain(b"\n!\n! pasted\n  crypto pki certificate chain 7970\n"))
        self.assertTrue(isIosCertificateChain(b"crypto pki trustpoint 7970\n"))
        self.assertFalse(isIosCertificateChain(readFixture("CiscoCA.pem")))
        self.assertFalse(isIosCertificateChain(readFixture("59fe77ccd.0")))
        self.assertFalse(isIosCertificateChain(b"\n \n"))

    def test_surroundedByRunningConfig(self) -> None:
        """
        The block pasted with the trustpoint definition and IOS comments
        around it loads.
        """
        text = ("!\ncrypto pki trustpoint 7960\n enrollment terminal\n revocation-check none\n!\n"
                + seedChainText("7960") + "!\nend\n")
        certificates = loadTrustpointCertificateFile(self.write("7960.cfg", text), "7960")
        self.assertEqual([serialHex(c) for c in certificates], ["F301"])

    def test_roundTrip(self) -> None:
        """
        A fresh CA certificate written as an IOS block loads back identical.
        """
        ca = makeCA("IOS-CHAIN-ROUND-TRIP", serial=0x7A11E)
        intermediate = makeCA("IOS-CHAIN-INTERMEDIATE", serial=0x80FF, issuer=ca)
        path = self.write("capf.txt", iosChainText("capf", ca.certificate, intermediate.certificate))
        tp = PhoneTrustpoint.fromFiles("capf", [path])
        self.assertEqual(list(tp.certificates), [ca.certificate, intermediate.certificate])
        self.assertEqual(tp.derCertificates(), [certificateDer(ca.certificate), certificateDer(intermediate.certificate)])

    def test_expiredWarning(self) -> None:
        """
        An expired CA certificate loads, with a warning naming its notAfter;
        a current one loads without.
        """
        current = makeCA("IOS-CHAIN-CURRENT")
        path = self.write("7970.txt", seedChainText("7970") + iosChainText("7970", current.certificate))
        with capturedLogs() as events:
            tp = PhoneTrustpoint.fromFiles("7970", [path], datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
        self.assertEqual(len(tp.certificates), 2)
        self.assertEqual([formatEvent(e) for e in events if e.get("log_namespace") == "srst.pki.trust"], [
            f"Trustpoint 7970: CA certificate 353FB24BD70F14A346C1F3A9AC725675 (CN=CAP-RTP-002,O=Cisco Systems)"
            f" in {path} expired at 20:27:37 UTC Oct 10 2023; kept, but a phone certificate verified against it"
            f" fails as expired"])

    def test_expiredWarningPem(self) -> None:
        """
        The shipped PEM and DER phone CA files (the seed's certificates, all
        expired by now) get the same warning as an IOS chain.
        """
        paths = [os.path.join(PHONE_CA_DIR, "CiscoCA.pem"), os.path.join(PHONE_CA_DIR, "59fe77ccd.0")]
        with capturedLogs() as events:
            PhoneTrustpoint.fromFiles("7970", paths, datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
        self.assertEqual([formatEvent(e) for e in events if e.get("log_namespace") == "srst.pki.trust"], [
            f"Trustpoint 7970: CA certificate 353FB24BD70F14A346C1F3A9AC725675 (CN=CAP-RTP-002,O=Cisco Systems)"
            f" in {paths[0]} expired at 20:27:37 UTC Oct 10 2023; kept, but a phone certificate verified against it"
            f" fails as expired",
            f"Trustpoint 7970: CA certificate F301 (CN=CAPF-35E08332,O=Cisco Systems Inc,C=US)"
            f" in {paths[1]} expired at 20:55:01 UTC Apr 6 2019; kept, but a phone certificate verified against it"
            f" fails as expired"])

    def assertFileError(self, trustpoint: str, text: str | bytes, reason: str) -> None:
        path = self.write("chain.txt", text)
        error = self.assertRaises(CertificateFileError, loadTrustpointCertificateFile, path, trustpoint)
        self.assertEqual(str(error), f"{path}: {reason}")

    def test_errors(self) -> None:
        """
        Every kind of bad chain file is refused with the line and the reason.
        """
        seed7970 = seedChainText("7970").splitlines()
        leaf, _ = issueCertificate(makeCA("IOS-CHAIN-ISSUER"), "SEP001122334455", serial=0x1234)
        table = [
            ("7970", "crypto pki certificate chain 7970\n certificate ca 01\n  3082ZZAD 30820116\n  quit\n",
             "line 3: expected hex certificate data or quit, got '3082ZZAD 30820116'"),
            ("7970", "\n".join(seed7970[:-4] + seed7970[-1:]) + "\n",
             "line 2: certificate 353FB24BD70F14A346C1F3A9AC725675 is truncated: its DER says 940 bytes,"
             " the block holds 864"),
            ("7970", "\n".join(seed7970[:-1]) + "\n",
             "line 2: certificate 353FB24BD70F14A346C1F3A9AC725675 is not terminated by quit"),
            ("7970", "\n".join(seed7970[:-1]) + "\n" + seedChainText("7970").split("\n", 1)[1],
             "line 2: certificate 353FB24BD70F14A346C1F3A9AC725675 is not terminated by quit"),
            ("7970", "!\n" + seedChainText("7960"), "line 2: the block is for trustpoint 7960, not 7970"),
            ("7970", seedChainText("srstca").replace("chain srstca", "chain 7970"),
             "line 2: certificate 02 is not a CA certificate (a phone trustpoint holds only certificate ca blocks)"),
            ("7970", iosChainText("7970", leaf),
             "line 2: certificate ca 1234 is not a CA certificate (basicConstraints CA:FALSE)"),
            ("7970", "crypto pki trustpoint 7970\n enrollment terminal\n",
             "no crypto pki certificate chain 7970 block with a certificate"),
            ("7970", "crypto pki certificate chain 7970\n",
             "no crypto pki certificate chain 7970 block with a certificate"),
            ("7970", b"crypto pki certificate chain 7970\n certificate ca 01\n  30\xe9\n",
             "line 3: not ASCII text (an IOS certificate chain is hex)"),
        ]
        for trustpoint, text, reason in table:
            with self.subTest(reason=reason):
                self.assertFileError(trustpoint, text, reason)


class DerTests(SynchronousTestCase):
    """
    The small DER reader behind rawSerial.
    """

    def test_garbage(self) -> None:
        """
        Truncated or malformed DER raises ValueError.
        """
        for data in (b"", b"\x30", b"\x30\x85\x01\x02\x03\x04\x05", b"\x30\x05\x30\x03",
                     b"\x02\x01\x01", b"\x30\x05\x30\x03\x04\x01\x00"):
            self.assertRaises(ValueError, rawSerial, data)

    def test_serial(self) -> None:
        """
        rawSerial returns the encoded octets, with or without a version field.
        """
        self.assertEqual(rawSerial(readFixture("59fe77ccd.0")), b"\xf3\x01")
        self.assertEqual(rawSerial(b"\x30\x05\x30\x03\x02\x01\x07"), b"\x07")


class FileTests(SynchronousTestCase):
    """
    Loading certificate and key files, and their errors.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.directory, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertFileError(self, path: str, reason: str) -> None:
        error = self.assertRaises(CertificateFileError, loadCertificateFile, path)
        self.assertEqual(error.path, path)
        self.assertIn(path, str(error))
        self.assertIn(reason, str(error))

    def test_missing(self) -> None:
        """
        A missing file is named with "no such file".
        """
        self.assertFileError(os.path.join(self.directory, "CiscoCA.pem"), "no such file")

    def test_directory(self) -> None:
        """
        A directory is not a certificate file.
        """
        self.assertFileError(self.directory, "directory")

    def test_unreadable(self) -> None:
        """
        An unreadable file says permission denied.  Root reads every file
        whatever its mode, so the permission error is injected at the read.
        """
        from srst.pki import _x509

        path = self.write("a69d2e04.0", readFixture("a69d2e04.0"))
        os.chmod(path, 0)

        def denied(name: str) -> bytes:
            raise PermissionError(13, "Permission denied", name)

        if os.geteuid() == 0:
            self.patch(_x509, "readBytes", denied)
        self.assertFileError(path, "permission denied")

    def test_empty(self) -> None:
        """
        An empty file is named as empty.
        """
        self.assertFileError(self.write("empty.0", b""), "empty file")

    def test_neitherPemNorDer(self) -> None:
        """
        Text that is not PEM is "neither PEM nor DER".
        """
        self.assertFileError(self.write("notes.txt", b"hello world\n"), "neither PEM nor DER")

    def test_derNotACertificate(self) -> None:
        """
        DER that is not a certificate is "not a certificate".
        """
        self.assertFileError(self.write("junk.0", b"\x30\x03\x02\x01\x05"), "not a certificate")

    def test_pemKeyIsNotACertificate(self) -> None:
        """
        A PEM private key given as a certificate is "not a certificate",
        naming the block found.
        """
        path = writeKey(self.directory, "key.pem", sharedKey("file"))
        self.assertFileError(path, "PRIVATE KEY")

    def test_badBase64(self) -> None:
        """
        A CERTIFICATE block with broken base64 is named.
        """
        path = self.write("bad.pem", b"-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n")
        self.assertFileError(path, "base64")

    def test_severalPem(self) -> None:
        """
        A PEM file may hold several certificates; DER holds one.
        """
        a, b = makeCA("a"), makeCA("b")
        path = writePem(self.directory, "bundle.pem", a.certificate, b.certificate)
        self.assertEqual(loadCertificateFile(path), [a.certificate, b.certificate])
        der = self.write("a.0", a.certificate.public_bytes(serialization.Encoding.DER))
        self.assertEqual(loadCertificateFile(der), [a.certificate])
        with open(path, "rb") as f:
            bundle = f.read()
        self.assertEqual(parseCertificates(b"junk before\n" + bundle, "x"),
                         [a.certificate, b.certificate])

    def test_privateKeys(self) -> None:
        """
        Private keys load from PEM and DER; encrypted keys and certificates
        are refused with the reason.
        """
        key = sharedKey("file")
        pem = writeKey(self.directory, "key.pem", key)
        self.assertEqual(loadPrivateKeyFile(pem).private_numbers(), key.private_numbers())
        der = self.write("key.der", key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        self.assertEqual(loadPrivateKeyFile(der).private_numbers(), key.private_numbers())
        encrypted = self.write("enc.pem", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret")))
        self.assertIn("encrypted", str(self.assertRaises(CertificateFileError, loadPrivateKeyFile, encrypted)))
        self.assertIn("not a private key", str(self.assertRaises(
            CertificateFileError, loadPrivateKeyFile, fixture("CiscoCA.pem"))))
        self.assertIn("no such file", str(self.assertRaises(
            CertificateFileError, loadPrivateKeyFile, os.path.join(self.directory, "none"))))
        self.assertIn("empty file", str(self.assertRaises(
            CertificateFileError, loadPrivateKeyFile, self.write("empty.key", b" \n"))))


class PhoneTrustpointTests(SynchronousTestCase):
    """
    Phone CA trustpoints.
    """

    def test_fromFiles(self) -> None:
        """
        A trustpoint loads every certificate of every file, remembering the
        file of each.
        """
        tp = PhoneTrustpoint.fromFiles("7970", [fixture("CiscoCA.pem"), fixture("59fe77ccd.0")])
        self.assertEqual(tp.name, "7970")
        self.assertEqual(len(tp.certificates), 2)
        self.assertEqual(tp.sources, (fixture("CiscoCA.pem"), fixture("59fe77ccd.0")))
        self.assertEqual(tp.derCertificates()[1], readFixture("59fe77ccd.0"))

    def test_errorNamesFile(self) -> None:
        """
        The first unusable file is named in the typed error.
        """
        missing = os.path.join(self.mktemp(), "a69d2e04.0")
        error = self.assertRaises(CertificateFileError, PhoneTrustpoint.fromFiles, "PEM",
                                  [fixture("CiscoCA.pem"), missing])
        self.assertEqual(error.path, missing)

    def test_noFiles(self) -> None:
        """
        A trustpoint needs at least one certificate.
        """
        self.assertRaises(TrustpointError, PhoneTrustpoint.fromFiles, "PEM", [])


class IdentityTrustpointTests(SynchronousTestCase):
    """
    The router's own identity.
    """

    def setUp(self) -> None:
        self.stateDir = self.mktemp()

    def server(self, grant: str = "auto", directory: str | None = None) -> CertificateServer:
        cs = CertificateServer("srstcaserver", directory or os.path.join(self.stateDir, "pki", "server", "cs"),
                               "CN=srstcaserver", now=FakeNow(), keyType="ecdsa", grant=grant)
        cs.start()
        return cs

    def trustpoint(self, **kwargs: Any) -> IdentityTrustpoint:
        kwargs.setdefault("keyType", "ecdsa")
        return IdentityTrustpoint("srstca", trustpointDirectory(self.stateDir, "srstca"), **kwargs)

    def test_enrollAuto(self) -> None:
        """
        Enrolling with a grant-auto server stores key (0600), certificate
        and chain; the certificate carries the DNS and IP SANs.
        """
        cs = self.server()
        tp = self.trustpoint(subjectName="CN=branch-router")
        self.assertIsNone(tp.enrollWithServer(cs, ["branch-router"], ["127.0.0.1"]))
        self.assertTrue(tp.enrolled)
        assert tp.certificate is not None
        self.assertEqual(tp.certificate.subject.rfc4514_string(), "CN=branch-router")
        san = tp.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["branch-router"])
        self.assertEqual([str(a) for a in san.get_values_for_type(x509.IPAddress)], ["127.0.0.1"])
        self.assertEqual(tp.chain, [cs.caCertificate])
        for name in ("key.pem", "cert.pem", "chain.pem"):
            self.assertTrue(os.path.exists(os.path.join(tp.directory, name)))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(tp.directory, "key.pem")).st_mode), 0o600)
        self.assertEqual(tp.directory, os.path.join(self.stateDir, "pki", "trustpoints", "srstca"))

    def test_restartReuses(self) -> None:
        """
        After a restart the stored identity is reused: same fingerprint, no
        new certificate issued.
        """
        cs = self.server()
        first = self.trustpoint()
        self.successResultOf(first.enroll(cs, ["branch-router"], ["127.0.0.1"], runNow))
        last = cs.lastSerial
        second = self.trustpoint()
        self.assertIs(self.successResultOf(second.enroll(cs, ["branch-router"], ["127.0.0.1"], runNow)), second)
        self.assertEqual(second.fingerprint(), first.fingerprint())
        assert first.certificate is not None
        self.assertEqual(second.fingerprint("sha256"), certificateFingerprint(first.certificate, "sha256"))
        self.assertEqual(cs.lastSerial, last)

    def test_defaultSubject(self) -> None:
        """
        Without a subject-name the request is for CN=<hostname>.
        """
        tp = self.trustpoint()
        self.assertEqual(tp.createRequest(["branch-router"]).subject.rfc4514_string(), "CN=branch-router")
        self.assertEqual(tp.createRequest().subject.rfc4514_string(), "CN=srstca")

    def test_rsaKeypair(self) -> None:
        """
        rsakeypair type rsa with bits generates that key.
        """
        tp = self.trustpoint(keyType="rsa", keyBits=1024)
        self.assertEqual(tp.ensureKey().key_size, 1024)  # type: ignore[union-attr]

    def test_manualGrantWaits(self) -> None:
        """
        With grant manual, enroll() waits; granting the request completes
        the enrollment.
        """
        cs = self.server("manual")
        tp = self.trustpoint()
        d = tp.enroll(cs, ["branch-router"], ["127.0.0.1"], runNow)
        self.assertNoResult(d)
        self.assertEqual(tp.pendingRequestId, 1)
        self.assertFalse(tp.enrolled)
        cs.grant(1)
        self.assertIs(self.successResultOf(d), tp)
        self.assertTrue(tp.enrolled)
        self.assertIsNone(tp.pendingRequestId)

    def test_pendingSurvivesRestart(self) -> None:
        """
        A request queued before a restart is waited for again (no second
        request), and its grant completes the enrollment with the same key.
        """
        cs = self.server("manual")
        first = self.trustpoint()
        pending = first.enroll(cs, ["branch-router"], ["127.0.0.1"], runNow)
        pending.cancel()
        self.failureResultOf(pending)
        restartedServer = self.server("manual", cs.directory)
        second = self.trustpoint()
        d = second.enroll(restartedServer, ["branch-router"], ["127.0.0.1"], runNow)
        self.assertNoResult(d)
        self.assertEqual([r.id for r in restartedServer.pendingRequests()], [1])
        restartedServer.grant(1)
        self.successResultOf(d)
        assert second.certificate is not None and first.privateKey is not None
        self.assertEqual(second.certificate.public_key(), first.privateKey.public_key())

    def test_requestLostByServer(self) -> None:
        """
        If the server no longer knows the remembered request, a new one is
        submitted.
        """
        cs = self.server("manual")
        tp = self.trustpoint()
        tp.ensureKey()
        CrashingWriter()(os.path.join(tp.directory, "request.id"), b"42\n", 0o600)
        d = tp.enroll(cs, ["branch-router"], [], runNow)
        self.assertEqual(tp.pendingRequestId, 1)
        cs.grant(1)
        self.successResultOf(d)

    def test_rejected(self) -> None:
        """
        A rejected request fails enroll() with RequestRejectedError and
        forgets the request.
        """
        cs = self.server("manual")
        tp = self.trustpoint()
        d = tp.enroll(cs, ["branch-router"], [], runNow)
        cs.reject(1)
        self.failureResultOf(d, RequestRejectedError)
        self.assertIsNone(tp.pendingRequestId)

    def test_terminal(self) -> None:
        """
        enrollment terminal copies certificate, key and chain files into the
        state directory; a second install with the same files writes nothing.
        """
        ca = makeCA("terminal CA")
        cert, key = issueCertificate(ca, "branch-router")
        source = self.mktemp()
        os.makedirs(source)
        certFile = writePem(source, "router.pem", cert)
        keyFile = writeKey(source, "router.key", key)
        chainFile = writePem(source, "ca.pem", ca.certificate)
        writer = CrashingWriter()
        tp = self.trustpoint(writer=writer)
        tp.installFromFiles(certFile, keyFile, [chainFile])
        self.assertEqual((tp.certificate, tp.chain), (cert, [ca.certificate]))
        self.assertEqual(writer.count, 3)
        again = self.trustpoint(writer=writer)
        again.installFromFiles(certFile, keyFile, [chainFile])
        self.assertEqual(writer.count, 3)
        loaded = self.trustpoint()
        self.assertTrue(loaded.load())
        self.assertEqual((loaded.certificate, loaded.chain), (cert, [ca.certificate]))

    def test_terminalIosChain(self) -> None:
        """
        enrollment terminal takes an IOS certificate chain file as IOS prints
        the trustpoint: the certificate block is the router's, the
        certificate ca blocks its chain.
        """
        ca = makeCA("terminal CA", serial=1)
        cert, key = issueCertificate(ca, "branch-router", serial=2)
        source = self.mktemp()
        os.makedirs(source)
        certFile = os.path.join(source, "srstca.txt")
        with open(certFile, "w") as f:
            f.write(iosChainText("srstca", cert, ca=False) + iosChainText("srstca", ca.certificate).split("\n", 1)[1])
        tp = self.trustpoint()
        tp.installFromFiles(certFile, writeKey(source, "router.key", key))
        self.assertEqual((tp.certificate, tp.chain), (cert, [ca.certificate]))
        loaded = self.trustpoint()
        self.assertTrue(loaded.load())
        self.assertEqual((loaded.certificate, loaded.chain), (cert, [ca.certificate]))

    def test_seedSrstcaChain(self) -> None:
        """
        The seed's srstca block reads as the router's certificate 02 and
        the CA certificate 01 (its key is not in the seed).
        """
        source = self.mktemp()
        os.makedirs(source)
        path = os.path.join(source, "srstca.txt")
        with open(path, "w") as f:
            f.write(seedChainText("srstca"))
        certificates = loadIdentityCertificateFile(path, "srstca")
        self.assertEqual([certificateDer(c) for c in certificates],
                         [readFixture("srstca-02.cer"), readFixture("srstcaserver-ca-01.cer")])

    def test_terminalIosChainErrors(self) -> None:
        """
        An IOS chain file for an identity needs exactly one certificate
        block that is not ca, and blocks for this trustpoint only.
        """
        source = self.mktemp()
        os.makedirs(source)
        path = os.path.join(source, "srstca.txt")
        srstca = seedChainText("srstca")
        for text, reason in [
            (seedChainText("srstcaserver").replace("chain srstcaserver", "chain srstca"),
             "expected one certificate <serial> block (the router's own) and certificate ca blocks,"
             " found 0 certificate blocks"),
            (srstca + srstca.split("\n", 1)[1],
             "expected one certificate <serial> block (the router's own) and certificate ca blocks,"
             " found 2 certificate blocks, line 2, line 37"),
            (seedChainText("srstcaserver"), "line 1: the block is for trustpoint srstcaserver, not srstca"),
        ]:
            with open(path, "w") as f:
                f.write(text)
            error = self.assertRaises(CertificateFileError, loadIdentityCertificateFile, path, "srstca")
            self.assertEqual(str(error), f"{path}: {reason}")

    def test_terminalErrors(self) -> None:
        """
        A missing file or a key that does not match the certificate is
        refused with a typed error.
        """
        ca = makeCA("terminal CA")
        cert, _ = issueCertificate(ca, "branch-router")
        source = self.mktemp()
        os.makedirs(source)
        certFile = writePem(source, "router.pem", cert)
        wrongKey = writeKey(source, "other.key", sharedKey("other"))
        tp = self.trustpoint()
        self.assertIn("does not match", str(self.assertRaises(TrustpointError, tp.installFromFiles,
                                                              certFile, wrongKey)))
        error = self.assertRaises(CertificateFileError, tp.installFromFiles, certFile,
                                  os.path.join(source, "missing.key"))
        self.assertIn("missing.key", str(error))

    def test_storedMismatch(self) -> None:
        """
        A stored key that does not match the stored certificate is refused.
        """
        cs = self.server()
        tp = self.trustpoint()
        tp.enrollWithServer(cs, ["branch-router"], [])
        writeKey(tp.directory, "key.pem", sharedKey("intruder"))
        self.assertRaises(TrustpointError, self.trustpoint().load)

    def test_installWrongCertificate(self) -> None:
        """
        install() refuses a certificate for another key.
        """
        ca = makeCA("other CA")
        cert, _ = issueCertificate(ca, "someone-else")
        self.assertRaises(TrustpointError, self.trustpoint().install, cert, [ca.certificate])

    def test_notEnrolled(self) -> None:
        """
        A fresh trustpoint is not enrolled, has no fingerprint and is not
        valid at any time.
        """
        tp = self.trustpoint()
        self.assertFalse(tp.load())
        self.assertRaises(TrustpointError, tp.fingerprint)
        self.assertFalse(tp.isValidAt(FakeNow()()))

    def test_validity(self) -> None:
        """
        isValidAt follows the certificate's validity.
        """
        now = FakeNow()
        tp = self.trustpoint()
        tp.enrollWithServer(self.server(), ["branch-router"], [])
        self.assertTrue(tp.isValidAt(now()))
        now.advance(days=366)
        self.assertFalse(tp.isValidAt(now()))
