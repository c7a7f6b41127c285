# -*- test-case-name: tests.test_pki_trust -*-
"""
Trustpoints: the router's own identities and the phone CA certificates.

An L{IdentityTrustpoint} (IOS C{crypto pki trustpoint srstca}) holds a key
and a certificate the router presents, stored in
C{<state-dir>/pki/trustpoints/<name>/} as C{key.pem} (mode 0600),
C{cert.pem} and C{chain.pem}.  It is enrolled with the local
L{CertificateServer} or, for C{enrollment: terminal}, installed from a
certificate file and a key file.  A restart reuses the stored files.

A L{PhoneTrustpoint} holds only CA certificates (CAPF for LSCs, the Cisco
manufacturing CA for MICs) loaded from PEM or DER files of any name
(C{CiscoCA.pem}, C{a69d2e04.0}, C{59fe77ccd.0}).  Old Cisco CA certificates
are awkward: the seed's CAPF certificate has a negative serial number;
L{certificateFromDer} and L{certificateDer} (defined in L{srst.pki._x509},
re-exported here with the other certificate and key file readers) keep the
original DER for the TLS trust store.

L{parseIosCertificateChain} reads the hex blocks of an IOS running-config
(C{crypto pki certificate chain <tp>}); a trustpoint's certificate file may
hold such blocks instead of PEM or DER (L{isIosCertificateChain},
L{loadTrustpointCertificateFile} for phone trustpoints,
L{loadIdentityCertificateFile} for C{enrollment: terminal}).  The exceptions are defined in
L{srst.pki.errors} and re-exported here.
"""

from __future__ import annotations

import datetime
import os
import re
from typing import Any, Callable, Sequence

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from srst._files import FileWriter, atomicWrite, ensureDirectory, readBytes, removeFile, removeStaleTemporaries
from srst.pki._time import iosTime
from srst.pki._x509 import (
    PrivateKey,
    certificateDer,
    certificateFingerprint,
    certificateFromDer,
    certificatesPem,
    generatePrivateKey,
    loadCertificateFile,
    loadPrivateKeyFile,
    parseCertificates,
    parseDistinguishedName,
    privateKeyPem,
    readCertificateFileBytes,
    publicKeysEqual,
    rawSerial,
    serialHex,
    serialNumber,
)
from srst.pki.ca import CertificateServer
from srst.pki.errors import (
    CertificateFileError,
    IosChainParseError,
    RequestRejectedError,
    TrustpointError,
    UnknownRequestError,
)

__all__ = [
    # Trustpoints and IOS certificate chains.
    "IdentityTrustpoint", "IosCertificate", "PhoneTrustpoint", "isIosCertificateChain",
    "loadIdentityCertificateFile", "loadIosCertificateChainFile", "loadTrustpointCertificateFile", "parseIosCertificateChain",
    "trustpointDirectory",
    # Errors (defined in srst.pki.errors).
    "CertificateFileError", "IosChainParseError", "TrustpointError",
    # Certificates from bytes and files (defined in srst.pki._x509).
    "certificateDer", "certificateFromDer", "loadCertificateFile", "loadPrivateKeyFile",
    "parseCertificates", "rawSerial", "serialHex", "serialNumber",
]

_log = Logger(namespace="srst.pki.trust")


# -- IOS running-config certificate chains -----------------------------------------


@frozen
class IosCertificate:
    """
    One C{certificate [ca] <serial>} block of a C{crypto pki certificate
    chain <trustpoint>}.

    @ivar serial: the serial as written in the block header.
    @ivar isCA: C{True} for C{certificate ca}.
    @ivar line: the header's line number (1-based).
    """

    trustpoint: str
    serial: str
    isCA: bool
    der: bytes
    line: int

    @property
    def certificate(self) -> x509.Certificate:
        """
        The parsed certificate.
        """
        return certificateFromDer(self.der)


_CHAIN = re.compile(r"^crypto (?:pki|ca) certificate chain (\S+)$")
_CERT = re.compile(r"^certificate (?:(ca|ra-sign|ra-encrypt|self-signed) )?([0-9A-Fa-f]+)$")
_HEX = re.compile(r"^[0-9A-Fa-f]+( [0-9A-Fa-f]+)*$")


def parseIosCertificateChain(text: str, trustpoint: str | None = None) -> list[IosCertificate]:
    """
    Extract the certificates from IOS C{crypto pki certificate chain <tp>}
    blocks (hex DER, 8-digit words, each certificate ended by C{quit}).
    Other text around the blocks is ignored.

    @param text: a running-config (or any text containing such blocks).
    @param trustpoint: if given, a block for another trustpoint is an error.
    @return: the certificates in document order.
    @raise IosChainParseError: bad hex, a certificate without C{quit}, a
        block for another trustpoint, a header serial that does not match
        the certificate, or DER that is truncated or does not parse.
    """
    found: list[IosCertificate] = []
    chainName: str | None = None
    current: tuple[str, bool, int, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split())
        if current is not None:
            if line == "quit":
                found.append(_finishIosCertificate(chainName or "", *current))
                current = None
            elif _HEX.match(line):
                current[3].append(line.replace(" ", ""))
            elif _CERT.match(line) or _CHAIN.match(line):
                raise IosChainParseError(current[2], f"certificate {current[0]} is not terminated by quit")
            elif line:
                raise IosChainParseError(number, f"expected hex certificate data or quit, got {line[:40]!r}")
            continue
        chain = _CHAIN.match(line)
        if chain:
            chainName = chain.group(1)
            if trustpoint is not None and chainName != trustpoint:
                raise IosChainParseError(
                    number, f"the block is for trustpoint {chainName}, not {trustpoint}")
            continue
        if chainName is None or not line:
            continue
        header = _CERT.match(line)
        if header:
            current = (header.group(2), header.group(1) == "ca", number, [])
        elif _HEX.match(line) and " " in line:
            raise IosChainParseError(number, "certificate data outside a certificate block")
        else:
            chainName = None
    if current is not None:
        raise IosChainParseError(current[2], f"certificate {current[0]} is not terminated by quit")
    return found


def _finishIosCertificate(trustpoint: str, serial: str, isCA: bool, line: int, words: list[str]) -> IosCertificate:
    digits = "".join(words)
    if len(digits) % 2:
        raise IosChainParseError(line, f"certificate {serial} has an odd number of hex digits")
    der = bytes.fromhex(digits)
    declared = _declaredDerLength(der)
    if declared is not None and declared > len(der):
        raise IosChainParseError(
            line, f"certificate {serial} is truncated: its DER says {declared} bytes, the block holds {len(der)}")
    try:
        certificateFromDer(der)
        encoded = rawSerial(der).hex().upper()
    except ValueError as e:
        raise IosChainParseError(line, f"certificate {serial} does not parse: {e}") from e
    if encoded.lstrip("0") != serial.upper().lstrip("0"):
        raise IosChainParseError(line, f"header serial {serial} but the certificate's serial is {encoded}")
    return IosCertificate(trustpoint, serial, isCA, der, line)


def _declaredDerLength(der: bytes) -> int | None:
    """
    @return: the whole length the outer DER SEQUENCE header announces, or
        C{None} if there is no such header.
    """
    if len(der) < 2 or der[0] != 0x30:
        return None
    length = der[1]
    if not length & 0x80:
        return 2 + length
    count = length & 0x7F
    if count == 0 or count > 4 or len(der) < 2 + count:
        return None
    return 2 + count + int.from_bytes(der[2:2 + count], "big")


def isIosCertificateChain(data: bytes) -> bool:
    """
    Whether a certificate file holds IOS running-config text rather than
    PEM or DER: its first line that is neither blank nor an IOS comment
    (C{!}) starts with C{crypto}.
    """
    for raw in data.splitlines():
        line = raw.strip()
        if line and not line.startswith(b"!"):
            return line.startswith(b"crypto ")
    return False


def loadIosCertificateChainFile(path: str, trustpoint: str, *, requireCA: bool = True) -> list[IosCertificate]:
    """
    Load the C{crypto pki certificate chain <trustpoint>} blocks of a file
    pasted from an IOS C{show running-config}.

    @param path: the file.
    @param trustpoint: the trustpoint the blocks must be for.
    @param requireCA: whether every certificate must be a C{certificate ca}.
    @return: the certificates in file order.
    @raise CertificateFileError: naming the file, the line and the reason.
    """
    return _iosBlocks(readCertificateFileBytes(path), path, trustpoint, requireCA)


def _iosBlocks(data: bytes, path: str, trustpoint: str, requireCA: bool) -> list[IosCertificate]:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CertificateFileError(path, f"line {line}: not ASCII text (an IOS certificate chain is hex)") from e
    try:
        found = parseIosCertificateChain(text, trustpoint)
    except IosChainParseError as e:
        raise CertificateFileError(path, f"line {e.line}: {e.reason}") from e
    if not found:
        raise CertificateFileError(path, f"no crypto pki certificate chain {trustpoint} block with a certificate")
    for block in found:
        if not requireCA:
            continue
        if not block.isCA:
            raise CertificateFileError(
                path, f"line {block.line}: certificate {block.serial} is not a CA certificate"
                      f" (a phone trustpoint holds only certificate ca blocks)")
        try:
            constraints = block.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            continue
        if not constraints.ca:
            raise CertificateFileError(
                path, f"line {block.line}: certificate ca {block.serial} is not a CA certificate"
                      f" (basicConstraints CA:FALSE)")
    return found


def loadTrustpointCertificateFile(path: str, trustpoint: str) -> list[x509.Certificate]:
    """
    Load a phone trustpoint's certificate file: PEM, DER, or IOS
    C{crypto pki certificate chain <trustpoint>} blocks
    (L{isIosCertificateChain}).

    @raise CertificateFileError: naming the file (and the line) and the reason.
    """
    data = readCertificateFileBytes(path)
    if isIosCertificateChain(data):
        return [block.certificate for block in _iosBlocks(data, path, trustpoint, True)]
    return parseCertificates(data, path)


def _warnExpired(name: str, path: str, certificates: Sequence[x509.Certificate], now: datetime.datetime) -> None:
    for certificate in certificates:
        if certificate.not_valid_after_utc < now:
            _log.warn("Trustpoint {name}: CA certificate {serial} ({subject}) in {path} expired at {notAfter};"
                      " kept, but a phone certificate verified against it fails as expired",
                      name=name, serial=serialHex(certificate), subject=certificate.subject.rfc4514_string(),
                      path=path, notAfter=iosTime(certificate.not_valid_after_utc))


def loadIdentityCertificateFile(path: str, trustpoint: str) -> list[x509.Certificate]:
    """
    Load an identity trustpoint's certificate file (C{enrollment:
    terminal}): PEM or DER (the router's certificate first, then any CA
    certificates), or IOS C{crypto pki certificate chain <trustpoint>}
    blocks holding one C{certificate <serial>} (the router's own) and any
    C{certificate ca <serial>}.

    @return: the router's certificate, then the CA certificates.
    @raise CertificateFileError: naming the file (and the line) and the reason.
    """
    data = readCertificateFileBytes(path)
    if not isIosCertificateChain(data):
        return parseCertificates(data, path)
    blocks = _iosBlocks(data, path, trustpoint, False)
    own = [block for block in blocks if not block.isCA]
    if len(own) != 1:
        raise CertificateFileError(
            path, f"expected one certificate <serial> block (the router's own) and certificate ca blocks,"
                  f" found {len(own)} certificate blocks{''.join(f', line {b.line}' for b in own)}")
    return [own[0].certificate] + [block.certificate for block in blocks if block.isCA]


# -- trustpoints -------------------------------------------------------------------


@frozen
class PhoneTrustpoint:
    """
    CA certificates phone certificates chain to (IOS C{enrollment terminal}
    trustpoints C{7970}, C{7960}, C{PEM}).

    @ivar sources: the file each certificate came from.
    """

    name: str
    certificates: tuple[x509.Certificate, ...]
    sources: tuple[str, ...]

    @classmethod
    def fromFiles(cls, name: str, paths: Sequence[str], now: datetime.datetime | None = None) -> PhoneTrustpoint:
        """
        Load every certificate of every file: PEM, DER, or IOS C{crypto pki
        certificate chain <name>} blocks (L{loadTrustpointCertificateFile}).

        @param name: the trustpoint's name.
        @param paths: the files.
        @param now: if given, log a warning for each expired CA certificate,
            whatever its file's format (it is kept, as IOS keeps it; a phone
            certificate verified against it fails as expired).
        @return: the trustpoint.
        @raise CertificateFileError: for the first file that cannot be used.
        """
        certificates: list[x509.Certificate] = []
        sources: list[str] = []
        for path in paths:
            loaded = loadTrustpointCertificateFile(path, name)
            for certificate in loaded:
                certificates.append(certificate)
                sources.append(path)
            if now is not None:
                _warnExpired(name, path, loaded, now)
        if not certificates:
            raise TrustpointError(name, "no certificate files")
        return cls(name, tuple(certificates), tuple(sources))

    def derCertificates(self) -> list[bytes]:
        """
        @return: the original DER of every certificate (for trust stores).
        """
        return [certificateDer(c) for c in self.certificates]


def trustpointDirectory(stateDir: str, name: str) -> str:
    """
    @return: C{<state-dir>/pki/trustpoints/<name>}.
    """
    return os.path.join(stateDir, "pki", "trustpoints", name)


class IdentityTrustpoint:
    """
    One of the router's own identities: a key, its certificate and the
    chain above it.

    @ivar certificate: the certificate once enrolled, else C{None}.
    @ivar privateKey: the key (it exists before enrollment completes).
    @ivar chain: the CA certificates above C{certificate}.
    """

    def __init__(
        self,
        name: str,
        directory: str,
        *,
        subjectName: str | None = None,
        keyType: str = "rsa",
        keyBits: int | None = None,
        writer: FileWriter = atomicWrite,
    ) -> None:
        """
        @param name: the trustpoint's name (C{srstca}).
        @param directory: its state directory (L{trustpointDirectory}).
        @param subjectName: C{subject-name}; default C{CN=<first DNS name>},
            or C{CN=<name>}.
        @param keyType: C{rsakeypair} type, C{"rsa"} or C{"ecdsa"}.
        @param keyBits: RSA modulus size (default 2048; C{None} or 256 for ECDSA).
        @param writer: the atomic file writer.
        @raise NameParseError: if C{subjectName} does not parse.
        """
        self.name = name
        self.directory = directory
        self.subjectName = subjectName
        if subjectName is not None:
            parseDistinguishedName(subjectName)
        self.keyType = keyType
        self.keyBits = keyBits
        self._write = writer
        self.certificate: x509.Certificate | None = None
        self.privateKey: PrivateKey | None = None
        self.chain: list[x509.Certificate] = []

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @property
    def enrolled(self) -> bool:
        """
        Whether a certificate and its key are installed.
        """
        return self.certificate is not None and self.privateKey is not None

    @property
    def pendingRequestId(self) -> int | None:
        """
        The certificate server request this trustpoint waits for, if any.
        """
        path = self._path("request.id")
        if not os.path.exists(path):
            return None
        try:
            return int(readBytes(path).decode("ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError):
            return None

    def load(self) -> bool:
        """
        Load the stored key, certificate and chain (no re-enrollment on
        restart).

        @return: whether the trustpoint is enrolled.
        @raise CertificateFileError: a stored file is unreadable.
        @raise TrustpointError: the stored key does not match the certificate.
        """
        keyPath, certPath, chainPath = self._path("key.pem"), self._path("cert.pem"), self._path("chain.pem")
        removeStaleTemporaries(self.directory)
        if os.path.exists(keyPath):
            self.privateKey = loadPrivateKeyFile(keyPath)
        if os.path.exists(certPath) and self.privateKey is not None:
            certificate = loadCertificateFile(certPath)[0]
            if not publicKeysEqual(certificate.public_key(), self.privateKey.public_key()):
                raise TrustpointError(self.name, f"{certPath} does not match {keyPath}")
            self.chain = loadCertificateFile(chainPath) if os.path.exists(chainPath) else []
            self.certificate = certificate
        return self.enrolled

    def installFromFiles(self, certificateFile: str, keyFile: str, chainFiles: Sequence[str] = ()) -> None:
        """
        C{enrollment: terminal}: copy a certificate (further certificates in
        the same file join the chain; the file may hold IOS certificate
        chain blocks, L{loadIdentityCertificateFile}), its key and chain
        files into the state directory.  Nothing is rewritten when the stored copy is the
        same.

        @raise CertificateFileError: a file is missing or not what it should be.
        @raise TrustpointError: the key does not match the certificate.
        """
        certificates = loadIdentityCertificateFile(certificateFile, self.name)
        key = loadPrivateKeyFile(keyFile)
        chain = certificates[1:]
        for path in chainFiles:
            chain.extend(loadTrustpointCertificateFile(path, self.name))
        if not publicKeysEqual(certificates[0].public_key(), key.public_key()):
            raise TrustpointError(self.name,
                                  f"the key in {keyFile} does not match the certificate in {certificateFile}")
        ensureDirectory(self.directory)
        self._writeIfChanged("key.pem", privateKeyPem(key), 0o600)
        self._writeIfChanged("chain.pem", certificatesPem(chain), 0o644)
        self._writeIfChanged("cert.pem", certificatesPem(certificates[:1]), 0o644)
        self.privateKey, self.certificate, self.chain = key, certificates[0], chain
        _log.info("Trustpoint {name}: installed {subject} from {path}", name=self.name,
                  subject=certificates[0].subject.rfc4514_string(), path=certificateFile)

    def _writeIfChanged(self, name: str, data: bytes, mode: int) -> None:
        path = self._path(name)
        if os.path.exists(path) and readBytes(path) == data:
            return
        self._write(path, data, mode)

    def ensureKey(self) -> PrivateKey:
        """
        Load or generate (CPU-heavy) and store the key pair.

        @return: the key.
        """
        if self.privateKey is None:
            keyPath = self._path("key.pem")
            if os.path.exists(keyPath):
                self.privateKey = loadPrivateKeyFile(keyPath)
            else:
                key = generatePrivateKey(self.keyType, self.keyBits)
                ensureDirectory(self.directory)
                self._write(keyPath, privateKeyPem(key), 0o600)
                self.privateKey = key
        return self.privateKey

    def createRequest(self, dnsNames: Sequence[str] = ()) -> x509.CertificateSigningRequest:
        """
        A PKCS#10 request for this trustpoint's key (generated first if
        needed: CPU-heavy) and subject.

        @param dnsNames: used for the default subject C{CN=<first name>}.
        @return: the signed request.
        """
        key = self.ensureKey()
        subject = self.subjectName or f"CN={dnsNames[0] if dnsNames else self.name}"
        return (x509.CertificateSigningRequestBuilder()
                .subject_name(parseDistinguishedName(subject))
                .sign(key, hashes.SHA256()))

    def install(self, certificate: x509.Certificate, chain: Sequence[x509.Certificate]) -> None:
        """
        Store an issued certificate and its chain (C{cert.pem} last: its
        presence marks a complete enrollment).

        @raise TrustpointError: the certificate is not for this key.
        """
        key = self.ensureKey()
        if not publicKeysEqual(certificate.public_key(), key.public_key()):
            raise TrustpointError(self.name, "the issued certificate is not for this trustpoint's key")
        self._write(self._path("chain.pem"), certificatesPem(chain), 0o644)
        self._write(self._path("cert.pem"), certificatesPem([certificate]), 0o644)
        removeFile(self._path("request.id"))
        self.certificate, self.chain = certificate, list(chain)
        _log.info("Trustpoint {name}: enrolled as {subject}, serial 0x{serial:X}, fingerprint {fingerprint}",
                  name=self.name, subject=certificate.subject.rfc4514_string(),
                  serial=serialNumber(certificate), fingerprint=certificateFingerprint(certificate))

    def enrollWithServer(self, server: CertificateServer, dnsNames: Sequence[str],
                         ipAddresses: Sequence[str]) -> int | None:
        """
        Synchronous enrollment step (CPU-heavy: key generation, signing):
        create a request, submit it; install the certificate when granted
        at once, else remember the queued request id.

        @param server: the local certificate server.
        @param dnsNames: DNS subjectAltNames (the hostname).
        @param ipAddresses: IP subjectAltNames (every listener address).
        @return: the pending request id, or C{None} when enrolled.
        """
        csr = self.createRequest(dnsNames)
        result = server.submit(csr, dnsNames, ipAddresses)
        if result.certificate is not None:
            self.install(result.certificate, [server.caCertificate])
            return None
        assert result.requestId is not None
        self._write(self._path("request.id"), b"%d\n" % (result.requestId,), 0o600)
        _log.warn("Trustpoint {name}: enrollment request {requestId} is waiting for a manual grant"
                  " (crypto pki server {server} grant {requestId})",
                  name=self.name, requestId=result.requestId, server=server.name)
        return result.requestId

    def enroll(self, server: CertificateServer, dnsNames: Sequence[str], ipAddresses: Sequence[str],
               runInThread: Callable[..., Deferred[Any]]) -> Deferred[IdentityTrustpoint]:
        """
        Enroll with the local certificate server unless already enrolled;
        wait for a manual grant when needed (also one queued before a
        restart).

        @param runInThread: runs the CPU-/fsync-heavy steps.
        @return: fires with this trustpoint once enrolled; fails with
            L{srst.pki.ca.RequestRejectedError} if the operator rejects it.
        """
        return Deferred.fromCoroutine(self._enroll(server, tuple(dnsNames), tuple(ipAddresses), runInThread))

    async def _enroll(self, server: CertificateServer, dnsNames: tuple[str, ...], ipAddresses: tuple[str, ...],
                      runInThread: Callable[..., Deferred[Any]]) -> IdentityTrustpoint:
        if self.enrolled or self.load():
            return self
        requestId = self.pendingRequestId
        for attempt in range(2):
            if requestId is None:
                requestId = await runInThread(self.enrollWithServer, server, dnsNames, ipAddresses)
                if requestId is None:
                    return self
            try:
                certificate = await server.whenGranted(requestId)
            except UnknownRequestError:
                removeFile(self._path("request.id"))
                requestId = None
                continue
            except RequestRejectedError:
                removeFile(self._path("request.id"))
                raise
            await runInThread(self.install, certificate, [server.caCertificate])
            return self
        raise TrustpointError(self.name, "the certificate server lost the enrollment request twice")

    def fingerprint(self, algorithm: str = "md5") -> str:
        """
        @return: the IOS-style fingerprint of the certificate.
        @raise TrustpointError: if not enrolled.
        """
        if self.certificate is None:
            raise TrustpointError(self.name, "not enrolled")
        return certificateFingerprint(self.certificate, algorithm)

    def isValidAt(self, now: datetime.datetime) -> bool:
        """
        @return: whether the certificate is within its validity at C{now}.
        """
        if self.certificate is None:
            return False
        return self.certificate.not_valid_before_utc <= now <= self.certificate.not_valid_after_utc
