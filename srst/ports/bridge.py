# -*- test-case-name: tests.test_ports_bridge -*-
"""
Conference bridges in the router's DSP.

A L{ConferenceBridge} owns one L{BridgePort} per participant: an
L{RtpStream} (RTP, or SRTP with the participant's own keys in each
direction) bound to an even port of the RTP range.  What a port receives
goes to its L{JitterSlot}; every 20 ms the router's L{MediaPump} ticks the
bridge, which takes one frame per slot, mixes (L{mixMinus}: each hears
the others, never itself) and sends each started port its own mix.  Bad
input (replays, bad tags, foreign sources, junk) is counted and dropped by
the stream and never reaches the mix.

A L{BridgePool} hands out bridges up to C{max-conferences}.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import implementer

from srst.calls.mediaservices import (ConferenceRefused, IConferenceBridge, IConferenceBridges, IMediaPort,
                                      MediaUnavailable)
from srst.media.srtp import SrtpKeys
from srst.media.transport import RtpStream
from srst.ports.conferenceendpoint import CallEngineSeam, ConferenceEndpoint
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.media import PendingCloses, PortMediaResources, PumpedStream
from srst.ports.mixer import JitterSlot, mixMinus


@implementer(IMediaPort)
class BridgePort(PumpedStream):
    """
    One participant's stream on a bridge.

    @ivar index: the participant's place on the bridge (1-based).
    @ivar law: the G.711 law it sends and receives.
    @ivar stream: the L{RtpStream}.
    @ivar slot: what it sent since the last tick.
    @ivar local: C{(host, port)} where it receives.
    @ivar started: whether the mix is sent to it.
    """

    def __init__(self, bridge: ConferenceBridge, index: int, law: G711Law, txKeys: SrtpKeys | None,
                 rxKeys: SrtpKeys | None) -> None:
        """
        @param bridge: the bridge.
        @param index: the participant's place.
        @param law: its law.
        @param txKeys: the keys the bridge sends with, or L{None}.
        @param rxKeys: the keys the participant sends with, or L{None}.
        """
        self.bridge = bridge
        # Started: the participant gets its mix from the next tick.
        self.onStarted = bridge._portStarted
        self.index = index
        self.law = law
        self.slot = JitterSlot()
        resources = bridge.resources
        self.stream = RtpStream(resources.reactor, debug=resources.debug, payloadType=law.payloadType,
                                txKeys=txKeys, rxKeys=rxKeys, onAudio=self.received,
                                acceptPayloadTypes=frozenset((law.payloadType,)),
                                releasePort=resources.allocator.release)
        self.local: tuple[str, int] | None = None
        self.started = False

    def bind(self) -> tuple[str, int]:
        """
        Bind the stream to an even port of the range (once).

        @return: C{(host, port)} where it receives.
        @raise srst.media.portrange.PortRangeExhausted: when no port is free.
        """
        if self.local is not None:
            return self.local
        _, self.local = self.bridge.resources.bindStream(self.stream)
        return self.local

    def received(self, payload: bytes) -> None:
        """A good payload arrived: keep it for the next tick."""
        self.slot.put(payload)

    def __repr__(self) -> str:
        return "<BridgePort conference %d.%d %r>" % (self.bridge.number, self.index, self.stream)

    def close(self) -> Deferred[None]:
        """
        Leave the bridge.

        @return: fires when the RTP port is back in the range.
        """
        self.started = False
        closing = self.stream.close()
        self.bridge._portClosed(self, closing)
        return closing


@implementer(IConferenceBridge)
class ConferenceBridge:
    """
    One conference's mixer and ports; a L{srst.ports.media.Tickable} of
    the pump while any port is started.

    @ivar number: the bridge number (C{show conference}).
    @ivar secure: whether the conference is secure (set by the engine
        before L{activate}).
    @ivar endpoint: the L{srst.ports.conferenceendpoint.ConferenceEndpoint}
        owning its legs.
    @ivar reservedBy: the directory number whose Confrn reserved it.
    @ivar creator: who started it, once active.
    @ivar activated: when it became active (the pump clock), or L{None}
        while only reserved.
    @ivar frames: intervals mixed.
    """

    log = Logger()

    def __init__(self, pool: BridgePool, number: int, reservedBy: str) -> None:
        self.pool = pool
        self.resources = pool.resources
        self.number = number
        self.reservedBy = reservedBy
        self.secure = False
        self.creator: Optional[str] = None
        self.activated: Optional[float] = None
        self.released = False
        self.frames = 0
        self.ports: dict[int, BridgePort] = {}
        self._closing = PendingCloses()
        self.endpoint = ConferenceEndpoint(pool.engine, self)

    def __repr__(self) -> str:
        return "<ConferenceBridge %d %s ports=%s>" % (self.number, "secure" if self.secure else "clear",
                                                     sorted(self.ports))

    @property
    def name(self) -> str:
        """What the pump's logs call it."""
        return "conference %d" % (self.number,)

    def activate(self, creator: str) -> None:
        """The conference starts, started by C{creator}."""
        self.creator = creator
        self.activated = self.resources.pump.clock.seconds()
        self.log.debug("conference {number} started by {creator} ({kind})", number=self.number,
                      creator=creator, kind="secure" if self.secure else "clear")

    def addPort(self, index: int, law: G711Law, txKeys: SrtpKeys | None, rxKeys: SrtpKeys | None) -> BridgePort:
        """
        Bind a participant's port (replacing any it had).

        @param index: the participant's place (1-based).
        @param law: its G.711 law.
        @param txKeys: the keys the bridge sends to it with, or L{None}.
        @param rxKeys: the keys it sends to the bridge with, or L{None}.
        @raise srst.media.portrange.PortRangeExhausted: when no port is free.
        @raise MediaUnavailable: once the bridge was released.
        """
        if self.released:
            raise MediaUnavailable("conference %d was released" % (self.number,))
        old = self.ports.get(index)
        if old is not None:
            old.close()
        port = BridgePort(self, index, law, txKeys, rxKeys)
        port.bind()
        self.ports[index] = port
        return port

    def tick(self) -> None:
        """Mix one 20 ms frame and send each started port its own mix."""
        ports = [self.ports[index] for index in sorted(self.ports)]
        self.frames += 1
        outputs = mixMinus([port.slot.take() for port in ports], [port.law for port in ports])
        for port, payload in zip(ports, outputs):
            if port.started:
                port.stream.send(payload, FRAME_SAMPLES)

    def _portStarted(self) -> None:
        self.resources.pump.add(self)

    def _portClosed(self, port: BridgePort, closing: Deferred[None]) -> None:
        self._closing.add(closing)
        if self.ports.get(port.index) is port:
            del self.ports[port.index]
        if not any(p.started for p in self.ports.values()):
            self.resources.pump.discard(self)

    def release(self) -> None:
        """Close every port and give the bridge back to the pool."""
        if self.released:
            return
        self.released = True
        for port in list(self.ports.values()):
            port.close()
        self.resources.pump.discard(self)
        self.pool._released(self)
        if self.activated is not None:
            self.log.info("conference {number} ended after {frames} frames", number=self.number,
                          frames=self.frames)

    def closed(self) -> Deferred[None]:
        """@return: fires once every port this bridge closed is back in the range."""
        return self._closing.whenDone()


@implementer(IConferenceBridges)
class BridgePool:
    """
    The router's conference bridges, at most C{max-conferences} of them,
    reserved at the first Confrn and active from the join.

    @ivar maxConferences: C{max-conferences} (0 turns conferencing off).
    @ivar secureAllowed: C{conference-secure}.
    @ivar refusals: Confrn presses refused because the pool was full.
    """

    log = Logger()

    def __init__(self, resources: PortMediaResources, engine: CallEngineSeam, *, maxConferences: int = 8,
                 secureAllowed: bool = True) -> None:
        """
        @param resources: the voice ports' RTP range, pump and debug switches.
        @param engine: the call engine the bridges' endpoints report to.
        @param maxConferences: how many bridges at once.
        @param secureAllowed: whether a conference of secure endpoints is secure.
        """
        self.resources = resources
        self.engine = engine
        self.maxConferences = maxConferences
        self.secureAllowed = secureAllowed
        self.refusals = 0
        self._bridges: dict[int, ConferenceBridge] = {}
        self._closing = PendingCloses()

    def __len__(self) -> int:
        return len(self._bridges)

    @property
    def reserved(self) -> int:
        """Bridges reserved by a first Confrn but not yet joined."""
        return sum(1 for bridge in self._bridges.values() if bridge.activated is None)

    def reserve(self, creator: str) -> ConferenceBridge:
        """
        @param creator: the directory number of who asks (C{show
            conference}, logs).
        @return: a free bridge, with the lowest free number.
        @raise ConferenceRefused: at C{max-conferences} (the refusal is
            logged at debug: the caller logs it for the operator).
        """
        if len(self._bridges) >= self.maxConferences:
            self.refusals += 1
            reason = "max-conferences %d reached" % (self.maxConferences,)
            self.log.debug("{creator}: conference refused: {reason}", creator=creator, reason=reason,
                           refusals=self.refusals)
            raise ConferenceRefused(reason)
        number = next(n for n in range(1, self.maxConferences + 1) if n not in self._bridges)
        bridge = ConferenceBridge(self, number, creator)
        self._bridges[number] = bridge
        return bridge

    def _released(self, bridge: ConferenceBridge) -> None:
        if self._bridges.get(bridge.number) is bridge:
            del self._bridges[bridge.number]
        self._closing.add(bridge.closed())

    def conferences(self) -> list[ConferenceBridge]:
        """@return: the reserved and active bridges, by number."""
        return [self._bridges[number] for number in sorted(self._bridges)]

    def close(self) -> Deferred[None]:
        """
        Release every bridge (the service stopping).

        @return: fires once every bridge port is back in the range.
        """
        for bridge in list(self._bridges.values()):
            bridge.release()
        return self._closing.whenDone()
