# -*- test-case-name: tests.test_mgcp_download -*-
"""
C{ccm-manager config} end to end on 127.0.0.1: C{srst-ccm tftp serve}
serves the gateway configuration file, the router downloads it at start
and applies it (C{show mgcp}), keeps a local copy, starts with that copy
when the server does not answer, and refuses a malformed file.
"""

from __future__ import annotations

import gc
import io
import os
import re
import socket
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from srst.config import loadString
from srst.ports.tones import CallProgressTone
from srst.service import RouterService, utcNow
from tests.loghelpers import logLines
from tests.routerhelpers import bounded, routerYaml, runCommand, startRouter, stateDirectory, synchronously
from srst.tools.ccm import run as ccmRun

GOOD = b"""<?xml version="1.0"?>
<gateway>
  <mgcp>
    <persistent>offhook onhook</persistent>
    <dtmfRelay>none</dtmfRelay>
    <unknownElement>ignored</unknownElement>
  </mgcp>
  <ccmManager><keepaliveInterval>7</keepaliveInterval></ccmManager>
  <endpoints><endpoint port="1/0/0"/></endpoints>
</gateway>
"""

BAD = b"""<gateway><mgcp><dtmfRelay>loud</dtmfRelay></mgcp></gateway>"""

YAML = """
hostname: branch-router
state-dir: {stateDir}
admin: {{socket: {stateDir}/srst.sock}}
voice-ports:
  1/0/0: {{signal: fxs-loop-start}}
  1/0/1: {{signal: fxs-loop-start}}
dial-peers:
  - {{tag: 81236, type: pots, destination-pattern: "81236", port: 1/0/1, application: mgcpapp}}
mgcp:
  bind: {{host: 127.0.0.1, port: 0}}
  call-agent: {{host: 127.0.0.1, port: 9}}
ccm-manager:
  config: {{server: 127.0.0.1, port: {tftpPort}, timeout-seconds: 1}}
"""


GATEWAY_PART = YAML[YAML.index("voice-ports:"):]
"""The voice ports, MGCP and C{ccm-manager config} of L{YAML}, to add to a
router with a PKI (L{tests.routerhelpers.routerYaml})."""


WINDOW_YAML = YAML.replace(
    "voice-ports:", "call-manager-fallback: {{ip-source-address: 127.0.0.1, port: 0}}\nvoice-ports:").replace(
    "timeout-seconds: 1", "timeout-seconds: 5")
"""L{YAML} with local call control (phones) and a download window of 5 s."""

TFTP_FILE_NOT_FOUND = b"\x00\x05\x00\x01File not found\x00"


class SilentTftpServer(DatagramProtocol):
    """
    A TFTP server that answers nothing until told: C{requested} fires with
    the first datagram and its source.
    """

    def __init__(self) -> None:
        self.requested: Deferred[tuple[bytes, Any]] = Deferred()

    def datagramReceived(self, data: bytes, peer: Any) -> None:
        if not self.requested.called:
            self.requested.callback((data, peer))


def unusedUdpPort() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayConfigDownloadTests(TestCase):
    """
    The router's start with C{ccm-manager config}.
    """

    def setUp(self) -> None:
        self.stateDir = stateDirectory(self)
        self.logged = logLines(self, "srst.mgcp.config")
        self.localCopy = os.path.join(self.stateDir, "mgcp", "branch-router.cnf.xml")

    def serve(self, content: bytes) -> Any:
        """
        Run C{srst-ccm tftp serve} for C{branch-router.cnf.xml}.

        @return: its UDP port.
        """
        path = os.path.join(self.stateDir, "served.xml")
        with open(path, "wb") as f:
            f.write(content)
        out, err = io.StringIO(), io.StringIO()
        done = ccmRun(reactor, ["tftp", "serve", "--listen", "127.0.0.1:0", "--file",
                                f"branch-router.cnf.xml={path}"], out, err)
        done.addErrback(lambda f: f.trap(CancelledError))
        self.addCleanup(done.cancel)
        return int(re.search(r"127\.0\.0\.1:([0-9]+)", out.getvalue()).group(1))

    def keepLocalCopy(self, content: bytes) -> None:
        os.makedirs(os.path.dirname(self.localCopy), mode=0o700)
        with open(self.localCopy, "wb") as f:
            f.write(content)

    def startWith(self, tftpPort: int) -> Any:
        return startRouter(self, YAML.format(stateDir=self.stateDir, tftpPort=tftpPort))

    def showMgcp(self, service: Any) -> Any:
        return runCommand(service, "show", "mgcp").addCallback(lambda result: result.text)

    @bounded
    def test_downloadedConfigurationApplies(self) -> Any:
        """
        The file C{srst-ccm} serves overrides router.yaml: C{show mgcp}
        shows its persistent events and DTMF relay, its endpoint list
        replaces the mgcpapp dial-peers, and the file is kept as the local
        copy.
        """
        port = self.serve(GOOD)
        service = yield self.startWith(port)
        text = yield self.showMgcp(service)
        self.assertIn("MGCP persistent onhook: ENABLED", text)
        self.assertEqual(sorted(service.mgcpService.gateway.endpoints), ["1/0/0"])
        self.assertEqual(service.mgcpService.monitor.config.keepaliveInterval, 7)
        with open(self.localCopy, "rb") as f:
            self.assertEqual(f.read(), GOOD)
        self.assertTrue(any("downloaded and applied" in line for line in self.logged), self.logged)

    @bounded
    def test_serverAbsentLocalCopyApplies(self) -> Any:
        """
        With no TFTP server answering, the router starts within the bound
        with the local copy and says so.
        """
        self.keepLocalCopy(GOOD)
        service = yield self.startWith(unusedUdpPort())
        text = yield self.showMgcp(service)
        self.assertIn("MGCP persistent onhook: ENABLED", text)
        self.assertTrue(any("could not download gateway configuration" in line
                            and "starting with the local copy " + self.localCopy in line
                            for line in self.logged), self.logged)

    @bounded
    def test_malformedFileRefused(self) -> Any:
        """
        A file with a bad value is refused with the element and the reason;
        the previous local copy stays and is what applies.
        """
        self.keepLocalCopy(GOOD)
        port = self.serve(BAD)
        service = yield self.startWith(port)
        text = yield self.showMgcp(service)
        self.assertIn("MGCP persistent onhook: ENABLED", text)
        with open(self.localCopy, "rb") as f:
            self.assertEqual(f.read(), GOOD)
        self.assertIn("gateway configuration tftp://127.0.0.1:%d/branch-router.cnf.xml refused: "
                      "/gateway/mgcp/dtmfRelay: 'loud': expected out-of-band or none" % (port,),
                      self.logged)

    @bounded
    def test_noServerNoCopy(self) -> Any:
        """
        No server and no local copy: router.yaml alone (the mgcpapp
        dial-peer's port, persistent off-hook only).
        """
        service = yield self.startWith(unusedUdpPort())
        text = yield self.showMgcp(service)
        self.assertIn("MGCP persistent onhook: DISABLED", text)
        self.assertEqual(sorted(service.mgcpService.gateway.endpoints), ["1/0/1"])
        self.assertTrue(any("starting with router.yaml alone" in line for line in self.logged), self.logged)


class StopDuringStartTests(TestCase):
    """
    Stopping the router while its start-up is still under way (the
    certificate server starting, the gateway configuration downloading)
    leaves nothing failing unhandled.
    """

    @bounded
    def test_stopBeforeDownloadAwaited(self) -> Any:
        """
        The router stops while its PKI is still starting (a thread call
        that never returns) and the download runs: the cancelled download
        is consumed (no "Unhandled error in Deferred" once it is collected)
        and C{whenReady} fails with the cancellation.
        """
        stateDir = stateDirectory(self)
        text = routerYaml(stateDir, extra=GATEWAY_PART.format(tftpPort=unusedUdpPort()))
        config = loadString(text, "test-router.yaml")
        service = RouterService(config, reactor, now=utcNow, runInThread=lambda f, *a, **kw: Deferred(),
                                callFromThread=reactor.callFromThread)
        service.startService()
        ready = service.whenReady()
        stopped = service.stopService()
        self.failureResultOf(ready, CancelledError)
        yield stopped
        yield deferLater(reactor, 0.01, lambda: None)  # the download's UDP port is let go
        del service, ready, stopped
        gc.collect()
        self.assertEqual([str(f.value) for f in self.flushLoggedErrors()], [])


class DownloadWindowTests(TestCase):
    """
    While the C{ccm-manager config} download is under way (the MGCP gateway
    is not built yet) the mgcpapp ports are held as at any boot before the
    call agent answers: no local call control, no dial tone; C{show mgcp}
    and C{show ccm-manager} say the download is in progress.
    """

    @bounded
    def test_portsHeldDuringDownload(self) -> Any:
        """
        A silent TFTP server keeps the router in the download: the mgcpapp
        port 1/0/1 is out of local call control (off hook: no dial tone, no
        call), the other port 1/0/0 is not; the show commands say why.
        When the server refuses the file, the gateway is built with
        router.yaml alone and 1/0/1 stays MGCP's.
        """
        stateDir = stateDirectory(self)
        server = SilentTftpServer()
        listening = reactor.listenUDP(0, server, interface="127.0.0.1")
        self.addCleanup(listening.stopListening)
        config = loadString(WINDOW_YAML.format(stateDir=stateDir, tftpPort=listening.getHost().port), "w.yaml")
        service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        service.startService()
        self.addCleanup(service.stopService)
        request, peer = yield server.requested
        self.assertIn(b"branch-router.cnf.xml", request)
        self.assertIsNone(service.mgcpService)

        held, local = service.portEndpoints["1/0/1"], service.portEndpoints["1/0/0"]
        self.assertEqual((held.active, local.active), (False, True))
        port = service.portService.port("1/0/1")
        port.backend.offHook()
        self.assertIsNone(held.leg)
        self.assertIsNot(port.dsp.playing, CallProgressTone.DIAL)
        port.backend.onHook()
        source = "tftp://127.0.0.1:%d/branch-router.cnf.xml" % (listening.getHost().port,)
        for command in (("show", "mgcp"), ("show", "ccm-manager")):
            result = yield runCommand(service, *command)
            self.assertEqual(result.text, f"MGCP gateway configuration download from {source} in progress")

        listening.write(TFTP_FILE_NOT_FOUND, peer)
        yield service.whenReady()
        self.assertEqual(sorted(service.mgcpService.gateway.endpoints), ["1/0/1"])
        self.assertEqual((held.active, local.active), (False, True))
        result = yield runCommand(service, "show", "mgcp")
        self.assertIn("MGCP Admin State ACTIVE", result.text)
        result = yield runCommand(service, "show", "ccm-manager")
        self.assertNotIn("in progress", result.text)
