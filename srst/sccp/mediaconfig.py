# -*- test-case-name: tests.test_sccp_mediaconfig -*-
"""
The media-service keys of C{call-manager-fallback:}: music on hold and
conference bridges.

  - C{moh} (IOS C{moh <file>}): the WAV file held parties hear; absent, they
    hear the tone on hold.  Only its shape is read here: whether the file is
    a readable 8 kHz mono WAV is checked by the service's preflight.
  - C{moh-secure}: C{srtp} (a held secure phone hears SRTP music with keys
    the router makes) or C{tone} (IOS: a secure phone gets the tone on hold).
  - C{multicast-moh} (IOS C{multicast moh <ip> port <n>}): the router also
    sends the music to a multicast group.
  - C{max-conferences} (IOS C{max-conferences}): 0 turns conferencing off.
  - C{conference-secure}: C{false} is IOS (conferences are always clear).

This is a config module: it imports only L{srst.configreader} and other config
modules (L{srst.media.config} for C{MOH_SECURE_MODES}).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from attrs import frozen

from srst.configreader import Reader
from srst.media.config import MOH_SECURE_MODES

DEFAULT_MAX_CONFERENCES = 8
"""IOS C{max-conferences} default."""

MAX_CONFERENCES = 64
"""The most C{max-conferences} may be."""

DEFAULT_MULTICAST_TTL = 1
"""C{multicast-moh.ttl}: the music stays on the branch's own segment."""

_MULTICAST = ipaddress.IPv4Network("224.0.0.0/4")
_LINK_LOCAL_MULTICAST = ipaddress.IPv4Network("224.0.0.0/24")


@frozen
class MulticastMoh:
    """
    C{multicast-moh}: where the router also sends the music.

    @ivar address: the IPv4 group (224.0.0.0/4, outside 224.0.0.0/24).
    @ivar port: an even UDP port (RTP).
    @ivar ttl: the datagrams' multicast TTL (0 keeps them on the host).
    """

    address: str
    port: int
    ttl: int = DEFAULT_MULTICAST_TTL


@frozen
class MohConfig:
    """
    Music on hold.

    @ivar path: C{moh}: the WAV file, or L{None} for the tone on hold.
    @ivar secureMode: C{moh-secure}: C{"srtp"} or C{"tone"}.
    @ivar multicast: C{multicast-moh}, or L{None}.
    """

    path: str | None = None
    secureMode: str = "srtp"
    multicast: MulticastMoh | None = None


@frozen
class ConferenceConfig:
    """
    Conference bridges.

    @ivar maxConferences: C{max-conferences}: bridges in use at once (0:
        Confrn is refused).
    @ivar secure: C{conference-secure}: whether a conference of secure
        phones is SRTP.
    """

    maxConferences: int = DEFAULT_MAX_CONFERENCES
    secure: bool = True


def readMohAndConference(c: Reader) -> tuple[MohConfig, ConferenceConfig]:
    """
    Read the music-on-hold and conference keys of C{call-manager-fallback}.

    @param c: the C{call-manager-fallback} mapping; problems go on its list,
        each named by its YAML path.
    @return: the two configurations (defaults where a value is wrong).
    """
    path = _mohPath(c)
    secureMode = c.string("moh-secure", "srtp", choices=MOH_SECURE_MODES, allowEmpty=True,
                          allowed="expected srtp or tone", numbers=False)
    multicast = _multicastMoh(c, path)
    maxConferences = c.integer("max-conferences", DEFAULT_MAX_CONFERENCES, 0, MAX_CONFERENCES,
                               allowed=f"expected a number of conferences from 0 to {MAX_CONFERENCES}")
    secure = c.boolean("conference-secure", True)
    moh = MohConfig(path=path, secureMode=secureMode, multicast=multicast)
    return moh, ConferenceConfig(maxConferences=maxConferences, secure=secure)


def _mohPath(c: Reader) -> str | None:
    value = c.raw("moh")
    if value is None and not c.has("moh"):
        return None
    if not isinstance(value, str) or not value.strip():
        c.problem("moh", value, "expected a WAV file path")
        return None
    return value


def _multicastMoh(c: Reader, mohPath: str | None) -> MulticastMoh | None:
    if not c.has("multicast-moh"):
        return None
    raw = c.raw("multicast-moh")
    if not isinstance(raw, dict):
        c.problem("multicast-moh", raw, "expected a mapping such as {address: 239.1.1.1, port: 16384}")
        return None
    if mohPath is None and not c.has("moh"):
        c.problem("multicast-moh", raw, "multicast-moh needs moh: (the file the router streams)")
    m = c.child("multicast-moh")
    address = _groupAddress(m)
    port = m.required("port", _evenPort, "expected an even UDP port from 1024 to 65534")
    ttl = m.integer("ttl", DEFAULT_MULTICAST_TTL, 0, 255, allowed="expected a TTL from 0 to 255")
    m.finish()
    if address is None or port is None or mohPath is None:
        return None
    return MulticastMoh(address, port, ttl)


def _groupAddress(m: Reader) -> str | None:
    return m.required("address", _group, "expected an IPv4 multicast address outside 224.0.0.0/24")


def _group(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        return None
    if address not in _MULTICAST or address in _LINK_LOCAL_MULTICAST:
        return None
    return str(address)


def _evenPort(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value % 2 or not 1024 <= value <= 65534:
        return None
    return value


__all__ = [
    "ConferenceConfig", "DEFAULT_MAX_CONFERENCES", "DEFAULT_MULTICAST_TTL", "MAX_CONFERENCES", "MOH_SECURE_MODES",
    "MohConfig", "MulticastMoh", "readMohAndConference",
]
