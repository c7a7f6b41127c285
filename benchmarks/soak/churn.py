"""
Churn soak: phones registering and unregistering over and over, and SRTP
calls between two secure phones, against a real router for a bounded time,
with the router's memory sampled.

    python benchmarks/soak/churn.py --seconds 60 [--phones 40]

The router runs as a child (C{_router.Router}).  Two TLS phones with LSCs
from the router's phone trustpoint stay registered and call each other
again and again: Alice dials Bob, Bob answers, SRTP flows both ways until
each phone has decrypted 25 packets, Alice hangs up.  Meanwhile C{--phones}
clear-text phones (a fixed pool of MACs, ten at a time) register and
unregister in a loop.  The router's RSS is sampled every 5 s.  At the end
every churning phone is gone and C{srst-cli show ephone registered} must
list exactly the two TLS phones.  Prints: register/unregister cycles,
SRTP calls (and failures), tracebacks in the router's log (must be 0),
ghost registrations (0), registrations lost (0), RSS at start, its
maximum, at the end and its growth.  Exits 1 if a must-be-zero figure is
not.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _router import PHONE_CA, Router  # noqa: E402  (also puts the checkout first on sys.path)

from twisted.internet import task  # noqa: E402
from twisted.internet.defer import ensureDeferred, gatherResults  # noqa: E402

from srst.sccp import messages as m  # noqa: E402
from srst.sccp.constants import CallState, RingMode  # noqa: E402
from srst.tools import cli  # noqa: E402
from srst.tools._phoneclient import SimulatedPhone  # noqa: E402
from srst.tools._phonemedia import PhoneMedia  # noqa: E402
from srst.tools._phonetypes import PhoneConfig, PhoneState  # noqa: E402
from srst.tools._phonewire import clientTLSOptions, connectPhone  # noqa: E402
from srst.tools.lsc import issueLSC  # noqa: E402
from tests.callhelpers import isCallState, waitFor, waitUntil  # noqa: E402


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def registeredLines(router: Router) -> list[str]:
    """@return: the C{ephone-N} header lines of C{srst-cli show ephone registered}."""
    out = io.StringIO()
    cli.main(["--socket", os.path.join(router.stateDir, "srst.sock"), "show", "ephone", "registered"], stdout=out)
    return [line for line in out.getvalue().splitlines() if line.startswith("ephone-")]


async def churnWorker(reactor, router: Router, macs: list[str], deadline: float, counts: dict) -> None:
    """Register and unregister each of C{macs} in turn until C{deadline}."""
    while time.monotonic() < deadline:
        for mac in macs:
            phone = SimulatedPhone(PhoneConfig(mac=mac), clock=reactor)
            connectPhone(reactor, phone, "127.0.0.1", router.ports["sccp"])
            try:
                await phone.whenRegistered()
                await phone.unregister()
                counts["cycles"] += 1
            except Exception as e:
                counts["churnFailures"] += 1
                counts.setdefault("churnErrors", set()).add(type(e).__name__)
                await phone.stop()
            if time.monotonic() >= deadline:
                return


async def securePhone(reactor, router: Router, mac: str, caCertificate) -> SimulatedPhone:
    phone = SimulatedPhone(PhoneConfig(mac=mac), clock=reactor)
    PhoneMedia(phone, reactor=reactor)
    lsc = issueLSC(PHONE_CA.certificate, PHONE_CA.key, mac, now=now)
    options = clientTLSOptions("127.0.0.1", [caCertificate], lsc.certificate, lsc.privateKey)
    connectPhone(reactor, phone, "127.0.0.1", router.ports["sccp-secure"], tlsOptions=options)
    await phone.whenRegistered()
    return phone


async def callLoop(reactor, a: SimulatedPhone, b: SimulatedPhone, deadline: float, counts: dict) -> None:
    """Secure calls from Alice to Bob until C{deadline}."""
    dn = b.settings.lineStats[1].lineDirNumber
    while time.monotonic() < deadline:
        try:
            ringing = waitFor(b, lambda msg: isinstance(msg, m.SetRinger) and msg.ringMode == RingMode.INSIDE,
                              since=len(b.received))
            a.offHook()
            a.pressKeys(dn)
            await ringing
            connected = [waitFor(p, isCallState(CallState.CONNECTED), since=len(p.received)) for p in (a, b)]
            b.offHook()
            await gatherResults(connected)
            marks = (a.media.packetsDecrypted, b.media.packetsDecrypted)
            await waitUntil(lambda: a.media.packetsDecrypted >= marks[0] + 25
                            and b.media.packetsDecrypted >= marks[1] + 25, "SRTP both ways", a, b)
            onHook = [waitFor(p, isCallState(CallState.ON_HOOK), since=len(p.received)) for p in (a, b)]
            a.onHook()
            await gatherResults(onHook)
            counts["calls"] += 1
        except Exception as e:
            counts["callFailures"] += 1
            counts.setdefault("callErrors", set()).add(str(e)[:80])
            return


async def run(reactor, seconds: float, phones: int) -> int:
    router = Router(maxEphones=phones + 10)
    try:
        from cryptography import x509

        with open(os.path.join(router.stateDir, "pki", "server", "srstcaserver", "ca.crt"), "rb") as f:
            caCertificate = x509.load_pem_x509_certificate(f.read())
        a = await securePhone(reactor, router, "0000000000E1", caCertificate)
        b = await securePhone(reactor, router, "0000000000E2", caCertificate)
        counts = {"cycles": 0, "churnFailures": 0, "calls": 0, "callFailures": 0}
        samples = [router.rssKiB()]
        sampler = task.LoopingCall(lambda: samples.append(router.rssKiB()))
        sampler.clock = reactor
        sampler.start(5.0, now=False)
        deadline = time.monotonic() + seconds
        macs = ["0000C0%06X" % i for i in range(phones)]
        workers = [ensureDeferred(churnWorker(reactor, router, macs[i::10], deadline, counts)) for i in range(10)]
        await ensureDeferred(callLoop(reactor, a, b, deadline, counts))
        for worker in workers:
            await worker
        sampler.stop()
        samples.append(router.rssKiB())
        lines = registeredLines(router)
        secure = [line for line in lines if "0000.0000.00E" in line]
        ghosts = len(lines) - len(secure)
        lost = sum(p.state is not PhoneState.REGISTERED for p in (a, b)) + (2 - len(secure))
        tracebacks = router.tracebacks()
        print(f"churn: {seconds:.0f} s, {phones} phones: {counts['cycles']} register/unregister cycles "
              f"({counts['churnFailures']} failed), {counts['calls']} SRTP calls ({counts['callFailures']} failed); "
              f"tracebacks {len(tracebacks)}, ghost registrations {ghosts}, registrations lost {lost}; router RSS "
              f"{samples[0] / 1024:.1f} MiB at start, max {max(samples) / 1024:.1f}, end {samples[-1] / 1024:.1f} "
              f"(growth {(samples[-1] - samples[0]) / 1024:+.1f} MiB; samples every 5 s: "
              f"{' '.join('%.0f' % (s / 1024) for s in samples)})")
        for key in ("churnErrors", "callErrors"):
            if key in counts:
                print(f"  {key}: {sorted(counts[key])}")
        for line in tracebacks[:5]:
            print("  " + line)
        await a.stop()
        await b.stop()
        return 1 if tracebacks or ghosts or lost or counts["callFailures"] else 0
    finally:
        router.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--phones", type=int, default=40)
    args = parser.parse_args(argv)

    async def body(reactor):
        raise SystemExit(await run(reactor, args.seconds, args.phones))

    task.react(lambda reactor: ensureDeferred(body(reactor)))  # exits with run's status
    return 1


if __name__ == "__main__":
    sys.exit(main())
