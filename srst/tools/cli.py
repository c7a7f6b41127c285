# -*- test-case-name: tests.test_cli -*-
"""
C{srst-cli}: the operator's terminal to a running srst router::

    srst-cli [--config router.yaml | --socket PATH] [--json] WORDS...
    srst-cli show credentials
    srst-cli --json show ephone
    srst-cli debug credentials          # streams until Ctrl-C
    srst-cli undebug all

It sends the words to the router's admin socket (see L{srst.admin.server}
for the wire format) and prints the IOS-style answer, or with C{--json} the
same facts as JSON.  Debug commands print one line per event until Ctrl-C or
until the router ends the stream (C{undebug all}).

The socket is C{--socket} if given, else C{admin.socket} from the YAML file
named by C{--config} (default C{etc/router.yaml}; its own default is
C{<state-dir>/srst.sock}, i.e. C{var/srst.sock}).  Relative paths are
relative to the current directory, as for the router.

This is a plain blocking client: no reactor.

Exit codes: 0 success (or a debug stream ended); 1 the router answered
with an error (C{% Invalid input detected}, ...), or the command's own exit
code; 2 usage error, unreadable configuration or the router cannot be
reached (a refused or busy socket is retried for about 1.5 seconds
first); 3 the router's answer was missing or not understood (or it did not
answer within C{--timeout}); 130 interrupted while waiting for an answer.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import sys
import time
from typing import Callable, Sequence, TextIO

import yaml

from srst.tools._usage import RaisingParser, UsageError

EXIT_OK = 0
EXIT_COMMAND = 1
EXIT_UNREACHABLE = 2
EXIT_USAGE = 2
EXIT_PROTOCOL = 3
EXIT_INTERRUPTED = 130

DEFAULT_CONFIG = os.path.join("etc", "router.yaml")
DEFAULT_STATE_DIR = "var"
SOCKET_NAME = "srst.sock"
DEFAULT_TIMEOUT = 60.0

CONNECT_RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8)
"""
Seconds to wait before each new attempt when connecting fails with
C{EAGAIN} (the router's listen queue is full: many clients at once) or
C{ECONNREFUSED} (nobody listens yet: the router is restarting): five
attempts within about 1.5 seconds, then the error is reported.
"""

_RETRYABLE = frozenset({errno.EAGAIN, errno.ECONNREFUSED})


class CliError(RuntimeError):
    """
    C{srst-cli} cannot do what it was asked.

    @ivar message: the line printed on stderr (starts with C{"srst-cli: "}).
    @ivar exitCode: what C{srst-cli} exits with.
    """

    def __init__(self, message: str, exitCode: int) -> None:
        RuntimeError.__init__(self, message, exitCode)
        self.message = message
        self.exitCode = exitCode

    def __str__(self) -> str:
        return self.message


def makeParser() -> argparse.ArgumentParser:
    """
    @return: the C{srst-cli} argument parser; usage errors raise instead of
        exiting, so L{main} decides where they are printed.
    """
    parser = RaisingParser(
        prog="srst-cli",
        description="Run an IOS-style command on a running srst router.",
        add_help=False,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--config",
        metavar="FILE",
        help=f"router configuration whose admin.socket to use (default {DEFAULT_CONFIG})",
    )
    where.add_argument("--socket", metavar="PATH", help="the admin socket (overrides --config)")
    parser.add_argument("--json", action="store_true", help="print the answer's data as JSON")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for an answer (default {DEFAULT_TIMEOUT:g}; not for debug streams)",
    )
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    parser.add_argument("words", nargs="*", metavar="WORDS", help="the command, e.g. show credentials")
    return parser


def socketPath(socketOption: str | None, configOption: str | None) -> str:
    """
    Decide which socket to talk to.

    @param socketOption: C{--socket}, which wins.
    @param configOption: C{--config}; when L{None} the default configuration
        is read if it exists, else the default socket is used.
    @return: the socket path.
    @raise CliError: if the configuration cannot be read or has a bad
        C{admin.socket}.
    """
    if socketOption is not None:
        return socketOption
    configPath = configOption if configOption is not None else DEFAULT_CONFIG
    try:
        with open(configPath, encoding="utf-8") as configFile:
            root = yaml.safe_load(configFile)
    except FileNotFoundError as e:
        if configOption is None:
            return os.path.join(DEFAULT_STATE_DIR, SOCKET_NAME)
        raise CliError(f"srst-cli: cannot read {configPath}: {e.strerror}", EXIT_USAGE) from e
    except OSError as e:
        raise CliError(f"srst-cli: cannot read {configPath}: {e.strerror or e}", EXIT_USAGE) from e
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CliError(f"srst-cli: {configPath} is not valid YAML: {reason}", EXIT_USAGE) from e
    if root is None:
        root = {}
    if not isinstance(root, dict):
        raise CliError(f"srst-cli: {configPath}: the configuration is not a mapping", EXIT_USAGE)
    admin = root.get("admin")
    if admin is None:
        admin = {}
    if not isinstance(admin, dict):
        raise CliError(f"srst-cli: {configPath}: admin is not a mapping", EXIT_USAGE)
    path = admin.get("socket")
    if path is None:
        stateDir = root.get("state-dir") or DEFAULT_STATE_DIR
        if not isinstance(stateDir, str):
            raise CliError(f"srst-cli: {configPath}: state-dir is not a path", EXIT_USAGE)
        return os.path.join(stateDir, SOCKET_NAME)
    if not isinstance(path, str) or not path:
        raise CliError(f"srst-cli: {configPath}: admin.socket is not a path", EXIT_USAGE)
    return path


def _connect(path: str, timeout: float, sleep: Callable[[float], object] = time.sleep) -> socket.socket:
    """
    Connect to the admin socket, retrying a busy or refusing socket (see
    L{CONNECT_RETRY_DELAYS}).

    @param path: the socket path.
    @param timeout: the socket's timeout.
    @param sleep: waits between attempts.
    @return: the connected socket.
    @raise CliError: if the last attempt fails, or one fails for any other
        reason (no such file, permission denied).
    """
    delays = iter(CONNECT_RETRY_DELAYS)
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            return sock
        except OSError as e:
            sock.close()
            delay = next(delays, None) if e.errno in _RETRYABLE else None
            if delay is None:
                raise CliError(f"srst-cli: cannot reach srst at {path}: {e.strerror or e}",
                               EXIT_UNREACHABLE) from e
        sleep(delay)


class _Session:
    """
    One request and the printing of its answer.
    """

    def __init__(self, sock: socket.socket, wantJSON: bool, timeout: float, stdout: TextIO, stderr: TextIO) -> None:
        self.sock = sock
        self.wantJSON = wantJSON
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr
        self.streaming = False

    def _print(self, text: str, stream: TextIO | None = None) -> None:
        target = self.stdout if stream is None else stream
        target.write(text + "\n")
        target.flush()

    def run(self, words: Sequence[str]) -> int:
        request = json.dumps({"argv": list(words), "json": self.wantJSON}).encode("ascii") + b"\n"
        try:
            self.sock.sendall(request)
        except OSError as e:
            raise CliError(f"srst-cli: srst closed the connection: {e.strerror or e}", EXIT_PROTOCOL) from e
        reader = self.sock.makefile("rb")
        try:
            while True:
                try:
                    raw = reader.readline()
                except TimeoutError as e:
                    raise CliError(
                        f"srst-cli: no answer from srst within {self.timeout:g} seconds", EXIT_PROTOCOL
                    ) from e
                except OSError as e:
                    if self.streaming and isinstance(e, ConnectionResetError):
                        return EXIT_OK
                    raise CliError(f"srst-cli: talking to srst: {e.strerror or e}", EXIT_PROTOCOL) from e
                if not raw:
                    if self.streaming:
                        return EXIT_OK
                    raise CliError("srst-cli: srst closed the connection without answering", EXIT_PROTOCOL)
                exitCode = self._handle(raw)
                if exitCode is not None:
                    return exitCode
        finally:
            reader.close()

    def _handle(self, raw: bytes) -> int | None:
        try:
            message = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise CliError(f"srst-cli: cannot understand srst's answer: {e}", EXIT_PROTOCOL) from e
        if not isinstance(message, dict):
            raise CliError("srst-cli: cannot understand srst's answer: not a JSON object", EXIT_PROTOCOL)
        exitCode = message.get("exit")
        if exitCode is not None and not isinstance(exitCode, int):
            raise CliError("srst-cli: cannot understand srst's answer: bad exit code", EXIT_PROTOCOL)
        if "error" in message:
            if self.wantJSON:
                self._print(json.dumps({"error": message["error"]}, indent=2))
            else:
                self._print(str(message["error"]))
            return EXIT_COMMAND if not exitCode else exitCode
        if "line" in message:
            self.streaming = True
            if self.wantJSON:
                self._print(json.dumps(message.get("event") or {"text": message["line"]}))
            else:
                self._print(str(message["line"]))
            return None
        text = message.get("text")
        if exitCode is None:
            # The banner of a debug stream: from now on, wait as long as it takes.
            self.streaming = True
            self.sock.settimeout(None)
            if text:
                self._print(str(text), self.stderr if self.wantJSON else None)
            return None
        if self.wantJSON and not self.streaming:
            self._print(json.dumps(message.get("data"), indent=2))
        elif text:
            self._print(str(text), self.stderr if self.wantJSON else None)
        return exitCode


def run(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """
    Send the command and print the answer.

    @param arguments: parsed by L{makeParser}.
    @return: the exit code.
    @raise CliError: if the router cannot be reached or answers badly.
    """
    path = socketPath(arguments.socket, arguments.config)
    sock = _connect(path, arguments.timeout)
    session = _Session(sock, arguments.json, arguments.timeout, stdout, stderr)
    try:
        return session.run(arguments.words)
    except KeyboardInterrupt:
        return EXIT_OK if session.streaming else EXIT_INTERRUPTED
    finally:
        sock.close()


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """
    The C{srst-cli} console script.

    @param argv: the arguments without the program name; C{sys.argv[1:]}
        when L{None}.
    @param stdout: where answers go (C{sys.stdout} when L{None}).
    @param stderr: where C{srst-cli}'s own errors go (C{sys.stderr} when
        L{None}).
    @return: the exit code.
    """
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    parser = makeParser()
    try:
        arguments = parser.parse_intermixed_args(list(sys.argv[1:] if argv is None else argv))
        if arguments.help:
            out.write(parser.format_help())
            return EXIT_OK
        if not arguments.words:
            raise UsageError("a command is required (try: srst-cli help)")
        if arguments.timeout <= 0:
            raise UsageError("--timeout must be positive")
    except UsageError as e:
        err.write(parser.format_usage())
        err.write(f"srst-cli: error: {e}\n")
        return EXIT_USAGE
    try:
        return run(arguments, out, err)
    except CliError as e:
        err.write(e.message + "\n")
        return e.exitCode
    except BrokenPipeError:
        # Our own stdout went away (srst-cli debug ... | head): not an error.
        if stdout is None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
