"""
Tests for L{srst.pki.httpbody}: reading a response body with a size limit
(real HTTP on 127.0.0.1; the endless chunked bodies are in
L{tests.test_pki_crl} and L{tests.test_pki_scepenroll}).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent
from twisted.web.resource import Resource
from twisted.web.server import Site

from srst.pki.httpbody import BodyTooLarge, readCappedBody
from tests.routerhelpers import bounded


class Fixed(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"x" * 100


class ReadCappedBodyTests(TestCase):
    def get(self) -> Any:
        site = Site(Fixed())
        site.log = lambda request: None  # type: ignore[method-assign]
        port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        return Agent(reactor).request(b"GET", b"http://127.0.0.1:%d/" % (port.getHost().port,))

    @bounded
    def test_withinLimit(self) -> Any:
        """
        A body no longer than the limit is the body.
        """
        response = yield self.get()
        self.assertEqual((yield readCappedBody(response, 100)), b"x" * 100)

    @bounded
    def test_announcedTooLarge(self) -> Any:
        """
        A Content-Length over the limit fails at once with L{BodyTooLarge}
        saying the limit.
        """
        response = yield self.get()
        e = yield self.assertFailure(readCappedBody(response, 99), BodyTooLarge)
        self.assertEqual(str(e), "larger than 99 bytes")
