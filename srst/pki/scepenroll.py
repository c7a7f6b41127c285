# -*- test-case-name: tests.test_pki_scepenroll -*-
"""
IOS C{enrollment url}: an identity trustpoint enrolls over SCEP with a
certificate server across HTTP.

C{crypto pki authenticate} is GetCACert, pinned by the configured
fingerprint; C{crypto ca enroll} is PKCSReq, then CertPoll on the clock
while the answer is PENDING.  The messages are L{srst.pki.scepclient}'s;
this module only carries them (C{twisted.web.client.Agent}).
"""

from __future__ import annotations

import datetime
from io import BytesIO
from typing import Any, Callable, Sequence

from cryptography import x509
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.error import ConnectError
from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import FileBodyProducer, ResponseFailed
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from srst.pki._x509 import certificateFingerprint, parseDistinguishedName
from srst.pki.errors import TrustpointError
from srst.pki.httpbody import BodyTooLarge, readCappedBody
from srst.pki.scep import MAX_MESSAGE, ScepError, parseCertificatesOnly
from srst.pki.scepclient import Enrolled, Pending, Refused, ScepClient
from srst.pki.trust import IdentityTrustpoint

__all__ = ["AutoEnroll", "POLL_INTERVAL_SECONDS", "POLL_LIMIT", "RENEWAL_RETRY_SECONDS", "ScepEnrollment",
           "TIMEOUT_SECONDS"]

_log = Logger(namespace="srst.pki.scep")

# IOS polls a pending request every minute (enrollment retry period 1), ten
# times (enrollment retry count 10; 0 is no limit).
POLL_INTERVAL_SECONDS = 60
POLL_LIMIT = 10
TIMEOUT_SECONDS = 30
# A failed renewal is tried again an hour later (the current certificate
# stays in use meanwhile).
RENEWAL_RETRY_SECONDS = 60 * 60


class ScepEnrollment:
    """
    One identity trustpoint's C{enrollment url}.

    @ivar configPath: the YAML path of the trustpoint's C{enrollment}, for
        the errors.
    @ivar now: the wall clock (the transient signer certificate's validity).
    @ivar pollInterval: seconds between polls of a PENDING request (IOS
        C{enrollment retry period}, in minutes there).
    @ivar pollLimit: polls before giving up, 0 for no limit (IOS
        C{enrollment retry count}).
    """

    def __init__(self, name: str, url: str, fingerprint: str | None, password: str | None, *,
                 agent: IAgent, clock: IReactorTime, now: Callable[[], datetime.datetime], configPath: str,
                 pollInterval: float = POLL_INTERVAL_SECONDS, pollLimit: int = POLL_LIMIT) -> None:
        self.name = name
        self.url = url.rstrip("/") + "/cgi-bin/pkiclient.exe"
        self.fingerprint = fingerprint
        self.password = password
        self.agent = agent
        self.clock = clock
        self.now = now
        self.configPath = configPath
        self.pollInterval = pollInterval
        self.pollLimit = pollLimit

    def _error(self, reason: str) -> TrustpointError:
        return TrustpointError(self.name, reason)

    async def _request(self, method: bytes, operation: bytes, body: bytes | None = None) -> tuple[bytes, bytes]:
        """
        One SCEP exchange: the request, the answer's headers and its body
        (at most L{MAX_MESSAGE} bytes), all within L{TIMEOUT_SECONDS}.
        """
        exchange = Deferred.fromCoroutine(self._http(method, operation, body))
        exchange.addTimeout(TIMEOUT_SECONDS, self.clock)
        name = operation.decode("ascii")
        try:
            response, data = await exchange
        except TimeoutError:
            raise self._error(f"cannot reach {self.url} ({name}): no complete answer within {TIMEOUT_SECONDS} s") from None
        except (ConnectError, ResponseFailed) as e:  # error.TimeoutError is a ConnectError
            raise self._error(f"cannot reach {self.url} ({name}): {e}") from None
        except BodyTooLarge as e:
            raise self._error(f"{self.url} answered {name} with a body {e}") from None
        if response.code != 200:
            raise self._error(f"{self.url} answered {name} with HTTP {response.code} "
                              f"{response.phrase.decode('latin-1')}")
        kind = (response.headers.getRawHeaders(b"content-type") or [b""])[0]
        return kind, data

    async def _http(self, method: bytes, operation: bytes, body: bytes | None) -> tuple[IResponse, bytes]:
        url = f"{self.url}?operation={operation.decode('ascii')}".encode("ascii")
        headers = Headers({b"user-agent": [b"srst"]})
        producer = None
        if body is not None:
            headers.setRawHeaders(b"content-type", [b"application/x-pki-message"])
            producer = FileBodyProducer(BytesIO(body))
        response = await self.agent.request(method, url, headers, producer)
        return response, await readCappedBody(response, MAX_MESSAGE)

    async def authenticate(self) -> x509.Certificate:
        """
        C{crypto pki authenticate}: fetch the CA certificate and check it
        against the configured fingerprint.

        @raise TrustpointError: no fingerprint configured (the fingerprint
            is logged for the operator to confirm), or it does not match.
        """
        kind, data = await self._request(b"GET", b"GetCACert")
        try:
            if kind.startswith(b"application/x-x509-ca-ra-cert"):
                certificates = parseCertificatesOnly(data)[0]
                ca = next(c for c in certificates if c.subject == c.issuer)
            else:
                ca = x509.load_der_x509_certificate(data)
        except (ScepError, StopIteration, ValueError):
            raise self._error(f"{self.url} GetCACert did not answer a CA certificate") from None
        md5, sha256 = certificateFingerprint(ca, "md5"), certificateFingerprint(ca, "sha256")
        digits = {"".join(f.split()).upper() for f in (md5, sha256)}
        if self.fingerprint is None:
            _log.warn("Trustpoint {name}: CA certificate {subject} from {url} has MD5 fingerprint {md5},"
                      " SHA-256 fingerprint {sha256}; not trusted until {path}.fingerprint says so",
                      name=self.name, subject=ca.subject.rfc4514_string(), url=self.url, md5=md5, sha256=sha256,
                      path=self.configPath)
            raise self._error(f"{self.configPath}.fingerprint is not configured; the CA certificate's MD5"
                              f" fingerprint is {md5}")
        if self.fingerprint not in digits:
            raise self._error(f"{self.configPath}.fingerprint {self.fingerprint} does not match the CA certificate"
                              f" from {self.url} (MD5 {md5}, SHA-256 {sha256})")
        _log.info("Trustpoint {name}: CA certificate {subject} authenticated by fingerprint",
                  name=self.name, subject=ca.subject.rfc4514_string())
        return ca

    async def enroll(self, identity: IdentityTrustpoint, dnsNames: Sequence[str],
                     runInThread: Callable[..., Deferred[Any]], ipAddresses: Sequence[str] = ()) -> None:
        """
        C{crypto ca enroll}: authenticate the CA, send PKCSReq, poll while
        PENDING, and install the certificate in C{identity} (atomically).

        @param dnsNames: DNS subjectAltNames to ask for (the hostname).
        @param runInThread: runs the CPU-/fsync-heavy steps (key
            generation, installing).
        @param ipAddresses: IP subjectAltNames to ask for (the listener
            addresses).

        @raise TrustpointError: refused (with the failInfo), the poll limit
            reached, or an unusable reply.
        """
        ca = await self.authenticate()
        key = await runInThread(identity.ensureKey)
        subject = identity.subjectName or f"CN={dnsNames[0] if dnsNames else identity.name}"
        try:
            client = ScepClient(ca, key, parseDistinguishedName(subject), self.now, dnsNames=dnsNames,
                                ipAddresses=ipAddresses)
        except ScepError as e:
            raise self._error(e.reason) from None
        certificate = await self._exchange(client, client.pkcsReq(self.password), "enrollment")
        await runInThread(identity.install, certificate, [ca])

    async def _exchange(self, client: ScepClient, request: bytes, what: str) -> x509.Certificate:
        """
        Send C{request}, poll while PENDING.

        @param what: C{"enrollment"} or C{"renewal"}, for the messages.
        @return: the issued certificate.
        """
        try:
            _, data = await self._request(b"POST", b"PKIOperation", request)
            outcome = client.outcome(data)
            polls = 0
            while isinstance(outcome, Pending):
                if polls == self.pollLimit and self.pollLimit:
                    raise self._error(f"{self.url} left the request pending after {polls} polls")
                wait = deferLater(self.clock, self.pollInterval, lambda: None)
                if polls == 0:
                    _log.warn("Trustpoint {name}: {what} request to {url} is pending; polling every"
                              " {interval} seconds", name=self.name, what=what, url=self.url,
                              interval=self.pollInterval)
                polls += 1
                await wait
                _, data = await self._request(b"POST", b"PKIOperation", client.certPoll())
                outcome = client.outcome(data)
        except ScepError as e:
            raise self._error(f"{self.url} answered with an unusable CertRep ({e})") from None
        if isinstance(outcome, Refused):
            raise self._error(f"{self.url} refused the {what} request ({outcome.reason})")
        assert isinstance(outcome, Enrolled)
        return outcome.certificate

    async def renew(self, identity: IdentityTrustpoint, dnsNames: Sequence[str],
                    runInThread: Callable[..., Deferred[Any]], ipAddresses: Sequence[str] = ()) -> None:
        """
        IOS C{auto-enroll} without C{regenerate}: authenticate the CA, send
        a RenewalReq for the same key signed with the current certificate,
        poll while PENDING, and install the new certificate in C{identity}
        (atomically; the current one stays until then).  A certificate that
        has expired cannot sign a RenewalReq the server accepts: the router
        enrolls again instead (PKCSReq, same key, the challenge password),
        as IOS C{auto-enroll} without a percentage does when the
        certificate expires.

        @raise TrustpointError: as L{enroll}.
        """
        current, key = identity.certificate, identity.privateKey
        assert current is not None and key is not None
        if self.now() >= current.not_valid_after_utc:
            _log.info("Trustpoint {name}: certificate serial 0x{serial:X} expired at {notAfter}; enrolling again"
                      " (PKCSReq) with {url}", name=self.name, serial=current.serial_number,
                      notAfter=current.not_valid_after_utc.isoformat(), url=self.url)
            await self.enroll(identity, dnsNames, runInThread, ipAddresses)
            return
        ca = await self.authenticate()
        try:
            client = ScepClient(ca, key, current.subject, self.now, dnsNames=dnsNames, ipAddresses=ipAddresses,
                                current=current)
        except ScepError as e:
            raise self._error(e.reason) from None
        certificate = await self._exchange(client, client.renewalReq(), "renewal")
        await runInThread(identity.install, certificate, [ca])


class AutoEnroll(Service):
    """
    IOS C{auto-enroll PERCENT}: renew a SCEP-enrolled identity when
    C{percent} of its certificate's validity has passed (a timer on the
    injected clock; 100, IOS C{auto-enroll} without a percentage, is when
    it expires), with the same key; after a renewal the timer is armed
    for the new certificate, after a failure it fires again
    L{RENEWAL_RETRY_SECONDS} later and the current certificate stays.
    Started once the identity is enrolled (L{schedule}); stopping the
    service cancels the timer and a renewal under way.
    """

    def __init__(self, enrollment: ScepEnrollment, identity: IdentityTrustpoint, percent: int, *,
                 dnsNames: Sequence[str], ipAddresses: Sequence[str], runInThread: Callable[..., Deferred[Any]],
                 renewed: Callable[[], None], retry: float = RENEWAL_RETRY_SECONDS) -> None:
        """
        @param percent: C{auto-enroll}, 1-100.
        @param renewed: called once a new certificate is installed (the
            listeners present it from then on).
        @param retry: seconds before a failed renewal is tried again.
        """
        self.setName(f"auto-enroll {identity.name}")
        self.enrollment = enrollment
        self.identity = identity
        self.percent = percent
        self.dnsNames, self.ipAddresses = tuple(dnsNames), tuple(ipAddresses)
        self.runInThread = runInThread
        self.renewed = renewed
        self.retry = retry
        self._call: IDelayedCall | None = None
        self._renewal: Deferred[None] | None = None

    @property
    def scheduled(self) -> float | None:
        """
        When (in the clock's seconds) the next renewal starts, or L{None}.
        """
        return self._call.getTime() if self._call is not None and self._call.active() else None

    def schedule(self) -> None:
        """
        Arm the timer for the installed certificate: at C{percent} of its
        validity (a renewal already due starts now).
        """
        if not self.running:
            return
        self._cancel()
        certificate = self.identity.certificate
        assert certificate is not None
        start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        due = start + (end - start) * self.percent / 100
        delay = (due - self.enrollment.now()).total_seconds()
        if delay > 0:
            self._call = self.enrollment.clock.callLater(delay, self._renew)
        _log.info("Trustpoint {name}: auto-enroll renews certificate serial 0x{serial:X} at {due}"
                  " ({percent}% of its validity)", name=self.identity.name, serial=certificate.serial_number,
                  due=due.isoformat(), percent=self.percent)
        if delay <= 0:
            self._renew()

    def _renew(self) -> None:
        self._call = None
        old = self.identity.certificate
        assert old is not None
        _log.info("Trustpoint {name}: auto-enroll renewing certificate serial 0x{serial:X} over SCEP with {url}",
                  name=self.identity.name, serial=old.serial_number, url=self.enrollment.url)
        self._renewal = Deferred.fromCoroutine(self.enrollment.renew(
            self.identity, self.dnsNames, self.runInThread, self.ipAddresses))
        self._renewal.addCallbacks(self._renewed, self._failed, callbackArgs=(old,))

    def _renewed(self, _: None, old: x509.Certificate) -> None:
        self._renewal = None
        new = self.identity.certificate
        assert new is not None
        self.renewed()
        _log.info("Trustpoint {name}: auto-enroll renewed certificate serial 0x{old:X} as serial 0x{serial:X},"
                  " valid until {notAfter}", name=self.identity.name, old=old.serial_number,
                  serial=new.serial_number, notAfter=new.not_valid_after_utc.isoformat())
        self.schedule()

    def _failed(self, failure: Failure) -> None:
        self._renewal = None
        if not self.running:
            return
        self._call = self.enrollment.clock.callLater(self.retry, self._renew)
        if failure.check(TrustpointError):
            _log.error("Trustpoint {name}: auto-enroll renewal failed: {reason}; the current certificate stays,"
                       " trying again in {seconds} seconds", name=self.identity.name,
                       reason=failure.value.reason, seconds=self.retry)
        else:
            _log.failure("Trustpoint {name}: auto-enroll renewal failed; the current certificate stays,"
                         " trying again in {seconds} seconds", failure, name=self.identity.name, seconds=self.retry)

    def _cancel(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def stopService(self) -> None:
        Service.stopService(self)
        self._cancel()
        if self._renewal is not None:
            self._renewal.cancel()
