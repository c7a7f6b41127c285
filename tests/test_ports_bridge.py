"""
Tests for L{srst.ports.bridge}: three SRTP phones (plain L{RtpStream}s on
127.0.0.1) sending 500, 1100 and 1700 Hz tones to a bridge whose pump runs
on a L{Clock}; each phone's recording is checked with the Goertzel filter.
"""

from __future__ import annotations

import math
from typing import Any, Generator

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from srst.calls.mediaservices import ConferenceRefused, IConferenceBridge, IConferenceBridges, IMediaPort
from srst.debug import DebugSwitches
from srst.media.portrange import RtpPortAllocator
from srst.media.srtp import SrtpError, SrtpKeys, SrtpReceiver, generateKeys
from srst.media.transport import RtpStream
from srst.ports.bridge import BridgePool, BridgePort, ConferenceBridge
from srst.ports.g711 import FRAME_SAMPLES, G711Law, decode, encode
from srst.ports.media import MediaPump, PortMediaResources
from srst.ports.mixer import JitterSlot
from tests.dtmfhelpers import goertzelPower
from tests.routerhelpers import bounded

HOST = "127.0.0.1"
TONES = (500.0, 1100.0, 1700.0)
FRAMES = 20
SETTLE = 3
"""Frames at the start of a recording left out of the checks."""

TICK = 1 / 64
"""The test pump's interval: exact in binary, so that the clock never falls short of a tick."""


class ClockedUDP:
    """Real UDP sockets on the global reactor, with the time of a L{Clock}."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "",
                  maxPacketSize: int = 8192) -> IListeningPort:
        return reactor.listenUDP(port, protocol, interface=interface, maxPacketSize=maxPacketSize)

    def callLater(self, *args: Any, **kwargs: Any) -> Any:
        return self.clock.callLater(*args, **kwargs)

    def seconds(self) -> float:
        return self.clock.seconds()

    def getDelayedCalls(self) -> Any:
        return self.clock.getDelayedCalls()


class NotifyingSlot(JitterSlot):
    """A jitter slot that fires a L{Deferred} per payload it is given."""

    def __init__(self) -> None:
        JitterSlot.__init__(self)
        self._waiting: list[Deferred[None]] = []

    def next(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self._waiting.append(d)
        return d

    def put(self, payload: bytes) -> None:
        JitterSlot.put(self, payload)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)


def tone(frequency: float, index: int, law: G711Law) -> bytes:
    """@return: frame C{index} of a sine of C{frequency} at -12 dBov."""
    start = index * FRAME_SAMPLES
    return encode(law, [int(8000 * math.sin(2 * math.pi * frequency * (start + n) / 8000))
                        for n in range(FRAME_SAMPLES)])


class TappedStream(RtpStream):
    """An L{RtpStream} that keeps every datagram it is sent, as it arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        RtpStream.__init__(self, *args, **kwargs)
        self.datagrams: list[bytes] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.datagrams.append(datagram)
        RtpStream.datagramReceived(self, datagram, addr)


class Phone:
    """A phone's media: an SRTP stream that records what it hears."""

    def __init__(self, clock: Clock, law: G711Law, txKeys: SrtpKeys | None, rxKeys: SrtpKeys | None,
                 interface: str = HOST) -> None:
        self.law = law
        self.heard: list[bytes] = []
        self._waiting: list[Deferred[None]] = []
        self.rxKeys = rxKeys
        self.stream = TappedStream(clock, debug=DebugSwitches(), payloadType=law.payloadType, txKeys=txKeys,
                                   rxKeys=rxKeys, onAudio=self._heard)
        self.listening = reactor.listenUDP(0, self.stream, interface=interface)
        self.address = (interface, self.listening.getHost().port)

    def _heard(self, payload: bytes) -> None:
        self.heard.append(payload)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)

    def next(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self._waiting.append(d)
        return d

    def power(self, frequency: float) -> float:
        samples = decode(self.law, b"".join(self.heard[SETTLE:]))
        return goertzelPower(samples, frequency)


class BridgeCase(TestCase):
    """A pool on a L{Clock} pump, binding real UDP ports on 127.0.0.1."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.allocator = RtpPortAllocator(HOST, "44100-44199")
        self.pump = MediaPump(self.clock, interval=TICK)
        self.resources = PortMediaResources(ClockedUDP(self.clock), self.allocator, self.pump,
                                            debug=DebugSwitches())
        self.reported: list[tuple[Any, ...]] = []
        self.pool = BridgePool(self.resources, self, maxConferences=2)
        self.addCleanup(self.pool.close)

    def mediaReady(self, leg: Any, passThruPartyId: int, host: str, port: int) -> None:
        self.reported.append(("ready", leg, passThruPartyId, host, port))

    def mediaFailed(self, leg: Any, reason: str) -> None:
        self.reported.append(("failed", leg, reason))

    def conference(self, laws: tuple[G711Law, ...] = (G711Law.ULAW, G711Law.ALAW, G711Law.ULAW),
                   secure: bool = True) -> tuple[ConferenceBridge, list[BridgePort], list[Phone]]:
        bridge = self.pool.reserve("ephone-1")
        bridge.secure = secure
        bridge.activate("1001")
        ports, phones = [], []
        for index, law in enumerate(laws, 1):
            toPhone = generateKeys() if secure else None
            toBridge = generateKeys() if secure else None
            port = bridge.addPort(index, law, toPhone, toBridge)
            port.slot = NotifyingSlot()
            phone = Phone(self.clock, law, toBridge, toPhone)
            self.addCleanup(phone.listening.stopListening)
            phone.stream.remote = port.local
            port.start(phone.address)
            ports.append(port)
            phones.append(phone)
        return bridge, ports, phones

    def frame(self, index: int, ports: list[BridgePort], phones: list[Phone],
              silent: tuple[int, ...] = ()) -> Generator[Deferred[Any], Any, None]:
        """
        Each phone sends its tone's frame C{index}; once the bridge has them
        all, one pump tick; then wait for every phone's mix.
        """
        arrived = []
        for n, (port, phone) in enumerate(zip(ports, phones)):
            if n in silent:
                continue
            slot = port.slot
            assert isinstance(slot, NotifyingSlot)
            arrived.append(slot.next())
            phone.stream.send(tone(TONES[n], index, phone.law), FRAME_SAMPLES)
        yield gatherResults(arrived)
        mixed = [phone.next() for phone in phones]
        self.clock.advance(TICK)
        yield gatherResults(mixed)

    def assertHearsOthers(self, phones: list[Phone], silent: tuple[int, ...] = ()) -> None:
        """Each phone hears every other sending phone's tone, and its own 20 dB below them."""
        for n, phone in enumerate(phones):
            powers = [phone.power(f) for f in TONES]
            others = [powers[m] for m in range(len(phones)) if m != n and m not in silent]
            self.assertTrue(others, "phone %d hears nobody" % (n,))
            for m, power in enumerate(powers):
                if m != n and m not in silent:
                    self.assertGreater(power, 1e9, "phone %d does not hear %g Hz" % (n, TONES[m]))
            self.assertLess(powers[n] * 100, min(others),
                            "phone %d hears its own %g Hz: %r" % (n, TONES[n], powers))


class BridgeMixTests(BridgeCase):
    """Three participants over SRTP."""

    @bounded
    def test_eachHearsTheOthers(self) -> Generator[Deferred[Any], Any, None]:
        """
        Each recording holds the other two tones, and its own tone more
        than 20 dB below them; every packet was SRTP both ways.
        """
        bridge, ports, phones = self.conference()
        for index in range(FRAMES):
            yield from self.frame(index, ports, phones)
        self.assertHearsOthers(phones)
        for port, phone in zip(ports, phones):
            self.assertTrue(port.secure)
            counters = port.snapshot().counters
            self.assertEqual((counters.decrypted, counters.delivered), (FRAMES, FRAMES))
            self.assertEqual(phone.stream.counters.decrypted, FRAMES)
        self.assertEqual(len(self.pump), 1)

    @bounded
    def test_keysDecryptOnlyTheirOwnStream(self) -> Generator[Deferred[Any], Any, None]:
        """
        What the bridge sends a participant decrypts with that participant's
        keys only: neither another participant's keys nor a third key set
        decrypt a single packet of it.
        """
        bridge, ports, phones = self.conference()
        for index in range(5):
            yield from self.frame(index, ports, phones)
        for n, phone in enumerate(phones):
            self.assertEqual(len(phone.stream.datagrams), 5)
            own = SrtpReceiver(phone.rxKeys)
            self.assertEqual(len([own.unprotect(d) for d in phone.stream.datagrams]), 5)
            strangers = [other.rxKeys for other in phones if other is not phone] + [generateKeys()]
            for keys in strangers:
                receiver = SrtpReceiver(keys)
                for datagram in phone.stream.datagrams:
                    self.assertRaises(SrtpError, receiver.unprotect, datagram)

    @bounded
    def test_badInputCountedAndDropped(self) -> Generator[Deferred[Any], Any, None]:
        """
        A replay, a bad auth tag, a foreign source port, a foreign host and
        3-byte junk at a bridge port are each counted in their field and
        dropped, and the mix carries on.
        """
        bridge, ports, phones = self.conference()
        target = ports[0]
        assert target.local is not None
        foreignPort = reactor.listenUDP(0, DatagramProtocol(), interface=HOST)
        self.addCleanup(foreignPort.stopListening)
        foreignHost = reactor.listenUDP(0, DatagramProtocol(), interface="127.0.0.2")
        self.addCleanup(foreignHost.stopListening)
        for index in range(FRAMES):
            if index == 5:
                fresh = phones[0].stream.send(tone(TONES[0], index, phones[0].law), FRAME_SAMPLES)
                phones[0].listening.write(fresh, target.local)  # the same packet again
                sequence = (int.from_bytes(fresh[2:4], "big") + 1000) % 65536
                forged = fresh[:2] + sequence.to_bytes(2, "big") + fresh[4:]  # a new index, a stale tag
                phones[0].listening.write(forged, target.local)
                foreignPort.write(fresh, target.local)
                foreignHost.write(fresh, target.local)
                phones[0].listening.write(b"\x80\x00\x01", target.local)
            yield from self.frame(index, ports, phones)
        counters = target.snapshot().counters
        self.assertEqual(
            (counters.replays, counters.authFailures, counters.wrongSource, counters.malformed),
            (1, 1, 2, 1))
        self.assertHearsOthers(phones)

    @bounded
    def test_silentParticipant(self) -> Generator[Deferred[Any], Any, None]:
        """A participant that sends nothing counts underruns; the others hear each other."""
        bridge, ports, phones = self.conference(secure=False)
        for index in range(FRAMES):
            yield from self.frame(index, ports, phones, silent=(2,))
        self.assertEqual(ports[2].slot.underruns, FRAMES)
        self.assertEqual((ports[0].slot.underruns, ports[1].slot.underruns), (0, 0))
        self.assertFalse(ports[0].secure)
        self.assertHearsOthers(phones[:2] + phones[2:], silent=(2,))

    @bounded
    def test_releaseFreesEverything(self) -> Generator[Deferred[Any], Any, None]:
        """Releasing a bridge closes its ports, frees its slot and leaves the pump."""
        bridge, ports, phones = self.conference(secure=False)
        self.assertEqual(len(self.allocator.inUse), 3)
        bridge.release()
        self.assertEqual((len(self.pool), len(self.pump)), (0, 0))
        self.assertTrue(all(port.stream.closed for port in ports))
        yield bridge.closed()
        self.assertEqual(len(self.allocator.inUse), 0)


class PoolTests(SynchronousTestCase):
    """L{BridgePool} without sockets."""

    def setUp(self) -> None:
        self.clock = Clock()
        resources = PortMediaResources(ClockedUDP(self.clock), RtpPortAllocator(HOST, "44200-44209"),
                                       MediaPump(self.clock), debug=DebugSwitches())
        self.pool = BridgePool(resources, self, maxConferences=2, secureAllowed=False)

    def test_interfaces(self) -> None:
        """The pool, a bridge and a port provide the engine's interfaces."""
        self.assertTrue(verifyObject(IConferenceBridges, self.pool))
        bridge = self.pool.reserve("ephone-1")
        self.assertTrue(verifyObject(IConferenceBridge, bridge))
        port = bridge.addPort(1, G711Law.ULAW, None, None)
        self.addCleanup(bridge.release)
        self.assertTrue(verifyObject(IMediaPort, port))
        self.assertFalse(self.pool.secureAllowed)

    def test_maxConferences(self) -> None:
        """
        Reserved and active bridges count towards max-conferences; the next
        is refused with the reason; a release frees its number.
        """
        first = self.pool.reserve("ephone-1")
        second = self.pool.reserve("ephone-2")
        second.activate("1002")
        self.assertEqual(([b.number for b in self.pool.conferences()], self.pool.reserved), ([1, 2], 1))
        e = self.assertRaises(ConferenceRefused, self.pool.reserve, "ephone-3")
        self.assertEqual((str(e), e.reason, self.pool.refusals),
                         ("max-conferences 2 reached", "max-conferences 2 reached", 1))
        first.release()
        self.assertEqual(self.pool.reserve("ephone-3").number, 1)

    def test_logsAtDebug(self) -> None:
        """
        The bridge's own lines for a refusal and a start are debug: the
        operator's lines are the call control's ("Confrn refused") and the
        engine's ("conference N: ... joined ...").
        """
        self.pool.maxConferences = 1
        with capturedLogs() as events:
            bridge = self.pool.reserve("1001")
            bridge.activate("1001")
            self.assertRaises(ConferenceRefused, self.pool.reserve, "1002")
        self.assertEqual([(e["log_level"], formatEvent(e)) for e in events], [
            (LogLevel.debug, "conference 1 started by 1001 (clear)"),
            (LogLevel.debug, "1002: conference refused: max-conferences 1 reached")])
        bridge.release()

    def test_off(self) -> None:
        """max-conferences 0 refuses every conference."""
        self.pool.maxConferences = 0
        e = self.assertRaises(ConferenceRefused, self.pool.reserve, "ephone-1")
        self.assertEqual(str(e), "max-conferences 0 reached")

    def mediaReady(self, leg: Any, passThruPartyId: int, host: str, port: int) -> None:
        "Unused."

    def mediaFailed(self, leg: Any, reason: str) -> None:
        "Unused."

