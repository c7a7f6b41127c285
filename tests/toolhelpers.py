"""
Tools and data some tests need (tshark, openssl, the seed document), and
what happens when one is missing.

By default such a test skips, so that a developer without Wireshark can
still run the suite.  With C{SRST_REQUIRE_TOOLS=1} in the environment (as
C{.ci/run} sets it, passed through by tox's C{passenv = SRST_*}) a missing
tool fails the test instead: CI must never turn green while the checks that
need a tool did not run.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, NoReturn

from twisted.internet.defer import Deferred
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest

REQUIRE_TOOLS = "SRST_REQUIRE_TOOLS"
"""The environment variable that turns a missing tool into a failure."""


class RequiredToolMissing(AssertionError):
    """
    A tool or data file a test needs is missing and L{REQUIRE_TOOLS} says
    it is required.
    """


def toolsRequired() -> bool:
    """
    @return: whether L{REQUIRE_TOOLS} is set to C{1}.
    """
    return os.environ.get(REQUIRE_TOOLS, "") == "1"


def unavailable(reason: str) -> NoReturn:
    """
    What a test needs is missing: skip with C{reason}, or fail when
    L{REQUIRE_TOOLS} is set.

    @raise SkipTest: by default.
    @raise RequiredToolMissing: when tools are required.
    """
    if toolsRequired():
        raise RequiredToolMissing(f"{reason} ({REQUIRE_TOOLS}=1: required, not skipped)")
    raise SkipTest(reason)


def requireTool(name: str) -> str:
    """
    @param name: a program, e.g. C{"tshark"}.
    @return: its path on C{PATH}.
    @raise SkipTest: or L{RequiredToolMissing}, when it is not installed
        (L{unavailable}).
    """
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not installed")
    return path


def tsharkLines(testCase: Any, capture: bytes, *arguments: str) -> Deferred[list[str]]:
    """
    Decode C{capture} with tshark (L{requireTool}: skipped, or failed,
    when it is not installed).

    @param capture: the contents of a pcap file (L{tests.pcap.buildPcap}).
    @param arguments: tshark's arguments after C{-n -r FILE}.
    @return: a L{Deferred} firing with tshark's output lines; it fails the
        test when tshark exits non-zero.
    """
    from twisted.internet import reactor

    from tests.routerhelpers import within

    tsharkPath = requireTool("tshark")
    path = testCase.mktemp()
    with open(path, "wb") as f:
        f.write(capture)
    d = within(getProcessOutputAndValue(tsharkPath, ["-n", "-r", path, *arguments],
                                        env={"PATH": os.environ.get("PATH", ""), "HOME": testCase.mktemp()},
                                        reactor=reactor),
               "tshark")

    def check(result: tuple[bytes, bytes, int]) -> list[str]:
        out, err, code = result
        testCase.assertEqual(code, 0, err)
        return out.decode("utf-8").splitlines()
    return d.addCallback(check)


def requireFile(path: str, what: str) -> str:
    """
    @param path: a data file outside the repository.
    @param what: what it is, for the reason.
    @return: C{path}.
    @raise SkipTest: or L{RequiredToolMissing}, when it does not exist.
    """
    if not os.path.exists(path):
        unavailable(f"{what} is not present at {os.path.normpath(path)}")
    return path
