"""
Tests for L{srst.http.config}: C{http-server:} (IOS C{ip http server}),
read through L{srst.config}.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.config import loadString
from srst.http.config import HttpServerConfig
from tests.test_config import MINIMAL, problemsOf


class HttpServerConfigTests(SynchronousTestCase):
    """
    C{http-server:} and its problems.
    """

    def test_absentMeansNoServer(self):
        """
        Without the section there is no HTTP server (IOS C{no ip http server}).
        """
        self.assertIsNone(loadString(MINIMAL).httpServer)

    def test_defaults(self):
        """
        An empty section is IOS C{ip http server}: every address, port 80.
        """
        self.assertEqual(loadString(MINIMAL + "http-server: {}\n").httpServer, HttpServerConfig("0.0.0.0", 80))

    def test_addressAndPort(self):
        """
        Address and port are taken as given.
        """
        config = loadString(MINIMAL + "http-server: {address: 127.0.0.1, port: 8080}\n")
        self.assertEqual(config.httpServer, HttpServerConfig("127.0.0.1", 8080))

    def test_metrics(self):
        """
        C{metrics} (C{/metrics}) is on unless switched off; anything but a
        boolean is reported at its path.
        """
        self.assertTrue(loadString(MINIMAL + "http-server: {}\n").httpServer.metrics)
        config = loadString(MINIMAL + "http-server: {metrics: false}\n")
        self.assertEqual(config.httpServer, HttpServerConfig("0.0.0.0", 80, metrics=False))
        self.assertEqual(problemsOf(self, MINIMAL + "http-server: {metrics: sometimes}\n"), [
            "router.yaml: http-server.metrics: 'sometimes' is not allowed; expected true or false"])

    def test_problemsNameThePath(self):
        """
        A bad address, port or unknown key is reported at its YAML path.
        """
        lines = problemsOf(self, MINIMAL + "http-server: {address: nowhere, port: 70000, timeout: 5}\n")
        self.assertEqual(lines, [
            "router.yaml: http-server.address: 'nowhere' is not allowed; expected an IPv4 or IPv6 address "
            "such as 127.0.0.1",
            "router.yaml: http-server.port: 70000 is not allowed; expected an integer from 0 to 65535",
            "router.yaml: http-server.timeout: 5 is not allowed; unknown key; known keys here: address, metrics, port",
        ])
