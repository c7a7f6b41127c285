"""
Tests for L{srst.sccp.registry}: ephone numbers, lines, limits and the
auto-assigned numbers remembered across restarts.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from srst.sccp import messages as m
from srst.sccp.config import EphoneConfig, LineButton
from srst.sccp.registry import (
    AUTO_ASSIGN_FILE,
    HOUSEKEEPING_INTERVAL,
    Admission,
    AutoAssignStateError,
    EphoneRegistry,
    RegistrationDetails,
    RejectReason,
    Rejection,
    ReservationService,
    dottedMac,
    macFromDeviceName,
)
from tests.test_sccp_station import CONFIGURED_MAC, Events, Router, makeConfig


def details(deviceName: str, socket: int = 1) -> RegistrationDetails:
    """@return: registration details for a 7970 at protocol 5."""
    return RegistrationDetails(deviceName, socket, "10.1.1.40", 32626, 30006, "7970", 5, 5, 8)


class _Station:
    """A stand-in session."""


def registerDirectly(registry: EphoneRegistry, mac: str, complete: bool = True) -> tuple[Any, Any]:
    """
    Admit and register C{mac} and, with C{complete}, complete its
    registration (as the phone's TimeDateReq does); @return: (ephone, station).
    """
    admission = registry.admit(mac)
    assert isinstance(admission, Admission), admission
    station = _Station()
    ephone, _ = registry.register(admission, station, details("SEP" + mac))
    if complete:
        registry.registrationCompleted(ephone)
    return ephone, station


class NamesTests(SynchronousTestCase):
    """
    Device names and MAC formats.
    """

    def test_macFromDeviceName(self) -> None:
        """
        C{SEP} and 12 hex digits (any case) give the upper-case MAC; anything
        else gives L{None}.
        """
        self.assertEqual(macFromDeviceName("SEP00112233aabb"), "00112233AABB")
        for bad in ("SEP00112233AAB", "SEP00112233AABBC", "ATA00112233AABB", "SEP00112233AABG", ""):
            self.assertIsNone(macFromDeviceName(bad), bad)

    def test_dottedMac(self) -> None:
        """
        MACs print as IOS does.
        """
        self.assertEqual(dottedMac("100011110002"), "1000.1111.0002")


class NumberingTests(SynchronousTestCase):
    """
    Ephone numbers and dn tags.
    """

    def test_configuredFirst(self) -> None:
        """
        Configured ephones are ephone-1..N in configuration order before any
        phone registers; others get the next numbers as they register, and
        keep them.
        """
        config = makeConfig(ephones=(
            EphoneConfig("00000000000B", buttons=(LineButton(1, "2011"),)),
            EphoneConfig("00000000000A", buttons=(LineButton(1, "2010"),))))
        registry = EphoneRegistry(config, None, Clock(), runInThread=maybeDeferred)
        self.assertEqual([(e.number, e.mac, e.registered) for e in registry.ephones()],
                         [(1, "00000000000B", False), (2, "00000000000A", False)])
        ephone, station = registerDirectly(registry, "0011223344AA")
        self.assertEqual(ephone.number, 3)
        registry.unregister(station)
        registerDirectly(registry, "0011223344BB")
        again, _ = registerDirectly(registry, "0011223344AA")
        self.assertEqual((again.number, registry.byMac("0011223344BB").number), (3, 4))
        self.assertEqual(registry.byNumber(4).mac, "0011223344BB")
        self.assertIsNone(registry.byNumber(9))

    def test_dnTags(self) -> None:
        """
        Configured numbers get dn tags in configuration order, others when
        first used.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock(), runInThread=maybeDeferred)
        self.assertEqual(registry.dnTag("2002"), 1)
        self.assertIsNone(registry.dnTag("2000"))
        ephone, _ = registerDirectly(registry, "0011223344AA")
        self.assertEqual((ephone.lines[0].assignment.dnTag, registry.dnTag("2000")), (2, 2))


class ForgettingTests(SynchronousTestCase):
    """
    Phones that are not configured are remembered only once a registration
    of theirs completed, and at most C{max-ephones} of them while they are
    unregistered.
    """

    def setUp(self) -> None:
        self.events = Events()
        globalLogPublisher.addObserver(self.events)
        self.addCleanup(globalLogPublisher.removeObserver, self.events)

    def test_driveByForgotten(self) -> None:
        """
        A phone that sends Register and goes before its registration
        completes leaves no record: C{show ephone} and the lookups no
        longer know it, and its ephone number goes to the next phone.  A
        configured ephone that does the same stays.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock(), runInThread=maybeDeferred)
        ephone, station = registerDirectly(registry, "0011223344AA", complete=False)
        self.assertEqual((ephone.number, registry.byNumber(2)), (2, ephone))
        registry.unregister(station)
        self.assertEqual([e.mac for e in registry.ephones()], [CONFIGURED_MAC])
        self.assertEqual((registry.byMac("0011223344AA"), registry.byNumber(2)), (None, None))
        configured, station = registerDirectly(registry, CONFIGURED_MAC, complete=False)
        registry.unregister(station)
        self.assertIs(registry.byMac(CONFIGURED_MAC), configured)
        other, _ = registerDirectly(registry, "0011223344BB", complete=False)
        self.assertEqual(other.number, 2)

    def test_registeredOnceStays(self) -> None:
        """
        A phone whose registration completed once stays known, unregistered,
        also after a later attempt that did not complete.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock(), runInThread=maybeDeferred)
        ephone, station = registerDirectly(registry, "0011223344AA")
        registry.unregister(station)
        again, station = registerDirectly(registry, "0011223344AA", complete=False)
        registry.unregister(station)
        self.assertIs(again, ephone)
        self.assertEqual([(e.mac, e.number, e.registered) for e in registry.ephones()],
                         [(CONFIGURED_MAC, 1, False), ("0011223344AA", 2, False)])

    def test_lowestFreeNumber(self) -> None:
        """
        A new phone gets the lowest ephone number not in use: one freed by
        a forgotten phone before a number never used.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock(), runInThread=maybeDeferred)
        _, first = registerDirectly(registry, "0011223344AA", complete=False)
        _, second = registerDirectly(registry, "0011223344BB", complete=False)
        kept, _ = registerDirectly(registry, "0011223344CC")
        registry.unregister(second)
        registry.unregister(first)
        numbers = [registerDirectly(registry, mac, complete=False)[0].number
                   for mac in ("0011223344DD", "0011223344EE", "0011223344FF")]
        self.assertEqual((kept.number, numbers), (4, [2, 3, 5]))

    def test_boundForgetsLongestUnregistered(self) -> None:
        """
        At most C{max-ephones} unregistered phones that are not configured
        are remembered: the one unregistered the longest is forgotten first
        (logged), a phone registering again is no longer a candidate, and
        configured ephones do not count.
        """
        registry = EphoneRegistry(makeConfig(maxEphones=2), None, Clock(), runInThread=maybeDeferred)
        stations = {mac: registerDirectly(registry, mac)[1] for mac in ("0011223344AA", "0011223344BB")}
        for mac in ("0011223344AA", "0011223344BB"):
            registry.unregister(stations[mac])
        _, station = registerDirectly(registry, "0011223344AA")
        registry.unregister(station)
        _, station = registerDirectly(registry, "0011223344CC")
        self.assertEqual(self.events.find("forgotten"), [])
        registry.unregister(station)
        self.assertEqual([(e.mac, e.number) for e in registry.ephones()],
                         [(CONFIGURED_MAC, 1), ("0011223344AA", 2), ("0011223344CC", 4)])
        self.assertEqual([formatEvent(e) for e in self.events.find("forgotten")],
                         ["ephone-3 SEP0011223344BB forgotten: more than max-ephones 2 unregistered phones"
                          " that are not configured are remembered"])
        self.assertEqual(registerDirectly(registry, "0011223344DD")[0].number, 3)

    def test_driveBysCostNothing(self) -> None:
        """
        A thousand MACs that each send Register and go leave the registry
        as it was: no record, no ephone number used up.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock(), runInThread=maybeDeferred)
        for index in range(1000):
            _, station = registerDirectly(registry, "%012X" % (0xAA0000000000 + index,), complete=False)
            registry.unregister(station)
        self.assertEqual([e.mac for e in registry.ephones()], [CONFIGURED_MAC])
        self.assertEqual(registerDirectly(registry, "0011223344AA")[0].number, 2)


class AdmissionTests(SynchronousTestCase):
    """
    What L{EphoneRegistry.admit} decides.
    """

    def test_configuredLines(self) -> None:
        """
        A configured phone gets its buttons, numbered per kind in button
        order.
        """
        config = makeConfig(ephones=(EphoneConfig(CONFIGURED_MAC, buttons=(
            LineButton(3, "2003", "L3"), LineButton(1, "2001", "L1", "Reception"))),))
        admission = EphoneRegistry(config, None, Clock(), runInThread=maybeDeferred).admit(CONFIGURED_MAC)
        self.assertEqual([(a.button, a.instance, a.dn, a.label, a.name) for a in admission.lines],
                         [(1, 1, "2001", "L1", "Reception"), (3, 2, "2003", "L3", "")])
        self.assertIsNone(admission.autoAssigned)

    def test_admitChangesNothing(self) -> None:
        """
        Admission is a pure decision: nothing is registered or remembered.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock(), runInThread=maybeDeferred)
        admission = registry.admit("0011223344AA")
        self.assertEqual((admission.autoAssigned, admission.newAssignment), ("2000", True))
        self.assertEqual(registry.rememberedDn("0011223344AA"), None)
        self.assertEqual(registry.registeredEphones(), [])
        self.assertEqual(registry.admit("0011223344BB").autoAssigned, "2000")

    def test_maxEphonesCountsOthersOnly(self) -> None:
        """
        A phone that is already registered may register again at the limit;
        another phone may not.
        """
        registry = EphoneRegistry(makeConfig(maxEphones=1), None, Clock(), runInThread=maybeDeferred)
        registerDirectly(registry, CONFIGURED_MAC)
        self.assertIsInstance(registry.admit(CONFIGURED_MAC), Admission)
        rejection = registry.admit("0011223344AA")
        self.assertEqual(rejection, Rejection(RejectReason.MAX_EPHONES,
                                              "1 phones registered, max-ephones is 1"))

    def test_maxDnCountsRegisteredLines(self) -> None:
        """
        max-dn bounds the numbers of registered phones; a shared number
        counts once.
        """
        config = makeConfig(maxDn=2, ephones=(
            EphoneConfig("00000000000A", buttons=(LineButton(1, "2010"),)),
            EphoneConfig("00000000000B", buttons=(LineButton(1, "2010"), LineButton(2, "2011"))),
            EphoneConfig("00000000000C", buttons=(LineButton(1, "2012"),))))
        registry = EphoneRegistry(config, None, Clock(), runInThread=maybeDeferred)
        registerDirectly(registry, "00000000000A")
        registerDirectly(registry, "00000000000B")
        self.assertEqual(registry.dnsInUse(), {"2010", "2011"})
        self.assertEqual([e.mac for e in registry.byDn("2010")], ["00000000000A", "00000000000B"])
        self.assertEqual(registry.admit("00000000000C").reason, RejectReason.MAX_DN)

    def test_autoAssignSkipsTakenNumbers(self) -> None:
        """
        Auto-assign skips configured numbers and numbers remembered for
        other phones, and zero-pads to the range's width.
        """
        config = makeConfig(autoAssign=(1, 9), maxDn=30, ephones=(
            EphoneConfig(CONFIGURED_MAC, buttons=(LineButton(1, "1"),)),))
        registry = EphoneRegistry(config, None, Clock(), runInThread=maybeDeferred)
        self.assertEqual(registry.admit("0011223344AA").autoAssigned, "2")
        config = makeConfig(autoAssign=(100, 102), ephones=(
            EphoneConfig(CONFIGURED_MAC, buttons=(LineButton(1, "100"),)),))
        registry = EphoneRegistry(config, None, Clock(), runInThread=maybeDeferred)
        registerDirectly(registry, "0011223344AA")
        self.assertEqual(registry.admit("0011223344BB").autoAssigned, "102")
        self.assertEqual(registry.admit("0011223344AA").autoAssigned, "101")

    def test_unregisterFreesNumber(self) -> None:
        """
        Unregistering frees the number for lookups and max-dn, but it stays
        remembered for the phone; a stale session's unregister does nothing.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock(), runInThread=maybeDeferred)
        ephone, station = registerDirectly(registry, "0011223344AA")
        self.assertIsNone(registry.unregister(_Station()))
        self.assertTrue(ephone.registered)
        self.assertIs(registry.unregister(station), ephone)
        self.assertEqual((registry.byDn("2000"), registry.dnsInUse(), ephone.socket), ([], set(), -1))
        self.assertEqual(registry.rememberedDn("0011223344AA"), "2000")
        self.assertEqual(registry.admit("0011223344BB").autoAssigned, "2001")


class DnsWithPrefixTests(SynchronousTestCase):
    """
    L{EphoneRegistry.dnsWithPrefix}: the numbers in use starting with some
    digits, kept sorted as phones register and unregister.
    """

    def setUp(self) -> None:
        config = makeConfig(autoAssign=None, maxDn=30, ephones=(
            EphoneConfig("00000000000A", buttons=(LineButton(1, "2010"), LineButton(2, "201"))),
            EphoneConfig("00000000000B", buttons=(LineButton(1, "2010"), LineButton(2, "2100"))),
            EphoneConfig("00000000000C", buttons=(LineButton(1, "30"),))))
        self.registry = EphoneRegistry(config, None, Clock(), runInThread=maybeDeferred)
        self.stations = [registerDirectly(self.registry, mac)[1]
                         for mac in ("00000000000C", "00000000000B", "00000000000A")]

    def test_sortedPrefixMatches(self) -> None:
        """
        The numbers starting with the prefix come back sorted as strings,
        the prefix itself first when in use, a shared number once; the empty
        prefix gives every number in use, and an unknown prefix none.
        """
        registry = self.registry
        self.assertEqual(registry.dnsWithPrefix("2"), ["201", "2010", "2100"])
        self.assertEqual(registry.dnsWithPrefix("201"), ["201", "2010"])
        self.assertEqual(registry.dnsWithPrefix("2010"), ["2010"])
        self.assertEqual(registry.dnsWithPrefix(""), ["201", "2010", "2100", "30"])
        self.assertEqual([registry.dnsWithPrefix(p) for p in ("1", "2011", "20100", "4")], [[]] * 4)

    def test_limit(self) -> None:
        """
        C{limit} caps how many numbers come back, the lowest first.
        """
        registry = self.registry
        self.assertEqual(registry.dnsWithPrefix("2", 2), ["201", "2010"])
        self.assertEqual(registry.dnsWithPrefix("", 1), ["201"])
        self.assertEqual(registry.dnsWithPrefix("2", 0), [])
        self.assertEqual(registry.dnsWithPrefix("2", 10), ["201", "2010", "2100"])

    def test_followsUnregister(self) -> None:
        """
        A number leaves the index when its last holder unregisters, and comes
        back when a holder registers again; a stale session changes nothing.
        """
        registry = self.registry
        self.assertIsNone(registry.unregister(object()))
        registry.unregister(self.stations[2])
        self.assertEqual(registry.dnsWithPrefix("2"), ["2010", "2100"])
        registry.unregister(self.stations[1])
        self.assertEqual(registry.dnsWithPrefix(""), ["30"])
        registerDirectly(registry, "00000000000A")
        self.assertEqual(registry.dnsWithPrefix(""), ["201", "2010", "30"])
        self.assertEqual(registry.dnsWithPrefix(""), sorted(registry.dnsInUse()))


class PersistenceTests(SynchronousTestCase):
    """
    Auto-assigned numbers survive a restart.
    """

    def setUp(self) -> None:
        self.stateDir = self.mktemp()
        os.makedirs(self.stateDir)

    def test_survivesRestart(self) -> None:
        """
        A phone gets the same auto-assigned number from a new registry on
        the same state directory, and other phones do not get it.
        """
        registry = EphoneRegistry(makeConfig(), self.stateDir, Clock(), runInThread=maybeDeferred)
        registerDirectly(registry, "0011223344AA")
        registerDirectly(registry, "0011223344BB")
        path = os.path.join(self.stateDir, AUTO_ASSIGN_FILE)
        with open(path) as f:
            self.assertEqual(json.load(f), {"version": 2, "reservations": {
                "0011223344AA": {"dn": "2000", "last-seen": "1970-01-01T00:00:00+00:00"},
                "0011223344BB": {"dn": "2001", "last-seen": "1970-01-01T00:00:00+00:00"}}})
        restarted = EphoneRegistry(makeConfig(), self.stateDir, Clock(), runInThread=maybeDeferred)
        self.assertEqual(restarted.admit("0011223344BB").autoAssigned, "2001")
        self.assertEqual(restarted.admit("0011223344BB").newAssignment, False)
        # 2002 belongs to the configured ephone.
        self.assertEqual(restarted.admit("0011223344CC").autoAssigned, "2003")

    def test_survivesRestartThroughStations(self) -> None:
        """
        The same holds for phones registering over SCCP: after a restart the
        phone's LineStat carries its old number.
        """
        router = Router(stateDir=self.stateDir)
        phone = router.connect()
        phone.register("SEP0011223344BB")
        phone.ask(m.TimeDateReq())
        restarted = Router(makeConfig(ephones=()), stateDir=self.stateDir)
        first = restarted.connect(port=40000)
        first.register("SEP0011223344CC")
        self.assertEqual(first.ask(m.LineStatReq(1))[0].lineDirNumber, "2001")
        second = restarted.connect(port=40001)
        second.register("SEP0011223344BB")
        self.assertEqual(second.ask(m.LineStatReq(1))[0].lineDirNumber, "2000")

    def test_directoryPrivate(self) -> None:
        """
        The C{sccp} directory that holds the assignments (phones' MAC
        addresses are not for other users) is created 0700 under umask 000,
        and one an older run left open is tightened to 0700.
        """
        self.addCleanup(os.umask, os.umask(0))
        directory = os.path.dirname(os.path.join(self.stateDir, AUTO_ASSIGN_FILE))
        registerDirectly(EphoneRegistry(makeConfig(), self.stateDir, Clock(),
                                        runInThread=maybeDeferred), "0011223344AA")
        self.assertEqual(oct(stat.S_IMODE(os.stat(directory).st_mode)), oct(0o700))
        os.chmod(directory, 0o777)
        registerDirectly(EphoneRegistry(makeConfig(), self.stateDir, Clock(),
                                        runInThread=maybeDeferred), "0011223344BB")
        self.assertEqual(oct(stat.S_IMODE(os.stat(directory).st_mode)), oct(0o700))

    def test_atomicWriter(self) -> None:
        """
        Reservations are written through the atomic writer, only when a new
        number is reserved (the last-seen time of an unregistration waits
        for the next write).
        """
        writes: list[tuple[str, bytes, int]] = []
        registry = EphoneRegistry(makeConfig(), self.stateDir, Clock(),
                                  runInThread=maybeDeferred, writer=lambda *a: writes.append(a))
        _, station = registerDirectly(registry, "0011223344AA")
        registry.unregister(station)
        registerDirectly(registry, "0011223344AA")
        registerDirectly(registry, CONFIGURED_MAC)
        self.assertEqual(len(writes), 1)
        self.assertEqual(writes[0][0], os.path.join(self.stateDir, AUTO_ASSIGN_FILE))
        self.assertEqual(json.loads(writes[0][1])["reservations"], {
            "0011223344AA": {"dn": "2000", "last-seen": "1970-01-01T00:00:00+00:00"}})

    def test_writeFailure(self) -> None:
        """
        When a new reservation cannot be written, the error is logged with
        the file and the reason, the phone stays registered with its
        number, the reservation is kept in memory and written by the next
        flush that succeeds.
        """
        failures = [OSError(28, "No space left on device")]
        writes: list[bytes] = []

        def writer(path: str, data: bytes, mode: int) -> None:
            if failures:
                raise failures.pop()
            writes.append(data)

        events = Events()
        globalLogPublisher.addObserver(events)
        self.addCleanup(globalLogPublisher.removeObserver, events)
        registry = EphoneRegistry(makeConfig(), self.stateDir, Clock(), runInThread=maybeDeferred, writer=writer)
        ephone, _ = registerDirectly(registry, "0011223344AA")
        [error] = events.find("cannot save the reservations")
        self.assertEqual(formatEvent(error), (
            f"auto-assign: cannot save the reservations in {registry.autoAssignPath}: [Errno 28] No space left"
            " on device; they are kept in memory and saved again within the hour"))
        self.assertTrue(ephone.registered)
        self.assertEqual(registry.rememberedDn("0011223344AA"), "2000")
        self.assertEqual(writes, [])
        registry.flush()
        self.assertEqual(list(json.loads(writes[0])["reservations"]), ["0011223344AA"])
        registry.flush()
        self.assertEqual(len(writes), 1)

    def test_remembersOutsideNewRange(self) -> None:
        """
        A remembered number outside a changed range is replaced by one from
        the new range.
        """
        registerDirectly(EphoneRegistry(makeConfig(), self.stateDir, Clock(),
                                        runInThread=maybeDeferred), "0011223344AA")
        registry = EphoneRegistry(makeConfig(autoAssign=(3000, 3009)), self.stateDir, Clock(),
                                  runInThread=maybeDeferred)
        ephone, _ = registerDirectly(registry, "0011223344AA")
        self.assertEqual(ephone.lines[0].assignment.dn, "3000")
        self.assertEqual(registry.rememberedDn("0011223344AA"), "3000")

    def test_corruptFile(self) -> None:
        """
        An unreadable assignments file stops the registry with the file's
        name and the reason.
        """
        path = os.path.join(self.stateDir, AUTO_ASSIGN_FILE)
        os.makedirs(os.path.dirname(path))
        for content in (b"{not json", b'{"version": 3}', b'{"version": 2}', b'{"version": 1, "assignments": {"x": 1}}',
                        b'{"version": 2, "reservations": {"0011223344AA": {"dn": "2000"}}}',
                        b'{"version": 2, "reservations": {"0011223344AA": {"dn": "2000", "last-seen": "x"}}}'):
            with open(path, "wb") as f:
                f.write(content)
            error = self.assertRaises(AutoAssignStateError, EphoneRegistry, makeConfig(), self.stateDir, Clock(),
                                      runInThread=maybeDeferred)
            self.assertEqual(error.path, path)
            self.assertIn(path, str(error))

    def test_noStateDirectory(self) -> None:
        """
        Without a state directory assignments are kept in memory only.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock(), runInThread=maybeDeferred)
        registerDirectly(registry, "0011223344AA")
        self.assertIsNone(registry.autoAssignPath)
        self.assertEqual(registry.rememberedDn("0011223344AA"), "2000")


DAY = 86400
EPOCH = 1719652562.0
"""2024-06-29T09:16:02Z: where the tests' clocks start."""


def clockAt(seconds: float = EPOCH) -> Clock:
    """@return: a L{Clock} showing C{seconds} since the epoch."""
    clock = Clock()
    clock.advance(seconds)
    return clock


class Disk:
    """A writer that keeps what it was given, and the last document."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def __call__(self, path: str, data: bytes, mode: int) -> None:
        self.writes.append(data)

    @property
    def reservations(self) -> dict[str, Any]:
        """The reservations of the last write."""
        return json.loads(self.writes[-1])["reservations"]


class QueuedThread:
    """
    A C{runInThread} that only queues the calls, as a busy thread pool
    would: nothing runs on the calling thread; L{run} runs what is queued.

    @ivar calls: C{(deferred, f, args)} for each call not run yet.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[Deferred[Any], Any, tuple[Any, ...]]] = []

    def __call__(self, f: Any, *args: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.calls.append((d, f, args))
        return d

    def run(self) -> None:
        """Run the calls queued now (not those they queue) and fire their L{Deferred}s."""
        calls, self.calls = self.calls, []
        for d, f, args in calls:
            maybeDeferred(f, *args).chainDeferred(d)


class WriteTests(SynchronousTestCase):
    """
    The reservations are written off the reactor thread, one write at a
    time, coalesced; stopping waits for the write in flight and writes what
    is left.
    """

    def setUp(self) -> None:
        self.stateDir = self.mktemp()
        os.makedirs(self.stateDir)
        self.clock = clockAt()
        self.disk = Disk()
        self.pool = QueuedThread()
        self.registry = EphoneRegistry(makeConfig(), self.stateDir, self.clock, runInThread=self.pool,
                                       writer=self.disk)

    def test_burstWritesTwice(self) -> None:
        """
        A burst of completed registrations (a mass registration after a
        fallback) writes nothing on the calling thread: the first asks for
        one write, all the others share one follow-up write, started once
        the first is done, with every reservation.
        """
        macs = [f"00112233440{n}" for n in range(8)]
        for mac in macs:
            registerDirectly(self.registry, mac)
        self.assertEqual((self.disk.writes, len(self.pool.calls)), ([], 1))
        self.pool.run()
        self.assertEqual((list(self.disk.reservations), len(self.pool.calls)), (macs[:1], 1))
        self.pool.run()
        self.assertEqual((len(self.disk.writes), self.pool.calls), (2, []))
        self.assertEqual({mac: r["dn"] for mac, r in self.disk.reservations.items()},
                         {mac: self.registry.rememberedDn(mac) for mac in macs})

    def test_stopWaitsAndFlushes(self) -> None:
        """
        Stopping the service waits for the write in flight, then writes
        what changed meanwhile (a last-seen time), and only then is done.
        """
        service = ReservationService(self.registry)
        service.startService()
        self.assertEqual(self.pool.calls, [])
        _, station = registerDirectly(self.registry, "0011223344AA")
        self.clock.advance(60)
        self.registry.unregister(station)
        stopped = service.stopService()
        self.assertNoResult(stopped)
        self.assertEqual(self.disk.writes, [])
        self.pool.run()
        self.assertNoResult(stopped)
        self.assertEqual(self.disk.reservations["0011223344AA"]["last-seen"], "2024-06-29T09:16:02+00:00")
        self.pool.run()
        self.successResultOf(stopped)
        self.assertEqual(self.disk.reservations["0011223344AA"]["last-seen"], "2024-06-29T09:17:02+00:00")
        self.assertEqual((self.pool.calls, self.clock.getDelayedCalls()), ([], []))

    def test_flushWaitsForWriteInFlight(self) -> None:
        """
        With nothing left to write, a flush still waits for the write in
        flight, and writes nothing more.
        """
        registerDirectly(self.registry, "0011223344AA")
        flushed = self.registry.flush()
        self.assertNoResult(flushed)
        self.pool.run()
        self.successResultOf(flushed)
        self.assertEqual((len(self.disk.writes), self.pool.calls), (1, []))
        self.successResultOf(self.registry.flush())

    def test_clearAfterWriteInFlight(self) -> None:
        """
        A clear waits for the write in flight (which still has the
        reservation), then writes the file without it, off the reactor
        thread, and only then forgets it: an older write cannot land after
        the clear and bring the reservation back.
        """
        _, station = registerDirectly(self.registry, "0011223344AA")
        self.registry.unregister(station)
        cleared = self.registry.clearReservations("0011223344AA")
        self.pool.run()
        self.assertNoResult(cleared)
        self.assertEqual((list(self.disk.reservations), self.registry.rememberedDn("0011223344AA")),
                         (["0011223344AA"], "2000"))
        self.pool.run()
        done, kept = self.successResultOf(cleared)
        self.assertEqual(([s.mac for s in done], kept), (["0011223344AA"], []))
        self.assertEqual((self.disk.reservations, self.registry.rememberedDn("0011223344AA")), ({}, None))
        self.assertEqual(self.pool.calls, [])

    def test_registeredDuringClearKeepsIt(self) -> None:
        """
        A phone that registers again while the file without its reservation
        is being written keeps its number, and the file says so again with
        the next write.
        """
        _, station = registerDirectly(self.registry, "0011223344AA")
        self.registry.unregister(station)
        self.pool.run()
        cleared = self.registry.clearReservations("0011223344AA")
        registerDirectly(self.registry, "0011223344AA")
        self.pool.run()
        done, kept = self.successResultOf(cleared)
        self.assertEqual((done, [s.mac for s in kept]), ([], ["0011223344AA"]))
        self.assertEqual((self.disk.reservations, self.registry.rememberedDn("0011223344AA")), ({}, "2000"))
        self.registry.flush()
        self.pool.run()
        self.assertEqual(list(self.disk.reservations), ["0011223344AA"])


class ReservationTests(SynchronousTestCase):
    """
    Auto-assigned numbers become reservations only when a registration
    completes; reservations expire when their phone has not been seen for
    C{reservation-timeout-days}, and the longest-unseen is reused when the
    range is full.
    """

    def setUp(self) -> None:
        self.stateDir = self.mktemp()
        os.makedirs(self.stateDir)
        self.clock = clockAt()
        self.disk = Disk()
        self.events = Events()
        globalLogPublisher.addObserver(self.events)
        self.addCleanup(globalLogPublisher.removeObserver, self.events)

    def registry(self, **config: Any) -> EphoneRegistry:
        """@return: a registry on the state directory, the clock and the recording writer."""
        return EphoneRegistry(makeConfig(**config), self.stateDir, self.clock,
                              runInThread=maybeDeferred, writer=self.disk)

    def logged(self, needle: str) -> list[str]:
        """@return: the text of the log events whose format contains C{needle}."""
        return [formatEvent(e) for e in self.events.find(needle)]

    def test_dropBeforeCompletionLeavesNothing(self) -> None:
        """
        A phone that registers and goes before its registration completes
        only held its number: nothing is written, and the number goes to
        the next phone.
        """
        registry = self.registry()
        ephone, station = registerDirectly(registry, "0011223344AA", complete=False)
        self.assertEqual((registry.heldDn("0011223344AA"), registry.rememberedDn("0011223344AA")), ("2000", None))
        self.assertEqual(registry.admit("0011223344BB").autoAssigned, "2001")
        registry.unregister(station)
        self.assertEqual((registry.heldDn("0011223344AA"), registry.rememberedDn("0011223344AA")), (None, None))
        self.assertEqual(registry.admit("0011223344BB").autoAssigned, "2000")
        registry.housekeeping()
        self.assertEqual((self.disk.writes, registry.reservations()), ([], []))

    def test_registeringAgainKeepsTheHold(self) -> None:
        """
        A phone registering again on a new connection before completing
        keeps the number held for it, and completing reserves that number.
        """
        registry = self.registry()
        registerDirectly(registry, "0011223344AA", complete=False)
        admission = registry.admit("0011223344AA")
        self.assertEqual((admission.autoAssigned, admission.newAssignment), ("2000", True))
        ephone, previous = registry.register(admission, _Station(), details("SEP0011223344AA", 2))
        self.assertIsNotNone(previous)
        self.assertIsNone(registry.unregister(previous))
        self.assertEqual(registry.heldDn("0011223344AA"), "2000")
        registry.registrationCompleted(ephone)
        self.assertEqual(self.disk.reservations, {
            "0011223344AA": {"dn": "2000", "last-seen": "2024-06-29T09:16:02+00:00"}})
        self.assertEqual(self.logged("reserved for"), ["auto-assign: DN 2000 reserved for 0011.2233.44AA"])

    def test_lastSeen(self) -> None:
        """
        A reservation notes when its phone unregistered, written with the
        next housekeeping (not at once); a registered phone counts as seen
        at every housekeeping.
        """
        registry = self.registry()
        _, station = registerDirectly(registry, "0011223344AA")
        registerDirectly(registry, "0011223344BB")
        self.clock.advance(3 * DAY)
        registry.unregister(station)
        self.assertEqual(len(self.disk.writes), 2)
        self.clock.advance(DAY)
        registry.housekeeping()
        self.assertEqual(self.disk.reservations, {
            "0011223344AA": {"dn": "2000", "last-seen": "2024-07-02T09:16:02+00:00"},
            "0011223344BB": {"dn": "2001", "last-seen": "2024-07-03T09:16:02+00:00"}})
        self.assertEqual([(s.mac, s.lastSeen, s.registered, s.expires) for s in registry.reservations()], [
            ("0011223344AA", EPOCH + 3 * DAY, False, EPOCH + 368 * DAY),
            ("0011223344BB", EPOCH + 4 * DAY, True, None)])

    def test_expiry(self) -> None:
        """
        The reservation of a phone not seen for reservation-timeout-days is
        given up by the housekeeping (logged), not a second earlier; a
        registered phone's reservation never expires.
        """
        registry = self.registry(reservationTimeoutDays=30)
        _, station = registerDirectly(registry, "0011223344AA")
        registerDirectly(registry, "0011223344BB")
        registry.unregister(station)
        self.clock.advance(30 * DAY - 1)
        registry.housekeeping()
        self.assertEqual(registry.rememberedDn("0011223344AA"), "2000")
        self.clock.advance(1)
        registry.housekeeping()
        self.assertEqual((registry.rememberedDn("0011223344AA"), registry.rememberedDn("0011223344BB")),
                         (None, "2001"))
        self.assertEqual(self.logged("expired"), [
            "auto-assign: the reservation of DN 2000 for 0011.2233.44AA expired (not seen for 4w2d)"])
        self.assertEqual(list(self.disk.reservations), ["0011223344BB"])
        self.assertEqual(registry.admit("0011223344CC").autoAssigned, "2000")

    def test_noExpiry(self) -> None:
        """
        With reservation-timeout-days off, reservations are kept for ever.
        """
        registry = self.registry(reservationTimeoutDays=None)
        _, station = registerDirectly(registry, "0011223344AA")
        registry.unregister(station)
        self.clock.advance(3650 * DAY)
        registry.housekeeping()
        self.assertEqual(registry.rememberedDn("0011223344AA"), "2000")
        self.assertEqual(registry.reservations()[0].expires, None)

    def test_fullRangeReusesLongestUnseen(self) -> None:
        """
        When the range is full, a new phone gets the number of the phone
        not registered now that has gone unseen the longest; that phone
        loses it only when the new phone's registration completes (logged
        with both MACs), so a new phone that drops takes nothing.
        """
        registry = self.registry(autoAssign=(3000, 3002), ephones=())
        stations = {mac: registerDirectly(registry, mac)[1] for mac in ("00000000000A", "00000000000B", "00000000000C")}
        self.clock.advance(10)
        registry.unregister(stations["00000000000B"])
        self.clock.advance(10)
        registry.unregister(stations["00000000000C"])
        admission = registry.admit("00000000000D")
        self.assertEqual((admission.autoAssigned, admission.reusedFrom), ("3001", "00000000000B"))
        _, dropped = registerDirectly(registry, "00000000000D", complete=False)
        registry.unregister(dropped)
        self.assertEqual(registry.rememberedDn("00000000000B"), "3001")
        self.assertEqual(self.logged("lost DN"), [])

        ephone, _ = registerDirectly(registry, "00000000000D", complete=False)
        self.assertEqual(registry.admit("00000000000E").reusedFrom, "00000000000C")
        registry.registrationCompleted(ephone)
        self.assertEqual((registry.rememberedDn("00000000000B"), registry.rememberedDn("00000000000D")),
                         (None, "3001"))
        self.assertEqual(self.logged("lost DN"), [
            "auto-assign: every number of the dn-range is reserved; 0000.0000.000B lost DN 3001 to"
            " 0000.0000.000D (not seen for 00:00:10)"])
        self.assertEqual(self.disk.reservations, {
            "00000000000A": {"dn": "3000", "last-seen": "2024-06-29T09:16:02+00:00"},
            "00000000000C": {"dn": "3002", "last-seen": "2024-06-29T09:16:22+00:00"},
            "00000000000D": {"dn": "3001", "last-seen": "2024-06-29T09:16:22+00:00"}})

    def test_registeredPhonesAreNeverReused(self) -> None:
        """
        A full range of reservations of registered phones (or numbers held
        for phones registering now) leaves a new phone with no number.
        """
        registry = self.registry(autoAssign=(3000, 3001), ephones=())
        registerDirectly(registry, "00000000000A")
        registerDirectly(registry, "00000000000B", complete=False)
        self.assertEqual(registry.admit("00000000000C"), Rejection(
            RejectReason.NO_LINES, "the phone is not configured and every number of the auto-assign dn-range is taken"))

    def test_ownerComingBackWhileReused(self) -> None:
        """
        A phone whose number a new phone is completing its registration
        with gets another number (here the next longest-unseen), never the
        same one twice.
        """
        registry = self.registry(autoAssign=(3000, 3001), ephones=())
        stations = {mac: registerDirectly(registry, mac)[1] for mac in ("00000000000A", "00000000000B")}
        registry.unregister(stations["00000000000A"])
        self.clock.advance(5)
        registry.unregister(stations["00000000000B"])
        newcomer, _ = registerDirectly(registry, "00000000000C", complete=False)
        self.assertEqual(registry.heldDn("00000000000C"), "3000")
        owner, _ = registerDirectly(registry, "00000000000A", complete=False)
        self.assertEqual(owner.lines[0].assignment.dn, "3001")
        registry.registrationCompleted(owner)
        registry.registrationCompleted(newcomer)
        self.assertEqual({s.mac: s.dn for s in registry.reservations()},
                         {"00000000000A": "3001", "00000000000C": "3000"})
        self.assertEqual(registry.freeNumbers(), 0)

    def test_clear(self) -> None:
        """
        Clearing forgets reservations of phones that are not registered (on
        disk at once) and keeps those of registered phones; the numbers go
        to the next phones.
        """
        registry = self.registry()
        _, station = registerDirectly(registry, "0011223344AA")
        registerDirectly(registry, "0011223344BB")
        registry.unregister(station)
        cleared, kept = self.successResultOf(registry.clearReservations(None))
        self.assertEqual(([s.mac for s in cleared], [s.mac for s in kept]), (["0011223344AA"], ["0011223344BB"]))
        self.assertEqual(list(self.disk.reservations), ["0011223344BB"])
        self.assertEqual(self.successResultOf(registry.clearReservations("0011223344AA")), ([], []))
        self.assertEqual(registry.admit("0011223344CC").autoAssigned, "2000")

    def test_clearWriteFailure(self) -> None:
        """
        When the file cannot be written, clearing fails and nothing changes.
        """
        def failing(path: str, data: bytes, mode: int) -> None:
            raise OSError(13, "Permission denied")

        registry = self.registry()
        _, station = registerDirectly(registry, "0011223344AA")
        registry.unregister(station)
        registry._writer = failing
        self.failureResultOf(registry.clearReservations("0011223344AA"), OSError)
        self.assertEqual(registry.rememberedDn("0011223344AA"), "2000")

    def test_versionOneFile(self) -> None:
        """
        A version 1 file (numbers without last-seen times) still loads; its
        phones count as seen when it is read, and the next write is version
        2 with every reservation.
        """
        path = os.path.join(self.stateDir, AUTO_ASSIGN_FILE)
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            json.dump({"version": 1, "assignments": {"0011223344AA": "2000", "0011223344BB": "2001"}}, f)
        registry = self.registry()
        self.assertEqual([(s.mac, s.dn, s.lastSeen) for s in registry.reservations()],
                         [("0011223344AA", "2000", EPOCH), ("0011223344BB", "2001", EPOCH)])
        registerDirectly(registry, "0011223344CC")
        self.assertEqual(json.loads(self.disk.writes[-1]), {"version": 2, "reservations": {
            "0011223344AA": {"dn": "2000", "last-seen": "2024-06-29T09:16:02+00:00"},
            "0011223344BB": {"dn": "2001", "last-seen": "2024-06-29T09:16:02+00:00"},
            "0011223344CC": {"dn": "2003", "last-seen": "2024-06-29T09:16:02+00:00"}}})


class ReservationServiceTests(SynchronousTestCase):
    """
    L{ReservationService} runs the housekeeping at start and hourly, and
    writes what is left when it stops.
    """

    def test_hourly(self) -> None:
        """
        The housekeeping runs when the service starts (expiring what expired
        while the router was down) and every hour; stopping cancels the
        timer and writes the last-seen times not written yet.
        """
        stateDir = self.mktemp()
        os.makedirs(stateDir)
        clock = clockAt()
        disk = Disk()
        registry = EphoneRegistry(makeConfig(reservationTimeoutDays=1), stateDir, clock,
                                  runInThread=maybeDeferred, writer=disk)
        _, station = registerDirectly(registry, "0011223344AA")
        registry.unregister(station)
        clock.advance(DAY)
        service = ReservationService(registry)
        service.startService()
        self.assertEqual((registry.reservations(), len(disk.writes)), ([], 2))
        self.assertEqual([call.getTime() for call in clock.getDelayedCalls()], [EPOCH + DAY + HOUSEKEEPING_INTERVAL])
        _, station = registerDirectly(registry, "0011223344BB")
        clock.advance(HOUSEKEEPING_INTERVAL)
        self.assertEqual(len(disk.writes), 4)
        self.assertEqual(disk.reservations["0011223344BB"]["last-seen"], "2024-06-30T10:16:02+00:00")
        clock.advance(60)
        registry.unregister(station)
        service.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(disk.reservations["0011223344BB"]["last-seen"], "2024-06-30T10:17:02+00:00")
