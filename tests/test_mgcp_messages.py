"""
Tests for L{srst.mgcp.messages}: the MGCP command/response codec, parameter
typing, piggy-backing, error codes and digit maps.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from srst.mgcp import constants
from srst.mgcp.constants import (
    ConnectionMode,
    EventAction,
    QuarantineHandling,
    ResponseCode,
    RestartMethod,
    Verb,
)
from srst.mgcp.messages import (
    Command,
    ConnectionParameters,
    DigitMap,
    EmbeddedRequest,
    EventName,
    MatchResult,
    MgcpDecodeError,
    MgcpEncodeError,
    NotifiedEntity,
    ObservedEvent,
    OptionList,
    Parameter,
    Reason,
    RequestedAction,
    RequestedEvent,
    Response,
    ResponseAck,
    SignalRequest,
    decodeMessage,
    encodeDatagram,
    encodeMessage,
    errorResponse,
    parameter,
    parseDigitMap,
    parseEventName,
    parseObservedEvents,
    parseRange,
    parseRequestedEvents,
    parseSignalRequests,
    splitDatagram,
)
from srst.mgcp.sdp import SdpError, simpleSdp

EP = "aaln/S1/SU0/0@gw1.example.com"

# The worked examples of mgcp.md section 10, one message each ("..."
# abbreviations written out).  Lines are joined with CRLF by wire().
EXAMPLES = {
    "rsip": ["RSIP 1 *@gw1.example.com MGCP 0.1", "RM: restart"],
    "rsip200": ["200 1 OK"],
    "auep": ["AUEP 1001 %s MGCP 0.1" % (EP,), "F: A"],
    "auep200": [
        "200 1001 OK",
        "A: a:PCMU;PCMA;G729, p:10-30, e:on, s:off, v:L;G;D;R;SST, "
        "m:sendonly;recvonly;sendrecv;inactive;loopback;conttest;netwloop;"
        "netwtest"],
    "rqnt1": ["RQNT 1002 %s MGCP 0.1" % (EP,), "X: 1", "R: L/hd",
              "Q: process,loop"],
    "rqnt1ok": ["200 1002 OK"],
    "ntfyHd": ["NTFY 2 %s MGCP 0.1" % (EP,), "N: 10.1.1.13:2427", "X: 1",
               "O: L/hd"],
    "ntfyHdOk": ["200 2 OK"],
    "rqntDial": ["RQNT 1003 %s MGCP 0.1" % (EP,), "X: 2",
                 "R: L/hu,D/[0-9ABCD*#]", "S: L/dl", "Q: process,loop"],
    "ntfyDigit": ["NTFY 3 %s MGCP 0.1" % (EP,), "N: 10.1.1.13:2427",
                  "X: 2", "O: D/2"],
    "rqntDigits": ["RQNT 1004 %s MGCP 0.1" % (EP,), "X: 3",
                   "R: L/hu,D/[0-9ABCD*#]", "Q: process,loop"],
    "crcx": ["CRCX 1010 %s MGCP 0.1" % (EP,),
             "C: A0000000010000010000000F", "X: 7",
             "L: p:20, a:PCMU, s:off, t:b8", "M: recvonly", "R: L/hu",
             "Q: process,loop"],
    "crcx200": ["200 1010 OK", "I: 1A", "", "v=0", "c=IN IP4 10.1.1.22",
                "m=audio 16384 RTP/AVP 0"],
    "rqntRingback": ["RQNT 1011 %s MGCP 0.1" % (EP,), "X: 8", "R: L/hu",
                     "S: G/rt"],
    "mdcx": ["MDCX 1012 %s MGCP 0.1" % (EP,),
             "C: A0000000010000010000000F", "I: 1A", "X: 9",
             "L: p:20, a:PCMU, s:off, t:b8", "M: sendrecv", "R: L/hu", "S:",
             "Q: process,loop", "", "v=0", "o=- 25 0 IN IP4 10.1.1.40",
             "s=SIP Call", "c=IN IP4 10.1.1.40", "t=0 0",
             "m=audio 29632 RTP/AVP 0"],
    "ntfyHu": ["NTFY 8 %s MGCP 0.1" % (EP,), "N: 10.1.1.13:2427", "X: 9",
               "O: L/hu"],
    "dlcx": ["DLCX 1013 %s MGCP 0.1" % (EP,),
             "C: A0000000010000010000000F", "I: 1A", "X: 10", "R: L/hd",
             "S:"],
    "dlcx250": ["250 1013 OK",
                "P: PS=1390, OS=222400, PR=1375, OR=220000, PL=0, JI=0, "
                "LA=0"],
    "crcxIn": ["CRCX 1020 %s MGCP 0.1" % (EP,),
               "C: A0000000010000020000001B", "X: 20",
               "L: p:20, a:PCMU, s:off, t:b8", "M: recvonly", "R: L/hd",
               "S: L/rg", "Q: process,loop"],
    "mdcxIn": ["MDCX 1021 %s MGCP 0.1" % (EP,),
               "C: A0000000010000020000001B", "I: 1B", "X: 21",
               "M: sendrecv", "R: L/hu", "Q: process,loop", "", "v=0",
               "c=IN IP4 10.1.1.40", "m=audio 25616 RTP/AVP 0"],
    "dlcxIn": ["DLCX 1022 %s MGCP 0.1" % (EP,),
               "C: A0000000010000020000001B", "I: 1B", "X: 22", "R: L/hu",
               "S: L/ro"],
    "asteriskRqnt": ["RQNT 6 aaln/S1/SU0/0@gw1 MGCP 1.0", "X: 63bbc7e1",
                     "R: L/hu(N),L/hf(N),D/[0-9#*](N)", "S: L/dl"],
    "asteriskCrcx": ["CRCX 5 aaln/S1/SU0/0@gw1 MGCP 1.0",
                     "C: 5a7b896f72b2f8a3", "L: e:on, s:off, p:20, a:PCMU",
                     "M: sendrecv", "X: 72b2f8a3", "", "v=0",
                     "o=root 6012 6012 IN IP4 127.0.0.1", "s=session",
                     "c=IN IP4 127.0.0.1", "t=0 0",
                     "m=audio 20084 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"],
    "asteriskAck": ["000 5 OK"],
    "auepEs": ["200 4 OK", "ES: L/hu"],
    "keepalive": ["NTFY 51 *@gw1.example.com MGCP 0.1", "N: 10.1.1.13:2427",
                  "X: 0", "O:"],
    "gatewayDlcx": ["DLCX 12 %s MGCP 0.1" % (EP,),
                    "C: A0000000010000010000000F", "I: 1A",
                    "E: 902 Loss of lower layer connectivity",
                    "P: PS=10, OS=1600, PR=0, OR=0, PL=0, JI=0, LA=0"],
    "rsipDisconnected": ["RSIP 7 *@gw1.example.com MGCP 0.1",
                         "RM: disconnected", "RD: 45"],
    "epcf": ["EPCF 30 aaln/*@gw1.example.com MGCP 0.1", "B: e:mu"],
    "aucx": ["AUCX 31 %s MGCP 0.1" % (EP,), "I: 1A", "F: C,N,L,M,RC,LC,P"],
    "aucx200": ["200 31 OK", "C: A0000000010000010000000F",
                "N: ca@10.1.1.13:2427", "L: p:20, a:PCMU", "M: sendrecv",
                "P: PS=5, OS=800, PR=5, OR=800, PL=0, JI=0, LA=0", "",
                "v=0", "c=IN IP4 10.1.1.22", "m=audio 16384 RTP/AVP 0", "",
                "v=0", "c=IN IP4 10.1.1.40", "m=audio 29632 RTP/AVP 0"],
    "auepFull": ["200 40 OK", "I: 1A,1B", "X: 9", "R: L/hu",
                 "D: (0T|00T|[1-7]xxx|8xxxxxxx|#xxxxxxx|*xx|91xxxxxxxxxx|"
                 "9011x.T)", "T: L/hf", "PL: L:1,D:0,G:0,R:0", "MD: 1500",
                 "ES: L/hu", "RM: restart", "RD: 0", "E: 000",
                 "Z: aaln/S1/SU0/0@gw1", "Z: aaln/S1/SU0/1@gw1",
                 "A: a:PCMU, p:20", "A: a:G729, p:10-30", "K: 6234-6255, 6257",
                 "I2: 2C", "Z2: aaln/S1/SU1/0@gw1", "X-CISCO-FOO: bar"],
    "profile": ["RQNT 9 aaln/1@[10.0.0.1] MGCP 1.0 NCS 1.0", "X: 1", "R:"],
    "package": ["800 77 /L Package specific thing"],
    "mesg": ["MESG 78 aaln/1@gw MGCP 1.0"],
}


def wire(lines, ending="\r\n"):
    """
    Join example lines into message bytes.
    """
    return (ending.join(lines) + ending).encode("utf-8")


class ExampleTests(SynchronousTestCase):
    """
    The worked examples of mgcp.md section 10 decode and re-encode exactly.
    """

    def test_roundTrip(self):
        """
        Every example decodes and encodes back to the identical bytes.
        """
        for name, lines in EXAMPLES.items():
            data = wire(lines)
            message = decodeMessage(data)
            self.assertEqual(encodeMessage(message), data, name)
            self.assertEqual(decodeMessage(encodeMessage(message)), message)

    def test_bareLineFeed(self):
        """
        Bare LF line ends decode to the same messages as CRLF, and encode
        back with CRLF.
        """
        for name, lines in EXAMPLES.items():
            message = decodeMessage(wire(lines, "\n"))
            self.assertEqual(message, decodeMessage(wire(lines)), name)
            self.assertEqual(encodeMessage(message), wire(lines))

    def test_everyVerb(self):
        """
        The examples cover every verb of the RFC (and MESG); each decodes to
        a Command with that verb.
        """
        verbs = set()
        for lines in EXAMPLES.values():
            message = decodeMessage(wire(lines))
            if isinstance(message, Command):
                verbs.add(message.verb)
        self.assertEqual(verbs, {verb.value for verb in Verb})

    def test_crcxFields(self):
        """
        A CRCX decodes into its header fields and typed parameters.
        """
        command = decodeMessage(wire(EXAMPLES["crcx"]))
        self.assertEqual(
            (command.verb, command.transactionId, command.endpoint,
             command.version, command.profile),
            ("CRCX", 1010, EP, "MGCP 0.1", None))
        self.assertEqual(command.get("C"), "A0000000010000010000000F")
        self.assertEqual(command.get("X"), "7")
        self.assertIs(command.get("M"), ConnectionMode.RECVONLY)
        options = command.get("L")
        self.assertEqual(options.get("a"), "PCMU")
        self.assertEqual(options.get("T"), "b8")
        self.assertEqual(parseRange(options.get("p")), (20, 20))
        self.assertEqual(command.get("Q"), (QuarantineHandling.PROCESS,
                                            QuarantineHandling.LOOP))
        self.assertEqual(command.get("R"), (RequestedEvent(
            EventName("L", "hu")),))
        self.assertIsNone(command.get("Z"))
        self.assertEqual(command.sdp, ())

    def test_responseFields(self):
        """
        Responses decode code, id, commentary, package and SDP bodies.
        """
        response = decodeMessage(wire(EXAMPLES["crcx200"]))
        self.assertEqual((response.code, response.transactionId,
                          response.commentary, response.package),
                         (200, 1010, "OK", None))
        self.assertEqual(response.get("I"), ("1A",))
        self.assertEqual(response.sdp[0].address, "10.1.1.22")
        self.assertEqual(response.sdp[0].mediaPort, 16384)
        self.assertFalse(response.isProvisional)
        package = decodeMessage(wire(EXAMPLES["package"]))
        self.assertEqual((package.code, package.package, package.commentary),
                         (800, "L", "Package specific thing"))
        ack = decodeMessage(wire(EXAMPLES["asteriskAck"]))
        self.assertEqual((ack.code, ack.transactionId), (0, 5))

    def test_aucxTwoBodies(self):
        """
        An AUCX response carries the local and then the remote descriptor.
        """
        response = decodeMessage(wire(EXAMPLES["aucx200"]))
        self.assertEqual([body.address for body in response.sdp],
                         ["10.1.1.22", "10.1.1.40"])
        self.assertEqual(response.get("N"),
                         NotifiedEntity("ca", "10.1.1.13", 2427))
        self.assertEqual(decodeMessage(wire(EXAMPLES["aucx"])).get("F"),
                         ("C", "N", "L", "M", "RC", "LC", "P"))

    def test_typedAuditParameters(self):
        """
        The audit parameters decode into typed values; A and Z may repeat.
        """
        response = decodeMessage(wire(EXAMPLES["auepFull"]))
        self.assertEqual(response.get("I"), ("1A", "1B"))
        self.assertEqual(response.get("PL"),
                         (("L", 1), ("D", 0), ("G", 0), ("R", 0)))
        self.assertEqual(response.get("MD"), 1500)
        self.assertEqual(response.get("RD"), 0)
        self.assertIs(response.get("RM"), RestartMethod.RESTART)
        self.assertEqual(response.get("E"), Reason(0))
        self.assertEqual([str(e.event) for e in response.get("ES")],
                         ["L/hu"])
        self.assertEqual(response.getAll("Z"), ["aaln/S1/SU0/0@gw1",
                                                "aaln/S1/SU0/1@gw1"])
        self.assertEqual([a.get("a") for a in response.getAll("A")],
                         ["PCMU", "G729"])
        self.assertIn(6240, response.get("K"))
        self.assertIn(6257, response.get("K"))
        self.assertNotIn(6256, response.get("K"))
        self.assertEqual(response.get("I2"), "2C")
        self.assertEqual(response.get("X-CISCO-FOO"), "bar")
        self.assertIsInstance(response.get("D"), DigitMap)
        self.assertEqual(response.get("T")[0].event, EventName("L", "hf"))
        capabilities = decodeMessage(wire(EXAMPLES["auep200"])).get("A")
        self.assertEqual(capabilities.getList("a"), ("PCMU", "PCMA", "G729"))
        self.assertEqual(parseRange(capabilities.get("p")), (10, 30))

    def test_statistics(self):
        """
        The P: statistics of a 250 response decode to integers.
        """
        stats = decodeMessage(wire(EXAMPLES["dlcx250"])).get("P")
        self.assertEqual((stats.get("PS"), stats.get("os"), stats.get("LA")),
                         (1390, 222400, 0))
        self.assertIsNone(stats.get("XX"))
        extended = decodeMessage(b"250 1 OK\nP: PS=1, X-CISCO=a b\n")
        self.assertEqual(extended.get("P").get("X-CISCO"), "a b")

    def test_emptyValues(self):
        """
        Empty S:, O:, R: and K: lines decode to empty values and stay in the
        message.
        """
        keepalive = decodeMessage(wire(EXAMPLES["keepalive"]))
        self.assertEqual(keepalive.get("O"), ())
        self.assertTrue(keepalive.has("O"))
        self.assertFalse(keepalive.has("S"))
        mdcx = decodeMessage(wire(EXAMPLES["mdcx"]))
        self.assertEqual(mdcx.get("S"), ())
        self.assertEqual(mdcx.raw("S"), "")
        final = decodeMessage(b"200 9 OK\r\nK:\r\n")
        self.assertEqual(final.get("K"), ResponseAck(()))
        self.assertEqual(encodeMessage(final), b"200 9 OK\r\nK:\r\n")

    def test_profileAndLiteralDomain(self):
        """
        A profile after the version and an IP-literal domain are kept.
        """
        command = decodeMessage(wire(EXAMPLES["profile"]))
        self.assertEqual((command.version, command.profile, command.endpoint),
                         ("MGCP 1.0", "NCS 1.0", "aaln/1@[10.0.0.1]"))


class CaseAndWhitespaceTests(SynchronousTestCase):
    """
    Input is case-insensitive and tolerant of blanks; output is canonical.
    """

    def test_caseInsensitive(self):
        """
        Lower-case verbs, names and keywords decode like upper-case ones;
        the endpoint keeps its case.
        """
        command = decodeMessage(
            b"crcx 5 AALN/s1/SU0/0@GW1 mgcp 0.1\r\nm: SendRecv\r\n"
            b"q: Process\r\nr: l/HD(n)\r\nx-foo: 1\r\n")
        self.assertEqual(command.verb, "CRCX")
        self.assertEqual(command.version, "MGCP 0.1")
        self.assertEqual(command.endpoint, "AALN/s1/SU0/0@GW1")
        self.assertIs(command.get("M"), ConnectionMode.SENDRECV)
        self.assertEqual(command.get("q"), (QuarantineHandling.PROCESS,))
        event = command.get("R")[0]
        self.assertEqual(event.event, EventName("L", "hd"))
        self.assertEqual(event.actions[0].action, EventAction.NOTIFY)
        self.assertEqual(command.raw("X-FOO"), "1")
        self.assertEqual(encodeMessage(command),
                         b"CRCX 5 AALN/s1/SU0/0@GW1 MGCP 0.1\r\nM: SendRecv"
                         b"\r\nQ: Process\r\nR: l/HD(n)\r\nX-FOO: 1\r\n")

    def test_blanks(self):
        """
        Several blanks between header tokens and none or many after a colon
        are accepted; encoding uses one space.
        """
        message = decodeMessage(b"  \r\nRQNT\t 7  ep@gw   MGCP 1.0 \r\n"
                                b"X:1\r\nR:    L/hd  \r\n")
        self.assertEqual(encodeMessage(message),
                         b"RQNT 7 ep@gw MGCP 1.0\r\nX: 1\r\nR: L/hd\r\n")

    def test_leadingZeros(self):
        """
        Transaction ids with leading zeros compare numerically.
        """
        self.assertEqual(decodeMessage(b"200 0042 OK\n").transactionId, 42)


class PiggybackTests(SynchronousTestCase):
    """
    Several messages in one datagram, separated by "." lines.
    """

    def test_split(self):
        """
        A response piggy-backed with a command splits into both, in order.
        """
        datagram = wire(EXAMPLES["rqnt1ok"]) + b".\r\n" + wire(
            EXAMPLES["rqntDial"])
        parts = splitDatagram(datagram)
        self.assertEqual([decodeMessage(p) for p in parts],
                         [decodeMessage(wire(EXAMPLES["rqnt1ok"])),
                          decodeMessage(wire(EXAMPLES["rqntDial"]))])

    def test_encodeDatagram(self):
        """
        encodeDatagram joins messages with "." lines and splits back.
        """
        messages = [decodeMessage(wire(EXAMPLES[name]))
                    for name in ("rsip", "ntfyHd", "crcx200")]
        datagram = encodeDatagram(messages)
        self.assertEqual(datagram.count(b"\r\n.\r\n"), 2)
        self.assertEqual([decodeMessage(p) for p in splitDatagram(datagram)],
                         messages)

    def test_singleAndBlank(self):
        """
        A datagram without dots is one message; LF dot lines, a trailing dot
        and blank parts are tolerated.
        """
        self.assertEqual(splitDatagram(b"200 1 OK\r\n"), [b"200 1 OK\r\n"])
        parts = splitDatagram(b"200 1 OK\n.\n\n.\n200 2 OK\n.\n")
        self.assertEqual([decodeMessage(p).transactionId for p in parts],
                         [1, 2])
        self.assertEqual(splitDatagram(b""), [])

    def test_emptyDatagram(self):
        """
        encodeDatagram refuses an empty message list.
        """
        self.assertRaises(MgcpEncodeError, encodeDatagram, [])

    def test_oversizedDatagram(self):
        """
        A datagram over 4096 bytes is refused with 510.
        """
        data = b"200 1 OK\r\nX-A: " + b"a" * 4096 + b"\r\n"
        error = self.assertRaises(MgcpDecodeError, splitDatagram, data)
        self.assertEqual(error.code, 510)
        self.assertEqual(error.transactionId, 1)


class DecodeErrorTests(SynchronousTestCase):
    """
    Every malformed input raises MgcpDecodeError with the code to answer
    with and the transaction id when it could be read.
    """

    def assertDecodeError(self, data, code, transactionId, parameter=None):
        """
        Decode C{data} and check the error's code and transaction id.
        """
        error = self.assertRaises(MgcpDecodeError, decodeMessage, data)
        self.assertEqual((error.code, error.transactionId),
                         (code, transactionId), str(error))
        if parameter is not None:
            self.assertEqual(error.parameter, parameter)
        self.assertTrue(str(error).startswith("MGCP decode error %03d"
                                              % (code,)))
        return error

    def test_unknownVerb(self):
        """
        An unknown verb is 504 with the transaction id.
        """
        error = self.assertDecodeError(b"FOOO 12 ep@gw MGCP 1.0\r\n", 504, 12)
        self.assertFalse(error.isResponse)
        self.assertDecodeError(b"FOOBAR 12 ep@gw MGCP 1.0\r\n", 504, 12)

    def test_experimentalVerb(self):
        """
        An experimental X verb decodes; the gateway decides what to do.
        """
        self.assertEqual(decodeMessage(b"XFOO 3 ep@gw MGCP 1.0\n").verb,
                         "XFOO")

    def test_badVersion(self):
        """
        Another protocol or a malformed version number is 528.
        """
        self.assertDecodeError(b"RQNT 12 ep@gw SGCP 1.0\r\n", 528, 12)
        self.assertDecodeError(b"RQNT 12 ep@gw MGCP one\r\n", 528, 12)

    def test_protocolErrors(self):
        """
        Grammar violations are 510, with the id when it was readable.
        """
        cases = [
            (b"", None), (b"\r\n\r\n", None), (b"RQNT\r\n", None),
            (b"RQNT x ep@gw MGCP 1.0\r\n", None),
            (b"RQNT 0 ep@gw MGCP 1.0\r\n", None),
            (b"RQNT 1234567890 ep@gw MGCP 1.0\r\n", None),
            (b"RQNT 5 ep@gw\r\n", 5),
            (b"RQNT 5 nodomain MGCP 1.0\r\n", 5),
            (b"R;NT 5 ep@gw MGCP 1.0\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nX 1\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nX: 1\r\nX: 2\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nX: zz\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nC: " + b"1" * 33 + b"\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nR: L/hd(N\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nR: L/hd,,L/hu\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nR: L/hd(N)x\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nR: L/hd()\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nS: L/ci(a)(b)\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nS: /rg\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nD: (12|[9-1]x)\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nD: (1.|..)\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nD: (12\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nD: (1&)\r\n", 5),
            (b"200 5 OK\r\nK: 10-2\r\n", 5),
            (b"200 5 OK\r\nK: 1-x\r\n", 5),
            (b"200 5 OK\r\nN: ca@host:99999\r\n", 5),
            (b"200 5 OK\r\nN: @host\r\n", 5),
            (b"200 5 OK\r\nE: 90 bad\r\n", 5),
            (b"200 5 OK\r\nMD: -1\r\n", 5),
            (b"200 5 OK\r\nRD: \xd9\xa1\r\n", 5),
            (b"200 5 OK\r\nP: PS=x\r\n", 5),
            (b"200 5 OK\r\nP: PS\r\n", 5),
            (b"200 5 OK\r\nL: p20\r\n", 5),
            (b"200 5 OK\r\nPL: L\r\n", 5),
            (b"200 5 OK\r\nF: A B\r\n", 5),
            (b"200 5 OK\r\nZ: nodomain\r\n", 5),
            (b"20 5 OK\r\n", 5), (b"2000 5 OK\r\n", 5),
            (b"200 5 / OK\r\n", 5),
            (b"200 5 OK\r\n\xff\xfe\r\n", 5),
            (b"\xff 5\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\r\nX: 1\x00\r\n", 5),
            (b"RQNT 5 ep@gw MGCP 1.0\rX: 1\r\n", 5),
        ]
        for data, transactionId in cases:
            self.assertDecodeError(data, 510, transactionId)

    def test_responseErrorsAreNotAnswered(self):
        """
        A bad response carries isResponse so the gateway does not answer it.
        """
        error = self.assertDecodeError(b"200 5 OK\r\nK: 10-2\r\n", 510, 5, "K")
        self.assertTrue(error.isResponse)
        self.assertIsNone(errorResponse(error))

    def test_unsupportedParameter(self):
        """
        An unknown non-extension parameter is 539, naming the parameter.
        """
        self.assertDecodeError(b"RQNT 5 ep@gw MGCP 1.0\r\nW: 1\r\n", 539, 5,
                               "W")
        self.assertDecodeError(b"AUCX 5 ep@gw MGCP 1.0\r\nRC: 1\r\n", 539, 5,
                               "RC")

    def test_criticalExtension(self):
        """
        An unknown X+ extension is 511 unless the receiver knows it; X-
        extensions are always accepted.
        """
        data = b"RQNT 5 ep@gw MGCP 1.0\r\nX+Foo: 1\r\nX-Bar: 2\r\n"
        self.assertDecodeError(data, 511, 5, "X+FOO")
        message = decodeMessage(data, knownExtensions=frozenset(["X+FOO"]))
        self.assertEqual((message.get("X+FOO"), message.get("x-bar")),
                         ("1", "2"))

    def test_specificCodes(self):
        """
        Bad connection modes, quarantine keywords, actions and restart
        methods carry their specific codes.
        """
        base = b"CRCX 6 ep@gw MGCP 1.0\r\n"
        self.assertDecodeError(base + b"M: bogus\r\n", 517, 6, "M")
        self.assertDecodeError(base + b"Q: forever\r\n", 508, 6, "Q")
        self.assertDecodeError(base + b"R: L/hd(Z)\r\n", 523, 6, "R")
        self.assertDecodeError(base + b"RM: sometime\r\n", 536, 6, "RM")
        self.assertEqual(decodeMessage(base + b"M: X/mode\r\n").get("M"),
                         "X/mode")

    def test_sdpErrors(self):
        """
        A malformed body is 509 and an unsupported one 505, as SdpError.
        """
        base = b"CRCX 6 ep@gw MGCP 1.0\r\nM: sendrecv\r\n\r\n"
        error = self.assertDecodeError(base + b"c=IN IP4 1.2.3.4\r\n", 509, 6)
        self.assertIsInstance(error, SdpError)
        self.assertDecodeError(base + b"v=0\r\nc=ATM NSAP x\r\n"
                               b"m=audio 1 RTP/AVP 0\r\n", 505, 6)

    def test_oversized(self):
        """
        A message over 4096 bytes is 510.
        """
        data = b"RQNT 9 ep@gw MGCP 1.0\r\nX-A: " + b"a" * 4096 + b"\r\n"
        self.assertDecodeError(data, 510, 9)

    def test_errorResponse(self):
        """
        errorResponse answers a bad command with "<code> <id> <text>" and
        drops messages without a readable id.
        """
        error = self.assertRaises(MgcpDecodeError, decodeMessage,
                                  b"FOOO 12 ep@gw MGCP 1.0\r\n")
        response = errorResponse(error)
        self.assertEqual((response.code, response.transactionId),
                         (504, 12))
        self.assertTrue(encodeMessage(response).startswith(
            b"504 12 Unknown or unsupported command: "))
        error = self.assertRaises(MgcpDecodeError, decodeMessage, b"hello")
        self.assertIsNone(errorResponse(error))


class EncodeTests(SynchronousTestCase):
    """
    Building messages from typed values.
    """

    def test_buildCommand(self):
        """
        A command built from typed values encodes to the CCM-style text and
        decodes back to an equal command.
        """
        command = Command(
            "rqnt", 1003, EP, "MGCP 0.1",
            parameters=[
                ("X", "2"),
                ("R", (RequestedEvent(EventName("L", "hu")),
                       RequestedEvent(EventName("D", "[0-9ABCD*#]")))),
                ("S", (SignalRequest(EventName("L", "dl")),)),
                ("Q", (QuarantineHandling.PROCESS, QuarantineHandling.LOOP)),
            ])
        self.assertEqual(encodeMessage(command), wire(EXAMPLES["rqntDial"]))
        self.assertEqual(decodeMessage(encodeMessage(command)), command)

    def test_buildResponse(self):
        """
        A CRCX answer with a connection id and simple SDP encodes as in the
        worked example.
        """
        response = Response(200, 1010, "OK",
                            parameters=[parameter("I", ("1A",))],
                            sdp=[simpleSdp("10.1.1.22", 16384, [0])])
        self.assertEqual(encodeMessage(response), wire(EXAMPLES["crcx200"]))

    def test_typedValues(self):
        """
        Every typed value encodes to text that parses back to it.
        """
        values = {
            "K": ResponseAck(((1, 3), (7, 7))),
            "L": OptionList((("p", "20"), ("a", "PCMU"))),
            "P": ConnectionParameters((("PS", "1"), ("OS", "2"))),
            "N": NotifiedEntity(None, "10.1.1.13", 2427),
            "E": Reason(900, "Endpoint malfunctioning"),
            "M": ConnectionMode.INACTIVE,
            "RM": RestartMethod.GRACEFUL,
            "RD": 30,
            "PL": (("L", 1), ("D", 0)),
            "F": ("A", "ES"),
            "I": ("1A", "2B"),
            "D": parseDigitMap("(xxxx|9x.T)"),
            "R": (RequestedEvent(EventName("L", "hd"), (RequestedAction(
                EventAction.NOTIFY),)),),
        }
        for name, value in values.items():
            line = parameter(name, value)
            self.assertEqual(line.typed, value, name)
        self.assertEqual(parameter("E", Reason(0)).value, "000")
        self.assertEqual(parameter("D", None).value, "")

    def test_normalisedText(self):
        """
        Values and commentary are stored without surrounding blanks, and an
        empty commentary is no commentary, as decoding gives them.
        """
        self.assertEqual(Parameter("x", " 1 "), Parameter("X", "1"))
        response = Response(200, 1, "  ")
        self.assertIsNone(response.commentary)
        self.assertEqual(encodeMessage(response), b"200 1\r\n")
        self.assertEqual(decodeMessage(encodeMessage(response)), response)

    def test_invalidValues(self):
        """
        Values that cannot go on the wire raise MgcpEncodeError.
        """
        self.assertRaises(MgcpEncodeError, Command, "RQNT", 0, EP, "MGCP 1.0")
        self.assertRaises(MgcpEncodeError, Command, "RQNT", 10 ** 9, EP,
                          "MGCP 1.0")
        self.assertRaises(MgcpEncodeError, Command, "RQ", 1, EP, "MGCP 1.0")
        self.assertRaises(MgcpEncodeError, Command, "RQNT", 1, "noat",
                          "MGCP 1.0")
        self.assertRaises(MgcpEncodeError, Command, "RQNT", 1, EP, "1.0")
        self.assertRaises(MgcpEncodeError, Command, "RQNT", 1, EP,
                          "MGCP 1.0", sdp=["v=0"])
        self.assertRaises(MgcpEncodeError, Response, 1000, 1)
        self.assertRaises(MgcpEncodeError, Response, 200, 1, "a\r\nb")
        self.assertRaises(MgcpEncodeError, Parameter, "X", "1\r\nY: 2")
        self.assertRaises(MgcpEncodeError, Parameter, "X:", "1")
        self.assertRaises(MgcpEncodeError, parameter, "K", object())
        self.assertRaises(MgcpEncodeError, parameter, "R", (
            RequestedEvent(EventName("L", "hd"), (), "x=1"),))
        self.assertRaises(MgcpEncodeError, Command, "RQNT", 1, "a\x01@b",
                          "MGCP 1.0")
        error = MgcpEncodeError("why")
        self.assertEqual(str(error), "cannot encode MGCP: why")


class EventTests(SynchronousTestCase):
    """
    The event grammar of R:, S: and O: (mgcp.md 7.1, 7.2).
    """

    def test_eventNames(self):
        """
        Event names split into package, name and connection and compare
        case-insensitively.
        """
        self.assertEqual(parseEventName("R/qa@1A"),
                         EventName("r", "QA", "1a"))
        self.assertEqual(str(parseEventName("R/qa@1A")), "R/qa@1A")
        self.assertEqual(parseEventName("hu"), EventName(None, "hu"))
        self.assertEqual(parseEventName("D/[0-9#*]").name, "[0-9#*]")
        for bad in ("L/hd@", "/hd", "L/", "L/h d", "L/hd@a,b"):
            error = self.assertRaises(MgcpDecodeError, parseEventName, bad)
            self.assertEqual(error.code, 510, bad)
            self.assertIn(repr(bad), str(error))

    def test_embeddedRequest(self):
        """
        An E action carries a new R, S and digit map, and re-encodes.
        """
        text = "L/hd(A,E(R(L/hu(N)),S(L/dl),D((xx|9x.T))))(p=1)"
        (event,) = parseRequestedEvents(text)
        self.assertEqual(event.parameters, "p=1")
        accumulate, embedded = event.actions
        self.assertEqual(accumulate, RequestedAction(EventAction.ACCUMULATE))
        request = embedded.embedded
        self.assertEqual(request.signalRequests,
                         (SignalRequest(EventName("L", "dl")),))
        self.assertEqual(request.digitMap.match("12").result,
                         MatchResult.FULL)
        self.assertEqual(event.encode(), text)
        self.assertEqual(
            RequestedAction(EventAction.EMBEDDED).encode(), "E()")
        self.assertEqual(EmbeddedRequest(digitMap=parseDigitMap("x")).encode(),
                         "D((x))")

    def test_embeddedErrors(self):
        """
        Malformed actions and embedded requests are 510.
        """
        for bad in ("L/hd(E)", "L/hd(E(R(L/hu),R(L/hd)))", "L/hd(E(Q(x)))",
                    "L/hd(E(R))", "L/hd(N(x))", "L/hd(N)(a)(b)"):
            error = self.assertRaises(MgcpDecodeError, parseRequestedEvents,
                                      bad)
            self.assertEqual(error.code, 510, bad)

    def test_observedAndSignals(self):
        """
        Observed events and signals keep their parameters and re-encode.
        """
        observed = parseObservedEvents("L/oc(x=1), D/91234")
        self.assertEqual(observed[0], ObservedEvent(EventName("L", "oc"),
                                                    ("x=1",)))
        self.assertEqual(observed[1].encode(), "D/91234")
        self.assertEqual(observed[0].encode(), "L/oc(x=1)")
        signals = parseSignalRequests('L/ci(10/14/17/26,"Doe, J",x), L/rg')
        self.assertEqual(signals[0].parameters,
                         ("10/14/17/26", '"Doe, J"', "x"))
        self.assertEqual(signals[0].encode(), 'L/ci(10/14/17/26,"Doe, J",x)')
        error = self.assertRaises(MgcpDecodeError, parseSignalRequests,
                                  'L/ci("x)')
        self.assertEqual(error.code, 510)


class ConstantsTests(SynchronousTestCase):
    """
    Response code texts and keyword lookups.
    """

    def test_responseTexts(self):
        """
        Every response code has its section 8 text; unknown and 8xx codes
        get a generic one.
        """
        for code in ResponseCode:
            self.assertTrue(code.text)
        self.assertEqual(ResponseCode.PROTOCOL_ERROR.text, "Protocol error")
        self.assertEqual(constants.responseText(850), "Package specific")
        self.assertEqual(constants.responseText(299), "Response")
        self.assertEqual(set(constants.REASON_TEXTS),
                         {int(c) for c in constants.ReasonCode})

    def test_lookup(self):
        """
        Keyword lookup ignores case and returns None for unknown words.
        """
        self.assertIs(Verb.lookup("crcx"), Verb.CRCX)
        self.assertIs(RestartMethod.lookup("Cancel-Graceful"),
                      RestartMethod.CANCEL_GRACEFUL)
        self.assertIsNone(ConnectionMode.lookup("duplex"))


class DigitMapTests(SynchronousTestCase):
    """
    Digit map matching (mgcp.md 7.3).
    """

    MAP = "(0T|00T|[1-7]xxx|8xxxxxxx|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)"

    def test_table(self):
        """
        Dial strings match fully, partially (with or without an existing
        full match) or not at all.
        """
        digitMap = parseDigitMap(self.MAP)
        table = [
            ("", MatchResult.PARTIAL, False),
            ("0", MatchResult.PARTIAL, False),
            ("0T", MatchResult.FULL, True),
            ("00T", MatchResult.FULL, True),
            ("1", MatchResult.PARTIAL, False),
            ("123", MatchResult.PARTIAL, False),
            ("1234", MatchResult.FULL, True),
            ("12345", MatchResult.NONE, False),
            ("8123456", MatchResult.PARTIAL, False),
            ("81234567", MatchResult.FULL, True),
            ("#1234567", MatchResult.FULL, True),
            ("*12", MatchResult.FULL, True),
            ("*1", MatchResult.PARTIAL, False),
            ("91", MatchResult.PARTIAL, False),
            ("912345678901", MatchResult.FULL, True),
            ("9011", MatchResult.PARTIAL, False),
            ("9011T", MatchResult.FULL, True),
            ("90114412345678", MatchResult.PARTIAL, False),
            ("90114412345678T", MatchResult.FULL, True),
            ("9", MatchResult.PARTIAL, False),
            ("95", MatchResult.NONE, False),
            ("A", MatchResult.NONE, False),
            ("T", MatchResult.NONE, False),
        ]
        for dial, result, full in table:
            match = digitMap.match(dial)
            self.assertEqual((match.result, match.fullMatchExists),
                             (result, full), dial)

    def test_criticalTimer(self):
        """
        A full match that could still grow asks for the critical timer.
        """
        digitMap = parseDigitMap("(xxx|xxxx)")
        match = digitMap.match("123")
        self.assertEqual(match.result, MatchResult.PARTIAL)
        self.assertTrue(match.criticalTimer)
        self.assertFalse(digitMap.match("12").criticalTimer)
        self.assertEqual(digitMap.match("1234").result, MatchResult.FULL)

    def test_timer(self):
        """
        Timer expiry appends T; a full match without T is still reported.
        """
        digitMap = parseDigitMap(self.MAP)
        match = digitMap.matchOnTimer("0")
        self.assertEqual((match.result, match.dialString),
                         (MatchResult.FULL, "0T"))
        match = digitMap.matchOnTimer("90114412")
        self.assertEqual((match.result, match.dialString),
                         (MatchResult.FULL, "90114412T"))
        self.assertEqual(digitMap.matchOnTimer("12").result,
                         MatchResult.NONE)
        short = parseDigitMap("(xxx|xxxx)")
        match = short.matchOnTimer("123")
        self.assertEqual((match.result, match.dialString),
                         (MatchResult.FULL, "123"))

    def test_syntax(self):
        """
        Single patterns, case-insensitive letters, ranges with letters and
        blanks parse; encoding gives the canonical form.
        """
        digitMap = parseDigitMap(" [2-4#*T]X. | 1t ")
        self.assertEqual(digitMap.encode(), "([2-4#*T]X.|1t)")
        match = digitMap.match("#55")
        self.assertEqual((match.result, match.fullMatchExists),
                         (MatchResult.PARTIAL, True))
        self.assertEqual(digitMap.match("#55T").result, MatchResult.NONE)
        self.assertEqual(digitMap.match("1T").result, MatchResult.FULL)
        self.assertEqual(parseDigitMap("xxxx").match("1234").result,
                         MatchResult.FULL)
        self.assertEqual(parseDigitMap("(e[ab]x)").match("eb1").result,
                         MatchResult.FULL)


_VALUES = {
    "X": st.sampled_from(["1", "63bbc7e1", "0"]),
    "C": st.sampled_from(["A0000000010000010000000F", "5a7b896f72b2f8a3"]),
    "I": st.sampled_from(["1A", "1A,1B", ""]),
    "M": st.sampled_from([m.value for m in ConnectionMode]),
    "R": st.sampled_from(["L/hu", "L/hu(N),D/[0-9#*](D)", "",
                          "L/hd(A,E(R(L/hu),S(L/dl)))"]),
    "S": st.sampled_from(["", "L/rg", "L/ci(10/14/17/26,\"555 1212\",x)"]),
    "O": st.sampled_from(["", "L/hd", "D/9,D/1"]),
    "L": st.sampled_from(["p:20, a:PCMU", "e:on"]),
    "K": st.sampled_from(["", "1-3, 5"]),
    "N": st.sampled_from(["ca@host:2427", "10.1.1.13"]),
    "D": st.sampled_from(["(xxxx|9x.T)", "x"]),
    "X-TEST": st.text(st.characters(min_codepoint=33, max_codepoint=126),
                      max_size=10),
}


@st.composite
def commands(draw):
    """
    Random commands built from valid parameter values.
    """
    names = draw(st.lists(st.sampled_from(sorted(_VALUES)), unique=True))
    return Command(
        draw(st.sampled_from([v.value for v in Verb])),
        draw(st.integers(1, constants.MAX_TRANSACTION_ID)),
        draw(st.sampled_from([EP, "*@gw", "aaln/$@[1.2.3.4]"])),
        draw(st.sampled_from(["MGCP 0.1", "MGCP 1.0"])),
        draw(st.sampled_from([None, "NCS 1.0"])),
        [Parameter(name, draw(_VALUES[name])) for name in names],
        draw(st.lists(st.just(simpleSdp("10.0.0.1", 4000, [0, 8])),
                      max_size=2)))


class PropertyTests(SynchronousTestCase):
    """
    Hypothesis properties of the codec.
    """

    def assertTypedDecodeError(self, error):
        """
        C{error} is a complete L{MgcpDecodeError}: a known response code, a
        reason, a transaction id only when one was readable (and then
        whether the message was a response), and the line a log shows.
        """
        self.assertIn(error.code, [c.value for c in ResponseCode])
        self.assertGreaterEqual(error.code, 500, error)
        self.assertTrue(error.reason.strip(), error)
        if error.transactionId is not None:
            self.assertTrue(0 <= error.transactionId <= constants.MAX_TRANSACTION_ID, error)
            self.assertIn(error.isResponse, (True, False))
        where = "" if error.transactionId is None else " (transaction %d)" % (error.transactionId,)
        if error.parameter is not None:
            where += " in %s:" % (error.parameter,)
        self.assertEqual(str(error), "MGCP decode error %03d%s: %s" % (error.code, where, error.reason))

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(
        st.binary(max_size=300),
        st.tuples(st.sampled_from([v.value for v in Verb] + ["200", "510", "000", "FOO"]),
                  st.binary(max_size=200)).map(lambda vb: vb[0].encode("ascii") + b" " + vb[1])))
    def test_arbitraryBytes(self, data):
        """
        Arbitrary bytes (and arbitrary bytes after a verb or a response
        code) split into messages, and each either decodes to a message
        that re-encodes to one decoding equal, or raises a complete
        L{MgcpDecodeError} (L{assertTypedDecodeError}).
        """
        parts = splitDatagram(data)
        for part in parts:
            self.assertTrue(part.strip(), parts)
            try:
                message = decodeMessage(part)
            except MgcpDecodeError as error:
                self.assertTypedDecodeError(error)
            else:
                self.assertIsInstance(message, (Command, Response))
                self.assertEqual(decodeMessage(encodeMessage(message)), message)

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(sorted(EXAMPLES)), st.integers(0, 400),
           st.binary(min_size=1, max_size=8))
    def test_mutatedExamples(self, name, offset, garbage):
        """
        Examples with bytes inserted anywhere decode or raise
        MgcpDecodeError, and what decodes re-encodes to something that
        decodes equal.
        """
        data = wire(EXAMPLES[name])
        offset = min(offset, len(data))
        data = data[:offset] + garbage + data[offset:]
        try:
            message = decodeMessage(data)
        except MgcpDecodeError as error:
            self.assertTypedDecodeError(error)
            return
        self.assertEqual(decodeMessage(encodeMessage(message)), message)

    @settings(max_examples=200, deadline=None)
    @given(commands())
    def test_roundTrip(self, command):
        """
        Generated commands survive encode/decode, alone and piggy-backed.
        """
        self.assertEqual(decodeMessage(encodeMessage(command)), command)
        datagram = encodeDatagram([command, Response(200, 1, "OK")])
        self.assertEqual([decodeMessage(p) for p in splitDatagram(datagram)],
                         [command, Response(200, 1, "OK")])

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet="0123456789*#ABCDTx.[]-|()", max_size=20),
           st.text(alphabet="0123456789*#ABCDT", max_size=12))
    def test_digitMaps(self, mapText, dial):
        """
        Any digit map text parses or raises MgcpDecodeError; matching a
        parsed map never fails.
        """
        try:
            digitMap = parseDigitMap(mapText)
        except MgcpDecodeError:
            return
        self.assertIsInstance(digitMap.match(dial).result, MatchResult)
        self.assertEqual(parseDigitMap(digitMap.encode()), digitMap)
