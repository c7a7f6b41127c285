# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
SCCP ("Skinny") wire constants: message ids and the value sets carried in
message fields.

Values come from the protocol digest (C{docs/sccp.md}, sections 1.5 and 2);
names follow the Wireshark dissector where it has one.  Every value set is an
L{enum.IntEnum} (or L{enum.IntFlag} for bit fields); the codec turns a known
wire value into its member and leaves an unknown one as a plain C{int}, so
members and plain integers compare equal either way.

The phone's built-in display labels (C{Label}, C{label()}, C{LABEL_*}) are
in L{srst.sccp.messages}.
"""

from __future__ import annotations

import enum

# Protocol versions at which layouts change (sccp.md 1.3, 1.4, 2.4).
PROTOCOL_VERSION_CALL_REFERENCE = 5
"""From this version media messages carry callReference and SRTP key blocks."""

PROTOCOL_VERSION_V11 = 11
"""Key blocks gain isMKIPresent/keyDerivationRate; media gain DTMF fields."""

PROTOCOL_VERSION_IPV4OR6 = 17
"""From this version IP address fields are "ipv4or6" (u32 type + 16 bytes)."""

PROTOCOL_VERSION_PACKED_DN = 18
"""From this version some directory-number fields are 25 bytes, unpadded."""

PROTOCOL_VERSION_MAX = 22
"""The highest protocol version any known phone speaks."""


class MessageId(enum.IntEnum):
    """
    SCCP message ids (sccp.md 2.1).
    """

    # Phone -> router.
    KEEP_ALIVE = 0x0000
    REGISTER = 0x0001
    IP_PORT = 0x0002
    KEYPAD_BUTTON = 0x0003
    ENBLOC_CALL = 0x0004
    STIMULUS = 0x0005
    OFF_HOOK = 0x0006
    ON_HOOK = 0x0007
    HOOK_FLASH = 0x0008
    FORWARD_STAT_REQ = 0x0009
    SPEED_DIAL_STAT_REQ = 0x000A
    LINE_STAT_REQ = 0x000B
    CONFIG_STAT_REQ = 0x000C
    TIME_DATE_REQ = 0x000D
    BUTTON_TEMPLATE_REQ = 0x000E
    VERSION_REQ = 0x000F
    CAPABILITIES_RES = 0x0010
    SERVER_REQ = 0x0012
    ALARM = 0x0020
    OPEN_RECEIVE_CHANNEL_ACK = 0x0022
    CONNECTION_STATISTICS_RES = 0x0023
    OFF_HOOK_WITH_CGPN = 0x0024
    SOFT_KEY_SET_REQ = 0x0025
    SOFT_KEY_EVENT = 0x0026
    UNREGISTER = 0x0027
    SOFT_KEY_TEMPLATE_REQ = 0x0028
    REGISTER_TOKEN_REQ = 0x0029
    MEDIA_TRANSMISSION_FAILURE = 0x002A
    HEADSET_STATUS = 0x002B
    REGISTER_AVAILABLE_LINES = 0x002D
    UPDATE_CAPABILITIES = 0x0030
    SERVICE_URL_STAT_REQ = 0x0033
    FEATURE_STAT_REQ = 0x0034
    UPDATE_CAPABILITIES_V2 = 0x0043
    UPDATE_CAPABILITIES_V3 = 0x0044
    SUBSCRIPTION_STAT_REQ = 0x0048
    MEDIA_PATH_EVENT = 0x0049
    START_MEDIA_TRANSMISSION_ACK = 0x0154
    XML_ALARM = 0x015A
    # Router -> phone.
    REGISTER_ACK = 0x0081
    START_TONE = 0x0082
    STOP_TONE = 0x0083
    SET_RINGER = 0x0085
    SET_LAMP = 0x0086
    SET_SPEAKER_MODE = 0x0088
    SET_MICRO_MODE = 0x0089
    START_MEDIA_TRANSMISSION = 0x008A
    STOP_MEDIA_TRANSMISSION = 0x008B
    START_MEDIA_RECEPTION = 0x008C
    STOP_MEDIA_RECEPTION = 0x008D
    CALL_INFO = 0x008F
    FORWARD_STAT = 0x0090
    SPEED_DIAL_STAT = 0x0091
    LINE_STAT = 0x0092
    CONFIG_STAT = 0x0093
    DEFINE_TIME_DATE = 0x0094
    BUTTON_TEMPLATE = 0x0097
    VERSION = 0x0098
    DISPLAY_TEXT = 0x0099
    CLEAR_DISPLAY = 0x009A
    CAPABILITIES_REQ = 0x009B
    REGISTER_REJECT = 0x009D
    SERVER_RES = 0x009E
    RESET = 0x009F
    KEEP_ALIVE_ACK = 0x0100
    OPEN_RECEIVE_CHANNEL = 0x0105
    CLOSE_RECEIVE_CHANNEL = 0x0106
    CONNECTION_STATISTICS_REQ = 0x0107
    SOFT_KEY_TEMPLATE_RES = 0x0108
    SOFT_KEY_SET_RES = 0x0109
    SELECT_SOFT_KEYS = 0x0110
    CALL_STATE = 0x0111
    DISPLAY_PROMPT_STATUS = 0x0112
    CLEAR_PROMPT_STATUS = 0x0113
    DISPLAY_NOTIFY = 0x0114
    CLEAR_NOTIFY = 0x0115
    ACTIVATE_CALL_PLANE = 0x0116
    DEACTIVATE_CALL_PLANE = 0x0117
    UNREGISTER_ACK = 0x0118
    BACK_SPACE_REQ = 0x0119
    REGISTER_TOKEN_ACK = 0x011A
    REGISTER_TOKEN_REJECT = 0x011B
    DIALED_NUMBER = 0x011D
    FEATURE_STAT = 0x011F
    DISPLAY_PRI_NOTIFY = 0x0120
    CLEAR_PRI_NOTIFY = 0x0121
    DISPLAY_NOTIFY_V2 = 0x0143
    DISPLAY_PRI_NOTIFY_V2 = 0x0144
    DISPLAY_PROMPT_STATUS_V2 = 0x0145
    FEATURE_STAT_V2 = 0x0146
    LINE_STAT_V2 = 0x0147
    SERVICE_URL_STAT_V2 = 0x0148
    SPEED_DIAL_STAT_V2 = 0x0149
    CALL_INFO_V2 = 0x014A


_PHONE_SENT_HIGH_IDS = frozenset(
    {MessageId.START_MEDIA_TRANSMISSION_ACK, MessageId.XML_ALARM})


def sentByPhone(messageId: int) -> bool:
    """
    Tell whether a message id is one that phones send (to the router).

    @param messageId: an SCCP message id.
    @return: C{True} for phone-to-router ids (below 0x80, plus
        StartMediaTransmissionAck and XMLAlarm), C{False} otherwise.
    """
    return messageId < 0x80 or messageId in _PHONE_SENT_HIGH_IDS


class CallState(enum.IntEnum):
    """CallState.callState (sccp.md 2.5)."""

    IDLE = 0
    OFF_HOOK = 1
    ON_HOOK = 2
    RING_OUT = 3
    RING_IN = 4
    CONNECTED = 5
    BUSY = 6
    CONGESTION = 7
    HOLD = 8
    CALL_WAITING = 9
    CALL_TRANSFER = 10
    CALL_PARK = 11
    PROCEED = 12
    CALL_REMOTE_MULTILINE = 13
    INVALID_NUMBER = 14
    HOLD_REVERT = 15
    WHISPER = 16
    REMOTE_HOLD = 17


class CallPrivacy(enum.IntEnum):
    """CallState.privacy."""

    NONE = 0
    LIMITED = 1
    FULL = 2


class CallType(enum.IntEnum):
    """CallInfo.callType."""

    INBOUND = 1
    OUTBOUND = 2
    FORWARD = 3


class CallSecurityStatus(enum.IntEnum):
    """CallInfo.callSecurityStatus: what the phone's padlock/shield shows."""

    UNKNOWN = 0
    NOT_AUTHENTICATED = 1
    AUTHENTICATED = 2
    ENCRYPTED = 3


class PartyRestriction(enum.IntFlag):
    """CallInfo.partyPIRestrictionBits."""

    CALLING_NAME = 0x01
    CALLING_NUMBER = 0x02
    CALLED_NAME = 0x04
    CALLED_NUMBER = 0x08
    ORIGINAL_CALLED_NAME = 0x10
    ORIGINAL_CALLED_NUMBER = 0x20
    LAST_REDIRECT_NAME = 0x40
    LAST_REDIRECT_NUMBER = 0x80


class SoftKeySet(enum.IntEnum):
    """Softkey set ids: SoftKeySetRes index, SelectSoftKeys.softKeySetIndex."""

    ON_HOOK = 0
    CONNECTED = 1
    ON_HOLD = 2
    RING_IN = 3
    OFF_HOOK = 4
    CONNECTED_TRANSFER = 5
    DIGITS_FOLLOWING = 6
    CONNECTED_CONFERENCE = 7
    RING_OUT = 8
    OFF_HOOK_FEATURES = 9
    IN_USE_HINT = 10
    ON_HOOK_STEALABLE = 11


class SoftKeyEvent(enum.IntEnum):
    """
    Conventional softkey event codes (= main label index).  The server picks
    them in SoftKeyTemplateRes and the phone echoes them in SoftKeyEvent.
    """

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
    DND = 63
    BARGE = 67
    DIR_TRFR = 77
    SELECT = 78
    CONF_LIST = 79
    IDIVERT = 80


class Stimulus(enum.IntEnum):
    """
    Stimulus / button definition values, shared by Stimulus, SetLamp and
    ButtonTemplate (sccp.md 2.6).
    """

    LAST_NUMBER_REDIAL = 0x01
    SPEED_DIAL = 0x02
    HOLD = 0x03
    TRANSFER = 0x04
    FORWARD_ALL = 0x05
    FORWARD_BUSY = 0x06
    FORWARD_NO_ANSWER = 0x07
    DISPLAY = 0x08
    LINE = 0x09
    T120_CHAT = 0x0A
    T120_WHITEBOARD = 0x0B
    T120_APPLICATION_SHARING = 0x0C
    T120_FILE_TRANSFER = 0x0D
    VIDEO = 0x0E
    VOICE_MAIL = 0x0F
    ANSWER_RELEASE = 0x10
    AUTO_ANSWER = 0x11
    SELECT = 0x12
    FEATURE = 0x13
    SERVICE_URL = 0x14
    BLF_SPEED_DIAL = 0x15
    MALICIOUS_CALL = 0x1B
    GENERIC_APP_B1 = 0x21
    GENERIC_APP_B2 = 0x22
    GENERIC_APP_B3 = 0x23
    GENERIC_APP_B4 = 0x24
    GENERIC_APP_B5 = 0x25
    MONITOR = 0x26
    MEET_ME = 0x7B
    CONFERENCE = 0x7D
    CALL_PARK = 0x7E
    CALL_PICKUP = 0x7F
    GROUP_CALL_PICKUP = 0x80
    MOBILITY = 0x81
    DO_NOT_DISTURB = 0x82
    CONF_LIST = 0x83
    REMOVE_LAST_PARTICIPANT = 0x84
    QRT = 0x85
    CALL_BACK = 0x86
    OTHER_PICKUP = 0x87
    VIDEO_MODE = 0x88
    NEW_CALL = 0x89
    END_CALL = 0x8A
    HLOG = 0x8B
    QUEUING = 0x8F
    KEYPAD = 0xF0
    UNDEFINED = 0xFF


class LampMode(enum.IntEnum):
    """SetLamp.lampMode."""

    OFF = 1
    ON = 2
    WINK = 3
    FLASH = 4
    BLINK = 5


class RingMode(enum.IntEnum):
    """SetRinger.ringMode."""

    OFF = 1
    INSIDE = 2
    OUTSIDE = 3
    FEATURE = 4
    FLASH_ONLY = 5
    PRECEDENCE = 6


class RingDuration(enum.IntEnum):
    """SetRinger.ringDuration."""

    NORMAL = 1
    SINGLE = 2


class SpeakerMode(enum.IntEnum):
    """SetSpeakerMode.speakerMode."""

    ON = 1
    OFF = 2


class MicrophoneMode(enum.IntEnum):
    """SetMicroMode.micMode."""

    ON = 1
    OFF = 2


class HeadsetMode(enum.IntEnum):
    """HeadsetStatus.headsetStatus."""

    ON = 1
    OFF = 2


class Tone(enum.IntEnum):
    """StartTone.tone / StopTone.tone (sccp.md 2.7)."""

    SILENCE = 0x00
    DTMF_1 = 0x01
    DTMF_2 = 0x02
    DTMF_3 = 0x03
    DTMF_4 = 0x04
    DTMF_5 = 0x05
    DTMF_6 = 0x06
    DTMF_7 = 0x07
    DTMF_8 = 0x08
    DTMF_9 = 0x09
    DTMF_0 = 0x0A
    DTMF_STAR = 0x0E
    DTMF_POUND = 0x0F
    DTMF_A = 0x10
    DTMF_B = 0x11
    DTMF_C = 0x12
    DTMF_D = 0x13
    INSIDE_DIAL = 0x21
    OUTSIDE_DIAL = 0x22
    LINE_BUSY = 0x23
    ALERTING = 0x24
    REORDER = 0x25
    RECORDER_WARNING = 0x26
    RECORDER_DETECTED = 0x27
    REVERTING = 0x28
    RECEIVER_OFF_HOOK = 0x29
    STUTTER_DIAL = 0x2A
    NO_SUCH_NUMBER = 0x2B
    BUSY_VERIFICATION = 0x2C
    CALL_WAITING = 0x2D
    CONFIRMATION = 0x2E
    CAMP_ON_INDICATION = 0x2F
    RECALL_DIAL = 0x30
    ZIP_ZIP = 0x31
    ZIP = 0x32
    BEEP_BONK = 0x33
    MUSIC = 0x34
    HOLD = 0x35
    TEST = 0x36
    ADD_CALL_WAITING = 0x40
    PRIORITY_CALL_WAITING = 0x41
    NO_TONE = 0x7F


class ToneDirection(enum.IntEnum):
    """StartTone.toneDirection."""

    USER = 0
    NETWORK = 1
    ALL = 2


class Codec(enum.IntEnum):
    """
    Payload/codec ids: compressionType, payloadCapability (sccp.md 2.7).
    """

    G711_ALAW_64K = 2
    G711_ALAW_56K = 3
    G711_ULAW_64K = 4
    G711_ULAW_56K = 5
    G722_64K = 6
    G722_56K = 7
    G722_48K = 8
    G723_1 = 9
    G728 = 10
    G729 = 11
    G729_ANNEX_A = 12
    G729_ANNEX_B = 15
    G729_ANNEX_A_B = 16
    GSM_FULL_RATE = 18
    GSM_HALF_RATE = 19
    GSM_ENHANCED_FULL_RATE = 20
    WIDEBAND_256K = 25
    G722_1_32K = 40
    G722_1_24K = 41
    GSM = 80
    G726_32K = 82
    G726_24K = 83
    G726_16K = 84
    ILBC = 86
    ISAC = 89
    OPUS = 90
    AMR = 97
    AMR_WB = 98
    H261 = 100
    H263 = 101
    H263_PLUS = 102
    H264 = 103
    RFC2833_DYNAMIC = 257


CODEC_RTP_PAYLOAD_TYPES = {
    Codec.G711_ALAW_64K: 8,
    Codec.G711_ALAW_56K: 8,
    Codec.G711_ULAW_64K: 0,
    Codec.G711_ULAW_56K: 0,
    Codec.G722_64K: 9,
    Codec.G722_56K: 9,
    Codec.G722_48K: 9,
    Codec.G723_1: 4,
    Codec.G728: 15,
    Codec.G729: 18,
    Codec.G729_ANNEX_A: 18,
    Codec.G729_ANNEX_B: 18,
    Codec.G729_ANNEX_A_B: 18,
    Codec.GSM_FULL_RATE: 3,
    Codec.GSM: 3,
}
"""Static RTP payload types of the codecs that have one."""


class MediaStatus(enum.IntEnum):
    """OpenReceiveChannelAck / StartMediaTransmissionAck status."""

    OK = 0
    UNKNOWN_ERROR = 1
    OUT_OF_CHANNELS = 2
    CODEC_TOO_COMPLEX = 3
    INVALID_PARTY_ID = 4
    INVALID_CALL_REFERENCE = 5
    INVALID_CODEC = 6
    INVALID_PACKET_SIZE = 7
    OUT_OF_SOCKETS = 8
    ENCODER_OR_DECODER_FAILED = 9
    INVALID_DYNAMIC_PAYLOAD_TYPE = 10
    REQUESTED_IP_ADDR_TYPE_UNAVAILABLE = 11
    DEVICE_ON_HOOK = 0xFF


class KeyAlgorithm(enum.IntEnum):
    """SRTP key block algorithmId (sccp.md 3.3)."""

    NONE = 0
    AES_CM_128_HMAC_SHA1_32 = 1
    AES_CM_128_HMAC_SHA1_80 = 2
    F8_128_HMAC_SHA1_32 = 3
    F8_128_HMAC_SHA1_80 = 4
    AEAD_AES_128_GCM = 5
    AEAD_AES_256_GCM = 6


class IpAddrType(enum.IntEnum):
    """The type word of an ipv4or6 field, and requestedIpAddrType."""

    IPV4 = 0
    IPV6 = 1
    IPV4_AND_IPV6 = 2


class PortHandling(enum.IntEnum):
    """CloseReceiveChannel / StopMediaTransmission portHandlingFlag."""

    CLOSE_PORT = 0
    KEEP_PORT = 1


class StatsProcessingMode(enum.IntEnum):
    """ConnectionStatisticsReq/Res statsProcessingMode."""

    CLEAR = 0
    DO_NOT_CLEAR = 1


class ResetType(enum.IntEnum):
    """Reset.resetType."""

    RESET = 1
    RESTART = 2
    APPLY_CONFIG = 3


class UnregisterStatus(enum.IntEnum):
    """UnregisterAck.status."""

    OK = 0
    ERROR = 1
    NAK = 2


class UnregisterReason(enum.IntEnum):
    """Unregister.unRegReasonCode."""

    UNKNOWN = 0
    POWER_SAVE = 1


class AlarmSeverity(enum.IntEnum):
    """Alarm.alarmSeverity."""

    CRITICAL = 0
    WARNING = 1
    INFORMATIONAL = 2
    UNKNOWN = 4
    MAJOR = 7
    MINOR = 8
    MARGINAL = 10
    TRACE = 20


class KeypadButton(enum.IntEnum):
    """KeypadButton.kpButton."""

    ZERO = 0x00
    ONE = 0x01
    TWO = 0x02
    THREE = 0x03
    FOUR = 0x04
    FIVE = 0x05
    SIX = 0x06
    SEVEN = 0x07
    EIGHT = 0x08
    NINE = 0x09
    A = 0x0A
    B = 0x0B
    C = 0x0C
    D = 0x0D
    STAR = 0x0E
    POUND = 0x0F
    PLUS = 0x10


_KEYPAD_CHARACTERS = "0123456789ABCD*#+"


def keypadCharacter(button: int) -> str:
    """
    The character a KeypadButton value stands for.

    @param button: a KeypadButton.kpButton value.
    @return: C{"0"}..C{"9"}, C{"A"}..C{"D"}, C{"*"}, C{"#"} or C{"+"}.
    @raise ValueError: for a value outside 0..0x10.
    """
    if not 0 <= button < len(_KEYPAD_CHARACTERS):
        raise ValueError("not a keypad button: %r" % (button,))
    return _KEYPAD_CHARACTERS[button]


def keypadButton(character: str) -> KeypadButton:
    """
    The KeypadButton value for a dialled character.

    @param character: one of C{"0123456789ABCD*#+"} (letters in either case).
    @return: the L{KeypadButton}.
    @raise ValueError: for any other character.
    """
    index = _KEYPAD_CHARACTERS.find(character.upper())
    if len(character) != 1 or index < 0:
        raise ValueError("not a keypad character: %r" % (character,))
    return KeypadButton(index)


class PhoneFeature(enum.IntFlag):
    """
    Register.phoneFeatures bits.  Only UTF8 and ABBREVIATED_DIAL are agreed
    on by all sources; the dynamic-messages / RFC 2833 positions differ
    between Wireshark (0x80/0x200) and chan-sccp (0x100/0x400), sccp.md 2.2.
    """

    UTF8 = 0x0010
    DYNAMIC_MESSAGES = 0x0080
    DYNAMIC_MESSAGES_CHAN_SCCP = 0x0100
    RFC2833 = 0x0200
    RFC2833_CHAN_SCCP = 0x0400
    ABBREVIATED_DIAL = 0x8000


class LineDisplayOption(enum.IntFlag):
    """LineStat.lineDisplayOptions."""

    ORIGINAL_DIALED = 1
    REDIRECTED_DIALED = 2
    CALLING_LINE_ID = 4
    CALLING_NAME_ID = 8


REGISTER_ACK_FEATURES_CUCM = b"\x00\x00\xfe"
"""RegisterAck feature bytes sent by CUCM 4.1 at protocol 6 [CAP]."""

REGISTER_ACK_FEATURES_V4_V10 = b"\x20\xf1\xfe"
"""RegisterAck feature bytes chan-sccp sends for protocol 4..10."""

REGISTER_ACK_FEATURES_V11 = b"\x20\xf1\xff"
"""RegisterAck feature bytes chan-sccp and wazo send from protocol 11."""


class DeviceType(enum.IntEnum):
    """Register.deviceType for common models (sccp.md 2.6)."""

    PHONE_7910 = 6
    PHONE_7960 = 7
    PHONE_7940 = 8
    PHONE_7935 = 9
    ATA_186 = 12
    PHONE_7941 = 115
    PHONE_7971 = 119
    ADDON_7914 = 124
    PHONE_7985 = 302
    PHONE_7911 = 307
    PHONE_7961_GE = 308
    PHONE_7941_GE = 309
    PHONE_7931 = 348
    PHONE_7921 = 365
    PHONE_7906 = 369
    PHONE_7962 = 404
    PHONE_7937 = 431
    PHONE_7942 = 434
    PHONE_7945 = 435
    PHONE_7965 = 436
    PHONE_7975 = 437
    PHONE_7925 = 484
    PHONE_6921 = 495
    PHONE_6941 = 496
    PHONE_6961 = 497
    PHONE_6901 = 547
    PHONE_6911 = 548
    PHONE_6945 = 564
    PHONE_7926 = 577
    PHONE_8945 = 585
    PHONE_8941 = 586
    PHONE_7905 = 20000
    PHONE_7920 = 30002
    PHONE_7970 = 30006
    PHONE_7912 = 30007
    PHONE_7902 = 30008
    IP_COMMUNICATOR = 30016
    PHONE_7961 = 30018
    PHONE_7936 = 30019


__all__ = [
    "AlarmSeverity", "CODEC_RTP_PAYLOAD_TYPES", "CallPrivacy",
    "CallSecurityStatus", "CallState", "CallType", "Codec", "DeviceType",
    "HeadsetMode", "IpAddrType", "KeyAlgorithm", "KeypadButton", "LampMode",
    "LineDisplayOption", "MediaStatus", "MessageId", "MicrophoneMode",
    "PROTOCOL_VERSION_CALL_REFERENCE", "PROTOCOL_VERSION_IPV4OR6",
    "PROTOCOL_VERSION_MAX", "PROTOCOL_VERSION_PACKED_DN",
    "PROTOCOL_VERSION_V11", "PartyRestriction", "PhoneFeature",
    "PortHandling", "REGISTER_ACK_FEATURES_CUCM", "REGISTER_ACK_FEATURES_V11",
    "REGISTER_ACK_FEATURES_V4_V10", "ResetType", "RingDuration", "RingMode",
    "SoftKeyEvent", "SoftKeySet", "SpeakerMode", "StatsProcessingMode",
    "Stimulus", "Tone", "ToneDirection", "UnregisterReason",
    "UnregisterStatus", "keypadButton", "keypadCharacter", "sentByPhone",
]
