"""
Tests for L{srst.calls.media}: codec choice, stream ids, SRTP keys per
direction and acknowledgement bookkeeping.
"""

from __future__ import annotations

import itertools

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.media import (
    CARRIED_CODECS,
    DEFAULT_CODEC,
    Codec,
    ForeignCodec,
    MediaSession,
    NoCommonCodec,
    chooseCodec,
    payloadBytes,
)
from srst.media.srtp import SrtpError, SrtpReceiver, SrtpSender, generateKeys

ULAW, ALAW, G729 = Codec.G711_ULAW, Codec.G711_ALAW, ForeignCodec("12")

RTP = bytes.fromhex("80000001000000a0cafebabe") + b"\xd5" * 160


class CodecTests(SynchronousTestCase):
    """
    G.711 u-law or A-law from both capability lists.
    """

    def test_callerPreferenceWins(self) -> None:
        """
        The first codec of the caller's list the callee also has is chosen.
        """
        self.assertIs(chooseCodec([ALAW, ULAW], [ULAW, ALAW]), ALAW)
        self.assertIs(chooseCodec([G729, ULAW, ALAW], [ALAW, ULAW]), ULAW)
        self.assertIs(chooseCodec([G729, ALAW], [ALAW, G729]), ALAW)

    def test_unknownCapabilities(self) -> None:
        """
        A side that sent no capabilities takes the other's first G.711, or
        u-law when neither said.
        """
        self.assertIs(chooseCodec([], []), DEFAULT_CODEC)
        self.assertIs(chooseCodec([], [G729, ALAW]), ALAW)
        self.assertIs(chooseCodec([ULAW], []), ULAW)

    def test_noCommonCodec(self) -> None:
        """
        Lists without a shared G.711 raise L{NoCommonCodec} naming both.
        """
        error = self.assertRaises(NoCommonCodec, chooseCodec, [ULAW], [ALAW])
        self.assertEqual(str(error), "no common G.711 codec between [G711Ulaw64k] and [G711Alaw64k]")
        error = self.assertRaises(NoCommonCodec, chooseCodec, [G729, ULAW], [ALAW, ForeignCodec("9")])
        self.assertEqual(str(error), "no common G.711 codec between [12, G711Ulaw64k] and [G711Alaw64k, 9]")
        self.assertRaises(NoCommonCodec, chooseCodec, [G729], [G729])
        self.assertRaises(NoCommonCodec, chooseCodec, [], [G729])

    def test_names(self) -> None:
        """
        IOS codec names and keywords and G.711 payload sizes for debug lines
        and show commands; the engine carries exactly G.711 u-law and A-law,
        u-law by default.
        """
        self.assertEqual((ULAW.iosName, ALAW.iosName, G729.name), ("G711Ulaw64k", "G711Alaw64k", "12"))
        self.assertEqual((ULAW.keyword, ALAW.keyword), ("g711ulaw", "g711alaw"))
        self.assertEqual((CARRIED_CODECS, DEFAULT_CODEC), ((ULAW, ALAW), ULAW))
        self.assertEqual((payloadBytes(ULAW), payloadBytes(ULAW, 30)), (160, 240))


class MediaSessionTests(SynchronousTestCase):
    """
    Streams and keys of one call.
    """

    def session(self) -> MediaSession:
        return MediaSession(itertools.count(100))

    def test_secureKeysPerDirection(self) -> None:
        """
        A's transmit key is B's receive key (K_AB) and B's transmit key A's
        receive key (K_BA); the two are different, and a packet A protects
        is readable by B only.
        """
        a, b = object(), object()
        streamA, streamB = self.session().open(a, b, ULAW, secure=True)
        self.assertIs(streamA.txKeys, streamB.rxKeys)
        self.assertIs(streamB.txKeys, streamA.rxKeys)
        self.assertNotEqual(streamA.txKeys.masterKey, streamB.txKeys.masterKey)
        self.assertTrue(streamA.encrypted and streamB.encrypted)
        protected = SrtpSender(streamA.txKeys).protect(RTP)
        self.assertEqual(SrtpReceiver(streamB.rxKeys).unprotect(protected), RTP)
        self.assertRaises(SrtpError, SrtpReceiver(generateKeys()).unprotect, protected)
        self.assertNotIn(streamA.txKeys.masterKey.hex(), repr(streamA) + repr(streamA.txKeys))

    def test_music(self) -> None:
        """
        A music stream is receive-only: a fresh receive key when secure, no
        transmit key and no remote; the call's other streams stay, an ack
        records its address but makes nobody transmit, L{MediaSession.close}
        returns it and L{MediaSession.forget} drops only it.
        """
        a, b = object(), object()
        session = self.session()
        streamA, streamB = session.open(a, b, ULAW, secure=True)
        music = session.openMusic(b, ULAW, secure=True)
        self.assertEqual((music.music, music.txKeys, music.remote, music.passThruPartyId), (True, None, None, 102))
        self.assertNotIn(music.rxKeys, (streamA.rxKeys, streamA.txKeys))
        self.assertIsNone(session.openMusic(a, ALAW, secure=False).rxKeys)
        music.receiving = True
        self.assertIsNone(session.ackReceived(b, 102, "127.0.0.2", 4000))
        self.assertEqual(music.address, ("127.0.0.2", 4000))
        session.forget(streamB)
        self.assertIs(session.streamOf(b), music)
        session.forget(music)
        self.assertIsNone(session.streamOf(b))
        self.assertEqual(len(session.close()), 1)

    def test_clearText(self) -> None:
        """
        Without security there are no keys; each stream has its own id.
        """
        streamA, streamB = self.session().open(object(), object(), ALAW, secure=False)
        self.assertEqual((streamA.rxKeys, streamA.txKeys, streamB.rxKeys, streamB.txKeys), (None,) * 4)
        self.assertEqual((streamA.passThruPartyId, streamB.passThruPartyId), (100, 101))
        self.assertEqual((streamA.codec, streamA.milliseconds), (ALAW, 20))

    def test_reopenMakesFreshKeys(self) -> None:
        """
        Closing and opening again (resume) gives new ids and new keys.
        """
        session = self.session()
        a, b = object(), object()
        first, _ = session.open(a, b, ULAW, secure=True)
        self.assertEqual(len(session.close()), 2)
        self.assertEqual(session.close(), [])
        second, _ = session.open(a, b, ULAW, secure=True)
        self.assertNotEqual(first.passThruPartyId, second.passThruPartyId)
        self.assertNotEqual(first.txKeys.masterKey, second.txKeys.masterKey)

    def test_ackBookkeeping(self) -> None:
        """
        An ack records the leg's address and returns the other stream,
        which transmits there; acks for unknown ids, closed sessions or
        ports not yet requested return nothing.
        """
        session = self.session()
        a, b = object(), object()
        streamA, streamB = session.open(a, b, ULAW, secure=False)
        self.assertIsNone(session.ackReceived(a, streamA.passThruPartyId, "10.0.0.1", 2000))
        streamA.receiving = True
        self.assertIsNone(session.ackReceived(a, streamA.passThruPartyId + 7, "10.0.0.1", 2000))
        self.assertIsNone(session.ackReceived(object(), streamA.passThruPartyId, "10.0.0.1", 2000))
        self.assertIs(session.ackReceived(a, streamA.passThruPartyId, "10.0.0.1", 2000), streamB)
        self.assertEqual(streamB.remote.address, ("10.0.0.1", 2000))
        self.assertIs(session.streamOf(b), streamB)
        session.close()
        self.assertIsNone(session.ackReceived(a, streamA.passThruPartyId, "10.0.0.1", 2000))
        self.assertIsNone(session.streamOf(b))
