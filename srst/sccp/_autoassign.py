# -*- test-case-name: tests.test_sccp_registry -*-
"""
The file remembering auto-assigned directory numbers
(C{<state-dir>/sccp/auto-assign.json}): a version and, by MAC address, the
number each phone was given.

L{readAssignments} reads it when the registry starts; L{writeAssignments}
replaces it (atomically, through the registry's writer) before a phone with
a new assignment is accepted.
"""

from __future__ import annotations

import json
import os
import re

from srst._files import FileWriter, ensureDirectory

AUTO_ASSIGN_FILE = os.path.join("sccp", "auto-assign.json")
"""Where auto-assigned numbers are remembered, relative to the state directory."""


class AutoAssignStateError(ValueError):
    """
    The remembered auto-assignments cannot be read.

    @ivar path: the file.
    @ivar reason: what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        ValueError.__init__(self, path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot read auto-assigned directory numbers from {self.path}: {self.reason}"


_STATE_VERSION = 1


def readAssignments(path: str) -> dict[str, str]:
    """
    Read the remembered auto-assignments.

    @param path: the file.
    @return: the directory number by MAC (twelve upper-case hex digits);
        empty when the file does not exist.
    @raise AutoAssignStateError: when it exists but cannot be read.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise AutoAssignStateError(path, e.strerror or str(e)) from e
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise AutoAssignStateError(path, f"not JSON ({e})") from e
    if not isinstance(document, dict) or document.get("version") != _STATE_VERSION:
        raise AutoAssignStateError(path, f"expected an object with version {_STATE_VERSION}")
    assignments = document.get("assignments")
    if not isinstance(assignments, dict):
        raise AutoAssignStateError(path, "expected an object under 'assignments'")
    result = {}
    for mac, dn in assignments.items():
        if not (isinstance(mac, str) and re.fullmatch(r"[0-9A-F]{12}", mac)
                and isinstance(dn, str) and re.fullmatch(r"[0-9]{1,15}", dn)):
            raise AutoAssignStateError(path, f"bad assignment {mac!r}: {dn!r}")
        result[mac] = dn
    return result


def writeAssignments(path: str, assignments: dict[str, str], writer: FileWriter) -> None:
    """
    Replace the remembered auto-assignments, creating the directory first.

    @param path: the file.
    @param assignments: the directory number by MAC.
    @param writer: how the file is replaced (L{srst._files.atomicWrite}).
    @raise OSError: when it cannot be written.
    """
    ensureDirectory(os.path.dirname(path))
    document = {"version": _STATE_VERSION, "assignments": dict(sorted(assignments.items()))}
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
    writer(path, data, 0o644)


__all__ = ["AUTO_ASSIGN_FILE", "AutoAssignStateError", "readAssignments", "writeAssignments"]
