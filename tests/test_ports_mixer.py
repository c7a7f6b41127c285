"""
Tests for L{srst.ports.mixer}: the tables against the scalar G.711 codec,
and the mix-minus properties (hypothesis).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from srst.ports.g711 import G711Law, alawToLinear, linearToAlaw, linearToUlaw, ulawToLinear
from srst.ports.mixer import OFFSET_DECODE, JitterSlot, clipEncodeTable, mixMinus

_DECODE = {G711Law.ULAW: ulawToLinear, G711Law.ALAW: alawToLinear}
_ENCODE = {G711Law.ULAW: linearToUlaw, G711Law.ALAW: linearToAlaw}

laws = st.sampled_from(list(G711Law))
SAMPLES = 16


def payloads(size: int = SAMPLES) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size)


def expected(law: G711Law, others: list[tuple[bytes, G711Law]]) -> bytes:
    """The scalar reference: decode, sum, clamp, encode."""
    out = []
    for i in range(SAMPLES):
        total = sum(_DECODE[l](p[i]) for p, l in others)
        out.append(_ENCODE[law](max(-32768, min(32767, total))))
    return bytes(out)


class TableTests(SynchronousTestCase):
    """The decode and clip-encode tables."""

    def test_offsetDecode(self) -> None:
        """Every code decodes to its linear value plus 32768."""
        for law in G711Law:
            self.assertEqual([OFFSET_DECODE[law][c] - 32768 for c in range(256)],
                             [_DECODE[law](c) for c in range(256)])

    @settings(max_examples=300, deadline=None)
    @given(law=laws, inputs=st.integers(1, 4), data=st.data())
    def test_clipEncode(self, law: G711Law, inputs: int, data: st.DataObject) -> None:
        """An offset sum's entry is the encoding of the clamped linear sum."""
        table = clipEncodeTable(law, inputs)
        self.assertEqual(len(table), inputs * 65535 + 1)
        index = data.draw(st.integers(0, inputs * 65535))
        linear = max(-32768, min(32767, index - inputs * 32768))
        self.assertEqual(table[index], _ENCODE[law](linear))

    def test_noInputs(self) -> None:
        """A mix of nothing is refused with a reason."""
        e = self.assertRaises(ValueError, clipEncodeTable, G711Law.ULAW, 0)
        self.assertEqual(str(e), "a mix sums at least one input, not 0")


class MixMinusTests(SynchronousTestCase):
    """L{mixMinus}."""

    @settings(max_examples=200, deadline=None)
    @given(frames=st.lists(st.tuples(payloads(), laws), min_size=2, max_size=5))
    def test_sumOfOthers(self, frames: list[tuple[bytes, G711Law]]) -> None:
        """
        Each output is the clamped sum of every other input, in the
        output's law, and nothing of its own input (whatever it is).
        """
        out = mixMinus([p for p, _ in frames], [l for _, l in frames], SAMPLES)
        for i, (own, law) in enumerate(frames):
            others = frames[:i] + frames[i + 1:]
            self.assertEqual(out[i], expected(law, others))

    @settings(max_examples=100, deadline=None)
    @given(frames=st.lists(st.tuples(payloads(), laws), min_size=3, max_size=4),
           replacement=payloads())
    def test_ownInputNeverHeard(self, frames: list[tuple[bytes, G711Law]], replacement: bytes) -> None:
        """Changing a participant's own input leaves its output alone."""
        before = mixMinus([p for p, _ in frames], [l for _, l in frames], SAMPLES)
        changed = [replacement] + [p for p, _ in frames[1:]]
        after = mixMinus(changed, [l for _, l in frames], SAMPLES)
        self.assertEqual(after[0], before[0])

    @settings(max_examples=50, deadline=None)
    @given(mix=st.lists(laws, min_size=1, max_size=5))
    def test_silence(self, mix: list[G711Law]) -> None:
        """
        Missing frames give exact silence codes out; silence codes in (A-law
        has no exact zero: its silence is +8) give no more than their sum.
        """
        out = mixMinus([None] * len(mix), mix, SAMPLES)
        self.assertEqual([set(o) for o in out], [{l.silence} for l in mix])
        out = mixMinus([bytes((l.silence,)) * SAMPLES for l in mix], mix, SAMPLES)
        for o, l in zip(out, mix):
            self.assertLessEqual(max(abs(_DECODE[l](c)) for c in o), 32 * len(mix))

    def test_missingAndShortFrames(self) -> None:
        """A missing frame is silence; a short one is padded, a long one cut."""
        loud = bytes([0x80]) * SAMPLES  # µ-law +32124
        out = mixMinus([loud[:4], None, loud + loud], [G711Law.ULAW] * 3, SAMPLES)
        self.assertEqual(out[1], bytes([0x80]) * SAMPLES)  # clipped sum of two loud ones
        self.assertEqual(out[2], bytes([0x80]) * 4 + bytes([0xFF]) * (SAMPLES - 4))

    def test_mismatch(self) -> None:
        """Payloads and laws must pair up."""
        e = self.assertRaises(ValueError, mixMinus, [None, None], [G711Law.ULAW])
        self.assertEqual(str(e), "2 payloads but 1 laws")


class JitterSlotTests(SynchronousTestCase):
    """L{JitterSlot}."""

    def test_oldestFirst(self) -> None:
        """Payloads come out oldest first; an empty slot counts an underrun."""
        slot = JitterSlot()
        slot.put(b"a")
        slot.put(b"b")
        self.assertEqual((slot.take(), slot.take(), slot.take()), (b"a", b"b", None))
        self.assertEqual((slot.underruns, slot.overruns), (1, 0))

    def test_overrun(self) -> None:
        """A full slot drops its oldest payload and counts an overrun."""
        slot = JitterSlot(depth=3)
        for payload in (b"1", b"2", b"3", b"4"):
            slot.put(payload)
        self.assertEqual((len(slot), slot.overruns), (3, 1))
        self.assertEqual(slot.take(), b"2")
