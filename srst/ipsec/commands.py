# -*- test-case-name: tests.test_ipsec_commands -*-
"""
The IOS crypto commands: C{show crypto isakmp sa}, C{show crypto ipsec sa},
C{show crypto map}, C{clear crypto sa} and C{debug crypto isakmp}.

The renderers are pure functions of the configured L{Connection}s and of
charon's C{list-sas} events (one dict per IKE_SA, keyed by its name, values
as charon 5.9 sends them); L{registerIpsecCommands} binds them to an
L{IpsecService}.

Where charon does not know what IOS prints, the layout keeps IOS's lines
that can be filled truthfully and leaves the others out: the ISAKMP state
is QM_IDLE for an established IKE_SA and MM_NO_STATE while it negotiates
(VICI does not expose the main mode message step), conn-id is charon's
unique id of the SA (the number in charon's log, C{rtp-1[1]}), the SA
timing is in seconds only (srst sets no volume limit), and the MTU, IV and
error counter lines are not printed.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Sequence

from twisted.internet.defer import Deferred

from srst.admin.commands import CommandResult, CommandTable, DebugRequest
from srst.ipsec.connections import Connection
from srst.ipsec.service import DEBUG_NAMESPACE, IpsecService
from srst.ipsec.vici import ViciError

DEBUG_BANNER = "Crypto ISAKMP debugging is on"

_IKE_STATES = {"ESTABLISHED": "QM_IDLE", "REKEYING": "QM_IDLE"}
_IKE_STATUS = {"DELETING": "DELETED", "DESTROYING": "DELETED"}

_ENCRYPTION = {
    "AES_CBC": "esp-aes", "AES_GCM_16": "esp-gcm", "AES_GCM_8": "esp-gcm", "AES_GCM_12": "esp-gcm",
    "3DES": "esp-3des", "DES": "esp-des", "NULL": "esp-null",
}
_INTEGRITY = {
    "HMAC_MD5_96": "esp-md5-hmac", "HMAC_SHA1_96": "esp-sha-hmac",
    "HMAC_SHA2_256_128": "esp-sha256-hmac", "HMAC_SHA2_384_192": "esp-sha384-hmac",
    "HMAC_SHA2_512_256": "esp-sha512-hmac",
}
_PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17}


def _ikeSas(sas: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, sa) for event in sas for name, sa in event.items()]


def isakmpRows(sas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    @return: one row per IKE_SA: C{dst}, C{src}, C{state}, C{conn-id},
        C{status}, the IKE C{version} (1 or 2: C{crypto.ike-version}), and
        charon's own C{name} and C{charon-state}.
    """
    rows = []
    for name, sa in _ikeSas(sas):
        state = sa.get("state", "")
        rows.append({
            "dst": sa.get("remote-host", ""), "src": sa.get("local-host", ""),
            "state": _IKE_STATES.get(state, "MM_NO_STATE"), "conn-id": int(sa.get("uniqueid", "0")),
            "status": _IKE_STATUS.get(state, "ACTIVE"), "version": 2 if sa.get("version") == "2" else 1,
            "name": name, "charon-state": state,
        })
    return rows


def renderIsakmpSa(sas: Sequence[dict[str, Any]]) -> str:
    """
    @return: C{show crypto isakmp sa} as IOS 15.x prints it.
    """
    lines = ["IPv4 Crypto ISAKMP SA", "dst             src             state          conn-id status"]
    for row in isakmpRows(sas):
        if ":" in row["dst"]:
            continue
        lines.append(f"{row['dst']:<15} {row['src']:<15} {row['state']:<14} {row['conn-id']:>7} {row['status']}")
    lines += ["", "IPv6 Crypto ISAKMP SA", ""]
    return "\n".join(lines)


def ident(selector: str) -> str:
    """
    @return: a strongSwan traffic selector (C{"10.1.1.22/32[udp/2427]"}) as
        IOS's C{(addr/mask/prot/port)}: C{"(10.1.1.22/255.255.255.255/17/2427)"}.
    """
    network, _, rest = selector.partition("[")
    net = ipaddress.ip_network(network, strict=False)
    protocol, port = 0, "0"
    if rest:
        proto, _, portText = rest.rstrip("]").partition("/")
        protocol = _PROTOCOLS.get(proto, int(proto) if proto.isdigit() else 0)
        port = portText if portText.isdigit() else "0"
    return f"({net.network_address}/{net.netmask}/{protocol}/{port})"


def transform(child: dict[str, Any]) -> str:
    """
    @return: the IOS transform of a CHILD_SA (C{"esp-aes esp-sha256-hmac"};
        C{"esp-aes 256 ..."} for a 256-bit key).
    """
    encryption = _ENCRYPTION.get(child.get("encr-alg", ""), child.get("encr-alg", "").lower())
    keysize = child.get("encr-keysize", "")
    if keysize and keysize != "128" and encryption in ("esp-aes", "esp-gcm"):
        encryption += f" {keysize}"
    words = [encryption]
    if child.get("integ-alg"):
        words.append(_INTEGRITY.get(child["integ-alg"], child["integ-alg"].lower()))
    return " ".join(words)


def _spi(text: str) -> str:
    value = int(text or "0", 16)
    return f"0x{value:X}({value})"


def _sa(child: dict[str, Any]) -> dict[str, Any]:
    return {
        "spi-in": int(child.get("spi-in", "0"), 16), "spi-out": int(child.get("spi-out", "0"), 16),
        "transform": transform(child), "mode": child.get("mode", "TUNNEL").capitalize(),
        "conn-id": int(child.get("uniqueid", "0")), "lifetime": int(child.get("life-time", "0")),
    }


def ipsecEntries(connections: Sequence[Connection], sas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    @return: per crypto map entry, the facts of C{show crypto ipsec sa}:
        its C{flows} (one per CHILD_SA: traffic-selector pair, counters and
        SAs) and, over all of them, the counters and SAs.
    """
    ikes = dict(_ikeSas(sas))
    entries = []
    for connection in connections:
        ike = ikes.get(connection.name, {})
        installed = [child for child in ike.get("child-sas", {}).values() if child.get("state") == "INSTALLED"]
        flows = []
        for name, local, remote in connection.children:
            children = [child for child in installed if child.get("name") == name]
            flows.append({
                "child": name, "local-ident": ident(local), "remote-ident": ident(remote),
                "encaps": sum(int(child.get("packets-out", "0")) for child in children),
                "decaps": sum(int(child.get("packets-in", "0")) for child in children),
                "sas": [_sa(child) for child in children],
            })
        entries.append({
            "interface": connection.interface, "map": connection.mapName, "sequence": connection.sequence,
            "local-addr": connection.localAddress, "peer": connection.remoteAddress,
            "peer-port": int(ike.get("remote-port", "500")),
            "local-ident": [flow["local-ident"] for flow in flows],
            "remote-ident": [flow["remote-ident"] for flow in flows],
            "encaps": sum(flow["encaps"] for flow in flows),
            "decaps": sum(flow["decaps"] for flow in flows),
            "sas": [sa for flow in flows for sa in flow["sas"]],
            "flows": flows,
        })
    return entries


def renderIpsecSa(connections: Sequence[Connection], sas: Sequence[dict[str, Any]]) -> str:
    """
    @return: C{show crypto ipsec sa} in IOS's layout, per crypto map entry
        one block per flow (permit line: its idents, counters and SAs; a
        flow with no SA shows zero counters and no SAs, as IOS does).
    """
    lines: list[str] = []
    for entry in ipsecEntries(connections, sas):
        lines += ["", f"interface: {entry['interface']}",
                  f"    Crypto map tag: {entry['map']}, local addr {entry['local-addr']}"]
        for flow in entry["flows"]:
            lines += _flowLines(entry, flow)
    return "\n".join(lines)


def _flowLines(entry: dict[str, Any], flow: dict[str, Any]) -> list[str]:
    lines = ["", "   protected vrf: (none)",
             f"   local  ident (addr/mask/prot/port): {flow['local-ident']}",
             f"   remote ident (addr/mask/prot/port): {flow['remote-ident']}"]
    encaps, decaps = flow["encaps"], flow["decaps"]
    outbound = flow["sas"][0]["spi-out"] if flow["sas"] else 0
    lines += [f"   current_peer {entry['peer']} port {entry['peer-port']}",
              "     PERMIT, flags={origin_is_acl,}",
              f"    #pkts encaps: {encaps}, #pkts encrypt: {encaps}, #pkts digest: {encaps}",
              f"    #pkts decaps: {decaps}, #pkts decrypt: {decaps}, #pkts verify: {decaps}",
              "    #pkts compressed: 0, #pkts decompressed: 0",
              "    #pkts not compressed: 0, #pkts compr. failed: 0",
              "    #pkts not decompressed: 0, #pkts decompress failed: 0", "",
              f"     local crypto endpt.: {entry['local-addr']}, remote crypto endpt.: {entry['peer']}",
              f"     current outbound spi: 0x{outbound:X}({outbound})", ""]
    for direction, key in (("inbound", "spi-in"), ("outbound", "spi-out")):
        lines.append(f"     {direction} esp sas:")
        for sa in flow["sas"]:
            lines += [f"      spi: 0x{sa[key]:X}({sa[key]})",
                      f"        transform: {sa['transform']} ,",
                      f"        in use settings ={{{sa['mode']}, }}",
                      f"        conn id: {sa['conn-id']}, crypto map: {entry['map']}",
                      f"        sa timing: remaining key lifetime (sec): ({sa['lifetime']})",
                      "        Status: ACTIVE"]
        lines += ["", f"     {direction} ah sas:", "", f"     {direction} pcp sas:", ""]
    return lines


def cryptoMapEntries(connections: Sequence[Connection]) -> list[dict[str, Any]]:
    """
    @return: the facts of C{show crypto map}, per entry.
    """
    return [{
        "map": c.mapName, "sequence": c.sequence, "peer": c.remoteAddress, "access-list": c.accessList,
        "access-list-lines": list(c.accessListLines), "transform-sets": [c.transformSet],
        "lifetime": c.saLifetime, "interface": c.interface, "ike-version": c.ikeVersion,
    } for c in connections]


def renderCryptoMap(connections: Sequence[Connection]) -> str:
    """
    @return: C{show crypto map} in IOS's layout.
    """
    lines: list[str] = []
    for entry in cryptoMapEntries(connections):
        lines += ["", f'Crypto Map "{entry["map"]}" {entry["sequence"]} ipsec-isakmp',
                  f"        Peer = {entry['peer']}",
                  f"        Extended IP access list {entry['access-list']}"]
        lines += [f"            {line}" for line in entry["access-list-lines"]]
        lines += [f"        Current peer: {entry['peer']}",
                  f"        Security association lifetime: {entry['lifetime']} seconds",
                  "        PFS (Y/N): N",
                  "        Transform sets={ "]
        lines += [f"                {name}, " for name in entry["transform-sets"]]
        lines += ["        }", f"        Interfaces using crypto map {entry['map']}:",
                  f"                {entry['interface']}"]
    return "\n".join(lines)


def _status(service: IpsecService) -> list[str]:
    lines = []
    if service.problem is not None:
        lines.append(f"% IPsec down: {service.problem} (retrying every {service.retryInterval:g} s)")
    for name in sorted(service.tunnelsDown):
        c = service.connections[name]
        lines.append(f"% crypto map {c.mapName} {c.sequence}: no IKE SA with {c.remoteAddress} (tunnel down)")
    for name, reason in sorted(service.failures.items()):
        c = service.connections.get(name)
        if c is not None:
            lines.append(f"% crypto map {c.mapName} {c.sequence}: {reason}")
    for name, reason in sorted(service.errors.items()):
        c = service.connections.get(name)
        if c is not None:
            lines.append(f"% crypto map {c.mapName} {c.sequence}: charon refused it: {reason}")
    return lines


def _statusData(service: IpsecService) -> dict[str, Any]:
    return {"charon": {"socket": service.socketPath, "reachable": service.problem is None,
                       "problem": service.problem},
            "tunnels-down": sorted(service.tunnelsDown), "errors": dict(sorted(service.errors.items())),
            "failures": {name: reason for name, reason in sorted(service.failures.items())
                         if name in service.connections}}


async def _sas(service: IpsecService) -> list[dict[str, Any]]:
    try:
        return await service.listSas()
    except ViciError:
        return []


def _withStatus(service: IpsecService, text: str) -> str:
    status = _status(service)
    return "\n".join(status + [text]) if status else text


def registerIpsecCommands(table: CommandTable, service: IpsecService) -> None:
    """
    Add the crypto commands for C{service} to C{table}.
    """

    async def isakmpSa() -> CommandResult:
        sas = await _sas(service)
        return CommandResult(_withStatus(service, renderIsakmpSa(sas)),
                             {**_statusData(service), "sas": isakmpRows(sas)})

    async def ipsecSa() -> CommandResult:
        sas = await _sas(service)
        connections = list(service.connections.values())
        return CommandResult(_withStatus(service, renderIpsecSa(connections, sas)),
                             {**_statusData(service), "entries": ipsecEntries(connections, sas)})

    def cryptoMap() -> CommandResult:
        connections = list(service.connections.values())
        return CommandResult(_withStatus(service, renderCryptoMap(connections)),
                             {**_statusData(service), "entries": cryptoMapEntries(connections)})

    async def clearSa() -> CommandResult:
        try:
            await service.clear()
        except ViciError as e:
            return CommandResult(f"% IPsec down: {e}", {"cleared": False, "reason": str(e)}, exitCode=1)
        return CommandResult("", {"cleared": True})

    table.add("show crypto isakmp sa", lambda: Deferred.fromCoroutine(isakmpSa()), help="IKE SAs with charon")
    table.add("show crypto ipsec sa", lambda: Deferred.fromCoroutine(ipsecSa()),
              help="IPsec SAs per crypto map entry")
    table.add("show crypto map", cryptoMap, help="the crypto map entries")
    table.add("clear crypto sa", lambda: Deferred.fromCoroutine(clearSa()),
              help="clear srst's IPsec SAs and negotiate them again")
    table.add("debug crypto isakmp", lambda: DebugRequest(DEBUG_BANNER, (DEBUG_NAMESPACE,)),
              help="stream charon's IKE log", streaming=True)
