# -*- test-case-name: tests.test_http_config -*-
"""
C{http-server:}, IOS C{ip http server}: where the router's HTTP site
listens and what it allows a connection.  No section, no HTTP server (IOS
C{no ip http server}).
"""

from __future__ import annotations

from attrs import field, frozen

from srst.configreader import Reader

MAX_CONNECTIONS = 5
"""IOS C{ip http max-connections} default."""

IDLE_SECONDS = 180
"""IOS C{ip http timeout-policy idle} default."""

LIFE_SECONDS = 180
"""IOS C{ip http timeout-policy life} default."""

REQUESTS = 1
"""IOS C{ip http timeout-policy requests} default."""

MAX_BODY = 65536
"""Bytes of request body accepted (a SCEP message is a few kilobytes)."""

MAX_HEADER_BYTES = 16384
"""Bytes of request line plus headers accepted (Twisted's own default: a
SCEP GET carries its base64 message in the query)."""


@frozen
class HttpServerConfig:
    """
    C{ip http server} (with C{ip http port}, C{ip http max-connections}
    and C{ip http timeout-policy}).

    @ivar address: the address to bind (IOS listens on every interface).
    @ivar port: the TCP port (IOS C{ip http port}, default 80).
    @ivar maxConnections: connections served at once; one more is refused
        (IOS C{ip http max-connections}, default 5).
    @ivar idle: seconds of silence before a connection is closed (IOS
        C{ip http timeout-policy idle}, default 180).
    @ivar life: seconds a connection may stay open at most (IOS C{ip http
        timeout-policy life}, default 180).
    @ivar requests: requests served on one connection before it is closed
        (IOS C{ip http timeout-policy requests}, default 1).
    @ivar maxBody: the largest request body accepted, in bytes.
    @ivar maxHeaderBytes: the largest request line plus headers, in bytes.
    @ivar metrics: whether C{/metrics} serves the router's counters in
        the Prometheus text format (default on: see L{readHttpServer}).
    @ivar operatorPassword: the operator page's password, read from
        C{operator.password-file} (L{None}: the page is read-only).  Never
        shown in C{repr}.
    """

    address: str = "0.0.0.0"
    port: int = 80
    maxConnections: int = MAX_CONNECTIONS
    idle: int = IDLE_SECONDS
    life: int = LIFE_SECONDS
    requests: int = REQUESTS
    maxBody: int = MAX_BODY
    maxHeaderBytes: int = MAX_HEADER_BYTES
    metrics: bool = True
    operatorPassword: str | None = field(default=None, repr=False)


def _readPassword(reader: Reader) -> str | None:
    operator = reader.optionalChild("operator")
    if operator is None:
        return None
    path = operator.string("password-file", required=True, allowed="expected the path of a file holding the password")
    operator.finish()
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            password = f.read().strip("\r\n")
    except OSError as e:
        operator.problem("password-file", path, f"expected a readable file ({e.strerror})")
        return None
    except UnicodeDecodeError:
        operator.problem("password-file", path, "expected a UTF-8 text file")
        return None
    if not password:
        operator.problem("password-file", path, "expected a file holding the password (it is empty)")
        return None
    return password


def readHttpServer(reader: Reader) -> HttpServerConfig:
    """
    Validate C{http-server: {address, port, max-connections, timeout-policy:
    {idle, life, requests}, max-body, max-header-bytes, metrics, operator:
    {password-file}}}.

    C{metrics} defaults to on: the HTTP server itself is opt-in (no
    section, no server), it is reached only through the control-plane
    policy's ACL and rate, and C{/metrics} gives out counts only (no
    phone names, addresses or keys) -- what an operator enabling a web
    server on a branch router wants a dashboard to find without another
    switch.  C{metrics: false} takes it off the site (404).

    @param reader: the reader of the section.
    @return: the L{HttpServerConfig}.
    """
    address = reader.address("address", "0.0.0.0")
    port = reader.port("port", 80)
    maxConnections = reader.integer("max-connections", MAX_CONNECTIONS, minimum=1, maximum=16)
    policy = reader.child("timeout-policy")
    idle = policy.integer("idle", IDLE_SECONDS, minimum=1, maximum=600)
    life = policy.integer("life", LIFE_SECONDS, minimum=1, maximum=86400)
    requests = policy.integer("requests", REQUESTS, minimum=1, maximum=86400)
    policy.finish()
    maxBody = reader.integer("max-body", MAX_BODY, minimum=1024, maximum=16 * 1024 * 1024)
    maxHeaderBytes = reader.integer("max-header-bytes", MAX_HEADER_BYTES, minimum=1024, maximum=1024 * 1024)
    metrics = reader.boolean("metrics", True)
    password = _readPassword(reader)
    reader.finish()
    return HttpServerConfig(address=address or "0.0.0.0", port=port if port is not None else 80,
                            maxConnections=maxConnections, idle=idle, life=life, requests=requests,
                            maxBody=maxBody, maxHeaderBytes=maxHeaderBytes, metrics=metrics,
                            operatorPassword=password)
