"""
End-to-end detection timing of the MGCP fallback with the default timers
(mgcp.md 9.1: keepalive after 15 s of silence, fallback after 30 s): the
real gateway (L{srst.mgcp.control.MgcpService}) and the real C{srst-ccm}
call agent talk over UDP on 127.0.0.1, while every MGCP timer of the
gateway (keepalives, retransmissions, failover, probing) runs on a
L{task.Clock}.  The test advances the clock and lets the reactor carry
the datagrams each step puts on the wire, waiting on Deferreds that fire as
they arrive (L{tests.mgcphelpers.DatagramWire}); nothing waits for real
time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.media.portrange import RtpPortAllocator
from srst.mgcp.commands import renderCcmManager
from srst.mgcp.config import CcmManagerConfig, HostPort, Switchback, SwitchbackMode
from srst.mgcp.control import MgcpService
from srst.mgcp.fallback import FallbackStatus
from srst.mgcp._disconnected import DISCONNECTED
from srst.mgcp.gateway import DisconnectedStatus, MgcpGateway
from srst.ports.media import MediaPump, PortMediaResources
from srst.ports.simulated import SimulatedBackend
from srst.ports.voiceport import PortStatus, newVoicePort
from srst.tools._callagent import CallAgent, parseLineSpec
from tests.mgcphelpers import DatagramWire, WiredReactor, mgcpDebugLog
from tests.routerhelpers import bounded
from tests.test_mgcp_tshark import checkMgcpCapture

BASE = datetime(2026, 12, 5, 9, 0, 0, tzinfo=timezone.utc)
PORTS = ("1/0/0", "1/0/1")


class GatewayOverUdp(TestCase):
    """
    The gateway and the C{srst-ccm} call agent on real UDP, the gateway's
    timers on a L{task.Clock} (no test of its own).
    """

    timeout = 30
    rearmAfterKeepalive: str | None = None
    """The agent's C{rearmAfterKeepalive} (Asterisk's C{RQNT *@gw} after each keepalive)."""
    persistent: tuple[str, ...] = ("offhook",)
    """The gateway's C{mgcp persistent} events."""
    unreachableTimeout: float | None = 1.0
    """The RTP-unreachable timeout of the legs, seconds (C{None}: off)."""
    switchback = Switchback(SwitchbackMode.IMMEDIATE)
    """The gateway's C{ccm-manager switchback}."""

    def backupHosts(self) -> tuple[HostPort, ...]:
        """@return: the gateway's C{ccm-manager redundant-hosts} (none)."""
        return ()

    @bounded
    def setUp(self) -> Any:
        self.clock = Clock()
        self.clock.advance(1000.0)
        self.wire = DatagramWire()
        self.agent = CallAgent(WiredReactor(reactor, self.wire), "branch-router",
                               [parseLineSpec("81234=1/0/0"), parseLineSpec("81236=1/0/1")],
                               listenAddress=("127.0.0.1", 0), debug=DebugSwitches(),
                               rearmAfterKeepalive=self.rearmAfterKeepalive)
        self.agent.start()
        self.addCleanup(self.agent.stop)
        clocked = WiredReactor(self.clock, self.wire)
        debug = DebugSwitches()
        ports = [newVoicePort(VoicePortConfig(name, Signal.FXS_LOOP_START),
                              SimulatedBackend(name, Signal.FXS_LOOP_START), debug=debug) for name in PORTS]
        self.ports = {port.name: port for port in ports}
        media = PortMediaResources(clocked, RtpPortAllocator("127.0.0.1", "43200-43299"),
                                   MediaPump(self.clock), debug=debug)
        self.gateway = MgcpGateway(
            clock=self.clock, domain="branch-router", ports=ports,
            newLeg=lambda port, payloadType: media.newLeg(
                port, payloadType, unreachableTimeout=self.unreachableTimeout, unreachableAfterMedia=True),
            callAgent=self.agent.listenAddress, restartDelay=2.0, debugLog=mgcpDebugLog(),
            persistent=self.persistent, redundantHosts=[host.host for host in self.backupHosts()])
        config = CcmManagerConfig(fallbackMgcp=True, switchback=self.switchback, redundantHosts=self.backupHosts())
        self.service = MgcpService(clocked, self.gateway, {}, config, ("127.0.0.1", 0),
                                   lambda: BASE + timedelta(seconds=self.clock.seconds()))
        self.monitor = self.service.monitor
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.heard: list[float] = []
        self.gateway.trafficObservers.append(lambda: self.heard.append(self.clock.seconds()))
        self.gateway.commandObservers.append(lambda: self.heard.append(self.clock.seconds()))
        self.sent: list[bytes] = []
        self.captured: list[tuple[bool, bytes]] = []
        write, received = self.gateway.protocol.write, self.gateway.datagramReceived

        def tapWrite(data: bytes, peer: Any) -> None:
            self.sent.append(data)
            self.captured.append((True, data))
            write(data, peer)

        def tapReceived(data: bytes, peer: Any) -> None:
            self.captured.append((False, data))
            received(data, peer)

        self.gateway.protocol.write = tapWrite
        self.gateway.datagramReceived = tapReceived
        self.clock.advance(2.0)  # the restart delay: the boot RSIP goes out
        yield self.agent.whenRegistered()
        yield self.wire.when(lambda: self.monitor.status is FallbackStatus.REGISTERED)

    def settle(self) -> Deferred[None]:
        """
        Let the reactor carry what is on the wire: fires once every datagram
        sent to a socket still listening has arrived.
        """
        return self.wire.quiet()

    @bounded
    def advance(self, seconds: float, step: float = 1.0) -> Any:
        """Advance the clock in steps, letting datagrams through after each."""
        end = self.clock.seconds() + seconds
        while self.clock.seconds() < end - 1e-9:
            self.clock.advance(min(step, end - self.clock.seconds()))
            yield self.settle()

    def keepalivesSent(self) -> int:
        """Keepalive NTFYs sent so far (an empty NTFY, C{X: 0}), retransmissions not counted."""
        return len({data.split()[1] for data in self.sent
                    if data.startswith(b"NTFY ") and b"\nX: 0" in data.replace(b"\r", b"")})

    def restartsSent(self) -> int:
        """RSIP commands sent so far, retransmissions not counted."""
        return len({data.split()[1] for data in self.sent if data.startswith(b"RSIP ")})

    @bounded
    def portCall(self, agent: Any) -> Any:
        """
        Port 1/0/0 calls 81236 (port 1/0/1), which answers; fires once
        C{agent} (the call agent in control) has connected the call.
        """
        a, b = self.ports["1/0/0"], self.ports["1/0/1"]
        a.backend.offHook()
        yield self.settle()
        for digit in "81236":
            a.backend.dial(digit)
        yield self.advance(1.0, step=0.1)
        yield self.wire.when(lambda: b.status is PortStatus.RINGING)
        connected = agent.whenCallConnected()
        b.backend.offHook()
        yield self.settle()
        yield connected


class DetectionTimingTests(GatewayOverUdp):
    """
    The call agent stops answering: the ports go to local control exactly
    at the failover interval; it answers again: they come back.
    """

    @bounded
    def test_answeredKeepalivesKeepControl(self) -> Any:
        """
        While the call agent answers, an empty NTFY keepalive goes out
        after each 15 s of silence and the gateway never falls back.
        """
        yield self.advance(60.0)
        self.assertGreaterEqual(self.keepalivesSent(), 3)
        self.assertIs(self.monitor.status, FallbackStatus.REGISTERED)
        self.assertTrue(all(self.gateway.controlled(name) for name in PORTS))

    @bounded
    def test_fallbackAtFailoverIntervalThenSwitchback(self) -> Any:
        """
        The call agent stops: a keepalive goes out 15 s after it was last
        heard and the ports go to local control 30 s after (not a step
        sooner); probing goes on every 15 s; when the call agent listens
        again the next probe is answered and switchback (immediate) sends
        RSIP and gives the ports back to MGCP.
        """
        yield self.agent.stop()
        yield self.settle()
        lastHeard = self.heard[-1]
        keepalives = self.keepalivesSent()
        yield self.advance(lastHeard + 15.0 - self.clock.seconds() - 0.5)
        self.assertEqual(self.keepalivesSent(), keepalives)
        yield self.advance(1.0)
        self.assertEqual(self.keepalivesSent(), keepalives + 1)
        yield self.advance(lastHeard + 30.0 - self.clock.seconds() - 0.5)
        self.assertIs(self.monitor.status, FallbackStatus.REGISTERED)
        yield self.advance(0.5)
        self.assertIs(self.monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(self.monitor.fallbackStart, BASE + timedelta(seconds=lastHeard + 30.0))
        self.assertFalse(any(self.gateway.controlled(name) for name in PORTS))
        probes = self.keepalivesSent()
        yield self.advance(30.0)
        self.assertGreaterEqual(self.keepalivesSent(), probes + 2)
        self.assertIs(self.monitor.status, FallbackStatus.FALLBACK)

        self.agent.start()
        restarts = self.restartsSent()
        yield self.advance(16.0)
        yield self.wire.when(lambda: self.monitor.status is FallbackStatus.REGISTERED)
        self.assertTrue(all(self.gateway.controlled(name) for name in PORTS))
        self.assertGreater(self.restartsSent(), restarts)

    def restartMethods(self) -> dict[bytes, bytes]:
        """@return: the endpoint and C{RM:} of each RSIP sent so far, by transaction id."""
        found = {}
        for data in self.sent:
            if data.startswith(b"RSIP "):
                lines = data.replace(b"\r", b"").split(b"\n")
                method = [line.split(b":", 1)[1].strip() for line in lines if line.startswith(b"RM:")]
                found[lines[0].split()[1]] = (lines[0].split()[2], method[0])
        return found

    @bounded
    def test_oneEndpointUnansweredKeepsControl(self) -> Any:
        """
        The call agent never answers for 1/0/1 (as Asterisk does for an
        endpoint it has no configuration for) but answers the keepalives:
        1/0/1 alone is disconnected, with its own RSIP, and the gateway
        stays registered with every port under MGCP; no C{RSIP *} goes out.
        """
        self.agent.ignored = frozenset({"aaln/s1/su0/1"})
        before = set(self.restartMethods())
        self.ports["1/0/1"].backend.offHook()
        yield self.advance(90.0)
        restarts = [value for key, value in self.restartMethods().items() if key not in before]
        self.assertIn((b"aaln/S1/SU0/1@branch-router", b"disconnected"), restarts)
        self.assertEqual([endpoint for endpoint, _ in restarts if endpoint.startswith(b"*")], [])
        self.assertIn(self.gateway.disconnectedStatus("1/0/1"), DISCONNECTED)
        self.assertIs(self.gateway.disconnectedStatus("1/0/0"), DisconnectedStatus.CONNECTED)
        self.assertIs(self.monitor.status, FallbackStatus.REGISTERED)
        self.assertTrue(all(self.gateway.controlled(name) for name in PORTS))
        self.assertGreaterEqual(self.keepalivesSent(), 3)

    @bounded
    def test_nothingAnsweredLosesTheGateway(self) -> Any:
        """
        When the call agent answers nothing at all, an endpoint's NTFY
        timing out is no proof by itself (the call agent may just not serve
        that endpoint): the keepalives decide, and the gateway falls back at
        the failover interval (30 s of silence) as when no call was made;
        the disconnected procedure that runs is the whole gateway's
        (C{RSIP * RM: disconnected}) once a keepalive times out.
        """
        yield self.agent.stop()
        yield self.settle()
        lastHeard = self.heard[-1]
        before = set(self.restartMethods())
        self.ports["1/0/1"].backend.offHook()
        yield self.advance(lastHeard + 29.5 - self.clock.seconds())
        self.assertIs(self.monitor.status, FallbackStatus.REGISTERED)
        yield self.advance(1.0)
        self.assertIs(self.monitor.status, FallbackStatus.FALLBACK)
        self.assertFalse(any(self.gateway.controlled(name) for name in PORTS))
        yield self.advance(40.0)
        restarts = [value for key, value in self.restartMethods().items() if key not in before]
        self.assertIn((b"*@branch-router", b"disconnected"), restarts)
        self.assertIs(self.gateway.disconnectedStatus("1/0/1"), DisconnectedStatus.CONNECTED)

    @bounded
    def test_longRingingKeepsTheCall(self) -> Any:
        """
        A call that rings longer than the RTP-unreachable timeout (1 s, as
        the seed configures) is not torn down: the called side's
        connection receives nothing until it answers, which is not RTP
        loss; once answered, media flows and both connections stay.
        """
        a, b = self.ports["1/0/0"], self.ports["1/0/1"]
        a.backend.offHook()
        yield self.settle()
        for digit in "81236":
            a.backend.dial(digit)
        yield self.advance(1.0, step=0.1)
        yield self.wire.when(lambda: b.status is PortStatus.RINGING)
        yield self.advance(5.0)
        self.assertIs(b.status, PortStatus.RINGING)
        self.assertEqual(len(self.gateway.connectionsOf("1/0/0")), 1)
        connected = self.agent.whenCallConnected()
        b.backend.offHook()
        yield self.settle()
        yield connected
        yield self.advance(3.0, step=0.1)
        self.assertEqual((len(self.gateway.connectionsOf("1/0/0")), len(self.gateway.connectionsOf("1/0/1"))),
                         (1, 1))
        self.assertEqual(self.gateway.counters.connectionsLost, 0)
        self.assertGreater(b.rxPackets, 0)
        self.assertGreater(a.rxPackets, 0)


class PersistentOnHookTests(GatewayOverUdp):
    """
    An Asterisk-like call agent answers every keepalive with C{RQNT *@gw
    R: L/hd(N)}, which replaces the requested events of every line, those
    in a call too (issue 12 item 1): with C{mgcp persistent onhook} the
    on-hook that ends the call is still reported.
    """

    rearmAfterKeepalive = "L/hd(N)"
    persistent = ("offhook", "onhook")
    unreachableTimeout = None  # the clock jumps a second at a time: RTP arrives between steps

    def connectedCall(self) -> Any:
        """Port 1/0/0 calls 81236 (port 1/0/1), which answers."""
        return self.portCall(self.agent)

    def wildcardRequests(self) -> int:
        """C{RQNT *@branch-router} commands received, retransmissions not counted."""
        return len({data.split()[1] for fromGateway, data in self.captured
                    if not fromGateway and data.startswith(b"RQNT ") and b" *@branch-router " in data})

    @bounded
    def test_onHookReportedAfterKeepaliveRearms(self) -> Any:
        """
        The call stays up over more than three keepalive intervals, each
        keepalive answered by C{RQNT *@gw R: L/hd(N)}; the called side then
        hangs up and the gateway notifies C{O: L/hu} although the current
        request asks for off-hook only; the agent releases the call.  tshark
        decodes every MGCP datagram, none malformed.
        """
        yield self.connectedCall()
        keepalives, requests = self.keepalivesSent(), self.wildcardRequests()
        yield self.advance(50.0)
        self.assertGreaterEqual(self.keepalivesSent(), keepalives + 3)
        self.assertGreaterEqual(self.wildcardRequests(), requests + 3)
        b = self.ports["1/0/1"]
        self.assertIs(b.status, PortStatus.CONNECTED)
        self.assertEqual(len(self.gateway.connectionsOf("1/0/1")), 1)
        self.assertEqual([str(r.event) for r in self.gateway.endpoints["1/0/1"].notification.requested],
                         ["L/hd"])
        released = self.agent.whenCallReleased()
        b.backend.onHook()
        yield self.settle()
        call = yield released
        self.assertIn("81236 hung up", call.reason)
        hangUps = [data for data in self.sent if data.startswith(b"NTFY ") and b"aaln/S1/SU0/1@" in data
                   and b"O: L/hu" in data]
        self.assertTrue(hangUps, "no NTFY O: L/hu sent")
        yield self.wire.when(lambda: not self.gateway.connectionsOf("1/0/0"))
        yield checkMgcpCapture(self, self.captured, {"RQNT", "NTFY", "CRCX", "MDCX", "DLCX"})

    @bounded
    def test_offHookOnlyLosesTheOnHook(self) -> Any:
        """
        Without C{onhook} among the persistent events (IOS's default) the
        same on-hook goes unreported: what the issue saw with Asterisk.
        """
        self.gateway.endpoints["1/0/1"].notification.persistent = frozenset({("L", "hd")})
        yield self.connectedCall()
        yield self.advance(20.0)
        self.assertGreaterEqual(self.wildcardRequests(), 1)
        self.ports["1/0/1"].backend.onHook()
        yield self.settle()
        self.assertFalse([data for data in self.sent if b"O: L/hu" in data])
        self.assertEqual(len(self.gateway.connectionsOf("1/0/0")), 1)


class BackupCallAgent(GatewayOverUdp):
    """
    C{ccm-manager redundant-hosts} (issue 12 item 7, mgcp.md 9.2): a second
    C{srst-ccm} call agent on 127.0.0.2 is the backup.  The primary
    stops answering: the gateway registers with the backup (RSIP restart
    to it) instead of falling back, and calls work through it; both
    silent: fallback; the primary back: switchback per C{ccm-manager
    switchback}.
    """

    def backupHosts(self) -> tuple[HostPort, ...]:
        if not hasattr(self, "backup"):
            self.backup = CallAgent(WiredReactor(reactor, self.wire), "branch-router",
                                    [parseLineSpec("81234=1/0/0"), parseLineSpec("81236=1/0/1")],
                                    listenAddress=("127.0.0.2", 0), debug=DebugSwitches())
            self.backup.start()
            self.addCleanup(self.backup.stop)
        return (HostPort(*self.backup.listenAddress),)

    def show(self) -> str:
        """@return: C{show ccm-manager} now."""
        return renderCcmManager(self.monitor, "branch-router",
                                BASE + timedelta(seconds=self.clock.seconds())).text

    def assertHosts(self, primary: str, backup: str, active: str) -> None:
        """Assert the call agents' lines of C{show ccm-manager}."""
        text = self.show()
        self.assertIn("Primary         %-25s127.0.0.1\n" % primary, text)
        self.assertIn("First Backup    %-25s127.0.0.2\n" % backup, text)
        self.assertIn("Current active Call Manager:    %s\n" % active, text)

    @bounded
    def failOver(self) -> Any:
        """
        Stop the primary: at the failover interval the gateway sends RSIP
        restart to the backup and registers with it; it never falls back.
        """
        yield self.agent.stop()
        yield self.settle()
        lastHeard = self.heard[-1]
        self.assertFalse(self.backup.registered)
        yield self.advance(lastHeard + 29.5 - self.clock.seconds())
        self.assertEqual(self.gateway.callAgent, self.agent.listenAddress)
        yield self.advance(0.5)
        yield self.wire.when(lambda: self.monitor.status is FallbackStatus.REGISTERED)
        self.assertEqual(self.gateway.callAgent, self.backup.listenAddress)
        self.assertTrue(self.backup.registered)
        self.assertIsNone(self.monitor.fallbackStart)
        self.assertEqual(self.monitor.lastFailover, BASE + timedelta(seconds=lastHeard + 30.0))
        self.assertTrue(all(self.gateway.controlled(name) for name in PORTS))
        self.assertHosts("Down", "Registered", "127.0.0.2")

    @bounded
    def callThroughBackup(self) -> Any:
        """Port 1/0/0 calls 81236 (port 1/0/1) under the backup, which connects it."""
        yield self.portCall(self.backup)
        self.assertEqual((len(self.gateway.connectionsOf("1/0/0")), len(self.gateway.connectionsOf("1/0/1"))),
                         (1, 1))


class BackupCallAgentTests(BackupCallAgent):
    """
    The backup takes over; both silent: fallback; C{switchback immediate}.
    """

    @bounded
    def test_primarySilentBackupAnswers(self) -> Any:
        """
        The primary stops: the gateway moves to the backup without entering
        fallback, and a call between two ports works through the backup;
        every MGCP message on the wire decodes in tshark.
        """
        yield self.failOver()
        yield self.advance(45.0)
        self.assertIs(self.monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(self.monitor.fallbackMode, "Enabled/OFF")
        yield self.callThroughBackup()
        yield checkMgcpCapture(self, self.captured, {"RSIP", "RQNT", "NTFY", "CRCX", "MDCX"})

    @bounded
    def test_bothSilentFallback(self) -> Any:
        """
        The backup is silent too: its RSIP goes unanswered and the gateway
        falls back a failover interval after it switched over to it.
        """
        yield self.backup.stop()
        yield self.agent.stop()
        yield self.settle()
        lastHeard = self.heard[-1]
        yield self.advance(lastHeard + 30.5 - self.clock.seconds())
        self.assertIs(self.monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(self.gateway.callAgent, self.backup.listenAddress)
        yield self.advance(29.0)
        self.assertIs(self.monitor.status, FallbackStatus.REGISTERING)
        yield self.advance(0.5)
        self.assertIs(self.monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(self.monitor.fallbackStart, BASE + timedelta(seconds=lastHeard + 60.0))
        self.assertFalse(any(self.gateway.controlled(name) for name in PORTS))
        self.assertHosts("Down", "Down", "None")

    @bounded
    def test_primaryBackImmediate(self) -> Any:
        """
        C{switchback immediate}: once the primary answers the probe the
        gateway sends it while on the backup (every keepalive interval),
        it returns to the primary with an RSIP restart, and the backup is
        shown C{Backup Ready}.
        """
        yield self.failOver()
        self.agent.start()
        yield self.advance(16.0)
        yield self.wire.when(lambda: self.monitor.status is FallbackStatus.REGISTERED
                             and self.gateway.callAgent == self.agent.listenAddress)
        self.assertIsNotNone(self.monitor.lastSwitchback)
        self.assertIsNone(self.monitor.fallbackStart)
        self.assertHosts("Registered", "Backup Ready", "127.0.0.1")
        restarts = self.restartsSent()
        yield self.advance(45.0)
        self.assertEqual(self.gateway.callAgent, self.agent.listenAddress)
        self.assertEqual(self.restartsSent(), restarts)


class BackupGracefulSwitchbackTests(BackupCallAgent):
    """
    C{switchback graceful} (the IOS default): back to the primary only once
    no port has a call.
    """

    switchback = Switchback(SwitchbackMode.GRACEFUL)

    @bounded
    def test_primaryBackAfterTheCall(self) -> Any:
        """
        The primary answers again while a call runs through the backup:
        the gateway stays on the backup (the primary shows C{Backup Ready})
        until both lines hang up, then returns to the primary at its next
        probe (within a keepalive interval).
        """
        yield self.failOver()
        yield self.callThroughBackup()
        self.agent.start()
        yield self.advance(45.0)
        self.assertEqual(self.gateway.callAgent, self.backup.listenAddress)
        self.assertHosts("Backup Ready", "Registered", "127.0.0.2")
        self.ports["1/0/0"].backend.onHook()
        self.ports["1/0/1"].backend.onHook()
        yield self.settle()
        yield self.advance(16.0)
        yield self.wire.when(lambda: self.gateway.callAgent == self.agent.listenAddress
                             and self.monitor.status is FallbackStatus.REGISTERED)
        self.assertHosts("Registered", "Backup Ready", "127.0.0.1")


class BackupNeverSwitchbackTests(BackupCallAgent):
    """C{switchback never}: the gateway stays on the backup while it answers."""

    switchback = Switchback(SwitchbackMode.NEVER)

    @bounded
    def test_primaryBackStaysOnBackup(self) -> Any:
        """The primary answers again: the gateway stays on the backup."""
        yield self.failOver()
        self.agent.start()
        yield self.advance(60.0)
        self.assertEqual(self.gateway.callAgent, self.backup.listenAddress)
        self.assertHosts("Backup Ready", "Registered", "127.0.0.2")
