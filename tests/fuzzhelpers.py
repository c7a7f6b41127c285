"""
Helpers of the bounded fuzz tests (and of the longer soak runs in
C{benchmarks/soak/}): seeded mutation of valid wire bytes, and a log
observer that collects whatever would show a bug that was survived rather
than handled (a logged failure, "Unhandled", a traceback).
"""

from __future__ import annotations

import random
from typing import Any

from twisted.logger import ILogObserver, LogEvent, LogLevel, formatEvent, globalLogPublisher
from zope.interface import implementer


def mutate(rng: random.Random, data: bytes) -> bytes:
    """
    One random mutation of C{data}, as a fuzzer does: flip bits, overwrite,
    insert or delete a few bytes, truncate, duplicate a slice, or set a
    32-bit word (an SCCP length or id field) to an edge value.

    @param rng: the seeded generator.
    @param data: valid bytes.
    @return: the mutated bytes.
    """
    b = bytearray(data)
    kind = rng.randrange(7)
    if not b:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    at = rng.randrange(len(b))
    if kind == 0:
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        for i in range(at, min(len(b), at + rng.randrange(1, 5))):
            b[i] = rng.randrange(256)
    elif kind == 2:
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
    elif kind == 3:
        del b[at:at + rng.randrange(1, 9)]
    elif kind == 4:
        del b[at:]
    elif kind == 5:
        end = min(len(b), at + rng.randrange(1, 33))
        b[end:end] = b[at:end]
    else:
        word = rng.choice((0, 1, 3, 4, 0x7FFFFFFF, 0xFFFFFFFF, len(b), len(b) - 8, 0x10000))
        at -= at % 4
        b[at:at + 4] = (word & 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(b)


@implementer(ILogObserver)
class TroubleObserver:
    """
    Collect the log events that mean an input was not handled: a failure
    (C{log.failure}, C{log.err}), an event at critical level, and any
    event whose text says "Unhandled" or holds a traceback.

    Use as a context manager: it observes the global log publisher
    meanwhile.

    @ivar trouble: the formatted text of each such event.
    @ivar events: how many events were seen.
    """

    def __init__(self) -> None:
        self.trouble: list[str] = []
        self.events = 0

    def __call__(self, event: LogEvent) -> None:
        self.events += 1
        text = formatEvent(event) or ""
        failure = event.get("log_failure")
        if failure is not None:
            self.trouble.append(f"{text}: {failure.getTraceback()}")
        elif event.get("log_level") is LogLevel.critical or "Unhandled" in text or "Traceback" in text:
            self.trouble.append(text)

    def __enter__(self) -> TroubleObserver:
        globalLogPublisher.addObserver(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        globalLogPublisher.removeObserver(self)
