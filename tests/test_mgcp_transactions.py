"""
Tests for L{srst.mgcp.transactions}.
"""

from __future__ import annotations

import attrs

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from srst.mgcp.config import MgcpTimers
from srst.mgcp.constants import MAX_TRANSACTION_ID
from srst.mgcp.messages import (
    Command,
    Response,
    decodeMessage,
    encodeMessage,
)
from srst.mgcp.transactions import (
    ITransactionOwner,
    MgcpSuperseded,
    MgcpTimeout,
    MgcpTransactionProtocol,
    MgcpTransactions,
    MgcpTransactionsClosed,
    RetransmissionPolicy,
    TransactionCounters,
)
from tests.mgcphelpers import TransactionOwner, mgcpDebugLog
from tests.routerhelpers import within

CA = ("127.0.0.1", 2427)
OTHER_CA = ("127.0.0.2", 2427)
RQNT = b"RQNT 1201 aaln/1@gw MGCP 0.1\r\nX: 1\r\nR: hd\r\n"


def rqnt(transactionId: int = 1201, extra: bytes = b"") -> bytes:
    """
    @return: an RQNT datagram with the given id and extra parameter lines.
    """
    return (b"RQNT %d aaln/1@gw MGCP 0.1\r\nX: 1\r\n" % (transactionId,)
            + extra + b"R: hd\r\n")


def ntfy() -> Command:
    """
    @return: an NTFY command (its id is replaced when sent).
    """
    return Command("NTFY", 1, "aaln/1@gw", "MGCP 0.1",
                   parameters=[("X", "1"), ("O", "hd")])


class FakeDatagramTransport:
    """
    Records datagrams written.
    """

    def __init__(self) -> None:
        self.written: list[tuple[bytes, object]] = []

    def write(self, data: bytes, addr: object) -> None:
        self.written.append((data, addr))


class Harness:
    """
    A transaction layer on a L{Clock} whose datagrams are recorded and
    whose owner's answers are scripted.

    @ivar owner: the L{TransactionOwner}, recording what it is told.
    """

    def __init__(self, firstTransactionId: int = 700000000) -> None:
        self.clock = Clock()
        self.sent: list[tuple[bytes, object]] = []
        self.executed: list[tuple[Command, object]] = []
        self.replies: list = []
        self.owner = TransactionOwner(self.handle)
        self.transactions = MgcpTransactions(
            self.clock, lambda data, peer: self.sent.append((data, peer)),
            self.owner, RetransmissionPolicy(),
            firstTransactionId=firstTransactionId, debugLog=mgcpDebugLog())

    def handle(self, command: Command, peer: object):
        """
        Record the command; answer with the next scripted reply (raising it
        if it is an exception), else C{200 OK}.
        """
        self.executed.append((command, peer))
        if self.replies:
            reply = self.replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return reply
        return Response(200, command.transactionId, "OK")

    def decoded(self) -> list:
        """
        @return: every datagram sent so far, decoded.
        """
        return [decodeMessage(data) for data, peer in self.sent]


class PolicyTests(SynchronousTestCase):
    """
    L{RetransmissionPolicy} built from the configuration's timers.
    """

    def test_fromTimers(self) -> None:
        """
        The C{mgcp: timers:} settings convert to the transaction layer's
        policy in seconds.
        """
        policy = RetransmissionPolicy.fromTimers(MgcpTimers(requestTimeoutMs=250, requestTimeoutMaxMs=3000))
        self.assertEqual(policy, RetransmissionPolicy(initial=0.25, maximum=3.0, max1=5, max2=7,
                                                      tsmax=20.0, thist=30.0))


class IncomingTests(SynchronousTestCase):
    """
    Commands received from a call agent.
    """

    def test_executesAndAnswers(self) -> None:
        """
        A command is handed to the handler once and its response goes back
        to the sender.
        """
        h = Harness()
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(len(h.executed), 1)
        self.assertEqual(h.executed[0][0].verb, "RQNT")
        self.assertEqual(h.sent, [(b"200 1201 OK\r\n", CA)])
        self.assertEqual(h.transactions.counters.commandsReceived, 1)

    def test_duplicateAnsweredIdentically(self) -> None:
        """
        A retransmitted command is not executed again and gets the
        byte-identical cached response.
        """
        h = Harness()
        h.replies.append(Response(250, 1201, "Connection was deleted",
                                  parameters=[("P", "PS=1")]))
        h.transactions.datagramReceived(RQNT, CA)
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(len(h.executed), 1)
        self.assertEqual(len(h.sent), 2)
        self.assertEqual(h.sent[0], h.sent[1])
        self.assertEqual(h.transactions.counters.duplicates, 1)

    def test_sameIdOtherPeerIsNew(self) -> None:
        """
        The cache is keyed per peer: the same id from another address is a
        new transaction.
        """
        h = Harness()
        h.transactions.datagramReceived(RQNT, CA)
        h.transactions.datagramReceived(RQNT, OTHER_CA)
        self.assertEqual(len(h.executed), 2)
        self.assertEqual([peer for data, peer in h.sent], [CA, OTHER_CA])

    def test_quickDeferredNoProvisional(self) -> None:
        """
        A handler Deferred firing before the provisional threshold gets a
        plain final response with no K: and no retransmission.
        """
        h = Harness()
        pending: Deferred = Deferred()
        h.replies.append(pending)
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(h.sent, [])
        h.clock.advance(0.1)
        pending.callback(Response(200, 1201, "OK"))
        self.assertEqual(h.sent, [(b"200 1201 OK\r\n", CA)])
        h.clock.advance(5)
        self.assertEqual(len(h.sent), 1)

    def test_duplicateWhileExecuting(self) -> None:
        """
        A duplicate of a command still executing gets a 100 provisional and
        is not executed again; the final response then asks for a 000.
        """
        h = Harness()
        pending: Deferred = Deferred()
        h.replies.append(pending)
        h.transactions.datagramReceived(RQNT, CA)
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(len(h.executed), 1)
        self.assertEqual(len(h.sent), 1)
        self.assertEqual(h.sent[0][1], CA)
        self.assertEqual(h.decoded()[0].code, 100)
        self.assertEqual(h.decoded()[0].transactionId, 1201)
        h.clock.advance(0.3)
        self.assertEqual(len(h.sent), 1)
        pending.callback(Response(200, 1201, "OK"))
        self.assertEqual(h.sent[-1][0], b"200 1201 OK\r\nK:\r\n")
        h.transactions.close()
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_responseAckWhileExecutingKeepsAtMostOnce(self) -> None:
        """
        A K: naming a command still executing (in another command) does not
        free its transaction: a retransmission of that command is answered
        100 and not executed a second time, and the eventual final response
        is the one cached for later retransmissions (issue 17 item 11).
        """
        h = Harness()
        pending: Deferred = Deferred()
        h.replies.append(pending)
        h.transactions.datagramReceived(rqnt(1201), CA)
        h.transactions.datagramReceived(rqnt(1202, b"K: 1201\r\n"), CA)
        self.assertEqual([c.transactionId for c, peer in h.executed], [1201, 1202])
        h.transactions.datagramReceived(rqnt(1201), CA)
        self.assertEqual([c.transactionId for c, peer in h.executed], [1201, 1202])
        self.assertEqual([(m.code, m.transactionId) for m in h.decoded()],
                         [(200, 1202), (100, 1201)])
        pending.callback(Response(200, 1201, "OK"))
        final = h.sent[-1]
        self.assertEqual(final, (b"200 1201 OK\r\nK:\r\n", CA))
        h.transactions.datagramReceived(b"000 1201\r\n", CA)
        h.transactions.datagramReceived(rqnt(1201), CA)
        self.assertEqual(h.sent[-1], final)
        self.assertEqual(len(h.executed), 2)
        self.assertEqual(h.transactions.counters.duplicates, 2)

    def test_slowHandlerProvisionalThenAckedFinal(self) -> None:
        """
        A slow handler gets a 100 after the threshold; the final then
        carries an empty K: and is retransmitted until the 000 arrives.
        """
        h = Harness()
        pending: Deferred = Deferred()
        h.replies.append(pending)
        h.transactions.datagramReceived(RQNT, CA)
        h.clock.advance(0.2)
        self.assertEqual([m.code for m in h.decoded()], [100])
        pending.callback(Response(200, 1201, "OK"))
        final = h.sent[-1][0]
        self.assertEqual(final, b"200 1201 OK\r\nK:\r\n")
        h.clock.advance(0.5)
        h.clock.advance(1.0)
        self.assertEqual([data for data, peer in h.sent[1:]], [final] * 3)
        h.transactions.datagramReceived(b"000 1201\r\n", CA)
        h.clock.advance(10)
        self.assertEqual(len(h.sent), 4)
        self.assertEqual(h.transactions.counters.acksReceived, 1)
        # still cached for duplicates after the ack
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(h.sent[-1], (final, CA))
        self.assertEqual(len(h.executed), 1)

    def test_unacknowledgedFinalGivesUp(self) -> None:
        """
        A K: final response whose 000 never comes is retransmitted Max2
        times and then left in the cache.
        """
        h = Harness()
        pending: Deferred = Deferred()
        h.replies.append(pending)
        h.transactions.datagramReceived(RQNT, CA)
        h.clock.advance(0.2)
        pending.callback(Response(200, 1201, "OK"))
        h.clock.pump([0.5] * 60)
        self.assertEqual(len(h.sent), 2 + 7)
        self.assertEqual(h.transactions.counters.unacknowledged, 1)

    def test_unsolicitedAckIgnored(self) -> None:
        """
        A 000 for any id, known or not, is counted and never answered.
        """
        h = Harness()
        h.transactions.datagramReceived(RQNT, CA)
        h.transactions.datagramReceived(b"000 1201 OK\r\n", CA)
        h.transactions.datagramReceived(b"000 77\r\n", CA)
        self.assertEqual(len(h.sent), 1)
        self.assertEqual(h.transactions.counters.acksReceived, 2)
        self.assertEqual(h.transactions.counters.unmatchedResponses, 0)

    def test_responseAckFreesCache(self) -> None:
        """
        A command whose K: confirms earlier ids frees those cached
        responses, so a later repeat of such an id is executed anew.
        """
        h = Harness()
        h.transactions.datagramReceived(rqnt(1201), CA)
        h.transactions.datagramReceived(rqnt(1202), CA)
        self.assertEqual(h.transactions.cached, 2)
        h.transactions.datagramReceived(rqnt(1203, b"K: 1200-1201\r\n"), CA)
        self.assertEqual(h.transactions.cached, 2)
        h.transactions.datagramReceived(rqnt(1201), CA)
        self.assertEqual(len(h.executed), 4)
        h.transactions.datagramReceived(rqnt(1202), CA)
        self.assertEqual(len(h.executed), 4)

    def test_responseAckWideRangeFreesOnlyThatPeer(self) -> None:
        """
        A K: range wider than the cache (here every possible id) frees the
        confirmed responses of the peer that sent it and no other's, and
        leaves a transaction still executing alone.
        """
        h = Harness()
        h.transactions.datagramReceived(rqnt(1201), CA)
        h.transactions.datagramReceived(rqnt(1202), OTHER_CA)
        h.transactions.datagramReceived(
            rqnt(1203, b"K: 1-999999999\r\n"), CA)
        self.assertEqual(h.transactions.cached, 2)  # 1202 of OTHER_CA, 1203
        h.transactions.datagramReceived(rqnt(1201), CA)
        self.assertEqual(len(h.executed), 4)
        h.transactions.datagramReceived(rqnt(1202), OTHER_CA)
        self.assertEqual(len(h.executed), 4)

    def test_gatewayIdsSkipCachedIncomingIds(self) -> None:
        """
        A gateway transaction id is never one a call agent's cached
        transaction uses, whichever call agent sent it.
        """
        h = Harness(firstTransactionId=1201)
        h.transactions.datagramReceived(rqnt(1201), CA)
        h.transactions.datagramReceived(rqnt(1202), OTHER_CA)
        h.transactions.sendCommand(ntfy(), CA)
        self.assertTrue(h.sent[-1][0].startswith(b"NTFY 1203 "))

    def test_cacheExpiresAfterThist(self) -> None:
        """
        A cached response is forgotten T-HIST (30 s) after it was sent.
        """
        h = Harness()
        h.transactions.datagramReceived(RQNT, CA)
        h.clock.advance(29.9)
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(len(h.executed), 1)
        h.clock.advance(0.1)
        self.assertEqual(h.transactions.cached, 0)
        self.assertEqual(h.clock.getDelayedCalls(), [])
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(len(h.executed), 2)

    def test_malformedWithId(self) -> None:
        """
        A command that fails to decode but has a readable id gets a 510
        with that id and is not executed.
        """
        h = Harness()
        h.transactions.datagramReceived(
            b"RQNT 1204 aaln/1@gw MGCP 0.1\r\nthis is not a parameter\r\n",
            CA)
        self.assertEqual(h.executed, [])
        [reply] = h.decoded()
        self.assertEqual((reply.code, reply.transactionId), (510, 1204))
        self.assertEqual(h.transactions.counters.malformed, 1)

    def test_malformedWithoutIdDropped(self) -> None:
        """
        Garbage without a transaction id, or a bad response, is dropped.
        """
        h = Harness()
        h.transactions.datagramReceived(b"\x00\x01 garbage\r\n", CA)
        h.transactions.datagramReceived(b"200 x OK\r\n", CA)
        h.transactions.datagramReceived(b"200 5 OK\r\nnope\r\n", CA)
        self.assertEqual(h.sent, [])
        self.assertEqual(h.transactions.counters.malformed, 3)

    def test_malformedFloodLoggedOncePerPeer(self) -> None:
        """
        1000 malformed datagrams from one host give one warning and, a
        minute later, one summary of the other 999; another host gets its
        own warning.  Every one is still counted.
        """
        h = Harness()
        with capturedLogs() as events:
            for n in range(1000):
                h.transactions.datagramReceived(b"\x00 garbage %d\r\n" % (n,), ("127.0.0.2", 40000 + n))
            h.transactions.datagramReceived(b"\x00 garbage\r\n", ("127.0.0.3", 2427))
            h.clock.advance(60)
        lines = [formatEvent(e) for e in events if e["log_namespace"].startswith("srst.mgcp")]
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(lines[0].startswith("MGCP: malformed message from ('127.0.0.2', 40000): "), lines[0])
        self.assertTrue(lines[1].startswith("MGCP: malformed message from ('127.0.0.3', 2427): "), lines[1])
        self.assertEqual(lines[2], "127.0.0.2: 999 more malformed messages in the last minute")
        self.assertEqual(h.transactions.counters.malformed, 1001)

    def test_piggyBacked(self) -> None:
        """
        Piggy-backed commands are executed in order, each answered.
        """
        h = Harness()
        h.transactions.datagramReceived(rqnt(1) + b".\r\n" + rqnt(2), CA)
        self.assertEqual([c.transactionId for c, p in h.executed], [1, 2])
        self.assertEqual([m.transactionId for m in h.decoded()], [1, 2])

    def test_handlerFailure(self) -> None:
        """
        A handler that raises is logged and answered with 400.
        """
        h = Harness()
        h.replies.append(ZeroDivisionError("bug"))
        h.transactions.datagramReceived(rqnt(9), CA)
        self.assertEqual(h.decoded()[-1].code, 400)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        h.transactions.close()
        self.assertEqual(h.clock.getDelayedCalls(), [])


class OwnerTests(SynchronousTestCase):
    """
    What the layer tells its owner (L{ITransactionOwner}): every
    well-formed message once handled, and every response it sends.
    """

    def test_ownerInterface(self) -> None:
        """
        The test owner provides L{ITransactionOwner}.
        """
        self.assertTrue(verifyObject(ITransactionOwner, Harness().owner))

    def test_commandAnsweredOnce(self) -> None:
        """
        The owner is told a command is answered once its final response is
        first on the wire: at once for a synchronous answer, when the
        Deferred fires for an asynchronous one (after a provisional, and
        before its retransmissions), for a handler's failure (400); never
        for a duplicate or a retransmission.
        """
        h = Harness()
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(h.owner.answered, [(1201, CA)])
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(h.owner.answered, [(1201, CA)])
        pending: Deferred = Deferred()
        h.replies.append(pending)
        h.transactions.datagramReceived(rqnt(2), CA)
        h.clock.advance(0.2)
        self.assertEqual(h.owner.answered, [(1201, CA)])
        sentBefore = len(h.sent)
        h.owner.commandAnswered = lambda tid, peer: h.owner.answered.append((tid, peer, len(h.sent)))
        pending.callback(Response(200, 2, "OK"))
        self.assertEqual(h.owner.answered[-1], (2, CA, sentBefore + 1))
        h.clock.advance(1.0)
        self.assertEqual(len(h.owner.answered), 2)
        h.replies.append(RuntimeError("broken handler"))
        h.transactions.datagramReceived(rqnt(3), CA)
        self.assertEqual(h.owner.answered[-1][:2], (3, CA))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_commandHandledAfterItsAnswer(self) -> None:
        """
        A command is reported as handled once it was executed and its
        response sent, which is reported too.
        """
        h = Harness()
        seen = []
        h.owner.messageHandled = lambda message, peer: seen.append((message.verb, peer, len(h.sent)))
        h.transactions.datagramReceived(RQNT, CA)
        self.assertEqual(seen, [("RQNT", CA, 1)])
        self.assertEqual(h.owner.responses, [(200, 1201, CA)])

    def test_everyMessageHandled(self) -> None:
        """
        Duplicates, responses (matched or not) and 000 acknowledgements are
        reported in order; malformed messages are not.
        """
        h = Harness()
        h.transactions.datagramReceived(RQNT, CA)
        h.transactions.datagramReceived(RQNT, CA)
        d = h.transactions.sendCommand(ntfy(), CA)
        h.transactions.datagramReceived(b"200 700000000 OK\r\n", CA)
        h.transactions.datagramReceived(b"200 42 OK\r\n", OTHER_CA)
        h.transactions.datagramReceived(b"000 77\r\n", CA)
        h.transactions.datagramReceived(b"\x00\x01 garbage\r\n", CA)
        h.transactions.datagramReceived(b"RQNT 1204 aaln/1@gw MGCP 0.1\r\nnot a parameter\r\n", CA)
        self.successResultOf(d)
        self.assertEqual(
            [(getattr(message, "verb", None) or message.code, peer) for message, peer in h.owner.handled],
            [("RQNT", CA), ("RQNT", CA), (200, CA), (200, OTHER_CA), (0, CA)])

    def test_piggyBackedEachHandled(self) -> None:
        """
        Each message of a piggy-backed datagram is reported.
        """
        h = Harness()
        h.transactions.datagramReceived(rqnt(1) + b".\r\n" + rqnt(2), CA)
        self.assertEqual([message.transactionId for message, peer in h.owner.handled], [1, 2])

    def test_everyResponseSent(self) -> None:
        """
        The owner hears of every response put on the wire: the answer to a
        malformed command, a provisional, a final asking for a 000 and its
        retransmission, the cached answer to a duplicate, and the 000 that
        acknowledges a final response to one of our commands.
        """
        h = Harness()
        h.transactions.datagramReceived(b"RQNT 1204 aaln/1@gw MGCP 0.1\r\nnot a parameter\r\n", CA)
        pending: Deferred = Deferred()
        h.replies.append(pending)
        h.transactions.datagramReceived(RQNT, CA)
        h.clock.advance(0.2)
        pending.callback(Response(404, 1201, "Insufficient bandwidth"))
        h.clock.advance(0.5)
        h.transactions.datagramReceived(b"000 1201\r\n", CA)
        h.transactions.datagramReceived(RQNT, CA)
        d = h.transactions.sendCommand(ntfy(), CA)
        h.transactions.datagramReceived(b"200 700000000 OK\r\nK:\r\n", CA)
        self.successResultOf(d)
        self.assertEqual(h.owner.responses,
                         [(510, 1204, CA), (100, 1201, CA), (404, 1201, CA), (404, 1201, CA),
                          (404, 1201, CA), (0, 700000000, CA)])
        sent = [(decodeMessage(data), peer) for data, peer in h.sent]
        self.assertEqual(h.owner.responses,
                         [(m.code, m.transactionId, peer) for m, peer in sent if isinstance(m, Response)])


class OutgoingTests(SynchronousTestCase):
    """
    Commands sent by the gateway.
    """

    def test_responseFires(self) -> None:
        """
        The final response fires the Deferred; the command got a gateway
        id.
        """
        h = Harness(firstTransactionId=700000000)
        d = h.transactions.sendCommand(ntfy(), CA)
        [(data, peer)] = h.sent
        self.assertEqual(peer, CA)
        self.assertTrue(data.startswith(b"NTFY 700000000 aaln/1@gw MGCP 0.1"))
        h.transactions.datagramReceived(b"200 700000000 OK\r\n", CA)
        self.assertEqual(self.successResultOf(d).code, 200)
        self.assertEqual(h.transactions.pending, 0)

    def test_retransmissionScheduleThenTimeout(self) -> None:
        """
        Unanswered commands are resent identically at 0.5, 1.5, 3.5, 7.5,
        11.5, 15.5, 19.5 s and fail with MgcpTimeout at 20 s (mgcp.md 10.4).
        """
        h = Harness()
        times: list[float] = []
        h.transactions._send = lambda data, peer: (
            times.append(h.clock.seconds()), h.sent.append((data, peer)))
        d = h.transactions.sendCommand(ntfy(), CA)
        h.clock.pump([0.25] * 79)
        self.assertNoResult(d)
        h.clock.advance(0.25)
        self.assertEqual(times, [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5])
        self.assertEqual(len({data for data, peer in h.sent}), 1)
        error = self.failureResultOf(d, MgcpTimeout).value
        self.assertEqual(error.transactionId, 700000000)
        self.assertEqual(error.attempts, 8)
        self.assertIn("timed out after 8 attempts", str(error))
        self.assertEqual(h.transactions.counters.timeouts, 1)

    def test_provisionalStopsRetransmission(self) -> None:
        """
        A 100 stops retransmission; the final response still fires the
        Deferred, and without it the command fails after Tsmax.
        """
        h = Harness()
        d = h.transactions.sendCommand(ntfy(), CA)
        h.clock.advance(0.5)
        h.transactions.datagramReceived(b"100 700000000\r\n", CA)
        h.clock.advance(10)
        self.assertEqual(len(h.sent), 2)
        h.transactions.datagramReceived(b"200 700000000 OK\r\n", CA)
        self.assertEqual(self.successResultOf(d).code, 200)

        d2 = h.transactions.sendCommand(ntfy(), CA)
        h.clock.advance(0.5)
        h.transactions.datagramReceived(b"100 700000001\r\n", CA)
        h.clock.advance(19.9)
        self.assertNoResult(d2)
        h.clock.advance(0.1)
        self.assertEqual(self.failureResultOf(d2, MgcpTimeout).value.attempts,
                         2)
        self.assertEqual(h.transactions.pending, 0)

    def test_finalAskingForAckIsAcknowledged(self) -> None:
        """
        A final response with an empty K: is acknowledged with a 000, again
        for each duplicate of it.
        """
        h = Harness()
        d = h.transactions.sendCommand(ntfy(), CA)
        h.transactions.datagramReceived(b"200 700000000 OK\r\nK:\r\n", CA)
        self.successResultOf(d)
        self.assertEqual(h.sent[-1], (b"000 700000000\r\n", CA))
        h.transactions.datagramReceived(b"200 700000000 OK\r\nK:\r\n", CA)
        self.assertEqual(h.sent[-1], (b"000 700000000\r\n", CA))
        self.assertEqual(len(h.sent), 3)

    def test_idsWrapAndSkipZero(self) -> None:
        """
        Ids increment, wrap from 999999999 to 1 and are never 0.
        """
        h = Harness(firstTransactionId=MAX_TRANSACTION_ID - 1)
        sent = [h.transactions.sendCommand(ntfy(), CA) for i in range(3)]
        ids = [decodeMessage(data).transactionId for data, peer in h.sent]
        self.assertEqual(ids, [MAX_TRANSACTION_ID - 1, MAX_TRANSACTION_ID, 1])
        h.transactions.close()
        for d in sent:
            self.failureResultOf(d, MgcpTransactionsClosed)

    def test_idsNotReusedInWindow(self) -> None:
        """
        Ids still pending, recently completed or used by a cached incoming
        transaction are skipped.
        """
        h = Harness(firstTransactionId=5)
        h.transactions.datagramReceived(rqnt(6), CA)
        d = h.transactions.sendCommand(ntfy(), CA)
        h.transactions.datagramReceived(b"200 5 OK\r\n", CA)
        self.successResultOf(d)
        h.transactions._nextId = 5
        d = h.transactions.sendCommand(ntfy(), CA)
        self.assertEqual(decodeMessage(h.sent[-1][0]).transactionId, 7)
        h.transactions.close()
        self.failureResultOf(d, MgcpTransactionsClosed)

    def test_randomFirstId(self) -> None:
        """
        By default the first id is random and far from call agent ids.
        """
        transactions = MgcpTransactions(Clock(), lambda d, p: None,
                                        TransactionOwner(lambda c, p: None),
                                        RetransmissionPolicy(), debugLog=mgcpDebugLog())
        self.assertGreaterEqual(transactions._nextId, 500000000)

    def test_unmatchedResponse(self) -> None:
        """
        A response for no known transaction is counted and dropped.
        """
        h = Harness()
        h.transactions.datagramReceived(b"200 42 OK\r\n", CA)
        self.assertEqual(h.transactions.counters.unmatchedResponses, 1)
        self.assertEqual(h.sent, [])

    def test_responseFromAnotherPortUnmatched(self) -> None:
        """
        A response must come from the address (host and port) its command
        went to: one from another port of that host is counted unmatched
        and does not complete the command.
        """
        h = Harness()
        d = h.transactions.sendCommand(ntfy(), CA)
        h.transactions.datagramReceived(b"200 700000000 OK\r\n", (CA[0], 40123))
        self.assertNoResult(d)
        self.assertEqual(h.transactions.counters.unmatchedResponses, 1)
        h.transactions.datagramReceived(b"200 700000000 OK\r\n", CA)
        self.assertEqual(self.successResultOf(d).code, 200)

    def test_repeatedResponseFromAnotherHost(self) -> None:
        """
        A repeat of a final response must also come from the address the
        command went to: one from another host is counted unmatched and
        not acknowledged.
        """
        h = Harness()
        d = h.transactions.sendCommand(ntfy(), CA)
        h.transactions.datagramReceived(b"200 700000000 OK\r\n", CA)
        self.assertEqual(self.successResultOf(d).code, 200)
        del h.sent[:]
        h.transactions.datagramReceived(b"200 700000000 OK\r\nK:\r\n", OTHER_CA)
        self.assertEqual(h.sent, [])
        self.assertEqual((h.transactions.counters.unmatchedResponses, h.transactions.counters.duplicates), (1, 0))
        h.transactions.datagramReceived(b"200 700000000 OK\r\nK:\r\n", CA)
        self.assertEqual(h.sent, [(b"000 700000000\r\n", CA)])

    def test_answersReceived(self) -> None:
        """
        L{MgcpTransactions.answersReceived} takes the answers of a peer that
        may not command: the final response to a command sent to that host
        and port completes it, and a repeat asking for an acknowledgement
        within T-HIST gets its C{000}; after T-HIST the repeat is no longer
        taken.
        """
        h = Harness()
        d = h.transactions.sendCommand(ntfy(), OTHER_CA)
        self.assertTrue(h.transactions.answersReceived(b"200 700000000 OK\r\n", OTHER_CA))
        self.assertEqual(self.successResultOf(d).code, 200)
        self.assertEqual(h.transactions.counters.datagramsReceived, 1)
        self.assertEqual([(m.code, p) for m, p in h.owner.handled], [(200, OTHER_CA)])
        del h.sent[:]
        self.assertTrue(h.transactions.answersReceived(b"200 700000000 OK\r\nK:\r\n", OTHER_CA))
        self.assertEqual(h.sent, [(b"000 700000000\r\n", OTHER_CA)])
        h.clock.advance(RetransmissionPolicy().thist)
        self.assertFalse(h.transactions.answersReceived(b"200 700000000 OK\r\n", OTHER_CA))

    def test_answersReceivedRefuses(self) -> None:
        """
        L{MgcpTransactions.answersReceived} takes nothing from an address
        no command went to, and nothing of a datagram holding a command, a
        C{000}, a malformed message or a response to a command sent
        elsewhere (piggy-backed with a good answer too): nothing executed,
        answered, completed or counted.
        """
        h = Harness()
        self.assertFalse(h.transactions.answersReceived(b"200 1 OK\r\n", OTHER_CA))
        toOther = h.transactions.sendCommand(ntfy(), OTHER_CA)
        toCa = h.transactions.sendCommand(ntfy(), CA)
        del h.sent[:]
        for datagram, peer in [
                (b"200 700000000 OK\r\n", (OTHER_CA[0], 2727)),
                (b"200 700000001 OK\r\n", OTHER_CA),
                (b"200 4711 OK\r\n", OTHER_CA),
                (RQNT, OTHER_CA),
                (b"000 700000000\r\n", OTHER_CA),
                (b"NOT MGCP\r\n", OTHER_CA),
                (b"200 700000000 OK\r\n.\r\n" + RQNT, OTHER_CA),
                (b"200 700000000 OK\r\n.\r\n200 700000001 OK\r\n", OTHER_CA)]:
            self.assertFalse(h.transactions.answersReceived(datagram, peer), datagram)
        self.assertNoResult(toOther)
        self.assertNoResult(toCa)
        self.assertEqual((h.executed, h.sent, h.owner.handled), ([], [], []))
        self.assertEqual(h.transactions.counters, TransactionCounters(commandsSent=2))

    def test_supersede(self) -> None:
        """
        Superseding a host's outstanding commands sent before a time fails
        them with L{MgcpSuperseded} and stops their retransmission; a late
        answer to one is a repeated answer, not an unmatched one; later
        commands to that host and commands to other hosts go on.
        """
        h = Harness()
        first = h.transactions.sendCommand(ntfy(), CA)
        second = h.transactions.sendCommand(ntfy(), CA)
        other = h.transactions.sendCommand(ntfy(), OTHER_CA)
        h.clock.advance(0.1)
        later = h.transactions.sendCommand(ntfy(), CA)
        self.assertEqual(h.transactions.supersede(CA[0], h.clock.seconds()), [700000000, 700000001])
        error = self.failureResultOf(first, MgcpSuperseded).value
        self.assertEqual(str(error), "MGCP transaction 700000000 to ('127.0.0.1', 2427) superseded: the call "
                         "agent answered a later request after an outage")
        self.failureResultOf(second, MgcpSuperseded)
        del h.sent[:]
        h.clock.pump([1] * 25)
        self.assertEqual({decodeMessage(data).transactionId for data, peer in h.sent}, {700000002, 700000003})
        self.failureResultOf(other, MgcpTimeout)
        self.failureResultOf(later, MgcpTimeout)
        h.transactions.datagramReceived(b"200 700000000 OK\r\n", CA)
        self.assertEqual(h.transactions.counters.unmatchedResponses, 0)
        self.assertEqual(h.transactions.counters.duplicates, 1)

    def test_supersedeOneEndpoint(self) -> None:
        """
        Superseding for one endpoint (any case) ends only that endpoint's
        older commands; another endpoint's go on.
        """
        h = Harness()
        mine = h.transactions.sendCommand(attrs.evolve(ntfy(), endpoint="aaln/S1/SU0/0@gw"), CA)
        others = h.transactions.sendCommand(attrs.evolve(ntfy(), endpoint="aaln/S1/SU0/1@gw"), CA)
        h.clock.advance(0.1)
        self.assertEqual(h.transactions.supersede(CA[0], h.clock.seconds(), "AALN/s1/su0/0@GW"), [700000000])
        self.failureResultOf(mine, MgcpSuperseded)
        self.assertNoResult(others)
        self.assertEqual(h.transactions.pending, 1)

    def test_cancel(self) -> None:
        """
        Cancelling the Deferred stops retransmission.
        """
        h = Harness()
        d = h.transactions.sendCommand(ntfy(), CA)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        h.clock.advance(5)
        self.assertEqual(len(h.sent), 1)


class CloseTests(SynchronousTestCase):
    """
    Shutting the layer down.
    """

    def test_closeCancelsEverything(self) -> None:
        """
        close() leaves no timers, fails pending commands with
        MgcpTransactionsClosed and cancels running handlers.
        """
        h = Harness()
        running: Deferred = Deferred()
        h.replies.append(running)
        h.transactions.datagramReceived(rqnt(1), CA)
        h.transactions.datagramReceived(rqnt(2), CA)
        d = h.transactions.sendCommand(ntfy(), CA)
        h.transactions.close()
        self.assertEqual(h.clock.getDelayedCalls(), [])
        self.assertEqual(self.failureResultOf(
            d, MgcpTransactionsClosed).value.transactionId, 700000000)
        self.assertTrue(running.called)
        self.failureResultOf(h.transactions.sendCommand(ntfy(), CA),
                             MgcpTransactionsClosed)
        sent = len(h.sent)
        h.transactions.datagramReceived(rqnt(3), CA)
        self.assertEqual(len(h.sent), sent)

    def test_protocolStop(self) -> None:
        """
        stopProtocol on the datagram protocol closes the core.
        """
        clock = Clock()
        protocol = MgcpTransactionProtocol(clock, TransactionOwner(lambda c, p: None),
                                           RetransmissionPolicy(), 10, debugLog=mgcpDebugLog())
        transport = FakeDatagramTransport()
        protocol.makeConnection(transport)
        d = protocol.sendCommand(ntfy(), CA)
        self.assertEqual(transport.written[0][1], CA)
        self.assertTrue(transport.written[0][0].startswith(b"NTFY 10 "))
        protocol.doStop()
        self.failureResultOf(d, MgcpTransactionsClosed)
        self.assertEqual(clock.getDelayedCalls(), [])


class SocketTests(TestCase):
    """
    Two transaction endpoints over real UDP sockets on 127.0.0.1.
    """

    timeout = 30

    def test_exchange(self) -> None:
        """
        A command sent from one endpoint is executed by the other and its
        response fires the sender's Deferred.
        """
        seen = []

        def handle(command, peer):
            seen.append(command.verb)
            return Response(200, command.transactionId, "OK")

        server = MgcpTransactionProtocol(reactor, TransactionOwner(handle),
                                         RetransmissionPolicy(), 100, debugLog=mgcpDebugLog())
        client = MgcpTransactionProtocol(reactor, TransactionOwner(handle),
                                         RetransmissionPolicy(), 900000000, debugLog=mgcpDebugLog())
        serverPort = reactor.listenUDP(0, server, interface="127.0.0.1")
        self.addCleanup(serverPort.stopListening)
        clientPort = reactor.listenUDP(0, client, interface="127.0.0.1")
        self.addCleanup(clientPort.stopListening)
        d = client.sendCommand(
            ntfy(), ("127.0.0.1", serverPort.getHost().port))

        def check(response):
            self.assertEqual(response.code, 200)
            self.assertEqual(response.transactionId, 900000000)
            self.assertEqual(seen, ["NTFY"])
            self.assertEqual(encodeMessage(response), b"200 900000000 OK\r\n")
        return within(d, "the 200 to the NTFY").addCallback(check)
