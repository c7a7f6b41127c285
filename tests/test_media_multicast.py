"""
Tests for L{srst.media.multicast}: a group's stream on the loopback
interface only, sent with TTL 0 (real sockets; the receive is awaited on
a Deferred, no sleeps).
"""

from __future__ import annotations

import socket

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import TestCase

from srst.media.multicast import listenGroup, multicastSender
from tests.multicasthelpers import LOOPBACK, loopbackMulticast, randomGroup


class Recorder(DatagramProtocol):
    """Keeps what arrives; C{arrived} fires with the first datagram."""

    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, tuple[str, int]]] = []
        self.arrived: Deferred[bytes] = Deferred()

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self.datagrams.append((datagram, addr))
        if not self.arrived.called:
            self.arrived.callback(datagram)


class MulticastTests(TestCase):
    """
    A sender on 127.0.0.1 with TTL 0 reaches a listener joined on 127.0.0.1.
    """

    def setUp(self) -> None:
        reason = loopbackMulticast(self.addCleanup)
        if reason is not None:
            self.skipTest(reason)

    async def test_sendAndReceive(self) -> None:
        """
        The group's datagram arrives, from the sender's port; a unicast
        datagram to the same port does not, since the listener is bound to
        the group address.
        """
        group = randomGroup()
        recorder = Recorder()
        listening = await listenGroup(reactor, group, 0, LOOPBACK, recorder)
        self.addCleanup(listening.stopListening)
        port = listening.getHost().port
        sender = await multicastSender(reactor, LOOPBACK, 0)
        self.addCleanup(sender.stopListening)
        self.assertEqual(sender.getTTL(), 0)
        self.assertTrue(sender.getLoopbackMode())
        self.assertEqual(sender.getOutgoingInterface(), LOOPBACK)

        unicast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(unicast.close)
        unicast.sendto(b"unicast", (LOOPBACK, port))
        sender.write(b"music", (group, port))
        self.assertEqual(await recorder.arrived, b"music")
        self.assertEqual([addr for _, addr in recorder.datagrams],
                         [(LOOPBACK, sender.getHost().port)])
