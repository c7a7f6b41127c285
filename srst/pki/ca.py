# -*- test-case-name: tests.test_pki_ca -*-
"""
The router's certificate server: IOS C{crypto pki server <name>}.

One L{CertificateServer} owns a state directory (C{<state-dir>/pki/server/<name>/})::

    ca.key          the CA private key (PEM PKCS#8, mode 0600)
    ca.crt          the self-signed CA certificate (PEM), serial 1
    ca.ser          the last serial number reserved (decimal text)
    crl.der         the current CRL (DER), re-signed on every revocation
    names.json      database level C{names}: serial -> subject
    <SERIAL>.cer    database level C{complete}: every issued certificate (DER);
                    SERIAL is upper-case hex, even number of digits
                    (C{02.cer}, C{0A.cer}, C{0100.cer})
    requests.ser    the last enrollment request id used
    requests/<id>.json   queued (grant manual), granted and rejected requests

Serial numbers strictly increase and are never reused, even after a crash at
any moment: the advanced counter is written (atomically, with C{fsync})
before the certificate carrying it is written or returned, and a restart
resumes from the largest serial found in C{ca.ser}, the C{.cer} files,
C{names.json}, the CRL and the request database.

Everything here is synchronous.  Key generation (L{generatePrivateKey}, the
first L{CertificateServer.start}) is CPU-heavy; issuing, granting, revoking
and L{CertificateServer.refreshCrl} sign and C{fsync}.  The service layer
calls them through its C{runInThread}; a lock makes them safe to call from
worker threads.

This module is the policy (lifecycle, clock checks, grant mode, locking,
notifications).  The files are read and recorded by L{srst.pki._database}
and L{srst.pki._requests}, the certificates and CRLs are built by
L{srst.pki._signing}, and the name, key and fingerprint helpers live in
L{srst.pki._x509}; the exceptions are defined in L{srst.pki.errors}.  Their
public names are re-exported here and remain importable from this module.
"""

from __future__ import annotations

import datetime
import os
import threading
from enum import Enum
from typing import Any, Callable, Sequence

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from srst._files import FileWriter, atomicWrite, ensureDirectory, removeStaleTemporaries
from srst.pki._database import (
    DatabaseLevel,
    loadCACertificate,
    loadCAKey,
    parseCrl,
    readIssuedCertificate,
    recordIssued,
    recoverLastSerial,
    serialFileName,
)
from srst.pki._requests import EnrollmentRequest, RequestQueue, RequestState, requestValue
from srst.pki._signing import buildCACertificate, buildCertificate, buildCrl
from srst.pki._time import iosTime, isoTime
from srst.pki._x509 import (
    PrivateKey,
    certificateFingerprint,
    checkRequestSignature,
    fingerprint,
    generatePrivateKey,
    parseDistinguishedName,
    privateKeyPem,
    publicKeysEqual,
    subjectAltNames,
)
from srst.pki.errors import (
    CAExpiredError,
    CertificateServerError,
    CertificateStoreError,
    ClockNotSetError,
    InvalidRequestError,
    KeySpecError,
    NameParseError,
    RequestRejectedError,
    RequestStateError,
    RevocationError,
    UnknownRequestError,
)

__all__ = [
    # The certificate server.
    "CertificateServer", "DatabaseLevel", "EnrollmentRequest", "GrantMode", "RequestState",
    "ServerStatus", "SubmitResult",
    # Errors (defined in srst.pki.errors).
    "CAExpiredError", "CertificateServerError", "CertificateStoreError", "ClockNotSetError",
    "InvalidRequestError", "KeySpecError", "NameParseError", "RequestRejectedError",
    "RequestStateError", "RevocationError", "UnknownRequestError",
    # Helpers (defined in srst.pki._x509, _database and _time).
    "PrivateKey", "certificateFingerprint", "fingerprint", "generatePrivateKey", "iosTime",
    "parseDistinguishedName", "publicKeysEqual", "serialFileName",
]

_log = Logger(namespace="srst.pki.ca")


class GrantMode(Enum):
    """
    IOS C{grant auto} or the default manual granting.
    """

    AUTO = "auto"
    MANUAL = "manual"


def _callNow(f: Callable[..., Any], *args: Any) -> None:
    f(*args)


# -- values --------------------------------------------------------------------


@frozen
class ServerStatus:
    """
    Everything C{show crypto pki server} prints.

    @ivar enabled: whether L{CertificateServer.start} has completed; the
        other fields that need the CA are C{None} until then.
    @ivar caFingerprint: MD5 of the DER CA certificate, IOS-grouped.
    @ivar lastSerial: the last serial number issued (1 is the CA itself).
    """

    name: str
    enabled: bool
    issuerName: str
    caFingerprint: str | None
    grantMode: GrantMode
    lastSerial: int | None
    caNotAfter: datetime.datetime | None
    crlNextUpdate: datetime.datetime | None
    storageDir: str
    databaseLevel: DatabaseLevel
    pendingRequests: int


@frozen
class SubmitResult:
    """
    What L{CertificateServer.submit} answers.

    @ivar requestId: the queued request's id (C{None} when granted at once).
    @ivar certificate: the certificate when granted at once (grant auto).
    """

    requestId: int | None
    certificate: x509.Certificate | None


# -- the server ----------------------------------------------------------------


class CertificateServer:
    """
    A small CA with a crash-safe serial database, a CRL and a grant queue.

    @ivar name: the server's name (C{srstcaserver}).
    @ivar directory: its state directory.
    """

    def __init__(
        self,
        name: str,
        directory: str,
        issuerName: str,
        *,
        now: Callable[[], datetime.datetime],
        keyType: str = "rsa",
        keyBits: int | None = None,
        databaseLevel: DatabaseLevel | str = DatabaseLevel.COMPLETE,
        grant: GrantMode | str = GrantMode.MANUAL,
        caLifetimeDays: int = 1095,
        certificateLifetimeDays: int = 365,
        crlLifetimeHours: int = 168,
        cdpUrl: str | None = None,
        writer: FileWriter = atomicWrite,
        callFromThread: Callable[..., Any] = _callNow,
    ) -> None:
        """
        @param name: the server's name.
        @param directory: the state directory (created on L{start}).
        @param issuerName: the CA's subject/issuer name, e.g. C{"CN=srstcaserver"}.
        @param now: the wall clock, returning aware UTC datetimes.
        @param keyType: C{"rsa"} or C{"ecdsa"} for the CA key.
        @param keyBits: RSA modulus size (default 2048; C{None} or 256 for ECDSA).
        @param databaseLevel: minimal, names or complete.
        @param grant: auto or manual.
        @param caLifetimeDays: the CA certificate's lifetime.
        @param certificateLifetimeDays: issued certificates' lifetime (capped
            at the CA's notAfter).
        @param crlLifetimeHours: how long each CRL is valid (nextUpdate).
        @param cdpUrl: the URL of the CRL put in every certificate issued
            (CRL Distribution Points; IOS C{cdp-url}), or C{None} for none.
        @param writer: writes one state file atomically (tests inject one
            that crashes).
        @param callFromThread: runs the L{whenGranted} notifications; pass
            C{reactor.callFromThread} when L{grant}/L{reject} run in worker
            threads.
        @raise NameParseError: if C{issuerName} does not parse.
        """
        self.name = name
        self.directory = directory
        self.issuerName = issuerName
        self._issuer = parseDistinguishedName(issuerName)
        self._now = now
        self.keyType = keyType
        self.keyBits = keyBits
        self.databaseLevel = DatabaseLevel(databaseLevel)
        self.grantMode = GrantMode(grant)
        self.caLifetime = datetime.timedelta(days=caLifetimeDays)
        self.certificateLifetime = datetime.timedelta(days=certificateLifetimeDays)
        self.crlLifetime = datetime.timedelta(hours=crlLifetimeHours)
        self.cdpUrl = cdpUrl
        self._write = writer
        self._callFromThread = callFromThread
        self._lock = threading.RLock()
        self._started = False
        self._key: PrivateKey | None = None
        self._caCert: x509.Certificate | None = None
        self._crl: x509.CertificateRevocationList | None = None
        self._lastSerial = 0
        self._issued = 0
        self._queue = RequestQueue(name, directory, writer)

    # -- paths

    def _path(self, *names: str) -> str:
        return os.path.join(self.directory, *names)

    # -- lifecycle

    def start(self) -> None:
        """
        Create the CA on first start (key, self-signed certificate, serial
        counter, CRL), or load and check it on later starts.  CPU-heavy the
        first time (key generation).

        @raise CertificateStoreError: if the state directory is inconsistent.
        @raise KeySpecError: if the configured key cannot be generated.
        """
        with self._lock:
            ensureDirectory(self.directory)
            ensureDirectory(self._queue.directory)
            removeStaleTemporaries(self.directory)
            removeStaleTemporaries(self._queue.directory)
            keyPath, certPath = self._path("ca.key"), self._path("ca.crt")
            self._lastSerial = max([recoverLastSerial(self.directory), *self._queue.recordedSerials()])
            self._queue.load()
            if os.path.exists(keyPath):
                self._key = loadCAKey(keyPath)
            elif os.path.exists(certPath) or self._lastSerial > 1:
                raise CertificateStoreError(
                    keyPath, "the CA key is missing but the CA database exists; restore ca.key or remove the directory")
            else:
                _log.info("Certificate server {name}: generating the CA key ({keyType})",
                          name=self.name, keyType=self.keyType)
                self._key = generatePrivateKey(self.keyType, self.keyBits)
                self._write(keyPath, privateKeyPem(self._key), 0o600)
            if os.path.exists(certPath):
                self._caCert = loadCACertificate(certPath, self._key)
                if self._caCert.subject != self._issuer:
                    _log.warn("Certificate server {name}: issuer-name {configured} differs from the existing CA"
                              " ({existing}); the existing CA is kept (remove the directory to make a new one)",
                              name=self.name, configured=self.issuerName,
                              existing=self._caCert.subject.rfc4514_string())
                    self.issuerName = self._caCert.subject.rfc4514_string()
            else:
                self._caCert = self._createCaCert(certPath)
            self._crl = self._loadCrl()
            self._started = True
        now = self._now()
        if now < self._caCert.not_valid_before_utc:
            _log.warn("Certificate server {name}: the clock ({now}) is before the CA certificate's notBefore"
                      " ({notBefore}); set the clock, nothing can be issued until then",
                      name=self.name, now=isoTime(now), notBefore=isoTime(self._caCert.not_valid_before_utc))
        elif now > self._caCert.not_valid_after_utc:
            _log.warn("Certificate server {name}: the CA certificate expired at {notAfter}; nothing can be issued",
                      name=self.name, notAfter=isoTime(self._caCert.not_valid_after_utc))
        self.refreshCrl()
        if self.grantMode is GrantMode.AUTO:
            _log.warn("Certificate server {name}: grant auto is enabled; every certificate request is"
                      " granted without operator approval. Disable it (grant: manual) once the router's"
                      " certificates are issued.", name=self.name)
        _log.info("Certificate server {name} enabled: CA fingerprint {fingerprint}, last serial 0x{serial:X}",
                  name=self.name, fingerprint=certificateFingerprint(self._caCert), serial=self._lastSerial)

    def _createCaCert(self, path: str) -> x509.Certificate:
        assert self._key is not None
        if self._lastSerial <= 1:
            serial = 1
            self._write(self._path("ca.ser"), b"1\n", 0o600)
            self._lastSerial = 1
        else:
            _log.warn("Certificate server {name}: ca.crt is missing; re-creating it from ca.key",
                      name=self.name)
            serial = self._reserveSerial()
        now = self._now()
        cert = buildCACertificate(self._key, self._issuer, serial, now, now + self.caLifetime)
        self._write(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return cert

    # -- state

    @property
    def started(self) -> bool:
        """
        Whether L{start} has completed.
        """
        return self._started

    @property
    def caCertificate(self) -> x509.Certificate:
        """
        The CA certificate.

        @raise CertificateServerError: before L{start}.
        """
        self._checkStarted()
        assert self._caCert is not None
        return self._caCert

    @property
    def privateKey(self) -> PrivateKey:
        """
        The CA private key (SCEP decrypts requests and signs replies with it).

        @raise CertificateServerError: before L{start}.
        """
        self._checkStarted()
        assert self._key is not None
        return self._key

    @property
    def lastSerial(self) -> int:
        """
        The last serial number reserved (C{1} is the CA certificate).
        """
        return self._lastSerial

    @property
    def issuedCount(self) -> int:
        """
        How many certificates this server issued since it started (not the
        CA's own; the serials reserved but never issued, left by a crash,
        not counted): a Prometheus counter, which starts again with the
        process.
        """
        return self._issued

    @property
    def crl(self) -> x509.CertificateRevocationList:
        """
        The current CRL.

        @raise CertificateServerError: before L{start}.
        """
        self._checkStarted()
        assert self._crl is not None
        return self._crl

    def _checkStarted(self) -> None:
        if not self._started:
            raise CertificateServerError(f"certificate server {self.name} is not enabled yet")

    def _checkClock(self) -> datetime.datetime:
        now = self._now()
        assert self._caCert is not None
        if now < self._caCert.not_valid_before_utc:
            raise ClockNotSetError(self.name, now, self._caCert.not_valid_before_utc)
        if now > self._caCert.not_valid_after_utc:
            raise CAExpiredError(self.name, now, self._caCert.not_valid_after_utc)
        return now

    def status(self) -> ServerStatus:
        """
        @return: what C{show crypto pki server} shows (works before L{start},
            with C{enabled=False}).
        """
        cert, crl = self._caCert, self._crl
        return ServerStatus(
            name=self.name,
            enabled=self._started,
            issuerName=self.issuerName,
            caFingerprint=certificateFingerprint(cert) if self._started and cert is not None else None,
            grantMode=self.grantMode,
            lastSerial=self._lastSerial if self._started else None,
            caNotAfter=cert.not_valid_after_utc if self._started and cert is not None else None,
            crlNextUpdate=crl.next_update_utc if self._started and crl is not None else None,
            storageDir=self.directory,
            databaseLevel=self.databaseLevel,
            pendingRequests=self._queue.pendingCount(),
        )

    # -- issuing

    def _reserveSerial(self) -> int:
        serial = self._lastSerial + 1
        self._write(self._path("ca.ser"), b"%d\n" % (serial,), 0o600)
        self._lastSerial = serial
        return serial

    def issue(
        self,
        csr: x509.CertificateSigningRequest,
        dnsNames: Sequence[str] = (),
        ipAddresses: Sequence[str] = (),
    ) -> x509.Certificate:
        """
        Issue a certificate for C{csr} now, whatever the grant mode (the
        operator's own action; L{submit} honours the grant mode).

        The certificate has the request's subject and public key, SHA-256,
        keyUsage digitalSignature + keyEncipherment (RSA) or
        digitalSignature + keyAgreement (ECDSA), extendedKeyUsage serverAuth
        + clientAuth, SKI, AKI, and a subjectAltName with C{dnsNames} and
        C{ipAddresses} (extensions requested inside the CSR are ignored).

        @param csr: the request.
        @param dnsNames: DNS names for the subjectAltName.
        @param ipAddresses: IP addresses (text) for the subjectAltName.
        @return: the certificate, after its serial and (per database level)
            its record are on disk.
        @raise InvalidRequestError: bad CSR signature or SAN value.
        @raise ClockNotSetError: the clock is before the CA's notBefore.
        @raise CAExpiredError: the CA certificate has expired.
        @raise OSError: a state write failed; nothing was returned.
        """
        sans = subjectAltNames(dnsNames, ipAddresses)
        checkRequestSignature(csr)
        with self._lock:
            self._checkStarted()
            return self._issueLocked(csr, sans)

    def _issueLocked(self, csr: x509.CertificateSigningRequest, sans: list[x509.GeneralName]) -> x509.Certificate:
        now = self._checkClock()
        assert self._key is not None and self._caCert is not None
        serial = self._reserveSerial()
        notAfter = min(now + self.certificateLifetime, self._caCert.not_valid_after_utc)
        cert = buildCertificate(csr, self._key, self._caCert, serial, now, notAfter, sans, self.cdpUrl)
        recordIssued(self.directory, self.databaseLevel, cert, self._write)
        self._issued += 1
        _log.info("Certificate server {name}: issued serial 0x{serial:X} to {subject}",
                  name=self.name, serial=serial, subject=cert.subject.rfc4514_string())
        return cert

    def issuedCertificate(self, serial: int) -> x509.Certificate | None:
        """
        @return: the stored certificate with this serial (database level
            complete only), or C{None}.
        """
        return readIssuedCertificate(self.directory, serial)

    # -- the request queue

    def submit(
        self,
        csr: x509.CertificateSigningRequest,
        dnsNames: Sequence[str] = (),
        ipAddresses: Sequence[str] = (),
    ) -> SubmitResult:
        """
        Submit an enrollment request.  With grant auto it is issued at once
        (and a warning logged); with grant manual it is queued on disk under
        the next request id until L{grant} or L{reject}.

        @return: the certificate, or the queued request's id.
        @raise InvalidRequestError: bad CSR signature or SAN value.
        """
        sans = subjectAltNames(dnsNames, ipAddresses)
        checkRequestSignature(csr)
        with self._lock:
            self._checkStarted()
            if self.grantMode is GrantMode.AUTO:
                cert = self._issueLocked(csr, sans)
                _log.warn("Certificate server {name}: grant auto issued serial 0x{serial:X} to {subject}"
                          " without operator approval",
                          name=self.name, serial=cert.serial_number, subject=cert.subject.rfc4514_string())
                return SubmitResult(None, cert)
            record = self._queue.add(csr, dnsNames, ipAddresses, self._now())
            requestId = record["id"]
            _log.info("Certificate server {name}: enrollment request {requestId} from {subject} is pending;"
                      " grant it with: crypto pki server {name} grant {requestId}",
                      name=self.name, requestId=requestId, subject=record["subject"])
            return SubmitResult(requestId, None)

    def requests(self) -> list[EnrollmentRequest]:
        """
        @return: every request in the database (pending, granted, rejected),
            by id.
        """
        return self._queue.values()

    def pendingRequests(self) -> list[EnrollmentRequest]:
        """
        @return: the requests waiting for L{grant} or L{reject}, by id.
        """
        return [r for r in self.requests() if r.state is RequestState.PENDING]

    def findRequest(self, subject: bytes, publicKey: Any) -> tuple[EnrollmentRequest, x509.Certificate | None] | None:
        """
        The newest request for C{subject} whose CSR carries C{publicKey} (a
        SCEP CertPoll names the request by subject and proves it holds the
        key).

        @param subject: the subject name, DER.

        @return: the request and, once granted, its certificate; or C{None}.
        """
        with self._lock:
            for requestId in sorted(self._queue.records, reverse=True):
                record = self._queue.records[requestId]
                csr = x509.load_pem_x509_csr(record["csr"].encode("ascii"))
                if csr.subject.public_bytes() == subject and publicKeysEqual(csr.public_key(), publicKey):
                    pem = record.get("certificate")
                    cert = x509.load_pem_x509_certificate(pem.encode("ascii")) if pem else None
                    return requestValue(record), cert
            return None

    def grant(self, requestId: int) -> x509.Certificate:
        """
        Issue the certificate for a pending request and fire its
        L{whenGranted} waiters.

        @return: the certificate.
        @raise UnknownRequestError: no such request.
        @raise RequestStateError: the request is not pending.
        """
        with self._lock:
            self._checkStarted()
            record = self._queue.pending(requestId)
            csr = x509.load_pem_x509_csr(record["csr"].encode("ascii"))
            cert = self._issueLocked(csr, subjectAltNames(record["dnsNames"], record["ipAddresses"]))
            waiters = self._queue.recordGranted(record, cert)
        _log.info("Certificate server {name}: request {requestId} granted (serial 0x{serial:X})",
                  name=self.name, requestId=requestId, serial=cert.serial_number)
        for d in waiters:
            self._callFromThread(d.callback, cert)
        return cert

    def reject(self, requestId: int) -> None:
        """
        Reject a pending request and fail its L{whenGranted} waiters with
        L{RequestRejectedError}.

        @raise UnknownRequestError: no such request.
        @raise RequestStateError: the request is not pending.
        """
        with self._lock:
            self._checkStarted()
            waiters = self._queue.recordRejected(self._queue.pending(requestId))
        _log.info("Certificate server {name}: request {requestId} rejected", name=self.name, requestId=requestId)
        for d in waiters:
            self._callFromThread(d.errback, RequestRejectedError(requestId))

    def whenGranted(self, requestId: int) -> Deferred[x509.Certificate]:
        """
        @return: a L{Deferred} that fires with the certificate once request
            C{requestId} is granted (at once if it already was), or fails with
            L{RequestRejectedError} or L{UnknownRequestError}.  Cancelling it
            stops waiting; the request stays queued.
        """
        return self._queue.whenGranted(requestId)

    # -- revocation

    def revokedSerials(self) -> dict[int, datetime.datetime]:
        """
        @return: serial -> revocation date, from the current CRL.
        """
        return {r.serial_number: r.revocation_date_utc for r in self.crl}

    def revoke(self, serial: int) -> x509.CertificateRevocationList:
        """
        Revoke a serial number and publish a re-signed CRL (nextUpdate = now +
        the CRL lifetime).

        @return: the new CRL.
        @raise RevocationError: the CA's own serial, a serial never issued, or
            one already revoked.
        """
        with self._lock:
            self._checkStarted()
            if serial == self.caCertificate.serial_number:
                raise RevocationError(serial, "it is the CA certificate")
            if serial < 1 or serial > self._lastSerial:
                raise RevocationError(serial, f"it was never issued (last serial 0x{self._lastSerial:X})")
            revoked = self.revokedSerials()
            if serial in revoked:
                raise RevocationError(serial, "it is already revoked")
            revoked[serial] = self._now()
            crl = self._publishCrl(revoked)
        _log.info("Certificate server {name}: serial 0x{serial:X} revoked; CRL updated",
                  name=self.name, serial=serial)
        return crl

    def refreshCrl(self, force: bool = False,
                   ahead: datetime.timedelta = datetime.timedelta(0)) -> x509.CertificateRevocationList:
        """
        Re-sign the CRL if it has passed its nextUpdate less C{ahead} (or
        C{force}).  The service calls this before each CRL expires
        (L{srst.pki.publication.CrlRenewal}).

        @param ahead: how long before its nextUpdate a CRL is re-signed.
        @return: the current CRL.
        """
        with self._lock:
            crl = self.crl
            if force or self._now() >= crl.next_update_utc - ahead:  # type: ignore[operator]
                crl = self._publishCrl(self.revokedSerials())
            return crl

    def _loadCrl(self) -> x509.CertificateRevocationList:
        path = self._path("crl.der")
        if os.path.exists(path):
            return parseCrl(path)
        return self._publishCrl({})

    def _publishCrl(self, revoked: dict[int, datetime.datetime]) -> x509.CertificateRevocationList:
        assert self._key is not None and self._caCert is not None
        now = self._now()
        crl = buildCrl(self._key, self._caCert, self._crl, revoked, now, now + self.crlLifetime)
        self._write(self._path("crl.der"), crl.public_bytes(serialization.Encoding.DER), 0o644)
        self._crl = crl
        return crl

