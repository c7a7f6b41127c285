# -*- test-case-name: tests.test_pki_scepresource -*-
"""
The thin twisted.web face of L{srst.pki.scepserver.ScepServer}: the
resource IOS serves at C{/cgi-bin/pkiclient.exe}.

C{GET ?operation=GetCACaps}, C{GET ?operation=GetCACert}, and
C{PKIOperation} by POST (the body) or GET (C{message=} base64, as old
clients send).  PKIOperation runs in a worker thread (C{runInThread}): it
signs, decrypts and C{fsync}s.  Bodies above L{MAX_BODY} are refused with
413 before anything is parsed (the HTTP site limits them first).  Refusals
(an unusable message, a CertRep FAILURE) are logged under
C{srst.pki.scep} through a L{LogLimiter}, keyed by the client's address.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Callable

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import NoResource, Resource
from twisted.web.server import NOT_DONE_YET

from srst.lograte import LogLimiter
from srst.pki.errors import CertificateServerError
from srst.pki.scep import MAX_MESSAGE
from srst.pki.scepserver import CertRep, ScepServer, UnusableMessage

__all__ = ["MAX_BODY", "SCEP_PATH", "ScepResource"]

_log = Logger(namespace="srst.pki.scep")

SCEP_PATH = b"/cgi-bin/pkiclient.exe"
MAX_BODY = MAX_MESSAGE


class ScepResource(Resource):
    """
    One SCEP endpoint; mount it at L{SCEP_PATH}.
    """

    isLeaf = True

    def __init__(self, scep: ScepServer, runInThread: Callable[..., Deferred[Any]], logLimiter: LogLimiter) -> None:
        """
        @param scep: the SCEP operations.
        @param runInThread: runs PKIOperation off the reactor thread.
        @param logLimiter: rate-limits the refusal log lines per client.
        """
        super().__init__()
        self._scep = scep
        self._runInThread = runInThread
        self._logLimiter = logLimiter

    def render(self, request: IRequest) -> bytes | int:
        """
        The endpoint itself only: a path below it is 404, like any other
        path the site does not serve.
        """
        if request.postpath:  # type: ignore[attr-defined]
            return NoResource().render(request)
        return super().render(request)

    def render_GET(self, request: IRequest) -> bytes | int:
        operation = _argument(request, b"operation")
        if operation == b"GetCACaps":
            return _answer(request, http.OK, b"text/plain", self._scep.capabilities())
        if operation == b"GetCACert":
            try:
                der = self._scep.caCertificate()
            except CertificateServerError as e:
                return _answer(request, http.SERVICE_UNAVAILABLE, b"text/plain", f"{e}\n".encode())
            return _answer(request, http.OK, b"application/x-x509-ca-cert", der)
        if operation == b"PKIOperation":
            message = _argument(request, b"message") or b""
            try:
                body = base64.b64decode(message, validate=False)
            except (binascii.Error, ValueError):
                return _answer(request, http.BAD_REQUEST, b"text/plain", b"message is not base64\n")
            return self._operate(request, body)
        return _answer(request, http.BAD_REQUEST, b"text/plain",
                       b"unknown or missing operation (GetCACaps, GetCACert, PKIOperation)\n")

    def render_POST(self, request: IRequest) -> bytes | int:
        if _argument(request, b"operation") != b"PKIOperation":
            return _answer(request, http.BAD_REQUEST, b"text/plain", b"POST supports operation=PKIOperation only\n")
        content = request.content
        assert content is not None
        body = content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return _answer(request, http.REQUEST_ENTITY_TOO_LARGE, b"text/plain",
                           b"the PKIOperation message is larger than %d bytes\n" % (MAX_BODY,))
        return self._operate(request, body)

    def _operate(self, request: IRequest, body: bytes) -> int:
        connection = _Connection(request)  # before the work starts: it may end at once
        d = self._runInThread(self._scep.pkiOperation, body)
        peer = _peer(request)

        def answered(reply: CertRep) -> None:
            if reply.refusal is not None:
                self._logLimiter.info(_log, peer, "SCEP requests refused", "SCEP: {peer}: {refusal}",
                                      peer=peer, refusal=reply.refusal)
            if connection.open:
                _answer(request, http.OK, b"application/x-pki-message", reply.der, finish=True)

        def failed(failure: Failure) -> None:
            if failure.check(UnusableMessage):
                reason = failure.value.reason  # type: ignore[union-attr]
                self._logLimiter.info(_log, peer, "unusable SCEP messages", "SCEP: {peer}: unusable"
                                      " PKIOperation message: {reason}", peer=peer, reason=reason)
                text, code = f"not a usable SCEP message: {reason}\n".encode(), http.BAD_REQUEST
            elif failure.check(CertificateServerError):
                text, code = f"{failure.value}\n".encode(), http.SERVICE_UNAVAILABLE
            else:
                _log.failure("SCEP: PKIOperation failed", failure)
                text, code = b"internal error\n", http.INTERNAL_SERVER_ERROR
            if connection.open:
                _answer(request, code, b"text/plain", text, finish=True)

        d.addCallbacks(answered, failed)
        return NOT_DONE_YET


class _Connection:
    """
    Whether a request can still be answered: C{open} until it is finished
    or its client has gone (L{IRequest.notifyFinish}).
    """

    def __init__(self, request: IRequest) -> None:
        self.open = True
        request.notifyFinish().addBoth(self._closed)

    def _closed(self, result: object) -> None:
        self.open = False


def _peer(request: IRequest) -> str:
    address = request.getClientAddress()
    if isinstance(address, (IPv4Address, IPv6Address)):
        return address.host
    return str(address)


def _argument(request: IRequest, name: bytes) -> bytes | None:
    values = (request.args or {}).get(name)
    return values[0] if values else None


def _answer(request: IRequest, code: int, contentType: bytes, body: bytes, finish: bool = False) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", contentType)
    if finish:
        request.write(body)
        request.finish()
    return body
