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
    such a I{standby} connection to its next server while registered to
    CallManager, sccp.md 4.3), Alarm is logged, RegisterTokenReq is
    granted; nothing here counts against C{max-ephones} (the listeners'
    C{max-connections} caps bound these connections instead).  A
    connection that sends neither Register nor KeepAlive for
    L{STANDBY_TIMEOUT} is closed: only KeepAlive keeps a standby connection
    open.
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

The call adapter above the station (L{srst.sccp.callcontrol}) is its
L{IStationListener}: it gets a registered phone's call-control messages,
says whether the phone has a call (which refuses its Unregister), and is
told once when the registration ends, whatever ended it (Unregister,
keepalive timeout, connection lost, the device registering again on
another connection), right after the registry released the phone.  It
talks back to the phone through the narrow L{ICallStation} the station
provides: its label, C{send}, the ephone, C{now()}, and the C{debug ephone
state} lines.

The core lives in L{srst.sccp._stationcore} and the machine in
L{srst.sccp._stationmachine}; this module re-exports their public names.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable

from automat import NoTransition
from cryptography import x509
from cryptography.x509.oid import NameOID
from zope.interface import Attribute, Interface, implementer

from srst.sccp import messages as m
from srst.sccp._stationcore import (
    HANDSHAKE_TIMEOUT,
    HANDSHAKE_TIMEOUT_REASON,
    KEEPALIVE_TIMEOUT_FACTOR,
    STANDBY_TIMEOUT,
    IMessageSender,
    RegistrationCounters,
    StationCore,
)
from srst.sccp._stationmachine import StationInputs, StationMachine, StationStatus
from srst.sccp._templates import negotiateVersion, phoneModel
from srst.sccp.registry import (
    Admission,
    Ephone,
    RegistrationDetails,
    RejectReason,
    Rejection,
    macFromDeviceName,
)


class ICallStation(Interface):
    """
    What a registered phone's session offers the call adapter above it.
    """

    ephone = Attribute("The registered phone's L{Ephone}, or L{None} when the session holds no registration.")

    def label() -> str:
        """@return: the IOS-style session name, C{ephone-3[5]}."""

    def send(msg: m.Message) -> None:
        """Send a router-to-phone message."""

    def now() -> datetime.datetime:
        """@return: the local wall-clock time (for DefineTimeDate)."""

    def stateDebugEnabled() -> bool:
        """@return: whether C{debug ephone state} lines are wanted (skip building costly ones)."""

    def stateDebug(text: str, labelled: bool = True, **fields: Any) -> None:
        """
        Write a C{debug ephone state} line: C{text} (a format string) after
        the session's label (unless C{labelled} is false: IOS writes the
        lines of a DN's channel, C{DN 2 chan 1 Voice_Mode}, without it), with
        C{fields} and the session's own; nothing while that debug is off.
        """


class IStationListener(Interface):
    """
    The call adapter above the stations (L{srst.sccp.callcontrol.SccpCallControl}).
    """

    def callMessageReceived(station: ICallStation, msg: m.Message) -> None:
        """A registered phone sent a call-control message."""

    def hasActiveCall(station: ICallStation) -> bool:
        """@return: whether the phone has a call (its Unregister is then refused)."""

    def sessionEnded(station: ICallStation) -> None:
        """
        The registration of C{station} ended (Unregister, keepalive timeout,
        connection lost, replaced by another connection), after the
        registry released it: clear the phone's calls.  Told once per
        registration.
        """


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


@implementer(ICallStation)
class Station:
    """
    One phone connection's session: decodes nothing, decides what each
    message means.

    @ivar core: the machine's L{StationCore}.
    @ivar machine: the machine (L{StationInputs}).
    """

    def __init__(self, core: StationCore) -> None:
        """
        @param core: the core (its C{station} is set to this session; its
            C{listener}, if any, is told about calls).
        """
        self.core = core
        core.station = self
        self.machine: StationInputs = StationMachine(core)
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

    @property
    def closeReason(self) -> str:
        """Why the session ended (empty while it runs)."""
        return self.core.closeReason

    @property
    def socket(self) -> int:
        """The listener's number of this session's connection (C{[5]} in C{ephone-3[5]})."""
        return self.core.socket

    def label(self) -> str:
        """See L{ICallStation.label}."""
        return self.core.label()

    def now(self) -> datetime.datetime:
        """See L{ICallStation.now}."""
        return self.core.now()

    def stateDebugEnabled(self) -> bool:
        """See L{ICallStation.stateDebugEnabled}."""
        return self.core.stateDebugEnabled()

    def stateDebug(self, text: str, labelled: bool = True, **fields: Any) -> None:
        """See L{ICallStation.stateDebug}."""
        self.core.stateDebug(text, labelled, **fields)

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
            core.logLimiter.warn(core.log, core.peerHost, "Registers ignored in state " + status.value,
                                 "{station}: Register from {ip} {port} ignored in state {state}",
                                 station=core.label(), ip=core.peerHost, port=core.peerPort, state=status.value,
                                 device=msg.deviceName, socket=core.socket)
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
        ephone, previous = core.registry.register(decision, self, details)
        if previous is not None and previous is not self:
            if core.registerDebug():
                core.registerLog.debug("ephone-{ephone}: {device} registers again; closing socket {old}",
                                       ephone=ephone.number, device=ephone.deviceName,
                                       old=previous.socket, socket=core.socket, ip=core.peerHost)
            try:
                previous.replaced()
            except NoTransition:
                core.log.warn("{station}: the previous session of {device} was already ending",
                              station=core.label(), device=ephone.deviceName, socket=core.socket)
        core.registrations.accepted += 1
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
        core.registrations.rejected[rejection.reason.description] += 1
        core.logLimiter.warn(core.log, core.peerHost, f"Registers rejected ({rejection.reason.description})",
                             "{station}: Register from {device} at {ip} {port} rejected: {reason} ({detail})",
                             station=core.label(), device=msg.deviceName, ip=core.peerHost, port=core.peerPort,
                             reason=rejection.reason.description, detail=rejection.detail, socket=core.socket)
        if core.registerDebug():
            core.registerLog.debug("{station}:RegisterReject sent to {device}: {reason}", station=core.label(),
                                   device=msg.deviceName, reason=rejection.reason.description,
                                   socket=core.socket, ip=core.peerHost)
        self.machine.registrationRejected(rejection)

    def _unregister(self, msg: m.Unregister) -> None:
        listener = self.core.listener
        if (self.machine.status() is StationStatus.REGISTERED and self.core.ephone is not None
                and listener is not None and listener.hasActiveCall(self)):
            self.machine.unregisterRefused()
        else:
            self.machine.unregisterAccepted()


__all__ = [
    "HANDSHAKE_TIMEOUT", "HANDSHAKE_TIMEOUT_REASON", "ICallStation", "IMessageSender", "IStationListener",
    "KEEPALIVE_TIMEOUT_FACTOR",
    "RegistrationCounters", "STANDBY_TIMEOUT", "Station", "StationCore", "StationInputs", "StationMachine", "StationStatus",
    "certificateCommonNames", "certificateMatchesDevice",
]
