"""
Tests for L{srst.http.site}: the router's web site, its resource registry,
its limits and its access events.  The limits run on a L{Clock} over a
string transport; what a client sees is checked over real loopback sockets
with Twisted's HTTP client.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import Data

from srst.http.site import HttpSite
from tests.loghelpers import logLines
from tests.routerhelpers import bounded


def accessEvents(testCase):
    """
    @return: a list that collects the C{srst.http.access} events until the
        test ends.
    """
    events = []

    def observe(event):
        if event.get("log_namespace") == "srst.http.access":
            events.append(event)

    globalLogPublisher.addObserver(observe)
    testCase.addCleanup(globalLogPublisher.removeObserver, observe)
    return events


class Echo(Resource):
    """A resource that answers a POST with the length of its body."""

    isLeaf = True

    def render_POST(self, request):
        return b"%d" % (len(request.content.read()),)


class Later(Resource):
    """A resource that answers once the test says so (C{finish})."""

    isLeaf = True

    def __init__(self):
        Resource.__init__(self)
        self.pending = []

    def render_GET(self, request):
        self.pending.append(request)
        return NOT_DONE_YET

    def finish(self):
        request = self.pending.pop(0)
        request.write(b"late")
        request.finish()


class RegistryTests(SynchronousTestCase):
    """
    L{HttpSite.add} builds the tree and refuses what would shadow.
    """

    def test_addRejectsRelativeAndTaken(self):
        site = HttpSite(Clock())
        site.add("/crl/a.crl", Data(b"x", "text/plain"))
        for path, reason in [
            ("crl/b.crl", "expected an absolute path such as /crl/name.crl, not 'crl/b.crl'"),
            ("/crl//b", "expected an absolute path such as /crl/name.crl, not '/crl//b'"),
            ("/crl/a.crl", "/crl/a.crl is served already"),
            ("/crl/a.crl/deeper", "/crl/a.crl/deeper is below a resource already served"),
        ]:
            e = self.assertRaises(ValueError, site.add, path, Data(b"y", "text/plain"))
            self.assertEqual(str(e), reason)


class LimitTests(SynchronousTestCase):
    """
    The limits, on a L{Clock}: what the connection gets, byte for byte.
    """

    def connect(self, **limits):
        self.clock = Clock()
        site = HttpSite(self.clock, **limits)
        site.add("/echo", Echo())
        self.later = Later()
        site.add("/later", self.later)
        self.site = site
        self.events = accessEvents(self)
        protocol = site.factory.buildProtocol(IPv4Address("TCP", "127.0.0.7", 40000))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.7", 40000))
        protocol.makeConnection(transport)
        self.addCleanup(protocol.connectionLost, Failure(ConnectionDone()))
        return protocol, transport

    def test_declaredBodyTooLarge(self):
        """
        A Content-Length over the limit is answered 413 at once, the
        connection closes, the body is never read, and the access event
        says 413.
        """
        protocol, transport = self.connect(maxBody=1000)
        protocol.dataReceived(b"POST /echo HTTP/1.1\r\nHost: r\r\nContent-Length: 10485760\r\n\r\n" + b"x" * 5000)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n"))
        self.assertTrue(transport.disconnecting)
        self.assertEqual([(e["client"], e["method"], e["path"], e["status"], e["bytes"]) for e in self.events],
                         [("127.0.0.7", "POST", "/echo", 413, 0)])

    def test_chunkedBodyTooLarge(self):
        """
        A chunked body is counted as it arrives: past the limit, 413, and
        the resource never runs.
        """
        protocol, transport = self.connect(maxBody=1000)
        protocol.dataReceived(b"POST /echo HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n")
        protocol.dataReceived(b"320\r\n" + b"x" * 800 + b"\r\n")
        self.assertEqual(transport.value(), b"")
        protocol.dataReceived(b"320\r\n" + b"x" * 800 + b"\r\n0\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "))
        self.assertNotIn(b"1600", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_tooLargeLogsItsOwnRequestLine(self):
        """
        The 413 access event names the rejected request's method and path,
        recorded from its request line by the site (not read from the
        channel's private state): on a kept-alive connection, the second
        request's, not the first's.
        """
        protocol, transport = self.connect(maxBody=1000, requests=2)
        protocol.dataReceived(b"GET /echo HTTP/1.1\r\nHost: r\r\n\r\n")
        protocol.dataReceived(b"POST /later?big=1 HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n")
        [request] = protocol.requests
        self.assertEqual(request.requestLine, (b"POST", b"/later?big=1"))
        protocol.dataReceived(b"7d0\r\n" + b"x" * 2000 + b"\r\n")
        self.assertEqual([(e["method"], e["path"], e["status"]) for e in self.events],
                         [("GET", "/echo", 405), ("POST", "/later?big=1", 413)])

    def test_bodyWithinLimit(self):
        """
        A body at the limit reaches the resource.
        """
        protocol, transport = self.connect(maxBody=1000)
        protocol.dataReceived(b"POST /echo HTTP/1.1\r\nHost: r\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertTrue(transport.value().endswith(b"1000"))

    def test_headersTooLarge(self):
        """
        A request line and headers over the limit get 400 and the
        connection closes.
        """
        protocol, transport = self.connect(maxHeaderBytes=2048)
        protocol.dataReceived(b"GET /echo HTTP/1.1\r\nHost: r\r\nX-Junk: " + b"a" * 3000 + b"\r\n\r\n")
        self.assertEqual(transport.value(), b"HTTP/1.1 400 Bad Request\r\n\r\n")
        self.assertTrue(transport.disconnecting)

    def test_slowHeaders(self):
        """
        A client that trickles its headers (a byte every 5 s, never idle
        long enough for the idle timeout) is cut off once the header time
        is up.
        """
        protocol, transport = self.connect(headerTimeout=30, idleTimeout=180)
        with capturedLogs() as events:
            self.trickle(protocol, transport)
        self.assertEqual([formatEvent(e) for e in events if e.get("log_namespace") == "srst.http"],
                         ["127.0.0.7: connection closed, request headers not complete within 30 s"])
        self.assertTrue(transport.disconnected)
        self.assertEqual(self.clock.seconds(), 30)
        self.assertEqual(transport.value(), b"")

    def trickle(self, protocol, transport):
        for byte in b"GET /echo HTTP/1.1\r\nHost: ":
            self.clock.advance(5)
            if transport.disconnected:
                break
            protocol.dataReceived(bytes([byte]))

    def test_idleClientTimedOut(self):
        """
        A client that sends nothing after a complete request is closed
        after the idle time (IOS timeout-policy idle), not before.
        """
        protocol, transport = self.connect(headerTimeout=600, idleTimeout=180, life=600, requests=10)
        protocol.dataReceived(b"GET /nothing HTTP/1.1\r\nHost: r\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 404 Not Found\r\n"))
        self.clock.advance(179)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_requestsPerConnection(self):
        """
        IOS C{timeout-policy requests 2}: the first response keeps the
        connection, the second says C{Connection: close} and closes it.
        """
        protocol, transport = self.connect(requests=2, life=600)
        protocol.dataReceived(b"GET /nothing HTTP/1.1\r\nHost: r\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 404 Not Found\r\n"))
        self.assertNotIn(b"Connection: close", transport.value())
        self.assertFalse(transport.disconnecting)
        transport.clear()
        protocol.dataReceived(b"GET /nothing HTTP/1.1\r\nHost: r\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 404 Not Found\r\n"))
        self.assertIn(b"\r\nConnection: close\r\n", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_defaultOneRequest(self):
        """
        By default (IOS C{requests 1}) a connection serves one request.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"GET /nothing HTTP/1.1\r\nHost: r\r\n\r\n")
        self.assertIn(b"\r\nConnection: close\r\n", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_lifeClosesConnection(self):
        """
        IOS C{timeout-policy life 60}: a connection kept busy (never idle
        long, requests left) is closed 60 s after it opened, with a log
        line.
        """
        protocol, transport = self.connect(requests=100, life=60, idleTimeout=180)
        events = logLines(self, "srst.http")
        for _ in range(5):
            self.clock.advance(11)
            protocol.dataReceived(b"GET /nothing HTTP/1.1\r\nHost: r\r\n\r\n")
            self.assertFalse(transport.disconnecting)
        self.clock.advance(4)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(events, ["127.0.0.7: connection closed, open for 60 s (timeout-policy life)"])

    def test_lifeLetsResponseFinish(self):
        """
        A response under way when the life is up is finished, then the
        connection closes.
        """
        protocol, transport = self.connect(requests=100, life=60)
        protocol.dataReceived(b"GET /later HTTP/1.1\r\nHost: r\r\n\r\n")
        self.clock.advance(60)
        self.assertFalse(transport.disconnecting)
        self.later.finish()
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIn(b"\r\nlate\r\n", transport.value())
        self.assertTrue(transport.disconnecting)


class Collector(Protocol):
    """Sends C{request}, keeps everything it is sent until the connection closes."""

    def __init__(self, request):
        self.request = request
        self.received = b""
        self.lost = Deferred()

    def connectionMade(self):
        self.transport.write(self.request)

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.lost.callback(self.received)


class SocketTests(TestCase):
    """
    The site on a real loopback socket.
    """

    def setUp(self):
        self.site = HttpSite(reactor)
        self.site.add("/hello/world.txt", Data(b"hello\n", "text/plain"))
        self.site.add("/echo", Echo())
        port = reactor.listenTCP(0, self.site.factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.base = b"http://127.0.0.1:%d" % (port.getHost().port,)
        pool = HTTPConnectionPool(reactor, persistent=False)
        self.agent = Agent(reactor, pool=pool)
        self.events = accessEvents(self)

    @bounded
    def test_answersAnd404(self):
        """
        A registered path answers, an unknown one and a directory are 404;
        each request is one access event.
        """
        response = yield self.agent.request(b"GET", self.base + b"/hello/world.txt")
        self.assertEqual((response.code, (yield readBody(response))), (200, b"hello\n"))
        for path in (b"/nothing", b"/hello", b"/hello/other"):
            response = yield self.agent.request(b"GET", self.base + path)
            self.assertEqual(response.code, 404)
            yield readBody(response)
        self.assertEqual([(e["client"], e["method"], e["path"], e["status"]) for e in self.events], [
            ("127.0.0.1", "GET", "/hello/world.txt", 200),
            ("127.0.0.1", "GET", "/nothing", 404),
            ("127.0.0.1", "GET", "/hello", 404),
            ("127.0.0.1", "GET", "/hello/other", 404),
        ])
        self.assertEqual(self.events[0]["bytes"], 6)

    @bounded
    def test_tenMegabyteBody(self):
        """
        A client announcing a 10 MB body gets 413 and the connection closes
        without the body being read.
        """
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", int(self.base.rsplit(b":", 1)[1]))
        client = Collector(b"POST /echo HTTP/1.1\r\nHost: r\r\nContent-Length: 10485760\r\n\r\n" + b"x" * 65536)
        yield connectProtocol(endpoint, client)
        received = yield client.lost
        self.assertEqual(received.split(b"\r\n")[0], b"HTTP/1.1 413 Request Entity Too Large")
        self.assertEqual([e["status"] for e in self.events], [413])


class MaxConnectionsTests(TestCase):
    """
    IOS C{ip http max-connections} on a real loopback socket.
    """

    @bounded
    def test_overLimitRefusedOthersServed(self):
        """
        With two connections open (C{maxConnections=2}), a third is
        answered 503 and closed with a log line naming the limit; the two
        open ones are then served, and once one has closed a new connection
        is served again.
        """
        site = HttpSite(reactor, maxConnections=2)
        site.add("/hello.txt", Data(b"hello\n", "text/plain"))
        port = reactor.listenTCP(0, site.factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
        events = logLines(self, "srst.http")
        request = b"GET /hello.txt HTTP/1.1\r\nHost: r\r\n\r\n"
        holders = [Collector(b""), Collector(b"")]
        for holder in holders:
            yield connectProtocol(endpoint, holder)
        refused = Collector(request)
        yield connectProtocol(endpoint, refused)
        received = yield refused.lost
        self.assertEqual(received, b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                   b"Connection: close\r\n\r\n")
        self.assertEqual(events, ["127.0.0.1: HTTP connection refused, 2 connections open"
                                  " (http-server.max-connections 2)"])
        self.assertEqual(site.connections, 2)
        for holder in holders:
            holder.transport.write(request)
            received = yield holder.lost
            self.assertTrue(received.startswith(b"HTTP/1.1 200 OK\r\n"))
            self.assertTrue(received.endswith(b"hello\n"))
        again = Collector(request)
        yield connectProtocol(endpoint, again)
        self.assertTrue((yield again.lost).startswith(b"HTTP/1.1 200 OK\r\n"))
