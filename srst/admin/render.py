# -*- test-case-name: tests.test_admin_render -*-
"""
Small text helpers shared by the IOS-style renderings of show and debug
commands, and the rendering of debug events for C{srst-cli}
(L{formatIOSDebugLine}, L{debugEventData}).

Everything here is pure: numbers, strings and log events in, strings out, so
renderers in every subsystem can use them and tests can pin their exact
output.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from twisted.logger import LogEvent, eventAsText

_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


def iosTimestamp(seconds: float) -> str:
    """
    Format a POSIX time the way IOS stamps debug and log lines
    (C{service timestamps debug datetime msec}), in UTC: C{"Sep 29
    01:01:50.903"}.  The day is space-padded (C{"Mar  1"}) and month names
    are English whatever the locale.

    @param seconds: seconds since the epoch.
    @return: the timestamp, without the trailing colon.
    """
    wholeSeconds, millis = divmod(round(seconds * 1000), 1000)
    moment = datetime.fromtimestamp(wholeSeconds, timezone.utc)
    return "{month} {day:2d} {hour:02d}:{minute:02d}:{second:02d}.{millis:03d}".format(
        month=_MONTHS[moment.month - 1],
        day=moment.day,
        hour=moment.hour,
        minute=moment.minute,
        second=moment.second,
        millis=millis,
    )


def iosDuration(seconds: float) -> str:
    """
    Format an elapsed time the way IOS prints uptimes and ages: C{hh:mm:ss}
    below one day, C{1d02h} below one week, C{3w2d} beyond.

    @param seconds: a non-negative duration; negative values count as 0.
    @return: the duration.
    """
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days == 0:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if days < 7:
        return f"{days}d{hours:02d}h"
    weeks, days = divmod(days, 7)
    return f"{weeks}w{days}d"


def columns(rows: Iterable[Sequence[str]], widths: Sequence[int]) -> list[str]:
    """
    Lay out rows in fixed-width, left-aligned columns, as IOS tables are.
    A cell longer than its column pushes the rest of the row right by one
    space rather than being cut; trailing spaces are stripped.

    @param rows: the cells of each row.
    @param widths: the width of every column but the last (which is free).
    @return: one string per row.
    """
    lines = []
    for row in rows:
        parts = []
        for index, cell in enumerate(row):
            text = str(cell)
            if index < len(widths) and index < len(row) - 1:
                width = widths[index]
                text = text.ljust(width) if len(text) < width else text + " "
            parts.append(text)
        lines.append("".join(parts).rstrip())
    return lines


def formatIOSDebugLine(event: LogEvent) -> str:
    """
    Render an event as an IOS debug line:
    C{"*Sep 29 01:01:50.903: Credentials service: TLS Handshake completes."}.
    The timestamp is the event's C{log_time} in UTC with milliseconds
    (C{service timestamps debug datetime msec}); an attached failure's
    traceback follows on further lines.  The leading C{*} is IOS's mark of a
    time not known to be authoritative (no NTP or calendar sync): srst does
    not synchronise the clock itself, so it cannot claim more.

    @param event: a log event.
    @return: the line (no trailing newline).
    """
    text = eventAsText(event, includeTimestamp=False, includeSystem=False)
    logTime = event.get("log_time")
    if logTime is None:
        return text
    return "*" + iosTimestamp(logTime) + ": " + text


_SCALARS = (str, int, float, bool, type(None))


def debugEventData(event: LogEvent) -> dict[str, Any]:
    """
    The JSON-serialisable facts of a debug event, for C{srst-cli --json
    debug ...}: time, namespace, level, formatted text and the event's own
    scalar fields (those not starting with C{log_}).

    @param event: a log event.
    @return: a dict of JSON-safe values.
    """
    level = event.get("log_level")
    return {
        "time": event.get("log_time"),
        "namespace": event.get("log_namespace"),
        "level": level.name if level is not None else None,
        "text": eventAsText(event, includeTimestamp=False, includeSystem=False),
        "fields": {
            key: value
            for key, value in event.items()
            if isinstance(key, str) and not key.startswith("log_") and isinstance(value, _SCALARS)
        },
    }
