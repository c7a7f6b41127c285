# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
SCCP configuration messages a phone asks for while registering (sccp.md 2.2,
4.1): button and softkey templates, softkey sets, line / speed-dial /
feature / forward / configuration status, and the time.
"""

from __future__ import annotations

import datetime
import struct

from attrs import Factory, field, frozen

from srst.sccp._codec import EncodeError, Message, message
from srst.sccp._fields import (
    DIRNUM,
    TEXT,
    U32,
    Text,
    enumValue,
    wire,
)
from srst.sccp.constants import SoftKeyEvent, Stimulus


@message(0x000E)
@frozen
class ButtonTemplateReq(Message):
    """
    Asks for L{ButtonTemplate}.  Some phones append their button count.
    """

    totalButtonCount: int = wire(U32, optional=True)


MAX_BUTTONS = 42
_BUTTON = struct.Struct("<BB")
_FILLER_BUTTON = _BUTTON.pack(0, Stimulus.UNDEFINED)
_TEMPLATE_HEAD = struct.Struct("<III")


@frozen
class ButtonDefinition:
    """
    One button of L{ButtonTemplate}.

    @ivar instanceNumber: the line / speed-dial instance (1-based).
    @ivar buttonDefinition: a L{Stimulus} (C{LINE}, C{SPEED_DIAL}, ...).
    """

    instanceNumber: int = 0
    buttonDefinition: int = 0


def _countFromList(listName: str) -> Factory:
    return Factory(lambda self: len(getattr(self, listName)), takes_self=True)


def _readHead(body: bytes) -> list[int]:
    """The three leading u32 (offset, count, total), as many as present."""
    head = []
    for i in range(3):
        if len(body) < 4 * (i + 1):
            break
        head.append(struct.unpack_from("<I", body, 4 * i)[0])
    return head + [0] * (3 - len(head))


def _packHead(name: str, offset: int, count: int, total: int) -> bytes:
    try:
        return _TEMPLATE_HEAD.pack(offset, count, total)
    except struct.error as e:
        raise EncodeError(name, None, str(e)) from None


@message(0x0097)
@frozen
class ButtonTemplate(Message):
    """
    The phone's buttons: offset, count, total, then 42 two-byte slots
    (unused ones C{(0, 0xFF)}).  buttonCount on the wire is C{len(buttons)};
    totalButtonCount defaults to it.
    """

    buttons: tuple[ButtonDefinition, ...] = field(default=(), converter=tuple)
    buttonOffset: int = 0
    totalButtonCount: int = _countFromList("buttons")

    @classmethod
    def _decodeBody(cls, body: bytes, version: int) -> Message:
        offset, count, total = _readHead(body)
        available = max(0, len(body) - _TEMPLATE_HEAD.size) // _BUTTON.size
        buttons = []
        for i in range(min(count, MAX_BUTTONS, available)):
            instance, definition = _BUTTON.unpack_from(
                body, _TEMPLATE_HEAD.size + i * _BUTTON.size)
            buttons.append(ButtonDefinition(
                instance, enumValue(Stimulus, definition)))
        return cls(buttons, offset, total)

    def _encodeBody(self, version: int) -> bytes:
        if len(self.buttons) > MAX_BUTTONS:
            raise EncodeError("ButtonTemplate", "buttons", "%d buttons, at "
                              "most %d fit" % (len(self.buttons), MAX_BUTTONS))
        try:
            slots = [_BUTTON.pack(b.instanceNumber, b.buttonDefinition)
                     for b in self.buttons]
        except (struct.error, AttributeError) as e:
            raise EncodeError("ButtonTemplate", "buttons", str(e)) from None
        slots += [_FILLER_BUTTON] * (MAX_BUTTONS - len(slots))
        return _packHead("ButtonTemplate", self.buttonOffset,
                         len(self.buttons), self.totalButtonCount) + b"".join(
                             slots)


@message(0x0028)
@frozen
class SoftKeyTemplateReq(Message):
    """Asks for L{SoftKeyTemplateRes}."""


MAX_SOFT_KEYS = 32
_SOFT_KEY_LABEL = Text(16)
_SOFT_KEY = struct.Struct("<16sI")


@frozen
class SoftKeyDefinition:
    """
    One softkey of L{SoftKeyTemplateRes}.

    @ivar softKeyLabel: usually a label code (C{label(Label.REDIAL)}).
    @ivar softKeyEvent: the L{SoftKeyEvent} the phone sends when pressed.
    """

    softKeyLabel: str = ""
    softKeyEvent: int = 0


@message(0x0108)
@frozen
class SoftKeyTemplateRes(Message):
    """
    The softkeys: offset, count, total, then 32 slots of 20 bytes (unused
    ones zero).  softKeyCount on the wire is C{len(softKeys)}.
    """

    softKeys: tuple[SoftKeyDefinition, ...] = field(
        default=(), converter=tuple)
    softKeyOffset: int = 0
    totalSoftKeyCount: int = _countFromList("softKeys")

    @classmethod
    def _decodeBody(cls, body: bytes, version: int) -> Message:
        offset, count, total = _readHead(body)
        available = max(0, len(body) - _TEMPLATE_HEAD.size) // _SOFT_KEY.size
        keys = []
        for i in range(min(count, MAX_SOFT_KEYS, available)):
            start = _TEMPLATE_HEAD.size + i * _SOFT_KEY.size
            text, _ = _SOFT_KEY_LABEL.decode(body, start, version)
            (event,) = struct.unpack_from("<I", body, start + 16)
            keys.append(SoftKeyDefinition(
                text, enumValue(SoftKeyEvent, event)))
        return cls(keys, offset, total)

    def _encodeBody(self, version: int) -> bytes:
        if len(self.softKeys) > MAX_SOFT_KEYS:
            raise EncodeError("SoftKeyTemplateRes", "softKeys",
                              "%d softkeys, at most %d fit" % (
                                  len(self.softKeys), MAX_SOFT_KEYS))
        try:
            slots = [_SOFT_KEY_LABEL.encode(k.softKeyLabel, version)
                     + struct.pack("<I", k.softKeyEvent)
                     for k in self.softKeys]
        except (ValueError, TypeError, struct.error, AttributeError) as e:
            raise EncodeError("SoftKeyTemplateRes", "softKeys",
                              str(e)) from None
        slots += [b"\x00" * _SOFT_KEY.size] * (MAX_SOFT_KEYS - len(slots))
        return _packHead("SoftKeyTemplateRes", self.softKeyOffset,
                         len(self.softKeys),
                         self.totalSoftKeyCount) + b"".join(slots)


@message(0x0025)
@frozen
class SoftKeySetReq(Message):
    """Asks for L{SoftKeySetRes}."""


MAX_SOFT_KEY_SETS = 16
KEYS_PER_SET = 16
_SET_INDEXES = struct.Struct("<16B16H")


def _withoutTrailingZeros(values: object) -> tuple[int, ...]:
    items = list(values)  # type: ignore[call-overload]
    while items and items[-1] == 0:
        items.pop()
    return tuple(items)


@frozen
class SoftKeySetDefinition:
    """
    One softkey set of L{SoftKeySetRes} (index = L{SoftKeySet} id).
    Trailing zeros (blank keys) are dropped, so equality ignores them.

    @ivar softKeyTemplateIndexes: for each key position, the 1-based position
        of the key in the template (0 = blank).
    @ivar softKeyInfoIndexes: the matching info index (CUCM: 300 + event).
    """

    softKeyTemplateIndexes: tuple[int, ...] = field(
        default=(), converter=_withoutTrailingZeros)
    softKeyInfoIndexes: tuple[int, ...] = field(
        default=(), converter=_withoutTrailingZeros)


@message(0x0109)
@frozen
class SoftKeySetRes(Message):
    """
    The softkey sets: offset, count, total, then 16 sets of 16 template
    indexes (u8) and 16 info indexes (u16).
    """

    softKeySets: tuple[SoftKeySetDefinition, ...] = field(
        default=(), converter=tuple)
    softKeySetOffset: int = 0
    totalSoftKeySetCount: int = _countFromList("softKeySets")

    @classmethod
    def _decodeBody(cls, body: bytes, version: int) -> Message:
        offset, count, total = _readHead(body)
        available = max(0, len(body) - _TEMPLATE_HEAD.size
                        ) // _SET_INDEXES.size
        sets = []
        for i in range(min(count, MAX_SOFT_KEY_SETS, available)):
            values = _SET_INDEXES.unpack_from(
                body, _TEMPLATE_HEAD.size + i * _SET_INDEXES.size)
            sets.append(SoftKeySetDefinition(
                values[:KEYS_PER_SET], values[KEYS_PER_SET:]))
        return cls(sets, offset, total)

    def _encodeBody(self, version: int) -> bytes:
        if len(self.softKeySets) > MAX_SOFT_KEY_SETS:
            raise EncodeError("SoftKeySetRes", "softKeySets",
                              "%d sets, at most %d fit" % (
                                  len(self.softKeySets), MAX_SOFT_KEY_SETS))
        slots = []
        for softKeySet in self.softKeySets:
            templates = list(softKeySet.softKeyTemplateIndexes)
            infos = list(softKeySet.softKeyInfoIndexes)
            if len(templates) > KEYS_PER_SET or len(infos) > KEYS_PER_SET:
                raise EncodeError("SoftKeySetRes", "softKeySets",
                                  "a set has more than %d keys"
                                  % (KEYS_PER_SET,))
            templates += [0] * (KEYS_PER_SET - len(templates))
            infos += [0] * (KEYS_PER_SET - len(infos))
            try:
                slots.append(_SET_INDEXES.pack(*templates, *infos))
            except struct.error as e:
                raise EncodeError("SoftKeySetRes", "softKeySets",
                                  str(e)) from None
        slots += [b"\x00" * _SET_INDEXES.size] * (
            MAX_SOFT_KEY_SETS - len(slots))
        return _packHead("SoftKeySetRes", self.softKeySetOffset,
                         len(self.softKeySets),
                         self.totalSoftKeySetCount) + b"".join(slots)


@message(0x000B)
@frozen
class LineStatReq(Message):
    """Asks for L{LineStat} of line C{lineNumber}."""

    lineNumber: int = wire(U32)


@message(0x0092)
@frozen
class LineStat(Message):
    """
    A line: its directory number, full name and button label.

    @ivar lineDisplayOptions: a L{LineDisplayOption} bit field.
    """

    lineNumber: int = wire(U32)
    lineDirNumber: str = wire(TEXT(24))
    lineFullyQualifiedDisplayName: str = wire(TEXT(40))
    lineTextLabel: str = wire(TEXT(40))
    lineDisplayOptions: int = wire(U32)


@message(0x000A)
@frozen
class SpeedDialStatReq(Message):
    """Asks for L{SpeedDialStat} of speed dial C{speedDialNumber}."""

    speedDialNumber: int = wire(U32)


@message(0x0091)
@frozen
class SpeedDialStat(Message):
    """A speed dial; empty strings mean unassigned."""

    speedDialNumber: int = wire(U32)
    speedDialDirNumber: str = wire(TEXT(24))
    speedDialDisplayName: str = wire(TEXT(40))


@message(0x0034)
@frozen
class FeatureStatReq(Message):
    """Asks for L{FeatureStat} of feature button C{featureIndex}."""

    featureIndex: int = wire(U32)
    featureCapabilities: int = wire(U32, optional=True)


@message(0x011F)
@frozen
class FeatureStat(Message):
    """
    A feature button.

    @ivar featureId: the button type (a L{Stimulus}, e.g. C{HOLD}).
    """

    featureIndex: int = wire(U32)
    featureId: int = wire(U32, enumType=Stimulus)
    featureTextLabel: str = wire(TEXT(40))
    featureStatus: int = wire(U32)


@message(0x0033)
@frozen
class ServiceURLStatReq(Message):
    """Asks for a service URL button; the router answers nothing useful."""

    serviceURLIndex: int = wire(U32)


@message(0x0009)
@frozen
class ForwardStatReq(Message):
    """Asks for L{ForwardStat} of line C{lineNumber}."""

    lineNumber: int = wire(U32)


@message(0x0090)
@frozen
class ForwardStat(Message):
    """
    Call-forward state of a line; the phone draws the forwarded status from
    it.  Numbers are 24 bytes, 25 and packed from protocol 18.
    """

    activeForward: int = wire(U32)
    lineNumber: int = wire(U32)
    forwardAllActive: int = wire(U32)
    forwardAllDirnum: str = wire(DIRNUM)
    forwardBusyActive: int = wire(U32)
    forwardBusyDirnum: str = wire(DIRNUM)
    forwardNoAnswerActive: int = wire(U32)
    forwardNoAnswerDirnum: str = wire(DIRNUM)


@message(0x000C)
@frozen
class ConfigStatReq(Message):
    """Asks for L{ConfigStat}."""


@message(0x0093)
@frozen
class ConfigStat(Message):
    """The phone's identity and its line and speed-dial counts."""

    deviceName: str = wire(TEXT(16))
    userId: int = wire(U32)
    instance: int = wire(U32)
    userName: str = wire(TEXT(40))
    serverName: str = wire(TEXT(40))
    numberOfLines: int = wire(U32)
    numberOfSpeedDials: int = wire(U32)


@message(0x000D)
@frozen
class TimeDateReq(Message):
    """Asks for L{DefineTimeDate}."""


@message(0x0094)
@frozen
class DefineTimeDate(Message):
    """
    The router's local time.

    @ivar dayOfWeek: 0 = Sunday.
    @ivar systemTime: Unix seconds.
    """

    year: int = wire(U32)
    month: int = wire(U32)
    dayOfWeek: int = wire(U32)
    day: int = wire(U32)
    hour: int = wire(U32)
    minute: int = wire(U32)
    second: int = wire(U32)
    milliseconds: int = wire(U32)
    systemTime: int = wire(U32)

    @classmethod
    def fromDateTime(cls, when: datetime.datetime) -> DefineTimeDate:
        """
        Build the message for a local time.

        @param when: the local time; if it is aware, systemTime is its Unix
            time, otherwise it is taken as UTC.
        @return: the message.
        """
        if when.tzinfo is None:
            systemTime = when.replace(tzinfo=datetime.timezone.utc).timestamp()
        else:
            systemTime = when.timestamp()
        return cls(year=when.year, month=when.month,
                   dayOfWeek=when.isoweekday() % 7, day=when.day,
                   hour=when.hour, minute=when.minute, second=when.second,
                   milliseconds=when.microsecond // 1000,
                   systemTime=int(systemTime))


__all__ = [
    "ButtonDefinition", "ButtonTemplate", "ButtonTemplateReq", "ConfigStat",
    "ConfigStatReq", "DefineTimeDate", "FeatureStat", "FeatureStatReq",
    "ForwardStat", "ForwardStatReq", "KEYS_PER_SET", "LineStat",
    "LineStatReq", "MAX_BUTTONS", "MAX_SOFT_KEYS", "MAX_SOFT_KEY_SETS",
    "ServiceURLStatReq", "SoftKeyDefinition", "SoftKeySetDefinition",
    "SoftKeySetReq", "SoftKeySetRes", "SoftKeyTemplateReq",
    "SoftKeyTemplateRes", "SpeedDialStat", "SpeedDialStatReq",
    "TimeDateReq",
]
