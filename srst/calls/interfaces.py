# -*- test-case-name: tests.test_calls_engine -*-
"""
The seams of the call engine (style.md 2.13): the engine talks to the
endpoints of a call through L{ICallEndpoint}, and finds the endpoints of a
dialled number through L{IDirectory}.  Neither side sees the other's wire
format.  Device adapters plug in from above: SCCP phones
(L{srst.sccp.callendpoint}, L{srst.sccp.directory}), analogue voice ports
(L{srst.ports.callendpoint}, L{srst.ports.directory}); a new kind of device
(a SIP phone, a conference bridge, music on hold) is one more pair.

Values crossing the seam are frozen attrs classes: L{LineRef} (which line of
an endpoint a leg uses), L{Party} (who is on the other side),
L{Destination} (what a number resolves to), the media descriptions of
L{srst.calls.media} (codecs, streams with their SRTP keys), and the
engine's reasons a call attempt fails (L{FailureReason}: each adapter turns
it into its own tones and prompts).
"""

from __future__ import annotations

import enum

from attrs import field, frozen
from zope.interface import Attribute, Interface

from srst.media.transport import StreamSnapshot


@frozen
class LineRef:
    """
    The line of an endpoint a leg uses.

    @ivar instance: the line instance on the endpoint (1-based).
    @ivar number: the line's directory number.
    @ivar name: the display name (empty: none).
    @ivar tag: the IOS C{ephone-dn} tag, for C{debug ephone state}.
    @ivar forwarded: the digits a dial-peer forwards to the endpoint
        (C{forward-digits}, C{prefix}); empty when none.
    @ivar owner: the endpoint's name in C{debug ephone state}
        (C{ephone-(2)}; empty when none); not part of equality.
    """

    instance: int
    number: str
    name: str = ""
    tag: int = 0
    forwarded: str = ""
    owner: str = field(default="", eq=False)


@frozen
class Party:
    """
    The other side of a leg, for caller/called displays.

    @ivar number: the directory number.
    @ivar name: the display name (empty: none).
    @ivar tag: the IOS C{ephone-dn} tag of the party's line, for C{debug
        ephone state} (0: none); not part of equality.
    @ivar owner: the name of the party's endpoint in C{debug ephone state}
        (C{ephone-(2)}; empty: none); not part of equality.
    """

    number: str
    name: str = ""
    tag: int = field(default=0, eq=False)
    owner: str = field(default="", eq=False)


@frozen
class Destination:
    """
    An endpoint line that a dialled number reaches.

    @ivar endpoint: the L{ICallEndpoint}.
    @ivar line: the L{LineRef} on it.
    """

    endpoint: ICallEndpoint
    line: LineRef


class DialMatch(enum.Enum):
    """How the digits dialled so far match the numbers of a directory."""

    NONE = "none"
    """No number starts with them: the call cannot complete."""

    PREFIX = "prefix"
    """Some numbers start with them; more digits are needed."""

    EXACT = "exact"
    """They are a number, and no longer number starts with them."""

    EXACT_OR_LONGER = "exact or longer"
    """They are a number, but a longer one starts with them too."""


class FailureReason(enum.Enum):
    """Why a call attempt failed (what the caller hears and sees)."""

    BUSY = "busy"
    UNKNOWN_NUMBER = "unknown number"
    CONGESTION = "congestion"
    TRANSFER_REFUSED = "transfer refused"
    NOTHING_TO_PICK_UP = "nothing to pick up"


class IDirectory(Interface):
    """
    Numbers the engine can reach (the registered phones' lines, later voice
    ports and MGCP endpoints).
    """

    def match(digits: str) -> DialMatch:
        """
        @param digits: the digits dialled so far (no terminator).
        @return: how they match this directory's numbers.
        """

    def resolve(number: str) -> list:
        """
        @param number: a complete number.
        @return: the L{Destination}s that ring for it (empty: unknown).
        """


class ICallEndpoint(Interface):
    """
    One device that takes part in calls.  The engine calls these methods in
    the order the device must see them; an implementation turns each into
    its own signalling (L{srst.sccp.callendpoint.SccpEndpoint}: SCCP messages
    in the order of sccp.md 5.4).  Every method gets the L{srst.calls.leg.Leg}
    concerned; none may raise for a leg it no longer knows.

    The first methods are questions: what the engine asks before it offers
    a call, and what C{show voice call status} and C{show ephone offhook}
    ask about an endpoint's legs.
    """

    label = Attribute("A short name for logs (C{ephone-2[2]}).")
    secure = Attribute("Whether SRTP keys may be sent to it (authenticated, encrypted signalling).")
    outside = Attribute(
        "Whether it leads out of the router (a voice port and its dial-peer, not a phone or a conference"
        " bridge): a call to it is external (C{dialplan-pattern}) and presents the caller's full number.")
    capabilities = Attribute(
        "The codecs it accepts, most preferred first (L{srst.calls.media.OfferedCodec}s; may be empty).")

    def mediaAvailable() -> bool:
        """
        @return: whether it can take a call's media now (a voice port: is an
            RTP port free, does local call control have it?); when not, a
            call to it fails with congestion.
        """

    def mediaRefused() -> None:
        """
        The engine refused a call to it after L{mediaAvailable} said no:
        count and log that, once per call.
        """

    def lineBusy() -> bool:
        """
        @return: whether it takes no new call although it has none (a
            telephone still off hook, a phone set to do-not-disturb): the
            engine then treats it as busy.
        """

    def mediaSnapshot() -> StreamSnapshot | None:
        """
        @return: the statistics of the media the router terminates for it
            (a voice port's RTP stream), or L{None} when the router does not
            (phones send media to each other) or no stream is open.
        """

    def voicePortName(line: LineRef) -> str:
        """
        @param line: one of its lines.
        @return: what C{show voice call status} prints as the line's C{Port}
            (C{50/0/14.0} for a phone's C{ephone-dn}, C{1/0/0} for a voice
            port).
        """

    def dialPeerTag(line: LineRef) -> int:
        """
        @param line: one of its lines.
        @return: the dial-peer tag C{show voice call status} prints for it
            (the POTS peer of a voice port, the implicit peer IOS creates for
            an C{ephone-dn}).
        """

    def seized(leg) -> None:
        """The leg went off hook to dial: dial tone, "Enter number"."""

    def digitsStarted(leg) -> None:
        """The first digit arrived: stop the dial tone."""

    def secondaryDialTone(leg) -> None:
        """The digits so far are the secondary dial tone access code."""

    def proceeding(leg, called: Party) -> None:
        """The dialled number was accepted and the call is being offered."""

    def alerting(leg, caller: Party) -> None:
        """An incoming call rings on this leg."""

    def ringback(leg, called: Party) -> None:
        """The called party is ringing: play ringback."""

    def redirected(leg, called: Party) -> None:
        """The call this leg placed was forwarded: C{called} rings now."""

    def failed(leg, reason: FailureReason) -> None:
        """The call attempt failed: busy, reorder."""

    def answering(leg) -> None:
        """This (called) leg answered; media follows."""

    def openReceive(leg, stream) -> None:
        """
        Open a receive port for a L{srst.calls.media.MediaStream} (with its
        receive key); the endpoint reports it with
        L{srst.calls.engine.CallEngine.mediaReady} (or C{mediaFailed}), later
        or at once: a report made from inside this call runs when the
        engine has finished connecting the call.
        """

    def startTransmit(leg, stream) -> None:
        """Send media to the stream's remote address (with its transmit key)."""

    def connected(leg, remote: Party, encrypted: bool) -> None:
        """The call is connected; C{encrypted} says whether media is SRTP."""

    def mediaClosed(leg, stream) -> None:
        """
        The router closed this leg's stream (music on hold ends; the leg
        moves to or off a conference bridge): close the receive port, stop
        sending.  The leg stays in its call.
        """

    def held(leg, stream) -> None:
        """This leg put the call on hold; C{stream} was open or L{None}."""

    def heldByRemote(leg, stream, playTone: bool) -> None:
        """The other side put the call on hold; play the hold tone or not."""

    def resumed(leg) -> None:
        """This leg took the call off hold; media follows."""

    def resumedByRemote(leg) -> None:
        """The other side took the call off hold; media follows."""

    def answeredElsewhere(leg) -> None:
        """
        This shared-line leg is cleared because another endpoint with the
        line took the call: show it as in use elsewhere (the engine then
        reports the call's changes with the C{remote*} methods).
        """

    def remoteInUse(line: LineRef, reference: int) -> None:
        """The shared line's call is connected on another endpoint."""

    def remoteHeld(line: LineRef, reference: int) -> None:
        """The shared line's call is on hold on another endpoint: it may be picked up here."""

    def remoteIdle(line: LineRef, reference: int) -> None:
        """The shared line's call ended."""

    def transferred(leg, remote: Party, ringing: bool) -> None:
        """
        A transfer gave this leg a new other side C{remote}; C{ringing}:
        it still rings (this side hears ringback).
        """

    def released(leg, stream, answered: bool) -> None:
        """
        The leg is cleared: close the stream (if not L{None}) and go idle.
        C{answered} says whether the leg was connected (or held).
        """


__all__ = [
    "Destination", "DialMatch", "FailureReason", "ICallEndpoint", "IDirectory", "LineRef", "Party",
]
