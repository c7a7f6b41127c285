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

Numbering: configured ephones get C{ephone-1..N} in configuration order;
any other phone gets the lowest ephone number not in use when it sends
Register, as IOS gives an auto-registered phone the lowest free ephone tag.
Directory numbers get a C{dn} tag (IOS C{ephone-dn} number) the same way:
configured numbers first, in configuration order.

Forgetting: the record of a phone that is not configured is made when it
sends Register, but it is kept only once a registration of it completes
(L{EphoneRegistry.registrationCompleted}).  A phone that drops before that
(a Register and nothing more: a fuzz, a scan, a careless neighbour) is
forgotten when its attempt ends, and its ephone number is free again:
C{show ephone} lists only phones that registered, and a stream of
drive-by MACs costs no memory.  A phone that did register once stays
(C{UNREGISTERED} in C{show ephone}, as IOS shows it) with its number,
but at most C{max-ephones} such unregistered, unconfigured phones are
remembered: beyond that the one unregistered the longest is forgotten
(logged).  Configured ephones are never forgotten.

Lines: a configured ephone (C{call-manager-fallback.ephones}, keyed by MAC)
gets its configured line buttons and speed dials.  Any other phone gets one
line (button 1) from C{auto-assign.dn-range}: the number reserved for it if
it registered earlier (also in an earlier run of the router), else the
lowest number of the range that is neither configured nor reserved or held
for another phone, else (the range is full) the number of the phone not
registered now that has gone unseen the longest, which loses it (logged).
Without C{auto-assign}, a phone that is not configured is refused.

Reservations: a new number is only I{held} (in memory) while its phone
registers; it becomes the phone's I{reservation} when the registration
completes (L{EphoneRegistry.registrationCompleted}: the phone asked for the
time, the last request of its registration, and got the idle prompt) and
is written then to C{<state-dir>/sccp/auto-assign.json}, atomically.  A
phone that drops before that (a Register and nothing more, as a fuzz or a
careless neighbour sends) leaves nothing on disk and its hold is released.
A reservation remembers when its phone was last seen (registration
completed or ended); one whose phone has not been seen for
C{auto-assign.reservation-timeout-days} expires.  IOS keeps no
reservations across reloads; keeping them is srst's own feature, so it is
bounded.  Last-seen times are written with the next write, at the latest
by the hourly L{EphoneRegistry.housekeeping} that L{ReservationService}
runs (so a mass registration after a fallback does not rewrite the file
once per phone), and when the service stops.  C{srst-cli show ephone
auto-assign} lists the reservations, C{clear ephone auto-assign} clears
them (L{srst.sccp.commands}).

Writes: the file is rewritten and C{fsync}ed off the reactor thread,
through the C{runInThread} the router gives the registry, one write at a
time.  A write asked for while one is in flight waits for it and then
writes the reservations as they are by then, so a burst of completed
registrations (a mass registration after a fallback) costs two writes,
not one per phone.  A reservation is in memory (and the phone registered
with it) before it is on disk; a crash in between loses it, as a crash
before the registration completed would.  Stopping waits for the write
in flight and writes what is still unwritten (L{EphoneRegistry.flush}).

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

import heapq
import os
from bisect import bisect_left, insort
from collections import Counter, OrderedDict, deque
from typing import TYPE_CHECKING, Any, Callable

from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst._files import FileWriter, atomicWrite
from srst.sccp._autoassign import (
    AUTO_ASSIGN_FILE,
    AutoAssignStateError,
    Reservation,
    readReservations,
    writeReservations,
)
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
from srst.admin.render import iosDuration
from srst.sccp.config import CallManagerFallbackConfig, EphoneConfig

if TYPE_CHECKING:
    from srst.sccp.station import Station


HOUSEKEEPING_INTERVAL = 3600.0
"""
Seconds between two runs of L{EphoneRegistry.housekeeping}: how late a
reservation may expire, and how much last-seen history a crash may lose.
"""

_DAY = 86400

RunInThread = Callable[..., "Deferred[Any]"]
"""C{runInThread(f, *args)}: run the blocking C{f} off the reactor thread; a
L{Deferred} of its result (fired on the reactor thread)."""


@frozen
class ReservationStatus:
    """
    What C{show ephone auto-assign} says about one reservation.

    @ivar mac: twelve upper-case hex digits.
    @ivar dn: the reserved number.
    @ivar lastSeen: when the phone was last seen (seconds since the epoch;
        now for a registered phone).
    @ivar registered: whether the phone is registered now.
    @ivar expires: when the reservation expires, or L{None} (the phone is
        registered, or reservations do not expire).
    """

    mac: str
    dn: str
    lastSeen: float
    registered: bool
    expires: float | None

    @property
    def dottedMac(self) -> str:
        """The MAC as IOS prints it."""
        return dottedMac(self.mac)


@frozen
class _Hold:
    """
    A number given to a phone whose registration has not completed yet.

    @ivar dn: the number.
    @ivar reusedFrom: the MAC whose reservation it was (the range was
        full), or L{None}.
    """

    dn: str
    reusedFrom: str | None = None


class EphoneRegistry:
    """
    The phones of both SCCP listeners, by MAC and by directory number.

    @ivar config: the C{call-manager-fallback} configuration.
    @ivar clock: what last-seen times and expiry are measured with.
    @ivar autoAssignPath: the file remembering auto-assigned numbers, or
        L{None} when nothing is stored (no state directory).
    @ivar reservationTimeout: seconds after which the reservation of a
        phone not seen expires, or L{None} for never.
    """

    log = Logger()

    def __init__(
        self,
        config: CallManagerFallbackConfig,
        stateDir: str | None,
        clock: IReactorTime,
        *,
        runInThread: RunInThread,
        writer: FileWriter = atomicWrite,
    ) -> None:
        """
        @param config: the C{call-manager-fallback} section.
        @param stateDir: the router's state directory; L{None} keeps
            auto-assignments in memory only.
        @param clock: the reactor's clock (seconds since the epoch).
        @param runInThread: runs the file writes off the reactor thread (the
            router's thread pool; tests pass a synchronous or queueing
            runner).
        @param writer: how state files are replaced (tests inject failures).
        @raise AutoAssignStateError: when the remembered assignments exist
            but cannot be read.
        """
        self.config = config
        self.clock = clock
        self._writer = writer
        self._runInThread = runInThread
        self.autoAssignPath = os.path.join(stateDir, AUTO_ASSIGN_FILE) if stateDir is not None else None
        days = config.reservationTimeoutDays
        self.reservationTimeout: float | None = float(days * _DAY) if days else None
        self._reservations: dict[str, Reservation] = (
            readReservations(self.autoAssignPath, clock.seconds()) if self.autoAssignPath is not None else {})
        self._holds: dict[str, _Hold] = {}
        self._heldDns: dict[str, str] = {}
        # Writes (see the module docstring): whether the reservations in
        # memory differ from the file; the jobs (writes, clears) waiting
        # for the one in flight; whether one is in flight; the Deferred of
        # the coalesced write waiting in that queue, if any; who waits for
        # the queue to be empty.
        self._dirty = False
        self._jobs: deque[Callable[[], Deferred[None]]] = deque()
        self._busy = False
        self._pendingSave: Deferred[None] | None = None
        self._idleWaiters: list[Deferred[None]] = []
        self._ephones: dict[str, Ephone] = {}
        self._byNumber: dict[int, Ephone] = {}
        self._waiting: set[str] = set()
        # Ephone numbers: the next never used, and those freed by
        # forgotten phones (a heap: the lowest is given first).
        self._nextNumber = 1
        self._freedNumbers: list[int] = []
        # The unconfigured phones that registered once and are not
        # registered now, the one unregistered the longest first.
        self._unregistered: OrderedDict[str, Ephone] = OrderedDict()
        self._configs: dict[str, EphoneConfig] = {}
        self._dnTags: dict[str, int] = {}
        self._configuredDns: set[str] = set()
        # Incremental indexes (see the module docstring): the registered
        # phones by MAC; the MACs of the registered phones with a line for
        # each directory number in use; those numbers, sorted (a new number
        # is inserted by bisection: a pointer move, microseconds even with
        # 10,000 numbers); the registered phones by the session
        # holding them; how many reservations and holds each auto-assigned
        # number has (and, for held numbers, the MAC holding it); the
        # auto-assign range position below which every number is taken.
        self._registered: dict[str, Ephone] = {}
        self._dnHolders: dict[str, set[str]] = {}
        self._sortedDns: list[str] = []
        self._holders: dict[Station, dict[str, Ephone]] = {}
        self._assignedDns: Counter[str] = Counter(r.dn for r in self._reservations.values())
        self._freeCursor = 0
        for ephoneConfig in config.ephones:
            self._configs[ephoneConfig.mac] = ephoneConfig
            self._addEphone(Ephone(self._numberFor(ephoneConfig.mac), ephoneConfig.mac, configured=True))
            for button in sorted(ephoneConfig.buttons, key=lambda b: b.button):
                self._configuredDns.add(button.dn)
                self._dnTag(button.dn)
        for ephone in self._ephones.values():
            ephone.lines = [self._newLine(a) for a in self._configuredLines(self._configs[ephone.mac])]
            ephone.speedDials = self._configuredSpeedDials(self._configs[ephone.mac])

    # -- lookups ----------------------------------------------------------------

    def ephones(self) -> list[Ephone]:
        """
        @return: every known phone (configured, registered now or at least
            once, or registering now), by ephone number.
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

    def setMessageWaiting(self, dn: str, on: bool) -> list[Ephone]:
        """
        A message waits (or no longer waits) for directory number C{dn}
        (C{srst-cli mwi on|off}); remembered in memory, not across
        restarts.  Every known phone with a line for it gets
        L{Ephone.messageWaiting} anew: on while any of its lines has a
        message waiting.

        @return: the phones with a line for C{dn}, by ephone number (the
            registered ones need their lamp set).
        @raise KeyError: when no known phone has a line for C{dn}.
        """
        holders = sorted((e for e in self._ephones.values() if any(line.assignment.dn == dn for line in e.lines)),
                         key=lambda e: e.number)
        if not holders:
            raise KeyError(dn)
        if on:
            self._waiting.add(dn)
        else:
            self._waiting.discard(dn)
        for ephone in holders:
            ephone.messageWaiting = self.messageWaitingFor(ephone)
        return holders

    def messageWaitingFor(self, ephone: Ephone) -> bool:
        """@return: whether a message waits for any of C{ephone}'s lines."""
        return any(line.assignment.dn in self._waiting for line in ephone.lines)

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
        @return: the number reserved for that phone (its registration
            completed, now or in an earlier run), or L{None}.
        """
        reservation = self._reservations.get(mac.upper())
        return reservation.dn if reservation is not None else None

    def heldDn(self, mac: str) -> str | None:
        """
        @param mac: twelve hex digits.
        @return: the number held for that phone while its registration
            completes, or L{None}.
        """
        hold = self._holds.get(mac.upper())
        return hold.dn if hold is not None else None

    def reservations(self) -> list[ReservationStatus]:
        """
        @return: every reservation, by number.
        """
        now = self.clock.seconds()
        return sorted((self._status(mac, r, now) for mac, r in self._reservations.items()),
                      key=lambda status: (status.dn, status.mac))

    def freeNumbers(self) -> int | None:
        """
        @return: how many numbers of the auto-assign range are neither
            configured nor reserved or held, or L{None} without a range.
        """
        if self.config.autoAssign is None:
            return None
        first, last = self.config.autoAssign
        taken = {dn for dn in self._configuredDns | set(self._assignedDns) if self._inRange(dn)}
        return last - first + 1 - len(taken)

    def _status(self, mac: str, reservation: Reservation, now: float) -> ReservationStatus:
        registered = mac in self._registered
        lastSeen = now if registered else reservation.lastSeen
        timeout = self.reservationTimeout
        expires = None if registered or timeout is None else reservation.lastSeen + timeout
        return ReservationStatus(mac, reservation.dn, lastSeen, registered, expires)

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
        reusedFrom: str | None = None
        if ephoneConfig is not None:
            lines = self._configuredLines(ephoneConfig)
            speedDials = self._configuredSpeedDials(ephoneConfig)
        else:
            autoAssigned, newAssignment, reusedFrom = self._autoAssign(mac)
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
        return Admission(mac, ephoneNumber, lines, speedDials, autoAssigned, newAssignment, reusedFrom)

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
        """
        @return: the ephone number of C{mac}: its own, or the lowest not
            in use.
        """
        ephone = self._ephones.get(mac)
        if ephone is not None:
            return ephone.number
        return self._freedNumbers[0] if self._freedNumbers else self._nextNumber

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
            LineAssignment(b.button, index + 1, b.dn, self._peekDnTag(b.dn), b.label, b.name, b.pickupGroup)
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

    def _autoAssign(self, mac: str) -> tuple[str | None, bool, str | None]:
        """
        @return: C{(number, new, reusedFrom)}: the number for C{mac} (or
            L{None}), whether it still has to become the phone's
            reservation, and whose reservation it takes (the range is full).
        """
        if self.config.autoAssign is None:
            return None, False, None
        reservation = self._reservations.get(mac)
        if reservation is not None and self._availableTo(reservation.dn, mac):
            return reservation.dn, False, None
        hold = self._holds.get(mac)
        if hold is not None and self._availableTo(hold.dn, mac):
            return hold.dn, True, hold.reusedFrom
        free = self._lowestFree()
        if free is not None:
            return free, True, None
        victim = self._longestUnseen()
        if victim is not None:
            return self._reservations[victim].dn, True, victim
        return None, False, None

    def _availableTo(self, dn: str, mac: str) -> bool:
        """
        @return: whether C{mac} may have C{dn} (its reservation or hold):
            in the range, not configured, not held for another phone.
        """
        return self._inRange(dn) and dn not in self._configuredDns and self._heldDns.get(dn, mac) == mac

    def _lowestFree(self) -> str | None:
        """
        @return: the lowest number of the range that is neither configured
            nor reserved or held, or L{None}.  Every number before the
            cursor is taken, so a scan starts there.
        """
        assert self.config.autoAssign is not None
        first, last = self.config.autoAssign
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
        return str(value).zfill(width) if value <= last else None

    def _longestUnseen(self) -> str | None:
        """
        @return: the MAC of the phone, not registered now, whose reservation
            of a range number (not held for another phone) has gone unseen
            the longest; L{None} when there is none.
        """
        best: tuple[tuple[float, str], str] | None = None
        registered = self._registered
        for mac, reservation in self._reservations.items():
            dn = reservation.dn
            if mac in registered or not self._availableTo(dn, mac):
                continue
            key = (reservation.lastSeen, dn)
            if best is None or key < best[0]:
                best = (key, mac)
        return best[1] if best is not None else None

    # -- registration ------------------------------------------------------------

    def register(self, admission: Admission, station: Station,
                 details: RegistrationDetails) -> tuple[Ephone, Station | None]:
        """
        Record a registration admitted by L{admit}.  A new auto-assigned
        number is held for the phone until its registration completes
        (L{registrationCompleted}) or ends; nothing is written yet.

        @param admission: what L{admit} returned (just before).
        @param station: the session now holding the registration.
        @param details: what the session learnt about the phone.
        @return: C{(ephone, previous)}: the phone's record and the session
            that held its registration until now (to be closed), or L{None}.
        """
        mac = admission.mac
        if admission.newAssignment and admission.autoAssigned is not None:
            self._hold(mac, _Hold(admission.autoAssigned, admission.reusedFrom))
        ephone = self._ephones.get(mac)
        if ephone is None:
            ephone = self._addEphone(Ephone(self._numberFor(mac), mac))
        self._unregistered.pop(mac, None)
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

    def registrationCompleted(self, ephone: Ephone) -> None:
        """
        The registration of C{ephone} completed (the phone asked for the
        time, the last request of its registration): a number held for it
        becomes its reservation, written at once off the reactor thread
        (taking the reservation of the phone it was reused from, logged);
        an existing reservation notes that the phone was seen now.  Once
        per registration.

        A reservation that cannot be written is kept in memory (the phone
        stays registered with its number) and written again by
        L{housekeeping}; the error is logged.

        @param ephone: a registered phone.
        """
        if ephone.registrationComplete:
            return
        ephone.registrationComplete = True
        ephone.registeredOnce = True
        mac = ephone.mac
        now = self.clock.seconds()
        hold = self._holds.pop(mac, None)
        if hold is None:
            reservation = self._reservations.get(mac)
            if reservation is not None:
                self._reservations[mac] = Reservation(reservation.dn, now)
                self._dirty = True
            return
        del self._heldDns[hold.dn]
        old = self._reservations.get(mac)
        self._reservations[mac] = Reservation(hold.dn, now)
        if old is not None:
            self._release(old.dn)
        victim = self._reservations.get(hold.reusedFrom) if hold.reusedFrom is not None else None
        if hold.reusedFrom is not None and victim is not None and victim.dn == hold.dn:
            del self._reservations[hold.reusedFrom]
            self._release(victim.dn)
            self.log.warn(
                "auto-assign: every number of the dn-range is reserved; {victim} lost DN {dn} to {mac}"
                " (not seen for {age})", victim=dottedMac(hold.reusedFrom), dn=hold.dn, mac=dottedMac(mac),
                age=iosDuration(now - victim.lastSeen))
        self.log.info("auto-assign: DN {dn} reserved for {mac}", dn=hold.dn, mac=dottedMac(mac),
                      ephone=ephone.number)
        self._dirty = True
        self._save()

    def unregister(self, station: Station) -> Ephone | None:
        """
        End the registration held by C{station}; its lines' numbers are free
        for other phones.  An auto-assigned number stays reserved for this
        phone (noting that it was seen now) when its registration had
        completed; a number only held for it is released.  Nothing happens
        when C{station} holds no registration (for example because another
        session replaced it).

        A phone that is not configured is forgotten (its record and its
        ephone number) when none of its registrations ever completed; one
        that registered once is remembered as unregistered, and the one
        unregistered the longest is forgotten when more than
        C{max-ephones} are.

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
        mac = ephone.mac
        hold = self._holds.pop(mac, None)
        if hold is not None:
            del self._heldDns[hold.dn]
            self._release(hold.dn)
        elif ephone.registrationComplete and mac in self._reservations:
            self._reservations[mac] = Reservation(self._reservations[mac].dn, self.clock.seconds())
            self._dirty = True
        if not ephone.configured:
            if ephone.registeredOnce:
                self._unregistered[mac] = ephone
                self._forgetUnregistered()
            else:
                self._forget(ephone)
        self.log.info("ephone-{ephone} {device} unregistered", ephone=ephone.number,
                      device=ephone.deviceName, mac=ephone.mac)
        return ephone

    def _forgetUnregistered(self) -> None:
        """
        Forget the unconfigured phones unregistered the longest while more
        than C{max-ephones} are remembered (logged).
        """
        limit = self.config.maxEphones
        while len(self._unregistered) > limit:
            _, ephone = self._unregistered.popitem(last=False)
            self._forget(ephone)
            self.log.info("ephone-{ephone} {device} forgotten: more than max-ephones {limit} unregistered"
                          " phones that are not configured are remembered", ephone=ephone.number,
                          device=ephone.deviceName, mac=ephone.mac, limit=limit)

    def _forget(self, ephone: Ephone) -> None:
        """Drop the record of a phone that is not registered; free its number."""
        del self._ephones[ephone.mac]
        del self._byNumber[ephone.number]
        heapq.heappush(self._freedNumbers, ephone.number)

    # -- reservations --------------------------------------------------------------

    def housekeeping(self) -> Deferred[None]:
        """
        Note that the registered phones with a reservation are seen now,
        expire the reservations of phones not seen for
        C{reservation-timeout-days} (logged), and write what changed
        since the last write.  L{ReservationService} runs it hourly.

        @return: a L{Deferred} firing once that is written (L{flush}).
        """
        now = self.clock.seconds()
        for mac in self._registered:
            reservation = self._reservations.get(mac)
            if reservation is not None:
                self._reservations[mac] = Reservation(reservation.dn, now)
                self._dirty = True
        timeout = self.reservationTimeout
        if timeout is not None:
            expired = [(mac, r) for mac, r in self._reservations.items()
                       if mac not in self._registered and now - r.lastSeen >= timeout]
            for mac, reservation in sorted(expired, key=lambda item: item[1].dn):
                del self._reservations[mac]
                self._release(reservation.dn)
                self._dirty = True
                self.log.info("auto-assign: the reservation of DN {dn} for {mac} expired (not seen for {age})",
                              dn=reservation.dn, mac=dottedMac(mac), age=iosDuration(now - reservation.lastSeen))
        return self.flush()

    def flush(self) -> Deferred[None]:
        """
        Write the reservations if anything changed since the last write
        (last-seen times), after the write in flight; what the service does
        when it stops.

        @return: a L{Deferred} firing (never failing: a failed write is
            logged) once nothing is being written and what was unwritten
            when this was called is written.
        """
        if self._dirty:
            return self._save()
        if not self._busy:
            return succeed(None)
        idle: Deferred[None] = Deferred()
        self._idleWaiters.append(idle)
        return idle

    def clearReservations(self, mac: str | None) -> Deferred[tuple[list[ReservationStatus], list[ReservationStatus]]]:
        """
        Forget the reservation of one phone, or of every phone, except
        those of registered phones: a registered phone keeps its number
        (clear it again once the phone has unregistered).  The file is
        written first (off the reactor thread, after the write in flight);
        the reservations are forgotten once it is.

        @param mac: twelve upper-case hex digits, or L{None} for all.
        @return: a L{Deferred} firing with C{(cleared, kept)}; both empty
            when C{mac} has no reservation; failing with L{OSError} when
            the file cannot be written (then nothing changes).
        """
        result: Deferred[tuple[list[ReservationStatus], list[ReservationStatus]]] = Deferred()
        self._enqueue(lambda: self._clear(mac, result))
        return result

    def _clear(self, mac: str | None,
               result: Deferred[tuple[list[ReservationStatus], list[ReservationStatus]]]) -> Deferred[None]:
        """
        The job of L{clearReservations}: decide what to clear now, write
        the file without it, then forget it; a phone that registered again
        meanwhile keeps its reservation.
        """
        now = self.clock.seconds()
        macs = [mac] if mac is not None else list(self._reservations)
        found = [self._status(m, self._reservations[m], now) for m in macs if m in self._reservations]
        cleared = [status for status in found if not status.registered]
        kept = [status for status in found if status.registered]

        def forget(_: object) -> None:
            done = []
            for status in cleared:
                reservation = self._reservations.get(status.mac)
                if reservation is None or reservation.dn != status.dn or status.mac in self._registered:
                    # It registered (or changed) while the file was written:
                    # it stays, and the file must say so again.
                    self._dirty = True
                    kept.append(status)
                    continue
                del self._reservations[status.mac]
                self._release(status.dn)
                done.append(status)
                self.log.info("auto-assign: the reservation of DN {dn} for {mac} was cleared", dn=status.dn,
                              mac=status.dottedMac)
            result.callback((sorted(done, key=lambda s: s.dn), sorted(kept, key=lambda s: s.dn)))

        def failed(failure: Failure) -> None:
            self._dirty = True
            result.errback(failure)

        if not cleared or self.autoAssignPath is None:
            forget(None)
            return succeed(None)
        gone = {status.mac for status in cleared}
        remaining = {m: r for m, r in self._reservations.items() if m not in gone}
        self._dirty = False
        return self._runInThread(writeReservations, self.autoAssignPath, remaining, self._writer).addCallbacks(
            forget, failed)

    def _addEphone(self, ephone: Ephone) -> Ephone:
        """Record C{ephone}, numbered by L{_numberFor}."""
        number = ephone.number
        if self._freedNumbers and self._freedNumbers[0] == number:
            heapq.heappop(self._freedNumbers)
        else:
            self._nextNumber = number + 1
        self._ephones[ephone.mac] = ephone
        self._byNumber[number] = ephone
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

    def _hold(self, mac: str, hold: _Hold) -> None:
        """Hold C{hold.dn} for C{mac} (instead of what it held before)."""
        old = self._holds.get(mac)
        if old == hold:
            return
        if old is not None:
            del self._heldDns[old.dn]
            self._release(old.dn)
        self._holds[mac] = hold
        self._heldDns[hold.dn] = mac
        self._assignedDns[hold.dn] += 1

    def _release(self, dn: str) -> None:
        """One reservation or hold of C{dn} is gone."""
        self._assignedDns[dn] -= 1
        if self._assignedDns[dn] <= 0:
            del self._assignedDns[dn]
            # A number became free again: scan the range from its start.
            self._freeCursor = 0

    def _newLine(self, assignment: LineAssignment) -> Line:
        return Line(assignment, [LINE_IDLE] * self.config.channelsPerDn)

    # -- writing -------------------------------------------------------------------

    def _save(self) -> Deferred[None]:
        """
        Write every reservation off the reactor thread: now, or after the
        job in flight (then with whatever changed meanwhile: requests made
        while one waits share it).  A failed write is logged and leaves the
        reservations to the next L{flush}.

        @return: a L{Deferred} firing (never failing) once written.
        """
        if self.autoAssignPath is None:
            self._dirty = False
            return succeed(None)
        pending, new = self._pendingSave, self._pendingSave is None
        if pending is None:
            pending = self._pendingSave = Deferred()
        done: Deferred[None] = Deferred()
        pending.addBoth(lambda result: done.callback(None) or result)
        if new:
            self._enqueue(self._write)
        return done

    def _write(self) -> Deferred[None]:
        """The job of L{_save}: write the reservations as they are now."""
        path = self.autoAssignPath
        assert path is not None
        waiting, self._pendingSave = self._pendingSave, None
        snapshot = dict(self._reservations)
        self._dirty = False

        def failed(failure: Failure) -> None:
            self._dirty = True
            if failure.check(OSError):
                self.log.error("auto-assign: cannot save the reservations in {path}: {error}; they are kept in"
                               " memory and saved again within the hour", path=path, error=str(failure.value))
            else:
                self.log.failure("auto-assign: cannot save the reservations in {path}", failure, path=path)

        d = self._runInThread(writeReservations, path, snapshot, self._writer).addErrback(failed)
        if waiting is not None:
            d.addBoth(lambda _: waiting.callback(None))
        return d

    def _enqueue(self, job: Callable[[], Deferred[None]]) -> None:
        """Run C{job} (it writes the file) once no other job is running."""
        self._jobs.append(job)
        if not self._busy:
            self._next()

    def _next(self) -> None:
        """Start the next job, or wake who waits for the queue to be empty."""
        while self._jobs:
            job = self._jobs.popleft()
            self._busy = True
            d = job()
            if not d.called:
                d.addBoth(self._jobDone)
                return
            self._busy = False
        idle, self._idleWaiters = self._idleWaiters, []
        for waiter in idle:
            waiter.callback(None)

    def _jobDone(self, result: object) -> None:
        self._busy = False
        self._next()


class ReservationService(Service):
    """
    Runs the registry's L{housekeeping <EphoneRegistry.housekeeping>} when
    it starts and every L{HOUSEKEEPING_INTERVAL} seconds on the registry's
    clock, and writes what is left to write when it stops.
    """

    log = Logger()

    def __init__(self, registry: EphoneRegistry, interval: float = HOUSEKEEPING_INTERVAL) -> None:
        """
        @param registry: the ephone registry.
        @param interval: seconds between two runs.
        """
        self.registry = registry
        self.interval = interval
        self._call: IDelayedCall | None = None

    def startService(self) -> None:
        """Expire what expired while the router was down; start the timer."""
        Service.startService(self)
        self._run()

    def _run(self) -> None:
        self._call = None
        with self.log.failuresHandled("auto-assign housekeeping failed"):
            self.registry.housekeeping()
        self._call = self.registry.clock.callLater(self.interval, self._run)

    def stopService(self) -> Deferred[None]:
        """
        Stop the timer; wait for the write in flight and write what is not
        written yet (last-seen times).

        @return: a L{Deferred} firing once that is on disk (or logged as
            failed).
        """
        Service.stopService(self)
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        return self.registry.flush()


__all__ = [
    "AUTO_ASSIGN_FILE", "Admission", "AutoAssignStateError", "Ephone", "EphoneRegistry",
    "FileWriter", "HOUSEKEEPING_INTERVAL", "LINE_IDLE", "Line", "LineAssignment", "RegistrationDetails",
    "RejectReason", "Rejection", "Reservation", "ReservationService", "ReservationStatus", "RunInThread",
    "SpeedDialAssignment", "dottedMac", "macFromDeviceName",
]
