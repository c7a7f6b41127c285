# -*- test-case-name: tests.test_policing_meter -*-
"""
The measuring half of control-plane policing: token buckets, counters and
rates, and L{ControlPlane}, the runtime every policed listener shares.

IOS control-plane policing is aggregate: one policer per class for all
traffic to the route processor, whatever the interface.  So one
L{ControlPlane} is built per router and handed to every L{PolicingFactory}
and L{PolicingDatagramProtocol}; the buckets and counters live here, not on
a factory.

Nothing here schedules anything.  L{TokenBucket} is sans-IO (time is a
parameter); L{ControlPlane} only reads C{clock.seconds()}.  The wrappers in
L{srst.policing.stream} and L{srst.policing.datagram} own the timers.
"""

from __future__ import annotations

import math
from typing import Any

from attrs import define, field, frozen, validators
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from srst.lograte import LogLimiter
from srst.policing.config import (
    CLASS_DEFAULT,
    ControlPlanePolicy,
    IPAddress,
    IPProtocol,
    MatchType,
    Police,
    PoliceAction,
    PolicyClass,
)

LOAD_INTERVAL = 300.0
"""Seconds: the time constant of the IOS "5 minute" rates."""

CONNECTION_ATTEMPT_BYTES = 60
"""
What a TCP connection attempt counts for: one packet the size of a SYN with
options (20 bytes IPv4 + 40 bytes TCP).
"""

SEGMENT_BYTES = 1460
"""
A stream read is policed as packets of at most this many bytes (the TCP
MSS on Ethernet), so large reads are metered the way IOS meters segments.
"""

LOG_NAMESPACE = "srst.policing"
"""Where policing warnings (refused, aborted, throttled, dropped) are logged."""

_WARNED = {"refuse": "connections dropped", "abort": "connections aborted",
           "throttle": "connections throttled", "datagram": "datagrams dropped"}
"""What a summary of each kind of warning says (L{srst.lograte})."""


@define
class TokenBucket:
    """
    A token bucket in IOS C{police} units: the rate in bits per second, the
    size in bytes.  C{police 8000 1500} is C{TokenBucket(8000, 1500)}: 1000
    bytes per second, at most 1500 bytes of burst.  The bucket starts full.

    Sans-IO: every method takes C{now} (seconds, from C{clock.seconds()}).
    A clock that goes backwards refills nothing.

    @ivar rateBps: refill rate, bits per second.
    @ivar burstBytes: capacity, bytes.
    @ivar tokens: bytes available at L{lastUpdate}; negative after
        L{drain} (traffic that was let through although it exceeded).
    @ivar lastUpdate: the time of the last refill, or C{None} before the
        first call.
    """

    rateBps: int = field(validator=[validators.instance_of(int), validators.gt(0)])
    burstBytes: int = field(validator=[validators.instance_of(int), validators.gt(0)])
    tokens: float = field(init=False)
    lastUpdate: float | None = field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self.tokens = float(self.burstBytes)

    @property
    def bytesPerSecond(self) -> float:
        """
        The refill rate in bytes per second.
        """
        return self.rateBps / 8.0

    def _refill(self, now: float) -> None:
        if self.lastUpdate is not None and now > self.lastUpdate:
            self.tokens = min(float(self.burstBytes), self.tokens + (now - self.lastUpdate) * self.bytesPerSecond)
        if self.lastUpdate is None or now > self.lastUpdate:
            self.lastUpdate = now

    def level(self, now: float) -> float:
        """
        @return: the bytes available at C{now} (negative while in debt).
        """
        self._refill(now)
        return self.tokens

    def consume(self, nbytes: int, now: float) -> bool:
        """
        Take C{nbytes} if the bucket holds them.

        @return: C{True} (conform) if the tokens were taken, C{False}
            (exceed) if not; an exceeding packet takes no tokens.
        """
        self._refill(now)
        if self.tokens >= nbytes:
            self.tokens -= nbytes
            return True
        return False

    def drain(self, nbytes: int, now: float) -> None:
        """
        Take C{nbytes} whether or not the bucket holds them, going into debt.
        A stream wrapper uses this for bytes it had to deliver although they
        exceeded, so that later traffic waits for them.
        """
        self._refill(now)
        self.tokens -= nbytes

    def timeUntil(self, nbytes: int, now: float) -> float:
        """
        @return: seconds from C{now} until the bucket holds C{nbytes} (or is
            full, if C{nbytes} is more than it can hold); 0 if it already
            does.
        """
        self._refill(now)
        wanted = min(float(nbytes), float(self.burstBytes))
        if self.tokens >= wanted:
            return 0.0
        return (wanted - self.tokens) / self.bytesPerSecond


@define
class RateMeter:
    """
    An exponentially decaying average rate, the way IOS computes its "5
    minute offered rate": for a steady input it converges to that input's
    rate in bits per second.
    """

    interval: float = LOAD_INTERVAL
    _value: float = 0.0
    _last: float | None = None

    def _decay(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self._value *= math.exp(-(now - self._last) / self.interval)
        if self._last is None or now > self._last:
            self._last = now

    def add(self, nbytes: int, now: float) -> None:
        """
        Record C{nbytes} seen at C{now}.
        """
        self._decay(now)
        self._value += nbytes * 8.0 / self.interval

    def rate(self, now: float) -> int:
        """
        @return: the rate at C{now}, bits per second, rounded.
        """
        self._decay(now)
        return int(round(self._value))


@define
class _Counters:
    """
    The mutable counters of one class.
    """

    packets: int = 0
    bytes: int = 0
    droppedPackets: int = 0
    droppedBytes: int = 0
    conformedPackets: int = 0
    conformedBytes: int = 0
    exceededPackets: int = 0
    exceededBytes: int = 0
    refusedConnections: int = 0
    abortedConnections: int = 0
    throttledReads: int = 0
    offered: RateMeter = field(factory=RateMeter)
    dropped: RateMeter = field(factory=RateMeter)
    conformed: RateMeter = field(factory=RateMeter)
    exceeded: RateMeter = field(factory=RateMeter)


@frozen
class Verdict:
    """
    What the policer decided for one packet.

    @ivar conformed: C{True} if the packet was within the bucket.
    @ivar action: the L{PoliceAction} the policy map gives that outcome.
    """

    conformed: bool
    action: PoliceAction


@frozen
class Admission:
    """
    What the control plane decided for a new connection.

    @ivar policyClass: its L{PolicyClass}, or C{None} for C{class-default}.
    @ivar allowed: whether the connection may proceed.
    @ivar verdict: the policer's L{Verdict}, or C{None} for class-default.
    """

    policyClass: PolicyClass | None
    allowed: bool
    verdict: Verdict | None = None


@frozen
class PoliceStats:
    """
    The policer part of a class's statistics.

    @ivar police: the configured L{Police}.
    @ivar conformedPackets: packets within the bucket.
    @ivar conformedBytes: their bytes.
    @ivar exceededPackets: packets beyond it.
    @ivar exceededBytes: their bytes.
    @ivar conformRateBps: the conformed rate, bits per second.
    @ivar exceedRateBps: the exceeded rate, bits per second.
    """

    police: Police
    conformedPackets: int
    conformedBytes: int
    exceededPackets: int
    exceededBytes: int
    conformRateBps: int
    exceedRateBps: int


@frozen
class ClassStats:
    """
    A snapshot of one class's counters.

    @ivar name: the class name (C{"class-default"} for the implicit one).
    @ivar matchType: L{MatchType} (C{match-any} for class-default).
    @ivar match: what the class matches, IOS style (C{"access-group 140"},
        C{"any"}).
    @ivar packets: packets offered to the class (connection attempts count
        one each; stream reads count one per L{SEGMENT_BYTES}).
    @ivar bytes: their bytes.
    @ivar droppedPackets: packets dropped (refused connections, the reads of
        aborted connections, dropped datagrams).
    @ivar droppedBytes: their bytes.
    @ivar refusedConnections: connections refused before any byte was read.
    @ivar abortedConnections: accepted connections aborted by a drop action.
    @ivar throttledReads: reads after which a connection was paused to keep
        it to the rate.
    @ivar offeredRateBps: the 5-minute offered rate.
    @ivar dropRateBps: the 5-minute drop rate.
    @ivar police: the L{PoliceStats}, or C{None} for class-default.
    """

    name: str
    matchType: MatchType
    match: str
    packets: int
    bytes: int
    droppedPackets: int
    droppedBytes: int
    refusedConnections: int
    abortedConnections: int
    throttledReads: int
    offeredRateBps: int
    dropRateBps: int
    police: PoliceStats | None = None

    def asDict(self) -> dict[str, Any]:
        """
        @return: the snapshot as JSON-serialisable data.
        """
        data: dict[str, Any] = {
            "name": self.name,
            "matchType": str(self.matchType),
            "match": self.match,
            "packets": self.packets,
            "bytes": self.bytes,
            "droppedPackets": self.droppedPackets,
            "droppedBytes": self.droppedBytes,
            "refusedConnections": self.refusedConnections,
            "abortedConnections": self.abortedConnections,
            "throttledReads": self.throttledReads,
            "offeredRateBps": self.offeredRateBps,
            "dropRateBps": self.dropRateBps,
            "police": None,
        }
        if self.police is not None:
            p = self.police
            data["police"] = {
                "cirBps": p.police.rateBps,
                "bcBytes": p.police.normalBurst,
                "beBytes": p.police.maxBurst,
                "conformAction": str(p.police.conformAction),
                "exceedAction": str(p.police.exceedAction),
                "conformedPackets": p.conformedPackets,
                "conformedBytes": p.conformedBytes,
                "exceededPackets": p.exceededPackets,
                "exceededBytes": p.exceededBytes,
                "conformRateBps": p.conformRateBps,
                "exceedRateBps": p.exceedRateBps,
            }
        return data


@frozen
class PolicyStats:
    """
    A snapshot of the whole control-plane policy.

    @ivar name: the policy-map name.
    @ivar classes: one L{ClassStats} per class, in policy order, with
        C{class-default} last.
    """

    name: str
    classes: tuple[ClassStats, ...]

    def byName(self, name: str) -> ClassStats:
        """
        @return: the L{ClassStats} of class C{name}.
        @raise KeyError: if there is no such class.
        """
        for stats in self.classes:
            if stats.name == name:
                return stats
        raise KeyError(name)

    def asDict(self) -> dict[str, Any]:
        """
        @return: the snapshot as JSON-serialisable data.
        """
        return {
            "controlPlane": True,
            "direction": "input",
            "name": self.name,
            "classes": [c.asDict() for c in self.classes],
        }


class ControlPlane:
    """
    The control-plane policy at run time, shared by every listener: one
    L{TokenBucket} per class (C{police} Bc refilled at the CIR) and the
    counters behind C{show policy-map control-plane}.

    @ivar policy: the L{ControlPlanePolicy}.
    @ivar clock: the L{IReactorTime} whose C{seconds()} is "now".
    @ivar log: the L{Logger} for warnings, namespace L{LOG_NAMESPACE}.
    @ivar logLimiter: the L{LogLimiter} of those warnings: it runs while a
        policed listener runs (L{listenerStarted}, L{listenerStopped}).
    """

    def __init__(self, policy: ControlPlanePolicy, clock: IReactorTime) -> None:
        self.policy = policy
        self.clock = clock
        self.log = Logger(namespace=LOG_NAMESPACE, source=self)
        self._buckets: dict[str, TokenBucket] = {
            c.name: TokenBucket(c.police.rateBps, c.police.normalBurst) for c in policy.classes
        }
        self._counters: dict[str, _Counters] = {c.name: _Counters() for c in policy.classes}
        self._counters[CLASS_DEFAULT] = _Counters()
        self.logLimiter = LogLimiter(clock)
        self._listeners = 0

    # -- classification and metering

    def classify(
        self, protocol: IPProtocol | str, sourceAddress: IPAddress | str, destinationPort: int | None
    ) -> PolicyClass | None:
        """
        @return: the packet's L{PolicyClass}, or C{None} for class-default
            (see L{ControlPlanePolicy.classify}).
        @raise ValueError: if C{sourceAddress} is not an IP address.
        """
        return self.policy.classify(protocol, sourceAddress, destinationPort)

    def bucket(self, policyClass: PolicyClass) -> TokenBucket:
        """
        @return: the shared L{TokenBucket} of C{policyClass}.
        """
        return self._buckets[policyClass.name]

    def police(self, policyClass: PolicyClass, nbytes: int) -> Verdict:
        """
        Meter one packet of C{nbytes} against its class's bucket and count
        it as offered and as conformed or exceeded.  Drops are counted by
        the caller (L{recordDrop}), which knows what it really did.

        @return: the L{Verdict}.
        """
        now = self.clock.seconds()
        counters = self._counters[policyClass.name]
        counters.packets += 1
        counters.bytes += nbytes
        counters.offered.add(nbytes, now)
        conformed = self._buckets[policyClass.name].consume(nbytes, now)
        if conformed:
            counters.conformedPackets += 1
            counters.conformedBytes += nbytes
            counters.conformed.add(nbytes, now)
        else:
            counters.exceededPackets += 1
            counters.exceededBytes += nbytes
            counters.exceeded.add(nbytes, now)
        return Verdict(conformed, policyClass.police.actionFor(conformed))

    def passDefault(self, nbytes: int, packets: int = 1) -> None:
        """
        Count traffic that fell through to class-default (which passes it).
        """
        counters = self._counters[CLASS_DEFAULT]
        counters.packets += packets
        counters.bytes += nbytes
        counters.offered.add(nbytes, self.clock.seconds())

    def recordDrop(self, policyClass: PolicyClass, nbytes: int, packets: int = 1) -> None:
        """
        Count traffic of C{policyClass} that was dropped.
        """
        counters = self._counters[policyClass.name]
        counters.droppedPackets += packets
        counters.droppedBytes += nbytes
        counters.dropped.add(nbytes, self.clock.seconds())

    def admitConnection(
        self, protocol: IPProtocol | str, sourceAddress: IPAddress | str | None, destinationPort: int | None
    ) -> Admission:
        """
        Decide on a new connection: classify it, and in a policed class meter
        it as one L{CONNECTION_ATTEMPT_BYTES} packet.  A drop action refuses
        it (counted as dropped and refused).  A source that is not an IP
        address (C{None}, a UNIX socket) is class-default.

        @return: the L{Admission}.
        """
        policyClass = None
        if sourceAddress is not None:
            policyClass = self.classify(protocol, sourceAddress, destinationPort)
        if policyClass is None:
            self.passDefault(CONNECTION_ATTEMPT_BYTES)
            return Admission(None, True)
        verdict = self.police(policyClass, CONNECTION_ATTEMPT_BYTES)
        if verdict.action == PoliceAction.DROP:
            self.recordDrop(policyClass, CONNECTION_ATTEMPT_BYTES)
            self._counters[policyClass.name].refusedConnections += 1
            return Admission(policyClass, False, verdict)
        return Admission(policyClass, True, verdict)

    def recordAbort(self, policyClass: PolicyClass) -> None:
        """
        Count an accepted connection that a drop action aborted.
        """
        self._counters[policyClass.name].abortedConnections += 1

    def throttle(self, policyClass: PolicyClass, nbytes: int, resumeAt: int) -> float:
        """
        Charge C{nbytes} that exceeded but had to be delivered (a stream
        cannot lose bytes) to the class's bucket, and count a throttled read.

        @param resumeAt: how many bytes the bucket should hold before the
            reader resumes.
        @return: seconds until the bucket holds C{resumeAt} bytes.
        """
        now = self.clock.seconds()
        bucket = self._buckets[policyClass.name]
        bucket.drain(nbytes, now)
        self._counters[policyClass.name].throttledReads += 1
        return bucket.timeUntil(resumeAt, now)

    def timeUntil(self, policyClass: PolicyClass, nbytes: int) -> float:
        """
        @return: seconds until the class's bucket holds C{nbytes}.
        """
        return self._buckets[policyClass.name].timeUntil(nbytes, self.clock.seconds())

    # -- reporting

    def warn(self, kind: str, policyClass: PolicyClass, format: str, **fields: Any) -> None:
        """
        Log a warning about a peer through L{logLimiter}, keyed by class and
        C{kind} (the policer is aggregate, and so is its log): the first of
        a minute is logged, the rest are summed up when the minute is over
        (C{"control-plane sccp-class: 999 more datagrams dropped in the last
        minute"}).  The event carries C{policyClass}, the class name, and
        C{kind}.
        """
        self.logLimiter.warn(self.log, f"control-plane {policyClass.name}", _WARNED.get(kind, kind), format,
                             policyClass=policyClass.name, kind=kind, **fields)

    def listenerStarted(self) -> None:
        """
        A policed listener started: warnings are rate-limited while one runs.
        """
        self._listeners += 1
        self.logLimiter.start()

    def listenerStopped(self) -> None:
        """
        A policed listener stopped; with the last one, the held-back
        warnings are summed up now (L{LogLimiter.stop}).
        """
        self._listeners = max(self._listeners - 1, 0)
        if not self._listeners:
            self.logLimiter.stop()

    def stats(self) -> PolicyStats:
        """
        @return: a L{PolicyStats} snapshot of every class, rates as of now.
        """
        now = self.clock.seconds()
        classes = []
        for policyClass in self.policy.classes:
            c = self._counters[policyClass.name]
            police = PoliceStats(
                police=policyClass.police,
                conformedPackets=c.conformedPackets,
                conformedBytes=c.conformedBytes,
                exceededPackets=c.exceededPackets,
                exceededBytes=c.exceededBytes,
                conformRateBps=c.conformed.rate(now),
                exceedRateBps=c.exceeded.rate(now),
            )
            match = f"access-group {policyClass.classMap.accessList.number}"
            classes.append(self._classStats(policyClass.name, policyClass.classMap.matchType, match, c, now, police))
        classes.append(self._classStats(CLASS_DEFAULT, MatchType.MATCH_ANY, "any",
                                        self._counters[CLASS_DEFAULT], now, None))
        return PolicyStats(self.policy.name, tuple(classes))

    @staticmethod
    def _classStats(name: str, matchType: MatchType, match: str, c: _Counters, now: float,
                    police: PoliceStats | None) -> ClassStats:
        return ClassStats(
            name=name,
            matchType=matchType,
            match=match,
            packets=c.packets,
            bytes=c.bytes,
            droppedPackets=c.droppedPackets,
            droppedBytes=c.droppedBytes,
            refusedConnections=c.refusedConnections,
            abortedConnections=c.abortedConnections,
            throttledReads=c.throttledReads,
            offeredRateBps=c.offered.rate(now),
            dropRateBps=c.dropped.rate(now),
            police=police,
        )
