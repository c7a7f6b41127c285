"""
Tests for L{srst.sccp.directory.RegistryDirectory}: how dialled digits match
the directory numbers of the registered phones, as phones register and
unregister.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.sccp.config import EphoneConfig, LineButton
from srst.calls.interfaces import DialMatch, IDirectory, LineRef
from srst.sccp.directory import RegistryDirectory
from srst.sccp.registry import EphoneRegistry
from tests.test_sccp_registry import registerDirectly
from tests.test_sccp_station import makeConfig


def macOf(index: int) -> str:
    """@return: the MAC of configured phone C{index}."""
    return f"0000000001{index:02X}"


def directoryFor(*lines: tuple[str, ...]) -> tuple[RegistryDirectory, EphoneRegistry, list[Any]]:
    """
    A registry with one configured phone per entry of C{lines} (each entry
    the phone's line numbers, buttons 1..n) and every phone registered.

    @return: the directory (endpoints are the stations themselves), the
        registry and the stations, in phone order.
    """
    ephones = tuple(
        EphoneConfig(macOf(index), buttons=tuple(LineButton(button + 1, dn) for button, dn in enumerate(dns)))
        for index, dns in enumerate(lines))
    registry = EphoneRegistry(makeConfig(autoAssign=None, maxDn=100, ephones=ephones), None, Clock(),
                              runInThread=maybeDeferred)
    stations = [registerDirectly(registry, macOf(index))[1] for index in range(len(lines))]
    return RegistryDirectory(registry, lambda station: station), registry, stations


def bruteForce(dns: set[str], digits: str) -> DialMatch:
    """
    The match by one pass over every number in use (what
    L{RegistryDirectory.match} did before it bisected).

    @param dns: the numbers in use.
    @param digits: the digits dialled.
    @return: how they match.
    """
    exact = digits in dns
    longer = any(dn != digits and dn.startswith(digits) for dn in dns)
    if exact:
        return DialMatch.EXACT_OR_LONGER if longer else DialMatch.EXACT
    return DialMatch.PREFIX if longer else DialMatch.NONE


class RegistryDirectoryMatchTests(SynchronousTestCase):
    """
    L{RegistryDirectory.match} against the registered phones' numbers.
    """

    def test_interface(self) -> None:
        """
        The directory provides L{IDirectory}.
        """
        directory, _, _ = directoryFor(("2001",))
        self.assertTrue(verifyObject(IDirectory, directory))

    def test_exactMatch(self) -> None:
        """
        A number in use that no longer number starts with is an exact match;
        so is the only number of a phone among numbers of other lengths.
        """
        directory, _, _ = directoryFor(("2001",), ("2002",), ("31",), ("400000",))
        self.assertEqual(
            [directory.match(digits) for digits in ("2001", "2002", "31", "400000")],
            [DialMatch.EXACT] * 4)

    def test_prefixOfLongerNumber(self) -> None:
        """
        Digits that start longer numbers are a prefix; a number in use that
        also starts a longer number in use is exact-or-longer, whichever
        phone holds which.
        """
        directory, _, _ = directoryFor(("200", "2001"), ("20010",), ("2009",))
        self.assertEqual(
            [directory.match(digits) for digits in ("2", "20", "200", "2001", "20010", "200", "2009")],
            [DialMatch.PREFIX, DialMatch.PREFIX, DialMatch.EXACT_OR_LONGER, DialMatch.EXACT_OR_LONGER,
             DialMatch.EXACT, DialMatch.EXACT_OR_LONGER, DialMatch.EXACT])

    def test_unknown(self) -> None:
        """
        Digits no number starts with match nothing: other leading digits,
        digits that sort between numbers in use, digits longer than any
        number, and anything at all when no phone is registered.
        """
        directory, _, _ = directoryFor(("2001",), ("2003",))
        self.assertEqual(
            [directory.match(digits) for digits in ("1", "3", "2002", "20011", "2000", "*", "21")],
            [DialMatch.NONE] * 7)
        empty, _, _ = directoryFor()
        self.assertEqual([empty.match("2"), empty.match("")], [DialMatch.NONE, DialMatch.NONE])

    def test_emptyDigits(self) -> None:
        """
        No digits yet start every number in use.
        """
        directory, _, _ = directoryFor(("2001",))
        self.assertEqual(directory.match(""), DialMatch.PREFIX)

    def test_sharedNumber(self) -> None:
        """
        A number shared by several phones is an exact match (its holders do
        not count as longer numbers), and both holders resolve.
        """
        directory, _, stations = directoryFor(("2010",), ("2010", "2011"), ("2010",))
        self.assertEqual(
            [directory.match(digits) for digits in ("201", "2010", "2011")],
            [DialMatch.PREFIX, DialMatch.EXACT, DialMatch.EXACT])
        self.assertEqual([d.endpoint for d in directory.resolve("2010")], stations)

    def test_afterUnregister(self) -> None:
        """
        A phone's numbers stop matching when it unregisters, unless another
        registered phone shares them; a longer number gone turns
        exact-or-longer into exact; registering again restores them.
        """
        directory, registry, stations = directoryFor(("200",), ("2001", "2010"), ("2010",))
        registry.unregister(stations[1])
        self.assertEqual(
            [directory.match(digits) for digits in ("200", "2001", "2010", "201")],
            [DialMatch.EXACT, DialMatch.NONE, DialMatch.EXACT, DialMatch.PREFIX])
        registry.unregister(stations[2])
        self.assertEqual([directory.match("2010"), directory.match("201")], [DialMatch.NONE, DialMatch.NONE])
        self.assertEqual(directory.resolve("2010"), [])
        registerDirectly(registry, macOf(1))
        self.assertEqual([directory.match("200"), directory.match("2010")],
                         [DialMatch.EXACT_OR_LONGER, DialMatch.EXACT])
        [destination] = directory.resolve("2010")
        self.assertEqual(destination.line, LineRef(2, "2010", "", 3))

    def test_reRegisterKeepsOneEntry(self) -> None:
        """
        A phone registering again (a new session replacing the old one) does
        not make its numbers count twice, and its old session's unregister
        changes nothing.
        """
        directory, registry, stations = directoryFor(("2001",))
        registerDirectly(registry, macOf(0))
        self.assertEqual(directory.match("2001"), DialMatch.EXACT)
        self.assertIsNone(registry.unregister(stations[0]))
        self.assertEqual(directory.match("2001"), DialMatch.EXACT)

    @settings(max_examples=200, deadline=None)
    @given(
        lines=st.lists(st.lists(st.text("0129", min_size=1, max_size=4), min_size=1, max_size=3,
                                unique=True), min_size=1, max_size=6),
        unregistered=st.sets(st.integers(0, 5)),
        digits=st.lists(st.text("0129", max_size=5), max_size=10))
    def test_sameAsOnePass(self, lines: list[list[str]], unregistered: set[int],
                           digits: list[str]) -> None:
        """
        For any phones, any of them unregistered again, and any digits, the
        match is what one pass over every number in use gives.
        """
        directory, registry, stations = directoryFor(*map(tuple, lines))
        for index in sorted(unregistered):
            if index < len(stations):
                registry.unregister(stations[index])
        inUse = registry.dnsInUse()
        for dialled in [*digits, *inUse, *(dn[:-1] for dn in inUse)]:
            self.assertEqual(directory.match(dialled), bruteForce(inUse, dialled), dialled)
