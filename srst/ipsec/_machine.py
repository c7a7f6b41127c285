# -*- test-case-name: tests.test_ipsec_machine -*-
"""
The IPsec machine: the lifecycle of L{srst.ipsec.service.IpsecService}'s
link to charon, built with Automat's C{TypeMachineBuilder} over an
L{IpsecCore}::

    idle --start--> connecting --connectFailed--> retrying --tick--> connecting
                    connecting --connected--> loading --loaded--> up --tick--> checking --checked--> up
    loading, up, checking --lost--> retrying
    idle, retrying --stop--> stopped
    connecting --stop--> abandoning --connected (closed) / connectFailed--> stopped
    loading, checking --stop--> draining --loaded / checked--> unloading
    draining --lost--> stopped
    up --stop--> unloading --unloaded--> stopped

The timers are the data of the states they belong to: C{up} arms the
tunnel check, C{retrying} the next attempt to reach charon, both after
C{retryInterval}; every transition out of either cancels its timer.  A stop
never leaves a timer or a connection behind: it waits for the connection
being made (and closes it) or the work being done with charon (loading,
checking), then unloads what srst loaded, and only that.  The unloading is
bounded by the VICI request timeout (L{srst.ipsec.vici.REQUEST_TIMEOUT}).

An input raised from inside a transition (a connection that fails at
once, a stop or a reload from a L{IpsecCore.whenFirstAttempted} waiter) is
queued by Automat and runs when the transition ends: every input but
C{status} returns L{None}, and the callers wait on L{Deferred}s the core
keeps (L{IpsecCore.whenStopped}) or that they pass in.

Work with charon runs one piece at a time (L{IpsecCore} queues it): a
reconfiguration or C{clear} while loading or checking runs once that work
has ended, and a stop unloads only after the work in flight has ended, so
it unloads what that work loaded too.  Work cut short by a lost connection
feeds no input of its own: the C{lost} input that follows moves on.

L{srst.ipsec.service} re-exports every public name here; import them from
there.
"""

from __future__ import annotations

import enum
from typing import Iterable, Protocol

from automat import TypeMachineBuilder
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from srst.ipsec._core import IpsecCore
from srst.ipsec.connections import Connection
from srst.ipsec.vici import ViciProtocol


class IpsecStatus(enum.Enum):
    """The state of an L{srst.ipsec.service.IpsecService}."""

    IDLE = "idle"
    CONNECTING = "connecting"
    LOADING = "loading"
    UP = "up"
    CHECKING = "checking"
    RETRYING = "retrying"
    STOPPING = "stopping"
    STOPPED = "stopped"


class IpsecInputs(Protocol):
    """The inputs of the IPsec machine."""

    def start(self) -> None:
        "Connect to charon and load the entries."

    def connected(self, vici: ViciProtocol) -> None:
        "The connection to charon's VICI socket is made."

    def connectFailed(self, failure: Failure) -> None:
        "Connecting to charon's VICI socket failed."

    def lost(self, reason: Failure) -> None:
        "The connection to charon is gone."

    def loaded(self) -> None:
        "Loading every entry into charon finished (each loaded or refused)."

    def checked(self) -> None:
        "The tunnel check finished."

    def unloaded(self) -> None:
        "What srst loaded is unloaded and the connection closed."

    def tick(self) -> None:
        "The state's timer fired: time to check the tunnels, or to try charon again."

    def stop(self) -> None:
        "Stop: L{IpsecCore.whenStopped} fires once nothing is loaded, connected or timed any more."

    def reconfigure(self, connections: Iterable[Connection], done: Deferred[None]) -> None:
        "A new configuration: load the difference into charon when connected; then C{done} fires."

    def clear(self, done: Deferred[None]) -> None:
        "C{clear crypto sa}: C{done} fails with L{srst.ipsec.vici.ViciError} when charon is not connected."

    def status(self) -> IpsecStatus:
        "The current state."


def _cancel(timer: IDelayedCall) -> None:
    if timer.active():
        timer.cancel()


def _makeIpsecMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(IpsecInputs, IpsecCore)
    I = IpsecInputs

    def armTimer(inputs: IpsecInputs, core: IpsecCore, *args: object) -> IDelayedCall:
        return core.startTimer(inputs)

    idle = builder.state("idle")
    connecting = builder.state("connecting")
    loading = builder.state("loading")
    up = builder.state("up", armTimer)
    checking = builder.state("checking")
    retrying = builder.state("retrying", armTimer)
    abandoning = builder.state("abandoning")
    draining = builder.state("draining")
    unloading = builder.state("unloading")
    stopped = builder.state("stopped")

    plain = (idle, connecting, loading, checking, abandoning, draining, unloading, stopped)
    timed = (up, retrying)
    statuses = {idle: IpsecStatus.IDLE, connecting: IpsecStatus.CONNECTING, loading: IpsecStatus.LOADING,
                up: IpsecStatus.UP, checking: IpsecStatus.CHECKING, retrying: IpsecStatus.RETRYING,
                abandoning: IpsecStatus.STOPPING, draining: IpsecStatus.STOPPING,
                unloading: IpsecStatus.STOPPING, stopped: IpsecStatus.STOPPED}
    for state in plain:
        state.upon(I.status).loop().returns(statuses[state])
    for dataState in timed:
        dataState.upon(I.status, nodata=True).loop().returns(statuses[dataState])

    # Where srst has no connection to charon, a lost one is an old one
    # already accounted for (closed by srst, or reported before).
    for state in (idle, connecting, abandoning, unloading, stopped):
        state.upon(I.lost).loop()(lambda inputs, core, reason: None)
    retrying.upon(I.lost, nodata=True).loop()(lambda inputs, core, reason: None)
    # Work that ended with the connection it used: the lost input moved on.
    retrying.upon(I.loaded, nodata=True).loop()(lambda inputs, core: None)
    retrying.upon(I.checked, nodata=True).loop()(lambda inputs, core: None)
    for done in (I.loaded, I.checked):
        stopped.upon(done).loop()(lambda inputs, core: None)

    # Configuration and clear: with charon connected, on it; otherwise kept for the next connection.
    for state in (loading, checking):
        state.upon(I.reconfigure).loop()(
            lambda inputs, core, connections, done: core.reconfigure(connections, done))
        state.upon(I.clear).loop()(lambda inputs, core, done: core.clear(done))
    up.upon(I.reconfigure, nodata=True).loop()(
        lambda inputs, core, connections, done: core.reconfigure(connections, done))
    up.upon(I.clear, nodata=True).loop()(lambda inputs, core, done: core.clear(done))

    def keep(inputs: IpsecInputs, core: IpsecCore, connections: Iterable[Connection], done: Deferred[None]) -> None:
        core.replace(connections)
        done.callback(None)

    def refuse(inputs: IpsecInputs, core: IpsecCore, done: Deferred[None]) -> None:
        done.errback(core.notConnected())

    for state in (idle, connecting, abandoning, draining, unloading, stopped):
        state.upon(I.reconfigure).loop()(keep)
        state.upon(I.clear).loop()(refuse)
    retrying.upon(I.reconfigure, nodata=True).loop()(keep)
    retrying.upon(I.clear, nodata=True).loop()(refuse)

    # idle

    @idle.upon(I.start).to(connecting)
    def _start(inputs: IpsecInputs, core: IpsecCore) -> None:
        core.connect(inputs)

    @idle.upon(I.stop).to(stopped)
    def _stopIdle(inputs: IpsecInputs, core: IpsecCore) -> None:
        core.stopped()

    # connecting

    @connecting.upon(I.connected).to(loading)
    def _connected(inputs: IpsecInputs, core: IpsecCore, vici: ViciProtocol) -> None:
        core.connected(vici)
        core.loadAll(inputs)

    @connecting.upon(I.connectFailed).to(retrying)
    def _unreachable(inputs: IpsecInputs, core: IpsecCore, failure: Failure) -> None:
        core.unreachable(failure)
        core.attemptFinished()

    @connecting.upon(I.stop).to(abandoning)
    def _stopConnecting(inputs: IpsecInputs, core: IpsecCore) -> None:
        "The connection being made is closed when it is (or fails)."

    # loading

    @loading.upon(I.loaded).to(up)
    def _loaded(inputs: IpsecInputs, core: IpsecCore) -> None:
        core.attemptFinished()

    @loading.upon(I.lost).to(retrying)
    def _lostLoading(inputs: IpsecInputs, core: IpsecCore, reason: Failure) -> None:
        core.lost(reason)
        core.attemptFinished()

    @loading.upon(I.stop).to(draining)
    def _stopLoading(inputs: IpsecInputs, core: IpsecCore) -> None:
        "What is loaded is unloaded once the loading has ended."

    # up

    @up.upon(I.tick).to(checking)
    def _check(inputs: IpsecInputs, core: IpsecCore, timer: IDelayedCall) -> None:
        core.check(inputs)

    @up.upon(I.lost).to(retrying)
    def _lostUp(inputs: IpsecInputs, core: IpsecCore, timer: IDelayedCall, reason: Failure) -> None:
        _cancel(timer)
        core.lost(reason)

    @up.upon(I.stop).to(unloading)
    def _stopUp(inputs: IpsecInputs, core: IpsecCore, timer: IDelayedCall) -> None:
        _cancel(timer)
        core.unloadAll(inputs)

    # checking

    @checking.upon(I.checked).to(up)
    def _checked(inputs: IpsecInputs, core: IpsecCore) -> None:
        "The next check is armed by the up state."

    @checking.upon(I.lost).to(retrying)
    def _lostChecking(inputs: IpsecInputs, core: IpsecCore, reason: Failure) -> None:
        core.lost(reason)

    @checking.upon(I.stop).to(draining)
    def _stopChecking(inputs: IpsecInputs, core: IpsecCore) -> None:
        "What is loaded is unloaded once the check has ended."

    # retrying

    @retrying.upon(I.tick).to(connecting)
    def _retry(inputs: IpsecInputs, core: IpsecCore, timer: IDelayedCall) -> None:
        core.connect(inputs)

    @retrying.upon(I.stop).to(stopped)
    def _stopRetrying(inputs: IpsecInputs, core: IpsecCore, timer: IDelayedCall) -> None:
        _cancel(timer)
        core.stopped()

    # abandoning: stopped while connecting

    @abandoning.upon(I.connected).to(stopped)
    def _connectedTooLate(inputs: IpsecInputs, core: IpsecCore, vici: ViciProtocol) -> None:
        core.close(vici)
        core.stopped()

    @abandoning.upon(I.connectFailed).to(stopped)
    def _failedAnyway(inputs: IpsecInputs, core: IpsecCore, failure: Failure) -> None:
        core.stopped()

    # draining: stopped while loading or checking

    for done in (I.loaded, I.checked):
        @draining.upon(done).to(unloading)
        def _drained(inputs: IpsecInputs, core: IpsecCore) -> None:
            core.unloadAll(inputs)

    @draining.upon(I.lost).to(stopped)
    def _lostDraining(inputs: IpsecInputs, core: IpsecCore, reason: Failure) -> None:
        core.gone()
        core.stopped()

    # unloading

    @unloading.upon(I.unloaded).to(stopped)
    def _unloaded(inputs: IpsecInputs, core: IpsecCore) -> None:
        core.stopped()

    for state in (abandoning, draining, unloading, stopped):
        state.upon(I.stop).loop()(lambda inputs, core: None)

    return builder.build()


IpsecMachine = _makeIpsecMachine()
"""The IPsec machine (C{IpsecMachine(core)} gives its L{IpsecInputs})."""


__all__ = ["IpsecInputs", "IpsecMachine", "IpsecStatus"]
