# -*- test-case-name: tests.test_phone_call -*-
"""
One person's phone call from a terminal: what C{srst-phone call} and
C{srst-phone answer} do with one L{SimulatedPhone}.

L{CallFollower} observes the phone and turns what the router sends into
one line per call state a person would notice (C{ringing out},
C{connected to 2002 secure}, C{busy}, C{reorder}, the prompt and notify
texts), and into the events the commands wait for: the call connected,
busy or refused, a call ringing in, the call ended.  The phone only sends
what the person does (L{SimulatedPhone.offHook}, C{pressKeys}, C{softKey},
C{onHook}); the follower invents no call behaviour either.

Softkeys are named as the phone shows them (L{softKeyEvent}): the main
label table's text for the event (C{Redial}, C{NewCall}, C{Hold},
C{Transfer} or C{Trnsfer} as a 79xx abbreviates it, C{Resume}, C{PickUp},
C{GPickUp}, C{DND} ...), in any case.  Feature buttons (L{Button}) are
named C{speeddial:N}, C{messages} and C{redial}.

Besides call states the follower prints what else a person would see
change: the redirect of a forwarded call ringing in (C{forwarded from 3002
(busy)}), the message-waiting and do-not-disturb lamps (SetLamp) and the
line's forward-all (ForwardStat: C{forwarded all to 3003}, C{forward all
cancelled}).
"""

from __future__ import annotations

import enum
from typing import Any, Callable

from attrs import frozen
from twisted.internet.defer import Deferred

from srst.calls.forward import ForwardReason
from srst.sccp import messages as m
from srst.sccp.constants import CallSecurityStatus, CallState, CallType, LampMode, SoftKeyEvent, Stimulus, Tone
from srst.tools._phoneclient import OneShot, SimulatedPhone
from srst.tools._phonetypes import PhoneDisconnected


def _softKeyNames() -> dict[str, SoftKeyEvent]:
    names: dict[str, SoftKeyEvent] = {}
    for event in SoftKeyEvent:
        try:
            m.Label(int(event))
        except ValueError:
            continue
        names[m.describeText(m.label(event)).strip().lower()] = event
    names["trnsfer"] = SoftKeyEvent.TRANSFER
    return names


SOFT_KEYS: dict[str, SoftKeyEvent] = _softKeyNames()
"""Softkey names (lower case) as the phone shows them, to their events."""


class UnknownSoftKey(ValueError):
    """A softkey name no phone shows."""


def softKeyEvent(name: str) -> SoftKeyEvent:
    """
    @param name: a softkey as the phone shows it (C{"DND"}, C{"GPickUp"},
        any case).
    @return: its event.
    @raise UnknownSoftKey: for a name that is not a softkey.
    """
    try:
        return SOFT_KEYS[name.strip().lower()]
    except KeyError:
        raise UnknownSoftKey("unknown softkey %r (one of: %s)" % (
            name, ", ".join(sorted(m.describeText(m.label(e)).strip() for e in set(SOFT_KEYS.values())))
        )) from None


class UnknownButton(ValueError):
    """A button name L{button} does not know."""


@frozen
class Key:
    """
    A key a person presses before a call: a softkey or a feature button.

    @ivar name: how the tool names it (C{"DND"}, C{"speeddial:2"}).
    @ivar softKey: the softkey's event, or L{None} for a button.
    @ivar stimulus: the button's L{Stimulus} (for a button).
    @ivar instance: the button's instance (the speed-dial number).
    """

    name: str
    softKey: SoftKeyEvent | None = None
    stimulus: Stimulus = Stimulus.UNDEFINED
    instance: int = 1

    def press(self, phone: SimulatedPhone, reference: int) -> None:
        """
        Press it: SoftKeyEvent (line 1) or Stimulus.

        @param reference: the phone's current call, or 0.
        """
        if self.softKey is not None:
            phone.softKey(self.softKey, 1, reference)
        else:
            phone.stimulus(self.stimulus, self.instance, reference)

    @property
    def forwardAll(self) -> bool:
        """Whether this key opens the CFwdAll input."""
        return self.softKey == SoftKeyEvent.CFWD_ALL or self.stimulus == Stimulus.FORWARD_ALL


def softKey(name: str) -> Key:
    """
    @param name: a softkey as the phone shows it (L{softKeyEvent}).
    @return: the L{Key}.
    @raise UnknownSoftKey: for a name that is not a softkey.
    """
    return Key(name, softKey=softKeyEvent(name))


def button(name: str) -> Key:
    """
    @param name: C{speeddial:N} (the N-th speed-dial button), C{messages}
        (the Messages button: the voicemail number) or C{redial}, any case.
    @return: the L{Key}.
    @raise UnknownButton: for anything else.
    """
    word, _, number = name.strip().lower().partition(":")
    if word == "speeddial" and number.isdigit() and 0 < int(number) < 256:
        return Key(name, stimulus=Stimulus.SPEED_DIAL, instance=int(number))
    if not number and word in _BUTTONS:
        return Key(name, stimulus=_BUTTONS[word])
    raise UnknownButton("unknown button %r (one of: speeddial:N, messages, redial)" % (name,))


_BUTTONS = {"messages": Stimulus.VOICE_MAIL, "redial": Stimulus.LAST_NUMBER_REDIAL}

_REASONS = {ForwardReason.BUSY: "busy", ForwardReason.NO_ANSWER: "no answer", ForwardReason.ALL: "forward all",
            ForwardReason.TRANSFER: "transfer"}

_LAMPS = {Stimulus.VOICE_MAIL: "message waiting", Stimulus.DO_NOT_DISTURB: "do not disturb"}


class Outcome(enum.Enum):
    """How a call attempt ended up."""

    CONNECTED = "connected"
    BUSY = "busy"
    REORDER = "reorder"
    ENDED = "ended"
    """The call went back on hook before it connected."""


class CallFollower:
    """
    Follow the calls of one phone and say what happens (module docstring).

    @ivar phone: the phone.
    @ivar reference: the call reference of the phone's current call, or 0.
    @ivar offHook: whether the phone is off hook with a call being set up
        (dial tone or dialling), so dialling needs no OffHook.
    @ivar inCall: whether the phone has a call (any state but on hook).
    @ivar calls: the call references of every call the phone has (any
        state but on hook: a call on hold too), to their last state.
    @ivar secure: whether the connected call is encrypted (CallInfo).
    @ivar lastPrompt: the last prompt text shown, in English.
    """

    def __init__(self, phone: SimulatedPhone, write: Callable[[str], None]) -> None:
        """
        @param phone: the phone to follow; the follower observes its
            messages from now on.
        @param write: called with each line to show (without newline).
        """
        self.phone = phone
        self._write = write
        self.reference = 0
        self.offHook = False
        self.inCall = False
        self.calls: dict[int, int] = {}
        self.secure = False
        self.lastPrompt = ""
        self._connecting = False
        self._ringingIn = False
        self._connected = False
        self._connectedReference = 0
        self._connectedLine = ""
        self._state = CallState.ON_HOOK
        self._lamps: dict[int, bool] = {}
        self._outcome: OneShot[Outcome] = OneShot()
        self._ringIn: OneShot[int] = OneShot()
        self._ended: OneShot[None] = OneShot()
        self._connections: list[Deferred[int]] = []
        self._ringingOut: list[Deferred[int]] = []
        self._failures: list[Deferred[Outcome]] = []
        self._syncSent = 0
        self._syncs: list[tuple[int, Deferred[None]]] = []
        phone.addMessageObserver(self.messageReceived)
        phone.whenDisconnected().addCallback(self._disconnected)

    def whenOutcome(self) -> Deferred[Outcome]:
        """
        @return: a L{Deferred} with the first L{Outcome} of a call, failing
            with L{PhoneDisconnected} when the connection ends first.
        """
        return self._outcome.wait()

    def whenRingingIn(self) -> Deferred[int]:
        """
        @return: a L{Deferred} with the reference of a call ringing in,
            failing with L{PhoneDisconnected} when the connection ends first.
        """
        return self._ringIn.wait()

    def whenConnected(self) -> Deferred[int]:
        """
        @return: a L{Deferred} with the reference of the next call that
            connects to a new party (a consultation call, say), failing
            with L{PhoneDisconnected} when the connection ends first.
        """
        d: Deferred[int] = Deferred()
        self._connections.append(d)
        return d

    def whenRingingOut(self) -> Deferred[int]:
        """
        @return: a L{Deferred} with the reference of the next call that
            rings out, failing with L{PhoneDisconnected} when the
            connection ends first.
        """
        d: Deferred[int] = Deferred()
        self._ringingOut.append(d)
        return d

    def whenFailed(self) -> Deferred[Outcome]:
        """
        @return: a L{Deferred} with the L{Outcome} (busy, reorder) of the
            next call set-up that fails (a consultation call, say), failing
            with L{PhoneDisconnected} when the connection ends first.
        """
        d: Deferred[Outcome] = Deferred()
        self._failures.append(d)
        return d

    def _failed(self, outcome: Outcome) -> None:
        self._outcome.fire(outcome)
        failures, self._failures = self._failures, []
        for d in failures:
            d.callback(outcome)

    def whenEnded(self) -> Deferred[None]:
        """@return: a L{Deferred} firing once a connected call is over."""
        return self._ended.wait()

    def sync(self) -> Deferred[None]:
        """
        Send a KeepAlive and wait for its KeepAliveAck: the router answers
        in order, so by then everything it sent in answer to what the phone
        sent before (a softkey, OnHook) has been followed.

        @return: a L{Deferred} firing with L{None} once that ack is in.
        """
        d: Deferred[None] = Deferred()
        self._syncSent += 1
        self._syncs.append((self.phone.keepAlivesSent + self._syncSent, d))
        self.phone.sendMessage(m.KeepAlive())
        return d

    def _disconnected(self, reason: BaseException) -> None:
        gone = PhoneDisconnected(self.phone.deviceName, "connection closed: %s" % (reason,))
        self._outcome.fail(gone)
        self._ringIn.fail(gone)
        self._ended.fire(None)
        waiting: list[Deferred[Any]] = [*self._connections, *self._ringingOut, *self._failures]
        self._connections, self._ringingOut, self._failures = [], [], []
        for d in waiting:
            d.errback(gone)
        syncs, self._syncs = self._syncs, []
        for _, d in syncs:
            d.callback(None)

    # -- messages -------------------------------------------------------------

    def messageReceived(self, msg: m.Message) -> None:
        """
        Follow one message from the router.

        @param msg: the message.
        """
        if isinstance(msg, m.CallState):
            self._callState(msg)
        elif isinstance(msg, m.CallInfo):
            self._callInfo(msg)
        elif isinstance(msg, m.DisplayPromptStatus):
            text = m.describeText(msg.promptStatus).strip()
            if text and text != self.lastPrompt:
                self._write("prompt: %s" % (text,))
            self.lastPrompt = text
        elif isinstance(msg, (m.DisplayNotify, m.DisplayPriNotify)):
            text = m.describeText(msg.notify).strip()
            if text:
                self._write("notify: %s" % (text,))
        elif isinstance(msg, m.SetLamp) and msg.stimulus in _LAMPS:
            on = msg.lampMode != LampMode.OFF
            if self._lamps.get(msg.stimulus) != on:
                self._lamps[msg.stimulus] = on
                self._write("%s %s" % (_LAMPS[Stimulus(msg.stimulus)], "on" if on else "off"))
        elif isinstance(msg, m.ForwardStat):
            if msg.forwardAllActive and msg.forwardAllDirnum:
                self._write("forwarded all to %s" % (msg.forwardAllDirnum,))
            else:
                self._write("forward all cancelled")
        elif isinstance(msg, m.StartTone) and msg.tone == Tone.REORDER:
            self._write("reorder")
            self._failed(Outcome.REORDER)
        elif isinstance(msg, m.KeepAliveAck):
            acks = self.phone.keepAliveAcks
            while self._syncs and self._syncs[0][0] <= acks:
                self._syncs.pop(0)[1].callback(None)

    def _callState(self, msg: m.CallState) -> None:
        state = msg.callState
        if state == CallState.ON_HOOK:
            self.calls.pop(msg.callReference, None)
        elif msg.callReference:
            self.calls[msg.callReference] = state
        if state == CallState.ON_HOOK:
            if msg.callReference not in (0, self.reference):
                return
            if self._connected and msg.callReference not in (0, self._connectedReference):
                # A consultation call ended (EndCall, or the router gave up
                # on it): the held call is still this phone's.
                self.reference = self._connectedReference
                self.offHook = self._connecting = self._ringingIn = False
                self._state = CallState.HOLD
                return
            if self.inCall:
                self._write("on hook")
                if not self._connected:
                    self._outcome.fire(Outcome.ENDED)
            self.inCall = self.offHook = self._connecting = self._ringingIn = False
            self._state = CallState.ON_HOOK
            if self._connected:
                self._connected = False
                self._connectedReference = 0
                self._ended.fire(None)
            return
        self.reference = msg.callReference
        previous, self._state = self._state, state
        self.inCall = True
        self.offHook = state in (CallState.OFF_HOOK, CallState.PROCEED)
        if state == CallState.RING_OUT:
            self._write("ringing out")
            ringing, self._ringingOut = self._ringingOut, []
            for d in ringing:
                d.callback(msg.callReference)
        elif state == CallState.RING_IN:
            self._ringingIn = True
        elif state == CallState.CONNECTED:
            if self._connected and msg.callReference == self._connectedReference:  # back from hold
                if previous != CallState.CONNECTED:
                    self._write(self._connectedLine)
            else:
                self._connecting = True
        elif state == CallState.BUSY:
            self._write("busy")
            self._failed(Outcome.BUSY)
        elif state == CallState.HOLD:
            self._write("on hold")

    def _callInfo(self, msg: m.CallInfo) -> None:
        # The other party: the caller of a call that came in (rang, was
        # forwarded here or picked up), the called party of one made here.
        other = (_party(msg.callingParty, msg.callingPartyName) if msg.callType != CallType.OUTBOUND
                 else _party(msg.calledParty, msg.calledPartyName))
        if self._ringingIn:
            self._ringingIn = False
            self._write("call from %s" % (_party(msg.callingParty, msg.callingPartyName),))
            if msg.callType == CallType.FORWARD and msg.lastRedirectingParty:
                self._write("forwarded from %s" % (_redirect(msg),))
            self._ringIn.fire(msg.callReference)
        secure = msg.callSecurityStatus == CallSecurityStatus.ENCRYPTED
        line = "connected to %s%s" % (other, " secure" if secure else "")
        if self._connecting:
            self._connecting = False
            self._connected = True
            self._connectedReference = msg.callReference
            self.secure = secure
            self._connectedLine = line
            self._write(line)
            self._outcome.fire(Outcome.CONNECTED)
            connections, self._connections = self._connections, []
            for connection in connections:
                connection.callback(msg.callReference)
        elif self._connected and msg.callReference == self._connectedReference and line != self._connectedLine:
            # A transfer joined this call to someone else: shown now, or
            # once it is connected again.
            self.secure = secure
            self._connectedLine = line
            if self._state == CallState.CONNECTED:
                self._write(line)


def _redirect(msg: m.CallInfo) -> str:
    last = msg.lastRedirectingParty
    try:
        reason = _REASONS[ForwardReason(msg.lastRedirectingReason)]
    except ValueError:
        reason = "reason %d" % (msg.lastRedirectingReason,)
    text = "%s (%s)" % (last, reason)
    if msg.originalCalledParty and msg.originalCalledParty != msg.lastRedirectingParty:
        text += ", first called %s" % (msg.originalCalledParty,)
    return text


def _party(number: str, name: str) -> str:
    if not number:  # the router's own party: "Conference"
        return name
    return "%s (%s)" % (number, name) if name and name != number else number


__all__ = ["CallFollower", "Key", "Outcome", "SOFT_KEYS", "UnknownButton", "UnknownSoftKey", "button", "softKey",
           "softKeyEvent"]
