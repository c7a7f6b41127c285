# -*- test-case-name: tests.test_http_config -*-
"""
C{http-server:}, IOS C{ip http server}: where the router's HTTP site
listens.  No section, no HTTP server (IOS C{no ip http server}).
"""

from __future__ import annotations

from attrs import field, frozen

from srst.configreader import Reader


@frozen
class HttpServerConfig:
    """
    C{ip http server} (with C{ip http port}).

    @ivar address: the address to bind (IOS listens on every interface).
    @ivar port: the TCP port (IOS C{ip http port}, default 80).
    @ivar operatorPassword: the operator page's password, read from
        C{operator.password-file} (L{None}: the page is read-only).  Never
        shown in C{repr}.
    """

    address: str = "0.0.0.0"
    port: int = 80
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
    Validate C{http-server: {address, port, operator: {password-file}}}.

    @param reader: the reader of the section.
    @return: the L{HttpServerConfig}.
    """
    address = reader.address("address", "0.0.0.0")
    port = reader.port("port", 80)
    password = _readPassword(reader)
    reader.finish()
    return HttpServerConfig(address=address or "0.0.0.0", port=port if port is not None else 80,
                            operatorPassword=password)
