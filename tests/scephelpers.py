"""
Test helpers for SCEP: an RSA certificate server, and the router's own SCEP
client on a shared key (the tests also check the messages with openssl, an
independent implementation).
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from srst.pki.ca import CertificateServer
from srst.pki.scepclient import ScepClient
from tests.pkihelpers import sharedKey

UTC = datetime.timezone.utc
START = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Now:
    """
    A settable wall clock.
    """

    def __init__(self, when: datetime.datetime = START) -> None:
        self.when = when

    def __call__(self) -> datetime.datetime:
        return self.when


def rsaCertificateServer(directory: str, now: Now, grant: str = "auto") -> CertificateServer:
    """
    A started certificate server with a shared RSA CA key (SCEP envelopes
    need RSA; generating one per test is slow).
    """
    os.makedirs(directory)
    key = sharedKey("scep-ca", "rsa", 2048)
    with open(os.path.join(directory, "ca.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    server = CertificateServer("srstcaserver", directory, "CN=srstcaserver", now=now, keyType="rsa", grant=grant)
    server.start()
    return server


def selfSigned(key: Any, subject: x509.Name, now: datetime.datetime) -> x509.Certificate:
    """
    The transient self-signed certificate a SCEP client signs PKCSReq with.
    """
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def makeCsr(key: Any, commonName: str, password: str | None = None) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)]))
    if password is not None:
        builder = builder.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, password.encode("utf-8"))
    return builder.sign(key, hashes.SHA256())


def Client(ca: x509.Certificate, commonName: str, now: datetime.datetime, label: str = "client") -> ScepClient:
    """
    The router's SCEP client (L{srst.pki.scepclient}) with a shared RSA key
    per C{label}.
    """
    return ScepClient(ca, sharedKey("scep-" + label, "rsa", 2048),
                      x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)]), lambda: now,
                      transactionId="tx-" + label)
