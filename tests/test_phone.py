"""
Tests for C{srst-phone}: the simulated phone (L{srst.tools._phoneclient},
L{srst.tools._phonewire}), the load generator (L{srst.tools._phoneload})
and the command line (L{srst.tools.phone}).

Unit tests script the router by hand over a L{StringTransport} with a
L{Clock}.  Integration tests register phones over real 127.0.0.1 sockets,
plain and TLS, against L{MiniRouter}, a small codec-based responder that
answers registration the way sccp.md 4.1 describes, and against srst's own
L{srst.sccp.factory.SkinnyFactory}.  L{WireCaptureTests} captures a
registration on loopback with tshark and has Wireshark's SCCP dissector
check it (skipped without tshark or when capturing is not permitted).
"""

import io
import ipaddress
import json
import os
import shutil
import struct

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks, maybeDeferred
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from srst.pki.tls import serverTLSOptions
from srst.sccp import messages as m
from srst.sccp.constants import (
    Codec,
    DeviceType,
    SoftKeyEvent,
    Stimulus,
    UnregisterStatus,
)
from srst.tools import phone as cli
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import (
    PhoneConfig,
    PhoneDisconnected,
    PhoneState,
    PhoneStateError,
    RegistrationRejected,
    RegistrationTimedOut,
    UnknownModelError,
    UnregisterRefused,
    UnregisterTimedOut,
    deviceTypeForModel,
)
from srst.tools._phoneload import LoadGenerator, LoadResult, percentile
from srst.tools._phonewire import PhoneProtocol, clientTLSOptions, connectPhone
from srst.tools.lsc import issueLSC
from tests.pkihelpers import (
    makeCA,
    makePhoneCertificate,
    makeServerCertificate,
    sharedKey,
    utcNow,
    writeKey,
    writePem,
)

MAC = "001122334455"
VERSION = 11


def synchronously(f, *args, **kwargs):
    """A C{runInThread} that runs on the calling thread."""
    return maybeDeferred(f, *args, **kwargs)


def decodeAll(data, version=VERSION):
    """Every message in a byte stream."""
    frames, rest = m.splitFrames(data)
    assert rest == b"", rest
    return [m.decodeMessage(f, protocolVersion=version) for f in frames]


def names(messages):
    return [type(msg).__name__ for msg in messages]


BUTTONS = (
    m.ButtonDefinition(1, Stimulus.LINE),
    m.ButtonDefinition(2, Stimulus.LINE),
    m.ButtonDefinition(1, Stimulus.SPEED_DIAL),
    m.ButtonDefinition(0, Stimulus.HOLD),
)


def registerAck(version=VERSION, keepAlive=30):
    return m.RegisterAck(keepAliveInterval=keepAlive, dateTemplate="M/D/Y",
                         secondaryKeepAliveInterval=60,
                         protocolVersion=version,
                         featureBytes=b"\x20\xf1\xff")


def answerFor(request, buttons=BUTTONS):
    """What a router answers to one registration request (None: nothing)."""
    if isinstance(request, m.ButtonTemplateReq):
        return [m.ButtonTemplate(buttons=buttons)]
    if isinstance(request, m.SoftKeyTemplateReq):
        return [m.SoftKeyTemplateRes(softKeys=[m.SoftKeyDefinition(
            m.label(m.Label.REDIAL), SoftKeyEvent.REDIAL)])]
    if isinstance(request, m.SoftKeySetReq):
        return [m.SoftKeySetRes(softKeySets=[m.SoftKeySetDefinition((1,), (301,))]),
                m.SelectSoftKeys(softKeySetIndex=0, validKeyMask=0xFFFFFFFF)]
    if isinstance(request, m.ConfigStatReq):
        return [m.ConfigStat(deviceName="SEP" + MAC, numberOfLines=2)]
    if isinstance(request, m.LineStatReq):
        return [m.LineStat(lineNumber=request.lineNumber,
                           lineDirNumber="100%d" % (request.lineNumber,))]
    if isinstance(request, m.ForwardStatReq):
        return [m.ForwardStat(lineNumber=request.lineNumber)]
    if isinstance(request, m.SpeedDialStatReq):
        return [m.SpeedDialStat(speedDialNumber=request.speedDialNumber,
                                speedDialDirNumber="2000")]
    if isinstance(request, m.TimeDateReq):
        return [m.DefineTimeDate(year=2030, month=6, day=1, systemTime=1)]
    return []


class MiniRouter(Protocol):
    """
    A registration responder built on the codec: RegisterAck (or
    RegisterReject for names in C{factory.refuse}) and CapabilitiesReq, an
    answer to every configuration request, the idle prompt after
    DefineTimeDate, KeepAliveAck, UnregisterAck.
    """

    version = 0

    def connectionMade(self):
        self.buffer = b""
        self.factory.connections.append(self)

    def send(self, *messages):
        self.transport.write(b"".join(
            m.encodeMessage(msg, protocolVersion=self.version)
            for msg in messages))

    def dataReceived(self, data):
        frames, self.buffer = m.splitFrames(self.buffer + data)
        for frame in frames:
            msg = m.decodeMessage(frame, protocolVersion=self.version)
            self.factory.received.append(msg)
            self.handle(msg)

    def handle(self, msg):
        if isinstance(msg, m.Register):
            if msg.deviceName in self.factory.refuse:
                self.send(m.RegisterReject(text="refused"))
                self.transport.loseConnection()
                return
            self.version = min(msg.protocolVersion, VERSION)
            self.send(registerAck(self.version), m.CapabilitiesReq())
        elif isinstance(msg, m.KeepAlive):
            self.send(m.KeepAliveAck())
        elif isinstance(msg, m.Unregister):
            self.send(m.UnregisterAck(status=UnregisterStatus.OK))
        else:
            answers = answerFor(msg, self.factory.buttons)
            if isinstance(msg, m.TimeDateReq):
                answers.append(m.DisplayPromptStatus(
                    promptStatus=m.LABEL_CM_FALLBACK))
            if answers:
                self.send(*answers)

    def connectionLost(self, reason):
        self.factory.connections.remove(self)
        self.factory.lost.append(reason)


class MiniRouterFactory(Factory):
    protocol = MiniRouter

    def __init__(self, buttons=BUTTONS[:1], refuse=()):
        self.buttons = buttons
        self.refuse = set(refuse)
        self.received = []
        self.connections = []
        self.lost = []


class ScriptedPhone:
    """
    A phone on a StringTransport with a Clock; the test plays the router.
    """

    def __init__(self, testCase, **configArgs):
        configArgs.setdefault("mac", MAC)
        self.config = PhoneConfig(**configArgs)
        self.clock = Clock()
        self.phone = SimulatedPhone(self.config, clock=self.clock)
        self.protocol = PhoneProtocol(self.phone)
        self.transport = StringTransportWithDisconnection()
        self.transport.protocol = self.protocol
        self.protocol.makeConnection(self.transport)
        self.version = VERSION

    def sent(self):
        """The messages the phone wrote since the last call."""
        data = self.transport.value()
        self.transport.clear()
        return decodeAll(data, self.version)

    def receive(self, *messages):
        self.protocol.dataReceived(b"".join(
            m.encodeMessage(msg, protocolVersion=self.version)
            for msg in messages))

    def acked(self, version=VERSION, keepAlive=30):
        """Send RegisterAck + CapabilitiesReq; return what the phone answers."""
        self.sent()
        self.version = version
        self.receive(registerAck(version, keepAlive), m.CapabilitiesReq())
        return self.sent()

    def register(self, keepAlive=30):
        """Play a complete registration; return the phone's requests."""
        requests = self.acked(keepAlive=keepAlive)
        for request in requests:
            self.receive(*answerFor(request))
        second = self.sent()
        for request in second:
            self.receive(*answerFor(request))
        return requests + second


class DeviceTypeTests(SynchronousTestCase):
    """
    Phone model names map to Register.deviceType (sccp.md 2.6).
    """

    def test_models(self):
        """Model numbers, member names and numbers are all accepted."""
        self.assertEqual(deviceTypeForModel("7970"), 30006)
        self.assertIs(deviceTypeForModel("7970"), DeviceType.PHONE_7970)
        self.assertEqual(deviceTypeForModel("7961-ge"), 308)
        self.assertEqual(deviceTypeForModel("ip_communicator"), 30016)
        self.assertEqual(deviceTypeForModel("30007"), DeviceType.PHONE_7912)
        self.assertEqual(deviceTypeForModel("4242"), 4242)

    def test_unknown(self):
        """An unknown model raises UnknownModelError listing the known ones."""
        e = self.assertRaises(UnknownModelError, deviceTypeForModel, "9999x")
        self.assertIn("'9999x'", str(e))
        self.assertIn("7970", str(e))
        self.assertRaises(UnknownModelError, deviceTypeForModel, "0")

    def test_configMac(self):
        """PhoneConfig normalizes its MAC and derives the device name."""
        config = PhoneConfig(mac="00:11:22:33:44:aa")
        self.assertEqual(config.mac, "0011223344AA")
        self.assertEqual(config.deviceName, "SEP0011223344AA")


class RegistrationTests(SynchronousTestCase):
    """
    The registration sequence of a 79xx (sccp.md 4.1), scripted by hand.
    """

    def test_registerOnConnect(self):
        """On connect the phone sends Register with its name, type, version and address."""
        p = ScriptedPhone(self)
        [register] = p.sent()
        self.assertIsInstance(register, m.Register)
        self.assertEqual(register.deviceName, "SEP001122334455")
        self.assertEqual(register.deviceType, DeviceType.PHONE_7970)
        self.assertEqual(register.protocolVersion, 11)
        self.assertEqual(register.stationIpAddr,
                         ipaddress.IPv4Address("10.0.0.1"))
        self.assertEqual(register.instance, 1)
        self.assertIs(p.phone.state, PhoneState.REGISTERING)

    def test_registerLongForm(self):
        """A phone advertising protocol 17 sends the long Register with its MAC and firmware."""
        p = ScriptedPhone(self, protocolVersion=17, deviceType=115,
                          stationIpAddr=ipaddress.IPv4Address("192.0.2.7"))
        [register] = p.sent()
        self.assertEqual(register.protocolVersion, 17)
        self.assertEqual(register.deviceType, 115)
        self.assertEqual(register.stationIpAddr,
                         ipaddress.IPv4Address("192.0.2.7"))
        self.assertEqual(register.macAddress,
                         bytes.fromhex(MAC) + b"\x00" * 6)
        self.assertEqual(register.loadInfo, p.config.loadInfo)

    def test_alarmFirst(self):
        """With sendAlarm, an informational Alarm naming the phone precedes Register."""
        p = ScriptedPhone(self, sendAlarm=True, alarmLast="TCP-timeout")
        alarm, register = p.sent()
        self.assertIsInstance(alarm, m.Alarm)
        self.assertIn("Name=SEP001122334455", alarm.text)
        self.assertIn("Last=TCP-timeout", alarm.text)
        self.assertIsInstance(register, m.Register)

    def test_capabilitiesAndFirstRequests(self):
        """CapabilitiesReq is answered with G.711 and G.729, then the template requests in one write."""
        p = ScriptedPhone(self)
        p.sent()
        p.receive(registerAck(), m.CapabilitiesReq())
        writes = p.transport.value()
        answer = p.sent()
        self.assertEqual(names(answer), [
            "CapabilitiesRes", "ButtonTemplateReq", "SoftKeyTemplateReq",
            "SoftKeySetReq", "ConfigStatReq"])
        self.assertEqual(
            [c.payloadCapability for c in answer[0].capabilities],
            [Codec.G711_ULAW_64K, Codec.G711_ALAW_64K, Codec.G729])
        self.assertEqual(len(writes), sum(
            len(m.encodeMessage(msg, protocolVersion=VERSION))
            for msg in answer))
        self.assertIs(p.phone.state, PhoneState.CONFIGURING)

    def test_secondRequestsFollowButtons(self):
        """The button template makes the phone ask for each line, forward and speed dial, then the time."""
        p = ScriptedPhone(self)
        p.acked()
        p.receive(m.ButtonTemplate(buttons=BUTTONS))
        requests = p.sent()
        self.assertEqual(names(requests), [
            "LineStatReq", "ForwardStatReq", "LineStatReq", "ForwardStatReq",
            "SpeedDialStatReq", "RegisterAvailableLines", "TimeDateReq"])
        self.assertEqual([r.lineNumber for r in requests[:4]], [1, 1, 2, 2])
        self.assertEqual(requests[4].speedDialNumber, 1)
        self.assertEqual(requests[5].maxNumOfAvailLines, 2)
        self.assertEqual(p.phone.settings.lines, [1, 2])
        self.assertEqual(p.phone.settings.speedDials, [1])

    def test_optionalRequests(self):
        """ConfigStatReq and ForwardStatReq are left out when configured so."""
        p = ScriptedPhone(self, requestConfigStat=False,
                          requestForwardStat=False)
        self.assertNotIn("ConfigStatReq", names(p.acked()))
        p.receive(m.ButtonTemplate(buttons=BUTTONS[:1]))
        self.assertEqual(names(p.sent()), [
            "LineStatReq", "RegisterAvailableLines", "TimeDateReq"])

    def test_registeredWhenAllAnswered(self):
        """whenRegistered fires once every request, DefineTimeDate last, has its answer."""
        p = ScriptedPhone(self)
        d = p.phone.whenRegistered()
        requests = p.acked()
        for request in requests:
            p.receive(*answerFor(request))
        second = p.sent()
        for request in second[:-1]:
            p.receive(*answerFor(request))
        self.assertNoResult(d)
        self.assertIs(p.phone.state, PhoneState.CONFIGURING)
        p.clock.advance(5)
        p.receive(*answerFor(second[-1]))
        self.assertIs(self.successResultOf(d), p.phone)
        self.assertIs(p.phone.state, PhoneState.REGISTERED)
        self.assertEqual(p.phone.registeredAt, 5)
        self.assertEqual(p.phone.connectedAt, 0)
        self.assertIs(self.successResultOf(p.phone.whenRegistered()), p.phone)

    def test_recordsEverything(self):
        """Every received message is recorded in order, and the state it carries is kept."""
        p = ScriptedPhone(self)
        p.register()
        p.receive(m.DisplayPromptStatus(promptStatus=m.LABEL_CM_FALLBACK))
        received = names(p.phone.received)
        self.assertEqual(received[:5], [
            "RegisterAck", "CapabilitiesReq", "ButtonTemplate",
            "SoftKeyTemplateRes", "SoftKeySetRes"])
        self.assertEqual(received[-2:], ["DefineTimeDate",
                                         "DisplayPromptStatus"])
        self.assertEqual(sorted(p.phone.settings.lineStats), [1, 2])
        self.assertEqual(p.phone.settings.lineStats[2].lineDirNumber, "1002")
        self.assertEqual(sorted(p.phone.settings.forwardStats), [1, 2])
        self.assertEqual(p.phone.settings.speedDialStats[1].speedDialDirNumber, "2000")
        self.assertEqual(p.phone.settings.configStat.numberOfLines, 2)
        self.assertEqual(p.phone.settings.timeDate.year, 2030)
        self.assertEqual(p.phone.settings.softKeySet, 0)
        self.assertEqual(p.phone.settings.prompt, m.LABEL_CM_FALLBACK)
        self.assertEqual(len(p.phone.receivedOfType(m.LineStat)), 2)
        self.assertEqual(names(p.phone.sent)[:2],
                         ["Register", "CapabilitiesRes"])

    def test_capabilitiesWaitFallback(self):
        """Without CapabilitiesReq the phone asks for its configuration after capabilitiesWait."""
        p = ScriptedPhone(self, capabilitiesWait=2.0)
        p.sent()
        p.receive(registerAck())
        self.assertEqual(p.sent(), [])
        p.clock.advance(2)
        self.assertEqual(names(p.sent())[0], "ButtonTemplateReq")
        p.receive(m.CapabilitiesReq())
        self.assertEqual(names(p.sent()), ["CapabilitiesRes"])

    def test_noCapabilitiesWait(self):
        """With capabilitiesWait 0 the requests go out with RegisterAck."""
        p = ScriptedPhone(self, capabilitiesWait=0)
        p.sent()
        p.receive(registerAck())
        self.assertEqual(names(p.sent())[0], "ButtonTemplateReq")

    def test_negotiatedVersion(self):
        """The version in RegisterAck is used for everything after it."""
        p = ScriptedPhone(self, protocolVersion=17)
        p.acked(version=6)
        self.assertEqual(p.phone.negotiatedVersion, 6)
        self.assertEqual(p.protocol.protocolVersion, 6)
        self.assertEqual(p.phone.keepAliveInterval, 30)

    def test_negotiatedVersionCapped(self):
        """A RegisterAck version above the phone's own is capped to the phone's."""
        p = ScriptedPhone(self, protocolVersion=8)
        p.acked(version=11)
        self.assertEqual(p.phone.negotiatedVersion, 8)

    def test_registerAckTwice(self):
        """A second RegisterAck is recorded but changes nothing."""
        p = ScriptedPhone(self)
        p.register()
        p.receive(registerAck(version=5, keepAlive=99))
        self.assertEqual(p.phone.negotiatedVersion, VERSION)
        self.assertEqual(p.phone.keepAliveInterval, 30)
        self.assertIs(p.phone.state, PhoneState.REGISTERED)

    def test_decodeOnlyState(self):
        """With decodeAll off, only state messages are decoded; answers are still counted."""
        p = ScriptedPhone(self, decodeAll=False)
        d = p.phone.whenRegistered()
        p.register()
        self.assertIs(self.successResultOf(d), p.phone)
        self.assertEqual(names(p.phone.received), [
            "RegisterAck", "CapabilitiesReq", "ButtonTemplate"])
        self.assertEqual(p.phone.skipped, 10)
        self.assertEqual(p.phone.settings.lineStats, {})
        self.assertEqual(p.phone.settings.lines, [1, 2])

    def test_observersGetEverything(self):
        """An observer makes the phone decode every message even with decodeAll off."""
        p = ScriptedPhone(self, decodeAll=False)
        seen = []
        p.phone.addMessageObserver(seen.append)
        p.register()
        self.assertEqual(p.phone.skipped, 0)
        self.assertIn("DefineTimeDate", names(seen))

    def test_unsolicitedAnswersIgnored(self):
        """An unrequested LineStat before the template counts for nothing."""
        p = ScriptedPhone(self)
        d = p.phone.whenRegistered()
        p.acked()
        p.receive(m.LineStat(lineNumber=9), m.DefineTimeDate())
        self.assertNoResult(d)


class RejectAndTimeoutTests(SynchronousTestCase):
    """
    Registration that does not complete.
    """

    def test_reject(self):
        """RegisterReject fails whenRegistered, fires whenRejected and closes the connection."""
        p = ScriptedPhone(self)
        registered = p.phone.whenRegistered()
        rejected = p.phone.whenRejected()
        p.receive(m.RegisterReject(text="Max phones"))
        self.assertEqual(self.successResultOf(rejected).text, "Max phones")
        e = self.failureResultOf(registered, RegistrationRejected).value
        self.assertEqual(str(e), "SEP001122334455: Max phones")
        self.assertEqual(p.phone.rejectText, "Max phones")
        self.assertFalse(p.transport.connected)
        self.assertIs(p.phone.state, PhoneState.CLOSED)
        self.assertEqual(p.clock.getDelayedCalls(), [])
        self.successResultOf(p.phone.whenDisconnected())

    def test_whenRejectedFailsOnClose(self):
        """whenRejected fails with PhoneDisconnected when the connection ends without a reject."""
        p = ScriptedPhone(self)
        rejected = p.phone.whenRejected()
        p.transport.loseConnection()
        e = self.failureResultOf(rejected, PhoneDisconnected).value
        self.assertIn("registering", str(e))

    def test_timeout(self):
        """A registration not complete within registrationTimeout fails and aborts."""
        p = ScriptedPhone(self, registrationTimeout=10)
        d = p.phone.whenRegistered()
        p.acked()
        p.clock.advance(9.9)
        self.assertNoResult(d)
        p.clock.advance(0.1)
        self.failureResultOf(d, RegistrationTimedOut)
        self.assertFalse(p.transport.connected)
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_noTimeout(self):
        """With registrationTimeout None the phone waits for ever."""
        p = ScriptedPhone(self, registrationTimeout=None)
        p.clock.advance(3600)
        self.assertIs(p.phone.state, PhoneState.REGISTERING)
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_lostBeforeRegistration(self):
        """A connection lost mid-registration fails whenRegistered and cancels every timer."""
        p = ScriptedPhone(self)
        d = p.phone.whenRegistered()
        p.acked()
        p.protocol.connectionLost(Failure(ConnectionLost("reset")))
        e = self.failureResultOf(d, PhoneDisconnected).value
        self.assertIn("configuring", str(e))
        self.assertIn("reset", str(e))
        self.assertEqual(p.clock.getDelayedCalls(), [])
        reason = self.successResultOf(p.phone.whenDisconnected())
        self.assertIsInstance(reason, ConnectionLost)

    def test_connectionFailed(self):
        """A connection that never came up fails the phone's waiters."""
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=Clock())
        d = phone.whenRegistered()
        phone.connectionFailed(Failure(ConnectionLost("refused")))
        self.failureResultOf(d, PhoneDisconnected)
        self.assertIs(phone.state, PhoneState.CLOSED)

    def test_badFrame(self):
        """A frame with an impossible length aborts the connection."""
        p = ScriptedPhone(self)
        d = p.phone.whenRegistered()
        p.protocol.dataReceived(b"\x01\x00\x00\x00" + b"\x00" * 8)
        self.assertFalse(p.transport.connected)
        self.failureResultOf(d, PhoneDisconnected)

    def test_undecodable(self):
        """An undecodable message closes the connection; later frames are ignored."""
        p = ScriptedPhone(self)
        p.acked(version=6)
        frame = bytearray(m.encodeMessage(m.OpenReceiveChannel(),
                                          protocolVersion=6))
        struct.pack_into("<H", frame, 12 + 32, 17)
        p.protocol.dataReceived(bytes(frame) + m.encodeMessage(
            m.KeepAliveAck(), protocolVersion=6))
        self.assertFalse(p.transport.connected)
        self.assertEqual(names(p.phone.received)[-1], "CapabilitiesReq")

    def test_unknownMessage(self):
        """An unknown message id is recorded and ignored."""
        p = ScriptedPhone(self)
        p.receive(m.UnknownMessage(0x7777, b"abcd"))
        self.assertEqual(p.phone.received, [m.UnknownMessage(0x7777, b"abcd")])
        self.assertTrue(p.transport.connected)

    def test_reset(self):
        """A Reset from the router is recorded and the phone closes."""
        p = ScriptedPhone(self)
        p.register()
        p.receive(m.Reset(resetType=2))
        self.assertFalse(p.transport.connected)
        self.assertIsInstance(p.phone.received[-1], m.Reset)


class KeepAliveTests(SynchronousTestCase):
    """
    Keepalives on the phone's clock.
    """

    def test_cadence(self):
        """A registered phone sends KeepAlive every keepAliveInterval seconds."""
        p = ScriptedPhone(self)
        p.register(keepAlive=20)
        p.sent()
        p.clock.advance(19.9)
        self.assertEqual(p.sent(), [])
        p.clock.advance(0.1)
        self.assertEqual(p.sent(), [m.KeepAlive()])
        p.receive(m.KeepAliveAck())
        p.clock.advance(20)
        self.assertEqual(p.sent(), [m.KeepAlive()])
        self.assertEqual(p.phone.keepAlivesSent, 2)
        self.assertEqual(p.phone.keepAliveAcks, 1)

    def test_routerGone(self):
        """After maxMissedKeepAlives unanswered KeepAlives the phone aborts the connection."""
        p = ScriptedPhone(self, maxMissedKeepAlives=3)
        p.register(keepAlive=10)
        disconnected = p.phone.whenDisconnected()
        p.clock.pump([10, 10, 10])
        self.assertEqual(p.phone.keepAlivesSent, 3)
        self.assertTrue(p.transport.connected)
        p.clock.advance(10)
        self.assertFalse(p.transport.connected)
        self.successResultOf(disconnected)
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_acksKeepItAlive(self):
        """Answered KeepAlives keep the registration up for as long as they are answered."""
        p = ScriptedPhone(self)
        p.register(keepAlive=10)
        for _ in range(10):
            p.clock.advance(10)
            p.receive(m.KeepAliveAck())
        self.assertTrue(p.transport.connected)
        self.assertEqual(p.phone.keepAlivesSent, 10)

    def test_standby(self):
        """A standby phone only sends KeepAlives, at its standby interval."""
        p = ScriptedPhone(self, standby=True, standbyKeepAliveInterval=60)
        self.assertEqual(p.sent(), [m.KeepAlive()])
        self.assertIs(p.phone.state, PhoneState.STANDBY)
        p.receive(m.KeepAliveAck())
        p.clock.advance(59)
        self.assertEqual(p.sent(), [])
        p.clock.advance(1)
        self.assertEqual(p.sent(), [m.KeepAlive()])
        self.assertNoResult(p.phone.whenRegistered())

    def test_standbyRegisters(self):
        """register() turns a standby connection into a registration."""
        p = ScriptedPhone(self, standby=True)
        p.sent()
        p.phone.register()
        [register] = p.sent()
        self.assertIsInstance(register, m.Register)
        p.register()
        self.assertIs(p.phone.state, PhoneState.REGISTERED)
        self.assertEqual(len(p.clock.getDelayedCalls()), 1)

    def test_registerNeedsStandby(self):
        """register() on a phone that is not in standby raises PhoneStateError."""
        p = ScriptedPhone(self)
        self.assertRaises(PhoneStateError, p.phone.register)


class UnregisterTests(SynchronousTestCase):
    """
    Leaving the router.
    """

    def test_unregister(self):
        """unregister sends Unregister and closes after an OK UnregisterAck."""
        p = ScriptedPhone(self)
        p.register()
        p.sent()
        d = p.phone.unregister()
        self.assertEqual(p.sent(), [m.Unregister()])
        self.assertIs(p.phone.state, PhoneState.UNREGISTERING)
        self.assertNoResult(d)
        p.receive(m.UnregisterAck(status=UnregisterStatus.OK))
        self.assertFalse(p.transport.connected)
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_refused(self):
        """A NAK leaves the phone registered, still sending keepalives."""
        p = ScriptedPhone(self)
        p.register()
        d = p.phone.unregister()
        p.receive(m.UnregisterAck(status=UnregisterStatus.NAK))
        self.failureResultOf(d, UnregisterRefused)
        self.assertIs(p.phone.state, PhoneState.REGISTERED)
        self.assertTrue(p.transport.connected)
        p.sent()
        p.clock.advance(30)
        self.assertEqual(p.sent(), [m.KeepAlive()])

    def test_timeout(self):
        """Without UnregisterAck the phone gives up after unregisterTimeout and aborts."""
        p = ScriptedPhone(self, unregisterTimeout=5)
        p.register()
        d = p.phone.unregister()
        p.clock.advance(5)
        self.failureResultOf(d, UnregisterTimedOut)
        self.assertFalse(p.transport.connected)

    def test_closedWithoutAck(self):
        """A connection closed before UnregisterAck fails the unregister."""
        p = ScriptedPhone(self)
        p.register()
        d = p.phone.unregister()
        p.transport.loseConnection()
        self.failureResultOf(d, PhoneDisconnected)

    def test_notRegistered(self):
        """unregister before RegisterAck fails with PhoneStateError."""
        p = ScriptedPhone(self)
        self.failureResultOf(p.phone.unregister(), PhoneStateError)

    def test_stop(self):
        """stop closes without Unregister and fires once disconnected."""
        p = ScriptedPhone(self)
        p.register()
        p.sent()
        d = p.phone.stop()
        self.assertEqual(p.sent(), [])
        self.successResultOf(d)
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_stopIdle(self):
        """stop on a phone that never connected settles it at once."""
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=Clock())
        self.successResultOf(phone.stop())
        self.failureResultOf(phone.whenRegistered(), PhoneDisconnected)


class CallControlHookTests(SynchronousTestCase):
    """
    The senders and observers left for call control.
    """

    def test_needsRegistration(self):
        """Call-control senders refuse to work before registration."""
        p = ScriptedPhone(self)
        self.assertRaises(PhoneStateError, p.phone.offHook)
        self.assertRaises(PhoneStateError, p.phone.pressKeys, "1")

    def test_senders(self):
        """offHook, pressKeys, softKey, stimulus and onHook send their messages."""
        p = ScriptedPhone(self)
        p.register()
        p.sent()
        p.phone.offHook(1, 0)
        p.phone.pressKeys("1*#", lineInstance=1, callReference=7)
        p.phone.softKey(SoftKeyEvent.END_CALL, 1, 7)
        p.phone.stimulus(Stimulus.HOLD, 1, 7)
        p.phone.onHook(1, 7)
        p.phone.sendMessage(m.HeadsetStatus(headsetStatus=1))
        sent = p.sent()
        self.assertEqual(names(sent), [
            "OffHook", "KeypadButton", "KeypadButton", "KeypadButton",
            "SoftKeyEvent", "Stimulus", "OnHook", "HeadsetStatus"])
        self.assertEqual([k.kpButton for k in sent[1:4]], [1, 0x0E, 0x0F])
        self.assertEqual(sent[4].softKeyEvent, SoftKeyEvent.END_CALL)
        self.assertEqual(sent[6].callReference, 7)

    def test_badDigit(self):
        """A character that is not on a keypad raises ValueError and sends nothing."""
        p = ScriptedPhone(self)
        p.register()
        p.sent()
        self.assertRaises(ValueError, p.phone.pressKeys, "1x")
        self.assertEqual(p.sent(), [])

    def test_observers(self):
        """Observers see every message after the phone handled it, until removed."""
        p = ScriptedPhone(self)
        seen = []
        p.phone.addMessageObserver(seen.append)
        p.receive(registerAck())
        p.phone.removeMessageObserver(seen.append)
        p.receive(m.CapabilitiesReq())
        self.assertEqual(names(seen), ["RegisterAck"])

    def test_sendWhenClosed(self):
        """sendMessage on a closed phone raises PhoneStateError."""
        p = ScriptedPhone(self)
        p.transport.loseConnection()
        self.assertRaises(PhoneStateError, p.phone.sendMessage, m.KeepAlive())


class LoadResultTests(SynchronousTestCase):
    """
    Percentiles and the load report.
    """

    def test_percentile(self):
        """Nearest-rank percentiles; NaN for no values."""
        values = [float(i) for i in range(1, 101)]
        self.assertEqual(percentile(values, 0.5), 50.0)
        self.assertEqual(percentile(values, 0.99), 99.0)
        self.assertEqual(percentile([3.0], 0.99), 3.0)
        self.assertNotEqual(percentile([], 0.5), percentile([], 0.5))

    def test_report(self):
        """The report gives counts, rate, p50 and p99, and the failure reasons."""
        result = LoadResult(attempted=4, registered=2, rejected=1, failed=1,
                            elapsed=0.5, latencies=(0.010, 0.020),
                            errors=(("refused", 1), ("timeout", 1)))
        self.assertEqual(result.rate, 4.0)
        text = result.describe()
        self.assertIn("registered 2/4 phones in 0.500 s: 4.0 registrations/s",
                      text)
        self.assertIn("p50 10.0 ms p99 20.0 ms", text)
        self.assertIn("1 rejected, 1 failed", text)
        self.assertIn("1 x refused", text)
        figures = result.asDict()
        self.assertEqual(figures["p99Ms"], 20.0)
        self.assertEqual(figures["registrationsPerSecond"], 4.0)
        self.assertEqual(figures["errors"][0], {"error": "refused", "count": 1})

    def test_reportWithoutRegistrations(self):
        """Without any registration the report leaves latency out and JSON gives null."""
        result = LoadResult(attempted=1, registered=0, rejected=1, failed=0,
                            elapsed=0.1, latencies=())
        self.assertNotIn("latency", result.describe())
        self.assertIsNone(result.asDict()["p50Ms"])
        self.assertEqual(result.rate, 0.0)

    def test_badConcurrency(self):
        """A concurrency below 1 is refused."""
        self.assertRaises(ValueError, LoadGenerator, Clock(), "127.0.0.1", 1,
                          [], concurrency=0)


class ParserTests(SynchronousTestCase):
    """
    The C{srst-phone} command line.
    """

    def parse(self, *argv):
        return cli.makeParser().parse_args(list(argv))

    def assertUsageError(self, *argv):
        self.patch(cli.argparse.ArgumentParser, "_print_message",
                   lambda *a, **k: None)
        e = self.assertRaises(SystemExit, self.parse, *argv)
        self.assertEqual(e.code, 2)

    def test_defaults(self):
        """register defaults to one 7970 on 127.0.0.1:2000 at protocol 11."""
        args = self.parse("register")
        self.assertEqual((args.host, args.port, args.count, args.mac),
                         ("127.0.0.1", 2000, 1, "000000000001"))
        self.assertEqual(args.deviceType, 30006)
        self.assertEqual(args.protocolVersion, 11)
        self.assertEqual(args.concurrency, 100)
        self.assertIsNone(args.hold)
        self.assertFalse(args.tls)

    def test_options(self):
        """Every register option is parsed into its value."""
        args = self.parse("register", "--host", "127.0.0.2", "--port", "2001",
                          "--count", "50", "--mac", "00:00:00:00:01:00",
                          "--type", "7912", "--version", "6",
                          "--concurrency", "8", "--hold", "1.5", "--alarm",
                          "--json")
        self.assertEqual((args.host, args.port, args.count, args.mac),
                         ("127.0.0.2", 2001, 50, "000000000100"))
        self.assertEqual(args.deviceType, 30007)
        self.assertEqual((args.protocolVersion, args.concurrency, args.hold),
                         (6, 8, 1.5))
        self.assertTrue(args.alarm and args.json)
        self.assertFalse(args.decodeAll)
        self.assertTrue(self.parse("register", "--decode-all").decodeAll)

    def test_tlsPort(self):
        """With --tls the port defaults to 2443."""
        args = self.parse("register", "--tls", "--ca", "ca.pem", "--cert",
                          "c.pem", "--key", "c.key")
        self.assertEqual(args.port, 2443)
        self.assertTrue(args.verifyHost)

    def test_issueFromCA(self):
        """--issue-from-ca with --ca-key selects per-phone LSCs."""
        args = self.parse("register", "--tls", "--ca", "ca.pem",
                          "--issue-from-ca", "capf.pem", "--ca-key",
                          "capf.key", "--lsc-key-type", "rsa",
                          "--share-key", "--no-verify-host")
        self.assertEqual((args.issueFromCA, args.caKey, args.lscKeyType),
                         ("capf.pem", "capf.key", "rsa"))
        self.assertTrue(args.shareKey)
        self.assertFalse(args.verifyHost)

    def test_usageErrors(self):
        """Inconsistent or bad options are usage errors (exit 2)."""
        for argv in [
            ("register", "--cert", "c.pem", "--key", "c.key"),
            ("register", "--tls"),
            ("register", "--tls", "--ca", "ca", "--cert", "c.pem"),
            ("register", "--tls", "--ca", "ca", "--issue-from-ca", "x"),
            ("register", "--tls", "--ca", "ca", "--cert", "c", "--key", "k",
             "--issue-from-ca", "x", "--ca-key", "y"),
            ("register", "--type", "nokia"),
            ("register", "--mac", "xyz"),
            ("register", "--count", "0"),
            ("register", "--mac", "FFFFFFFFFFFF", "--count", "2"),
            ("register", "--version", "300"),
            ("register", "--hold", "-1"),
            ("issue-lsc", "--ca-cert", "a"),
            ("issue-lsc", "--ca-cert", "a", "--ca-key", "b", "--mac", "1",
             "--out-cert", "c", "--out-key", "d"),
            ("issue-lsc", "--ca-cert", "a", "--ca-key", "b", "--mac",
             MAC, "--out-cert", "c", "--out-key", "d", "--not-after", "x"),
            (),
        ]:
            self.assertUsageError(*argv)

    def test_issueLSCOptions(self):
        """issue-lsc parses the validity window as UTC times."""
        args = self.parse("issue-lsc", "--ca-cert", "a", "--ca-key", "b",
                          "--mac", "00:11:22:33:44:55", "--out-cert", "c",
                          "--out-key", "d", "--not-before", "2020-01-01",
                          "--not-after", "2020-02-01T00:00:00+00:00",
                          "--chain")
        self.assertEqual(args.mac, MAC)
        self.assertEqual(args.notBefore.isoformat(),
                         "2020-01-01T00:00:00+00:00")
        self.assertTrue(args.chain)


class IssueCommandTests(SynchronousTestCase):
    """
    C{srst-phone issue-lsc}.
    """

    def setUp(self):
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.ca = makeCA("CAPF-cli")
        self.caCert = writePem(self.directory, "ca.pem", self.ca.certificate)
        self.caKey = writeKey(self.directory, "ca.key", self.ca.key)

    def runCommand(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        code = self.successResultOf(cli.run(Clock(), argv, out, err,
                                            synchronously))
        return code, out.getvalue(), err.getvalue()

    def test_issue(self):
        """issue-lsc writes an LSC for the MAC, signed by the CA, and says so."""
        from srst.pki.trust import loadCertificateFile
        certPath = os.path.join(self.directory, "lsc.pem")
        code, out, err = self.runCommand(
            "issue-lsc", "--ca-cert", self.caCert, "--ca-key", self.caKey,
            "--mac", "00:11:22:33:44:55", "--out-cert", certPath,
            "--out-key", os.path.join(self.directory, "lsc.key"),
            "--not-before", "2020-01-01", "--not-after", "2020-01-02")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("CN=SEP001122334455", out)
        [certificate] = loadCertificateFile(certPath)
        certificate.verify_directly_issued_by(self.ca.certificate)
        self.assertEqual(certificate.not_valid_after_utc.isoformat(),
                         "2020-01-02T00:00:00+00:00")

    def test_missingCA(self):
        """An unreadable CA file exits 3 naming the file."""
        code, out, err = self.runCommand(
            "issue-lsc", "--ca-cert", os.path.join(self.directory, "nope"),
            "--ca-key", self.caKey, "--mac", MAC, "--out-cert", "c",
            "--out-key", "k")
        self.assertEqual(code, 3)
        self.assertIn("nope", err)

    def test_emptyWindow(self):
        """A window that ends before it starts exits 3 with the reason."""
        code, out, err = self.runCommand(
            "issue-lsc", "--ca-cert", self.caCert, "--ca-key", self.caKey,
            "--mac", MAC, "--out-cert", os.path.join(self.directory, "c"),
            "--out-key", os.path.join(self.directory, "k"),
            "--not-before", "2020-01-02", "--not-after", "2020-01-01")
        self.assertEqual(code, 3)
        self.assertIn("cannot issue LSC", err)


# -- real sockets ----------------------------------------------------------------


class RouterFixture:
    """
    A MiniRouter listening on 127.0.0.1 (plain or TLS), closed after the test.
    """

    def __init__(self, testCase, tlsOptions=None, **factoryArgs):
        self.factory = MiniRouterFactory(**factoryArgs)
        wrapped = self.factory
        if tlsOptions is not None:
            wrapped = TLSMemoryBIOFactory(tlsOptions, False, self.factory,
                                          clock=reactor)
        self.port = reactor.listenTCP(0, wrapped, interface="127.0.0.1")
        self.portNumber = self.port.getHost().port
        testCase.addCleanup(self.close)

    def close(self):
        for connection in list(self.factory.connections):
            connection.transport.abortConnection()
        return self.port.stopListening()


class SocketTests(TestCase):
    """
    Simulated phones on real 127.0.0.1 sockets.
    """

    timeout = 30

    @inlineCallbacks
    def test_plainRegistration(self):
        """A phone registers over TCP, keeps the router's answers, and unregisters cleanly."""
        router = RouterFixture(self)
        phone = SimulatedPhone(PhoneConfig(mac=MAC, sendAlarm=True),
                               clock=reactor)
        yield connectPhone(reactor, phone, "127.0.0.1", router.portNumber)
        yield phone.whenRegistered()
        self.assertEqual(phone.settings.lines, [1])
        self.assertEqual(phone.settings.lineStats[1].lineDirNumber, "1001")
        self.assertEqual(names(router.factory.received)[:3],
                         ["Alarm", "Register", "CapabilitiesRes"])
        register = router.factory.received[1]
        self.assertEqual(register.stationIpAddr,
                         ipaddress.IPv4Address("127.0.0.1"))
        yield phone.unregister()
        self.assertIsInstance(router.factory.received[-1], m.Unregister)
        self.assertIs(phone.state, PhoneState.CLOSED)

    @inlineCallbacks
    def test_connectionRefused(self):
        """A phone that cannot connect fails whenRegistered with PhoneDisconnected."""
        router = RouterFixture(self)
        portNumber = router.portNumber
        yield router.close()
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        registered = phone.whenRegistered()
        connecting = connectPhone(reactor, phone, "127.0.0.1", portNumber)
        yield self.assertFailure(connecting, Exception)
        yield self.assertFailure(registered, PhoneDisconnected)

    @inlineCallbacks
    def test_loadGenerator(self):
        """The load generator registers every phone, reports them, and unregisters them all."""
        router = RouterFixture(self, refuse={"SEP000000000003"})
        configs = [PhoneConfig(mac="00000000000%d" % (i,)) for i in range(1, 6)]
        generator = LoadGenerator(reactor, "127.0.0.1", router.portNumber,
                                  configs, concurrency=2)
        result = yield generator.run()
        self.assertEqual((result.attempted, result.registered,
                          result.rejected, result.failed), (5, 4, 1, 0))
        self.assertEqual(result.errors, (("refused", 1),))
        self.assertEqual(len(result.latencies), 4)
        self.assertGreater(result.elapsed, 0)
        self.assertEqual(len(generator.registeredPhones()), 4)
        counts = yield generator.unregisterAll()
        self.assertEqual(counts, (4, 0))
        self.assertEqual(generator.registeredPhones(), [])

    @inlineCallbacks
    def test_cliRegister(self):
        """srst-phone register --hold 0 registers, prints JSON figures and exits 0."""
        router = RouterFixture(self)
        out, err = io.StringIO(), io.StringIO()
        code = yield cli.run(reactor, [
            "register", "--port", str(router.portNumber), "--count", "3",
            "--hold", "0", "--json"], out, err, synchronously)
        self.assertEqual((code, err.getvalue()), (0, ""))
        figures = json.loads(out.getvalue().splitlines()[0])
        self.assertEqual(figures["registered"], 3)
        self.assertEqual(names(router.factory.received).count("Unregister"), 3)

    @inlineCallbacks
    def test_cliIncomplete(self):
        """srst-phone register exits 1 when a phone is refused."""
        router = RouterFixture(self, refuse={"SEP000000000001"})
        out, err = io.StringIO(), io.StringIO()
        code = yield cli.run(reactor, [
            "register", "--port", str(router.portNumber), "--hold", "0"],
            out, err, synchronously)
        self.assertEqual(code, 1)
        self.assertIn("registered 0/1 phones", out.getvalue())
        self.assertIn("1 rejected", out.getvalue())


class TLSTests(TestCase):
    """
    Simulated phones over TLS with LSCs, against a router that requires a
    client certificate from the phone CA.
    """

    timeout = 30

    def setUp(self):
        self.routerCA = makeCA("router CA")
        self.phoneCA = makeCA("CAPF-tls")
        certificate, key = makeServerCertificate(self.routerCA)
        self.options = serverTLSOptions(
            "sccp secure", certificate, key, [self.routerCA.certificate],
            trustedCertificates=[self.phoneCA.certificate])

    def lsc(self, mac=MAC, ca=None):
        ca = ca or self.phoneCA
        issued = issueLSC(ca.certificate, ca.key, mac, now=utcNow,
                          privateKey=sharedKey("tls-phone"))
        return issued.certificate, issued.privateKey

    @inlineCallbacks
    def test_tlsRegistration(self):
        """A phone with an LSC from the phone CA registers over TLS, the router's IP SAN verified."""
        router = RouterFixture(self, tlsOptions=self.options)
        certificate, key = self.lsc()
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        protocol = yield connectPhone(
            reactor, phone, "127.0.0.1", router.portNumber,
            clientTLSOptions("127.0.0.1", [self.routerCA.certificate],
                             certificate, key))
        yield phone.whenRegistered()
        self.assertIsNotNone(protocol.handshakeCompletedAt)
        peer = router.factory.connections[0].transport.getPeerCertificate()
        self.assertEqual(peer.to_cryptography(), certificate)
        yield phone.unregister()

    @inlineCallbacks
    def test_foreignLSC(self):
        """A phone whose LSC comes from another CA cannot register."""
        router = RouterFixture(self, tlsOptions=self.options)
        certificate, key = makePhoneCertificate(makeCA("stranger CA"), MAC)
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        registered = phone.whenRegistered()
        yield connectPhone(reactor, phone, "127.0.0.1", router.portNumber,
                           clientTLSOptions("127.0.0.1",
                                            [self.routerCA.certificate],
                                            certificate, key))
        yield self.assertFailure(registered, PhoneDisconnected)
        self.assertEqual(router.factory.received, [])

    @inlineCallbacks
    def test_wrongRouterName(self):
        """A router certificate that does not name the address fails verification unless told not to check it."""
        router = RouterFixture(self, tlsOptions=self.options)
        certificate, key = self.lsc()
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        registered = phone.whenRegistered()
        yield connectPhone(reactor, phone, "127.0.0.1", router.portNumber,
                           clientTLSOptions("127.0.0.2",
                                            [self.routerCA.certificate],
                                            certificate, key))
        yield self.assertFailure(registered, PhoneDisconnected)
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        yield connectPhone(reactor, phone, "127.0.0.1", router.portNumber,
                           clientTLSOptions("127.0.0.2",
                                            [self.routerCA.certificate],
                                            certificate, key,
                                            verifyHost=False))
        yield phone.whenRegistered()
        yield phone.unregister()

    @inlineCallbacks
    def test_cliIssueFromCA(self):
        """srst-phone register --tls --issue-from-ca mints an LSC per phone and registers them all."""
        router = RouterFixture(self, tlsOptions=self.options)
        directory = self.mktemp()
        os.makedirs(directory)
        out, err = io.StringIO(), io.StringIO()
        code = yield cli.run(reactor, [
            "register", "--port", str(router.portNumber), "--count", "2",
            "--tls", "--ca",
            writePem(directory, "router-ca.pem", self.routerCA.certificate),
            "--issue-from-ca",
            writePem(directory, "capf.pem", self.phoneCA.certificate),
            "--ca-key", writeKey(directory, "capf.key", self.phoneCA.key),
            "--hold", "0"], out, err, synchronously)
        self.assertEqual((code, err.getvalue()), (0, ""))
        self.assertIn("registered 2/2 phones", out.getvalue())
        self.assertIn("unregistered 2 phones (0 failed)", out.getvalue())

    @inlineCallbacks
    def test_cliBadFiles(self):
        """srst-phone register exits 3 when a TLS file cannot be read."""
        out, err = io.StringIO(), io.StringIO()
        code = yield cli.run(reactor, [
            "register", "--tls", "--ca", "/nonexistent/ca.pem", "--hold",
            "0"], out, err, synchronously)
        self.assertEqual(code, 3)
        self.assertIn("/nonexistent/ca.pem", err.getvalue())


# -- against the router's own SCCP listener ------------------------------------------


class SkinnyFixture:
    """
    srst's SkinnyFactory (plain, or secure inside TLS) on 127.0.0.1:0 with
    auto-assigned directory numbers; closed after the test.
    """

    def __init__(self, testCase, tlsOptions=None, maxEphones=5):
        from srst.sccp.config import CallManagerFallbackConfig
        from srst.sccp.factory import SkinnyFactory
        from srst.sccp.registry import EphoneRegistry

        config = CallManagerFallbackConfig(
            ipSourceAddress="127.0.0.1", port=0, securePort=0,
            maxEphones=maxEphones, maxDn=maxEphones, autoAssign=(1000, 1999))
        self.registry = EphoneRegistry(config, None)
        self.factory = SkinnyFactory(
            config, reactor, self.registry, utcNow,
            secure=tlsOptions is not None, tlsOptions=tlsOptions)
        wrapped = self.factory
        if tlsOptions is not None:
            wrapped = TLSMemoryBIOFactory(tlsOptions, False, self.factory,
                                          clock=reactor)
        self.port = reactor.listenTCP(0, wrapped, interface="127.0.0.1")
        self.portNumber = self.port.getHost().port
        testCase.addCleanup(self.close)

    def close(self):
        for protocol in list(self.factory.protocols.values()):
            protocol.transport.abortConnection()
        return self.port.stopListening()


class SkinnyFactoryTests(TestCase):
    """
    Simulated phones against srst's own SCCP listener.
    """

    timeout = 30

    @inlineCallbacks
    def test_plain(self):
        """A plain phone registers with SkinnyFactory, gets an auto-assigned line, and unregisters."""
        router = SkinnyFixture(self)
        phone = SimulatedPhone(PhoneConfig(mac=MAC, sendAlarm=True),
                               clock=reactor)
        yield connectPhone(reactor, phone, "127.0.0.1", router.portNumber)
        yield phone.whenRegistered()
        self.assertEqual(phone.negotiatedVersion, 11)
        self.assertEqual(phone.settings.lines, [1])
        self.assertEqual(phone.settings.lineStats[1].lineDirNumber, "1000")
        self.assertEqual(phone.settings.configStat.deviceName, "SEP" + MAC)
        self.assertEqual([e.deviceName for e in
                          router.registry.registeredEphones()], ["SEP" + MAC])
        yield phone.unregister()
        self.assertEqual(router.registry.registeredEphones(), [])

    @inlineCallbacks
    def test_tls(self):
        """Over TLS the router admits a phone whose LSC names it and rejects one whose LSC names another phone."""
        routerCA, phoneCA = makeCA("router CA"), makeCA("CAPF-skinny")
        certificate, key = makeServerCertificate(routerCA)
        router = SkinnyFixture(self, serverTLSOptions(
            "sccp secure", certificate, key, [routerCA.certificate],
            trustedCertificates=[phoneCA.certificate]))
        lsc = issueLSC(phoneCA.certificate, phoneCA.key, MAC, now=utcNow,
                       privateKey=sharedKey("tls-phone"))
        options = clientTLSOptions("127.0.0.1", [routerCA.certificate],
                                   lsc.certificate, lsc.privateKey)
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        yield connectPhone(reactor, phone, "127.0.0.1", router.portNumber,
                           options)
        yield phone.whenRegistered()
        impostor = SimulatedPhone(PhoneConfig(mac="00000000BEEF"),
                                  clock=reactor)
        rejected = impostor.whenRejected()
        yield connectPhone(reactor, impostor, "127.0.0.1", router.portNumber,
                           options)
        reject = yield rejected
        self.assertIsInstance(reject, m.RegisterReject)
        yield impostor.whenDisconnected()
        yield phone.unregister()


# -- the wire, as Wireshark sees it ------------------------------------------------------

PHONE_TO_ROUTER = [
    0x0001, 0x0010, 0x000E, 0x0028, 0x0025, 0x000C, 0x000B, 0x0009, 0x002D,
    0x000D, 0x0027]
"""Register, CapabilitiesRes, ButtonTemplateReq, SoftKeyTemplateReq,
SoftKeySetReq, ConfigStatReq, LineStatReq, ForwardStatReq,
RegisterAvailableLines, TimeDateReq, Unregister (sccp.md 4.1)."""


class CaptureFailed(RuntimeError):
    """tshark ended before it started capturing."""

    def __str__(self):
        return "tshark could not capture: %s" % (self.args[0],)


class TsharkCapture(ProcessProtocol):
    """
    A live C{tshark} capture that also prints the SCCP message ids it sees,
    so a test can wait until a message has been captured.  C{started} fires
    on tshark's "Capture started" (its earlier "Capturing on" comes before
    packets are really being captured).
    """

    def __init__(self):
        self.started = Deferred()
        self.ended = Deferred()
        self.stderr = b""
        self.stdout = b""
        self.seen = []
        self.running = True
        self._waiters = []

    def errReceived(self, data):
        self.stderr += data
        if not self.started.called and b"Capture started" in self.stderr:
            self.started.callback(None)

    def outReceived(self, data):
        self.stdout += data
        *lines, self.stdout = self.stdout.split(b"\n")
        for line in lines:
            self.seen.extend(int(x) for x in line.split(b",") if x.strip())
        for messageId, d in list(self._waiters):
            if messageId in self.seen:
                self._waiters.remove((messageId, d))
                d.callback(None)

    def waitFor(self, messageId):
        """@return: a Deferred firing once C{messageId} was captured."""
        d = Deferred()
        self._waiters.append((messageId, d))
        self.outReceived(b"")
        return d

    def processEnded(self, reason):
        self.running = False
        if not self.started.called:
            self.started.errback(CaptureFailed(
                self.stderr.decode("utf-8", "replace").strip()))
        for _, d in self._waiters:
            d.errback(CaptureFailed("tshark ended"))
        self._waiters = []
        self.ended.callback(None)


class WireCaptureTests(TestCase):
    """
    Wireshark's SCCP dissector reads a live capture of srst-phone
    registering with srst's SCCP listener on loopback: no malformed packet,
    and the registration sequence of sccp.md 4.1 in both directions.
    """

    timeout = 60

    def setUp(self):
        self.tsharkPath = shutil.which("tshark")
        if self.tsharkPath is None:
            raise SkipTest("tshark not installed")
        home = self.mktemp()
        os.makedirs(home)
        self.env = dict(os.environ, HOME=home)

    def tshark(self, *arguments):
        d = getProcessOutputAndValue(self.tsharkPath, ("-n",) + arguments,
                                     env=self.env, reactor=reactor)

        def check(result):
            out, err, code = result
            self.assertEqual(code, 0, err)
            return out.decode("utf-8").splitlines()
        return d.addCallback(check)

    @inlineCallbacks
    def startCapture(self, port, path):
        capture = TsharkCapture()
        process = reactor.spawnProcess(capture, self.tsharkPath, [
            "tshark", "-n", "-i", "lo", "-f", "tcp port %d" % (port,),
            "-w", path, "-P", "-l", "-d", "tcp.port==%d,skinny" % (port,),
            "-T", "fields", "-e", "skinny.messageId"], env=self.env)

        def stop():
            if capture.running:
                process.signalProcess("KILL")
            return capture.ended
        self.addCleanup(stop)
        try:
            yield capture.started
        except CaptureFailed as e:
            raise SkipTest(str(e))
        return capture, process

    @inlineCallbacks
    def test_liveCapture(self):
        """A captured registration and unregistration decodes cleanly, in the expected order."""
        router = SkinnyFixture(self)
        port = router.portNumber
        path = os.path.abspath(self.mktemp() + ".pcap")
        capture, process = yield self.startCapture(port, path)
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        yield connectPhone(reactor, phone, "127.0.0.1", port)
        yield phone.whenRegistered()
        yield phone.unregister()
        yield capture.waitFor(m.UnregisterAck.MESSAGE_ID)
        process.signalProcess("INT")
        yield capture.ended

        decode = ("-r", path, "-d", "tcp.port==%d,skinny" % (port,))
        bad = yield self.tshark(*decode, "-Y",
                                "_ws.malformed || _ws.expert.severity == error")
        self.assertEqual(bad, [])

        def ids(lines):
            return [int(x) for line in lines for x in line.split(",") if x]
        sent = yield self.tshark(*decode, "-Y", "tcp.dstport == %d" % (port,),
                                 "-T", "fields", "-e", "skinny.messageId")
        received = yield self.tshark(*decode, "-Y",
                                     "tcp.srcport == %d" % (port,), "-T",
                                     "fields", "-e", "skinny.messageId")
        self.assertEqual(ids(sent), PHONE_TO_ROUTER)
        self.assertEqual(ids(sent), [m.messageIdOf(x) for x in phone.sent])
        self.assertEqual(ids(received),
                         [m.messageIdOf(x) for x in phone.received])
        self.assertEqual(ids(received)[:2], [0x0081, 0x009B])
        self.assertEqual(ids(received)[-1], 0x0118)
        self.assertIn(0x0094, ids(received))
