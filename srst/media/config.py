# -*- test-case-name: tests.test_media_config -*-
"""
The C{media:} section of router.yaml: where the router's own RTP/SRTP
endpoints live (C{address}, C{rtp-port-range}, C{rtp-unreachable-ms}), and
the grammar of an RTP port range.

Every problem is recorded as a L{srst.configreader.ConfigProblem} naming
its YAML path.
"""

from __future__ import annotations

from attrs import frozen

from srst.configreader import Reader

DEFAULT_PORT_RANGE = "16384-32767"
"""The default C{media.rtp-port-range} (architecture.md)."""

MOH_SECURE_MODES = ("srtp", "tone")
"""
C{call-manager-fallback.moh-secure}: what a held secure phone hears (SRTP
music with keys the router makes, or IOS's tone on hold); here, below both
the SCCP config that reads it and the music on hold that obeys it.
"""


class InvalidPortRange(ValueError):
    """
    An RTP port range is not C{"LOW-HIGH"} with an even port in it.

    @ivar text: the range as given.
    @ivar reason: what is wrong, as one line.
    """

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(text, reason)
        self.text = text
        self.reason = reason

    def __str__(self) -> str:
        return "invalid RTP port range %r: %s" % (self.text, self.reason)


def parsePortRange(text: str) -> tuple[int, int]:
    """
    Parse an RTP port range such as C{"16384-32767"}.

    @param text: C{"LOW-HIGH"}, 1024 <= LOW <= HIGH <= 65535.
    @return: C{(low, high)}, both inclusive.
    @raise InvalidPortRange: when malformed, out of bounds, or holding no
        even port.
    """
    if not isinstance(text, str):
        raise InvalidPortRange(repr(text), "not text")
    parts = text.strip().split("-")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InvalidPortRange(text, "expected LOW-HIGH")
    low, high = int(parts[0]), int(parts[1])
    if not 1024 <= low <= high <= 65535:
        raise InvalidPortRange(text, "need 1024 <= LOW <= HIGH <= 65535")
    if low % 2 and low == high:
        raise InvalidPortRange(text, "no even port in the range")
    return low, high


@frozen
class MediaConfig:
    """
    The C{media:} section: the router's own RTP/SRTP endpoints.

    @ivar address: the IP address RTP sockets bind to.
    @ivar rtpPortRange: C{"LOW-HIGH"}, valid for L{parsePortRange}.
    @ivar unreachableMs: how long an RTP peer may stay unreachable (ICMP port
        unreachable with no RTP arriving) before the call is torn down,
        milliseconds; L{None} disables the check.
    """

    address: str = "127.0.0.1"
    rtpPortRange: str = DEFAULT_PORT_RANGE
    unreachableMs: int | None = 1000


def readMedia(reader: Reader) -> MediaConfig:
    """
    Read the C{media:} mapping (all defaults when absent).
    """
    address = reader.address("address", "127.0.0.1")
    portRange = reader.string("rtp-port-range", DEFAULT_PORT_RANGE)
    if portRange is not None:
        try:
            parsePortRange(portRange)
        except InvalidPortRange as e:
            reader.problem("rtp-port-range", portRange, e.reason + " (e.g. 16384-32767)")
            portRange = None
    unreachable: int | None = 1000
    if reader.has("rtp-unreachable-ms") and reader.raw("rtp-unreachable-ms") is None:
        unreachable = None
    else:
        unreachable = reader.integer("rtp-unreachable-ms", 1000, 100, 60000)
        if unreachable is None:
            unreachable = 1000
    reader.finish()
    return MediaConfig(address or "127.0.0.1", portRange or DEFAULT_PORT_RANGE, unreachable)


__all__ = ["DEFAULT_PORT_RANGE", "InvalidPortRange", "MOH_SECURE_MODES", "MediaConfig", "parsePortRange", "readMedia"]
