# -*- test-case-name: tests.test_http_site -*-
"""
The router's web site (IOS C{ip http server}).

L{HttpSite} owns the resource tree: a package that serves something over
HTTP plugs a resource in with L{HttpSite.add} (the certificate server's CRL
at C{/crl/<server>.crl}, SCEP at C{/cgi-bin/pkiclient.exe}); every other
path is 404.  L{HttpSite.factory} is the listener's factory, which the
service wraps in the control-plane policy like every other TCP listener.

Limits, against clients that send too much or too slowly:

  - a request body longer than C{maxBody} bytes (declared by
    C{Content-Length} or counted while a chunked body arrives) gets
    C{413 Request Entity Too Large} and the connection is closed, before
    any resource sees the request;
  - a request line and headers over C{maxHeaderBytes} get C{400} and the
    connection is closed (Twisted's own check);
  - headers not complete C{headerTimeout} seconds after the connection
    opened (or after the previous response) close the connection;
  - a connection on which nothing arrives for C{idleTimeout} seconds is
    closed (IOS C{ip http timeout-policy idle}, default 180);
  - a connection open C{life} seconds is closed, after the response under
    way if there is one (IOS C{ip http timeout-policy life}, default 180);
  - a connection is closed after its C{requests}-th response, which says
    C{Connection: close} (IOS C{ip http timeout-policy requests}, default
    1);
  - with C{maxConnections} connections open, the next one is answered
    C{503 Service Unavailable} and closed, and a log line says why (IOS
    C{ip http max-connections}, default 5); the open ones are served on.

Every request answered is one C{twisted.logger} event in the namespace
C{srst.http.access}, with C{client}, C{method}, C{path}, C{status} and
C{bytes} (the body bytes sent).
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.web import http, server
from twisted.web.resource import IResource, NoResource, Resource

from twisted.internet.protocol import Protocol

from srst.http.config import IDLE_SECONDS, LIFE_SECONDS, MAX_BODY, MAX_CONNECTIONS, MAX_HEADER_BYTES, REQUESTS
from srst.lograte import LogLimiter

HEADER_TIMEOUT = 30.0
"""Seconds a client has to send a request's line and headers."""

IDLE_TIMEOUT = float(IDLE_SECONDS)
"""Seconds of silence before a connection is closed (IOS timeout-policy idle 180)."""

accessLog = Logger(namespace="srst.http.access")
"""Where the access events go."""

_log = Logger(namespace="srst.http")


def _host(address: IAddress) -> str:
    return address.host if isinstance(address, (IPv4Address, IPv6Address)) else str(address)


class _Refused(Protocol):
    """
    A connection over C{ip http max-connections}: C{503}, then closed.
    """

    def connectionMade(self) -> None:
        self.transport.write(b"HTTP/1.1 503 Service Unavailable\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        self.transport.loseConnection()


class _Directory(Resource):
    """
    A path segment that only holds children: 404 itself and for every
    unknown child.
    """

    def getChild(self, path: bytes, request: server.Request) -> IResource:
        return NoResource()

    def render(self, request: server.Request) -> bytes:
        return NoResource().render(request)


class LimitedRequest(server.Request):
    """
    A request whose body is counted as it arrives: past the site's limit
    the channel answers 413.

    @ivar requestLine: the method and path of its request line, known
        before its body is (the channel records them for the 413 access
        line).
    """

    _bodyBytes = 0
    rejected = False
    requestLine: tuple[bytes | None, bytes | None] = (None, None)

    def handleContentChunk(self, data: bytes) -> None:
        if self.rejected:
            return
        self._bodyBytes += len(data)
        channel = self.channel
        assert isinstance(channel, LimitedChannel)
        if self._bodyBytes > channel.site.maxBody:
            channel.rejectTooLarge(self)
            return
        server.Request.handleContentChunk(self, data)


class LimitedChannel(http.HTTPChannel):
    """
    An HTTP/1.1 channel with the site's limits (see the module docstring).

    @ivar site: the L{_Site} it belongs to.
    """

    site: _Site
    _headerDeadline: IDelayedCall | None = None
    _lifeDeadline: IDelayedCall | None = None
    _rejected = False
    _answering = False
    _received = 0

    def connectionMade(self) -> None:
        self.totalHeadersSize = self.site.maxHeaderBytes
        self.site.channels.add(self)
        http.HTTPChannel.connectionMade(self)
        self._armHeaderDeadline()
        self._lifeDeadline = self.callLater(self.site.life, self._lifeOver)

    def _lifeOver(self) -> None:
        """
        IOS C{timeout-policy life}: close the connection, after the
        response under way if there is one.
        """
        self._lifeDeadline = None
        host = _host(self.transport.getPeer())
        self.site.logLimiter.info(_log, host, "connection life over",
                                  "{peer}: connection closed, open for {seconds} s (timeout-policy life)",
                                  peer=host, seconds=self.site.life)
        if self._answering:
            self.persistent = False
        else:
            self.transport.loseConnection()

    def checkPersistence(self, request: http.Request, version: bytes) -> bool:
        """
        IOS C{timeout-policy requests}: the last request allowed on the
        connection is answered with C{Connection: close}.
        """
        self._received += 1
        persistent = http.HTTPChannel.checkPersistence(self, request, version)
        if persistent and self._received >= self.site.requests:
            request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
            return False
        return persistent

    def _armHeaderDeadline(self) -> None:
        self._cancelHeaderDeadline()
        self._headerDeadline = self.callLater(self.site.headerTimeout, self._headersTooSlow)

    def _cancelHeaderDeadline(self) -> None:
        if self._headerDeadline is not None and self._headerDeadline.active():
            self._headerDeadline.cancel()
        self._headerDeadline = None

    def _headersTooSlow(self) -> None:
        self._headerDeadline = None
        host = _host(self.transport.getPeer())
        self.site.logLimiter.info(_log, host, "slow request headers",
                                  "{peer}: connection closed, request headers not complete within {seconds} s",
                                  peer=host, seconds=self.site.headerTimeout)
        self.transport.abortConnection()

    def lineReceived(self, line: bytes) -> None:
        if self._rejected:
            return
        last = self.requests[-1] if self.requests else None
        http.HTTPChannel.lineReceived(self, line)
        if self.requests and self.requests[-1] is not last:
            request = self.requests[-1]  # this line started it: its request line
            parts = line.split()
            if isinstance(request, LimitedRequest) and len(parts) == 3:
                request.requestLine = (parts[0], parts[1])

    def rawDataReceived(self, data: bytes) -> None:
        if not self._rejected:
            http.HTTPChannel.rawDataReceived(self, data)

    def allHeadersReceived(self) -> None:
        self._cancelHeaderDeadline()
        request = self.requests[-1]
        if self.length is not None and self.length > self.site.maxBody:
            self.rejectTooLarge(request)
            return
        http.HTTPChannel.allHeadersReceived(self)

    def allContentReceived(self) -> None:
        if not self._rejected:
            self._answering = True
            http.HTTPChannel.allContentReceived(self)

    def rejectTooLarge(self, request: http.Request) -> None:
        """
        Answer 413 for a body over the limit and close the connection
        without reading the rest of it.
        """
        if self._rejected:
            return
        self._rejected = True
        if isinstance(request, LimitedRequest):
            request.rejected = True
        self.transport.write(b"HTTP/1.1 413 Request Entity Too Large\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        # The request has no method and path before its body is in: its
        # request line, recorded as it came, has them.
        method, path = request.requestLine if isinstance(request, LimitedRequest) else (None, None)
        self.site.logAccess(self.transport.getPeer(), method, path, 413, 0)
        self.loseConnection()

    def requestDone(self, request: http.Request) -> None:
        self._answering = False
        if self.persistent:
            self._armHeaderDeadline()
        http.HTTPChannel.requestDone(self, request)

    def connectionLost(self, reason: object) -> None:
        self._cancelHeaderDeadline()
        if self._lifeDeadline is not None and self._lifeDeadline.active():
            self._lifeDeadline.cancel()
        self._lifeDeadline = None
        self.site.channels.discard(self)
        http.HTTPChannel.connectionLost(self, reason)


class _Site(server.Site):
    """
    The Twisted site: builds L{LimitedChannel}s and logs every request as
    one event.
    """

    requestFactory = LimitedRequest
    noisy = False
    displayTracebacks = False

    def __init__(self, root: Resource, clock: IReactorTime, *, maxBody: int, maxHeaderBytes: int,
                 headerTimeout: float, idleTimeout: float, maxConnections: int, life: float,
                 requests: int) -> None:
        server.Site.__init__(self, root, timeout=idleTimeout, reactor=clock)
        self.maxBody = maxBody
        self.maxHeaderBytes = maxHeaderBytes
        self.headerTimeout = headerTimeout
        self.maxConnections = maxConnections
        self.life = life
        self.requests = requests
        self.channels: set[LimitedChannel] = set()
        self.logLimiter = LogLimiter(clock)

    def buildProtocol(self, addr: IAddress) -> Protocol | None:  # type: ignore[override]
        """
        A channel, or with C{maxConnections} open a protocol that answers
        C{503} and closes (IOS C{ip http max-connections}).
        """
        if len(self.channels) >= self.maxConnections:
            host = _host(addr)
            self.logLimiter.warn(_log, host, "connection refused",
                                 "{peer}: HTTP connection refused, {open} connections open"
                                 " (http-server.max-connections {limit})",
                                 peer=host, open=len(self.channels), limit=self.maxConnections)
            self.logAccess(addr, None, None, 503, 0)
            refused = _Refused()
            refused.factory = self
            return refused
        return server.Site.buildProtocol(self, addr)

    def startFactory(self) -> None:
        server.Site.startFactory(self)
        self.logLimiter.start()

    def stopFactory(self) -> None:
        self.logLimiter.stop()
        server.Site.stopFactory(self)

    def protocol(self) -> LimitedChannel:  # type: ignore[override]
        channel = LimitedChannel()
        channel.site = self
        return channel

    def log(self, request: http.Request) -> None:
        self.logAccess(request.getClientAddress(), request.method, request.uri, request.code,
                       request.sentLength)

    def logAccess(self, address: IAddress, method: bytes | None, path: bytes | None, status: int,
                  sent: int) -> None:
        """
        Emit the access event of one request.

        @param address: the client's address.
        @param method: the request's method.
        @param path: the request's path (with its query).
        @param status: the status answered.
        @param sent: the body bytes sent.
        """
        client = _host(address)
        accessLog.info("{client} \"{method} {path}\" {status} {bytes}",
                       client=client, method=_text(method), path=_text(path), status=status, bytes=sent)


def _text(value: bytes | None) -> str:
    return (value or b"-").decode("latin-1")


class HttpSite:
    """
    The router's web site: the resource registry and the listener's
    factory.

    @ivar factory: the L{server.Site} to listen with (wrap it in policing).
    """

    def __init__(self, clock: IReactorTime, *, maxBody: int = MAX_BODY,
                 maxHeaderBytes: int = MAX_HEADER_BYTES, headerTimeout: float = HEADER_TIMEOUT,
                 idleTimeout: float = IDLE_TIMEOUT, maxConnections: int = MAX_CONNECTIONS,
                 life: float = LIFE_SECONDS, requests: int = REQUESTS) -> None:
        """
        @param clock: runs the timeouts.
        @param maxBody: the largest request body accepted, in bytes.
        @param maxHeaderBytes: the largest request line plus headers.
        @param headerTimeout: seconds to send a request's headers.
        @param idleTimeout: seconds of silence before a connection closes
            (IOS C{timeout-policy idle}).
        @param maxConnections: connections served at once (IOS C{ip http
            max-connections}).
        @param life: seconds a connection stays open at most (IOS
            C{timeout-policy life}).
        @param requests: requests served on one connection (IOS
            C{timeout-policy requests}).
        """
        self._root = _Directory()
        self.paths: list[str] = []
        self.factory = _Site(self._root, clock, maxBody=maxBody, maxHeaderBytes=maxHeaderBytes,
                             headerTimeout=headerTimeout, idleTimeout=idleTimeout,
                             maxConnections=maxConnections, life=life, requests=requests)

    @property
    def connections(self) -> int:
        """
        The connections open now.
        """
        return len(self.factory.channels)

    @property
    def headerTimeout(self) -> float:
        """
        Seconds a client has to send a request's headers.
        """
        return self.factory.headerTimeout

    @property
    def logLimiter(self) -> LogLimiter:
        """
        The site's L{LogLimiter}, for its resources' peer-caused log lines:
        it stops (flushing its summaries) when the site's listener stops.
        """
        return self.factory.logLimiter

    def add(self, path: str, resource: IResource) -> None:
        """
        Serve C{resource} at C{path} (C{"/crl/srstcaserver.crl"}); the
        resource answers for everything below the path too unless it says
        otherwise (L{Resource.getChild}).

        @raise ValueError: if C{path} is not absolute or is taken already.
        """
        segments = path.split("/")
        if len(segments) < 2 or segments[0] != "" or not all(segments[1:]):
            raise ValueError(f"expected an absolute path such as /crl/name.crl, not {path!r}")
        parent: Resource = self._root
        for segment in segments[1:-1]:
            name = segment.encode("ascii")
            child = parent.children.get(name)
            if child is None:
                child = _Directory()
                parent.putChild(name, child)
            elif not isinstance(child, _Directory):
                raise ValueError(f"{path} is below a resource already served")
            parent = child
        name = segments[-1].encode("ascii")
        if name in parent.children:
            raise ValueError(f"{path} is served already")
        parent.putChild(name, resource)
        self.paths.append(path)
