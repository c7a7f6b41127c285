"""
Tests for L{srst.calls.dialplan}: parsing IOS destination-patterns and
matching dialled digits against dial-peers and the registered directory
numbers.  (The configured dial-peer value and its checks are tested with
L{srst.ports.config} in L{tests.test_ports_config}.)
"""

from __future__ import annotations

from typing import Literal

from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from srst.calls.dialplan import (
    DIGITS, DialPatternError, DialPeerLike, DialPlan, DialplanPattern, DialplanPatterns,
    ElementKind, ImplicitPeer, MatchKind, MatchResult, dialplanPatternProblem, parseDestinationPattern)


@frozen
class Peer:
    """
    A dial-peer as the dial plan sees it (L{DialPeerLike}), plus the C{port}
    and C{application} the seed table checks.
    """

    tag: int
    destinationPattern: str | None = None
    port: str | None = None
    forwardDigits: Literal["all"] | int | None = None
    prefix: str = ""
    preference: int = 0
    application: str | None = None

SEED_PEERS = (
    Peer(81235, destinationPattern="81235", port="1/1/0", forwardDigits="all",
             application="mgcpapp"),
    Peer(81234, destinationPattern="81234", port="1/0/0", application="mgcpapp"),
    Peer(999100, port="1/0/0", application="mgcpapp"),
    Peer(999110, port="1/1/0", application="mgcpapp"),
)
"""The dial-peers of the seed configuration."""


def peerTags(result: MatchResult) -> int | None:
    """@return: the tag of the winning POTS peer, or L{None}."""
    peer = result.peer
    return peer.tag if isinstance(peer, Peer) else None


class ParseDestinationPatternTests(SynchronousTestCase):
    """
    L{parseDestinationPattern} accepts the IOS pattern syntax and rejects
    anything else with a L{DialPatternError}.
    """

    def test_exactDigits(self) -> None:
        """
        Digits, C{*} and C{#} are exact elements, and all of them are the
        explicit prefix.
        """
        pattern = parseDestinationPattern("81*#")
        self.assertEqual([e.kind for e in pattern.elements], [ElementKind.EXACT] * 4)
        self.assertEqual([set(e.characters) for e in pattern.elements], [{"8"}, {"1"}, {"*"}, {"#"}])
        self.assertEqual(pattern.explicitPrefixLength, 4)
        self.assertFalse(pattern.variable)

    def test_wildcardsAndRanges(self) -> None:
        """
        C{.} accepts any digit, C{[2-5]} the digits 2 to 5, C{[^1]} every
        digit but 1, and C{[13-4]} mixes single digits and ranges.
        """
        pattern = parseDestinationPattern("9.[2-5][^1][13-4]")
        kinds = [e.kind for e in pattern.elements]
        self.assertEqual(kinds, [ElementKind.EXACT, ElementKind.ANY] + [ElementKind.RANGE] * 3)
        self.assertEqual(pattern.elements[1].characters, DIGITS)
        self.assertEqual(set(pattern.elements[2].characters), set("2345"))
        self.assertEqual(set(pattern.elements[3].characters), DIGITS - {"1"})
        self.assertEqual(set(pattern.elements[4].characters), set("134"))
        self.assertEqual(pattern.explicitPrefixLength, 1)

    def test_variableAndEnd(self) -> None:
        """
        A trailing C{T} makes the pattern variable-length, a trailing C{$}
        is recorded, and a leading C{+} is an exact element.
        """
        variable = parseDestinationPattern("+49T")
        self.assertTrue(variable.variable)
        self.assertEqual(len(variable.elements), 3)
        self.assertEqual(variable.elements[0].characters, frozenset("+"))
        self.assertTrue(parseDestinationPattern("2002$").exactEnd)
        self.assertTrue(parseDestinationPattern("T").variable)

    def test_badPatterns(self) -> None:
        """
        Each malformed pattern raises a L{DialPatternError} (a
        L{ValueError}) whose one-line message quotes the pattern and gives
        the reason.
        """
        cases = [
            ("", "empty"),
            ("$", "matches no digits"),
            ("12a", "unsupported character 'a'"),
            ("1[2-", "needs a digit on each side"),
            ("1[23", "never closed"),
            ("1[]", "empty range"),
            ("1[5-2]", "range 5-2 is reversed"),
            ("1[^0-9]", "excludes every digit"),
            ("1[a]", "not a digit"),
            ("12]", "without '['"),
            ("1T2", "nothing may follow 'T'"),
            ("12$3", "nothing may follow '$'"),
            ("1+2", "'+' is only allowed as the first character"),
            ("12t", "unsupported character 't'"),
        ]
        for text, reason in cases:
            error = self.assertRaises(DialPatternError, parseDestinationPattern, text)
            self.assertIsInstance(error, ValueError)
            message = str(error)
            self.assertIn(reason, message, text)
            self.assertIn(repr(text), message)
            self.assertNotIn("\n", message)

    def test_notText(self) -> None:
        """
        A pattern that is not text (a YAML number, say) is refused with a
        L{DialPatternError} too.
        """
        error = self.assertRaises(DialPatternError, parseDestinationPattern, 81234)
        self.assertIn("must be a string", str(error))

    def test_errorPosition(self) -> None:
        """
        The error says where the offending character is.
        """
        error = self.assertRaises(DialPatternError, parseDestinationPattern, "123x")
        self.assertEqual(error.position, 3)
        self.assertEqual(str(error), "bad destination-pattern '123x' at position 3: unsupported character 'x'")

    @given(st.text(max_size=12))
    @settings(max_examples=300, deadline=None)
    def test_arbitraryTextParsesOrRaisesTyped(self, text: str) -> None:
        """
        Any text either parses or raises L{DialPatternError}; nothing else
        escapes.
        """
        try:
            pattern = parseDestinationPattern(text)
        except DialPatternError as error:
            self.assertTrue(str(error))
        else:
            self.assertEqual(pattern.text, text)


class SeedDialPlanTests(SynchronousTestCase):
    """
    The dial-peers of the seed configuration route as on the router.
    """

    def setUp(self) -> None:
        self.plan = DialPlan(SEED_PEERS)

    def test_table(self) -> None:
        """
        Each dialled string gives the expected kind, peer, port and
        forwarded digits; the peers without a destination-pattern never
        match.
        """
        table = [
            # digits, timedOut, kind, tag, port, forwarded
            ("", False, MatchKind.NEEDS_MORE, None, None, ""),
            ("8", False, MatchKind.NEEDS_MORE, None, None, ""),
            ("8123", False, MatchKind.NEEDS_MORE, None, None, ""),
            ("81234", False, MatchKind.COMPLETE, 81234, "1/0/0", ""),
            ("81235", False, MatchKind.COMPLETE, 81235, "1/1/0", "81235"),
            ("81236", False, MatchKind.NO_MATCH, None, None, ""),
            ("812345", False, MatchKind.NO_MATCH, None, None, ""),
            ("8123", True, MatchKind.NO_MATCH, None, None, ""),
            ("81234", True, MatchKind.COMPLETE, 81234, "1/0/0", ""),
            ("999100", False, MatchKind.NO_MATCH, None, None, ""),
            ("999110", True, MatchKind.NO_MATCH, None, None, ""),
            ("9", False, MatchKind.NO_MATCH, None, None, ""),
        ]
        for digits, timedOut, kind, tag, port, forwarded in table:
            result = self.plan.match(digits, timedOut=timedOut)
            row = (digits, timedOut)
            self.assertEqual(result.kind, kind, row)
            self.assertEqual(peerTags(result), tag, row)
            self.assertEqual(getattr(result.peer, "port", None), port, row)
            self.assertEqual(result.forwardedDigits, forwarded, row)


class WildcardMatchTests(SynchronousTestCase):
    """
    Wildcards, ranges and C{T} patterns.
    """

    def test_dots(self) -> None:
        """
        C{.} matches one digit of any value, but not C{*} or C{#}.
        """
        plan = DialPlan([Peer(1, destinationPattern="5...")])
        self.assertEqual(plan.match("5").kind, MatchKind.NEEDS_MORE)
        self.assertEqual(plan.match("5907").kind, MatchKind.COMPLETE)
        self.assertEqual(plan.match("59*7").kind, MatchKind.NO_MATCH)
        self.assertEqual(plan.match("6907").kind, MatchKind.NO_MATCH)

    def test_ranges(self) -> None:
        """
        A range accepts exactly its digits; a negated range every other
        digit.
        """
        plan = DialPlan([Peer(1, destinationPattern="9[2-5][^1]")])
        cases = {"925": MatchKind.COMPLETE, "950": MatchKind.COMPLETE, "915": MatchKind.NO_MATCH,
                 "961": MatchKind.NO_MATCH, "921": MatchKind.NO_MATCH, "93": MatchKind.NEEDS_MORE}
        for digits, kind in cases.items():
            self.assertEqual(plan.match(digits).kind, kind, digits)

    def test_variableWithoutTimeout(self) -> None:
        """
        A C{T} pattern never completes before the inter-digit timeout,
        however many digits come.
        """
        plan = DialPlan([Peer(7, destinationPattern="0T")])
        for digits in ["0", "04940", "0494012345678"]:
            self.assertEqual(plan.match(digits), MatchResult(MatchKind.NEEDS_MORE), digits)
        self.assertEqual(plan.match("1").kind, MatchKind.NO_MATCH)

    def test_variableWithTimeout(self) -> None:
        """
        After the timeout a C{T} pattern matches whatever digits followed
        its fixed part, including none; by default only those are forwarded.
        """
        plan = DialPlan([Peer(7, destinationPattern="0T", port="1/1/0")])
        result = plan.match("04940123", timedOut=True)
        self.assertEqual(result.kind, MatchKind.COMPLETE)
        self.assertEqual(peerTags(result), 7)
        self.assertEqual(result.forwardedDigits, "4940123")
        self.assertEqual(plan.match("0", timedOut=True).forwardedDigits, "")
        self.assertEqual(plan.match("0#", timedOut=True).kind, MatchKind.NO_MATCH)

    def test_e164(self) -> None:
        """
        A leading C{+} matches a literal C{+} and is stripped with the
        other leading exact digits.
        """
        plan = DialPlan([Peer(3, destinationPattern="+49....")])
        result = plan.match("+491234")
        self.assertEqual((result.kind, result.forwardedDigits), (MatchKind.COMPLETE, "1234"))
        self.assertEqual(plan.match("491234").kind, MatchKind.NO_MATCH)

    def test_exactEndSameAsPlain(self) -> None:
        """
        A trailing C{$} matches the same strings as the pattern without it.
        """
        plan = DialPlan([Peer(3, destinationPattern="2002$")])
        self.assertEqual(plan.match("2002").kind, MatchKind.COMPLETE)
        self.assertEqual(plan.match("20021").kind, MatchKind.NO_MATCH)

    def test_longerPatternWaits(self) -> None:
        """
        While a longer pattern can still match, a complete shorter one waits;
        at the timeout the shorter one wins.
        """
        plan = DialPlan([Peer(1, destinationPattern="123"), Peer(2, destinationPattern="1234")])
        self.assertEqual(plan.match("123").kind, MatchKind.NEEDS_MORE)
        self.assertEqual(peerTags(plan.match("123", timedOut=True)), 1)
        self.assertEqual(peerTags(plan.match("1234")), 2)


class ForwardDigitsTests(SynchronousTestCase):
    """
    C{forward-digits} and C{prefix} decide what a POTS peer sends on.
    """

    def forwarded(self, pattern: str, digits: str, **kwargs: object) -> str:
        """
        @return: the digits forwarded when C{digits} complete on a single
            peer with C{pattern} and the given settings.
        """
        result = DialPlan([Peer(1, destinationPattern=pattern, **kwargs)]).match(digits, True)
        self.assertEqual(result.kind, MatchKind.COMPLETE)
        return result.forwardedDigits

    def test_default(self) -> None:
        """
        By default the leading exactly matched digits are stripped and the
        rest, from the first wildcard on, are forwarded.
        """
        self.assertEqual(self.forwarded("555....", "5551234"), "1234")
        self.assertEqual(self.forwarded("9[2-9]..", "9345"), "345")
        self.assertEqual(self.forwarded("9.1.", "9213"), "213")
        self.assertEqual(self.forwarded("81234", "81234"), "")

    def test_all(self) -> None:
        """
        C{forward-digits all} forwards every dialled digit.
        """
        self.assertEqual(self.forwarded("555....", "5551234", forwardDigits="all"), "5551234")

    def test_lastN(self) -> None:
        """
        C{forward-digits N} forwards the last N digits: all of them when N is
        at least the length, none when N is 0.
        """
        self.assertEqual(self.forwarded("555....", "5551234", forwardDigits=5), "51234")
        self.assertEqual(self.forwarded("555....", "5551234", forwardDigits=12), "5551234")
        self.assertEqual(self.forwarded("555....", "5551234", forwardDigits=0), "")

    def test_prefix(self) -> None:
        """
        The prefix goes before the forwarded digits, whatever C{forward-digits}
        says.
        """
        self.assertEqual(self.forwarded("9T", "9040123", prefix="0"), "0040123")
        self.assertEqual(self.forwarded("81234", "81234", prefix="1#"), "1#")
        self.assertEqual(self.forwarded("81234", "81234", prefix="7", forwardDigits=2), "734")


class RankingTests(SynchronousTestCase):
    """
    When several peers match, the most specific wins, then the preference,
    then the tag; registered directory numbers beat POTS peers of equal
    specificity.
    """

    def winner(self, peers: list[DialPeerLike], digits: str, dns: tuple[str, ...] = ()) -> MatchResult:
        """
        @return: the match of C{digits} after the timeout.
        """
        result = DialPlan(peers, implicitPeers=lambda: dns).match(digits, timedOut=True)
        self.assertEqual(result.kind, MatchKind.COMPLETE)
        return result

    def test_specificity(self) -> None:
        """
        Exact digits beat ranges, ranges beat C{.}, and C{.} beats C{T},
        whatever the preference and tag.
        """
        peers = [
            Peer(1, destinationPattern="9T"),
            Peer(2, destinationPattern="9...", preference=9),
            Peer(3, destinationPattern="9[1-3]..", preference=10),
            Peer(4, destinationPattern="91..", preference=10),
        ]
        self.assertEqual(peerTags(self.winner(peers, "9123")), 4)
        self.assertEqual(peerTags(self.winner(peers[:3], "9123")), 3)
        self.assertEqual(peerTags(self.winner(peers[:2], "9123")), 2)
        self.assertEqual(peerTags(self.winner(peers[:1], "9123")), 1)
        self.assertEqual(peerTags(self.winner(peers, "9923")), 2)

    def test_preferenceThenTag(self) -> None:
        """
        Among equally specific peers the lowest preference wins; on equal
        preference the lowest tag, in any configuration order.
        """
        peers = [
            Peer(30, destinationPattern="5..", preference=1),
            Peer(20, destinationPattern="5..", preference=2),
            Peer(10, destinationPattern="5..", preference=1),
        ]
        self.assertEqual(peerTags(self.winner(peers, "512")), 10)
        self.assertEqual(peerTags(self.winner(list(reversed(peers)), "512")), 10)
        self.assertEqual(peerTags(self.winner(peers[:2], "512")), 30)

    def test_implicitBeatsWildcardPeer(self) -> None:
        """
        A registered directory number beats a C{....} POTS peer and is
        forwarded whole.
        """
        peers = [Peer(1, destinationPattern="....", port="1/0/0")]
        result = self.winner(peers, "2002", dns=("2002", "2010"))
        self.assertEqual(result.peer, ImplicitPeer("2002"))
        self.assertEqual(result.forwardedDigits, "2002")
        self.assertEqual(peerTags(self.winner(peers, "2003", dns=("2002",))), 1)
        fresh = DialPlan(peers, implicitPeers=lambda: ("2002",)).match("2002")
        self.assertEqual(fresh.peer, ImplicitPeer("2002"))

    def test_implicitBeatsEqualExactPeer(self) -> None:
        """
        A directory number beats a POTS peer with the very same exact
        pattern, even one with preference 0.
        """
        peers = [Peer(1, destinationPattern="2002", preference=0)]
        self.assertEqual(self.winner(peers, "2002", dns=("2002",)).peer, ImplicitPeer("2002"))

    def test_longerImplicitMakesPeerWait(self) -> None:
        """
        A complete POTS peer waits while a longer directory number can still
        be dialled, and wins at the timeout.
        """
        plan = DialPlan([Peer(1, destinationPattern="200")], implicitPeers=lambda: ("2001",))
        self.assertEqual(plan.match("200").kind, MatchKind.NEEDS_MORE)
        self.assertEqual(peerTags(plan.match("200", timedOut=True)), 1)
        self.assertEqual(plan.match("2001").peer, ImplicitPeer("2001"))

    def test_implicitPeersAskedEachTime(self) -> None:
        """
        The directory numbers are asked for on every match, so phones
        registering later are found.
        """
        dns: list[str] = []
        plan = DialPlan([], implicitPeers=lambda: dns)
        self.assertEqual(plan.match("2002").kind, MatchKind.NO_MATCH)
        dns.append("2002")
        self.assertEqual(plan.match("2002").kind, MatchKind.COMPLETE)

    def test_noMatch(self) -> None:
        """
        Digits that no peer or directory number can ever match give
        L{MatchKind.NO_MATCH} with no peer.
        """
        plan = DialPlan(SEED_PEERS, implicitPeers=lambda: ("2002",))
        self.assertEqual(plan.match("3"), MatchResult(MatchKind.NO_MATCH))
        self.assertEqual(plan.match("20", timedOut=True), MatchResult(MatchKind.NO_MATCH))


class ArbitraryDigitsTests(SynchronousTestCase):
    """
    Matching never raises, whatever is dialled.
    """

    plan = DialPlan(
        SEED_PEERS + (
            Peer(1, destinationPattern="9T"),
            Peer(2, destinationPattern="+1[2-9]........"),
            Peer(3, destinationPattern="[^0]..#"),
            Peer(4, destinationPattern="*7.$"),
        ),
        implicitPeers=lambda: ("2002", "2010", "20"))

    @given(st.text(alphabet="0123456789*#+", max_size=16), st.booleans())
    @settings(max_examples=400, deadline=None)
    def test_dialDigits(self, digits: str, timedOut: bool) -> None:
        """
        Any string of dial characters gives a consistent result: a peer and
        forwarded digits exactly when complete, and no waiting after the
        timeout.
        """
        result = self.plan.match(digits, timedOut=timedOut)
        self.assertEqual(result.peer is not None, result.kind is MatchKind.COMPLETE)
        if result.kind is not MatchKind.COMPLETE:
            self.assertEqual(result.forwardedDigits, "")
        if timedOut:
            self.assertNotEqual(result.kind, MatchKind.NEEDS_MORE)

    @given(st.text(max_size=16), st.booleans())
    @settings(max_examples=200, deadline=None)
    def test_anyText(self, digits: str, timedOut: bool) -> None:
        """
        Text with any character that is not a dial character (a letter, a
        space, a non-ASCII digit such as U+0662) matches nothing and waits
        for nothing: no peer, no forwarded digits.  Text of dial
        characters only is matched as L{test_dialDigits} says.
        """
        result = self.plan.match(digits, timedOut=timedOut)
        self.assertIsInstance(result, MatchResult)
        if any(ch not in "0123456789*#+" for ch in digits):
            self.assertEqual(result, MatchResult(MatchKind.NO_MATCH), digits)
        else:
            self.assertEqual(result.peer is not None, result.kind is MatchKind.COMPLETE)
            if timedOut:
                self.assertNotEqual(result.kind, MatchKind.NEEDS_MORE)


class DialplanPatternTests(SynchronousTestCase):
    """
    L{DialplanPattern}: IOS C{dialplan-pattern} full numbers and
    extensions, as in the IOS examples.
    """

    def test_iosExamples(self) -> None:
        """
        A full number matching the pattern is the extension of its last
        C{extension-length} digits (or the C{extension-pattern} filled with
        the pattern's wildcard digits), and an extension expands back to
        the full number; numbers outside the pattern give L{None}.
        """
        table = [
            # (pattern, extension-length, extension-pattern, full number, extension)
            ("40855501..", 4, None, "4085550123", "0123"),
            ("40833350..", 4, None, "4083335044", "5044"),
            ("4085550...", 4, None, "4085550199", "0199"),
            ("40855501..", 3, "4..", "4085550133", "433"),
            ("408555....", 5, "6....", "4085551234", "61234"),
        ]
        for text, length, extensionPattern, full, extension in table:
            self.assertIsNone(dialplanPatternProblem(text, length, extensionPattern))
            pattern = DialplanPattern(1, text, length, extensionPattern)
            self.assertEqual((pattern.extensionOf(full), pattern.expand(extension)), (extension, full), text)
        pattern = DialplanPattern(1, "40855501..", 4)
        self.assertEqual([pattern.extensionOf(n) for n in ("4085550223", "408555012", "40855501234", "40855501a3")],
                         [None] * 4)
        self.assertEqual([pattern.expand(n) for n in ("1001", "012", "01234")], [None] * 3)
        self.assertEqual([pattern.couldBecome(d) for d in ("", "4085", "408555012", "4085550123", "5")],
                         [True, True, True, False, False])

    def test_lowestTagFirst(self) -> None:
        """
        L{DialplanPatterns} tries the lowest tag first, and says a called
        number is local when it matches a pattern as a full number or as an
        extension (IOS's internal/external call).
        """
        patterns = DialplanPatterns([DialplanPattern(2, "5105550...", 4), DialplanPattern(1, "4085550...", 4)])
        self.assertEqual(patterns.expand("0123"), "4085550123")
        pattern, extension = patterns.extensionOf("5105550123")
        self.assertEqual((pattern.tag, extension), (2, "0123"))
        self.assertEqual([patterns.isLocal(n) for n in ("0123", "4085550123", "5105550999", "95551234", "1001")],
                         [True, True, True, False, False])
        self.assertFalse(DialplanPatterns())

    def test_problems(self) -> None:
        """
        L{dialplanPatternProblem} says what is wrong with a pattern.
        """
        table = [
            ("4085[5]501..", 4, None, "expected a pattern of digits and '.'"),
            ("", 4, None, "expected a pattern of digits and '.'"),
            ("0123", 5, None, "extension-length must be 1..4 (the pattern's length)"),
            ("408.550123", 4, None,
             "every '.' must be in the last extension-length digits (or give extension-pattern)"),
            ("40855501..", 3, "4.", "extension-pattern must have extension-length (3) characters"),
            ("40855501..", 3, "4.T", "extension-pattern: expected digits and '.'"),
            ("40855501..", 3, "4..".replace("4", "."), "extension-pattern must have as many '.' as the pattern"),
        ]
        for pattern, length, extensionPattern, reason in table:
            self.assertEqual(dialplanPatternProblem(pattern, length, extensionPattern), reason, pattern)
