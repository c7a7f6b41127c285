# -*- test-case-name: tests.test_phone_screen -*-
"""
C{srst-phone run}: one phone a person works from a terminal.

L{PhoneScreen} follows a registered L{SimulatedPhone} and shows what its
display and buttons would: the prompt line, each line button with its lamp,
the softkeys of the set the router selected (numbered F1..F8), the call
state, and the last few call events (the lines of
L{srst.tools._phonecall.CallFollower}).  L{PhoneScreen.lines} is plain
text, so it is tested without a terminal.

L{KeyMap} turns key codes (as C{curses} reads them) into L{Action}s: C{o}
off hook (answers a ringing call), C{h} on hook, space either, digits,
C{*} and C{#} dial (going off hook first, as a phone's speaker does), F1..F8
or C{s} then 1..8 press a softkey, C{q} quits.  L{PhoneScreen.act} does
what the action says with the phone's own messages (OffHook, OnHook,
KeypadButton, SoftKeyEvent for the line and call of the last
SelectSoftKeys).

L{Terminal} is the thin C{curses} side: it reads keys when the reactor says
standard input is readable (an C{IReadDescriptor}; C{curses} in no-delay
mode) and draws L{PhoneScreen.lines} whenever the screen changes.  C{curses}
(the standard library) was chosen over C{prompt_toolkit}: a full-screen
text that only redraws and a handful of keys need nothing more, and it
plugs into the Twisted reactor as a file descriptor without switching the
reactor to asyncio.
"""

from __future__ import annotations

import collections
import enum
from typing import Any, Callable, Optional

from attrs import frozen
from twisted.internet.interfaces import IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.sccp import messages as m
from srst.sccp.constants import CallState, LampMode, Stimulus
from srst.tools._phonecall import CallFollower
from srst.tools._phoneclient import SimulatedPhone

SOFTKEYS_SHOWN = 8
"""Softkeys a person can press: F1..F8."""

EVENTS_SHOWN = 5
"""Call events kept on the screen."""

HELP = "keys: o off hook, h on hook (space: either), 0-9 * # dial, F1-F8 or s+1..8 softkey, q quit"

_STATES = {
    CallState.ON_HOOK: "on hook", CallState.OFF_HOOK: "off hook (dial tone)", CallState.PROCEED: "dialling",
    CallState.RING_OUT: "ringing out", CallState.RING_IN: "ringing in", CallState.CONNECTED: "connected",
    CallState.BUSY: "busy", CallState.CONGESTION: "reorder", CallState.HOLD: "on hold",
    CallState.INVALID_NUMBER: "invalid number", CallState.REMOTE_HOLD: "held by the other party",
}

_LAMPS = {LampMode.OFF: "off", LampMode.ON: "on", LampMode.WINK: "wink", LampMode.FLASH: "flash",
          LampMode.BLINK: "blink"}


class Do(enum.Enum):
    """What a key asks for."""

    OFF_HOOK = "off hook"
    ON_HOOK = "on hook"
    HOOK = "hook"
    """Off hook when on hook, on hook when not."""
    DIAL = "dial"
    SOFTKEY = "softkey"
    QUIT = "quit"


@frozen
class Action:
    """
    One thing a person did.

    @ivar do: what.
    @ivar digit: the key dialled (L{Do.DIAL}).
    @ivar softKey: the softkey position, 1..8 (L{Do.SOFTKEY}).
    """

    do: Do
    digit: str = ""
    softKey: int = 0


class KeyMap:
    """
    Key codes to L{Action}s (module docstring); C{s} is a prefix for the
    next key, a softkey number.

    @ivar functionKeys: the code of F1 (C{curses.KEY_F1}); F2..F8 follow.
    """

    def __init__(self, functionKeys: int) -> None:
        self.functionKeys = functionKeys
        self._prefix = False

    def press(self, code: int) -> Optional[Action]:
        """
        @param code: a key code: a character's code point, or a function key.
        @return: its action, or L{None} for a key that does nothing.
        """
        prefix, self._prefix = self._prefix, False
        if self.functionKeys <= code < self.functionKeys + SOFTKEYS_SHOWN:
            return Action(Do.SOFTKEY, softKey=code - self.functionKeys + 1)
        if not 0 <= code < 0x110000:
            return None
        key = chr(code).lower()
        if prefix and key in "12345678":
            return Action(Do.SOFTKEY, softKey=int(key))
        if key == "s":
            self._prefix = True
            return None
        if key in "0123456789*#":
            return Action(Do.DIAL, digit=key)
        return _LETTERS.get(key)


_LETTERS = {"o": Action(Do.OFF_HOOK), "h": Action(Do.ON_HOOK), " ": Action(Do.HOOK), "q": Action(Do.QUIT)}


class PhoneScreen:
    """
    What a registered phone shows, and what its keys do (module docstring).

    @ivar phone: the phone.
    @ivar follower: the L{CallFollower} whose lines are the call events.
    @ivar prompt: the prompt line.
    @ivar state: the call state shown.
    @ivar lamps: line instance to its L{LampMode}.
    @ivar events: the last call events, oldest first.
    """

    def __init__(self, phone: SimulatedPhone, changed: Callable[[], None], secure: bool = False) -> None:
        """
        @param phone: a registered phone.
        @param changed: called after each message that changes the screen.
        @param secure: whether the phone registered over TLS.
        """
        self.phone = phone
        self.secure = secure
        self._changed = changed
        prompt = phone.settings.prompt
        self.prompt = m.describeText(prompt).strip() if prompt else ""
        self.state = CallState.ON_HOOK
        self.lamps: dict[int, int] = {}
        self.events: collections.deque[str] = collections.deque(maxlen=EVENTS_SHOWN)
        self._selected: Optional[m.SelectSoftKeys] = phone.settings.selectedSoftKeys
        self.follower = CallFollower(phone, self.events.append)
        phone.addMessageObserver(self.messageReceived)

    def messageReceived(self, msg: m.Message) -> None:
        """
        Take what the router shows (the phone's message observer).

        @param msg: a message the phone received.
        """
        if isinstance(msg, m.DisplayPromptStatus):
            self.prompt = m.describeText(msg.promptStatus).strip()
        elif isinstance(msg, m.ClearPromptStatus):
            self.prompt = ""
        elif isinstance(msg, m.SetLamp) and msg.stimulus == Stimulus.LINE:
            self.lamps[msg.stimulusInstance] = msg.lampMode
        elif isinstance(msg, m.SelectSoftKeys):
            self._selected = msg
        elif isinstance(msg, m.CallState):
            if msg.callState != CallState.ON_HOOK or msg.callReference in (0, self.follower.reference):
                try:
                    self.state = CallState(msg.callState)
                except ValueError:
                    self.state = CallState.IDLE
        self._changed()

    def softKeys(self) -> list[tuple[int, str, int]]:
        """
        @return: the softkeys shown, as (position 1..8, label, event), for
            the set and mask of the last SelectSoftKeys.
        """
        settings, selected = self.phone.settings, self._selected
        if selected is None or settings.softKeyTemplate is None or settings.softKeySets is None:
            return []
        sets = settings.softKeySets.softKeySets
        if not 0 <= selected.softKeySetIndex < len(sets):
            return []
        template = settings.softKeyTemplate.softKeys
        keys = []
        for position, index in enumerate(sets[selected.softKeySetIndex].softKeyTemplateIndexes[:SOFTKEYS_SHOWN]):
            if not index or index > len(template) or not selected.validKeyMask & (1 << position):
                continue
            definition = template[index - 1]
            keys.append((position + 1, m.describeText(definition.softKeyLabel).strip(), definition.softKeyEvent))
        return keys

    def lines(self) -> list[str]:
        """@return: the screen's text, one string per row."""
        phone = self.phone
        rows = ["srst-phone %s: registered%s" % (phone.deviceName, " over TLS" if self.secure else ""), ""]
        rows.append("prompt: %s" % (self.prompt,))
        rows.append("call:   %s" % (_STATES.get(self.state, self.state.name.lower().replace("_", " ")),))
        rows.append("")
        rows.append("lines:")
        for instance, stat in sorted(phone.settings.lineStats.items()):
            lamp = _LAMPS.get(LampMode(self.lamps.get(instance, LampMode.OFF)), "off")
            name = stat.lineFullyQualifiedDisplayName
            rows.append("  %d  %-8s %-16s lamp %s" % (instance, stat.lineDirNumber, name, lamp))
        rows.append("")
        rows.append("softkeys: " + "  ".join("F%d %s" % (n, label) for n, label, _ in self.softKeys()))
        rows.append("")
        rows.append("events:")
        rows.extend("  " + event for event in self.events)
        rows.append("")
        rows.append(HELP)
        return rows

    def act(self, action: Action) -> None:
        """
        Do what a key asks on the phone (L{Do.QUIT} is the caller's).

        @param action: the action.
        """
        phone, follower = self.phone, self.follower
        reference = follower.reference if follower.inCall else 0
        ringing = self.state == CallState.RING_IN
        if action.do is Do.HOOK:
            action = Action(Do.ON_HOOK if follower.inCall and not ringing else Do.OFF_HOOK)
        if action.do is Do.OFF_HOOK:
            if ringing:
                phone.offHook(1, reference)
            elif not follower.inCall:
                phone.offHook()
        elif action.do is Do.ON_HOOK:
            if follower.inCall:
                phone.onHook(1, reference)
        elif action.do is Do.DIAL:
            if not follower.inCall:
                phone.offHook()
                phone.pressKeys(action.digit)
            else:
                phone.pressKeys(action.digit, 1, reference)
        elif action.do is Do.SOFTKEY:
            for position, label, event in self.softKeys():
                if position == action.softKey and self._selected is not None:
                    phone.softKey(event, self._selected.lineInstance or 1, self._selected.callReference)
                    self.events.append("pressed %s" % (label,))
                    self._changed()


@implementer(IReadDescriptor)
class Terminal:
    """
    The C{curses} screen, read as a file descriptor by the reactor
    (L{IReadDescriptor}).

    @ivar window: the C{curses} window.
    """

    def __init__(self, curses: Any, window: Any, screen: Callable[[], list[str]],
                 key: Callable[[int], None]) -> None:
        """
        Put the terminal in C{curses} mode: keys read one at a time
        without echo, function keys decoded, reads that do not wait.

        @param curses: the C{curses} module.
        @param window: C{curses.initscr()}.
        @param screen: returns the rows to draw.
        @param key: called with each key code read.
        """
        self.window = window
        self._curses = curses
        self._screen = screen
        self._key = key
        self.closed = False
        curses.noecho()
        curses.cbreak()
        window.keypad(True)
        window.nodelay(True)

    def close(self) -> None:
        """
        Leave a clean terminal in its normal mode; nothing is drawn or read
        after this.
        """
        if self.closed:
            return
        self.closed = True
        self.window.erase()
        self.window.refresh()
        self.window.keypad(False)
        self._curses.nocbreak()
        self._curses.echo()
        self._curses.endwin()

    def fileno(self) -> int:
        return 0

    def logPrefix(self) -> str:
        return "terminal"

    def doRead(self) -> None:
        """Read every key waiting, then draw."""
        while not self.closed:
            code = self.window.getch()
            if code == -1:
                break
            self._key(code)
        self.draw()

    def connectionLost(self, reason: Failure) -> None:
        pass

    def draw(self) -> None:
        """Draw the screen's rows, cut to the window (not once closed)."""
        if self.closed:
            return
        height, width = self.window.getmaxyx()
        self.window.erase()
        for row, text in enumerate(self._screen()[:height]):
            self.window.addnstr(row, 0, text, max(width - 1, 0))
        self.window.refresh()


__all__ = ["Action", "Do", "EVENTS_SHOWN", "HELP", "KeyMap", "PhoneScreen", "SOFTKEYS_SHOWN", "Terminal"]
