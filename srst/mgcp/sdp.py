# -*- test-case-name: tests.test_mgcp_sdp -*-
"""
The SDP bodies of MGCP messages (mgcp.md 2.4): full RFC 4566 SDP is
accepted from the peer; the gateway answers with Cisco "simple" SDP
(C{mgcp sdp simple}): C{v=0}, C{c=IN IP4 <addr>}, C{m=audio <port> RTP/AVP
<pts>} and optional C{a=} lines, without C{o=}, C{s=} and C{t=}.

Sans-IO.  SDP is case-sensitive.  A L{SessionDescription} keeps every line
(unknown ones too) and re-encodes to the same text with CRLF endings;
typed views (addresses, ports, payload types, C{rtpmap}/C{ptime}) are
derived from the lines.  Bad SDP raises L{SdpError} with code 509 (syntax)
or 505 (well-formed but unsupported: version, network or address type).
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Union

from attrs import field, frozen

from srst.mgcp._grammar import MgcpDecodeError, MgcpEncodeError, checkText
from srst.mgcp.constants import ResponseCode

_LINE = re.compile(r"([a-z])=(.*)\Z")
_SMALL = re.compile(r"[0-9]{1,3}\Z")
_NUMBER = re.compile(r"[0-9]{1,6}\Z")
_PORT = re.compile(r"([0-9]{1,5})(?:/([0-9]{1,5}))?\Z")


class SdpError(MgcpDecodeError):
    """
    A session description that cannot be used; C{code} is 509 (error in the
    RemoteConnectionDescriptor) or 505 (unsupported one).
    """

    def __init__(self, reason: str,
                 code: int = ResponseCode.REMOTE_DESCRIPTOR_ERROR) -> None:
        MgcpDecodeError.__init__(self, int(code), reason)


def _unsupported(reason: str) -> SdpError:
    return SdpError(reason, ResponseCode.UNSUPPORTED_REMOTE_DESCRIPTOR)


Attribute = tuple[str, Optional[str]]


@frozen
class MediaDescription:
    """
    One C{m=} section.

    @ivar media: C{"audio"}, C{"video"}, ...
    @ivar port: the transport port.
    @ivar portCount: the C{/n} port count, or C{None}.
    @ivar protocol: e.g. C{"RTP/AVP"}.
    @ivar formats: the format tokens as given (payload types for RTP).
    @ivar connectionAddress: the media's own C{c=} address, else the
        session's, else C{None}.
    @ivar attributes: C{(name, value)} pairs of the section's C{a=} lines;
        the value is C{None} for flags like C{a=sendrecv}.
    """

    media: str
    port: int
    portCount: Optional[int]
    protocol: str
    formats: tuple[str, ...]
    connectionAddress: Optional[str]
    attributes: tuple[Attribute, ...] = ()

    @property
    def payloadTypes(self) -> tuple[int, ...]:
        """
        The numeric formats, in order.
        """
        return tuple(int(f) for f in self.formats if _SMALL.match(f))

    def attribute(self, name: str) -> Optional[str]:
        """
        @param name: e.g. C{"ptime"}.
        @return: the value of the first such attribute (C{""} for a flag),
            or C{None}.
        """
        for key, value in self.attributes:
            if key == name:
                return "" if value is None else value
        return None

    @property
    def rtpmaps(self) -> dict[int, str]:
        """
        C{a=rtpmap} values by payload type, e.g. C{{0: "PCMU/8000"}}.
        """
        maps = {}
        for key, value in self.attributes:
            if key == "rtpmap" and value:
                pt, _, encoding = value.partition(" ")
                if _SMALL.match(pt):
                    maps[int(pt)] = encoding.strip()
        return maps

    @property
    def telephoneEvent(self) -> Optional[int]:
        """
        The payload type offered for RFC 4733 DTMF (C{a=rtpmap:<pt>
        telephone-event/8000}, listed in C{m=}), or C{None}.
        """
        offered = self.payloadTypes
        for pt, encoding in self.rtpmaps.items():
            if pt in offered and encoding.lower().startswith("telephone-event/8000"):
                return pt
        return None

    @property
    def ptime(self) -> Optional[int]:
        """
        The C{a=ptime} packetisation period in ms, or C{None}.
        """
        value = self.attribute("ptime")
        if value and _NUMBER.match(value):
            return int(value)
        return None


@frozen
class SessionDescription:
    """
    A parsed SDP body.  Build with L{parseSdp} or L{simpleSdp}; equality is
    by the lines.

    @ivar lines: C{(type, value)} pairs of every line, in order.
    @ivar version: the C{v=} value (always 0).
    @ivar origin: the C{o=} value or C{None}.
    @ivar sessionName: the C{s=} value or C{None}.
    @ivar connectionAddress: the session-level C{c=} address or C{None}.
    @ivar attributes: session-level C{a=} lines.
    @ivar media: the C{m=} sections.
    """

    lines: tuple[tuple[str, str], ...]
    version: int = field(eq=False)
    origin: Optional[str] = field(eq=False)
    sessionName: Optional[str] = field(eq=False)
    connectionAddress: Optional[str] = field(eq=False)
    attributes: tuple[Attribute, ...] = field(eq=False)
    media: tuple[MediaDescription, ...] = field(eq=False)

    @property
    def audio(self) -> Optional[MediaDescription]:
        """
        The first C{m=audio} section, or C{None}.
        """
        for description in self.media:
            if description.media == "audio":
                return description
        return None

    @property
    def address(self) -> Optional[str]:
        """
        Where to send audio: the audio section's connection address.
        """
        audio = self.audio
        return audio.connectionAddress if audio is not None else None

    @property
    def mediaPort(self) -> Optional[int]:
        """
        The audio port (0 means "do not send"), or C{None}.
        """
        audio = self.audio
        return audio.port if audio is not None else None

    @property
    def payloadTypes(self) -> tuple[int, ...]:
        """
        The audio payload types in order of preference.
        """
        audio = self.audio
        return audio.payloadTypes if audio is not None else ()


def _parseConnection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3:
        raise SdpError("bad c= line %r" % (value,))
    netType, addrType, address = parts
    if netType != "IN":
        raise _unsupported("network type %r" % (netType,))
    if addrType not in ("IP4", "IP6"):
        raise _unsupported("address type %r" % (addrType,))
    return address.split("/")[0]


def _parseAttribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    if not name or " " in name:
        raise SdpError("bad a= line %r" % (value,))
    return name, (rest if colon else None)


def _buildMedia(section, sessionAddress) -> MediaDescription:
    value, address, attributes = section
    parts = value.split()
    if len(parts) < 4:
        raise SdpError("bad m= line %r" % (value,))
    port = _PORT.match(parts[1])
    if port is None or int(port.group(1)) > 65535:
        raise SdpError("bad media port in %r" % (value,))
    count = int(port.group(2)) if port.group(2) else None
    connection = address if address is not None else sessionAddress
    if connection is None:
        raise SdpError("no connection address for %r" % (value,))
    return MediaDescription(parts[0], int(port.group(1)), count, parts[2],
                            tuple(parts[3:]), connection, tuple(attributes))


def parseSdp(text: str) -> SessionDescription:
    """
    Parse one SDP body.

    @param text: the lines, CRLF or LF separated; blank lines are ignored.
    @return: the description.
    @raise SdpError: 509 for bad syntax (missing or misplaced C{v=}, no
        C{m=} line, bad port, no connection address), 505 for an
        unsupported version, network or address type.
    """
    lines = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise SdpError("not an SDP line: %r" % (line,))
        lines.append((match.group(1), match.group(2)))
    if not lines or lines[0][0] != "v":
        raise SdpError("SDP must start with v=")
    if lines[0][1].strip() != "0":
        raise _unsupported("SDP version %r" % (lines[0][1],))
    origin = sessionName = sessionAddress = None
    sessionAttributes: list[Attribute] = []
    sections: list = []
    for kind, value in lines[1:]:
        if kind == "v":
            raise SdpError("repeated v= line")
        if kind == "m":
            sections.append([value, None, []])
        elif kind == "c":
            address = _parseConnection(value)
            if sections:
                sections[-1][1] = address
            else:
                sessionAddress = address
        elif kind == "a":
            target = sections[-1][2] if sections else sessionAttributes
            target.append(_parseAttribute(value))
        elif kind == "o" and not sections:
            origin = value
        elif kind == "s" and not sections:
            sessionName = value
    if not sections:
        raise SdpError("no m= line")
    media = tuple(_buildMedia(s, sessionAddress) for s in sections)
    return SessionDescription(tuple(lines), 0, origin, sessionName,
                              sessionAddress, tuple(sessionAttributes),
                              media)


def encodeSdp(description: SessionDescription, simple: bool = False) -> str:
    """
    Encode a description.

    @param description: the SDP.
    @param simple: drop the C{o=}, C{s=} and C{t=} lines (Cisco C{mgcp sdp
        simple}).
    @return: the text, every line CRLF-terminated.
    """
    lines = description.lines
    if simple:
        lines = tuple(line for line in lines if line[0] not in "ost")
    return "".join("%s=%s\r\n" % line for line in lines)


def simpleSdp(address: str, port: int, payloadTypes: Iterable[int],
              attributes: Iterable[Union[str, Attribute]] = (),
              addressType: str = "IP4") -> SessionDescription:
    """
    Build a simple SDP answer.

    @param address: the local RTP address, e.g. C{"10.1.1.22"}.
    @param port: the local RTP port.
    @param payloadTypes: e.g. C{[0]} or C{[0, 8, 18, 101]}.
    @param attributes: C{a=} lines after the C{m=} line, as
        C{"rtpmap:0 PCMU/8000"} text or C{(name, value)} pairs.
    @param addressType: C{"IP4"} or C{"IP6"}.
    @return: the description C{v=0 / c= / m= / a=...}.
    @raise MgcpEncodeError: if the values do not make valid SDP.
    """
    payloadTypes = list(payloadTypes)
    if not payloadTypes or not 0 <= port <= 65535 or any(
            not 0 <= pt <= 127 for pt in payloadTypes):
        raise MgcpEncodeError("bad simple SDP port %r / payload types %r"
                              % (port, payloadTypes))
    text = ["v=0", "c=IN %s %s" % (addressType, address),
            "m=audio %d RTP/AVP %s" % (port, " ".join(map(str,
                                                          payloadTypes)))]
    for attribute in attributes:
        if not isinstance(attribute, str):
            name, value = attribute
            attribute = name if value is None else "%s:%s" % (name, value)
        text.append("a=" + checkText(attribute, "SDP attribute"))
    try:
        return parseSdp("\n".join(checkText(t, "SDP") for t in text))
    except SdpError as error:
        raise MgcpEncodeError(error.reason) from error
