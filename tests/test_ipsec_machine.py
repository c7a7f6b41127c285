"""
Tests for L{srst.ipsec._machine} and L{srst.ipsec._core}: the IPsec
machine's states and transitions, driven through L{IpsecService} on a
L{Clock}, with the VICI connection on a string transport and a small
charon stand-in answering srst's requests.
"""

from __future__ import annotations

import errno
import struct

from attrs import evolve
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.logger import LogEvent, Logger, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from vici.protocol import FiniteStream, Message
from zope.interface import implementer

from srst.ipsec.service import IpsecService, IpsecStatus
from srst.ipsec.vici import EVENT_CONFIRM, EVENT_REGISTER, EVENT_UNREGISTER, REQUEST, RESPONSE, ViciError
from tests.test_ipsec_vici import SEED

SECOND = evolve(SEED, sequence=2, remoteAddress="10.1.1.14", remoteTs=["10.1.1.14/32"])
SOCKET = "/run/charon.vici"


@implementer(IStreamClientEndpoint)
class ManualEndpoint:
    """
    An endpoint whose connection attempts the test ends: L{accept} on a
    string transport, or L{refuse}.
    """

    def __init__(self) -> None:
        self.attempts: list[tuple[Factory, Deferred[Protocol]]] = []

    def connect(self, factory: Factory) -> Deferred[Protocol]:
        d: Deferred[Protocol] = Deferred()
        self.attempts.append((factory, d))
        return d

    def accept(self) -> StringTransportWithDisconnection:
        factory, d = self.attempts[-1]
        protocol = factory.buildProtocol(None)
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        d.callback(protocol)
        return transport

    def refuse(self) -> None:
        self.attempts[-1][1].errback(ConnectionRefusedError(osError=errno.ECONNREFUSED))


class Charon:
    """
    Answers the requests srst wrote to a transport: C{success = yes}
    except the commands (with their subject) in C{refuse}; C{list-sas}
    reports no IKE SA.

    @ivar commands: what srst asked, in order (C{"load-shared srst-rtp-1"},
        C{"register log"}, ...).
    """

    def __init__(self, transport: StringTransportWithDisconnection) -> None:
        self.transport = transport
        self.commands: list[str] = []
        self.refuse: set[str] = set()

    def answer(self, count: int = -1) -> None:
        """Answer C{count} requests (all of them, as they come, when -1)."""
        while count and self.transport.value():
            data = self.transport.value()
            (length,) = struct.unpack("!I", data[:4])
            payload, rest = data[4:4 + length], data[4 + length:]
            self.transport.clear()
            self.transport.write(rest)
            self.transport.protocol.dataReceived(self._reply(payload))
            count -= 1

    def _reply(self, payload: bytes) -> bytes:
        kind, length = payload[0], payload[1]
        name = payload[2:2 + length].decode()
        if kind in (EVENT_REGISTER, EVENT_UNREGISTER):
            self.commands.append(("register " if kind == EVENT_REGISTER else "unregister ") + name)
            return self._frame(bytes([EVENT_CONFIRM]))
        assert kind == REQUEST
        message = Message.deserialize(FiniteStream(payload[2 + length:]))
        subject = next((v for v in message.values() if isinstance(v, bytes)), b"")
        command = f"{name} {subject.decode()}" if subject else f"{name} {','.join(message)}"
        self.commands.append(command)
        if command in self.refuse:
            return self._frame(bytes([RESPONSE]) + Message.serialize({"success": "no", "errmsg": "refused"}))
        return self._frame(bytes([RESPONSE]) + Message.serialize({"success": "yes"}))

    @staticmethod
    def _frame(payload: bytes) -> bytes:
        return struct.pack("!I", len(payload)) + payload


LOAD_SEED = ["register log", "register ike-updown", "register child-updown", "load-shared srst-rtp-1",
             "load-conn rtp-1", "initiate rtp-1"]


class IpsecMachineTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = ManualEndpoint()
        self.service = IpsecService([SEED], self.endpoint, SOCKET, self.clock, Logger(namespace="debug"))
        self.events: list[LogEvent] = []
        logs = capturedLogs()
        self.events = logs.__enter__()
        self.addCleanup(logs.__exit__, None, None, None)

    def lines(self) -> list[str]:
        return [formatEvent(e) for e in self.events if e.get("log_namespace") == "srst.ipsec.service"]

    def timers(self) -> list[float]:
        """The times of the pending delayed calls (the machine's and the VICI requests')."""
        return [call.getTime() for call in self.clock.getDelayedCalls()]

    def connect(self) -> Charon:
        """Start, and let charon accept: the machine is loading."""
        self.service.startService()
        charon = Charon(self.endpoint.accept())
        self.assertIs(self.service.status(), IpsecStatus.LOADING)
        return charon

    def up(self) -> Charon:
        charon = self.connect()
        charon.answer()
        self.assertIs(self.service.status(), IpsecStatus.UP)
        return charon

    def test_idle(self) -> None:
        """
        Before start the machine is idle, with no timer and no attempt to
        reach charon; stopping it then is immediate.
        """
        self.assertIs(self.service.status(), IpsecStatus.IDLE)
        self.assertEqual((self.endpoint.attempts, self.timers()), ([], []))
        self.successResultOf(self.service.stopService())
        self.assertIs(self.service.status(), IpsecStatus.STOPPED)

    def test_unreachableRetries(self) -> None:
        """
        Start connects; a refused connection says why once, arms the
        retry timer (the only timer) and ends the first attempt; the timer
        connects again.
        """
        first = self.service.firstAttempt()
        self.service.startService()
        self.assertIs(self.service.status(), IpsecStatus.CONNECTING)
        self.assertNoResult(first)
        self.endpoint.refuse()
        self.successResultOf(first)
        self.successResultOf(self.service.firstAttempt())
        self.assertIs(self.service.status(), IpsecStatus.RETRYING)
        self.assertEqual(self.timers(), [10.0])
        self.assertEqual(self.service.problem, f"charon not reachable at {SOCKET}: Connection refused (is charon "
                         "running? see etc/supervisord.conf [program:charon])")
        self.clock.advance(10)
        self.assertIs(self.service.status(), IpsecStatus.CONNECTING)
        self.assertEqual((len(self.endpoint.attempts), self.timers()), (2, []))
        self.endpoint.refuse()
        self.assertEqual(len(self.lines()), 1)

    def test_loadedThenChecked(self) -> None:
        """
        Connected, the machine loads every entry; once loaded (the first
        attempt done) it is up with the check timer armed; the check lists
        the SAs, says the tunnel is down, initiates it again, and arms the
        next check.
        """
        first = self.service.firstAttempt()
        charon = self.connect()
        self.assertNoResult(first)
        charon.answer()
        self.successResultOf(first)
        self.assertEqual(charon.commands, LOAD_SEED)
        self.assertEqual(self.timers(), [10.0])
        self.clock.advance(10)
        self.assertIs(self.service.status(), IpsecStatus.CHECKING)
        charon.answer()
        self.assertIs(self.service.status(), IpsecStatus.UP)
        self.assertEqual(charon.commands[len(LOAD_SEED):], [
            "register list-sa", "list-sas ", "unregister list-sa", "initiate rtp-1"])
        self.assertEqual(self.service.tunnelsDown, {"rtp-1"})
        self.assertEqual(self.timers(), [20.0])
        self.assertEqual(self.lines()[-1], "IPsec: no IKE SA with 10.1.1.13 (crypto map rtp 1); tunnel down, "
                                           "initiating again every 10 s")

    def test_lostWhileUp(self) -> None:
        """
        Charon gone while up: the check timer is cancelled, the retry timer
        armed, and C{show}'s problem says why.
        """
        charon = self.up()
        self.clock.advance(5)
        charon.transport.loseConnection()
        self.assertIs(self.service.status(), IpsecStatus.RETRYING)
        self.assertEqual(self.timers(), [15.0])
        self.assertEqual(self.service.problem, f"lost the VICI connection to charon at {SOCKET}: Connection "
                                               "was closed cleanly: Bye..")
        self.failureResultOf(self.service.clear(), ViciError)

    def test_lostWhileLoading(self) -> None:
        """
        Charon gone while loading: the machine retries, and the first
        attempt is over.
        """
        first = self.service.firstAttempt()
        charon = self.connect()
        charon.answer(4)
        charon.transport.loseConnection()
        self.successResultOf(first)
        self.assertIs(self.service.status(), IpsecStatus.RETRYING)
        self.assertEqual(self.timers(), [10.0])

    def test_lostWhileChecking(self) -> None:
        """Charon gone during the check: retrying, with only the retry timer."""
        charon = self.up()
        self.clock.advance(10)
        charon.transport.loseConnection()
        self.assertIs(self.service.status(), IpsecStatus.RETRYING)
        self.assertEqual(self.timers(), [20.0])

    def test_stopWhileConnecting(self) -> None:
        """
        Stopped while connecting: the stop waits for the connection, closes
        it without a request, and leaves no timer.
        """
        first = self.service.firstAttempt()
        self.service.startService()
        stopped = self.service.stopService()
        self.assertIs(self.service.status(), IpsecStatus.STOPPING)
        self.assertNoResult(stopped)
        transport = self.endpoint.accept()
        self.successResultOf(stopped)
        self.successResultOf(first)
        self.assertEqual((transport.value(), transport.connected), (b"", False))
        self.assertIs(self.service.status(), IpsecStatus.STOPPED)
        self.assertEqual(self.timers(), [])

    def test_stopWhileConnectingRefused(self) -> None:
        """Stopped while connecting, then refused: stopped, with no retry timer."""
        self.service.startService()
        stopped = self.service.stopService()
        self.endpoint.refuse()
        self.successResultOf(stopped)
        self.assertEqual(self.timers(), [])

    def test_stopWhileLoading(self) -> None:
        """
        Stopped while loading: loading finishes, then only what charon took
        is unloaded (not the entry it refused), the connection is closed and
        no timer is left.
        """
        self.service = IpsecService([SEED, SECOND], self.endpoint, SOCKET, self.clock, Logger(namespace="debug"))
        charon = self.connect()
        charon.refuse.add("load-shared srst-rtp-2")
        charon.answer(4)
        stopped = self.service.stopService()
        self.assertIs(self.service.status(), IpsecStatus.STOPPING)
        self.assertNoResult(stopped)
        charon.answer()
        self.successResultOf(stopped)
        self.assertEqual(charon.commands[len(LOAD_SEED):], [
            "load-shared srst-rtp-2", "unload-conn rtp-1", "unload-shared srst-rtp-1"])
        self.assertFalse(charon.transport.connected)
        self.assertIs(self.service.status(), IpsecStatus.STOPPED)
        self.assertEqual(self.timers(), [])

    def test_stopWhileRetrying(self) -> None:
        """Stopped while waiting to retry: the retry timer is cancelled at once."""
        self.service.startService()
        self.endpoint.refuse()
        self.successResultOf(self.service.stopService())
        self.assertEqual((self.timers(), len(self.endpoint.attempts)), ([], 1))
        self.assertIs(self.service.status(), IpsecStatus.STOPPED)

    def test_stopWhileUp(self) -> None:
        """Stopped while up: the check timer is cancelled, srst's entries unloaded."""
        charon = self.up()
        stopped = self.service.stopService()
        self.assertIs(self.service.status(), IpsecStatus.STOPPING)
        charon.answer()
        self.successResultOf(stopped)
        self.assertEqual(charon.commands[len(LOAD_SEED):], ["unload-conn rtp-1", "unload-shared srst-rtp-1"])
        self.assertEqual(self.timers(), [])
        self.assertFalse(charon.transport.connected)

    def test_lostWhileUnloading(self) -> None:
        """
        Charon gone while a stop unloads srst's entries: one warning names
        what was not unloaded (not a line per command), and the service is
        stopped with no timer left.
        """
        charon = self.up()
        before = len(self.lines())
        stopped = self.service.stopService()
        charon.transport.loseConnection()
        self.successResultOf(stopped)
        self.assertIs(self.service.status(), IpsecStatus.STOPPED)
        self.assertEqual(self.timers(), [])
        self.assertEqual(self.lines()[before:], [
            "IPsec: lost charon while unloading srst's crypto maps (Connection was closed cleanly: Bye..); not"
            " unloaded: rtp-1"])

    def test_stopWhileChecking(self) -> None:
        """Stopped during the check: the check finishes, then srst's entries are unloaded."""
        charon = self.up()
        self.clock.advance(10)
        charon.answer(1)
        stopped = self.service.stopService()
        self.assertNoResult(stopped)
        charon.answer()
        self.successResultOf(stopped)
        self.assertEqual(charon.commands[-2:], ["unload-conn rtp-1", "unload-shared srst-rtp-1"])
        self.assertEqual(self.timers(), [])

    def test_reconfigureDisconnected(self) -> None:
        """
        A new configuration while charon is unreachable is kept and loaded
        as a whole on connecting; C{clear} says charon is not reachable.
        """
        self.service.startService()
        self.endpoint.refuse()
        self.successResultOf(self.service.reconfigure([SECOND]))
        self.assertEqual(list(self.service.connections), ["rtp-2"])
        error = self.failureResultOf(self.service.clear(), ViciError).value
        self.assertEqual(str(error), self.service.problem)
        self.clock.advance(10)
        charon = Charon(self.endpoint.accept())
        charon.answer()
        self.assertEqual(charon.commands[3:], ["load-shared srst-rtp-2", "load-conn rtp-2", "initiate rtp-2"])

    def test_reconfigureUp(self) -> None:
        """
        A new configuration while up unloads the changed entry and loads the
        new one, staying up with its check timer.
        """
        charon = self.up()
        done = self.service.reconfigure([SECOND])
        charon.answer()
        self.successResultOf(done)
        self.assertEqual(charon.commands[len(LOAD_SEED):], [
            "terminate rtp-1", "unload-conn rtp-1", "unload-shared srst-rtp-1", "load-shared srst-rtp-2",
            "load-conn rtp-2", "initiate rtp-2"])
        self.assertIs(self.service.status(), IpsecStatus.UP)
        self.assertEqual(self.timers(), [10.0])


    def test_stopFromFirstAttempt(self) -> None:
        """
        A stop from a L{IpsecService.firstAttempt} callback (as the MGCP
        hold's continuation does), which runs inside the transition that
        ended the attempt, is queued: with charon absent the service stops,
        leaving no timer.
        """
        stopped: list[Deferred[None]] = []
        self.service.firstAttempt().addCallback(lambda _: stopped.append(self.service.stopService()))
        self.service.startService()
        self.endpoint.refuse()
        self.successResultOf(stopped[0])
        self.assertIs(self.service.status(), IpsecStatus.STOPPED)
        self.assertEqual(self.timers(), [])

    def test_reconfigureFromFirstAttempt(self) -> None:
        """
        A reconfiguration from a L{IpsecService.firstAttempt} callback is
        queued and applied once up.
        """
        done: list[Deferred[None]] = []
        self.service.firstAttempt().addCallback(lambda _: done.append(self.service.reconfigure([SECOND])))
        charon = self.connect()
        charon.answer()
        self.successResultOf(done[0])
        self.assertEqual(charon.commands[len(LOAD_SEED):], [
            "terminate rtp-1", "unload-conn rtp-1", "unload-shared srst-rtp-1", "load-shared srst-rtp-2",
            "load-conn rtp-2", "initiate rtp-2"])
        self.assertIs(self.service.status(), IpsecStatus.UP)

    def test_lostWhileLoadingIsNoRefusal(self) -> None:
        """
        Charon gone in the middle of loading an entry: the entry is not
        said to be refused (no line, no error for C{show}); the log says
        the connection was lost and the machine retries.
        """
        charon = self.connect()
        charon.answer(4)
        charon.transport.loseConnection()
        self.assertIs(self.service.status(), IpsecStatus.RETRYING)
        self.assertEqual(self.service.errors, {})
        self.assertEqual(self.lines(), [
            f"IPsec: lost the VICI connection to charon at {SOCKET}: Connection was closed cleanly: Bye..; "
            "retrying every 10 s"])

    def test_timeoutWhileLoadingIsNoRefusal(self) -> None:
        """
        A request unanswered while loading drops the connection: not a
        refusal either, the machine retries.
        """
        charon = self.connect()
        charon.answer(4)
        self.clock.advance(10)
        self.assertIs(self.service.status(), IpsecStatus.RETRYING)
        self.assertEqual(self.service.errors, {})
        self.assertEqual(self.lines(), [
            f"IPsec: lost the VICI connection to charon at {SOCKET}: charon did not answer load-conn within "
            "10 s; retrying every 10 s"])
        self.assertEqual(self.timers(), [20.0])

    def test_lostWhileDraining(self) -> None:
        """
        Charon gone while a stop waits for the loading to end: nothing is
        left to unload, the service is stopped with no timer left.
        """
        charon = self.connect()
        charon.answer(4)
        stopped = self.service.stopService()
        self.assertNoResult(stopped)
        charon.transport.loseConnection()
        self.successResultOf(stopped)
        self.assertIs(self.service.status(), IpsecStatus.STOPPED)
        self.assertEqual(self.timers(), [])
        self.assertEqual(self.service.errors, {})
        self.assertEqual(charon.commands, LOAD_SEED[:4])

    def test_reconfigureWhileLoading(self) -> None:
        """
        A reconfiguration (and a C{clear} before it) while loading waits
        for the loading to end: the removed entry is unloaded after it was
        loaded, not loaded again after the reload reported it removed, and
        C{clear} skips it.
        """
        charon = self.connect()
        charon.answer(4)
        cleared = self.service.clear()
        done = self.service.reconfigure([SECOND])
        charon.answer()
        self.successResultOf(cleared)
        self.successResultOf(done)
        self.assertEqual(charon.commands[len(LOAD_SEED):], [
            "terminate rtp-1", "unload-conn rtp-1", "unload-shared srst-rtp-1", "load-shared srst-rtp-2",
            "load-conn rtp-2", "initiate rtp-2"])
        self.assertIs(self.service.status(), IpsecStatus.UP)
        self.assertEqual(self.timers(), [10.0])

    def test_stopWhileReconfiguring(self) -> None:
        """
        A stop while a reconfiguration is loading an entry unloads once it
        has ended, that entry too.
        """
        charon = self.up()
        done = self.service.reconfigure([SEED, SECOND])
        charon.answer(1)
        stopped = self.service.stopService()
        charon.answer()
        self.successResultOf(done)
        self.successResultOf(stopped)
        self.assertEqual(charon.commands[len(LOAD_SEED):], [
            "load-shared srst-rtp-2", "load-conn rtp-2", "initiate rtp-2", "unload-conn rtp-1",
            "unload-shared srst-rtp-1", "unload-conn rtp-2", "unload-shared srst-rtp-2"])
        self.assertIs(self.service.status(), IpsecStatus.STOPPED)
        self.assertEqual(self.timers(), [])
