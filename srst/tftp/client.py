# -*- test-case-name: tests.test_tftp_client -*-
"""
A read-only TFTP client (RFC 1350) on Twisted: L{fetch} reads one file
into memory, within a time bound.

The client sends its RRQ from an ephemeral port and takes the server's
transfer id (host and port) from the first DATA block 1 from the server's
host; a packet from any other port gets ERROR 5 (unknown transfer id) and
changes nothing.  The last packet sent (the RRQ, then each ACK) is sent
again every C{retransmit} seconds without progress, and the whole transfer
fails after C{deadline} seconds, so a caller's start-up never waits longer.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.internet.protocol import DatagramProtocol

from srst.tftp.codec import (
    BLOCK_SIZE,
    Ack,
    Data,
    Error,
    ErrorCode,
    ReadRequest,
    TftpDecodeError,
    decode,
    encode,
)


class TftpReactor(Protocol):
    """
    What the TFTP client and server use of the reactor: C{listenUDP}
    (L{twisted.internet.interfaces.IReactorUDP}) and C{callLater}
    (L{twisted.internet.interfaces.IReactorTime}).
    """

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "",
                  maxPacketSize: int = 8192) -> IListeningPort:
        "See L{twisted.internet.interfaces.IReactorUDP.listenUDP}."

    def callLater(self, delay: float, callable: Callable[..., Any], *args: object,
                  **kwargs: object) -> IDelayedCall:
        "See L{twisted.internet.interfaces.IReactorTime.callLater}."


class TftpError(Exception):
    """
    A transfer that did not complete; C{str()} says why, for a log line.
    """


class TftpTimedOut(TftpError):
    """
    No complete transfer within the deadline (the server is unreachable or
    stopped answering).
    """


class TftpRemoteError(TftpError):
    """
    The server answered with an ERROR packet.

    @ivar code: its L{ErrorCode}.
    @ivar message: its message.
    """

    def __init__(self, code: int, message: str) -> None:
        TftpError.__init__(self, f"server error {code}: {message}")
        self.code = code
        self.message = message


class TftpTooLarge(TftpError):
    """
    The file is longer than the caller's limit.
    """


class _ReadTransfer(DatagramProtocol):
    """
    One RRQ transfer; L{fetch} builds it.
    """

    def __init__(self, reactor: TftpReactor, server: tuple[str, int], filename: str,
                 retransmit: float, deadline: float, maxSize: int) -> None:
        self.reactor = reactor
        self.server = server
        self.filename = filename
        self.retransmitInterval = retransmit
        self.maxSize = maxSize
        self.done: Deferred[bytes] = Deferred(self._cancel)
        self.chunks: list[bytes] = []
        self.size = 0
        self.expected = 1
        self.peer: Optional[tuple[str, int]] = None
        self.last = encode(ReadRequest(filename, "octet"))
        self.port: Optional[IListeningPort] = None
        self.retry: Optional[IDelayedCall] = None
        self.deadline = reactor.callLater(deadline, self._fail, TftpTimedOut(
            f"no complete transfer of {filename} from {server[0]}:{server[1]} within {deadline:g} s"))

    def begin(self, interface: str) -> None:
        self.port = self.reactor.listenUDP(0, self, interface=interface)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.transport.write(self.last, self.peer or self.server)
        if self.retry is not None and self.retry.active():
            self.retry.cancel()
        self.retry = self.reactor.callLater(self.retransmitInterval, self._send)

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        if self.done.called:
            return
        if self.peer is None and addr[0] != self.server[0]:
            return
        if self.peer is not None and addr != self.peer:
            self.transport.write(encode(Error(ErrorCode.UNKNOWN_TID, "Unknown transfer ID")), addr)
            return
        try:
            packet = decode(datagram)
        except TftpDecodeError as e:
            self._fail(TftpError(f"bad packet from {addr[0]}:{addr[1]}: {e}"))
            return
        if isinstance(packet, Error):
            self._fail(TftpRemoteError(packet.code, packet.message))
        elif isinstance(packet, Data):
            self._data(packet, addr)

    def _data(self, packet: Data, addr: tuple[str, int]) -> None:
        if self.peer is None:
            if packet.block != 1:
                return
            self.peer = addr
        if packet.block == (self.expected - 1) % 65536:
            self._send()  # our ACK was lost: the server sent its block again
            return
        if packet.block != self.expected % 65536:
            return
        self.size += len(packet.payload)
        if self.size > self.maxSize:
            error = f"{self.filename} is longer than {self.maxSize} bytes"
            self.transport.write(encode(Error(ErrorCode.DISK_FULL, error)), addr)
            self._fail(TftpTooLarge(error))
            return
        self.chunks.append(packet.payload)
        self.last = encode(Ack(packet.block))
        self.expected += 1
        if len(packet.payload) < BLOCK_SIZE:
            self.transport.write(self.last, addr)
            self._finish()
            self.done.callback(b"".join(self.chunks))
        else:
            self._send()

    def _fail(self, reason: TftpError) -> None:
        self._finish()
        if not self.done.called:
            self.done.errback(reason)

    def _cancel(self, _: Deferred[bytes]) -> None:
        self._finish()

    def _finish(self) -> None:
        for timer in (self.retry, self.deadline):
            if timer is not None and timer.active():
                timer.cancel()
        if self.port is not None:
            port, self.port = self.port, None
            port.stopListening()


def fetch(reactor: TftpReactor, server: tuple[str, int], filename: str, *, interface: str = "",
          retransmit: float = 1.0, deadline: float = 5.0, maxSize: int = 65536) -> Deferred[bytes]:
    """
    Read C{filename} from the TFTP server at C{server} (octet mode).

    @param reactor: the reactor (L{TftpReactor}).
    @param server: the server's C{(host, port)}.
    @param filename: the file to read.
    @param interface: the local address to send from (C{""}: any).
    @param retransmit: seconds without progress before the last packet is
        sent again.
    @param deadline: seconds after which the transfer fails, complete or not.
    @param maxSize: longest file accepted, bytes.
    @return: a L{Deferred} firing with the file's bytes, or failing with a
        L{TftpError} (L{TftpTimedOut}, L{TftpRemoteError}, L{TftpTooLarge});
        cancelling it stops the transfer and closes its port.
    @raise twisted.internet.error.CannotListenError: if no local port can
        be bound.
    """
    transfer = _ReadTransfer(reactor, server, filename, retransmit, deadline, maxSize)
    try:
        transfer.begin(interface)
    except BaseException:
        transfer._finish()
        raise
    return transfer.done


__all__ = ["TftpError", "TftpReactor", "TftpRemoteError", "TftpTimedOut", "TftpTooLarge", "fetch"]
