# -*- test-case-name: tests.test_sccp_registry -*-
"""
The ephone registry: which phones are known and registered, their lines,
and the limits (C{max-ephones}, C{max-dn}) that admit or refuse them.

One L{EphoneRegistry} serves both SCCP listeners (plain and secure).  The
station sessions (L{srst.sccp.station}) ask it to L{admit
<EphoneRegistry.admit>} a phone (a pure decision), then L{register
<EphoneRegistry.register>} it, and L{unregister <EphoneRegistry.unregister>}
it when the session ends.  The call engine finds phones by directory number
with L{EphoneRegistry.byDn}, and matches dialled digits against the
numbers in use with L{EphoneRegistry.dnsWithPrefix}.

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
in use in sorted order (for prefix queries by bisection), the numbers
already taken for auto-assignment and the lowest number of the range that
may still be free, and updates them in L{EphoneRegistry.register} and
L{EphoneRegistry.unregister}.

The value types live in L{srst.sccp._ephone} and the file of remembered
assignments in L{srst.sccp._autoassign}; this module re-exports their
public names.
"""

from __future__ import annotations

import os
from bisect import bisect_left, insort
from collections import Counter
from typing import TYPE_CHECKING

from twisted.logger import Logger

from srst._files import FileWriter, atomicWrite
from srst.sccp._autoassign import AUTO_ASSIGN_FILE, AutoAssignStateError, readAssignments, writeAssignments
from srst.sccp._ephone import (
    LINE_IDLE,
    Admission,
    Ephone,
    Line,
    LineAssignment,
    RegistrationDetails,
    RejectReason,
    Rejection,
    SpeedDialAssignment,
    dottedMac,
    macFromDeviceName,
)
from srst.sccp.config import CallManagerFallbackConfig, EphoneConfig

if TYPE_CHECKING:
    from srst.sccp.station import Station


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
            readAssignments(self.autoAssignPath) if self.autoAssignPath is not None else {})
        self._ephones: dict[str, Ephone] = {}
        self._byNumber: dict[int, Ephone] = {}
        self._configs: dict[str, EphoneConfig] = {}
        self._dnTags: dict[str, int] = {}
        self._configuredDns: set[str] = set()
        # Incremental indexes (see the module docstring): the registered
        # phones by MAC; the MACs of the registered phones with a line for
        # each directory number in use; those numbers, sorted (a new number
        # is inserted by bisection: a pointer move, microseconds even with
        # 10,000 numbers); the registered phones by the session
        # holding them; how many phones each auto-assigned number is
        # remembered for; the auto-assign range position below which every
        # number is taken.
        self._registered: dict[str, Ephone] = {}
        self._dnHolders: dict[str, set[str]] = {}
        self._sortedDns: list[str] = []
        self._holders: dict[Station, dict[str, Ephone]] = {}
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

    def dnsWithPrefix(self, prefix: str, limit: int | None = None) -> list[str]:
        """
        The directory numbers in use that start with C{prefix} (C{prefix}
        itself included), in sorted order.  Costs O(log n + k) for n numbers
        in use and k returned, so dialled digits can be matched on every
        digit with thousands of phones registered.

        @param prefix: the leading digits (the empty string matches every
            number).
        @param limit: return at most this many numbers; L{None} for all.
        @return: those numbers, sorted as strings; C{prefix} comes first
            when it is itself in use.
        """
        dns = self._sortedDns
        index = bisect_left(dns, prefix)
        end = len(dns) if limit is None else min(len(dns), index + max(limit, 0))
        found = []
        while index < end and dns[index].startswith(prefix):
            found.append(dns[index])
            index += 1
        return found

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

    def register(self, admission: Admission, station: Station,
                 details: RegistrationDetails) -> tuple[Ephone, Station | None]:
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

    def unregister(self, station: Station) -> Ephone | None:
        """
        End the registration held by C{station}; its lines' numbers are free
        for other phones (an auto-assigned number stays remembered for this
        phone).  Nothing happens when C{station} holds no registration (for
        example because another session replaced it).

        @param station: a session given to L{register}.
        @return: the phone's record, or L{None}.
        """
        held = self._holders.get(station)
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

    def _addRegistration(self, ephone: Ephone, station: Station) -> None:
        """Index a registration: C{ephone} is now held by C{station}."""
        mac = ephone.mac
        self._registered[mac] = ephone
        self._holders.setdefault(station, {})[mac] = ephone
        for line in ephone.lines:
            dn = line.assignment.dn
            holders = self._dnHolders.get(dn)
            if holders is None:
                holders = self._dnHolders[dn] = set()
                insort(self._sortedDns, dn)
            holders.add(mac)

    def _dropRegistration(self, ephone: Ephone, station: Station) -> None:
        """Forget the indexes of C{ephone}'s registration by C{station}."""
        mac = ephone.mac
        self._registered.pop(mac, None)
        held = self._holders.get(station)
        if held is not None:
            held.pop(mac, None)
            if not held:
                del self._holders[station]
        for line in ephone.lines:
            dn = line.assignment.dn
            holders = self._dnHolders.get(dn)
            if holders is not None:
                holders.discard(mac)
                if not holders:
                    del self._dnHolders[dn]
                    del self._sortedDns[bisect_left(self._sortedDns, dn)]

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
        writeAssignments(self.autoAssignPath, assignments, self._writer)


__all__ = [
    "AUTO_ASSIGN_FILE", "Admission", "AutoAssignStateError", "Ephone", "EphoneRegistry",
    "FileWriter", "LINE_IDLE", "Line", "LineAssignment", "RegistrationDetails", "RejectReason",
    "Rejection", "SpeedDialAssignment", "dottedMac", "macFromDeviceName",
]
