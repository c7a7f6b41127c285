# -*- test-case-name: tests.test_mgcp_download -*-
"""
C{ccm-manager config}: the gateway configuration file downloaded over TFTP
at start (L{GatewayConfigDownload}), with a local copy in the state
directory for when the server cannot be reached.

The download has a bound (C{ccm-manager.config.timeout-seconds}); whatever
happens the result is one of: the downloaded file (then saved, atomically,
as the new local copy), the local copy (the server is unreachable, or its
file was refused: the copy is left as it was), or nothing (router.yaml
alone).  Each outcome is logged in one line that says which.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.logger import Logger

from srst._files import atomicWrite, makeDirectory
from srst.mgcp.config import CcmManagerConfig, ConfigDownload
from srst.mgcp.gatewayfile import GatewayFile, GatewayFileError, parseGatewayFile
from srst.tftp.client import TftpError, TftpReactor, fetch

MAX_FILE_SIZE = 65536
"""Longest gateway configuration file accepted, bytes."""

_log = Logger(namespace="srst.mgcp.config")

RunInThread = Callable[..., "Deferred[Any]"]
"""C{runInThread(f, *args)}: run blocking file I/O off the reactor thread."""


def _readFile(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        return None


def _save(directory: str, path: str, data: bytes) -> None:
    makeDirectory(directory)
    atomicWrite(path, data, 0o600)


class GatewayConfigDownload:
    """
    One start-up's download.

    @ivar localPath: where the local copy lives.
    """

    def __init__(self, reactor: TftpReactor, download: ConfigDownload, hostname: str, stateDir: str,
                 interface: str, ccm: CcmManagerConfig, voicePorts: frozenset[str],
                 runInThread: RunInThread) -> None:
        self.reactor = reactor
        self.download = download
        self.filename = download.file or f"{hostname}.cnf.xml"
        self.directory = os.path.join(stateDir, "mgcp")
        self.localPath = os.path.join(self.directory, self.filename)
        self.interface = interface
        self.ccm = ccm
        self.voicePorts = voicePorts
        self.runInThread = runInThread

    @property
    def source(self) -> str:
        """
        @return: C{tftp://host:port/file}, for log lines.
        """
        host, port = self.download.server.address
        return f"tftp://{host}:{port}/{self.filename}"

    def _parse(self, data: bytes) -> GatewayFile:
        if len(data) > MAX_FILE_SIZE:
            raise GatewayFileError([f"longer than {MAX_FILE_SIZE} bytes"])
        return parseGatewayFile(data, self.ccm, self.voicePorts)

    async def run(self) -> Optional[GatewayFile]:
        """
        Download, check and save the file, or fall back to the local copy.

        @return: the file to apply, or L{None} for router.yaml alone.
        """
        try:
            data = await fetch(self.reactor, self.download.server.address, self.filename,
                               interface=self.interface, deadline=self.download.timeout,
                               maxSize=MAX_FILE_SIZE)
        except (TftpError, CannotListenError) as e:
            return await self._local(f"could not download gateway configuration {self.source}: {e}")
        try:
            result = self._parse(data)
        except GatewayFileError as e:
            _log.error("gateway configuration {source} refused: {reason}",
                           source=self.source, reason=str(e))
            return await self._local(f"gateway configuration {self.source} refused")
        try:
            await self.runInThread(_save, self.directory, self.localPath, data)
        except OSError as e:
            _log.error("gateway configuration {source}: cannot save the local copy {path}: {reason}",
                           source=self.source, path=self.localPath, reason=e.strerror)
        _log.info("gateway configuration {source} downloaded and applied ({size} bytes,"
                      " local copy {path})", source=self.source, size=len(data), path=self.localPath)
        return result

    async def _local(self, why: str) -> Optional[GatewayFile]:
        try:
            data = await self.runInThread(_readFile, self.localPath)
        except OSError as e:
            data, reason = None, f"local copy {self.localPath} unreadable: {e.strerror}"
        else:
            reason = f"no local copy {self.localPath}"
        if data is not None:
            try:
                result = self._parse(data)
            except GatewayFileError as e:
                reason = f"local copy {self.localPath} refused: {e}"
            else:
                _log.warn("{why}; starting with the local copy {path}", why=why, path=self.localPath)
                return result
        _log.warn("{why}; {reason}: starting with router.yaml alone", why=why, reason=reason)
        return None


__all__ = ["GatewayConfigDownload", "MAX_FILE_SIZE"]
