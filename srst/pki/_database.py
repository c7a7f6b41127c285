# -*- test-case-name: tests.test_pki_ca -*-
"""
The certificate server's CA database: reading and recording the files of
its state directory (the enrollment requests are in L{srst.pki._requests})::

    ca.key          the CA private key (PEM PKCS#8, mode 0600)
    ca.crt          the self-signed CA certificate (PEM)
    ca.ser          the last serial number reserved (decimal text)
    crl.der         the current CRL (DER)
    names.json      database level C{names}: serial -> subject
    <SERIAL>.cer    database level C{complete}: every issued certificate (DER)

Every reader raises L{CertificateStoreError} naming the file and what is
wrong with it.  Every write goes through the injected L{FileWriter}.
"""

from __future__ import annotations

import json
import os
from enum import Enum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from srst._files import FileWriter, readBytes
from srst.pki._x509 import PrivateKey, publicKeysEqual
from srst.pki.errors import CertificateStoreError


class DatabaseLevel(Enum):
    """
    IOS C{database level}: what is stored for each issued certificate.
    """

    MINIMAL = "minimal"
    NAMES = "names"
    COMPLETE = "complete"


def serialFileName(serial: int) -> str:
    """
    The C{database level complete} file name of an issued certificate:
    upper-case hex with an even number of digits, C{.cer}.

    @param serial: the serial number.
    @return: e.g. C{"02.cer"}.
    """
    digits = f"{serial:X}"
    if len(digits) % 2:
        digits = "0" + digits
    return digits + ".cer"


def readJsonObject(path: str) -> dict[str, Any]:
    """
    Read one JSON database file (C{names.json}, a request record).

    @param path: the file.
    @return: its object.
    @raise CertificateStoreError: if it cannot be read, does not parse or is
        not a JSON object.
    """
    try:
        value = json.loads(readBytes(path).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise CertificateStoreError(path, f"unreadable database file: {e}") from e
    if not isinstance(value, dict):
        raise CertificateStoreError(path, "expected a JSON object")
    return value


def readNames(directory: str) -> dict[str, str]:
    """
    @param directory: the server's state directory.
    @return: the C{names.json} mapping (serial as decimal text -> subject),
        empty if there is none.
    @raise CertificateStoreError: if it is unreadable.
    """
    path = os.path.join(directory, "names.json")
    return readJsonObject(path) if os.path.exists(path) else {}


def loadCAKey(path: str) -> PrivateKey:
    """
    @param path: C{ca.key}.
    @return: the CA key.
    @raise CertificateStoreError: if it cannot be loaded or is neither RSA
        nor ECDSA.
    """
    try:
        key = serialization.load_pem_private_key(readBytes(path), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise CertificateStoreError(path, f"cannot load the CA key: {e}") from e
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CertificateStoreError(path, "the CA key is neither RSA nor ECDSA")
    return key


def loadCACertificate(path: str, key: PrivateKey) -> x509.Certificate:
    """
    @param path: C{ca.crt}.
    @param key: the CA key it must match.
    @return: the CA certificate.
    @raise CertificateStoreError: if it cannot be loaded or does not match
        C{key}.
    """
    try:
        cert = x509.load_pem_x509_certificate(readBytes(path))
    except (OSError, ValueError) as e:
        raise CertificateStoreError(path, f"cannot load the CA certificate: {e}") from e
    if not publicKeysEqual(cert.public_key(), key.public_key()):
        raise CertificateStoreError(path, "the CA certificate does not match ca.key")
    return cert


def parseCrl(path: str) -> x509.CertificateRevocationList:
    """
    @param path: C{crl.der}.
    @return: the CRL.
    @raise CertificateStoreError: if it cannot be loaded.
    """
    try:
        return x509.load_der_x509_crl(readBytes(path))
    except (OSError, ValueError) as e:
        raise CertificateStoreError(path, f"unreadable CRL: {e}") from e


def recoverLastSerial(directory: str) -> int:
    """
    The largest serial number the CA database knows: C{ca.ser}, the C{.cer}
    files, C{names.json} and the CRL (the request database adds its own,
    L{srst.pki._requests.RequestQueue.recordedSerials}).

    @param directory: the server's state directory.
    @return: the serial, C{0} for an empty directory.
    @raise CertificateStoreError: a database file is unreadable.
    """
    candidates = [0]
    serPath = os.path.join(directory, "ca.ser")
    if os.path.exists(serPath):
        try:
            candidates.append(int(readBytes(serPath).decode("ascii").strip()))
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise CertificateStoreError(serPath, f"unreadable serial counter: {e}") from e
    for entry in os.listdir(directory) if os.path.isdir(directory) else ():
        stem, dot, ext = entry.partition(".")
        if ext == "cer" and stem:
            try:
                candidates.append(int(stem, 16))
            except ValueError:
                continue
    candidates.extend(int(s) for s in readNames(directory))
    crlPath = os.path.join(directory, "crl.der")
    if os.path.exists(crlPath):
        crl = parseCrl(crlPath)
        candidates.extend(r.serial_number for r in crl)
    return max(candidates)


def recordIssued(directory: str, level: DatabaseLevel, certificate: x509.Certificate, write: FileWriter) -> None:
    """
    Record an issued certificate as the database level says: its DER as
    C{<SERIAL>.cer} (complete), its subject in C{names.json} (names), or
    nothing (minimal).

    @param directory: the server's state directory.
    @param level: the database level.
    @param certificate: the certificate.
    @param write: the atomic file writer.
    @raise CertificateStoreError: C{names.json} is unreadable.
    @raise OSError: the write failed.
    """
    serial = certificate.serial_number
    if level is DatabaseLevel.COMPLETE:
        write(os.path.join(directory, serialFileName(serial)),
              certificate.public_bytes(serialization.Encoding.DER), 0o644)
    elif level is DatabaseLevel.NAMES:
        names = readNames(directory)
        names[str(serial)] = certificate.subject.rfc4514_string()
        write(os.path.join(directory, "names.json"), json.dumps(names, sort_keys=True).encode("utf-8"), 0o644)


def readIssuedCertificate(directory: str, serial: int) -> x509.Certificate | None:
    """
    @param directory: the server's state directory.
    @param serial: the serial number.
    @return: the stored certificate (database level complete), or C{None}.
    """
    path = os.path.join(directory, serialFileName(serial))
    if not os.path.exists(path):
        return None
    return x509.load_der_x509_certificate(readBytes(path))
