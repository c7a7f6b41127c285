# -*- test-case-name: tests.test_mgcp_transactions -*-
"""
Retransmission policy, counters and errors of the MGCP transaction layer
(L{srst.mgcp.transactions}): the Cisco timer defaults of mgcp.md 5.1 and the
exponential-backoff resender.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from attrs import define, frozen
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from srst.mgcp.config import MgcpTimers

Peer = Any
"""A datagram address, normally C{(host, port)}."""

_EPSILON = 1e-9


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
    @ivar provisionalDelay: how long a handler may run before a C{100}
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
