# -*- test-case-name: tests.test_ports_voiceport -*-
"""
The simulated line behind a voice port: a software telephone (FXS) or
exchange (FXO), driven by C{srst-cli voice-port <name> offhook | onhook |
dial <digits> | flash | play <wav> | record <wav>} and by tests.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from attrs import define
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.ports.config import Signal
from srst.ports.dsp import SimulatedDsp
from srst.ports.interfaces import ILineListener, IVoicePortBackend
from srst.ports.wav import MAX_RECORD_SECONDS, WavError, WavWriter, openWavWriter

RunInThread = Callable[..., "Deferred[Any]"]
"""Runs a blocking call off the reactor thread; a L{Deferred} of its result."""

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
    the line goes on hook, on L{stopRecording}, or when it reaches
    L{MAX_RECORD_SECONDS} (logged), through the C{runInThread} given to
    L{record}: off the reactor thread in the router.  A recording running
    when the router stops is given up (L{discardRecording}): its temporary
    file is removed.

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
    _runInThread: RunInThread | None = None

    log = Logger()

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

    def onHook(self) -> "Deferred[tuple[int, ...]]":
        """
        Hang up; a running recording is written.

        @return: what L{stopRecording} returns.
        @raise LineError: on an FXO port.
        @raise VoicePortStateError: when already on hook.
        """
        self._fxs("go on hook")
        self._listener.lineOnHook()
        return self.stopRecording()

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

    def record(self, path: str, runInThread: RunInThread) -> None:
        """
        Record what the far end sends, to be written to C{path} when the
        line goes on hook or the recording reaches L{MAX_RECORD_SECONDS}.
        The file is opened now, so a path that cannot be written is refused
        before anything is recorded; a recording already running is given
        up.

        @param runInThread: what writes the file: the router's thread
            pool (required, so that no caller writes on the reactor thread
            by forgetting it; tests pass a synchronous runner).
        @raise LineError: when C{path} cannot be written.
        """
        try:
            writer = openWavWriter(path)
        except WavError as e:
            raise LineError(self.name, str(e)) from None
        if self._recording is not None:
            self._recording.discard()
        self._recording = writer
        self._runInThread = runInThread
        self._dsp.startRecording(full=self._recordingFull)
        self.recordPath = path

    def _recordingFull(self) -> None:
        """The recording reached its limit: stop it, write it, say so."""
        path = self.recordPath

        def written(samples: tuple[int, ...]) -> None:
            self.log.info("voice-port {port}: recording stopped at the limit of {limit} s; written to {path}",
                          port=self.name, limit=MAX_RECORD_SECONDS, path=path, samples=len(samples))

        def failed(failure: Failure) -> None:
            failure.trap(LineError)
            self.log.error("voice-port {port}: recording stopped at the limit of {limit} s; {error}",
                           port=self.name, limit=MAX_RECORD_SECONDS, error=failure.value.reason)

        self.stopRecording().addCallbacks(written, failed)

    def stopRecording(self) -> "Deferred[tuple[int, ...]]":
        """
        Stop recording and write the WAV file (through the C{runInThread}
        given to L{record}).

        @return: a L{Deferred} firing with the recorded samples (empty when
            not recording) once the file is written, or failing with a
            L{LineError} when it cannot be.
        """
        writer, self._recording = self._recording, None
        self.recordPath = None
        samples = self._dsp.takeRecording()
        if samples is None or writer is None:
            if writer is not None:
                writer.discard()
            return succeed(tuple(samples or ()))

        runInThread = self._runInThread
        assert runInThread is not None

        def commit() -> tuple[int, ...]:
            assert writer is not None and samples is not None
            writer.commit(samples)
            return tuple(samples)

        def unwritable(failure: Failure) -> Failure:
            failure.trap(WavError)
            return Failure(LineError(self.name, str(failure.value)))

        return runInThread(commit).addErrback(unwritable)

    def discardRecording(self, why: str) -> None:
        """
        Give a running recording up: nothing is written and its temporary
        file is removed (logged).

        @param why: the reason, for the log.
        """
        writer, self._recording = self._recording, None
        path, self.recordPath = self.recordPath, None
        self._dsp.takeRecording()
        if writer is not None:
            writer.discard()
            self.log.info("voice-port {port}: recording to {path} given up: {why}", port=self.name,
                          path=path, why=why)


__all__ = ["DTMF_DIGITS", "LineError", "SimulatedBackend"]
