# -*- test-case-name: tests.test_ports_iosconfig -*-
"""
The C{voice-port} and C{dial-peer voice ... pots} blocks of C{show
running-config}, and their import from an IOS configuration.

IOS prints the two apart (the C{ccm-manager} and C{mgcp} commands come
between them), so L{voicePortsConfig} and L{dialPeersConfig} render each;
L{runningConfig} is both, for a caller that keeps them together.

Whether an analog port is FXS or FXO is the hardware's business in IOS:
no command says it.  The import reads it from what the port is configured
with: a port whose block (or the block of a port on the same voice module,
C{slot/subunit}, which has one kind of port) holds an FXO-only command
(C{timing hookflash-out}) is C{fxo-loop-start}, every other port
C{fxs-loop-start}.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from srst.iostext import ImportNotes, IosLine, indent, setCommands
from srst.ports.config import DEFAULT_HOOKFLASH_OUT_MS, DialPeer, Signal, VoicePortConfig

__all__ = ["dialPeersConfig", "importIos", "runningConfig", "voicePortsConfig"]


def voicePortsConfig(voicePorts: Sequence[VoicePortConfig]) -> list[str]:
    """
    @return: a C{voice-port} block per port, in configuration order, each
        followed by C{!}.
    """
    lines: list[str] = []
    for port in voicePorts:
        body: list[str] = []
        if port.hookflashOutMs != DEFAULT_HOOKFLASH_OUT_MS:
            body.append(f"timing hookflash-out {port.hookflashOutMs}")
        body += setCommands(("connection plar", port.plarNumber), ("description", port.description),
                            ("station-id name", port.stationIdName), ("station-id number", port.stationIdNumber))
        lines += indent(f"voice-port {port.name}", body) + ["!"]
    return lines


def dialPeersConfig(dialPeers: Sequence[DialPeer]) -> list[str]:
    """
    @return: a C{dial-peer voice TAG pots} block per peer, in configuration
        order, each followed by C{!}.
    """
    lines: list[str] = []
    for peer in dialPeers:
        body = setCommands(("application", peer.application), ("preference", peer.preference or None),
                           ("destination-pattern", peer.destinationPattern), ("port", peer.port),
                           ("forward-digits", peer.forwardDigits), ("prefix", peer.prefix or None))
        lines += indent(f"dial-peer voice {peer.tag} {peer.type}", body) + ["!"]
    return lines


def runningConfig(voicePorts: Sequence[VoicePortConfig], dialPeers: Sequence[DialPeer]) -> list[str]:
    """
    @return: L{voicePortsConfig} then L{dialPeersConfig}.
    """
    return voicePortsConfig(voicePorts) + dialPeersConfig(dialPeers)


_FXO_ONLY = (("timing", "hookflash-out"),)
_PORT_NAME = re.compile(r"[0-9]{1,3}/[0-9]{1,3}/[0-9]{1,3}\Z")


def _module(name: str) -> str:
    return name.rsplit("/", 1)[0]


def importIos(lines: Sequence[IosLine], document: dict[str, Any], notes: ImportNotes) -> list[IosLine]:
    """
    Import the C{voice-port} and C{dial-peer voice} blocks into
    C{voice-ports:} and C{dial-peers:}.

    @return: the lines that are neither.
    """
    rest: list[IosLine] = []
    ports: dict[str, dict[str, Any]] = {}
    fxoModules: set[str] = set()
    peers: list[dict[str, Any]] = []
    for line in lines:
        if line.startswith("voice-port") and not (len(line.words) == 2 and _PORT_NAME.match(line.words[1])):
            notes.skipTree(line, "srst has analog voice ports slot/subunit/port only (no digital, "
                                 "two-part or named ports)")
        elif line.startswith("voice-port"):
            name = line.words[1]
            ports[name] = _voicePort(line, notes)
            if any(child.startswith(*words) for child in line.children for words in _FXO_ONLY):
                fxoModules.add(_module(name))
        elif line.startswith("dial-peer", "voice"):
            peer = _dialPeer(line, notes)
            if peer is not None:
                peers.append(peer)
        else:
            rest.append(line)
    if ports:
        voicePorts: dict[str, Any] = {}
        for name, settings in ports.items():
            signal = Signal.FXO_LOOP_START if _module(name) in fxoModules else Signal.FXS_LOOP_START
            voicePorts[name] = {"signal": signal.configName, **settings}
        document["voice-ports"] = voicePorts
    if peers:
        document["dial-peers"] = peers
    return rest


def _voicePort(line: IosLine, notes: ImportNotes) -> dict[str, Any]:
    port: dict[str, Any] = {}
    for child in line.children:
        words = child.words
        if child.startswith("timing", "hookflash-out") and len(words) == 3 and words[2].isdigit():
            port["timing"] = {"hookflash-out-ms": int(words[2])}
        elif child.startswith("connection", "plar") and len(words) == 3:
            port["connection"] = {"plar": words[2]}
        elif child.startswith("connection"):
            notes.skipTree(child, "srst has connection plar <number> only")
        elif child.startswith("description") and len(words) > 1:
            port["description"] = child.text.split(None, 1)[1]
        elif child.startswith("station-id", "name") and len(words) > 2:
            port.setdefault("station-id", {})["name"] = child.text.split(None, 2)[2]
        elif child.startswith("station-id", "number") and len(words) == 3:
            port.setdefault("station-id", {})["number"] = words[2]
        elif child.startswith("signal", "loop-start") and len(words) == 2:
            pass  # IOS default, and all srst ports are loop-start
        elif child.startswith("signal"):
            notes.skipTree(child, "srst voice ports are loop-start only")
        else:
            notes.skipTree(child, f"srst has no voice-port {words[0]}")
    return port


def _dialPeer(line: IosLine, notes: ImportNotes) -> dict[str, Any] | None:
    words = line.words
    if len(words) != 4 or not words[2].isdigit() or words[3].lower() != "pots":
        notes.skipTree(line, "srst has dial-peer voice <tag> pots only (no VoIP dial-peers)")
        return None
    peer: dict[str, Any] = {"tag": int(words[2]), "type": "pots"}
    keep: list[IosLine] = []
    for child in line.children:
        cw = child.words
        if child.startswith("application") and len(cw) == 2:
            peer["application"] = cw[1]
        elif child.startswith("preference") and len(cw) == 2 and cw[1].isdigit():
            peer["preference"] = int(cw[1])
        elif child.startswith("destination-pattern") and len(cw) == 2:
            peer["destination-pattern"] = cw[1]
        elif child.startswith("port") and len(cw) == 2:
            peer["port"] = cw[1]
        elif child.startswith("forward-digits") and len(cw) == 2 and (cw[1].lower() == "all" or cw[1].isdigit()):
            peer["forward-digits"] = "all" if cw[1].lower() == "all" else int(cw[1])
        elif child.startswith("prefix") and len(cw) == 2:
            peer["prefix"] = cw[1]
        else:
            keep.append(child)
    if "port" not in peer:
        notes.skipTree(line, "srst needs a port on a pots dial-peer")
        return None
    for child in keep:
        notes.skipTree(child, f"srst has no dial-peer {child.words[0]}")
    order = ("tag", "type", "application", "preference", "destination-pattern", "port", "forward-digits", "prefix")
    return {key: peer[key] for key in order if key in peer}
