# -*- test-case-name: tests.test_ports_voiceport -*-
"""
The simulated line behind a voice port: a software telephone (FXS) or
exchange (FXO), driven by C{srst-cli voice-port <name> offhook | onhook |
dial <digits> | flash | play <wav> | record <wav>} and by tests.
"""

from __future__ import annotations

from typing import Sequence

from attrs import define
from zope.interface import implementer

from srst.ports.config import Signal
from srst.ports.dsp import SimulatedDsp
from srst.ports.interfaces import ILineListener, IVoicePortBackend
from srst.ports.wav import WavError, WavWriter, openWavWriter

DTMF_DIGITS = frozenset("0123456789*#ABCD")
"""The digits a line can carry."""


class LineError(ValueError):
    """
    The simulated line was asked something it cannot do (bad digits, an
    FXO line taken off hook from the telephone side, unreadable WAV).
    """

    def __init__(self, port: str, reason: str) -> None:
        ValueError.__init__(self, port, reason)
        self.port = port
        self.reason = reason

    def __str__(self) -> str:
        return f"voice-port {self.port}: {self.reason}"


@implementer(IVoicePortBackend)
@define(eq=False)
class SimulatedBackend:
    """
    A software line, driven from C{srst-cli voice-port} or a test.

    For an FXS port it is the telephone: L{offHook}, L{onHook}, L{dial},
    L{flash}; it shows whether the port rings it.  For an FXO port it is the
    exchange: L{ringLine}, L{stopRingLine}, and it shows whether the port
    seized it.  Both can L{play} a WAV file towards the far end and
    L{record} what the far end sends; a recording's file is opened when it
    starts (a path that cannot be written is refused then) and written when
    the line goes on hook or on L{stopRecording}.

    @ivar name: the voice-port name.
    @ivar signal: the port's L{Signal}.
    @ivar ringing: whether ring voltage is applied (FXS) or the exchange
        rings (FXO).
    @ivar ringCount: how many times the port was rung.
    @ivar callerId: the caller id of the last ring.
    @ivar seized: FXO: whether the port holds the line off hook.
    @ivar outpulsed: FXO: the digits the port dialled towards the exchange.
    @ivar recordPath: where the running recording will be written.
    """

    name: str
    signal: Signal
    ringing: bool = False
    ringCount: int = 0
    callerId: str | None = None
    seized: bool = False
    outpulsed: str = ""
    recordPath: str | None = None
    _listener: ILineListener | None = None
    _dsp: SimulatedDsp | None = None
    _recording: WavWriter | None = None

    def attach(self, listener: ILineListener, dsp: SimulatedDsp) -> None:
        """See L{IVoicePortBackend.attach}."""
        self._listener = listener
        self._dsp = dsp

    def ring(self, callerId: str | None) -> None:
        """See L{IVoicePortBackend.ring}."""
        self.ringing = True
        self.ringCount += 1
        self.callerId = callerId

    def stopRinging(self) -> None:
        """See L{IVoicePortBackend.stopRinging}."""
        self.ringing = False

    def seize(self) -> None:
        """See L{IVoicePortBackend.seize}."""
        self.seized = True
        self.ringing = False

    def release(self) -> None:
        """See L{IVoicePortBackend.release}."""
        self.seized = False

    def outpulse(self, digits: str) -> None:
        """See L{IVoicePortBackend.outpulse}: the exchange hears them."""
        self.outpulsed += digits

    def _fxs(self, action: str) -> None:
        if not self.signal.isFxs:
            raise LineError(self.name, f"cannot {action}: an FXO port's hook and digits come from the exchange side")

    def offHook(self) -> None:
        """
        Lift the handset.

        @raise LineError: on an FXO port.
        @raise VoicePortStateError: when already off hook.
        """
        self._fxs("go off hook")
        self._listener.lineOffHook()

    def onHook(self) -> None:
        """
        Hang up; a running recording is written.

        @raise LineError: on an FXO port, or when the recording cannot be
            written.
        @raise VoicePortStateError: when already on hook.
        """
        self._fxs("go on hook")
        self._listener.lineOnHook()
        self.stopRecording()

    def dial(self, digits: str) -> None:
        """
        Dial DTMF digits, one line event each.

        @raise LineError: on an FXO port or for a character that is no digit.
        @raise VoicePortStateError: when on hook.
        """
        self._fxs("dial")
        bad = [c for c in digits if c.upper() not in DTMF_DIGITS]
        if not digits or bad:
            raise LineError(self.name, f"cannot dial {digits!r}: expected digits 0-9, *, #, A-D")
        for digit in digits:
            self._listener.lineDigit(digit.upper())

    def flash(self) -> None:
        """
        Hook flash.

        @raise LineError: on an FXO port.
        @raise VoicePortStateError: when on hook.
        """
        self._fxs("flash")
        self._listener.lineFlash()

    def ringLine(self, callerId: str | None = None) -> None:
        """
        FXO: the exchange rings the line.

        @raise VoicePortStateError: when the port is not idle.
        """
        self._listener.lineRinging(callerId)
        self.ringing = True
        self.callerId = callerId

    def stopRingLine(self) -> None:
        """
        FXO: the exchange stops ringing.

        @raise VoicePortStateError: when the port is not ringing.
        """
        self._listener.lineRingingStopped()
        self.ringing = False

    def play(self, path: str) -> None:
        """
        Play an 8 kHz mono WAV file towards the far end, reading it on the
        calling thread (the C{play} command reads it off the reactor thread
        with L{srst.ports.dsp.loadWav} and calls L{playSamples}).

        @raise LineError: when the file cannot be read, is no regular file,
            is too big or is not 8 kHz mono.
        """
        try:
            self._dsp.playWav(path)
        except WavError as e:
            raise LineError(self.name, str(e)) from None

    def playSamples(self, samples: Sequence[int], name: str) -> None:
        """
        Play linear PCM towards the far end (a WAV file loaded already).

        @param samples: signed 16-bit samples at 8 kHz.
        @param name: what the DSP shows as playing (the file's path).
        """
        self._dsp.playSamples(samples, name=name)

    def record(self, path: str) -> None:
        """
        Record what the far end sends, to be written to C{path} when the
        line goes on hook.  The file is opened now, so a path that cannot
        be written is refused before anything is recorded; a recording
        already running is given up.

        @raise LineError: when C{path} cannot be written.
        """
        try:
            writer = openWavWriter(path)
        except WavError as e:
            raise LineError(self.name, str(e)) from None
        if self._recording is not None:
            self._recording.discard()
        self._recording = writer
        self._dsp.startRecording()
        self.recordPath = path

    def stopRecording(self) -> tuple[int, ...]:
        """
        Stop recording and write the WAV file.

        @return: the recorded samples (empty when not recording).
        @raise LineError: when the file cannot be written.
        """
        writer, self._recording = self._recording, None
        self.recordPath = None
        if not self._dsp.recording:
            if writer is not None:
                writer.discard()
            return ()
        samples = self._dsp.stopRecording()
        if writer is not None:
            try:
                writer.commit(samples)
            except WavError as e:
                raise LineError(self.name, str(e)) from None
        return samples


__all__ = ["DTMF_DIGITS", "LineError", "SimulatedBackend"]
