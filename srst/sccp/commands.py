# -*- test-case-name: tests.test_sccp_commands -*-
"""
The SCCP operator commands: C{show ephone}, C{show ephone registered},
C{show ephone unregistered}, C{debug ephone register} and C{debug ephone
state}.

C{show ephone} follows the seed's sample (secure-srst-configuration-example,
"show ephone"), one record per phone::

    ephone-1 Mac:1000.1111.0002 TCP socket:[5] activeLine:0 REGISTERED in SCCP ver 5 + Authentication + Encryption with TLS connection
    mediaActive:0 offhook:0 ringing:0 reset:0 reset_sent:0 paging 0 debug:0
    IP:10.1.1.40 32626 7970 keepalive 390 max_line 8
    button 1: dn 14 number 2002 CM Fallback CH1 IDLE

The seed breaks the first line after C{REGISTERED in} only because the
router's terminal was 80 columns wide (its other lines end with a stray
space for the same reason): srst prints each of these records as one line,
without trailing spaces.  The line breaks otherwise are the seed's.

  - C{+ Authentication + Encryption with TLS connection} is printed for a
    phone registered over the secure listener (TLS with a verified
    certificate), and left out for a clear-text phone.
  - C{SCCP ver} is the negotiated protocol version.
  - The C{IP:} line is the phone's address, its source port, its model, the
    keepalives received in this registration and its line buttons.
  - Each line button prints C{dn <ephone-dn tag> number <DN>}, the line's
    name (C{CM Fallback} when none is configured, as for the lines SRST
    provisions itself), then C{CH<n> <state>} for each channel.
  - A phone that is not registered (configured but never seen, or gone)
    prints C{TCP socket:[-1] ... UNREGISTERED} and its last known values.

C{--json} returns the same facts under C{"ephones"}, plus the listeners'
counters under C{"listeners"}.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from srst.admin.commands import CommandResult, CommandTable
from srst.admin.server import registerDebugCommand
from srst.sccp.factory import REGISTER_NAMESPACE, STATE_NAMESPACE
from srst.sccp.registry import Ephone, EphoneRegistry

REGISTER_BANNER = "EPHONE registration debugging is enabled"
"""What IOS prints for C{debug ephone register} (seed)."""

STATE_BANNER = "EPHONE state debugging is enabled"
"""What IOS prints for C{debug ephone state}."""

SECURE_SUFFIX = " + Authentication + Encryption with TLS connection"
"""What follows C{SCCP ver N} for a phone on the secure listener."""

DEFAULT_LINE_NAME = "CM Fallback"
"""The name C{show ephone} prints for a line with no configured name."""


def renderEphone(ephone: Ephone) -> list[str]:
    """
    The C{show ephone} lines of one phone.

    @param ephone: the phone.
    @return: its lines, without newlines.
    """
    if ephone.registered:
        state = f"REGISTERED in SCCP ver {ephone.protocolVersion}"
        if ephone.secure:
            state += SECURE_SUFFIX
    else:
        state = "UNREGISTERED"
    lines = [
        f"ephone-{ephone.number} Mac:{ephone.dottedMac} TCP socket:[{ephone.socket}]"
        f" activeLine:{ephone.activeLine} {state}",
        f"mediaActive:{ephone.mediaActive} offhook:{ephone.offhook} ringing:{ephone.ringing}"
        f" reset:{ephone.reset} reset_sent:{ephone.resetSent} paging {ephone.paging} debug:{ephone.debug}",
        f"IP:{ephone.peerHost} {ephone.peerPort} {ephone.model} keepalive {ephone.keepalives}"
        f" max_line {ephone.maxLine}",
    ]
    for line in ephone.lines:
        a = line.assignment
        channels = " ".join(f"CH{index + 1} {channel}" for index, channel in enumerate(line.channels))
        lines.append(f"button {a.button}: dn {a.dnTag} number {a.dn} {a.name or DEFAULT_LINE_NAME} {channels}")
    return lines


def ephoneData(ephone: Ephone) -> dict[str, Any]:
    """
    The JSON facts of one phone (the same as L{renderEphone}, and a few more).

    @param ephone: the phone.
    @return: a JSON-serialisable dict.
    """
    return {
        "ephone": ephone.number,
        "mac": ephone.dottedMac,
        "deviceName": ephone.deviceName,
        "configured": ephone.configured,
        "registered": ephone.registered,
        "socket": ephone.socket,
        "activeLine": ephone.activeLine,
        "protocolVersion": ephone.protocolVersion,
        "maxProtocolVersion": ephone.maxProtocolVersion,
        "secure": ephone.secure,
        "authentication": ephone.registered and ephone.secure,
        "encryption": ephone.registered and ephone.secure,
        "certificateSubject": ephone.certificateSubject,
        "mediaActive": ephone.mediaActive,
        "offhook": ephone.offhook,
        "ringing": ephone.ringing,
        "reset": ephone.reset,
        "resetSent": ephone.resetSent,
        "paging": ephone.paging,
        "debug": ephone.debug,
        "ip": ephone.peerHost,
        "port": ephone.peerPort,
        "model": ephone.model,
        "deviceType": ephone.deviceType,
        "keepalive": ephone.keepalives,
        "maxLine": ephone.maxLine,
        "availableLines": ephone.availableLines,
        "capabilities": list(ephone.capabilities),
        "buttons": [
            {
                "button": line.assignment.button,
                "instance": line.assignment.instance,
                "dnTag": line.assignment.dnTag,
                "number": line.assignment.dn,
                "label": line.assignment.label,
                "name": line.assignment.name or DEFAULT_LINE_NAME,
                "channels": list(line.channels),
            }
            for line in ephone.lines
        ],
        "speedDials": [
            {"button": s.button, "instance": s.instance, "number": s.number, "label": s.label}
            for s in ephone.speedDials
        ],
    }


def showEphones(ephones: Iterable[Ephone], listeners: Sequence[Any] = ()) -> CommandResult:
    """
    Render C{show ephone} for some phones.

    @param ephones: the phones, in order.
    @param listeners: the L{srst.sccp.factory.SkinnyFactory} objects whose
        counters C{--json} adds.
    @return: the result.
    """
    phones = list(ephones)
    text = "\n".join(line for ephone in phones for line in renderEphone(ephone))
    data: dict[str, Any] = {"ephones": [ephoneData(e) for e in phones]}
    if listeners:
        data["listeners"] = [listener.statistics() for listener in listeners]
    return CommandResult(text, data)


def registerSccpCommands(table: CommandTable, registry: EphoneRegistry, listeners: Sequence[Any] = ()) -> None:
    """
    Register the SCCP show and debug commands.

    @param table: the admin command table.
    @param registry: the ephone registry.
    @param listeners: the SCCP listener factories (for their counters).
    """

    def showAll() -> CommandResult:
        return showEphones(registry.ephones(), listeners)

    def showRegistered() -> CommandResult:
        return showEphones(registry.registeredEphones(), listeners)

    def showUnregistered() -> CommandResult:
        return showEphones([e for e in registry.ephones() if not e.registered], listeners)

    table.add("show ephone", showAll, help="IP phones: registration, lines, security")
    table.add("show ephone registered", showRegistered, help="registered IP phones")
    table.add("show ephone unregistered", showUnregistered, help="known IP phones that are not registered")
    registerDebugCommand(table, "debug ephone register", REGISTER_BANNER, (REGISTER_NAMESPACE,),
                         help="stream IP phone registration debugging")
    registerDebugCommand(table, "debug ephone state", STATE_BANNER, (STATE_NAMESPACE,),
                         help="stream IP phone state debugging")


__all__ = [
    "DEFAULT_LINE_NAME", "REGISTER_BANNER", "SECURE_SUFFIX", "STATE_BANNER", "ephoneData",
    "registerSccpCommands", "renderEphone", "showEphones",
]
