"""
Tests for L{srst.ports.media}: the pump that ticks voice ports every 20 ms
and the leg that carries a port's audio as RTP or SRTP (in-memory UDP and
L{task.Clock}; no sleeps).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.media.rtp import RtpPacket, decodeRtp, encodeRtp
from srst.media.srtp import SrtpReceiver, SrtpSender
from srst.media.portrange import PortRangeExhausted, RtpPortAllocator
from srst.ports import g711
from srst.ports.g711 import G711Law
from srst.ports.media import (
    MAX_CATCH_UP,
    MediaPump,
    PendingCloses,
    PortMediaLeg,
    PortMediaResources,
    UnsupportedPayloadType,
    lawOf,
)
from srst.ports.simulated import SimulatedBackend
from srst.ports.voiceport import PortStatus, newVoicePort
from tests.test_phone_media import KEYS_AB, KEYS_BA, FakeUdpReactor

FAR_END = ("127.0.0.1", 26000)


class PortReactor(FakeUdpReactor):
    """L{FakeUdpReactor} that binds the port asked for, as a real reactor does."""

    def listenUDP(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> Any:
        self._nextPort = port - 2
        return FakeUdpReactor.listenUDP(self, port, protocol, interface, maxPacketSize)


def fxs(name: str = "1/0/0") -> Any:
    config = VoicePortConfig(name, Signal.FXS_LOOP_START)
    return newVoicePort(config, SimulatedBackend(name, Signal.FXS_LOOP_START), debug=DebugSwitches())


class PortSender:
    """
    The simplest thing a pump ticks: takes a connected port's next payload
    each interval.

    @ivar sent: the payloads taken.
    """

    def __init__(self, port: Any) -> None:
        self.port = port
        self.name = port.name
        self.sent: list[bytes] = []

    def tick(self) -> None:
        payload = self.port.nextPayload()
        if payload is not None:
            self.sent.append(payload)


class LawTests(SynchronousTestCase):
    """
    Payload types map to the DSP's G.711 laws.
    """

    def test_laws(self) -> None:
        """PCMU is mu-law, PCMA is A-law."""
        self.assertIs(lawOf(0), G711Law.ULAW)
        self.assertIs(lawOf(8), G711Law.ALAW)

    def test_other(self) -> None:
        """Any other payload type is refused with a clear message."""
        error = self.assertRaises(UnsupportedPayloadType, lawOf, 18)
        self.assertEqual(str(error), "payload type 18 is not G.711 (0 PCMU or 8 PCMA)")


class MediaPumpTests(SynchronousTestCase):
    """
    One timer ticks every added port each 20 ms.
    """

    def test_ticksEveryPort(self) -> None:
        """Each added port sends one payload per 20 ms; the timer stops with the last port."""
        reactor = FakeUdpReactor()
        pump = MediaPump(reactor)
        ports = [fxs("1/0/%d" % (i,)) for i in range(3)]
        senders = [PortSender(port) for port in ports]
        for port, sender in zip(ports, senders):
            port.backend.offHook()
            port.connectMedia()
            pump.add(sender)
        self.assertTrue(pump.running)
        reactor.pump([0.02] * 5)
        self.assertEqual([len(s.sent) for s in senders], [5, 5, 5])
        for sender in senders:
            pump.discard(sender)
        self.assertFalse(pump.running)
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_catchUpIsBounded(self) -> None:
        """A late tick replays at most MAX_CATCH_UP intervals, not a burst of every missed one."""
        reactor = FakeUdpReactor()
        pump = MediaPump(reactor)
        port = fxs()
        sender = PortSender(port)
        port.backend.offHook()
        port.connectMedia()
        pump.add(sender)
        reactor.advance(1.0)
        self.assertEqual(len(sender.sent), MAX_CATCH_UP)
        pump.stop()


class PendingClosesTests(SynchronousTestCase):
    """
    An owner's close waits for the media closes it started.
    """

    def test_waitsForEachUnfinishedClose(self) -> None:
        """
        whenDone fires once every close added so far has fired, whichever
        order they finish in; a close already finished is not waited for
        (nor kept), and an owner with none is done at once.
        """
        pending = PendingCloses()
        self.assertIsNone(self.successResultOf(pending.whenDone()))
        first, second = Deferred(), Deferred()
        pending.add(first)
        pending.add(succeed(None))
        pending.add(second)
        done = pending.whenDone()
        second.callback(None)
        self.assertNoResult(done)
        first.callback(None)
        self.assertIsNone(self.successResultOf(done))
        self.assertIsNone(self.successResultOf(pending.whenDone()))
        self.assertEqual(pending._pending, [])


class PortMediaLegTests(SynchronousTestCase):
    """
    A leg binds an even port, sends the port's audio to the far end and plays
    what arrives; SRTP with keys.
    """

    def setUp(self) -> None:
        self.reactor = PortReactor()
        self.allocator = RtpPortAllocator("127.0.0.1", "40000-40003")
        self.pump = MediaPump(self.reactor)
        self.resources = PortMediaResources(self.reactor, self.allocator, self.pump, debug=DebugSwitches(),
                                            unreachableTimeout=1.0)
        self.port = fxs()

    def leg(self, **kw: Any) -> PortMediaLeg:
        leg = self.resources.newLeg(self.port, **kw)
        self.addCleanup(leg.close)
        return leg

    def test_openBindsEvenPort(self) -> None:
        """open() binds the allocator's address on a port it holds until close()."""
        leg = self.leg()
        host, number = leg.open()
        self.assertEqual(host, "127.0.0.1")
        self.assertEqual(len(self.allocator.inUse), 1)
        self.assertEqual(leg.open(), (host, number))
        leg.close()
        self.assertEqual(self.allocator.inUse, frozenset())
        self.assertTrue(leg.closed)

    def test_exhausted(self) -> None:
        """With every port of the range held, open() raises PortRangeExhausted and available() says so."""
        legs = [self.leg() for _ in range(2)]
        for leg in legs:
            leg.open()
        self.assertFalse(self.resources.available())
        self.assertRaises(PortRangeExhausted, self.leg().open)
        self.resources.refused("1/0/0", "no port")
        self.assertEqual(self.resources.refusals, 1)

    def test_sendsWhenOffHook(self) -> None:
        """A leg started on a ringing port sends nothing until the line goes off hook, then 50 packets/s."""
        self.port.ring("2001")
        leg = self.leg()
        leg.open()
        leg.start(FAR_END)
        self.reactor.pump([0.02] * 5)
        self.assertEqual(self.reactor.sentTo(FAR_END[1]), [])
        self.port.backend.offHook()
        self.assertIs(self.port.status, PortStatus.CONNECTED)
        self.reactor.pump([0.02] * 50)
        packets = [decodeRtp(d) for d in self.reactor.sentTo(FAR_END[1])]
        self.assertEqual(len(packets), 50)
        self.assertEqual({p.payloadType for p in packets}, {0})
        self.assertEqual([len(p.payload) for p in packets[:1]], [160])

    def test_playsWavSamples(self) -> None:
        """The port's samples arrive as the G.711 payloads of the same samples, A-law for PCMA."""
        self.port.backend.offHook()
        leg = self.leg(payloadType=8)
        leg.open()
        leg.start(FAR_END)
        samples = [((i * 37) % 2000) - 1000 for i in range(1600)]
        self.port.dsp.playSamples(samples)
        self.reactor.pump([0.021] * 12)
        payloads = [decodeRtp(d).payload for d in self.reactor.sentTo(FAR_END[1])]
        self.assertEqual(payloads[:10], g711.packetise(G711Law.ALAW, samples))
        self.assertEqual(set(payloads[10]), {G711Law.ALAW.silence})

    def test_receivesAndRecords(self) -> None:
        """RTP from the far end is decoded and recorded by the port."""
        self.port.backend.offHook()
        leg = self.leg()
        local = leg.open()
        leg.start(FAR_END)
        self.port.dsp.startRecording()
        frame = tuple(range(-80, 80))
        payload = g711.encode(G711Law.ULAW, frame)
        target = self.reactor.ports[local]
        for seq in range(3):
            target.protocol.datagramReceived(encodeRtp(RtpPacket(0, seq, seq * 160, 7, payload)), FAR_END)
        recorded = self.port.dsp.stopRecording()
        self.assertEqual(recorded, g711.decode(G711Law.ULAW, payload) * 3)
        self.assertEqual(leg.snapshot().counters.delivered, 3)

    def test_srtpBothWays(self) -> None:
        """With keys, what is sent decrypts with the peer's receive keys and SRTP from the peer plays."""
        self.port.backend.offHook()
        leg = self.leg(txKeys=KEYS_AB, rxKeys=KEYS_BA)
        local = leg.open()
        leg.start(FAR_END)
        self.assertTrue(leg.secure)
        self.reactor.pump([0.02] * 5)
        receiver = SrtpReceiver(KEYS_AB)
        clear = [decodeRtp(receiver.unprotect(d)) for d in self.reactor.sentTo(FAR_END[1])]
        self.assertEqual(len(clear), 5)
        sender = SrtpSender(KEYS_BA)
        self.port.dsp.startRecording()
        payload = b"\x10" * 160
        self.reactor.ports[local].protocol.datagramReceived(
            sender.protect(encodeRtp(RtpPacket(0, 1, 160, 9, payload))), FAR_END)
        self.assertEqual(self.port.dsp.stopRecording(), g711.decode(G711Law.ULAW, payload))

    def test_pauseAndClose(self) -> None:
        """pause() stops sending and the unreachable timer; close() stops the pump and frees the port."""
        self.port.backend.offHook()
        leg = self.leg()
        leg.open()
        leg.start(FAR_END)
        self.reactor.pump([0.02] * 2)
        leg.pause()
        self.reactor.pump([0.5] * 6)
        self.assertEqual(len(self.reactor.sentTo(FAR_END[1])), 2)
        self.assertFalse(leg.stream.unreachable)
        leg.close()
        self.assertFalse(self.pump.running)
        self.assertNotIn(leg, self.port.listeners)
        self.assertIs(self.port.status, PortStatus.OFF_HOOK)
        self.assertIsNone(self.port.nextPayload())

    def test_unreachable(self) -> None:
        """A far end silent for the timeout is reported once."""
        reports: list[int] = []
        self.port.backend.offHook()
        leg = self.leg(onUnreachable=lambda: reports.append(1))
        leg.open()
        leg.start(FAR_END)
        self.reactor.pump([0.1] * 15)
        self.assertEqual(reports, [1])
        self.assertTrue(leg.snapshot().unreachable)
        self.flushLoggedErrors()

    def test_onHookStopsTicking(self) -> None:
        """The line going on hook stops the pump ticking the port."""
        self.port.backend.offHook()
        leg = self.leg()
        leg.open()
        leg.start(FAR_END)
        self.port.backend.onHook()
        self.assertFalse(self.pump.running)
