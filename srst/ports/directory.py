# -*- test-case-name: tests.test_ports_directory -*-
"""
The POTS dial-peers as the call engine's L{IDirectory}: a number that
L{srst.calls.dialplan.DialPlan} completes to a dial-peer with a C{port}
resolves to that voice port's L{srst.ports.callendpoint.VoicePortEndpoint};
L{portNumber} is the number a port calls with.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from zope.interface import implementer

from srst.calls.dialing import combine
from srst.calls.dialplan import DialPlan, MatchKind
from srst.calls.interfaces import Destination, DialMatch, IDirectory
from srst.ports.callendpoint import VoicePortEndpoint
from srst.ports.config import DialPeer

_MATCHES = {
    MatchKind.COMPLETE: DialMatch.EXACT,
    MatchKind.NEEDS_MORE: DialMatch.PREFIX,
    MatchKind.NO_MATCH: DialMatch.NONE,
}


@implementer(IDirectory)
class PortDirectory:
    """
    Numbers routed by POTS dial-peers to voice ports.

    @ivar plan: the L{DialPlan} of the peers.
    @ivar endpoints: the L{VoicePortEndpoint} of each port name.
    @ivar others: directories whose matches are combined with the plan's in
        L{match} (empty when the engine is given each directory itself).
    """

    def __init__(self, peers: Sequence[DialPeer], endpoints: Mapping[str, VoicePortEndpoint],
                 others: Sequence[IDirectory] = ()) -> None:
        """
        @param peers: C{config.dialPeers}.
        @param endpoints: port name to its endpoint.
        @param others: other L{IDirectory}s to combine with (see L{match}).
        """
        self.plan = DialPlan([peer for peer in peers if peer.type == "pots"])
        self.endpoints = dict(endpoints)
        self.others = tuple(others)

    def match(self, digits: str) -> DialMatch:
        """
        @return: how C{digits} match the dial-peers (combined with the other
            directories' answers by L{combine}).
        """
        own = _MATCHES[self.plan.match(digits).kind]
        return combine([own] + [other.match(digits) for other in self.others])

    def resolve(self, number: str) -> list[Destination]:
        """
        @return: the voice port of the dial-peer C{number} completes to, if
            it has a port that exists here; then the other directories'.
        """
        found = []
        result = self.plan.match(number, timedOut=True)
        peer = result.peer
        if result.kind is MatchKind.COMPLETE and isinstance(peer, DialPeer) and peer.port in self.endpoints:
            endpoint = self.endpoints[peer.port]
            found.append(Destination(endpoint, endpoint.line(number, result.forwardedDigits)))
        for other in self.others:
            found.extend(other.resolve(number))
        return found


def portNumber(portName: str, peers: Sequence[DialPeer], stationId: str | None = None) -> str:
    """
    The number a voice port calls with: its C{station-id number}, else the
    C{destination-pattern} of the first POTS dial-peer on the port that is
    a plain number (IOS takes the calling number from that peer).

    @param portName: the voice port.
    @param peers: C{config.dialPeers}.
    @param stationId: the port's C{station-id number}, or L{None}.
    @return: the number, or C{""} when there is none.
    """
    if stationId:
        return stationId
    for peer in peers:
        pattern = peer.destinationPattern
        if peer.port == portName and pattern and pattern.isdigit():
            return pattern
    return ""


__all__ = ["PortDirectory", "portNumber"]
