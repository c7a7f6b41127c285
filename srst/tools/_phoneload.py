# -*- test-case-name: tests.test_phone_load -*-
"""
The load generator behind C{srst-phone register}: connect and register many
simulated phones with bounded concurrency, measure each registration, hold
the registrations with keepalives, and unregister them all.

A phone's registration latency runs from the start of its TCP connection
attempt to the completion of its registration (see
L{srst.tools._phoneclient}); the rate is registered phones divided by the
time from the first connection attempt to the last completed registration.
TLS contexts are built before timing starts (each phone has its own client
certificate, as real phones do).
"""

from __future__ import annotations

import collections
import math
from typing import Callable, Iterator, Optional, Sequence

from attrs import frozen
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst.debug import DebugSwitches

from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import (
    PhoneConfig,
    PhoneError,
    PhoneState,
    RegistrationRejected,
)
from srst.tools._phonewire import PhoneReactor, buildTLSContext, connectPhone

_log = Logger(namespace="srst.tools.phone")

TLSOptionsFor = Callable[[PhoneConfig], IOpenSSLClientConnectionCreator]
"""Builds one phone's TLS client connection creator from its config."""

_Work = Iterator[tuple[int, tuple[SimulatedPhone,
                                  Optional[IOpenSSLClientConnectionCreator]]]]


def percentile(sortedValues: Sequence[float], fraction: float) -> float:
    """
    The nearest-rank percentile.

    @param sortedValues: values in ascending order.
    @param fraction: 0.5 for the median, 0.99 for p99.
    @return: the value, or NaN when there are none.
    """
    if not sortedValues:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sortedValues)))
    return sortedValues[min(rank, len(sortedValues)) - 1]


@frozen
class LoadResult:
    """
    What a load run achieved.

    @ivar attempted: phones started.
    @ivar registered: phones whose registration completed.
    @ivar rejected: phones the router refused (RegisterReject).
    @ivar failed: phones that failed otherwise (connection, TLS, timeout).
    @ivar elapsed: seconds from the first connection attempt to the last
        completed registration (or the last failure when none completed).
    @ivar latencies: registration latencies in seconds, ascending.
    @ivar errors: C{(message, count)} for the distinct failure reasons,
        most frequent first.
    """

    attempted: int
    registered: int
    rejected: int
    failed: int
    elapsed: float
    latencies: tuple[float, ...]
    errors: tuple[tuple[str, int], ...] = ()

    @property
    def rate(self) -> float:
        """Registrations per second."""
        return self.registered / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def p50(self) -> float:
        """Median latency in seconds."""
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        """99th-percentile latency in seconds."""
        return percentile(self.latencies, 0.99)

    def asDict(self) -> dict[str, object]:
        """
        @return: the figures for C{--json} (latencies in milliseconds).
        """
        return {
            "attempted": self.attempted, "registered": self.registered,
            "rejected": self.rejected, "failed": self.failed,
            "seconds": round(self.elapsed, 6),
            "registrationsPerSecond": round(self.rate, 1),
            "p50Ms": None if math.isnan(self.p50) else round(self.p50 * 1000, 3),
            "p99Ms": None if math.isnan(self.p99) else round(self.p99 * 1000, 3),
            "errors": [{"error": text, "count": count}
                       for text, count in self.errors],
        }

    def describe(self) -> str:
        """
        @return: a human-readable summary, one or more lines.
        """
        line = "registered %d/%d phones in %.3f s: %.1f registrations/s" % (
            self.registered, self.attempted, self.elapsed, self.rate)
        if self.latencies:
            line += ", latency p50 %.1f ms p99 %.1f ms" % (self.p50 * 1000,
                                                           self.p99 * 1000)
        lines = [line]
        if self.rejected or self.failed:
            lines.append("%d rejected, %d failed" % (self.rejected,
                                                     self.failed))
        for text, count in self.errors:
            lines.append("  %5d x %s" % (count, text))
        return "\n".join(lines)


class LoadGenerator:
    """
    Register phones against one router.

    @ivar phones: the phones, in configuration order (filled by L{run}).
    """

    def __init__(self, reactor: PhoneReactor, host: str, port: int,
                 configs: Sequence[PhoneConfig], *,
                 tlsOptionsFor: Optional[TLSOptionsFor] = None,
                 concurrency: int = 100, connectTimeout: float = 30,
                 debug: Optional[DebugSwitches] = None) -> None:
        """
        @param reactor: TCP and the clock
            (L{srst.tools._phonewire.PhoneReactor}).
        @param host: the router's IPv4 address.
        @param port: its SCCP port.
        @param configs: one L{PhoneConfig} per phone.
        @param tlsOptionsFor: for TLS, builds each phone's client connection
            creator; C{None} for plain TCP.
        @param concurrency: at most this many phones connect and register at
            the same time.
        @param connectTimeout: seconds per TCP connection attempt.
        @param debug: the debug switches every phone's debug lines go
            through; by default one set of its own, all off.
        @raise ValueError: for a concurrency below 1.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1, not %d"
                             % (concurrency,))
        self.reactor = reactor
        self.host = host
        self.port = port
        self.configs = list(configs)
        self.tlsOptionsFor = tlsOptionsFor
        self.concurrency = concurrency
        self.connectTimeout = connectTimeout
        self.debug = debug if debug is not None else DebugSwitches()
        self.phones: list[SimulatedPhone] = []
        self._started: dict[int, float] = {}
        self._latencies: list[float] = []
        self._errors: collections.Counter[str] = collections.Counter()
        self._rejected = 0
        self._failed = 0
        self._lastEvent = 0.0
        self._stopping = False

    def run(self) -> Deferred[LoadResult]:
        """
        Register every phone.

        @return: a L{Deferred} firing with the L{LoadResult} once every phone
            has registered or failed.  Registered phones stay registered.
        """
        creators = [self.tlsOptionsFor(config) if self.tlsOptionsFor else None
                    for config in self.configs]
        for creator in creators:
            if creator is not None:
                buildTLSContext(creator, self.reactor)
        self.phones = [SimulatedPhone(config, clock=self.reactor,
                                      debug=self.debug)
                       for config in self.configs]
        work = iter(list(enumerate(zip(self.phones, creators))))
        self._begin = self.reactor.seconds()
        self._lastEvent = self._begin
        workers = [self._worker(work)
                   for _ in range(min(self.concurrency, len(self.phones)))]
        d = DeferredList(workers, consumeErrors=True)
        d.addCallback(lambda _: self._result())
        return d

    def _worker(self, work: _Work) -> Deferred[None]:
        done: Deferred[None] = Deferred()

        def startNext(_: object = None) -> None:
            if self._stopping:
                done.callback(None)
                return
            try:
                index, (phone, creator) = next(work)
            except StopIteration:
                done.callback(None)
                return
            self._one(index, phone, creator).addBoth(startNext)

        startNext()
        return done

    def _one(self, index: int, phone: SimulatedPhone,
             creator: Optional[IOpenSSLClientConnectionCreator]
             ) -> Deferred[None]:
        self._started[index] = self.reactor.seconds()
        connecting = connectPhone(self.reactor, phone, self.host, self.port,
                                  creator, timeout=self.connectTimeout)
        connecting.addErrback(lambda reason: None)  # the phone reports it
        d = phone.whenRegistered()

        def registered(phone: SimulatedPhone) -> None:
            now = self.reactor.seconds()
            self._lastEvent = max(self._lastEvent, now)
            self._latencies.append(now - self._started[index])

        def failed(reason: Failure) -> None:
            self._lastEvent = max(self._lastEvent, self.reactor.seconds())
            if reason.check(RegistrationRejected):
                self._rejected += 1
            else:
                self._failed += 1
            if reason.check(PhoneError):
                text = reason.value.reason
            else:
                text = reason.getErrorMessage()
            self._errors[text] += 1

        d.addCallbacks(registered, failed)
        return d

    def _result(self) -> LoadResult:
        return LoadResult(
            attempted=len(self._started), registered=len(self._latencies),
            rejected=self._rejected, failed=self._failed,
            elapsed=self._lastEvent - self._begin,
            latencies=tuple(sorted(self._latencies)),
            errors=tuple(self._errors.most_common()))

    def registeredPhones(self) -> list[SimulatedPhone]:
        """
        @return: the phones registered right now.
        """
        return [p for p in self.phones if p.state is PhoneState.REGISTERED]

    def unregisterAll(self) -> Deferred[tuple[int, int]]:
        """
        Stop starting phones, unregister every registered phone and close
        every other connection.

        @return: a L{Deferred} firing with C{(unregistered, failed)} once
            every connection is closed.
        """
        self._stopping = True
        waits: list[Deferred[BaseException]] = []
        unregistering: list[Deferred[None]] = []
        for phone in self.phones:
            if phone.state in (PhoneState.REGISTERED, PhoneState.CONFIGURING):
                unregistering.append(phone.unregister())
            elif phone.state is not PhoneState.CLOSED:
                waits.append(phone.stop())
        if not unregistering and not waits:
            return succeed((0, 0))
        d = DeferredList([*unregistering, *waits], consumeErrors=True)

        def count(results: list[tuple[bool, object]]) -> tuple[int, int]:
            outcomes = results[:len(unregistering)]
            ok = sum(1 for success, _ in outcomes if success)
            return ok, len(outcomes) - ok

        return d.addCallback(count)


__all__ = ["LoadGenerator", "LoadResult", "TLSOptionsFor", "percentile"]
