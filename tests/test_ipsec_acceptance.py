"""
Issue 18's acceptance: the seed's crypto lines (with a modern transform set)
written as router.yaml bring up the tunnel through srst itself.

The router in namespace A is C{twistd -n srst} whose C{crypto:} section is
the seed's (C{crypto isakmp policy 1}, C{crypto isakmp key cisco123 address
...}, C{crypto ipsec transform-set rtpset esp-aes 256 esp-sha256-hmac},
C{crypto map rtp 1} with C{match address 116}) with the seed's addresses
mapped to the veth's, and C{crypto.vici-socket} charon A's socket: srst's
L{IpsecService} loads and initiates it, nothing else touches charon A.
CallManager's charon (B) is loaded with the matching connection through the
C{vici} package, as L{tests.ipsechelpers} does.  srst-cli runs in the test's
own namespace: the admin socket is a filesystem path.

srst installs a trap policy for each entry (C{start_action = trap}) and
initiates it as well: as on IOS, traffic the crypto access list matches is
dropped while there is no SA (and starts IKE), never sent in clear.  With a
C{crypto:} section srst starts the MGCP gateway only once its first load
into charon has ended, so the failure tests capture on the veth from before
the router starts and check that none of the gateway's RSIPs, the first
included, crossed it in clear while the tunnel was down.  The trap is the
CHILD_SA C{rtp-1{1}} in charon; the negotiated one is C{rtp-1{2}}.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from tests.ipsechelpers import (
    CALLMANAGER_ADDRESS,
    CALLMANAGER_INTERFACE,
    GATEWAY,
    ROUTER_ADDRESS,
    Capture,
    Charon,
    Namespaces,
    Watched,
    capture,
    loadTunnel,
    makeNamespaces,
    requireIpsec,
    spawnIn,
    startCharon,
)
from tests.routerhelpers import ROOT, bounded, routerYaml, stateDirectory

PYTHON = [sys.executable, "-c"]

CRYPTO = GATEWAY + f"""access-lists:
  116: [{{action: permit, protocol: ip, source: {ROUTER_ADDRESS}, destination: {CALLMANAGER_ADDRESS}}}]
crypto:
  vici-socket: {{socket}}
  isakmp:
    policies:
      1: {{authentication: pre-share, encryption: aes 256, hash: sha256, group: 14, lifetime: 28800}}
    keys:
      - {{address: {CALLMANAGER_ADDRESS}, key: cisco123}}
  transform-sets:
    rtpset: {{transforms: [esp-aes 256, esp-sha256-hmac]}}
  maps:
    rtp:
      interface-address: {ROUTER_ADDRESS}
      entries:
        - {{sequence: 1, peer: {CALLMANAGER_ADDRESS}, transform-set: rtpset, match-address: 116}}
"""
"""The seed's MGCP gateway and crypto lines, 10.1.1.22 as the router's veth
address and 10.1.1.13 as CallManager's; C{{socket}} is charon A's."""


SENTINEL = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.sendto(b"sentinel", (sys.argv[2], 9))
"""
"""Sends one UDP datagram from C{argv[1]} to C{argv[2]} port 9 (discard)."""


class Router:
    """
    srst running in the router's namespace, and srst-cli on its admin socket.
    """

    def __init__(self, process: Watched, socket: str) -> None:
        self.process = process
        self.socket = socket

    async def cli(self, *words: str) -> tuple[int, str]:
        """
        @return: C{srst-cli --socket ... words}'s exit code and output.
        """
        out, err, code = await getProcessOutputAndValue(
            sys.executable, ["-c", "from srst.tools.cli import main; main()", "--socket", self.socket, *words],
            env=dict(os.environ, PYTHONPATH=ROOT))
        return code, (out + err).decode("utf-8", "replace")

    async def show(self, *words: str) -> str:
        code, text = await self.cli("show", *words)
        if code != 0:
            raise AssertionError(f"srst-cli show {' '.join(words)} exited {code}: {text}")
        return text

    async def data(self, *words: str) -> Any:
        code, text = await self.cli("--json", "show", *words)
        if code != 0:
            raise AssertionError(f"srst-cli --json show {' '.join(words)} exited {code}: {text}")
        return json.loads(text)


async def startRouter(testCase: TestCase, pair: Namespaces, charon: Charon) -> Router:
    """
    Start srst in the router's namespace with L{CRYPTO} on C{charon}'s VICI
    socket; it is stopped at cleanup.

    @return: the L{Router} once it is ready.
    """
    stateDir = stateDirectory(testCase)
    configPath = os.path.join(stateDir, "router.yaml")
    with open(configPath, "w") as f:
        f.write(routerYaml(stateDir, extra=CRYPTO.replace("{socket}", charon.socketPath)))
    process = spawnIn(testCase, pair.router,
                      PYTHON + ["from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
                                "srst", "--config", configPath],
                      "srst router", env={"PYTHONPATH": ROOT}, path=stateDir)
    await process.waitFor(b" ready: ")
    return Router(process, os.path.join(stateDir, "srst.sock"))


def isakmpRow(text: str) -> list[str]:
    """
    @return: the IPv4 rows of C{show crypto isakmp sa}, split.
    """
    lines = text.splitlines()
    start = lines.index("dst             src             state          conn-id status") + 1
    return [line.split() for line in lines[start:lines.index("IPv6 Crypto ISAKMP SA")] if line]


def counters(text: str) -> tuple[int, int]:
    """
    @return: C{#pkts encaps} and C{#pkts decaps} of C{show crypto ipsec sa}.
    """
    encaps = re.search(r"#pkts encaps: (\d+),", text)
    decaps = re.search(r"#pkts decaps: (\d+),", text)
    assert encaps and decaps, text
    return int(encaps.group(1)), int(decaps.group(1))


class AcceptanceTests(TestCase):
    """
    The seed's crypto map through srst, up and failing.
    """

    def setUp(self) -> None:
        requireIpsec()

    async def assertNothingInClear(self, pair: Namespaces, tap: Capture) -> None:
        """
        Send a sentinel datagram from CallManager's side to the router (not
        protected there: charon B has no trap), wait for C{tap} to see it,
        and check that nothing of MGCP crossed the veth in clear before it.
        """
        sender = spawnIn(self, pair.callManager, PYTHON + [SENTINEL, CALLMANAGER_ADDRESS, ROUTER_ADDRESS],
                         "sentinel")
        await sender.ended
        await tap.process.waitFor(f"{CALLMANAGER_ADDRESS} {ROUTER_ADDRESS} UDP".encode())
        wire = await tap.stop()
        for clear in (b"RSIP", b"MGCP 0.1", b"branch-router"):
            self.assertFalse(clear in wire, f"{clear!r} in clear on CallManager's veth")
        self.assertEqual(await tap.decode("-Y", "mgcp || udp.port == 2427 || udp.port == 2727"), [])

    async def charons(self, psk: str = "cisco123", esp: str = "aes256-sha256",
                      callManager: bool = True) -> tuple[Namespaces, Charon, Charon | None]:
        """
        The namespaces, charon A (nothing loaded: srst does that) and,
        unless not C{callManager}, charon B loaded with CallManager's side
        of the tunnel with C{psk} and C{esp}.
        """
        pair = await makeNamespaces(self)
        router = await startCharon(self, pair.router)
        if not callManager:
            return pair, router, None
        ccm = await startCharon(self, pair.callManager)
        await loadTunnel(ccm, CALLMANAGER_ADDRESS, ROUTER_ADDRESS, psk=psk, esp=esp)
        return pair, router, ccm

    @bounded(timeout=15)
    async def test_seedTunnel(self) -> None:
        """
        srst loads the seed's crypto map into charon A and initiates it; the
        IKE SA is QM_IDLE/ACTIVE, C{show crypto ipsec sa} gives the SPIs,
        transform and counters that grow while the gateway registers with
        C{srst-ccm mgcp agent} across the tunnel, and the veth carries only
        ESP, with those SPIs.
        """
        pair, charon, _ = await self.charons()
        router = await startRouter(self, pair, charon)
        await charon.process.waitFor(b"CHILD_SA rtp-1{2} established")
        tap = await capture(self, pair.callManager, CALLMANAGER_INTERFACE)

        [row] = isakmpRow(await router.show("crypto", "isakmp", "sa"))
        self.assertEqual(row, [CALLMANAGER_ADDRESS, ROUTER_ADDRESS, "QM_IDLE", "1", "ACTIVE"])
        before = await router.show("crypto", "ipsec", "sa")
        self.assertIn(f"interface: {ROUTER_ADDRESS}\n    Crypto map tag: rtp, local addr {ROUTER_ADDRESS}\n",
                      before)
        self.assertIn(f"   local  ident (addr/mask/prot/port): ({ROUTER_ADDRESS}/255.255.255.255/0/0)\n"
                      f"   remote ident (addr/mask/prot/port): ({CALLMANAGER_ADDRESS}/255.255.255.255/0/0)\n"
                      f"   current_peer {CALLMANAGER_ADDRESS} port 4500\n", before)
        self.assertIn("        transform: esp-aes 256 esp-sha256-hmac ,", before)
        self.assertIn("        Status: ACTIVE", before)
        [sa] = (await router.data("crypto", "ipsec", "sa"))["entries"][0]["sas"]
        self.assertIn(f"     current outbound spi: 0x{sa['spi-out']:X}({sa['spi-out']})", before)
        self.assertIn(f"      spi: 0x{sa['spi-in']:X}({sa['spi-in']})", before)
        cryptoMap = await router.show("crypto", "map")
        self.assertIn(f'Crypto Map "rtp" 1 ipsec-isakmp\n        Peer = {CALLMANAGER_ADDRESS}\n'
                      "        Extended IP access list 116\n", cryptoMap)
        self.assertIn("                rtpset, ", cryptoMap)
        self.assertFalse(before.startswith("%") or cryptoMap.startswith("%"), before + cryptoMap)

        agent = spawnIn(self, pair.callManager,
                        PYTHON + ["from srst.tools.ccm import main; main()", "mgcp", "agent",
                                  "--listen", f"{CALLMANAGER_ADDRESS}:2727", "--domain", "branch-router",
                                  "--line", "81234=1/0/0"],
                        "srst-ccm mgcp agent", env={"PYTHONPATH": ROOT})
        await agent.waitFor(b"registered 81234 1 of 1 endpoints armed")
        after = await router.show("crypto", "ipsec", "sa")
        (encaps0, decaps0), (encaps1, decaps1) = counters(before), counters(after)
        self.assertGreaterEqual((encaps1 - encaps0, decaps1 - decaps0), (2, 2), before + after)

        await tap.process.waitFor(f"{CALLMANAGER_ADDRESS} {ROUTER_ADDRESS} ESP".encode())
        wire = await tap.stop()
        for clear in (b"RSIP", b"AUEP", b"RQNT", b"MGCP 0.1", b"branch-router"):
            self.assertFalse(clear in wire, f"{clear!r} in clear on CallManager's veth")
        self.assertEqual(await tap.decode("-Y", "mgcp || udp.port == 2427 || udp.port == 2727"), [])
        spis = set(await tap.decode("-Y", "esp", "-T", "fields", "-e", "ip.src", "-e", "esp.spi"))
        self.assertEqual(spis, {f"{ROUTER_ADDRESS}\t0x{sa['spi-out']:08x}",
                                f"{CALLMANAGER_ADDRESS}\t0x{sa['spi-in']:08x}"})

    async def failing(self, router: Router, marker: str) -> str:
        """
        Wait for srst's warning with C{marker}; check that it is logged
        once, that the crypto show commands and C{--json} give it and that
        the rest of the router answers.

        @return: C{show crypto isakmp sa}.
        """
        await router.process.waitFor(marker.encode())
        reason = re.search(r"IPsec: crypto map rtp 1 \(peer [\d.]+\): (.*)", router.process.text())
        assert reason is not None
        line = f"% crypto map rtp 1: {reason.group(1)}"
        isakmp = await router.show("crypto", "isakmp", "sa")
        self.assertIn(line, isakmp.splitlines())
        self.assertIn(line, (await router.show("crypto", "map")).splitlines())
        self.assertEqual((await router.data("crypto", "isakmp", "sa"))["failures"], {"rtp-1": reason.group(1)})
        self.assertEqual((await router.cli("show", "ephone"))[0], 0)
        self.assertEqual((await router.cli("show", "ccm-manager"))[0], 0)
        self.assertEqual(router.process.text().count(reason.group(1)), 1, router.process.text())
        self.assertFalse(router.process.ended.called)
        return isakmp

    @bounded(timeout=15)
    async def test_wrongPreSharedKey(self) -> None:
        """
        CallManager has another key: main mode message 5 does not decrypt;
        srst says it is probably the key.
        """
        pair, charon, _ = await self.charons(psk="not-cisco123")
        tap = await capture(self, pair.callManager, CALLMANAGER_INTERFACE)
        router = await startRouter(self, pair, charon)
        await self.failing(router, "invalid HASH_V1 payload length, decryption failed? (wrong pre-shared key?)")
        await charon.process.waitFor(b"peer not responding")
        isakmp = await self.failing(router, "(wrong pre-shared key?)")
        self.assertNotIn("peer not responding", isakmp)
        await self.assertNothingInClear(pair, tap)

    @bounded(timeout=15)
    async def test_mismatchedTransformSet(self) -> None:
        """
        CallManager offers only another ESP proposal: the IKE SA is up
        (QM_IDLE) without an IPsec SA, and srst says NO_PROPOSAL_CHOSEN.
        """
        pair, charon, _ = await self.charons(esp="aes128-sha1")
        router = await startRouter(self, pair, charon)
        isakmp = await self.failing(router, "received NO_PROPOSAL_CHOSEN error notify (no transform set or "
                                            "isakmp policy in common with the peer)")
        [row] = isakmpRow(isakmp)
        self.assertEqual(row[2:], ["QM_IDLE", "1", "ACTIVE"])
        self.assertEqual(counters(await router.show("crypto", "ipsec", "sa")), (0, 0))

    @bounded(timeout=15)
    async def test_peerDown(self) -> None:
        """
        No charon on CallManager's side: charon A gives up after its
        retransmits, and srst says the peer is not responding.
        """
        pair, charon, _ = await self.charons(callManager=False)
        tap = await capture(self, pair.callManager, CALLMANAGER_INTERFACE)
        router = await startRouter(self, pair, charon)
        isakmp = await self.failing(router, "establishing IKE_SA failed, peer not responding")
        self.assertEqual(isakmpRow(isakmp), [])
        await self.assertNothingInClear(pair, tap)
