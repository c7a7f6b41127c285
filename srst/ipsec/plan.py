# -*- test-case-name: tests.test_ipsec_plan -*-
"""
The C{crypto:} section resolved into what charon runs: one L{Connection} per
crypto map entry.

IOS names become strongSwan's: an isakmp policy C{encr aes 256 / hash sha256
/ group 14} is the IKE proposal C{aes256-sha256-modp2048} (every policy, in
priority order, as IOS offers them all); a transform set C{esp-aes 256
esp-sha256-hmac} the ESP proposal C{aes256-sha256}; the permit lines of the
map's access list the traffic selectors, one pair per line (source: local,
destination: remote, with C{[udp/2427]} when the line names a protocol and
port), each pair its own CHILD_SA.  Deny lines
have no traffic-selector form in charon and are left out (IOS uses them to
punch holes in a permit; srst's crypto ACLs are the seed's host-to-host
kind), and L{connectionsFor} says so through C{skipped}.
"""

from __future__ import annotations

from typing import Mapping

from srst.ipsec.config import CryptoConfig, IsakmpPolicy, TransformSet
from srst.ipsec.connections import Connection
from srst.policing.config import AccessList, AccessListEntry, AclAction, IPProtocol
from srst.policing.iosconfig import accessListLine

__all__ = ["SA_LIFETIME", "connectionsFor", "espProposal", "ikeProposal"]

SA_LIFETIME = 3600
"""IOS C{crypto ipsec security-association lifetime seconds} default."""

_GROUPS = {1: "modp768", 2: "modp1024", 5: "modp1536", 14: "modp2048", 15: "modp3072", 16: "modp4096",
           19: "ecp256", 20: "ecp384", 21: "ecp521", 24: "modp2048s256"}
_HASHES = {"md5": "md5", "sha": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
_ESP_INTEGRITY = {"esp-md5-hmac": "md5", "esp-sha-hmac": "sha1", "esp-sha256-hmac": "sha256",
                  "esp-sha384-hmac": "sha384", "esp-sha512-hmac": "sha512"}


def _cipher(name: str, keySize: int | None) -> str:
    name = name.removeprefix("esp-")
    if name == "aes":
        return f"aes{keySize or 128}"
    if name == "gcm":
        return f"aes{keySize or 128}gcm16"
    return name  # des, 3des: legacy, only with allow-legacy-crypto


def ikeProposal(policy: IsakmpPolicy) -> str:
    """
    @return: the strongSwan IKE proposal of an isakmp policy.
    """
    return "-".join([_cipher(policy.encryption, policy.keySize), _HASHES[policy.hash],
                     _GROUPS.get(policy.group, f"modp{policy.group}")])


def espProposal(transformSet: TransformSet) -> str:
    """
    @return: the strongSwan ESP proposal of a transform set.
    """
    parts = [_cipher(transformSet.encryption, transformSet.keySize)]
    if transformSet.integrity is not None:
        parts.append(_ESP_INTEGRITY[transformSet.integrity])
    return "-".join(parts)


def _selector(network: object | None, entry: AccessListEntry, withPort: bool) -> str:
    """
    A strongSwan traffic selector: C{10.1.1.22/32}, C{0.0.0.0/0[udp]},
    C{10.1.1.13/32[udp/2427]} (an entry's port is its destination's).
    """
    text = str(network) if network is not None else "0.0.0.0/0"
    if entry.protocol is IPProtocol.IP:
        return text
    if withPort and entry.port is not None:
        return f"{text}[{entry.protocol.value}/{entry.port}]"
    return f"{text}[{entry.protocol.value}]"


def connectionsFor(crypto: CryptoConfig, accessLists: Mapping[int, AccessList],
                   skipped: list[str] | None = None) -> list[Connection]:
    """
    Resolve every crypto map entry against the keys, policies, transform
    sets and access lists it names (the config already checked they exist).

    @param skipped: if given, gets one line per access-list line that has no
        charon form (a deny).
    @return: the connections, in map and sequence order.
    """
    policies = sorted(crypto.policies, key=lambda p: p.priority)
    ikeProposals = tuple(ikeProposal(p) for p in policies) or ("aes256-sha256-modp2048",)
    ikeLifetime = policies[0].lifetime if policies else 86400
    connections = []
    for cryptoMap in crypto.maps:
        for entry in sorted(cryptoMap.entries, key=lambda e: e.sequence):
            key = crypto.keyFor(entry.peer)
            transformSet = crypto.transformSet(entry.transformSet)
            acl = accessLists.get(entry.matchAddress)
            if key is None or transformSet is None or acl is None:
                continue
            pairs: list[tuple[str, str]] = []
            for line in acl.entries:
                if line.action is not AclAction.PERMIT:
                    if skipped is not None:
                        skipped.append(f"crypto map {cryptoMap.name} {entry.sequence}: access-list"
                                       f" {entry.matchAddress} deny lines have no strongSwan traffic selector;"
                                       " left out")
                    continue
                pairs.append((_selector(line.source, line, False), _selector(line.destination, line, True)))
            pairs = list(dict.fromkeys(pairs))
            connections.append(Connection(
                mapName=cryptoMap.name, sequence=entry.sequence, interface=cryptoMap.interfaceName,
                localAddress=cryptoMap.interfaceAddress, remoteAddress=entry.peer, psk=key.key,
                ikeProposals=ikeProposals, espProposals=(espProposal(transformSet),),
                localTs=tuple(local for local, _ in pairs), remoteTs=tuple(remote for _, remote in pairs),
                transformSet=transformSet.name, transforms=tuple(transformSet.transforms),
                accessList=str(entry.matchAddress),
                accessListLines=tuple(accessListLine(entry.matchAddress, line) for line in acl.entries),
                ikeVersion=crypto.ikeVersion, ikeLifetime=ikeLifetime, saLifetime=SA_LIFETIME))
    return connections
