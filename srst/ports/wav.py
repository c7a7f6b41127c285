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

Limits, because the operator's C{play} must not freeze or exhaust the
router: only a regular file is read (a FIFO, a device or a directory is
refused without being read: it is opened non-blocking, so a FIFO with no
writer cannot hang the reader), of at most L{MAX_WAV_BYTES} bytes and
L{MAX_WAV_SECONDS} seconds of audio.  A recording's file is created when
the recording starts (L{openWavWriter}), so a path that cannot be written
is refused then, not when the call ends; a recording holds at most
L{MAX_RECORD_SECONDS} of audio (the same limit as a file played).
"""

from __future__ import annotations

import enum
import io
import os
import stat
import struct
import tempfile
import wave
from typing import Sequence

from attrs import frozen

from srst._files import atomicWrite, fsyncDirectory
from srst.ports import g711

WAV_SAMPLE_RATE = g711.SAMPLE_RATE
"""The only sample rate voice ports play and record: 8000 Hz."""

MAX_WAV_SECONDS = 180
"""The longest audio a voice port plays: 3 minutes (1,440,000 samples).
Samples are held in memory while a file plays (about 36 bytes each)."""

MAX_RECORD_SECONDS = MAX_WAV_SECONDS
"""The longest recording: the same 3 minutes as a file played, so every
recording can be played back.  The DSP keeps it as 16-bit samples (2 bytes
each: 2.9 MB at most per port) until it is written."""

MAX_WAV_BYTES = 4 * 1024 * 1024
"""The largest WAV file read: 4 MiB, more than 3 minutes of 16-bit audio
(2,880,000 bytes) and its headers; a bigger file is refused unread."""

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


def _checkDuration(path: str, count: int) -> None:
    if count > MAX_WAV_SECONDS * WAV_SAMPLE_RATE:
        raise WavError(path, "%.1f s of audio; the limit is %d s"
                       % (count / WAV_SAMPLE_RATE, MAX_WAV_SECONDS))


def _samplesFromPcm(frames: bytes) -> tuple[int, ...]:
    return struct.unpack("<%dh" % (len(frames) // 2,), frames)


def parseWav(path: str, data: bytes) -> WavAudio:
    """
    Decode the bytes of a WAV file.

    @param path: the file name, for errors.
    @param data: the file's contents.
    @return: its audio.
    @raise WavError: when it is not 8 kHz mono 16-bit PCM, A-law or µ-law,
        or holds more than L{MAX_WAV_SECONDS} of audio.
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
    _checkDuration(path, len(chunks[b"data"]) * 8 // bits)
    if encoding is WavEncoding.PCM16:
        try:
            with wave.open(io.BytesIO(data), "rb") as reader:
                frames = reader.readframes(reader.getnframes())
        except (wave.Error, EOFError, struct.error) as e:
            raise WavError(path, "unreadable PCM data: %s" % (e,)) from None
        return WavAudio(_samplesFromPcm(frames), encoding)
    return WavAudio(g711.decode(_LAWS[encoding], chunks[b"data"]), encoding)


_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def _notRegular(mode: int) -> str | None:
    """
    @return: what kind of file C{mode} is when not a regular file (C{"a
        FIFO"}), else L{None}.
    """
    if stat.S_ISREG(mode):
        return None
    for test, kind in _FILE_KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def _tooBig(path: str, size: int, limit: int) -> WavError:
    return WavError(path, "%d bytes; the limit is %d bytes (%d s of 8 kHz audio)"
                    % (size, limit, MAX_WAV_SECONDS))


def readWav(path: str, maxBytes: int = MAX_WAV_BYTES) -> WavAudio:
    """
    Read an 8 kHz mono WAV file: a regular file of at most C{maxBytes}.

    The file is opened non-blocking and checked before anything is read:
    a FIFO, a device, a socket or a directory is refused at once (a FIFO
    with no writer would otherwise block the reader until one appears;
    C{/dev/zero} never ends).  This blocks only as long as reading a
    regular file of C{maxBytes} does: the router calls it off the reactor
    thread.

    @param path: the file.
    @param maxBytes: the largest file read.
    @return: its audio, as linear PCM.
    @raise WavError: when the file cannot be read, is no regular file, is
        bigger than C{maxBytes} or L{MAX_WAV_SECONDS}, or is not 8 kHz mono
        16-bit PCM, A-law or µ-law.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise WavError(path, "cannot read: %s" % (e.strerror or e,)) from None
    try:
        status = os.fstat(fd)
        kind = _notRegular(status.st_mode)
        if kind is not None:
            raise WavError(path, "not a regular file (%s)" % (kind,))
        if status.st_size > maxBytes:
            raise _tooBig(path, status.st_size, maxBytes)
        with open(fd, "rb", closefd=False) as f:
            data = f.read(maxBytes + 1)
    except OSError as e:
        raise WavError(path, "cannot read: %s" % (e.strerror or e,)) from None
    finally:
        os.close(fd)
    if len(data) > maxBytes:  # it grew since fstat
        raise _tooBig(path, len(data), maxBytes)
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


class WavWriter:
    """
    A WAV file opened for writing now and written later, atomically: a
    temporary file in the target's directory (owner-only, like every
    recording of a call) that L{commit} fills, C{fsync}s and renames over
    the target.  Made by L{openWavWriter}.

    @ivar path: the target file.
    """

    def __init__(self, path: str, fd: int, temp: str) -> None:
        self.path = path
        self._fd: int | None = fd
        self._temp = temp

    def commit(self, samples: Sequence[int], encoding: WavEncoding = WavEncoding.PCM16) -> None:
        """
        Write C{samples} and put the file in place.

        @raise WavError: when the file cannot be written (nothing is left
            behind).
        @raise ValueError: for a sample outside -32768..32767 (the file is
            discarded).
        """
        fd, self._fd = self._fd, None
        if fd is None:
            raise WavError(self.path, "already written or discarded")
        try:
            data = formatWav(samples, encoding)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(self._temp, self.path)
            fsyncDirectory(os.path.dirname(os.path.abspath(self.path)))
        except OSError as e:
            _unlinkQuietly(self._temp)
            raise WavError(self.path, "cannot write: %s" % (e.strerror or e,)) from None
        except BaseException:
            _unlinkQuietly(self._temp)
            raise

    def discard(self) -> None:
        """
        Give the file up: the temporary file is removed and the target is
        untouched.  Does nothing once committed or discarded.
        """
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
            _unlinkQuietly(self._temp)


def _unlinkQuietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def openWavWriter(path: str) -> WavWriter:
    """
    Open the WAV file C{path} for a later L{WavWriter.commit}: the
    directory must exist and be writable now, and C{path} must not be a
    directory, a device or a FIFO (replacing C{/dev/null} with a recording
    would be a disaster when running as root).

    @raise WavError: when C{path} cannot be written, saying why.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        pass
    except OSError as e:
        raise WavError(path, "cannot write: %s" % (e.strerror or e,)) from None
    else:
        kind = _notRegular(mode)
        if kind is not None:
            raise WavError(path, "cannot write: not a regular file (%s)" % (kind,))
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                                    dir=directory)
    except OSError as e:
        raise WavError(path, "cannot write: %s" % (e.strerror or e,)) from None
    try:
        os.fchmod(fd, 0o600)  # recordings of calls: owner only
    except OSError as e:
        os.close(fd)
        _unlinkQuietly(temp)
        raise WavError(path, "cannot write: %s" % (e.strerror or e,)) from None
    return WavWriter(path, fd, temp)
