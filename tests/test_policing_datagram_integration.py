"""
Integration tests for L{srst.policing.datagram} on real loopback sockets:
a client bound to 127.0.0.2 is an untrusted host, one bound to 127.0.0.1
the trusted call agent (see L{tests.policinghelpers.mgcpPolicy}).
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import TestCase

from srst.policing.datagram import PolicingDatagramProtocol
from srst.policing.meter import ControlPlane
from tests.policinghelpers import TRUSTED, UNTRUSTED, mgcpPolicy, requireLoopbackAliases
from tests.routerhelpers import bounded


class UDPPolicingTests(TestCase):
    """
    A policed UDP echo listener (the shape MGCP will use).
    """

    timeout = 30

    def setUp(self):
        requireLoopbackAliases()

    @bounded
    def test_dropsUntrustedDatagrams(self):
        """
        Datagrams from 127.0.0.2 to the policed port are dropped and counted;
        the trusted host's datagram, sent after them, is echoed.
        """

        class Echo(DatagramProtocol):
            def datagramReceived(self, datagram, addr):
                self.transport.write(datagram, addr)

        class Listener(DatagramProtocol):
            def __init__(self):
                self.received = []
                self.got = Deferred()

            def datagramReceived(self, datagram, addr):
                self.received.append(datagram)
                if not self.got.called:
                    self.got.callback(datagram)

        controlPlane = ControlPlane(mgcpPolicy(), reactor)
        server = reactor.listenUDP(0, PolicingDatagramProtocol(Echo(), controlPlane, localPort=2427),
                                   interface="127.0.0.1")
        self.addCleanup(server.stopListening)
        serverPort = server.getHost().port
        untrusted, trusted = Listener(), Listener()
        untrustedPort = reactor.listenUDP(0, untrusted, interface=UNTRUSTED)
        self.addCleanup(untrustedPort.stopListening)
        trustedPort = reactor.listenUDP(0, trusted, interface=TRUSTED)
        self.addCleanup(trustedPort.stopListening)

        for n in range(50):
            untrustedPort.write(b"RSIP %d" % n, ("127.0.0.1", serverPort))
        trustedPort.write(b"AUEP 1", ("127.0.0.1", serverPort))
        echoed = yield trusted.got
        self.assertEqual(echoed, b"AUEP 1")
        self.assertEqual(untrusted.received, [])
        mgcp = controlPlane.stats().byName("mgcp-class")
        self.assertEqual((mgcp.packets, mgcp.droppedPackets), (50, 50))
