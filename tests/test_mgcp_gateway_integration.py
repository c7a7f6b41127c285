"""
Integration tests of L{srst.mgcp.gateway}: on real UDP sockets on
127.0.0.1 a hand-made call agent connects two FXS ports with
CRCX/CRCX/MDCX, audio played on one port arrives at the other over RTP,
then DLCX tears it down; in memory, the project's CallManager-like call
agent (L{srst.tools._callagent}) registers the gateway and completes a
call between two lines.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.media.portrange import RtpPortAllocator
from srst.media.rtp import RtpPacket, encodeRtp
from srst.media.udpport import listenMediaUDP
from srst.mgcp.commands import renderMgcpStatistics
from srst.mgcp.config import HostPort, MgcpConfig
from srst.mgcp.gateway import MgcpGateway, mediaLegs
from srst.media.dtmf import decodeTelephoneEvent
from srst.media.rtp import decodeRtp
from srst.mgcp.messages import Command, Response
from srst.mgcp.sdp import parseSdp, simpleSdp
from srst.mgcp.transactions import MgcpTransactionProtocol
from srst.ports.media import MediaPump, PortMediaLeg, PortMediaResources
from srst.ports.simulated import SimulatedBackend
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus, newVoicePort
from srst.tools._callagent import CallAgent as CallManagerAgent
from srst.tools._callagenttypes import EventKind, LineSpec
from tests.mgcphelpers import (
    CA,
    DatagramWire,
    GatewayHarness,
    TransactionOwner,
    WiredReactor,
    mgcpDebugLog,
)
from tests.dtmfhelpers import detectDigits
from tests.routerhelpers import bounded
from tests.test_mgcp_tshark import buildUdpPcap
from tests.toolhelpers import requireTool

DOMAIN = "gw1.example.com"


class CallAgent:
    """
    A minimal call agent: answers every gateway command 200 and sends
    commands to the gateway.
    """

    def __init__(self) -> None:
        self.received: list[Command] = []
        self.protocol = MgcpTransactionProtocol(reactor, TransactionOwner(self.handle),
                                                firstTransactionId=1000, debugLog=mgcpDebugLog())
        self._waiting: list[tuple[Callable[[], bool], Deferred[None]]] = []

    def handle(self, command: Command, peer: Any) -> Response:
        self.received.append(command)
        for entry in list(self._waiting):
            condition, waiting = entry
            if condition():
                self._waiting.remove(entry)
                waiting.callback(None)
        return Response(200, command.transactionId, "OK")

    def whenReceived(self, condition: Callable[[list[Command]], bool]) -> Deferred[None]:
        """
        @return: a Deferred firing once C{condition(received)} holds for the
            commands received (checked as each arrives).
        """
        waiting: Deferred[None] = Deferred()
        self._waiting.append((lambda: condition(self.received), waiting))
        return waiting


class TwoPortsOverUdp(TestCase):
    """
    A gateway with two FXS ports and a call agent on real UDP; media on
    real sockets, timed by the test's clock.
    """

    timeout = 30

    def setUp(self) -> None:
        self.debug = DebugSwitches()
        self.ports = {}
        self.lines = {}
        for name in ("1/0/0", "1/0/1"):
            backend = SimulatedBackend(name, Signal.FXS_LOOP_START)
            self.ports[name] = newVoicePort(VoicePortConfig(name), backend, debug=self.debug)
            self.lines[name] = backend
        self.wire = DatagramWire()
        self.mediaClock = Clock()
        self.allocator = RtpPortAllocator("127.0.0.1", "40000-40100")
        self.pump = MediaPump(self.mediaClock)
        self.callAgent = CallAgent()
        self.caPort = self.wire.listen(reactor, 0, self.callAgent.protocol, interface="127.0.0.1")
        self.caAddress = ("127.0.0.1", self.caPort.getHost().port)
        self.gateway = MgcpGateway(clock=reactor, domain=DOMAIN, ports=list(self.ports.values()),
                                   newLeg=self.newLeg, callAgent=self.caAddress,
                                   debugLog=mgcpDebugLog())
        self.gwPort = self.wire.listen(reactor, 0, self.gateway.protocol, interface="127.0.0.1")
        self.gwAddress = ("127.0.0.1", self.gwPort.getHost().port)

    @bounded
    def tearDown(self) -> Any:
        yield self.gateway.stop()
        self.pump.stop()
        yield self.gwPort.stopListening()
        yield self.caPort.stopListening()

    def newLeg(self, port: Any, payloadType: int) -> PortMediaLeg:
        """RTP on real sockets through the wire, media timed by the test's clock."""
        return PortMediaLeg(reactor=WiredReactor(self.mediaClock, self.wire), allocator=self.allocator,
                            pump=self.pump, port=port, debug=self.debug, payloadType=payloadType)

    def send(self, verb: str, portName: str, parameters: list, sdp: tuple = ()) -> Deferred:
        command = Command(verb, 1, self.gateway.endpointName(portName), "MGCP 0.1",
                          parameters=parameters, sdp=sdp)
        return self.callAgent.protocol.sendCommand(command, self.gwAddress)


class RealUdpCallTests(TwoPortsOverUdp):
    """
    Two FXS ports joined by MGCP over real UDP.
    """

    @bounded
    def test_call(self) -> Any:
        """
        The boot RSIP reaches the call agent; CRCX/CRCX/MDCX join the two
        ports so a tone played on 1/0/0 is received on 1/0/1; DLCX answers
        250 with statistics and frees both RTP ports.
        """
        restarted = self.callAgent.whenReceived(lambda received: any(c.verb == "RSIP" for c in received))
        self.gateway.start()
        yield restarted
        notified = self.callAgent.whenReceived(lambda received: sum(c.verb == "NTFY" for c in received) == 2)
        self.lines["1/0/0"].offHook()
        self.lines["1/0/1"].offHook()
        yield notified
        first = yield self.send("CRCX", "1/0/0", [("C", "ABC1"), ("M", "sendrecv")])
        self.assertEqual(first.code, 200)
        second = yield self.send("CRCX", "1/0/1", [("C", "ABC1"), ("M", "sendrecv")],
                                 sdp=first.sdp)
        self.assertEqual(second.code, 200)
        modified = yield self.send("MDCX", "1/0/0", [("C", "ABC1"), ("I", first.raw("I")),
                                                     ("M", "sendrecv")], sdp=second.sdp)
        self.assertEqual(modified.code, 200)
        listener = self.ports["1/0/1"]
        self.mediaClock.advance(self.pump.interval)
        self.assertEqual([p.status for p in self.ports.values()], [PortStatus.CONNECTED] * 2)
        listener.dsp.startRecording()
        self.ports["1/0/0"].playTone(CallProgressTone.DIAL)
        self.mediaClock.pump([self.pump.interval] * 5)
        yield self.wire.when(lambda: any(listener.dsp.lastReceived))
        self.assertGreater(len(listener.dsp.stopRecording()), 0)
        deleted = yield self.send("DLCX", "1/0/0", [("C", "ABC1"), ("I", first.raw("I"))])
        self.assertEqual(deleted.code, 250)
        self.assertGreater(deleted.get("P").get("PS"), 0)
        deleted = yield self.send("DLCX", "1/0/1", [("C", "ABC1")])
        self.assertEqual(deleted.code, 250)
        self.assertGreater(deleted.get("P").get("PR"), 0)
        self.assertEqual(self.allocator.inUse, frozenset())

    @bounded
    def test_dialToneStaysOnTheLine(self) -> Any:
        """
        C{RQNT S: L/dl} on an endpoint in a connected call plays dial tone
        to its analog line only (issue 12 item 6): the far end's RTP
        carries silence meanwhile.
        """
        restarted = self.callAgent.whenReceived(lambda received: any(c.verb == "RSIP" for c in received))
        self.gateway.start()
        yield restarted
        notified = self.callAgent.whenReceived(lambda received: sum(c.verb == "NTFY" for c in received) == 2)
        self.lines["1/0/0"].offHook()
        self.lines["1/0/1"].offHook()
        yield notified
        first = yield self.send("CRCX", "1/0/0", [("C", "ABC2"), ("M", "sendrecv")])
        second = yield self.send("CRCX", "1/0/1", [("C", "ABC2"), ("M", "sendrecv")], sdp=first.sdp)
        yield self.send("MDCX", "1/0/0", [("C", "ABC2"), ("I", first.raw("I")), ("M", "sendrecv")],
                        sdp=second.sdp)
        talker, listener = self.ports["1/0/0"], self.ports["1/0/1"]
        self.mediaClock.advance(self.pump.interval)
        self.assertEqual([p.status for p in self.ports.values()], [PortStatus.CONNECTED] * 2)
        requested = yield self.send("RQNT", "1/0/0", [("X", "5"), ("R", "L/hu"), ("S", "L/dl")])
        self.assertEqual(requested.code, 200)
        self.assertIs(talker.dsp.playing, CallProgressTone.DIAL)
        listener.dsp.startRecording()
        before = listener.rxPackets
        self.mediaClock.pump([self.pump.interval] * 5)
        yield self.wire.when(lambda: listener.rxPackets >= before + 5)
        heard = listener.dsp.stopRecording()
        self.assertEqual(len(heard), 5 * 160)
        self.assertFalse(any(heard), "dial tone reached the far end")
        self.assertIs(talker.dsp.playing, CallProgressTone.DIAL)

        yield self.send("DLCX", "1/0/0", [("C", "ABC2")])
        yield self.send("DLCX", "1/0/1", [("C", "ABC2")])


class FarEnd(DatagramProtocol):
    """An RTP far end that keeps every datagram it receives."""

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.datagrams.append(datagram)


class DtmfSignalTests(TwoPortsOverUdp):
    """
    Mid-call DTMF (issue 12 item 2) on real UDP: the call agent relays a
    digit as C{RQNT S: D/5}; the gateway answers 200, plays the digit on
    the line in-band, and, relaying DTMF out of band to a far end that
    offered telephone-events, sends it as RFC 4733 events instead.
    """

    def offHookBoth(self) -> Deferred:
        """Start the gateway, then lift both handsets: fires once both off-hooks are notified."""
        restarted = self.callAgent.whenReceived(lambda received: any(c.verb == "RSIP" for c in received))
        self.gateway.start()

        def lift(_: object) -> Deferred:
            notified = self.callAgent.whenReceived(
                lambda received: sum(c.verb == "NTFY" for c in received) == 2)
            self.lines["1/0/0"].offHook()
            self.lines["1/0/1"].offHook()
            return notified
        return restarted.addCallback(lift)

    def ticks(self, count: int) -> None:
        self.mediaClock.pump([self.pump.interval] * count)

    def allArrived(self, farEnd: FarEnd) -> Deferred:
        """Fires once the far end has every packet port 1/0/0 sent."""
        sent = self.gateway.mediaOf("1/0/0").send.packets
        return self.wire.when(lambda: len(farEnd.datagrams) >= sent)

    @bounded
    def test_signalInBand(self) -> Any:
        """
        With a far end that offered no telephone-event, C{S: D/5} answers
        200 and the digit travels in the audio: the far port's recording
        decodes as DTMF 5.
        """
        yield self.offHookBoth()
        first = yield self.send("CRCX", "1/0/0", [("C", "D1"), ("M", "sendrecv")])
        self.assertEqual(first.sdp[0].audio.telephoneEvent, 99)
        second = yield self.send("CRCX", "1/0/1", [("C", "D1"), ("M", "sendrecv")],
                                 sdp=[simpleSdp(first.sdp[0].address, first.sdp[0].mediaPort, [0])])
        plain = simpleSdp(second.sdp[0].address, second.sdp[0].mediaPort, [0])
        modified = yield self.send("MDCX", "1/0/0", [("C", "D1"), ("I", first.raw("I")),
                                                     ("M", "sendrecv")], sdp=[plain])
        self.assertEqual(modified.code, 200)
        self.ticks(1)
        listener = self.ports["1/0/1"].dsp
        listener.startRecording()
        answered = yield self.send("RQNT", "1/0/0", [("X", "7"), ("R", "L/hu(N)"), ("S", "D/5")])
        self.assertEqual((answered.code, answered.commentary), (200, "OK"))
        self.assertEqual(self.ports["1/0/0"].dsp.playing, "dtmf 5")
        self.ticks(12)
        yield self.wire.when(lambda: self.allocator.inUse and len(listener.lastReceived) > 0)
        yield self.wire.quiet()
        self.assertEqual(detectDigits(listener.stopRecording()), "5")

    @bounded
    def test_signalOutOfBand(self) -> Any:
        """
        With C{dtmf-relay} out of band and a far end whose SDP offers
        C{telephone-event} (payload type 101), C{S: D/5} answers 200 and the
        far end receives RFC 4733 events for 5: a start packet with the
        marker bit, the event repeated with growing durations, three end
        packets, all with one timestamp, and no audio meanwhile; a digit
        dialled on the line is reported as C{D/7} as the RQNT asked and
        sent as events too.  tshark decodes the events without malformed
        frames.
        """
        yield self.offHookBoth()
        farEnd = FarEnd()
        farPort = self.wire.listen(reactor, 0, farEnd, interface="127.0.0.1")
        self.addCleanup(farPort.stopListening)
        offer = parseSdp("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio %d RTP/AVP 0 101\r\n"
                         "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                         "a=fmtp:101 0-15\r\n" % (farPort.getHost().port,))
        created = yield self.send("CRCX", "1/0/0", [("C", "D2"), ("M", "sendrecv")], sdp=[offer])
        self.assertEqual(created.code, 200)
        self.assertEqual(created.sdp[0].payloadTypes, (0, 101))
        self.ticks(1)
        answered = yield self.send("RQNT", "1/0/0", [("X", "8"), ("R", "L/hu(N),D/[0-9#*](N)"),
                                                      ("S", "D/5")])
        self.assertEqual((answered.code, answered.commentary), (200, "OK"))
        self.ticks(10)
        yield self.allArrived(farEnd)
        packets = [decodeRtp(d) for d in farEnd.datagrams]
        events = [(p.marker, p.timestamp, decodeTelephoneEvent(p.payload))
                  for p in packets if p.payloadType == 101]
        self.assertEqual([e.digit for _, _, e in events], ["5"] * 7)
        self.assertEqual([m for m, _, _ in events], [True] + [False] * 6)
        self.assertEqual(len({t for _, t, _ in events}), 1)
        self.assertEqual([(e.end, e.duration) for _, _, e in events],
                         [(False, 160), (False, 320), (False, 480), (False, 640)] + [(True, 800)] * 3)
        kinds = [p.payloadType for p in packets]
        first = kinds.index(101)
        self.assertEqual(kinds[first:first + 7], [101] * 7)
        self.assertEqual(packets[first + 7].payloadType, 0)
        self.assertEqual(packets[first + 7].timestamp, packets[first].timestamp + 7 * 160)
        notified = self.callAgent.whenReceived(lambda received: any(
            c.verb == "NTFY" and "D/7" in str(c.raw("O")) for c in received))
        self.lines["1/0/0"].dial("7")
        yield notified
        before = len(farEnd.datagrams)
        self.ticks(8)
        yield self.allArrived(farEnd)
        dialled = [decodeTelephoneEvent(decodeRtp(d).payload) for d in farEnd.datagrams[before:]
                   if decodeRtp(d).payloadType == 101]
        self.assertEqual({e.digit for e in dialled}, {"7"})
        self.assertEqual(sum(e.end for e in dialled), 3)
        tshark = requireTool("tshark")
        path = self.mktemp() + ".pcap"
        with open(path, "wb") as capture:
            capture.write(buildUdpPcap([(True, d) for d in farEnd.datagrams]))
        out, err, code = yield getProcessOutputAndValue(
            tshark, ("-n", "-r", path, "-d", "udp.port==2427,rtp", "-T", "fields",
                     "-e", "rtpevent.event_id", "-e", "rtpevent.end_of_event", "-e", "_ws.malformed"),
            env=dict(os.environ, HOME=self.mktemp()), reactor=reactor)
        self.assertEqual(code, 0, err)
        rows = [line.split("\t") for line in out.decode().splitlines() if line.split("\t")[0]]
        self.assertEqual([row[0] for row in rows], ["5"] * 7 + ["7"] * 7)
        self.assertEqual([row[1] for row in rows].count("1"), 6)
        self.assertNotIn("malformed", out.decode().lower())


class CallManagerInteropTests(SynchronousTestCase):
    """
    The gateway against the project's CallManager-like call agent, wired
    in memory.
    """

    GATEWAY = ("127.0.0.1", 2427)

    def setUp(self) -> None:
        self.h = GatewayHarness()
        self.agent = CallManagerAgent(
            self.h.reactor, DOMAIN, [LineSpec("81234", "aaln/S1/SU0/0"),
                                     LineSpec("81236", "aaln/S1/SU0/1")],
            gateway=self.GATEWAY, debug=DebugSwitches())
        self.events: list[EventKind] = []
        self.agent.observers.append(lambda event: self.events.append(event.kind))
        core = self.agent.attach(
            lambda data, peer: self.h.gateway.protocol.datagramReceived(data, CA))
        reactor_ = self.h.reactor

        class Wire:
            """Carries the gateway's datagrams to the agent on the next turn."""

            def write(self, data: bytes, addr: Any) -> None:
                reactor_.callLater(0, core.datagramReceived, data,
                                   CallManagerInteropTests.GATEWAY)

        self.h.gateway.protocol.transport = Wire()

    def runFor(self, seconds: float = 0.5) -> None:
        """Advance the clock in 10 ms steps so queued datagrams and timers run."""
        for _ in range(int(seconds / 0.01)):
            self.h.reactor.advance(0.01)

    def test_call(self) -> None:
        """
        The agent registers the gateway, gives dial tone, collects 81236
        with its digit map, rings 1/0/1 with ringback on 1/0/0, connects
        both ports (RTP flows between their legs) and releases both
        connections when 1/0/0 hangs up.
        """
        self.h.gateway.start()
        self.runFor()
        self.assertTrue(self.agent.registered)
        self.assertTrue(self.h.gateway.registered)
        self.h.lines["1/0/0"].offHook()
        self.runFor()
        self.assertIs(self.h.ports["1/0/0"].dsp.playing, CallProgressTone.DIAL)
        self.h.lines["1/0/0"].dial("81236")
        self.runFor()
        self.assertTrue(self.h.lines["1/0/1"].ringing)
        self.assertIs(self.h.ports["1/0/0"].dsp.playing, CallProgressTone.RINGBACK)
        self.h.lines["1/0/1"].offHook()
        self.runFor()
        [first] = self.h.gateway.connectionsOf("1/0/0")
        [second] = self.h.gateway.connectionsOf("1/0/1")
        self.assertEqual((first.mode, first.remote), ("sendrecv", second.local))
        self.assertEqual((second.mode, second.remote), ("sendrecv", first.local))
        self.assertTrue(any(source == first.local and to == second.local
                            for source, to, _ in self.h.reactor.written))
        self.assertIn(EventKind.CONNECTED, self.events)
        self.h.lines["1/0/0"].onHook()
        self.runFor()
        self.assertEqual(self.h.gateway.connectionsOf("1/0/1"), ())
        self.assertEqual(self.h.allocator.inUse, frozenset())
        self.assertIn(EventKind.RELEASED, self.events)


class SourceValidationTests(TestCase):
    """
    C{mgcp validate call-agent source-ipaddr} on real UDP sockets: while
    the call agent (127.0.0.1) is in control, another host (127.0.0.2)
    gets no answer and commands nothing (issue 17 item 1).
    """

    timeout = 30

    def setUp(self) -> None:
        debug = DebugSwitches()
        self.lines = {name: SimulatedBackend(name, Signal.FXS_LOOP_START) for name in ("1/0/0", "1/0/1")}
        self.ports = {name: newVoicePort(VoicePortConfig(name), line, debug=debug)
                      for name, line in self.lines.items()}
        self.allocator = RtpPortAllocator("127.0.0.1", "40200-40299")
        mediaClock = Clock()
        self.wire = wire = DatagramWire()
        pump = MediaPump(mediaClock)
        self.addCleanup(pump.stop)
        self.callAgent = CallAgent()
        caPort = wire.listen(reactor, 0, self.callAgent.protocol, interface="127.0.0.1")
        self.addCleanup(caPort.stopListening)
        self.gateway = MgcpGateway(
            clock=reactor, domain=DOMAIN, ports=list(self.ports.values()),
            newLeg=lambda port, payloadType: PortMediaLeg(
                reactor=WiredReactor(mediaClock, wire), allocator=self.allocator, pump=pump, port=port,
                debug=debug, payloadType=payloadType),
            callAgent=("127.0.0.1", caPort.getHost().port), debugLog=mgcpDebugLog())
        gwPort = wire.listen(reactor, 0, self.gateway.protocol, interface="127.0.0.1")
        self.addCleanup(gwPort.stopListening)
        self.addCleanup(self.gateway.stop)
        self.gwAddress = ("127.0.0.1", gwPort.getHost().port)
        self.stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(self.stranger.close)
        self.stranger.bind(("127.0.0.2", 0))
        self.stranger.setblocking(False)
        self.events: list[dict] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def command(self, verb: str, portName: str, parameters: list, sdp: tuple = ()) -> Deferred:
        """The call agent sends a command and gets its response."""
        return self.callAgent.protocol.sendCommand(Command(
            verb, 1, self.gateway.endpointName(portName), "MGCP 0.1", parameters=parameters, sdp=sdp),
            self.gwAddress)

    @bounded
    def test_strangerDropped(self) -> Any:
        """
        RQNT (ring) and CRCX (RTP towards an address of its choosing) from
        127.0.0.2, and a malformed datagram, are dropped: no answer, no
        ringing, no connection or RTP port; one log line names the source
        and the rule, and C{show mgcp statistics} counts the three.  The
        call agent's own RQNT and CRCX still work.
        """
        ep0, ep1 = self.gateway.endpointName("1/0/0"), self.gateway.endpointName("1/0/1")
        for datagram in [
                "RQNT 77 %s MGCP 0.1\r\nX: 1\r\nS: L/rg\r\n" % (ep0,),
                "CRCX 78 %s MGCP 0.1\r\nC: 1\r\nM: sendrecv\r\n\r\nv=0\r\nc=IN IP4 127.0.0.2\r\n"
                "m=audio 40000 RTP/AVP 0\r\n" % (ep1,),
                "NOT MGCP AT ALL\r\n"]:
            self.stranger.sendto(datagram.encode("ascii"), self.gwAddress)
        answer = yield self.command("AUEP", "1/0/0", [("F", "ES")])
        self.assertEqual(answer.code, 200)
        self.assertRaises(BlockingIOError, self.stranger.recv, 2048)
        self.assertIs(self.ports["1/0/0"].status, PortStatus.IDLE)
        self.assertEqual(self.gateway.connectionsOf("1/0/1"), ())
        self.assertEqual(self.allocator.inUse, frozenset())
        self.assertEqual(self.gateway.counters.refused, 3)
        self.assertEqual(self.gateway.counters.malformed, 0)
        self.assertIn("Unrecognized rx pkts 3, MGCP message parsing errors 0",
                      renderMgcpStatistics(self.gateway).text)
        refusals = [formatEvent(e) for e in self.events if "not a call agent" in formatEvent(e)]
        self.assertEqual(len(refusals), 1)
        self.assertRegex(refusals[0], r"^MGCP: datagram from 127\.0\.0\.2:\d+ dropped: not a call agent "
                                      r"\(mgcp validate call-agent source-ipaddr\)$")

        rung = yield self.command("RQNT", "1/0/0", [("X", "1"), ("S", "L/rg")])
        self.assertEqual(rung.code, 200)
        self.assertIs(self.ports["1/0/0"].status, PortStatus.RINGING)
        created = yield self.command("CRCX", "1/0/1", [("C", "1"), ("M", "recvonly")])
        self.assertEqual(created.code, 200)
        self.assertEqual(len(self.gateway.connectionsOf("1/0/1")), 1)

    @bounded
    def test_notifiedEntityAnswers(self) -> Any:
        """
        The call agent names a notified entity on another host
        (C{N: ca@127.0.0.2:<port>}, as Asterisk or a clustered call agent
        does); the NTFY for an off-hook goes there and its C{200} is taken:
        nothing refused, retransmitted or timed out, and the gateway stays
        registered.  A command from that host is still refused.
        """
        notified: list[Command] = []

        def execute(command: Command, peer: Any) -> Response:
            notified.append(command)
            return Response(200, command.transactionId, "OK")

        entity = MgcpTransactionProtocol(reactor, TransactionOwner(execute), debugLog=mgcpDebugLog())
        entityPort = self.wire.listen(reactor, 0, entity, interface="127.0.0.2")
        self.addCleanup(entityPort.stopListening)
        entityAddress = "127.0.0.2:%d" % (entityPort.getHost().port,)
        self.gateway.start()
        yield self.wire.when(lambda: self.gateway.registered)
        answer = yield self.command("RQNT", "1/0/0", [("X", "7"), ("N", "ca@" + entityAddress), ("R", "L/hd")])
        self.assertEqual(answer.code, 200)
        self.lines["1/0/0"].offHook()
        yield self.wire.when(lambda: bool(notified) and self.gateway.transactions.pending == 0)
        [ntfy] = notified
        self.assertEqual((ntfy.verb, ntfy.raw("N"), ntfy.raw("O")), ("NTFY", "ca@" + entityAddress, "L/hd"))
        counters = self.gateway.counters
        self.assertEqual((counters.refused, counters.timeouts, counters.retransmissions), (0, 0, 0))
        self.assertTrue(self.gateway.registered)
        self.assertEqual([formatEvent(e) for e in self.events if "not a call agent" in formatEvent(e)], [])

        refused = entity.sendCommand(Command("AUEP", 1, self.gateway.endpointName("1/0/1"), "MGCP 0.1",
                                             parameters=[("F", "ES")]), self.gwAddress)
        refused.addErrback(lambda failure: None)
        self.addCleanup(refused.cancel)
        yield self.wire.when(lambda: self.gateway.counters.refused == 1)
        [refusal] = [formatEvent(e) for e in self.events if "not a call agent" in formatEvent(e)]
        self.assertEqual(refusal, "MGCP: datagram from %s dropped: not a call agent "
                                  "(mgcp validate call-agent source-ipaddr)" % (entityAddress,))


class _MediaSockets:
    """Binds each media leg's socket as the router does: a L{MediaUdpPort}."""

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "",
                  maxPacketSize: int = 8192) -> Any:
        return listenMediaUDP(reactor, port, protocol, interface=interface, maxPacketSize=maxPacketSize)


class _MediaWiredReactor(WiredReactor):
    """L{WiredReactor} whose sockets are the router's media ports."""

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "",
                  maxPacketSize: int = 8192) -> Any:
        return self.wire.listen(_MediaSockets(), port, protocol, interface, maxPacketSize)


class _FarEnd(DatagramProtocol):
    """The far end of an MGCP connection: counts the RTP it receives."""

    noisy = False
    received = 0

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.received += 1


class RtpUnreachableTests(TestCase):
    """
    C{mgcp rtp unreachable timeout 1000 action notify} on real UDP
    sockets (issue 12 item 5): the gateway deletes a connection, and tells
    the call agent with a DLCX C{E: 902}, when the far end's host answers
    the RTP with ICMP port unreachable and no RTP arrives within the
    timeout; a far end that only falls silent keeps its connection.  The
    legs are made as the router makes them (L{mediaLegs}, from voice-port
    media resources whose own timer, C{media.rtp-unreachable-ms}, is 1 s).
    """

    timeout = 30

    @bounded
    def setUp(self) -> Any:
        debug = DebugSwitches()
        self.line = SimulatedBackend("1/0/0", Signal.FXS_LOOP_START)
        port = newVoicePort(VoicePortConfig("1/0/0"), self.line, debug=debug)
        self.wire = wire = DatagramWire()
        self.wire.watchLogs(self, reactor)
        self.mediaClock = Clock()
        self.pump = MediaPump(self.mediaClock)
        self.addCleanup(self.pump.stop)
        self.allocator = RtpPortAllocator("127.0.0.1", "40400-40499")
        media = PortMediaResources(_MediaWiredReactor(self.mediaClock, wire), self.allocator, self.pump,
                                   debug=debug, unreachableTimeout=1.0)
        self.callAgent = CallAgent()
        caPort = wire.listen(reactor, 0, self.callAgent.protocol, interface="127.0.0.1")
        self.addCleanup(caPort.stopListening)
        config = MgcpConfig(callAgent=HostPort("127.0.0.1", caPort.getHost().port))
        self.gateway = MgcpGateway(clock=reactor, domain=DOMAIN, ports=[port], newLeg=mediaLegs(media, config),
                                   callAgent=config.callAgent.address, debugLog=mgcpDebugLog())
        self.captured: list[tuple[bool, bytes]] = []
        write = self.gateway.protocol.write

        def tapWrite(data: bytes, peer: Any) -> None:
            self.captured.append((True, data))
            write(data, peer)

        self.gateway.protocol.write = tapWrite  # type: ignore[method-assign]
        gwPort = wire.listen(reactor, 0, self.gateway.protocol, interface="127.0.0.1")
        self.addCleanup(gwPort.stopListening)
        self.addCleanup(self.gateway.stop)
        self.gwAddress = ("127.0.0.1", gwPort.getHost().port)
        restarted = self.callAgent.whenReceived(lambda received: any(c.verb == "RSIP" for c in received))
        self.gateway.start()
        yield restarted
        notified = self.callAgent.whenReceived(lambda received: any(c.verb == "NTFY" for c in received))
        self.line.offHook()
        yield notified
        self.far = _FarEnd()
        self.farPort = wire.listen(reactor, 0, self.far, interface="127.0.0.1")
        self.addCleanup(self.farPort.stopListening)
        farAddress = ("127.0.0.1", self.farPort.getHost().port)
        created = yield self.callAgent.protocol.sendCommand(
            Command("CRCX", 1, self.gateway.endpointName("1/0/0"), "MGCP 0.1",
                    parameters=[("C", "ABC1"), ("M", "sendrecv")], sdp=(simpleSdp(*farAddress, [0]),)),
            self.gwAddress)
        self.assertEqual(created.code, 200)
        [self.connection] = self.gateway.endpoints["1/0/0"].connections.values()
        self.stream = self.connection.leg.stream
        # RTP both ways: the gateway's reaches the far end, the far end's arrives.
        self.mediaClock.pump([self.pump.interval] * 3)
        yield self.wire.when(lambda: self.far.received > 0)
        self.far.transport.write(encodeRtp(RtpPacket(0, 1, 160, 0x1234, bytes(160))), self.connection.local)
        yield self.wire.when(lambda: self.stream.counters.delivered == 1)

    def dlcxs(self) -> list[Command]:
        return [command for command in self.callAgent.received if command.verb == "DLCX"]

    @bounded
    def test_silentFarEndKept(self) -> Any:
        """
        A far end that sends no more RTP (an announcement paused) but still
        receives keeps its connection well past the old 1 s silence timer.
        """
        for _ in range(30):
            self.mediaClock.advance(1.0)
        yield self.wire.quiet()
        self.assertEqual(len(self.gateway.connectionsOf("1/0/0")), 1)
        self.assertGreater(self.far.received, 30)
        self.assertEqual((self.stream.unreachable, self.stream.refusals, self.dlcxs()), (False, 0, []))

    @bounded
    def test_portUnreachableDeletes(self) -> Any:
        """
        The far end closes its socket: the kernel answers the gateway's
        next RTP with ICMP port unreachable; 1 s later, no RTP having
        arrived, the connection is deleted and the call agent gets a DLCX
        with C{E: 902 RTP unreachable}, which tshark decodes.
        """
        yield self.farPort.stopListening()
        self.mediaClock.advance(self.pump.interval)
        yield self.wire.when(lambda: self.stream.refusals > 0)
        self.mediaClock.advance(0.9)
        self.assertEqual(len(self.gateway.connectionsOf("1/0/0")), 1)
        deleted = self.callAgent.whenReceived(lambda received: any(c.verb == "DLCX" for c in received))
        self.mediaClock.advance(0.1)
        yield deleted
        [dlcx] = self.dlcxs()
        self.assertEqual((dlcx.get("C"), dlcx.get("I")), ("ABC1", (self.connection.connectionId,)))
        self.assertEqual((dlcx.get("E").code, dlcx.get("E").text), (902, "RTP unreachable"))
        self.assertEqual(self.gateway.connectionsOf("1/0/0"), ())
        self.assertEqual(self.gateway.counters.connectionsLost, 1)
        [raw] = [data for _, data in self.captured if data.startswith(b"DLCX")]
        self.assertIn(b"\nE: 902 RTP unreachable\n", raw.replace(b"\r\n", b"\n"))
        yield self.decodes(self.captured)

    @bounded
    def decodes(self, captured: list[tuple[bool, bytes]]) -> Any:
        """tshark decodes each captured datagram as MGCP, none malformed, the DLCX with E: 902."""
        tshark = requireTool("tshark")
        path = self.mktemp() + ".pcap"
        with open(path, "wb") as capture:
            capture.write(buildUdpPcap(captured))
        home = self.mktemp()
        os.makedirs(home)
        out, err, code = yield getProcessOutputAndValue(
            tshark, ("-n", "-r", path, "-d", "udp.port==2427,mgcp", "-T", "fields", "-e", "mgcp.req.verb",
                     "-e", "mgcp.param.reasoncode", "-e", "_ws.malformed"),
            env=dict(os.environ, HOME=home), reactor=reactor)
        self.assertEqual(code, 0, err)
        lines = [line.split("\t") for line in out.decode("utf-8").splitlines()]
        self.assertEqual(len(lines), len(captured))
        self.assertEqual([line for line in lines if line[-1]], [], "malformed packets")
        self.assertIn(["DLCX", "902 RTP unreachable", ""], lines)
