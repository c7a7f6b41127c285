"""
Tests for L{srst.web.operator}: the live operator page on a real router's
HTTP site on 127.0.0.1, driven with Twisted's HTTP client and with headless
Chromium (L{tests.cdphelpers}).
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any
from urllib.parse import urlencode

from twisted.internet import reactor
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from twisted.web.client import FileBodyProducer
from io import BytesIO

from srst.config import loadString
from srst.http.site import HttpSite
from srst.pki.ca import RequestState
from srst.service import RouterService, utcNow
from srst.web import operator
from srst.web.operator import SESSION_SECONDS, OperatorPage, Sessions
from tests.cdphelpers import startChromium
from tests.loghelpers import logLines
from tests.phonehelpers import registeredPhone
from tests.pkihelpers import writePem
from tests.test_sccp_integration import PHONE_CA
from tests.routerhelpers import bounded, freePort, routerYaml, stateDirectory, synchronously, within

PASSWORD = "s3cret operator words"

CMF = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  max-ephones: 4
  max-dn: 8
  auto-assign: {dn-range: "2000-2007"}
"""

PHONE_MAC = "100011110007"
DOTTED_MAC = "1000.1111.0007"


def startManualRouter(testCase: Any, password: str | None = PASSWORD, http: str = "", grant: str = "manual",
                      capf: bool = False) -> tuple[RouterService, str]:
    """
    Start a router whose certificate server grants by hand (so the router's
    own enrollment request waits, pending, for the operator), with
    C{http-server:} on 127.0.0.1 and, unless C{password} is L{None}, an
    operator password file.

    @param http: more C{http-server:} settings (C{"max-connections: 4"}).
    @param grant: the certificate server's grant mode.
    @param capf: trust L{PHONE_CA}'s LSCs (for phones registering over TLS).

    @return: the running service (not ready: its request is pending) and
        the page's URL.
    """
    stateDir = stateDirectory(testCase)
    port = freePort()
    http = f"http-server: {{address: 127.0.0.1, port: {port}" + (f", {http}" if http else "")
    if password is not None:
        passwordFile = os.path.join(stateDir, "operator-password")
        with open(passwordFile, "w") as f:
            f.write(password + "\n")
        http += f", operator: {{password-file: {passwordFile}}}"
    cmf = CMF
    if capf:
        cmf = CMF.replace("  port: 0\n", "  port: 0\n  secure-port: 0\n  trustpoint: srstca\n"
                                        "  phone-trustpoints: [capf]\n")
    yamlText = routerYaml(stateDir, grant=grant, extra=http + "}\n" + cmf)
    if capf:
        capfFile = writePem(stateDir, "capf.pem", PHONE_CA.certificate)
        yamlText = yamlText.replace('"7970": {certificates:',
                                    f'capf: {{certificates: [{capfFile}]}}\n    "7970": {{certificates:')
    config = loadString(yamlText, "test-router.yaml")
    service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                            callFromThread=reactor.callFromThread)
    service.startService()
    testCase.addCleanup(service.stopService)
    return service, f"http://127.0.0.1:{port}/operator"


def serveClockPage(testCase: Any, service: RouterService, clock: Clock,
                   maxStreams: int = 8) -> tuple[OperatorPage, str]:
    """
    Serve an operator page of C{service}'s commands whose refresh, sessions
    and login blocks run on C{clock}, on a site of its own on 127.0.0.1.

    @return: the page and its URL.
    """
    site = HttpSite(reactor, maxConnections=16)
    page = OperatorPage(service.commands, clock, PASSWORD, maxStreams=maxStreams, logLimiter=site.logLimiter)
    site.add(operator.OPERATOR_PATH, page)
    port = reactor.listenTCP(0, site.factory, interface="127.0.0.1")
    testCase.addCleanup(port.stopListening)
    return page, f"http://127.0.0.1:{port.getHost().port}/operator"


@bounded
def login(url: str) -> Any:
    """
    Log in on the page at C{url}.

    @return: a L{Deferred} firing with the C{Set-Cookie} header, the
        C{Cookie} to send and the session's CSRF token.
    """
    response, body = yield request(b"POST", url + "/login", form={"password": PASSWORD})
    assert response.code == 303, body
    cookie = response.headers.getRawHeaders(b"Set-Cookie")[0]
    _, page = yield request(b"GET", url, cookie=cookie.split(b";")[0])
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode("ascii")
    return cookie, cookie.split(b";")[0], csrf


@bounded
def openEvents(testCase: Any, url: str, cookie: bytes | None = None) -> Any:
    """
    Open the event stream of the page at C{url} (closed after the test).

    @return: a L{Deferred} firing with the response and, for a stream, its
        L{_Events} reader (else the response's body).
    """
    headers = Headers()
    if cookie is not None:
        headers.addRawHeader(b"Cookie", cookie)
    response = yield Agent(reactor).request(b"GET", (url + "/events").encode("ascii"), headers)
    if response.code != 200:
        body = yield readBody(response)
        return response, body
    events = _Events()
    response.deliverBody(events)
    testCase.addCleanup(lambda: events.transport.stopProducing())
    return response, events


def request(method: bytes, url: str, cookie: bytes | None = None, form: dict[str, str] | None = None,
            bindAddress: tuple[str, int] | None = None) -> Deferred[tuple[Any, bytes]]:
    """
    One request with Twisted's HTTP client (redirects not followed).

    @return: a L{Deferred} firing with the response and its body.
    """
    headers = Headers()
    body: IBodyProducer | None = None
    if cookie is not None:
        headers.addRawHeader(b"Cookie", cookie)
    if form is not None:
        headers.addRawHeader(b"Content-Type", b"application/x-www-form-urlencoded")
        body = FileBodyProducer(BytesIO(urlencode(form).encode("ascii")))
    d = Agent(reactor, bindAddress=bindAddress).request(method, url.encode("ascii"), headers, body)
    return d.addCallback(lambda response: readBody(response).addCallback(lambda data: (response, data)))


class _Events(Protocol):
    """
    Reads a server-sent event stream: L{next} fires with the data of the
    next C{live} event that contains a string.
    """

    def __init__(self) -> None:
        self.buffer = b""
        self.waiters: list[tuple[str, Deferred[str]]] = []
        self.seen: list[str] = []
        self.raw: list[str] = []

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        *events, self.buffer = self.buffer.split(b"\n\n")
        for raw in events:
            lines = raw.decode("utf-8").split("\n")
            if "event: live" not in lines:
                continue
            self.raw.append(raw.decode("utf-8"))
            text = "\n".join(line[len("data: "):] for line in lines if line.startswith("data: "))
            self.seen.append(text)
            for waiter in [w for w in self.waiters if w[0] in text]:
                self.waiters.remove(waiter)
                waiter[1].callback(text)

    def next(self, containing: str) -> Deferred[str]:
        d: Deferred[str] = Deferred()
        if any(containing in text for text in self.seen[-1:]):
            d.callback(self.seen[-1])
        else:
            self.waiters.append((containing, d))
        return d


class SessionsTests(SynchronousTestCase):
    """
    L{Sessions} on the clock.
    """

    def test_expiresAfterAnHourUnused(self):
        """
        A session found again is extended; one not used for an hour is gone.
        """
        clock = Clock()
        sessions = Sessions(clock)
        session = sessions.open()
        clock.advance(SESSION_SECONDS - 1)
        self.assertIs(sessions.find(session.key.encode("ascii")), session)
        clock.advance(SESSION_SECONDS - 1)
        self.assertIs(sessions.find(session.key.encode("ascii")), session)
        clock.advance(SESSION_SECONDS)
        self.assertIsNone(sessions.find(session.key.encode("ascii")))

    def test_bounded(self):
        """
        Past L{operator.MAX_SESSIONS} logins the oldest session ends.
        """
        sessions = Sessions(Clock())
        first = sessions.open()
        for _ in range(operator.MAX_SESSIONS):
            sessions.open()
        self.assertIsNone(sessions.find(first.key.encode("ascii")))


class OperatorPageHttpTests(TestCase):
    """
    The page, its login and its CSRF-checked actions over HTTP.
    """

    timeout = 30

    def login(self, url):
        return login(url)

    @bounded
    def test_readOnlyWithoutPassword(self):
        """
        Without C{operator.password-file} the page shows the state with no
        login and no grant buttons, and an action is refused with the reason.
        """
        log = logLines(self, "srst.web")
        service, url = startManualRouter(self, password=None)
        response, page = yield request(b"GET", url)
        self.assertEqual(response.code, 200)
        self.assertIn(b"read-only", page)
        self.assertIn(b"CN=branch-router", page)
        self.assertNotIn(b"Grant", page)
        self.assertNotIn(b"password", page)
        response, body = yield request(b"POST", url + "/grant", form={"server": "srstcaserver", "id": "1"})
        self.assertEqual((response.code, body), (403, b"403 Forbidden: the page is read-only: no operator password"
                                                      b" is configured (http-server.operator.password-file)\n"))
        self.assertIn("operator page: 127.0.0.1 grant refused: the page is read-only", log[-1])
        self.assertEqual(service.certificateServer.requests()[0].state, RequestState.PENDING)

    @bounded
    def test_grantWithoutSessionRefused(self):
        """
        A grant with no session cookie is 403 and logged; the request stays
        pending.
        """
        log = logLines(self, "srst.web")
        service, url = startManualRouter(self)
        response, body = yield request(b"POST", url + "/grant",
                                       form={"server": "srstcaserver", "id": "1", "csrf": "x"})
        self.assertEqual((response.code, body),
                         (403, b"403 Forbidden: not logged in (or the session has expired)\n"))
        self.assertEqual(log, ["operator page: 127.0.0.1 grant refused: not logged in (or the session has expired)"])
        self.assertEqual(service.certificateServer.requests()[0].state, RequestState.PENDING)

    @bounded
    def test_wrongPasswordRefused(self):
        """
        A login with the wrong password is 403 and sets no cookie.
        """
        log = logLines(self, "srst.web")
        _, url = startManualRouter(self)
        response, body = yield request(b"POST", url + "/login", form={"password": "guess"})
        self.assertEqual((response.code, body), (403, b"403 Forbidden: wrong password\n"))
        self.assertIsNone(response.headers.getRawHeaders(b"Set-Cookie"))
        self.assertEqual(log, ["operator page: 127.0.0.1 login refused: wrong password"])

    @bounded
    def test_wrongCsrfRefused(self):
        """
        A logged-in grant whose CSRF token is not the session's is 403; the
        request stays pending.
        """
        service, url = startManualRouter(self)
        setCookie, cookie, csrf = yield self.login(url)
        self.assertIn(b"HttpOnly", setCookie)
        self.assertIn(b"SameSite=strict", setCookie)
        self.assertIn(b"Path=/operator", setCookie)
        response, body = yield request(b"POST", url + "/grant", cookie=cookie,
                                       form={"server": "srstcaserver", "id": "1", "csrf": csrf + "x"})
        self.assertEqual((response.code, body),
                         (403, b"403 Forbidden: the form's CSRF token does not match the session\n"))
        self.assertEqual(service.certificateServer.requests()[0].state, RequestState.PENDING)

    @bounded
    def test_grantIssuesTheCertificate(self):
        """
        A logged-in grant with the session's CSRF token runs C{crypto pki
        server srstcaserver grant 1}: the certificate is issued into the CA
        database, the router (whose request it was) becomes ready, and the
        page shows the command's answer once.
        """
        service, url = startManualRouter(self)
        _, cookie, csrf = yield self.login(url)
        response, body = yield request(b"POST", url + "/grant", cookie=cookie,
                                       form={"server": "srstcaserver", "id": "1", "csrf": csrf})
        self.assertEqual(response.code, 303, body)
        self.assertEqual(response.headers.getRawHeaders(b"Location"), [b"/operator"])
        granted = service.certificateServer.requests()[0]
        self.assertEqual(granted.state, RequestState.GRANTED)
        certificate = service.certificateServer.issuedCertificate(granted.serial)
        self.assertEqual(certificate.subject.rfc4514_string(), "CN=branch-router")
        yield within(service.whenReady(), "the router to be ready once its certificate is granted")
        _, page = yield request(b"GET", url, cookie=cookie)
        self.assertIn(f"% Request 1 granted: serial 0x{granted.serial:X} issued to CN=branch-router".encode(), page)
        self.assertIn(b"No pending requests.", page)
        _, page = yield request(b"GET", url, cookie=cookie)
        self.assertNotIn(b"% Request 1 granted", page)

    @bounded
    def test_actionsArePostOnly(self):
        """
        An action asked for with GET is 405, so no link or image can grant.
        """
        service, url = startManualRouter(self)
        response, body = yield request(b"GET", url + "/grant?server=srstcaserver&id=1")
        self.assertEqual((response.code, body), (405, b"405 Method Not Allowed: use POST\n"))
        self.assertEqual(response.headers.getRawHeaders(b"Allow"), [b"POST"])

    @bounded
    def test_eventsFollowARegistration(self):
        """
        The event stream sends the live fragment at once, and again when a
        phone registers: its MAC, line and state appear.
        """
        self.patch(operator, "INTERVAL", 0.05)
        service, url = startManualRouter(self)
        response = yield Agent(reactor).request(b"GET", (url + "/events").encode("ascii"))
        self.assertEqual(response.headers.getRawHeaders(b"Content-Type"), [b"text/event-stream; charset=utf-8"])
        events = _Events()
        response.deliverBody(events)
        self.addCleanup(lambda: events.transport.stopProducing())
        first = yield events.next("No phones.")
        self.assertIn("CN=branch-router", first)
        yield registeredPhone(self, service, PHONE_MAC, tls=False, media=False)
        fragment = yield events.next(DOTTED_MAC)
        row = re.search(r'<tr class="phone" data-mac="1000.1111.0007">(.*?)</tr>', fragment, re.S).group(1)
        self.assertEqual(re.findall(r"<td[^>]*>([^<]*)", row), ["1", DOTTED_MAC, "", "2000", "idle", "127.0.0.1"])


TLS_PHONE_MAC = "100011110008"


class OperatorPageHardeningTests(TestCase):
    """
    The page against what a peer can do to it: stream and password floods,
    hostile certificate subjects; and its secure lock.
    """

    timeout = 30

    @bounded
    def test_streamsLeaveRoomForOtherPaths(self):
        """
        With C{max-connections: 4} at most two event streams are open at
        once: one more is answered 503 with the reason (and logged) while
        C{/metrics} is still served.
        """
        log = logLines(self, "srst.web")
        service, url = startManualRouter(self, http="max-connections: 4")
        for _ in range(operator.streamLimit(4)):
            response, events = yield openEvents(self, url)
            self.assertEqual(response.code, 200)
            yield events.next("CN=branch-router")
        response, body = yield openEvents(self, url)
        reason = (b"too many event streams open (2, to leave room for the site's other paths within"
                  b" http-server.max-connections)")
        self.assertEqual((response.code, body), (503, b"503 Service Unavailable: " + reason + b"\n"))
        self.assertEqual(log[-1], "operator page: 127.0.0.1 event stream refused: " + reason.decode())
        response, body = yield request(b"GET", url.replace("/operator", "/metrics"))
        self.assertEqual(response.code, 200)
        self.assertIn(b"srst_phones_registered", body)

    @bounded
    def test_loginBlockedAfterFailures(self):
        """
        Five wrong passwords from one address within 60 s block its logins
        for 60 s (IOS C{login block-for 60 attempts 5 within 60}): even the
        right password is answered 429 with the reason and C{Retry-After},
        the block is logged once; another address can still log in, and
        once the minute is over the blocked one can too.
        """
        log = logLines(self, "srst.web")
        service, _ = startManualRouter(self)
        clock = Clock()
        _, url = serveClockPage(self, service, clock)
        for _ in range(operator.LOGIN_ATTEMPTS):
            clock.advance(10)
            response, body = yield request(b"POST", url + "/login", form={"password": "guess"})
            self.assertEqual((response.code, body), (403, b"403 Forbidden: wrong password\n"))
        response, body = yield request(b"POST", url + "/login", form={"password": PASSWORD})
        self.assertEqual((response.code, body), (429, b"429 Too Many Requests: login blocked for 60 s after 5 failed"
                                                      b" attempts within 60 s (login block-for)\n"))
        self.assertEqual(response.headers.getRawHeaders(b"Retry-After"), [b"60"])
        self.assertIsNone(response.headers.getRawHeaders(b"Set-Cookie"))
        self.assertEqual([line for line in log if "blocked from logging in" in line],
                         ["operator page: 127.0.0.1 blocked from logging in for 60 s: 5 failed attempts within 60 s"
                          " (login block-for)"])
        response, _ = yield request(b"POST", url + "/login", form={"password": PASSWORD},
                                    bindAddress=("127.0.0.2", 0))
        self.assertEqual(response.code, 303)
        clock.advance(59.5)
        response, _ = yield request(b"POST", url + "/login", form={"password": PASSWORD})
        self.assertEqual((response.code, response.headers.getRawHeaders(b"Retry-After")), (429, [b"1"]))
        clock.advance(0.5)
        response, _ = yield request(b"POST", url + "/login", form={"password": PASSWORD})
        self.assertEqual(response.code, 303)

    @bounded
    def test_oneRenderPerViewPerTick(self):
        """
        However many streams are open, a refresh renders the fragment once
        per view (anonymous, logged in); each logged-in stream still gets
        its own session's CSRF token, an anonymous one none.
        """
        service, _ = startManualRouter(self)
        clock = Clock()
        page, url = serveClockPage(self, service, clock)
        sessions = []
        for _ in range(2):
            _, cookie, csrf = yield login(url)
            sessions.append((cookie, csrf))
        streams = []
        for cookie in [None, None, None] + [cookie for cookie, _ in sessions]:
            _, events = yield openEvents(self, url, cookie)
            streams.append(events)
        renders = []
        renderLive = page.renderLive

        def counting(facts, session):
            renders.append(session)
            return renderLive(facts, session)

        page.renderLive = counting
        clock.advance(operator.INTERVAL)
        fragments = yield gatherResults([events.next("CN=branch-router") for events in streams])
        self.assertEqual(len(renders), 2)
        for fragment in fragments[:3]:
            self.assertNotIn('name="csrf"', fragment)
            self.assertNotIn("Grant", fragment)
        for fragment, (_, csrf) in zip(fragments[3:], sessions):
            self.assertEqual(set(re.findall(r'name="csrf" value="([^"]+)"', fragment)), {csrf})

    @bounded
    def test_hostileSubjectEscapedAndFramed(self):
        """
        A pending request whose subject holds HTML and a carriage return is
        shown escaped, and on the event stream every line of the fragment
        (split as an event stream reader splits: CR, LF, CRLF) is a
        C{data:} line.
        """
        service, url = startManualRouter(self)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "<b>x</b>\revent: forged")])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        self.assertEqual(service.certificateServer.submit(csr).requestId, 2)
        _, page = yield request(b"GET", url)
        self.assertIn(b"CN=\\&lt;b\\&gt;x\\&lt;/b\\&gt;", page)
        self.assertNotIn(b"<b>x</b>", page)
        _, events = yield openEvents(self, url)
        yield events.next("&lt;b")
        lines = events.raw[-1].splitlines()
        self.assertEqual(lines[0], "event: live")
        self.assertEqual([line for line in lines[1:] if not line.startswith("data: ")], [])
        self.assertTrue([line for line in lines if line.startswith("data: event: forged</td>")], lines)

    @bounded
    def test_secureLockForTlsPhone(self):
        """
        A phone registered over TLS with its LSC shows the lock ("secure");
        a phone registered in the clear does not.
        """
        service, url = startManualRouter(self, grant="auto", capf=True)
        yield within(service.whenReady(), "the router to be ready")
        yield registeredPhone(self, service, TLS_PHONE_MAC, tls=True, media=False)
        yield registeredPhone(self, service, PHONE_MAC, tls=False, media=False)
        _, page = yield request(b"GET", url)
        cells = dict(re.findall(r'<tr class="phone" data-mac="([^"]+)">.*?<td data-label="secure">(.*?)</td>',
                                page.decode("utf-8"), re.S))
        self.assertEqual(cells, {
            "1000.1111.0008": '<span class="lock" title="authenticated and encrypted">&#x1F512; secure</span>',
            DOTTED_MAC: '<span title="not secure">&#x2014;</span>',
        })


WAIT_FOR = """
new Promise(function (resolve) {
  function check() { const found = %s; if (found) { observer.disconnect(); resolve(found); } }
  const observer = new MutationObserver(check);
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  check();
})
"""
"""A promise that resolves with an expression's value once it is truthy, checked whenever the page changes."""


class OperatorPageBrowserTests(TestCase):
    """
    The page in headless Chromium, the size of a phone's screen.
    """

    timeout = 60

    @bounded(timeout=20)
    def test_livePhoneAndGrant(self):
        """
        Logged in, the page shows a phone that registers while it is open
        without being reloaded (server-sent events), a screenshot is kept
        (C{operator-page.png} in the trial temporary directory), and its
        Grant button issues the router's pending certificate.
        """
        self.patch(operator, "INTERVAL", 0.1)
        service, url = startManualRouter(self)
        page = yield startChromium(self)
        yield page.navigate(url)
        loaded = page.event("Page.loadEventFired")
        yield page.evaluate(f"document.getElementById('password').value = {PASSWORD!r};"
                            " document.getElementById('login').submit()")
        yield loaded
        state = yield page.evaluate(WAIT_FOR % "document.getElementById('connection').textContent === 'live'"
                                    " && document.getElementById('connection').textContent")
        self.assertEqual(state, "live")
        yield page.evaluate("window.srstSameDocument = true")
        yield registeredPhone(self, service, PHONE_MAC, tls=False, media=False)
        row = yield page.evaluate(WAIT_FOR % f"document.querySelector('tr.phone[data-mac=\"{DOTTED_MAC}\"]')"
                                  " && Array.from(document.querySelectorAll("
                                  f"'tr.phone[data-mac=\"{DOTTED_MAC}\"] td'), (td) => td.textContent)")
        self.assertEqual(row, ["1", DOTTED_MAC, "\u2014", "2000", "idle", "127.0.0.1"])
        self.assertTrue((yield page.evaluate("window.srstSameDocument === true")))
        shot = yield page.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path = os.path.abspath("operator-page.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        loaded = page.event("Page.loadEventFired")
        yield page.evaluate("document.querySelector('tr.request[data-id=\"1\"] button.grant').click()")
        yield loaded
        notice = yield page.evaluate("document.getElementById('notice').textContent")
        granted = service.certificateServer.requests()[0]
        self.assertEqual(granted.state, RequestState.GRANTED)
        self.assertEqual(notice, f"% Request 1 granted: serial 0x{granted.serial:X} issued to CN=branch-router")
        self.assertEqual(service.certificateServer.issuedCertificate(granted.serial).subject.rfc4514_string(),
                         "CN=branch-router")
        yield within(service.whenReady(), "the router to be ready once its certificate is granted")
