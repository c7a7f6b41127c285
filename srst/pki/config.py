# -*- test-case-name: tests.test_pki_config -*-
"""
The C{pki:} section of router.yaml: the local certificate server (IOS
C{crypto pki server}) and the trustpoints (C{crypto pki trustpoint}), each
either one of the router's own identities or a set of CA certificates that
issue phone certificates.

Certificate and key files are only checked to exist here; whether they
parse is checked before start-up by the service (C{srst.service.preflight}).
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable
from urllib.parse import urlsplit

from attrs import frozen

from srst.configreader import ConfigProblem, Reader

__all__ = [
    "CertificateServerConfig",
    "CrlSourceConfig",
    "IdentityTrustpointConfig",
    "KeySpec",
    "PhoneTrustpointConfig",
    "PkiConfig",
    "readPki",
]

_CDP_URL = re.compile(r"^http://[^/\s?#@]+(/\S*)?$")
"""C{cdp-url}: an http URL (what CRL fetchers, srst's own included, can read)."""

_SUBJECT = re.compile(r"^\s*[A-Za-z][A-Za-z0-9.]*\s*=\s*[^,=]+(\s*,\s*[A-Za-z][A-Za-z0-9.]*\s*=\s*[^,=]+)*\s*$")


@frozen
class KeySpec:
    """
    A key pair to generate (IOS C{rsakeypair}).

    @ivar type: C{"rsa"} or C{"ecdsa"}.
    @ivar bits: RSA modulus size, or 256 for ECDSA P-256.
    """

    type: str = "rsa"
    bits: int = 2048


@frozen
class CertificateServerConfig:
    """
    C{crypto pki server <name>}.
    """

    name: str
    issuerName: str
    databaseLevel: str = "complete"
    grant: str = "auto"
    caDays: int = 1095
    certificateDays: int = 365
    crlHours: int = 168
    keypair: KeySpec = KeySpec()
    cdpUrl: str | None = None


@frozen
class IdentityTrustpointConfig:
    """
    A trustpoint holding one of the router's own identities (C{srstca}).

    @ivar enrollment: C{"server"} (enroll with the local certificate server
        named by C{server}), C{"url"} (enroll over SCEP with the certificate
        server at C{url}, its CA certificate pinned by C{fingerprint}) or
        C{"terminal"} (use C{certificateFile} and C{keyFile}, optionally
        C{chainFiles}).
    @ivar url: IOS C{enrollment url http://host[:port]}.
    @ivar fingerprint: IOS C{fingerprint}: the CA certificate's MD5 or
        SHA-256 fingerprint, hex digits without spaces, upper case.
    @ivar password: IOS C{password}: the SCEP challenge password.
    @ivar autoEnroll: IOS C{auto-enroll PERCENT}: renew the SCEP-enrolled
        certificate over SCEP when this percentage of its validity has
        passed (C{auto-enroll: true}, IOS C{auto-enroll} without a
        percentage, is 100: when it expires); C{None} (the default) never
        renews.
    @ivar retryPeriod: IOS C{enrollment retry period}: minutes between
        polls of a PENDING SCEP request (default 1).
    @ivar retryCount: IOS C{enrollment retry count}: polls of a PENDING
        SCEP request before giving up, 0 for no limit (default 10).
    """

    name: str
    enrollment: str
    server: str | None = None
    certificateFile: str | None = None
    keyFile: str | None = None
    chainFiles: tuple[str, ...] = ()
    subjectName: str | None = None
    keypair: KeySpec = KeySpec()
    revocationCheck: str = "none"
    url: str | None = None
    fingerprint: str | None = None
    password: str | None = None
    autoEnroll: int | None = None
    retryPeriod: int = 1
    retryCount: int = 10


@frozen
class CrlSourceConfig:
    """
    Where a phone trustpoint's CRL comes from (IOS C{crl query <url>}, or a
    file for trustpoints enrolled by hand).

    @ivar file: a PEM or DER CRL file, re-read before each C{nextUpdate}.
    @ivar url: an C{http://} URL fetched before each C{nextUpdate}.
    @ivar cacheDeleteAfterMinutes: refresh at least this often (IOS C{crl
        cache delete-after}), else only before C{nextUpdate}.
    """

    file: str | None = None
    url: str | None = None
    cacheDeleteAfterMinutes: int | None = None


@frozen
class PhoneTrustpointConfig:
    """
    A trustpoint holding only CA certificates that issue phone certificates
    (CAPF for LSCs, the Cisco manufacturing CA for MICs).
    """

    name: str
    certificates: tuple[str, ...]
    revocationCheck: tuple[str, ...] = ("none",)
    crl: CrlSourceConfig | None = None
    """The configured CRL, or C{None}: the CRL Distribution Points of the certificates are followed."""

    @property
    def checksCrl(self) -> bool:
        """Whether phone certificates are checked against a CRL (C{revocation-check crl ...})."""
        return self.revocationCheck[0] == "crl"

    @property
    def crlOptional(self) -> bool:
        """Whether a certificate is accepted when no current CRL can be had (C{revocation-check crl none})."""
        return self.checksCrl and "none" in self.revocationCheck


@frozen
class PkiConfig:
    """
    The C{pki:} section.
    """

    server: CertificateServerConfig | None = None
    identities: tuple[IdentityTrustpointConfig, ...] = ()
    phoneTrustpoints: tuple[PhoneTrustpointConfig, ...] = ()

    def identity(self, name: str) -> IdentityTrustpointConfig | None:
        """
        @return: the identity trustpoint called C{name}, if any.
        """
        for identity in self.identities:
            if identity.name == name:
                return identity
        return None


def _readKeySpec(reader: Reader) -> KeySpec:
    keyType = reader.string("type", "rsa", choices=["rsa", "ecdsa"])
    if keyType == "ecdsa":
        bits = reader.integer("bits", 256, 256, 256)
    else:
        bits = reader.integer("bits", 2048, 1024, 8192)
    reader.finish()
    return KeySpec(keyType or "rsa", bits or 2048)


def _checkSubject(reader: Reader, key: str, value: str | None) -> None:
    if value is not None and not _SUBJECT.match(value):
        reader.problem(key, value, "expected a distinguished name such as CN=srstcaserver or CN=router,O=Branch")


def readPki(pki: Reader) -> PkiConfig:
    """
    Validate C{pki:}: the local certificate server (C{server}) and the
    trustpoints, each either an identity of the router (C{enrollment}) or
    a phone CA trustpoint (a C{certificates} list).

    @param pki: the reader of the section.
    @return: the L{PkiConfig} (without the trustpoints that had problems
        where they cannot be built).
    """
    server = None
    if pki.has("server"):
        s = pki.child("server")
        name = s.string("name", required=True)
        issuer = s.string("issuer-name", f"CN={name}" if name else None)
        _checkSubject(s, "issuer-name", issuer)
        lifetime = s.child("lifetime")
        caDays = lifetime.integer("ca-days", 1095, 1, 7305)
        certDays = lifetime.integer("certificate-days", 365, 1, 7305)
        crlHours = lifetime.integer("crl-hours", 168, 1, 8760)
        lifetime.finish()
        keypair = _readKeySpec(s.child("rsakeypair"))
        cdpUrl = s.string("cdp-url", None)
        if cdpUrl is not None and not _CDP_URL.match(cdpUrl):
            s.problem("cdp-url", cdpUrl, "expected an http:// URL such as http://10.1.1.1/crl/srstcaserver.crl")
            cdpUrl = None
        server = CertificateServerConfig(
            name=name or "srstcaserver",
            issuerName=issuer or "CN=srstcaserver",
            databaseLevel=s.string("database-level", "complete", choices=["minimal", "names", "complete"]) or "complete",
            grant=s.string("grant", "auto", choices=["auto", "manual"]) or "auto",
            caDays=caDays or 1095,
            certificateDays=certDays or 365,
            crlHours=crlHours or 168,
            keypair=keypair,
            cdpUrl=cdpUrl,
        )
        s.finish()
    else:
        pki.raw("server")
    identities = []
    phones = []
    trustpoints = pki.child("trustpoints")
    for name in trustpoints.keys():
        tp = Reader(trustpoints.raw(name), trustpoints.sub(str(name)), trustpoints.problems)
        if tp.has("certificates") and not tp.has("enrollment"):
            files = tp.listOf("certificates", _fileItem(tp))
            if not tp.raw("certificates"):
                tp.problem("certificates", tp.raw("certificates"), "expected a non-empty list of certificate files (PEM or DER)")
            methods = _readRevocationCheck(tp)
            crl = _readCrlSource(tp, methods)
            phones.append(PhoneTrustpointConfig(str(name), tuple(files), methods, crl))
        else:
            identities.append(_readIdentity(str(name), tp, server))
        tp.finish()
    pki.finish()
    return PkiConfig(server, tuple(identities), tuple(phones))


_REVOCATION_ALLOWED = "expected crl, none, or a list such as [crl, none] (IOS revocation-check crl none)"


def _readRevocationCheck(tp: Reader) -> tuple[str, ...]:
    value = tp.raw("revocation-check", "none")
    if not isinstance(value, list):
        return (tp.string("revocation-check", "none", choices=["none", "crl"]) or "none",)
    methods = value
    if (not methods or not all(isinstance(m, str) and m.lower() in ("crl", "none") for m in methods)
            or len({m.lower() for m in methods}) != len(methods) or methods[0].lower() == "none" and len(methods) > 1):
        tp.problem("revocation-check", value, _REVOCATION_ALLOWED)
        return ("none",)
    return tuple(m.lower() for m in methods)


def _readCrlSource(tp: Reader, methods: tuple[str, ...]) -> CrlSourceConfig | None:
    source = tp.optionalChild("crl")
    if source is None:
        return None  # revocation-check crl without crl: follows the certificates' CRL Distribution Points
    path = source.string("file")
    url = source.string("url")
    cache = source.integer("cache-delete-after", None, 1, 43200)
    source.finish()
    if (path is None) == (url is None):
        tp.problem("crl", tp.raw("crl"), "expected exactly one of {file: PATH} or {url: http://host[:port]/path}")
        return None
    if url is not None:
        try:
            parts = urlsplit(url)
            parts.port
        except ValueError:
            parts = None
        if parts is None or parts.scheme != "http" or not parts.hostname:
            source.problem("url", url, "expected an http:// URL with a host, such as http://10.1.1.22/srstcaserver.crl")
            return None
    return CrlSourceConfig(path, url, cache)


def _fileItem(reader: Reader) -> Callable[[Any, str], str | None]:
    def item(value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value:
            reader.problems.append(ConfigProblem(path, value, "expected a file path"))
            return None
        if not os.path.isfile(value):
            reader.problems.append(ConfigProblem(path, value, "expected an existing, readable file"))
            return None
        return value
    return item


def _readScepEnrollment(name: str, tp: Reader, e: Reader, subject: str | None, keypair: KeySpec,
                        revocation: str) -> IdentityTrustpointConfig:
    url = e.string("url")
    fingerprint = e.string("fingerprint")
    password = e.string("password")
    # IOS auto-enroll without a percentage renews when the certificate expires.
    autoEnroll = 100 if e.raw("auto-enroll") is True else None
    if e.raw("auto-enroll") is not True and e.raw("auto-enroll") is not False:
        autoEnroll = e.integer("auto-enroll", None, minimum=1, maximum=100)
    retry = e.child("retry")
    retryPeriod = retry.integer("period", 1, minimum=1, maximum=60)
    retryCount = retry.integer("count", 10, minimum=0, maximum=100)
    retry.finish()
    e.finish()
    if url is not None:
        try:
            parts = urlsplit(url)
            parts.port  # raises ValueError for a bad port
            valid = parts.scheme == "http" and bool(parts.hostname) and not parts.query
        except ValueError:
            valid = False
        if not valid:
            e.problem("url", url, "expected an http:// URL with a host, such as http://10.1.1.1:80")
            url = None
    if fingerprint is not None:
        digits = "".join(fingerprint.split()).replace(":", "").upper()
        if len(digits) not in (32, 64) or any(c not in "0123456789ABCDEF" for c in digits):
            e.problem("fingerprint", fingerprint,
                      "expected the CA certificate's MD5 (32) or SHA-256 (64) hex digits, as show crypto pki "
                      "certificates prints them")
            fingerprint = None
        else:
            fingerprint = digits
    if keypair.type != "rsa":
        tp.problem("rsakeypair", tp.raw("rsakeypair"), "SCEP enrollment (enrollment url) needs an RSA key")
    return IdentityTrustpointConfig(name, "url", None, None, None, (), subject, keypair, revocation,
                                    url=url, fingerprint=fingerprint, password=password,
                                    autoEnroll=autoEnroll, retryPeriod=retryPeriod, retryCount=retryCount)


def _readIdentity(name: str, tp: Reader, server: CertificateServerConfig | None) -> IdentityTrustpointConfig:
    enrollment = tp.raw("enrollment")
    subject = tp.string("subject-name")
    _checkSubject(tp, "subject-name", subject)
    keypair = _readKeySpec(tp.child("rsakeypair"))
    revocation = tp.string("revocation-check", "none", choices=["none", "crl"]) or "none"
    if enrollment == "terminal":
        files = tp.child("terminal")
        cert = files.string("certificate", required=True)
        key = files.string("key", required=True)
        chain = files.listOf("chain", _fileItem(files))
        for fieldName, value in (("certificate", cert), ("key", key)):
            if value is not None and not os.path.isfile(value):
                files.problem(fieldName, value, "expected an existing, readable file")
        files.finish()
        return IdentityTrustpointConfig(name, "terminal", None, cert, key, tuple(chain), subject, keypair, revocation)
    if isinstance(enrollment, dict):
        e = Reader(enrollment, tp.sub("enrollment"), tp.problems)
        if e.has("url"):
            return _readScepEnrollment(name, tp, e, subject, keypair, revocation)
        serverName = e.string("server", required=True)
        e.finish()
        if serverName is not None and (server is None or server.name != serverName):
            tp.problem("enrollment", enrollment,
                       "expected {server: <name>} naming the certificate server configured under pki.server")
        return IdentityTrustpointConfig(name, "server", serverName, None, None, (), subject, keypair, revocation)
    tp.problem("enrollment", enrollment,
               "expected {server: <name>} or terminal (identity trustpoint), or a certificates: list (phone CA trustpoint)")
    return IdentityTrustpointConfig(name, "server", None, None, None, (), subject, keypair, revocation)
