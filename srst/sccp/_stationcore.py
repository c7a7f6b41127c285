# -*- test-case-name: tests.test_sccp_station -*-
"""
The core of a phone's SCCP session (L{srst.sccp.station}): the
collaborators the station machine's transitions use, what the session
learnt about the phone, and the answers it sends (RegisterAck,
RegisterReject, the replies to a registered phone's requests), plus the
session's timeouts.

L{srst.sccp.station} re-exports every public name here; import them from
there.
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Hashable, Protocol

from attrs import define, field
from cryptography import x509
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from srst.lograte import LogLimiter
from srst.sccp import messages as m
from srst.sccp.constants import LampMode, Stimulus
from srst.sccp._templates import (
    SECONDARY_KEEPALIVE,
    StationSettings,
    doNotDisturbIndication,
    encodedConfigurationReplies,
    encodedReply,
    registerAck,
)
from srst.sccp.limits import IAdmittedConnection
from srst.sccp.registry import Ephone, EphoneRegistry, Rejection

if TYPE_CHECKING:
    from srst.sccp.station import IStationListener, Station


KEEPALIVE_TIMEOUT_FACTOR = 3
"""A registered phone is dropped after this many keepalive intervals of silence."""

STANDBY_TIMEOUT = KEEPALIVE_TIMEOUT_FACTOR * SECONDARY_KEEPALIVE
"""Seconds without Register or KeepAlive after which an unregistered connection is closed
(three standby keepalive periods)."""

HANDSHAKE_TIMEOUT = 30.0
"""Seconds a phone has to complete the TLS handshake on the secure listener."""

HANDSHAKE_TIMEOUT_REASON = "TLS handshake timed out"
"""The session's close reason when the handshake did not complete in time."""


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
class RegistrationCounters:
    """
    A listener's Register outcomes since start (C{/metrics}).

    @ivar accepted: Registers admitted (a phone registering again counts
        again).
    @ivar rejected: Registers answered RegisterReject, by
        L{srst.sccp.registry.RejectReason} description.
    """

    accepted: int = 0
    rejected: Counter[str] = field(factory=Counter)


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
    @ivar machineLog: the logger of the station machine's transitions
        (L{srst.sccp.factory.MACHINE_NAMESPACE}).
    @ivar listener: the call adapter (L{srst.sccp.station.IStationListener}):
        gets the registered phone's call-control messages and is told when
        the registration ends; or L{None} to log and ignore those messages.
    @ivar debugEnabled: whether a debug category (by log namespace) is on;
        the debug lines of a category that is off are not even built (the
        router passes L{srst.debug.DebugSwitches.isEnabled}).
    @ivar logLimiter: the listener's L{LogLimiter}: lines a peer can cause
        at will (alarms, refused Registers) are logged through it.
    @ivar admitted: the listener's connection caps, told when a phone
        registers on this connection and when its registration ends (a
        registered connection is never closed to make room and does not
        count against C{max-connections-per-host}); L{None} when the
        listener has no caps.
    @ivar registrations: the listener's L{RegistrationCounters}.
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
    machineLog: Logger
    debugEnabled: Callable[[str], bool]
    logLimiter: LogLimiter
    listener: IStationListener | None = None
    admitted: IAdmittedConnection | None = None
    station: Station = field(default=None, repr=False)
    registrations: RegistrationCounters = field(factory=RegistrationCounters)
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
        """
        Log a transition of the station machine, on its own debug namespace:
        IOS's C{debug ephone state} has no such lines.
        """
        if not self.debugEnabled(self.machineLog.namespace):
            return
        self.machineLog.debug(
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
        """
        Answer an admitted Register: RegisterAck, then CapabilitiesReq; the
        connection caps learn that a phone registered on this connection.
        """
        self.ephone = ephone
        if self.admitted is not None:
            self.admitted.phoneRegistered()
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
        if isinstance(msg, m.ForwardStatReq) and self.listener is not None:
            # Forwarding is call state: the call engine's adapter answers.
            self.listener.callMessageReceived(self.station, msg)
            return
        replies = encodedConfigurationReplies(msg, self._ephone(), self.settings, self.sender.protocolVersion)
        if replies is not None:
            if replies:
                self.sender.sendEncoded(replies)
        elif self.listener is not None:
            self.listener.callMessageReceived(self.station, msg)
        else:
            self.logLimiter.info(self.log, self.peerHost, "messages not handled",
                                 "{station}: {message} not handled", station=self.label(),
                                 message=type(msg).__name__, ip=self.peerHost, socket=self.socket)

    def note(self, msg: m.Message) -> None:
        """Log an informational message (Alarm, HeadsetStatus, ...)."""
        if isinstance(msg, m.Alarm):
            self.logLimiter.info(self.log, self.peerHost, "alarms",
                                 "{station}: alarm from {ip} severity {severity}: {text}", station=self.label(),
                                 ip=self.peerHost, severity=int(msg.alarmSeverity), text=msg.text,
                                 param1=msg.parm1, param2=msg.parm2, socket=self.socket)
        else:
            self.logLimiter.info(self.log, self.peerHost, f"{type(msg).__name__} messages",
                                 "{station}: {message} from {ip}", station=self.label(),
                                 message=type(msg).__name__, ip=self.peerHost, socket=self.socket)

    def registrationEnded(self, why: str) -> None:
        """
        The registration this session held ended (Unregister, keepalive
        timeout, connection lost, the device registered again elsewhere):
        give it back to the registry (unless another session holds it now),
        then tell the listener, which clears the phone's calls.  Every end
        of a registration comes here, once; the connection caps learn that
        this connection holds no registration any more.
        """
        if self.admitted is not None:
            self.admitted.phoneUnregistered()
        ephone = self.registry.unregister(self.station)
        if ephone is not None and self.registerDebug():
            self.registerLog.debug("{station}:Unregistered {device}: {why}", station=self.label(),
                                   device=ephone.deviceName, why=why, socket=self.socket,
                                   ephone=ephone.number, ip=self.peerHost)
        self.ephone = None
        if self.listener is not None:
            # A bug in the listener (the call engine) must not leave this
            # session half ended: its connection is closed all the same.
            with self.log.failuresHandled("{station}: while ending the calls of an ended registration",
                                          station=self.label(), socket=self.socket, ip=self.peerHost):
                self.listener.sessionEnded(self.station)

    def stateDebugEnabled(self) -> bool:
        """@return: whether C{debug ephone state} lines are wanted."""
        return self.debugEnabled(self.stateLog.namespace)

    def stateDebug(self, text: str, labelled: bool = True, **fields: Any) -> None:
        """
        Write a C{debug ephone state} line, prefixed with the session's
        label unless C{labelled} is false, with the session's fields
        (nothing while that debug is off).
        """
        if not self.debugEnabled(self.stateLog.namespace):
            return
        self.stateLog.debug("{station}:" + text if labelled else text, station=self.label(), socket=self.socket,
                            **fields)

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
            # The phone's last registration request: its registration is
            # complete, and a number held for it becomes its reservation.
            self.registry.registrationCompleted(ephone)
            prompt = self.settings.idlePrompt
            self.sendCached(("DisplayPromptStatus", prompt), lambda: m.DisplayPromptStatus(0, prompt, 0, 0))
            ephone.messageWaiting = self.registry.messageWaitingFor(ephone)
            if ephone.messageWaiting:
                self.send(m.SetLamp(Stimulus.VOICE_MAIL, 0, LampMode.ON))
            if ephone.dnd:
                # Do-not-disturb outlives the registration: show it again.
                for msg in doNotDisturbIndication(True):
                    self.send(msg)
            if not self.registerDebug():
                return
            self.registerLog.debug(
                "{station}:Registration complete for {device}, idle prompt sent", station=self.label(),
                device=ephone.deviceName, socket=self.socket, ephone=ephone.number, ip=self.peerHost)

    def _ephone(self) -> Ephone:
        assert self.ephone is not None, "only registered phones ask for their configuration"
        return self.ephone


__all__ = [
    "HANDSHAKE_TIMEOUT", "HANDSHAKE_TIMEOUT_REASON", "IMessageSender", "KEEPALIVE_TIMEOUT_FACTOR",
    "RegistrationCounters", "STANDBY_TIMEOUT", "StationCore",
]
