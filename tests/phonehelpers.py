"""
Shared set-up of the simulated-phone tests (L{srst.tools.phone} and its
modules) and of the real-socket call tests.

  - Scripted by hand: L{ScriptedPhone} (a phone on a
    L{StringTransportWithDisconnection} with a L{Clock}; the test plays the
    router), the registration answers of sccp.md 4.1 (L{registerAck},
    L{answerFor}) and L{decodeAll}/L{names} to read what the phone wrote.
  - On real 127.0.0.1 sockets: L{MiniRouter} (a codec-based registration
    responder) behind L{RouterFixture}, plain or TLS, and L{mutualTLS}, the
    CAs and server options of a router that requires an LSC.
  - Against the real router: L{routerYamlWithCapf} and L{registeredPhone}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.protocols.tls import TLSMemoryBIOFactory

from srst.pki.tls import serverTLSOptions
from srst.sccp import messages as m
from srst.sccp.constants import SoftKeyEvent, Stimulus, UnregisterStatus
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonemedia import PhoneMedia
from srst.tools._phonetypes import PhoneConfig, PhoneState
from srst.tools._phonewire import PhoneProtocol, clientTLSOptions, connectPhone
from srst.tools.lsc import issueLSC
from tests.pkihelpers import makeCA, makeServerCertificate, writePem
from tests.routerhelpers import bounded, routerYaml, within
from tests.test_sccp_integration import PHONE_CA, now

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

    def __init__(self, testCase, debug=None, hostAddress=None, **configArgs):
        configArgs.setdefault("mac", MAC)
        self.config = PhoneConfig(**configArgs)
        self.clock = Clock()
        self.phone = SimulatedPhone(self.config, clock=self.clock, debug=debug)
        self.protocol = PhoneProtocol(self.phone)
        self.transport = StringTransportWithDisconnection(
            hostAddress=hostAddress)
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


def mutualTLS():
    """
    A router CA, a phone CA and the router's server options, which require
    a client certificate (LSC) from the phone CA.

    @return: C{(routerCA, phoneCA, serverOptions)}.
    """
    routerCA = makeCA("router CA")
    phoneCA = makeCA("CAPF-tls")
    certificate, key = makeServerCertificate(routerCA)
    options = serverTLSOptions(
        "sccp secure", certificate, key, [routerCA.certificate],
        trustedCertificates=[phoneCA.certificate])
    return routerCA, phoneCA, options


def routerYamlWithCapf(stateDir: str, extra: str) -> str:
    """
    @return: L{routerYaml} with C{extra}, plus a C{capf} phone trustpoint
        holding L{PHONE_CA} (written into C{stateDir}).
    """
    capf = writePem(stateDir, "capf.pem", PHONE_CA.certificate)
    return routerYaml(stateDir, extra=extra).replace(
        '"7970": {certificates:', f'capf: {{certificates: [{capf}]}}\n    "7970": {{certificates:')


def stopPhone(phone: SimulatedPhone, connected: Deferred) -> Deferred:
    """
    Stop a phone after a test: gracefully once registered; a phone that
    never registered (a failed test) has its connection aborted, so that a
    TLS handshake or a router that never answered does not hold the
    clean-up until trial's timeout.

    @param connected: what L{connectPhone} returned.
    """
    if phone.state is not PhoneState.REGISTERED:
        connected.addCallback(lambda protocol: protocol.transport.abortConnection())
        connected.addErrback(lambda reason: None)
    return phone.stop()


@bounded
def registeredPhone(testCase: Any, service: Any, mac: str, tls: bool = True, media: bool = True) -> Any:
    """
    Register a simulated phone with C{service} (stopped after the test).

    @param testCase: the test, for clean-ups.
    @param service: the running L{srst.service.RouterService}.
    @param mac: the phone's MAC (12 hex digits).
    @param tls: register on the secure port with an LSC from L{PHONE_CA},
        else on the clear-text port.
    @param media: give the phone a L{PhoneMedia} (real RTP/SRTP).
    @return: a L{Deferred} firing with C{(phone, dn)} once registered.
    """
    phone = SimulatedPhone(PhoneConfig(mac=mac), clock=reactor)
    if media:
        testCase.addCleanup(PhoneMedia(phone, reactor=reactor).stop)
    ports = service.ports()
    if tls:
        lsc = issueLSC(PHONE_CA.certificate, PHONE_CA.key, mac, now=now)
        caCertificate = service.certificateServer.caCertificate
        options = clientTLSOptions("127.0.0.1", [caCertificate], lsc.certificate, lsc.privateKey)
        connected = connectPhone(reactor, phone, "127.0.0.1", ports["sccp-secure"], tlsOptions=options)
    else:
        connected = connectPhone(reactor, phone, "127.0.0.1", ports["sccp"])
    testCase.addCleanup(stopPhone, phone, connected)
    yield within(phone.whenRegistered(), f"{phone.deviceName} to register")
    return phone, service.registry.byMac(mac).lines[0].assignment.dn
