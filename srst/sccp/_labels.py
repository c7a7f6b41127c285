# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
The phone's built-in display labels (sccp.md 1.5).

A display, prompt, notify or softkey-label field may hold the two-byte code
C{0x80, n} (main table, L{Label}) or C{0x1E, n} (second table, L{Label2}),
optionally followed by literal text; the phone shows its own, localized text
for the code.  The codec decodes strings as Latin-1, so a code is simply the
two characters C{"\\x80"} (or C{"\\x1e"}) and C{chr(n)}: build them with
L{label} / L{label2} or use the C{LABEL_*} constants, and turn a string into
readable English for logs and C{show} output with L{describeText}.
"""

from __future__ import annotations

import enum

MAIN_TABLE_PREFIX = "\x80"
SECOND_TABLE_PREFIX = "\x1e"


class Label(enum.IntEnum):
    """Main label table (code C{0x80, n})."""

    REDIAL = 1
    NEW_CALL = 2
    HOLD = 3
    TRANSFER = 4
    CFWD_ALL = 5
    CFWD_BUSY = 6
    CFWD_NO_ANSWER = 7
    BACK_SPACE = 8
    END_CALL = 9
    RESUME = 10
    ANSWER = 11
    INFO = 12
    CONFRN = 13
    PARK = 14
    JOIN = 15
    MEET_ME = 16
    PICK_UP = 17
    GROUP_PICK_UP = 18
    YOUR_CURRENT_OPTIONS = 19
    OFF_HOOK = 20
    ON_HOOK = 21
    RING_OUT = 22
    FROM = 23
    CONNECTED = 24
    BUSY = 25
    LINE_IN_USE = 26
    CALL_WAITING = 27
    CALL_TRANSFER = 28
    CALL_PARK = 29
    CALL_PROCEED = 30
    IN_USE_REMOTE = 31
    ENTER_NUMBER = 32
    CALL_PARK_AT = 33
    PRIMARY_ONLY = 34
    TEMP_FAIL = 35
    YOU_HAVE_VOICEMAIL = 36
    FORWARDED_TO = 37
    CAN_NOT_COMPLETE_CONFERENCE = 38
    NO_CONFERENCE_BRIDGE = 39
    CAN_NOT_HOLD_PRIMARY_CONTROL = 40
    INVALID_CONFERENCE_PARTICIPANT = 41
    IN_CONFERENCE_ALREADY = 42
    NO_PARTICIPANT_INFO = 43
    EXCEED_MAXIMUM_PARTIES = 44
    KEY_IS_NOT_ACTIVE = 45
    ERROR_NO_LICENSE = 46
    ERROR_DBCONFIG = 47
    ERROR_DATABASE = 48
    ERROR_PASS_LIMIT = 49
    ERROR_UNKNOWN = 50
    ERROR_MISMATCH = 51
    CONFERENCE = 52
    PARK_NUMBER = 53
    PRIVATE = 54
    NOT_ENOUGH_BANDWIDTH = 55
    UNKNOWN_NUMBER = 56
    DND = 63
    BARGE = 67
    CAN_NOT_COMPLETE_TRANSFER = 82
    CAN_NOT_JOIN_CALLS = 83


class Label2(enum.IntEnum):
    """Second label table (code C{0x1E, n})."""

    CM_FALLBACK_SERVICE_OPERATING = 10
    MAX_PHONES_EXCEEDED = 11
    WAITING_TO_REHOME = 12
    PLEASE_END_CALL = 13
    SELECT_LINE = 15
    TRANSFER_DESTINATION_IS_BUSY = 16
    CALL_ON_HOLD = 34
    SETUP_FAILED = 36
    NO_RESOURCES = 37
    FORWARD_ALL = 45


# English texts where the enum name does not spell them well enough.
_MAIN_TEXTS = {
    Label.NEW_CALL: "NewCall",
    Label.TRANSFER: "Transfer",
    Label.CFWD_ALL: "CFwdAll",
    Label.CFWD_BUSY: "CFwdBusy",
    Label.CFWD_NO_ANSWER: "CFwdNoAnswer",
    Label.BACK_SPACE: "BackSpace",
    Label.END_CALL: "EndCall",
    Label.MEET_ME: "MeetMe",
    Label.PICK_UP: "PickUp",
    Label.GROUP_PICK_UP: "GPickUp",
    Label.FROM: "From ",
    Label.DND: "DND",
    Label.ERROR_DBCONFIG: "Error DBConfig",
    Label.YOU_HAVE_VOICEMAIL: "You Have VoiceMail",
}

_SECOND_TEXTS = {
    Label2.CM_FALLBACK_SERVICE_OPERATING: "CM Fallback Service Operating",
}


def label(entry: int) -> str:
    """
    The two-character code for an entry of the main label table.

    @param entry: a L{Label} (or any value 1..0xFF).
    @return: C{"\\x80" + chr(entry)}.
    """
    return MAIN_TABLE_PREFIX + chr(entry)


def label2(entry: int) -> str:
    """
    The two-character code for an entry of the second label table.

    @param entry: a L{Label2} (or any value 1..0xFF).
    @return: C{"\\x1e" + chr(entry)}.
    """
    return SECOND_TABLE_PREFIX + chr(entry)


def _englishName(member: enum.IntEnum) -> str:
    return " ".join(word.capitalize() for word in member.name.split("_"))


def _labelText(table: type[enum.IntEnum], texts: dict, prefix: str,
               entry: int) -> str:
    try:
        member = table(entry)
    except ValueError:
        return "<label %02x %02x>" % (ord(prefix), entry)
    return texts.get(member, _englishName(member))


def describeText(text: str) -> str:
    """
    Replace the label codes in a display string by (English) text, for logs
    and operator output.  Literal text is kept as it is.

    @param text: a decoded display, prompt, notify or softkey-label string.
    @return: e.g. C{"From 1003"} for C{label(Label.FROM) + "1003"}; unknown
        codes render as C{"<label 80 7f>"}.
    """
    out = []
    index = 0
    while index < len(text):
        character = text[index]
        if (character in (MAIN_TABLE_PREFIX, SECOND_TABLE_PREFIX)
                and index + 1 < len(text)):
            entry = ord(text[index + 1])
            if character == MAIN_TABLE_PREFIX:
                out.append(_labelText(Label, _MAIN_TEXTS, character, entry))
            else:
                out.append(_labelText(Label2, _SECOND_TEXTS, character, entry))
            index += 2
        else:
            out.append(character)
            index += 1
    return "".join(out)


LABEL_YOUR_CURRENT_OPTIONS = label(Label.YOUR_CURRENT_OPTIONS)
LABEL_ENTER_NUMBER = label(Label.ENTER_NUMBER)
LABEL_RING_OUT = label(Label.RING_OUT)
LABEL_FROM = label(Label.FROM)
LABEL_CONNECTED = label(Label.CONNECTED)
LABEL_BUSY = label(Label.BUSY)
LABEL_CALL_WAITING = label(Label.CALL_WAITING)
LABEL_HOLD = label(Label.HOLD)
LABEL_TEMP_FAIL = label(Label.TEMP_FAIL)
LABEL_FORWARDED_TO = label(Label.FORWARDED_TO)
LABEL_KEY_IS_NOT_ACTIVE = label(Label.KEY_IS_NOT_ACTIVE)
LABEL_UNKNOWN_NUMBER = label(Label.UNKNOWN_NUMBER)
LABEL_CAN_NOT_COMPLETE_TRANSFER = label(Label.CAN_NOT_COMPLETE_TRANSFER)
LABEL_CONFERENCE = label(Label.CONFERENCE)
LABEL_NO_CONFERENCE_BRIDGE = label(Label.NO_CONFERENCE_BRIDGE)
LABEL_CM_FALLBACK = label2(Label2.CM_FALLBACK_SERVICE_OPERATING)
LABEL_MAX_PHONES_EXCEEDED = label2(Label2.MAX_PHONES_EXCEEDED)
LABEL_CALL_ON_HOLD = label2(Label2.CALL_ON_HOLD)
