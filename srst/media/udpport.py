# -*- test-case-name: tests.test_media_udpport -*-
"""
A UDP port for media streams: Twisted's L{udp.Port} without the
per-datagram address check a stream sending to one far end does not need.

Twisted's port checks the destination of every C{write} (is it an IPv4
address? an IPv6 one? of the port's family?), which costs more than the
C{sendto} itself (about 2.2 against 1.0 microseconds per datagram here);
L{MediaUdpPort} checks a destination once and then sends to it directly
until it changes.  Reading is Twisted's.

L{MediaUdpPort} also hears the far end refuse the RTP it is sent: on Linux
it sets C{IP_RECVERR} (C{IPV6_RECVERR}) on its socket, reads the socket's
error queue (C{recvmsg(MSG_ERRQUEUE)}) and, for an ICMP port unreachable
about the destination it sends to, calls its protocol's
C{connectionRefused()}, the hook Twisted calls for a connected UDP socket.
Why not a connected socket: a media leg must accept RTP from another source
port than it sends to, may change its far end (MDCX), and Twisted's own
connected UDP port is closed by the epoll reactor when the ICMP error
arrives (C{EPOLLERR} without C{EPOLLIN} reads as a disconnection).

L{listenMediaUDP} binds a L{MediaUdpPort} where the reactor is a POSIX
file-descriptor reactor (epoll, poll, select) and falls back to
C{reactor.listenUDP} elsewhere (test doubles, other reactors).

L{UDPReactor} is what router-terminated media needs of the reactor: UDP
ports and the clock.
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
from typing import Any, Callable, Optional, Protocol, Sequence

from twisted.internet import udp
from twisted.internet.interfaces import (
    IDelayedCall,
    IHalfCloseableDescriptor,
    IListeningPort,
    IReactorUDP,
)
from twisted.internet.posixbase import PosixReactorBase
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

IP_RECVERR = 11
"""C{<linux/in.h>}: queue ICMP errors on an IPv4 socket (not in L{socket})."""

IPV6_RECVERR = 25
"""C{<linux/in6.h>}: the same for IPv6."""

_EXTENDED_ERROR = struct.Struct("=IBBBBII")
"""C{struct sock_extended_err}: errno, origin, type, code, pad, info, data."""

SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3

PORT_UNREACHABLE = {SO_EE_ORIGIN_ICMP: (3, 3), SO_EE_ORIGIN_ICMP6: (1, 4)}
"""Per origin, the ICMP C{(type, code)} of a port unreachable: IPv4
destination unreachable / port unreachable, ICMPv6 destination unreachable /
port unreachable."""

_RECVERR = sys.platform.startswith("linux")

_NOTHING_TO_READ = frozenset((errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR))


def portUnreachable(ancillary: Sequence[tuple[int, int, bytes]]) -> bool:
    """
    @param ancillary: the control messages of one C{recvmsg(MSG_ERRQUEUE)}.
    @return: whether they report an ICMP (or ICMPv6) port unreachable.
    """
    for level, kind, data in ancillary:
        if (level, kind) not in ((socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR)):
            continue
        if len(data) < _EXTENDED_ERROR.size:
            continue
        _errno, origin, icmpType, icmpCode, _pad, _info, _data = _EXTENDED_ERROR.unpack_from(data)
        if PORT_UNREACHABLE.get(origin) == (icmpType, icmpCode):
            return True
    return False


class UDPReactor(Protocol):
    """
    L{IReactorUDP} and L{IReactorTime} in one type: what binds a UDP port
    and times what happens on it (a media leg and its stream, the MGCP
    gateway and its transactions, srst-ccm's call agent); the reactor, or a
    L{task.Clock} with C{listenUDP} in tests.
    """

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "",
                  maxPacketSize: int = 8192) -> IListeningPort:
        "See L{IReactorUDP.listenUDP}."

    def seconds(self) -> float:
        "See L{IReactorTime.seconds}."

    def callLater(self, delay: float, callable: Callable[..., Any], *args: object,
                  **kwargs: object) -> IDelayedCall:
        "See L{IReactorTime.callLater}."

    def getDelayedCalls(self) -> Sequence[IDelayedCall]:
        "See L{IReactorTime.getDelayedCalls}."


@implementer(IHalfCloseableDescriptor)
class MediaUdpPort(udp.Port):
    """
    A L{udp.Port} that validates a destination address once and reports an
    ICMP port unreachable for that destination to its protocol's
    C{connectionRefused()}.

    @ivar refusals: ICMP port unreachables read for the current destination.
    """

    _checkedDestination: Optional[tuple[str, int]] = None
    _log = Logger()
    refusals = 0

    def createInternetSocket(self) -> socket.socket:
        """
        A non-blocking UDP socket that queues ICMP errors (Linux).
        """
        skt = udp.Port.createInternetSocket(self)
        if _RECVERR:
            if self.addressFamily == socket.AF_INET6:
                skt.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
            else:
                skt.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        return skt

    def doRead(self) -> None:
        """
        Read datagrams as Twisted's port does; read the queued ICMP errors
        when the socket reports one (C{ECONNREFUSED}) or woke the reactor
        with nothing to read (the select reactor reports a queued error as
        readable), so the error queue costs no system call per datagram.
        """
        read = 0
        while read < self.maxThroughput:
            try:
                data, addr = self.socket.recvfrom(self.maxPacketSize)
            except OSError as e:
                if e.errno == errno.ECONNREFUSED or (read == 0 and e.errno in _NOTHING_TO_READ):
                    self._readErrors()
                if e.errno in _NOTHING_TO_READ or e.errno == errno.ECONNREFUSED:
                    return
                raise
            read += len(data)
            if self.addressFamily == socket.AF_INET6:
                addr = addr[:2]  # without flow info and scope id, as Twisted
            try:
                self.protocol.datagramReceived(data, addr)
            except BaseException:
                self._log.failure("while receiving a datagram on port {port}", port=self._realPortNumber)

    def _readErrors(self) -> bool:
        """
        Empty the socket's error queue; report each ICMP port unreachable
        about the current destination to the protocol.

        @return: whether any error was queued.
        """
        if not _RECVERR or self.socket is None:
            return False
        queued = False
        while True:
            try:
                _data, ancillary, _flags, address = self.socket.recvmsg(1, 512, socket.MSG_ERRQUEUE)
            except OSError:
                return queued  # empty (EAGAIN), or the socket is gone
            queued = True
            destination = (address[0], address[1]) if address else None
            if destination is not None and destination == self._checkedDestination and portUnreachable(ancillary):
                self.refusals += 1
                self.protocol.connectionRefused()

    def readConnectionLost(self, reason: Failure) -> None:
        """
        The reactor saw an error without input (C{EPOLLERR}/C{POLLERR}) and
        stopped reading: for this socket that is a queued ICMP error, not
        a close.  Read the errors and go on reading; with none queued it is
        a real loss, as for any UDP port.
        """
        if self.connected and self._readErrors():
            self.startReading()
            return
        self.connectionLost(reason)

    def writeConnectionLost(self, reason: Failure) -> None:
        """Not half-closeable for writing: the port is lost."""
        self.connectionLost(reason)

    def write(self, datagram: bytes, addr: Any = None) -> Any:
        """
        Send C{datagram} to C{addr}.  The first datagram to an address
        (and any that fails) takes Twisted's checked path; later ones to
        the same address go straight to the socket.
        """
        if addr is not None and addr == self._checkedDestination:
            try:
                return self.socket.sendto(datagram, addr)
            except OSError:
                pass  # Twisted's path retries and maps the error
        result = udp.Port.write(self, datagram, addr)
        self._checkedDestination = addr
        return result


def listenMediaUDP(reactor: IReactorUDP, port: int, protocol: DatagramProtocol,
                   interface: str = "", maxPacketSize: int = 8192) -> IListeningPort:
    """
    Bind C{protocol} to UDP C{port} on C{interface}, as
    C{reactor.listenUDP} does, with a L{MediaUdpPort} on a POSIX reactor.

    @raise twisted.internet.error.CannotListenError: when the host
        refuses the port.
    """
    if not isinstance(reactor, PosixReactorBase):
        return reactor.listenUDP(port, protocol, interface=interface,
                                 maxPacketSize=maxPacketSize)
    listening = MediaUdpPort(port, protocol, interface, maxPacketSize, reactor)
    listening.startListening()
    return listening


__all__ = ["UDPReactor", "MediaUdpPort", "listenMediaUDP", "portUnreachable"]
