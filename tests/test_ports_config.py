"""
Tests for L{srst.ports.config}: the C{voice-ports:} and C{dial-peers:}
sections of router.yaml, read into L{srst.config.RouterConfig}, and the
L{DialPeer} value they give.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.dialplan import DialPatternError, DialPlan, MatchKind
from srst.config import ConfigError, loadString
from srst.ports.config import DEFAULT_HOOKFLASH_OUT_MS, DialPeer, DialPeerError, Signal, VoicePortConfig
from tests.test_config import MINIMAL


PORTS = """
voice-ports:
  1/0/0: {signal: fxs-loop-start, description: lobby phone}
  1/1/0: {signal: fxo-loop-start, timing: {hookflash-out-ms: 50}}
"""

PEERS = """
dial-peers:
  - {tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, application: mgcpapp}
"""


def problemsOf(test, text):
    """
    Load C{text}, which must fail, and return its problem lines.
    """
    error = test.assertRaises(ConfigError, loadString, text, "router.yaml")
    return str(error).splitlines()


class VoicePortsConfigTests(SynchronousTestCase):
    """
    The C{voice-ports:} section.
    """

    def test_absent(self):
        """
        Without the sections the configuration has no voice ports and no
        dial-peers.
        """
        c = loadString(MINIMAL)
        self.assertEqual((c.voicePorts, c.dialPeers), ((), ()))

    def test_architectureExample(self):
        """
        The example of the design card reads into frozen port and peer
        values.
        """
        c = loadString(MINIMAL + PORTS + PEERS)
        self.assertEqual(c.voicePorts, (
            VoicePortConfig("1/0/0", Signal.FXS_LOOP_START, DEFAULT_HOOKFLASH_OUT_MS, "lobby phone"),
            VoicePortConfig("1/1/0", Signal.FXO_LOOP_START, 50, None),
        ))
        self.assertEqual(c.dialPeers, (
            DialPeer(tag=81234, destinationPattern="81234", port="1/0/0", application="mgcpapp"),))

    def test_badName(self):
        """
        A port name that is not slot/subunit/port is reported at its path.
        """
        lines = problemsOf(self, MINIMAL + "voice-ports:\n  fxs1: {signal: fxs-loop-start}\n")
        self.assertEqual(len(lines), 1)
        self.assertIn("router.yaml: voice-ports.fxs1: 'fxs1' is not allowed; expected an IOS voice-port name",
                      lines[0])

    def test_duplicateName(self):
        """
        Two keys naming the same port (1/0/0 and 01/0/0) are rejected.
        """
        lines = problemsOf(self, MINIMAL + "voice-ports:\n  1/0/0: {signal: fxs-loop-start}\n"
                                           "  01/0/0: {signal: fxs-loop-start}\n")
        self.assertEqual(len(lines), 1)
        self.assertIn("voice-ports.01/0/0", lines[0])
        self.assertIn("duplicate voice port: 1/0/0", lines[0])

    def test_badSignalAndTiming(self):
        """
        A missing or unknown signal and an out-of-range hookflash are each
        reported with what is allowed.
        """
        lines = problemsOf(self, MINIMAL + "voice-ports:\n  1/0/0: {signal: e-and-m}\n"
                                           "  1/0/1: {timing: {hookflash-out-ms: 10, flash: 1}}\n")
        self.assertIn("router.yaml: voice-ports.1/0/0.signal: 'e-and-m' is not allowed; "
                      "expected one of: fxs-loop-start, fxo-loop-start", lines)
        self.assertIn("router.yaml: voice-ports.1/0/1.signal: missing; required; "
                      "expected one of: fxs-loop-start, fxo-loop-start", lines)
        self.assertIn("router.yaml: voice-ports.1/0/1.timing.hookflash-out-ms: 10 is not allowed; "
                      "expected an integer from 50 to 1550", lines)
        self.assertTrue(any(line.startswith("router.yaml: voice-ports.1/0/1.timing.flash: 1 is not allowed; "
                                            "unknown key") for line in lines))
        self.assertEqual(len(lines), 4)

    def test_stationIdAndPlar(self):
        """
        C{station-id: {number, name}} and C{connection: {plar}} are read;
        ports without them have L{None}.
        """
        c = loadString(MINIMAL + """
voice-ports:
  1/0/1: {signal: fxs-loop-start, station-id: {number: 81236, name: Lobby phone}}
  1/1/1: {signal: fxo-loop-start, connection: {plar: "2002"}}
  1/0/2: {signal: fxs-loop-start}
""")
        first, second, third = c.voicePorts
        self.assertEqual((first.stationIdNumber, first.stationIdName, first.plarNumber),
                         ("81236", "Lobby phone", None))
        self.assertEqual((second.stationIdNumber, second.stationIdName, second.plarNumber),
                         (None, None, "2002"))
        self.assertEqual(third, VoicePortConfig("1/0/2"))

    def test_badStationIdAndPlar(self):
        """
        Non-digit numbers and unknown keys under C{station-id} and
        C{connection} are reported at their paths.
        """
        lines = problemsOf(self, MINIMAL + """
voice-ports:
  1/0/1: {signal: fxs-loop-start, station-id: {number: "81-236", nick: x}, connection: {plar: abc, trunk: 1}}
""")
        text = "\n".join(lines)
        self.assertIn("voice-ports.1/0/1.station-id.number: '81-236' is not allowed; expected 1 to 32 digits", text)
        self.assertIn("voice-ports.1/0/1.station-id.nick", text)
        self.assertIn("voice-ports.1/0/1.connection.plar: 'abc' is not allowed; expected 1 to 32 digits", text)
        self.assertIn("voice-ports.1/0/1.connection.trunk", text)
        self.assertEqual(len(lines), 4)


class DialPeersConfigTests(SynchronousTestCase):
    """
    The C{dial-peers:} section.
    """

    def test_allSettings(self):
        """
        Every dial-peer setting is read.
        """
        c = loadString(MINIMAL + PORTS + """
dial-peers:
  - {tag: 7, destination-pattern: "9T", port: 1/1/0, forward-digits: all, prefix: "9,",
     preference: 3, application: session}
  - {tag: 8, destination-pattern: "8...", port: 1/1/0, forward-digits: 2}
""")
        self.assertEqual(c.dialPeers, (
            DialPeer(tag=7, destinationPattern="9T", port="1/1/0", forwardDigits="all", prefix="9,",
                     preference=3, application="session"),
            DialPeer(tag=8, destinationPattern="8...", port="1/1/0", forwardDigits=2),
        ))

    def test_unknownPort(self):
        """
        A peer's port must name a configured voice port.
        """
        lines = problemsOf(self, MINIMAL + PORTS + "dial-peers:\n  - {tag: 1, port: 2/0/0}\n")
        self.assertEqual(lines, ["router.yaml: dial-peers[0].port: '2/0/0' is not allowed; "
                                 "expected the name of a voice port under voice-ports"])

    def test_duplicateTag(self):
        """
        Two peers with the same tag are rejected at the second one.
        """
        lines = problemsOf(self, MINIMAL + PORTS + "dial-peers:\n  - {tag: 1, port: 1/0/0}\n"
                                                   "  - {tag: 1, port: 1/1/0}\n")
        self.assertEqual(len(lines), 1)
        self.assertIn("router.yaml: dial-peers[1].tag: 1 is not allowed; duplicate dial-peer tag", lines[0])

    def test_badValues(self):
        """
        Each bad value is reported at its path: pattern, type, forward-digits,
        prefix, preference, missing tag.
        """
        lines = problemsOf(self, MINIMAL + PORTS + """
dial-peers:
  - {tag: 1, type: voip, destination-pattern: "12[", port: 1/0/0, forward-digits: some,
     prefix: "9x", preference: 11}
  - {port: 1/0/0}
""")
        text = "\n".join(lines)
        self.assertIn("dial-peers[0].type: 'voip' is not allowed; expected one of: pots", text)
        self.assertIn("dial-peers[0].destination-pattern: '12[' is not allowed; bad destination-pattern", text)
        self.assertIn("dial-peers[0].forward-digits: 'some' is not allowed; expected all or a digit count", text)
        self.assertIn("dial-peers[0].prefix: '9x' is not allowed", text)
        self.assertIn("dial-peers[0].preference: 11 is not allowed; expected an integer from 0 to 10", text)
        self.assertIn("dial-peers[1].tag: missing; required", text)
        self.assertEqual(len(lines), 6)

    def test_notAList(self):
        """
        C{dial-peers} must be a list.
        """
        lines = problemsOf(self, MINIMAL + PORTS + "dial-peers: {tag: 1}\n")
        self.assertEqual(lines, ["router.yaml: dial-peers: {'tag': 1} is not allowed; expected a list"])


class DialPeerTests(SynchronousTestCase):
    """
    L{DialPeer} validates its settings on construction.
    """

    def test_defaults(self) -> None:
        """
        A peer defaults to type pots, no pattern, IOS default digit
        forwarding, no prefix and preference 0.
        """
        peer = DialPeer(1)
        self.assertEqual(
            (peer.type, peer.destinationPattern, peer.port, peer.forwardDigits, peer.prefix,
             peer.preference, peer.application),
            ("pots", None, None, None, "", 0, None))

    def test_badPattern(self) -> None:
        """
        A malformed destination-pattern is refused with L{DialPatternError}.
        """
        self.assertRaises(DialPatternError, DialPeer, 1, destinationPattern="12x")

    def test_badSettings(self) -> None:
        """
        A bad tag, type, forward-digits, prefix or preference is refused
        with a L{DialPeerError} naming the tag and the setting.
        """
        cases = [
            (dict(tag=0), "tag"),
            (dict(tag=1, type="voip"), "type 'voip'"),
            (dict(tag=1, forwardDigits="some"), "forward-digits 'some'"),
            (dict(tag=1, forwardDigits=-1), "forward-digits -1"),
            (dict(tag=1, prefix="9a"), "prefix '9a'"),
            (dict(tag=1, preference=11), "preference 11"),
            (dict(tag=1, preference=-1), "preference -1"),
        ]
        for kwargs, reason in cases:
            error = self.assertRaises(DialPeerError, DialPeer, **kwargs)
            self.assertIsInstance(error, ValueError)
            self.assertIn(reason, str(error))
            self.assertIn("bad dial-peer", str(error))

    def test_frozen(self) -> None:
        """
        Dial-peers are immutable values.
        """
        peer = DialPeer(5, destinationPattern="5")
        self.assertRaises(AttributeError, setattr, peer, "preference", 3)
        self.assertEqual(peer, DialPeer(5, destinationPattern="5"))

    def test_routesInTheDialPlan(self) -> None:
        """
        A configured dial-peer is what the dial plan routes with: it
        matches on its pattern and forwards by its C{forward-digits} and
        C{prefix}.
        """
        c = loadString(MINIMAL + PORTS + "dial-peers:\n  - {tag: 9, destination-pattern: 9T, port: 1/1/0,"
                                         " prefix: '0'}\n")
        result = DialPlan(c.dialPeers).match("9040123", timedOut=True)
        self.assertEqual((result.kind, result.peer, result.forwardedDigits),
                         (MatchKind.COMPLETE, c.dialPeers[0], "0040123"))

