"""
Tests for L{srst.ports.conferenceendpoint}: a bridge's call endpoint binds
a participant's bridge port on C{openReceive} (real UDP on 127.0.0.1),
reports it, points it at the participant, and closes it again.
"""

from __future__ import annotations

import itertools
from typing import Any, Generator

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from srst.calls.interfaces import ICallEndpoint, LineRef
from srst.calls.leg import Leg, newLeg
from srst.calls.media import Codec, MediaSession
from srst.debug import DebugSwitches
from srst.media.portrange import RtpPortAllocator
from srst.ports.bridge import BridgePool
from srst.ports.conferenceendpoint import ConferenceEndpoint
from srst.ports.g711 import G711Law
from srst.ports.media import MediaPump, PortMediaResources
from tests.routerhelpers import bounded
from tests.test_ports_bridge import HOST, ClockedUDP


class ConferenceEndpointTests(TestCase):
    """L{ConferenceEndpoint} against a recording engine."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.allocator = RtpPortAllocator(HOST, "44300-44303")
        self.pump = MediaPump(self.clock)
        self.resources = PortMediaResources(ClockedUDP(self.clock), self.allocator, self.pump,
                                            debug=DebugSwitches())
        self.reports: list[tuple[Any, ...]] = []
        self.pool = BridgePool(self.resources, self, maxConferences=1)
        self.addCleanup(self.pool.close)
        self.bridge = self.pool.reserve("ephone-1")
        self.bridge.secure = True
        self.endpoint = self.bridge.endpoint
        self.references = itertools.count(100)
        self.session = MediaSession(itertools.count(1))

    def mediaReady(self, leg: Leg, passThruPartyId: int, host: str, port: int) -> None:
        self.reports.append(("ready", leg, passThruPartyId, host, port))

    def mediaFailed(self, leg: Leg, reason: str) -> None:
        self.reports.append(("failed", leg, reason))

    def leg(self, instance: int) -> Leg:
        return newLeg(self.endpoint, LineRef(instance, "", "Conference"), next(self.references), self.clock,
                      10, lambda leg: None)

    def test_interface(self) -> None:
        """It is an L{ICallEndpoint} named after its bridge, secure when the bridge is."""
        self.assertTrue(verifyObject(ICallEndpoint, self.endpoint))
        self.assertIsInstance(self.endpoint, ConferenceEndpoint)
        line = LineRef(2, "", "Conference")
        self.assertEqual((self.endpoint.label, self.endpoint.voicePortName(line), self.endpoint.dialPeerTag(line)),
                         ("conference-1", "conf/1.2", 0))
        self.assertEqual(self.endpoint.capabilities, (Codec.G711_ULAW, Codec.G711_ALAW))
        self.assertTrue(self.endpoint.secure)
        self.bridge.secure = False
        self.assertFalse(self.endpoint.secure)
        self.assertIsNone(self.endpoint.mediaSnapshot())
        self.assertFalse(self.endpoint.lineBusy())
        self.assertTrue(self.endpoint.mediaAvailable())

    @bounded
    def test_openReceiveReportsThePort(self) -> Generator[Deferred[Any], Any, None]:
        """
        C{openReceive} binds the participant's port with the stream's keys
        and law and reports where; C{startTransmit} points it at the
        participant; C{mediaClosed} closes it and gives the RTP port back.
        """
        bridgeLeg, participant = self.leg(1), self.leg(9)
        mine, theirs = self.session.open(bridgeLeg, participant, Codec.G711_ALAW, secure=True)
        self.endpoint.openReceive(bridgeLeg, mine)
        port = self.endpoint.portOf(bridgeLeg)
        assert port is not None and port.local is not None
        self.assertEqual(self.reports, [("ready", bridgeLeg, mine.passThruPartyId) + port.local])
        self.assertEqual((port.index, port.law, port.secure, port.local[0]), (1, G711Law.ALAW, True, HOST))
        self.assertIs(self.bridge.ports[1], port)
        theirs.address = (HOST, 20000)
        self.endpoint.startTransmit(bridgeLeg, mine)
        self.assertEqual((port.started, port.stream.remote, len(self.pump)), (True, (HOST, 20000), 1))
        self.endpoint.mediaClosed(bridgeLeg, mine)
        self.assertEqual((self.endpoint.portOf(bridgeLeg), self.bridge.ports, len(self.pump)), (None, {}, 0))
        yield self.bridge.closed()
        self.assertEqual(len(self.allocator.inUse), 0)

    def test_heldAndReleasedClose(self) -> None:
        """A participant's hold or hang-up closes its bridge port."""
        for close in (lambda leg, stream: self.endpoint.heldByRemote(leg, stream, False),
                      lambda leg, stream: self.endpoint.released(leg, stream, True)):
            bridgeLeg, participant = self.leg(2), self.leg(8)
            mine, theirs = self.session.open(bridgeLeg, participant, Codec.G711_ULAW, secure=False)
            self.endpoint.openReceive(bridgeLeg, mine)
            port = self.endpoint.portOf(bridgeLeg)
            assert port is not None
            self.assertFalse(port.secure)
            close(bridgeLeg, mine)
            self.assertTrue(port.stream.closed)
            self.assertIsNone(self.endpoint.portOf(bridgeLeg))

    def test_noPortFree(self) -> None:
        """With the RTP range used up, the leg's media fails with the range's reason."""
        legs = [self.leg(n) for n in (1, 2, 3)]
        for leg in legs:
            stream, ignored = self.session.open(leg, self.leg(7), Codec.G711_ULAW, secure=False)
            self.endpoint.openReceive(leg, stream)
        self.assertEqual([r[0] for r in self.reports], ["ready", "ready", "failed"])
        failed = self.reports[-1]
        self.assertIs(failed[1], legs[2])
        self.assertEqual(failed[2], "no free even RTP port in 44300-44303 (2 in use)")
        self.assertEqual(self.resources.refusals, 1)
        self.assertEqual(sorted(self.bridge.ports), [1, 2])

    def test_releasedBridge(self) -> None:
        """A leg of a bridge already released gets no port: its media fails with the reason."""
        self.bridge.release()
        leg = self.leg(1)
        stream, ignored = self.session.open(leg, self.leg(7), Codec.G711_ULAW, secure=False)
        self.endpoint.openReceive(leg, stream)
        self.assertEqual(self.reports, [("failed", leg, "conference 1 was released")])
        self.assertEqual((self.bridge.ports, len(self.allocator.inUse)), ({}, 0))
