# -*- test-case-name: tests.test_pki_publication -*-
"""
The certificate server's CRL, published: L{CrlResource} serves the current
CRL over HTTP (what C{cdp-url} points at), L{CrlRenewal} re-signs it before
its nextUpdate (IOS re-issues the CRL of C{lifetime crl} before it lapses),
so relying parties that fetch it never hold an expired CRL.
"""

from __future__ import annotations

import datetime
from typing import Callable

from cryptography.hazmat.primitives.serialization import Encoding
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import Request

from srst.pki.ca import CertificateServer

CRL_CONTENT_TYPE = b"application/pkix-crl"
"""RFC 2585's media type for a DER CRL."""

RENEW_AHEAD = datetime.timedelta(hours=1)
"""How long before its nextUpdate the CRL is re-signed (half its lifetime
when that is shorter)."""

RETRY_SECONDS = 60.0
"""Seconds before trying again when re-signing failed (a disk error) or
did not happen."""


def crlPath(server: CertificateServer) -> str:
    """
    @return: the plain HTTP path of C{server}'s CRL, C{/crl/<name>.crl}.
    """
    return f"/crl/{server.name}.crl"


class CrlResource(Resource):
    """
    C{GET /crl/<server>.crl}: the certificate server's current CRL, DER, as
    C{application/pkix-crl}; 503 while the server has not started.  C{HEAD}
    answers the same headers without the body.
    """

    isLeaf = True

    def __init__(self, server: CertificateServer) -> None:
        Resource.__init__(self)
        self._server = server

    def render_GET(self, request: Request) -> bytes:
        if not self._server.started:
            request.setResponseCode(503)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"certificate server not started\n"
        request.setHeader(b"content-type", CRL_CONTENT_TYPE)
        return self._server.crl.public_bytes(Encoding.DER)

    def render_HEAD(self, request: Request) -> bytes:
        """
        The GET's status and headers, its length in C{Content-Length}, no
        body.
        """
        body = self.render_GET(request)
        request.setHeader(b"content-length", b"%d" % (len(body),))
        return b""


class CrlRenewal(Service):
    """
    Re-sign the certificate server's CRL before it expires: a timer on the
    injected clock fires L{RENEW_AHEAD} before the current CRL's nextUpdate
    (a revocation that re-signed in between only moves the next firing).
    Started by the service once the certificate server has started
    (L{schedule}); stopping the service cancels the timer.
    """

    log = Logger()

    def __init__(
        self,
        server: CertificateServer,
        clock: IReactorTime,
        now: Callable[[], datetime.datetime],
        runInThread: Callable[..., Deferred],
    ) -> None:
        """
        @param server: the certificate server.
        @param clock: runs the timer.
        @param now: the wall clock the server signs with.
        @param runInThread: runs the signing off the reactor thread.
        """
        self.setName("crl-renewal")
        self._server = server
        self._clock = clock
        self._now = now
        self._runInThread = runInThread
        self._call: IDelayedCall | None = None
        self._ahead = min(RENEW_AHEAD, server.crlLifetime / 2)

    @property
    def scheduled(self) -> float | None:
        """
        When (in the clock's seconds) the CRL is next looked at, or
        L{None} when no timer is armed.
        """
        return self._call.getTime() if self._call is not None and self._call.active() else None

    def schedule(self) -> None:
        """
        Arm the timer for the current CRL (call once the server started).
        """
        if not self.running:
            return
        self._cancel()
        due = self._server.crl.next_update_utc - self._ahead
        delay = (due - self._now()).total_seconds()
        if delay <= 0:
            # Due already: the server did not re-sign (its clock and ours
            # disagree); try again later rather than spin.
            delay = RETRY_SECONDS
        self._call = self._clock.callLater(delay, self._renew)

    def _renew(self) -> None:
        self._call = None
        before = self._server.crl
        d = self._runInThread(self._server.refreshCrl, False, self._ahead)
        d.addCallbacks(self._renewed, self._failed, callbackArgs=(before,))

    def _renewed(self, crl: object, before: object) -> None:
        if crl is not before:
            self.log.info("Certificate server {name}: CRL re-signed, next update {nextUpdate}",
                          name=self._server.name,
                          nextUpdate=self._server.crl.next_update_utc.isoformat())
        self.schedule()

    def _failed(self, failure: Failure) -> None:
        self.log.failure("Certificate server {name}: cannot re-sign the CRL; trying again in {seconds} s",
                         failure, name=self._server.name, seconds=RETRY_SECONDS)
        if self.running:
            self._call = self._clock.callLater(RETRY_SECONDS, self._renew)

    def _cancel(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def stopService(self) -> None:
        Service.stopService(self)
        self._cancel()
