"""
Tests for L{srst.policing}: the seed's control-plane policy (access list 140,
class map C{sccp-class}, C{police 8000 1500 1500}), token buckets, the
aggregate L{ControlPlane}, the stream and datagram wrappers (refuse, pause,
resume, abort, pass-through) and C{show policy-map control-plane}.

Everything here runs on L{Clock} and fake transports; real sockets are in
L{tests.test_policing_integration}.
"""

from __future__ import annotations

import ipaddress
import json

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.internet.ssl import CertificateOptions, optionsForClientTLS, trustRootFromCertificates
from twisted.internet.ssl import Certificate as TwistedCertificate
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.logger import LogLevel, capturedLogs
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from cryptography.hazmat.primitives.serialization import Encoding

from srst.admin.commands import CommandTable
from srst.policing import (
    CLASS_DEFAULT,
    CONNECTION_ATTEMPT_BYTES,
    SEGMENT_BYTES,
    AccessList,
    AccessListEntry,
    AclAction,
    ClassMap,
    ControlPlane,
    ControlPlanePolicy,
    Police,
    PoliceAction,
    PolicingDatagramProtocol,
    PolicingFactory,
    PolicingProtocol,
    PolicyClass,
    RateMeter,
    TokenBucket,
    registerPolicingCommands,
    renderPolicyMap,
    sourceAddressOf,
)
from tests.pkihelpers import makeCA, makeServerCertificate

CREDENTIALS_PORT = 2445
TRUSTED = "127.0.0.1"
UNTRUSTED = "127.0.0.2"


def seedAccessList(trusted: str = TRUSTED) -> AccessList:
    """
    Access list 140 of the seed's Configuration 2, with the trusted host
    configurable (the seed's is 10.1.1.11).
    """
    return AccessList(
        140,
        [
            AccessListEntry("deny", "tcp", trusted, CREDENTIALS_PORT),
            AccessListEntry("permit", "tcp", None, CREDENTIALS_PORT),
            AccessListEntry("deny", "ip", None),
        ],
    )


def seedPolicy(trusted: str = TRUSTED, conform: str = "drop", exceed: str = "drop") -> ControlPlanePolicy:
    """
    The seed's C{control-plane-policy}: C{sccp-class} policed at 8000 bps,
    Bc = Be = 1500 bytes, with the given actions (the seed's are drop/drop).
    """
    police = Police(8000, 1500, 1500, conform, exceed)
    return ControlPlanePolicy(classes=[PolicyClass(ClassMap("sccp-class", seedAccessList(trusted)), police)])


def rateLimitPolicy() -> ControlPlanePolicy:
    """
    The variant the seed's comment describes: conform transmit, exceed drop.
    """
    return seedPolicy(conform="transmit", exceed="drop")


def peer(host: str, port: int = 40000) -> IPv4Address:
    return IPv4Address("TCP", host, port)


class Recorder(Protocol):
    """
    An application protocol that keeps what it sees.
    """

    def __init__(self) -> None:
        self.received = b""
        self.made = False
        self.lost: Failure | None = None

    def connectionMade(self) -> None:
        self.made = True

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure) -> None:
        self.lost = reason


class RecorderFactory(Factory):
    """
    Builds L{Recorder}s and counts how often it was asked.
    """

    def __init__(self) -> None:
        self.built: list[Recorder] = []

    def buildProtocol(self, addr):
        p = Recorder()
        p.factory = self
        self.built.append(p)
        return p


class RefusingFactory(Factory):
    """
    A wrapped factory that refuses every connection itself.
    """

    def buildProtocol(self, addr):
        return None


def policed(policy: ControlPlanePolicy, clock: Clock | None = None, localPort=CREDENTIALS_PORT):
    """
    A L{PolicingFactory} over a L{RecorderFactory}.

    @return: (policing factory, recorder factory, control plane, clock).
    """
    clock = clock or Clock()
    controlPlane = ControlPlane(policy, clock)
    app = RecorderFactory()
    return PolicingFactory(app, controlPlane, clock, localPort=localPort), app, controlPlane, clock


def connect(factory: PolicingFactory, host: str, port: int = 40000, transportClass=StringTransport):
    """
    Build and connect a protocol for a peer, as the reactor would.

    @return: (protocol or None, transport).
    """
    address = peer(host, port)
    protocol = factory.buildProtocol(address)
    transport = transportClass(hostAddress=IPv4Address("TCP", "127.0.0.1", CREDENTIALS_PORT), peerAddress=address)
    if protocol is not None:
        if isinstance(transport, StringTransportWithDisconnection):
            transport.protocol = protocol
        protocol.makeConnection(transport)
    return protocol, transport


class AccessListTests(SynchronousTestCase):
    """
    L{AccessList.evaluate}: first match wins, C{ip} covers TCP and UDP, no
    match is the implicit deny.
    """

    def test_configurationTwoTable(self):
        """
        With the trusted host 127.0.0.1, line 1 denies its credentials
        traffic, line 2 permits everybody else's, and line 3 denies the rest.
        """
        acl = seedAccessList()
        table = [
            (("tcp", "127.0.0.1", 2445), AclAction.DENY),
            (("tcp", "127.0.0.2", 2445), AclAction.PERMIT),
            (("tcp", "10.1.1.13", 2445), AclAction.PERMIT),
            (("tcp", "127.0.0.1", 2000), AclAction.DENY),
            (("tcp", "127.0.0.2", 2443), AclAction.DENY),
            (("udp", "127.0.0.2", 2445), AclAction.DENY),
            (("udp", "127.0.0.2", 2427), AclAction.DENY),
            (("ip", "127.0.0.2", None), AclAction.DENY),
        ]
        for packet, expected in table:
            self.assertEqual(acl.evaluate(*packet), expected, packet)
        self.assertEqual(acl.evaluate("tcp", "127.0.0.2", 2445), "permit")

    def test_seedTrustedHost(self):
        """
        The seed's literal list trusts 10.1.1.11 only; CallManager at
        10.1.1.13 is permitted into the class like anybody else.
        """
        acl = seedAccessList("10.1.1.11")
        self.assertEqual(acl.evaluate("tcp", "10.1.1.11", 2445), AclAction.DENY)
        self.assertEqual(acl.evaluate("tcp", "10.1.1.13", 2445), AclAction.PERMIT)

    def test_implicitDeny(self):
        """
        Without an explicit last line, traffic no entry matches gives
        C{None} (IOS's implicit deny).
        """
        acl = AccessList(150, [AccessListEntry("permit", "tcp", None, 2445)])
        self.assertIsNone(acl.evaluate("tcp", "127.0.0.2", 2000))
        self.assertIsNone(acl.evaluate("udp", "127.0.0.2", 2445))
        self.assertIsNone(AccessList(151).evaluate("tcp", "127.0.0.2", 2445))

    def test_ipMatchesTcpAndUdp(self):
        """
        An C{ip} entry matches TCP and UDP; a C{tcp} entry does not match UDP.
        """
        acl = AccessList(160, [AccessListEntry("permit", "ip", "10.0.0.0/8")])
        self.assertEqual(acl.evaluate("tcp", "10.1.2.3", 80), AclAction.PERMIT)
        self.assertEqual(acl.evaluate("udp", "10.1.2.3", 2427), AclAction.PERMIT)
        self.assertIsNone(acl.evaluate("udp", "11.1.2.3", 2427))
        tcpOnly = AccessList(161, [AccessListEntry("permit", "tcp", None, 2427)])
        self.assertIsNone(tcpOnly.evaluate("udp", "10.1.2.3", 2427))

    def test_prefixes(self):
        """
        A prefix source matches the addresses inside it only.
        """
        acl = AccessList(170, [AccessListEntry("permit", "tcp", "10.1.1.0/24", 2445)])
        self.assertEqual(acl.evaluate("tcp", "10.1.1.200", 2445), AclAction.PERMIT)
        self.assertIsNone(acl.evaluate("tcp", "10.1.2.1", 2445))

    def test_ipv6(self):
        """
        IPv4-mapped IPv6 peers match IPv4 entries; other IPv6 peers match
        C{any} but never an IPv4 prefix; scoped addresses lose their scope.
        """
        acl = seedAccessList()
        self.assertEqual(acl.evaluate("tcp", "::ffff:127.0.0.1", 2445), AclAction.DENY)
        self.assertEqual(acl.evaluate("tcp", "2001:db8::1", 2445), AclAction.PERMIT)
        v6 = AccessList(180, [AccessListEntry("permit", "tcp", "fe80::/64", 2445)])
        self.assertEqual(v6.evaluate("tcp", "fe80::1%eth0", 2445), AclAction.PERMIT)
        self.assertEqual(v6.evaluate("tcp", ipaddress.ip_address("fe80::1%eth0"), 2445), AclAction.PERMIT)
        self.assertIsNone(v6.evaluate("tcp", "127.0.0.1", 2445))

    def test_badAddress(self):
        """
        A source that is not an IP address is a L{ValueError}.
        """
        self.assertRaises(ValueError, seedAccessList().evaluate, "tcp", "router.example", 2445)
        self.assertRaises(ValueError, seedAccessList().evaluate, "tcp", 12, 2445)

    def test_describe(self):
        """
        Entries render in IOS syntax.
        """
        lines = [e.describe() for e in seedAccessList("10.1.1.11").entries]
        self.assertEqual(
            lines,
            ["deny tcp host 10.1.1.11 any eq 2445", "permit tcp any any eq 2445", "deny ip any any"],
        )
        self.assertEqual(AccessListEntry("permit", "udp", "10.1.1.0/24").describe(),
                         "permit udp 10.1.1.0 0.0.0.255 any")


class ValueValidationTests(SynchronousTestCase):
    """
    The attrs validators repeat the IOS ranges.
    """

    def test_entryValues(self):
        """
        Unknown actions and protocols, ports out of range, a port on an
        C{ip} entry and a prefix with host bits are rejected.
        """
        self.assertRaises(ValueError, AccessListEntry, "allow", "tcp")
        self.assertRaises(ValueError, AccessListEntry, "permit", "icmp")
        self.assertRaises(ValueError, AccessListEntry, "permit", "tcp", None, 0)
        self.assertRaises(ValueError, AccessListEntry, "permit", "tcp", None, 65536)
        self.assertRaises(ValueError, AccessListEntry, "permit", "tcp", None, True)
        self.assertRaises(ValueError, AccessListEntry, "permit", "ip", None, 2445)
        self.assertRaises(ValueError, AccessListEntry, "permit", "tcp", "10.1.1.1/24")
        self.assertRaises(TypeError, AccessListEntry, "permit", "tcp", 42)

    def test_entryConversion(self):
        """
        Text converts to the enum and network types; C{any} is C{None}.
        """
        entry = AccessListEntry("deny", "tcp", "host 10.1.1.11", 2445)
        self.assertEqual(entry.source, ipaddress.ip_network("10.1.1.11/32"))
        self.assertIs(entry.action, AclAction.DENY)
        self.assertIsNone(AccessListEntry("permit", "tcp", "any").source)
        self.assertEqual(entry, AccessListEntry(AclAction.DENY, "tcp", ipaddress.ip_network("10.1.1.11/32"), 2445))

    def test_accessListNumber(self):
        """
        Access-list numbers run from 1 to 2699.
        """
        self.assertRaises(ValueError, AccessList, 0)
        self.assertRaises(ValueError, AccessList, 2700)
        self.assertRaises(TypeError, AccessList, 140, ["deny ip any any"])
        self.assertEqual(AccessList(2699).number, 2699)

    def test_policeRanges(self):
        """
        The rate runs from 8000 to 2000000000 bps, the bursts from 1000 to
        512000000 bytes; actions are transmit or drop.
        """
        self.assertRaises(ValueError, Police, 7999)
        self.assertRaises(ValueError, Police, 2000000001)
        self.assertRaises(ValueError, Police, 8000, 999)
        self.assertRaises(ValueError, Police, 8000, 1500, 512000001)
        self.assertRaises(ValueError, Police, 8000, 1500, 1500, "explode")
        self.assertRaises(TypeError, Police, 8000.0)
        police = Police(8000, 1500, 1500, "drop", "drop")
        self.assertEqual((police.conformAction, police.exceedAction), ("drop", "drop"))
        self.assertIs(police.actionFor(True), PoliceAction.DROP)

    def test_classesAndPolicy(self):
        """
        Class names are non-empty, C{class-default} cannot be defined, and a
        class appears once in a policy.
        """
        acl = seedAccessList()
        self.assertRaises(ValueError, ClassMap, "", acl)
        self.assertRaises(ValueError, ClassMap, CLASS_DEFAULT, acl)
        self.assertRaises(ValueError, ClassMap, "c", acl, "match-some")
        cls = PolicyClass(ClassMap("c", acl), Police(8000))
        self.assertRaises(ValueError, ControlPlanePolicy, "p", [cls, cls])
        self.assertRaises(TypeError, PolicyClass, ClassMap("c", acl), None)
        self.assertEqual(ControlPlanePolicy().name, "control-plane-policy")


class ClassifyTests(SynchronousTestCase):
    """
    L{ControlPlanePolicy.classify}: MQC semantics.
    """

    def test_configurationTwo(self):
        """
        TCP to 2445 from the trusted host is not in C{sccp-class}
        (class-default passes it); from anybody else it is; all other traffic
        is class-default.
        """
        policy = seedPolicy()
        [sccp] = policy.classes
        self.assertIsNone(policy.classify("tcp", "127.0.0.1", 2445))
        self.assertIs(policy.classify("tcp", "127.0.0.2", 2445), sccp)
        self.assertIs(policy.classify("tcp", ipaddress.ip_address("10.1.1.13"), 2445), sccp)
        self.assertIsNone(policy.classify("tcp", "127.0.0.2", 2000))
        self.assertIsNone(policy.classify("udp", "127.0.0.2", 2427))

    def test_denyFallsThrough(self):
        """
        A deny in one class's list only means "not in this class": the next
        class may still take the packet.
        """
        first = PolicyClass(ClassMap("first", AccessList(101, [AccessListEntry("deny", "tcp", "10.0.0.1")])),
                            Police(8000))
        second = PolicyClass(ClassMap("second", AccessList(102, [AccessListEntry("permit", "ip")])), Police(16000))
        policy = ControlPlanePolicy("p", [first, second])
        self.assertIs(policy.classify("tcp", "10.0.0.1", 80), second)
        self.assertIs(policy.classify("udp", "10.0.0.2", 53), second)


class TokenBucketTests(SynchronousTestCase):
    """
    L{TokenBucket} in IOS units: bits per second, bytes of burst.
    """

    def test_startsFull(self):
        """
        A new bucket holds its whole burst, and an exceeding packet takes
        nothing.
        """
        bucket = TokenBucket(8000, 1500)
        self.assertTrue(bucket.consume(1000, 0))
        self.assertTrue(bucket.consume(500, 0))
        self.assertFalse(bucket.consume(1, 0))
        self.assertEqual(bucket.level(0), 0)

    def test_refillRate(self):
        """
        8000 bps refills 1000 bytes per second, capped at the burst.
        """
        bucket = TokenBucket(8000, 1500)
        bucket.consume(1500, 10.0)
        self.assertEqual(bucket.level(10.5), 500)
        self.assertFalse(bucket.consume(600, 10.5))
        self.assertTrue(bucket.consume(500, 10.5))
        self.assertEqual(bucket.level(100.0), 1500)

    def test_timeUntil(self):
        """
        C{timeUntil} says when the bucket will hold a number of bytes
        (at most the burst), and is 0 when it already does.
        """
        bucket = TokenBucket(8000, 1500)
        self.assertEqual(bucket.timeUntil(1500, 0), 0)
        bucket.consume(1500, 0)
        self.assertEqual(bucket.timeUntil(250, 0), 0.25)
        self.assertEqual(bucket.timeUntil(99999, 0), 1.5)

    def test_drainIntoDebt(self):
        """
        C{drain} takes bytes the bucket does not hold; the debt is repaid at
        the rate before tokens are available again.
        """
        bucket = TokenBucket(8000, 1500)
        bucket.drain(2500, 0)
        self.assertEqual(bucket.level(0), -1000)
        self.assertEqual(bucket.timeUntil(500, 0), 1.5)
        self.assertFalse(bucket.consume(1, 0.9))
        self.assertTrue(bucket.consume(500, 1.5))

    def test_clockBackwards(self):
        """
        Time going backwards refills nothing and breaks nothing.
        """
        bucket = TokenBucket(8000, 1500)
        bucket.consume(1500, 100.0)
        self.assertEqual(bucket.level(50.0), 0)
        self.assertEqual(bucket.level(100.5), 500)

    def test_validation(self):
        """
        Rate and burst must be positive integers.
        """
        self.assertRaises(ValueError, TokenBucket, 0, 1500)
        self.assertRaises(ValueError, TokenBucket, 8000, 0)


class RateMeterTests(SynchronousTestCase):
    """
    L{RateMeter}, the "5 minute" rates.
    """

    def test_steadyRate(self):
        """
        A steady 1000 bytes per second converges to 8000 bps and decays once
        the traffic stops.
        """
        meter = RateMeter()
        for second in range(3000):
            meter.add(1000, float(second))
        self.assertApproximates(meter.rate(3000.0), 8000, 30)
        self.assertLess(meter.rate(6000.0), 8000 * 0.0001 + 1)


class ControlPlaneTests(SynchronousTestCase):
    """
    L{ControlPlane}: aggregate buckets and counters.
    """

    def test_admitSeed(self):
        """
        With the seed's drop/drop, every untrusted connection attempt is
        refused whether it conforms or exceeds; trusted ones are class-default.
        """
        clock = Clock()
        cp = ControlPlane(seedPolicy(), clock)
        outcomes = [cp.admitConnection("tcp", UNTRUSTED, 2445) for _ in range(30)]
        self.assertFalse(any(a.allowed for a in outcomes))
        self.assertEqual(sum(a.verdict.conformed for a in outcomes), 1500 // CONNECTION_ATTEMPT_BYTES)
        trusted = cp.admitConnection("tcp", TRUSTED, 2445)
        self.assertTrue(trusted.allowed)
        self.assertIsNone(trusted.policyClass)
        stats = cp.stats()
        sccp = stats.byName("sccp-class")
        self.assertEqual((sccp.packets, sccp.bytes), (30, 30 * CONNECTION_ATTEMPT_BYTES))
        self.assertEqual((sccp.droppedPackets, sccp.refusedConnections), (30, 30))
        self.assertEqual((sccp.police.conformedPackets, sccp.police.exceededPackets), (25, 5))
        default = stats.byName(CLASS_DEFAULT)
        self.assertEqual((default.packets, default.bytes, default.police), (1, 60, None))
        self.assertRaises(KeyError, stats.byName, "nosuch")

    def test_nonIPPeer(self):
        """
        A connection with no IP source (a UNIX socket) is class-default.
        """
        cp = ControlPlane(seedPolicy(), Clock())
        self.assertTrue(cp.admitConnection("tcp", None, 2445).allowed)
        self.assertEqual(cp.stats().byName(CLASS_DEFAULT).packets, 1)

    def test_warnRateLimited(self):
        """
        Warnings about one class and kind are logged at most once a second,
        the next one carrying how many were suppressed.
        """
        clock = Clock()
        cp = ControlPlane(seedPolicy(), clock)
        [sccp] = cp.policy.classes
        with capturedLogs() as events:
            for _ in range(5):
                cp.warn("refuse", sccp, "refused {peer}", peer="x")
            clock.advance(1.0)
            cp.warn("refuse", sccp, "refused {peer}", peer="y")
            cp.warn("abort", sccp, "aborted {peer}", peer="z")
        self.assertEqual([(e["peer"], e["suppressed"], e["kind"]) for e in events],
                         [("x", 0, "refuse"), ("y", 4, "refuse"), ("z", 0, "abort")])
        self.assertTrue(all(e["log_level"] == LogLevel.warn for e in events))
        self.assertEqual({e["log_namespace"] for e in events}, {"srst.policing"})


class SourceAddressTests(SynchronousTestCase):
    """
    L{sourceAddressOf}.
    """

    def test_kinds(self):
        """
        TCP addresses and UDP tuples give their host; UNIX sockets and
        unparsable hosts give C{None}.
        """
        self.assertEqual(sourceAddressOf(peer("10.1.1.13")), ipaddress.ip_address("10.1.1.13"))
        self.assertEqual(sourceAddressOf(IPv6Address("TCP", "::ffff:10.1.1.13", 1)),
                         ipaddress.ip_address("10.1.1.13"))
        self.assertEqual(sourceAddressOf(("127.0.0.2", 2427)), ipaddress.ip_address("127.0.0.2"))
        self.assertIsNone(sourceAddressOf(UNIXAddress(b"/tmp/sock")))
        self.assertIsNone(sourceAddressOf(("not-an-address", 1)))
        self.assertIsNone(sourceAddressOf(None))


class PolicingFactoryTests(SynchronousTestCase):
    """
    L{PolicingFactory.buildProtocol}: refuse, pass through, and the
    bookkeeping around them.
    """

    def test_refuseUntrusted(self):
        """
        With the seed's policy an untrusted connection to the credentials
        port is refused before the wrapped factory is asked, counted, and
        logged with fields.
        """
        factory, app, cp, clock = policed(seedPolicy())
        with capturedLogs() as events:
            protocol, _ = connect(factory, UNTRUSTED, 41000)
        self.assertIsNone(protocol)
        self.assertEqual(app.built, [])
        self.assertEqual(factory.protocols, {})
        sccp = cp.stats().byName("sccp-class")
        self.assertEqual((sccp.refusedConnections, sccp.droppedPackets, sccp.droppedBytes), (1, 1, 60))
        [event] = events
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertEqual((event["peer"], event["peerPort"], event["port"]), (UNTRUSTED, 41000, 2445))
        self.assertEqual((event["policyClass"], event["outcome"], event["action"]),
                         ("sccp-class", "conformed", "drop"))

    def test_passTrusted(self):
        """
        The trusted host's connection is class-default: wrapped, delivered
        untouched and never paused, however much it sends.
        """
        factory, app, cp, clock = policed(seedPolicy())
        protocol, transport = connect(factory, TRUSTED)
        self.assertIsInstance(protocol, PolicingProtocol)
        self.assertIsNone(protocol.policyClass)
        self.assertEqual(protocol.logPrefix(), "Recorder (PolicingProtocol)")
        [recorder] = app.built
        self.assertTrue(recorder.made)
        protocol.dataReceived(b"x" * 100000)
        self.assertEqual(len(recorder.received), 100000)
        self.assertEqual(transport.producerState, "producing")
        self.assertEqual(clock.getDelayedCalls(), [])
        default = cp.stats().byName(CLASS_DEFAULT)
        self.assertEqual(default.bytes, 60 + 100000)
        self.assertEqual(default.packets, 1 + -(-100000 // SEGMENT_BYTES))

    def test_otherPortPasses(self):
        """
        Untrusted traffic to another port is not in the class (line 3 denies
        it) and passes.
        """
        factory, app, cp, clock = policed(seedPolicy(), localPort=2000)
        protocol, _ = connect(factory, UNTRUSTED)
        self.assertIsNotNone(protocol)
        self.assertEqual(len(app.built), 1)

    def test_wrappedFactoryRefuses(self):
        """
        C{None} from the wrapped factory is passed on, not wrapped.
        """
        cp = ControlPlane(seedPolicy(), Clock())
        factory = PolicingFactory(RefusingFactory(), cp, Clock(), localPort=2445)
        self.assertIsNone(factory.buildProtocol(peer(TRUSTED)))
        self.assertEqual(factory.protocols, {})

    def test_nonIPPeer(self):
        """
        A peer without an IP address is class-default.
        """
        factory, app, cp, clock = policed(seedPolicy())
        self.assertIsNotNone(factory.buildProtocol(UNIXAddress(b"/tmp/x")))
        self.assertEqual(len(app.built), 1)

    def test_callableLocalPort(self):
        """
        C{localPort} may be a callable, consulted per connection.
        """
        ports = [2000]
        factory, app, cp, clock = policed(seedPolicy(), localPort=lambda: ports[0])
        self.assertIsNotNone(factory.buildProtocol(peer(UNTRUSTED)))
        ports[0] = 2445
        self.assertIsNone(factory.buildProtocol(peer(UNTRUSTED)))

    def test_acceptedPortRefuses(self):
        """
        Without C{localPort} the decision uses the accepted socket's port in
        C{makeConnection}: a refused connection is aborted there and the
        wrapped factory is never asked.
        """
        factory, app, cp, clock = policed(seedPolicy(), localPort=None)
        protocol, transport = connect(factory, UNTRUSTED, transportClass=StringTransportWithDisconnection)
        self.assertIsInstance(protocol, PolicingProtocol)
        self.assertEqual(protocol.logPrefix(), "PolicingProtocol")
        self.assertTrue(transport.disconnected)
        self.assertEqual(app.built, [])
        self.assertEqual(factory.protocols, {})
        protocol.dataReceived(b"ignored")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(cp.stats().byName("sccp-class").refusedConnections, 1)

    def test_acceptedPortPasses(self):
        """
        Without C{localPort}, a trusted connection is connected to the
        wrapped protocol once its port is known.
        """
        factory, app, cp, clock = policed(seedPolicy(), localPort=lambda: None)
        protocol, transport = connect(factory, TRUSTED)
        [recorder] = app.built
        self.assertTrue(recorder.made)
        self.assertIn(protocol, factory.protocols)
        protocol.dataReceived(b"hello")
        self.assertEqual(recorder.received, b"hello")

    def test_acceptedPortLateCallable(self):
        """
        A C{localPort} callable that learns the port between C{buildProtocol}
        and C{makeConnection} is asked again; its answer wins over the
        socket's own port.
        """
        ports = [None]
        factory, app, cp, clock = policed(seedPolicy(), localPort=lambda: ports[0])
        protocol = factory.buildProtocol(peer(UNTRUSTED))
        ports[0] = 2445
        transport = StringTransport(hostAddress=IPv4Address("TCP", "127.0.0.1", 55555), peerAddress=peer(UNTRUSTED))
        protocol.makeConnection(transport)
        self.assertTrue(transport.disconnected)
        self.assertEqual(app.built, [])

    def test_acceptedPortWrappedRefuses(self):
        """
        Without C{localPort}, C{None} from the wrapped factory aborts the
        accepted connection.
        """
        cp = ControlPlane(seedPolicy(), Clock())
        factory = PolicingFactory(RefusingFactory(), cp, Clock())
        protocol, transport = connect(factory, TRUSTED)
        self.assertTrue(transport.disconnected)
        self.assertEqual(factory.protocols, {})

    def test_unregisterCallsBase(self):
        """
        Losing a connection unregisters it from the factory and tells the
        wrapped protocol.
        """
        factory, app, cp, clock = policed(seedPolicy())
        protocol, transport = connect(factory, TRUSTED, transportClass=StringTransportWithDisconnection)
        self.assertEqual(list(factory.protocols), [protocol])
        transport.loseConnection()
        self.assertEqual(factory.protocols, {})
        self.assertIsNotNone(app.built[0].lost)
        self.assertIsNone(protocol.wrappedProtocol)

    def test_requiresClock(self):
        """
        The clock is a required argument.
        """
        cp = ControlPlane(seedPolicy(), Clock())
        self.assertRaises(TypeError, PolicingFactory, RecorderFactory(), cp)


class ThrottleTests(SynchronousTestCase):
    """
    Accepted connections in a policed class: pause and resume on the rate,
    abort on a conform drop, and timers that never outlive a connection.
    """

    def connectUntrusted(self, policy=None, transportClass=StringTransportWithDisconnection):
        self.factory, self.app, self.cp, self.clock = policed(policy or rateLimitPolicy())
        self.protocol, self.transport = connect(self.factory, UNTRUSTED, transportClass=transportClass)
        [self.recorder] = self.app.built
        return self.protocol

    def test_withinBurstDelivers(self):
        """
        Data within the bucket is delivered and the transport keeps reading.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 1000)
        self.assertEqual(self.recorder.received, b"a" * 1000)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_exceedPausesAndResumes(self):
        """
        A read beyond the bucket is still delivered whole (no byte is ever
        discarded mid-stream), then reads pause until the bucket has repaid
        the excess and holds a read's worth again.
        """
        protocol = self.connectUntrusted()
        # 60 bytes went to the connection attempt; 1440 remain.
        protocol.dataReceived(b"a" * 1440)
        protocol.dataReceived(b"b" * 500)
        self.assertEqual(self.recorder.received, b"a" * 1440 + b"b" * 500)
        self.assertEqual(self.transport.producerState, "paused")
        self.assertTrue(protocol.throttled)
        [call] = self.clock.getDelayedCalls()
        self.assertAlmostEqual(call.getTime(), 1.0)  # repay 500, then 500 more
        self.clock.advance(0.999)
        self.assertEqual(self.transport.producerState, "paused")
        self.clock.advance(0.001)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertFalse(protocol.throttled)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        police = self.cp.stats().byName("sccp-class").police
        self.assertEqual((police.conformedPackets, police.exceededPackets), (2, 1))
        self.assertEqual(self.cp.stats().byName("sccp-class").throttledReads, 1)

    def test_resumeWaitsForSharedBucket(self):
        """
        The bucket is shared by the class: when another connection drew on
        it meanwhile, the resume is put off again.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 1440)
        protocol.dataReceived(b"b" * 500)
        [sccp] = self.cp.policy.classes
        self.clock.advance(0.9)
        self.cp.bucket(sccp).drain(400, self.clock.seconds())
        self.clock.advance(0.1)
        self.assertEqual(self.transport.producerState, "paused")
        [call] = self.clock.getDelayedCalls()
        self.assertAlmostEqual(call.getTime(), 1.4)
        self.clock.advance(0.4)
        self.assertEqual(self.transport.producerState, "producing")

    def test_innerPauseRespected(self):
        """
        A pause asked for by the wrapped protocol (TLS, the application)
        survives the policer's resume, and the policer's pause survives the
        wrapped protocol's resume.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 1440)
        protocol.dataReceived(b"b" * 500)
        self.recorder.transport.pauseProducing()
        self.clock.advance(1.0)
        self.assertEqual(self.transport.producerState, "paused")
        self.recorder.transport.resumeProducing()
        self.assertEqual(self.transport.producerState, "producing")
        protocol.dataReceived(b"c" * 2000)
        self.assertEqual(self.transport.producerState, "paused")
        self.recorder.transport.resumeProducing()
        self.assertEqual(self.transport.producerState, "paused")
        self.recorder.transport.pauseProducing()
        self.clock.advance(10)
        self.assertEqual(self.transport.producerState, "paused")
        self.recorder.transport.resumeProducing()
        self.assertEqual(self.transport.producerState, "producing")

    def test_throttleWhileInnerPaused(self):
        """
        When the wrapped protocol has already paused the transport, the
        policer neither pauses it again nor lets the wrapped protocol's
        pauses and resumes through while it holds the connection.
        """
        protocol = self.connectUntrusted(transportClass=StringTransport)
        calls = []
        self.transport.pauseProducing = lambda: calls.append("pause")
        self.transport.resumeProducing = lambda: calls.append("resume")
        self.recorder.transport.pauseProducing()
        protocol.dataReceived(b"a" * 3000)
        self.recorder.transport.pauseProducing()
        self.clock.advance(10)
        self.assertEqual(calls, ["pause"])
        self.recorder.transport.resumeProducing()
        self.assertEqual(calls, ["pause", "resume"])

    def test_closingConnectionNotPaused(self):
        """
        Excess read by a connection the application is already closing is
        delivered and charged, but the transport is not paused and no timer
        is set.
        """
        protocol = self.connectUntrusted(transportClass=StringTransport)
        self.recorder.transport.loseConnection()
        protocol.dataReceived(b"a" * 3000)
        self.assertEqual(len(self.recorder.received), 3000)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        [sccp] = self.cp.policy.classes
        self.assertLess(self.cp.bucket(sccp).level(self.clock.seconds()), 0)

    def test_readWhilePausedExtendsPause(self):
        """
        Data delivered while paused (already read by the reactor) is
        delivered and pushes the resume further out with the same timer.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 1940)
        [first] = self.clock.getDelayedCalls()
        firstTime = first.getTime()
        protocol.dataReceived(b"b" * 1000)
        [second] = self.clock.getDelayedCalls()
        self.assertIs(first, second)
        self.assertGreater(second.getTime(), firstTime)
        self.assertEqual(len(self.recorder.received), 2940)

    def test_timerCancelledOnConnectionLost(self):
        """
        Losing a throttled connection cancels its resume timer.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * 5000)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.transport.loseConnection()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.factory.protocols, {})
        self.assertIsNotNone(self.recorder.lost)

    def test_appClosesDuringThrottledRead(self):
        """
        If the application closes the connection while handling a throttled
        read, no timer is left behind.
        """
        protocol = self.connectUntrusted()

        def closing(data):
            self.recorder.transport.loseConnection()

        self.recorder.dataReceived = closing
        protocol.dataReceived(b"a" * 5000)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.factory.protocols, {})

    def test_timersCancelledWhenFactoryStops(self):
        """
        When the listener stops, every resume timer of its connections is
        cancelled.
        """
        self.factory, self.app, self.cp, self.clock = policed(rateLimitPolicy())
        self.factory.doStart()
        protocols = [connect(self.factory, UNTRUSTED, 40000 + n)[0] for n in range(3)]
        for protocol in protocols:
            protocol.dataReceived(b"a" * 3000)
        self.assertEqual(len(self.clock.getDelayedCalls()), 3)
        self.factory.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopProducing(self):
        """
        C{stopProducing} from the wrapped protocol cancels the resume timer
        and reaches the transport.
        """
        protocol = self.connectUntrusted(transportClass=StringTransport)
        protocol.dataReceived(b"a" * 5000)
        self.recorder.transport.stopProducing()
        self.assertEqual(self.transport.producerState, "stopped")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_exceedTransmitNeverPauses(self):
        """
        With C{exceed-action transmit} excess is counted but not held back.
        """
        protocol = self.connectUntrusted(seedPolicy(conform="transmit", exceed="transmit"))
        protocol.dataReceived(b"a" * 10000)
        self.assertEqual(len(self.recorder.received), 10000)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(self.clock.getDelayedCalls(), [])
        police = self.cp.stats().byName("sccp-class").police
        self.assertGreater(police.exceededBytes, 0)

    def test_conformDropAborts(self):
        """
        With C{conform-action drop}, a connection admitted because its
        attempt exceeded (exceed transmit) is aborted by its first conforming
        read, which is not delivered.
        """
        policy = seedPolicy(conform="drop", exceed="transmit")
        self.factory, self.app, self.cp, self.clock = policed(policy)
        [sccp] = self.cp.policy.classes
        self.cp.bucket(sccp).drain(1500, 0)
        protocol, transport = connect(self.factory, UNTRUSTED, transportClass=StringTransportWithDisconnection)
        [recorder] = self.app.built
        protocol.dataReceived(b"early")  # still no tokens: exceeds, transmitted
        self.assertEqual(recorder.received, b"early")
        self.clock.advance(2)
        with capturedLogs() as events:
            protocol.dataReceived(b"late")
            protocol.dataReceived(b"after")
        self.assertEqual(recorder.received, b"early")
        self.assertIsNotNone(recorder.lost)
        stats = self.cp.stats().byName("sccp-class")
        self.assertEqual((stats.abortedConnections, stats.droppedBytes), (1, 4))
        [event] = events
        self.assertEqual((event["kind"], event["peer"]), ("abort", UNTRUSTED))

    def test_largeReadSegments(self):
        """
        A large read is metered as MSS-sized packets: the first conform, the
        rest exceed.
        """
        protocol = self.connectUntrusted()
        protocol.dataReceived(b"a" * (4 * SEGMENT_BYTES))
        police = self.cp.stats().byName("sccp-class").police
        # The attempt took 60 bytes; no full segment fits in the 1440 left.
        self.assertEqual((police.conformedPackets, police.exceededPackets), (1, 4))
        self.assertEqual(police.exceededBytes, 4 * SEGMENT_BYTES)


class RateTests(SynchronousTestCase):
    """
    Throughput of an untrusted client that keeps offering data, with the
    reactor's behaviour simulated: data is delivered only while the
    transport is not paused.
    """

    def offer(self, protocols, transports, clock, chunk, seconds, step=0.01):
        for _ in range(int(round(seconds / step))):
            for protocol, transport in zip(protocols, transports):
                if transport.producerState == "producing":
                    protocol.dataReceived(b"x" * chunk)
            clock.advance(step)

    def test_throughputConverges(self):
        """
        At C{police 8000 1500 1500 conform-action transmit exceed-action
        drop}, a client offering 20 kB/s for 10 s gets within 20 % of 8000
        bps (the first second's burst included), and within 5 % once the
        burst is spent.
        """
        factory, app, cp, clock = policed(rateLimitPolicy())
        protocol, transport = connect(factory, UNTRUSTED)
        [recorder] = app.built
        self.offer([protocol], [transport], clock, 200, 2.0)
        atTwo = len(recorder.received)
        self.offer([protocol], [transport], clock, 200, 8.0)
        total = len(recorder.received)
        self.assertApproximates(total * 8 / 10.0, 8000, 8000 * 0.20)
        self.assertApproximates((total - atTwo) * 8 / 8.0, 8000, 8000 * 0.05)
        self.assertGreater(cp.stats().byName("sccp-class").throttledReads, 0)

    def test_largeReadsConverge(self):
        """
        With 4 kB reads (one read overshoots the bucket by a lot), the debt
        still holds the class to the rate over a minute.
        """
        factory, app, cp, clock = policed(rateLimitPolicy())
        protocol, transport = connect(factory, UNTRUSTED)
        [recorder] = app.built
        self.offer([protocol], [transport], clock, 4096, 60.0, step=0.05)
        self.assertApproximates(len(recorder.received) * 8 / 60.0, 8000, 8000 * 0.10)

    def test_aggregateAcrossConnections(self):
        """
        The bucket is per class, not per connection: two untrusted clients
        share 8000 bps between them, and both make progress.
        """
        factory, app, cp, clock = policed(rateLimitPolicy())
        pairs = [connect(factory, UNTRUSTED, 40000 + n) for n in range(2)]
        self.offer([p for p, _ in pairs], [t for _, t in pairs], clock, 200, 20.0)
        received = [len(r.received) for r in app.built]
        self.assertApproximates(sum(received) * 8 / 20.0, 8000, 8000 * 0.15)
        self.assertTrue(all(n > 4000 for n in received), received)


class _PausingLink:
    """
    A client and a server protocol joined by two L{StringTransport}s.  Bytes
    cross in reads of at most C{readSize}, and only while the receiving
    transport is not paused: the kernel holds the rest, as with a real
    reactor.
    """

    def __init__(self, client, server, readSize=1024):
        clientAddress, serverAddress = peer(UNTRUSTED), IPv4Address("TCP", "127.0.0.1", CREDENTIALS_PORT)
        self.client, self.server = client, server
        self.clientTransport = StringTransport(hostAddress=clientAddress, peerAddress=serverAddress)
        self.serverTransport = StringTransport(hostAddress=serverAddress, peerAddress=clientAddress)
        self.readSize = readSize
        self.serverRead = 0
        server.makeConnection(self.serverTransport)
        client.makeConnection(self.clientTransport)
        self.toServer = b""
        self.toClient = b""

    def pump(self):
        for _ in range(10000):
            self.toServer += self.clientTransport.value()
            self.clientTransport.clear()
            self.toClient += self.serverTransport.value()
            self.serverTransport.clear()
            moved = False
            if self.toServer and self.serverTransport.producerState == "producing":
                data, self.toServer = self.toServer[: self.readSize], self.toServer[self.readSize:]
                self.serverRead += len(data)
                self.server.dataReceived(data)
                moved = True
            if self.toClient and self.clientTransport.producerState == "producing":
                data, self.toClient = self.toClient[: self.readSize], self.toClient[self.readSize:]
                self.client.dataReceived(data)
                moved = True
            if not moved:
                return


class TLSInsidePolicingTests(SynchronousTestCase):
    """
    TLS wrapped inside policing, as the lead builds the credentials
    listener: the wrapper meters the raw bytes, handshake included, and
    pausing never corrupts the TLS stream.
    """

    def test_throttledHandshakeAndData(self):
        """
        An untrusted client's handshake and 6000 bytes of application data
        cross a rate-limited listener intact; the server application sees an
        L{ISSLTransport}; the raw bytes took at least as long as the bucket
        allows.
        """
        ca = makeCA()
        certificate, key = makeServerCertificate(ca)
        serverOptions = CertificateOptions(privateKey=key, certificate=certificate)
        caPem = ca.certificate.public_bytes(Encoding.PEM)
        clientOptions = optionsForClientTLS(
            "127.0.0.1", trustRoot=trustRootFromCertificates([TwistedCertificate.loadPEM(caPem)])
        )
        clock = Clock()
        cp = ControlPlane(rateLimitPolicy(), clock)
        serverApp = RecorderFactory()
        policing = PolicingFactory(TLSMemoryBIOFactory(serverOptions, False, serverApp, clock=clock),
                                   cp, clock, localPort=CREDENTIALS_PORT)
        payload = bytes(range(256)) * 24

        class Sender(Recorder):
            def connectionMade(self):
                self.transport.write(payload)

        clientApp = Factory.forProtocol(Sender)
        client = TLSMemoryBIOFactory(clientOptions, True, clientApp, clock=clock).buildProtocol(None)
        server = policing.buildProtocol(peer(UNTRUSTED))
        link = _PausingLink(client, server)
        elapsed = 0.0
        while elapsed < 60 and (not serverApp.built or len(serverApp.built[0].received) < len(payload)):
            link.pump()
            clock.advance(0.05)
            elapsed += 0.05
        [app] = serverApp.built
        self.assertEqual(app.received, payload)
        self.assertTrue(ISSLTransport.providedBy(app.transport))
        stats = cp.stats().byName("sccp-class")
        self.assertGreater(stats.throttledReads, 0)
        self.assertEqual(stats.bytes, CONNECTION_ATTEMPT_BYTES + link.serverRead)
        self.assertGreaterEqual(elapsed, (link.serverRead + 60 - 1500 - 1024) / 1000.0)


class RecordingDatagram(DatagramProtocol):
    """
    A UDP protocol that keeps what it receives.
    """

    def __init__(self):
        self.received = []
        self.started = 0
        self.stopped = 0
        self.refused = 0

    def startProtocol(self):
        self.started += 1

    def stopProtocol(self):
        self.stopped += 1

    def connectionRefused(self):
        self.refused += 1

    def datagramReceived(self, datagram, addr):
        self.received.append((datagram, addr))


class FakeUDPTransport:
    """
    Enough of a UDP port: writes and the bound address.
    """

    def __init__(self, port):
        self.port = port
        self.written = []

    def write(self, packet, addr=None):
        self.written.append((packet, addr))

    def getHost(self):
        return IPv4Address("UDP", "127.0.0.1", self.port)


def mgcpPolicy(conform="drop", exceed="drop") -> ControlPlanePolicy:
    acl = AccessList(141, [
        AccessListEntry("deny", "udp", "127.0.0.1", 2427),
        AccessListEntry("permit", "udp", None, 2427),
    ])
    return ControlPlanePolicy(classes=[PolicyClass(ClassMap("mgcp-class", acl), Police(8000, 1500, 1500, conform,
                                                                                       exceed))])


class DatagramTests(SynchronousTestCase):
    """
    L{PolicingDatagramProtocol}: per-datagram decisions for UDP listeners.
    """

    def wrap(self, policy, localPort=2427, boundPort=2427):
        self.clock = Clock()
        self.cp = ControlPlane(policy, self.clock)
        self.inner = RecordingDatagram()
        self.wrapper = PolicingDatagramProtocol(self.inner, self.cp, localPort=localPort)
        self.transport = FakeUDPTransport(boundPort)
        self.wrapper.makeConnection(self.transport)

    def test_dropAndDeliver(self):
        """
        Untrusted datagrams in a drop/drop class are dropped and counted;
        the trusted host's and other ports' are delivered.
        """
        self.wrap(mgcpPolicy())
        with capturedLogs() as events:
            for n in range(10):
                self.wrapper.datagramReceived(b"RSIP %d" % n, (UNTRUSTED, 2727))
        self.wrapper.datagramReceived(b"AUEP 1", (TRUSTED, 2727))
        self.assertEqual(self.inner.received, [(b"AUEP 1", (TRUSTED, 2727))])
        stats = self.cp.stats()
        mgcp = stats.byName("mgcp-class")
        self.assertEqual((mgcp.packets, mgcp.droppedPackets, mgcp.droppedBytes), (10, 10, 60))
        self.assertEqual(stats.byName(CLASS_DEFAULT).packets, 1)
        [event] = events
        self.assertEqual((event["peer"], event["peerPort"], event["kind"]), (UNTRUSTED, 2727, "datagram"))

    def test_rateLimited(self):
        """
        With conform transmit / exceed drop, datagrams pass until the burst
        is spent, then at the rate.
        """
        self.wrap(mgcpPolicy("transmit", "drop"))
        for _ in range(20):
            self.wrapper.datagramReceived(b"x" * 100, (UNTRUSTED, 2727))
        self.assertEqual(len(self.inner.received), 15)
        self.clock.advance(1.0)
        for _ in range(20):
            self.wrapper.datagramReceived(b"x" * 100, (UNTRUSTED, 2727))
        self.assertEqual(len(self.inner.received), 25)

    def test_boundPort(self):
        """
        Without C{localPort}, the transport's bound port is the destination
        port: a listener on another port is not in the class.
        """
        self.wrap(mgcpPolicy(), localPort=None, boundPort=2427)
        self.wrapper.datagramReceived(b"x", (UNTRUSTED, 2727))
        self.assertEqual(self.inner.received, [])
        self.wrap(mgcpPolicy(), localPort=None, boundPort=2428)
        self.wrapper.datagramReceived(b"x", (UNTRUSTED, 2727))
        self.assertEqual(len(self.inner.received), 1)

    def test_passThrough(self):
        """
        The wrapped protocol is started and stopped with the wrapper, writes
        on the real transport, and hears of refused connections.
        """
        self.wrap(mgcpPolicy())
        self.assertEqual(self.inner.started, 1)
        self.assertIs(self.inner.transport, self.transport)
        self.inner.transport.write(b"200 1 OK", (TRUSTED, 2727))
        self.assertEqual(self.transport.written, [(b"200 1 OK", (TRUSTED, 2727))])
        self.wrapper.connectionRefused()
        self.assertEqual(self.inner.refused, 1)
        self.assertIn("RecordingDatagram", self.wrapper.logPrefix())
        self.wrapper.doStop()
        self.assertEqual(self.inner.stopped, 1)
        self.assertIsNone(self.inner.transport)

    def test_unparsableSource(self):
        """
        A datagram whose source is not an IP address is class-default.
        """
        self.wrap(mgcpPolicy())
        self.wrapper.datagramReceived(b"x", ("somewhere", 1))
        self.assertEqual(len(self.inner.received), 1)


class ShowPolicyMapTests(SynchronousTestCase):
    """
    C{show policy-map control-plane} rendered from real counters.
    """

    def test_afterFlood(self):
        """
        After 30 refused untrusted connections and one trusted connection
        sending 100 bytes, the output has the IOS shape with those counts;
        C{data} carries the same numbers.
        """
        factory, app, cp, clock = policed(seedPolicy())
        for n in range(30):
            connect(factory, UNTRUSTED, 40000 + n)
        protocol, _ = connect(factory, TRUSTED)
        protocol.dataReceived(b"y" * 100)
        table = CommandTable()
        registerPolicingCommands(table, cp)
        command, variables = table.lookup(["show", "policy-map", "control-plane"])
        result = command.handler(**variables)
        # 1800 bytes at t=0 into a 300 s average: 1800 * 8 / 300 = 48 bps.
        expected = "\n".join([
            " Control Plane",
            "",
            "  Service-policy input: control-plane-policy",
            "",
            "    Class-map: sccp-class (match-all)",
            "      30 packets, 1800 bytes",
            "      5 minute offered rate 48 bps, drop rate 48 bps",
            "      Match: access-group 140",
            "      police:",
            "          cir 8000 bps, bc 1500 bytes, be 1500 bytes",
            "        conformed 25 packets, 1500 bytes; actions:",
            "          drop",
            "        exceeded 5 packets, 300 bytes; actions:",
            "          drop",
            "        conformed 40 bps, exceed 8 bps",
            "",
            "    Class-map: class-default (match-any)",
            "      2 packets, 160 bytes",
            "      5 minute offered rate 4 bps, drop rate 0 bps",
            "      Match: any",
        ])
        self.assertEqual(result.text, expected)
        data = json.loads(json.dumps(result.data))
        self.assertEqual(data["name"], "control-plane-policy")
        sccp, default = data["classes"]
        self.assertEqual((sccp["name"], sccp["packets"], sccp["refusedConnections"]), ("sccp-class", 30, 30))
        self.assertEqual(sccp["police"]["conformedPackets"], 25)
        self.assertEqual(sccp["police"]["exceedAction"], "drop")
        self.assertEqual((default["name"], default["bytes"], default["police"]), ("class-default", 160, None))

    def test_ratesDecay(self):
        """
        The 5-minute rates fall back towards zero once traffic stops.
        """
        factory, app, cp, clock = policed(seedPolicy())
        for n in range(30):
            connect(factory, UNTRUSTED, 40000 + n)
        clock.advance(3000)
        text = renderPolicyMap(cp.stats())
        self.assertIn("5 minute offered rate 0 bps, drop rate 0 bps", text)
        self.assertIn("30 packets, 1800 bytes", text)
