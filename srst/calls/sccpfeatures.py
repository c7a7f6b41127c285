# -*- test-case-name: tests.test_calls_shared,tests.test_calls_transfer,tests.test_calls_forward -*-
"""
The SCCP signalling of the call features: shared lines (sccp.md 5.4 (j)),
transfer (h) and forwarding (i).

L{FeatureEndpoint} is the part of L{srst.calls.sccpline.SccpEndpoint} that
implements the feature methods of L{srst.calls.interfaces.ICallEndpoint};
L{FeatureControl} the part of L{srst.calls.sccpline.SccpCallControl} that
handles the Transfer and CFwdAll keys.  Both rely on the attributes and
helpers of the class they are mixed into.
"""

from __future__ import annotations

from typing import Any

from srst.calls.engine import CallStateError
from srst.calls.interfaces import LineRef, Party
from srst.calls.leg import Leg, LegStatus
from srst.sccp import messages as m
from srst.sccp.constants import (
    CallSecurityStatus,
    CallState,
    LampMode,
    RingDuration,
    RingMode,
    SoftKeySet,
    Stimulus,
    Tone,
)

_ALL_KEYS = 0xFFFFFFFF


def sccpRemoteInUse(endpoint: Any, line: LineRef, reference: int, ringing: bool) -> None:
    """
    The SCCP "in use elsewhere" sequence: SetRinger(Off) and
    ClearPromptStatus when it rang, lamp On, CallState(CallRemoteMultiline),
    SelectSoftKeys(InUseHint).
    """
    n = line.instance
    if ringing:
        endpoint.send(m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), m.ClearPromptStatus(n, reference))
    endpoint.send(m.SetLamp(Stimulus.LINE, n, LampMode.ON),
                  m.CallState(CallState.CALL_REMOTE_MULTILINE, n, reference, 0, 4, 0),
                  m.SelectSoftKeys(n, reference, SoftKeySet.IN_USE_HINT, _ALL_KEYS))


def sccpRemoteHeld(endpoint: Any, line: LineRef, reference: int) -> None:
    """The SCCP remote-hold sequence: flashing lamp, CallState(RemoteHold), OnHold keys (Resume)."""
    n = line.instance
    endpoint.send(m.SetLamp(Stimulus.LINE, n, LampMode.FLASH),
                  m.CallState(CallState.REMOTE_HOLD, n, reference, 0, 4, 0),
                  m.SelectSoftKeys(n, reference, SoftKeySet.ON_HOLD, _ALL_KEYS))


def sccpRemoteIdle(endpoint: Any, line: LineRef, reference: int, now: Any) -> None:
    """The SCCP idle sequence: lamp Off, CallState(OnHook), OnHook keys, DefineTimeDate."""
    n = line.instance
    endpoint.send(m.SetLamp(Stimulus.LINE, n, LampMode.OFF), m.CallState(CallState.ON_HOOK, n, reference, 0, 4, 0),
                  m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, _ALL_KEYS), m.DefineTimeDate.fromDateTime(now))


class FeatureEndpoint:
    """
    Feature signalling of an SCCP endpoint (mixed into
    L{srst.calls.sccpline.SccpEndpoint}).
    """

    send: Any
    station: Any
    _channels: dict[int, tuple[Leg, str]]
    _transmitting: set[int]
    _holdTone: set[int]
    _channel: Any
    _callState: Any
    _tone: Any
    _callInfo: Any

    def answeredElsewhere(self, leg: Leg) -> None:
        """sccp.md 5.4 (j): another phone with the shared line took the call."""
        ringing = self._channels.get(id(leg), (leg, ""))[1] == LegStatus.RING_IN.channel
        self._transmitting.discard(id(leg))
        self._channel(leg, None)
        sccpRemoteInUse(self, leg.line, leg.callReference, ringing)

    def remoteInUse(self, line: LineRef, reference: int) -> None:
        """sccp.md 5.4 (j): the shared line is in use on another phone."""
        sccpRemoteInUse(self, line, reference, False)

    def remoteHeld(self, line: LineRef, reference: int) -> None:
        """sccp.md 5.4 (j): the shared line's call is held elsewhere; Resume picks it up."""
        sccpRemoteHeld(self, line, reference)

    def remoteIdle(self, line: LineRef, reference: int) -> None:
        """sccp.md 5.4 (j): the shared line's call ended."""
        sccpRemoteIdle(self, line, reference, self.station.core.now())

    def transferred(self, leg: Leg, remote: Party, ringing: bool) -> None:
        """sccp.md 5.4 (h): a transfer gave the leg a new other side (ringing: ringback)."""
        if id(leg) in self._holdTone:
            self._holdTone.discard(id(leg))
            self.send(m.StopTone(leg.line.instance, leg.callReference))
        if ringing:
            self.send(self._callState(leg, CallState.RING_OUT), self._tone(leg, Tone.ALERTING))
        self.send(self._callInfo(leg, remote, CallSecurityStatus.UNKNOWN))

    def redirected(self, leg: Leg, called: Party) -> None:
        """sccp.md 5.4 (i): the caller's CallInfo names the forward target."""
        self.send(self._callInfo(leg, called, CallSecurityStatus.UNKNOWN))


class FeatureControl:
    """
    Transfer and CFwdAll keys of the SCCP adapter (mixed into
    L{srst.calls.sccpline.SccpCallControl}).
    """

    engine: Any
    forwardKeys: Any
    _leg: Any
    _line: Any

    def _active(self, endpoint: Any) -> Leg | None:
        """@return: the endpoint's leg not on hold (else any leg)."""
        legs = self.engine.legsOf(endpoint)
        return next((leg for leg in legs if leg.status is not LegStatus.HELD), legs[0] if legs else None)

    def _transfer(self, endpoint: Any, reference: int) -> None:
        leg = (self._leg(endpoint, reference) if reference else None) or self._active(endpoint)
        if leg is None:
            raise CallStateError("transfer", None)
        self.engine.transfer(leg)

    def _forwardAll(self, endpoint: Any, instance: int) -> None:
        if self.engine.hasCall(endpoint):
            raise CallStateError("forward all calls", self.engine.legsOf(endpoint)[0].status)
        self.forwardKeys.pressed(endpoint, self._line(endpoint, instance))


__all__ = ["FeatureControl", "FeatureEndpoint", "sccpRemoteHeld", "sccpRemoteIdle", "sccpRemoteInUse"]
