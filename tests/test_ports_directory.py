"""
Tests for L{srst.ports.directory}: the POTS dial-peers as the call engine's
directory, and the number a voice port calls with.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.calls.interfaces import DialMatch, IDirectory
from srst.ports.config import DialPeer
from srst.ports.directory import PortDirectory, portNumber
from tests.test_ports_callendpoint import PORT, PortSetup


class PortDirectoryTests(SynchronousTestCase):
    """L{PortDirectory} matches and resolves through the dial-peers."""

    def test_matchAndResolve(self) -> None:
        """
        Prefixes of the pattern need more digits, the full number is exact
        and resolves to the port's endpoint; other digits match nothing.
        """
        setup = PortSetup()
        directory = setup.directory
        self.assertTrue(verifyObject(IDirectory, directory))
        self.assertEqual([directory.match(d) for d in ("8", "8123", "81234", "81230")],
                         [DialMatch.PREFIX, DialMatch.PREFIX, DialMatch.EXACT, DialMatch.NONE])
        [destination] = directory.resolve("81234")
        self.assertIs(destination.endpoint, setup.endpoint)
        self.assertEqual(destination.line.number, "81234")
        self.assertEqual(directory.resolve("81230"), [])

    def test_combinedWithOthers(self) -> None:
        """Other directories' matches and destinations are combined with the plan's."""
        setup = PortSetup()
        combined = PortDirectory(setup.directory.plan.peers, {PORT: setup.endpoint},
                                 others=[setup.router.control.directory])
        self.assertEqual(combined.match("2001"), DialMatch.EXACT)
        self.assertEqual(len(combined.resolve("2001")), 1)
        self.assertEqual(combined.match("81234"), DialMatch.EXACT)


class PortNumberTests(SynchronousTestCase):
    """L{portNumber}: a port's calling number."""

    def test_stationIdFirst(self) -> None:
        """The station-id wins; else the first plain-number pattern of the port's peers; else none."""
        peers = [DialPeer(1, destinationPattern="8....", port="1/0/0"),
                 DialPeer(2, destinationPattern="81234", port="1/0/0")]
        self.assertEqual(portNumber("1/0/0", peers, "5000"), "5000")
        self.assertEqual(portNumber("1/0/0", peers), "81234")
        self.assertEqual(portNumber("1/0/9", peers), "")
