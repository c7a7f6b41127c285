# -*- test-case-name: tests.test_pki_ca -*-
"""
Time formatting for certificates, CRLs and their error messages.

Certificate times are UTC.  L{iosTime} formats them the way IOS shows
timers (C{show crypto pki server}); L{isoTime} is the unambiguous form used
in log events and exception messages.  Naive values are taken as UTC.
"""

from __future__ import annotations

import datetime


def utc(when: datetime.datetime) -> datetime.datetime:
    """
    @param when: a time (naive values are taken as UTC).
    @return: the same instant as an aware UTC datetime.
    """
    if when.tzinfo is None:
        return when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc)


def isoTime(when: datetime.datetime) -> str:
    """
    Format a time for logs and errors: C{"2024-04-12 19:45:16 UTC"}.

    @param when: a time (naive values are taken as UTC).
    @return: the text.
    """
    return f"{utc(when):%Y-%m-%d %H:%M:%S} UTC"


def iosTime(when: datetime.datetime) -> str:
    """
    Format a time the way IOS shows timers: C{"13:46:57 UTC Dec 1 2007"}.

    @param when: a time (naive values are taken as UTC).
    @return: the text.
    """
    when = utc(when)
    return f"{when:%H:%M:%S} UTC {when:%b} {when.day} {when.year}"
