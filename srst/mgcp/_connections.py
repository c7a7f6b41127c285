# -*- test-case-name: tests.test_mgcp_endpoint -*-
"""
The connections of an MGCP endpoint (mgcp.md 6.2-6.4, 6.8, 6.10): codec
and packetisation choice from C{L:} and the remote SDP, the connection
modes, and the C{P:} statistics of a deleted connection.

Each connection owns one L{srst.ports.media.PortMediaLeg}; the modes map
onto it as mgcp.md 6.10 says: C{sendrecv} and C{confrnce} send and play,
C{sendonly} sends, C{recvonly} plays, C{inactive} neither (the RTP port
stays bound).
"""

from __future__ import annotations

import ipaddress

from typing import Any, Optional

from attrs import define, frozen

from srst.media.transport import StreamSnapshot
from srst.mgcp._signals import MgcpCommandError
from srst.mgcp.constants import ConnectionMode, ResponseCode
from srst.mgcp.messages import ConnectionParameters, OptionList, SessionDescription, parseRange
from srst.mgcp.sdp import simpleSdp
from srst.ports.media import PortMediaLeg

PCMU = 0
PCMA = 8

SUPPORTED_MODES = frozenset({ConnectionMode.SENDRECV, ConnectionMode.RECVONLY,
                             ConnectionMode.SENDONLY, ConnectionMode.INACTIVE,
                             ConnectionMode.CONFRNCE})
"""Modes the endpoint accepts; the loopback and test modes get 517."""

_SENDING = frozenset({ConnectionMode.SENDRECV, ConnectionMode.SENDONLY, ConnectionMode.CONFRNCE})
_RECEIVING = frozenset({ConnectionMode.SENDRECV, ConnectionMode.RECVONLY, ConnectionMode.CONFRNCE})

_CODEC_NAMES = {
    "pcmu": PCMU, "g711u": PCMU, "g.711u": PCMU, "g711ulaw": PCMU,
    "pcma": PCMA, "g711a": PCMA, "g.711a": PCMA, "g711alaw": PCMA,
}

PACKETIZATION_MS = 20
"""The only packetisation period the voice ports produce."""

NTE_PAYLOAD_TYPE = 99
"""The telephone-event payload type the gateway offers (IOS C{mgcp rtp
payload-type nte} default, mgcp.md 2)."""


def telephoneEventOf(remoteSdp: Optional[SessionDescription], outOfBand: bool) -> Optional[int]:
    """
    @param remoteSdp: the far end's descriptor, or C{None}.
    @param outOfBand: whether C{mgcp dtmf-relay} is out of band.
    @return: the payload type to send DTMF with as RFC 4733 events (the
        far end's), or C{None}: DTMF stays in the audio.
    """
    if not outOfBand or remoteSdp is None or remoteSdp.audio is None:
        return None
    return remoteSdp.audio.telephoneEvent


def localDescription(address: str, port: int, payloadType: int, outOfBand: bool,
                     remoteSdp: Optional[SessionDescription]) -> SessionDescription:
    """
    The gateway's simple SDP for a connection.

    @param address: where RTP is received.
    @param port: its port.
    @param payloadType: the G.711 payload type chosen.
    @param outOfBand: whether C{mgcp dtmf-relay} is out of band: then
        telephone-events are offered, with the far end's payload type when
        it offered one, else L{NTE_PAYLOAD_TYPE}.
    @param remoteSdp: the far end's descriptor, or C{None}.
    """
    if not outOfBand:
        return simpleSdp(address, port, [payloadType])
    nte = telephoneEventOf(remoteSdp, outOfBand)
    if nte is None or nte == payloadType:
        nte = NTE_PAYLOAD_TYPE
    return simpleSdp(address, port, [payloadType, nte],
                     ["rtpmap:%d telephone-event/8000" % (nte,), "fmtp:%d 0-15" % (nte,)])


@frozen
class ConnectionInfo:
    """
    A connection as the fallback glue and show commands see it.

    @ivar connectionId: the gateway-chosen hex id.
    @ivar callId: the call agent's call id.
    @ivar mode: the mode's wire name, e.g. C{"sendrecv"}.
    @ivar local: C{(address, port)} where RTP is received.
    @ivar remote: the far end C{(host, port)}, or C{None} when unknown.
    @ivar payloadType: 0 (PCMU) or 8 (PCMA).
    """

    connectionId: str
    callId: str
    mode: str
    local: tuple[str, int]
    remote: Optional[tuple[str, int]]
    payloadType: int


@define(eq=False)
class Connection:
    """
    One live connection of an endpoint.

    @ivar connectionId: the hex id.
    @ivar callId: the call id (C{C:}).
    @ivar mode: the L{ConnectionMode}.
    @ivar leg: its L{srst.ports.media.PortMediaLeg}.
    @ivar local: where RTP is received.
    @ivar localSdp: the local descriptor sent in the CRCX response.
    @ivar remote: where RTP is sent, or C{None}.
    @ivar remoteSdp: the last remote descriptor, or C{None}.
    @ivar options: the last C{L:} received, or C{None}.
    @ivar group: the multicast C{(group, port)} of the remote descriptor
        (CallManager's multicast music on hold), or C{None}; such a
        descriptor leaves C{remote} unset: nothing is sent to a group.
    """

    connectionId: str
    callId: str
    mode: ConnectionMode
    leg: PortMediaLeg
    local: tuple[str, int]
    localSdp: SessionDescription
    remote: Optional[tuple[str, int]] = None
    remoteSdp: Optional[SessionDescription] = None
    options: Optional[OptionList] = None
    group: Optional[tuple[str, int]] = None

    @property
    def info(self) -> ConnectionInfo:
        """The connection as a frozen value."""
        return ConnectionInfo(self.connectionId, self.callId, self.mode.value, self.local,
                              self.remote, self.leg.payloadType)

    @property
    def carriesCall(self) -> bool:
        """Whether media flows both ways to a known far end (a connected call)."""
        return self.mode in (ConnectionMode.SENDRECV, ConnectionMode.CONFRNCE) and (
            self.remote is not None)

    def applyMode(self) -> None:
        """
        Make the leg send and play as the mode says (mgcp.md 6.10).
        """
        self.leg.receiving = self.mode in _RECEIVING
        if self.mode in _SENDING and self.remote is not None:
            self.leg.start(self.remote, expectMedia=self.leg.receiving)
        elif self.leg.sending:
            self.leg.pause()


def checkMode(mode: Any) -> ConnectionMode:
    """
    @param mode: the typed C{M:} value.
    @return: the mode.
    @raise MgcpCommandError: 517 for a package mode or an unsupported one.
    """
    if not isinstance(mode, ConnectionMode) or mode not in SUPPORTED_MODES:
        raise MgcpCommandError(ResponseCode.UNSUPPORTED_MODE, "mode %s" % (mode,))
    return mode


def choosePayloadType(options: Optional[OptionList], remoteSdp: Optional[SessionDescription],
                      preferred: int) -> int:
    """
    Choose the G.711 payload type of a connection.

    @param options: the C{L:} options (C{a:} codec list, C{p:} period).
    @param remoteSdp: the remote descriptor, or C{None}.
    @param preferred: the payload type of the endpoint's bearer law.
    @return: 0 or 8.
    @raise MgcpCommandError: 534 when no G.711 law is acceptable to both,
        535 for a packetisation period without 20 ms, 505 for a remote
        descriptor without audio.
    """
    candidates = [preferred] + [pt for pt in (PCMU, PCMA) if pt != preferred]
    if options is not None:
        period = options.get("p")
        if period:
            try:
                low, high = parseRange(period)
            except ValueError:
                raise MgcpCommandError(ResponseCode.UNSUPPORTED_LCO_VALUE,
                                       "bad packetisation %r" % (period,)) from None
            if not low <= PACKETIZATION_MS <= high:
                raise MgcpCommandError(ResponseCode.PACKETIZATION_NOT_SUPPORTED,
                                       "packetisation %s ms (only 20)" % (period,))
        codecs = options.getList("a")
        if codecs:
            wanted = [_CODEC_NAMES.get(name.lower().replace("-", "")) for name in codecs]
            candidates = [pt for pt in wanted if pt is not None]
            if not candidates:
                raise MgcpCommandError(ResponseCode.CODEC_NEGOTIATION_FAILURE,
                                       "no G.711 codec in a:%s" % (";".join(codecs),))
    if remoteSdp is not None:
        if remoteSdp.audio is None:
            raise MgcpCommandError(ResponseCode.UNSUPPORTED_REMOTE_DESCRIPTOR,
                                   "remote descriptor has no audio")
        offered = remoteSdp.payloadTypes
        candidates = [pt for pt in offered if pt in candidates]
        if not candidates:
            raise MgcpCommandError(ResponseCode.CODEC_NEGOTIATION_FAILURE,
                                   "remote offers payload types %s, none G.711 acceptable"
                                   % (" ".join(map(str, offered)),))
    return candidates[0]


def remoteAddress(remoteSdp: Optional[SessionDescription]) -> Optional[tuple[str, int]]:
    """
    @param remoteSdp: a remote descriptor, or C{None}.
    @return: where to send RTP, or C{None} when the descriptor says not to
        (port 0, address 0.0.0.0) or there is none.
    @raise MgcpCommandError: 505 when the address is not an IPv4 literal
        (a host name, IPv6, or nonsense such as C{999.1.2.3}).
    """
    if remoteSdp is None:
        return None
    address, port = remoteSdp.address, remoteSdp.mediaPort
    if not address or not port or address == "0.0.0.0":
        return None
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        # Media goes to an IPv4 literal: no name lookups, no IPv6 legs.
        raise MgcpCommandError(ResponseCode.UNSUPPORTED_REMOTE_DESCRIPTOR,
                               "connection address %r is not an IPv4 address" % (address,)) from None
    return (address, port)


def splitMulticast(remote: Optional[tuple[str, int]]) -> tuple[Optional[tuple[str, int]], Optional[tuple[str, int]]]:
    """
    @param remote: what L{remoteAddress} found, or C{None}.
    @return: C{(unicast remote, multicast group)}, at most one of them set.
    """
    if remote is not None and ipaddress.IPv4Address(remote[0]).is_multicast:
        return None, remote
    return remote, None


def connectionStatistics(snapshot: StreamSnapshot) -> ConnectionParameters:
    """
    The C{P:} value of a connection (mgcp.md 2.3).

    @param snapshot: the leg's L{StreamSnapshot}.
    @return: C{PS, OS, PR, OR, PL, JI, LA}.
    """
    receive, send = snapshot.receive, snapshot.send
    values = (("PS", send.packets), ("OS", send.octets), ("PR", receive.packets),
              ("OR", receive.octets), ("PL", max(receive.lost, 0)),
              ("JI", int(round(receive.jitterMs))), ("LA", 0))
    return ConnectionParameters(tuple((name, str(int(value))) for name, value in values))


__all__ = ["ConnectionInfo", "Connection", "SUPPORTED_MODES", "checkMode", "choosePayloadType",
           "remoteAddress", "connectionStatistics", "PACKETIZATION_MS", "NTE_PAYLOAD_TYPE",
           "localDescription", "telephoneEventOf"]
