"""
Tests for L{srst.calls.dialing}: when a dialled number is complete, and how
the answers of several directories combine.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.dialing import DialStep, DigitCollector, combine
from srst.calls.interfaces import DialMatch


class DigitCollectorTests(SynchronousTestCase):
    """
    L{DigitCollector} and L{combine}.
    """

    def test_collector(self) -> None:
        """
        The collector completes on EXACT, NONE and '#', and waits on PREFIX
        and EXACT_OR_LONGER.
        """
        collector = DigitCollector()
        self.assertIs(collector.add("2", DialMatch.PREFIX), DialStep.MORE)
        self.assertIs(collector.add("0", DialMatch.EXACT_OR_LONGER), DialStep.MORE)
        self.assertIs(collector.add("#"), DialStep.COMPLETE)
        self.assertEqual((collector.digits, collector.complete), ("20", True))
        self.assertIs(DigitCollector().add("5", DialMatch.NONE), DialStep.COMPLETE)
        self.assertIs(DigitCollector().add("5", DialMatch.EXACT), DialStep.COMPLETE)
        self.assertEqual(combine([DialMatch.NONE, DialMatch.EXACT]), DialMatch.EXACT)
        self.assertEqual(combine([DialMatch.PREFIX, DialMatch.EXACT]), DialMatch.EXACT_OR_LONGER)
        self.assertEqual(combine([DialMatch.NONE]), DialMatch.NONE)
        self.assertEqual(combine([]), DialMatch.NONE)

    def test_secondaryDialtone(self) -> None:
        """
        The access code plays the outside dial tone once; the number it
        starts is never completed by the directories (they do not know it),
        only by C{#} or the inter-digit timeout.
        """
        collector = DigitCollector(secondaryDialtone="9")
        self.assertIs(collector.add("9", DialMatch.NONE), DialStep.SECONDARY_DIALTONE)
        self.assertIs(collector.add("5", DialMatch.NONE), DialStep.MORE)
        self.assertIs(collector.add("#"), DialStep.COMPLETE)
        self.assertEqual(collector.digits, "95")

    def test_timedOut(self) -> None:
        """
        The inter-digit timeout completes the number with what was dialled.
        """
        collector = DigitCollector()
        collector.add("2", DialMatch.PREFIX)
        self.assertEqual((collector.timedOut(), collector.complete), ("2", True))
