"""
Tests for L{srst.sccp._framing}: cutting an SCCP byte stream into frames.
"""

import json
import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from srst.sccp.messages import (
    MAX_FRAME,
    DecodeError,
    FrameError,
    KeepAlive,
    decodeMessage,
    encodeMessage,
    splitFrames,
)

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "fixtures", "sccp_frames.json")


def frame(messageId, body=b"", version=0):
    """
    Build one frame by hand.
    """
    return struct.pack("<III", 4 + len(body), version, messageId) + body


def captureStream():
    """
    The router-to-phone frames of the CUCM 4.1 registration capture, in
    order: a real pipelined stream.
    """
    with open(FIXTURE) as f:
        records = json.load(f)
    return [bytes.fromhex(r["hex"]) for r in records
            if r["capture"] == "cm_cap.pcapng" and r["direction"] == "toPhone"]


def chunked(data, cuts):
    """
    Split C{data} at the given (sorted, deduplicated) positions.
    """
    positions = sorted({c for c in cuts if 0 < c < len(data)})
    chunks = []
    start = 0
    for position in positions:
        chunks.append(data[start:position])
        start = position
    chunks.append(data[start:])
    return chunks


def feed(chunks, maxFrame=MAX_FRAME):
    """
    Run chunks through L{splitFrames} as a protocol would, keeping the
    remainder; return the frames and the largest remainder seen.
    """
    buffer = b""
    frames = []
    largest = 0
    for chunk in chunks:
        got, buffer = splitFrames(buffer + chunk, maxFrame)
        frames.extend(got)
        largest = max(largest, len(buffer))
    return frames, buffer, largest


class SplitFramesTests(SynchronousTestCase):
    """
    L{splitFrames} returns complete frames and the incomplete remainder.
    """

    def test_emptyBuffer(self):
        """An empty buffer yields no frames and an empty remainder."""
        self.assertEqual(splitFrames(b""), ([], b""))

    def test_oneFrame(self):
        """A buffer holding exactly one frame yields it and no remainder."""
        data = frame(0x0000)
        self.assertEqual(splitFrames(data), ([data], b""))

    def test_pipelinedFrames(self):
        """
        Several messages in one segment (as phones send their template and
        status requests) come out as separate frames, in order.
        """
        frames = [frame(0x000E), frame(0x0028), frame(0x0025),
                  frame(0x000B, b"\x01\x00\x00\x00"), frame(0x002D, b"\0" * 4)]
        self.assertEqual(splitFrames(b"".join(frames)), (frames, b""))

    def test_frameSplitOverSegments(self):
        """
        A frame that arrives in pieces is returned once the last piece is
        there; until then it is the remainder.
        """
        data = frame(0x0092, b"x" * 100)
        frames, remainder = splitFrames(data[:7])
        self.assertEqual((frames, remainder), ([], data[:7]))
        frames, remainder = splitFrames(remainder + data[7:50])
        self.assertEqual((frames, remainder), ([], data[:50]))
        frames, remainder = splitFrames(remainder + data[50:] + data[:3])
        self.assertEqual((frames, remainder), ([data], data[:3]))

    def test_realStream(self):
        """
        The concatenated router frames of a real registration split back
        into exactly those frames, each of which decodes.
        """
        stream = captureStream()
        frames, remainder = splitFrames(b"".join(stream))
        self.assertEqual((frames, remainder), (stream, b""))
        for f in frames:
            decodeMessage(f, protocolVersion=6)

    def test_lengthBelowFour(self):
        """
        A length field below 4 (no room for the message id) raises
        L{FrameError} naming the offset of the bad header.
        """
        data = frame(0x0000) + struct.pack("<II", 3, 0)
        error = self.assertRaises(FrameError, splitFrames, data)
        self.assertEqual(error.offset, 12)
        self.assertIsNone(error.messageId)
        self.assertIn("length field 3 is below 4", str(error))

    def test_oversizedFrame(self):
        """
        A length announcing a frame over the limit raises L{FrameError} as
        soon as the length field is there, before the body arrives.
        """
        error = self.assertRaises(FrameError, splitFrames,
                                  struct.pack("<I", MAX_FRAME - 7))
        self.assertEqual(error.offset, 0)
        self.assertIn("exceeds the %d-byte limit" % (MAX_FRAME,),
                      str(error))

    def test_largestFrameAccepted(self):
        """A frame of exactly the limit is accepted."""
        data = frame(0x7777, b"\0" * (MAX_FRAME - 12))
        self.assertEqual(splitFrames(data), ([data], b""))

    def test_customLimit(self):
        """The limit is a parameter."""
        data = frame(0x0092, b"x" * 100)
        self.assertRaises(FrameError, splitFrames, data, 100)
        self.assertEqual(splitFrames(data, 112), ([data], b""))

    def test_frameErrorIsDecodeError(self):
        """
        L{FrameError} is a L{DecodeError} and a L{ValueError}, so one handler
        covers every bad-input case; its message is one line.
        """
        error = self.assertRaises(DecodeError, splitFrames, b"\0" * 8)
        self.assertIsInstance(error, FrameError)
        self.assertIsInstance(error, ValueError)
        self.assertNotIn("\n", str(error))

    def test_acceptsBytearrayAndMemoryview(self):
        """A bytearray or memoryview buffer works like bytes."""
        data = frame(0x0000) * 2
        self.assertEqual(splitFrames(bytearray(data))[0], [frame(0x0000)] * 2)
        self.assertEqual(splitFrames(memoryview(data))[0],
                         [frame(0x0000)] * 2)


class SplitFramesPropertyTests(SynchronousTestCase):
    """
    Properties of L{splitFrames} over generated input.
    """

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.integers(min_value=0, max_value=4000), max_size=40))
    def test_chunkingDoesNotMatter(self, cuts):
        """
        However a real stream is chunked, the same frames come out, nothing
        is left over, and the remainder never exceeds one frame.
        """
        stream = captureStream()
        data = b"".join(stream)
        frames, remainder, largest = feed(chunked(data, cuts))
        self.assertEqual(frames, stream)
        self.assertEqual(remainder, b"")
        self.assertLess(largest, max(len(f) for f in stream))

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=300), st.integers(min_value=12,
                                                max_value=MAX_FRAME))
    def test_arbitraryBytes(self, data, maxFrame):
        """
        Arbitrary bytes either split into frames whose length fields are
        consistent, with a remainder shorter than C{maxFrame}, or raise
        L{FrameError} at the offset of a length field that is below 4 or
        announces more than C{maxFrame} bytes, the bytes before it being
        whole frames; nothing else escapes.
        """
        try:
            frames, remainder = splitFrames(data, maxFrame)
        except FrameError as e:
            (length,) = struct.unpack_from("<I", data, e.offset)
            self.assertTrue(length < 4 or length + 8 > maxFrame, (length, maxFrame))
            self.assertEqual(splitFrames(data[:e.offset], maxFrame)[1], b"")
            self.assertTrue(str(e).startswith("bad SCCP frame at stream offset %d: " % (e.offset,)), str(e))
            return
        for f in frames:
            self.assertEqual(struct.unpack_from("<I", f)[0] + 8, len(f))
            self.assertLessEqual(len(f), maxFrame)
        self.assertEqual(b"".join(frames) + remainder, data)
        self.assertLess(len(remainder), maxFrame)

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.binary(max_size=64), max_size=10),
           st.lists(st.integers(min_value=0, max_value=800), max_size=20))
    def test_generatedMessagesAnyChunking(self, bodies, cuts):
        """
        Frames of generated sizes (including empty bodies) survive any
        chunking unchanged and in order.
        """
        frames = [frame(0x7700 + i, body) for i, body in enumerate(bodies)]
        frames.append(encodeMessage(KeepAlive(), protocolVersion=11))
        got, remainder, _ = feed(chunked(b"".join(frames), cuts))
        self.assertEqual((got, remainder), (frames, b""))
