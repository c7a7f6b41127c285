"""
End-to-end music on hold through the real router on 127.0.0.1
(L{srst.service.RouterService} with C{call-manager-fallback moh}): two
clear-text simulated phones with L{srst.tools._phonemedia.PhoneMedia}
exchange RTP; when one holds, the other records what the router streams
and it is the music-on-hold file; resume restores the direct path.
Waits are Deferreds fired by what the phones receive, with a bound.
"""

from __future__ import annotations

import math
import os
from typing import Any

from twisted.internet.defer import gatherResults
from twisted.trial.unittest import TestCase

from srst.media.rtp import PayloadType
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.wav import writeWav
from srst.sccp import messages as m
from srst.sccp.constants import CallState, SoftKeyEvent
from srst.tools._phoneclient import SimulatedPhone
from tests.audiohelpers import decodePayloads, normalizedXcorr
from tests.callhelpers import isCallState, isMessage, waitUntil
from tests.phonehelpers import registeredPhone
from tests.routerhelpers import bounded, routerYaml, runCommand, startRouter, stateDirectory

ALICE, BOB = "0000000000A1", "0000000000A2"
DN_A, DN_B = "4001", "4002"

CMF = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  max-ephones: 4
  max-dn: 4
  moh: {moh}
  ephones:
    - {{mac: 0000.0000.00A1, type: "7970", buttons: [{{line: 1, dn: "4001", name: Alice}}]}}
    - {{mac: 0000.0000.00A2, type: "7970", buttons: [{{line: 1, dn: "4002", name: Bob}}]}}
"""

RECORDED_FRAMES = 25
"""Half a second of music: enough to correlate, short enough to keep the test fast."""


def music(count: int = 40 * FRAME_SAMPLES) -> list[int]:
    """A chirp: no 20 ms period, so a recording out of step would not correlate."""
    return [int(9000 * math.sin(2 * math.pi * (200 + 1.5 * i / 8) * i / 8000)) for i in range(count)]


@bounded
def expect(phone: SimulatedPhone, predicate: Any, what: str, since: int = 0) -> Any:
    """
    @return: a L{Deferred} firing with the first message since C{since}
        that satisfies C{predicate}.
    """
    found: list[m.Message] = []

    def check() -> bool:
        found[:] = [msg for msg in phone.received[since:] if predicate(msg)][:1]
        return bool(found)

    yield waitUntil(check, "%s: %s" % (phone.deviceName, what), phone)
    return found[0]


class MohIntegrationTests(TestCase):
    """
    A held clear phone hears the C{moh} file from the router.
    """

    timeout = 20

    @bounded
    def setUp(self) -> Any:
        stateDir = stateDirectory(self)
        self.samples = music()
        self.path = os.path.join(stateDir, "moh.wav")
        writeWav(self.path, self.samples)
        self.service = yield startRouter(self, routerYaml(stateDir, extra=CMF.format(moh=self.path)))
        self.phones: list[SimulatedPhone] = []

    @bounded
    def directMedia(self, x: SimulatedPhone, y: SimulatedPhone, packets: int = 5) -> Any:
        """
        Wait until C{x} and C{y} each hear at least C{packets} more RTP
        packets straight from the other's transmitter (its SSRC).
        """
        def sending() -> bool:
            return len(x.media.transmitters) == 1 and len(y.media.transmitters) == 1

        yield waitUntil(sending, "both phones sending", x, y)
        base = x.media.plainPacketsReceived, y.media.plainPacketsReceived

        def direct() -> bool:
            for receiving, sender, start in (x, y, base[0]), (y, x, base[1]):
                if not sending() or receiving.media.plainPacketsReceived < start + packets:
                    return False
                [transmitter] = sender.media.transmitters.values()
                if receiving.media.lastPacket is None or receiving.media.lastPacket.ssrc != transmitter.ssrc:
                    return False
            return True

        yield waitUntil(direct, "RTP both ways between the phones", x, y)

    @bounded
    def test_heldPartyHearsTheFile(self) -> Any:
        """
        Alice holds: Bob's media is reopened by the router, and what Bob
        records decodes to the music-on-hold file (normalised
        cross-correlation >= 0.9), while Alice has no media open.  Resume
        closes the music (its RTP port goes back) and Bob hears Alice's
        own stream again.
        """
        registered = yield gatherResults([registeredPhone(self, self.service, mac, tls=False)
                                          for mac in (ALICE, BOB)])
        a, b = [phone for phone, dn in registered]
        self.phones.extend((a, b))
        mark = len(b.received)
        a.offHook()
        a.pressKeys(DN_B)
        yield expect(b, isCallState(CallState.RING_IN), "ringing", mark)
        b.offHook()
        yield expect(a, isCallState(CallState.CONNECTED), "connected")
        refA = [msg for msg in a.received if isCallState(CallState.CONNECTED)(msg)][-1].callReference
        yield self.directMedia(a, b)

        mark = len(a.received), len(b.received)
        a.softKey(SoftKeyEvent.HOLD, 1, refA)
        yield expect(a, isCallState(CallState.HOLD, refA), "hold", mark[0])
        yield expect(b, isMessage(m.CloseReceiveChannel), "Bob's call media closed", mark[1])
        yield expect(b, isMessage(m.OpenReceiveChannel), "Bob's music opened", mark[1])
        b.media.payloads.clear()  # what came before the music's receive port was Alice's
        yield waitUntil(lambda: len(b.media.payloads) >= RECORDED_FRAMES, "Bob hears the music", b)
        self.assertEqual(a.media.channels, {})
        law = G711Law.ALAW if b.media.lastPacket.payloadType == PayloadType.PCMA else G711Law.ULAW
        recording = decodePayloads(list(b.media.payloads)[:RECORDED_FRAMES], law)
        self.assertGreaterEqual(normalizedXcorr(recording, self.samples), 0.9)
        [row] = self.service.mediaFarm.holdMusic.rows()
        self.assertEqual(row.label, "ephone-2[2]")  # Bob's ephone
        dsp = yield runCommand(self.service, "show", "voice", "dsp")
        [line] = dsp.text.splitlines()[3:]
        self.assertRegex(line, r"^SRST  001 01 g711(u|a)law   1\.0   busy  idle      0  0 moh          0     0 \d+/0$")
        [facts] = dsp.data
        self.assertEqual((facts["voicePort"], facts["secure"], facts["rxPackets"]), ("moh", False, 0))
        self.assertGreaterEqual(facts["txPackets"], RECORDED_FRAMES)

        mark = len(a.received), len(b.received)
        a.softKey(SoftKeyEvent.RESUME, 1, refA)
        yield expect(a, isCallState(CallState.CONNECTED, refA), "resumed", mark[0])
        yield self.directMedia(a, b)
        self.assertEqual(self.service.mediaFarm.holdMusic.rows(), [])
