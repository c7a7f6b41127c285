"""
Tests for L{srst.media.config}: the C{media:} section of router.yaml and
the RTP port range grammar.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.configreader import ConfigError
from srst.config import loadString
from srst.media.config import InvalidPortRange, MediaConfig, parsePortRange
from tests.test_config import MINIMAL


def problemsOf(test, text):
    """
    Load C{text}, which must fail, and return its problem lines.
    """
    error = test.assertRaises(ConfigError, loadString, text, "router.yaml")
    return str(error).splitlines()


class MediaConfigTests(SynchronousTestCase):
    """
    The C{media:} section.
    """

    def test_absent(self):
        """
        Without C{media:} the configuration still has one, with defaults.
        """
        self.assertEqual(loadString(MINIMAL).media, MediaConfig("127.0.0.1", "16384-32767", 1000))

    def test_values(self):
        """
        Address, port range and unreachable timeout are read; IPv6
        addresses are normalised.
        """
        c = loadString(MINIMAL + "media: {address: '::1', rtp-port-range: 20000-20099, rtp-unreachable-ms: 250}\n")
        self.assertEqual(c.media, MediaConfig("::1", "20000-20099", 250))

    def test_unreachableDisabled(self):
        """
        C{rtp-unreachable-ms: null} disables the unreachable check.
        """
        c = loadString(MINIMAL + "media: {rtp-unreachable-ms: null}\n")
        self.assertIsNone(c.media.unreachableMs)

    def test_problems(self):
        """
        A bad address, a port range L{parsePortRange} rejects (with its
        reason), an out-of-range timeout and an unknown key are all
        reported with their paths.
        """
        lines = problemsOf(self, MINIMAL + (
            "media: {address: nowhere, rtp-port-range: 80-90, rtp-unreachable-ms: 50, colour: red}\n"))
        self.assertEqual(len(lines), 4, lines)
        self.assertIn("media.address: 'nowhere'", lines[0])
        self.assertIn("media.rtp-port-range: '80-90' is not allowed; need 1024 <= LOW <= HIGH <= 65535", lines[1])
        self.assertIn("media.rtp-unreachable-ms: 50 is not allowed; expected an integer from 100 to 60000",
                      lines[2])
        self.assertIn("media.colour", lines[3])

    def test_malformedPortRange(self):
        """
        A port range that is not LOW-HIGH says so.
        """
        [line] = problemsOf(self, MINIMAL + "media: {rtp-port-range: lots}\n")
        self.assertIn("media.rtp-port-range: 'lots' is not allowed; expected LOW-HIGH", line)


class ParsePortRangeTests(SynchronousTestCase):
    """
    Tests for L{parsePortRange}.
    """

    def test_valid(self) -> None:
        """A LOW-HIGH range parses to its two inclusive bounds."""
        self.assertEqual(parsePortRange("16384-32767"), (16384, 32767))

    def test_invalid(self) -> None:
        """Malformed, reversed, out-of-bounds and even-less ranges raise."""
        for text in ("", "16384", "a-b", "32767-16384", "80-90",
                     "16384-70000", "16385-16385"):
            with self.assertRaises(InvalidPortRange) as cm:
                parsePortRange(text)
            self.assertIn(repr(text), str(cm.exception))
