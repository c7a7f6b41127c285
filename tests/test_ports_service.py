"""
The running router routes a phone's call to a voice port through its
dial-peers (signalling only): real sockets, the service's own wiring, and the
operator's C{srst-cli voice-port} commands driving the simulated line.
"""

import os

from twisted.internet import reactor
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from srst.ports.voiceport import PortStatus
from srst.sccp import messages as m
from srst.sccp.constants import CallState as CallStateValue
from srst.sccp.constants import Stimulus
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import PhoneConfig
from srst.tools._phonewire import connectPhone
from tests.callhelpers import isCallState, isMessage, waitFor
from tests.dtmfhelpers import detectDigits
from tests.phonehelpers import registeredPhone
from tests.routerhelpers import bounded, routerYaml, runCommand, startRouter, stateDirectory

PORTS = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  auto-assign: {dn-range: "2000-2099"}
voice-ports:
  1/0/0: {signal: fxs-loop-start}
dial-peers:
  - {tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0}
"""


class PhoneToPortTests(TestCase):
    """
    A phone dials the seed's 81234 and voice port 1/0/0 rings.
    """

    timeout = 30

    @bounded
    def test_dialPortAndAnswer(self):
        """
        The port rings when a registered phone dials 81234; the operator takes
        the simulated line off hook and the phone sees the call connected; the
        phone hangs up and the port's call is cleared.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir, extra=PORTS))
        phone, dn = yield registeredPhone(self, service, "0000000000F1", tls=False, media=False)
        port = service.voicePorts[0]

        ringOut = waitFor(phone, isCallState(CallStateValue.RING_OUT))
        phone.offHook()
        phone.pressKeys("81234")
        yield ringOut
        self.assertEqual(port.status, PortStatus.RINGING)

        connected = waitFor(phone, isCallState(CallStateValue.CONNECTED))
        result = yield runCommand(service, "voice-port", "1/0/0", "offhook")
        self.assertEqual(result.exitCode, 0)
        yield connected
        self.assertEqual(port.status, PortStatus.CONNECTED)
        summary = yield runCommand(service, "show", "voice", "port", "summary")
        self.assertIn("1/0/0", summary.text)

        onHook = waitFor(phone, isCallState(CallStateValue.ON_HOOK))
        phone.onHook()
        yield onHook
        yield runCommand(service, "voice-port", "1/0/0", "onhook")
        self.assertEqual(port.status, PortStatus.IDLE)
        self.assertEqual(service.callEngine.calls(), [])


VOICEMAIL_PORT = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  auto-assign: {dn-range: "2000-2099"}
  voicemail: 81234
  vm-integration:
    pattern: {direct: ["*", CGN, "#"]}
voice-ports:
  1/0/0: {signal: fxs-loop-start}
dial-peers:
  - {tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0}
"""


class VoicemailPortTests(TestCase):
    """
    The running router wires C{voicemail} and C{vm-integration} to its
    voice ports: the Messages button reaches the voice-mail system on
    1/0/0, which hears the C{direct} pattern once it answers.
    """

    timeout = 30

    @bounded
    def test_messagesButtonReachesVoicemailPort(self):
        """
        A phone (auto-assigned 2000) presses Messages: 1/0/0 rings; the
        line answering connects the call and its DSP plays C{*2000#}.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir, extra=VOICEMAIL_PORT))
        phone, dn = yield registeredPhone(self, service, "0000000000F1", tls=False, media=False)
        port = service.voicePorts[0]
        ringOut = waitFor(phone, isCallState(CallStateValue.RING_OUT))
        phone.stimulus(Stimulus.VOICE_MAIL, 0)
        yield ringOut
        self.assertEqual(port.status, PortStatus.RINGING)
        connected = waitFor(phone, isCallState(CallStateValue.CONNECTED))
        yield runCommand(service, "voice-port", "1/0/0", "offhook")
        yield connected
        self.assertEqual(port.dsp.playing, "dtmf *2000#")
        self.assertEqual(detectDigits([sample for _ in range(60) for sample in port.dsp.nextFrame()]), "*2000#")


class RecordingAtStopTests(TestCase):
    """
    A recording running when the router stops is given up cleanly.
    """

    timeout = 30

    @bounded
    def test_stopRemovesTemporaryFile(self):
        """
        C{srst-cli voice-port 1/0/0 record FILE} opens a temporary file
        next to FILE; when the router stops mid-recording, that file is
        removed, nothing is written and the log says so.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir, extra=PORTS))
        directory = os.path.join(stateDir, "recordings")
        os.mkdir(directory)
        target = os.path.join(directory, "call.wav")
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        result = yield runCommand(service, "voice-port", "1/0/0", "record", target)
        self.assertEqual(result.exitCode, 0)
        self.assertEqual(len(os.listdir(directory)), 1)
        yield service.stopService()
        self.assertEqual(os.listdir(directory), [])
        self.assertIn(f"voice-port 1/0/0: recording to {target} given up: the router is stopping",
                      [formatEvent(e) for e in events])


class StopTests(TestCase):
    """
    Stopping the router takes its voice ports out of service.
    """

    timeout = 30

    @bounded
    def test_stopClearsCalls(self):
        """
        A port off hook (dialling, its inter-digit timer running) when the
        router stops has its call cleared: the engine keeps no leg of it and
        no timer of the call is left in the reactor.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir, extra=PORTS))
        result = yield runCommand(service, "voice-port", "1/0/0", "offhook")
        self.assertEqual(result.exitCode, 0)
        endpoint = service.portService.endpoints["1/0/0"]
        self.assertEqual(len(service.callEngine.legsOf(endpoint)), 1)
        engine = service.callEngine
        yield service.stopService()
        self.assertEqual(engine.legsOf(endpoint), [])
        self.assertEqual([c for c in reactor.getDelayedCalls() if c.func == engine.dialTimedOut], [])


DIALPLAN = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  dialplan-patterns:
    - {tag: 1, pattern: "40855501..", extension-length: 4}
  ephones:
    - {mac: 0000.0000.00E1, type: "7970", buttons: [{line: 1, dn: "0123"}]}
    - {mac: 0000.0000.00E2, type: "7970", buttons: [{line: 1, dn: "0124"}]}
voice-ports:
  1/0/0: {signal: fxs-loop-start}
dial-peers:
  - {tag: 9, type: pots, destination-pattern: "9.......", port: 1/0/0}
"""


class DialplanPatternTests(TestCase):
    """
    C{dialplan-pattern} in the running router over real sockets.
    """

    timeout = 30

    @bounded
    def test_fullNumberAndExternalCaller(self):
        """
        A phone dials the full number 4085550123 and extension 0123 rings,
        shown the caller's extension; the same phone's call to a voice port
        presents its full number 4085550124 as the port's caller id; C{show
        dialplan number} says where the full number goes; all calls clear.
        """
        stateDir = stateDirectory(self)
        service = yield startRouter(self, routerYaml(stateDir, extra=DIALPLAN))
        phones = []
        for mac in ("0000000000E1", "0000000000E2"):
            phone = SimulatedPhone(PhoneConfig(mac=mac), clock=reactor)
            connectPhone(reactor, phone, "127.0.0.1", service.ports()["sccp"])
            self.addCleanup(phone.stop)
            phones.append(phone)
        callee, caller = phones
        yield callee.whenRegistered()
        yield caller.whenRegistered()

        shown = yield runCommand(service, "show", "dialplan", "number", "4085550123")
        self.assertIn("dialplan-pattern 1 40855501.. extension-length 4: extension 0123", shown.text)
        self.assertIn("Matched: 0123   Digits: 4", shown.text)

        ringing = waitFor(callee, isMessage(m.CallInfo, callingParty="0124", calledParty="0123"),
                          what="CallInfo from 0124")
        ringOut = waitFor(caller, isCallState(CallStateValue.RING_OUT))
        caller.offHook()
        caller.pressKeys("4085550123")
        yield ringing
        yield ringOut
        since = len(caller.received)
        onHook = waitFor(caller, isCallState(CallStateValue.ON_HOOK), since=since)
        calleeIdle = waitFor(callee, isCallState(CallStateValue.ON_HOOK), since=len(callee.received))
        caller.onHook()
        yield onHook
        yield calleeIdle

        port = service.voicePorts[0]
        ringOut = waitFor(caller, isCallState(CallStateValue.RING_OUT), since=len(caller.received))
        caller.offHook()
        caller.pressKeys("95551234")
        yield ringOut
        self.assertEqual((port.status, port.callerId), (PortStatus.RINGING, "4085550124"))
        onHook = waitFor(caller, isCallState(CallStateValue.ON_HOOK), since=len(caller.received))
        caller.onHook()
        yield onHook
        self.assertEqual(port.status, PortStatus.IDLE)
        self.assertEqual(service.callEngine.calls(), [])
