"""
Fakes of the router's media services (L{srst.calls.mediaservices}) for the
engine's tests: L{FakeHoldMusic} (music on hold that binds no socket),
L{FakeMediaPort} (the stream it hands out) and L{FakeBridges} (a pool of
conference bridges).  Each records what the engine asked; the real ones
(L{srst.ports}) are tested with sockets in their own modules.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from srst.calls.mediaservices import (
    ConferenceRefused,
    IConferenceBridge,
    IConferenceBridges,
    IHoldMusic,
    IMediaPort,
    MediaUnavailable,
)


@implementer(IMediaPort)
class FakeMediaPort:
    """
    An L{IMediaPort} bound to a made-up address.

    @ivar started: the remote addresses L{start} was given, in order.
    @ivar closed: whether L{close} was called.
    @ivar txKeys: the keys it was made to send with.
    """

    def __init__(self, local: tuple[str, int], codec: Any, txKeys: Any, label: str) -> None:
        self.local = local
        self.codec = codec
        self.txKeys = txKeys
        self.secure = txKeys is not None
        self.label = label
        self.started: list[tuple[str, int]] = []
        self.closed = False

    def start(self, remote: tuple[str, int]) -> None:
        self.started.append(remote)

    def close(self) -> Deferred[None]:
        self.closed = True
        return succeed(None)

    def snapshot(self) -> Any:
        return None


@implementer(IHoldMusic)
class FakeHoldMusic:
    """
    An L{IHoldMusic} that hands out L{FakeMediaPort}s.

    @ivar secureMode: C{moh-secure}.
    @ivar loaded: what L{available} answers.
    @ivar free: how many more ports L{listen} may bind before it raises
        L{MediaUnavailable} (L{None}: unlimited).
    @ivar ports: every port handed out, in order.
    """

    def __init__(self, secureMode: str = "srtp", *, loaded: bool = True, free: int | None = None) -> None:
        self.secureMode = secureMode
        self.loaded = loaded
        self.free = free
        self.ports: list[FakeMediaPort] = []

    def available(self) -> bool:
        return self.loaded

    def listen(self, codec: Any, txKeys: Any, label: str) -> FakeMediaPort:
        if self.free is not None:
            if self.free <= 0:
                raise MediaUnavailable("no RTP port free in the range")
            self.free -= 1
        port = FakeMediaPort(("127.0.0.1", 20000 + 2 * len(self.ports)), codec, txKeys, label)
        self.ports.append(port)
        return port

    def open(self) -> list[FakeMediaPort]:
        """@return: the ports not closed."""
        return [port for port in self.ports if not port.closed]


@implementer(IConferenceBridge)
class FakeBridge:
    """
    An L{IConferenceBridge} whose legs belong to C{endpoint}.

    @ivar creator: what L{activate} got, or L{None}.
    @ivar reservedBy: what L{FakeBridges.reserve} got.
    @ivar released: whether L{release} was called.
    """

    def __init__(self, pool: FakeBridges, number: int, endpoint: Any) -> None:
        self.pool = pool
        self.number = number
        self.endpoint = endpoint
        self.secure = False
        self.creator: str | None = None
        self.reservedBy: str | None = None
        self.released = False

    @property
    def secure(self) -> bool:
        """Whether the conference is secure; the bridge's endpoint is as secure (as a real bridge's is)."""
        return bool(self.endpoint.secure)

    @secure.setter
    def secure(self, value: bool) -> None:
        self.endpoint.secure = value

    def activate(self, creator: str) -> None:
        self.creator = creator

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pool.bridges.remove(self)


@implementer(IConferenceBridges)
class FakeBridges:
    """
    An L{IConferenceBridges} of at most C{maxConferences} L{FakeBridge}s.

    @ivar bridges: the bridges reserved or active.
    @ivar endpointFactory: makes the endpoint of a new bridge.
    """

    def __init__(self, endpointFactory: Any, maxConferences: int = 8, secureAllowed: bool = True) -> None:
        self.endpointFactory = endpointFactory
        self.maxConferences = maxConferences
        self.secureAllowed = secureAllowed
        self.bridges: list[FakeBridge] = []
        self._numbers = iter(range(1, 1000))

    def reserve(self, creator: str) -> FakeBridge:
        if len(self.bridges) >= self.maxConferences:
            raise ConferenceRefused("max-conferences %d reached" % (self.maxConferences,))
        number = next(self._numbers)
        bridge = FakeBridge(self, number, self.endpointFactory(number))
        bridge.reservedBy = creator
        self.bridges.append(bridge)
        return bridge


__all__ = ["FakeBridge", "FakeBridges", "FakeHoldMusic", "FakeMediaPort"]
