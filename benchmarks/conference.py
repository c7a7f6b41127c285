"""
Benchmark: concurrent three-party conferences mixed by the router itself
(L{srst.ports.bridge}), SRTP on every leg, on one core.

Run from the checkout::

    python benchmarks/conference.py [--conferences 10,25,50,100,200] [--seconds 10] [--warmup 1] [--json]

Each count gets a fresh router child process (C{--serve}) on Twisted's epoll
reactor: N L{srst.ports.bridge.ConferenceBridge}s from one
L{srst.ports.bridge.BridgePool}, each with three
L{srst.ports.bridge.BridgePort}s (SRTP AES_CM_128_HMAC_SHA1_32 both ways,
fresh keys per direction and participant, even ports of 16384-32767 on
127.0.0.1), all ticked by ONE L{srst.ports.media.MediaPump}: every 20 ms
each bridge takes one frame per participant, mixes (decode, sum without
the participant's own, clip, encode: L{srst.ports.mixer.mixMinus}) and
sends each participant its own mix.

The participants ("phones") are this process, exactly as in
C{benchmarks/media.py} (its L{media.Phones} and L{media._drive}, reused):
plain sockets and raw pylibsrtp, one 160-byte u-law payload per
participant every 20 ms, spread over the interval.  Loss, shortfall and the
unread share are measured as there (see that module's docstring); a count
"meets the target" when each is under 0.1 %.

Besides the router's CPU per participant-packet, the report gives the
mix's share of it: the router's CPU minus what the same number of SRTP
operations cost in raw pylibsrtp in this run (the baseline), per packet
the router sent (one mix per participant per interval); and, measured
alone in this process, C{mixMinus} of three frames per participant-frame.

Not a test; nothing here runs under trial.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import media  # noqa: E402 (benchmarks/media.py, beside this file; it puts the checkout on sys.path)
from _common import quietLogging  # noqa: E402

HOST = media.HOST
PORT_RANGE = media.PORT_RANGE
PARTIES = 3
MAX_CONFERENCES = 1000
MIX_SECONDS = 1.0


def mixRate(seconds: float = MIX_SECONDS) -> dict:
    """
    Time L{srst.ports.mixer.mixMinus} of three u-law frames alone.

    @return: microseconds per participant-frame (one output payload).
    """
    from srst.ports.g711 import G711Law
    from srst.ports.mixer import mixMinus

    frames = [bytes((n * 37 + k) & 0xFF for k in range(media.SAMPLES_PER_PACKET)) for n in range(PARTIES)]
    laws = [G711Law.ULAW] * PARTIES
    mixMinus(frames, laws)  # build the tables outside the timing
    done = 0
    cpuBegin = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            mixMinus(frames, laws)
        done += 100
    cpu = time.process_time() - cpuBegin
    return {"usPerParticipantFrame": round(1e6 * cpu / (done * PARTIES), 3)}


def serve(reactor, peersPath: str, keysPath: str, audio: str, seconds: str):
    """
    One bridge per three participant ports listed in C{peersPath}; write
    the ports' numbers, SSRCs and keys to C{keysPath}, print C{READY}, then
    obey GO, MARK (SIGUSR1) and STOP as C{media.serve} does.
    """
    from srst.debug import DebugSwitches
    from srst.media.portrange import RtpPortAllocator
    from srst.media.srtp import generateKeys
    from srst.ports.bridge import BridgePool
    from srst.ports.g711 import G711Law
    from srst.ports.media import PortMediaResources

    quietLogging()
    with open(peersPath) as f:
        peers = json.load(f)
    pump = media.markingPump(reactor)
    resources = PortMediaResources(reactor, RtpPortAllocator(HOST, PORT_RANGE), pump, debug=DebugSwitches())

    class NoEngine:
        def mediaReady(self, *args: object) -> None:
            "The benchmark binds ports itself."

        def mediaFailed(self, *args: object) -> None:
            "The benchmark binds ports itself."

    pool = BridgePool(resources, NoEngine(), maxConferences=len(peers) // PARTIES)
    ports = []
    described = []
    for first in range(0, len(peers) - PARTIES + 1, PARTIES):
        bridge = pool.reserve("bench")
        bridge.secure = True
        bridge.activate("bench")
        for index in range(PARTIES):
            txKeys, rxKeys = generateKeys(), generateKeys()
            port = bridge.addPort(index + 1, G711Law.ULAW, txKeys, rxKeys)
            ports.append((port, peers[first + index]))
            described.append(media.legKeys(port.local[1], port.stream.ssrc, txKeys, rxKeys))
    media._writeAtomically(keysPath, json.dumps({"profile": int(txKeys.profile), "legs": described}))

    def mark() -> dict:
        return media.markFigures(reactor, pump, [port.snapshot() for port, _ in ports],
                                 {"underruns": sum(port.slot.underruns for port, _ in ports),
                                  "overruns": sum(port.slot.overruns for port, _ in ports)},
                                 (0, 0.0, 0.0))

    def start() -> None:
        for port, peerPort in ports:
            port.start((HOST, peerPort))

    return media.obeyCommands(reactor, pump, mark, start, pool.close)


def runConferences(conferences: int, seconds: float, warmup: float) -> dict:
    """
    One router child with C{conferences} bridges against this process's participants.

    @return: the figures (those of L{media._figures}, participants as legs).
    """
    workdir = tempfile.mkdtemp(prefix="srst-conference-bench-")
    participants = conferences * PARTIES
    phones = media.Phones(participants)
    router = None
    try:
        peersPath = os.path.join(workdir, "peers.json")
        keysPath = os.path.join(workdir, "keys.json")
        media._writeAtomically(peersPath, json.dumps(phones.ports))
        router = media.Router(peersPath, keysPath, "mix", warmup + seconds + 5, None, script=__file__)
        phones.load(keysPath)
        result = media._drive(router, phones, participants, seconds, warmup)
    finally:
        phones.close()
        if router is not None:
            router.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    result.update(conferences=conferences, participants=participants, seconds=seconds, warmup=warmup)
    return result


def describe(baseline: dict, mix: dict, results: list[dict]) -> str:
    pct = media._pct
    lines = [
        f"conference benchmark: three-party SRTP (AES_CM_128_HMAC_SHA1_32) G.711 u-law conferences, 20 ms,"
        f" bridges on one epoll reactor with one MediaPump, participants in a separate process,"
        f" {os.cpu_count()} CPUs, 127.0.0.1",
        f"  baseline: raw pylibsrtp {baseline['usPerOp']} us per SRTP op; mixMinus alone"
        f" {mix['usPerParticipantFrame']} us per participant-frame",
    ]
    for r in results:
        sent = r["routerSentPerSecond"]
        srtp = r["routerPacketsHandledPerSecond"] * baseline["usPerOp"] / 1e6
        beyond = (r["routerCpuPerSecond"] - srtp) / sent * 1e6 if sent else float("nan")
        worst = max(r["lossToPhones"], r["lossToRouter"], r["routerShortfall"], r["routerUnread"])
        lines += [
            f"  {r['conferences']} conferences ({r['participants']} participants), {r['window']:.1f} s measured:"
            f" {'MEETS' if r['meets'] else 'does not meet'} < 0.1 % (worst {pct(worst)})",
            f"    loss to participants {pct(r['lossToPhones'])}, to bridges {pct(r['lossToRouter'])},"
            f" never sent {pct(r['routerShortfall'])}, unread {pct(r['routerUnread'])};"
            f" pump longest tick {r['pumpLongestTickMs']} ms, {r['pumpIntervalsSkipped']} intervals skipped",
            f"    router CPU {r['routerCpuPerSecond']:.2f} s/s, {r['routerUsPerPacket']} us per packet handled;"
            f" beyond raw SRTP {beyond:.1f} us per participant-packet (mix, Python and I/O)",
        ]
    broken = [r["conferences"] for r in results if not r["meets"]]
    passes = f"{broken[0]} conferences" if broken else "none of the counts measured"
    lines.append(f"  loss first passes 0.1 % at: {passes}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conferences", default="10,25,50,100,200",
                        help="concurrent three-party conferences; a comma-separated list runs each")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds measured per count")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    parser.add_argument("--serve", nargs=4, metavar=("PEERS", "KEYS", "AUDIO", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        from twisted.internet import epollreactor

        epollreactor.install()
        from twisted.internet.task import react

        react(serve, args.serve)
        return 0

    counts = [int(c) for c in args.conferences.split(",") if c.strip()]
    if not counts or min(counts) < 1 or max(counts) > MAX_CONFERENCES:
        parser.error(f"--conferences must be between 1 and {MAX_CONFERENCES}")
    if not 0 < args.seconds <= media.MAX_SECONDS or not 0 <= args.warmup <= media.MAX_SECONDS:
        parser.error(f"--seconds and --warmup must be at most {media.MAX_SECONDS}")
    baseline = media.rawSrtpRate()
    mix = mixRate()
    results = []
    for count in counts:
        results.append(runConferences(count, args.seconds, args.warmup))
        print(describe(baseline, mix, results[-1:]).split("\n", 2)[2], flush=True)
    print()
    print(describe(baseline, mix, results))
    if args.json:
        print(json.dumps({"baseline": baseline, "mix": mix, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
