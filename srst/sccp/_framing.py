# -*- test-case-name: tests.test_sccp_framing -*-
"""
SCCP stream framing: cut a TCP/TLS byte stream into message frames.

A frame is C{8 + length} bytes: a u32 LE C{length} (= 4 + body length), a
u32 LE header version, then C{length} bytes starting with the u32 LE message
id (sccp.md 1.1).  Phones pipeline several messages in one segment and a
message may span segments, so a protocol keeps the remainder returned by
L{splitFrames} and passes it back, with the next data, on the next call.
"""

from __future__ import annotations

import struct

from srst.sccp._codec import LENGTH_PREFIX_SIZE, FrameError

MIN_LENGTH = 4
"""Smallest valid length field: a message id and no body."""

MAX_FRAME = 8192
"""
Largest frame accepted, header included.  The biggest SCCP messages are the
XML/data messages (DeviceToUserData, up to 2000 bytes of data plus about 40
of header and fields) and ConnectionStatisticsRes (600 bytes of text); the
biggest ones a registration needs are SoftKeySetRes (796 bytes) and
SoftKeyTemplateRes (664).  8 KB leaves a factor of four over the largest
legitimate message while bounding what one connection can make the router
buffer; sccp.md 1.1 finds a 4-8 KB cap safe (chan-sccp also closes the
connection on an oversized length).
"""

_LENGTH = struct.Struct("<I")


def splitFrames(buffer: bytes,
                maxFrame: int = MAX_FRAME) -> tuple[list[bytes], bytes]:
    """
    Cut every complete frame off the front of C{buffer}.

    @param buffer: bytes received so far (the previous remainder followed by
        new data).
    @param maxFrame: the largest acceptable frame, header included.
    @return: C{(frames, remainder)}: the complete frames in order, and the
        bytes of the incomplete frame that follows them (shorter than one
        frame, never more than C{maxFrame - 1} bytes).
    @raise FrameError: when a length field is below 4 or announces a frame
        larger than C{maxFrame}; the stream cannot be resynchronised and the
        connection should be closed.
    """
    data = bytes(buffer)
    frames = []
    offset = 0
    end = len(data)
    while end - offset >= _LENGTH.size:
        (length,) = _LENGTH.unpack_from(data, offset)
        if length < MIN_LENGTH:
            raise FrameError(None, offset, "length field %d is below %d"
                             % (length, MIN_LENGTH))
        size = length + LENGTH_PREFIX_SIZE
        if size > maxFrame:
            raise FrameError(None, offset, "frame of %d bytes exceeds the "
                             "%d-byte limit" % (size, maxFrame))
        if end - offset < size:
            break
        frames.append(data[offset:offset + size])
        offset += size
    return frames, data[offset:]
