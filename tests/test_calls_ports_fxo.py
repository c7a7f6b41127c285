"""
Tests for L{srst.calls.portline} on FXO ports and for a port's own calls:
in-memory SCCP phones, the call engine on a L{task.Clock}, simulated lines.
"""

from __future__ import annotations


from twisted.trial.unittest import SynchronousTestCase

from srst._portsconfig import Signal, VoicePortConfig
from srst.calls.dialplan import DialPeer
from srst.calls.portdirectory import PortDirectory, portNumber
from srst.calls.portline import VoicePortEndpoint
from srst.ports.simulated import SimulatedBackend
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus, newVoicePort
from srst.sccp import messages as m
from srst.sccp.constants import CallState, Tone
from srst.media.portrange import RtpPortAllocator
from srst.ports.media import MediaPump, PortMediaResources
from tests.callhelpers import MAC_A, CallRouter, ack, dial, only
from tests.test_ports_media import PortReactor
from tests.test_calls_ports import states, tones

FXO = "1/1/0"
FXS = "1/0/1"


class FxoSetup:
    """Phone A (DN 2001), FXO port 1/1/0 behind dial-peer 9 + 7 digits, FXS 1/0/1 with number 81236."""

    def __init__(self, plar: str | None = "2001") -> None:
        self.router = CallRouter()
        self.engine = self.router.engine
        self.clock = self.router.clock
        fxo = VoicePortConfig(FXO, Signal.FXO_LOOP_START)
        self.line = SimulatedBackend(FXO, fxo.signal)
        self.fxo = newVoicePort(fxo, self.line)
        fxs = VoicePortConfig(FXS)
        self.phoneLine = SimulatedBackend(FXS, fxs.signal)
        self.fxs = newVoicePort(fxs, self.phoneLine)
        peers = [DialPeer(9, destinationPattern="9.......", port=FXO, forwardDigits=7),
                 DialPeer(81236, destinationPattern="81236", port=FXS)]
        self.outside = VoicePortEndpoint(self.engine, self.fxo, plar=plar)
        self.inside = VoicePortEndpoint(self.engine, self.fxs, number=portNumber(FXS, peers), name="Lobby")
        self.engine.addDirectory(PortDirectory(peers, {FXO: self.outside, FXS: self.inside}))
        self.a = self.router.phone(MAC_A)


class FxoTests(SynchronousTestCase):
    """Calls out of and into the exchange through an FXO port."""

    def test_outgoingSeizesAndOutpulses(self) -> None:
        """
        A phone dialling 9 and seven digits seizes the FXO line, which dials
        the forwarded seven digits to the exchange and connects at once.
        """
        setup = FxoSetup()
        setup.a.send(m.OffHook())
        dial(setup.a, "95551234")
        self.assertTrue(setup.line.seized)
        self.assertEqual(setup.line.outpulsed, "5551234")
        self.assertIn(CallState.CONNECTED, states(setup.a.received()))
        self.assertIs(setup.fxo.status, PortStatus.OFF_HOOK)
        setup.a.send(m.OnHook())
        self.assertFalse(setup.line.seized)
        self.assertIs(setup.fxo.status, PortStatus.IDLE)

    def test_incomingPlar(self) -> None:
        """
        The exchange ringing the port calls the plar number with the
        exchange's caller id; the phone answering seizes the line.
        """
        setup = FxoSetup()
        setup.line.ringLine("4085551000")
        received = setup.a.received()
        self.assertIn(CallState.RING_IN, states(received))
        info = [msg for msg in received if isinstance(msg, m.CallInfo)][-1]
        self.assertEqual(info.callingParty, "4085551000")
        self.assertFalse(setup.line.seized)
        setup.a.send(m.OffHook())
        self.assertTrue(setup.line.seized)
        self.assertIn(CallState.CONNECTED, states(setup.a.received()))
        self.assertIs(setup.fxo.status, PortStatus.CONNECTED)

    def test_incomingAbandoned(self) -> None:
        """The exchange stopping ringing before an answer clears the phone's ringing call."""
        setup = FxoSetup()
        setup.line.ringLine("4085551000")
        setup.a.received()
        setup.line.stopRingLine()
        self.assertIn(CallState.ON_HOOK, states(setup.a.received()))
        self.assertEqual(setup.engine.calls(), [])
        self.assertEqual(setup.engine.legsOf(setup.outside), [])

    def test_incomingTwoStage(self) -> None:
        """
        Without plar the port answers the exchange with dial tone and routes
        the digits the caller sends (as a DTMF detector reports them).
        """
        setup = FxoSetup(plar=None)
        setup.line.ringLine(None)
        self.assertTrue(setup.line.seized)
        self.assertIs(setup.fxo.dsp.playing, CallProgressTone.DIAL)
        for digit in "2001":
            setup.fxo.lineDigit(digit)
        setup.clock.advance(setup.engine.interdigit)
        self.assertIn(CallState.RING_IN, states(setup.a.received()))


class PortCallsPhoneTests(SynchronousTestCase):
    """An FXS port calls a phone with its own number."""

    def test_portCallsPhone(self) -> None:
        """
        The telephone on 1/0/1 dials 2001: the phone rings showing 81236
        (the port's dial-peer number) and "Lobby"; the port hears ringback;
        the phone answering connects both and stops the tone.
        """
        setup = FxoSetup()
        setup.phoneLine.offHook()
        self.assertIs(setup.fxs.dsp.playing, CallProgressTone.DIAL)
        setup.phoneLine.dial("2001")
        setup.clock.advance(setup.engine.interdigit)
        received = setup.a.received()
        self.assertIn(CallState.RING_IN, states(received))
        info = [msg for msg in received if isinstance(msg, m.CallInfo)][-1]
        self.assertEqual((info.callingParty, info.callingPartyName), ("81236", "Lobby"))
        self.assertIs(setup.fxs.dsp.playing, CallProgressTone.RINGBACK)
        setup.a.send(m.OffHook())
        self.assertIn(CallState.CONNECTED, states(setup.a.received()))
        self.assertIsNone(setup.fxs.dsp.playing)
        setup.phoneLine.onHook()
        self.assertIn(CallState.ON_HOOK, states(setup.a.received()))

    def test_fxsPlar(self) -> None:
        """An FXS port with connection plar calls its number as soon as the handset lifts."""
        setup = FxoSetup()
        setup.inside.plar = "2001"
        setup.phoneLine.offHook()
        self.assertIn(CallState.RING_IN, states(setup.a.received()))
        self.assertIs(setup.fxs.dsp.playing, CallProgressTone.RINGBACK)

    def test_unknownNumberReorder(self) -> None:
        """A number nobody has gives the port reorder."""
        setup = FxoSetup()
        setup.phoneLine.offHook()
        setup.phoneLine.dial("7777")
        setup.clock.advance(setup.engine.interdigit)
        self.assertIs(setup.fxs.dsp.playing, CallProgressTone.REORDER)

    def test_inactiveWhileMgcpControls(self) -> None:
        """A port handed to MGCP ignores its line and is not offered calls (the caller hears reorder)."""
        setup = FxoSetup()
        setup.inside.active = False
        setup.phoneLine.offHook()
        self.assertEqual(setup.engine.legsOf(setup.inside), [])
        setup.a.send(m.OffHook())
        dial(setup.a, "81236")
        self.assertIn(Tone.REORDER, tones(setup.a.received()))


class PortNumberTests(SynchronousTestCase):
    """L{portNumber}: a port's calling number."""

    def test_stationIdFirst(self) -> None:
        """The station-id wins; else the first plain-number pattern of the port's peers; else none."""
        peers = [DialPeer(1, destinationPattern="8....", port="1/0/0"),
                 DialPeer(2, destinationPattern="81234", port="1/0/0")]
        self.assertEqual(portNumber("1/0/0", peers, "5000"), "5000")
        self.assertEqual(portNumber("1/0/0", peers), "81234")
        self.assertEqual(portNumber("1/0/9", peers), "")


class PortMediaUnreachableTests(SynchronousTestCase):
    """The router's stream of a port call reports a silent far end."""

    def test_unreachableReported(self) -> None:
        """
        A phone that stops sending RTP for the media timeout is logged and
        counted on the port's endpoint; the call stays up.
        """
        router = CallRouter()
        reactor = PortReactor()
        router.engine.clock = reactor
        resources = PortMediaResources(reactor, RtpPortAllocator("127.0.0.1", "42000-42009"),
                                       MediaPump(reactor), unreachableTimeout=1.0)
        config = VoicePortConfig("1/0/0")
        backend = SimulatedBackend("1/0/0", config.signal)
        port = newVoicePort(config, backend)
        endpoint = VoicePortEndpoint(router.engine, port, resources)
        router.engine.addDirectory(PortDirectory([DialPeer(1, destinationPattern="81234", port="1/0/0")],
                                                 {"1/0/0": endpoint}))
        phone = router.phone(MAC_A)
        phone.send(m.OffHook())
        dial(phone, "81234")
        backend.offHook()
        orc = only(phone.received(), m.OpenReceiveChannel)
        ack(phone, orc, "127.0.0.1", 25552)
        self.assertTrue(endpoint.mediaLeg.sending)
        reactor.pump([0.1] * 15)
        self.assertEqual(endpoint.unreachable, 1)
        self.assertTrue(endpoint.mediaSnapshot().unreachable)
        self.assertEqual(len(router.engine.calls()), 1)
        self.assertGreater(len(reactor.sentTo(25552)), 40)
        backend.onHook()
        self.assertIsNone(endpoint.mediaLeg)
        self.assertEqual(resources.allocator.inUse, frozenset())
