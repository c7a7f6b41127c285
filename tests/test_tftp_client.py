# -*- test-case-name: tests.test_tftp_client -*-
"""
The TFTP client and server on real UDP sockets on 127.0.0.1, with a
L{task.Clock} for their timers.
"""

from __future__ import annotations

from typing import Any

from attrs import define
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from srst.tftp.client import TftpRemoteError, TftpTimedOut, fetch
from srst.tftp.codec import Data, ReadRequest, decode, encode
from srst.tftp.server import TftpServer


@define
class ClockedUDP:
    """Real UDP sockets, timers on a L{Clock}."""

    clock: Clock

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "",
                  maxPacketSize: int = 8192) -> Any:
        return reactor.listenUDP(port, protocol, interface=interface, maxPacketSize=maxPacketSize)

    def callLater(self, delay: float, f: Any, *args: object, **kwargs: object) -> Any:
        return self.clock.callLater(delay, f, *args, **kwargs)


class Recorder(DatagramProtocol):
    """A peer that records what it receives; C{next} fires on the next datagram."""

    def __init__(self) -> None:
        self.next: Deferred[tuple[bytes, Any]] = Deferred()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        d, self.next = self.next, Deferred()
        d.callback((datagram, addr))


class ClientServerTests(TestCase):
    """
    L{fetch} against L{TftpServer} and against a scripted peer.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.udp = ClockedUDP(self.clock)

    def serve(self, files: dict[str, bytes]) -> int:
        server = TftpServer(self.udp, files.get, "127.0.0.1")
        port = reactor.listenUDP(0, server, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return port.getHost().port

    @inlineCallbacks
    def test_blocks(self) -> Any:
        """
        A file of exactly two 512-byte blocks ends with an empty third block.
        """
        content = bytes(range(256)) * 4
        port = self.serve({"gw.cnf.xml": content})
        data = yield fetch(self.udp, ("127.0.0.1", port), "gw.cnf.xml", interface="127.0.0.1")
        self.assertEqual(data, content)

    @inlineCallbacks
    def test_fileNotFound(self) -> Any:
        """
        The server's ERROR 1 fails the fetch with its message.
        """
        port = self.serve({})
        error = yield self.assertFailure(
            fetch(self.udp, ("127.0.0.1", port), "other.xml", interface="127.0.0.1"), TftpRemoteError)
        self.assertEqual(str(error), "server error 1: File not found")

    @inlineCallbacks
    def test_retransmitThenDeadline(self) -> Any:
        """
        An unanswered RRQ is sent again after C{retransmit} seconds; at the
        deadline the fetch fails and says so.
        """
        peer = Recorder()
        port = reactor.listenUDP(0, peer, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        server = ("127.0.0.1", port.getHost().port)
        first = peer.next
        d = fetch(self.udp, server, "gw.cnf.xml", interface="127.0.0.1", retransmit=1.0, deadline=2.5)
        datagram, client = yield first
        self.assertEqual(decode(datagram), ReadRequest("gw.cnf.xml"))
        second = peer.next
        self.clock.advance(1.0)
        datagram, again = yield second
        self.assertEqual((decode(datagram), again), (ReadRequest("gw.cnf.xml"), client))
        self.clock.advance(1.5)
        error = yield self.assertFailure(d, TftpTimedOut)
        self.assertEqual(str(error), "no complete transfer of gw.cnf.xml from %s:%d within 2.5 s" % server)

    @inlineCallbacks
    def test_lostAck(self) -> Any:
        """
        A DATA block sent again (its ACK was lost) is acknowledged again and
        not appended twice.
        """
        peer = Recorder()
        port = reactor.listenUDP(0, peer, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        first = peer.next
        d = fetch(self.udp, ("127.0.0.1", port.getHost().port), "f", interface="127.0.0.1")
        _, client = yield first
        for _ in range(2):
            ack = peer.next
            port.write(encode(Data(1, b"x" * 512)), client)
            datagram, _ = yield ack
            self.assertEqual(datagram, b"\x00\x04\x00\x01")
        port.write(encode(Data(2, b"end")), client)
        data = yield d
        self.assertEqual(data, b"x" * 512 + b"end")
