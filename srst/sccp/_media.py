# -*- test-case-name: tests.test_sccp_messages,tests.test_sccp_properties -*-
"""
SCCP media messages (sccp.md 2.4, 3): opening and closing RTP streams on
phones, with the SRTP keys.

Layouts by negotiated protocol version (bodies):

  - OpenReceiveChannel: 24 below 5; 68 from 5 (callReference and the
    40-byte rx key block, as CUCM 4.1 sends at 6); 92 from 11 (48-byte key
    block, stream ids, RFC 2833 payload type, DTMF type, as CCM 7 sends);
    108 from 15 (mixing mode, party direction, source address and port); 112
    from 16 (requested address type); 128 from 17 (ipv4or6 source address);
    168 from 20 (audio level adjustment, latent capabilities).
  - StartMediaTransmission: 40 below 5; 84 from 5 (tx key block); 116 from
    11 (stream ids, DTMF, mixing mode, party direction); 132 from 17
    (ipv4or6 remote address); 168 from 20 (latent capabilities).

Field order never changes; from protocol 17 the address fields grow from 4
to 20 bytes (u32 address type + 16 bytes).
"""

from __future__ import annotations

import ipaddress

from attrs import frozen

from srst.sccp._codec import Message, message
from srst.sccp._fields import (
    DIRNUM_ALIGNED,
    I32,
    IPV4,
    IPV4OR6,
    U8,
    U16_PADDED,
    U32,
    IPAddress,
    NarrowingInt,
    Raw,
    SizedText,
    wire,
)
from srst.sccp._keys import KEY_INFO, NO_KEY, KeyInfo
from srst.sccp.constants import (
    PROTOCOL_VERSION_CALL_REFERENCE,
    PROTOCOL_VERSION_V11,
    Codec,
    IpAddrType,
    MediaStatus,
    PortHandling,
    StatsProcessingMode,
)

_V5 = PROTOCOL_VERSION_CALL_REFERENCE
_V11 = PROTOCOL_VERSION_V11
_V15 = 15
_V16 = 16
_V20 = 20
LATENT_CAPS_SIZE = 36


@message(0x0002)
@frozen
class IpPort(Message):
    """The RTP port an old phone will use (informational)."""

    rtpMediaPort: int = wire(U32)


@message(0x0105)
@frozen
class OpenReceiveChannel(Message):
    """
    Open the phone's RTP receive port.  C{rxKey} is the key the phone
    decrypts incoming SRTP with (L{NO_KEY} for a plain call).

    @ivar conferenceId: CUCM uses the callReference.
    @ivar passThruPartyId: unique per media stream; echoed in the ack.
    @ivar millisecondPacketSize: packetization, usually 20.
    @ivar compressionType: a L{Codec}.
    @ivar echoCancellation: 0 off, 1 on.
    @ivar codecMode: first byte of the codec parameters (G.723.1 bit rate
        below protocol 11); C{dynamicPayload}, C{codecParam1},
        C{codecParam2} follow.
    @ivar rfc2833PayloadType: 101 typically, 0 for none.
    @ivar requestedIpAddrType: a L{IpAddrType}.
    @ivar latentCapsInfo: 36 opaque bytes (protocol 20+).
    """

    conferenceId: int = wire(U32)
    passThruPartyId: int = wire(U32)
    millisecondPacketSize: int = wire(U32)
    compressionType: int = wire(U32, enumType=Codec)
    echoCancellation: int = wire(U32)
    codecMode: int = wire(U8)
    dynamicPayload: int = wire(U8)
    codecParam1: int = wire(U8)
    codecParam2: int = wire(U8)
    callReference: int = wire(U32, since=_V5)
    rxKey: KeyInfo = wire(KEY_INFO, since=_V5)
    streamPassThroughId: int = wire(U32, since=_V11)
    associatedStreamId: int = wire(U32, since=_V11)
    rfc2833PayloadType: int = wire(U32, since=_V11)
    dtmfType: int = wire(U32, since=_V11)
    mixingMode: int = wire(U32, since=_V15)
    partyDirection: int = wire(U32, since=_V15)
    sourceIpAddr: IPAddress = wire(IPV4OR6, since=_V15)
    sourcePortNumber: int = wire(U32, since=_V15)
    requestedIpAddrType: int = wire(U32, since=_V16, enumType=IpAddrType)
    audioLevelAdjustment: int = wire(I32, since=_V20)
    latentCapsInfo: bytes = wire(Raw(LATENT_CAPS_SIZE), since=_V20,
                                 repr=False)


@message(0x0022)
@frozen
class OpenReceiveChannelAck(Message):
    """
    The phone's answer to L{OpenReceiveChannel}: where it receives RTP.

    @ivar mediaReceptionStatus: a L{MediaStatus}, 0 when the port is open.
    @ivar ipAddr: the phone's RTP address (IPv4 below protocol 17).
    @ivar portNumber: the phone's RTP port.
    """

    mediaReceptionStatus: int = wire(U32, enumType=MediaStatus)
    ipAddr: IPAddress = wire(IPV4OR6)
    portNumber: int = wire(U32)
    passThruPartyId: int = wire(U32)
    callReference: int = wire(U32, since=_V11)


@message(0x008A)
@frozen
class StartMediaTransmission(Message):
    """
    Tell the phone where to send RTP.  C{txKey} is the key the phone
    encrypts its SRTP with.

    @ivar remoteIpAddr: the far end's RTP address.
    @ivar remotePortNumber: the far end's RTP port.
    @ivar precedenceValue: the IP TOS byte (CUCM: 0xB8, DSCP EF).
    @ivar silenceSuppression: 0 or 1.
    @ivar maxFramesPerPacket: u16 followed by 2 padding bytes.
    @ivar codecMode: see L{OpenReceiveChannel.codecMode}.
    """

    conferenceId: int = wire(U32)
    passThruPartyId: int = wire(U32)
    remoteIpAddr: IPAddress = wire(IPV4OR6)
    remotePortNumber: int = wire(U32)
    millisecondPacketSize: int = wire(U32)
    compressionType: int = wire(U32, enumType=Codec)
    precedenceValue: int = wire(U32)
    silenceSuppression: int = wire(U32)
    maxFramesPerPacket: int = wire(U16_PADDED)
    codecMode: int = wire(U8)
    dynamicPayload: int = wire(U8)
    codecParam1: int = wire(U8)
    codecParam2: int = wire(U8)
    callReference: int = wire(U32, since=_V5)
    txKey: KeyInfo = wire(KEY_INFO, since=_V5)
    streamPassThroughId: int = wire(U32, since=_V11)
    associatedStreamId: int = wire(U32, since=_V11)
    rfc2833PayloadType: int = wire(U32, since=_V11)
    dtmfType: int = wire(U32, since=_V11)
    mixingMode: int = wire(U32, since=_V11)
    partyDirection: int = wire(U32, since=_V11)
    latentCapsInfo: bytes = wire(Raw(LATENT_CAPS_SIZE), since=_V20,
                                 repr=False)


@message(0x0154)
@frozen
class StartMediaTransmissionAck(Message):
    """A newer phone confirms L{StartMediaTransmission} (informational)."""

    conferenceId: int = wire(U32)
    passThruPartyId: int = wire(U32)
    callReference: int = wire(U32)
    transmitIpAddr: IPAddress = wire(IPV4OR6)
    transmitPort: int = wire(U32)
    mediaTransmissionStatus: int = wire(U32, enumType=MediaStatus)


@message(0x008B)
@frozen
class StopMediaTransmission(Message):
    """
    Stop sending RTP.

    @ivar portHandlingFlag: a L{PortHandling} (protocol 11+).
    """

    conferenceId: int = wire(U32)
    passThruPartyId: int = wire(U32)
    callReference: int = wire(U32)
    portHandlingFlag: int = wire(U32, since=_V11, enumType=PortHandling)


@message(0x0106)
@frozen
class CloseReceiveChannel(Message):
    """
    Close the RTP receive port.

    @ivar portHandlingFlag: a L{PortHandling} (protocol 11+).
    """

    conferenceId: int = wire(U32)
    passThruPartyId: int = wire(U32)
    callReference: int = wire(U32)
    portHandlingFlag: int = wire(U32, since=_V11, enumType=PortHandling)


@message(0x002A)
@frozen
class MediaTransmissionFailure(Message):
    """The phone could not send RTP to the given address."""

    conferenceId: int = wire(U32)
    passThruPartyId: int = wire(U32)
    remoteIpAddr: IPAddress = wire(IPV4OR6)
    remotePortNumber: int = wire(U32)
    callReference: int = wire(U32)


@message(0x0107)
@frozen
class ConnectionStatisticsReq(Message):
    """Ask the phone for RTP statistics of a call."""

    directoryNum: str = wire(DIRNUM_ALIGNED)
    callReference: int = wire(U32)
    statsProcessingMode: int = wire(U32, enumType=StatsProcessingMode)


@message(0x0023)
@frozen
class ConnectionStatisticsRes(Message):
    """
    RTP statistics of a call.  From protocol 18 the number is 25 bytes plus
    3 padding bytes; from 22 statsProcessingMode is a single byte and the
    rest of the message is unaligned (chan-sccp's captures of real phones).

    @ivar data: free text (voice quality metrics; at most 600 bytes).
    """

    directoryNum: str = wire(DIRNUM_ALIGNED)
    callReference: int = wire(U32)
    statsProcessingMode: int = wire(NarrowingInt(22),
                                    enumType=StatsProcessingMode)
    numberPacketsSent: int = wire(U32)
    numberOctetsSent: int = wire(U32)
    numberPacketsReceived: int = wire(U32)
    numberOctetsReceived: int = wire(U32)
    numberPacketsLost: int = wire(U32)
    jitter: int = wire(U32)
    latency: int = wire(U32)
    data: str = wire(SizedText(600))


@message(0x008C)
@frozen
class StartMediaReception(Message):
    """
    Legacy CallManager 2.x/3.x message (seen in captures, not used by the
    router).  Only the leading fields are known; the rest of the body is
    kept verbatim when re-encoding a received frame.
    """

    remoteIpAddr: ipaddress.IPv4Address = wire(IPV4)
    millisecondPacketSize: int = wire(U32)
    compressionType: int = wire(U32, enumType=Codec)


@message(0x008D)
@frozen
class StopMediaReception(Message):
    """Legacy CallManager 2.x/3.x message (seen in captures)."""

    conferenceId: int = wire(U32)


__all__ = [
    "CloseReceiveChannel", "ConnectionStatisticsReq",
    "ConnectionStatisticsRes", "IpPort", "KeyInfo", "LATENT_CAPS_SIZE",
    "MediaTransmissionFailure", "NO_KEY", "OpenReceiveChannel",
    "OpenReceiveChannelAck", "StartMediaReception", "StartMediaTransmission",
    "StartMediaTransmissionAck", "StopMediaReception",
    "StopMediaTransmission",
]
