# -*- test-case-name: tests.test_mgcp_gateway -*-
"""
Value types, errors and small helpers of L{srst.mgcp.gateway}: the
counters snapshot, the error raised for a call agent's refusal, the UDP
protocol face and the text rendering of logged datagrams.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen
from twisted.internet.protocol import DatagramProtocol

from srst.mgcp.constants import responseText
from srst.mgcp.messages import Response
from srst.mgcp.transactions import Peer

class MgcpErrorResponse(RuntimeError):
    """
    The call agent answered one of the gateway's commands with a non-2xx
    code.

    @ivar response: the L{Response}.
    """

    def __init__(self, response: Response) -> None:
        RuntimeError.__init__(self, response)
        self.response = response

    @property
    def code(self) -> int:
        """The response code."""
        return self.response.code

    def __str__(self) -> str:
        return "call agent answered %03d %s" % (self.response.code,
                                                self.response.commentary or responseText(
                                                    self.response.code))


class UnknownVoicePort(KeyError):
    """
    A voice-port name the gateway has no endpoint for.
    """

    def __str__(self) -> str:
        return "no MGCP endpoint for voice-port %r" % (self.args[0],)


@frozen
class GatewayCounters:
    """
    What the gateway has seen and done, for show commands.

    @ivar received: datagrams received.
    @ivar sent: datagrams sent.
    @ivar commandsReceived: well-formed commands received (duplicates too).
    @ivar malformed: messages that failed to decode (dropped or answered 5xx).
    @ivar duplicates: duplicate commands answered from the response cache.
    @ivar unknownEndpoint: commands answered 500.
    @ivar unknownVerb: commands answered 504.
    @ivar notifications: NTFYs sent (keepalives excluded).
    @ivar keepalives: keepalive NTFYs sent.
    @ivar restarts: RSIPs sent.
    @ivar retransmissions: commands and responses resent.
    @ivar timeouts: outgoing commands that exhausted retransmission.
    @ivar errors: error responses sent, by code (400 and up).
    @ivar connectionsLost: connections deleted because their RTP stopped
        (reported to the call agent with a DLCX while it controls the port).
    """

    received: int
    sent: int
    commandsReceived: int
    malformed: int
    duplicates: int
    unknownEndpoint: int
    unknownVerb: int
    notifications: int
    keepalives: int
    restarts: int
    retransmissions: int
    timeouts: int
    errors: dict[int, int]
    connectionsLost: int = 0


class GatewayProtocol(DatagramProtocol):
    """The UDP face of an L{MgcpGateway}."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    def datagramReceived(self, datagram: bytes, addr: Peer) -> None:
        """Hand the datagram to the gateway."""
        self.gateway.datagramReceived(datagram, addr)

    def write(self, data: bytes, peer: Peer) -> None:
        """Send one datagram, if bound."""
        if self.transport is not None:
            self.transport.write(data, peer)


def peerText(peer: Peer) -> str:
    """
    @param peer: a datagram address.
    @return: C{"host:port"}.
    """
    try:
        host, port = peer[0], peer[1]
    except (TypeError, IndexError):
        return str(peer)
    return "%s:%s" % (host, port)


def expectSuccess(response: Response) -> Response:
    """
    @param response: a final response from the call agent.
    @return: it, when 2xx.
    @raise MgcpErrorResponse: otherwise.
    """
    if not 200 <= response.code <= 299:
        raise MgcpErrorResponse(response)
    return response


def printable(data: bytes) -> str:
    """
    @param data: a datagram.
    @return: its text for the debug log, LF line ends.
    """
    return data.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n")


__all__ = ["MgcpErrorResponse", "UnknownVoicePort", "GatewayCounters", "GatewayProtocol",
           "peerText", "expectSuccess", "printable"]
