# -*- test-case-name: tests.test_tftp_codec -*-
"""
The TFTP packets of RFC 1350, sans-IO: L{decode} turns a datagram into a
packet object, L{encode} a packet into bytes.  No options (RFC 2347): a
request's option fields are ignored, so a peer that sends them gets a plain
RFC 1350 transfer, as the RFC allows.
"""

from __future__ import annotations

import struct
from typing import Union

from attrs import frozen

BLOCK_SIZE = 512
"""Bytes of file per DATA packet; a shorter one ends the transfer."""

RRQ, WRQ, DATA, ACK, ERROR = 1, 2, 3, 4, 5
"""The opcodes."""

MODES = ("netascii", "octet")
"""Transfer modes this codec accepts (C{mail} is obsolete)."""


class ErrorCode:
    """
    RFC 1350 error codes.
    """

    NOT_DEFINED = 0
    FILE_NOT_FOUND = 1
    ACCESS_VIOLATION = 2
    DISK_FULL = 3
    ILLEGAL_OPERATION = 4
    UNKNOWN_TID = 5
    FILE_EXISTS = 6
    NO_SUCH_USER = 7


class TftpDecodeError(ValueError):
    """
    A datagram that is no valid TFTP packet; the text says why.
    """


@frozen
class ReadRequest:
    """
    RRQ: read C{filename} in C{mode}.
    """

    filename: str
    mode: str = "octet"


@frozen
class WriteRequest:
    """
    WRQ: write C{filename} in C{mode} (srst only refuses it).
    """

    filename: str
    mode: str = "octet"


@frozen
class Data:
    """
    DATA: block C{block} (1, 2, ... modulo 65536) of the file.
    """

    block: int
    payload: bytes


@frozen
class Ack:
    """
    ACK of DATA block C{block} (0 for a WRQ).
    """

    block: int


@frozen
class Error:
    """
    ERROR: C{code} (L{ErrorCode}) and a message for a human.
    """

    code: int
    message: str


Packet = Union[ReadRequest, WriteRequest, Data, Ack, Error]


def _text(field: bytes, what: str) -> str:
    try:
        return field.decode("ascii")
    except UnicodeDecodeError:
        raise TftpDecodeError(f"{what} is not ASCII") from None


def decode(datagram: bytes) -> Packet:
    """
    @param datagram: one UDP payload.
    @return: the packet it holds.
    @raise TftpDecodeError: if it is no valid TFTP packet.
    """
    if len(datagram) < 4:
        raise TftpDecodeError(f"{len(datagram)}-byte datagram is shorter than any TFTP packet")
    (opcode,) = struct.unpack_from("!H", datagram)
    body = datagram[2:]
    if opcode in (RRQ, WRQ):
        fields = body.split(b"\0")
        if len(fields) < 3 or fields[-1] != b"" or not fields[0]:
            raise TftpDecodeError("request is not filename NUL mode NUL")
        filename = _text(fields[0], "filename")
        mode = _text(fields[1], "mode").lower()
        if mode not in MODES:
            raise TftpDecodeError(f"transfer mode {mode!r} is not netascii or octet")
        return (ReadRequest if opcode == RRQ else WriteRequest)(filename, mode)
    (number,) = struct.unpack_from("!H", body)
    if opcode == DATA:
        if len(body) - 2 > BLOCK_SIZE:
            raise TftpDecodeError(f"DATA block {number} has {len(body) - 2} bytes (at most {BLOCK_SIZE})")
        return Data(number, body[2:])
    if opcode == ACK:
        if len(body) != 2:
            raise TftpDecodeError("ACK is not 4 bytes")
        return Ack(number)
    if opcode == ERROR:
        message = body[2:]
        if not message.endswith(b"\0"):
            raise TftpDecodeError("ERROR message is not NUL-terminated")
        return Error(number, message[:-1].decode("ascii", "replace"))
    raise TftpDecodeError(f"unknown opcode {opcode}")


def encode(packet: Packet) -> bytes:
    """
    @param packet: a packet.
    @return: its datagram.
    """
    if isinstance(packet, (ReadRequest, WriteRequest)):
        opcode = RRQ if isinstance(packet, ReadRequest) else WRQ
        return (struct.pack("!H", opcode) + packet.filename.encode("ascii") + b"\0"
                + packet.mode.encode("ascii") + b"\0")
    if isinstance(packet, Data):
        return struct.pack("!HH", DATA, packet.block) + packet.payload
    if isinstance(packet, Ack):
        return struct.pack("!HH", ACK, packet.block)
    return struct.pack("!HH", ERROR, packet.code) + packet.message.encode("ascii", "replace") + b"\0"


def toNetascii(data: bytes) -> bytes:
    """
    @return: C{data} in netascii (RFC 764 line ends: LF as CR LF, a bare
        CR as CR NUL), for a C{netascii} read request.
    """
    return data.replace(b"\r", b"\r\0").replace(b"\n", b"\r\n")


__all__ = [
    "ACK", "Ack", "BLOCK_SIZE", "DATA", "Data", "ERROR", "Error", "ErrorCode", "MODES", "Packet",
    "RRQ", "ReadRequest", "TftpDecodeError", "WRQ", "WriteRequest", "decode", "encode", "toNetascii",
]
