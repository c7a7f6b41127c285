"""
What the benchmarks share: their logging in the server child, and the
CPU figures they read from /proc, and the checkout on C{sys.path}.
Imported as C{_common} (the benchmarks run as scripts, with this directory
first on C{sys.path}).
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The checkout the benchmarks belong to; put first on C{sys.path} so they
(and their server children) import its C{srst}."""
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def quietLogging() -> None:
    """
    Log warnings and worse to stderr only, as production does with
    debugging off (a server child calls it before starting).
    """
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(textFileLogObserver(sys.stderr),
                              [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)])],
        redirectStandardIO=False)


def processCpuSeconds(pid: int) -> float:
    """@return: user + system CPU seconds of process C{pid} so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); after the ")" they are 12 and 13.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def boxBusySeconds() -> float:
    """@return: CPU seconds the whole box (all cores) has spent busy since boot, I/O wait not counted."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
