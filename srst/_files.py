# -*- test-case-name: tests.test_files,tests.test_pki_ca,tests.test_sccp_registry,tests.test_ports_wav -*-
"""
Crash-safe file writes for the router's state and data files.

Every piece of state (CA and trustpoints, auto-assigned directory numbers,
WAV files) is written with L{atomicWrite}: a temporary file in the same
directory, flushed and C{fsync}ed, renamed over the target with
C{os.replace}, and the directory C{fsync}ed so that the rename itself
survives a power cut.  A reader therefore sees either the old or the
new content, never a torn file.

L{FileWriter} is the signature the certificate server, the trustpoints and
the ephone registry take for their writer, so tests can inject one that
fails on the k-th write to simulate a crash between any two writes.
"""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Callable

from twisted.logger import Logger

_log = Logger(namespace="srst.files")

FileWriter = Callable[[str, bytes, int], None]
"""
C{writer(path, data, mode)}: replace the file at C{path} with C{data}
(permissions C{mode}) atomically, or raise.
"""


def fsyncDirectory(directory: str) -> None:
    """
    Flush a directory's entries (renames, creations, removals) to disk.

    @param directory: the directory to flush.
    """
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomicWrite(path: str, data: bytes, mode: int = 0o644) -> None:
    """
    Replace C{path} with C{data}: temp file in the same directory, flush,
    C{fsync}, C{os.replace}, C{fsync} of the directory.

    The file gets permissions C{mode} before any byte is written, so a
    private key is never readable by others, not even briefly.

    @param path: the file to write.
    @param data: its new content.
    @param mode: its permission bits (C{0o600} for keys).
    @raise OSError: if any step fails; the temp file is removed and the old
        content of C{path} is untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    fsyncDirectory(directory)


def removeFile(path: str) -> None:
    """
    Remove C{path} (if present) and flush the directory entry.

    @param path: the file to remove.
    """
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    fsyncDirectory(os.path.dirname(os.path.abspath(path)))


def removeStaleTemporaries(directory: str) -> list[str]:
    """
    Remove temporary files an interrupted L{atomicWrite} left behind
    (C{.<name>.<random>.tmp}); the files they were meant to replace are
    intact.

    @param directory: the directory to clean.
    @return: the names removed.
    """
    if not os.path.isdir(directory):
        return []
    stale = [n for n in os.listdir(directory) if n.startswith(".") and n.endswith(".tmp")]
    for name in stale:
        os.unlink(os.path.join(directory, name))
    if stale:
        fsyncDirectory(directory)
    return stale


def makeDirectory(path: str, mode: int = 0o700) -> None:
    """
    Create C{path} and its missing parents, each with exactly the
    permissions C{mode} whatever the umask (C{os.makedirs} applies C{mode}
    to the last directory only, and through the umask); directories that
    exist keep theirs.

    @param path: the directory.
    @param mode: permission bits for each directory created here.
    @raise OSError: if a directory cannot be created (a file is in the way,
        permission denied).
    """
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise
            continue
        os.chmod(directory, mode)
        fsyncDirectory(os.path.dirname(directory))


def ensureDirectory(path: str, mode: int = 0o700) -> None:
    """
    Make sure the state directory C{path} exists with permissions C{mode}:
    created (with its missing parents) as L{makeDirectory} does, or, when it
    exists with permission bits beyond C{mode} (left by an older version or
    a loose umask), tightened to C{mode} with a warning naming it.

    @param path: the directory.
    @param mode: its permission bits.
    @raise OSError: if it cannot be created or tightened.
    """
    makeDirectory(path, mode)
    current = stat.S_IMODE(os.stat(path).st_mode)
    if current & ~mode:
        os.chmod(path, mode)
        _log.warn("state directory {path} was mode {old}, open to other users: tightened to {new}",
                  path=path, old=format(current, "04o"), new=format(mode, "04o"))


def readBytes(path: str) -> bytes:
    """
    Read a whole (small) state file.

    @param path: the file.
    @return: its content.
    @raise OSError: if it cannot be read.
    """
    with open(path, "rb") as f:
        return f.read()


__all__ = [
    "FileWriter", "atomicWrite", "ensureDirectory", "fsyncDirectory", "makeDirectory", "readBytes", "removeFile",
    "removeStaleTemporaries",
]
