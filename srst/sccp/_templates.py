# -*- test-case-name: tests.test_sccp_station -*-
"""
What the router tells a registering phone: the softkey template and softkey
sets every phone gets, the button template built from an ephone's lines and
speed dials, the date template, a small table of phone models (name for
C{show ephone}, line count), and the answers to the configuration requests
of sccp.md 4.1 (L{configurationReplies}).

Pure data and pure functions; the station session (L{srst.sccp.station})
sends what they return.  The replies that depend only on the settings, the
protocol version and a phone's button layout (RegisterAck, CapabilitiesReq,
the softkey template and sets, the button template, the idle prompt) are
encoded once and their bytes remembered (L{encodedConfigurationReplies},
L{encodedReply}): every registering phone asks for them.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Hashable, Iterable

from attrs import define, frozen

from srst.sccp import messages as m
from srst.sccp.constants import (
    REGISTER_ACK_FEATURES_V4_V10,
    REGISTER_ACK_FEATURES_V11,
    DeviceType,
    LampMode,
    LineDisplayOption,
    SoftKeyEvent,
    SoftKeySet,
    Stimulus,
)
from srst.sccp.messages import (
    ButtonDefinition,
    SoftKeyDefinition,
    SoftKeySetDefinition,
    label,
)
from srst.sccp.registry import Ephone

# -- softkeys -------------------------------------------------------------------

TEMPLATE_EVENTS: tuple[SoftKeyEvent, ...] = (
    SoftKeyEvent.REDIAL,
    SoftKeyEvent.NEW_CALL,
    SoftKeyEvent.HOLD,
    SoftKeyEvent.TRANSFER,
    SoftKeyEvent.CFWD_ALL,
    SoftKeyEvent.CFWD_BUSY,
    SoftKeyEvent.CFWD_NO_ANSWER,
    SoftKeyEvent.BACK_SPACE,
    SoftKeyEvent.END_CALL,
    SoftKeyEvent.RESUME,
    SoftKeyEvent.ANSWER,
    SoftKeyEvent.INFO,
    SoftKeyEvent.CONFRN,
    SoftKeyEvent.PARK,
    SoftKeyEvent.JOIN,
    SoftKeyEvent.MEET_ME,
    SoftKeyEvent.PICK_UP,
    SoftKeyEvent.GROUP_PICK_UP,
    SoftKeyEvent.DND,
)
"""
The softkey template, in template order.  Event code n (1 to 18) sits at
template position n (1-based); DND (event 63, as IOS SRST offers it on the
idle phone) follows at position 19.  Each key is labelled with the phone's
own label C{0x80, n} (sccp.md 2.5: the conventional numbering, label index
= event code).
"""

SOFT_KEY_TEMPLATE: tuple[SoftKeyDefinition, ...] = tuple(
    SoftKeyDefinition(label(event), event) for event in TEMPLATE_EVENTS
)
"""The softkeys of C{SoftKeyTemplateRes}."""

BLANK = None
"""A blank key position in a softkey set."""

_SETS: dict[SoftKeySet, tuple[SoftKeyEvent | None, ...]] = {
    SoftKeySet.ON_HOOK: (SoftKeyEvent.REDIAL, SoftKeyEvent.NEW_CALL, SoftKeyEvent.CFWD_ALL, SoftKeyEvent.PICK_UP,
                         SoftKeyEvent.GROUP_PICK_UP, SoftKeyEvent.DND),
    SoftKeySet.CONNECTED: (SoftKeyEvent.HOLD, SoftKeyEvent.END_CALL, SoftKeyEvent.TRANSFER, SoftKeyEvent.CONFRN,
                           SoftKeyEvent.JOIN),
    SoftKeySet.ON_HOLD: (SoftKeyEvent.RESUME, SoftKeyEvent.NEW_CALL, SoftKeyEvent.END_CALL),
    SoftKeySet.RING_IN: (SoftKeyEvent.ANSWER, SoftKeyEvent.END_CALL),
    SoftKeySet.OFF_HOOK: (SoftKeyEvent.REDIAL, SoftKeyEvent.END_CALL, SoftKeyEvent.CFWD_ALL, SoftKeyEvent.PICK_UP,
                          SoftKeyEvent.GROUP_PICK_UP),
    SoftKeySet.CONNECTED_TRANSFER: (BLANK, SoftKeyEvent.END_CALL, SoftKeyEvent.TRANSFER),
    SoftKeySet.DIGITS_FOLLOWING: (SoftKeyEvent.BACK_SPACE, SoftKeyEvent.END_CALL),
    SoftKeySet.CONNECTED_CONFERENCE: (BLANK, SoftKeyEvent.END_CALL, SoftKeyEvent.CONFRN),
    SoftKeySet.RING_OUT: (BLANK, SoftKeyEvent.END_CALL),
    SoftKeySet.OFF_HOOK_FEATURES: (SoftKeyEvent.BACK_SPACE, SoftKeyEvent.END_CALL, SoftKeyEvent.CFWD_ALL),
    SoftKeySet.IN_USE_HINT: (BLANK, SoftKeyEvent.NEW_CALL),
    SoftKeySet.ON_HOOK_STEALABLE: (SoftKeyEvent.REDIAL, SoftKeyEvent.NEW_CALL, SoftKeyEvent.CFWD_ALL,
                                   SoftKeyEvent.PICK_UP, SoftKeyEvent.GROUP_PICK_UP, SoftKeyEvent.DND),
}

SOFT_KEY_INFO_BASE = 300
"""CUCM's softKeyInfoIndex is 300 + the key's event code (0 for a blank key)."""


def softKeySetKeys(softKeySet: SoftKeySet) -> tuple[SoftKeyEvent | None, ...]:
    """
    The keys of one set, left to right (L{BLANK} for an empty position).

    @param softKeySet: the set id.
    @return: the events of its keys.
    """
    return _SETS[softKeySet]


def _setDefinition(keys: Iterable[SoftKeyEvent | None]) -> SoftKeySetDefinition:
    templateIndexes = []
    infoIndexes = []
    for key in keys:
        if key is BLANK:
            templateIndexes.append(0)
            infoIndexes.append(0)
        else:
            templateIndexes.append(TEMPLATE_EVENTS.index(key) + 1)
            infoIndexes.append(SOFT_KEY_INFO_BASE + int(key))
    return SoftKeySetDefinition(tuple(templateIndexes), tuple(infoIndexes))


SOFT_KEY_SETS: tuple[SoftKeySetDefinition, ...] = tuple(
    _setDefinition(_SETS[softKeySet]) for softKeySet in sorted(SoftKeySet)
)
"""The sets of C{SoftKeySetRes}, indexed by L{SoftKeySet} id."""

ALL_KEYS = 0xFFFFFFFF
"""SelectSoftKeys.validKeyMask enabling every key of the set."""

# -- buttons --------------------------------------------------------------------


def buttonTemplate(lines: Iterable[int], speedDials: Iterable[int]) -> tuple[ButtonDefinition, ...]:
    """
    The button template of a phone.

    Lines and speed dials are numbered (their C{instanceNumber}) in button
    order from 1; a button number left out between two used ones becomes an
    undefined button (C{instance 0, 0xFF}).

    @param lines: the button numbers (1-based) of the line buttons.
    @param speedDials: the button numbers of the speed-dial buttons.
    @return: one definition per button, button 1 first.
    """
    kinds: dict[int, Stimulus] = {}
    for button in lines:
        kinds[button] = Stimulus.LINE
    for button in speedDials:
        kinds.setdefault(button, Stimulus.SPEED_DIAL)
    if not kinds:
        return ()
    counters = {Stimulus.LINE: 0, Stimulus.SPEED_DIAL: 0}
    definitions = []
    for button in range(1, max(kinds) + 1):
        kind = kinds.get(button)
        if kind is None:
            definitions.append(ButtonDefinition(0, Stimulus.UNDEFINED))
            continue
        counters[kind] += 1
        definitions.append(ButtonDefinition(counters[kind], kind))
    return tuple(definitions)


# -- dates ----------------------------------------------------------------------

DATE_TEMPLATES = {
    "m/d/y": "M/D/Y",
    "d/m/y": "D/M/Y",
    "y/m/d": "Y/M/D",
    "m/d/ya": "M/D/YA",
}
"""C{date-format} values (lower case, as the config stores them) -> RegisterAck.dateTemplate."""


def dateTemplate(dateFormat: str) -> str:
    """
    The RegisterAck date template for a C{date-format} setting.

    @param dateFormat: e.g. C{"m/d/y"} or C{"D/M/Y"}.
    @return: e.g. C{"M/D/Y"}; an unknown value gives C{"M/D/Y"}.
    """
    return DATE_TEMPLATES.get(dateFormat.lower(), "M/D/Y")


# -- models ---------------------------------------------------------------------


@frozen
class PhoneModel:
    """
    What C{show ephone} prints for a device type, and how many lines it has.

    @ivar name: e.g. C{"7970"}.
    @ivar maxLines: line buttons of the model (C{max_line}).
    """

    name: str
    maxLines: int


_MODELS: dict[int, PhoneModel] = {
    DeviceType.PHONE_7910: PhoneModel("7910", 1),
    DeviceType.PHONE_7960: PhoneModel("7960", 6),
    DeviceType.PHONE_7940: PhoneModel("7940", 2),
    DeviceType.PHONE_7935: PhoneModel("7935", 1),
    DeviceType.ATA_186: PhoneModel("ATA", 1),
    DeviceType.PHONE_7941: PhoneModel("7941", 2),
    DeviceType.PHONE_7971: PhoneModel("7971", 8),
    DeviceType.PHONE_7985: PhoneModel("7985", 1),
    DeviceType.PHONE_7911: PhoneModel("7911", 1),
    DeviceType.PHONE_7961_GE: PhoneModel("7961GE", 6),
    DeviceType.PHONE_7941_GE: PhoneModel("7941GE", 2),
    DeviceType.PHONE_7931: PhoneModel("7931", 24),
    DeviceType.PHONE_7921: PhoneModel("7921", 6),
    DeviceType.PHONE_7906: PhoneModel("7906", 1),
    DeviceType.PHONE_7962: PhoneModel("7962", 6),
    DeviceType.PHONE_7937: PhoneModel("7937", 1),
    DeviceType.PHONE_7942: PhoneModel("7942", 2),
    DeviceType.PHONE_7945: PhoneModel("7945", 2),
    DeviceType.PHONE_7965: PhoneModel("7965", 6),
    DeviceType.PHONE_7975: PhoneModel("7975", 8),
    DeviceType.PHONE_7925: PhoneModel("7925", 6),
    DeviceType.PHONE_6921: PhoneModel("6921", 2),
    DeviceType.PHONE_6941: PhoneModel("6941", 4),
    DeviceType.PHONE_6961: PhoneModel("6961", 12),
    DeviceType.PHONE_6901: PhoneModel("6901", 1),
    DeviceType.PHONE_6911: PhoneModel("6911", 1),
    DeviceType.PHONE_6945: PhoneModel("6945", 4),
    DeviceType.PHONE_7926: PhoneModel("7926", 6),
    DeviceType.PHONE_8945: PhoneModel("8945", 4),
    DeviceType.PHONE_8941: PhoneModel("8941", 4),
    DeviceType.PHONE_7905: PhoneModel("7905", 1),
    DeviceType.PHONE_7920: PhoneModel("7920", 6),
    DeviceType.PHONE_7970: PhoneModel("7970", 8),
    DeviceType.PHONE_7912: PhoneModel("7912", 1),
    DeviceType.PHONE_7902: PhoneModel("7902", 1),
    DeviceType.IP_COMMUNICATOR: PhoneModel("CIPC", 8),
    DeviceType.PHONE_7961: PhoneModel("7961", 6),
    DeviceType.PHONE_7936: PhoneModel("7936", 1),
}

UNKNOWN_MODEL = PhoneModel("Unknown", 1)
"""The model of a device type not in the table."""


def phoneModel(deviceType: int) -> PhoneModel:
    """
    @param deviceType: Register.deviceType.
    @return: its L{PhoneModel}, or L{UNKNOWN_MODEL}.
    """
    return _MODELS.get(int(deviceType), UNKNOWN_MODEL)


# -- registration replies ---------------------------------------------------------

MAX_PROTOCOL_VERSION = 11
"""Our highest SCCP version (sccp.md 4.2: classic layouts, SRTP key blocks)."""

SECONDARY_KEEPALIVE = 60
"""RegisterAck.secondaryKeepAliveInterval: the standby connection's keepalive period (CUCM default)."""

ALL_LINE_DISPLAY_OPTIONS = int(LineDisplayOption.ORIGINAL_DIALED | LineDisplayOption.REDIRECTED_DIALED
                               | LineDisplayOption.CALLING_LINE_ID | LineDisplayOption.CALLING_NAME_ID)
"""LineStat.lineDisplayOptions: show every party's number and name."""


@define
class StationSettings:
    """
    The listener-wide settings the replies use.

    @ivar keepAlive: RegisterAck.keepAliveInterval (C{timeouts.keepalive}).
    @ivar dateTemplate: RegisterAck.dateTemplate.
    @ivar idlePrompt: the idle prompt (C{system-message}, or the phone's
        "CM Fallback Service Operating" label).
    @ivar serverName: ConfigStat / ServerRes server name.
    @ivar serverAddress: the listener address for ServerRes.
    @ivar serverPort: the listener port for ServerRes.
    @ivar secure: whether this is the TLS listener.
    """

    keepAlive: int
    dateTemplate: str
    idlePrompt: str
    serverName: str
    serverAddress: str
    serverPort: int
    secure: bool


def negotiateVersion(phoneMaximum: int) -> int:
    """
    @param phoneMaximum: Register.protocolVersion, the phone's highest version.
    @return: the version both speak: the lower of it and L{MAX_PROTOCOL_VERSION}.
    """
    return min(int(phoneMaximum), MAX_PROTOCOL_VERSION)


def registerAckFeatures(version: int) -> bytes:
    """
    @param version: the negotiated version.
    @return: RegisterAck's three feature bytes for it (sccp.md 4.2, the
        values chan-sccp sends).
    """
    if version >= 11:
        return REGISTER_ACK_FEATURES_V11
    if version >= 4:
        return REGISTER_ACK_FEATURES_V4_V10
    return b"\x00\x00\x00"


def registerAck(settings: StationSettings, version: int) -> m.RegisterAck:
    """
    @param settings: the listener's settings.
    @param version: the negotiated version.
    @return: the RegisterAck accepting a phone.
    """
    return m.RegisterAck(keepAliveInterval=settings.keepAlive, dateTemplate=settings.dateTemplate,
                         secondaryKeepAliveInterval=SECONDARY_KEEPALIVE, protocolVersion=version,
                         featureBytes=registerAckFeatures(version))


def displayText(text: str, size: int = 32) -> str:
    """
    Make operator text fit a fixed display field: Latin-1 (others become
    C{?}), no NUL, at most C{size} characters.

    @param text: e.g. the configured C{system-message}.
    @param size: the field size.
    @return: the text to send.
    """
    cleaned = text.replace("\x00", "").encode("latin-1", "replace").decode("latin-1")
    return cleaned[:size]


def idlePrompt(systemMessage: str | None) -> str:
    """
    @param systemMessage: C{call-manager-fallback.system-message}, if set.
    @return: the idle prompt: the message (made to fit), else the phone's
        own "CM Fallback Service Operating" label (C{0x1E 0x0A}).
    """
    if systemMessage:
        return displayText(systemMessage)
    return m.LABEL_CM_FALLBACK


def doNotDisturbIndication(on: bool) -> list[m.Message]:
    """
    What a phone shows of its do-not-disturb state (the DND softkey, and
    again after a registration while it is on): the lamp of the DND feature
    (stimulus C{0x82}, instance 1; lit while on) and the prompt line's
    "DND" label, cleared when off.  A 79xx without a DND button ignores the
    lamp; the prompt is what its user sees.

    @param on: L{Ephone.dnd}.
    @return: the messages, in order.
    """
    if on:
        return [m.SetLamp(Stimulus.DO_NOT_DISTURB, 1, LampMode.ON), m.DisplayPromptStatus(0, m.label(m.Label.DND), 0, 0)]
    return [m.SetLamp(Stimulus.DO_NOT_DISTURB, 1, LampMode.OFF), m.ClearPromptStatus(0, 0)]


def _lineStat(msg: m.LineStatReq, ephone: Ephone, settings: StationSettings) -> list[m.Message]:
    line = ephone.line(msg.lineNumber)
    if line is None:
        return [m.LineStat(lineNumber=msg.lineNumber)]
    a = line.assignment
    return [m.LineStat(msg.lineNumber, a.dn, displayText(a.name or a.dn, 40), displayText(a.label or a.dn, 40),
                       ALL_LINE_DISPLAY_OPTIONS)]


def _speedDialStat(msg: m.SpeedDialStatReq, ephone: Ephone, settings: StationSettings) -> list[m.Message]:
    speedDial = ephone.speedDial(msg.speedDialNumber)
    if speedDial is None:
        return [m.SpeedDialStat(speedDialNumber=msg.speedDialNumber)]
    return [m.SpeedDialStat(msg.speedDialNumber, speedDial.number,
                            displayText(speedDial.label or speedDial.number, 40))]


def _softKeySets(msg: m.SoftKeySetReq, ephone: Ephone, settings: StationSettings) -> list[m.Message]:
    prompt = settings.idlePrompt if ephone.registrationComplete else m.LABEL_YOUR_CURRENT_OPTIONS
    return [m.SoftKeySetRes(SOFT_KEY_SETS), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS),
            m.DisplayPromptStatus(0, prompt, 0, 0)]


def _configStat(msg: m.ConfigStatReq, ephone: Ephone, settings: StationSettings) -> list[m.Message]:
    return [m.ConfigStat(deviceName=ephone.deviceName, userId=0, instance=1, userName="",
                         serverName=displayText(settings.serverName, 40), numberOfLines=len(ephone.lines),
                         numberOfSpeedDials=len(ephone.speedDials))]


def _serverRes(msg: m.ServerReq, ephone: Ephone, settings: StationSettings) -> list[m.Message]:
    try:
        address = ipaddress.IPv4Address(settings.serverAddress)
    except ValueError:
        address = ipaddress.IPv4Address("0.0.0.0")
    return [m.ServerRes([m.ServerIdentifier(displayText(settings.serverName, 48), settings.serverPort, address)])]


_REPLIES: dict[type, Callable[[Any, Ephone, StationSettings], list[m.Message]]] = {
    m.ButtonTemplateReq: lambda msg, e, s: [m.ButtonTemplate(buttonTemplate(
        [line.assignment.button for line in e.lines], [sd.button for sd in e.speedDials]))],
    m.SoftKeyTemplateReq: lambda msg, e, s: [m.SoftKeyTemplateRes(SOFT_KEY_TEMPLATE)],
    m.SoftKeySetReq: _softKeySets,
    m.LineStatReq: _lineStat,
    m.SpeedDialStatReq: _speedDialStat,
    m.ForwardStatReq: lambda msg, e, s: [m.ForwardStat(lineNumber=msg.lineNumber)],
    m.FeatureStatReq: lambda msg, e, s: [m.FeatureStat(featureIndex=msg.featureIndex)],
    m.ConfigStatReq: _configStat,
    m.VersionReq: lambda msg, e, s: [m.Version(displayText(e.loadInfo, 16))],
    m.ServerReq: _serverRes,
    m.ServiceURLStatReq: lambda msg, e, s: [],
}


def _buttonLayout(msg: Any, ephone: Ephone, settings: StationSettings) -> Hashable:
    return (tuple(line.assignment.button for line in ephone.lines), tuple(sd.button for sd in ephone.speedDials))


def _softKeySetsPrompt(msg: Any, ephone: Ephone, settings: StationSettings) -> Hashable:
    return settings.idlePrompt if ephone.registrationComplete else m.LABEL_YOUR_CURRENT_OPTIONS


_CACHE_KEYS: dict[type, Callable[[Any, Ephone, StationSettings], Hashable]] = {
    m.ButtonTemplateReq: _buttonLayout,
    m.SoftKeyTemplateReq: lambda msg, e, s: (),
    m.SoftKeySetReq: _softKeySetsPrompt,
}
"""
The configuration requests whose replies are cached, and what their replies
depend on besides the protocol version (exactly the inputs their builder in
L{_REPLIES} reads).
"""

ENCODED_CACHE_SIZE = 1024
"""Encoded replies remembered at most (the cache starts over beyond it)."""

_encoded: dict[Hashable, bytes] = {}


def _remembered(key: Hashable, build: Callable[[], bytes]) -> bytes:
    data = _encoded.get(key)
    if data is None:
        if len(_encoded) >= ENCODED_CACHE_SIZE:
            _encoded.clear()
        data = _encoded[key] = build()
    return data


def _encodeAll(msgs: Iterable[m.Message], version: int) -> bytes:
    return b"".join(m.encodeMessage(msg, protocolVersion=version) for msg in msgs)


def encodedReply(key: Hashable, msg: Callable[[], m.Message], version: int) -> bytes:
    """
    One reply encoded with C{version}, from the cache when it was encoded
    before.

    @param key: everything the message depends on (besides the version);
        the same key must always give the same message.
    @param msg: builds the message (called on a cache miss only).
    @param version: the negotiated protocol version.
    @return: the frame.
    """
    return _remembered(("reply", key, version), lambda: m.encodeMessage(msg(), protocolVersion=version))


def encodedConfigurationReplies(msg: m.Message, ephone: Ephone, settings: StationSettings,
                                version: int) -> bytes | None:
    """
    L{configurationReplies}, encoded with C{version}: the frames to send.

    @param msg: the request.
    @param ephone: the phone's record.
    @param settings: the listener's settings.
    @param version: the negotiated protocol version.
    @return: the frames, one after the other (possibly none), or L{None}
        when C{msg} is not a configuration request.
    """
    kind = type(msg)
    reply = _REPLIES.get(kind)
    if reply is None:
        return None
    cacheKey = _CACHE_KEYS.get(kind)
    if cacheKey is None:
        return _encodeAll(reply(msg, ephone, settings), version)
    return _remembered((kind, cacheKey(msg, ephone, settings), version),
                       lambda: _encodeAll(reply(msg, ephone, settings), version))


def configurationReplies(msg: m.Message, ephone: Ephone, settings: StationSettings) -> list[m.Message] | None:
    """
    The answer to a configuration request of a registered phone (sccp.md
    4.1): ButtonTemplate from its lines and speed dials, the softkey
    template and sets (then SelectSoftKeys OnHook and the prompt), LineStat,
    SpeedDialStat (empty records for unknown instances), ForwardStat (no
    forwarding), FeatureStat, ConfigStat, Version, ServerRes (this router).

    @param msg: the request.
    @param ephone: the phone's record.
    @param settings: the listener's settings.
    @return: the messages to send (possibly none), or L{None} when C{msg} is
        not such a request.
    """
    reply = _REPLIES.get(type(msg))
    if reply is None:
        return None
    return reply(msg, ephone, settings)


__all__ = [
    "ALL_KEYS", "ALL_LINE_DISPLAY_OPTIONS", "BLANK", "DATE_TEMPLATES", "MAX_PROTOCOL_VERSION", "PhoneModel",
    "SECONDARY_KEEPALIVE", "SOFT_KEY_INFO_BASE", "SOFT_KEY_SETS", "SOFT_KEY_TEMPLATE", "StationSettings",
    "TEMPLATE_EVENTS", "UNKNOWN_MODEL", "buttonTemplate", "configurationReplies", "dateTemplate", "doNotDisturbIndication",
    "ENCODED_CACHE_SIZE", "displayText", "encodedConfigurationReplies", "encodedReply", "idlePrompt", "negotiateVersion", "phoneModel", "registerAck", "registerAckFeatures",
    "softKeySetKeys",
]
