# -*- test-case-name: tests.test_media_multicast -*-
"""
IPv4 multicast for media: a socket that receives one group's stream
(L{listenGroup}: CallManager's multicast music on hold relayed to a voice
port) and one that sends to groups (L{multicastSender}: the router's
C{multicast-moh} stream).

Both name the interface by its address (the router's C{media.address}),
never by a device, and the sender sets the TTL, so a TTL of 0 keeps the
stream on the host (delivered by the local loop only).
"""

from __future__ import annotations

from typing import Protocol, cast

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IListeningPort, IMulticastTransport
from twisted.internet.protocol import AbstractDatagramProtocol, DatagramProtocol


class MulticastReactor(Protocol):
    """
    What multicast media needs of the reactor: C{listenMulticast}
    (L{twisted.internet.interfaces.IReactorMulticast}); the router's
    reactor, or a fake in tests.
    """

    def listenMulticast(self, port: int, protocol: AbstractDatagramProtocol, interface: str = "",
                        maxPacketSize: int = 8192, listenMultiple: bool = False) -> IListeningPort:
        "See L{twisted.internet.interfaces.IReactorMulticast.listenMulticast}."


def listenGroup(reactor: MulticastReactor, group: str, port: int, interface: str,
                protocol: AbstractDatagramProtocol) -> Deferred[IMulticastTransport]:
    """
    Receive the datagrams sent to C{group}:C{port} on the interface with
    address C{interface}.  The socket is bound to the group address, so
    no unicast datagram reaches C{protocol}.

    @return: fires with the listening port (C{stopListening} leaves the
        group), or fails with L{twisted.internet.error.MulticastJoinError}
        when the host refuses the join (the port is closed again).
    """
    return Deferred.fromCoroutine(_listenGroup(reactor, group, port, interface, protocol))


async def _listenGroup(reactor: MulticastReactor, group: str, port: int, interface: str,
                       protocol: AbstractDatagramProtocol) -> IMulticastTransport:
    listening = reactor.listenMulticast(port, protocol, interface=group, listenMultiple=True)
    transport = cast(IMulticastTransport, listening)
    try:
        await transport.joinGroup(group, interface)
    except BaseException:
        await Deferred.fromCoroutine(_stop(listening))
        raise
    return transport


async def _stop(listening: IListeningPort) -> None:
    await maybeDeferred(listening.stopListening)


def multicastSender(reactor: MulticastReactor, interface: str, ttl: int, loop: bool = True,
                    protocol: AbstractDatagramProtocol | None = None) -> Deferred[IMulticastTransport]:
    """
    A socket that sends to multicast groups from the interface with address
    C{interface}.

    @param ttl: the multicast TTL (0: this host only).
    @param loop: whether the host's own group members hear it too.
    @param protocol: the protocol that sends through it (an
        L{srst.media.transport.RtpStream} aimed at the group), or L{None}
        for a bare socket.
    @return: fires with the port; C{write(datagram, (group, port))} sends.
    """
    return Deferred.fromCoroutine(_multicastSender(reactor, interface, ttl, loop, protocol))


async def _multicastSender(reactor: MulticastReactor, interface: str, ttl: int, loop: bool,
                           protocol: AbstractDatagramProtocol | None) -> IMulticastTransport:
    listening = reactor.listenMulticast(0, protocol if protocol is not None else DatagramProtocol(),
                                        interface=interface)
    transport = cast(IMulticastTransport, listening)
    try:
        await transport.setOutgoingInterface(interface)
        transport.setTTL(ttl)
        transport.setLoopbackMode(loop)
    except BaseException:
        await Deferred.fromCoroutine(_stop(listening))
        raise
    return transport


__all__ = ["MulticastReactor", "listenGroup", "multicastSender"]
