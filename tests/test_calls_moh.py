"""
Tests for music on hold in the call engine (L{srst.calls.engine} with
L{srst.calls.mediaservices.IHoldMusic}): the held party gets a receive-only
stream whose key is the one the router's listener sends with, the ack
starts the listener, and every way out of hold (resume, a second holder, a
transfer, a hang-up, a pickup) closes it.  Without media services the
engine behaves as before (L{tests.test_calls_engine}).
"""

from __future__ import annotations

from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.calls.interfaces import ICallEndpoint
from srst.calls.media import Codec
from srst.calls.mediaservices import ConferenceRefused, IConferenceBridges, IHoldMusic, IMediaPort, Music
from srst.media.srtp import generateKeys
from tests.callhelpers import FakeEndpoint
from tests.mediafakes import FakeBridges, FakeHoldMusic
from tests.test_calls_engine import Calls


def musicCalls(music: FakeHoldMusic | None = None, secure: bool = False, **kwargs: object) -> tuple[Calls, FakeHoldMusic]:
    """@return: L{Calls} whose engine uses C{music} (a new L{FakeHoldMusic} by default)."""
    music = music if music is not None else FakeHoldMusic()
    calls = Calls(**kwargs)
    calls.a.secure = calls.b.secure = calls.c.secure = secure
    calls.engine.useMediaServices(music, None)
    return calls, music


class FakesTests(SynchronousTestCase):
    """
    The fakes provide the interfaces the engine uses.
    """

    def test_interfaces(self) -> None:
        """
        L{FakeHoldMusic}, its ports and L{FakeBridges} provide the
        interfaces of L{srst.calls.mediaservices}; L{ConferenceRefused}
        carries its reason.
        """
        music = FakeHoldMusic()
        self.assertTrue(verifyObject(IHoldMusic, music))
        self.assertTrue(verifyObject(IMediaPort, music.listen(Codec.G711_ULAW, None, "x")))
        self.assertTrue(verifyObject(IConferenceBridges, FakeBridges(FakeEndpoint)))
        self.assertTrue(verifyObject(ICallEndpoint, FakeEndpoint()))
        self.assertEqual(ConferenceRefused("max-conferences 8 reached").reason, "max-conferences 8 reached")


class HoldMusicTests(SynchronousTestCase):
    """
    Hold with music on hold configured.
    """

    def test_holdOpensMusic(self) -> None:
        """
        Hold on a secure call: Bob is held without the tone and gets a
        receive-only stream with a fresh receive key, the key the listener
        was made to send with; Bob's ack starts the listener towards Bob's
        address (and a repeated ack does not restart it).
        """
        calls, music = musicCalls(secure=True)
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        self.assertEqual(calls.b.names(), ["heldByRemote", "openReceive"])
        self.assertIs(calls.b.events[0][3], False)
        stream = calls.b.events[1][2]
        [port] = music.ports
        self.assertTrue(stream.music)
        self.assertIsNotNone(stream.rxKeys)
        self.assertIs(port.txKeys, stream.rxKeys)
        self.assertEqual((stream.txKeys, stream.remote, port.label, port.codec), (None, None, "2002", Codec.G711_ULAW))
        self.assertEqual(port.started, [])
        calls.engine.mediaReady(legB, stream.passThruPartyId, "127.0.0.2", 24000)
        calls.engine.mediaReady(legB, stream.passThruPartyId, "127.0.0.2", 24000)
        self.assertEqual(port.started, [("127.0.0.2", 24000)])
        self.assertNotIn("startTransmit", calls.a.names() + calls.b.names())

    def test_keysFresh(self) -> None:
        """
        The music key is fresh: neither of the call's own keys, and a new
        one on every hold.
        """
        keys = iter([generateKeys() for _ in range(8)])
        calls, music = musicCalls(secure=True, keyFactory=lambda: next(keys))
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        calls.engine.resume(legA)
        [call] = calls.engine.calls()
        callKeys = [k for s in call.media.streams.values() for k in (s.rxKeys, s.txKeys)]
        calls.engine.hold(legA)
        first, second = music.ports
        self.assertIsNot(first.txKeys, second.txKeys)
        self.assertIsNotNone(first.txKeys)
        self.assertNotIn(second.txKeys, callKeys)

    def test_resumeClosesMusicFirst(self) -> None:
        """
        Resume: Bob's music stream is closed (L{ICallEndpoint.mediaClosed})
        and the listener closed before the new media opens.
        """
        calls, music = musicCalls()
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        stream = calls.b.events[1][2]
        calls.engine.resume(legA)
        self.assertEqual(calls.b.names()[2:], ["mediaClosed", "resumedByRemote", "openReceive"])
        self.assertIs(calls.b.events[2][2], stream)
        self.assertTrue(music.ports[0].closed)
        [call] = calls.engine.calls()
        self.assertIsNone(call.music)
        self.assertFalse(calls.b.events[-1][2].music)

    def test_secondHolderClosesMusic(self) -> None:
        """
        Bob holding while hearing music: Bob's hold closes the music
        stream (L{ICallEndpoint.held} gets it) and the listener; Alice,
        holding already, hears nothing new.
        """
        calls, music = musicCalls()
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        stream = calls.b.events[1][2]
        calls.clear()
        calls.engine.hold(legB)
        self.assertEqual(calls.b.events, [("held", legB, stream)])
        self.assertEqual(calls.a.names(), [])
        self.assertEqual(music.open(), [])

    def test_hangUpClosesMusic(self) -> None:
        """
        Alice hanging up on held Bob: Bob's release closes the music stream
        and the listener closes; Bob hanging up does the same.
        """
        for hangsUp in ("a", "b"):
            calls, music = musicCalls()
            legA, legB = calls.connected()
            calls.engine.hold(legA)
            stream = calls.b.events[1][2]
            calls.engine.hangUp(legA if hangsUp == "a" else legB)
            self.assertEqual(calls.b.events[-1], ("released", legB, stream, True))
            self.assertNotIn("mediaClosed", calls.b.names())
            self.assertEqual(music.open(), [])
            calls.assertIdle(self)

    def test_transferClosesMusic(self) -> None:
        """
        A completed consultative transfer: Bob's music closes before Bob
        and Carol connect with new media.
        """
        calls, music = musicCalls(channelsPerDn=2)
        legA, legB = calls.connected()
        consult = calls.engine.transfer(legA)
        self.assertEqual(calls.b.names(), ["heldByRemote", "openReceive"])
        calls.setup.dial(consult, "2003")
        [legC] = calls.engine.legsOf(calls.c)
        calls.engine.answer(legC)
        calls.engine.transfer(consult)
        self.assertEqual(calls.b.names()[2:], ["mediaClosed", "connected", "openReceive"])
        self.assertEqual(music.open(), [])
        self.assertEqual(len(music.ports), 1)

    def test_transferCancelledResumes(self) -> None:
        """
        The consult leg hanging up resumes the held call: the music closes.
        """
        calls, music = musicCalls(channelsPerDn=2)
        legA, legB = calls.connected()
        consult = calls.engine.transfer(legA)
        calls.engine.hangUp(consult)
        self.assertEqual(calls.b.names()[2:], ["mediaClosed", "resumedByRemote", "openReceive"])
        self.assertEqual(music.open(), [])

    def test_sharedLinePickUpClosesMusic(self) -> None:
        """
        The desk phone holds a shared-line call (Alice hears music) and
        Bob's phone picks it up: Alice's music closes before the new media.
        """
        calls, music = musicCalls(shared=True)
        calls.aCalls("2002")
        [legDesk] = calls.engine.legsOf(calls.desk)
        calls.engine.answer(legDesk)
        [call] = calls.engine.calls()
        [monitor] = call.monitors
        calls.clear()
        calls.engine.hold(legDesk)
        self.assertEqual(calls.a.names(), ["heldByRemote", "openReceive"])
        calls.engine.pickUp(calls.b, monitor.reference)
        self.assertEqual(calls.a.names()[2:], ["mediaClosed", "resumedByRemote", "openReceive"])
        self.assertEqual(music.open(), [])

    def test_secureToneMode(self) -> None:
        """
        C{moh-secure tone}: a secure held party hears the tone on hold (IOS)
        and gets no stream; a clear one still gets the music.
        """
        calls, music = musicCalls(FakeHoldMusic("tone"), secure=True)
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        self.assertEqual([(e[0],) + e[3:] for e in calls.b.events], [("heldByRemote", True)])
        self.assertEqual(music.ports, [])
        calls, music = musicCalls(FakeHoldMusic("tone"))
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        self.assertEqual(calls.b.names(), ["heldByRemote", "openReceive"])

    def test_voicePortClearMusic(self) -> None:
        """
        A held voice port (L{ICallEndpoint.outside}) on a secure call gets
        clear RTP music (the router to its own DSP over loopback): no
        receive key, a listener sending without keys; C{moh-secure tone}
        (IOS's rule for secure phones) still gives it the music.
        """
        for mode in ("srtp", "tone"):
            calls, music = musicCalls(FakeHoldMusic(mode), secure=True)
            calls.b.outside = True
            legA, legB = calls.connected()
            [call] = calls.engine.calls()
            self.assertTrue(call.secure)
            calls.engine.hold(legA)
            self.assertEqual(calls.b.names(), ["heldByRemote", "openReceive"])
            stream = calls.b.events[1][2]
            [port] = music.ports
            self.assertEqual((stream.music, stream.rxKeys, port.txKeys), (True, None, None))

    def test_unavailableGivesTone(self) -> None:
        """
        The music file gone (L{IHoldMusic.available} false): the tone on
        hold as without music.
        """
        calls, music = musicCalls(FakeHoldMusic(loaded=False))
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        self.assertEqual([(e[0],) + e[3:] for e in calls.b.events], [("heldByRemote", True)])
        self.assertEqual(music.ports, [])

    def test_noPortGivesTone(self) -> None:
        """
        L{MediaUnavailable} from L{IHoldMusic.listen} (no RTP port free):
        the tone on hold, no stream left on the call, and a warning naming
        the line and the reason.
        """
        calls, music = musicCalls(FakeHoldMusic(free=0))
        legA, legB = calls.connected()
        with capturedLogs() as events:
            calls.engine.hold(legA)
        self.assertEqual([(e[0],) + e[3:] for e in calls.b.events], [("heldByRemote", True)])
        [call] = calls.engine.calls()
        self.assertEqual((call.music, call.media.streams), (None, {}))
        self.assertIn("call %d: no music on hold for 2002 (no RTP port free in the range): tone on hold"
                      % (call.number,), [formatEvent(e) for e in events])

    def test_musicFailedKeepsCall(self) -> None:
        """
        Bob's endpoint failing to open the music stream
        (L{CallEngine.mediaFailed}) stops the music; the call stays held
        and Bob hears the tone on hold instead of silence.
        """
        calls, music = musicCalls()
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        calls.engine.mediaFailed(legB, "no RTP port")
        self.assertEqual(music.open(), [])
        [call] = calls.engine.calls()
        self.assertTrue(call.isHeldBy(legA))
        self.assertEqual(calls.b.names()[-2:], ["mediaClosed", "heldByRemote"])
        self.assertEqual(calls.b.events[-1][2:], (None, True))

    def test_secureMusicFailedNoTone(self) -> None:
        """
        The music failing on a secure call (C{moh-secure srtp}) follows
        hold's rule: no tone on hold for the secure party, the call held.
        """
        calls, music = musicCalls(secure=True)
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        calls.engine.mediaFailed(legB, "no RTP port")
        self.assertEqual(calls.b.names(), ["heldByRemote", "openReceive", "mediaClosed"])
        [call] = calls.engine.calls()
        self.assertTrue(call.isHeldBy(legA))

    def test_withoutServicesUnchanged(self) -> None:
        """
        Without media services (or with L{None}), hold is as before: the
        tone on a clear call, no stream.
        """
        calls = Calls()
        calls.engine.useMediaServices(None, None)
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        self.assertEqual([(e[0],) + e[3:] for e in calls.b.events], [("heldByRemote", True)])

    def test_musicValue(self) -> None:
        """
        L{Music} holds the stream and the port.
        """
        music = FakeHoldMusic()
        port = music.listen(Codec.G711_ALAW, None, "x")
        calls = Calls()
        legA, legB = calls.connected()
        [call] = calls.engine.calls()
        stream = call.media.openMusic(legB, Codec.G711_ALAW, False)
        self.assertEqual((Music(stream, port).port, stream.rxKeys, stream.codec), (port, None, Codec.G711_ALAW))
        self.assertIs(call.media.close()[-1], stream)
