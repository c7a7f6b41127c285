# -*- test-case-name: tests.test_pki_iosconfig -*-
"""
The C{pki:} section as IOS commands, and back: C{crypto pki server},
C{crypto pki trustpoint}, C{crypto pki certificate chain}.

L{runningConfig} prints what C{show running-config} shows for the section:
the certificate server, the router's identity trustpoints, the server's own
trustpoint (as IOS creates it), the phone CA trustpoints (C{enrollment
terminal}), then the trustpoints' certificates as IOS hex blocks.  Private
keys are never printed (IOS keeps them out of the configuration too), and
neither is a SCEP challenge C{password} (srst prints nothing for it).

L{importIos} reads those commands into the C{pki:} keys.  A phone
trustpoint's C{certificate ca} blocks become a PEM file (written by the
caller from the C{files} map) that C{certificates:} names; the chains of the
router's own identities and of the certificate server are not imported:
their private keys are not in an IOS configuration, so srst enrolls its own.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from attrs import frozen

from srst.iostext import ImportNotes, IosLine, indent
from srst.pki._x509 import certificateFromDer, rawSerial
from srst.pki.config import IdentityTrustpointConfig, KeySpec, PhoneTrustpointConfig, PkiConfig

__all__ = [
    "ChainCertificate",
    "certificateBlock",
    "importIos",
    "runningConfig",
]

HEX_WORDS_PER_LINE = 8
"""IOS prints a certificate as 8 words of 4 bytes per line."""

_DEFAULT_KEY = KeySpec()


@frozen
class ChainCertificate:
    """
    One certificate of a trustpoint, for its C{crypto pki certificate chain}
    block.

    @ivar der: the certificate's DER bytes (exactly as issued).
    @ivar isCA: C{True} for a C{certificate ca} block.
    """

    der: bytes
    isCA: bool


def certificateBlock(certificate: ChainCertificate) -> list[str]:
    """
    @return: the lines of one C{certificate [ca] <serial>} block (relative
        to the chain), hex words and C{quit} one level deeper.
    """
    serial = rawSerial(certificate.der).hex().upper()
    digits = certificate.der.hex().upper()
    words = [digits[i:i + 8] for i in range(0, len(digits), 8)]
    body = [" ".join(words[i:i + HEX_WORDS_PER_LINE]) for i in range(0, len(words), HEX_WORDS_PER_LINE)]
    head = f"certificate ca {serial}" if certificate.isCA else f"certificate {serial}"
    return indent(head, body + ["quit"])


def _keyLine(name: str, key: KeySpec) -> list[str]:
    if key.type == "ecdsa":
        return [f"eckeypair {name}"]
    if key == _DEFAULT_KEY:
        return []
    return [f"rsakeypair {name} {key.bits}"]


def _identityLines(tp: IdentityTrustpointConfig, localEnrollmentUrl: str) -> list[str]:
    body: list[str] = []
    if tp.enrollment == "server":
        body.append(f"enrollment url {localEnrollmentUrl}")
    elif tp.enrollment == "url":
        body.append(f"enrollment url {tp.url}")
    else:
        body.append("enrollment terminal")
    if tp.fingerprint is not None:
        body.append(f"fingerprint {tp.fingerprint}")
    if tp.subjectName is not None:
        body.append(f"subject-name {tp.subjectName}")
    body.append(f"revocation-check {tp.revocationCheck}")
    body += _keyLine(tp.name, tp.keypair)
    if tp.enrollment == "url":
        if tp.retryPeriod != 1:
            body.append(f"enrollment retry period {tp.retryPeriod}")
        if tp.retryCount != 10:
            body.append(f"enrollment retry count {tp.retryCount}")
    if tp.autoEnroll == 100:
        body.append("auto-enroll")  # IOS: without a percentage, at expiry
    elif tp.autoEnroll is not None:
        body.append(f"auto-enroll {tp.autoEnroll}")
    return indent(f"crypto pki trustpoint {tp.name}", body) + ["!"]


def _phoneLines(tp: PhoneTrustpointConfig) -> list[str]:
    body = ["enrollment terminal", "revocation-check " + " ".join(tp.revocationCheck)]
    if tp.crl is not None and tp.crl.url is not None:
        body.append(f"crl query {tp.crl.url}")
    if tp.crl is not None and tp.crl.cacheDeleteAfterMinutes is not None:
        body.append(f"crl cache delete-after {tp.crl.cacheDeleteAfterMinutes}")
    return indent(f"crypto pki trustpoint {tp.name}", body) + ["!"]


def runningConfig(pki: PkiConfig, *, localEnrollmentUrl: str = "http://127.0.0.1:80",
                  chains: Mapping[str, Sequence[ChainCertificate]] = {}) -> list[str]:
    """
    The section's IOS lines.

    @param pki: the C{pki:} section.
    @param localEnrollmentUrl: the URL IOS would name for enrollment with the
        router's own certificate server (C{enrollment {server: ...}}): its
        HTTP server.
    @param chains: each trustpoint's certificates, router certificate
        first; a trustpoint without any has no chain block (not enrolled
        yet).
    @return: the lines (nothing for an empty section).
    """
    lines: list[str] = []
    server = pki.server
    if server is not None:
        body = []
        if server.databaseLevel != "minimal":
            body.append(f"database level {server.databaseLevel}")
        body.append(f"issuer-name {server.issuerName}")
        if server.grant == "auto":
            body.append("grant auto")
        if server.crlHours != 168:
            body.append(f"lifetime crl {server.crlHours}")
        if server.certificateDays != 365:
            body.append(f"lifetime certificate {server.certificateDays}")
        if server.caDays != 1095:
            body.append(f"lifetime ca-certificate {server.caDays}")
        if server.cdpUrl is not None:
            body.append(f"cdp-url {server.cdpUrl}")
        lines += indent(f"crypto pki server {server.name}", body) + ["!"]
    for identity in pki.identities:
        lines += _identityLines(identity, localEnrollmentUrl)
    if server is not None:
        body = ["revocation-check none"]
        if server.keypair.type == "ecdsa":
            body.append(f"eckeypair {server.name}")
        elif server.keypair == _DEFAULT_KEY:
            body.append(f"rsakeypair {server.name}")
        else:
            body.append(f"rsakeypair {server.name} {server.keypair.bits}")
        lines += indent(f"crypto pki trustpoint {server.name}", body) + ["!"]
    for phone in pki.phoneTrustpoints:
        lines += _phoneLines(phone)
    names = [tp.name for tp in pki.identities]
    names += [server.name] if server is not None else []
    names += [tp.name for tp in pki.phoneTrustpoints]
    printed = False
    for name in names:
        certificates = chains.get(name, ())
        if not certificates:
            continue
        body = []
        for certificate in certificates:
            body += certificateBlock(certificate)
        lines += indent(f"crypto pki certificate chain {name}", body)
        printed = True
    if printed:
        lines.append("!")
    return lines


# -- import -------------------------------------------------------------------------

SERVER_CHAIN = ("srst's certificate server makes its own CA key and certificate in state-dir"
                " (the IOS CA's private key is not in the configuration)")
IDENTITY_CHAIN = ("needs the private key: srst enrolls this trustpoint itself at start-up"
                  " (the IOS router's key is not in the configuration)")
NOT_CA = "needs the private key: a trustpoint entered by terminal with the router's own certificate"


def _routerAddresses(lines: Sequence[IosLine]) -> set[str]:
    found = set()
    for line in lines:
        if line.startswith("interface"):
            for child in line.children:
                words = child.words
                if child.startswith("ip", "address") and len(words) >= 3:
                    found.add(words[2])
    return found


def _isLocal(url: str, addresses: set[str]) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host in addresses or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _chainCertificates(chain: IosLine, notes: ImportNotes) -> list[ChainCertificate] | None:
    """
    Read a chain's C{certificate} blocks; C{None} (and the tree skipped)
    if one is unusable.
    """
    found = []
    for block in chain.children:
        words = block.words
        isCA = block.startswith("certificate", "ca") and len(words) == 3
        if not (isCA or (block.startswith("certificate") and len(words) == 2)):
            notes.skipTree(chain, f"{block.text!r} is not a certificate block")
            return None
        serial = words[-1].upper()
        hexLines = [c.text for c in block.children]
        if not hexLines or hexLines[-1].lower() != "quit":
            notes.skipTree(chain, f"certificate {serial} is not terminated by quit")
            return None
        try:
            der = binascii.unhexlify("".join("".join(hexLines[:-1]).split()))
            certificateFromDer(der)
            actual = rawSerial(der).hex().upper()
        except (binascii.Error, ValueError) as e:
            notes.skipTree(chain, f"certificate {serial} is not a DER certificate ({e})")
            return None
        if actual != serial:
            notes.skipTree(chain, f"certificate {serial}: the certificate's serial is {actual}")
            return None
        found.append(ChainCertificate(der, isCA))
    return found


def pemOf(certificates: Sequence[ChainCertificate]) -> bytes:
    """
    @return: the certificates as PEM blocks of their exact DER bytes.
    """
    out = []
    for certificate in certificates:
        text = base64.b64encode(certificate.der).decode("ascii")
        out.append("-----BEGIN CERTIFICATE-----\n"
                   + "".join(text[i:i + 64] + "\n" for i in range(0, len(text), 64))
                   + "-----END CERTIFICATE-----\n")
    return "".join(out).encode("ascii")


def _readKeyLine(line: IosLine, name: str, notes: ImportNotes) -> dict[str, Any] | None:
    words = line.words
    if line.startswith("eckeypair") and len(words) == 2 and words[1] == name:
        return {"type": "ecdsa", "bits": 256}
    if line.startswith("rsakeypair") and len(words) in (2, 3) and words[1] == name:
        if len(words) == 2:
            return {}
        if words[2].isdigit() and 1024 <= int(words[2]) <= 8192:
            return {"type": "rsa", "bits": int(words[2])}
        notes.skip(line, "srst generates RSA keys of 1024 to 8192 bits")
        return None
    notes.skip(line, f"srst names each trustpoint's key after the trustpoint ({name}); the label is not kept")
    return None


def importIos(lines: Sequence[IosLine], document: dict[str, Any], notes: ImportNotes, *,
              certificateDirectory: str = "", files: dict[str, bytes] | None = None) -> list[IosLine]:
    """
    Take the C{crypto pki server}, C{crypto pki trustpoint} and C{crypto pki
    certificate chain} commands into C{document["pki"]}.

    @param certificateDirectory: where phone trustpoints' certificate files
        are written (the path the YAML names them by).
    @param files: filled with the files to write: path -> bytes.
    @return: the lines not claimed.
    """
    if files is None:
        files = {}
    addresses = _routerAddresses(lines)
    servers = [line for line in lines if line.startswith("crypto", "pki", "server") and len(line.words) == 4]
    trustpoints = {line.words[3]: line for line in lines
                   if line.startswith("crypto", "pki", "trustpoint") and len(line.words) == 4}
    chains = {line.words[4]: line for line in lines
              if line.startswith("crypto", "pki", "certificate", "chain") and len(line.words) == 5}
    claimed = set(servers) | set(trustpoints.values()) | set(chains.values())
    rest = [line for line in lines if line not in claimed]
    if not claimed:
        return rest
    pki: dict[str, Any] = {}
    serverName = None
    if servers:
        for extra in servers[1:]:
            notes.skipTree(extra, "srst runs one certificate server")
        serverName = servers[0].words[3]
        pki["server"] = _importServer(servers[0], trustpoints.get(serverName), notes)
    out: dict[str, Any] = {}
    for name, line in trustpoints.items():
        if name == serverName:
            continue
        entry = _importTrustpoint(line, chains.get(name), serverName, addresses, notes,
                                  certificateDirectory, files)
        if entry is not None:
            out[name] = entry
    for name, chain in chains.items():
        if name == serverName:
            notes.skipTree(chain, SERVER_CHAIN)
        elif name not in trustpoints:
            notes.skipTree(chain, f"no crypto pki trustpoint {name} in the configuration")
    if out:
        pki["trustpoints"] = out
    if pki:
        document["pki"] = pki
    return rest


def _importServer(line: IosLine, trustpoint: IosLine | None, notes: ImportNotes) -> dict[str, Any]:
    name = line.words[3]
    server: dict[str, Any] = {"name": name}
    level = "minimal"
    grant = "manual"
    lifetime: dict[str, int] = {}
    cdp = None
    for child in line.children:
        words = child.words
        if child.startswith("database", "level") and len(words) == 3 and words[2] in ("minimal", "names", "complete"):
            level = words[2]
        elif child.startswith("database", "url"):
            notes.skip(child, "srst keeps the CA database in state-dir (pki/server/<name>)")
        elif child.startswith("issuer-name") and len(words) >= 2:
            server["issuer-name"] = child.text.split(None, 1)[1]
        elif child.startswith("grant", "auto") and len(words) == 2:
            grant = "auto"
        elif child.startswith("no", "grant") or child.startswith("no", "shutdown"):
            pass
        elif child.startswith("lifetime") and len(words) == 3 and words[2].isdigit() and words[1] in (
                "crl", "certificate", "ca-certificate"):
            key = {"crl": "crl-hours", "certificate": "certificate-days", "ca-certificate": "ca-days"}[words[1]]
            lifetime[key] = int(words[2])
        elif child.startswith("cdp-url") and len(words) == 2:
            cdp = words[1]
        elif child.startswith("shutdown"):
            notes.skip(child, "srst's certificate server runs whenever it is configured")
        else:
            notes.skip(child, "srst's certificate server has no such setting")
    server["database-level"] = level
    server["grant"] = grant
    if lifetime:
        server["lifetime"] = {k: lifetime[k] for k in ("ca-days", "certificate-days", "crl-hours") if k in lifetime}
    if cdp is not None:
        server["cdp-url"] = cdp
    if trustpoint is not None:
        for child in trustpoint.children:
            if child.startswith("revocation-check", "none") and len(child.words) == 2:
                continue
            if child.startswith("rsakeypair") or child.startswith("eckeypair"):
                key = _readKeyLine(child, name, notes)
                if key:
                    server["rsakeypair"] = key
                continue
            notes.skip(child, "the certificate server's own trustpoint: srst sets nothing else on it")
    return server


def _importTrustpoint(line: IosLine, chain: IosLine | None, serverName: str | None, addresses: set[str],
                      notes: ImportNotes, directory: str, files: dict[str, bytes]) -> dict[str, Any] | None:
    name = line.words[3]
    methods = [child for child in line.children if child.startswith("enrollment")]
    usable = [child for child in methods if child.startswith("enrollment", "terminal") and len(child.words) == 2
              or child.startswith("enrollment", "url") and len(child.words) == 3]
    if any(child.startswith("enrollment", "selfsigned") for child in methods):
        reason = "srst has no self-signed identity: enroll with the certificate server (enrollment url) instead"
    elif not usable:
        reason = "no enrollment method (srst needs enrollment url or enrollment terminal)"
    else:
        reason = ""
    if reason:
        notes.skipTree(line, reason)
        if chain is not None:
            notes.skipTree(chain, "its trustpoint is not imported")
        return None
    enrollment: dict[str, Any] = {}
    terminal = False
    entry: dict[str, Any] = {}
    revocation: list[str] = ["none"]
    revocationLine: IosLine | None = None
    key: dict[str, Any] | None = None
    crl: dict[str, Any] = {}
    crlLines: list[IosLine] = []
    urlOnly: list[tuple[IosLine, str, Any]] = []
    for child in line.children:
        words = child.words
        if child.startswith("enrollment", "url") and len(words) == 3:
            url = words[2]
            if serverName is not None and _isLocal(url, addresses):
                enrollment = {"server": serverName}
            else:
                enrollment = {"url": url}
        elif child.startswith("enrollment", "terminal") and len(words) == 2:
            terminal = True
        elif child.startswith("subject-name") and len(words) >= 2:
            entry["subject-name"] = child.text.split(None, 1)[1]
        elif child.startswith("revocation-check") and len(words) >= 2:
            revocation = [w.lower() for w in words[1:]]
            revocationLine = child
        elif child.startswith("rsakeypair") or child.startswith("eckeypair"):
            key = _readKeyLine(child, name, notes)
        elif child.startswith("fingerprint") and len(words) == 2:
            urlOnly.append((child, "fingerprint", words[1]))
        elif child.startswith("auto-enroll") and len(words) == 2 and words[1].isdigit():
            urlOnly.append((child, "auto-enroll", int(words[1])))
        elif child.startswith("auto-enroll") and len(words) == 1:
            urlOnly.append((child, "auto-enroll", True))
        elif (child.startswith("enrollment", "retry", "period") and len(words) == 4 and words[3].isdigit()
              and 1 <= int(words[3]) <= 60):
            urlOnly.append((child, "retry.period", int(words[3])))
        elif (child.startswith("enrollment", "retry", "count") and len(words) == 4 and words[3].isdigit()
              and int(words[3]) <= 100):
            urlOnly.append((child, "retry.count", int(words[3])))
        elif child.startswith("password") and len(words) == 2:
            urlOnly.append((child, "password", words[1]))
        elif child.startswith("password") and len(words) == 3:
            notes.skip(child, "an encrypted password: set enrollment.password to the challenge password by hand")
        elif child.startswith("crl", "query") and len(words) == 3:
            crl["url"] = words[2]
            crlLines.append(child)
        elif child.startswith("crl", "cache", "delete-after") and len(words) == 4 and words[3].isdigit():
            crl["cache-delete-after"] = int(words[3])
            crlLines.append(child)
        else:
            notes.skip(child, "srst trustpoints have no such setting")
    if terminal:
        return _importTerminal(line, chain, revocation, revocationLine, crl, notes, directory, files)
    if chain is not None:
        notes.skipTree(chain, IDENTITY_CHAIN)
    entry = {"enrollment": enrollment, **entry}
    for child, field, value in urlOnly:
        if "url" in enrollment and field.startswith("retry."):
            enrollment.setdefault("retry", {})[field.split(".")[1]] = value
        elif "url" in enrollment:
            enrollment[field] = value
        else:
            notes.skip(child, "only for enrollment with a remote certificate server (enrollment url)")
    if key:
        entry["rsakeypair"] = key
    if revocation in (["none"], ["crl"]):
        entry["revocation-check"] = revocation[0]
    else:
        assert revocationLine is not None
        notes.skip(revocationLine, "an identity trustpoint checks revocation-check none or crl")
        entry["revocation-check"] = "none"
    for child in crlLines:
        notes.skip(child, "srst checks CRLs only for phone (enrollment terminal) trustpoints")
    return entry


def _importTerminal(line: IosLine, chain: IosLine | None, revocation: list[str], revocationLine: IosLine | None,
                    crl: dict[str, Any], notes: ImportNotes, directory: str,
                    files: dict[str, bytes]) -> dict[str, Any] | None:
    name = line.words[3]
    if chain is None:
        notes.skip(line, "enrollment terminal without a crypto pki certificate chain: no certificates to trust")
        return None
    certificates = _chainCertificates(chain, notes)
    if certificates is None:
        notes.skip(line, "its certificate chain is not usable")
        return None
    if not all(c.isCA for c in certificates):
        notes.skipTree(chain, NOT_CA)
        notes.skip(line, NOT_CA)
        return None
    path = os.path.join(directory, f"{name}.pem")
    files[path] = pemOf(certificates)
    entry: dict[str, Any] = {"certificates": [path]}
    if revocation == ["none"]:
        entry["revocation-check"] = "none"
        if crl:
            entry["crl"] = crl
    elif revocation[0] == "crl" and not crl and revocationLine is not None:
        notes.skip(revocationLine, "srst needs the CRL's location (crl query <url>): the trustpoint is imported"
                                   " without revocation checking")
    elif revocation in (["crl"], ["crl", "none"]):
        entry["revocation-check"] = revocation if len(revocation) > 1 else "crl"
        entry["crl"] = crl
    elif revocationLine is not None:
        notes.skip(revocationLine, "srst checks revocation-check none, crl or crl none")
    return entry
