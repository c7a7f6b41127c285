"""
End-to-end music on hold through the real router on 127.0.0.1
(L{srst.service.RouterService} with C{call-manager-fallback moh}):
simulated phones with L{srst.tools._phonemedia.PhoneMedia} (clear-text, and
TLS with LSCs for SRTP) and voice ports whose DSP records.  A held party
records what the router streams and it is the music-on-hold file; a secure
held phone gets it as SRTP with a router key (or, with C{moh-secure: tone},
the tone on hold); a voice port and an MGCP port in fallback hear it; a
file gone at run time gives the tone on hold until it is back; and
C{multicast-moh} reaches a group member on loopback.  Where the router's
timers matter (fallback, the file's recheck) its time is a
L{Clock}.  Waits are Deferreds fired by what the phones and ports receive,
with a bound.
"""

from __future__ import annotations

import math
import os
from typing import Any

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet import reactor
from twisted.internet.task import Clock, LoopingCall
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SkipTest, TestCase

from srst.media.multicast import listenGroup
from srst.media.rtp import PayloadType, decodeRtp
from srst.mgcp.fallback import FallbackStatus
from srst.media.srtp import SrtpError, SrtpReceiver, generateKeys
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.media import PACKET_INTERVAL
from srst.ports.wav import writeWav
from srst.sccp import messages as m
from srst.sccp.constants import CallSecurityStatus, CallState, Codec, SoftKeyEvent, Tone
from srst.sccp.srtpkeys import fromKeyInfo
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonemedia import PhoneMedia
from srst.tools._phonetypes import PhoneConfig
from srst.tools._phonewire import connectPhone
from tests.audiohelpers import decodePayloads, normalizedXcorr
from tests.callhelpers import answeredCall, expect, isCallState, isMessage, waitUntil
from tests.multicasthelpers import LOOPBACK, loopbackMulticast, randomGroup
from tests.phonehelpers import registeredPhone, routerYamlWithCapf, stopPhone
from tests.routerhelpers import (SECURE_CMF_HEAD, ClockedReactor, bounded, freePort, routerYaml, runCommand, startRouter,
                                 stateDirectory)
from tests.test_ports_moh import Phone as GroupMember

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
def directMedia(x: SimulatedPhone, y: SimulatedPhone, packets: int = 5) -> Any:
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


def musicFile(stateDir: str) -> tuple[list[int], str]:
    """
    Write L{music} into C{stateDir} as C{moh.wav}.

    @return: C{(samples, path)}.
    """
    samples = music()
    path = os.path.join(stateDir, "moh.wav")
    writeWav(path, samples)
    return samples, path


@bounded
def hold(holder: SimulatedPhone, held: SimulatedPhone, ref: int) -> Any:
    """
    C{holder} presses Hold; waits until the router closed C{held}'s call media.

    @return: C{(holderMark, heldMark)}: where both phones' messages stood before.
    """
    mark = len(holder.received), len(held.received)
    holder.softKey(SoftKeyEvent.HOLD, 1, ref)
    yield expect(holder, isCallState(CallState.HOLD, ref), "hold", mark[0])
    yield expect(held, isMessage(m.CloseReceiveChannel), "held party's call media closed", mark[1])
    return mark


@bounded
def resume(holder: SimulatedPhone, held: SimulatedPhone, ref: int) -> Any:
    """
    C{holder} presses Resume; waits until it is connected again and the
    phones talk directly.
    """
    mark = len(holder.received)
    holder.softKey(SoftKeyEvent.RESUME, 1, ref)
    yield expect(holder, isCallState(CallState.CONNECTED, ref), "resumed", mark)
    yield directMedia(holder, held)


@bounded
def recordMusic(held: SimulatedPhone, since: int) -> Any:
    """
    Wait for the music's OpenReceiveChannel to C{held} and record
    L{RECORDED_FRAMES} packets from it (what came before the music's
    receive port opened was the call's).

    @return: C{(orc, recording)}: the message and the decoded samples.
    """
    orc = yield expect(held, isMessage(m.OpenReceiveChannel), "the music opened", since)
    yield waitUntil(lambda: orc.passThruPartyId in held.media.channels, "music port open", held)
    held.media.payloads.clear()
    held.media.captured.clear()
    yield waitUntil(lambda: len(held.media.payloads) >= RECORDED_FRAMES, "the music", held)
    law = G711Law.ALAW if held.media.lastPacket.payloadType == PayloadType.PCMA else G711Law.ULAW
    return orc, decodePayloads(list(held.media.payloads)[:RECORDED_FRAMES], law)


class MohIntegrationTests(TestCase):
    """
    A held clear phone hears the C{moh} file from the router.
    """

    timeout = 20

    @bounded
    def setUp(self) -> Any:
        stateDir = stateDirectory(self)
        self.samples, self.path = musicFile(stateDir)
        self.service = yield startRouter(self, routerYaml(stateDir, extra=CMF.format(moh=self.path)))
        self.phones: list[SimulatedPhone] = []

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
        connected = yield answeredCall(a, b, DN_B)
        refA = connected.callReference
        yield directMedia(a, b)

        mark = yield hold(a, b, refA)
        orc, recording = yield recordMusic(b, mark[1])
        self.assertEqual(a.media.channels, {})
        self.assertGreaterEqual(normalizedXcorr(recording, self.samples), 0.9)
        [row] = self.service.mediaFarm.holdMusic.rows()
        self.assertEqual(row.label, "ephone-2[2]")  # Bob's ephone
        dsp = yield runCommand(self.service, "show", "voice", "dsp")
        [line] = dsp.text.splitlines()[3:]
        self.assertRegex(line, r"^SRST  001 01 g711(u|a)law   1\.0   busy  idle      0  0 moh          0     0 \d+/0$")
        [facts] = dsp.data
        self.assertEqual((facts["voicePort"], facts["secure"], facts["rxPackets"]), ("moh", False, 0))
        self.assertGreaterEqual(facts["txPackets"], RECORDED_FRAMES)

        yield resume(a, b, refA)
        self.assertEqual(self.service.mediaFarm.holdMusic.rows(), [])

    @bounded
    def test_alawPhoneHearsTheFile(self) -> Any:
        """
        Bob's phone offers G.711 A-law only (its CapabilitiesRes): held by
        Alice, Bob's music is opened as A-law, comes as PCMA, and what he
        records, decoded as A-law, is the file (correlation >= 0.9).
        """
        [(a, dn)] = yield gatherResults([registeredPhone(self, self.service, ALICE, tls=False)])
        b = SimulatedPhone(PhoneConfig(mac=BOB, capabilities=[m.MediaCapability(Codec.G711_ALAW_64K, 40)]),
                           clock=reactor)
        self.addCleanup(PhoneMedia(b, reactor=reactor).stop)
        connected = connectPhone(reactor, b, "127.0.0.1", self.service.ports()["sccp"])
        self.addCleanup(stopPhone, b, connected)
        yield b.whenRegistered()
        connected = yield answeredCall(a, b, DN_B)
        ref = connected.callReference
        yield directMedia(a, b)

        mark = yield hold(a, b, ref)
        orc, recording = yield recordMusic(b, mark[1])  # decoded as the packets' payload type says
        self.assertEqual(orc.compressionType, Codec.G711_ALAW_64K)
        self.assertEqual(b.media.lastPacket.payloadType, PayloadType.PCMA)
        self.assertGreaterEqual(normalizedXcorr(recording, self.samples), 0.9)
        dsp = yield runCommand(self.service, "show", "voice", "dsp")
        [line] = dsp.text.splitlines()[3:]
        self.assertRegex(line, r"^SRST  001 01 g711alaw ")


SECURE_CMF = SECURE_CMF_HEAD + """
  max-ephones: 6
  max-dn: 6
  moh: {moh}
  moh-secure: {mode}
  ephones:
    - {{mac: 0000.0000.00B1, type: "7970", buttons: [{{line: 1, dn: "5001", name: Alice}}]}}
    - {{mac: 0000.0000.00B2, type: "7970", buttons: [{{line: 1, dn: "5002", name: Bob}}]}}
    - {{mac: 0000.0000.00B3, type: "7970", buttons: [{{line: 1, dn: "5003", name: Carol}}]}}
    - {{mac: 0000.0000.00B4, type: "7970", buttons: [{{line: 1, dn: "5004", name: Dave}}]}}
"""

S_ALICE, S_BOB, S_CAROL, S_DAVE = "0000000000B1", "0000000000B2", "0000000000B3", "0000000000B4"
HOLD_TONE = isMessage(m.StartTone, tone=Tone.HOLD)


class _RouterWithMoh(TestCase):
    """
    A router with C{moh} and C{moh-secure: mode}, TLS phones with LSCs
    and clear phones.
    """

    timeout = 20
    mode = "srtp"

    @bounded
    def setUp(self) -> Any:
        stateDir = stateDirectory(self)
        self.samples, self.path = musicFile(stateDir)
        self.service = yield startRouter(self, routerYamlWithCapf(
            stateDir, SECURE_CMF.format(moh=self.path, mode=self.mode)))

    @bounded
    def register(self, *phones: tuple[str, bool]) -> Any:
        """@return: registered phones with media, one per C{(mac, tls)}, in order."""
        registered = yield gatherResults([registeredPhone(self, self.service, mac, tls=tls)
                                          for mac, tls in phones])
        return [phone for phone, dn in registered]


class SecureMohIntegrationTests(_RouterWithMoh):
    """
    C{moh-secure: srtp} (the default): a held TLS phone hears the music as
    SRTP with keys the router generated, and keeps its lock.
    """

    @bounded
    def test_securePhoneHearsSrtpMusic(self) -> Any:
        """
        Alice (TLS) holds Bob (TLS): Bob's music ORC carries a fresh
        router key; what Bob records with it is the file (correlation >=
        0.9); a third key set decrypts none of the packets; Bob's CallInfo
        is not re-sent (still Encrypted: the lock stays); Alice receives
        nothing while Bob listens.
        """
        a, b = yield self.register((S_ALICE, True), (S_BOB, True))
        connected = yield answeredCall(a, b, "5002")
        ref = connected.callReference
        info = b.receivedOfType(m.CallInfo)[-1]
        self.assertEqual(info.callSecurityStatus, CallSecurityStatus.ENCRYPTED)
        callKeys = {orc.rxKey.key for phone in (a, b) for orc in phone.receivedOfType(m.OpenReceiveChannel)}
        mark = yield hold(a, b, ref)
        yield waitUntil(lambda: not a.media.active, "Alice's media closed", a)
        heardByAlice = a.media.packetsReceived
        orc, recording = yield recordMusic(b, mark[1])
        self.assertNotEqual(orc.rxKey, m.NO_KEY)
        self.assertNotIn(orc.rxKey.key, callKeys)
        self.assertGreaterEqual(normalizedXcorr(recording, self.samples), 0.9)
        self.assertEqual(b.media.plainPacketsReceived, 0)
        captured = list(b.media.captured)
        self.assertGreaterEqual(len(captured), RECORDED_FRAMES)
        handedOut, third = SrtpReceiver(fromKeyInfo(orc.rxKey)), SrtpReceiver(generateKeys())
        for packet in captured:
            handedOut.unprotect(packet)
            self.assertRaises(SrtpError, third.unprotect, packet)
        self.assertEqual(b.receivedOfType(m.CallInfo)[-1], info)
        self.assertEqual([msg for msg in b.received[mark[1]:] if isMessage(m.CallInfo)(msg) or HOLD_TONE(msg)],
                         [])
        self.assertEqual((a.media.channels, a.media.packetsReceived), ({}, heardByAlice))
        [row] = self.service.mediaFarm.holdMusic.rows()
        self.assertTrue(row.snapshot.secure)


class ToneOnHoldIntegrationTests(_RouterWithMoh):
    """
    C{moh-secure: tone} (IOS): a held secure phone hears the tone on hold,
    a held clear phone on the same router still hears the music.
    """

    mode = "tone"

    @bounded
    def test_secureGetsToneClearGetsMusic(self) -> Any:
        """
        Alice (TLS) holds Bob (TLS): Bob gets StartTone(Hold) and no
        OpenReceiveChannel.  Carol (clear) holds Dave (clear): Dave records
        the file.
        """
        a, b, c, d = yield self.register((S_ALICE, True), (S_BOB, True), (S_CAROL, False), (S_DAVE, False))
        connected = yield answeredCall(a, b, "5002")
        mark = yield hold(a, b, connected.callReference)
        yield expect(b, HOLD_TONE, "tone on hold", mark[1])
        connected = yield answeredCall(c, d, "5004")
        markD = yield hold(c, d, connected.callReference)
        orc, recording = yield recordMusic(d, markD[1])
        self.assertEqual(orc.rxKey, m.NO_KEY)
        self.assertGreaterEqual(normalizedXcorr(recording, self.samples), 0.9)
        self.assertEqual([msg for msg in b.received[mark[1]:] if isMessage(m.OpenReceiveChannel)(msg)], [])
        self.assertEqual(b.media.channels, {})
        [row] = self.service.mediaFarm.holdMusic.rows()
        self.assertRegex(row.label, r"^ephone-4\[\d\]$")  # Dave's ephone
        self.assertFalse(row.snapshot.secure)


PORT_CMF = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  max-ephones: 2
  max-dn: 2
  moh: {moh}
  ephones:
    - {{mac: 0000.0000.00A1, type: "7970", buttons: [{{line: 1, dn: "4001", name: Alice}}]}}
voice-ports:
  1/0/0: {{signal: fxs-loop-start}}
dial-peers:
  - {{tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0}}
"""

SETTLING_FRAMES = 5
"""Frames a port's recording skips: what was on the way before the music (the phone's audio)."""


def bestRotation(recording: list[int], samples: list[int]) -> float:
    """
    The best L{normalizedXcorr} of C{recording} against the looped
    C{samples} started at any whole frame: a listener that was already
    playing when the recording began.
    """
    frames = len(samples) // FRAME_SAMPLES
    return max(normalizedXcorr(recording, (samples[k * FRAME_SAMPLES:] + samples * 2)[:len(recording)])
               for k in range(frames))


class _HeldPortTests(TestCase):
    """
    A voice port (FXS, the simulated line's DSP) as the held party.
    """

    timeout = 20

    @bounded
    def setUp(self) -> Any:
        stateDir = stateDirectory(self)
        self.samples, self.path = musicFile(stateDir)
        self.service = yield startRouter(self, routerYaml(stateDir, extra=PORT_CMF.format(moh=self.path)))

    @bounded
    def recordPort(self, frames: int) -> Any:
        """@return: the next C{frames} frames the port's DSP receives, decoded."""
        recorded: Deferred[None] = Deferred()
        dsp = self.service.voicePorts[0].dsp
        dsp.startRecording(frames * FRAME_SAMPLES, lambda: recorded.callback(None))
        yield recorded
        return list(dsp.takeRecording() or ())

    @bounded
    def portHeldByPhone(self) -> Any:
        """
        A phone calls 1/0/0 (81234), the line answers, the phone holds:
        what the port's DSP receives is the music-on-hold file
        (correlation >= 0.9, from whichever frame the stream was at).

        @return: C{(phone, ref)}: the phone and its call reference.
        """
        [(phone, dn)] = yield gatherResults([registeredPhone(self, self.service, ALICE, tls=False)])
        phone.offHook()
        phone.pressKeys("81234")
        yield expect(phone, isCallState(CallState.RING_OUT), "ring out")
        result = yield runCommand(self.service, "voice-port", "1/0/0", "offhook")
        self.assertEqual(result.exitCode, 0)
        connected = yield expect(phone, isCallState(CallState.CONNECTED), "connected")
        ref = connected.callReference
        yield waitUntil(lambda: phone.media.plainPacketsReceived >= 5, "the port's audio", phone)

        mark = len(phone.received)
        phone.softKey(SoftKeyEvent.HOLD, 1, ref)
        yield expect(phone, isCallState(CallState.HOLD, ref), "hold", mark)
        [row] = self.service.mediaFarm.holdMusic.rows()
        self.assertEqual(row.label, "voice-port 1/0/0")
        recording = yield self.recordPort(SETTLING_FRAMES + RECORDED_FRAMES)
        self.assertGreaterEqual(bestRotation(recording[SETTLING_FRAMES * FRAME_SAMPLES:], self.samples), 0.9)
        return phone, ref



class VoicePortMohIntegrationTests(_HeldPortTests):
    """
    A voice port under local call control (FXS) held by a phone.
    """

    @bounded
    def test_heldPortHearsTheFile(self) -> Any:
        """
        A phone calls 1/0/0, the line answers, the phone holds: what the
        port's DSP receives is the music-on-hold file (correlation >= 0.9,
        from whichever frame the stream was at); resume reconnects the
        phone and the port directly (each sends to the other's address).
        """
        phone, ref = yield self.portHeldByPhone()

        mark = len(phone.received)
        phone.softKey(SoftKeyEvent.RESUME, 1, ref)
        yield expect(phone, isCallState(CallState.CONNECTED, ref), "resumed", mark)
        orc = yield expect(phone, isMessage(m.OpenReceiveChannel), "media reopened", mark)
        smt = yield expect(phone, isMessage(m.StartMediaTransmission), "sending again", mark)
        yield waitUntil(lambda: orc.passThruPartyId in phone.media.channels, "receive port open", phone)
        base = phone.media.plainPacketsReceived
        yield waitUntil(lambda: phone.media.plainPacketsReceived >= base + 5, "the port's audio again", phone)
        self.assertEqual(self.service.mediaFarm.holdMusic.rows(), [])
        port = self.service.portService.mediaOf("1/0/0")
        local = phone.media.channels[orc.passThruPartyId].port.getHost().port
        self.assertEqual((port.remote, port.localPort), (("127.0.0.1", local), smt.remotePortNumber))
        self.assertEqual(phone.media.lastPacket.ssrc, port.ssrc)


MGCP_PORT_CMF = PORT_CMF.replace('port: 1/0/0}', 'port: 1/0/0, application: mgcpapp}') + """
mgcp:
  bind: {{host: 127.0.0.1, port: 0}}
  call-agent: {{host: 127.0.0.1, port: {agentPort}}}
  timers: {{request-timeout-ms: 100, request-timeout-max-ms: 200, tsmax: 1, tdinit: 1}}
ccm-manager:
  fallback-mgcp: true
  keepalive-interval: 1
  failover-interval: 2
"""


@bounded
def startFallbackRouter(testCase: TestCase, yamlText: str) -> Any:
    """
    Start a router whose MGCP call agent never answers and whose time is
    a L{Clock}: advanced past the failover interval (its C{ccm-manager}
    keepalive 1 s, failover 2 s), then 20 ms per 20 ms of the reactor's
    own time (the media pump).  1/0/0 is then under local call control.

    @return: the router service, in fallback.
    """
    clock = Clock()
    service = yield startRouter(testCase, yamlText, reactor=ClockedReactor(reactor, clock))
    monitor = service.mgcpService.monitor
    testCase.assertIsNot(monitor.status, FallbackStatus.FALLBACK)
    clock.pump([0.1] * 30)
    testCase.assertIs(monitor.status, FallbackStatus.FALLBACK)
    testCase.assertTrue(service.portEndpoints["1/0/0"].active, "1/0/0 under local call control")
    pump = LoopingCall(clock.advance, PACKET_INTERVAL)
    pump.start(PACKET_INTERVAL, now=False)
    testCase.addCleanup(pump.stop)
    return service


class MgcpPortMohIntegrationTests(_HeldPortTests):
    """
    An MGCP-controlled port (C{application mgcpapp}) in fallback, held by a
    phone: the router's local call control plays it the music.  The call
    agent never answers; the router's time is a L{Clock}, advanced past
    the 2 s failover interval, then 20 ms per 20 ms of the reactor's own
    time (the media pump).
    """

    @bounded
    def setUp(self) -> Any:
        stateDir = stateDirectory(self)
        self.samples, self.path = musicFile(stateDir)
        yaml = routerYaml(stateDir, extra=MGCP_PORT_CMF.format(moh=self.path, agentPort=freePort()))
        self.service = yield startFallbackRouter(self, yaml)

    @bounded
    def test_heldMgcpPortHearsTheFile(self) -> Any:
        """
        The phone holds the fallback port: the port's DSP records the file.
        """
        yield self.portHeldByPhone()


class FileGoneIntegrationTests(TestCase):
    """
    The music-on-hold file disappears while the router runs, then comes
    back.  The router's time is a L{Clock} (advanced past the file's
    30 s recheck by the test, and 20 ms per 20 ms of the reactor's own
    time for the media pump).
    """

    timeout = 20

    @bounded
    def setUp(self) -> Any:
        stateDir = stateDirectory(self)
        self.samples, self.path = musicFile(stateDir)
        self.clock = Clock()
        self.logged: list[str] = []
        observer = lambda event: self.logged.append(formatEvent(event))  # noqa: E731
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.service = yield startRouter(self, routerYaml(stateDir, extra=CMF.format(moh=self.path)),
                                         reactor=ClockedReactor(reactor, self.clock))
        pump = LoopingCall(self.clock.advance, PACKET_INTERVAL)
        pump.start(PACKET_INTERVAL, now=False)
        self.addCleanup(pump.stop)

    def mohLines(self) -> list[str]:
        """@return: what was logged about the music-on-hold file."""
        return [line for line in self.logged if line.startswith("music on hold file")]

    def recheck(self) -> None:
        """Advance the router's time past the next check of the file."""
        self.clock.advance(self.service.mediaFarm.holdMusic.recheck)

    @bounded
    def holdAndResume(self, a: SimulatedPhone, b: SimulatedPhone, ref: int, music: bool) -> Any:
        """
        C{a} holds C{b}: C{b} records the file when C{music}, else hears
        the tone on hold and gets no media; then C{a} resumes and the
        phones talk directly again.
        """
        mark = yield hold(a, b, ref)
        if music:
            orc, recording = yield recordMusic(b, mark[1])
            self.assertGreaterEqual(normalizedXcorr(recording, self.samples), 0.9)
        else:
            yield expect(b, HOLD_TONE, "tone on hold", mark[1])
            self.assertEqual([msg for msg in b.received[mark[1]:] if isMessage(m.OpenReceiveChannel)(msg)], [])
            self.assertEqual(self.service.mediaFarm.holdMusic.rows(), [])
        yield resume(a, b, ref)

    @bounded
    def test_fileGoneThenBack(self) -> Any:
        """
        The file is deleted: after the recheck a hold gives the tone on
        hold, with one warning naming the file and why, however many
        checks and holds follow; the call goes on (resume, direct media).
        The file is written again: after the next check, one info line,
        and a hold gives the music again.
        """
        registered = yield gatherResults([registeredPhone(self, self.service, mac, tls=False)
                                          for mac in (ALICE, BOB)])
        a, b = [phone for phone, dn in registered]
        connected = yield answeredCall(a, b, DN_B)
        ref = connected.callReference
        yield directMedia(a, b)
        self.assertEqual(self.mohLines(), [])

        os.remove(self.path)
        self.recheck()
        gone = ["music on hold file %s unreadable (cannot read: No such file or directory): tone on hold"
                % (self.path,)]
        self.assertEqual(self.mohLines(), gone)
        self.assertFalse(self.service.mediaFarm.holdMusic.available())
        yield self.holdAndResume(a, b, ref, music=False)
        self.recheck()
        yield self.holdAndResume(a, b, ref, music=False)
        self.assertEqual(self.mohLines(), gone)

        writeWav(self.path, self.samples)
        self.recheck()
        self.assertEqual(self.mohLines(), gone + ["music on hold file %s readable again: music on hold"
                                                  % (self.path,)])
        yield self.holdAndResume(a, b, ref, music=True)
        self.assertEqual([registered.deviceName for registered in (a, b)
                          if self.service.registry.byMac(registered.config.mac) is None], [])


class MulticastMohIntegrationTests(TestCase):
    """
    C{multicast-moh} in a running router's configuration: the router also
    streams the file to the group (TTL 0, on 127.0.0.1: this host only).
    No timer of the router's matters here: it runs on the real reactor,
    its media pump on real time.
    """

    timeout = 20

    @bounded
    def test_groupMemberHearsTheFile(self) -> Any:
        """
        A member of the group, joined on 127.0.0.1, records the file from
        the router's multicast stream (correlation >= 0.9, from whichever
        frame it was at); C{show voice dsp} lists the stream.
        """
        reason = loopbackMulticast(self.addCleanup)
        if reason is not None:
            raise SkipTest(reason)
        stateDir = stateDirectory(self)
        samples, path = musicFile(stateDir)
        group, port = randomGroup(), 16384 + 2 * (os.getpid() % 8000)
        cmf = CMF.format(moh=path) + "  multicast-moh: {address: %s, port: %d, ttl: 0}\n" % (group, port)
        member = GroupMember()
        listening = yield listenGroup(reactor, group, port, LOOPBACK, member)
        self.addCleanup(listening.stopListening)
        self.service = yield startRouter(self, routerYaml(stateDir, extra=cmf))
        [row] = self.service.mediaFarm.holdMusic.rows()
        self.assertEqual(row.label, "multicast %s:%d" % (group, port))
        yield member.got(RECORDED_FRAMES)
        packets = [decodeRtp(datagram) for datagram in member.datagrams[:RECORDED_FRAMES]]
        self.assertEqual({packet.payloadType for packet in packets}, {PayloadType.PCMU})
        recording = decodePayloads([packet.payload for packet in packets], G711Law.ULAW)
        self.assertGreaterEqual(bestRotation(recording, samples), 0.9)
