# -*- test-case-name: tests.test_mgcp_endpoint -*-
"""
What an analog MGCP endpoint can detect and generate (mgcp.md 7.1, 7.2,
7.4): the line (C{L}), DTMF (C{D}), generic media (C{G}) and RTP (C{R})
package tables, how requested event names match observed events, how
signals map onto a voice port, and the typed error raised for a command
the endpoint refuses.

Events and signals without a package use the default one: C{D} for DTMF
digits and digit ranges, C{L} otherwise (Cisco C{mgcp default-package} for
FXS).
"""

from __future__ import annotations

import enum
from typing import Optional

from attrs import frozen

from srst.mgcp.constants import EventAction, ResponseCode, responseText
from srst.mgcp.messages import EventName, RequestedEvent, SignalRequest
from srst.ports.tones import CallProgressTone

DTMF = "0123456789*#ABCD"
"""The DTMF event names of the C{D} package."""

LINE_EVENTS = frozenset({"hd", "hu", "hf", "oc", "of", "ld", "rg"})
"""Line package events the endpoint accepts in C{R:} (C{rg}: FXO ringing)."""

PACKAGES = frozenset({"L", "D", "G", "R"})
"""The packages the endpoint supports (C{SST} is advertised by config only)."""

_OTHER_EVENTS = {
    "D": frozenset({"t", "l", "oc", "of"}),
    "G": frozenset({"oc", "of", "ft", "mt", "ld"}),
    "R": frozenset({"rto", "iu", "qa", "ma", "uc", "oc", "of"}),
}

PERSISTENT_EVENTS = {"offhook": ("L", "hd"), "onhook": ("L", "hu"), "hookflash": ("L", "hf")}
"""The events IOS C{mgcp persistent offhook|onhook|hookflash} makes
persistent: reported whatever the current RequestedEvents say (RFC 3435
2.3.3)."""

DEFAULT_PERSISTENT = ("offhook",)
"""IOS's default: off-hook is persistent, on-hook and hook flash are not."""

PERSISTENT = frozenset(PERSISTENT_EVENTS[name] for name in DEFAULT_PERSISTENT)
"""The default persistent events, C{(package, name)} pairs."""


def persistentEvents(names) -> frozenset[tuple[str, str]]:
    """
    @param names: IOS keywords among C{offhook}, C{onhook}, C{hookflash}.
    @return: their C{(package, name)} events.
    @raise KeyError: for another keyword.
    """
    return frozenset(PERSISTENT_EVENTS[name] for name in names)


class MgcpCommandError(ValueError):
    """
    A command the endpoint or gateway refuses.

    @ivar code: the response code (mgcp.md 8).
    @ivar reason: why, one line.
    """

    def __init__(self, code: int, reason: str) -> None:
        ValueError.__init__(self, code, reason)
        self.code = int(code)
        self.reason = reason

    def __str__(self) -> str:
        return "%03d %s: %s" % (self.code, responseText(self.code), self.reason)


def defaultPackage(name: str) -> str:
    """
    @param name: an event or signal name without package.
    @return: C{"D"} for a DTMF digit, digit range or C{x}, else C{"L"}.
    """
    if name.startswith("[") or (len(name) == 1 and name.upper() in DTMF + "TX"):
        return "D"
    return "L"


def packageOf(event: EventName) -> str:
    """
    @param event: a requested, observed or signal name.
    @return: its package, upper case (the default one when absent).
    """
    if event.package is None:
        return defaultPackage(event.name)
    return event.package.upper()


def _rangeSymbols(body: str) -> frozenset:
    symbols: set[str] = set()
    body = body.upper()
    index = 0
    while index < len(body):
        first = body[index]
        if index + 2 < len(body) and body[index + 1] == "-":
            last = body[index + 2]
            if not (first.isdigit() and last.isdigit()) or last < first:
                raise MgcpCommandError(ResponseCode.EVENT_PARAMETER_ERROR,
                                       "bad digit range %s-%s" % (first, last))
            symbols.update(chr(c) for c in range(ord(first), ord(last) + 1))
            index += 3
            continue
        if first == "X":
            symbols.update("0123456789")
        elif first in DTMF + "T":
            symbols.add(first)
        else:
            raise MgcpCommandError(ResponseCode.NO_SUCH_EVENT_OR_SIGNAL,
                                   "bad digit %r in range" % (first,))
        index += 1
    return frozenset(symbols)


def digitSet(event: EventName) -> Optional[frozenset]:
    """
    @param event: a C{D} package requested event.
    @return: the digits it covers, or C{None} for a non-digit event such as
        C{D/oc}.
    @raise MgcpCommandError: 522/538 for a bad range.
    """
    name = event.name.upper()
    if name in ("ALL", "*") and event.package is not None:
        return frozenset(DTMF + "T")
    if name.startswith("[") and name.endswith("]"):
        return _rangeSymbols(name[1:-1])
    if name == "X":
        return frozenset("0123456789")
    if len(name) == 1 and name in DTMF + "T":
        return frozenset(name)
    return None


def checkRequestedEvent(requested: RequestedEvent, hasDigitMap: bool, isFxs: bool) -> None:
    """
    Refuse a requested event the endpoint cannot honour.

    @param requested: one C{R:} entry.
    @param hasDigitMap: whether a digit map is (or will be) set.
    @param isFxs: whether the port faces a telephone.
    @raise MgcpCommandError: 518 unknown package, 522 unknown event, 512
        not detectable on this line, 523 bad action, 519 C{D} action
        without a digit map.
    """
    event = requested.event
    package = packageOf(event)
    name = event.name.lower()
    if event.package == "*" or name in ("all", "*"):
        pass
    elif package not in PACKAGES:
        raise MgcpCommandError(ResponseCode.UNSUPPORTED_PACKAGE, "package %r" % (package,))
    elif package == "L":
        if name not in LINE_EVENTS:
            raise MgcpCommandError(ResponseCode.NO_SUCH_EVENT_OR_SIGNAL, "event %s" % (event,))
        if name == "rg" and isFxs:
            raise MgcpCommandError(ResponseCode.CANNOT_DETECT_EVENT, "an FXS line does not ring in")
    elif package == "D":
        if digitSet(event) is None and name not in _OTHER_EVENTS["D"]:
            raise MgcpCommandError(ResponseCode.NO_SUCH_EVENT_OR_SIGNAL, "event %s" % (event,))
    elif name not in _OTHER_EVENTS.get(package, frozenset()):
        raise MgcpCommandError(ResponseCode.NO_SUCH_EVENT_OR_SIGNAL, "event %s" % (event,))
    actions = {action.action for action in requested.actions}
    if EventAction.SWAP in actions:
        raise MgcpCommandError(ResponseCode.UNKNOWN_ACTION, "swap audio is not supported")
    if EventAction.NOTIFY in actions and EventAction.ACCUMULATE in actions:
        raise MgcpCommandError(ResponseCode.UNKNOWN_ACTION, "notify and accumulate together")
    if EventAction.DIGIT_MAP in actions:
        if package != "D":
            raise MgcpCommandError(ResponseCode.UNKNOWN_ACTION, "digit map action on %s" % (event,))
        if not hasDigitMap:
            raise MgcpCommandError(ResponseCode.NO_DIGIT_MAP, "no digit map for %s" % (event,))
    for action in requested.actions:
        if action.embedded is not None:
            embedded = action.embedded
            if embedded.requestedEvents is not None:
                for inner in embedded.requestedEvents:
                    checkRequestedEvent(inner, hasDigitMap or embedded.digitMap is not None, isFxs)
            if embedded.signalRequests is not None:
                for signal in embedded.signalRequests:
                    lookupSignal(signal, isFxs)


def eventMatches(requested: EventName, package: str, name: str) -> bool:
    """
    @param requested: a requested event name (maybe C{pkg/all}, a range).
    @param package: the observed event's package, upper case.
    @param name: the observed event's name (a digit upper case).
    @return: whether the request covers the observation.
    """
    wantedPackage = packageOf(requested)
    wanted = requested.name.lower()
    if requested.package != "*" and wantedPackage != package:
        return False
    if wanted in ("all", "*"):
        return True
    if package == "D":
        digits = digitSet(requested)
        if digits is not None:
            return name.upper() in digits
    return wanted == name.lower()


class SignalKind(enum.Enum):
    """How a signal is rendered on the voice port."""

    TONE = "tone"
    DTMF = "dtmf"
    RING = "ring"
    CALLER_ID = "callerId"
    NONE = "none"


@frozen
class SignalSpec:
    """
    One generatable signal.

    @ivar kind: the L{SignalKind}.
    @ivar tone: the tone of a L{SignalKind.TONE}, else C{None}.
    @ivar timeout: default seconds for a time-out signal, C{None} for a
        brief or on/off one.
    @ivar fxsOnly: whether only an FXS port can generate it.
    """

    kind: SignalKind
    tone: Optional[CallProgressTone] = None
    timeout: Optional[float] = None
    fxsOnly: bool = True


def _tone(tone: CallProgressTone, timeout: float) -> SignalSpec:
    return SignalSpec(SignalKind.TONE, tone, timeout)


_RING = SignalSpec(SignalKind.RING, None, 180.0)
_BRIEF = SignalSpec(SignalKind.NONE)

SIGNALS: dict[tuple[str, str], SignalSpec] = {
    ("L", "dl"): _tone(CallProgressTone.DIAL, 16.0),
    ("L", "sl"): _tone(CallProgressTone.DIAL, 16.0),
    ("L", "rt"): _tone(CallProgressTone.RINGBACK, 180.0),
    ("L", "v"): _tone(CallProgressTone.RINGBACK, 180.0),
    ("G", "rt"): _tone(CallProgressTone.RINGBACK, 180.0),
    ("L", "bz"): _tone(CallProgressTone.BUSY, 30.0),
    ("L", "nbz"): _tone(CallProgressTone.BUSY, 30.0),
    ("L", "ro"): _tone(CallProgressTone.REORDER, 30.0),
    ("G", "cg"): _tone(CallProgressTone.REORDER, 30.0),
    ("L", "ot"): _tone(CallProgressTone.REORDER, 30.0),
    ("L", "e"): _tone(CallProgressTone.REORDER, 30.0),
    ("L", "rg"): _RING,
    ("L", "rs"): _RING,
    ("L", "ci"): SignalSpec(SignalKind.CALLER_ID),
    ("L", "cf"): _BRIEF,
    ("G", "cf"): _BRIEF,
    ("L", "wt"): _BRIEF,
    ("L", "ht"): _BRIEF,
    ("L", "osi"): SignalSpec(SignalKind.NONE, fxsOnly=False),
    ("L", "mwi"): _BRIEF,
    ("L", "vmwi"): _BRIEF,
    ("L", "p"): _BRIEF,
    ("L", "y"): _BRIEF,
    ("L", "z"): _BRIEF,
    ("L", "aw"): _BRIEF,
    ("L", "lsa"): _BRIEF,
    ("G", "it"): _BRIEF,
    ("G", "pt"): _BRIEF,
}
"""The signals an analog endpoint generates, by C{(package, name)}."""

for _digit in DTMF:
    # RFC 3660 2.2: a brief DTMF tone, on any line (an FXO port dials with it).
    SIGNALS[("D", _digit.lower())] = SignalSpec(SignalKind.DTMF, fxsOnly=False)
for _index in range(8):
    SIGNALS[("L", "r%d" % (_index,))] = _RING
for _index in range(1, 5):
    SIGNALS[("L", "wt%d" % (_index,))] = _BRIEF


def signalKey(signal: SignalRequest) -> tuple[str, str]:
    """
    @param signal: one C{S:} entry.
    @return: its C{(package, name)}, package upper case, name lower case.
    """
    return packageOf(signal.event), signal.event.name.lower()


def lookupSignal(signal: SignalRequest, isFxs: bool) -> SignalSpec:
    """
    @param signal: one C{S:} entry.
    @param isFxs: whether the port faces a telephone.
    @return: how to generate it.
    @raise MgcpCommandError: 518 unknown package, 522 unknown signal, 513
        an FXS signal on an FXO line, 538 bad C{to=}.
    """
    package, name = signalKey(signal)
    if package not in PACKAGES:
        raise MgcpCommandError(ResponseCode.UNSUPPORTED_PACKAGE, "package %r" % (package,))
    spec = SIGNALS.get((package, name))
    if spec is None:
        raise MgcpCommandError(ResponseCode.NO_SUCH_EVENT_OR_SIGNAL, "signal %s" % (signal.event,))
    if spec.fxsOnly and not isFxs:
        raise MgcpCommandError(ResponseCode.CANNOT_GENERATE_SIGNAL,
                               "an FXO line cannot generate %s" % (signal.event,))
    signalTimeout(signal, spec)
    return spec


def signalOff(signal: SignalRequest) -> bool:
    """
    @param signal: one C{S:} entry.
    @return: whether it is C{name(-)}, turning an on/off signal off.
    """
    return signal.parameters == ("-",)


def signalTimeout(signal: SignalRequest, spec: SignalSpec) -> Optional[float]:
    """
    @param signal: one C{S:} entry, maybe with C{to=<ms>} (C{-1}: forever).
    @param spec: its L{SignalSpec}.
    @return: seconds until it stops by itself, or C{None} for never.
    @raise MgcpCommandError: 538 for a bad C{to=} value.
    """
    for parameter in signal.parameters or ():
        key, equals, value = parameter.partition("=")
        if equals and key.strip().lower() == "to":
            try:
                milliseconds = int(value.strip())
            except ValueError:
                raise MgcpCommandError(ResponseCode.EVENT_PARAMETER_ERROR,
                                       "bad to=%s" % (value,)) from None
            if milliseconds == -1:
                return None
            if milliseconds <= 0:
                raise MgcpCommandError(ResponseCode.EVENT_PARAMETER_ERROR, "bad to=%s" % (value,))
            return milliseconds / 1000.0
    return spec.timeout


def signalDigit(signal: SignalRequest) -> str:
    """
    @param signal: a C{D/<digit>} request (L{SignalKind.DTMF}).
    @return: its digit, upper case.
    """
    return signal.event.name.upper()


def callerIdNumber(signal: SignalRequest) -> Optional[str]:
    """
    @param signal: an C{L/ci(time,number,name)} request.
    @return: the number without quotes, or C{None}.
    """
    parameters = signal.parameters or ()
    if len(parameters) < 2:
        return None
    number = parameters[1].strip().strip('"').strip()
    return number or None


__all__ = ["DEFAULT_PERSISTENT", "DTMF", "PACKAGES", "PERSISTENT", "PERSISTENT_EVENTS", "persistentEvents", "MgcpCommandError", "SignalKind", "SignalSpec",
           "SIGNALS", "checkRequestedEvent", "eventMatches", "lookupSignal", "signalKey",
           "signalOff", "signalTimeout", "signalDigit", "callerIdNumber", "digitSet", "packageOf",
           "defaultPackage"]
