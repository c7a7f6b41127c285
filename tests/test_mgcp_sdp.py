"""
Tests for L{srst.mgcp.sdp}: full SDP from the call agent, simple SDP from
the gateway.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from srst.mgcp.messages import MgcpDecodeError, MgcpEncodeError
from srst.mgcp.sdp import SdpError, encodeSdp, parseSdp, simpleSdp

# mgcp.md 10.2: the MDCX remote descriptor, full SDP.
FULL = (
    "v=0\r\n"
    "o=- 25 0 IN IP4 10.1.1.40\r\n"
    "s=SIP Call\r\n"
    "c=IN IP4 10.1.1.40\r\n"
    "t=0 0\r\n"
    "m=audio 29632 RTP/AVP 0\r\n")

# mgcp.md 10.2: the gateway's CRCX answer, simple SDP.
SIMPLE = (
    "v=0\r\n"
    "c=IN IP4 10.1.1.22\r\n"
    "m=audio 16384 RTP/AVP 0\r\n")

# Several media sections, attributes, unknown lines, media-level c=.
RICH = (
    "v=0\r\n"
    "o=root 6012 6012 IN IP4 127.0.0.1\r\n"
    "s=session\r\n"
    "i=some information\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "b=AS:64\r\n"
    "t=0 0\r\n"
    "a=sendrecv\r\n"
    "m=video 0 RTP/AVP 31\r\n"
    "m=audio 20084 RTP/AVP 0 8 18 101\r\n"
    "c=IN IP4 192.0.2.7/127\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ptime:20\r\n"
    "m=image 5000/2 udptl t38\r\n")


VALID_LINES = [
    "o=- 25678 753849 IN IP4 128.96.41.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
    "m=audio 4000 RTP/AVP 0 8", "m=audio 4000/2 RTP/AVP 18", "a=rtpmap:0 PCMU/8000", "a=ptime:20",
    "a=sendrecv", "b=AS:64", "",
]
"""SDP lines that are fine after C{v=0}, in any order."""

BAD_LINES = ["v=0", "v=1", "c=IN IP6 ::1", "c=IN IP4", "c=ATM NSAP x", "m=audio 70000 RTP/AVP 0", "m=video x",
             "not sdp"]
"""SDP lines that are wrong or unsupported (or repeated, or misplaced)."""


@st.composite
def sdpTexts(draw):
    """
    C{v=0} (or something else), SDP lines in any order (mostly with an
    C{m=} and a C{c=} line) and perhaps one bad line, joined by CRLF or LF.
    """
    body = draw(st.lists(st.sampled_from(VALID_LINES), max_size=6))
    body += [line for line in ("m=audio 4000 RTP/AVP 0 8", "c=IN IP4 10.0.0.1") if draw(st.integers(0, 3))]
    lines = [draw(st.sampled_from(["v=0", "v=0", "v=0", "v=1", ""]))] + draw(st.permutations(body))
    if draw(st.booleans()):
        lines.insert(draw(st.integers(1, len(lines))), draw(st.sampled_from(BAD_LINES)))
    return draw(st.sampled_from(["\r\n", "\n"])).join(lines)


class ParseTests(SynchronousTestCase):
    """
    Parsing SDP bodies.
    """

    def test_full(self):
        """
        The full SDP of the worked example parses into its address, port and
        payload types, with origin and session name.
        """
        description = parseSdp(FULL)
        self.assertEqual((description.address, description.mediaPort,
                          description.payloadTypes),
                         ("10.1.1.40", 29632, (0,)))
        self.assertEqual(description.origin, "- 25 0 IN IP4 10.1.1.40")
        self.assertEqual(description.sessionName, "SIP Call")
        self.assertEqual(description.version, 0)
        self.assertEqual(encodeSdp(description), FULL)

    def test_simple(self):
        """
        Simple SDP (no o=, s=, t=) parses too.
        """
        description = parseSdp(SIMPLE)
        self.assertEqual((description.address, description.mediaPort,
                          description.payloadTypes),
                         ("10.1.1.22", 16384, (0,)))
        self.assertIsNone(description.origin)

    def test_rich(self):
        """
        Multiple media sections, media-level connection lines, attributes
        and unknown lines are kept; the first audio section is "the" audio.
        """
        description = parseSdp(RICH)
        self.assertEqual([m.media for m in description.media],
                         ["video", "audio", "image"])
        audio = description.audio
        self.assertEqual(audio.connectionAddress, "192.0.2.7")
        self.assertEqual(description.connectionAddress, "127.0.0.1")
        self.assertEqual(description.media[0].connectionAddress, "127.0.0.1")
        self.assertEqual(audio.payloadTypes, (0, 8, 18, 101))
        self.assertEqual(audio.rtpmaps, {0: "PCMU/8000",
                                         101: "telephone-event/8000"})
        self.assertEqual(audio.ptime, 20)
        self.assertEqual(audio.attribute("fmtp"), "101 0-15")
        self.assertIsNone(audio.attribute("rtcp"))
        self.assertEqual(description.attributes, (("sendrecv", None),))
        image = description.media[2]
        self.assertEqual((image.port, image.portCount, image.protocol,
                          image.formats, image.payloadTypes),
                         (5000, 2, "udptl", ("t38",), ()))
        self.assertEqual(encodeSdp(description), RICH)

    def test_lineFeeds(self):
        """
        Bare LF line ends and blank lines are accepted.
        """
        self.assertEqual(parseSdp(FULL.replace("\r\n", "\n") + "\n\n"),
                         parseSdp(FULL))

    def test_noAudio(self):
        """
        Without an audio section the audio views are empty.
        """
        description = parseSdp("v=0\nc=IN IP4 1.2.3.4\nm=video 5 RTP/AVP 31\n")
        self.assertIsNone(description.audio)
        self.assertIsNone(description.address)
        self.assertIsNone(description.mediaPort)
        self.assertEqual(description.payloadTypes, ())

    def test_errors(self):
        """
        Broken SDP raises SdpError 509; unsupported SDP raises 505.
        """
        broken = [
            "", "c=IN IP4 1.2.3.4\n", "v=0\n", "v=0\nV=0\n",
            "v=0\nc=IN IP4 1.2.3.4\nm=audio\n",
            "v=0\nc=IN IP4 1.2.3.4\nm=audio x RTP/AVP 0\n",
            "v=0\nc=IN IP4 1.2.3.4\nm=audio 70000 RTP/AVP 0\n",
            "v=0\nm=audio 5 RTP/AVP 0\n",
            "v=0\nc=IN IP4\nm=audio 5 RTP/AVP 0\n",
            "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 0\nv=0\n",
            "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 0\na=:x\n",
            "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 0\nbroken\n",
        ]
        for text in broken:
            error = self.assertRaises(SdpError, parseSdp, text)
            self.assertEqual(error.code, 509, text)
            self.assertIsInstance(error, MgcpDecodeError)
        unsupported = [
            "v=1\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 0\n",
            "v=0\nc=ATM NSAP 1\nm=audio 5 RTP/AVP 0\n",
            "v=0\nc=IN IPX 1\nm=audio 5 RTP/AVP 0\n",
        ]
        for text in unsupported:
            self.assertEqual(self.assertRaises(SdpError, parseSdp,
                                               text).code, 505, text)


class EncodeTests(SynchronousTestCase):
    """
    Building simple SDP answers.
    """

    def test_simpleAnswer(self):
        """
        simpleSdp builds the gateway's answer of the worked example.
        """
        self.assertEqual(encodeSdp(simpleSdp("10.1.1.22", 16384, [0])),
                         SIMPLE)

    def test_attributes(self):
        """
        Attributes given as text or pairs follow the m= line.
        """
        description = simpleSdp("10.1.1.22", 16386, [0, 101],
                                ["rtpmap:101 telephone-event/8000",
                                 ("ptime", "20"), ("sendrecv", None)])
        self.assertEqual(
            encodeSdp(description),
            SIMPLE.replace("16384 RTP/AVP 0", "16386 RTP/AVP 0 101")
            + "a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n"
            "a=sendrecv\r\n")
        self.assertEqual(description.audio.ptime, 20)

    def test_simplify(self):
        """
        Encoding a full SDP in simple form drops o=, s= and t=.
        """
        self.assertEqual(encodeSdp(parseSdp(FULL), simple=True),
                         SIMPLE.replace("10.1.1.22", "10.1.1.40").replace(
                             "16384", "29632"))

    def test_invalid(self):
        """
        Impossible answers raise MgcpEncodeError.
        """
        self.assertRaises(MgcpEncodeError, simpleSdp, "1.2.3.4", 70000, [0])
        self.assertRaises(MgcpEncodeError, simpleSdp, "1.2.3.4", 5, [])
        self.assertRaises(MgcpEncodeError, simpleSdp, "1.2.3.4", 5, [128])
        self.assertRaises(MgcpEncodeError, simpleSdp, "1.2.3.4", 5, [0],
                          ["a\r\nb"])
        self.assertRaises(MgcpEncodeError, simpleSdp, "1.2.3.4", 5, [0],
                          addressType="IPX")

    @settings(max_examples=200, deadline=None)
    @given(st.ip_addresses(v=4).map(str), st.integers(0, 65535),
           st.lists(st.integers(0, 127), min_size=1, max_size=5))
    def test_roundTrip(self, address, port, payloadTypes):
        """
        Any simple answer parses back to the same address, port and types.
        """
        description = parseSdp(encodeSdp(simpleSdp(address, port,
                                                   payloadTypes)))
        self.assertEqual((description.address, description.mediaPort,
                          description.payloadTypes),
                         (address, port, tuple(payloadTypes)))

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.text(max_size=200), sdpTexts()))
    def test_arbitraryText(self, text):
        """
        Arbitrary text (and lines of SDP, valid or not, in any order)
        either raises SdpError with code 509 or 505 and a reason, or parses
        to a description with at least one m= line that encodes to text
        parsing back equal.
        """
        try:
            description = parseSdp(text)
        except SdpError as error:
            self.assertIn(error.code, (505, 509))
            self.assertTrue(error.reason)
            self.assertEqual(str(error), "MGCP decode error %03d: %s" % (error.code, error.reason))
            return
        self.assertTrue(description.media)
        self.assertEqual(parseSdp(encodeSdp(description)), description)
