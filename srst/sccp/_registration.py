# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
SCCP registration and management messages (sccp.md 2.2, 4): Register and
its answers, keepalives, capabilities, alarms, reset and unregistration.

Field names follow the Wireshark dissector; layouts and the versions that
add fields are those of sccp.md.  All fields default to their zero value,
which is also what a field missing from a short message decodes to.
"""

from __future__ import annotations

import ipaddress
import struct

from attrs import field, frozen

from srst.sccp._codec import EncodeError, Message, message
from srst.sccp._fields import (
    ANY_IPV4,
    CSTRING,
    IPV4,
    IPV4OR6,
    IPV6,
    TEXT,
    U8,
    U16,
    U32,
    IPAddress,
    Raw,
    Text,
    Truncated,
    enumValue,
    wire,
)
from srst.sccp.constants import (
    AlarmSeverity,
    Codec,
    DeviceType,
    HeadsetMode,
    PhoneFeature,
    ResetType,
    UnregisterReason,
    UnregisterStatus,
)


@message(0x0000)
@frozen
class KeepAlive(Message):
    """Phone keepalive; answered with L{KeepAliveAck}, registered or not."""


@message(0x0100)
@frozen
class KeepAliveAck(Message):
    """Answer to L{KeepAlive}."""


@message(0x0001)
@frozen
class Register(Message):
    """
    A phone asks to register.  Encode it with the phone's maximum protocol
    version (the one it advertises): the 7912-style 52-byte body below 15,
    the long form (MAC address, IPv6, firmware) from 15 (sccp.md 2.2; the
    version boundary is not documented).

    @ivar deviceName: C{"SEP"} + 12 hex digits of the MAC for IP phones.
    @ivar protocolVersion: the phone's highest protocol version.
    @ivar reserved: the byte after protocolVersion (0 seen).
    @ivar phoneFeatures: a L{PhoneFeature} bit field.
    @ivar macAddress: 12 bytes, binary MAC + zeros or 12 hex characters
        depending on the model.
    """

    deviceName: str = wire(TEXT(16))
    userId: int = wire(U32)
    instance: int = wire(U32)
    stationIpAddr: ipaddress.IPv4Address = wire(IPV4)
    deviceType: int = wire(U32, enumType=DeviceType)
    maxStreams: int = wire(U32)
    activeStreams: int = wire(U32)
    protocolVersion: int = wire(U8)
    reserved: int = wire(U8)
    phoneFeatures: int = wire(U16, enumType=PhoneFeature)
    maxConferences: int = wire(U32)
    activeConferences: int = wire(U32)
    macAddress: bytes = wire(Raw(12), since=15)
    ipV4AddressScope: int = wire(U32, since=15)
    maxNumberOfLines: int = wire(U32, since=15)
    ipV6Address: ipaddress.IPv6Address = wire(IPV6, since=15)
    ipV6AddressScope: int = wire(U32, since=15)
    loadInfo: str = wire(TEXT(32), since=15)
    configVersionStamp: str = wire(TEXT(48), since=20)


@message(0x0081)
@frozen
class RegisterAck(Message):
    """
    Registration accepted.

    @ivar keepAliveInterval: seconds between the phone's keepalives.
    @ivar dateTemplate: up to 6 characters, e.g. C{"M/D/Y"}, C{"D/M/YA"}.
    @ivar secondaryKeepAliveInterval: seconds between keepalives on the
        phone's standby connection.
    @ivar protocolVersion: the negotiated protocol version.
    @ivar featureBytes: the 3 bytes after it (meaning unknown; copy one of
        the C{REGISTER_ACK_FEATURES_*} constants).
    """

    keepAliveInterval: int = wire(U32)
    dateTemplate: str = wire(Text(6, pad=2))
    secondaryKeepAliveInterval: int = wire(U32)
    protocolVersion: int = wire(U8, since=3)
    featureBytes: bytes = wire(Raw(3), since=3)


@message(0x009D)
@frozen
class RegisterReject(Message):
    """Registration refused (send, then close); C{text} may be empty."""

    text: str = wire(TEXT(32))


@message(0x0029)
@frozen
class RegisterTokenReq(Message):
    """A phone asks for permission to register (fallback/rehoming)."""

    deviceName: str = wire(TEXT(16))
    userId: int = wire(U32)
    instance: int = wire(U32)
    stationIpAddr: ipaddress.IPv4Address = wire(IPV4)
    deviceType: int = wire(U32, enumType=DeviceType)
    stationIpV6Addr: ipaddress.IPv6Address = wire(IPV6)


@message(0x011A)
@frozen
class RegisterTokenAck(Message):
    """The phone may register now."""


@message(0x011B)
@frozen
class RegisterTokenReject(Message):
    """The phone must wait C{waitTimeBeforeNextReq} seconds."""

    waitTimeBeforeNextReq: int = wire(U32)


@message(0x0027)
@frozen
class Unregister(Message):
    """The phone leaves; the reason is optional on the wire."""

    unRegReasonCode: int = wire(U32, optional=True,
                                enumType=UnregisterReason)


@message(0x0118)
@frozen
class UnregisterAck(Message):
    """Answer to L{Unregister}: a L{UnregisterStatus} (NAK refuses)."""

    status: int = wire(U32, enumType=UnregisterStatus)


@message(0x009F)
@frozen
class Reset(Message):
    """Reset (reboot), restart (re-register) or apply configuration."""

    resetType: int = wire(U32, enumType=ResetType)


@message(0x0020)
@frozen
class Alarm(Message):
    """
    A phone alarm, often sent before Register; C{text} says why the last
    connection ended (C{"... Last=..."}).
    """

    alarmSeverity: int = wire(U32, enumType=AlarmSeverity)
    text: str = wire(TEXT(80))
    parm1: int = wire(U32)
    parm2: int = wire(U32)


@message(0x015A)
@frozen
class XmlAlarm(Message):
    """A newer phone's alarm as XML text (log only)."""

    alarmInfo: str = wire(CSTRING)


@message(0x002B)
@frozen
class HeadsetStatus(Message):
    """Headset on/off (L{HeadsetMode}); informational."""

    headsetStatus: int = wire(U32, enumType=HeadsetMode)


@message(0x002D)
@frozen
class RegisterAvailableLines(Message):
    """How many lines the phone can use."""

    maxNumOfAvailLines: int = wire(U32)


@message(0x000F)
@frozen
class VersionReq(Message):
    """Asks for L{Version}."""


@message(0x0098)
@frozen
class Version(Message):
    """The firmware load id the phone should run."""

    version: str = wire(TEXT(16))


@message(0x009B)
@frozen
class CapabilitiesReq(Message):
    """Asks for the phone's codec list (L{CapabilitiesRes})."""


MAX_CAPABILITIES = 18


@frozen
class MediaCapability:
    """
    One codec of L{CapabilitiesRes}.

    @ivar payloadCapability: a L{Codec}.
    @ivar maxFramesPerPacket: the longest packet, in milliseconds.
    @ivar codecMode: first byte of the codec parameters (for G.723.1 the
        bit rate, see L{g723BitRate}).
    @ivar dynamicPayload: the dynamic RTP payload type (e.g. 98 for iLBC).
    """

    payloadCapability: int = 0
    maxFramesPerPacket: int = 0
    codecMode: int = 0
    dynamicPayload: int = 0
    codecParam1: int = 0
    codecParam2: int = 0

    @property
    def g723BitRate(self) -> int:
        """The union read as the G.723.1 bit-rate u32."""
        return struct.unpack("<I", bytes((
            self.codecMode, self.dynamicPayload, self.codecParam1,
            self.codecParam2)))[0]


_CAPABILITY = struct.Struct("<IIBBBB4x")
_COUNT = struct.Struct("<I")


@message(0x0010)
@frozen
class CapabilitiesRes(Message):
    """
    The phone's codecs: a count then 18 fixed 16-byte slots (unused ones
    zero when we send; phones leave garbage there).
    """

    capabilities: tuple[MediaCapability, ...] = field(
        default=(), converter=tuple)

    @classmethod
    def _decodeBody(cls, body: bytes, version: int) -> Message:
        if len(body) < _COUNT.size:
            return cls()
        (count,) = _COUNT.unpack_from(body)
        available = (len(body) - _COUNT.size) // _CAPABILITY.size
        capabilities = []
        for i in range(min(count, MAX_CAPABILITIES, available)):
            (payload, frames, mode, dynamic, param1,
             param2) = _CAPABILITY.unpack_from(
                 body, _COUNT.size + i * _CAPABILITY.size)
            capabilities.append(MediaCapability(
                enumValue(Codec, payload), frames, mode, dynamic, param1,
                param2))
        return cls(capabilities)

    def _encodeBody(self, version: int) -> bytes:
        if len(self.capabilities) > MAX_CAPABILITIES:
            raise EncodeError("CapabilitiesRes", "capabilities",
                              "%d codecs, at most %d fit" % (
                                  len(self.capabilities), MAX_CAPABILITIES))
        try:
            slots = [_CAPABILITY.pack(c.payloadCapability,
                                      c.maxFramesPerPacket, c.codecMode,
                                      c.dynamicPayload, c.codecParam1,
                                      c.codecParam2)
                     for c in self.capabilities]
        except (struct.error, AttributeError) as e:
            raise EncodeError("CapabilitiesRes", "capabilities",
                              str(e)) from None
        slots += [b"\x00" * _CAPABILITY.size] * (
            MAX_CAPABILITIES - len(slots))
        return _COUNT.pack(len(self.capabilities)) + b"".join(slots)


@message(0x0012)
@frozen
class ServerReq(Message):
    """Asks for the list of call-control servers (L{ServerRes})."""


MAX_SERVERS = 5
_SERVER_NAME = Text(48)


@frozen
class ServerIdentifier:
    """
    One slot of L{ServerRes}.

    @ivar serverName: the server's name.
    @ivar serverTcpListenPort: its SCCP port.
    @ivar serverIpAddr: its address (IPv6 only from protocol 17).
    """

    serverName: str = ""
    serverTcpListenPort: int = 0
    serverIpAddr: IPAddress = ANY_IPV4


_EMPTY_SERVER = ServerIdentifier()


def _serverSlots(servers: object) -> tuple[ServerIdentifier, ...]:
    slots = list(servers)  # type: ignore[call-overload]
    while slots and slots[-1] == _EMPTY_SERVER:
        slots.pop()
    return tuple(slots)


@message(0x009E)
@frozen
class ServerRes(Message):
    """
    Up to five servers: five names, then five ports, then five addresses
    (4 bytes each below protocol 17, ipv4or6 from 17).  Trailing empty slots
    are dropped, so equality ignores them.
    """

    servers: tuple[ServerIdentifier, ...] = field(
        default=(), converter=_serverSlots)

    @classmethod
    def _decodeBody(cls, body: bytes, version: int) -> Message:
        names, ports, addresses = [], [], []
        offset = 0
        try:
            for column, kind in ((names, _SERVER_NAME), (ports, U32),
                                 (addresses, IPV4OR6)):
                for _ in range(MAX_SERVERS):
                    value, offset = kind.decode(body, offset, version)
                    column.append(value)
        except Truncated:
            pass
        slots = []
        for i in range(MAX_SERVERS):
            slots.append(ServerIdentifier(
                names[i] if i < len(names) else "",
                ports[i] if i < len(ports) else 0,
                addresses[i] if i < len(addresses) else ANY_IPV4))
        return cls(slots)

    def _encodeBody(self, version: int) -> bytes:
        if len(self.servers) > MAX_SERVERS:
            raise EncodeError("ServerRes", "servers", "%d servers, at most "
                              "%d fit" % (len(self.servers), MAX_SERVERS))
        slots = list(self.servers) + [_EMPTY_SERVER] * (
            MAX_SERVERS - len(self.servers))
        try:
            return b"".join(
                [_SERVER_NAME.encode(s.serverName, version) for s in slots]
                + [U32.encode(s.serverTcpListenPort, version) for s in slots]
                + [IPV4OR6.encode(s.serverIpAddr, version) for s in slots])
        except (ValueError, TypeError, struct.error, AttributeError) as e:
            raise EncodeError("ServerRes", "servers", str(e)) from None


__all__ = [
    "Alarm", "CapabilitiesReq", "CapabilitiesRes", "HeadsetStatus",
    "KeepAlive", "KeepAliveAck", "MAX_CAPABILITIES", "MAX_SERVERS",
    "MediaCapability", "Register", "RegisterAck", "RegisterAvailableLines",
    "RegisterReject", "RegisterTokenAck", "RegisterTokenReject",
    "RegisterTokenReq", "Reset", "ServerIdentifier", "ServerReq",
    "ServerRes", "Unregister", "UnregisterAck", "Version", "VersionReq",
    "XmlAlarm",
]

