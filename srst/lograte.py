# -*- test-case-name: tests.test_lograte -*-
"""
Repeated log lines about a peer, rate-limited: the first is logged, the
repeats are counted and summed up once a minute.

A hostile or broken neighbour can make the router log once per frame or
datagram it sends (garbage on the plain SCCP port, malformed MGCP, failed
TLS handshakes); a fuzz wrote 59 MB of log in 25 minutes that way.
L{LogLimiter} keys such lines by C{(peer, what)} (the sender's address and
a short plural noun phrase for the kind of event).  Per key:

  - the first event is logged as it is, at its level, on the caller's
    logger (same namespace, source, text and fields as before);
  - repeats within L{INTERVAL} seconds of it are only counted;
  - when that interval ends with repeats counted, one summary is logged
    in the same namespace, to the same observer and at the same level::

        127.0.0.2: 999 more unknown messages ignored in the last minute

    and a new interval starts (a flood that goes on gives one line a
    minute); an interval that ends with no repeat forgets the key, so the
    next event is logged in full again.

This is what IOS does for access-list logging (the first matching packet
at once, then a count per flow every five minutes).  A router that stops
hearing the peer logs nothing more about it.

Bounds: one timer per limiter (armed only while repeats wait to be
summed up, for the earliest interval end), and at most C{maxPeers} keys:
once full, events of peers not tracked count under one key per C{what}
whose peer is C{"other peers"}, so a flood from spoofed addresses cannot
grow the table or the log.  Those overflow keys are bounded too (at most
C{maxKinds}; beyond that every C{what} counts under the one catch-all
C{what} L{OTHER_KINDS}, whose summary has the namespace and level of the
event that opened it).  C{what} is meant to be a fixed phrase anyway: the
variable part of an event (an OpenSSL reason, say) goes in its text and
fields, which the first line shows.

A key keeps only what its summary needs: the logger's namespace and
observer and the level, not the caller's logger, whose C{source} is often
the connection that logged (a protocol bound through C{log = Logger()}):
a closed connection is not kept alive until its summary is due.  The
summary is logged on a L{Logger} made from that namespace and observer,
without a source.

The limiter runs on the reactor thread; its owner calls L{LogLimiter.stop}
when it stops (it logs the pending summaries and cancels the timer;
events after that are logged as they come, so no timer is left behind
by a connection that logs after its listener stopped) and
L{LogLimiter.start} if it starts again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from attrs import define
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import ILogObserver, Logger, LogLevel

INTERVAL = 60.0
"""Seconds over which repeats of one key are counted and summed up."""

MAX_PEERS = 1000
"""Keys a limiter tracks at most (a few hundred bytes each)."""

OTHER_PEERS = "other peers"
"""The peer of the key that counts events once the table is full."""

MAX_KINDS = 32
"""C{what}s of peers not tracked that are counted apart at most."""

OTHER_KINDS = "events of other kinds"
"""The C{what} that counts the events of other peers beyond L{MAX_KINDS}."""

SUMMARY_FORMAT = "{peer}: {repeats} more {what} in the last {period}"
"""The text of a summary; its event carries C{peer}, C{what}, C{repeats},
C{period} and C{summary=True}."""


@define
class _Entry:
    """
    One key's counting interval: only what its summary needs (no logger,
    whose source may be a connection).
    """

    namespace: str
    observer: ILogObserver
    level: LogLevel
    peer: str
    what: str
    start: float
    repeats: int = 0

    @classmethod
    def opened(cls, log: Logger, level: LogLevel, peer: str, what: str, start: float) -> _Entry:
        """@return: an entry for events logged on C{log}."""
        return cls(log.namespace, log.observer, level, peer, what, start)

    def next(self, start: float) -> _Entry:
        """@return: the next interval of the same key, starting at C{start}."""
        return _Entry(self.namespace, self.observer, self.level, self.peer, self.what, start)


def _period(seconds: float) -> str:
    if round(seconds) == 60:
        return "minute"
    return "%g s" % (round(seconds, 1),)


class LogLimiter:
    """
    Log the first of a run of like events about a peer, count the rest
    and log one summary per interval.

    @ivar clock: the L{IReactorTime} that measures intervals and runs the
        summary timer.
    @ivar interval: seconds per counting interval.
    @ivar maxPeers: the most keys tracked at once.
    @ivar maxKinds: the most C{what}s of other peers counted apart once
        the table is full.
    """

    def __init__(self, clock: IReactorTime, interval: float = INTERVAL, maxPeers: int = MAX_PEERS,
                 maxKinds: int = MAX_KINDS) -> None:
        """
        @param clock: the reactor's L{IReactorTime}.
        @param interval: seconds per counting interval (L{INTERVAL}).
        @param maxPeers: the most keys tracked at once (L{MAX_PEERS}).
        @param maxKinds: the most C{what}s of peers not tracked counted
            apart (L{MAX_KINDS}); the others count under L{OTHER_KINDS}.
        """
        if interval <= 0 or maxPeers < 1 or maxKinds < 1:
            raise ValueError("interval must be > 0, maxPeers >= 1 and maxKinds >= 1")
        self.clock = clock
        self.interval = interval
        self.maxPeers = maxPeers
        self.maxKinds = maxKinds
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._overflow: dict[str, _Entry] = {}
        self._timer: IDelayedCall | None = None
        self._stopped = False

    @property
    def tracked(self) -> int:
        """How many keys are tracked now (the overflow keys included)."""
        return len(self._entries) + len(self._overflow)

    @property
    def timerArmed(self) -> bool:
        """Whether a summary is scheduled."""
        return self._timer is not None

    def info(self, log: Logger, peer: str, what: str, format: str, /, **fields: Any) -> None:
        """
        L{emit} at C{info} level.
        """
        self.emit(log, LogLevel.info, peer, what, format, **fields)

    def warn(self, log: Logger, peer: str, what: str, format: str, /, **fields: Any) -> None:
        """
        L{emit} at C{warn} level.
        """
        self.emit(log, LogLevel.warn, peer, what, format, **fields)

    def emit(self, log: Logger, level: LogLevel, peer: str, what: str, format: str, /,
             **fields: Any) -> None:
        """
        Log C{format} with C{fields} on C{log}, unless an event with the
        same C{peer} and C{what} was logged less than an interval ago:
        then only count it for the summary.

        @param log: the caller's logger: the event is logged on it (its
            namespace and source are kept); its summary only keeps its
            namespace and observer.
        @param level: the event's level; the summary has the same.
        @param peer: who caused the event: an address without the port
            (a peer reconnecting from new ports is the same peer).
        @param what: the kind of event as a fixed plural noun phrase for
            the summary (C{"unknown messages ignored"}); variable detail
            (a reason) belongs in C{format} and C{fields}.
        @param format: the event's format string.
        @param fields: its fields.
        """
        if self._stopped:
            log.emit(level, format, **fields)
            return
        now = self.clock.seconds()
        self._expire(now)
        key = (peer, what)
        entry = self._entries.get(key)
        if entry is None and len(self._entries) >= self.maxPeers:
            overflow = self._overflow
            if what not in overflow and len(overflow) >= self.maxKinds:
                what = OTHER_KINDS
            entry = overflow.get(what)
            if entry is None:
                overflow[what] = _Entry.opened(log, level, OTHER_PEERS, what, now)
                log.emit(level, format, **fields)
                return
        if entry is None:
            self._entries[key] = _Entry.opened(log, level, peer, what, now)
            log.emit(level, format, **fields)
            return
        entry.repeats += 1
        if self._timer is None:
            self._arm(entry.start + self.interval - now)

    def start(self) -> None:
        """
        Limit again after L{stop} (a limiter limits from its creation).
        """
        self._stopped = False

    def stop(self) -> None:
        """
        Log every pending summary now, cancel the timer and forget every
        key; from now on events are logged as they come.
        """
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self.clock.seconds()
        for entry in list(self._entries.values()) + list(self._overflow.values()):
            if entry.repeats:
                self._summarise(entry, now - entry.start)
        self._entries.clear()
        self._overflow.clear()

    # -- the interval ends

    def _arm(self, delay: float) -> None:
        self._timer = self.clock.callLater(max(delay, 0.0), self._intervalEnded)

    def _intervalEnded(self) -> None:
        self._timer = None
        now = self.clock.seconds()
        self._expire(now)
        pending = [e.start for e in list(self._entries.values()) + list(self._overflow.values()) if e.repeats]
        if pending:
            self._arm(min(pending) + self.interval - now)

    def _expire(self, now: float) -> None:
        """
        End every interval that is over: summarise it (and start the next)
        when it counted repeats, else forget its key.
        """
        entries = self._entries
        while entries:
            key, entry = next(iter(entries.items()))
            if now - entry.start < self.interval:
                break
            del entries[key]
            if entry.repeats:
                self._summarise(entry, self.interval)
                entries[key] = entry.next(now)
        for what, entry in list(self._overflow.items()):
            if now - entry.start >= self.interval:
                del self._overflow[what]
                if entry.repeats:
                    self._summarise(entry, self.interval)
                    self._overflow[what] = entry.next(now)

    def _summarise(self, entry: _Entry, seconds: float) -> None:
        log = Logger(namespace=entry.namespace, observer=entry.observer)
        log.emit(entry.level, SUMMARY_FORMAT, peer=entry.peer, what=entry.what,
                 repeats=entry.repeats, period=_period(seconds), summary=True)


__all__ = ["INTERVAL", "MAX_KINDS", "MAX_PEERS", "OTHER_KINDS", "OTHER_PEERS", "SUMMARY_FORMAT", "LogLimiter"]
