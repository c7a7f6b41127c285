"""
Benchmark: MGCP CRCX + DLCX transactions per second through srst's MGCP
gateway, from a local call agent, against a bare codec + UDP responder.

Run from the checkout::

    python benchmarks/mgcp.py [--transactions 2000] [--concurrency 20]
        [--ports 24] [--warmup 200] [--rounds 3] [--max-seconds 60]
        [--gc-freeze] [--profile PATH] [--json]

The server is a child process (C{--serve}) on Twisted's default (epoll)
reactor, on 127.0.0.1 only.  It holds two UDP listeners:

  - the gateway: L{srst.mgcp.gateway.MgcpGateway} over C{--ports}
    simulated FXS voice ports C{1/0/0} .. (C{newVoicePort} on a
    C{SimulatedBackend}, as L{srst.ports.service} builds them), with real RTP
    legs (L{srst.ports.media.PortMediaResources}: an C{RtpPortAllocator} on
    127.0.0.1, one C{MediaPump}), debug categories off (its C{debugLog}
    publishes through a L{srst.debug.DebugSwitches} with nothing enabled,
    as the service wires it), logging filtered to warnings.  Its call agent
    is this process: the boot RSIP comes here and is answered 200;
  - the baseline: a trivial C{DatagramProtocol} that decodes every
    datagram with L{srst.mgcp.messages.decodeMessage} and answers each
    command with C{200 <id> OK} (L{encodeMessage} of a L{Response}), so the
    ratio shows what the gateway costs over bare codec + UDP.

This process is the call agent: an L{MgcpTransactionProtocol} on its own
UDP port.  C{--concurrency} workers each repeat: take a free endpoint
C{aaln/S1/SU0/<n>@<domain>} (round robin over the ports), send
C{CRCX} (C{C:} a fresh call id, C{L: p:20, a:PCMU}, C{M: recvonly}); on a
2xx answer send C{DLCX} for it (C{C:} and, when the answer carried one,
C{I:}: the baseline answers no C{I:}, so there the DLCX names the call
only).  A transaction is one command, timed from C{sendCommand} to its final
response; so C{--concurrency} transactions are in flight at any time and
C{--transactions} counts CRCX and DLCX together (rounded up to pairs).
Each of C{--rounds} rounds runs the baseline, then the gateway, each
phase after C{--warmup} transactions that are not measured; the summary is
the median rate and CPU of the rounds and the latencies of all rounds
pooled (this 2-core box is shared, so single phases of a second or so are
noisy).  No transaction is started after C{--max-seconds} (60) from the
first, nor more than 20 s into a phase (warm-up and measurement each).

Reported for each: transactions/s (first send to last final response),
p50/p99/max latency, response codes (2xx included: 200 for CRCX, 250 for
DLCX against the gateway), timeouts, the call agent's retransmissions, the
server's and the call agent's CPU per transaction (from /proc), the
CPU share of everything else on the box during the phase; and the ratio gateway /
baseline of transactions/s.  C{--profile PATH} runs the server under
cProfile (CPU time, only while the measured gateway phase runs) and prints
the top functions by own and by cumulative time.  C{--gc-freeze} is an
experiment: the server calls C{gc.collect()} and C{gc.freeze()} once set
up, so the collector's full runs no longer walk the start-up heap (srst
itself does not do this).  The server reports its collector's runs and
pauses by generation.

Not a test; nothing here runs under trial.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import signal
import subprocess
import sys
import time

from _common import boxBusySeconds, processCpuSeconds, quietLogging  # noqa: E402 (puts the checkout on sys.path)

HOST = "127.0.0.1"
DOMAIN = "gw1.example.com"
RTP_RANGE = "20000-29999"
MAX_CONNECTIONS = 4
PHASE_SECONDS = 20.0


def _selfCpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _GcPauses:
    """Times the cyclic garbage collector's runs, by generation."""

    def __init__(self) -> None:
        import gc

        self._started = 0.0
        self.count = [0, 0, 0]
        self.total = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        elapsed = time.perf_counter() - self._started
        self.count[generation] += 1
        self.total[generation] += elapsed
        self.longest[generation] = max(self.longest[generation], elapsed)

    def figures(self) -> dict:
        return {f"gen{g}": dict(runs=self.count[g], totalMs=round(1000 * self.total[g], 1),
                                longestMs=round(1000 * self.longest[g], 1)) for g in range(3)}


# ---------------------------------------------------------------------------
# The server child process (python mgcp.py --serve PORTS CA_PORT)


def serve(reactor, ports: str, caPort: str, freeze: str = "off"):
    """
    Bind the gateway and the baseline responder on ephemeral 127.0.0.1
    ports, start the gateway (its boot RSIP goes to C{caPort}), print
    C{LISTENING <gateway> <baseline>}, and the counters as JSON on SIGTERM.
    """
    from twisted.internet.defer import Deferred
    from twisted.internet.protocol import DatagramProtocol

    from srst.ports.config import Signal, VoicePortConfig
    from srst.debug import DebugSwitches
    from srst.media.portrange import RtpPortAllocator
    from srst.mgcp.gateway import DEBUG_NAMESPACE, MgcpGateway
    from srst.mgcp.messages import Command, MgcpDecodeError, Response, decodeMessage, encodeMessage
    from srst.ports.media import MediaPump, PortMediaResources
    from srst.ports.simulated import SimulatedBackend
    from srst.ports.voiceport import newVoicePort

    quietLogging()
    pauses = _GcPauses()

    class BaselineResponder(DatagramProtocol):
        """Answers every MGCP command with C{200 <id> OK}."""

        answered = 0

        def datagramReceived(self, data: bytes, addr) -> None:
            try:
                message = decodeMessage(data)
            except MgcpDecodeError:
                return
            if isinstance(message, Command):
                self.answered += 1
                self.transport.write(encodeMessage(Response(200, message.transactionId, "OK")), addr)

    pump = MediaPump(reactor)
    allocator = RtpPortAllocator(HOST, RTP_RANGE)
    switches = DebugSwitches()
    media = PortMediaResources(reactor, allocator, pump, debug=switches)
    voicePorts = []
    for index in range(int(ports)):
        name = f"1/0/{index}"
        voicePorts.append(newVoicePort(VoicePortConfig(name, Signal.FXS_LOOP_START),
                                       SimulatedBackend(name, Signal.FXS_LOOP_START), debug=switches))
    gateway = MgcpGateway(clock=reactor, domain=DOMAIN, ports=voicePorts,
                          newLeg=lambda port, payloadType: media.newLeg(port, payloadType),
                          callAgent=(HOST, int(caPort)), maxConnections=MAX_CONNECTIONS,
                          debugLog=switches.logger(DEBUG_NAMESPACE))
    gatewayPort = reactor.listenUDP(0, gateway.protocol, interface=HOST)
    baseline = BaselineResponder()
    baselinePort = reactor.listenUDP(0, baseline, interface=HOST)
    gateway.start()
    if freeze == "on":
        import gc

        gc.collect()
        gc.freeze()
    sys.stdout.write(f"LISTENING {gatewayPort.getHost().port} {baselinePort.getHost().port}\n")
    sys.stdout.flush()

    def report() -> None:
        counters = gateway.counters
        core = gateway.transactions.counters
        figures = dict(received=counters.received, sent=counters.sent,
                       commandsReceived=counters.commandsReceived, duplicates=counters.duplicates,
                       malformed=counters.malformed, errors={str(k): v for k, v in counters.errors.items()},
                       provisionalsSent=core.provisionalsSent, registered=gateway.registered,
                       cachedResponses=gateway.transactions.cached, rtpPortsInUse=len(allocator.inUse),
                       baselineAnswered=baseline.answered, gc=pauses.figures())
        sys.stdout.write(json.dumps(figures) + "\n")
        sys.stdout.flush()
        pump.stop()

    reactor.addSystemEventTrigger("before", "shutdown", report)
    return Deferred()  # runs until SIGTERM stops the reactor


def serveMain(args: list[str], profilePath: str | None) -> int:
    from twisted.internet.task import react

    profiler = None
    if profilePath:
        import cProfile

        # CPU time, not wall time: on a shared box a loopback sendto that
        # wakes the peer is often preempted, which is no cost of the code.
        profiler = cProfile.Profile(time.process_time)
        signal.signal(signal.SIGUSR1, lambda *ignored: profiler.enable())
        signal.signal(signal.SIGUSR2, lambda *ignored: profiler.disable())
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


class Server:
    """The server child process."""

    def __init__(self, ports: int, caPort: int, profilePath: str | None, freeze: bool) -> None:
        command = [sys.executable, os.path.abspath(__file__), "--serve", str(ports), str(caPort),
                   "on" if freeze else "off"]
        if profilePath:
            command += ["--profile-out", profilePath]
        self.profiled = bool(profilePath)
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        text=True)
        line = self.process.stdout.readline()
        if not line.startswith("LISTENING "):
            self.process.kill()
            raise RuntimeError(f"server: unexpected output {line!r}")
        _, gatewayPort, baselinePort = line.split()
        self.gateway = (HOST, int(gatewayPort))
        self.baseline = (HOST, int(baselinePort))

    def cpu(self) -> float:
        return processCpuSeconds(self.process.pid)

    def profiling(self, on: bool) -> None:
        """Start or stop the server's profiler (when it has one)."""
        if self.profiled:
            self.process.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)

    def stop(self) -> dict:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        lines = (out or "").strip().splitlines()
        return json.loads(lines[-1]) if lines else {}


# ---------------------------------------------------------------------------
# The call agent (this process)


class CallAgent:
    """
    The load: an L{MgcpTransactionProtocol} that answers the gateway's
    commands (the boot RSIP, any NTFY) 200 and runs CRCX/DLCX pairs.
    """

    def __init__(self, reactor) -> None:
        from srst.debug import DebugSwitches
        from srst.mgcp.transactions import MgcpTransactionProtocol

        self.reactor = reactor
        self.received: collections.Counter = collections.Counter()
        self.protocol = MgcpTransactionProtocol(reactor, self, firstTransactionId=1,
                                                debugLog=DebugSwitches().logger("srst.debug.mgcp"))
        self._callIds = 0

    def commandReceived(self, command, peer):
        """The transaction layer's owner: answer every command 200."""
        from srst.mgcp.messages import Response

        self.received[command.verb] += 1
        return Response(200, command.transactionId, "OK")

    def messageHandled(self, message, peer) -> None:
        """The transaction layer's owner: nothing to do."""

    def commandAnswered(self, transactionId, peer) -> None:
        """The transaction layer's owner: nothing to do after an answer."""

    def responseSent(self, code, transactionId, peer) -> None:
        """The transaction layer's owner: nothing to count."""

    def _callId(self) -> str:
        self._callIds += 1
        return "%X" % (0xB0000000 + self._callIds,)

    async def run(self, target, pairs: int, concurrency: int, ports: int, deadline: float) -> dict:
        """
        Run C{pairs} CRCX/DLCX pairs against C{target}, C{concurrency}
        transactions in flight.
        """
        from twisted.internet.defer import Deferred, gatherResults

        from srst.mgcp.messages import Command
        from srst.mgcp.transactions import MgcpTimeout

        slots = collections.deque()
        for _ in range(min(MAX_CONNECTIONS, -(-concurrency // ports))):
            slots.extend(range(ports))
        latencies: list[float] = []
        codes: collections.Counter = collections.Counter()
        state = {"started": 0, "timeouts": 0}
        core = self.protocol.transactions
        retransmissionsBefore = core.counters.retransmissions

        async def transact(command) -> object:
            sentAt = time.perf_counter()
            try:
                response = await self.protocol.sendCommand(command, target)
            except MgcpTimeout:
                state["timeouts"] += 1
                return None
            latencies.append(time.perf_counter() - sentAt)
            codes[f"{command.verb} {response.code}"] += 1
            return response

        async def worker() -> None:
            while state["started"] < pairs and time.perf_counter() < deadline:
                state["started"] += 1
                port = slots.popleft()
                endpoint = f"aaln/S1/SU0/{port}@{DOMAIN}"
                callId = self._callId()
                response = await transact(Command(
                    "CRCX", 1, endpoint, "MGCP 0.1",
                    parameters=[("C", callId), ("L", "p:20, a:PCMU"), ("M", "recvonly")]))
                if response is not None and 200 <= response.code <= 299:
                    parameters = [("C", callId)]
                    connectionId = response.raw("I")
                    if connectionId:
                        parameters.append(("I", connectionId))
                    await transact(Command("DLCX", 1, endpoint, "MGCP 0.1", parameters=parameters))
                slots.append(port)

        # Each worker has one transaction in flight; start them all at once.
        cpuBefore = _selfCpu()
        started = time.perf_counter()
        await gatherResults([Deferred.fromCoroutine(worker()) for _ in range(concurrency)])
        seconds = time.perf_counter() - started
        latencies.sort()
        count = len(latencies)
        return dict(transactions=count, seconds=round(seconds, 3),
                    perSecond=round(count / seconds, 1) if seconds else 0.0,
                    p50Ms=_quantile(latencies, 0.50), p99Ms=_quantile(latencies, 0.99),
                    maxMs=_quantile(latencies, 1.0), latencies=latencies,
                    codes=dict(sorted(codes.items())), timeouts=state["timeouts"],
                    retransmissions=core.counters.retransmissions - retransmissionsBefore,
                    clientCpu=_selfCpu() - cpuBefore)


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def _phase(reactor, agent: CallAgent, server: Server, name: str, target, args,
                 deadline: float) -> dict:
    from twisted.internet.task import deferLater

    if args.warmup:
        await agent.run(target, -(-args.warmup // 2), args.concurrency, args.ports,
                        min(deadline, time.perf_counter() + PHASE_SECONDS))
    await deferLater(reactor, 0.2, lambda: None)
    server.profiling(name == "gateway")
    serverBefore, clientBefore, boxBefore = server.cpu(), _selfCpu(), boxBusySeconds()
    result = await agent.run(target, -(-args.transactions // 2), args.concurrency, args.ports,
                             min(deadline, time.perf_counter() + PHASE_SECONDS))
    serverCpu = server.cpu() - serverBefore
    clientCpu = _selfCpu() - clientBefore
    boxCpu = boxBusySeconds() - boxBefore
    server.profiling(False)
    count = result["transactions"] or 1
    seconds = result["seconds"] or 1e-9
    result["serverCpuMsPerTransaction"] = round(1000 * serverCpu / count, 3)
    result["serverCpuShare"] = round(serverCpu / seconds, 2)
    result["clientCpuMsPerTransaction"] = round(1000 * clientCpu / count, 3)
    result["clientCpuShare"] = round(clientCpu / seconds, 2)
    result["othersCpuShare"] = round(max(0.0, boxCpu - serverCpu - clientCpu) / seconds, 2)
    result.pop("clientCpu")
    return result


def _summary(rounds: list[dict]) -> dict:
    """Median rate and CPU over the rounds; latencies pooled."""
    import statistics

    pooled = sorted(latency for r in rounds for latency in r["latencies"])
    codes: collections.Counter = collections.Counter()
    for r in rounds:
        codes.update(r["codes"])
    return dict(perSecond=round(statistics.median(r["perSecond"] for r in rounds), 1),
                serverCpuMsPerTransaction=round(statistics.median(
                    r["serverCpuMsPerTransaction"] for r in rounds), 3),
                clientCpuMsPerTransaction=round(statistics.median(
                    r["clientCpuMsPerTransaction"] for r in rounds), 3),
                transactions=len(pooled), p50Ms=_quantile(pooled, 0.50), p99Ms=_quantile(pooled, 0.99),
                maxMs=_quantile(pooled, 1.0), codes=dict(sorted(codes.items())),
                timeouts=sum(r["timeouts"] for r in rounds),
                retransmissions=sum(r["retransmissions"] for r in rounds))


async def _measure(reactor, agent: CallAgent, server: Server, args) -> dict:
    rounds: dict[str, list[dict]] = {"baseline": [], "gateway": []}
    deadline = time.perf_counter() + args.max_seconds
    for _ in range(args.rounds):
        if time.perf_counter() >= deadline:
            break
        for name, target in (("baseline", server.baseline), ("gateway", server.gateway)):
            rounds[name].append(await _phase(reactor, agent, server, name, target, args, deadline))
    # A round counts only when both its phases measured something.
    complete = [index for index in range(len(rounds["gateway"]))
                if rounds["baseline"][index]["transactions"] and rounds["gateway"][index]["transactions"]]
    rounds = {name: [phases[index] for index in complete] for name, phases in rounds.items()}
    if not complete:
        raise RuntimeError("no round completed within --max-seconds")
    results: dict = {name: _summary(phases) for name, phases in rounds.items()}
    for phases in rounds.values():
        for phase in phases:
            phase.pop("latencies")
    results["rounds"] = rounds
    results["bootRsipAnswered"] = agent.received.get("RSIP", 0)
    results["commandsFromGateway"] = dict(agent.received)
    return results


def runLoad(args) -> tuple[dict, dict]:
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    output: dict = {}

    async def main(reactor):
        import gc

        quietLogging()
        pauses = _GcPauses()
        agent = CallAgent(reactor)
        # The call agent is the harness: keep its collector off the start-up heap.
        gc.collect()
        gc.freeze()
        caPort = reactor.listenUDP(0, agent.protocol, interface=HOST)
        server = Server(args.ports, caPort.getHost().port, args.profile, args.gc_freeze)
        try:
            output["results"] = await _measure(reactor, agent, server, args)
            output["results"]["callAgentGc"] = pauses.figures()
        finally:
            output["server"] = server.stop()
            await caPort.stopListening()

    try:
        react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
    except SystemExit as e:
        if e.code:
            raise
    return output["results"], output["server"]


# ---------------------------------------------------------------------------
# Report


def describe(args, results: dict, server: dict) -> str:
    lines = [
        f"mgcp benchmark: {args.transactions} transactions (CRCX+DLCX pairs) per phase, {args.rounds}"
        f" rounds of baseline then gateway, {args.concurrency} in flight, {args.ports} FXS ports,"
        f" {args.warmup} warm-up transactions per phase, {os.cpu_count()} CPUs, call agent and server in"
        f" separate processes{'; server gc.freeze() after start-up' if args.gc_freeze else ''}",
    ]
    completed = len(results["rounds"]["gateway"])
    if completed < args.rounds:
        lines.append(f"  only {completed} of {args.rounds} rounds completed within --max-seconds {args.max_seconds}")
    for index in range(completed):
        base, gw = results["rounds"]["baseline"][index], results["rounds"]["gateway"][index]
        for name, r in (("baseline", base), ("gateway", gw)):
            lines.append(
                f"  round {index + 1} {name:8s}: {r['transactions']} in {r['seconds']:.3f} s:"
                f" {r['perSecond']:.0f}/s, p50 {r['p50Ms']} ms, p99 {r['p99Ms']} ms; server CPU"
                f" {r['serverCpuMsPerTransaction']} ms/transaction ({100 * r['serverCpuShare']:.0f}% of a CPU),"
                f" call agent {r['clientCpuMsPerTransaction']} ms ({100 * r['clientCpuShare']:.0f}%),"
                f" others {100 * r['othersCpuShare']:.0f}%")
        if base["perSecond"]:
            lines.append(f"  round {index + 1} ratio gateway/baseline {gw['perSecond'] / base['perSecond']:.2f}")
    for name in ("baseline", "gateway"):
        r = results[name]
        lines.append(
            f"  {name:8s} (median of rounds; latencies pooled): {r['perSecond']:.0f} transactions/s,"
            f" p50 {r['p50Ms']} ms, p99 {r['p99Ms']} ms, max {r['maxMs']} ms; server CPU"
            f" {r['serverCpuMsPerTransaction']} ms/transaction, call agent CPU {r['clientCpuMsPerTransaction']} ms;"
            f" codes {r['codes']}; timeouts {r['timeouts']}, retransmissions {r['retransmissions']}")
    base, gw = results["baseline"], results["gateway"]
    ratio = gw["perSecond"] / base["perSecond"] if base["perSecond"] else 0.0
    cpuRatio = (gw["serverCpuMsPerTransaction"] / base["serverCpuMsPerTransaction"]
                if base["serverCpuMsPerTransaction"] else 0.0)
    lines.append(f"  ratio gateway/baseline: {ratio:.2f} of the transactions/s;"
                 f" server CPU per transaction {cpuRatio:.1f}x the baseline's")
    errors = server.get("errors") or {}
    lines.append(f"  gateway: boot RSIP answered {results['bootRsipAnswered']}, registered"
                 f" {server.get('registered')}, error responses {errors or 'none'}, duplicates"
                 f" {server.get('duplicates')}, provisionals {server.get('provisionalsSent')},"
                 f" RTP ports still in use {server.get('rtpPortsInUse')}, responses cached"
                 f" {server.get('cachedResponses')}")
    for who, collector in (("server", server.get("gc") or {}), ("call agent", results["callAgentGc"])):
        lines.append(f"  {who} garbage collector (whole run): " + ", ".join(
            f"{name} {g['runs']} runs {g['totalMs']} ms (longest {g['longestMs']} ms)"
            for name, g in collector.items()))
    return "\n".join(lines)


def printProfile(path: str, limit: int = 25) -> None:
    import pstats

    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=2000,
                        help="transactions measured per phase (CRCX and DLCX each count one)")
    parser.add_argument("--concurrency", type=int, default=20, help="transactions in flight")
    parser.add_argument("--ports", type=int, default=24, help="simulated FXS voice ports")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up transactions per phase")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of baseline then gateway (medians reported)")
    parser.add_argument("--profile", metavar="PATH", help="run the server under cProfile, stats to PATH")
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="stop starting transactions after this long (all rounds), and any phase after 20 s")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="experiment: gc.freeze() in the server after start-up (srst does not do this)")
    parser.add_argument("--serve", nargs=3, metavar=("PORTS", "CA_PORT", "FREEZE"), help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        return serveMain(args.serve, args.profile_out)
    if not 1 <= args.concurrency <= args.ports * MAX_CONNECTIONS:
        parser.error(f"--concurrency must be 1 .. {args.ports * MAX_CONNECTIONS} (ports x {MAX_CONNECTIONS})")
    if (not 1 <= args.ports <= 1000 or not 2 <= args.transactions <= 1000000
            or not 1 <= args.rounds <= 20):
        parser.error("--ports 1..1000, --transactions 2..1000000, --rounds 1..20")

    results, server = runLoad(args)
    print(describe(args, results, server))
    if args.json:
        print(json.dumps({"results": results, "server": server}, indent=2))
    if args.profile:
        printProfile(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
