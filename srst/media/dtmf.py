# -*- test-case-name: tests.test_media_dtmf -*-
"""
DTMF digits as RTP telephone-events (RFC 4733, which obsoletes RFC 2833),
sans-IO.

L{encodeTelephoneEvent} and L{decodeTelephoneEvent} are the codec of the
four-octet event payload.  L{DigitRelay} is the sender's schedule: given
digits, it says what to send in each packet interval instead of audio.
A digit starts with a packet carrying the marker bit, is repeated every
interval with a growing duration (all with the event's start timestamp),
and ends with three packets carrying the E bit and the final duration
(RFC 4733 2.5.1.4).  The stream's timestamp then moves on by the time the
event occupied, so the audio that follows keeps its clock.

Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Optional

from attrs import frozen

TELEPHONE_EVENT = "telephone-event"
"""The encoding name of RFC 4733 events in C{a=rtpmap} (clock rate 8000)."""

DIGIT_EVENTS = {digit: code for code, digit in enumerate("0123456789*#ABCD")}
"""RFC 4733 3.2 event codes of the DTMF digits (0-9, 10 C{*}, 11 C{#}, 12-15 A-D)."""

EVENT_DIGITS = {code: digit for digit, code in DIGIT_EVENTS.items()}
"""The digit of each DTMF event code."""

DEFAULT_VOLUME = 10
"""Power of the tone the event stands for, in -dBm0 (RFC 4733 2.3.4)."""

DIGIT_DURATION = 800
"""Timestamp units (100 ms at 8 kHz) each relayed digit lasts."""

END_REPEATS = 3
"""How many times the end packet of an event is sent (RFC 4733 2.5.1.4)."""

_PAYLOAD = struct.Struct("!BBH")


class TelephoneEventError(ValueError):
    """
    A payload is not a valid telephone-event, or an event cannot be encoded.

    @ivar reason: what is wrong, one line.
    """

    def __init__(self, reason: str) -> None:
        ValueError.__init__(self, reason)
        self.reason = reason

    def __str__(self) -> str:
        return "bad telephone-event: %s" % (self.reason,)


@frozen
class TelephoneEvent:
    """
    One telephone-event payload (RFC 4733 2.3).

    @ivar event: the event code (0-15 for DTMF).
    @ivar end: the E bit: the event has ended.
    @ivar volume: power level, 0-63 (-dBm0).
    @ivar duration: timestamp units since the event began, 0-65535.
    """

    event: int
    end: bool = False
    volume: int = DEFAULT_VOLUME
    duration: int = 0

    @property
    def digit(self) -> Optional[str]:
        """The DTMF digit of the event, or L{None} for another event."""
        return EVENT_DIGITS.get(self.event)


def encodeTelephoneEvent(event: TelephoneEvent) -> bytes:
    """
    @param event: the event.
    @return: its four-octet payload (the R bit zero).
    @raise TelephoneEventError: for a field out of range.
    """
    if not 0 <= event.event <= 255:
        raise TelephoneEventError("event %r out of 0-255" % (event.event,))
    if not 0 <= event.volume <= 63:
        raise TelephoneEventError("volume %r out of 0-63" % (event.volume,))
    if not 0 <= event.duration <= 0xFFFF:
        raise TelephoneEventError("duration %r out of 0-65535" % (event.duration,))
    return _PAYLOAD.pack(event.event, (0x80 if event.end else 0) | event.volume, event.duration)


def decodeTelephoneEvent(payload: bytes) -> TelephoneEvent:
    """
    @param payload: an RTP payload of the telephone-event payload type.
    @return: the event (a payload carrying several events gives the first).
    @raise TelephoneEventError: for a payload that is not a multiple of
        four octets or is empty.
    """
    if not payload or len(payload) % _PAYLOAD.size:
        raise TelephoneEventError("payload of %d octets" % (len(payload),))
    event, flags, duration = _PAYLOAD.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


@frozen
class EventPacket:
    """
    One packet of a relayed digit.

    @ivar payload: the telephone-event payload.
    @ivar marker: the RTP marker bit (the first packet of an event).
    @ivar timestampAdvance: how far the stream's timestamp moves after
        this packet: 0 until the event's last packet, which moves it by the
        intervals the event took.
    """

    payload: bytes
    marker: bool
    timestampAdvance: int


class DigitRelay:
    """
    The schedule of digits relayed as telephone-events, one packet
    interval at a time.

    Each digit takes C{spacing} timestamp units, as in-band digits do
    (L{srst.ports.tones.dtmfSamples}: 100 ms tone, 100 ms silence): its
    event packets, then audio intervals until the next digit may start.

    @ivar interval: timestamp units per packet interval (160: 20 ms).
    @ivar duration: timestamp units each digit's event lasts.
    @ivar spacing: timestamp units from one digit's start to the next's.
    @ivar busy: whether a digit is being sent, waits to be, or the
        silence after one lasts (read every interval: a plain attribute).
    """

    def __init__(self, interval: int = 160, duration: int = DIGIT_DURATION,
                 spacing: int = 2 * DIGIT_DURATION) -> None:
        if interval <= 0 or not interval <= duration <= 0xFFFF:
            raise ValueError("bad interval %r / duration %r" % (interval, duration))
        self.interval = interval
        self.duration = duration
        self.spacing = spacing
        self.busy = False
        self._pending: deque[int] = deque()
        self._event: Optional[int] = None
        self._elapsed = 0
        self._ends = 0
        self._sent = 0
        self._quiet = 0

    def add(self, digits: str) -> None:
        """
        Queue digits to relay after those already queued.

        @param digits: DTMF digits, C{0-9 * # A-D} (lower case accepted).
        @raise TelephoneEventError: for anything else; nothing is queued.
        """
        codes = []
        for digit in digits.upper():
            if digit not in DIGIT_EVENTS:
                raise TelephoneEventError("%r is no DTMF digit" % (digit,))
            codes.append(DIGIT_EVENTS[digit])
        self._pending.extend(codes)
        self.busy = self.busy or bool(codes)

    def clear(self) -> None:
        """Forget every digit (the stream stops or the call ends)."""
        self._pending.clear()
        self._event = None
        self._quiet = 0
        self.busy = False

    def next(self) -> Optional[EventPacket]:
        """
        The packet to send in this interval instead of audio.

        @return: the packet, or L{None} to send audio in this interval.
        """
        if self._event is None:
            if self._quiet:
                self._quiet -= 1
                self.busy = bool(self._quiet or self._pending)
                return None
            if not self._pending:
                self.busy = False
                return None
            self._event = self._pending.popleft()
            self._elapsed = self.interval
            self._ends = self._sent = 0
            return self._packet(marker=True)
        if self._elapsed < self.duration:
            self._elapsed = min(self._elapsed + self.interval, self.duration)
        return self._packet(marker=False)

    def _packet(self, marker: bool) -> EventPacket:
        assert self._event is not None
        end = self._elapsed >= self.duration
        event = TelephoneEvent(self._event, end, DEFAULT_VOLUME, self._elapsed)
        advance = 0
        self._sent += 1
        if end:
            self._ends += 1
            if self._ends == END_REPEATS:
                # The event took one interval per packet sent for it.
                advance = self.interval * self._sent
                self._event = None
                self._quiet = max(0, -(-self.spacing // self.interval) - self._sent)
                self.busy = bool(self._quiet or self._pending)
        return EventPacket(encodeTelephoneEvent(event), marker, advance)


__all__ = ["DEFAULT_VOLUME", "DIGIT_DURATION", "DIGIT_EVENTS", "DigitRelay", "END_REPEATS",
           "EVENT_DIGITS", "EventPacket", "TELEPHONE_EVENT", "TelephoneEvent", "TelephoneEventError",
           "decodeTelephoneEvent", "encodeTelephoneEvent"]
