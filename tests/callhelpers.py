"""
Shared helpers of the call tests: a device-neutral fake call endpoint and
directory for engine tests.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from srst.calls.interfaces import Destination, DialMatch, ICallEndpoint, IDirectory, LineRef
from srst.calls.media import Codec, OfferedCodec


@implementer(ICallEndpoint)
class FakeEndpoint:
    """
    An L{ICallEndpoint} that records what the engine tells it.

    @ivar events: C{(method name, leg or line, further arguments...)} in
        order.
    @ivar available: what L{mediaAvailable} answers.
    @ivar busy: what L{lineBusy} answers.
    @ivar snapshot: what L{mediaSnapshot} answers.
    @ivar refusals: how often L{mediaRefused} was called.
    @ivar reactions: method name to a callable run with the method's
        arguments after it is recorded (an endpoint that answers at once,
        reports its media, ...).
    """

    def __init__(self, label: str = "fake", *, secure: bool = False,
                 capabilities: tuple[OfferedCodec, ...] = (Codec.G711_ULAW, Codec.G711_ALAW),
                 available: bool = True, busy: bool = False, snapshot: Any = None, port: str = "9/9/9",
                 peer: int = 0) -> None:
        self.label = label
        self.secure = secure
        self.capabilities = capabilities
        self.available = available
        self.busy = busy
        self.snapshot = snapshot
        self.port = port
        self.peer = peer
        self.refusals = 0
        self.events: list[tuple[Any, ...]] = []
        self.reactions: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<FakeEndpoint {self.label}>"

    def _record(self, name: str, *args: Any) -> None:
        self.events.append((name,) + args)
        reaction = self.reactions.get(name)
        if reaction is not None:
            reaction(*args)

    def names(self) -> list[str]:
        """@return: the names of the recorded events, in order."""
        return [event[0] for event in self.events]

    # questions

    def mediaAvailable(self) -> bool:
        return self.available

    def mediaRefused(self) -> None:
        self.refusals += 1

    def lineBusy(self) -> bool:
        return self.busy

    def mediaSnapshot(self) -> Any:
        return self.snapshot

    def voicePortName(self, line: LineRef) -> str:
        return self.port

    def dialPeerTag(self, line: LineRef) -> int:
        return self.peer

    # events

    def seized(self, leg: Any) -> None:
        self._record("seized", leg)

    def digitsStarted(self, leg: Any) -> None:
        self._record("digitsStarted", leg)

    def secondaryDialTone(self, leg: Any) -> None:
        self._record("secondaryDialTone", leg)

    def proceeding(self, leg: Any, called: Any) -> None:
        self._record("proceeding", leg, called)

    def alerting(self, leg: Any, caller: Any) -> None:
        self._record("alerting", leg, caller)

    def ringback(self, leg: Any, called: Any) -> None:
        self._record("ringback", leg, called)

    def redirected(self, leg: Any, called: Any) -> None:
        self._record("redirected", leg, called)

    def failed(self, leg: Any, reason: Any) -> None:
        self._record("failed", leg, reason)

    def answering(self, leg: Any) -> None:
        self._record("answering", leg)

    def openReceive(self, leg: Any, stream: Any) -> None:
        self._record("openReceive", leg, stream)

    def startTransmit(self, leg: Any, stream: Any) -> None:
        self._record("startTransmit", leg, stream)

    def connected(self, leg: Any, remote: Any, encrypted: bool) -> None:
        self._record("connected", leg, remote, encrypted)

    def held(self, leg: Any, stream: Any) -> None:
        self._record("held", leg, stream)

    def heldByRemote(self, leg: Any, stream: Any, playTone: bool) -> None:
        self._record("heldByRemote", leg, stream, playTone)

    def resumed(self, leg: Any) -> None:
        self._record("resumed", leg)

    def resumedByRemote(self, leg: Any) -> None:
        self._record("resumedByRemote", leg)

    def answeredElsewhere(self, leg: Any) -> None:
        self._record("answeredElsewhere", leg)

    def remoteInUse(self, line: LineRef, reference: int) -> None:
        self._record("remoteInUse", line, reference)

    def remoteHeld(self, line: LineRef, reference: int) -> None:
        self._record("remoteHeld", line, reference)

    def remoteIdle(self, line: LineRef, reference: int) -> None:
        self._record("remoteIdle", line, reference)

    def transferred(self, leg: Any, remote: Any, ringing: bool) -> None:
        self._record("transferred", leg, remote, ringing)

    def released(self, leg: Any, stream: Any, answered: bool) -> None:
        self._record("released", leg, stream, answered)


@implementer(IDirectory)
class FakeDirectory:
    """
    An L{IDirectory} of fixed numbers: each number rings the endpoint lines
    given for it.

    @ivar numbers: number to its L{Destination}s.
    """

    def __init__(self) -> None:
        self.numbers: dict[str, list[Destination]] = {}

    def add(self, number: str, endpoint: Any, instance: int = 1, name: str = "", tag: int = 0) -> LineRef:
        """
        Give C{endpoint} a line with C{number}.

        @return: the line.
        """
        line = LineRef(instance, number, name, tag)
        self.numbers.setdefault(number, []).append(Destination(endpoint, line))
        return line

    def match(self, digits: str) -> DialMatch:
        longer = any(n.startswith(digits) and n != digits for n in self.numbers)
        if digits in self.numbers:
            return DialMatch.EXACT_OR_LONGER if longer else DialMatch.EXACT
        return DialMatch.PREFIX if longer else DialMatch.NONE

    def resolve(self, number: str) -> list[Destination]:
        return list(self.numbers.get(number, ()))
