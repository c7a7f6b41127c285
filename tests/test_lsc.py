"""
Tests for L{srst.tools.lsc}: phone LSCs issued the way CAPF does.
"""

import datetime
import os
import stat

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.trial.unittest import SynchronousTestCase

from srst.pki.ca import KeySpecError
from srst.pki.trust import CertificateFileError, loadCertificateFile, loadPrivateKeyFile
from srst.tools.lsc import (
    BACKDATE,
    DEFAULT_VALIDITY,
    InvalidMacError,
    LSCIssueError,
    deviceNameForMac,
    issueLSC,
    loadCA,
    macRange,
    normalizeMac,
    writeLSC,
)
from tests.pkihelpers import makeCA, sharedKey, writeKey, writePem

UTC = datetime.timezone.utc
NOW = datetime.datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)


def fixedNow():
    return NOW


def verifySignature(certificate, issuerKey):
    """
    Check C{certificate}'s signature with the issuer's public key; raises
    C{InvalidSignature} when it does not verify.
    """
    public = issuerKey.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(certificate.signature, certificate.tbs_certificate_bytes,
                      padding.PKCS1v15(), certificate.signature_hash_algorithm)
    else:
        public.verify(certificate.signature, certificate.tbs_certificate_bytes,
                      ec.ECDSA(certificate.signature_hash_algorithm))


class MacTests(SynchronousTestCase):
    """
    MAC addresses and device names.
    """

    def test_normalize(self):
        """Separators are dropped and hex digits upper-cased."""
        self.assertEqual(normalizeMac("00:1a:2B:3c:4d:5e"), "001A2B3C4D5E")
        self.assertEqual(normalizeMac("001a.2b3c.4d5e"), "001A2B3C4D5E")
        self.assertEqual(normalizeMac("00-1a-2b-3c-4d-5e"), "001A2B3C4D5E")

    def test_invalid(self):
        """Anything but 12 hex digits raises InvalidMacError naming the input."""
        for text in ("", "00112233445", "0011223344556", "00112233445G"):
            e = self.assertRaises(InvalidMacError, normalizeMac, text)
            self.assertIn(repr(text), str(e))

    def test_deviceName(self):
        """A phone's device name is SEP followed by its MAC."""
        self.assertEqual(deviceNameForMac("00:11:22:33:44:55"),
                         "SEP001122334455")

    def test_macRange(self):
        """MACs count up from the first one, carrying across bytes."""
        self.assertEqual(macRange("0000000000FE", 3),
                         ["0000000000FE", "0000000000FF", "000000000100"])
        self.assertEqual(macRange("000000000001", 0), [])

    def test_macRangeOverflow(self):
        """A range that would pass FFFFFFFFFFFF is refused."""
        self.assertRaises(ValueError, macRange, "FFFFFFFFFFFF", 2)
        self.assertEqual(macRange("FFFFFFFFFFFF", 1), ["FFFFFFFFFFFF"])

    def test_macRangeNegative(self):
        """A negative count is refused."""
        self.assertRaises(ValueError, macRange, "000000000001", -1)


class IssueTests(SynchronousTestCase):
    """
    L{issueLSC} makes certificates that look like CAPF's LSCs.
    """

    def setUp(self):
        self.ca = makeCA("CAPF-test")

    def issue(self, mac="00:11:22:33:44:55", **kwargs):
        kwargs.setdefault("privateKey", sharedKey("lsc-test"))
        return issueLSC(self.ca.certificate, self.ca.key, mac, now=fixedNow,
                        **kwargs)

    def test_subject(self):
        """The subject is CN=SEP<MAC> and the issuer is the CA's subject."""
        issued = self.issue()
        self.assertEqual(issued.certificate.subject.get_attributes_for_oid(
            NameOID.COMMON_NAME)[0].value, "SEP001122334455")
        self.assertEqual(issued.deviceName, "SEP001122334455")
        self.assertEqual(issued.mac, "001122334455")
        self.assertEqual(issued.certificate.issuer,
                         self.ca.certificate.subject)

    def test_organization(self):
        """OU and O follow the CN when given."""
        issued = self.issue(organizationalUnit="Phones", organization="Branch")
        self.assertEqual(issued.certificate.subject.rfc4514_string(),
                         "O=Branch,OU=Phones,CN=SEP001122334455")

    def test_clientAuth(self):
        """The extended key usage is clientAuth only, unless serverAuth is asked."""
        eku = self.issue().certificate.extensions.get_extension_for_class(
            x509.ExtendedKeyUsage).value
        self.assertEqual(list(eku), [ExtendedKeyUsageOID.CLIENT_AUTH])
        eku = self.issue(serverAuth=True).certificate.extensions \
            .get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(set(eku), {ExtendedKeyUsageOID.CLIENT_AUTH,
                                    ExtendedKeyUsageOID.SERVER_AUTH})

    def test_keyUsageEC(self):
        """An ECDSA LSC may sign but not encipher keys (RFC 5480)."""
        usage = self.issue().certificate.extensions.get_extension_for_class(
            x509.KeyUsage)
        self.assertTrue(usage.critical)
        self.assertTrue(usage.value.digital_signature)
        self.assertFalse(usage.value.key_encipherment)
        self.assertFalse(usage.value.key_cert_sign)

    def test_keyUsageRSA(self):
        """An RSA LSC, like CAPF's, allows digitalSignature and keyEncipherment."""
        issued = self.issue(privateKey=sharedKey("lsc-rsa", "rsa", 1024))
        usage = issued.certificate.extensions.get_extension_for_class(
            x509.KeyUsage).value
        self.assertTrue(usage.digital_signature)
        self.assertTrue(usage.key_encipherment)

    def test_notCA(self):
        """The LSC is an end-entity certificate with key identifiers."""
        certificate = self.issue().certificate
        constraints = certificate.extensions.get_extension_for_class(
            x509.BasicConstraints)
        self.assertTrue(constraints.critical)
        self.assertFalse(constraints.value.ca)
        aki = certificate.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier).value
        self.assertEqual(aki.key_identifier,
                         x509.SubjectKeyIdentifier.from_public_key(
                             self.ca.key.public_key()).digest)
        certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier)

    def test_signatureVerifies(self):
        """The CA's key verifies the LSC's SHA-256 signature, and another key does not."""
        certificate = self.issue().certificate
        self.assertIsInstance(certificate.signature_hash_algorithm,
                              hashes.SHA256)
        verifySignature(certificate, self.ca.key)
        certificate.verify_directly_issued_by(self.ca.certificate)
        other = makeCA("other CA")
        self.assertRaises(InvalidSignature, verifySignature, certificate,
                          other.key)

    def test_rsaCA(self):
        """An RSA CA signs LSCs too."""
        ca = makeCA("CAPF-rsa", key=sharedKey("capf-rsa", "rsa", 2048))
        issued = issueLSC(ca.certificate, ca.key, "001122334455",
                          now=fixedNow, privateKey=sharedKey("lsc-test"))
        verifySignature(issued.certificate, ca.key)

    def test_defaultValidity(self):
        """By default the LSC starts BACKDATE before now and lasts DEFAULT_VALIDITY."""
        certificate = self.issue().certificate
        self.assertEqual(certificate.not_valid_before_utc, NOW - BACKDATE)
        self.assertEqual(certificate.not_valid_after_utc,
                         NOW - BACKDATE + DEFAULT_VALIDITY)

    def test_expiredWindow(self):
        """An explicit window in the past makes an expired LSC."""
        start = NOW - datetime.timedelta(days=30)
        end = NOW - datetime.timedelta(days=1)
        certificate = self.issue(notBefore=start, notAfter=end).certificate
        self.assertEqual(certificate.not_valid_before_utc, start)
        self.assertEqual(certificate.not_valid_after_utc, end)

    def test_naiveTimesAreUTC(self):
        """A window given without a time zone is taken as UTC."""
        start = datetime.datetime(2030, 1, 1)
        certificate = self.issue(notBefore=start,
                                 validity=datetime.timedelta(days=2)).certificate
        self.assertEqual(certificate.not_valid_before_utc,
                         start.replace(tzinfo=UTC))
        self.assertEqual(certificate.not_valid_after_utc,
                         datetime.datetime(2030, 1, 3, tzinfo=UTC))

    def test_emptyWindow(self):
        """A window that ends before it starts is refused."""
        e = self.assertRaises(LSCIssueError, self.issue, notBefore=NOW,
                              notAfter=NOW - datetime.timedelta(seconds=1))
        self.assertIn("ends", str(e))

    def test_wrongCAKey(self):
        """A CA key that does not belong to the CA certificate is refused."""
        other = makeCA("other CA")
        e = self.assertRaises(LSCIssueError, issueLSC, self.ca.certificate,
                              other.key, "001122334455", now=fixedNow)
        self.assertIn("does not belong", str(e))

    def test_generatesKey(self):
        """Without a key, a fresh P-256 key is generated per LSC."""
        first = issueLSC(self.ca.certificate, self.ca.key, "000000000001",
                         now=fixedNow)
        second = issueLSC(self.ca.certificate, self.ca.key, "000000000002",
                          now=fixedNow)
        self.assertIsInstance(first.privateKey, ec.EllipticCurvePrivateKey)
        self.assertNotEqual(first.certificate.public_key(),
                            second.certificate.public_key())
        self.assertEqual(first.certificate.public_key(),
                         first.privateKey.public_key())

    def test_badKeyType(self):
        """An unknown key type raises KeySpecError."""
        self.assertRaises(KeySpecError, issueLSC, self.ca.certificate,
                          self.ca.key, "000000000001", now=fixedNow,
                          keyType="dsa")

    def test_serials(self):
        """Serials are random unless one is given."""
        self.assertNotEqual(self.issue().certificate.serial_number,
                            self.issue().certificate.serial_number)
        self.assertEqual(self.issue(serialNumber=77).certificate.serial_number,
                         77)

    def test_badMac(self):
        """A malformed MAC raises InvalidMacError."""
        self.assertRaises(InvalidMacError, self.issue, mac="nope")


class FileTests(SynchronousTestCase):
    """
    Loading a CA from files and writing LSCs.
    """

    def setUp(self):
        self.ca = makeCA("CAPF-files")
        self.directory = self.mktemp()
        os.makedirs(self.directory)

    def test_writeAndLoad(self):
        """The written PEM files load back to the same certificate and key; the key is private."""
        issued = issueLSC(self.ca.certificate, self.ca.key, "001122334455",
                          now=fixedNow, privateKey=sharedKey("lsc-test"))
        certPath = os.path.join(self.directory, "lsc.pem")
        keyPath = os.path.join(self.directory, "lsc.key")
        writeLSC(issued, certPath, keyPath)
        self.assertEqual(loadCertificateFile(certPath), [issued.certificate])
        self.assertEqual(loadPrivateKeyFile(keyPath).private_numbers(),
                         issued.privateKey.private_numbers())
        self.assertEqual(stat.S_IMODE(os.stat(keyPath).st_mode), 0o600)
        self.assertEqual(os.listdir(self.directory).count("lsc.pem"), 1)
        self.assertEqual(len(os.listdir(self.directory)), 2)

    def test_writeChain(self):
        """With includeChain the CA certificate follows the LSC."""
        issued = issueLSC(self.ca.certificate, self.ca.key, "001122334455",
                          now=fixedNow, privateKey=sharedKey("lsc-test"))
        certPath = os.path.join(self.directory, "lsc.pem")
        writeLSC(issued, certPath, os.path.join(self.directory, "lsc.key"),
                 includeChain=True)
        self.assertEqual(loadCertificateFile(certPath),
                         [issued.certificate, self.ca.certificate])

    def test_loadCA(self):
        """loadCA returns the certificate and key from PEM files."""
        certPath = writePem(self.directory, "ca.pem", self.ca.certificate)
        keyPath = writeKey(self.directory, "ca.key", self.ca.key)
        certificate, key = loadCA(certPath, keyPath)
        self.assertEqual(certificate, self.ca.certificate)
        self.assertEqual(key.private_numbers(), self.ca.key.private_numbers())

    def test_loadCAMismatch(self):
        """A key file that belongs to another certificate is refused."""
        certPath = writePem(self.directory, "ca.pem", self.ca.certificate)
        keyPath = writeKey(self.directory, "other.key", makeCA("other CA").key)
        self.assertRaises(LSCIssueError, loadCA, certPath, keyPath)

    def test_loadCAMissing(self):
        """A missing file raises CertificateFileError naming it."""
        missing = os.path.join(self.directory, "missing.pem")
        e = self.assertRaises(CertificateFileError, loadCA, missing, missing)
        self.assertIn("missing.pem", str(e))
