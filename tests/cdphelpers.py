"""
Headless Chromium driven over the DevTools protocol, for the operator
page's browser tests.

Chromium is started with C{--remote-debugging-pipe}: the protocol's JSON
messages, each ended by a NUL byte, go in on the browser's file
descriptor 3 and come out on its descriptor 4, so no debugging port is
opened at all (nothing listens, not even on loopback) and no websocket
client is needed.  The browser is killed in the test's clean-up.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from tests.routerhelpers import within
from tests.toolhelpers import requireTool

class CdpError(Exception):
    """
    The browser answered a command with an error.
    """


class _Browser(ProcessProtocol):
    def __init__(self) -> None:
        self._buffer = b""
        self._nextId = 0
        self._waiting: dict[int, Deferred[Any]] = {}
        self._events: dict[tuple[str, str | None], list[Deferred[Any]]] = {}
        self.stderr = b""
        self.hasEnded = False
        self._endWaiters: list[Deferred[None]] = []

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD == 2:
            self.stderr = (self.stderr + data)[-8192:]
            return
        if childFD != 4:
            return
        self._buffer += data
        *messages, self._buffer = self._buffer.split(b"\0")
        for raw in messages:
            self._received(json.loads(raw))

    def _received(self, message: dict[str, Any]) -> None:
        if "id" in message:
            waiter = self._waiting.pop(message["id"], None)
            if waiter is None:
                return
            if "error" in message:
                waiter.errback(CdpError(message["error"].get("message", message["error"])))
            else:
                waiter.callback(message.get("result", {}))
            return
        key = (message.get("method", ""), message.get("sessionId"))
        for waiter in self._events.pop(key, []):
            waiter.callback(message.get("params", {}))

    def send(self, method: str, sessionId: str | None = None, **params: Any) -> Deferred[Any]:
        self._nextId += 1
        message: dict[str, Any] = {"id": self._nextId, "method": method, "params": params}
        if sessionId is not None:
            message["sessionId"] = sessionId
        waiter: Deferred[Any] = Deferred()
        self._waiting[self._nextId] = waiter
        self.transport.writeToChild(3, json.dumps(message).encode("utf-8") + b"\0")
        return waiter

    def event(self, method: str, sessionId: str | None = None) -> Deferred[Any]:
        waiter: Deferred[Any] = Deferred()
        self._events.setdefault((method, sessionId), []).append(waiter)
        return waiter

    def processEnded(self, reason: Failure) -> None:
        for waiter in list(self._waiting.values()):
            waiter.errback(CdpError(f"chromium ended: {reason.value}; stderr: {self.stderr[-2000:]!r}"))
        self._waiting.clear()
        self.hasEnded = True
        for waiter in self._endWaiters:
            waiter.callback(None)
        self._endWaiters.clear()

    def whenEnded(self) -> Deferred[None]:
        if self.hasEnded:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._endWaiters.append(waiter)
        return waiter


class Page:
    """
    One browser tab.
    """

    def __init__(self, browser: _Browser, sessionId: str) -> None:
        self._browser = browser
        self.sessionId = sessionId

    def send(self, method: str, **params: Any) -> Deferred[Any]:
        """
        Run a protocol command in this tab.
        """
        return self._browser.send(method, self.sessionId, **params)

    def event(self, method: str) -> Deferred[Any]:
        """
        @return: a L{Deferred} firing with the next C{method} event's params.
        """
        return self._browser.event(method, self.sessionId)

    def evaluate(self, expression: str) -> Deferred[Any]:
        """
        Evaluate C{expression} (awaiting it if it is a promise).

        @return: a L{Deferred} firing with its value.
        """
        def value(result: dict[str, Any]) -> Any:
            if "exceptionDetails" in result:
                raise CdpError(json.dumps(result["exceptionDetails"])[:2000])
            return result["result"].get("value")

        return self.send("Runtime.evaluate", expression=expression, awaitPromise=True,
                         returnByValue=True).addCallback(value)

    def navigate(self, url: str) -> Deferred[Any]:
        """
        Load C{url}; fires once its load event has.
        """
        loaded = self.event("Page.loadEventFired")
        return self.send("Page.navigate", url=url).addCallback(lambda _: loaded)


def startChromium(testCase: Any) -> Deferred[Page]:
    """
    Start headless Chromium (killed after the test) with one blank tab the
    size of a phone's screen.

    @return: a L{Deferred} firing with its L{Page}.
    """
    chromium = requireTool("chromium")
    profile = tempfile.mkdtemp(prefix="srst-chromium-")
    testCase.addCleanup(shutil.rmtree, profile, True)
    browser = _Browser()
    args = [chromium, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--mute-audio",
            "--disable-breakpad", "--disable-crash-reporter",
            f"--user-data-dir={profile}", "about:blank"]
    process = reactor.spawnProcess(browser, chromium, args, env={"HOME": profile, "PATH": os.environ.get("PATH", "")},
                                   childFDs={0: "w", 1: "r", 2: "r", 3: "w", 4: "r"})

    def stop() -> Deferred[None]:
        # Browser.close lets Chromium end its own helper processes; SIGKILL
        # if it has not ended within 5 s.
        if browser.hasEnded:
            return succeed(None)
        browser.send("Browser.close").addErrback(lambda failure: None)

        def kill(failure: Failure) -> Deferred[None]:
            try:
                process.signalProcess("KILL")
            except ProcessExitedAlready:
                pass
            return browser.whenEnded()

        return browser.whenEnded().addTimeout(5, reactor).addErrback(kill)

    testCase.addCleanup(stop)

    def attach(targets: dict[str, Any]) -> Deferred[Page]:
        page = next(t for t in targets["targetInfos"] if t["type"] == "page")
        return browser.send("Target.attachToTarget", targetId=page["targetId"], flatten=True).addCallback(
            lambda result: Page(browser, result["sessionId"]))

    def prepare(page: Page) -> Deferred[Page]:
        d = page.send("Page.enable")
        d.addCallback(lambda _: page.send("Emulation.setDeviceMetricsOverride", width=390, height=844,
                                          deviceScaleFactor=1, mobile=True))
        return d.addCallback(lambda _: page)

    d = browser.send("Target.getTargets").addCallback(attach).addCallback(prepare)
    return within(d, "chromium to start", timeout=20)
