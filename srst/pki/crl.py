# -*- test-case-name: tests.test_pki_crl -*-
"""
Revocation checking of phone certificates (IOS C{revocation-check crl} on a
phone trustpoint).

A L{CrlChecker} keeps one trustpoint's CRL in memory: loaded from a file or
fetched over HTTP (IOS C{crl query <url>}) at start, verified against the
trustpoint's CA certificates (issuer name and signature), and refreshed
before its C{nextUpdate} (or sooner, IOS C{crl cache delete-after}) on the
injected clock.  A CRL that cannot be had is retried every
L{RETRY_SECONDS}; the one in memory is kept until its C{nextUpdate}.

L{RevocationChecks} is the L{IRevocationCheck} of a TLS listener: at the
handshake, a phone certificate issued by a trustpoint that checks CRLs is
refused when its serial is on the CRL (C{certificate revoked}), or when no
current CRL is available (C{CRL unavailable} / C{CRL expired}), unless the
trustpoint says C{revocation-check crl none}: then it is accepted and a
rate-limited warning says so.

C{crypto pki crl request <trustpoint>} (IOS's command of that name) fetches
or re-reads a trustpoint's CRL at once (L{CrlChecker.refreshNow}), instead
of waiting for the refresh timer.

A trustpoint that checks CRLs without a configured source follows the CRL
Distribution Points of the certificates it checks, as IOS does: a
L{CdpCrls} cache keeps one L{CrlChecker} per (C{http://} URL, issuing CA),
fetched when a handshake first names the URL and then refreshed like a
configured CRL.  The verify callback cannot wait for a fetch: the handshake
that starts it is refused (C{CRL unavailable (fetching URL)}, or accepted
with the warning under C{crl none}), and the phone's next attempt is decided
with the fetched CRL.  Every certificate of the phone's chain below the
trust anchor is checked, so a revoked intermediate CA refuses every phone
under it.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict
from typing import Any, Sequence
from urllib.parse import urlsplit

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.application.service import Service
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgent, IResponse
from zope.interface import implementer

from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.lograte import LogLimiter
from srst.pki._time import iosTime
from srst.pki.httpbody import BodyTooLarge, readCappedBody
from srst.pki.tls import (
    CRL_UNAVAILABLE,
    X509_V_ERR_CERT_REVOKED,
    X509_V_ERR_CRL_HAS_EXPIRED,
    X509_V_ERR_UNABLE_TO_GET_CRL,
    IRevocationCheck,
    Refusal,
)
from srst.pki.trust import certificateDer

__all__ = [
    "CdpCrls", "CdpPolicy", "CrlChecker", "CrlError", "CrlService", "RevocationChecks", "distributionPoints",
    "loadCrlFile", "parseCrl", "registerCrlCommands", "renderCrls", "requestCrl", "verifyCrl",
]

_log = Logger(namespace="srst.pki.crl")

RETRY_SECONDS = 60.0
"""How long after a failed load or fetch the CRL is tried again."""

REFRESH_MARGIN_SECONDS = 300.0
"""How long before C{nextUpdate} a CRL is refreshed (at most half its remaining life)."""

NO_NEXT_UPDATE_SECONDS = 3600.0
"""How often a CRL without C{nextUpdate} is refreshed."""

FETCH_TIMEOUT_SECONDS = 30.0
"""How long an HTTP fetch may take."""

MAX_CRL_BYTES = 4 * 1024 * 1024
"""The largest CRL read from a file or accepted over HTTP."""

CDP_MAX_CRLS = 32
"""The most CRLs fetched from CRL Distribution Points kept at once."""

CDP_MAX_CRL_BYTES = 1024 * 1024
"""The largest CRL accepted from a CRL Distribution Point."""

CDP_MAX_TOTAL_BYTES = 8 * 1024 * 1024
"""The most bytes (DER) of CDP-fetched CRLs kept at once."""

NO_CDP = "no CRL distribution point"
"""The refusal of a certificate without an http:// CDP under C{revocation-check crl} without C{crl:}."""



class CrlError(Exception):
    """
    A CRL that cannot be used.

    @ivar reason: why, in words for the operator.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason



def parseCrl(data: bytes) -> x509.CertificateRevocationList:
    """
    @param data: a PEM or DER CRL.
    @return: the CRL.
    @raise CrlError: if it is neither.
    """
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as e:
        raise CrlError(f"not a CRL (PEM or DER): {e}") from None


def verifyCrl(crl: x509.CertificateRevocationList, caCertificates: Sequence[x509.Certificate]) -> x509.Certificate:
    """
    Check that one of C{caCertificates} issued and signed C{crl}.

    @return: that CA certificate.
    @raise CrlError: if none did.
    """
    named = [ca for ca in caCertificates if ca.subject == crl.issuer]
    if not named:
        raise CrlError(f"issued by {crl.issuer.rfc4514_string()}, which is not a CA certificate of the trustpoint")
    for ca in named:
        try:
            if crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return ca
        except TypeError:
            continue
    raise CrlError(f"bad signature: not signed by the key of {crl.issuer.rfc4514_string()}")


def loadCrlFile(path: str, caCertificates: Sequence[x509.Certificate]) -> x509.CertificateRevocationList:
    """
    Read, parse and verify a CRL file.

    @raise CrlError: if it cannot be read, parsed or verified.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CRL_BYTES + 1)
    except OSError as e:
        raise CrlError(f"cannot read the CRL: {e.strerror}") from None
    if len(data) > MAX_CRL_BYTES:
        raise CrlError(f"larger than {MAX_CRL_BYTES} bytes")
    crl = parseCrl(data)
    verifyCrl(crl, caCertificates)
    return crl


def _utc(clock: IReactorTime) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(clock.seconds(), datetime.timezone.utc)


class CrlChecker:
    """
    The CRL of one phone trustpoint, kept current.

    @ivar trustpoint: the trustpoint's name.
    @ivar crl: the verified CRL in memory, or C{None}.
    @ivar problem: why the last load or fetch failed, or C{None}.
    @ivar loadedAt: when C{crl} was loaded.
    """

    def __init__(
        self,
        trustpoint: str,
        caCertificates: Sequence[x509.Certificate],
        clock: IReactorTime,
        *,
        file: str | None = None,
        url: str | None = None,
        agent: IAgent | None = None,
        optional: bool = False,
        cacheSeconds: float | None = None,
        maxBytes: int = MAX_CRL_BYTES,
    ) -> None:
        """
        @param trustpoint: the trustpoint's name, for logs.
        @param caCertificates: its CA certificates (the CRL's possible issuers).
        @param clock: the timer and the time of day.
        @param file: the CRL file, or
        @param url: the C{http://} URL to fetch it from with C{agent}.
        @param optional: accept certificates when no current CRL can be had
            (C{revocation-check crl none}).
        @param cacheSeconds: refresh at least this often (IOS C{crl cache
            delete-after}).
        @param maxBytes: the largest CRL accepted from the URL; a larger one
            is refused as soon as that many bytes are in, whether or not the
            server said how long it would be.
        """
        if (file is None) == (url is None) or (url is not None and agent is None):
            raise ValueError("a CrlChecker needs a file, or a URL and an agent")
        self.trustpoint = trustpoint
        self.caCertificates = tuple(caCertificates)
        self.clock = clock
        self.file = file
        self.url = url
        self.agent = agent
        self.optional = optional
        self.cacheSeconds = cacheSeconds
        self.maxBytes = maxBytes
        self.crl: x509.CertificateRevocationList | None = None
        self.problem: str | None = "not loaded yet"
        self.loadedAt: datetime.datetime | None = None
        self._timer: IDelayedCall | None = None
        self._fetching: Deferred[None] | None = None
        self._running = False
        self._limiter = LogLimiter(clock)

    @property
    def fetching(self) -> bool:
        """Whether a fetch is under way."""
        return self._fetching is not None

    @property
    def source(self) -> str:
        """Where the CRL comes from (the file or the URL)."""
        return self.file or self.url or ""

    def issued(self, certificate: x509.Certificate) -> bool:
        """
        @return: whether C{certificate} was issued by a CA of this trustpoint.
        """
        return any(ca.subject == certificate.issuer for ca in self.caCertificates)

    def start(self) -> Deferred[None]:
        """
        Load or fetch the CRL now, then keep it current.

        @return: a L{Deferred} firing once the first attempt has ended
            (successful or not; see L{problem}).
        """
        self._running = True
        self._limiter.start()
        return self.refresh()

    def stop(self) -> None:
        """
        Stop refreshing (and abandon a fetch under way).
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._running = False
        if self._fetching is not None:
            self._fetching.cancel()
        self._limiter.stop()

    def refresh(self) -> Deferred[None]:
        """
        Load or fetch the CRL now.

        @return: a L{Deferred} firing once done.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self.file is not None:
            try:
                self._install(loadCrlFile(self.file, self.caCertificates))
            except CrlError as e:
                self._failed(e.reason)
            return succeed(None)
        if self._fetching is not None:
            return self._fetching
        d = self._fetching = self._fetch()
        d.addCallback(self._install)
        d.addErrback(self._fetchFailed)

        def done(result: None) -> None:
            self._fetching = None

        d.addBoth(done)
        return d

    def refreshNow(self) -> Deferred[str | None]:
        """
        Load or fetch the CRL now (IOS C{crypto pki crl request}); the
        refresh timer is re-armed from the result.

        @return: a L{Deferred} firing with why the CRL could not be had
            (L{problem}), or C{None} once a current CRL is in memory.
        """
        done: Deferred[str | None] = Deferred()

        def finished(result: object) -> object:
            done.callback(self.problem)
            return result

        self.refresh().addBoth(finished)
        return done

    @property
    def nextRefresh(self) -> float | None:
        """
        When (in the clock's seconds) the CRL is next loaded or fetched, or
        C{None} when no timer is armed.
        """
        return self._timer.getTime() if self._timer is not None and self._timer.active() else None

    def _fetch(self) -> Deferred[x509.CertificateRevocationList]:
        assert self.agent is not None and self.url is not None
        d = self.agent.request(b"GET", self.url.encode("ascii"), Headers({b"user-agent": [b"srst"]}))
        d.addCallback(self._response)
        d.addTimeout(FETCH_TIMEOUT_SECONDS, self.clock)
        return d

    def _response(self, response: IResponse) -> Deferred[x509.CertificateRevocationList]:
        if response.length is not UNKNOWN_LENGTH and response.length > self.maxBytes:
            response.deliverBody(Protocol())
            raise CrlError(f"larger than {self.maxBytes} bytes")
        body = readCappedBody(response, self.maxBytes)

        def parsed(data: bytes) -> x509.CertificateRevocationList:
            if response.code != 200:
                raise CrlError(f"HTTP {response.code} {response.phrase.decode('latin-1')}")
            crl = parseCrl(data)
            verifyCrl(crl, self.caCertificates)
            return crl

        def tooLarge(failure: Failure) -> None:
            failure.trap(BodyTooLarge)
            raise CrlError(failure.getErrorMessage())

        return body.addCallbacks(parsed, tooLarge)

    def _fetchFailed(self, failure: Failure) -> None:
        if not self._running:
            return
        if isinstance(failure.value, CrlError):
            self._failed(failure.value.reason)
        else:
            self._failed(failure.getErrorMessage() or type(failure.value).__name__)

    def _install(self, crl: x509.CertificateRevocationList) -> None:
        now = _utc(self.clock)
        nextUpdate = crl.next_update_utc
        if nextUpdate is not None and now >= nextUpdate:
            self._failed(f"the CRL expired at {nextUpdate:%Y-%m-%d %H:%M:%S} UTC (nextUpdate)")
            return
        self.crl, self.problem, self.loadedAt = crl, None, now
        if nextUpdate is None:
            delay = NO_NEXT_UPDATE_SECONDS
        else:
            remaining = (nextUpdate - now).total_seconds()
            delay = remaining - min(REFRESH_MARGIN_SECONDS, remaining / 2)
        if self.cacheSeconds is not None:
            delay = min(delay, self.cacheSeconds)
        _log.info("Trustpoint {trustpoint}: CRL from {source} loaded, {count} revoked, next update {nextUpdate}",
                  trustpoint=self.trustpoint, source=self.source, count=len(crl),
                  nextUpdate=f"{nextUpdate:%Y-%m-%d %H:%M:%S} UTC" if nextUpdate else "none")
        self._schedule(max(delay, 1.0))

    def _failed(self, reason: str) -> None:
        self.problem = reason
        _log.warn("Trustpoint {trustpoint}: CRL from {source} cannot be used: {reason}; trying again in {retry:.0f} s",
                  trustpoint=self.trustpoint, source=self.source, reason=reason, retry=RETRY_SECONDS)
        self._schedule(RETRY_SECONDS)

    def _schedule(self, delay: float) -> None:
        if not self._running:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self.clock.callLater(delay, self._refreshDue)

    def _refreshDue(self) -> None:
        self._timer = None
        self.refresh()

    def refusal(self, certificate: x509.Certificate) -> int | None:
        """
        @param certificate: a certificate this trustpoint issued.
        @return: the X509_V_ERR code refusing it, or C{None}.
        """
        crl = self.crl
        code = X509_V_ERR_UNABLE_TO_GET_CRL
        if crl is not None:
            nextUpdate = crl.next_update_utc
            if nextUpdate is None or _utc(self.clock) < nextUpdate:
                if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
                    return X509_V_ERR_CERT_REVOKED
                return None
            code = X509_V_ERR_CRL_HAS_EXPIRED
        if not self.optional:
            return code
        why = self.problem or "the CRL has expired"
        self._limiter.warn(_log, self.trustpoint, "certificates accepted without a CRL",
                           "Trustpoint {trustpoint}: {subject} accepted without a revocation check"
                           " (revocation-check crl none): {why}",
                           trustpoint=self.trustpoint, subject=certificate.subject.rfc4514_string(), why=why)
        return None


def distributionPoints(certificate: x509.Certificate) -> tuple[list[str], list[str]]:
    """
    The CRL Distribution Points of C{certificate}.

    @return: its C{http://} URLs with a host, in order, and its other URIs
        (C{ldap://} and the like, which srst does not fetch).
    """
    try:
        extension = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except x509.ExtensionNotFound:
        return [], []
    http: list[str] = []
    other: list[str] = []
    for point in extension.value:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                (http if _fetchable(name.value) else other).append(name.value)
    return http, other


def _fetchable(uri: str) -> bool:
    if not uri.isascii() or not uri.lower().startswith("http://"):
        return False
    try:
        parts = urlsplit(uri)
        parts.port
    except ValueError:
        return False
    return bool(parts.hostname)


@frozen
class CdpPolicy:
    """
    A phone trustpoint that checks CRLs, for the certificates its configured
    CRL (if any) does not cover: those are checked against the CRL of their
    CRL Distribution Point.

    @ivar trustpoint: its name.
    @ivar caCertificates: its CA certificates (the anchors it answers for).
    @ivar optional: C{revocation-check crl none}.
    """

    trustpoint: str
    caCertificates: tuple[x509.Certificate, ...]
    optional: bool = False


def _acceptWithoutCrl(limiter: LogLimiter, trustpoint: str, certificate: x509.Certificate, why: str) -> None:
    limiter.warn(_log, trustpoint, "certificates accepted without a CRL",
                 "Trustpoint {trustpoint}: {subject} accepted without a revocation check"
                 " (revocation-check crl none): {why}",
                 trustpoint=trustpoint, subject=certificate.subject.rfc4514_string(), why=why)


class CdpCrls:
    """
    The CRLs fetched from the CRL Distribution Points of phone certificates
    (and intermediate CAs): one L{CrlChecker} per (URL, issuing CA), each
    verified against that CA and refreshed before its C{nextUpdate}.

    The cache is bounded: at most C{maxCrls} CRLs of at most C{crlMaxBytes}
    each, and at most C{maxTotalBytes} in all; the least recently used one
    goes (and stops refreshing) to make room.
    """

    def __init__(self, clock: IReactorTime, agent: IAgent, *, maxCrls: int = CDP_MAX_CRLS,
                 crlMaxBytes: int = CDP_MAX_CRL_BYTES, maxTotalBytes: int = CDP_MAX_TOTAL_BYTES) -> None:
        """
        @param clock: the timer and the time of day.
        @param agent: fetches the C{http://} URLs.
        @param maxCrls: the most CRLs kept.
        @param crlMaxBytes: the largest CRL accepted.
        @param maxTotalBytes: the most bytes of CRLs kept.
        """
        self.clock = clock
        self.agent = agent
        self.maxCrls = maxCrls
        self.crlMaxBytes = crlMaxBytes
        self.maxTotalBytes = maxTotalBytes
        self._checkers: OrderedDict[tuple[str, bytes], CrlChecker] = OrderedDict()
        self._sizes: dict[tuple[str, bytes], int] = {}
        self._limiter = LogLimiter(clock)
        self._running = True

    @property
    def checkers(self) -> tuple[CrlChecker, ...]:
        """The CRLs kept, least recently used first."""
        return tuple(self._checkers.values())

    def stop(self) -> None:
        """Stop refreshing every CRL and forget them."""
        self._running = False
        for checker in self._checkers.values():
            checker.stop()
        self._checkers.clear()
        self._sizes.clear()
        self._limiter.stop()

    def start(self) -> None:
        """Fetch CRLs again after L{stop} (a new cache fetches from its creation)."""
        self._running = True
        self._limiter.start()

    def refusal(self, certificate: x509.Certificate, issuer: x509.Certificate,
                policy: CdpPolicy) -> int | Refusal | None:
        """
        Check C{certificate} against the CRL of its first C{http://} CRL
        Distribution Point, issued by C{issuer}.

        @return: the refusal, or C{None} to accept it.
        """
        urls, others = distributionPoints(certificate)
        if others:
            self._limiter.info(_log, policy.trustpoint, "non-http CRL distribution points ignored",
                               "Trustpoint {trustpoint}: CRL distribution point {uris} of {subject} ignored"
                               " (only http:// is fetched)",
                               trustpoint=policy.trustpoint, uris=", ".join(others),
                               subject=certificate.subject.rfc4514_string())
        if not urls:
            return self._unavailable(policy, certificate, Refusal(X509_V_ERR_UNABLE_TO_GET_CRL, NO_CDP), NO_CDP)
        url = urls[0]
        key = (url, certificateDer(issuer))
        checker = self._checkers.get(key)
        if checker is None:
            if not self._running:
                return self._unavailable(policy, certificate, X509_V_ERR_UNABLE_TO_GET_CRL, "not running")
            checker = self._add(key, policy, issuer)
        self._checkers.move_to_end(key)
        if checker.crl is None and checker.fetching:
            reason = f"{CRL_UNAVAILABLE} (fetching {url})"
            return self._unavailable(policy, certificate, Refusal(X509_V_ERR_UNABLE_TO_GET_CRL, reason), reason)
        code = checker.refusal(certificate)
        if code is None or code == X509_V_ERR_CERT_REVOKED:
            return code
        return self._unavailable(policy, certificate, code, checker.problem or "the CRL has expired")

    def _unavailable(self, policy: CdpPolicy, certificate: x509.Certificate, refusal: int | Refusal,
                     why: str) -> int | Refusal | None:
        if not policy.optional:
            return refusal
        _acceptWithoutCrl(self._limiter, policy.trustpoint, certificate, why)
        return None

    def _add(self, key: tuple[str, bytes], policy: CdpPolicy, issuer: x509.Certificate) -> CrlChecker:
        while len(self._checkers) >= self.maxCrls:
            self._evict()
        checker = CrlChecker(policy.trustpoint, [issuer], self.clock, url=key[0], agent=self.agent,
                             maxBytes=self.crlMaxBytes)
        self._checkers[key] = checker
        self._sizes[key] = 0

        def fetched(result: None) -> None:
            if self._checkers.get(key) is not checker:
                return
            crl = checker.crl
            self._sizes[key] = len(crl.public_bytes(Encoding.DER)) if crl is not None else 0
            while sum(self._sizes.values()) > self.maxTotalBytes and len(self._checkers) > 1:
                if next(iter(self._checkers)) == key:
                    self._checkers.move_to_end(key)
                self._evict()

        checker.start().addCallback(fetched)
        return checker

    def _evict(self) -> None:
        key, checker = self._checkers.popitem(last=False)
        self._sizes.pop(key, None)
        checker.stop()
        _log.info("CRL from {source} dropped from the CRL cache", source=checker.source)


def _isCA(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _covers(checker: CrlChecker, certificate: x509.Certificate) -> bool:
    """
    Whether C{checker}'s configured CRL is the one for C{certificate}: a CA
    of its trustpoint issued it, and, for an intermediate CA certificate,
    the CRL in memory is that issuer's (a trustpoint holding a root and a
    sub-CA with the sub-CA's CRL configured: the sub-CA itself is checked
    against the root's CRL from its distribution point).
    """
    if not checker.issued(certificate):
        return False
    crl = checker.crl
    return crl is None or crl.issuer == certificate.issuer or not _isCA(certificate)


@implementer(IRevocationCheck)
class RevocationChecks:
    """
    The revocation check of a TLS listener: each certificate of a phone's
    chain below the trust anchor against the CRL of the trustpoint that
    issued it, or else, for a trustpoint that checks CRLs, against the CRL
    of its CRL Distribution Point.
    """

    def __init__(self, checkers: Sequence[CrlChecker], policies: Sequence[CdpPolicy] = (),
                 cdp: CdpCrls | None = None) -> None:
        """
        @param checkers: the configured CRLs.
        @param policies: the trustpoints that check CRLs (with C{cdp}).
        @param cdp: the CDP-fetched CRLs.
        """
        self.checkers = tuple(checkers)
        self.policies = tuple(policies)
        self.cdp = cdp

    def refusal(self, certificate: x509.Certificate, issuer: x509.Certificate | None = None,
                anchor: x509.Certificate | None = None) -> int | Refusal | None:
        """
        @return: the first refusal of a configured CRL that covers
            C{certificate}; when none covers it, the refusal of the CRL of its
            distribution point if the trustpoint of C{anchor} checks CRLs;
            or C{None}.
        """
        covered = False
        for checker in self.checkers:
            if _covers(checker, certificate):
                covered = True
                code = checker.refusal(certificate)
                if code is not None:
                    return code
        if covered or self.cdp is None or issuer is None:
            return None
        for policy in self.policies:
            if anchor in policy.caCertificates or (anchor is None and issuer in policy.caCertificates):
                return self.cdp.refusal(certificate, issuer, policy)
        return None


class CrlService(Service):
    """
    Keeps the CRLs of the phone trustpoints current while the router runs.

    @ivar checks: the L{RevocationChecks} for the TLS listener.
    @ivar firstAttempts: once started, a L{Deferred} firing when every
        checker's first load or fetch has ended.
    """

    def __init__(self, checkers: Sequence[CrlChecker], policies: Sequence[CdpPolicy] = (),
                 cdp: CdpCrls | None = None) -> None:
        self.checks = RevocationChecks(checkers, policies, cdp)
        self.firstAttempts: Deferred[object] = succeed(None)

    def startService(self) -> None:
        """Load or fetch every CRL and keep them current."""
        Service.startService(self)
        if self.checks.cdp is not None:
            self.checks.cdp.start()
        self.firstAttempts = gatherResults([checker.start() for checker in self.checks.checkers])

    def stopService(self) -> None:
        """Stop refreshing."""
        Service.stopService(self)
        for checker in self.checks.checkers:
            checker.stop()
        if self.checks.cdp is not None:
            self.checks.cdp.stop()


def renderCrls(checkers: Sequence[CrlChecker]) -> CommandResult:
    """
    C{show crypto pki crls}: each phone trustpoint's CRL in memory, as IOS
    shows it, with where it came from and, when the last load or fetch
    failed, why.
    """
    lines: list[str] = []
    data = []
    for checker in checkers:
        crl = checker.crl
        entry: dict[str, Any] = {"trustpoint": checker.trustpoint, "source": checker.source,
                                 "optional": checker.optional, "problem": checker.problem}
        if crl is not None:
            entry.update(issuer=crl.issuer.rfc4514_string(), lastUpdate=crl.last_update_utc.isoformat(),
                         nextUpdate=crl.next_update_utc.isoformat() if crl.next_update_utc else None,
                         revoked=sorted(r.serial_number for r in crl))
            lines += [
                "CRL Issuer Name: ",
                f"    {crl.issuer.rfc4514_string()}",
                f"    LastUpdate: {iosTime(crl.last_update_utc)}",
                f"    NextUpdate: {iosTime(crl.next_update_utc) if crl.next_update_utc else 'none'}",
                "    Retrieved from CRL Distribution Point: ",
                f"      {checker.source}",
                f"    CRL size is {len(crl.public_bytes(Encoding.DER))} bytes",
                f"    CRL is stored in parent trustpoint {checker.trustpoint}, {len(crl)} revoked",
            ]
        else:
            lines.append(f"Trustpoint {checker.trustpoint}: no CRL from {checker.source}")
        if checker.problem is not None:
            lines.append(f"    Last retrieval failed: {checker.problem}")
        data.append(entry)
    return CommandResult("\n".join(lines), data)


def requestCrl(checkers: Sequence[CrlChecker], trustpoint: str) -> Deferred[CommandResult]:
    """
    C{crypto pki crl request <trustpoint>}: load or fetch the trustpoint's
    CRL now.

    @return: a L{Deferred} firing with what was loaded, or failing with
        L{CommandError} naming why the CRL could not be had.
    @raise CommandError: for a trustpoint that does not check CRLs.
    """
    for checker in checkers:
        if checker.trustpoint == trustpoint:
            break
    else:
        names = ", ".join(c.trustpoint for c in checkers) or "none"
        raise CommandError(f"Trustpoint {trustpoint} has no CRL to request (revocation-check crl: {names})")

    def done(problem: str | None) -> CommandResult:
        crl = checker.crl
        if problem is not None or crl is None:
            raise CommandError(f"CRL for trustpoint {trustpoint} could not be retrieved from {checker.source}:"
                               f" {problem}")
        nextUpdate = crl.next_update_utc
        text = (f"% CRL for trustpoint {trustpoint} retrieved from {checker.source}: {len(crl)} revoked,"
                f" NextUpdate {iosTime(nextUpdate) if nextUpdate else 'none'}")
        return CommandResult(text, {"trustpoint": trustpoint, "source": checker.source,
                                    "revoked": sorted(r.serial_number for r in crl),
                                    "nextUpdate": nextUpdate.isoformat() if nextUpdate else None})

    return checker.refreshNow().addCallback(done)


def registerCrlCommands(table: CommandTable, checkers: Sequence[CrlChecker], cdp: CdpCrls | None = None) -> None:
    """
    Register C{show crypto pki crls} (the configured CRLs, then those
    fetched from CRL Distribution Points, C{cdp}) and C{crypto pki crl
    request <trustpoint>} (the configured ones).
    """
    def show() -> CommandResult:
        return renderCrls(tuple(checkers) + (cdp.checkers if cdp is not None else ()))

    table.add("show crypto pki crls", show, "CRLs of the phone trustpoints")
    table.add("crypto pki crl request <trustpoint>", lambda trustpoint: requestCrl(checkers, trustpoint),
              "fetch a trustpoint's CRL now")
