"""
Tests for L{srst.http.metrics}: a collector registry served on the
router's L{HttpSite} over 127.0.0.1, in the format the scraper asks for.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openMetricsFamilies
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers

from srst.http.metrics import METRICS_PATH, MetricsResource
from srst.http.site import HttpSite
from tests.routerhelpers import bounded, within


class _Scrapes:
    """A collector counting the scrapes that read it."""

    def __init__(self) -> None:
        self.scrapes = 0

    def collect(self) -> Any:
        self.scrapes += 1
        yield CounterMetricFamily("srst_test_scrapes", "Scrapes read.", value=self.scrapes)


class MetricsResourceTests(TestCase):
    """
    L{MetricsResource} at C{/metrics} of a listening L{HttpSite}.
    """

    def setUp(self) -> None:
        registry = CollectorRegistry()
        registry.register(_Scrapes())
        site = HttpSite(reactor)
        site.add(METRICS_PATH, MetricsResource(registry))
        port = reactor.listenTCP(0, site.factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.url = b"http://127.0.0.1:%d/metrics" % (port.getHost().port,)

    @bounded
    def request(self, method: bytes, accept: bytes | None = None) -> Any:
        agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        headers = Headers({b"accept": [accept]}) if accept is not None else None
        response = yield within(agent.request(method, self.url, headers), "the response")
        body = yield within(readBody(response), "the body")
        return response, body.decode("utf-8")

    @bounded
    def test_textFormatReadAtEachScrape(self) -> None:
        """
        Without an C{Accept} the text format (0.0.4) comes back, and each
        GET runs the collectors again.
        """
        for expected in (1.0, 2.0):
            response, body = yield self.request(b"GET")
            self.assertEqual(response.code, 200)
            self.assertEqual(response.headers.getRawHeaders(b"content-type"),
                             [b"text/plain; version=0.0.4; charset=utf-8"])
            [family] = text_string_to_metric_families(body)
            self.assertEqual([(s.name, s.value) for s in family.samples], [("srst_test_scrapes_total", expected)])

    @bounded
    def test_openMetricsWhenAsked(self) -> None:
        """
        A scraper that accepts OpenMetrics (Prometheus does) gets it.
        """
        response, body = yield self.request(b"GET", b"application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
        [contentType] = response.headers.getRawHeaders(b"content-type")
        self.assertTrue(contentType.startswith(b"application/openmetrics-text; version=1.0.0"), contentType)
        [family] = openMetricsFamilies(body)
        self.assertEqual(family.name, "srst_test_scrapes")

    @bounded
    def test_onlyReads(self) -> None:
        """
        POST is refused (405); HEAD answers without a body.
        """
        response, body = yield self.request(b"POST")
        self.assertEqual(response.code, 405)
        response, body = yield self.request(b"HEAD")
        self.assertEqual((response.code, body), (200, ""))
