"""
Tests for L{srst.calls.forward}: the forwarding settings, loop avoidance
and redirect values.  (Forwarded calls: L{tests.test_calls_engine} with
fake endpoints, L{tests.test_sccp_callendpoint} with SCCP phones; the
CFwdAll dialogue: L{tests.test_sccp_forwardkeys}.)
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.forward import ForwardReason, ForwardSettings, Redirect, usable
from srst.calls.interfaces import Party
from srst.sccp.config import CallForward


class ForwardSettingsTests(SynchronousTestCase):
    """
    The settings value and its helpers.
    """

    def test_fromConfig(self) -> None:
        """
        The call-forward section gives the router-wide targets and timeout.
        """
        settings = ForwardSettings.fromConfig(CallForward(all="3000", busy="3001", noAnswer="3002",
                                                          noAnswerTimeout=12))
        self.assertEqual((settings.all, settings.busy, settings.noAnswer, settings.noAnswerTimeout),
                         ("3000", "3001", "3002", 12))

    def test_perDnOverridesAll(self) -> None:
        """
        A phone's own forward-all wins over the router-wide one; clearing
        it falls back to the router-wide target.
        """
        settings = ForwardSettings(all="3000")
        settings.setAll("2002", "2003")
        self.assertEqual((settings.allFor("2002"), settings.allFor("2001")), ("2003", "3000"))
        settings.setAll("2002", None)
        self.assertEqual(settings.allFor("2002"), "3000")

    def test_usable(self) -> None:
        """
        A target equal to a number to avoid (loop) or empty is not used.
        """
        self.assertEqual((usable("2003", "2002"), usable("2002", "2002"), usable("", "2002"), usable(None)),
                         ("2003", None, None, None))

    def test_redirectThen(self) -> None:
        """
        Forwarding a forwarded call keeps the original number.
        """
        first = Redirect(Party("2002"), Party("2002"), ForwardReason.ALL)
        self.assertEqual(first.then(Party("2003"), ForwardReason.NO_ANSWER),
                         Redirect(Party("2002"), Party("2003"), ForwardReason.NO_ANSWER))
