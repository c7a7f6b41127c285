"""
Integration tests of L{srst.mgcp.gateway}: on real UDP sockets on
127.0.0.1 a hand-made call agent connects two FXS ports with
CRCX/CRCX/MDCX, audio played on one port arrives at the other over RTP,
then DLCX tears it down; in memory, the project's CallManager-like call
agent (L{srst.tools._callagent}) registers the gateway and completes a
call between two lines.
"""

from __future__ import annotations

from typing import Any

from typing import Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.media.portrange import RtpPortAllocator
from srst.mgcp.gateway import MgcpGateway
from srst.mgcp.messages import Command, Response
from srst.mgcp.transactions import MgcpTransactionProtocol
from srst.ports.media import MediaPump, PortMediaLeg
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


class RealUdpCallTests(TestCase):
    """
    Two FXS ports joined by MGCP over real UDP.
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

    @inlineCallbacks
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

    @inlineCallbacks
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
