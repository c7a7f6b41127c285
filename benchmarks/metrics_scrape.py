"""
Benchmark: the cost of a C{/metrics} scrape with 1500 phones registered,
against the same scrape of the same router with no phone (the baseline,
measured in the same run), and the longest reactor stall while scraping.

Run from the checkout::

    python benchmarks/metrics_scrape.py [--count 1500] [--scrapes 200] [--readme]

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

With C{--readme} the report is appended to C{benchmarks/README.md}.

Not a test; nothing here runs under trial.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from _common import ROOT, quietLogging  # noqa: E402 (puts the checkout on sys.path)

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

        def tick(self) -> None:
            now = time.perf_counter()
            if self.last is not None:
                self.longest = max(self.longest, now - self.last - 0.001)
            self.last = now

        def render_GET(self, request) -> bytes:
            longest, self.longest = self.longest, 0.0
            return json.dumps({"longestStallMs": round(longest * 1000, 3)}).encode("ascii")

    stall = Stall()
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


async def _series(reactor, httpPort: int, scrapes: int) -> dict:
    from twisted.web.client import Agent, HTTPConnectionPool, readBody

    agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
    base = b"http://127.0.0.1:%d" % (httpPort,)
    await readBody(await agent.request(b"GET", base + b"/bench/stall"))  # reset the probe
    latencies = []
    size = 0
    families = 0
    for _ in range(scrapes):
        started = time.perf_counter()
        response = await agent.request(b"GET", base + b"/metrics")
        body = await readBody(response)
        latencies.append(time.perf_counter() - started)
        if response.code != 200:
            raise RuntimeError(f"/metrics answered {response.code}")
        size = len(body)
        families = body.count(b"\n# TYPE ") + body.startswith(b"# TYPE ")
    stall = json.loads(await readBody(await agent.request(b"GET", base + b"/bench/stall")))
    return {
        "scrapes": scrapes,
        "bytes": size,
        "families": families,
        "p50Ms": round(_percentile(latencies, 0.5) * 1000, 2),
        "p99Ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "maxMs": round(max(latencies) * 1000, 2),
        "longestStallMs": stall["longestStallMs"],
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
    from twisted.web.client import Agent, HTTPConnectionPool, readBody

    agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
    url = b"http://127.0.0.1:%d/bench/stall" % (httpPort,)
    await readBody(await agent.request(b"GET", url))
    await deferLater(reactor, seconds)
    return json.loads(await readBody(await agent.request(b"GET", url)))["longestStallMs"]


async def _measure(reactor, sccpPort: int, httpPort: int, count: int, scrapes: int, concurrency: int) -> dict:
    from srst.tools._phoneload import LoadGenerator
    from srst.tools._phonetypes import PhoneConfig
    from srst.tools.lsc import macRange

    baseline = await _series(reactor, httpPort, scrapes)
    configs = [PhoneConfig(mac=mac, registrationTimeout=120.0, decodeAll=False)
               for mac in macRange(FIRST_MAC, count)]
    generator = LoadGenerator(reactor, HOST, sccpPort, configs, concurrency=concurrency)
    result = await generator.run()
    idle = await _idleStall(reactor, httpPort, 2.0)
    loaded = await _series(reactor, httpPort, scrapes)
    await generator.unregisterAll()
    return {"phones": result.registered, "baseline": baseline, "loaded": loaded, "idleStallMs": idle}


def run(count: int, scrapes: int, concurrency: int) -> dict:
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
            results.append(await _measure(reactor, sccpPort, httpPort, count, scrapes, concurrency))

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


def report(figures: dict) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    lines = [f"### metrics scrape ({when}, {os.cpu_count()} cores, `python benchmarks/metrics_scrape.py`)", "",
             "| series | phones | bytes | families | p50 ms | p99 ms | max ms | longest reactor stall ms |",
             "|---|---|---|---|---|---|---|---|"]
    for name in ("baseline", "loaded"):
        s = figures[name]
        lines.append(f"| {name} | {s['registeredInScrape']} | {s['bytes']} | {s['families']} | {s['p50Ms']} | "
                     f"{s['p99Ms']} | {s['maxMs']} | {s['longestStallMs']} |")
    lines += ["", f"Longest reactor stall over 2 s with {figures['phones']} phones registered and no scrape: "
              f"{figures['idleStallMs']} ms."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args()
    if args.serve:
        from twisted.internet.task import react

        react(lambda reactor: serve(reactor, *args.serve))
        return
    figures = run(args.count, args.scrapes, args.concurrency)
    print(json.dumps(figures, indent=2))
    text = report(figures)
    print(text)
    if args.readme:
        with open(os.path.join(ROOT, "benchmarks", "README.md"), "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
