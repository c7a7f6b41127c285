"""
A real strongSwan charon for tests, alone in a fresh network namespace.

L{startCharon} runs C{/usr/lib/ipsec/charon} under C{unshare --net --mount}
(a new network namespace with only C{lo}, and a private C{/run} so its pid
file does not meet any other charon's) with a private strongswan.conf
whose VICI socket is in the test's temporary directory.  The Deferred fires
when charon says its plugins are loaded (the VICI socket listens by then);
cleanup kills it.  Needs root and strongSwan; the tests skip otherwise.
"""

from __future__ import annotations

import os
import shutil

from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

CHARON = "/usr/lib/ipsec/charon"

CONF = """\
charon {
  load = random nonce openssl pem pkcs1 kernel-netlink socket-default vici
  install_routes = no
  retransmit_tries = 1
  retransmit_timeout = 1
  plugins {
    vici { socket = unix://%(socket)s }
  }
  filelog { stderr { default = 1 } }
}
"""


class _CharonProcess(ProcessProtocol):
    def __init__(self) -> None:
        self.ready: Deferred[None] = Deferred()
        self.ended: Deferred[None] = Deferred()
        self.output = b""
        self.hasEnded = False

    def childDataReceived(self, fd: int, data: bytes) -> None:
        self.output += data
        if not self.ready.called and b"loaded plugins:" in self.output:
            self.ready.callback(None)

    def processEnded(self, reason: Failure) -> None:
        self.hasEnded = True
        if not self.ready.called:
            self.ready.errback(RuntimeError("charon ended: " + self.output.decode(errors="replace")[-500:]))
        self.ended.callback(None)


def charonAvailable() -> None:
    """
    @raise SkipTest: unless strongSwan's charon and root are here.
    """
    if not os.path.exists(CHARON) or shutil.which("unshare") is None:
        raise SkipTest("strongSwan charon is not installed")
    if os.geteuid() != 0:
        raise SkipTest("charon in a network namespace needs root")


def startCharon(testCase: TestCase, socket: str) -> Deferred[None]:
    """
    Start a charon whose VICI socket is C{socket}; kill it at cleanup.

    @return: a L{Deferred} that fires once the socket listens.
    """
    charonAvailable()
    directory = os.path.dirname(socket)
    conf = os.path.join(directory, "strongswan.conf")
    with open(conf, "w") as f:
        f.write(CONF % {"socket": socket})
    process = _CharonProcess()
    script = "ip link set lo up && mount -t tmpfs tmpfs /run && exec " + CHARON
    transport = reactor.spawnProcess(
        process, "/usr/bin/unshare", ["unshare", "--net", "--mount", "sh", "-c", script],
        env={"STRONGSWAN_CONF": conf, "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
        childFDs={0: "w", 1: "r", 2: "r"})

    def stop() -> Deferred[None]:
        if process.hasEnded:
            return succeed(None)
        try:
            transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass
        return process.ended

    testCase.addCleanup(stop)
    return process.ready.addTimeout(10, reactor)
