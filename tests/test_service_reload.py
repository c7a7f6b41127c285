"""
Tests for the configuration reload of L{srst.service}: C{configure reload}
and SIGHUP read router.yaml again, apply its C{crypto:} section and name the
sections that wait for a restart; a file that no longer loads is refused
and the running configuration kept.

The routers here have no charon behind their VICI socket (the IPsec service
says so and retries on the reactor, cancelled at stop): what a reload hands
to charon is seen in the service's connections; the namespace test
(L{tests.test_ipsec_reload}) sees it in charon.
"""

from __future__ import annotations

import os
import signal
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from srst.admin.commands import CommandResult
from srst.config import load
from srst.ipsec.plan import connectionsFor
from srst.service import RouterService, utcNow
from tests.routerhelpers import RouterOutput, bounded, runCommand, stateDirectory, synchronously

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ROUTER = """\
hostname: {hostname}
state-dir: {stateDir}
admin:
  socket: {stateDir}/srst.sock
"""

CRYPTO = """\
access-lists:
  116:
    - {{action: permit, protocol: ip, source: 10.1.1.22, destination: 10.1.1.13}}
{extraAcl}crypto:
  vici-socket: {stateDir}/charon.vici
  isakmp:
    policies:
      1: {{authentication: pre-share, encryption: aes 256, hash: sha256, group: 14, lifetime: 28800}}
    keys:
      - {{address: 10.1.1.13, key: cisco123}}
      - {{address: 10.1.1.14, key: cisco456}}
  transform-sets:
    rtpset: {{transforms: [{transforms}]}}
  maps:
    rtp:
      interface-address: 10.1.1.22
      entries:
        - {{sequence: 1, peer: 10.1.1.13, transform-set: rtpset, match-address: 116}}
{extraEntry}"""

SECOND_ACL_LINE = "    - {action: permit, protocol: udp, source: 10.1.1.22, destination: 10.1.1.13, port: 2427}\n"
SECOND_ENTRY = "        - {sequence: 2, peer: 10.1.1.14, transform-set: rtpset, match-address: 116}\n"


def routerYaml(stateDir: str, hostname: str = "branch-router", crypto: bool = True, extraAcl: str = "",
               extraEntry: str = "", transforms: str = "esp-aes 256, esp-sha256-hmac") -> str:
    text = ROUTER.format(hostname=hostname, stateDir=stateDir)
    if crypto:
        text += CRYPTO.format(stateDir=stateDir, extraAcl=extraAcl, extraEntry=extraEntry, transforms=transforms)
    return text


class ReloadTests(TestCase):
    """
    C{configure reload} on a running L{RouterService}.
    """

    def setUp(self) -> None:
        self.stateDir = stateDirectory(self)
        self.path = os.path.join(self.stateDir, "router.yaml")
        self.logged: list[str] = []

        def observe(event: LogEvent) -> None:
            if event.get("log_namespace", "").startswith("srst.service"):
                self.logged.append(formatEvent(event))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)

    def write(self, text: str) -> None:
        with open(self.path, "w") as f:
            f.write(text)

    def start(self, text: str) -> RouterService:
        self.write(text)
        router = RouterService(load(self.path), reactor, now=utcNow, runInThread=synchronously,
                               callFromThread=reactor.callFromThread)
        router.startService()
        self.addCleanup(router.stopService)
        return router

    def reload(self, router: RouterService) -> Deferred[CommandResult]:
        return runCommand(router, "configure", "reload")

    def reloadLines(self) -> list[str]:
        return [line for line in self.logged if line.startswith(f"reload of {self.path}")]

    async def test_changedAccessList(self) -> None:
        """
        A second line in the crypto map's access list: the entry goes to
        the IPsec service with both traffic selectors (as
        L{connectionsFor} resolves the new file), and the command and the
        log say it changed.
        """
        router = self.start(routerYaml(self.stateDir))
        ipsec = router.ipsec
        self.write(routerYaml(self.stateDir, extraAcl=SECOND_ACL_LINE))
        result = await self.reload(router)
        self.assertEqual((result.exitCode, result.text), (0, "crypto map entries changed: rtp 1"))
        self.assertIs(router.ipsec, ipsec)
        new = load(self.path)
        assert new.crypto is not None and ipsec is not None
        self.assertEqual(ipsec.connections, {c.name: c for c in connectionsFor(new.crypto, new.accessLists)})
        self.assertEqual(ipsec.connections["rtp-1"].remoteTs, ("10.1.1.13/32", "10.1.1.13/32[udp/2427]"))
        self.assertEqual(router.config.accessLists, new.accessLists)
        self.assertEqual(self.reloadLines(), [f"reload of {self.path}: crypto map entries changed: rtp 1"])

    async def test_addedAndUnchanged(self) -> None:
        """
        A second map entry and a changed transform set: C{rtp 2} added,
        C{rtp 1} changed; the same file again changes nothing.
        """
        router = self.start(routerYaml(self.stateDir))
        self.write(routerYaml(self.stateDir, extraEntry=SECOND_ENTRY, transforms="esp-aes, esp-sha256-hmac"))
        result = await self.reload(router)
        self.assertEqual(result.text, "crypto map entries added: rtp 2; changed: rtp 1")
        assert router.ipsec is not None
        self.assertEqual(router.ipsec.connections["rtp-1"].espProposals, ("aes128-sha256",))
        self.assertEqual(router.ipsec.connections["rtp-2"].remoteAddress, "10.1.1.14")
        result = await self.reload(router)
        self.assertEqual(result.text, "no changes to apply")
        self.write(routerYaml(self.stateDir, transforms="esp-aes, esp-sha256-hmac"))
        result = await self.reload(router)
        self.assertEqual(result.text, "crypto map entries removed: rtp 2; unchanged: rtp 1")
        self.assertEqual(sorted(router.ipsec.connections), ["rtp-1"])

    async def test_otherSectionsAtRestart(self) -> None:
        """
        A changed hostname is not applied: one line names it; the crypto
        change in the same file is applied.
        """
        router = self.start(routerYaml(self.stateDir))
        self.write(routerYaml(self.stateDir, hostname="other-router", extraAcl=SECOND_ACL_LINE))
        result = await self.reload(router)
        self.assertEqual(result.text.splitlines(), ["crypto map entries changed: rtp 1",
                                                    "changes to hostname take effect at the next restart"])
        self.assertEqual(router.config.hostname, "branch-router")
        self.assertIn(f"reload of {self.path}: changes to hostname take effect at the next restart",
                      self.reloadLines())

    async def test_brokenFileKept(self) -> None:
        """
        A file that no longer loads: every problem printed (exit 1) and
        logged, and the running configuration (and IPsec's entries) kept.
        """
        router = self.start(routerYaml(self.stateDir))
        assert router.ipsec is not None
        before, config = dict(router.ipsec.connections), router.config
        self.write(routerYaml(self.stateDir, hostname="bad_name!", transforms="esp-des, esp-md5-hmac"))
        result = await self.reload(router)
        self.assertEqual(result.exitCode, 1)
        problems = result.text.splitlines()
        self.assertEqual(len(problems), 4, result.text)
        self.assertTrue(problems[0].startswith(f"% {self.path}: hostname: 'bad_name!' is not allowed"), problems)
        self.assertIn("esp-des", result.text)
        self.assertIn("esp-md5-hmac", result.text)
        self.assertEqual(problems[-1], "% the running configuration is kept")
        self.assertEqual(self.reloadLines(), [f"reload of {self.path} refused: {line[len(self.path) + 4:]}"
                                              for line in problems[:-1]]
                         + [f"reload of {self.path} refused: the running configuration is kept"])
        self.assertIs(router.config, config)
        self.assertEqual(router.ipsec.connections, before)

    async def test_cryptoAddedAndRemoved(self) -> None:
        """
        A crypto section added starts IPsec and its commands; removed, it
        stops it and the commands are gone.
        """
        router = self.start(routerYaml(self.stateDir, crypto=False))
        self.assertIsNone(router.ipsec)
        self.write(routerYaml(self.stateDir))
        result = await self.reload(router)
        self.assertEqual(result.text, f"crypto: IPsec started with charon at {self.stateDir}/charon.vici; "
                                      "crypto map entries: rtp 1")
        ipsec = router.ipsec
        assert ipsec is not None
        self.assertTrue(ipsec.running)
        shown = await runCommand(router, "show", "crypto", "map")
        self.assertIn('Crypto Map "rtp" 1 ipsec-isakmp', shown.text)
        self.write(routerYaml(self.stateDir, crypto=False))
        result = await self.reload(router)
        self.assertEqual(result.text, f"crypto: IPsec stopped (charon at {self.stateDir}/charon.vici); "
                                      "what srst loaded is unloaded")
        self.assertIsNone(router.ipsec)
        self.assertFalse(ipsec.running)
        self.assertNotIn(ipsec, list(router))
        with self.assertRaises(Exception) as caught:
            runCommand(router, "show", "crypto", "map")
        self.assertEqual(str(caught.exception), "Invalid input detected")


class HangupTests(TestCase):
    """
    SIGHUP to C{twistd srst}.
    """

    @bounded(timeout=20)
    async def test_sighupReloads(self) -> None:
        """
        The twistd router reloads on SIGHUP (it does not end): a changed
        hostname is named for the next restart.
        """
        stateDir = stateDirectory(self)
        path = os.path.join(stateDir, "router.yaml")
        with open(path, "w") as f:
            f.write(routerYaml(stateDir, crypto=False))
        router = RouterOutput()
        process = reactor.spawnProcess(
            router, sys.executable,
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=", "srst",
             "--config", path], env=dict(os.environ, PYTHONPATH=ROOT), path=stateDir)
        self.addCleanup(lambda: router.ended if router.ended.called else
                        (process.signalProcess("TERM"), router.ended)[1])
        await router.ready
        with open(path, "w") as f:
            f.write(routerYaml(stateDir, hostname="other-router", crypto=False))
        done: Deferred[None] = Deferred()
        marker = f"reload of {path}: changes to hostname take effect at the next restart"
        received = router.outReceived

        def watch(data: bytes) -> None:
            received(data)
            if marker in router.text() and not done.called:
                done.callback(None)

        router.outReceived = router.errReceived = watch  # type: ignore[method-assign]
        router.ended.addCallback(lambda _: None if done.called else
                                 done.errback(AssertionError(f"the router ended on SIGHUP:\n{router.text()}")))
        process.signalProcess(signal.SIGHUP)
        await done
        self.assertIn(f"SIGHUP: reloading {path}", router.text())
        self.assertFalse(router.ended.called)
