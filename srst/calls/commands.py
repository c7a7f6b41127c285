# -*- test-case-name: tests.test_calls_commands -*-
"""
The call operator commands C{show voice call status}, in the format of the
seed's sample (secure-srst-configuration-example, step 3 of "Verify"), and
C{show dialplan number <n>} (L{showDialplanNumber}).
It knows devices only through L{ICallEndpoint} (C{show ephone offhook},
which renders phones, is L{srst.sccp.commands}).

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

Calls under MGCP control (the call agent's, not the engine's) follow, one
row per MGCP connection (L{ControlledCallRow}), as IOS lists them too::

    0x1A 7D3E4C 0x8600001A 1/0/1 127.0.0.1:40002 g711ulaw MGCP

  - C{CallID}: the gateway's connection id (hex).
  - C{CID}: the call agent's call id (C{C:}).
  - C{Port}: the voice port; C{DSP/Ch} empty.
  - C{Called #}: the gateway does not know the number under MGCP: this
    column shows the far end's RTP address (C{-} before it is known).
  - C{Codec}; C{Dial-peers} says C{MGCP} (the call is the call agent's).

The closing line counts calls (two legs each, one per MGCP call id):
C{N active calls found}, or C{No active calls found} when there is none.

C{--json} answers with the same facts.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Optional

from attrs import frozen

from srst.admin.commands import CommandResult, CommandTable, InvalidInput
from srst.calls.call import Call
from srst.calls.engine import CallEngine
from srst.calls.leg import Leg

CALL_ID_BASE = 0x1100
"""Added to a leg's call reference to give its C{CallID}."""

CID_BASE = 0x2C00
"""Added to the engine's call number to give the C{CID}."""

CCVDB_BASE = 0x86000000
"""The base of the pseudo C{ccVdb} addresses."""

VOICE_CALL_HEADER = "CallID CID ccVdb Port DSP/Ch Called # Codec Dial-peers"
"""The header of C{show voice call status} (seed)."""

NO_ACTIVE_CALLS = "No active calls found"
"""C{show voice call status} when there is no call."""


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


@frozen
class ControlledCallRow:
    """
    One row of C{show voice call status} for a connection under MGCP
    control.

    @ivar port: the voice port's name.
    @ivar callId: the call agent's call id (C{C:}).
    @ivar connectionId: the gateway's hex connection id.
    @ivar codec: C{g711ulaw} or C{g711alaw}.
    @ivar remote: the far end's RTP C{(host, port)}, or C{None} before it
        is known.
    @ivar mode: the connection mode, e.g. C{sendrecv}.
    """

    port: str
    callId: str
    connectionId: str
    codec: str
    remote: Optional[tuple[str, int]]
    mode: str

    @property
    def remoteText(self) -> str:
        """@return: C{host:port} (C{[v6]:port}), or C{-}."""
        if self.remote is None:
            return "-"
        host, port = self.remote
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def render(self) -> str:
        """@return: the row, in the columns of the engine's rows."""
        ccVdb = CCVDB_BASE + (int(self.connectionId, 16) * 0x3A4C) % 0x01000000
        return (f"0x{self.connectionId.upper()} {self.callId} 0x{ccVdb:08X} {self.port} {self.remoteText}"
                f" {self.codec} MGCP")

    def asDict(self) -> dict[str, Any]:
        """@return: the JSON facts."""
        return {"port": self.port, "callId": self.callId, "connectionId": self.connectionId,
                "codec": self.codec, "remote": self.remoteText if self.remote is not None else None,
                "mode": self.mode}


def voiceCallRows(engine: CallEngine) -> list[VoiceCallRow]:
    """
    @param engine: the call engine.
    @return: the rows of every call, calling leg first.
    """
    return [VoiceCallRow.fromLeg(leg, call) for call in engine.calls() for leg in (call.caller, call.callee)]


def showVoiceCallStatus(engine: CallEngine, controlled: Iterable[ControlledCallRow] = ()) -> CommandResult:
    """
    Render C{show voice call status}.

    @param engine: the call engine.
    @param controlled: the rows of connections under MGCP control.
    @return: the result; C{data} has C{"legs"}, C{"mgcp"} and
        C{"activeCalls"}.
    """
    rows = voiceCallRows(engine)
    mgcp = list(controlled)
    count = len(engine.calls()) + len({row.callId.upper() for row in mgcp})
    data = {"legs": [row.asDict() for row in rows], "mgcp": [row.asDict() for row in mgcp],
            "activeCalls": count}
    if not count:
        return CommandResult(NO_ACTIVE_CALLS, data)
    lines = ([VOICE_CALL_HEADER] + [row.render() for row in rows] + [row.render() for row in mgcp]
             + [f"{count} active calls found"])
    return CommandResult("\n".join(lines), data)


_DIGITS = re.compile("[0-9]+")
"""What C{show dialplan number} takes: a dialled number, digits only."""


def showDialplanNumber(engine: CallEngine, number: str) -> CommandResult:
    """
    Render C{show dialplan number <number>}: where a call to C{number} goes
    now, close to IOS's output (C{Macro Exp.}, the match, the forward-all
    hops and the C{alias} taken (IOS treats an alias as a dial-peer), one
    C{Target} line per phone line or voice port that would ring).  The
    steps are the engine's (L{CallEngine.reach}).

    @raise InvalidInput: C{number} is not digits.
    @return: the result; C{data} has C{"number"}, C{"extension"} (the
        C{dialplan-pattern} expansion, or L{None}), C{"steps"} (the forward
        and alias lines) and C{"targets"}.
    """
    if not _DIGITS.fullmatch(number):
        raise InvalidInput(["show", "dialplan", "number", number])
    lines = [f"Macro Exp.: {number}", ""]
    reach = engine.reach(number)
    extension = None
    if reach.extension is not None:
        pattern, extension = reach.extension
        lines.append(f"dialplan-pattern {pattern.tag} {pattern.pattern} extension-length "
                     f"{pattern.extensionLength}: extension {extension}")
    steps = []
    if reach.chain is not None:
        steps += [f"call-forward all {hop} to {target}" for hop, target in zip(reach.chain.numbers,
                                                                               reach.chain.numbers[1:])]
    alias = reach.alias
    if alias is not None:
        step = f"alias {alias.tag} {alias.pattern} to {alias.to}"
        if reach.number != alias.to:
            step += f" (busy) cfw {reach.number}"
        steps.append(step)
    targets = [{"port": d.endpoint.voicePortName(d.line), "dialPeer": d.endpoint.dialPeerTag(d.line),
                "number": d.line.number} for d in reach.ringing]
    if not targets:
        lines.append("No match")
    else:
        matched = extension if extension is not None else number
        lines.append(f"Matched: {matched}   Digits: {len(matched)}")
        lines += steps
        lines += [f"Target: {t['port']} dial-peer {t['dialPeer']} number {t['number']}" for t in targets]
    return CommandResult("\n".join(lines), {"number": number, "extension": extension, "steps": steps,
                                            "targets": targets})


def registerCallCommands(table: CommandTable, engine: CallEngine,
                         controlled: Callable[[], Iterable[ControlledCallRow]] = lambda: ()) -> None:
    """
    Register C{show voice call status} and C{show dialplan number <number>}.

    @param table: the admin command table.
    @param engine: the call engine.
    @param controlled: returns the rows of connections under MGCP control.
    """
    table.add("show voice call status", lambda: showVoiceCallStatus(engine, controlled()),
              help="call legs: call ids, ports, called numbers, codecs, dial-peers")
    table.add("show dialplan number <number>", lambda number: showDialplanNumber(engine, number),
              help="which phone line or voice port a number reaches (dialplan-pattern applied)")


__all__ = [
    "CALL_ID_BASE", "CCVDB_BASE", "CID_BASE", "ControlledCallRow", "NO_ACTIVE_CALLS", "VOICE_CALL_HEADER", "VoiceCallRow",
    "registerCallCommands", "showDialplanNumber", "showVoiceCallStatus", "voiceCallRows",
]
