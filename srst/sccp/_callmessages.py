# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
SCCP call-control messages (sccp.md 2.2, 2.3, 5.4): what the phone sends when
the user acts (hook, keys, softkeys), and what the router sends to drive the
phone's ringer, lamps, tones, display and call plane.

Where sccp.md leaves open from which protocol version a trailing field is
sent, the layouts follow the Wireshark dissector's "basic" layout, so that
tshark decodes what we send without complaint; phones ignore trailing bytes
they do not know (sccp.md 1.4).
"""

from __future__ import annotations

from attrs import frozen

from srst.sccp._codec import Message, message
from srst.sccp._fields import DIRNUM, TEXT, U32, wire
from srst.sccp.constants import (
    PROTOCOL_VERSION_V11,
    CallPrivacy,
    CallSecurityStatus,
    CallState as CallStateValue,
    CallType,
    KeypadButton as KeypadButtonValue,
    LampMode,
    MicrophoneMode,
    PartyRestriction,
    RingDuration,
    RingMode,
    SoftKeyEvent as SoftKeyEventValue,
    SoftKeySet,
    SpeakerMode,
    Stimulus as StimulusValue,
    Tone,
    ToneDirection,
)

# Phone -> router.


@message(0x0003)
@frozen
class KeypadButton(Message):
    """A key of the dial pad (L{KeypadButtonValue}: 0-9, A-D, *, #, +)."""

    kpButton: int = wire(U32, enumType=KeypadButtonValue)
    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


@message(0x0004)
@frozen
class EnblocCall(Message):
    """A whole number dialled at once (a trailing C{#} may be present)."""

    calledParty: str = wire(DIRNUM)
    lineInstance: int = wire(U32)


@message(0x0005)
@frozen
class Stimulus(Message):
    """
    A feature or line button press (old phones send only the first two
    fields).

    @ivar stimulus: a L{StimulusValue}.
    @ivar stimulusInstance: the line or speed-dial instance.
    """

    stimulus: int = wire(U32, enumType=StimulusValue)
    stimulusInstance: int = wire(U32)
    callReference: int = wire(U32)
    stimulusStatus: int = wire(U32)


@message(0x0006)
@frozen
class OffHook(Message):
    """
    Handset lifted (or speaker/new call).  From protocol 11 the phone names
    the line and, when answering, the call (lineInstance 0: a new call).
    """

    lineInstance: int = wire(U32, since=PROTOCOL_VERSION_V11)
    callReference: int = wire(U32, since=PROTOCOL_VERSION_V11)


@message(0x0007)
@frozen
class OnHook(Message):
    """Handset down; from protocol 11 with line and call."""

    lineInstance: int = wire(U32, since=PROTOCOL_VERSION_V11)
    callReference: int = wire(U32, since=PROTOCOL_VERSION_V11)


@message(0x0008)
@frozen
class HookFlash(Message):
    """A hook flash."""

    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


@message(0x0024)
@frozen
class OffHookWithCgpn(Message):
    """Off hook with a calling number (used by some gateways/phones)."""

    callingPartyNumber: str = wire(DIRNUM)
    cgpnVoiceMailbox: str = wire(DIRNUM)
    lineInstance: int = wire(U32)


@message(0x0026)
@frozen
class SoftKeyEvent(Message):
    """
    A softkey press: the event chosen in the softkey template
    (L{SoftKeyEventValue}); line and call are 0 when idle.
    """

    softKeyEvent: int = wire(U32, enumType=SoftKeyEventValue)
    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


@message(0x0049)
@frozen
class MediaPathEvent(Message):
    """Accessory (headset/handset/speaker) on or off; informational."""

    mediaPathId: int = wire(U32)
    mediaPathEvent: int = wire(U32)


# Router -> phone.


@message(0x0082)
@frozen
class StartTone(Message):
    """Play a L{Tone} (dial tone, ringback, busy, ...)."""

    tone: int = wire(U32, enumType=Tone)
    toneDirection: int = wire(U32, enumType=ToneDirection)
    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


@message(0x0083)
@frozen
class StopTone(Message):
    """Stop the tone; the tone field exists from protocol 11."""

    lineInstance: int = wire(U32)
    callReference: int = wire(U32)
    tone: int = wire(U32, since=PROTOCOL_VERSION_V11, enumType=Tone)


@message(0x0085)
@frozen
class SetRinger(Message):
    """Ring (L{RingMode}) or stop ringing (C{OFF})."""

    ringMode: int = wire(U32, enumType=RingMode)
    ringDuration: int = wire(U32, enumType=RingDuration)
    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


@message(0x0086)
@frozen
class SetLamp(Message):
    """Set a button lamp (C{stimulus} LINE and the line instance, usually)."""

    stimulus: int = wire(U32, enumType=StimulusValue)
    stimulusInstance: int = wire(U32)
    lampMode: int = wire(U32, enumType=LampMode)


@message(0x0088)
@frozen
class SetSpeakerMode(Message):
    """Speaker on (1) or off (2)."""

    speakerMode: int = wire(U32, enumType=SpeakerMode)


@message(0x0089)
@frozen
class SetMicroMode(Message):
    """Microphone on (1) or off (2)."""

    micMode: int = wire(U32, enumType=MicrophoneMode)


@message(0x008F)
@frozen
class CallInfo(Message):
    """
    Who is calling whom (static form, 384-byte body).

    @ivar callType: a L{CallType}.
    @ivar callInstance: the per-line call number (1..n).
    @ivar callSecurityStatus: a L{CallSecurityStatus} (padlock/shield).
    @ivar partyPIRestrictionBits: a L{PartyRestriction} bit field.
    """

    callingPartyName: str = wire(TEXT(40))
    callingParty: str = wire(TEXT(24))
    calledPartyName: str = wire(TEXT(40))
    calledParty: str = wire(TEXT(24))
    lineInstance: int = wire(U32)
    callReference: int = wire(U32)
    callType: int = wire(U32, enumType=CallType)
    originalCalledPartyName: str = wire(TEXT(40))
    originalCalledParty: str = wire(TEXT(24))
    lastRedirectingPartyName: str = wire(TEXT(40))
    lastRedirectingParty: str = wire(TEXT(24))
    originalCdpnRedirectReason: int = wire(U32)
    lastRedirectingReason: int = wire(U32)
    cgpnVoiceMailbox: str = wire(TEXT(24))
    cdpnVoiceMailbox: str = wire(TEXT(24))
    originalCdpnVoiceMailbox: str = wire(TEXT(24))
    lastRedirectingVoiceMailbox: str = wire(TEXT(24))
    callInstance: int = wire(U32)
    callSecurityStatus: int = wire(U32, enumType=CallSecurityStatus)
    partyPIRestrictionBits: int = wire(U32, enumType=PartyRestriction)


@message(0x0099)
@frozen
class DisplayText(Message):
    """Old-style status line text."""

    text: str = wire(TEXT(32))


@message(0x009A)
@frozen
class ClearDisplay(Message):
    """Clear the L{DisplayText} status line."""


@message(0x0110)
@frozen
class SelectSoftKeys(Message):
    """
    Show a softkey set (L{SoftKeySet}) for a line/call.

    @ivar validKeyMask: bit n enables key n of the set (0xFFFFFFFF: all).
    """

    lineInstance: int = wire(U32)
    callReference: int = wire(U32)
    softKeySetIndex: int = wire(U32, enumType=SoftKeySet)
    validKeyMask: int = wire(U32)


@message(0x0111)
@frozen
class CallState(Message):
    """
    The state of a call leg (L{CallStateValue}).

    @ivar privacy: a L{CallPrivacy}.
    @ivar precedenceLevel: CUCM sends 4.
    """

    callState: int = wire(U32, enumType=CallStateValue)
    lineInstance: int = wire(U32)
    callReference: int = wire(U32)
    privacy: int = wire(U32, enumType=CallPrivacy)
    precedenceLevel: int = wire(U32)
    precedenceDomain: int = wire(U32)


@message(0x0112)
@frozen
class DisplayPromptStatus(Message):
    """
    Prompt line text (labels allowed) for a line/call.

    @ivar timeOutValue: seconds, 0 to keep it.
    """

    timeOutValue: int = wire(U32)
    promptStatus: str = wire(TEXT(32))
    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


@message(0x0113)
@frozen
class ClearPromptStatus(Message):
    """Clear the prompt of a line/call."""

    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


@message(0x0114)
@frozen
class DisplayNotify(Message):
    """A notification for C{timeOutValue} seconds (labels allowed)."""

    timeOutValue: int = wire(U32)
    notify: str = wire(TEXT(32))


@message(0x0115)
@frozen
class ClearNotify(Message):
    """Clear the notification."""


@message(0x0120)
@frozen
class DisplayPriNotify(Message):
    """A notification with a priority (labels allowed)."""

    timeOutValue: int = wire(U32)
    priority: int = wire(U32)
    notify: str = wire(TEXT(32))


@message(0x0121)
@frozen
class ClearPriNotify(Message):
    """Clear the notification of a priority."""

    priority: int = wire(U32)


@message(0x0116)
@frozen
class ActivateCallPlane(Message):
    """Show the call plane of a line."""

    lineInstance: int = wire(U32)


@message(0x0117)
@frozen
class DeactivateCallPlane(Message):
    """Hide the call plane."""


@message(0x0119)
@frozen
class BackSpaceReq(Message):
    """Delete the last dialled digit on the phone's display."""

    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


@message(0x011D)
@frozen
class DialedNumber(Message):
    """The number dialled, for the phone's display and redial list."""

    dialedNumber: str = wire(DIRNUM)
    lineInstance: int = wire(U32)
    callReference: int = wire(U32)


__all__ = [
    "ActivateCallPlane", "BackSpaceReq", "CallInfo", "CallState",
    "ClearDisplay", "ClearNotify", "ClearPriNotify", "ClearPromptStatus",
    "DeactivateCallPlane", "DialedNumber", "DisplayNotify",
    "DisplayPriNotify", "DisplayPromptStatus", "DisplayText", "EnblocCall",
    "HookFlash", "KeypadButton", "MediaPathEvent", "OffHook",
    "OffHookWithCgpn", "OnHook", "SelectSoftKeys", "SetLamp",
    "SetMicroMode", "SetRinger", "SetSpeakerMode", "SoftKeyEvent",
    "StartTone", "Stimulus", "StopTone",
]
