# -*- test-case-name: tests.test_ports_moh -*-
"""
What the call engine asks of the router's own media ends: music on hold
(L{IHoldMusic}) and the router-terminated streams it hands out
(L{IMediaPort}).  Interfaces and small value types only.

WP-B's copy of the design's §1.1 contract (design14-out.md), limited to
the interfaces music on hold needs; WP-A's module supersedes it on merge.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class MediaUnavailable(RuntimeError):
    "no RTP port free / MoH file gone: the engine falls back to tone"


class IMediaPort(Interface):
    """One router-terminated stream: MoH listener or bridge port."""

    local = Attribute("(host, port) bound")
    secure = Attribute("SRTP")

    def start(remote: tuple[str, int]) -> None:
        "send to remote from the next pump tick"

    def close() -> object:
        "stop; fires when the RTP port is back in the range"

    def snapshot() -> object:
        "the stream's StreamSnapshot"


class IHoldMusic(Interface):
    """Music on hold."""

    secureMode = Attribute("'srtp' | 'tone' (moh-secure)")

    def available() -> bool:
        "clip loaded and file still readable"

    def listen(codec: object, txKeys: object, label: str) -> IMediaPort:
        "bound; raises MediaUnavailable"


__all__ = ["IHoldMusic", "IMediaPort", "MediaUnavailable"]
