"""
Tests for L{srst.ports.commands}: C{show voice port summary} and the
C{voice-port <name> ...} commands that drive simulated lines.
"""

import json

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from srst.debug import DebugSwitches
from srst.ports.config import Signal, VoicePortConfig
from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.ports import g711
from srst.ports.g711 import FRAME_SAMPLES, G711Law
from srst.ports.commands import registerVoicePortCommands
from srst.ports.interfaces import IVoicePortBackend
from srst.ports.tones import CallProgressTone
from srst.ports.simulated import SimulatedBackend
from srst.ports.voiceport import PortStatus, newVoicePort
from srst.ports.wav import readWav, writeWav

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
        registerVoicePortCommands(self.table, self.ports)

    def execute(self, words):
        """
        Dispatch C{words} as the admin server does.

        @return: the L{CommandResult}.
        """
        command, variables = self.table.lookup(words.split())
        result = command.handler(**variables)
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
        registerVoicePortCommands(table, [port])
        command, variables = table.lookup("voice-port 2/0/0 offhook".split())
        error = self.assertRaises(CommandError, command.handler, **variables)
        self.assertEqual(str(error), "voice-port 2/0/0 is not a simulated line")


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
