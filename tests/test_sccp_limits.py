"""
Tests for L{srst.sccp.limits}: the caps on open SCCP connections.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections import Counter

from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import ClientFactory, Factory, ProcessProtocol, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.internet.threads import deferToThread
from twisted.logger import Logger, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.sccp import messages as m
from srst.sccp.config import CallManagerFallbackConfig
from srst.sccp.limits import (
    MAX_SUMMARY_SOURCES,
    ConnectionCaps,
    ConnectionLimitFactory,
    ConnectionLimits,
    fitConnectionCaps,
)
from srst.tools import cli
from srst.tools._credentialsfetch import fetchCredentials
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import PhoneConfig
from srst.tools._phonewire import connectPhone
from tests.routerhelpers import ROOT, bounded, routerYaml, stateDirectory


def texts(events):
    return [formatEvent(event) for event in events]


class CapsTests(SynchronousTestCase):
    """
    L{ConnectionCaps}: from the configuration, fitted to the open-file limit.
    """

    def test_fromConfig(self):
        """
        The caps come from C{call-manager-fallback}: by default two
        connections per phone plus 16, and 4 per address.
        """
        caps = ConnectionCaps.fromConfig(CallManagerFallbackConfig("127.0.0.1", maxEphones=15))
        self.assertEqual(caps, ConnectionCaps(46, 4, 46))
        self.assertFalse(caps.fitted)

    def test_fitTo(self):
        """
        SCCP gets at most the open-file limit less the reserve; a per-host
        cap above that is lowered too; no limit changes nothing.
        """
        caps = ConnectionCaps(216, 150, 216)
        self.assertEqual(caps.fitTo(192, reserve=64), ConnectionCaps(128, 128, 216))
        self.assertTrue(caps.fitTo(192, reserve=64).fitted)
        self.assertEqual(caps.fitTo(None), caps)
        self.assertEqual(caps.fitTo(1024, reserve=64), caps)
        self.assertEqual(caps.fitTo(10, reserve=64), ConnectionCaps(1, 1, 216))

    def test_fitWarns(self):
        """
        When the caps do not fit, one warning names them, the limit and what
        is in force.
        """
        caps = ConnectionCaps(216, 150, 216)
        with capturedLogs() as events:
            fitted = fitConnectionCaps(caps, 192, Logger(), reserve=64)
        self.assertEqual(fitted.total, 128)
        self.assertEqual(texts(events), [
            "call-manager-fallback: max-connections 216 and max-connections-per-host 150 do not fit the "
            "open-file limit 192 (64 kept for the admin socket, credentials, MGCP and media): at most 128 "
            "SCCP connections, 128 per address"])
        with capturedLogs() as events:
            self.assertEqual(fitConnectionCaps(caps, 4096, Logger()), caps)
        self.assertEqual(events, [])


class Echo(Protocol):
    lost = False

    def connectionLost(self, reason):
        self.lost = True


class Quiet(Factory):
    """A factory of L{Echo}s that does not log starting and stopping."""

    noisy = False
    protocol = Echo


class Refusing(Quiet):
    """A factory that refuses every connection."""

    def buildProtocol(self, addr):
        return None


class LimitFactoryTests(SynchronousTestCase):
    """
    L{ConnectionLimitFactory}: two listeners sharing L{ConnectionLimits}.
    """

    def setUp(self):
        self.clock = Clock()
        self.limits = ConnectionLimits(ConnectionCaps(total=5, perHost=2, configuredTotal=5), self.clock)
        self.plain = ConnectionLimitFactory(Quiet(), self.limits)
        self.secure = ConnectionLimitFactory(Quiet(), self.limits)

    def connect(self, factory, host, port=40000):
        address = (IPv6Address if ":" in host else IPv4Address)("TCP", host, port)
        protocol = factory.buildProtocol(address)
        if protocol is None:
            return None
        transport = StringTransportWithDisconnection(peerAddress=address)
        transport.protocol = protocol
        protocol.makeConnection(transport)
        return protocol, transport

    def test_perHost(self):
        """
        A third connection from one address is refused (plain and TLS count
        together); other addresses still connect; one logged line says why.
        """
        with capturedLogs() as events:
            self.assertIsNotNone(self.connect(self.plain, "10.1.1.9"))
            self.assertIsNotNone(self.connect(self.secure, "10.1.1.9"))
            self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
            self.assertIsNotNone(self.connect(self.plain, "10.1.1.10"))
        self.assertEqual(texts(events), [
            "SCCP connection from 10.1.1.9 refused: 2 open from that address (max-connections-per-host 2); "
            "further refusals are summarised every 60 s"])
        self.assertEqual(self.limits.statistics(), {
            "maxConnections": 5, "maxConnectionsPerHost": 2, "configuredMaxConnections": 5, "open": 3,
            "refused": {"max-connections-per-host": 1}})

    def test_total(self):
        """
        Over the global cap every address is refused, with the global cap
        named; a connection that closes makes room.
        """
        opened = [self.connect(self.plain if n % 2 else self.secure, f"10.1.1.{n}") for n in range(5)]
        with capturedLogs() as events:
            self.assertIsNone(self.connect(self.plain, "10.1.1.50"))
            self.assertIsNone(self.connect(self.secure, "2001:db8::1"))
        self.assertEqual(texts(events), [
            "SCCP connection from 10.1.1.50 refused: 5 open in all (max-connections 5); further refusals are "
            "summarised every 60 s",
            "SCCP connection from 2001:db8::1 refused: 5 open in all (max-connections 5); further refusals are "
            "summarised every 60 s"])
        protocol, transport = opened[0]
        transport.loseConnection()
        self.assertTrue(protocol.wrappedProtocol is None or protocol.wrappedProtocol.lost)
        self.assertEqual(self.limits.open, 4)
        self.assertIsNotNone(self.connect(self.plain, "10.1.1.50"))
        self.assertEqual(dict(self.limits.byHost), {f"10.1.1.{n}": 1 for n in (1, 2, 3, 4, 50)})

    def test_summary(self):
        """
        Repeated refusals of one address are not logged one by one: the
        first is, the rest are summed up in one line when the minute is
        over; the listener's stop sums up those left and leaves no timer;
        after a quiet minute the next refusal is logged in full again.
        """
        self.plain.doStart()
        self.connect(self.plain, "10.1.1.9")
        self.connect(self.plain, "10.1.1.9")
        with capturedLogs() as events:
            for _ in range(100):
                self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
            self.assertEqual(len(events), 1)
            self.clock.advance(60)
            self.assertEqual(len(events), 2)
            self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
            self.assertIsNone(self.connect(self.secure, "10.1.1.9"))
            self.clock.advance(5)
            self.assertEqual(len(events), 2)
            self.plain.doStop()
        self.assertEqual(texts(events), [
            "SCCP connection from 10.1.1.9 refused: 2 open from that address (max-connections-per-host 2); "
            "further refusals are summarised every 60 s",
            "10.1.1.9: 99 more SCCP connections refused (max-connections-per-host 2) in the last minute",
            "10.1.1.9: 2 more SCCP connections refused (max-connections-per-host 2) in the last 5 s"])
        self.assertEqual({event["log_namespace"] for event in events}, {"srst.sccp.limits.ConnectionLimits"})
        self.assertEqual(self.limits.refused["max-connections-per-host"], 102)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.plain.doStart()
        self.clock.advance(60)
        with capturedLogs() as events:
            self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
        self.assertEqual(texts(events), [
            "SCCP connection from 10.1.1.9 refused: 2 open from that address (max-connections-per-host 2); "
            "further refusals are summarised every 60 s"])

    def test_summaryWhileOneListenerRuns(self):
        """
        The listeners share the limits: while one of them still runs, the
        other's stop does not end the rate limit.
        """
        self.plain.doStart()
        self.secure.doStart()
        self.connect(self.plain, "10.1.1.9")
        self.connect(self.plain, "10.1.1.9")
        self.secure.doStop()
        with capturedLogs() as events:
            for _ in range(10):
                self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
            self.clock.advance(60)
        self.assertEqual(texts(events)[1:], [
            "10.1.1.9: 9 more SCCP connections refused (max-connections-per-host 2) in the last minute"])
        self.plain.doStop()
        with capturedLogs() as events:
            self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
            self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
        self.assertEqual(len(events), 2)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_manySources(self):
        """
        The refusal log tracks a bounded number of addresses; refusals from
        more are summed up together.
        """
        limits = ConnectionLimits(ConnectionCaps(total=1, perHost=1, configuredTotal=1), self.clock)
        factory = ConnectionLimitFactory(Quiet(), limits)
        factory.doStart()
        self.connect(factory, "10.0.0.1")
        with capturedLogs() as events:
            for n in range(MAX_SUMMARY_SOURCES + 10):
                self.assertIsNone(self.connect(factory, f"10.{n // 250}.{n % 250}.2"))
            self.assertEqual(limits.logLimiter.tracked, MAX_SUMMARY_SOURCES + 1)
            self.clock.advance(60)
        self.assertEqual(len(events), MAX_SUMMARY_SOURCES + 2)
        self.assertEqual(texts(events)[MAX_SUMMARY_SOURCES - 1:], [
            f"SCCP connection from 10.{(MAX_SUMMARY_SOURCES - 1) // 250}.{(MAX_SUMMARY_SOURCES - 1) % 250}.2 "
            "refused: 1 open in all (max-connections 1); further refusals are summarised every 60 s",
            f"SCCP connection from 10.{MAX_SUMMARY_SOURCES // 250}.{MAX_SUMMARY_SOURCES % 250}.2 "
            "refused: 1 open in all (max-connections 1); further refusals are summarised every 60 s",
            "other peers: 9 more SCCP connections refused (max-connections 1) in the last minute"])
        self.assertEqual(limits.refused["max-connections"], MAX_SUMMARY_SOURCES + 10)
        factory.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_wrappedRefuses(self):
        """
        A connection the wrapped factory refuses does not count.
        """
        refusing = ConnectionLimitFactory(Refusing(), self.limits)
        self.assertIsNone(refusing.buildProtocol(IPv4Address("TCP", "10.1.1.9", 1)))
        self.assertEqual((self.limits.open, dict(self.limits.byHost)), (0, {}))


ROUTER_UNDER_LIMIT = (
    "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard})); "
    "from twisted.scripts.twistd import run; run()"
)

CMF = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  max-ephones: 100
  max-connections-per-host: 40
  max-dn: 100
  auto-assign: {dn-range: "2000-2099"}
"""


class RouterOutput(ProcessProtocol):
    """
    Collects a twistd router's output; C{ready} fires with its SCCP and
    credentials ports once it says it is ready.
    """

    def __init__(self):
        self.output = b""
        self.ready = Deferred()
        self.ended = Deferred()

    def outReceived(self, data):
        self.output += data
        if not self.ready.called and b" ready: " in self.output:
            ports = {name.decode("ascii"): int(port) for name, port in
                     re.findall(rb"([\w-]+) listening on 127\.0\.0\.1 port (\d+)", self.output)}
            self.ready.callback(ports)

    errReceived = outReceived

    def processEnded(self, reason):
        if not self.ready.called:
            self.ready.errback(RuntimeError("the router ended:\n" + self.output.decode("utf-8", "replace")))
        self.ended.callback(None)

    def text(self):
        return self.output.decode("utf-8", "replace")


class IdleConnection(Protocol):
    """
    A connection that sends one KeepAlive (as a standby connection does) and
    then stays idle; C{settled} fires with C{"kept"} when the router answers
    it, C{"closed"} when the router closes the connection first.
    """

    def __init__(self):
        self.settled = Deferred()

    def connectionMade(self):
        self.transport.write(m.encodeMessage(m.KeepAlive(), protocolVersion=0))

    def dataReceived(self, data):
        if not self.settled.called:
            self.settled.callback("kept")

    def connectionLost(self, reason):
        if not self.settled.called:
            self.settled.callback("closed")


class _Once(ClientFactory):
    """A client factory for one given protocol instance."""

    noisy = False

    def __init__(self, protocol):
        self._protocol = protocol

    def buildProtocol(self, addr):
        return self._protocol


class OpenFileLimitTests(TestCase):
    """
    The issue's reproduction: a real router (twistd, in a child process)
    under a small open-file limit, flooded with idle plain SCCP connections.
    """

    timeout = 60

    def connectIdle(self, port, source, count):
        """
        Open C{count} idle connections from C{source}.

        @return: a L{Deferred} firing with how many the router kept and
            closed, within a bound.
        """
        settled = []
        for _ in range(count):
            client = IdleConnection()
            settled.append(client.settled)
            reactor.connectTCP("127.0.0.1", port, _Once(client),
                               bindAddress=(source, 0))
            self.clients.append(client)
        d = gatherResults(settled).addTimeout(15, reactor)
        return d.addCallback(lambda results: Counter(results))

    @bounded(timeout=30)
    async def test_idleConnectionsLeaveRoom(self):
        """
        Under C{RLIMIT_NOFILE} 128 (hard 192), the router raises its limit to
        192 and says so, warns that max-connections 216 does not fit and
        caps SCCP at 128; 45 idle connections from one address keep 40
        (max-connections-per-host) and a phone from another address
        registers; 160 more from four addresses fill the cap without using
        up the descriptors: C{srst-cli show ephone} and the credentials port
        still answer, a new SCCP connection is closed at once, and each
        address's refusals are logged once, not one line per connection.
        """
        stateDir = stateDirectory(self)
        configPath = os.path.join(stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(stateDir, extra=CMF))
        router = RouterOutput()
        process = reactor.spawnProcess(
            router, sys.executable,
            [sys.executable, "-c", ROUTER_UNDER_LIMIT.format(soft=128, hard=192), "-n", "--pidfile=", "srst",
             "--config", configPath],
            env=dict(os.environ, PYTHONPATH=ROOT), path=stateDir)

        def stop():
            if not router.ended.called:
                process.signalProcess("TERM")
            return router.ended

        self.addCleanup(stop)
        self.clients = []
        self.addCleanup(lambda: [c.transport.abortConnection() for c in self.clients
                                 if c.transport is not None and c.transport.connected])
        ports = await router.ready.addTimeout(30, reactor)
        sccp = ports["sccp"]

        self.assertEqual(await self.connectIdle(sccp, "127.0.0.2", 45), Counter(kept=40, closed=5))
        phone = SimulatedPhone(PhoneConfig(mac="1000.1111.00AA"), clock=reactor)
        connectPhone(reactor, phone, "127.0.0.1", sccp)
        self.addCleanup(phone.stop)
        await phone.whenRegistered().addTimeout(10, reactor)

        flood = await gatherResults([self.connectIdle(sccp, f"127.0.0.{n}", 40) for n in (3, 4, 5, 6)])
        self.assertEqual(sum(flood, Counter()), Counter(kept=128 - 41, closed=160 - (128 - 41)))

        out, err = io.StringIO(), io.StringIO()
        code = await deferToThread(cli.main, ["--socket", os.path.join(stateDir, "srst.sock"), "show", "ephone"],
                                   out, err)
        self.assertEqual((code, err.getvalue()), (0, ""))
        self.assertIn("Mac:1000.1111.00AA", out.getvalue())
        fetched = await fetchCredentials(reactor, "127.0.0.1", ports["credentials"], timeout=10)
        self.assertTrue(fetched.matches)
        self.assertEqual(await self.connectIdle(sccp, "127.0.0.7", 1), Counter(closed=1))

        await stop()
        log = router.text()
        self.assertIn("open-file limit (RLIMIT_NOFILE) 128 -> 192 (hard limit 192)", log)
        self.assertIn("call-manager-fallback: max-connections 216 and max-connections-per-host 40 do not fit the "
                      "open-file limit 192 (64 kept for the admin socket, credentials, MGCP and media): at most "
                      "128 SCCP connections, 40 per address", log)
        self.assertEqual(log.count("SCCP connection from 127.0.0.2 refused: 40 open from that address "
                                   "(max-connections-per-host 40)"), 1)
        refusals = re.findall(r"SCCP connection from (127\.0\.0\.[3-6]) refused: 128 open in all "
                              r"\(max-connections 128\)", log)
        self.assertTrue(refusals)
        self.assertEqual(sorted(refusals), sorted(set(refusals)))
        self.assertIn("SCCP connection from 127.0.0.7 refused: 128 open in all (max-connections 128)", log)
        self.assertNotIn("Too many open files", log)
        self.assertNotIn("Traceback", log)
