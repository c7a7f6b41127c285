# -*- test-case-name: tests.test_ipsec_vici -*-
"""
charon's VICI protocol over a UNIX socket, without blocking the reactor.

The codec is the C{vici} package's own (C{vici.protocol.Packet} and
C{Message}: sans-IO, bytes in and dictionaries out); its C{Session} is
blocking and is not used.  Here:

  - L{encodeRequest}, L{encodeRegister}, L{encodeUnregister} and
    L{decodePacket}: one VICI packet (without its 32-bit length prefix) to
    and from a L{ViciPacket} whose message values are C{str} (charon sends
    UTF-8; a byte that is not is replaced, never fatal).
  - L{ViciProtocol}: the length framing (C{Int32StringReceiver}: VICI's
    prefix is a big-endian 32-bit length), one outstanding request at a time
    (charon answers each connection in order; a streamed command such as
    C{list-sas} sends its events before its response), and dispatch of the
    events registered for (C{log}, C{ike-updown}, C{child-updown}) to its
    owner.

A request answers a L{Deferred} that fires with the response message, or
fails with L{ViciCommandFailed} (C{success = no}, charon's C{errmsg}),
L{ViciUnknownCommand} or L{ViciConnectionLost}.  A packet that does not decode
ends the connection (L{ViciDecodeError} for everything pending).  A request
charon does not answer within L{REQUEST_TIMEOUT} seconds (on the injected
clock) ends it too (L{ViciTimeout} for everything pending, and the owner's
C{onLost} gets that reason): a charon that accepts and never answers cannot
hang srst's stop or its C{show} commands.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any, Callable

from attrs import frozen
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure
from vici.exception import DeserializationException
from vici.protocol import FiniteStream, Message, Packet

log = Logger()

REQUEST = Packet.CMD_REQUEST
RESPONSE = Packet.CMD_RESPONSE
UNKNOWN_COMMAND = Packet.CMD_UNKNOWN
EVENT_REGISTER = Packet.EVENT_REGISTER
EVENT_UNREGISTER = Packet.EVENT_UNREGISTER
EVENT_CONFIRM = Packet.EVENT_CONFIRM
EVENT_UNKNOWN = Packet.EVENT_UNKNOWN
EVENT = Packet.EVENT

REQUEST_TIMEOUT = 10.0
"""Seconds charon has to answer one request before srst drops the connection."""


class ViciError(Exception):
    """
    A VICI request did not succeed.
    """


class ViciCommandFailed(ViciError):
    """
    charon answered C{success = no}; the message is its C{errmsg}.
    """


class ViciUnknownCommand(ViciError):
    """
    charon does not know the command or event (plugin too old).
    """


class ViciConnectionLost(ViciError):
    """
    The VICI connection closed before the answer came.
    """


class ViciDecodeError(ViciError):
    """
    A packet from charon did not decode.
    """


class ViciTimeout(ViciError):
    """
    charon did not answer a request in time.
    """


@frozen
class ViciPacket:
    """
    One decoded VICI packet.

    @ivar kind: the packet type (L{RESPONSE}, L{EVENT}, ...).
    @ivar name: the event name for L{EVENT}, else C{""}.
    @ivar message: the message, C{str} values, nested dicts and lists.
    """

    kind: int
    name: str
    message: dict[str, Any]


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {key: _text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_text(item) for item in value]
    return value


def encodeRequest(command: str, message: dict[str, Any] | None = None) -> bytes:
    """
    @return: the C{CMD_REQUEST} packet for C{command} with C{message}.
    """
    return Packet.request(command, Message.serialize(message) if message else None)


def encodeRegister(event: str) -> bytes:
    """
    @return: the C{EVENT_REGISTER} packet for C{event}.
    """
    return Packet.register_event(event)


def encodeUnregister(event: str) -> bytes:
    """
    @return: the C{EVENT_UNREGISTER} packet for C{event}.
    """
    return Packet.unregister_event(event)


class _ExactStream(FiniteStream):
    """
    The codec's stream, but a short read is an error (the C{vici} package
    would take a truncated value as a shorter one).
    """

    def read(self, size: int | None = -1) -> bytes:
        data = FiniteStream.read(self, size)
        if size is not None and size >= 0 and len(data) != size:
            raise ViciDecodeError("truncated VICI packet")
        return data


def decodePacket(payload: bytes) -> ViciPacket:
    """
    @param payload: one packet without its length prefix.
    @raise ViciDecodeError: when it does not decode.
    """
    try:
        stream = _ExactStream(payload)
        (kind,) = struct.unpack("!B", stream.read(1))
        name = ""
        if kind == EVENT:
            (length,) = struct.unpack("!B", stream.read(1))
            name = stream.read(length).decode("utf-8", "replace")
        message = Message.deserialize(stream) if kind in (RESPONSE, EVENT) else {}
    except (struct.error, DeserializationException, UnicodeDecodeError) as e:
        raise ViciDecodeError(f"bad VICI packet: {e}") from e
    return ViciPacket(kind, name, _text(message))


class _Pending:
    def __init__(self, what: str, packet: bytes, collect: str | None) -> None:
        self.what = what
        self.packet = packet
        self.collect = collect
        self.events: list[dict[str, Any]] = []
        self.deferred: Deferred[Any] = Deferred()


class ViciProtocol(Int32StringReceiver):
    """
    One VICI connection to charon.

    @ivar onEvent: called with C{(name, message)} for every event charon
        sends that no streamed request is collecting.
    @ivar onLost: called once with the reason when the connection ends.
    @ivar clock: times each request out after C{timeout} seconds.
    """

    MAX_LENGTH = 512 * 1024
    """charon's own segment limit."""

    def __init__(
        self,
        onEvent: Callable[[str, dict[str, Any]], None],
        onLost: Callable[[Failure], None],
        clock: IReactorTime,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.onEvent = onEvent
        self.onLost = onLost
        self.clock = clock
        self.timeout = timeout
        self._queue: deque[_Pending] = deque()
        self._sent: _Pending | None = None
        self._timer: IDelayedCall | None = None
        self._dropped: ViciError | None = None
        self._connected = False

    def connectionMade(self) -> None:
        self._connected = True
        self._sendNext()

    def _enqueue(self, what: str, packet: bytes, collect: str | None = None) -> Deferred[Any]:
        pending = _Pending(what, packet, collect)
        if not self._connected:
            pending.deferred.errback(ViciConnectionLost("not connected to charon"))
            return pending.deferred
        self._queue.append(pending)
        self._sendNext()
        return pending.deferred

    def _sendNext(self) -> None:
        if self._sent is None and self._queue and self._connected:
            self._sent = self._queue.popleft()
            self._timer = self.clock.callLater(self.timeout, self._timedOut, self._sent.what)
            self.sendString(self._sent.packet)

    def _timedOut(self, what: str) -> None:
        self._timer = None
        error = ViciTimeout(f"charon did not answer {what} within {self.timeout:g} s")
        log.warn("Dropping the VICI connection to charon: {error}", error=str(error))
        self._drop(error)

    def _drop(self, error: ViciError) -> None:
        self._dropped = error
        self._failAll(error)
        self.transport.loseConnection()

    def request(self, command: str, message: dict[str, Any] | None = None) -> Deferred[dict[str, Any]]:
        """
        Send C{command}.

        @return: a L{Deferred} firing with the response message.
        """
        return self._enqueue(command, encodeRequest(command, message)).addCallback(lambda result: result[1])

    def streamedRequest(
        self, command: str, event: str, message: dict[str, Any] | None = None
    ) -> Deferred[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """
        Send C{command}, collecting the C{event} events charon streams before
        its response (C{list-sas} streams C{list-sa}, C{initiate} and
        C{terminate} stream C{control-log}).  Registers C{event} before and
        unregisters it after.

        @return: a L{Deferred} firing with C{(events, response)}.
        """
        registered = self.register(event)
        result = self._enqueue(command, encodeRequest(command, message), collect=event)
        unregistered = self.unregister(event)

        async def collect() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            outcome = await DeferredList([registered, result, unregistered], consumeErrors=True)
            for succeeded, value in outcome[:2]:
                if not succeeded:
                    value.raiseException()
            return outcome[1][1]

        return Deferred.fromCoroutine(collect())

    def register(self, event: str) -> Deferred[None]:
        """
        Ask for C{event} events (they go to L{onEvent}).
        """
        return self._enqueue(f"register {event}", encodeRegister(event)).addCallback(lambda _: None)

    def unregister(self, event: str) -> Deferred[None]:
        """
        Stop C{event} events.
        """
        return self._enqueue(f"unregister {event}", encodeUnregister(event)).addCallback(lambda _: None)

    def stringReceived(self, string: bytes) -> None:
        try:
            packet = decodePacket(string)
        except ViciDecodeError as e:
            log.warn("Dropping the VICI connection to charon: {error}", error=str(e))
            self._drop(e)
            return
        if packet.kind == EVENT:
            sent = self._sent
            if sent is not None and sent.collect == packet.name:
                sent.events.append(packet.message)
            else:
                self.onEvent(packet.name, packet.message)
            return
        sent, self._sent = self._sent, None
        if sent is None:
            log.warn("Unexpected VICI packet type {kind} from charon", kind=packet.kind)
            return
        self._cancelTimer()
        if packet.kind in (UNKNOWN_COMMAND, EVENT_UNKNOWN):
            sent.deferred.errback(ViciUnknownCommand("charon does not know this command or event"))
        elif packet.kind == RESPONSE and packet.message.get("success") == "no":
            sent.deferred.errback(ViciCommandFailed(packet.message.get("errmsg", "command failed")))
        else:
            sent.deferred.callback((sent.events, packet.message))
        self._sendNext()

    def lengthLimitExceeded(self, length: int) -> None:
        error = ViciDecodeError(f"VICI packet of {length} bytes is over the limit")
        log.warn("Dropping the VICI connection to charon: {error}", error=str(error))
        self._drop(error)

    def _cancelTimer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _failAll(self, error: ViciError) -> None:
        self._connected = False
        self._cancelTimer()
        pending = ([self._sent] if self._sent is not None else []) + list(self._queue)
        self._sent = None
        self._queue.clear()
        for each in pending:
            each.deferred.errback(error)

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:
        self._failAll(ViciConnectionLost(reason.getErrorMessage()))
        self.onLost(Failure(self._dropped) if self._dropped is not None else reason)


class _QuietFactory(Factory):
    """
    Builds the one L{ViciProtocol} of a connection attempt, without the
    "Starting factory" and "Stopping factory" lines a retry every few
    seconds would log.
    """

    noisy = False

    def __init__(self, protocol: ViciProtocol) -> None:
        self.protocol_ = protocol

    def buildProtocol(self, addr: Any) -> ViciProtocol:
        return self.protocol_


def connectVici(
    endpoint: IStreamClientEndpoint,
    onEvent: Callable[[str, dict[str, Any]], None],
    onLost: Callable[[Failure], None],
    clock: IReactorTime,
    timeout: float = REQUEST_TIMEOUT,
) -> Deferred[ViciProtocol]:
    """
    Connect to charon's VICI socket.

    @param endpoint: usually a C{UNIXClientEndpoint} on C{crypto.vici-socket}.
    @param clock: times requests out (see L{ViciProtocol}).
    @return: a L{Deferred} firing with the connected L{ViciProtocol}.
    """
    protocol = ViciProtocol(onEvent, onLost, clock, timeout)
    return endpoint.connect(_QuietFactory(protocol)).addCallback(lambda _: protocol)
