# -*- test-case-name: tests.test_phone -*-
"""
The call-control senders of a simulated phone: what a user does with the
handset, keypad, softkeys and buttons, as SCCP messages.  They only send;
what the router answers is recorded by the phone and handed to its message
observers, where call-control tests and tools follow the call.
"""

from __future__ import annotations

from typing import Any, Callable

from srst.sccp import messages as m
from srst.sccp.constants import keypadButton
from srst.tools._phonetypes import PhoneState, PhoneStateError


class PhoneCallControl:
    """
    Mixin of L{srst.tools._phoneclient.SimulatedPhone}: it provides
    C{state}, C{protocol}, C{deviceName} and C{_send(*messages)}.
    """

    state: PhoneState
    protocol: Any
    deviceName: str
    _send: Callable[..., None]

    def _checkRegistered(self, what: str) -> None:
        if self.state is not PhoneState.REGISTERED:
            raise PhoneStateError(self.deviceName, "%s needs a registered "
                                  "phone, not %s" % (what, self.state.value))

    def offHook(self, lineInstance: int = 0, callReference: int = 0) -> None:
        """
        Lift the handset: send OffHook.

        @param lineInstance: the line (0: a new call; protocol 11 and up).
        @param callReference: the call to answer (protocol 11 and up).
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("offHook")
        self._send(m.OffHook(lineInstance=lineInstance,
                             callReference=callReference))

    def onHook(self, lineInstance: int = 0, callReference: int = 0) -> None:
        """
        Hang up: send OnHook.

        @param lineInstance: the line.
        @param callReference: the call.
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("onHook")
        self._send(m.OnHook(lineInstance=lineInstance,
                            callReference=callReference))

    def pressKeys(self, digits: str, lineInstance: int = 0,
                  callReference: int = 0) -> None:
        """
        Dial: one KeypadButton per character, in one write.

        @param digits: characters of C{"0123456789ABCD*#+"}.
        @param lineInstance: the line.
        @param callReference: the call.
        @raise ValueError: for a character that is not on a keypad.
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("pressKeys")
        buttons = [keypadButton(c) for c in digits]
        self._send(*[m.KeypadButton(kpButton=b, lineInstance=lineInstance,
                                    callReference=callReference)
                     for b in buttons])

    def softKey(self, softKeyEvent: int, lineInstance: int = 0,
                callReference: int = 0) -> None:
        """
        Press a softkey: send SoftKeyEvent.

        @param softKeyEvent: a L{srst.sccp.constants.SoftKeyEvent}.
        @param lineInstance: the line (0 when idle).
        @param callReference: the call (0 when idle).
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("softKey")
        self._send(m.SoftKeyEvent(softKeyEvent=softKeyEvent,
                                  lineInstance=lineInstance,
                                  callReference=callReference))

    def stimulus(self, stimulus: int, stimulusInstance: int = 1,
                 callReference: int = 0) -> None:
        """
        Press a feature or line button: send Stimulus.

        @param stimulus: a L{srst.sccp.constants.Stimulus}.
        @param stimulusInstance: the button's instance.
        @param callReference: the call.
        @raise PhoneStateError: when not registered.
        """
        self._checkRegistered("stimulus")
        self._send(m.Stimulus(stimulus=stimulus,
                              stimulusInstance=stimulusInstance,
                              callReference=callReference))

    def sendMessage(self, msg: m.Message) -> None:
        """
        Send any message at the negotiated version (media answers such as
        OpenReceiveChannelAck, or protocol experiments).

        @param msg: the message.
        @raise PhoneStateError: when not connected.
        """
        if self.protocol is None or self.state is PhoneState.CLOSED:
            raise PhoneStateError(self.deviceName, "not connected")
        self._send(msg)


__all__ = ["PhoneCallControl"]
