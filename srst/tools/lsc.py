# -*- test-case-name: tests.test_lsc -*-
"""
Issue phone certificates the way CallManager's CAPF does.

A Cisco phone that runs in authenticated or encrypted mode holds a Locally
Significant Certificate (LSC) that CAPF issued for it: the subject is
C{CN=SEP<MAC>}, the extended key usage allows TLS client authentication and
the key usage allows signatures (plus key encipherment for RSA keys, the
only kind CAPF makes).  C{srst-phone} needs such certificates to register
over TLS, and tests need valid, expired and foreign ones; L{issueLSC} makes
them from any CA certificate and key.

Wall-clock time comes from the C{now} callable the caller passes in.  Key
generation is CPU work: callers on a reactor thread run L{issueLSC} through
a thread (C{srst-phone} does).

Example::

    issued = issueLSC(caCert, caKey, "00:11:22:33:44:55", now=utcNow)
    writeLSC(issued, "SEP001122334455.crt", "SEP001122334455.key")
"""

from __future__ import annotations

import datetime
import re
from typing import Callable, Optional

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from srst._files import atomicWrite
from srst.pki.ca import PrivateKey, generatePrivateKey
from srst.pki.trust import loadCertificateFile, loadPrivateKeyFile

DEFAULT_VALIDITY = datetime.timedelta(days=5 * 365)
"""How long an LSC is valid by default (CAPF's default is five years)."""

BACKDATE = datetime.timedelta(hours=1)
"""How far before "now" a new LSC's validity starts, for clock skew."""

_MAC_SEPARATORS = re.compile(r"[.:\-]")
_MAC = re.compile(r"^[0-9A-F]{12}$")


class InvalidMacError(ValueError):
    """
    A string that is not a 48-bit MAC address.

    @ivar text: what was given.
    """

    def __init__(self, text: str) -> None:
        ValueError.__init__(self, text)
        self.text = text

    def __str__(self) -> str:
        return "not a MAC address (12 hex digits, separators optional): %r" % (
            self.text,)


class LSCIssueError(ValueError):
    """
    The CA cannot issue the requested certificate.

    @ivar reason: why, one line.
    """

    def __init__(self, reason: str) -> None:
        ValueError.__init__(self, reason)
        self.reason = reason

    def __str__(self) -> str:
        return "cannot issue LSC: %s" % (self.reason,)


def normalizeMac(mac: str) -> str:
    """
    Bring a MAC address into the form Cisco device names use.

    @param mac: 12 hex digits, optionally separated by C{:}, C{-} or C{.}
        (C{"00:11:22:33:44:55"}, C{"0011.2233.4455"}), any case.
    @return: 12 upper-case hex digits.
    @raise InvalidMacError: for anything else.
    """
    compact = _MAC_SEPARATORS.sub("", mac.strip()).upper()
    if not _MAC.match(compact):
        raise InvalidMacError(mac)
    return compact


def deviceNameForMac(mac: str) -> str:
    """
    @param mac: a MAC address (see L{normalizeMac}).
    @return: the phone's device name, C{"SEP"} + 12 upper-case hex digits.
    @raise InvalidMacError: for a malformed MAC.
    """
    return "SEP" + normalizeMac(mac)


def macRange(first: str, count: int) -> list[str]:
    """
    Count MAC addresses up from C{first}.

    @param first: the first MAC address.
    @param count: how many (0 or more).
    @return: C{count} normalized MAC addresses.
    @raise InvalidMacError: for a malformed MAC.
    @raise ValueError: when the range passes FF:FF:FF:FF:FF:FF or the count
        is negative.
    """
    if count < 0:
        raise ValueError("a MAC range cannot have %d addresses" % (count,))
    start = int(normalizeMac(first), 16)
    if start + count > 1 << 48:
        raise ValueError("%d MAC addresses from %s pass FFFFFFFFFFFF" % (
            count, normalizeMac(first)))
    return ["%012X" % (start + i,) for i in range(count)]


@frozen
class IssuedLSC:
    """
    A phone certificate and its key.

    @ivar mac: the phone's MAC (12 upper-case hex digits).
    @ivar certificate: the LSC.
    @ivar privateKey: its private key.
    @ivar caCertificate: the issuing CA's certificate.
    """

    mac: str
    certificate: x509.Certificate
    privateKey: PrivateKey
    caCertificate: x509.Certificate

    @property
    def deviceName(self) -> str:
        """The device name the certificate is for (C{SEP<MAC>})."""
        return "SEP" + self.mac

    def certificatePEM(self) -> bytes:
        """
        @return: the certificate, PEM.
        """
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def privateKeyPEM(self) -> bytes:
        """
        @return: the unencrypted private key, PKCS#8 PEM.
        """
        return self.privateKey.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())


def _utc(when: datetime.datetime) -> datetime.datetime:
    if when.tzinfo is None:
        return when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc)


def _keyUsage(key: PrivateKey) -> x509.KeyUsage:
    # RFC 5480 forbids keyEncipherment for EC keys; CAPF's RSA LSCs carry it.
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False, key_agreement=False, key_cert_sign=False,
        crl_sign=False, encipher_only=False, decipher_only=False)


def _checkCA(caCertificate: x509.Certificate, caKey: PrivateKey) -> None:
    if not isinstance(caKey, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise LSCIssueError("the CA key is neither RSA nor ECDSA")
    ours = caKey.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = caCertificate.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    if ours != theirs:
        raise LSCIssueError("the CA key does not belong to the CA certificate"
                            " %s" % (caCertificate.subject.rfc4514_string(),))


def issueLSC(
    caCertificate: x509.Certificate,
    caKey: PrivateKey,
    mac: str,
    *,
    now: Callable[[], datetime.datetime],
    notBefore: Optional[datetime.datetime] = None,
    notAfter: Optional[datetime.datetime] = None,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
    keyType: str = "ecdsa",
    keyBits: Optional[int] = None,
    privateKey: Optional[PrivateKey] = None,
    organizationalUnit: Optional[str] = None,
    organization: Optional[str] = None,
    serverAuth: bool = False,
    serialNumber: Optional[int] = None,
) -> IssuedLSC:
    """
    Issue an LSC for one phone.

    The certificate has subject C{CN=SEP<MAC>} (then C{OU} and C{O} when
    given), the CA's subject as issuer, a random serial, C{CA:FALSE},
    key usage digitalSignature (and keyEncipherment for RSA keys), extended
    key usage clientAuth (and serverAuth if asked), subject and authority key
    identifiers, and a SHA-256 signature.

    @param caCertificate: the issuing CA (the CAPF certificate, or a test
        CA).
    @param caKey: its private key.
    @param mac: the phone's MAC address.
    @param now: returns the current wall-clock time.
    @param notBefore: start of validity; default C{now() - BACKDATE}.
    @param notAfter: end of validity; default C{notBefore + validity}.  Pass
        a time in the past (and an earlier C{notBefore}) for an expired LSC.
    @param validity: the lifetime when C{notAfter} is not given.
    @param keyType: C{"ecdsa"} (P-256, fast) or C{"rsa"} (what CAPF makes).
    @param keyBits: the RSA key size (default 2048).
    @param privateKey: use this key instead of generating one (load
        generators share keys to save time).
    @param organizationalUnit: optional C{OU} of the subject.
    @param organization: optional C{O} of the subject.
    @param serverAuth: also allow TLS server authentication (CAPF's newer
        LSCs do).
    @param serialNumber: a fixed serial instead of a random one.
    @return: the certificate and its key.
    @raise InvalidMacError: for a malformed MAC.
    @raise LSCIssueError: when the key does not match the CA certificate or
        the validity window is empty.
    @raise srst.pki.ca.KeySpecError: for an unknown key type or size.
    """
    mac = normalizeMac(mac)
    _checkCA(caCertificate, caKey)
    start = _utc(notBefore) if notBefore is not None else _utc(now()) - BACKDATE
    end = _utc(notAfter) if notAfter is not None else start + validity
    if end <= start:
        raise LSCIssueError("the validity window ends (%s) before it starts "
                            "(%s)" % (end.isoformat(), start.isoformat()))
    key = privateKey if privateKey is not None else generatePrivateKey(
        keyType, keyBits)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, "SEP" + mac)]
    if organizationalUnit:
        attributes.append(x509.NameAttribute(
            NameOID.ORGANIZATIONAL_UNIT_NAME, organizationalUnit))
    if organization:
        attributes.append(x509.NameAttribute(
            NameOID.ORGANIZATION_NAME, organization))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if serverAuth:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(caCertificate.subject)
        .public_key(key.public_key())
        .serial_number(serialNumber if serialNumber is not None
                       else x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                       critical=True)
        .add_extension(_keyUsage(key), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                caKey.public_key()),
            critical=False)
    )
    certificate = builder.sign(caKey, hashes.SHA256())
    return IssuedLSC(mac, certificate, key, caCertificate)


def loadCA(certificatePath: str,
           keyPath: str) -> tuple[x509.Certificate, PrivateKey]:
    """
    Load an issuing CA from files.

    @param certificatePath: the CA certificate (PEM or DER; the first
        certificate of the file is used).
    @param keyPath: its unencrypted private key (PEM or DER).
    @return: C{(certificate, key)}.
    @raise srst.pki.trust.CertificateFileError: naming the file and reason.
    @raise LSCIssueError: when the key does not belong to the certificate.
    """
    certificate = loadCertificateFile(certificatePath)[0]
    key = loadPrivateKeyFile(keyPath)
    _checkCA(certificate, key)
    return certificate, key


def writeLSC(issued: IssuedLSC, certificatePath: str, keyPath: str,
             *, includeChain: bool = False) -> None:
    """
    Write an LSC and its key atomically (the key with mode 0600).

    @param issued: what L{issueLSC} returned.
    @param certificatePath: where the certificate PEM goes.
    @param keyPath: where the key PEM goes.
    @param includeChain: append the CA certificate to the certificate file.
    @raise OSError: when a file cannot be written.
    """
    data = issued.certificatePEM()
    if includeChain:
        data += issued.caCertificate.public_bytes(serialization.Encoding.PEM)
    atomicWrite(keyPath, issued.privateKeyPEM(), 0o600)
    atomicWrite(certificatePath, data, 0o644)


__all__ = [
    "BACKDATE", "DEFAULT_VALIDITY", "InvalidMacError", "IssuedLSC",
    "LSCIssueError", "deviceNameForMac", "issueLSC", "loadCA", "macRange",
    "normalizeMac", "writeLSC",
]
