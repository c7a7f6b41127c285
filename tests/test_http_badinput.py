"""
Issue 15's acceptance bullet on bad input at the HTTP port, against the
real running router over 127.0.0.1: malformed PKCS#7, a CSR with a bad
signature, a wrong challenge password, a 10 MB body, a slow client and a
flood from an untrusted address under the control-plane policy each get a
clear SCEP failInfo or HTTP error (or, for the policed flood, nothing at
all), issue nothing, and leave the certificate server's files (serial
counter, database, CRL, keys) byte for byte as they were.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from srst.pki.scep import FailInfo, MessageType, PkiStatus
from srst.service import utcNow
from tests.pkihelpers import sharedKey
from tests.policinghelpers import requireLoopbackAliases
from tests.routerhelpers import (SEED_POLICY, TimersOnClock, WatchedClock, bounded, freePort, routerYaml,
                                 runCommand, startRouter, stateDirectory)
from tests.scephelpers import Client

SCEP = b"/cgi-bin/pkiclient.exe?operation=PKIOperation"

LIFE = 77
"""http-server's timeout-policy life here: a delay no other timer uses, so
the test sees the server take a connection (it arms this timer)."""


class Collector(Protocol):
    """Sends C{data}, keeps everything it is sent until the connection closes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.received = b""
        self.lost: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.data)

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any) -> None:
        self.lost.callback(self.received)


def post(body: bytes) -> bytes:
    return (b"POST " + SCEP + b" HTTP/1.1\r\nHost: r\r\nContent-Type: application/x-pki-message\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(body),) + body)


def body(head: bytes, content: bytes) -> bytes:
    """
    @return: the response body, with its chunked framing taken off.
    """
    if b"\r\ntransfer-encoding: chunked" not in head.lower():
        return content
    data = b""
    while True:
        size, _, rest = content.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            return data
        data, content = data + rest[:length], rest[length + 2:]


def snapshot(directory: str) -> dict[str, bytes]:
    """
    @return: every file under C{directory}, by relative path, with its bytes.
    """
    files = {}
    for parent, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, directory)] = f.read()
    return files


class BadInputTests(TestCase):
    """
    Each case on a router with grant auto (a good request would be issued
    at once) and an RSA CA (SCEP envelopes need one).
    """

    @bounded
    def startRouter(self, policy: bool = False) -> Any:
        self.stateDir = stateDirectory(self)
        self.caDirectory = os.path.join(self.stateDir, "pki", "server", "srstcaserver")
        os.makedirs(self.caDirectory)
        keyPath = os.path.join(self.caDirectory, "ca.key")
        with open(os.open(keyPath, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(sharedKey("scep-ca", "rsa", 2048).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.port = freePort()
        extra = (f"http-server: {{address: 127.0.0.1, port: {self.port}, timeout-policy: {{life: {LIFE}}}}}\n"
                 + (SEED_POLICY.format(port=self.port) if policy else ""))
        yaml = routerYaml(self.stateDir, extra=extra).replace(
            "    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n",
            "    grant: auto\n    rsakeypair: {type: rsa, bits: 2048}\n")
        self.clock = WatchedClock()
        self.service = yield startRouter(self, yaml, reactor=TimersOnClock(reactor, self.clock))
        # A one-time password exists: a wrong one is refused, not merely absent.
        yield runCommand(self.service, "crypto", "pki", "server", "srstcaserver", "password", "generate")
        self.ca = self.service.certificateServer
        self.lastSerial = self.ca.lastSerial
        self.before = snapshot(self.caDirectory)
        self.assertIn("ca.key", self.before)
        self.logged: list[str] = []

        def observe(event: dict[str, Any]) -> None:
            if event.get("log_namespace") in ("srst.http", "srst.pki.scep"):
                self.logged.append(formatEvent(event))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)

    def assertIntact(self) -> None:
        """
        Nothing issued, nothing queued, the CA's files byte for byte as
        they were.
        """
        self.assertEqual(self.ca.lastSerial, self.lastSerial)
        self.assertEqual(self.ca.pendingRequests(), [])
        self.assertEqual(snapshot(self.caDirectory), self.before)

    def send(self, data: bytes) -> Deferred[bytes]:
        client = Collector(data)
        connected = connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.port), client)
        return connected.addCallback(lambda _: client.lost)

    @bounded
    def test_scepRefusals(self) -> Any:
        """
        Malformed PKCS#7 is a 400 naming the failInfo; a CSR with a broken
        signature and a wrong challenge password are CertRep FAILURE with
        badMessageCheck / badRequest; none issues anything.
        """
        yield self.startRouter()
        client = Client(self.ca.caCertificate, "SEP00AABBCCDDEE", utcNow())
        csr = bytearray(client.csr().public_bytes(serialization.Encoding.DER))
        csr[-3] ^= 0x55
        cases = [
            ("malformed PKCS#7", lambda: b"\x30\x82\x01\x00nonsense", None, None),
            ("CSR with a bad signature", lambda: client.message(MessageType.PKCS_REQ, bytes(csr)),
             FailInfo.BAD_MESSAGE_CHECK, "the request's signature does not verify"),
            ("wrong challenge password", lambda: client.pkcsReq("guess"), FailInfo.BAD_REQUEST, None),
        ]
        # Each message is made just before it is sent: the reply echoes the client's last nonce.
        for name, message, failInfo, _ in cases:
            received = yield self.send(post(message()))
            head, _, content = received.partition(b"\r\n\r\n")
            content = body(head, content)
            if failInfo is None:
                self.assertTrue(head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), name)
                self.assertIn(b"not a usable SCEP message: badMessageCheck: malformed pkiMessage", content, name)
            else:
                self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), name)
                reply = client.reply(content)
                self.assertEqual((reply[0].pkiStatus, reply[0].failInfo, reply[1]),
                                 (PkiStatus.FAILURE, failInfo, []), name)
            self.assertIntact()
        # The refusals are logged with the peer and the reason; repeats from the same peer are counted
        # (LogLimiter), so the wrong password, the third refusal, is not a line of its own.
        self.assertEqual(len(self.logged), 2, self.logged)
        self.assertTrue(self.logged[0].startswith("SCEP: 127.0.0.1: unusable PKIOperation message: badMessageCheck:"
                                                  " malformed pkiMessage"), self.logged)
        self.assertEqual(self.logged[1], "SCEP: 127.0.0.1: PKCSReq transaction tx-client from CN=SEP00AABBCCDDEE"
                                         f" failed: badMessageCheck: {cases[1][3]}")

    @bounded
    def test_tenMegabyteBody(self) -> Any:
        """
        A PKIOperation announcing 10 MB is answered 413 before its body is
        read, and the connection closed.
        """
        yield self.startRouter()
        received = yield self.send(b"POST " + SCEP + b" HTTP/1.1\r\nHost: r\r\nContent-Length: 10485760\r\n\r\n"
                                   + b"\x30" * 65536)
        self.assertEqual(received, b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\n"
                                   b"Connection: close\r\n\r\n")
        self.assertIntact()

    @bounded
    def test_slowClient(self) -> Any:
        """
        A client whose headers are not complete 30 s after it connected is
        cut off, with a log line; nothing reaches the SCEP server.
        """
        yield self.startRouter()
        taken = self.clock.armed(LIFE)
        client = Collector(b"POST " + SCEP + b" HTTP/1.1\r\nHost: r\r\nContent-Le")
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.port), client)
        yield taken
        self.clock.advance(29)
        self.assertFalse(client.lost.called)
        self.clock.advance(1)
        self.assertEqual((yield client.lost), b"")
        self.assertIn("127.0.0.1: connection closed, request headers not complete within 30.0 s", self.logged)
        self.assertIntact()

    @bounded
    def test_policedFlood(self) -> Any:
        """
        Under the seed's policy (an access list naming the HTTP port, the
        class dropped), 50 connections from 127.0.0.2 each carrying a good
        PKCSReq are dropped unanswered and counted; nothing is issued; a
        request from 127.0.0.1 is still served.
        """
        requireLoopbackAliases()
        yield self.startRouter(policy=True)
        request = post(Client(self.ca.caCertificate, "SEP00AABBCCDDEF", utcNow()).pkcsReq())
        factory = ClientFactory()
        factory.received, factory.lost, total = [], [], 50
        done: Deferred[None] = Deferred()

        class Flooder(Protocol):
            def connectionMade(self) -> None:
                self.transport.write(request)

            def dataReceived(self, data: bytes) -> None:
                factory.received.append(data)

            def connectionLost(self, reason: Any) -> None:
                factory.lost.append(None)
                if len(factory.lost) == total:
                    done.callback(None)

        factory.protocol = Flooder
        for _ in range(total):
            reactor.connectTCP("127.0.0.1", self.port, factory, bindAddress=("127.0.0.2", 0))
        yield done
        self.assertEqual(factory.received, [])
        self.assertIntact()
        stats = yield runCommand(self.service, "show", "policy-map", "control-plane")
        policed = stats.data["classes"][0]
        self.assertEqual(policed["refusedConnections"], total)
        received = yield self.send(b"GET /crl/srstcaserver.crl HTTP/1.1\r\nHost: r\r\n\r\n")
        self.assertTrue(received.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIntact()
