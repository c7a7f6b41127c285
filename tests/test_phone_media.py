"""
Tests for L{srst.tools._phonemedia}: a simulated phone's RTP and SRTP.

The unit tests drive L{PhoneMedia} with a fake phone and a fake reactor
(a L{Clock} with in-memory UDP ports); the integration tests put two
simulated phones with media through the real router on 127.0.0.1 and
count what flows between them.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Optional

import attrs

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.debug import DebugSwitches
from srst.media.rtp import PayloadType, RtpPacket, decodeRtp, encodeRtp
from srst.media.srtp import (
    SrtpError,
    SrtpKeys,
    SrtpProfile,
    SrtpReceiver,
    SrtpSender,
    generateKeys,
)
from srst.ports.g711 import G711Law, decode
from srst.sccp import messages as m
from srst.sccp.constants import CallState, Codec, MediaStatus
from srst.sccp.srtpkeys import toKeyInfo
from srst.tools._phoneclient import SimulatedPhone
from srst.ports.g711 import encode
from srst.tools._phonemedia import DEBUG_NAMESPACE, PACKET_INTERVAL, FileSource, PhoneMedia, Recording, sineFrames
from srst.tools._phonetypes import PhoneConfig
from tests.dtmfhelpers import goertzelPower
from tests.callhelpers import isCallState, rings, waitFor, waitUntil
from tests.phonehelpers import registeredPhone, routerYamlWithCapf
from tests.routerhelpers import bounded, startRouter, stateDirectory
from tests.test_sccp_integration import CMF

KEYS_AB = SrtpKeys(SrtpProfile.AES_CM_128_HMAC_SHA1_32, b"\x01" * 16, b"\x02" * 14)
KEYS_BA = SrtpKeys(SrtpProfile.AES_CM_128_HMAC_SHA1_32, b"\x03" * 16, b"\x04" * 14)


class FakeUdpPort:
    """An in-memory UDP port of L{FakeUdpReactor}."""

    def __init__(self, reactor: FakeUdpReactor, protocol: Any, interface: str, port: int) -> None:
        self.reactor = reactor
        self.protocol = protocol
        self.address = (interface, port)
        self.listening = True

    def getHost(self) -> IPv4Address:
        return IPv4Address("UDP", *self.address)

    def write(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self.reactor.written.append((self.address, addr, datagram))
        target = self.reactor.ports.get(addr)
        if target is not None and self.reactor.deliver:
            target.protocol.datagramReceived(datagram, self.address)

    def stopListening(self) -> None:
        self.listening = False
        del self.reactor.ports[self.address]
        self.protocol.doStop()


class FakeUdpReactor(Clock):
    """
    A L{Clock} with in-memory UDP: every datagram written is recorded and,
    with C{deliver} on, handed to the port it is addressed to.
    """

    def __init__(self) -> None:
        super().__init__()
        self.ports: dict[tuple[str, int], FakeUdpPort] = {}
        self.written: list[tuple[tuple[str, int], tuple[str, int], bytes]] = []
        self.deliver = True
        self.refuse = False
        self._nextPort = 30000

    def listenUDP(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> FakeUdpPort:
        if self.refuse:
            raise CannotListenError(interface, port, OSError("refused by the test"))
        self._nextPort += 2
        fake = FakeUdpPort(self, protocol, interface, self._nextPort)
        self.ports[fake.address] = fake
        protocol.makeConnection(fake)
        return fake

    def sentTo(self, port: int) -> list[bytes]:
        """@return: the datagrams written to 127.0.0.1:C{port}."""
        return [data for _, to, data in self.written if to == ("127.0.0.1", port)]


class FakePhone:
    """The parts of a L{SimulatedPhone} that L{PhoneMedia} uses."""

    deviceName = "SEP00000000AAAA"

    def __init__(self) -> None:
        self.sent: list[m.Message] = []
        self.observers: list[Callable[[m.Message], None]] = []
        self.disconnected: Deferred[BaseException] = Deferred()
        self.media: Any = None

    def addMessageObserver(self, observer: Callable[[m.Message], None]) -> None:
        self.observers.append(observer)

    def whenDisconnected(self) -> Deferred[BaseException]:
        return self.disconnected

    def sendMessage(self, msg: m.Message) -> None:
        self.sent.append(msg)

    def receive(self, msg: m.Message) -> None:
        for observer in self.observers:
            observer(msg)


def orc(partyId: int = 0x1000101, keys: Optional[SrtpKeys] = None, codec: int = Codec.G711_ULAW_64K) -> m.OpenReceiveChannel:
    return m.OpenReceiveChannel(
        conferenceId=7, passThruPartyId=partyId, millisecondPacketSize=20, compressionType=codec,
        echoCancellation=0, codecMode=0, dynamicPayload=0, codecParam1=0, codecParam2=0, callReference=7,
        rxKey=toKeyInfo(keys))


def smt(port: int, partyId: int = 0x1000101, keys: Optional[SrtpKeys] = None,
        codec: int = Codec.G711_ULAW_64K, keyInfo: Optional[m.KeyInfo] = None) -> m.StartMediaTransmission:
    if keyInfo is None:
        keyInfo = toKeyInfo(keys)
    return m.StartMediaTransmission(
        conferenceId=7, passThruPartyId=partyId, remoteIpAddr=ipaddress.IPv4Address("127.0.0.1"),
        remotePortNumber=port, millisecondPacketSize=20, compressionType=codec, precedenceValue=0xB8,
        silenceSuppression=0, maxFramesPerPacket=0, codecMode=0, dynamicPayload=0, codecParam1=0,
        codecParam2=0, callReference=7, txKey=keyInfo)


class PhoneMediaTests(SynchronousTestCase):
    """
    L{PhoneMedia} on a fake phone and a fake reactor.
    """

    def setUp(self) -> None:
        self.reactor = FakeUdpReactor()
        self.phone = FakePhone()
        self.media = PhoneMedia(self.phone, reactor=self.reactor)

    def frames(self, count: int) -> None:
        """Advance the clock by C{count} packet intervals, a hair more each."""
        self.reactor.pump([PACKET_INTERVAL + 1e-6] * count)

    def test_attaches(self) -> None:
        """
        A new PhoneMedia becomes the phone's C{media} and observes its
        messages; nothing is open before the router asks.
        """
        self.assertIs(self.phone.media, self.media)
        self.assertEqual(self.phone.observers, [self.media.messageReceived])
        self.assertFalse(self.media.active)
        self.assertEqual(self.reactor.ports, {})

    def test_openReceiveChannelAck(self) -> None:
        """
        OpenReceiveChannel binds a UDP port on 127.0.0.1 and is answered
        with OpenReceiveChannelAck carrying that address and port, the
        passThruPartyId and the callReference.
        """
        self.phone.receive(orc(0x1234))
        [(address, port)] = self.reactor.ports
        self.assertEqual(address, "127.0.0.1")
        self.assertEqual(self.phone.sent, [m.OpenReceiveChannelAck(
            MediaStatus.OK, ipaddress.IPv4Address("127.0.0.1"), port, 0x1234, 7)])
        self.assertIsNone(self.media.channels[0x1234].receiver)

    def test_openReceiveChannelTwice(self) -> None:
        """
        A second OpenReceiveChannel for the same stream keeps its port,
        takes the new key and is acknowledged again with the same port.
        """
        self.phone.receive(orc(0x1234))
        self.phone.receive(orc(0x1234, keys=KEYS_AB))
        self.assertEqual(len(self.reactor.ports), 1)
        first, second = self.phone.sent
        self.assertEqual(first, second)
        self.assertIsNotNone(self.media.channels[0x1234].receiver)

    def test_noPort(self) -> None:
        """
        When no UDP port can be bound, the ack says OUT_OF_SOCKETS with
        port 0 and no channel is kept.
        """
        self.reactor.refuse = True
        self.phone.receive(orc(0x1234))
        [ack] = self.phone.sent
        self.assertEqual((ack.mediaReceptionStatus, ack.portNumber), (MediaStatus.OUT_OF_SOCKETS, 0))
        self.assertEqual(self.media.channels, {})

    def test_unusableRxKey(self) -> None:
        """
        An rx key block with an algorithm srst cannot use (AEAD) is
        acknowledged with ENCODER_OR_DECODER_FAILED and opens no port.
        """
        self.phone.receive(attrs.evolve(orc(0x1234), rxKey=m.KeyInfo(algorithmId=5, key=b"k" * 16,
                                                                      salt=b"s" * 14)))
        [ack] = self.phone.sent
        self.assertEqual(ack.mediaReceptionStatus, MediaStatus.ENCODER_OR_DECODER_FAILED)
        self.assertEqual(self.reactor.ports, {})

    def rtp(self, seq: int, payload: bytes = b"\xff" * 160) -> bytes:
        return encodeRtp(RtpPacket(payloadType=0, sequenceNumber=seq, timestamp=seq * 160, ssrc=0xCAFE,
                                   payload=payload))

    def test_receiveSrtp(self) -> None:
        """
        On a port opened with a key, packets protected with that key are
        counted as decrypted and their payload kept; packets under other
        keys and plain RTP count as decrypt failures.
        """
        self.phone.receive(orc(0x1234, keys=KEYS_AB))
        [ack] = self.phone.sent
        protocol = self.reactor.ports[("127.0.0.1", ack.portNumber)].protocol
        sender = SrtpSender(KEYS_AB)
        protocol.datagramReceived(sender.protect(self.rtp(1, b"\x01" * 160)), ("127.0.0.1", 9))
        protocol.datagramReceived(SrtpSender(KEYS_BA).protect(self.rtp(2)), ("127.0.0.1", 9))
        protocol.datagramReceived(self.rtp(3), ("127.0.0.1", 9))
        media = self.media
        self.assertEqual((media.packetsReceived, media.packetsDecrypted, media.decryptFailures,
                          media.plainPacketsReceived), (3, 1, 2, 0))
        self.assertEqual(media.lastPayload, b"\x01" * 160)
        self.assertEqual(len(media.captured), 3)

    def test_receivePlain(self) -> None:
        """
        On a port opened without a key, RTP is decoded as plain RTP and
        counted; a datagram that is not RTP counts as malformed.
        """
        self.phone.receive(orc(0x1234))
        [ack] = self.phone.sent
        protocol = self.reactor.ports[("127.0.0.1", ack.portNumber)].protocol
        protocol.datagramReceived(self.rtp(1, b"\x02" * 160), ("127.0.0.1", 9))
        protocol.datagramReceived(b"\x00junk", ("127.0.0.1", 9))
        media = self.media
        self.assertEqual((media.packetsReceived, media.plainPacketsReceived, media.malformedPackets,
                          media.packetsDecrypted), (2, 1, 1, 0))
        self.assertEqual(media.lastPacket.sequenceNumber, 1)
        self.assertEqual(media.lastPayload, b"\x02" * 160)
        self.assertEqual(media.channels[0x1234].statistics.snapshot().received, 1)

    def test_packetObservers(self) -> None:
        """
        A packet observer is called after every datagram received, counted
        whatever it was (decoded, malformed), until it is removed.
        """
        self.phone.receive(orc(0x1234))
        [ack] = self.phone.sent
        protocol = self.reactor.ports[("127.0.0.1", ack.portNumber)].protocol
        seen: list[int] = []
        observer = lambda: seen.append(self.media.packetsReceived)  # noqa: E731
        self.media.addPacketObserver(observer)
        protocol.datagramReceived(self.rtp(1), ("127.0.0.1", 9))
        protocol.datagramReceived(b"\x00junk", ("127.0.0.1", 9))
        self.media.removePacketObserver(observer)
        protocol.datagramReceived(self.rtp(2), ("127.0.0.1", 9))
        self.assertEqual(seen, [1, 2])

    def test_transmitterSending(self) -> None:
        """
        A transmitter is sending from StartMediaTransmission until it is
        stopped, after which its port is gone.
        """
        self.phone.receive(smt(24000, 0x1234))
        [transmitter] = self.media.transmitters.values()
        self.assertTrue(transmitter.sending)
        self.phone.receive(m.StopMediaTransmission(7, 0x1234, 7))
        self.assertEqual((transmitter.sending, transmitter.port), (False, None))

    def test_transmitPlain(self) -> None:
        """
        StartMediaTransmission with G.711 u-law and no key sends a plain
        RTP packet at once and one every 20 ms: payload type 0, 160 bytes,
        consecutive sequence numbers, timestamps 160 apart, one SSRC,
        marker on the first packet only; the audio is a tone, not silence.
        """
        self.phone.receive(smt(24000))
        self.frames(49)
        packets = [decodeRtp(data) for data in self.reactor.sentTo(24000)]
        self.assertEqual(len(packets), 50)
        self.assertEqual(self.media.packetsSent, 50)
        self.assertEqual({(p.payloadType, len(p.payload), p.ssrc) for p in packets},
                         {(PayloadType.PCMU, 160, self.media.transmitters[0x1000101].ssrc)})
        for before, after in zip(packets, packets[1:]):
            self.assertEqual((after.sequenceNumber - before.sequenceNumber) % 65536, 1)
            self.assertEqual((after.timestamp - before.timestamp) % 2**32, 160)
        self.assertEqual([p.marker for p in packets], [True] + [False] * 49)
        self.assertGreater(max(abs(s) for s in decode(G711Law.ULAW, packets[-1].payload)), 1000)

    def test_transmitSource(self) -> None:
        """
        A phone given a C{source} sends its frames instead of the tone: with
        L{sineFrames}C{(500)} the recording is a 500 Hz sine, continuous
        across packets (one period per 16 samples), far above 1100 Hz, a
        different participant's tone.
        """
        media = PhoneMedia(FakePhone(), reactor=self.reactor, source=sineFrames(500, 8000))
        media.phone.receive(smt(24002))
        self.frames(4)
        samples = [s for data in self.reactor.sentTo(24002) for s in decode(G711Law.ULAW, decodeRtp(data).payload)]
        self.assertEqual(len(samples), 800)
        self.assertTrue(7000 < max(samples) < 8200, max(samples))
        for n in (0, 159, 160, 161, 799):
            self.assertLess(abs(samples[n] - samples[n + 16] if n + 16 < 800 else samples[n] - samples[n - 16]),
                            400, n)
        self.assertGreater(goertzelPower(samples, 500), 1000 * goertzelPower(samples, 1100))

    def test_transmitAlaw(self) -> None:
        """
        compressionType G.711 A-law sends payload type 8.
        """
        self.phone.receive(smt(24000, codec=Codec.G711_ALAW_64K))
        [data] = self.reactor.sentTo(24000)
        self.assertEqual(decodeRtp(data).payloadType, PayloadType.PCMA)

    def test_lateTick(self) -> None:
        """
        When the clock jumps 100 ms, one packet goes out and its timestamp
        accounts for the five frames that passed.
        """
        self.phone.receive(smt(24000))
        self.reactor.advance(0.1)
        first, second = [decodeRtp(data) for data in self.reactor.sentTo(24000)]
        self.assertEqual((second.timestamp - first.timestamp) % 2**32, 800)
        self.assertEqual((second.sequenceNumber - first.sequenceNumber) % 65536, 1)

    def test_transmitSrtp(self) -> None:
        """
        With a tx key every packet is SRTP under that key: it decrypts with
        the key to G.711 RTP, carries a 4-byte tag, and does not decrypt
        under another key.
        """
        self.phone.receive(smt(24000, keys=KEYS_AB))
        self.frames(9)
        sent = self.reactor.sentTo(24000)
        self.assertEqual(len(sent), 10)
        receiver = SrtpReceiver(KEYS_AB)
        transmitter = self.media.transmitters[0x1000101]
        for data in sent:
            self.assertEqual(len(data), 12 + 160 + 4)
            packet = decodeRtp(receiver.unprotect(data))
            self.assertEqual(packet.payloadType, PayloadType.PCMU)
        self.assertEqual(packet, transmitter.lastSent)
        self.assertNotEqual(decodeRtp(sent[-1][:-4]).payload, packet.payload)
        self.assertRaises(SrtpError, SrtpReceiver(KEYS_BA).unprotect, sent[0])

    def test_endToEnd(self) -> None:
        """
        Two PhoneMedias set up the way the router does it (ORC, ack, SMT to
        the acknowledged port) exchange SRTP both ways and decrypt every
        packet.
        """
        other = FakePhone()
        otherMedia = PhoneMedia(other, reactor=self.reactor)
        self.phone.receive(orc(1, keys=KEYS_BA))
        other.receive(orc(2, keys=KEYS_AB))
        [ackA], [ackB] = self.phone.sent, other.sent
        self.phone.receive(smt(ackB.portNumber, 1, keys=KEYS_AB))
        other.receive(smt(ackA.portNumber, 2, keys=KEYS_BA))
        self.frames(49)
        for media in self.media, otherMedia:
            self.assertEqual((media.packetsSent, media.packetsReceived, media.packetsDecrypted,
                              media.decryptFailures), (50, 50, 50, 0))

    def test_sendError(self) -> None:
        """
        A datagram the socket refuses is counted in C{sendErrors} and the
        stream keeps going.
        """
        self.phone.receive(smt(24000))
        [port] = self.reactor.ports.values()

        def refuse(datagram: bytes, addr: tuple[str, int]) -> None:
            raise OSError(1, "Operation not permitted")

        port.write = refuse  # type: ignore[method-assign]
        self.frames(2)
        self.assertEqual((self.media.sendErrors, self.media.packetsSent), (2, 1))
        self.assertTrue(self.media.transmitters[0x1000101]._call.running)

    def test_protectFailureStopsStream(self) -> None:
        """
        When SRTP protection fails the stream stops sending, the failure is
        logged and counted, and no timer is left behind.
        """
        self.phone.receive(smt(24000, keys=KEYS_AB))
        transmitter = self.media.transmitters[0x1000101]

        class Broken:
            def protect(self, rtp: bytes) -> bytes:
                raise SrtpError("protect", "test failure")

        transmitter.sender = Broken()  # type: ignore[assignment]
        self.frames(3)
        self.assertEqual(len(self.flushLoggedErrors(SrtpError)), 1)
        self.assertEqual((self.media.sendErrors, self.media.packetsSent), (1, 1))
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_unsupportedCodec(self) -> None:
        """
        StartMediaTransmission with a codec other than G.711 is answered
        with MediaTransmissionFailure and nothing is sent.
        """
        self.phone.receive(smt(24000, codec=Codec.G729))
        self.reactor.advance(1)
        self.assertEqual(self.reactor.written, [])
        [failure] = self.phone.sent
        self.assertIsInstance(failure, m.MediaTransmissionFailure)
        self.assertEqual((failure.passThruPartyId, failure.remotePortNumber), (0x1000101, 24000))
        self.assertEqual(self.media.failures, [failure])

    def test_unusableTxKey(self) -> None:
        """
        A tx key block with an unusable algorithm is answered with
        MediaTransmissionFailure; no clear-text media leaks.
        """
        self.phone.receive(smt(24000, keyInfo=m.KeyInfo(algorithmId=5, key=b"k" * 16, salt=b"s" * 14)))
        self.reactor.advance(1)
        self.assertEqual(self.reactor.written, [])
        self.assertIsInstance(self.phone.sent[0], m.MediaTransmissionFailure)
        self.assertEqual(self.media.transmitters, {})

    def test_stopMediaTransmission(self) -> None:
        """
        StopMediaTransmission stops the packets and closes the sending
        port; CloseReceiveChannel closes the receive port.
        """
        self.phone.receive(orc(0x1234))
        self.phone.receive(smt(24000, 0x1234))
        self.reactor.advance(PACKET_INTERVAL)
        self.phone.receive(m.StopMediaTransmission(7, 0x1234, 7))
        self.reactor.advance(1)
        self.assertEqual(len(self.reactor.sentTo(24000)), 2)
        self.assertEqual(self.media.transmitters, {})
        self.assertEqual(len(self.reactor.ports), 1)
        self.phone.receive(m.CloseReceiveChannel(7, 0x1234, 7))
        self.assertEqual(self.reactor.ports, {})
        self.assertFalse(self.media.active)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_restartTransmission(self) -> None:
        """
        A second StartMediaTransmission for a stream re-points it: the old
        stream stops and a new one (new SSRC) goes to the new address.
        """
        self.phone.receive(smt(24000))
        oldSsrc = self.media.transmitters[0x1000101].ssrc
        self.phone.receive(smt(24002))
        self.reactor.advance(PACKET_INTERVAL)
        self.assertEqual(len(self.reactor.sentTo(24000)), 1)
        self.assertEqual(len(self.reactor.sentTo(24002)), 2)
        self.assertEqual(len(self.reactor.ports), 1)
        self.assertNotEqual(decodeRtp(self.reactor.sentTo(24002)[0]).ssrc, oldSsrc)

    def test_disconnectCleansUp(self) -> None:
        """
        When the phone's connection ends every timer stops and every port
        closes; media messages after that are ignored.
        """
        self.phone.receive(orc(0x1234))
        self.phone.receive(smt(24000, 0x1234))
        self.phone.disconnected.callback(ConnectionError("gone"))
        self.assertTrue(self.media.stopped)
        self.assertEqual((self.reactor.ports, self.reactor.getDelayedCalls()), ({}, []))
        self.phone.receive(orc(0x5678))
        self.assertEqual((self.reactor.ports, len(self.phone.sent)), ({}, 1))

    def test_stop(self) -> None:
        """
        L{PhoneMedia.stop} closes everything and fires once the ports are
        closed.
        """
        self.phone.receive(orc(0x1234))
        self.phone.receive(smt(24000, 0x1234))
        self.assertIsNone(self.successResultOf(self.media.stop()))
        self.assertEqual((self.reactor.ports, self.reactor.getDelayedCalls()), ({}, []))

    def test_phoneWithoutMedia(self) -> None:
        """
        A simulated phone has no media unless one is attached.
        """
        self.assertIsNone(SimulatedPhone(PhoneConfig(mac="0000000000AA"), clock=Clock()).media)


class FileSourceTests(SynchronousTestCase):
    """
    L{FileSource}: a file's frames once, then silence.
    """

    def test_framesThenSilence(self) -> None:
        """
        The file's samples come out in 160-sample frames, the last one
        padded; L{FileSource.whenPlayed} fires when the frame after the last
        is taken, and silence follows for as long as it is asked.
        """
        source = FileSource(list(range(1, 201)))
        played = source.whenPlayed()
        self.assertEqual(next(source), tuple(range(1, 161)))
        self.assertEqual(next(source), tuple(range(161, 201)) + (0,) * 120)
        self.assertNoResult(played)
        self.assertEqual([next(source), next(source)], [(0,) * 160] * 2)
        self.assertIsNone(self.successResultOf(played))
        self.assertEqual(source.duration, 0.025)


class RecordingTests(SynchronousTestCase):
    """
    L{Recording}: what the handset heard, in sequence order.
    """

    def packet(self, sequence: int, value: int, ssrc: int = 7, law: G711Law = G711Law.ULAW) -> RtpPacket:
        return RtpPacket(payloadType=law.payloadType, sequenceNumber=sequence, timestamp=sequence * 999,
                         ssrc=ssrc, payload=encode(law, [value] * 160))

    def test_lossLeavesSilence(self) -> None:
        """
        A gap in the sequence numbers (across the wrap) leaves a packet's
        length of silence per packet lost; a late or duplicate packet and a
        payload type that is not G.711 are left out; a new SSRC continues at
        the end; nothing is kept past the limit.
        """
        recording = Recording(limit=160 * 5)
        for packet in [self.packet(0xFFFF, 1000), self.packet(1, 2000), self.packet(0, 3000),
                       attrs.evolve(self.packet(2, 4000), payloadType=18), self.packet(40, 5000, ssrc=8, law=G711Law.ALAW),
                       self.packet(41, 6000, ssrc=8)]:
            recording.packetReceived(packet)
        heard = [decode(G711Law.ULAW, encode(G711Law.ULAW, [v]))[0] for v in (1000, 2000)]
        self.assertEqual(recording.samples[:160], [heard[0]] * 160)
        self.assertEqual(recording.samples[160:320], [0] * 160)
        self.assertEqual(recording.samples[320:480], [heard[1]] * 160)
        self.assertEqual(len(set(recording.samples[480:640])), 1)
        self.assertLess(abs(recording.samples[480] - 5000), 200)
        self.assertEqual(len(recording.samples), 800)
        self.assertEqual(recording.duration, 0.1)


class PhoneMediaDebugTests(SynchronousTestCase):
    """
    The media's debug lines go through the debug switches it is given.
    """

    def test_streamLines(self) -> None:
        """
        With C{srst.debug.phone.media} on, opening a receive channel and
        starting a transmission each log a debug line naming the device,
        the stream and its kind.
        """
        events: list[dict[str, Any]] = []
        switches = DebugSwitches(events.append)
        switches.enable(DEBUG_NAMESPACE)
        phone = FakePhone()
        PhoneMedia(phone, reactor=FakeUdpReactor(), debug=switches)
        phone.receive(orc(0x1234, keys=KEYS_AB))
        phone.receive(smt(24000, 0x1234))
        lines = [e for e in events if e["log_namespace"] == DEBUG_NAMESPACE]
        self.assertEqual([(e["device"], e["stream"], e["kind"]) for e in lines],
                         [(FakePhone.deviceName, 0x1234, "SRTP"), (FakePhone.deviceName, 0x1234, "RTP")])
        self.assertIn("receiving", lines[0]["log_format"])
        self.assertIn("sending", lines[1]["log_format"])

    def test_offByDefault(self) -> None:
        """
        Media given no switches has its own, all off: its debug lines reach
        no observer, not even the global one.
        """
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        phone = FakePhone()
        PhoneMedia(phone, reactor=FakeUdpReactor())
        phone.receive(orc(0x1234))
        phone.receive(smt(24000, 0x1234))
        self.assertEqual([e for e in events if e["log_namespace"].startswith("srst.debug")], [])


class PhoneMediaIntegrationTests(TestCase):
    """
    Simulated phones with media in calls through the real router.
    """

    timeout = 30

    @bounded
    def startRouter(self) -> Any:
        text = routerYamlWithCapf(stateDirectory(self), CMF.format(maxEphones=10))
        self.service = yield startRouter(self, text)
        self.caCertificate = self.service.certificateServer.caCertificate

    def phone(self, mac: str, tls: bool = True) -> Any:
        """@return: a L{Deferred} firing with a registered phone with media, and its DN."""
        return registeredPhone(self, self.service, mac, tls)

    @bounded
    def call(self, tlsB: bool) -> Any:
        """A (TLS) calls B, B answers; returns once both are told to send."""
        yield self.startRouter()
        a, _ = yield self.phone("0000000000E1")
        b, dnB = yield self.phone("0000000000E2", tls=tlsB)
        yield rings(a, b, dnB)
        smtA = waitFor(a, lambda msg: isinstance(msg, m.StartMediaTransmission))
        smtB = waitFor(b, lambda msg: isinstance(msg, m.StartMediaTransmission))
        b.offHook()
        yield smtA
        yield smtB
        return a, b

    @bounded
    def hangUp(self, a: SimulatedPhone, b: SimulatedPhone) -> Any:
        """A hangs up; both phones end on hook with their media closed."""
        onHookA, onHookB = waitFor(a, isCallState(CallState.ON_HOOK)), waitFor(b, isCallState(CallState.ON_HOOK))
        a.onHook()
        yield onHookA
        yield onHookB
        yield waitUntil(lambda: not (a.media.active or b.media.active), "media closed after hang-up", a, b)

    @bounded
    def test_secureCallMedia(self) -> None:
        """
        Two TLS phones send SRTP to each other under the keys the router
        distributed: at least 50 packets each way, at least 99 % of them
        decrypt, and fresh keys decrypt none of the captured packets; after
        the hang-up neither phone sends any more.
        """
        a, b = yield self.call(tlsB=True)
        yield waitUntil(lambda: min(a.media.packetsDecrypted, b.media.packetsDecrypted) >= 50,
                        "50 decrypted packets each way", a, b)
        for media in a.media, b.media:
            self.assertGreaterEqual(media.packetsDecrypted, 0.99 * media.packetsReceived)
            self.assertEqual((media.plainPacketsReceived, media.malformedPackets), (0, 0))
            self.assertEqual(len(media.lastPayload), 160)
            self.assertEqual(media.lastPacket.payloadType, PayloadType.PCMU)
            [transmitter] = media.transmitters.values()
            self.assertIsNotNone(transmitter.sender)
            stranger = SrtpReceiver(generateKeys())
            captured = list(media.captured)
            self.assertGreaterEqual(len(captured), 50)
            for data in captured:
                self.assertRaises(SrtpError, stranger.unprotect, data)
        for receiving, sending in (a, b), (b, a):
            [transmitter] = sending.media.transmitters.values()
            self.assertEqual(receiving.media.lastPacket.ssrc, transmitter.ssrc)
        transmitters = [t for phone in (a, b) for t in phone.media.transmitters.values()]
        self.assertEqual([t.sending for t in transmitters], [True, True])
        yield self.hangUp(a, b)
        self.assertEqual([(t.sending, t.port) for t in transmitters], [(False, None), (False, None)])

    @bounded
    def test_clearTextCallMedia(self) -> None:
        """
        A TLS phone calling a clear-text phone: no keys, both sides send and
        receive plain G.711 RTP and decrypt nothing.
        """
        a, b = yield self.call(tlsB=False)
        yield waitUntil(lambda: min(a.media.plainPacketsReceived, b.media.plainPacketsReceived) >= 50,
                        "50 plain packets each way", a, b)
        for media in a.media, b.media:
            self.assertEqual((media.packetsDecrypted, media.decryptFailures, media.malformedPackets), (0, 0, 0))
            self.assertEqual(media.plainPacketsReceived, media.packetsReceived)
            [channel] = media.channels.values()
            [transmitter] = media.transmitters.values()
            self.assertEqual((channel.receiver, transmitter.sender), (None, None))
            packet = decodeRtp(media.captured[-1])
            self.assertEqual((packet.payloadType, len(packet.payload)), (PayloadType.PCMU, 160))
        yield self.hangUp(a, b)
