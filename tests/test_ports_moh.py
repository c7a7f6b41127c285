"""
Tests for L{srst.ports.moh}: music on hold streamed by the router over
real UDP on 127.0.0.1, the pump on a L{task.Clock} (no sleeps: each test
awaits the Deferred a receiver fires once it has the packets it expects).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable

from attrs import frozen
from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from srst.calls.media import Codec
from srst.calls.mediaservices import IHoldMusic, IMediaPort, MediaUnavailable
from srst.debug import DebugSwitches
from srst.media.multicast import listenGroup
from srst.media.portrange import RtpPortAllocator
from srst.media.rtp import decodeRtp
from srst.media.srtp import SrtpError, SrtpReceiver, generateKeys
from srst.ports import dsp
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.media import PACKET_INTERVAL, MediaPump, PortMediaResources
from srst.ports.moh import MohSource
from srst.ports.wav import writeWav
from tests.audiohelpers import decodePayloads, normalizedXcorr
from tests.multicasthelpers import loopbackMulticast, randomGroup

LOOPBACK = "127.0.0.1"
FRAMES = 50
"""Frames in the test file (one second)."""


def music(count: int = FRAMES * FRAME_SAMPLES) -> list[int]:
    """A chirp (no 20 ms period, so a recording out of step would not correlate)."""
    return [int(9000 * math.sin(2 * math.pi * (200 + 1.5 * i / 8) * i / 8000)) for i in range(count)]


def synchronously(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """C{runInThread} for tests: run it now."""
    return maybeDeferred(f, *args)


class Phone(DatagramProtocol):
    """A held phone's receive port: keeps every datagram; C{got(n)} fires at n."""

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []
        self._waiting: list[tuple[int, Deferred[None]]] = []

    def got(self, count: int) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self._waiting.append((count, d))
        self._check()
        return d

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.datagrams.append(datagram)
        self._check()

    def _check(self) -> None:
        for entry in list(self._waiting):
            if len(self.datagrams) >= entry[0]:
                self._waiting.remove(entry)
                entry[1].callback(None)


class MohFixture(TestCase):
    """
    A source of the test file on a real UDP port range, with its pump on a
    L{Clock}.
    """

    timeout = 10  # a stream that never arrives fails fast

    def setUp(self) -> None:
        self.clock = Clock()
        self.pump = MediaPump(self.clock)
        self.addCleanup(self.pump.stop)
        self.allocator = RtpPortAllocator(LOOPBACK, "47400-47499")
        self.resources = PortMediaResources(reactor, self.allocator, self.pump, debug=DebugSwitches())
        self.path = os.path.abspath(self.mktemp()) + ".wav"
        self.samples = music()
        writeWav(self.path, self.samples)

    async def source(self, **kwargs: Any) -> MohSource:
        if "multicast" in kwargs:
            kwargs.setdefault("multicastReactor", reactor)
        source = MohSource(self.resources, self.path, runInThread=synchronously, clock=self.clock, **kwargs)
        await source.start()
        self.addCleanup(source.stop)
        return source

    def phone(self) -> tuple[Phone, tuple[str, int]]:
        phone = Phone()
        port = reactor.listenUDP(0, phone, interface=LOOPBACK)
        self.addCleanup(port.stopListening)
        return phone, (LOOPBACK, port.getHost().port)

    async def play(self, phones: list[Phone], frames: int) -> None:
        """Run the pump C{frames} intervals; wait until every phone has them."""
        target = self.pump.ticks + frames
        while self.pump.ticks < target:  # the fake clock's float sums may fall short of a tick
            self.clock.advance(PACKET_INTERVAL)
        for phone in phones:
            await phone.got(frames)


class MohTests(MohFixture):
    """
    L{MohSource} streams one shared clip to every listener.
    """

    async def test_interfaces(self) -> None:
        """The source and its listeners provide the engine's interfaces."""
        source = await self.source()
        self.assertTrue(verifyObject(IHoldMusic, source))
        listener = source.listen(Codec.G711_ULAW, None, "SEP0001")
        self.assertTrue(verifyObject(IMediaPort, listener))
        self.assertEqual(listener.local[0], LOOPBACK)
        self.assertIn(listener.local[1], self.allocator.inUse)
        await listener.close()
        self.assertEqual(self.allocator.inUse, set())

    async def test_sharedClip(self) -> None:
        """
        Three listeners play one clip, and each frame is encoded once per
        law however many listen: the second and third cost no encoding.
        """
        encoded: list[G711Law] = []
        encode = dsp.g711.encode

        def counting(law: G711Law, samples: Any) -> bytes:
            encoded.append(law)
            return encode(law, samples)

        self.patch(dsp.g711, "encode", counting)
        source = await self.source()
        phones = []
        listeners = []
        for i, codec in enumerate((Codec.G711_ULAW, Codec.G711_ULAW, Codec.G711_ALAW)):
            phone, address = self.phone()
            listener = source.listen(codec, None, "SEP000%d" % (i,))
            listener.start(address)
            phones.append(phone)
            listeners.append(listener)
        self.assertIs(listeners[0].clip, listeners[1].clip)
        self.assertIs(listeners[1].clip, listeners[2].clip)
        await self.play(phones, FRAMES)
        self.assertEqual(encoded.count(G711Law.ULAW), FRAMES)
        self.assertEqual(encoded.count(G711Law.ALAW), FRAMES)
        self.assertEqual(len(self.pump), 1)

    async def _recording(self, codec: Codec, law: G711Law, payloadType: int) -> None:
        source = await self.source()
        phone, address = self.phone()
        source.listen(codec, None, "SEP0001").start(address)
        await self.play([phone], FRAMES)
        packets = [decodeRtp(datagram) for datagram in phone.datagrams[:FRAMES]]
        self.assertEqual({packet.payloadType for packet in packets}, {payloadType})
        self.assertEqual({len(packet.payload) for packet in packets}, {FRAME_SAMPLES})
        recording = decodePayloads([packet.payload for packet in packets], law)
        self.assertGreaterEqual(normalizedXcorr(recording, self.samples, 0), 0.9)

    async def test_recordingUlaw(self) -> None:
        """A µ-law listener's recording correlates >= 0.9 with the file (PT 0, 20 ms)."""
        await self._recording(Codec.G711_ULAW, G711Law.ULAW, 0)

    async def test_recordingAlaw(self) -> None:
        """An A-law listener's recording correlates >= 0.9 with the file (PT 8, 20 ms)."""
        await self._recording(Codec.G711_ALAW, G711Law.ALAW, 8)

    async def test_srtp(self) -> None:
        """
        With the held phone's keys every packet decrypts and the recording
        correlates with the file; a third key set decrypts none of them.
        """
        keys = generateKeys()
        source = await self.source()
        phone, address = self.phone()
        listener = source.listen(Codec.G711_ULAW, keys, "SEP0001")
        self.assertTrue(listener.secure)
        listener.start(address)
        await self.play([phone], 10)
        receiver = SrtpReceiver(keys)
        payloads = [decodeRtp(receiver.unprotect(datagram)).payload for datagram in phone.datagrams[:10]]
        self.assertGreaterEqual(
            normalizedXcorr(decodePayloads(payloads, G711Law.ULAW), self.samples[:10 * FRAME_SAMPLES]), 0.9)
        stranger = SrtpReceiver(generateKeys())
        for datagram in phone.datagrams[:10]:
            self.assertRaises(SrtpError, stranger.unprotect, datagram)

    async def test_portRangeExhausted(self) -> None:
        """No free RTP port: L{MediaUnavailable} naming the range, no port held."""
        self.allocator = self.resources.allocator = RtpPortAllocator(LOOPBACK, "47498-47499")
        source = await self.source()
        first = source.listen(Codec.G711_ULAW, None, "SEP0001")
        error = self.assertRaises(MediaUnavailable, source.listen, Codec.G711_ULAW, None, "SEP0002")
        self.assertEqual(str(error), "music on hold for SEP0002: no free even RTP port in 47498-47499 (1 in use)")
        await first.close()
        self.assertEqual(self.allocator.inUse, set())

    async def test_fileLost(self) -> None:
        """
        A file deleted at run time: after the next check the music is not
        available (the engine plays a tone), with exactly one warning however
        many checks fail; listeners already playing carry on, and the file's
        return is logged once.
        """
        source = await self.source(recheck=30.0)
        phone, address = self.phone()
        source.listen(Codec.G711_ULAW, None, "SEP0001").start(address)
        self.assertTrue(source.available())
        os.remove(self.path)
        with capturedLogs() as events:
            self.clock.advance(30.0)
            self.clock.advance(30.0)
        self.assertFalse(source.available())
        self.assertRaises(MediaUnavailable, source.listen, Codec.G711_ULAW, None, "SEP0002")
        warnings = [formatEvent(e) for e in events if e["log_level"] >= LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertRegex(warnings[0], r"^music on hold file .*\.wav unreadable \(.+\): tone on hold$")
        await phone.got(1)
        writeWav(self.path, self.samples)
        with capturedLogs() as events:
            self.clock.advance(30.0)
            self.clock.advance(30.0)
        self.assertTrue(source.available())
        self.assertEqual([formatEvent(e) for e in events if e["log_namespace"] == "srst.ports.moh.MohSource"],
                         ["music on hold file %s readable again: music on hold" % (self.path,)])

    async def test_missingAtStart(self) -> None:
        """A file missing at start: not available, one warning naming why."""
        os.remove(self.path)
        with capturedLogs() as events:
            source = await self.source()
        self.assertFalse(source.available())
        self.assertEqual([formatEvent(e) for e in events if e["log_level"] >= LogLevel.warn],
                         ["music on hold file %s unreadable (cannot read: No such file or directory): tone on hold"
                          % (self.path,)])


@frozen
class Multicast:
    """A C{multicast-moh} setting."""

    address: str
    port: int
    ttl: int = 0


class MulticastMohTests(MohFixture):
    """
    With C{multicast-moh}, the router also streams the clip, clear µ-law,
    to the group (TTL 0: loopback only).
    """

    def setUp(self) -> None:
        reason = loopbackMulticast(self.addCleanup)
        if reason is not None:
            self.skipTest(reason)
        MohFixture.setUp(self)

    async def test_multicast(self) -> None:
        """
        A member of the group on 127.0.0.1 records the file (>= 0.9), as
        RTP PT 0 from the router's media address; stopping the source
        stops the stream and closes its socket.
        """
        group = randomGroup()
        member = Phone()
        listening = await listenGroup(reactor, group, 0, LOOPBACK, member)
        self.addCleanup(listening.stopListening)
        source = await self.source(multicast=Multicast(group, listening.getHost().port))
        self.assertEqual(len(self.pump), 1)
        await self.play([member], FRAMES)
        packets = [decodeRtp(datagram) for datagram in member.datagrams[:FRAMES]]
        self.assertEqual({packet.payloadType for packet in packets}, {0})
        recording = decodePayloads([packet.payload for packet in packets], G711Law.ULAW)
        self.assertGreaterEqual(normalizedXcorr(recording, self.samples, 0), 0.9)
        self.assertEqual([row.label for row in source.rows()],
                         ["multicast %s:%d" % (group, listening.getHost().port)])
        await source.stop()
        self.assertEqual(len(self.pump), 0)
        self.assertEqual(source.rows(), [])

    async def test_multicastStartsWhenFileReadable(self) -> None:
        """
        A file unreadable at start: C{multicast-moh} is not started, with a
        warning saying so; the first check that reads the file starts the
        stream (logged), and the group's member records the file.
        """
        group = randomGroup()
        member = Phone()
        listening = await listenGroup(reactor, group, 0, LOOPBACK, member)
        self.addCleanup(listening.stopListening)
        port = listening.getHost().port
        os.remove(self.path)
        with capturedLogs() as events:
            source = await self.source(multicast=Multicast(group, port), recheck=30.0)
        self.assertIn("multicast-moh %s:%d not started: music on hold file %s unreadable;"
                      " it starts once the file is readable" % (group, port, self.path),
                      [formatEvent(e) for e in events])
        self.assertEqual((source.rows(), len(self.pump)), ([], 0))
        writeWav(self.path, self.samples)
        with capturedLogs() as events:
            await source.load()
            await source.load()  # a second check does not start a second stream
        self.assertIn("multicast-moh %s:%d: streaming music on hold (TTL 0)" % (group, port),
                      [formatEvent(e) for e in events])
        self.assertEqual([row.label for row in source.rows()], ["multicast %s:%d" % (group, port)])
        await self.play([member], FRAMES)
        recording = decodePayloads([decodeRtp(d).payload for d in member.datagrams[:FRAMES]], G711Law.ULAW)
        self.assertGreaterEqual(normalizedXcorr(recording, self.samples, 0), 0.9)

    async def test_multicastReactorInjected(self) -> None:
        """
        The multicast socket comes from the reactor given as
        C{multicastReactor} (not the media resources' UDP reactor); without
        one, C{multicast-moh} is refused at construction.
        """
        opened: list[int] = []

        class Recording:
            def listenMulticast(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192,
                                listenMultiple: bool = False) -> Any:
                opened.append(port)
                return reactor.listenMulticast(port, protocol, interface, maxPacketSize, listenMultiple)

        group = randomGroup()
        source = await self.source(multicast=Multicast(group, 16384), multicastReactor=Recording())
        self.assertEqual((opened, len(source.rows())), ([0], 1))
        error = self.assertRaises(ValueError, MohSource, self.resources, self.path, multicast=Multicast(group, 16384),
                                  runInThread=synchronously, clock=self.clock)
        self.assertEqual(str(error), "multicast-moh needs a multicast reactor")
