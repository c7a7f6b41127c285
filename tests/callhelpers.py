"""
Shared helpers of the call tests.

  - Device-neutral: L{FakeEndpoint} and L{FakeDirectory} (an
    L{ICallEndpoint} and an L{IDirectory} that record and answer as told),
    and L{Engine} (a L{CallEngine} on a L{Clock} routing through a
    L{FakeDirectory}), for the engine's own tests.
  - In-memory SCCP phones: L{CallRouter} (the call engine and its SCCP
    adapter wired into the listeners of L{tests.test_sccp_station.Router}
    the way the service does it), the phones Alice (2001), Bob (2002) and
    Carol (2003), L{CallSetup} (a connected call between Alice and Bob),
    the SCCP messages of sccp.md 5.4 (L{offHookSequence},
    L{hangUpSequence}, L{stopRinging}, ...) and L{assertAllIdle}.
  - Real sockets: L{waitFor} and L{waitUntil} (Deferreds fired by what a
    simulated phone or its media receives, each bounded;
    L{tests.routerhelpers.within} bounds any other wait), L{isCallState},
    L{isMessage}, L{autoAck}.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import FailTest, SynchronousTestCase
from zope.interface import implementer

from srst.sccp.config import EphoneConfig, LineButton
from srst.admin.commands import CommandResult, CommandTable
from srst.calls.commands import registerCallCommands
from srst.calls.engine import CallEngine
from srst.calls.forward import ForwardSettings
from srst.calls.interfaces import Destination, DialMatch, ICallEndpoint, IDirectory, LineRef
from srst.calls.media import Codec, OfferedCodec
from srst.debug import DebugSwitches
from srst.media.srtp import generateKeys
from srst.ports.callendpoint import DEBUG_NAMESPACE
from srst.sccp import messages as m
from srst.sccp.callcontrol import SccpCallControl
from srst.sccp.callendpoint import ALL_KEYS
from srst.sccp.commands import registerOffhookCommand
from srst.sccp.constants import (
    CallState,
    CallType,
    DeviceType,
    LampMode,
    RingDuration,
    RingMode,
    SoftKeySet,
    SpeakerMode,
    Stimulus,
    Tone,
    ToneDirection,
)
from srst.tools._phoneclient import SimulatedPhone
from tests.pkihelpers import makePhoneCertificate
from tests.routerhelpers import bounded
from tests.test_sccp_station import NOW, Phone, Router, makeConfig, phoneCA, secureConnect, types

# -- device-neutral fakes ------------------------------------------------------------------------


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
                 peer: int = 0, outside: bool = False) -> None:
        self.label = label
        self.outside = outside
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

    def mediaClosed(self, leg: Any, stream: Any) -> None:
        self._record("mediaClosed", leg, stream)

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


class Engine:
    """A L{CallEngine} on a L{Clock} with one L{FakeDirectory}."""

    def __init__(self, **kwargs: Any) -> None:
        self.clock = Clock()
        kwargs.setdefault("interdigit", 10)
        kwargs.setdefault("ringing", 0)
        self.engine = CallEngine(self.clock, **kwargs)
        self.directory = FakeDirectory()
        self.engine.addDirectory(self.directory)

    def endpoint(self, number: str, **kwargs: Any) -> tuple[FakeEndpoint, LineRef]:
        """@return: a new fake endpoint with a line for C{number}, and the line."""
        endpoint = FakeEndpoint(number, **kwargs)
        return endpoint, self.directory.add(number, endpoint)

    def dial(self, leg: Any, digits: str) -> None:
        for digit in digits:
            self.engine.digit(leg, digit)


PORT_DEBUG_LOG = DebugSwitches().logger(DEBUG_NAMESPACE)
"""The C{debug voice-port} logger of the voice-port call endpoints in tests (switched off)."""


# -- in-memory SCCP phones -----------------------------------------------------------------------

MAC_A, MAC_B, MAC_C = "0000000000A1", "0000000000B2", "0000000000C3"
DN = {MAC_A: "2001", MAC_B: "2002", MAC_C: "2003"}
NAMES = {MAC_A: "Alice", MAC_B: "Bob", MAC_C: "Carol"}
PORTS = {MAC_A: 30001, MAC_B: 30002, MAC_C: 30003}


def callConfig(**kwargs: Any) -> Any:
    """Three configured 7970s with lines 2001 (Alice), 2002 (Bob), 2003 (Carol)."""
    kwargs.setdefault("ephones", tuple(
        EphoneConfig(mac, "7970", (LineButton(1, DN[mac], DN[mac], NAMES[mac]),)) for mac in (MAC_A, MAC_B, MAC_C)))
    kwargs.setdefault("autoAssign", None)
    return makeConfig(**kwargs)


class CallRouter:
    """
    L{Router} plus the call engine wired into both listeners the way the
    service does it: the SCCP call adapter is their station listener.
    """

    def __init__(self, config: Any = None, keyFactory: Any = generateKeys) -> None:
        self.router = Router(config or callConfig())
        self.clock = self.router.clock
        cmf = self.router.config
        self.engine = CallEngine(self.clock, interdigit=cmf.timeouts.interdigit, ringing=cmf.timeouts.ringing,
                                 busy=cmf.timeouts.busy, secondaryDialtone=cmf.secondaryDialtone, keyFactory=keyFactory,
                                 forwards=ForwardSettings.fromConfig(cmf.callForward))
        self.control = SccpCallControl(self.engine, self.router.registry)
        self.router.factoryArgs = dict(listener=self.control)
        self.plain = self.router.plain
        self.plain.listener = self.control
        self.secure = self.router.makeFactory(secure=True)

    def phone(self, mac: str, secure: bool = False, version: int = 11,
              capabilities: tuple[int, ...] = (4, 2)) -> Phone:
        """@return: a registered phone whose capabilities are known; its inbox is empty."""
        if secure:
            certificate, _ = makePhoneCertificate(phoneCA(), mac)
            phone = secureConnect(self.router, certificate, factory=self.secure, port=PORTS[mac])
        else:
            phone = self.router.connect(port=PORTS[mac])
        phone.register("SEP" + mac, protocolVersion=version, deviceType=DeviceType.PHONE_7970)
        phone.send(m.CapabilitiesRes([m.MediaCapability(c, 40) for c in capabilities]))
        phone.received()
        return phone


def ack(phone: Phone, orc: m.OpenReceiveChannel, host: str, port: int, status: int = 0) -> list[m.Message]:
    """Answer an OpenReceiveChannel; @return: what the router sent back to this phone."""
    phone.send(m.OpenReceiveChannelAck(status, ipaddress.IPv4Address(host), port, orc.passThruPartyId,
                                       orc.callReference))
    return phone.received()


A_REF, B_REF = 1, 2


def dial(phone: Any, digits: str) -> None:
    """Press keypad buttons (0-9, *, #)."""
    phone.send(*[m.KeypadButton("0123456789ABCD*#".index(c)) for c in digits])


def callState(state: int, ref: int) -> m.CallState:
    return m.CallState(state, 1, ref, 0, 4, 0)


def keys(softKeySet: int, ref: int) -> m.SelectSoftKeys:
    return m.SelectSoftKeys(1, ref, softKeySet, ALL_KEYS)


def prompt(text: str, ref: int) -> m.DisplayPromptStatus:
    return m.DisplayPromptStatus(0, text, 1, ref)


def tone(value: int, ref: int) -> m.StartTone:
    return m.StartTone(value, ToneDirection.USER, 1, ref)


def callInfo(calling: str, callingName: str, called: str, calledName: str, ref: int, callType: int,
             security: int) -> m.CallInfo:
    return m.CallInfo(callingPartyName=callingName, callingParty=calling, calledPartyName=calledName,
                      calledParty=called, lineInstance=1, callReference=ref, callType=callType,
                      originalCalledPartyName=calledName, originalCalledParty=called, callInstance=1,
                      callSecurityStatus=security)


def offHookSequence(ref: int, speaker: bool = False) -> list[m.Message]:
    """sccp.md 5.4 (a)."""
    return ([m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0)]
            + ([m.SetSpeakerMode(SpeakerMode.ON)] if speaker else [])
            + [m.SetLamp(Stimulus.LINE, 1, LampMode.ON), callState(CallState.OFF_HOOK, ref),
               keys(SoftKeySet.OFF_HOOK, ref), prompt(m.LABEL_ENTER_NUMBER, ref), m.ActivateCallPlane(1),
               tone(Tone.INSIDE_DIAL, ref)])


def hangUpSequence(ref: int, media: m.OpenReceiveChannel | None, answered: bool = True) -> list[m.Message]:
    """sccp.md 5.4 (f)."""
    stop = [] if media is None else [m.CloseReceiveChannel(ref, media.passThruPartyId, ref),
                                     m.StopMediaTransmission(ref, media.passThruPartyId, ref)]
    return ([m.StopTone(1, ref), m.SetLamp(Stimulus.LINE, 1, LampMode.OFF), m.ClearPromptStatus(1, ref)] + stop
            + [callState(CallState.ON_HOOK, ref), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS),
               m.DefineTimeDate.fromDateTime(NOW), m.SetSpeakerMode(SpeakerMode.OFF)]
            + ([m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0)] if answered else []))


def only(msgs: list[m.Message], kind: type) -> Any:
    found = [msg for msg in msgs if isinstance(msg, kind)]
    assert len(found) == 1, (kind, types(msgs))
    return found[0]


class CallSetup:
    """A call from Alice (2001) to Bob (2002) taken to the connected state."""

    def __init__(self, testCase: SynchronousTestCase, secureA: bool = False, secureB: bool = False,
                 router: CallRouter | None = None) -> None:
        self.router = router or CallRouter()
        self.a = self.router.phone(MAC_A, secure=secureA)
        self.b = self.router.phone(MAC_B, secure=secureB)

    def ring(self) -> tuple[list[m.Message], list[m.Message]]:
        self.a.send(m.OffHook())
        dial(self.a, "2002")
        return self.a.received(), self.b.received()

    def connect(self) -> None:
        self.ringA, self.ringB = self.ring()
        self.b.send(m.OffHook())
        self.answerB = self.b.received()
        self.answerA = self.a.received()
        self.orcA = only(self.answerA, m.OpenReceiveChannel)
        self.orcB = only(self.answerB, m.OpenReceiveChannel)
        ack(self.a, self.orcA, "10.1.1.8", 25552)
        self.smtB = only(self.b.received(), m.StartMediaTransmission)
        ack(self.b, self.orcB, "10.1.1.9", 17520)
        self.smtA = only(self.a.received(), m.StartMediaTransmission)


def assertAllIdle(testCase: SynchronousTestCase, router: CallRouter, channels: list[list[str]] | None = None) -> None:
    """
    No leg, no call, no leg timer; every line channel IDLE and the show
    ephone counters 0.

    @param channels: when given, each registered phone's line channels
        must be exactly this (C{[["IDLE"]]}: one line, one channel); else
        any number of lines and channels, all idle.
    """
    testCase.assertEqual(router.engine.calls(), [])
    for ephone in router.router.registry.registeredEphones():
        testCase.assertEqual(router.engine.legsOf(router.control.endpointFor(ephone.station)), [])
        if channels is not None:
            testCase.assertEqual([line.channels for line in ephone.lines], channels, ephone.deviceName)
        else:
            testCase.assertEqual({state for line in ephone.lines for state in line.channels}, {"IDLE"})
        testCase.assertEqual((ephone.activeLine, ephone.offhook, ephone.ringing, ephone.mediaActive), (0, 0, 0, 0))
    testCase.assertFalse([c for c in router.clock.getDelayedCalls() if "timedOut" not in repr(c.func)],
                         router.clock.getDelayedCalls())


def stopRinging(ref: int) -> list[m.Message]:
    """sccp.md 5.4 (f) for a still-ringing phone."""
    return [m.SetRinger(RingMode.OFF, RingDuration.NORMAL, 0, 0), callState(CallState.ON_HOOK, ref),
            m.SetLamp(Stimulus.LINE, 1, LampMode.OFF), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS)]


def forwardedInfo(ref: int, original: str, reason: int, originalName: str = "") -> m.CallInfo:
    """The CallInfo of a forwarded incoming call from Alice (callType 3)."""
    return m.CallInfo(callingPartyName="Alice", callingParty="2001", calledPartyName="Carol",
                      calledParty="2003", lineInstance=1, callReference=ref, callType=CallType.FORWARD,
                      originalCalledPartyName=originalName, originalCalledParty=original,
                      lastRedirectingPartyName=originalName, lastRedirectingParty=original,
                      originalCdpnRedirectReason=reason, lastRedirectingReason=reason, callInstance=1,
                      callSecurityStatus=0)


class Phones:
    """
    Alice (2001), Bob and Carol on one router (by default Bob 2002 and
    Carol 2003; with L{sharedLineConfig}, Bob and Carol share 2002), with the
    given router-wide forwarding (C{all}, C{busy}, C{noAnswer},
    C{noAnswerTimeout}).
    """

    def __init__(self, config: Any = None, **forwards: Any) -> None:
        self.router = CallRouter(config)
        for name, value in forwards.items():
            setattr(self.router.engine.forwards, name, value)
        self.a, self.b, self.c = (self.router.phone(mac) for mac in (MAC_A, MAC_B, MAC_C))

    def aCallsBob(self) -> None:
        """Alice goes off hook and dials 2002."""
        self.a.send(m.OffHook())
        dial(self.a, "2002")

    def assertAllIdle(self, testCase: SynchronousTestCase) -> None:
        """See L{assertAllIdle} (any number of channels)."""
        assertAllIdle(testCase, self.router)


def sharedLineConfig() -> Any:
    """@return: a router where Alice has 2001 and Bob and Carol both have 2002 (Bob's name)."""
    return callConfig(ephones=(
        EphoneConfig(MAC_A, "7970", (LineButton(1, "2001", "2001", "Alice"),)),
        EphoneConfig(MAC_B, "7970", (LineButton(1, "2002", "2002", "Bob"),)),
        EphoneConfig(MAC_C, "7970", (LineButton(1, "2002", "2002", "Bob"),))))


class Commands:
    """
    The call commands (C{show ephone offhook}, C{show voice call status})
    registered on a table as the service registers them, for one
    L{CallRouter}.
    """

    def __init__(self, router: CallRouter) -> None:
        self.table = CommandTable()
        registerOffhookCommand(self.table, router.control)
        registerCallCommands(self.table, router.engine)

    def run(self, words: str) -> CommandResult:
        """@return: the result of a command."""
        command, variables = self.table.lookup(words.split())
        result = command.handler(**variables)
        assert isinstance(result, CommandResult)
        return result

    def lines(self, words: str) -> list[str]:
        """@return: the text of a command, split into lines."""
        text = self.run(words).text
        return text.split("\n") if text else []


def connected(testCase: SynchronousTestCase, **kwargs: Any) -> tuple[CallSetup, Commands]:
    """@return: a connected call from Alice (2001, DN 1) to Bob (2002, DN 2), and the commands."""
    call = CallSetup(testCase, **kwargs)
    call.connect()
    return call, Commands(call.router)


# -- real sockets: simulated phones ---------------------------------------------------------------


def isCallState(state: int, ref: int | None = None) -> Callable[[m.Message], bool]:
    """@return: a predicate for CallState C{state} (on call C{ref} if given)."""
    return lambda msg: (isinstance(msg, m.CallState) and msg.callState == state
                        and (ref is None or msg.callReference == ref))


def isMessage(messageType: type, **fields: Any) -> Callable[[m.Message], bool]:
    """@return: a predicate for a C{messageType} message with the given field values."""
    return lambda msg: isinstance(msg, messageType) and all(getattr(msg, k) == v for k, v in fields.items())


def waitFor(phone: SimulatedPhone, predicate: Callable[[m.Message], bool], since: int = 0,
            timeout: float = 10.0, what: str = "the awaited message") -> Deferred:
    """
    @param since: look at C{phone.received[since:]} first (0: every
        message received so far).
    @param timeout: seconds after which the wait fails with
        L{FailTest} naming C{what} (a bound on a hang under a bug,
        not a polling period).
    @return: a L{Deferred} firing with the first message (already received
        since C{since}, or coming) that satisfies C{predicate}.
    """
    for msg in phone.received[since:]:
        if predicate(msg):
            return succeed(msg)
    d: Deferred = Deferred()

    def observe(msg: m.Message) -> None:
        if not d.called and predicate(msg):
            phone.removeMessageObserver(observe)
            if timer.active():
                timer.cancel()
            d.callback(msg)

    def expire() -> None:
        phone.removeMessageObserver(observe)
        d.errback(FailTest("timed out after %g s waiting for %s on %s" % (timeout, what, phone.deviceName)))

    phone.addMessageObserver(observe)
    timer = reactor.callLater(timeout, expire)
    return d


def waitUntil(condition: Callable[[], bool], what: str, *phones: SimulatedPhone, timeout: float = 5.0) -> Deferred:
    """
    Wait for C{condition()} to hold, checking it now and again after every
    message one of C{phones} receives and every datagram its media (if any)
    receives: the events that change what the condition looks at (a
    router-side condition is checked on the phones' events too, which
    follow it: the messages the router sends with the change, or the media
    a connected port sends every 20 ms).  No polling.

    @param what: what is awaited, for the failure.
    @param timeout: seconds after which the wait fails with
        L{FailTest} (a guard against a hang, not a polling period).
    @return: a L{Deferred} firing with L{None} once the condition holds.
    """
    if condition():
        return succeed(None)
    done: Deferred = Deferred()

    def check(*ignored: object) -> None:
        if done.called:
            return
        try:
            holds = condition()
        except Exception:
            stop()
            done.errback()
            return
        if holds:
            stop()
            done.callback(None)

    def expire() -> None:
        stop(cancelTimer=False)
        done.errback(FailTest("timed out after %g s waiting for %s" % (timeout, what)))

    def stop(cancelTimer: bool = True) -> None:
        for phone in phones:
            phone.removeMessageObserver(check)
            if phone.media is not None:
                phone.media.removePacketObserver(check)
        if cancelTimer and timer.active():
            timer.cancel()

    for phone in phones:
        phone.addMessageObserver(check)
        if phone.media is not None:
            phone.media.addPacketObserver(check)
    timer = reactor.callLater(timeout, expire)
    return done


@bounded
def expect(phone: SimulatedPhone, predicate: Callable[[m.Message], bool], what: str,
           since: int = 0, timeout: float = 5.0) -> Any:
    """
    Wait for a message satisfying C{predicate} in C{phone.received[since:]}.

    @return: a L{Deferred} firing with the first such message.
    @raise AssertionError: when none arrives within C{timeout} seconds.
    """
    found: list[m.Message] = []

    def check() -> bool:
        found[:] = [msg for msg in phone.received[since:] if predicate(msg)][:1]
        return bool(found)

    yield waitUntil(check, "%s: %s" % (phone.deviceName, what), phone, timeout=timeout)
    return found[0]


@bounded
def answeredCall(caller: SimulatedPhone, callee: SimulatedPhone, number: str) -> Any:
    """
    C{caller} dials C{number}, C{callee} answers: wait until both are
    connected and both send media.

    @return: a L{Deferred} firing with the caller's CallState (connected).
    """
    mark = len(caller.received), len(callee.received)
    caller.offHook()
    caller.pressKeys(number)
    yield expect(callee, isCallState(CallState.RING_IN), "ringing", mark[1])
    callee.offHook()
    connected = yield expect(caller, isCallState(CallState.CONNECTED), "connected", mark[0])
    yield expect(callee, isCallState(CallState.CONNECTED), "callee connected", mark[1])
    yield waitUntil(lambda: len(caller.media.transmitters) == 1 and len(callee.media.transmitters) == 1,
                    "both phones sending", caller, callee)
    return connected


@bounded
def rings(caller: SimulatedPhone, callee: SimulatedPhone, number: str) -> Any:
    """
    C{caller} goes off hook and dials C{number}: wait until C{callee} rings
    (SetRinger, inside ring).
    """
    ringing = waitFor(callee, lambda msg: isinstance(msg, m.SetRinger) and msg.ringMode == RingMode.INSIDE)
    caller.offHook()
    caller.pressKeys(number)
    yield ringing


def autoAck(phone: SimulatedPhone, port: int) -> None:
    """Make the phone answer every OpenReceiveChannel with its RTP address."""

    def observe(msg: m.Message) -> None:
        if isinstance(msg, m.OpenReceiveChannel):
            phone.sendMessage(m.OpenReceiveChannelAck(0, ipaddress.IPv4Address("127.0.0.1"), port,
                                                      msg.passThruPartyId, msg.callReference))

    phone.addMessageObserver(observe)
