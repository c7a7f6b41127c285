# -*- test-case-name: tests.test_ports_bridge -*-
"""
The media the router terminates for the call engine: music on hold and
conference bridges (design 14 §1.1; WP-A owns this module, this is WP-C's
copy of the contract until it merges).
"""

from __future__ import annotations

from attrs import define
from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

from srst.calls.media import Codec, MediaStream
from srst.media.srtp import SrtpKeys
from srst.media.transport import StreamSnapshot


class MediaUnavailable(RuntimeError):
    "no RTP port free / MoH file gone: the engine falls back to tone"


class ConferenceRefused(RuntimeError):
    "max-conferences reached"

    def __init__(self, reason: str) -> None:
        RuntimeError.__init__(self, reason)
        self.reason = reason  # "max-conferences 8 reached"

    def __str__(self) -> str:
        return self.reason


class IMediaPort(Interface):
    "one router-terminated stream: MoH listener or bridge port"
    local = Attribute("(host, port) bound")
    secure = Attribute("SRTP")

    def start(remote: tuple[str, int]) -> None:
        "send to remote from the next pump tick"

    def close() -> Deferred:
        "stop; fires when the RTP port is back in the range"

    def snapshot() -> StreamSnapshot:
        "the stream's statistics"


class IHoldMusic(Interface):
    secureMode = Attribute("'srtp' | 'tone' (moh-secure)")

    def available() -> bool:
        "clip loaded and file still readable"

    def listen(codec: Codec, txKeys: SrtpKeys | None, label: str) -> IMediaPort:
        "bound; raises MediaUnavailable"


class IConferenceBridge(Interface):
    number = Attribute("for show conference")
    secure = Attribute("settable")
    endpoint = Attribute("the ICallEndpoint owning this bridge's legs")

    def activate(creator: str) -> None:
        "the conference starts"

    def release() -> None:
        "close every port, free the slot"


class IConferenceBridges(Interface):
    secureAllowed = Attribute("conference-secure")

    def reserve(label: str) -> IConferenceBridge:
        "raises ConferenceRefused at max-conferences"


@define
class Music:
    stream: MediaStream
    port: IMediaPort
