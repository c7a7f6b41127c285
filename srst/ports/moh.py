# -*- test-case-name: tests.test_ports_moh -*-
"""
Music on hold: the router streams one WAV file (C{call-manager-fallback
moh}) to every held party, and to a multicast group when C{multicast-moh}
is set.

L{MohSource} loads the file once, off the reactor thread, as one
L{srst.ports.dsp.EncodedClip}: every listener plays the same clip, each
frame encoded once per G.711 law, so a held party costs a list index, the
SRTP protect and a C{sendto} per 20 ms packet, on the router's single
L{srst.ports.media.MediaPump}.  A L{MohListener} is one held party's
stream (L{IMediaPort}): bound from the RTP port range by
L{MohSource.listen} with the send keys the call engine generated, started
towards the address the held phone acknowledged.

The file is checked again every C{recheck} seconds: one that became
unreadable makes L{MohSource.available} false (the engine plays a tone on
hold instead) with one warning; its return is logged once.  Listeners
already playing keep their clip.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional, Protocol

from attrs import frozen
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from srst.calls.media import Codec
from srst.calls.mediaservices import IHoldMusic, IMediaPort, MediaUnavailable
from srst.media.config import MOH_SECURE_MODES
from srst.media.multicast import MulticastReactor, multicastSender
from srst.media.portrange import PortRangeExhausted
from srst.media.rtp import PayloadType
from srst.media.srtp import SrtpKeys
from srst.media.transport import RtpStream, StreamSnapshot
from srst.ports.dsp import EncodedClip, clipOf, loadWav
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.media import PortMediaResources, PumpedStream
from srst.ports.wav import WavError

_PAYLOAD_TYPES = {Codec.G711_ULAW: PayloadType.PCMU, Codec.G711_ALAW: PayloadType.PCMA}
_LAWS = {Codec.G711_ULAW: G711Law.ULAW, Codec.G711_ALAW: G711Law.ALAW}


class MulticastMoh(Protocol):
    """C{multicast-moh}: where the router also sends the music."""

    @property
    def address(self) -> str:
        "The IPv4 group."

    @property
    def port(self) -> int:
        "The even UDP port."

    @property
    def ttl(self) -> int:
        "The multicast TTL."


@frozen
class MohRow:
    """
    One music-on-hold channel, for C{show voice dsp}.

    @ivar label: who listens (the held endpoint), or C{multicast}.
    @ivar codec: the codec sent.
    @ivar snapshot: the stream's statistics.
    """

    label: str
    codec: Codec
    snapshot: StreamSnapshot


@implementer(IMediaPort)
class MohListener(PumpedStream):
    """
    One held party's music: a send-only stream that loops the clip from
    its start.

    @ivar local: C{(host, port)} bound.
    @ivar label: the held endpoint, for logs and C{show voice dsp}.
    @ivar codec: the codec sent.
    @ivar position: the next frame of the clip.
    @ivar started: whether L{start} was called (and not L{close}).
    """

    def __init__(self, source: "MohSource", stream: RtpStream, codec: Codec, clip: EncodedClip,
                 local: tuple[str, int], label: str) -> None:
        self._source = source
        # Started: the music goes to it from the next pump tick.
        self.onStarted = partial(source._started, self)
        self.stream = stream
        self.codec = codec
        self.law = _LAWS[codec]
        self.clip = clip
        self.local = local
        self.label = label
        self.position = 0
        self.started = False

    def __repr__(self) -> str:
        return "<MohListener %s %r>" % (self.label, self.stream)

    def close(self) -> Deferred[None]:
        """Stop; fires when the RTP port is back in the range."""
        self.started = False
        self._source._closed(self)
        return self.stream.close()

    def send(self) -> None:
        """Send the next frame (the pump's tick, through L{MohSource.tick})."""
        self.stream.send(self.clip.payload(self.law, self.position), FRAME_SAMPLES)
        self.position = (self.position + 1) % self.clip.count


@implementer(IHoldMusic)
class MohSource:
    """
    The router's music on hold: one clip, many listeners.

    @ivar path: the WAV file.
    @ivar secureMode: C{moh-secure}, C{srtp} or C{tone}.
    @ivar clip: the loaded clip, or L{None} before L{load}.
    @ivar unreadable: why the file could not be read at the last check,
        or L{None}.
    """

    log = Logger()

    def __init__(self, resources: PortMediaResources, path: str, secureMode: str = "srtp", *,
                 multicast: MulticastMoh | None = None, multicastReactor: MulticastReactor | None = None,
                 runInThread: Callable[..., Deferred[Any]],
                 clock: IReactorTime, recheck: float = 30.0) -> None:
        """
        @param resources: the voice ports' media resources (RTP port range,
            pump, policing, debug switches).
        @param path: the WAV file (8 kHz mono).
        @param secureMode: C{srtp} or C{tone}.
        @param multicast: the C{multicast-moh} group, or L{None}.
        @param multicastReactor: opens the multicast socket; required
            with C{multicast}.
        @param runInThread: runs a blocking call off the reactor thread,
            returning a L{Deferred}.
        @param clock: times the file checks.
        @param recheck: seconds between file checks.
        """
        if secureMode not in MOH_SECURE_MODES:
            raise ValueError("moh-secure must be srtp or tone, not %r" % (secureMode,))
        if multicast is not None and multicastReactor is None:
            raise ValueError("multicast-moh needs a multicast reactor")
        self.resources = resources
        self.path = path
        self.secureMode = secureMode
        self.multicast = multicast
        self._multicastReactor = multicastReactor
        self.recheck = recheck
        self.clip: Optional[EncodedClip] = None
        self.unreadable: Optional[str] = None
        self._runInThread = runInThread
        self._clock = clock
        self._listeners: dict[MohListener, None] = {}
        self._open: dict[MohListener, None] = {}
        self._loop: Optional[LoopingCall] = None
        self._multicastListener: Optional[MohListener] = None
        self._multicastStarting = False

    @property
    def name(self) -> str:
        """For the pump's logs."""
        return "music-on-hold"

    def available(self) -> bool:
        """Whether the clip is loaded and the file was readable at the last check."""
        return self.clip is not None and self.unreadable is None

    def load(self) -> Deferred[None]:
        """
        Read the file in a thread; fires once the clip (or the reason it
        could not be read) is known.
        """
        return self._runInThread(loadWav, self.path).addCallbacks(self._loaded, self._failed)

    async def start(self) -> None:
        """
        Load the file, start checking it every C{recheck} seconds, and
        start the multicast stream when configured.
        """
        await self.load()
        loop = self._loop = LoopingCall(self.load)
        loop.clock = self._clock
        loop.start(self.recheck, now=False).addErrback(
            lambda failure: self.log.failure("music on hold file check stopped", failure))
        multicast = self.multicast
        if multicast is None:
            return
        if self.clip is None:
            self.log.warn("multicast-moh {address}:{port} not started: music on hold file {path} unreadable;"
                          " it starts once the file is readable",
                          address=multicast.address, port=multicast.port, path=self.path)
            return
        await self._startMulticast(multicast)

    def stop(self) -> Deferred[Any]:
        """
        Stop checking, and close every listener and the multicast stream.

        @return: fires when their ports are closed.
        """
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()
        self._multicastListener = None
        closing = [listener.close() for listener in list(self._open)]  # the multicast one too
        self.resources.pump.discard(self)
        return DeferredList(closing, consumeErrors=True)

    def listen(self, codec: Codec, txKeys: SrtpKeys | None, label: str) -> MohListener:
        """
        Bind a listener for one held party.

        @param codec: the call's G.711 codec.
        @param txKeys: the SRTP keys to send with (the held phone's receive
            keys), or L{None} for RTP.
        @param label: the held endpoint.
        @raise MediaUnavailable: when the file is not available or no RTP
            port is free.
        """
        clip = self.clip
        if clip is None or self.unreadable is not None:
            raise MediaUnavailable("music on hold file %s unreadable" % (self.path,))
        allocator = self.resources.allocator
        stream = RtpStream(self.resources.reactor, debug=self.resources.debug,
                           payloadType=_PAYLOAD_TYPES[codec], txKeys=txKeys,
                           acceptPayloadTypes=frozenset(), releasePort=allocator.release)
        try:
            _, local = self.resources.bindStream(stream)
        except PortRangeExhausted as e:
            raise MediaUnavailable("music on hold for %s: %s" % (label, e)) from e
        listener = MohListener(self, stream, codec, clip, local, label)
        self._open[listener] = None
        return listener

    def tick(self) -> None:
        """One packet interval: the next frame to every started listener."""
        for listener in list(self._listeners):
            listener.send()

    def rows(self) -> list[MohRow]:
        """@return: one row per started listener (the multicast stream included), in start order."""
        listeners = list(self._listeners)
        return [MohRow(listener.label, listener.codec, listener.snapshot()) for listener in listeners]

    def _started(self, listener: MohListener) -> None:
        self._listeners[listener] = None
        self.resources.pump.add(self)

    def _closed(self, listener: MohListener) -> None:
        self._open.pop(listener, None)
        self._listeners.pop(listener, None)
        if not self._listeners:
            self.resources.pump.discard(self)

    def _loaded(self, samples: tuple[int, ...]) -> Deferred[None] | None:
        """
        The file was read: use its clip, and start the C{multicast-moh}
        stream when a check (after L{start}) finds the file readable and the
        stream is not running (the file was unreadable at start).

        @return: L{None}, or a L{Deferred} firing once that stream started
            (or its failure was logged).
        """
        if self.unreadable is not None:
            self.log.info("music on hold file {path} readable again: music on hold", path=self.path)
        self.unreadable = None
        self.clip = clipOf(samples)
        multicast = self.multicast
        if (multicast is None or self._loop is None or self._multicastListener is not None
                or self._multicastStarting):
            return None
        return Deferred.fromCoroutine(self._startMulticast(multicast)).addErrback(
            lambda failure: self.log.failure("multicast-moh {address}:{port} could not start", failure,
                                             address=multicast.address, port=multicast.port))

    def _failed(self, failure: Any) -> None:
        failure.trap(WavError)
        reason = failure.value.reason
        if self.unreadable is None:
            self.log.warn("music on hold file {path} unreadable ({reason}): tone on hold",
                          path=self.path, reason=reason)
        self.unreadable = reason

    async def _startMulticast(self, multicast: MulticastMoh) -> None:
        clip, reactor = self.clip, self._multicastReactor
        if clip is None or reactor is None:
            return
        stream = RtpStream(self.resources.reactor, debug=self.resources.debug,
                           payloadType=PayloadType.PCMU, acceptPayloadTypes=frozenset())
        self._multicastStarting = True
        try:
            await multicastSender(reactor, self.resources.allocator.address, multicast.ttl, protocol=stream)
        finally:
            self._multicastStarting = False
        listener = self._multicastListener = MohListener(
            self, stream, Codec.G711_ULAW, clip, (self.resources.allocator.address, stream.localPort or 0),
            "multicast %s:%d" % (multicast.address, multicast.port))
        self._open[listener] = None
        if self._loop is None:  # stopped meanwhile
            await listener.close()
            return
        listener.start((multicast.address, multicast.port))
        self.log.info("multicast-moh {address}:{port}: streaming music on hold (TTL {ttl})",
                      address=multicast.address, port=multicast.port, ttl=multicast.ttl)


__all__ = ["MohListener", "MohRow", "MohSource", "MulticastMoh"]
