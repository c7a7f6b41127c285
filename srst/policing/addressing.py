# -*- test-case-name: tests.test_policing_addressing -*-
"""
What an access list compares, from what a policed listener knows: the
source address of a peer as Twisted reports it (an L{IAddress} for a stream,
a C{(host, port)} tuple for a datagram) and the destination port the
listener serves (L{LocalPort}).

Both wrappers, L{srst.policing.stream} and L{srst.policing.datagram}, name
their packets this way before asking the L{srst.policing.meter.ControlPlane}.
"""

from __future__ import annotations

from typing import Callable, Union

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress

from srst.policing.config import IPAddress, toAddress

LocalPort = Union[int, Callable[[], Union[int, None]], None]
"""
How a wrapper learns the destination port that access lists compare with:
an int (the configured service port), a callable returning it (or C{None}
while unknown), or C{None} to use the accepting socket's own port.
"""


def sourceAddressOf(addr: IAddress | tuple[object, ...] | None) -> IPAddress | None:
    """
    The source IP address of a peer, as access lists see it.

    @param addr: an L{IPv4Address}/L{IPv6Address} (TCP) or a C{(host, port,
        ...)} tuple (UDP).
    @return: the normalised address (see L{toAddress}), or C{None} if the
        peer has no IP address (a UNIX socket, an unparsable host).
    """
    if isinstance(addr, tuple):
        host = addr[0] if addr else None
    elif isinstance(addr, (IPv4Address, IPv6Address)):
        host = addr.host
    else:
        return None
    if not isinstance(host, str):
        return None
    try:
        return toAddress(host)
    except ValueError:
        return None


def resolvePort(localPort: LocalPort) -> int | None:
    """
    @param localPort: see L{LocalPort}.
    @return: the port it gives now, or C{None} if unknown.
    """
    if callable(localPort):
        return localPort()
    return localPort
