"""
Tests for L{srst.sccp.srtpkeys}: SRTP keys in SCCP key blocks.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.media.srtp import SrtpKeys, SrtpProfile, generateKeys
from srst.sccp.constants import KeyAlgorithm
from srst.sccp.messages import NO_KEY, KeyInfo
from srst.sccp.srtpkeys import SrtpKeyError, fromKeyInfo, toKeyInfo

KEY = bytes(range(1, 17))
SALT = bytes(range(101, 115))
PROFILES = list(SrtpProfile)


class KeyInfoTests(SynchronousTestCase):
    """
    L{toKeyInfo} and L{fromKeyInfo}.
    """

    def test_clearText(self):
        """
        No keys (clear text) is the key block with algorithm NONE.
        """
        self.assertEqual(toKeyInfo(None), NO_KEY)
        self.assertEqual(NO_KEY.algorithmId, KeyAlgorithm.NONE)

    def test_keyInfoRoundTrip(self):
        """
        Keys become a key block with the profile's algorithm id, key
        length 16 and salt length 14, and come back unchanged, for both
        profiles.
        """
        for profile in PROFILES:
            keys = SrtpKeys(profile, KEY, SALT)
            info = toKeyInfo(keys)
            self.assertEqual(info.algorithmId, int(profile))
            self.assertEqual((info.keyLength, info.saltLength), (16, 14))
            self.assertEqual(fromKeyInfo(info), keys)
            self.assertNotIn(KEY.hex(), repr(info))
        self.assertEqual(
            toKeyInfo(SrtpKeys(1, KEY, SALT)).algorithmId,
            KeyAlgorithm.AES_CM_128_HMAC_SHA1_32)

    def test_keyInfoThroughSccpCodec(self):
        """
        Keys sent in an SCCP key block (salt padded to 16 bytes on the
        wire) decode to the same keys.
        """
        from srst.sccp._keys import KEY_INFO
        keys = generateKeys()
        wire = KEY_INFO.encode(toKeyInfo(keys), 11)
        self.assertEqual(len(wire), 48)
        self.assertEqual(wire[4:8], b"\x10\x00\x0e\x00")
        self.assertEqual(wire[24:38], keys.masterSalt)
        self.assertEqual(wire[38:40], b"\x00\x00")
        info, _ = KEY_INFO.decode(wire, 0, 11)
        self.assertEqual(fromKeyInfo(info), keys)

    def test_paddedSaltAccepted(self):
        """
        A key block whose salt carries the two zero pad bytes is accepted.
        """
        info = KeyInfo(algorithmId=1, key=KEY, salt=SALT + b"\x00\x00")
        self.assertEqual(fromKeyInfo(info).masterSalt, SALT)

    def test_keyInfoRefused(self):
        """
        Algorithm NONE, an unsupported algorithm, or a short key or salt
        raise SrtpKeyError without showing key bytes.
        """
        for info in (KeyInfo(),
                     KeyInfo(algorithmId=3, key=KEY, salt=SALT),
                     KeyInfo(algorithmId=1, key=KEY[:8], salt=SALT),
                     KeyInfo(algorithmId=1, key=KEY, salt=SALT[:10]),
                     KeyInfo(algorithmId=1, key=KEY, salt=SALT + b"ab")):
            e = self.assertRaises(SrtpKeyError, fromKeyInfo, info)
            self.assertIsInstance(e, ValueError)
            self.assertNotIn(KEY.hex(), str(e))
            self.assertTrue(str(e).startswith("unusable SRTP key block"))
