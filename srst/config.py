# -*- test-case-name: tests.test_config -*-
"""
router.yaml -> frozen, typed configuration objects.

L{load} reads the file, validates every section srst knows, and either
returns a L{RouterConfig} or raises L{ConfigError} listing every problem, one
line each, naming the YAML path, the bad value and what is allowed.  Nothing is
written anywhere before validation passes.

Relative paths in the file (C{state-dir}, certificate files, the admin socket)
are relative to the working directory of the process, as in the shipped
C{etc/router.yaml} which is run from the repository root.

The keys mirror the IOS configuration they replace; docs/configuration.md is
the reference.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any

import yaml
from attrs import field, frozen

from srst.configreader import ConfigError, ConfigProblem, Reader
from srst._cmfconfig import CallManagerFallbackConfig, readCallManagerFallback
from srst._mgcpconfig import (
    CcmManagerConfig,
    HostPort,
    MediaConfig,
    MgcpConfig,
    MgcpTimers,
    Switchback,
    SwitchbackMode,
    readCcmManager,
    readMedia,
    readMgcp,
)
from srst.policing import (
    AccessList,
    AccessListEntry,
    ClassMap,
    ControlPlanePolicy,
    Police,
    PolicyClass,
)
from srst.ports.config import DialPeer, VoicePortConfig, readDialPeers, readVoicePorts

__all__ = [
    "CcmManagerConfig",
    "ConfigError",
    "ConfigProblem",
    "HostPort",
    "MediaConfig",
    "MgcpConfig",
    "MgcpTimers",
    "RouterConfig",
    "Switchback",
    "SwitchbackMode",
    "load",
    "loadString",
]

_SUBJECT = re.compile(r"^\s*[A-Za-z][A-Za-z0-9.]*\s*=\s*[^,=]+(\s*,\s*[A-Za-z][A-Za-z0-9.]*\s*=\s*[^,=]+)*\s*$")


@frozen
class KeySpec:
    """
    A key pair to generate (IOS C{rsakeypair}).

    @ivar type: C{"rsa"} or C{"ecdsa"}.
    @ivar bits: RSA modulus size, or 256 for ECDSA P-256.
    """

    type: str = "rsa"
    bits: int = 2048


@frozen
class CertificateServerConfig:
    """
    C{crypto pki server <name>}.
    """

    name: str
    issuerName: str
    databaseLevel: str = "complete"
    grant: str = "auto"
    caDays: int = 1095
    certificateDays: int = 365
    crlHours: int = 168
    keypair: KeySpec = KeySpec()


@frozen
class IdentityTrustpointConfig:
    """
    A trustpoint holding one of the router's own identities (C{srstca}).

    @ivar enrollment: C{"server"} (enroll with the local certificate server
        named by C{server}) or C{"terminal"} (use C{certificateFile} and
        C{keyFile}, optionally C{chainFiles}).
    """

    name: str
    enrollment: str
    server: str | None = None
    certificateFile: str | None = None
    keyFile: str | None = None
    chainFiles: tuple[str, ...] = ()
    subjectName: str | None = None
    keypair: KeySpec = KeySpec()
    revocationCheck: str = "none"


@frozen
class PhoneTrustpointConfig:
    """
    A trustpoint holding only CA certificates that issue phone certificates
    (CAPF for LSCs, the Cisco manufacturing CA for MICs).
    """

    name: str
    certificates: tuple[str, ...]
    revocationCheck: str = "none"


@frozen
class PkiConfig:
    """
    The C{pki:} section.
    """

    server: CertificateServerConfig | None = None
    identities: tuple[IdentityTrustpointConfig, ...] = ()
    phoneTrustpoints: tuple[PhoneTrustpointConfig, ...] = ()

    def identity(self, name: str) -> IdentityTrustpointConfig | None:
        """
        @return: the identity trustpoint called C{name}, if any.
        """
        for identity in self.identities:
            if identity.name == name:
                return identity
        return None


@frozen
class CredentialsConfig:
    """
    C{credentials}: C{ip source-address <ip> port <port>}, C{trustpoint <tp>}.
    """

    ipSourceAddress: str
    port: int = 2445
    trustpoint: str = "srstca"
    tlsProfile: str = "modern"
    handshakeTimeout: int = 10
    idleTimeout: int = 30


@frozen
class AdminConfig:
    """
    The admin socket C{srst-cli} talks to.
    """

    socket: str = "var/srst.sock"


@frozen
class RouterConfig:
    """
    Everything srst was configured with.

    @ivar source: the file it was read from (for messages).
    @ivar media: the C{media:} section (defaults when absent).
    @ivar mgcp: the C{mgcp:} section, or L{None} when there is no MGCP
        gateway.
    @ivar ccmManager: the C{ccm-manager:} section, or L{None} when absent
        (it needs C{mgcp:}).
    """

    source: str
    hostname: str
    stateDir: str
    pki: PkiConfig
    credentials: CredentialsConfig | None
    callManagerFallback: CallManagerFallbackConfig | None
    accessLists: dict[int, AccessList] = field(factory=dict)
    controlPlane: ControlPlanePolicy | None = None
    admin: AdminConfig = AdminConfig()
    voicePorts: tuple[VoicePortConfig, ...] = ()
    dialPeers: tuple[DialPeer, ...] = ()
    media: MediaConfig = MediaConfig()
    mgcp: MgcpConfig | None = None
    ccmManager: CcmManagerConfig | None = None


def load(path: str) -> RouterConfig:
    """
    Read and validate the router configuration at C{path}.

    @raise ConfigError: with one problem per line when the file is missing,
        unreadable, not YAML, or has invalid values.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(path, [ConfigProblem("<file>", path, f"cannot read it: {e.strerror}")])
    except UnicodeDecodeError:
        raise ConfigError(path, [ConfigProblem("<file>", path, "cannot read it: not UTF-8 text")])
    return loadString(text, path)


def loadString(text: str, source: str = "<string>") -> RouterConfig:
    """
    Validate configuration given as YAML text.

    @raise ConfigError: see L{load}.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(source, [ConfigProblem("<yaml>", where, f"YAML syntax error: {problem}")])
    problems: list[ConfigProblem] = []
    root = Reader(data, "", problems)
    config = _readRouter(root, source)
    root.finish()
    if problems:
        raise ConfigError(source, problems)
    return config


_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _readRouter(root: Reader, source: str) -> RouterConfig:
    hostname = root.string("hostname", "Router")
    if hostname and not _HOSTNAME.match(hostname):
        root.problem("hostname", hostname, "expected a host name (letters, digits, hyphens, dots)")
    stateDir = root.string("state-dir", "var")
    pki = _readPki(root.child("pki"))
    accessLists = _readAccessLists(root.child("access-lists"))
    credentials = None
    if root.has("credentials"):
        credentials = _readCredentials(root.child("credentials"), pki)
    else:
        root.raw("credentials")
    cmf = None
    if root.has("call-manager-fallback"):
        cmf = readCallManagerFallback(root.child("call-manager-fallback"), pki.identity,
                                      [tp.name for tp in pki.phoneTrustpoints],
                                      pki.server.name if pki.server is not None else None)
    else:
        root.raw("call-manager-fallback")
    controlPlane = None
    if root.has("control-plane"):
        controlPlane = _readControlPlane(root.child("control-plane"), accessLists)
    else:
        root.raw("control-plane")
    adminReader = root.child("admin")
    admin = AdminConfig(socket=adminReader.string("socket", os.path.join(stateDir or "var", "srst.sock")))
    adminReader.finish()
    voicePorts = readVoicePorts(root.child("voice-ports"))
    dialPeers = readDialPeers(root, "dial-peers", voicePorts)
    media = readMedia(root.child("media"))
    mgcp = readMgcp(root.child("mgcp")) if root.has("mgcp") else None
    root.raw("mgcp")
    ccmManager = None
    if root.has("ccm-manager"):
        ccmManager = readCcmManager(root.child("ccm-manager"))
        if mgcp is None:
            root.problem("ccm-manager", root.raw("ccm-manager"),
                         "ccm-manager needs an mgcp: section (the MGCP gateway it manages)")
    else:
        root.raw("ccm-manager")
    return RouterConfig(
        source=source,
        hostname=hostname or "Router",
        stateDir=stateDir or "var",
        pki=pki,
        credentials=credentials,
        callManagerFallback=cmf,
        accessLists=accessLists,
        controlPlane=controlPlane,
        admin=admin,
        voicePorts=voicePorts,
        dialPeers=dialPeers,
        media=media,
        mgcp=mgcp,
        ccmManager=ccmManager,
    )


def _readKeySpec(reader: Reader) -> KeySpec:
    keyType = reader.string("type", "rsa", choices=["rsa", "ecdsa"])
    if keyType == "ecdsa":
        bits = reader.integer("bits", 256, 256, 256)
    else:
        bits = reader.integer("bits", 2048, 1024, 8192)
    reader.finish()
    return KeySpec(keyType or "rsa", bits or 2048)


def _checkSubject(reader: Reader, key: str, value: str | None) -> None:
    if value is not None and not _SUBJECT.match(value):
        reader.problem(key, value, "expected a distinguished name such as CN=srstcaserver or CN=router,O=Branch")


def _readPki(pki: Reader) -> PkiConfig:
    server = None
    if pki.has("server"):
        s = pki.child("server")
        name = s.string("name", required=True)
        issuer = s.string("issuer-name", f"CN={name}" if name else None)
        _checkSubject(s, "issuer-name", issuer)
        lifetime = s.child("lifetime")
        caDays = lifetime.integer("ca-days", 1095, 1, 7305)
        certDays = lifetime.integer("certificate-days", 365, 1, 7305)
        crlHours = lifetime.integer("crl-hours", 168, 1, 8760)
        lifetime.finish()
        keypair = _readKeySpec(s.child("rsakeypair"))
        server = CertificateServerConfig(
            name=name or "srstcaserver",
            issuerName=issuer or "CN=srstcaserver",
            databaseLevel=s.string("database-level", "complete", choices=["minimal", "names", "complete"]) or "complete",
            grant=s.string("grant", "auto", choices=["auto", "manual"]) or "auto",
            caDays=caDays or 1095,
            certificateDays=certDays or 365,
            crlHours=crlHours or 168,
            keypair=keypair,
        )
        s.finish()
    else:
        pki.raw("server")
    identities = []
    phones = []
    trustpoints = pki.child("trustpoints")
    for name in trustpoints.keys():
        tp = Reader(trustpoints.raw(name), trustpoints.sub(str(name)), trustpoints.problems)
        if tp.has("certificates") and not tp.has("enrollment"):
            files = tp.listOf("certificates", _fileItem(tp))
            if not tp.raw("certificates"):
                tp.problem("certificates", tp.raw("certificates"), "expected a non-empty list of certificate files (PEM or DER)")
            phones.append(PhoneTrustpointConfig(
                str(name), tuple(files),
                tp.string("revocation-check", "none", choices=["none", "crl"]) or "none"))
        else:
            identities.append(_readIdentity(str(name), tp, server))
        tp.finish()
    pki.finish()
    return PkiConfig(server, tuple(identities), tuple(phones))


def _fileItem(reader: Reader):
    def item(value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value:
            reader.problems.append(ConfigProblem(path, value, "expected a file path"))
            return None
        if not os.path.isfile(value):
            reader.problems.append(ConfigProblem(path, value, "expected an existing, readable file"))
            return None
        return value
    return item


def _readIdentity(name: str, tp: Reader, server: CertificateServerConfig | None) -> IdentityTrustpointConfig:
    enrollment = tp.raw("enrollment")
    subject = tp.string("subject-name")
    _checkSubject(tp, "subject-name", subject)
    keypair = _readKeySpec(tp.child("rsakeypair"))
    revocation = tp.string("revocation-check", "none", choices=["none", "crl"]) or "none"
    if enrollment == "terminal":
        files = tp.child("terminal")
        cert = files.string("certificate", required=True)
        key = files.string("key", required=True)
        chain = files.listOf("chain", _fileItem(files))
        for fieldName, value in (("certificate", cert), ("key", key)):
            if value is not None and not os.path.isfile(value):
                files.problem(fieldName, value, "expected an existing, readable file")
        files.finish()
        return IdentityTrustpointConfig(name, "terminal", None, cert, key, tuple(chain), subject, keypair, revocation)
    if isinstance(enrollment, dict):
        e = Reader(enrollment, tp.sub("enrollment"), tp.problems)
        if e.has("url"):
            e.problem("url", e.raw("url"), "SCEP enrollment over HTTP is not supported; use {server: <name>} or terminal")
        serverName = e.string("server", required=not e.has("url"))
        e.finish()
        if serverName is not None and (server is None or server.name != serverName):
            tp.problem("enrollment", enrollment,
                       "expected {server: <name>} naming the certificate server configured under pki.server")
        return IdentityTrustpointConfig(name, "server", serverName, None, None, (), subject, keypair, revocation)
    tp.problem("enrollment", enrollment,
               "expected {server: <name>} or terminal (identity trustpoint), or a certificates: list (phone CA trustpoint)")
    return IdentityTrustpointConfig(name, "server", None, None, None, (), subject, keypair, revocation)


def _readCredentials(c: Reader, pki: PkiConfig) -> CredentialsConfig:
    address = c.address("ip-source-address", required=True)
    port = c.port("port", 2445)
    trustpoint = c.string("trustpoint", "srstca")
    if trustpoint is not None and pki.identity(trustpoint) is None:
        c.problem("trustpoint", trustpoint, "expected the name of an identity trustpoint under pki.trustpoints")
    config = CredentialsConfig(
        ipSourceAddress=address or "127.0.0.1",
        port=port if port is not None else 2445,
        trustpoint=trustpoint or "srstca",
        tlsProfile=c.string("tls-profile", "modern", choices=["modern", "legacy"]) or "modern",
        handshakeTimeout=c.integer("handshake-timeout", 10, 1, 300) or 10,
        idleTimeout=c.integer("idle-timeout", 30, 1, 3600) or 30,
    )
    c.finish()
    return config


def _readSource(value: Any, path: str, problems: list[ConfigProblem]):
    if value == "any":
        return None
    if isinstance(value, str):
        text = value[5:].strip() if value.startswith("host ") else value
        try:
            return ipaddress.ip_network(text, strict=True)
        except ValueError:
            pass
    problems.append(ConfigProblem(path, value, "expected any, an address (10.1.1.11) or a prefix (10.1.1.0/24)"))
    return None


def _readAccessLists(lists: Reader) -> dict[int, AccessList]:
    result: dict[int, AccessList] = {}
    for number in lists.keys():
        path = lists.sub(str(number))
        try:
            n = int(number)
        except (TypeError, ValueError):
            n = -1
        if not 1 <= n <= 2699:
            lists.problem(str(number), number, "expected an access-list number from 1 to 2699")
            continue

        def entry(value: Any, entryPath: str) -> AccessListEntry | None:
            e = Reader(value, entryPath, lists.problems)
            if not isinstance(value, dict):
                return None
            action = e.string("action", required=True, choices=["permit", "deny"])
            protocol = e.string("protocol", "ip", choices=["ip", "tcp", "udp"])
            sourcePath = e.sub("source")
            sourceRaw = e.raw("source", "any")
            source = _readSource(sourceRaw, sourcePath, lists.problems)
            port = e.integer("port", None, 1, 65535)
            if port is not None and protocol == "ip":
                e.problem("port", port, "a port needs protocol tcp or udp")
            e.finish()
            if action is None:
                return None
            return AccessListEntry(action=action, protocol=protocol or "ip", source=source, port=port)

        raw = lists.raw(number)
        if not isinstance(raw, list):
            lists.problem(str(number), raw, "expected a list of entries {action, protocol, source, port}")
            continue
        entries = [e for e in (entry(value, f"{path}[{i}]") for i, value in enumerate(raw)) if e is not None]
        result[n] = AccessList(number=n, entries=tuple(entries))
    return result


def _readPolice(p: Reader) -> Police | None:
    rate = p.integer("rate-bps", required=True, minimum=8000, maximum=2000000000)
    normal = p.integer("normal-burst", 1500, 1000, 512000000)
    maxBurst = p.integer("max-burst", normal or 1500, 1000, 512000000)
    conform = p.string("conform-action", "transmit", choices=["transmit", "drop"])
    exceed = p.string("exceed-action", "drop", choices=["transmit", "drop"])
    p.finish()
    if rate is None:
        return None
    return Police(rateBps=rate, normalBurst=normal or 1500, maxBurst=maxBurst or 1500,
                  conformAction=conform or "transmit", exceedAction=exceed or "drop")


def _readControlPlane(cp: Reader, accessLists: dict[int, AccessList]) -> ControlPlanePolicy | None:
    classMaps: dict[str, ClassMap] = {}
    maps = cp.child("class-maps")
    for name in maps.keys():
        m = Reader(maps.raw(name), maps.sub(str(name)), maps.problems)
        group = m.integer("match-access-group", required=True, minimum=1, maximum=2699)
        m.finish()
        if group is None:
            continue
        if group not in accessLists:
            m.problem("match-access-group", group, "expected the number of an access list under access-lists")
            continue
        classMaps[str(name)] = ClassMap(name=str(name), accessList=accessLists[group])
    policy = cp.child("service-policy")
    policyName = policy.string("name", "control-plane-policy")
    classes = []

    def policyClass(value: Any, path: str) -> PolicyClass | None:
        c = Reader(value, path, cp.problems)
        if not isinstance(value, dict):
            return None
        name = c.string("class", required=True)
        if name is not None and name not in classMaps:
            c.problem("class", name, "expected the name of a class map under control-plane.class-maps")
            name = None
        police = _readPolice(c.child("police")) if c.has("police") else None
        if not c.has("police"):
            c.problem("police", None, "required; a police {rate-bps, normal-burst, max-burst, conform-action, exceed-action}")
        c.finish()
        if name is None or police is None:
            return None
        return PolicyClass(classMap=classMaps[name], police=police)

    classes = policy.listOf("input", policyClass)
    policy.finish()
    cp.finish()
    return ControlPlanePolicy(name=policyName or "control-plane-policy", classes=tuple(classes))
