# -*- test-case-name: tests.test_http_metrics -*-
"""
C{/metrics}: a Prometheus collector registry served in the text
exposition format on the router's web site.

The collectors run on the reactor thread at scrape time (they read the
router's own counters; see L{srst.metrics}): the resource renders
synchronously, never through a thread pool, so nothing reads the router's
state from another thread.  Only C{GET} and C{HEAD} are answered (405
otherwise, Twisted's own).  The body is the text exposition format, or
OpenMetrics when the scraper's C{Accept} asks for it (Prometheus does).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from twisted.web import server
from twisted.web.resource import Resource

METRICS_PATH = "/metrics"
"""Where the site serves the metrics (Prometheus's default path)."""


class MetricsResource(Resource):
    """
    The text exposition of one L{CollectorRegistry}.

    @ivar registry: what is exposed.
    """

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        Resource.__init__(self)
        self.registry = registry

    def render_GET(self, request: server.Request) -> bytes:
        # The format the scraper asks for (Accept: OpenMetrics or the text
        # format), as the client library's own servers choose it.
        accept = request.getHeader(b"accept")
        encoder, contentType = choose_encoder(accept.decode("latin-1") if accept is not None else "")
        body = encoder(self.registry)
        request.setHeader(b"Content-Type", contentType.encode("ascii"))
        request.setHeader(b"Cache-Control", b"no-store")
        return body

    def render_HEAD(self, request: server.Request) -> bytes:
        return self.render_GET(request)


__all__ = ["METRICS_PATH", "MetricsResource"]
