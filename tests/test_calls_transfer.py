"""
Tests for L{srst.calls.transfer}: transfer patterns and the blind
decision.  (Transfers: L{tests.test_calls_engine} with fake endpoints,
L{tests.test_sccp_callendpoint} with SCCP phones.)
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.transfer import allowed, isBlind, patternMatches


class PatternTests(SynchronousTestCase):
    """
    IOS dial patterns of transfer-pattern, and the blind decision.
    """

    def test_wildcards(self) -> None:
        """
        '.' matches one digit, 'T' any further digits, ranges one of a set;
        the whole number must match.
        """
        self.assertTrue(patternMatches("555....", "5551234"))
        self.assertFalse(patternMatches("555....", "555123"))
        self.assertTrue(patternMatches("9T", "9"))
        self.assertTrue(patternMatches("9T", "90123456"))
        self.assertTrue(patternMatches("4[0-3]..", "4210"))
        self.assertFalse(patternMatches("4[0-3]..", "4510"))
        self.assertFalse(patternMatches("4[0-3", "4510"))
        self.assertEqual((allowed(("1...", "9T"), "912"), allowed((), "912")), (True, False))

    def test_isBlind(self) -> None:
        """
        Blind for blind/full-blind, or without a second channel.
        """
        self.assertEqual([isBlind("full-consult", 2), isBlind("full-consult", 1), isBlind("blind", 2),
                          isBlind("full-blind", 8), isBlind("local-consult", 2)],
                         [False, True, True, True, False])
