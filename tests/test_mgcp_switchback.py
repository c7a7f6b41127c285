"""
Switchback and call-agent liveness with the real gateway, the real
L{PortControl} and local endpoints, and the fallback monitor, all on one
fake reactor: a call kept through fallback, a port busy at switchback,
the call agent lost again before a busy port returns, and datagrams from
hosts other than the call agent.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from srst.mgcp.config import CcmManagerConfig, Switchback, SwitchbackMode
from srst.ports.config import DialPeer
from srst.mgcp.control import PortControl
from srst.mgcp.fallback import FallbackStatus, newFallbackMonitor
from srst.mgcp.gateway import DisconnectedStatus
from srst.mgcp.messages import Command, Response, decodeMessage, encodeMessage
from srst.ports.callendpoint import VoicePortEndpoint
from srst.ports.directory import PortDirectory
from tests.callhelpers import PORT_DEBUG_LOG, CallRouter
from tests.mgcphelpers import CA, DOMAIN, GatewayHarness

BASE = datetime(2026, 12, 5, 9, 0, 0, tzinfo=timezone.utc)
EP0 = "aaln/S1/SU0/0@%s" % (DOMAIN,)


class Branch:
    """
    The gateway's FXS ports 1/0/0 and 1/0/1 with local endpoints (81234,
    81235) and a fallback monitor; a call agent the test answers for.
    """

    def __init__(self, mode: SwitchbackMode, fallbackMgcp: bool = True) -> None:
        self.h = GatewayHarness(fxo=())
        self.reactor = self.h.reactor
        self.gateway = self.h.gateway
        router = CallRouter()
        router.engine.clock = self.reactor
        self.local = {name: VoicePortEndpoint(router.engine, port, number="8123%d" % (4 + index,),
                                              debugLog=PORT_DEBUG_LOG)
                      for index, (name, port) in enumerate(sorted(self.h.ports.items()))}
        router.engine.addDirectory(PortDirectory(
            [DialPeer(81234 + i, destinationPattern="8123%d" % (4 + i,), port=name)
             for i, name in enumerate(sorted(self.local))], self.local))
        self.control = PortControl(self.gateway, self.local)
        self.monitor = newFallbackMonitor(
            self.reactor, lambda: BASE + timedelta(seconds=self.reactor.seconds()),
            CcmManagerConfig(fallbackMgcp=fallbackMgcp, switchback=Switchback(mode)), CA[0], self.control,
            self.gateway.debugLog)
        self.control.monitor = self.monitor
        self.gateway.trafficObservers.append(self.monitor.trafficReceived)
        self.gateway.commandObservers.append(self.monitor.commandReceived)
        self.gateway.timeoutObservers.append(self.monitor.transactionTimedOut)
        self.gateway.endpointTimeoutObservers.append(self.monitor.endpointTimedOut)
        self.monitor.start()
        self.answer()
        assert self.monitor.status is FallbackStatus.REGISTERED, self.monitor.status

    def answer(self) -> list[Command]:
        """The call agent answers 200 to every command sent since the last call."""
        commands = []
        for data, _ in list(self.h.transport.written):
            message = decodeMessage(data)
            if isinstance(message, Command):
                commands.append(message)
                self.gateway.protocol.datagramReceived(
                    encodeMessage(Response(200, message.transactionId, "OK")), CA)
        del self.h.transport.written[:]
        return commands

    def silence(self, seconds: float) -> None:
        """The call agent hears nothing for C{seconds}."""
        del self.h.transport.written[:]
        self.reactor.advance(seconds)
        del self.h.transport.written[:]

    def probeAnswered(self) -> list[Command]:
        """
        The call agent is back: the clock runs until the next keepalive
        probe goes out, and the call agent answers it (and every other
        command sent meanwhile).

        @return: the commands the gateway sent after the answer.
        """
        for second in range(16):
            if any(isinstance(m, Command) and m.verb == "NTFY" and m.get("X") == "0"
                   for m in (decodeMessage(data) for data, _ in self.h.transport.written)):
                break
            self.reactor.advance(1)
        else:
            raise AssertionError("no keepalive probe in 16 s")
        mark = len(self.h.transport.history)
        self.answer()
        commands = [m for m in (decodeMessage(data) for data, _ in self.h.transport.history[mark:])
                    if isinstance(m, Command)]
        for command in commands:
            self.gateway.protocol.datagramReceived(
                encodeMessage(Response(200, command.transactionId, "OK")), CA)
        del self.h.transport.written[:]
        return commands

    def restartedPorts(self, commands: list[Command]) -> list[str]:
        return [str(c.endpoint) for c in commands if c.verb == "RSIP"]

    def connectedMgcpCall(self) -> None:
        """1/0/0 off hook with a sendrecv connection: an MGCP call in progress."""
        self.h.lines["1/0/0"].offHook()
        self.answer()
        self.h.receive("CRCX 10 %s MGCP 0.1\nC: 1\nM: sendrecv\n\nv=0\nc=IN IP4 127.0.0.1\n"
                       "m=audio 5000 RTP/AVP 0\n" % (EP0,))
        self.answer()


class SwitchbackTests(SynchronousTestCase):
    """
    Ports come back to MGCP only when idle, each announcing itself with
    RSIP, whatever the switchback mode.
    """

    def test_keptCallOutlivesFallback(self) -> None:
        """
        An MGCP call kept through fallback is still up at (immediate)
        switchback: the idle port goes back at once, 1/0/0 when its call
        ends, with its own RSIP, and then answers the call agent again.
        """
        b = Branch(SwitchbackMode.IMMEDIATE)
        b.connectedMgcpCall()
        b.silence(46)
        self.assertIs(b.monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(len(b.gateway.connectionsOf("1/0/0")), 1)
        commands = b.probeAnswered()
        self.assertEqual(b.control.owner("1/0/1"), "MGCP")
        self.assertEqual(b.control.owner("1/0/0"), "LOCAL")
        self.assertNotIn(EP0, b.restartedPorts(commands))
        b.h.lines["1/0/0"].onHook()
        commands = b.answer()
        self.assertEqual(b.control.owner("1/0/0"), "MGCP")
        self.assertFalse(b.local["1/0/0"].active)
        self.assertIn(EP0, b.restartedPorts(commands))
        b.h.receive("AUEP 12 %s MGCP 0.1\nF: ES\n" % (EP0,))
        self.assertTrue(b.h.transport.written[-1][0].startswith(b"200 12"))

    def test_lostAgainBeforeBusyPortReturns(self) -> None:
        """
        A port whose local call outlasts switchback stays with local call
        control if the call agent is lost again before the call ends, and
        takes calls there after it.
        """
        b = Branch(SwitchbackMode.IMMEDIATE)
        b.silence(31)
        self.assertIs(b.monitor.status, FallbackStatus.FALLBACK)
        b.h.lines["1/0/0"].offHook()
        b.probeAnswered()
        self.assertEqual(b.monitor.pendingPorts, {"1/0/0"})
        b.silence(31)
        self.assertIs(b.monitor.status, FallbackStatus.FALLBACK)
        b.h.lines["1/0/0"].onHook()
        self.assertEqual(b.control.owner("1/0/0"), "LOCAL")
        self.assertTrue(b.local["1/0/0"].active)
        self.assertEqual(b.control.owner("1/0/1"), "LOCAL")


class DisconnectedTests(SynchronousTestCase):
    """
    Without C{fallback-mgcp}, the call agent lost and heard again.
    """

    def test_restartSparesPortsWithConnections(self) -> None:
        """
        When the call agent is heard again, RSIP restart names only the
        ports without a call (restart says no connection exists); the
        MGCP call that outlived the disconnection keeps its connection.
        """
        b = Branch(SwitchbackMode.GRACEFUL, fallbackMgcp=False)
        b.connectedMgcpCall()
        b.silence(60)
        self.assertIs(b.monitor.status, FallbackStatus.DISCONNECTED)
        commands = b.probeAnswered()
        restarts = [c for c in commands if c.verb == "RSIP" and str(c.get("RM")).lower() == "restart"]
        self.assertEqual([str(c.endpoint) for c in restarts], ["aaln/S1/SU0/1@%s" % (DOMAIN,)])
        self.assertIs(b.monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(len(b.gateway.connectionsOf("1/0/0")), 1)


class LivenessTests(SynchronousTestCase):
    """
    Only the call agent's own traffic proves it is alive.
    """

    def test_strayResponseDoesNotEndFallback(self) -> None:
        """
        A response from another host, even one matching a command's
        transaction id, neither ends fallback nor answers the command.
        """
        b = Branch(SwitchbackMode.GRACEFUL)
        b.silence(31)
        self.assertIs(b.monitor.status, FallbackStatus.FALLBACK)
        b.reactor.advance(15)  # a probe goes out
        probe = decodeMessage(b.h.transport.written[0][0])
        self.assertIsInstance(probe, Command)
        stray = ("10.66.66.66", 2427)
        b.h.receive("200 %d OK\n" % (probe.transactionId,), stray)
        b.h.receive("200 4242 OK\n", stray)
        self.assertIs(b.monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual([b.control.owner(n) for n in ("1/0/0", "1/0/1")], ["LOCAL", "LOCAL"])
        b.h.receive("200 %d OK\n" % (probe.transactionId,), CA)
        self.assertIsNot(b.monitor.status, FallbackStatus.FALLBACK)

    def test_commandsAreNotLiveness(self) -> None:
        """
        A command, from the call agent's address or any other, is no proof
        that the call agent is alive: only the call agent's answer to one
        of the gateway's own commands calls the traffic observers.  Commands
        from the call agent's address call the command observers.
        """
        b = Branch(SwitchbackMode.GRACEFUL)
        heard: list[str] = []
        b.gateway.trafficObservers.append(lambda: heard.append("traffic"))
        b.gateway.commandObservers.append(lambda: heard.append("command"))
        b.h.receive("AUEP 20 %s MGCP 0.1\nF: ES\n" % (EP0,), ("10.66.66.66", 2427))
        self.assertEqual(heard, [])
        b.h.receive("AUEP 21 %s MGCP 0.1\nF: ES\n" % (EP0,))
        self.assertEqual(heard, ["command"])
        keepalive = b.gateway.sendKeepalive()
        b.answer()
        self.successResultOf(keepalive)
        self.assertEqual(heard, ["command", "traffic"])

    def test_commandFromCallAgentAddressKeepsFallback(self) -> None:
        """
        In fallback, an AUEP from an ephemeral port on the call agent's
        address (not the call agent answering) is answered 501 (the port is
        under local call control) and ends nothing; neither does an answer
        to the probe from another port of that address; the call agent's
        own answer to the probe does, and the ports go back.
        """
        b = Branch(SwitchbackMode.IMMEDIATE)
        b.silence(31)
        self.assertIs(b.monitor.status, FallbackStatus.FALLBACK)
        ephemeral = (CA[0], 40123)
        answer = b.h.response("AUEP 30 %s MGCP 0.1\nF: ES\n" % (EP0,), ephemeral)
        self.assertEqual((answer.code, answer.commentary), (501, "Endpoint not ready"))
        self.assertEqual(b.h.transport.history[-1][1], ephemeral)
        b.h.receive("AUEP 31 *@%s MGCP 0.1\n" % (DOMAIN,), ephemeral)
        b.reactor.advance(15)
        probe = max((m for m in b.h.take() if isinstance(m, Command)), key=lambda m: m.transactionId)
        self.assertEqual((probe.verb, probe.get("X")), ("NTFY", "0"))
        b.h.receive("200 %d OK\n" % (probe.transactionId,), ephemeral)
        self.assertIs(b.monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual([b.control.owner(n) for n in ("1/0/0", "1/0/1")], ["LOCAL", "LOCAL"])
        self.assertEqual(b.gateway.transactions.counters.unmatchedResponses, 1)
        b.h.receive("200 %d OK\n" % (probe.transactionId,), CA)
        self.assertIs(b.monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual([b.control.owner(n) for n in ("1/0/0", "1/0/1")], ["MGCP", "MGCP"])


class OutageTests(SynchronousTestCase):
    """
    Requests from an outage that the call agent never answered are
    superseded once it answers again, not retransmitted behind the
    switchback's RSIP restart.
    """

    def rsips(self, b: Branch, since: int = 0) -> list[tuple[int, str]]:
        """@return: C{(transactionId, RM)} of every RSIP datagram sent after C{since} datagrams."""
        return [(m.transactionId, str(m.get("RM")).lower())
                for m in (decodeMessage(data) for data, _ in b.h.transport.history[since:])
                if isinstance(m, Command) and m.verb == "RSIP"]

    def test_disconnectedRsipSupersededBySwitchback(self) -> None:
        """
        The call agent goes silent: the keepalive times out, the
        disconnected procedure sends C{RSIP RM: disconnected} and
        retransmits it, the ports fall back.  The call agent comes back and
        answers a probe (not the RSIP): switchback sends C{RM: restart},
        and from then on no C{RM: disconnected} datagram goes out (chan_mgcp
        resets every line on any RSIP but a keepalive, and would cut the
        first call); a late answer to it changes nothing.
        """
        b = Branch(SwitchbackMode.IMMEDIATE)
        with capturedLogs() as events:
            for second in range(44):
                b.reactor.advance(1)
            disconnected = [tid for tid, method in self.rsips(b) if method == "disconnected"]
            self.assertEqual(len(set(disconnected)), 1)
            self.assertGreater(len(disconnected), 1, "the disconnected RSIP is being retransmitted")
            self.assertIs(b.monitor.status, FallbackStatus.FALLBACK)
            self.assertIs(b.gateway.disconnected.status(), DisconnectedStatus.SENDING)
            b.reactor.advance(1)  # the probe at 45 s
            probes = [m for m in b.h.sent() if isinstance(m, Command) and m.verb == "NTFY"]
            mark = len(b.h.transport.history)
            b.h.answer(probes[-1])
            restarts = self.rsips(b, mark)
            self.assertEqual([method for tid, method in restarts], ["restart"])
            self.assertIs(b.gateway.disconnected.status(), DisconnectedStatus.CONNECTED)
            b.h.receive("200 %d OK\n" % (restarts[0][0],))
            self.assertIs(b.monitor.status, FallbackStatus.REGISTERED)
            b.h.receive("200 %d OK\n" % (disconnected[0],))
            b.reactor.advance(25)  # past the end of the disconnected RSIP's retransmission (62.5 s)
        self.assertIs(b.monitor.status, FallbackStatus.REGISTERED)
        self.assertIs(b.gateway.disconnected.status(), DisconnectedStatus.CONNECTED)
        self.assertEqual([method for tid, method in self.rsips(b, mark)], ["restart"] * len(self.rsips(b, mark)))
        texts = [formatEvent(e) for e in events]
        self.assertIn("MGCP: call agent 127.0.0.1:2427 answers again; 1 request(s) from the outage superseded: %d"
                      % (disconnected[0],), texts)
        self.assertFalse([t for t in texts if "disconnected RSIP failed" in t])
