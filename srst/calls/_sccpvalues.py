# -*- test-case-name: tests.test_calls_engine -*-
"""
Values the SCCP call adapter (L{srst.calls.sccpline}) puts in its messages,
and the IOS names C{debug ephone state} prints for call states and tones.
"""

from srst.sccp.constants import CallState, Tone

ALL_KEYS = 0xFFFFFFFF
"""SelectSoftKeys.validKeyMask enabling every key of the set."""
PRECEDENCE_LEVEL = 4
"""CallState.precedenceLevel as CUCM sends it."""
TOS_EF = 0xB8
"""StartMediaTransmission.precedenceValue: DSCP EF."""
NOTIFY_SECONDS, NOTIFY_PRIORITY = 10, 5
"""How long and with which priority the incoming-call notification shows."""
KEY_NOT_ACTIVE_SECONDS = 5
"""How long "Key Is Not Active" shows."""

_TS = {
    CallState.OFF_HOOK: "TsOffHook", CallState.ON_HOOK: "TsOnHook", CallState.RING_OUT: "TsRingOut",
    CallState.RING_IN: "TsRingIn", CallState.CONNECTED: "TsConnected", CallState.BUSY: "TsBusy",
    CallState.HOLD: "TsHold", CallState.PROCEED: "TsProceed",
}
_TONE_NAMES = {Tone.INSIDE_DIAL: "DtInsideDialTone", Tone.OUTSIDE_DIAL: "DtOutsideDialTone",
               Tone.ALERTING: "DtAlertingTone", Tone.LINE_BUSY: "DtBusyTone", Tone.REORDER: "DtReorderTone",
               Tone.HOLD: "DtHoldTone"}
_OFF_HOOK_CHANNELS = frozenset(("SEIZE", "ALERTING", "CONNECTED", "HOLD"))
