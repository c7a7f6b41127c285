"""
Tests for L{srst.ipsec.service}: charon absent, then present, then stopped,
with a real charon in its own network namespace and retries on a
L{Clock}.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.logger import Logger, LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from srst.admin.commands import CommandTable
from srst.ipsec.commands import registerIpsecCommands
from srst.ipsec.connections import loadConnMessage
from srst.ipsec.service import IpsecService
from srst.ipsec.vici import ViciProtocol, connectVici
from tests.charonhelpers import charonAvailable, startCharon
from tests.test_ipsec_vici import SEED


@implementer(IStreamClientEndpoint)
class RecordingEndpoint:
    """
    A real endpoint that counts attempts and tells the test once the
    service has handled each outcome.
    """

    def __init__(self, endpoint: IStreamClientEndpoint) -> None:
        self.endpoint = endpoint
        self.attempts = 0
        self.handled: Deferred[None] = Deferred()

    def connect(self, factory: Factory) -> Deferred[Protocol]:
        self.attempts += 1
        out: Deferred[Protocol] = Deferred()

        def relay(result: Any) -> None:
            (out.callback if not hasattr(result, "raiseException") else out.errback)(result)
            handled, self.handled = self.handled, Deferred()
            handled.callback(None)

        self.endpoint.connect(factory).addBoth(relay)
        return out


class IpsecServiceTests(TestCase):
    def setUp(self) -> None:
        charonAvailable()
        directory = self.mktemp()
        os.makedirs(directory)
        self.socket = os.path.abspath(os.path.join(directory, "charon.vici"))
        self.events: list[LogEvent] = []
        self.loaded: Deferred[None] = Deferred()

        def observe(event: LogEvent) -> None:
            if event.get("log_namespace") == "srst.ipsec.service":
                self.events.append(event)
                if "loaded crypto map" in event.get("log_format", "") and not self.loaded.called:
                    self.loaded.callback(None)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        self.clock = Clock()
        self.endpoint = RecordingEndpoint(UNIXClientEndpoint(reactor, self.socket))
        self.service = IpsecService([SEED], self.endpoint, self.socket, self.clock, Logger(namespace="debug"))
        self.table = CommandTable()
        registerIpsecCommands(self.table, self.service)

    def lines(self) -> list[str]:
        return [formatEvent(event) for event in self.events]

    async def show(self, words: str) -> Any:
        command, variables = self.table.lookup(words.split())
        return await maybeDeferred(command.handler, **variables)

    async def charon(self) -> ViciProtocol:
        await startCharon(self, self.socket)
        vici = await connectVici(UNIXClientEndpoint(reactor, self.socket), lambda n, m: None, lambda r: None)
        self.addCleanup(vici.transport.loseConnection)
        return vici

    async def test_absentThenPresent(self) -> None:
        """
        With no charon, the service logs once that IPsec is down, C{show}
        says why, and it retries on the clock without logging again; once
        charon is there, the next retry loads the seed's crypto map and
        C{show} no longer complains.  Stopping unloads srst's connection
        and secret, and nothing else.
        """
        handled = self.endpoint.handled
        self.service.startService()
        await handled
        expected = (f"IPsec: charon not reachable at {self.socket}: An error occurred while connecting: "
                    "2: No such file or directory.; srst goes on without IPsec and retries every 10 s")
        self.assertEqual(self.lines(), [expected])
        result = await self.show("show crypto map")
        self.assertEqual(result.text.splitlines()[0],
                         f"% IPsec down: charon not reachable at {self.socket}: An error occurred while "
                         "connecting: 2: No such file or directory. (retrying every 10 s)")
        self.assertFalse(result.data["charon"]["reachable"])

        handled = self.endpoint.handled
        self.clock.advance(10)
        await handled
        self.assertEqual((self.endpoint.attempts, len(self.lines())), (2, 1))

        other = await self.charon()
        foreign = {**loadConnMessage(SEED)["rtp-1"]}
        await other.request("load-conn", {"other": foreign})
        await other.request("load-shared", {"id": "other", "type": "IKE", "data": "x", "owners": ["10.9.9.9"]})
        self.clock.advance(10)
        await self.loaded
        self.assertEqual(self.lines()[1:], [
            f"IPsec: charon reachable again at {self.socket}",
            "IPsec: loaded crypto map rtp 1 (peer 10.1.1.13) into charon and initiated it"])
        conns, _ = await other.streamedRequest("list-conns", "list-conn")
        self.assertEqual(sorted(name for conn in conns for name in conn), ["other", "rtp-1"])
        result = await self.show("show crypto isakmp sa")
        self.assertIn("10.1.1.13       10.1.1.22       MM_NO_STATE", result.text)
        self.assertFalse(result.text.startswith("%"))

        await self.service.stopService()
        conns, _ = await other.streamedRequest("list-conns", "list-conn")
        self.assertEqual([name for conn in conns for name in conn], ["other"])
        self.assertEqual(await other.request("get-shared"), {"keys": ["other"]})
        self.assertEqual(self.clock.getDelayedCalls(), [])
