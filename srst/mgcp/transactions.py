# -*- test-case-name: tests.test_mgcp_transactions -*-
"""
The MGCP transaction layer (RFC 3435; mgcp.md sections 2.1, 4, 5.1 and 11).

L{MgcpTransactions} is a transport-free core: it takes a C{send(bytes,
addr)} callable, a clock and its owner (an L{ITransactionOwner}), and is fed
datagrams with L{MgcpTransactions.datagramReceived}.
L{MgcpTransactionProtocol} is the thin C{DatagramProtocol} around it.

The owner is told what happens: a new command is handed to
L{ITransactionOwner.commandReceived}, which returns a L{Response} or a
L{Deferred} firing with one; every well-formed message, once the layer has
dealt with it, to L{ITransactionOwner.messageHandled}; every response the
layer puts on the wire to L{ITransactionOwner.responseSent}, and the first
sending of a command's final response also to
L{ITransactionOwner.commandAnswered}.  Responses are
cached per C{(peer, transactionId)} for T-HIST: a duplicate command is
answered byte-identically (or with C{100} while still executing) and never
executed twice.  A final response sent after a provisional carries an empty
C{K:} and is retransmitted until the C{000} acknowledgement arrives.

Outgoing commands (L{MgcpTransactions.sendCommand}) get gateway transaction
ids, are retransmitted with exponential backoff and fail with
L{MgcpTimeout} after Max2 retransmissions or Tsmax; the L{Deferred} returned
to the sender carries the result.  L{MgcpTransactions.supersede} ends the
older commands still outstanding to a host at once (after an outage, once the
call agent answers a later one, mgcp.md 5.3): their retransmission stops, their
L{Deferred}s fail with L{MgcpSuperseded}, and a late answer to one is
ignored like any repeated answer.  L{MgcpTransactions.answersReceived}
takes a datagram from a peer that may answer but not command (the owner's
source validation): only when it holds nothing but responses to commands
sent to that host and port.  Choices made here: a response (a repeated one too) is matched
to our command by transaction id and must come from the address (host and
port) the command went to; anything else is counted as unmatched; a final
response asking for an acknowledgement (empty C{K:}) is acknowledged at
once with a C{000} rather than with C{K:} on the next command;
retransmission timers have no random jitter, so the schedule is exactly
that of mgcp.md 10.4.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Optional, Union

import attrs
from attrs import define, frozen
from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface

from srst.lograte import LogLimiter
from srst.mgcp.config import MgcpTimers
from srst.mgcp.constants import MAX_TRANSACTION_ID, ResponseCode, responseText
from srst.mgcp.messages import (
    Command,
    MgcpDecodeError,
    Parameter,
    Response,
    ResponseAck,
    decodeMessage,
    encodeMessage,
    errorResponse,
    splitDatagram,
)

__all__ = [
    "ITransactionOwner", "MgcpSuperseded", "MgcpTimeout", "MgcpTransactionsClosed", "RetransmissionPolicy",
    "TransactionCounters", "MgcpTransactions", "MgcpTransactionProtocol", "Peer",
]

Peer = tuple[Any, ...]
"""A datagram address: C{(host, port)} (IPv6 sockets add flow and scope)."""

_FIRST_ID_RANGE = (500000000, 899999999)
_EPSILON = 1e-9


class ITransactionOwner(Interface):
    """
    The object a transaction layer works for (the MGCP gateway, the call
    agent of C{srst-ccm}): it executes the commands received and is told
    what the layer received and answered.
    """

    def commandReceived(command: Command, peer: Peer) -> Union[Response, "Deferred[Response]"]:
        """
        A new command arrived (not a duplicate, which the layer answers
        from its cache): execute it.

        @param command: the command.
        @param peer: its source address; the response goes there.
        @return: the final L{Response}, or a L{Deferred} firing with it; its
            transaction id is set to the command's.  A failure is answered
            C{400}.
        """

    def messageHandled(message: Union[Command, Response], peer: Peer) -> None:
        """
        The layer has dealt with one well-formed message of a datagram: a
        command (new, and executed or still executing, or a duplicate
        answered from the cache), a response (to one of our commands or to
        none) or a C{000} acknowledgement.  Malformed messages are not
        reported here (see L{MgcpTransactions.counters}).

        @param message: the decoded message.
        @param peer: its source address.
        """

    def commandAnswered(transactionId: int, peer: Peer) -> None:
        """
        The final response to a command the owner executed is on the wire
        (its first sending: a duplicate or a retransmission is not
        reported again), so what the command set off may follow it now.

        @param transactionId: the command's transaction id.
        @param peer: where the command came from.
        """

    def responseSent(code: int, transactionId: int, peer: Peer) -> None:
        """
        The layer put a response on the wire: a final response (also one
        resent for a duplicate command or retransmitted until its C{000}),
        a C{100} provisional, a C{000} acknowledgement, or the error answer
        to a malformed command.

        @param code: its response code.
        @param transactionId: its transaction id.
        @param peer: where it went.
        """


class MgcpTimeout(RuntimeError):
    """
    An outgoing command got no final response in time (Max2 retransmissions
    or Tsmax elapsed).

    @ivar transactionId: the command's transaction id.
    @ivar attempts: how many times it was sent (first send included).
    @ivar peer: where it was sent.
    """

    def __init__(self, transactionId: int, attempts: int, peer: Peer) -> None:
        RuntimeError.__init__(self, transactionId, attempts, peer)
        self.transactionId = transactionId
        self.attempts = attempts
        self.peer = peer

    def __str__(self) -> str:
        return "MGCP transaction %d to %r timed out after %d attempts" % (
            self.transactionId, self.peer, self.attempts)


class MgcpSuperseded(RuntimeError):
    """
    An outgoing command was abandoned unanswered because the peer answered
    a later one after an outage (L{MgcpTransactions.supersede}): it is not
    retransmitted any more and a late answer to it is ignored.

    @ivar transactionId: the command's transaction id.
    @ivar peer: where it was sent.
    """

    def __init__(self, transactionId: int, peer: Peer) -> None:
        RuntimeError.__init__(self, transactionId, peer)
        self.transactionId = transactionId
        self.peer = peer

    def __str__(self) -> str:
        return ("MGCP transaction %d to %r superseded: the call agent answered a later "
                "request after an outage" % (self.transactionId, self.peer))


class MgcpTransactionsClosed(RuntimeError):
    """
    The transaction layer was closed while a command was outstanding, or a
    command was sent after it was closed.

    @ivar transactionId: the command's transaction id, or C{None}.
    """

    def __init__(self, transactionId: Optional[int] = None) -> None:
        RuntimeError.__init__(self, transactionId)
        self.transactionId = transactionId

    def __str__(self) -> str:
        if self.transactionId is None:
            return "MGCP transaction layer is closed"
        return "MGCP transaction %d abandoned: transaction layer closed" % (
            self.transactionId,)


@frozen
class RetransmissionPolicy:
    """
    Timer settings (mgcp.md 5.1), Cisco IOS defaults.

    @ivar initial: first retransmission timeout, seconds.
    @ivar maximum: cap for the doubling timeout, seconds.
    @ivar max1: retransmissions after which the peer is suspect (logged).
    @ivar max2: retransmissions after which the transaction fails.
    @ivar tsmax: longest a message stays in the retransmission queue, and
        longest to wait for a final response after a provisional, seconds.
    @ivar thist: how long responses (and used ids) are remembered, seconds.
    @ivar provisionalDelay: how long the owner may execute a command before a C{100}
        provisional is sent, seconds.
    """

    initial: float = 0.5
    maximum: float = 4.0
    max1: int = 5
    max2: int = 7
    tsmax: float = 20.0
    thist: float = 30.0
    provisionalDelay: float = 0.2

    @classmethod
    def fromTimers(cls, timers: MgcpTimers) -> RetransmissionPolicy:
        """
        @param timers: the C{mgcp: timers:} settings (milliseconds and
            seconds).
        @return: the policy the transaction layer uses for them.
        """
        return cls(
            initial=timers.requestTimeoutMs / 1000.0,
            maximum=timers.requestTimeoutMaxMs / 1000.0,
            max1=timers.max1Retries,
            max2=timers.max2Retries,
            tsmax=float(timers.tsmax),
            thist=float(timers.thist),
        )


@define
class TransactionCounters:
    """
    What the transaction layer has seen and done (for show commands).

    @ivar datagramsReceived: datagrams fed in.
    @ivar commandsReceived: well-formed commands received (duplicates too).
    @ivar responsesReceived: well-formed non-000 responses received.
    @ivar duplicates: duplicate commands answered from the cache, and
        repeated final responses to our recent commands.
    @ivar provisionalsSent: C{100} responses sent.
    @ivar malformed: messages that failed to decode.
    @ivar acksReceived: C{000} response acknowledgements received.
    @ivar commandsSent: outgoing commands (first sends).
    @ivar retransmissions: outgoing commands and K-responses resent.
    @ivar timeouts: outgoing commands failed with L{MgcpTimeout}.
    @ivar unmatchedResponses: responses for no known transaction.
    @ivar unacknowledged: K-responses whose C{000} never came.
    """

    datagramsReceived: int = 0
    commandsReceived: int = 0
    responsesReceived: int = 0
    duplicates: int = 0
    provisionalsSent: int = 0
    malformed: int = 0
    acksReceived: int = 0
    commandsSent: int = 0
    retransmissions: int = 0
    timeouts: int = 0
    unmatchedResponses: int = 0
    unacknowledged: int = 0


@define
class _Retransmitter:
    """
    Resends one datagram with exponential backoff until cancelled, Max2
    retransmissions, or Tsmax since the first send.
    """

    clock: IReactorTime
    policy: RetransmissionPolicy
    resend: Callable[[], None]
    giveUp: Callable[[], None]
    deadline: float = 0.0
    delay: float = 0.0
    count: int = 0
    call: Optional[IDelayedCall] = None

    def start(self) -> None:
        now = self.clock.seconds()
        self.deadline = now + self.policy.tsmax
        self.delay = self.policy.initial
        self._arm(now)

    def _arm(self, now: float) -> None:
        when = min(now + self.delay, self.deadline)
        self.call = self.clock.callLater(max(when - now, 0.0), self._fire)

    def _fire(self) -> None:
        self.call = None
        now = self.clock.seconds()
        if self.count >= self.policy.max2 or now >= self.deadline - _EPSILON:
            self.giveUp()
            return
        self.count += 1
        self.resend()
        self.delay = min(self.delay * 2, self.policy.maximum)
        self._arm(now)

    def cancel(self) -> None:
        if self.call is not None and self.call.active():
            self.call.cancel()
        self.call = None


@define(eq=False)
class _Incoming:
    peer: Peer
    transactionId: int
    handling: Optional[Deferred] = None
    code: Optional[int] = None
    data: Optional[bytes] = None
    provisionalSent: bool = False
    provisionalTimer: Optional[IDelayedCall] = None
    expiry: Optional[IDelayedCall] = None
    retransmitter: Optional[_Retransmitter] = None

    def cancelTimers(self) -> None:
        for call in (self.provisionalTimer, self.expiry):
            if call is not None and call.active():
                call.cancel()
        self.provisionalTimer = self.expiry = None
        if self.retransmitter is not None:
            self.retransmitter.cancel()
            self.retransmitter = None


@define(eq=False)
class _Outgoing:
    transactionId: int
    peer: Peer
    data: bytes
    deferred: Deferred
    sentAt: float = 0.0
    endpoint: str = ""
    retransmitter: Optional[_Retransmitter] = None
    finalTimer: Optional[IDelayedCall] = None

    def cancelTimers(self) -> None:
        if self.retransmitter is not None:
            self.retransmitter.cancel()
        if self.finalTimer is not None and self.finalTimer.active():
            self.finalTimer.cancel()
        self.finalTimer = None


class MgcpTransactions:
    """
    The sans-IO MGCP transaction layer for one UDP socket.

    @ivar counters: a L{TransactionCounters}.
    @ivar logLimiter: the L{srst.lograte.LogLimiter} of the lines any host
        can cause (malformed messages, stray responses); it stops on
        L{close}.
    @ivar policy: the L{RetransmissionPolicy}.
    @ivar debugLog: the C{debug mgcp} logger (duplicates, executions,
        commands sent).
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, send: Callable[[bytes, Peer], None],
                 owner: ITransactionOwner,
                 policy: RetransmissionPolicy = RetransmissionPolicy(),
                 firstTransactionId: Optional[int] = None, *, debugLog: Logger) -> None:
        """
        @param clock: timers and C{seconds()}.
        @param send: C{send(data, peer)} puts one datagram on the wire.
        @param owner: executes incoming commands and is told what the
            layer received and answered (L{ITransactionOwner}).
        @param policy: the timers.
        @param firstTransactionId: the first gateway transaction id; by
            default a random one in 500 000 000 .. 899 999 999, far from
            the small ids call agents use.
        @param debugLog: the C{debug mgcp} logger, made by the owner's
            L{srst.debug.DebugSwitches.logger}.
        """
        self.debugLog = debugLog
        self.clock = clock
        self.policy = policy
        self.counters = TransactionCounters()
        self._send = send
        self._owner = owner
        if firstTransactionId is None:
            firstTransactionId = random.SystemRandom().randint(
                *_FIRST_ID_RANGE)
        if not 1 <= firstTransactionId <= MAX_TRANSACTION_ID:
            raise ValueError("first transaction id %r outside 1..%d"
                             % (firstTransactionId, MAX_TRANSACTION_ID))
        self._nextId = firstTransactionId
        self._incoming: dict[tuple[Peer, int], _Incoming] = {}
        self._incomingIds: dict[int, int] = {}  # id -> peers it is cached for
        self._outgoing: dict[int, _Outgoing] = {}
        self._recentIds: dict[int, tuple[Peer, IDelayedCall]] = {}  # id -> where it went, expiry
        self._closed = False
        self.logLimiter = LogLimiter(clock)

    # -- input ------------------------------------------------------------

    def datagramReceived(self, data: bytes, peer: Peer) -> None:
        """
        Process one received datagram (maybe several piggy-backed messages).

        @param data: the datagram.
        @param peer: its source address; answers go there.
        """
        if self._closed:
            return
        self.counters.datagramsReceived += 1
        try:
            parts = splitDatagram(data)
        except MgcpDecodeError as error:
            self._malformed(error, peer)
            return
        for part in parts:
            try:
                message = decodeMessage(part)
            except MgcpDecodeError as error:
                self._malformed(error, peer)
                continue
            if isinstance(message, Command):
                self._commandReceived(message, peer)
            else:
                self._responseReceived(message, peer)
            self._owner.messageHandled(message, peer)

    def answersReceived(self, data: bytes, peer: Peer) -> bool:
        """
        Process one datagram from a peer that may answer the commands the
        layer sent to it but not command (a notified entity that is no call
        agent, under source validation): it is taken only when the layer has
        a command outstanding to, or answered within T-HIST by, that host
        and port, and every message in it decodes to a response (not a
        C{000}) to such a command; then it is processed as
        L{datagramReceived} would.  Anything else is dropped whole, before
        decoding when nothing was sent to that address: nothing is
        executed, answered, counted or logged here.

        @param data: the datagram.
        @param peer: its source address.
        @return: whether the datagram was taken; the owner accounts for one
            that was not.
        """
        if self._closed or not self._awaitsAnswerFrom(peer):
            return False
        try:
            messages = [decodeMessage(part) for part in splitDatagram(data)]
        except MgcpDecodeError:
            return False
        for message in messages:
            if not (isinstance(message, Response) and message.code != ResponseCode.RESPONSE_ACK
                    and self._sentTo(message.transactionId, peer)):
                return False
        self.counters.datagramsReceived += 1
        for message in messages:
            self._responseReceived(message, peer)
            self._owner.messageHandled(message, peer)
        return True

    def _awaitsAnswerFrom(self, peer: Peer) -> bool:
        """
        @return: whether a command is outstanding to C{peer}'s host and
            port, or was answered (or given up) there within T-HIST.
        """
        return (any(self._wentTo(outgoing.peer, peer) for outgoing in self._outgoing.values())
                or any(self._wentTo(sentTo, peer) for sentTo, _ in self._recentIds.values()))

    def _sentTo(self, transactionId: int, peer: Peer) -> bool:
        """
        @return: whether the command C{transactionId}, outstanding or
            recent, went to C{peer}'s host and port.
        """
        outgoing = self._outgoing.get(transactionId)
        if outgoing is not None:
            return self._wentTo(outgoing.peer, peer)
        recent = self._recentIds.get(transactionId)
        return recent is not None and self._wentTo(recent[0], peer)

    @staticmethod
    def _wentTo(sentTo: Peer, peer: Peer) -> bool:
        """
        @return: whether C{peer} is the host and port C{sentTo} names.
        """
        return tuple(sentTo[:2]) == tuple(peer[:2])

    def _answer(self, response: Response, peer: Peer) -> None:
        """
        Put a response on the wire and tell the owner.
        """
        self._send(encodeMessage(response), peer)
        self._owner.responseSent(response.code, response.transactionId, peer)

    def _resend(self, entry: _Incoming) -> None:
        """
        Put an entry's final response on the wire (its first sending, the
        answer to a duplicate command, a retransmission until its C{000})
        and tell the owner.  Only its code and encoding are kept for
        T-HIST, not the response with its parameters and SDP.
        """
        assert entry.code is not None and entry.data is not None
        self._send(entry.data, entry.peer)
        self._owner.responseSent(entry.code, entry.transactionId, entry.peer)

    def _malformed(self, error: MgcpDecodeError, peer: Peer) -> None:
        self.counters.malformed += 1
        reply = errorResponse(error)
        self.logLimiter.warn(self.log, peer[0], "malformed messages",
                             "MGCP: malformed message from {peer}: {error}",
                             peer=peer, error=str(error), code=error.code,
                             transactionId=error.transactionId,
                             answered=reply is not None)
        if reply is not None:
            self._answer(reply, peer)

    # -- incoming commands --------------------------------------------------

    def _commandReceived(self, command: Command, peer: Peer) -> None:
        self.counters.commandsReceived += 1
        confirmed = command.get("K")
        if confirmed is not None:
            self._freeConfirmed(peer, confirmed)
        key = (peer, command.transactionId)
        entry = self._incoming.get(key)
        if entry is not None:
            self.counters.duplicates += 1
            self.debugLog.debug(
                "MGCP: duplicate {verb} {transactionId} from {peer}",
                verb=command.verb, transactionId=command.transactionId,
                peer=peer, executing=entry.code is None)
            if entry.code is None:
                self._sendProvisional(entry)
            else:
                self._resend(entry)
            return
        entry = _Incoming(peer, command.transactionId)
        self._incoming[key] = entry
        ids = self._incomingIds
        ids[command.transactionId] = ids.get(command.transactionId, 0) + 1
        self.debugLog.debug("MGCP: executing {verb} {transactionId} from "
                            "{peer}", verb=command.verb,
                            transactionId=command.transactionId, peer=peer)
        handling = maybeDeferred(self._owner.commandReceived, command, peer)
        handling.addCallbacks(self._handled, self._handlerFailed,
                              callbackArgs=(entry,), errbackArgs=(entry,))
        if entry.code is None and not self._closed:
            entry.handling = handling
            entry.provisionalTimer = self.clock.callLater(
                self.policy.provisionalDelay, self._provisionalDue, entry)

    def _freeConfirmed(self, peer: Peer, confirmed: ResponseAck) -> None:
        # Look the confirmed ids up, or scan the cache when the ranges hold
        # more ids than it does (a K: range can span millions).
        span = sum(last - first + 1 for first, last in confirmed.ranges)
        if span <= len(self._incoming):
            keys = [(peer, transactionId) for first, last in confirmed.ranges
                    for transactionId in range(first, last + 1)]
        else:
            keys = [key for key in self._incoming
                    if key[0] == peer and key[1] in confirmed]
        for key in keys:
            entry = self._incoming.get(key)
            if entry is not None and entry.code is not None:
                entry.cancelTimers()
                self._uncache(key)

    def _uncache(self, key: tuple[Peer, int]) -> None:
        del self._incoming[key]
        ids = self._incomingIds
        remaining = ids[key[1]] - 1
        if remaining:
            ids[key[1]] = remaining
        else:
            del ids[key[1]]

    def _provisionalDue(self, entry: _Incoming) -> None:
        entry.provisionalTimer = None
        self._sendProvisional(entry)

    def _sendProvisional(self, entry: _Incoming) -> None:
        if entry.provisionalTimer is not None:
            if entry.provisionalTimer.active():
                entry.provisionalTimer.cancel()
            entry.provisionalTimer = None
        entry.provisionalSent = True
        self.counters.provisionalsSent += 1
        provisional = Response(ResponseCode.EXECUTING, entry.transactionId,
                               responseText(ResponseCode.EXECUTING))
        self._answer(provisional, entry.peer)

    def _handled(self, response: Response, entry: _Incoming) -> None:
        if self._closed:
            return
        if not isinstance(response, Response):
            self._handlerFailed(Failure(TypeError(
                "MGCP handler returned %r, not a Response" % (response,))),
                entry)
            return
        self._finish(entry, response)

    def _handlerFailed(self, reason: Failure, entry: _Incoming) -> None:
        if self._closed:
            return
        self.log.failure("MGCP: handler failed for transaction "
                         "{transactionId} from {peer}", reason,
                         transactionId=entry.transactionId, peer=entry.peer)
        self._finish(entry, Response(ResponseCode.TRANSIENT_ERROR,
                                     entry.transactionId,
                                     responseText(
                                         ResponseCode.TRANSIENT_ERROR)))

    def _finish(self, entry: _Incoming, response: Response) -> None:
        entry.handling = None
        if entry.provisionalTimer is not None:
            entry.provisionalTimer.cancel()
            entry.provisionalTimer = None
        parameters = response.parameters
        if entry.provisionalSent:
            parameters = tuple(p for p in parameters if p.name != "K") + (
                Parameter("K", ""),)
        response = attrs.evolve(response, transactionId=entry.transactionId,
                                parameters=parameters)
        entry.code = response.code
        entry.data = encodeMessage(response)
        if entry.provisionalSent:
            entry.retransmitter = _Retransmitter(
                self.clock, self.policy,
                lambda: self._resendResponse(entry),
                lambda: self._responseUnacknowledged(entry))
            entry.retransmitter.start()
        entry.expiry = self.clock.callLater(self.policy.thist, self._expire,
                                            entry)
        self._resend(entry)
        self._owner.commandAnswered(entry.transactionId, entry.peer)

    def _resendResponse(self, entry: _Incoming) -> None:
        self.counters.retransmissions += 1
        self._resend(entry)

    def _responseUnacknowledged(self, entry: _Incoming) -> None:
        entry.retransmitter = None
        self.counters.unacknowledged += 1
        self.log.warn("MGCP: no 000 from {peer} for response "
                      "{transactionId}", peer=entry.peer,
                      transactionId=entry.transactionId)

    def _expire(self, entry: _Incoming) -> None:
        entry.expiry = None
        entry.cancelTimers()
        key = (entry.peer, entry.transactionId)
        if self._incoming.get(key) is entry:
            self._uncache(key)

    # -- responses ----------------------------------------------------------

    def _responseReceived(self, response: Response, peer: Peer) -> None:
        transactionId = response.transactionId
        if response.code == ResponseCode.RESPONSE_ACK:
            self.counters.acksReceived += 1
            entry = self._incoming.get((peer, transactionId))
            if entry is not None and entry.retransmitter is not None:
                entry.retransmitter.cancel()
                entry.retransmitter = None
            return
        self.counters.responsesReceived += 1
        outgoing = self._outgoing.get(transactionId)
        if outgoing is not None and not self._wentTo(outgoing.peer, peer):
            # Only the address (host and port) the command went to can answer it.
            self.counters.unmatchedResponses += 1
            self.logLimiter.warn(self.log, peer[0], "responses from a host the command did not go to",
                                 "MGCP: response {code} {transactionId} from {peer}, "
                                 "but the command went to {commandPeer}",
                                 code=response.code, transactionId=transactionId,
                                 peer=peer, commandPeer=outgoing.peer)
            return
        if outgoing is None:
            if self._sentTo(transactionId, peer):
                self.counters.duplicates += 1
                self._acknowledge(response, peer)
            else:
                self.counters.unmatchedResponses += 1
                self.logLimiter.warn(self.log, peer[0], "responses matching no transaction",
                                     "MGCP: response {code} {transactionId} from "
                                     "{peer} matches no transaction",
                                     code=response.code,
                                     transactionId=transactionId, peer=peer)
            return
        if outgoing.retransmitter is not None:
            outgoing.retransmitter.cancel()
        if response.isProvisional:
            if outgoing.finalTimer is None:
                outgoing.finalTimer = self.clock.callLater(
                    self.policy.tsmax, self._timedOut, outgoing)
            else:
                outgoing.finalTimer.reset(self.policy.tsmax)
            return
        outgoing.cancelTimers()
        del self._outgoing[transactionId]
        self._remember(outgoing)
        self._acknowledge(response, peer)
        outgoing.deferred.callback(response)

    def _acknowledge(self, response: Response, peer: Peer) -> None:
        ack = response.get("K")
        if ack is not None and not ack.ranges:
            self._answer(Response(ResponseCode.RESPONSE_ACK, response.transactionId), peer)

    # -- outgoing commands --------------------------------------------------

    def sendCommand(self, command: Command, peer: Peer) -> Deferred[Response]:
        """
        Send a command and wait for its final response.

        @param command: the command; its transaction id is replaced by a
            fresh gateway id.
        @param peer: the call agent's address.
        @return: a L{Deferred} firing with the final L{Response}, or
            failing with L{MgcpTimeout} or L{MgcpTransactionsClosed}.
            Cancelling it abandons the transaction.
        """
        if self._closed:
            return fail(MgcpTransactionsClosed())
        transactionId = self._allocateId()
        command = attrs.evolve(command, transactionId=transactionId)
        data = encodeMessage(command)

        def cancel(deferred: Deferred) -> None:
            entry = self._outgoing.pop(transactionId, None)
            if entry is not None:
                entry.cancelTimers()
                self._remember(entry)

        outgoing = _Outgoing(transactionId, peer, data, Deferred(cancel), self.clock.seconds(),
                             command.endpoint.lower())
        outgoing.retransmitter = _Retransmitter(
            self.clock, self.policy, lambda: self._resendCommand(outgoing),
            lambda: self._timedOut(outgoing))
        self._outgoing[transactionId] = outgoing
        self.counters.commandsSent += 1
        self.debugLog.debug("MGCP: sending {verb} {transactionId} to {peer}",
                            verb=command.verb, transactionId=transactionId,
                            peer=peer)
        self._send(data, peer)
        outgoing.retransmitter.start()
        return outgoing.deferred

    def _allocateId(self) -> int:
        while True:
            candidate = self._nextId
            self._nextId = candidate % MAX_TRANSACTION_ID + 1
            if (candidate not in self._outgoing
                    and candidate not in self._recentIds
                    and candidate not in self._incomingIds):
                return candidate

    def _resendCommand(self, outgoing: _Outgoing) -> None:
        self.counters.retransmissions += 1
        assert outgoing.retransmitter is not None
        if outgoing.retransmitter.count == self.policy.max1:
            self.log.warn("MGCP: {peer} suspect after {count} retransmissions"
                          " of {transactionId}", peer=outgoing.peer,
                          count=self.policy.max1,
                          transactionId=outgoing.transactionId)
        self._send(outgoing.data, outgoing.peer)

    def _timedOut(self, outgoing: _Outgoing) -> None:
        outgoing.finalTimer = None
        outgoing.cancelTimers()
        attempts = 1
        if outgoing.retransmitter is not None:
            attempts += outgoing.retransmitter.count
        if self._outgoing.get(outgoing.transactionId) is outgoing:
            del self._outgoing[outgoing.transactionId]
        self._remember(outgoing)
        self.counters.timeouts += 1
        error = MgcpTimeout(outgoing.transactionId, attempts, outgoing.peer)
        self.log.warn("{error}", error=str(error),
                      transactionId=outgoing.transactionId,
                      peer=outgoing.peer, attempts=attempts)
        outgoing.deferred.errback(error)

    def _remember(self, outgoing: _Outgoing) -> None:
        transactionId = outgoing.transactionId
        old = self._recentIds.pop(transactionId, None)
        if old is not None and old[1].active():
            old[1].cancel()
        self._recentIds[transactionId] = (outgoing.peer, self.clock.callLater(
            self.policy.thist, self._recentIds.pop, transactionId, None))

    def supersede(self, host: str, sentBefore: float, endpoint: Optional[str] = None) -> list[int]:
        """
        End every command still outstanding to C{host} that was first sent
        before C{sentBefore} (and, when C{endpoint} is given, names that
        endpoint): its retransmission stops, its id is remembered for
        T-HIST (a late answer is ignored as a repeated one) and its
        L{Deferred} fails with L{MgcpSuperseded}.  Later commands are still
        in flight and go on.

        @param host: the peer's host, as in the C{peer} given to
            L{sendCommand}.
        @param sentBefore: a time of the layer's clock.
        @param endpoint: an endpoint name (any case), or L{None} for
            commands of every endpoint.
        @return: the superseded transaction ids, oldest first.
        """
        name = endpoint.lower() if endpoint is not None else None
        superseded = [outgoing for outgoing in self._outgoing.values()
                      if outgoing.peer[0] == host and outgoing.sentAt < sentBefore
                      and (name is None or outgoing.endpoint == name)]
        for outgoing in superseded:
            del self._outgoing[outgoing.transactionId]
            outgoing.cancelTimers()
            self._remember(outgoing)
        for outgoing in superseded:
            outgoing.deferred.errback(MgcpSuperseded(outgoing.transactionId, outgoing.peer))
        return [outgoing.transactionId for outgoing in superseded]

    # -- lifecycle ----------------------------------------------------------

    @property
    def pending(self) -> int:
        """
        The number of outgoing commands awaiting a final response.
        """
        return len(self._outgoing)

    @property
    def cached(self) -> int:
        """
        The number of incoming transactions in the response cache.
        """
        return len(self._incoming)

    def close(self) -> None:
        """
        Cancel every timer, cancel commands still executing, forget the cache and
        fail outstanding commands with L{MgcpTransactionsClosed}.
        Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        incoming, self._incoming = self._incoming, {}
        self._incomingIds.clear()
        for entry in incoming.values():
            entry.cancelTimers()
            if entry.handling is not None:
                handling, entry.handling = entry.handling, None
                handling.cancel()
        for _, call in self._recentIds.values():
            if call.active():
                call.cancel()
        self._recentIds.clear()
        self.logLimiter.stop()
        outgoing, self._outgoing = self._outgoing, {}
        for entry in outgoing.values():
            entry.cancelTimers()
            entry.deferred.errback(MgcpTransactionsClosed(
                entry.transactionId))


class MgcpTransactionProtocol(DatagramProtocol):
    """
    The thin datagram protocol around L{MgcpTransactions}: received
    datagrams go to the core, the core writes through the transport, and
    C{stopProtocol} closes the core.

    @ivar transactions: the L{MgcpTransactions} core.
    """

    def __init__(self, clock: IReactorTime, owner: ITransactionOwner,
                 policy: RetransmissionPolicy = RetransmissionPolicy(),
                 firstTransactionId: Optional[int] = None, *, debugLog: Logger) -> None:
        """
        @param clock: timers.
        @param owner: see L{MgcpTransactions}.
        @param policy: the timers.
        @param firstTransactionId: see L{MgcpTransactions}.
        @param debugLog: see L{MgcpTransactions}.
        """
        self.transactions = MgcpTransactions(clock, self._write, owner, policy,
                                             firstTransactionId, debugLog=debugLog)

    def _write(self, data: bytes, peer: Peer) -> None:
        if self.transport is not None:
            self.transport.write(data, peer)

    def datagramReceived(self, datagram: bytes, addr: Peer) -> None:
        """
        Hand a datagram to the core.
        """
        self.transactions.datagramReceived(datagram, addr)

    def sendCommand(self, command: Command, peer: Peer) -> Deferred[Response]:
        """
        See L{MgcpTransactions.sendCommand}.
        """
        return self.transactions.sendCommand(command, peer)

    def stopProtocol(self) -> None:
        """
        Close the core: timers cancelled, pending commands failed.
        """
        self.transactions.close()
