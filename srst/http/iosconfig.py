# -*- test-case-name: tests.test_http_iosconfig -*-
"""
The C{http-server:} section as IOS commands, and back: C{ip http server},
C{ip http port}, C{ip http max-connections}, C{ip http timeout-policy idle
N life N requests N}.  The limits srst has and IOS has not (body and header
sizes, C{/metrics} off, an operator password) are C{! srst:} comments
(L{srstOnly}); the password itself is never printed.

IOS listens on every address; srst binds the one address of the section
(printed by the composition in its C{! srst:} block, not as a command).  srst
has no HTTPS server, so with the server on it prints C{no ip http
secure-server} as IOS does, and takes that line back silently.
"""

from __future__ import annotations

from typing import Any, Sequence

from srst.http.config import (
    IDLE_SECONDS,
    LIFE_SECONDS,
    MAX_BODY,
    MAX_CONNECTIONS,
    MAX_HEADER_BYTES,
    REQUESTS,
    HttpServerConfig,
)
from srst.iostext import ImportNotes, IosLine

__all__ = ["importIos", "runningConfig", "srstOnly"]

IOS_PORT = 80
"""IOS C{ip http port} default."""


def runningConfig(server: HttpServerConfig | None) -> list[str]:
    """
    @return: C{ip http server} (and C{ip http port} when not 80), or nothing
        without the section.
    """
    if server is None:
        return []
    lines = ["ip http server"]
    if server.port != IOS_PORT:
        lines.append(f"ip http port {server.port}")
    if server.maxConnections != MAX_CONNECTIONS:
        lines.append(f"ip http max-connections {server.maxConnections}")
    if (server.idle, server.life, server.requests) != (IDLE_SECONDS, LIFE_SECONDS, REQUESTS):
        lines.append(f"ip http timeout-policy idle {server.idle} life {server.life} requests {server.requests}")
    return lines + ["no ip http secure-server", "!"]


def srstOnly(server: HttpServerConfig | None) -> list[str]:
    """
    @return: C{! srst: http-server ...} for each setting away from its
        default that IOS has no command for (the operator password only as
        being set).
    """
    if server is None:
        return []
    lines = []
    if server.maxBody != MAX_BODY:
        lines.append(f"! srst: http-server max-body {server.maxBody}")
    if server.maxHeaderBytes != MAX_HEADER_BYTES:
        lines.append(f"! srst: http-server max-header-bytes {server.maxHeaderBytes}")
    if not server.metrics:
        lines.append("! srst: http-server metrics false")
    if server.operatorPassword is not None:
        lines.append("! srst: http-server operator password-file (set; the password is not shown)")
    return lines


def _number(word: str, low: int, high: int) -> int | None:
    return int(word) if word.isdigit() and low <= int(word) <= high else None


def importIos(lines: Sequence[IosLine], document: dict[str, Any], notes: ImportNotes, *,
              address: str | None = None) -> list[IosLine]:
    """
    Take C{ip http server}, C{ip http port N} and C{[no] ip http
    secure-server} into C{document["http-server"]}.

    @param address: the address srst binds instead of IOS's every address
        (the router's interface address), or L{None} for 0.0.0.0.
    @return: the lines not claimed.
    """
    rest: list[IosLine] = []
    enabled = False
    port: int | None = None
    portLine: IosLine | None = None
    limits: dict[str, Any] = {}
    for line in lines:
        words = line.words
        if line.startswith("ip", "http", "server") and len(words) == 3:
            enabled = True
        elif line.startswith("no", "ip", "http", "server") and len(words) == 4:
            enabled = False
        elif line.startswith("ip", "http", "port") and len(words) == 4:
            if words[3].isdigit() and 1 <= int(words[3]) <= 65535:
                port, portLine = int(words[3]), line
            else:
                notes.skip(line, "expected a port from 1 to 65535")
        elif line.startswith("ip", "http", "max-connections") and len(words) == 4:
            value = _number(words[3], 1, 16)
            if value is None:
                notes.skip(line, "expected a number of connections from 1 to 16")
            else:
                limits["max-connections"] = value
        elif line.startswith("ip", "http", "timeout-policy"):
            policy = _timeoutPolicy(words[3:])
            if policy is None:
                notes.skip(line, "expected idle <1-600> life <1-86400> requests <1-86400>")
            else:
                limits["timeout-policy"] = policy
        elif line.startswith("no", "ip", "http", "secure-server") and len(words) == 4:
            pass
        elif line.startswith("ip", "http", "secure-server"):
            notes.skip(line, "srst's HTTP site has no HTTPS server (it serves CRLs and SCEP over plain HTTP)")
        elif line.startswith("ip", "http") or line.startswith("no", "ip", "http"):
            notes.skip(line, "srst's HTTP server has no such setting")
        else:
            rest.append(line)
    if enabled:
        section: dict[str, Any] = {}
        if address is not None:
            section["address"] = address
        section["port"] = port if port is not None else IOS_PORT
        section.update(limits)
        document["http-server"] = section
    elif portLine is not None:
        notes.skip(portLine, "no ip http server: srst has no HTTP server to set the port of")
    return rest


def _timeoutPolicy(words: list[str]) -> dict[str, int] | None:
    """
    C{idle N life N requests N} (IOS prints all three, in this order).
    """
    if len(words) != 6 or [w.lower() for w in words[::2]] != ["idle", "life", "requests"]:
        return None
    idle, life, requests = _number(words[1], 1, 600), _number(words[3], 1, 86400), _number(words[5], 1, 86400)
    if idle is None or life is None or requests is None:
        return None
    return {"idle": idle, "life": life, "requests": requests}
