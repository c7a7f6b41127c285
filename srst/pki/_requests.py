# -*- test-case-name: tests.test_pki_ca -*-
"""
The certificate server's enrollment request database (IOS C{grant manual}).

In the server's state directory::

    requests.ser         the last enrollment request id used (decimal text)
    requests/<id>.json   one record per request: pending, granted or rejected

A record is a JSON object with C{id}, C{state}, C{csr} (PEM), C{subject},
C{fingerprint} (MD5 of the request's DER, 32 hex digits), C{dnsNames},
C{ipAddresses}, C{submitted} (ISO time), and C{serial} and C{certificate}
(PEM) once granted.  The counter is written before the record, so a request
id is never reused, even after a crash between the two writes.

L{RequestQueue} also holds the L{Deferred}s waiting for a request to be
decided.  It does no locking: L{srst.pki.ca.CertificateServer} calls it
under its lock.
"""

from __future__ import annotations

import datetime
import json
import os
from enum import Enum
from typing import Any, Sequence

from attrs import Factory, define, frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet.defer import Deferred, fail, succeed

from srst._files import FileWriter, readBytes
from srst.pki._database import readJsonObject
from srst.pki._x509 import fingerprint
from srst.pki.errors import CertificateStoreError, RequestRejectedError, RequestStateError, UnknownRequestError


class RequestState(Enum):
    """
    The state of an enrollment request in the request database.
    """

    PENDING = "pending"
    GRANTED = "granted"
    REJECTED = "rejected"


@frozen
class EnrollmentRequest:
    """
    One entry of the enrollment request database.

    @ivar fingerprint: MD5 of the request's DER, 32 hex digits (as IOS
        C{info requests} prints it).
    @ivar serial: the serial issued when granted.
    """

    id: int
    state: RequestState
    subject: str
    fingerprint: str
    dnsNames: tuple[str, ...]
    ipAddresses: tuple[str, ...]
    submitted: datetime.datetime
    serial: int | None = None


@define
class RequestQueue:
    """
    The enrollment requests of one certificate server, on disk and in
    memory.

    @ivar serverName: the certificate server's name, for errors.
    @ivar serverDirectory: the certificate server's state directory.
    @ivar write: the atomic file writer.
    @ivar records: request id -> record, as stored.
    @ivar lastId: the last request id used.
    @ivar waiters: request id -> the L{whenGranted} L{Deferred}s waiting.
    """

    serverName: str
    serverDirectory: str
    write: FileWriter
    records: dict[int, dict[str, Any]] = Factory(dict)
    lastId: int = 0
    waiters: dict[int, list[Deferred[x509.Certificate]]] = Factory(dict)

    @property
    def directory(self) -> str:
        """
        The C{requests} directory.
        """
        return os.path.join(self.serverDirectory, "requests")

    def recordedSerials(self) -> list[int]:
        """
        Read the serial numbers granted requests carry, straight from disk
        (for serial recovery, before L{load}).

        @return: the serials.
        @raise CertificateStoreError: a record is unreadable.
        """
        serials = []
        if os.path.isdir(self.directory):
            for entry in os.listdir(self.directory):
                if entry.endswith(".json"):
                    record = readJsonObject(os.path.join(self.directory, entry))
                    if record.get("serial") is not None:
                        serials.append(int(record["serial"]))
        return serials

    def load(self) -> None:
        """
        Load every record and the request counter.

        @raise CertificateStoreError: a record or the counter is unreadable.
        """
        self.records = {}
        for entry in sorted(os.listdir(self.directory)):
            if entry.endswith(".json"):
                record = readJsonObject(os.path.join(self.directory, entry))
                self.records[int(record["id"])] = record
        last = 0
        counter = os.path.join(self.serverDirectory, "requests.ser")
        if os.path.exists(counter):
            try:
                last = int(readBytes(counter).decode("ascii").strip())
            except (OSError, ValueError, UnicodeDecodeError) as e:
                raise CertificateStoreError(counter, f"unreadable request counter: {e}") from e
        self.lastId = max([last, *self.records])

    def add(
        self,
        csr: x509.CertificateSigningRequest,
        dnsNames: Sequence[str],
        ipAddresses: Sequence[str],
        submitted: datetime.datetime,
    ) -> dict[str, Any]:
        """
        Queue a pending request under the next id (the counter is written
        first).

        @param csr: the request.
        @param dnsNames: DNS names for the subjectAltName.
        @param ipAddresses: IP addresses for the subjectAltName.
        @param submitted: when it was submitted.
        @return: the stored record.
        @raise OSError: a write failed.
        """
        requestId = self.lastId + 1
        self.write(os.path.join(self.serverDirectory, "requests.ser"), b"%d\n" % (requestId,), 0o600)
        self.lastId = requestId
        der = csr.public_bytes(serialization.Encoding.DER)
        record = {
            "id": requestId,
            "state": RequestState.PENDING.value,
            "csr": csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            "subject": csr.subject.rfc4514_string(),
            "fingerprint": fingerprint(der).replace(" ", ""),
            "dnsNames": list(dnsNames),
            "ipAddresses": [str(a) for a in ipAddresses],
            "submitted": submitted.isoformat(),
            "serial": None,
            "certificate": None,
        }
        self.save(record)
        return record

    def save(self, record: dict[str, Any]) -> None:
        """
        Write a record (atomically) and keep it.

        @param record: the record.
        @raise OSError: the write failed.
        """
        self.write(os.path.join(self.directory, "%d.json" % (record["id"],)),
                   json.dumps(record, sort_keys=True).encode("utf-8"), 0o600)
        self.records[record["id"]] = record

    def values(self) -> list[EnrollmentRequest]:
        """
        @return: every request (pending, granted, rejected), by id.
        """
        return [requestValue(r) for _, r in sorted(self.records.items())]

    def pendingCount(self) -> int:
        """
        @return: how many requests are pending.
        """
        return sum(1 for r in self.records.values() if r["state"] == RequestState.PENDING.value)

    def pending(self, requestId: int) -> dict[str, Any]:
        """
        @return: the record of a pending request.
        @raise UnknownRequestError: no such request.
        @raise RequestStateError: the request is not pending.
        """
        record = self.records.get(requestId)
        if record is None:
            raise UnknownRequestError(self.serverName, requestId)
        if record["state"] != RequestState.PENDING.value:
            raise RequestStateError(requestId, record["state"])
        return record

    def recordGranted(self, record: dict[str, Any], certificate: x509.Certificate) -> list[Deferred[x509.Certificate]]:
        """
        Store a request as granted with its certificate.

        @return: the L{Deferred}s waiting for it (no longer held here).
        @raise OSError: the write failed.
        """
        self.save(dict(record, state=RequestState.GRANTED.value, serial=certificate.serial_number,
                       certificate=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")))
        return self.waiters.pop(record["id"], [])

    def recordRejected(self, record: dict[str, Any]) -> list[Deferred[x509.Certificate]]:
        """
        Store a request as rejected.

        @return: the L{Deferred}s waiting for it (no longer held here).
        @raise OSError: the write failed.
        """
        self.save(dict(record, state=RequestState.REJECTED.value))
        return self.waiters.pop(record["id"], [])

    def whenGranted(self, requestId: int) -> Deferred[x509.Certificate]:
        """
        @return: a L{Deferred} that fires with the certificate once request
            C{requestId} is granted (at once if it already was), or fails with
            L{RequestRejectedError} or L{UnknownRequestError}.  Cancelling it
            stops waiting; the request stays queued.
        """
        record = self.records.get(requestId)
        if record is None:
            return fail(UnknownRequestError(self.serverName, requestId))
        if record["state"] == RequestState.GRANTED.value:
            return succeed(x509.load_pem_x509_certificate(record["certificate"].encode("ascii")))
        if record["state"] == RequestState.REJECTED.value:
            return fail(RequestRejectedError(requestId))

        def cancel(d: Deferred[x509.Certificate]) -> None:
            waiting = self.waiters.get(requestId, [])
            if d in waiting:
                waiting.remove(d)

        d: Deferred[x509.Certificate] = Deferred(cancel)
        self.waiters.setdefault(requestId, []).append(d)
        return d


def requestValue(record: dict[str, Any]) -> EnrollmentRequest:
    return EnrollmentRequest(
        id=int(record["id"]),
        state=RequestState(record["state"]),
        subject=record["subject"],
        fingerprint=record["fingerprint"],
        dnsNames=tuple(record["dnsNames"]),
        ipAddresses=tuple(record["ipAddresses"]),
        submitted=datetime.datetime.fromisoformat(record["submitted"]),
        serial=record.get("serial"),
    )
