"""
Tests for L{srst.sccp.limits}: the caps on open SCCP connections.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.logger import Logger, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from srst.sccp.config import CallManagerFallbackConfig
from srst.sccp.limits import (
    MAX_SUMMARY_SOURCES,
    ConnectionCaps,
    ConnectionLimitFactory,
    ConnectionLimits,
    fitConnectionCaps,
)


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
        first is, the rest are summarised in one line after the interval;
        after that the next refusal is logged at once again.
        """
        self.connect(self.plain, "10.1.1.9")
        self.connect(self.plain, "10.1.1.9")
        with capturedLogs() as events:
            for _ in range(100):
                self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
            self.assertEqual(len(events), 1)
            self.clock.advance(60)
            self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
        self.assertEqual(texts(events)[1:], [
            "99 more SCCP connections from 10.1.1.9 refused in the last 60 s (max-connections-per-host 2)",
            "SCCP connection from 10.1.1.9 refused: 2 open from that address (max-connections-per-host 2); "
            "further refusals are summarised every 60 s"])
        self.assertEqual(self.limits.refused["max-connections-per-host"], 101)
        with capturedLogs() as events:
            self.plain.doStart()
            self.plain.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(events, [])

    def test_manySources(self):
        """
        The refusal log remembers a bounded number of addresses; refusals
        from more are summarised together.
        """
        limits = ConnectionLimits(ConnectionCaps(total=1, perHost=1, configuredTotal=1), self.clock)
        factory = ConnectionLimitFactory(Quiet(), limits)
        self.connect(factory, "10.0.0.1")
        with capturedLogs() as events:
            for n in range(MAX_SUMMARY_SOURCES + 10):
                self.assertIsNone(self.connect(factory, f"10.{n // 250}.{n % 250}.2"))
            factory.doStart()
            factory.doStop()
        self.assertEqual(len(events), MAX_SUMMARY_SOURCES + 1)
        self.assertEqual(texts(events)[-1],
                         "10 more SCCP connections from other addresses refused in the last 60 s (max-connections 1)")

    def test_wrappedRefuses(self):
        """
        A connection the wrapped factory refuses does not count.
        """
        refusing = ConnectionLimitFactory(Refusing(), self.limits)
        self.assertIsNone(refusing.buildProtocol(IPv4Address("TCP", "10.1.1.9", 1)))
        self.assertEqual((self.limits.open, dict(self.limits.byHost)), (0, {}))
