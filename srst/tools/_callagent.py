# -*- test-case-name: tests.test_callagent -*-
"""
An MGCP call agent that behaves like CallManager towards an IOS gateway
(mgcp.md sections 5.2, 6, 7 and the worked examples of section 10), for
C{srst-ccm mgcp agent}, tests and demos.

L{CallAgent} answers RSIP and NTFY, audits and arms the configured
endpoints after a restart, gives dial tone, collects digits with a digit
map, and connects two analog lines of the gateway to each other with
CRCX/CRCX/MDCX; a hang-up deletes both connections.  Lines are small state
machines (L{LineState}); calls are L{Call} records (L{CallState}).  Every
step is reported as a L{CallAgentEvent} to C{agent.observers} and to
Deferreds from L{CallAgent.whenEvent} and friends.

Messages go through L{srst.mgcp.transactions} (retransmission, duplicate
detection), whose owner the agent is; L{CallAgent.start} listens on UDP
with an injected reactor, L{CallAgent.attach} wires the agent to any
C{send} callable for in-memory tests.  What a command from the gateway
asks the agent to do (arm the lines after an RSIP, answer an off-hook) is
queued and done once the command is answered, so the gateway sees its
answer first, as from CallManager.

An agent made with C{ignored} endpoints never answers a command for one of
them (the datagram is dropped before the transaction layer), as Asterisk's
C{chan_mgcp} does for an endpoint it has no configuration for: the
gateway's retransmissions run out and it runs the disconnected procedure
for that endpoint.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Optional, Union

from twisted.internet.defer import (
    Deferred,
    DeferredList,
    fail,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.debug import DebugSwitches
from srst.media.udpport import UDPReactor
from srst.mgcp.constants import ResponseCode, RestartMethod, responseText
from srst.mgcp.messages import (
    Command,
    MatchResult,
    MgcpDecodeError,
    ObservedEvent,
    Response,
    SessionDescription,
    decodeMessage,
    parseDigitMap,
    splitDatagram,
)
from srst.mgcp.transactions import (
    ITransactionOwner,
    MgcpTimeout,
    MgcpTransactionProtocol,
    MgcpTransactions,
    MgcpTransactionsClosed,
    Peer,
    RetransmissionPolicy,
)
from srst.tools._callagenttypes import (
    DIGIT_EVENTS,
    LOCAL_OPTIONS,
    Call,
    CallAgentCounters,
    CallAgentEvent,
    CallState,
    CommandRejected,
    EventKind,
    EventSource,
    Line,
    LineSpec,
    LineSpecError,
    LineState,
    defaultDigitMap,
    _Abandoned,
    parseLineSpec,
    voicePortEndpoint,
)

__all__ = [
    "CallAgent", "Call", "CallAgentCounters", "CallAgentEvent", "CallState",
    "CommandRejected", "EventKind", "Line", "LineSpec", "LineSpecError",
    "LineState", "defaultDigitMap", "parseLineSpec", "voicePortEndpoint",
    "DIGIT_EVENTS", "LOCAL_OPTIONS", "DEBUG_NAMESPACE",
]


DEBUG_NAMESPACE = "srst.debug.mgcp"
"""The C{debug mgcp} category the agent's debug events are in."""


def _ok(code: int) -> Response:
    return Response(code, 1, responseText(code))


def _localName(endpoint: str) -> str:
    """
    @param endpoint: C{aaln/S1/SU0/0} or voice port C{1/0/0}.
    @return: the local endpoint name.
    """
    if "/" in endpoint and not endpoint.lower().startswith("aaln/"):
        return voicePortEndpoint(endpoint)
    return endpoint


class _AgentProtocol(MgcpTransactionProtocol):
    """
    The agent's datagram protocol: datagrams with a command for an ignored
    endpoint are dropped (L{CallAgent.ignores}), the others go to the
    transaction layer.
    """

    def __init__(self, agent: "CallAgent", *args: object, **kwargs: object) -> None:
        MgcpTransactionProtocol.__init__(self, *args, **kwargs)  # type: ignore[arg-type]
        self._agent = agent

    def datagramReceived(self, datagram: bytes, addr: Peer) -> None:
        """Hand the datagram to the transaction layer unless the agent ignores it."""
        if not self._agent.ignores(datagram):
            MgcpTransactionProtocol.datagramReceived(self, datagram, addr)


@implementer(ITransactionOwner)
class CallAgent(EventSource):
    """
    A CallManager-like MGCP call agent for one gateway.

    @ivar lines: the L{Line}s, in configuration order.
    @ivar calls: every L{Call}, oldest first.
    @ivar counters: the L{CallAgentCounters}.
    @ivar observers: callables taking each L{CallAgentEvent}.
    @ivar gateway: where commands go; learned from the gateway's commands
        when not configured.
    @ivar registered: whether the last restart finished arming the lines.
    @ivar debugLog: the C{debug mgcp} logger (events the agent ignores, and
        its transaction layer's lines).
    @ivar ignored: the local endpoint names (lower case) whose commands
        are never answered.
    """

    log = Logger()

    def __init__(self, reactor: UDPReactor, domain: str, lines: Iterable[LineSpec],
                 gateway: Optional[Peer] = None,
                 listenAddress: tuple[str, int] = ("127.0.0.1", 2727),
                 digitMap: Optional[str] = None, audit: bool = True,
                 version: str = "MGCP 0.1",
                 policy: RetransmissionPolicy = RetransmissionPolicy(),
                 *, debug: DebugSwitches, rearmAfterKeepalive: Optional[str] = None,
                 ignored: Iterable[str] = ()) -> None:
        """
        @param reactor: the clock, and UDP for L{start} (L{srst.media.udpport.UDPReactor}).
        @param domain: the gateway's domain name, e.g. C{"branch-router"}.
        @param lines: the L{LineSpec}s; numbers and endpoints are unique.
        @param gateway: the gateway's C{(host, port)}, or C{None} to use
            the source of its commands.
        @param listenAddress: C{(interface, port)} for L{start}.
        @param digitMap: the C{D:} sent with dial tone; by default
            L{defaultDigitMap} of the numbers.
        @param audit: send C{AUEP F: A} before arming each line.
        @param version: the protocol version of our commands.
        @param policy: the retransmission timers.
        @param debug: the debug switches its C{debug mgcp} lines go
            through (C{srst-ccm} makes its own).
        @param rearmAfterKeepalive: requested events, e.g. C{"L/hd(N)"}:
            answer each keepalive with C{RQNT *@<domain>} asking for them
            on every line, calls or not, as Asterisk's C{chan_mgcp} does
            (the gateway's persistent events must then carry on-hook); or
            C{None} (the default) for no such request.
        @param ignored: endpoints (C{aaln/S1/SU0/0} or voice port
            C{1/0/0}) whose commands are never answered.
        @raise ValueError: for duplicate numbers or endpoints, or a bad
            digit map.
        """
        self.reactor = reactor
        self.debugLog = debug.logger(DEBUG_NAMESPACE)
        self.domain = domain
        self.gateway = gateway
        self.listenAddress = listenAddress
        self.audit = audit
        self.rearmAfterKeepalive = rearmAfterKeepalive
        self.version = version
        self.policy = policy
        if not re.match(r"MGCP [0-9]+\.[0-9]+\Z", version):
            raise ValueError("bad MGCP version %r" % (version,))
        self.lines: list[Line] = [
            Line(s.number, s.localName, "%s@%s" % (s.localName, domain))
            for s in lines]
        self._byNumber = {line.number: line for line in self.lines}
        self._byName = {line.localName.lower(): line for line in self.lines}
        if (len(self._byNumber) != len(self.lines)
                or len(self._byName) != len(self.lines)):
            raise ValueError("duplicate number or endpoint in lines")
        self.ignored = frozenset(_localName(name).lower() for name in ignored)
        self.digitMapText = digitMap or defaultDigitMap(self._byNumber)
        try:
            self.digitMap = parseDigitMap(self.digitMapText)
        except MgcpDecodeError as error:
            raise ValueError("bad digit map %r: %s"
                             % (self.digitMapText, error.reason)) from error
        EventSource.__init__(self)
        self.calls: list[Call] = []
        self.counters = CallAgentCounters()
        self.registered = False
        self._learnGateway = gateway is None
        self._transactions: Optional[MgcpTransactions] = None
        self._port: Optional[IListeningPort] = None
        self._answering: Optional[tuple[Peer, int]] = None
        self._afterAnswer: dict[tuple[Peer, int], list[Callable[[], object]]] = {}
        self._generation = 0
        self._requests = 0

    # -- wiring -----------------------------------------------------------

    def attach(self, send: Callable[[bytes, Peer], None]) -> MgcpTransactions:
        """
        Use a transaction layer writing through C{send} (in-memory tests);
        feed the gateway's datagrams to the returned object.

        @param send: C{send(data, peer)}.
        @return: the L{MgcpTransactions}.
        """
        self._transactions = MgcpTransactions(self.reactor, send, self, self.policy,
                                              debugLog=self.debugLog)
        return self._transactions

    def start(self) -> IListeningPort:
        """
        Listen on C{listenAddress}; after the first start a port of 0 is
        replaced by the port obtained, so a restart binds the same port.

        @return: the listening port.
        @raise twisted.internet.error.CannotListenError: if the port is
            taken.
        """
        if self._port is not None:
            return self._port
        protocol = _AgentProtocol(self, self.reactor, self, self.policy, debugLog=self.debugLog)
        interface, port = self.listenAddress
        self._port = self.reactor.listenUDP(port, protocol,
                                            interface=interface)
        self._transactions = protocol.transactions
        self.listenAddress = (interface, self._port.getHost().port)
        return self._port

    def stop(self) -> Deferred[None]:
        """
        Stop listening (a WAN failure as seen by the gateway): pending
        commands fail quietly, timers are cancelled, line states are kept.

        @return: a L{Deferred} firing when the port is closed.
        """
        self._afterAnswer.clear()
        port, self._port = self._port, None
        transactions, self._transactions = self._transactions, None
        if transactions is not None:
            transactions.close()
        if port is None:
            return succeed(None)
        return maybeDeferred(port.stopListening)

    def ignores(self, datagram: bytes) -> bool:
        """
        @param datagram: a datagram from the gateway.
        @return: whether it carries a command for an L{ignored} endpoint
            (a datagram that does not decode is not ignored: the
            transaction layer answers it).
        """
        if not self.ignored:
            return False
        for data in splitDatagram(datagram):
            try:
                message = decodeMessage(data)
            except MgcpDecodeError:
                continue
            if isinstance(message, Command):
                local = message.endpoint.rpartition("@")[0].lower()
                if local in self.ignored:
                    self.debugLog.debug("MGCP call agent: {verb} {transactionId} for {endpoint} not answered "
                                        "(ignored endpoint)", verb=message.verb,
                                        transactionId=message.transactionId, endpoint=message.endpoint)
                    return True
        return False

    def whenRegistered(self) -> Deferred[None]:
        """
        @return: a L{Deferred} firing with C{None} at once if the lines are
            armed, else when the next restart finishes arming them.
        """
        if self.registered:
            return succeed(None)
        return self.whenEvent(EventKind.REGISTERED).addCallback(
            lambda event: None)

    # -- sending ----------------------------------------------------------

    def _onceAnswered(self, function: Callable[..., object], *args: object) -> None:
        """
        Do C{function(*args)} once the command being executed is answered
        (L{commandAnswered}).
        """
        assert self._answering is not None, "only a command being executed is answered"
        self._afterAnswer.setdefault(self._answering, []).append(lambda: function(*args))

    def _newRequestId(self, line: Line) -> str:
        self._requests += 1
        line.requestId = "%X" % (self._requests,)
        return line.requestId

    def _send(self, verb: str, line: Line, parameters: list,
              sdp: tuple[SessionDescription, ...] = ()) -> Deferred[Response]:
        if self._transactions is None or self.gateway is None:
            return fail(MgcpTransactionsClosed())
        command = Command(verb, 1, line.endpoint, self.version,
                          parameters=parameters, sdp=sdp)
        self.counters.commandsSent += 1
        sending = self._transactions.sendCommand(command, self.gateway)

        def answered(response: Response) -> Response:
            self.counters.responsesReceived += 1
            if response.code >= 300:
                self.counters.errorResponses += 1
                raise CommandRejected(verb, line.endpoint, response.code)
            return response

        def timedOut(reason: Failure) -> Failure:
            if reason.check(MgcpTimeout):
                self.counters.timeouts += 1
            return reason

        return sending.addCallbacks(answered, timedOut)

    def auditEndpoint(self, localName: str) -> Deferred[Response]:
        """
        Send C{AUEP <localName>@<domain>} (no C{F:}): with C{*} the gateway
        names its endpoints in C{Z:} lines.

        @param localName: e.g. C{"*"} or C{"aaln/S1/SU0/2"}.
        @return: fires with the final L{Response}, whatever its code (an
            error answer is the result, not a failure); fails with
            L{MgcpTimeout} or L{MgcpTransactionsClosed}.
        """
        if self._transactions is None or self.gateway is None:
            return fail(MgcpTransactionsClosed())
        command = Command("AUEP", 1, "%s@%s" % (localName, self.domain), self.version)
        self.counters.commandsSent += 1

        def answered(response: Response) -> Response:
            self.counters.responsesReceived += 1
            if response.code >= 400:
                self.counters.errorResponses += 1
            return response

        return self._transactions.sendCommand(command, self.gateway).addCallback(answered)

    def _request(self, line: Line, events: str, signals: Optional[str] = None,
                 digitMap: bool = False) -> Deferred[Response]:
        parameters = [("X", self._newRequestId(line)), ("R", events)]
        if signals is not None:
            parameters.append(("S", signals))
        if digitMap:
            parameters.append(("D", self.digitMapText))
        parameters.append(("Q", "process,loop"))
        return self._send("RQNT", line, parameters)

    def _rearmAll(self, events: str) -> None:
        """
        Send C{RQNT *@<domain>} with C{R: events} (after a keepalive, as
        Asterisk's C{chan_mgcp} does): the gateway replaces every line's
        requested events, those of lines in a call included.
        """
        if self._transactions is None or self.gateway is None:
            return
        self._requests += 1
        command = Command("RQNT", 1, "*@" + self.domain, self.version,
                          parameters=[("X", "%X" % (self._requests,)), ("R", events)])
        self.counters.commandsSent += 1
        self._transactions.sendCommand(command, self.gateway).addErrback(
            lambda reason: self.log.warn("MGCP call agent: RQNT *@{domain} failed: {error}",
                                         domain=self.domain, error=reason.getErrorMessage()))

    def _logFailure(self, reason: Failure, what: str, line: Line) -> None:
        if reason.check(MgcpTransactionsClosed):
            return None
        if reason.check(CommandRejected, MgcpTimeout):
            self.log.warn("MGCP call agent: {what} on {endpoint} failed: "
                          "{error}", what=what, endpoint=line.endpoint,
                          error=str(reason.value))
            return None
        self.log.failure("MGCP call agent: {what} on {endpoint} failed",
                         reason, what=what, endpoint=line.endpoint)
        return None

    def _arm(self, line: Line, state: LineState = LineState.IDLE,
             events: str = "L/hd(N)", signals: Optional[str] = "") -> None:
        line.state = LineState.OUT_OF_SERVICE if line.outOfService else state
        line.digits = ""
        self._request(line, events, signals).addErrback(
            self._logFailure, "RQNT " + events, line)

    # -- ITransactionOwner -------------------------------------------------

    def messageHandled(self, message: Union[Command, Response], peer: Peer) -> None:
        """
        The transaction layer is done with a message (nothing to do: what a
        command asks for waits for its answer, L{commandAnswered}).
        """

    def commandAnswered(self, transactionId: int, peer: Peer) -> None:
        """
        A command from the gateway is answered: do what it asked for.  A
        failure there is logged; the rest still runs.
        """
        for function in self._afterAnswer.pop((peer, transactionId), ()):
            with self.log.failuresHandled("while doing what MGCP transaction {transactionId} asked for",
                                          transactionId=transactionId):
                function()

    def responseSent(self, code: int, transactionId: int, peer: Peer) -> None:
        """
        A response went to the gateway (nothing to count).
        """

    def commandReceived(self, command: Command, peer: Peer) -> Response:
        """
        Execute a command from the gateway (see L{ITransactionOwner}):
        RSIP, NTFY and DLCX; anything else gets 504.  What it asks for is
        done once it is answered.

        @param command: the command.
        @param peer: its source address.
        @return: the response.
        """
        self._answering = (peer, command.transactionId)
        try:
            return self._execute(command, peer)
        finally:
            self._answering = None

    def _execute(self, command: Command, peer: Peer) -> Response:
        self.counters.commandsReceived += 1
        if self._learnGateway:
            self.gateway = peer
        local, _, domain = command.endpoint.rpartition("@")
        if domain.lower() != self.domain.lower():
            self.log.warn("MGCP call agent: {verb} for unknown domain "
                          "{endpoint}", verb=command.verb,
                          endpoint=command.endpoint)
            return _ok(ResponseCode.UNKNOWN_ENDPOINT)
        local = local.lower()
        if "*" in local or "$" in local:
            prefix = local.split("*")[0].split("$")[0]
            lines = [l for l in self.lines
                     if l.localName.lower().startswith(prefix)]
        else:
            lines = [self._byName[local]] if local in self._byName else []
        if command.verb == "RSIP" and lines:
            return self._restartInProgress(command, lines)
        if command.verb == "NTFY":
            if not command.get("O"):
                self.counters.keepalives += 1
                if self.rearmAfterKeepalive is not None:
                    self._onceAnswered(self._rearmAll, self.rearmAfterKeepalive)
                return _ok(ResponseCode.OK)
            if len(lines) == 1:
                self.counters.notifies += 1
                self._onceAnswered(self._observed, lines[0], command.get("O"))
                return _ok(ResponseCode.OK)
        if command.verb == "DLCX" and len(lines) == 1:
            self._onceAnswered(self._gatewayDeleted, lines[0], command)
            return _ok(ResponseCode.OK)
        if command.verb in ("RSIP", "NTFY", "DLCX"):
            return _ok(ResponseCode.UNKNOWN_ENDPOINT)
        return _ok(ResponseCode.UNKNOWN_COMMAND)

    def _restartInProgress(self, command: Command,
                           lines: list[Line]) -> Response:
        self.counters.restarts += 1
        method = command.get("RM", RestartMethod.RESTART)
        numbers = tuple(line.number for line in lines)
        if method is RestartMethod.RESTART:
            self._generation += 1
            self.registered = False
            for line in lines:
                line.outOfService = False
                self._dropCall(line, "gateway restarted")
                line.state = LineState.UNKNOWN
            self._emit(EventKind.RESTART, numbers, command.endpoint)
            self._onceAnswered(self._register, lines, self._generation)
        elif method is RestartMethod.DISCONNECTED:
            self._emit(EventKind.DISCONNECTED, numbers, command.endpoint)
            unknown = [line for line in lines
                       if line.state is LineState.UNKNOWN]
            if unknown:
                self._onceAnswered(self._register, unknown, self._generation)
        elif method is RestartMethod.CANCEL_GRACEFUL:
            for line in lines:
                line.outOfService = False
                if line.state is LineState.OUT_OF_SERVICE:
                    self._onceAnswered(self._arm, line)
        elif method in (RestartMethod.GRACEFUL, RestartMethod.FORCED):
            forced = method is RestartMethod.FORCED
            for line in lines:
                line.outOfService = True
                if forced:
                    self._dropCall(line, "endpoint taken out of service")
                if forced or line.call is None:
                    line.state = LineState.OUT_OF_SERVICE
            self._emit(EventKind.OUT_OF_SERVICE, numbers, str(method))
        return _ok(ResponseCode.OK)

    def _dropCall(self, line: Line, reason: str) -> None:
        call = line.call
        if call is not None and call.active:
            self._markReleased(call, reason)

    def _register(self, lines: list[Line], generation: int) -> None:
        arming = []
        for line in lines:
            if self.audit:
                d = self._send("AUEP", line, [("F", "A")])
                d.addCallback(self._audited, line)
            else:
                d = succeed(None)
            d.addCallback(lambda _, line=line: self._request(line,
                                                             "L/hd(N)"))
            d.addCallback(self._armed, line)
            d.addErrback(self._logFailure, "registration", line)
            arming.append(d)
        DeferredList(arming).addCallback(self._registered, lines, generation)

    def _audited(self, response: Response, line: Line) -> None:
        line.capabilities = tuple(p.value for p in response.parameters
                                  if p.name == "A")

    def _armed(self, response: Response, line: Line) -> None:
        if line.state is LineState.UNKNOWN:
            line.state = LineState.IDLE
        return None

    def _registered(self, results: object, lines: list[Line], generation: int) -> None:
        if generation != self._generation or self._transactions is None:
            return
        armed = [line for line in lines if line.state is not
                 LineState.UNKNOWN]
        self.registered = True
        self._emit(EventKind.REGISTERED, tuple(l.number for l in armed),
                   "%d of %d endpoints armed" % (len(armed), len(lines)))

    # -- line events ------------------------------------------------------

    def _observed(self, line: Line,
                  events: tuple[ObservedEvent, ...]) -> None:
        digits = ""
        for observed in events:
            name = observed.event.name
            package = (observed.event.package or "").upper()
            if package == "D" or (not package and len(name) == 1):
                digits += name.upper()
            elif name.lower() == "hd":
                self._offHook(line)
            elif name.lower() == "hu":
                self._onHook(line)
            else:
                self.debugLog.debug("MGCP call agent: ignored {event} on "
                                    "{endpoint}", event=observed.encode(),
                                    endpoint=line.endpoint)
        if digits:
            self._digits(line, digits)

    def _offHook(self, line: Line) -> None:
        if line.state in (LineState.IDLE, LineState.UNKNOWN):
            line.state = LineState.DIALING
            line.digits = ""
            self._emit(EventKind.OFF_HOOK, (line.number,), line.endpoint)
            self._request(line, DIGIT_EVENTS, "L/dl", True).addErrback(
                self._logFailure, "dial tone", line)
        elif (line.state is LineState.ALERTING and line.call is not None
              and line.call.state is CallState.RINGING):
            self._emit(EventKind.OFF_HOOK, (line.number,), line.endpoint)
            self._answer(line.call)

    def _onHook(self, line: Line) -> None:
        self._emit(EventKind.ON_HOOK, (line.number,), line.endpoint)
        call = line.call
        if call is not None and call.active:
            self._release(call, line, "%s hung up" % (line.number,))
        elif line.state is not LineState.ALERTING:
            self._arm(line)

    def _digits(self, line: Line, digits: str) -> None:
        if line.state is not LineState.DIALING:
            return
        timerExpired = "T" in digits
        line.digits += digits.replace("T", "")
        self._emit(EventKind.DIGITS, (line.number,), "dialed " + line.digits)
        called = self._byNumber.get(line.digits)
        if called is None and not timerExpired and self.digitMap.match(
                line.digits).result is MatchResult.PARTIAL:
            self._request(line, DIGIT_EVENTS, None, True).addErrback(
                self._logFailure, "digit collection", line)
            return
        if called is None:
            self._tone(line, EventKind.REORDER, "L/ro",
                       "unknown number %s" % (line.digits,))
        elif called is line or called.state is not LineState.IDLE:
            self._tone(line, EventKind.BUSY, "L/bz",
                       "%s is %s" % (called.number, called.state.value))
        else:
            self._setUp(line, called)

    def _tone(self, line: Line, kind: EventKind, signal: str,
              detail: str) -> None:
        self._emit(kind, (line.number,), detail)
        line.state = LineState.CLEARING
        self._request(line, "L/hu(N)", signal).addErrback(
            self._logFailure, "RQNT " + signal, line)

    # -- calls (mgcp.md 10): CRCX the caller recvonly, CRCX the called line
    # with the caller's SDP and ringing, ringback; on answer MDCX the caller
    # sendrecv; on hang-up (either side, or a gateway DLCX) DLCX both and
    # re-arm the lines.

    def _setUp(self, caller: Line, called: Line) -> None:
        index = len(self.calls) + 1
        call = Call(index, "A%023X" % (index,), caller, called,
                    started=self.reactor.seconds())
        self.calls.append(call)
        caller.call = called.call = call
        caller.state = LineState.RINGBACK
        called.state = LineState.ALERTING
        creating = self._send("CRCX", caller, [
            ("C", call.callId), ("L", LOCAL_OPTIONS), ("M", "recvonly"),
            ("X", self._newRequestId(caller)), ("R", "L/hu(N)"),
            ("Q", "process,loop")])
        creating.addCallback(self._created, call, caller)
        creating.addCallback(self._createCalled, call)
        creating.addCallback(self._ringing, call)
        creating.addErrback(self._setUpFailed, call)

    def _created(self, response: Response, call: Call, line: Line) -> None:
        connections = response.get("I") or ()
        if connections:
            call.connectionIds[line.endpoint] = connections[0]
        if response.sdp:
            call.sdp[line.endpoint] = response.sdp[0]
        if not call.active:
            self._deleteConnection(call, line)
            raise _Abandoned()
        if not connections or not response.sdp:
            raise CommandRejected("CRCX", line.endpoint,
                                  ResponseCode.PROTOCOL_ERROR)

    def _createCalled(self, _: object, call: Call) -> Deferred[Response]:
        called = call.called
        creating = self._send("CRCX", called, [
            ("C", call.callId), ("L", LOCAL_OPTIONS), ("M", "sendrecv"),
            ("X", self._newRequestId(called)), ("R", "L/hd(N)"),
            ("S", "L/rg"), ("Q", "process,loop")],
            sdp=(call.sdp[call.caller.endpoint],))
        return creating.addCallback(self._created, call, called)

    def _ringing(self, _, call: Call) -> None:
        call.state = CallState.RINGING
        self._emit(EventKind.RINGING, (call.caller.number, call.called.number),
                   "call %d" % (call.index,), call)
        self._request(call.caller, "L/hu(N)", "L/rt").addErrback(
            self._logFailure, "ringback", call.caller)

    def _setUpFailed(self, reason: Failure, call: Call) -> None:
        if reason.check(_Abandoned) or not call.active:
            return None
        self._logFailure(reason, "call set-up", call.caller)
        self._fail(call, "set-up failed: %s" % (reason.getErrorMessage(),))
        return None

    def _fail(self, call: Call, reason: str) -> None:
        call.state = CallState.FAILED
        call.ended = self.reactor.seconds()
        call.reason = reason
        caller, called = call.parties()
        caller.call = called.call = None
        self._emit(EventKind.FAILED, (caller.number, called.number),
                   "call %d %s" % (call.index, reason), call)
        for line in call.parties():
            self._deleteConnection(call, line)
        if self._transactions is None:
            return
        self._tone(caller, EventKind.REORDER, "L/ro", "call %d failed"
                   % (call.index,))
        if called.state is LineState.CONNECTED:
            self._arm(called, LineState.CLEARING, "L/hu(N)")
        else:
            self._arm(called)

    def _answer(self, call: Call) -> None:
        caller, called = call.parties()
        called.state = LineState.CONNECTED
        modifying = self._send("MDCX", caller, [
            ("C", call.callId), ("I", call.connectionIds[caller.endpoint]),
            ("M", "sendrecv")], sdp=(call.sdp[called.endpoint],))
        modifying.addCallback(self._connected, call)
        modifying.addErrback(self._setUpFailed, call)

    def _connected(self, _, call: Call) -> None:
        if not call.active:
            return
        call.state = CallState.CONNECTED
        call.connected = self.reactor.seconds()
        for line in call.parties():
            line.state = LineState.CONNECTED
            self._request(line, "L/hu(N)", "").addErrback(
                self._logFailure, "RQNT L/hu", line)
        self._emit(EventKind.CONNECTED, (call.caller.number,
                                         call.called.number),
                   "call %d" % (call.index,), call)

    def _markReleased(self, call: Call, reason: str) -> None:
        """The call is over: record why, free its lines, report it."""
        call.state = CallState.RELEASED
        call.ended = self.reactor.seconds()
        call.reason = reason
        for line in call.parties():
            line.call = None
        self._emit(EventKind.RELEASED, (call.caller.number,
                                        call.called.number),
                   "call %d (%s)" % (call.index, reason), call)

    def _release(self, call: Call, by: Optional[Line], reason: str) -> None:
        # The DLCXs go out before the release is reported: an observer that
        # acts on it (stops the agent, checks the wire) sees them sent.
        parties = call.parties()
        deletions = [self._deleteConnection(call, line) for line in parties]
        self._markReleased(call, reason)
        for line, deleting in zip(parties, deletions):
            if line is by or line.state is LineState.ALERTING:
                state, events = LineState.IDLE, "L/hd(N)"
            else:
                state, events = LineState.CLEARING, "L/hu(N)"
            line.state = state
            deleting.addCallback(lambda _, l=line, s=state, e=events:
                                 self._arm(l, s, e))

    def _deleteConnection(self, call: Call, line: Line) -> Deferred[None]:
        connection = call.connectionIds.pop(line.endpoint, None)
        if connection is None:
            return succeed(None)
        deleting = self._send("DLCX", line, [("C", call.callId),
                                             ("I", connection)])

        def deleted(response: Response) -> None:
            statistics = response.raw("P")
            if statistics is not None:
                call.statistics[line.endpoint] = statistics

        return deleting.addCallbacks(deleted, self._logFailure,
                                     errbackArgs=("DLCX", line))

    def _gatewayDeleted(self, line: Line, command: Command) -> None:
        call = line.call
        if call is None or not call.active:
            return
        if command.raw("P") is not None:
            call.statistics[line.endpoint] = command.raw("P")
        call.connectionIds.pop(line.endpoint, None)
        self._release(call, None, "gateway deleted the connection on %s"
                      % (line.number,))
