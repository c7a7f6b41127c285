# -*- test-case-name: tests.test_calls_commands -*-
"""
The call operator commands: C{show ephone offhook} and C{show voice call
status}, in the format of the seed's samples
(secure-srst-configuration-example, steps 2 and 3 of "Verify").

C{show ephone offhook} prints, for every registered phone that is off hook,
its C{show ephone} record (L{srst.sccp.commands.renderEphone}: header lines
and line buttons with their channel states, C{CONNECTED} and so on), then
four lines for each of its calls that is connected or on hold::

    Active Secure Call on DN 14 chan 1 :2002 10.1.1.40 29632 to 10.1.1.40 25616 via 10.1.1.40
    G711Ulaw64k 160 bytes no vad
    Tx Pkts 0 bytes 0 Rx Pkts 0 bytes 0 Lost 0
    Jitter 0 Latency 0 callingDn 22 calledDn -1

  - C{Active Secure Call} when the call's media is SRTP, C{Active Call}
    for clear text.
  - C{DN <tag> chan 1 :<number>}: the phone's C{ephone-dn} tag and number.
  - Then where this phone receives media (the address of its
    OpenReceiveChannelAck), C{to} where the other phone receives, C{via}
    the other phone's media address.  An address that is not known (not
    yet acknowledged, or media closed while the call is on hold) prints as
    C{0.0.0.0 0}.
  - The codec and the bytes of audio per packet (srst never asks for voice
    activity detection: C{no vad}).
  - The packet counters, jitter and latency.  Phones send their media to
    each other, not through the router, so for a call between phones srst
    does not see it and prints 0.  For a call to a voice port the router
    terminates the media itself and prints its stream's statistics from
    the phone's side (L{routerMediaCounters}): Tx what the router
    received from the phone, Rx what it sent, Lost and Jitter (ms) of the
    phone's stream as the router measured them (RFC 3550).
  - C{callingDn}: the caller's C{ephone-dn} tag on the called phone, -1 on
    the calling one; C{calledDn} the other way round.

As for C{show ephone}, each line is printed whole (the seed's breaks come
from an 80-column terminal) and without trailing spaces.

C{show voice call status} prints one row per call leg (the calling leg
first, then the called one) under the seed's header::

    CallID CID ccVdb Port DSP/Ch Called # Codec Dial-peers
    0x1167 2C04 0x8610EC7C 50/0/22.0 2002 g711ulaw 20022/20014
    0x1169 2C04 0x860B8894 50/0/14.0 *2002 g711ulaw 20014/20022
    1 active calls found

  - C{CallID}: the leg's number in hex (L{CALL_ID_BASE} plus the leg's
    SCCP call reference).
  - C{CID}: the call's number in hex (L{CID_BASE} plus the engine's call
    number), the same on both legs.
  - C{ccVdb}: IOS prints the address of its call-control block; srst has
    none and prints a stable pseudo-address derived from the call
    reference (L{CCVDB_BASE}).
  - C{Port}: what the leg's endpoint calls its line
    (L{ICallEndpoint.voicePortName}): for a phone
    C{50/0/<ephone-dn tag>.<channel index>}, the channel index counting
    from 0 as in the seed (C{chan 1} is C{.0}); for a voice port its name.
  - C{DSP/Ch}: empty, phone-to-phone calls use no DSP.
  - C{Called #}: on the calling leg the number dialled, on the called leg
    C{*} and the number of the line that rings (they differ when the call
    was forwarded).
  - C{Codec}: C{g711ulaw} or C{g711alaw}; C{None} while the call rings
    (no codec chosen yet).
  - C{Dial-peers}: C{<own>/<other>}, the dial-peer tags of the two legs'
    lines (L{ICallEndpoint.dialPeerTag}): for a phone the peer IOS creates
    for the ephone-dn (C{20014} for DN 14), for a voice port its POTS peer.

The closing line counts calls (two legs each): C{N active calls found},
or C{No active calls found} when there is none.

Both commands answer C{--json} with the same facts.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from srst.admin.commands import CommandResult, CommandTable
from srst.calls.call import Call
from srst.calls.engine import CallEngine
from srst.calls.interfaces import ICallEndpoint
from srst.calls.leg import Leg, LegStatus
from srst.calls.media import DEFAULT_CODEC, PACKET_MS, Codec, MediaStream, payloadBytes
from srst.sccp.commands import ephoneData, renderEphone
from srst.sccp.registry import Ephone, EphoneRegistry

CALL_ID_BASE = 0x1100
"""Added to a leg's call reference to give its C{CallID}."""

CID_BASE = 0x2C00
"""Added to the engine's call number to give the C{CID}."""

CCVDB_BASE = 0x86000000
"""The base of the pseudo C{ccVdb} addresses."""

UNKNOWN_ADDRESS = ("0.0.0.0", 0)
"""What C{show ephone offhook} prints for a media address not known."""

VOICE_CALL_HEADER = "CallID CID ccVdb Port DSP/Ch Called # Codec Dial-peers"
"""The header of C{show voice call status} (seed)."""

NO_ACTIVE_CALLS = "No active calls found"
"""C{show voice call status} when there is no call."""

SHOWN_STATUSES = frozenset((LegStatus.CONNECTED, LegStatus.HELD))
"""The leg states C{show ephone offhook} prints an C{Active Call} block for."""



@frozen
class MediaCounters:
    """
    The media statistics of one leg, as far as the router knows them.

    @ivar txPackets: packets the phone sent.
    @ivar txBytes: bytes it sent.
    @ivar rxPackets: packets it received.
    @ivar rxBytes: bytes it received.
    @ivar lost: packets lost.
    @ivar jitter: jitter, milliseconds.
    @ivar latency: latency, milliseconds.
    """

    txPackets: int = 0
    txBytes: int = 0
    rxPackets: int = 0
    rxBytes: int = 0
    lost: int = 0
    jitter: int = 0
    latency: int = 0


def routerMediaCounters(endpoint: ICallEndpoint) -> MediaCounters | None:
    """
    The counters of a call whose far end is terminated on the router (a
    voice port), from the phone's point of view: what the router received
    is what the phone sent, and the other way round; loss and jitter as
    the router measured the phone's stream.

    @param endpoint: the far end's endpoint.
    @return: the counters, or L{None} when the router does not terminate
        that endpoint's media (another phone) or it has no stream open.
    """
    snapshot = endpoint.mediaSnapshot()
    if snapshot is None:
        return None
    received, sent = snapshot.receive, snapshot.send
    return MediaCounters(txPackets=received.packets, txBytes=received.octets, rxPackets=sent.packets,
                         rxBytes=sent.octets, lost=received.lost, jitter=int(round(received.jitterMs)))


def _ephoneOf(leg: Leg) -> Ephone | None:
    """@return: the registry record of the leg's phone, or L{None}."""
    return getattr(leg.endpoint, "ephone", None)


def _address(stream: MediaStream | None) -> tuple[str, int]:
    if stream is None or stream.address is None:
        return UNKNOWN_ADDRESS
    return stream.address


@frozen
class ActiveCall:
    """
    What C{show ephone offhook} says about one leg of a connected (or held)
    call.

    @ivar secure: whether the media is SRTP.
    @ivar dnTag: the leg's C{ephone-dn} tag.
    @ivar channel: the line channel (1).
    @ivar number: the leg's directory number.
    @ivar local: where this phone receives media (host, port).
    @ivar remote: where the other phone receives media.
    @ivar via: the other phone's media host.
    @ivar codec: the call's codec.
    @ivar packetBytes: bytes of audio per packet.
    @ivar counters: the L{MediaCounters}.
    @ivar callingDn: the caller's tag on the called side, else -1.
    @ivar calledDn: the called tag on the calling side, else -1.
    @ivar state: the leg's channel state (C{CONNECTED}, C{HOLD}).
    """

    secure: bool
    dnTag: int
    channel: int
    number: str
    local: tuple[str, int]
    remote: tuple[str, int]
    via: str
    codec: Codec
    packetBytes: int
    counters: MediaCounters
    callingDn: int
    calledDn: int
    state: str

    @classmethod
    def fromLeg(cls, leg: Leg, call: Call) -> "ActiveCall":
        """
        @param leg: a leg of C{call}.
        @param call: the call.
        @return: the leg's facts.
        """
        other = call.other(leg)
        own, remote = call.media.streamOf(leg), call.media.streamOf(other)
        codec = (own.codec if own is not None else call.media.codec) or DEFAULT_CODEC
        milliseconds = own.milliseconds if own is not None else PACKET_MS
        remoteAddress = _address(remote)
        tag = other.line.tag
        return cls(
            secure=bool(call.secure), dnTag=leg.line.tag, channel=1, number=leg.line.number,
            local=_address(own), remote=remoteAddress, via=remoteAddress[0], codec=codec,
            packetBytes=payloadBytes(codec, milliseconds),
            counters=routerMediaCounters(other.endpoint) or MediaCounters(),
            callingDn=-1 if leg.outgoing else tag, calledDn=tag if leg.outgoing else -1,
            state=leg.status.channel)

    def render(self) -> list[str]:
        """@return: the four lines of the seed."""
        c = self.counters
        kind = "Active Secure Call" if self.secure else "Active Call"
        return [
            f"{kind} on DN {self.dnTag} chan {self.channel} :{self.number} {self.local[0]} {self.local[1]}"
            f" to {self.remote[0]} {self.remote[1]} via {self.via}",
            f"{self.codec.iosName} {self.packetBytes} bytes no vad",
            f"Tx Pkts {c.txPackets} bytes {c.txBytes} Rx Pkts {c.rxPackets} bytes {c.rxBytes} Lost {c.lost}",
            f"Jitter {c.jitter} Latency {c.latency} callingDn {self.callingDn} calledDn {self.calledDn}",
        ]

    def asDict(self) -> dict[str, Any]:
        """@return: the JSON facts."""
        c = self.counters
        return {
            "secure": self.secure, "dnTag": self.dnTag, "channel": self.channel, "number": self.number,
            "state": self.state,
            "local": {"ip": self.local[0], "port": self.local[1]},
            "remote": {"ip": self.remote[0], "port": self.remote[1]},
            "via": self.via, "codec": self.codec.iosName, "packetBytes": self.packetBytes, "vad": False,
            "txPackets": c.txPackets, "txBytes": c.txBytes, "rxPackets": c.rxPackets, "rxBytes": c.rxBytes,
            "lost": c.lost, "jitter": c.jitter, "latency": c.latency,
            "callingDn": self.callingDn, "calledDn": self.calledDn,
        }


def activeCallsByEphone(engine: CallEngine) -> dict[int, list[ActiveCall]]:
    """
    The connected or held call legs of every phone.

    @param engine: the call engine.
    @return: L{ActiveCall}s by C{id()} of the phone's L{Ephone}, in line
        order.
    """
    found: dict[int, list[tuple[int, ActiveCall]]] = {}
    for call in engine.calls():
        for leg in (call.caller, call.callee):
            ephone = _ephoneOf(leg)
            if ephone is None or leg.status not in SHOWN_STATUSES:
                continue
            found.setdefault(id(ephone), []).append((leg.line.instance, ActiveCall.fromLeg(leg, call)))
    return {key: [active for _, active in sorted(legs, key=lambda item: item[0])]
            for key, legs in found.items()}


def showEphoneOffhook(engine: CallEngine, registry: EphoneRegistry) -> CommandResult:
    """
    Render C{show ephone offhook}.

    @param engine: the call engine.
    @param registry: the ephone registry.
    @return: the result; C{data["ephones"]} has the C{show ephone} facts of
        each off-hook phone plus its C{"calls"}.
    """
    active = activeCallsByEphone(engine)
    lines: list[str] = []
    phones: list[dict[str, Any]] = []
    for ephone in registry.registeredEphones():
        if not ephone.offhook:
            continue
        calls = active.get(id(ephone), [])
        lines.extend(renderEphone(ephone))
        for call in calls:
            lines.extend(call.render())
        phones.append(dict(ephoneData(ephone), calls=[call.asDict() for call in calls]))
    return CommandResult("\n".join(lines), {"ephones": phones})


@frozen
class VoiceCallRow:
    """
    One row of C{show voice call status}: one leg of a call.

    @ivar callId: the leg's CallID.
    @ivar cid: the call's CID.
    @ivar ccVdb: the pseudo call-control block address.
    @ivar dnTag: the leg's C{ephone-dn} tag.
    @ivar channel: the channel index (0 for chan 1).
    @ivar called: the number dialled (calling leg), or C{*} and the called
        line's number (called leg).
    @ivar codec: C{g711ulaw}, C{g711alaw}, or C{None} before one is chosen.
    @ivar localPeer: the leg's dial-peer tag.
    @ivar remotePeer: the other leg's dial-peer tag.
    @ivar number: the leg's own directory number.
    @ivar state: the leg's channel state.
    @ivar secure: whether the call's media is SRTP.
    @ivar port: C{50/0/14.0} for a phone's line, the voice port's name
        (C{1/0/0}) for a port (L{ICallEndpoint.voicePortName}).
    """

    callId: int
    cid: int
    ccVdb: int
    dnTag: int
    channel: int
    called: str
    codec: str
    localPeer: int
    remotePeer: int
    number: str
    state: str
    secure: bool
    port: str

    @classmethod
    def fromLeg(cls, leg: Leg, call: Call) -> "VoiceCallRow":
        """
        @param leg: a leg of C{call}.
        @param call: the call.
        @return: the leg's row.
        """
        other = call.other(leg)
        calledNumber = call.callee.line.number
        dialled = call.caller.collector.digits.rstrip("#") or calledNumber
        codec = call.media.codec
        return cls(
            callId=CALL_ID_BASE + leg.callReference, cid=(CID_BASE + call.number) & 0xFFFF,
            ccVdb=CCVDB_BASE + (leg.callReference * 0x3A4C) % 0x01000000, dnTag=leg.line.tag, channel=0,
            called=dialled if leg is call.caller else "*" + calledNumber,
            codec=codec.keyword if codec is not None else "None",
            localPeer=leg.endpoint.dialPeerTag(leg.line), remotePeer=other.endpoint.dialPeerTag(other.line),
            number=leg.line.number, state=leg.status.channel, secure=bool(call.secure),
            port=leg.endpoint.voicePortName(leg.line))

    def render(self) -> str:
        """@return: the row, single-spaced as in the seed (DSP/Ch empty)."""
        return (f"0x{self.callId:X} {self.cid:04X} 0x{self.ccVdb:08X} {self.port} {self.called} {self.codec}"
                f" {self.localPeer}/{self.remotePeer}")

    def asDict(self) -> dict[str, Any]:
        """@return: the JSON facts."""
        return {
            "callId": f"0x{self.callId:X}", "cid": f"{self.cid:04X}", "ccVdb": f"0x{self.ccVdb:08X}",
            "port": self.port, "dspChannel": None, "called": self.called, "codec": self.codec,
            "dialPeers": [self.localPeer, self.remotePeer], "dnTag": self.dnTag, "number": self.number,
            "state": self.state, "secure": self.secure,
        }


def voiceCallRows(engine: CallEngine) -> list[VoiceCallRow]:
    """
    @param engine: the call engine.
    @return: the rows of every call, calling leg first.
    """
    return [VoiceCallRow.fromLeg(leg, call) for call in engine.calls() for leg in (call.caller, call.callee)]


def showVoiceCallStatus(engine: CallEngine) -> CommandResult:
    """
    Render C{show voice call status}.

    @param engine: the call engine.
    @return: the result; C{data} has C{"legs"} and C{"activeCalls"}.
    """
    rows = voiceCallRows(engine)
    count = len(engine.calls())
    data = {"legs": [row.asDict() for row in rows], "activeCalls": count}
    if not count:
        return CommandResult(NO_ACTIVE_CALLS, data)
    lines = [VOICE_CALL_HEADER] + [row.render() for row in rows] + [f"{count} active calls found"]
    return CommandResult("\n".join(lines), data)


def registerCallCommands(table: CommandTable, engine: CallEngine, registry: EphoneRegistry) -> None:
    """
    Register C{show ephone offhook} and C{show voice call status}.

    @param table: the admin command table.
    @param engine: the call engine.
    @param registry: the ephone registry.
    """
    table.add("show ephone offhook", lambda: showEphoneOffhook(engine, registry),
              help="off-hook IP phones and their active calls")
    table.add("show voice call status", lambda: showVoiceCallStatus(engine),
              help="call legs: call ids, ports, called numbers, codecs, dial-peers")


__all__ = [
    "ActiveCall", "CALL_ID_BASE", "CCVDB_BASE", "CID_BASE", "MediaCounters",
    "NO_ACTIVE_CALLS", "SHOWN_STATUSES", "UNKNOWN_ADDRESS", "VOICE_CALL_HEADER",
    "VoiceCallRow", "activeCallsByEphone", "registerCallCommands", "routerMediaCounters",
    "showEphoneOffhook",
    "showVoiceCallStatus", "voiceCallRows",
]
