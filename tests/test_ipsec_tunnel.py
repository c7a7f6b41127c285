"""
Two real charons in two network namespaces bring up the seed's tunnel
(IKEv1 main mode, PSK, aes256-sha256-modp2048, ESP aes256-sha256 between
the two hosts) and carry traffic only as ESP; a wrong PSK, a mismatched
transform set and a peer that is down each fail with the reason charon
gives (issue 18 item 4).  See L{tests.ipsechelpers} for the set-up and what
it takes on a kernel without ESP.

These tests load the connections with the C{vici} package directly, not
with srst's code: they prove the harness and strongSwan's behaviour that
srst's VICI service and show commands build on.
"""

from __future__ import annotations

import os
import sys
import time

from twisted.trial.unittest import TestCase

from tests.ipsechelpers import (
    CALLMANAGER_ADDRESS,
    CALLMANAGER_INTERFACE,
    GATEWAY,
    ROUTER_ADDRESS,
    capture,
    initiate,
    listSas,
    loadTunnel,
    makeNamespaces,
    requireIpsec,
    spawnIn,
    startCharons,
    udpEcho,
)
from tests.routerhelpers import ROOT, bounded, routerYaml, stateDirectory

PAYLOAD = "RSIP restart-method graceful plaintext-marker-7f3a"


class TunnelTests(TestCase):
    """
    The tunnel between the router's namespace and CallManager's.
    """

    def setUp(self) -> None:
        requireIpsec()

    async def tunnel(self, psk: str = "cisco123", esp: str = "aes256-sha256"):
        """
        Namespaces and a charon in each, the router's loaded with the seed's
        tunnel and CallManager's with C{psk} and C{esp}.
        """
        pair = await makeNamespaces(self)
        router, callManager = await startCharons(self, pair)
        await loadTunnel(router, ROUTER_ADDRESS, CALLMANAGER_ADDRESS)
        await loadTunnel(callManager, CALLMANAGER_ADDRESS, ROUTER_ADDRESS, psk=psk, esp=esp)
        return pair, router, callManager

    @bounded(timeout=20)
    async def test_established(self) -> None:
        """
        Initiated from the router, the IKE SA is ESTABLISHED and the CHILD
        SA INSTALLED on both sides; a UDP datagram from the router's
        namespace reaches CallManager's and is echoed; on CallManager's veth
        it travels as ESP (in UDP 4500: libipsec) with the SA's SPI, and its
        plaintext never appears there; the SA's counters count it.
        """
        pair, router, callManager = await self.tunnel()
        ok, lines = await initiate(router)
        self.assertTrue(ok, "\n".join(lines))
        self.assertIn("IKE initiating Main Mode IKE_SA cm[1] to 10.213.0.2", lines)
        self.assertIn("CFG selected proposal: ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ", lines)

        for charon, local, remote in ((router, ROUTER_ADDRESS, CALLMANAGER_ADDRESS),
                                      (callManager, CALLMANAGER_ADDRESS, ROUTER_ADDRESS)):
            sa = (await listSas(charon))["cm"]
            self.assertEqual((sa["state"], sa["version"], sa["local-host"], sa["remote-host"]),
                             ("ESTABLISHED", "1", local, remote))
            self.assertEqual((sa["encr-alg"], sa["encr-keysize"], sa["integ-alg"], sa["dh-group"]),
                             ("AES_CBC", "256", "HMAC_SHA2_256_128", "MODP_2048"))
            [child] = sa["child-sas"].values()
            self.assertEqual((child["state"], child["mode"], child["protocol"], child["encap"],
                              child["local-ts"], child["remote-ts"]),
                             ("INSTALLED", "TUNNEL", "ESP", "yes", [local + "/32"], [remote + "/32"]))

        tap = await capture(self, pair.callManager, CALLMANAGER_INTERFACE)
        server, client = await udpEcho(self, pair, PAYLOAD)
        self.assertEqual((server, client), (f"ready {server.split()[1]}\ngot {PAYLOAD} from {ROUTER_ADDRESS}\n",
                                            f"reply {PAYLOAD} from {CALLMANAGER_ADDRESS}\n"))
        await tap.process.waitFor(f"{CALLMANAGER_ADDRESS} {ROUTER_ADDRESS} ".encode())
        wire = await tap.stop()
        self.assertFalse(PAYLOAD.encode() in wire, "the payload travelled in clear on CallManager's veth")
        esp = await tap.decode("-Y", "esp", "-T", "fields", "-e", "ip.src", "-e", "udp.dstport", "-e", "esp.spi")
        [child] = (await listSas(router))["cm"]["child-sas"].values()
        self.assertEqual(esp, [f"{ROUTER_ADDRESS}\t4500\t0x{child['spi-out']}",
                               f"{CALLMANAGER_ADDRESS}\t4500\t0x{child['spi-in']}"])
        self.assertEqual((child["packets-out"], child["packets-in"]), ("1", "1"))
        self.assertEqual(await tap.decode("-Y", "udp.port != 500 && udp.port != 4500"), [])

    @bounded(timeout=20)
    async def test_wrongPreSharedKey(self) -> None:
        """
        With different pre-shared keys, IKEv1 main mode message 5 cannot be
        decrypted: CallManager's charon says so and answers PAYLOAD-MALFORMED,
        the router's says so too, retransmits and gives up; no SA is left,
        and both charons keep running.
        """
        pair, router, callManager = await self.tunnel(psk="not-cisco123")
        ok, lines = await initiate(router)
        self.assertFalse(ok)
        self.assertIn("ENC invalid HASH_V1 payload length, decryption failed?", lines)
        self.assertEqual(lines[-3:], ["IKE giving up after 2 retransmits",
                                      "IKE establishing IKE_SA failed, peer not responding",
                                      "Command failed: establishing CHILD_SA 'cm' failed"])
        await callManager.process.waitFor(b"[ENC] invalid ID_V1 payload length, decryption failed?")
        await callManager.process.waitFor(b"[ENC] generating INFORMATIONAL_V1 request")
        self.assertIn("N(PLD_MAL)", callManager.process.text())
        self.assertEqual(await listSas(router), {})
        self.assertFalse(router.process.ended.called or callManager.process.ended.called)

    @bounded(timeout=20)
    async def test_mismatchedTransformSet(self) -> None:
        """
        With ESP proposals that do not meet, quick mode fails: CallManager's
        charon finds no matching proposal and sends NO_PROPOSAL_CHOSEN, the
        router's reports it; the IKE SA stays up without a CHILD SA.
        """
        pair, router, callManager = await self.tunnel(esp="aes128-sha1")
        ok, lines = await initiate(router)
        self.assertFalse(ok)
        self.assertEqual(lines[-2:], ["IKE received NO_PROPOSAL_CHOSEN error notify",
                                      "Command failed: establishing CHILD_SA 'cm' failed"])
        await callManager.process.waitFor(b"[IKE] no matching proposal found, sending NO_PROPOSAL_CHOSEN")
        self.assertIn("[CFG] configured proposals: ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ",
                      callManager.process.text())
        sa = (await listSas(router))["cm"]
        self.assertEqual((sa["state"], sa["child-sas"]), ("ESTABLISHED", {}))

    @bounded(timeout=20)
    async def test_peerDown(self) -> None:
        """
        With CallManager's charon stopped, the router's retransmits its
        first main mode message and gives up after the configured retries,
        in about 2 s; it keeps running and no SA is left.
        """
        pair, router, callManager = await self.tunnel()
        await callManager.stop()
        started = time.monotonic()
        ok, lines = await initiate(router)
        took = time.monotonic() - started
        self.assertFalse(ok)
        self.assertIn("IKE sending retransmit 2 of request message ID 0, seq 1", lines)
        self.assertEqual(lines[-3:], ["IKE giving up after 2 retransmits",
                                      "IKE establishing IKE_SA failed, peer not responding",
                                      "Command failed: establishing CHILD_SA 'cm' failed"])
        self.assertLess(took, 5)
        self.assertEqual(await listSas(router), {})
        self.assertFalse(router.process.ended.called)




class MgcpThroughTunnelTests(TestCase):
    """
    srst's MGCP gateway in the router's namespace and C{srst-ccm mgcp agent}
    in CallManager's talk through the tunnel: on the veth there is only ESP.
    """

    def setUp(self) -> None:
        requireIpsec()

    @bounded(timeout=30)
    async def test_mgcpEncrypted(self) -> None:
        """
        With the tunnel up, the gateway (C{twistd -n srst}, C{mgcp.bind} on
        the router's veth address, C{call-agent} CallManager's) restarts
        towards the call agent, which audits and arms its line; every one of
        those datagrams crosses the veth as ESP: no MGCP in clear, no
        command verb in the capture, and the SA counts the packets.
        """
        pair = await makeNamespaces(self)
        router, callManager = await startCharons(self, pair)
        await loadTunnel(router, ROUTER_ADDRESS, CALLMANAGER_ADDRESS)
        await loadTunnel(callManager, CALLMANAGER_ADDRESS, ROUTER_ADDRESS)
        ok, lines = await initiate(router)
        self.assertTrue(ok, "\n".join(lines))
        tap = await capture(self, pair.callManager, CALLMANAGER_INTERFACE)

        python = [sys.executable, "-c"]
        agent = spawnIn(self, pair.callManager,
                        python + ["from srst.tools.ccm import main; main()", "mgcp", "agent",
                                  "--listen", f"{CALLMANAGER_ADDRESS}:2727", "--domain", "branch-router",
                                  "--line", "81234=1/0/0"],
                        "srst-ccm mgcp agent", env={"PYTHONPATH": ROOT})
        await agent.waitFor(f"listening on {CALLMANAGER_ADDRESS}:2727".encode())

        stateDir = stateDirectory(self)
        configPath = os.path.join(stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(stateDir, extra=GATEWAY))
        gateway = spawnIn(self, pair.router,
                          python + ["from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
                                    "srst", "--config", configPath],
                          "srst router", env={"PYTHONPATH": ROOT}, path=stateDir)
        await gateway.waitFor(b" ready: ")
        await agent.waitFor(b"registered 81234 1 of 1 endpoints armed")
        self.assertIn("restart 81234 *@branch-router", agent.text())

        await tap.process.waitFor(f"{CALLMANAGER_ADDRESS} {ROUTER_ADDRESS} ESP".encode())
        wire = await tap.stop()
        for clear in (b"RSIP", b"AUEP", b"RQNT", b"MGCP 0.1", b"branch-router"):
            self.assertFalse(clear in wire, f"{clear!r} in clear on CallManager's veth")
        self.assertEqual(await tap.decode("-Y", "mgcp || udp.port == 2427 || udp.port == 2727"), [])
        esp = await tap.decode("-Y", "esp", "-T", "fields", "-e", "ip.src")
        self.assertEqual(set(esp), {ROUTER_ADDRESS, CALLMANAGER_ADDRESS})
        [child] = (await listSas(router))["cm"]["child-sas"].values()
        self.assertGreaterEqual(int(child["packets-out"]), 2)
        self.assertGreaterEqual(int(child["packets-in"]), 2)
