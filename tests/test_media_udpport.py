"""
Tests for L{srst.media.udpport}: a media port checks a destination once
and otherwise sends and fails exactly as Twisted's UDP port does.
"""

from __future__ import annotations

import socket
import struct
from typing import Any
from unittest import SkipTest

from twisted.internet import abstract, defer, error, reactor
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.media.udpport import MediaUdpPort, listenMediaUDP, portUnreachable
from tests.routerhelpers import bounded

HOST = "127.0.0.1"


class Collector(DatagramProtocol):
    """Keeps what arrives; fires C{waiting} once C{expected} have."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        self.waiting: defer.Deferred[list] = defer.Deferred()

    def datagramReceived(self, datagram, addr):
        self.received.append((datagram, addr))
        if len(self.received) == self.expected:
            self.waiting.callback(self.received)


class MediaUdpPortTests(TestCase):
    """
    L{MediaUdpPort} on the running reactor, over 127.0.0.1.
    """

    def setUp(self):
        self.sink = Collector(expected=3)
        self.sinkPort = reactor.listenUDP(0, self.sink, interface=HOST)
        self.addCleanup(self.sinkPort.stopListening)
        self.port = listenMediaUDP(reactor, 0, DatagramProtocol(), interface=HOST)
        self.addCleanup(self.port.stopListening)
        self.destination = (HOST, self.sinkPort.getHost().port)

    def test_isMediaPort(self):
        """
        On a POSIX reactor, L{listenMediaUDP} binds a L{MediaUdpPort} on
        the interface asked for.
        """
        self.assertIsInstance(self.port, MediaUdpPort)
        self.assertEqual(self.port.getHost().host, HOST)

    @bounded
    def test_sendsEveryDatagramInOrder(self):
        """
        Every datagram written reaches the destination, from the port's
        address, the first (checked) and the later (direct) alike.
        """
        for n in range(3):
            self.port.write(b"packet %d" % (n,), self.destination)
        received = yield self.sink.waiting
        self.assertEqual([d for d, _ in received], [b"packet 0", b"packet 1", b"packet 2"])
        self.assertEqual({a for _, a in received}, {(HOST, self.port.getHost().port)})

    def test_destinationCheckedOnce(self):
        """
        Twisted's address check runs for the first datagram to a
        destination and again when the destination changes, not per
        datagram.
        """
        checks = []
        original = abstract.isIPAddress

        def counting(addr, *args, **kwargs):
            checks.append(addr)
            return original(addr, *args, **kwargs)

        self.patch(abstract, "isIPAddress", counting)
        self.port.write(b"a", self.destination)
        first = len(checks)
        self.assertGreater(first, 0)
        for _ in range(10):
            self.port.write(b"b", self.destination)
        self.assertEqual(len(checks), first)
        self.port.write(b"c", (HOST, self.destination[1] + 1))
        self.assertGreater(len(checks), first)

    def test_hostnameRefusedEvenAfterGoodDestination(self):
        """
        A host name is refused as Twisted refuses it, also after datagrams
        went to a good address.
        """
        self.port.write(b"a", self.destination)
        self.assertRaises(error.InvalidAddressError, self.port.write, b"b", ("localhost", 9))

    def test_ipv6DestinationOnIpv4Port(self):
        """
        An IPv6 destination on an IPv4 port is refused.
        """
        self.assertRaises(error.InvalidAddressError, self.port.write, b"b", ("::1", 9))

    def test_oversizedDatagramMapsError(self):
        """
        A datagram too large to send fails with Twisted's
        L{error.MessageLengthError} on the direct path too.
        """
        self.port.write(b"a", self.destination)
        self.assertRaises(error.MessageLengthError, self.port.write, b"x" * 70000, self.destination)


class RefusalRecorder(Collector):
    """A L{Collector} that fires C{refused} at the first C{connectionRefused()}."""

    def __init__(self, expected: int) -> None:
        super().__init__(expected)
        self.refused: defer.Deferred[None] = defer.Deferred()

    def connectionRefused(self):
        if not self.refused.called:
            self.refused.callback(None)


def closedPort(family: socket.AddressFamily, host: str) -> int:
    """@return: a UDP port on C{host} that nothing listens on (bound, then closed)."""
    probe = socket.socket(family, socket.SOCK_DGRAM)
    probe.bind((host, 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class PortUnreachableTests(TestCase):
    """
    A L{MediaUdpPort} hears ICMP port unreachable for the destination it
    sends to (C{IP_RECVERR}) and keeps listening: the kernel answers a
    datagram to a closed port on loopback with one.
    """

    def listen(self, host: str) -> tuple[MediaUdpPort, RefusalRecorder]:
        protocol = RefusalRecorder(expected=1)
        try:
            port = listenMediaUDP(reactor, 0, protocol, interface=host)
        except error.CannotListenError as e:
            raise SkipTest("cannot bind %s: %s" % (host, e))
        self.addCleanup(port.stopListening)
        return port, protocol

    @bounded
    def checkRefusedAndStillListening(self, host: str, family: socket.AddressFamily) -> Any:
        port, protocol = self.listen(host)
        port.write(b"rtp", (host, closedPort(family, host)))
        yield protocol.refused
        self.assertEqual((port.refusals, port.connected), (1, 1))
        sender = reactor.listenUDP(0, DatagramProtocol(), interface=host)
        self.addCleanup(sender.stopListening)
        sender.write(b"still here", (host, port.getHost().port))
        received = yield protocol.waiting
        self.assertEqual([d for d, _ in received], [b"still here"])

    def test_ipv4(self):
        """
        ICMP port unreachable over IPv4 calls C{connectionRefused()}; the
        port still receives afterwards (the epoll reactor's C{EPOLLERR}
        does not close it).
        """
        return self.checkRefusedAndStillListening(HOST, socket.AF_INET)

    def test_ipv6(self):
        """The same with ICMPv6 on ::1."""
        return self.checkRefusedAndStillListening("::1", socket.AF_INET6)

    def test_onlyTheCurrentDestination(self):
        """
        A refusal about another destination than the one the port now
        sends to (a far end replaced by MDCX) is read but not reported.
        """
        port, protocol = self.listen(HOST)
        port._checkedDestination = (HOST, 9)
        stale = (HOST, closedPort(socket.AF_INET, HOST))
        port.socket.sendto(b"rtp", stale)
        port._readErrors()
        self.assertEqual((port.refusals, protocol.refused.called), (0, False))

    def test_portUnreachableOnly(self):
        """L{portUnreachable} reads C{sock_extended_err}: other ICMP errors are not refusals."""
        def error(origin, icmpType, code, level=socket.IPPROTO_IP, kind=11):
            return [(level, kind, struct.pack("=IBBBBII", 111, origin, icmpType, code, 0, 0, 0))]

        self.assertTrue(portUnreachable(error(2, 3, 3)))
        self.assertTrue(portUnreachable(error(3, 1, 4, socket.IPPROTO_IPV6, 25)))
        self.assertFalse(portUnreachable(error(2, 3, 1)))  # host unreachable
        self.assertFalse(portUnreachable(error(1, 3, 3)))  # local origin
        self.assertFalse(portUnreachable([]))


class FallbackTests(SynchronousTestCase):
    """
    Where the reactor is not a POSIX file-descriptor reactor.
    """

    def test_otherReactorsListenUDP(self):
        """
        L{listenMediaUDP} asks any other reactor for an ordinary UDP port.
        """
        calls = []

        class OtherReactor:
            def listenUDP(self, port, protocol, interface="", maxPacketSize=8192):
                calls.append((port, protocol, interface, maxPacketSize))
                return "listening"

        protocol = DatagramProtocol()
        self.assertEqual(listenMediaUDP(OtherReactor(), 4000, protocol, interface=HOST), "listening")
        self.assertEqual(calls, [(4000, protocol, HOST, 8192)])
