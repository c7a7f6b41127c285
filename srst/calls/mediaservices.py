# -*- test-case-name: tests.test_calls_moh -*-
"""
The router as a media end: music on hold and conference bridges, as the
engine sees them.

The engine (L{srst.calls.engine.CallEngine}) knows no device; the router's
own media (a MoH listener streaming a WAV file, a conference bridge mixing
its participants) is built below the adapters, in L{srst.ports}, and
handed to the engine with L{CallEngine.useMediaServices
<srst.calls.engine.CallEngine.useMediaServices>}.  Without them the engine
behaves as it always has: a tone on hold, Confrn ignored.

  - L{IHoldMusic}: music on hold (IOS C{moh <file>}).  L{IHoldMusic.listen}
    binds one router-terminated stream (L{IMediaPort}) that transmits to a
    held party with the keys the engine made for it.
  - L{IConferenceBridges}: the pool of conference bridges (IOS
    C{max-conferences}).  L{IConferenceBridges.reserve} gives one
    L{IConferenceBridge}, whose L{endpoint <IConferenceBridge.endpoint>}
    owns the bridge's side of each participant's call.
  - L{MediaUnavailable}, L{ConferenceRefused}: why a service said no.
  - L{Music}: the music a held leg hears (its stream and port).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define
from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from srst.calls.media import Codec, MediaStream
    from srst.media.srtp import SrtpKeys
    from srst.media.transport import StreamSnapshot


class MediaUnavailable(RuntimeError):
    """
    No RTP port free, or the MoH file is gone: the engine falls back to a
    tone on hold.
    """


class ConferenceRefused(RuntimeError):
    """
    No conference bridge can be reserved.

    @ivar reason: why, as the operator reads it (C{"max-conferences 8
        reached"}).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IMediaPort(Interface):
    """
    One router-terminated stream: a MoH listener or a conference bridge
    port.
    """

    local = Attribute("The C{(host, port)} the stream is bound to.")
    secure = Attribute("Whether the stream is SRTP.")

    def start(remote: tuple[str, int]) -> None:
        """
        Send to C{remote} from the next pump tick.

        @param remote: the far end's receive address (its ack).
        """

    def close() -> Deferred[None]:
        """
        Stop sending and receiving.

        @return: fires when the RTP port is back in the range.
        """

    def snapshot() -> StreamSnapshot:
        """
        @return: the stream as show commands see it.
        """


class IHoldMusic(Interface):
    """
    Music on hold (IOS C{moh <file>}).
    """

    secureMode = Attribute(
        "C{'srtp'}: a secure held party hears SRTP music with router keys;"
        " C{'tone'}: it hears the tone on hold (C{moh-secure}).")

    def available() -> bool:
        """
        @return: whether the clip is loaded and the file is still readable.
        """

    def listen(codec: Codec, txKeys: SrtpKeys | None, label: str) -> IMediaPort:
        """
        Bind a stream that will play the music.

        @param codec: the held party's codec.
        @param txKeys: the keys to send with (the held party's rx keys), or
            L{None} for clear RTP.
        @param label: the held endpoint, for show commands and logs.
        @return: the bound port; L{IMediaPort.start} starts it.
        @raise MediaUnavailable: no RTP port is free or the clip is gone.
        """


class IConferenceBridge(Interface):
    """
    One conference bridge, reserved from L{IConferenceBridges}.
    """

    number = Attribute("The bridge's number, for C{show conference}.")
    secure = Attribute("Whether the conference is secure (settable before activate).")
    endpoint = Attribute("The L{ICallEndpoint} owning this bridge's legs.")

    def activate(creator: str) -> None:
        """
        The conference starts.

        @param creator: the creator's directory number.
        """

    def release() -> None:
        """
        Close every port and free the slot.
        """


class IConferenceBridges(Interface):
    """
    The conference bridges of the router (IOS C{max-conferences}).
    """

    secureAllowed = Attribute("Whether conferences may be secure (C{conference-secure}).")

    def reserve(creator: str) -> IConferenceBridge:
        """
        Reserve a bridge for a conference being set up.

        @param creator: the creator's directory number, for C{show
            conference} and logs.
        @return: the bridge.
        @raise ConferenceRefused: at C{max-conferences}.
        """


@define
class Music:
    """
    The music a held leg hears.

    @ivar stream: the receive-only stream of the held leg.
    @ivar port: the listener sending to it.
    """

    stream: MediaStream
    port: IMediaPort


__all__ = [
    "ConferenceRefused", "IConferenceBridge", "IConferenceBridges", "IHoldMusic", "IMediaPort",
    "MediaUnavailable", "Music",
]
