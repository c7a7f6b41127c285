# -*- test-case-name: tests.test_http_status -*-
"""
C{show ip http server status}: IOS's layout with the values srst has.

The admin command table is the same layer as this package, so the
composition root registers the command; this module only renders.
"""

from __future__ import annotations

from typing import Any

from srst.http.config import HttpServerConfig
from srst.http.site import HttpSite


def renderStatus(config: HttpServerConfig | None, site: HttpSite | None) -> tuple[str, dict[str, Any]]:
    """
    Render C{show ip http server status}.

    @param config: C{http-server:}, or L{None} when the section is absent
        (IOS C{no ip http server}).
    @param site: the running site, or L{None}.
    @return: the IOS text and the same facts for C{--json}.
    """
    if config is None or site is None:
        return ("HTTP server status: Disabled\nHTTP secure server capability: Not present",
                {"status": "Disabled"})
    data: dict[str, Any] = {
        "status": "Enabled",
        "address": config.address,
        "port": config.port,
        "authenticationMethod": "none",
        "activeSessionModules": list(site.paths),
        "maxConnections": config.maxConnections,
        "idleTimeout": config.idle,
        "lifeTimeout": config.life,
        "maxRequests": config.requests,
        "maxBody": config.maxBody,
        "maxHeaderBytes": config.maxHeaderBytes,
        "headerTimeout": _seconds(site.headerTimeout),
        "currentConnections": site.connections,
    }
    lines = [
        "HTTP server status: Enabled",
        f"HTTP server port: {config.port}",
        f"HTTP server address: {config.address}",
        "HTTP server authentication method: none",
        f"HTTP server active session modules: {', '.join(site.paths) or 'none'}",
        f"Maximum number of concurrent server connections allowed: {config.maxConnections}",
        f"Server idle time-out: {config.idle} seconds",
        f"Server life time-out: {config.life} seconds",
        f"Maximum number of requests allowed on a connection: {config.requests}",
        f"Server request headers time-out: {_seconds(site.headerTimeout)} seconds",
        f"Maximum request body: {config.maxBody} bytes",
        f"Maximum request line and headers: {config.maxHeaderBytes} bytes",
        f"HTTP server current connections: {site.connections}",
        "HTTP secure server capability: Not present",
    ]
    return "\n".join(lines), data


def _seconds(seconds: float) -> int | float:
    """
    Whole seconds as an integer, as IOS shows them; a fraction is kept.
    """
    return int(seconds) if seconds == int(seconds) else seconds
