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
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.web.client import FileBodyProducer, ResponseFailed, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgent, IResponse

from srst.pki._x509 import certificateFingerprint, parseDistinguishedName
from srst.pki.errors import TrustpointError
from srst.pki.scep import MAX_MESSAGE, ScepError, parseCertificatesOnly
from srst.pki.scepclient import Enrolled, Pending, Refused, ScepClient
from srst.pki.trust import IdentityTrustpoint

__all__ = ["POLL_INTERVAL_SECONDS", "POLL_LIMIT", "ScepEnrollment", "TIMEOUT_SECONDS"]

_log = Logger(namespace="srst.pki.scep")

# IOS polls a pending request every minute (crypto pki trustpoint: auto-enroll
# retry period 1); a week of polls at most.
POLL_INTERVAL_SECONDS = 60
POLL_LIMIT = 7 * 24 * 60
TIMEOUT_SECONDS = 30


class ScepEnrollment:
    """
    One identity trustpoint's C{enrollment url}.

    @ivar configPath: the YAML path of the trustpoint's C{enrollment}, for
        the errors.
    @ivar now: the wall clock (the transient signer certificate's validity).
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
        url = f"{self.url}?operation={operation.decode('ascii')}".encode("ascii")
        headers = Headers({b"user-agent": [b"srst"]})
        producer = None
        if body is not None:
            headers.setRawHeaders(b"content-type", [b"application/x-pki-message"])
            producer = FileBodyProducer(BytesIO(body))
        d: Deferred[IResponse] = self.agent.request(method, url, headers, producer)
        d.addTimeout(TIMEOUT_SECONDS, self.clock)
        try:
            response = await d
        except (ConnectError, ResponseFailed, TimeoutError) as e:  # error.TimeoutError is a ConnectError
            raise self._error(f"cannot reach {self.url} ({operation.decode('ascii')}): {e}") from None
        if response.length is not UNKNOWN_LENGTH and response.length > MAX_MESSAGE:
            response.deliverBody(Protocol())
            raise self._error(f"{self.url} answered {operation.decode('ascii')} with {response.length} bytes")
        data = await readBody(response)
        if response.code != 200:
            raise self._error(f"{self.url} answered {operation.decode('ascii')} with HTTP {response.code} "
                              f"{response.phrase.decode('latin-1')}")
        kind = (response.headers.getRawHeaders(b"content-type") or [b""])[0]
        return kind, data

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
        try:
            _, data = await self._request(b"POST", b"PKIOperation", client.pkcsReq(self.password))
            outcome = client.outcome(data)
            polls = 0
            while isinstance(outcome, Pending):
                if polls == self.pollLimit:
                    raise self._error(f"{self.url} left the request pending after {polls} polls")
                wait = deferLater(self.clock, self.pollInterval, lambda: None)
                if polls == 0:
                    _log.warn("Trustpoint {name}: enrollment request to {url} is pending; polling every"
                              " {interval} seconds", name=self.name, url=self.url, interval=self.pollInterval)
                polls += 1
                await wait
                _, data = await self._request(b"POST", b"PKIOperation", client.certPoll())
                outcome = client.outcome(data)
        except ScepError as e:
            raise self._error(f"{self.url} answered with an unusable CertRep ({e})") from None
        if isinstance(outcome, Refused):
            raise self._error(f"{self.url} refused the enrollment request ({outcome.reason})")
        assert isinstance(outcome, Enrolled)
        await runInThread(identity.install, outcome.certificate, [ca])

