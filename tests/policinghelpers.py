"""
Shared fixtures for the control-plane policing tests: the seed's policy
(Configuration 2: access list 140, class map C{sccp-class}, C{police 8000
1500 1500}), an MGCP variant, a recording application behind a
L{PolicingFactory} connected to fake transports, and the loopback check of
the tests on real sockets.
"""

from __future__ import annotations

import sys

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest

from srst.policing.config import (
    AccessList,
    AccessListEntry,
    ClassMap,
    ControlPlanePolicy,
    Police,
    PolicyClass,
)
from srst.policing.meter import ControlPlane
from srst.policing.stream import PolicingFactory

CREDENTIALS_PORT = 2445
TRUSTED = "127.0.0.1"
UNTRUSTED = "127.0.0.2"


def seedAccessList(trusted: str = TRUSTED) -> AccessList:
    """
    Access list 140 of the seed's Configuration 2, with the trusted host
    configurable (the seed's is 10.1.1.11).
    """
    return AccessList(
        140,
        [
            AccessListEntry("deny", "tcp", trusted, CREDENTIALS_PORT),
            AccessListEntry("permit", "tcp", None, CREDENTIALS_PORT),
            AccessListEntry("deny", "ip", None),
        ],
    )


def seedPolicy(trusted: str = TRUSTED, conform: str = "drop", exceed: str = "drop") -> ControlPlanePolicy:
    """
    The seed's C{control-plane-policy}: C{sccp-class} policed at 8000 bps,
    Bc = Be = 1500 bytes, with the given actions (the seed's are drop/drop).
    """
    police = Police(8000, 1500, 1500, conform, exceed)
    return ControlPlanePolicy(classes=[PolicyClass(ClassMap("sccp-class", seedAccessList(trusted)), police)])


def rateLimitPolicy() -> ControlPlanePolicy:
    """
    The variant the seed's comment describes: conform transmit, exceed drop.
    """
    return seedPolicy(conform="transmit", exceed="drop")


def mgcpPolicy(conform: str = "drop", exceed: str = "drop") -> ControlPlanePolicy:
    """
    An MGCP policy: access list 141 lets the call agent at 127.0.0.1 through
    and puts every other sender to UDP port 2427 in C{mgcp-class}, policed at
    8000 bps with the given actions.
    """
    acl = AccessList(141, [
        AccessListEntry("deny", "udp", "127.0.0.1", 2427),
        AccessListEntry("permit", "udp", None, 2427),
    ])
    return ControlPlanePolicy(classes=[PolicyClass(ClassMap("mgcp-class", acl), Police(8000, 1500, 1500, conform,
                                                                                       exceed))])


def peer(host: str, port: int = 40000) -> IPv4Address:
    """
    The address of a TCP peer.
    """
    return IPv4Address("TCP", host, port)


class Recorder(Protocol):
    """
    An application protocol that keeps what it sees.
    """

    def __init__(self) -> None:
        self.received = b""
        self.made = False
        self.lost: Failure | None = None

    def connectionMade(self) -> None:
        self.made = True

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure) -> None:
        self.lost = reason


class RecorderFactory(Factory):
    """
    Builds L{Recorder}s and counts how often it was asked.
    """

    def __init__(self) -> None:
        self.built: list[Recorder] = []

    def buildProtocol(self, addr):
        p = Recorder()
        p.factory = self
        self.built.append(p)
        return p


def policed(policy: ControlPlanePolicy, clock: Clock | None = None, localPort=CREDENTIALS_PORT):
    """
    A L{PolicingFactory} over a L{RecorderFactory}.

    @return: (policing factory, recorder factory, control plane, clock).
    """
    clock = clock or Clock()
    controlPlane = ControlPlane(policy, clock)
    app = RecorderFactory()
    return PolicingFactory(app, controlPlane, clock, localPort=localPort), app, controlPlane, clock


def connect(factory: PolicingFactory, host: str, port: int = 40000, transportClass=StringTransport):
    """
    Build and connect a protocol for a peer, as the reactor would.

    @return: (protocol or None, transport).
    """
    address = peer(host, port)
    protocol = factory.buildProtocol(address)
    transport = transportClass(hostAddress=IPv4Address("TCP", "127.0.0.1", CREDENTIALS_PORT), peerAddress=address)
    if protocol is not None:
        if isinstance(transport, StringTransportWithDisconnection):
            transport.protocol = protocol
        protocol.makeConnection(transport)
    return protocol, transport


def requireLoopbackAliases() -> None:
    """
    Skip a test that binds clients to 127.0.0.2 where the loopback interface
    does not answer for all of 127.0.0.0/8.

    @raise SkipTest: on anything but Linux.
    """
    if not sys.platform.startswith("linux"):
        raise SkipTest("needs 127.0.0.2 on the loopback interface (Linux)")
