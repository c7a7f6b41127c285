# -*- test-case-name: tests.test_ports_farmcommands -*-
"""
Operator commands for the media the router terminates for itself: music
on hold and the conference bridges.

C{show voice dsp} prints IOS's columns, one row per router-terminated
channel (a music-on-hold listener, the multicast-moh stream, a bridge
port); the DSP type is C{SRST}, the firmware C{1.0}, and C{TX/RX PACK
COUNT} the channel's RTP packets sent and received::

    DSP   DSP             DSPWARE CURR  BOOT                         PAK     TX/RX
    TYPE  NUM CH CODEC    VERSION STATE STATE   RST AI VOICEPORT   TS ABORT PACK COUNT
    ===== === == ======== ======= ===== ======= === == =========== == ===== ============
    SRST  001 01 g711ulaw   1.0   busy  idle      0  0 moh          0     0 1502/0
    SRST  002 01 g711alaw   1.0   busy  idle      0  0 conf/1.1     0     0 750/748

(C{moh} for a held party's music, C{moh-mcast} for the multicast stream,
C{conf/<bridge>.<participant>} for a bridge port: the name C{show voice
call status} gives the bridge's leg.)

C{show conference} is srst's own, in the style of CME's C{show ephone-dn
conference}: the pool, then per bridge its number, security, creator and
age, and per participant its DN, the bridge's local port, codec, packets
sent and received, packets lost (RFC 3550), mix underruns and the packets
dropped at the port (SRTP authentication, replays, foreign sources,
malformed)::

    Conferences 1 of max 8 (reserved 0)
    Conference 1 secure, created by 2001, up 00:01:05
      DN       PORT  CODEC    TX     RX     LOST  UNDERRUN AUTH REPLAY SOURCE MALFORMED
      2001     16390 g711ulaw 3250   3249   0     2        0    0      0      0

Both answer C{--json} with the same facts.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from srst.admin.commands import CommandResult, CommandTable
from srst.calls.leg import Leg
from srst.calls.media import Codec
from srst.media.transport import StreamSnapshot
from srst.ports.bridge import BridgePool, BridgePort, ConferenceBridge
from srst.ports.g711 import G711Law
from srst.ports.moh import MohSource

DSP_HEADER = (
    "DSP   DSP             DSPWARE CURR  BOOT                         PAK     TX/RX",
    "TYPE  NUM CH CODEC    VERSION STATE STATE   RST AI VOICEPORT   TS ABORT PACK COUNT",
    "===== === == ======== ======= ===== ======= === == =========== == ===== ============",
)

CONFERENCE_COLUMNS = "  DN       PORT  CODEC    TX     RX     LOST  UNDERRUN AUTH REPLAY SOURCE MALFORMED"

_CODECS = {Codec.G711_ULAW: "g711ulaw", Codec.G711_ALAW: "g711alaw"}
_LAW_CODECS = {G711Law.ULAW: "g711ulaw", G711Law.ALAW: "g711alaw"}


class Legs(Protocol):
    """What the commands ask the call engine (L{srst.calls.engine.CallEngine})."""

    def legsOf(self, endpoint: Any) -> list[Leg]:
        "The endpoint's legs."


def _dspRow(number: int, codec: str, voicePort: str, snapshot: StreamSnapshot) -> tuple[str, dict[str, Any]]:
    tx, rx = snapshot.send.packets, snapshot.receive.packets
    text = "%-5s %03d %02d %-8s %s %-5s %-7s %3d %2d %-11s %2d %5d %d/%d" % (
        "SRST", number, 1, codec, "  1.0  ", "busy", "idle", 0, 0, voicePort, 0, 0, tx, rx)
    return text, {"type": "SRST", "number": number, "channel": 1, "codec": codec, "voicePort": voicePort,
                  "localPort": snapshot.localPort, "secure": snapshot.secure, "txPackets": tx, "rxPackets": rx}


def _participants(bridge: ConferenceBridge, legs: Legs) -> list[tuple[str, BridgePort]]:
    """@return: C{(DN, port)} of each participant with a port, by place on the bridge."""
    dns: dict[int, str] = {}
    for leg in legs.legsOf(bridge.endpoint):
        call = leg.call
        if call is not None:
            dns[leg.line.instance] = call.other(leg).line.number
    return [(dns.get(index, ""), bridge.ports[index]) for index in sorted(bridge.ports)]


def dspChannels(moh: MohSource | None, pool: BridgePool) -> list[tuple[str, str, StreamSnapshot]]:
    """
    The router-terminated media channels of the media farm, as C{show voice
    dsp} lists them (and C{/metrics} counts them): each music-on-hold
    listener, then every conference bridge port.

    @return: C{(codec, voice-port name, stream snapshot)} per channel.
    """
    rows: list[tuple[str, str, StreamSnapshot]] = []
    if moh is not None:
        for row in moh.rows():
            name = "moh-mcast" if row.label.startswith("multicast ") else "moh"
            rows.append((_CODECS[row.codec], name, row.snapshot))
    for bridge in pool.conferences():
        for index in sorted(bridge.ports):
            port = bridge.ports[index]
            rows.append((_LAW_CODECS[port.law], "conf/%d.%d" % (bridge.number, index), port.snapshot()))
    return rows


def renderDsp(moh: MohSource | None, pool: BridgePool) -> CommandResult:
    """
    C{show voice dsp}: the music-on-hold channels, then every bridge port.
    """
    rows = dspChannels(moh, pool)
    lines = list(DSP_HEADER)
    data = []
    for number, (codec, voicePort, snapshot) in enumerate(rows, 1):
        text, facts = _dspRow(number, codec, voicePort, snapshot)
        lines.append(text)
        data.append(facts)
    return CommandResult("\n".join(lines), data)


def _age(seconds: float) -> str:
    whole = max(0, int(seconds))
    return "%02d:%02d:%02d" % (whole // 3600, whole % 3600 // 60, whole % 60)


def renderConferences(pool: BridgePool, legs: Legs) -> CommandResult:
    """
    C{show conference}: the pool's use, then each bridge and its
    participants.
    """
    bridges = pool.conferences()
    active = [bridge for bridge in bridges if bridge.activated is not None]
    lines = ["Conferences %d of max %d (reserved %d)" % (len(active), pool.maxConferences, pool.reserved)]
    if pool.refusals:
        lines.append("Refused %d (max-conferences reached)" % (pool.refusals,))
    data: dict[str, Any] = {"active": len(active), "max": pool.maxConferences, "reserved": pool.reserved,
                            "refused": pool.refusals, "conferences": []}
    now = pool.resources.pump.clock.seconds()
    for bridge in bridges:
        if bridge.activated is None:
            lines.append("Conference %d reserved by %s" % (bridge.number, bridge.reservedBy))
            data["conferences"].append({"number": bridge.number, "reservedBy": bridge.reservedBy, "active": False,
                                        "participants": []})
            continue
        kind = "secure" if bridge.secure else "clear"
        age = now - bridge.activated
        lines.append("Conference %d %s, created by %s, up %s" % (bridge.number, kind, bridge.creator, _age(age)))
        lines.append(CONFERENCE_COLUMNS)
        participants = []
        for dn, port in _participants(bridge, legs):
            snapshot = port.snapshot()
            counters = snapshot.counters
            codec = _LAW_CODECS[port.law]
            lines.append("  %-8s %-5s %-8s %-6d %-6d %-5d %-8d %-4d %-6d %-6d %d" % (
                dn, snapshot.localPort, codec, snapshot.send.packets, snapshot.receive.packets,
                snapshot.receive.lost, port.slot.underruns, counters.authFailures, counters.replays,
                counters.wrongSource, counters.malformed))
            participants.append({
                "dn": dn, "place": port.index, "localPort": snapshot.localPort, "codec": codec,
                "secure": snapshot.secure, "txPackets": snapshot.send.packets,
                "rxPackets": snapshot.receive.packets, "lost": snapshot.receive.lost,
                "underruns": port.slot.underruns, "overruns": port.slot.overruns,
                "dropped": {"auth": counters.authFailures, "replay": counters.replays,
                            "source": counters.wrongSource, "malformed": counters.malformed}})
        data["conferences"].append({"number": bridge.number, "active": True, "secure": bridge.secure,
                                    "creator": bridge.creator, "ageSeconds": round(age, 3),
                                    "frames": bridge.frames, "participants": participants})
    return CommandResult("\n".join(lines), data)


def registerMediaFarmCommands(table: CommandTable, moh: MohSource | None, pool: BridgePool, legs: Legs) -> None:
    """
    Register C{show voice dsp} and C{show conference}.

    @param table: the router's command table.
    @param moh: the music on hold, or L{None} without C{moh}.
    @param pool: the conference bridges.
    @param legs: the call engine (whose legs name each participant's DN).
    """
    table.add("show voice dsp", lambda: renderDsp(moh, pool),
              help="router-terminated media channels: music on hold, conference bridge ports")
    table.add("show conference", lambda: renderConferences(pool, legs),
              help="conference bridges, their participants, packets and loss")


__all__: Sequence[str] = ["CONFERENCE_COLUMNS", "DSP_HEADER", "dspChannels", "registerMediaFarmCommands",
                          "renderConferences",
                          "renderDsp"]
