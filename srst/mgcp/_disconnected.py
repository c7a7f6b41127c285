# -*- test-case-name: tests.test_mgcp_disconnected,tests.test_mgcp_gateway -*-
"""
The disconnected procedure of mgcp.md 5.3 (RFC 3435 4.4.7), as an Automat
C{TypeMachineBuilder} machine over a L{DisconnectedCore}.

The procedure is per endpoint (RFC 3435 4.3, 4.4.7): the gateway runs one
machine for the whole gateway (its commands for C{*@<domain>}: keepalives,
the wildcard RSIP) and one for each endpoint (its NTFY, DLCX, its own RSIP),
each with its own timer; the C{RSIP} names what is disconnected, the
endpoint or C{*}.  When a command to the call agent exhausts its
retransmissions, what it named is I{disconnected}: it waits a random time in C{[0, Tdinit]}, then sends
C{RSIP} with C{RM: disconnected} and C{RD: <seconds disconnected>}.  If
that fails too the wait doubles (capped at Tdmax) and it tries again.  A
command from a call agent ends the wait at once; local activity (off-hook)
does too, but no sooner than Tdmin after the last attempt.  Any final
response to the RSIP ends the procedure.  Connections are not touched.

States (L{DisconnectedStatus})::

    connected --command timed out--> waiting
    waiting, retrying --timer / command / local activity--> sending
    sending --RSIP answered--> connected
    sending --RSIP failed--> retrying
    waiting, retrying --stop--> connected
    sending --stop--> abandoned --RSIP answered or failed--> connected
    abandoned --command timed out--> sending

The wait before the next RSIP is the data of C{waiting} and C{retrying}
(the timer); their factories differ only in how long it is: C{waiting}'s
starts an episode (a random draw in C{[0, Tdinit]}), C{retrying}'s doubles
the last wait.  At most one disconnected RSIP is outstanding: stopped while
one is (the gateway stops every procedure when the call agent answers an
RSIP, or when it stops), the procedure is C{abandoned} until that RSIP's
result comes, and a new episode begun meanwhile (a command timed out
again) takes that RSIP as its attempt.  The result of an RSIP is fed back
as an input (L{DisconnectedInputs._answered}, L{DisconnectedInputs._failed}).
"""

from __future__ import annotations

import enum
from typing import Callable, Protocol

from attrs import define, field
from automat import TypeMachineBuilder
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst.mgcp.messages import Response


class DisconnectedStatus(enum.Enum):
    """The state of the disconnected procedure."""

    CONNECTED = "connected"
    WAITING = "waiting"
    RETRYING = "retrying"
    SENDING = "sending"
    ABANDONED = "abandoned"


DISCONNECTED = frozenset({DisconnectedStatus.WAITING, DisconnectedStatus.RETRYING,
                          DisconnectedStatus.SENDING})
"""The states in which the gateway is disconnected (the procedure runs)."""


class RestartResults(Protocol):
    """The machine's inputs that the result of a disconnected RSIP feeds."""

    def _answered(self, response: Response) -> None:
        "The call agent answered the RSIP."

    def _failed(self, reason: Failure) -> None:
        "The RSIP failed (timed out, or was refused)."


class DisconnectedInputs(Protocol):
    """The inputs of the disconnected procedure."""

    def commandTimedOut(self) -> None:
        "A command to the call agent exhausted its retransmissions."

    def commandReceived(self) -> None:
        "A call agent sent a command."

    def localActivity(self) -> None:
        "The user did something (off-hook)."

    def stop(self) -> None:
        "Leave the procedure (an RSIP was answered, or the gateway stops)."

    def _due(self) -> None:
        "The wait is over: the timer fired, or local activity may send now."

    def _answered(self, response: Response) -> None:
        "The call agent answered the RSIP."

    def _failed(self, reason: Failure) -> None:
        "The RSIP failed (timed out, or was refused)."

    def status(self) -> DisconnectedStatus:
        "The current state."


@define
class DisconnectedCore:
    """
    The machine's core: the timers' settings, the RSIP to send and what an
    episode of disconnection has done so far.

    @ivar clock: timers, and the time disconnected.
    @ivar random: returns a float uniformly in C{[0, 1)} (the Tdinit draw).
    @ivar sendRestart: C{sendRestart(secondsDisconnected)} sends the
        disconnected RSIP; its L{Deferred} fires with the final response
        or fails.
    @ivar tdinit: initial random window, seconds.
    @ivar tdmin: least time between attempts on local activity, seconds.
    @ivar tdmax: cap of the doubling timer, seconds.
    @ivar since: when the episode began (clock seconds), or L{None}.
    @ivar attempts: disconnected RSIPs sent in this episode.
    @ivar wait: the current disconnected timer, seconds.
    @ivar lastAttempt: when the last disconnected RSIP was sent (clock
        seconds, in this episode or an earlier one), or L{None}.
    @ivar endpoint: the endpoint name this procedure is for, or L{None}
        for the whole gateway (its log lines say which).
    """

    clock: IReactorTime
    random: Callable[[], float]
    sendRestart: Callable[[int], Deferred[Response]]
    tdinit: float = 15.0
    tdmin: float = 15.0
    tdmax: float = 600.0
    since: float | None = None
    attempts: int = 0
    wait: float = 0.0
    lastAttempt: float | None = None
    endpoint: str | None = None
    log: Logger = field(factory=lambda: Logger(namespace="srst.mgcp.gateway"), repr=False)

    def startTimer(self, seconds: float, expire: Callable[[], None]) -> IDelayedCall:
        """@return: a timer calling C{expire} after C{seconds} (at once when negative)."""
        return self.clock.callLater(max(seconds, 0.0), expire)

    def begin(self) -> float:
        """
        A new episode: the call agent is unreachable from now on, no RSIP
        was sent in it yet, and the first wait is drawn in C{[0, Tdinit]}.

        @return: that wait, seconds.
        """
        self.since = self.clock.seconds()
        self.attempts = 0
        self.wait = self.random() * self.tdinit
        if self.endpoint is None:
            self.log.warn("MGCP: call agent unreachable; disconnected RSIP in {wait:.1f} s", wait=self.wait)
        else:
            self.log.warn("MGCP: {endpoint} disconnected (the call agent did not answer a command for it); "
                          "disconnected RSIP for it in {wait:.1f} s", endpoint=self.endpoint, wait=self.wait)
        return self.wait

    def backOff(self) -> float:
        """
        The last RSIP failed: double the wait (at least 2 s, at most Tdmax).

        @return: the new wait, seconds.
        """
        self.wait = min(max(self.wait, 1.0) * 2, self.tdmax)
        return self.wait

    def earliestOnActivity(self) -> float:
        """
        @return: the clock time from which local activity may send the next
            RSIP: now, or Tdmin after the last attempt when that is later.
        """
        now = self.clock.seconds()
        if self.lastAttempt is None:
            return now
        return max(now, self.lastAttempt + self.tdmin)

    def attempt(self, results: RestartResults) -> None:
        """
        Send the disconnected RSIP, with C{RD:} the whole seconds since the
        episode began; its result is fed to C{results}.
        """
        now = self.clock.seconds()
        self.lastAttempt = now
        self.attempts += 1
        assert self.since is not None
        self.sendRestart(int(now - self.since)).addCallbacks(results._answered, results._failed)

    def answered(self, response: Response) -> None:
        """Log that the call agent answered the RSIP."""
        if self.endpoint is None:
            self.log.info("MGCP: call agent answered the disconnected RSIP ({code})", code=response.code)
        else:
            self.log.info("MGCP: call agent answered the disconnected RSIP for {endpoint} ({code})",
                          endpoint=self.endpoint, code=response.code)

    def failed(self, reason: Failure) -> None:
        """Log that the RSIP failed and when the next one goes."""
        if self.endpoint is None:
            self.log.warn("MGCP: disconnected RSIP failed ({error}); next in {wait:.1f} s",
                          error=reason.getErrorMessage(), wait=self.wait)
        else:
            self.log.warn("MGCP: disconnected RSIP for {endpoint} failed ({error}); next in {wait:.1f} s",
                          endpoint=self.endpoint, error=reason.getErrorMessage(), wait=self.wait)


def _cancel(timer: IDelayedCall) -> None:
    if timer.active():
        timer.cancel()


def _makeDisconnectedMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(DisconnectedInputs, DisconnectedCore)
    I = DisconnectedInputs

    def firstWait(inputs: DisconnectedInputs, core: DisconnectedCore, *args: object) -> IDelayedCall:
        return core.startTimer(core.begin(), inputs._due)

    def nextWait(inputs: DisconnectedInputs, core: DisconnectedCore, *args: object) -> IDelayedCall:
        return core.startTimer(core.backOff(), inputs._due)

    connected = builder.state("connected")
    waiting = builder.state("waiting", firstWait)
    retrying = builder.state("retrying", nextWait)
    sending = builder.state("sending")
    abandoned = builder.state("abandoned")

    for state, value in ((connected, DisconnectedStatus.CONNECTED), (sending, DisconnectedStatus.SENDING),
                         (abandoned, DisconnectedStatus.ABANDONED)):
        state.upon(I.status).loop().returns(value)
    for dataState, value in ((waiting, DisconnectedStatus.WAITING), (retrying, DisconnectedStatus.RETRYING)):
        dataState.upon(I.status, nodata=True).loop().returns(value)

    # connected

    @connected.upon(I.commandTimedOut).to(waiting)
    def _unreachable(i: DisconnectedInputs, core: DisconnectedCore) -> None:
        "The state's factory began the episode and armed the first wait."

    for method in (I.commandReceived, I.localActivity, I.stop):
        @connected.upon(method).loop()
        def _connectedAnyway(i: DisconnectedInputs, core: DisconnectedCore) -> None:
            "Not disconnected: nothing to do."

    # waiting and retrying: the timer of the next RSIP

    for state in (waiting, retrying):
        @state.upon(I.commandTimedOut, nodata=True).loop()
        def _stillUnreachable(i: DisconnectedInputs, core: DisconnectedCore) -> None:
            "Disconnected already."

        for method in (I.commandReceived, I._due):
            @state.upon(method).to(sending)
            def _send(i: DisconnectedInputs, core: DisconnectedCore, timer: IDelayedCall) -> None:
                _cancel(timer)
                core.attempt(i)

        @state.upon(I.localActivity).loop()
        def _activity(i: DisconnectedInputs, core: DisconnectedCore, timer: IDelayedCall) -> None:
            earliest = core.earliestOnActivity()
            now = core.clock.seconds()
            if earliest <= now:
                i._due()
            elif timer.getTime() > earliest:
                timer.reset(earliest - now)

        @state.upon(I.stop).to(connected)
        def _stopWaiting(i: DisconnectedInputs, core: DisconnectedCore, timer: IDelayedCall) -> None:
            _cancel(timer)

    # sending: one RSIP outstanding

    @sending.upon(I._answered).to(connected)
    def _answered(i: DisconnectedInputs, core: DisconnectedCore, response: Response) -> None:
        core.answered(response)

    @sending.upon(I._failed).to(retrying)
    def _failed(i: DisconnectedInputs, core: DisconnectedCore, reason: Failure) -> None:
        core.failed(reason)

    @sending.upon(I.stop).to(abandoned)
    def _stopSending(i: DisconnectedInputs, core: DisconnectedCore) -> None:
        "The outstanding RSIP's result is awaited in C{abandoned}."

    for method in (I.commandTimedOut, I.commandReceived, I.localActivity):
        @sending.upon(method).loop()
        def _busy(i: DisconnectedInputs, core: DisconnectedCore) -> None:
            "The outstanding RSIP is the attempt."

    # abandoned: stopped while an RSIP is outstanding

    for method in (I._answered, I._failed):
        @abandoned.upon(method).to(connected)
        def _settled(i: DisconnectedInputs, core: DisconnectedCore, result: object) -> None:
            "The procedure had ended: the result is not reported."

    @abandoned.upon(I.commandTimedOut).to(sending)
    def _unreachableAgain(i: DisconnectedInputs, core: DisconnectedCore) -> None:
        core.begin()

    for method in (I.commandReceived, I.localActivity, I.stop):
        @abandoned.upon(method).loop()
        def _abandonedAnyway(i: DisconnectedInputs, core: DisconnectedCore) -> None:
            "Not disconnected: nothing to do."

    return builder.build()


DisconnectedMachine = _makeDisconnectedMachine()
"""The disconnected procedure (C{DisconnectedMachine(core)} gives its L{DisconnectedInputs})."""


__all__ = ["DISCONNECTED", "DisconnectedCore", "DisconnectedInputs", "DisconnectedMachine",
           "DisconnectedStatus", "RestartResults"]
