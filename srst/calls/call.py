# -*- test-case-name: tests.test_calls_call -*-
"""
A two-party call: its legs, who holds it, and on a shared line (one
directory number on several endpoints, sccp.md 5.4 (j)) the legs that ring
for it and the endpoints that show it.

  - A call to a shared number rings every free endpoint with it; the extra
    ringing legs are the call's I{alternates} (L{Call.addAlternate}).  The
    first to answer takes the call (L{Call.answeredBy}); the other legs
    are released with C{elsewhere} set, so their endpoints show the call
    as in use elsewhere, and become L{Monitor}s of the call.
  - A call placed from a shared line is shown in use on the other free
    endpoints with the number (L{Call.addMonitor}).
  - Hold on the owner: the monitors show RemoteHold
    (L{Call.showHeld}) and any of them may pick the call up
    (L{Call.heldLegFor}, L{Call.takeOver}): the former owner becomes a
    monitor in turn.  Resume: the monitors show it in use again
    (L{Call.showInUse}).  Hang-up: the monitors go idle
    (L{Call.showIdle}).

The call only keeps these lists and tells the monitors' endpoints; the
engine (L{srst.calls.engine.CallEngine}) creates and releases legs and
opens media.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from attrs import define, field

from srst.calls.interfaces import ICallEndpoint, LineRef
from srst.calls.leg import Leg
from srst.calls.media import MediaSession
from srst.calls.mediaservices import Music

if TYPE_CHECKING:
    from srst.calls.conference import Conference


@define(eq=False)
class Monitor:
    """
    An endpoint that shows a shared-line call it does not own.

    @ivar endpoint: the L{ICallEndpoint}.
    @ivar line: its line with the shared number.
    @ivar reference: the callReference it shows the call under.
    @ivar held: whether the call is on hold (it may be picked up).
    """

    endpoint: ICallEndpoint
    line: LineRef
    reference: int
    held: bool = False


@define(eq=False)
class Call:
    """
    A two-party call.

    @ivar number: a sequence number, for logs and show commands.
    @ivar caller: the calling leg.
    @ivar callee: the called leg.
    @ivar media: the call's L{MediaSession}.
    @ivar secure: whether both endpoints take SRTP keys.
    @ivar external: whether the call leaves the router (its callee is a
        voice port, L{ICallEndpoint.outside}) for a number outside every
        C{dialplan-pattern} (IOS: an external call), so the caller is
        presented by its full number.
    @ivar music: the music on hold a held leg hears, or L{None}.
    @ivar conference: the conference this call is a participant's part
        of (its other leg is the bridge's), or L{None}.
    """

    number: int
    caller: Leg
    callee: Leg
    media: MediaSession
    secure: bool
    external: bool = False
    music: Music | None = field(default=None, init=False)
    conference: Conference | None = field(default=None, init=False)
    _heldBy: list[Leg] = field(factory=list, init=False)
    _alternates: list[Leg] = field(factory=list, init=False)
    _monitors: list[Monitor] = field(factory=list, init=False)

    def other(self, leg: Leg) -> Leg:
        """@return: the leg that is not C{leg}."""
        return self.callee if leg is self.caller else self.caller

    @property
    def encrypted(self) -> bool:
        """Whether the call's media is SRTP."""
        return self.secure

    def updateSecurity(self) -> None:
        """A leg changed: the call is secure when both endpoints are."""
        self.secure = bool(self.caller.endpoint.secure and self.callee.endpoint.secure)

    # -- hold --------------------------------------------------------------------------------

    @property
    def held(self) -> bool:
        """Whether a leg holds the call."""
        return bool(self._heldBy)

    def isHeldBy(self, leg: Leg) -> bool:
        """@return: whether C{leg} put the call on hold."""
        return leg in self._heldBy

    def addHolder(self, leg: Leg) -> None:
        """C{leg} put the call on hold."""
        self._heldBy.append(leg)

    def removeHolder(self, leg: Leg) -> None:
        """C{leg} took the call off hold."""
        self._heldBy.remove(leg)

    # -- alternates: the legs a shared line rings --------------------------------------------

    @property
    def alternates(self) -> list[Leg]:
        """While a shared line rings: all its ringing legs (a copy)."""
        return list(self._alternates)

    def addAlternate(self, leg: Leg) -> None:
        """C{leg} rings for the call too (another endpoint with the number)."""
        self._alternates.append(leg)

    def takeAlternates(self) -> list[Leg]:
        """
        The ringing stops (the call was redirected or ended).

        @return: the legs that rang, to be released.
        """
        alternates, self._alternates = self._alternates, []
        return alternates

    def answeredBy(self, leg: Leg) -> list[Leg]:
        """
        C{leg} answered: it is the callee; every other ringing leg of the
        shared line shows the call in use elsewhere (C{elsewhere}) and
        becomes a monitor.

        @return: those other legs, to be released.
        """
        self.callee = leg
        others = [alternate for alternate in self.takeAlternates() if alternate is not leg]
        for other in others:
            other.elsewhere = True
            self._monitors.append(Monitor(other.endpoint, other.line, other.callReference))
        return others

    def dropAlternate(self, leg: Leg) -> bool:
        """
        The endpoint of a ringing leg disappeared: the call rings on without
        it, on the other alternates.

        @return: whether C{leg} was one of several alternates (the engine
            just releases it); C{False} when the call must be cleared.
        """
        if leg not in self._alternates or len(self._alternates) < 2:
            return False
        self._alternates.remove(leg)
        if self.callee is leg:
            self.callee = self._alternates[0]
        return True

    def adoptAlternates(self, old: "Call") -> None:
        """A transfer replaced C{old} by this call: its ringing legs ring for this one."""
        self._alternates = old.takeAlternates()
        for alternate in self._alternates:
            alternate.call = self

    # -- monitors: the endpoints that show the call ------------------------------------------

    @property
    def monitors(self) -> list[Monitor]:
        """The L{Monitor}s of a shared line that show the call (a copy)."""
        return list(self._monitors)

    def monitorsOn(self, endpoint: ICallEndpoint) -> list[Monitor]:
        """@return: the call's monitors on C{endpoint}."""
        return [monitor for monitor in self._monitors if monitor.endpoint is endpoint]

    def addMonitor(self, endpoint: ICallEndpoint, line: LineRef, reference: int) -> Monitor:
        """
        C{endpoint} shows the call under C{reference} on C{line}.

        @return: its L{Monitor}.
        """
        monitor = Monitor(endpoint, line, reference)
        self._monitors.append(monitor)
        return monitor

    def forgetEndpoint(self, endpoint: ICallEndpoint) -> None:
        """C{endpoint} disappeared: it shows the call no more."""
        self._monitors = [monitor for monitor in self._monitors if monitor.endpoint is not endpoint]

    def takeMonitors(self) -> list[Monitor]:
        """
        The call ends or is replaced.

        @return: its monitors, which it forgets.
        """
        monitors, self._monitors = self._monitors, []
        return monitors

    def adoptMonitors(self, monitors: Iterable[Monitor], numbers: Iterable[str]) -> None:
        """
        A transfer replaced calls by this one: the C{monitors} of its legs'
        numbers show this call, the others go idle.
        """
        keep = set(numbers)
        for monitor in monitors:
            if monitor.line.number in keep:
                self._monitors.append(monitor)
            else:
                monitor.endpoint.remoteIdle(monitor.line, monitor.reference)

    def showHeld(self, number: str) -> None:
        """The owner of C{number} put the call on hold: its monitors may pick it up."""
        for monitor in self._monitors:
            if monitor.line.number == number:
                monitor.held = True
                monitor.endpoint.remoteHeld(monitor.line, monitor.reference)

    def showInUse(self, number: str) -> None:
        """The owner of C{number} took the call (off hold): its monitors show it in use."""
        for monitor in self._monitors:
            if monitor.line.number == number:
                monitor.held = False
                monitor.endpoint.remoteInUse(monitor.line, monitor.reference)

    def showIdle(self) -> None:
        """The call ended: the monitors go idle and are forgotten."""
        for monitor in self.takeMonitors():
            monitor.endpoint.remoteIdle(monitor.line, monitor.reference)

    # -- picking up a shared-line call held elsewhere ------------------------------------------

    def heldLegFor(self, monitor: Monitor) -> Leg | None:
        """
        @return: the leg holding the call on C{monitor}'s number, which the
            monitor's endpoint may take over; L{None} when there is none or
            the monitor no longer shows the call.
        """
        if monitor not in self._monitors:
            return None
        for leg in (self.callee, self.caller):
            if leg in self._heldBy and leg.line.number == monitor.line.number:
                return leg
        return None

    def takeOver(self, old: Leg, leg: Leg, monitor: Monitor) -> None:
        """
        C{monitor}'s endpoint picks up the call C{old} held: its new C{leg}
        replaces C{old} (which no longer holds the call, and will be
        released showing the call in use elsewhere); the monitor is gone.
        """
        self._monitors.remove(monitor)
        if old is self.callee:
            self.callee = leg
        else:
            self.caller = leg
        self._heldBy.remove(old)


__all__ = ["Call", "Monitor"]
