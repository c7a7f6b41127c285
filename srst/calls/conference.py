# -*- test-case-name: tests.test_calls_conference -*-
"""
Three-party conference (IOS ad hoc conference on a conference bridge).

The creator A is connected to B.  Confrn on A's leg reserves a bridge
(L{srst.calls.mediaservices.IConferenceBridges}; at C{max-conferences} the
key is refused and nothing changes), puts the call on hold and opens a
consult leg on the same endpoint (dial tone, digits), as Transfer does.
A talks to C, then Confrn again joins them: A's held leg is released
quietly (it is I{merged}), and each participant gets a two-party call
whose other leg belongs to the bridge's endpoint.  Hold, resume,
hang-up, media keys and CallInfo security are then those of any call,
and each participant has its own keys to and from the bridge.  Join on a
connected leg does the same with a call the endpoint holds, without the
consult step.

When a participant leaves (L{afterLeaving}):

  - the creator: the conference ends and every participant is released
    (the IOS default without C{keep-conference});
  - another participant, leaving two: the two are connected directly
    (new media, fresh keys), as CUCM's ad hoc conference does;
  - another participant, leaving more than two: only its call clears.

A conference is secure only when every participant's endpoint is and
C{conference-secure} allows it (L{secureConference}).

This module holds the records and the rules; the engine
(L{srst.calls.engine.CallEngine}) runs them.
"""

from __future__ import annotations

import enum
from typing import Iterable

from attrs import define, field

from srst.calls.interfaces import ICallEndpoint
from srst.calls.leg import Leg
from srst.calls.mediaservices import IConferenceBridge


@define(eq=False)
class ConferenceSetup:
    """
    A conference being set up: the creator's held leg, its consult leg and
    the bridge reserved for it.

    @ivar held: the creator's leg of the first call (held).
    @ivar consult: the creator's consult leg.
    @ivar bridge: the reserved bridge.
    """

    held: Leg
    consult: Leg
    bridge: IConferenceBridge


@define(eq=False)
class Conference:
    """
    A conference in progress.

    @ivar number: the bridge's number.
    @ivar bridge: the bridge.
    @ivar creator: the creator's leg.
    @ivar participants: the participants' legs, the creator first.
    @ivar bridgeLegs: the bridge's leg in each participant's call.
    @ivar secure: whether the conference's media is SRTP.
    """

    number: int
    bridge: IConferenceBridge
    creator: Leg
    participants: list[Leg] = field(factory=list)
    bridgeLegs: dict[Leg, Leg] = field(factory=dict)
    secure: bool = False

    def add(self, participant: Leg, bridgeLeg: Leg) -> None:
        """A participant joins on C{bridgeLeg}."""
        self.participants.append(participant)
        self.bridgeLegs[participant] = bridgeLeg

    def bridgeLegOf(self, participant: Leg) -> Leg | None:
        """@return: the bridge's leg facing C{participant}, or L{None}."""
        return self.bridgeLegs.get(participant)

    def participantOf(self, bridgeLeg: Leg) -> Leg | None:
        """@return: the participant C{bridgeLeg} faces, or L{None}."""
        for participant, leg in self.bridgeLegs.items():
            if leg is bridgeLeg:
                return participant
        return None

    def replace(self, old: Leg, new: Leg) -> None:
        """
        Another endpoint with the same shared line picked up C{old}'s held
        part of the conference: C{new} takes its place (and its creator's
        role).
        """
        self.participants[self.participants.index(old)] = new
        self.bridgeLegs[new] = self.bridgeLegs.pop(old)
        if self.creator is old:
            self.creator = new

    def remove(self, participant: Leg) -> None:
        """C{participant} left."""
        if participant in self.bridgeLegs:
            del self.bridgeLegs[participant]
            self.participants.remove(participant)


class Leaving(enum.Enum):
    """What happens to a conference when a participant leaves."""

    END_ALL = "the creator left: everyone is released"
    DIRECT = "two remain: they are connected directly"
    CONTINUE = "more than two remain: the conference goes on"


def afterLeaving(conference: Conference, leg: Leg) -> Leaving:
    """
    @param conference: the conference, C{leg} still in it.
    @param leg: the participant leaving.
    @return: what happens to the others.
    """
    if leg is conference.creator:
        return Leaving.END_ALL
    remaining = len([p for p in conference.participants if p is not leg])
    return Leaving.DIRECT if remaining <= 2 else Leaving.CONTINUE


def secureConference(allowed: bool, endpoints: Iterable[ICallEndpoint]) -> bool:
    """
    @param allowed: C{conference-secure}.
    @param endpoints: the participants' endpoints.
    @return: whether the conference is secure: allowed, and every
        participant takes SRTP keys (a voice port does: its media is
        terminated on the router, the IP legs are what is protected).
    """
    return bool(allowed) and all(endpoint.secure for endpoint in endpoints)


__all__ = ["Conference", "ConferenceSetup", "Leaving", "afterLeaving", "secureConference"]
