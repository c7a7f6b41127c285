# -*- test-case-name: tests.test_pki_ca -*-
"""
The crash-safe file helpers under their old PKI name.

They live in L{srst._files}, shared by the PKI, the ephone registry and the
voice ports; this module re-exports them for code that still imports them
from here.
"""

from __future__ import annotations

from srst._files import (
    FileWriter,
    atomicWrite,
    ensureDirectory,
    fsyncDirectory,
    readBytes,
    removeFile,
    removeStaleTemporaries,
)

__all__ = [
    "FileWriter", "atomicWrite", "ensureDirectory", "fsyncDirectory", "readBytes", "removeFile",
    "removeStaleTemporaries",
]
