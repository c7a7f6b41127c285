"""
Benchmark: full TLS handshakes per second against the credentials service,
compared with C{openssl s_server} using the same key, certificate and client.

Run from the checkout::

    python benchmarks/credentials.py [--duration 5] [--threads 4] [--rounds 2]

Both servers run as child processes on 127.0.0.1 (the credentials service is
the real L{srst.credentials.CredentialsFactory} inside Twisted's
L{TLSMemoryBIOFactory}, as the composition root builds it, without the
policing wrapper).  The client is this process: several threads using
Python's C{ssl} module, each doing connect + full handshake (certificate
chain and IP subjectAltName verified, no session resumption) + close, in a
loop for a fixed time.  Rounds alternate between the two servers.  The
report gives handshakes per second, latency percentiles, and the CPU time
each server spent per handshake (from C{/proc}), which is the fairer figure
on a machine where the client competes with the server for CPU.

Not a test; nothing here runs under trial.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from _common import processCpuSeconds  # noqa: E402 (puts the checkout on sys.path)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

HOST = "127.0.0.1"


# ---------------------------------------------------------------------------
# Certificates


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def makeCertificates(directory: str, bits: int) -> dict[str, str]:
    """
    Write a CA and a router certificate (SAN IP 127.0.0.1) issued by it.

    @return: paths by role: C{ca}, C{cert}, C{key}.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    caKey = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    caCert = (
        x509.CertificateBuilder()
        .subject_name(_name("srstcaserver"))
        .issuer_name(_name("srstcaserver"))
        .public_key(caKey.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(caKey.public_key()), False)
        .sign(caKey, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("branch-router"))
        .issuer_name(caCert.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(caKey.public_key()), False
        )
        .sign(caKey, hashes.SHA256())
    )
    paths = {
        "ca": os.path.join(directory, "ca.pem"),
        "cert": os.path.join(directory, "router.pem"),
        "key": os.path.join(directory, "router.key"),
    }
    with open(paths["ca"], "wb") as f:
        f.write(caCert.public_bytes(serialization.Encoding.PEM))
    with open(paths["cert"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["key"], "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return paths


# ---------------------------------------------------------------------------
# The credentials service child process (python credentials.py --serve ...)


def serve(reactor, certFile: str, keyFile: str, caFile: str, application: str = "credentials"):
    """
    Run the credentials service on an ephemeral 127.0.0.1 port; print
    C{LISTENING <port>}, and the service's counters as JSON on SIGTERM.

    With C{application="bare"} the application inside TLS is a do-nothing
    L{Protocol} instead: Twisted's own TLS cost, for reference.
    """
    from twisted.internet.defer import Deferred
    from twisted.internet.protocol import Factory, Protocol
    from twisted.internet.ssl import CertificateOptions
    from twisted.protocols.tls import TLSMemoryBIOFactory

    from srst.credentials import DEBUG_NAMESPACE, CredentialsFactory
    from srst.debug import DebugSwitches

    with open(certFile, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(caFile, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(keyFile, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    options = CertificateOptions(privateKey=key, certificate=cert, extraCertChain=[ca])
    factory = CredentialsFactory(cert.public_bytes(serialization.Encoding.DER), clock=reactor,
                                 debugLog=DebugSwitches().logger(DEBUG_NAMESPACE))
    application = factory if application == "credentials" else Factory.forProtocol(Protocol)
    port = reactor.listenTCP(
        0, TLSMemoryBIOFactory(options, False, application, clock=reactor),
        interface=HOST, backlog=1024,
    )
    sys.stdout.write(f"LISTENING {port.getHost().port}\n")
    sys.stdout.flush()

    def report() -> None:
        if application is not factory:
            return
        sys.stdout.write(json.dumps(factory.statistics.asDict()) + "\n")
        sys.stdout.flush()

    reactor.addSystemEventTrigger("before", "shutdown", report)
    return Deferred()  # runs until SIGTERM stops the reactor


# ---------------------------------------------------------------------------
# Client


def hammer(port: int, caFile: str, threads: int, duration: float) -> dict:
    """
    Full handshakes against C{HOST:port} from C{threads} threads for
    C{duration} seconds.

    @return: counts, latencies, protocol and cipher seen, failures.
    """
    context = ssl.create_default_context(cafile=caFile)
    context.check_hostname = True
    deadline = time.perf_counter() + duration
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures: list[list[str]] = [[] for _ in range(threads)]
    seen: set[tuple[str, str]] = set()

    def work(index: int) -> None:
        mine, errors = latencies[index], failures[index]
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                with socket.create_connection((HOST, port), timeout=10) as raw:
                    with context.wrap_socket(raw, server_hostname=HOST) as tls:
                        if not mine:
                            seen.add((tls.version(), tls.cipher()[0]))
            except OSError as e:
                errors.append(f"{type(e).__name__}: {e}")
                continue
            mine.append(time.perf_counter() - started)

    cpuStarted = time.process_time()
    wallStarted = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - wallStarted
    allLatencies = sorted(x for xs in latencies for x in xs)
    allFailures = [x for xs in failures for x in xs]
    return {
        "handshakes": len(allLatencies),
        "seconds": wall,
        "failures": len(allFailures),
        "firstFailure": allFailures[0] if allFailures else None,
        "clientCpu": time.process_time() - cpuStarted,
        "latencies": allLatencies,
        "seen": sorted(seen),
    }


def _waitConnectable(port: int, process: subprocess.Popen, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} not reachable")


def _freePort() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Target:
    """
    A server child process under test.
    """

    def __init__(self, name: str, argv: list[str], port: int | None) -> None:
        self.name = name
        stdout = subprocess.PIPE if port is None else subprocess.DEVNULL
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True
        )
        if port is None:
            line = self.process.stdout.readline()
            if not line.startswith("LISTENING "):
                raise RuntimeError(f"{name}: unexpected output {line!r}")
            port = int(line.split()[1])
        self.port = port
        _waitConnectable(port, self.process)
        self.results: list[dict] = []
        self.cpu = 0.0

    def measure(self, caFile: str, threads: int, duration: float) -> dict:
        before = processCpuSeconds(self.process.pid)
        result = hammer(self.port, caFile, threads, duration)
        self.cpu += processCpuSeconds(self.process.pid) - before
        self.results.append(result)
        return result

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out or ""

    def summary(self) -> dict:
        handshakes = sum(r["handshakes"] for r in self.results)
        seconds = sum(r["seconds"] for r in self.results)
        latencies = sorted(x for r in self.results for x in r["latencies"])

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

        return {
            "handshakes": handshakes,
            "rate": handshakes / seconds if seconds else 0.0,
            "failures": sum(r["failures"] for r in self.results),
            "firstFailure": next((r["firstFailure"] for r in self.results if r["firstFailure"]), None),
            "p50": pct(0.50) if latencies else float("nan"),
            "p99": pct(0.99) if latencies else float("nan"),
            "serverCpuMsPerHandshake": 1000 * self.cpu / handshakes if handshakes else float("nan"),
            "serverCpuShare": self.cpu / seconds if seconds else 0.0,
            "clientCpuShare": sum(r["clientCpu"] for r in self.results) / seconds if seconds else 0.0,
            "seen": sorted({tuple(s) for r in self.results for s in r["seen"]}),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round and server")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per server")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--key-bits", type=int, default=2048, help="RSA key size")
    parser.add_argument(
        "--bare", action="store_true",
        help="also measure Twisted TLS with a do-nothing application (reference)",
    )
    parser.add_argument("--serve", nargs=4, metavar=("CERT", "KEY", "CA", "APP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        from twisted.internet.task import react

        react(serve, args.serve)
        return 0

    openssl = shutil.which("openssl")
    with tempfile.TemporaryDirectory() as directory:
        paths = makeCertificates(directory, args.key_bits)
        targets = [
            Target(
                "srst credentials",
                [sys.executable, os.path.abspath(__file__), "--serve",
                 paths["cert"], paths["key"], paths["ca"], "credentials"],
                None,
            )
        ]
        if args.bare:
            targets.append(
                Target(
                    "twisted TLS, no app",
                    [sys.executable, os.path.abspath(__file__), "--serve",
                     paths["cert"], paths["key"], paths["ca"], "bare"],
                    None,
                )
            )
        if openssl:
            port = _freePort()
            targets.append(
                Target(
                    "openssl s_server",
                    [openssl, "s_server", "-quiet", "-accept", f"{HOST}:{port}",
                     "-cert", paths["cert"], "-key", paths["key"], "-cert_chain", paths["ca"],
                     "-num_tickets", "0"],
                    port,
                )
            )
        try:
            for target in targets:
                hammer(target.port, paths["ca"], args.threads, args.warmup)
            for _ in range(args.rounds):
                for target in targets:
                    target.measure(paths["ca"], args.threads, args.duration)
        finally:
            outputs = [target.stop() for target in targets]

    print(
        f"credentials benchmark: RSA-{args.key_bits}, {args.threads} client threads,"
        f" {args.rounds} x {args.duration:g} s per server, {os.cpu_count()} CPUs"
    )
    summaries = []
    for target in targets:
        s = target.summary()
        summaries.append(s)
        seen = ", ".join(f"{v} {c}" for v, c in s["seen"])
        print(
            f"  {target.name:19s} {s['rate']:8.1f} handshakes/s  ({s['handshakes']} ok,"
            f" {s['failures']} failed)  p50 {s['p50']:.2f} ms  p99 {s['p99']:.2f} ms"
        )
        print(
            f"  {'':19s} server CPU {s['serverCpuMsPerHandshake']:.3f} ms/handshake"
            f" ({100 * s['serverCpuShare']:.0f}% of a CPU),"
            f" client CPU {100 * s['clientCpuShare']:.0f}% of a CPU;  {seen}"
        )
        if s["firstFailure"]:
            print(f"  {'':19s} first failure: {s['firstFailure']}")
    counters = outputs[0].strip().splitlines()
    if counters:
        print(f"  srst service counters: {counters[-1]}")
    if openssl and summaries[-1]["rate"]:
        srstSummary, opensslSummary = summaries[0], summaries[-1]
        ratio = srstSummary["rate"] / opensslSummary["rate"]
        cpuRatio = (
            opensslSummary["serverCpuMsPerHandshake"] / srstSummary["serverCpuMsPerHandshake"]
        )
        print(
            f"  ratio srst/openssl: {ratio:.2f} (handshakes/s),"
            f" {cpuRatio:.2f} (server CPU per handshake, openssl/srst)"
        )
    elif not openssl:
        print("  openssl not installed: no comparison")
    return 0


if __name__ == "__main__":
    sys.exit(main())
