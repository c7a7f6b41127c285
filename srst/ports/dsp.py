# -*- test-case-name: tests.test_ports_dsp -*-
"""
The simulated DSP behind a voice port: what the port sends towards the
network every 20 ms (a call-progress tone, a WAV announcement, or
silence) as G.711 payloads, and what it receives, decoded and optionally
recorded.

It is driven from outside: its port's media leg takes
L{SimulatedDsp.nextPayload} once per packet interval on its own clock
(through L{srst.ports.voiceport.VoicePort.nextPayload}) and hands every
received payload to L{SimulatedDsp.takePayload}.  No timers, no I/O
except reading and writing WAV files when asked (L{loadWav} reads one
in whatever thread calls it).
"""

from __future__ import annotations

import os
import stat
import weakref
from array import array
from functools import lru_cache
from typing import Callable, Iterator, Optional, Sequence, Union

from attrs import define, field, setters, validators

from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.tones import CallProgressTone, ToneGenerator, dtmfSamples
from srst.ports.wav import MAX_RECORD_SECONDS, WAV_SAMPLE_RATE, WavEncoding, readWav, writeWav


MAX_RECORD_SAMPLES = MAX_RECORD_SECONDS * WAV_SAMPLE_RATE
"""The most samples a recording keeps (L{srst.ports.wav.MAX_RECORD_SECONDS})."""

_ENCODED_CACHE_SIZE = 512
"""Distinct frames whose G.711 payload a DSP keeps (tones and silence repeat)."""


class EncodedClip:
    """
    Linear PCM to play once, cut into 20 ms frames on demand, each frame's
    G.711 payload encoded once per law: every port playing the same
    announcement (the same tuple) shares one clip, so a payload costs a
    list lookup, not an encoding, per port and packet.

    @ivar samples: the samples.
    @ivar count: how many frames (the last padded with silence).
    """

    def __init__(self, samples: Sequence[int]) -> None:
        self.samples = samples
        self.count = -(-len(samples) // FRAME_SAMPLES)
        self._payloads: dict[G711Law, list[Optional[bytes]]] = {}

    def frame(self, index: int) -> tuple[int, ...]:
        """The linear samples of frame C{index}."""
        start = index * FRAME_SAMPLES
        frame = tuple(self.samples[start:start + FRAME_SAMPLES])
        return frame + (0,) * (FRAME_SAMPLES - len(frame))

    def payload(self, law: G711Law, index: int) -> bytes:
        """
        Frame C{index} as G.711 in C{law}.

        @raise ValueError: for a sample outside -32768..32767.
        """
        payloads = self._payloads.get(law)
        if payloads is None:
            payloads = self._payloads[law] = [None] * self.count
        payload = payloads[index]
        if payload is None:
            payload = payloads[index] = g711.encode(law, self.frame(index))
        return payload


_clips: "weakref.WeakSet[EncodedClip]" = weakref.WeakSet()
"""The clips being played; each holds its (immutable) sample tuple, which
a port starting the same announcement finds it by."""


_WAV_CACHE_SIZE = 4
"""Announcements whose samples stay cached (each up to
L{srst.ports.wav.MAX_WAV_SECONDS} of audio, tens of MB as Python ints)."""


@lru_cache(maxsize=_WAV_CACHE_SIZE)
def _wavSamples(path: str, version: tuple[int, ...]) -> tuple[int, ...]:
    """
    The samples of a WAV file as one tuple, kept for the file's path and
    version (device, inode, size, modification and change times: a file
    replaced or rewritten, even with its times preserved, is read anew):
    ports playing the same announcement play the same tuple, hence one
    shared L{EncodedClip}.
    """
    return tuple(readWav(path).samples)


def loadWav(path: str) -> tuple[int, ...]:
    """
    The samples of an 8 kHz mono WAV file, to hand to
    L{SimulatedDsp.playSamples}: the same tuple for the same unchanged
    file.  It reads the file (up to L{srst.ports.wav.MAX_WAV_BYTES}), so
    the router calls it off the reactor thread; it may run in any thread.

    @param path: the file.
    @raise srst.ports.wav.WavError: when it cannot be read, is no regular
        file, is too big or is not 8 kHz mono PCM, A-law or µ-law.
    """
    try:
        status = os.stat(path)
    except OSError:
        status = None
    if status is None or not stat.S_ISREG(status.st_mode):
        return tuple(readWav(path).samples)  # raises the WavError naming the file
    return _wavSamples(path, (status.st_dev, status.st_ino, status.st_size,
                              status.st_mtime_ns, status.st_ctime_ns))


def clipOf(samples: Sequence[int]) -> EncodedClip:
    """
    The clip of C{samples}: the one already playing for the same tuple, or
    a new one (a list, which could change, always gets its own copy).
    """
    if type(samples) is not tuple:
        return EncodedClip(tuple(samples))
    for clip in _clips:
        if clip.samples is samples:
            return clip
    clip = EncodedClip(samples)
    _clips.add(clip)
    return clip


_clipOf = clipOf


@define(on_setattr=setters.NO_OP)
class SimulatedDsp:
    """
    One voice port's DSP channel.

    @ivar law: the G.711 law of the payloads sent and received.
    @ivar playing: what is being played: a L{CallProgressTone}, the name
        of a WAV file or C{"samples"}, or L{None} for silence.
    @ivar recording: whether received audio is being kept.
    @ivar lineOnly: whether the tone playing is for the line alone: the
        far end gets silence meanwhile (an MGCP signal on the endpoint,
        such as C{S: L/dl}, is played on the analog line, never into the
        RTP stream).
    """

    law: G711Law = field(validator=validators.instance_of(G711Law))
    playing: Union[CallProgressTone, str, None] = field(default=None,
                                                        init=False)
    lineOnly: bool = field(default=False, init=False)
    _frames: Optional[Iterator[tuple[int, ...]]] = field(default=None,
                                                         init=False)
    _clip: Optional[EncodedClip] = field(default=None, init=False, repr=False)
    _position: int = field(default=0, init=False, repr=False)
    _recorded: Optional["array[int]"] = field(default=None, init=False, repr=False)
    _recordLimit: int = field(default=MAX_RECORD_SAMPLES, init=False, repr=False)
    _recordFull: Optional[Callable[[], None]] = field(default=None, init=False, repr=False)
    _lastPayload: bytes = field(default=b"", init=False)
    _encoded: dict[G711Law, dict[tuple[int, ...], bytes]] = field(factory=dict, init=False, repr=False)

    @property
    def recording(self) -> bool:
        """Whether received audio is being recorded."""
        return self._recorded is not None

    @property
    def lastReceived(self) -> tuple[int, ...]:
        """The linear samples of the last payload received."""
        return g711.decode(self.law, self._lastPayload)

    def playTone(self, tone: CallProgressTone, lineOnly: bool = False) -> None:
        """
        Start a call-progress tone from the beginning of its cadence,
        replacing whatever was playing.

        @param tone: the tone.
        @param lineOnly: play it to the line alone, sending silence to the
            far end (see L{lineOnly}).
        """
        self._frames = iter(ToneGenerator(tone))
        self._clip = None
        self.playing = tone
        self.lineOnly = lineOnly

    def playSamples(self, samples: Sequence[int],
                    name: str = "samples") -> None:
        """
        Play linear PCM once, then fall silent.

        @param samples: signed 16-bit samples at 8 kHz.
        @param name: what L{playing} shows meanwhile.
        """
        self._frames = None
        self._clip = _clipOf(samples)
        self._position = 0
        self.playing = name
        self.lineOnly = False

    def playDigits(self, digits: str) -> None:
        """
        Play DTMF digits once (L{srst.ports.tones.dtmfSamples}), then fall
        silent; L{playing} shows C{"dtmf <digits>"} meanwhile.

        @param digits: C{0-9 * # A-D}.
        @raise ValueError: for a character that is no DTMF digit; what was
            playing continues.
        """
        self.playSamples(dtmfSamples(digits.upper()), name="dtmf " + digits.upper())

    def playWav(self, path: str) -> None:
        """
        Play an 8 kHz mono WAV file once, then fall silent.

        @param path: the file.
        @raise srst.ports.wav.WavError: when it cannot be read or is not
            8 kHz mono PCM, A-law or µ-law; what was playing continues.

        This reads the file on the calling thread (L{loadWav}); the
        router's C{play} command loads it off the reactor thread and calls
        L{playSamples}.
        """
        self.playSamples(loadWav(path), name=path)

    def stop(self) -> None:
        """Stop playing: send silence."""
        self._frames = None
        self._clip = None
        self.playing = None
        self.lineOnly = False

    def nextFrame(self) -> tuple[int, ...]:
        """
        The next 20 ms of linear audio to send.

        @return: 160 signed 16-bit samples.
        """
        clip = self._clip
        if clip is not None:
            if self._position < clip.count:
                self._position += 1
                return clip.frame(self._position - 1)
            self.stop()
        if self._frames is not None:
            frame = next(self._frames, None)
            if frame is not None:
                return frame
            self.stop()
        return (0,) * FRAME_SAMPLES

    def nextPayload(self) -> bytes:
        """
        The next 20 ms to send, as a G.711 payload.

        @return: 160 bytes in L{law}.
        """
        clip = self._clip
        if clip is not None and self._position < clip.count:
            self._position += 1
            return clip.payload(self.law, self._position - 1)
        frame = self.nextFrame()
        if self.lineOnly:
            frame = (0,) * FRAME_SAMPLES
        cache = self._encoded.setdefault(self.law, {})
        payload = cache.get(frame)
        if payload is None:
            payload = g711.encode(self.law, frame)
            if len(cache) < _ENCODED_CACHE_SIZE:
                cache[frame] = payload
        return payload

    def receivePayload(self, payload: bytes) -> tuple[int, ...]:
        """
        Take one received G.711 payload.

        @param payload: the payload, in L{law}.
        @return: its linear samples (also kept when recording).
        """
        self.takePayload(payload)
        return g711.decode(self.law, payload)

    def takePayload(self, payload: bytes) -> None:
        """
        Take one received G.711 payload without returning its samples: it
        is decoded only when recording (or when L{lastReceived} is read).

        @param payload: the payload, in L{law}.
        """
        self._lastPayload = payload
        recorded = self._recorded
        if recorded is not None:
            room = self._recordLimit - len(recorded)
            recorded.extend(g711.decode(self.law, payload[:room]))
            full = self._recordFull
            if full is not None and len(recorded) >= self._recordLimit:
                self._recordFull = None
                full()

    def startRecording(self, limit: int = MAX_RECORD_SAMPLES,
                       full: Optional[Callable[[], None]] = None) -> None:
        """
        Start keeping received audio, discarding any earlier take.

        @param limit: the most samples kept; what comes after is dropped.
        @param full: called once, when the take holds C{limit} samples
            (the owner stops the recording and writes it).
        """
        self._recorded = array("h")
        self._recordLimit = limit
        self._recordFull = full

    def takeRecording(self) -> Optional["array[int]"]:
        """
        Stop recording and hand the take over as it is (16-bit samples,
        not copied: the owner writes it off the reactor thread).

        @return: the take, or L{None} when not recording.
        """
        recorded, self._recorded, self._recordFull = self._recorded, None, None
        return recorded

    def stopRecording(
            self, path: Optional[str] = None,
            encoding: WavEncoding = WavEncoding.PCM16) -> tuple[int, ...]:
        """
        Stop recording, and write the take to a WAV file if asked.

        @param path: where to write the recording, or L{None}.
        @param encoding: the WAV sample encoding.
        @return: the recorded linear samples (empty when not recording).
        @raise srst.ports.wav.WavError: when the file cannot be written;
            recording has stopped all the same.
        """
        samples = tuple(self.takeRecording() or ())
        if path is not None:
            writeWav(path, samples, encoding)
        return samples
