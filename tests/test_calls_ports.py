"""
Tests for L{srst.calls.portline} and L{srst.calls.portdirectory}: in-memory
SCCP phones call an FXS voice port on a L{SimulatedBackend} through a POTS
dial-peer (signalling only).
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst._portsconfig import VoicePortConfig
from srst.calls.dialplan import DialPeer
from srst.calls.interfaces import DialMatch, ICallEndpoint, IDirectory
from srst.calls.portdirectory import PortDirectory
from srst.calls.portline import VoicePortEndpoint
from srst.ports.interfaces import IVoicePortListener
from srst.ports.simulated import SimulatedBackend
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus, newVoicePort
from srst.sccp import messages as m
from srst.sccp.constants import CallState, Tone
from srst.media.portrange import RtpPortAllocator
from srst.ports.media import MediaPump, PortMediaResources
from tests.callhelpers import MAC_A, MAC_B, CallRouter, ack, dial, only
from tests.test_ports_media import PortReactor

PORT = "1/0/0"


def states(msgs: list[m.Message]) -> list[int]:
    """@return: the CallState values among C{msgs}."""
    return [msg.callState for msg in msgs if isinstance(msg, m.CallState)]


def tones(msgs: list[m.Message]) -> list[int]:
    """@return: the StartTone tones among C{msgs}."""
    return [msg.tone for msg in msgs if isinstance(msg, m.StartTone)]


class PortSetup:
    """A call router with voice port 1/0/0 reached by dial-peer pots 1 (81234)."""

    def __init__(self) -> None:
        self.router = CallRouter()
        self.engine = self.router.engine
        config = VoicePortConfig(PORT)
        self.backend = SimulatedBackend(PORT, config.signal)
        self.port = newVoicePort(config, self.backend)
        self.endpoint = VoicePortEndpoint(self.engine, self.port)
        self.directory = PortDirectory([DialPeer(1, destinationPattern="81234", port=PORT)],
                                       {PORT: self.endpoint})
        self.engine.addDirectory(self.directory)
        self.a = self.router.phone(MAC_A)

    def ring(self, phone: Any = None) -> list[m.Message]:
        """Phone A (or C{phone}) dials 81234; @return: what it received."""
        phone = phone or self.a
        phone.send(m.OffHook())
        dial(phone, "81234")
        return phone.received()


class PortDirectoryTests(SynchronousTestCase):
    """L{PortDirectory} matches and resolves through the dial-peers."""

    def test_matchAndResolve(self) -> None:
        """
        Prefixes of the pattern need more digits, the full number is exact
        and resolves to the port's endpoint; other digits match nothing.
        """
        setup = PortSetup()
        directory = setup.directory
        self.assertTrue(verifyObject(IDirectory, directory))
        self.assertEqual([directory.match(d) for d in ("8", "8123", "81234", "81230")],
                         [DialMatch.PREFIX, DialMatch.PREFIX, DialMatch.EXACT, DialMatch.NONE])
        [destination] = directory.resolve("81234")
        self.assertIs(destination.endpoint, setup.endpoint)
        self.assertEqual(destination.line.number, "81234")
        self.assertEqual(directory.resolve("81230"), [])

    def test_combinedWithOthers(self) -> None:
        """Other directories' matches and destinations are combined with the plan's."""
        setup = PortSetup()
        combined = PortDirectory(setup.directory.plan.peers, {PORT: setup.endpoint},
                                 others=[setup.router.control.directory])
        self.assertEqual(combined.match("2001"), DialMatch.EXACT)
        self.assertEqual(len(combined.resolve("2001")), 1)
        self.assertEqual(combined.match("81234"), DialMatch.EXACT)


class PortCallTests(SynchronousTestCase):
    """A phone calls voice port 1/0/0."""

    def test_interfaces(self) -> None:
        """The endpoint provides both L{ICallEndpoint} and L{IVoicePortListener}."""
        setup = PortSetup()
        self.assertTrue(verifyObject(ICallEndpoint, setup.endpoint))
        self.assertTrue(verifyObject(IVoicePortListener, setup.endpoint))

    def test_ringAndAnswer(self) -> None:
        """
        Dialling 81234 rings the port with the caller's number while the
        phone hears ringback; the line going off hook connects both.
        """
        setup = PortSetup()
        received = setup.ring()
        self.assertEqual((setup.port.status, setup.backend.ringing, setup.backend.callerId),
                         (PortStatus.RINGING, True, "2001"))
        self.assertIn(CallState.RING_OUT, states(received))
        self.assertIn(Tone.ALERTING, tones(received))
        setup.backend.offHook()
        self.assertEqual((setup.port.status, setup.backend.ringing), (PortStatus.CONNECTED, False))
        self.assertIn(CallState.CONNECTED, states(setup.a.received()))
        self.assertEqual(len(setup.engine.calls()), 1)

    def test_farEndMediaRecorded(self) -> None:
        """
        When the phone reports its receive port, the port endpoint records
        that address for router media (no audio is sent yet).
        """
        setup = PortSetup()
        setup.ring()
        setup.backend.offHook()
        orc = only(setup.a.received(), m.OpenReceiveChannel)
        self.assertIsNone(setup.endpoint.remoteMedia)
        ack(setup.a, orc, "10.1.1.8", 25552)
        self.assertEqual(setup.endpoint.remoteMedia, ("10.1.1.8", 25552))
        self.assertEqual(setup.port.txPackets, 0)

    def test_phoneHangsUp(self) -> None:
        """
        The phone hanging up plays reorder to the off-hook line; the line
        hanging up then leaves the port idle with no leg.
        """
        setup = PortSetup()
        setup.ring()
        setup.backend.offHook()
        setup.a.received()
        setup.a.send(m.OnHook())
        self.assertIn(CallState.ON_HOOK, states(setup.a.received()))
        self.assertIs(setup.port.dsp.playing, CallProgressTone.REORDER)
        setup.backend.onHook()
        self.assertEqual(setup.port.status, PortStatus.IDLE)
        self.assertEqual((setup.engine.calls(), setup.engine.legsOf(setup.endpoint)), ([], []))

    def test_portHangsUp(self) -> None:
        """The line hanging up clears the call: the phone goes on hook, the port idle."""
        setup = PortSetup()
        setup.ring()
        setup.backend.offHook()
        setup.a.received()
        setup.backend.onHook()
        self.assertIn(CallState.ON_HOOK, states(setup.a.received()))
        self.assertEqual(setup.port.status, PortStatus.IDLE)
        self.assertEqual(setup.engine.calls(), [])
        self.assertEqual(setup.engine.legsOf(setup.endpoint), [])

    def test_callerGivesUp(self) -> None:
        """The phone hanging up while the port rings stops the ringing."""
        setup = PortSetup()
        setup.ring()
        setup.a.send(m.OnHook())
        self.assertEqual((setup.port.status, setup.backend.ringing), (PortStatus.IDLE, False))
        self.assertEqual(setup.engine.legsOf(setup.endpoint), [])

    def test_noPeer(self) -> None:
        """81230 matches no dial-peer and no phone: the phone hears reorder, the port stays idle."""
        setup = PortSetup()
        setup.a.send(m.OffHook())
        dial(setup.a, "81230")
        self.assertIn(Tone.REORDER, tones(setup.a.received()))
        self.assertEqual(setup.port.status, PortStatus.IDLE)

    def test_portInCall(self) -> None:
        """A second phone calling the port while it is in a call hears busy."""
        setup = PortSetup()
        setup.ring()
        setup.backend.offHook()
        b = setup.router.phone(MAC_B)
        received = setup.ring(b)
        self.assertIn(CallState.BUSY, states(received))
        self.assertIn(Tone.LINE_BUSY, tones(received))
        self.assertEqual(setup.port.status, PortStatus.CONNECTED)

    def test_portStillOffHookAfterCallIsBusy(self) -> None:
        """
        After the phone hung up, a telephone still off hook (hearing
        reorder) makes the port busy: a second caller hears busy, the
        port is not rung, and nothing raises.
        """
        setup = PortSetup()
        setup.ring()
        setup.backend.offHook()
        setup.a.received()
        setup.a.send(m.OnHook())
        setup.a.received()
        self.assertIs(setup.port.dsp.playing, CallProgressTone.REORDER)
        b = setup.router.phone(MAC_B)
        received = setup.ring(b)
        self.assertIn(CallState.BUSY, states(received))
        self.assertIn(Tone.LINE_BUSY, tones(received))
        self.assertEqual((setup.engine.legsOf(setup.endpoint), setup.backend.ringCount), ([], 1))
        self.assertIs(setup.port.dsp.playing, CallProgressTone.REORDER)
        setup.backend.onHook()
        b.send(m.OnHook())
        b.received()
        self.assertNotIn(CallState.BUSY, states(setup.ring(b)))
        self.assertIs(setup.port.status, PortStatus.RINGING)

    def test_rtpRangeExhaustedAtAnswer(self) -> None:
        """
        When the last RTP port is gone by the time the port answers, the
        call is cleared whole: the phone goes on hook and is not connected
        afterwards, the engine holds no call and no RTP port stays held.
        """
        reactor = PortReactor()
        router = CallRouter()
        router.engine.clock = reactor
        media = PortMediaResources(reactor, RtpPortAllocator("127.0.0.1", "42000-42003"), MediaPump(reactor))
        config = VoicePortConfig(PORT)
        backend = SimulatedBackend(PORT, config.signal)
        port = newVoicePort(config, backend)
        endpoint = VoicePortEndpoint(router.engine, port, media)
        router.engine.addDirectory(PortDirectory([DialPeer(1, destinationPattern="81234", port=PORT)],
                                                 {PORT: endpoint}))
        phone = router.phone(MAC_A)
        phone.send(m.OffHook())
        dial(phone, "81234")
        phone.received()
        taken = []
        while media.available():
            taken.append(media.allocator.allocate())
        backend.offHook()
        received = states(phone.received())
        self.assertIn(CallState.ON_HOOK, received)
        self.assertNotIn(CallState.CONNECTED, received[received.index(CallState.ON_HOOK):])
        self.assertEqual(router.engine.calls(), [])
        self.assertEqual(router.engine.legsOf(endpoint), [])
        self.assertEqual(media.allocator.inUse, frozenset(taken))
        self.assertEqual(media.refusals, 1)

    def test_portOffHook(self) -> None:
        """
        A port whose telephone is off hook (dialling) is busy to callers;
        without digits it times out to reorder.
        """
        setup = PortSetup()
        setup.backend.offHook()
        received = setup.ring()
        self.assertIn(Tone.LINE_BUSY, tones(received))
        self.assertEqual(setup.backend.ringCount, 0)
        setup.router.clock.advance(setup.engine.interdigit + 1)
        self.assertIs(setup.port.dsp.playing, CallProgressTone.REORDER)
        setup.backend.onHook()
        self.assertEqual(setup.engine.legsOf(setup.endpoint), [])
