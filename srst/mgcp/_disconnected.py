# -*- test-case-name: tests.test_mgcp_gateway -*-
"""
The disconnected procedure of mgcp.md 5.3 (RFC 3435 4.4.7).

When a command to the call agent exhausts its retransmissions the gateway
is I{disconnected}: it waits a random time in C{[0, Tdinit]}, then sends
C{RSIP} with C{RM: disconnected} and C{RD: <seconds disconnected>}.  If
that fails too the wait doubles (capped at Tdmax) and it tries again.  A
command from a call agent ends the wait at once; local activity (off-hook)
does too, but no sooner than Tdmin after the last attempt.  Any final
response to the RSIP ends the procedure.  Connections are not touched.
"""

from __future__ import annotations

from typing import Callable, Optional

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst.mgcp.messages import Response


class DisconnectedProcedure:
    """
    The timers of the disconnected procedure.

    @ivar active: whether the gateway is disconnected.
    @ivar since: when it became disconnected (clock seconds), or C{None}.
    @ivar attempts: disconnected RSIPs sent in this episode.
    @ivar wait: the current disconnected timer, seconds.
    """

    log = Logger(namespace="srst.mgcp.gateway")

    def __init__(self, clock: IReactorTime, random: Callable[[], float],
                 sendRestart: Callable[[int], Deferred[Response]], tdinit: float = 15.0,
                 tdmin: float = 15.0, tdmax: float = 600.0) -> None:
        """
        @param clock: timers.
        @param random: returns a float uniformly in C{[0, 1)}.
        @param sendRestart: C{sendRestart(secondsDisconnected)} sends the
            disconnected RSIP; its L{Deferred} fires with the final response
            or fails.
        @param tdinit: initial random window, seconds.
        @param tdmin: least time between attempts on local activity, seconds.
        @param tdmax: cap of the doubling timer, seconds.
        """
        self.clock = clock
        self.random = random
        self.tdinit = tdinit
        self.tdmin = tdmin
        self.tdmax = tdmax
        self.active = False
        self.since: Optional[float] = None
        self.attempts = 0
        self.wait = 0.0
        self._sendRestart = sendRestart
        self._timer: Optional[IDelayedCall] = None
        self._inFlight = False
        self._lastAttempt: Optional[float] = None

    def enter(self) -> None:
        """
        The call agent is unreachable: start the procedure (once).
        """
        if self.active:
            return
        self.active = True
        self.since = self.clock.seconds()
        self.attempts = 0
        self.wait = self.random() * self.tdinit
        self.log.warn("MGCP: call agent unreachable; disconnected RSIP in {wait:.1f} s",
                      wait=self.wait)
        self._schedule(self.wait)

    def commandReceived(self) -> None:
        """
        A call agent sent a command: try the disconnected RSIP now.
        """
        if self.active and not self._inFlight:
            self._attempt()

    def localActivity(self) -> None:
        """
        The user did something (off-hook): try now, or Tdmin after the last
        attempt, whichever is later (and sooner than the running timer).
        """
        if not self.active or self._inFlight:
            return
        now = self.clock.seconds()
        earliest = now if self._lastAttempt is None else self._lastAttempt + self.tdmin
        if earliest <= now:
            self._attempt()
        elif self._timer is None or self._timer.getTime() > earliest:
            self._schedule(earliest - now)

    def stop(self) -> None:
        """
        Leave the procedure and cancel its timer.
        """
        self.active = False
        self._cancel()

    def _cancel(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _schedule(self, delay: float) -> None:
        self._cancel()
        self._timer = self.clock.callLater(max(delay, 0.0), self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self.active and not self._inFlight:
            self._attempt()

    def _attempt(self) -> None:
        self._cancel()
        now = self.clock.seconds()
        self._lastAttempt = now
        self._inFlight = True
        self.attempts += 1
        assert self.since is not None
        sending = self._sendRestart(int(now - self.since))
        sending.addCallbacks(self._answered, self._failed)

    def _answered(self, response: Response) -> None:
        self._inFlight = False
        if self.active:
            self.log.info("MGCP: call agent answered the disconnected RSIP ({code})",
                          code=response.code)
        self.stop()

    def _failed(self, reason: Failure) -> None:
        self._inFlight = False
        if not self.active:
            return
        self.wait = min(max(self.wait, 1.0) * 2, self.tdmax)
        self.log.warn("MGCP: disconnected RSIP failed ({error}); next in {wait:.1f} s",
                      error=reason.getErrorMessage(), wait=self.wait)
        self._schedule(self.wait)


__all__ = ["DisconnectedProcedure"]
