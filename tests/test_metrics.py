"""
Tests for L{srst.metrics}: C{/metrics} of a real router on 127.0.0.1,
scraped with a real HTTP client and read with the Prometheus client's own
parser, changing as phones register over TLS, call, fail handshakes and
flood a policed port.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool, readBody

from srst.config import loadString
from srst.mgcp.fallback import FallbackStatus
from srst.sccp import messages as m
from srst.sccp.constants import CallState, SoftKeyEvent, Tone
from srst.service import RouterService, utcNow
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import PhoneConfig
from srst.tools._phonewire import clientTLSOptions, connectPhone
from tests.callhelpers import answeredCall, autoAck, isCallState, rings, waitFor, waitUntil
from tests.phonehelpers import registeredPhone, routerYamlWithCapf, synchronously
from tests.routerhelpers import (
    SEED_POLICY,
    bounded,
    freePort,
    routerYaml,
    runCommand,
    startRouter,
    stateDirectory,
    within,
)
from tests.test_moh_integration import hold, musicFile, recordMusic
from tests.test_sccp_integration import CMF

MGCP = """
media:
  address: 127.0.0.1
  rtp-port-range: "43100-43119"
voice-ports:
  1/0/0: {{signal: fxs-loop-start}}
dial-peers:
  - {{tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, application: mgcpapp}}
mgcp:
  bind: {{host: 127.0.0.1, port: 0}}
  call-agent: {{host: 127.0.0.1, port: {agentPort}}}
  timers: {{request-timeout-ms: 10000, request-timeout-max-ms: 10000, tsmax: 20}}
"""

VOICE_PORT = """
media:
  address: 127.0.0.1
  rtp-port-range: "43120-43139"
voice-ports:
  1/0/0: {signal: fxs-loop-start}
dial-peers:
  - {tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, forward-digits: all}
"""

FLOOD = 20
"""Connections from 127.0.0.2 to the policed credentials port."""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """
    @return: every sample of an exposition, by name and sorted labels.
    """
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict, name: str, **labels: str) -> float:
    """
    @return: one sample's value (0 when the exposition does not have it,
        as for a reason that never happened).
    """
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


class _Flood(Protocol):
    def connectionLost(self, reason: Any) -> None:
        self.factory.lost += 1
        if self.factory.lost == FLOOD:
            self.factory.done.callback(None)


class MetricsTests(TestCase):
    """
    A router with a certificate server, both SCCP listeners, the seed's
    control-plane policy on the credentials port and C{http-server:}.
    """

    timeout = 60

    @bounded
    def startRouter(self, metrics: str = "", extra: str = "", fallback: str = "") -> Any:
        self.policedPort = freePort()
        extra = (CMF.format(maxEphones=10).replace("  max-ephones:", fallback + "  max-ephones:", 1)
                 + "\nhttp-server: {address: 127.0.0.1, port: 0" + metrics + "}\n"
                 + SEED_POLICY.format(port=self.policedPort) + extra)
        self.service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), extra),
                                         credentialsPort=self.policedPort)
        return self.service

    @bounded
    def get(self, path: bytes = b"/metrics") -> Any:
        """@return: C{(response, body)} of a GET on the router's site."""
        agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        url = b"http://127.0.0.1:%d%s" % (self.service.ports()["http"], path)
        response = yield within(agent.request(b"GET", url), "the HTTP response")
        body = yield within(readBody(response), "the HTTP body")
        return response, body

    @bounded
    def scrape(self) -> Any:
        response, body = yield self.get()
        self.assertEqual(response.code, 200)
        self.assertEqual(response.headers.getRawHeaders(b"content-type"),
                         [b"text/plain; version=0.0.4; charset=utf-8"])
        return samples(body.decode("utf-8"))

    @bounded
    def test_scrapeFollowsTheRouter(self) -> None:
        """
        Every family reads its owner at scrape time: a TLS registration, a
        call and a failed call attempt, a phone refused at the TLS handshake
        and a flood of the policed port each show in the next scrape.
        """
        yield self.startRouter()
        before = yield self.scrape()
        self.assertEqual(value(before, "srst_phones_registered", security="secure"), 0)
        self.assertEqual(value(before, "srst_phones_registered", security="clear"), 0)
        self.assertEqual(value(before, "srst_calls_set_up_total"), 0)
        # The router's own certificate, from its certificate server.
        self.assertEqual(value(before, "srst_ca_certificates_issued_total"), 1)
        self.assertEqual(value(before, "srst_ca_requests_pending"), 0)
        self.assertEqual(value(before, "srst_ca_certificates_revoked"), 0)
        self.assertEqual(value(before, "srst_media_streams", protocol="srtp"), 0)

        a, dnA = yield registeredPhone(self, self.service, "0000000000D1", tls=True, media=False)
        registered = yield self.scrape()
        self.assertEqual(value(registered, "srst_phones_registered", security="secure"), 1)
        self.assertEqual(value(registered, "srst_phone_registrations_total", security="secure"), 1)
        self.assertEqual(value(registered, "srst_phone_registrations_total", security="clear"), 0)

        b, dnB = yield registeredPhone(self, self.service, "0000000000D2", tls=False, media=False)
        autoAck(a, 24000)
        autoAck(b, 24002)
        yield rings(a, b, dnB)
        started = waitFor(a, lambda msg: isinstance(msg, m.StartMediaTransmission))
        b.offHook()
        yield started
        talking = yield self.scrape()
        self.assertEqual(value(talking, "srst_phones_registered", security="clear"), 1)
        self.assertEqual(value(talking, "srst_calls_up", security="clear"), 1)
        self.assertEqual(value(talking, "srst_calls_set_up_total"), 1)

        onHook = waitFor(b, isCallState(CallState.ON_HOOK), since=len(b.received))
        b.onHook()
        yield onHook
        reorder = waitFor(b, lambda msg: isinstance(msg, m.StartTone) and msg.tone == Tone.REORDER,
                          since=len(b.received))
        b.offHook()
        b.pressKeys("9999")
        yield reorder
        failed = yield self.scrape()
        self.assertEqual(value(failed, "srst_calls_up", security="clear"), 0)
        self.assertEqual(value(failed, "srst_call_attempts_failed_total", reason="unknown number"), 1)

        refused = SimulatedPhone(PhoneConfig(mac="0000000000D3"), clock=reactor)
        options = clientTLSOptions("127.0.0.1", [self.service.certificateServer.caCertificate], None, None)
        connectPhone(reactor, refused, "127.0.0.1", self.service.ports()["sccp-secure"], tlsOptions=options)
        self.addCleanup(refused.stop)
        yield within(refused.whenDisconnected(), "the phone without a certificate to be refused")
        handshakes = yield self.scrape()
        self.assertEqual(value(handshakes, "srst_tls_handshake_failures_total", listener="sccp",
                               reason="no client certificate"), 1)

        factory = ClientFactory()
        factory.protocol = _Flood
        factory.lost, factory.done = 0, Deferred()
        for _ in range(FLOOD):
            reactor.connectTCP("127.0.0.1", self.policedPort, factory, bindAddress=("127.0.0.2", 0))
        yield within(factory.done, "the flood's connections to be dropped")
        flooded = yield self.scrape()
        self.assertEqual(value(flooded, "srst_policing_packets_total", **{"class": "sccp-class", "action": "dropped"}),
                         FLOOD)
        self.assertEqual(value(flooded, "srst_policing_packets_total", **{"class": "sccp-class", "action": "conformed"})
                         + value(flooded, "srst_policing_packets_total", **{"class": "sccp-class",
                                                                            "action": "exceeded"}), FLOOD)

    @bounded
    def test_secureCallHeld(self) -> None:
        """
        Two phones registered over TLS with LSCs talk on a secure call:
        C{srst_calls_up{security="secure"}} is 1 (clear 0); the call
        still counts as up while the called phone holds it.
        """
        yield self.startRouter()
        a, dnA = yield registeredPhone(self, self.service, "0000000000E1", tls=True, media=False)
        b, dnB = yield registeredPhone(self, self.service, "0000000000E2", tls=True, media=False)
        autoAck(a, 24004)
        autoAck(b, 24006)
        yield rings(a, b, dnB)
        connected = waitFor(b, isCallState(CallState.CONNECTED))
        b.offHook()
        state = yield connected
        talking = yield self.scrape()
        self.assertEqual(value(talking, "srst_phones_registered", security="secure"), 2)
        self.assertEqual(value(talking, "srst_calls_up", security="secure"), 1)
        self.assertEqual(value(talking, "srst_calls_up", security="clear"), 0)

        held = waitFor(b, isCallState(CallState.HOLD, state.callReference), since=len(b.received))
        b.softKey(SoftKeyEvent.HOLD, 1, state.callReference)
        yield held
        holding = yield self.scrape()
        self.assertEqual(value(holding, "srst_calls_up", security="secure"), 1)
        self.assertEqual(value(holding, "srst_calls_set_up_total"), 1)

    @bounded
    def test_musicOnHoldStream(self) -> None:
        """
        With C{moh}, a held secure phone hears the router's music over SRTP:
        that stream (C{show voice dsp}'s channel) counts in
        C{srst_media_streams{protocol="srtp"}} with packets sent, and
        leaves the count once the call is resumed.
        """
        _, path = musicFile(stateDirectory(self))
        yield self.startRouter(fallback=f"  moh: {path}\n")
        a, dnA = yield registeredPhone(self, self.service, "0000000000E4", tls=True)
        b, dnB = yield registeredPhone(self, self.service, "0000000000E5", tls=True)
        connected = yield answeredCall(a, b, dnB)
        ref = connected.callReference
        talking = yield self.scrape()
        self.assertEqual(value(talking, "srst_media_streams", protocol="srtp"), 0)
        mark = yield hold(a, b, ref)
        yield recordMusic(b, mark[1])
        holding = yield self.scrape()
        self.assertEqual(value(holding, "srst_media_streams", protocol="srtp"), 1)
        self.assertEqual(value(holding, "srst_media_streams", protocol="rtp"), 0)
        self.assertGreater(value(holding, "srst_media_stream_packets", direction="sent"), 5)
        resumed = waitFor(a, isCallState(CallState.CONNECTED, ref), since=len(a.received))
        a.softKey(SoftKeyEvent.RESUME, 1, ref)
        yield resumed
        yield waitUntil(lambda: not self.service.mediaFarm.holdMusic.rows(), "the music stream closed", a)
        after = yield self.scrape()
        self.assertEqual(value(after, "srst_media_streams", protocol="srtp"), 0)

    @bounded
    def test_voicePortMedia(self) -> None:
        """
        A secure phone's call to a voice port has its media terminated on
        the router: one C{srtp} stream counted, with packets both ways.
        """
        yield self.startRouter(extra=VOICE_PORT)
        phone, dn = yield registeredPhone(self, self.service, "0000000000E3", tls=True)
        port = self.service.portService.port("1/0/0")
        phone.offHook()
        phone.pressKeys("81234")
        yield waitFor(phone, isCallState(CallState.RING_OUT))
        port.backend.offHook()
        yield waitFor(phone, isCallState(CallState.CONNECTED))
        endpoint = self.service.portEndpoints["1/0/0"]
        yield waitUntil(lambda: endpoint.mediaLeg is not None and endpoint.mediaLeg.sending
                        and phone.media.packetsReceived > 5 and endpoint.mediaSnapshot().receive.received > 5,
                        "media both ways between the phone and 1/0/0", phone)
        scraped = yield self.scrape()
        self.assertEqual(value(scraped, "srst_media_streams", protocol="srtp"), 1)
        self.assertEqual(value(scraped, "srst_media_streams", protocol="rtp"), 0)
        self.assertGreater(value(scraped, "srst_media_stream_packets", direction="sent"), 5)
        self.assertGreater(value(scraped, "srst_media_stream_packets", direction="received"), 5)
        self.assertEqual(value(scraped, "srst_calls_up", security="secure"), 1)

    @bounded
    def test_certificateServer(self) -> None:
        """
        Under grant manual the router's own enrollment request waits:
        C{srst_ca_requests_pending} 1 and nothing issued; granted, pending
        is 0 and one certificate issued; a second certificate revoked
        gives C{srst_ca_certificates_revoked} 1 and two issued.
        """
        config = loadString(routerYaml(stateDirectory(self), grant="manual",
                                       extra="\nhttp-server: {address: 127.0.0.1, port: 0}\n"), "test-router.yaml")
        self.service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                     callFromThread=reactor.callFromThread)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        waiting = yield self.scrape()
        self.assertEqual(value(waiting, "srst_ca_requests_pending"), 1)
        self.assertEqual(value(waiting, "srst_ca_certificates_issued_total"), 0)

        granted = yield within(runCommand(self.service, "crypto", "pki", "server", "srstcaserver", "grant", "all"),
                               "the grant")
        self.assertIn("% Request 1 granted", granted.text)
        yield within(self.service.whenReady(), "the router to be ready")
        enrolled = yield self.scrape()
        self.assertEqual(value(enrolled, "srst_ca_requests_pending"), 0)
        self.assertEqual(value(enrolled, "srst_ca_certificates_issued_total"), 1)
        self.assertEqual(value(enrolled, "srst_ca_certificates_revoked"), 0)

        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "revoked")])).sign(key, hashes.SHA256()))
        serial = self.service.certificateServer.issue(csr).serial_number
        revoked = yield within(runCommand(self.service, "crypto", "pki", "server", "srstcaserver", "revoke",
                                          str(serial)), "the revocation")
        self.assertTrue(revoked.text.startswith(f"% Certificate 0x{serial:X} revoked"), revoked.text)
        scraped = yield self.scrape()
        self.assertEqual(value(scraped, "srst_ca_certificates_revoked"), 1)
        self.assertEqual(value(scraped, "srst_ca_certificates_issued_total"), 2)

    @bounded
    def test_mgcp(self) -> None:
        """
        With an MGCP gateway the scrape has its transaction counters and
        the fallback machine's state as a state set: exactly the monitor's
        state is 1 (here registering: the call agent never answers).
        """
        agentPort = freePort()
        yield self.startRouter(extra=MGCP.format(agentPort=agentPort))
        scraped = yield self.scrape()
        monitor = self.service.mgcpService.monitor
        counters = self.service.mgcpService.gateway.transactions.counters
        states = {labels[0][1]: v for (name, labels), v in scraped.items() if name == "srst_mgcp_fallback_state"}
        self.assertEqual(states, {status.value: float(status is monitor.status) for status in FallbackStatus})
        self.assertEqual(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(value(scraped, "srst_mgcp_commands_total", direction="sent"), counters.commandsSent)
        self.assertEqual(value(scraped, "srst_mgcp_commands_total", direction="received"), 0)
        self.assertEqual(value(scraped, "srst_mgcp_retransmissions_total"), counters.retransmissions)
        self.assertIn(("srst_mgcp_timeouts_total", ()), scraped)

    @bounded
    def test_switchedOff(self) -> None:
        """
        C{http-server.metrics: false} takes C{/metrics} off the site (404)
        while the rest of the site is served.
        """
        yield self.startRouter(metrics=", metrics: false")
        response, body = yield self.get()
        self.assertEqual(response.code, 404)
        response, body = yield self.get(b"/crl/srstcaserver.crl")
        self.assertEqual(response.code, 200)
