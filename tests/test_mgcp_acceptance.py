"""
Acceptance tests for the MGCP gateway with fallback: the real router on
127.0.0.1 whose voice ports are controlled by C{srst-ccm}'s call agent
(L{srst.tools._callagent.CallAgent}) over real UDP; the agent is stopped
and restarted to simulate the WAN failing and coming back.  Detection and
switchback intervals are shortened (1 s keepalive, 2 s failover) so the
real-time run stays short; the exact timing with the defaults is shown
with L{task.Clock} in tests.test_mgcp_detection (this gateway and the
same call agent over UDP, every MGCP timer on the clock) and
tests.test_mgcp_fallback (the monitor alone).

Nothing polls: every UDP socket of the router and of the call agent is
bound through a L{tests.mgcphelpers.DatagramWire}, and each wait is a
Deferred that fires when the datagram, the log event (the router logs its
state changes: the fallback monitor's transitions, a port changing owner)
or the C{srst-cli} output after which its condition holds arrives, with a
deadline in real time.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase
from zope.interface import provider

from srst.debug import DebugSwitches
from srst.mgcp.fallback import FallbackStatus
from srst.mgcp.gateway import DisconnectedStatus
from srst.mgcp._disconnected import DISCONNECTED
from srst.ports import g711
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus
from srst.sccp import messages as m
from srst.sccp.constants import CallState
from srst.tools import cli
from srst.tools._callagent import CallAgent, parseLineSpec
from tests.callhelpers import isCallState, waitFor
from tests.mgcphelpers import DatagramWire, ThreadOutput, WatchedReactor
from tests.phonehelpers import registeredPhone, routerYamlWithCapf
from tests.routerhelpers import bounded, runCommand, startRouter, stateDirectory
from tests.test_mgcp_tshark import buildUdpPcap
from tests.test_sccp_integration import CMF
from tests.toolhelpers import requireTool

GATEWAY = """
media:
  address: 127.0.0.1
  rtp-port-range: "{rtpRange}"
voice-ports:
  1/0/0: {{signal: fxs-loop-start}}
  1/0/1: {{signal: fxs-loop-start}}
  1/0/2: {{signal: fxs-loop-start}}
dial-peers:
  - {{tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, application: mgcpapp}}
  - {{tag: 81236, type: pots, destination-pattern: "81236", port: 1/0/1, application: mgcpapp}}
  - {{tag: 81237, type: pots, destination-pattern: "81237", port: 1/0/2}}
mgcp:
  bind: {{host: 127.0.0.1, port: 0}}
  call-agent: {{host: 127.0.0.1, port: {agentPort}}}
  timers: {{request-timeout-ms: 100, request-timeout-max-ms: 400, tsmax: 3}}
ccm-manager:
  fallback-mgcp: true
  switchback: graceful
  keepalive-interval: 1
  failover-interval: 2
"""

SAMPLES = [((i * 7919) % 16001) - 8000 for i in range(1600)]


class MgcpGatewayAcceptanceTests(TestCase):
    """
    CallManager (the call agent) controls the voice ports; when it goes
    away the router takes them over, and it gives them back when it returns.
    """

    timeout = 60

    def setUp(self) -> Any:
        return self.startGateway(["81234=1/0/0", "81236=1/0/1"], GATEWAY, "43000-43099")

    @bounded
    def startGateway(self, lines: list[str], portsYaml: str, rtpRange: str, **agentOptions: Any) -> Any:
        """
        Start srst-ccm's call agent for C{lines} and a router with the
        ports of C{portsYaml} under it, every datagram between them watched
        (L{tap}); fires once the agent has the gateway registered.
        """
        self.wire = DatagramWire()
        self.wire.watchLogs(self, reactor)
        watched = WatchedReactor(reactor, self.wire)
        self.agent = CallAgent(watched, "branch-router", [parseLineSpec(line) for line in lines],
                               listenAddress=("127.0.0.1", 0), debug=DebugSwitches(), **agentOptions)
        self.agent.start()
        self.addCleanup(self.agent.stop)
        extra = CMF.format(maxEphones=10) + portsYaml.format(
            rtpRange=rtpRange, agentPort=self.agent.listenAddress[1])
        self.service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), extra),
                                         reactor=watched)
        self.gateway = self.service.mgcpService.gateway
        self.monitor = self.service.mgcpService.monitor
        self.control = self.service.mgcpService.control
        self.ports = {port.name: port for port in self.service.voicePorts}
        self.captured: list[tuple[bool, bytes]] = []
        self.tap()
        yield self.agent.whenRegistered()

    def until(self, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> Deferred[None]:
        """
        @return: a Deferred firing once C{condition()} holds (checked as
            each datagram, log event or C{srst-cli} line arrives); it fails
            when that takes more than C{timeout} seconds.
        """
        def timedOut(result: object, timeout: float) -> None:
            raise AssertionError("timed out after %g s waiting for %s" % (timeout, what))

        return self.wire.when(condition).addTimeout(timeout, reactor, onTimeoutCancel=timedOut)

    def tap(self) -> None:
        """Record every MGCP datagram the gateway sends and receives (for tshark)."""
        gateway, protocol = self.gateway, self.gateway.protocol
        received, write = gateway.datagramReceived, protocol.write

        def tapReceived(data: bytes, peer: Any) -> None:
            self.captured.append((False, data))
            received(data, peer)

        def tapWrite(data: bytes, peer: Any) -> None:
            self.captured.append((True, data))
            write(data, peer)

        gateway.datagramReceived = tapReceived
        protocol.write = tapWrite

    @bounded
    def portCall(self) -> Any:
        """1/0/0 calls 81236 under the call agent; 1/0/1 answers; audio flows from 1/0/0 to 1/0/1."""
        a, b = self.ports["1/0/0"], self.ports["1/0/1"]
        a.backend.offHook()
        yield self.until(lambda: a.dsp.playing is CallProgressTone.DIAL, "dial tone from the call agent")
        a.backend.dial("81236")
        yield self.until(lambda: b.status is PortStatus.RINGING, "1/0/1 rung by the call agent")
        b.backend.offHook()
        yield self.agent.whenCallConnected()
        yield self.until(lambda: a.status is PortStatus.CONNECTED and b.status is PortStatus.CONNECTED,
                         "both ports connected")
        b.dsp.startRecording()
        a.dsp.playSamples(SAMPLES)
        yield self.until(lambda: any(b.dsp.lastReceived), "audio at 1/0/1")
        return a, b

    @bounded
    def test_callUnderCallAgent(self) -> None:
        """
        The gateway registers with the call agent; two FXS ports call each
        other under its control with RTP between the gateway's own
        endpoints (the played samples arrive exactly); hanging up deletes
        both connections; tshark decodes the whole exchange with no
        malformed packet.
        """
        self.assertTrue(self.gateway.registered)
        self.assertEqual(self.monitor.status, FallbackStatus.REGISTERED)
        show = yield runCommand(self.service, "show", "ccm-manager")
        self.assertIn("Registered", show.text)
        self.assertIn("Enabled/OFF", show.text)
        a, b = yield self.portCall()
        self.assertEqual(len(self.gateway.connectionsOf("1/0/0")), 1)
        self.assertEqual(len(self.gateway.connectionsOf("1/0/1")), 1)
        for connection in self.gateway.endpoints["1/0/1"].connections.values():
            # mgcp rtp unreachable timeout 1000 action notify: 1 s after an ICMP port
            # unreachable; no silence timer unless rtp-unreachable.silence-timeout-ms asks.
            stream = connection.leg.stream
            self.assertEqual((stream.refusedTimeout, stream.unreachableTimeout), (1.0, None))
        yield self.until(lambda: a.dsp.playing is None, "the samples played out")
        settled = b.rxPackets + 5
        yield self.until(lambda: b.rxPackets >= settled, "the last packets at 1/0/1")
        recorded = b.dsp.stopRecording()
        expected = g711.depacketise(a.dsp.law, g711.packetise(a.dsp.law, SAMPLES))
        found = any(recorded[i:i + len(expected)] == expected for i in range(len(recorded) - len(expected) + 1))
        self.assertTrue(found, "the played samples arrive at 1/0/1 sample for sample")
        summary = yield runCommand(self.service, "show", "voice", "port", "summary")
        self.assertIn("Media streams:", summary.text)
        media = {row["port"]: row["media"] for row in summary.data}
        for name in ("1/0/0", "1/0/1"):
            self.assertIsNotNone(media[name], f"{name}'s MGCP connection shows in the summary")
        self.assertGreater(media["1/0/0"]["txPackets"], 0)
        self.assertGreater(media["1/0/1"]["rxPackets"], 0)
        self.assertEqual(media["1/0/1"]["lost"], 0)
        status = yield runCommand(self.service, "show", "voice", "call", "status")
        (first,), (second,) = self.gateway.connectionsOf("1/0/0"), self.gateway.connectionsOf("1/0/1")
        self.assertEqual(first.callId, second.callId)
        lines = status.text.splitlines()
        self.assertEqual(lines[0], "CallID CID ccVdb Port DSP/Ch Called # Codec Dial-peers")
        for name, connection in (("1/0/0", first), ("1/0/1", second)):
            host, port = connection.remote
            row = [line for line in lines if f" {name} " in line]
            self.assertEqual(len(row), 1, status.text)
            self.assertRegex(row[0], rf"^0x{connection.connectionId.upper()} {connection.callId} 0x[0-9A-F]{{8}} "
                                     rf"{name} {host}:{port} g711ulaw MGCP$")
        self.assertEqual(lines[-1], "1 active calls found")
        self.assertEqual([row["port"] for row in status.data["mgcp"]], ["1/0/0", "1/0/1"])
        a.backend.onHook()
        yield self.agent.whenCallReleased()
        yield self.until(lambda: not self.gateway.connectionsOf("1/0/0") and not self.gateway.connectionsOf("1/0/1"),
                         "both connections deleted")
        b.backend.onHook()
        yield self.checkCapture()

    @bounded
    def checkCapture(self) -> Any:
        """tshark decodes every datagram captured so far as MGCP, none malformed."""
        tshark = requireTool("tshark")
        captured = list(self.captured)
        path = self.mktemp() + ".pcap"
        with open(path, "wb") as capture:
            capture.write(buildUdpPcap(captured))
        home = self.mktemp()
        os.makedirs(home)
        out, err, code = yield getProcessOutputAndValue(
            tshark, ("-n", "-r", path, "-d", "udp.port==2427,mgcp", "-T", "fields", "-e", "mgcp.req.verb",
                     "-e", "mgcp.rsp.rspcode", "-e", "_ws.malformed"),
            env=dict(os.environ, HOME=home), reactor=reactor)
        self.assertEqual(code, 0, err)
        lines = out.decode("utf-8").splitlines()
        self.assertEqual(len(lines), len(captured))
        self.assertFalse([line for line in lines if line.split("\t")[-1]], "malformed packets")
        verbs = {line.split("\t")[0] for line in lines}
        self.assertTrue({"RSIP", "RQNT", "NTFY", "CRCX", "MDCX", "DLCX"} <= verbs, verbs)

    @bounded
    def test_portWithoutMgcpapp(self) -> None:
        """
        1/0/2 has a dial-peer without C{application mgcpapp}: it is no MGCP
        endpoint.  Through start, the boot RSIP, an C{AUEP *}, a call
        between the MGCP ports, fallback and switchback it never appears on
        the MGCP wire (tshark decodes all of it), it stays under local call
        control (dial tone from the router, a phone calls it while the other
        ports are under the call agent), and a command naming it is
        answered 500 (endpoint unknown).
        """
        c = self.ports["1/0/2"]
        local = self.service.portEndpoints["1/0/2"]
        logged: list[str] = []

        @provider(ILogObserver)
        def observe(event: LogEvent) -> None:
            text = formatEvent(event) or ""
            if "1/0/2" in text or "su0/2" in text.lower():
                logged.append(text)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        self.assertEqual(sorted(self.gateway.endpoints), ["1/0/0", "1/0/1"])
        self.assertEqual((self.control.owner("1/0/2"), local.active), ("LOCAL", True))
        self.assertTrue(self.gateway.registered)

        audit = yield self.agent.auditEndpoint("*")
        self.assertEqual(audit.code, 200)
        self.assertEqual([p.value for p in audit.parameters if p.name == "Z"],
                         ["aaln/S1/SU0/0@branch-router", "aaln/S1/SU0/1@branch-router"])

        c.backend.offHook()
        yield self.until(lambda: c.dsp.playing is CallProgressTone.DIAL, "the router's own dial tone on 1/0/2")
        c.backend.onHook()
        phone, dn = yield registeredPhone(self, self.service, "0000000000F2")
        phone.offHook()
        phone.pressKeys("81237")
        yield self.until(lambda: c.status is PortStatus.RINGING, "1/0/2 rung by local call control")
        c.backend.offHook()
        yield waitFor(phone, isCallState(CallState.CONNECTED))
        self.assertIsNotNone(local.leg)
        phone.onHook()
        yield self.until(lambda: local.leg is None, "the local call on 1/0/2 over")
        c.backend.onHook()

        a, b = yield self.portCall()
        a.backend.onHook()
        yield self.agent.whenCallReleased()
        b.backend.onHook()

        yield self.agent.stop()
        yield self.until(lambda: self.monitor.status is FallbackStatus.FALLBACK, "fallback", timeout=10)
        yield self.until(lambda: self.service.portEndpoints["1/0/0"].active
                         and self.service.portEndpoints["1/0/1"].active, "the MGCP ports under local control")
        self.assertNotIn("1/0/2", self.monitor.pendingPorts)
        self.agent.start()
        yield self.until(lambda: self.monitor.status is FallbackStatus.REGISTERED, "switchback", timeout=10)
        yield self.until(lambda: self.control.owner("1/0/0") == "MGCP" and self.control.owner("1/0/1") == "MGCP",
                         "the MGCP ports back under the call agent", timeout=10)
        self.assertEqual((self.control.owner("1/0/2"), local.active), ("LOCAL", True))
        self.assertEqual(logged, [], "nothing logged about 1/0/2 through fallback and switchback")

        named = [data for sent, data in self.captured if b"su0/2" in data.lower()]
        self.assertEqual(named, [], "1/0/2 on the MGCP wire")
        verbs = {data.split(None, 1)[0] for sent, data in self.captured}
        self.assertTrue({b"RSIP", b"AUEP", b"NTFY", b"RQNT", b"CRCX", b"DLCX"} <= verbs, verbs)
        yield self.checkCapture()

        unknown = yield self.agent.auditEndpoint("aaln/S1/SU0/2")
        self.assertEqual((unknown.code, unknown.commentary), (500, "Unknown endpoint"))

    @bounded
    def test_debugMgcp(self) -> None:
        """
        C{srst-cli debug mgcp} streams the gateway's packets (IOS C{debug
        mgcp packets} style) until debugging is turned off.
        """
        stdout = ThreadOutput(self.wire, reactor)
        result = deferToThread(cli.main, ["--socket", self.service.config.admin.socket, "debug", "mgcp"],
                               stdout, ThreadOutput(self.wire, reactor))
        yield self.until(lambda: stdout.getvalue() != "", "the debug stream's banner")
        self.assertIn("srst.debug.mgcp", self.service.debug.enabledNamespaces())
        self.ports["1/0/1"].backend.offHook()
        yield self.until(lambda: "O: L/hd" in stdout.getvalue(), "the NTFY in the stream")
        self.ports["1/0/1"].backend.onHook()
        self.service.admin.factory.undebugAll()
        code = yield result
        self.assertEqual(code, 0)
        text = stdout.getvalue()
        self.assertIn("MGCP Packet sent to", text)
        self.assertIn("NTFY", text)

    @bounded
    def test_fallbackAndSwitchback(self) -> None:
        """
        The call agent stops: the router falls back within the detection
        time and a connected port call survives it; then 1/0/0 calls a TLS
        phone through local call control with SRTP on the phone leg.  The
        call agent returns: graceful switchback gives the idle port back at
        once and 1/0/0 only when its local call ends.
        """
        a, b = yield self.portCall()
        phone, dn = yield registeredPhone(self, self.service, "0000000000F1")
        yield self.agent.stop()
        lost = reactor.seconds()
        yield self.until(lambda: self.monitor.status is FallbackStatus.FALLBACK, "fallback", timeout=10)
        self.assertLess(reactor.seconds() - lost, 2 + 1 + 1.5)
        show = yield runCommand(self.service, "show", "ccm-manager", "fallback-mgcp")
        self.assertIn("Enabled/ON", show.text)
        before = b.rxPackets
        yield self.until(lambda: b.rxPackets > before + 25, "the connected MGCP call still carries audio")
        self.assertEqual((a.status, b.status), (PortStatus.CONNECTED, PortStatus.CONNECTED))
        self.assertEqual(self.control.owner("1/0/0"), "LOCAL")
        self.assertFalse(self.service.portEndpoints["1/0/0"].active)

        a.backend.onHook()
        b.backend.onHook()
        yield self.until(lambda: self.service.portEndpoints["1/0/0"].active
                         and self.service.portEndpoints["1/0/1"].active, "both ports under local control")
        self.assertEqual(self.gateway.connectionsOf("1/0/0"), ())

        a.backend.offHook()
        a.backend.dial(dn)
        yield waitFor(phone, lambda msg: isinstance(msg, m.SetRinger) and msg.ringMode != 1)
        phone.offHook()
        yield waitFor(phone, isCallState(CallState.CONNECTED))
        local = self.service.portEndpoints["1/0/0"]
        yield self.until(lambda: phone.media.packetsDecrypted > 10 and local.mediaLeg is not None
                         and local.mediaLeg.snapshot().counters.decrypted > 10, "SRTP both ways")
        self.assertTrue(local.mediaLeg.secure)

        self.agent.start()
        yield self.until(lambda: self.control.owner("1/0/1") == "MGCP", "1/0/1 back under MGCP", timeout=10)
        self.assertEqual(self.control.owner("1/0/0"), "LOCAL")
        self.assertIs(a.status, PortStatus.CONNECTED)
        a.backend.onHook()
        yield self.until(lambda: self.control.owner("1/0/0") == "MGCP", "1/0/0 back after its call", timeout=10)
        yield self.until(lambda: self.monitor.status is FallbackStatus.REGISTERED, "registered again", timeout=10)
        phone.onHook()


THREE_PORTS = """
media:
  address: 127.0.0.1
  rtp-port-range: "{rtpRange}"
voice-ports:
  1/0/0: {{signal: fxs-loop-start}}
  1/0/1: {{signal: fxs-loop-start}}
  1/0/2: {{signal: fxs-loop-start}}
dial-peers:
  - {{tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, application: mgcpapp}}
  - {{tag: 81236, type: pots, destination-pattern: "81236", port: 1/0/1, application: mgcpapp}}
  - {{tag: 81238, type: pots, destination-pattern: "81238", port: 1/0/2, application: mgcpapp}}
mgcp:
  bind: {{host: 127.0.0.1, port: 0}}
  call-agent: {{host: 127.0.0.1, port: {agentPort}}}
  timers: {{request-timeout-ms: 100, request-timeout-max-ms: 400, tsmax: 1, tdinit: 1}}
ccm-manager:
  fallback-mgcp: true
  keepalive-interval: 10
  failover-interval: 20
"""


class UnansweredEndpointAcceptanceTests(TestCase):
    """
    The call agent never answers for one endpoint (C{srst-ccm mgcp agent
    --ignore-endpoint}, as Asterisk does for an endpoint it has no
    configuration for): that endpoint alone is disconnected (RFC 3435
    4.4.7) while a call on two other ports goes on.
    """

    timeout = 60
    until = MgcpGatewayAcceptanceTests.until
    tap = MgcpGatewayAcceptanceTests.tap
    portCall = MgcpGatewayAcceptanceTests.portCall
    checkCapture = MgcpGatewayAcceptanceTests.checkCapture

    startGateway = MgcpGatewayAcceptanceTests.startGateway

    @bounded
    def setUp(self) -> Any:
        yield self.startGateway(["81234=1/0/0", "81236=1/0/1", "81238=1/0/2"], THREE_PORTS, "43100-43199",
                                ignored=["1/0/2"])
        self.registered = len(self.captured)

    def restartsSent(self) -> list[tuple[str, str]]:
        """@return: C{(endpoint, RM)} of every RSIP the gateway sent since it registered."""
        found = []
        for sent, data in self.captured[self.registered:]:
            lines = data.decode("ascii", "replace").replace("\r\n", "\n").split("\n")
            if sent and lines[0].startswith("RSIP "):
                method = [line.split(":", 1)[1].strip() for line in lines if line.startswith("RM:")]
                found.append((lines[0].split()[2], method[0] if method else ""))
        return found

    @bounded
    def test_onlyThatEndpointDisconnected(self) -> None:
        """
        1/0/0 and 1/0/1 are in a call; 1/0/2 goes off hook and its NTFY is
        never answered: the gateway sends C{RSIP aaln/S1/SU0/2@branch-router
        RM: disconnected} (never C{RSIP *}), the call keeps its audio and
        its connections, the gateway stays registered, and tshark decodes
        every MGCP datagram.
        """
        a, b = yield self.portCall()
        call = self.agent.calls[-1]
        c = self.ports["1/0/2"]
        c.backend.offHook()
        endpoint = "aaln/S1/SU0/2@branch-router"
        yield self.until(lambda: (endpoint, "disconnected") in self.restartsSent(),
                         "the disconnected RSIP for 1/0/2's endpoint", timeout=8)
        self.assertEqual([rsip for rsip in self.restartsSent() if rsip[0].startswith("*")], [])
        self.assertIn(self.gateway.disconnectedStatus("1/0/2"), DISCONNECTED)
        self.assertIs(self.gateway.disconnected.status(), DisconnectedStatus.CONNECTED)
        before = b.rxPackets
        a.dsp.playSamples(SAMPLES)
        yield self.until(lambda: b.rxPackets > before + 25, "the call on 1/0/0-1/0/1 still carries audio")
        self.assertEqual((a.status, b.status), (PortStatus.CONNECTED, PortStatus.CONNECTED))
        self.assertEqual((len(self.gateway.connectionsOf("1/0/0")), len(self.gateway.connectionsOf("1/0/1"))),
                         (1, 1))
        self.assertTrue(call.active)
        self.assertIs(self.monitor.status, FallbackStatus.REGISTERED)
        self.assertTrue(all(self.gateway.controlled(name) for name in ("1/0/0", "1/0/1", "1/0/2")))
        a.backend.onHook()
        yield self.agent.whenCallReleased()
        yield self.until(lambda: not self.gateway.connectionsOf("1/0/0") and not self.gateway.connectionsOf("1/0/1"),
                         "both connections deleted")
        b.backend.onHook()
        self.assertEqual([rsip for rsip in self.restartsSent() if rsip[0].startswith("*")], [])
        yield self.checkCapture()
