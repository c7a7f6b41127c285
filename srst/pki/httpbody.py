# -*- test-case-name: tests.test_pki_httpbody -*-
"""
Reading an HTTP response body with a size limit, for the router's HTTP
clients (the CRL fetch, the SCEP enrollment): a peer that announces or
streams more than the limit (a chunked answer that never ends, say) is cut
off as soon as it passes it, instead of filling memory.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse

__all__ = ["BodyTooLarge", "readCappedBody"]


class BodyTooLarge(Exception):
    """
    The response body is longer than the limit.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class _CappedBody(Protocol):
    def __init__(self, limit: int) -> None:
        self.finished: Deferred[bytes] | None = Deferred(self._cancel)
        self._limit = limit
        self._chunks: list[bytes] = []
        self._received = 0

    def _cancel(self, finished: Deferred[bytes]) -> None:
        self._finished(None)
        if self.transport is not None:
            self.transport.stopProducing()

    def _finished(self, result: bytes | Failure | None) -> None:
        finished, self.finished, self._chunks = self.finished, None, []
        if finished is not None and result is not None:
            if isinstance(result, Failure):
                finished.errback(result)
            else:
                finished.callback(result)

    def dataReceived(self, data: bytes) -> None:
        if self.finished is None:
            return
        self._received += len(data)
        if self._received > self._limit:
            self._finished(Failure(BodyTooLarge(self._limit)))
            self.transport.stopProducing()
            return
        self._chunks.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.finished is None:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self._finished(b"".join(self._chunks))
        else:
            self._finished(reason)


def readCappedBody(response: IResponse, limit: int) -> Deferred[bytes]:
    """
    Read C{response}'s body, at most C{limit} bytes.

    @return: a L{Deferred} firing with the body, or failing with
        L{BodyTooLarge} (at once when the C{Content-Length} says so, or as
        soon as more than C{limit} bytes arrived) or with why the body was
        cut short.  Cancelling it stops reading (the connection is closed).
    """
    if response.length is not UNKNOWN_LENGTH and response.length > limit:
        response.deliverBody(Protocol())
        return fail(BodyTooLarge(limit))
    protocol = _CappedBody(limit)
    finished = protocol.finished
    assert finished is not None
    response.deliverBody(protocol)
    return finished

