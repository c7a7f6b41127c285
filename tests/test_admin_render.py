"""
Tests for L{srst.admin.render}: IOS timestamps, durations and columns, and
the rendering of debug events for C{srst-cli}.
"""

from __future__ import annotations

import calendar

from twisted.logger import LogLevel
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from srst.admin.render import columns, debugEventData, formatIOSDebugLine, iosDuration, iosTimestamp

CREDENTIALS = "srst.debug.credentials"


class RenderTests(SynchronousTestCase):
    """
    Tests for L{srst.admin.render}.
    """

    def test_iosTimestamp(self):
        """
        Timestamps are UTC, English month, space-padded day, milliseconds
        rounded.
        """
        self.assertEqual(iosTimestamp(0), "Jan  1 00:00:00.000")
        self.assertEqual(iosTimestamp(1727571710.903), "Sep 29 01:01:50.903")
        self.assertEqual(iosTimestamp(59.9996), "Jan  1 00:01:00.000")

    def test_iosDuration(self):
        """
        Durations print as hh:mm:ss, then XdYYh, then XwYd.
        """
        self.assertEqual(iosDuration(-5), "00:00:00")
        self.assertEqual(iosDuration(3723), "01:02:03")
        self.assertEqual(iosDuration(86400 + 2 * 3600 + 59), "1d02h")
        self.assertEqual(iosDuration(23 * 86400), "3w2d")

    def test_columns(self):
        """
        Cells are padded to their column width; an over-long cell pushes the
        row right by one space; trailing spaces are stripped.
        """
        self.assertEqual(
            columns([("ab", "c", "d"), ("abcdef", "", "x"), ("a",)], [4, 3]),
            ["ab  c  d", "abcdef    x", "a"],
        )


def _event(logFormat, logTime=None, **fields):
    event = {
        "log_format": logFormat,
        "log_level": LogLevel.debug,
        "log_namespace": CREDENTIALS,
    }
    if logTime is not None:
        event["log_time"] = logTime
    event.update(fields)
    return event


class DebugEventTests(SynchronousTestCase):
    """
    Tests for L{formatIOSDebugLine} and L{debugEventData}.
    """

    def test_seedLine(self):
        """
        An event renders as the seed document's debug line: UTC timestamp
        with milliseconds, a colon, the formatted message.
        """
        when = calendar.timegm((2024, 9, 29, 1, 1, 50)) + 0.903
        event = _event(
            "Credentials service: Start TLS Handshake {socket} {ip} {port}",
            when,
            socket=1,
            ip="10.1.1.13",
            port=2187,
        )
        self.assertEqual(
            formatIOSDebugLine(event),
            "*Sep 29 01:01:50.903: Credentials service: Start TLS Handshake 1 10.1.1.13 2187",
        )

    def test_singleDigitDay(self):
        """
        Days below 10 are space-padded, as IOS prints them.
        """
        when = calendar.timegm((2025, 3, 1, 0, 2, 3)) + 0.004
        self.assertEqual(formatIOSDebugLine(_event("x", when)), "*Mar  1 00:02:03.004: x")

    def test_noTime(self):
        """
        An event without C{log_time} renders as its message alone.
        """
        self.assertEqual(formatIOSDebugLine(_event("just text")), "just text")

    def test_failure(self):
        """
        An attached failure's traceback follows the message.
        """
        try:
            1 / 0
        except ZeroDivisionError:
            failure = Failure()
        line = formatIOSDebugLine(_event("oops", 0.0, log_failure=failure))
        self.assertTrue(line.startswith("*Jan  1 00:00:00.000: oops\n"))
        self.assertIn("ZeroDivisionError", line)

    def test_eventData(self):
        """
        The JSON facts hold time, namespace, level name, text and the scalar
        fields only.
        """
        event = _event("socket {socket}", 12.5, socket=3, peer=("1.2.3.4", 5), log_source=object())
        self.assertEqual(
            debugEventData(event),
            {
                "time": 12.5,
                "namespace": CREDENTIALS,
                "level": "debug",
                "text": "socket 3",
                "fields": {"socket": 3},
            },
        )
