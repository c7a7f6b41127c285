# -*- test-case-name: tests.test_sccp_registry -*-
"""
The values the ephone registry deals in: what a registering phone said
(L{RegistrationDetails}), the registry's decision (L{Admission} or
L{Rejection} with a L{RejectReason}), the buttons a phone gets
(L{LineAssignment}, L{SpeedDialAssignment}) and the record of each phone
(L{Ephone} with its L{Line}s).

L{srst.sccp.registry} re-exports every public name here; import them from
there.
"""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING

from attrs import define, field, frozen

_DEVICE_NAME = re.compile(r"^SEP([0-9A-Fa-f]{12})$")

if TYPE_CHECKING:
    from srst.sccp.station import Station


def macFromDeviceName(deviceName: str) -> str | None:
    """
    The MAC address in an IP phone's device name.

    @param deviceName: Register.deviceName, e.g. C{"SEP001122334455"}.
    @return: twelve upper-case hex digits, or L{None} when the name is not
        C{SEP} followed by exactly 12 hex digits.
    """
    match = _DEVICE_NAME.match(deviceName)
    if match is None:
        return None
    return match.group(1).upper()


def dottedMac(mac: str) -> str:
    """
    @param mac: twelve hex digits.
    @return: the IOS form, C{"1000.1111.000B"}.
    """
    return ".".join((mac[0:4], mac[4:8], mac[8:12]))


class RejectReason(enum.Enum):
    """
    Why a registration is refused: a short reason for logs and counters,
    and the RegisterReject text sent to the phone (at most 32 bytes).
    """

    INVALID_DEVICE_NAME = ("invalid device name", "Invalid device name")
    NO_CERTIFICATE = ("no client certificate", "No client certificate")
    CERTIFICATE_MISMATCH = ("device name does not match certificate", "Certificate mismatch")
    MAX_EPHONES = ("max-ephones reached", "Max ephones exceeded")
    MAX_DN = ("max-dn reached", "Max DN exceeded")
    NO_LINES = ("no directory number available", "No DN available")

    def __init__(self, description: str, text: str) -> None:
        self.description = description
        self.text = text


@frozen
class Rejection:
    """
    A refused registration.

    @ivar reason: the L{RejectReason}.
    @ivar detail: one line for the log.
    """

    reason: RejectReason
    detail: str = ""


@frozen
class LineAssignment:
    """
    A line button given to a phone.

    @ivar button: the button number (1-based).
    @ivar instance: the line instance (1-based, in button order): what
        LineStatReq and call-control messages use.
    @ivar dn: the directory number.
    @ivar dnTag: the IOS C{ephone-dn} tag (C{dn 14} in C{show ephone}).
    @ivar label: the button label (empty: the number).
    @ivar name: the display name (empty: none).
    @ivar pickupGroup: the DN's C{pickup-group} (empty: none).
    """

    button: int
    instance: int
    dn: str
    dnTag: int
    label: str = ""
    name: str = ""
    pickupGroup: str = ""


@frozen
class SpeedDialAssignment:
    """
    A speed-dial button.

    @ivar button: the button number.
    @ivar instance: the speed-dial instance (1-based, in button order).
    @ivar number: the number it dials.
    @ivar label: its label.
    """

    button: int
    instance: int
    number: str
    label: str = ""


@frozen
class Admission:
    """
    A registration the registry will accept (L{EphoneRegistry.admit}).

    @ivar mac: twelve upper-case hex digits.
    @ivar ephoneNumber: the phone's ephone number.
    @ivar lines: its line buttons.
    @ivar speedDials: its speed dials.
    @ivar autoAssigned: the auto-assigned number, or L{None} for a
        configured phone.
    @ivar newAssignment: whether that number still has to become the
        phone's reservation (it is held until the registration completes).
    @ivar reusedFrom: the MAC whose reservation that number is (the range
        is full and that phone has gone unseen the longest), or L{None}.
    """

    mac: str
    ephoneNumber: int
    lines: tuple[LineAssignment, ...]
    speedDials: tuple[SpeedDialAssignment, ...] = ()
    autoAssigned: str | None = None
    newAssignment: bool = False
    reusedFrom: str | None = None


@frozen
class RegistrationDetails:
    """
    What the session learnt about a registering phone.

    @ivar deviceName: Register.deviceName.
    @ivar socket: the listener's connection number (C{TCP socket:[n]}).
    @ivar peerHost: the phone's address.
    @ivar peerPort: its source port.
    @ivar deviceType: Register.deviceType.
    @ivar model: the model name for C{show ephone}.
    @ivar maxProtocolVersion: the highest protocol version of the phone.
    @ivar protocolVersion: the negotiated version.
    @ivar maxLine: line buttons of the phone.
    @ivar secure: whether it connected over TLS with a verified certificate.
    @ivar certificateSubject: that certificate's subject, if any.
    @ivar loadInfo: its firmware name, if it said.
    """

    deviceName: str
    socket: int
    peerHost: str
    peerPort: int
    deviceType: int
    model: str
    maxProtocolVersion: int
    protocolVersion: int
    maxLine: int
    secure: bool = False
    certificateSubject: str | None = None
    loadInfo: str = ""


LINE_IDLE = "IDLE"
"""The state of an idle line channel, as C{show ephone} prints it."""


@define
class Line:
    """
    A line button of an ephone and the state of each of its channels.

    @ivar assignment: the L{LineAssignment}.
    @ivar channels: one state per channel (C{"IDLE"}, ...): 1, 2 or 8 per
        C{max-dn} line mode.
    """

    assignment: LineAssignment
    channels: list[str]


@define
class Ephone:
    """
    Everything the router knows about one phone (by MAC address).

    Fields set at registration stay after unregistration (C{show ephone}
    prints the last values); C{socket} goes back to -1.

    @ivar station: the session of the registered phone, or L{None}.
    @ivar keepalives: KeepAlives received in the current registration.
    @ivar capabilities: the codec ids of the phone's CapabilitiesRes.
    @ivar registrationComplete: whether the current (or last)
        registration completed.
    @ivar registeredOnce: whether any registration of this phone ever
        completed in this run: a phone that is not configured and never
        completed one is forgotten when its attempt ends.
    @ivar activeLine, mediaActive, offhook, ringing, reset, resetSent,
        paging, debug: the counters C{show ephone} prints, kept up to date
        by the call engine.
    @ivar dnd: whether do-not-disturb is on (the DND softkey toggles it):
        calls to the phone get busy treatment; kept across registrations,
        not across restarts.
    @ivar lastDialled: the number the phone dialled last (what Redial
        dials); kept across calls and registrations, not across restarts.
    @ivar messageWaiting: whether its message-waiting lamp is on (a
        message waits for one of its lines: C{srst-cli mwi on NUMBER},
        L{EphoneRegistry.setMessageWaiting}).
    """

    number: int
    mac: str
    configured: bool = False
    deviceName: str = ""
    socket: int = -1
    peerHost: str = "0.0.0.0"
    peerPort: int = 0
    deviceType: int = 0
    model: str = "Unknown"
    maxProtocolVersion: int = 0
    protocolVersion: int = 0
    keepalives: int = 0
    maxLine: int = 0
    availableLines: int = 0
    secure: bool = False
    certificateSubject: str | None = None
    loadInfo: str = ""
    lines: list[Line] = field(factory=list)
    speedDials: tuple[SpeedDialAssignment, ...] = ()
    capabilities: tuple[int, ...] = ()
    registrationComplete: bool = False
    registeredOnce: bool = False
    station: Station | None = field(default=None, repr=False, eq=False)
    activeLine: int = 0
    mediaActive: int = 0
    offhook: int = 0
    ringing: int = 0
    reset: int = 0
    resetSent: int = 0
    paging: int = 0
    debug: int = 0
    dnd: bool = False
    lastDialled: str = ""
    messageWaiting: bool = False

    @property
    def registered(self) -> bool:
        """Whether a session currently holds this phone's registration."""
        return self.station is not None

    @property
    def dottedMac(self) -> str:
        """The MAC as IOS prints it (C{1000.1111.0002})."""
        return dottedMac(self.mac)

    def line(self, instance: int) -> Line | None:
        """
        @param instance: a line instance (1-based).
        @return: that line, or L{None}.
        """
        for line in self.lines:
            if line.assignment.instance == instance:
                return line
        return None

    def speedDial(self, instance: int) -> SpeedDialAssignment | None:
        """
        @param instance: a speed-dial instance (1-based).
        @return: that speed dial, or L{None}.
        """
        for speedDial in self.speedDials:
            if speedDial.instance == instance:
                return speedDial
        return None


__all__ = [
    "Admission", "Ephone", "LINE_IDLE", "Line", "LineAssignment", "RegistrationDetails", "RejectReason",
    "Rejection", "SpeedDialAssignment", "dottedMac", "macFromDeviceName",
]
