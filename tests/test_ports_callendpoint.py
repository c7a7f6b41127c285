"""
Tests for L{srst.ports.callendpoint}: in-memory SCCP phones call an FXS
voice port on a L{SimulatedBackend} through a POTS dial-peer (signalling
only), call out through an FXO port and are called from it, and a port's
own calls; the call engine on a L{Clock}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.ports.config import DialPeer
from srst.calls.voicemail import VmIntegration, VmPattern, Voicemail
from srst.calls.interfaces import ICallEndpoint
from srst.media.portrange import RtpPortAllocator
from srst.ports.callendpoint import VoicePortEndpoint
from srst.ports.directory import PortDirectory, portNumber
from srst.ports.interfaces import IVoicePortListener
from srst.ports.media import MediaPump, PortMediaResources
from srst.ports.simulated import SimulatedBackend
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus, newVoicePort
from srst.sccp import messages as m
from srst.sccp.constants import CallState, Stimulus, Tone
from tests.callhelpers import MAC_A, MAC_B, PORT_DEBUG_LOG, CallRouter, ack, callConfig, dial, only
from tests.dtmfhelpers import detectDigits
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
        self.port = newVoicePort(config, self.backend, debug=DebugSwitches())
        self.endpoint = VoicePortEndpoint(self.engine, self.port, debugLog=PORT_DEBUG_LOG)
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
        media = PortMediaResources(reactor, RtpPortAllocator("127.0.0.1", "42000-42003"), MediaPump(reactor),
                                   debug=DebugSwitches())
        config = VoicePortConfig(PORT)
        backend = SimulatedBackend(PORT, config.signal)
        port = newVoicePort(config, backend, debug=DebugSwitches())
        endpoint = VoicePortEndpoint(router.engine, port, media, debugLog=PORT_DEBUG_LOG)
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
        self.fxo = newVoicePort(fxo, self.line, debug=DebugSwitches())
        fxs = VoicePortConfig(FXS)
        self.phoneLine = SimulatedBackend(FXS, fxs.signal)
        self.fxs = newVoicePort(fxs, self.phoneLine, debug=DebugSwitches())
        peers = [DialPeer(9, destinationPattern="9.......", port=FXO, forwardDigits=7),
                 DialPeer(81236, destinationPattern="81236", port=FXS)]
        self.outside = VoicePortEndpoint(self.engine, self.fxo, plar=plar, debugLog=PORT_DEBUG_LOG)
        self.inside = VoicePortEndpoint(self.engine, self.fxs, number=portNumber(FXS, peers), name="Lobby",
                                        debugLog=PORT_DEBUG_LOG)
        self.engine.addDirectory(PortDirectory(peers, {FXO: self.outside, FXS: self.inside}))
        self.a = self.router.phone(MAC_A)


VM = "8000"
"""The voice-mail number: dial-peer 8000 to FXO port 1/1/0, where the voice-mail system answers."""

VM_PATTERNS = VmIntegration(direct=VmPattern(("*", "CGN")), extToExtBusy=VmPattern(("#", "CDN", "#2")),
                            extToExtNoAnswer=VmPattern(("#", "FDN", "#", "CGN", "3")))
"""vm-integration: C{pattern direct * CGN}, C{ext-to-ext busy # CDN #2}, C{ext-to-ext no-answer # FDN # CGN 3}."""


class VoicemailSetup:
    """Phones A, B, C; voicemail 8000 on FXO port 1/1/0 with L{VM_PATTERNS}; forward busy and no-answer to it."""

    def __init__(self, integration: VmIntegration = VM_PATTERNS) -> None:
        self.router = CallRouter(callConfig(voicemail=VM))
        self.engine = self.router.engine
        self.engine.forwards.busy = self.engine.forwards.noAnswer = VM
        self.engine.forwards.noAnswerTimeout = 10
        fxo = VoicePortConfig(FXO, Signal.FXO_LOOP_START)
        self.line = SimulatedBackend(FXO, fxo.signal)
        self.fxo = newVoicePort(fxo, self.line, debug=DebugSwitches())
        self.endpoint = VoicePortEndpoint(self.engine, self.fxo, debugLog=PORT_DEBUG_LOG,
                                          voicemail=Voicemail(VM, integration))
        self.engine.addDirectory(PortDirectory([DialPeer(8000, destinationPattern=VM, port=FXO)],
                                               {FXO: self.endpoint}))
        self.a, self.b = self.router.phone(MAC_A), self.router.phone(MAC_B)

    def heard(self) -> str:
        """@return: the DTMF digits the voice-mail system hears on the line (Goertzel), over 3 s."""
        return detectDigits([sample for _ in range(150) for sample in self.fxo.dsp.nextFrame()])


class VoicemailIntegrationTests(SynchronousTestCase):
    """
    A call reaching the voice-mail number on a voice port sends the
    vm-integration pattern for how it got there as DTMF once the port
    answers (IOS C{vm-integration}; issue 13 item 6).
    """

    def test_forwardedBusy(self) -> None:
        """
        Alice calls Bob, who is busy: the call forwards to voicemail and
        the voice-mail system hears C{# CDN #2} with Bob's 2002.
        """
        setup = VoicemailSetup()
        setup.b.send(m.OffHook())
        setup.a.send(m.OffHook())
        dial(setup.a, "2002")
        self.assertTrue(setup.line.seized)
        self.assertIn(CallState.CONNECTED, states(setup.a.received()))
        self.assertEqual(setup.fxo.dsp.playing, "dtmf #2002#2")
        self.assertEqual(setup.heard(), "#2002#2")

    def test_forwardedNoAnswer(self) -> None:
        """
        Bob does not answer in 10 s: the voice-mail system hears C{# FDN #
        CGN 3}, the forwarding 2002 and the caller 2001.
        """
        setup = VoicemailSetup()
        setup.a.send(m.OffHook())
        dial(setup.a, "2002")
        self.assertFalse(setup.line.seized)
        setup.router.clock.advance(10)
        self.assertTrue(setup.line.seized)
        self.assertEqual(setup.heard(), "#2002#20013")

    def test_direct(self) -> None:
        """The Messages button dials 8000: the voice-mail system hears C{* CGN}, the caller's mailbox."""
        setup = VoicemailSetup()
        setup.a.send(m.Stimulus(Stimulus.VOICE_MAIL, 0))
        self.assertTrue(setup.line.seized)
        self.assertEqual(setup.heard(), "*2001")

    def test_noPattern(self) -> None:
        """Without a pattern for the case nothing is played: the call is simply connected."""
        setup = VoicemailSetup(VmIntegration())
        setup.b.send(m.OffHook())
        setup.a.send(m.OffHook())
        dial(setup.a, "2002")
        self.assertTrue(setup.line.seized)
        self.assertIsNone(setup.fxo.dsp.playing)
        self.assertEqual(setup.heard(), "")

    def test_otherNumbers(self) -> None:
        """A call through another dial-peer to the same port is no voice-mail call: nothing is played."""
        setup = VoicemailSetup()
        setup.engine.addDirectory(PortDirectory([DialPeer(9, destinationPattern="9.......", port=FXO,
                                                          forwardDigits=7)], {FXO: setup.endpoint}))
        setup.a.send(m.OffHook())
        dial(setup.a, "95551234")
        self.assertEqual(setup.line.outpulsed, "5551234")
        self.assertIsNone(setup.fxo.dsp.playing)


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
        setup.inside.giveUpControl()
        setup.phoneLine.offHook()
        self.assertEqual(setup.engine.legsOf(setup.inside), [])
        setup.a.send(m.OffHook())
        dial(setup.a, "81236")
        self.assertIn(Tone.REORDER, tones(setup.a.received()))


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
                                       MediaPump(reactor), debug=DebugSwitches(), unreachableTimeout=1.0)
        config = VoicePortConfig("1/0/0")
        backend = SimulatedBackend("1/0/0", config.signal)
        port = newVoicePort(config, backend, debug=DebugSwitches())
        endpoint = VoicePortEndpoint(router.engine, port, resources, debugLog=PORT_DEBUG_LOG)
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


class PortMediaCloseTests(SynchronousTestCase):
    """The router's RTP port of a port call goes back to the range once closed."""

    def test_closeMediaWaitsForThePort(self) -> None:
        """
        A media leg closed when the call ends gives its RTP port back only
        once the port has stopped listening; L{VoicePortEndpoint.closeMedia}
        fires then (the service's stop waits for it).
        """
        router = CallRouter()
        reactor = SlowCloseReactor()
        router.engine.clock = reactor
        resources = PortMediaResources(reactor, RtpPortAllocator("127.0.0.1", "42000-42009"), MediaPump(reactor),
                                       debug=DebugSwitches())
        config = VoicePortConfig("1/0/0")
        backend = SimulatedBackend("1/0/0", config.signal)
        endpoint = VoicePortEndpoint(router.engine, newVoicePort(config, backend, debug=DebugSwitches()), resources,
                                     debugLog=PORT_DEBUG_LOG)
        router.engine.addDirectory(PortDirectory([DialPeer(1, destinationPattern="81234", port="1/0/0")],
                                                 {"1/0/0": endpoint}))
        phone = router.phone(MAC_A)
        phone.send(m.OffHook())
        dial(phone, "81234")
        backend.offHook()
        self.assertIsNotNone(endpoint.mediaLeg)
        self.assertEqual(len(resources.allocator.inUse), 1)
        backend.onHook()
        closed = endpoint.closeMedia()
        self.assertNoResult(closed)
        self.assertEqual(len(resources.allocator.inUse), 1)
        [stopping] = reactor.stopping
        stopping.callback(None)
        self.assertIsNone(self.successResultOf(closed))
        self.assertEqual(resources.allocator.inUse, frozenset())
        self.assertIsNone(self.successResultOf(endpoint.closeMedia()))


class SlowCloseReactor(PortReactor):
    """
    A L{PortReactor} whose UDP ports stop listening only when the test fires
    the L{Deferred} their C{stopListening} returned.

    @ivar stopping: those Deferreds, in order.
    """

    def __init__(self) -> None:
        PortReactor.__init__(self)
        self.stopping: list[Deferred] = []

    def listenUDP(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> Any:
        listening = PortReactor.listenUDP(self, port, protocol, interface, maxPacketSize)
        stop = listening.stopListening

        def stopLater() -> Deferred:
            stop()
            done: Deferred = Deferred()
            self.stopping.append(done)
            return done

        listening.stopListening = stopLater
        return listening
