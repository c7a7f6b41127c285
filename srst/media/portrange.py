# -*- test-case-name: tests.test_media_transport -*-
"""
The RTP port allocator: hands out the even ports of C{media.rtp-port-range}
(parsed by L{srst.media.config.parsePortRange}) and binds media streams to
them.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from srst.media.config import parsePortRange

DEFAULT_BIND_ATTEMPTS = 16
"""How many even ports L{RtpPortAllocator.bind} tries before giving up."""

ListenCallable = Callable[[int, DatagramProtocol], IListeningPort]
"""C{listen(port, protocol)}: binds a protocol to a UDP port."""


class PortRangeExhausted(RuntimeError):
    """
    No even RTP port could be handed out.

    @ivar low: the first port of the range.
    @ivar high: the last port of the range.
    @ivar inUse: how many ports of the range srst holds.
    @ivar bindFailures: how many ports the host refused to bind in the
        failed request (0 when every port was already held).
    """

    def __init__(self, low: int, high: int, inUse: int,
                 bindFailures: int = 0) -> None:
        super().__init__(low, high, inUse, bindFailures)
        self.low = low
        self.high = high
        self.inUse = inUse
        self.bindFailures = bindFailures

    def __str__(self) -> str:
        text = "no free even RTP port in %d-%d (%d in use)" % (
            self.low, self.high, self.inUse)
        if self.bindFailures:
            text += ", %d refused by the host" % (self.bindFailures,)
        return text


class RtpPortAllocator:
    """
    Hands out even RTP ports of one range on one address, never the same
    port twice while it is held, cycling through the range so a released
    port is not reused at once.

    @ivar address: the local address streams bind to (for the caller's
        C{listen}).
    @ivar low: the first port of the range.
    @ivar high: the last port of the range.
    @ivar maxBindAttempts: ports L{bind} tries per request.
    """

    log = Logger()

    def __init__(self, address: str, rangeText: str,
                 maxBindAttempts: int = DEFAULT_BIND_ATTEMPTS) -> None:
        """
        @param address: the local address (C{media.address}).
        @param rangeText: the range, as in C{media.rtp-port-range}.
        @param maxBindAttempts: how many even ports L{bind} tries.
        @raise srst.media.config.InvalidPortRange: for a bad range.
        """
        if maxBindAttempts < 1:
            raise ValueError("maxBindAttempts must be at least 1")
        self.address = address
        self.low, self.high = parsePortRange(rangeText)
        self.maxBindAttempts = maxBindAttempts
        first = self.low + (self.low % 2)
        self._ports = range(first, self.high + 1, 2)
        self._next = 0
        self._inUse: set[int] = set()

    def __repr__(self) -> str:
        return "<RtpPortAllocator %s %d-%d, %d in use>" % (
            self.address, self.low, self.high, len(self._inUse))

    @property
    def inUse(self) -> frozenset[int]:
        """The ports currently held."""
        return frozenset(self._inUse)

    @property
    def capacity(self) -> int:
        """How many even ports the range holds."""
        return len(self._ports)

    def allocate(self) -> int:
        """
        Reserve the next free even port without binding it.

        @return: the port, now held until L{release}.
        @raise PortRangeExhausted: when every even port is held.
        """
        for offset in range(len(self._ports)):
            index = (self._next + offset) % len(self._ports)
            port = self._ports[index]
            if port not in self._inUse:
                self._next = (index + 1) % len(self._ports)
                self._inUse.add(port)
                return port
        raise PortRangeExhausted(self.low, self.high, len(self._inUse))

    def release(self, port: int) -> None:
        """
        Give a port back; releasing a port not held does nothing.

        @param port: the port.
        """
        self._inUse.discard(port)

    def bind(self, protocol: DatagramProtocol,
             listen: ListenCallable) -> IListeningPort:
        """
        Reserve an even port and bind C{protocol} to it with C{listen};
        a port the host refuses (L{CannotListenError}) is released and the
        next is tried, up to L{maxBindAttempts} ports.

        @param protocol: the protocol to bind (an L{RtpStream}, possibly
            wrapped for policing).
        @param listen: C{listen(port, protocol)}, e.g. C{lambda p, proto:
            reactor.listenUDP(p, proto, interface=allocator.address)}.
        @return: what C{listen} returned; its port stays held until
            L{release}.
        @raise PortRangeExhausted: when no port is free or every attempt
            was refused.
        """
        failures = 0
        for _ in range(min(self.maxBindAttempts, len(self._ports))):
            try:
                port = self.allocate()
            except PortRangeExhausted as e:
                raise PortRangeExhausted(self.low, self.high, e.inUse,
                                         failures) from None
            try:
                return listen(port, protocol)
            except CannotListenError as e:
                self.release(port)
                failures += 1
                self.log.warn(
                    "RTP port {port} on {address} is busy on the host "
                    "({reason}); trying the next",
                    port=port, address=self.address,
                    reason=str(e.socketError))
        raise PortRangeExhausted(self.low, self.high, len(self._inUse),
                                 failures)


__all__ = ["DEFAULT_BIND_ATTEMPTS", "ListenCallable", "PortRangeExhausted", "RtpPortAllocator"]
