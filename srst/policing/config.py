# -*- test-case-name: tests.test_policing_config -*-
"""
The C{access-lists:} and C{control-plane:} sections of router.yaml: access
lists, class maps, police actions and the policy map, with the IOS matching
rules.

Everything here is a frozen value with pure methods; nothing imports
C{twisted.internet}.  L{readAccessLists} and L{readControlPlane} build them
from router.yaml; the attrs validators repeat the IOS ranges so a value built
by hand is checked the same way.

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
from typing import Any, Union

from attrs import field, frozen, validators

from srst.configreader import ConfigProblem, Reader

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

CONTROL_PLANE_DESTINATION = ("access list {number} has an entry with a destination: the control plane matches"
                             " traffic to the router itself (destination any); a destination is for the"
                             " traffic a crypto map protects")
"""Why a class map cannot match an access list with a destination."""

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


def _operand(network: IPNetwork | None) -> str:
    if network is None:
        return "any"
    if network.num_addresses == 1:
        return f"host {network.network_address}"
    return f"{network.network_address} {network.hostmask}"


@frozen
class AccessListEntry:
    """
    One line of an extended access list:
    C{access-list 140 deny tcp host 10.1.1.11 any eq 2445}.

    @ivar action: L{AclAction} (C{"permit"} or C{"deny"}).
    @ivar protocol: L{IPProtocol}; C{ip} matches every protocol.
    @ivar source: the source network, or C{None} for C{any}.
    @ivar port: the destination port (C{eq N}), or C{None} for any port.
    @ivar destination: the destination network, or C{None} for C{any}.
        Only a crypto map's access list (the traffic IPsec protects) has
        one: the control plane matches traffic to the router itself.
    """

    action: AclAction = field(converter=AclAction)
    protocol: IPProtocol = field(converter=IPProtocol, default=IPProtocol.IP)
    source: IPNetwork | None = field(converter=_toNetwork, default=None)
    port: int | None = field(default=None, validator=_optionalPort)
    destination: IPNetwork | None = field(converter=_toNetwork, default=None, kw_only=True)

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
        text = f"{self.action} {self.protocol} {_operand(self.source)} {_operand(self.destination)}"
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

    @property
    def hasDestination(self) -> bool:
        """
        Whether an entry names a destination (a crypto map's list).
        """
        return any(entry.destination is not None for entry in self.entries)

    def evaluate(
        self, protocol: IPProtocol | str, sourceAddress: IPAddress | str, destinationPort: int | None
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

    @accessList.validator
    def _noDestination(self, attribute: Any, value: AccessList) -> None:
        if value.hasDestination:
            raise ValueError(CONTROL_PLANE_DESTINATION.format(number=value.number))

    def matches(self, protocol: IPProtocol | str, sourceAddress: IPAddress | str, destinationPort: int | None) -> bool:
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
        self, protocol: IPProtocol | str, sourceAddress: IPAddress | str, destinationPort: int | None
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


def _readSource(value: Any, path: str, problems: list[ConfigProblem]) -> IPNetwork | None:
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


def readAccessLists(lists: Reader) -> dict[int, AccessList]:
    """
    Validate C{access-lists:}: numbered lists of C{{action, protocol,
    source, port, destination}} entries (C{destination} only in a crypto
    map's list).

    @param lists: the reader of the section.
    @return: the valid lists by number (a list with problems is left out or
        keeps only its valid entries; the problems are on C{lists}).
    """
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
            destination = (_readSource(e.raw("destination"), e.sub("destination"), lists.problems)
                           if e.has("destination") else None)
            port = e.integer("port", None, 1, 65535)
            if port is not None and protocol == "ip":
                e.problem("port", port, "a port needs protocol tcp or udp")
            e.finish()
            if action is None:
                return None
            return AccessListEntry(action=action, protocol=protocol or "ip", source=source, port=port,
                                   destination=destination)

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


def readControlPlane(cp: Reader, accessLists: dict[int, AccessList]) -> ControlPlanePolicy:
    """
    Validate C{control-plane:}: its C{class-maps} and the C{service-policy}
    applied on input.

    @param cp: the reader of the section.
    @param accessLists: the lists read by L{readAccessLists}, which class
        maps name.
    @return: the policy (without the classes that had problems).
    """
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
        if accessLists[group].hasDestination:
            m.problem("match-access-group", group, CONTROL_PLANE_DESTINATION.format(number=group))
            continue
        classMaps[str(name)] = ClassMap(name=str(name), accessList=accessLists[group])
    policy = cp.child("service-policy")
    policyName = policy.string("name", "control-plane-policy")

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
