# -*- test-case-name: tests.test_ports_voiceport -*-
"""
The two seams of a voice port.

L{IVoicePortBackend} is what carries the analog line: the simulated
backend of L{srst.ports.voiceport} today, a SIP trunk or a hardware card
later.  It reports what happens on the line to an L{ILineListener} (the
L{srst.ports.voiceport.VoicePort}) and obeys a handful of line commands.

L{IVoicePortListener} is what the call engine implements to hear a port's
events once the port has interpreted them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

from srst.ports.dsp import SimulatedDsp

if TYPE_CHECKING:
    from srst.ports.voiceport import VoicePort


class ILineListener(Interface):
    """
    Receives raw line events from an L{IVoicePortBackend}.
    """

    def lineOffHook() -> None:
        """
        The line went off hook (FXS: the handset was lifted; FXO: the far
        exchange answered a seized line).
        """

    def lineOnHook() -> None:
        """
        The line went on hook (FXS: the handset was put down).
        """

    def lineDigit(digit: str) -> None:
        """
        One DTMF digit, C{0}-C{9}, C{*}, C{#} or C{A}-C{D}, was received.
        """

    def lineFlash() -> None:
        """
        A hook flash was received.
        """

    def lineRinging(callerId: str | None) -> None:
        """
        FXO: the exchange rings this line.

        @param callerId: the calling number, when the line delivers one.
        """

    def lineRingingStopped() -> None:
        """
        FXO: the exchange stopped ringing before the line was seized.
        """


class IVoicePortBackend(Interface):
    """
    The audio endpoint behind one voice port.
    """

    name = Attribute("The IOS voice-port name, e.g. C{'1/0/0'}.")

    def attach(listener: ILineListener, dsp: SimulatedDsp) -> None:
        """
        Start reporting line events to C{listener}; C{dsp} is the port's
        L{srst.ports.dsp.SimulatedDsp}, where the backend puts and takes
        the audio of the line.
        """

    def ring(callerId: str | None) -> None:
        """
        FXS: apply ring voltage to the telephone (ring cadence).
        """

    def stopRinging() -> None:
        """
        FXS: stop ringing.
        """

    def seize() -> None:
        """
        FXO: take the line off hook towards the exchange.
        """

    def release() -> None:
        """
        FXO: put the line back on hook.
        """

    def outpulse(digits: str) -> None:
        """
        FXO: dial C{digits} towards the exchange (DTMF) after seizing.
        """


class IVoicePortListener(Interface):
    """
    What the call engine implements to follow a voice port.  Every method
    gets the L{srst.ports.voiceport.VoicePort} it concerns.
    """

    def offHook(port: VoicePort) -> None:
        """
        The port went off hook to dial (FXS) or answered a ringing call.
        """

    def onHook(port: VoicePort) -> None:
        """
        The port went back on hook.
        """

    def digit(port: VoicePort, digit: str) -> None:
        """
        A digit was dialled on the port.
        """

    def flash(port: VoicePort) -> None:
        """
        A hook flash on the port.
        """

    def incoming(port: VoicePort, callerId: str | None) -> None:
        """
        FXO: the exchange is ringing this port.
        """


__all__ = ["ILineListener", "IVoicePortBackend", "IVoicePortListener"]
