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
from typing import NoReturn

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
