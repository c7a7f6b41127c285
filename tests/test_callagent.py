"""
Tests for L{srst.tools._callagent}: the CallManager-like MGCP call agent of
C{srst-ccm mgcp agent}, driven by a fake gateway built from
L{MgcpTransactions}, in memory with a L{Clock} and over real UDP on
127.0.0.1.
"""

from __future__ import annotations

import io
import socket
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from srst.debug import DebugSwitches
from srst.mgcp.messages import Command, Response, decodeMessage, encodeMessage
from srst.mgcp.sdp import simpleSdp
from srst.mgcp.transactions import ITransactionOwner, MgcpTimeout, MgcpTransactionProtocol, MgcpTransactions
from srst.tools import ccm
from srst.tools._callagent import (
    CallAgent,
    CallState,
    EventKind,
    LineSpec,
    LineSpecError,
    LineState,
    defaultDigitMap,
    parseLineSpec,
    voicePortEndpoint,
)
from tests.mgcphelpers import FakeUdpReactor, TransactionOwner, mgcpDebugLog
from tests.routerhelpers import bounded

DOMAIN = "branch-router"
GW = ("127.0.0.1", 2427)
CA = ("127.0.0.1", 2727)
LINES = [LineSpec("81234", "aaln/S1/SU0/0"), LineSpec("81236", "aaln/S1/SU0/1")]
A, B = "aaln/S1/SU0/0", "aaln/S1/SU0/1"
STATS = "PS=10, OS=1600, PR=9, OR=1440, PL=1, JI=0, LA=0"


class FakeGateway:
    """
    A scripted IOS-like gateway: answers the call agent's commands (CRCX
    with a connection id and simple SDP, DLCX with 250 and statistics),
    remembers each endpoint's request id, and sends RSIP and NTFY.

    @ivar received: every command received, in order.
    @ivar reject: C{(verb, localName)} -> response code to answer with.
    """

    def __init__(self, clock, send, domain: str = DOMAIN,
                 callAgent=CA) -> None:
        self.transactions = MgcpTransactions(clock, send, TransactionOwner(self.handle),
                                             firstTransactionId=1, debugLog=mgcpDebugLog())
        self.domain = domain
        self.callAgent = callAgent
        self.received: list[Command] = []
        self.requestIds: dict[str, str] = {}
        self.connections: dict[str, str] = {}
        self.reject: dict[tuple[str, str], int] = {}
        self._next = 0x1A
        self._waiting: list = []

    def whenReceived(self, condition) -> Deferred:
        """
        @return: a Deferred firing once C{condition()} holds, checked after
            each command is executed.
        """
        waiting: Deferred = Deferred()
        self._waiting.append((condition, waiting))
        return waiting

    def handle(self, command: Command, peer) -> Response:
        response = self._execute(command)
        for entry in list(self._waiting):
            condition, waiting = entry
            if condition():
                self._waiting.remove(entry)
                waiting.callback(None)
        return response

    def _execute(self, command: Command) -> Response:
        self.received.append(command)
        local = command.endpoint.partition("@")[0]
        if command.has("X"):
            self.requestIds[local] = command.raw("X")
        code = self.reject.get((command.verb, local))
        if code is not None:
            return Response(code, 1, "rejected")
        if command.verb == "AUEP":
            return Response(200, 1, "OK", parameters=[("A", "a:PCMU;PCMA, p:10-30, v:L;D;G")])
        if command.verb == "CRCX":
            connection = "%X" % (self._next,)
            self._next += 1
            self.connections[connection] = local
            sdp = simpleSdp("127.0.0.1", 16384 + 2 * len(self.connections), [0])
            return Response(200, 1, "OK", parameters=[("I", connection)], sdp=(sdp,))
        if command.verb == "DLCX":
            if self.connections.pop(command.raw("I"), None) is None:
                return Response(515, 1, "unknown connection")
            return Response(250, 1, "OK", parameters=[("P", STATS)])
        if command.verb == "MDCX" and command.raw("I") not in self.connections:
            return Response(515, 1, "unknown connection")
        return Response(200, 1, "OK")

    def send(self, verb: str, local: str, parameters) -> Deferred:
        command = Command(verb, 1, "%s@%s" % (local, self.domain), "MGCP 0.1",
                          parameters=parameters)
        return self.transactions.sendCommand(command, self.callAgent)

    def rsip(self, method: str = "restart", local: str = "*") -> Deferred:
        return self.send("RSIP", local, [("RM", method)])

    def notify(self, local: str, observed: str) -> Deferred:
        return self.send("NTFY", local, [
            ("N", "ca@%s:%d" % self.callAgent),
            ("X", self.requestIds.get(local, "0")), ("O", observed)])

    def commands(self, verb=None, local=None) -> list[Command]:
        return [c for c in self.received
                if (verb is None or c.verb == verb)
                and (local is None or c.endpoint.startswith(local + "@"))]


class Harness:
    """
    A L{CallAgent} and a L{FakeGateway} joined in memory on one L{Clock}.

    @ivar switches: the agent's debug switches (all off at first).
    @ivar debugEvents: what passed them.
    """

    def __init__(self, **options) -> None:
        self.clock = Clock()
        self.queue: list = []
        self.dropping = False
        self.debugEvents: list = []
        self.switches = DebugSwitches(self.debugEvents.append)
        self.agent = CallAgent(self.clock, DOMAIN, LINES, GW, CA, debug=self.switches, **options)
        self.events: list = []
        self.agent.observers.append(self.events.append)
        self.agentSide = self.agent.attach(self._fromAgent)
        self.gateway = FakeGateway(self.clock, self._fromGateway)

    def _fromAgent(self, data: bytes, peer) -> None:
        if not self.dropping:
            self.queue.append((self.gateway.transactions, data, CA))

    def _fromGateway(self, data: bytes, peer) -> None:
        if not self.dropping:
            self.queue.append((self.agentSide, data, GW))

    def pump(self) -> None:
        for _ in range(1000):
            if self.queue:
                receiver, data, source = self.queue.pop(0)
                receiver.datagramReceived(data, source)
            elif any(c.getTime() <= self.clock.seconds()
                     for c in self.clock.getDelayedCalls()):
                self.clock.advance(0)
            else:
                return

    def register(self) -> None:
        self.gateway.rsip()
        self.pump()
        self.gateway.received.clear()

    def dial(self, local: str, digits: str) -> None:
        self.gateway.notify(local, "L/hd")
        self.pump()
        self.gateway.notify(local, "D/" + digits)
        self.pump()

    def connect(self) -> None:
        self.register()
        self.dial(A, "81236")
        self.gateway.notify(B, "L/hd")
        self.pump()
        self.gateway.received.clear()

    def kinds(self) -> list[EventKind]:
        return [event.kind for event in self.events]


class LineSpecTests(SynchronousTestCase):
    """
    Line specifications, voice port names and the default digit map.
    """

    def test_parse(self):
        """
        C{NUMBER=ENDPOINT} takes a local name or a voice port, which maps to
        its C{aaln/S<slot>/SU<subunit>/<port>} name.
        """
        self.assertEqual(parseLineSpec("81234=aaln/S1/SU0/0"), LINES[0])
        self.assertEqual(parseLineSpec("81235=1/1/0"), LineSpec("81235", "aaln/S1/SU1/0"))
        self.assertEqual(voicePortEndpoint("1/0/3"), "aaln/S1/SU0/3")

    def test_bad(self):
        """
        A missing C{=}, a bad number, a domain or a wildcard is refused with
        a one-line L{LineSpecError}.
        """
        for text in ("81234", "8a=aaln/1", "81234=aaln/1@gw", "81234=aaln/*", "1=", "=aaln/1"):
            error = self.assertRaises(LineSpecError, parseLineSpec, text)
            self.assertIn(repr(text), str(error))
        self.assertRaises(LineSpecError, voicePortEndpoint, "1/0")

    def test_defaultDigitMap(self):
        """
        The default digit map has one pattern per number length and first
        digit.
        """
        self.assertEqual(defaultDigitMap(["81234", "81236", "2001"]), "(2xxx|8xxxx)")
        self.assertEqual(Harness().agent.digitMapText, "(8xxxx)")

    def test_badConfiguration(self):
        """
        Duplicate numbers or endpoints, a bad digit map or a bad version are
        a L{ValueError}.
        """
        clock, debug = Clock(), DebugSwitches()
        self.assertRaises(ValueError, CallAgent, clock, DOMAIN, LINES + [LINES[0]], debug=debug)
        self.assertRaises(ValueError, CallAgent, clock, DOMAIN, LINES, digitMap="(8x[", debug=debug)
        self.assertRaises(ValueError, CallAgent, clock, DOMAIN, LINES, version="1.0", debug=debug)

    def test_debugRequired(self):
        """
        The agent takes its debug switches from its creator: there is no
        default set.
        """
        self.assertRaises(TypeError, CallAgent, Clock(), DOMAIN, LINES)

    def test_debugThroughSwitches(self):
        """
        The agent's C{debug mgcp} lines (here: an event it ignores, and its
        transaction layer's) pass through the switches it was given: none
        while C{debug mgcp} is off, and they are there once it is on.
        """
        h = Harness()
        h.register()
        h.gateway.notify(A, "L/hf")
        h.pump()
        self.assertEqual(h.debugEvents, [])
        h.switches.enable("srst.debug.mgcp")
        h.gateway.notify(A, "L/hf")
        h.pump()
        self.assertTrue(h.debugEvents)
        self.assertEqual({event["log_namespace"] for event in h.debugEvents}, {"srst.debug.mgcp"})
        ignored = [event for event in h.debugEvents if event.get("event") == "L/hf"]
        self.assertEqual([event["endpoint"] for event in ignored], [A + "@" + DOMAIN])


class TransactionOwnerTests(SynchronousTestCase):
    """
    The agent as its transaction layer's owner.
    """

    def test_provides(self):
        """
        The agent provides L{ITransactionOwner}.
        """
        self.assertTrue(verifyObject(ITransactionOwner, Harness().agent))

    def test_answerFirst(self):
        """
        What a command asks of the agent is done once the command is
        answered, in the same turn: the gateway gets the 200 to its RSIP
        before the audits, and the 200 to its off-hook NTFY before the
        dial-tone RQNT.
        """
        h = Harness()

        def deliver() -> list:
            receiver, data, source = h.queue.pop(0)
            receiver.datagramReceived(data, source)
            sent = [decodeMessage(data) for receiver, data, source in h.queue]
            return [m.code if isinstance(m, Response) else (m.verb, m.endpoint.split("@")[0]) for m in sent]

        h.gateway.rsip()
        self.assertEqual(deliver(), [200, ("AUEP", A), ("AUEP", B)])
        h.pump()
        h.gateway.notify(A, "L/hd")
        self.assertEqual(deliver(), [200, ("RQNT", A)])


class RegistrationTests(SynchronousTestCase):
    """
    RSIP, audit, arming and keepalives.
    """

    def test_restart(self):
        """
        A restart RSIP for C{*@domain} is answered 200, then each endpoint is
        audited (C{AUEP F: A}) and armed for off-hook with its own request id;
        the agent is then registered.
        """
        h = Harness()
        registered = h.agent.whenRegistered()
        self.assertNoResult(registered)
        answer = h.gateway.rsip()
        h.pump()
        self.assertEqual(self.successResultOf(answer).code, 200)
        self.assertIsNone(self.successResultOf(registered))
        self.assertEqual([(c.verb, c.endpoint.split("@")[0]) for c in h.gateway.received],
                         [("AUEP", A), ("AUEP", B), ("RQNT", A), ("RQNT", B)])
        auep, rqnt = h.gateway.received[0], h.gateway.received[2]
        self.assertEqual((auep.raw("F"), auep.version), ("A", "MGCP 0.1"))
        self.assertEqual((rqnt.raw("R"), rqnt.endpoint), ("L/hd(N)", A + "@" + DOMAIN))
        ids = {c.raw("X") for c in h.gateway.commands("RQNT")}
        self.assertEqual(len(ids), 2)
        self.assertEqual([l.state for l in h.agent.lines], [LineState.IDLE] * 2)
        self.assertEqual(h.agent.lines[0].capabilities, ("a:PCMU;PCMA, p:10-30, v:L;D;G",))
        self.assertEqual(h.kinds(), [EventKind.RESTART, EventKind.REGISTERED])
        self.successResultOf(h.agent.whenRegistered())

    def test_noAudit(self):
        """
        With C{audit=False} the endpoints are armed without AUEP.
        """
        h = Harness(audit=False)
        h.gateway.rsip()
        h.pump()
        self.assertEqual([c.verb for c in h.gateway.received], ["RQNT", "RQNT"])
        self.assertTrue(h.agent.registered)

    def test_auditFailure(self):
        """
        An endpoint whose audit is refused is not armed; registration still
        completes for the others.
        """
        h = Harness()
        h.gateway.reject[("AUEP", B)] = 500
        h.gateway.rsip()
        h.pump()
        self.assertEqual([c.endpoint for c in h.gateway.commands("RQNT")], [A + "@" + DOMAIN])
        self.assertEqual(h.events[-1].describe(), "registered 81234 1 of 2 endpoints armed")
        self.assertEqual(h.agent.counters.errorResponses, 1)

    def test_otherRestartMethods(self):
        """
        Disconnected, graceful, forced and cancel-graceful RSIPs are answered
        200; graceful and forced take idle lines out of service and
        cancel-graceful arms them again.
        """
        h = Harness()
        h.register()
        for method in ("disconnected", "graceful", "forced"):
            answer = h.gateway.rsip(method)
            h.pump()
            self.assertEqual(self.successResultOf(answer).code, 200)
        self.assertEqual(h.gateway.received, [])
        self.assertEqual([l.state for l in h.agent.lines], [LineState.OUT_OF_SERVICE] * 2)
        self.assertIn(EventKind.DISCONNECTED, h.kinds())
        self.assertIn(EventKind.OUT_OF_SERVICE, h.kinds())
        h.gateway.rsip("cancel-graceful")
        h.pump()
        self.assertEqual([c.raw("R") for c in h.gateway.received], ["L/hd(N)"] * 2)
        self.assertEqual([l.state for l in h.agent.lines], [LineState.IDLE] * 2)

    def test_keepalive(self):
        """
        An NTFY for C{*@domain} without observed events is a keepalive:
        answered 200 and counted, nothing else is sent.
        """
        h = Harness()
        h.register()
        answer = h.gateway.send("NTFY", "*", [("N", "10.1.1.13:2427"), ("X", "0"), ("O", "")])
        h.pump()
        self.assertEqual(self.successResultOf(answer).code, 200)
        self.assertEqual(h.agent.counters.keepalives, 1)
        self.assertEqual(h.gateway.received, [])

    def test_unknownEndpointOrCommand(self):
        """
        Unknown endpoints and other domains get 500; verbs a call agent does
        not execute get 504.
        """
        h = Harness()
        codes = [h.gateway.notify("aaln/S9/SU0/0", "L/hd"),
                 FakeGateway.send(h.gateway, "RSIP", "aaln/S9/*", [("RM", "restart")]),
                 h.gateway.send("EPCF", A, [("B", "e:mu")])]
        h.gateway.domain = "other"
        codes.append(h.gateway.rsip())
        h.pump()
        self.assertEqual([self.successResultOf(d).code for d in codes], [500, 500, 504, 500])


class DialingTests(SynchronousTestCase):
    """
    Off-hook, dial tone, digit collection, reorder and busy.
    """

    def test_dialTone(self):
        """
        Off-hook on an idle line is answered with dial tone, on-hook and digit
        detection through the digit map, and a fresh request id.
        """
        h = Harness()
        h.register()
        armed = h.agent.lines[0].requestId
        answer = h.gateway.notify(A, "L/hd")
        h.pump()
        self.assertEqual(self.successResultOf(answer).code, 200)
        [rqnt] = h.gateway.received
        self.assertEqual((rqnt.verb, rqnt.raw("S"), rqnt.raw("R"), rqnt.raw("D")),
                         ("RQNT", "L/dl", "L/hu(N),D/[0-9#*T](D)", "(8xxxx)"))
        self.assertNotEqual(rqnt.raw("X"), armed)
        self.assertEqual(h.agent.lines[0].state, LineState.DIALING)

    def test_unknownNumber(self):
        """
        A number no line has gets reorder tone; hanging up re-arms the line
        for off-hook.
        """
        h = Harness()
        h.register()
        h.dial(A, "89999")
        last = h.gateway.received[-1]
        self.assertEqual((last.raw("S"), last.raw("R")), ("L/ro", "L/hu(N)"))
        self.assertEqual(h.events[-1].describe(), "reorder 81234 unknown number 89999")
        h.gateway.received.clear()
        h.gateway.notify(A, "L/hu")
        h.pump()
        [rqnt] = h.gateway.received
        self.assertEqual((rqnt.raw("R"), rqnt.raw("S")), ("L/hd(N)", ""))
        self.assertEqual(h.agent.lines[0].state, LineState.IDLE)

    def test_busy(self):
        """
        Dialling a line that is not idle (here the caller's own) gets busy
        tone and no connection.
        """
        h = Harness()
        h.register()
        h.dial(A, "81234")
        self.assertEqual(h.gateway.received[-1].raw("S"), "L/bz")
        self.assertEqual(h.gateway.commands("CRCX"), [])
        self.assertIn(EventKind.BUSY, h.kinds())

    def test_digitsInPieces(self):
        """
        Digits that only start a number re-arm digit collection without dial
        tone; the rest completes the number.
        """
        h = Harness(digitMap="(8xxxx|*xx)")
        h.register()
        h.dial(A, "81")
        rqnt = h.gateway.received[-1]
        self.assertEqual((rqnt.raw("S"), rqnt.raw("D")), (None, "(8xxxx|*xx)"))
        h.gateway.notify(A, "D/2,D/3,D/6")
        h.pump()
        self.assertEqual(h.gateway.received[-1].verb, "RQNT")
        self.assertEqual(len(h.gateway.commands("CRCX")), 2)

    def test_timerEndsDialling(self):
        """
        Digits ending with the timer event are routed as they are.
        """
        h = Harness()
        h.register()
        h.dial(A, "81T")
        self.assertEqual(h.gateway.received[-1].raw("S"), "L/ro")


class CallTests(SynchronousTestCase):
    """
    Set-up, answer and release of a call between two lines.
    """

    def test_setUp(self):
        """
        A complete number creates a recvonly connection on the caller, a
        sendrecv connection with the caller's SDP on the called line which
        rings and waits for off-hook, then gives the caller ringback.
        """
        h = Harness()
        h.register()
        h.dial(A, "81236")
        commands = h.gateway.received[1:]
        self.assertEqual([(c.verb, c.endpoint.split("@")[0]) for c in commands],
                         [("CRCX", A), ("CRCX", B), ("RQNT", A)])
        first, second, ringback = commands
        self.assertEqual((first.raw("M"), first.raw("L")), ("recvonly", "p:20, a:PCMU"))
        self.assertEqual(len(first.raw("C")), 24)
        self.assertEqual(first.sdp, ())
        self.assertEqual((second.raw("C"), second.raw("M")), (first.raw("C"), "sendrecv"))
        self.assertEqual((second.raw("S"), second.raw("R")), ("L/rg", "L/hd(N)"))
        self.assertEqual(second.sdp[0].mediaPort, 16386)
        self.assertEqual((ringback.raw("S"), ringback.raw("R")), ("L/rt", "L/hu(N)"))
        [call] = h.agent.calls
        self.assertEqual(call.state, CallState.RINGING)
        self.assertEqual((call.caller.state, call.called.state),
                         (LineState.RINGBACK, LineState.ALERTING))
        self.assertEqual(h.events[-1].describe(), "ringing 81234 81236 call 1")

    def test_answer(self):
        """
        The called line going off-hook modifies the caller's connection to
        sendrecv with the called side's SDP and re-arms both lines for
        on-hook; the call is connected.
        """
        h = Harness()
        h.register()
        h.dial(A, "81236")
        connected = h.agent.whenCallConnected("81236")
        h.gateway.received.clear()
        h.gateway.notify(B, "L/hd")
        h.pump()
        mdcx, *requests = h.gateway.received
        call = self.successResultOf(connected)
        self.assertEqual((mdcx.verb, mdcx.endpoint), ("MDCX", A + "@" + DOMAIN))
        self.assertEqual((mdcx.raw("C"), mdcx.raw("I"), mdcx.raw("M")),
                         (call.callId, call.connectionIds[A + "@" + DOMAIN], "sendrecv"))
        self.assertEqual(mdcx.sdp, (call.sdp[B + "@" + DOMAIN],))
        self.assertEqual(sorted((r.verb, r.endpoint.split("@")[0], r.raw("R")) for r in requests),
                         [("RQNT", A, "L/hu(N)"), ("RQNT", B, "L/hu(N)")])
        self.assertEqual(call.state, CallState.CONNECTED)
        self.assertEqual([l.state for l in h.agent.lines], [LineState.CONNECTED] * 2)

    def test_hangUp(self):
        """
        A hang-up deletes both connections (250 with statistics accepted),
        re-arms the hung-up line for off-hook and the other for on-hook,
        then for off-hook once it hangs up too.
        """
        h = Harness()
        h.connect()
        released = h.agent.whenCallReleased()
        h.gateway.notify(A, "L/hu")
        h.pump()
        call = self.successResultOf(released)
        deletes = h.gateway.commands("DLCX")
        self.assertEqual(sorted(c.endpoint.split("@")[0] for c in deletes), [A, B])
        self.assertTrue(all(c.raw("C") == call.callId and c.raw("I") for c in deletes))
        self.assertEqual(h.gateway.connections, {})
        self.assertEqual(call.statistics, {A + "@" + DOMAIN: STATS, B + "@" + DOMAIN: STATS})
        self.assertEqual((call.state, call.reason), (CallState.RELEASED, "81234 hung up"))
        self.assertEqual(h.gateway.commands("RQNT", A)[-1].raw("R"), "L/hd(N)")
        self.assertEqual(h.gateway.commands("RQNT", B)[-1].raw("R"), "L/hu(N)")
        self.assertEqual([l.state for l in h.agent.lines], [LineState.IDLE, LineState.CLEARING])
        h.gateway.notify(B, "L/hu")
        h.pump()
        self.assertEqual(h.gateway.commands("RQNT", B)[-1].raw("R"), "L/hd(N)")
        self.assertEqual([l.state for l in h.agent.lines], [LineState.IDLE] * 2)
        self.assertEqual(h.agent.counters.timeouts, 0)

    def test_callerAbandons(self):
        """
        The caller hanging up while the called line rings deletes both
        connections and stops the ringing (empty S:) with off-hook armed.
        """
        h = Harness()
        h.register()
        h.dial(A, "81236")
        h.gateway.received.clear()
        h.gateway.notify(A, "L/hu")
        h.pump()
        self.assertEqual(len(h.gateway.commands("DLCX")), 2)
        last = h.gateway.commands("RQNT", B)[-1]
        self.assertEqual((last.raw("R"), last.raw("S")), ("L/hd(N)", ""))
        self.assertEqual([l.state for l in h.agent.lines], [LineState.IDLE] * 2)

    def test_hangUpDuringSetUp(self):
        """
        A caller who hangs up before the first CRCX is answered gets the
        connection deleted as soon as it exists; the called line is never
        rung.
        """
        h = Harness()
        h.register()
        h.gateway.notify(A, "L/hd")
        h.pump()
        h.gateway.notify(A, "D/81236")
        h.gateway.notify(A, "L/hu")
        h.pump()
        self.assertEqual([c.endpoint.split("@")[0] for c in h.gateway.commands("CRCX")], [A])
        self.assertEqual([c.endpoint.split("@")[0] for c in h.gateway.commands("DLCX")], [A])
        self.assertEqual(h.gateway.connections, {})
        self.assertEqual(h.agent.calls[0].state, CallState.RELEASED)
        self.assertEqual([l.state for l in h.agent.lines], [LineState.IDLE] * 2)

    def test_offHookBeforeRinging(self):
        """
        An off-hook from the called line before its connection exists is
        ignored: the call goes on to ring and nothing is modified.
        """
        h = Harness()
        h.register()
        h.gateway.notify(A, "L/hd")
        h.pump()
        h.gateway.notify(A, "D/81236")
        h.gateway.notify(B, "L/hd")
        h.pump()
        self.assertEqual(h.gateway.commands("MDCX"), [])
        self.assertEqual(h.agent.calls[0].state, CallState.RINGING)

    def test_modifyRefused(self):
        """
        When the caller's MDCX fails on answer the call fails: both
        connections are deleted, the caller hears reorder and the answering
        line waits for on-hook.
        """
        h = Harness()
        h.register()
        h.dial(A, "81236")
        h.gateway.reject[("MDCX", A)] = 400
        h.gateway.notify(B, "L/hd")
        h.pump()
        self.assertEqual(h.agent.calls[0].state, CallState.FAILED)
        self.assertEqual(len(h.gateway.commands("DLCX")), 2)
        self.assertEqual(h.gateway.commands("RQNT", A)[-1].raw("S"), "L/ro")
        self.assertEqual(h.gateway.commands("RQNT", B)[-1].raw("R"), "L/hu(N)")
        self.assertEqual([l.state for l in h.agent.lines], [LineState.CLEARING] * 2)

    def test_stopWithPendingCommands(self):
        """
        Stopping the agent while commands are outstanding fails them quietly
        and leaves no timer of the agent behind.
        """
        h = Harness()
        h.register()
        notifying = h.gateway.notify(A, "L/hd")
        receiver, data, source = h.queue.pop(0)
        receiver.datagramReceived(data, source)
        h.dropping = True
        h.clock.advance(0)
        self.assertEqual(h.agentSide.pending, 1)
        self.successResultOf(h.agent.stop())
        h.dropping = False
        h.pump()
        self.assertEqual(self.successResultOf(notifying).code, 200)
        h.clock.advance(60)
        self.assertEqual((h.agentSide.pending, h.agent.counters.timeouts), (0, 0))
        self.assertEqual(h.agent.lines[0].state, LineState.DIALING)

    def test_calledRefuses(self):
        """
        When the called line's CRCX fails the caller's connection is deleted,
        the caller hears reorder and the call failed.
        """
        h = Harness()
        h.register()
        h.gateway.reject[("CRCX", B)] = 502
        failed = h.agent.whenCallReleased()
        h.dial(A, "81236")
        call = self.successResultOf(failed)
        self.assertEqual(call.state, CallState.FAILED)
        self.assertIn("502", call.reason)
        self.assertEqual([c.endpoint.split("@")[0] for c in h.gateway.commands("DLCX")], [A])
        self.assertEqual(h.gateway.commands("RQNT", A)[-1].raw("S"), "L/ro")
        self.assertEqual(h.agent.lines[1].state, LineState.IDLE)

    def test_gatewayDeletes(self):
        """
        A DLCX from the gateway is answered 200 and releases the call: the
        other connection is deleted and both off-hook lines wait for on-hook.
        """
        h = Harness()
        h.connect()
        connection = h.agent.calls[0].connectionIds[A + "@" + DOMAIN]
        answer = h.gateway.send("DLCX", A, [("C", h.agent.calls[0].callId),
                                            ("I", connection), ("E", "902 lost")])
        h.pump()
        self.assertEqual(self.successResultOf(answer).code, 200)
        self.assertEqual([c.endpoint.split("@")[0] for c in h.gateway.commands("DLCX")], [B])
        self.assertEqual([l.state for l in h.agent.lines], [LineState.CLEARING] * 2)

    def test_restartDropsCalls(self):
        """
        A restart RSIP forgets the calls on the restarted endpoints and arms
        them again.
        """
        h = Harness()
        h.connect()
        h.gateway.rsip()
        h.pump()
        self.assertEqual(h.agent.calls[0].state, CallState.RELEASED)
        self.assertEqual(h.agent.calls[0].reason, "gateway restarted")
        self.assertEqual(h.gateway.commands("DLCX"), [])
        self.assertEqual([l.state for l in h.agent.lines], [LineState.IDLE] * 2)

    def test_timeouts(self):
        """
        Commands the gateway never answers time out after the retransmission
        schedule and are counted; the agent keeps running.
        """
        h = Harness()
        h.register()
        notifying = h.gateway.notify(A, "L/hd")
        h.dropping = True
        h.pump()
        h.clock.advance(0)
        h.clock.pump([1.0] * 30)
        self.failureResultOf(notifying, MgcpTimeout)
        self.assertEqual(h.agent.counters.timeouts, 1)
        self.assertEqual(h.agent.counters.commandsSent, h.agent.counters.responsesReceived + 1)


class IgnoredEndpointTests(SynchronousTestCase):
    """
    An agent told to ignore an endpoint drops the gateway's commands for
    it unanswered (as Asterisk does for an endpoint it has no
    configuration for), and only those.
    """

    def datagram(self, verb: str, endpoint: str) -> bytes:
        return encodeMessage(Command(verb, 7, endpoint + "@" + DOMAIN, "MGCP 0.1",
                                     parameters=[("X", "1"), ("O", "L/hd")]))

    def test_ignores(self):
        """
        Commands for the ignored endpoint (named by voice port or endpoint
        name, any case) are ignored; other endpoints, wildcards,
        responses and undecodable datagrams are not.
        """
        for name in ("1/0/1", "AALN/s1/su0/1"):
            agent = CallAgent(Clock(), DOMAIN, LINES, debug=DebugSwitches(), ignored=[name])
            self.assertTrue(agent.ignores(self.datagram("NTFY", "aaln/S1/SU0/1")))
            self.assertTrue(agent.ignores(self.datagram("RSIP", "aaln/s1/su0/1")))
            self.assertFalse(agent.ignores(self.datagram("NTFY", "aaln/S1/SU0/0")))
            self.assertFalse(agent.ignores(self.datagram("RSIP", "*")))
            self.assertFalse(agent.ignores(b"200 7 OK\r\n"))
            self.assertFalse(agent.ignores(b"\xff garbage"))
        self.assertFalse(CallAgent(Clock(), DOMAIN, LINES, debug=DebugSwitches()).ignores(
            self.datagram("NTFY", "aaln/S1/SU0/1")))

    def test_badName(self):
        """An ignored endpoint that is neither an endpoint nor a voice port is refused."""
        self.assertRaises(ValueError, CallAgent, Clock(), DOMAIN, LINES, debug=DebugSwitches(),
                          ignored=["1/x/2"])


class ParserTests(SynchronousTestCase):
    """
    The C{srst-ccm mgcp agent} command line.
    """

    def test_arguments(self):
        """
        Listen and gateway addresses, lines, digit map and duration are
        parsed; the listen address defaults to 127.0.0.1:2727.
        """
        args = ccm.makeParser().parse_args([
            "mgcp", "agent", "--gateway", "127.0.0.1:2427", "--domain", DOMAIN,
            "--line", "81234=aaln/S1/SU0/0", "--line", "81236=1/0/1",
            "--digit-map", "(8xxxx)", "--duration", "2.5", "--no-audit",
            "--ignore-endpoint", "1/0/2", "--ignore-endpoint", "aaln/S1/SU0/3"])
        self.assertEqual(args.ignored, ["1/0/2", "aaln/S1/SU0/3"])
        self.assertEqual((args.listen, args.gateway), (CA, GW))
        self.assertEqual(args.lines, LINES)
        self.assertEqual((args.digitMap, args.duration, args.audit), ("(8xxxx)", 2.5, False))
        self.assertIs(args.func, ccm._mgcpAgent)

    def test_usageErrors(self):
        """
        A bad line, a bad address or a missing domain is a usage error.
        """
        parser = ccm.makeParser()
        for argv in (["--domain", DOMAIN, "--line", "81234"],
                     ["--domain", DOMAIN, "--line", "1=1/0/0", "--listen", "nowhere"],
                     ["--line", "1=1/0/0"]):
            self.patch(sys, "stderr", io.StringIO())
            error = self.assertRaises(SystemExit, parser.parse_args, ["mgcp", "agent"] + argv)
            self.assertEqual(error.code, 2, argv)

    def test_badConfiguration(self):
        """
        Duplicate lines are reported on stderr with exit code 2, before
        anything listens.
        """
        out, err = io.StringIO(), io.StringIO()
        d = ccm.run(Clock(), ["mgcp", "agent", "--domain", DOMAIN, "--line", "1=1/0/0",
                              "--line", "1=1/0/1"], out, err)
        self.assertEqual(self.successResultOf(d), ccm.EXIT_USAGE)
        self.assertIn("duplicate", err.getvalue())


class UDPGateway:
    """
    A L{FakeGateway} on a real UDP port.
    """

    def __init__(self, callAgent) -> None:
        self.protocol = MgcpTransactionProtocol(
            reactor, TransactionOwner(lambda c, p: self.fake.handle(c, p)), debugLog=mgcpDebugLog())
        self.fake = FakeGateway(reactor, self.protocol.transactions.datagramReceived,
                                callAgent=callAgent)
        self.fake.transactions = self.protocol.transactions
        self.port = reactor.listenUDP(0, self.protocol, interface="127.0.0.1")


class TriggerReactor(FakeUdpReactor):
    """
    A L{FakeUdpReactor} with the system event triggers of C{IReactorCore},
    recorded.

    @ivar triggers: trigger id -> C{(phase, eventType, fire)}.
    @ivar removed: the ids given to C{removeSystemEventTrigger}.
    """

    def __init__(self) -> None:
        super().__init__()
        self.triggers: dict = {}
        self.removed: list = []

    def addSystemEventTrigger(self, phase, eventType, callable, *args, **kwargs):
        triggerID = len(self.triggers) + len(self.removed) + 1
        self.triggers[triggerID] = (phase, eventType, lambda: callable(*args, **kwargs))
        return triggerID

    def removeSystemEventTrigger(self, triggerID) -> None:
        self.removed.append(triggerID)
        del self.triggers[triggerID]


class AgentCommandTests(SynchronousTestCase):
    """
    How C{srst-ccm mgcp agent} ends, on a reactor whose time and shutdown
    the test drives.
    """

    ARGUMENTS = ["mgcp", "agent", "--listen", "127.0.0.1:0", "--domain", DOMAIN, "--line", "81234=1/0/0"]

    def test_shutdown(self):
        """
        The reactor shutting down stops the agent (its socket closes, the
        summary is printed, exit 0) before the reactor stops; the trigger
        that fired is not removed.
        """
        r, out = TriggerReactor(), io.StringIO()
        finished = ccm.run(r, self.ARGUMENTS, out, io.StringIO())
        self.assertNoResult(finished)
        self.assertEqual(len(r.ports), 1)
        [(phase, eventType, fire)] = r.triggers.values()
        self.assertEqual((phase, eventType), ("before", "shutdown"))
        self.assertIs(fire(), finished)
        self.assertEqual(self.successResultOf(finished), ccm.EXIT_OK)
        self.assertEqual((r.ports, r.removed), ({}, []))
        self.assertTrue(out.getvalue().splitlines()[-1].startswith("stopped: 0 calls"))

    def test_duration(self):
        """
        With C{--duration} the agent stops after that many seconds and
        removes its shutdown trigger.
        """
        r = TriggerReactor()
        finished = ccm.run(r, self.ARGUMENTS + ["--duration", "5"], io.StringIO(), io.StringIO())
        r.advance(4.9)
        self.assertNoResult(finished)
        r.advance(0.1)
        self.assertEqual(self.successResultOf(finished), ccm.EXIT_OK)
        self.assertEqual((r.ports, r.triggers, r.removed, r.getDelayedCalls()), ({}, {}, [1], []))


class UDPTests(TestCase):
    """
    The call agent on real UDP sockets on 127.0.0.1, and C{srst-ccm mgcp
    agent} run in-process.
    """

    def startAgent(self, **options) -> CallAgent:
        agent = CallAgent(reactor, DOMAIN, LINES, listenAddress=("127.0.0.1", 0), debug=DebugSwitches(),
                          **options)
        agent.start()
        self.addCleanup(agent.stop)
        return agent

    def startGateway(self, callAgent) -> FakeGateway:
        gateway = UDPGateway(callAgent)
        self.addCleanup(gateway.port.stopListening)
        return gateway.fake

    @bounded
    def test_call(self):
        """
        Over UDP, with the gateway's address learned from its RSIP: the
        agent registers the lines, connects a call and deletes both
        connections when the caller hangs up.
        """
        agent = self.startAgent()
        gateway = self.startGateway(agent.listenAddress)
        registered = agent.whenRegistered()
        yield gateway.rsip()
        yield registered
        ringing = agent.whenEvent(EventKind.RINGING)
        yield gateway.notify(A, "L/hd")
        yield gateway.notify(A, "D/81236")
        yield ringing
        connected = agent.whenCallConnected()
        yield gateway.notify(B, "L/hd")
        call = yield connected
        self.assertEqual(call.called.number, "81236")
        released = agent.whenCallReleased()
        deleted = gateway.whenReceived(lambda: len(gateway.commands("DLCX")) == 2)
        yield gateway.notify(A, "L/hu")
        yield released
        yield deleted
        self.assertEqual(len(gateway.commands("DLCX")), 2)
        self.assertEqual(gateway.connections, {})
        self.assertEqual(agent.counters.timeouts, 0)

    @bounded
    def test_stopStart(self):
        """
        C{stop} releases the UDP port (another socket can bind it) and
        C{start} binds the same port again.
        """
        agent = self.startAgent()
        host, port = agent.listenAddress
        yield agent.stop()
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((host, port))
        finally:
            probe.close()
        agent.start()
        self.assertEqual(agent.listenAddress, (host, port))
        gateway = self.startGateway(agent.listenAddress)
        answer = yield gateway.rsip()
        self.assertEqual(answer.code, 200)

    @bounded
    def test_run(self):
        """
        C{srst-ccm mgcp agent} prints where it listens, one line per event
        and a summary when C{--duration} ends, and exits 0.
        """
        out, err = io.StringIO(), io.StringIO()
        finished = ccm.run(reactor, ["mgcp", "agent", "--listen", "127.0.0.1:0",
                                     "--domain", DOMAIN, "--line", "81234=1/0/0",
                                     "--duration", "0.5"], out, err)
        first = out.getvalue().splitlines()[0]
        self.assertTrue(first.startswith("listening on 127.0.0.1:"), first)
        port = int(first.split()[2].rsplit(":", 1)[1])
        gateway = self.startGateway(("127.0.0.1", port))
        answer = yield gateway.rsip()
        self.assertEqual(answer.code, 200)
        code = yield finished
        self.assertEqual((code, err.getvalue()), (ccm.EXIT_OK, ""))
        lines = out.getvalue().splitlines()
        self.assertIn("restart 81234 *@" + DOMAIN, lines)
        self.assertIn("registered 81234 1 of 1 endpoints armed", lines)
        self.assertTrue(lines[-1].startswith("stopped: 0 calls, 2 commands sent"), lines[-1])

    @bounded
    def test_cannotListen(self):
        """
        A port already in use makes C{srst-ccm mgcp agent} exit 3.
        """
        agent = self.startAgent()
        out, err = io.StringIO(), io.StringIO()
        code = yield ccm.run(reactor, ["mgcp", "agent", "--listen",
                                       "127.0.0.1:%d" % (agent.listenAddress[1],),
                                       "--domain", DOMAIN, "--line", "1=1/0/0"], out, err)
        self.assertEqual(code, ccm.EXIT_CONNECT)
        self.assertIn("cannot listen", err.getvalue())
