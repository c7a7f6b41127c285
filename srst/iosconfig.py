# -*- test-case-name: tests.test_iosconfig -*-
"""
The whole router configuration as IOS text, and IOS text as router.yaml.

L{renderRunningConfig} is C{show running-config}: each package renders its
own section (C{srst.<pkg>.iosconfig.runningConfig}) and this module puts them
in IOS order, with the top-level commands srst reads itself (C{hostname},
C{credentials}) and, last, the keys IOS has no command for as comments
(C{! srst: state-dir var}) -- never as made-up IOS commands.

L{importIosConfig} is C{srst-config import-ios}: the text's top-level
commands go through every package's C{importIos} in order, each taking the
commands it owns into the YAML document and listing the lines it cannot
take; what no package claims is listed as not imported, with the reason.

This module sits beside L{srst.config} (it reads L{RouterConfig}) and, like
it, imports only config and sans-IO modules.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable, Mapping, Sequence

from srst.config import CredentialsConfig, RouterConfig
from srst.http import iosconfig as httpios
from srst.iostext import ImportNotes, IosLine, Skipped, indent, readIosConfig
from srst.ipsec import iosconfig as ipsecios
from srst.mgcp import iosconfig as mgcpios
from srst.mgcp.constants import GATEWAY_PORT
from srst.pki import iosconfig as pkiios
from srst.pki.iosconfig import ChainCertificate
from srst.policing import iosconfig as policingios
from srst.ports import iosconfig as portsios
from srst.sccp import iosconfig as sccpios

__all__ = [
    "ChainCertificate",
    "DOCUMENT_ORDER",
    "importIosConfig",
    "mapAddresses",
    "renderRunningConfig",
]

DOCUMENT_ORDER = (
    "hostname", "state-dir", "pki", "credentials", "http-server", "call-manager-fallback", "media", "mgcp",
    "ccm-manager", "voice-ports", "dial-peers", "access-lists", "control-plane", "crypto", "admin",
)
"""The key order of etc/router.yaml, which an imported document follows."""


# -- show running-config ------------------------------------------------------------

def credentialsRunningConfig(credentials: CredentialsConfig | None) -> list[str]:
    """
    @return: the C{credentials} mode (nothing without the section).
    """
    if credentials is None:
        return []
    return indent("credentials", [
        f"ip source-address {credentials.ipSourceAddress} port {credentials.port}",
        f"trustpoint {credentials.trustpoint}",
    ]) + ["!"]


def _localEnrollmentUrl(config: RouterConfig) -> str:
    """
    The URL IOS names for enrollment with the router's own certificate
    server: its HTTP server, at an address the router owns.
    """
    port = config.httpServer.port if config.httpServer is not None else httpios.IOS_PORT
    address = config.httpServer.address if config.httpServer is not None else "0.0.0.0"
    if ipaddress.ip_address(address).is_unspecified:
        for section in (config.credentials, config.callManagerFallback):
            if section is not None:
                address = section.ipSourceAddress
                break
        else:
            address = "127.0.0.1"
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


def _srstComments(config: RouterConfig) -> list[str]:
    lines = [f"state-dir {config.stateDir}", f"admin socket {config.admin.socket}"]
    media = config.media
    unreachable = "null" if media.unreachableMs is None else media.unreachableMs
    lines.append(f"media address {media.address} rtp-port-range {media.rtpPortRange}"
                 f" rtp-unreachable-ms {unreachable}")
    if config.httpServer is not None:
        lines.append(f"http-server address {config.httpServer.address}")
    credentials = config.credentials
    if credentials is not None:
        lines.append(f"credentials tls-profile {credentials.tlsProfile} handshake-timeout"
                     f" {credentials.handshakeTimeout} idle-timeout {credentials.idleTimeout}")
    for identity in config.pki.identities:
        if identity.enrollment == "terminal":
            files = f"certificate {identity.certificateFile} key {identity.keyFile}"
            if identity.chainFiles:
                files += " chain " + " ".join(identity.chainFiles)
            lines.append(f"pki trustpoint {identity.name} terminal {files}")
    for phone in config.pki.phoneTrustpoints:
        lines.append(f"pki trustpoint {phone.name} certificates {' '.join(phone.certificates)}")
        if phone.crl is not None and phone.crl.file is not None:
            lines.append(f"pki trustpoint {phone.name} crl file {phone.crl.file}")
    return [f"! srst: {line}" for line in lines] + httpios.srstOnly(config.httpServer) + ["!"]


def _pkiSection(config: RouterConfig, chains: Mapping[str, Sequence[ChainCertificate]]) -> list[str]:
    return pkiios.runningConfig(config.pki, localEnrollmentUrl=_localEnrollmentUrl(config), chains=chains)


def _trustpointNames(config: RouterConfig) -> list[str]:
    return [phone.name for phone in config.pki.phoneTrustpoints]


def _credentialsTrustpoint(config: RouterConfig) -> str | None:
    return config.credentials.trustpoint if config.credentials is not None else None


def _fallbackSection(config: RouterConfig) -> list[str]:
    return sccpios.runningConfig(config.callManagerFallback, _credentialsTrustpoint(config),
                                 _trustpointNames(config))


def _comments(config: RouterConfig) -> list[str]:
    srstOnly = (mgcpios.srstOnly(config.mgcp, config.ccmManager)
                + sccpios.srstOnly(config.callManagerFallback, _credentialsTrustpoint(config),
                                   _trustpointNames(config))
                + ipsecios.srstOnly(config.crypto))
    return srstOnly + _srstComments(config)


# The sections in IOS order, each a function of the RouterConfig: the
# security sections (crypto pki, isakmp, ipsec, map), then the voice ones (call application, voice-port,
# ccm-manager and mgcp, dial-peer), credentials, call-manager-fallback, and
# last the keys IOS has no command for.
def _sections(chains: Mapping[str, Sequence[ChainCertificate]]) -> list[Callable[[RouterConfig], list[str]]]:
    return [
        lambda config: ["!", f"hostname {config.hostname}", "!"],
        lambda config: _pkiSection(config, chains),
        lambda config: ipsecios.runningConfig(config.crypto),
        lambda config: httpios.runningConfig(config.httpServer),
        lambda config: policingios.runningConfig(config.accessLists, config.controlPlane),
        lambda config: mgcpios.callApplicationConfig(config.ccmManager),
        lambda config: portsios.voicePortsConfig(config.voicePorts),
        lambda config: mgcpios.runningConfig(config.mgcp, config.ccmManager),
        lambda config: portsios.dialPeersConfig(config.dialPeers),
        lambda config: credentialsRunningConfig(config.credentials),
        _fallbackSection,
        _comments,
    ]


def renderRunningConfig(config: RouterConfig, *,
                        chains: Mapping[str, Sequence[ChainCertificate]] = {}) -> str:
    """
    The configuration as IOS C{show running-config} text.

    @param config: the loaded configuration.
    @param chains: the trustpoints' certificates (the running router's), by
        trustpoint name, for the C{crypto pki certificate chain} blocks.
    @return: the text, lines ending in newlines, C{end} last.
    """
    lines: list[str] = []
    for section in _sections(chains):
        lines += section(config)
    lines.append("end")
    return "".join(line + "\n" for line in lines)


# -- import-ios ---------------------------------------------------------------------

_ADDRESS_TOKEN = r"(?<![0-9A-Za-z.:]){}(?![0-9A-Za-z.]|:[0-9A-Fa-f]*:)"


def mapAddresses(text: str, mapping: Mapping[str, str]) -> str:
    """
    Rewrite IP addresses in IOS text: each C{old} address, as a whole token
    (C{10.1.1.22} but not C{10.1.1.220}; C{http://10.1.1.22:80} included),
    becomes C{new}.

    @param mapping: old address -> new address (both IP address literals).
    @raise ValueError: if one is not an IP address.
    """
    for old, new in mapping.items():
        ipaddress.ip_address(old)
        ipaddress.ip_address(new)
    if not mapping:
        return text
    pattern = re.compile("|".join(_ADDRESS_TOKEN.format(re.escape(old)) for old in mapping))
    return pattern.sub(lambda m: mapping[m.group(0)], text)


def _firstInterfaceAddress(lines: Sequence[IosLine]) -> str | None:
    for line in lines:
        if line.startswith("interface"):
            for child in line.children:
                words = child.words
                if child.startswith("ip", "address") and len(words) >= 3:
                    try:
                        ipaddress.ip_address(words[2])
                    except ValueError:
                        continue
                    return words[2]
    return None


def _importTopLevel(lines: Sequence[IosLine], document: dict[str, Any], notes: ImportNotes) -> list[IosLine]:
    rest = []
    for line in lines:
        words = line.words
        if line.startswith("hostname") and len(words) == 2:
            document["hostname"] = words[1]
        elif line.startswith("credentials") and len(words) == 1:
            section = _importCredentials(line, notes)
            if section is not None:
                document["credentials"] = section
        else:
            rest.append(line)
    return rest


def _importCredentials(line: IosLine, notes: ImportNotes) -> dict[str, Any] | None:
    section: dict[str, Any] = {}
    for child in line.children:
        words = child.words
        if child.startswith("ip", "source-address") and len(words) in (3, 5) and (
                len(words) == 3 or words[3] == "port" and words[4].isdigit()):
            section["ip-source-address"] = words[2]
            section["port"] = int(words[4]) if len(words) == 5 else 2445
        elif child.startswith("trustpoint") and len(words) == 2:
            section["trustpoint"] = words[1]
        else:
            notes.skipTree(child, "srst's credentials service has no such setting")
    if "ip-source-address" not in section:
        notes.skip(line, "credentials needs ip source-address <address> [port <port>]")
        for child in line.children:
            if child.startswith("trustpoint"):
                notes.skip(child, "its credentials block is not imported")
        return None
    return {k: section[k] for k in ("ip-source-address", "port", "trustpoint") if k in section}


INTERFACE = ("addresses are the host's; srst binds the addresses in credentials, call-manager-fallback,"
             " media and http-server")
ROUTING = "routing is the host's: srst does not route"
NO_EQUIVALENT = "no srst equivalent"
BANNER = "banners are not srst configuration"
AFTER_END = "after end"


def _reasonFor(line: IosLine) -> str:
    if line.startswith("banner"):
        return BANNER
    if line.startswith("interface"):
        return INTERFACE
    if line.startswith("ip", "classless") or line.startswith("ip", "route") or line.startswith("router"):
        return ROUTING
    return NO_EQUIVALENT


def _bindGateway(document: dict[str, Any], address: str | None) -> None:
    """
    An IOS MGCP gateway speaks from its interface's address (port 2427):
    so does the imported one (C{mgcp.bind}).
    """
    mgcp = document.get("mgcp")
    if mgcp is None or address is None:
        return
    document["mgcp"] = {"bind": {"host": address, "port": GATEWAY_PORT}, **mgcp}


def importIosConfig(text: str, *, addressMap: Mapping[str, str] = {}, certificateDirectory: str = "",
                    files: dict[str, bytes] | None = None) -> tuple[dict[str, Any], list[Skipped]]:
    """
    Convert an IOS running-config into a router.yaml document.

    @param text: the configuration.
    @param addressMap: addresses to rewrite first (L{mapAddresses}).
    @param certificateDirectory: where phone trustpoints' certificate files
        go (the path the document names them by).
    @param files: filled with the files to write beside the document:
        path -> bytes.
    @return: the document (plain YAML values, in etc/router.yaml's key
        order) and every line not imported, in input order.
    """
    parsed = readIosConfig(mapAddresses(text, addressMap))
    lines: Sequence[IosLine] = parsed.lines
    notes = ImportNotes()
    for line in parsed.afterEnd:
        notes.skipTree(line, AFTER_END)
    document: dict[str, Any] = {}
    address = _firstInterfaceAddress(lines)
    lines = pkiios.importIos(lines, document, notes, certificateDirectory=certificateDirectory, files=files)
    lines = httpios.importIos(lines, document, notes, address=address)
    lines = policingios.importIos(lines, document, notes)
    lines = ipsecios.importIos(lines, document, notes)  # takes crypto map off the interfaces
    lines = portsios.importIos(lines, document, notes)
    lines = mgcpios.importIos(lines, document, notes)
    lines = sccpios.importIos(lines, document, notes)  # reads credentials' trustpoint, leaves the block
    lines = _importTopLevel(lines, document, notes)
    for line in lines:
        notes.skipTree(line, _reasonFor(line))
    _bindGateway(document, address)
    ordered = {key: document[key] for key in DOCUMENT_ORDER if key in document}
    ordered.update((key, value) for key, value in document.items() if key not in ordered)
    return ordered, notes.sortedSkipped()
