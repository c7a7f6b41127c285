# -*- test-case-name: tests.test_mgcp_gateway -*-
"""
The control lifecycle of one MGCP endpoint (style.md: MGCP endpoints are
explicit state machines), as an Automat C{TypeMachineBuilder} machine:

  - C{controlled}: CallManager controls the port; line events are reported
    and commands executed.
  - C{draining}: relinquished to local call control (fallback) while a
    connected MGCP call is kept; the line is no longer reported, and when
    the call ends (on hook, or the call agent deletes it) the endpoint
    becomes C{local}.
  - C{local}: the router's own call control has the port; the endpoint
    answers the call agent 501 until L{EndpointControl.reclaim}.

The machine's core is the L{srst.mgcp.endpoint.MgcpEndpoint}: a
transition drops connections or forgets requests through it, and the
C{local} state is entered only through L{EndpointControl.idle}, which the
endpoint calls once it has no connection and its line is idle.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Protocol

from automat import TypeMachineBuilder


class ControlState(enum.Enum):
    """Who has the port, as seen by the endpoint."""

    CONTROLLED = "controlled"
    DRAINING = "draining"
    LOCAL = "local"


class EndpointControl(Protocol):
    """The inputs of an endpoint's control machine."""

    def relinquish(self, whenIdle: Callable[[str], Any]) -> None:
        "Fallback: stop MGCP control; C{whenIdle(portName)} once the port is idle."

    def idle(self) -> None:
        "The endpoint has no connection and the line is idle."

    def reclaim(self) -> None:
        "Switchback: MGCP controls the port again."

    def state(self) -> ControlState:
        "The current state."


def _makeControlMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(EndpointControl, Any)
    controlled = builder.state("controlled")
    draining = builder.state("draining")
    local = builder.state("local")

    for state, value in ((controlled, ControlState.CONTROLLED), (draining, ControlState.DRAINING),
                         (local, ControlState.LOCAL)):
        state.upon(EndpointControl.state).loop().returns(value)

    @controlled.upon(EndpointControl.relinquish).to(draining)
    def _relinquish(inputs: EndpointControl, endpoint: Any, whenIdle: Callable[[str], Any]) -> None:
        endpoint._whenIdle = whenIdle
        endpoint._forgetRequest()
        if not endpoint.carriesConnectedCall:
            endpoint._dropConnections(endpoint.connections.values())

    for state in (draining, local):
        @state.upon(EndpointControl.relinquish).loop()
        def _again(inputs: EndpointControl, endpoint: Any, whenIdle: Callable[[str], Any]) -> None:
            endpoint._whenIdle = whenIdle

    @draining.upon(EndpointControl.idle).to(local)
    def _drained(inputs: EndpointControl, endpoint: Any) -> None:
        whenIdle, endpoint._whenIdle = endpoint._whenIdle, None
        if whenIdle is not None:
            whenIdle(endpoint.port.name)

    for state in (controlled, local):
        @state.upon(EndpointControl.idle).loop()
        def _idleAnyway(inputs: EndpointControl, endpoint: Any) -> None:
            pass

    for state in (draining, local):
        @state.upon(EndpointControl.reclaim).to(controlled)
        def _reclaim(inputs: EndpointControl, endpoint: Any) -> None:
            endpoint._whenIdle = None
            endpoint._forgetRequest()

    @controlled.upon(EndpointControl.reclaim).loop()
    def _reclaimAgain(inputs: EndpointControl, endpoint: Any) -> None:
        pass

    return builder.build()


EndpointControlMachine = _makeControlMachine()
"""C{EndpointControlMachine(endpoint)} gives an endpoint's L{EndpointControl} inputs."""


__all__ = ["ControlState", "EndpointControl", "EndpointControlMachine"]
