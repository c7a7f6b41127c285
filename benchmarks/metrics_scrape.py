"""
Benchmark: the cost of a C{/metrics} scrape with 1500 phones registered,
against the same scrape of the same router with no phone (the baseline,
measured in the same run), and the longest reactor stall while scraping;
then the same scrapes during a call storm.

Run from the checkout::

    python benchmarks/metrics_scrape.py [--count 1500] [--scrapes 200]
        [--calls 500] [--call-concurrency 20] [--warmup 20] [--readme]

The server child process (C{--serve}) runs the real L{RouterService}:
certificate server (ECDSA), clear SCCP listener on 127.0.0.1, C{http-server}
with C{/metrics}, no control-plane policy (its rate limit would be the
measurement).  A stall probe runs in it: a C{LoopingCall} every
millisecond notes how late each tick comes; the longest lateness since the
last read is served at C{/bench/stall} (a benchmark-only resource of the
child, never in srst).  A synchronous scrape stalls the reactor for the
whole of its collection and rendering, so that figure is the scrape's stall
(plus the HTTP handling around it).

This process scrapes C{--scrapes} times, one after the other over fresh
HTTP connections (twisted.web.client.Agent), first with no phone, then
after L{srst.tools._phoneload.LoadGenerator} registered C{--count} clear
TCP phones (auto-assigned lines, keepalives running).  Reported: the
exposition's size, scrape latency p50 / p99 / max as the client sees it,
and the server's longest reactor stall over each series.

Then the call storm, with the phones still registered: C{--calls} calls
between distinct pairs of phones, C{--call-concurrency} being set up at a
time (L{calls.placeCalls}, the calls benchmark's own call driver: OffHook
and dialling, answer on RingIn, both sides' StartMediaTransmission),
C{--rounds} times without a scrape and as often with C{/metrics} scraped
one scrape after the other for as long as calls are being set up,
alternately (the same phones, cleared in between; C{--warmup} calls on
other phones first).  The storm's scrapes come from a scraper child
process (C{--scrape URL}, urllib, a fresh connection each), so that the
load generator's busy reactor does not delay them.  Reported for each
kind of storm, pooled over its rounds: setups per second, setup p50 / p99
/ max, the server's longest reactor stall; for the scraped storms the
scrapes' p50 / p99 / max; and the ratios with / without scrapes, and of
the storm's scrape p99 against the baseline's.

With C{--readme} the report is appended to C{benchmarks/README.md}.

Not a test; nothing here runs under trial.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from _common import ROOT, processCpuSeconds, quietLogging  # noqa: E402 (puts the checkout on sys.path)

HOST = "127.0.0.1"
FIRST_MAC = "0000DD000001"

CONFIG = """
hostname: branch-router
state-dir: {stateDir}
pki:
  server:
    name: srstcaserver
    issuer-name: CN=srstcaserver
    grant: auto
    rsakeypair: {{type: ecdsa, bits: 256}}
  trustpoints:
    srstca:
      enrollment: {{server: srstcaserver}}
      subject-name: CN=branch-router
      rsakeypair: {{type: ecdsa, bits: 256}}
credentials: {{ip-source-address: 127.0.0.1, port: 0, trustpoint: srstca}}
admin: {{socket: {stateDir}/srst.sock}}
http-server: {{address: 127.0.0.1, port: 0}}
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 0
  max-ephones: {phones}
  max-dn: {phones}
  max-connections: {connections}
  max-connections-per-host: {connections}
  auto-assign: {{dn-range: "{first}-{last}"}}
"""


# ---------------------------------------------------------------------------
# The server child process (python metrics_scrape.py --serve DIR COUNT)


def serve(reactor, directory: str, count: str):
    """
    Run the router; print C{LISTENING <sccp> <http>} once ready.
    """
    from twisted.internet.defer import Deferred
    from twisted.internet.task import LoopingCall
    from twisted.internet.threads import deferToThread
    from twisted.web.resource import Resource

    from srst.config import loadString
    from srst.service import RouterService, utcNow

    quietLogging()
    phones = int(count) + 10
    text = CONFIG.format(stateDir=directory, phones=phones, connections=phones + 50,
                         first=100000, last=100000 + phones)
    service = RouterService(loadString(text, "bench-router.yaml"), reactor, now=utcNow,
                            runInThread=deferToThread, callFromThread=reactor.callFromThread)

    class Stall(Resource):
        isLeaf = True
        longest = 0.0
        last = None
        gcStarted = 0.0
        longestGc = 0.0

        def gc(self, phase: str, info: dict) -> None:
            if phase == "start":
                self.gcStarted = time.perf_counter()
            else:
                self.longestGc = max(self.longestGc, time.perf_counter() - self.gcStarted)

        def tick(self) -> None:
            now = time.perf_counter()
            if self.last is not None:
                self.longest = max(self.longest, now - self.last - 0.001)
            self.last = now

        def render_GET(self, request) -> bytes:
            longest, self.longest = self.longest, 0.0
            longestGc, self.longestGc = self.longestGc, 0.0
            return json.dumps({"longestStallMs": round(longest * 1000, 3),
                               "longestGcMs": round(longestGc * 1000, 3)}).encode("ascii")

    stall = Stall()
    gc.callbacks.append(stall.gc)
    service.httpSite.add("/bench/stall", stall)
    LoopingCall(stall.tick).start(0.001)
    service.startService()

    def ready(_):
        ports = service.ports()
        sys.stdout.write(f"LISTENING {ports['sccp']} {ports['http']}\n")
        sys.stdout.flush()

    service.whenReady().addCallback(ready)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    return Deferred()  # runs until SIGTERM stops the reactor


# ---------------------------------------------------------------------------
# The scraper


def _percentile(values: list[float], fraction: float) -> float:
    from srst.tools._phoneload import percentile

    return percentile(sorted(values), fraction)


async def _scrape(agent, base: bytes) -> tuple[float, bytes]:
    """@return: one C{/metrics} scrape's latency in seconds, and its body."""
    from twisted.web.client import readBody

    started = time.perf_counter()
    response = await agent.request(b"GET", base + b"/metrics")
    body = await readBody(response)
    latency = time.perf_counter() - started
    if response.code != 200:
        raise RuntimeError(f"/metrics answered {response.code}")
    return latency, body


async def _stall(agent, base: bytes) -> float:
    """@return: the server's longest reactor stall in ms since the last read (and reset the probe)."""
    return (await _stallAndGc(agent, base))[0]


async def _stallAndGc(agent, base: bytes) -> tuple[float, float]:
    """
    @return: the server's longest reactor stall and its longest garbage
        collection in ms since the last read (and reset the probe).
    """
    from twisted.web.client import readBody

    read = json.loads(await readBody(await agent.request(b"GET", base + b"/bench/stall")))
    return read["longestStallMs"], read["longestGcMs"]


def _agent(reactor, httpPort: int):
    from twisted.web.client import Agent, HTTPConnectionPool

    return Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False)), b"http://127.0.0.1:%d" % (httpPort,)


async def _series(reactor, httpPort: int, scrapes: int) -> dict:
    agent, base = _agent(reactor, httpPort)
    await _stall(agent, base)  # reset the probe
    latencies = []
    body = b""
    for _ in range(scrapes):
        latency, body = await _scrape(agent, base)
        latencies.append(latency)
    stall = await _stall(agent, base)
    return {
        "scrapes": scrapes,
        "bytes": len(body),
        "families": body.count(b"\n# TYPE ") + body.startswith(b"# TYPE "),
        "p50Ms": round(_percentile(latencies, 0.5) * 1000, 2),
        "p99Ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "maxMs": round(max(latencies) * 1000, 2),
        "longestStallMs": stall,
        "registeredInScrape": _registered(body),
    }


def _registered(body: bytes) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(body.decode("utf-8")):
        if family.name == "srst_phones_registered":
            return int(sum(s.value for s in family.samples))
    return 0


async def _idleStall(reactor, httpPort: int, seconds: float) -> float:
    """@return: the server's longest reactor stall over C{seconds} without a scrape."""
    from twisted.internet.task import deferLater

    agent, base = _agent(reactor, httpPort)
    await _stall(agent, base)
    await deferLater(reactor, seconds)
    return await _stall(agent, base)


def scrapeUntilStopped(url: str) -> None:
    """
    The scraper child (C{--scrape URL}): GET C{url} one request after the
    other, each on a fresh connection, until SIGTERM; then print the
    latencies in seconds as JSON.  A process of its own, so that the load
    generator's reactor, busy with a call storm, does not delay the
    scrapes it would otherwise read.
    """
    import urllib.request

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    latencies = []
    sys.stdout.write("SCRAPING\n")
    sys.stdout.flush()
    while not stopping:
        started = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"/metrics answered {response.status}")
        latencies.append(time.perf_counter() - started)
    sys.stdout.write(json.dumps(latencies) + "\n")


class Scraper:
    """The scraper child process (see L{scrapeUntilStopped})."""

    def __init__(self, httpPort: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--scrape", f"http://127.0.0.1:{httpPort}/metrics"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        if self.process.stdout.readline() != "SCRAPING\n":
            raise RuntimeError("scraper did not start")

    def stop(self) -> tuple[list[float], float]:
        """@return: the latencies of the scrapes so far, in seconds, and the scraper's CPU seconds."""
        cpu = processCpuSeconds(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        if self.process.returncode:
            raise RuntimeError(f"scraper exited with {self.process.returncode}")
        return json.loads(out.strip().splitlines()[-1]), cpu


async def _storm(reactor, serverPid: int, httpPort: int, pairs: list, concurrency: int, scraping: bool) -> dict:
    """
    Set up one call per pair (L{calls.placeCalls}, C{concurrency} in
    flight), with a L{Scraper} scraping C{/metrics} for as long as calls
    are being set up if C{scraping}; then clear the calls.

    @return: the setup latencies in seconds, the server's longest reactor
        stall over the storm in ms and the scrape latencies in seconds.
    """
    from twisted.internet.task import deferLater

    from calls import placeCalls

    agent, base = _agent(reactor, httpPort)
    await _stall(agent, base)  # reset the probe
    scraper = Scraper(httpPort) if scraping else None
    cpuBefore = processCpuSeconds(serverPid)
    scraperBefore = processCpuSeconds(scraper.process.pid) if scraper is not None else 0.0  # start-up not counted
    result = await placeCalls(reactor, pairs, concurrency)
    serverCpu = processCpuSeconds(serverPid) - cpuBefore
    scrapes, scraperCpu = scraper.stop() if scraper is not None else ([], 0.0)
    scraperCpu -= scraperBefore
    stall, longestGc = await _stallAndGc(agent, base)
    calls = result.pop("calls")
    for call in calls:
        call.hangUp()
    await deferLater(reactor, 1.0)  # the calls clear; the server settles
    if result["connected"] != len(pairs):
        raise RuntimeError(f"call storm: {result['connected']}/{len(pairs)} connected: {result['errors']}")
    return {"setups": [call.latency for call in calls], "seconds": result["seconds"],
            "longestStallMs": stall, "longestGcMs": longestGc, "scrapes": scrapes, "serverCpu": serverCpu, "scraperCpu": scraperCpu}


def _stormFigures(storms: list[dict], concurrency: int) -> dict:
    """@return: the figures of C{storms} together (latencies pooled, the longest stall)."""
    setups = [latency for storm in storms for latency in storm["setups"]]
    scrapes = [latency for storm in storms for latency in storm["scrapes"]]
    figures = {"storms": len(storms), "calls": len(setups) // len(storms), "concurrency": concurrency,
               "setupsPerSecond": round(len(setups) / sum(storm["seconds"] for storm in storms), 1),
               "setupP50Ms": round(_percentile(setups, 0.5) * 1000, 2),
               "setupP99Ms": round(_percentile(setups, 0.99) * 1000, 2),
               "setupMaxMs": round(max(setups) * 1000, 2),
               "longestStallMs": max(storm["longestStallMs"] for storm in storms),
               "stallsMs": [storm["longestStallMs"] for storm in storms],
               "gcMs": [storm["longestGcMs"] for storm in storms],
               "setupP99sMs": [round(_percentile(storm["setups"], 0.99) * 1000, 1) for storm in storms],
               "serverCpuShare": round(sum(s["serverCpu"] for s in storms) / sum(s["seconds"] for s in storms), 2),
               "scraperCpuShare": round(sum(s["scraperCpu"] for s in storms) / sum(s["seconds"] for s in storms), 2),
               "scrapes": len(scrapes)}
    if scrapes:
        figures.update(scrapeP50Ms=round(_percentile(scrapes, 0.5) * 1000, 2),
                       scrapeP99Ms=round(_percentile(scrapes, 0.99) * 1000, 2),
                       scrapeMaxMs=round(max(scrapes) * 1000, 2))
    return figures


async def _measure(reactor, serverPid: int, sccpPort: int, httpPort: int, count: int, scrapes: int, concurrency: int,
                   calls: int, callConcurrency: int, warmup: int, rounds: int) -> dict:
    from srst.tools._phoneload import LoadGenerator
    from srst.tools._phonetypes import PhoneConfig
    from srst.tools.lsc import macRange

    from calls import RTP_PORT_BASE

    if 2 * (calls + warmup) > count:
        raise RuntimeError(f"{calls} calls and {warmup} warm-up calls need {2 * (calls + warmup)} phones")
    baseline = await _series(reactor, httpPort, scrapes)
    configs = [PhoneConfig(mac=mac, registrationTimeout=120.0, decodeAll=True)
               for mac in macRange(FIRST_MAC, count)]
    generator = LoadGenerator(reactor, HOST, sccpPort, configs, concurrency=concurrency)
    result = await generator.run()
    if result.registered != count:
        raise RuntimeError(f"registration failed: {result.describe()}")
    idle = await _idleStall(reactor, httpPort, 2.0)
    loaded = await _series(reactor, httpPort, scrapes)
    numbered = []
    for phone in generator.phones:
        stat = phone.settings.lineStats.get(1)
        if stat is None or not stat.lineDirNumber:
            raise RuntimeError(f"{phone.deviceName} got no line")
        numbered.append((phone, stat.lineDirNumber))

    def pairs(first: int, n: int) -> list:
        """C{n} calls from phone C{first + 2i} to phone C{first + 2i + 1}."""
        return [(numbered[first + 2 * i][0], numbered[first + 2 * i + 1][0], numbered[first + 2 * i + 1][1],
                 (RTP_PORT_BASE + 2 * (first + 2 * i), RTP_PORT_BASE + 2 * (first + 2 * i) + 2))
                for i in range(n)]

    await _storm(reactor, serverPid, httpPort, pairs(2 * calls, warmup), callConcurrency, scraping=False)  # warm-up
    quiet, scraped = [], []
    for _ in range(rounds):  # alternately, so that the box's other load falls on both alike
        quiet.append(await _storm(reactor, serverPid, httpPort, pairs(0, calls), callConcurrency, scraping=False))
        scraped.append(await _storm(reactor, serverPid, httpPort, pairs(0, calls), callConcurrency, scraping=True))
    await generator.unregisterAll()
    return {"phones": result.registered, "baseline": baseline, "loaded": loaded, "idleStallMs": idle,
            "storm": _stormFigures(quiet, callConcurrency), "stormScraped": _stormFigures(scraped, callConcurrency)}


def run(count: int, scrapes: int, concurrency: int, calls: int, callConcurrency: int, warmup: int,
        rounds: int) -> dict:
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    directory = tempfile.mkdtemp(prefix="srst-bench-")
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", directory, str(count)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"server: unexpected output {line!r}")
        sccpPort, httpPort = (int(word) for word in line.split()[1:])
        results: list[dict] = []

        async def main(reactor):
            quietLogging()
            results.append(await _measure(reactor, child.pid, sccpPort, httpPort, count, scrapes, concurrency,
                                          calls, callConcurrency, warmup, rounds))

        try:
            react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
        except SystemExit as e:
            if e.code:
                raise
        return results[0]
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _ratio(value, against) -> str:
    return f"{value / against:.2f}" if value is not None and against else "n/a"


def report(figures: dict) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    lines = [f"### metrics scrape ({when}, {os.cpu_count()} cores, `python benchmarks/metrics_scrape.py`)", "",
             "| series | phones | bytes | families | p50 ms | p99 ms | max ms | longest reactor stall ms |",
             "|---|---|---|---|---|---|---|---|"]
    for name in ("baseline", "loaded"):
        s = figures[name]
        lines.append(f"| {name} | {s['registeredInScrape']} | {s['bytes']} | {s['families']} | {s['p50Ms']} | "
                     f"{s['p99Ms']} | {s['maxMs']} | {s['longestStallMs']} |")
    quiet, scraped = figures["storm"], figures["stormScraped"]
    lines.append(f"| {figures['phones']} phones + call storm | {figures['phones']} | | | "
                 f"{scraped.get('scrapeP50Ms')} | {scraped.get('scrapeP99Ms')} | {scraped.get('scrapeMaxMs')} | "
                 f"{scraped['longestStallMs']} |")
    lines += ["", f"Longest reactor stall over 2 s with {figures['phones']} phones registered and no scrape: "
              f"{figures['idleStallMs']} ms.", "",
              f"Call storm: {quiet['calls']} calls, {quiet['concurrency']} being set up at a time, "
              f"{figures['phones']} phones registered; {quiet['storms']} storms of each kind, alternately "
              f"(longest stall per storm without scrapes {quiet['stallsMs']} ms, with {scraped['stallsMs']} ms); "
              f"{scraped['scrapes']} scrapes during the scraped storms. The server's longest garbage collection "
              f"per storm without scrapes {quiet['gcMs']} ms, with {scraped['gcMs']} ms. Setup p99 per storm without scrapes "
              f"{quiet['setupP99sMs']} ms, with {scraped['setupP99sMs']} ms. Server CPU (share of one core over "
              f"the storms) without scrapes {quiet['serverCpuShare']}, with {scraped['serverCpuShare']}; the "
              f"scraper child's {scraped['scraperCpuShare']}.", "",
              "| storm | setups/s | setup p50 ms | setup p99 ms | setup max ms | longest reactor stall ms |",
              "|---|---|---|---|---|---|"]
    for name, s in (("without scrapes", quiet), ("with continuous scrapes", scraped)):
        lines.append(f"| {name} | {s['setupsPerSecond']} | {s['setupP50Ms']} | {s['setupP99Ms']} | "
                     f"{s['setupMaxMs']} | {s['longestStallMs']} |")
    lines.append(f"| ratio (with / without) | {_ratio(scraped['setupsPerSecond'], quiet['setupsPerSecond'])} | "
                 f"{_ratio(scraped['setupP50Ms'], quiet['setupP50Ms'])} | "
                 f"{_ratio(scraped['setupP99Ms'], quiet['setupP99Ms'])} | "
                 f"{_ratio(scraped['setupMaxMs'], quiet['setupMaxMs'])} | "
                 f"{_ratio(scraped['longestStallMs'], quiet['longestStallMs'])} |")
    lines += ["", f"Scrape p99 during the storm against the baseline (no phone): "
              f"{_ratio(scraped.get('scrapeP99Ms'), figures['baseline']['p99Ms'])}; against "
              f"{figures['phones']} phones without a storm: "
              f"{_ratio(scraped.get('scrapeP99Ms'), figures['loaded']['p99Ms'])}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1500, help="phones registered")
    parser.add_argument("--scrapes", type=int, default=200, help="scrapes per series without a storm")
    parser.add_argument("--concurrency", type=int, default=100, help="registrations in flight")
    parser.add_argument("--calls", type=int, default=500, help="calls per call storm")
    parser.add_argument("--call-concurrency", dest="callConcurrency", type=int, default=20,
                        help="calls being set up at once in a storm")
    parser.add_argument("--rounds", type=int, default=3,
                        help="storms without and with scrapes, alternately, of each (figures pooled)")
    parser.add_argument("--scrape", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=20, help="warm-up calls before the storms (not measured)")
    parser.add_argument("--readme", action="store_true", help="append the figures to benchmarks/README.md")
    args = parser.parse_args()
    if args.scrape:
        scrapeUntilStopped(args.scrape)
        return
    if args.serve:
        from twisted.internet.task import react

        react(lambda reactor: serve(reactor, *args.serve))
        return
    figures = run(args.count, args.scrapes, args.concurrency, args.calls, args.callConcurrency, args.warmup,
                  args.rounds)
    print(json.dumps(figures, indent=2))
    text = report(figures)
    print(text)
    if args.readme:
        with open(os.path.join(ROOT, "benchmarks", "README.md"), "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
