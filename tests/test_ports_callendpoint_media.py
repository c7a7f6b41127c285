"""
Acceptance tests for calls between IP phones and voice ports with media
terminated on the router: the real router on 127.0.0.1, simulated phones
(TLS with LSCs, or clear text) with real RTP/SRTP, and the simulated lines
of the voice ports.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Sequence

from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase

from srst.media.rtp import RtpPacket, encodeRtp
from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.tones import CallProgressTone, ToneGenerator
from srst.ports.voiceport import PortStatus
from srst.ports.wav import WavEncoding, writeWav
from srst.sccp import messages as m
from srst.sccp.constants import CallSecurityStatus, CallState, Tone
from tests.callhelpers import isCallState, waitFor, waitUntil
from tests.phonehelpers import registeredPhone, routerYamlWithCapf
from tests.routerhelpers import bounded, runCommand, startRouter, stateDirectory

PORTS = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  trustpoint: srstca
  max-ephones: 10
  max-dn: 20
  auto-assign: {{dn-range: "2000-2019"}}
media:
  address: 127.0.0.1
  rtp-port-range: "{rtpRange}"
  rtp-unreachable-ms: 2000
voice-ports:
  1/0/0: {{signal: fxs-loop-start}}
  1/0/1: {{signal: fxs-loop-start, station-id: {{number: "81236", name: "Lobby"}}}}
dial-peers:
  - {{tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, forward-digits: all}}
  - {{tag: 81236, type: pots, destination-pattern: "81236", port: 1/0/1}}
"""


RTP_POLICY = """
access-lists:
  150:
    - {action: permit, protocol: udp, source: 127.0.0.1/32}
control-plane:
  class-maps:
    rtp-class: {match-access-group: 150}
  service-policy:
    input:
      - class: rtp-class
        police: {rate-bps: 16000, normal-burst: 1500, max-burst: 1500,
                 conform-action: transmit, exceed-action: drop}
"""


def contains(haystack: Sequence[bytes], needle: Sequence[bytes]) -> bool:
    """@return: whether C{needle} occurs in C{haystack} as a contiguous run."""
    haystack, needle = list(haystack), list(needle)
    return any(haystack[i:i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


def sampleAudio(count: int) -> list[int]:
    """@return: C{count} samples of a deterministic, non-periodic test signal."""
    return [((i * 7919) % 16001) - 8000 for i in range(count)]


class PortMediaTests(TestCase):
    """
    Phones call voice ports (and ports call phones) with audio flowing
    through the router's own RTP/SRTP endpoints.
    """

    timeout = 30

    @bounded
    def startRouter(self, rtpRange: str = "41000-41099", policy: str = "") -> Any:
        self.stateDir = stateDirectory(self)
        text = routerYamlWithCapf(self.stateDir, PORTS.format(rtpRange=rtpRange) + policy)
        self.service = yield startRouter(self, text)
        self.engine = self.service.callEngine
        return self.service

    def phone(self, mac: str, tls: bool = True) -> Any:
        """@return: a L{Deferred} firing with a registered phone with media, and its DN."""
        return registeredPhone(self, self.service, mac, tls)

    def port(self, name: str) -> Any:
        return self.service.portService.port(name)

    @bounded
    def phoneCallsPort(self, phone: Any) -> Any:
        """The phone dials 81234; 1/0/0 rings and answers; media flows both ways."""
        port = self.port("1/0/0")
        phone.offHook()
        phone.pressKeys("81234")
        yield waitFor(phone, isCallState(CallState.RING_OUT))
        self.assertIs(port.status, PortStatus.RINGING)
        port.backend.offHook()
        yield waitFor(phone, isCallState(CallState.CONNECTED))
        endpoint = self.service.portEndpoints["1/0/0"]
        yield waitUntil(lambda: endpoint.mediaLeg is not None and endpoint.mediaLeg.sending
                        and phone.media.transmitters and phone.media.packetsReceived > 5,
                        "media both ways between the phone and 1/0/0", phone)
        return port, endpoint

    @bounded
    def test_securePhoneToPortWithWav(self) -> None:
        """
        A secure phone dials 81234: 1/0/0 rings and goes off hook; a WAV file
        played into the port arrives at the phone as SRTP that decrypts to
        the same G.711 payloads, the phone's audio reaches the port's
        recording sample for sample, the call shows as secure, and the
        statistics show traffic and no loss on loopback.
        """
        yield self.startRouter()
        phone, dn = yield self.phone("0000000000E1")
        port, endpoint = yield self.phoneCallsPort(phone)
        self.assertTrue(endpoint.mediaLeg.secure)
        [orc] = phone.receivedOfType(m.OpenReceiveChannel)
        self.assertNotEqual(orc.rxKey.key, b"")
        self.assertEqual(phone.receivedOfType(m.CallInfo)[-1].callSecurityStatus, CallSecurityStatus.ENCRYPTED)

        samples = sampleAudio(8000)
        path = os.path.join(self.stateDir, "announcement.wav")
        writeWav(path, samples, WavEncoding.PCM16)
        recording = os.path.join(self.stateDir, "phone.wav")
        port.backend.record(recording, self.service.runInThread)
        port.backend.play(path)
        expected = g711.packetise(G711Law.ULAW, samples)
        yield waitUntil(lambda: port.dsp.playing is None, "the WAV file played out", phone, timeout=5)
        yield waitUntil(lambda: contains(phone.media.payloads, expected[-40:]), "the WAV at the phone", phone)
        self.assertEqual(phone.media.decryptFailures, 0)
        self.assertEqual(phone.media.plainPacketsReceived, 0)
        self.assertTrue(contains(phone.media.payloads, expected[-100:]))

        recorded = yield port.backend.stopRecording()
        self.assertGreater(len(recorded), 20 * FRAME_SAMPLES)
        tone = ToneGenerator(CallProgressTone.DIAL)
        sent = [g711.decode(G711Law.ULAW, g711.encode(G711Law.ULAW, tone.nextFrame())) for _ in range(10)]
        frames = [tuple(recorded[i:i + FRAME_SAMPLES]) for i in range(0, len(recorded) - FRAME_SAMPLES + 1,
                                                                        FRAME_SAMPLES)]
        self.assertIn(frames[0], sent)
        start = sent.index(frames[0])
        self.assertEqual(frames, [sent[(start + i) % 5] for i in range(len(frames))])

        snapshot = endpoint.mediaSnapshot()
        self.assertGreater(snapshot.send.packets, 50)
        self.assertGreater(snapshot.receive.packets, 20)
        self.assertEqual(snapshot.receive.lost, 0)
        self.assertEqual(snapshot.counters.authFailures, 0)
        offhook = yield runCommand(self.service, "show", "ephone", "offhook")
        self.assertIn("Active Secure Call on DN", offhook.text)
        line = [text for text in offhook.text.splitlines() if text.startswith("Tx Pkts")][0]
        fields = line.split()
        self.assertGreater(int(fields[2]), 0, line)
        self.assertGreater(int(fields[7]), 0, line)
        self.assertEqual(fields[10:12], ["Lost", "0"], line)
        summary = yield runCommand(self.service, "show", "voice", "port", "summary")
        self.assertIn("Media streams:", summary.text)
        self.assertIn("SRTP port", summary.text)
        status = yield runCommand(self.service, "show", "voice", "call", "status")
        self.assertIn(" 1/0/0 ", status.text)

        phone.onHook()
        yield waitUntil(lambda: endpoint.mediaLeg is None and not self.engine.calls(), "the call cleared", phone)
        port.backend.onHook()
        yield endpoint.closeMedia()
        self.assertEqual(self.service.portService.media.allocator.inUse, frozenset())

    @bounded
    def test_portCallsClearTextPhone(self) -> None:
        """
        Port 1/0/1 goes off hook and dials a clear-text phone's DN: the phone
        rings with the port's station-id as caller, answers, and gets plain
        RTP from the router; the port hears the phone.
        """
        yield self.startRouter()
        phone, dn = yield self.phone("0000000000E2", tls=False)
        port = self.port("1/0/1")
        port.backend.offHook()
        self.assertIs(port.dsp.playing, CallProgressTone.DIAL)
        port.backend.dial(dn)
        yield waitUntil(lambda: phone.receivedOfType(m.SetRinger) and any(
            msg.ringMode != 1 for msg in phone.receivedOfType(m.SetRinger)), "the phone ringing", phone, timeout=10)
        info = phone.receivedOfType(m.CallInfo)[-1]
        self.assertEqual((info.callingParty, info.callingPartyName), ("81236", "Lobby"))
        self.assertNotEqual(info.callSecurityStatus, CallSecurityStatus.ENCRYPTED)
        self.assertIs(port.dsp.playing, CallProgressTone.RINGBACK)
        phone.offHook()
        yield waitFor(phone, isCallState(CallState.CONNECTED))
        endpoint = self.service.portEndpoints["1/0/1"]
        yield waitUntil(lambda: phone.media.plainPacketsReceived > 10 and endpoint.mediaLeg is not None
                        and endpoint.mediaLeg.snapshot().receive.packets > 10, "plain RTP both ways", phone)
        self.assertFalse(endpoint.mediaLeg.secure)
        self.assertEqual(phone.media.packetsDecrypted, 0)
        self.assertTrue(port.dsp.lastReceived)
        port.backend.onHook()
        yield waitFor(phone, isCallState(CallState.ON_HOOK))
        phone.onHook()
        yield waitUntil(lambda: not self.engine.calls(), "the call cleared", phone)

    @bounded
    def test_badRtpIsCountedAndDropped(self) -> None:
        """
        Garbage, forged SRTP and packets from a stranger sent to the port's
        RTP port during a secure call are dropped and counted; the call and
        its audio carry on.
        """
        yield self.startRouter()
        phone, dn = yield self.phone("0000000000E3")
        port, endpoint = yield self.phoneCallsPort(phone)
        local = ("127.0.0.1", endpoint.mediaLeg.local[1])
        transmitter = list(phone.media.transmitters.values())[0]
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(stranger.close)
        stranger.bind(("127.0.0.1", 0))
        stranger.sendto(b"\x80garbage", local)
        forged = encodeRtp(RtpPacket(0, 1, 160, transmitter.ssrc, b"\xff" * 160)) + b"\x00" * 14
        stranger.sendto(forged, local)
        yield waitUntil(lambda: endpoint.mediaLeg.snapshot().counters.wrongSource >= 2, "the stranger counted", phone)
        before = endpoint.mediaLeg.snapshot().counters.delivered
        yield waitUntil(lambda: endpoint.mediaLeg.snapshot().counters.delivered > before + 10, "audio carries on",
                        phone)
        self.assertEqual(len(self.engine.calls()), 1)
        self.flushLoggedErrors()

    @bounded
    def test_rangeExhaustedRefusesWithReorder(self) -> None:
        """
        With every RTP port of the media range in use, a phone dialling
        81234 hears reorder and the port does not ring; an off-hook port
        hears reorder too; both refusals are logged and counted.
        """
        yield self.startRouter(rtpRange="41100-41103")
        allocator = self.service.portService.media.allocator
        held = [allocator.allocate() for _ in range(allocator.capacity)]
        events: list[dict] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        phone, dn = yield self.phone("0000000000E4")
        phone.offHook()
        phone.pressKeys("81234")
        yield waitFor(phone, lambda msg: isinstance(msg, m.StartTone) and msg.tone == Tone.REORDER)
        self.assertIs(self.port("1/0/0").status, PortStatus.IDLE)
        other = self.port("1/0/1")
        other.backend.offHook()
        self.assertIs(other.dsp.playing, CallProgressTone.REORDER)
        self.assertEqual(self.service.portService.media.refusals, 2)
        texts = [e.get("log_format", "") for e in events if e.get("log_namespace", "").startswith("srst.ports.media")]
        self.assertEqual(len([t for t in texts if "call refused" in t]), 2)
        for number in held:
            allocator.release(number)
        other.backend.onHook()
        phone.onHook()

    @bounded
    def test_rtpPoliced(self) -> None:
        """
        With a control-plane class matching UDP from the phone's address,
        the RTP the phone sends over the class's rate is dropped and counted
        in the policy's statistics; what conforms still plays, and the call's
        TCP signalling is not policed.
        """
        yield self.startRouter(rtpRange="41200-41219", policy=RTP_POLICY)
        phone, dn = yield self.phone("0000000000E5")
        port, endpoint = yield self.phoneCallsPort(phone)
        stats = self.service.controlPlane.stats().byName("rtp-class")
        yield waitUntil(lambda: self.service.controlPlane.stats().byName("rtp-class").droppedPackets > 20,
                        "RTP over the rate dropped", phone)
        stats = self.service.controlPlane.stats().byName("rtp-class")
        delivered = endpoint.mediaLeg.snapshot().counters.delivered
        self.assertGreater(delivered, 0)
        self.assertLess(delivered, phone.media.packetsSent)
        self.assertGreater(stats.packets, stats.droppedPackets)
        show = yield runCommand(self.service, "show", "policy-map", "control-plane")
        self.assertIn("rtp-class", show.text)
        phone.onHook()
        yield waitUntil(lambda: not self.engine.calls(), "the call cleared", phone)
        port.backend.onHook()
