"""
Tests for L{srst.media.srtp}: SRTP keys and protect/unprotect through
pylibsrtp (their SCCP key block form: L{tests.test_sccp_srtpkeys}), and the
known-answer vectors of RFC 3711 Appendix B.
"""

import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase

from srst.media.rtp import RtpPacket, decodeRtp, encodeRtp
from srst.media.srtp import (
    MASTER_KEY_LENGTH,
    MASTER_SALT_LENGTH,
    SrtpError,
    SrtpKeys,
    SrtpProfile,
    SrtpReceiver,
    SrtpSender,
    generateKeys,
)

KEY = bytes(range(1, 17))
SALT = bytes(range(101, 115))
PROFILES = list(SrtpProfile)


def rtp(seq, payload=b"\xff" * 160, ssrc=0xCAFE):
    """The bytes of an RTP packet of G.711 audio."""
    return encodeRtp(RtpPacket(payloadType=0, sequenceNumber=seq,
                               timestamp=seq * 160, ssrc=ssrc,
                               payload=payload))


RTCP_RR = b"\x80\xc9\x00\x01\x00\x00\xca\xfe"


class SrtpKeysTests(SynchronousTestCase):
    """
    The key value type.
    """

    def test_generateDefaults(self):
        """
        Generated keys use AES_CM_128_HMAC_SHA1_32 with a 16-byte key and a
        14-byte salt, fresh on every call.
        """
        keys = generateKeys()
        self.assertEqual(keys.profile, SrtpProfile.AES_CM_128_HMAC_SHA1_32)
        self.assertEqual(len(keys.masterKey), MASTER_KEY_LENGTH)
        self.assertEqual(len(keys.masterSalt), MASTER_SALT_LENGTH)
        self.assertNotEqual(generateKeys(), keys)
        self.assertEqual(
            generateKeys(SrtpProfile.AES_CM_128_HMAC_SHA1_80).profile,
            SrtpProfile.AES_CM_128_HMAC_SHA1_80)

    def test_reprHidesKeys(self):
        """
        Neither repr(), str() nor a formatted log event shows the key or
        salt bytes.
        """
        keys = SrtpKeys(SrtpProfile.AES_CM_128_HMAC_SHA1_32, KEY, SALT)
        for text in (repr(keys), str(keys),
                     formatEvent({"log_format": "{keys}", "keys": keys})):
            self.assertIn("AES_CM_128_HMAC_SHA1_32", text)
            self.assertIn("hidden", text)
            self.assertNotIn(repr(KEY), text)
            self.assertNotIn(KEY.hex(), text)
            self.assertNotIn(SALT.hex(), text)
        self.assertNotIn(KEY.hex(), repr(SrtpSender(keys)))
        self.assertNotIn(KEY.hex(), repr(SrtpReceiver(keys)))

    def test_wrongLengths(self):
        """
        A key that is not 16 bytes or a salt that is not 14 is refused.
        """
        self.assertRaises(ValueError, SrtpKeys, 1, KEY[:15], SALT)
        self.assertRaises(ValueError, SrtpKeys, 1, KEY, SALT + b"\x00")
        self.assertRaises(ValueError, SrtpKeys, 9, KEY, SALT)


class ProtectTests(SynchronousTestCase):
    """
    Protecting and unprotecting packets.
    """

    def test_roundTripBothProfiles(self):
        """
        A receiver with the sender's keys recovers every packet exactly;
        the SRTP packet carries the profile's tag and an encrypted payload.
        """
        for profile in PROFILES:
            keys = generateKeys(profile)
            sender, receiver = SrtpSender(keys), SrtpReceiver(keys)
            for seq in (1, 2, 3, 65535, 0):
                plain = rtp(seq)
                protected = sender.protect(plain)
                self.assertEqual(len(protected),
                                 len(plain) + profile.tagLength)
                self.assertEqual(protected[:12], plain[:12])
                self.assertNotEqual(protected[12:172], plain[12:])
                self.assertEqual(receiver.unprotect(protected), plain)
                self.assertEqual(decodeRtp(plain).sequenceNumber, seq)

    def test_rtcpRoundTrip(self):
        """
        SRTCP with the same keys round-trips an RTCP receiver report.
        """
        keys = generateKeys()
        protected = SrtpSender(keys).protectRtcp(RTCP_RR)
        self.assertNotEqual(protected, RTCP_RR)
        self.assertEqual(SrtpReceiver(keys).unprotectRtcp(protected),
                         RTCP_RR)

    def test_otherKeysCannotUnprotect(self):
        """
        A third party with other keys gets SrtpError, not the audio.
        """
        keys = generateKeys()
        protected = SrtpSender(keys).protect(rtp(5))
        e = self.assertRaises(SrtpError, SrtpReceiver(generateKeys())
                              .unprotect, protected)
        self.assertIsInstance(e, ValueError)
        self.assertEqual((e.operation, e.ssrc, e.sequenceNumber),
                         ("unprotect", 0xCAFE, 5))
        self.assertIn("ssrc 0x0000cafe, seq 5", str(e))

    def test_profileMismatchRejected(self):
        """
        The same key and salt under the other tag length do not
        authenticate.
        """
        keys = SrtpKeys(SrtpProfile.AES_CM_128_HMAC_SHA1_80, KEY, SALT)
        protected = SrtpSender(keys).protect(rtp(1))
        other = SrtpKeys(SrtpProfile.AES_CM_128_HMAC_SHA1_32, KEY, SALT)
        self.assertRaises(SrtpError, SrtpReceiver(other).unprotect,
                          protected)

    def test_replayRejected(self):
        """
        A packet delivered twice is accepted once; the replay raises
        SrtpError.
        """
        keys = generateKeys()
        protected = SrtpSender(keys).protect(rtp(7))
        receiver = SrtpReceiver(keys)
        receiver.unprotect(protected)
        e = self.assertRaises(SrtpError, receiver.unprotect, protected)
        self.assertIn("replay", str(e))

    def test_tamperedRejected(self):
        """
        Flipping one payload bit, the tag, or the header makes
        authentication fail; the receiver still takes the genuine packet.
        """
        keys = generateKeys()
        protected = SrtpSender(keys).protect(rtp(9))
        receiver = SrtpReceiver(keys)
        for index in (20, len(protected) - 1, 1):
            tampered = bytearray(protected)
            tampered[index] ^= 0x01
            self.assertRaises(SrtpError, receiver.unprotect,
                              bytes(tampered))
        self.assertEqual(receiver.unprotect(protected), rtp(9))

    def test_tamperedRtcpRejected(self):
        """
        A tampered SRTCP packet raises SrtpError naming the operation.
        """
        keys = generateKeys()
        tampered = bytearray(SrtpSender(keys).protectRtcp(RTCP_RR))
        tampered[-1] ^= 0xFF
        e = self.assertRaises(SrtpError, SrtpReceiver(keys).unprotectRtcp,
                              bytes(tampered))
        self.assertEqual(e.operation, "unprotect_rtcp")

    def test_garbageRejected(self):
        """
        Bytes too short to be SRTP raise SrtpError with no SSRC.
        """
        receiver = SrtpReceiver(generateKeys())
        for data in (b"", b"abc"):
            e = self.assertRaises(SrtpError, receiver.unprotect, data)
            self.assertIsNone(e.ssrc)
        self.assertRaises(SrtpError, SrtpSender(generateKeys()).protect,
                          b"ab")

    def test_tooLongRejected(self):
        """
        A packet longer than libsrtp's buffer raises SrtpError (pylibsrtp
        raises a plain ValueError), protecting or unprotecting.
        """
        keys = generateKeys()
        packet = b"\x80\x00\x00\x01" + bytes(8) + bytes(2000)
        self.assertRaises(SrtpError, SrtpReceiver(keys).unprotect, packet)
        self.assertRaises(SrtpError, SrtpSender(keys).protect, packet)

    def test_senderRefusesRepeatedSequence(self):
        """
        Protecting the same sequence number twice (a two-time pad) raises
        SrtpError.
        """
        sender = SrtpSender(generateKeys())
        sender.protect(rtp(3))
        e = self.assertRaises(SrtpError, sender.protect, rtp(3))
        self.assertEqual(e.operation, "protect")

    def test_notKeys(self):
        """
        Building a sender from anything but SrtpKeys is a TypeError.
        """
        self.assertRaises((TypeError, AttributeError), SrtpSender, KEY)


# -- RFC 3711 Appendix B ------------------------------------------------------------------------
#
# The values below are copied from RFC 3711 (March 2004), Appendix B.2 "AES-CM Test Vectors" and
# B.3 "Key Derivation Test Vectors".  The reference functions next to them follow the RFC's text
# (4.1.1 AES-CM, 4.2 HMAC-SHA1, 4.3 key derivation) with the AES of the cryptography package;
# they are checked against the RFC's vectors first, then used to check what srst (through
# pylibsrtp) puts on the wire.

B2_SESSION_KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
B2_OFFSET = bytes.fromhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
B2_KEYSTREAM = {
    0x0000: "E03EAD0935C95E80E166B16DD92B4EB4",
    0x0001: "D23513162B02D0F72A43A2FE4A5F97AB",
    0x0002: "41E95B3BB0A2E8DD477901E4FCA894C0",
    0xFEFF: "EC8CDF7398607CB0F2D21675EA9EA1E4",
    0xFF00: "362B7C3C6773516318A077D7FC5073AE",
    0xFF01: "6A2CC3787889374FBEB4C81B17BA6C44",
}
"""B.2: the keystream block at each counter (offset + block number)."""

B3_MASTER_KEY = bytes.fromhex("E1F97A0D3E018BE0D64FA32C06DE4139")
B3_MASTER_SALT = bytes.fromhex("0EC675AD498AFEEBB6960B3AABE6")
B3_CIPHER_KEY = bytes.fromhex("C61E7A93744F39EE10734AFE3FF7A087")
B3_CIPHER_SALT = bytes.fromhex("30CBBC08863D8C85D49DB34A9AE1")
B3_AUTH_KEY = bytes.fromhex(
    "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE"
    "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25"
    "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2")
"""B.3: the session keys derived from the master key and salt (kdr 0, index 0)."""

LIBSRTP_PLAIN = bytes.fromhex("800f1234decafbadcafebabe" + "ab" * 16)
"""libsrtp's own reference packet (its test driver, keyed with B.3's master key and salt)."""


def aesCmKeystream(key: bytes, iv: bytes, length: int) -> bytes:
    """RFC 3711 4.1.1: AES in counter mode from C{iv}, C{length} bytes."""
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(bytes(length))


def deriveSessionKey(masterKey: bytes, masterSalt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 4.3.1 and 4.3.3 with kdr 0: x = label at bit 48 XOR salt, IV = x * 2^16."""
    x = int.from_bytes(masterSalt, "big") ^ (label << 48)
    return aesCmKeystream(masterKey, (x << 16).to_bytes(16, "big"), length)


def referenceProtect(rtp: bytes, cipherKey: bytes, cipherSalt: bytes, authKey: bytes, tagLength: int,
                     roc: int = 0) -> bytes:
    """
    RFC 3711 3.1, 4.1.1 and 4.2: encrypt the payload of a plain 12-byte
    header packet with AES-CM, IV = (salt * 2^16) XOR (SSRC * 2^64) XOR
    (index * 2^16), and append HMAC-SHA1(header + payload + ROC) cut to
    C{tagLength} bytes.
    """
    seq, = struct.unpack_from("!H", rtp, 2)
    ssrc, = struct.unpack_from("!I", rtp, 8)
    index = (roc << 16) | seq
    iv = (int.from_bytes(cipherSalt, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
    payload = rtp[12:]
    keystream = aesCmKeystream(cipherKey, iv.to_bytes(16, "big"), len(payload))
    protected = rtp[:12] + bytes(a ^ b for a, b in zip(payload, keystream))
    tag = hmac.new(authKey, protected + struct.pack("!I", roc), hashlib.sha1).digest()[:tagLength]
    return protected + tag


class Rfc3711KnownAnswerTests(SynchronousTestCase):
    """
    SRTP against RFC 3711's known-answer vectors (Appendix B), not only
    srst against itself.  srst delegates AES-CM, HMAC-SHA1 and key
    derivation to pylibsrtp and owns the key handling around it (the
    master key and salt of L{SrtpKeys}, in libsrtp's key + salt order, and
    the profiles' tag lengths): a sender given B.3's master key and salt
    must put on the wire exactly what B.3's session keys prescribe.
    """

    def test_b2Keystream(self):
        """
        B.2: the reference AES-CM gives the RFC's keystream at its six
        counters (the first three and the last three of the segment).
        """
        stream = aesCmKeystream(B2_SESSION_KEY, B2_OFFSET, 16 * 0xFF02)
        for block, expected in B2_KEYSTREAM.items():
            self.assertEqual(stream[16 * block:16 * block + 16].hex().upper(), expected, hex(block))

    def test_b3KeyDerivation(self):
        """
        B.3: the reference key derivation gives the RFC's cipher key
        (label 0), cipher salt (label 2) and authentication key (label 1)
        from its master key and salt.
        """
        self.assertEqual(deriveSessionKey(B3_MASTER_KEY, B3_MASTER_SALT, 0x00, 16), B3_CIPHER_KEY)
        self.assertEqual(deriveSessionKey(B3_MASTER_KEY, B3_MASTER_SALT, 0x02, 14), B3_CIPHER_SALT)
        self.assertEqual(deriveSessionKey(B3_MASTER_KEY, B3_MASTER_SALT, 0x01, 94), B3_AUTH_KEY)

    def test_senderUsesRfcSessionKeys(self):
        """
        An L{SrtpSender} keyed with B.3's master key and salt protects
        packets exactly as B.3's session keys say, for both profiles (80-
        and 32-bit tags), several sequence numbers and SSRCs; for libsrtp's
        reference packet that is the SRTP its test driver expects.
        """
        packets = [LIBSRTP_PLAIN] + [rtp(seq, payload=bytes(range(seq % 7, seq % 7 + 160)), ssrc=ssrc)
                                     for seq, ssrc in ((0, 0), (1, 0), (0x1235, 0xCAFEBABE), (65535, 0xDEADBEEF))]
        for profile in PROFILES:
            sender = SrtpSender(SrtpKeys(profile, B3_MASTER_KEY, B3_MASTER_SALT))
            for packet in packets:
                self.assertEqual(sender.protect(packet),
                                 referenceProtect(packet, B3_CIPHER_KEY, B3_CIPHER_SALT, B3_AUTH_KEY[:20],
                                                  profile.tagLength), (profile, packet[:12].hex()))
        sender = SrtpSender(SrtpKeys(SrtpProfile.AES_CM_128_HMAC_SHA1_80, B3_MASTER_KEY, B3_MASTER_SALT))
        self.assertEqual(sender.protect(LIBSRTP_PLAIN).hex(),
                         "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb")

    def test_receiverAcceptsRfcPackets(self):
        """
        An L{SrtpReceiver} keyed with B.3's master key and salt decrypts a
        packet protected with B.3's session keys, and refuses it with one
        bit of the tag changed.
        """
        for profile in PROFILES:
            protected = referenceProtect(LIBSRTP_PLAIN, B3_CIPHER_KEY, B3_CIPHER_SALT, B3_AUTH_KEY[:20],
                                         profile.tagLength)
            receiver = SrtpReceiver(SrtpKeys(profile, B3_MASTER_KEY, B3_MASTER_SALT))
            self.assertRaises(SrtpError, receiver.unprotect, protected[:-1] + bytes([protected[-1] ^ 1]))
            self.assertEqual(receiver.unprotect(protected), LIBSRTP_PLAIN)
