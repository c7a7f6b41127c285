"""
End-to-end three-party conference through the real router on 127.0.0.1
(L{srst.service.RouterService}, its bridges on the voice ports' media
resources): simulated phones, each saying its own tone
(L{srst.tools._phonemedia.sineFrames}); Alice calls Bob, presses Confrn,
dials Carol and presses Confrn again; each then hears the other two on the
router's bridge and not itself.  Clear-text phones, TLS phones with LSCs
(every leg SRTP with keys the router makes for that leg only), a mix of
the two, and C{conference-secure: false}.  Waits are Deferreds fired by
what the phones receive, with a bound.
"""

from __future__ import annotations

import math
import os
from typing import Any

import attrs
from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import TestCase

from srst.media.rtp import PayloadType, encodeRtp
from srst.media.srtp import SrtpError, SrtpReceiver, SrtpSender, generateKeys
from srst.ports.g711 import G711Law
from srst.ports.voiceport import PortStatus, VoicePort
from srst.sccp import messages as m
from srst.sccp.srtpkeys import fromKeyInfo
from srst.sccp.constants import CallSecurityStatus, CallState, SoftKeyEvent
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonemedia import sineFrames
from tests.audiohelpers import decodePayloads
from tests.callhelpers import answeredCall, expect, isCallState, waitUntil
from tests.dtmfhelpers import goertzelPower
from tests.phonehelpers import registeredPhone, routerYamlWithCapf
from tests.routerhelpers import SECURE_CMF_HEAD, bounded, freePort, routerYaml, runCommand, startRouter, stateDirectory
from tests.test_moh_integration import startFallbackRouter

ALICE, BOB, CAROL = "0000000000C1", "0000000000C2", "0000000000C3"
DN_B, DN_C = "5002", "5003"
TONES = (500.0, 1100.0, 1700.0)
"""Alice's, Bob's and Carol's voices."""

PHONES = """
  max-ephones: 4
  max-dn: 4
  max-conferences: 2
  ephones:
    - {mac: 0000.0000.00C1, type: "7970", buttons: [{line: 1, dn: "5001", name: Alice}]}
    - {mac: 0000.0000.00C2, type: "7970", buttons: [{line: 1, dn: "5002", name: Bob}]}
    - {mac: 0000.0000.00C3, type: "7970", buttons: [{line: 1, dn: "5003", name: Carol}]}
"""
"""The keys after the opening of either section: Alice, Bob and Carol, two bridges."""

CMF = """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0""" + PHONES

SECURE_CMF = SECURE_CMF_HEAD + PHONES
"""L{CMF} with a secure port and the phones' LSC issuer as a trustpoint."""

LIMITED_CMF = CMF.replace("max-ephones: 4", "max-ephones: 6").replace("max-dn: 4", "max-dn: 6").replace(
    "max-conferences: 2", "max-conferences: 1") + """\
    - {mac: 0000.0000.00C4, type: "7970", buttons: [{line: 1, dn: "5004", name: Dave}]}
    - {mac: 0000.0000.00C5, type: "7970", buttons: [{line: 1, dn: "5005", name: Erin}]}
"""
"""L{CMF} with one bridge and two more phones."""

DAVE, ERIN = "0000000000C4", "0000000000C5"
OTHER_TONES = (700.0, 1400.0)
"""Dave's and Erin's voices."""

PORT_NUMBER = "81234"
"""The FXS voice port 1/0/0's number (its dial-peer)."""

PORT_CMF = SECURE_CMF + """
voice-ports:
  1/0/0: {signal: fxs-loop-start}
dial-peers:
  - {tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, forward-digits: all}
"""
"""L{SECURE_CMF} with an FXS port as Carol."""

SETTLE = 5
"""Frames skipped at the start of a recording (the mix of the first, partly empty, slots)."""

RECORDED_FRAMES = 30


class ConferenceScenario:
    """
    The steps and checks every conference test shares (mixed into a
    L{TestCase} whose C{setUp} sets C{self.service}).
    """

    service: Any
    timeout = 20

    def lastRef(self, phone: SimulatedPhone, state: int, since: int = 0) -> int:
        """@return: the call reference of the last CallState C{state} since C{since}."""
        return [msg for msg in phone.received[since:] if isCallState(state)(msg)][-1].callReference

    @bounded
    def register(self, *tls: bool) -> Any:
        """
        @param tls: per phone (Alice, Bob, Carol), whether it registers
            over TLS with an LSC.
        @return: the three registered phones, each saying its own tone.
        """
        registered = yield gatherResults([registeredPhone(self, self.service, mac, tls=secure)
                                          for mac, secure in zip((ALICE, BOB, CAROL), tls)])
        phones = [phone for phone, dn in registered]
        for phone, frequency in zip(phones, TONES):
            phone.media.source = sineFrames(frequency)
        return phones

    @bounded
    def conference(self, a: SimulatedPhone, b: SimulatedPhone, c: SimulatedPhone | None,
                   port: VoicePort | None = None) -> Any:
        """
        Alice calls Bob, Confrn, dials Carol (or the voice port C{port}'s
        number, when C{c} is L{None}), Confrn: wait until the three are on
        one bridge, each phone receiving on one stream and sending on one.

        @return: the number of messages each phone had received before the
            second Confrn.
        """
        phones = [phone for phone in (a, b, c) if phone is not None]
        connected = yield answeredCall(a, b, DN_B)
        refAB = connected.callReference

        mark = len(a.received)
        a.softKey(SoftKeyEvent.CONFRN, 1, refAB)
        yield expect(a, isCallState(CallState.OFF_HOOK), "Alice's consult call", mark)
        refAC = self.lastRef(a, CallState.OFF_HOOK, mark)
        if c is not None:
            a.pressKeys(DN_C, 1, refAC)
            yield expect(c, isCallState(CallState.RING_IN), "Carol rings")
            c.offHook()
        else:
            assert port is not None
            a.pressKeys(PORT_NUMBER, 1, refAC)
            yield waitUntil(lambda: port.status is PortStatus.RINGING, "the port rings", a)
            port.backend.offHook()
        yield expect(a, isCallState(CallState.CONNECTED, refAC), "Alice connected to Carol", mark)
        talking = [phone for phone in (a, c) if phone is not None]
        yield waitUntil(lambda: all(len(phone.media.transmitters) == 1 for phone in talking),
                        "Alice and Carol talk", *phones)
        marks = [len(phone.received) for phone in phones]
        a.softKey(SoftKeyEvent.CONFRN, 1, refAC)

        def bridged() -> bool:
            conferences = self.service.mediaFarm.bridges.conferences()
            return (len(conferences) == 1 and len(conferences[0].ports) == 3
                    and all(port.started for port in conferences[0].ports.values())
                    and all(len(phone.media.channels) == 1 and len(phone.media.transmitters) == 1
                            for phone in phones))

        yield waitUntil(bridged, "three on the bridge", *phones)
        return marks

    @bounded
    def heardConference(self, *tls: bool, secure: bool) -> Any:
        """
        Register Alice, Bob and Carol (C{tls} as for L{register}) and
        conference them: each hears the other two; every phone is shown the
        conference encrypted if C{secure}, else not, and the bridge is
        secure or not alike.

        @return: C{(phones, marks)}, the marks as L{conference} returns them.
        """
        a, b, c = phones = yield self.register(*tls)
        marks = yield self.conference(a, b, c)
        yield self.record(*phones)
        self.assertHearsOthers(phones)
        self.assertConferenceSecurity(
            phones, marks, CallSecurityStatus.ENCRYPTED if secure else CallSecurityStatus.NOT_AUTHENTICATED)
        [conference] = self.service.mediaFarm.bridges.conferences()
        self.assertEqual(conference.secure, secure)
        return phones, marks

    @bounded
    def clearConference(self, *tls: bool) -> Any:
        """
        L{heardConference}, clear: every leg is also plain RTP.
        """
        phones, marks = yield self.heardConference(*tls, secure=False)
        self.assertClearLegs(phones)

    @bounded
    def portConference(self) -> Any:
        """
        Alice and Bob (TLS) conference the voice port 1/0/0, whose line
        says Carol's tone: each phone hears the other and the port, and the
        port's line hears both phones and not its own tone.

        @return: C{(phones, marks)}, the marks as L{conference} returns them.
        """
        a, b = phones = yield self.register(True, True)
        port = self.service.portService.port("1/0/0")
        marks = yield self.conference(a, b, None, port)
        port.backend.playSamples(sine(TONES[2], 4.0), name="carol")
        recording = os.path.join(stateDirectory(self), "carol.wav")
        port.backend.record(recording, self.service.runInThread)
        yield self.record(*phones)
        samples = yield port.backend.stopRecording()
        self.assertHearsOthers(phones)
        self.assertGreaterEqual(len(samples), (RECORDED_FRAMES - SETTLE) * 160)
        heard = samples[SETTLE * 160:RECORDED_FRAMES * 160]
        powers = [goertzelPower(heard, frequency) for frequency in TONES]
        self.assertGreater(min(powers[:2]), 1e9, "the port does not hear both phones: %r" % (powers,))
        self.assertLess(powers[2] * 100, min(powers[:2]), "the port hears its own tone: %r" % (powers,))
        return phones, marks

    @bounded
    def record(self, *phones: SimulatedPhone) -> Any:
        """Wait until each phone has decoded L{RECORDED_FRAMES} new frames."""
        for phone in phones:
            phone.media.payloads.clear()
            phone.media.captured.clear()
        yield waitUntil(lambda: all(len(phone.media.payloads) >= RECORDED_FRAMES for phone in phones),
                        "every participant hears the mix", *phones)

    def assertHearsOthers(self, phones: list[SimulatedPhone], tones: tuple[float, ...] = TONES) -> None:
        """
        Each phone's last recording holds the others' tones, and its own
        more than 20 dB below the weakest of them.
        """
        for n, phone in enumerate(phones):
            law = G711Law.ALAW if phone.media.lastPacket.payloadType == PayloadType.PCMA else G711Law.ULAW
            samples = decodePayloads(list(phone.media.payloads)[SETTLE:RECORDED_FRAMES], law)
            powers = [goertzelPower(samples, frequency) for frequency in tones]
            others = [power for k, power in enumerate(powers) if k != n]
            self.assertGreater(min(others), 1e9, "%s does not hear the others: %r" % (phone.deviceName, powers))
            self.assertLess(powers[n] * 100, min(others),
                            "%s hears its own %g Hz: %r" % (phone.deviceName, tones[n], powers))

    def assertHearsTones(self, phone: SimulatedPhone, hears: float, silent: tuple[float, ...]) -> None:
        """
        C{phone}'s last recording holds C{hears}, and each of C{silent} more
        than 20 dB below it.
        """
        law = G711Law.ALAW if phone.media.lastPacket.payloadType == PayloadType.PCMA else G711Law.ULAW
        samples = decodePayloads(list(phone.media.payloads)[SETTLE:RECORDED_FRAMES], law)
        heard = goertzelPower(samples, hears)
        self.assertGreater(heard, 1e9, "%s does not hear %g Hz" % (phone.deviceName, hears))
        for frequency in silent:
            self.assertLess(goertzelPower(samples, frequency) * 100, heard,
                            "%s hears %g Hz" % (phone.deviceName, frequency))

    def assertClearLegs(self, phones: list[SimulatedPhone]) -> None:
        """
        Each phone's conference leg is plain RTP: no key in its last ORC and
        SMT, and what it recorded are plain 172-byte RTP packets (no SRTP tag).
        """
        for phone in phones:
            self.assertEqual(phone.receivedOfType(m.OpenReceiveChannel)[-1].rxKey, m.NO_KEY)
            self.assertEqual(phone.receivedOfType(m.StartMediaTransmission)[-1].txKey, m.NO_KEY)
            [channel] = phone.media.channels.values()
            self.assertIsNone(channel.receiver)
            self.assertEqual({len(datagram) for datagram in phone.media.captured}, {12 + 160})

    def assertConferenceSecurity(self, phones: list[SimulatedPhone], marks: list[int],
                                 security: CallSecurityStatus) -> None:
        """
        Each phone was told, since its mark, that it talks to "Conference"
        with C{security}, and that is the last CallInfo it got.
        """
        for phone, mark in zip(phones, marks):
            infos = [msg for msg in phone.received[mark:] if isinstance(msg, m.CallInfo)]
            self.assertTrue(infos, "%s got no CallInfo for the conference" % (phone.deviceName,))
            self.assertIn("Conference", (infos[-1].callingPartyName, infos[-1].calledPartyName))
            self.assertEqual(infos[-1].callSecurityStatus, security, phone.deviceName)
            self.assertIs(phone.receivedOfType(m.CallInfo)[-1], infos[-1])


def onHook(phone: SimulatedPhone) -> bool:
    """@return: whether the phone's last CallState is OnHook."""
    states = phone.receivedOfType(m.CallState)
    return bool(states) and states[-1].callState == CallState.ON_HOOK


class ConferenceIntegrationTests(ConferenceScenario, TestCase):
    """
    Confrn, dial, Confrn: three clear phones on one bridge.
    """

    @bounded
    def setUp(self) -> Any:
        self.service = yield startRouter(self, routerYaml(stateDirectory(self), extra=CMF))

    @bounded
    def test_eachHearsTheOtherTwo(self) -> Any:
        """
        Each participant's recording holds the other two tones, and its
        own more than 20 dB below the weaker of them.
        """
        yield self.clearConference(False, False, False)

        result = yield runCommand(self.service, "show", "conference")
        lines = result.text.splitlines()
        self.assertEqual(lines[0], "Conferences 1 of max 2 (reserved 0)")
        self.assertRegex(lines[1], r"^Conference 1 clear, created by 5001, up 00:00:0\d$")
        self.assertEqual([line.split()[0] for line in lines[3:]], ["5001", "5002", "5003"])
        [conference] = result.data["conferences"]
        self.assertEqual([p["dn"] for p in conference["participants"]], ["5001", "5002", "5003"])
        for participant in conference["participants"]:
            # The phone skips the frames a late timer missed, the router's pump catches up: the
            # bridge received fewer than it sent while the phones recorded.
            self.assertGreaterEqual(participant["rxPackets"], RECORDED_FRAMES // 2)
            self.assertEqual(participant["dropped"], {"auth": 0, "replay": 0, "source": 0, "malformed": 0})
        dsp = yield runCommand(self.service, "show", "voice", "dsp")
        self.assertEqual([row["voicePort"] for row in dsp.data], ["conf/1.1", "conf/1.2", "conf/1.3"])
        self.assertEqual([line.split()[9] for line in dsp.text.splitlines()[3:]],
                         ["conf/1.1", "conf/1.2", "conf/1.3"])


class MaxConferencesIntegrationTests(ConferenceScenario, TestCase):
    """
    C{max-conferences: 1}, the bridge in use: the next Confrn is refused.
    """

    @bounded
    def setUp(self) -> Any:
        self.service = yield startRouter(self, routerYaml(stateDirectory(self), extra=LIMITED_CMF))

    @bounded
    def test_noConferenceBridge(self) -> Any:
        """
        While Alice, Bob and Carol are in the one conference, Dave presses
        Confrn in his call with Erin: his phone shows "No Conference
        Bridge", neither phone is sent a call state or a media change, they
        keep hearing each other, and C{show conference} shows 1 of max 1.
        """
        a, b, c = yield self.register(False, False, False)
        registered = yield gatherResults([registeredPhone(self, self.service, mac, tls=False)
                                          for mac in (DAVE, ERIN)])
        d, e = [phone for phone, dn in registered]
        for phone, frequency in zip((d, e), OTHER_TONES):
            phone.media.source = sineFrames(frequency)
        yield self.conference(a, b, c)

        connected = yield answeredCall(d, e, "5005")
        marks = len(d.received), len(e.received)
        d.softKey(SoftKeyEvent.CONFRN, 1, connected.callReference)
        notify = yield expect(d, lambda msg: isinstance(msg, m.DisplayNotify), "Dave's prompt", marks[0])
        self.assertEqual(notify.notify, m.LABEL_NO_CONFERENCE_BRIDGE)
        yield self.record(d, e)
        self.assertHearsTones(d, hears=OTHER_TONES[1], silent=(OTHER_TONES[0],) + TONES)
        self.assertHearsTones(e, hears=OTHER_TONES[0], silent=(OTHER_TONES[1],) + TONES)
        for phone, mark in zip((d, e), marks):
            self.assertEqual([type(msg).__name__ for msg in phone.received[mark:]
                              if not isinstance(msg, m.KeepAliveAck)],
                             ["DisplayNotify"] if phone is d else [])
        result = yield runCommand(self.service, "show", "conference")
        self.assertEqual(result.text.splitlines()[0], "Conferences 1 of max 1 (reserved 0)")
        self.assertEqual(result.data["conferences"][0]["participants"][0]["dn"], "5001")


class SecureConferenceIntegrationTests(ConferenceScenario, TestCase):
    """
    Three TLS phones with LSCs: by default a secure conference, every leg
    SRTP with keys the router makes for that leg alone.
    """

    extra = SECURE_CMF

    @bounded
    def setUp(self) -> Any:
        self.service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), self.extra))

    @bounded
    def test_secureConference(self) -> Any:
        """
        Every leg to the bridge is SRTP (a key in every ORC and SMT),
        CallInfo shows encrypted on all three phones, each phone's stream
        from the bridge decrypts with its own handed-out key only (another
        participant's keys and a third key set refuse every packet), and
        each hears the other two and not itself.
        """
        phones, marks = yield self.heardConference(True, True, True, secure=True)

        rxKeys, txKeys = [], []
        for phone, mark in zip(phones, marks):
            [orc] = [msg for msg in phone.received[mark:] if isinstance(msg, m.OpenReceiveChannel)]
            [smt] = [msg for msg in phone.received[mark:] if isinstance(msg, m.StartMediaTransmission)]
            rxKeys.append(orc.rxKey)
            txKeys.append(smt.txKey)
            self.assertEqual(phone.media.plainPacketsReceived, 0)
            self.assertEqual(phone.media.decryptFailures, 0)
        before = {orc.rxKey.key for phone, mark in zip(phones, marks)
                  for orc in phone.receivedOfType(m.OpenReceiveChannel)[:-1]}
        keys = [info.key for info in rxKeys + txKeys]
        self.assertNotIn(b"", keys)
        self.assertEqual(len(set(keys)), 6, "every leg and direction has its own key")
        self.assertFalse(before & set(keys), "the bridge's keys are fresh")

        for n, phone in enumerate(phones):
            captured = list(phone.media.captured)
            self.assertGreaterEqual(len(captured), RECORDED_FRAMES)
            own = SrtpReceiver(fromKeyInfo(rxKeys[n]))
            for datagram in captured:
                own.unprotect(datagram)
            foreign = [fromKeyInfo(info) for k, info in enumerate(rxKeys + txKeys) if k != n] + [generateKeys()]
            for keySet in foreign:
                receiver = SrtpReceiver(keySet)
                for datagram in captured:
                    self.assertRaises(SrtpError, receiver.unprotect, datagram)

    @bounded
    def test_badInputAtTheBridge(self) -> Any:
        """
        During a secure conference, Alice's bridge port gets three each of:
        replays of a packet Alice sent, packets with a bad SRTP tag, valid
        SRTP from a foreign source (127.0.0.2) and junk.  C{show
        conference} counts each kind on Alice's row alone (text and
        C{--json}), and the three still hear each other.
        """
        a, b, c = phones = yield self.register(True, True, True)
        marks = yield self.conference(a, b, c)
        yield self.record(*phones)
        [smt] = [msg for msg in a.received[marks[0]:] if isinstance(msg, m.StartMediaTransmission)]
        bridgePort = (str(smt.remoteIpAddr), smt.remotePortNumber)
        [transmitter] = a.media.transmitters.values()
        sent = transmitter.lastSent
        keys = fromKeyInfo(smt.txKey)

        def future(ahead: int) -> bytes:
            packet = attrs.evolve(sent, sequenceNumber=(sent.sequenceNumber + ahead) & 0xFFFF)
            return SrtpSender(keys).protect(encodeRtp(packet))

        replay = SrtpSender(keys).protect(encodeRtp(sent))
        foreign = reactor.listenUDP(0, DatagramProtocol(), interface="127.0.0.2")
        self.addCleanup(foreign.stopListening)
        for n in range(3):
            transmitter.transport.write(replay, bridgePort)
            tampered = bytearray(future(500 + n))
            tampered[-1] ^= 0xFF
            transmitter.transport.write(bytes(tampered), bridgePort)
            foreign.write(future(600 + n), bridgePort)
            transmitter.transport.write(b"\x00junk%d" % (n,), bridgePort)
        expected = {"auth": 3, "replay": 3, "source": 3, "malformed": 3}
        clean = {"auth": 0, "replay": 0, "source": 0, "malformed": 0}

        def counted() -> bool:
            [conference] = self.service.mediaFarm.bridges.conferences()
            port = [p for p in conference.ports.values() if p.snapshot().localPort == bridgePort[1]][0]
            counters = port.snapshot().counters
            return (counters.authFailures, counters.replays, counters.wrongSource, counters.malformed) == (3, 3, 3, 3)

        yield waitUntil(counted, "the bridge counts the bad input", *phones)
        result = yield runCommand(self.service, "show", "conference")
        [conference] = result.data["conferences"]
        self.assertEqual([(p["dn"], p["dropped"]) for p in conference["participants"]],
                         [("5001", expected), ("5002", clean), ("5003", clean)])
        self.assertEqual(result.text.splitlines()[3].split()[-4:], ["3", "3", "3", "3"])
        yield self.record(*phones)
        self.assertHearsOthers(phones)
        self.assertEqual(len(self.service.mediaFarm.bridges.conferences()[0].ports), 3)

    @bounded
    def test_participantLeaves(self) -> Any:
        """
        Bob hangs up: Alice and Carol are connected directly (fresh ORC and
        SMT with new keys, each sending to the other's receive port), their
        CallInfo names each other, encrypted, they hear each other only, and
        the bridge is gone (C{show conference} lists none, C{show voice dsp}
        no bridge port).
        """
        a, b, c = phones = yield self.register(True, True, True)
        yield self.conference(a, b, c)
        bridgeKeys = {orc.rxKey.key for phone in phones for orc in phone.receivedOfType(m.OpenReceiveChannel)}
        marks = [len(a.received), len(c.received)]
        b.onHook()
        yield waitUntil(lambda: onHook(b), "Bob on hook", *phones)

        def direct() -> bool:
            if self.service.mediaFarm.bridges.conferences():
                return False
            for phone, other in (a, c), (c, a):
                if len(phone.media.transmitters) != 1 or len(other.media.channels) != 1:
                    return False
                [transmitter] = phone.media.transmitters.values()
                [channel] = other.media.channels.values()
                if transmitter.destination[1] != channel.port.getHost().port:
                    return False
            return True

        yield waitUntil(direct, "Alice and Carol connected directly", a, c)
        for phone, other, mark in (a, c, marks[0]), (c, a, marks[1]):
            since = phone.received[mark:]
            [orc] = [msg for msg in since if isinstance(msg, m.OpenReceiveChannel)]
            [smt] = [msg for msg in since if isinstance(msg, m.StartMediaTransmission)]
            self.assertNotIn(orc.rxKey.key, bridgeKeys)
            self.assertNotEqual(smt.txKey, m.NO_KEY)
            info = [msg for msg in since if isinstance(msg, m.CallInfo)][-1]
            self.assertEqual(info.callSecurityStatus, CallSecurityStatus.ENCRYPTED)
            self.assertIn({a: "5001", c: "5003"}[other], (info.callingParty, info.calledParty))
        yield self.record(a, c)
        self.assertHearsTones(a, hears=TONES[2], silent=(TONES[0], TONES[1]))
        self.assertHearsTones(c, hears=TONES[0], silent=(TONES[1], TONES[2]))
        result = yield runCommand(self.service, "show", "conference")
        self.assertEqual(result.text.splitlines(), ["Conferences 0 of max 2 (reserved 0)"])
        dsp = yield runCommand(self.service, "show", "voice", "dsp")
        self.assertEqual([row for row in dsp.data if row["voicePort"].startswith("conf/")], [])

    @bounded
    def test_creatorLeaves(self) -> Any:
        """
        Alice, who made the conference, hangs up: IOS ends it for everyone
        (Bob and Carol go on hook too), no call is left and the bridge is
        gone.
        """
        a, b, c = phones = yield self.register(True, True, True)
        yield self.conference(a, b, c)
        a.onHook()
        yield waitUntil(lambda: all(onHook(phone) for phone in phones), "everyone on hook", *phones)
        yield waitUntil(lambda: self.service.callEngine.calls() == [] and not any(p.media.active for p in phones),
                        "no call and no media left", *phones)
        self.assertEqual(self.service.mediaFarm.bridges.conferences(), [])
        result = yield runCommand(self.service, "show", "conference")
        self.assertEqual(result.text.splitlines(), ["Conferences 0 of max 2 (reserved 0)"])

    @bounded
    def test_oneClearParticipant(self) -> Any:
        """
        Bob on the clear-text port makes the conference clear: every leg is
        plain RTP and every phone, the two secure ones too, shows it not
        encrypted; each still hears the other two.
        """
        yield self.clearConference(True, False, True)
        result = yield runCommand(self.service, "show", "conference")
        self.assertRegex(result.text.splitlines()[1], r"^Conference 1 clear, created by 5001,")


class IosConferenceIntegrationTests(ConferenceScenario, TestCase):
    """
    C{conference-secure: false} (IOS): a conference of three secure phones
    is clear.
    """

    @bounded
    def setUp(self) -> Any:
        extra = SECURE_CMF.replace("max-conferences: 2", "max-conferences: 2\n  conference-secure: false")
        self.service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), extra))

    @bounded
    def test_secureConference(self) -> Any:
        """
        Three TLS phones get a clear conference: plain RTP on every leg,
        CallInfo not encrypted on all three; each hears the other two.
        """
        yield self.clearConference(True, True, True)


def sine(frequency: float, seconds: float, amplitude: int = 8000) -> list[int]:
    """@return: C{seconds} of a C{frequency} sine at 8 kHz, as 16-bit samples."""
    return [int(amplitude * math.sin(2 * math.pi * frequency * n / 8000)) for n in range(int(seconds * 8000))]


class VoicePortConferenceIntegrationTests(ConferenceScenario, TestCase):
    """
    An FXS voice port as the third participant, its line saying a tone and
    recording.
    """

    @bounded
    def setUp(self) -> Any:
        self.service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), PORT_CMF))

    @bounded
    def test_voicePortParticipant(self) -> Any:
        """
        Alice and Bob (TLS) conference the FXS port 1/0/0: the port's line
        hears both phones and not its own tone, each phone hears the other
        and the port, and the conference stays secure (the router
        terminates the port's media: only the IP legs are protected, and
        they are), CallInfo encrypted on both phones.
        """
        phones, marks = yield self.portConference()
        self.assertConferenceSecurity(phones, marks, CallSecurityStatus.ENCRYPTED)
        [conference] = self.service.mediaFarm.bridges.conferences()
        self.assertTrue(conference.secure)
        result = yield runCommand(self.service, "show", "conference")
        self.assertRegex(result.text.splitlines()[1], r"^Conference 1 secure, created by 5001,")


MGCP_PORT_CMF = PORT_CMF.replace("forward-digits: all}", "forward-digits: all, application: mgcpapp}") + """
mgcp:
  bind: {host: 127.0.0.1, port: 0}
  call-agent: {host: 127.0.0.1, port: %d}
  timers: {request-timeout-ms: 100, request-timeout-max-ms: 200, tsmax: 1, tdinit: 1}
ccm-manager:
  fallback-mgcp: true
  keepalive-interval: 1
  failover-interval: 2
"""
"""L{PORT_CMF} with 1/0/0 an MGCP port (C{application mgcpapp}) and a call agent that never answers."""


class MgcpPortConferenceIntegrationTests(ConferenceScenario, TestCase):
    """
    An MGCP-controlled port in fallback as the third participant: the call
    agent never answers, the router's time (a L{Clock}) is advanced past
    the 2 s failover interval, and 1/0/0 is under the router's local call
    control, its line saying a tone and recording.
    """

    @bounded
    def setUp(self) -> Any:
        self.service = yield startFallbackRouter(
            self, routerYamlWithCapf(stateDirectory(self), MGCP_PORT_CMF % (freePort(),)))

    @bounded
    def test_mgcpPortParticipant(self) -> Any:
        """
        Alice and Bob (TLS) conference the fallback port 1/0/0: the port's
        line hears both phones and not its own tone, each phone hears the
        other and the port, and C{show conference} lists the port's
        participant with the phones'.
        """
        yield self.portConference()
        self.assertTrue(self.service.portEndpoints["1/0/0"].active, "1/0/0 still under local call control")
        result = yield runCommand(self.service, "show", "conference")
        [conference] = result.data["conferences"]
        self.assertEqual(len(conference["participants"]), 3)
        self.assertEqual([p["dn"] for p in conference["participants"]][:2], ["5001", "5002"])
