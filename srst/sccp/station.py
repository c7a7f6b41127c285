# -*- test-case-name: tests.test_sccp_station -*-
"""
One phone's SCCP session: the registration lifecycle as an Automat
C{TypeMachineBuilder} machine (style.md 2.6).  What the router answers to
the phone's configuration requests (sccp.md 4.1) is built by
L{srst.sccp._templates}; the session sends it.

States::

    new --plainConnected--> connected
    new --secureConnected--> handshaking --handshakeCompleted--> connected
    connected --registrationAccepted--> registered
    registered --unregisterAccepted--> connected
    connected/registered --registrationRejected/replaced/timedOut/lost--> closed

  - C{handshaking} (secure listener only): the TLS handshake is running; it
    must complete within L{HANDSHAKE_TIMEOUT}.  No SCCP message can be
    accepted before it (TLS delivers none anyway).
  - C{connected}: not registered.  KeepAlive is acknowledged (a phone keeps
    such a I{standby} connection to its next server, sccp.md 4.3), Alarm is
    logged, RegisterTokenReq is granted; nothing here counts against
    C{max-ephones}.  A connection that stays silent for L{STANDBY_TIMEOUT}
    is closed.
  - C{registered}: the phone holds its registration in the
    L{EphoneRegistry}.  Any message counts as life; when nothing arrives for
    L{KEEPALIVE_TIMEOUT_FACTOR} times the keepalive interval (3 x 30 s by
    default, as IOS and the phones themselves give up after three missed
    keepalives), the phone is unregistered and the connection aborted.
  - C{closed}: the registration (if any) is gone; only C{lost} remains.

Each state's timer is that state's data: entering the state arms it, every
transition out of it cancels it.

The L{Station} object is the session the protocol talks to: it turns
messages into machine inputs and makes the decisions that pick between two
inputs (admit or reject a Register, accept or refuse an Unregister).  The
machine's core, L{StationCore}, holds the collaborators and sends the
answers through the protocol's C{sendMessage}.
"""

from __future__ import annotations

import datetime
import enum
import re
from typing import Any, Callable, Hashable, Protocol

from attrs import define, field
from automat import NoTransition, TypeMachineBuilder
from cryptography import x509
from cryptography.x509.oid import NameOID
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from srst.sccp import messages as m
from srst.sccp._templates import (
    SECONDARY_KEEPALIVE,
    StationSettings,
    encodedConfigurationReplies,
    encodedReply,
    negotiateVersion,
    phoneModel,
    registerAck,
)
from srst.sccp.constants import UnregisterStatus
from srst.sccp.registry import (
    Admission,
    Ephone,
    EphoneRegistry,
    RegistrationDetails,
    RejectReason,
    Rejection,
    macFromDeviceName,
)

def alwaysEnabled(namespace: str) -> bool:
    """
    The default debug gate: every debug category is on (its events are
    built and emitted; the log observers decide what to keep).

    @param namespace: a debug category's log namespace.
    @return: C{True}.
    """
    return True


KEEPALIVE_TIMEOUT_FACTOR = 3
"""A registered phone is dropped after this many keepalive intervals of silence."""

STANDBY_TIMEOUT = KEEPALIVE_TIMEOUT_FACTOR * SECONDARY_KEEPALIVE
"""Seconds of silence after which an unregistered connection is closed."""

HANDSHAKE_TIMEOUT = 30.0
"""Seconds a phone has to complete the TLS handshake on the secure listener."""

HANDSHAKE_TIMEOUT_REASON = "TLS handshake timed out"
"""The session's close reason when the handshake did not complete in time."""


def certificateCommonNames(certificate: x509.Certificate) -> list[str]:
    """
    @param certificate: a phone certificate.
    @return: the values of its subject's CN attributes.
    """
    return [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def certificateMatchesDevice(certificate: x509.Certificate, deviceName: str) -> bool:
    """
    Whether a phone certificate names the device that registers with it.

    An LSC issued by CAPF has C{CN=SEP<MAC>}; a MIC names the model and the
    MAC (C{CN=CP-7970G-SEP001122334455}).  The device name must be one whole
    token of a CN, tokens being separated by anything but letters and digits
    (so C{SEP001122334455} matches both, C{XSEP001122334455} does not).
    Case is ignored.

    @param certificate: the verified client certificate.
    @param deviceName: Register.deviceName.
    @return: whether it matches.
    """
    wanted = deviceName.upper()
    for commonName in certificateCommonNames(certificate):
        if wanted in (token.upper() for token in re.split(r"[^A-Za-z0-9]+", commonName)):
            return True
    return False


class StationStatus(enum.Enum):
    """The state of a L{Station}, for show commands and tests."""

    NEW = "new"
    HANDSHAKING = "handshaking"
    CONNECTED = "connected"
    REGISTERED = "registered"
    CLOSED = "closed"


class IMessageSender(Protocol):
    """What the session needs from its connection (L{SkinnyProtocol})."""

    protocolVersion: int

    def sendMessage(self, msg: m.Message) -> None:
        "Encode and send one message."

    def sendEncoded(self, data: bytes) -> None:
        "Send frames already encoded with C{protocolVersion}."

    def loseConnection(self) -> None:
        "Close after sending what is queued."

    def abortConnection(self) -> None:
        "Close at once."


@define
class StationCore:
    """
    The machine's core: collaborators and what the session learnt.

    @ivar clock: timers.
    @ivar sender: the connection (sends messages, closes).
    @ivar registry: the shared L{EphoneRegistry}.
    @ivar settings: the listener's L{StationSettings}.
    @ivar now: local wall-clock time for DefineTimeDate.
    @ivar socket: the listener's connection number.
    @ivar peerHost: the phone's address.
    @ivar peerPort: its port.
    @ivar registerLog: the C{debug ephone register} logger.
    @ivar stateLog: the C{debug ephone state} logger.
    @ivar callHandler: gets the registered phone's other messages (the call
        engine), or L{None} to log and ignore them.
    @ivar debugEnabled: whether a debug category (by log namespace) is on;
        the debug lines of a category that is off are not even built (the
        router passes L{srst.debug.DebugSwitches.isEnabled}).
    @ivar ephone: the registered phone's record.
    @ivar certificate: the verified TLS client certificate.
    @ivar standbyKeepAlives: KeepAlives acknowledged while not registered.
    @ivar closeReason: why the session ended.
    """

    clock: IReactorTime
    sender: IMessageSender
    registry: EphoneRegistry
    settings: StationSettings
    now: Callable[[], datetime.datetime]
    socket: int
    peerHost: str
    peerPort: int
    registerLog: Logger
    stateLog: Logger
    callHandler: Callable[[Any, m.Message], None] | None = None
    debugEnabled: Callable[[str], bool] = alwaysEnabled
    station: Any = field(default=None, repr=False)
    ephone: Ephone | None = None
    certificate: x509.Certificate | None = None
    standbyKeepAlives: int = 0
    closeReason: str = ""
    log: Logger = field(factory=lambda: Logger(namespace="srst.sccp.station"))

    # -- logging ------------------------------------------------------------------

    def label(self) -> str:
        """IOS-style session name: C{ephone-3[5]}, or C{[5]} before registration."""
        if self.ephone is not None:
            return f"ephone-{self.ephone.number}[{self.socket}]"
        return f"[{self.socket}]"

    def registerDebug(self) -> bool:
        """@return: whether C{debug ephone register} lines are wanted."""
        return self.debugEnabled(self.registerLog.namespace)

    def stateChanged(self, old: str, new: str, why: str) -> None:
        """Log a transition to C{debug ephone state}."""
        if not self.debugEnabled(self.stateLog.namespace):
            return
        self.stateLog.debug(
            "{station}:{old} -> {new} ({why})", station=self.label(), old=old, new=new, why=why,
            socket=self.socket, ephone=self.ephone.number if self.ephone else None, ip=self.peerHost)

    # -- outputs ------------------------------------------------------------------

    def send(self, msg: m.Message) -> None:
        """Send one message to the phone."""
        self.sender.sendMessage(msg)

    def sendCached(self, key: Hashable, msg: Callable[[], m.Message]) -> None:
        """
        Send a message that depends only on C{key} (and the protocol
        version), encoded once (L{encodedReply}).
        """
        self.sender.sendEncoded(encodedReply(key, msg, self.sender.protocolVersion))

    def startTimer(self, seconds: float, expire: Callable[[], None]) -> IDelayedCall:
        """@return: a timer calling C{expire} after C{seconds}."""
        return self.clock.callLater(seconds, expire)

    @property
    def keepAliveTimeout(self) -> float:
        """Seconds of silence after which a registered phone is dropped."""
        return KEEPALIVE_TIMEOUT_FACTOR * self.settings.keepAlive

    def acceptRegistration(self, ephone: Ephone) -> None:
        """Answer an admitted Register: RegisterAck, then CapabilitiesReq."""
        self.ephone = ephone
        version = ephone.protocolVersion
        self.sender.protocolVersion = version
        settings = self.settings
        self.sendCached(("RegisterAck", settings.keepAlive, settings.dateTemplate),
                        lambda: registerAck(settings, version))
        if self.registerDebug():
            self.registerLog.debug(
                "{station}:RegisterAck sent to {device}: keepalive period {keepalive}, SCCP ver {version}",
                station=self.label(), device=ephone.deviceName, keepalive=settings.keepAlive,
                version=version, socket=self.socket, ephone=ephone.number, ip=self.peerHost)
        self.sendCached("CapabilitiesReq", m.CapabilitiesReq)

    def rejectRegistration(self, rejection: Rejection) -> None:
        """Send RegisterReject with the reason's text and close."""
        self.closeReason = rejection.reason.description
        self.send(m.RegisterReject(text=rejection.reason.text))
        self.sender.loseConnection()

    def answer(self, msg: m.Message) -> None:
        """Answer a registered phone's request (or pass it to the call engine)."""
        if isinstance(msg, m.TimeDateReq):
            self._timeDate()
            return
        if isinstance(msg, m.CapabilitiesRes):
            self._capabilities(msg)
            return
        if isinstance(msg, m.RegisterAvailableLines):
            self._ephone().availableLines = msg.maxNumOfAvailLines
            return
        replies = encodedConfigurationReplies(msg, self._ephone(), self.settings, self.sender.protocolVersion)
        if replies is not None:
            if replies:
                self.sender.sendEncoded(replies)
        elif self.callHandler is not None:
            self.callHandler(self.station, msg)
        else:
            self.log.info("{station}: {message} not handled", station=self.label(),
                          message=type(msg).__name__, ip=self.peerHost, socket=self.socket)

    def note(self, msg: m.Message) -> None:
        """Log an informational message (Alarm, HeadsetStatus, ...)."""
        if isinstance(msg, m.Alarm):
            self.log.info("{station}: alarm from {ip} severity {severity}: {text}", station=self.label(),
                          ip=self.peerHost, severity=int(msg.alarmSeverity), text=msg.text,
                          param1=msg.parm1, param2=msg.parm2, socket=self.socket)
        else:
            self.log.info("{station}: {message} from {ip}", station=self.label(),
                          message=type(msg).__name__, ip=self.peerHost, socket=self.socket)

    def unregistered(self, why: str) -> None:
        """Give the registration back to the registry."""
        ephone = self.registry.unregister(self.station)
        if ephone is not None and self.registerDebug():
            self.registerLog.debug("{station}:Unregistered {device}: {why}", station=self.label(),
                                   device=ephone.deviceName, why=why, socket=self.socket,
                                   ephone=ephone.number, ip=self.peerHost)
        self.ephone = None

    def _capabilities(self, msg: m.CapabilitiesRes) -> None:
        ephone = self._ephone()
        ephone.capabilities = tuple(int(c.payloadCapability) for c in msg.capabilities)
        if not self.registerDebug():
            return
        self.registerLog.debug("{station}:Capabilities {codecs}", station=self.label(),
                               codecs=list(ephone.capabilities), socket=self.socket,
                               ephone=ephone.number, ip=self.peerHost)

    def _timeDate(self) -> None:
        self.send(m.DefineTimeDate.fromDateTime(self.now()))
        ephone = self._ephone()
        if not ephone.registrationComplete:
            ephone.registrationComplete = True
            prompt = self.settings.idlePrompt
            self.sendCached(("DisplayPromptStatus", prompt), lambda: m.DisplayPromptStatus(0, prompt, 0, 0))
            if not self.registerDebug():
                return
            self.registerLog.debug(
                "{station}:Registration complete for {device}, idle prompt sent", station=self.label(),
                device=ephone.deviceName, socket=self.socket, ephone=ephone.number, ip=self.peerHost)

    def _ephone(self) -> Ephone:
        assert self.ephone is not None, "only registered phones ask for their configuration"
        return self.ephone


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

    @connected.upon(StationInputs.note).loop()
    def _noteConnected(inputs: StationInputs, core: StationCore, timer: IDelayedCall, msg: m.Message) -> None:
        timer.reset(STANDBY_TIMEOUT)
        core.note(msg)

    @registered.upon(StationInputs.note).loop()
    def _noteRegistered(inputs: StationInputs, core: StationCore, timer: IDelayedCall, msg: m.Message) -> None:
        timer.reset(core.keepAliveTimeout)
        core.note(msg)

    @connected.upon(StationInputs.tokenRequested).loop()
    def _tokenConnected(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        timer.reset(STANDBY_TIMEOUT)
        core.send(m.RegisterTokenAck())

    @registered.upon(StationInputs.tokenRequested).loop()
    def _tokenRegistered(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        timer.reset(core.keepAliveTimeout)
        core.send(m.RegisterTokenAck())

    @connected.upon(StationInputs.unregisterAccepted).loop()
    def _unregisterUnregistered(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        timer.reset(STANDBY_TIMEOUT)
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
        core.closeReason = f"no message for {STANDBY_TIMEOUT} s before registration"
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
        core.unregistered("Unregister")
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
        core.ephone = None
        core.sender.abortConnection()

    @registered.upon(StationInputs.timedOut).to(closed)
    def _keepAliveTimedOut(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        core.closeReason = f"no keepalive for {core.keepAliveTimeout:g} s"
        core.stateChanged("registered", "closed", core.closeReason)
        core.unregistered(core.closeReason)
        core.sender.abortConnection()

    @registered.upon(StationInputs.lost).to(closed)
    def _lostRegistered(inputs: StationInputs, core: StationCore, timer: IDelayedCall) -> None:
        _cancel(timer)
        core.closeReason = core.closeReason or "connection lost"
        core.stateChanged("registered", "closed", core.closeReason)
        core.unregistered(core.closeReason)

    # closed

    @closed.upon(StationInputs.lost).loop()
    def _lostClosed(inputs: StationInputs, core: StationCore) -> None:
        "Closing was our idea; the connection is now gone."

    return builder.build()


StationMachine = _makeStationMachine()
"""The station machine (C{StationMachine(core)} gives its L{StationInputs})."""


class Station:
    """
    One phone connection's session: decodes nothing, decides what each
    message means.

    @ivar core: the machine's L{StationCore}.
    @ivar machine: the machine (L{StationInputs}).
    """

    def __init__(self, core: StationCore, hasActiveCall: Callable[[Ephone], bool]) -> None:
        """
        @param core: the core (its C{station} is set to this session).
        @param hasActiveCall: whether a phone has a call, which refuses its
            Unregister (UnregisterAck NAK).
        """
        self.core = core
        core.station = self
        self.machine: StationInputs = StationMachine(core)
        self._hasActiveCall = hasActiveCall
        self._dispatch: dict[type, Callable[[Any], None]] = {
            m.KeepAlive: lambda msg: self.machine.keepAlive(),
            m.Register: self._register,
            m.RegisterTokenReq: lambda msg: self.machine.tokenRequested(),
            m.Unregister: self._unregister,
            m.Alarm: self.machine.note,
            m.XmlAlarm: self.machine.note,
            m.HeadsetStatus: self.machine.note,
            m.IpPort: self.machine.note,
            m.MediaPathEvent: self.machine.note,
        }

    @property
    def ephone(self) -> Ephone | None:
        """The registered phone's record, or L{None}."""
        return self.core.ephone

    def status(self) -> StationStatus:
        """@return: the session's state."""
        return self.machine.status()

    def connectionMade(self, secure: bool) -> None:
        """
        The connection is up.

        @param secure: C{True} on the TLS listener (wait for the handshake).
        """
        if secure:
            self.machine.secureConnected()
        else:
            self.machine.plainConnected()

    def handshakeCompleted(self, certificate: x509.Certificate | None) -> None:
        """
        @param certificate: the phone's verified certificate, if it sent one.
        """
        self.machine.handshakeCompleted(certificate)

    def connectionLost(self) -> None:
        """The connection is gone: unregister, cancel timers."""
        self.machine.lost()

    def replaced(self) -> None:
        """Another connection took over this phone's registration."""
        self.machine.replaced()

    def send(self, msg: m.Message) -> None:
        """
        Send a message to the phone (how the call engine talks to it).

        @param msg: a router-to-phone message.
        """
        self.core.send(msg)

    def messageReceived(self, msg: m.Message) -> None:
        """
        Act on one message from the phone.

        @raise automat.NoTransition: when the message makes no sense in the
            current state (the protocol logs and ignores it).
        """
        action = self._dispatch.get(type(msg))
        if action is not None:
            action(msg)
        else:
            self.machine.request(msg)

    def _register(self, msg: m.Register) -> None:
        core = self.core
        status = self.machine.status()
        if status is not StationStatus.CONNECTED:
            core.log.warn("{station}: Register from {ip} {port} ignored in state {state}", station=core.label(),
                          ip=core.peerHost, port=core.peerPort, state=status.value, device=msg.deviceName,
                          socket=core.socket)
            return
        if core.registerDebug():
            core.registerLog.debug(
                "{station} StationRegisterMessage from {ip}: DeviceName {device} Instance {instance} "
                "deviceType {deviceType} protocol {maxVersion}", station=core.label(), ip=core.peerHost,
                device=msg.deviceName, instance=msg.instance, deviceType=int(msg.deviceType),
                maxVersion=msg.protocolVersion, socket=core.socket)
        decision = self._admit(msg)
        if isinstance(decision, Rejection):
            self._reject(msg, decision)
            return
        model = phoneModel(msg.deviceType)
        version = negotiateVersion(msg.protocolVersion)
        certificate = core.certificate
        details = RegistrationDetails(
            deviceName=msg.deviceName.upper(), socket=core.socket, peerHost=core.peerHost,
            peerPort=core.peerPort, deviceType=int(msg.deviceType), model=model.name,
            maxProtocolVersion=msg.protocolVersion, protocolVersion=version,
            maxLine=msg.maxNumberOfLines or model.maxLines, secure=core.settings.secure,
            certificateSubject=certificate.subject.rfc4514_string() if certificate is not None else None,
            loadInfo=msg.loadInfo)
        try:
            ephone, previous = core.registry.register(decision, self, details)
        except OSError as e:
            core.log.error("{station}: cannot save the auto-assigned number for {device}: {error}",
                           station=core.label(), device=msg.deviceName, error=str(e), socket=core.socket)
            self._reject(msg, Rejection(RejectReason.STORAGE, str(e)))
            return
        if previous is not None and previous is not self:
            if core.registerDebug():
                core.registerLog.debug("ephone-{ephone}: {device} registers again; closing socket {old}",
                                       ephone=ephone.number, device=ephone.deviceName,
                                       old=previous.core.socket, socket=core.socket, ip=core.peerHost)
            try:
                previous.replaced()
            except NoTransition:
                core.log.warn("{station}: the previous session of {device} was already ending",
                              station=core.label(), device=ephone.deviceName, socket=core.socket)
        self.machine.registrationAccepted(ephone)

    def _admit(self, msg: m.Register) -> Admission | Rejection:
        core = self.core
        mac = macFromDeviceName(msg.deviceName)
        if mac is None:
            return Rejection(RejectReason.INVALID_DEVICE_NAME, f"{msg.deviceName!r} is not SEP + 12 hex digits")
        if core.settings.secure:
            certificate = core.certificate
            if certificate is None:
                return Rejection(RejectReason.NO_CERTIFICATE, "the TLS client sent no certificate")
            if not certificateMatchesDevice(certificate, msg.deviceName):
                return Rejection(RejectReason.CERTIFICATE_MISMATCH,
                                 f"certificate subject {certificate.subject.rfc4514_string()} does not name "
                                 f"{msg.deviceName}")
        return core.registry.admit(mac)

    def _reject(self, msg: m.Register, rejection: Rejection) -> None:
        core = self.core
        core.log.warn("{station}: Register from {device} at {ip} {port} rejected: {reason} ({detail})",
                      station=core.label(), device=msg.deviceName, ip=core.peerHost, port=core.peerPort,
                      reason=rejection.reason.description, detail=rejection.detail, socket=core.socket)
        if core.registerDebug():
            core.registerLog.debug("{station}:RegisterReject sent to {device}: {reason}", station=core.label(),
                                   device=msg.deviceName, reason=rejection.reason.description,
                                   socket=core.socket, ip=core.peerHost)
        self.machine.registrationRejected(rejection)

    def _unregister(self, msg: m.Unregister) -> None:
        ephone = self.core.ephone
        if self.machine.status() is StationStatus.REGISTERED and ephone is not None and self._hasActiveCall(ephone):
            self.machine.unregisterRefused()
        else:
            self.machine.unregisterAccepted()


__all__ = [
    "HANDSHAKE_TIMEOUT", "HANDSHAKE_TIMEOUT_REASON", "IMessageSender", "KEEPALIVE_TIMEOUT_FACTOR",
    "STANDBY_TIMEOUT", "Station", "alwaysEnabled", "StationCore", "StationInputs", "StationMachine", "StationStatus",
    "certificateCommonNames", "certificateMatchesDevice",
]
