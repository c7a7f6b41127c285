# -*- test-case-name: tests.test_pki_commands -*-
"""
The PKI show and exec commands, registered on the admin L{CommandTable}.

  - C{show crypto pki server [<name>]}: the seed's format, line for line.
  - C{show crypto pki certificates [<tp>]}: IOS-like certificate blocks.
  - C{crypto pki export <tp> pem [terminal]}: the trustpoint's certificates.
  - C{crypto pki server <name> info requests} (and C{show crypto pki server
    <name> requests}): the enrollment request database.
  - C{crypto pki server <name> grant|reject <id>|all},
    C{crypto pki server <name> revoke <serial>} (C{0x2}, C{2}).

Granting and revoking sign and C{fsync}; they run through the
C{runInThread} the service passes in.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any, Callable, Sequence

import attrs
from cryptography import x509
from cryptography.x509.oid import NameOID
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.pki.ca import (
    CertificateServer,
    CertificateServerError,
    DatabaseLevel,
    EnrollmentRequest,
    RequestStateError,
    RevocationError,
    UnknownRequestError,
    certificateFingerprint,
    iosTime,
)
from srst.pki.trust import IdentityTrustpoint, PhoneTrustpoint, certificateDer, serialHex

DATABASE_LEVEL_TEXT = {
    DatabaseLevel.MINIMAL: "Minimum - no cert data written to storage",
    DatabaseLevel.NAMES: "Names - cert serial numbers and subject names written to storage",
    DatabaseLevel.COMPLETE: "Complete - all issued certs written as <serialnum>.cer",
}
"""
IOS's C{Database Level:} texts (minimal and complete as IOS prints them;
the names text is inferred).
"""

_NAME_LABELS = {
    NameOID.COMMON_NAME: "cn",
    NameOID.ORGANIZATION_NAME: "o",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "ou",
    NameOID.COUNTRY_NAME: "c",
    NameOID.LOCALITY_NAME: "l",
    NameOID.STATE_OR_PROVINCE_NAME: "st",
    NameOID.STREET_ADDRESS: "street",
    NameOID.DOMAIN_COMPONENT: "dc",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.UNSTRUCTURED_NAME: "hostname",
    NameOID.EMAIL_ADDRESS: "ea",
}
_UNSTRUCTURED_ADDRESS = x509.ObjectIdentifier("1.2.840.113549.1.9.8")
_NAME_LABELS[_UNSTRUCTURED_ADDRESS] = "ipaddress"


def _iso(when: datetime.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


# -- show crypto pki server -------------------------------------------------------------


def renderServer(server: CertificateServer) -> CommandResult:
    """
    C{show crypto pki server}, as in the seed (times in UTC).

    @param server: the certificate server.
    @return: the text and the same facts as data.
    """
    status = server.status()
    lines = [f"Certificate Server {status.name}:"]
    if status.enabled:
        lines += [
            "Status: enabled",
            "Server's configuration is locked (enter \"shut\" to unlock it)",
            f"Issuer name: {status.issuerName}",
            f"CA cert fingerprint: {status.caFingerprint}",
            f"Granting mode is: {status.grantMode.value}",
            f"Last certificate issued serial number: 0x{status.lastSerial:X}",
            f"CA certificate expiration timer: {iosTime(status.caNotAfter)}",  # type: ignore[arg-type]
            f"CRL NextUpdate timer: {iosTime(status.crlNextUpdate)}",  # type: ignore[arg-type]
        ]
    else:
        lines += [
            "Status: disabled",
            "Server's configuration is unlocked (enter \"no shut\" to lock it)",
            f"Issuer name: {status.issuerName}",
            "CA cert fingerprint: -Not found-",
            f"Granting mode is: {status.grantMode.value}",
        ]
    lines += [
        f"Current storage dir: {status.storageDir}",
        f"Database Level: {DATABASE_LEVEL_TEXT[status.databaseLevel]}",
    ]
    data = {
        "name": status.name,
        "status": "enabled" if status.enabled else "disabled",
        "locked": status.enabled,
        "issuerName": status.issuerName,
        "caFingerprint": status.caFingerprint,
        "grantMode": status.grantMode.value,
        "lastSerial": status.lastSerial,
        "caExpiration": _iso(status.caNotAfter),
        "crlNextUpdate": _iso(status.crlNextUpdate),
        "storageDir": status.storageDir,
        "databaseLevel": status.databaseLevel.value,
        "pendingRequests": status.pendingRequests,
    }
    return CommandResult("\n".join(lines), data)


# -- show crypto pki certificates ---------------------------------------------------------


def iosNameLines(name: x509.Name) -> list[str]:
    """
    A name the way IOS lists it: one RDN per line, most specific first,
    lower-case short labels (C{cn=srstcaserver}, C{hostname=...}).
    """
    lines = []
    for rdn in reversed(list(name.rdns)):
        parts = []
        for attribute in rdn:
            label = _NAME_LABELS.get(attribute.oid, attribute.oid.dotted_string)
            parts.append(f"{label}={attribute.value!s}")
        lines.append("+".join(parts))
    return lines


def certificateUsage(certificate: x509.Certificate) -> str:
    """
    IOS's C{Certificate Usage}: General Purpose, Signature or Encryption,
    from the keyUsage extension.
    """
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "General Purpose"
    signs = usage.digital_signature or usage.content_commitment or usage.key_cert_sign or usage.crl_sign
    encrypts = usage.key_encipherment or usage.data_encipherment or usage.key_agreement
    if signs and not encrypts:
        return "Signature"
    if encrypts and not signs:
        return "Encryption"
    return "General Purpose"


def _subjectLines(name: x509.Name) -> list[str]:
    extra = []
    for oid, label in ((NameOID.UNSTRUCTURED_NAME, "Name"), (_UNSTRUCTURED_ADDRESS, "IP Address"),
                       (NameOID.SERIAL_NUMBER, "Serial Number")):
        for attribute in name.get_attributes_for_oid(oid):
            extra.append(f"{label}: {attribute.value!s}")
    return extra + iosNameLines(name)


class _Entry:
    def __init__(self, certificate: x509.Certificate, isCA: bool) -> None:
        self.certificate = certificate
        self.isCA = isCA
        self.trustpoints: list[str] = []


def _collect(server: CertificateServer | None, identities: Sequence[IdentityTrustpoint],
             phones: Sequence[PhoneTrustpoint]) -> list[_Entry]:
    entries: dict[bytes, _Entry] = {}

    def add(certificate: x509.Certificate, isCA: bool, trustpoint: str) -> None:
        der = certificateDer(certificate)
        entry = entries.setdefault(der, _Entry(certificate, isCA))
        if trustpoint not in entry.trustpoints:
            entry.trustpoints.append(trustpoint)

    for identity in identities:
        if identity.certificate is not None:
            add(identity.certificate, False, identity.name)
            for ca in identity.chain:
                add(ca, True, identity.name)
    if server is not None and server.started:
        add(server.caCertificate, True, server.name)
    for phone in phones:
        for certificate in phone.certificates:
            add(certificate, True, phone.name)
    ordered = list(entries.values())
    return [e for e in ordered if not e.isCA] + [e for e in ordered if e.isCA]


def _certificateBlock(entry: _Entry) -> tuple[list[str], dict[str, Any]]:
    cert = entry.certificate
    lines = ["CA Certificate" if entry.isCA else "Certificate",
             "  Status: Available",
             f"  Certificate Serial Number (hex): {serialHex(cert)}",
             f"  Certificate Usage: {certificateUsage(cert)}",
             "  Issuer:"]
    lines += ["    " + line for line in iosNameLines(cert.issuer)]
    lines.append("  Subject:")
    lines += ["    " + line for line in _subjectLines(cert.subject)]
    points = crlDistributionPoints(cert)
    if points:
        lines.append("  CRL Distribution Points:")
        lines += ["    " + point for point in points]
    lines += ["  Validity Date:",
              f"    start date: {iosTime(cert.not_valid_before_utc)}",
              f"    end   date: {iosTime(cert.not_valid_after_utc)}",
              f"  Associated Trustpoints: {' '.join(entry.trustpoints)}"]
    data = {
        "type": "ca certificate" if entry.isCA else "certificate",
        "status": "Available",
        "serial": serialHex(cert),
        "usage": certificateUsage(cert),
        "issuer": cert.issuer.rfc4514_string(),
        "subject": cert.subject.rfc4514_string(),
        "notBefore": cert.not_valid_before_utc.isoformat(),
        "notAfter": cert.not_valid_after_utc.isoformat(),
        "fingerprintMD5": certificateFingerprint(cert),
        "crlDistributionPoints": points,
        "trustpoints": list(entry.trustpoints),
    }
    return lines, data


def crlDistributionPoints(certificate: x509.Certificate) -> list[str]:
    """
    @return: the URIs of the certificate's CRL Distribution Points
        extension (IOS C{cdp-url}), in order; empty without one.
    """
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in point.full_name or ()
            if isinstance(name, x509.UniformResourceIdentifier)]


def renderCertificates(server: CertificateServer | None, identities: Sequence[IdentityTrustpoint],
                       phones: Sequence[PhoneTrustpoint], trustpoint: str | None = None) -> CommandResult:
    """
    C{show crypto pki certificates [<tp>]}.

    @raise CommandError: for an unknown trustpoint.
    """
    names = _trustpointNames(server, identities, phones)
    if trustpoint is not None and trustpoint not in names:
        raise CommandError(f"Trustpoint {trustpoint} is not configured (known: {', '.join(names) or 'none'})")
    blocks, data = [], []
    for entry in _collect(server, identities, phones):
        if trustpoint is not None and trustpoint not in entry.trustpoints:
            continue
        lines, facts = _certificateBlock(entry)
        blocks.append("\n".join(lines))
        data.append(facts)
    return CommandResult("\n\n".join(blocks), data)


def _trustpointNames(server: CertificateServer | None, identities: Sequence[IdentityTrustpoint],
                     phones: Sequence[PhoneTrustpoint]) -> list[str]:
    names = [i.name for i in identities]
    if server is not None:
        names.append(server.name)
    return names + [p.name for p in phones]


# -- export ---------------------------------------------------------------------------------


def renderExport(server: CertificateServer | None, identities: Sequence[IdentityTrustpoint],
                 phones: Sequence[PhoneTrustpoint], trustpoint: str) -> CommandResult:
    """
    C{crypto pki export <tp> pem}: the CA certificate(s) and, for an
    identity trustpoint, its certificate (never the private key).

    @raise CommandError: unknown or not enrolled trustpoint.
    """
    cas: list[x509.Certificate] = []
    own: x509.Certificate | None = None
    for identity in identities:
        if identity.name == trustpoint:
            if identity.certificate is None:
                raise CommandError(f"Trustpoint {trustpoint} is not enrolled")
            own, cas = identity.certificate, list(identity.chain)
            break
    else:
        if server is not None and server.name == trustpoint:
            if not server.started:
                raise CommandError(f"Certificate server {trustpoint} is not enabled")
            cas = [server.caCertificate]
        else:
            for phone in phones:
                if phone.name == trustpoint:
                    cas = list(phone.certificates)
                    break
            else:
                raise CommandError(f"Trustpoint {trustpoint} is not configured")
    lines: list[str] = []
    caPems = [_pem(c) for c in cas]
    for pem in caPems:
        lines += ["% CA certificate:", pem]
    ownPem = _pem(own) if own is not None else None
    if ownPem is not None:
        lines += [f"% {certificateUsage(own)} Certificate:", ownPem]  # type: ignore[arg-type]
    return CommandResult("\n".join(lines), {"trustpoint": trustpoint, "caCertificates": caPems,
                                            "certificate": ownPem})


def _pem(certificate: x509.Certificate) -> str:
    """
    PEM of the certificate's original DER (see L{certificateDer}).
    """
    body = base64.b64encode(certificateDer(certificate)).decode("ascii")
    return "\n".join(["-----BEGIN CERTIFICATE-----", *(body[i:i + 64] for i in range(0, len(body), 64)),
                      "-----END CERTIFICATE-----"])


# -- show crypto pki timers -----------------------------------------------------------------


@attrs.frozen
class PkiTimer:
    """
    One line of C{show crypto pki timers}.

    @ivar section: C{"PKI"} (the trustpoints' timers) or C{"CS"} (the
        certificate server's).
    @ivar name: what fires, as IOS names it (C{CRL UPDATE capf},
        C{RENEW srstca}, C{CS CRL UPDATE}, C{CS CERT EXPIRE}).
    @ivar seconds: the time left.
    """

    section: str
    name: str
    seconds: float


def iosTimeLeft(seconds: float) -> str:
    """
    A time left the way IOS shows timers: C{59.998}, C{8:20.008},
    C{23:59:48.000}, C{3d23:59:48.000}.
    """
    ms = max(0, round(seconds * 1000))
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    if d:
        return f"{d}d{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
    if h:
        return f"{h}:{m:02d}:{s:02d}.{ms:03d}"
    if m:
        return f"{m}:{s:02d}.{ms:03d}"
    return f"{s}.{ms:03d}"


def renderTimers(timers: Sequence[PkiTimer]) -> CommandResult:
    """
    C{show crypto pki timers}: each section (C{PKI Timers}, C{CS Timers})
    with its soonest time first, then every timer, soonest first.
    """
    lines: list[str] = []
    data: dict[str, list[dict[str, Any]]] = {}
    for section in ("PKI", "CS"):
        mine = sorted((t for t in timers if t.section == section), key=lambda t: (t.seconds, t.name))
        if not mine:
            continue
        lines += [f"{section} Timers", f"| {iosTimeLeft(mine[0].seconds):>15}"]
        lines += [f"| {iosTimeLeft(t.seconds):>15}  {t.name}" for t in mine]
        data[section] = [{"name": t.name, "seconds": round(t.seconds, 3)} for t in mine]
    return CommandResult("\n".join(lines), data)


# -- the request database and grant/reject/revoke ------------------------------------------

_RULE = "-" * 62
_HEADER = "ReqID  State      Fingerprint                      SubjectName"


def renderRequests(server: CertificateServer) -> CommandResult:
    """
    C{crypto pki server <name> info requests}.
    """
    requests = server.requests()
    rows = [f"{r.id:<7d}{r.state.value:<11}{r.fingerprint} {r.subject}" for r in requests]
    lines = ["Enrollment Request Database:", "",
             "Subordinate CA certificate requests:", _HEADER, _RULE, "",
             "RA certificate requests:", _HEADER, _RULE, "",
             "Router certificates requests:", _HEADER, _RULE, *rows]
    return CommandResult("\n".join(lines), [_requestData(r) for r in requests])


def _requestData(request: EnrollmentRequest) -> dict[str, Any]:
    return {"id": request.id, "state": request.state.value, "fingerprint": request.fingerprint,
            "subject": request.subject, "dnsNames": list(request.dnsNames),
            "ipAddresses": list(request.ipAddresses), "submitted": request.submitted.isoformat(),
            "serial": request.serial}


def parseSerial(text: str) -> int:
    """
    A serial number as the operator types it: C{0x2} (hex), C{2} (decimal),
    or hex digits such as C{0A}.

    @raise CommandError: if it is not a number.
    """
    try:
        if text.lower().startswith("0x"):
            return int(text[2:], 16)
        if text.isdigit():
            return int(text, 10)
        return int(text, 16)
    except ValueError:
        raise CommandError(f"Invalid serial number {text!r}: expected hex (0x2) or decimal (2)") from None


def _requestIds(server: CertificateServer, text: str) -> list[int]:
    if text.lower() == "all":
        return [r.id for r in server.pendingRequests()]
    try:
        return [int(text, 10)]
    except ValueError:
        raise CommandError(f"Invalid request id {text!r}: expected a number or all") from None


_SERVER_ERRORS = (UnknownRequestError, RequestStateError, RevocationError, CertificateServerError)


def _asCommandError(failure: Failure) -> Failure:
    failure.trap(*_SERVER_ERRORS)
    raise CommandError(str(failure.value))


def registerPkiCommands(
    table: CommandTable,
    server: CertificateServer | None,
    identities: Sequence[IdentityTrustpoint] = (),
    phoneTrustpoints: Sequence[PhoneTrustpoint] = (),
    *,
    runInThread: Callable[..., Deferred[Any]],
    timers: Callable[[], Sequence[PkiTimer]] = lambda: (),
) -> None:
    """
    Register the PKI commands.

    @param table: the admin command table.
    @param server: the certificate server, or C{None} when none is configured.
    @param identities: the router's identity trustpoints.
    @param phoneTrustpoints: the phone CA trustpoints.
    @param runInThread: runs grant/reject/revoke off the reactor thread.
    @param timers: the PKI timers armed now, for C{show crypto pki timers}.
    """
    identities, phones = list(identities), list(phoneTrustpoints)

    def findServer(name: str) -> CertificateServer:
        if server is None or server.name != name:
            configured = server.name if server is not None else "none"
            raise CommandError(f"Certificate server {name} is not configured (configured: {configured})")
        return server

    def showServer(name: str | None = None) -> CommandResult:
        if name is not None:
            return renderServer(findServer(name))
        if server is None:
            return CommandResult("", None)
        return renderServer(server)

    def showRequests(name: str) -> CommandResult:
        return renderRequests(findServer(name))

    def grant(name: str, id: str) -> Deferred[CommandResult]:
        cs = findServer(name)
        ids = _requestIds(cs, id)

        def grantAll() -> CommandResult:
            lines, data = [], []
            for requestId in ids:
                certificate = cs.grant(requestId)
                lines.append(f"% Request {requestId} granted: serial 0x{certificate.serial_number:X}"
                             f" issued to {certificate.subject.rfc4514_string()}")
                data.append({"requestId": requestId, "serial": certificate.serial_number,
                             "subject": certificate.subject.rfc4514_string()})
            return CommandResult("\n".join(lines) or "% No pending requests", data)

        return runInThread(grantAll).addErrback(_asCommandError)

    def reject(name: str, id: str) -> Deferred[CommandResult]:
        cs = findServer(name)
        ids = _requestIds(cs, id)

        def rejectAll() -> CommandResult:
            for requestId in ids:
                cs.reject(requestId)
            text = "\n".join(f"% Request {requestId} rejected" for requestId in ids)
            return CommandResult(text or "% No pending requests", {"rejected": ids})

        return runInThread(rejectAll).addErrback(_asCommandError)

    def revoke(name: str, serial: str) -> Deferred[CommandResult]:
        cs = findServer(name)
        number = parseSerial(serial)

        def doRevoke() -> CommandResult:
            crl = cs.revoke(number)
            nextUpdate = crl.next_update_utc
            return CommandResult(
                f"% Certificate 0x{number:X} revoked; CRL next update {iosTime(nextUpdate)}",  # type: ignore[arg-type]
                {"serial": number, "crlNextUpdate": _iso(nextUpdate)})

        return runInThread(doRevoke).addErrback(_asCommandError)

    def showCertificates(tp: str | None = None) -> CommandResult:
        return renderCertificates(server, identities, phones, tp)

    def export(tp: str) -> CommandResult:
        return renderExport(server, identities, phones, tp)

    table.add("show crypto pki server [<name>]", showServer, "certificate server status")
    table.add("show crypto pki server <name> requests", showRequests, "enrollment request database")
    table.add("crypto pki server <name> info requests", showRequests, "enrollment request database")
    table.add("crypto pki server <name> grant <id>", grant, "grant a pending enrollment request (or all)")
    table.add("crypto pki server <name> reject <id>", reject, "reject a pending enrollment request (or all)")
    table.add("crypto pki server <name> revoke <serial>", revoke, "revoke a certificate (serial 0x2 or 2)")
    table.add("show crypto pki certificates [<tp>]", showCertificates, "certificates of the trustpoints")
    table.add("show crypto pki timers", lambda: renderTimers(timers()), "PKI timers and the time left")
    table.add("crypto pki export <tp> pem", export, "export a trustpoint's certificates (PEM)")
    table.add("crypto pki export <tp> pem terminal", export, "export a trustpoint's certificates (PEM)")
