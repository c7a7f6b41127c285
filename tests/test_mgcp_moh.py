"""
Tests for C{ccm-manager music-on-hold}: a voice-port caller CallManager
holds with a multicast remote descriptor hears the group's stream, which
the gateway joins on 127.0.0.1 and relays to the port.  The router's own
C{multicast-moh} stream is the music (TTL 0, loopback only); the call
agent is the harness's stand-in, the legs and the group are real sockets.
"""

from __future__ import annotations

import os
from typing import Any

from attrs import frozen
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import TestCase

from srst.debug import DebugSwitches
from srst.media.multicast import listenGroup
from srst.media.portrange import RtpPortAllocator
from srst.ports.g711 import FRAME_SAMPLES
from srst.ports.media import PACKET_INTERVAL, MediaPump, PortMediaLeg, PortMediaResources
from srst.ports.moh import MohSource
from srst.ports.wav import writeWav
from tests.audiohelpers import normalizedXcorr
from tests.mgcphelpers import DOMAIN, GatewayHarness
from tests.multicasthelpers import LOOPBACK, loopbackMulticast, randomGroup
from tests.test_ports_moh import FRAMES, Phone, music, synchronously

EP0 = "aaln/S1/SU0/0@" + DOMAIN


@frozen
class Multicast:
    """A C{multicast-moh} setting (TTL 0: this host only)."""

    address: str
    port: int
    ttl: int = 0


class RealLegHarness(GatewayHarness):
    """The gateway harness with its RTP legs on real sockets on 127.0.0.1."""

    def newLeg(self, port: Any, payloadType: int) -> PortMediaLeg:
        leg = PortMediaLeg(reactor=reactor, allocator=self.realAllocator, pump=self.pump, port=port,
                           debug=self.debug, payloadType=payloadType, multicastReactor=reactor)
        self.legs.append(leg)
        return leg

    realAllocator = RtpPortAllocator(LOOPBACK, "47700-47799")


def sdp(address: str, port: int) -> str:
    return "v=0\no=- 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %d RTP/AVP 0\n" % (
        address, address, port)


class CcmMusicOnHoldTests(TestCase):
    """
    An MDCX whose descriptor names a multicast group, C{M: recvonly}: the
    port plays the group's stream with C{ccm-manager music-on-hold}, and
    nothing without it.
    """

    timeout = 10  # a stream that never arrives fails fast

    async def setUp(self) -> None:
        reason = loopbackMulticast(self.addCleanup)
        if reason is not None:
            self.skipTest(reason)
        self.clock = Clock()
        pump = MediaPump(self.clock)
        self.addCleanup(pump.stop)
        resources = PortMediaResources(reactor, RtpPortAllocator(LOOPBACK, "47800-47899"), pump,
                                       debug=DebugSwitches(), multicastReactor=reactor)
        path = os.path.abspath(self.mktemp()) + ".wav"
        self.samples = music()
        writeWav(path, self.samples)
        self.group = (randomGroup(), 16384 + 2 * os.getpid() % 20000)
        self.source = MohSource(resources, path, runInThread=synchronously, clock=self.clock,
                                multicast=Multicast(*self.group), multicastReactor=reactor)
        await self.source.start()
        self.addCleanup(self.source.stop)
        self.pump = pump
        # A member of the group beside the gateway: when it has the music, so has the port.
        self.member = Phone()
        listening = await listenGroup(reactor, self.group[0], self.group[1], LOOPBACK, self.member)
        self.addCleanup(listening.stopListening)

    def held(self, **options: Any) -> tuple[GatewayHarness, PortMediaLeg]:
        """A connected call on 1/0/0, then CallManager's hold: MDCX to the group, recvonly."""
        h = RealLegHarness(**options)
        self.addCleanup(lambda: [leg.close() for leg in h.legs])
        response = h.response("CRCX 1010 %s MGCP 0.1\nC: A1\nM: sendrecv\n\n%s" % (EP0, sdp(LOOPBACK, 29632)))
        self.assertEqual(response.code, 200)
        h.lines["1/0/0"].offHook()
        connectionId = response.raw("I")
        response = h.response("MDCX 1011 %s MGCP 0.1\nC: A1\nI: %s\nM: recvonly\n\n%s"
                              % (EP0, connectionId, sdp(*self.group)))
        self.assertEqual(response.code, 200)
        self.connectionId = connectionId
        return h, h.legs[0]

    def play(self, frames: int) -> None:
        target = self.pump.ticks + frames
        while self.pump.ticks < target:  # the fake clock's float sums may fall short of a tick
            self.clock.advance(PACKET_INTERVAL)

    async def test_relayed(self) -> None:
        """
        With the key on, the port's recording of the held call correlates
        >= 0.9 with the file; a unicast MDCX (resume) leaves the group.
        """
        h, leg = self.held(musicOnHold=True)
        self.assertEqual(leg.group, self.group)
        self.assertFalse(leg.sending)
        recorded: Deferred[None] = Deferred()
        dsp = h.ports["1/0/0"].dsp
        dsp.startRecording(FRAMES * FRAME_SAMPLES, lambda: recorded.callback(None))
        self.play(FRAMES)
        await recorded
        recording = dsp.takeRecording()
        self.assertGreaterEqual(normalizedXcorr(list(recording), self.samples, 0), 0.9)
        self.assertEqual(leg.groupSnapshot().counters.delivered, FRAMES)

        response = h.response("MDCX 1012 %s MGCP 0.1\nC: A1\nI: %s\nM: sendrecv\n\n%s"
                              % (EP0, self.connectionId, sdp(LOOPBACK, 29632)))
        self.assertEqual(response.code, 200)
        self.assertIsNone(leg.group)
        self.assertIsNone(leg.groupSnapshot())
        self.assertTrue(leg.sending)

    async def test_notConfigured(self) -> None:
        """
        Without the key the MDCX is answered 200 all the same, one info
        line says the stream is not relayed, and the port hears nothing
        while a member of the group hears the music.
        """
        with capturedLogs() as events:
            h, leg = self.held()
        self.assertIsNone(leg.group)
        self.assertEqual(
            [(e["log_level"], formatEvent(e)) for e in events
             if e["log_namespace"] == "srst.mgcp.endpoint.MgcpEndpoint"],
            [(LogLevel.info, "MGCP endpoint %s: connection %s: multicast music on hold from %s:%d not relayed "
             "(no ccm-manager music-on-hold)" % (EP0, self.connectionId, self.group[0], self.group[1]))])
        self.play(FRAMES)
        await self.member.got(FRAMES)
        self.assertEqual(h.ports["1/0/0"].rxPackets, 0)

    async def test_deleted(self) -> None:
        """A DLCX leaves the group with the connection."""
        h, leg = self.held(musicOnHold=True)
        self.assertIsNotNone(leg.groupSnapshot())
        h.receive("DLCX 1013 %s MGCP 0.1\nC: A1\nI: %s\n" % (EP0, self.connectionId))
        self.assertIsNone(leg.group)
        self.assertTrue(leg.closed)
