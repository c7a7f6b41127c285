"""
The router the soak runs attack: the real plugin under C{twistd} in a
child process, on a configuration made like the integration tests' (every
port ephemeral on 127.0.0.1, a C{capf} phone trustpoint whose CA the soak
holds, a state directory of its own), with its log in a file the soak reads
for tracebacks.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _common  # noqa: E402  (puts the checkout first on sys.path)

from tests.phonehelpers import PHONE_CA, routerYamlWithCapf  # noqa: E402
from tests.test_sccp_integration import CMF  # noqa: E402

PHONE_CA = PHONE_CA
"""The CA of the router's phone trustpoint: the soak issues LSCs from it."""

GATEWAY = """
media:
  address: 127.0.0.1
  rtp-port-range: "44000-44999"
voice-ports:
  1/0/0: {{signal: fxs-loop-start}}
  1/0/1: {{signal: fxs-loop-start}}
mgcp:
  bind: {{host: 127.0.0.1, port: 0}}
  call-agent: {{host: 127.0.0.1, port: {agentPort}}}
ccm-manager:
  fallback-mgcp: true
  switchback: graceful
"""

TROUBLE = re.compile(r"Traceback|Unhandled|CRITICAL", re.M)


class Router:
    """
    The router child process.

    @ivar ports: the listening ports by service name, from its "ready" line.
    @ivar stateDir: its state directory (holds router.yaml and srst.log).
    """

    def __init__(self, maxEphones: int = 200, agentPort: int | None = None) -> None:
        self.stateDir = tempfile.mkdtemp(prefix="srst-soak-")
        extra = CMF.format(maxEphones=maxEphones)
        if agentPort is not None:
            extra += GATEWAY.format(agentPort=agentPort)
        configPath = os.path.join(self.stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYamlWithCapf(self.stateDir, extra))
        self.logPath = os.path.join(self.stateDir, "srst.log")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "twisted", "--log-file", self.logPath, "--log-format", "text", "srst",
             "--config", configPath],
            cwd=_common.ROOT, env=dict(os.environ, PYTHONPATH=_common.ROOT),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.ports = self._waitReady()

    def _waitReady(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"router exited {self.process.returncode}:\n{self.log()}")
            match = re.search(r"srst \S+ ready: (\{.*\})", self.log())
            if match:
                return ast.literal_eval(match.group(1))
            time.sleep(0.1)
        raise RuntimeError(f"router not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        """@return: what the router logged so far."""
        try:
            with open(self.logPath, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def tracebacks(self) -> list[str]:
        """@return: the log lines that show a traceback, an unhandled error or a critical event."""
        return [line for line in self.log().splitlines() if TROUBLE.search(line)]

    def rssKiB(self) -> int:
        """@return: the router's resident set size in KiB."""
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> int:
        """Stop the router (SIGTERM); @return: its exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
