"""
Tests for L{srst.policing.datagram}: per-datagram decisions for UDP
listeners, on L{Clock} and a fake UDP port.  Real sockets are in
L{tests.test_policing_datagram_integration}.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from srst.policing.config import CLASS_DEFAULT
from srst.policing.datagram import PolicingDatagramProtocol
from srst.policing.meter import ControlPlane
from tests.policinghelpers import TRUSTED, UNTRUSTED, mgcpPolicy


class RecordingDatagram(DatagramProtocol):
    """
    A UDP protocol that keeps what it receives.
    """

    def __init__(self):
        self.received = []
        self.started = 0
        self.stopped = 0
        self.refused = 0

    def startProtocol(self):
        self.started += 1

    def stopProtocol(self):
        self.stopped += 1

    def connectionRefused(self):
        self.refused += 1

    def datagramReceived(self, datagram, addr):
        self.received.append((datagram, addr))


class FakeUDPTransport:
    """
    Enough of a UDP port: writes and the bound address.
    """

    def __init__(self, port):
        self.port = port
        self.written = []

    def write(self, packet, addr=None):
        self.written.append((packet, addr))

    def getHost(self):
        return IPv4Address("UDP", "127.0.0.1", self.port)


class DatagramTests(SynchronousTestCase):
    """
    L{PolicingDatagramProtocol}: per-datagram decisions for UDP listeners.
    """

    def wrap(self, policy, localPort=2427, boundPort=2427):
        self.clock = Clock()
        self.cp = ControlPlane(policy, self.clock)
        self.inner = RecordingDatagram()
        self.wrapper = PolicingDatagramProtocol(self.inner, self.cp, localPort=localPort)
        self.transport = FakeUDPTransport(boundPort)
        self.wrapper.makeConnection(self.transport)

    def test_dropAndDeliver(self):
        """
        Untrusted datagrams in a drop/drop class are dropped and counted;
        the trusted host's and other ports' are delivered.
        """
        self.wrap(mgcpPolicy())
        with capturedLogs() as events:
            for n in range(10):
                self.wrapper.datagramReceived(b"RSIP %d" % n, (UNTRUSTED, 2727))
        self.wrapper.datagramReceived(b"AUEP 1", (TRUSTED, 2727))
        self.assertEqual(self.inner.received, [(b"AUEP 1", (TRUSTED, 2727))])
        stats = self.cp.stats()
        mgcp = stats.byName("mgcp-class")
        self.assertEqual((mgcp.packets, mgcp.droppedPackets, mgcp.droppedBytes), (10, 10, 60))
        self.assertEqual(stats.byName(CLASS_DEFAULT).packets, 1)
        [event] = events
        self.assertEqual((event["peer"], event["peerPort"], event["kind"]), (UNTRUSTED, 2727, "datagram"))

    def test_rateLimited(self):
        """
        With conform transmit / exceed drop, datagrams pass until the burst
        is spent, then at the rate.
        """
        self.wrap(mgcpPolicy("transmit", "drop"))
        for _ in range(20):
            self.wrapper.datagramReceived(b"x" * 100, (UNTRUSTED, 2727))
        self.assertEqual(len(self.inner.received), 15)
        self.clock.advance(1.0)
        for _ in range(20):
            self.wrapper.datagramReceived(b"x" * 100, (UNTRUSTED, 2727))
        self.assertEqual(len(self.inner.received), 25)

    def test_boundPort(self):
        """
        Without C{localPort}, the transport's bound port is the destination
        port: a listener on another port is not in the class.
        """
        self.wrap(mgcpPolicy(), localPort=None, boundPort=2427)
        self.wrapper.datagramReceived(b"x", (UNTRUSTED, 2727))
        self.assertEqual(self.inner.received, [])
        self.wrap(mgcpPolicy(), localPort=None, boundPort=2428)
        self.wrapper.datagramReceived(b"x", (UNTRUSTED, 2727))
        self.assertEqual(len(self.inner.received), 1)

    def test_passThrough(self):
        """
        The wrapped protocol is started and stopped with the wrapper, writes
        on the real transport, and hears of refused connections.
        """
        self.wrap(mgcpPolicy())
        self.assertEqual(self.inner.started, 1)
        self.assertIs(self.inner.transport, self.transport)
        self.inner.transport.write(b"200 1 OK", (TRUSTED, 2727))
        self.assertEqual(self.transport.written, [(b"200 1 OK", (TRUSTED, 2727))])
        self.wrapper.connectionRefused()
        self.assertEqual(self.inner.refused, 1)
        self.assertIn("RecordingDatagram", self.wrapper.logPrefix())
        self.wrapper.doStop()
        self.assertEqual(self.inner.stopped, 1)
        self.assertIsNone(self.inner.transport)

    def test_unparsableSource(self):
        """
        A datagram whose source is not an IP address is class-default.
        """
        self.wrap(mgcpPolicy())
        self.wrapper.datagramReceived(b"x", ("somewhere", 1))
        self.assertEqual(len(self.inner.received), 1)
