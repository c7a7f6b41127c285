"""
Crash soak: kill -9 the certificate server at random moments while it
issues and revokes certificates, restart it, and check its database.

    python benchmarks/soak/crash.py --seconds 60 [--seed 1]

A child process starts a CertificateServer (database level complete, ECDSA,
grant auto) on a state directory and issues certificates in a loop,
revoking every fifth one, printing each serial as it is issued.  The
parent kills it with SIGKILL after a random 20-400 ms, then checks the
directory as a restart sees it: the server starts (no corrupt file), every
<serial>.cer parses and holds its serial, the CRL parses, and the serials
issued so far by all children are distinct (none reused) and on disk, every
revocation printed is in the CRL, and the serials on disk are
contiguous except for serials reserved in ca.ser by a child killed before
it wrote the certificate (counted as gaps).  Prints: kills, certificates
issued, revocations, serials reused (must be 0), certificates or
revocations lost (0), corrupt files (0), gaps.  Exits 1 on any of those.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _common  # noqa: E402  (puts the checkout first on sys.path)

CHILD = r"""
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from srst.pki.ca import CertificateServer

server = CertificateServer("srstcaserver", sys.argv[1], "CN=srstcaserver", keyType="ecdsa", grant="auto",
                           now=lambda: datetime.datetime.now(datetime.timezone.utc))
server.start()
key = ec.generate_private_key(ec.SECP256R1())
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "soak")])).sign(key, hashes.SHA256()))
print("STARTED", flush=True)
n = 0
while True:
    serial = server.issue(csr).serial_number
    print("ISSUED", serial, flush=True)
    n += 1
    if n % 5 == 0:
        server.revoke(serial)
        print("REVOKED", serial, flush=True)
"""


def check(directory: str) -> tuple[set[int], set[int], int]:
    """
    Start a server on C{directory} as a restart would, and read every
    certificate file.

    @return: the serials on disk, the revoked serials, and how many files
        were corrupt.
    """
    import datetime

    from cryptography import x509

    from srst.pki._database import recoverLastSerial, serialFileName
    from srst.pki.ca import CertificateServer

    server = CertificateServer("srstcaserver", directory, "CN=srstcaserver", keyType="ecdsa", grant="auto",
                               now=lambda: datetime.datetime.now(datetime.timezone.utc))
    server.start()
    corrupt = 0
    serials = set()
    for name in os.listdir(directory):
        if not name.endswith(".cer"):
            continue
        try:
            with open(os.path.join(directory, name), "rb") as f:
                certificate = x509.load_der_x509_certificate(f.read())
        except ValueError:
            corrupt += 1
            continue
        if name != serialFileName(certificate.serial_number):
            corrupt += 1
        serials.add(certificate.serial_number)
    revokedOnDisk = {entry.serial_number for entry in server.crl}
    if recoverLastSerial(directory) < max(serials, default=0):
        corrupt += 1
    return serials, revokedOnDisk | set(server.revokedSerials()), corrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    directory = os.path.join(tempfile.mkdtemp(prefix="srst-crash-"), "srstcaserver")
    env = dict(os.environ, PYTHONPATH=_common.ROOT)
    issued: list[int] = []
    revoked: list[int] = []
    kills = corrupt = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        child = subprocess.Popen([sys.executable, "-c", CHILD, directory], stdout=subprocess.PIPE, text=True,
                                 env=env)
        started = child.stdout.readline().strip() == "STARTED"
        time.sleep(rng.uniform(0.02, 0.4))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        kills += 1
        for line in out.split("\n")[:-1]:  # the last piece is a line the kill cut short (or empty)
            word, _, value = line.partition(" ")
            if word == "ISSUED":
                issued.append(int(value))
            elif word == "REVOKED":
                revoked.append(int(value))
        if not started:
            print(f"crash: child {kills} did not start", file=sys.stderr)
            corrupt += 1
        serials, _, bad = check(directory)
        corrupt += bad
    serials, revokedOnDisk, bad = check(directory)
    corrupt += bad
    revocationsLost = len(set(revoked) - revokedOnDisk)
    reused = len(issued) - len(set(issued))
    missing = set(issued) - serials
    top = max(serials, default=1)
    gaps = len(set(range(2, top + 1)) - serials)
    print(f"crash: {args.seconds:.0f} s, seed {args.seed}: {kills} kill -9, {len(issued)} certificates issued, "
          f"{len(revoked)} revoked; serials reused {reused}, issued but lost {len(missing)}, revocations lost "
          f"{revocationsLost}, corrupt files {corrupt}, "
          f"gaps {gaps} (serials 2..{top}; a gap is a serial reserved by a child killed before writing it)")
    return 1 if reused or corrupt or missing or revocationsLost else 0


if __name__ == "__main__":
    sys.exit(main())
