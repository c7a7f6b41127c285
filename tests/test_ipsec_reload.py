"""
A crypto section changed under a running router, between two charons in
two network namespaces (see L{tests.test_ipsec_acceptance}): SIGHUP makes
C{twistd srst} read router.yaml again and charon A is told only the
difference.  An entry added is loaded while the unchanged one keeps its
IKE SA (same unique id); a changed transform set and a second access-list
line reload the entry (charon lists the new line as a second CHILD_SA,
C{rtp-1-2}, with its own trap policy) and its SA is negotiated again with
the new transform; a removed entry is gone from charon, and so is a removed
access-list line's CHILD_SA and trap.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.trial.unittest import TestCase

from tests.ipsechelpers import CALLMANAGER_ADDRESS, ROUTER_ADDRESS, Charon, childEstablished, listSas, loadTunnel
from tests.ipsechelpers import decoded, makeNamespaces
from tests.ipsechelpers import requireIpsec, startCharon
from tests.routerhelpers import bounded
from tests.test_ipsec_acceptance import startRouter

OTHER_PEER = "10.213.0.3"
"""A second peer, on the veth's network, with no charon: its entry never comes up."""

SECOND_HOST = "10.213.0.9"
"""The destination of a second line in the crypto map's access list: its own
CHILD_SA (C{rtp-1-2}), which CallManager's charon has no selector for."""


async def listConns(charon: Charon) -> dict[str, Any]:
    """
    @return: charon's C{list-conns}: connection name to its definition.
    """

    def go(session: Any) -> dict[str, Any]:
        conns: dict[str, Any] = {}
        for conn in session.list_conns():
            conns.update(decoded(conn))
        return conns

    return await charon.call(go)


async def listTraps(charon: Charon) -> dict[str, Any]:
    """
    @return: charon's trap policies (C{list-pols} with C{trap}): name to
        its definition.
    """

    def go(session: Any) -> dict[str, Any]:
        traps: dict[str, Any] = {}
        for policy in session.list_policies({"trap": "yes"}):
            traps.update(decoded(policy))
        return traps

    return await charon.call(go)


class ReloadTests(TestCase):
    def setUp(self) -> None:
        requireIpsec()

    @bounded(timeout=20)
    async def test_sighupAppliesCryptoChanges(self) -> None:
        pair = await makeNamespaces(self)
        charon = await startCharon(self, pair.router)
        ccm = await startCharon(self, pair.callManager)
        # CallManager accepts either AES key size: the router's change is what decides.
        await loadTunnel(ccm, CALLMANAGER_ADDRESS, ROUTER_ADDRESS, esp="aes256-aes128-sha256")
        router = await startRouter(self, pair, charon)
        await charon.process.waitForMatch(childEstablished("rtp-1"))
        path = os.path.join(os.path.dirname(router.socket), "router.yaml")
        with open(path) as f:
            original = f.read()
        self.assertEqual((await listSas(charon))["rtp-1"]["uniqueid"], "1")

        added = original.replace("crypto:\n", f"  117: [{{action: permit, protocol: ip, source: {ROUTER_ADDRESS}, "
                                              f"destination: {OTHER_PEER}}}]\ncrypto:\n", 1)
        added = added.replace(f"      - {{address: {CALLMANAGER_ADDRESS}, key: cisco123}}\n",
                              f"      - {{address: {CALLMANAGER_ADDRESS}, key: cisco123}}\n"
                              f"      - {{address: {OTHER_PEER}, key: other-key}}\n", 1)
        added += (f"        - {{sequence: 2, peer: {OTHER_PEER}, transform-set: rtpset, match-address: 117}}\n")
        self.assertEqual(added.count(OTHER_PEER), 3)
        with open(path, "w") as f:
            f.write(added)
        router.process.signal("HUP")
        await router.process.waitFor(f"reload of {path}: crypto map entries added: rtp 2; unchanged: rtp 1".encode())
        conns = await listConns(charon)
        self.assertEqual(sorted(conns), ["rtp-1", "rtp-2"])
        self.assertEqual(conns["rtp-2"]["remote_addrs"], [OTHER_PEER])
        sas = await listSas(charon)
        self.assertEqual((sas["rtp-1"]["uniqueid"], sas["rtp-1"]["state"]), ("1", "ESTABLISHED"))
        self.assertEqual(sorted(await listTraps(charon)), ["rtp-1/rtp-1", "rtp-2/rtp-2"])

        changed = original.replace("transforms: [esp-aes 256, esp-sha256-hmac]", "transforms: [esp-aes, esp-sha256-hmac]")
        changed = changed.replace(
            f"  116: [{{action: permit, protocol: ip, source: {ROUTER_ADDRESS}, destination: {CALLMANAGER_ADDRESS}}}]",
            f"  116: [{{action: permit, protocol: ip, source: {ROUTER_ADDRESS}, destination: {CALLMANAGER_ADDRESS}}},\n"
            f"        {{action: permit, protocol: ip, source: {ROUTER_ADDRESS}, destination: {SECOND_HOST}}}]")
        self.assertEqual(changed.count(SECOND_HOST), 1)
        with open(path, "w") as f:
            f.write(changed)
        mark = len(charon.process.output)
        router.process.signal("HUP")
        await router.process.waitFor(f"reload of {path}: crypto map entries changed: rtp 1; removed: rtp 2".encode())
        conns = await listConns(charon)
        self.assertEqual(sorted(conns), ["rtp-1"])
        children = conns["rtp-1"]["children"]
        self.assertEqual({name: (child["local-ts"], child["remote-ts"]) for name, child in children.items()}, {
            "rtp-1": ([f"{ROUTER_ADDRESS}/32"], [f"{CALLMANAGER_ADDRESS}/32"]),
            "rtp-1-2": ([f"{ROUTER_ADDRESS}/32"], [f"{SECOND_HOST}/32"])})
        traps = await listTraps(charon)
        self.assertEqual({name: trap["remote-ts"] for name, trap in traps.items()}, {
            "rtp-1/rtp-1": [f"{CALLMANAGER_ADDRESS}/32"], "rtp-1/rtp-1-2": [f"{SECOND_HOST}/32"]})
        await charon.process.waitForMatch(childEstablished("rtp-1"), mark)
        sas = await listSas(charon)
        self.assertNotEqual(sas["rtp-1"]["uniqueid"], "1")
        [child] = [child for child in sas["rtp-1"]["child-sas"].values() if child["name"] == "rtp-1"]
        self.assertEqual((child["encr-alg"], child["encr-keysize"], child["state"]), ("AES_CBC", "128", "INSTALLED"))
        shown = await router.show("crypto", "ipsec", "sa")
        self.assertIn("        transform: esp-aes esp-sha256-hmac ,", shown)

        with open(path, "w") as f:
            f.write(original.replace("transforms: [esp-aes 256, esp-sha256-hmac]",
                                     "transforms: [esp-aes, esp-sha256-hmac]"))
        router.process.signal("HUP")
        await router.process.waitFor(f"reload of {path}: crypto map entries changed: rtp 1\n".encode())
        self.assertEqual(sorted((await listConns(charon))["rtp-1"]["children"]), ["rtp-1"])
        self.assertEqual(sorted(await listTraps(charon)), ["rtp-1/rtp-1"])
