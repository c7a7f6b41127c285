# -*- test-case-name: tests.test_web_operator -*-
"""
The live operator page (served at C{/operator} on the router's HTTP site).

The page shows what the admin commands show: it looks the commands up in
the router's L{CommandTable} and renders their L{CommandResult}s (the phones
from C{show ephone}'s data, the CA's requests from C{crypto pki server
<name> info requests}, the IOS text of C{show voice call status}, C{show
voice port summary}, C{show ccm-manager}, C{show mgcp} and C{show
policy-map control-plane}), so it depends only on C{admin} and the
templates.

Live updates are server-sent events: C{GET /operator/events} is a stream on
which the fragment inside C{<main id="live">} is sent again whenever it
changes (the commands are run every C{interval} seconds while at least one
stream is open); a small script puts it in place, without reloading.  The
fragment is rendered once per look for every anonymous stream and once for
every logged-in one (each session's CSRF token put in after); streams are
capped below the site's C{max-connections} (L{streamLimit}) so that its
other paths always have a connection left.

Actions (grant / reject a pending enrollment request) need the operator
password of C{http-server.operator.password-file}: C{POST /operator/login}
opens a session (an C{HttpOnly}, C{SameSite=Strict} cookie) with its own
CSRF token, which every action form carries and which is checked in
constant time.  Failed logins block their address for a while
(L{LoginBlock}, IOS C{login block-for}): C{429}.  Without a password configured the page is read-only and
every action is refused.  A refused action is answered C{403} with the
reason and logged (namespace C{srst.web}).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from attrs import define
import math

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource

from srst.admin.commands import CommandError, CommandResult, CommandTable, InvalidInput
from srst.lograte import LogLimiter

OPERATOR_PATH = "/operator"
"""Where the router serves the page."""

COOKIE = b"srst-operator"
"""The session cookie's name."""

SESSION_SECONDS = 3600.0
"""How long a session lasts after its last use."""

MAX_SESSIONS = 16
"""Sessions kept at once; a new login beyond it ends the oldest."""

STREAM_HEADROOM = 2
"""Connections of the HTTP site's C{max-connections} event streams leave to
the other paths (C{/metrics}, the CRL, SCEP, the page itself)."""

LOGIN_ATTEMPTS = 5
"""Failed logins from one address within L{LOGIN_WITHIN} that block it (IOS
C{login block-for 60 attempts 5 within 60})."""

LOGIN_WITHIN = 60.0
"""Seconds over which failed logins are counted."""

LOGIN_BLOCK_FOR = 60.0
"""Seconds an address is blocked from logging in after too many failures."""

MAX_LOGIN_CLIENTS = 1024
"""Addresses whose failed logins are remembered at once (the oldest go)."""

INTERVAL = 2.0
"""Seconds between two looks at the commands while a stream is open."""

TEXT_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Calls", ("show", "voice", "call", "status")),
    ("Voice ports", ("show", "voice", "port", "summary")),
    ("Fallback (ccm-manager)", ("show", "ccm-manager")),
    ("MGCP", ("show", "mgcp")),
    ("Control-plane policing", ("show", "policy-map", "control-plane")),
)
"""The sections shown as the IOS text of their command."""

_STATIC = {
    b"operator.js": "application/javascript; charset=utf-8",
    b"operator.css": "text/css; charset=utf-8",
}

_SECURITY_HEADERS = {
    b"Content-Security-Policy": b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
                                b" form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    b"X-Content-Type-Options": b"nosniff",
    b"Referrer-Policy": b"no-referrer",
    b"Cache-Control": b"no-store",
}

_log = Logger(namespace="srst.web")


@define
class Session:
    """
    A logged-in operator.

    @ivar key: the cookie's value.
    @ivar csrf: the token every action form of this session carries.
    @ivar expires: when it ends (the clock's seconds).
    @ivar notice: the result of the last action, shown once.
    """

    key: str
    csrf: str
    expires: float
    notice: str | None = None


class Sessions:
    """
    The operator sessions, in memory, on the clock.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def open(self) -> Session:
        """
        @return: a new session (the oldest is ended if there are too many).
        """
        self._expire()
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                          self._clock.seconds() + SESSION_SECONDS)
        self._sessions[session.key] = session
        return session

    def find(self, key: bytes | None) -> Session | None:
        """
        @param key: the cookie's value, if the request has one.
        @return: its live session (its life extended), or L{None}.
        """
        self._expire()
        if not key:
            return None
        session = self._sessions.get(key.decode("ascii", "replace"))
        if session is not None:
            session.expires = self._clock.seconds() + SESSION_SECONDS
        return session

    def close(self, session: Session) -> None:
        """
        End C{session}.
        """
        self._sessions.pop(session.key, None)

    def _expire(self) -> None:
        now = self._clock.seconds()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]


def streamLimit(maxConnections: int) -> int:
    """
    @param maxConnections: the HTTP site's C{max-connections}.
    @return: the event streams open at once: L{STREAM_HEADROOM} fewer, so
        the site's other paths always have room, but at least one.
    """
    return max(1, maxConnections - STREAM_HEADROOM)


class LoginBlock:
    """
    Failed logins per client address, on the clock: L{LOGIN_ATTEMPTS}
    failures within L{LOGIN_WITHIN} seconds block the address for
    L{LOGIN_BLOCK_FOR} seconds (IOS C{login block-for}, per address).
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._blocked: dict[str, float] = {}

    def blockedFor(self, client: str) -> float | None:
        """
        @return: the seconds C{client} is still blocked for, or L{None}.
        """
        until = self._blocked.get(client)
        if until is None:
            return None
        remaining = until - self._clock.seconds()
        if remaining <= 0:
            del self._blocked[client]
            return None
        return remaining

    def failed(self, client: str) -> bool:
        """
        Count a failed login from C{client}.

        @return: whether it blocks C{client} now.
        """
        now = self._clock.seconds()
        recent = [t for t in self._failures.pop(client, []) if t > now - LOGIN_WITHIN] + [now]
        if len(recent) >= LOGIN_ATTEMPTS:
            self._blocked.pop(client, None)
            self._blocked[client] = now + LOGIN_BLOCK_FOR
            _bound(self._blocked)
            return True
        self._failures[client] = recent
        _bound(self._failures)
        return False

    def succeeded(self, client: str) -> None:
        """
        Forget C{client}'s failures.
        """
        self._failures.pop(client, None)


def _bound(entries: dict[str, Any]) -> None:
    while len(entries) > MAX_LOGIN_CLIENTS:
        del entries[next(iter(entries))]


def _environment() -> Environment:
    # Peer-controlled text (request subjects, phone details) reaches every
    # template: escaping is on for all of them, whatever their names.
    return Environment(loader=PackageLoader("srst.web", "templates"), autoescape=True,
                       undefined=StrictUndefined, keep_trailing_newline=True)


class _Refused(Exception):
    """
    An action refused: C{403} with the reason.
    """


class _Blocked(Exception):
    """
    A login from a blocked address: C{429} with the reason and the seconds
    left (C{Retry-After}).
    """

    def __init__(self, reason: str, retryAfter: int) -> None:
        Exception.__init__(self, reason)
        self.retryAfter = retryAfter


_CSRF_SLOT = Markup("<csrf-token/>")
"""What the shared logged-in fragment holds where each session's CSRF token
goes (peer text is escaped, so only the template can produce it)."""


@define
class _View:
    """
    The logged-in view shared by every session's stream.
    """

    csrf: Markup = _CSRF_SLOT


@define
class _Stream:
    request: server.Request
    session: Session | None
    last: str | None = None


def _phoneRow(ephone: dict[str, Any]) -> dict[str, Any]:
    registered = ephone["registered"]
    if not registered:
        state = "unregistered"
    elif ephone["offhook"]:
        state = "off hook"
    elif ephone["ringing"]:
        state = "ringing"
    else:
        state = "idle"
    return {
        "ephone": ephone["ephone"],
        "mac": ephone["mac"],
        "secure": bool(ephone["authentication"]),
        "lines": ", ".join(button["number"] for button in ephone["buttons"]),
        "state": state,
        "address": ephone["ip"] or "",
        "model": ephone["model"] or "",
    }


class OperatorPage(Resource):
    """
    The page and its event stream, login and actions (see the module
    docstring).
    """

    isLeaf = True

    def __init__(self, commands: CommandTable, clock: IReactorTime, password: str | None, *,
                 base: str = OPERATOR_PATH, interval: float | None = None, maxStreams: int,
                 logLimiter: LogLimiter) -> None:
        """
        @param commands: the router's admin commands.
        @param clock: runs the refresh and the sessions' lifetimes.
        @param password: the operator password, or L{None} for a read-only
            page.
        @param base: the path the page is served at.
        @param interval: seconds between two looks while a stream is open
            (L{None}: L{INTERVAL}).
        @param maxStreams: event streams open at once (L{streamLimit} of
            the site's C{max-connections}); one more is answered C{503}.
        @param logLimiter: limits the log lines about refused actions.
        """
        Resource.__init__(self)
        self._commands = commands
        self._clock = clock
        self._password = password
        self._base = base
        self._sessions = Sessions(clock)
        self._loginBlock = LoginBlock(clock)
        self._maxStreams = maxStreams
        self._streams: list[_Stream] = []
        self._refresh = LoopingCall(self._tick)
        self._refresh.clock = clock
        self._interval = INTERVAL if interval is None else interval
        self._looking = False
        self._logLimiter = logLimiter
        self._env = _environment()

    @property
    def streams(self) -> int:
        """
        How many event streams are open.
        """
        return len(self._streams)

    # -- reading the commands --

    def _run(self, *words: str) -> Deferred[CommandResult | None]:
        try:
            command, variables = self._commands.lookup(list(words))
        except InvalidInput:
            return succeed(None)
        d = maybeDeferred(command.handler, **variables)

        def failed(failure: Failure) -> CommandResult:
            failure.trap(CommandError)
            return CommandResult(f"% {failure.value}")

        return d.addErrback(failed)

    def snapshot(self) -> Deferred[dict[str, Any]]:
        """
        Run the commands the page shows.

        @return: a L{Deferred} firing with the template's facts.
        """
        names = [title for title, _ in TEXT_SECTIONS]
        texts = gatherResults([self._run(*words) for _, words in TEXT_SECTIONS], consumeErrors=True)
        phones = self._run("show", "ephone")
        ca = self._run("show", "crypto", "pki", "server")

        def withRequests(result: CommandResult | None) -> Deferred[tuple[str, list[dict[str, Any]]] | None]:
            if result is None or not result.data:
                return succeed(None)
            name = result.data["name"]

            def pending(requests: CommandResult | None) -> tuple[str, list[dict[str, Any]]]:
                rows = requests.data if requests is not None and isinstance(requests.data, list) else []
                return name, [r for r in rows if r["state"] == "pending"]

            return self._run("crypto", "pki", "server", name, "info", "requests").addCallback(pending)

        ca.addCallback(withRequests)

        def assemble(results: list[Any]) -> dict[str, Any]:
            textResults, phoneResult, caResult = results
            sections = [{"title": title, "text": result.text or "(nothing)"}
                        for title, result in zip(names, textResults) if result is not None]
            ephones = phoneResult.data["ephones"] if phoneResult is not None and phoneResult.data else []
            return {
                "phones": [_phoneRow(e) for e in ephones] if phoneResult is not None else None,
                "sections": sections,
                "ca": {"name": caResult[0], "pending": caResult[1]} if caResult is not None else None,
            }

        return gatherResults([texts, phones, ca], consumeErrors=True).addCallback(assemble)

    def _context(self, facts: dict[str, Any], session: Session | None) -> dict[str, Any]:
        return dict(facts, base=self._base, session=session, writable=self._password is not None)

    def renderLive(self, facts: dict[str, Any], session: Session | _View | None) -> str:
        """
        @return: the live fragment for C{session}'s view of C{facts}.
        """
        return self._env.get_template("live.html").render(self._context(facts, session))

    # -- HTTP --

    def render(self, request: server.Request) -> bytes | int:  # type: ignore[override]
        for name, value in _SECURITY_HEADERS.items():
            request.setHeader(name, value)
        path = request.postpath or [b""]
        if len(path) > 1:
            return self._notFound(request)
        segment = path[0]
        method = request.method
        if segment in _STATIC and method in (b"GET", b"HEAD"):
            return self._static(request, segment)
        if segment == b"" and method in (b"GET", b"HEAD"):
            return self._page(request)
        if segment == b"events" and method == b"GET":
            return self._events(request)
        if segment in (b"login", b"logout", b"grant", b"reject"):
            if method != b"POST":
                request.setResponseCode(405)
                request.setHeader(b"Allow", b"POST")
                request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
                return b"405 Method Not Allowed: use POST\n"
            try:
                return self._action(request, segment)
            except _Refused as refused:
                return self._refuse(request, segment, str(refused))
            except _Blocked as blocked:
                request.setHeader(b"Retry-After", str(blocked.retryAfter).encode("ascii"))
                return self._refuse(request, segment, str(blocked), 429, "Too Many Requests")
        return self._notFound(request)

    def _notFound(self, request: server.Request) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return b"404 Not Found\n"

    def _static(self, request: server.Request, name: bytes) -> bytes:
        request.setHeader(b"Content-Type", _STATIC[name].encode("ascii"))
        source = self._env.loader.get_source(self._env, name.decode("ascii"))[0]  # type: ignore[union-attr]
        return source.encode("utf-8")

    def _session(self, request: server.Request) -> Session | None:
        return self._sessions.find(request.getCookie(COOKIE))

    def _page(self, request: server.Request) -> int:
        session = self._session(request)

        def write(facts: dict[str, Any]) -> bytes:
            context = self._context(facts, session)
            context["notice"] = session.notice if session is not None else None
            if session is not None:
                session.notice = None
            request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
            return self._env.get_template("operator.html").render(context).encode("utf-8")

        self._respond(request, self.snapshot().addCallback(write))
        return server.NOT_DONE_YET

    def _respond(self, request: server.Request, d: Deferred[bytes]) -> None:
        """
        Answer C{request} with the body C{d} fires with (a failure is logged
        and answered 500), unless the client has gone by then.
        """
        gone: list[Failure] = []
        request.notifyFinish().addErrback(gone.append)

        def failed(failure: Failure) -> bytes:
            _log.failure("operator page: could not answer {path}", failure, path=request.uri.decode("latin-1"))
            request.setResponseCode(500)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"500 Internal Server Error\n"

        def answer(body: bytes) -> None:
            if not gone:
                request.write(body)
                request.finish()

        d.addErrback(failed).addCallback(answer)

    # -- events --

    def _events(self, request: server.Request) -> bytes | int:
        if len(self._streams) >= self._maxStreams:
            reason = (f"too many event streams open ({self._maxStreams}, to leave room for the site's other"
                      f" paths within http-server.max-connections)")
            client = _client(request)
            self._logLimiter.warn(_log, client, "refused operator event streams",
                                  "operator page: {client} event stream refused: {reason}",
                                  client=client, reason=reason)
            request.setResponseCode(503)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return f"503 Service Unavailable: {reason}\n".encode("utf-8")
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.write(f"retry: {int(self._interval * 1000)}\n\n".encode("ascii"))
        stream = _Stream(request, self._session(request))
        self._streams.append(stream)
        request.notifyFinish().addBoth(lambda _: self._streamEnded(stream))
        if not self._refresh.running:
            self._refresh.start(self._interval, now=True)
        return server.NOT_DONE_YET

    def _streamEnded(self, stream: _Stream) -> None:
        self._streams.remove(stream)
        if not self._streams and self._refresh.running:
            self._refresh.stop()

    def _tick(self) -> None:
        if self._looking:
            return
        self._looking = True

        def send(facts: dict[str, Any]) -> None:
            # One render per view (anonymous, logged in) per tick, whatever
            # the number of streams; a session's CSRF token goes in after.
            fragments: dict[bool, str] = {}
            for stream in list(self._streams):
                loggedIn = stream.session is not None
                if loggedIn not in fragments:
                    fragments[loggedIn] = self.renderLive(facts, _View() if loggedIn else None)
                fragment = fragments[loggedIn]
                if fragment == stream.last:
                    continue
                stream.last = fragment
                if stream.session is not None:
                    fragment = fragment.replace(_CSRF_SLOT, stream.session.csrf)
                # Split as an event stream reader does (CR, LF or CRLF all
                # end a line), so that no line of the fragment escapes its
                # "data:" prefix.
                lines = "".join(f"data: {line}\n" for line in fragment.splitlines())
                stream.request.write(f"event: live\n{lines}\n".encode("utf-8"))

        def done(result: object) -> None:
            self._looking = False
            if isinstance(result, Failure):
                _log.failure("operator page: could not read the router's state", result)

        self.snapshot().addCallback(send).addBoth(done)

    # -- actions --

    def _field(self, request: server.Request, name: bytes) -> str:
        values = request.args.get(name) if request.args else None
        if not values:
            raise _Refused(f"the form has no {name.decode('ascii')}")
        return values[0].decode("utf-8", "replace")

    def _action(self, request: server.Request, action: bytes) -> bytes | int:
        if self._password is None:
            raise _Refused("the page is read-only: no operator password is configured"
                           " (http-server.operator.password-file)")
        if action == b"login":
            client = _client(request)
            blocked = self._loginBlock.blockedFor(client)
            if blocked is not None:
                raise _Blocked(f"login blocked for {LOGIN_BLOCK_FOR:.0f} s after {LOGIN_ATTEMPTS} failed attempts"
                               f" within {LOGIN_WITHIN:.0f} s (login block-for)", math.ceil(blocked))
            given = self._field(request, b"password")
            if not hmac.compare_digest(given.encode("utf-8"), self._password.encode("utf-8")):
                if self._loginBlock.failed(client):
                    self._logLimiter.warn(_log, client, "operator login blocks",
                                          "operator page: {client} blocked from logging in for {seconds:.0f} s:"
                                          " {attempts} failed attempts within {within:.0f} s (login block-for)",
                                          client=client, seconds=LOGIN_BLOCK_FOR, attempts=LOGIN_ATTEMPTS,
                                          within=LOGIN_WITHIN)
                raise _Refused("wrong password")
            self._loginBlock.succeeded(client)
            session = self._sessions.open()
            request.addCookie(COOKIE, session.key.encode("ascii"), path=self._base.encode("ascii"),
                              httpOnly=True, sameSite="strict")
            _log.info("operator page: {client} logged in", client=_client(request))
            return self._seeOther(request)
        session = self._session(request)
        if session is None:
            raise _Refused("not logged in (or the session has expired)")
        if not hmac.compare_digest(self._field(request, b"csrf").encode("utf-8"), session.csrf.encode("ascii")):
            raise _Refused("the form's CSRF token does not match the session")
        if action == b"logout":
            self._sessions.close(session)
            request.addCookie(COOKIE, b"", path=self._base.encode("ascii"), httpOnly=True, sameSite="strict",
                              max_age=0)
            return self._seeOther(request)
        ca, requestId = self._field(request, b"server"), self._field(request, b"id")
        if not requestId.isdigit():
            raise _Refused(f"request id {requestId!r} is not a number")
        words = ("crypto", "pki", "server", ca, action.decode("ascii"), requestId)

        def done(result: CommandResult | None) -> bytes:
            session.notice = result.text if result is not None else "% Invalid input detected"
            _log.info("operator page: {client} ran {command}: {result}", client=_client(request),
                      command=" ".join(words), result=session.notice)
            return self._seeOther(request)

        self._respond(request, self._run(*words).addCallback(done))
        return server.NOT_DONE_YET

    def _seeOther(self, request: server.Request) -> bytes:
        request.setResponseCode(303)
        request.setHeader(b"Location", self._base.encode("ascii"))
        return b""

    def _refuse(self, request: server.Request, action: bytes, reason: str, code: int = 403,
                phrase: str = "Forbidden") -> bytes:
        client = _client(request)
        self._logLimiter.warn(_log, client, "refused operator actions",
                              "operator page: {client} {action} refused: {reason}",
                              client=client, action=action.decode("ascii"), reason=reason)
        request.setResponseCode(code)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return f"{code} {phrase}: {reason}\n".encode("utf-8")


def _client(request: server.Request) -> str:
    address = request.getClientAddress()
    return address.host if isinstance(address, (IPv4Address, IPv6Address)) else str(address)
