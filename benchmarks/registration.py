"""
Benchmark: SCCP phone registrations against srst's SCCP listener, plain and
TLS, with the simulated phones of C{srst-phone}; and, as the TLS baseline,
the handshake rate of C{openssl s_server} with the same key type.

Run from the checkout::

    python benchmarks/registration.py [--count 1500] [--concurrency 100]
        [--modes plain,tls] [--openssl-seconds 5] [--readme]

Each mode gets a fresh server child process (C{--serve}): the real
L{srst.sccp.factory.SkinnyFactory} and L{srst.sccp.registry.EphoneRegistry}
on 127.0.0.1, inside Twisted's L{TLSMemoryBIOFactory} with
L{srst.pki.tls.serverTLSOptions} (mutual TLS against the phone CA) for the
secure mode, without the control-plane policing wrapper (whose rate limit
is the point of policing, not of this measurement).  Auto-assigned
directory numbers give every phone one line.  Logging is filtered to
warnings in both processes, as in production with debugging off.

The load generator is this process: L{srst.tools._phoneload.LoadGenerator}
registers C{--count} phones (MACs counting up), C{--concurrency} at a time,
each doing the full 79xx registration (Register, capabilities, templates,
line/forward/speed-dial status, time).  Keys: ECDSA P-256 for the router,
the CAs and every phone's LSC (one LSC per phone, minted before timing, as
are the TLS client contexts).

Reported per mode: registered phones, registrations per second (first
connection attempt to last completed registration), p50/p99 registration
latency, the server's CPU time per registration, and the growth of the
server's resident memory per registered phone (RSS with all phones
registered minus RSS after a small warm-up run, divided by the count).

The baseline: C{openssl s_server} with the router's certificate and key,
requesting a client certificate verified against the phone CA, and
C{openssl s_time -new} presenting a phone LSC: full handshakes per second.

With C{--readme} the report is appended to C{benchmarks/README.md} (under a
"registration" heading, created if missing).

Not a test; nothing here runs under trial.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from _common import ROOT, processCpuSeconds, quietLogging  # noqa: E402 (puts the checkout on sys.path)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

HOST = "127.0.0.1"
WARMUP_PHONES = 20
FIRST_MAC = "0000AA000001"
WARMUP_MAC = "0000BB000001"


def _utcNow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------------------
# Certificates


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _makeCA(common: str):
    now = _utcNow()
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common)).issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _keyPem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def makeCertificates(directory: str) -> dict[str, str]:
    """
    Write the router CA, the router certificate (IP SAN 127.0.0.1) and the
    phone CA (CAPF), all ECDSA P-256.

    @return: paths by role.
    """
    now = _utcNow()
    routerCA, routerCAKey = _makeCA("srstcaserver")
    phoneCA, phoneCAKey = _makeCA("CAPF-benchmark")
    key = ec.generate_private_key(ec.SECP256R1())
    router = (
        x509.CertificateBuilder()
        .subject_name(_name("branch-router")).issuer_name(routerCA.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("branch-router"), x509.IPAddress(ipaddress.ip_address(HOST))]), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(routerCAKey.public_key()), False)
        .sign(routerCAKey, hashes.SHA256())
    )
    paths = {name: os.path.join(directory, name) for name in
             ("router-ca.pem", "router.pem", "router.key", "phone-ca.pem", "phone-ca.key")}
    for name, data in (("router-ca.pem", _pem(routerCA)), ("router.pem", _pem(router)),
                       ("router.key", _keyPem(key)), ("phone-ca.pem", _pem(phoneCA)),
                       ("phone-ca.key", _keyPem(phoneCAKey))):
        with open(paths[name], "wb") as f:
            f.write(data)
    return paths


# ---------------------------------------------------------------------------
# The server child process (python registration.py --serve MODE DIR COUNT)


def serve(reactor, mode: str, directory: str, count: str):
    """
    Run one SCCP listener on an ephemeral 127.0.0.1 port; print
    C{LISTENING <port>}, and the listener's counters as JSON on SIGTERM.
    """
    from twisted.internet.defer import Deferred, maybeDeferred
    from twisted.protocols.tls import TLSMemoryBIOFactory

    from srst.pki.tls import serverTLSOptions
    from srst.pki.trust import loadCertificateFile, loadPrivateKeyFile
    from srst.sccp.config import CallManagerFallbackConfig
    from srst.debug import DebugSwitches
    from srst.sccp.factory import SkinnyFactory
    from srst.sccp.registry import EphoneRegistry

    quietLogging()
    total = int(count) + WARMUP_PHONES
    config = CallManagerFallbackConfig(
        ipSourceAddress=HOST, port=0, securePort=0, maxEphones=total, maxDn=total,
        autoAssign=(100000, 100000 + total))
    registry = EphoneRegistry(config, None, reactor, runInThread=maybeDeferred)

    def path(name: str) -> str:
        return os.path.join(directory, name)

    if mode == "tls":
        options = serverTLSOptions(
            "sccp secure", loadCertificateFile(path("router.pem"))[0],
            loadPrivateKeyFile(path("router.key")), loadCertificateFile(path("router-ca.pem")),
            trustedCertificates=loadCertificateFile(path("phone-ca.pem")))
        factory = SkinnyFactory(config, reactor, registry, _utcNow, secure=True, tlsOptions=options,
                                debug=DebugSwitches())
        listening = TLSMemoryBIOFactory(options, False, factory, clock=reactor)
    else:
        factory = SkinnyFactory(config, reactor, registry, _utcNow, secure=False, debug=DebugSwitches())
        listening = factory
    port = reactor.listenTCP(0, listening, interface=HOST, backlog=4096)
    sys.stdout.write(f"LISTENING {port.getHost().port}\n")
    sys.stdout.flush()

    def report() -> None:
        figures = dict(factory.statistics(), registered=len(registry.registeredEphones()))
        sys.stdout.write(json.dumps(figures) + "\n")
        sys.stdout.flush()

    reactor.addSystemEventTrigger("before", "shutdown", report)
    return Deferred()  # runs until SIGTERM stops the reactor


class Server:
    """
    A server child process.
    """

    def __init__(self, mode: str, directory: str, count: int) -> None:
        self.mode = mode
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", mode, directory, str(count)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"{mode} server: unexpected output {line!r}")
        self.port = int(line.split()[1])

    def rss(self) -> int:
        """@return: resident set size in bytes."""
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

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
# The load


def _phones(first: str, count: int, paths: dict[str, str], tls: bool):
    """
    Phone configurations, and for TLS the client options factory with one
    freshly minted LSC per phone.
    """
    from srst.pki.trust import loadCertificateFile, loadPrivateKeyFile
    from srst.tools._phonetypes import PhoneConfig
    from srst.tools._phonewire import clientTLSOptions
    from srst.tools.lsc import issueLSC, macRange

    macs = macRange(first, count)
    configs = [PhoneConfig(mac=mac, registrationTimeout=120.0, decodeAll=False) for mac in macs]
    if not tls:
        return configs, None
    phoneCA = loadCertificateFile(paths["phone-ca.pem"])[0]
    phoneCAKey = loadPrivateKeyFile(paths["phone-ca.key"])
    routerCA = loadCertificateFile(paths["router-ca.pem"])
    lscs = {mac: issueLSC(phoneCA, phoneCAKey, mac, now=_utcNow) for mac in macs}

    def tlsOptionsFor(config):
        lsc = lscs[config.mac]
        return clientTLSOptions(HOST, routerCA, lsc.certificate, lsc.privateKey)

    return configs, tlsOptionsFor


async def _measure(reactor, server: Server, paths: dict[str, str], count: int,
                   concurrency: int) -> dict:
    from twisted.internet.task import deferLater

    from srst.tools._phoneload import LoadGenerator

    tls = server.mode == "tls"
    configs, tlsOptionsFor = _phones(WARMUP_MAC, WARMUP_PHONES, paths, tls)
    warmup = LoadGenerator(reactor, HOST, server.port, configs, tlsOptionsFor=tlsOptionsFor,
                           concurrency=concurrency)
    warm = await warmup.run()
    await warmup.unregisterAll()
    if warm.registered != WARMUP_PHONES:
        raise RuntimeError(f"warm-up failed: {warm.describe()}")

    prepared = time.perf_counter()
    configs, tlsOptionsFor = _phones(FIRST_MAC, count, paths, tls)
    generator = LoadGenerator(reactor, HOST, server.port, configs, tlsOptionsFor=tlsOptionsFor,
                              concurrency=concurrency)
    await deferLater(reactor, 0.5)  # let the server settle after the warm-up
    rssBefore = server.rss()
    cpuBefore = server.cpu()
    # LoadGenerator.run builds the TLS client contexts before its clock starts.
    result = await generator.run()
    cpuUsed = server.cpu() - cpuBefore
    rssAfter = server.rss()
    setupSeconds = time.perf_counter() - prepared - result.elapsed
    unregistered, failed = await generator.unregisterAll()
    figures = result.asDict()
    figures.update(
        mode=server.mode,
        concurrency=concurrency,
        serverCpuMsPerRegistration=round(1000 * cpuUsed / max(result.registered, 1), 3),
        serverCpuShare=round(cpuUsed / result.elapsed, 2) if result.elapsed else None,
        rssBeforeMiB=round(rssBefore / 2**20, 1),
        rssAfterMiB=round(rssAfter / 2**20, 1),
        kibPerPhone=round((rssAfter - rssBefore) / 1024 / max(result.registered, 1), 1),
        unregistered=unregistered,
        unregisterFailed=failed,
        clientSetupSeconds=round(setupSeconds, 2),
    )
    return figures


def runLoad(servers: list[Server], paths: dict[str, str], count: int, concurrency: int) -> list[dict]:
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    results: list[dict] = []

    async def main(reactor):
        quietLogging()
        for server in servers:
            results.append(await _measure(reactor, server, paths, count, concurrency))

    try:
        react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
    except SystemExit as e:
        if e.code:
            raise
    return results


# ---------------------------------------------------------------------------
# The openssl baseline


def _freePort() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def opensslBaseline(paths: dict[str, str], directory: str, seconds: int, clients: int) -> dict | None:
    """
    Full mutual-TLS handshakes per second: C{clients} parallel
    C{openssl s_time -new} processes against one C{openssl s_server}, with
    the keys of srst's secure listener (router certificate and key, client
    certificate required and verified against the phone CA, a phone LSC).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    import socket

    from srst.pki.trust import loadCertificateFile, loadPrivateKeyFile
    from srst.tools.lsc import issueLSC, writeLSC

    lsc = issueLSC(loadCertificateFile(paths["phone-ca.pem"])[0],
                   loadPrivateKeyFile(paths["phone-ca.key"]), "0000CC000001", now=_utcNow)
    lscCert, lscKey = os.path.join(directory, "lsc.pem"), os.path.join(directory, "lsc.key")
    writeLSC(lsc, lscCert, lscKey)
    port = _freePort()
    server = subprocess.Popen(
        [openssl, "s_server", "-quiet", "-accept", f"{HOST}:{port}", "-cert", paths["router.pem"],
         "-key", paths["router.key"], "-cert_chain", paths["router-ca.pem"],
         "-Verify", "1", "-CAfile", paths["phone-ca.pem"], "-num_tickets", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("openssl s_server did not start")
                time.sleep(0.05)
        started = time.monotonic()
        timers = [subprocess.Popen(
            [openssl, "s_time", "-connect", f"{HOST}:{port}", "-new", "-time", str(seconds),
             "-cert", lscCert, "-key", lscKey, "-CAfile", paths["router-ca.pem"]],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for _ in range(clients)]
        outputs = [t.communicate(timeout=seconds + 60)[0] for t in timers]
        wall = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    handshakes = 0
    for out in outputs:
        found = re.search(r"(\d+) connections in [\d.]+s; [\d.]+ connections/user sec", out)
        if not found:
            return {"error": out.strip()[-300:]}
        handshakes += int(found.group(1))
    return {"handshakes": handshakes, "seconds": round(wall, 2), "clients": clients,
            "handshakesPerSecond": round(handshakes / wall, 1)}


# ---------------------------------------------------------------------------
# Report


def _describe(results: list[dict], baseline: dict | None, count: int) -> str:
    lines = [f"registration benchmark: {count} phones per mode, concurrency "
             f"{results[0]['concurrency'] if results else '-'}, {os.cpu_count()} CPUs,"
             f" ECDSA P-256 keys, load generator and server in separate processes"]
    for r in results:
        lines.append(
            f"  {r['mode']:5s} registered {r['registered']}/{r['attempted']} in {r['seconds']:.2f} s:"
            f" {r['registrationsPerSecond']:.0f} registrations/s, p50 {r['p50Ms']} ms,"
            f" p99 {r['p99Ms']} ms")
        lines.append(
            f"        server CPU {r['serverCpuMsPerRegistration']} ms/registration"
            f" ({100 * (r['serverCpuShare'] or 0):.0f}% of a CPU), RSS {r['rssBeforeMiB']} ->"
            f" {r['rssAfterMiB']} MiB = {r['kibPerPhone']} KiB per phone;"
            f" unregistered {r['unregistered']} ({r['unregisterFailed']} failed)")
        if r["errors"]:
            lines.append(f"        errors: {r['errors']}")
    if baseline:
        if "error" in baseline:
            lines.append(f"  openssl s_server/s_time baseline failed: {baseline['error']}")
        else:
            lines.append(
                f"  openssl s_server + {baseline['clients']} x s_time -new (mutual TLS, same keys):"
                f" {baseline['handshakesPerSecond']:.0f} handshakes/s"
                f" ({baseline['handshakes']} in {baseline['seconds']} s)")
    return "\n".join(lines)


def appendReadme(text: str) -> str:
    path = os.path.join(ROOT, "benchmarks", "README.md")
    stamp = datetime.date.today().isoformat()
    existing = ""
    if os.path.exists(path):
        with open(path) as f:
            existing = f.read()
    section = "" if existing else "# Benchmarks\n"
    if "\n## registration" not in existing:
        section += "\n## registration\n"
    section += f"\nRun of {stamp}:\n\n```\n{text}\n```\n"
    with open(path, "a") as f:
        f.write(section)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1500, help="phones per mode")
    parser.add_argument("--concurrency", type=int, default=100, help="phones registering at once")
    parser.add_argument("--modes", default="plain,tls", help="comma-separated: plain, tls")
    parser.add_argument("--openssl-seconds", dest="opensslSeconds", type=int, default=5,
                        help="duration of the openssl baseline (0 to skip)")
    parser.add_argument("--openssl-clients", dest="opensslClients", type=int, default=2,
                        help="parallel s_time clients (default 2)")
    parser.add_argument("--readme", action="store_true", help="append the figures to benchmarks/README.md")
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    parser.add_argument("--serve", nargs=3, metavar=("MODE", "DIR", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        from twisted.internet.task import react

        react(serve, args.serve)
        return 0

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with tempfile.TemporaryDirectory() as directory:
        paths = makeCertificates(directory)
        servers = [Server(mode, directory, args.count) for mode in modes]
        try:
            results = runLoad(servers, paths, args.count, args.concurrency)
        finally:
            counters = [server.stop() for server in servers]
        for result, counter in zip(results, counters):
            result["serverCounters"] = counter
        baseline = (opensslBaseline(paths, directory, args.opensslSeconds, args.opensslClients)
                    if args.opensslSeconds else None)
    text = _describe(results, baseline, args.count)
    print(text)
    if args.json:
        print(json.dumps({"results": results, "openssl": baseline}, indent=2))
    if args.readme:
        print("appended to", appendReadme(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
