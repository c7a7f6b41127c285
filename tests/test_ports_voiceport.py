"""
Tests for L{srst.ports.voiceport}: the voice-port state machine, its DSP
tones, its listener events and the simulated line with WAV play and record.
"""

import os

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock, LoopingCall
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.interfaces import ILineListener, IVoicePortBackend, IVoicePortListener
from srst.ports.tones import CallProgressTone, ToneGenerator
from srst.ports.simulated import LineError, SimulatedBackend
from srst.ports.voiceport import PortStatus, VoicePortStateError, newVoicePort
from srst.ports.wav import MAX_RECORD_SECONDS, readWav, writeWav


@implementer(IVoicePortListener)
class Recorder:
    """
    Records every voice-port event as a tuple.
    """

    def __init__(self):
        self.events = []

    def offHook(self, port):
        self.events.append(("offHook", port.name))

    def onHook(self, port):
        self.events.append(("onHook", port.name))

    def digit(self, port, digit):
        self.events.append(("digit", digit))

    def flash(self, port):
        self.events.append(("flash", port.name))

    def incoming(self, port, callerId):
        self.events.append(("incoming", callerId))


def makePort(signal=Signal.FXS_LOOP_START, name="1/0/0"):
    """
    @return: a port on a simulated line, its backend and a subscribed
        L{Recorder}.
    """
    backend = SimulatedBackend(name, signal)
    port = newVoicePort(VoicePortConfig(name, signal), backend, G711Law.ULAW, debug=DebugSwitches())
    recorder = Recorder()
    port.subscribe(recorder)
    return port, backend, recorder


def peak(payload):
    """
    @return: the largest absolute linear sample of a µ-law payload.
    """
    return max(abs(s) for s in g711.decode(G711Law.ULAW, payload))


class InterfaceTests(SynchronousTestCase):
    """
    The port and the simulated backend provide their interfaces.
    """

    def test_provides(self):
        """
        L{SimulatedBackend} provides L{IVoicePortBackend}, the port
        L{ILineListener}.
        """
        port, backend, _ = makePort()
        self.assertTrue(verifyObject(IVoicePortBackend, backend))
        self.assertTrue(verifyObject(ILineListener, port))

    def test_listenerMustProvide(self):
        """
        Subscribing an object that is no L{IVoicePortListener} fails.
        """
        port, _, _ = makePort()
        self.assertRaises(TypeError, port.subscribe, object())

    def test_debugEvents(self):
        """
        What a port tells its listeners is logged in
        C{srst.debug.voiceport} through the switches it was given, while
        that category is on.
        """
        published = []
        switches = DebugSwitches(publisher=published.append)
        backend = SimulatedBackend("1/0/0", Signal.FXS_LOOP_START)
        port = newVoicePort(VoicePortConfig("1/0/0"), backend, debug=switches)
        backend.offHook()
        self.assertEqual(published, [])
        switches.enable("srst.debug.voiceport")
        backend.dial("5")
        self.assertEqual([(e["log_namespace"], e["port"], e["event"], e["args"]) for e in published],
                         [("srst.debug.voiceport", "1/0/0", "digit", ("5",))])
        self.assertEqual(port.digits, "5")

    def test_unsubscribe(self):
        """
        An unsubscribed listener hears nothing more.
        """
        port, backend, recorder = makePort()
        port.unsubscribe(recorder)
        backend.offHook()
        self.assertEqual(recorder.events, [])


class FxsTests(SynchronousTestCase):
    """
    An FXS port: the telephone goes off hook, dials, is rung.
    """

    def test_idle(self):
        """
        A new port is idle, its DSP plays silence and it sends nothing.
        """
        port, _, _ = makePort()
        self.assertIs(port.status, PortStatus.IDLE)
        self.assertEqual(peak(port.dsp.nextPayload()), 0)
        self.assertIsNone(port.nextPayload())

    def test_offHookDialTone(self):
        """
        Off hook, the DSP sends dial tone, the listener hears offHook and the
        payloads carry the 350 + 440 Hz tone exactly.
        """
        port, backend, recorder = makePort()
        backend.offHook()
        self.assertIs(port.status, PortStatus.OFF_HOOK)
        self.assertEqual(recorder.events, [("offHook", "1/0/0")])
        self.assertIs(port.dsp.playing, CallProgressTone.DIAL)
        expected = ToneGenerator(CallProgressTone.DIAL)
        for _ in range(3):
            payload = port.dsp.nextPayload()
            self.assertEqual(payload, g711.encode(G711Law.ULAW, expected.nextFrame()))
        self.assertGreater(peak(payload), 1000)

    def test_firstDigitSilence(self):
        """
        The first digit stops dial tone; every digit is reported and kept.
        """
        port, backend, recorder = makePort()
        backend.offHook()
        backend.dial("12#")
        self.assertIs(port.status, PortStatus.COLLECTING)
        self.assertEqual(recorder.events[1:], [("digit", "1"), ("digit", "2"), ("digit", "#")])
        self.assertEqual(port.digits, "12#")
        self.assertEqual(peak(port.dsp.nextPayload()), 0)

    def test_digitKeepsOtherTone(self):
        """
        A digit does not silence a tone the engine chose (only dial tone).
        """
        port, backend, _ = makePort()
        backend.offHook()
        port.playTone(CallProgressTone.REORDER)
        backend.dial("5")
        self.assertIs(port.dsp.playing, CallProgressTone.REORDER)
        port.stopTone()
        self.assertIsNone(port.dsp.playing)

    def test_flash(self):
        """
        A hook flash is reported and changes no state.
        """
        port, backend, recorder = makePort()
        backend.offHook()
        backend.flash()
        self.assertEqual(recorder.events[-1], ("flash", "1/0/0"))
        self.assertIs(port.status, PortStatus.OFF_HOOK)

    def test_onHook(self):
        """
        On hook the port is idle again, silent, with no digits.
        """
        port, backend, recorder = makePort()
        backend.offHook()
        backend.dial("1")
        backend.onHook()
        self.assertIs(port.status, PortStatus.IDLE)
        self.assertEqual(recorder.events[-1], ("onHook", "1/0/0"))
        self.assertEqual(port.digits, "")
        self.assertIsNone(port.dsp.playing)

    def test_ringAndAnswer(self):
        """
        The engine rings the port; going off hook answers: ringing stops,
        the port is connected and the listener hears offHook.
        """
        port, backend, recorder = makePort()
        port.ring("2001")
        self.assertIs(port.status, PortStatus.RINGING)
        self.assertEqual((backend.ringing, backend.callerId, backend.ringCount), (True, "2001", 1))
        backend.offHook()
        self.assertIs(port.status, PortStatus.CONNECTED)
        self.assertFalse(backend.ringing)
        self.assertEqual(recorder.events, [("offHook", "1/0/0")])

    def test_stopRinging(self):
        """
        When the caller gives up, ringing stops and the port is idle.
        """
        port, backend, _ = makePort()
        port.ring(None)
        port.stopRinging()
        self.assertIs(port.status, PortStatus.IDLE)
        self.assertFalse(backend.ringing)

    def test_badStates(self):
        """
        Dialling on hook, ringing an off-hook port, releasing an FXS port or
        going off hook twice raise L{VoicePortStateError} with a clear message.
        """
        port, backend, _ = makePort()
        error = self.assertRaises(VoicePortStateError, backend.dial, "1")
        self.assertEqual(str(error), "voice-port 1/0/0 is idle: cannot dial")
        backend.offHook()
        self.assertRaises(VoicePortStateError, backend.offHook)
        self.assertRaises(VoicePortStateError, port.ring, "1")
        self.assertRaises(VoicePortStateError, port.release)
        self.assertIs(port.status, PortStatus.OFF_HOOK)

    def test_badDigits(self):
        """
        Characters that are no DTMF digit are refused before any is sent.
        """
        port, backend, recorder = makePort()
        backend.offHook()
        error = self.assertRaises(LineError, backend.dial, "12x")
        self.assertIn("cannot dial '12x'", str(error))
        self.assertEqual(port.digits, "")


class MediaTests(SynchronousTestCase):
    """
    Connecting media, and playing and recording WAV files on the simulated
    line.
    """

    def test_connectMedia(self):
        """
        Connected, every interval's payload is sent (and counted), dial tone
        stopped; disconnected, nothing is, and the port stays off hook.
        """
        port, backend, _ = makePort()
        backend.offHook()
        self.assertIsNone(port.nextPayload())
        port.connectMedia()
        self.assertIs(port.status, PortStatus.CONNECTED)
        self.assertIsNone(port.dsp.playing)
        payload = port.nextPayload()
        self.assertEqual(payload, bytes([G711Law.ULAW.silence]) * FRAME_SAMPLES)
        self.assertEqual(port.txPackets, 1)
        port.disconnectMedia()
        self.assertIsNone(port.nextPayload())
        self.assertEqual(port.txPackets, 1)
        self.assertIs(port.status, PortStatus.OFF_HOOK)

    def test_connectIdle(self):
        """
        An idle port has no media to connect.
        """
        port, _, _ = makePort()
        self.assertRaises(VoicePortStateError, port.connectMedia)

    def test_playWav(self):
        """
        A played WAV file reaches the far end frame by frame, then silence.
        """
        samples = [((i * 37) % 2000) - 1000 for i in range(2 * FRAME_SAMPLES)]
        path = self.mktemp() + ".wav"
        writeWav(path, samples)
        port, backend, _ = makePort()
        backend.offHook()
        port.connectMedia()
        backend.play(path)
        sent = [port.nextPayload() for _ in range(3)]
        self.assertEqual(sent[:2], g711.packetise(G711Law.ULAW, samples))
        self.assertEqual(peak(sent[2]), 0)

    def test_playBadWav(self):
        """
        A file that is no WAV is reported as a L{LineError} naming it.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"not a wav")
        port, backend, _ = makePort()
        error = self.assertRaises(LineError, backend.play, path)
        self.assertIn(path, str(error))

    def test_record(self):
        """
        What the far end sends while recording is written to the WAV file
        when the line goes on hook.
        """
        port, backend, _ = makePort()
        path = self.mktemp() + ".wav"
        backend.offHook()
        port.connectMedia()
        backend.record(path, maybeDeferred)
        frame = g711.encode(G711Law.ULAW, ToneGenerator(CallProgressTone.BUSY).nextFrame())
        port.receivePayload(frame)
        port.receivePayload(frame)
        self.assertFalse(os.path.exists(path))
        backend.onHook()
        audio = readWav(path)
        self.assertEqual(audio.samples, g711.decode(G711Law.ULAW, frame) * 2)
        self.assertEqual(port.rxPackets, 2)
        self.assertIsNone(backend.recordPath)


class RecordingLimitTests(SynchronousTestCase):
    """
    A recording is bounded like a file played (L{MAX_RECORD_SECONDS}) and
    written through the C{runInThread} it was started with.
    """

    def setUp(self):
        self.port, self.backend, _ = makePort()
        self.directory = self.mktemp()
        os.mkdir(self.directory)
        self.path = os.path.join(self.directory, "call.wav")
        self.queued = []
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.backend.offHook()
        self.port.connectMedia()

    def queue(self, f, *args):
        """A C{runInThread} that only queues the call, as a thread pool would."""
        d = Deferred()
        self.queued.append((d, f, args))
        return d

    def runQueued(self):
        """Run the queued calls, as the thread pool would, and fire their L{Deferred}s."""
        queued, self.queued = self.queued, []
        for d, f, args in queued:
            maybeDeferred(f, *args).chainDeferred(d)

    def logged(self):
        """@return: the text of what the simulated line logged."""
        return [formatEvent(e) for e in self.events if e.get("log_namespace") == "srst.ports.simulated.SimulatedBackend"]

    def test_stopsAtTheLimit(self):
        """
        Fed 20 ms frames on the clock for longer than the limit, a
        recording stops at L{MAX_RECORD_SECONDS}, is written off the
        reactor thread and a log line says so; later frames are not kept
        and the hang-up writes nothing more.
        """
        clock = Clock()
        frame = g711.encode(G711Law.ULAW, ToneGenerator(CallProgressTone.BUSY).nextFrame())
        feed = LoopingCall(self.port.takePayload, frame)
        feed.clock = clock
        feed.start(0.02, now=False)
        self.addCleanup(feed.stop)
        self.backend.record(self.path, self.queue)
        clock.pump([0.02] * (MAX_RECORD_SECONDS * 50 - 10))
        self.assertEqual((self.backend.recordPath, self.queued, self.logged()), (self.path, [], []))
        clock.pump([0.02] * 100)
        self.assertIsNone(self.backend.recordPath)
        self.assertFalse(self.port.dsp.recording)
        self.assertFalse(os.path.exists(self.path))
        self.runQueued()
        audio = readWav(self.path)
        self.assertEqual(len(audio.samples), MAX_RECORD_SECONDS * 8000)
        self.assertEqual(audio.samples[:FRAME_SAMPLES], g711.decode(G711Law.ULAW, frame))
        self.assertEqual(self.logged(), [
            f"voice-port 1/0/0: recording stopped at the limit of 180 s; written to {self.path}"])
        self.assertGreater(self.port.rxPackets, MAX_RECORD_SECONDS * 50)
        self.assertEqual(self.successResultOf(self.backend.onHook()), ())
        self.assertEqual(self.queued, [])

    def test_limitUnwritable(self):
        """
        A recording that reaches the limit but cannot be written is logged
        as an error naming the file and the reason.
        """
        self.backend.record(self.path, self.queue)
        frame = g711.encode(G711Law.ULAW, (0,) * FRAME_SAMPLES)
        for _ in range(MAX_RECORD_SECONDS * 50):
            self.port.takePayload(frame)
        for name in os.listdir(self.directory):
            os.unlink(os.path.join(self.directory, name))
        os.rmdir(self.directory)
        self.runQueued()
        [line] = self.logged()
        self.assertTrue(line.startswith(f"voice-port 1/0/0: recording stopped at the limit of 180 s; {self.path}:"
                                        " cannot write: "), line)

    def test_hangUpWritesOffTheReactorThread(self):
        """
        On hook, the recording is written through the C{runInThread} it was
        started with: nothing is written until that runs, then the hang-up's
        L{Deferred} fires with the samples.
        """
        self.backend.record(self.path, self.queue)
        frame = g711.encode(G711Law.ULAW, ToneGenerator(CallProgressTone.BUSY).nextFrame())
        self.port.takePayload(frame)
        written = self.backend.onHook()
        self.assertNoResult(written)
        self.assertFalse(os.path.exists(self.path))
        self.runQueued()
        self.assertEqual(self.successResultOf(written), g711.decode(G711Law.ULAW, frame))
        self.assertEqual(readWav(self.path).samples, g711.decode(G711Law.ULAW, frame))

    def test_discard(self):
        """
        A recording given up (the router stops) writes nothing, leaves no
        temporary file and says so.
        """
        self.backend.record(self.path, self.queue)
        self.assertEqual(len(os.listdir(self.directory)), 1)
        self.backend.discardRecording("the router is stopping")
        self.assertEqual((os.listdir(self.directory), self.queued), ([], []))
        self.assertFalse(self.port.dsp.recording)
        self.assertEqual(self.logged(), [f"voice-port 1/0/0: recording to {self.path} given up: the router is stopping"])

    def test_runInThreadRequired(self):
        """
        A recording cannot be started without saying how it is written:
        there is no default that would write on the reactor thread, so a
        caller that forgets the C{runInThread} fails at once and nothing is
        opened or recorded.
        """
        error = self.assertRaises(TypeError, self.backend.record, self.path)
        self.assertIn("runInThread", str(error))
        self.assertEqual((os.listdir(self.directory), self.backend.recordPath), ([], None))
        self.assertFalse(self.port.dsp.recording)


class FxoTests(SynchronousTestCase):
    """
    An FXO port: the exchange rings it, the engine seizes and releases it.
    """

    def test_incomingAndSeize(self):
        """
        Ringing from the exchange is reported with its caller id; seizing
        answers it and releasing puts the line back on hook.
        """
        port, backend, recorder = makePort(Signal.FXO_LOOP_START, "1/1/0")
        backend.ringLine("5551234")
        self.assertIs(port.status, PortStatus.RINGING)
        self.assertEqual(recorder.events, [("incoming", "5551234")])
        port.seize()
        self.assertIs(port.status, PortStatus.CONNECTED)
        self.assertTrue(backend.seized)
        port.release()
        self.assertIs(port.status, PortStatus.IDLE)
        self.assertFalse(backend.seized)

    def test_ringingStopped(self):
        """
        When the exchange stops ringing before the seize, the port is idle.
        """
        port, backend, recorder = makePort(Signal.FXO_LOOP_START, "1/1/0")
        backend.ringLine(None)
        backend.stopRingLine()
        self.assertIs(port.status, PortStatus.IDLE)
        self.assertEqual(recorder.events[-1], ("onHook", "1/1/0"))

    def test_seizeOutgoingNoDialTone(self):
        """
        Seizing an idle FXO line takes it off hook without local dial tone
        (the exchange gives it).
        """
        port, backend, _ = makePort(Signal.FXO_LOOP_START, "1/1/0")
        port.seize()
        self.assertIs(port.status, PortStatus.OFF_HOOK)
        self.assertIsNone(port.dsp.playing)

    def test_telephoneSideRefused(self):
        """
        An FXO line cannot be taken off hook or dialled from the telephone
        side.
        """
        port, backend, _ = makePort(Signal.FXO_LOOP_START, "1/1/0")
        error = self.assertRaises(LineError, backend.offHook)
        self.assertIn("FXO", str(error))
        self.assertRaises(LineError, backend.dial, "1")
        self.assertIs(port.status, PortStatus.IDLE)
