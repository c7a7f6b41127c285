"""
Tests for L{srst.sccp.limits}: the caps on open SCCP connections.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections import Counter

from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.internet.threads import deferToThread
from twisted.logger import Logger, capturedLogs, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.sccp import messages as m
from srst.sccp.config import CallManagerFallbackConfig
from srst.sccp.limits import (
    CLOSING_ALLOWANCE,
    MAX_SUMMARY_SOURCES,
    ConnectionCaps,
    ConnectionLimitFactory,
    ConnectionLimits,
    IAdmittedConnection,
    fitConnectionCaps,
)
from srst.sccp.station import StationStatus
from srst.tools import cli
from srst.tools._credentialsfetch import fetchCredentials
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import PhoneConfig, PhoneState
from srst.tools._phonewire import clientTLSOptions, connectPhone
from srst.tools.lsc import issueLSC
from tests.phonehelpers import PHONE_CA, routerYamlWithCapf, stopPhone
from tests.routerhelpers import SECURE_CMF_HEAD, bounded, routerYaml, spawnRouter, startRouter, stateDirectory, within
from tests.test_sccp_integration import now
from tests.test_sccp_station import Phone, Router, makeConfig, types


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
        """
        Connect through C{factory} from C{host}:C{port}.

        @return: C{(protocol, transport)}, or L{None} when refused.
        """
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
        A third unregistered connection from one address is refused (plain
        and TLS count together); other addresses still connect; one logged
        line says why.
        """
        with capturedLogs() as events:
            self.assertIsNotNone(self.connect(self.plain, "10.1.1.9"))
            self.assertIsNotNone(self.connect(self.secure, "10.1.1.9"))
            self.assertIsNone(self.connect(self.plain, "10.1.1.9"))
            self.assertIsNotNone(self.connect(self.plain, "10.1.1.10"))
        self.assertEqual(texts(events), [
            "SCCP connection from 10.1.1.9 refused: 2 open from that address with no phone registered "
            "(max-connections-per-host 2); further refusals are summarised every 60 s"])
        self.assertEqual(self.limits.statistics(), {
            "maxConnections": 5, "maxConnectionsPerHost": 2, "configuredMaxConnections": 5, "open": 3,
            "closing": 0, "registered": 0, "refused": {"max-connections-per-host": 1}, "closedToMakeRoom": 0})

    def test_perHostCountsUnregisteredOnly(self):
        """
        Registered connections do not count against the per-host cap (phones
        behind one NAT address): four phones from one address register one
        after another, then two unregistered connections are kept and a
        third is refused; a registration that ends counts again.
        """
        limits = ConnectionLimits(ConnectionCaps(total=10, perHost=2, configuredTotal=10), self.clock)
        factory = ConnectionLimitFactory(Quiet(), limits)
        phones = []
        for n in range(4):
            protocol, transport = self.connect(factory, "192.0.2.7", 40000 + n)
            IAdmittedConnection(protocol).phoneRegistered()
            phones.append(protocol)
        idle = [self.connect(factory, "192.0.2.7", 41000 + n) for n in range(2)]
        self.assertNotIn(None, idle)
        with capturedLogs() as events:
            self.assertIsNone(self.connect(factory, "192.0.2.7", 41002))
        self.assertEqual(texts(events), [
            "SCCP connection from 192.0.2.7 refused: 2 open from that address with no phone registered "
            "(max-connections-per-host 2); further refusals are summarised every 60 s"])
        self.assertEqual((limits.open, limits.registered, dict(limits.unregisteredByHost)),
                         (6, 4, {"192.0.2.7": 2}))
        idle[0][1].loseConnection()
        phones[0].phoneUnregistered()
        self.assertIsNone(self.connect(factory, "192.0.2.7", 41003))
        self.assertEqual((limits.open, limits.registered, dict(limits.unregisteredByHost)),
                         (5, 3, {"192.0.2.7": 2}))

    def test_makeRoom(self):
        """
        The issue's lockout: five addresses hold four idle connections each
        and fill max-connections 20; a connection from a sixth address is
        admitted and the oldest unregistered connection is closed for it,
        with a warning naming both; registered connections are never
        closed; a connection whose registration ended is unregistered as of
        then (the youngest).
        """
        limits = ConnectionLimits(ConnectionCaps(total=20, perHost=4, configuredTotal=20), self.clock)
        factory = ConnectionLimitFactory(Quiet(), limits)
        factory.doStart()
        self.addCleanup(factory.doStop)
        idle = []
        for n in range(20):
            idle.append(self.connect(factory, f"10.1.1.{n % 5 + 1}", 40000 + n))
            self.clock.advance(10)
        with capturedLogs() as events:
            newcomer = self.connect(factory, "10.1.1.6", 50000)
        self.assertIsNotNone(newcomer)
        self.assertEqual(texts(events), [
            "SCCP connection from 10.1.1.1 port 40000 closed to make room for one from 10.1.1.6: 20 open in all "
            "(max-connections 20) and it was the oldest not registered (200 s); further closures are summarised "
            "every 60 s"])
        self.assertEqual([transport.connected for protocol, transport in idle[:2]], [False, True])
        self.assertTrue(idle[0][0].wrappedProtocol is None or idle[0][0].wrappedProtocol.lost)
        self.assertEqual((limits.open, limits.closedToMakeRoom), (20, 1))

        # 40001 registers: it is skipped; 40002 is closed for the next one.
        IAdmittedConnection(idle[1][0]).phoneRegistered()
        self.assertIsNotNone(self.connect(factory, "10.1.1.6", 50001))
        self.assertEqual([transport.connected for protocol, transport in idle[1:4]], [True, False, True])
        # 40003 registers and unregisters: it is now the youngest unregistered.
        IAdmittedConnection(idle[3][0]).phoneRegistered()
        self.clock.advance(10)
        IAdmittedConnection(idle[3][0]).phoneUnregistered()
        self.assertIsNotNone(self.connect(factory, "10.1.1.6", 50002))
        self.assertEqual([transport.connected for protocol, transport in idle[3:5]], [True, False])
        self.assertEqual(limits.closedToMakeRoom, 3)
        self.assertEqual(limits.statistics()["open"], 20)

    def test_makeRoomSummary(self):
        """
        Connections of one address closed to make room are logged once,
        then summed up once a minute.
        """
        limits = ConnectionLimits(ConnectionCaps(total=4, perHost=4, configuredTotal=4), self.clock)
        factory = ConnectionLimitFactory(Quiet(), limits)
        factory.doStart()
        for n in range(4):
            self.connect(factory, "10.1.1.1", 40000 + n)
        with capturedLogs() as events:
            for n in range(3):
                self.assertIsNotNone(self.connect(factory, f"10.1.1.{n + 2}", 50000))
            self.clock.advance(60)
            factory.doStop()
        self.assertEqual(texts(events)[1:], [
            "10.1.1.1: 2 more SCCP connections closed to make room (max-connections 4) in the last minute"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_makeRoomBurst(self):
        """
        Connections closed to make room hold their descriptors until the
        reactor closes them: while L{CLOSING_ALLOWANCE} of them are still
        closing, a further connection over the cap is refused, with the
        reason logged; once they have closed, room is made again.
        """
        limits = ConnectionLimits(ConnectionCaps(total=20, perHost=20, configuredTotal=20), self.clock)
        factory = ConnectionLimitFactory(Quiet(), limits)
        idle = []
        for n in range(20):
            protocol = factory.buildProtocol(IPv4Address("TCP", "10.1.1.1", 40000 + n))
            transport = StringTransport()
            protocol.makeConnection(transport)
            idle.append((protocol, transport))
        for n in range(CLOSING_ALLOWANCE):
            self.assertIsNotNone(self.connect(factory, "10.1.1.2", 50000 + n))
        self.assertEqual([transport.disconnected for protocol, transport in idle],
                         [True] * CLOSING_ALLOWANCE + [False] * (20 - CLOSING_ALLOWANCE))
        self.assertEqual((limits.open, limits.closing, limits.live), (20 + CLOSING_ALLOWANCE, CLOSING_ALLOWANCE, 20))
        with capturedLogs() as events:
            self.assertIsNone(self.connect(factory, "10.1.1.3", 50000))
        self.assertEqual(texts(events), [
            f"SCCP connection from 10.1.1.3 refused: 20 open in all and {CLOSING_ALLOWANCE} still closing to make "
            "room (max-connections 20); further refusals are summarised every 60 s"])
        for protocol, transport in idle[:CLOSING_ALLOWANCE]:
            protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual((limits.open, limits.closing), (20, 0))
        self.assertIsNotNone(self.connect(factory, "10.1.1.3", 50000))
        self.assertEqual((limits.open, limits.closing, limits.closedToMakeRoom), (21, 1, CLOSING_ALLOWANCE + 1))

    def test_totalAllRegistered(self):
        """
        When every open connection is registered, a new one is refused with
        the global cap named; a connection that closes makes room.
        """
        opened = [self.connect(self.plain if n % 2 else self.secure, f"10.1.1.{n}") for n in range(5)]
        for protocol, transport in opened:
            IAdmittedConnection(protocol).phoneRegistered()
        with capturedLogs() as events:
            self.assertIsNone(self.connect(self.plain, "10.1.1.50"))
            self.assertIsNone(self.connect(self.secure, "2001:db8::1"))
        self.assertEqual(texts(events), [
            "SCCP connection from 10.1.1.50 refused: 5 open in all, each with a phone registered "
            "(max-connections 5); further refusals are summarised every 60 s",
            "SCCP connection from 2001:db8::1 refused: 5 open in all, each with a phone registered "
            "(max-connections 5); further refusals are summarised every 60 s"])
        self.assertEqual([transport.connected for protocol, transport in opened], [True] * 5)
        protocol, transport = opened[0]
        transport.loseConnection()
        self.assertTrue(protocol.wrappedProtocol is None or protocol.wrappedProtocol.lost)
        self.assertEqual((self.limits.open, self.limits.registered), (4, 4))
        self.assertIsNotNone(self.connect(self.plain, "10.1.1.50"))
        self.assertEqual(dict(self.limits.unregisteredByHost), {"10.1.1.50": 1})

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
            "SCCP connection from 10.1.1.9 refused: 2 open from that address with no phone registered "
            "(max-connections-per-host 2); further refusals are summarised every 60 s",
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
            "SCCP connection from 10.1.1.9 refused: 2 open from that address with no phone registered "
            "(max-connections-per-host 2); further refusals are summarised every 60 s"])

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
        protocol, transport = self.connect(factory, "10.0.0.1")
        IAdmittedConnection(protocol).phoneRegistered()
        with capturedLogs() as events:
            for n in range(MAX_SUMMARY_SOURCES + 10):
                self.assertIsNone(self.connect(factory, f"10.{n // 250}.{n % 250}.2"))
            self.assertEqual(limits.logLimiter.tracked, MAX_SUMMARY_SOURCES + 1)
            self.clock.advance(60)
        self.assertEqual(len(events), MAX_SUMMARY_SOURCES + 2)
        self.assertEqual(texts(events)[MAX_SUMMARY_SOURCES - 1:], [
            f"SCCP connection from 10.{(MAX_SUMMARY_SOURCES - 1) // 250}.{(MAX_SUMMARY_SOURCES - 1) % 250}.2 "
            "refused: 1 open in all, each with a phone registered (max-connections 1); further refusals are "
            "summarised every 60 s",
            f"SCCP connection from 10.{MAX_SUMMARY_SOURCES // 250}.{MAX_SUMMARY_SOURCES % 250}.2 "
            "refused: 1 open in all, each with a phone registered (max-connections 1); further refusals are "
            "summarised every 60 s",
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
        self.assertEqual((self.limits.open, dict(self.limits.unregisteredByHost)), (0, {}))


class StationLimitsTests(SynchronousTestCase):
    """
    The SCCP session tells the limits when a phone registers on its
    connection and when that registration ends: real L{SkinnyFactory}
    sessions behind L{ConnectionLimitFactory}, on a L{Clock}.
    """

    def setUp(self):
        self.router = Router(makeConfig(maxEphones=2), debugOn=())
        self.clock = self.router.clock
        cmf = self.router.config
        self.limits = ConnectionLimits(ConnectionCaps.fromConfig(cmf), self.clock)
        self.factory = ConnectionLimitFactory(self.router.plain, self.limits)

    def connect(self, host, port):
        """
        @return: the in-memory L{Phone} connected from C{host}:C{port} through
            the limits, or L{None} when refused.
        """
        address = IPv4Address("TCP", host, port)
        protocol = self.factory.buildProtocol(address)
        if protocol is None:
            return None
        transport = StringTransportWithDisconnection(peerAddress=address)
        transport.protocol = protocol
        protocol.makeConnection(transport)
        return Phone(protocol.wrappedProtocol, transport)

    def test_standbyFloodMakesRoomForAPhone(self):
        """
        max-ephones 2 gives max-connections 20: five addresses hold four
        KeepAlive-only connections each; a phone from a sixth address is
        accepted, registers, and the oldest idle connection was closed for
        it, with a warning naming both; the registration counts until it
        ends with Unregister.
        """
        self.assertEqual(self.limits.caps.total, 20)
        idle = []
        for n in range(20):
            connection = self.connect(f"127.0.0.{n % 5 + 2}", 40000 + n)
            self.assertEqual(types(connection.ask(m.KeepAlive())), ["KeepAliveAck"])
            idle.append(connection)
            self.clock.advance(1)
        with capturedLogs() as events:
            phone = self.connect("127.0.0.7", 50000)
        self.assertIsNotNone(phone)
        self.assertEqual(texts(events), [
            "SCCP connection from 127.0.0.2 port 40000 closed to make room for one from 127.0.0.7: 20 open in "
            "all (max-connections 20) and it was the oldest not registered (20 s); further closures are "
            "summarised every 60 s"])
        self.assertEqual([connection.open for connection in idle], [False] + [True] * 19)
        self.assertEqual(idle[0].station.status(), StationStatus.CLOSED)
        self.assertEqual(types(phone.register())[:1], ["RegisterAck"])
        self.assertEqual(phone.station.status(), StationStatus.REGISTERED)
        self.assertEqual((self.limits.open, self.limits.registered), (20, 1))
        self.assertNotIn("127.0.0.7", self.limits.unregisteredByHost)
        self.assertEqual(types(phone.ask(m.Unregister())), ["UnregisterAck"])
        self.assertEqual((self.limits.open, self.limits.registered), (20, 0))
        self.assertEqual(self.limits.unregisteredByHost["127.0.0.7"], 1)

    def test_allRegisteredRefuses(self):
        """
        With max-connections 2 and both connections registered, a new
        connection is refused, with the reason logged; registered phones are
        never closed to make room.
        """
        self.limits = ConnectionLimits(ConnectionCaps(total=2, perHost=4, configuredTotal=2), self.clock)
        self.factory = ConnectionLimitFactory(self.router.plain, self.limits)
        phones = [self.connect("127.0.0.2", 40000 + n) for n in range(2)]
        for n, phone in enumerate(phones):
            self.assertEqual(types(phone.register(f"SEP00000000000{n}"))[:1], ["RegisterAck"])
        with capturedLogs() as events:
            self.assertIsNone(self.connect("127.0.0.7", 50000))
        self.assertEqual(texts(events), [
            "SCCP connection from 127.0.0.7 refused: 2 open in all, each with a phone registered "
            "(max-connections 2); further refusals are summarised every 60 s"])
        self.assertEqual([phone.station.status() for phone in phones], [StationStatus.REGISTERED] * 2)


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


class IdleConnection(Protocol):
    """
    A connection that sends one KeepAlive (as a standby connection does) and
    then stays idle; C{settled} fires with C{"kept"} when the router answers
    it, C{"closed"} when the router closes the connection first.
    """

    def __init__(self):
        self.settled = Deferred()
        self.lost = Deferred()

    def connectionMade(self):
        self.transport.write(m.encodeMessage(m.KeepAlive(), protocolVersion=0))

    def dataReceived(self, data):
        if not self.settled.called:
            self.settled.callback("kept")

    def connectionLost(self, reason):
        if not self.settled.called:
            self.settled.callback("closed")
        self.lost.callback(None)


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
        registers; 160 more from four addresses fill the cap, each one over
        it closing the oldest idle connection, without using up the
        descriptors: C{srst-cli show ephone} and the credentials port still
        answer, 128 connections are open, the registered phone is kept, a
        new phone from a sixth address still registers, and each address's
        refusals and closures are logged once, not one line per connection.
        """
        stateDir = stateDirectory(self)
        router, stop = spawnRouter(self, routerYaml(stateDir, extra=CMF), stateDir,
                                      ROUTER_UNDER_LIMIT.format(soft=128, hard=192))
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
        self.assertEqual(sum(sum(flood, Counter()).values()), 160)

        out, err = io.StringIO(), io.StringIO()
        code = await deferToThread(cli.main, ["--socket", os.path.join(stateDir, "srst.sock"), "--json", "show",
                                              "ephone"], out, err)
        self.assertEqual((code, err.getvalue()), (0, ""))
        data = json.loads(out.getvalue())
        self.assertEqual([e["mac"] for e in data["ephones"] if e["registered"]], ["1000.1111.00AA"])
        limits = data["connectionLimits"]
        self.assertEqual((limits["open"], limits["closing"], limits["registered"]), (128, 0, 1))
        self.assertEqual(limits["closedToMakeRoom"] + limits["refused"].get("max-connections", 0), 160 - (128 - 41))
        self.assertGreaterEqual(limits["closedToMakeRoom"], CLOSING_ALLOWANCE)
        fetched = await fetchCredentials(reactor, "127.0.0.1", ports["credentials"], timeout=10)
        self.assertTrue(fetched.matches)
        late = SimulatedPhone(PhoneConfig(mac="1000.1111.00AB"), clock=reactor)
        connectPhone(reactor, late, "127.0.0.1", sccp, bindAddress=("127.0.0.7", 0))
        self.addCleanup(late.stop)
        await late.whenRegistered().addTimeout(10, reactor)
        self.assertEqual(phone.state, PhoneState.REGISTERED)

        await stop()
        log = router.text()
        self.assertIn("open-file limit (RLIMIT_NOFILE) 128 -> 192 (hard limit 192)", log)
        self.assertIn("call-manager-fallback: max-connections 216 and max-connections-per-host 40 do not fit the "
                      "open-file limit 192 (64 kept for the admin socket, credentials, MGCP and media): at most "
                      "128 SCCP connections, 40 per address", log)
        self.assertEqual(log.count("SCCP connection from 127.0.0.2 refused: 40 open from that address with no "
                                   "phone registered (max-connections-per-host 40)"), 1)
        closures = re.findall(r"SCCP connection from (127\.0\.0\.[2-6]) port \d+ closed to make room for one "
                              r"from 127\.0\.0\.[3-7]: 128 open in all \(max-connections 128\) and it was the "
                              r"oldest not registered", log)
        self.assertIn("127.0.0.2", closures)
        self.assertEqual(sorted(closures), sorted(set(closures)))
        self.assertNotIn("refused: 128 open in all, each with a phone registered", log)
        self.assertNotIn("EMFILE", log)
        self.assertNotIn("Too many open files", log)
        self.assertNotIn("Traceback", log)


LOCKOUT_CMF = SECURE_CMF_HEAD + """
  max-ephones: {maxEphones}
  {extra}
  max-dn: 10
  auto-assign: {{dn-range: "2000-2009"}}
"""


class RouterLockoutTests(TestCase):
    """
    A router on real 127.0.0.0/8 sockets: idle connections from a few
    addresses do not lock new phones out, and registered phones behind one
    address do not count against the per-host cap.
    """

    timeout = 30

    def setUp(self):
        self.clients = []
        self.addCleanup(lambda: [c.transport.abortConnection() for c in self.clients
                                 if c.transport is not None and c.transport.connected])
        self.logged = []
        observer = lambda event: self.logged.append(formatEvent(event))
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    @bounded
    def startRouter(self, maxEphones, extra=""):
        stateDir = stateDirectory(self)
        text = routerYamlWithCapf(stateDir, LOCKOUT_CMF.format(maxEphones=maxEphones, extra=extra))
        self.service = yield startRouter(self, text)
        return self.service

    def idle(self, source):
        """
        Open one KeepAlive-only connection from C{source} to the plain port.

        @return: a L{Deferred} firing with C{(client, "kept" or "closed")}.
        """
        client = IdleConnection()
        self.clients.append(client)
        reactor.connectTCP("127.0.0.1", self.service.ports()["sccp"], _Once(client), bindAddress=(source, 0))
        return within(client.settled, f"an idle connection from {source} to settle").addCallback(
            lambda result: (client, result))

    def phone(self, mac, source, tls):
        """
        Register a simulated phone from C{source} (TLS with an LSC, or plain).

        @return: a L{Deferred} firing with the phone once registered.
        """
        phone = SimulatedPhone(PhoneConfig(mac=mac), clock=reactor)
        ports = self.service.ports()
        if tls:
            lsc = issueLSC(PHONE_CA.certificate, PHONE_CA.key, mac, now=now)
            options = clientTLSOptions("127.0.0.1", [self.service.certificateServer.caCertificate],
                                       lsc.certificate, lsc.privateKey)
            connected = connectPhone(reactor, phone, "127.0.0.1", ports["sccp-secure"], tlsOptions=options,
                                     bindAddress=(source, 0))
        else:
            connected = connectPhone(reactor, phone, "127.0.0.1", ports["sccp"], bindAddress=(source, 0))
        self.addCleanup(stopPhone, phone, connected)
        return within(phone.whenRegistered(), f"{phone.deviceName} to register").addCallback(lambda _: phone)

    @bounded
    def test_idleFloodMakesRoomForATLSPhone(self):
        """
        The review's lockout: max-ephones 2 gives max-connections 20; five
        addresses hold four KeepAlive-only connections each (20, the cap);
        a TLS phone from a sixth address still registers (and counts as
        registered: the session reaches the limits through TLS), and the
        oldest idle connection was closed for it, with a warning naming
        both.
        """
        yield self.startRouter(maxEphones=2)
        idle = []
        for source in [f"127.0.0.{n}" for n in range(2, 7) for _ in range(4)]:
            client, result = yield self.idle(source)
            self.assertEqual(result, "kept")
            idle.append(client)
        self.assertEqual(self.service.connectionLimits.open, 20)
        oldestPort = idle[0].transport.getHost().port
        yield self.phone("1000111100A7", "127.0.0.7", tls=True)
        yield within(idle[0].lost, "the oldest idle connection to be closed")
        self.assertEqual([client.transport.connected for client in idle[1:]], [True] * 19)
        ephone = self.service.registry.byMac("1000111100A7")
        self.assertEqual((ephone.registered, ephone.secure, ephone.peerHost), (True, True, "127.0.0.7"))
        statistics = self.service.connectionLimits.statistics()
        self.assertEqual((statistics["open"], statistics["registered"], statistics["closedToMakeRoom"]), (20, 1, 1))
        closures = [line for line in self.logged if "closed to make room" in line]
        self.assertEqual(len(closures), 1)
        self.assertRegex(closures[0], (
            rf"^SCCP connection from 127\.0\.0\.2 port {oldestPort} closed to make room for one from 127\.0\.0\.7: "
            r"20 open in all \(max-connections 20\) and it was the oldest not registered \(\d+ s\); further "
            r"closures are summarised every 60 s$"))

    @bounded
    def test_allRegisteredRefuses(self):
        """
        With max-connections 2 and two phones registered, a new connection
        is refused at accept, with the reason logged, and both phones stay
        registered.
        """
        yield self.startRouter(maxEphones=2, extra="max-connections: 2")
        phones = []
        for n in range(2):
            phones.append((yield self.phone(f"1000111100B{n}", "127.0.0.2", tls=False)))
        client, result = yield self.idle("127.0.0.3")
        self.assertEqual(result, "closed")
        self.assertIn("SCCP connection from 127.0.0.3 refused: 2 open in all, each with a phone registered "
                      "(max-connections 2); further refusals are summarised every 60 s", self.logged)
        self.assertEqual([p.state for p in phones], [PhoneState.REGISTERED] * 2)
        self.assertEqual(self.service.connectionLimits.statistics()["refused"], {"max-connections": 1})

    @bounded
    def test_phonesBehindOneAddress(self):
        """
        Six phones behind one address (NAT) register one after another with
        the default max-connections-per-host 4; that address still gets four
        unregistered connections, and a fifth is refused.
        """
        yield self.startRouter(maxEphones=15)
        self.assertEqual(self.service.connectionLimits.caps.perHost, 4)
        for n in range(6):
            yield self.phone(f"1000111100C{n}", "127.0.0.2", tls=False)
        for n in range(4):
            client, result = yield self.idle("127.0.0.2")
            self.assertEqual(result, "kept")
        client, result = yield self.idle("127.0.0.2")
        self.assertEqual(result, "closed")
        self.assertIn("SCCP connection from 127.0.0.2 refused: 4 open from that address with no phone "
                      "registered (max-connections-per-host 4); further refusals are summarised every 60 s",
                      self.logged)
        self.assertEqual(len(self.service.registry.registeredEphones()), 6)
        statistics = self.service.connectionLimits.statistics()
        self.assertEqual((statistics["open"], statistics["registered"], statistics["refused"]),
                         (10, 6, {"max-connections-per-host": 1}))
