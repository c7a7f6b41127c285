# -*- test-case-name: tests.test_ipsec_connections -*-
"""
What srst loads into charon for one crypto map entry, and the VICI messages
that load it.

A L{Connection} is one C{crypto map <tag> <seq> ipsec-isakmp} entry resolved
against the rest of the crypto config: the peer (C{set peer}), the pre-shared
key for that peer (C{crypto isakmp key ... address ...}), the IKE proposals of
the isakmp policies, the ESP proposals of the transform set and the traffic
selectors of the access list (C{match address}).  The config section itself
(C{crypto:}) is read by C{srst.ipsec.config}; one function beside it makes
these from that config, and nothing else here knows the config's types.

Names in charon: the IKE connection is called C{"<tag>-<seq>"} (C{"rtp-1"}),
the shared secret C{"srst-<tag>-<seq>"}; srst unloads exactly those names
and nothing else.  Each permit line of the access list is one CHILD_SA with
one traffic-selector pair (charon protects the cross product of a
CHILD_SA's local and remote selectors, so two lines A to B and C to D in one
CHILD_SA would also protect A to D): the first line's is C{"<tag>-<seq>"}
like the connection, line I{n}'s (from 2) C{"<tag>-<seq>-<n>"}
(C{"rtp-1-2"}), so the seed's one-line access list keeps the one name.
"""

from __future__ import annotations

from typing import Any

from attrs import field, frozen


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value)


@frozen
class Connection:
    """
    One crypto map entry, as charon is to run it.

    @ivar mapName: the crypto map tag (C{"rtp"}).
    @ivar sequence: the entry's sequence number (C{1}).
    @ivar interface: the interface the map is applied to
        (C{"FastEthernet0/0"}), for C{show}.
    @ivar localAddress: the router's address on that interface.
    @ivar remoteAddress: the peer (C{set peer}).
    @ivar psk: the pre-shared key for the peer.
    @ivar ikeVersion: 1 (main mode, as the seed) or 2.
    @ivar aggressive: IKEv1 aggressive mode instead of main mode.
    @ivar ikeProposals: strongSwan IKE proposals (C{"aes128-sha256-modp2048"}).
    @ivar espProposals: strongSwan ESP proposals (C{"aes128-sha256"}).
    @ivar transformSet: the IOS transform set name (C{"rtpset"}).
    @ivar transforms: its IOS transforms (C{("esp-aes", "esp-sha256-hmac")}).
    @ivar accessList: the IOS access list name (C{"116"}).
    @ivar accessListLines: its lines as IOS prints them, for C{show crypto map}.
    @ivar localTs: local traffic selectors in strongSwan syntax
        (C{"10.1.1.22/32"}, C{"10.1.1.22/32[udp/2427]"}), one per permit
        line.
    @ivar remoteTs: remote traffic selectors, one per permit line: C{localTs[i]}
        and C{remoteTs[i]} are one pair, one CHILD_SA (L{children}).
    @ivar ikeLifetime: the isakmp policy lifetime, seconds.
    @ivar saLifetime: the IPsec SA lifetime, seconds.
    """

    mapName: str
    sequence: int
    interface: str
    localAddress: str
    remoteAddress: str
    psk: str = field(repr=False)
    ikeProposals: tuple[str, ...] = field(converter=_strings)
    espProposals: tuple[str, ...] = field(converter=_strings)
    localTs: tuple[str, ...] = field(converter=_strings)
    remoteTs: tuple[str, ...] = field(converter=_strings)
    transformSet: str = ""
    transforms: tuple[str, ...] = field(default=(), converter=_strings)
    accessList: str = ""
    accessListLines: tuple[str, ...] = field(default=(), converter=_strings)
    ikeVersion: int = 1
    aggressive: bool = False
    ikeLifetime: int = 86400
    saLifetime: int = 3600

    @property
    def name(self) -> str:
        """
        @return: the IKE and CHILD_SA name in charon (C{"rtp-1"}).
        """
        return f"{self.mapName}-{self.sequence}"

    @property
    def children(self) -> list[tuple[str, str, str]]:
        """
        @return: C{(name, local, remote)} per CHILD_SA, one per traffic
            selector pair: C{("rtp-1", ...)}, C{("rtp-1-2", ...)}.
        """
        return [(self.name if n == 1 else f"{self.name}-{n}", local, remote)
                for n, (local, remote) in enumerate(zip(self.localTs, self.remoteTs), 1)]

    @property
    def secretId(self) -> str:
        """
        @return: the id of the shared secret in charon (C{"srst-rtp-1"}).
        """
        return f"srst-{self.name}"


def loadConnMessage(connection: Connection) -> dict[str, Any]:
    """
    @return: the VICI C{load-conn} message for C{connection}: IKEv1 main
        mode (or IKEv2) with PSK, one tunnel-mode CHILD_SA per traffic
        selector pair (permit line of the access list).  Loading installs a trap policy
        (C{start_action = trap}): as on IOS, traffic the access list matches
        is dropped while there is no SA and starts IKE, never sent in clear;
        srst also initiates it at once.
    """
    children = {name: {
        "local_ts": [local],
        "remote_ts": [remote],
        "esp_proposals": list(connection.espProposals),
        "mode": "tunnel",
        "life_time": str(connection.saLifetime),
        "rekey_time": str(connection.saLifetime * 9 // 10),
        "start_action": "trap",
    } for name, local, remote in connection.children}
    return {
        connection.name: {
            "version": str(connection.ikeVersion),
            "aggressive": "yes" if connection.aggressive else "no",
            "local_addrs": [connection.localAddress],
            "remote_addrs": [connection.remoteAddress],
            "proposals": list(connection.ikeProposals),
            "rekey_time": str(connection.ikeLifetime),
            "local": {"auth": "psk", "id": connection.localAddress},
            "remote": {"auth": "psk", "id": connection.remoteAddress},
            "children": children,
        }
    }


def loadSharedMessage(connection: Connection) -> dict[str, Any]:
    """
    @return: the VICI C{load-shared} message: the IKE pre-shared key whose
        owner is the peer's address (C{crypto isakmp key ... address ...}).
    """
    return {
        "id": connection.secretId,
        "type": "IKE",
        "data": connection.psk,
        "owners": [connection.remoteAddress],
    }
