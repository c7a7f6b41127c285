# -*- test-case-name: tests.test_pki_ca,tests.test_pki_trust -*-
"""
X.509 helpers shared by the certificate server and the trustpoints: names,
keys, fingerprints, subjectAltNames, DER serial numbers, and certificates
and keys read from PEM or DER bytes and files.

Old Cisco CA certificates are awkward: the seed's CAPF certificate has a
negative serial number, which C{cryptography} parses with a deprecation
warning (and may refuse in a later release).  L{certificateFromDer}
silences that one warning, and if parsing fails it keeps a display copy
with the serial re-encoded as positive while L{certificateDer} still returns
the original bytes, which is what the TLS trust store is built from.

The public names are re-exported by L{srst.pki.ca} and L{srst.pki.trust};
import them from there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import warnings
from typing import Any, Callable, Iterable, Sequence

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from twisted.logger import Logger

from srst._files import readBytes
from srst.pki.errors import CertificateFileError, InvalidRequestError, KeySpecError, NameParseError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# certificateFromDer's warning has always been logged as srst.pki.trust.
_log = Logger(namespace="srst.pki.trust")


# -- names, keys and fingerprints --------------------------------------------------

_NAME_ATTRIBUTES = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": NameOID.COUNTRY_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "STREET": NameOID.STREET_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "E": NameOID.EMAIL_ADDRESS,
    "EA": NameOID.EMAIL_ADDRESS,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
    "UNSTRUCTUREDNAME": NameOID.UNSTRUCTURED_NAME,
    "HOSTNAME": NameOID.UNSTRUCTURED_NAME,
}


def parseDistinguishedName(text: str) -> x509.Name:
    """
    Parse an IOS/RFC 4514-ish name such as C{"CN=srstcaserver"} or
    C{"CN=router, O=Branch, C=US"}.  Attributes are kept in the order
    written (the first one is the first RDN).  C{+} joins attributes of one
    RDN; C{\\,} escapes a comma in a value.

    @param text: the name.
    @return: the name.
    @raise NameParseError: on an empty name, a part without C{=}, an unknown
        attribute or an empty value.
    """
    parts = _splitUnescaped(text, ",")
    if not text.strip() or not parts:
        raise NameParseError(text, "empty name")
    rdns = []
    for part in parts:
        attributes = []
        for item in _splitUnescaped(part, "+"):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip().replace("\\,", ",").replace("\\+", "+")
            if not sep:
                raise NameParseError(text, f"{item.strip()!r} has no '='")
            oid = _NAME_ATTRIBUTES.get(key.upper())
            if oid is None:
                raise NameParseError(text, f"unknown attribute {key!r}")
            if not value:
                raise NameParseError(text, f"empty value for {key}")
            if oid == NameOID.COUNTRY_NAME and len(value) != 2:
                raise NameParseError(text, f"country {value!r} must be two letters")
            attributes.append(x509.NameAttribute(oid, value))
        rdns.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(rdns)


def _splitUnescaped(text: str, separator: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def generatePrivateKey(keyType: str, bits: int | None = None) -> PrivateKey:
    """
    Generate a key pair (CPU-heavy for RSA: call through C{runInThread}).

    @param keyType: C{"rsa"} or C{"ecdsa"} (P-256).
    @param bits: the RSA modulus size (default 2048); for ECDSA C{None} or 256.
    @return: the private key.
    @raise KeySpecError: for an unknown type or an unsupported size.
    """
    if keyType == "rsa":
        size = 2048 if bits is None else bits
        if size < 1024:
            raise KeySpecError(keyType, size, "the cryptography library generates RSA keys of 1024 bits or more")
        if size > 16384:
            raise KeySpecError(keyType, size, "RSA keys above 16384 bits are not supported")
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    if keyType == "ecdsa":
        if bits not in (None, 256):
            raise KeySpecError(keyType, bits, "only ECDSA P-256 is supported")
        return ec.generate_private_key(ec.SECP256R1())
    raise KeySpecError(keyType, bits, "the key type must be rsa or ecdsa")


def fingerprint(der: bytes, algorithm: str = "md5") -> str:
    """
    An IOS-style fingerprint: upper-case hex digest in groups of 8 digits
    (C{"AC9919F5 CAFE0560 92B3478A CFF5EC00"}).

    @param der: the DER bytes (certificate or request).
    @param algorithm: C{"md5"}, C{"sha1"} or C{"sha256"}.
    @return: the grouped digest.
    """
    digest = hashlib.new(algorithm, der, usedforsecurity=False).hexdigest().upper()
    return " ".join(digest[i:i + 8] for i in range(0, len(digest), 8))


def certificateFingerprint(certificate: x509.Certificate, algorithm: str = "md5") -> str:
    """
    L{fingerprint} of a certificate's DER encoding (IOS C{CA cert fingerprint}).

    @param certificate: the certificate.
    @param algorithm: the digest.
    @return: the grouped digest.
    """
    return fingerprint(certificate.public_bytes(serialization.Encoding.DER), algorithm)


def publicKeysEqual(a: Any, b: Any) -> bool:
    """
    @return: whether two public keys are the same key.
    """
    encoding, fmt = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(a.public_bytes(encoding, fmt) == b.public_bytes(encoding, fmt))


# -- certificate requests ------------------------------------------------------------


def checkRequestSignature(csr: x509.CertificateSigningRequest) -> None:
    """
    @param csr: a certificate signing request.
    @raise InvalidRequestError: if its self-signature does not verify.
    """
    if not csr.is_signature_valid:
        raise InvalidRequestError("the request's signature does not verify")


def subjectAltNames(dnsNames: Iterable[str], ipAddresses: Iterable[Any]) -> list[x509.GeneralName]:
    """
    @param dnsNames: DNS names.
    @param ipAddresses: IP addresses (text or L{ipaddress} objects).
    @return: the subjectAltName entries, DNS names first.
    @raise InvalidRequestError: for a value that is not a DNS name or an IP
        address.
    """
    sans: list[x509.GeneralName] = []
    for name in dnsNames:
        try:
            sans.append(x509.DNSName(name))
        except (ValueError, TypeError) as e:
            raise InvalidRequestError(f"bad DNS name {name!r}: {e}") from e
    for address in ipAddresses:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(str(address))))
        except ValueError as e:
            raise InvalidRequestError(f"bad IP address {address!r}") from e
    return sans


# -- DER -----------------------------------------------------------------------


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """
    @return: (tag, start of content, end of content) of the DER element at
        C{offset}.
    @raise ValueError: if it runs past the data.
    """
    if offset + 2 > len(data):
        raise ValueError("truncated DER")
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    if start + length > len(data):
        raise ValueError("truncated DER")
    return tag, start, start + length


def _encodeLength(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


@frozen
class _SerialLocation:
    outerEnd: int
    tbsTag: int
    tbsContent: int
    tbsEnd: int
    serialStart: int
    serialContent: int
    serialEnd: int


def _locateSerial(der: bytes) -> _SerialLocation:
    tag, outerContent, outerEnd = _tlv(der, 0)
    if tag != 0x30:
        raise ValueError("not a DER SEQUENCE")
    tbsTag, tbsContent, tbsEnd = _tlv(der, outerContent)
    offset = tbsContent
    tag, _, end = _tlv(der, offset)
    if tag == 0xA0:
        offset = end
    tag, serialContent, serialEnd = _tlv(der, offset)
    if tag != 0x02:
        raise ValueError("no serialNumber INTEGER where the certificate should have one")
    return _SerialLocation(outerEnd, tbsTag, tbsContent, tbsEnd, offset, serialContent, serialEnd)


def rawSerial(der: bytes) -> bytes:
    """
    @param der: a DER certificate.
    @return: the content octets of its serialNumber INTEGER (two's
        complement, exactly as encoded).
    @raise ValueError: if C{der} is not a certificate.
    """
    where = _locateSerial(der)
    return der[where.serialContent:where.serialEnd]


def _reencodePositiveSerial(der: bytes) -> bytes:
    """
    A copy of the certificate with its serial replaced by its absolute
    value (the signature no longer verifies: display use only).
    """
    where = _locateSerial(der)
    magnitude = abs(int.from_bytes(der[where.serialContent:where.serialEnd], "big", signed=True)) or 1
    content = magnitude.to_bytes(magnitude.bit_length() // 8 + 1, "big")
    tbsContent = (der[where.tbsContent:where.serialStart] + b"\x02" + _encodeLength(len(content)) + content
                  + der[where.serialEnd:where.tbsEnd])
    body = bytes([where.tbsTag]) + _encodeLength(len(tbsContent)) + tbsContent + der[where.tbsEnd:where.outerEnd]
    return b"\x30" + _encodeLength(len(body)) + body


# -- certificates from bytes and files -----------------------------------------------

_NEGATIVE_SERIAL_WARNING = r"Parsed a serial number which wasn't positive"

_loadDer: Callable[[bytes], x509.Certificate] = x509.load_der_x509_certificate

_originals: dict[bytes, bytes] = {}
"""
Display copies made by L{certificateFromDer} (re-encoded DER) -> original DER.
"""


def certificateFromDer(der: bytes) -> x509.Certificate:
    """
    Parse a DER certificate, tolerating what old Cisco CA certificates do.

    A negative or zero serial number (the seed's CAPF certificate encodes
    -0x0CFF, printed by IOS as C{F301}) makes C{cryptography} warn; that
    warning is silenced here.  If C{cryptography} refuses such a
    certificate outright, a display copy with the serial made positive is
    returned instead; L{certificateDer} maps it back to the original bytes,
    which the TLS trust store uses.

    @param der: the DER bytes.
    @return: the certificate.
    @raise ValueError: if C{der} is not a certificate.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_NEGATIVE_SERIAL_WARNING)
            return _loadDer(der)
    except ValueError:
        try:
            serial = int.from_bytes(rawSerial(der), "big", signed=True)
        except ValueError:
            serial = 1
        if serial > 0:
            raise
        copy = _reencodePositiveSerial(der)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_NEGATIVE_SERIAL_WARNING)
            cert = _loadDer(copy)
        _originals[copy] = der
        _log.warn("Certificate with non-positive serial {serial} kept as an exact DER copy for TLS;"
                  " shown with a re-encoded serial", serial=serial)
        return cert


def certificateDer(certificate: x509.Certificate) -> bytes:
    """
    @return: the certificate's original DER bytes (see L{certificateFromDer}).
    """
    der = certificate.public_bytes(serialization.Encoding.DER)
    return _originals.get(der, der)


def serialNumber(certificate: x509.Certificate) -> int:
    """
    The serial number, read from the DER (negative serials included, no
    warning).

    @return: the serial as a signed integer.
    """
    return int.from_bytes(rawSerial(certificateDer(certificate)), "big", signed=True)


def serialHex(certificate: x509.Certificate) -> str:
    """
    The serial the way IOS prints it: the encoded octets in upper-case hex
    (C{"02"}, C{"F301"}, C{"353FB24BD70F14A346C1F3A9AC725675"}).

    @return: the hex text.
    """
    return rawSerial(certificateDer(certificate)).hex().upper()


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_CERTIFICATE_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE")


def parseCertificates(data: bytes, source: str) -> list[x509.Certificate]:
    """
    Parse PEM (one or more C{CERTIFICATE} blocks) or DER (one certificate).

    @param data: the file content.
    @param source: the file name, for errors.
    @return: the certificates, in file order.
    @raise CertificateFileError: empty, neither PEM nor DER, or not a
        certificate.
    """
    if not data.strip():
        raise CertificateFileError(source, "empty file")
    if b"-----BEGIN " in data:
        certificates = []
        labels = []
        for index, (label, body) in enumerate(_PEM_BLOCK.findall(data), 1):
            labels.append(label.decode("ascii"))
            if label not in _CERTIFICATE_LABELS:
                continue
            try:
                der = base64.b64decode(b"".join(body.split()), validate=True)
            except binascii.Error as e:
                raise CertificateFileError(source, f"PEM block {index} is not valid base64 ({e})") from e
            try:
                certificates.append(certificateFromDer(der))
            except ValueError as e:
                raise CertificateFileError(source, f"PEM block {index} is not a certificate ({e})") from e
        if not certificates:
            found = ", ".join(labels) if labels else "no complete BEGIN/END block"
            raise CertificateFileError(source, f"not a certificate: PEM without a CERTIFICATE block (found {found})")
        return certificates
    if data[0] != 0x30:
        raise CertificateFileError(source, "neither PEM nor DER")
    try:
        return [certificateFromDer(data)]
    except ValueError as e:
        raise CertificateFileError(source, f"not a certificate (DER does not parse: {e})") from e


def readCertificateFileBytes(path: str) -> bytes:
    """
    @return: the bytes of a certificate or key file.
    @raise CertificateFileError: missing, a directory or unreadable.
    """
    try:
        return readBytes(path)
    except FileNotFoundError as e:
        raise CertificateFileError(path, "no such file") from e
    except IsADirectoryError as e:
        raise CertificateFileError(path, "is a directory, not a file") from e
    except PermissionError as e:
        raise CertificateFileError(path, "unreadable (permission denied)") from e
    except OSError as e:
        raise CertificateFileError(path, f"unreadable ({e.strerror or e})") from e


def loadCertificateFile(path: str) -> list[x509.Certificate]:
    """
    Load every certificate in a PEM or DER file of any name.

    @param path: the file.
    @return: its certificates.
    @raise CertificateFileError: naming the file and the reason (missing,
        unreadable, empty, not PEM/DER, not a certificate).
    """
    return parseCertificates(readCertificateFileBytes(path), path)


def loadPrivateKeyFile(path: str) -> PrivateKey:
    """
    Load an unencrypted RSA or ECDSA private key (PEM or DER).

    @param path: the file.
    @return: the key.
    @raise CertificateFileError: naming the file and the reason.
    """
    data = readCertificateFileBytes(path)
    if not data.strip():
        raise CertificateFileError(path, "empty file")
    try:
        if b"-----BEGIN " in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except TypeError as e:
        raise CertificateFileError(path, "the private key is encrypted; store it without a passphrase") from e
    except ValueError as e:
        raise CertificateFileError(path, "not a private key (PEM or DER)") from e
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CertificateFileError(path, "the private key is neither RSA nor ECDSA")
    return key


def certificatesPem(certificates: Sequence[x509.Certificate]) -> bytes:
    """
    @return: the certificates as concatenated PEM blocks.
    """
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def privateKeyPem(key: PrivateKey) -> bytes:
    """
    @return: the key as unencrypted PEM PKCS#8.
    """
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


