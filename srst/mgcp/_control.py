# -*- test-case-name: tests.test_mgcp_endpoint,tests.test_mgcp_gateway -*-
"""
The control lifecycle of one MGCP endpoint (style.md: MGCP endpoints are
explicit state machines), as an Automat C{TypeMachineBuilder} machine:

  - C{controlled}: CallManager controls the port; line events are reported
    and commands executed.
  - C{draining}: relinquished to local call control (fallback) while a
    connected MGCP call is kept; the line is no longer reported, and when
    the call ends (on hook, or the call agent deletes it) the endpoint
    becomes C{local}.  The state's data is the C{whenIdle} callable to
    report that with.
  - C{local}: the router's own call control has the port; the endpoint
    answers the call agent 501 until L{EndpointControl.reclaim}.

The machine's core is a L{ControlCore} the endpoint owns: what the
transitions act on (the endpoint's notification state, the dropping of its
transient connections) and the reports of a port gone local, which the
endpoint hands out once the input that queued them is over (whoever is
told may ask the endpoint its state or reclaim it, which the machine cannot
take from inside a transition).  The C{local} state is entered only through
L{EndpointControl.idle}, which the endpoint feeds once it has no connection
and its line is idle.

L{srst.mgcp.endpoint} re-exports L{ControlState}; import it from there.
"""

from __future__ import annotations

import enum
from typing import Callable, Protocol

from attrs import define, field
from automat import TypeMachineBuilder

from srst.mgcp._requests import NotificationState


class ControlState(enum.Enum):
    """Who has the port, as seen by the endpoint."""

    CONTROLLED = "controlled"
    DRAINING = "draining"
    LOCAL = "local"


WhenIdle = Callable[[str], object]
"""C{whenIdle(portName)}: told once a relinquished port is idle."""


class EndpointControl(Protocol):
    """The inputs of an endpoint's control machine."""

    def relinquish(self, whenIdle: WhenIdle) -> None:
        "Fallback: stop MGCP control; C{whenIdle(portName)} once the port is idle."

    def idle(self) -> None:
        "The endpoint has no connection and the line is idle."

    def reclaim(self) -> None:
        "Switchback: MGCP controls the port again."

    def status(self) -> ControlState:
        "The current state."


@define(eq=False)
class ControlCore:
    """
    The control machine's core, owned by the endpoint.

    @ivar portName: the voice port's name, told to C{whenIdle}.
    @ivar notification: the endpoint's L{NotificationState} (its request,
        signals and observed events).
    @ivar dropTransient: drops the endpoint's connections unless its line
        holds a connected call (kept until the call ends).
    @ivar reports: the C{whenIdle} callables to tell, once the input that
        queued them is over (L{flushReports}).
    """

    portName: str
    notification: NotificationState
    dropTransient: Callable[[], object]
    reports: list[WhenIdle] = field(factory=list)

    def stopControl(self) -> None:
        """Relinquished: forget the request and its signals, drop the transient connections."""
        self.notification.forget()
        self.dropTransient()

    def resumeControl(self) -> None:
        """Reclaimed: start over under MGCP control with an empty request."""
        self.notification.forget()

    def reportLocal(self, whenIdle: WhenIdle) -> None:
        """The relinquished port is idle: tell C{whenIdle} once the input is over."""
        self.reports.append(whenIdle)

    def flushReports(self) -> None:
        """Tell every queued C{whenIdle} the port's name (after an input, never from a transition)."""
        while self.reports:
            self.reports.pop(0)(self.portName)


@define
class _Draining:
    """The data of C{draining}: whom to tell when the port is idle."""

    whenIdle: WhenIdle


def _makeControlMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(EndpointControl, ControlCore)

    def startDraining(inputs: EndpointControl, core: ControlCore, whenIdle: WhenIdle) -> _Draining:
        return _Draining(whenIdle)

    controlled = builder.state("controlled")
    draining = builder.state("draining", startDraining)
    local = builder.state("local")

    controlled.upon(EndpointControl.status).loop().returns(ControlState.CONTROLLED)
    draining.upon(EndpointControl.status, nodata=True).loop().returns(ControlState.DRAINING)
    local.upon(EndpointControl.status).loop().returns(ControlState.LOCAL)

    @controlled.upon(EndpointControl.relinquish).to(draining)
    def _relinquish(inputs: EndpointControl, core: ControlCore, whenIdle: WhenIdle) -> None:
        core.stopControl()

    @draining.upon(EndpointControl.relinquish).loop()
    def _relinquishAgain(inputs: EndpointControl, core: ControlCore, data: _Draining,
                         whenIdle: WhenIdle) -> None:
        data.whenIdle = whenIdle

    @local.upon(EndpointControl.relinquish).loop()
    def _alreadyLocal(inputs: EndpointControl, core: ControlCore, whenIdle: WhenIdle) -> None:
        "The port is local already: nothing is reported again."

    @draining.upon(EndpointControl.idle).to(local)
    def _drained(inputs: EndpointControl, core: ControlCore, data: _Draining) -> None:
        core.reportLocal(data.whenIdle)

    for state in (controlled, local):
        @state.upon(EndpointControl.idle).loop()
        def _idleAnyway(inputs: EndpointControl, core: ControlCore) -> None:
            "Nothing waits for it."

    @draining.upon(EndpointControl.reclaim).to(controlled)
    def _reclaimDraining(inputs: EndpointControl, core: ControlCore, data: _Draining) -> None:
        core.resumeControl()

    @local.upon(EndpointControl.reclaim).to(controlled)
    def _reclaim(inputs: EndpointControl, core: ControlCore) -> None:
        core.resumeControl()

    @controlled.upon(EndpointControl.reclaim).loop()
    def _reclaimAgain(inputs: EndpointControl, core: ControlCore) -> None:
        "MGCP controls the port already."

    return builder.build()


EndpointControlMachine = _makeControlMachine()
"""C{EndpointControlMachine(core)} gives an endpoint's L{EndpointControl} inputs."""


__all__ = ["ControlCore", "ControlState", "EndpointControl", "EndpointControlMachine", "WhenIdle"]
