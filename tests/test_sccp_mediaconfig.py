"""
Tests for L{srst.sccp.mediaconfig}: the music-on-hold and conference keys of
C{call-manager-fallback:}, read through L{srst.config}.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.config import loadString
from srst.sccp.mediaconfig import ConferenceConfig, MohConfig, MulticastMoh
from tests.test_config import MINIMAL, problemsOf

CMF = MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
"""


class MediaConfigTests(SynchronousTestCase):
    """
    Valid music-on-hold and conference keys.
    """

    def test_defaults(self):
        """
        Without the keys there is no music (tone on hold), SRTP music for a
        secure phone once a file is set, 8 conferences (IOS), secure ones.
        """
        cmf = loadString(CMF).callManagerFallback
        self.assertEqual(cmf.moh, MohConfig(None, "srtp", None))
        self.assertEqual(cmf.conference, ConferenceConfig(8, True))

    def test_everything(self):
        """
        Every key read, multicast TTL defaulting to 1; C{moh-secure} and the
        group address are case- and form-normalised.
        """
        cmf = loadString(CMF + """
  moh: etc/moh/music-on-hold.wav
  moh-secure: Tone
  multicast-moh: {address: 239.1.1.1, port: 16384}
  max-conferences: 0
  conference-secure: false
""").callManagerFallback
        self.assertEqual(cmf.moh, MohConfig("etc/moh/music-on-hold.wav", "tone", MulticastMoh("239.1.1.1", 16384, 1)))
        self.assertEqual(cmf.conference, ConferenceConfig(0, False))

    def test_ttlZeroAndLimits(self):
        """
        The edges of each range are allowed: TTL 0 (host only), port 1024,
        64 conferences, the last group below 240.0.0.0.
        """
        cmf = loadString(CMF + """
  moh: m.wav
  multicast-moh: {address: 239.255.255.255, port: 1024, ttl: 0}
  max-conferences: 64
""").callManagerFallback
        self.assertEqual(cmf.moh.multicast, MulticastMoh("239.255.255.255", 1024, 0))
        self.assertEqual(cmf.conference.maxConferences, 64)


class MediaConfigProblemTests(SynchronousTestCase):
    """
    Every wrong value is reported with its YAML path (design 14 section 5).
    """

    def assertProblems(self, text, expected):
        self.assertEqual(problemsOf(self, CMF + text), ["router.yaml: " + line for line in expected])

    def test_mohPath(self):
        """
        C{moh} is a file path (a string); its content is preflight's.
        """
        for value, shown in (("5", "5"), ("[a.wav]", "['a.wav']"), ('""', "''")):
            self.assertProblems(f"  moh: {value}\n", [
                f"call-manager-fallback.moh: {shown} is not allowed; expected a WAV file path"])

    def test_mohSecure(self):
        """
        C{moh-secure} is C{srtp} or C{tone}.
        """
        self.assertProblems("  moh-secure: clear\n", [
            "call-manager-fallback.moh-secure: 'clear' is not allowed; expected srtp or tone"])
        self.assertProblems("  moh-secure: true\n", [
            "call-manager-fallback.moh-secure: True is not allowed; expected srtp or tone"])

    def test_multicastNotMapping(self):
        """
        C{multicast-moh} is a mapping.
        """
        self.assertProblems("  moh: m.wav\n  multicast-moh: 239.1.1.1\n", [
            "call-manager-fallback.multicast-moh: '239.1.1.1' is not allowed; expected a mapping such as"
            " {address: 239.1.1.1, port: 16384}"])

    def test_multicastNeedsMoh(self):
        """
        C{multicast-moh} without C{moh} has nothing to stream.
        """
        self.assertProblems("  multicast-moh: {address: 239.1.1.1, port: 16384}\n", [
            "call-manager-fallback.multicast-moh: {'address': '239.1.1.1', 'port': 16384} is not allowed;"
            " multicast-moh needs moh: (the file the router streams)"])

    def test_multicastAddress(self):
        """
        The group is IPv4 multicast outside the link-local block 224.0.0.0/24;
        it is required.
        """
        allowed = "expected an IPv4 multicast address outside 224.0.0.0/24"
        for value in ("10.1.1.1", "224.0.0.5", "240.0.0.1", "ff02::1", "nonsense", "5"):
            self.assertProblems(f"  moh: m.wav\n  multicast-moh: {{address: '{value}', port: 16384}}\n", [
                f"call-manager-fallback.multicast-moh.address: '{value}' is not allowed; {allowed}"])
        self.assertProblems("  moh: m.wav\n  multicast-moh: {port: 16384}\n", [
            f"call-manager-fallback.multicast-moh.address: missing; required; {allowed}"])

    def test_multicastPort(self):
        """
        The port is even, 1024-65534, and required.
        """
        allowed = "expected an even UDP port from 1024 to 65534"
        for value, shown in (("16385", "16385"), ("1022", "1022"), ("65536", "65536"), ("true", "True"),
                             ("x", "'x'")):
            self.assertProblems(f"  moh: m.wav\n  multicast-moh: {{address: 239.1.1.1, port: {value}}}\n", [
                f"call-manager-fallback.multicast-moh.port: {shown} is not allowed; {allowed}"])
        self.assertProblems("  moh: m.wav\n  multicast-moh: {address: 239.1.1.1}\n", [
            f"call-manager-fallback.multicast-moh.port: missing; required; {allowed}"])

    def test_multicastTtl(self):
        """
        The TTL is 0-255.
        """
        for value in ("256", "-1", "one"):
            shown = value if value.lstrip("-").isdigit() else repr(value)
            self.assertProblems(f"  moh: m.wav\n  multicast-moh: {{address: 239.1.1.1, port: 16384, ttl: {value}}}\n", [
                f"call-manager-fallback.multicast-moh.ttl: {shown} is not allowed; expected a TTL from 0 to 255"])

    def test_multicastUnknownKey(self):
        """
        An unknown key below C{multicast-moh} is named with its path.
        """
        self.assertProblems("  moh: m.wav\n  multicast-moh: {address: 239.1.1.1, port: 16384, route: x}\n", [
            "call-manager-fallback.multicast-moh.route: 'x' is not allowed; unknown key; known keys here:"
            " address, port, ttl"])

    def test_maxConferences(self):
        """
        C{max-conferences} is an integer from 0 to 64.
        """
        for value, shown in (("65", "65"), ("-1", "-1"), ("eight", "'eight'"), ("true", "True")):
            self.assertProblems(f"  max-conferences: {value}\n", [
                f"call-manager-fallback.max-conferences: {shown} is not allowed;"
                " expected a number of conferences from 0 to 64"])

    def test_conferenceSecure(self):
        """
        C{conference-secure} is a boolean.
        """
        self.assertProblems("  conference-secure: maybe\n", [
            "call-manager-fallback.conference-secure: 'maybe' is not allowed; expected true or false"])
