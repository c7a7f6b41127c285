# -*- test-case-name: tests.test_ports_config -*-
"""
The C{voice-ports:} and C{dial-peers:} sections of router.yaml.

C{voice-ports:} maps IOS voice-port names (C{slot/subunit/port}, e.g.
C{1/0/0}) to C{{signal: fxs-loop-start | fxo-loop-start, timing:
{hookflash-out-ms: N}, description: text, station-id: {number: digits,
name: text}, connection: {plar: digits}}}.  C{dial-peers:} is a list of
C{dial-peer voice TAG pots} entries whose C{port} must name a configured
voice port; each becomes a L{DialPeer}, the value the dial plan
(L{srst.calls.dialplan.DialPlan}) routes with.  Every problem is recorded
as a L{ConfigProblem} naming its YAML path; nothing stops at the first one.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Literal

from attrs import field, frozen

from srst.calls.dialplan import (
    EXACT_CHARACTERS,
    MAX_PREFERENCE,
    MIN_PREFERENCE,
    DialPatternError,
    parseDestinationPattern,
)
from srst.configreader import ConfigProblem, Reader

_PORT_NAME = re.compile(r"^[0-9]{1,3}/[0-9]{1,3}/[0-9]{1,3}$")
_DIGITS = re.compile(r"^[0-9*#]{1,32}$")
_DIGITS_ALLOWED = "expected 1 to 32 digits (0-9, * and #)"

MIN_HOOKFLASH_OUT_MS = 50
"""The shortest C{timing hookflash-out} IOS accepts."""

MAX_HOOKFLASH_OUT_MS = 1550
"""The longest C{timing hookflash-out} IOS accepts."""

DEFAULT_HOOKFLASH_OUT_MS = 400
"""IOS's default C{timing hookflash-out}."""


class Signal(enum.Enum):
    """
    The C{signal} of an analog voice port, with its C{show voice port
    summary} abbreviation.
    """

    FXS_LOOP_START = ("fxs-loop-start", "fxs-ls")
    FXO_LOOP_START = ("fxo-loop-start", "fxo-ls")

    def __init__(self, configName: str, short: str) -> None:
        self.configName = configName
        self.short = short

    @property
    def isFxs(self) -> bool:
        """Whether the port faces a telephone (it gives dial tone and rings)."""
        return self is Signal.FXS_LOOP_START


_SIGNALS = {signal.configName: signal for signal in Signal}


@frozen
class VoicePortConfig:
    """
    One C{voice-port}.

    @ivar name: the IOS name, C{slot/subunit/port}.
    @ivar signal: the L{Signal}.
    @ivar hookflashOutMs: C{timing hookflash-out}, milliseconds.
    @ivar description: the C{description}, or L{None}.
    @ivar stationIdNumber: C{station-id number}: the calling number the port
        presents, or L{None}.
    @ivar stationIdName: C{station-id name}: the calling name the port
        presents, or L{None}.
    @ivar plarNumber: C{connection plar}: the number called as soon as the
        port goes off-hook (FXS) or rings (FXO), or L{None}.
    """

    name: str
    signal: Signal = Signal.FXS_LOOP_START
    hookflashOutMs: int = DEFAULT_HOOKFLASH_OUT_MS
    description: str | None = None
    stationIdNumber: str | None = None
    stationIdName: str | None = None
    plarNumber: str | None = None


class DialPeerError(ValueError):
    """
    A dial-peer setting other than the pattern is invalid.

    @ivar tag: the dial-peer's tag.
    @ivar reason: what is wrong.
    """

    def __init__(self, tag: object, reason: str) -> None:
        super().__init__(tag, reason)
        self.tag = tag
        self.reason = reason

    def __str__(self) -> str:
        return f"bad dial-peer {self.tag!r}: {self.reason}"


def _checkPattern(instance: object, attribute: object, value: str | None) -> None:
    if value is not None:
        parseDestinationPattern(value)


def _checkTag(instance: object, attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DialPeerError(value, "the tag must be a positive integer")


def _checkType(instance: DialPeer, attribute: object, value: str) -> None:
    if value != "pots":
        raise DialPeerError(instance.tag, f"type {value!r} is not supported (only 'pots')")


def _checkForwardDigits(instance: DialPeer, attribute: object, value: object) -> None:
    if value is None or value == "all":
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DialPeerError(instance.tag, f"forward-digits {value!r} is not 'all' or a count >= 0")


def _checkPrefix(instance: DialPeer, attribute: object, value: str) -> None:
    if not isinstance(value, str) or not set(value) <= EXACT_CHARACTERS | {","}:
        raise DialPeerError(instance.tag, f"prefix {value!r} may only hold digits, '*', '#' and ','")


def _checkPreference(instance: DialPeer, attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            MIN_PREFERENCE <= value <= MAX_PREFERENCE):
        raise DialPeerError(
            instance.tag, f"preference {value!r} is not in {MIN_PREFERENCE}..{MAX_PREFERENCE}")


@frozen
class DialPeer:
    """
    One C{dial-peer voice TAG pots}, checked on construction.  The dial plan
    (L{srst.calls.dialplan.DialPlan}) matches and forwards with it.

    @ivar tag: the dial-peer tag.
    @ivar type: always C{"pots"}.
    @ivar destinationPattern: the C{destination-pattern}, or L{None}: a
        peer without one never matches dialled digits.
    @ivar port: the C{port} (an IOS voice-port name such as C{"1/0/0"}).
    @ivar forwardDigits: C{forward-digits}: L{None} (the POTS default:
        strip the leading exactly matched digits, forward the rest),
        C{"all"}, or a count N (forward the last N digits).
    @ivar prefix: the C{prefix} put before the forwarded digits.
    @ivar preference: C{preference} 0..10, lower preferred.
    @ivar application: the C{application}, e.g. C{"mgcpapp"}.
    """

    tag: int = field(validator=_checkTag)
    type: str = field(default="pots", validator=_checkType)
    destinationPattern: str | None = field(default=None, validator=_checkPattern)
    port: str | None = None
    forwardDigits: Literal["all"] | int | None = field(default=None, validator=_checkForwardDigits)
    prefix: str = field(default="", validator=_checkPrefix)
    preference: int = field(default=0, validator=_checkPreference)
    application: str | None = None


def _digits(reader: Reader, key: str) -> str | None:
    value = reader.string(key)
    if value is not None and not _DIGITS.match(value):
        reader.problem(key, value, _DIGITS_ALLOWED)
        return None
    return value


def readVoicePorts(reader: Reader) -> tuple[VoicePortConfig, ...]:
    """
    Read the C{voice-ports:} mapping.

    @param reader: a L{Reader} on the mapping (empty when absent).
    @return: the valid ports, in configuration order.
    """
    ports: list[VoicePortConfig] = []
    seen: set[str] = set()
    for key in reader.keys():
        name = str(key)
        if not _PORT_NAME.match(name):
            reader.problem(name, key, "expected an IOS voice-port name slot/subunit/port such as 1/0/0")
            continue
        port = Reader(reader.raw(key), reader.sub(name), reader.problems)
        canonical = "/".join(str(int(part)) for part in name.split("/"))
        if canonical in seen:
            reader.problem(name, key, f"duplicate voice port: {canonical} is configured twice")
            continue
        seen.add(canonical)
        name = canonical
        signalName = port.string("signal", required=True, choices=list(_SIGNALS))
        timing = port.child("timing")
        hookflash = timing.integer("hookflash-out-ms", DEFAULT_HOOKFLASH_OUT_MS,
                                   MIN_HOOKFLASH_OUT_MS, MAX_HOOKFLASH_OUT_MS)
        timing.finish()
        description = port.string("description")
        stationId = port.child("station-id")
        stationNumber = _digits(stationId, "number")
        stationName = stationId.string("name")
        stationId.finish()
        connection = port.child("connection")
        plar = _digits(connection, "plar")
        connection.finish()
        port.finish()
        if signalName is None:
            continue
        ports.append(VoicePortConfig(name, _SIGNALS[signalName],
                                     hookflash if hookflash is not None else DEFAULT_HOOKFLASH_OUT_MS,
                                     description, stationNumber, stationName, plar))
    return tuple(ports)


def _forwardDigits(peer: Reader) -> Any:
    value = peer.raw("forward-digits")
    if value is None or value == "all":
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 32:
        return value
    peer.problem("forward-digits", value, "expected all or a digit count from 0 to 32")
    return None


def readDialPeers(root: Reader, key: str,
                  ports: tuple[VoicePortConfig, ...]) -> tuple[DialPeer, ...]:
    """
    Read the C{dial-peers:} list.

    @param root: the L{Reader} holding the list.
    @param key: the list's key (C{"dial-peers"}).
    @param ports: the configured voice ports, which C{port} must name.
    @return: the valid peers, in configuration order.
    """
    portNames = {port.name for port in ports}
    tags: set[int] = set()

    def item(value: Any, path: str) -> DialPeer | None:
        peer = Reader(value, path, root.problems)
        if not isinstance(value, dict):
            return None
        tag = peer.integer("tag", required=True, minimum=1, maximum=2147483647)
        peer.string("type", "pots", choices=["pots"])
        pattern = peer.string("destination-pattern")
        if pattern is not None:
            try:
                parseDestinationPattern(pattern)
            except DialPatternError as e:
                peer.problem("destination-pattern", pattern, str(e))
                pattern = None
        port = peer.string("port", required=True)
        if port is not None and _PORT_NAME.match(port):
            port = "/".join(str(int(part)) for part in port.split("/"))
        if port is not None and port not in portNames:
            peer.problem("port", port, "expected the name of a voice port under voice-ports")
            port = None
        forward = _forwardDigits(peer)
        prefix = peer.string("prefix", "", allowEmpty=True)
        if prefix and not re.match(r"^[0-9*#,]+$", prefix):
            peer.problem("prefix", prefix, "expected digits, '*', '#' and ','")
            prefix = ""
        preference = peer.integer("preference", 0, MIN_PREFERENCE, MAX_PREFERENCE)
        application = peer.string("application")
        peer.finish()
        if tag is not None:
            if tag in tags:
                peer.problem("tag", tag, "duplicate dial-peer tag; every dial-peer needs its own")
                return None
            tags.add(tag)
        if tag is None or port is None:
            return None
        try:
            return DialPeer(tag=tag, destinationPattern=pattern, port=port, forwardDigits=forward,
                            prefix=prefix or "", preference=preference if preference is not None else 0,
                            application=application)
        except DialPeerError as e:
            root.problems.append(ConfigProblem(path, value, str(e)))
            return None

    return tuple(root.listOf(key, item))


__all__ = ["DEFAULT_HOOKFLASH_OUT_MS", "DialPeer", "DialPeerError", "MAX_HOOKFLASH_OUT_MS",
           "MIN_HOOKFLASH_OUT_MS", "Signal", "VoicePortConfig", "readDialPeers", "readVoicePorts"]
