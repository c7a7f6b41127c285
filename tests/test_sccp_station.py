"""
Tests for L{srst.sccp.station}: the registration sequence, limits,
keepalives, unregistration and the secure listener's certificate check,
driven through L{SkinnyFactory} and L{SkinnyProtocol} over
L{StringTransportWithDisconnection} with a L{Clock}.

The helpers at the top are shared by the other C{tests.test_sccp_*}
modules.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from srst.debug import DebugSwitches
from srst.sccp import messages as m
from srst.sccp.config import CallManagerFallbackConfig, EphoneConfig, LineButton, SpeedDial, Timeouts
from srst.sccp.constants import (
    AlarmSeverity,
    REGISTER_ACK_FEATURES_V4_V10,
    REGISTER_ACK_FEATURES_V11,
    DeviceType,
    SoftKeyEvent,
    SoftKeySet,
    Stimulus,
    UnregisterStatus,
)
from srst.sccp.factory import SkinnyFactory
from srst.sccp.registry import EphoneRegistry
from srst.sccp.station import (
    HANDSHAKE_TIMEOUT,
    STANDBY_TIMEOUT,
    ICallStation,
    IStationListener,
    StationStatus,
    certificateMatchesDevice,
)
from srst.sccp._templates import (
    SOFT_KEY_SETS,
    SOFT_KEY_TEMPLATE,
    TEMPLATE_EVENTS,
    buttonTemplate,
    dateTemplate,
    displayText,
    idlePrompt,
    negotiateVersion,
    phoneModel,
    softKeySetKeys,
)
from tests.pkihelpers import issueCertificate, makeCA, makePhoneCertificate

# -- shared helpers --------------------------------------------------------------------

CONFIGURED_MAC = "100011110002"
NOW = datetime.datetime(2024, 6, 29, 9, 16, 2, tzinfo=datetime.timezone.utc)


def makeConfig(**kwargs: Any) -> CallManagerFallbackConfig:
    """
    A C{call-manager-fallback} section with one configured 7970 (MAC
    1000.1111.0002, line 2002 on button 1, speed dial 2003 on button 2) and
    auto-assign 2000-2009, unless overridden.
    """
    kwargs.setdefault("ipSourceAddress", "10.1.1.1")
    kwargs.setdefault("autoAssign", (2000, 2009))
    kwargs.setdefault("ephones", (EphoneConfig(
        CONFIGURED_MAC, "7970", (LineButton(1, "2002", "2002", "Reception"),), (SpeedDial(2, "2003", "Lab"),)),))
    return CallManagerFallbackConfig(**kwargs)


class Events:
    """A list of log events with lookups."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def formats(self) -> list[str]:
        """@return: every event's format string."""
        return [e.get("log_format", "") for e in self.events]

    def find(self, needle: str) -> list[dict[str, Any]]:
        """@return: the events whose format contains C{needle}."""
        return [e for e in self.events if needle in e.get("log_format", "")]


@implementer(IStationListener)
class Listener:
    """
    A station listener that records what it is told.

    @ivar messages: C{(station, message)} for each call-control message.
    @ivar ended: the stations whose registration ended, in order.
    @ivar activeCall: what L{hasActiveCall} answers.
    @ivar onMessage: called with C{(station, message)} after recording, or
        L{None}.
    """

    def __init__(self, activeCall: bool = False, onMessage: Any = None) -> None:
        self.messages: list[tuple[Any, m.Message]] = []
        self.ended: list[Any] = []
        self.activeCall = activeCall
        self.onMessage = onMessage

    def callMessageReceived(self, station: Any, msg: m.Message) -> None:
        self.messages.append((station, msg))
        if self.onMessage is not None:
            self.onMessage(station, msg)

    def hasActiveCall(self, station: Any) -> bool:
        return self.activeCall

    def sessionEnded(self, station: Any) -> None:
        self.ended.append(station)


class Router:
    """
    A registry and one or two listener factories on a L{Clock}, with
    in-memory phones.
    """

    def __init__(self, config: CallManagerFallbackConfig | None = None, stateDir: str | None = None,
                 registry: EphoneRegistry | None = None, debugOn: tuple[str, ...] = ("srst.debug.ephone",),
                 **factoryArgs: Any) -> None:
        """
        @param debugOn: the debug categories switched on (their events are
            in L{debug}).
        """
        self.clock = Clock()
        self.config = config or makeConfig()
        self.registry = registry or EphoneRegistry(self.config, stateDir, self.clock, runInThread=maybeDeferred)
        self.debug = Events()
        self.switches = DebugSwitches(self.debug, clock=self.clock)
        for namespace in debugOn:
            self.switches.enable(namespace)
        self.factoryArgs = factoryArgs
        self.plain = self.makeFactory(secure=False)

    def makeFactory(self, secure: bool) -> SkinnyFactory:
        """@return: a listener factory sharing the registry."""
        return SkinnyFactory(self.config, self.clock, self.registry, lambda: NOW, secure=secure,
                             debug=self.switches, serverName="branch-router", **self.factoryArgs)

    def connect(self, host: str = "10.1.1.40", port: int = 32626, factory: SkinnyFactory | None = None,
                transport: StringTransportWithDisconnection | None = None) -> Phone:
        """@return: a connected in-memory phone."""
        factory = factory or self.plain
        address = IPv4Address("TCP", host, port)
        protocol = factory.buildProtocol(address)
        transport = transport or StringTransportWithDisconnection(peerAddress=address)
        transport.protocol = protocol
        protocol.makeConnection(transport)
        return Phone(protocol, transport)


class Phone:
    """One in-memory phone connection."""

    def __init__(self, protocol: Any, transport: StringTransportWithDisconnection) -> None:
        self.protocol = protocol
        self.transport = transport

    @property
    def station(self) -> Any:
        """The session."""
        return self.protocol.station

    def send(self, *msgs: m.Message, version: int | None = None) -> None:
        """Send messages (encoded at the negotiated version) in one chunk."""
        v = self.protocol.protocolVersion if version is None else version
        self.protocol.dataReceived(b"".join(m.encodeMessage(msg, protocolVersion=v) for msg in msgs))

    def received(self) -> list[m.Message]:
        """@return: what the router sent since the last call."""
        data = self.transport.value()
        self.transport.clear()
        frames, rest = m.splitFrames(data)
        assert rest == b"", "partial frame sent"
        return [m.decodeMessage(f, protocolVersion=self.protocol.protocolVersion) for f in frames]

    def ask(self, *msgs: m.Message) -> list[m.Message]:
        """Send and return the answers."""
        self.send(*msgs)
        return self.received()

    def register(self, deviceName: str = "SEP" + CONFIGURED_MAC, protocolVersion: int = 5,
                 deviceType: int = DeviceType.PHONE_7970, **fields: Any) -> list[m.Message]:
        """Send Register; @return: the answers."""
        return self.ask(registerMessage(deviceName, protocolVersion, deviceType, **fields))

    @property
    def open(self) -> bool:
        """Whether the router has not closed the connection."""
        return self.transport.connected


def registerMessage(deviceName: str = "SEP" + CONFIGURED_MAC, protocolVersion: int = 5,
                    deviceType: int = DeviceType.PHONE_7970, **fields: Any) -> m.Register:
    """@return: a Register message."""
    return m.Register(deviceName=deviceName, stationIpAddr=ipaddress.IPv4Address("10.1.1.40"),
                      deviceType=deviceType, maxStreams=5, protocolVersion=protocolVersion, **fields)


def types(msgs: list[m.Message]) -> list[str]:
    """@return: the class names of C{msgs}."""
    return [type(msg).__name__ for msg in msgs]


class CertificateTransport(StringTransportWithDisconnection):
    """A transport that reports a TLS peer certificate, like C{TLSMemoryBIOProtocol}."""

    def __init__(self, certificate: Any, **kwargs: Any) -> None:
        kwargs.setdefault("peerAddress", IPv4Address("TCP", "10.1.1.40", 32626))
        StringTransportWithDisconnection.__init__(self, **kwargs)
        self.certificate = certificate

    def getPeerCertificate(self) -> Any:
        if self.certificate is None:
            return None
        return _PeerCertificate(self.certificate)


class _PeerCertificate:
    def __init__(self, certificate: Any) -> None:
        self.certificate = certificate

    def to_cryptography(self) -> Any:
        return self.certificate


def secureConnect(router: Router, certificate: Any, factory: SkinnyFactory | None = None,
                  port: int = 32626) -> Phone:
    """@return: a phone on the secure listener whose handshake completed with C{certificate}."""
    factory = factory or router.makeFactory(secure=True)
    transport = CertificateTransport(certificate, peerAddress=IPv4Address("TCP", "10.1.1.40", port))
    phone = router.connect(port=port, factory=factory, transport=transport)
    phone.protocol.handshakeCompleted()
    return phone


_phoneCA: list[Any] = []


def phoneCA() -> Any:
    """A CA for phone certificates (made once)."""
    if not _phoneCA:
        _phoneCA.append(makeCA("phone CA"))
    return _phoneCA[0]


# -- tests ---------------------------------------------------------------------------------


class RegistrationSequenceTests(SynchronousTestCase):
    """
    The registration of sccp.md 4.1, message by message.
    """

    def test_configuredEphone(self) -> None:
        """
        A configured 7970 gets RegisterAck (keepalive, date template,
        secondary keepalive 60, negotiated version, feature bytes) and
        CapabilitiesReq, then an answer to every request built from its
        configured line and speed dial, and the fallback prompt once it asks
        for the time.
        """
        router = Router()
        phone = router.connect()
        answers = phone.register(protocolVersion=5)
        self.assertEqual(types(answers), ["RegisterAck", "CapabilitiesReq"])
        self.assertEqual(answers[0], m.RegisterAck(30, "M/D/Y", 60, 5, REGISTER_ACK_FEATURES_V4_V10))
        self.assertEqual(phone.protocol.protocolVersion, 5)

        self.assertEqual(phone.ask(m.CapabilitiesRes([m.MediaCapability(4, 40), m.MediaCapability(11, 60)])), [])
        self.assertEqual(phone.ask(m.ButtonTemplateReq()), [m.ButtonTemplate(
            [m.ButtonDefinition(1, Stimulus.LINE), m.ButtonDefinition(1, Stimulus.SPEED_DIAL)])])
        self.assertEqual(phone.ask(m.SoftKeyTemplateReq()), [m.SoftKeyTemplateRes(SOFT_KEY_TEMPLATE)])
        self.assertEqual(phone.ask(m.SoftKeySetReq()), [
            m.SoftKeySetRes(SOFT_KEY_SETS),
            m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, 0xFFFFFFFF),
            m.DisplayPromptStatus(0, m.LABEL_YOUR_CURRENT_OPTIONS, 0, 0)])
        self.assertEqual(phone.ask(m.LineStatReq(1)), [m.LineStat(1, "2002", "Reception", "2002", 15)])
        self.assertEqual(phone.ask(m.ForwardStatReq(1)), [m.ForwardStat(lineNumber=1)])
        self.assertEqual(phone.ask(m.SpeedDialStatReq(1)), [m.SpeedDialStat(1, "2003", "Lab")])
        self.assertEqual(phone.ask(m.FeatureStatReq(3)), [m.FeatureStat(featureIndex=3)])
        self.assertEqual(phone.ask(m.ConfigStatReq()), [m.ConfigStat(
            "SEP" + CONFIGURED_MAC, 0, 1, "", "branch-router", 1, 1)])
        self.assertEqual(phone.ask(m.RegisterAvailableLines(8)), [])
        self.assertEqual(phone.ask(m.VersionReq()), [m.Version("")])
        self.assertEqual(phone.ask(m.ServerReq()), [m.ServerRes(
            [m.ServerIdentifier("branch-router", 2000, ipaddress.IPv4Address("10.1.1.1"))])])
        self.assertEqual(phone.ask(m.TimeDateReq()), [
            m.DefineTimeDate.fromDateTime(NOW), m.DisplayPromptStatus(0, m.LABEL_CM_FALLBACK, 0, 0)])
        self.assertEqual(phone.ask(m.KeepAlive()), [m.KeepAliveAck()])

        ephone = router.registry.byMac(CONFIGURED_MAC)
        self.assertTrue(ephone.registered)
        self.assertEqual((ephone.number, ephone.capabilities, ephone.availableLines, ephone.keepalives,
                          ephone.model, ephone.maxLine, ephone.registrationComplete),
                         (1, (4, 11), 8, 1, "7970", 8, True))
        self.assertIs(phone.station.status(), StationStatus.REGISTERED)
        self.assertEqual([e.number for e in router.registry.byDn("2002")], [1])

    def test_autoAssignedEphone(self) -> None:
        """
        A phone that is not configured gets the first number of the
        auto-assign range on button 1 and the matching line status; the
        number is held for it until its registration completes (TimeDateReq),
        then reserved.
        """
        router = Router()
        phone = router.connect()
        self.assertEqual(types(phone.register("SEP0011223344AA")), ["RegisterAck", "CapabilitiesReq"])
        self.assertEqual(phone.ask(m.ButtonTemplateReq()), [m.ButtonTemplate([m.ButtonDefinition(1, Stimulus.LINE)])])
        self.assertEqual(phone.ask(m.LineStatReq(1)), [m.LineStat(1, "2000", "2000", "2000", 15)])
        self.assertEqual(phone.ask(m.SpeedDialStatReq(1)), [m.SpeedDialStat(speedDialNumber=1)])
        self.assertEqual(phone.ask(m.LineStatReq(2)), [m.LineStat(lineNumber=2)])
        self.assertEqual(phone.ask(m.ConfigStatReq())[0].numberOfLines, 1)
        ephone = router.registry.byMac("0011223344AA")
        self.assertEqual((ephone.number, ephone.deviceName, [line.assignment.dn for line in ephone.lines]),
                         (2, "SEP0011223344AA", ["2000"]))
        self.assertEqual((router.registry.heldDn("0011223344AA"), router.registry.rememberedDn("0011223344AA")),
                         ("2000", None))
        phone.ask(m.TimeDateReq())
        self.assertEqual((router.registry.heldDn("0011223344AA"), router.registry.rememberedDn("0011223344AA")),
                         (None, "2000"))

    def test_pipelinedRequests(self) -> None:
        """
        Requests pipelined in one segment, as a 7912 sends them, are all
        answered in order.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        answers = phone.ask(m.ButtonTemplateReq(), m.SoftKeyTemplateReq(), m.SoftKeySetReq(), m.ConfigStatReq(),
                            m.LineStatReq(1), m.ForwardStatReq(1), m.RegisterAvailableLines(1))
        self.assertEqual(types(answers), ["ButtonTemplate", "SoftKeyTemplateRes", "SoftKeySetRes", "SelectSoftKeys",
                                          "DisplayPromptStatus", "ConfigStat", "LineStat", "ForwardStat"])

    def test_versionNegotiation(self) -> None:
        """
        A phone offering protocol 17 is answered with 11 (our maximum) and
        the v11 feature bytes; later frames are decoded and encoded at 11.
        """
        router = Router()
        phone = router.connect()
        answers = phone.register(protocolVersion=17)
        self.assertEqual((answers[0].protocolVersion, answers[0].featureBytes), (11, REGISTER_ACK_FEATURES_V11))
        self.assertEqual(phone.protocol.protocolVersion, 11)
        self.assertEqual(router.registry.byMac(CONFIGURED_MAC).maxProtocolVersion, 17)
        self.assertEqual((negotiateVersion(7), negotiateVersion(22), negotiateVersion(0)), (7, 11, 0))

    def test_configuredKeepaliveAndDateFormat(self) -> None:
        """
        RegisterAck carries C{timeouts.keepalive} and the C{date-format}
        template.
        """
        router = Router(makeConfig(timeouts=Timeouts(keepalive=45), dateFormat="d/m/y"))
        ack = router.connect().register()[0]
        self.assertEqual((ack.keepAliveInterval, ack.dateTemplate), (45, "D/M/Y"))

    def test_systemMessage(self) -> None:
        """
        A configured C{system-message} replaces the fallback label as idle
        prompt, also when the softkey sets are asked for afterwards.
        """
        router = Router(makeConfig(systemMessage="Branch in fallback"))
        phone = router.connect()
        phone.register()
        self.assertEqual(phone.ask(m.TimeDateReq())[1], m.DisplayPromptStatus(0, "Branch in fallback", 0, 0))
        self.assertEqual(phone.ask(m.SoftKeySetReq())[2], m.DisplayPromptStatus(0, "Branch in fallback", 0, 0))
        self.assertEqual(types(phone.ask(m.TimeDateReq())), ["DefineTimeDate"])

    def test_registerTokenReq(self) -> None:
        """
        RegisterTokenReq is granted with RegisterTokenAck, before and after
        registration.
        """
        router = Router()
        phone = router.connect()
        self.assertEqual(phone.ask(m.RegisterTokenReq(deviceName="SEP" + CONFIGURED_MAC)), [m.RegisterTokenAck()])
        phone.register()
        self.assertEqual(phone.ask(m.RegisterTokenReq()), [m.RegisterTokenAck()])

    def test_alarmLogged(self) -> None:
        """
        An Alarm (sent before Register) is logged with its text and answered
        with nothing.
        """
        router = Router()
        phone = router.connect()
        events = Events()
        phone.station.core.log = Logger(namespace="test", observer=events)
        self.assertEqual(phone.ask(m.Alarm(2, "Name=SEP100011110002 Load=x Last=TCP-timeout", 1, 2)), [])
        [event] = events.find("alarm")
        self.assertEqual(event["text"], "Name=SEP100011110002 Load=x Last=TCP-timeout")
        self.assertTrue(phone.open)

    def test_requestBeforeRegistrationIgnored(self) -> None:
        """
        A configuration request before Register gets no answer and does not
        close the connection.
        """
        router = Router()
        phone = router.connect()
        self.assertEqual(phone.ask(m.ButtonTemplateReq(), m.OffHook()), [])
        self.assertTrue(phone.open)
        self.assertEqual(types(phone.register()), ["RegisterAck", "CapabilitiesReq"])

    def test_secondRegisterOnSameConnectionIgnored(self) -> None:
        """
        A second Register on a registered connection is ignored; the phone
        stays registered.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        self.assertEqual(phone.register(), [])
        self.assertTrue(phone.open)
        self.assertTrue(router.registry.byMac(CONFIGURED_MAC).registered)

    def test_callMessages(self) -> None:
        """
        A registered phone's call-control messages go to the station
        listener.
        """
        listener = Listener()
        router = Router(listener=listener)
        phone = router.connect()
        phone.register()
        phone.send(m.OffHook())
        self.assertEqual(listener.messages, [(phone.station, m.OffHook())])


class StandbyTests(SynchronousTestCase):
    """
    Connections that do not register.
    """

    def test_keepAliveAcknowledgedAndNotCounted(self) -> None:
        """
        A standby connection that only sends KeepAlive gets KeepAliveAck and
        does not count against max-ephones.
        """
        router = Router(makeConfig(maxEphones=1))
        standby = router.connect(port=40000)
        self.assertEqual(standby.ask(m.KeepAlive(), m.KeepAlive()), [m.KeepAliveAck(), m.KeepAliveAck()])
        self.assertEqual(standby.station.core.standbyKeepAlives, 2)
        phone = router.connect()
        self.assertEqual(types(phone.register()), ["RegisterAck", "CapabilitiesReq"])
        self.assertEqual(standby.ask(m.KeepAlive()), [m.KeepAliveAck()])
        self.assertEqual(len(router.registry.registeredEphones()), 1)
        self.assertIs(standby.station.status(), StationStatus.CONNECTED)

    def test_silentConnectionClosed(self) -> None:
        """
        An unregistered connection that sends nothing for the standby timeout
        is aborted; a KeepAlive restarts the timeout.
        """
        router = Router()
        phone = router.connect()
        router.clock.advance(STANDBY_TIMEOUT - 1)
        phone.send(m.KeepAlive())
        router.clock.advance(STANDBY_TIMEOUT - 1)
        self.assertTrue(phone.open)
        router.clock.advance(1)
        self.assertTrue(phone.transport.disconnected)
        self.assertIs(phone.station.status(), StationStatus.CLOSED)
        self.assertEqual(router.clock.getDelayedCalls(), [])

    def test_onlyKeepAliveKeepsUnregisteredOpen(self) -> None:
        """
        An unregistered connection that sends Alarms, RegisterTokenReqs and
        Unregisters but neither Register nor KeepAlive is answered, yet
        closed STANDBY_TIMEOUT after it opened, with the reason; a standby
        connection sending KeepAlives beside it stays.
        """
        router = Router()
        chatty = router.connect(port=40001)
        standby = router.connect(port=40002)
        for _ in range(3):
            router.clock.advance(STANDBY_TIMEOUT / 4)
            chatty.send(m.Alarm(alarmSeverity=AlarmSeverity.INFORMATIONAL, text="Last=Reset", parm1=0, parm2=0))
            self.assertEqual(chatty.ask(m.RegisterTokenReq()), [m.RegisterTokenAck()])
            self.assertEqual(types(chatty.ask(m.Unregister())), ["UnregisterAck"])
            self.assertEqual(standby.ask(m.KeepAlive()), [m.KeepAliveAck()])
        router.clock.advance(STANDBY_TIMEOUT / 4)
        self.assertTrue(chatty.transport.disconnected)
        self.assertEqual(chatty.station.closeReason, f"no Register or KeepAlive for {STANDBY_TIMEOUT} s")
        self.assertFalse(standby.transport.disconnected)
        self.assertIs(standby.station.status(), StationStatus.CONNECTED)


class RejectTests(SynchronousTestCase):
    """
    Registrations the router refuses: RegisterReject with a reason, then
    close.
    """

    def assertRejected(self, phone: Phone, answers: list[m.Message], text: str) -> None:
        self.assertEqual(answers, [m.RegisterReject(text)])
        self.assertFalse(phone.open)
        self.assertIs(phone.station.status(), StationStatus.CLOSED)

    def test_maxEphones(self) -> None:
        """
        A phone over max-ephones is rejected; the registered one is not
        affected.
        """
        router = Router(makeConfig(maxEphones=1))
        first = router.connect()
        first.register()
        second = router.connect(port=40000)
        self.assertRejected(second, second.register("SEP0011223344AA"), "Max ephones exceeded")
        self.assertTrue(first.open)
        self.assertEqual([e.mac for e in router.registry.registeredEphones()], [CONFIGURED_MAC])
        self.assertEqual(router.registry.rememberedDn("0011223344AA"), None)
        self.assertEqual(router.clock.getDelayedCalls()[0].getTime(), 90)
        self.assertEqual(len(router.clock.getDelayedCalls()), 1)

    def test_invalidDeviceName(self) -> None:
        """
        A device name that is not SEP + 12 hex digits is rejected.
        """
        for name in ("ATA001122334455", "SEP0011223344", "SEP0011223344GG", ""):
            router = Router()
            phone = router.connect()
            self.assertRejected(phone, phone.register(name), "Invalid device name")
            self.assertEqual(router.registry.registeredEphones(), [])

    def test_notConfiguredWithoutAutoAssign(self) -> None:
        """
        Without auto-assign a phone that is not configured gets no line and
        is rejected.
        """
        router = Router(makeConfig(autoAssign=None))
        phone = router.connect()
        self.assertRejected(phone, phone.register("SEP0011223344AA"), "No DN available")

    def test_droppedRegistrationsReserveNothing(self) -> None:
        """
        Phones that send Register and drop before completing their
        registration (twice as many as the range holds) leave no
        reservation and write nothing: the next phone still gets the
        range's first number, reserved once it asks for the time.
        """
        stateDir = self.mktemp()
        router = Router(stateDir=stateDir)
        for index in range(20):
            phone = router.connect(port=40000 + index)
            self.assertEqual(types(phone.register("SEP%012X" % (0xD0000 + index))), ["RegisterAck", "CapabilitiesReq"])
            phone.transport.loseConnection()
        self.assertFalse(os.path.exists(stateDir))
        phone = router.connect(port=41000)
        phone.register("SEP0011223344AA")
        self.assertEqual(phone.ask(m.LineStatReq(1))[0].lineDirNumber, "2000")
        phone.ask(m.TimeDateReq())
        self.assertEqual([(s.mac, s.dn) for s in router.registry.reservations()], [("0011223344AA", "2000")])
        self.assertEqual(os.listdir(os.path.join(stateDir, "sccp")), ["auto-assign.json"])

    def test_autoAssignRangeExhausted(self) -> None:
        """
        When every number of the range is taken the next new phone is
        rejected.
        """
        router = Router(makeConfig(autoAssign=(2000, 2000)))
        router.connect().register("SEP0011223344AA")
        phone = router.connect(port=40000)
        self.assertRejected(phone, phone.register("SEP0011223344BB"), "No DN available")

    def test_maxDn(self) -> None:
        """
        A phone whose line would exceed max-dn is rejected.
        """
        router = Router(makeConfig(maxDn=1))
        router.connect().register()
        phone = router.connect(port=40000)
        self.assertRejected(phone, phone.register("SEP0011223344AA"), "Max DN exceeded")

    def test_rejectLogged(self) -> None:
        """
        A rejection is logged with the device, the peer and the reason, and
        on C{debug ephone register}.
        """
        router = Router(makeConfig(maxEphones=1))
        router.connect().register()
        phone = router.connect(host="10.1.1.41", port=40000)
        events = Events()
        phone.station.core.log = Logger(namespace="test", observer=events)
        phone.register("SEP0011223344AA")
        [event] = events.find("rejected")
        self.assertEqual((event["device"], event["ip"], event["port"], event["reason"]),
                         ("SEP0011223344AA", "10.1.1.41", 40000, "max-ephones reached"))
        self.assertTrue(router.debug.find("RegisterReject sent"))


class ReplaceTests(SynchronousTestCase):
    """
    The same device registering on a new connection.
    """

    def test_replacesOldSession(self) -> None:
        """
        The new connection takes over the registration and the old one is
        aborted; the old connection's end does not unregister the phone.
        """
        router = Router(makeConfig(maxEphones=1))
        old = router.connect(port=40000)
        old.register()
        new = router.connect(port=40001)
        self.assertEqual(types(new.register()), ["RegisterAck", "CapabilitiesReq"])
        self.assertTrue(old.transport.disconnected)
        self.assertIs(old.station.status(), StationStatus.CLOSED)
        ephone = router.registry.byMac(CONFIGURED_MAC)
        self.assertIs(ephone.station, new.station)
        self.assertEqual((ephone.socket, ephone.peerPort, ephone.number), (2, 40001, 1))
        self.assertEqual(len(router.clock.getDelayedCalls()), 1)


class KeepAliveTests(SynchronousTestCase):
    """
    Keepalives of a registered phone.
    """

    def test_timeoutUnregisters(self) -> None:
        """
        Three keepalive intervals without a message unregister the phone,
        free its number and abort the connection; no timer is left.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        router.clock.advance(89)
        self.assertTrue(router.registry.byDn("2002"))
        router.clock.advance(1)
        self.assertEqual(router.registry.byDn("2002"), [])
        self.assertFalse(router.registry.byMac(CONFIGURED_MAC).registered)
        self.assertTrue(phone.transport.disconnected)
        self.assertEqual(router.clock.getDelayedCalls(), [])
        self.assertTrue(router.debug.find("Unregistered"))

    def test_anyMessageKeepsAlive(self) -> None:
        """
        KeepAlive and any other message restart the timeout, and KeepAlives
        are counted.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        router.clock.advance(80)
        phone.send(m.KeepAlive())
        router.clock.advance(80)
        phone.send(m.TimeDateReq())
        router.clock.advance(80)
        self.assertTrue(phone.open)
        self.assertEqual(router.registry.byMac(CONFIGURED_MAC).keepalives, 1)

    def test_timersCancelledOnConnectionLost(self) -> None:
        """
        A connection lost while registered unregisters the phone and leaves
        no timer behind; so does one lost during the TLS handshake.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        phone.transport.loseConnection()
        self.assertEqual(router.clock.getDelayedCalls(), [])
        self.assertEqual(router.registry.registeredEphones(), [])
        secure = router.connect(factory=router.makeFactory(secure=True), port=40000)
        self.assertEqual(len(router.clock.getDelayedCalls()), 1)
        secure.transport.loseConnection()
        self.assertEqual(router.clock.getDelayedCalls(), [])


class UnregisterTests(SynchronousTestCase):
    """
    Unregister.
    """

    def test_unregisterAcknowledged(self) -> None:
        """
        Unregister is answered with UnregisterAck status 0, the phone is
        unregistered (its number free) and the connection is back to
        unregistered.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        self.assertEqual(phone.ask(m.Unregister()), [m.UnregisterAck(UnregisterStatus.OK)])
        self.assertEqual(router.registry.byDn("2002"), [])
        self.assertIs(phone.station.status(), StationStatus.CONNECTED)
        self.assertEqual(phone.ask(m.KeepAlive()), [m.KeepAliveAck()])
        router.clock.advance(STANDBY_TIMEOUT)
        self.assertTrue(phone.transport.disconnected)
        self.assertEqual(router.clock.getDelayedCalls(), [])

    def test_unregisterRefusedDuringCall(self) -> None:
        """
        While the phone has a call Unregister is refused with status 2 (NAK)
        and the phone stays registered.
        """
        router = Router(listener=Listener(activeCall=True))
        phone = router.connect()
        phone.register()
        self.assertEqual(phone.ask(m.Unregister()), [m.UnregisterAck(UnregisterStatus.NAK)])
        self.assertTrue(router.registry.byMac(CONFIGURED_MAC).registered)

    def test_unregisterWhenNotRegistered(self) -> None:
        """
        Unregister on a connection that never registered is acknowledged.
        """
        router = Router()
        phone = router.connect()
        self.assertEqual(phone.ask(m.Unregister()), [m.UnregisterAck(UnregisterStatus.OK)])


class RegistrationEndTests(SynchronousTestCase):
    """
    However a registration ends, the station listener is told once, after
    the registry released the phone.
    """

    def router(self) -> tuple[Router, Listener, list[Any]]:
        """
        @return: a router whose listener notes, when told, whether the
            registry still had the phone registered to that session.
        """
        listener = Listener()
        router = Router(makeConfig(maxEphones=2), listener=listener)
        heldThen: list[Any] = []
        ended = listener.sessionEnded

        def sessionEnded(station: Any) -> None:
            heldThen.append(router.registry.byMac(CONFIGURED_MAC).station is station)
            ended(station)

        listener.sessionEnded = sessionEnded  # type: ignore[method-assign]
        return router, listener, heldThen

    def test_connectionLost(self) -> None:
        """
        A registered phone's connection lost: told once.
        """
        router, listener, heldThen = self.router()
        phone = router.connect()
        phone.register()
        phone.transport.loseConnection()
        self.assertEqual((listener.ended, heldThen), ([phone.station], [False]))

    def test_keepAliveTimeout(self) -> None:
        """
        The keepalive timeout, whose abort then loses the connection: told
        once.
        """
        router, listener, heldThen = self.router()
        phone = router.connect()
        phone.register()
        router.clock.advance(90)
        self.assertTrue(phone.transport.disconnected)
        self.assertEqual((listener.ended, heldThen), ([phone.station], [False]))

    def test_replaced(self) -> None:
        """
        The device registering on another connection: the old session is
        told once (the registry holds the phone for the new one), the new
        one not at all.
        """
        router, listener, heldThen = self.router()
        old = router.connect(port=40000)
        old.register()
        new = router.connect(port=40001)
        new.register()
        self.assertTrue(old.transport.disconnected)
        self.assertEqual((listener.ended, heldThen), ([old.station], [False]))
        self.assertIs(router.registry.byMac(CONFIGURED_MAC).station, new.station)

    def test_unregister(self) -> None:
        """
        Unregister: told once; the connection closing later (not registered
        any more) tells nothing; registering again and losing the connection
        is a second registration, told again.
        """
        router, listener, heldThen = self.router()
        phone = router.connect()
        phone.register()
        phone.send(m.Unregister())
        self.assertEqual((listener.ended, heldThen), ([phone.station], [False]))
        phone.register()
        phone.transport.loseConnection()
        self.assertEqual(listener.ended, [phone.station, phone.station])

    def brokenRouter(self) -> tuple[Router, Listener]:
        """@return: a router whose listener fails when told a registration ended."""
        listener = Listener()

        def sessionEnded(station: Any) -> None:
            listener.ended.append(station)
            raise RuntimeError("broken listener")

        listener.sessionEnded = sessionEnded  # type: ignore[method-assign]
        return Router(makeConfig(maxEphones=2), listener=listener), listener

    def test_listenerFailsOnKeepAliveTimeout(self) -> None:
        """
        A listener that fails when told of the keepalive timeout has its
        failure logged; the phone's connection is closed all the same and
        the registry no longer holds it.
        """
        router, listener = self.brokenRouter()
        phone = router.connect()
        phone.register()
        router.clock.advance(90)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(listener.ended, [phone.station])
        self.assertTrue(phone.transport.disconnected)
        self.assertIsNone(router.registry.byMac(CONFIGURED_MAC).station)

    def test_listenerFailsOnReplaced(self) -> None:
        """
        A listener that fails when told the old session was replaced has
        its failure logged; the new session stays connected and registered.
        """
        router, listener = self.brokenRouter()
        old = router.connect(port=40000)
        old.register()
        new = router.connect(port=40001)
        answers = new.register()
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertIsInstance(answers[0], m.RegisterAck)
        self.assertTrue(old.transport.disconnected)
        self.assertFalse(new.transport.disconnected)
        self.assertIs(router.registry.byMac(CONFIGURED_MAC).station, new.station)

    def test_neverRegistered(self) -> None:
        """
        A connection that never registered ends without a word to the
        listener.
        """
        router, listener, heldThen = self.router()
        phone = router.connect()
        phone.transport.loseConnection()
        self.assertEqual(listener.ended, [])


class CallStationTests(SynchronousTestCase):
    """
    What a station offers the call adapter (L{ICallStation}).
    """

    def test_interface(self) -> None:
        """
        A station provides L{ICallStation}: its label, its ephone, the
        wall-clock time, and sending.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        station = phone.station
        self.assertTrue(verifyObject(ICallStation, station))
        self.assertEqual((station.label(), station.ephone, station.now()),
                         ("ephone-1[1]", router.registry.byMac(CONFIGURED_MAC), NOW))
        station.send(m.KeepAliveAck())
        self.assertEqual(phone.received(), [m.KeepAliveAck()])

    def test_stateDebug(self) -> None:
        """
        State debug lines carry the station's label and socket; while the
        category is off none is written and the station says so.
        """
        router = Router()
        phone = router.connect()
        phone.register()
        phone.station.stateDebug("OFFHOOK line {line}", line=1)
        [event] = router.debug.find("OFFHOOK")
        self.assertEqual((event["log_format"], event["station"], event["socket"], event["line"]),
                         ("{station}:OFFHOOK line {line}", "ephone-1[1]", 1, 1))
        self.assertTrue(phone.station.stateDebugEnabled())
        quiet = Router(debugOn=("srst.debug.ephone.register",))
        other = quiet.connect()
        other.register()
        other.station.stateDebug("OFFHOOK")
        self.assertEqual((quiet.debug.find("OFFHOOK"), other.station.stateDebugEnabled()), ([], False))


class SecureRegistrationTests(SynchronousTestCase):
    """
    The secure listener: the device name must match the TLS client
    certificate.
    """

    def test_lscAccepted(self) -> None:
        """
        A phone whose LSC says C{CN=SEP<MAC>} registers as secure.
        """
        router = Router()
        certificate, _ = makePhoneCertificate(phoneCA(), CONFIGURED_MAC)
        phone = secureConnect(router, certificate)
        self.assertEqual(types(phone.register()), ["RegisterAck", "CapabilitiesReq"])
        ephone = router.registry.byMac(CONFIGURED_MAC)
        self.assertTrue(ephone.secure)
        self.assertIn("CN=SEP100011110002", ephone.certificateSubject)

    def test_micAccepted(self) -> None:
        """
        A MIC naming the model and the MAC (C{CN=CP-7970G-SEP<MAC>}) is
        accepted.
        """
        router = Router()
        certificate, _ = issueCertificate(phoneCA(), "CP-7970G-SEP" + CONFIGURED_MAC, serverAuth=False)
        phone = secureConnect(router, certificate)
        self.assertEqual(types(phone.register()), ["RegisterAck", "CapabilitiesReq"])

    def test_mismatchRejected(self) -> None:
        """
        A device name another phone's certificate is used for is rejected.
        """
        for commonName in ("SEP0011223344AA", "CP-7970G-SEP0011223344AA", "XSEP100011110002"):
            router = Router()
            certificate, _ = issueCertificate(phoneCA(), commonName, serverAuth=False)
            phone = secureConnect(router, certificate)
            self.assertEqual(phone.register(), [m.RegisterReject("Certificate mismatch")])
            self.assertFalse(phone.open)
            self.assertEqual(router.registry.registeredEphones(), [])

    def test_noCertificateRejected(self) -> None:
        """
        A secure connection without a client certificate cannot register.
        """
        router = Router()
        phone = secureConnect(router, None)
        self.assertEqual(phone.register(), [m.RegisterReject("No client certificate")])

    def test_nothingBeforeHandshake(self) -> None:
        """
        Before the TLS handshake completes, Register and KeepAlive are not
        acted on.
        """
        router = Router()
        phone = router.connect(factory=router.makeFactory(secure=True),
                               transport=CertificateTransport(None))
        self.assertEqual(phone.ask(registerMessage(), m.KeepAlive()), [])
        self.assertIs(phone.station.status(), StationStatus.HANDSHAKING)
        self.assertEqual(router.registry.registeredEphones(), [])

    def test_handshakeTimeout(self) -> None:
        """
        A handshake that does not complete in time aborts the connection.
        """
        router = Router()
        phone = router.connect(factory=router.makeFactory(secure=True), transport=CertificateTransport(None))
        router.clock.advance(HANDSHAKE_TIMEOUT)
        self.assertTrue(phone.transport.disconnected)
        self.assertEqual(router.clock.getDelayedCalls(), [])

    def test_certificateMatching(self) -> None:
        """
        The device name must be a whole token of a CN, ignoring case.
        """
        ca = phoneCA()
        cases = [("SEP001122334455", True), ("sep001122334455", True), ("CP-7970G-SEP001122334455", True),
                 ("CP-7970G-SEP001122334455-01", True), ("CP-7970G-SEP0011223344556", False),
                 ("XSEP001122334455", False), ("SEP001122334466", False)]
        for commonName, expected in cases:
            certificate, _ = issueCertificate(ca, commonName, serverAuth=False)
            self.assertEqual(certificateMatchesDevice(certificate, "SEP001122334455"), expected, commonName)


class TemplateTests(SynchronousTestCase):
    """
    Templates, prompts and model data.
    """

    def test_softKeySets(self) -> None:
        """
        Every set refers to template positions whose event is the key's
        event, and info indexes are 300 + event; the idle set offers
        PickUp (event 17), GPickUp (18) and DND, the off-hook set PickUp
        and GPickUp, as IOS does; a connected call offers Confrn and Join
        after Transfer.
        """
        self.assertEqual(len(SOFT_KEY_SETS), 12)
        onHook = SOFT_KEY_SETS[SoftKeySet.ON_HOOK]
        for position, key in zip(onHook.softKeyTemplateIndexes, softKeySetKeys(SoftKeySet.ON_HOOK)):
            self.assertEqual(TEMPLATE_EVENTS[position - 1], key)
        self.assertEqual(onHook.softKeyInfoIndexes, (301, 302, 305, 317, 318, 363))
        self.assertEqual(onHook.softKeyTemplateIndexes[3:], (17, 18, 19), "DND follows GPickUp in the template")
        self.assertEqual(SOFT_KEY_SETS[SoftKeySet.OFF_HOOK].softKeyInfoIndexes, (301, 309, 305, 317, 318))
        self.assertEqual(SOFT_KEY_SETS[SoftKeySet.RING_OUT].softKeyTemplateIndexes, (0, 9))
        self.assertEqual(softKeySetKeys(SoftKeySet.CONNECTED), (
            SoftKeyEvent.HOLD, SoftKeyEvent.END_CALL, SoftKeyEvent.TRANSFER, SoftKeyEvent.CONFRN, SoftKeyEvent.JOIN))
        self.assertEqual(SOFT_KEY_SETS[SoftKeySet.CONNECTED].softKeyInfoIndexes, (303, 309, 304, 313, 315))

    def test_buttonTemplateGaps(self) -> None:
        """
        Buttons are numbered per kind in button order; an unused button
        between two used ones is undefined.
        """
        self.assertEqual(buttonTemplate([1, 4], [2]), (
            m.ButtonDefinition(1, Stimulus.LINE), m.ButtonDefinition(1, Stimulus.SPEED_DIAL),
            m.ButtonDefinition(0, Stimulus.UNDEFINED), m.ButtonDefinition(2, Stimulus.LINE)))
        self.assertEqual(buttonTemplate([], []), ())

    def test_prompts(self) -> None:
        """
        The idle prompt is the system message made to fit, else the fallback
        label; date formats map to templates.
        """
        self.assertEqual(idlePrompt(None), "\x1e\x0a")
        self.assertEqual(idlePrompt("x" * 40), "x" * 32)
        self.assertEqual(displayText("caf\u00e9 \u20ac\x00"), "caf\u00e9 ?")
        self.assertEqual((dateTemplate("m/d/ya"), dateTemplate("Y/M/D"), dateTemplate("bogus")),
                         ("M/D/YA", "Y/M/D", "M/D/Y"))
        self.assertEqual((phoneModel(DeviceType.PHONE_7970).name, phoneModel(12345).name), ("7970", "Unknown"))
