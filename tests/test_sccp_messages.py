"""
Tests for L{srst.sccp.messages}: the SCCP codec against real captures and
against the layouts of sccp.md; typed errors, key blocks, strings and header
versions.  Generated input and the Wireshark cross-check are in
L{tests.test_sccp_wire}.
"""

import datetime
import ipaddress
import json
import os
import struct

import attrs
from twisted.trial.unittest import SynchronousTestCase

from srst.sccp import constants as c
from srst.sccp import messages as m

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "fixtures", "sccp_frames.json")
CUCM_CALL = "cm_call_from_pyskinny_to_7912.pcapng"
PHONE_IP = ipaddress.IPv4Address("10.102.10.209")
PEER_IP = ipaddress.IPv4Address("10.102.219.27")
REF = 0x0100001F
PARTY = 0x01000101
KEY = bytes(range(16))
SALT = bytes(range(100, 114))
SECURE = m.KeyInfo(c.KeyAlgorithm.AES_CM_128_HMAC_SHA1_32, KEY, SALT)
VERSIONS = (0, 6, 11, 15, 16, 17, 18, 20, 22)


def loadFixture():
    """
    The frames extracted from the captures by tools/extract_sccp_frames.py.
    """
    with open(FIXTURE) as f:
        return json.load(f)


def captureFrame(capture, frame):
    """
    The bytes of one captured frame.
    """
    for record in loadFixture():
        if record["capture"] == capture and record["frame"] == frame:
            return bytes.fromhex(record["hex"])
    raise KeyError((capture, frame))


def body(msg, version):
    """
    Encode C{msg} and return its body (the frame without the header).
    """
    return m.encodeMessage(msg, protocolVersion=version)[12:]


def u32(value):
    return struct.pack("<I", value)


class CaptureTests(SynchronousTestCase):
    """
    Every SCCP frame of the real captures decodes and re-encodes exactly.
    """

    def setUp(self):
        self.records = loadFixture()

    def test_everyFrameRoundTrips(self):
        """
        Each complete captured frame decodes to the class registered for its
        id (never L{m.UnknownMessage}) and re-encodes to identical bytes,
        garbage after string terminators included.
        """
        failures = []
        complete = [r for r in self.records if r["complete"]]
        for record in complete:
            frame = bytes.fromhex(record["hex"])
            msg = m.decodeMessage(frame, protocolVersion=6)
            if (isinstance(msg, m.UnknownMessage)
                    or type(msg).MESSAGE_ID != record["messageId"]
                    or m.encodeMessage(msg, protocolVersion=6) != frame):
                failures.append((record["capture"], record["frame"]))
        self.assertEqual(failures, [])
        self.assertGreater(len(complete), 1400)

    def test_changedFramesReencode(self):
        """
        A captured message rebuilt without its original bytes (as after
        L{attrs.evolve}) encodes, at the widest layout, to bytes that decode
        to an equal message.
        """
        failures = []
        for record in self.records:
            if not record["complete"]:
                continue
            msg = m.decodeMessage(bytes.fromhex(record["hex"]),
                                  protocolVersion=6)
            fresh = attrs.evolve(msg)
            self.assertIsNone(fresh.origin)
            again = m.decodeMessage(
                m.encodeMessage(fresh, protocolVersion=21), protocolVersion=21)
            if again != msg:
                failures.append((record["capture"], record["frame"]))
        self.assertEqual(failures, [])

    def test_truncatedPublishedFrames(self):
        """
        The frames cucm_frames.json publishes cut short raise L{m.DecodeError}
        naming their message id, not an unrelated exception.
        """
        truncated = [r for r in self.records if not r["complete"]]
        self.assertEqual(len(truncated), 16)
        for record in truncated:
            error = self.assertRaises(
                m.DecodeError, m.decodeMessage,
                bytes.fromhex(record["hex"]), protocolVersion=6)
            self.assertEqual(error.messageId, record["messageId"])
            self.assertIn("length field says", str(error))

    def test_directions(self):
        """
        Every captured frame from a phone has a phone-to-router id, every
        other frame a router-to-phone id.
        """
        for record in self.records:
            self.assertEqual(c.sentByPhone(record["messageId"]),
                             record["direction"] == "fromPhone", record)

    def test_cucmLayoutsAtVersion6(self):
        """
        Rebuilt from their fields alone, CUCM 4.1's protocol-6 frames encode
        byte for byte as CUCM sent them: the codec's v6 layouts are CUCM's.
        """
        for frame in (89, 87, 148, 154, 155, 3139, 3140, 104, 134, 135, 132,
                      101, 96, 99, 94, 147, 138):
            data = captureFrame(CUCM_CALL, frame)
            msg = attrs.evolve(m.decodeMessage(data, protocolVersion=6))
            self.assertEqual(m.encodeMessage(msg, protocolVersion=6), data,
                             frame)

    def test_handBuiltRegisterAckMatchesCucm(self):
        """
        A RegisterAck built in code equals CUCM 4.1's answer to a 7912
        (negotiated version 6; header length 24).
        """
        ack = m.RegisterAck(30, "M/D/Y", 60, 6, c.REGISTER_ACK_FEATURES_CUCM)
        frame = m.encodeMessage(ack, protocolVersion=6)
        self.assertEqual(frame, captureFrame(CUCM_CALL, 89))
        self.assertEqual(struct.unpack_from("<I", frame)[0], 24)

    def test_handBuiltOpenReceiveChannelMatchesCucm(self):
        """
        An unencrypted OpenReceiveChannel built in code equals CUCM 4.1's
        (68-byte body with an empty key block).
        """
        orc = m.OpenReceiveChannel(
            conferenceId=REF, passThruPartyId=PARTY, millisecondPacketSize=20,
            compressionType=c.Codec.G711_ULAW_64K, callReference=REF,
            rxKey=m.NO_KEY)
        self.assertEqual(m.encodeMessage(orc, protocolVersion=6),
                         captureFrame(CUCM_CALL, 148))

    def test_garbageAfterTerminator(self):
        """
        CUCM leaves stack garbage after string terminators: the strings stop
        at the NUL, the original bytes are kept for re-encoding, and a
        changed message is zero-filled.
        """
        data = captureFrame(CUCM_CALL, 136)
        info = m.decodeMessage(data, protocolVersion=6)
        self.assertEqual((info.callingPartyName, info.callingParty),
                         ("Python", "1003"))
        self.assertEqual(m.encodeMessage(info, protocolVersion=6), data)
        fresh = m.encodeMessage(attrs.evolve(info), protocolVersion=6)
        self.assertNotEqual(fresh, data)
        self.assertEqual(fresh[12 + 40:12 + 64], b"1003" + b"\0" * 20)

    def test_labelsSurvive(self):
        """
        A prompt holding CUCM's "From" label code decodes to the two label
        characters followed by the number, and reads as "From 1003".
        """
        prompt = m.decodeMessage(captureFrame(CUCM_CALL, 134),
                                 protocolVersion=6)
        self.assertEqual(prompt.promptStatus, m.LABEL_FROM + "1003")
        self.assertEqual(m.describeText(prompt.promptStatus), "From 1003")


class LayoutTests(SynchronousTestCase):
    """
    Encoded bodies follow the sccp.md layouts at each protocol version.
    """

    def orc(self, **kw):
        fields = dict(
            conferenceId=REF, passThruPartyId=PARTY, millisecondPacketSize=20,
            compressionType=c.Codec.G711_ULAW_64K, echoCancellation=1,
            callReference=REF, rxKey=SECURE, streamPassThroughId=7,
            associatedStreamId=8, rfc2833PayloadType=101, dtmfType=10,
            mixingMode=2, partyDirection=3, sourceIpAddr=PEER_IP,
            sourcePortNumber=16384, requestedIpAddrType=0)
        fields.update(kw)
        return m.OpenReceiveChannel(**fields)

    def smt(self, **kw):
        fields = dict(
            conferenceId=REF, passThruPartyId=PARTY, remoteIpAddr=PEER_IP,
            remotePortNumber=16384, millisecondPacketSize=20,
            compressionType=c.Codec.G711_ULAW_64K, precedenceValue=0xB8,
            silenceSuppression=0, maxFramesPerPacket=0, callReference=REF,
            txKey=SECURE, streamPassThroughId=7, associatedStreamId=8,
            rfc2833PayloadType=101, dtmfType=10, mixingMode=2,
            partyDirection=3)
        fields.update(kw)
        return m.StartMediaTransmission(**fields)

    def keyBlock(self, v11):
        block = struct.pack("<IHH", 1, 16, 14) + KEY + SALT + b"\0\0"
        return block + (u32(0) + u32(0) if v11 else b"")

    def test_openReceiveChannelV6(self):
        """At protocol 6 the body is 68 bytes ending with the 40-byte key."""
        head = struct.pack("<IIIII", REF, PARTY, 20, 4, 1) + b"\0" * 4
        self.assertEqual(body(self.orc(), 6),
                         head + u32(REF) + self.keyBlock(False))

    def test_openReceiveChannelV11(self):
        """
        At protocol 11 the key block grows to 48 bytes and stream ids, RFC
        2833 payload type and DTMF type follow: 92 bytes.
        """
        head = struct.pack("<IIIII", REF, PARTY, 20, 4, 1) + b"\0" * 4
        expected = (head + u32(REF) + self.keyBlock(True)
                    + struct.pack("<IIII", 7, 8, 101, 10))
        self.assertEqual(body(self.orc(), 11), expected)
        self.assertEqual(len(expected), 92)

    def test_openReceiveChannelV17(self):
        """
        At protocol 17 mixing mode and party direction follow, then the
        source address as ipv4or6 (type + 16 bytes), port and requested
        address type: 128 bytes; an IPv6 source is type 1.
        """
        encoded = body(self.orc(), 17)
        self.assertEqual(len(encoded), 128)
        self.assertEqual(encoded[92:100], struct.pack("<II", 2, 3))
        self.assertEqual(encoded[100:120],
                         u32(0) + PEER_IP.packed + b"\0" * 12)
        self.assertEqual(encoded[120:128], struct.pack("<II", 16384, 0))
        v6 = ipaddress.IPv6Address("2001:db8::1")
        encoded = body(self.orc(sourceIpAddr=v6), 17)
        self.assertEqual(encoded[100:120], u32(1) + v6.packed)
        self.assertEqual(
            m.decodeMessage(m.encodeMessage(self.orc(sourceIpAddr=v6),
                                            protocolVersion=17),
                            protocolVersion=17).sourceIpAddr, v6)

    def test_startMediaTransmissionV6(self):
        """
        At protocol 6: remote IP in network order at 8, port u32 LE at 12,
        maxFramesPerPacket u16 plus padding at 32, callReference at 40, the
        tx key block from 44 to 84.
        """
        expected = (struct.pack("<II", REF, PARTY) + PEER_IP.packed
                    + struct.pack("<IIIII", 16384, 20, 4, 0xB8, 0)
                    + b"\0\0\0\0" + b"\0" * 4 + u32(REF)
                    + self.keyBlock(False))
        self.assertEqual(body(self.smt(), 6), expected)
        self.assertEqual(len(expected), 84)

    def test_startMediaTransmissionV11(self):
        """At protocol 11 the body is 116 bytes, ending at partyDirection."""
        encoded = body(self.smt(), 11)
        self.assertEqual(len(encoded), 116)
        self.assertEqual(encoded[44:92], self.keyBlock(True))
        self.assertEqual(encoded[92:116],
                         struct.pack("<IIIIII", 7, 8, 101, 10, 2, 3))

    def test_startMediaTransmissionV17(self):
        """
        At protocol 17 the remote address is ipv4or6 and every later field
        moves by 16 bytes: 132 bytes, key block at 60.
        """
        encoded = body(self.smt(), 17)
        self.assertEqual(len(encoded), 132)
        self.assertEqual(encoded[8:28], u32(0) + PEER_IP.packed + b"\0" * 12)
        self.assertEqual(encoded[28:32], u32(16384))
        self.assertEqual(encoded[56:60], u32(REF))
        self.assertEqual(encoded[60:108], self.keyBlock(True))
        self.assertEqual(encoded[124:132], struct.pack("<II", 2, 3))

    def test_openReceiveChannelAck(self):
        """
        The ack is 16 bytes at 6, 20 from 11 (callReference), 36 at 17
        (ipv4or6 address).
        """
        ack = m.OpenReceiveChannelAck(0, PHONE_IP, 16384, PARTY, REF)
        self.assertEqual(body(ack, 6), u32(0) + PHONE_IP.packed
                         + struct.pack("<II", 16384, PARTY))
        self.assertEqual(len(body(ack, 11)), 20)
        self.assertEqual(body(ack, 17)[4:24],
                         u32(0) + PHONE_IP.packed + b"\0" * 12)
        self.assertEqual(len(body(ack, 17)), 36)

    def test_callInfo(self):
        """
        CallInfo is the static 384-byte body (header length 388) with the
        ids at 128-136 and call instance, security and restriction at
        372-380.
        """
        info = m.CallInfo(callingPartyName="Alice", callingParty="1003",
                          calledParty="1004", lineInstance=1,
                          callReference=REF, callType=c.CallType.OUTBOUND,
                          callInstance=2,
                          callSecurityStatus=c.CallSecurityStatus.ENCRYPTED,
                          partyPIRestrictionBits=3)
        frame = m.encodeMessage(info, protocolVersion=11)
        self.assertEqual(struct.unpack_from("<I", frame)[0], 388)
        encoded = frame[12:]
        self.assertEqual(encoded[:8], b"Alice\0\0\0")
        self.assertEqual(encoded[40:64], b"1003".ljust(24, b"\0"))
        self.assertEqual(encoded[104:128], b"1004".ljust(24, b"\0"))
        self.assertEqual(encoded[128:140], struct.pack("<III", 1, REF, 2))
        self.assertEqual(encoded[372:384], struct.pack("<III", 2, 3, 3))

    def test_registerAck(self):
        """
        RegisterAck: keepalive, 6-character date template plus 2 padding
        bytes, secondary keepalive, negotiated version byte and 3 feature
        bytes: 20 bytes.
        """
        ack = m.RegisterAck(30, "D/M/YA", 60, 11,
                            c.REGISTER_ACK_FEATURES_V11)
        self.assertEqual(body(ack, 11),
                         u32(30) + b"D/M/YA\0\0" + u32(60)
                         + b"\x0b\x20\xf1\xff")

    def test_register(self):
        """
        Register is 52 bytes for a phone advertising protocol 7 (as a 7912
        sends) and the long form with MAC and firmware (124 bytes) at 15.
        """
        register = m.Register(deviceName="SEP001380AD9E5F",
                              stationIpAddr=PHONE_IP, protocolVersion=7,
                              loadInfo="CP7912060000SCCP050124A")
        self.assertEqual(len(body(register, 7)), 52)
        encoded = body(register, 15)
        self.assertEqual(len(encoded), 124)
        self.assertEqual(encoded[24:28], PHONE_IP.packed)
        self.assertEqual(encoded[40], 7)
        self.assertEqual(encoded[92:115], b"CP7912060000SCCP050124A")
        self.assertEqual(len(body(register, 20)), 172)

    def test_versionedTrailingFields(self):
        """
        Fields appended in later versions are sent from those versions only:
        StopTone's tone from 11, OffHook's line and call from 11, the port
        handling flag from 11.
        """
        stop = m.StopTone(1, REF, c.Tone.INSIDE_DIAL)
        self.assertEqual(body(stop, 6), struct.pack("<II", 1, REF))
        self.assertEqual(body(stop, 11), struct.pack("<III", 1, REF, 0x21))
        self.assertEqual(body(m.OffHook(1, REF), 6), b"")
        self.assertEqual(body(m.OffHook(1, REF), 11),
                         struct.pack("<II", 1, REF))
        close = m.CloseReceiveChannel(REF, PARTY, REF, 1)
        self.assertEqual(len(body(close, 6)), 12)
        self.assertEqual(body(close, 11)[12:], u32(1))

    def test_shortMessagesDecodeWithDefaults(self):
        """
        A message shorter than the layout (an older sender) decodes with the
        missing trailing fields at zero; a partial trailing field is
        ignored.
        """
        frame = struct.pack("<III", 4 + 10, 0, 0x0085) + u32(2) + u32(1) + (
            b"\x05\x00")
        ringer = m.decodeMessage(frame, protocolVersion=11)
        self.assertEqual(ringer, m.SetRinger(c.RingMode.INSIDE,
                                             c.RingDuration.NORMAL, 0, 0))
        self.assertIs(ringer.ringMode, c.RingMode.INSIDE)

    def test_directoryNumbersAtV18(self):
        """
        From protocol 18 DialedNumber and ForwardStat carry 25-byte packed
        numbers; ConnectionStatisticsReq pads its number to 28.
        """
        dialed = m.DialedNumber("1" * 25, 1, REF)
        self.assertEqual(len(body(dialed, 18)), 33)
        self.assertRaises(m.EncodeError, body, dialed, 17)
        dialed = m.DialedNumber("1004", 1, REF)
        self.assertEqual(body(dialed, 18), b"1004".ljust(25, b"\0")
                         + struct.pack("<II", 1, REF))
        forward = m.ForwardStat(1, 1, 1, "1004", 1, "1005")
        encoded = body(forward, 18)
        self.assertEqual(len(encoded), 95)
        self.assertEqual(encoded[37:41], u32(1))
        self.assertEqual(len(body(forward, 17)), 92)
        stats = m.ConnectionStatisticsReq("1003", REF, 1)
        self.assertEqual(body(stats, 18)[25:36], b"\0\0\0" + struct.pack(
            "<II", REF, 1))

    def test_arrays(self):
        """
        Templates, softkey sets, capabilities and server lists are sent at
        their fixed sizes with unused slots filled (buttons with 0/0xFF).
        """
        template = m.ButtonTemplate([m.ButtonDefinition(1, c.Stimulus.LINE)])
        encoded = body(template, 6)
        self.assertEqual(len(encoded), 96)
        self.assertEqual(encoded[:14],
                         struct.pack("<III", 0, 1, 1) + b"\1\x09")
        self.assertEqual(encoded[14:16], b"\0\xff")
        self.assertEqual(len(body(m.SoftKeyTemplateRes(), 6)), 652)
        self.assertEqual(len(body(m.SoftKeySetRes(), 6)), 780)
        self.assertEqual(len(body(m.CapabilitiesRes(), 6)), 292)
        servers = m.ServerRes([m.ServerIdentifier("r", 2000, PHONE_IP)])
        self.assertEqual(len(body(servers, 11)), 280)
        self.assertEqual(len(body(servers, 17)), 360)
        self.assertEqual(body(servers, 11)[260:264], PHONE_IP.packed)


class KeyInfoTests(SynchronousTestCase):
    """
    SRTP key blocks: their wire form, and that keys stay out of reprs.
    """

    def test_roundTrip(self):
        """
        A key block sent in OpenReceiveChannel and StartMediaTransmission
        decodes to the same L{m.KeyInfo} at protocols 6, 11 and 17.
        """
        for version in (6, 11, 17):
            for msg in (m.OpenReceiveChannel(callReference=REF, rxKey=SECURE),
                        m.StartMediaTransmission(callReference=REF,
                                                 txKey=SECURE)):
                again = m.decodeMessage(
                    m.encodeMessage(msg, protocolVersion=version),
                    protocolVersion=version)
                self.assertEqual(again, msg)
        self.assertEqual((SECURE.keyLength, SECURE.saltLength), (16, 14))
        self.assertTrue(SECURE.encrypted)
        self.assertFalse(m.NO_KEY.encrypted)

    def test_reprHidesKeys(self):
        """
        Neither the key block, nor a message holding it, nor a decoded
        message's origin shows the key or salt bytes in its repr.
        """
        msg = m.decodeMessage(m.encodeMessage(
            m.StartMediaTransmission(txKey=SECURE), protocolVersion=11),
            protocolVersion=11)
        for text in (repr(SECURE), repr(msg), repr(msg.origin), str(msg)):
            self.assertNotIn(repr(KEY)[2:10], text)
            self.assertNotIn(KEY.hex(), text)
            self.assertNotIn(repr(SALT)[2:10], text)
        self.assertIn("keyLength=16", repr(SECURE))

    def test_oversizedKeyRejected(self):
        """A key or salt longer than its 16-byte field cannot be built."""
        self.assertRaises(ValueError, m.KeyInfo, 1, b"k" * 17, b"")
        self.assertRaises(ValueError, m.KeyInfo, 1, b"", b"s" * 17)
        self.assertRaises(TypeError, m.KeyInfo, 1, "text", b"")

    def test_impossibleKeyLength(self):
        """
        A received key block announcing more than 16 key or salt bytes raises
        L{m.DecodeError} at the offset of the length.
        """
        good = bytearray(m.encodeMessage(
            m.OpenReceiveChannel(rxKey=SECURE), protocolVersion=6))
        bad = bytearray(good)
        struct.pack_into("<H", bad, 12 + 32, 17)
        error = self.assertRaises(m.DecodeError, m.decodeMessage,
                                  bytes(bad), protocolVersion=6)
        self.assertEqual((error.messageId, error.offset), (0x0105, 44))
        self.assertIn("keyLength 17 exceeds 16", str(error))
        struct.pack_into("<H", good, 12 + 34, 40)
        error = self.assertRaises(m.DecodeError, m.decodeMessage,
                                  bytes(good), protocolVersion=6)
        self.assertEqual(error.offset, 46)


class TextTests(SynchronousTestCase):
    """
    Fixed-size strings: Latin-1, NUL-padded, with phone label codes.
    """

    def test_labels(self):
        """
        Label helpers build the two-character codes; describeText renders
        them, including the fallback notice and unknown codes.
        """
        self.assertEqual(m.LABEL_CM_FALLBACK, "\x1e\x0a")
        self.assertEqual(m.LABEL_ENTER_NUMBER, "\x80\x20")
        self.assertEqual(m.label(m.Label.CONNECTED), "\x80\x18")
        self.assertEqual(m.describeText(m.LABEL_CM_FALLBACK),
                         "CM Fallback Service Operating")
        self.assertEqual(m.describeText(m.LABEL_ENTER_NUMBER), "Enter Number")
        self.assertEqual(m.describeText("\x80\x7fx"), "<label 80 7f>x")
        self.assertEqual(m.describeText("plain\x80"), "plain\x80")

    def test_labelsEncode(self):
        """A label code is sent as its two bytes, then zero fill."""
        notify = m.DisplayNotify(10, m.LABEL_CM_FALLBACK)
        self.assertEqual(body(notify, 11),
                         u32(10) + b"\x1e\x0a" + b"\0" * 30)

    def test_fullField(self):
        """A string may fill its field completely (no terminator)."""
        name = "SEP0123456789AB"
        for text in (name, name + "C"):
            msg = m.Register(deviceName=text)
            self.assertEqual(m.decodeMessage(
                m.encodeMessage(msg, protocolVersion=7),
                protocolVersion=7).deviceName, text)

    def test_badText(self):
        """
        Too long, non-Latin-1 and NUL-holding strings raise L{m.EncodeError}
        naming the message and field.
        """
        for text in ("x" * 33, "\u20ac", "a\0b"):
            error = self.assertRaises(m.EncodeError, m.encodeMessage,
                                      m.DisplayText(text), protocolVersion=11)
            self.assertEqual((error.messageName, error.fieldName),
                             ("DisplayText", "text"))
            self.assertTrue(str(error).startswith(
                "cannot encode DisplayText.text: "))


class ErrorTests(SynchronousTestCase):
    """
    Bad frames and bad values raise the codec's typed errors.
    """

    def test_shortFrame(self):
        """A frame shorter than its header raises L{m.DecodeError}."""
        error = self.assertRaises(m.DecodeError, m.decodeMessage, b"\4\0\0",
                                  protocolVersion=0)
        self.assertIsNone(error.messageId)
        self.assertEqual(str(error), "cannot decode SCCP data at offset 0: "
                         "frame of 3 bytes is shorter than the 12-byte header")

    def test_lengthMismatch(self):
        """A length field that disagrees with the frame size is refused."""
        frame = struct.pack("<III", 8, 0, 0x0116)
        error = self.assertRaises(m.DecodeError, m.decodeMessage, frame,
                                  protocolVersion=0)
        self.assertEqual(error.messageId, 0x0116)
        self.assertIn("0x0116 (ActivateCallPlane)", str(error))

    def test_unknownMessage(self):
        """
        An unknown id decodes to L{m.UnknownMessage} holding the body and
        re-encodes to the same bytes, also once rebuilt.
        """
        frame = struct.pack("<III", 9, 7, 0x0777) + b"hello"
        msg = m.decodeMessage(frame, protocolVersion=0)
        self.assertEqual(msg, m.UnknownMessage(0x0777, b"hello"))
        self.assertEqual(m.messageIdOf(msg), 0x0777)
        self.assertEqual(m.encodeMessage(msg, protocolVersion=0), frame)
        self.assertEqual(m.encodeMessage(attrs.evolve(msg), protocolVersion=0,
                                         headerVersion=7), frame)
        self.assertEqual(m.describeMessageId(0x0777), "0x0777")

    def test_valueOutOfRange(self):
        """Integers that do not fit their field raise L{m.EncodeError}."""
        for msg in (m.SetLamp(-1), m.SetLamp(2 ** 32),
                    m.Register(protocolVersion=256), m.SetLamp("9")):
            self.assertRaises(m.EncodeError, m.encodeMessage, msg,
                              protocolVersion=11)

    def test_ipv6NeedsVersion17(self):
        """An IPv6 address cannot be sent below protocol 17."""
        msg = m.StartMediaTransmission(
            remoteIpAddr=ipaddress.IPv6Address("::1"))
        error = self.assertRaises(m.EncodeError, m.encodeMessage, msg,
                                  protocolVersion=11)
        self.assertEqual(error.fieldName, "remoteIpAddr")

    def test_tooManyEntries(self):
        """Arrays longer than their fixed slots raise L{m.EncodeError}."""
        for msg in (m.ButtonTemplate([m.ButtonDefinition()] * 43),
                    m.SoftKeyTemplateRes([m.SoftKeyDefinition()] * 33),
                    m.SoftKeySetRes([m.SoftKeySetDefinition((1,) * 17)]),
                    m.CapabilitiesRes([m.MediaCapability()] * 19),
                    m.ServerRes([m.ServerIdentifier("x")] * 6)):
            self.assertRaises(m.EncodeError, m.encodeMessage, msg,
                              protocolVersion=11)

    def test_notAMessage(self):
        """Encoding something that is not a message is a TypeError."""
        self.assertRaises(TypeError, m.encodeMessage, object(),
                          protocolVersion=11)

    def test_unknownAddressType(self):
        """An ipv4or6 address type above 2 raises L{m.DecodeError}."""
        frame = bytearray(m.encodeMessage(m.OpenReceiveChannelAck(),
                                          protocolVersion=17))
        struct.pack_into("<I", frame, 16, 9)
        error = self.assertRaises(m.DecodeError, m.decodeMessage,
                                  bytes(frame), protocolVersion=17)
        self.assertEqual(error.offset, 16)


class HeaderVersionTests(SynchronousTestCase):
    """
    The header's version field (sccp.md 1.2).
    """

    def version(self, frame):
        return struct.unpack_from("<I", frame, 4)[0]

    def test_defaults(self):
        """
        0 below protocol 17, the protocol version from 17, and always 0 in
        RegisterAck, KeepAliveAck and UnregisterAck.
        """
        self.assertEqual(self.version(m.encodeMessage(
            m.CallState(), protocolVersion=11)), 0)
        self.assertEqual(self.version(m.encodeMessage(
            m.CallState(), protocolVersion=17)), 17)
        for msg in (m.RegisterAck(), m.KeepAliveAck(), m.UnregisterAck()):
            self.assertEqual(self.version(m.encodeMessage(
                msg, protocolVersion=22)), 0)

    def test_explicit(self):
        """An explicit header version is sent as given."""
        self.assertEqual(self.version(m.encodeMessage(
            m.CallState(), protocolVersion=11, headerVersion=11)), 11)

    def test_receivedVersionKept(self):
        """
        A decoded message records the header version it came with and is
        re-sent with it; an explicit value replaces it in the same bytes.
        """
        frame = m.encodeMessage(m.OffHook(1, REF), protocolVersion=22)
        msg = m.decodeMessage(frame, protocolVersion=22)
        self.assertEqual(msg.origin.headerVersion, 22)
        self.assertEqual(m.encodeMessage(msg, protocolVersion=22), frame)
        patched = m.encodeMessage(msg, protocolVersion=22, headerVersion=0)
        self.assertEqual(self.version(patched), 0)
        self.assertEqual(patched[8:], frame[8:])

    def test_otherVersionReencodes(self):
        """
        Asked for another protocol version, a decoded message is encoded
        afresh in that version's layout.
        """
        msg = m.decodeMessage(m.encodeMessage(m.StopTone(1, REF, 0x21),
                                              protocolVersion=11),
                              protocolVersion=11)
        self.assertEqual(len(m.encodeMessage(msg, protocolVersion=6)), 20)


class ValueTests(SynchronousTestCase):
    """
    Enum decoding and the small helpers of L{srst.sccp.constants}.
    """

    def test_enumMembers(self):
        """
        Known wire values decode to enum members; unknown ones stay plain
        integers; both compare equal to the integer.
        """
        state = m.decodeMessage(m.encodeMessage(
            m.CallState(c.CallState.RING_IN), protocolVersion=11),
            protocolVersion=11)
        self.assertIs(state.callState, c.CallState.RING_IN)
        odd = m.decodeMessage(m.encodeMessage(
            m.CallState(99), protocolVersion=11), protocolVersion=11)
        self.assertEqual(odd.callState, 99)
        self.assertNotIsInstance(odd.callState, c.CallState)
        self.assertEqual(m.CallState(4), state)

    def test_keypad(self):
        """Keypad values map to their characters and back."""
        self.assertEqual(c.keypadButton("#"), c.KeypadButton.POUND)
        self.assertEqual(c.keypadButton("b"), c.KeypadButton.B)
        self.assertEqual(c.keypadCharacter(c.KeypadButton.STAR), "*")
        self.assertEqual("".join(c.keypadCharacter(i) for i in range(10)),
                         "0123456789")
        self.assertRaises(ValueError, c.keypadButton, "x")
        self.assertRaises(ValueError, c.keypadButton, "12")
        self.assertRaises(ValueError, c.keypadCharacter, 0x11)

    def test_sentByPhone(self):
        """Message ids below 0x80 and the two high phone ids are phones'."""
        self.assertTrue(c.sentByPhone(c.MessageId.REGISTER))
        self.assertTrue(
            c.sentByPhone(c.MessageId.START_MEDIA_TRANSMISSION_ACK))
        self.assertFalse(c.sentByPhone(c.MessageId.REGISTER_ACK))
        self.assertFalse(c.sentByPhone(c.MessageId.OPEN_RECEIVE_CHANNEL))

    def test_registryMatchesMessageIds(self):
        """
        Every registered class has an id named in L{c.MessageId}, and every
        message the router and phones need is registered.
        """
        registry = m.registeredMessages()
        for messageId, cls in registry.items():
            self.assertEqual(cls.MESSAGE_ID, messageId)
            c.MessageId(messageId)
            self.assertIs(m.messageClass(messageId), cls)
        self.assertEqual(len(registry), 82)
        self.assertIsNone(m.messageClass(0x0777))

    def test_defineTimeDate(self):
        """
        DefineTimeDate.fromDateTime fills the fields with Sunday as day 0
        and the Unix time of an aware datetime.
        """
        when = datetime.datetime(2025, 11, 23, 9, 30, 15, 123456,
                                 tzinfo=datetime.timezone.utc)
        self.assertEqual(m.DefineTimeDate.fromDateTime(when),
                         m.DefineTimeDate(2025, 11, 0, 23, 9, 30, 15, 123,
                                          int(when.timestamp())))
        naive = m.DefineTimeDate.fromDateTime(when.replace(tzinfo=None))
        self.assertEqual(naive.systemTime, int(when.timestamp()))
