# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
The SCCP ("Skinny") codec: bytes in, typed message objects out, and back.

Sans-IO: nothing here touches sockets or the reactor.  The same codec serves
the router (which decodes what phones send and encodes what phones decode)
and the simulated phone C{srst-phone} (the other way round).

Use::

    frames, remainder = splitFrames(buffer)         # framing, per connection
    msg = decodeMessage(frame, protocolVersion=v)   # one frame -> Message
    data = encodeMessage(msg, protocolVersion=v)    # Message -> one frame

  - Every message is a frozen attrs class with C{MESSAGE_ID}; field names
    follow the Wireshark dissector (C{lineInstance}, C{callReference}, ...).
    Value sets (call states, tones, codecs, ...) are enums in
    L{srst.sccp.constants}; some share a name with a message
    (C{constants.CallState} is the enum, C{messages.CallState} the message).
  - Strings are C{str}, decoded as Latin-1 and cut at the first NUL; phone
    label codes stay in them as C{"\\x80\\x17"}-style characters
    (L{label}, C{LABEL_*}, L{describeText}).
  - IPv4 fields are L{ipaddress.IPv4Address}; from protocol 17 address
    fields may also hold an L{ipaddress.IPv6Address}.
  - SRTP key blocks are L{KeyInfo} values, whose repr never shows the key.
  - Layouts depend on the negotiated protocol version: decoding reads fields
    while bytes remain (a missing trailing field is 0 / empty), encoding
    sends the layout of the version (see the module docstrings of
    L{srst.sccp._media} for the media messages).
  - A decoded message remembers its frame (C{msg.origin}, a L{WireOrigin},
    with the header version it came with) and re-encodes to exactly those
    bytes for the same protocol version, garbage after string terminators
    included.  L{attrs.evolve} drops the origin.
  - An unknown id decodes to L{UnknownMessage}; bad input raises
    L{DecodeError} (L{FrameError} from framing), bad field values on
    encoding L{EncodeError}.
"""

from srst.sccp._callmessages import (
    ActivateCallPlane,
    BackSpaceReq,
    CallInfo,
    CallState,
    ClearDisplay,
    ClearNotify,
    ClearPriNotify,
    ClearPromptStatus,
    DeactivateCallPlane,
    DialedNumber,
    DisplayNotify,
    DisplayPriNotify,
    DisplayPromptStatus,
    DisplayText,
    EnblocCall,
    HookFlash,
    KeypadButton,
    MediaPathEvent,
    OffHook,
    OffHookWithCgpn,
    OnHook,
    SelectSoftKeys,
    SetLamp,
    SetMicroMode,
    SetRinger,
    SetSpeakerMode,
    SoftKeyEvent,
    StartTone,
    Stimulus,
    StopTone,
)
from srst.sccp._codec import (
    HEADER_SIZE,
    DecodeError,
    EncodeError,
    FrameError,
    Message,
    UnknownMessage,
    WireOrigin,
    decodeMessage,
    defaultHeaderVersion,
    describeMessageId,
    encodeMessage,
    message,
    messageClass,
    messageIdOf,
    registeredMessages,
)
from srst.sccp._configmessages import (
    ButtonDefinition,
    ButtonTemplate,
    ButtonTemplateReq,
    ConfigStat,
    ConfigStatReq,
    DefineTimeDate,
    FeatureStat,
    FeatureStatReq,
    ForwardStat,
    ForwardStatReq,
    LineStat,
    LineStatReq,
    ServiceURLStatReq,
    SoftKeyDefinition,
    SoftKeySetDefinition,
    SoftKeySetReq,
    SoftKeySetRes,
    SoftKeyTemplateReq,
    SoftKeyTemplateRes,
    SpeedDialStat,
    SpeedDialStatReq,
    TimeDateReq,
)
from srst.sccp._framing import MAX_FRAME, splitFrames
from srst.sccp._keys import NO_KEY, KeyInfo
from srst.sccp._labels import (
    LABEL_BUSY,
    LABEL_CALL_ON_HOLD,
    LABEL_CALL_WAITING,
    LABEL_CAN_NOT_COMPLETE_TRANSFER,
    LABEL_CM_FALLBACK,
    LABEL_CONFERENCE,
    LABEL_CONNECTED,
    LABEL_ENTER_NUMBER,
    LABEL_FORWARDED_TO,
    LABEL_FROM,
    LABEL_HOLD,
    LABEL_KEY_IS_NOT_ACTIVE,
    LABEL_MAX_PHONES_EXCEEDED,
    LABEL_NO_CONFERENCE_BRIDGE,
    LABEL_RING_OUT,
    LABEL_TEMP_FAIL,
    LABEL_UNKNOWN_NUMBER,
    LABEL_YOUR_CURRENT_OPTIONS,
    Label,
    Label2,
    describeText,
    label,
    label2,
)
from srst.sccp._media import (
    CloseReceiveChannel,
    ConnectionStatisticsReq,
    ConnectionStatisticsRes,
    IpPort,
    MediaTransmissionFailure,
    OpenReceiveChannel,
    OpenReceiveChannelAck,
    StartMediaReception,
    StartMediaTransmission,
    StartMediaTransmissionAck,
    StopMediaReception,
    StopMediaTransmission,
)
from srst.sccp._registration import (
    Alarm,
    CapabilitiesReq,
    CapabilitiesRes,
    HeadsetStatus,
    KeepAlive,
    KeepAliveAck,
    MediaCapability,
    Register,
    RegisterAck,
    RegisterAvailableLines,
    RegisterReject,
    RegisterTokenAck,
    RegisterTokenReject,
    RegisterTokenReq,
    Reset,
    ServerIdentifier,
    ServerReq,
    ServerRes,
    Unregister,
    UnregisterAck,
    Version,
    VersionReq,
    XmlAlarm,
)

__all__ = [
    # Codec.
    "DecodeError", "EncodeError", "FrameError", "HEADER_SIZE", "MAX_FRAME",
    "Message", "UnknownMessage", "WireOrigin", "decodeMessage",
    "defaultHeaderVersion", "describeMessageId", "encodeMessage", "message",
    "messageClass", "messageIdOf", "registeredMessages", "splitFrames",
    # Value types.
    "ButtonDefinition", "KeyInfo", "MediaCapability", "NO_KEY",
    "ServerIdentifier", "SoftKeyDefinition", "SoftKeySetDefinition",
    # Labels.
    "LABEL_BUSY", "LABEL_CALL_ON_HOLD", "LABEL_CALL_WAITING",
    "LABEL_CAN_NOT_COMPLETE_TRANSFER", "LABEL_CM_FALLBACK",
    "LABEL_CONFERENCE", "LABEL_CONNECTED", "LABEL_ENTER_NUMBER", "LABEL_FORWARDED_TO",
    "LABEL_FROM", "LABEL_HOLD", "LABEL_KEY_IS_NOT_ACTIVE",
    "LABEL_MAX_PHONES_EXCEEDED", "LABEL_NO_CONFERENCE_BRIDGE", "LABEL_RING_OUT", "LABEL_TEMP_FAIL",
    "LABEL_UNKNOWN_NUMBER", "LABEL_YOUR_CURRENT_OPTIONS", "Label", "Label2",
    "describeText", "label", "label2",
    # Phone -> router.
    "Alarm", "ButtonTemplateReq", "CapabilitiesRes", "ConfigStatReq",
    "ConnectionStatisticsRes", "EnblocCall", "FeatureStatReq",
    "ForwardStatReq", "HeadsetStatus", "HookFlash", "IpPort", "KeepAlive",
    "KeypadButton", "LineStatReq", "MediaPathEvent",
    "MediaTransmissionFailure", "OffHook", "OffHookWithCgpn", "OnHook",
    "OpenReceiveChannelAck", "Register", "RegisterAvailableLines",
    "RegisterTokenReq", "ServerReq", "ServiceURLStatReq", "SoftKeyEvent",
    "SoftKeySetReq", "SoftKeyTemplateReq", "SpeedDialStatReq",
    "StartMediaTransmissionAck", "Stimulus", "TimeDateReq", "Unregister",
    "VersionReq", "XmlAlarm",
    # Router -> phone.
    "ActivateCallPlane", "BackSpaceReq", "ButtonTemplate", "CallInfo",
    "CallState", "CapabilitiesReq", "ClearDisplay", "ClearNotify",
    "ClearPriNotify", "ClearPromptStatus", "CloseReceiveChannel",
    "ConfigStat", "ConnectionStatisticsReq", "DeactivateCallPlane",
    "DefineTimeDate", "DialedNumber", "DisplayNotify", "DisplayPriNotify",
    "DisplayPromptStatus", "DisplayText", "FeatureStat", "ForwardStat",
    "KeepAliveAck", "LineStat", "OpenReceiveChannel", "RegisterAck",
    "RegisterReject", "RegisterTokenAck", "RegisterTokenReject", "Reset",
    "SelectSoftKeys", "ServerRes", "SetLamp", "SetMicroMode", "SetRinger",
    "SetSpeakerMode", "SoftKeySetRes", "SoftKeyTemplateRes", "SpeedDialStat",
    "StartMediaReception", "StartMediaTransmission", "StartTone",
    "StopMediaReception", "StopMediaTransmission", "StopTone",
    "UnregisterAck", "Version",
]
