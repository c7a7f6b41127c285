# -*- test-case-name: tests.test_phone_wire -*-
"""
The wire side of a simulated phone: L{PhoneProtocol} frames the SCCP byte
stream (plain TCP or TLS, the framing is the same) and hands decoded
messages to its L{srst.tools._phoneclient.SimulatedPhone};
L{connectPhone} opens the connection and L{clientTLSOptions} builds the
TLS client side with the phone's LSC.
"""

from __future__ import annotations

import ipaddress
import struct
import typing
from typing import Any, Callable, Iterable, Optional, Sequence

from cryptography import x509
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import (
    IAddress,
    IConnector,
    IDelayedCall,
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.pki.ca import PrivateKey
from srst.pki.tls import phoneClientTLSOptions, trustRootFor
from srst.sccp import messages as m
from srst.tools._phoneclient import SimulatedPhone

_log = Logger(namespace="srst.tools.phone")

ANY_ADDRESS = ipaddress.IPv4Address(0)

_MESSAGE_ID = struct.Struct("<I")


class PhoneReactor(typing.Protocol):
    """
    What connecting a phone uses of the reactor: TCP
    (L{twisted.internet.interfaces.IReactorTCP.connectTCP}) and the clock
    (L{IReactorTime}: the phone's timers, the TLS handshake's).
    """

    def connectTCP(self, host: str, port: int, factory: ClientFactory,
                   timeout: float = 30,
                   bindAddress: Optional[tuple[str, int]] = None) -> IConnector:
        "See L{twisted.internet.interfaces.IReactorTCP.connectTCP}."

    def seconds(self) -> float:
        "See L{IReactorTime.seconds}."

    def callLater(self, delay: float, callable: Callable[..., object],
                  *args: object, **kwargs: object) -> IDelayedCall:
        "See L{IReactorTime.callLater}."

    def getDelayedCalls(self) -> Sequence[IDelayedCall]:
        "See L{IReactorTime.getDelayedCalls}."


@implementer(IHandshakeListener)
class PhoneProtocol(Protocol):
    """
    Frame and dispatch SCCP for one simulated phone.

    @ivar phone: the session messages go to.
    @ivar protocolVersion: the version messages are decoded and (by
        default) encoded with: 0 until the phone learns the negotiated one.
    @ivar maxFrame: the largest frame accepted.
    @ivar handshakeCompletedAt: clock time the TLS handshake finished, for
        TLS connections.
    """

    def __init__(self, phone: SimulatedPhone,
                 maxFrame: int = m.MAX_FRAME) -> None:
        self.phone = phone
        self.protocolVersion = 0
        self.maxFrame = maxFrame
        self.handshakeCompletedAt: Optional[float] = None
        self._buffer = b""

    def connectionMade(self) -> None:
        self.phone.connectionMade(self)

    def handshakeCompleted(self) -> None:
        """TLS is up (only called on TLS connections)."""
        self.handshakeCompletedAt = self.phone.clock.seconds()

    def localAddress(self) -> ipaddress.IPv4Address:
        """
        @return: the connection's local IPv4 address (0.0.0.0 if it is not
            IPv4), what a phone puts in Register.
        """
        address = self.transport.getHost()
        if not isinstance(address, IPv4Address):
            return ANY_ADDRESS
        return ipaddress.IPv4Address(address.host)

    def loseConnection(self) -> None:
        """Close the connection once what was written is sent."""
        self.transport.loseConnection()

    def abortConnection(self) -> None:
        """Close the connection at once, dropping what was not sent."""
        self.transport.abortConnection()

    def encode(self, msg: m.Message,
               protocolVersion: Optional[int] = None) -> bytes:
        """
        @param msg: a message.
        @param protocolVersion: the layout version; the current
            C{protocolVersion} by default.
        @return: its frame.
        """
        if protocolVersion is None:
            protocolVersion = self.protocolVersion
        return m.encodeMessage(msg, protocolVersion=protocolVersion)

    def sendMessages(self, messages: Iterable[m.Message],
                     protocolVersion: Optional[int] = None) -> None:
        """
        Send messages in one write (phones pipeline their requests).

        @param messages: the messages.
        @param protocolVersion: see L{encode}.
        """
        self.transport.write(b"".join(
            self.encode(msg, protocolVersion) for msg in messages))

    def sendFrames(self, pairs: Sequence[tuple[m.Message, Optional[int]]]) -> None:
        """
        Send messages encoded at different versions, in one write.

        @param pairs: C{(message, protocolVersion)}; a version of C{None}
            means the current one.
        """
        self.transport.write(b"".join(
            self.encode(msg, version) for msg, version in pairs))

    def dataReceived(self, data: bytes) -> None:
        try:
            frames, self._buffer = m.splitFrames(self._buffer + data,
                                                 self.maxFrame)
        except m.FrameError as e:
            _log.warn("{device}: bad frame from the router ({error}); "
                      "closing", device=self.phone.deviceName, error=str(e))
            self._buffer = b""
            self.transport.abortConnection()
            return
        phone = self.phone
        for frame in frames:
            if self.transport.disconnecting:
                return
            (messageId,) = _MESSAGE_ID.unpack_from(frame, m.HEADER_SIZE - 4)
            if not phone.wantsMessage(messageId):
                phone.messageSkipped(messageId)
                continue
            try:
                msg = m.decodeMessage(frame,
                                      protocolVersion=self.protocolVersion)
            except m.DecodeError as e:
                _log.warn("{device}: undecodable message from the router "
                          "({error}); closing", device=self.phone.deviceName,
                          error=str(e))
                self.transport.loseConnection()
                return
            phone.messageReceived(msg)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.phone.connectionLost(reason)


class PhoneFactory(ClientFactory):
    """
    Builds the L{PhoneProtocol} of one phone's connection.
    """

    noisy = False

    def __init__(self, phone: SimulatedPhone) -> None:
        self.phone = phone

    def buildProtocol(self, addr: IAddress) -> PhoneProtocol:
        protocol = PhoneProtocol(self.phone)
        protocol.factory = self
        return protocol


def clientTLSOptions(
    host: str,
    trustedCertificates: Sequence[x509.Certificate],
    certificate: Optional[x509.Certificate] = None,
    privateKey: Optional[PrivateKey] = None,
    *,
    verifyHost: bool = True,
) -> IOpenSSLClientConnectionCreator:
    """
    The TLS client side of a phone.

    @param host: the router's address as connected to; with C{verifyHost}
        the router certificate must name it (an IP address must be an
        iPAddress subjectAltName).
    @param trustedCertificates: the router's CA (or its certificate).
    @param certificate: the phone's LSC (C{None}: no client certificate).
    @param privateKey: its key.
    @param verifyHost: check the router's name as well as its chain.  Real
        phones only pin the certificate CallManager gave them, so C{False}
        behaves like a phone (L{srst.pki.tls.phoneClientTLSOptions}).
    @return: the client connection creator.
    """
    if not verifyHost:
        return phoneClientTLSOptions(trustedCertificates, certificate,
                                     privateKey)
    extra: dict[str, Any] = {}  # optionsForClientTLS's own type
    if certificate is not None:
        extra = {"certificate": certificate, "privateKey": privateKey}
    return optionsForClientTLS(host, trustRoot=trustRootFor(trustedCertificates),
                               extraCertificateOptions=extra)


def buildTLSContext(creator: IOpenSSLClientConnectionCreator,
                    clock: IReactorTime) -> None:
    """
    Make a client connection creator build its OpenSSL context now.
    Twisted builds it lazily, at the first connection; a load generator
    builds every phone's context before it starts timing.

    @param creator: what L{clientTLSOptions} returned.
    @param clock: the reactor (for the throwaway TLS protocol).
    """
    factory = TLSMemoryBIOFactory(creator, True, Factory.forProtocol(Protocol),
                                  clock=clock)
    creator.clientConnectionForTLS(factory.buildProtocol(None))


def connectPhone(reactor: PhoneReactor, phone: SimulatedPhone, host: str,
                 port: int,
                 tlsOptions: Optional[IOpenSSLClientConnectionCreator] = None,
                 timeout: float = 30,
                 bindAddress: Optional[tuple[str, int]] = None) -> Deferred[PhoneProtocol]:
    """
    Connect a phone to a router.  The phone starts registering (or its
    standby keepalives) as soon as the connection is up.

    @param reactor: TCP and the clock (L{PhoneReactor}).
    @param phone: the phone (fresh, never connected).
    @param host: the router's IPv4 address.
    @param port: its SCCP port (2000 plain, 2443 TLS).
    @param tlsOptions: a client connection creator (L{clientTLSOptions})
        for TLS, C{None} for plain TCP.
    @param timeout: seconds for the TCP connection attempt.
    @param bindAddress: the local C{(host, port)} to connect from (a phone
        behind another address), or L{None} for the system's choice.
    @return: a L{Deferred} firing with the L{PhoneProtocol} once TCP is
        connected (TLS may still be handshaking), or failing with the
        connection error (the phone's waiters fail too).
    """
    endpoint: IStreamClientEndpoint = TCP4ClientEndpoint(reactor, host, port,
                                                         timeout=timeout, bindAddress=bindAddress)
    if tlsOptions is not None:
        endpoint = wrapClientTLS(tlsOptions, endpoint, clock=reactor)
    d = endpoint.connect(PhoneFactory(phone))

    def failed(reason: Failure) -> Failure:
        phone.connectionFailed(reason)
        return reason

    d.addErrback(failed)
    return d


__all__ = ["PhoneFactory", "PhoneProtocol", "PhoneReactor", "buildTLSContext",
           "clientTLSOptions", "connectPhone"]
