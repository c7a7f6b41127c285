# -*- test-case-name: tests.test_http_iosconfig -*-
"""
The C{http-server:} section as IOS commands, and back: C{ip http server},
C{ip http port}.

IOS listens on every address; srst binds the one address of the section
(printed by the composition in its C{! srst:} block, not as a command).  srst
has no HTTPS server, so with the server on it prints C{no ip http
secure-server} as IOS does, and takes that line back silently.
"""

from __future__ import annotations

from typing import Any, Sequence

from srst.http.config import HttpServerConfig
from srst.iostext import ImportNotes, IosLine

__all__ = ["importIos", "runningConfig"]

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
    return lines + ["no ip http secure-server", "!"]


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
        document["http-server"] = section
    elif portLine is not None:
        notes.skip(portLine, "no ip http server: srst has no HTTP server to set the port of")
    return rest
