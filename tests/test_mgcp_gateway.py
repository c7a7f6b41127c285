"""
Tests for L{srst.mgcp.gateway} (with L{srst.mgcp._naming}, and
L{srst.mgcp._disconnected} as the gateway runs it): endpoint names, registration, dispatch, NTFY,
connections with real media legs on an in-memory reactor, error codes and
counters, keepalives, the disconnected procedure and fallback hand-over.
"""

from __future__ import annotations

from typing import Callable

from twisted.logger import LogLevel, Logger, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.mgcp._naming import (
    BadPortName,
    localNameOf,
    matchEndpoints,
    matchLocalName,
    portNameOf,
    wildcardKind,
)
from srst.mgcp.constants import ResponseCode
from srst.mgcp.endpoint import ControlState
from srst.mgcp.gateway import DisconnectedStatus, MgcpErrorResponse, UnknownVoicePort
from srst.media.rtp import RtpPacket, encodeRtp
from srst.mgcp.messages import Command, Response, decodeMessage
from srst.lograte import INTERVAL
from srst.mgcp.transactions import ITransactionOwner, MgcpTimeout
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus
from tests.mgcphelpers import CA, DOMAIN, GatewayHarness, wire

EP0 = "aaln/S1/SU0/0@" + DOMAIN
EP1 = "aaln/S1/SU0/1@" + DOMAIN

CRCX = """CRCX 1010 %s MGCP 0.1
C: A0000000010000010000000F
X: 7
L: p:20, a:PCMU, s:off, t:b8
M: recvonly
R: L/hu
Q: process,loop
""" % (EP0,)

SDP_REMOTE = """
v=0
o=- 25 0 IN IP4 10.1.1.40
s=SIP Call
c=IN IP4 127.0.0.1
t=0 0
m=audio 29632 RTP/AVP 0
"""


def sdpText(message: Response) -> str:
    """@return: the message's first SDP body as text."""
    from srst.mgcp.sdp import encodeSdp
    return encodeSdp(message.sdp[0])


class NamingTests(SynchronousTestCase):
    """
    Voice-port names and endpoint local names (mgcp.md 3).
    """

    def test_localNames(self) -> None:
        """
        1/0/0 is aaln/S1/SU0/0, 1/1/3 aaln/S1/SU1/3, 1/0 aaln/S1/0, and back.
        """
        self.assertEqual(localNameOf("1/0/0"), "aaln/S1/SU0/0")
        self.assertEqual(localNameOf("1/1/3"), "aaln/S1/SU1/3")
        self.assertEqual(localNameOf("1/0"), "aaln/S1/0")
        self.assertEqual(portNameOf("AALN/s1/su1/3"), "1/1/3")
        self.assertEqual(portNameOf("aaln/S1/0"), "1/0")
        self.assertIsNone(portNameOf("ds/ds1-1/1"))
        self.assertRaises(BadPortName, localNameOf, "0/0/0/0")

    def test_wildcards(self) -> None:
        """
        A trailing * covers any deeper name, a middle one exactly one term;
        $ is any-of.
        """
        names = ["aaln/S1/SU0/0", "aaln/S1/SU0/1", "aaln/S1/SU1/0"]
        self.assertEqual(matchEndpoints("*", names), names)
        self.assertEqual(matchEndpoints("aaln/*", names), names)
        self.assertEqual(matchEndpoints("aaln/S1/SU0/*", names), names[:2])
        self.assertEqual(matchEndpoints("aaln/S1/*/0", names), [names[0], names[2]])
        self.assertTrue(matchLocalName("AALN/s1/su0/0", "aaln/S1/SU0/0"))
        self.assertFalse(matchLocalName("aaln/S1", "aaln/S1/SU0/0"))
        self.assertEqual(wildcardKind("aaln/$"), "$")
        self.assertEqual(wildcardKind("aaln/*"), "*")
        self.assertIsNone(wildcardKind("aaln/S1/SU0/0"))


class RegistrationTests(SynchronousTestCase):
    """
    The boot RSIP of mgcp.md 10.1.
    """

    def test_restartAfterDelay(self) -> None:
        """
        start() sends nothing before the restart delay, then one RSIP restart
        for the whole gateway; a 200 marks the gateway registered.
        """
        h = GatewayHarness(restartDelay=3)
        h.gateway.start()
        h.reactor.advance(2.9)
        self.assertEqual(h.sent(), [])
        h.reactor.advance(0.1)
        [rsip] = h.commands("RSIP")
        self.assertEqual(rsip.endpoint, "*@" + DOMAIN)
        self.assertEqual(rsip.version, "MGCP 0.1")
        self.assertEqual(rsip.raw("RM"), "restart")
        self.assertFalse(h.gateway.registered)
        h.answer(rsip)
        self.assertTrue(h.gateway.registered)

    def test_redirect(self) -> None:
        """
        A 521 answer with N: moves the gateway to that call agent and the
        RSIP is sent again there.
        """
        h = GatewayHarness()
        h.gateway.start()
        h.reactor.advance(0)
        [rsip] = h.take()
        h.answer(rsip, 521, parameters=[("N", "10.9.9.9:2427")])
        [again] = h.commands("RSIP")
        self.assertEqual(h.transport.written[-1][1], ("10.9.9.9", 2427))
        self.assertEqual(h.gateway.callAgent, ("10.9.9.9", 2427))
        self.assertEqual(again.raw("RM"), "restart")

    def test_stopCancelsBoot(self) -> None:
        """
        stop() before the restart delay cancels the boot RSIP.
        """
        h = GatewayHarness(restartDelay=5)
        h.gateway.start()
        self.successResultOf(h.gateway.stop())
        h.reactor.advance(10)
        self.assertEqual(h.sent(), [])


class NotificationTests(SynchronousTestCase):
    """
    RQNT, line events and NTFY (mgcp.md 6.5, 6.6, 10.2).
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()
        self.line = self.h.lines["1/0/0"]
        self.port = self.h.ports["1/0/0"]

    def rqnt(self, extra: str, requestId: str = "1") -> Response:
        return self.h.response("RQNT 1002 %s MGCP 0.1\nX: %s\n%s" % (EP0, requestId, extra))

    def test_offHookNotified(self) -> None:
        """
        After RQNT R: L/hd, lifting the handset sends NTFY O: L/hd with the
        request's X: and N: to the call agent.
        """
        self.assertEqual(self.rqnt("R: L/hd\nQ: process,loop\n").code, 200)
        self.line.offHook()
        [ntfy] = self.h.commands("NTFY")
        self.assertEqual(ntfy.endpoint, EP0)
        self.assertEqual(ntfy.raw("X"), "1")
        self.assertEqual(ntfy.raw("O"), "L/hd")
        self.assertEqual(ntfy.raw("N"), "127.0.0.1:2427")
        self.assertEqual(self.h.transport.written[-1][1], CA)

    def test_notifiedEntity(self) -> None:
        """
        An N: in the RQNT becomes where NTFYs go and what they carry.
        """
        self.rqnt("N: ca@127.0.0.2:2727\nR: L/hd\n")
        self.line.offHook()
        [ntfy] = self.h.commands("NTFY")
        self.assertEqual(ntfy.raw("N"), "ca@127.0.0.2:2727")
        self.assertEqual(self.h.transport.written[-1][1], ("127.0.0.2", 2727))

    def test_dialTone(self) -> None:
        """
        S: L/dl plays dial tone; the first digit stops it and is notified.
        """
        self.line.offHook()
        self.assertIsNone(self.port.dsp.playing)
        self.rqnt("R: L/hu,D/[0-9ABCD*#]\nS: L/dl\nQ: process,loop\n", "2")
        self.assertIs(self.port.dsp.playing, CallProgressTone.DIAL)
        self.line.dial("2")
        self.assertIsNone(self.port.dsp.playing)
        ntfy = self.h.commands("NTFY")[-1]
        self.assertEqual((ntfy.raw("X"), ntfy.raw("O")), ("2", "D/2"))

    def test_digitMap(self) -> None:
        """
        With a digit map, digits are collected and one NTFY carries them all
        when the map matches.
        """
        self.line.offHook()
        self.h.take()
        self.rqnt("R: L/hu, D/[0-9#*T](D)\nD: (0T|[1-7]xxx|9xxxxxxx)\n", "3")
        self.line.dial("123")
        self.assertEqual(self.h.commands("NTFY"), [])
        self.line.dial("4")
        [ntfy] = self.h.commands("NTFY")
        self.assertEqual((ntfy.raw("X"), ntfy.raw("O")), ("3", "D/1234"))

    def test_digitMapCriticalTimer(self) -> None:
        """
        A full match that could still grow waits T(critical), 4 s, then is
        reported.
        """
        self.line.offHook()
        self.h.answer(self.h.take()[0])
        self.rqnt("R: D/[0-9#*T](D)\nD: (0|00)\n")
        self.line.dial("0")
        self.h.reactor.advance(3.9)
        self.assertEqual(self.h.commands("NTFY"), [])
        self.h.reactor.advance(0.1)
        [ntfy] = self.h.commands("NTFY")
        self.assertEqual(ntfy.raw("O"), "D/0")

    def test_ntfyRefusedDropsRequest(self) -> None:
        """
        When the call agent refuses an NTFY, the endpoint's request is
        dropped.
        """
        self.rqnt("R: L/hd, L/hu\nQ: loop\n")
        self.line.offHook()
        [ntfy] = self.h.commands("NTFY")
        self.h.answer(ntfy, 510)
        self.assertEqual(self.h.gateway.endpoints["1/0/0"].notification.requested, ())

    def test_debugLog(self) -> None:
        """
        Every datagram in and out is logged in srst.debug.mgcp with its text.
        """
        events: list[dict] = []
        self.h.gateway.debugLog = Logger(namespace="srst.debug.mgcp", observer=events.append)
        self.rqnt("R: L/hd\n")
        texts = [e.get("text", "") for e in events]
        self.assertTrue(any(t.startswith("RQNT 1002 " + EP0) for t in texts))
        self.assertTrue(any(t.startswith("200 1002") for t in texts))
        self.assertTrue(all(e["log_namespace"] == "srst.debug.mgcp" for e in events))

    def test_trafficObservers(self) -> None:
        """
        A valid command from the call agent calls the command observers; an
        answer to one of the gateway's own commands calls the traffic
        observers (the proof that the call agent is alive); garbage and a
        response matching no command call neither.
        """
        commands: list[int] = []
        traffic: list[int] = []
        self.h.gateway.commandObservers.append(lambda: commands.append(1))
        self.h.gateway.trafficObservers.append(lambda: traffic.append(1))
        self.rqnt("R: L/hd\n")
        self.assertEqual((len(commands), len(traffic)), (1, 0))
        self.h.gateway.protocol.datagramReceived(b"\x00\xff garbage", CA)
        self.h.gateway.protocol.datagramReceived(b"200 4242 OK\r\n", CA)
        self.assertEqual((len(commands), len(traffic)), (1, 0))
        d = self.h.gateway.sendKeepalive()
        self.h.answer(self.h.commands("NTFY")[-1])
        self.successResultOf(d)
        self.assertEqual((len(commands), len(traffic)), (1, 1))


class TransactionOwnerTests(SynchronousTestCase):
    """
    The gateway as its transaction layer's owner.
    """

    def test_provides(self) -> None:
        """
        The gateway provides L{ITransactionOwner}.
        """
        self.assertTrue(verifyObject(ITransactionOwner, GatewayHarness().gateway))


class CountersTests(SynchronousTestCase):
    """
    L{MgcpGateway.counters}: what each counter counts.
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()

    def test_datagramsAndCommands(self) -> None:
        """
        C{received} and C{sent} count datagrams both ways (commands and
        responses, garbage too); C{commandsReceived} counts well-formed
        commands, duplicates included, and C{duplicates} the duplicates.
        """
        g = self.h.gateway
        rqnt = "RQNT 20 %s MGCP 0.1\nX: 1\nR: L/hd\n" % (EP0,)
        self.h.receive(rqnt)
        self.h.receive(rqnt)
        self.h.receive("AUEP 21 %s MGCP 0.1\nF: ES\n.\nAUEP 22 %s MGCP 0.1\nF: ES\n" % (EP0, EP0))
        self.h.gateway.protocol.datagramReceived(b"\x00\xff garbage", CA)
        d = g.sendKeepalive()
        self.h.answer(self.h.commands("NTFY")[-1])
        self.successResultOf(d)
        c = g.counters
        self.assertEqual((c.received, c.sent), (5, 5))
        self.assertEqual((c.commandsReceived, c.duplicates, c.malformed), (4, 1, 1))

    def test_errorsByCode(self) -> None:
        """
        C{errors} counts every error response sent by code, the answer to
        a malformed command and each duplicate answered from the cache
        included; 2xx answers are not errors.
        """
        g = self.h.gateway
        unknown = "RQNT 30 aaln/S9/SU0/0@%s MGCP 0.1\nX: 1\n" % (DOMAIN,)
        self.h.receive(unknown)
        self.h.receive(unknown)
        self.h.receive("RQNT 31 %s MGCP 0.1\nnot a parameter\n" % (EP0,))
        self.h.receive("RQNT 32 %s MGCP 0.1\nX: 1\nR: L/hd\n" % (EP0,))
        self.assertEqual([m.code for m in self.h.sent()], [500, 500, 510, 200])
        self.assertEqual(g.counters.errors, {500: 2, 510: 1})
        self.assertEqual({type(code) for code in g.counters.errors}, {int})
        self.assertEqual((g.counters.unknownEndpoint, g.counters.unknownVerb), (2, 0))

    def test_outgoing(self) -> None:
        """
        C{notifications}, C{keepalives} and C{restarts} count the NTFYs,
        keepalive NTFYs and RSIPs sent; C{retransmissions} their resends
        and C{timeouts} those never answered.
        """
        g = self.h.gateway
        self.h.receive("RQNT 40 %s MGCP 0.1\nX: 1\nR: L/hd\n" % (EP0,))
        self.h.lines["1/0/0"].offHook()
        g.sendKeepalive().addErrback(lambda failure: None)
        g.sendRestart("restart").addErrback(lambda failure: None)
        self.h.reactor.advance(0.5)
        c = g.counters
        self.assertEqual((c.notifications, c.keepalives, c.restarts), (1, 1, 1))
        self.assertEqual((c.retransmissions, c.timeouts), (3, 0))
        self.h.reactor.pump([1.0] * 25)
        self.assertEqual(g.counters.timeouts, 3)


class SourceValidationTests(SynchronousTestCase):
    """
    C{mgcp validate call-agent source-ipaddr}: only call agents may send
    the gateway MGCP.
    """

    AUEP = "AUEP 40 %s MGCP 0.1\nF: ES\n" % (EP0,)

    def test_oncePerSourcePerInterval(self) -> None:
        """
        Datagrams from a host that is no call agent are dropped unanswered
        and counted; one warning names the first source port, the rest
        (from any port of that host) are not logged one by one but summed
        up in one line when the minute is over, and a datagram after a
        quiet minute is logged in full again.
        """
        h = GatewayHarness()
        stranger = ("127.0.0.2", 40000)
        with capturedLogs() as events:
            for i in range(5):
                h.receive(self.AUEP, (stranger[0], 40000 + i))
            h.receive(self.AUEP, ("::ffff:127.0.0.2", 40009, 0, 0))
            self.assertEqual(len(events), 1)
            h.reactor.advance(INTERVAL)
            h.reactor.advance(INTERVAL)
            h.receive(self.AUEP, stranger)
        self.assertEqual(h.transport.history, [])
        self.assertEqual(h.gateway.counters.refused, 7)
        self.assertEqual(h.gateway.counters.commandsReceived, 0)
        warnings = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual({e["log_namespace"] for e in warnings}, {"srst.mgcp.gateway.MgcpGateway"})
        self.assertEqual([formatEvent(e) for e in warnings], [
            "MGCP: datagram from 127.0.0.2:40000 dropped: not a call agent "
            "(mgcp validate call-agent source-ipaddr)",
            "127.0.0.2: 5 more MGCP datagrams dropped (not a call agent) in the last minute",
            "MGCP: datagram from 127.0.0.2:40000 dropped: not a call agent "
            "(mgcp validate call-agent source-ipaddr)"])

    def test_refusalsSummedUpOnStop(self) -> None:
        """
        Stopping the gateway sums up the refusals not yet summed up and
        leaves no timer behind.
        """
        h = GatewayHarness()
        with capturedLogs() as events:
            for i in range(3):
                h.receive(self.AUEP, ("127.0.0.2", 40000 + i))
            h.reactor.advance(30)
            h.gateway.stop()
        self.assertEqual([formatEvent(e) for e in events if e["log_level"] is LogLevel.warn][1:], [
            "127.0.0.2: 2 more MGCP datagrams dropped (not a call agent) in the last 30 s"])
        self.assertEqual(h.reactor.getDelayedCalls(), [])
        self.assertEqual(h.gateway.counters.refused, 3)

    def test_callAgents(self) -> None:
        """
        The call agent (from any port, and written as an IPv4-mapped IPv6
        address) and a C{redundant-host} are answered.
        """
        h = GatewayHarness(redundantHosts=["127.0.0.3"])
        for peer in [(CA[0], 40123), ("::ffff:127.0.0.1", 2427, 0, 0), ("127.0.0.3", 2427)]:
            h.receive(self.AUEP.replace("40", "4%d" % (len(h.transport.history),)), peer)
            self.assertEqual(h.transport.history[-1][1], peer)
        self.assertEqual(h.gateway.counters.refused, 0)
        self.assertTrue(h.gateway.isCallAgent("127.0.0.3"))
        self.assertFalse(h.gateway.isCallAgent("127.0.0.2"))

    def test_redirectedCallAgent(self) -> None:
        """
        After a 521 redirect moves the gateway to another call agent, that
        one may command it.
        """
        h = GatewayHarness()
        h.gateway.start()
        h.reactor.advance(0)
        [rsip] = h.commands("RSIP")
        h.answer(rsip, 521, parameters=[("N", "ca@[127.0.0.4]:2427")])
        self.assertEqual(h.gateway.callAgent, ("127.0.0.4", 2427))
        self.assertTrue(h.gateway.isCallAgent("127.0.0.4"))

    ENTITY = ("127.0.0.2", 2727)

    def notifyElsewhere(self, h: GatewayHarness) -> Command:
        """
        Have the call agent name C{ca@127.0.0.2:2727} as the notified
        entity of 1/0/0 and lift the handset.

        @return: the NTFY the gateway sent there.
        """
        h.receive("RQNT 1002 %s MGCP 0.1\nX: 1\nN: ca@127.0.0.2:2727\nR: L/hd\n" % (EP0,))
        h.lines["1/0/0"].offHook()
        [ntfy] = h.commands("NTFY")
        self.assertEqual(h.transport.written[-1][1], self.ENTITY)
        return ntfy

    def test_answerFromNotifiedEntity(self) -> None:
        """
        The answer to an NTFY sent to a notified entity that is no call
        agent (C{N: ca@127.0.0.2:2727} from the call agent) is taken, from
        the host and port the NTFY went to: not refused, the transaction
        ends, nothing times out and the gateway stays registered.  A
        repeat of that answer asking for an acknowledgement is
        acknowledged.
        """
        h = GatewayHarness()
        h.gateway.start()
        h.reactor.advance(0)
        [rsip] = h.commands("RSIP")
        h.answer(rsip)
        ntfy = self.notifyElsewhere(h)
        with capturedLogs() as events:
            h.answer(ntfy, peer=self.ENTITY)
            h.transport.written.clear()
            h.answer(ntfy, peer=self.ENTITY, parameters=[("K", "")])
            [ack] = h.take()
            h.reactor.pump([1.0] * 40)
        self.assertEqual([formatEvent(e) for e in events if e["log_level"] >= LogLevel.warn], [])
        self.assertEqual((ack.code, ack.transactionId), (0, ntfy.transactionId))
        self.assertEqual(h.transport.history[-1][1], self.ENTITY)
        counters = h.gateway.counters
        self.assertEqual((counters.refused, counters.timeouts, counters.retransmissions), (0, 0, 0))
        self.assertTrue(h.gateway.registered)
        self.assertEqual(h.gateway.transactions.pending, 0)
        self.assertIs(h.gateway.disconnected.status(), DisconnectedStatus.CONNECTED)

    def test_answerFromOtherPortOfNotifiedEntity(self) -> None:
        """
        An answer from the notified entity's host but another port than
        the NTFY went to is refused like any datagram from a host that is
        no call agent; the NTFY stays outstanding.
        """
        h = GatewayHarness()
        ntfy = self.notifyElsewhere(h)
        with capturedLogs() as events:
            h.answer(ntfy, peer=(self.ENTITY[0], 2728))
        self.assertEqual(h.gateway.counters.refused, 1)
        self.assertEqual(h.gateway.transactions.pending, 1)
        self.assertEqual([formatEvent(e) for e in events if e["log_level"] is LogLevel.warn], [
            "MGCP: datagram from 127.0.0.2:2728 dropped: not a call agent "
            "(mgcp validate call-agent source-ipaddr)"])

    def test_strayResponseRefused(self) -> None:
        """
        A response from a host that is no call agent and that matches no
        command the gateway sent to it (none outstanding; one sent to the
        call agent; while an NTFY to it is outstanding, another id, or the
        NTFY's answer with a command piggy-backed) is dropped unanswered
        and counted as refused.
        """
        h = GatewayHarness()
        h.gateway.start()
        h.reactor.advance(0)
        [rsip] = h.commands("RSIP")
        stranger = ("127.0.0.2", 2727)
        h.transport.written.clear()
        with capturedLogs() as events:
            h.answer(rsip, peer=stranger)
            h.receive("200 4711 OK\n", stranger)
        self.assertEqual(h.gateway.counters.refused, 2)
        self.assertEqual(h.gateway.transactions.pending, 1)
        self.assertEqual(h.sent(), [])
        self.assertEqual([formatEvent(e) for e in events if e["log_level"] is LogLevel.warn], [
            "MGCP: datagram from 127.0.0.2:2727 dropped: not a call agent "
            "(mgcp validate call-agent source-ipaddr)"])
        h.answer(rsip)
        ntfy = self.notifyElsewhere(h)
        h.transport.written.clear()
        h.receive("200 %d OK\n.\nAUEP 41 %s MGCP 0.1\nF: ES\n" % (ntfy.transactionId, EP0), stranger)
        h.receive("200 4711 OK\n", stranger)
        self.assertEqual(h.gateway.counters.refused, 4)
        self.assertEqual(h.gateway.counters.commandsReceived, 1)
        self.assertEqual(h.gateway.transactions.pending, 1)
        self.assertEqual(h.sent(), [])

    def test_commandFromNotifiedEntityRefused(self) -> None:
        """
        A notified entity that is no call agent may answer the gateway's
        commands sent to it but not command the gateway: its AUEP, even
        from the port the NTFY went to and while that NTFY is outstanding,
        is dropped unanswered and counted as refused.
        """
        h = GatewayHarness()
        self.notifyElsewhere(h)
        h.transport.written.clear()
        h.receive(self.AUEP, self.ENTITY)
        self.assertEqual(h.sent(), [])
        self.assertEqual(h.gateway.counters.refused, 1)
        self.assertEqual(h.gateway.counters.commandsReceived, 1)

    def test_off(self) -> None:
        """
        With validation off, any host may command the gateway (IOS's
        default).
        """
        h = GatewayHarness(validateSource=False)
        h.receive(self.AUEP, ("127.0.0.2", 40000))
        self.assertEqual(h.transport.history[-1][1], ("127.0.0.2", 40000))
        self.assertEqual(h.gateway.counters.refused, 0)


class ConnectionTests(SynchronousTestCase):
    """
    CRCX, MDCX, DLCX with real media legs (mgcp.md 6.2-6.4).
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()

    def crcx(self) -> Response:
        response = self.h.response(CRCX)
        self.assertEqual(response.code, 200)
        return response

    def test_create(self) -> None:
        """
        CRCX answers 200 with I: and simple SDP on an even bound RTP port,
        offering telephone-events (C{mgcp dtmf-relay} out of band, the
        default) with IOS's NTE payload type 99.
        """
        response = self.crcx()
        connectionId = response.raw("I")
        self.assertTrue(connectionId)
        sdp = response.sdp[0]
        self.assertEqual(sdp.address, "127.0.0.1")
        self.assertEqual(sdp.payloadTypes, (0, 99))
        self.assertEqual(sdp.audio.rtpmaps, {99: "telephone-event/8000"})
        self.assertEqual(sdp.audio.attribute("fmtp"), "99 0-15")
        self.assertEqual(sdp.mediaPort % 2, 0)
        self.assertIn(sdp.mediaPort, self.h.allocator.inUse)
        self.assertIn(("127.0.0.1", sdp.mediaPort), self.h.reactor.ports)
        self.assertEqual(sdpText(response), "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio %d RTP/AVP 0 99\r\n"
                         "a=rtpmap:99 telephone-event/8000\r\na=fmtp:99 0-15\r\n"
                         % (sdp.mediaPort,))
        [info] = self.h.gateway.connectionsOf("1/0/0")
        self.assertEqual((info.connectionId, info.mode), (connectionId, "recvonly"))

    def test_createInBandDtmf(self) -> None:
        """
        With C{dtmf-relay: none} the SDP offers G.711 alone (DTMF stays in
        the audio).
        """
        self.h = GatewayHarness(dtmfRelay="none")
        response = self.crcx()
        self.assertEqual(sdpText(response), "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio %d RTP/AVP 0\r\n"
                         % (response.sdp[0].mediaPort,))

    def test_duplicateExecutedOnce(self) -> None:
        """
        A retransmitted CRCX (same transaction id) is answered identically
        and creates one connection.
        """
        self.h.receive(CRCX)
        self.h.receive(CRCX)
        first, second = self.h.transport.written
        self.assertEqual(first[0], second[0])
        self.assertEqual(len(self.h.gateway.connectionsOf("1/0/0")), 1)
        self.assertEqual(len(self.h.allocator.inUse), 1)

    def test_modify(self) -> None:
        """
        MDCX with sendrecv and a remote SDP points the leg at the far end
        and starts sending.
        """
        connectionId = self.crcx().raw("I")
        self.h.lines["1/0/0"].offHook()
        response = self.h.response(
            "MDCX 1012 %s MGCP 0.1\nC: A0000000010000010000000F\nI: %s\nM: sendrecv\n%s"
            % (EP0, connectionId, SDP_REMOTE))
        self.assertEqual(response.code, 200)
        [info] = self.h.gateway.connectionsOf("1/0/0")
        self.assertEqual((info.mode, info.remote), ("sendrecv", ("127.0.0.1", 29632)))
        leg = self.h.legs[0]
        self.assertTrue(leg.sending)
        self.h.reactor.advance(0.02)
        self.assertIs(self.h.ports["1/0/0"].status, PortStatus.CONNECTED)
        self.assertTrue(any(to == ("127.0.0.1", 29632) for _, to, _ in self.h.reactor.written))

    def test_modifyWithRequestIdWithoutEvents(self) -> None:
        """
        An MDCX carrying C{X:} without C{R:} holds an encapsulated
        notification request with an empty RequestedEvents: as for an RQNT
        (mgcp.md 6.3, 6.5: C{R:} absent stops detection), the events the
        line was armed for are no longer reported, and only the persistent
        ones (C{mgcp persistent}: off-hook by default) remain.  An MDCX
        without C{X:} leaves the request as it was.
        """
        line = self.h.lines["1/0/0"]
        line.offHook()
        [offHook] = self.h.commands("NTFY")
        self.h.answer(offHook)
        connectionId = self.crcx().raw("I")
        self.assertEqual(self.h.response("RQNT 1001 %s MGCP 0.1\nX: 1\nR: L/hu,D/[0-9]\nQ: process,loop\n"
                                         % (EP0,)).code, 200)
        modify = "MDCX %d %s MGCP 0.1\nC: A0000000010000010000000F\nI: %s\nM: sendrecv\n%s"
        self.assertEqual(self.h.response(modify % (1012, EP0, connectionId, "")).code, 200)
        line.dial("5")
        [ntfy] = self.h.commands("NTFY")
        self.assertEqual((ntfy.raw("X"), ntfy.raw("O")), ("1", "D/5"))
        self.h.answer(ntfy)
        self.h.take()
        self.assertEqual(self.h.response(modify % (1013, EP0, connectionId, "X: 2\n")).code, 200)
        line.dial("6")
        line.onHook()
        self.assertEqual(self.h.commands("NTFY"), [])
        line.offHook()
        [ntfy] = self.h.commands("NTFY")
        self.assertEqual((ntfy.raw("X"), ntfy.raw("O")), ("2", "L/hd"))

    def test_delete(self) -> None:
        """
        DLCX answers 250 with P: statistics and gives the RTP port back.
        """
        connectionId = self.crcx().raw("I")
        response = self.h.response(
            "DLCX 1013 %s MGCP 0.1\nC: A0000000010000010000000F\nI: %s\nX: 10\nR: L/hd\nS:\n"
            % (EP0, connectionId))
        self.assertEqual(response.code, 250)
        stats = response.get("P")
        self.assertEqual([name for name, _ in stats.items],
                         ["PS", "OS", "PR", "OR", "PL", "JI", "LA"])
        self.assertEqual(self.h.allocator.inUse, frozenset())
        self.assertEqual(self.h.gateway.connectionsOf("1/0/0"), ())
        self.assertEqual(self.h.gateway.endpoints["1/0/0"].notification.requestId, "10")

    def test_deleteWildcard(self) -> None:
        """
        DLCX on aaln/* deletes every connection and answers 250.
        """
        self.crcx()
        response = self.h.response("DLCX 1014 aaln/*@%s MGCP 0.1\n" % (DOMAIN,))
        self.assertEqual(response.code, 250)
        self.assertEqual(self.h.allocator.inUse, frozenset())

    def test_anyOf(self) -> None:
        """
        CRCX on aaln/S1/SU0/$ picks an idle endpoint and names it in Z:.
        """
        response = self.h.response(CRCX.replace(EP0, "aaln/S1/SU0/$@" + DOMAIN))
        self.assertEqual(response.code, 200)
        self.assertEqual(response.raw("Z"), EP0)

    def test_ringWithConnection(self) -> None:
        """
        A CRCX carrying S: L/rg rings the phone; answering it is notified
        with the CRCX's X:.
        """
        self.h.response(CRCX.replace("R: L/hu", "R: L/hd\nS: L/rg"))
        line = self.h.lines["1/0/0"]
        self.assertTrue(line.ringing)
        line.offHook()
        self.assertFalse(line.ringing)
        ntfy = self.h.commands("NTFY")[-1]
        self.assertEqual((ntfy.raw("X"), ntfy.raw("O")), ("7", "L/hd"))


class ErrorTests(SynchronousTestCase):
    """
    Response codes of mgcp.md 8 and robustness against bad datagrams.
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()

    def code(self, text: str) -> int:
        return self.h.response(text).code

    def test_unknownEndpoint(self) -> None:
        """
        An unknown local name or another domain gets 500, and is counted.
        """
        self.assertEqual(self.code("RQNT 1 aaln/S9/SU0/0@%s MGCP 0.1\nX: 1\n" % (DOMAIN,)), 500)
        self.assertEqual(self.code("RQNT 2 aaln/S1/SU0/0@other MGCP 0.1\nX: 1\n"), 500)
        self.assertEqual(self.h.gateway.counters.unknownEndpoint, 2)

    def test_unknownVerb(self) -> None:
        """
        An unknown verb, an experimental one and a call-agent-only verb
        get 504, counted.
        """
        self.assertEqual(self.code("FOOO 3 %s MGCP 0.1\n" % (EP0,)), 504)
        self.assertEqual(self.code("XABC 4 %s MGCP 0.1\n" % (EP0,)), 504)
        self.assertEqual(self.code("NTFY 5 %s MGCP 0.1\nX: 1\nO: L/hd\n" % (EP0,)), 504)
        self.assertEqual(self.h.gateway.counters.unknownVerb, 3)
        self.assertEqual(self.h.gateway.counters.errors[504], 3)

    def test_badSdp(self) -> None:
        """
        A CRCX with unparseable SDP gets 509 and binds nothing.
        """
        text = CRCX + "\nv=0\nm=audio x RTP/AVP 0\n"
        self.assertEqual(self.code(text), ResponseCode.REMOTE_DESCRIPTOR_ERROR)
        self.assertEqual(self.h.allocator.inUse, frozenset())

    def test_remoteAddressNotIpv4(self) -> None:
        """
        A remote descriptor whose connection address is a host name, IPv6
        or not an address at all gets 505 (CRCX and MDCX), binds nothing
        and leaves an existing connection as it was.
        """
        for n, address in enumerate(("IN IP4 ca.example.com", "IN IP6 ::1", "IN IP4 999.1.2.3")):
            text = CRCX.replace("1010", str(1100 + n)) + "\nv=0\nc=%s\nm=audio 5000 RTP/AVP 0\n" % (address,)
            self.assertEqual(self.code(text), ResponseCode.UNSUPPORTED_REMOTE_DESCRIPTOR, address)
        self.assertEqual(self.h.allocator.inUse, frozenset())
        good = CRCX + "\nv=0\nc=IN IP4 127.0.0.1\nm=audio 5000 RTP/AVP 0\n"
        response = self.h.response(good)
        self.assertEqual(response.code, 200)
        [connectionId] = response.get("I")
        self.assertEqual(self.code("MDCX 1200 %s MGCP 0.1\nC: A0000000010000010000000F\nI: %s\nM: sendrecv\n\n"
                                   "v=0\nc=IN IP4 ca.example.com\nm=audio 5002 RTP/AVP 0\n"
                                   % (EP0, connectionId)), ResponseCode.UNSUPPORTED_REMOTE_DESCRIPTOR)
        [info] = self.h.gateway.connectionsOf("1/0/0")
        self.assertEqual((info.remote, info.mode), (("127.0.0.1", 5000), "recvonly"))

    def test_unsupportedCodec(self) -> None:
        """
        A remote SDP offering only G.729 gets 534; an L: a: without G.711
        too; a packetisation period without 20 ms gets 535.
        """
        text = CRCX.replace("a:PCMU, ", "") + "\nv=0\nc=IN IP4 127.0.0.1\nm=audio 4000 RTP/AVP 18\n"
        self.assertEqual(self.code(text), 534)
        self.assertEqual(self.code(CRCX.replace("1010", "1011").replace("a:PCMU", "a:G729")), 534)
        self.assertEqual(self.code(CRCX.replace("1010", "1012").replace("p:20", "p:30")), 535)
        self.assertEqual(self.h.allocator.inUse, frozenset())

    def test_unknownConnection(self) -> None:
        """
        MDCX, AUCX and DLCX of an unknown connection id get 515; a wrong
        call id 516; a missing I: 510.
        """
        self.assertEqual(self.code("MDCX 6 %s MGCP 0.1\nC: 1\nI: FF\nM: sendrecv\n" % (EP0,)), 515)
        self.assertEqual(self.code("AUCX 7 %s MGCP 0.1\nI: FF\nF: M\n" % (EP0,)), 515)
        self.assertEqual(self.code("DLCX 8 %s MGCP 0.1\nC: 1\nI: FF\n" % (EP0,)), 515)
        connectionId = self.h.response(CRCX).raw("I")
        self.assertEqual(self.code("MDCX 9 %s MGCP 0.1\nC: 2\nI: %s\n" % (EP0, connectionId)), 516)
        self.assertEqual(self.code("MDCX 10 %s MGCP 0.1\nC: 2\n" % (EP0,)), 510)

    def test_badMode(self) -> None:
        """
        A loopback mode gets 517; CRCX without C: 510.
        """
        self.assertEqual(self.code(CRCX.replace("recvonly", "netwloop")), 517)
        self.assertEqual(self.code(CRCX.replace("1010", "1011").replace(
            "C: A0000000010000010000000F\n", "")), 510)

    def test_garbage(self) -> None:
        """
        Oversized, binary and headerless datagrams are dropped and counted,
        never raised.
        """
        g = self.h.gateway
        g.protocol.datagramReceived(b"\xff\x00\x01" * 50, CA)
        g.protocol.datagramReceived(b"", CA)
        g.protocol.datagramReceived(b"RQNT 77 " + EP0.encode() + b" MGCP 0.1\r\nX: "
                                    + b"1" * 5000 + b"\r\n", CA)
        self.assertEqual(g.counters.malformed, 2)
        self.assertEqual(g.counters.received, 3)
        self.assertTrue(all(data.startswith(b"510 77") for data, _ in self.h.transport.written))

    def test_deeplyNestedEmbeddedRequests(self) -> None:
        """
        Embedded requests nested hundreds deep (about 3 KB) get 510 and
        the message piggy-backed after them is still answered; four levels
        are accepted.
        """
        nested = "L/hd(E(R(" * 300 + "L/hu" + ")))" * 300
        self.h.receive("RQNT 12 %s MGCP 0.1\nX: 1\nR: %s\n.\nAUEP 13 %s MGCP 0.1\nF: ES\n"
                       % (EP0, nested, EP0))
        self.assertEqual([(r.code, r.transactionId) for r in self.h.take()], [(510, 12), (200, 13)])
        four = "L/hd(E(R(" * 4 + "L/hu" + ")))" * 4
        self.assertEqual(self.code("RQNT 14 %s MGCP 0.1\nX: 1\nR: %s\n" % (EP0, four)), 200)

    def test_rtpUnreachableDeletesAndReports(self) -> None:
        """
        A sendrecv connection whose RTP stops for the unreachable timeout
        is deleted (its RTP port released) and reported to the call agent
        with a DLCX carrying C:, I:, E: 902 and P:.  One that has received
        nothing yet (the far end still rings) and a sendonly one (which
        expects nothing) are kept.
        """
        h = GatewayHarness(unreachableTimeout=1.0)
        sdp = "\nv=0\nc=IN IP4 127.0.0.1\nm=audio 5000 RTP/AVP 0\n"
        h.lines["1/0/0"].offHook()
        h.take()
        [connectionId] = h.response(CRCX.replace("recvonly", "sendrecv") + sdp).get("I")
        h.response(CRCX.replace("1010", "1011").replace("recvonly", "sendonly")
                   .replace("S1/SU0/0", "S1/SU0/1") + sdp)
        h.reactor.advance(5.0)
        self.assertEqual([m.verb for m in h.take() if isinstance(m, Command) and m.verb == "DLCX"], [])
        [leg] = [leg for leg in h.legs if leg.port.name == "1/0/0"]
        for seq in range(3):
            leg.stream.datagramReceived(encodeRtp(RtpPacket(0, seq, seq * 160, 7, bytes(160))),
                                        ("127.0.0.1", 5000))
            h.reactor.advance(0.02)
        h.reactor.advance(0.9)
        self.assertEqual(len(h.gateway.connectionsOf("1/0/0")), 1)
        h.reactor.advance(0.1)
        [dlcx] = [m for m in h.take() if isinstance(m, Command) and m.verb == "DLCX"]
        self.assertEqual(str(dlcx.endpoint), EP0)
        self.assertEqual((dlcx.get("C"), dlcx.get("I")), ("A0000000010000010000000F", (connectionId,)))
        self.assertEqual(dlcx.get("E").code, 902)
        self.assertIsNotNone(dlcx.get("P"))
        self.assertEqual(h.gateway.connectionsOf("1/0/0"), ())
        self.assertEqual(len(h.gateway.connectionsOf("1/0/1")), 1)
        self.assertEqual(len(h.allocator.inUse), 1)
        self.assertEqual(h.gateway.counters.connectionsLost, 1)

    def test_auditEndpoint(self) -> None:
        """
        AUEP F: A returns the capabilities; on aaln/* it lists endpoints in Z:.
        """
        response = self.h.response("AUEP 1001 %s MGCP 0.1\nF: A, ES, X\n" % (EP0,))
        self.assertEqual(response.code, 200)
        self.assertIn("a:PCMU;PCMA", response.raw("A"))
        self.assertEqual((response.raw("ES"), response.raw("X")), ("L/hu", "0"))
        response = self.h.response("AUEP 1002 aaln/*@%s MGCP 0.1\n" % (DOMAIN,))
        self.assertEqual([str(z) for z in response.getAll("Z")],
                         [EP0, EP1, "aaln/S1/SU1/0@" + DOMAIN])
        self.assertEqual(self.code("AUEP 1003 %s MGCP 0.1\nF: QQ\n" % (EP0,)), 539)


class KeepaliveTests(SynchronousTestCase):
    """
    sendKeepalive, sendRestart and the disconnected procedure (mgcp.md 5.3, 9.1).
    """

    def setUp(self) -> None:
        self.h = GatewayHarness(random=lambda: 0.2)
        self.timeouts: list[int] = []
        self.h.gateway.timeoutObservers.append(lambda: self.timeouts.append(1))

    def test_keepalive(self) -> None:
        """
        The keepalive is an empty NTFY for *@domain with N:, X: 0 and O:;
        a 200 fires its Deferred.
        """
        d = self.h.gateway.sendKeepalive()
        [ntfy] = self.h.commands("NTFY")
        self.assertEqual(ntfy.endpoint, "*@" + DOMAIN)
        self.assertEqual((ntfy.raw("N"), ntfy.raw("X"), ntfy.raw("O")),
                         ("127.0.0.1:2427", "0", ""))
        self.h.answer(ntfy)
        self.assertEqual(self.successResultOf(d).code, 200)

    def test_keepaliveRefused(self) -> None:
        """
        An error response fails the keepalive with MgcpErrorResponse.
        """
        d = self.h.gateway.sendKeepalive()
        self.h.answer(self.h.commands("NTFY")[0], 500)
        self.assertEqual(self.failureResultOf(d, MgcpErrorResponse).value.code, 500)

    def test_disconnected(self) -> None:
        """
        A keepalive timing out fails with MgcpTimeout, calls the timeout
        observers, and Tdinit*random later an RSIP disconnected with RD:
        goes out; its failure doubles the wait; a 200 ends the procedure.
        """
        d = self.h.gateway.sendKeepalive()
        self.h.reactor.advance(20)
        self.failureResultOf(d, MgcpTimeout)
        self.assertEqual(self.timeouts, [1])
        self.assertIs(self.h.gateway.disconnected.status(), DisconnectedStatus.WAITING)
        self.h.take()
        self.h.reactor.advance(2.9)
        self.assertEqual(self.h.commands("RSIP"), [])
        self.h.reactor.advance(0.1)
        [rsip] = self.h.commands("RSIP")
        self.assertEqual((rsip.raw("RM"), rsip.raw("RD")), ("disconnected", "3"))
        self.h.reactor.advance(20)
        self.assertEqual(self.timeouts, [1, 1])
        self.h.take()
        self.h.reactor.advance(5.9)
        self.assertEqual(self.h.commands("RSIP"), [])
        self.h.reactor.advance(0.1)
        [rsip] = self.h.commands("RSIP")
        self.assertEqual(rsip.raw("RD"), "29")
        self.h.answer(rsip)
        self.assertIs(self.h.gateway.disconnected.status(), DisconnectedStatus.CONNECTED)

    def test_commandEndsWait(self) -> None:
        """
        A command from the call agent while disconnected sends the RSIP
        disconnected at once.
        """
        self.h.gateway.sendKeepalive().addErrback(lambda f: None)
        self.h.reactor.advance(20)
        self.h.take()
        self.h.receive("RQNT 5 %s MGCP 0.1\nX: 1\n" % (EP0,))
        self.assertEqual(self.h.commands("RSIP")[0].raw("RM"), "disconnected")

    def test_localActivity(self) -> None:
        """
        Lifting a handset while disconnected sends the disconnected RSIP at
        once, or Tdmin after the previous attempt when that is later.
        """
        self.h = GatewayHarness(random=lambda: 0.2, tdmin=25)
        self.h.gateway.sendKeepalive().addErrback(lambda f: None)
        self.h.reactor.advance(20)
        self.h.lines["1/0/0"].offHook()
        [first] = self.h.commands("RSIP")
        self.assertEqual(first.raw("RM"), "disconnected")
        self.h.reactor.advance(20)
        self.h.take()
        self.h.lines["1/0/0"].onHook()
        self.h.lines["1/0/0"].offHook()
        self.h.reactor.advance(4.9)
        self.assertEqual(self.h.commands("RSIP"), [])
        self.h.reactor.advance(0.1)
        self.assertEqual(self.h.commands("RSIP")[0].raw("RD"), "25")

    def test_restart(self) -> None:
        """
        sendRestart sends RM: and RD: for the whole gateway.
        """
        d = self.h.gateway.sendRestart("graceful", 0)
        [rsip] = self.h.commands("RSIP")
        self.assertEqual((rsip.endpoint, rsip.raw("RM"), rsip.raw("RD")),
                         ("*@" + DOMAIN, "graceful", "0"))
        self.h.answer(rsip)
        self.successResultOf(d)


    def test_restartSomePorts(self) -> None:
        """
        sendRestart for some ports sends one RSIP per endpoint and fires
        once all are answered; for every port it sends the wildcard.
        """
        d = self.h.gateway.sendRestart("restart", portNames=["1/0/0", "1/0/1"])
        rsips = self.h.commands("RSIP")
        self.assertEqual([r.endpoint for r in rsips], [EP0, EP1])
        self.h.answer(rsips[0])
        self.assertNoResult(d)
        self.h.answer(rsips[1])
        self.assertEqual(self.successResultOf(d).code, 200)
        self.h.take()
        self.h.gateway.sendRestart("restart", portNames=["1/0/0", "1/0/1", "1/1/0"])
        self.assertEqual([r.endpoint for r in self.h.commands("RSIP")], ["*@" + DOMAIN])

    def test_restartSomePortsRefused(self) -> None:
        """
        A refusal of one of several RSIPs fails the whole with its error.
        """
        d = self.h.gateway.sendRestart("restart", portNames=["1/0/1"])
        self.h.answer(self.h.commands("RSIP")[0], 502)
        self.assertEqual(self.failureResultOf(d, MgcpErrorResponse).value.code, 502)

    def test_noDisconnectedProcedure(self) -> None:
        """
        With the disconnected procedure switched off a timeout only reaches
        the observers.
        """
        self.h.gateway.disconnectedProcedure = False
        self.h.gateway.sendKeepalive().addErrback(lambda f: None)
        self.h.reactor.advance(20)
        self.assertEqual(self.timeouts, [1])
        self.assertIs(self.h.gateway.disconnected.status(), DisconnectedStatus.CONNECTED)


class FailoverTests(SynchronousTestCase):
    """
    When the call agent is lost and a backup takes over, what the gateway
    still had outstanding to the lost one ends.
    """

    def test_forgetCallAgent(self) -> None:
        """
        1/0/0's NTFY to the primary goes unanswered; the primary is found
        lost and the backup takes over: the NTFY is retransmitted no more,
        its time-out starts no disconnected procedure, and the backup gets
        no C{RSIP RM: disconnected}; the log names the superseded request.
        """
        h = GatewayHarness(random=lambda: 0.2)
        backup = ("127.0.0.2", 2427)
        self.assertEqual(h.response("RQNT 1001 %s MGCP 0.1\nX: 1\nR: L/hd\n" % (EP0,)).code, 200)
        h.lines["1/0/0"].offHook()
        [ntfy] = h.commands("NTFY")
        h.reactor.advance(1)
        h.take()
        with capturedLogs() as events:
            h.gateway.forgetCallAgent(CA)
            h.gateway.useCallAgent(backup)
        self.assertIn("MGCP: call agent 127.0.0.1:2427 lost; 1 request(s) to it superseded: %d"
                      % (ntfy.transactionId,), [formatEvent(event) for event in events])
        h.reactor.advance(120)
        sent = [(decodeMessage(data), peer) for data, peer in h.transport.written]
        self.assertEqual([m for m, peer in sent if peer[0] == CA[0]], [])
        self.assertEqual([m for m, peer in sent if isinstance(m, Command) and m.verb == "RSIP"], [])
        self.assertIs(h.gateway.disconnectedStatus("1/0/0"), DisconnectedStatus.CONNECTED)


class EndpointDisconnectedTests(SynchronousTestCase):
    """
    The disconnected procedure is per endpoint (RFC 3435 4.3, 4.4.7): a
    command for one endpoint timing out disconnects that endpoint only,
    with its own RSIP and timers (Tdinit, Tdmin, Tdmax), while the call
    agent answers for the others.
    """

    def setUp(self) -> None:
        self.h = GatewayHarness(random=lambda: 0.2, tdmin=25, tdmax=300)
        self.timeouts: list[int] = []
        self.endpointTimeouts: list[int] = []
        self.h.gateway.timeoutObservers.append(lambda: self.timeouts.append(1))
        self.h.gateway.endpointTimeoutObservers.append(lambda: self.endpointTimeouts.append(1))
        for transactionId, endpoint in ((1001, EP0), (1002, EP1)):
            self.assertEqual(self.h.response("RQNT %d %s MGCP 0.1\nX: 1\nR: L/hd\n"
                                             % (transactionId, endpoint)).code, 200)

    def passing(self, seconds: float) -> list[Command]:
        """
        Advance the clock in half-second steps (retransmissions go out as
        they would).

        @return: the commands sent meanwhile.
        """
        sent: list[Command] = []
        for step in range(int(seconds * 2)):
            self.h.reactor.advance(0.5)
            sent.extend(m for m in self.h.take() if isinstance(m, Command))
        return sent

    def unansweredNotify(self) -> Command:
        """1/0/0 goes off hook; its NTFY is never answered (20 s: Tsmax)."""
        self.h.lines["1/0/0"].offHook()
        [ntfy] = self.h.commands("NTFY")
        self.assertEqual(ntfy.endpoint, EP0)
        self.h.reactor.advance(20)
        self.h.take()
        return ntfy

    def test_onlyThatEndpoint(self) -> None:
        """
        An endpoint's NTFY timing out disconnects that endpoint: Tdinit *
        random later C{RSIP aaln/S1/SU0/0@gw RM: disconnected} with C{RD:}
        goes out (never C{RSIP *}); each failure doubles the wait up to
        Tdmax; the other endpoint and the whole gateway stay connected and
        the timeout reaches the endpoint timeout observers (the fallback
        monitor checks with a keepalive), not the whole gateway's.
        """
        with capturedLogs() as events:
            self.unansweredNotify()
        self.assertIn("MGCP: aaln/S1/SU0/0@%s disconnected (the call agent did not answer a command for it); "
                      "disconnected RSIP for it in 3.0 s" % (DOMAIN,), [formatEvent(event) for event in events])
        self.assertEqual((self.timeouts, self.endpointTimeouts), ([], [1]))
        self.assertIs(self.h.gateway.disconnectedStatus("1/0/0"), DisconnectedStatus.WAITING)
        self.assertIs(self.h.gateway.disconnectedStatus("1/0/1"), DisconnectedStatus.CONNECTED)
        self.assertIs(self.h.gateway.disconnected.status(), DisconnectedStatus.CONNECTED)
        seen: set[int] = set()

        def newRestarts() -> list[Command]:
            fresh = [c for c in self.h.take() if isinstance(c, Command) and c.verb == "RSIP"
                     and c.transactionId not in seen]
            seen.update(c.transactionId for c in fresh)
            return fresh

        self.h.reactor.advance(2.9)
        self.assertEqual(newRestarts(), [])
        self.h.reactor.advance(0.1)
        [rsip] = newRestarts()
        self.assertEqual((rsip.endpoint, rsip.raw("RM"), rsip.raw("RD")), (EP0, "disconnected", "3"))
        sent = [(self.h.reactor.seconds(), rsip)]
        while len(sent) < 10:
            self.h.reactor.advance(0.5)
            sent.extend((self.h.reactor.seconds(), fresh) for fresh in newRestarts())
        # Each RSIP times out after about 20 s (Tsmax); the next waits twice
        # as long as the one before, at most Tdmax (300 here).
        waits = [round(later - earlier - 20) for (earlier, _), (later, _) in zip(sent, sent[1:])]
        self.assertEqual(waits, [6, 12, 24, 48, 96, 192, 300, 300, 300])
        self.h.transport.written.clear()
        for when, restart in sent:
            self.assertEqual((restart.endpoint, restart.raw("RM")), (EP0, "disconnected"))
            self.assertLessEqual(abs(int(restart.raw("RD")) - (when - 20)), 1)
        rsip = sent[-1][1]
        self.h.answer(rsip)
        self.assertIs(self.h.gateway.disconnectedStatus("1/0/0"), DisconnectedStatus.CONNECTED)
        self.assertNotIn("*@" + DOMAIN, [c.endpoint for c in self.h.allCommands("RSIP")])
        self.assertTrue(self.h.gateway.controlled("1/0/1"))

    def test_keepaliveAnsweredProvesNothingForIt(self) -> None:
        """
        The call agent answering a keepalive (or another endpoint's NTFY)
        does not end the endpoint's procedure, nor supersede its commands:
        its disconnected RSIP still goes out.
        """
        self.unansweredNotify()
        self.h.gateway.sendKeepalive()
        [keepalive] = self.h.take()
        self.h.answer(keepalive)
        self.h.lines["1/0/1"].offHook()
        [ntfy] = self.h.take()
        self.assertEqual(ntfy.endpoint, EP1)
        self.h.answer(ntfy)
        self.assertIs(self.h.gateway.disconnectedStatus("1/0/0"), DisconnectedStatus.WAITING)
        self.h.reactor.advance(3)
        [rsip] = self.h.take()
        self.assertEqual((rsip.endpoint, rsip.raw("RM")), (EP0, "disconnected"))

    def test_localActivityOfThatEndpoint(self) -> None:
        """
        Local activity on the disconnected endpoint sends its RSIP at once,
        or Tdmin after its previous attempt; activity on another endpoint
        does not.
        """
        self.unansweredNotify()
        self.h.lines["1/0/0"].onHook()
        self.h.lines["1/0/1"].offHook()
        [other] = self.h.take()
        self.h.answer(other)
        self.assertEqual(self.h.commands("RSIP"), [])
        self.h.lines["1/0/0"].offHook()
        [first] = self.h.commands("RSIP")
        self.assertEqual((first.endpoint, first.raw("RD")), (EP0, "0"))
        self.h.reactor.advance(20)
        self.h.take()
        self.h.lines["1/0/0"].onHook()
        self.h.lines["1/0/0"].offHook()
        self.h.reactor.advance(4.9)
        self.assertEqual(self.h.commands("RSIP"), [])
        self.h.reactor.advance(0.1)
        [second] = self.h.commands("RSIP")
        self.assertEqual((second.endpoint, second.raw("RD")), (EP0, "25"))

    def test_answerForItSupersedesItsOutage(self) -> None:
        """
        When the call agent answers a command for the endpoint again, its
        procedure ends and its older commands still retransmitting are
        superseded; the other endpoint's outstanding command goes on.
        """
        self.unansweredNotify()
        self.h.reactor.advance(3)
        [rsip] = self.h.take()
        self.h.lines["1/0/1"].offHook()
        [other] = self.h.take()
        self.assertEqual(other.endpoint, EP1)
        self.assertEqual(self.h.response("RQNT 1003 %s MGCP 0.1\nX: 2\nR: L/hu\n" % (EP0,)).code, 200)
        self.h.reactor.advance(0.5)
        self.h.take()
        self.h.lines["1/0/0"].onHook()
        [newer] = [m for m in self.h.take() if isinstance(m, Command) and m.verb == "NTFY"]
        self.assertEqual(newer.endpoint, EP0)
        self.h.answer(newer)
        self.assertIs(self.h.gateway.disconnectedStatus("1/0/0"), DisconnectedStatus.CONNECTED)
        resent = self.passing(10)
        self.assertNotIn(rsip.transactionId, [m.transactionId for m in resent])
        self.assertIn(other.transactionId, [m.transactionId for m in resent])
        self.assertNotIn(EP0, [m.endpoint for m in resent])

    def test_wildcardTimeoutIsTheWholeGateway(self) -> None:
        """
        When a command for C{*} times out too, the whole gateway is
        disconnected: its C{RSIP *} replaces the endpoint's procedure.
        """
        self.unansweredNotify()
        self.h.gateway.sendKeepalive().addErrback(lambda f: None)
        sent = self.passing(21)
        self.assertIs(self.h.gateway.disconnected.status(), DisconnectedStatus.WAITING)
        self.assertIs(self.h.gateway.disconnectedStatus("1/0/0"), DisconnectedStatus.ABANDONED)
        sent += self.passing(3)
        rsips = list({c.transactionId: c for c in sent if c.verb == "RSIP"}.values())
        self.assertEqual([(r.endpoint, r.raw("RM")) for r in rsips],
                         [(EP0, "disconnected"), ("*@" + DOMAIN, "disconnected")])
        self.h.answer(rsips[-1])
        self.assertIs(self.h.gateway.disconnected.status(), DisconnectedStatus.CONNECTED)
        self.h.take()
        self.assertEqual([r.endpoint for r in self.passing(600) if r.verb == "RSIP"], [])
        self.assertIs(self.h.gateway.disconnectedStatus("1/0/0"), DisconnectedStatus.CONNECTED)


class FallbackTests(SynchronousTestCase):
    """
    relinquish/reclaim for MGCP gateway fallback (mgcp.md 9.3).
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()
        self.idle: list[str] = []

    def connectCall(self) -> str:
        connectionId = self.h.response(CRCX).raw("I")
        self.h.lines["1/0/0"].offHook()
        self.h.response("MDCX 1012 %s MGCP 0.1\nC: A0000000010000010000000F\nI: %s\n"
                        "M: sendrecv\n%s" % (EP0, connectionId, SDP_REMOTE))
        return connectionId

    def test_idleAtOnce(self) -> None:
        """
        Relinquishing an idle port calls whenIdle at once; MGCP commands for
        it then get 501 and line events are not notified.
        """
        self.h.gateway.relinquish("1/0/0", self.idle.append)
        self.assertEqual(self.idle, ["1/0/0"])
        self.assertFalse(self.h.gateway.controlled("1/0/0"))
        self.assertEqual(self.h.response("RQNT 3 %s MGCP 0.1\nX: 1\n" % (EP0,)).code, 501)
        self.h.lines["1/0/0"].offHook()
        self.assertEqual(self.h.commands("NTFY"), [])

    def test_connectedCallKept(self) -> None:
        """
        A connected call keeps its media until the line goes on hook; then
        the leg is closed and whenIdle is called.
        """
        self.connectCall()
        self.h.gateway.relinquish("1/0/0", self.idle.append)
        self.assertEqual(self.idle, [])
        self.assertTrue(self.h.legs[0].sending)
        self.assertFalse(self.h.gateway.isIdle("1/0/0"))
        self.h.lines["1/0/0"].onHook()
        self.assertEqual(self.idle, ["1/0/0"])
        self.assertEqual(self.h.allocator.inUse, frozenset())
        self.assertEqual([c for c in self.h.commands("NTFY") if c.raw("O") == "L/hu"], [])

    def test_controlStates(self) -> None:
        """
        The endpoint's control machine goes controlled -> draining (a
        connected call kept) -> local (on hook) -> controlled (reclaim);
        relinquishing again while draining only replaces the callback.
        """
        endpoint = self.h.gateway.endpoints["1/0/0"]
        self.assertIs(endpoint.controlState, ControlState.CONTROLLED)
        self.connectCall()
        self.h.gateway.relinquish("1/0/0", lambda name: None)
        self.h.gateway.relinquish("1/0/0", self.idle.append)
        self.assertIs(endpoint.controlState, ControlState.DRAINING)
        self.h.lines["1/0/0"].onHook()
        self.assertIs(endpoint.controlState, ControlState.LOCAL)
        self.assertEqual(self.idle, ["1/0/0"])
        self.h.gateway.reclaim("1/0/0")
        self.assertIs(endpoint.controlState, ControlState.CONTROLLED)

    def test_callAgentDeletes(self) -> None:
        """
        The call agent may still delete a kept call; the port is idle once
        it is also on hook.
        """
        connectionId = self.connectCall()
        self.h.gateway.relinquish("1/0/0", self.idle.append)
        response = self.h.response("DLCX 20 %s MGCP 0.1\nC: A0000000010000010000000F\nI: %s\n"
                                   % (EP0, connectionId))
        self.assertEqual(response.code, 250)
        self.assertEqual(self.idle, [])
        self.h.lines["1/0/0"].onHook()
        self.assertEqual(self.idle, ["1/0/0"])

    def test_whenIdleMayReclaim(self) -> None:
        """
        whenIdle is called once the endpoint's control transition is over:
        it may ask whether the port is controlled and reclaim it at once.
        """
        seen = []

        def whenIdle(name: str) -> None:
            seen.append((name, self.h.gateway.controlled(name)))
            self.h.gateway.reclaim(name)

        self.connectCall()
        self.h.gateway.relinquish("1/0/0", whenIdle)
        self.h.lines["1/0/0"].onHook()
        self.assertEqual(seen, [("1/0/0", False)])
        self.assertTrue(self.h.gateway.controlled("1/0/0"))
        self.h.lines["1/0/0"].offHook()
        self.assertEqual(self.h.commands("NTFY")[-1].raw("O"), "L/hd")

    def test_whenIdleAfterTheCommand(self) -> None:
        """
        When the call agent's DLCX of the call kept on an FXO port leaves
        the port idle (the gateway releases the line), whenIdle is called
        once the DLCX is answered: what it sends follows the 250.
        """
        self.assertWhenIdleAfterTheCommand()

    def test_whenIdleAfterTheCommandClosingLater(self) -> None:
        """
        The same when the RTP port closes on the next turn, as Twisted's do:
        the 250 waits for the close, and whenIdle waits for the 250.
        """
        self.h = GatewayHarness(closeLater=True)
        self.assertWhenIdleAfterTheCommand(turn=lambda: self.h.reactor.advance(0))

    def test_afterTheCommandFailure(self) -> None:
        """
        A failure of what a command set off is logged; the gateway goes on
        (the datagram is still reported as the call agent's command).
        """
        fxo = "aaln/S1/SU1/0@" + DOMAIN
        connectionId = self.h.response(CRCX.replace(EP0, fxo).replace("M: recvonly", "M: sendrecv")
                                       + SDP_REMOTE).raw("I")
        heard = []
        self.h.gateway.commandObservers.append(lambda: heard.append(True))

        def broken(name: str) -> None:
            raise RuntimeError("broken observer")

        self.h.gateway.relinquish("1/1/0", broken)
        self.h.receive("DLCX 21 %s MGCP 0.1\nC: A0000000010000010000000F\nI: %s\n" % (fxo, connectionId))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(heard, [True])
        self.assertEqual([(m.code, m.transactionId) for m in self.h.sent()][-1], (250, 21))

    def assertWhenIdleAfterTheCommand(self, turn: Callable[[], object] = lambda: None) -> None:
        fxo = "aaln/S1/SU1/0@" + DOMAIN
        sentBefore = []
        connectionId = self.h.response(CRCX.replace(EP0, fxo).replace("M: recvonly", "M: sendrecv")
                                       + SDP_REMOTE).raw("I")
        self.assertIs(self.h.ports["1/1/0"].status, PortStatus.CONNECTED)
        self.h.gateway.relinquish("1/1/0", lambda name: sentBefore.append(self.h.sent()))
        self.assertEqual(sentBefore, [])
        self.h.transport.written.clear()
        self.h.receive("DLCX 21 %s MGCP 0.1\nC: A0000000010000010000000F\nI: %s\n" % (fxo, connectionId))
        turn()
        [before] = sentBefore
        self.assertEqual([(m.code, m.transactionId) for m in before], [(250, 21)])
        self.assertIs(self.h.ports["1/1/0"].status, PortStatus.IDLE)

    def test_transientCleared(self) -> None:
        """
        A ringing call is transient: relinquishing stops the ringing and
        closes its leg, and the port is idle at once.
        """
        self.h.response(CRCX.replace("R: L/hu", "R: L/hd\nS: L/rg"))
        self.h.gateway.relinquish("1/0/0", self.idle.append)
        self.assertFalse(self.h.lines["1/0/0"].ringing)
        self.assertEqual(self.h.allocator.inUse, frozenset())
        self.assertEqual(self.idle, ["1/0/0"])
        self.assertEqual(self.h.sent(), [])

    def test_reclaim(self) -> None:
        """
        After reclaim the port is controlled again and notifies off-hook.
        """
        self.h.gateway.relinquish("1/0/0", self.idle.append)
        self.h.gateway.reclaim("1/0/0")
        self.assertTrue(self.h.gateway.controlled("1/0/0"))
        self.h.lines["1/0/0"].offHook()
        self.assertEqual(self.h.commands("NTFY")[-1].raw("O"), "L/hd")

    def test_names(self) -> None:
        """
        endpointName maps voice ports to Cisco endpoint names; unknown ports
        raise UnknownVoicePort.
        """
        self.assertEqual(self.h.gateway.endpointName("1/0/1"), EP1)
        self.assertEqual(self.h.gateway.endpointName("1/1/0"), "aaln/S1/SU1/0@" + DOMAIN)
        self.assertRaises(UnknownVoicePort, self.h.gateway.endpointName, "2/0/0")
        self.assertIsInstance(Command("RQNT", 1, EP0, "MGCP 0.1"), Command)
        self.assertEqual(wire("a\n"), b"a\r\n")
