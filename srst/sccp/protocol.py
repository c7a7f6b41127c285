# -*- test-case-name: tests.test_sccp_protocol -*-
"""
SCCP framing and dispatch for one phone connection.

L{SkinnyProtocol} only frames bytes and hands messages on (style.md 2.5):
C{dataReceived} appends to a bounded buffer, cuts frames with
L{splitFrames}, decodes each with the session's negotiated protocol version
and passes it to the L{Station}.  Everything a message means is decided by
the station; everything sent goes through L{SkinnyProtocol.sendMessage}.

Bad input closes only this connection, after logging why with the peer and
the ephone: a frame header with an impossible length (L{FrameError}) aborts
it (the stream cannot be resynchronised), a frame that does not decode
(L{DecodeError}) closes it.  An unknown message id is logged at info and
skipped.  A message that makes no sense in the session's state (Automat's
C{NoTransition}) is logged and ignored.  No codec or machine exception ever
leaves C{dataReceived}.

On the secure listener the protocol sits inside C{TLSMemoryBIOProtocol}: it
is told when the handshake completes (L{IHandshakeListener}) and hands the
verified client certificate to the station; a connection that ends before
the handshake completed is reported to the factory with the reason.

Everything the station sends while the protocol dispatches the frames of
one read is written with one C{transport.write} when the read has been
handled (over TLS: one record instead of one per message); messages sent at
other times (timers, the call engine) are written at once.  Closing the
connection writes what is pending first.

Like Twisted's C{LineReceiver}, the protocol can be paused: while paused
(L{SkinnyProtocol.pauseProducing}) it stops parsing and reading, and
L{SkinnyProtocol.resumeProducing} parses what was buffered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automat import NoTransition
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.sccp import messages as m
from srst.sccp.station import HANDSHAKE_TIMEOUT_REASON

if TYPE_CHECKING:
    from srst.sccp.factory import SkinnyFactory
    from srst.sccp.station import Station

MAX_BUFFER = 8 * m.MAX_FRAME
"""
Bytes a paused connection may have buffered (received, not yet parsed);
beyond it the connection is aborted.  While not paused the buffer never
holds more than one unfinished frame (at most C{MAX_FRAME - 1} bytes) after
parsing, whatever the size of a read.
"""


def peerOf(transport: Any) -> tuple[str, int]:
    """
    @param transport: a connected transport.
    @return: the peer's host and port (C{("0.0.0.0", 0)} for an address
        that has none).
    """
    peer = transport.getPeer()
    return str(getattr(peer, "host", "0.0.0.0")), int(getattr(peer, "port", 0) or 0)


@implementer(IHandshakeListener)
class SkinnyProtocol(Protocol):
    """
    One phone connection (inside TLS on the secure listener).

    @ivar socketNumber: the listener's connection number (C{TCP socket:[n]}).
    @ivar secure: whether this is the TLS listener.
    @ivar station: the session.
    @ivar protocolVersion: the negotiated protocol version (0 until
        RegisterAck), used to decode and encode.
    @ivar handshakeDone: whether the TLS handshake completed.
    @ivar peerHost: the phone's address.
    @ivar peerPort: its port.
    """

    log = Logger()

    def __init__(self, factory: SkinnyFactory, socketNumber: int) -> None:
        """
        @param factory: the listener's factory.
        @param socketNumber: this connection's number.
        """
        self.factory = factory
        self.socketNumber = socketNumber
        self.secure = factory.secure
        self.station: Station | None = None
        self.protocolVersion = 0
        self.handshakeDone = False
        self.peerHost = ""
        self.peerPort = 0
        self._buffer = b""
        self._paused = False
        self._parsing = False
        self._closing = False
        self._pending: list[bytes] | None = None

    # -- connection lifecycle --------------------------------------------------

    def connectionMade(self) -> None:
        """Log the new socket and start the session."""
        self.peerHost, self.peerPort = peerOf(self.transport)
        self.station = self.factory.connectionOpened(self)
        self.station.connectionMade(self.secure)

    def handshakeCompleted(self) -> None:
        """
        The TLS handshake completed: hand the verified client certificate
        (a C{cryptography} certificate, or L{None}) to the session.
        """
        self.handshakeDone = True
        peerCertificate = self.transport.getPeerCertificate()
        certificate = peerCertificate.to_cryptography() if peerCertificate is not None else None
        self.factory.handshakeCompleted(self, certificate)
        if self.station is not None and not self._closing:
            self._guarded(self.station.handshakeCompleted, certificate)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Report a failed TLS handshake, end the session (unregistering the
        phone, cancelling its timers) and leave the factory's count.
        """
        self._flush()
        self._closing = True
        if self.secure and not self.handshakeDone:
            station = self.station
            timedOut = station is not None and station.closeReason == HANDSHAKE_TIMEOUT_REASON
            self.factory.handshakeFailed(
                self, self.factory.describeHandshakeFailure(self.transport, reason, timedOut))
        if self._buffer:
            self.factory.logLimiter.info(
                self.log, self.peerHost, "connections closed with an unfinished frame",
                "{peer}: connection closed with {count} bytes of an unfinished frame",
                peer=self._peerText(), count=len(self._buffer), ephone=self._ephoneNumber(),
                socket=self.socketNumber)
            self._buffer = b""
        station = self.station
        if station is not None:
            self._guarded(station.connectionLost)
        self.factory.connectionClosed(self)

    # -- receiving ------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """
        Buffer C{data} and dispatch every complete frame (unless paused or
        closing; a paused connection that buffers more than L{MAX_BUFFER}
        bytes is aborted).
        """
        if self._closing:
            return
        if self._paused and len(self._buffer) + len(data) > MAX_BUFFER:
            self.factory.logLimiter.warn(
                self.log, self.peerHost, "connections aborted with a full buffer",
                "{peer}: {count} bytes buffered (limit {limit}); aborting",
                peer=self._peerText(), count=len(self._buffer) + len(data), limit=MAX_BUFFER,
                ephone=self._ephoneNumber(), socket=self.socketNumber)
            self.factory.countInputError("buffer overflow")
            self._abort()
            return
        self._buffer += data
        self._parse()

    def _parse(self) -> None:
        if self._parsing:
            return
        self._parsing = True
        self._pending = []
        try:
            while self._buffer and not self._paused and not self._closing:
                try:
                    frames, rest = m.splitFrames(self._buffer, m.MAX_FRAME)
                except m.FrameError as e:
                    self._badInput("bad frame", e)
                    self._abort()
                    return
                if not frames:
                    return
                self._buffer = rest
                for index, frame in enumerate(frames):
                    if self._closing:
                        return
                    if self._paused:
                        # Keep the frames not yet dispatched, in order.
                        self._buffer = b"".join(frames[index:]) + self._buffer
                        return
                    self._frameReceived(frame)
        finally:
            self._parsing = False
            self._flush()

    def _frameReceived(self, frame: bytes) -> None:
        try:
            msg = m.decodeMessage(frame, protocolVersion=self.protocolVersion)
        except m.DecodeError as e:
            self._badInput("undecodable message", e)
            self._close()
            return
        if isinstance(msg, m.UnknownMessage):
            self.factory.logLimiter.info(
                self.log, self.peerHost, "unknown messages ignored",
                "{peer}: unknown message {messageId} ({length} bytes) ignored",
                peer=self._peerText(), messageId=m.describeMessageId(msg.messageId),
                length=len(msg.body), ephone=self._ephoneNumber(), socket=self.socketNumber)
            return
        station = self.station
        if station is not None:
            self._guarded(station.messageReceived, msg)

    def _guarded(self, action: Any, *args: Any) -> None:
        """
        Run a session action; a message the state does not allow is logged
        and ignored, an unexpected exception is logged and closes this
        connection only.
        """
        try:
            action(*args)
        except NoTransition as e:
            state = getattr(e.state, "name", str(e.state))
            self.factory.logLimiter.warn(
                self.log, self.peerHost, "messages ignored in state " + state,
                "{peer}: {what} ignored in state {state}", peer=self._peerText(),
                what=_describe(args) or getattr(action, "__name__", "input"),
                state=state, input=str(e.symbol),
                ephone=self._ephoneNumber(), socket=self.socketNumber)
        except BaseException:
            # What Logger.failuresHandled does, without building the event
            # fields for every message that is handled fine.
            self.log.failure("{peer}: while handling {action}", Failure(), LogLevel.critical,
                             peer=self._peerText(), action=getattr(action, "__name__", repr(action)),
                             ephone=self._ephoneNumber(), socket=self.socketNumber)
            self._abort()

    def _badInput(self, what: str, error: m.DecodeError) -> None:
        self.factory.countInputError(what)
        self.factory.logLimiter.warn(
            self.log, self.peerHost, f"connections closed ({what})",
            "{peer}: {what}, closing: {reason}", peer=self._peerText(), what=what,
            reason=str(error), messageId=error.messageId, offset=error.offset,
            ephone=self._ephoneNumber(), socket=self.socketNumber)

    # -- sending ----------------------------------------------------------------------

    def sendMessage(self, msg: m.Message) -> None:
        """
        Encode C{msg} with the negotiated protocol version and send it.

        @param msg: a router-to-phone message.
        @raise srst.sccp.messages.EncodeError: for a value that does not fit
            (a bug of the caller).
        """
        if self._closing or self.transport is None:
            return
        data = m.encodeMessage(msg, protocolVersion=self.protocolVersion)
        if self._pending is not None:
            self._pending.append(data)
        else:
            self.transport.write(data)

    def sendEncoded(self, data: bytes) -> None:
        """
        Send a message already encoded (with the negotiated protocol
        version): a cached constant reply.

        @param data: one whole frame.
        """
        if self._closing or self.transport is None:
            return
        if self._pending is not None:
            self._pending.append(data)
        else:
            self.transport.write(data)

    def _flush(self) -> None:
        """Write what was sent while dispatching, in one write; stop batching."""
        pending = self._pending
        self._pending = None
        if pending and self.transport is not None:
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def loseConnection(self) -> None:
        """Close after what was sent (RegisterReject, ...) is flushed."""
        self._close()

    def abortConnection(self) -> None:
        """Close at once (dead or misbehaving peer)."""
        self._abort()

    def _close(self) -> None:
        if not self._closing:
            self._flushBeforeClosing()
            self._closing = True
            self.transport.loseConnection()

    def _abort(self) -> None:
        wasClosing = self._closing
        if not wasClosing:
            self._flushBeforeClosing()
        self._closing = True
        if not wasClosing or not getattr(self.transport, "disconnected", False):
            self.transport.abortConnection()

    def _flushBeforeClosing(self) -> None:
        """Write what is pending; keep batching until the read is handled."""
        if self._pending:
            self.transport.write(b"".join(self._pending))
            self._pending = []

    # -- pausing: stop parsing while paused ------------------------------------------

    def pauseProducing(self) -> None:
        """Stop parsing and reading."""
        self._paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """Parse what was buffered, then read again."""
        self._paused = False
        self._parse()
        if not self._closing:
            self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """Close the connection."""
        self._close()

    # -- helpers ------------------------------------------------------------------------

    def _ephoneNumber(self) -> int | None:
        station = self.station
        ephone = station.ephone if station is not None else None
        return ephone.number if ephone is not None else None

    def _peerText(self) -> str:
        number = self._ephoneNumber()
        name = f"ephone-{number}" if number is not None else "skinny"
        return f"{name}[{self.socketNumber}] {self.peerHost} {self.peerPort}"


def _describe(args: tuple[Any, ...]) -> str:
    if args and isinstance(args[0], m.Message):
        return type(args[0]).__name__
    return ""


__all__ = ["MAX_BUFFER", "SkinnyProtocol", "peerOf"]
