# -*- test-case-name: tests.test_ports_commands -*-
"""
Voice-port operator commands.

C{show voice port summary} prints one row per port, as IOS does::

                                               IN       OUT
    PORT            CH   SIG-TYPE   ADMIN OPER STATUS   STATUS   EC
    =============== == ============ ===== ==== ======== ======== ==
    1/0/0           --  fxs-ls       up    dorm on-hook  idle     y
    1/1/0           --  fxo-ls       up    dorm idle     on-hook  y

  - C{OPER}: C{dorm} while the port is idle, C{up} otherwise.
  - C{IN STATUS} / C{OUT STATUS}: for an FXS port, the telephone's hook
    (C{on-hook}, C{off-hook}) and what the port sends it (C{idle},
    C{ringing}); for an FXO port, what the exchange sends (C{idle},
    C{ringing}) and the port's own hook towards it.
  - C{EC}: echo cancellation, always C{y}.

Below the table, each port with an open RTP/SRTP stream on the router gets
one line of its statistics (an srst addition; IOS shows them elsewhere)::

    1/0/0           SRTP port 16384 to 127.0.0.1 24000 Tx Pkts 295 bytes 47200 Rx Pkts 277 bytes 44320 Lost 0 Jitter 0 Dropped 0

C{voice-port <name> offhook | onhook | dial <digits> | flash | play <wav> |
record <wav>} drives a port's simulated line
(L{srst.ports.voiceport.SimulatedBackend}).  C{play} reads the file off the
reactor thread (through the C{runInThread} the router passes in) and only
a regular file within the limits of L{srst.ports.wav} (C{MAX_WAV_BYTES},
C{MAX_WAV_SECONDS}); C{record} opens its file at once, so a path that
cannot be written is refused then, and the recording is written off the
reactor thread (the same C{runInThread}) when the line goes on hook (the
C{onhook} command answers once it is written) or when it reaches
C{MAX_RECORD_SECONDS} (logged).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.media.transport import StreamSnapshot
from srst.ports.dsp import loadWav
from srst.ports.simulated import LineError, SimulatedBackend
from srst.ports.voiceport import PortStatus, VoicePort, VoicePortStateError
from srst.ports.wav import WavError

_HEADER = (
    "                                           IN       OUT",
    "PORT            CH   SIG-TYPE   ADMIN OPER STATUS   STATUS   EC",
    "=============== == ============ ===== ==== ======== ======== ==",
)

_OFF_HOOK = frozenset({PortStatus.OFF_HOOK, PortStatus.COLLECTING, PortStatus.CONNECTED})


def _statuses(port: VoicePort) -> tuple[str, str]:
    status = port.status
    hook = "off-hook" if status in _OFF_HOOK else "on-hook"
    ringing = "ringing" if status is PortStatus.RINGING else "idle"
    if port.config.signal.isFxs:
        return hook, ringing
    return ringing, hook


def _noMedia(name: str) -> StreamSnapshot | None:
    return None


def _mediaFacts(snapshot: StreamSnapshot) -> dict[str, Any]:
    received, sent = snapshot.receive, snapshot.send
    counters = snapshot.counters
    local = ("0.0.0.0", snapshot.localPort or 0)
    remote = snapshot.remote or ("0.0.0.0", 0)
    return {
        "kind": "SRTP" if snapshot.secure else "RTP", "localPort": local[1],
        "remote": {"ip": remote[0], "port": remote[1]},
        "txPackets": sent.packets, "txBytes": sent.octets, "rxPackets": received.packets,
        "rxBytes": received.octets, "lost": received.lost, "jitterMs": round(received.jitterMs, 3),
        "dropped": {"malformed": counters.malformed, "authFailures": counters.authFailures,
                    "replays": counters.replays, "wrongSource": counters.wrongSource},
        "otherPayloadType": counters.otherPayloadType, "sendFailures": counters.sendFailures,
        "unreachable": snapshot.unreachable,
    }


def _mediaLine(name: str, facts: dict[str, Any]) -> str:
    dropped = sum(facts["dropped"].values())
    return (f"{name:<15} {facts['kind']} port {facts['localPort']} to {facts['remote']['ip']}"
            f" {facts['remote']['port']} Tx Pkts {facts['txPackets']} bytes {facts['txBytes']}"
            f" Rx Pkts {facts['rxPackets']} bytes {facts['rxBytes']} Lost {facts['lost']}"
            f" Jitter {int(round(facts['jitterMs']))} Dropped {dropped}"
            + (" rtp-unreachable" if facts["unreachable"] else ""))


def renderSummary(ports: Sequence[VoicePort],
                  mediaOf: Callable[[str], StreamSnapshot | None] = _noMedia) -> CommandResult:
    """
    @param ports: the voice ports, in configuration order.
    @param mediaOf: the L{srst.media.transport.StreamSnapshot} of a port's
        open media stream, or L{None}; ports with one get a line each under
        the table (and a C{media} object in the JSON).
    @return: C{show voice port summary}.
    """
    lines = list(_HEADER)
    mediaLines = []
    data = []
    for port in ports:
        inStatus, outStatus = _statuses(port)
        oper = port.status.oper
        lines.append(f"{port.name:<15} {'--':<3} {port.config.signal.short:<12} {'up':<5} {oper:<4} "
                     f"{inStatus:<8} {outStatus:<8} y")
        snapshot = mediaOf(port.name)
        facts = _mediaFacts(snapshot) if snapshot is not None else None
        if facts is not None:
            mediaLines.append(_mediaLine(port.name, facts))
        data.append({"port": port.name, "channel": None, "signal": port.config.signal.configName,
                     "admin": "up", "oper": oper, "inStatus": inStatus, "outStatus": outStatus,
                     "state": port.status.stateName, "description": port.config.description,
                     "txPackets": port.txPackets, "rxPackets": port.rxPackets, "media": facts})
    if mediaLines:
        lines += ["", "Media streams:"] + mediaLines
    return CommandResult("\n".join(lines), data)


def registerVoicePortCommands(table: CommandTable, ports: Sequence[VoicePort],
                              mediaOf: Callable[[str], StreamSnapshot | None] = _noMedia, *,
                              runInThread: Callable[..., Deferred[Any]]) -> None:
    """
    Register C{show voice port summary} and the C{voice-port <name> ...}
    line commands.

    @param table: the router's command table.
    @param ports: the voice ports.
    @param mediaOf: a port name's open stream snapshot or L{None} (see
        L{renderSummary}).
    @param runInThread: runs a blocking call off the reactor thread and
        returns a L{Deferred} of its result (the router's thread pool):
        C{play} reads its WAV file through it, C{record} writes its file
        through it.
    """
    byName = {port.name: port for port in ports}

    def backendOf(name: str) -> tuple[VoicePort, SimulatedBackend]:
        port = byName.get(name)
        if port is None:
            known = ", ".join(byName) or "none configured"
            raise CommandError(f"voice-port {name} does not exist (voice ports: {known})")
        if not isinstance(port.backend, SimulatedBackend):
            raise CommandError(f"voice-port {name} is not a simulated line")
        return port, port.backend

    def answer(port: VoicePort) -> CommandResult:
        inStatus, outStatus = _statuses(port)
        return CommandResult(f"voice-port {port.name}: {port.status.stateName}",
                             {"port": port.name, "state": port.status.stateName,
                              "inStatus": inStatus, "outStatus": outStatus})

    def lineCommand(action: Callable[[SimulatedBackend, str], object]) -> Callable[..., CommandResult]:
        def handler(name: str, argument: str = "") -> CommandResult:
            port, backend = backendOf(name)
            try:
                action(backend, argument)
            except (VoicePortStateError, LineError) as e:
                raise CommandError(str(e)) from None
            return answer(port)
        return handler

    def play(name: str, wav: str) -> Deferred[CommandResult]:
        port, backend = backendOf(name)

        def loaded(samples: tuple[int, ...]) -> CommandResult:
            backend.playSamples(samples, name=wav)
            return answer(port)

        def unreadable(failure: Failure) -> None:
            failure.trap(WavError)
            raise CommandError(str(LineError(port.name, str(failure.value))))

        return runInThread(loadWav, wav).addCallbacks(loaded, unreadable)

    def onHook(name: str) -> Deferred[CommandResult]:
        port, backend = backendOf(name)
        try:
            written = backend.onHook()
        except (VoicePortStateError, LineError) as e:
            raise CommandError(str(e)) from None

        def unwritable(failure: Failure) -> None:
            failure.trap(LineError)
            raise CommandError(str(failure.value))

        return written.addCallbacks(lambda samples: answer(port), unwritable)

    table.add("show voice port summary", lambda: renderSummary(ports, mediaOf),
              help="voice ports: signalling, operational and hook state")
    table.add("voice-port <name> offhook", lineCommand(lambda b, _: b.offHook()),
              help="simulated line: lift the handset")
    table.add("voice-port <name> onhook", onHook,
              help="simulated line: hang up (writes a running recording)")
    table.add("voice-port <name> flash", lineCommand(lambda b, _: b.flash()),
              help="simulated line: hook flash")
    dial = lineCommand(lambda b, digits: b.dial(digits))
    table.add("voice-port <name> dial <digits>", lambda name, digits: dial(name, digits),
              help="simulated line: dial DTMF digits")
    table.add("voice-port <name> play <wav>", play,
              help="simulated line: play an 8 kHz WAV file towards the far end")
    record = lineCommand(lambda b, path: b.record(path, runInThread))
    table.add("voice-port <name> record <wav>", lambda name, wav: record(name, wav),
              help="simulated line: record the far end to a WAV file (written on hook)")


__all__ = ["registerVoicePortCommands", "renderSummary"]
