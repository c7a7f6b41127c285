# -*- test-case-name: tests.test_debug -*-
"""
srst's own debug switches (C{debug credentials}, C{debug ephone register},
...).

twistd installs no level filter, so C{log.debug} events would reach the log
file unconditionally.  srst's debug categories therefore publish to
L{DebugSwitches.observer} instead of the global publisher: a
L{FilteringLogObserver} whose L{LogLevelFilterPredicate} drops debug-level
events in the C{srst.debug} namespaces unless their switch is on.  What
passes is forwarded to the global log publisher and to every attached
stream (an C{srst-cli debug ...} session) whose namespaces match.

Namespaces are hierarchical: enabling C{"srst.debug.ephone"} enables
C{"srst.debug.ephone.register"} and C{"srst.debug.ephone.state"}.

A switch is on while it is explicitly enabled (L{DebugSwitches.enable}) or
while at least one stream asks for it (L{DebugSwitches.addStream}); removing
the last stream turns it off again unless it was enabled explicitly.

Debug loggers are made with L{DebugSwitches.logger}::

    switches = DebugSwitches()
    log = switches.logger("srst.debug.credentials")
    log.debug("Credentials service: TLS Handshake completes.")

Debug observers run in the reactor thread: log debug events from there.

Given a clock, the switches stamp each debug event's C{log_time} with it
(the reactor's time, not C{time.time()}), so the C{*Jan 11 18:33:11.747:}
prefix of a streamed line is the reactor's time of the event.
"""

from __future__ import annotations

from typing import Iterable

from attrs import frozen
from twisted.internet.interfaces import IReactorTime
from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogEvent,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    LogPublisher,
    globalLogPublisher,
)
from zope.interface import implementer

DEBUG_ROOT = "srst.debug"
"""The namespace under which every debug category lives."""


def _covers(namespace: str, eventNamespace: str) -> bool:
    """
    @return: whether C{eventNamespace} is C{namespace} or below it.
    """
    return eventNamespace == namespace or eventNamespace.startswith(namespace + ".")


def _checkNamespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace or namespace.strip(".") != namespace:
        raise ValueError(f"not a log namespace: {namespace!r}")
    return namespace


@implementer(ILogObserver)
@frozen
class _ClockStamp:
    """
    Stamp each event's C{log_time} with a clock's time, then pass it on.
    """

    clock: IReactorTime
    observer: ILogObserver

    def __call__(self, event: LogEvent) -> None:
        event["log_time"] = self.clock.seconds()
        self.observer(event)


@implementer(ILogObserver)
@frozen
class _StreamFilter:
    """
    Forward the events of some namespaces to one stream observer.
    """

    observer: ILogObserver
    namespaces: tuple[str, ...]

    def __call__(self, event: LogEvent) -> None:
        eventNamespace = event.get("log_namespace", "")
        if any(_covers(namespace, eventNamespace) for namespace in self.namespaces):
            self.observer(event)


class DebugSwitches:
    """
    The set of debug categories that are on, and the observer srst's debug
    loggers publish to.

    @ivar observer: the L{ILogObserver} debug loggers must publish to.
    @ivar predicate: the L{LogLevelFilterPredicate} that gates it.
    """

    def __init__(self, publisher: ILogObserver = globalLogPublisher, clock: IReactorTime | None = None) -> None:
        """
        @param publisher: where events that pass the switches go besides the
            streams: the global log publisher in production (tests pass a
            list's C{append}).
        @param clock: the reactor whose time stamps debug events (their
            C{log_time}); L{None} leaves the logger's own time.
        """
        self.predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.debug)
        self._fanOut = LogPublisher(publisher)
        filtered: ILogObserver = FilteringLogObserver(self._fanOut, [self.predicate])
        self.observer: ILogObserver = filtered if clock is None else _ClockStamp(clock, filtered)
        self._explicit: set[str] = set()
        self._streams: dict[ILogObserver, _StreamFilter] = {}
        self._loggers: dict[str, Logger] = {}
        self._refresh()

    def _refresh(self) -> None:
        predicate = self.predicate
        predicate.clearLogLevels()
        predicate.setLogLevelForNamespace(DEBUG_ROOT, LogLevel.info)
        for namespace in self.enabledNamespaces():
            predicate.setLogLevelForNamespace(namespace, LogLevel.debug)

    def enable(self, namespace: str) -> None:
        """
        Turn a debug category (and everything below it) on until
        L{disable} or L{disableAll}.

        @param namespace: e.g. C{"srst.debug.ephone.register"}.
        @raise ValueError: for an empty or malformed namespace.
        """
        self._explicit.add(_checkNamespace(namespace))
        self._refresh()

    def disable(self, namespace: str) -> None:
        """
        Undo L{enable} for C{namespace} and every namespace below it.  A
        category that a stream still asks for, or that lies below a category
        still enabled, stays on.

        @param namespace: e.g. C{"srst.debug.ephone"}.
        @raise ValueError: for an empty or malformed namespace.
        """
        _checkNamespace(namespace)
        self._explicit = {n for n in self._explicit if not _covers(namespace, n)}
        self._refresh()

    def disableAll(self) -> None:
        """
        Turn every category off: forget explicit enables and detach every
        stream (C{undebug all}).
        """
        self._explicit.clear()
        for streamFilter in self._streams.values():
            self._fanOut.removeObserver(streamFilter)
        self._streams.clear()
        self._refresh()

    def enabledNamespaces(self) -> tuple[str, ...]:
        """
        @return: the namespaces switched on, explicitly or by a stream,
            sorted.
        """
        namespaces = set(self._explicit)
        for streamFilter in self._streams.values():
            namespaces.update(streamFilter.namespaces)
        return tuple(sorted(namespaces))

    def isEnabled(self, namespace: str) -> bool:
        """
        @return: whether debug-level events in C{namespace} currently pass
            (so a caller can skip building an expensive debug message).
        """
        return self.predicate.logLevelForNamespace(namespace) <= LogLevel.debug

    def addStream(self, observer: ILogObserver, namespaces: Iterable[str]) -> None:
        """
        Attach a stream: C{observer} receives every event in C{namespaces}
        (and below) that passes the switches, and the switches for
        C{namespaces} are on while it is attached.  Adding the same observer
        again replaces its namespaces.

        @param observer: called with each event, in the reactor thread.
        @param namespaces: the categories the stream wants.
        @raise ValueError: for an empty or malformed namespace, or none.
        """
        wanted = tuple(_checkNamespace(n) for n in namespaces)
        if not wanted:
            raise ValueError("a debug stream needs at least one namespace")
        self.removeStream(observer)
        streamFilter = _StreamFilter(observer, wanted)
        self._streams[observer] = streamFilter
        self._fanOut.addObserver(streamFilter)
        self._refresh()

    def removeStream(self, observer: ILogObserver) -> None:
        """
        Detach a stream; its switches go off unless something else still
        needs them.  Removing an unknown observer does nothing.

        @param observer: an observer given to L{addStream}.
        """
        streamFilter = self._streams.pop(observer, None)
        if streamFilter is not None:
            self._fanOut.removeObserver(streamFilter)
            self._refresh()

    def streamCount(self) -> int:
        """
        @return: how many streams are attached.
        """
        return len(self._streams)

    def logger(self, namespace: str) -> Logger:
        """
        The logger of one debug category: made on first use and shared by
        everything that logs in that category afterwards (a stream per RTP
        leg asks for it, so it must not cost a new object each time).

        @param namespace: e.g. C{"srst.debug.credentials"}.
        @return: a L{Logger} for C{namespace} that publishes through these
            switches.
        @raise ValueError: for an empty or malformed namespace.
        """
        logger = self._loggers.get(namespace) if isinstance(namespace, str) else None
        if logger is None:
            logger = self._loggers[namespace] = Logger(namespace=_checkNamespace(namespace), observer=self.observer)
        return logger


__all__ = [
    "DEBUG_ROOT",
    "DebugSwitches",
]
