"""
Helpers for the MGCP gateway tests: an in-memory UDP reactor for the RTP
legs, a recording datagram transport and a harness that builds a gateway
over simulated voice ports.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.media.portrange import RtpPortAllocator
from srst.mgcp.gateway import MgcpGateway
from srst.mgcp.messages import Command, Response, decodeMessage, encodeMessage
from srst.ports.media import MediaPump, PortMediaLeg
from srst.ports.simulated import SimulatedBackend
from srst.ports.voiceport import newVoicePort

CA = ("127.0.0.1", 2427)
DOMAIN = "gw1.example.com"


class FakeUdpPort:
    """A bound in-memory UDP port of a L{FakeUdpReactor}."""

    def __init__(self, reactor: "FakeUdpReactor", protocol: Any, interface: str,
                 port: int) -> None:
        self.reactor = reactor
        self.protocol = protocol
        self.address = (interface or "127.0.0.1", port)

    def getHost(self) -> IPv4Address:
        return IPv4Address("UDP", *self.address)

    def write(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self.reactor.written.append((self.address, addr, datagram))

    def stopListening(self) -> None:
        self.reactor.ports.pop(self.address, None)
        self.protocol.doStop()


class FakeUdpReactor(Clock):
    """A L{Clock} whose C{listenUDP} binds in memory, on the port asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.ports: dict[tuple[str, int], FakeUdpPort] = {}
        self.written: list[tuple[tuple[str, int], tuple[str, int], bytes]] = []

    def listenUDP(self, port: int, protocol: Any, interface: str = "",
                  maxPacketSize: int = 8192) -> FakeUdpPort:
        fake = FakeUdpPort(self, protocol, interface, port)
        self.ports[fake.address] = fake
        protocol.makeConnection(fake)
        return fake


class RecordingTransport:
    """Records the datagrams a protocol writes."""

    def __init__(self) -> None:
        self.written: list[tuple[bytes, Any]] = []
        self.history: list[tuple[bytes, Any]] = []

    def write(self, data: bytes, addr: Any) -> None:
        self.written.append((data, addr))
        self.history.append((data, addr))


def wire(text: str) -> bytes:
    """
    @param text: a message with LF line ends.
    @return: the datagram, CRLF line ends.
    """
    return text.replace("\n", "\r\n").encode("utf-8")


class GatewayHarness:
    """
    A gateway on a L{FakeUdpReactor} with FXS ports 1/0/0, 1/0/1 and FXO
    port 1/1/0, recording what it sends.
    """

    def __init__(self, restartDelay: float = 0.0, random: Any = lambda: 0.5,
                 fxs: tuple[str, ...] = ("1/0/0", "1/0/1"),
                 fxo: tuple[str, ...] = ("1/1/0",),
                 unreachableTimeout: float | None = None) -> None:
        self.unreachableTimeout = unreachableTimeout
        self.reactor = FakeUdpReactor()
        self.allocator = RtpPortAllocator("127.0.0.1", "40000-40100")
        self.pump = MediaPump(self.reactor)
        self.debug = DebugSwitches()
        self.ports = {}
        self.lines = {}
        for names, signal in ((fxs, Signal.FXS_LOOP_START), (fxo, Signal.FXO_LOOP_START)):
            for name in names:
                backend = SimulatedBackend(name, signal)
                self.ports[name] = newVoicePort(VoicePortConfig(name, signal), backend, debug=self.debug)
                self.lines[name] = backend
        self.legs: list[PortMediaLeg] = []
        self.gateway = MgcpGateway(clock=self.reactor, domain=DOMAIN,
                                   ports=list(self.ports.values()), newLeg=self.newLeg,
                                   callAgent=CA, restartDelay=restartDelay, random=random,
                                   firstTransactionId=500)
        self.transport = RecordingTransport()
        self.gateway.protocol.makeConnection(self.transport)

    def newLeg(self, port: Any, payloadType: int) -> PortMediaLeg:
        """The C{newLeg} callable: a leg on the fake reactor."""
        leg = PortMediaLeg(reactor=self.reactor, allocator=self.allocator, pump=self.pump,
                           port=port, debug=self.debug, payloadType=payloadType,
                           unreachableTimeout=self.unreachableTimeout, unreachableAfterMedia=True)
        self.legs.append(leg)
        return leg

    def receive(self, text: str, peer: Any = CA) -> None:
        """Deliver a message (LF line ends) from C{peer}."""
        self.gateway.protocol.datagramReceived(wire(text), peer)

    def sent(self) -> list[Any]:
        """@return: every message sent so far, decoded."""
        return [decodeMessage(data) for data, _ in self.transport.written]

    def take(self) -> list[Any]:
        """@return: the messages sent since the last call, decoded."""
        messages = self.sent()
        self.transport.written.clear()
        return messages

    def response(self, text: str, peer: Any = CA) -> Response:
        """
        Deliver a command and return the single response it got.
        """
        self.transport.written.clear()
        self.receive(text, peer)
        messages = [m for m in self.take() if isinstance(m, Response)]
        assert len(messages) == 1, messages
        return messages[0]

    def commands(self, verb: Optional[str] = None) -> list[Command]:
        """@return: the commands the gateway sent (of one verb)."""
        return [m for m in self.sent() if isinstance(m, Command)
                and (verb is None or m.verb == verb)]

    def allCommands(self, verb: str) -> list[Command]:
        """@return: every command of one verb the gateway ever sent."""
        messages = [decodeMessage(data) for data, _ in self.transport.history]
        return [m for m in messages if isinstance(m, Command) and m.verb == verb]

    def answer(self, command: Command, code: int = 200, peer: Any = CA, **extra: Any) -> None:
        """Answer one of the gateway's commands."""
        response = Response(code, command.transactionId, "OK", **extra)
        self.gateway.protocol.datagramReceived(encodeMessage(response), peer)
