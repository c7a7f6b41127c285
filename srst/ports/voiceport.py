# -*- test-case-name: tests.test_ports_voiceport -*-
"""
Analog voice ports (FXS and FXO loop start) as Automat state machines.

A L{VoicePort} interprets raw line events from its L{IVoicePortBackend}
(hook, digits, flash, ringing from the exchange), drives its DSP
(L{srst.ports.dsp.SimulatedDsp}: dial tone after off-hook, silence after the
first digit) and tells every subscribed L{IVoicePortListener} (the call
engine).  The engine commands the port with L{VoicePort.ring},
L{VoicePort.stopRinging}, L{VoicePort.seize}, L{VoicePort.release},
L{VoicePort.playTone}, L{VoicePort.stopTone}; the media leg joins the
port's audio with L{VoicePort.connectMedia} and leaves it with
L{VoicePort.disconnectMedia}.

States: C{idle} -> C{offHook} (FXS: dial tone) -> C{collecting} (digits)
-> C{connected} -> back to C{idle} on hook; C{idle} -> C{ringing} (FXS:
the engine rings the phone; FXO: the exchange rings the line) ->
C{connected} when answered (FXS: off hook; FXO: L{VoicePort.seize}).
The transitions act on the machine's L{VoicePortCore} (the line, the DSP,
the caller id and digits of the call) and only report events; the
L{VoicePort} tells its listeners once the machine has settled.

Audio is pulled: whoever carries the media asks L{VoicePort.nextPayload}
every 20 ms on its own clock (a payload while the media is connected,
nothing otherwise) and hands what the far end sends to
L{VoicePort.takePayload}.  No timers here.

L{srst.ports.simulated.SimulatedBackend} is the software line that
C{srst-cli voice-port ...} and the tests drive.
"""

from __future__ import annotations

import enum
from typing import Callable, Protocol

from attrs import define, field
from automat import NoTransition, TypeMachineBuilder
from twisted.logger import Logger
from zope.interface import implementer

from srst.debug import DebugSwitches
from srst.ports.config import VoicePortConfig
from srst.ports.dsp import SimulatedDsp
from srst.ports.g711 import G711Law
from srst.ports.interfaces import ILineListener, IVoicePortBackend, IVoicePortListener
from srst.ports.tones import CallProgressTone

DEBUG_NAMESPACE = "srst.debug.voiceport"
"""The debug category of what a port tells its listeners."""


class PortStatus(enum.Enum):
    """
    The state of a voice port; C{oper} is C{show voice port summary}'s
    OPER column.
    """

    IDLE = ("idle", "dorm")
    OFF_HOOK = ("offHook", "up")
    COLLECTING = ("collecting", "up")
    RINGING = ("ringing", "up")
    CONNECTED = ("connected", "up")

    def __init__(self, stateName: str, oper: str) -> None:
        self.stateName = stateName
        self.oper = oper


class VoicePortStateError(RuntimeError):
    """
    Something was asked of a voice port that its state does not allow.

    @ivar port: the port's name.
    @ivar action: what was asked.
    @ivar status: the port's L{PortStatus}.
    """

    def __init__(self, port: str, action: str, status: PortStatus) -> None:
        RuntimeError.__init__(self, port, action, status)
        self.port = port
        self.action = action
        self.status = status

    def __str__(self) -> str:
        return f"voice-port {self.port} is {self.status.stateName}: cannot {self.action}"


class VoicePortInputs(Protocol):
    """The inputs of the voice-port machine."""

    def lineOffHook(self) -> None:
        "The line went off hook."

    def lineOnHook(self) -> None:
        "The line went on hook."

    def lineDigit(self, digit: str) -> None:
        "A digit was received from the line."

    def lineFlash(self) -> None:
        "A hook flash was received."

    def lineRinging(self, callerId: str | None) -> None:
        "FXO: the exchange rings the line."

    def lineRingingStopped(self) -> None:
        "FXO: the exchange stopped ringing."

    def ring(self, callerId: str | None) -> None:
        "FXS: the engine rings the phone."

    def stopRinging(self) -> None:
        "FXS: the engine stops ringing the phone."

    def seize(self) -> None:
        "FXO: the engine takes the line off hook."

    def release(self) -> None:
        "FXO: the engine puts the line back on hook."

    def connectMedia(self) -> None:
        "The call's media is connected: the port's audio goes to the far end."

    def disconnectMedia(self) -> None:
        "The call's media is disconnected; the line stays off hook."

    def status(self) -> PortStatus:
        "The current state."


@define(eq=False)
class VoicePortCore:
    """
    The voice-port machine's core: the port's line and DSP, what it learnt
    of the current call, and the events its transitions report.

    @ivar config: the port's L{VoicePortConfig}.
    @ivar backend: the L{IVoicePortBackend} carrying the line.
    @ivar dsp: the port's L{SimulatedDsp}.
    @ivar debugLog: the L{DEBUG_NAMESPACE} logger (from the router's
        L{DebugSwitches}).
    @ivar callerId: the caller of the current or last ringing call.
    @ivar digits: the digits dialled since the port went off hook.
    @ivar events: what the transitions reported, for the listeners once
        the machine has settled (see L{VoicePort}).
    """

    config: VoicePortConfig
    backend: IVoicePortBackend
    dsp: SimulatedDsp
    debugLog: Logger = field(repr=False)
    callerId: str | None = None
    digits: str = ""
    events: list[tuple[str, tuple[object, ...]]] = field(factory=list, repr=False)

    def report(self, event: str, *args: object) -> None:
        """
        Queue an L{IVoicePortListener} event (logged in L{DEBUG_NAMESPACE}).

        @param event: the listener method's name.
        @param args: its arguments after the port.
        """
        self.debugLog.debug("voice-port {port}: {event} {args}", port=self.config.name, event=event, args=args)
        self.events.append((event, args))

    def clearCall(self) -> None:
        """The line is back on hook: silence, and no digits."""
        self.dsp.stop()
        self.digits = ""


def _makeVoicePortMachine():  # type: ignore[no-untyped-def]
    builder = TypeMachineBuilder(VoicePortInputs, "VoicePort")
    idle = builder.state("idle")
    offHook = builder.state("offHook")
    collecting = builder.state("collecting")
    ringing = builder.state("ringing")
    connected = builder.state("connected")

    for state, value in ((idle, PortStatus.IDLE), (offHook, PortStatus.OFF_HOOK),
                         (collecting, PortStatus.COLLECTING), (ringing, PortStatus.RINGING),
                         (connected, PortStatus.CONNECTED)):
        state.upon(VoicePortInputs.status).loop().returns(value)

    @idle.upon(VoicePortInputs.lineOffHook).to(offHook)
    def _offHook(inputs: VoicePortInputs, core: VoicePortCore) -> None:
        if core.config.signal.isFxs:
            core.dsp.playTone(CallProgressTone.DIAL)
        core.report("offHook")

    @idle.upon(VoicePortInputs.seize).to(offHook)
    def _seizeIdle(inputs: VoicePortInputs, core: VoicePortCore) -> None:
        core.backend.seize()

    @idle.upon(VoicePortInputs.ring).to(ringing)
    def _ring(inputs: VoicePortInputs, core: VoicePortCore, callerId: str | None) -> None:
        core.callerId = callerId
        core.backend.ring(callerId)

    @idle.upon(VoicePortInputs.lineRinging).to(ringing)
    def _incoming(inputs: VoicePortInputs, core: VoicePortCore, callerId: str | None) -> None:
        core.callerId = callerId
        core.report("incoming", callerId)

    for state in (offHook, collecting):
        @state.upon(VoicePortInputs.lineDigit).to(collecting)
        def _digit(inputs: VoicePortInputs, core: VoicePortCore, digit: str) -> None:
            if core.dsp.playing is CallProgressTone.DIAL:
                core.dsp.stop()
            core.digits += digit
            core.report("digit", digit)

    for state in (offHook, collecting, connected):
        @state.upon(VoicePortInputs.lineFlash).loop()
        def _flash(inputs: VoicePortInputs, core: VoicePortCore) -> None:
            core.report("flash")

        @state.upon(VoicePortInputs.lineOnHook).to(idle)
        def _onHook(inputs: VoicePortInputs, core: VoicePortCore) -> None:
            core.clearCall()
            core.report("onHook")

        @state.upon(VoicePortInputs.release).to(idle)
        def _release(inputs: VoicePortInputs, core: VoicePortCore) -> None:
            core.backend.release()
            core.clearCall()

    for state in (offHook, collecting):
        @state.upon(VoicePortInputs.connectMedia).to(connected)
        def _connect(inputs: VoicePortInputs, core: VoicePortCore) -> None:
            if isinstance(core.dsp.playing, CallProgressTone):
                core.dsp.stop()

    connected.upon(VoicePortInputs.connectMedia).loop().returns(None)

    @connected.upon(VoicePortInputs.lineDigit).loop()
    def _inCallDigit(inputs: VoicePortInputs, core: VoicePortCore, digit: str) -> None:
        core.report("digit", digit)

    connected.upon(VoicePortInputs.disconnectMedia).to(offHook).returns(None)

    @ringing.upon(VoicePortInputs.lineOffHook).to(connected)
    def _answer(inputs: VoicePortInputs, core: VoicePortCore) -> None:
        core.backend.stopRinging()
        core.report("offHook")

    @ringing.upon(VoicePortInputs.seize).to(connected)
    def _seizeRinging(inputs: VoicePortInputs, core: VoicePortCore) -> None:
        core.backend.seize()

    @ringing.upon(VoicePortInputs.stopRinging).to(idle)
    def _stopRinging(inputs: VoicePortInputs, core: VoicePortCore) -> None:
        core.backend.stopRinging()
        core.clearCall()

    @ringing.upon(VoicePortInputs.lineRingingStopped).to(idle)
    def _ringingStopped(inputs: VoicePortInputs, core: VoicePortCore) -> None:
        core.clearCall()
        core.report("onHook")

    return builder.build()


VoicePortMachine = _makeVoicePortMachine()
"""The voice-port machine (C{VoicePortMachine(core)} gives its inputs)."""


@implementer(ILineListener)
@define(eq=False)
class VoicePort:
    """
    One voice port: the API the call control uses, in front of the
    voice-port machine and its L{VoicePortCore}.

    @ivar listeners: the subscribed L{IVoicePortListener}s.
    @ivar txPackets: payloads handed out by L{nextPayload} (sent to the
        far end).
    @ivar rxPackets: payloads received from the far end.
    """

    _core: VoicePortCore
    listeners: list[IVoicePortListener] = field(factory=list)
    txPackets: int = 0
    rxPackets: int = 0
    _machine: VoicePortInputs = field(init=False, repr=False)
    _status: PortStatus = field(default=PortStatus.IDLE, repr=False)

    def __attrs_post_init__(self) -> None:
        self._machine = VoicePortMachine(self._core)

    @property
    def name(self) -> str:
        """The IOS voice-port name."""
        return self._core.config.name

    @property
    def config(self) -> VoicePortConfig:
        """The port's L{VoicePortConfig}."""
        return self._core.config

    @property
    def backend(self) -> IVoicePortBackend:
        """The L{IVoicePortBackend} carrying the line."""
        return self._core.backend

    @property
    def dsp(self) -> SimulatedDsp:
        """The port's L{SimulatedDsp}."""
        return self._core.dsp

    @property
    def callerId(self) -> str | None:
        """The caller of the current or last ringing call."""
        return self._core.callerId

    @property
    def digits(self) -> str:
        """The digits dialled since the port went off hook."""
        return self._core.digits

    @property
    def status(self) -> PortStatus:
        """
        The port's state (as of the last settled transition: listeners
        hear of a transition only after it, see L{_flush}).
        """
        return self._status

    def subscribe(self, listener: IVoicePortListener) -> None:
        """
        Report this port's events to C{listener}.

        @param listener: an L{IVoicePortListener}.
        """
        self.listeners.append(IVoicePortListener(listener))

    def unsubscribe(self, listener: IVoicePortListener) -> None:
        """
        Stop reporting to C{listener} (nothing happens if it is not subscribed).
        """
        if listener in self.listeners:
            self.listeners.remove(listener)

    def _flush(self) -> None:
        """
        Tell the listeners what the last transition reported, once the
        machine has settled: a listener may then ask the port's status or
        command it (ring, play a tone, seize) without re-entering the
        machine.
        """
        events = self._core.events
        while events:
            event, args = events.pop(0)
            for listener in list(self.listeners):
                getattr(listener, event)(self, *args)

    def _input(self, action: str, machineInput: Callable[..., None], *args: object) -> None:
        """
        Give the machine one input, then tell the listeners.

        @param action: what was asked, for the L{VoicePortStateError}.
        @param machineInput: the machine's input method.
        @raise VoicePortStateError: when the port's state has no
            transition for it.
        """
        try:
            machineInput(*args)
        except NoTransition:
            raise VoicePortStateError(self.name, action, self.status) from None
        self._status = self._machine.status()
        self._flush()

    def lineOffHook(self) -> None:
        """
        See L{ILineListener.lineOffHook}.

        @raise VoicePortStateError: when the port is already off hook.
        """
        self._input("go off hook", self._machine.lineOffHook)

    def lineOnHook(self) -> None:
        """
        See L{ILineListener.lineOnHook}.

        @raise VoicePortStateError: when the port is on hook.
        """
        self._input("go on hook", self._machine.lineOnHook)

    def lineDigit(self, digit: str) -> None:
        """
        See L{ILineListener.lineDigit}.

        @raise VoicePortStateError: when the port is not off hook.
        """
        self._input("dial", self._machine.lineDigit, digit)

    def lineFlash(self) -> None:
        """
        See L{ILineListener.lineFlash}.

        @raise VoicePortStateError: when the port is not off hook.
        """
        self._input("flash", self._machine.lineFlash)

    def lineRinging(self, callerId: str | None) -> None:
        """
        See L{ILineListener.lineRinging}.

        @raise VoicePortStateError: when the port is not idle.
        """
        self._input("ring", self._machine.lineRinging, callerId)

    def lineRingingStopped(self) -> None:
        """
        See L{ILineListener.lineRingingStopped}.

        @raise VoicePortStateError: when the port is not ringing.
        """
        self._input("stop ringing", self._machine.lineRingingStopped)

    def ring(self, callerId: str | None = None) -> None:
        """
        Ring the telephone on this FXS port.

        @param callerId: the calling number, if known.
        @raise VoicePortStateError: when the port is not idle.
        """
        self._input("ring", self._machine.ring, callerId)

    def stopRinging(self) -> None:
        """
        Stop ringing (the caller gave up).

        @raise VoicePortStateError: when the port is not ringing.
        """
        self._input("stop ringing", self._machine.stopRinging)

    def seize(self) -> None:
        """
        FXO: take the line off hook, to dial out or to answer its ringing.

        @raise VoicePortStateError: when the port is not idle or ringing.
        """
        self._input("seize", self._machine.seize)

    def release(self) -> None:
        """
        FXO: put the line back on hook, ending its call.  (An FXS port is
        cleared by its telephone going on hook; the engine disconnects its
        media and plays a tone meanwhile.)

        @raise VoicePortStateError: on an FXS port, or when the port is idle
            or ringing.
        """
        if self._core.config.signal.isFxs:
            raise VoicePortStateError(self.name, "release (an FXS port is released by going on hook)",
                                      self.status)
        self._input("release", self._machine.release)

    def outpulse(self, digits: str) -> None:
        """
        Dial C{digits} towards the exchange on a seized FXO line.

        @raise VoicePortStateError: on an FXS port, or when the line is not
            seized.
        """
        if self._core.config.signal.isFxs or self.status not in (PortStatus.OFF_HOOK, PortStatus.CONNECTED):
            raise VoicePortStateError(self.name, "outpulse digits", self.status)
        self._core.backend.outpulse(digits)

    def connectMedia(self) -> None:
        """
        The call's media is connected (the port is C{connected}, a
        call-progress tone stops): L{nextPayload} gives the port's audio
        from now on.

        @raise VoicePortStateError: when the port is idle or ringing.
        """
        self._input("connect media", self._machine.connectMedia)

    def disconnectMedia(self) -> None:
        """
        The call's media is disconnected; the port stays off hook.

        @raise VoicePortStateError: when the port is not connected.
        """
        self._input("disconnect media", self._machine.disconnectMedia)

    def playTone(self, tone: CallProgressTone, lineOnly: bool = False) -> None:
        """
        Play a call-progress tone to the line (and to the far end, while
        the media is connected, unless C{lineOnly}).

        @param tone: the tone.
        @param lineOnly: the far end gets silence meanwhile (an MGCP
            signal on the endpoint is for the analog line alone).
        """
        self._core.dsp.playTone(tone, lineOnly)

    def playDigits(self, digits: str) -> None:
        """
        Play DTMF digits to the line (and to the far end, while the media
        is connected and carries in-band DTMF), once.

        @param digits: C{0-9 * # A-D}.
        @raise ValueError: for a character that is no DTMF digit.
        """
        self._core.dsp.playDigits(digits)

    def stopTone(self) -> None:
        """Stop whatever is playing."""
        self._core.dsp.stop()

    def nextPayload(self) -> bytes | None:
        """
        The next 20 ms of audio this port sends to the far end; the media
        leg asks every 20 ms.

        @return: one G.711 payload from the DSP while the port is
            C{connected} (counted in L{txPackets}), else L{None}.
        """
        if self._status is not PortStatus.CONNECTED:
            return None
        self.txPackets += 1
        return self._core.dsp.nextPayload()

    def takePayload(self, payload: bytes) -> None:
        """
        Audio from the far end, to play to the line (the media path: the
        samples are decoded only when recording).

        @param payload: one G.711 payload.
        """
        self.rxPackets += 1
        self._core.dsp.takePayload(payload)

    def receivePayload(self, payload: bytes) -> tuple[int, ...]:
        """
        Audio from the far end, to play to the line.

        @param payload: one G.711 payload.
        @return: its linear samples.
        """
        self.rxPackets += 1
        return self._core.dsp.receivePayload(payload)


def newVoicePort(config: VoicePortConfig, backend: IVoicePortBackend, law: G711Law = G711Law.ULAW, *,
                 debug: DebugSwitches) -> VoicePort:
    """
    @param config: the port's configuration.
    @param backend: its L{IVoicePortBackend}.
    @param law: the G.711 law of its audio.
    @param debug: the router's switches (the port's events are logged in
        L{DEBUG_NAMESPACE}).
    @return: an idle L{VoicePort} attached to C{backend}.
    """
    core = VoicePortCore(config, IVoicePortBackend(backend), SimulatedDsp(law), debug.logger(DEBUG_NAMESPACE))
    port = VoicePort(core)
    backend.attach(port, core.dsp)
    return port


__all__ = ["DEBUG_NAMESPACE", "PortStatus", "VoicePort", "VoicePortCore", "VoicePortInputs", "VoicePortMachine",
           "VoicePortStateError", "newVoicePort"]
