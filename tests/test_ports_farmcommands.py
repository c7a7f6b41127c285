"""
Tests for L{srst.ports.farmcommands}: C{show voice dsp} and C{show
conference} over a real bridge pool (ports bound on 127.0.0.1, the pump on
a L{Clock}).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from srst.admin.commands import CommandTable
from srst.calls.mediaservices import ConferenceRefused
from srst.debug import DebugSwitches
from srst.media.portrange import RtpPortAllocator
from srst.ports.bridge import BridgePool
from srst.ports.farmcommands import (CONFERENCE_COLUMNS, DSP_HEADER, registerMediaFarmCommands,
                                     renderConferences, renderDsp)
from srst.ports.g711 import G711Law
from srst.ports.media import MediaPump, PortMediaResources


class NoLegs:
    """A call engine with no call (the bridge ports have no participant DN)."""

    def legsOf(self, endpoint: Any) -> list[Any]:
        return []

    def mediaReady(self, leg: Any, passThruPartyId: int, host: str, port: int) -> None:
        "Not used."

    def mediaFailed(self, leg: Any, reason: str) -> None:
        "Not used."


class FarmCommandTests(TestCase):
    """
    The two commands render the pool and the music on hold.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.pump = MediaPump(self.clock)
        self.addCleanup(self.pump.stop)
        resources = PortMediaResources(reactor, RtpPortAllocator("127.0.0.1", "47600-47619"), self.pump,
                                       debug=DebugSwitches())
        self.engine = NoLegs()
        self.pool = BridgePool(resources, self.engine, maxConferences=3)
        self.addCleanup(self.pool.close)

    def test_nothing(self) -> None:
        """
        With no music on hold and no bridge: the header alone, and the pool's
        use.
        """
        dsp = renderDsp(None, self.pool)
        self.assertEqual((dsp.text, dsp.data), ("\n".join(DSP_HEADER), []))
        conferences = renderConferences(self.pool, self.engine)
        self.assertEqual(conferences.text, "Conferences 0 of max 3 (reserved 0)")
        self.assertEqual(conferences.data, {"active": 0, "max": 3, "reserved": 0, "refused": 0, "conferences": []})

    def test_bridges(self) -> None:
        """
        A reserved bridge shows the directory number that reserved it; an
        active one its security, creator, age and one row per port, in
        C{show voice dsp} too.
        """
        self.pool.reserve("1001")
        bridge = self.pool.reserve("2001")
        bridge.activate("2001")
        ulaw = bridge.addPort(1, G711Law.ULAW, None, None)
        alaw = bridge.addPort(2, G711Law.ALAW, None, None)
        self.clock.advance(65)
        result = renderConferences(self.pool, self.engine)
        self.assertEqual(result.text.splitlines(), [
            "Conferences 1 of max 3 (reserved 1)",
            "Conference 1 reserved by 1001",
            "Conference 2 clear, created by 2001, up 00:01:05",
            CONFERENCE_COLUMNS,
            "           %d g711ulaw 0      0      0     0        0    0      0      0" % (ulaw.local[1],),
            "           %d g711alaw 0      0      0     0        0    0      0      0" % (alaw.local[1],),
        ])
        self.assertEqual(result.data["conferences"][1]["participants"][1], {
            "dn": "", "place": 2, "localPort": alaw.local[1], "codec": "g711alaw", "secure": False,
            "txPackets": 0, "rxPackets": 0, "lost": 0, "underruns": 0, "overruns": 0,
            "dropped": {"auth": 0, "replay": 0, "source": 0, "malformed": 0}})
        dsp = renderDsp(None, self.pool)
        self.assertEqual(dsp.text.splitlines()[3:], [
            "SRST  001 01 g711ulaw   1.0   busy  idle      0  0 conf/2.1     0     0 0/0",
            "SRST  002 01 g711alaw   1.0   busy  idle      0  0 conf/2.2     0     0 0/0",
        ])
        self.assertEqual([row["localPort"] for row in dsp.data], [ulaw.local[1], alaw.local[1]])

    def test_refused(self) -> None:
        """
        The Confrn requests refused at C{max-conferences} are counted under
        the header (as in C{--json}); none: no such line.
        """
        for number in ("1001", "1002", "1003"):
            self.pool.reserve(number)
        self.assertEqual(renderConferences(self.pool, self.engine).text.splitlines()[:2],
                         ["Conferences 0 of max 3 (reserved 3)", "Conference 1 reserved by 1001"])
        self.assertRaises(ConferenceRefused, self.pool.reserve, "1004")
        self.assertRaises(ConferenceRefused, self.pool.reserve, "1004")
        result = renderConferences(self.pool, self.engine)
        self.assertEqual(result.text.splitlines()[:3], [
            "Conferences 0 of max 3 (reserved 3)", "Refused 2 (max-conferences reached)",
            "Conference 1 reserved by 1001"])
        self.assertEqual((result.data["refused"], result.data["conferences"][0]["reservedBy"]), (2, "1001"))

    def test_registered(self) -> None:
        """
        Both commands are in the command table.
        """
        table = CommandTable()
        registerMediaFarmCommands(table, None, self.pool, self.engine)
        for words in (["show", "voice", "dsp"], ["show", "conference"]):
            command, variables = table.lookup(words)
            self.assertEqual(command.handler(**variables).text.splitlines()[0],
                             DSP_HEADER[0] if words[1] == "voice" else "Conferences 0 of max 3 (reserved 0)")
