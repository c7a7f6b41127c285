# -*- test-case-name: tests.test_ports_wav -*-
"""
8 kHz mono WAV files for voice ports: announcements to play and
recordings of what a line said.

16-bit linear PCM files go through the stdlib C{wave} module.  8-bit
G.711 files (WAVE_FORMAT_ALAW 6, WAVE_FORMAT_MULAW 7), which C{wave} does
not read, are read and written here.  Everything else is refused with a
L{WavError} naming the file.  Files are written atomically
(L{srst._files.atomicWrite}): a temporary file in the same directory,
C{fsync}, C{os.replace}, C{fsync} of the directory.
"""

from __future__ import annotations

import enum
import io
import struct
import wave
from typing import Sequence

from attrs import frozen

from srst._files import atomicWrite
from srst.ports import g711

WAV_SAMPLE_RATE = g711.SAMPLE_RATE
"""The only sample rate voice ports play and record: 8000 Hz."""

_RIFF = struct.Struct("<4sI4s")
_CHUNK = struct.Struct("<4sI")
_FMT = struct.Struct("<HHIIHH")
_FORMAT_PCM = 1


class WavEncoding(enum.IntEnum):
    """Sample encodings srst reads and writes; values are WAVE format tags."""

    PCM16 = 1
    ALAW = 6
    ULAW = 7


_LAWS = {WavEncoding.ALAW: g711.G711Law.ALAW,
         WavEncoding.ULAW: g711.G711Law.ULAW}


class WavError(ValueError):
    """
    A WAV file cannot be read or written as 8 kHz mono audio.

    @ivar path: the file.
    @ivar reason: what is wrong with it, as one line.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return "%s: %s" % (self.path, self.reason)


@frozen
class WavAudio:
    """
    The audio of a WAV file, as linear PCM.

    @ivar samples: signed 16-bit samples at 8 kHz.
    @ivar encoding: how the file stored them.
    """

    samples: tuple[int, ...]
    encoding: WavEncoding

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / WAV_SAMPLE_RATE


def _chunks(path: str, data: bytes) -> dict[bytes, bytes]:
    if len(data) < _RIFF.size:
        raise WavError(path, "not a WAV file (%d bytes)" % (len(data),))
    riff, _, wave_ = _RIFF.unpack_from(data, 0)
    if riff != b"RIFF" or wave_ != b"WAVE":
        raise WavError(path, "not a WAV file (no RIFF/WAVE header)")
    chunks: dict[bytes, bytes] = {}
    offset = _RIFF.size
    while len(data) - offset >= _CHUNK.size:
        name, size = _CHUNK.unpack_from(data, offset)
        offset += _CHUNK.size
        if size > len(data) - offset:
            raise WavError(path, "chunk %r of %d bytes is truncated"
                           % (name.decode("latin-1"), size))
        chunks.setdefault(name, data[offset:offset + size])
        offset += size + (size & 1)
    if b"fmt " not in chunks or len(chunks[b"fmt "]) < _FMT.size:
        raise WavError(path, "no valid fmt chunk")
    if b"data" not in chunks:
        raise WavError(path, "no data chunk")
    return chunks


def _samplesFromPcm(frames: bytes) -> tuple[int, ...]:
    return struct.unpack("<%dh" % (len(frames) // 2,), frames)


def parseWav(path: str, data: bytes) -> WavAudio:
    """
    Decode the bytes of a WAV file.

    @param path: the file name, for errors.
    @param data: the file's contents.
    @return: its audio.
    @raise WavError: when it is not 8 kHz mono 16-bit PCM, A-law or µ-law.
    """
    chunks = _chunks(path, data)
    tag, channels, rate, _, _, bits = _FMT.unpack_from(chunks[b"fmt "], 0)
    try:
        encoding = WavEncoding(tag)
    except ValueError:
        raise WavError(path, "format tag %d is not PCM (1), A-law (6) or "
                       "mu-law (7)" % (tag,)) from None
    if channels != 1:
        raise WavError(path, "%d channels, expected mono" % (channels,))
    if rate != WAV_SAMPLE_RATE:
        raise WavError(path, "sample rate %d Hz, expected %d Hz"
                       % (rate, WAV_SAMPLE_RATE))
    expectedBits = 16 if encoding is WavEncoding.PCM16 else 8
    if bits != expectedBits:
        raise WavError(path, "%d bits per sample, expected %d for %s"
                       % (bits, expectedBits, encoding.name))
    if encoding is WavEncoding.PCM16:
        try:
            with wave.open(io.BytesIO(data), "rb") as reader:
                frames = reader.readframes(reader.getnframes())
        except (wave.Error, EOFError, struct.error) as e:
            raise WavError(path, "unreadable PCM data: %s" % (e,)) from None
        return WavAudio(_samplesFromPcm(frames), encoding)
    return WavAudio(g711.decode(_LAWS[encoding], chunks[b"data"]), encoding)


def readWav(path: str) -> WavAudio:
    """
    Read an 8 kHz mono WAV file.

    @param path: the file.
    @return: its audio, as linear PCM.
    @raise WavError: when the file cannot be read or is not 8 kHz mono
        16-bit PCM, A-law or µ-law.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise WavError(path, "cannot read: %s" % (e.strerror or e,)) from None
    return parseWav(path, data)


def formatWav(samples: Sequence[int],
              encoding: WavEncoding = WavEncoding.PCM16) -> bytes:
    """
    The bytes of an 8 kHz mono WAV file.

    @param samples: signed 16-bit samples.
    @param encoding: how to store them.
    @return: the file's contents.
    @raise ValueError: for a sample outside -32768..32767.
    """
    if encoding is WavEncoding.PCM16:
        try:
            frames = struct.pack("<%dh" % (len(samples),), *samples)
        except struct.error:
            raise ValueError("samples must be signed 16-bit") from None
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(WAV_SAMPLE_RATE)
            writer.writeframes(frames)
        return out.getvalue()
    body = g711.encode(_LAWS[encoding], samples)
    fmt = _FMT.pack(encoding, 1, WAV_SAMPLE_RATE, WAV_SAMPLE_RATE, 1, 8)
    fmt += struct.pack("<H", 0)
    chunks = (_CHUNK.pack(b"fmt ", len(fmt)) + fmt
              + _CHUNK.pack(b"fact", 4) + struct.pack("<I", len(body))
              + _CHUNK.pack(b"data", len(body)) + body
              + b"\x00" * (len(body) & 1))
    return _RIFF.pack(b"RIFF", 4 + len(chunks), b"WAVE") + chunks


def writeWav(path: str, samples: Sequence[int],
             encoding: WavEncoding = WavEncoding.PCM16) -> None:
    """
    Write an 8 kHz mono WAV file atomically.

    @param path: the file.
    @param samples: signed 16-bit samples.
    @param encoding: how to store them.
    @raise WavError: when the file cannot be written.
    @raise ValueError: for a sample outside -32768..32767.
    """
    data = formatWav(samples, encoding)
    try:
        atomicWrite(path, data, 0o600)  # recordings of calls: owner only
    except OSError as e:
        raise WavError(path, "cannot write: %s" % (e.strerror or e,)) from None
