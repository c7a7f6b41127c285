"""
Helpers for the MGCP gateway tests: an in-memory UDP reactor for the RTP
legs, a recording datagram transport, a harness that builds a gateway over
simulated voice ports, the owner of a transaction layer, and for tests on
real sockets a L{DatagramWire} that fires Deferreds as datagrams arrive
(and, for a whole router, as it logs and as a thread writes), with the
reactors that bind their UDP sockets through it.
"""

from __future__ import annotations

import collections
import io
import threading
from typing import Any, Callable, Optional

from twisted.internet import reactor as globalReactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IListeningPort, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, Logger, LogEvent, LogPublisher, globalLogPublisher
from zope.interface import directlyProvides, implementer, providedBy, provider

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.media.portrange import RtpPortAllocator
from srst.mgcp.gateway import DEBUG_NAMESPACE, MgcpGateway
from srst.mgcp.messages import Command, Response, decodeMessage, encodeMessage
from srst.mgcp.transactions import ITransactionOwner
from srst.ports.media import MediaPump, PortMediaLeg
from srst.ports.simulated import SimulatedBackend
from srst.ports.voiceport import newVoicePort

CA = ("127.0.0.1", 2427)
DOMAIN = "gw1.example.com"


def mgcpDebugLog() -> Logger:
    """
    @return: a C{debug mgcp} logger of switches of its own (all off).
    """
    return DebugSwitches().logger(DEBUG_NAMESPACE)


@implementer(ITransactionOwner)
class TransactionOwner:
    """
    The owner of a transaction layer in tests: executes commands with a
    callable and records what the layer tells it.

    @ivar handled: C{(message, peer)} of every L{messageHandled}.
    @ivar responses: C{(code, transactionId, peer)} of every L{responseSent}.
    @ivar answered: C{(transactionId, peer)} of every L{commandAnswered}.
    """

    def __init__(self, execute: Callable[[Command, Any], Any]) -> None:
        """
        @param execute: C{execute(command, peer)} returns the response (or
            a Deferred of it).
        """
        self.execute = execute
        self.handled: list[tuple[Any, Any]] = []
        self.responses: list[tuple[int, int, Any]] = []
        self.answered: list[tuple[int, Any]] = []

    def commandReceived(self, command: Command, peer: Any) -> Any:
        """Execute the command."""
        return self.execute(command, peer)

    def messageHandled(self, message: Any, peer: Any) -> None:
        """Record it."""
        self.handled.append((message, peer))

    def responseSent(self, code: int, transactionId: int, peer: Any) -> None:
        """Record it."""
        self.responses.append((code, transactionId, peer))

    def commandAnswered(self, transactionId: int, peer: Any) -> None:
        """Record it."""
        self.answered.append((transactionId, peer))


class _WatchedTransport:
    """The transport a watched protocol writes through: counts what it sends."""

    def __init__(self, wire: "DatagramWire", port: IListeningPort) -> None:
        self._wire = wire
        self._port = port

    def write(self, datagram: bytes, addr: Any = None) -> Any:
        self._wire._sent(addr)
        return self._port.write(datagram, addr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


class _WatchedProtocol(DatagramProtocol):
    """Wraps a protocol bound through a L{DatagramWire}: reports each arrival."""

    noisy = False

    def __init__(self, wire: "DatagramWire", wrapped: DatagramProtocol) -> None:
        self.wire = wire
        self.wrapped = wrapped

    def makeConnection(self, transport: Any) -> None:
        DatagramProtocol.makeConnection(self, transport)
        self.wrapped.makeConnection(_WatchedTransport(self.wire, transport))

    def doStop(self) -> None:
        DatagramProtocol.doStop(self)
        self.wrapped.doStop()

    def connectionRefused(self) -> None:
        self.wrapped.connectionRefused()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        host = self.transport.getHost()
        self.wire._arriving((host.host, host.port))
        self.wrapped.datagramReceived(datagram, addr)
        self.wire._check()


class DatagramWire:
    """
    The UDP sockets of a test on real 127.0.0.1 sockets, watched: a test
    waits for what it expects to arrive instead of sleeping.
    L{when} fires once a condition holds, checked as each datagram
    arrives; L{quiet} fires once every datagram sent to a watched socket
    that still listens has arrived (what the clock's last step put on the
    wire has been carried, and everything it caused too).  For a whole
    router, whose state also changes on its timers, the conditions are
    checked as well after each log event (L{watchLogs}: the router logs
    its state changes) and after each write of another thread
    (L{ThreadOutput}).
    """

    def __init__(self) -> None:
        self._listening: set[tuple[str, int]] = set()
        self._sentTo: collections.Counter = collections.Counter()
        self._receivedAt: collections.Counter = collections.Counter()
        self._waiters: list[tuple[Callable[[], bool], Deferred]] = []
        self._nextCheck: Optional[IDelayedCall] = None

    def listen(self, reactor: Any, port: int, protocol: DatagramProtocol, interface: str = "",
               maxPacketSize: int = 8192) -> IListeningPort:
        """
        Bind C{protocol} with C{reactor.listenUDP}, watched.
        """
        listening = reactor.listenUDP(port, _WatchedProtocol(self, protocol), interface=interface,
                                      maxPacketSize=maxPacketSize)
        host = listening.getHost()
        address = (host.host, host.port)
        self._listening.add(address)
        stop = listening.stopListening

        def stopListening() -> Any:
            self._forget(address)
            return stop()

        listening.stopListening = stopListening  # type: ignore[method-assign]
        return listening

    def when(self, condition: Callable[[], bool]) -> Deferred[None]:
        """
        @return: a Deferred firing once C{condition()} holds: at once, or
            on the arrival of the datagram (or the event of L{watchLogs} or
            L{ThreadOutput}) after which it does.  Cancelling it stops the
            waiting.
        """
        if condition():
            return succeed(None)
        entry: tuple[Callable[[], bool], Deferred[None]]

        def cancel(waiting: Deferred[None]) -> None:
            if entry in self._waiters:
                self._waiters.remove(entry)

        waiting: Deferred[None] = Deferred(cancel)
        entry = (condition, waiting)
        self._waiters.append(entry)
        return waiting

    def check(self) -> None:
        """
        Something happened besides a datagram arriving (called in the
        reactor thread, out of the stack of whatever happened): fire the
        waiters whose condition now holds.
        """
        self._check()

    def watchLogs(self, testCase: Any, reactor: IReactorTime,
                  publisher: LogPublisher = globalLogPublisher) -> None:
        """
        Also check the conditions after each event logged to C{publisher}
        (until C{testCase} ends): on the reactor's next turn, out of the
        stack of the code that logged, and only while someone waits.
        """
        @provider(ILogObserver)
        def observe(event: LogEvent) -> None:
            if self._waiters and self._nextCheck is None:
                self._nextCheck = reactor.callLater(0, self._loggedCheck)

        def stop() -> None:
            publisher.removeObserver(observe)
            nextCheck, self._nextCheck = self._nextCheck, None
            if nextCheck is not None and nextCheck.active():
                nextCheck.cancel()

        publisher.addObserver(observe)
        testCase.addCleanup(stop)

    def _loggedCheck(self) -> None:
        self._nextCheck = None
        self._check()

    def quiet(self) -> Deferred[None]:
        """
        @return: a Deferred firing once every datagram sent to a socket
            that still listens has arrived.
        """
        return self.when(self._isQuiet)

    def _isQuiet(self) -> bool:
        return all(self._sentTo[address] == self._receivedAt[address] for address in self._listening)

    def _sent(self, address: Any) -> None:
        if address is not None and tuple(address[:2]) in self._listening:
            self._sentTo[tuple(address[:2])] += 1

    def _arriving(self, address: tuple[str, int]) -> None:
        if address in self._listening:
            self._receivedAt[address] += 1

    def _forget(self, address: tuple[str, int]) -> None:
        self._listening.discard(address)
        del self._sentTo[address], self._receivedAt[address]
        self._check()

    def _check(self) -> None:
        for entry in list(self._waiters):
            condition, waiting = entry
            if entry in self._waiters and condition():
                self._waiters.remove(entry)
                waiting.callback(None)


class ThreadOutput(io.StringIO):
    """
    A text stream that another thread writes (C{srst-cli} run with
    C{deferToThread}): each write makes a L{DatagramWire} check its
    conditions in the reactor thread, so a test can wait for the text.
    """

    def __init__(self, wire: DatagramWire, reactor: Any) -> None:
        """
        @param wire: whose conditions to check.
        @param reactor: provides C{IReactorThreads.callFromThread}.
        """
        super().__init__()
        self._wire = wire
        self._reactor = reactor
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            written = super().write(text)
        self._reactor.callFromThread(self._wire.check)
        return written

    def getvalue(self) -> str:
        with self._lock:
            return super().getvalue()


class WatchedReactor:
    """
    A reactor whose UDP sockets are bound through a L{DatagramWire} and
    which is otherwise that reactor (its interfaces too): for a whole
    router on real sockets (its MGCP socket and every RTP leg).
    """

    def __init__(self, reactor: Any, wire: DatagramWire) -> None:
        self._reactor = reactor
        self.wire = wire
        directlyProvides(self, providedBy(reactor))

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "",
                  maxPacketSize: int = 8192) -> IListeningPort:
        return self.wire.listen(self._reactor, port, protocol, interface, maxPacketSize)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)


class WiredReactor:
    """
    Real UDP sockets bound through a L{DatagramWire}, with the time of
    another clock (a L{Clock} for the gateway's timers, or the reactor).
    Not a POSIX reactor, so media legs bind through it too.
    """

    def __init__(self, clock: IReactorTime, wire: DatagramWire) -> None:
        self.clock = clock
        self.wire = wire

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "",
                  maxPacketSize: int = 8192) -> IListeningPort:
        return self.wire.listen(globalReactor, port, protocol, interface, maxPacketSize)

    def callLater(self, *args: Any, **kwargs: Any) -> Any:
        return self.clock.callLater(*args, **kwargs)

    def seconds(self) -> float:
        return self.clock.seconds()

    def getDelayedCalls(self) -> Any:
        return self.clock.getDelayedCalls()


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

    def stopListening(self) -> Any:
        """
        Close the port: at once, or, with the reactor's C{closeLater}, on
        the next turn as Twisted's own UDP port does (the L{Deferred} it
        returns fires then).
        """
        if not self.reactor.closeLater:
            self._close()
            return None
        closed: Deferred[None] = Deferred()
        self.reactor.callLater(0, lambda: (self._close(), closed.callback(None)))
        return closed

    def _close(self) -> None:
        self.reactor.ports.pop(self.address, None)
        self.protocol.doStop()


class FakeUdpReactor(Clock):
    """
    A L{Clock} whose C{listenUDP} binds in memory, on the port asked for.

    @ivar closeLater: whether a port closes on the next turn (as Twisted's
        does) rather than at once.
    """

    def __init__(self, closeLater: bool = False) -> None:
        super().__init__()
        self.closeLater = closeLater
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
    port 1/1/0, recording what it sends; C{gatewayOptions} go to
    L{MgcpGateway} as they are.
    """

    def __init__(self, restartDelay: float = 0.0, random: Any = lambda: 0.5,
                 fxs: tuple[str, ...] = ("1/0/0", "1/0/1"),
                 fxo: tuple[str, ...] = ("1/1/0",),
                 unreachableTimeout: float | None = None, closeLater: bool = False,
                 **gatewayOptions: Any) -> None:
        self.unreachableTimeout = unreachableTimeout
        self.reactor = FakeUdpReactor(closeLater)
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
                                   firstTransactionId=500, debugLog=mgcpDebugLog(), **gatewayOptions)
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
