# -*- test-case-name: tests.test_mgcp_gateway -*-
"""
MGCP endpoint names of the router's analog voice ports (mgcp.md 3).

IOS names an analog voice port C{slot/subunit/port} C{aaln/S<slot>/SU<subunit>/<port>}
(C{1/0/0} is C{aaln/S1/SU0/0}, FXO C{1/1/0} is C{aaln/S1/SU1/0}); a two-part
voice port C{1/0} is C{aaln/S1/0}.  Local names compare case-insensitively;
the case given is kept when echoing.  Wildcards (C{*} "all of", C{$} "any
of") are allowed in the trailing terms only.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

ALL_OF = "*"
"""The "all of" wildcard term."""

ANY_OF = "$"
"""The "any of" wildcard term."""

_THREE = re.compile(r"([0-9]+)/([0-9]+)/([0-9]+)\Z")
_TWO = re.compile(r"([0-9]+)/([0-9]+)\Z")
_LOCAL3 = re.compile(r"aaln/s([0-9]+)/su([0-9]+)/([0-9]+)\Z", re.IGNORECASE)
_LOCAL2 = re.compile(r"aaln/s([0-9]+)/([0-9]+)\Z", re.IGNORECASE)


class BadPortName(ValueError):
    """
    A voice-port name that has no MGCP endpoint name.

    @ivar name: the name.
    """

    def __init__(self, name: str) -> None:
        ValueError.__init__(self, name)
        self.name = name

    def __str__(self) -> str:
        return "voice-port %r has no MGCP endpoint name" % (self.name,)


def localNameOf(portName: str) -> str:
    """
    @param portName: an IOS voice-port name, C{"1/0/0"} or C{"1/0"}.
    @return: its endpoint local name, C{"aaln/S1/SU0/0"} or C{"aaln/S1/0"}.
    @raise BadPortName: for anything else.
    """
    match = _THREE.match(portName)
    if match is not None:
        return "aaln/S%d/SU%d/%d" % tuple(int(g) for g in match.groups())
    match = _TWO.match(portName)
    if match is not None:
        return "aaln/S%d/%d" % tuple(int(g) for g in match.groups())
    raise BadPortName(portName)


def portNameOf(localName: str) -> Optional[str]:
    """
    @param localName: an endpoint local name, any case.
    @return: the voice-port name, or C{None} when it names no analog line.
    """
    match = _LOCAL3.match(localName)
    if match is not None:
        return "%d/%d/%d" % tuple(int(g) for g in match.groups())
    match = _LOCAL2.match(localName)
    if match is not None:
        return "%d/%d" % tuple(int(g) for g in match.groups())
    return None


def splitEndpointName(name: str) -> tuple[str, str]:
    """
    @param name: C{local@domain}.
    @return: C{(local, domain)}; C{domain} is empty when there is no C{@}.
    """
    local, at, domain = name.rpartition("@")
    if not at:
        return name, ""
    return local, domain


def isWildcard(localName: str) -> bool:
    """
    @param localName: an endpoint local name.
    @return: whether any term is C{*} or C{$}.
    """
    return any(term in (ALL_OF, ANY_OF) for term in localName.split("/"))


def wildcardKind(localName: str) -> Optional[str]:
    """
    @param localName: an endpoint local name.
    @return: L{ANY_OF} when a term is C{$}, L{ALL_OF} when a term is C{*},
        else C{None}.
    """
    terms = localName.split("/")
    if ANY_OF in terms:
        return ANY_OF
    if ALL_OF in terms:
        return ALL_OF
    return None


def matchLocalName(pattern: str, localName: str) -> bool:
    """
    Whether a (maybe wildcarded) local name covers a concrete one.

    A wildcard in the last term covers any number of further terms
    (C{*} covers everything, C{aaln/*} every analog line); a wildcard
    elsewhere covers exactly one term.

    @param pattern: e.g. C{"aaln/*"} or C{"aaln/S1/SU0/0"}.
    @param localName: a concrete local name.
    @return: whether it matches (case-insensitively).
    """
    wanted = pattern.lower().split("/")
    actual = localName.lower().split("/")
    for index, term in enumerate(wanted):
        last = index == len(wanted) - 1
        if term in (ALL_OF, ANY_OF):
            if last:
                return len(actual) > index
            if index >= len(actual):
                return False
            continue
        if index >= len(actual) or actual[index] != term:
            return False
    return len(actual) == len(wanted)


def matchEndpoints(pattern: str, localNames: Iterable[str]) -> list[str]:
    """
    @param pattern: a local name, maybe wildcarded.
    @param localNames: the gateway's concrete local names, in order.
    @return: those the pattern covers, in order.
    """
    return [name for name in localNames if matchLocalName(pattern, name)]


__all__ = ["ALL_OF", "ANY_OF", "BadPortName", "localNameOf", "portNameOf", "splitEndpointName",
           "isWildcard", "wildcardKind", "matchLocalName", "matchEndpoints"]
