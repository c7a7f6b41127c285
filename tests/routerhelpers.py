"""
Helpers for integration tests that run the real L{RouterService} on
127.0.0.1 with ephemeral ports and a temporary state directory.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import os
import shutil
import tempfile
import textwrap
import weakref
from typing import Any, Callable, Coroutine, Generator, Union

from twisted.internet import reactor
import re

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import Clock
from twisted.trial.unittest import FailTest
from zope.interface import directlyProvides, providedBy

from srst.config import loadString
from srst.service import RouterService, utcNow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHONE_CA_DIR = os.path.join(ROOT, "etc", "phone-ca")

BASE = """
hostname: branch-router
state-dir: {stateDir}
pki:
  server:
    name: srstcaserver
    issuer-name: CN=srstcaserver
    database-level: complete
    grant: {grant}
    rsakeypair: {{type: ecdsa, bits: 256}}
  trustpoints:
    srstca:
      enrollment: {{server: srstcaserver}}
      subject-name: CN=branch-router
      rsakeypair: {{type: ecdsa, bits: 256}}
    "7970": {{certificates: [{phoneCA}]}}
credentials:
  ip-source-address: 127.0.0.1
  port: 0
  trustpoint: srstca
admin:
  socket: {socket}
"""

# The opening of a call-manager-fallback section that registers phones on
# both ports of 127.0.0.1 and trusts LSCs from the capf trustpoint (see
# tests.phonehelpers.routerYamlWithCapf): a test appends its own keys, each
# starting on a new line, as in SECURE_CMF_HEAD + """\n  max-ephones: 4 ...""".
SECURE_CMF_HEAD = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  secure-port: 0
  trustpoint: srstca
  phone-trustpoints: [capf]"""

SEED_POLICY = """
access-lists:
  140:
    - {{action: deny, protocol: tcp, source: 127.0.0.1/32, port: {port}}}
    - {{action: permit, protocol: tcp, source: any, port: {port}}}
    - {{action: deny, protocol: ip, source: any}}
control-plane:
  class-maps:
    sccp-class: {{match-access-group: 140}}
  service-policy:
    name: control-plane-policy
    input:
      - class: sccp-class
        police: {{rate-bps: 8000, normal-burst: 1500, max-burst: 1500,
                 conform-action: drop, exceed-action: drop}}
"""


def freePort():
    """
    A TCP port on 127.0.0.1 that was free a moment ago (for tests whose
    access lists must name the listener's port).
    """
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synchronously(f, *args, **kwargs):
    """
    A C{runInThread} that runs on the calling thread (tests use small EC keys).
    """
    return maybeDeferred(f, *args, **kwargs)


def stateDirectory(testCase):
    """
    A short temporary directory (UNIX socket paths are limited to 108 bytes),
    removed after the test.
    """
    path = tempfile.mkdtemp(prefix="srst-")
    testCase.addCleanup(shutil.rmtree, path, True)
    return path


def routerYaml(stateDir, grant="auto", extra="", phoneCA=None, credentialsPort=0):
    """
    The YAML text of a test router.
    """
    return textwrap.dedent(BASE).replace("port: 0", f"port: {credentialsPort}").format(
        stateDir=stateDir,
        grant=grant,
        phoneCA=phoneCA or os.path.join(PHONE_CA_DIR, "CiscoCA.pem"),
        socket=os.path.join(stateDir, "srst.sock"),
    ) + textwrap.dedent(extra)


def startRouter(testCase, yamlText, credentialsPort=None, reactor=reactor):
    """
    Start a L{RouterService} from C{yamlText}; it is stopped after the test.

    @param reactor: the router's reactor: the global one, or one that
        stands for it (L{tests.mgcphelpers.WatchedReactor}).
    @return: a L{Deferred} firing with the service once ready.
    """
    config = loadString(yamlText, "test-router.yaml")
    if credentialsPort is not None:
        import attrs

        config = attrs.evolve(config, credentials=attrs.evolve(config.credentials, port=credentialsPort))
    service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                            callFromThread=reactor.callFromThread)
    service.startService()
    testCase.addCleanup(service.stopService)
    return service.whenReady()



class RouterOutput(ProcessProtocol):
    """
    Collects a twistd router's output; C{ready} fires with its SCCP and
    credentials ports once it says it is ready.
    """

    def __init__(self):
        self.output = b""
        self.ready = Deferred()
        self.ended = Deferred()
        self.exitCode = None  # once ended: its exit status (None if killed by a signal)

    def outReceived(self, data):
        self.output += data
        if not self.ready.called and b" ready: " in self.output:
            ports = {name.decode("ascii"): int(port) for name, port in
                     re.findall(rb"([\w-]+) listening on 127\.0\.0\.1 port (\d+)", self.output)}
            self.ready.callback(ports)

    errReceived = outReceived

    def processEnded(self, reason):
        self.exitCode = reason.value.exitCode
        if not self.ready.called:
            self.ready.errback(RuntimeError("the router ended:\n" + self.output.decode("utf-8", "replace")))
        self.ended.callback(None)

    def text(self):
        return self.output.decode("utf-8", "replace")


def spawnRouter(testCase, yamlText, stateDir, pythonCode="from twisted.scripts.twistd import run; run()"):
    """
    Run a router as the operator does, C{twistd -n --pidfile= srst --config
    <stateDir>/router.yaml}, in a child process (with C{pythonCode} as the
    interpreter's C{-c} program, which must end by running twistd); it is
    stopped (SIGTERM) at cleanup.

    @return: the L{RouterOutput} (its C{ready} fires with the ports it
        listens on) and a function that stops the router, returning a
        L{Deferred} that fires once the process has ended.
    """
    import sys
    configPath = os.path.join(stateDir, "router.yaml")
    with open(configPath, "w") as f:
        f.write(yamlText)
    router = RouterOutput()
    process = reactor.spawnProcess(
        router, sys.executable,
        [sys.executable, "-c", pythonCode, "-n", "--pidfile=", "srst", "--config", configPath],
        env=dict(os.environ, PYTHONPATH=ROOT), path=stateDir)

    def stop():
        if not router.ended.called:
            process.signalProcess("TERM")
        return router.ended

    testCase.addCleanup(stop)
    return router, stop


def runCommand(service, *words):
    """
    Run an admin command in-process.

    @return: a L{Deferred} firing with its L{CommandResult}.
    """
    command, variables = service.commands.lookup(list(words))
    return maybeDeferred(command.handler, **variables)


def within(d: Deferred, what: str, timeout: float = 10.0) -> Deferred:
    """
    Bound a wait on real sockets: C{d}, or a L{FailTest} naming
    C{what} once C{timeout} seconds pass (C{d} is cancelled), so that a bug
    fails the test at once instead of hanging until trial's own timeout.

    @return: C{d}, bounded.
    """

    def timedOut(result: object, seconds: float) -> object:
        raise FailTest("timed out after %g s waiting for %s" % (seconds, what))

    return d.addTimeout(timeout, reactor, onTimeoutCancel=timedOut)


Steps = Union[Generator[Any, Any, Any], Coroutine[Any, Any, Any]]

_stepwise: weakref.WeakSet[Deferred] = weakref.WeakSet()
"""The Deferreds of running L{bounded} functions (each of their waits is bounded already)."""


def bounded(f: Callable[..., Steps] | None = None, *, timeout: float = 10.0) -> Any:
    """
    Run a test (or a helper) that waits on Deferreds on real sockets, as
    C{inlineCallbacks} runs a generator (or as trial runs an C{async def}),
    with every wait bounded by L{within}: a wait still pending after
    C{timeout} seconds is cancelled and fails the test with a L{FailTest}
    naming the line that waited, instead of hanging until
    trial's own timeout with the wait (and what it waits on) left behind for
    the next test.  A wait on another L{bounded} function is left to that
    function's own bounded waits.

    Use as C{@bounded} or C{@bounded(timeout=60)} (a subprocess that truly
    needs longer).
    """
    if f is None:
        return functools.partial(bounded, timeout=timeout)

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> Deferred:
        d = Deferred.fromCoroutine(_boundEach(f(*args, **kwargs), timeout))
        _stepwise.add(d)
        return d

    return run


def _boundEach(steps: Steps, timeout: float) -> Generator[Any, Any, Any]:
    """
    Drive C{steps}, bounding each Deferred it waits on (see L{bounded}).
    """
    send: Callable[[Any], Any] = steps.send
    value: Any = None
    while True:
        try:
            waited = send(value)
        except StopIteration as done:
            return done.value
        if isinstance(waited, Deferred) and waited not in _stepwise:
            waited = within(waited, _waitingAt(steps), timeout)
        try:
            value = yield waited
            send = steps.send
        except GeneratorExit:
            steps.close()
            raise
        except BaseException as e:
            send, value = steps.throw, e


def _waitingAt(steps: Steps) -> str:
    """
    @return: the source of the line where C{steps} is suspended, without
        its C{yield}/C{await}, and where that line is.
    """
    frame = steps.gi_frame if inspect.isgenerator(steps) else steps.cr_frame
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    source = linecache.getline(filename, lineno).strip()
    for keyword in ("yield ", "await "):
        if keyword in source:
            source = source.split(keyword, 1)[1]
    return f"{source} ({os.path.basename(filename)}:{lineno})"


class ClockedReactor:
    """
    The reactor, with the time of a L{Clock}: a router whose timers (the
    media pump, fallback detection, renewals) a test drives, on real
    sockets.
    """

    def __init__(self, reactor: Any, clock: Clock) -> None:
        self._reactor = reactor
        self.clock = clock
        directlyProvides(self, providedBy(reactor))

    def callLater(self, delay: float, f: Any, *args: Any, **kwargs: Any) -> Any:
        return self.clock.callLater(delay, f, *args, **kwargs)

    def seconds(self) -> float:
        return self.clock.seconds()

    def getDelayedCalls(self) -> Any:
        return self.clock.getDelayedCalls()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)


class TimersOnClock(ClockedReactor):
    """
    A L{ClockedReactor} whose zero delays (the next reactor iteration:
    C{TLSMemoryBIOProtocol}'s write aggregation) are the reactor's, so TLS
    handshakes complete while the router's timers wait for the test.
    """

    def callLater(self, delay: float, f: Any, *args: Any, **kwargs: Any) -> Any:
        if delay == 0:
            return self._reactor.callLater(0, f, *args, **kwargs)
        return ClockedReactor.callLater(self, delay, f, *args, **kwargs)


class WatchedClock(Clock):
    """
    A L{Clock} that tells when a call C{seconds} away is armed (a server
    taking a connection arms its timeout, an enrollment its wait before the
    next poll).
    """

    def __init__(self) -> None:
        Clock.__init__(self)
        self.waiters: list[tuple[float, Deferred[None]]] = []

    def armed(self, seconds: float) -> Deferred[None]:
        """
        @return: a L{Deferred} that fires when a call C{seconds} away is
            next armed.
        """
        d: Deferred[None] = Deferred()
        self.waiters.append((seconds, d))
        return d

    def callLater(self, delay: float, f: Any, *args: Any, **kw: Any) -> Any:
        call = Clock.callLater(self, delay, f, *args, **kw)
        for waiter in [w for w in self.waiters if w[0] == delay]:
            self.waiters.remove(waiter)
            waiter[1].callback(None)
        return call

