"""
Tests for L{srst.sccp.registry}: ephone numbers, lines, limits and the
auto-assigned numbers remembered across restarts.
"""

from __future__ import annotations

import json
import os
from typing import Any

from twisted.internet.task import Clock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from srst.sccp import messages as m
from srst.sccp.config import EphoneConfig, LineButton
from srst.sccp.registry import (
    AUTO_ASSIGN_FILE,
    Admission,
    AutoAssignStateError,
    EphoneRegistry,
    RegistrationDetails,
    RejectReason,
    Rejection,
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
        registry = EphoneRegistry(config, None, Clock())
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
        registry = EphoneRegistry(makeConfig(), None, Clock())
        self.assertEqual(registry.dnTag("2002"), 1)
        self.assertIsNone(registry.dnTag("2000"))
        ephone, _ = registerDirectly(registry, "0011223344AA")
        self.assertEqual((ephone.lines[0].assignment.dnTag, registry.dnTag("2000")), (2, 2))


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
        admission = EphoneRegistry(config, None, Clock()).admit(CONFIGURED_MAC)
        self.assertEqual([(a.button, a.instance, a.dn, a.label, a.name) for a in admission.lines],
                         [(1, 1, "2001", "L1", "Reception"), (3, 2, "2003", "L3", "")])
        self.assertIsNone(admission.autoAssigned)

    def test_admitChangesNothing(self) -> None:
        """
        Admission is a pure decision: nothing is registered or remembered.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock())
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
        registry = EphoneRegistry(makeConfig(maxEphones=1), None, Clock())
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
        registry = EphoneRegistry(config, None, Clock())
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
        registry = EphoneRegistry(config, None, Clock())
        self.assertEqual(registry.admit("0011223344AA").autoAssigned, "2")
        config = makeConfig(autoAssign=(100, 102), ephones=(
            EphoneConfig(CONFIGURED_MAC, buttons=(LineButton(1, "100"),)),))
        registry = EphoneRegistry(config, None, Clock())
        registerDirectly(registry, "0011223344AA")
        self.assertEqual(registry.admit("0011223344BB").autoAssigned, "102")
        self.assertEqual(registry.admit("0011223344AA").autoAssigned, "101")

    def test_unregisterFreesNumber(self) -> None:
        """
        Unregistering frees the number for lookups and max-dn, but it stays
        remembered for the phone; a stale session's unregister does nothing.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock())
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
        self.registry = EphoneRegistry(config, None, Clock())
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
        registry = EphoneRegistry(makeConfig(), self.stateDir, Clock())
        registerDirectly(registry, "0011223344AA")
        registerDirectly(registry, "0011223344BB")
        path = os.path.join(self.stateDir, AUTO_ASSIGN_FILE)
        with open(path) as f:
            self.assertEqual(json.load(f), {"version": 2, "reservations": {
                "0011223344AA": {"dn": "2000", "last-seen": "1970-01-01T00:00:00+00:00"},
                "0011223344BB": {"dn": "2001", "last-seen": "1970-01-01T00:00:00+00:00"}}})
        restarted = EphoneRegistry(makeConfig(), self.stateDir, Clock())
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

    def test_atomicWriter(self) -> None:
        """
        Reservations are written through the atomic writer, only when a new
        number is reserved (the last-seen time of an unregistration waits
        for the next write).
        """
        writes: list[tuple[str, bytes, int]] = []
        registry = EphoneRegistry(makeConfig(), self.stateDir, Clock(), writer=lambda *a: writes.append(a))
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
        registry = EphoneRegistry(makeConfig(), self.stateDir, Clock(), writer=writer)
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
        registerDirectly(EphoneRegistry(makeConfig(), self.stateDir, Clock()), "0011223344AA")
        registry = EphoneRegistry(makeConfig(autoAssign=(3000, 3009)), self.stateDir, Clock())
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
            error = self.assertRaises(AutoAssignStateError, EphoneRegistry, makeConfig(), self.stateDir, Clock())
            self.assertEqual(error.path, path)
            self.assertIn(path, str(error))

    def test_noStateDirectory(self) -> None:
        """
        Without a state directory assignments are kept in memory only.
        """
        registry = EphoneRegistry(makeConfig(), None, Clock())
        registerDirectly(registry, "0011223344AA")
        self.assertIsNone(registry.autoAssignPath)
        self.assertEqual(registry.rememberedDn("0011223344AA"), "2000")
