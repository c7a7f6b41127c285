# -*- test-case-name: tests.test_ports_conferenceendpoint -*-
"""
The call endpoint of a conference bridge: the engine makes each
participant a two-party call whose other leg is a line of this endpoint
(line instance = the participant's place on the bridge), so media keys,
hold, hang-up and C{show voice call status} work as for any call.  Opening
a leg's receive port binds the participant's L{srst.ports.bridge.BridgePort};
the rest of the signalling means nothing to a bridge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from twisted.logger import Logger
from zope.interface import implementer

from srst.calls.interfaces import FailureReason, ICallEndpoint, LineRef, Party
from srst.calls.leg import Leg
from srst.calls.media import Codec, MediaStream
from srst.calls.mediaservices import MediaUnavailable
from srst.media.portrange import PortRangeExhausted
from srst.media.transport import StreamSnapshot
from srst.ports.callendpoint import NoSharedLines
from srst.ports.g711 import G711Law

if TYPE_CHECKING:
    from srst.ports.bridge import BridgePort, ConferenceBridge

_LAWS = {Codec.G711_ULAW: G711Law.ULAW, Codec.G711_ALAW: G711Law.ALAW}


class CallEngineSeam(Protocol):
    """What a bridge endpoint reports to (L{srst.calls.engine.CallEngine})."""

    def mediaReady(self, leg: Leg, passThruPartyId: int, host: str, port: int) -> None:
        "The leg's receive port is open."

    def mediaFailed(self, leg: Leg, reason: str) -> None:
        "The leg's media could not be opened."


@implementer(ICallEndpoint)
class ConferenceEndpoint(NoSharedLines):
    """
    One bridge's legs, as an L{ICallEndpoint}.

    @ivar engine: where C{mediaReady}/C{mediaFailed} go (the engine queues
        a report made inside one of its inputs).
    @ivar bridge: the L{srst.ports.bridge.ConferenceBridge}.
    """

    log = Logger()
    capabilities = (Codec.G711_ULAW, Codec.G711_ALAW)
    outside = False

    def __init__(self, engine: CallEngineSeam, bridge: ConferenceBridge) -> None:
        self.engine = engine
        self.bridge = bridge
        self._ports: dict[Leg, BridgePort] = {}

    def __repr__(self) -> str:
        return "<ConferenceEndpoint %s>" % (self.label,)

    @property
    def label(self) -> str:
        """C{conference-3}."""
        return "conference-%d" % (self.bridge.number,)

    @property
    def secure(self) -> bool:
        """Whether the bridge's conference is secure (keys are made for its legs)."""
        return self.bridge.secure

    def portOf(self, leg: Leg) -> BridgePort | None:
        """@return: the bridge port of C{leg}, or L{None}."""
        return self._ports.get(leg)

    def mediaAvailable(self) -> bool:
        """Whether an RTP port is free for one more participant."""
        return self.bridge.resources.available()

    def mediaRefused(self) -> None:
        """Nothing to count: the engine refuses the conference, not a call."""

    def lineBusy(self) -> bool:
        """A bridge line is never busy."""
        return False

    def mediaSnapshot(self) -> StreamSnapshot | None:
        """C{show conference} shows the bridge ports; calls show none."""
        return None

    def voicePortName(self, line: LineRef) -> str:
        """C{conf/3.2}: bridge 3, participant 2."""
        return "conf/%d.%d" % (self.bridge.number, line.instance)

    def dialPeerTag(self, line: LineRef) -> int:
        """No dial-peer leads to a bridge."""
        return 0

    def openReceive(self, leg: Leg, stream: MediaStream) -> None:
        """
        Bind the participant's bridge port (SRTP with the stream's keys)
        and report it; with no RTP port free the call is cleared.
        """
        self._close(leg)
        law = _LAWS.get(stream.codec, G711Law.ULAW)
        try:
            port = self.bridge.addPort(leg.line.instance, law, stream.txKeys, stream.rxKeys)
        except PortRangeExhausted as e:
            self.bridge.resources.refused(self.voicePortName(leg.line), str(e))
            self.engine.mediaFailed(leg, str(e))
            return
        except MediaUnavailable as e:
            self.engine.mediaFailed(leg, str(e))
            return
        self._ports[leg] = port
        host, number = port.bind()
        self.engine.mediaReady(leg, stream.passThruPartyId, host, number)

    def startTransmit(self, leg: Leg, stream: MediaStream) -> None:
        """Send the participant its mix at its receive address."""
        port = self._ports.get(leg)
        remote = stream.remote
        if port is not None and remote is not None and remote.address is not None:
            port.start(remote.address)

    def _close(self, leg: Leg) -> None:
        port = self._ports.pop(leg, None)
        if port is not None:
            port.close()

    def mediaClosed(self, leg: Leg, stream: MediaStream) -> None:
        """The router closed the leg's stream: close its bridge port."""
        self._close(leg)

    def heldByRemote(self, leg: Leg, stream: MediaStream | None, playTone: bool) -> None:
        """The participant held: its port closes (fresh media follows the resume)."""
        self._close(leg)

    def released(self, leg: Leg, stream: MediaStream | None, answered: bool) -> None:
        """The participant's call ended: close its port."""
        self._close(leg)

    def held(self, leg: Leg, stream: MediaStream | None) -> None:
        """A bridge does not hold calls."""

    def seized(self, leg: Leg) -> None:
        """A bridge does not dial."""

    def digitsStarted(self, leg: Leg) -> None:
        """A bridge does not dial."""

    def secondaryDialTone(self, leg: Leg) -> None:
        """A bridge does not dial."""

    def proceeding(self, leg: Leg, called: Party) -> None:
        """A bridge does not dial."""

    def alerting(self, leg: Leg, caller: Party) -> None:
        """A bridge leg is connected at once."""

    def ringback(self, leg: Leg, called: Party) -> None:
        """A bridge does not dial."""

    def redirected(self, leg: Leg, called: Party) -> None:
        """A bridge does not dial."""

    def failed(self, leg: Leg, reason: FailureReason) -> None:
        """A bridge does not dial."""

    def answering(self, leg: Leg) -> None:
        """A bridge leg is connected at once."""

    def connected(self, leg: Leg, remote: Party, encrypted: bool) -> None:
        """Nothing to show."""

    def resumed(self, leg: Leg) -> None:
        """A bridge does not hold calls."""

    def resumedByRemote(self, leg: Leg) -> None:
        """The participant resumed; the engine opens new media."""

    def transferred(self, leg: Leg, remote: Party, ringing: bool) -> None:
        """A bridge leg is not transferred."""
