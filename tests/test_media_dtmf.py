"""
Tests for L{srst.media.dtmf}: the RFC 4733 telephone-event codec and the
sender's schedule of a relayed digit.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.media.dtmf import (
    DigitRelay,
    TelephoneEvent,
    TelephoneEventError,
    decodeTelephoneEvent,
    encodeTelephoneEvent,
)


class CodecTests(SynchronousTestCase):
    """The four-octet event payload (RFC 4733 2.3)."""

    def test_roundTrip(self) -> None:
        """An end packet of C{#} encodes as RFC 4733 lays it out and decodes back."""
        event = TelephoneEvent(11, end=True, volume=10, duration=800)
        self.assertEqual(encodeTelephoneEvent(event), b"\x0b\x8a\x03\x20")
        self.assertEqual(decodeTelephoneEvent(b"\x0b\x8a\x03\x20"), event)
        self.assertEqual(event.digit, "#")

    def test_badPayload(self) -> None:
        """A payload that is not whole events is refused with its length."""
        error = self.assertRaises(TelephoneEventError, decodeTelephoneEvent, b"\x05\x0a\x00")
        self.assertEqual(str(error), "bad telephone-event: payload of 3 octets")

    def test_badField(self) -> None:
        """A duration beyond 16 bits cannot be encoded."""
        error = self.assertRaises(TelephoneEventError, encodeTelephoneEvent,
                                  TelephoneEvent(5, duration=70000))
        self.assertEqual(str(error), "bad telephone-event: duration 70000 out of 0-65535")


class DigitRelayTests(SynchronousTestCase):
    """The packets of relayed digits, one per 20 ms interval."""

    def test_twoDigits(self) -> None:
        """
        Each digit: a marked start, growing durations, three end packets,
        then audio until 200 ms after its start; the last end packet moves
        the timestamp on by the seven intervals the event took.
        """
        relay = DigitRelay()
        relay.add("1a")
        packets = [relay.next() for _ in range(22)]
        shapes = [None if p is None else (decodeTelephoneEvent(p.payload).digit, p.marker,
                                          decodeTelephoneEvent(p.payload).end,
                                          decodeTelephoneEvent(p.payload).duration, p.timestampAdvance)
                  for p in packets]
        one = [("1", True, False, 160, 0), ("1", False, False, 320, 0), ("1", False, False, 480, 0),
               ("1", False, False, 640, 0), ("1", False, True, 800, 0), ("1", False, True, 800, 0),
               ("1", False, True, 800, 1120), None, None, None]
        self.assertEqual(shapes[:10], one)
        self.assertEqual(shapes[10:20], [s and ("A",) + s[1:] for s in one])
        self.assertEqual(shapes[20:], [None, None])
        self.assertFalse(relay.busy)

    def test_notADigit(self) -> None:
        """Anything but C{0-9 * # A-D} is refused and nothing is queued."""
        relay = DigitRelay()
        self.assertRaises(TelephoneEventError, relay.add, "5x")
        self.assertIsNone(relay.next())
        self.assertFalse(relay.busy)
