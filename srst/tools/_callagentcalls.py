# -*- test-case-name: tests.test_callagent -*-
"""
The call flow of L{srst.tools._callagent.CallAgent}, as CallManager runs
it against an IOS gateway's two analog lines (mgcp.md 10): CRCX on the
caller (recvonly), CRCX on the called line with the caller's SDP and
ringing, ringback to the caller; on answer MDCX the caller to sendrecv
with the called side's SDP; on hang-up (either side, or a gateway DLCX)
DLCX both and re-arm the lines.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from srst.mgcp.constants import ResponseCode
from srst.mgcp.messages import Command, Response
from srst.tools._callagenttypes import (
    LOCAL_OPTIONS,
    Call,
    CallState,
    CommandRejected,
    EventKind,
    Line,
    LineState,
    _Abandoned,
)


class CallFlow:
    """
    Setting up, connecting and releasing calls between two lines: a part
    of L{srst.tools._callagent.CallAgent}, which provides what these
    methods use: C{reactor}, C{calls}, C{_transactions}, C{_send},
    C{_newRequestId}, C{_request}, C{_arm}, C{_tone}, C{_emit} and
    C{_logFailure}.
    """

    reactor: Any
    calls: list[Call]
    _transactions: Any


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

    def _createCalled(self, _, call: Call) -> Deferred:
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
        self._markReleased(call, reason)
        for line in call.parties():
            deleting = self._deleteConnection(call, line)
            if line is by or line.state is LineState.ALERTING:
                state, events = LineState.IDLE, "L/hd(N)"
            else:
                state, events = LineState.CLEARING, "L/hu(N)"
            line.state = state
            deleting.addCallback(lambda _, l=line, s=state, e=events:
                                 self._arm(l, s, e))

    def _deleteConnection(self, call: Call, line: Line) -> Deferred:
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
