# -*- test-case-name: tests.test_phone_client -*-
"""
A simulated Cisco SCCP phone: the session that registers, holds the
registration with keepalives, sends what its user does (handset, keypad,
softkeys, buttons) and unregisters, built on the same codec as the router
(L{srst.sccp.messages}).

The split is the router's (style.md 2.5): L{PhoneProtocol}
(L{srst.tools._phonewire}) frames bytes and hands decoded messages to a
L{SimulatedPhone}, which decides what they mean.  A phone is usable from
tests as a Python API::

    phone = SimulatedPhone(PhoneConfig(mac="001122334455"), clock=reactor)
    connectPhone(reactor, phone, "127.0.0.1", 2000)
    yield phone.whenRegistered()
    yield phone.unregister()

The registration sequence and what counts as "registered" are described in
docs/srst-phone.md.

A phone in I{standby} mode (L{PhoneConfig.standby}) only connects and sends
KeepAlive every C{standbyKeepAliveInterval} seconds, like the standby
connection a registered phone keeps to its backup server;
L{SimulatedPhone.register} turns it into a registration.

Everything received is recorded in order (L{SimulatedPhone.received}),
everything sent too (L{SimulatedPhone.sent}), so tests assert on sequences.
The call-control senders (L{SimulatedPhone.offHook}, C{onHook},
C{pressKeys}, C{softKey}, C{stimulus}, C{sendMessage}) only send; what the
router answers goes to the message observers, where call-control tests,
tools and the phone's media (L{srst.tools._phonemedia}) follow the call.
The phone itself invents no call behaviour.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst.debug import DebugSwitches
from srst.sccp import messages as m
from srst.sccp.constants import AlarmSeverity, UnregisterStatus, keypadButton
from srst.tools._phonetypes import (
    PhoneConfig,
    PhoneDisconnected,
    PhoneSettings,
    PhoneState,
    PhoneStateError,
    RegistrationRejected,
    RegistrationTimedOut,
    UnregisterRefused,
    UnregisterTimedOut,
)

if TYPE_CHECKING:
    from srst.tools._phonemedia import PhoneMedia
    from srst.tools._phonewire import PhoneProtocol

_log = Logger(namespace="srst.tools.phone")

DEBUG_NAMESPACE = "srst.debug.phone"
"""The debug category of a phone's registration lines."""

_TRANSITIONS = {
    PhoneState.IDLE: {PhoneState.STANDBY, PhoneState.REGISTERING,
                      PhoneState.CLOSED},
    PhoneState.STANDBY: {PhoneState.REGISTERING, PhoneState.CLOSED},
    PhoneState.REGISTERING: {PhoneState.CONFIGURING, PhoneState.REJECTED,
                             PhoneState.CLOSED},
    PhoneState.CONFIGURING: {PhoneState.REGISTERED, PhoneState.UNREGISTERING,
                             PhoneState.CLOSED},
    PhoneState.REGISTERED: {PhoneState.UNREGISTERING, PhoneState.CLOSED},
    PhoneState.UNREGISTERING: {PhoneState.REGISTERED, PhoneState.CLOSED},
    PhoneState.REJECTED: {PhoneState.CLOSED},
    PhoneState.CLOSED: set(),
}
"""The states a phone may go to from each state."""

_CONFIGURATION_ANSWERS = {
    m.ButtonTemplateReq: m.ButtonTemplate.MESSAGE_ID,
    m.SoftKeyTemplateReq: m.SoftKeyTemplateRes.MESSAGE_ID,
    m.SoftKeySetReq: m.SoftKeySetRes.MESSAGE_ID,
    m.ConfigStatReq: m.ConfigStat.MESSAGE_ID,
    m.LineStatReq: m.LineStat.MESSAGE_ID,
    m.ForwardStatReq: m.ForwardStat.MESSAGE_ID,
    m.SpeedDialStatReq: m.SpeedDialStat.MESSAGE_ID,
    m.TimeDateReq: m.DefineTimeDate.MESSAGE_ID,
}
"""Each configuration request and the id of the message that answers it."""

_STATE_MESSAGES = frozenset(cls.MESSAGE_ID for cls in (
    m.KeepAliveAck, m.RegisterAck, m.RegisterReject, m.CapabilitiesReq,
    m.ButtonTemplate, m.UnregisterAck, m.Reset))
"""The messages a phone must decode to keep its state (see C{decodeAll})."""


_T = TypeVar("_T")


class OneShot(Generic[_T]):
    """
    Deferreds for a one-shot event: fired with a value or failed with an
    exception, now or later.
    """

    def __init__(self) -> None:
        self._pending: list[Deferred[_T]] = []
        self._outcome: Optional[tuple[bool, Any]] = None

    @property
    def done(self) -> bool:
        """Whether the event happened (fired or failed)."""
        return self._outcome is not None

    def wait(self) -> Deferred[_T]:
        """
        @return: a L{Deferred} with the event's outcome, now or later.
        """
        if self._outcome is None:
            d: Deferred[_T] = Deferred()
            self._pending.append(d)
            return d
        ok, value = self._outcome
        return succeed(value) if ok else fail(value)

    def fire(self, value: _T) -> None:
        """
        The event happened: fire every waiter with C{value} (only the first
        outcome counts).
        """
        self._finish((True, value))

    def fail(self, error: BaseException) -> None:
        """
        The event cannot happen: fail every waiter with C{error} (only the
        first outcome counts).
        """
        self._finish((False, error))

    def _finish(self, outcome: tuple[bool, Any]) -> None:
        if self._outcome is not None:
            return
        self._outcome = outcome
        pending, self._pending = self._pending, []
        ok, value = outcome
        for d in pending:
            if ok:
                d.callback(value)
            else:
                d.errback(Failure(value))


class SimulatedPhone:
    """
    One simulated phone on one connection (see the module docstring).

    @ivar config: the L{PhoneConfig}.
    @ivar state: the L{PhoneState}.
    @ivar received: every message received, in order (with
        C{config.decodeAll} off, only the decoded ones).
    @ivar skipped: how many messages were counted without decoding.
    @ivar sent: every message sent, in order.
    @ivar negotiatedVersion: the protocol version from RegisterAck.
    @ivar keepAliveInterval: seconds, from RegisterAck.
    @ivar rejectText: the RegisterReject text, if rejected.
    @ivar settings: the L{PhoneSettings} the router sent (buttons, lines,
        line/forward/speed-dial status, softkeys, time, prompt).
    @ivar keepAlivesSent: how many KeepAlives went out.
    @ivar keepAliveAcks: how many KeepAliveAcks came in.
    @ivar connectedAt: clock time of the connection, or C{None}.
    @ivar registeredAt: clock time registration completed, or C{None}.
    @ivar media: the L{srst.tools._phonemedia.PhoneMedia} that answers the
        router's media messages, or C{None} (the default: the phone opens no
        RTP ports and leaves OpenReceiveChannel to its observers).
    """

    def __init__(self, config: PhoneConfig, *, clock: IReactorTime,
                 debug: Optional[DebugSwitches] = None) -> None:
        """
        @param config: what the phone is.
        @param clock: the time source for keepalives and timeouts.
        @param debug: the debug switches its L{DEBUG_NAMESPACE} lines go
            through (a load generator shares one set among its phones); by
            default a set of its own, all off.
        """
        self.config = config
        self.clock = clock
        self._debug = (debug if debug is not None
                       else DebugSwitches()).logger(DEBUG_NAMESPACE)
        self.state = PhoneState.IDLE
        self.protocol: Optional[PhoneProtocol] = None
        self.received: list[m.Message] = []
        self.sent: list[m.Message] = []
        self.negotiatedVersion: Optional[int] = None
        self.keepAliveInterval: Optional[int] = None
        self.rejectText: Optional[str] = None
        self.settings = PhoneSettings()
        self.keepAlivesSent = 0
        self.keepAliveAcks = 0
        self.connectedAt: Optional[float] = None
        self.registeredAt: Optional[float] = None
        self.media: Optional[PhoneMedia] = None
        self._unanswered = 0
        self._pending: collections.Counter[int] = collections.Counter()
        self.skipped = 0
        self._firstBatchSent = False
        self._secondBatchSent = False
        self._unregisterAcked = False
        self._observers: list[Callable[[m.Message], None]] = []
        self._keepAliveCall: Optional[IDelayedCall] = None
        self._capabilitiesCall: Optional[IDelayedCall] = None
        self._registrationCall: Optional[IDelayedCall] = None
        self._unregisterCall: Optional[IDelayedCall] = None
        self._registered: OneShot[SimulatedPhone] = OneShot()
        self._rejected: OneShot[m.RegisterReject] = OneShot()
        self._disconnected: OneShot[BaseException] = OneShot()
        self._unregistered: Optional[OneShot[None]] = None

    def __repr__(self) -> str:
        return "<SimulatedPhone %s %s>" % (self.config.deviceName,
                                          self.state.value)

    @property
    def deviceName(self) -> str:
        """The phone's device name."""
        return self.config.deviceName

    # -- events for callers ------------------------------------------------

    def whenRegistered(self) -> Deferred[SimulatedPhone]:
        """
        @return: a L{Deferred} firing with this phone once registration is
            complete (module docstring), or failing with
            L{RegistrationRejected}, L{RegistrationTimedOut} or
            L{PhoneDisconnected} if it cannot complete.
        """
        return self._registered.wait()

    def whenRejected(self) -> Deferred[m.RegisterReject]:
        """
        @return: a L{Deferred} firing with the L{RegisterReject} when the
            router refuses the phone, or failing with L{PhoneDisconnected}
            when the connection ends without one.
        """
        return self._rejected.wait()

    def whenDisconnected(self) -> Deferred[BaseException]:
        """
        @return: a L{Deferred} firing (never failing) with the exception
            that ended the connection (C{ConnectionDone} for a clean close)
            once it is gone or could not be made.
        """
        return self._disconnected.wait()

    def addMessageObserver(self, observer: Callable[[m.Message], None]) -> None:
        """
        Call C{observer(message)} for every message received from now on
        (after the phone's own handling).  The hook for call control and
        media.

        @param observer: a callable taking one message.
        """
        self._observers.append(observer)

    def removeMessageObserver(self, observer: Callable[[m.Message], None]) -> None:
        """
        @param observer: an observer added with L{addMessageObserver}.
        """
        self._observers.remove(observer)

    def receivedOfType(self, messageType: type) -> list[m.Message]:
        """
        @param messageType: a message class.
        @return: the received messages of that class, in order.
        """
        return [msg for msg in self.received if isinstance(msg, messageType)]

    # -- transitions ---------------------------------------------------------

    def _enter(self, state: PhoneState) -> None:
        if state not in _TRANSITIONS[self.state]:
            raise PhoneStateError(self.deviceName, "cannot go from %s to %s"
                                  % (self.state.value, state.value))
        self.state = state

    def _send(self, *messages: m.Message,
              protocolVersion: Optional[int] = None) -> None:
        self.sent.extend(messages)
        self.protocol.sendMessages(messages, protocolVersion)

    # -- connection (called by the protocol) ---------------------------------

    def connectionMade(self, protocol: PhoneProtocol) -> None:
        """
        The connection is up: start standby keepalives or register.

        @param protocol: the connection's
            L{srst.tools._phonewire.PhoneProtocol}, which the phone sends
            through from now on.
        """
        self.protocol = protocol
        self.connectedAt = self.clock.seconds()
        timeout = self.config.registrationTimeout
        if timeout is not None and not self.config.standby:
            self._registrationCall = self.clock.callLater(
                timeout, self._registrationTimedOut)
        if self.config.standby:
            self._enter(PhoneState.STANDBY)
            self._sendKeepAlive()
        else:
            self._startRegistration()

    def connectionFailed(self, reason: Failure) -> None:
        """
        The connection could not be made.

        @param reason: why.
        """
        if self.state is PhoneState.IDLE:
            self._closed(reason)

    def connectionLost(self, reason: Failure) -> None:
        """
        The connection is gone: stop every timer and settle every waiter.

        @param reason: why.
        """
        self._closed(reason)

    def _closed(self, reason: Failure) -> None:
        if self.state is PhoneState.CLOSED:
            return
        wasState = self.state
        self._enter(PhoneState.CLOSED)
        for call in (self._keepAliveCall, self._capabilitiesCall,
                     self._registrationCall, self._unregisterCall):
            if call is not None and call.active():
                call.cancel()
        self._keepAliveCall = self._capabilitiesCall = None
        self._registrationCall = self._unregisterCall = None
        text = reason.getErrorMessage() if reason is not None else "closed"
        gone = PhoneDisconnected(self.deviceName, "connection closed in state "
                                 "%s: %s" % (wasState.value, text))
        self._registered.fail(gone)
        self._rejected.fail(gone)
        if self._unregistered is not None:
            if self._unregisterAcked:
                self._unregistered.fire(None)
            else:
                self._unregistered.fail(gone)
        self._disconnected.fire(reason.value)

    def _loseConnection(self) -> None:
        if self.protocol is not None:
            self.protocol.loseConnection()

    def _abortConnection(self) -> None:
        if self.protocol is not None:
            self.protocol.abortConnection()

    # -- registration ----------------------------------------------------------

    def register(self) -> None:
        """
        Register a phone that is in standby mode.

        @raise PhoneStateError: when the phone is not in standby.
        """
        if self.state is not PhoneState.STANDBY:
            raise PhoneStateError(self.deviceName, "register() needs a "
                                  "standby phone, not %s" % (self.state.value,))
        self._cancelKeepAlive()
        timeout = self.config.registrationTimeout
        if timeout is not None:
            self._registrationCall = self.clock.callLater(
                timeout, self._registrationTimedOut)
        self._startRegistration()

    def _registerMessage(self) -> m.Register:
        config = self.config
        address = config.stationIpAddr
        if address is None:
            address = self.protocol.localAddress()
        return m.Register(
            deviceName=config.deviceName, userId=0, instance=1,
            stationIpAddr=address, deviceType=config.deviceType,
            maxStreams=config.maxStreams, activeStreams=0,
            protocolVersion=config.protocolVersion, reserved=0,
            phoneFeatures=config.phoneFeatures, maxConferences=0,
            activeConferences=0,
            macAddress=bytes.fromhex(config.mac) + b"\x00" * 6,
            maxNumberOfLines=0, loadInfo=config.loadInfo)

    def _startRegistration(self) -> None:
        self._enter(PhoneState.REGISTERING)
        first: list[m.Message] = []
        if self.config.sendAlarm:
            first.append(m.Alarm(
                alarmSeverity=AlarmSeverity.INFORMATIONAL,
                text="Name=%s Load=%s Last=%s" % (
                    self.config.deviceName, self.config.loadInfo,
                    self.config.alarmLast)))
        self.sent.extend(first)
        register = self._registerMessage()
        self.sent.append(register)
        self.protocol.sendFrames(
            [(msg, 0) for msg in first]
            + [(register, self.config.protocolVersion)])

    def _registrationTimedOut(self) -> None:
        self._registrationCall = None
        _log.warn("{device}: registration not complete after {timeout} s;"
                  " closing", device=self.deviceName,
                  timeout=self.config.registrationTimeout)
        self._registered.fail(RegistrationTimedOut(
            self.deviceName, "registration not complete after %g s in state "
            "%s" % (self.config.registrationTimeout, self.state.value)))
        self._abortConnection()

    def _registerAck(self, msg: m.RegisterAck) -> None:
        ours = self.config.protocolVersion
        version = msg.protocolVersion
        if version > ours:
            _log.warn("{device}: router negotiated protocol {version} above "
                      "ours ({ours}); using {ours}", device=self.deviceName,
                      version=version, ours=ours)
            version = ours
        self.negotiatedVersion = version
        self.protocol.protocolVersion = version
        self.keepAliveInterval = msg.keepAliveInterval
        self._enter(PhoneState.CONFIGURING)
        self._armKeepAlive()
        if self.config.capabilitiesWait > 0:
            self._capabilitiesCall = self.clock.callLater(
                self.config.capabilitiesWait, self._capabilitiesNotAsked)
        else:
            self._send(*self._firstBatch())

    def _registerAckReceived(self, msg: m.RegisterAck) -> None:
        if self.state is PhoneState.REGISTERING:
            self._registerAck(msg)

    def _capabilitiesNotAsked(self) -> None:
        self._capabilitiesCall = None
        if not self._firstBatchSent and self.state is PhoneState.CONFIGURING:
            self._send(*self._firstBatch())

    def _capabilitiesReq(self, msg: m.CapabilitiesReq) -> None:
        reply: list[m.Message] = [
            m.CapabilitiesRes(capabilities=self.config.capabilities)]
        if (self.state is PhoneState.CONFIGURING
                and not self._firstBatchSent):
            if self._capabilitiesCall is not None:
                self._capabilitiesCall.cancel()
                self._capabilitiesCall = None
            reply.extend(self._firstBatch())
        self._send(*reply)

    def _request(self, msg: m.Message) -> m.Message:
        self._pending[_CONFIGURATION_ANSWERS[type(msg)]] += 1
        return msg

    def _firstBatch(self) -> list[m.Message]:
        self._firstBatchSent = True
        batch = [self._request(m.ButtonTemplateReq()),
                 self._request(m.SoftKeyTemplateReq()),
                 self._request(m.SoftKeySetReq())]
        if self.config.requestConfigStat:
            batch.append(self._request(m.ConfigStatReq()))
        return batch

    def _buttonTemplate(self, msg: m.ButtonTemplate) -> None:
        if self._secondBatchSent or self.state is not PhoneState.CONFIGURING:
            return
        self._secondBatchSent = True
        batch: list[m.Message] = []
        settings = self.settings
        for line in settings.lines:
            batch.append(self._request(m.LineStatReq(lineNumber=line)))
            if self.config.requestForwardStat:
                batch.append(self._request(m.ForwardStatReq(lineNumber=line)))
        for number in settings.speedDials:
            batch.append(self._request(
                m.SpeedDialStatReq(speedDialNumber=number)))
        batch.append(m.RegisterAvailableLines(
            maxNumOfAvailLines=len(settings.lines)))
        batch.append(self._request(m.TimeDateReq()))
        self._send(*batch)

    def _answeredId(self, messageId: int) -> None:
        if self._pending[messageId] > 0:
            self._pending[messageId] -= 1
        if (self.state is PhoneState.CONFIGURING and self._secondBatchSent
                and not +self._pending):
            self._registrationComplete()

    def _registrationComplete(self) -> None:
        self._enter(PhoneState.REGISTERED)
        self.registeredAt = self.clock.seconds()
        if self._registrationCall is not None:
            self._registrationCall.cancel()
            self._registrationCall = None
        self._debug.debug("{device}: registered at protocol {version}, "
                          "keepalive {interval} s, lines {lines}",
                          device=self.deviceName,
                          version=self.negotiatedVersion,
                          interval=self.keepAliveInterval,
                          lines=self.settings.lines)
        self._registered.fire(self)

    def _registerReject(self, msg: m.RegisterReject) -> None:
        self.rejectText = msg.text
        if self.state is PhoneState.REGISTERING:
            self._enter(PhoneState.REJECTED)
        _log.info("{device}: registration rejected: {text!r}",
                  device=self.deviceName, text=msg.text)
        self._registered.fail(RegistrationRejected(self.deviceName, msg.text))
        self._rejected.fire(msg)
        self._loseConnection()

    # -- keepalive ---------------------------------------------------------------

    def _interval(self) -> float:
        if self.state is PhoneState.STANDBY:
            return self.config.standbyKeepAliveInterval
        return self.keepAliveInterval or self.config.standbyKeepAliveInterval

    def _armKeepAlive(self) -> None:
        self._cancelKeepAlive()
        self._keepAliveCall = self.clock.callLater(
            self._interval(), self._keepAliveDue)

    def _cancelKeepAlive(self) -> None:
        if self._keepAliveCall is not None and self._keepAliveCall.active():
            self._keepAliveCall.cancel()
        self._keepAliveCall = None

    def _keepAliveDue(self) -> None:
        self._keepAliveCall = None
        if self._unanswered >= self.config.maxMissedKeepAlives:
            _log.warn("{device}: {missed} keepalives unanswered; the router "
                      "is gone, aborting", device=self.deviceName,
                      missed=self._unanswered)
            self._abortConnection()
            return
        self._sendKeepAlive()

    def _sendKeepAlive(self) -> None:
        self._unanswered += 1
        self.keepAlivesSent += 1
        self._send(m.KeepAlive())
        self._armKeepAlive()

    # -- unregistration and stopping --------------------------------------------

    def unregister(self) -> Deferred[None]:
        """
        Send Unregister, wait for UnregisterAck and close the connection.

        @return: a L{Deferred} firing with C{None} once the connection is
            closed after an OK UnregisterAck; failing with
            L{UnregisterRefused} (the phone stays registered),
            L{UnregisterTimedOut} or L{PhoneDisconnected}.
        """
        if self.state not in (PhoneState.REGISTERED, PhoneState.CONFIGURING):
            return fail(PhoneStateError(
                self.deviceName, "cannot unregister in state %s"
                % (self.state.value,)))
        self._enter(PhoneState.UNREGISTERING)
        self._unregistered = OneShot()
        self._unregisterAcked = False
        self._unregisterCall = self.clock.callLater(
            self.config.unregisterTimeout, self._unregisterTimedOut)
        self._send(m.Unregister())
        return self._unregistered.wait()

    def _unregisterTimedOut(self) -> None:
        self._unregisterCall = None
        waiters = self._unregistered
        if waiters is not None:
            waiters.fail(UnregisterTimedOut(
                self.deviceName, "no UnregisterAck within %g s"
                % (self.config.unregisterTimeout,)))
        self._abortConnection()

    def _unregisterAck(self, msg: m.UnregisterAck) -> None:
        if self.state is not PhoneState.UNREGISTERING:
            return
        if self._unregisterCall is not None:
            self._unregisterCall.cancel()
            self._unregisterCall = None
        if msg.status == UnregisterStatus.OK:
            self._unregisterAcked = True
            self._cancelKeepAlive()
            self._loseConnection()
            return
        waiters = self._unregistered
        self._unregistered = None
        self._enter(PhoneState.REGISTERED)
        if waiters is not None:
            waiters.fail(UnregisterRefused(
                self.deviceName, "UnregisterAck status %r" % (msg.status,)))

    def stop(self) -> Deferred[BaseException]:
        """
        Close the connection without unregistering (like pulling the cable
        gracefully).

        @return: L{whenDisconnected}.
        """
        if self.state is PhoneState.IDLE:
            self._closed(Failure(PhoneDisconnected(
                self.deviceName, "stopped before connecting")))
        else:
            self._cancelKeepAlive()
            self._loseConnection()
        return self.whenDisconnected()

    # -- call control: what the user does (only sends; what the router
    # answers goes to the message observers) ----------------------------------

    def _checkRegistered(self, what: str) -> None:
        if self.state is not PhoneState.REGISTERED:
            raise PhoneStateError(self.deviceName, "%s needs a registered "
                                  "phone, not %s" % (what, self.state.value))

    def offHook(self, lineInstance: int = 0, callReference: int = 0) -> None:
        """
        Lift the handset: send OffHook.

        @param lineInstance: the line (0: a new call; protocol 11 and up).
        @param callReference: the call to answer (protocol 11 and up).
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("offHook")
        self._send(m.OffHook(lineInstance=lineInstance,
                             callReference=callReference))

    def onHook(self, lineInstance: int = 0, callReference: int = 0) -> None:
        """
        Hang up: send OnHook.

        @param lineInstance: the line.
        @param callReference: the call.
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("onHook")
        self._send(m.OnHook(lineInstance=lineInstance,
                            callReference=callReference))

    def pressKeys(self, digits: str, lineInstance: int = 0,
                  callReference: int = 0) -> None:
        """
        Dial: one KeypadButton per character, in one write.

        @param digits: characters of C{"0123456789ABCD*#+"}.
        @param lineInstance: the line.
        @param callReference: the call.
        @raise ValueError: for a character that is not on a keypad.
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("pressKeys")
        buttons = [keypadButton(c) for c in digits]
        self._send(*[m.KeypadButton(kpButton=b, lineInstance=lineInstance,
                                    callReference=callReference)
                     for b in buttons])

    def softKey(self, softKeyEvent: int, lineInstance: int = 0,
                callReference: int = 0) -> None:
        """
        Press a softkey: send SoftKeyEvent.

        @param softKeyEvent: a L{srst.sccp.constants.SoftKeyEvent}.
        @param lineInstance: the line (0 when idle).
        @param callReference: the call (0 when idle).
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("softKey")
        self._send(m.SoftKeyEvent(softKeyEvent=softKeyEvent,
                                  lineInstance=lineInstance,
                                  callReference=callReference))

    def stimulus(self, stimulus: int, stimulusInstance: int = 1,
                 callReference: int = 0) -> None:
        """
        Press a feature or line button: send Stimulus.

        @param stimulus: a L{srst.sccp.constants.Stimulus}.
        @param stimulusInstance: the button's instance.
        @param callReference: the call.
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("stimulus")
        self._send(m.Stimulus(stimulus=stimulus,
                              stimulusInstance=stimulusInstance,
                              callReference=callReference))

    def sendMessage(self, msg: m.Message) -> None:
        """
        Send any message at the negotiated version (media answers such as
        OpenReceiveChannelAck, or protocol experiments).

        @param msg: the message.
        @raise PhoneStateError: when not connected.
        """
        if self.protocol is None or self.state is PhoneState.CLOSED:
            raise PhoneStateError(self.deviceName, "not connected")
        self._send(msg)

    # -- receiving ------------------------------------------------------------

    def wantsMessage(self, messageId: int) -> bool:
        """
        Whether the protocol should decode a message before handing it
        over (always, unless C{config.decodeAll} is off and nothing
        observes messages).

        @param messageId: the id of a received frame.
        @return: C{True} to decode it and call L{messageReceived}, C{False}
            to call L{messageSkipped}.
        """
        return (self.config.decodeAll or messageId in _STATE_MESSAGES
                or bool(self._observers))

    def messageSkipped(self, messageId: int) -> None:
        """
        Account for a message that was not decoded: it still answers a
        configuration request.

        @param messageId: its id.
        """
        self.skipped += 1
        self._answeredId(messageId)

    def messageReceived(self, msg: m.Message) -> None:
        """
        Handle one decoded message from the router.

        @param msg: the message.
        """
        self.received.append(msg)
        self.settings.record(msg)
        handler = self._HANDLERS.get(type(msg))
        if handler is not None:
            handler(self, msg)
        self._answeredId(m.messageIdOf(msg))
        for observer in list(self._observers):
            observer(msg)

    def _keepAliveAck(self, msg: m.KeepAliveAck) -> None:
        self.keepAliveAcks += 1
        self._unanswered = 0

    def _reset(self, msg: m.Reset) -> None:
        _log.info("{device}: router sent Reset {resetType!r}; closing",
                  device=self.deviceName, resetType=msg.resetType)
        self._loseConnection()

    _HANDLERS: dict[type, Callable[[SimulatedPhone, Any], None]] = {
        m.KeepAliveAck: _keepAliveAck,
        m.RegisterAck: _registerAckReceived,
        m.RegisterReject: _registerReject,
        m.CapabilitiesReq: _capabilitiesReq,
        m.ButtonTemplate: _buttonTemplate,
        m.UnregisterAck: _unregisterAck,
        m.Reset: _reset,
    }


__all__ = ["DEBUG_NAMESPACE", "SimulatedPhone"]
