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
    port, MGCP, media, log and state files).  When it is reached, a new
    connection closes the oldest connection on which no phone is
    registered, so that a few addresses holding idle connections cannot
    lock new phones out; it is refused only when every open connection is
    registered;
  - C{max-connections-per-host}: the I{unregistered} SCCP connections one
    source address may hold, so that one host cannot take them all;
    registered phones behind one address (NAT, a VPN) do not count.

The SCCP session tells the limits when a phone registers on its connection
and when that registration ends (L{IAdmittedConnection}, which the
connection's transport provides).

A refused connection is closed as soon as it is accepted, before any TLS
work (L{ConnectionLimitFactory} sits outside TLS, inside the control-plane
policy).  Each refusal and each connection closed to make room is counted
and logged through a L{srst.lograte.LogLimiter}: the first of each source
address and cap at once, the others summed up once a minute (C{"10.1.1.9:
99 more SCCP connections refused (max-connections-per-host 4) in the last
minute"}), at most L{MAX_SUMMARY_SOURCES} addresses and caps apart (the
others together, as C{"other peers"}).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from attrs import define, field, frozen
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IProtocolFactory, IReactorTime
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from zope.interface import Interface, implementer

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

CLOSING_ALLOWANCE = 16
"""
Connections closed to make room that may be closing at once.  An aborted
socket is closed on the reactor's next iteration, while the listener may
accept a hundred connections in one; so a burst over C{max-connections}
closes this many connections for newcomers and refuses the rest of the
burst, and the descriptors in use never exceed C{max-connections} plus
this (well within L{FD_RESERVE}).
"""

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


class IAdmittedConnection(Interface):
    """
    A connection admitted within L{ConnectionLimits}, as the protocol inside
    it sees its transport (the limits' wrapper, or TLS over it, which
    provides what its transport provides): the SCCP session tells it when a
    phone registers on it and when that registration ends.
    """

    def phoneRegistered() -> None:
        """
        A phone registered on this connection: it no longer counts against
        C{max-connections-per-host} and is never closed to make room.
        """

    def phoneUnregistered() -> None:
        """
        The registration on this connection ended: it is an unregistered
        (standby) connection again, or about to close.
        """


@define(eq=False)
class Admission:
    """
    One connection counted by L{ConnectionLimits}.

    @ivar host: its source address.
    @ivar port: its source port.
    @ivar close: aborts the connection (to make room for a new one).
    @ivar since: when it opened, or when its registration ended (the clock's
        seconds): its age as an unregistered connection.
    @ivar registered: whether a phone is registered on it.
    @ivar closing: whether it was closed to make room (and its connection
        has not ended yet).
    @ivar counted: whether it still counts (its connection has not ended).
    """

    host: str
    port: int
    close: Callable[[], None] = field(repr=False)
    since: float
    registered: bool = False
    closing: bool = False
    counted: bool = True


class ConnectionLimits:
    """
    Counts the open SCCP connections of both listeners, and decides whether
    another may open and which connection, if any, is closed for it.

    A phone proves itself by registering (on the TLS port with its
    certificate), so a registered connection is safe: it is never closed
    to make room and does not count against C{max-connections-per-host}
    (any number of registered phones may share one address: NAT, a VPN
    concentrator).  Unregistered connections (TLS handshakes, phones about
    to register, standby connections sending only KeepAlives) are the
    suspects:

      - one source address holds at most C{max-connections-per-host} of
        them: a connection over that is refused at accept;
      - when C{max-connections} are open, a new connection closes the
        oldest unregistered one (the one unregistered for longest), with a
        warning naming both; only when every open connection is registered
        is the new one refused.

    A phone that connects is the youngest unregistered connection, so it is
    closed to make room only if others open more connections than there
    are unregistered ones older than it before it registers (a TLS
    handshake and a Register: a few tens of milliseconds on a LAN), each
    from an address under its per-host cap.

    @ivar caps: the L{ConnectionCaps} in force.
    @ivar open: connections open now (holding a descriptor), including
        those closing to make room.
    @ivar closing: connections closed to make room whose connection has
        not ended yet (Twisted closes an aborted socket on the next reactor
        iteration): they no longer count against C{max-connections}, and at
        most L{CLOSING_ALLOWANCE} of them may be pending at once.
    @ivar registered: open connections on which a phone is registered.
    @ivar unregisteredByHost: open unregistered connections, by source
        address.
    @ivar refused: connections refused since start, by cap name.
    @ivar closedToMakeRoom: unregistered connections closed to make room for
        a new one since start.
    @ivar logLimiter: the L{LogLimiter} of the refusal and closure warnings:
        it runs while a listener runs (L{listenerStarted},
        L{listenerStopped}).
    """

    log = Logger()

    def __init__(self, caps: ConnectionCaps, clock: IReactorTime) -> None:
        """
        @param caps: the caps.
        @param clock: times the refusal summaries and the connections' ages.
        """
        self.caps = caps
        self.clock = clock
        self.open = 0
        self.closing = 0
        self.registered = 0
        self.unregisteredByHost: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.closedToMakeRoom = 0
        self.logLimiter = LogLimiter(clock, maxPeers=MAX_SUMMARY_SOURCES)
        self._unregistered: dict[Admission, None] = {}
        self._listeners = 0

    @property
    def live(self) -> int:
        """Open connections not closing to make room."""
        return self.open - self.closing

    def admit(self, host: str) -> bool:
        """
        Whether a new connection from C{host} may open: C{host} holds fewer
        unregistered connections than the per-host cap, and C{max-connections}
        is not reached or an unregistered connection can be closed for it
        (L{opened} closes it) while fewer than L{CLOSING_ALLOWANCE} are still
        closing.

        @return: whether it may open (if not, the refusal is counted and
            logged).
        """
        unregistered = self.unregisteredByHost[host]
        if unregistered >= self.caps.perHost:
            self._refuse(host, MAX_CONNECTIONS_PER_HOST, self.caps.perHost,
                         "{count} open from that address with no phone registered", unregistered)
            return False
        if self.live >= self.caps.total:
            if not self._unregistered:
                self._refuse(host, MAX_CONNECTIONS, self.caps.total,
                             "{count} open in all, each with a phone registered", self.live)
                return False
            if self.closing >= CLOSING_ALLOWANCE:
                self._refuse(host, MAX_CONNECTIONS, self.caps.total,
                             "{count} open in all and {closing} still closing to make room", self.live,
                             closing=self.closing)
                return False
        return True

    def opened(self, host: str, port: int, close: Callable[[], None]) -> Admission:
        """
        Count a connection L{admit} let open; when C{max-connections} are
        open, first close the oldest unregistered connection (and log it).

        @param host: its source address.
        @param port: its source port.
        @param close: aborts it, should it be closed to make room later.
        @return: its L{Admission}, for L{registrationChanged} and
            L{release}.
        """
        if self.live >= self.caps.total and self._unregistered:
            self._makeRoom(next(iter(self._unregistered)), host)
        admission = Admission(host, port, close, self.clock.seconds())
        self.open += 1
        self._unregistered[admission] = None
        self.unregisteredByHost[host] += 1
        return admission

    def registrationChanged(self, admission: Admission, registered: bool) -> None:
        """
        A phone registered on an open connection, or its registration ended.

        @param admission: the connection.
        @param registered: whether a phone is registered on it now.
        """
        if not admission.counted or admission.closing or admission.registered == registered:
            return
        admission.registered = registered
        if registered:
            self.registered += 1
            self._forgetUnregistered(admission)
        else:
            self.registered -= 1
            admission.since = self.clock.seconds()
            self._unregistered[admission] = None
            self.unregisteredByHost[admission.host] += 1

    def release(self, admission: Admission) -> None:
        """
        A connection closed: it no longer counts.
        """
        if not admission.counted:
            return
        admission.counted = False
        self.open -= 1
        if admission.closing:
            self.closing -= 1
        elif admission.registered:
            self.registered -= 1
        else:
            self._forgetUnregistered(admission)

    def _forgetUnregistered(self, admission: Admission) -> None:
        del self._unregistered[admission]
        self.unregisteredByHost[admission.host] -= 1
        if self.unregisteredByHost[admission.host] <= 0:
            del self.unregisteredByHost[admission.host]

    def _makeRoom(self, victim: Admission, newHost: str) -> None:
        # It counts as open (it holds its descriptor) until its connection
        # has ended (L{release}), but no longer against max-connections.
        count = self.live
        self._forgetUnregistered(victim)
        victim.closing = True
        self.closing += 1
        self.closedToMakeRoom += 1
        limit = self.caps.total
        self.logLimiter.warn(
            self.log, victim.host, f"SCCP connections closed to make room ({MAX_CONNECTIONS} {limit})",
            "SCCP connection from {host} port {port} closed to make room for one from {newHost}: {count} open "
            "in all ({cap} {limit}) and it was the oldest not registered ({age:.0f} s); further closures are "
            "summarised every {interval:g} s",
            host=victim.host, port=victim.port, newHost=newHost, count=count, cap=MAX_CONNECTIONS, limit=limit,
            age=self.clock.seconds() - victim.since, interval=self.logLimiter.interval)
        victim.close()

    def _refuse(self, host: str, cap: str, limit: int, why: str, count: int, **fields: Any) -> None:
        self.refused[cap] += 1
        self.logLimiter.warn(self.log, host, f"SCCP connections refused ({cap} {limit})",
                             "SCCP connection from {host} refused: " + why + " ({cap} {limit}); "
                             "further refusals are summarised every {interval:g} s",
                             host=host, count=count, cap=cap, limit=limit, interval=self.logLimiter.interval,
                             **fields)

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
            "closing": self.closing,
            "registered": self.registered,
            "refused": dict(self.refused),
            "closedToMakeRoom": self.closedToMakeRoom,
        }


@implementer(IAdmittedConnection)
class _LimitedProtocol(ProtocolWrapper):
    """
    A connection counted by L{ConnectionLimits}.

    @ivar admission: its count.
    """

    admission: Admission

    def phoneRegistered(self) -> None:
        """See L{IAdmittedConnection.phoneRegistered}."""
        self.factory.limits.registrationChanged(self.admission, True)

    def phoneUnregistered(self) -> None:
        """See L{IAdmittedConnection.phoneUnregistered}."""
        self.factory.limits.registrationChanged(self.admission, False)

    def closeToMakeRoom(self) -> None:
        """Abort the connection: a newer one needs its place."""
        if self.transport is not None:
            self.transport.abortConnection()


class ConnectionLimitFactory(WrappingFactory):
    """
    Admits a listener's connections within the shared L{ConnectionLimits}:
    over a cap, C{buildProtocol} returns L{None} and the connection is
    closed as soon as it is accepted; when C{max-connections} are open, an
    older unregistered connection may be closed for it instead.

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
        if isinstance(addr, (IPv4Address, IPv6Address)):
            host, port = addr.host, addr.port
        else:
            host, port = str(addr), 0
        if not self.limits.admit(host):
            return None
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        protocol = _LimitedProtocol(self, wrapped)
        protocol.admission = self.limits.opened(host, port, protocol.closeToMakeRoom)
        return protocol

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        """
        A connection closed: it no longer counts.
        """
        WrappingFactory.unregisterProtocol(self, p)
        if isinstance(p, _LimitedProtocol):
            self.limits.release(p.admission)

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
    "CLOSING_ALLOWANCE", "FD_RESERVE", "MAX_CONNECTIONS", "MAX_CONNECTIONS_PER_HOST", "MAX_SUMMARY_SOURCES",
    "Admission", "ConnectionCaps", "ConnectionLimitFactory", "ConnectionLimits", "IAdmittedConnection",
    "fitConnectionCaps",
]
