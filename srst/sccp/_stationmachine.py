# -*- test-case-name: tests.test_sccp_station -*-
"""
The station machine: the states and transitions of a phone's SCCP session
(the diagram is in L{srst.sccp.station}), built with Automat's
C{TypeMachineBuilder} over a L{StationCore}.  Each state with a timer
(handshaking, connected, registered) arms it on entry; every transition out
of it cancels it.

L{srst.sccp.station} re-exports every public name here; import them from
there.
"""

from __future__ import annotations

import enum
from typing import Protocol

from automat import TypeMachineBuilder
from cryptography import x509
from twisted.internet.interfaces import IDelayedCall

from srst.sccp import messages as m
from srst.sccp._stationcore import HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_REASON, STANDBY_TIMEOUT, StationCore
from srst.sccp.constants import UnregisterStatus
from srst.sccp.registry import Ephone, Rejection


class StationStatus(enum.Enum):
    """The state of a L{srst.sccp.station.Station}, for show commands and tests."""

    NEW = "new"
    HANDSHAKING = "handshaking"
    CONNECTED = "connected"
    REGISTERED = "registered"
    CLOSED = "closed"


class StationInputs(Protocol):
    """The inputs of the station machine."""

    def plainConnected(self) -> None:
        "A clear-text connection was accepted."

    def secureConnected(self) -> None:
        "A TLS connection was accepted; the handshake is running."

    def handshakeCompleted(self, certificate: x509.Certificate | None) -> None:
        "The TLS handshake completed with this (verified) client certificate."

    def keepAlive(self) -> None:
        "KeepAlive received."

    def registrationAccepted(self, ephone: Ephone) -> None:
        "Register admitted and recorded in the registry."

    def registrationRejected(self, rejection: Rejection) -> None:
        "Register refused."

    def request(self, msg: m.Message) -> None:
        "A message only a registered phone sends (configuration requests, call control)."

    def note(self, msg: m.Message) -> None:
        "An informational message (Alarm, HeadsetStatus, ...)."

    def tokenRequested(self) -> None:
        "RegisterTokenReq received."

    def unregisterAccepted(self) -> None:
        "Unregister received and allowed."

    def unregisterRefused(self) -> None:
        "Unregister received while the phone has a call."

    def replaced(self) -> None:
        "The same device registered on another connection."

    def timedOut(self) -> None:
        "The state's timer fired."

    def lost(self) -> None:
        "The connection is gone."

    def status(self) -> StationStatus:
        "The current state."


def _cancel(timer: IDelayedCall) -> None:
    if timer.active():
        timer.cancel()


def _makeStationMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(StationInputs, StationCore)

    def armHandshake(inputs: StationInputs, core: StationCore, *args: object) -> IDelayedCall:
        return core.startTimer(HANDSHAKE_TIMEOUT, inputs.timedOut)

    def armStandby(inputs: StationInputs, core: StationCore, *args: object) -> IDelayedCall:
        return core.startTimer(STANDBY_TIMEOUT, inputs.timedOut)

    def armKeepAlive(inputs: StationInputs, core: StationCore, *args: object) -> IDelayedCall:
        return core.startTimer(core.keepAliveTimeout, inputs.timedOut)

    new = builder.state("new")
    handshaking = builder.state("handshaking", armHandshake)
    connected = builder.state("connected", armStandby)
    registered = builder.state("registered", armKeepAlive)
    closed = builder.state("closed")

    for state, value in ((new, StationStatus.NEW), (closed, StationStatus.CLOSED)):
        state.upon(StationInputs.status).loop().returns(value)
    for dataState, value in ((handshaking, StationStatus.HANDSHAKING), (connected, StationStatus.CONNECTED),
                             (registered, StationStatus.REGISTERED)):
        dataState.upon(StationInputs.status, nodata=True).loop().returns(value)

    # new

    @new.upon(StationInputs.plainConnected).to(connected)
    def _plain(inputs: StationInputs, core: StationCore) -> None:
        core.stateChanged("new", "connected", "TCP connection")

    @new.upon(StationInputs.secureConnected).to(handshaking)
    def _secure(inputs: StationInputs, core: StationCore) -> None:
        core.stateChanged("new", "handshaking", "TLS connection")

    @new.upon(StationInputs.lost).to(closed)
    def _lostNew(inputs: StationInputs, core: StationCore) -> None:
        core.closeReason = core.closeReason or "connection lost"

    # handshaking

    @handshaking.upon(StationInputs.handshakeCompleted).to(connected)
    def _handshaken(inputs: StationInputs, core: StationCore, timer: IDelayedCall,
                    certificate: x509.Certificate | None) -> None:
        _cancel(timer)
        core.certificate = certificate
        core.stateChanged("handshaking", "connected", "TLS handshake completed")

    @handshaking.upon(StationInputs.timedOut).to(closed)
    def _handshakeTimedOut(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        core.closeReason = HANDSHAKE_TIMEOUT_REASON
        core.stateChanged("handshaking", "closed", core.closeReason)
        core.sender.abortConnection()

    @handshaking.upon(StationInputs.lost).to(closed)
    def _lostHandshaking(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        _cancel(timer)
        core.closeReason = core.closeReason or "connection lost during the TLS handshake"
        core.stateChanged("handshaking", "closed", core.closeReason)

    # connected and registered: keepalives, notes, tokens

    @connected.upon(StationInputs.keepAlive).loop()
    def _standbyKeepAlive(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        timer.reset(STANDBY_TIMEOUT)
        core.standbyKeepAlives += 1
        core.sendCached("KeepAliveAck", m.KeepAliveAck)

    @registered.upon(StationInputs.keepAlive).loop()
    def _keepAlive(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        timer.reset(core.keepAliveTimeout)
        if core.ephone is not None:
            core.ephone.keepalives += 1
        core.sendCached("KeepAliveAck", m.KeepAliveAck)

    # Before registration only KeepAlive (the standby connection's message,
    # sccp.md 4.3) keeps a connection open: Alarms, tokens or Unregisters do
    # not, so a connection that never registers and is no standby
    # connection is closed STANDBY_TIMEOUT after it opened.

    @connected.upon(StationInputs.note).loop()
    def _noteConnected(inputs: StationInputs, core: StationCore, timer: IDelayedCall, msg: m.Message) -> None:
        core.note(msg)

    @registered.upon(StationInputs.note).loop()
    def _noteRegistered(inputs: StationInputs, core: StationCore, timer: IDelayedCall, msg: m.Message) -> None:
        timer.reset(core.keepAliveTimeout)
        core.note(msg)

    @connected.upon(StationInputs.tokenRequested).loop()
    def _tokenConnected(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        core.send(m.RegisterTokenAck())

    @registered.upon(StationInputs.tokenRequested).loop()
    def _tokenRegistered(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        timer.reset(core.keepAliveTimeout)
        core.send(m.RegisterTokenAck())

    @connected.upon(StationInputs.unregisterAccepted).loop()
    def _unregisterUnregistered(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        core.send(m.UnregisterAck(UnregisterStatus.OK))

    # connected: registration

    @connected.upon(StationInputs.registrationAccepted).to(registered)
    def _accepted(inputs: StationInputs, core: StationCore, timer: IDelayedCall, ephone: Ephone) -> None:
        _cancel(timer)
        core.acceptRegistration(ephone)
        core.stateChanged("connected", "registered", "Register accepted")

    @connected.upon(StationInputs.registrationRejected).to(closed)
    def _rejected(inputs: StationInputs, core: StationCore, timer: IDelayedCall, rejection: Rejection) -> None:
        _cancel(timer)
        core.rejectRegistration(rejection)
        core.stateChanged("connected", "closed", "Register rejected: " + rejection.reason.description)

    @connected.upon(StationInputs.timedOut).to(closed)
    def _standbyTimedOut(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        core.closeReason = f"no Register or KeepAlive for {STANDBY_TIMEOUT} s"
        core.stateChanged("connected", "closed", core.closeReason)
        core.sender.abortConnection()

    @connected.upon(StationInputs.lost).to(closed)
    def _lostConnected(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        _cancel(timer)
        core.closeReason = core.closeReason or "connection lost"
        core.stateChanged("connected", "closed", core.closeReason)

    # registered

    @registered.upon(StationInputs.request).loop()
    def _request(inputs: StationInputs, core: StationCore, timer: IDelayedCall, msg: m.Message) -> None:
        timer.reset(core.keepAliveTimeout)
        core.answer(msg)

    @registered.upon(StationInputs.unregisterAccepted).to(connected)
    def _unregister(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        _cancel(timer)
        core.send(m.UnregisterAck(UnregisterStatus.OK))
        core.registrationEnded("Unregister")
        core.stateChanged("registered", "connected", "Unregister")

    @registered.upon(StationInputs.unregisterRefused).loop()
    def _unregisterRefused(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        timer.reset(core.keepAliveTimeout)
        core.send(m.UnregisterAck(UnregisterStatus.NAK))
        if core.registerDebug():
            core.registerLog.debug("{station}:Unregister refused: the phone has a call", station=core.label(),
                                   socket=core.socket, ip=core.peerHost)

    @registered.upon(StationInputs.replaced).to(closed)
    def _replaced(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        _cancel(timer)
        core.closeReason = "the device registered again on another connection"
        core.stateChanged("registered", "closed", core.closeReason)
        core.registrationEnded(core.closeReason)
        core.sender.abortConnection()

    @registered.upon(StationInputs.timedOut).to(closed)
    def _keepAliveTimedOut(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        core.closeReason = f"no keepalive for {core.keepAliveTimeout:g} s"
        core.stateChanged("registered", "closed", core.closeReason)
        core.registrationEnded(core.closeReason)
        core.sender.abortConnection()

    @registered.upon(StationInputs.lost).to(closed)
    def _lostRegistered(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        _cancel(timer)
        core.closeReason = core.closeReason or "connection lost"
        core.stateChanged("registered", "closed", core.closeReason)
        core.registrationEnded(core.closeReason)

    # closed

    @closed.upon(StationInputs.lost).loop()
    def _lostClosed(inputs: StationInputs, core: StationCore) -> None:
        "Closing was our idea; the connection is now gone."

    return builder.build()


StationMachine = _makeStationMachine()
"""The station machine (C{StationMachine(core)} gives its L{StationInputs})."""


__all__ = ["StationInputs", "StationMachine", "StationStatus"]
