"""
Certificates and in-memory TLS for tests.

Make a test CA, issue server and client certificates (a phone LSC has
C{CN=SEP<MAC>}), expired or not-yet-valid ones, certificates signed with
SHA-1/MD5 or carrying a negative serial (which C{cryptography} will not
build: they are re-signed here by editing the DER), and connect a TLS client
and server in memory with L{twisted.test.iosim}.

Keys are expensive; L{sharedKey} hands out one key per label per process.
ECDSA P-256 is the default (fast, accepted by every profile); RSA-1024 is
available where a weak key is the point.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from typing import Any, Sequence

from attrs import define, frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import reactor
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.test import iosim
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data
from zope.interface import implementer

from srst.pki._signing import buildCrl
from srst.pki.trust import certificateFromDer

UTC = datetime.timezone.utc
ONE_DAY = datetime.timedelta(days=1)

_keys: dict[tuple[str, str, int], Any] = {}


def utcNow() -> datetime.datetime:
    """
    The real time (TLS verification in OpenSSL uses the real clock).
    """
    return datetime.datetime.now(UTC)


def generateKey(kind: str = "ec", bits: int = 2048) -> Any:
    """
    A fresh key: C{"ec"} (P-256) or C{"rsa"} with C{bits}.
    """
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def sharedKey(label: str, kind: str = "ec", bits: int = 2048) -> Any:
    """
    One key per (label, kind, bits) for the whole test run.
    """
    index = (label, kind, bits)
    if index not in _keys:
        _keys[index] = generateKey(kind, bits)
    return _keys[index]


def _name(commonName: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, commonName)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


@frozen
class TestCA:
    """
    A certificate authority for tests.
    """

    certificate: x509.Certificate
    key: Any

    @property
    def name(self) -> x509.Name:
        return self.certificate.subject


def makeCA(
    commonName: str = "srst test CA",
    key: Any = None,
    *,
    notBefore: datetime.datetime | None = None,
    notAfter: datetime.datetime | None = None,
    serial: int = 1,
    issuer: TestCA | None = None,
    basicConstraints: bool = True,
    crlDistributionPoints: Sequence[str] = (),
) -> TestCA:
    """
    A self-signed CA (or an intermediate signed by C{issuer}, with
    C{crlDistributionPoints} naming where the issuer's CRL is).  With
    C{basicConstraints=False} it has no extension at all, like the seed's
    CAPF certificate.
    """
    key = key or sharedKey("ca:" + commonName)
    now = utcNow()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(commonName, "srst tests"))
        .issuer_name(issuer.name if issuer else _name(commonName, "srst tests"))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(notBefore or now - ONE_DAY)
        .not_valid_after(notAfter or now + 365 * ONE_DAY)
    )
    if basicConstraints:
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = builder.add_extension(ski, critical=False)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True)
    if crlDistributionPoints:
        builder = builder.add_extension(_distributionPoints(crlDistributionPoints), critical=False)
    signer = issuer.key if issuer else key
    certificate = builder.sign(signer, hashes.SHA256())
    return TestCA(certificate, key)


def issueCertificate(
    ca: TestCA,
    commonName: str,
    key: Any = None,
    *,
    serverAuth: bool = True,
    clientAuth: bool = True,
    dnsNames: Sequence[str] = (),
    ipAddresses: Sequence[str] = (),
    notBefore: datetime.datetime | None = None,
    notAfter: datetime.datetime | None = None,
    serial: int | None = None,
    digitalSignature: bool = True,
    crlDistributionPoints: Sequence[str] = (),
) -> tuple[x509.Certificate, Any]:
    """
    An end-entity certificate from C{ca} (with C{crlDistributionPoints}: a
    CRL Distribution Points extension, one point per URI).

    @return: (certificate, key).
    """
    key = key or sharedKey("ee:" + commonName)
    now = utcNow()
    usages = []
    if serverAuth:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if clientAuth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(commonName))
        .issuer_name(ca.name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(notBefore or now - ONE_DAY)
        .not_valid_after(notAfter or now + 30 * ONE_DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=digitalSignature, content_commitment=False,
                                     key_encipherment=not digitalSignature, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dnsNames]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ipAddresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if crlDistributionPoints:
        builder = builder.add_extension(_distributionPoints(crlDistributionPoints), critical=False)
    return builder.sign(ca.key, hashes.SHA256()), key


def _distributionPoints(uris: Sequence[str]) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([
        x509.DistributionPoint([x509.UniformResourceIdentifier(uri)], None, None, None) for uri in uris])


def makeServerCertificate(ca: TestCA, commonName: str = "branch-router", **kwargs: Any) -> tuple[x509.Certificate, Any]:
    """
    A router certificate with a DNS SAN and an IP SAN for 127.0.0.1.
    """
    kwargs.setdefault("dnsNames", [commonName])
    kwargs.setdefault("ipAddresses", ["127.0.0.1"])
    return issueCertificate(ca, commonName, **kwargs)


def makePhoneCertificate(ca: TestCA, mac: str = "001122334455", **kwargs: Any) -> tuple[x509.Certificate, Any]:
    """
    A phone LSC/MIC: C{CN=SEP<MAC>}, clientAuth.
    """
    kwargs.setdefault("serverAuth", False)
    return issueCertificate(ca, "SEP" + mac.upper(), **kwargs)


def makeExpiredCertificate(ca: TestCA, commonName: str = "SEP00000000DEAD",
                           **kwargs: Any) -> tuple[x509.Certificate, Any]:
    """
    A certificate that expired yesterday.
    """
    now = utcNow()
    return issueCertificate(ca, commonName, notBefore=now - 30 * ONE_DAY, notAfter=now - ONE_DAY, **kwargs)


# -- DER surgery: what cryptography refuses to build ---------------------------------

_SIGNATURE_OIDS = {
    "sha256": bytes.fromhex("06092A864886F70D01010B"),
    "sha1": bytes.fromhex("06092A864886F70D010105"),
    "md5": bytes.fromhex("06092A864886F70D010104"),
}


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    tag, length, start = data[offset], data[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    return tag, start, start + length


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def resign(certificate: x509.Certificate, signerKey: Any, hashName: str = "sha1",
           serial: bytes | None = None) -> x509.Certificate:
    """
    Re-sign an RSA-signed certificate with SHA-1 or MD5 (which cryptography
    will not sign with), optionally replacing the serial's encoded octets
    (C{b"\\xf3\\x01"} makes the seed's negative serial).

    @param certificate: a certificate signed with sha256WithRSAEncryption.
    @param signerKey: the issuer's RSA key.
    @param hashName: C{"sha1"}, C{"md5"} or C{"sha256"}.
    @param serial: the new serial content octets (two's complement).
    """
    der = certificate.public_bytes(serialization.Encoding.DER)
    _, outer, _ = _tlv(der, 0)
    tbsTag, tbsContent, tbsEnd = _tlv(der, outer)
    tbs = der[tbsContent:tbsEnd]
    if serial is not None:
        offset = 0
        tag, _, end = _tlv(tbs, 0)
        if tag == 0xA0:
            offset = end
        _, sStart, sEnd = _tlv(tbs, offset)
        tbs = tbs[:offset] + b"\x02" + _length(len(serial)) + serial + tbs[sEnd:]
    oldOid = _SIGNATURE_OIDS["sha256"]
    if oldOid not in tbs:
        raise ValueError("resign() needs a certificate signed with sha256WithRSAEncryption")
    tbs = tbs.replace(oldOid, _SIGNATURE_OIDS[hashName])
    tbsDer = bytes([tbsTag]) + _length(len(tbs)) + tbs
    digest = hashlib.new(hashName, tbsDer).digest()
    algorithm = {"sha1": hashes.SHA1(), "md5": hashes.MD5(), "sha256": hashes.SHA256()}[hashName]
    signature = signerKey.sign(digest, padding.PKCS1v15(), Prehashed(algorithm))
    algorithmId = b"\x30" + _length(len(_SIGNATURE_OIDS[hashName]) + 2) + _SIGNATURE_OIDS[hashName] + b"\x05\x00"
    bitString = b"\x03" + _length(len(signature) + 1) + b"\x00" + signature
    body = tbsDer + algorithmId + bitString
    return certificateFromDer(b"\x30" + _length(len(body)) + body)


# -- files ---------------------------------------------------------------------------


def writePem(directory: str, name: str, *certificates: x509.Certificate) -> str:
    """
    Write certificates as one PEM file; return its path.
    """
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        for certificate in certificates:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def writeKey(directory: str, name: str, key: Any) -> str:
    """
    Write an unencrypted PEM private key; return its path.
    """
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return path


def iosChainText(trustpoint: str, *certificates: x509.Certificate, ca: bool = True) -> str:
    """
    IOS C{show running-config} text for C{certificates}: one C{crypto pki
    certificate chain <trustpoint>} block, hex DER in 8-digit words, 8 words
    a line, each certificate ended by C{quit}.
    """
    lines = [f"crypto pki certificate chain {trustpoint}"]
    for certificate in certificates:
        der = certificate.public_bytes(serialization.Encoding.DER)
        serial = f"{certificate.serial_number:X}"
        lines.append(f" certificate {'ca ' if ca else ''}{serial}")
        digits = der.hex().upper()
        words = [digits[i:i + 8] for i in range(0, len(digits), 8)]
        lines += ["  " + " ".join(words[i:i + 8]) for i in range(0, len(words), 8)]
        lines.append("  quit")
    return "\n".join(lines) + "\n"


def seedChainText(trustpoint: str) -> str:
    """
    The seed's C{crypto pki certificate chain <trustpoint>} block, cut out
    of the fixture C{running-config-chains.txt}.
    """
    with open(fixture("running-config-chains.txt")) as f:
        text = f.read()
    start = text.index(f"crypto pki certificate chain {trustpoint}\n")
    end = text.find("\ncrypto pki certificate chain ", start + 1)
    return text[start:] if end < 0 else text[start:end + 1]


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "seed")


def fixture(name: str) -> str:
    """
    The path of a seed certificate fixture (C{CiscoCA.pem}, C{59fe77ccd.0}, ...).
    """
    return os.path.join(FIXTURES, name)


# -- in-memory TLS -------------------------------------------------------------------


@implementer(IHandshakeListener)
class RecordingProtocol(Protocol):
    """
    Records what happens on one side of a connection.
    """

    def __init__(self) -> None:
        self.received = b""
        self.handshakeDone = False
        self.lostReason: Any = None
        self.tlsTransport: Any = None

    def connectionMade(self) -> None:
        self.tlsTransport = self.transport

    def handshakeCompleted(self) -> None:
        self.handshakeDone = True

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any) -> None:
        self.lostReason = reason


@define
class TLSPair:
    """
    The two ends of an in-memory TLS connection after pumping.
    """

    server: RecordingProtocol
    client: RecordingProtocol
    pump: Any


def connectInMemory(serverCreator: Any, clientCreator: Any, clientData: bytes = b"hello",
                    clock: Clock | None = None) -> TLSPair:
    """
    Connect a TLS client and server with iosim, send C{clientData} from the
    client, and pump until quiet.
    """
    clock = clock or Clock()
    built: dict[str, RecordingProtocol] = {}

    def factoryFor(side: str) -> Factory:
        class OneSide(Factory):
            def buildProtocol(self, addr: Any) -> RecordingProtocol:
                built[side] = RecordingProtocol()
                return built[side]
        return OneSide()

    serverFactory = TLSMemoryBIOFactory(serverCreator, False, factoryFor("server"), clock=clock)
    clientFactory = TLSMemoryBIOFactory(clientCreator, True, factoryFor("client"), clock=clock)
    client, _, pump = iosim.connectedServerAndClient(
        lambda: serverFactory.buildProtocol(None), lambda: clientFactory.buildProtocol(None), clock=clock)
    if clientData and built["client"].lostReason is None:
        client.write(clientData)
    pump.flush()
    return TLSPair(built["server"], built["client"], pump)


def connectPlain(serverCreator: Any, data: bytes, clock: Clock | None = None) -> TLSPair:
    """
    A plain TCP client that sends C{data} to a TLS server in memory.
    """
    clock = clock or Clock()
    built: dict[str, RecordingProtocol] = {}

    class ServerSide(Factory):
        def buildProtocol(self, addr: Any) -> RecordingProtocol:
            built["server"] = RecordingProtocol()
            return built["server"]

    serverFactory = TLSMemoryBIOFactory(serverCreator, False, ServerSide(), clock=clock)
    plain = RecordingProtocol()
    client, _, pump = iosim.connectedServerAndClient(
        lambda: serverFactory.buildProtocol(None), lambda: plain, clock=clock)
    client.transport.write(data)
    pump.flush()
    return TLSPair(built["server"], plain, pump)


HOUR = datetime.timedelta(hours=1)


class CrlSite:
    """
    CRLs published over real HTTP on 127.0.0.1: L{publish} puts one at a
    path (of C{root}, the site's resource), L{url} names it.
    """

    def __init__(self, testCase: Any, root: Resource | None = None) -> None:
        self.root = Resource() if root is None else root
        site = Site(self.root)
        site.noisy = False
        self.port = reactor.listenTCP(0, site, interface="127.0.0.1")
        testCase.addCleanup(self.port.stopListening)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port.getHost().port}/{name}"

    def publish(self, name: str, ca: Any, revoked: dict[int, datetime.datetime], start: datetime.datetime,
                signer: Any = None) -> None:
        crl = buildCrl(signer or ca.key, ca.certificate, None, revoked, start - HOUR, start + 24 * HOUR)
        self.root.putChild(name.encode("ascii"), Data(crl.public_bytes(Encoding.DER), "application/pkix-crl"))
