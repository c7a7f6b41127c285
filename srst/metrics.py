# -*- test-case-name: tests.test_metrics -*-
"""
The router's Prometheus metrics (C{/metrics} on the HTTP site).

L{RouterCollector} keeps no counters of its own: every scrape reads the
counters their owners keep, the ones the C{show} commands read, at that
moment, on the reactor thread.  Names follow Prometheus's rules (C{srst_}
prefix, base units, C{_total} on counters; the client library adds the
suffix).

  - C{srst_phones_registered{security}}: registered phones, C{secure}
    (TLS listener) or C{clear} (C{show ephone registered}).
  - C{srst_phone_registrations_total{security}},
    C{srst_phone_registration_rejects_total{security,reason}}: Registers
    admitted and refused per listener (the reject reason as the
    C{Registers rejected (...)} log line says it).
  - C{srst_tls_handshake_failures_total{listener,reason}}: failed TLS
    handshakes of the secure SCCP listener by reason (its C{show ephone
    --json} counters) and of the credentials service (no reasons kept
    there: C{timed out} and C{other}).
  - C{srst_calls_up{security}}: calls answered and not yet cleared
    (connected or on hold; C{show voice call status}),
    C{srst_calls_set_up_total}, C{srst_call_attempts_failed_total{reason}}
    (busy, unknown number, congestion, ...).
  - C{srst_media_streams{protocol}}: router-terminated media streams open
    now (voice-port calls, local or MGCP: C{show voice port}; music on
    hold and conference bridge ports: C{show voice dsp}), C{srtp} or
    C{rtp}; C{srst_media_stream_packets{direction}} and
    C{srst_media_stream_packets_lost}: the packet counts of those open
    streams (gauges: a stream's counts leave with it).  Phone-to-phone
    media never passes the router and is not counted.
  - C{srst_policing_packets_total{class,action}}: the control-plane
    policy's C{conformed}, C{exceeded} and C{dropped} packets per class
    (C{show policy-map control-plane}).
  - C{srst_mgcp_commands_total{direction}},
    C{srst_mgcp_retransmissions_total}, C{srst_mgcp_timeouts_total}: the
    MGCP transaction layer (C{show mgcp statistics}), and
    C{srst_mgcp_fallback_state{srst_mgcp_fallback_state}}: one state set
    of the fallback machine (C{show ccm-manager fallback-mgcp}).
  - C{srst_ca_certificates_issued_total}, C{srst_ca_requests_pending},
    C{srst_ca_certificates_revoked}: the certificate server (the
    certificates it issued since it started, counted as it issues them;
    C{show crypto pki server}; its CRL).

A family whose owner is not configured (no SCCP, no control-plane policy,
no MGCP, no certificate server) is left out of the scrape.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

from attrs import frozen
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, StateSetMetricFamily
from prometheus_client.metrics_core import Metric

from srst.calls.engine import CallEngine
from srst.calls.leg import LegStatus
from srst.credentials import CredentialsFactory
from srst.media.transport import StreamSnapshot
from srst.mgcp.control import MgcpService
from srst.mgcp.fallback import FallbackStatus
from srst.pki.ca import CertificateServer
from srst.policing.meter import ControlPlane
from srst.sccp.factory import SkinnyFactory
from srst.sccp.registry import EphoneRegistry

_UP = (LegStatus.CONNECTED, LegStatus.HELD)


def _security(secure: bool) -> str:
    return "secure" if secure else "clear"


@frozen(eq=False)
class RouterCollector:
    """
    A Prometheus collector over the router's counters (see the module
    docstring).  Each owner is reached through a callable, read at scrape
    time, because some are built after the site (the secure listener once
    the identity is enrolled, MGCP after a configuration download).

    @ivar registry: the ephone registry, or L{None} without SCCP.
    @ivar skinnyFactories: the SCCP listeners built so far.
    @ivar callEngine: the call engine, or L{None}.
    @ivar controlPlane: the control-plane policy, or L{None}.
    @ivar portNames: the voice ports' names.
    @ivar mediaOf: a voice port's open media stream, or L{None}.
    @ivar mgcp: the MGCP service, or L{None} (not configured or not yet
        built).
    @ivar credentials: the credentials listener's factory, or L{None}.
    @ivar certificateServer: the certificate server, or L{None}.
    @ivar farmStreams: the media farm's open streams (music on hold,
        conference bridge ports), as C{show voice dsp} lists them.
    """

    registry: EphoneRegistry | None
    skinnyFactories: Callable[[], Sequence[SkinnyFactory]]
    callEngine: CallEngine | None
    controlPlane: ControlPlane | None
    portNames: Sequence[str]
    mediaOf: Callable[[str], StreamSnapshot | None]
    mgcp: Callable[[], MgcpService | None]
    credentials: Callable[[], CredentialsFactory | None]
    certificateServer: CertificateServer | None
    farmStreams: Callable[[], Sequence[StreamSnapshot]] = lambda: ()

    def collect(self) -> Iterator[Metric]:
        """
        @return: the metric families, read now.
        """
        yield from self._sccp()
        yield from self._handshakes()
        yield from self._calls()
        yield from self._media()
        yield from self._policing()
        yield from self._mgcp()
        yield from self._ca()

    def _sccp(self) -> Iterator[Metric]:
        if self.registry is None:
            return
        registered = {"secure": 0, "clear": 0}
        for ephone in self.registry.registeredEphones():
            registered[_security(ephone.secure)] += 1
        phones = GaugeMetricFamily("srst_phones_registered", "IP phones registered now.", labels=["security"])
        for security, count in registered.items():
            phones.add_metric([security], count)
        yield phones
        accepted = CounterMetricFamily("srst_phone_registrations", "SCCP Registers admitted.", labels=["security"])
        rejected = CounterMetricFamily("srst_phone_registration_rejects",
                                       "SCCP Registers answered with RegisterReject, by reason.",
                                       labels=["security", "reason"])
        for factory in self.skinnyFactories():
            security = _security(factory.secure)
            accepted.add_metric([security], factory.registrations.accepted)
            for reason, count in sorted(factory.registrations.rejected.items()):
                rejected.add_metric([security, reason], count)
        yield accepted
        yield rejected

    def _handshakes(self) -> Iterator[Metric]:
        failures = CounterMetricFamily("srst_tls_handshake_failures", "TLS handshakes that failed, by reason.",
                                       labels=["listener", "reason"])
        for factory in self.skinnyFactories():
            if factory.secure:
                for reason, count in sorted(factory.handshakeFailures.items()):
                    failures.add_metric(["sccp", reason], count)
        credentials = self.credentials()
        if credentials is not None:
            statistics = credentials.statistics
            timedOut = statistics.handshakesTimedOut
            failures.add_metric(["credentials", "timed out"], timedOut)
            failures.add_metric(["credentials", "other"], statistics.handshakesFailed - timedOut)
        yield failures

    def _calls(self) -> Iterator[Metric]:
        engine = self.callEngine
        if engine is None:
            return
        up = {"secure": 0, "clear": 0}
        for call in engine.calls():
            if call.callee.status in _UP:
                up[_security(call.secure)] += 1
        calls = GaugeMetricFamily("srst_calls_up", "Calls answered and not yet cleared.", labels=["security"])
        for security, count in up.items():
            calls.add_metric([security], count)
        yield calls
        yield CounterMetricFamily("srst_calls_set_up", "Two-party calls set up.", value=engine.callsPlaced)
        failed = CounterMetricFamily("srst_call_attempts_failed", "Call attempts that failed, by reason.",
                                     labels=["reason"])
        for reason, count in sorted(engine.callAttemptsFailed.items()):
            failed.add_metric([reason], count)
        yield failed

    def _media(self) -> Iterator[Metric]:
        streams = {"srtp": 0, "rtp": 0}
        received = sent = lost = 0
        snapshots = [self.mediaOf(name) for name in self.portNames] + list(self.farmStreams())
        for snapshot in snapshots:
            if snapshot is None or snapshot.closed:
                continue
            streams["srtp" if snapshot.secure else "rtp"] += 1
            received += snapshot.receive.received
            sent += snapshot.send.packets
            lost += max(snapshot.receive.lost, 0)
        family = GaugeMetricFamily("srst_media_streams", "Router-terminated media streams open now.",
                                   labels=["protocol"])
        for protocol, count in streams.items():
            family.add_metric([protocol], count)
        yield family
        packets = GaugeMetricFamily("srst_media_stream_packets", "RTP packets of the open media streams.",
                                    labels=["direction"])
        packets.add_metric(["received"], received)
        packets.add_metric(["sent"], sent)
        yield packets
        yield GaugeMetricFamily("srst_media_stream_packets_lost",
                                "RTP packets lost towards the open media streams (RFC 3550).", value=lost)

    def _policing(self) -> Iterator[Metric]:
        if self.controlPlane is None:
            return
        family = CounterMetricFamily("srst_policing_packets", "Control-plane policing outcomes, per class.",
                                     labels=["class", "action"])
        for stats in self.controlPlane.stats().classes:
            if stats.police is not None:
                family.add_metric([stats.name, "conformed"], stats.police.conformedPackets)
                family.add_metric([stats.name, "exceeded"], stats.police.exceededPackets)
            family.add_metric([stats.name, "dropped"], stats.droppedPackets)
        yield family

    def _mgcp(self) -> Iterator[Metric]:
        service = self.mgcp()
        if service is None:
            return
        counters = service.gateway.transactions.counters
        commands = CounterMetricFamily("srst_mgcp_commands", "MGCP commands (transactions), by direction.",
                                       labels=["direction"])
        commands.add_metric(["received"], counters.commandsReceived)
        commands.add_metric(["sent"], counters.commandsSent)
        yield commands
        yield CounterMetricFamily("srst_mgcp_retransmissions", "MGCP commands and responses resent.",
                                  value=counters.retransmissions)
        yield CounterMetricFamily("srst_mgcp_timeouts", "MGCP commands that exhausted retransmission.",
                                  value=counters.timeouts)
        state = service.monitor.status
        yield StateSetMetricFamily("srst_mgcp_fallback_state", "The MGCP fallback machine's state.",
                                   value={status.value: status is state for status in FallbackStatus})

    def _ca(self) -> Iterator[Metric]:
        server = self.certificateServer
        if server is None or not server.started:
            return
        yield CounterMetricFamily("srst_ca_certificates_issued", "Certificates the certificate server issued.",
                                  value=server.issuedCount)
        yield GaugeMetricFamily("srst_ca_requests_pending", "Enrollment requests waiting for grant or reject.",
                                value=server.status().pendingRequests)
        yield GaugeMetricFamily("srst_ca_certificates_revoked", "Certificates on the certificate server's CRL.",
                                value=len(server.crl))


__all__ = ["RouterCollector"]
