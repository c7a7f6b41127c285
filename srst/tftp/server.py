# -*- test-case-name: tests.test_tftp_client -*-
"""
A read-only TFTP server (RFC 1350) on Twisted, for C{srst-ccm}.

L{TftpServer} listens on the well-known port (69, or any port given) for
requests.  Each read request of a file it has gets its own transfer: a new
UDP port (the server's transfer id), DATA blocks of 512 bytes, each sent
again every C{retransmit} seconds until its ACK arrives, up to C{retries}
times, after which the transfer is abandoned.  Write requests are refused
(ERROR 2), unknown files get ERROR 1, and a packet that is no request gets
ERROR 4.
"""

from __future__ import annotations

from typing import Callable, Optional

from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from srst.tftp.client import TftpReactor
from srst.tftp.codec import (
    BLOCK_SIZE,
    Ack,
    Data,
    Error,
    ErrorCode,
    ReadRequest,
    TftpDecodeError,
    WriteRequest,
    decode,
    encode,
    toNetascii,
)

FileSource = Callable[[str], Optional[bytes]]
"""C{source(filename)}: the file's bytes, or L{None} when there is no such file."""


class _SendTransfer(DatagramProtocol):
    """
    One file sent to one client from its own port.
    """

    def __init__(self, server: TftpServer, client: tuple[str, int], data: bytes) -> None:
        self.server = server
        self.client = client
        self.data = data
        self.block = 1
        self.tries = 0
        self.timer: Optional[IDelayedCall] = None
        self.port: Optional[IListeningPort] = None

    def _payload(self) -> bytes:
        start = (self.block - 1) * BLOCK_SIZE
        return self.data[start:start + BLOCK_SIZE]

    def send(self) -> None:
        if self.tries > self.server.retries:
            self.server.log.info("TFTP: {client} stopped acknowledging; transfer abandoned",
                                 client=f"{self.client[0]}:{self.client[1]}")
            self.close()
            return
        self.tries += 1
        self.transport.write(encode(Data(self.block % 65536, self._payload())), self.client)
        self.timer = self.server.reactor.callLater(self.server.retransmit, self.send)

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        if addr != self.client:
            self.transport.write(encode(Error(ErrorCode.UNKNOWN_TID, "Unknown transfer ID")), addr)
            return
        try:
            packet = decode(datagram)
        except TftpDecodeError:
            return
        if isinstance(packet, Error):
            self.close()
        elif isinstance(packet, Ack) and packet.block == self.block % 65536:
            if self.timer is not None and self.timer.active():
                self.timer.cancel()
            if len(self._payload()) < BLOCK_SIZE:
                self.close()
                return
            self.block += 1
            self.tries = 0
            self.send()

    def close(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        if self.port is not None:
            port, self.port = self.port, None
            port.stopListening()
            self.server.transfers.discard(self)


class TftpServer(DatagramProtocol):
    """
    The request listener.

    @ivar transfers: the transfers in progress.
    """

    log = Logger()

    def __init__(self, reactor: TftpReactor, source: FileSource, interface: str,
                 retransmit: float = 1.0, retries: int = 5) -> None:
        """
        @param reactor: the reactor (L{TftpReactor}).
        @param source: where files come from (L{FileSource}).
        @param interface: the address transfers are sent from (the one
            the listener is bound to).
        @param retransmit: seconds before an unacknowledged block is sent again.
        @param retries: how many times a block is sent again before the
            transfer is abandoned.
        """
        self.reactor = reactor
        self.source = source
        self.interface = interface
        self.retransmit = retransmit
        self.retries = retries
        self.transfers: set[_SendTransfer] = set()

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = decode(datagram)
        except TftpDecodeError as e:
            self.transport.write(encode(Error(ErrorCode.ILLEGAL_OPERATION, str(e))), addr)
            return
        if isinstance(packet, WriteRequest):
            self.transport.write(encode(Error(ErrorCode.ACCESS_VIOLATION, "read-only server")), addr)
            return
        if not isinstance(packet, ReadRequest):
            self.transport.write(encode(Error(ErrorCode.ILLEGAL_OPERATION, "expected a request")), addr)
            return
        data = self.source(packet.filename)
        if data is None:
            self.log.info("TFTP: {client} asked for {filename}: no such file",
                          client=f"{addr[0]}:{addr[1]}", filename=packet.filename)
            self.transport.write(encode(Error(ErrorCode.FILE_NOT_FOUND, "File not found")), addr)
            return
        if packet.mode == "netascii":
            data = toNetascii(data)
        transfer = _SendTransfer(self, addr, data)
        transfer.port = self.reactor.listenUDP(0, transfer, interface=self.interface)
        self.transfers.add(transfer)
        self.log.info("TFTP: sending {filename} ({size} bytes) to {client}", filename=packet.filename,
                      size=len(data), client=f"{addr[0]}:{addr[1]}")
        transfer.send()

    def stopProtocol(self) -> None:
        for transfer in list(self.transfers):
            transfer.close()


__all__ = ["FileSource", "TftpServer"]
