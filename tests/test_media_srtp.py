"""
Tests for L{srst.media.srtp}: SRTP keys and protect/unprotect through
pylibsrtp (their SCCP key block form: L{tests.test_sccp_srtpkeys}).
"""

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
