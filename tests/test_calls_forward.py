"""
Tests for L{srst.calls.forward}: the forwarding settings, loop avoidance
and redirect values.  (Forwarded calls: L{tests.test_calls_engine} with
fake endpoints, L{tests.test_sccp_callendpoint} with SCCP phones; the
CFwdAll dialogue: L{tests.test_sccp_forwardkeys}.)
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.forward import MAX_REDIRECT, ForwardChain, ForwardReason, ForwardSettings, Redirect, followAll, usable
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


def _redirect(original: str, last: str) -> Redirect:
    return Redirect(Party(original), Party(last), ForwardReason.ALL)


class FollowAllTests(SynchronousTestCase):
    """
    Forward-all chains (L{followAll}): followed hop by hop, stopped at a
    loop or after L{MAX_REDIRECT} hops on the last number before it.
    """

    def chains(self, perDn: dict[str, str], routerWide: str | None = None) -> ForwardSettings:
        settings = ForwardSettings(all=routerWide)
        for dn, target in perDn.items():
            settings.setAll(dn, target)
        return settings

    def test_table(self) -> None:
        """
        Alice (2001) dials 2002 under each setting: where the call rings,
        with which redirect, over which chain, and why it stopped.
        """
        cases = [
            ({}, None, ForwardChain("2002", None, ("2002",))),
            ({"2002": "2003"}, None, ForwardChain("2003", _redirect("2002", "2002"), ("2002", "2003"))),
            ({"2002": "2003", "2003": "2004"}, None,
             ForwardChain("2004", _redirect("2002", "2003"), ("2002", "2003", "2004"))),
            ({"2002": "2003", "2003": "2002"}, None,
             ForwardChain("2003", _redirect("2002", "2002"), ("2002", "2003"), "loop", "2002")),
            ({"2002": "2002"}, None, ForwardChain("2002", None, ("2002",), "loop", "2002")),
            ({"2002": "2003", "2003": "2004", "2004": "2003"}, None,
             ForwardChain("2004", _redirect("2002", "2003"), ("2002", "2003", "2004"), "loop", "2003")),
            ({"2002": "2001"}, None, ForwardChain("2002", None, ("2002",), "loop", "2001")),
            ({"2002": "2003", "2003": "2001"}, None,
             ForwardChain("2003", _redirect("2002", "2002"), ("2002", "2003"), "loop", "2001")),
            ({}, "2009", ForwardChain("2009", _redirect("2002", "2002"), ("2002", "2009"))),
            ({"2009": "2003"}, "2009",
             ForwardChain("2003", _redirect("2002", "2009"), ("2002", "2009", "2003"), "loop", "2009")),
        ]
        for perDn, routerWide, expected in cases:
            self.assertEqual(followAll(self.chains(perDn, routerWide), "2002", "2001"), expected,
                             (perDn, routerWide))

    def test_maxRedirect(self) -> None:
        """
        A chain of exactly C{MAX_REDIRECT} (5, CME's C{max-redirect}
        default) hops is followed to its end; one hop more stops on the
        fifth target.
        """
        self.assertEqual(MAX_REDIRECT, 5)
        five = {"300%d" % i: "300%d" % (i + 1) for i in range(5)}
        chain = followAll(self.chains(five), "3000", "2001")
        self.assertEqual((chain.target, chain.stopped, chain.redirect), ("3005", None, _redirect("3000", "3004")))
        six = {"300%d" % i: "300%d" % (i + 1) for i in range(6)}
        chain = followAll(self.chains(six), "3000", "2001")
        self.assertEqual((chain.target, chain.stopped, chain.next, len(chain.numbers)),
                         ("3005", "max-redirect", "3006", 6))
