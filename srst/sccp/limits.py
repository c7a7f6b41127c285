# -*- test-case-name: tests.test_sccp_limits -*-
"""
Caps on the SCCP connections the router keeps open, so that idle
connections cannot use up its file descriptors (issue 17, item 3).

A phone legitimately holds an unregistered I{standby} connection to SRST
for as long as it is registered to CallManager (sccp.md 4.3), so such
connections are not timed out while they send KeepAlives; they are bounded
in number instead:

  - C{max-connections}: the SCCP connections open at once, plain and TLS
    together (by default two per phone plus a margin, see
    L{srst.sccp.config.CallManagerFallbackConfig.connectionLimit}), and
    never more than the process's open-file limit less L{FD_RESERVE}, the
    descriptors kept for everything else (the admin socket, the credentials
    port, MGCP, media, log and state files);
  - C{max-connections-per-host}: the SCCP connections one source address
    may hold, so that one host cannot take them all.

A connection over a cap is closed as soon as it is accepted, before any TLS
work (L{ConnectionLimitFactory} sits outside TLS, inside the control-plane
policy).  Each refusal is counted and logged through a
L{srst.lograte.LogLimiter}: the first of each source address and cap at
once, the others summed up once a minute (C{"10.1.1.9: 99 more SCCP
connections refused (max-connections-per-host 4) in the last minute"}), at
most L{MAX_SUMMARY_SOURCES} addresses and caps apart (the others together,
as C{"other peers"}).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from attrs import frozen
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IProtocolFactory, IReactorTime
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

from srst.lograte import LogLimiter
from srst.sccp.config import CallManagerFallbackConfig

FD_RESERVE = 64
"""
File descriptors SCCP connections may never use: the listeners, the
reactor's own, log and state files, a burst of C{srst-cli} clients and
credentials fetches, MGCP and the voice ports' RTP sockets.
"""

MAX_SUMMARY_SOURCES = 256
"""Source addresses (and caps) whose refusals are summed up apart; beyond, they are summed up together."""

MAX_CONNECTIONS = "max-connections"
MAX_CONNECTIONS_PER_HOST = "max-connections-per-host"


@frozen
class ConnectionCaps:
    """
    The caps in force.

    @ivar total: SCCP connections open at once (plain and TLS).
    @ivar perHost: SCCP connections from one source address.
    @ivar configuredTotal: C{max-connections} as configured or derived,
        before it was fitted to the open-file limit.
    """

    total: int
    perHost: int
    configuredTotal: int

    @classmethod
    def fromConfig(cls, config: CallManagerFallbackConfig) -> ConnectionCaps:
        """
        @return: the caps of a C{call-manager-fallback} section.
        """
        return cls(config.connectionLimit, config.connectionLimitPerHost, config.connectionLimit)

    @property
    def fitted(self) -> bool:
        """Whether the open-file limit lowered C{max-connections}."""
        return self.total < self.configuredTotal

    def fitTo(self, openFileLimit: int | None, reserve: int = FD_RESERVE) -> ConnectionCaps:
        """
        Lower the caps to what the open-file limit leaves for SCCP.

        @param openFileLimit: the process's soft C{RLIMIT_NOFILE}, or
            L{None} when unlimited.
        @param reserve: descriptors kept for everything else.
        @return: caps whose total is at most C{openFileLimit - reserve} (at
            least 1) and whose per-host cap is at most the total.
        """
        if openFileLimit is None:
            return self
        total = max(1, min(self.total, openFileLimit - reserve))
        return ConnectionCaps(total, min(self.perHost, total), self.configuredTotal)


def fitConnectionCaps(caps: ConnectionCaps, openFileLimit: int | None, log: Logger,
                      reserve: int = FD_RESERVE) -> ConnectionCaps:
    """
    L{ConnectionCaps.fitTo}, with a warning naming the caps when the limit
    lowered them.

    @return: the fitted caps.
    """
    fitted = caps.fitTo(openFileLimit, reserve)
    if fitted != caps:
        log.warn(
            "call-manager-fallback: max-connections {configured} and max-connections-per-host {perHost} do not "
            "fit the open-file limit {limit} ({reserve} kept for the admin socket, credentials, MGCP and "
            "media): at most {total} SCCP connections, {fittedPerHost} per address",
            configured=caps.configuredTotal, perHost=caps.perHost, limit=openFileLimit, reserve=reserve,
            total=fitted.total, fittedPerHost=fitted.perHost)
    return fitted


class ConnectionLimits:
    """
    Counts the open SCCP connections of both listeners, overall and by source
    address, and decides whether another may open.

    @ivar caps: the L{ConnectionCaps} in force.
    @ivar open: connections open now.
    @ivar byHost: connections open now, by source address.
    @ivar refused: connections refused since start, by cap name.
    @ivar logLimiter: the L{LogLimiter} of the refusal warnings: it runs
        while a listener runs (L{listenerStarted}, L{listenerStopped}).
    """

    log = Logger()

    def __init__(self, caps: ConnectionCaps, clock: IReactorTime) -> None:
        """
        @param caps: the caps.
        @param clock: times the refusal summaries.
        """
        self.caps = caps
        self.open = 0
        self.byHost: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.logLimiter = LogLimiter(clock, maxPeers=MAX_SUMMARY_SOURCES)
        self._listeners = 0

    def admit(self, host: str) -> bool:
        """
        Count a new connection from C{host} if the caps allow it.

        @return: whether it may open (if not, the refusal is counted and
            logged).
        """
        if self.byHost[host] >= self.caps.perHost:
            self._refuse(host, MAX_CONNECTIONS_PER_HOST, self.caps.perHost, self.byHost[host])
            return False
        if self.open >= self.caps.total:
            self._refuse(host, MAX_CONNECTIONS, self.caps.total, self.open)
            return False
        self.open += 1
        self.byHost[host] += 1
        return True

    def release(self, host: str) -> None:
        """
        A connection admitted from C{host} closed.
        """
        self.open -= 1
        self.byHost[host] -= 1
        if self.byHost[host] <= 0:
            del self.byHost[host]

    def _refuse(self, host: str, cap: str, limit: int, count: int) -> None:
        self.refused[cap] += 1
        where = "from that address" if cap == MAX_CONNECTIONS_PER_HOST else "in all"
        self.logLimiter.warn(self.log, host, f"SCCP connections refused ({cap} {limit})",
                             "SCCP connection from {host} refused: {count} open {where} ({cap} {limit}); "
                             "further refusals are summarised every {interval:g} s",
                             host=host, count=count, where=where, cap=cap, limit=limit,
                             interval=self.logLimiter.interval)

    def listenerStarted(self) -> None:
        """
        A listener started: refusals are rate-limited while one runs.
        """
        self._listeners += 1
        self.logLimiter.start()

    def listenerStopped(self) -> None:
        """
        A listener stopped; with the last one, the refusals not yet summed
        up are summed up now and the summary timer stops
        (L{LogLimiter.stop}).
        """
        self._listeners = max(self._listeners - 1, 0)
        if not self._listeners:
            self.logLimiter.stop()

    def statistics(self) -> dict[str, Any]:
        """
        @return: the caps and counters (JSON-serialisable, for C{show ephone}).
        """
        return {
            "maxConnections": self.caps.total,
            "maxConnectionsPerHost": self.caps.perHost,
            "configuredMaxConnections": self.caps.configuredTotal,
            "open": self.open,
            "refused": dict(self.refused),
        }


class _LimitedProtocol(ProtocolWrapper):
    """
    A connection counted by L{ConnectionLimits}.

    @ivar host: the source address it was counted under.
    """

    def __init__(self, factory: WrappingFactory, wrappedProtocol: Any, host: str) -> None:
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.host = host


class ConnectionLimitFactory(WrappingFactory):
    """
    Admits a listener's connections within the shared L{ConnectionLimits}:
    over a cap, C{buildProtocol} returns L{None} and the connection is
    closed as soon as it is accepted.

    @ivar limits: the shared counters.
    """

    noisy = False

    def __init__(self, wrappedFactory: IProtocolFactory, limits: ConnectionLimits) -> None:
        """
        @param wrappedFactory: the listener's factory (the SCCP factory, or
            TLS around it).
        @param limits: shared by the plain and the secure listener.
        """
        WrappingFactory.__init__(self, wrappedFactory)
        self.limits = limits

    def buildProtocol(self, addr: IAddress) -> _LimitedProtocol | None:
        """
        @return: the wrapped protocol, or L{None} over a cap (or when the
            wrapped factory refuses).
        """
        host = addr.host if isinstance(addr, (IPv4Address, IPv6Address)) else str(addr)
        if not self.limits.admit(host):
            return None
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            self.limits.release(host)
            return None
        return _LimitedProtocol(self, wrapped, host)

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        """
        A connection closed: it no longer counts.
        """
        WrappingFactory.unregisterProtocol(self, p)
        if isinstance(p, _LimitedProtocol):
            self.limits.release(p.host)

    def startFactory(self) -> None:
        """
        The listener started: its refusals are rate-limited.
        """
        WrappingFactory.startFactory(self)
        self.limits.listenerStarted()

    def stopFactory(self) -> None:
        """
        The listener stopped: with the last one, sum up the refusals left.
        """
        WrappingFactory.stopFactory(self)
        self.limits.listenerStopped()


__all__ = [
    "FD_RESERVE", "MAX_CONNECTIONS", "MAX_CONNECTIONS_PER_HOST", "MAX_SUMMARY_SOURCES", "ConnectionCaps", "ConnectionLimitFactory", "ConnectionLimits", "fitConnectionCaps",
]
