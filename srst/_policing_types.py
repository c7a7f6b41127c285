# -*- test-case-name: tests.test_policing -*-
"""
The configuration values of control-plane policing: access lists, class maps,
police actions and the policy map, with the IOS matching rules.

Everything here is a frozen value with pure methods; nothing imports
C{twisted.internet}.  C{srst.config} builds these from the C{access-lists}
and C{control-plane} sections of router.yaml; the attrs validators repeat the
IOS ranges so a value built by hand is checked the same way.

IOS semantics reproduced (seed "Configuration 2", MQC):

  - An access list is read top down and the first entry that matches decides;
    when no entry matches, the implicit C{deny} at the end applies
    (L{AccessList.evaluate} returns C{None} for that case).
  - Protocol C{ip} matches TCP and UDP alike; a port belongs to the
    destination (C{eq 2445}).
  - In a class map, C{match access-group N} puts a packet I{in} the class when
    the list C{permit}s it.  A C{deny} means "not in this class": the packet
    falls through to the next class and finally to C{class-default}, which
    has no action and passes everything.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Any, Callable, Union

from attrs import field, frozen, validators

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

ACCESS_LIST_NUMBERS = (1, 2699)
"""IOS numbered access lists (standard, extended and their expanded ranges)."""

POLICE_RATE_BPS = (8000, 2000000000)
"""C{police <bps>}: bits per second."""

POLICE_BURST_BYTES = (1000, 512000000)
"""C{police <bps> <burst-normal> <burst-max>}: bytes."""

CLASS_DEFAULT = "class-default"
"""The implicit last class of every policy map."""

LocalPort = Union[int, Callable[[], Union[int, None]], None]
"""
How a wrapper learns the destination port that access lists compare with:
an int (the configured service port), a callable returning it (or C{None}
while unknown), or C{None} to use the accepting socket's own port.
"""


class AclAction(enum.StrEnum):
    """
    What an access-list entry decides.
    """

    PERMIT = "permit"
    DENY = "deny"


class IPProtocol(enum.StrEnum):
    """
    The protocol keyword of an access-list entry (and of a packet).
    """

    IP = "ip"
    TCP = "tcp"
    UDP = "udp"


class PoliceAction(enum.StrEnum):
    """
    A C{conform-action} / C{exceed-action} keyword.
    """

    TRANSMIT = "transmit"
    DROP = "drop"


class MatchType(enum.StrEnum):
    """
    C{class-map match-all | match-any}.  With one C{match} statement the two
    mean the same; the keyword is kept for C{show} output.
    """

    MATCH_ALL = "match-all"
    MATCH_ANY = "match-any"


def _toNetwork(value: Any) -> IPNetwork | None:
    """
    Accept C{None}/C{"any"}, a network object, or its text (C{"10.1.1.11/32"},
    C{"10.1.1.11"}).
    """
    if value is None or isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text == "any":
            return None
        if text.startswith("host "):
            text = text[5:].strip()
        return ipaddress.ip_network(text, strict=True)
    raise TypeError(f"expected an IP network, 'any' or None, not {value!r}")


def toAddress(value: Any) -> IPAddress:
    """
    Normalise a packet's source address: text or an address object, with
    any IPv6 scope (C{"fe80::1%eth0"}) removed and IPv4-mapped IPv6
    (C{"::ffff:10.1.1.11"}) turned into IPv4, so that IPv4 entries match
    connections accepted on a dual-stack socket.

    @raise ValueError: if C{value} is not an IP address.
    """
    if isinstance(value, str):
        value = ipaddress.ip_address(value.split("%", 1)[0])
    elif not isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        raise ValueError(f"not an IP address: {value!r}")
    if isinstance(value, ipaddress.IPv6Address):
        if value.ipv4_mapped is not None:
            return value.ipv4_mapped
        if value.scope_id is not None:
            return ipaddress.IPv6Address(str(value).split("%", 1)[0])
    return value


def _inRange(bounds: tuple[int, int]):
    low, high = bounds
    return [validators.instance_of(int), validators.ge(low), validators.le(high)]


def _optionalPort(instance: Any, attribute: Any, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{attribute.name} must be a port from 1 to 65535 or None, not {value!r}")
    if instance.protocol == IPProtocol.IP:
        raise ValueError("a port needs protocol tcp or udp, not ip")


@frozen
class AccessListEntry:
    """
    One line of an extended access list:
    C{access-list 140 deny tcp host 10.1.1.11 any eq 2445}.

    @ivar action: L{AclAction} (C{"permit"} or C{"deny"}).
    @ivar protocol: L{IPProtocol}; C{ip} matches every protocol.
    @ivar source: the source network, or C{None} for C{any}.
    @ivar port: the destination port (C{eq N}), or C{None} for any port.
    """

    action: AclAction = field(converter=AclAction)
    protocol: IPProtocol = field(converter=IPProtocol, default=IPProtocol.IP)
    source: IPNetwork | None = field(converter=_toNetwork, default=None)
    port: int | None = field(default=None, validator=_optionalPort)

    def matches(self, protocol: IPProtocol | str, sourceAddress: IPAddress, destinationPort: int | None) -> bool:
        """
        @param protocol: the packet's protocol (C{"tcp"}, C{"udp"}, C{"ip"}).
        @param sourceAddress: the packet's source, already normalised by
            L{toAddress}.
        @param destinationPort: the packet's destination port, if it has one.
        @return: whether this entry applies to the packet.
        """
        if self.protocol != IPProtocol.IP and self.protocol != protocol:
            return False
        if self.source is not None:
            if sourceAddress.version != self.source.version or sourceAddress not in self.source:
                return False
        if self.port is not None and self.port != destinationPort:
            return False
        return True

    def describe(self) -> str:
        """
        @return: the entry in IOS syntax (without the list number).
        """
        if self.source is None:
            source = "any"
        elif self.source.num_addresses == 1:
            source = f"host {self.source.network_address}"
        else:
            source = f"{self.source.network_address} {self.source.hostmask}"
        text = f"{self.action} {self.protocol} {source} any"
        if self.port is not None:
            text += f" eq {self.port}"
        return text


@frozen
class AccessList:
    """
    A numbered access list (C{access-list 140 ...}).

    @ivar number: 1 to 2699.
    @ivar entries: the L{AccessListEntry}s in order.
    """

    number: int = field(validator=_inRange(ACCESS_LIST_NUMBERS))
    entries: tuple[AccessListEntry, ...] = field(
        converter=tuple,
        default=(),
        validator=validators.deep_iterable(validators.instance_of(AccessListEntry)),
    )

    def evaluate(
        self, protocol: IPProtocol | str, sourceAddress: Any, destinationPort: int | None
    ) -> AclAction | None:
        """
        Run a packet through the list: the first matching entry wins.

        @param protocol: C{"tcp"}, C{"udp"} or C{"ip"}.
        @param sourceAddress: the source address (text or address object).
        @param destinationPort: the destination port, or C{None}.
        @return: the deciding entry's action, or C{None} when no entry
            matched (IOS's implicit deny).
        @raise ValueError: if C{sourceAddress} is not an IP address.
        """
        protocol = IPProtocol(protocol)
        address = toAddress(sourceAddress)
        for entry in self.entries:
            if entry.matches(protocol, address, destinationPort):
                return entry.action
        return None


@frozen
class ClassMap:
    """
    C{class-map match-all <name>} with C{match access-group <number>}.

    @ivar name: the class name (C{"sccp-class"}).
    @ivar accessList: the L{AccessList} matched.
    @ivar matchType: L{MatchType}; C{match-all} in the seed.
    """

    name: str = field(validator=[validators.instance_of(str), validators.min_len(1)])
    accessList: AccessList = field(validator=validators.instance_of(AccessList))
    matchType: MatchType = field(converter=MatchType, default=MatchType.MATCH_ALL)

    @name.validator
    def _notDefault(self, attribute: Any, value: str) -> None:
        if value == CLASS_DEFAULT:
            raise ValueError(f"{CLASS_DEFAULT} is implicit and cannot be defined")

    def matches(self, protocol: IPProtocol | str, sourceAddress: Any, destinationPort: int | None) -> bool:
        """
        @return: whether the packet belongs to this class: its access list
            permits it (deny and no match both mean "not in this class").
        """
        return self.accessList.evaluate(protocol, sourceAddress, destinationPort) == AclAction.PERMIT


@frozen
class Police:
    """
    C{police <bps> <burst-normal> <burst-max> conform-action <a>
    exceed-action <a>}: a single-rate, two-colour policer.

    With only conform and exceed actions the policer is one token bucket of
    C{normalBurst} bytes (Bc) refilled at C{rateBps / 8} bytes per second;
    C{maxBurst} (Be) is kept for the C{show} output.

    @ivar rateBps: committed rate, bits per second (8000 to 2000000000).
    @ivar normalBurst: Bc, bytes (1000 to 512000000).
    @ivar maxBurst: Be, bytes (1000 to 512000000).
    @ivar conformAction: L{PoliceAction} for traffic within the bucket.
    @ivar exceedAction: L{PoliceAction} for traffic beyond it.
    """

    rateBps: int = field(validator=_inRange(POLICE_RATE_BPS))
    normalBurst: int = field(default=1500, validator=_inRange(POLICE_BURST_BYTES))
    maxBurst: int = field(default=1500, validator=_inRange(POLICE_BURST_BYTES))
    conformAction: PoliceAction = field(converter=PoliceAction, default=PoliceAction.TRANSMIT)
    exceedAction: PoliceAction = field(converter=PoliceAction, default=PoliceAction.DROP)

    def actionFor(self, conformed: bool) -> PoliceAction:
        """
        @return: the conform action if C{conformed}, else the exceed action.
        """
        return self.conformAction if conformed else self.exceedAction


@frozen
class PolicyClass:
    """
    One C{class <name>} block of a policy map, with its C{police} line.

    @ivar classMap: the L{ClassMap}.
    @ivar police: the L{Police} settings.
    """

    classMap: ClassMap = field(validator=validators.instance_of(ClassMap))
    police: Police = field(validator=validators.instance_of(Police))

    @property
    def name(self) -> str:
        """
        The class map's name.
        """
        return self.classMap.name


def _uniqueClasses(instance: Any, attribute: Any, value: tuple[PolicyClass, ...]) -> None:
    names = [c.name for c in value]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"class {name!r} appears twice in the policy map")


@frozen
class ControlPlanePolicy:
    """
    C{policy-map <name>} applied with C{control-plane / service-policy input}.

    @ivar name: the policy-map name.
    @ivar classes: the L{PolicyClass}es in order; C{class-default} is
        implicit and passes everything.
    """

    name: str = field(
        default="control-plane-policy", validator=[validators.instance_of(str), validators.min_len(1)]
    )
    classes: tuple[PolicyClass, ...] = field(
        converter=tuple,
        default=(),
        validator=[validators.deep_iterable(validators.instance_of(PolicyClass)), _uniqueClasses],
    )

    def classify(
        self, protocol: IPProtocol | str, sourceAddress: Any, destinationPort: int | None
    ) -> PolicyClass | None:
        """
        Find the class of a packet, MQC style: the first class whose class
        map matches.

        @param protocol: C{"tcp"}, C{"udp"} or C{"ip"}.
        @param sourceAddress: the source address (text or address object).
        @param destinationPort: the destination port, or C{None}.
        @return: the L{PolicyClass}, or C{None} for C{class-default}.
        @raise ValueError: if C{sourceAddress} is not an IP address.
        """
        address = toAddress(sourceAddress)
        for policyClass in self.classes:
            if policyClass.classMap.matches(protocol, address, destinationPort):
                return policyClass
        return None


def sourceAddressOf(addr: Any) -> IPAddress | None:
    """
    The source IP address of a peer, as access lists see it.

    @param addr: an L{IPv4Address}/L{IPv6Address} (TCP) or a C{(host, port,
        ...)} tuple (UDP).
    @return: the normalised address (see L{toAddress}), or C{None} if the
        peer has no IP address (a UNIX socket, an unparsable host).
    """
    host = addr[0] if isinstance(addr, tuple) and addr else getattr(addr, "host", None)
    if not isinstance(host, str):
        return None
    try:
        return toAddress(host)
    except ValueError:
        return None


def resolvePort(localPort: LocalPort) -> int | None:
    """
    @param localPort: see L{LocalPort}.
    @return: the port it gives now, or C{None} if unknown.
    """
    if callable(localPort):
        return localPort()
    return localPort
