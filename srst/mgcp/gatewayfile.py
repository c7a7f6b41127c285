# -*- test-case-name: tests.test_mgcp_gatewayfile -*-
"""
The gateway configuration file CallManager's TFTP server holds for an MGCP
gateway (C{ccm-manager config}), sans-IO: L{parseGatewayFile} reads its
XML, L{GatewayFile.apply} lays it over router.yaml's C{mgcp:} and
C{ccm-manager:} sections and the set of MGCP ports.

CallManager's own format is not public in full; the subset read here, and
how each element combines with router.yaml, is C{docs/gateway-config.md}.
Every element present overrides the matching router.yaml value; an element
absent leaves it.  Elements this gateway does not read are ignored (a real
CallManager file holds many).  A file with a DTD, a bad value or a port
that is not configured is refused as a whole (L{GatewayFileError}).
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ElementTree
from typing import Optional

from attrs import evolve, frozen

from srst.mgcp.config import DEFAULT_MGCP_PORT, PERSISTENT_NAMES, CcmManagerConfig, HostPort, MgcpConfig

ROOT = "gateway"
"""The root element."""


class GatewayFileError(ValueError):
    """
    A file that is refused; C{problems} are its lines, each naming the
    element.
    """

    def __init__(self, problems: list[str]) -> None:
        ValueError.__init__(self, "; ".join(problems))
        self.problems = problems


@frozen
class GatewayFile:
    """
    What a gateway configuration file sets; L{None} (or an empty tuple for
    C{persistent} absent) is "not in the file".

    @ivar callAgent: C{/gateway/mgcp/callAgent}.
    @ivar dtmfRelay: C{/gateway/mgcp/dtmfRelay}.
    @ivar persistent: C{/gateway/mgcp/persistent}.
    @ivar keepaliveInterval: C{/gateway/ccmManager/keepaliveInterval}.
    @ivar failoverInterval: C{/gateway/ccmManager/failoverInterval}.
    @ivar endpoints: C{/gateway/endpoints}: the voice ports under MGCP.
    """

    callAgent: Optional[HostPort] = None
    dtmfRelay: Optional[str] = None
    persistent: Optional[tuple[str, ...]] = None
    keepaliveInterval: Optional[int] = None
    failoverInterval: Optional[int] = None
    endpoints: Optional[frozenset[str]] = None

    def apply(self, mgcp: MgcpConfig, ccm: CcmManagerConfig,
              ports: frozenset[str]) -> tuple[MgcpConfig, CcmManagerConfig, frozenset[str]]:
        """
        @return: router.yaml's C{mgcp:}, C{ccm-manager:} and MGCP ports
            with this file's values in place of theirs.
        """
        mgcpChanges: dict[str, object] = {}
        if self.callAgent is not None:
            mgcpChanges["callAgent"] = self.callAgent
        if self.dtmfRelay is not None:
            mgcpChanges["dtmfRelay"] = self.dtmfRelay
        if self.persistent is not None:
            mgcpChanges["persistent"] = self.persistent
        ccmChanges: dict[str, object] = {}
        if self.keepaliveInterval is not None:
            ccmChanges["keepaliveInterval"] = self.keepaliveInterval
        if self.failoverInterval is not None:
            ccmChanges["failoverInterval"] = self.failoverInterval
        return (evolve(mgcp, **mgcpChanges), evolve(ccm, **ccmChanges),
                self.endpoints if self.endpoints is not None else ports)


def _integer(element: ElementTree.Element, path: str, low: int, high: int,
             problems: list[str]) -> Optional[int]:
    text = (element.text or "").strip()
    if not text.isdigit() or not low <= int(text) <= high:
        problems.append(f"{path}: {text!r}: expected an integer {low} to {high}")
        return None
    return int(text)


def _callAgent(element: ElementTree.Element, path: str, problems: list[str]) -> Optional[HostPort]:
    host = element.get("host", "")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        problems.append(f"{path}/@host: {host!r}: expected an IPv4 or IPv6 address")
        return None
    port = element.get("port", str(DEFAULT_MGCP_PORT))
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        problems.append(f"{path}/@port: {port!r}: expected a UDP port 1 to 65535")
        return None
    return HostPort(host, int(port))


def parseGatewayFile(data: bytes, ccm: CcmManagerConfig, voicePorts: frozenset[str]) -> GatewayFile:
    """
    Read a gateway configuration file.

    @param data: the file.
    @param ccm: router.yaml's C{ccm-manager:} (the intervals the file leaves
        out must still fit with the ones it sets).
    @param voicePorts: the configured voice ports (C{voice-ports:}).
    @return: what it sets.
    @raise GatewayFileError: if it is refused; nothing of it applies then.
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise GatewayFileError(["a DTD or entity declaration is not allowed"])
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        raise GatewayFileError([f"not well-formed XML: {e}"]) from None
    if root.tag != ROOT:
        raise GatewayFileError([f"/{root.tag}: expected the root element <{ROOT}>"])
    problems: list[str] = []
    values: dict[str, object] = {}
    mgcp = root.find("mgcp")
    if mgcp is not None:
        element = mgcp.find("callAgent")
        if element is not None:
            values["callAgent"] = _callAgent(element, "/gateway/mgcp/callAgent", problems)
        element = mgcp.find("dtmfRelay")
        if element is not None:
            text = (element.text or "").strip()
            if text not in ("out-of-band", "none"):
                problems.append(f"/gateway/mgcp/dtmfRelay: {text!r}: expected out-of-band or none")
            else:
                values["dtmfRelay"] = text
        element = mgcp.find("persistent")
        if element is not None:
            names = (element.text or "").split()
            wrong = [name for name in names if name not in PERSISTENT_NAMES]
            if wrong or len(set(names)) != len(names):
                problems.append(f"/gateway/mgcp/persistent: {element.text!r}: expected each of "
                                + ", ".join(PERSISTENT_NAMES) + " at most once, separated by spaces")
            else:
                values["persistent"] = tuple(name for name in PERSISTENT_NAMES if name in names)
    manager = root.find("ccmManager")
    if manager is not None:
        element = manager.find("keepaliveInterval")
        if element is not None:
            values["keepaliveInterval"] = _integer(element, "/gateway/ccmManager/keepaliveInterval",
                                                   1, 3600, problems)
        element = manager.find("failoverInterval")
        if element is not None:
            values["failoverInterval"] = _integer(element, "/gateway/ccmManager/failoverInterval",
                                                  2, 7200, problems)
    endpoints = root.find("endpoints")
    if endpoints is not None:
        names = []
        for index, element in enumerate(endpoints.findall("endpoint"), 1):
            name = element.get("port", "")
            if name not in voicePorts:
                problems.append(f"/gateway/endpoints/endpoint[{index}]/@port: {name!r}: "
                                "expected a voice port configured in router.yaml")
            names.append(name)
        values["endpoints"] = frozenset(names)
    result = GatewayFile(**{key: value for key, value in values.items() if value is not None})
    keepalive = result.keepaliveInterval or ccm.keepaliveInterval
    failover = result.failoverInterval or ccm.failoverInterval
    if not problems and failover <= keepalive:
        problems.append(f"/gateway/ccmManager/failoverInterval: {failover}: expected more seconds "
                        f"than keepaliveInterval ({keepalive})")
    if problems:
        raise GatewayFileError(problems)
    return result


__all__ = ["GatewayFile", "GatewayFileError", "ROOT", "parseGatewayFile"]
