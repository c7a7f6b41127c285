"""
End to end: C{twistd -n --pidfile= srst --config ...} as an operator runs it,
in a child process, then C{openssl s_client} against its credentials port.
"""

import os
import re
import signal
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from tests.routerhelpers import ROOT, routerYaml, stateDirectory
from tests.toolhelpers import requireTool

TWISTD = "from twisted.scripts.twistd import run; run()"


class TwistdProcess(ProcessProtocol):
    """
    Runs twistd and fires C{ready} with the credentials port it logs.
    """

    def __init__(self):
        self.output = b""
        self.ready = Deferred()
        self.ended = Deferred()

    def outReceived(self, data):
        self.output += data
        if not self.ready.called:
            match = re.search(rb"credentials listening on 127\.0\.0\.1 port (\d+)", self.output)
            if match:
                self.ready.callback(int(match.group(1)))

    errReceived = outReceived

    def processEnded(self, reason):
        self.reason = reason
        if not self.ready.called:
            self.ready.errback(RuntimeError("twistd ended before listening:\n" + self.output.decode("utf-8", "replace")))
        self.ended.callback(reason.value.exitCode)


def startTwistd(testCase, configPath, cwd):
    """
    Spawn twistd in the foreground without a pidfile; it is stopped with
    SIGTERM after the test if still running.
    """
    process = TwistdProcess()
    env = dict(os.environ, PYTHONPATH=ROOT)
    transport = reactor.spawnProcess(
        process, sys.executable,
        [sys.executable, "-c", TWISTD, "-n", "--pidfile=", "srst", "--config", configPath],
        env=env, path=cwd)

    def stop():
        if not process.ended.called:
            transport.signalProcess(signal.SIGTERM)
        return process.ended

    testCase.addCleanup(stop)
    return process, stop


class TwistdTests(TestCase):
    """
    The plugin runs under twistd with a temporary state directory.
    """

    timeout = 120

    def setUp(self):
        requireTool("openssl")

    @inlineCallbacks
    def test_twistdCredentialsHandshake(self):
        """
        twistd creates the CA and the router certificate; openssl s_client
        completes the handshake on the credentials port and the presented
        chain verifies against ca.crt; a second start keeps the same CA and
        router certificate.
        """
        stateDir = stateDirectory(self)
        configPath = os.path.join(stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(stateDir))
        caPath = os.path.join(stateDir, "pki", "server", "srstcaserver", "ca.crt")
        certPath = os.path.join(stateDir, "pki", "trustpoints", "srstca", "cert.pem")

        process, stop = startTwistd(self, configPath, stateDir)
        port = yield process.ready
        out, err, code = yield getProcessOutputAndValue(
            "openssl",
            ["s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", caPath, "-verify_return_error",
             "-servername", "branch-router"],
            env=os.environ, reactor=reactor, stdinBytes=b"")
        self.assertEqual(code, 0, err.decode("utf-8", "replace"))
        self.assertIn(b"Verify return code: 0 (ok)", out)
        with open(caPath, "rb") as f:
            ca = f.read()
        with open(certPath, "rb") as f:
            cert = f.read()
        yield stop()
        # twistd shuts down cleanly, then re-raises SIGTERM so its exit status says why it stopped.
        self.assertIn(b"Server Shut Down.", process.output)
        self.assertNotIn(b"Traceback", process.output)

        process, stop = startTwistd(self, configPath, stateDir)
        yield process.ready
        with open(caPath, "rb") as f:
            self.assertEqual(f.read(), ca)
        with open(certPath, "rb") as f:
            self.assertEqual(f.read(), cert)
        yield stop()

    @inlineCallbacks
    def test_badConfigExitsWithLines(self):
        """
        twistd with an invalid configuration prints the YAML path of each
        problem and exits non-zero without a traceback, writing nothing.
        """
        stateDir = stateDirectory(self)
        configPath = os.path.join(stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(os.path.join(stateDir, "state")).replace("grant: auto", "grant: sometimes"))
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, ["-c", TWISTD, "-n", "--pidfile=", "srst", "--config", configPath],
            env=dict(os.environ, PYTHONPATH=ROOT), path=stateDir, reactor=reactor)
        self.assertNotEqual(code, 0)
        text = (out + err).decode("utf-8", "replace")
        self.assertIn("pki.server.grant: 'sometimes' is not allowed", text)
        self.assertNotIn("Traceback", text)
        self.assertFalse(os.path.exists(os.path.join(stateDir, "state")))
