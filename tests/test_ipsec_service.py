"""
Tests for L{srst.ipsec.service}: charon absent, then present, then stopped,
with a real charon in its own network namespace and retries on a
L{Clock}.
"""

from __future__ import annotations

import os
from typing import Any

from attrs import evolve
from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.endpoints import UNIXClientEndpoint, UNIXServerEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.logger import Logger, LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from srst.admin.commands import CommandTable
from srst.ipsec.commands import registerIpsecCommands
from srst.ipsec.connections import loadConnMessage
from srst.ipsec.service import IpsecService
from srst.ipsec.vici import ViciProtocol, connectVici
from tests.ipsechelpers import (
    CALLMANAGER_ADDRESS,
    ROUTER_ADDRESS,
    listSas,
    loadTunnel,
    makeNamespaces,
    requireIpsec,
    startCharons,
)
from tests.routerhelpers import bounded, stateDirectory
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
            (out.errback if isinstance(result, Failure) else out.callback)(result)
            handled, self.handled = self.handled, Deferred()
            handled.callback(None)

        self.endpoint.connect(factory).addBoth(relay)
        return out


class IpsecServiceTests(TestCase):
    def setUp(self) -> None:
        charonAvailable()
        self.socket = os.path.join(stateDirectory(self), "charon.vici")  # short: UNIX paths hold 108 bytes
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
        vici = await connectVici(UNIXClientEndpoint(reactor, self.socket), lambda n, m: None, lambda r: None, reactor)
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
        expected = (f"IPsec: charon not reachable at {self.socket}: No such file or directory (is charon "
                    "running? see etc/supervisord.conf [program:charon]); srst goes on without IPsec and retries "
                    "every 10 s")
        self.assertEqual(self.lines(), [expected])
        result = await self.show("show crypto map")
        self.assertEqual(result.text.splitlines()[0],
                         f"% IPsec down: charon not reachable at {self.socket}: No such file or directory (is "
                         "charon running? see etc/supervisord.conf [program:charon]) (retrying every 10 s)")
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


def logEvent(msg: str, uniqueid: str = "1", group: str = "IKE", name: str = "rtp-1") -> dict[str, Any]:
    """
    A C{log} event as charon 5.9 streams it over VICI (decoded to text).
    """
    return {"group": group, "level": "1", "thread": "14", "ikesa-name": name, "ikesa-uniqueid": uniqueid,
            "msg": msg}


WRONG_KEY = [
    logEvent("initiating Main Mode IKE_SA rtp-1[1] to 10.1.1.13"),
    logEvent("invalid HASH_V1 payload length, decryption failed?", group="ENC"),
    logEvent("could not decrypt payloads", group="ENC"),
    logEvent("message parsing failed"),
    logEvent("sending retransmit 1 of request message ID 0, seq 3"),
    logEvent("giving up after 2 retransmits"),
    logEvent("establishing IKE_SA failed, peer not responding"),
]
"""What the router's charon says when CallManager has another pre-shared key
(IKEv1: main mode message 5 does not decrypt, then retransmits)."""

NO_PROPOSAL = [
    logEvent("initiating Main Mode IKE_SA rtp-1[2] to 10.1.1.13", uniqueid="2"),
    logEvent("IKE_SA rtp-1[2] established between 10.1.1.22[10.1.1.22]...10.1.1.13[10.1.1.13]", uniqueid="2"),
    logEvent("received NO_PROPOSAL_CHOSEN error notify", uniqueid="2"),
]

PEER_DOWN = [
    logEvent("initiating Main Mode IKE_SA rtp-1[3] to 10.1.1.13", uniqueid="3"),
    logEvent("sending retransmit 1 of request message ID 0, seq 1", uniqueid="3"),
    logEvent("giving up after 2 retransmits", uniqueid="3"),
    logEvent("establishing IKE_SA failed, peer not responding", uniqueid="3"),
]

CHILD_UP = {"up": "yes", "rtp-1": {"uniqueid": "4", "state": "ESTABLISHED", "remote-host": "10.1.1.13",
                                   "child-sas": {"rtp-1-5": {"name": "rtp-1", "state": "INSTALLED"}}}}
IKE_DOWN = {"rtp-1": {"uniqueid": "4", "state": "DELETING", "remote-host": "10.1.1.13"}}


class FailureReasonTests(TestCase):
    """
    L{IpsecService.charonEvent} keeps, logs once and shows why an entry's
    SAs failed, from charon's events as recorded in the namespace tests.
    """

    def setUp(self) -> None:
        self.events: list[LogEvent] = []

        def observe(event: LogEvent) -> None:
            if event.get("log_namespace") == "srst.ipsec.service":
                self.events.append(event)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        self.service = IpsecService([SEED], UNIXClientEndpoint(reactor, "/nonexistent"), "/nonexistent",
                                    Clock(), Logger(namespace="debug"))
        self.table = CommandTable()
        registerIpsecCommands(self.table, self.service)

    def feed(self, events: list[dict[str, Any]], name: str = "log") -> None:
        for message in events:
            self.service.charonEvent(name, message)

    def logged(self) -> list[tuple[str, str]]:
        return [(event["log_level"].name, formatEvent(event)) for event in self.events]

    async def show(self, words: str) -> Any:
        command, variables = self.table.lookup(words.split())
        return await maybeDeferred(command.handler, **variables)

    async def test_wrongPreSharedKey(self) -> None:
        """
        A main mode that does not decrypt is a wrong pre-shared key, and
        stays so although charon then gives up on the peer; it is logged
        once at warn however often the attempt repeats, and shown.
        """
        self.feed(WRONG_KEY)
        self.feed([{**e, "ikesa-uniqueid": "7"} for e in WRONG_KEY])
        reason = "invalid HASH_V1 payload length, decryption failed? (wrong pre-shared key?)"
        self.assertEqual(self.service.failures, {"rtp-1": reason})
        self.assertEqual(self.logged(), [("warn", f"IPsec: crypto map rtp 1 (peer 10.1.1.13): {reason}")])
        for words in ("show crypto isakmp sa", "show crypto map"):
            result = await self.show(words)
            self.assertEqual(result.text.splitlines()[0], f"% crypto map rtp 1: {reason}")
            self.assertEqual(result.data["failures"], {"rtp-1": reason})

    async def test_noProposalChosen(self) -> None:
        """
        A quick mode the peer refuses names the transform set.
        """
        self.feed(NO_PROPOSAL)
        self.assertEqual(self.service.failures, {"rtp-1": "received NO_PROPOSAL_CHOSEN error notify "
                                                          "(no transform set or isakmp policy in common with the peer)"})

    async def test_peerDownThenUp(self) -> None:
        """
        A peer that does not answer is said once; when the IPsec SA comes
        up the reason goes (logged at info), and the next failure, an SA
        going down, is logged again.
        """
        self.feed(PEER_DOWN)
        self.feed(PEER_DOWN)
        self.service.charonEvent("child-updown", CHILD_UP)
        self.assertEqual(self.service.failures, {})
        self.service.charonEvent("ike-updown", IKE_DOWN)
        self.assertEqual(self.logged(), [
            ("warn", "IPsec: crypto map rtp 1 (peer 10.1.1.13): establishing IKE_SA failed, peer not responding"),
            ("info", "IPsec: crypto map rtp 1 (peer 10.1.1.13): IPsec SA up"),
            ("warn", "IPsec: crypto map rtp 1 (peer 10.1.1.13): IKE SA with 10.1.1.13 went down"),
        ])
        result = await self.show("show crypto map")
        self.assertEqual(result.text.splitlines()[0], "% crypto map rtp 1: IKE SA with 10.1.1.13 went down")

    def test_otherConnectionsIgnored(self) -> None:
        """
        Events about IKE_SAs srst did not load, and events without an
        IKE_SA, change nothing.
        """
        self.feed([logEvent("establishing IKE_SA failed, peer not responding", name="other"),
                   {"group": "CFG", "level": "1", "thread": "1", "msg": "peer not responding"}])
        self.service.charonEvent("ike-updown", {"other": {"uniqueid": "9"}})
        self.assertEqual((self.service.failures, self.logged()), ({}, []))


class SilentCharonTests(TestCase):
    """
    A charon that accepts the VICI connection and never answers (a real
    UNIX server on a short temporary path): requests time out on the
    clock, C{show} says why, and stopping does not hang.
    """

    timeout = 5

    async def setUp(self) -> None:
        self.socket = os.path.join(stateDirectory(self), "charon.vici")
        self.accepted: Deferred[None] = Deferred()
        self.dropped: Deferred[None] = Deferred()
        test = self

        class Silent(Protocol):
            def connectionMade(self) -> None:
                test.accepted.callback(None)

            def connectionLost(self, reason: Any = None) -> None:
                test.dropped.callback(None)

        port = await UNIXServerEndpoint(reactor, self.socket).listen(Factory.forProtocol(Silent))
        self.addCleanup(port.stopListening)
        self.events: list[LogEvent] = []
        self.lost: Deferred[None] = Deferred()

        def observe(event: LogEvent) -> None:
            if event.get("log_namespace") in ("srst.ipsec.service", "srst.ipsec.vici"):
                self.events.append(event)
                if "retrying every" in event.get("log_format", "") and not self.lost.called:
                    self.lost.callback(None)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        self.clock = Clock()
        self.service = IpsecService([SEED], UNIXClientEndpoint(reactor, self.socket), self.socket, self.clock,
                                    Logger(namespace="debug"))
        self.table = CommandTable()
        registerIpsecCommands(self.table, self.service)

    async def test_requestTimesOut(self) -> None:
        """
        The first request is not answered: after 10 s on the clock the
        connection is dropped, the log and C{show crypto map} say charon
        did not answer, and the service retries.
        """
        self.service.startService()
        await self.accepted
        self.clock.advance(10)
        await self.lost
        await self.dropped
        problem = f"lost the VICI connection to charon at {self.socket}: charon did not answer register log within 10 s"
        self.assertEqual([formatEvent(event) for event in self.events], [
            "Dropping the VICI connection to charon: charon did not answer register log within 10 s",
            f"IPsec: {problem}; retrying every 10 s"])
        command, variables = self.table.lookup("show crypto map".split())
        result = await maybeDeferred(command.handler, **variables)
        self.assertEqual(result.text.splitlines()[0], f"% IPsec down: {problem} (retrying every 10 s)")
        self.assertEqual(result.data["charon"]["problem"], problem)
        await self.service.stopService()

    async def test_firstAttemptEndsWithTimeout(self) -> None:
        """
        L{IpsecService.firstAttempt} waits while charon does not answer and
        fires once the request timed out (the attempt has ended).
        """
        first = self.service.firstAttempt()
        self.service.startService()
        self.addCleanup(self.service.stopService)
        await self.accepted
        self.assertNoResult(first)
        self.clock.advance(10)
        self.assertIsNone(await first)
        self.assertTrue(self.lost.called)

    async def test_stopDoesNotHang(self) -> None:
        """
        Stopping while a request is unanswered ends once it times out.
        """
        self.service.startService()
        await self.accepted
        stopped = self.service.stopService()
        self.assertNoResult(stopped)
        self.clock.advance(10)
        await stopped
        await self.dropped
        self.assertEqual(self.clock.getDelayedCalls(), [])


class QuietRetryTests(TestCase):
    """
    Retrying an absent charon every 10 s does not fill the log.
    """

    async def test_noFactoryLines(self) -> None:
        """
        Three retries log the one "not reachable" warning and no
        "Starting factory"/"Stopping factory" lines.
        """
        socket = os.path.join(stateDirectory(self), "charon.vici")
        formats: list[str] = []

        def observe(event: LogEvent) -> None:
            formats.append(event.get("log_format") or "")

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        clock = Clock()
        endpoint = RecordingEndpoint(UNIXClientEndpoint(reactor, socket))
        service = IpsecService([SEED], endpoint, socket, clock, Logger(namespace="debug"))
        handled = endpoint.handled
        service.startService()
        await handled
        for _ in range(3):
            handled = endpoint.handled
            clock.advance(10)
            await handled
        await service.stopService()
        self.assertEqual(endpoint.attempts, 4)
        self.assertEqual([f for f in formats if "factory" in f.lower()], [])
        self.assertEqual(len([f for f in formats if "charon not reachable" in f]), 1)

    async def test_clearWithoutCharon(self) -> None:
        """
        C{clear crypto sa} without charon exits 1 and says why.
        """
        socket = os.path.join(stateDirectory(self), "charon.vici")
        endpoint = RecordingEndpoint(UNIXClientEndpoint(reactor, socket))
        service = IpsecService([SEED], endpoint, socket, Clock(), Logger(namespace="debug"))
        table = CommandTable()
        registerIpsecCommands(table, service)
        handled = endpoint.handled
        service.startService()
        await handled
        command, variables = table.lookup("clear crypto sa".split())
        result = await maybeDeferred(command.handler, **variables)
        reason = (f"charon not reachable at {socket}: No such file or directory (is charon running? see "
                  "etc/supervisord.conf [program:charon])")
        self.assertEqual((result.exitCode, result.text, result.data),
                         (1, f"% IPsec down: {reason}", {"cleared": False, "reason": reason}))
        await service.stopService()


class FirstAttemptTests(TestCase):
    """
    L{IpsecService.firstAttempt}, which the router's MGCP gateway waits for.
    """

    async def test_charonAbsent(self) -> None:
        """
        Without charon the first attempt ends as soon as connecting failed:
        what waited fires then, and later callers at once.
        """
        socket = os.path.join(stateDirectory(self), "charon.vici")
        endpoint = RecordingEndpoint(UNIXClientEndpoint(reactor, socket))
        service = IpsecService([SEED], endpoint, socket, Clock(), Logger(namespace="debug"))
        first = service.firstAttempt()
        handled = endpoint.handled
        service.startService()
        self.addCleanup(service.stopService)
        self.assertNoResult(first)
        await handled
        self.assertIsNone(self.successResultOf(first))
        self.assertIsNone(self.successResultOf(service.firstAttempt()))
        self.assertIsNotNone(service.problem)


class ClearTests(TestCase):
    """
    C{clear crypto sa} against the router's charon with the tunnel up (two
    charons in network namespaces, L{tests.ipsechelpers}).
    """

    def setUp(self) -> None:
        requireIpsec()

    @bounded(timeout=15)
    async def test_clearsPhaseTwoOnly(self) -> None:
        """
        With the tunnel up, C{show crypto isakmp sa --json} gives the IKE SA
        in C{sas}; as IOS's, C{clear crypto sa} clears the IPsec SA: the
        CHILD_SA is negotiated again (a new unique id) over the same IKE SA
        (same id).
        """
        pair = await makeNamespaces(self)
        router, callManager = await startCharons(self, pair)
        await loadTunnel(callManager, CALLMANAGER_ADDRESS, ROUTER_ADDRESS)
        connection = evolve(SEED, localAddress=ROUTER_ADDRESS, remoteAddress=CALLMANAGER_ADDRESS,
                            ikeProposals=["aes256-sha256-modp2048"], espProposals=["aes256-sha256"],
                            localTs=[ROUTER_ADDRESS + "/32"], remoteTs=[CALLMANAGER_ADDRESS + "/32"])
        service = IpsecService([connection], UNIXClientEndpoint(reactor, router.socketPath), router.socketPath,
                               Clock(), Logger(namespace="debug"))
        table = CommandTable()
        registerIpsecCommands(table, service)
        service.startService()
        self.addCleanup(service.stopService)
        await router.process.waitFor(b"CHILD_SA rtp-1{2} established")
        before = (await listSas(router))["rtp-1"]
        command, variables = table.lookup("show crypto isakmp sa".split())
        isakmp = await maybeDeferred(command.handler, **variables)
        self.assertEqual(isakmp.data["sas"], [{
            "dst": CALLMANAGER_ADDRESS, "src": ROUTER_ADDRESS, "state": "QM_IDLE",
            "conn-id": int(before["uniqueid"]), "status": "ACTIVE", "version": 1, "name": "rtp-1",
            "charon-state": "ESTABLISHED"}])
        command, variables = table.lookup("clear crypto sa".split())
        result = await maybeDeferred(command.handler, **variables)
        self.assertEqual((result.exitCode, result.data), (0, {"cleared": True}))
        await router.process.waitFor(b"CHILD_SA rtp-1{3} established")
        after = (await listSas(router))["rtp-1"]
        self.assertEqual((after["uniqueid"], after["state"]), (before["uniqueid"], "ESTABLISHED"))
        [childBefore] = before["child-sas"].values()
        [childAfter] = [child for child in after["child-sas"].values() if child["state"] == "INSTALLED"]
        self.assertEqual((childBefore["uniqueid"], childAfter["uniqueid"]), ("2", "3"))
        self.assertNotEqual(childBefore["spi-in"], childAfter["spi-in"])
