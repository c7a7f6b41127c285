"""
Tests for L{srst.policing.stream}: the stream wrapper (refuse, pause,
resume, abort, pass-through) on L{Clock} and fake transports, and TLS
inside it.  Real sockets are in L{tests.test_policing_stream_integration}.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.protocol import Factory
from twisted.internet.ssl import CertificateOptions, optionsForClientTLS, trustRootFromCertificates
from twisted.internet.ssl import Certificate as TwistedCertificate
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.logger import LogLevel, capturedLogs
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from cryptography.hazmat.primitives.serialization import Encoding

from srst.policing.config import CLASS_DEFAULT
from srst.policing.meter import CONNECTION_ATTEMPT_BYTES, SEGMENT_BYTES, ControlPlane
from srst.policing.stream import PolicingFactory, PolicingProtocol
from tests.pkihelpers import makeCA, makeServerCertificate
from tests.policinghelpers import (
    CREDENTIALS_PORT,
    TRUSTED,
    UNTRUSTED,
    Recorder,
    RecorderFactory,
    connect,
    peer,
    policed,
    rateLimitPolicy,
    seedPolicy,
)


class RefusingFactory(Factory):
    """
    A wrapped factory that refuses every connection itself.
    """

    def buildProtocol(self, addr):
        return None


class PolicingFactoryTests(SynchronousTestCase):
    """
    L{PolicingFactory.buildProtocol}: refuse, pass through, and the
    bookkeeping around them.
    """

    def test_refuseUntrusted(self):
        """
        With the seed's policy an untrusted connection to the credentials
        port is refused before the wrapped factory is asked, counted, and
        logged with fields.
        """
        factory, app, cp, clock = policed(seedPolicy())
        with capturedLogs() as events:
            protocol, _ = connect(factory, UNTRUSTED, 41000)
        self.assertIsNone(protocol)
        self.assertEqual(app.built, [])
        self.assertEqual(factory.protocols, {})
        sccp = cp.stats().byName("sccp-class")
        self.assertEqual((sccp.refusedConnections, sccp.droppedPackets, sccp.droppedBytes), (1, 1, 60))
        [event] = events
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertEqual((event["peer"], event["peerPort"], event["port"]), (UNTRUSTED, 41000, 2445))
        self.assertEqual((event["policyClass"], event["outcome"], event["action"]),
                         ("sccp-class", "conformed", "drop"))

    def test_passTrusted(self):
        """
        The trusted host's connection is class-default: wrapped, delivered
        untouched and never paused, however much it sends.
        """
        factory, app, cp, clock = policed(seedPolicy())
        protocol, transport = connect(factory, TRUSTED)
        self.assertIsInstance(protocol, PolicingProtocol)
        self.assertIsNone(protocol.policyClass)
        self.assertEqual(protocol.logPrefix(), "Recorder (PolicingProtocol)")
        [recorder] = app.built
        self.assertTrue(recorder.made)
        protocol.dataReceived(b"x" * 100000)
        self.assertEqual(len(recorder.received), 100000)
        self.assertEqual(transport.producerState, "producing")
        self.assertEqual(clock.getDelayedCalls(), [])
        default = cp.stats().byName(CLASS_DEFAULT)
        self.assertEqual(default.bytes, 60 + 100000)
        self.assertEqual(default.packets, 1 + -(-100000 // SEGMENT_BYTES))

    def test_otherPortPasses(self):
        """
        Untrusted traffic to another port is not in the class (line 3 denies
        it) and passes.
        """
        factory, app, cp, clock = policed(seedPolicy(), localPort=2000)
        protocol, _ = connect(factory, UNTRUSTED)
        self.assertIsNotNone(protocol)
        self.assertEqual(len(app.built), 1)

    def test_wrappedFactoryRefuses(self):
        """
        C{None} from the wrapped factory is passed on, not wrapped.
        """
        cp = ControlPlane(seedPolicy(), Clock())
        factory = PolicingFactory(RefusingFactory(), cp, Clock(), localPort=2445)
        self.assertIsNone(factory.buildProtocol(peer(TRUSTED)))
        self.assertEqual(factory.protocols, {})

    def test_nonIPPeer(self):
        """
        A peer without an IP address is class-default.
        """
        factory, app, cp, clock = policed(seedPolicy())
        self.assertIsNotNone(factory.buildProtocol(UNIXAddress(b"/tmp/x")))
        self.assertEqual(len(app.built), 1)

    def test_callableLocalPort(self):
        """
        C{localPort} may be a callable, consulted per connection.
        """
        ports = [2000]
        factory, app, cp, clock = policed(seedPolicy(), localPort=lambda: ports[0])
        self.assertIsNotNone(factory.buildProtocol(peer(UNTRUSTED)))
        ports[0] = 2445
        self.assertIsNone(factory.buildProtocol(peer(UNTRUSTED)))

    def test_acceptedPortRefuses(self):
        """
        Without C{localPort} the decision uses the accepted socket's port in
        C{makeConnection}: a refused connection is aborted there and the
        wrapped factory is never asked.
        """
        factory, app, cp, clock = policed(seedPolicy(), localPort=None)
        protocol, transport = connect(factory, UNTRUSTED, transportClass=StringTransportWithDisconnection)
        self.assertIsInstance(protocol, PolicingProtocol)
        self.assertEqual(protocol.logPrefix(), "PolicingProtocol")
        self.assertTrue(transport.disconnected)
        self.assertEqual(app.built, [])
        self.assertEqual(factory.protocols, {})
        protocol.dataReceived(b"ignored")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(cp.stats().byName("sccp-class").refusedConnections, 1)

    def test_acceptedPortPasses(self):
        """
        Without C{localPort}, a trusted connection is connected to the
        wrapped protocol once its port is known.
        """
        factory, app, cp, clock = policed(seedPolicy(), localPort=lambda: None)
        protocol, transport = connect(factory, TRUSTED)
        [recorder] = app.built
        self.assertTrue(recorder.made)
        self.assertIn(protocol, factory.protocols)
        protocol.dataReceived(b"hello")
        self.assertEqual(recorder.received, b"hello")

    def test_acceptedPortLateCallable(self):
        """
        A C{localPort} callable that learns the port between C{buildProtocol}
        and C{makeConnection} is asked again; its answer wins over the
        socket's own port.
        """
        ports = [None]
        factory, app, cp, clock = policed(seedPolicy(), localPort=lambda: ports[0])
        protocol = factory.buildProtocol(peer(UNTRUSTED))
        ports[0] = 2445
        transport = StringTransport(hostAddress=IPv4Address("TCP", "127.0.0.1", 55555), peerAddress=peer(UNTRUSTED))
        protocol.makeConnection(transport)
        self.assertTrue(transport.disconnected)
        self.assertEqual(app.built, [])

    def test_acceptedPortWrappedRefuses(self):
        """
        Without C{localPort}, C{None} from the wrapped factory aborts the
        accepted connection.
        """
        cp = ControlPlane(seedPolicy(), Clock())
        factory = PolicingFactory(RefusingFactory(), cp, Clock())
        protocol, transport = connect(factory, TRUSTED)
        self.assertTrue(transport.disconnected)
        self.assertEqual(factory.protocols, {})

    def test_unregisterCallsBase(self):
        """
        Losing a connection unregisters it from the factory and tells the
        wrapped protocol.
        """
        factory, app, cp, clock = policed(seedPolicy())
        protocol, transport = connect(factory, TRUSTED, transportClass=StringTransportWithDisconnection)
        self.assertEqual(list(factory.protocols), [protocol])
        transport.loseConnection()
        self.assertEqual(factory.protocols, {})
        self.assertIsNotNone(app.built[0].lost)
        self.assertIsNone(protocol.wrappedProtocol)

    def test_requiresClock(self):
        """
        The clock is a required argument.
        """
        cp = ControlPlane(seedPolicy(), Clock())
        self.assertRaises(TypeError, PolicingFactory, RecorderFactory(), cp)


class ThrottleTests(SynchronousTestCase):
    """
    Accepted connections in a policed class: pause and resume on the rate,
    abort on a conform drop, and timers that never outlive a connection.
    """

    def connectUntrusted(self, policy=None, transportClass=StringTransportWithDisconnection):
        self.factory, self.app, self.cp, self.clock = policed(policy or rateLimitPolicy())
        self.protocol, self.transport = connect(self.factory, UNTRUSTED, transportClass=transportClass)
        [self.recorder] = self.app.built
        return self.protocol

    def test_withinBurstDelivers(self):
        """
        Data within the bucket is delivered and the transport keeps reading.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 1000)
        self.assertEqual(self.recorder.received, b"a" * 1000)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_exceedPausesAndResumes(self):
        """
        A read beyond the bucket is still delivered whole (no byte is ever
        discarded mid-stream), then reads pause until the bucket has repaid
        the excess and holds a read's worth again.
        """
        protocol = self.connectUntrusted()
        # 60 bytes went to the connection attempt; 1440 remain.
        protocol.dataReceived(b"a" * 1440)
        protocol.dataReceived(b"b" * 500)
        self.assertEqual(self.recorder.received, b"a" * 1440 + b"b" * 500)
        self.assertEqual(self.transport.producerState, "paused")
        self.assertTrue(protocol.throttled)
        [call] = self.clock.getDelayedCalls()
        self.assertAlmostEqual(call.getTime(), 1.0)  # repay 500, then 500 more
        self.clock.advance(0.999)
        self.assertEqual(self.transport.producerState, "paused")
        self.clock.advance(0.001)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertFalse(protocol.throttled)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        police = self.cp.stats().byName("sccp-class").police
        self.assertEqual((police.conformedPackets, police.exceededPackets), (2, 1))
        self.assertEqual(self.cp.stats().byName("sccp-class").throttledReads, 1)

    def test_resumeWaitsForSharedBucket(self):
        """
        The bucket is shared by the class: when another connection drew on
        it meanwhile, the resume is put off again.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 1440)
        protocol.dataReceived(b"b" * 500)
        [sccp] = self.cp.policy.classes
        self.clock.advance(0.9)
        self.cp.bucket(sccp).drain(400, self.clock.seconds())
        self.clock.advance(0.1)
        self.assertEqual(self.transport.producerState, "paused")
        [call] = self.clock.getDelayedCalls()
        self.assertAlmostEqual(call.getTime(), 1.4)
        self.clock.advance(0.4)
        self.assertEqual(self.transport.producerState, "producing")

    def test_innerPauseRespected(self):
        """
        A pause asked for by the wrapped protocol (TLS, the application)
        survives the policer's resume, and the policer's pause survives the
        wrapped protocol's resume.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 1440)
        protocol.dataReceived(b"b" * 500)
        self.recorder.transport.pauseProducing()
        self.clock.advance(1.0)
        self.assertEqual(self.transport.producerState, "paused")
        self.recorder.transport.resumeProducing()
        self.assertEqual(self.transport.producerState, "producing")
        protocol.dataReceived(b"c" * 2000)
        self.assertEqual(self.transport.producerState, "paused")
        self.recorder.transport.resumeProducing()
        self.assertEqual(self.transport.producerState, "paused")
        self.recorder.transport.pauseProducing()
        self.clock.advance(10)
        self.assertEqual(self.transport.producerState, "paused")
        self.recorder.transport.resumeProducing()
        self.assertEqual(self.transport.producerState, "producing")

    def test_throttleWhileInnerPaused(self):
        """
        When the wrapped protocol has already paused the transport, the
        policer neither pauses it again nor lets the wrapped protocol's
        pauses and resumes through while it holds the connection.
        """
        protocol = self.connectUntrusted(transportClass=StringTransport)
        calls = []
        self.transport.pauseProducing = lambda: calls.append("pause")
        self.transport.resumeProducing = lambda: calls.append("resume")
        self.recorder.transport.pauseProducing()
        protocol.dataReceived(b"a" * 3000)
        self.recorder.transport.pauseProducing()
        self.clock.advance(10)
        self.assertEqual(calls, ["pause"])
        self.recorder.transport.resumeProducing()
        self.assertEqual(calls, ["pause", "resume"])

    def test_closingConnectionNotPaused(self):
        """
        Excess read by a connection the application is already closing is
        delivered and charged, but the transport is not paused and no timer
        is set.
        """
        protocol = self.connectUntrusted(transportClass=StringTransport)
        self.recorder.transport.loseConnection()
        protocol.dataReceived(b"a" * 3000)
        self.assertEqual(len(self.recorder.received), 3000)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        [sccp] = self.cp.policy.classes
        self.assertLess(self.cp.bucket(sccp).level(self.clock.seconds()), 0)

    def test_readWhilePausedExtendsPause(self):
        """
        Data delivered while paused (already read by the reactor) is
        delivered and pushes the resume further out with the same timer.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 1940)
        [first] = self.clock.getDelayedCalls()
        firstTime = first.getTime()
        protocol.dataReceived(b"b" * 1000)
        [second] = self.clock.getDelayedCalls()
        self.assertIs(first, second)
        self.assertGreater(second.getTime(), firstTime)
        self.assertEqual(len(self.recorder.received), 2940)

    def test_timerCancelledOnConnectionLost(self):
        """
        Losing a throttled connection cancels its resume timer.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 5000)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.transport.loseConnection()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.factory.protocols, {})
        self.assertIsNotNone(self.recorder.lost)

    def test_appClosesDuringThrottledRead(self):
        """
        If the application closes the connection while handling a throttled
        read, no timer is left behind.
        """
        protocol = self.connectUntrusted()

        def closing(data):
            self.recorder.transport.loseConnection()

        self.recorder.dataReceived = closing
        protocol.dataReceived(b"a" * 5000)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.factory.protocols, {})

    def test_timersCancelledWhenFactoryStops(self):
        """
        When the listener stops, every resume timer of its connections is
        cancelled, and so is the timer of the summary of the throttle
        warnings (the last policed listener stopped).
        """
        self.factory, self.app, self.cp, self.clock = policed(rateLimitPolicy())
        self.factory.doStart()
        protocols = [connect(self.factory, UNTRUSTED, 40000 + n)[0] for n in range(3)]
        for protocol in protocols:
            protocol.dataReceived(b"a" * 3000)
        self.assertEqual(len(self.clock.getDelayedCalls()), 4)
        self.assertTrue(self.cp.logLimiter.timerArmed)
        self.factory.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopProducing(self):
        """
        C{stopProducing} from the wrapped protocol cancels the resume timer
        and reaches the transport.
        """
        protocol = self.connectUntrusted(transportClass=StringTransport)
        protocol.dataReceived(b"a" * 5000)
        self.recorder.transport.stopProducing()
        self.assertEqual(self.transport.producerState, "stopped")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_exceedTransmitNeverPauses(self):
        """
        With C{exceed-action transmit} excess is counted but not held back.
        """
        protocol = self.connectUntrusted(seedPolicy(conform="transmit", exceed="transmit"))
        protocol.dataReceived(b"a" * 10000)
        self.assertEqual(len(self.recorder.received), 10000)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(self.clock.getDelayedCalls(), [])
        police = self.cp.stats().byName("sccp-class").police
        self.assertGreater(police.exceededBytes, 0)

    def test_conformDropAborts(self):
        """
        With C{conform-action drop}, a connection admitted because its
        attempt exceeded (exceed transmit) is aborted by its first conforming
        read, which is not delivered.
        """
        policy = seedPolicy(conform="drop", exceed="transmit")
        self.factory, self.app, self.cp, self.clock = policed(policy)
        [sccp] = self.cp.policy.classes
        self.cp.bucket(sccp).drain(1500, 0)
        protocol, transport = connect(self.factory, UNTRUSTED, transportClass=StringTransportWithDisconnection)
        [recorder] = self.app.built
        protocol.dataReceived(b"early")  # still no tokens: exceeds, transmitted
        self.assertEqual(recorder.received, b"early")
        self.clock.advance(2)
        with capturedLogs() as events:
            protocol.dataReceived(b"late")
            protocol.dataReceived(b"after")
        self.assertEqual(recorder.received, b"early")
        self.assertIsNotNone(recorder.lost)
        stats = self.cp.stats().byName("sccp-class")
        self.assertEqual((stats.abortedConnections, stats.droppedBytes), (1, 4))
        [event] = events
        self.assertEqual((event["kind"], event["peer"]), ("abort", UNTRUSTED))

    def test_largeReadSegments(self):
        """
        A large read is metered as MSS-sized packets: the first conform, the
        rest exceed.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * (4 * SEGMENT_BYTES))
        police = self.cp.stats().byName("sccp-class").police
        # The attempt took 60 bytes; no full segment fits in the 1440 left.
        self.assertEqual((police.conformedPackets, police.exceededPackets), (1, 4))
        self.assertEqual(police.exceededBytes, 4 * SEGMENT_BYTES)


class RateTests(SynchronousTestCase):
    """
    Throughput of an untrusted client that keeps offering data, with the
    reactor's behaviour simulated: data is delivered only while the
    transport is not paused.
    """

    def offer(self, protocols, transports, clock, chunk, seconds, step=0.01):
        for _ in range(int(round(seconds / step))):
            for protocol, transport in zip(protocols, transports):
                if transport.producerState == "producing":
                    protocol.dataReceived(b"x" * chunk)
            clock.advance(step)

    def test_throughputConverges(self):
        """
        At C{police 8000 1500 1500 conform-action transmit exceed-action
        drop}, a client offering 20 kB/s for 10 s gets within 20 % of 8000
        bps (the first second's burst included), and within 5 % once the
        burst is spent.
        """
        factory, app, cp, clock = policed(rateLimitPolicy())
        protocol, transport = connect(factory, UNTRUSTED)
        [recorder] = app.built
        self.offer([protocol], [transport], clock, 200, 2.0)
        atTwo = len(recorder.received)
        self.offer([protocol], [transport], clock, 200, 8.0)
        total = len(recorder.received)
        self.assertApproximates(total * 8 / 10.0, 8000, 8000 * 0.20)
        self.assertApproximates((total - atTwo) * 8 / 8.0, 8000, 8000 * 0.05)
        self.assertGreater(cp.stats().byName("sccp-class").throttledReads, 0)

    def test_largeReadsConverge(self):
        """
        With 4 kB reads (one read overshoots the bucket by a lot), the debt
        still holds the class to the rate over a minute.
        """
        factory, app, cp, clock = policed(rateLimitPolicy())
        protocol, transport = connect(factory, UNTRUSTED)
        [recorder] = app.built
        self.offer([protocol], [transport], clock, 4096, 60.0, step=0.05)
        self.assertApproximates(len(recorder.received) * 8 / 60.0, 8000, 8000 * 0.10)

    def test_aggregateAcrossConnections(self):
        """
        The bucket is per class, not per connection: two untrusted clients
        share 8000 bps between them, and both make progress.
        """
        factory, app, cp, clock = policed(rateLimitPolicy())
        pairs = [connect(factory, UNTRUSTED, 40000 + n) for n in range(2)]
        self.offer([p for p, _ in pairs], [t for _, t in pairs], clock, 200, 20.0)
        received = [len(r.received) for r in app.built]
        self.assertApproximates(sum(received) * 8 / 20.0, 8000, 8000 * 0.15)
        self.assertTrue(all(n > 4000 for n in received), received)


class _PausingLink:
    """
    A client and a server protocol joined by two L{StringTransport}s.  Bytes
    cross in reads of at most C{readSize}, and only while the receiving
    transport is not paused: the kernel holds the rest, as with a real
    reactor.
    """

    def __init__(self, client, server, readSize=1024):
        clientAddress, serverAddress = peer(UNTRUSTED), IPv4Address("TCP", "127.0.0.1", CREDENTIALS_PORT)
        self.client, self.server = client, server
        self.clientTransport = StringTransport(hostAddress=clientAddress, peerAddress=serverAddress)
        self.serverTransport = StringTransport(hostAddress=serverAddress, peerAddress=clientAddress)
        self.readSize = readSize
        self.serverRead = 0
        server.makeConnection(self.serverTransport)
        client.makeConnection(self.clientTransport)
        self.toServer = b""
        self.toClient = b""

    def pump(self):
        for _ in range(10000):
            self.toServer += self.clientTransport.value()
            self.clientTransport.clear()
            self.toClient += self.serverTransport.value()
            self.serverTransport.clear()
            moved = False
            if self.toServer and self.serverTransport.producerState == "producing":
                data, self.toServer = self.toServer[: self.readSize], self.toServer[self.readSize:]
                self.serverRead += len(data)
                self.server.dataReceived(data)
                moved = True
            if self.toClient and self.clientTransport.producerState == "producing":
                data, self.toClient = self.toClient[: self.readSize], self.toClient[self.readSize:]
                self.client.dataReceived(data)
                moved = True
            if not moved:
                return


class TLSInsidePolicingTests(SynchronousTestCase):
    """
    TLS wrapped inside policing, as the lead builds the credentials
    listener: the wrapper meters the raw bytes, handshake included, and
    pausing never corrupts the TLS stream.
    """

    def test_throttledHandshakeAndData(self):
        """
        An untrusted client's handshake and 6000 bytes of application data
        cross a rate-limited listener intact; the server application sees an
        L{ISSLTransport}; the raw bytes took at least as long as the bucket
        allows.
        """
        ca = makeCA()
        certificate, key = makeServerCertificate(ca)
        serverOptions = CertificateOptions(privateKey=key, certificate=certificate)
        caPem = ca.certificate.public_bytes(Encoding.PEM)
        clientOptions = optionsForClientTLS(
            "127.0.0.1", trustRoot=trustRootFromCertificates([TwistedCertificate.loadPEM(caPem)])
        )
        clock = Clock()
        cp = ControlPlane(rateLimitPolicy(), clock)
        serverApp = RecorderFactory()
        policing = PolicingFactory(TLSMemoryBIOFactory(serverOptions, False, serverApp, clock=clock),
                                   cp, clock, localPort=CREDENTIALS_PORT)
        payload = bytes(range(256)) * 24

        class Sender(Recorder):
            def connectionMade(self):
                self.transport.write(payload)

        clientApp = Factory.forProtocol(Sender)
        client = TLSMemoryBIOFactory(clientOptions, True, clientApp, clock=clock).buildProtocol(None)
        server = policing.buildProtocol(peer(UNTRUSTED))
        link = _PausingLink(client, server)
        elapsed = 0.0
        while elapsed < 60 and (not serverApp.built or len(serverApp.built[0].received) < len(payload)):
            link.pump()
            clock.advance(0.05)
            elapsed += 0.05
        [app] = serverApp.built
        self.assertEqual(app.received, payload)
        self.assertTrue(ISSLTransport.providedBy(app.transport))
        stats = cp.stats().byName("sccp-class")
        self.assertGreater(stats.throttledReads, 0)
        self.assertEqual(stats.bytes, CONNECTION_ATTEMPT_BYTES + link.serverRead)
        self.assertGreaterEqual(elapsed, (link.serverRead + 60 - 1500 - 1024) / 1000.0)
