# -*- test-case-name: tests.test_sccp_registry -*-
"""
The ephone registry: which phones are known and registered, their lines,
and the limits (C{max-ephones}, C{max-dn}) that admit or refuse them.

One L{EphoneRegistry} serves both SCCP listeners (plain and secure).  The
station sessions (L{srst.sccp.station}) ask it to L{admit
<EphoneRegistry.admit>} a phone (a pure decision), then L{register
<EphoneRegistry.register>} it, and L{unregister <EphoneRegistry.unregister>}
it when the session ends.  The call engine finds phones by directory number
with L{EphoneRegistry.byDn}.

Numbering: every MAC address gets an ephone number (C{ephone-1}, ...) that
stays the same for the life of the process.  Configured ephones get 1..N in
configuration order; other phones get the next number when they first
register.  Directory numbers get a C{dn} tag (IOS C{ephone-dn} number) the
same way: configured numbers first, in configuration order.

Lines: a configured ephone (C{call-manager-fallback.ephones}, keyed by MAC)
gets its configured line buttons and speed dials.  Any other phone gets one
line (button 1) from C{auto-assign.dn-range}: the number it had before if it
registered earlier (also in an earlier run of the router), else the lowest
number of the range that is neither configured nor remembered for another
phone.  Assignments are remembered in C{<state-dir>/sccp/auto-assign.json},
written atomically before the phone is accepted; a number stays reserved
for its phone after the phone unregisters.  Without C{auto-assign}, a phone
that is not configured is refused.

Limits: C{max-ephones} counts registered phones only (a standby connection
that only sends keepalives never reaches the registry); a phone
re-registering is not counted twice.  C{max-dn} bounds the directory numbers
in use by registered phones, the new phone's included.

Bookkeeping is incremental so that admitting and registering a phone costs
the same with 10 or 10,000 phones registered: the registry keeps the
registered phones, the phones holding each directory number, the numbers
already taken for auto-assignment and the lowest number of the range that
may still be free, and updates them in L{EphoneRegistry.register} and
L{EphoneRegistry.unregister}.
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections import Counter
from typing import Any, Callable

from attrs import define, field, frozen
from twisted.logger import Logger

from srst._cmfconfig import CallManagerFallbackConfig, EphoneConfig
from srst.pki._files import atomicWrite, ensureDirectory

FileWriter = Callable[[str, bytes, int], None]
"""C{writer(path, data, mode)}: replace C{path} atomically (L{atomicWrite})."""

AUTO_ASSIGN_FILE = os.path.join("sccp", "auto-assign.json")
"""Where auto-assigned numbers are remembered, relative to the state directory."""

_DEVICE_NAME = re.compile(r"^SEP([0-9A-Fa-f]{12})$")


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
    STORAGE = ("auto-assign state not saved", "Registration failed")

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
    """

    button: int
    instance: int
    dn: str
    dnTag: int
    label: str = ""
    name: str = ""


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
    @ivar newAssignment: whether that number still has to be remembered.
    """

    mac: str
    ephoneNumber: int
    lines: tuple[LineAssignment, ...]
    speedDials: tuple[SpeedDialAssignment, ...] = ()
    autoAssigned: str | None = None
    newAssignment: bool = False


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
    @ivar activeLine, mediaActive, offhook, ringing, reset, resetSent,
        paging, debug: the counters C{show ephone} prints, kept up to date
        by the call engine.
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
    station: Any = field(default=None, repr=False, eq=False)
    activeLine: int = 0
    mediaActive: int = 0
    offhook: int = 0
    ringing: int = 0
    reset: int = 0
    resetSent: int = 0
    paging: int = 0
    debug: int = 0

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


class AutoAssignStateError(ValueError):
    """
    The remembered auto-assignments cannot be read.

    @ivar path: the file.
    @ivar reason: what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        ValueError.__init__(self, path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot read auto-assigned directory numbers from {self.path}: {self.reason}"


_STATE_VERSION = 1


def _readAssignments(path: str) -> dict[str, str]:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise AutoAssignStateError(path, e.strerror or str(e)) from e
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise AutoAssignStateError(path, f"not JSON ({e})") from e
    if not isinstance(document, dict) or document.get("version") != _STATE_VERSION:
        raise AutoAssignStateError(path, f"expected an object with version {_STATE_VERSION}")
    assignments = document.get("assignments")
    if not isinstance(assignments, dict):
        raise AutoAssignStateError(path, "expected an object under 'assignments'")
    result = {}
    for mac, dn in assignments.items():
        if not (isinstance(mac, str) and re.fullmatch(r"[0-9A-F]{12}", mac)
                and isinstance(dn, str) and re.fullmatch(r"[0-9]{1,15}", dn)):
            raise AutoAssignStateError(path, f"bad assignment {mac!r}: {dn!r}")
        result[mac] = dn
    return result


class EphoneRegistry:
    """
    The phones of both SCCP listeners, by MAC and by directory number.

    @ivar config: the C{call-manager-fallback} configuration.
    @ivar autoAssignPath: the file remembering auto-assigned numbers, or
        L{None} when nothing is stored (no state directory).
    """

    log = Logger()

    def __init__(
        self,
        config: CallManagerFallbackConfig,
        stateDir: str | None,
        writer: FileWriter = atomicWrite,
    ) -> None:
        """
        @param config: the C{call-manager-fallback} section.
        @param stateDir: the router's state directory; L{None} keeps
            auto-assignments in memory only.
        @param writer: how state files are replaced (tests inject failures).
        @raise AutoAssignStateError: when the remembered assignments exist
            but cannot be read.
        """
        self.config = config
        self._writer = writer
        self.autoAssignPath = os.path.join(stateDir, AUTO_ASSIGN_FILE) if stateDir is not None else None
        self._assignments: dict[str, str] = (
            _readAssignments(self.autoAssignPath) if self.autoAssignPath is not None else {})
        self._ephones: dict[str, Ephone] = {}
        self._byNumber: dict[int, Ephone] = {}
        self._configs: dict[str, EphoneConfig] = {}
        self._dnTags: dict[str, int] = {}
        self._configuredDns: set[str] = set()
        # Incremental indexes (see the module docstring): the registered
        # phones by MAC; the MACs of the registered phones with a line for
        # each directory number in use; the registered phones by the id of
        # the session holding them; how many phones each auto-assigned
        # number is remembered for; the auto-assign range position below
        # which every number is taken.
        self._registered: dict[str, Ephone] = {}
        self._dnHolders: dict[str, set[str]] = {}
        self._holders: dict[int, dict[str, Ephone]] = {}
        self._assignedDns: Counter[str] = Counter(self._assignments.values())
        self._freeCursor = 0
        for ephoneConfig in config.ephones:
            self._configs[ephoneConfig.mac] = ephoneConfig
            self._addEphone(Ephone(len(self._ephones) + 1, ephoneConfig.mac, configured=True))
            for button in sorted(ephoneConfig.buttons, key=lambda b: b.button):
                self._configuredDns.add(button.dn)
                self._dnTag(button.dn)
        for ephone in self._ephones.values():
            ephone.lines = [self._newLine(a) for a in self._configuredLines(self._configs[ephone.mac])]
            ephone.speedDials = self._configuredSpeedDials(self._configs[ephone.mac])

    # -- lookups ----------------------------------------------------------------

    def ephones(self) -> list[Ephone]:
        """
        @return: every known phone (configured, or registered at least once),
            by ephone number.
        """
        return sorted(self._ephones.values(), key=lambda e: e.number)

    def registeredEphones(self) -> list[Ephone]:
        """
        @return: the registered phones, by ephone number.
        """
        return sorted(self._registered.values(), key=lambda e: e.number)

    def registeredCount(self) -> int:
        """
        @return: how many phones are registered (what C{max-ephones} limits).
        """
        return len(self._registered)

    def byMac(self, mac: str) -> Ephone | None:
        """
        @param mac: twelve hex digits (any case).
        @return: the phone, or L{None}.
        """
        return self._ephones.get(mac.upper())

    def byNumber(self, number: int) -> Ephone | None:
        """
        @param number: an ephone number.
        @return: the phone, or L{None}.
        """
        return self._byNumber.get(number)

    def byDn(self, dn: str) -> list[Ephone]:
        """
        The registered phones with a line for a directory number (several for
        a shared line).

        @param dn: the directory number.
        @return: those phones, by ephone number.
        """
        holders = self._dnHolders.get(dn)
        if not holders:
            return []
        return sorted((self._ephones[mac] for mac in holders), key=lambda e: e.number)

    def dnsInUse(self) -> set[str]:
        """
        @return: the directory numbers of the registered phones' lines.
        """
        return set(self._dnHolders)

    def rememberedDn(self, mac: str) -> str | None:
        """
        @param mac: twelve hex digits.
        @return: the number auto-assigned to that phone (now or in an
            earlier run), or L{None}.
        """
        return self._assignments.get(mac.upper())

    def dnTag(self, dn: str) -> int | None:
        """
        @param dn: a directory number.
        @return: its C{ephone-dn} tag, or L{None} if it was never used.
        """
        return self._dnTags.get(dn)

    # -- admission ----------------------------------------------------------------

    def admit(self, mac: str) -> Admission | Rejection:
        """
        Decide whether the phone with C{mac} may register now, and with which
        lines.  Changes nothing.

        @param mac: twelve upper-case hex digits.
        @return: an L{Admission}, or the L{Rejection}.
        """
        mac = mac.upper()
        current = self._registered.get(mac)
        others = len(self._registered) - (current is not None)
        if others >= self.config.maxEphones:
            return Rejection(RejectReason.MAX_EPHONES,
                             f"{others} phones registered, max-ephones is {self.config.maxEphones}")
        ephoneNumber = self._numberFor(mac)
        ephoneConfig = self._configs.get(mac)
        autoAssigned: str | None = None
        newAssignment = False
        if ephoneConfig is not None:
            lines = self._configuredLines(ephoneConfig)
            speedDials = self._configuredSpeedDials(ephoneConfig)
        else:
            autoAssigned, newAssignment = self._autoAssign(mac)
            if autoAssigned is None:
                detail = ("no auto-assign dn-range is configured" if self.config.autoAssign is None
                          else "every number of the auto-assign dn-range is taken")
                return Rejection(RejectReason.NO_LINES, f"the phone is not configured and {detail}")
            lines = (LineAssignment(1, 1, autoAssigned, self._peekDnTag(autoAssigned)),)
            speedDials = ()
        wanted = self._dnsWanted(mac, current, lines)
        if wanted > self.config.maxDn:
            return Rejection(RejectReason.MAX_DN,
                             f"{wanted} directory numbers would be in use, max-dn is {self.config.maxDn}")
        return Admission(mac, ephoneNumber, lines, speedDials, autoAssigned, newAssignment)

    def _dnsWanted(self, mac: str, current: Ephone | None, lines: tuple[LineAssignment, ...]) -> int:
        """
        @return: how many directory numbers would be in use with C{mac}
            registered with C{lines} (its current lines, if registered,
            replaced by them).
        """
        holders = self._dnHolders
        inUse = len(holders)
        if current is not None:
            # Numbers only this phone holds stop being in use.
            inUse -= sum(1 for dn in {line.assignment.dn for line in current.lines} if holders[dn] == {mac})
        extra = 0
        for dn in {line.dn for line in lines}:
            dnHolders = holders.get(dn)
            if not dnHolders or dnHolders == {mac}:
                extra += 1
        return inUse + extra

    def _numberFor(self, mac: str) -> int:
        ephone = self._ephones.get(mac)
        if ephone is not None:
            return ephone.number
        return len(self._ephones) + 1

    def _peekDnTag(self, dn: str) -> int:
        tag = self._dnTags.get(dn)
        return tag if tag is not None else len(self._dnTags) + 1

    def _dnTag(self, dn: str) -> int:
        tag = self._dnTags.get(dn)
        if tag is None:
            tag = self._dnTags[dn] = len(self._dnTags) + 1
        return tag

    def _configuredLines(self, ephoneConfig: EphoneConfig) -> tuple[LineAssignment, ...]:
        buttons = sorted(ephoneConfig.buttons, key=lambda b: b.button)
        return tuple(
            LineAssignment(b.button, index + 1, b.dn, self._peekDnTag(b.dn), b.label, b.name)
            for index, b in enumerate(buttons))

    @staticmethod
    def _configuredSpeedDials(ephoneConfig: EphoneConfig) -> tuple[SpeedDialAssignment, ...]:
        speedDials = sorted(ephoneConfig.speedDials, key=lambda s: s.button)
        return tuple(SpeedDialAssignment(s.button, index + 1, s.number, s.label)
                     for index, s in enumerate(speedDials))

    def _inRange(self, dn: str) -> bool:
        dnRange = self.config.autoAssign
        if dnRange is None:
            return False
        first, last = dnRange
        width = len(str(first))
        return dn.isdigit() and len(dn) == width and first <= int(dn) <= last

    def _autoAssign(self, mac: str) -> tuple[str | None, bool]:
        dnRange = self.config.autoAssign
        if dnRange is None:
            return None, False
        remembered = self._assignments.get(mac)
        if remembered is not None and self._inRange(remembered) and remembered not in self._configuredDns:
            return remembered, False
        # The lowest number of the range that is neither configured nor
        # remembered for another phone.  Every number before the cursor is
        # configured or remembered (for some phone); only this phone's own
        # remembered number, which it may get back, can be free among them.
        first, last = dnRange
        width = len(str(first))
        configured = self._configuredDns
        assigned = self._assignedDns
        value = first + self._freeCursor
        while value <= last:
            dn = str(value).zfill(width)
            if dn not in configured and not assigned[dn]:
                break
            value += 1
        self._freeCursor = value - first
        own = self._ownCandidate(remembered, first, last, width)
        if own is not None and own <= value:
            return remembered, True
        if value <= last:
            return str(value).zfill(width), True
        return None, False

    def _ownCandidate(self, remembered: str | None, first: int, last: int, width: int) -> int | None:
        """
        @return: the range value whose number is C{remembered} when only
            this phone has that number remembered and it is not configured
            (the range scan may give it back), else L{None}.
        """
        if (remembered is None or not remembered.isdigit() or remembered in self._configuredDns
                or self._assignedDns[remembered] != 1):
            return None
        value = int(remembered)
        if first <= value <= last and str(value).zfill(width) == remembered:
            return value
        return None

    # -- registration ------------------------------------------------------------

    def register(self, admission: Admission, station: Any,
                 details: RegistrationDetails) -> tuple[Ephone, Any]:
        """
        Record a registration admitted by L{admit}.  A new auto-assignment is
        written to disk first; if that fails nothing changes.

        @param admission: what L{admit} returned (just before).
        @param station: the session now holding the registration.
        @param details: what the session learnt about the phone.
        @return: C{(ephone, previous)}: the phone's record and the session
            that held its registration until now (to be closed), or L{None}.
        @raise OSError: when the auto-assignment cannot be saved.
        """
        mac = admission.mac
        if admission.newAssignment and admission.autoAssigned is not None:
            self._remember(mac, admission.autoAssigned)
        ephone = self._ephones.get(mac)
        if ephone is None:
            ephone = self._addEphone(Ephone(self._numberFor(mac), mac))
        previous = ephone.station
        for line in admission.lines:
            self._dnTag(line.dn)
        channels = self.config.channelsPerDn
        oldStates = {line.assignment.dn: line.channels for line in ephone.lines} if previous is not None else {}
        if previous is not None:
            self._dropRegistration(ephone, previous)
        ephone.lines = [Line(line, list(oldStates.get(line.dn, [LINE_IDLE] * channels)))
                        for line in admission.lines]
        ephone.speedDials = admission.speedDials
        ephone.station = station
        self._addRegistration(ephone, station)
        ephone.deviceName = details.deviceName
        ephone.socket = details.socket
        ephone.peerHost = details.peerHost
        ephone.peerPort = details.peerPort
        ephone.deviceType = int(details.deviceType)
        ephone.model = details.model
        ephone.maxProtocolVersion = details.maxProtocolVersion
        ephone.protocolVersion = details.protocolVersion
        ephone.maxLine = details.maxLine
        ephone.availableLines = 0
        ephone.secure = details.secure
        ephone.certificateSubject = details.certificateSubject
        ephone.loadInfo = details.loadInfo
        ephone.keepalives = 0
        ephone.capabilities = ()
        ephone.registrationComplete = False
        self.log.info(
            "ephone-{ephone} {device} registered from {ip} {port} (SCCP ver {version}{security})",
            ephone=ephone.number, device=details.deviceName, ip=details.peerHost, port=details.peerPort,
            version=details.protocolVersion, security=", TLS" if details.secure else "",
            mac=mac, lines=[line.dn for line in admission.lines], replaced=previous is not None)
        return ephone, previous

    def unregister(self, station: Any) -> Ephone | None:
        """
        End the registration held by C{station}; its lines' numbers are free
        for other phones (an auto-assigned number stays remembered for this
        phone).  Nothing happens when C{station} holds no registration (for
        example because another session replaced it).

        @param station: a session given to L{register}.
        @return: the phone's record, or L{None}.
        """
        held = self._holders.get(id(station))
        candidates = [e for e in held.values() if e.station is station] if held else []
        if not candidates:
            return None
        ephone = min(candidates, key=lambda e: e.number)
        self._dropRegistration(ephone, station)
        ephone.station = None
        ephone.socket = -1
        for line in ephone.lines:
            line.channels = [LINE_IDLE] * len(line.channels)
        ephone.activeLine = ephone.mediaActive = ephone.offhook = ephone.ringing = 0
        self.log.info("ephone-{ephone} {device} unregistered", ephone=ephone.number,
                      device=ephone.deviceName, mac=ephone.mac)
        return ephone

    def _addEphone(self, ephone: Ephone) -> Ephone:
        self._ephones[ephone.mac] = ephone
        self._byNumber[ephone.number] = ephone
        return ephone

    def _addRegistration(self, ephone: Ephone, station: Any) -> None:
        """Index a registration: C{ephone} is now held by C{station}."""
        mac = ephone.mac
        self._registered[mac] = ephone
        self._holders.setdefault(id(station), {})[mac] = ephone
        for line in ephone.lines:
            self._dnHolders.setdefault(line.assignment.dn, set()).add(mac)

    def _dropRegistration(self, ephone: Ephone, station: Any) -> None:
        """Forget the indexes of C{ephone}'s registration by C{station}."""
        mac = ephone.mac
        self._registered.pop(mac, None)
        held = self._holders.get(id(station))
        if held is not None:
            held.pop(mac, None)
            if not held:
                del self._holders[id(station)]
        for line in ephone.lines:
            holders = self._dnHolders.get(line.assignment.dn)
            if holders is not None:
                holders.discard(mac)
                if not holders:
                    del self._dnHolders[line.assignment.dn]

    def _remember(self, mac: str, dn: str) -> None:
        """
        Remember C{dn} as C{mac}'s auto-assigned number, on disk first.

        @raise OSError: when it cannot be saved (nothing changes).
        """
        if self.autoAssignPath is not None:
            self._save({**self._assignments, mac: dn})
        old = self._assignments.get(mac)
        self._assignments[mac] = dn
        self._assignedDns[dn] += 1
        if old is not None:
            self._assignedDns[old] -= 1
            if not self._assignedDns[old]:
                del self._assignedDns[old]
                # A number became free again: scan the range from its start.
                self._freeCursor = 0

    def _newLine(self, assignment: LineAssignment) -> Line:
        return Line(assignment, [LINE_IDLE] * self.config.channelsPerDn)

    def _save(self, assignments: dict[str, str]) -> None:
        if self.autoAssignPath is None:
            return
        ensureDirectory(os.path.dirname(self.autoAssignPath))
        document = {"version": _STATE_VERSION, "assignments": dict(sorted(assignments.items()))}
        data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
        self._writer(self.autoAssignPath, data, 0o644)


__all__ = [
    "AUTO_ASSIGN_FILE", "Admission", "AutoAssignStateError", "Ephone", "EphoneRegistry",
    "FileWriter", "LINE_IDLE", "Line", "LineAssignment", "RegistrationDetails", "RejectReason",
    "Rejection", "SpeedDialAssignment", "dottedMac", "macFromDeviceName",
]
