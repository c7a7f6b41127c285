"""
Tests for L{srst.policing.config}: the values of the seed's control-plane
policy (access list 140, class map C{sccp-class}, C{police 8000 1500
1500}), their IOS matching rules, and the C{access-lists:} and
C{control-plane:} sections of router.yaml.
"""

from __future__ import annotations

import ipaddress

from twisted.trial.unittest import SynchronousTestCase

from srst.policing.config import (
    CLASS_DEFAULT,
    AccessList,
    AccessListEntry,
    AclAction,
    ClassMap,
    ControlPlanePolicy,
    Police,
    PoliceAction,
    PolicyClass,
)
from tests.policinghelpers import seedAccessList, seedPolicy
from srst.config import loadString
from tests.test_config import MINIMAL, problemsOf


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


class ReadPolicingSectionsTests(SynchronousTestCase):
    """
    L{readAccessLists} and L{readControlPlane}, through router.yaml: every
    problem of the C{access-lists:} and C{control-plane:} sections is
    reported with its YAML path.
    """

    def test_policeOutOfRange(self):
        """
        A police rate below the IOS minimum, an unknown action and a class map
        naming a missing access list are all reported.
        """
        text = MINIMAL + """
access-lists:
  140: [{action: permit, protocol: tcp, source: any, port: 2445}]
control-plane:
  class-maps: {a: {match-access-group: 140}, b: {match-access-group: 150}}
  service-policy:
    input:
      - {class: a, police: {rate-bps: 100, conform-action: explode}}
"""
        lines = problemsOf(self, text)
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(any("rate-bps: 100" in l for l in lines))
        self.assertTrue(any("conform-action: 'explode'" in l for l in lines))
        self.assertTrue(any("class-maps.b.match-access-group: 150" in l for l in lines))

    def test_badAccessListSource(self):
        """
        An access-list source that is neither any, an address nor a prefix is rejected.
        """
        lines = problemsOf(self, MINIMAL + "access-lists:\n  140: [{action: deny, source: somewhere}]\n")
        self.assertIn("access-lists.140[0].source: 'somewhere'", lines[0])


class DestinationTests(SynchronousTestCase):
    """
    An access-list entry may name a destination (the traffic a crypto map
    protects); the control plane refuses a list that does.
    """

    def test_readAndDescribed(self):
        """
        C{destination:} is read like C{source:} and printed as IOS has it.
        """
        config = loadString(MINIMAL + "access-lists:\n  116: [{action: permit, source: 10.1.1.22,"
                                      " destination: 10.1.2.0/24}]\n")
        entry = config.accessLists[116].entries[0]
        self.assertEqual(entry.destination, ipaddress.ip_network("10.1.2.0/24"))
        self.assertEqual(entry.describe(), "permit ip host 10.1.1.22 10.1.2.0 0.0.0.255")
        self.assertTrue(config.accessLists[116].hasDestination)

    def test_badDestination(self):
        """
        A destination that is not any, an address or a prefix is refused
        with its path.
        """
        lines = problemsOf(self, MINIMAL + "access-lists:\n  116: [{action: permit, destination: there}]\n")
        self.assertEqual(lines, ["router.yaml: access-lists.116[0].destination: 'there' is not allowed; expected"
                                 " any, an address (10.1.1.11) or a prefix (10.1.1.0/24)"])

    def test_controlPlaneRefuses(self):
        """
        A class map matching a list with a destination is refused, saying
        why; a ClassMap built by hand is checked the same way.
        """
        lines = problemsOf(self, MINIMAL + """
access-lists:
  116: [{action: permit, source: 10.1.1.22, destination: 10.1.1.13}]
control-plane:
  class-maps: {a: {match-access-group: 116}}
""")
        self.assertEqual(lines, [
            "router.yaml: control-plane.class-maps.a.match-access-group: 116 is not allowed; access list 116 has"
            " an entry with a destination: the control plane matches traffic to the router itself (destination"
            " any); a destination is for the traffic a crypto map protects"])
        acl = AccessList(number=116, entries=[AccessListEntry("permit", destination="10.1.1.13")])
        self.assertRaises(ValueError, ClassMap, name="a", accessList=acl)
