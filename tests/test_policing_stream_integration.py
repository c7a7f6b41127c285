"""
Integration tests for L{srst.policing.stream} on real loopback sockets.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a client bound
to 127.0.0.2 is an "untrusted host" and one bound to 127.0.0.1 the trusted
host of the seed's Configuration 2 (with 10.1.1.11 swapped for 127.0.0.1).
Listeners bind to 127.0.0.1 on an ephemeral port and give the policy the
credentials service port (C{localPort=2445}).
"""

from __future__ import annotations

from attrs import evolve
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase

from srst.admin.commands import CommandTable
from srst.policing.commands import registerPolicingCommands
from srst.policing.config import CLASS_DEFAULT
from srst.policing.meter import ControlPlane
from srst.policing.stream import PolicingFactory
from tests.policinghelpers import CREDENTIALS_PORT, TRUSTED, UNTRUSTED, requireLoopbackAliases, seedPolicy
from tests.routerhelpers import bounded

UNTRUSTED_CONNECTIONS = 500
TRUSTED_CONNECTIONS = 20
CONCURRENCY = 100
READ_SIZE = 65536
"""The most a Twisted TCP transport reads at once."""


class EchoServer(Protocol):
    """
    Echoes; tells its factory when it goes away.
    """

    def connectionMade(self):
        self.factory.opened += 1

    def dataReceived(self, data):
        self.transport.write(data)

    def connectionLost(self, reason):
        self.factory.closed += 1
        if self.factory.closed == self.factory.expected:
            self.factory.allClosed.callback(None)


class EchoFactory(Factory):
    """
    Builds L{EchoServer}s; C{allClosed} fires once C{expected} of them have
    closed, so the test ends with no server connection left open.
    """

    protocol = EchoServer

    def __init__(self, expected):
        self.expected = expected
        self.opened = 0
        self.closed = 0
        self.allClosed = Deferred()


class Client(Protocol):
    """
    Sends a greeting, collects what comes back, and closes once it has
    heard its echo (if it ever does).
    """

    def __init__(self, greeting):
        self.greeting = greeting
        self.received = b""
        self.reason = None
        self.lost = Deferred()

    def connectionMade(self):
        self.transport.write(self.greeting)

    def dataReceived(self, data):
        self.received += data
        if self.received == self.greeting:
            self.transport.loseConnection()

    def connectionLost(self, reason):
        self.reason = reason
        self.lost.callback(None)


class TCPPolicingTests(TestCase):
    """
    The seed's Configuration 2 in front of a TCP echo service.
    """

    timeout = 30

    def setUp(self):
        requireLoopbackAliases()

    def listen(self, policy, serverFactory):
        self.controlPlane = ControlPlane(policy, reactor)
        factory = PolicingFactory(serverFactory, self.controlPlane, reactor, localPort=CREDENTIALS_PORT)
        port = reactor.listenTCP(0, factory, interface="127.0.0.1", backlog=CONCURRENCY * 2)
        self.addCleanup(port.stopListening)
        return port.getHost().port

    def connectFrom(self, source, port, greeting):
        """
        Connect from C{source}, send C{greeting}, and wait until the
        connection is over.  A connection the server closes at once may be
        reported as a failed connect rather than a lost one; both are fine.

        @return: a Deferred firing with the L{Client}.
        """
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10, bindAddress=(source, 0))
        client = Client(greeting)
        d = connectProtocol(endpoint, client)
        d.addCallbacks(lambda _: client.lost, lambda f: f.trap(ConnectionDone, ConnectionLost, ConnectError))
        return d.addCallback(lambda _: client)

    @bounded
    def test_seedDropsUntrustedEchoesTrusted(self):
        """
        500 connections from 127.0.0.2 are all dropped (no byte echoed) and
        counted as refused, while every connection from 127.0.0.1 made in the
        middle of the flood gets its echo.
        """
        echo = EchoFactory(TRUSTED_CONNECTIONS)
        port = self.listen(seedPolicy(TRUSTED), echo)
        limit = DeferredSemaphore(CONCURRENCY)
        untrusted = [limit.run(self.connectFrom, UNTRUSTED, port, b"flood %d" % n)
                     for n in range(UNTRUSTED_CONNECTIONS)]
        trusted = [limit.run(self.connectFrom, TRUSTED, port, b"hello %d" % n) for n in range(TRUSTED_CONNECTIONS)]
        # The semaphore queues the trusted clients behind the flood's
        # first batches, so they connect while the flood is going on.
        flood = yield gatherResults(untrusted)
        friends = yield gatherResults(trusted)
        yield echo.allClosed

        self.assertEqual([c.received for c in flood], [b""] * UNTRUSTED_CONNECTIONS)
        self.assertEqual([c.received for c in friends], [b"hello %d" % n for n in range(TRUSTED_CONNECTIONS)])
        self.assertEqual(echo.opened, TRUSTED_CONNECTIONS)

        stats = self.controlPlane.stats()
        sccp = stats.byName("sccp-class")
        self.assertEqual(sccp.packets, UNTRUSTED_CONNECTIONS)
        self.assertEqual(sccp.refusedConnections, UNTRUSTED_CONNECTIONS)
        self.assertEqual(sccp.droppedPackets, UNTRUSTED_CONNECTIONS)
        self.assertEqual(sccp.police.conformedPackets + sccp.police.exceededPackets, UNTRUSTED_CONNECTIONS)
        default = stats.byName(CLASS_DEFAULT)
        self.assertGreaterEqual(default.packets, 2 * TRUSTED_CONNECTIONS)

        table = CommandTable()
        registerPolicingCommands(table, self.controlPlane)
        command, variables = table.lookup(["show", "policy-map", "control-plane"])
        text = command.handler(**variables).text
        self.assertIn(f"      {UNTRUSTED_CONNECTIONS} packets, {UNTRUSTED_CONNECTIONS * 60} bytes", text)

    @bounded
    def test_rateLimitedStream(self):
        """
        With conform transmit / exceed drop, a fast untrusted sender's 256 kB
        all arrive intact but no faster than the police rate allows (plus
        one read), paced by pausing the real TCP transport; no timer outlives
        the connection.
        """
        rateBps = 1600000  # 200 kB/s keeps the test around a second
        policy = seedPolicy(TRUSTED, conform="transmit", exceed="drop")
        [cls] = policy.classes
        policy = evolve(policy, classes=[evolve(cls, police=evolve(cls.police, rateBps=rateBps))])
        payload = bytes(range(256)) * 1024  # 256 kB, several reads
        received = []
        done = Deferred()

        class Sink(Protocol):
            def dataReceived(self, data):
                received.append(data)
                if sum(map(len, received)) >= len(payload):
                    self.transport.loseConnection()

            def connectionLost(self, reason):
                done.callback(None)

        port = self.listen(policy, Factory.forProtocol(Sink))
        start = reactor.seconds()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10, bindAddress=(UNTRUSTED, 0))
        client = Client(payload)
        yield connectProtocol(endpoint, client)
        yield DeferredList([done, client.lost])
        elapsed = reactor.seconds() - start
        self.assertEqual(b"".join(received), payload)
        # One read (at most 64 kB) is delivered before the bucket can say
        # anything; after that the pauses pace the stream.
        minimum = (len(payload) + 60 - 1500 - READ_SIZE) / (rateBps / 8)
        self.assertGreaterEqual(elapsed, minimum * 0.95)
        self.assertGreater(self.controlPlane.stats().byName("sccp-class").throttledReads, 0)
