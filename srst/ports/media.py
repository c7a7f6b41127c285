# -*- test-case-name: tests.test_ports_media -*-
"""
Router-terminated media of a voice port.

A L{PortMediaLeg} joins one L{srst.ports.voiceport.VoicePort} to one
L{srst.media.transport.RtpStream}: L{PortMediaLeg.open} binds an even port
from the L{srst.media.portrange.RtpPortAllocator} (inside the control-plane
policy when one is given), L{PortMediaLeg.start} points it at the far end
and starts sending the port's audio, and what arrives is decoded and played
to the line.  Both call control paths use it: the local call engine
(L{srst.ports.callendpoint.VoicePortEndpoint}) and the MGCP gateway.

Audio is pulled from the ports by one L{MediaPump}: a single
L{LoopingCall} every 20 ms ticks every started leg, so a thousand legs
cost one timer, not a thousand; each tick is one call down the path, the
equivalent of C{stream.send(port.nextPayload(), FRAME_SAMPLES)}.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

from twisted.internet.defer import Deferred, fail, gatherResults, succeed
from twisted.internet.error import MulticastJoinError
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from srst.debug import DebugSwitches
from srst.media.dtmf import DigitRelay
from srst.media.multicast import MulticastReactor, listenGroup
from srst.media.rtp import PayloadType
from srst.media.srtp import SrtpKeys
from srst.media.portrange import RtpPortAllocator
from srst.media.transport import RtpStream, StreamSnapshot
from srst.media.udpport import UDPReactor, listenMediaUDP
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.interfaces import IVoicePortListener
from srst.ports.voiceport import PortStatus, VoicePort, VoicePortStateError

PACKET_INTERVAL = 0.02
"""Seconds of audio per packet (20 ms)."""

MAX_CATCH_UP = 5
"""Packet intervals the pump replays at most after a late tick."""

_LAWS = {int(PayloadType.PCMU): G711Law.ULAW, int(PayloadType.PCMA): G711Law.ALAW}

_JOINABLE = (PortStatus.OFF_HOOK, PortStatus.COLLECTING)
"""Off hook but not yet connected: a leg's first tick connects the media."""


class UnsupportedPayloadType(ValueError):
    """
    A leg was asked to carry a payload type a voice port's DSP cannot
    encode (only G.711: 0 PCMU and 8 PCMA).
    """

    def __init__(self, payloadType: int) -> None:
        ValueError.__init__(self, payloadType)
        self.payloadType = payloadType

    def __str__(self) -> str:
        return "payload type %d is not G.711 (0 PCMU or 8 PCMA)" % (self.payloadType,)


def lawOf(payloadType: int) -> G711Law:
    """
    @param payloadType: an RTP payload type.
    @return: its G.711 law.
    @raise UnsupportedPayloadType: for anything but PCMU and PCMA.
    """
    try:
        return _LAWS[int(payloadType)]
    except KeyError:
        raise UnsupportedPayloadType(int(payloadType)) from None


class _Default:
    """The type of L{_DEFAULT}: an argument left to its default."""


_DEFAULT = _Default()


class Tickable(Protocol):
    """What the L{MediaPump} ticks: a started L{PortMediaLeg}, in the router."""

    @property
    def name(self) -> str:
        "What the pump's logs call it."

    def tick(self) -> None:
        "One packet interval."


class MediaPump:
    """
    Ticks every started leg (or any other L{Tickable}) once per 20 ms from
    one timer.

    @ivar clock: the clock of the timer.
    @ivar ticks: how many intervals were run (including catch-up ones).
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, interval: float = PACKET_INTERVAL) -> None:
        """
        @param clock: the reactor's L{IReactorTime} (a L{task.Clock} in tests).
        @param interval: seconds between ticks.
        """
        self.clock = clock
        self.interval = interval
        self.ticks = 0
        self._legs: dict[Tickable, None] = {}
        self._loop: Optional[LoopingCall] = None

    @property
    def running(self) -> bool:
        """Whether the timer runs (some leg is ticked)."""
        return self._loop is not None

    def __len__(self) -> int:
        return len(self._legs)

    def add(self, leg: Tickable) -> None:
        """
        Tick C{leg} every interval from now on (adding it twice is harmless).
        """
        self._legs[leg] = None
        if self._loop is None:
            loop = LoopingCall.withCount(self._tick)
            loop.clock = self.clock
            self._loop = loop
            loop.start(self.interval, now=False).addErrback(
                lambda failure: self.log.failure("media pump stopped", failure))

    def discard(self, leg: Tickable) -> None:
        """
        Stop ticking C{leg}; the timer stops with the last one.
        """
        self._legs.pop(leg, None)
        if not self._legs:
            self.stop()

    def stop(self) -> None:
        """Stop ticking every leg (service shutdown)."""
        self._legs.clear()
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()

    def _tick(self, count: int) -> None:
        for _ in range(min(count, MAX_CATCH_UP)):
            self.ticks += 1
            for leg in list(self._legs):
                try:
                    leg.tick()
                except Exception:
                    self.log.failure("while ticking {port}", port=leg.name)


class PumpedStream:
    """
    The part of an L{srst.calls.mediaservices.IMediaPort} common to the
    router's streams fed by the pump (a conference participant's mix, a
    held party's music): one L{RtpStream}, sent to once started.

    @ivar stream: the L{RtpStream}.
    @ivar started: whether L{start} was called (and not the port's close).
    @ivar onStarted: called once L{start} makes this a stream to tick (the
        owner puts it on the pump).
    """

    stream: RtpStream
    started: bool
    onStarted: Callable[[], object]

    @property
    def secure(self) -> bool:
        """Whether it carries SRTP."""
        return self.stream.secure

    def start(self, remote: tuple[str, int]) -> None:
        """Send to C{remote} from the next pump tick (not once closed)."""
        if self.stream.closed:
            return
        self.stream.remote = remote
        self.started = True
        self.onStarted()

    def snapshot(self) -> StreamSnapshot:
        """@return: the stream's statistics."""
        return self.stream.snapshot()


class PendingCloses:
    """
    The closes of media an owner started and that are still under way
    (a port stops listening later), so that its own close can wait for
    them all.
    """

    def __init__(self) -> None:
        self._pending: list[Deferred[None]] = []

    def add(self, closing: Deferred[None]) -> None:
        """Wait for C{closing} too, until it fires."""
        if not closing.called:
            self._pending.append(closing)
            closing.addBoth(self._done, closing)

    def _done(self, result: object, closing: Deferred[None]) -> object:
        self._pending.remove(closing)
        return result

    def whenDone(self) -> Deferred[None]:
        """@return: fires once every close added so far has finished."""
        return gatherResults(list(self._pending)).addCallback(lambda ignored: None)


def bindStream(reactor: UDPReactor, allocator: RtpPortAllocator, stream: RtpStream,
               wrap: Callable[[RtpStream], DatagramProtocol] | None = None,
               ) -> tuple[IListeningPort, tuple[str, int]]:
    """
    Bind C{stream} (wrapped for policing when C{wrap} is given) to an even
    port of C{allocator}'s range on its address.

    @return: the listening port and C{(address, port)} where it receives.
    @raise srst.media.portrange.PortRangeExhausted: when no port is free.
    """
    protocol = wrap(stream) if wrap is not None else stream
    address = allocator.address
    listening = allocator.bind(
        protocol, lambda number, proto: listenMediaUDP(reactor, number, proto, interface=address))
    return listening, (address, listening.getHost().port)


class PortMediaResources:
    """
    What the router's voice-port legs share: the reactor, the RTP port
    range, the pump, the debug switches, the control-plane wrapper and the
    RTP-unreachable timeout; L{newLeg} makes a leg with them.

    @ivar allocator: the L{RtpPortAllocator} of C{media.rtp-port-range}.
    @ivar pump: the L{MediaPump}.
    @ivar unreachableTimeout: seconds (C{media.rtp-unreachable-ms}), or
        L{None}.
    @ivar refusals: calls refused because no RTP port was free.
    """

    log = Logger()

    def __init__(self, reactor: UDPReactor, allocator: RtpPortAllocator, pump: MediaPump, *,
                 debug: DebugSwitches, unreachableTimeout: float | None = None,
                 wrap: Callable[[RtpStream], DatagramProtocol] | None = None,
                 multicastReactor: MulticastReactor | None = None) -> None:
        """
        @param reactor: C{listenUDP} and the clock.
        @param multicastReactor: opens the sockets that join a multicast
            group (C{ccm-manager music-on-hold}), or L{None}: legs cannot
            join one.
        @param allocator: the RTP port range.
        @param pump: the router's pump.
        @param debug: the router's debug switches (each leg's stream logs
            through them).
        @param unreachableTimeout: seconds without RTP before a leg reports
            it, or L{None}.
        @param wrap: wraps each stream before binding (policing), or L{None}.
        """
        self.reactor = reactor
        self.allocator = allocator
        self.pump = pump
        self.debug = debug
        self.unreachableTimeout = unreachableTimeout
        self.refusals = 0
        self._wrap = wrap
        self.multicastReactor = multicastReactor

    def available(self) -> bool:
        """@return: whether an RTP port is free for one more leg."""
        return len(self.allocator.inUse) < self.allocator.capacity

    def refused(self, portName: str, reason: str) -> None:
        """
        Count and log a call refused for want of an RTP port.

        @param portName: the voice port.
        @param reason: why.
        """
        self.refusals += 1
        self.log.warn("voice-port {port}: call refused: {reason}", port=portName, reason=reason,
                      refusals=self.refusals)

    def bindStream(self, stream: RtpStream) -> tuple[IListeningPort, tuple[str, int]]:
        """
        Bind a router-terminated C{stream} (music on hold, a bridge port)
        to an even port of the range, inside the control-plane policy as
        every leg is; its C{releasePort} should be the allocator's
        C{release}, so closing it gives the port back.

        @return: the listening port and C{(address, port)} where it receives.
        @raise srst.media.portrange.PortRangeExhausted: when no port is free.
        """
        return bindStream(self.reactor, self.allocator, stream, self._wrap)

    def newLeg(self, port: VoicePort, payloadType: int = PayloadType.PCMU, *, txKeys: SrtpKeys | None = None,
               rxKeys: SrtpKeys | None = None, onUnreachable: Callable[[], Any] | None = None,
               unreachableTimeout: float | None | _Default = _DEFAULT,
               unreachableAfterMedia: bool = False,
               refusedTimeout: float | None = None) -> "PortMediaLeg":
        """
        @param unreachableTimeout: seconds, L{None} for never, or by default
            the resources' L{unreachableTimeout} (MGCP legs pass C{mgcp
            rtp-unreachable.silence-timeout-ms}).
        @param refusedTimeout: seconds to wait for RTP after an ICMP port
            unreachable before the leg reports it, or L{None} to ignore ICMP
            (MGCP legs pass C{mgcp rtp-unreachable.timeout-ms}).
        @param unreachableAfterMedia: time out only once RTP has arrived
            (MGCP legs: a connection made while the far end still rings
            receives nothing yet).
        @return: a new, unbound L{PortMediaLeg} for C{port}.
        @raise UnsupportedPayloadType: for a payload type that is not G.711.
        """
        timeout = self.unreachableTimeout if isinstance(unreachableTimeout, _Default) else unreachableTimeout
        return PortMediaLeg(reactor=self.reactor, allocator=self.allocator, pump=self.pump, port=port,
                            debug=self.debug, payloadType=payloadType, txKeys=txKeys, rxKeys=rxKeys,
                            unreachableTimeout=timeout, onUnreachable=onUnreachable,
                            unreachableAfterMedia=unreachableAfterMedia,
                            refusedTimeout=refusedTimeout, wrap=self._wrap,
                            multicastReactor=self.multicastReactor)


@implementer(IVoicePortListener)
class PortMediaLeg:
    """
    One voice port's RTP or SRTP stream.

    Sending starts with L{start} and lasts while the line is off hook:
    a leg started while the port still rings attaches when it goes off
    hook.  Receiving plays every good payload to the line while
    C{receiving} is true.

    @ivar port: the L{srst.ports.voiceport.VoicePort}.
    @ivar payloadType: 0 (PCMU) or 8 (PCMA).
    @ivar stream: the L{RtpStream}.
    @ivar local: C{(address, port)} where the leg receives, once open.
    @ivar sending: whether the port's audio is sent to the far end.
    @ivar receiving: whether received audio is played to the line.
    @ivar telephoneEvent: the far end's RFC 4733 telephone-event payload
        type when DTMF is relayed out of band (L{relayDigits}, and the
        digits dialled on the line while the leg sends), or L{None}: DTMF
        stays in the audio.
    """

    log = Logger()

    def __init__(self, *, reactor: UDPReactor, allocator: RtpPortAllocator, pump: MediaPump, port: VoicePort,
                 debug: DebugSwitches, payloadType: int = PayloadType.PCMU, txKeys: SrtpKeys | None = None,
                 rxKeys: SrtpKeys | None = None, unreachableTimeout: float | None = None,
                 onUnreachable: Callable[[], Any] | None = None,
                 wrap: Callable[[RtpStream], DatagramProtocol] | None = None,
                 unreachableAfterMedia: bool = False, refusedTimeout: float | None = None,
                 multicastReactor: MulticastReactor | None = None) -> None:
        """
        @param reactor: provides C{listenUDP} and the clock.
        @param allocator: where the RTP port comes from (its C{address} is
            bound).
        @param pump: the router's L{MediaPump}.
        @param port: the voice port.
        @param debug: the router's debug switches, for the stream.
        @param payloadType: the G.711 payload type to send and expect.
        @param txKeys: SRTP keys to send with, or L{None} for RTP.
        @param rxKeys: SRTP keys to receive with, or L{None}.
        @param unreachableTimeout: seconds without RTP before
            C{onUnreachable}, or L{None}.
        @param onUnreachable: called once when the far end falls silent.
        @param wrap: wraps the stream before binding (control-plane
            policing), or L{None}.
        @param unreachableAfterMedia: time out only once RTP has arrived.
        @param refusedTimeout: seconds to wait for RTP after an ICMP port
            unreachable before C{onUnreachable}, or L{None} to ignore ICMP.
        @param multicastReactor: opens the socket of L{listenGroup}, or
            L{None}: the leg cannot join a group.
        @raise UnsupportedPayloadType: for a payload type that is not G.711.
        """
        self.law = lawOf(payloadType)
        self.reactor = reactor
        self._multicastReactor = multicastReactor
        self.allocator = allocator
        self.pump = pump
        self.port = port
        self._dsp = port.dsp
        self.payloadType = int(payloadType)
        self.stream = RtpStream(reactor, debug=debug, payloadType=self.payloadType, txKeys=txKeys, rxKeys=rxKeys,
                                onAudio=self._received, onUnreachable=onUnreachable,
                                acceptPayloadTypes=frozenset((self.payloadType,)),
                                unreachableAfterMedia=unreachableAfterMedia, refusedTimeout=refusedTimeout,
                                unreachableTimeout=unreachableTimeout, releasePort=allocator.release)
        self._wrap = wrap
        self.local: tuple[str, int] | None = None
        self.sending = False
        self.receiving = True
        self._telephoneEvent: int | None = None
        self._relay = DigitRelay(FRAME_SAMPLES)
        self._listening: IListeningPort | None = None
        self._subscribed = False
        self._joined = False
        self._debug = debug
        self._group: RtpStream | None = None
        self.group: tuple[str, int] | None = None

    def __repr__(self) -> str:
        return "<PortMediaLeg %s %r%s>" % (self.port.name, self.stream,
                                            " sending" if self.sending else "")

    @property
    def secure(self) -> bool:
        """Whether the leg carries SRTP."""
        return self.stream.secure

    @property
    def closed(self) -> bool:
        """Whether L{close} was called."""
        return self.stream.closed

    def open(self) -> tuple[str, int]:
        """
        Bind the stream to an even port of the range.

        @return: C{(address, port)} where it receives.
        @raise srst.media.portrange.PortRangeExhausted: when no port is free.
        """
        if self.local is not None:
            return self.local
        self.port.dsp.law = self.law
        self._listening, self.local = bindStream(self.reactor, self.allocator, self.stream, self._wrap)
        return self.local

    def start(self, remote: tuple[str, int], expectMedia: bool = True) -> None:
        """
        Send the port's audio to C{remote} every 20 ms (from when the line
        is off hook) and arm the RTP-unreachable timer.

        @param remote: the far end's C{(host, port)}.
        @param expectMedia: whether the far end sends too (else, as for an
            MGCP C{sendonly} connection, the timer is not armed).
        """
        if self.closed:
            return
        self.port.dsp.law = self.law
        self.stream.remote = remote
        if expectMedia:
            self.stream.startMedia()
        else:
            self.stream.stopMedia()
        self.sending = True
        if not self._subscribed:
            self.port.subscribe(self)
            self._subscribed = True
        self._attach()

    @property
    def telephoneEvent(self) -> int | None:
        """The telephone-event payload type, or L{None} (settable; L{None} drops queued digits)."""
        return self._telephoneEvent

    @telephoneEvent.setter
    def telephoneEvent(self, payloadType: int | None) -> None:
        self._telephoneEvent = payloadType
        if payloadType is None:
            self._relay.clear()

    def relayDigits(self, digits: str) -> bool:
        """
        Send DTMF digits to the far end as RFC 4733 telephone-events, after
        any still being sent: in the packet intervals they take, events go
        instead of audio.

        @param digits: C{0-9 * # A-D}.
        @return: whether they will be sent (the leg sends to a far end
            that takes telephone-events); else they stay in-band only.
        @raise srst.media.dtmf.TelephoneEventError: for a character that
            is no DTMF digit.
        """
        if self._telephoneEvent is None or not self.sending or self.closed:
            return False
        self._relay.add(digits)
        return True

    def pause(self) -> None:
        """Stop sending (hold, a send-less mode); the port stays bound."""
        self._relay.clear()
        self.sending = False
        self.stream.stopMedia()
        self._detach()

    def close(self) -> Deferred[None]:
        """
        Stop sending and receiving, and give the RTP port back.

        @return: fires when the UDP port has stopped listening.
        """
        if self.closed:
            return succeed(None)
        self.sending = False
        self._relay.clear()
        self._detach()
        if self._subscribed:
            self.port.unsubscribe(self)
            self._subscribed = False
        if self._group is None:
            return self.stream.close()
        return gatherResults([self.leaveGroup(), self.stream.close()]).addCallback(lambda ignored: None)

    def snapshot(self) -> StreamSnapshot:
        """@return: the stream's statistics."""
        return self.stream.snapshot()

    def listenGroup(self, group: str, port: int) -> Deferred[None]:
        """
        Also play what is sent to the multicast C{group}:C{port} (clear RTP
        of this leg's payload type, such as CallManager's multicast music
        on hold), joined on the range's address; a group already joined is
        left first.

        @return: fires once joined, or fails with
            L{twisted.internet.error.MulticastJoinError}.
        """
        if self.closed or self.group == (group, port):
            return succeed(None)
        reactor = self._multicastReactor
        if reactor is None:
            return fail(MulticastJoinError(group, "no multicast reactor given to the voice-port media"))
        leaving = self.leaveGroup()
        stream = self._group = RtpStream(self.reactor, debug=self._debug, payloadType=self.payloadType,
                                         onAudio=self._received, acceptPayloadTypes=frozenset((self.payloadType,)))
        self.group = (group, port)

        def join(ignored: object) -> Deferred[None]:
            if self._group is not stream:
                return succeed(None)  # left (or closed) meanwhile
            return listenGroup(reactor, group, port, self.allocator.address, stream).addCallback(
                lambda ignored: None)

        return leaving.addCallback(join)

    def groupSnapshot(self) -> StreamSnapshot | None:
        """@return: the multicast group stream's statistics, or L{None} when no group is joined."""
        return self._group.snapshot() if self._group is not None else None

    def leaveGroup(self) -> Deferred[None]:
        """
        Stop playing the multicast group (if any).

        @return: fires when its socket is closed.
        """
        stream, self._group, self.group = self._group, None, None
        if stream is None:
            return succeed(None)
        return stream.close()

    @property
    def onUnreachable(self) -> Callable[[], Any] | None:
        """Called once when the far end is unreachable (settable): see L{RtpStream}."""
        return self.stream.onUnreachable

    @onUnreachable.setter
    def onUnreachable(self, callback: Callable[[], Any] | None) -> None:
        self.stream.onUnreachable = callback

    @property
    def name(self) -> str:
        """The voice port's name (for the pump's logs)."""
        return str(self.port.name)

    def tick(self) -> None:
        """
        One packet interval (the pump calls it): once the line is off hook,
        connect the port's media, and send the port's next payload in this
        leg's law, or the telephone-event of a digit being relayed.
        """
        port = self.port
        self._dsp.law = self.law
        payload = port.nextPayload()
        if payload is None:
            if not self._join():
                return
            payload = port.nextPayload()
            if payload is None:
                return
        self._joined = True
        stream = self.stream
        if self.sending and not stream.closed and stream.remote is not None:
            if self._relay.busy:
                event = self._relay.next()
                if event is not None:
                    stream.send(event.payload, event.timestampAdvance, event.marker,
                                self._telephoneEvent)
                    return
            stream.send(payload, FRAME_SAMPLES)

    def _join(self) -> bool:
        """
        Connect the port's media if the line is off hook (a ringing or idle
        port sends nothing).

        @return: whether the port's audio now goes to the far end.
        """
        port = self.port
        status = port.status
        if status is PortStatus.CONNECTED:
            self._joined = True
            return True
        if status not in _JOINABLE:
            self._joined = False
            return False
        try:
            port.connectMedia()
        except VoicePortStateError as e:
            self.log.warn("voice-port {port}: cannot send media: {error}", port=port.name, error=str(e))
            return False
        self._joined = True
        return True

    def _attach(self) -> None:
        if self.sending and not self.closed:
            self._join()
            self.pump.add(self)

    def _detach(self) -> None:
        """Stop ticking, and disconnect the port's media if this leg connected it."""
        self.pump.discard(self)
        joined, self._joined = self._joined, False
        if joined and self.port.status is PortStatus.CONNECTED:
            self.port.disconnectMedia()

    def _received(self, payload: bytes) -> None:
        port = self.port
        if self.receiving and port.status is not PortStatus.IDLE:
            port.takePayload(payload)

    # -- IVoicePortListener: attach when the line goes off hook ----------------------------------

    def offHook(self, port: VoicePort) -> None:
        """The line went off hook (answered): the next tick joins its audio."""

    def onHook(self, port: VoicePort) -> None:
        """The line went on hook: stop ticking it (the call control closes the leg)."""
        self._joined = False
        self.pump.discard(self)

    def digit(self, port: VoicePort, digit: str) -> None:
        """
        A digit dialled on the line: with L{telephoneEvent} set, relay it
        to the far end too (it is the call control's all the same).
        """
        self.relayDigits(digit)

    def flash(self, port: VoicePort) -> None:
        """Hook flash is for the call control."""

    def incoming(self, port: VoicePort, callerId: str | None) -> None:
        """Ringing from the line is for the call control."""


__all__ = ["MAX_CATCH_UP", "MediaPump", "PACKET_INTERVAL", "PortMediaLeg", "PortMediaResources", "UnsupportedPayloadType",
           "bindStream", "lawOf"]
