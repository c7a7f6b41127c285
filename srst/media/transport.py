# -*- test-case-name: tests.test_media_transport -*-
"""
UDP transport for router-terminated RTP/SRTP media.

L{RtpStream} is one media endpoint (bound to an even port of the range by
L{srst.media.portrange.RtpPortAllocator}), a L{DatagramProtocol}: it builds and
(optionally) SRTP-protects what it sends, checks, decrypts and accounts for
what it receives (RFC 3550 statistics), drops bad input without raising,
and reports an RTP-unreachable far end once: one whose host answered the RTP
sent to it with ICMP port unreachable and then sent none (IOS's C{mgcp rtp
unreachable}), or, where a silence timeout is asked for, one that sent no
RTP for that long.

To police RTP with the control-plane policy, bind a
C{srst.policing.PolicingDatagramProtocol} wrapping the stream instead of
the stream itself; the stream then shares the wrapper's transport.
"""

from __future__ import annotations

import secrets
from typing import Any, Callable, Optional

from attrs import frozen
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import MessageLengthError
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from srst.debug import DebugSwitches
from srst.media.rtp import (
    G711_CLOCK_RATE,
    RTP_HEADER_LENGTH,
    PayloadType,
    ReceiveSnapshot,
    ReceiveStatistics,
    RtpDecodeError,
    RtpPacket,
    SendSnapshot,
    SendStatistics,
    decodePlainHeader,
    decodeRtp,
    encodeRtpHeader,
    isRtpHeader,
)
from srst.media.srtp import SrtpError, SrtpKeys, SrtpReceiver, SrtpSender

MAX_DATAGRAM = 1500
"""Longer datagrams are dropped as malformed (G.711 at 20 ms is 172 bytes
of RTP; libsrtp's buffer holds 1500)."""

_SEQ_MOD = 1 << 16
_TS_MOD = 1 << 32

Address = tuple[str, int]

DEBUG_NAMESPACE = "srst.debug.media"
"""The debug category of a stream's later drops of a kind (the first is a
warning)."""


class StreamNotReady(RuntimeError):
    """
    L{RtpStream.send} was called before the far end was known, before
    the stream was bound, or after it was closed.

    @ivar reason: which, as one line.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return "RTP stream cannot send: %s" % (self.reason,)


@frozen
class StreamCounters:
    """
    Datagram counters of one L{RtpStream}.

    @ivar received: every datagram that arrived.
    @ivar decrypted: SRTP packets that authenticated and decrypted.
    @ivar malformed: datagrams that are not RTP (dropped).
    @ivar authFailures: SRTP packets that failed authentication (dropped).
    @ivar replays: SRTP packets already seen (dropped).
    @ivar wrongSource: datagrams not from the known far end (dropped).
    @ivar otherPayloadType: good packets of a payload type the stream does
        not play (comfort noise, telephone events, another codec): counted
        in the statistics, not delivered.
    @ivar delivered: payloads handed to C{onPayload} or C{onAudio}.
    @ivar sendFailures: packets the host refused to send.
    """

    received: int
    decrypted: int
    malformed: int
    authFailures: int
    replays: int
    wrongSource: int
    otherPayloadType: int
    delivered: int
    sendFailures: int


@frozen
class StreamSnapshot:
    """
    One L{RtpStream} as show commands see it.

    @ivar localPort: the bound port, or L{None} before binding.
    @ivar remote: the far end C{(host, port)}, or L{None}.
    @ivar ssrc: the SSRC this stream sends with.
    @ivar payloadType: the payload type it sends.
    @ivar secure: whether SRTP protects sending or receiving.
    @ivar unreachable: whether the RTP-unreachable timeout fired.
    @ivar closed: whether L{RtpStream.close} was called.
    @ivar counters: the datagram counters.
    @ivar receive: the RFC 3550 receive statistics.
    @ivar send: the send statistics.
    """

    localPort: Optional[int]
    remote: Optional[Address]
    ssrc: int
    payloadType: int
    secure: bool
    unreachable: bool
    closed: bool
    counters: StreamCounters
    receive: ReceiveSnapshot
    send: SendSnapshot


class RtpStream(DatagramProtocol):
    """
    One router-terminated media stream endpoint.

    Receive path, in order: once L{remote} is known, a datagram from
    another host, or (after the first valid packet latched L{source}) from
    any address but L{source}, counts as C{wrongSource}; with receive keys it must
    authenticate (C{authFailures}) and be new (C{replays}); then it must
    decode as RTP (C{malformed}).  Each of those is dropped, never raised;
    the first of each kind is logged as a warning, later ones at debug in
    C{srst.debug.media}.  A good packet feeds the statistics, resets the
    RTP-unreachable timers and goes to C{onPayload(payload, packet)}.

    An ICMP port unreachable for what the stream sends to L{remote}
    (L{connectionRefused}, from L{srst.media.udpport.MediaUdpPort}) arms the
    refusal timer of C{refusedTimeout} seconds; a good packet before it
    fires disarms it, otherwise the far end is unreachable.

    @ivar clock: the clock for arrival times and the unreachable timers.
    @ivar payloadType: the payload type sent.
    @ivar ssrc: the SSRC sent.
    @ivar unreachableTimeout: seconds without a valid packet after
        L{startMedia} before C{onUnreachable} (the silence timer), or
        L{None} for never.
    @ivar refusedTimeout: seconds without a valid packet after an ICMP
        port unreachable before C{onUnreachable}, or L{None} to ignore
        ICMP.
    @ivar refusals: ICMP port unreachables heard for L{remote}.
    @ivar localPort: the bound port, or L{None} before binding.
    @ivar unreachable: whether an unreachable timer fired.
    @ivar onUnreachable: called once when a timer fires, or L{None}
        (may be set after construction).
    @ivar closed: whether L{close} was called.
    """

    log = Logger()
    noisy = False

    def __init__(self, clock: IReactorTime, *,
                 debug: DebugSwitches,
                 payloadType: int = PayloadType.PCMU,
                 clockRate: int = G711_CLOCK_RATE,
                 txKeys: Optional[SrtpKeys] = None,
                 rxKeys: Optional[SrtpKeys] = None,
                 onPayload: Optional[Callable[[bytes, RtpPacket], object]] = None,
                 onAudio: Optional[Callable[[bytes], object]] = None,
                 onUnreachable: Optional[Callable[[], object]] = None,
                 unreachableTimeout: Optional[float] = None,
                 releasePort: Optional[Callable[[int], object]] = None,
                 ssrc: Optional[int] = None,
                 minSequential: int = 2,
                 acceptPayloadTypes: Optional[frozenset[int]] = None,
                 unreachableAfterMedia: bool = False,
                 refusedTimeout: Optional[float] = None) -> None:
        """
        @param clock: the reactor's time provider (or a L{task.Clock}).
        @param debug: the router's switches; later drops of a kind are
            logged in their L{DEBUG_NAMESPACE} category.
        @param payloadType: the payload type to send.
        @param clockRate: RTP timestamp units per second received.
        @param txKeys: SRTP keys to protect what is sent, or L{None} for
            plain RTP.
        @param rxKeys: SRTP keys to check what is received, or L{None}.
        @param onPayload: called with C{(payload, packet)} per good packet.
        @param onAudio: called with the payload alone per good packet,
            instead of C{onPayload} (no L{RtpPacket} is built: the
            cheaper hook for a media path that only plays the payload).
        @param onUnreachable: called once when the far end is silent for
            C{unreachableTimeout} seconds after L{startMedia}.
        @param unreachableTimeout: seconds, or L{None} to never time out.
        @param releasePort: called with the bound port by L{close}, e.g.
            L{RtpPortAllocator.release}.
        @param ssrc: the SSRC to send with; random when L{None}.
        @param minSequential: RFC 3550 probation, see L{ReceiveStatistics}.
        @param acceptPayloadTypes: the payload types delivered; packets of
            others are accounted for and counted as C{otherPayloadType}
            but not delivered.  L{None} delivers every payload type.
        @param unreachableAfterMedia: arm the RTP-unreachable timer only
            once a good packet has arrived after L{startMedia} (or after
            L{remote} changed): media that I{stops}, not media that has
            not started yet (a call still ringing, a far end just moved).
        @param refusedTimeout: seconds to wait for RTP after an ICMP port
            unreachable before C{onUnreachable}, or L{None} to ignore ICMP.
        """
        if unreachableTimeout is not None and unreachableTimeout <= 0:
            raise ValueError("unreachableTimeout must be positive")
        if refusedTimeout is not None and refusedTimeout <= 0:
            raise ValueError("refusedTimeout must be positive")
        self.clock = clock
        self._debugLog = debug.logger(DEBUG_NAMESPACE)
        self.payloadType = int(payloadType)
        self.ssrc = secrets.randbits(32) if ssrc is None else ssrc
        self.unreachableTimeout = unreachableTimeout
        self.refusedTimeout = refusedTimeout
        self.refusals = 0
        self.localPort: Optional[int] = None
        self.unreachable = False
        self.closed = False
        self._remote: Optional[Address] = None
        self._source: Optional[Address] = None
        self._onPayload = onPayload
        self._onAudio = onAudio
        self._accept = acceptPayloadTypes
        self.unreachableAfterMedia = unreachableAfterMedia
        self._armOnMedia = False
        self.onUnreachable = onUnreachable
        self._releasePort = releasePort
        self._sender = SrtpSender(txKeys) if txKeys is not None else None
        self._receiver = SrtpReceiver(rxKeys) if rxKeys is not None else None
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._rxStats = ReceiveStatistics(clockRate=clockRate,
                                          minSequential=minSequential)
        self._txStats = SendStatistics()
        self._timer: Optional[IDelayedCall] = None
        self._refusedTimer: Optional[IDelayedCall] = None
        self._counts = dict.fromkeys(
            ("received", "decrypted", "malformed", "authFailures",
             "replays", "wrongSource", "otherPayloadType", "delivered",
             "sendFailures"), 0)

    def __repr__(self) -> str:
        return "<RtpStream port=%s remote=%s ssrc=0x%08x%s>" % (
            self.localPort, self._remote, self.ssrc,
            " srtp" if self.secure else "")

    @property
    def secure(self) -> bool:
        """Whether SRTP protects either direction."""
        return self._sender is not None or self._receiver is not None

    @property
    def remote(self) -> Optional[Address]:
        """The far end C{(host, port)}; set it once it is known."""
        return self._remote

    @remote.setter
    def remote(self, address: Optional[Address]) -> None:
        if address is not None:
            host, port = address
            address = (str(host), int(port))
        changed = address != self._remote
        self._remote = address
        if changed:
            self._source = None
            self._cancelRefusedTimer()  # the refusal was the old far end's
            if self._timer is not None or self._armOnMedia:
                # A new far end: time it on its own packets, not the old one's.
                self._cancelTimer()
                self.startMedia()

    @property
    def source(self) -> Optional[Address]:
        """
        The far end's sending address: latched from the first valid
        packet from L{remote}'s host (a phone may send from another port
        than it receives on); later packets from elsewhere are dropped.
        """
        return self._source

    def startProtocol(self) -> None:
        """
        Note the bound port.
        """
        self.localPort = getattr(self.transport.getHost(), "port", None)

    def stopProtocol(self) -> None:
        """
        The port stopped listening: cancel the timers.
        """
        self._cancelTimer()
        self._cancelRefusedTimer()

    def connectionRefused(self) -> None:
        """
        The far end's host answered RTP sent to L{remote} with ICMP port
        unreachable: unless a good packet arrives within C{refusedTimeout},
        the far end is unreachable.
        """
        self.refusals += 1
        if (self.refusedTimeout is None or self.closed or self.unreachable
                or self._refusedTimer is not None):
            return
        self.log.info(
            "RTP to {remote} from port {localPort} refused (ICMP port "
            "unreachable); unreachable unless RTP arrives within {timeout} s",
            remote=self._remote, localPort=self.localPort,
            timeout=self.refusedTimeout, ssrc=self.ssrc)
        self._refusedTimer = self.clock.callLater(self.refusedTimeout, self._refusedTimedOut)

    def _refusedTimedOut(self) -> None:
        self._refusedTimer = None
        self._cancelTimer()
        self._reportUnreachable(
            "RTP to {remote} from port {localPort} unreachable: ICMP port "
            "unreachable and no valid packet for {timeout} s", self.refusedTimeout)

    def _cancelRefusedTimer(self) -> None:
        timer, self._refusedTimer = self._refusedTimer, None
        if timer is not None and timer.active():
            timer.cancel()

    def startMedia(self) -> None:
        """
        Media started: arm the RTP-unreachable timer (when configured and
        not already armed or fired).  Each good packet resets it.
        """
        if (self.unreachableTimeout is None or self.closed
                or self.unreachable or self._timer is not None):
            return
        if self.unreachableAfterMedia:
            self._armOnMedia = True  # armed by the next good packet
        else:
            self._arm()

    def _arm(self) -> None:
        self._timer = self.clock.callLater(self.unreachableTimeout,
                                           self._unreachableTimedOut)

    def stopMedia(self) -> None:
        """
        Media paused (hold, a receive-less mode): disarm the
        RTP-unreachable timer until the next L{startMedia}.
        """
        self._cancelTimer()

    def _unreachableTimedOut(self) -> None:
        self._timer = None
        self._cancelRefusedTimer()
        self._reportUnreachable(
            "RTP from {remote} to port {localPort} unreachable: no valid "
            "packet for {timeout} s", self.unreachableTimeout)

    def _reportUnreachable(self, message: str, timeout: Optional[float]) -> None:
        self.unreachable = True
        self.log.warn(message, remote=self._remote, localPort=self.localPort,
                      timeout=timeout, ssrc=self.ssrc,
                      received=self._counts["received"], refusals=self.refusals)
        if self.onUnreachable is not None:
            with self.log.failuresHandled(
                    "while reporting RTP unreachable on {localPort}",
                    localPort=self.localPort):
                self.onUnreachable()

    def _cancelTimer(self) -> None:
        self._armOnMedia = False
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def send(self, payload: bytes, timestampAdvance: int,
             marker: bool = False, payloadType: Optional[int] = None) -> bytes:
        """
        Send one payload to L{remote} as RTP, or SRTP with the send keys.

        @param payload: the payload.
        @param timestampAdvance: timestamp units this payload lasts (160
            for 20 ms of G.711); added after sending.
        @param marker: the RTP marker bit.
        @param payloadType: the payload type of this packet (an RFC 4733
            telephone-event), or L{None} for the stream's own.
        @return: the datagram (also when the host refused to send it: a
            failed send is counted as C{sendFailures} and logged, and the
            sequence number moves on all the same, so the next packet gets
            a fresh SRTP index instead of being refused as a replay).
        @raise StreamNotReady: before binding or L{remote}, or after
            L{close}.
        @raise SrtpError: if libsrtp refuses to protect the packet.
        """
        if self.closed:
            raise StreamNotReady("closed")
        if self.transport is None:
            raise StreamNotReady("not bound")
        if self._remote is None:
            raise StreamNotReady("far end not known")
        datagram = encodeRtpHeader(self.payloadType if payloadType is None else payloadType,
                                   self._sequence,
                                   self._timestamp, self.ssrc,
                                   marker) + payload
        if self._sender is not None:
            datagram = self._sender.protect(datagram)
        self._sequence = (self._sequence + 1) % _SEQ_MOD
        self._timestamp = (self._timestamp + timestampAdvance) % _TS_MOD
        try:
            self.transport.write(datagram, self._remote)
        except (OSError, MessageLengthError) as e:
            self._sendFailed(e)
            return datagram
        self._txStats.sentPayload(len(payload))
        return datagram

    def _sendFailed(self, error: Exception) -> None:
        self._counts["sendFailures"] += 1
        count = self._counts["sendFailures"]
        emit = self.log.warn if count == 1 else self._debugLog.debug
        emit("RTP to {remote} from port {localPort} not sent: {error}",
             remote=self._remote, localPort=self.localPort, error=str(error), count=count)

    def _drop(self, kind: str, addr: Address, reason: str) -> None:
        self._counts[kind] += 1
        count = self._counts[kind]
        if count == 1:
            emit = self.log.warn
        else:
            emit = self._debugLog.debug
        emit("dropped RTP datagram from {peer} on port {localPort} "
             "({kind}): {reason}",
             peer=addr, localPort=self.localPort, kind=kind, reason=reason,
             count=count)

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:
        """
        Check, decrypt, account for and deliver one datagram; bad ones
        are counted and dropped.
        """
        self._counts["received"] += 1
        if self.closed:
            return
        if len(datagram) > MAX_DATAGRAM:
            self._drop("malformed", addr, "%d bytes, longer than %d"
                       % (len(datagram), MAX_DATAGRAM))
            return
        source = self._source
        if source is not None:
            if tuple(addr) != source and tuple(addr) != self._remote:
                self._drop("wrongSource", addr,
                           "expected %s:%d" % source)
                return
        elif self._remote is not None and addr[0] != self._remote[0]:
            self._drop("wrongSource", addr,
                       "expected a packet from %s" % (self._remote[0],))
            return
        # What phones send: version 2, no padding, extension or CSRC.  The
        # header is read once, in place (SRTP authenticates it but leaves
        # it in the clear); an RtpPacket is built only for an onPayload
        # that takes one.
        header = decodePlainHeader(datagram)
        if self._receiver is not None:
            if header is None and not isRtpHeader(datagram):
                self._drop("malformed", addr, "not an SRTP packet")
                return
            try:
                datagram = self._receiver.unprotect(datagram)
            except SrtpError as e:
                kind = "replays" if "replay" in e.reason else "authFailures"
                self._drop(kind, addr, str(e))
                return
            self._counts["decrypted"] += 1
        if header is not None:
            payloadType, seq, timestamp, ssrc = header
            payload = datagram[RTP_HEADER_LENGTH:]
            packet = None
        else:
            try:
                packet = decodeRtp(datagram)
            except RtpDecodeError as e:
                self._drop("malformed", addr, str(e))
                return
            payload, seq = packet.payload, packet.sequenceNumber
            timestamp, ssrc = packet.timestamp, packet.ssrc
            payloadType = packet.payloadType
        if self._remote is not None and (source is None
                                         or tuple(addr) == self._remote):
            # Latch the sender; the far end's own address always re-latches
            # (a stray packet from elsewhere on its host cannot lock it out).
            self._source = (str(addr[0]), int(addr[1]))
        self._rxStats.receiveHeader(ssrc, seq, timestamp, len(payload),
                                    self.clock.seconds())
        if self._refusedTimer is not None:
            self._cancelRefusedTimer()  # it answers after all
        if self._timer is not None:
            self._timer.reset(self.unreachableTimeout)
        elif self._armOnMedia:
            self._armOnMedia = False
            self._arm()
        if self._accept is not None and payloadType not in self._accept:
            self._counts["otherPayloadType"] += 1
            return
        self._counts["delivered"] += 1
        try:
            if self._onAudio is not None:
                self._onAudio(payload)
            elif self._onPayload is not None:
                if packet is None:
                    packet = decodeRtp(datagram)
                self._onPayload(payload, packet)
        except Exception:
            self.log.failure("while delivering RTP payload on {localPort}",
                             localPort=self.localPort)

    @property
    def counters(self) -> StreamCounters:
        """The datagram counters so far."""
        return StreamCounters(**self._counts)

    def snapshot(self) -> StreamSnapshot:
        """
        @return: the stream's state and statistics, as a frozen value.
        """
        return StreamSnapshot(
            localPort=self.localPort, remote=self._remote, ssrc=self.ssrc,
            payloadType=self.payloadType, secure=self.secure,
            unreachable=self.unreachable, closed=self.closed,
            counters=self.counters, receive=self._rxStats.snapshot(),
            send=self._txStats.snapshot())

    def close(self) -> Deferred[None]:
        """
        Stop: cancel the timer, stop listening and release the port.
        Calling it again does nothing.

        @return: fires when the port has stopped listening.
        """
        if self.closed:
            return succeed(None)
        self.closed = True
        self._cancelTimer()
        self._cancelRefusedTimer()
        transport, port = self.transport, self.localPort

        def release(result: object) -> object:
            # Only once the socket is closed: a port handed out again
            # before that could not be bound.
            if port is not None and self._releasePort is not None:
                self._releasePort(port)
            return result

        if transport is None:
            release(None)
            return succeed(None)
        done: Deferred[Any] = maybeDeferred(transport.stopListening)
        return done.addBoth(release).addCallback(lambda ignored: None)
