# -*- test-case-name: tests.test_phone_types -*-
"""
The value types of the simulated phone (L{srst.tools._phoneclient}): model
names to device types, L{PhoneConfig} (what a phone is), L{PhoneState}
(where its connection is), the L{PhoneError} family, and L{PhoneSettings}
(what the router told the phone).
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Any, Callable, ClassVar, Optional

from attrs import Factory, define, field, frozen

from srst.sccp import messages as m
from srst.sccp.constants import Codec, DeviceType, Stimulus
from srst.tools.lsc import normalizeMac


# -- device types -------------------------------------------------------------


class UnknownModelError(ValueError):
    """
    A phone model name that maps to no SCCP device type.

    @ivar model: what was given.
    """

    def __init__(self, model: str) -> None:
        ValueError.__init__(self, model)
        self.model = model

    def __str__(self) -> str:
        known = ", ".join(sorted(
            name[len("PHONE_"):] for name in DeviceType.__members__
            if name.startswith("PHONE_")))
        return "unknown phone model %r (known: %s, IP_COMMUNICATOR, ATA_186, " \
               "or a numeric device type)" % (self.model, known)


def deviceTypeForModel(model: str) -> int:
    """
    The Register.deviceType of a phone model (sccp.md 2.6).

    @param model: a model number (C{"7970"}, C{"7961-GE"}), a
        L{DeviceType} member name (C{"IP_COMMUNICATOR"}) or a number
        (C{"30006"}).
    @return: the device type (a L{DeviceType} member when known).
    @raise UnknownModelError: for anything else.
    """
    text = model.strip().upper().replace("-", "_").replace(" ", "_")
    for name in ("PHONE_" + text, text):
        if name in DeviceType.__members__:
            return DeviceType[name]
    if text.isdigit():
        value = int(text)
        if 0 < value < 1 << 32:
            try:
                return DeviceType(value)
            except ValueError:
                return value
    raise UnknownModelError(model)


DEFAULT_CAPABILITIES = (
    m.MediaCapability(Codec.G711_ULAW_64K, 40),
    m.MediaCapability(Codec.G711_ALAW_64K, 40),
    m.MediaCapability(Codec.G729, 60),
)
"""What a 79xx without video offers: G.711 mu-law and A-law, G.729."""


# -- configuration and state --------------------------------------------------


@frozen
class PhoneConfig:
    """
    What a simulated phone is and how it behaves.

    @ivar mac: the MAC address (normalized to 12 upper-case hex digits).
    @ivar deviceType: Register.deviceType (see L{deviceTypeForModel}).
    @ivar protocolVersion: the highest protocol version the phone speaks
        (sent in Register).
    @ivar stationIpAddr: the address put in Register; C{None} takes the
        local address of the connection.
    @ivar capabilities: the codecs sent in CapabilitiesRes.
    @ivar sendAlarm: send an Alarm (C{Last=<alarmLast>}) before Register.
    @ivar alarmLast: why the previous connection ended, for the Alarm.
    @ivar requestConfigStat: ask for ConfigStat while registering.
    @ivar requestForwardStat: ask for ForwardStat of every line.
    @ivar capabilitiesWait: seconds to wait after RegisterAck for
        CapabilitiesReq before asking for the configuration anyway (0: ask
        at once).
    @ivar registrationTimeout: seconds from connection to complete
        registration before the phone gives up and closes (C{None}: never).
    @ivar maxMissedKeepAlives: unanswered KeepAlives after which the router
        is taken for dead and the connection aborted.
    @ivar standby: connect in standby mode (keepalives only).
    @ivar standbyKeepAliveInterval: seconds between standby KeepAlives.
    @ivar unregisterTimeout: seconds to wait for UnregisterAck.
    @ivar loadInfo: the firmware name (Register, protocol 15 and up).
    @ivar maxStreams: Register.maxStreams.
    @ivar phoneFeatures: Register.phoneFeatures bits.
    @ivar decodeAll: decode and record every message received.  C{False}
        (for load generation) decodes only what drives the phone's state
        (RegisterAck, RegisterReject, CapabilitiesReq, ButtonTemplate,
        KeepAliveAck, UnregisterAck, Reset) and only counts the others
        (L{SimulatedPhone.skipped}), which halves the phone's CPU cost.
    """

    mac: str = field(converter=normalizeMac)
    deviceType: int = DeviceType.PHONE_7970
    protocolVersion: int = 11
    stationIpAddr: Optional[ipaddress.IPv4Address] = None
    capabilities: tuple[m.MediaCapability, ...] = field(
        default=DEFAULT_CAPABILITIES, converter=tuple)
    sendAlarm: bool = False
    alarmLast: str = "Initialized"
    requestConfigStat: bool = True
    requestForwardStat: bool = True
    capabilitiesWait: float = 2.0
    registrationTimeout: Optional[float] = 30.0
    maxMissedKeepAlives: int = 3
    standby: bool = False
    standbyKeepAliveInterval: float = 60.0
    unregisterTimeout: float = 10.0
    loadInfo: str = "SCCP70.8-5-4S"
    maxStreams: int = 5
    phoneFeatures: int = 0
    decodeAll: bool = True

    @property
    def deviceName(self) -> str:
        """C{"SEP"} + the MAC."""
        return "SEP" + self.mac


class PhoneState(enum.Enum):
    """Where a simulated phone's connection is."""

    IDLE = "idle"                    # not connected yet
    STANDBY = "standby"              # connected, keepalives only
    REGISTERING = "registering"      # Register sent
    CONFIGURING = "configuring"      # RegisterAck received, requests open
    REGISTERED = "registered"        # every request answered
    UNREGISTERING = "unregistering"  # Unregister sent
    REJECTED = "rejected"            # RegisterReject received
    CLOSED = "closed"                # connection gone (terminal)


# -- errors --------------------------------------------------------------------


class PhoneError(RuntimeError):
    """
    Base class of what can go wrong with a simulated phone.

    @ivar deviceName: the phone.
    @ivar reason: why, one line.
    """

    def __init__(self, deviceName: str, reason: str) -> None:
        RuntimeError.__init__(self, deviceName, reason)
        self.deviceName = deviceName
        self.reason = reason

    def __str__(self) -> str:
        return "%s: %s" % (self.deviceName, self.reason)


class RegistrationRejected(PhoneError):
    """The router answered Register with RegisterReject (C{reason}: text)."""


class RegistrationTimedOut(PhoneError):
    """Registration did not complete within C{registrationTimeout}."""


class PhoneDisconnected(PhoneError):
    """The connection failed or closed before the awaited event."""


class UnregisterRefused(PhoneError):
    """The router answered Unregister with a status other than OK."""


class UnregisterTimedOut(PhoneError):
    """No UnregisterAck within C{unregisterTimeout}; the connection was aborted."""


class PhoneStateError(PhoneError):
    """An operation the phone cannot do in its current state."""


@define
class PhoneSettings:
    """
    What the router told a phone: its buttons, lines and their status,
    softkeys, configuration, time and display.

    @ivar buttons: the ButtonTemplate's buttons.
    @ivar lines: line instance numbers from the button template.
    @ivar speedDials: speed-dial instance numbers from the button template.
    @ivar lineStats: LineStat by line number.
    @ivar forwardStats: ForwardStat by line number.
    @ivar speedDialStats: SpeedDialStat by number.
    @ivar softKeyTemplate: the SoftKeyTemplateRes, if received.
    @ivar softKeySets: the SoftKeySetRes, if received.
    @ivar configStat: the ConfigStat, if received.
    @ivar timeDate: the last DefineTimeDate.
    @ivar prompt: the text of the last DisplayPromptStatus.
    @ivar softKeySet: the set index of the last SelectSoftKeys.
    @ivar selectedSoftKeys: the last SelectSoftKeys (its line, call and
        key mask too).
    """

    buttons: tuple[m.ButtonDefinition, ...] = ()
    lines: list[int] = Factory(list)
    speedDials: list[int] = Factory(list)
    lineStats: dict[int, m.LineStat] = Factory(dict)
    forwardStats: dict[int, m.ForwardStat] = Factory(dict)
    speedDialStats: dict[int, m.SpeedDialStat] = Factory(dict)
    softKeyTemplate: Optional[m.SoftKeyTemplateRes] = None
    softKeySets: Optional[m.SoftKeySetRes] = None
    configStat: Optional[m.ConfigStat] = None
    timeDate: Optional[m.DefineTimeDate] = None
    prompt: Optional[str] = None
    softKeySet: Optional[int] = None
    selectedSoftKeys: Optional[m.SelectSoftKeys] = None

    def record(self, msg: m.Message) -> None:
        """
        Keep what a message from the router says, if it is one of the
        messages above (others are ignored).

        @param msg: the message.
        """
        recorder = self._RECORDERS.get(type(msg))
        if recorder is not None:
            recorder(self, msg)

    def _buttonTemplate(self, msg: m.ButtonTemplate) -> None:
        self.buttons = msg.buttons
        self.lines = [b.instanceNumber for b in msg.buttons
                      if b.buttonDefinition == Stimulus.LINE]
        self.speedDials = [b.instanceNumber for b in msg.buttons
                           if b.buttonDefinition == Stimulus.SPEED_DIAL]

    def _lineStat(self, msg: m.LineStat) -> None:
        self.lineStats[msg.lineNumber] = msg

    def _forwardStat(self, msg: m.ForwardStat) -> None:
        self.forwardStats[msg.lineNumber] = msg

    def _speedDialStat(self, msg: m.SpeedDialStat) -> None:
        self.speedDialStats[msg.speedDialNumber] = msg

    def _softKeyTemplateRes(self, msg: m.SoftKeyTemplateRes) -> None:
        self.softKeyTemplate = msg

    def _softKeySetRes(self, msg: m.SoftKeySetRes) -> None:
        self.softKeySets = msg

    def _configStat(self, msg: m.ConfigStat) -> None:
        self.configStat = msg

    def _defineTimeDate(self, msg: m.DefineTimeDate) -> None:
        self.timeDate = msg

    def _displayPromptStatus(self, msg: m.DisplayPromptStatus) -> None:
        self.prompt = msg.promptStatus

    def _selectSoftKeys(self, msg: m.SelectSoftKeys) -> None:
        self.softKeySet = msg.softKeySetIndex
        self.selectedSoftKeys = msg

    _RECORDERS: ClassVar[dict[type, Callable[[PhoneSettings, Any], None]]] = {
        m.ButtonTemplate: _buttonTemplate,
        m.LineStat: _lineStat,
        m.ForwardStat: _forwardStat,
        m.SpeedDialStat: _speedDialStat,
        m.SoftKeyTemplateRes: _softKeyTemplateRes,
        m.SoftKeySetRes: _softKeySetRes,
        m.ConfigStat: _configStat,
        m.DefineTimeDate: _defineTimeDate,
        m.DisplayPromptStatus: _displayPromptStatus,
        m.SelectSoftKeys: _selectSoftKeys,
    }


__all__ = [
    "DEFAULT_CAPABILITIES", "PhoneConfig", "PhoneDisconnected", "PhoneError",
    "PhoneSettings", "PhoneState", "PhoneStateError", "RegistrationRejected",
    "RegistrationTimedOut", "UnknownModelError", "UnregisterRefused",
    "UnregisterTimedOut", "deviceTypeForModel",
]
