# -*- test-case-name: tests.test_sccp_commands -*-
"""
The SCCP operator commands: C{show ephone}, C{show ephone registered},
C{show ephone unregistered}, C{show ephone offhook}, C{show ephone
auto-assign}, C{clear ephone auto-assign}, C{mwi on|off NUMBER} (the
message-waiting lamps, L{setMessageWaiting}), C{debug ephone register} and
C{debug ephone state}.

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
  - C{DnD} ends the C{mediaActive} line of a phone in do-not-disturb (the
    DND softkey), as IOS marks it; nothing is added otherwise.  C{MWI}
    follows when its message-waiting lamp is on (C{mwi on}).
  - The C{IP:} line is the phone's address, its source port, its model, the
    keepalives received in this registration and its line buttons.
  - Each line button prints C{dn <ephone-dn tag> number <DN>}, the line's
    name (C{CM Fallback} when none is configured, as for the lines SRST
    provisions itself), then C{CH<n> <state>} for each channel.
  - A phone that is not registered (configured but never seen, or gone)
    prints C{TCP socket:[-1] ... UNREGISTERED} and its last known values.

C{--json} returns the same facts under C{"ephones"}, plus the listeners'
counters under C{"listeners"}.

C{show ephone offhook} prints, for every registered phone that is off hook,
its C{show ephone} record (L{renderEphone}: header lines
and line buttons with their channel states, C{CONNECTED} and so on), then
four lines for each of its calls that is connected or on hold::

    Active Secure Call on DN 14 chan 1 :2002 10.1.1.40 29632 to 10.1.1.40 25616 via 10.1.1.40
    G711Ulaw64k 160 bytes no vad
    Tx Pkts 0 bytes 0 Rx Pkts 0 bytes 0 Lost 0
    Jitter 0 Latency 0 callingDn 22 calledDn -1

  - C{Active Secure Call} when the call's media is SRTP, C{Active Call}
    for clear text.
  - C{DN <tag> chan 1 :<number>}: the phone's C{ephone-dn} tag and number.
  - Then where this phone receives media (the address of its
    OpenReceiveChannelAck), C{to} where the other phone receives, C{via}
    the other phone's media address.  An address that is not known (not
    yet acknowledged, or media closed while the call is on hold) prints as
    C{0.0.0.0 0}.
  - The codec and the bytes of audio per packet (srst never asks for voice
    activity detection: C{no vad}).
  - The packet counters, jitter and latency.  Phones send their media to
    each other, not through the router, so for a call between phones srst
    does not see it and prints 0.  For a call to a voice port the router
    terminates the media itself and prints its stream's statistics from
    the phone's side (L{routerMediaCounters}): Tx what the router
    received from the phone, Rx what it sent, Lost and Jitter (ms) of the
    phone's stream as the router measured them (RFC 3550).
  - C{callingDn}: the caller's C{ephone-dn} tag on the called phone, -1 on
    the calling one; C{calledDn} the other way round.

As for C{show ephone}, each line is printed whole (the seed's breaks come
from an 80-column terminal) and without trailing spaces.

C{--json} answers with the same facts: the C{show ephone} facts of each
off-hook phone plus its C{"calls"}.

C{show ephone auto-assign} lists the auto-assign reservations (numbers kept
for phones that are not configured; L{srst.sccp.registry}), by number, after
a line with the configuration and the count of numbers still free::

    auto-assign dn-range 2000-2009 reservation-timeout-days 365: 2 reservations, 7 numbers free
    Mac             DN    Registered  Last seen  Expires in
    0011.2233.44AA  2000  yes         now        -
    0011.2233.44BB  2001  no          1d02h      51w6d

Ages and remaining times print as IOS prints them (C{00:12:05} below a
day, C{1d02h} below a week, C{4w1d} beyond); C{never} when reservations do
not expire.  C{--json} gives the same facts with times in ISO 8601 (UTC).
IOS has no such command: it keeps no reservations across reloads.

C{clear ephone auto-assign <mac>|all} forgets reservations so the numbers
can go to other phones.  A registered phone keeps its number: clearing it
is refused (C{all} clears the others and says which were kept); clear it
again once the phone has unregistered.  The answer comes once the file is
written (off the reactor thread).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import datetime

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.admin.render import iosDuration
from srst.admin.server import registerDebugCommand
from srst.calls.call import Call
from srst.calls.dialplan import DialplanPatterns
from srst.calls.interfaces import ICallEndpoint
from srst.calls.leg import Leg, LegStatus
from srst.calls.media import DEFAULT_CODEC, PACKET_MS, Codec, MediaStream, payloadBytes
from srst.sccp import messages as m
from srst.sccp.callcontrol import SccpCallControl
from srst.sccp.constants import LampMode, Stimulus
from srst.sccp.factory import REGISTER_NAMESPACE, STATE_NAMESPACE
from srst.sccp.config import normalizeMac
from srst.sccp.limits import ConnectionLimits
from srst.sccp.registry import Ephone, EphoneRegistry, ReservationStatus

_log = Logger(namespace="srst.sccp.mwi")

REGISTER_BANNER = "EPHONE registration debugging is enabled"
"""What IOS prints for C{debug ephone register} (seed)."""

STATE_BANNER = "EPHONE state debugging is enabled"
"""What IOS prints for C{debug ephone state}."""

SECURE_SUFFIX = " + Authentication + Encryption with TLS connection"
"""What follows C{SCCP ver N} for a phone on the secure listener."""

DEFAULT_LINE_NAME = "CM Fallback"
"""The name C{show ephone} prints for a line with no configured name."""

UNKNOWN_ADDRESS = ("0.0.0.0", 0)
"""What C{show ephone offhook} prints for a media address not known."""

SHOWN_STATUSES = frozenset((LegStatus.CONNECTED, LegStatus.HELD))
"""The leg states C{show ephone offhook} prints an C{Active Call} block for."""


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
        f" reset:{ephone.reset} reset_sent:{ephone.resetSent} paging {ephone.paging} debug:{ephone.debug}"
        + (" DnD" if ephone.dnd else "") + (" MWI" if ephone.messageWaiting else ""),
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
        "dnd": ephone.dnd,
        "messageWaiting": ephone.messageWaiting,
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


def showEphones(ephones: Iterable[Ephone], listeners: Sequence[Any] = (),
                limits: ConnectionLimits | None = None) -> CommandResult:
    """
    Render C{show ephone} for some phones.

    @param ephones: the phones, in order.
    @param listeners: the L{srst.sccp.factory.SkinnyFactory} objects whose
        counters C{--json} adds.
    @param limits: the connection caps and counters C{--json} adds (as
        C{connectionLimits}).
    @return: the result.
    """
    phones = list(ephones)
    text = "\n".join(line for ephone in phones for line in renderEphone(ephone))
    data: dict[str, Any] = {"ephones": [ephoneData(e) for e in phones]}
    if listeners:
        data["listeners"] = [listener.statistics() for listener in listeners]
    if limits is not None:
        data["connectionLimits"] = limits.statistics()
    return CommandResult(text, data)


def registerSccpCommands(table: CommandTable, registry: EphoneRegistry, listeners: Sequence[Any] = (),
                         limits: ConnectionLimits | None = None,
                         dialplanPatterns: DialplanPatterns = DialplanPatterns()) -> None:
    """
    Register the SCCP show and debug commands.

    @param table: the admin command table.
    @param registry: the ephone registry.
    @param listeners: the SCCP listener factories (for their counters).
    @param limits: the listeners' connection caps (for their counters).
    @param dialplanPatterns: the C{dialplan-pattern}s: C{mwi} takes a full
        number as its extension, as a call does.
    """

    def showAll() -> CommandResult:
        return showEphones(registry.ephones(), listeners, limits)

    def showRegistered() -> CommandResult:
        return showEphones(registry.registeredEphones(), listeners, limits)

    def showUnregistered() -> CommandResult:
        return showEphones([e for e in registry.ephones() if not e.registered], listeners, limits)

    table.add("show ephone", showAll, help="IP phones: registration, lines, security")
    table.add("show ephone registered", showRegistered, help="registered IP phones")
    table.add("show ephone unregistered", showUnregistered, help="known IP phones that are not registered")
    table.add("show ephone auto-assign", lambda: showAutoAssign(registry),
              help="auto-assigned directory numbers reserved for phones")
    table.add("mwi on <number>", lambda number: setMessageWaiting(registry, number, True, dialplanPatterns),
              help="a message waits for a directory number: its phones' message-waiting lamps go on")
    table.add("mwi off <number>", lambda number: setMessageWaiting(registry, number, False, dialplanPatterns),
              help="no message waits for a directory number: its phones' message-waiting lamps go off")
    table.add("clear ephone auto-assign <target>", lambda target: clearAutoAssign(registry, target),
              help="forget the auto-assign reservation of a MAC (or all) that is not registered")
    registerDebugCommand(table, "debug ephone register", REGISTER_BANNER, (REGISTER_NAMESPACE,),
                         help="stream IP phone registration debugging")
    registerDebugCommand(table, "debug ephone state", STATE_BANNER, (STATE_NAMESPACE,),
                         help="stream IP phone state debugging")


def setMessageWaiting(registry: EphoneRegistry, number: str, on: bool,
                      dialplanPatterns: DialplanPatterns = DialplanPatterns()) -> CommandResult:
    """
    C{mwi on|off NUMBER}: a message waits (or no longer waits) for a
    directory number; every registered phone with a line for it gets its
    message-waiting lamp set or cleared (SetLamp, the voice-mail stimulus,
    instance 0: on while any of its lines has a message), and a phone
    registering later gets it at registration.  A full number covered by a
    C{dialplan-pattern} (C{4085552002}) is its extension (C{2002}), as for
    a call.

    @param registry: the ephone registry.
    @param number: the directory number, or a full number.
    @param on: whether a message waits.
    @param dialplanPatterns: the C{dialplan-pattern}s.
    @return: the result; C{data} has the number, the extension it is (or
        L{None}), the state and the phones.
    @raise CommandError: when no phone has a line for C{number}.
    """
    local = dialplanPatterns.extensionOf(number)
    extension = None
    try:
        if local is not None:
            try:
                holders = registry.setMessageWaiting(local[1], on)
                extension = local[1]
            except KeyError:
                holders = registry.setMessageWaiting(number, on)
        else:
            holders = registry.setMessageWaiting(number, on)
    except KeyError:
        raise CommandError(f"Unknown number {number}: no ephone has a line with that number") from None
    state = "on" if on else "off"
    done = "set" if on else "cleared"
    lamps = []
    for ephone in holders:
        station = ephone.station
        if station is not None:
            station.send(m.SetLamp(Stimulus.VOICE_MAIL, 0, LampMode.ON if ephone.messageWaiting else LampMode.OFF))
            lamps.append(f"ephone-{ephone.number}")
    shown = number if extension is None else f"{number} (extension {extension})"
    _log.info("message waiting {state} for {number}: lamps {done} on {phones}", state=state, number=shown,
              done=done, phones=", ".join(lamps) or "no registered phone")
    text = f"Message waiting {state} for {shown}: " + (
        f"lamp {done} on " + ", ".join(lamps) if lamps else f"no registered phone; {done} when one registers")
    return CommandResult(text, {"number": number, "extension": extension, "messageWaiting": on,
                                "ephones": [{"ephone": e.number, "mac": e.dottedMac, "registered": e.registered,
                                             "lamp": e.messageWaiting} for e in holders]})


def _isoTime(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc).isoformat()


def _reservationData(status: ReservationStatus, now: float) -> dict[str, Any]:
    return {
        "mac": status.dottedMac, "dn": status.dn, "registered": status.registered,
        "lastSeen": _isoTime(status.lastSeen), "lastSeenSecondsAgo": max(0, int(now - status.lastSeen)),
        "expires": _isoTime(status.expires),
    }


def showAutoAssign(registry: EphoneRegistry) -> CommandResult:
    """
    Render C{show ephone auto-assign}.

    @param registry: the ephone registry.
    @return: the result; C{data} has the range, the timeout, the free count
        and the C{"reservations"}.
    """
    now = registry.clock.seconds()
    config = registry.config
    reservations = registry.reservations()
    days = config.reservationTimeoutDays
    free = registry.freeNumbers()
    count = f"{len(reservations)} reservation{'' if len(reservations) == 1 else 's'}"
    if config.autoAssign is None:
        dnRange = None
        header = f"auto-assign is not configured: {count}"
    else:
        first, last = config.autoAssign
        width = len(str(first))
        dnRange = f"{str(first).zfill(width)}-{str(last).zfill(width)}"
        header = (f"auto-assign dn-range {dnRange} reservation-timeout-days {days or 'none'}: {count},"
                  f" {free} number{'' if free == 1 else 's'} free")
    dnWidth = max([4] + [len(r.dn) + 2 for r in reservations])
    lines = [header, f"{'Mac':<16}{'DN':<{dnWidth}}{'Registered':<12}{'Last seen':<11}Expires in"]
    for r in reservations:
        if r.registered:
            seen, expires = "now", "-"
        else:
            seen = iosDuration(now - r.lastSeen)
            expires = "never" if r.expires is None else iosDuration(r.expires - now)
        lines.append(f"{r.dottedMac:<16}{r.dn:<{dnWidth}}{'yes' if r.registered else 'no':<12}{seen:<11}{expires}")
    data = {
        "dnRange": dnRange, "reservationTimeoutDays": days, "free": free,
        "reservations": [_reservationData(r, now) for r in reservations],
    }
    return CommandResult("\n".join(lines), data)


def clearAutoAssign(registry: EphoneRegistry, target: str) -> Deferred[CommandResult]:
    """
    Run C{clear ephone auto-assign <mac>|all}.

    @param registry: the ephone registry.
    @param target: a MAC (C{1000.1111.0002}, C{100011110002} or
        C{SEP100011110002}) or C{all}.
    @return: a L{Deferred} firing, once the file is written (off the
        reactor thread), with what was cleared (and, for C{all}, kept).
    @raise CommandError: for a bad MAC (at once); the L{Deferred} fails
        with it for a MAC with no reservation, a registered phone, or a
        file that cannot be written (then nothing is cleared).
    """
    everything = target.lower() == "all"
    mac = None if everything else normalizeMac(target)
    if not everything and mac is None:
        raise CommandError(f"Invalid MAC address {target}: expected a MAC such as 1000.1111.0002, or all")

    def unwritable(failure: Failure) -> None:
        failure.trap(OSError)
        e = failure.value
        raise CommandError(f"Cannot save {registry.autoAssignPath}: {e.strerror or e}; nothing was cleared") from e

    return registry.clearReservations(mac).addCallbacks(
        lambda result: _clearedResult(registry, target, mac, *result), unwritable)


def _clearedResult(registry: EphoneRegistry, target: str, mac: str | None, cleared: list[ReservationStatus],
                   kept: list[ReservationStatus]) -> CommandResult:
    """@return: what L{clearAutoAssign} answers once the file is written."""
    now = registry.clock.seconds()
    data = {"cleared": [_reservationData(r, now) for r in cleared], "kept": [_reservationData(r, now) for r in kept]}
    if mac is not None:
        if kept:
            raise CommandError(f"{kept[0].dottedMac} is registered: DN {kept[0].dn} stays reserved for it;"
                               " clear it after the phone unregisters")
        if not cleared:
            raise CommandError(f"No auto-assign reservation for {target}")
        return CommandResult(f"Cleared the auto-assign reservation of DN {cleared[0].dn} for {cleared[0].dottedMac}",
                             data)
    lines = [f"Cleared {len(cleared)} auto-assign reservation{'' if len(cleared) == 1 else 's'}"]
    if kept:
        lines.append(f"Kept {len(kept)} of registered phones: "
                     + ", ".join(f"{r.dottedMac} (DN {r.dn})" for r in kept))
    return CommandResult("\n".join(lines), data)


@frozen
class MediaCounters:
    """
    The media statistics of one leg, as far as the router knows them.

    @ivar txPackets: packets the phone sent.
    @ivar txBytes: bytes it sent.
    @ivar rxPackets: packets it received.
    @ivar rxBytes: bytes it received.
    @ivar lost: packets lost.
    @ivar jitter: jitter, milliseconds.
    @ivar latency: latency, milliseconds.
    """

    txPackets: int = 0
    txBytes: int = 0
    rxPackets: int = 0
    rxBytes: int = 0
    lost: int = 0
    jitter: int = 0
    latency: int = 0


def routerMediaCounters(endpoint: ICallEndpoint) -> MediaCounters | None:
    """
    The counters of a call whose far end is terminated on the router (a
    voice port), from the phone's point of view: what the router received
    is what the phone sent, and the other way round; loss and jitter as
    the router measured the phone's stream.

    @param endpoint: the far end's endpoint.
    @return: the counters, or L{None} when the router does not terminate
        that endpoint's media (another phone) or it has no stream open.
    """
    snapshot = endpoint.mediaSnapshot()
    if snapshot is None:
        return None
    received, sent = snapshot.receive, snapshot.send
    return MediaCounters(txPackets=received.packets, txBytes=received.octets, rxPackets=sent.packets,
                         rxBytes=sent.octets, lost=received.lost, jitter=int(round(received.jitterMs)))


def _address(stream: MediaStream | None) -> tuple[str, int]:
    if stream is None or stream.address is None:
        return UNKNOWN_ADDRESS
    return stream.address


@frozen
class ActiveCall:
    """
    What C{show ephone offhook} says about one leg of a connected (or held)
    call.

    @ivar secure: whether the media is SRTP.
    @ivar dnTag: the leg's C{ephone-dn} tag.
    @ivar channel: the line channel (1).
    @ivar number: the leg's directory number.
    @ivar local: where this phone receives media (host, port).
    @ivar remote: where the other phone receives media.
    @ivar via: the other phone's media host.
    @ivar codec: the call's codec.
    @ivar packetBytes: bytes of audio per packet.
    @ivar counters: the L{MediaCounters}.
    @ivar callingDn: the caller's tag on the called side, else -1.
    @ivar calledDn: the called tag on the calling side, else -1.
    @ivar state: the leg's channel state (C{CONNECTED}, C{HOLD}).
    """

    secure: bool
    dnTag: int
    channel: int
    number: str
    local: tuple[str, int]
    remote: tuple[str, int]
    via: str
    codec: Codec
    packetBytes: int
    counters: MediaCounters
    callingDn: int
    calledDn: int
    state: str

    @classmethod
    def fromLeg(cls, leg: Leg, call: Call) -> "ActiveCall":
        """
        @param leg: a leg of C{call}.
        @param call: the call.
        @return: the leg's facts.
        """
        other = call.other(leg)
        own, remote = call.media.streamOf(leg), call.media.streamOf(other)
        codec = (own.codec if own is not None else call.media.codec) or DEFAULT_CODEC
        milliseconds = own.milliseconds if own is not None else PACKET_MS
        remoteAddress = _address(remote)
        tag = other.line.tag
        return cls(
            secure=bool(call.secure), dnTag=leg.line.tag, channel=1, number=leg.line.number,
            local=_address(own), remote=remoteAddress, via=remoteAddress[0], codec=codec,
            packetBytes=payloadBytes(codec, milliseconds),
            counters=routerMediaCounters(other.endpoint) or MediaCounters(),
            callingDn=-1 if leg.outgoing else tag, calledDn=tag if leg.outgoing else -1,
            state=leg.status.channel)

    def render(self) -> list[str]:
        """@return: the four lines of the seed."""
        c = self.counters
        kind = "Active Secure Call" if self.secure else "Active Call"
        return [
            f"{kind} on DN {self.dnTag} chan {self.channel} :{self.number} {self.local[0]} {self.local[1]}"
            f" to {self.remote[0]} {self.remote[1]} via {self.via}",
            f"{self.codec.iosName} {self.packetBytes} bytes no vad",
            f"Tx Pkts {c.txPackets} bytes {c.txBytes} Rx Pkts {c.rxPackets} bytes {c.rxBytes} Lost {c.lost}",
            f"Jitter {c.jitter} Latency {c.latency} callingDn {self.callingDn} calledDn {self.calledDn}",
        ]

    def asDict(self) -> dict[str, Any]:
        """@return: the JSON facts."""
        c = self.counters
        return {
            "secure": self.secure, "dnTag": self.dnTag, "channel": self.channel, "number": self.number,
            "state": self.state,
            "local": {"ip": self.local[0], "port": self.local[1]},
            "remote": {"ip": self.remote[0], "port": self.remote[1]},
            "via": self.via, "codec": self.codec.iosName, "packetBytes": self.packetBytes, "vad": False,
            "txPackets": c.txPackets, "txBytes": c.txBytes, "rxPackets": c.rxPackets, "rxBytes": c.rxBytes,
            "lost": c.lost, "jitter": c.jitter, "latency": c.latency,
            "callingDn": self.callingDn, "calledDn": self.calledDn,
        }


def activeCallsByEphone(control: SccpCallControl) -> dict[int, list[ActiveCall]]:
    """
    The connected or held call legs of every registered phone.

    @param control: the SCCP call adapter (its engine, registry and the
        phones' endpoints).
    @return: L{ActiveCall}s by ephone number, in line order.
    """
    ephones: dict[ICallEndpoint, Ephone] = {}
    for ephone in control.registry.registeredEphones():
        endpoint = control.endpointOf(ephone)
        if endpoint is not None:
            ephones[endpoint] = ephone
    found: dict[int, list[tuple[int, ActiveCall]]] = {}
    for call in control.engine.calls():
        for leg in (call.caller, call.callee):
            owner = ephones.get(leg.endpoint)
            if owner is None or leg.status not in SHOWN_STATUSES:
                continue
            found.setdefault(owner.number, []).append((leg.line.instance, ActiveCall.fromLeg(leg, call)))
    return {key: [active for _, active in sorted(legs, key=lambda item: item[0])]
            for key, legs in found.items()}


def showEphoneOffhook(control: SccpCallControl) -> CommandResult:
    """
    Render C{show ephone offhook}.

    @param control: the SCCP call adapter.
    @return: the result; C{data["ephones"]} has the C{show ephone} facts of
        each off-hook phone plus its C{"calls"}.
    """
    active = activeCallsByEphone(control)
    lines: list[str] = []
    phones: list[dict[str, Any]] = []
    for ephone in control.registry.registeredEphones():
        if not ephone.offhook:
            continue
        calls = active.get(ephone.number, [])
        lines.extend(renderEphone(ephone))
        for call in calls:
            lines.extend(call.render())
        phones.append(dict(ephoneData(ephone), calls=[call.asDict() for call in calls]))
    return CommandResult("\n".join(lines), {"ephones": phones})


def registerOffhookCommand(table: CommandTable, control: SccpCallControl) -> None:
    """
    Register C{show ephone offhook}.

    @param table: the admin command table.
    @param control: the SCCP call adapter.
    """
    table.add("show ephone offhook", lambda: showEphoneOffhook(control),
              help="off-hook IP phones and their active calls")


__all__ = [
    "ActiveCall", "DEFAULT_LINE_NAME", "MediaCounters", "REGISTER_BANNER", "SECURE_SUFFIX", "SHOWN_STATUSES",
    "STATE_BANNER", "UNKNOWN_ADDRESS", "activeCallsByEphone", "clearAutoAssign", "ephoneData",
    "registerOffhookCommand", "registerSccpCommands", "renderEphone", "routerMediaCounters", "setMessageWaiting",
    "showAutoAssign",
    "showEphoneOffhook", "showEphones",
]
