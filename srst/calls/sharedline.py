# -*- test-case-name: tests.test_calls_shared -*-
"""
Shared lines: one directory number on several endpoints (sccp.md 5.4 (j)).

A call to a shared number rings every free endpoint with it (the engine
keeps the extra ringing legs in L{srst.calls.engine.Call.alternates}).  The
first to answer takes the call; the other legs are released with
C{elsewhere} set, so their endpoints show the call as in use elsewhere, and
become L{Monitor}s of the call:

  - hold on the owner: the monitors show RemoteHold with a flashing lamp;
    any of them may pick the call up (L{pickUp}), and the former owner
    becomes a monitor in turn;
  - resume: the monitors show in use again;
  - hang-up: the monitors go idle.
"""

from __future__ import annotations

from typing import Any

from attrs import define

from srst.calls.interfaces import LineRef


@define(eq=False)
class Monitor:
    """
    An endpoint that shows a shared-line call it does not own.

    @ivar endpoint: the L{srst.calls.interfaces.ICallEndpoint}.
    @ivar line: its line with the shared number.
    @ivar reference: the callReference it shows the call under.
    @ivar held: whether the call is on hold (it may be picked up).
    """

    endpoint: Any
    line: LineRef
    reference: int
    held: bool = False


def monitorsOf(call: Any, endpoint: Any) -> list[Monitor]:
    """@return: the call's monitors on C{endpoint}."""
    return [mon for mon in call.monitors if mon.endpoint is endpoint]


def releaseAlternates(engine: Any, call: Any, keep: Any) -> None:
    """
    C{keep} answered (or the call ended): every other ringing leg of the
    shared line stops ringing.  When C{keep} is a leg the others become
    monitors; when it is L{None} they get the plain release.
    """
    alternates, call.alternates = call.alternates, []
    for leg in alternates:
        if leg is keep:
            continue
        if keep is not None:
            leg.elsewhere = True
            call.monitors.append(Monitor(leg.endpoint, leg.line, leg.callReference))
        engine._release(leg, None)


def notifyHeld(call: Any, number: str) -> None:
    """The owner of C{number} put the call on hold: its monitors may pick it up."""
    for mon in call.monitors:
        if mon.line.number == number:
            mon.held = True
            mon.endpoint.remoteHeld(mon.line, mon.reference)


def notifyResumed(call: Any, number: str) -> None:
    """The owner of C{number} resumed the call: its monitors show it in use."""
    for mon in call.monitors:
        if mon.line.number == number:
            mon.held = False
            mon.endpoint.remoteInUse(mon.line, mon.reference)


def showOutgoing(engine: Any, call: Any, leg: Any, others: list) -> None:
    """
    C{leg} placed C{call} on a shared line: the other free endpoints with
    the number (L{srst.calls.interfaces.Destination}s) show it in use.
    """
    for other in others:
        if other.endpoint is not leg.endpoint and not engine._busy(other.endpoint):
            monitor = Monitor(other.endpoint, other.line, engine.newReference())
            call.monitors.append(monitor)
            other.endpoint.remoteInUse(other.line, monitor.reference)


def handOver(old: list, call: Any, keep: tuple) -> None:
    """
    A transfer replaced calls: monitors of the numbers in C{keep} follow
    the new C{call}, the others go idle.
    """
    for mon in old:
        if mon.line.number in keep:
            call.monitors.append(mon)
        else:
            mon.endpoint.remoteIdle(mon.line, mon.reference)


def notifyIdle(call: Any) -> None:
    """The call ended: the monitors go idle."""
    monitors, call.monitors = call.monitors, []
    for mon in monitors:
        mon.endpoint.remoteIdle(mon.line, mon.reference)


def pickUp(engine: Any, call: Any, monitor: Monitor) -> Any:
    """
    The endpoint of C{monitor} picks up the held shared-line call: the
    former owner becomes a monitor, the new leg is connected and media
    reopens.

    @return: the new leg.
    """
    held = [leg for leg in (call.callee, call.caller)
            if leg in call.heldBy and leg.line.number == monitor.line.number]
    if monitor not in call.monitors or not held:
        return None
    old = held[0]
    call.monitors.remove(monitor)
    leg = engine._newLeg(monitor.endpoint, monitor.line)
    leg.callReference = monitor.reference
    leg.call = call
    leg.remote = old.remote
    leg.outgoing = old.outgoing
    leg.redirect = old.redirect
    if old is call.callee:
        call.callee = leg
    else:
        call.caller = leg
    call.heldBy.remove(old)
    old.elsewhere = True
    old.call = None
    engine._release(old, None)
    leg.machine.takeOver()
    call.secure = bool(call.caller.endpoint.secure and call.callee.endpoint.secure)
    notifyResumed(call, monitor.line.number)
    call.monitors.append(Monitor(old.endpoint, old.line, old.callReference))
    if not call.heldBy:
        other = call.other(leg)
        other.endpoint.resumedByRemote(other)
        engine._openMedia(call, [leg, other])
    return leg


__all__ = [
    "Monitor", "handOver", "monitorsOf", "notifyHeld", "notifyIdle", "notifyResumed", "pickUp", "releaseAlternates",
    "showOutgoing",
]
