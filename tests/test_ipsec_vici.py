"""
Tests for L{srst.ipsec.vici}: the codec and protocol on a string transport,
then against a real charon in its own network namespace.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.task import Clock
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from vici.protocol import Message

from srst.ipsec.connections import Connection, loadConnMessage, loadSharedMessage
from srst.ipsec.vici import (
    EVENT,
    RESPONSE,
    ViciCommandFailed,
    ViciConnectionLost,
    ViciDecodeError,
    ViciPacket,
    ViciProtocol,
    ViciTimeout,
    connectVici,
    decodePacket,
    encodeRegister,
    encodeRequest,
)
from tests.routerhelpers import stateDirectory
from tests.charonhelpers import startCharon

SEED = Connection(
    mapName="rtp", sequence=1, interface="FastEthernet0/0",
    localAddress="10.1.1.22", remoteAddress="10.1.1.13", psk="cisco123",
    ikeProposals=["aes128-sha256-modp2048"], espProposals=["aes128-sha256"],
    localTs=["10.1.1.22/32"], remoteTs=["10.1.1.13/32"],
    transformSet="rtpset", transforms=["esp-aes", "esp-sha256-hmac"],
    accessList="116", accessListLines=["access-list 116 permit ip host 10.1.1.22 host 10.1.1.13"],
    ikeLifetime=28800)


def frame(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


def response(message: dict[str, Any]) -> bytes:
    return frame(bytes([RESPONSE]) + Message.serialize(message))


def event(name: str, message: dict[str, Any]) -> bytes:
    return frame(bytes([EVENT, len(name)]) + name.encode() + Message.serialize(message))


class CodecTests(SynchronousTestCase):
    def test_request(self) -> None:
        """
        A request is its type, the command's length and name, then the
        message in VICI's element encoding.
        """
        self.assertEqual(encodeRequest("unload-conn", {"name": "rtp-1"}),
                         b"\x00\x0bunload-conn" + b"\x03\x04name\x00\x05rtp-1")
        self.assertEqual(encodeRegister("log"), b"\x03\x03log")

    def test_decodeEvent(self) -> None:
        """
        An event decodes to its name and a message of C{str} values, nested
        sections and lists kept.
        """
        packet = decodePacket(event("list-sa", {"rtp-1": {"state": "ESTABLISHED", "local-ts": ["10.1.1.22/32"]}})[4:])
        self.assertEqual(packet, ViciPacket(EVENT, "list-sa",
                                            {"rtp-1": {"state": "ESTABLISHED", "local-ts": ["10.1.1.22/32"]}}))

    def test_decodeGarbage(self) -> None:
        """
        A truncated packet raises L{ViciDecodeError}, never a struct error.
        """
        self.assertRaises(ViciDecodeError, decodePacket, b"")
        self.assertRaises(ViciDecodeError, decodePacket, bytes([EVENT, 9]) + b"log")
        self.assertRaises(ViciDecodeError, decodePacket, bytes([RESPONSE]) + b"\x03\x04name\x00\x09rtp")


class ProtocolTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lost: list[Failure] = []
        self.clock = Clock()
        self.protocol = ViciProtocol(lambda name, message: self.events.append((name, message)), self.lost.append,
                                     self.clock)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def test_oneAtATime(self) -> None:
        """
        Requests go out one at a time, each after the previous answer;
        C{success = no} fails with charon's C{errmsg}.
        """
        first = self.protocol.request("load-conn", {"a": {"version": "1"}})
        second = self.protocol.request("unload-conn", {"name": "b"})
        self.assertEqual(self.transport.value(), frame(encodeRequest("load-conn", {"a": {"version": "1"}})))
        self.transport.clear()
        self.protocol.dataReceived(response({"success": "yes"}))
        self.assertEqual(self.successResultOf(first), {"success": "yes"})
        self.assertEqual(self.transport.value(), frame(encodeRequest("unload-conn", {"name": "b"})))
        self.protocol.dataReceived(response({"success": "no", "errmsg": "unload: connection 'b' not found"}))
        self.assertEqual(str(self.failureResultOf(second, ViciCommandFailed).value),
                         "unload: connection 'b' not found")

    def test_streamed(self) -> None:
        """
        A streamed request registers its event, collects the events sent
        before the response, and unregisters; other events go to the owner.
        """
        d = self.protocol.streamedRequest("list-sas", "list-sa")
        self.protocol.dataReceived(frame(bytes([5])))  # EVENT_CONFIRM
        self.protocol.dataReceived(event("list-sa", {"rtp-1": {"state": "CONNECTING"}}))
        self.protocol.dataReceived(event("log", {"msg": "hello"}))
        self.protocol.dataReceived(response({}))
        self.assertNoResult(d)
        self.protocol.dataReceived(frame(bytes([5])))
        self.assertEqual(self.successResultOf(d), ([{"rtp-1": {"state": "CONNECTING"}}], {}))
        self.assertEqual(self.events, [("log", {"msg": "hello"})])

    def test_lost(self) -> None:
        """
        Losing the connection fails what is pending and tells the owner.
        """
        d = self.protocol.request("list-conns")
        self.protocol.connectionLost(Failure(ConnectionRefusedError("gone")))
        self.failureResultOf(d, ViciConnectionLost)
        self.assertEqual(len(self.lost), 1)
        self.failureResultOf(self.protocol.request("version"), ViciConnectionLost)

    def test_timeout(self) -> None:
        """
        A request charon does not answer within the timeout fails with
        L{ViciTimeout}, so does what is queued behind it; the connection
        is dropped and the owner told why.
        """
        first = self.protocol.request("list-conns")
        second = self.protocol.request("version")
        self.clock.advance(9.9)
        self.assertNoResult(first)
        self.clock.advance(0.1)
        reason = "charon did not answer list-conns within 10 s"
        self.assertEqual(str(self.failureResultOf(first, ViciTimeout).value), reason)
        self.failureResultOf(second, ViciTimeout)
        self.assertTrue(self.transport.disconnecting)
        self.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual([failure.getErrorMessage() for failure in self.lost], [reason])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_answerCancelsTimeout(self) -> None:
        """
        An answer in time cancels the request's timer.
        """
        d = self.protocol.request("version")
        self.protocol.dataReceived(response({"daemon": "charon"}))
        self.successResultOf(d)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_garbageDrops(self) -> None:
        """
        A packet that does not decode ends the connection and fails what is
        pending.
        """
        d = self.protocol.request("version")
        self.protocol.dataReceived(frame(bytes([EVENT, 40]) + b"x"))
        self.failureResultOf(d, ViciDecodeError)
        self.assertTrue(self.transport.disconnecting)


class RealCharonTests(TestCase):
    """
    The protocol against strongSwan 5.9's charon.
    """

    async def connect(self) -> ViciProtocol:
        socket = os.path.join(stateDirectory(self), "charon.vici")  # short: UNIX paths hold 108 bytes
        await startCharon(self, socket)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.eventArrived: Deferred[None] = Deferred()
        """Fires on charon's "initiating Main Mode" log event (not on the
        config lines that may come before it)."""

        def onEvent(name: str, message: dict[str, Any]) -> None:
            self.events.append((name, message))
            if message.get("msg", "").startswith("initiating Main Mode") and not self.eventArrived.called:
                self.eventArrived.callback(None)

        protocol = await connectVici(UNIXClientEndpoint(reactor, socket), onEvent, lambda reason: None, reactor)
        self.addCleanup(protocol.transport.loseConnection)
        return protocol

    async def test_loadConnRoundTrip(self) -> None:
        """
        A connection loaded with C{load-conn} is listed by C{list-conns} as
        IKEv1 with PSK and the ACL's traffic selectors, and is gone after
        C{unload-conn}; unloading it again fails with charon's reason.
        """
        vici = await self.connect()
        self.assertEqual(await vici.request("load-conn", loadConnMessage(SEED)), {"success": "yes"})
        conns, _ = await vici.streamedRequest("list-conns", "list-conn")
        self.assertEqual(len(conns), 1)
        rtp = conns[0]["rtp-1"]
        self.assertEqual((rtp["version"], rtp["local_addrs"], rtp["remote_addrs"], rtp["local-1"]["class"]),
                         ("IKEv1", ["10.1.1.22"], ["10.1.1.13"], "pre-shared key"))
        self.assertEqual((rtp["children"]["rtp-1"]["local-ts"], rtp["children"]["rtp-1"]["remote-ts"]),
                         (["10.1.1.22/32"], ["10.1.1.13/32"]))
        await vici.request("unload-conn", {"name": "rtp-1"})
        conns, _ = await vici.streamedRequest("list-conns", "list-conn")
        self.assertEqual(conns, [])
        failure = await self.assertFailure(vici.request("unload-conn", {"name": "rtp-1"}), ViciCommandFailed)
        self.assertEqual(str(failure), "unload: connection 'rtp-1' not found")

    async def test_sharedSecret(self) -> None:
        """
        C{load-shared} stores the PSK under srst's id, C{unload-shared}
        removes it.
        """
        vici = await self.connect()
        await vici.request("load-shared", loadSharedMessage(SEED))
        self.assertEqual(await vici.request("get-shared"), {"keys": ["srst-rtp-1"]})
        await vici.request("unload-shared", {"id": "srst-rtp-1"})
        self.assertEqual(await vici.request("get-shared"), {"keys": []})

    async def test_logEvent(self) -> None:
        """
        With C{log} registered, initiating the CHILD_SA (returning at once,
        C{timeout = -1}) brings charon's IKE log lines as events.
        """
        vici = await self.connect()
        await vici.register("log")
        await vici.request("load-conn", loadConnMessage(SEED))
        await vici.request("initiate", {"child": "rtp-1", "ike": "rtp-1", "timeout": "-1"})
        await self.eventArrived
        names = {name for name, _ in self.events}
        self.assertEqual(names, {"log"})
        messages = [message["msg"] for _, message in self.events if message.get("group") == "IKE"]
        self.assertIn("initiating Main Mode IKE_SA rtp-1[1] to 10.1.1.13", messages)
