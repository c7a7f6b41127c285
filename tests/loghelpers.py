"""
Helpers for tests that read what srst logs: the formatted lines of a
namespace, or the first line that says something.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.logger import formatEvent, globalLogPublisher


def _observe(testCase: Any, observe: Callable[[dict[str, Any]], None]) -> None:
    globalLogPublisher.addObserver(observe)
    testCase.addCleanup(globalLogPublisher.removeObserver, observe)


def logLines(testCase: Any, namespace: str) -> list[str]:
    """
    @return: a list that fills with every line logged in C{namespace}
        (exactly, not its children), formatted, until C{testCase} ends.
    """
    lines: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        if event.get("log_namespace") == namespace:
            lines.append(formatEvent(event))

    _observe(testCase, observe)
    return lines


def srstLog(testCase: Any) -> list[str]:
    """
    @return: a list that fills with every C{srst.*} log line, formatted,
        until C{testCase} ends.
    """
    lines: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        if event.get("log_namespace", "").startswith("srst."):
            lines.append(formatEvent(event))

    _observe(testCase, observe)
    return lines


def firstLogLine(testCase: Any, text: str) -> Deferred[str]:
    """
    @return: a L{Deferred} firing with the first log line (before
        C{testCase} ends) that contains C{text}.
    """
    seen: Deferred[str] = Deferred()

    def observe(event: dict[str, Any]) -> None:
        line = formatEvent(event)
        if text in line and not seen.called:
            seen.callback(line)

    _observe(testCase, observe)
    return seen
