"""
Tests for L{srst.policing.commands}: C{show policy-map control-plane}
rendered from real counters.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from srst.admin.commands import CommandTable
from srst.policing.commands import registerPolicingCommands, renderPolicyMap
from tests.policinghelpers import TRUSTED, UNTRUSTED, connect, policed, seedPolicy


class ShowPolicyMapTests(SynchronousTestCase):
    """
    C{show policy-map control-plane} rendered from real counters.
    """

    def test_afterFlood(self):
        """
        After 30 refused untrusted connections and one trusted connection
        sending 100 bytes, the output has the IOS shape with those counts;
        C{data} carries the same numbers.
        """
        factory, app, cp, clock = policed(seedPolicy())
        for n in range(30):
            connect(factory, UNTRUSTED, 40000 + n)
        protocol, _ = connect(factory, TRUSTED)
        protocol.dataReceived(b"y" * 100)
        table = CommandTable()
        registerPolicingCommands(table, cp)
        command, variables = table.lookup(["show", "policy-map", "control-plane"])
        result = command.handler(**variables)
        # 1800 bytes at t=0 into a 300 s average: 1800 * 8 / 300 = 48 bps.
        expected = "\n".join([
            " Control Plane",
            "",
            "  Service-policy input: control-plane-policy",
            "",
            "    Class-map: sccp-class (match-all)",
            "      30 packets, 1800 bytes",
            "      5 minute offered rate 48 bps, drop rate 48 bps",
            "      Match: access-group 140",
            "      police:",
            "          cir 8000 bps, bc 1500 bytes, be 1500 bytes",
            "        conformed 25 packets, 1500 bytes; actions:",
            "          drop",
            "        exceeded 5 packets, 300 bytes; actions:",
            "          drop",
            "        conformed 40 bps, exceed 8 bps",
            "",
            "    Class-map: class-default (match-any)",
            "      2 packets, 160 bytes",
            "      5 minute offered rate 4 bps, drop rate 0 bps",
            "      Match: any",
        ])
        self.assertEqual(result.text, expected)
        data = json.loads(json.dumps(result.data))
        self.assertEqual(data["name"], "control-plane-policy")
        sccp, default = data["classes"]
        self.assertEqual((sccp["name"], sccp["packets"], sccp["refusedConnections"]), ("sccp-class", 30, 30))
        self.assertEqual(sccp["police"]["conformedPackets"], 25)
        self.assertEqual(sccp["police"]["exceedAction"], "drop")
        self.assertEqual((default["name"], default["bytes"], default["police"]), ("class-default", 160, None))

    def test_ratesDecay(self):
        """
        The 5-minute rates fall back towards zero once traffic stops.
        """
        factory, app, cp, clock = policed(seedPolicy())
        for n in range(30):
            connect(factory, UNTRUSTED, 40000 + n)
        clock.advance(3000)
        text = renderPolicyMap(cp.stats())
        self.assertIn("5 minute offered rate 0 bps, drop rate 0 bps", text)
        self.assertIn("30 packets, 1800 bytes", text)
