"""
Tests for L{srst.http.status}: C{show ip http server status} on the running
router, in IOS's layout.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.http.config import HttpServerConfig
from srst.http.site import HttpSite
from srst.http.status import renderStatus
from tests.routerhelpers import bounded, freePort, routerYaml, runCommand, startRouter, stateDirectory


class Holder(Protocol):
    """
    Sends one request, tells when its answer has started, keeps the
    connection open and tells when it is gone.
    """

    def __init__(self):
        self.answered = Deferred()
        self.lost = Deferred()

    def connectionMade(self):
        self.transport.write(b"GET /nothing HTTP/1.1\r\nHost: r\r\n\r\n")

    def dataReceived(self, data):
        if not self.answered.called:
            self.answered.callback(data)

    def connectionLost(self, reason):
        self.lost.callback(None)


class ShowStatusTests(TestCase):
    """
    C{show ip http server status} through the router's command table.
    """

    @bounded
    def test_exactText(self):
        """
        The configured limits, the served paths and the connections open
        now, in IOS's wording; C{--json} has the same facts.
        """
        port = freePort()
        service = yield startRouter(self, routerYaml(stateDirectory(self), extra=(
            f"http-server: {{address: 127.0.0.1, port: {port}, max-connections: 3,"
            " timeout-policy: {idle: 30, life: 120, requests: 2}, max-body: 32768}\n")))
        holder = Holder()
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), holder)
        # Answered, and kept open: the first of the two requests allowed on it.
        self.assertTrue((yield holder.answered).startswith(b"HTTP/1.1 404 Not Found\r\n"))
        result = yield runCommand(service, "show", "ip", "http", "server", "status")
        self.assertEqual(result.text, "\n".join([
            "HTTP server status: Enabled",
            f"HTTP server port: {port}",
            "HTTP server address: 127.0.0.1",
            "HTTP server authentication method: none",
            "HTTP server active session modules: /crl/srstcaserver.crl, /cgi-bin/pkiclient.exe, /operator, /metrics",
            "Maximum number of concurrent server connections allowed: 3",
            "Server idle time-out: 30 seconds",
            "Server life time-out: 120 seconds",
            "Maximum number of requests allowed on a connection: 2",
            "Server request headers time-out: 30 seconds",
            "Maximum request body: 32768 bytes",
            "Maximum request line and headers: 16384 bytes",
            "HTTP server current connections: 1",
            "HTTP secure server capability: Not present",
        ]))
        self.assertEqual(result.data["currentConnections"], 1)
        self.assertEqual((result.data["maxConnections"], result.data["lifeTimeout"], result.data["maxRequests"]),
                         (3, 120, 2))
        holder.transport.loseConnection()
        yield holder.lost


class DisabledTests(SynchronousTestCase):
    """
    Without C{http-server:} the command says the server is off.
    """

    def test_disabled(self):
        self.assertEqual(renderStatus(None, None),
                         ("HTTP server status: Disabled\nHTTP secure server capability: Not present",
                          {"status": "Disabled"}))


class SiteValuesTests(SynchronousTestCase):
    """
    Values the running site holds are rendered from it.
    """

    def test_headerTimeoutFromSite(self):
        """
        The request headers time-out shown is the running site's, not the
        module's default.
        """
        site = HttpSite(Clock(), headerTimeout=7)
        text, data = renderStatus(HttpServerConfig(address="127.0.0.1", port=8080), site)
        self.assertIn("Server request headers time-out: 7 seconds\n", text)
        self.assertEqual(data["headerTimeout"], 7)
