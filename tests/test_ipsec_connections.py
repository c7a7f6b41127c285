"""
Tests for L{srst.ipsec.connections}: the VICI messages that load one crypto
map entry into charon.  (That charon takes them: L{tests.test_ipsec_vici}.)
"""

from __future__ import annotations

from attrs import evolve
from twisted.trial.unittest import SynchronousTestCase

from srst.ipsec.connections import loadConnMessage, loadSharedMessage
from tests.test_ipsec_vici import SEED


class MessageTests(SynchronousTestCase):
    def test_loadConn(self) -> None:
        """
        The seed's entry is one IKEv1 main-mode PSK connection C{rtp-1}
        whose one CHILD_SA, also C{rtp-1}, is installed as a trap policy:
        traffic the access list matches never leaves in clear.
        """
        self.assertEqual(loadConnMessage(SEED), {"rtp-1": {
            "version": "1", "aggressive": "no", "local_addrs": ["10.1.1.22"], "remote_addrs": ["10.1.1.13"],
            "proposals": ["aes128-sha256-modp2048"], "rekey_time": "28800",
            "local": {"auth": "psk", "id": "10.1.1.22"}, "remote": {"auth": "psk", "id": "10.1.1.13"},
            "children": {"rtp-1": {
                "local_ts": ["10.1.1.22/32"], "remote_ts": ["10.1.1.13/32"], "esp_proposals": ["aes128-sha256"],
                "mode": "tunnel", "life_time": "3600", "rekey_time": "3240", "start_action": "trap"}}}})

    def test_childPerPair(self) -> None:
        """
        Two selector pairs are two CHILD_SAs, C{rtp-1} and C{rtp-1-2},
        each with its own pair only.
        """
        connection = evolve(SEED, localTs=["10.1.1.22/32", "10.1.2.0/24"], remoteTs=["10.1.1.13/32", "10.1.3.0/24"])
        children = loadConnMessage(connection)["rtp-1"]["children"]
        self.assertEqual({name: (child["local_ts"], child["remote_ts"]) for name, child in children.items()},
                         {"rtp-1": (["10.1.1.22/32"], ["10.1.1.13/32"]),
                          "rtp-1-2": (["10.1.2.0/24"], ["10.1.3.0/24"])})

    def test_loadShared(self) -> None:
        """
        The key is srst's (C{srst-rtp-1}), owned by the peer's address.
        """
        self.assertEqual(loadSharedMessage(SEED), {"id": "srst-rtp-1", "type": "IKE", "data": "cisco123",
                                                   "owners": ["10.1.1.13"]})

    def test_keyNotInRepr(self) -> None:
        """
        The key is never in a connection's repr.
        """
        self.assertNotIn("cisco123", repr(SEED))
