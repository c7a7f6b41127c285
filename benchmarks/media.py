"""
Benchmark: concurrent SRTP G.711 legs terminated by the router itself (the
media of calls to analog voice ports), on one core.

Run from the checkout::

    python benchmarks/media.py [--legs 1000] [--seconds 10] [--warmup 1]
        [--audio samples|tone|silence] [--profile] [--json]

C{--legs} takes a comma-separated list (C{--legs 100,200,400}); each count
gets a fresh router child process.

The router is a child process (C{--serve}) on Twisted's epoll reactor: N
simulated FXS voice ports (L{srst.ports.voiceport.newVoicePort} on a
L{srst.ports.simulated.SimulatedBackend}), each taken off hook by its
backend, each with a L{srst.ports.media.PortMediaLeg} (SRTP both ways,
AES_CM_128_HMAC_SHA1_32, keys from L{srst.media.srtp.generateKeys}, an even
port of 16384-32767 on 127.0.0.1 from an
L{srst.media.portrange.RtpPortAllocator}), all ticked by ONE
L{srst.ports.media.MediaPump}.  Every 20 ms every port sends one 160-byte
G.711 u-law payload (172 bytes of RTP, 176 of SRTP) and every packet the
phones send is authenticated, decrypted, accounted for (RFC 3550) and
played to the port.  What the ports play (C{--audio}): C{samples} (the
default) is a pre-computed run of dial tone, the same tuple for every
port, played as a WAV announcement is (L{srst.ports.dsp.SimulatedDsp.
playSamples}: each frame encoded once per law in a clip the ports share);
C{tone} is the port's own
tone generator (L{srst.ports.voiceport.VoicePort.playTone}, frames cached per
position in the tone's period); C{silence} plays nothing.
Logging is filtered to warnings, as in production with debugging off.

The router writes its ports, SSRCs and keys to a temporary file; this
process (the "phones") reads them.  The phones are plain Python, no
Twisted: one UDP socket per leg on 127.0.0.1, connected to the leg's port,
one epoll, the raw pylibsrtp sessions; they send SRTP every 20 ms per leg
(legs spread over the 20 ms in 1 ms slots, as unsynchronised phones are),
and for every packet from the router unprotect it and keep the sequence
numbers and the RFC 3550 interarrival jitter (arrival clock against the RTP
timestamp).  The two processes talk over the router's stdin/stdout (GO,
MARK, STOP).

Measured over C{--seconds} after C{--warmup} seconds: packets per second
each way; loss each way from RTP sequence numbers (router to phones: the
phones' extended highest sequence number against their count; phones to
router: the legs' RFC 3550 receive statistics via
L{srst.ports.media.PortMediaLeg.snapshot}); the router's send shortfall
(packets it should have sent at 50/s per leg but did not: the pump's
catch-up is bounded, so an overloaded router sends fewer packets rather
than losing numbered ones); the jitter the phones see; the router's CPU
seconds per second (from /proc) and per leg; the phones' CPU.

Baseline, measured in the same run in this process: raw pylibsrtp
C{protect} then C{unprotect} of 172-byte G.711 RTP packets in a tight loop
(the same profile), i.e. the most SRTP packets one core can push through
Python and libsrtp with nothing else to do.  The ratio is the router's SRTP
operations per second (packets sent plus packets received) over the
baseline's (two per loop).

A leg count "meets the target" (at least 1000 legs under 0.1 % loss) when
loss each way, the send shortfall and the router's unread share are each
under 0.1 %.  The unread share: the phones fall silent after the window,
and one second later the router's count of packets read is compared with
every packet the phones sent in the run; dropped packets and a backlog
the router does not work off both show there (a backlog still in its
socket buffers at the end of the window shows as neither gap nor loss).

The router's pump reports how many 20 ms intervals it had to skip (its
catch-up is bounded by L{srst.ports.media.MAX_CATCH_UP}), the most
intervals due at once and its longest tick; a mark is never taken halfway
through a tick.  The figures of the other processes on the box (CPU
seconds per second used by everything but the router and the phones) are
printed too: other work on a 2-core machine shows up as router stalls.

C{--profile} runs the router under cProfile and prints where its
time went.  Everything is bounded: at most C{MAX_LEGS} legs, C{MAX_SECONDS}
seconds per count, and only 127.0.0.1.

Not a test; nothing here runs under trial.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from _common import boxBusySeconds, processCpuSeconds, quietLogging  # noqa: E402 (puts the checkout on sys.path)

HOST = "127.0.0.1"
PORT_RANGE = "16384-32767"
INTERVAL = 0.02
PACKETS_PER_SECOND = 50
SAMPLES_PER_PACKET = 160
SLOTS = 20
TARGET_LOSS = 0.001
MAX_LEGS = 4000
MAX_SECONDS = 120.0
BASELINE_SECONDS = 1.5
STOP_SECONDS = 5.0
DRAIN_SECONDS = 1.0
MAX_CATCH_UP_SHOWN = 5  # srst.ports.media.MAX_CATCH_UP; the router child checks they agree
PROFILE_LINES = 25
RTP_HEADER = struct.Struct("!BBHII")


def _writeAtomically(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    dirFd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dirFd)
    finally:
        os.close(dirFd)


def _audioSamples(seconds: float) -> tuple[int, ...]:
    """
    @return: one second of dial tone repeated to last C{seconds}.
    """
    from srst.ports.tones import CallProgressTone, ToneGenerator

    generator = ToneGenerator(CallProgressTone.DIAL)
    second: tuple[int, ...] = ()
    for _ in range(PACKETS_PER_SECOND):
        second += generator.nextFrame()
    return second * max(1, int(seconds + 1))


# ---------------------------------------------------------------------------
# Baseline: raw pylibsrtp


def rawSrtpRate(seconds: float = BASELINE_SECONDS, rounds: int = 3) -> dict:
    """
    Protect then unprotect 172-byte G.711 RTP packets in a tight loop; the
    best of C{rounds} rounds (the box may be busy with something else).

    @return: loops (packets through both) per second, and microseconds per
        SRTP operation.
    """
    return max((_rawSrtpRound(seconds / rounds) for _ in range(rounds)),
               key=lambda figures: figures["loopsPerSecond"])


def _rawSrtpRound(seconds: float) -> dict:
    """
    One round of L{rawSrtpRate}.

    @return: loops (packets through both) per second, and microseconds per
        SRTP operation.
    """
    import pylibsrtp

    from srst.media.srtp import SrtpProfile, generateKeys

    keys = generateKeys()
    material = keys.masterKey + keys.masterSalt
    profile = SrtpProfile.AES_CM_128_HMAC_SHA1_32.libsrtpProfile
    sender = pylibsrtp.Session(pylibsrtp.Policy(key=material, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                                                srtp_profile=profile))
    receiver = pylibsrtp.Session(pylibsrtp.Policy(key=material, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
                                                  srtp_profile=profile))
    payload = bytes(range(SAMPLES_PER_PACKET))
    packets = [RTP_HEADER.pack(0x80, 0, seq, (seq * SAMPLES_PER_PACKET) & 0xFFFFFFFF, 0x5EED) + payload
               for seq in range(1 << 16)]
    protect, unprotect = sender.protect, receiver.unprotect
    done = 0
    begin = time.perf_counter()
    cpuBegin = time.process_time()
    deadline = begin + seconds
    chunk = 4096
    while time.perf_counter() < deadline:
        start = done % len(packets)
        for packet in packets[start:start + chunk]:
            unprotect(protect(packet))
        done += min(chunk, len(packets) - start)
    elapsed = time.perf_counter() - begin
    cpu = time.process_time() - cpuBegin
    return {"loopsPerSecond": round(done / elapsed), "opsPerSecond": round(2 * done / elapsed),
            "usPerOp": round(1e6 * cpu / (2 * done), 3), "packetBytes": len(packets[0])}


SNAPSHOT_SUMS = ("sent", "rxPackets", "expected", "received", "lost", "duplicates",
                 "authFailures", "replays", "wrongSource", "malformed", "delivered")
"""The figures of a MARK summed over the legs' snapshots (L{markFigures})."""


def markingPump(reactor):
    """
    @return: the router's pump, noting when it is inside a tick so that a
        mark is never taken halfway through one (which would count some
        legs' packets of that tick and not others'); it also notes the
        ticks it skipped, its largest catch-up and its longest tick.
    """
    from srst.ports.media import MAX_CATCH_UP, MediaPump

    class MarkingPump(MediaPump):
        inTick = False
        pendingMark = None
        skipped = 0
        maxCount = 0
        longestTick = 0.0

        def _tick(self, count: int) -> None:
            self.skipped += max(0, count - MAX_CATCH_UP)
            self.maxCount = max(self.maxCount, count)
            began = time.perf_counter()
            self.inTick = True
            try:
                super()._tick(count)
            finally:
                self.inTick = False
                self.longestTick = max(self.longestTick, time.perf_counter() - began)
                pending, self.pendingMark = self.pendingMark, None
                if pending is not None:
                    pending()

    return MarkingPump(reactor)


def markFigures(reactor, pump, snapshots: list, sums: dict, gcFigures: tuple[int, float, float]) -> dict:
    """
    The figures of one MARK.

    @param pump: the L{markingPump}.
    @param snapshots: every leg's snapshot (send, receive, counters).
    @param sums: the router's own sums, after the legs' L{SNAPSHOT_SUMS}.
    @param gcFigures: C{(count, seconds, longestMs)} of the collector's pauses.
    """
    totals = dict.fromkeys(SNAPSHOT_SUMS, 0)
    totals.update(sums)
    jitters = []
    for snap in snapshots:
        totals["sent"] += snap.send.packets
        totals["rxPackets"] += snap.receive.packets
        totals["expected"] += snap.receive.expected
        totals["received"] += snap.receive.received
        totals["lost"] += snap.receive.lost
        totals["duplicates"] += snap.receive.duplicates
        for name in ("authFailures", "replays", "wrongSource", "malformed", "delivered"):
            totals[name] += getattr(snap.counters, name)
        jitters.append(snap.receive.jitterMs)
    jitters.sort()
    gcCount, gcSeconds, gcLongestMs = gcFigures
    totals.update(time=reactor.seconds(), ticks=pump.ticks, pumped=len(pump), skipped=pump.skipped,
                  maxCount=pump.maxCount, longestTickMs=1000 * pump.longestTick,
                  gcCount=gcCount, gcSeconds=gcSeconds, gcLongestMs=gcLongestMs,
                  jitterMeanMs=sum(jitters) / len(jitters) if jitters else 0.0,
                  jitterMaxMs=jitters[-1] if jitters else 0.0)
    return totals


def legKeys(port: int, ssrc: int, txKeys, rxKeys) -> dict:
    """@return: what the keys file says of one leg: its port, SSRC and both keys (hex)."""
    return {"port": port, "ssrc": ssrc,
            "tx": (txKeys.masterKey + txKeys.masterSalt).hex(),
            "rx": (rxKeys.masterKey + rxKeys.masterSalt).hex()}


def obeyCommands(reactor, pump, mark, start, stop):
    """
    Print C{READY}, then obey the parent: C{GO} on stdin calls C{start()}
    and replies C{STARTED}; C{STOP} waits for C{stop()}'s L{Deferred},
    replies C{STOPPED} and closes stdout; SIGUSR1 writes C{MARK} with
    C{mark()}'s figures (never inside a pump tick).

    @param pump: the L{markingPump}.
    @return: a L{Deferred} firing when the parent's pipe closes.
    """
    from twisted.internet import stdio
    from twisted.internet.defer import Deferred
    from twisted.protocols.basic import LineReceiver

    finished: Deferred = Deferred()

    class Commands(LineReceiver):
        delimiter = b"\n"

        def reply(self, word: str, body: dict) -> None:
            self.transport.write(("%s %s\n" % (word, json.dumps(body))).encode("ascii"))

        def lineReceived(self, line: bytes) -> None:
            command = line.strip().decode("ascii")
            if command == "GO":
                start()
                self.reply("STARTED", {"time": reactor.seconds(), "pumped": len(pump)})
            elif command == "STOP":
                closing = stop()

                def closed(_: object) -> None:
                    self.reply("STOPPED", {"pumped": len(pump)})
                    self.transport.loseConnection()  # flushes the reply; connectionLost ends the run

                closing.addCallback(closed)

        def connectionLost(self, reason: object = None) -> None:
            if not finished.called:
                finished.callback(None)

    def writeMark() -> None:
        figures = mark()
        pump.maxCount, pump.longestTick = 0, 0.0  # the next mark reports the window's worst
        os.write(sys.stdout.fileno(), ("MARK %s\n" % (json.dumps(figures),)).encode("ascii"))

    def markNow(signum: int, frame: object) -> None:
        # A signal handler, not a stdin command: it runs between two bytecodes even while one
        # reactor iteration drains a long backlog, so an overloaded router still answers on time;
        # inside a pump tick it waits for the tick's end.
        if pump.inTick:
            pump.pendingMark = writeMark
        else:
            writeMark()

    signal.signal(signal.SIGUSR1, markNow)
    stdio.StandardIO(Commands(), reactor=reactor)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    return finished


def serve(reactor, peersPath: str, keysPath: str, audio: str, seconds: str):
    """
    Set up one leg per phone port listed in C{peersPath}, write the legs'
    ports, SSRCs and keys to C{keysPath}, print C{READY}, then obey GO,
    MARK and STOP on stdin.
    """
    from twisted.internet.defer import DeferredList

    from srst.debug import DebugSwitches
    from srst.ports.config import Signal, VoicePortConfig
    from srst.media.srtp import generateKeys
    from srst.media.portrange import RtpPortAllocator
    from srst.ports.media import MAX_CATCH_UP, PortMediaLeg
    from srst.ports.simulated import SimulatedBackend
    from srst.ports.tones import CallProgressTone
    from srst.ports.voiceport import newVoicePort

    quietLogging()
    if MAX_CATCH_UP != MAX_CATCH_UP_SHOWN:
        raise RuntimeError(f"srst.ports.media.MAX_CATCH_UP is {MAX_CATCH_UP}; update MAX_CATCH_UP_SHOWN")
    with open(peersPath) as f:
        peers = json.load(f)
    samples = _audioSamples(float(seconds)) if audio == "samples" else ()
    allocator = RtpPortAllocator(HOST, PORT_RANGE)
    pump = markingPump(reactor)
    debug = DebugSwitches()
    collections = {"began": 0.0, "count": 0, "seconds": 0.0, "longest": 0.0}

    def timeCollection(phase: str, info: dict) -> None:
        if phase == "start":
            collections["began"] = time.perf_counter()
        else:
            pause = time.perf_counter() - collections["began"]
            collections["count"] += 1
            collections["seconds"] += pause
            collections["longest"] = max(collections["longest"], pause)

    gc.callbacks.append(timeCollection)
    legs = []
    described = []
    for index, peerPort in enumerate(peers):
        name = "1/0/%d" % (index,)
        backend = SimulatedBackend(name, Signal.FXS_LOOP_START)
        port = newVoicePort(VoicePortConfig(name, Signal.FXS_LOOP_START), backend, debug=debug)
        backend.offHook()
        txKeys, rxKeys = generateKeys(), generateKeys()
        leg = PortMediaLeg(reactor=reactor, allocator=allocator, pump=pump, port=port, debug=debug,
                           txKeys=txKeys, rxKeys=rxKeys)
        local = leg.open()
        legs.append((leg, peerPort))
        described.append(legKeys(local[1], leg.stream.ssrc, txKeys, rxKeys))
    _writeAtomically(keysPath, json.dumps({"profile": int(txKeys.profile), "legs": described}))

    def mark() -> dict:
        figures = markFigures(reactor, pump, [leg.snapshot() for leg, _ in legs],
                              {"portTx": sum(leg.port.txPackets for leg, _ in legs),
                               "portRx": sum(leg.port.rxPackets for leg, _ in legs)},
                              (collections["count"], collections["seconds"], 1000 * collections["longest"]))
        collections["longest"] = 0.0  # the next mark reports the window's longest pause
        return figures

    def start() -> None:
        for leg, peerPort in legs:
            leg.start((HOST, peerPort))
            if audio == "samples":
                leg.port.dsp.playSamples(samples)
            elif audio == "tone":
                leg.port.playTone(CallProgressTone.DIAL)

    return obeyCommands(reactor, pump, mark, start,
                        lambda: DeferredList([leg.close() for leg, _ in legs], consumeErrors=True))


def serveMain(args: list[str], profilePath: str | None) -> int:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet.task import react

    profiler = None
    if profilePath:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        react(serve, args)
    except SystemExit as e:
        if e.code:
            raise
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profilePath)
    return 0


class Router:
    """The router child process and its control pipe."""

    def __init__(self, peersPath: str, keysPath: str, audio: str, seconds: float,
                 profilePath: str | None, script: str = __file__) -> None:
        """
        @param script: the benchmark whose C{--serve} the child runs (this
            file, or one that serves other legs the same way).
        """
        command = [sys.executable, os.path.abspath(script), "--serve", peersPath, keysPath, audio,
                   str(seconds)]
        if profilePath:
            command += ["--profile-out", profilePath]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._buffer = b""
        line = self.process.stdout.readline()
        if line.strip() != b"READY":
            self.process.kill()
            raise RuntimeError(f"router: unexpected output {line!r}")
        self.fd = self.process.stdout.fileno()
        os.set_blocking(self.fd, False)

    def send(self, command: str) -> None:
        self.process.stdin.write(command.encode("ascii") + b"\n")
        self.process.stdin.flush()

    def readReplies(self) -> list[tuple[str, dict]]:
        """@return: the complete reply lines available now."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        self._buffer += chunk
        replies = []
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            word, _, body = line.decode("ascii").partition(" ")
            replies.append((word, json.loads(body) if body else {}))
        return replies

    def mark(self) -> None:
        """Ask for the router's figures now (answered from a signal handler)."""
        self.process.send_signal(signal.SIGUSR1)

    def cpu(self) -> float:
        """@return: user + system CPU seconds so far."""
        return processCpuSeconds(self.process.pid)

    def stop(self) -> None:
        """End the child: EOF on stdin, then SIGTERM, then SIGKILL (a wedged reactor ignores SIGTERM)."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
            for escalate in (self.process.terminate, self.process.kill):
                try:
                    self.process.wait(timeout=STOP_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    escalate()
            self.process.wait()


# ---------------------------------------------------------------------------
# The phones (this process)


class Phones:
    """
    One UDP socket and one pair of SRTP sessions per leg, driven by one
    epoll loop.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.sockets = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((HOST, 0))
            s.setblocking(False)
            self.sockets.append(s)
        self.ports = [s.getsockname()[1] for s in self.sockets]
        self.sent = [0] * count
        self.received = [0] * count
        self.maxSeq = [-1] * count
        self.cycles = [0] * count
        self.jitter = [0.0] * count
        self.transit: list[float | None] = [None] * count
        self.authFailures = 0
        self.badLength = 0

    def load(self, keysPath: str) -> None:
        """Read the router's legs, connect to them and make the sessions."""
        import pylibsrtp

        from srst.media.srtp import SrtpProfile

        with open(keysPath) as f:
            described = json.load(f)
        profile = SrtpProfile(described["profile"]).libsrtpProfile
        self.receivers = []
        self.senders = []
        self.headers = []
        for s, leg in zip(self.sockets, described["legs"]):
            s.connect((HOST, leg["port"]))
            self.receivers.append(pylibsrtp.Session(pylibsrtp.Policy(
                key=bytes.fromhex(leg["tx"]), ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
                srtp_profile=profile)))
            self.senders.append(pylibsrtp.Session(pylibsrtp.Policy(
                key=bytes.fromhex(leg["rx"]), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                srtp_profile=profile)))
        self.ssrcs = [0x10000 + index for index in range(self.count)]
        self.seqs = [(index * 7919) & 0xFFFF for index in range(self.count)]
        self.timestamps = [(index * 104729) & 0xFFFFFFFF for index in range(self.count)]

    def drain(self, index: int, now: float) -> None:
        """Read everything waiting on one leg's socket."""
        import pylibsrtp

        recv = self.sockets[index].recv
        unprotect = self.receivers[index].unprotect
        while True:
            try:
                data = recv(2048)
            except BlockingIOError:
                return
            try:
                rtp = unprotect(data)
            except pylibsrtp.Error:
                self.authFailures += 1
                continue
            if len(rtp) != 12 + SAMPLES_PER_PACKET:
                self.badLength += 1
            seq = (rtp[2] << 8) | rtp[3]
            timestamp = int.from_bytes(rtp[4:8], "big")
            last = self.maxSeq[index]
            if last < 0:
                self.maxSeq[index] = seq
            else:
                delta = (seq - last) & 0xFFFF
                if 0 < delta < 3000:
                    if seq < last:
                        self.cycles[index] += 1 << 16
                    self.maxSeq[index] = seq
            self.received[index] += 1
            transit = now * 8000.0 - timestamp
            previous = self.transit[index]
            if previous is not None:
                d = abs(transit - previous)
                if d < 1 << 30:  # not a timestamp wrap
                    self.jitter[index] += (d - self.jitter[index]) / 16.0
            self.transit[index] = transit

    def send(self, index: int, payload: bytes) -> None:
        """Send one SRTP packet on one leg."""
        seq, timestamp = self.seqs[index], self.timestamps[index]
        packet = RTP_HEADER.pack(0x80, 0, seq, timestamp, self.ssrcs[index]) + payload
        try:
            self.sockets[index].send(self.senders[index].protect(packet))
        except BlockingIOError:
            pass  # counted as sent: the sequence number moves on, the router sees the gap
        self.seqs[index] = (seq + 1) & 0xFFFF
        self.timestamps[index] = (timestamp + SAMPLES_PER_PACKET) & 0xFFFFFFFF
        self.sent[index] += 1

    def extended(self) -> list[int]:
        """@return: each leg's extended highest sequence number (-1 before any)."""
        return [m + c if m >= 0 else -1 for m, c in zip(self.maxSeq, self.cycles)]

    def mark(self) -> dict:
        return {"time": time.monotonic(), "cpu": time.process_time(), "machine": boxBusySeconds(),
                "sent": list(self.sent),
                "received": list(self.received), "extended": self.extended()}

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def runLegs(legs: int, seconds: float, warmup: float, audio: str, profile: bool) -> dict:
    """
    One router child with C{legs} legs against this process's phones.

    @return: the figures.
    """
    workdir = tempfile.mkdtemp(prefix="srst-media-bench-")
    try:
        return _runIn(workdir, legs, seconds, warmup, audio, profile)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _runIn(workdir: str, legs: int, seconds: float, warmup: float, audio: str, profile: bool) -> dict:
    peersPath = os.path.join(workdir, "peers.json")
    keysPath = os.path.join(workdir, "keys.json")
    profilePath = os.path.join(workdir, "router.prof") if profile else None
    phones = Phones(legs)
    router = None
    try:
        _writeAtomically(peersPath, json.dumps(phones.ports))
        setupBegin = time.monotonic()
        router = Router(peersPath, keysPath, audio, warmup + seconds + 5, profilePath)
        phones.load(keysPath)
        setup = time.monotonic() - setupBegin
        result = _drive(router, phones, legs, seconds, warmup)
    finally:
        phones.close()
        if router is not None:
            router.stop()
    result.update(legs=legs, seconds=seconds, warmup=warmup, audio=audio,
                  setupSeconds=round(setup, 2))
    if profilePath and os.path.exists(profilePath):
        result["profile"] = _profileText(profilePath)
    return result


def _drive(router: Router, phones: Phones, legs: int, seconds: float, warmup: float) -> dict:
    epoll = select.epoll()
    byFd = {}
    for index, s in enumerate(phones.sockets):
        epoll.register(s.fileno(), select.EPOLLIN)
        byFd[s.fileno()] = index
    controlFd = router.fd
    epoll.register(controlFd, select.EPOLLIN)
    payload = bytes([0xFF, 0x7F] * (SAMPLES_PER_PACKET // 2))
    groups = [list(range(slot, legs, SLOTS)) for slot in range(SLOTS)]
    slotLength = INTERVAL / SLOTS
    replies: dict[str, list[dict]] = {}
    marks: list[dict] = []
    cpuMarks: list[float] = []
    deadline = time.monotonic() + warmup + seconds + 30.0 + STOP_SECONDS

    router.send("GO")
    started = None
    nextSlot = 0
    nextDue = 0.0
    phase = "starting"
    phaseEnd = 0.0
    phonesSending = True
    stopDeadline = 0.0
    stoppedCleanly = False
    while True:
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError(f"router did not answer in time (phase {phase})")
        timeout = max(0.0, nextDue - now) if started is not None else 0.05
        for fd, _ in epoll.poll(min(timeout, 0.05)):
            if fd == controlFd:
                for word, body in router.readReplies():
                    replies.setdefault(word, []).append(body)
            else:
                phones.drain(byFd[fd], time.monotonic())
        now = time.monotonic()
        if started is None:
            if "STARTED" in replies:
                started = now
                nextDue = now
                phaseEnd = now + warmup
                phase = "warmup"
            continue
        while nextDue <= now and phonesSending:
            for index in groups[nextSlot]:
                phones.send(index, payload)
            nextSlot = (nextSlot + 1) % SLOTS
            nextDue += slotLength
        if phase in ("warmup", "measuring") and now >= phaseEnd:
            router.mark()
            cpuMarks.append(router.cpu())
            marks.append(phones.mark())
            if phase == "warmup":
                phase, phaseEnd = "measuring", now + seconds
            else:
                # The phones fall silent; what the router has not read after DRAIN_SECONDS it
                # never will in time (its final mark counts everything it read).
                phonesSending = False
                phase, phaseEnd = "draining", now + DRAIN_SECONDS
        elif phase == "draining" and now >= phaseEnd and len(replies.get("MARK", [])) >= 2:
            router.mark()
            phase = "final mark"
        elif phase == "final mark" and len(replies.get("MARK", [])) >= 3:
            router.send("STOP")
            stopDeadline = now + STOP_SECONDS
            phase = "stopping"
        elif phase == "stopping" and ("STOPPED" in replies or now > stopDeadline):
            stoppedCleanly = "STOPPED" in replies
            break
    epoll.close()
    result = _figures(legs, marks, cpuMarks, replies["MARK"][:2], phones, replies["MARK"][2])
    result["stoppedCleanly"] = stoppedCleanly
    return result


def _figures(legs: int, marks: list[dict], cpuMarks: list[float], routerMarks: list[dict],
             phones: Phones, final: dict) -> dict:
    a, b = marks
    ra, rb = routerMarks
    window = b["time"] - a["time"]
    routerWindow = rb["time"] - ra["time"]
    nominal = legs * PACKETS_PER_SECOND
    # router -> phones, seen by the phones
    expectedAtPhones = receivedAtPhones = 0
    for i in range(legs):
        if a["extended"][i] >= 0:
            expectedAtPhones += b["extended"][i] - a["extended"][i]
            receivedAtPhones += b["received"][i] - a["received"][i]
    routerSent = rb["sent"] - ra["sent"]
    phonesSent = sum(b["sent"]) - sum(a["sent"])
    routerExpected = rb["expected"] - ra["expected"]
    routerReceived = rb["received"] - ra["received"]
    lossToPhones = (expectedAtPhones - receivedAtPhones) / expectedAtPhones if expectedAtPhones else 1.0
    lossToRouter = (routerExpected - routerReceived) / routerExpected if routerExpected else 1.0
    # The pump replays at most MAX_CATCH_UP late intervals; beyond that, intervals are skipped and
    # their packets never sent (and never numbered, so no sequence gap shows them).  Packets only
    # late are not short: they show as jitter at the phones.
    intervals = routerWindow / INTERVAL
    skipped = rb["skipped"] - ra["skipped"]
    # Ticks still owed beyond what the pump would replay count as never sent too (a wedged reactor
    # calls the pump so rarely that it skips nothing and sends nothing).
    owed = intervals - (rb["ticks"] - ra["ticks"]) - MAX_CATCH_UP_SHOWN
    shortfall = max(skipped, owed, 0) / intervals if intervals > 0 else 1.0
    phonesShortfall = max(0.0, 1.0 - phonesSent / (nominal * window)) if window else 1.0

    routerCpu = cpuMarks[1] - cpuMarks[0]
    phonesCpu = b["cpu"] - a["cpu"]
    otherCpu = max(0.0, b["machine"] - a["machine"] - routerCpu - phonesCpu)
    handled = routerSent + (rb["rxPackets"] - ra["rxPackets"])
    jitters = sorted(j / 8.0 for j in phones.jitter)  # timestamp units at 8 kHz to ms
    # Every packet the phones sent in the whole run (they stopped after the window) against what the
    # router had read DRAIN_SECONDS later: dropped packets and a backlog the router does not work off
    # both show here, exactly (no window edges).
    phonesSentTotal = sum(phones.sent)
    undelivered = max(0, phonesSentTotal - final["rxPackets"])
    undeliveredShare = undelivered / phonesSentTotal if phonesSentTotal else 1.0
    meets = max(lossToPhones, lossToRouter, shortfall, undeliveredShare) < TARGET_LOSS
    return {
        "window": round(window, 3),
        "routerSentPerSecond": round(routerSent / routerWindow, 1),
        "phonesReceivedPerSecond": round(receivedAtPhones / window, 1),
        "phonesSentPerSecond": round(phonesSent / window, 1),
        "routerReceivedPerSecond": round((rb["rxPackets"] - ra["rxPackets"]) / routerWindow, 1),
        "nominalPerSecond": nominal,
        "lossToPhones": lossToPhones, "lostToPhones": expectedAtPhones - receivedAtPhones,
        "lossToRouter": lossToRouter, "lostToRouter": routerExpected - routerReceived,
        "routerShortfall": shortfall, "phonesShortfall": phonesShortfall, "routerUnread": undeliveredShare, "routerUnreadPackets": undelivered,
        "phonesSentTotal": phonesSentTotal,
        "pumpTicksPerSecond": round((rb["ticks"] - ra["ticks"]) / routerWindow, 2),
        "pumpIntervalsSkipped": rb["skipped"] - ra["skipped"],
        "pumpMostIntervalsAtOnce": rb["maxCount"], "pumpLongestTickMs": round(rb["longestTickMs"], 2),
        "gcCollections": rb["gcCount"] - ra["gcCount"],
        "gcMsPerSecond": round(1000 * (rb["gcSeconds"] - ra["gcSeconds"]) / routerWindow, 3),
        "gcLongestMs": round(rb["gcLongestMs"], 2),
        "jitterAtPhonesMeanMs": round(sum(jitters) / len(jitters), 3) if jitters else None,
        "jitterAtPhonesP99Ms": round(jitters[min(len(jitters) - 1, int(0.99 * len(jitters)))], 3)
        if jitters else None,
        "jitterAtPhonesMaxMs": round(jitters[-1], 3) if jitters else None,
        "jitterAtRouterMeanMs": round(rb["jitterMeanMs"], 3),
        "jitterAtRouterMaxMs": round(rb["jitterMaxMs"], 3),
        "routerCpuPerSecond": round(routerCpu / window, 3),
        "phonesCpuPerSecond": round(phonesCpu / window, 3),
        "otherCpuPerSecond": round(otherCpu / window, 3),
        "routerPacketsHandledPerSecond": round(handled / routerWindow, 1),
        "routerUsPerPacket": round(1e6 * routerCpu / handled, 2) if handled else None,
        "routerCpuMsPerLegSecond": round(1000 * routerCpu / window / legs, 3),
        "errors": {"authFailuresAtPhones": phones.authFailures, "badLengthAtPhones": phones.badLength,
                   "authFailuresAtRouter": rb["authFailures"], "replaysAtRouter": rb["replays"],
                   "wrongSourceAtRouter": rb["wrongSource"], "malformedAtRouter": rb["malformed"]},
        "legsPumped": rb["pumped"],
        "meets": meets,
    }


def _profileText(path: str) -> str:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(path, stream=out)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    return out.getvalue()


# ---------------------------------------------------------------------------
# Report


def _pct(value: float) -> str:
    return f"{100 * value:.3f} %"


def describe(baseline: dict, results: list[dict]) -> str:
    lines = [
        f"media benchmark: SRTP (AES_CM_128_HMAC_SHA1_32) G.711 u-law legs, 20 ms, router on one epoll"
        f" reactor with one MediaPump, phones in a separate process, {os.cpu_count()} CPUs, 127.0.0.1",
        f"  baseline: raw pylibsrtp protect+unprotect of {baseline['packetBytes']}-byte packets:"
        f" {baseline['loopsPerSecond']:,} packets/s through both = {baseline['opsPerSecond']:,} SRTP ops/s"
        f" ({baseline['usPerOp']} us per op)",
    ]
    for r in results:
        ratio = r["routerPacketsHandledPerSecond"] / baseline["opsPerSecond"]
        toPhones = (f"loss {_pct(r['lossToPhones'])} ({r['lostToPhones']} packets)"
                    if r["phonesReceivedPerSecond"] else "nothing arrived")
        toRouter = (f"loss {_pct(r['lossToRouter'])} ({r['lostToRouter']} packets)"
                    if r["routerReceivedPerSecond"] else "nothing arrived")
        lines += [
            f"  {r['legs']} legs ({r['audio']}),"
            f" {r['window']:.1f} s measured after {r['warmup']} s"
            f" (set-up {r['setupSeconds']} s): {'MEETS' if r['meets'] else 'does not meet'} < 0.1 % loss",
            f"    router -> phones: sent {r['routerSentPerSecond']:,.0f}/s (nominal {r['nominalPerSecond']:,}/s,"
            f" never sent {_pct(r['routerShortfall'])}), received {r['phonesReceivedPerSecond']:,.0f}/s, {toPhones}",
            f"    phones -> router: sent {r['phonesSentPerSecond']:,.0f}/s (shortfall"
            f" {_pct(r['phonesShortfall'])}), router received {r['routerReceivedPerSecond']:,.0f}/s, {toRouter};"
            f" not read {DRAIN_SECONDS:.0f} s after the phones stopped: {r['routerUnreadPackets']:,} of"
            f" {r['phonesSentTotal']:,} ({_pct(r['routerUnread'])})",
            f"    jitter at the phones: mean {r['jitterAtPhonesMeanMs']} ms, p99 {r['jitterAtPhonesP99Ms']} ms,"
            f" max {r['jitterAtPhonesMaxMs']} ms; at the router: mean {r['jitterAtRouterMeanMs']} ms,"
            f" max {r['jitterAtRouterMaxMs']} ms",
            f"    pump: {r['pumpTicksPerSecond']} ticks/s, {r['pumpIntervalsSkipped']} intervals skipped"
            f" (more than {MAX_CATCH_UP_SHOWN} due at once), at most {r['pumpMostIntervalsAtOnce']} due at"
            f" once, longest tick {r['pumpLongestTickMs']} ms; garbage collection {r['gcCollections']} times,"
            f" {r['gcMsPerSecond']} ms/s, longest {r['gcLongestMs']} ms",
            f"    router CPU {r['routerCpuPerSecond']:.2f} s/s, {r['routerCpuMsPerLegSecond']} ms per leg-second,"
            f" {r['routerUsPerPacket']} us per packet handled; handled {r['routerPacketsHandledPerSecond']:,.0f}"
            f" packets/s = {ratio:.3f} of the raw SRTP rate; phones CPU {r['phonesCpuPerSecond']:.2f} s/s;"
            f" everything else on the box {r['otherCpuPerSecond']:.2f} s/s",
        ]
        if not r.get("stoppedCleanly", True):
            lines.append(f"    the router did not close its legs within {STOP_SECONDS:.0f} s of STOP (killed)")
        if any(r["errors"].values()):
            lines.append(f"    errors: {r['errors']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--legs", default="1000", help="concurrent legs; a comma-separated list runs each")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds measured per leg count")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--audio", choices=("samples", "tone", "silence"), default="samples",
                        help="what the ports play (see the module docstring)")
    parser.add_argument("--profile", action="store_true", help="run the router under cProfile and print it")
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    parser.add_argument("--serve", nargs=4, metavar=("PEERS", "KEYS", "AUDIO", "SECONDS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", dest="profileOut", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        return serveMain(args.serve, args.profileOut)

    counts = [int(c) for c in args.legs.split(",") if c.strip()]
    if not counts or min(counts) < 1 or max(counts) > MAX_LEGS:
        parser.error(f"--legs must be between 1 and {MAX_LEGS}")
    if not 0 < args.seconds <= MAX_SECONDS or not 0 <= args.warmup <= MAX_SECONDS:
        parser.error(f"--seconds and --warmup must be at most {MAX_SECONDS}")
    baseline = rawSrtpRate()
    results = []
    for legs in counts:
        results.append(runLegs(legs, args.seconds, args.warmup, args.audio, args.profile))
        print(describe(baseline, results[-1:]).split("\n", 2)[2], flush=True)
    print()
    print(describe(baseline, results))
    for r in results:
        if "profile" in r:
            print(f"\nrouter profile, {r['legs']} legs (top {PROFILE_LINES} by own time):")
            print(r.pop("profile"))
    if args.json:
        print(json.dumps({"baseline": baseline, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
