"""
Tests for L{srst.policing.iosconfig}: access lists, class maps, the policy
map and the control plane (the seed's Configuration 2).
"""

from __future__ import annotations

import os
from functools import partial

from twisted.trial.unittest import SynchronousTestCase

from srst.configreader import Reader
from srst.policing.config import readAccessLists, readControlPlane
from srst.policing.iosconfig import importIos, runningConfig
from tests.ioshelpers import imported

SEED_2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "seed", "configuration-2.txt")


_imported = partial(imported, importIos)


def _rendered(document: dict) -> list[str]:
    problems: list = []
    lists = readAccessLists(Reader(document.get("access-lists", {}), "access-lists", problems))
    controlPlane = None
    if "control-plane" in document:
        controlPlane = readControlPlane(Reader(document["control-plane"], "control-plane", problems), lists)
    assert not problems, problems
    return runningConfig(lists, controlPlane)


def _commands(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("!")]


class SeedTests(SynchronousTestCase):
    """
    The seed's Configuration 2 imports whole and prints back as it was.
    """

    def test_configuration2(self) -> None:
        """
        Nothing is skipped; the YAML is the shipped one's (with the seed's
        trusted host); rendered, it is the seed's commands line for line.
        """
        with open(SEED_2) as f:
            text = f.read()
        document, skipped, rest = _imported(text)
        self.assertEqual((skipped, rest), ([], []))
        self.assertEqual(document, {
            "access-lists": {140: [
                {"action": "deny", "protocol": "tcp", "source": "10.1.1.11/32", "port": 2445},
                {"action": "permit", "protocol": "tcp", "source": "any", "port": 2445},
                {"action": "deny", "protocol": "ip", "source": "any"}]},
            "control-plane": {
                "class-maps": {"sccp-class": {"match-access-group": 140}},
                "service-policy": {"name": "control-plane-policy", "input": [
                    {"class": "sccp-class", "police": {"rate-bps": 8000, "normal-burst": 1500, "max-burst": 1500,
                                                       "conform-action": "drop", "exceed-action": "drop"}}]}},
        })
        rendered = _rendered(document)
        self.assertEqual([line for line in rendered if line != "!"], _commands(text))


class FormsTests(SynchronousTestCase):
    """
    Other IOS spellings srst takes, and how they print.
    """

    def test_table(self) -> None:
        """
        Standard lists, wildcards, udp, the C{police cir} form and the
        multi-line actions, C{match-any} with one match (the same class),
        a bare C{class class-default}.
        """
        document, skipped, rest = _imported("""\
access-list 10 permit 10.1.1.0 0.0.0.255
access-list 10 deny any
access-list 150 permit udp 10.2.0.0 0.0.255.255 any eq 2427
access-list 150 permit tcp host 10.1.1.13 any
class-map match-any mgcp
 match access-group 150
class-map trusted
 match access-group 10
policy-map copp
 class mgcp
  police cir 16000 bc 3000 be 6000
   conform-action transmit
   exceed-action drop
 class trusted
  police 8000
 class class-default
control-plane
 service-policy input copp
""")
        self.assertEqual((skipped, rest), ([], []))
        self.assertEqual(document["access-lists"][10], [
            {"action": "permit", "protocol": "ip", "source": "10.1.1.0/24"},
            {"action": "deny", "protocol": "ip", "source": "any"}])
        self.assertEqual(document["control-plane"]["service-policy"]["input"], [
            {"class": "mgcp", "police": {"rate-bps": 16000, "normal-burst": 3000, "max-burst": 6000,
                                         "conform-action": "transmit", "exceed-action": "drop"}},
            {"class": "trusted", "police": {"rate-bps": 8000}}])
        self.assertEqual(_rendered(document), [
            "access-list 10 permit 10.1.1.0 0.0.0.255",
            "access-list 10 deny any",
            "access-list 150 permit udp 10.2.0.0 0.0.255.255 any eq 2427",
            "access-list 150 permit tcp host 10.1.1.13 any",
            "!",
            "class-map match-all mgcp",
            " match access-group 150",
            "!",
            "class-map match-all trusted",
            " match access-group 10",
            "!",
            "policy-map copp",
            " class mgcp",
            "  police 16000 3000 6000 conform-action transmit exceed-action drop",
            " class trusted",
            "  police 8000 1500 1500 conform-action transmit exceed-action drop",
            "!",
            "control-plane",
            " service-policy input copp",
            "!",
        ])

    def test_nothing(self) -> None:
        """
        No lists and no policy: nothing; a bare C{control-plane} (the
        seed's Configuration 1) is taken silently.
        """
        self.assertEqual(runningConfig({}, None), [])
        self.assertEqual(_imported("control-plane\n"), ({}, [], []))


class SkipReasonTests(SynchronousTestCase):
    """
    Every line srst cannot take is listed with why.
    """

    def test_reasons(self) -> None:
        """
        One line per reason.
        """
        document, skipped, rest = _imported("""\
access-list 116 permit ip host 10.1.1.22 host 10.1.1.13
access-list 140 permit tcp any any range 2000 2002
access-list 140 permit icmp any any
access-list 140 remark trusted hosts
access-list 140 permit tcp 10.0.0.0 0.255.0.255 any
access-list 140 allow tcp any any
access-list 140 permit tcp any any eq 2445
access-list 3000 permit ip any any
access-list 10 permit any log
class-map match-all two
 match access-group 140
 match protocol tcp
class-map match-all unused
 match access-group 140
class-map match-all missing
 match access-group 141
policy-map other
 class two
policy-map copp
 class two
  police 8000
 class missing
  police 8000
 class undefined
  police 8000
 class class-default
  police 8000
policy-map copp2
control-plane
 service-policy input copp
 service-policy input nothere
 service-policy input copp2
 service-policy output copp
snmp-server community public RO
""")
        self.assertEqual(rest, ["snmp-server community public RO"])
        self.assertEqual(document["access-lists"][116], [
            {"action": "permit", "protocol": "ip", "source": "10.1.1.22/32", "destination": "10.1.1.13/32"}])
        self.assertEqual(skipped, [
            "line 2: access-list 140 permit tcp any any range 2000 2002: srst has no range 2000 2002 on an"
            " access-list entry (only eq <port> with tcp or udp)",
            "line 3: access-list 140 permit icmp any any: srst access lists match ip, tcp or udp",
            "line 4: access-list 140 remark trusted hosts: srst keeps no remarks",
            "line 5: access-list 140 permit tcp 10.0.0.0 0.255.0.255 any: srst matches an address and a"
            " contiguous wildcard, not 10.0.0.0 0.255.0.255",
            "line 6: access-list 140 allow tcp any any: srst access lists permit or deny",
            "line 8: access-list 3000 permit ip any any: srst has numbered access lists 1 to 2699",
            "line 9: access-list 10 permit any log: srst has no log on an access-list entry",
            "line 10: class-map match-all two: srst's class maps match exactly one numbered access group"
            " (match access-group N)",
            "line 11: match access-group 140: srst's class maps match exactly one numbered access group"
            " (match access-group N)",
            "line 12: match protocol tcp: srst's class maps match exactly one numbered access group"
            " (match access-group N)",
            "line 13: class-map match-all unused: not used by the control-plane service-policy",
            "line 14: match access-group 140: not used by the control-plane service-policy",
            "line 15: class-map match-all missing: access-list 141 is not in the configuration (or none of its"
            " lines imported)",
            "line 16: match access-group 141: access-list 141 is not in the configuration (or none of its lines"
            " imported)",
            "line 17: policy-map other: not applied with control-plane service-policy input (srst polices only"
            " the control plane)",
            "line 18: class two: not applied with control-plane service-policy input (srst polices only the"
            " control plane)",
            "line 20: class two: class-map two is not imported",
            "line 21: police 8000: class-map two is not imported",
            "line 22: class missing: class-map missing is not imported",
            "line 23: police 8000: class-map missing is not imported",
        ] + skipped[20:])
        self.assertEqual(skipped[20:], [
            "line 24: class undefined: no class-map undefined in the configuration",
            "line 25: police 8000: no class-map undefined in the configuration",
            "line 26: class class-default: srst's class-default passes everything; a policy map lists class"
            " <name> blocks with police",
            "line 27: police 8000: srst's class-default passes everything; a policy map lists class <name>"
            " blocks with police",
            "line 28: policy-map copp2: not applied with control-plane service-policy input (srst polices only"
            " the control plane)",
            "line 31: service-policy input nothere: no policy-map nothere in the configuration",
            "line 32: service-policy input copp2: srst applies one policy map to the control plane",
            "line 33: service-policy output copp: srst polices the control plane's input only (service-policy"
            " input)",
        ])
        self.assertEqual(document["control-plane"], {"class-maps": {},
                                                     "service-policy": {"name": "copp", "input": []}})

    def test_policeCount(self) -> None:
        """
        A class without a police line, or with two, and police actions srst
        has no equivalent of.
        """
        document, skipped, rest = _imported("""\
access-list 140 permit tcp any any eq 2445
class-map a
 match access-group 140
class-map b
 match access-group 140
class-map c
 match access-group 140
policy-map copp
 class a
  set dscp ef
 class b
  police 8000
  police 9000
 class c
  police 8000 1500 1500 conform-action transmit exceed-action set-dscp-transmit 0 violate-action drop
control-plane
 service-policy input copp
""")
        self.assertEqual(skipped, [
            "line 2: class-map a: its class in the policy map is not imported",
            "line 3: match access-group 140: its class in the policy map is not imported",
            "line 4: class-map b: its class in the policy map is not imported",
            "line 5: match access-group 140: its class in the policy map is not imported",
            "line 6: class-map c: its class in the policy map is not imported",
            "line 7: match access-group 140: its class in the policy map is not imported",
            "line 9: class a: srst needs exactly one police line in each class",
            "line 10: set dscp ef: srst's policy classes only police",
            "line 11: class b: srst needs exactly one police line in each class",
            "line 12: police 8000: srst needs exactly one police line in each class",
            "line 13: police 9000: srst needs exactly one police line in each class",
            "line 15: police 8000 1500 1500 conform-action transmit exceed-action set-dscp-transmit 0"
            " violate-action drop: srst's policer has no exceed-action set-dscp-transmit 0 violate-action drop"
            " (conform-action and exceed-action transmit or drop)",
        ])


class DestinationImportTests(SynchronousTestCase):
    """
    An access list with a destination imports (a crypto map's traffic),
    prints back, and a class map matching it is not imported.
    """

    def test_roundTrip(self) -> None:
        """
        C{permit ip host A host B} and a network destination with a port
        come back as written.
        """
        text = ("access-list 116 permit ip host 10.1.1.22 host 10.1.1.13\n"
                "access-list 116 permit udp 10.1.1.0 0.0.0.255 10.1.2.0 0.0.0.255 eq 500\n")
        document, skipped, rest = _imported(text)
        self.assertEqual((skipped, rest), ([], []))
        self.assertEqual(_rendered(document), _commands(text) + ["!"])

    def test_classMapRefused(self) -> None:
        """
        The control plane matches traffic to the router: a class map
        matching a list with a destination is listed with why.
        """
        _, skipped, _ = _imported("access-list 116 permit ip any host 10.1.1.13\nclass-map match-all c\n"
                                  " match access-group 116\npolicy-map p\n class c\n  police 8000\n"
                                  "control-plane\n service-policy input p\n")
        self.assertEqual(skipped[:2], [
            "line 2: class-map match-all c: srst's control plane matches traffic to the router itself:"
            " access-list 116 has a destination other than any",
            "line 3: match access-group 116: srst's control plane matches traffic to the router itself:"
            " access-list 116 has a destination other than any"])
