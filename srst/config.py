# -*- test-case-name: tests.test_config -*-
"""
router.yaml -> frozen, typed configuration objects.

L{load} reads the file, validates every section srst knows, and either
returns a L{RouterConfig} or raises L{ConfigError} listing every problem, one
line each, naming the YAML path, the bad value and what is allowed.  Nothing is
written anywhere before validation passes.

Each section is read by the package that owns it, with a
L{srst.configreader.Reader} on the shared list of problems
(L{srst.pki.config}, L{srst.policing.config}, L{srst.sccp.config},
L{srst.admin.config}, ...); this module walks the document, hands each
section to its owner in order, checks what crosses sections (a trustpoint a
section names must be configured under C{pki:}, C{ccm-manager:} needs
C{mgcp:}) and assembles the L{RouterConfig}.  It reads the top-level keys
(C{hostname}, C{state-dir}) and the C{credentials:} section itself.

Relative paths in the file (C{state-dir}, certificate files, the admin socket)
are relative to the working directory of the process, as in the shipped
C{etc/router.yaml} which is run from the repository root.

The keys mirror the IOS configuration they replace; docs/configuration.md is
the reference.
"""

from __future__ import annotations

import re

from attrs import field, frozen

from srst.configreader import ConfigError, ConfigProblem, Reader, parseDocument
from srst.http.config import HttpServerConfig, readHttpServer
from srst.ipsec.config import CryptoConfig, readCrypto
from srst.media.config import MediaConfig, readMedia
from srst.mgcp.config import CcmManagerConfig, MgcpConfig, readCcmManager, readMgcp
from srst.admin.config import AdminConfig, readAdmin
from srst.pki.config import PkiConfig, readPki
from srst.ports.config import DialPeer, VoicePortConfig, readDialPeers, readVoicePorts
from srst.policing.config import AccessList, ControlPlanePolicy, readAccessLists, readControlPlane
from srst.sccp.config import CallManagerFallbackConfig, readCallManagerFallback

__all__ = [
    "CredentialsConfig",
    "RouterConfig",
    "load",
    "loadString",
]


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
class RouterConfig:
    """
    Everything srst was configured with.

    @ivar source: the file it was read from (for messages).
    @ivar media: the C{media:} section (defaults when absent).
    @ivar mgcp: the C{mgcp:} section, or L{None} when there is no MGCP
        gateway.
    @ivar ccmManager: the C{ccm-manager:} section, or L{None} when absent
        (it needs C{mgcp:}).
    @ivar httpServer: the C{http-server:} section (IOS C{ip http server}),
        or L{None}: no HTTP server.
    @ivar crypto: the C{crypto:} section (IPsec to CallManager), or L{None}:
        no IPsec.
    """

    source: str
    hostname: str
    stateDir: str
    pki: PkiConfig
    credentials: CredentialsConfig | None
    callManagerFallback: CallManagerFallbackConfig | None
    accessLists: dict[int, AccessList] = field(factory=dict)
    controlPlane: ControlPlanePolicy | None = None
    crypto: CryptoConfig | None = None
    admin: AdminConfig = AdminConfig()
    voicePorts: tuple[VoicePortConfig, ...] = ()
    dialPeers: tuple[DialPeer, ...] = ()
    media: MediaConfig = MediaConfig()
    mgcp: MgcpConfig | None = None
    ccmManager: CcmManagerConfig | None = None
    httpServer: HttpServerConfig | None = None


def load(path: str) -> RouterConfig:
    """
    Read and validate the router configuration at C{path}.

    @raise ConfigError: with one problem per line when the file is missing,
        unreadable, not YAML, empty, or has invalid values (see
        L{srst.configreader.parseDocument} for what the YAML itself may not
        hold).
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
    data = parseDocument(text, source)
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
    pki = readPki(root.child("pki"))
    accessLists = readAccessLists(root.child("access-lists"))
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
        controlPlane = readControlPlane(root.child("control-plane"), accessLists)
    else:
        root.raw("control-plane")
    crypto = None
    if root.has("crypto"):
        crypto = readCrypto(root.child("crypto"))
        root.problems.extend(crypto.crossProblems(accessLists))
    else:
        root.raw("crypto")
    admin = readAdmin(root.child("admin"), stateDir or "var")
    voicePorts = readVoicePorts(root.child("voice-ports"))
    dialPeers = readDialPeers(root, "dial-peers", voicePorts)
    media = readMedia(root.child("media"))
    mgcp = readMgcp(root.child("mgcp")) if root.has("mgcp") else None
    root.raw("mgcp")
    httpServer = readHttpServer(root.child("http-server")) if root.has("http-server") else None
    root.raw("http-server")
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
        crypto=crypto,
        admin=admin,
        voicePorts=voicePorts,
        dialPeers=dialPeers,
        media=media,
        mgcp=mgcp,
        ccmManager=ccmManager,
        httpServer=httpServer,
    )


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
