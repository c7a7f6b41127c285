# -*- test-case-name: tests.test_http_config -*-
"""
C{http-server:}, IOS C{ip http server}: where the router's HTTP site
listens.  No section, no HTTP server (IOS C{no ip http server}).
"""

from __future__ import annotations

from attrs import frozen

from srst.configreader import Reader


@frozen
class HttpServerConfig:
    """
    C{ip http server} (with C{ip http port}).

    @ivar address: the address to bind (IOS listens on every interface).
    @ivar port: the TCP port (IOS C{ip http port}, default 80).
    @ivar metrics: whether C{/metrics} serves the router's counters in
        the Prometheus text format (default on: see L{readHttpServer}).
    """

    address: str = "0.0.0.0"
    port: int = 80
    metrics: bool = True


def readHttpServer(reader: Reader) -> HttpServerConfig:
    """
    Validate C{http-server: {address, port, metrics}}.

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
    metrics = reader.boolean("metrics", True)
    reader.finish()
    return HttpServerConfig(address=address or "0.0.0.0", port=port if port is not None else 80, metrics=metrics)
