# -*- test-case-name: tests.test_configtool -*-
"""
C{srst-config}: configuration tools that need no running router::

    srst-config import-ios FILE [-o OUT.yaml] [--map-address OLD=NEW ...]

C{import-ios} converts an IOS running-config into router.yaml
(L{srst.iosconfig.importIosConfig}): every command srst has a key for; each
other line is listed on stderr as C{line N: <text>: <reason>}.  The phone
CA trustpoints' C{crypto pki certificate chain} blocks become PEM files
(C{<trustpoint>.pem}) written beside C{OUT.yaml} (in the current directory
when the YAML goes to stdout); the YAML names them by that path.
C{--map-address} rewrites an address everywhere in the input first (the
seed's C{10.1.1.22} to C{127.0.0.1}), so the result starts on this host.

The result is read back as srst reads router.yaml: a problem there (two
addresses mapped onto one, so that the MGCP call agent is the gateway
itself) is listed on stderr as the router would say it at start-up.

Exit codes: 0 everything imported and the result loads; 1 some lines were not
imported or the result does not load (listed on stderr; the YAML is still
written); 2 usage error; 3 the input cannot be read or an output cannot be
written.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Sequence, TextIO

import yaml

from srst._files import atomicWrite
from srst.config import loadString
from srst.configreader import ConfigError
from srst.iosconfig import importIosConfig
from srst.tools._usage import RaisingParser, UsageError

EXIT_OK = 0
EXIT_SKIPPED = 1
EXIT_USAGE = 2
EXIT_FILE = 3

PROGRAM = "srst-config"


def makeParser() -> argparse.ArgumentParser:
    """
    @return: the C{srst-config} argument parser; usage errors raise.
    """
    parser = RaisingParser(prog=PROGRAM, description="srst configuration tools.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=RaisingParser)
    ios = commands.add_parser("import-ios", help="convert an IOS running-config into router.yaml")
    ios.add_argument("file", metavar="FILE", help="the IOS configuration (show running-config text)")
    ios.add_argument("-o", "--output", metavar="OUT.yaml", help="write the YAML here (default: stdout)")
    ios.add_argument("--map-address", metavar="OLD=NEW", action="append", default=[],
                     help="rewrite address OLD to NEW in the input first (repeatable)")
    return parser


def _addressMap(pairs: Sequence[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"--map-address expects OLD=NEW, not {pair!r}")
        for address in (old, new):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise UsageError(f"--map-address {pair}: {address} is not an IP address")
        mapping[old] = new
    return mapping


class _FileError(Exception):
    pass


def _importIos(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    mapping = _addressMap(arguments.map_address)
    try:
        with open(arguments.file, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise _FileError(f"cannot read {arguments.file}: {e.strerror}")
    except UnicodeDecodeError:
        raise _FileError(f"cannot read {arguments.file}: not UTF-8 text")
    directory = os.path.dirname(arguments.output) if arguments.output else ""
    files: dict[str, bytes] = {}
    document, skipped = importIosConfig(text, addressMap=mapping, certificateDirectory=directory, files=files)
    rendered = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    header = f"# srst router configuration imported from {os.path.basename(arguments.file)} (srst-config import-ios)\n"
    for path, data in files.items():
        try:
            atomicWrite(path, data)
        except OSError as e:
            raise _FileError(f"cannot write {path}: {e.strerror}")
        err.write(f"{PROGRAM}: wrote {path}\n")
    if arguments.output:
        try:
            atomicWrite(arguments.output, (header + rendered).encode("utf-8"))
        except OSError as e:
            raise _FileError(f"cannot write {arguments.output}: {e.strerror}")
    else:
        out.write(header + rendered)
    for line in skipped:
        err.write(f"{line}\n")
    loads = True
    try:
        loadString(header + rendered, arguments.output or "<stdout>")
    except ConfigError as e:
        loads = False
        for problem in str(e).splitlines():
            err.write(f"{PROGRAM}: the result does not load: {problem}\n")
    if skipped:
        err.write(f"{PROGRAM}: {sum(s.count for s in skipped)} line(s) not imported\n")
    return EXIT_OK if loads and not skipped else EXIT_SKIPPED


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """
    The C{srst-config} console script.

    @param argv: the arguments without the program name (C{sys.argv[1:]}
        when L{None}).
    @return: the exit code.
    """
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    parser = makeParser()
    try:
        arguments = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        return _importIos(arguments, out, err)
    except UsageError as e:
        err.write(parser.format_usage())
        err.write(f"{PROGRAM}: error: {e}\n")
        return EXIT_USAGE
    except _FileError as e:
        err.write(f"{PROGRAM}: {e}\n")
        return EXIT_FILE


if __name__ == "__main__":
    sys.exit(main())
