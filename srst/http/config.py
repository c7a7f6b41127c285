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
    """

    address: str = "0.0.0.0"
    port: int = 80


def readHttpServer(reader: Reader) -> HttpServerConfig:
    """
    Validate C{http-server: {address, port}}.

    @param reader: the reader of the section.
    @return: the L{HttpServerConfig}.
    """
    address = reader.address("address", "0.0.0.0")
    port = reader.port("port", 80)
    reader.finish()
    return HttpServerConfig(address=address or "0.0.0.0", port=port if port is not None else 80)
