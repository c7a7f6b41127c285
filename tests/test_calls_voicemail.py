"""
Tests for L{srst.calls.voicemail}: IOS C{vm-integration} patterns, their
syntax and the digits they make.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.voicemail import PATTERN_SYNTAX, VmIntegration, VmKind, VmPattern, Voicemail, patternProblem


class PatternTests(SynchronousTestCase):
    """Patterns as IOS writes them: tag1 TOKEN [tag2 TOKEN] [tag3 TOKEN] [last-tag]."""

    def test_iosExample(self) -> None:
        """
        The SRST guide's example: voicemail 1101 with C{# CDN #2} makes a
        busy forward of 6000 send C{#6000#2}.
        """
        self.assertEqual(VmPattern(("#", "CDN", "#2")).digits("2001", "6000", "6000"), "#6000#2")

    def test_tokens(self) -> None:
        """CGN is the calling number, CDN the called, FDN the forwarding; tags are sent as written."""
        pattern = VmPattern(("*1", "CGN", "2", "CDN", "A#", "FDN", "*"))
        self.assertEqual(pattern.digits("2001", "2002", "2003"), "*1200122002A#2003*")
        self.assertEqual(str(pattern), "*1 CGN 2 CDN A# FDN *")

    def test_syntax(self) -> None:
        """The IOS grammar is enforced: a tag first, tokens and tags alternating, at most three tokens."""
        good = [["#", "CDN"], ["#", "cgn", "#2"], ["1", "CGN", "2", "CDN", "3", "FDN", "#"], ["abc", "FDN"]]
        bad = [[], ["#"], ["CDN"], ["CDN", "#"], ["#", "#"], ["#", "CDN", "CGN"], ["####", "CDN"],
               ["1", "CGN", "2", "CDN", "3", "FDN", "4", "CGN"], ["E", "CDN"], ["", "CDN"]]
        self.assertEqual([patternProblem(items) for items in good], [None] * len(good))
        self.assertEqual([patternProblem(items) for items in bad], [PATTERN_SYNTAX] * len(bad))

    def test_voicemailKinds(self) -> None:
        """Each kind uses its own pattern; a kind with none sends nothing."""
        voicemail = Voicemail("8000", VmIntegration(direct=VmPattern(("*", "CGN")),
                                                    extToExtBusy=VmPattern(("#", "CDN", "#2"))))
        self.assertEqual(voicemail.digits(VmKind.DIRECT, "2001", "8000", ""), "*2001")
        self.assertEqual(voicemail.digits(VmKind.BUSY, "2001", "2002", "2002"), "#2002#2")
        self.assertIsNone(voicemail.digits(VmKind.NO_ANSWER, "2001", "2002", "2002"))
