# -*- test-case-name: tests.test_tools_usage -*-
"""
The argument parser of the console scripts that report their own usage
errors (C{srst-cli}, C{srst-config}): a bad command line raises
L{UsageError} instead of printing and exiting, so the script's C{main}
decides where the message goes and with which exit code.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["RaisingParser", "UsageError"]


class UsageError(ValueError):
    """
    The command line is wrong; C{str()} is argparse's (or the script's)
    message.
    """


class RaisingParser(argparse.ArgumentParser):
    """
    An L{argparse.ArgumentParser} whose errors raise L{UsageError}.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)
