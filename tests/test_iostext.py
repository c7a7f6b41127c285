"""
Tests for L{srst.iostext}: IOS configuration text as a command tree.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.iostext import (ImportNotes, IosLine, IosText, Skipped, indent, parseIosConfig, readIosConfig,
                          setCommands)

# The seed's Configuration 2, with its comments and blank lines.
SEED_CONFIGURATION_2 = """\

!--- Allow trusted host traffic.

access-list 140 deny tcp host 10.1.1.11 any eq 2445

!--- Rate-limit all other traffic.

access-list 140 permit tcp any any eq 2445
access-list 140 deny ip any any

!--- Define class-map sccp-class.

class-map match-all sccp-class
 match access-group 140
policy-map control-plane-policy
 class sccp-class
  police 8000 1500 1500 conform-action drop exceed-action drop

!--- Define aggregate control plane service for the active Route Processor.

control-plane
 service-policy input control-plane-policy
"""


class ParseIosConfigTests(SynchronousTestCase):
    """
    L{parseIosConfig} reads modes by indentation and drops comments.
    """

    def test_seedConfiguration2(self) -> None:
        """
        The seed's Configuration 2 reads as six top-level commands, the
        policy-map holding a class holding the police line, each with its line
        number.
        """
        lines = parseIosConfig(SEED_CONFIGURATION_2)
        self.assertEqual([line.text for line in lines], [
            "access-list 140 deny tcp host 10.1.1.11 any eq 2445",
            "access-list 140 permit tcp any any eq 2445",
            "access-list 140 deny ip any any",
            "class-map match-all sccp-class",
            "policy-map control-plane-policy",
            "control-plane",
        ])
        policy = lines[4]
        self.assertEqual(policy, IosLine("policy-map control-plane-policy", 15, (
            IosLine("class sccp-class", 16, (
                IosLine("police 8000 1500 1500 conform-action drop exceed-action drop", 17),
            )),
        )))
        self.assertEqual(lines[0].lineno, 4)
        self.assertEqual([line.text for line in lines[5].children],
                         ["service-policy input control-plane-policy"])

    def test_dedentClosesSeveralModes(self) -> None:
        """
        A top-level line after a two-deep mode closes both; a line at the
        middle depth closes only the innermost.
        """
        lines = parseIosConfig("a\n b\n  c\n d\ne\n")
        self.assertEqual(lines, (
            IosLine("a", 1, (IosLine("b", 2, (IosLine("c", 3),)), IosLine("d", 4))),
            IosLine("e", 5),
        ))

    def test_certificateChainHex(self) -> None:
        """
        A certificate chain's hex lines and C{quit} belong to their
        C{certificate} line.
        """
        text = ("crypto pki certificate chain 7960\n"
                " certificate ca F301\n"
                "  308201F7 30820160\n"
                "  A0030201\n"
                "  quit\n")
        [chain] = parseIosConfig(text)
        [certificate] = chain.children
        self.assertEqual(certificate.text, "certificate ca F301")
        self.assertEqual([line.text for line in certificate.children],
                         ["308201F7 30820160", "A0030201", "quit"])

    def test_endStops(self) -> None:
        """
        C{end} at top level ends the configuration; what follows is read
        apart, as L{IosText.afterEnd}; an indented C{end} is a mode's line.
        """
        self.assertEqual(readIosConfig("hostname r1\nx\n end\nend\n!\nip classless\n foo\n"), IosText(
            (IosLine("hostname r1", 1), IosLine("x", 2, (IosLine("end", 3),))),
            (IosLine("ip classless", 6, (IosLine("foo", 7),)),)))
        self.assertEqual(parseIosConfig("hostname r1\nend\nbanner motd x\n"), (IosLine("hostname r1", 1),))

    def test_bannerOverLines(self) -> None:
        """
        C{banner motd ^C} (the two characters C{show running-config} prints
        for ETX) opens a text that ends at the next C{^C}: its lines, even
        unindented commands, comments and C{end}, are the banner's children;
        the text may start on the banner's line.
        """
        lines = parseIosConfig("banner motd ^C\nmax-ephones 2\n!\nend\n\n^C\n"
                               "banner login ^CAuthorized\naccess only^C\nhostname r1\n")
        self.assertEqual(lines, (
            IosLine("banner motd ^C", 1, (IosLine("max-ephones 2", 2), IosLine("!", 3), IosLine("end", 4),
                                          IosLine("^C", 6))),
            IosLine("banner login ^CAuthorized", 7, (IosLine("access only^C", 8),)),
            IosLine("hostname r1", 9),
        ))

    def test_bannerOneCharacterDelimiter(self) -> None:
        """
        Any one character delimits: a banner whose text ends on its own line
        is one line; C{banner <delimiter>} without a kind is a C{motd}; a
        banner never closed holds the rest of the text.
        """
        lines = parseIosConfig("banner exec #Welcome#\nhostname r1\nbanner %\n  router %\n"
                               "banner incoming @\nip classless\n")
        self.assertEqual(lines, (
            IosLine("banner exec #Welcome#", 1),
            IosLine("hostname r1", 2),
            IosLine("banner %", 3, (IosLine("router %", 4),)),
            IosLine("banner incoming @", 5, (IosLine("ip classless", 6),)),
        ))

    def test_tabsAndTrailingBlanks(self) -> None:
        """
        Tabs indent like blanks and trailing blanks are dropped (the seed's
        C{transfer-system full-consult }).
        """
        [mode] = parseIosConfig("call-manager-fallback\n\ttransfer-system full-consult \n")
        self.assertEqual(mode.children, (IosLine("transfer-system full-consult", 2),))

    def test_startswith(self) -> None:
        """
        L{IosLine.startswith} compares whole words, ignoring case.
        """
        line = IosLine("Crypto PKI trustpoint srstca", 1)
        self.assertTrue(line.startswith("crypto", "pki", "trustpoint"))
        self.assertFalse(line.startswith("crypto", "pk"))
        self.assertFalse(line.startswith("crypto", "pki", "trustpoint", "srstca", "x"))


class ImportNotesTests(SynchronousTestCase):
    """
    L{ImportNotes} lists what was not imported, in input order.
    """

    def test_skipTreeInOrder(self) -> None:
        """
        C{skipTree} lists a mode and its lines as one block with its line
        range; the notes come out sorted by line number whatever order they
        were recorded in; a line without children stays one line.
        """
        lines = parseIosConfig("interface Fa0/0\n ip address 10.1.1.22 255.255.255.0\n!\n no shutdown\n"
                               "ip classless\nip route 0.0.0.0 0.0.0.0 10.1.1.1\n")
        notes = ImportNotes()
        notes.skip(lines[1], "routing is the host's")
        notes.skipTree(lines[0], "interfaces are the host's")
        notes.skipTree(lines[2], "routing is the host's")
        interface, classless, route = notes.sortedSkipped()
        self.assertEqual(interface, Skipped(1, "interface Fa0/0", "interfaces are the host's", (
            (1, "interface Fa0/0"), (2, "ip address 10.1.1.22 255.255.255.0"), (4, "no shutdown"))))
        self.assertEqual((interface.lastLine, interface.count, interface.linenos), (4, 3, frozenset({1, 2, 4})))
        self.assertEqual(str(interface), "lines 1-4: interface Fa0/0 (3 lines): interfaces are the host's")
        self.assertEqual(interface.each(), [
            Skipped(1, "interface Fa0/0", "interfaces are the host's"),
            Skipped(2, "ip address 10.1.1.22 255.255.255.0", "interfaces are the host's"),
            Skipped(4, "no shutdown", "interfaces are the host's"),
        ])
        self.assertEqual((classless, route), (Skipped(5, "ip classless", "routing is the host's"),
                                              Skipped(6, "ip route 0.0.0.0 0.0.0.0 10.1.1.1", "routing is the host's")))
        self.assertEqual(str(classless), "line 5: ip classless: routing is the host's")
        self.assertEqual(str(route), "line 6: ip route 0.0.0.0 0.0.0.0 10.1.1.1: routing is the host's")


class IndentTests(SynchronousTestCase):
    """
    L{indent} renders a mode.
    """

    def test_nested(self) -> None:
        """
        Nested modes indent one blank per level, as IOS prints them.
        """
        body = indent("class sccp-class", ["police 8000 1500 1500 conform-action drop exceed-action drop"])
        self.assertEqual(indent("policy-map control-plane-policy", body), [
            "policy-map control-plane-policy",
            " class sccp-class",
            "  police 8000 1500 1500 conform-action drop exceed-action drop",
        ])
        self.assertEqual(parseIosConfig("\n".join(indent("policy-map p", body)))[0].children[0].children[0].text,
                         "police 8000 1500 1500 conform-action drop exceed-action drop")


class SetCommandsTests(SynchronousTestCase):
    """
    L{setCommands} prints the settings that are set.
    """

    def test_setOnly(self) -> None:
        """
        A setting that is L{None} prints nothing; the others print as
        C{command value}, in the order given (falsy values such as 0 or an
        empty string are set).
        """
        self.assertEqual(setCommands(("description", None), ("port", "1/0/0"), ("preference", 0),
                                     ("prefix", ""), ("station-id name", "Lobby phone")),
                         ["port 1/0/0", "preference 0", "prefix ", "station-id name Lobby phone"])
