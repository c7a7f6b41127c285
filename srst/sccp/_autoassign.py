# -*- test-case-name: tests.test_sccp_registry -*-
"""
The file remembering auto-assigned directory numbers
(C{<state-dir>/sccp/auto-assign.json}): by MAC address, the number each
phone was given (its I{reservation}) and when the phone was last seen.

Version 2 (written since reservations expire)::

    {"version": 2, "reservations": {
        "0011223344AA": {"dn": "2000", "last-seen": "2024-06-29T09:16:02+00:00"}}}

Version 1 (read only) had the number alone, C{{"version": 1, "assignments":
{"0011223344AA": "2000"}}}; its phones count as seen when the file is read,
so an upgrade gives every old reservation a full timeout.

L{readReservations} reads it when the registry starts; L{writeReservations}
replaces it (atomically, through the registry's writer).
"""

from __future__ import annotations

import datetime
import json
import os
import re

from attrs import frozen

from srst._files import FileWriter, ensureDirectory

AUTO_ASSIGN_FILE = os.path.join("sccp", "auto-assign.json")
"""Where auto-assigned numbers are remembered, relative to the state directory."""

_STATE_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_MAC = re.compile(r"[0-9A-F]{12}")
_DN = re.compile(r"[0-9]{1,15}")


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


@frozen
class Reservation:
    """
    A directory number kept for one phone.

    @ivar dn: the number.
    @ivar lastSeen: when the phone was last seen (its registration
        completed or ended), in seconds since the epoch.
    """

    dn: str
    lastSeen: float


def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc).isoformat()


def _seconds(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def readReservations(path: str, now: float) -> dict[str, Reservation]:
    """
    Read the remembered auto-assignments (version 1 or 2).

    @param path: the file.
    @param now: the current time (seconds since the epoch): when the
        phones of a version 1 file, which has no times, count as seen.
    @return: the reservations by MAC (twelve upper-case hex digits); empty
        when the file does not exist.
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
    if not isinstance(document, dict) or document.get("version") not in _READABLE_VERSIONS:
        raise AutoAssignStateError(path, "expected an object with version 1 or 2")
    key = "assignments" if document["version"] == 1 else "reservations"
    entries = document.get(key)
    if not isinstance(entries, dict):
        raise AutoAssignStateError(path, f"expected an object under {key!r}")
    result = {}
    for mac, entry in entries.items():
        if document["version"] == 1:
            dn, lastSeen = entry, now
        else:
            dn = entry.get("dn") if isinstance(entry, dict) else None
            lastSeen = _seconds(entry.get("last-seen")) if isinstance(entry, dict) else None
        if not (isinstance(mac, str) and _MAC.fullmatch(mac) and isinstance(dn, str) and _DN.fullmatch(dn)
                and lastSeen is not None):
            raise AutoAssignStateError(path, f"bad reservation {mac!r}: {entry!r}")
        result[mac] = Reservation(dn, lastSeen)
    return result


def writeReservations(path: str, reservations: dict[str, Reservation], writer: FileWriter) -> None:
    """
    Replace the remembered auto-assignments (version 2), creating the
    directory first.

    @param path: the file.
    @param reservations: the reservations by MAC.
    @param writer: how the file is replaced (L{srst._files.atomicWrite}).
    @raise OSError: when it cannot be written.
    """
    ensureDirectory(os.path.dirname(path))
    document = {
        "version": _STATE_VERSION,
        "reservations": {mac: {"dn": r.dn, "last-seen": _timestamp(r.lastSeen)}
                         for mac, r in sorted(reservations.items())},
    }
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
    writer(path, data, 0o644)


__all__ = ["AUTO_ASSIGN_FILE", "AutoAssignStateError", "Reservation", "readReservations", "writeReservations"]
