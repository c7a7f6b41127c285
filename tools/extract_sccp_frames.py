#!/usr/bin/env python3
"""
Extract every SCCP frame from the reference captures into a JSON fixture.

Usage::

    python3 tools/extract_sccp_frames.py [--captures DIR] [--output FILE]

Defaults: C{/work/shared/captures} and C{tests/fixtures/sccp_frames.json}
(relative to the repository root).

For each C{*.pcap} / C{*.pcapng} in the capture directory, C{tshark} lists
every TCP segment with payload to or from port 2000 (stream index, ports,
absolute sequence number, payload hex).  This script reassembles each
direction of each TCP stream by sequence number (dropping retransmitted
bytes), then cuts the byte stream into SCCP frames on the 12-byte header
(C{length} u32 LE = 4 + body length, total frame = 8 + C{length}).  A
direction whose stream ends in the middle of a frame (the capture stopped)
contributes only its complete frames.  The frame cutting is deliberately
independent of C{srst.sccp}, so that the fixture is an outside test vector
for the codec.

The frames of C{cucm_frames.json} (selected frames from the same captures,
as published with them) are added as well; their direction is inferred from
the message id.

Each record of the output::

    {"capture": "cm_cap.pcapng", "frame": 31, "stream": 0,
     "direction": "fromPhone", "messageId": 1, "complete": true,
     "hex": "..."}

C{frame} is the number of the capture frame that holds the first byte of
the SCCP frame (for C{cucm_frames.json} records it is the frame number given
there, or C{null} when the key is a name, which then goes into C{label}).
C{direction} is C{"fromPhone"} (to TCP port 2000) or C{"toPhone"}.
C{complete} is false for the few C{cucm_frames.json} entries that were cut
short when they were published (their length field announces more bytes
than they hold); every frame taken from a capture is complete.

Requires tshark (Debian package C{tshark}).
"""

import argparse
import json
import os
import struct
import subprocess
import sys

SCCP_PORT = 2000
_HEADER = struct.Struct("<III")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CAPTURES = "/work/shared/captures"
DEFAULT_OUTPUT = os.path.join(_ROOT, "tests", "fixtures", "sccp_frames.json")

# Message ids sent by phones (sccp.md section 2.1); everything else is
# sent by the call agent.
_PHONE_IDS_HIGH = {0x0154, 0x015A}


def _directionOf(messageId):
    """
    Guess who sent a message from its id.

    @param messageId: the SCCP message id.
    @return: C{"fromPhone"} or C{"toPhone"}.
    """
    if messageId < 0x80 or messageId in _PHONE_IDS_HIGH:
        return "fromPhone"
    return "toPhone"


def _segments(path):
    """
    List the TCP segments with payload to or from the SCCP port.

    @param path: a capture file.
    @return: a list of C{(frameNumber, stream, srcPort, dstPort, seq,
        payload)} tuples in capture order.
    """
    output = subprocess.run(
        [
            "tshark", "-r", path, "-n",
            "-Y", "tcp.len > 0 && tcp.port == %d" % (SCCP_PORT,),
            "-T", "fields",
            "-e", "frame.number", "-e", "tcp.stream",
            "-e", "tcp.srcport", "-e", "tcp.dstport",
            "-e", "tcp.seq_raw", "-e", "tcp.payload",
        ],
        check=True, capture_output=True, text=True,
    ).stdout
    segments = []
    for line in output.splitlines():
        if not line.strip():
            continue
        frame, stream, src, dst, seq, payload = line.split("\t")
        segments.append((int(frame), int(stream), int(src), int(dst),
                         int(seq), bytes.fromhex(payload)))
    return segments


def _reassemble(segments):
    """
    Rebuild each direction of each TCP stream.

    @param segments: the output of L{_segments}.
    @return: a dict mapping C{(stream, direction)} to C{(data, owners)}
        where C{owners[i]} is the capture frame that carried byte C{i}.
    """
    flows = {}
    for frame, stream, src, dst, seq, payload in segments:
        direction = "toPhone" if src == SCCP_PORT else "fromPhone"
        flows.setdefault((stream, direction), []).append((seq, frame, payload))
    result = {}
    for key, parts in flows.items():
        parts.sort(key=lambda part: (part[0], part[1]))
        base = parts[0][0]
        data = bytearray()
        owners = []
        for seq, frame, payload in parts:
            offset = (seq - base) % (1 << 32)
            if offset > len(data):
                # A gap: bytes missing from the capture.  Stop here; what
                # follows cannot be framed reliably.
                break
            fresh = payload[len(data) - offset:]
            data += fresh
            owners += [frame] * len(fresh)
        result[key] = (bytes(data), owners)
    return result


def _frames(data):
    """
    Cut a reassembled byte stream into complete SCCP frames.

    @param data: the bytes of one direction of a stream.
    @return: a list of C{(offset, frameBytes)}.
    """
    frames = []
    offset = 0
    while len(data) - offset >= 12:
        length, _version, _messageId = _HEADER.unpack_from(data, offset)
        if length < 4 or length > 65536:
            raise ValueError("implausible SCCP length %d at offset %d"
                             % (length, offset))
        end = offset + 8 + length
        if end > len(data):
            break
        frames.append((offset, data[offset:end]))
        offset = end
    return frames


def extractCapture(path):
    """
    Extract the SCCP frames of one capture file.

    @param path: the capture file.
    @return: a list of fixture records, in capture frame order.
    """
    name = os.path.basename(path)
    records = []
    for (stream, direction), (data, owners) in _reassemble(
            _segments(path)).items():
        for offset, frame in _frames(data):
            records.append({
                "capture": name,
                "frame": owners[offset],
                "stream": stream,
                "direction": direction,
                "messageId": _HEADER.unpack_from(frame)[2],
                "complete": True,
                "hex": frame.hex(),
            })
    records.sort(key=lambda r: (r["frame"], r["stream"]))
    return records


def extractSelected(path):
    """
    Read C{cucm_frames.json} (groups of frame hex keyed by frame number or
    name).

    @param path: the JSON file.
    @return: a list of fixture records.
    """
    with open(path) as f:
        groups = json.load(f)
    records = []
    for group, frames in groups.items():
        for key, hexdata in frames.items():
            frame = bytes.fromhex(hexdata)
            length, _version, messageId = _HEADER.unpack_from(frame)
            records.append({
                "capture": os.path.basename(path),
                "label": group + "/" + key,
                "frame": int(key) if key.isdigit() else None,
                "stream": None,
                "direction": _directionOf(messageId),
                "messageId": messageId,
                "complete": len(frame) == length + 8,
                "hex": frame.hex(),
            })
    return records


def main(argv=None):
    """
    Write the fixture.

    @param argv: command line arguments (default C{sys.argv[1:]}).
    @return: the process exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--captures", default=DEFAULT_CAPTURES)
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    options = parser.parse_args(argv)
    records = []
    for name in sorted(os.listdir(options.captures)):
        path = os.path.join(options.captures, name)
        if name.endswith((".pcap", ".pcapng")):
            records.extend(extractCapture(path))
        elif name == "cucm_frames.json":
            records.extend(extractSelected(path))
    temporary = options.output + ".tmp"
    with open(temporary, "w") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(r, sort_keys=True) for r in records))
        f.write("\n]\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, options.output)
    print("%d frames written to %s" % (len(records), options.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
