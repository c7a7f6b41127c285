"""
Tests for L{srst.tools._phonewire}: L{PhoneProtocol}'s framing, and
simulated phones connected with L{connectPhone} over real 127.0.0.1
sockets, plain and TLS (L{clientTLSOptions}), against
L{tests.phonehelpers.MiniRouter} and against srst's own
L{srst.sccp.factory.SkinnyFactory}.  L{WireCaptureTests} captures a
registration on loopback with tshark and has Wireshark's SCCP dissector
check it (skipped without tshark or when capturing is not permitted).
"""

import ipaddress
import os
import struct

from twisted.internet import reactor
from twisted.internet.address import IPv6Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.pki.tls import serverTLSOptions
from srst.sccp import messages as m
from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonetypes import PhoneConfig, PhoneDisconnected, PhoneState
from srst.tools._phonewire import ANY_ADDRESS, clientTLSOptions, connectPhone
from srst.tools.lsc import issueLSC
from tests.phonehelpers import (
    MAC,
    RouterFixture,
    ScriptedPhone,
    mutualTLS,
    names,
)
from tests.pkihelpers import (
    makeCA,
    makePhoneCertificate,
    makeServerCertificate,
    sharedKey,
    utcNow,
)
from tests.routerhelpers import bounded, within
from tests.toolhelpers import requireTool, unavailable


class ProtocolTests(SynchronousTestCase):
    """
    L{PhoneProtocol} frames the byte stream and closes on what it cannot
    read.
    """

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

    def test_registerAddressNotIPv4(self):
        """On a connection whose local address is not IPv4 the phone registers with 0.0.0.0."""
        p = ScriptedPhone(self, hostAddress=IPv6Address("TCP", "::1", 2000))
        [register] = p.sent()
        self.assertEqual(register.stationIpAddr, ANY_ADDRESS)


class SocketTests(TestCase):
    """
    Simulated phones on real 127.0.0.1 sockets.
    """

    timeout = 30

    @bounded
    def test_plainRegistration(self):
        """A phone registers over TCP, keeps the router's answers, and unregisters cleanly."""
        router = RouterFixture(self)
        phone = SimulatedPhone(PhoneConfig(mac=MAC, sendAlarm=True),
                               clock=reactor)
        self.addCleanup(phone.stop)
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

    @bounded
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


class TLSTests(TestCase):
    """
    Simulated phones over TLS with LSCs, against a router that requires a
    client certificate from the phone CA.
    """

    timeout = 30

    def setUp(self):
        self.routerCA, self.phoneCA, self.options = mutualTLS()

    def lsc(self, mac=MAC, ca=None):
        ca = ca or self.phoneCA
        issued = issueLSC(ca.certificate, ca.key, mac, now=utcNow,
                          privateKey=sharedKey("tls-phone"))
        return issued.certificate, issued.privateKey

    @bounded
    def test_tlsRegistration(self):
        """A phone with an LSC from the phone CA registers over TLS, the router's IP SAN verified."""
        router = RouterFixture(self, tlsOptions=self.options)
        certificate, key = self.lsc()
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        self.addCleanup(phone.stop)
        protocol = yield connectPhone(
            reactor, phone, "127.0.0.1", router.portNumber,
            clientTLSOptions("127.0.0.1", [self.routerCA.certificate],
                             certificate, key))
        yield phone.whenRegistered()
        self.assertIsNotNone(protocol.handshakeCompletedAt)
        peer = router.factory.connections[0].transport.getPeerCertificate()
        self.assertEqual(peer.to_cryptography(), certificate)
        yield phone.unregister()

    @bounded
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

    @bounded
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


# -- against the router's own SCCP listener ------------------------------------------

class SkinnyFixture:
    """
    srst's SkinnyFactory (plain, or secure inside TLS) on 127.0.0.1:0 with
    auto-assigned directory numbers; closed after the test.
    """

    def __init__(self, testCase, tlsOptions=None, maxEphones=5):
        from srst.debug import DebugSwitches
        from srst.sccp.config import CallManagerFallbackConfig
        from srst.sccp.factory import SkinnyFactory
        from srst.sccp.registry import EphoneRegistry

        config = CallManagerFallbackConfig(
            ipSourceAddress="127.0.0.1", port=0, securePort=0,
            maxEphones=maxEphones, maxDn=maxEphones, autoAssign=(1000, 1999))
        self.registry = EphoneRegistry(config, None, reactor, runInThread=maybeDeferred)
        self.factory = SkinnyFactory(
            config, reactor, self.registry, utcNow,
            secure=tlsOptions is not None, debug=DebugSwitches(), tlsOptions=tlsOptions)
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

    @bounded
    def test_plain(self):
        """A plain phone registers with SkinnyFactory, gets an auto-assigned line, and unregisters."""
        router = SkinnyFixture(self)
        phone = SimulatedPhone(PhoneConfig(mac=MAC, sendAlarm=True),
                               clock=reactor)
        self.addCleanup(phone.stop)
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

    @bounded
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
        self.addCleanup(phone.stop)
        yield connectPhone(reactor, phone, "127.0.0.1", router.portNumber,
                           options)
        yield phone.whenRegistered()
        impostor = SimulatedPhone(PhoneConfig(mac="00000000BEEF"),
                                  clock=reactor)
        rejected = impostor.whenRejected()
        yield connectPhone(reactor, impostor, "127.0.0.1", router.portNumber,
                           options)
        reject = yield within(rejected, "RegisterReject for SEP00000000BEEF")
        self.assertEqual(reject, m.RegisterReject("Certificate mismatch"))
        yield within(impostor.whenDisconnected(), "SEP00000000BEEF to be disconnected")
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

    def whenCaptured(self, messageId):
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
        self.tsharkPath = requireTool("tshark")
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

    @bounded
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
            unavailable(str(e))
        return capture, process

    @bounded
    def test_liveCapture(self):
        """A captured registration and unregistration decodes cleanly, in the expected order."""
        router = SkinnyFixture(self)
        port = router.portNumber
        path = os.path.abspath(self.mktemp() + ".pcap")
        capture, process = yield self.startCapture(port, path)
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=reactor)
        self.addCleanup(phone.stop)
        yield connectPhone(reactor, phone, "127.0.0.1", port)
        yield phone.whenRegistered()
        yield phone.unregister()
        yield capture.whenCaptured(m.UnregisterAck.MESSAGE_ID)
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
