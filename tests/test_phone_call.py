"""
Tests for L{srst.tools._phonecall} and the C{srst-phone call} / C{answer}
commands that use it: the commands run in-process
(L{srst.tools.phone.run}) against the real router on 127.0.0.1, TLS phones
with LSCs from the router's C{capf} phone trustpoint, as a person would run
them from two terminals.  Waits are Deferreds fired by what the commands
print.
"""

from __future__ import annotations

import io
import os
import random
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.media.rtp import decodeRtp
from srst.media.srtp import SrtpError, SrtpReceiver, generateKeys
from srst.ports import g711
from srst.ports.wav import readWav, writeWav
from srst.sccp.constants import SoftKeyEvent
from srst.tools import phone as cli
from srst.sccp.constants import Stimulus
from srst.tools._phonecall import SOFT_KEYS, UnknownButton, UnknownSoftKey, button, softKeyEvent
from srst.tools.cli import main as cliMain
from srst.tools.lsc import issueLSC, writeLSC
from tests.audiohelpers import normalizedXcorr
from tests.phonehelpers import registeredPhone, routerYamlWithCapf, synchronously
from tests.pkihelpers import writePem
from tests.routerhelpers import SECURE_CMF_HEAD, bounded, freePort, startRouter, stateDirectory, within
from tests.test_sccp_integration import PHONE_CA, now

ALICE, BOB, CAROL = "0000000000F1", "0000000000F2", "0000000000F3"

CMF = SECURE_CMF_HEAD + """
  max-ephones: 4
  max-dn: "10 dual-line"
  voicemail: "3003"
  transfer-system: full-consult
  max-conferences: 1
  ephones:
    - {mac: 0000.0000.00F1, type: "7970", buttons: [{line: 1, dn: "3001", label: "3001", name: Alice}],
       speed-dials: [{button: 2, number: "3002", label: Bob}]}
    - {mac: 0000.0000.00F2, type: "7970", buttons: [{line: 1, dn: "3002", label: "3002", name: Bob}]}
    - {mac: 0000.0000.00F3, type: "7970", buttons: [{line: 1, dn: "3003", label: "3003", name: Carol}]}
"""


class Lines(io.StringIO):
    """What a command prints, with a Deferred for a line to come."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: list[tuple[str, Deferred[None]]] = []

    def write(self, text: str) -> int:
        written = super().write(text)
        lines = self.lines()
        for entry in list(self._waiting):
            if entry[0] in lines:
                self._waiting.remove(entry)
                entry[1].callback(None)
        return written

    def lines(self) -> list[str]:
        """@return: the complete lines printed so far."""
        return self.getvalue().splitlines()

    def whenLine(self, line: str) -> Deferred[None]:
        """@return: a L{Deferred} firing once C{line} has been printed."""
        d: Deferred[None] = Deferred()
        self._waiting.append((line, d))
        self.write("")
        return d


class CtrlC:
    """
    The real reactor for a command, except that its shutdown triggers are
    kept here: L{interrupt} runs them, as Ctrl-C would.
    """

    def __init__(self) -> None:
        self.triggers: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        # TCP, UDP and time come from the real reactor.
        return getattr(reactor, name)

    def addSystemEventTrigger(self, phase: str, eventType: str, f: Any, *args: Any, **kwargs: Any) -> Any:
        self.triggers.append(f)
        return f

    def removeSystemEventTrigger(self, trigger: Any) -> None:
        self.triggers.remove(trigger)

    def interrupt(self) -> Deferred[Any]:
        """Press Ctrl-C: @return: a L{Deferred} for the triggers' work."""
        return gatherResults([maybeDeferred(f) for f in list(self.triggers)])


class SoftKeyNameTests(SynchronousTestCase):
    """
    Softkeys are named as the phone shows them.
    """

    def test_names(self) -> None:
        """
        DND, PickUp, GPickUp, Redial, Hold, Resume and Transfer (or the
        79xx's Trnsfer) name their events, in any case.
        """
        self.assertEqual([softKeyEvent(name) for name in ("DND", "pickup", "GPickUp", "Redial", "Hold",
                                                           "Resume", "Trnsfer", "Transfer", "NewCall")],
                         [SoftKeyEvent.DND, SoftKeyEvent.PICK_UP, SoftKeyEvent.GROUP_PICK_UP,
                          SoftKeyEvent.REDIAL, SoftKeyEvent.HOLD, SoftKeyEvent.RESUME,
                          SoftKeyEvent.TRANSFER, SoftKeyEvent.TRANSFER, SoftKeyEvent.NEW_CALL])
        self.assertIn("gpickup", SOFT_KEYS)

    def test_unknown(self) -> None:
        """An unknown name is refused with the names there are."""
        e = self.assertRaises(UnknownSoftKey, softKeyEvent, "Dance")
        self.assertIn("unknown softkey 'Dance'", str(e))
        self.assertIn("GPickUp", str(e))

    def test_buttons(self) -> None:
        """
        C{speeddial:N}, C{messages} and C{redial} name the speed-dial,
        Messages (voicemail) and Redial buttons; anything else is refused.
        """
        self.assertEqual([(k.stimulus, k.instance) for k in map(button, ["speeddial:2", "Messages", "redial"])],
                         [(Stimulus.SPEED_DIAL, 2), (Stimulus.VOICE_MAIL, 1), (Stimulus.LAST_NUMBER_REDIAL, 1)])
        for name in ("speeddial", "speeddial:x", "messages:1", "hold"):
            e = self.assertRaises(UnknownButton, button, name)
            self.assertIn("unknown button %r (one of: speeddial:N, messages, redial)" % (name,), str(e))

    def test_macOnCall(self) -> None:
        """C{call} takes C{--mac} as C{answer} does, the same as C{--from}."""
        args = cli.makeParser().parse_args(["call", "--mac", ALICE, "--to", "3002"])
        self.assertEqual((args.mac, args.number), (ALICE, "3002"))

    def test_usageErrors(self) -> None:
        """
        An unknown softkey name, call without --from and TLS without --ca
        are usage errors (exit 2) that name the problem.
        """
        for argv, text in [
                (["call", "--from", ALICE, "--softkey", "Dance"], "unknown softkey 'Dance'"),
                (["call", "--to", "3002"], "--from"),
                (["call", "--from", ALICE, "--button", "hold"], "unknown button 'hold'"),
                (["call", "--from", ALICE, "--to", "3002", "--blind"], "--blind needs --transfer-to"),
                (["call", "--from", ALICE, "--to", "3002", "--transfer-to", "3003", "--conference-with", "3004"],
                 "--transfer-to and --conference-with: one or the other"),
                (["answer", "--mac", BOB, "--tls"], "--tls needs --ca")]:
            err = io.StringIO()
            self.patch(cli.sys, "stderr", err)
            e = self.assertRaises(SystemExit, cli.makeParser().parse_args, argv)
            self.assertEqual(e.code, cli.EXIT_USAGE)
            self.assertIn(text, err.getvalue())


class UdpTap:
    """
    The real reactor for a command, except that every datagram its UDP
    ports receive is also kept here, as it was on the wire.
    """

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(reactor, name)

    def listenUDP(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> Any:
        received = protocol.datagramReceived

        def tapped(datagram: bytes, addr: Any) -> None:
            self.datagrams.append(datagram)
            received(datagram, addr)
        protocol.datagramReceived = tapped
        return reactor.listenUDP(port, protocol, interface, maxPacketSize)


class CallCommandTests(TestCase):
    """
    C{srst-phone call} and C{answer} against the real router, over TLS.
    """

    timeout = 30

    @bounded
    def setUp(self) -> Any:
        state = stateDirectory(self)
        self.service = yield startRouter(self, routerYamlWithCapf(state, CMF))
        self.port = self.service.ports()["sccp-secure"]
        self.ca = writePem(state, "router-ca.pem", self.service.certificateServer.caCertificate)
        self.files = state

    def tlsArguments(self, mac: str) -> list[str]:
        """@return: the TLS options of a phone with a fresh LSC for C{mac}."""
        cert, key = os.path.join(self.files, mac + ".pem"), os.path.join(self.files, mac + ".key")
        writeLSC(issueLSC(PHONE_CA.certificate, PHONE_CA.key, mac, now=now), cert, key)
        return ["--port", str(self.port), "--tls", "--ca", self.ca, "--cert", cert, "--key", key]

    def answer(self, mac: str, on: Any = reactor) -> tuple[Deferred[int], Lines, io.StringIO]:
        """Run C{answer} for the phone C{mac} over TLS: @return: as L{command}."""
        return self.command("answer", "--mac", mac, *self.tlsArguments(mac), on=on)

    @bounded
    def bobAndCarolWaiting(self, carolOn: Any = reactor) -> Any:
        """
        Run L{answer} for Bob and for Carol (stopped through C{carolOn}).

        @return: a L{Deferred} firing with both L{command} results once
            each phone is waiting for a call.
        """
        bob, carol = self.answer(BOB), self.answer(CAROL, on=carolOn)
        yield within(gatherResults([bob[1].whenLine("waiting for a call"), carol[1].whenLine("waiting for a call")]),
                     "waiting")
        return bob, carol

    def command(self, *argv: str, on: Any = reactor) -> tuple[Deferred[int], Lines, io.StringIO]:
        out, err = Lines(), io.StringIO()
        running = cli.run(on, list(argv), out, err, synchronously)
        # A test that fails while a command still runs (an answer waiting for
        # a call) must not leave it to hang the run: cancel it.
        self.addCleanup(lambda: None if running.called else running.cancel())
        return running, out, err

    @bounded
    def test_answerAndCall(self) -> Any:
        """
        Bob runs C{answer}, Alice C{call --to 3002 --hold 0}: Alice sees the
        call ring out and connect securely, Bob sees who calls and the
        secure connection; Alice hangs up, Bob sees it, both unregister and
        exit 0.
        """
        answering, bob, bobErr = self.answer(BOB)
        yield within(bob.whenLine("waiting for a call"), "Bob waiting")
        calling, alice, aliceErr = self.command("call", "--from", ALICE, "--to", "3002", "--hold", "0",
                                            *self.tlsArguments(ALICE))
        self.assertEqual((yield within(calling, "Alice's call")), cli.EXIT_OK, aliceErr.getvalue())
        self.assertEqual((yield within(answering, "Bob's answer")), cli.EXIT_OK, bobErr.getvalue())
        self.assertEqual([line for line in alice.lines() if not line.startswith("prompt:")], [
            "registered SEP0000000000F1, line 3001", "ringing out", "connected to 3002 (Bob) secure",
            "on hook", "unregistered"])
        self.assertEqual([line for line in bob.lines() if not line.startswith(("prompt:", "notify:"))], [
            "registered SEP0000000000F2, line 3002", "waiting for a call", "call from 3001 (Alice)",
            "connected to 3001 (Alice) secure", "on hook", "unregistered"])
        self.assertIn("prompt: Ring Out", alice.lines())

    @bounded
    def test_playAndRecord(self) -> Any:
        """
        Bob runs C{answer --record}, Alice C{call --play} over TLS: once the
        secure call connects Alice says her file into it and hangs up when
        it has been sent; Bob's recording is what she played (correlation
        at least 0.9), and what reached Bob's RTP port was SRTP: no packet
        carries the file's G.711 in clear, and none authenticates with a
        wrong key.
        """
        rng = random.Random(16)
        samples = [rng.randint(-12000, 12000) for _ in range(g711.SAMPLE_RATE * 3 // 5)]
        played, recorded = os.path.join(self.files, "alice.wav"), os.path.join(self.files, "bob.wav")
        writeWav(played, samples)
        wire = UdpTap()
        answering, bob, bobErr = self.command("answer", "--mac", BOB, "--record", recorded,
                                              *self.tlsArguments(BOB), on=wire)
        yield within(bob.whenLine("waiting for a call"), "Bob waiting")
        calling, alice, aliceErr = self.command("call", "--from", ALICE, "--to", "3002", "--play", played,
                                                *self.tlsArguments(ALICE))
        self.assertEqual((yield within(calling, "Alice's call")), cli.EXIT_OK, aliceErr.getvalue())
        self.assertEqual((yield within(answering, "Bob's answer")), cli.EXIT_OK, bobErr.getvalue())
        self.assertIn("played %s" % (played,), alice.lines())
        self.assertIn("connected to 3001 (Alice) secure", bob.lines())
        self.assertTrue(bob.lines()[-1].startswith("recorded "), bob.lines())
        self.assertTrue(bob.lines()[-1].endswith(" s to %s" % (recorded,)), bob.lines())
        heard = readWav(recorded).samples
        self.assertGreaterEqual(normalizedXcorr(samples, heard, maxLag=g711.FRAME_SAMPLES), 0.9)
        self.assertGreater(len(wire.datagrams), 10)
        clear = {g711.encode(law, frame) for law in g711.G711Law for frame in g711.frames(samples)}
        self.assertFalse([d for d in wire.datagrams if decodeRtp(d).payload in clear])
        wrong = SrtpReceiver(generateKeys())
        for datagram in wire.datagrams[:5]:
            self.assertRaises(SrtpError, wrong.unprotect, datagram)

    @bounded
    def test_unreadablePlayFile(self) -> Any:
        """
        C{--play} of a file that is not a WAV file, or C{--record} into a
        directory that does not exist: the command says which file and why,
        and exits 3 before the phone registers.
        """
        bogus = os.path.join(self.files, "notes.wav")
        with open(bogus, "w") as f:
            f.write("not audio")
        for option, path in [("--play", bogus), ("--record", os.path.join(self.files, "nowhere", "x.wav"))]:
            calling, out, err = self.command("call", "--from", ALICE, "--to", "3002", option, path,
                                             *self.tlsArguments(ALICE))
            self.assertEqual((yield calling), cli.EXIT_FILES)
            self.assertIn(path, err.getvalue())
            self.assertEqual(out.getvalue(), "")

    @bounded
    def test_holdAndResume(self) -> Any:
        """
        C{call --connected-softkey Hold --connected-softkey Resume}: once
        connected Alice's phone goes on hold, then is connected again.
        """
        answering, bob, bobErr = self.answer(BOB)
        yield within(bob.whenLine("waiting for a call"), "Bob waiting")
        calling, alice, err = self.command("call", "--from", ALICE, "--to", "3002", "--hold", "0",
                                           "--connected-softkey", "Hold", "--connected-softkey", "Resume",
                                           *self.tlsArguments(ALICE))
        self.assertEqual((yield within(calling, "Alice's call")), cli.EXIT_OK, err.getvalue())
        self.assertEqual((yield within(answering, "Bob's answer")), cli.EXIT_OK, bobErr.getvalue())
        self.assertEqual([line for line in alice.lines() if not line.startswith("prompt:")][2:], [
            "connected to 3002 (Bob) secure", "pressed Hold", "on hold", "pressed Resume",
            "connected to 3002 (Bob) secure", "on hook", "unregistered"])

    @bounded
    def test_unknownNumber(self) -> Any:
        """
        A call to a number nobody has ends in reorder: the prompt says why
        and the exit code is 5.
        """
        calling, alice, err = self.command("call", "--from", ALICE, "--to", "9999", *self.tlsArguments(ALICE))
        self.assertEqual((yield within(calling, "the call")), cli.EXIT_REORDER, err.getvalue())
        self.assertIn("prompt: Unknown Number", alice.lines())
        self.assertIn("reorder", alice.lines())
        self.assertEqual(alice.lines()[-2:], ["on hook", "unregistered"])

    @bounded
    def test_doNotDisturbGivesBusy(self) -> Any:
        """
        C{call --from Bob --softkey DND} turns DND on and keeps Bob
        registered; Alice calling him hears busy and exits 4; Ctrl-C
        unregisters Bob, who exits 0.
        """
        ctrlC = CtrlC()
        pressing, bob, err = self.command("call", "--from", BOB, "--softkey", "DND", *self.tlsArguments(BOB),
                                          on=ctrlC)
        yield within(bob.whenLine("prompt: DND"), "Bob's DND")
        calling, alice, aliceErr = self.command("call", "--from", ALICE, "--to", "3002",
                                                *self.tlsArguments(ALICE))
        self.assertEqual((yield within(calling, "the call")), cli.EXIT_BUSY, alice.getvalue())
        self.assertEqual([line for line in alice.lines() if line != "prompt: Enter Number"], [
            "registered SEP0000000000F1, line 3001", "prompt: CM Fallback Service Operating", "busy",
            "prompt: Busy", "on hook", "unregistered"])
        self.assertFalse(pressing.called)
        yield within(ctrlC.interrupt(), "Ctrl-C")
        self.assertEqual((yield within(pressing, "Bob")), cli.EXIT_OK, err.getvalue())
        self.assertEqual(bob.lines(), ["registered SEP0000000000F2, line 3002",
                                       "prompt: CM Fallback Service Operating", "pressed DND", "do not disturb on",
                                       "prompt: DND", "unregistered"])

    @bounded
    def test_pickUpThenDial(self) -> Any:
        """
        Alice calls Bob, who does not answer; Carol runs C{call --softkey
        PickUp --to 3002 --hold 0}: PickUp gives her dial tone, the number
        is dialled without another OffHook, and she is connected to Alice;
        when she hangs up Alice's call ends too.
        """
        yield registeredPhone(self, self.service, BOB)
        calling, alice, aliceErr = self.command("call", "--from", ALICE, "--to", "3002", *self.tlsArguments(ALICE))
        yield within(alice.whenLine("ringing out"), "Alice ringing out")
        picking, carol, err = self.command("call", "--from", CAROL, "--softkey", "PickUp", "--to", "3002",
                                           "--hold", "0", *self.tlsArguments(CAROL))
        self.assertEqual((yield within(picking, "Carol's pickup")), cli.EXIT_OK, err.getvalue())
        self.assertEqual((yield within(calling, "Alice's call")), cli.EXIT_OK, aliceErr.getvalue())
        self.assertEqual([line for line in carol.lines() if not line.startswith("prompt:")], [
            "registered SEP0000000000F3, line 3003", "pressed PickUp", "connected to 3001 (Alice) secure",
            "on hook", "unregistered"])
        self.assertIn("connected to 3003 (Carol) secure", alice.lines())

    def cli(self, *words: str) -> Deferred[tuple[int, str, str]]:
        """Run C{srst-cli} against the router's admin socket."""
        out, err = io.StringIO(), io.StringIO()
        d = deferToThread(cliMain, ["--socket", self.service.config.admin.socket] + list(words), out, err)
        return d.addCallback(lambda code: (code, out.getvalue(), err.getvalue()))

    @bounded
    def test_forwardAllThenForwardedCall(self) -> Any:
        """
        Bob runs C{call --softkey CFwdAll --to 3003 --hold 0}: CFwdAll, the
        digits and C{#} forward his line, he sees C{forwarded all to 3003}
        and exits 0.  Alice's call to 3002 rings Carol (running
        C{answer}), who sees who calls, that the call was forwarded from
        3002, and the caller (not her own number) once connected.  CFwdAll
        again cancels the forward.
        """
        code, bob, err = yield self.runToEnd("call", "--from", BOB, "--softkey", "CFwdAll", "--to", "3003",
                                        "--hold", "0", *self.tlsArguments(BOB))
        self.assertEqual(code, cli.EXIT_OK, bob.getvalue() + err.getvalue())
        self.assertEqual([line for line in bob.lines() if not line.startswith("prompt:")], [
            "registered SEP0000000000F2, line 3002", "pressed CFwdAll", "forwarded all to 3003", "on hook",
            "notify: Forwarded To3003", "unregistered"])
        answering, carol, carolErr = self.answer(CAROL)
        yield within(carol.whenLine("waiting for a call"), "Carol waiting")
        calling, alice, aliceErr = self.command("call", "--from", ALICE, "--to", "3002", "--hold", "0",
                                                *self.tlsArguments(ALICE))
        self.assertEqual((yield within(calling, "Alice's call")), cli.EXIT_OK, aliceErr.getvalue())
        self.assertEqual((yield within(answering, "Carol's answer")), cli.EXIT_OK, carolErr.getvalue())
        self.assertEqual([line for line in carol.lines() if not line.startswith(("prompt:", "notify:"))][2:], [
            "call from 3001 (Alice)", "forwarded from 3002 (forward all)", "connected to 3001 (Alice) secure",
            "on hook", "unregistered"])
        code, bob, err = yield self.runToEnd("call", "--from", BOB, "--softkey", "CFwdAll", "--hold", "0",
                                        *self.tlsArguments(BOB))
        self.assertEqual(code, cli.EXIT_OK, err.getvalue())
        self.assertIn("forward all cancelled", bob.lines())

    @bounded
    def runToEnd(self, *argv: str) -> Any:
        """Run a command to its end: @return: its exit code and output."""
        d, out, err = self.command(*argv)
        code = yield within(d, argv[0])
        return code, out, err

    @bounded
    def test_speedDialAndMessagesButtons(self) -> Any:
        """
        C{call --button speeddial:1} dials Alice's first speed dial (3002, Bob
        answers); C{call --mac ... --button messages} dials the voicemail
        number 3003 (Carol answers).
        """
        for button_, mac, called in [("speeddial:1", BOB, "3002 (Bob)"), ("messages", CAROL, "3003 (Carol)")]:
            answering, them, theirErr = self.answer(mac)
            yield within(them.whenLine("waiting for a call"), "waiting")
            code, alice, err = yield self.runToEnd("call", "--mac", ALICE, "--button", button_, "--hold", "0",
                                              *self.tlsArguments(ALICE))
            self.assertEqual(code, cli.EXIT_OK, alice.getvalue() + err.getvalue())
            self.assertEqual([line for line in alice.lines() if not line.startswith("prompt:")], [
                "registered SEP0000000000F1, line 3001", "pressed %s" % (button_,), "ringing out",
                "connected to %s secure" % (called,), "on hook", "unregistered"])
            self.assertEqual((yield within(answering, "answer")), cli.EXIT_OK, theirErr.getvalue())
            self.assertIn("call from 3001 (Alice)", them.lines())

    @bounded
    def test_messageWaitingLamp(self) -> Any:
        """
        While Bob's C{answer} waits, C{srst-cli mwi on 3002} and C{mwi off
        3002} show as C{message waiting on} and C{message waiting off}.
        """
        ctrlC = CtrlC()
        answering, bob, err = self.answer(BOB, on=ctrlC)
        yield within(bob.whenLine("waiting for a call"), "Bob waiting")
        for word in ("on", "off"):
            code, _, cliErr = yield self.cli("mwi", word, "3002")
            self.assertEqual(code, 0, cliErr)
            yield within(bob.whenLine("message waiting %s" % (word,)), "lamp " + word)
        yield within(ctrlC.interrupt(), "Ctrl-C")
        self.assertEqual((yield within(answering, "Bob")), cli.EXIT_OK, err.getvalue())
        self.assertEqual([line for line in bob.lines() if not line.startswith("prompt:")], [
            "registered SEP0000000000F2, line 3002", "waiting for a call", "message waiting on",
            "message waiting off", "unregistered"])

    @bounded
    def test_consultTransfer(self) -> Any:
        """
        Bob and Carol run C{answer}; Alice C{call --to 3002 --transfer-to
        3003}: once Bob answers she presses Trnsfer, dials 3003, and when
        Carol answers presses Trnsfer again; Alice's phone goes on hook,
        Bob and Carol each see the other.  Carol hangs up (Ctrl-C), Bob
        sees it.
        """
        ctrlC = CtrlC()
        (bobAnswering, bob, bobErr), (carolAnswering, carol, carolErr) = yield self.bobAndCarolWaiting(ctrlC)
        code, alice, err = yield self.runToEnd("call", "--from", ALICE, "--to", "3002", "--transfer-to", "3003",
                                               *self.tlsArguments(ALICE))
        self.assertEqual(code, cli.EXIT_OK, alice.getvalue() + err.getvalue())
        self.assertEqual([line for line in alice.lines() if not line.startswith("prompt:")], [
            "registered SEP0000000000F1, line 3001", "ringing out", "connected to 3002 (Bob) secure",
            "pressed Trnsfer", "on hold", "ringing out", "connected to 3003 (Carol) secure", "pressed Trnsfer",
            "on hook", "unregistered"])
        yield within(gatherResults([bob.whenLine("connected to 3003 (Carol) secure"),
                                    carol.whenLine("connected to 3002 (Bob) secure")]), "Bob and Carol")
        yield within(ctrlC.interrupt(), "Carol hangs up")
        self.assertEqual((yield within(carolAnswering, "Carol")), cli.EXIT_OK, carolErr.getvalue())
        self.assertEqual((yield within(bobAnswering, "Bob")), cli.EXIT_OK, bobErr.getvalue())
        self.assertEqual(bob.lines()[-2:], ["on hook", "unregistered"])

    @bounded
    def test_blindTransfer(self) -> Any:
        """
        C{call --to 3002 --transfer-to 3003 --blind}: Alice presses Trnsfer
        again as soon as 3003 rings (before Carol's C{answer} connects
        her) and goes on hook; Carol, rung by Alice, is connected to Bob.
        """
        ctrlC = CtrlC()
        (bobAnswering, bob, bobErr), (carolAnswering, carol, carolErr) = yield self.bobAndCarolWaiting(ctrlC)
        code, alice, err = yield self.runToEnd("call", "--from", ALICE, "--to", "3002", "--transfer-to", "3003",
                                               "--blind", *self.tlsArguments(ALICE))
        self.assertEqual(code, cli.EXIT_OK, alice.getvalue() + err.getvalue())
        self.assertEqual([line for line in alice.lines() if not line.startswith("prompt:")][2:], [
            "connected to 3002 (Bob) secure", "pressed Trnsfer", "on hold", "ringing out", "pressed Trnsfer",
            "on hook", "unregistered"])
        yield within(bob.whenLine("connected to 3003 (Carol) secure"), "Bob and Carol")
        yield within(ctrlC.interrupt(), "Carol hangs up")
        self.assertEqual((yield within(carolAnswering, "Carol")), cli.EXIT_OK, carolErr.getvalue())
        self.assertEqual((yield within(bobAnswering, "Bob")), cli.EXIT_OK, bobErr.getvalue())
        self.assertEqual([line for line in carol.lines() if not line.startswith(("prompt:", "notify:"))][2:], [
            "call from 3001 (Alice)", "connected to 3002 (Bob) secure", "on hook", "unregistered"])

    @bounded
    def test_transferToUnknownNumber(self) -> Any:
        """
        C{call --to 3002 --transfer-to 3999} where nobody has 3999: the
        consultation gets reorder, the tool ends it and the router gives
        Alice her held call with Bob back; she hangs up after C{--hold} and
        exits with the reorder code (5) rather than waiting forever.
        """
        bobAnswering, bob, bobErr = self.answer(BOB)
        yield within(bob.whenLine("waiting for a call"), "waiting")
        code, alice, err = yield self.runToEnd("call", "--from", ALICE, "--to", "3002", "--transfer-to", "3999",
                                               "--hold", "0", *self.tlsArguments(ALICE))
        bobCode = yield within(bobAnswering, "Bob")
        self.assertEqual(code, cli.EXIT_REORDER, alice.getvalue() + err.getvalue())
        self.assertEqual([line for line in alice.lines() if not line.startswith(("prompt:", "notify:"))], [
            "registered SEP0000000000F1, line 3001", "ringing out", "connected to 3002 (Bob) secure",
            "pressed Trnsfer", "on hold", "reorder", "transfer to 3999 failed", "pressed EndCall",
            "connected to 3002 (Bob) secure", "on hook", "unregistered"])
        self.assertEqual(bobCode, cli.EXIT_OK, bobErr.getvalue())

    @bounded
    def test_conference(self) -> Any:
        """
        Bob and Carol run C{answer}; Alice C{call --to 3002
        --conference-with 3003}: once Bob answers she presses Confrn, dials
        3003, and when Carol answers presses Confrn again; each of the three
        then sees the conference, secure.  Alice made it: when she hangs up
        (C{--hold 0}) IOS ends it for everyone, and all three exit 0 having
        unregistered.
        """
        (bobAnswering, bob, bobErr), (carolAnswering, carol, carolErr) = yield self.bobAndCarolWaiting()
        code, alice, err = yield self.runToEnd("call", "--from", ALICE, "--to", "3002", "--conference-with", "3003",
                                               "--hold", "0", *self.tlsArguments(ALICE))
        self.assertEqual(code, cli.EXIT_OK, alice.getvalue() + err.getvalue())
        self.assertEqual((yield within(bobAnswering, "Bob")), cli.EXIT_OK, bobErr.getvalue())
        self.assertEqual((yield within(carolAnswering, "Carol")), cli.EXIT_OK, carolErr.getvalue())
        self.assertEqual([line for line in alice.lines() if not line.startswith(("prompt:", "notify:"))], [
            "registered SEP0000000000F1, line 3001", "ringing out", "connected to 3002 (Bob) secure",
            "pressed Confrn", "on hold", "ringing out", "connected to 3003 (Carol) secure", "pressed Confrn",
            "connected to Conference secure", "on hook", "unregistered"])
        self.assertEqual([line for line in bob.lines() if not line.startswith(("prompt:", "notify:"))][2:], [
            "call from 3001 (Alice)", "connected to 3001 (Alice) secure", "connected to Conference secure",
            "on hook", "unregistered"])
        self.assertEqual([line for line in carol.lines() if not line.startswith(("prompt:", "notify:"))][2:], [
            "call from 3001 (Alice)", "connected to 3001 (Alice) secure", "connected to Conference secure",
            "on hook", "unregistered"])

    @bounded
    def test_abandonedConference(self) -> Any:
        """
        C{call --connected-softkey Confrn --hold 0}: Alice presses Confrn and
        dials nobody; the tool hangs up the consultation and then the call
        the router gives back (Bob's), and unregisters: exit 0, not 1 with
        the router refusing to unregister a phone with a call.
        """
        bobAnswering, bob, bobErr = self.answer(BOB)
        yield within(bob.whenLine("waiting for a call"), "waiting")
        code, alice, err = yield self.runToEnd("call", "--from", ALICE, "--to", "3002", "--connected-softkey",
                                               "Confrn", "--hold", "0", *self.tlsArguments(ALICE))
        self.assertEqual(code, cli.EXIT_OK, alice.getvalue() + err.getvalue())
        self.assertEqual(err.getvalue(), "")
        self.assertEqual(alice.lines()[-2:], ["on hook", "unregistered"])
        self.assertEqual((yield within(bobAnswering, "Bob")), cli.EXIT_OK, bobErr.getvalue())
        self.assertEqual(bob.lines()[-2:], ["on hook", "unregistered"])

    @bounded
    def test_conferenceWithUnknownNumber(self) -> Any:
        """
        C{call --to 3002 --conference-with 3999} where nobody has 3999: the
        consultation gets reorder, the tool ends it, the router gives Alice
        her call with Bob back, and she hangs up and exits with the reorder
        code (5).
        """
        bobAnswering, bob, bobErr = self.answer(BOB)
        yield within(bob.whenLine("waiting for a call"), "waiting")
        code, alice, err = yield self.runToEnd("call", "--from", ALICE, "--to", "3002", "--conference-with",
                                               "3999", "--hold", "0", *self.tlsArguments(ALICE))
        self.assertEqual(code, cli.EXIT_REORDER, alice.getvalue() + err.getvalue())
        self.assertEqual([line for line in alice.lines() if not line.startswith(("prompt:", "notify:"))][2:], [
            "connected to 3002 (Bob) secure", "pressed Confrn", "on hold", "reorder",
            "conference with 3999 failed", "pressed EndCall", "connected to 3002 (Bob) secure", "on hook",
            "unregistered"])
        self.assertEqual((yield within(bobAnswering, "Bob")), cli.EXIT_OK, bobErr.getvalue())

    @bounded
    def test_noConferenceBridge(self) -> Any:
        """
        With every bridge in use (C{max-conferences: 0} here), C{call --to
        3002 --conference-with 3003}: Confrn shows "No Conference Bridge",
        the call with Bob stays as it was, and Alice hangs up and exits with
        the reorder code (5) instead of dialling into her connected call.
        """
        yield self.service.stopService()
        state = stateDirectory(self)
        self.service = yield startRouter(self, routerYamlWithCapf(
            state, CMF.replace("max-conferences: 1", "max-conferences: 0")))
        self.port = self.service.ports()["sccp-secure"]
        self.ca = writePem(state, "router-ca.pem", self.service.certificateServer.caCertificate)
        bobAnswering, bob, bobErr = self.answer(BOB)
        yield within(bob.whenLine("waiting for a call"), "waiting")
        code, alice, err = yield self.runToEnd("call", "--from", ALICE, "--to", "3002", "--conference-with",
                                               "3003", "--hold", "0", *self.tlsArguments(ALICE))
        self.assertEqual(code, cli.EXIT_REORDER, alice.getvalue() + err.getvalue())
        self.assertEqual([line for line in alice.lines() if not line.startswith("prompt:")][2:], [
            "connected to 3002 (Bob) secure", "pressed Confrn", "notify: No Conference Bridge",
            "conference with 3003 failed", "on hook", "unregistered"])
        self.assertEqual((yield within(bobAnswering, "Bob")), cli.EXIT_OK, bobErr.getvalue())

    @bounded
    def test_notRegistered(self) -> Any:
        """
        With no router listening, C{call} says the phone did not register
        and exits 1.
        """
        calling, out, err = self.command("call", "--from", ALICE, "--to", "3002", "--port", str(freePort()))
        self.assertEqual((yield within(calling, "the call")), cli.EXIT_INCOMPLETE)
        self.assertIn("srst-phone: not registered:", err.getvalue())
        self.assertEqual(out.lines(), [])
