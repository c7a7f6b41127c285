# -*- test-case-name: tests.test_phone_media -*-
"""
The media of a simulated phone: RTP (and SRTP) the way a 79xx handles the
router's media messages (sccp.md 2.4, 3).

L{PhoneMedia} observes a L{srst.tools._phoneclient.SimulatedPhone}:

  - B{OpenReceiveChannel}: bind a UDP port on the media interface
    (127.0.0.1 by default), answer L{OpenReceiveChannelAck} with its address
    and port and the stream's passThruPartyId, and keep an
    L{srst.media.srtp.SrtpReceiver} when the rx key block names an
    algorithm.  Every datagram on the port is counted; with a receiver it
    is authenticated and decrypted, without one it is decoded as plain RTP.
  - B{StartMediaTransmission}: send one 20 ms G.711 packet (160 bytes of a
    dial tone, or of the phone's C{source} such as L{sineFrames}; payload
    type 0 for u-law, 8 for A-law) every 20 ms to the
    given address and port, SRTP-protected when the tx key block names an
    algorithm.  A codec other than G.711 or an unusable key block is
    answered with L{MediaTransmissionFailure} instead.
  - What a person says and hears: L{FileSource} plays a WAV file's
    samples into the handset (then silence), L{Recording} keeps what
    arrives (decoded, after SRTP) as linear PCM for a WAV file.
  - B{StopMediaTransmission} stops sending, B{CloseReceiveChannel} closes
    the port; when the phone's connection ends every timer and port goes.

A late timer tick sends one packet whose timestamp accounts for the frames
it missed, as a phone dropping frames would.

Tests read the counters (L{PhoneMedia.packetsSent},
L{PhoneMedia.packetsDecrypted} ...) and the raw datagrams received
(L{PhoneMedia.captured}).
"""

from __future__ import annotations

import collections
import ipaddress
import math
import secrets
from typing import Any, Callable, Iterator, Optional, Sequence

from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst.debug import DebugSwitches
from srst.media.rtp import (
    ReceiveStatistics,
    RtpDecodeError,
    RtpPacket,
    SendStatistics,
    decodeRtp,
    encodeRtp,
)
from srst.media.srtp import (
    SrtpError,
    SrtpKeys,
    SrtpReceiver,
    SrtpSender,
)
from srst.media.udpport import UDPReactor
from srst.ports.g711 import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, G711Law, decode, encode, frames
from srst.ports.tones import CallProgressTone, ToneGenerator
from srst.sccp import messages as m
from srst.sccp.constants import Codec, MediaStatus
from srst.sccp.srtpkeys import SrtpKeyError, fromKeyInfo
from srst.tools._phoneclient import OneShot, SimulatedPhone

_log = Logger(namespace="srst.tools.phone.media")

DEBUG_NAMESPACE = "srst.debug.phone.media"
"""The debug category of a phone's media lines."""

PACKET_INTERVAL = FRAME_MS / 1000.0
"""Seconds between two RTP packets of a stream (20 ms)."""

CODEC_LAWS: dict[int, G711Law] = {
    Codec.G711_ULAW_64K: G711Law.ULAW,
    Codec.G711_ULAW_56K: G711Law.ULAW,
    Codec.G711_ALAW_64K: G711Law.ALAW,
    Codec.G711_ALAW_56K: G711Law.ALAW,
}
"""The compressionType values a simulated phone can send, and their law."""

DEFAULT_CAPTURE_LIMIT = 256
"""How many received datagrams L{PhoneMedia.captured} keeps."""


Frames = Iterator[tuple[int, ...]]
"""What a phone says into its handset: 20 ms frames of signed 16-bit samples."""


def sineFrames(frequency: float, amplitude: int = 8000) -> Frames:
    """
    A steady sine, the voice of a test participant (a conference test gives
    each phone its own frequency and looks for the others' in what it
    hears).

    @param frequency: in Hz, below 4000.
    @param amplitude: the peak, at most 32767.
    @return: an endless iterator of L{FRAME_SAMPLES}-sample frames, the
        phase continuing from one frame to the next.
    """
    step = 2.0 * math.pi * frequency / SAMPLE_RATE
    start = 0
    while True:
        yield tuple(round(amplitude * math.sin(step * n)) for n in range(start, start + FRAME_SAMPLES))
        start += FRAME_SAMPLES


class FileSource:
    """
    A file played into the handset: its 20 ms frames once, then silence
    for as long as the call lasts (a phone keeps sending).

    @ivar duration: the file's length in seconds.
    """

    def __init__(self, samples: Sequence[int]) -> None:
        """
        @param samples: signed 16-bit samples at 8 kHz.
        """
        self.duration = len(samples) / SAMPLE_RATE
        self._frames = frames(samples)
        self._played: OneShot[None] = OneShot()

    def whenPlayed(self) -> Deferred[None]:
        """@return: a L{Deferred} firing once the file's last frame is taken to be sent."""
        return self._played.wait()

    def __iter__(self) -> FileSource:
        return self

    def __next__(self) -> tuple[int, ...]:
        frame = next(self._frames, None)
        if frame is None:
            self._played.fire(None)
            return _SILENCE
        return frame


_SILENCE = (0,) * FRAME_SAMPLES

_PAYLOAD_LAWS = {law.payloadType: law for law in G711Law}


class Recording:
    """
    What the handset heard: the G.711 packets received (after SRTP), decoded
    to linear PCM in RTP sequence order.  A packet lost on the way (a gap
    in the sequence numbers of a stream) leaves a packet's length of
    silence, so what follows stays in place; a late or duplicate packet is
    left out.  The timestamp is not used: a sender whose timer ticked late
    (L{Transmitter}) skipped timestamps but none of its audio.  A new
    stream (a new SSRC: a transfer, a resumed call) continues at the end.
    Packets of other payload types, and audio past C{limit} samples, are
    left out.

    @ivar samples: the signed 16-bit samples at 8 kHz so far.
    """

    def __init__(self, limit: int) -> None:
        """
        @param limit: the most samples kept.
        """
        self.samples: list[int] = []
        self._limit = limit
        self._ssrc: Optional[int] = None
        self._next = 0

    @property
    def duration(self) -> float:
        """Seconds recorded."""
        return len(self.samples) / SAMPLE_RATE

    def packetReceived(self, packet: RtpPacket) -> None:
        """
        Add one decoded packet.

        @param packet: the RTP packet.
        """
        law = _PAYLOAD_LAWS.get(packet.payloadType)
        if law is None:
            return
        lost = 0
        if packet.ssrc == self._ssrc:
            lost = (packet.sequenceNumber - self._next) & 0xFFFF
            if lost >= _MAX_GAP:  # late, duplicate, or a sequence restart
                return
        self._ssrc, self._next = packet.ssrc, (packet.sequenceNumber + 1) & 0xFFFF
        audio = decode(law, packet.payload)
        room = self._limit - len(self.samples)
        self.samples.extend(([0] * (lost * len(audio)) + list(audio))[:max(room, 0)])


_MAX_GAP = 0x1000
"""Sequence numbers further ahead than this are not taken as a loss."""


def _keysOf(info: m.KeyInfo) -> Optional[SrtpKeys]:
    """
    @return: the SRTP keys of a key block, L{None} for algorithm NONE.
    @raise SrtpKeyError: for a block srst cannot use.
    """
    if not info.encrypted:
        return None
    return fromKeyInfo(info)


class ReceiveChannel(DatagramProtocol):
    """
    One open receive port (OpenReceiveChannel).

    @ivar passThruPartyId: the stream id.
    @ivar callReference: the call it belongs to.
    @ivar receiver: the L{SrtpReceiver}, or L{None} for plain RTP.
    @ivar statistics: RFC 3550 receive statistics of what was decoded.
    @ivar port: the listening port, L{None} once closed.
    """

    def __init__(self, media: PhoneMedia, passThruPartyId: int,
                 callReference: int,
                 receiver: Optional[SrtpReceiver]) -> None:
        self._media = media
        self.passThruPartyId = passThruPartyId
        self.callReference = callReference
        self.receiver = receiver
        self.statistics = ReceiveStatistics(minSequential=1)
        self.port: Optional[IListeningPort] = None

    def __repr__(self) -> str:
        return "<ReceiveChannel %d %s>" % (
            self.passThruPartyId, "SRTP" if self.receiver else "RTP")

    def datagramReceived(self, datagram: bytes,
                         addr: tuple[str, int]) -> None:
        """
        Hand one datagram to the L{PhoneMedia}.

        @param datagram: the (S)RTP packet.
        @param addr: the sender's (host, port).
        """
        self._media.datagramReceived(self, datagram)

    def close(self) -> Deferred[None]:
        """
        Close the port.

        @return: a L{Deferred} firing once it is closed.
        """
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        return _stopListening(port)


class Transmitter(DatagramProtocol):
    """
    One outgoing stream (StartMediaTransmission): G.711 frames of the
    phone's source (by default a dial tone), one packet every 20 ms, from
    its own UDP port.

    @ivar passThruPartyId: the stream id.
    @ivar destination: where packets go, (host, port).
    @ivar law: the G.711 law.
    @ivar payloadType: the RTP payload type (0 or 8).
    @ivar sender: the L{SrtpSender}, or L{None} for plain RTP.
    @ivar ssrc: the stream's SSRC.
    @ivar statistics: what was sent.
    @ivar lastSent: the last RTP packet sent (before protection).
    @ivar port: the sending port, L{None} once stopped.
    """

    def __init__(self, media: PhoneMedia, passThruPartyId: int,
                 destination: tuple[str, int], law: G711Law,
                 sender: Optional[SrtpSender], source: Frames,
                 debugLog: Logger) -> None:
        self._media = media
        self._debug = debugLog
        self.passThruPartyId = passThruPartyId
        self.destination = destination
        self.law = law
        self.payloadType = law.payloadType
        self.sender = sender
        self.ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._source = source
        self.statistics = SendStatistics()
        self.lastSent: Optional[RtpPacket] = None
        self.port: Optional[IListeningPort] = None
        self._call: Optional[LoopingCall] = None
        self._writeErrors = 0

    def __repr__(self) -> str:
        return "<Transmitter %d to %s:%d %s>" % (
            self.passThruPartyId, self.destination[0], self.destination[1],
            "SRTP" if self.sender else "RTP")

    def start(self, clock: IReactorTime) -> None:
        """
        Send the first packet now and one every 20 ms of C{clock}.

        @param clock: the clock.
        """
        call = LoopingCall.withCount(self._tick)
        call.clock = clock
        self._call = call
        call.start(PACKET_INTERVAL, now=True).addErrback(self._failed)

    def _failed(self, reason: Failure) -> None:
        self._call = None
        self._media.sendFailed()
        _log.failure("stream {stream}: sending stopped", reason,
                     stream=self.passThruPartyId)

    def _tick(self, count: int) -> None:
        missed = max(count, 1) - 1
        self._timestamp = (self._timestamp
                           + FRAME_SAMPLES * missed) & 0xFFFFFFFF
        packet = RtpPacket(
            payloadType=self.payloadType, sequenceNumber=self._sequence,
            timestamp=self._timestamp, ssrc=self.ssrc,
            payload=encode(self.law, next(self._source)),
            marker=self.lastSent is None)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        data = encodeRtp(packet)
        if self.sender is not None:
            data = self.sender.protect(data)
        try:
            self.transport.write(data, self.destination)
        except OSError as e:
            self._media.sendFailed()
            self._writeErrors += 1
            log = _log.warn if self._writeErrors == 1 else self._debug.debug
            log("stream {stream}: cannot send RTP to {host}:{port}: "
                "{error} ({count} so far)", stream=self.passThruPartyId,
                host=self.destination[0], port=self.destination[1],
                error=str(e), count=self._writeErrors)
            return
        self.lastSent = packet
        self.statistics.sent(packet)
        self._media.packetSent()

    @property
    def sending(self) -> bool:
        """Whether packets are still being sent (L{stop} not called)."""
        return self._call is not None and self._call.running

    def stop(self) -> Deferred[None]:
        """
        Stop sending and close the port.

        @return: a L{Deferred} firing once the port is closed.
        """
        call, self._call = self._call, None
        if call is not None and call.running:
            call.stop()
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        return _stopListening(port)


def _stopListening(port: IListeningPort) -> Deferred[None]:
    done: Deferred[object] = maybeDeferred(port.stopListening)
    return done.addCallback(lambda ignored: None)


class PhoneMedia:
    """
    The RTP side of one simulated phone (see the module docstring).

    @ivar phone: the L{srst.tools._phoneclient.SimulatedPhone}.
    @ivar interface: the IPv4 address ports bind to and acks announce.
    @ivar tone: what the phone "says" into the handset when it has no
        C{source}.
    @ivar source: what the phone says into the handset (every stream it
        sends takes its next frames from it, as from one microphone), or
        L{None} for C{tone}.
    @ivar recording: the L{Recording} every decoded packet goes to, or
        L{None}.
    @ivar channels: the open L{ReceiveChannel}s by passThruPartyId.
    @ivar transmitters: the running L{Transmitter}s by passThruPartyId.
    @ivar packetsSent: RTP/SRTP packets sent.
    @ivar packetsReceived: datagrams received on any receive port.
    @ivar packetsDecrypted: SRTP packets that authenticated and decrypted.
    @ivar decryptFailures: SRTP packets libsrtp refused.
    @ivar plainPacketsReceived: plain RTP packets received on ports
        opened without a key.
    @ivar malformedPackets: datagrams (decrypted or plain) that are not RTP.
    @ivar sendErrors: packets the socket refused to send.
    @ivar lastPayload: the payload of the last packet decoded, or L{None}.
    @ivar lastPacket: the last L{RtpPacket} decoded, or L{None}.
    @ivar captured: the last datagrams received, raw, oldest first.
    @ivar payloads: the payloads of the last packets decoded (after
        decryption), oldest first.
    @ivar failures: the L{MediaTransmissionFailure}s the phone sent.
    @ivar stopped: whether L{stop} ran (the phone's connection ended).
    """

    def __init__(self, phone: SimulatedPhone, *, reactor: UDPReactor,
                 interface: str = "127.0.0.1",
                 tone: CallProgressTone = CallProgressTone.DIAL,
                 source: Optional[Frames] = None,
                 captureLimit: int = DEFAULT_CAPTURE_LIMIT,
                 recording: Optional[Recording] = None,
                 debug: Optional[DebugSwitches] = None) -> None:
        """
        Attach to C{phone}: observe its messages, become C{phone.media},
        and stop when its connection ends.

        @param phone: the phone.
        @param reactor: UDP and the clock
            (L{srst.media.udpport.UDPReactor}).
        @param interface: the IPv4 address to bind and announce.
        @param tone: the tone to send (each stream from its start).
        @param source: the frames to send instead, such as
            L{sineFrames}C{(500)}.
        @param captureLimit: how many received datagrams to keep.
        @param recording: where every packet decoded also goes.
        @param debug: the debug switches its L{DEBUG_NAMESPACE} lines go
            through; by default a set of its own, all off.
        """
        self.phone = phone
        self._debug = (debug if debug is not None
                       else DebugSwitches()).logger(DEBUG_NAMESPACE)
        self.interface = str(ipaddress.IPv4Address(interface))
        self.tone = tone
        self.source = source
        self.recording = recording
        self._reactor = reactor
        self.channels: dict[int, ReceiveChannel] = {}
        self.transmitters: dict[int, Transmitter] = {}
        self.packetsSent = 0
        self.packetsReceived = 0
        self.packetsDecrypted = 0
        self.decryptFailures = 0
        self.plainPacketsReceived = 0
        self.malformedPackets = 0
        self.sendErrors = 0
        self.lastPayload: Optional[bytes] = None
        self.lastPacket: Optional[RtpPacket] = None
        self.captured: collections.deque[bytes] = collections.deque(
            maxlen=captureLimit)
        self.payloads: collections.deque[bytes] = collections.deque(
            maxlen=captureLimit)
        self.failures: list[m.MediaTransmissionFailure] = []
        self.stopped = False
        self._closing: list[Deferred[None]] = []
        self._packetObservers: list[Callable[[], None]] = []
        phone.media = self
        phone.addMessageObserver(self.messageReceived)
        phone.whenDisconnected().addCallback(self._disconnected)

    def __repr__(self) -> str:
        return "<PhoneMedia %s rx=%d tx=%d>" % (
            self.phone.deviceName, len(self.channels), len(self.transmitters))

    # -- messages ----------------------------------------------------------

    def messageReceived(self, msg: m.Message) -> None:
        """
        Act on the router's media messages (the phone's message observer).

        @param msg: a message the phone received.
        """
        if self.stopped:
            return
        handler = self._HANDLERS.get(type(msg))
        if handler is not None:
            handler(self, msg)

    def _listen(self, protocol: DatagramProtocol) -> IListeningPort:
        return self._reactor.listenUDP(0, protocol, interface=self.interface)

    def _ack(self, msg: m.OpenReceiveChannel, status: MediaStatus,
             port: int) -> None:
        self.phone.sendMessage(m.OpenReceiveChannelAck(
            mediaReceptionStatus=status,
            ipAddr=ipaddress.IPv4Address(self.interface), portNumber=port,
            passThruPartyId=msg.passThruPartyId,
            callReference=msg.callReference))

    def _openReceiveChannel(self, msg: m.OpenReceiveChannel) -> None:
        try:
            keys = _keysOf(msg.rxKey)
        except SrtpKeyError as e:
            _log.warn("{device}: OpenReceiveChannel {stream}: {error}",
                      device=self.phone.deviceName,
                      stream=msg.passThruPartyId, error=str(e))
            self._ack(msg, MediaStatus.ENCODER_OR_DECODER_FAILED, 0)
            return
        receiver = SrtpReceiver(keys) if keys is not None else None
        channel = self.channels.get(msg.passThruPartyId)
        if channel is not None:
            channel.receiver = receiver
            channel.callReference = msg.callReference
        else:
            channel = ReceiveChannel(self, msg.passThruPartyId,
                                     msg.callReference, receiver)
            try:
                channel.port = self._listen(channel)
            except CannotListenError as e:
                _log.warn("{device}: no RTP port for stream {stream}: "
                          "{error}", device=self.phone.deviceName,
                          stream=msg.passThruPartyId, error=str(e))
                self._ack(msg, MediaStatus.OUT_OF_SOCKETS, 0)
                return
            self.channels[msg.passThruPartyId] = channel
        port = channel.port.getHost().port
        self._debug.debug("{device}: receiving stream {stream} on "
                          "{host}:{port} ({kind})",
                          device=self.phone.deviceName,
                          stream=msg.passThruPartyId, host=self.interface,
                          port=port, kind="SRTP" if receiver else "RTP")
        self._ack(msg, MediaStatus.OK, port)

    def _refuseTransmission(self, msg: m.StartMediaTransmission,
                           why: str) -> None:
        _log.warn("{device}: cannot send stream {stream}: {why}",
                  device=self.phone.deviceName, stream=msg.passThruPartyId,
                  why=why)
        failure = m.MediaTransmissionFailure(
            conferenceId=msg.conferenceId,
            passThruPartyId=msg.passThruPartyId,
            remoteIpAddr=msg.remoteIpAddr,
            remotePortNumber=msg.remotePortNumber,
            callReference=msg.callReference)
        self.failures.append(failure)
        self.phone.sendMessage(failure)

    def _startMediaTransmission(self, msg: m.StartMediaTransmission) -> None:
        law = CODEC_LAWS.get(msg.compressionType)
        if law is None:
            self._refuseTransmission(msg, "codec %d is not G.711"
                                     % (int(msg.compressionType),))
            return
        try:
            keys = _keysOf(msg.txKey)
        except SrtpKeyError as e:
            self._refuseTransmission(msg, str(e))
            return
        self._track(self._stopTransmitter(msg.passThruPartyId))
        transmitter = Transmitter(
            self, msg.passThruPartyId,
            (str(msg.remoteIpAddr), msg.remotePortNumber), law,
            SrtpSender(keys) if keys is not None else None,
            self.source if self.source is not None else ToneGenerator(self.tone),
            self._debug)
        try:
            transmitter.port = self._listen(transmitter)
        except CannotListenError as e:
            self._refuseTransmission(msg, str(e))
            return
        self.transmitters[msg.passThruPartyId] = transmitter
        self._debug.debug("{device}: sending stream {stream} to "
                          "{host}:{port} ({law}, {kind})",
                          device=self.phone.deviceName,
                          stream=msg.passThruPartyId,
                          host=str(msg.remoteIpAddr),
                          port=msg.remotePortNumber, law=law.value,
                          kind="SRTP" if keys else "RTP")
        transmitter.start(self._reactor)

    def _track(self, closing: Deferred[None]) -> None:
        if closing.called:
            return
        self._closing.append(closing)

        def closed(result: object) -> object:
            if closing in self._closing:
                self._closing.remove(closing)
            return result
        closing.addBoth(closed)

    def _stopTransmitter(self, passThruPartyId: int) -> Deferred[None]:
        transmitter = self.transmitters.pop(passThruPartyId, None)
        if transmitter is None:
            return succeed(None)
        return transmitter.stop()

    def _stopMediaTransmission(self, msg: m.StopMediaTransmission) -> None:
        self._track(self._stopTransmitter(msg.passThruPartyId))

    def _closeReceiveChannel(self, msg: m.CloseReceiveChannel) -> None:
        channel = self.channels.pop(msg.passThruPartyId, None)
        if channel is not None:
            self._track(channel.close())

    _HANDLERS: dict[type, Callable[[PhoneMedia, Any], None]] = {
        m.OpenReceiveChannel: _openReceiveChannel,
        m.StartMediaTransmission: _startMediaTransmission,
        m.StopMediaTransmission: _stopMediaTransmission,
        m.CloseReceiveChannel: _closeReceiveChannel,
    }

    # -- what the streams report ---------------------------------------------

    def packetSent(self) -> None:
        """A L{Transmitter} sent one packet."""
        self.packetsSent += 1

    def sendFailed(self) -> None:
        """A L{Transmitter} could not send a packet (or stopped sending)."""
        self.sendErrors += 1

    # -- receiving -----------------------------------------------------------

    def addPacketObserver(self, observer: Callable[[], None]) -> None:
        """
        Call C{observer()} after every datagram received on a receive port
        has been counted (and decoded, when it could be): a test waits on
        the media's counters this way instead of polling them.

        @param observer: a callable taking no argument.
        """
        self._packetObservers.append(observer)

    def removePacketObserver(self, observer: Callable[[], None]) -> None:
        """
        @param observer: an observer added with L{addPacketObserver}.
        """
        self._packetObservers.remove(observer)

    def datagramReceived(self, channel: ReceiveChannel,
                         datagram: bytes) -> None:
        """
        Count (and decode, when it can be) one datagram a receive channel
        got, then tell the packet observers.

        @param channel: the L{ReceiveChannel} it arrived on.
        @param datagram: the (S)RTP packet.
        """
        try:
            self._count(channel, datagram)
        finally:
            for observer in list(self._packetObservers):
                observer()

    def _count(self, channel: ReceiveChannel, datagram: bytes) -> None:
        self.packetsReceived += 1
        self.captured.append(datagram)
        if channel.receiver is not None:
            try:
                datagram = channel.receiver.unprotect(datagram)
            except SrtpError as e:
                self.decryptFailures += 1
                self._debug.debug("{device}: stream {stream}: {error}",
                                  device=self.phone.deviceName,
                                  stream=channel.passThruPartyId,
                                  error=str(e))
                return
            self.packetsDecrypted += 1
        try:
            packet = decodeRtp(datagram)
        except RtpDecodeError as e:
            self.malformedPackets += 1
            self._debug.debug("{device}: stream {stream}: {error}",
                              device=self.phone.deviceName,
                              stream=channel.passThruPartyId, error=str(e))
            return
        if channel.receiver is None:
            self.plainPacketsReceived += 1
        channel.statistics.receive(packet, self._reactor.seconds())
        self.lastPacket = packet
        self.lastPayload = packet.payload
        self.payloads.append(packet.payload)
        if self.recording is not None:
            self.recording.packetReceived(packet)

    # -- stopping ----------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether any port is open or any stream is sending."""
        return bool(self.channels or self.transmitters)

    def stop(self) -> Deferred[None]:
        """
        Stop every stream and close every port; later media messages are
        ignored.

        @return: a L{Deferred} firing once every port is closed.
        """
        self.stopped = True
        closing = self._closing
        self._closing = []
        for passThruPartyId in list(self.transmitters):
            closing.append(self._stopTransmitter(passThruPartyId))
        for channel in self.channels.values():
            closing.append(channel.close())
        self.channels = {}
        done: Deferred[object] = DeferredList(closing, consumeErrors=True)
        return done.addCallback(lambda ignored: None)

    def _disconnected(self, reason: BaseException) -> None:
        self.stop()


__all__ = ["CODEC_LAWS", "DEBUG_NAMESPACE", "FileSource", "Frames", "PACKET_INTERVAL", "PhoneMedia",
           "ReceiveChannel", "Recording", "Transmitter", "sineFrames"]
