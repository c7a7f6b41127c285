"""
Tests for L{srst.ipsec.plan}: the C{crypto:} section resolved into the
connections srst loads into charon.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.config import loadString
from srst.ipsec.connections import Connection, loadConnMessage
from srst.ipsec.plan import connectionsFor
from tests.test_ipsec_config import crypto, document

SEED_CONNECTION = Connection(
    mapName="rtp", sequence=1, interface="10.1.1.22", localAddress="10.1.1.22", remoteAddress="10.1.1.13",
    psk="cisco123", ikeProposals=("aes256-sha256-modp2048",), espProposals=("aes256-sha256",),
    localTs=("10.1.1.22/32",), remoteTs=("10.1.1.13/32",), transformSet="rtpset",
    transforms=("esp-aes 256", "esp-sha256-hmac"), accessList="116",
    accessListLines=("access-list 116 permit ip host 10.1.1.22 host 10.1.1.13",), ikeVersion=1,
    ikeLifetime=28800, saLifetime=3600)


class ConnectionsForTests(SynchronousTestCase):
    """
    L{connectionsFor}.
    """

    def test_seed(self) -> None:
        """
        The seed's lines (with a modern transform set and the IOS policy
        defaults srst fills in): one IKEv1 connection rtp-1 from 10.1.1.22
        to 10.1.1.13 with the peer's key, host-to-host selectors from
        access-list 116, the policy's lifetime.
        """
        config = loadString(document(crypto()))
        self.assertEqual(connectionsFor(config.crypto, config.accessLists), [SEED_CONNECTION])
        message = loadConnMessage(SEED_CONNECTION)
        self.assertEqual(list(message), ["rtp-1"])

    def test_proposalsAndSelectors(self) -> None:
        """
        Every policy is offered in priority order (IKE names: aes128, sha1,
        ecp256); GCM needs no integrity; a UDP line with a port narrows the
        remote selector; a deny line has no charon form and is reported.
        """
        section = crypto(isakmp={
            "policies": {20: {"authentication": "pre-share", "encryption": "aes 128", "hash": "sha", "group": 19},
                         10: {"authentication": "pre-share", "encryption": "aes 256", "hash": "sha384",
                              "group": 20, "lifetime": 3600}},
            "keys": [{"address": "10.1.1.13", "key": "cisco123"}]},
            **{"transform-sets": {"rtpset": {"transforms": ["esp-gcm 256"]}}})
        acl = ("access-lists:\n  116:\n"
               "    - {action: permit, protocol: udp, source: 10.1.1.22, destination: 10.1.1.13, port: 2427}\n"
               "    - {action: deny, source: 10.1.1.22, destination: 10.1.1.13}\n")
        config = loadString(document(section, acl))
        skipped: list[str] = []
        [connection] = connectionsFor(config.crypto, config.accessLists, skipped)
        self.assertEqual(connection.ikeProposals, ("aes256-sha384-ecp384", "aes128-sha1-ecp256"))
        self.assertEqual(connection.ikeLifetime, 3600)
        self.assertEqual(connection.espProposals, ("aes256gcm16",))
        self.assertEqual((connection.localTs, connection.remoteTs), (("10.1.1.22/32[udp]",), ("10.1.1.13/32[udp/2427]",)))
        self.assertEqual(skipped, ["crypto map rtp 1: access-list 116 deny lines have no strongSwan traffic"
                                   " selector; left out"])


TWO_LINES = ("access-lists:\n  116:\n"
             "    - {action: permit, protocol: udp, source: 10.1.1.22, destination: 10.1.1.13, port: 2427}\n"
             "    - {action: permit, protocol: ip, source: 10.1.2.0/24, destination: 10.1.3.0/24}\n")
"""Two permit lines, A to B (MGCP) and C to D: charon must protect exactly
those two flows, not A to D or C to B."""


class TrafficSelectorPairTests(SynchronousTestCase):
    """
    One CHILD_SA per permit line.
    """

    def test_twoLines(self) -> None:
        """
        Each permit line is one pair of selectors, one CHILD_SA: the first
        named like the connection, the second C{rtp-1-2}; no CHILD_SA has
        the cross product.
        """
        config = loadString(document(crypto(), TWO_LINES))
        [connection] = connectionsFor(config.crypto, config.accessLists)
        self.assertEqual(connection.children, [
            ("rtp-1", "10.1.1.22/32[udp]", "10.1.1.13/32[udp/2427]"),
            ("rtp-1-2", "10.1.2.0/24", "10.1.3.0/24")])
        children = loadConnMessage(connection)["rtp-1"]["children"]
        self.assertEqual({name: (child["local_ts"], child["remote_ts"], child["start_action"])
                          for name, child in children.items()},
                         {"rtp-1": (["10.1.1.22/32[udp]"], ["10.1.1.13/32[udp/2427]"], "trap"),
                          "rtp-1-2": (["10.1.2.0/24"], ["10.1.3.0/24"], "trap")})

    def test_sameLineTwice(self) -> None:
        """
        A line repeated is one CHILD_SA.
        """
        acl = ("access-lists:\n  116:\n"
               "    - {action: permit, protocol: ip, source: 10.1.1.22, destination: 10.1.1.13}\n"
               "    - {action: permit, protocol: ip, source: 10.1.1.22, destination: 10.1.1.13}\n")
        config = loadString(document(crypto(), acl))
        [connection] = connectionsFor(config.crypto, config.accessLists)
        self.assertEqual([name for name, _, _ in connection.children], ["rtp-1"])
