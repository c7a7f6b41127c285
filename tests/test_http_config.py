"""
Tests for L{srst.http.config}: C{http-server:} (IOS C{ip http server}),
read through L{srst.config}.
"""

import os
import tempfile

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
            "router.yaml: http-server.timeout: 5 is not allowed; unknown key; known keys here: address, max-body, "
            "max-connections, max-header-bytes, metrics, operator, port, timeout-policy",
        ])

    def test_limits(self):
        """
        IOS C{ip http max-connections} and C{ip http timeout-policy idle
        life requests}, and the body and header limits, are read; absent,
        they are IOS's defaults (5; 180, 180, 1) and 64 KiB / 16 KiB.
        """
        config = loadString(MINIMAL + "http-server: {max-connections: 10, timeout-policy: {idle: 30, life: 600,"
                            " requests: 5}, max-body: 100000, max-header-bytes: 8192}\n")
        self.assertEqual(config.httpServer, HttpServerConfig("0.0.0.0", 80, maxConnections=10, idle=30, life=600,
                                                             requests=5, maxBody=100000, maxHeaderBytes=8192))
        default = loadString(MINIMAL + "http-server: {}\n").httpServer
        self.assertEqual((default.maxConnections, default.idle, default.life, default.requests, default.maxBody,
                          default.maxHeaderBytes), (5, 180, 180, 1, 65536, 16384))

    def test_limitProblems(self):
        """
        Limits out of range are reported at their YAML paths.
        """
        lines = problemsOf(self, MINIMAL + "http-server: {max-connections: 0, timeout-policy: {idle: 601, life: 0,"
                           " requests: x, linger: 1}, max-body: 10, max-header-bytes: true}\n")
        self.assertEqual(lines, [
            "router.yaml: http-server.max-connections: 0 is not allowed; expected an integer from 1 to 16",
            "router.yaml: http-server.timeout-policy.idle: 601 is not allowed; expected an integer from 1 to 600",
            "router.yaml: http-server.timeout-policy.life: 0 is not allowed; expected an integer from 1 to 86400",
            "router.yaml: http-server.timeout-policy.requests: 'x' is not allowed; expected an integer from 1 to "
            "86400",
            "router.yaml: http-server.timeout-policy.linger: 1 is not allowed; unknown key; known keys here: idle, "
            "life, requests",
            "router.yaml: http-server.max-body: 10 is not allowed; expected an integer from 1024 to 16777216",
            "router.yaml: http-server.max-header-bytes: True is not allowed; expected an integer from 1024 to "
            "1048576",
        ])


class OperatorPasswordTests(SynchronousTestCase):
    """
    C{http-server.operator.password-file}: the operator page's password.
    """

    def passwordFile(self, text):
        directory = tempfile.mkdtemp()
        self.addCleanup(lambda: (os.remove(path), os.rmdir(directory)))
        path = os.path.join(directory, "operator-password")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_absentMeansReadOnly(self):
        """
        Without C{operator} there is no password: the page is read-only.
        """
        self.assertIsNone(loadString(MINIMAL + "http-server: {}\n").httpServer.operatorPassword)

    def test_passwordRead(self):
        """
        The file's text without its final newline is the password, which
        the config's C{repr} never shows.
        """
        path = self.passwordFile("two words\n")
        config = loadString(MINIMAL + f"http-server: {{operator: {{password-file: {path}}}}}\n").httpServer
        self.assertEqual(config.operatorPassword, "two words")
        self.assertNotIn("two words", repr(config))

    def test_problems(self):
        """
        A missing or empty file, or no C{password-file}, is a problem at
        its YAML path.
        """
        empty = self.passwordFile("\n")
        self.assertEqual(problemsOf(self, MINIMAL + "http-server: {operator: {password-file: /nonexistent/pw}}\n"), [
            "router.yaml: http-server.operator.password-file: '/nonexistent/pw' is not allowed; expected a readable"
            " file (No such file or directory)"])
        self.assertEqual(problemsOf(self, MINIMAL + f"http-server: {{operator: {{password-file: {empty}}}}}\n"), [
            f"router.yaml: http-server.operator.password-file: '{empty}' is not allowed; expected a file holding"
            " the password (it is empty)"])
        self.assertEqual(problemsOf(self, MINIMAL + "http-server: {operator: {}}\n"), [
            "router.yaml: http-server.operator.password-file: missing; required; expected the path of a file holding the"
            " password"])
