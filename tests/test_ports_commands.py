"""
Tests for L{srst.ports.commands}: C{show voice port summary} and the
C{voice-port <name> ...} commands that drive simulated lines.
"""

import json
import os
import stat
import threading
from functools import partial

from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.threads import deferToThreadPool
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.commands import registerVoicePortCommands
from srst.ports.interfaces import IVoicePortBackend
from twisted.python.failure import Failure
from srst.ports.tones import CallProgressTone
from srst.ports.simulated import SimulatedBackend
from srst.ports.voiceport import PortStatus, newVoicePort
from srst.ports.wav import MAX_WAV_BYTES, MAX_WAV_SECONDS, WavEncoding, readWav, writeWav

HEADER = [
    "                                           IN       OUT",
    "PORT            CH   SIG-TYPE   ADMIN OPER STATUS   STATUS   EC",
    "=============== == ============ ===== ==== ======== ======== ==",
]


class VoicePortCommandsTests(SynchronousTestCase):
    """
    The voice-port commands on an FXS port 1/0/0 and an FXO port 1/1/0.
    """

    def setUp(self):
        self.ports = []
        for name, signal in (("1/0/0", Signal.FXS_LOOP_START), ("1/1/0", Signal.FXO_LOOP_START)):
            backend = SimulatedBackend(name, signal)
            self.ports.append(newVoicePort(VoicePortConfig(name, signal), backend, G711Law.ULAW, debug=DebugSwitches()))
        self.fxs, self.fxo = self.ports
        self.table = CommandTable()
        registerVoicePortCommands(self.table, self.ports, runInThread=maybeDeferred)

    def execute(self, words):
        """
        Dispatch C{words} as the admin server does (a handler may answer
        with a L{Deferred}: here it has fired already).

        @return: the L{CommandResult}.
        @raise CommandError: when the command fails.
        """
        command, variables = self.table.lookup(words.split())
        result = command.handler(**variables)
        if isinstance(result, Deferred):
            outcome = []
            result.addBoth(outcome.append)
            [result] = outcome
            if isinstance(result, Failure):
                result.raiseException()
        self.assertIsInstance(result, CommandResult)
        return result

    def test_summaryIdle(self):
        """
        Idle ports show as up/dorm, FXS on-hook idle and FXO idle on-hook.
        """
        result = self.execute("show voice port summary")
        self.assertEqual(result.text.splitlines(), HEADER + [
            "1/0/0           --  fxs-ls       up    dorm on-hook  idle     y",
            "1/1/0           --  fxo-ls       up    dorm idle     on-hook  y",
        ])
        json.dumps(result.data)
        self.assertEqual(result.data[0]["oper"], "dorm")
        self.assertEqual(result.data[1]["signal"], "fxo-loop-start")

    def test_summaryActive(self):
        """
        An off-hook FXS port and a ringing FXO port show as up with their
        line states.
        """
        self.execute("voice-port 1/0/0 offhook")
        self.fxo.backend.ringLine("5551234")
        rows = self.execute("show voice port summary").text.splitlines()[3:]
        self.assertEqual(rows, [
            "1/0/0           --  fxs-ls       up    up   off-hook idle     y",
            "1/1/0           --  fxo-ls       up    up   ringing  on-hook  y",
        ])

    def test_summaryRinging(self):
        """
        An FXS port the engine rings shows ringing as its OUT STATUS.
        """
        self.fxs.ring("2001")
        row = self.execute("show voice port summary").text.splitlines()[3]
        self.assertEqual(row, "1/0/0           --  fxs-ls       up    up   on-hook  ringing  y")

    def test_offhookDialFlashOnhook(self):
        """
        The line commands drive the port and answer its new state.
        """
        result = self.execute("voice-port 1/0/0 offhook")
        self.assertEqual(result.text, "voice-port 1/0/0: offHook")
        self.assertIs(self.fxs.dsp.playing, CallProgressTone.DIAL)
        result = self.execute("voice-port 1/0/0 dial 2001")
        self.assertEqual(result.data["state"], "collecting")
        self.assertEqual(self.fxs.digits, "2001")
        self.execute("voice-port 1/0/0 flash")
        self.assertEqual(self.execute("voice-port 1/0/0 onhook").text, "voice-port 1/0/0: idle")
        self.assertIs(self.fxs.status, PortStatus.IDLE)

    def test_playAndRecord(self):
        """
        C{play} sends a WAV file towards the far end; C{record} writes what
        the far end sent when the line goes on hook.
        """
        source = self.mktemp() + ".wav"
        samples = [(i % 100) * 50 for i in range(FRAME_SAMPLES)]
        writeWav(source, samples)
        target = self.mktemp() + ".wav"
        self.execute("voice-port 1/0/0 offhook")
        self.fxs.connectMedia()
        self.execute(f"voice-port 1/0/0 play {source}")
        self.execute(f"voice-port 1/0/0 record {target}")
        sent = [self.fxs.nextPayload()]
        self.assertEqual(sent, g711.packetise(G711Law.ULAW, samples))
        self.fxs.receivePayload(sent[0])
        self.execute("voice-port 1/0/0 onhook")
        self.assertEqual(readWav(target).samples, g711.decode(G711Law.ULAW, sent[0]))

    def test_unknownPort(self):
        """
        An unknown port name is a L{CommandError} listing the ports.
        """
        error = self.assertRaises(CommandError, self.execute, "voice-port 9/9/9 offhook")
        self.assertEqual(str(error), "voice-port 9/9/9 does not exist (voice ports: 1/0/0, 1/1/0)")

    def test_badState(self):
        """
        A command the port's state does not allow is a L{CommandError}
        saying why.
        """
        error = self.assertRaises(CommandError, self.execute, "voice-port 1/0/0 onhook")
        self.assertEqual(str(error), "voice-port 1/0/0 is idle: cannot go on hook")
        error = self.assertRaises(CommandError, self.execute, "voice-port 1/0/0 dial 12")
        self.assertEqual(str(error), "voice-port 1/0/0 is idle: cannot dial")

    def test_lineErrors(self):
        """
        Telephone-side commands on an FXO port, bad digits and a missing WAV
        file are L{CommandError}s.
        """
        error = self.assertRaises(CommandError, self.execute, "voice-port 1/1/0 offhook")
        self.assertIn("FXO", str(error))
        self.execute("voice-port 1/0/0 offhook")
        error = self.assertRaises(CommandError, self.execute, "voice-port 1/0/0 dial 12z")
        self.assertIn("cannot dial '12z'", str(error))
        missing = self.mktemp()
        error = self.assertRaises(CommandError, self.execute, f"voice-port 1/0/0 play {missing}")
        self.assertIn(missing, str(error))

    def test_notSimulated(self):
        """
        A port behind another backend cannot be driven from the CLI.
        """
        port = newVoicePort(VoicePortConfig("2/0/0"), _OtherBackend(), G711Law.ULAW, debug=DebugSwitches())
        table = CommandTable()
        registerVoicePortCommands(table, [port], runInThread=maybeDeferred)
        command, variables = table.lookup("voice-port 2/0/0 offhook".split())
        error = self.assertRaises(CommandError, command.handler, **variables)
        self.assertEqual(str(error), "voice-port 2/0/0 is not a simulated line")


class PlayAndRecordSafetyTests(SynchronousTestCase):
    """
    C{play} reads only regular files within the limits, off the reactor
    thread; C{record} refuses a path it cannot write when it is given.
    """

    def setUp(self):
        backend = SimulatedBackend("1/0/0", Signal.FXS_LOOP_START)
        self.port = newVoicePort(VoicePortConfig("1/0/0", Signal.FXS_LOOP_START), backend, G711Law.ULAW,
                                 debug=DebugSwitches())
        self.queued = []
        self.table = CommandTable()
        registerVoicePortCommands(self.table, [self.port], runInThread=self.runLater)
        self.runInThread = maybeDeferred

    def runLater(self, f, *args):
        """
        A C{runInThread} that only queues the call, as a busy thread pool
        would, unless the test runs it at once (L{runInThread}).
        """
        if self.runInThread is not None:
            return self.runInThread(f, *args)
        d = Deferred()
        self.queued.append((f, args, d))
        return d

    def handle(self, words):
        """
        @return: the handler's answer (a L{Deferred} for C{play}).
        """
        command, variables = self.table.lookup(words.split())
        return command.handler(**variables)

    def refusal(self, words):
        """
        @return: the message of the L{CommandError} C{words} fail with (the
            CLI prints it after C{%}).
        """
        try:
            result = self.handle(words)
        except CommandError as e:
            return str(e)
        return str(self.failureResultOf(result, CommandError).value)

    def test_playReadsOffTheReactorThread(self):
        """
        C{play} hands the reading of its file to C{runInThread} and answers
        when it is done; meanwhile other commands are answered.
        """
        self.runInThread = None
        path = self.mktemp() + ".wav"
        samples = [(i % 50) * 100 for i in range(FRAME_SAMPLES)]
        writeWav(path, samples)
        self.handle("voice-port 1/0/0 offhook")
        pending = self.handle(f"voice-port 1/0/0 play {path}")
        self.assertNoResult(pending)
        self.assertEqual([(f.__name__, args) for f, args, _ in self.queued], [("loadWav", (path,))])
        self.assertIs(self.port.dsp.playing, CallProgressTone.DIAL)
        summary = self.handle("show voice port summary")
        self.assertIn("1/0/0           --  fxs-ls       up    up   off-hook idle     y", summary.text)
        f, args, d = self.queued.pop()
        d.callback(f(*args))
        self.assertEqual(self.successResultOf(pending).text, "voice-port 1/0/0: offHook")
        self.assertEqual(self.port.dsp.playing, path)

    def test_playDevice(self):
        """
        C{play /dev/zero} (which never ends) is refused without reading it.
        """
        self.assertEqual(self.refusal("voice-port 1/0/0 play /dev/zero"),
                         "voice-port 1/0/0: /dev/zero: not a regular file (a character device)")
        self.assertIsNone(self.port.dsp.playing)

    def test_playDirectory(self):
        """
        A directory is refused as no regular file.
        """
        path = self.mktemp()
        os.mkdir(path)
        self.assertEqual(self.refusal(f"voice-port 1/0/0 play {path}"),
                         f"voice-port 1/0/0: {path}: not a regular file (a directory)")

    def test_playOversized(self):
        """
        A file bigger than L{MAX_WAV_BYTES} is refused unread (it is sparse
        here: reading it would take the memory the limit protects).
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.truncate(MAX_WAV_BYTES + 1)
        self.assertEqual(self.refusal(f"voice-port 1/0/0 play {path}"),
                         f"voice-port 1/0/0: {path}: 4194305 bytes; the limit is 4194304 bytes "
                         f"(180 s of 8 kHz audio)")
        self.assertIsNone(self.port.dsp.playing)

    def test_playTooLong(self):
        """
        A file within the byte limit holding more than L{MAX_WAV_SECONDS}
        of audio (8-bit G.711 packs 8000 samples a second) is refused.
        """
        path = self.mktemp() + ".wav"
        writeWav(path, [0] * ((MAX_WAV_SECONDS + 1) * 8000), WavEncoding.ALAW)
        self.assertLess(os.path.getsize(path), MAX_WAV_BYTES)
        self.assertEqual(self.refusal(f"voice-port 1/0/0 play {path}"),
                         f"voice-port 1/0/0: {path}: 181.0 s of audio; the limit is 180 s")

    def test_playLongest(self):
        """
        A file of exactly L{MAX_WAV_SECONDS} of 16-bit audio plays.
        """
        path = self.mktemp() + ".wav"
        writeWav(path, [0] * (MAX_WAV_SECONDS * 8000))
        self.assertEqual(self.handle(f"voice-port 1/0/0 play {path}").result.text, "voice-port 1/0/0: idle")
        self.assertEqual(self.port.dsp.playing, path)

    def test_recordUnderAFile(self):
        """
        C{record} to a path whose directory is a regular file is refused
        when the command is given, and nothing is recorded.
        """
        parent = self.mktemp() + ".txt"
        with open(parent, "w") as f:
            f.write("not a directory")
        path = os.path.join(parent, "x.wav")
        self.assertEqual(self.refusal(f"voice-port 1/0/0 record {path}"),
                         f"voice-port 1/0/0: {path}: cannot write: Not a directory")
        self.assertFalse(self.port.dsp.recording)
        self.assertIsNone(self.port.backend.recordPath)

    def test_recordMissingDirectory(self):
        """
        C{record} into a directory that does not exist is refused at once.
        """
        path = os.path.join(self.mktemp(), "x.wav")
        self.assertEqual(self.refusal(f"voice-port 1/0/0 record {path}"),
                         f"voice-port 1/0/0: {path}: cannot write: No such file or directory")
        self.assertFalse(self.port.dsp.recording)

    def test_recordOverADevice(self):
        """
        C{record /dev/null} is refused: the recording would replace the
        device node with a regular file.
        """
        self.assertEqual(self.refusal("voice-port 1/0/0 record /dev/null"),
                         "voice-port 1/0/0: /dev/null: cannot write: not a regular file (a character device)")
        self.assertTrue(stat.S_ISCHR(os.stat("/dev/null").st_mode))

    def test_recordAgainLeavesNoTemporaryFile(self):
        """
        The file a recording opened is removed when another recording
        replaces it; the last one is written on hook, and nothing else is
        left in the directory.
        """
        directory = self.mktemp()
        os.mkdir(directory)
        first, second = os.path.join(directory, "a.wav"), os.path.join(directory, "b.wav")
        self.handle("voice-port 1/0/0 offhook")
        self.handle(f"voice-port 1/0/0 record {first}")
        self.handle(f"voice-port 1/0/0 record {second}")
        self.handle("voice-port 1/0/0 onhook")
        self.assertEqual(os.listdir(directory), ["b.wav"])
        self.assertEqual(readWav(second).samples, ())


class PlayThroughTheThreadPoolTests(TestCase):
    """
    C{play} with the reactor's own thread pool, as the router runs it.
    """

    timeout = 10

    def setUp(self):
        backend = SimulatedBackend("1/0/0", Signal.FXS_LOOP_START)
        self.port = newVoicePort(VoicePortConfig("1/0/0", Signal.FXS_LOOP_START), backend, G711Law.ULAW,
                                 debug=DebugSwitches())
        self.table = CommandTable()
        registerVoicePortCommands(self.table, [self.port],
                                  runInThread=partial(deferToThreadPool, reactor, reactor.getThreadPool()))

    def play(self, path):
        command, variables = self.table.lookup(["voice-port", "1/0/0", "play", path])
        return command.handler(**variables)

    def test_fifoWithNoWriter(self):
        """
        C{play} of a FIFO that nobody writes is refused at once: it is not
        a regular file.  (Before, the read blocked until a writer came; a
        timer thread opens the FIFO's write end after 2 s so that such a
        bug fails this test instead of hanging it.)
        """
        fifo = self.mktemp()
        os.mkfifo(fifo)
        rescue = threading.Timer(2.0, _openWriteEnd, [fifo])
        rescue.start()
        self.addCleanup(rescue.join)
        self.addCleanup(rescue.cancel)
        d = self.play(fifo)
        self.assertFailure(d, CommandError)
        d.addCallback(lambda e: self.assertEqual(
            str(e), f"voice-port 1/0/0: {fifo}: not a regular file (a FIFO)"))
        return d

    def test_playsAfterLoading(self):
        """
        A WAV file read in the thread pool plays once loaded.
        """
        path = self.mktemp() + ".wav"
        samples = [(i % 80) * 200 - 8000 for i in range(FRAME_SAMPLES * 2)]
        writeWav(path, samples)
        self.port.backend.offHook()

        def played(result):
            self.assertEqual(result.text, "voice-port 1/0/0: offHook")
            self.assertEqual(self.port.dsp.playing, path)
            self.port.connectMedia()
            self.assertEqual([self.port.nextPayload() for _ in range(2)], g711.packetise(G711Law.ULAW, samples))

        return self.play(path).addCallback(played)


def _openWriteEnd(fifo):
    """
    Open and close C{fifo}'s write end if a reader waits on it (never
    blocks: without a reader the open fails with ENXIO).
    """
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@implementer(IVoicePortBackend)
class _OtherBackend:
    """
    A backend that is not the CLI's simulated line (a hardware card, say).
    """

    name = "2/0/0"

    def attach(self, listener, dsp):
        "Nothing to attach."

    def ring(self, callerId):
        "No ringer."

    def stopRinging(self):
        "No ringer."

    def seize(self):
        "No hook relay."

    def release(self):
        "No hook relay."
