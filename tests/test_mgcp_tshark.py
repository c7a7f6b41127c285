"""
Wireshark's MGCP dissector reads what L{srst.mgcp.messages} encodes: the
worked examples of mgcp.md section 10 (and a piggy-backed datagram) are
written to a pcap between a gateway (127.0.0.1:2427) and a call agent
(127.0.0.1:2727) and run through C{tshark}.
"""

import os
import struct

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from srst.mgcp.messages import (
    Command,
    decodeMessage,
    encodeDatagram,
    encodeMessage,
)
from tests.pcap import udpPacket
from tests.routerhelpers import bounded
from tests.test_mgcp_messages import EXAMPLES, wire
from tests.toolhelpers import requireTool

GATEWAY = (bytes((127, 0, 0, 1)), 2427)
CALL_AGENT = (bytes((127, 0, 0, 1)), 2727)

# (sent by the gateway?, example name) in the order of the flows.
EXCHANGE = [
    (True, "rsip"), (False, "rsip200"), (False, "auep"), (True, "auep200"),
    (False, "rqnt1"), (True, "rqnt1ok"), (True, "ntfyHd"),
    (False, "ntfyHdOk"), (False, "rqntDial"), (True, "ntfyDigit"),
    (False, "rqntDigits"), (False, "crcx"), (True, "crcx200"),
    (False, "rqntRingback"), (False, "mdcx"), (True, "ntfyHu"),
    (False, "dlcx"), (True, "dlcx250"), (False, "crcxIn"),
    (False, "mdcxIn"), (False, "dlcxIn"), (False, "asteriskRqnt"),
    (False, "asteriskCrcx"), (False, "asteriskAck"), (True, "auepEs"),
    (True, "keepalive"), (True, "gatewayDlcx"), (True, "rsipDisconnected"),
    (False, "epcf"), (False, "aucx"), (True, "aucx200"), (True, "auepFull"),
    (False, "profile"), (True, "package"), (False, "mesg"),
]


def buildUdpPcap(datagrams):
    """
    A pcap file of UDP datagrams between the gateway and the call agent.

    @param datagrams: C{(fromGateway, payload)} pairs in order.
    @return: the file contents.
    """
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for index, (fromGateway, payload) in enumerate(datagrams):
        ends = (GATEWAY, CALL_AGENT) if fromGateway else (CALL_AGENT,
                                                          GATEWAY)
        packet = udpPacket(ends[0], ends[1], payload)
        out.append(struct.pack("<IIII", 1700000000 + index, 0, len(packet),
                               len(packet)))
        out.append(packet)
    return b"".join(out)


@inlineCallbacks
def checkMgcpCapture(case, captured, verbs):
    """
    Have tshark decode captured MGCP datagrams: every one decodes, none is
    malformed, and C{verbs} are among them.

    @param case: the L{TestCase} (temporary paths, assertions).
    @param captured: C{(fromGateway, payload)} pairs.
    @param verbs: the command verbs that must be present.
    """
    tshark = requireTool("tshark")
    captured = list(captured)
    path = case.mktemp() + ".pcap"
    with open(path, "wb") as capture:
        capture.write(buildUdpPcap(captured))
    home = case.mktemp()
    os.makedirs(home)
    out, err, code = yield getProcessOutputAndValue(
        tshark, ("-n", "-r", path, "-d", "udp.port==2427,mgcp", "-T", "fields", "-e", "mgcp.req.verb",
                 "-e", "mgcp.rsp.rspcode", "-e", "_ws.malformed"),
        env=dict(os.environ, HOME=home), reactor=reactor)
    case.assertEqual(code, 0, err)
    lines = out.decode("utf-8").splitlines()
    case.assertEqual(len(lines), len(captured))
    case.assertFalse([line for line in lines if line.split("\t")[-1]], "malformed packets")
    seen = {line.split("\t")[0] for line in lines}
    case.assertTrue(set(verbs) <= seen, seen)


class TsharkTests(TestCase):
    """
    tshark decodes the encoded examples without malformed-packet or
    error-level expert items, and sees the same verbs, codes and ids.
    """

    timeout = 60

    def setUp(self):
        self.tsharkPath = requireTool("tshark")
        home = self.mktemp()
        os.makedirs(home)
        self.env = dict(os.environ, HOME=home)
        self.messages = [decodeMessage(wire(EXAMPLES[name]))
                         for _, name in EXCHANGE]
        datagrams = [(fromGateway, encodeMessage(message))
                     for (fromGateway, _), message in zip(EXCHANGE,
                                                          self.messages)]
        self.piggyback = [decodeMessage(wire(EXAMPLES["rqnt1ok"])),
                          decodeMessage(wire(EXAMPLES["ntfyHd"]))]
        datagrams.append((True, encodeDatagram(self.piggyback)))
        self.path = self.mktemp() + ".pcap"
        with open(self.path, "wb") as capture:
            capture.write(buildUdpPcap(datagrams))

    def tshark(self, *arguments):
        """
        Run tshark on the capture and return its output lines.
        """
        d = getProcessOutputAndValue(
            self.tsharkPath,
            ("-n", "-r", self.path, "-d", "udp.port==2427,mgcp")
            + arguments, env=self.env, reactor=reactor)

        def check(result):
            out, err, code = result
            self.assertEqual(code, 0, err)
            return out.decode("utf-8").splitlines()
        return d.addCallback(check)

    @bounded
    def test_noMalformed(self):
        """
        No packet is malformed or carries an error-level expert item.
        """
        lines = yield self.tshark(
            "-Y", "_ws.malformed || _ws.expert.severity == error")
        self.assertEqual(lines, [])

    @bounded
    def test_verbsAndCodes(self):
        """
        Every datagram dissects as MGCP with our verbs, response codes and
        transaction ids; the piggy-backed datagram shows both messages.
        """
        lines = yield self.tshark(
            "-T", "fields", "-E", "separator=;", "-E", "aggregator=,",
            "-e", "mgcp.req.verb", "-e", "mgcp.rsp.rspcode",
            "-e", "mgcp.transid")
        expected = []
        for message in self.messages:
            if isinstance(message, Command):
                expected.append("%s;;%d" % (message.verb,
                                            message.transactionId))
            else:
                expected.append(";%d;%d" % (message.code,
                                            message.transactionId))
        expected.append("NTFY;200;1002,2")
        self.assertEqual(lines, expected)

    @bounded
    def test_parametersAndSdp(self):
        """
        tshark reads the same request ids, call ids, connection ids,
        observed events and SDP addresses and ports as our decoder.
        """
        lines = yield self.tshark(
            "-T", "fields", "-E", "separator=;", "-E", "aggregator=,",
            "-e", "mgcp.param.requestid", "-e", "mgcp.param.callid",
            "-e", "mgcp.param.connectionid", "-e", "mgcp.param.observedevents",
            "-e", "sdp.connection_info.address", "-e", "sdp.media.port")
        expected = []
        for message in self.messages:
            # Wireshark hands the whole body to one SDP dissection, so only
            # the first of AUCX's two descriptors shows up.
            bodies = message.sdp[:1]
            expected.append(";".join([
                message.raw("X") or "", message.raw("C") or "",
                message.raw("I") or "", message.raw("O") or "",
                ",".join(body.address for body in bodies),
                ",".join(str(body.mediaPort) for body in bodies)]))
        self.assertEqual(lines[:-1], expected)
        self.assertEqual(lines[-1], "1;;;L/hd;;")
