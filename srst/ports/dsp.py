# -*- test-case-name: tests.test_ports_dsp -*-
"""
The simulated DSP behind a voice port: what the port sends towards the
network every 20 ms (a call-progress tone, a WAV announcement, or
silence) as G.711 payloads, and what it receives, decoded and optionally
recorded.

It is driven from outside: the media transport calls L{SimulatedDsp.
nextPayload} once per packet interval on its own clock and hands every
received payload to L{SimulatedDsp.receivePayload}.  No timers, no I/O
except reading and writing WAV files when asked.
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence, Union

from attrs import define, field, setters, validators

from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.tones import CallProgressTone, ToneGenerator
from srst.ports.wav import WavEncoding, readWav, writeWav


_ENCODED_CACHE_SIZE = 512
"""Distinct frames whose G.711 payload a DSP keeps (tones and silence repeat)."""


@define(on_setattr=setters.NO_OP)
class SimulatedDsp:
    """
    One voice port's DSP channel.

    @ivar law: the G.711 law of the payloads sent and received.
    @ivar playing: what is being played: a L{CallProgressTone}, the name
        of a WAV file or C{"samples"}, or L{None} for silence.
    @ivar recording: whether received audio is being kept.
    """

    law: G711Law = field(validator=validators.instance_of(G711Law))
    playing: Union[CallProgressTone, str, None] = field(default=None,
                                                        init=False)
    _frames: Optional[Iterator[tuple[int, ...]]] = field(default=None,
                                                         init=False)
    _recorded: Optional[list[int]] = field(default=None, init=False)
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

    def playTone(self, tone: CallProgressTone) -> None:
        """
        Start a call-progress tone from the beginning of its cadence,
        replacing whatever was playing.

        @param tone: the tone.
        """
        self._frames = iter(ToneGenerator(tone))
        self.playing = tone

    def playSamples(self, samples: Sequence[int],
                    name: str = "samples") -> None:
        """
        Play linear PCM once, then fall silent.

        @param samples: signed 16-bit samples at 8 kHz.
        @param name: what L{playing} shows meanwhile.
        """
        self._frames = g711.frames(samples, FRAME_SAMPLES)
        self.playing = name

    def playWav(self, path: str) -> None:
        """
        Play an 8 kHz mono WAV file once, then fall silent.

        @param path: the file.
        @raise srst.ports.wav.WavError: when it cannot be read or is not
            8 kHz mono PCM, A-law or µ-law; what was playing continues.
        """
        self.playSamples(readWav(path).samples, name=path)

    def stop(self) -> None:
        """Stop playing: send silence."""
        self._frames = None
        self.playing = None

    def nextFrame(self) -> tuple[int, ...]:
        """
        The next 20 ms of linear audio to send.

        @return: 160 signed 16-bit samples.
        """
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
        frame = self.nextFrame()
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
        if self._recorded is not None:
            self._recorded.extend(g711.decode(self.law, payload))

    def startRecording(self) -> None:
        """Start keeping received audio, discarding any earlier take."""
        self._recorded = []

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
        samples = tuple(self._recorded or ())
        self._recorded = None
        if path is not None:
            writeWav(path, samples, encoding)
        return samples
