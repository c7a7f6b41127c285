"""
Tests for L{srst.http.iosconfig}: C{ip http server} and C{ip http port}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.http.config import HttpServerConfig
from srst.http.iosconfig import importIos, runningConfig, srstOnly
from tests.ioshelpers import imported


def _imported(text: str, address: str | None = None) -> tuple[dict, list[str], list[str]]:
    return imported(importIos, text, address=address)


class RunningConfigTests(SynchronousTestCase):
    """
    L{runningConfig}.
    """

    def test_table(self) -> None:
        """
        No section: nothing; IOS's port 80: no C{ip http port} line;
        another port: its line.  srst has no HTTPS server, as the seed says.
        """
        for server, lines in [
            (None, []),
            (HttpServerConfig("0.0.0.0", 80), ["ip http server", "no ip http secure-server", "!"]),
            (HttpServerConfig("127.0.0.1", 8080),
             ["ip http server", "ip http port 8080", "no ip http secure-server", "!"]),
        ]:
            self.assertEqual(runningConfig(server), lines, server)


    def test_limits(self) -> None:
        """
        IOS's limits print when away from IOS's defaults (C{ip http
        max-connections}, the whole C{timeout-policy}); srst's own limits,
        C{/metrics} off and an operator password are comments, the password
        never shown.
        """
        server = HttpServerConfig("127.0.0.1", 8080, maxConnections=16, idle=30, life=600, requests=5,
                                  maxBody=100000, maxHeaderBytes=8192, metrics=False, operatorPassword="s3cret")
        self.assertEqual(runningConfig(server), [
            "ip http server", "ip http port 8080", "ip http max-connections 16",
            "ip http timeout-policy idle 30 life 600 requests 5", "no ip http secure-server", "!"])
        self.assertEqual(srstOnly(server), [
            "! srst: http-server max-body 100000",
            "! srst: http-server max-header-bytes 8192",
            "! srst: http-server metrics false",
            "! srst: http-server operator password-file (set; the password is not shown)"])
        self.assertNotIn("s3cret", "".join(runningConfig(server) + srstOnly(server)))
        self.assertEqual(srstOnly(HttpServerConfig("127.0.0.1", 8080)), [])
        self.assertEqual(srstOnly(None), [])


class ImportTests(SynchronousTestCase):
    """
    L{importIos}.
    """

    def test_seed(self) -> None:
        """
        The seed's two lines: the server on IOS's port, bound to the
        router's address; other lines are left.
        """
        self.assertEqual(_imported("ip classless\nip http server\nno ip http secure-server\n", "10.1.1.22"),
                         ({"http-server": {"address": "10.1.1.22", "port": 80}}, [], ["ip classless"]))

    def test_port(self) -> None:
        """
        C{ip http port} sets the port; without an address the key is left
        to srst's default (every address, as IOS).
        """
        self.assertEqual(_imported("ip http port 8080\nip http server\n"),
                         ({"http-server": {"port": 8080}}, [], []))

    def test_limits(self) -> None:
        """
        C{ip http max-connections} and C{ip http timeout-policy} come back
        as the keys they were printed from; out of range, they are skipped
        with the range.
        """
        self.assertEqual(_imported("ip http server\nip http max-connections 16\n"
                                   "ip http timeout-policy idle 30 life 600 requests 5\n"), (
            {"http-server": {"port": 80, "max-connections": 16,
                             "timeout-policy": {"idle": 30, "life": 600, "requests": 5}}}, [], []))
        self.assertEqual(_imported("ip http server\nip http max-connections 17\n"
                                   "ip http timeout-policy idle 601 life 600 requests 5\n"
                                   "ip http timeout-policy idle 30\n"), (
            {"http-server": {"port": 80}},
            ["line 2: ip http max-connections 17: expected a number of connections from 1 to 16",
             "line 3: ip http timeout-policy idle 601 life 600 requests 5: expected idle <1-600> life <1-86400>"
             " requests <1-86400>",
             "line 4: ip http timeout-policy idle 30: expected idle <1-600> life <1-86400> requests <1-86400>"],
            []))

    def test_roundTrip(self) -> None:
        """
        A section with every IOS limit set prints and imports back to the
        same configuration.
        """
        from srst.config import loadString
        server = HttpServerConfig("127.0.0.1", 8080, maxConnections=16, idle=30, life=600, requests=5)
        document, skipped, rest = _imported("\n".join(runningConfig(server)), "127.0.0.1")
        self.assertEqual((skipped, rest), ([], []))
        import yaml
        self.assertEqual(loadString(yaml.safe_dump(document)).httpServer, server)

    def test_skipReasons(self) -> None:
        """
        What srst's HTTP server does not have is listed with why.
        """
        self.assertEqual(_imported("ip http server\nip http port 99999\nip http secure-server\n"
                                   "ip http authentication local\n"), (
            {"http-server": {"port": 80}},
            ["line 2: ip http port 99999: expected a port from 1 to 65535",
             "line 3: ip http secure-server: srst's HTTP site has no HTTPS server (it serves CRLs and SCEP over"
             " plain HTTP)",
             "line 4: ip http authentication local: srst's HTTP server has no such setting"],
            []))
        self.assertEqual(_imported("ip http port 8080\nno ip http server\n"), (
            {}, ["line 1: ip http port 8080: no ip http server: srst has no HTTP server to set the port of"], []))
