"""
Benchmark: phone-to-phone call setups through srst's call engine, with many
phones registered.

Run from the checkout::

    python benchmarks/calls.py [--phones 1500] [--calls 500] [--concurrency 20]
        [--warmup 20] [--readme] [--json]

The server is a child process (C{--serve}): the real
L{srst.sccp.factory.SkinnyFactory}, L{srst.sccp.registry.EphoneRegistry},
L{srst.calls.engine.CallEngine} and L{srst.sccp.callcontrol.SccpCallControl},
wired as L{srst.service} wires them, on plain TCP on 127.0.0.1, debug
categories off, logging filtered to warnings (the registration benchmark's
set-up, L{benchmarks/registration.py}).  Auto-assigned directory numbers
give every phone one six-digit line.

This process is the load: L{srst.tools._phoneload.LoadGenerator} registers
C{--phones} simulated 7970s (protocol 11, G.711 u-law and A-law), then
places C{--calls} calls between distinct pairs of phones (every phone takes
part in at most one call), C{--concurrency} calls in flight at a time.  One
call setup is, timed from the caller's OffHook:

  1. the caller sends OffHook and the called number as KeypadButtons (one
     write, as a user dialling quickly would);
  2. the called phone, on CallState RingIn, sends OffHook (answers);
  3. each phone answers its OpenReceiveChannel with an
     OpenReceiveChannelAck (127.0.0.1, a port of its own);
  4. the call is set up when both phones have received
     StartMediaTransmission (both sides Connected, media started).

Calls stay up until the measurement ends (so the server does no clearing
work while it is timed); then every call is cleared and the phones
unregister.  A warm-up of C{--warmup} calls between other phones (set up
and cleared) precedes the measurement.

Reported: calls set up, setups per second (first OffHook to last
StartMediaTransmission), p50/p99 setup latency, and the server's CPU time
per call setup.  Targets: at least 300 setups/s, p99 at most 20 ms.

With C{--readme} the report is appended to C{benchmarks/README.md} (under
a "calls" heading, created if missing).

Not a test; nothing here runs under trial.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

from _common import ROOT, processCpuSeconds, quietLogging  # noqa: E402 (puts the checkout on sys.path)

HOST = "127.0.0.1"
FIRST_MAC = "0000AA000001"
FIRST_DN = 100000
RTP_PORT_BASE = 20000
CALL_TIMEOUT = 10.0
TARGET_RATE = 300.0
TARGET_P99_MS = 20.0


def _utcNow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------------------
# The server child process (python calls.py --serve COUNT)


def serve(reactor, count: str, nodelay: str = "off"):
    """
    Run one plain SCCP listener with the call engine on an ephemeral
    127.0.0.1 port; print C{LISTENING <port>}, and the counters as JSON on
    SIGTERM.  With C{nodelay} C{"on"} every accepted connection gets
    TCP_NODELAY (Nagle's algorithm off).
    """
    from twisted.internet.defer import Deferred, maybeDeferred
    from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

    from srst.calls.engine import CallEngine
    from srst.sccp.callcontrol import SccpCallControl
    from srst.sccp.config import CallManagerFallbackConfig
    from srst.debug import DebugSwitches
    from srst.sccp.factory import SkinnyFactory
    from srst.sccp.registry import EphoneRegistry

    quietLogging()
    total = int(count)
    config = CallManagerFallbackConfig(
        ipSourceAddress=HOST, port=0, securePort=0, maxEphones=total, maxDn=total,
        autoAssign=(FIRST_DN, FIRST_DN + total))
    registry = EphoneRegistry(config, None, reactor, runInThread=maybeDeferred)
    engine = CallEngine(reactor, interdigit=config.timeouts.interdigit, ringing=config.timeouts.ringing,
                        secondaryDialtone=config.secondaryDialtone)
    control = SccpCallControl(engine, registry)
    factory = SkinnyFactory(config, reactor, registry, _utcNow, secure=False, debug=DebugSwitches(),
                            listener=control)
    listening = factory
    if nodelay == "on":
        class NoDelay(ProtocolWrapper):
            def makeConnection(self, transport) -> None:
                transport.setTcpNoDelay(True)
                ProtocolWrapper.makeConnection(self, transport)

        listening = WrappingFactory(factory)
        listening.protocol = NoDelay
    port = reactor.listenTCP(0, listening, interface=HOST, backlog=4096)
    sys.stdout.write(f"LISTENING {port.getHost().port}\n")
    sys.stdout.flush()

    def report() -> None:
        figures = dict(factory.statistics(), registered=len(registry.registeredEphones()),
                       callsUp=len(engine.calls()))
        sys.stdout.write(json.dumps(figures) + "\n")
        sys.stdout.flush()

    reactor.addSystemEventTrigger("before", "shutdown", report)
    return Deferred()  # runs until SIGTERM stops the reactor


class Server:
    """The server child process."""

    def __init__(self, count: int, nodelay: bool) -> None:
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", str(count), "on" if nodelay else "off"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"server: unexpected output {line!r}")
        self.port = int(line.split()[1])

    def cpu(self) -> float:
        """@return: user + system CPU seconds so far."""
        return processCpuSeconds(self.process.pid)

    def stop(self) -> dict:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        lines = (out or "").strip().splitlines()
        return json.loads(lines[-1]) if lines else {}


# ---------------------------------------------------------------------------
# One call


class CallSetupFailed(RuntimeError):
    """A call did not reach both sides' StartMediaTransmission."""

    def __init__(self, caller: str, reason: str) -> None:
        RuntimeError.__init__(self, caller, reason)
        self.caller = caller
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.caller}: {self.reason}"


class PlacedCall:
    """
    One call from C{caller} to C{callee}, driven by the phones' message
    observers (see the module docstring).
    """

    def __init__(self, reactor, caller, callee, number: str, rtpPorts: tuple[int, int]) -> None:
        from twisted.internet.defer import Deferred

        self.reactor = reactor
        self.caller = caller
        self.callee = callee
        self.number = number
        self.rtpPorts = {id(caller): rtpPorts[0], id(callee): rtpPorts[1]}
        self.started = 0.0
        self.latency: float | None = None
        self._media: set[int] = set()
        self._done: Deferred = Deferred()
        self._timeout = None
        self._observers = [(caller, self._observer(caller)), (callee, self._observer(callee))]

    def _observer(self, phone):
        from srst.sccp import messages as m
        from srst.sccp.constants import CallState

        def observe(msg) -> None:
            if isinstance(msg, m.OpenReceiveChannel):
                phone.sendMessage(m.OpenReceiveChannelAck(
                    0, ipaddress.IPv4Address(HOST), self.rtpPorts[id(phone)], msg.passThruPartyId,
                    msg.callReference))
            elif isinstance(msg, m.StartMediaTransmission):
                self._media.add(id(phone))
                if len(self._media) == 2:
                    self._finish(None)
            elif isinstance(msg, m.CallState):
                if phone is self.callee and msg.callState == CallState.RING_IN:
                    phone.offHook()
                elif msg.callState in (CallState.BUSY, CallState.ON_HOOK) and self.latency is None:
                    self._finish(f"CallState {int(msg.callState)} before media")

        return observe

    def start(self):
        """
        Go off hook and dial.

        @return: a Deferred firing with the setup latency in seconds.
        """
        for phone, observer in self._observers:
            phone.addMessageObserver(observer)
        self._timeout = self.reactor.callLater(CALL_TIMEOUT, self._finish, "timed out")
        self.started = self.reactor.seconds()
        self.caller.offHook()
        self.caller.pressKeys(self.number)
        return self._done

    def _finish(self, error: str | None) -> None:
        if self._done.called:
            return
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        for phone, observer in self._observers:
            phone.removeMessageObserver(observer)
        if error is None:
            self.latency = self.reactor.seconds() - self.started
            self._done.callback(self.latency)
        else:
            self._done.errback(CallSetupFailed(self.caller.deviceName, error))

    def hangUp(self) -> None:
        """The caller hangs up (the engine clears both legs)."""
        self.caller.onHook()


async def placeCalls(reactor, pairs, concurrency: int) -> dict:
    """
    Place one call per pair, C{concurrency} at a time.

    @param pairs: C{(caller, callee, number, rtpPorts)} tuples.
    @return: the figures, and the L{PlacedCall}s under C{"calls"}.
    """
    from twisted.internet.defer import Deferred, DeferredList

    from srst.tools._phoneload import percentile

    work = iter(pairs)
    calls: list[PlacedCall] = []
    latencies: list[float] = []
    errors: dict[str, int] = {}
    begin = reactor.seconds()
    last = [begin]

    def worker() -> Deferred:
        done: Deferred = Deferred()

        def startNext(_: object = None) -> None:
            try:
                caller, callee, number, ports = next(work)
            except StopIteration:
                done.callback(None)
                return
            call = PlacedCall(reactor, caller, callee, number, ports)
            calls.append(call)

            def succeeded(latency: float) -> None:
                latencies.append(latency)
                last[0] = max(last[0], reactor.seconds())

            def failed(reason) -> None:
                text = str(reason.value)
                errors[text.split(": ", 1)[-1]] = errors.get(text.split(": ", 1)[-1], 0) + 1

            call.start().addCallbacks(succeeded, failed).addBoth(startNext)

        startNext()
        return done

    await DeferredList([worker() for _ in range(max(1, concurrency))], consumeErrors=True)
    elapsed = last[0] - begin
    latencies.sort()
    return {
        "attempted": len(calls), "connected": len(latencies), "seconds": round(elapsed, 4),
        "setupsPerSecond": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50Ms": round(percentile(latencies, 0.5) * 1000, 3) if latencies else None,
        "p99Ms": round(percentile(latencies, 0.99) * 1000, 3) if latencies else None,
        "maxMs": round(latencies[-1] * 1000, 3) if latencies else None,
        "errors": errors, "calls": calls,
    }


# ---------------------------------------------------------------------------
# The load


async def _measure(reactor, server: Server, phones: int, count: int, levels: list[int], warmup: int,
                   nodelay: bool) -> list[dict]:
    from twisted.internet.task import deferLater

    from srst.tools._phonetypes import PhoneConfig
    from srst.tools._phoneload import LoadGenerator
    from srst.tools.lsc import macRange

    configs = [PhoneConfig(mac=mac, registrationTimeout=120.0, decodeAll=True)
               for mac in macRange(FIRST_MAC, phones)]
    generator = LoadGenerator(reactor, HOST, server.port, configs, concurrency=100)
    registration = await generator.run()
    if registration.registered != phones:
        raise RuntimeError(f"registration failed: {registration.describe()}")
    numbered = []
    for phone in generator.phones:
        stat = phone.settings.lineStats.get(1)
        if stat is None or not stat.lineDirNumber:
            raise RuntimeError(f"{phone.deviceName} got no line")
        numbered.append((phone, stat.lineDirNumber))
        if nodelay:
            phone.protocol.transport.setTcpNoDelay(True)
    if 2 * (count + warmup) > phones:
        raise RuntimeError(f"{count} calls and {warmup} warm-up calls need {2 * (count + warmup)} phones")

    def pairs(first: int, calls: int) -> list:
        out = []
        for i in range(calls):
            (caller, _), (callee, number) = numbered[first + 2 * i], numbered[first + 2 * i + 1]
            index = first + 2 * i
            out.append((caller, callee, number, (RTP_PORT_BASE + 2 * index, RTP_PORT_BASE + 2 * index + 2)))
        return out

    async def clear(calls: list[PlacedCall]) -> None:
        for call in calls:
            call.hangUp()
        await deferLater(reactor, 1.0)  # the calls clear; the server settles

    warm = await placeCalls(reactor, pairs(2 * count, warmup), levels[0])
    await clear(warm.pop("calls"))
    if warm["connected"] != warmup:
        raise RuntimeError(f"warm-up failed: {warm['errors']}")

    results = []
    for concurrency in levels:
        cpuBefore, clientBefore = server.cpu(), time.process_time()
        result = await placeCalls(reactor, pairs(0, count), concurrency)
        cpuUsed, clientUsed = server.cpu() - cpuBefore, time.process_time() - clientBefore
        await clear(result.pop("calls"))
        setups = max(result["connected"], 1)
        result.update(
            phones=phones, registered=registration.registered, concurrency=concurrency, warmup=warmup,
            nodelay=nodelay,
            serverCpuMsPerSetup=round(1000 * cpuUsed / setups, 3),
            serverCpuShare=round(cpuUsed / result["seconds"], 2) if result["seconds"] else None,
            clientCpuMsPerSetup=round(1000 * clientUsed / setups, 3))
        results.append(result)
    unregistered, failed = await generator.unregisterAll()
    for result in results:
        result.update(unregistered=unregistered, unregisterFailed=failed)
    return results


def runLoad(server: Server, phones: int, count: int, levels: list[int], warmup: int,
            nodelay: bool) -> list[dict]:
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    results: list[dict] = []

    async def main(reactor):
        quietLogging()
        results.extend(await _measure(reactor, server, phones, count, levels, warmup, nodelay))

    try:
        react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
    except SystemExit as e:
        if e.code:
            raise
    return results


# ---------------------------------------------------------------------------
# Report


def describe(results: list[dict]) -> str:
    first = results[0]
    lines = [
        f"calls benchmark: {first['phones']} phones registered (plain TCP), {first['attempted']} calls between"
        f" distinct pairs per run, {first['warmup']} warm-up calls, TCP_NODELAY"
        f" {'on' if first['nodelay'] else 'off'}, {os.cpu_count()} CPUs, load generator and server in"
        f" separate processes; targets >= {TARGET_RATE:.0f} setups/s, p99 <= {TARGET_P99_MS:.0f} ms",
    ]
    for r in results:
        rateOk = "ok" if r["setupsPerSecond"] >= TARGET_RATE else "below target"
        p99Ok = "ok" if r["p99Ms"] is not None and r["p99Ms"] <= TARGET_P99_MS else "above target"
        lines.append(
            f"  {r['concurrency']:3d} in flight: connected {r['connected']}/{r['attempted']} in"
            f" {r['seconds']:.3f} s: {r['setupsPerSecond']:.0f} setups/s ({rateOk}), p50 {r['p50Ms']} ms,"
            f" p99 {r['p99Ms']} ms ({p99Ok}), max {r['maxMs']} ms")
        lines.append(
            f"        server CPU {r['serverCpuMsPerSetup']} ms per setup"
            f" ({100 * (r['serverCpuShare'] or 0):.0f}% of a CPU), load generator CPU"
            f" {r['clientCpuMsPerSetup']} ms per setup")
        if r["errors"]:
            lines.append(f"        errors: {r['errors']}")
    lines.append(f"  unregistered {first['unregistered']} ({first['unregisterFailed']} failed)")
    return "\n".join(lines)


def appendReadme(text: str) -> str:
    path = os.path.join(ROOT, "benchmarks", "README.md")
    stamp = datetime.date.today().isoformat()
    with open(path) as f:
        existing = f.read()
    section = ""
    if "\n## calls" not in existing:
        section += "\n## calls (`python benchmarks/calls.py`)\n"
    section += f"\nRun of {stamp}:\n\n```\n{text}\n```\n"
    with open(path, "a") as f:
        f.write(section)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=1500, help="phones registered")
    parser.add_argument("--calls", type=int, default=500, help="calls measured")
    parser.add_argument("--concurrency", default="1,4,20",
                        help="calls being set up at once; a comma-separated list runs each level in turn")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up calls (not measured)")
    parser.add_argument("--readme", action="store_true", help="append the figures to benchmarks/README.md")
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    parser.add_argument("--nodelay", action="store_true",
                        help="TCP_NODELAY on both ends (srst itself does not set it today)")
    parser.add_argument("--serve", nargs=2, metavar=("COUNT", "NODELAY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        from twisted.internet.task import react

        react(serve, args.serve)
        return 0

    levels = [int(level) for level in args.concurrency.split(",") if level.strip()]
    server = Server(args.phones, args.nodelay)
    try:
        results = runLoad(server, args.phones, args.calls, levels, args.warmup, args.nodelay)
    finally:
        counters = server.stop()
    text = describe(results)
    print(text)
    if args.json:
        print(json.dumps({"results": results, "serverCounters": counters}, indent=2))
    if args.readme:
        print("appended to", appendReadme(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
