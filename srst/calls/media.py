# -*- test-case-name: tests.test_calls_media -*-
"""
Media negotiation for a two-party call (sccp.md 2.4, 3, 5.4 (e)).

  - L{Codec}: the codecs the engine carries between endpoints (G.711
    u-law and A-law), with their IOS names.  Each adapter maps its
    device's codec ids to and from them (the SCCP compressionType ids, a
    voice port's RTP payload types); a codec a device offers that srst
    cannot carry is a L{ForeignCodec}.
  - L{chooseCodec}: the first codec of the caller's capabilities that the
    other side also has, among those srst can carry; G.711 u-law when a
    side sent no capabilities.
  - L{MediaSession}: one per call.  L{MediaSession.open} describes a
    L{MediaStream} per leg: a fresh passThruPartyId and, for a secure call,
    fresh SRTP master keys per direction.  K_AB (what A sends to B) is A's
    transmit key and B's receive key; K_BA the other way.
    L{MediaSession.ackReceived} records where a leg receives and says which
    other stream may now transmit to it.  L{MediaSession.close} forgets
    the streams (hold, hang-up); a later C{open} makes new keys.

Keys live only in L{srst.media.srtp.SrtpKeys}, whose repr hides them.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, Union

from attrs import define, field, frozen

from srst.media.srtp import SrtpKeys, generateKeys

if TYPE_CHECKING:
    from srst.calls.leg import Leg

PACKET_MS = 20
"""Packetization of every stream, milliseconds."""


class Codec(enum.Enum):
    """
    The codecs srst sets up between endpoints.

    @ivar iosName: the name IOS prints in C{debug ephone state} and C{show
        ephone offhook} (C{G711Ulaw64k}).
    @ivar keyword: the IOS C{codec} keyword, as C{show voice call status}
        prints it (C{g711ulaw}).
    """

    G711_ULAW = ("G711Ulaw64k", "g711ulaw")
    G711_ALAW = ("G711Alaw64k", "g711alaw")

    def __init__(self, iosName: str, keyword: str) -> None:
        self.iosName = iosName
        self.keyword = keyword


@frozen
class ForeignCodec:
    """
    A codec an endpoint offers that srst cannot carry (G.729, ...).

    @ivar name: what the device calls it, for logs (an SCCP phone: the
        compressionType id).
    """

    name: str


OfferedCodec = Union[Codec, ForeignCodec]
"""One entry of an endpoint's capabilities."""

CARRIED_CODECS = tuple(Codec)
"""The codecs srst sets up between endpoints."""

DEFAULT_CODEC = Codec.G711_ULAW
"""The codec used when an endpoint did not say what it supports."""


def _names(codecs: Sequence[OfferedCodec]) -> str:
    return "[%s]" % (", ".join(c.iosName if isinstance(c, Codec) else c.name for c in codecs),)


class NoCommonCodec(ValueError):
    """
    The two endpoints share no codec srst can carry.

    @ivar first: the first endpoint's codecs.
    @ivar second: the second endpoint's codecs.
    """

    def __init__(self, first: Sequence[OfferedCodec], second: Sequence[OfferedCodec]) -> None:
        ValueError.__init__(self, tuple(first), tuple(second))
        self.first = tuple(first)
        self.second = tuple(second)

    def __str__(self) -> str:
        return "no common G.711 codec between %s and %s" % (_names(self.first), _names(self.second))


def chooseCodec(first: Sequence[OfferedCodec], second: Sequence[OfferedCodec]) -> Codec:
    """
    Pick the codec of a call.

    @param first: the codecs of the first (calling) endpoint, preferred
        first; empty when unknown.
    @param second: those of the other endpoint.
    @return: the first codec of C{first} that C{second} has too and srst
        carries; L{DEFAULT_CODEC} when both lists are empty, the first
        carried codec of the other list when one is.
    @raise NoCommonCodec: when both lists are known and share none, or the
        only known list has no codec srst carries.
    """
    if not first or not second:
        known = first or second
        for codec in known:
            if isinstance(codec, Codec):
                return codec
        if known:
            raise NoCommonCodec(first, second)
        return DEFAULT_CODEC
    for codec in first:
        if isinstance(codec, Codec) and codec in second:
            return codec
    raise NoCommonCodec(first, second)


def payloadBytes(codec: Codec, milliseconds: int = PACKET_MS) -> int:
    """
    @return: bytes of G.711 audio per packet (160 for 20 ms).
    """
    return 8 * milliseconds


@define
class MediaStream:
    """
    One leg's media: what it receives and what it sends.

    @ivar leg: the leg.
    @ivar passThruPartyId: the stream id, echoed by the endpoint's ack.
    @ivar codec: the codec.
    @ivar milliseconds: the packetization.
    @ivar rxKeys: the keys the leg decrypts with, or L{None} (clear text).
    @ivar txKeys: the keys the leg encrypts with, or L{None}.
    @ivar address: where the leg receives (host, port), once acknowledged.
    @ivar receiving: whether the receive port was requested.
    @ivar transmitting: whether the leg was told to send.
    @ivar music: whether the router's music on hold is what the leg
        receives (a receive-only stream: no remote, no transmit key).
    """

    leg: "Leg" = field(repr=False)
    passThruPartyId: int
    codec: Codec
    milliseconds: int = PACKET_MS
    rxKeys: SrtpKeys | None = None
    txKeys: SrtpKeys | None = None
    address: tuple[str, int] | None = None
    receiving: bool = False
    transmitting: bool = False
    remote: "MediaStream | None" = field(default=None, repr=False)
    music: bool = False

    @property
    def encrypted(self) -> bool:
        """Whether the stream carries SRTP keys."""
        return self.rxKeys is not None

    @property
    def active(self) -> bool:
        """Whether the endpoint has an open port or sends (needs closing)."""
        return self.receiving or self.transmitting


@define
class MediaSession:
    """
    The media of one two-party call.

    @ivar partyIds: where passThruPartyIds come from.
    @ivar keyFactory: makes SRTP keys (L{generateKeys}).
    @ivar streams: the open streams, by leg.
    @ivar codec: the codec of the last L{open}.
    @ivar secure: whether the last L{open} made keys.
    """

    partyIds: Iterator[int]
    keyFactory: Callable[[], SrtpKeys] = generateKeys
    streams: dict[Leg, MediaStream] = field(factory=dict)
    codec: Codec | None = None
    secure: bool = False

    def open(self, first: Leg, second: Leg, codec: Codec, secure: bool) -> tuple[MediaStream, MediaStream]:
        """
        Describe fresh streams for both legs.

        @param first: a leg (A).
        @param second: the other leg (B).
        @param codec: from L{chooseCodec}.
        @param secure: make keys: K_AB is A's tx and B's rx key, K_BA B's tx
            and A's rx key.
        @return: A's and B's L{MediaStream}.
        """
        forward = self.keyFactory() if secure else None
        backward = self.keyFactory() if secure else None
        a = MediaStream(first, next(self.partyIds), codec, rxKeys=backward, txKeys=forward)
        b = MediaStream(second, next(self.partyIds), codec, rxKeys=forward, txKeys=backward)
        a.remote, b.remote = b, a
        self.streams = {first: a, second: b}
        self.codec = codec
        self.secure = secure
        return a, b

    def streamOf(self, leg: Leg) -> MediaStream | None:
        """@return: the open stream of C{leg}, or L{None}."""
        return self.streams.get(leg)

    def ackReceived(self, leg: Leg, passThruPartyId: int, host: str, port: int) -> MediaStream | None:
        """
        A leg reported its receive address.

        @param leg: the leg.
        @param passThruPartyId: the id it echoed.
        @param host: its RTP address.
        @param port: its RTP port.
        @return: the other leg's stream, which should now transmit to
            C{(host, port)}; L{None} for a stale or unknown ack.
        """
        stream = self.streams.get(leg)
        if stream is None or stream.passThruPartyId != passThruPartyId or not stream.receiving:
            return None
        stream.address = (host, port)
        remote = stream.remote
        if remote is None or self.streams.get(remote.leg) is not remote:
            return None
        return remote

    def close(self) -> list[MediaStream]:
        """
        Forget the streams.

        @return: the streams that were open, to be closed at the endpoints.
        """
        streams = list(self.streams.values())
        self.streams = {}
        return streams


__all__ = [
    "CARRIED_CODECS", "Codec", "DEFAULT_CODEC", "ForeignCodec", "MediaSession", "MediaStream", "NoCommonCodec",
    "OfferedCodec", "PACKET_MS", "chooseCodec", "payloadBytes",
]
