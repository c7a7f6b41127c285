# -*- test-case-name: tests.test_ports_service -*-
"""
The router's voice ports as a service: the ports of C{voice-ports:}, the
media they share (C{media:}: the RTP port range, one pump, control-plane
policing of the RTP datagrams), and the local call control of each port
(L{srst.ports.callendpoint.VoicePortEndpoint}, routed by the POTS
dial-peers: L{srst.ports.directory.PortDirectory}).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Protocol, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import DatagramProtocol
from zope.interface import implementer

from srst.calls.engine import CallEngine
from srst.calls.voicemail import Voicemail
from srst.debug import DebugSwitches
from srst.media.config import MediaConfig
from srst.media.multicast import MulticastReactor
from srst.media.portrange import RtpPortAllocator
from srst.media.transport import RtpStream, StreamSnapshot
from srst.media.udpport import UDPReactor
from srst.policing.datagram import PolicingDatagramProtocol
from srst.policing.meter import ControlPlane
from srst.ports.callendpoint import DEBUG_NAMESPACE, VoicePortEndpoint
from srst.ports.config import DialPeer, VoicePortConfig
from srst.ports.directory import PortDirectory, portNumber
from srst.ports.interfaces import IVoicePortListener
from srst.ports.media import MediaPump, PortMediaResources
from srst.ports.simulated import SimulatedBackend
from srst.ports.voiceport import VoicePort, newVoicePort


class PortSections(Protocol):
    """
    The sections of the router's configuration the voice ports are built
    from (L{srst.config.RouterConfig} has them; this package cannot import
    it).
    """

    media: MediaConfig
    voicePorts: Sequence[VoicePortConfig]
    dialPeers: Sequence[DialPeer]


@implementer(IVoicePortListener)
class _Held:
    """
    Listens to the ports held for MGCP before its gateway exists: an FXS
    line off hook hears no dial tone (the port plays one on its own; the
    MGCP endpoint stops it likewise until the call agent asks for one).
    """

    def offHook(self, port: VoicePort) -> None:
        if port.config.signal.isFxs:
            port.stopTone()

    def onHook(self, port: VoicePort) -> None:
        "Nothing to do."

    def digit(self, port: VoicePort, digit: str) -> None:
        "Nothing to do."

    def flash(self, port: VoicePort) -> None:
        "Nothing to do."

    def incoming(self, port: VoicePort, callerId: str | None) -> None:
        "Nothing to do."


class VoicePortService(Service):
    """
    The voice ports, their media and their local call control.

    @ivar ports: the L{srst.ports.voiceport.VoicePort}s, in config order.
    @ivar media: the L{PortMediaResources} they share.
    @ivar endpoints: port name to its L{VoicePortEndpoint} (empty without
        a call engine).
    @ivar directory: the L{PortDirectory} added to the engine, or L{None}.
    @ivar engine: the call engine the ports' endpoints belong to, or L{None}.
    """

    name = "voice-ports"

    def __init__(self, config: PortSections, reactor: UDPReactor, callEngine: CallEngine | None,
                 controlPlane: ControlPlane | None, debug: DebugSwitches, *,
                 voicemail: Voicemail | None = None, multicastReactor: MulticastReactor | None = None) -> None:
        """
        @param config: the router's configuration (its C{media},
            C{voicePorts} and C{dialPeers} sections).
        @param reactor: C{listenUDP} and the clock.
        @param callEngine: the L{srst.calls.engine.CallEngine}, or L{None}.
        @param controlPlane: the L{srst.policing.meter.ControlPlane}, or L{None}:
            with one, every RTP datagram passes the control-plane policy.
        @param debug: the router's debug switches (voice-port events, RTP
            drops, the call endpoints' C{debug voice-port} logger).
        @param voicemail: C{call-manager-fallback} C{voicemail} and
            C{vm-integration}, or L{None}: a port reached as the voice-mail
            number sends the pattern's digits once answered.
        @param multicastReactor: opens multicast sockets (a leg joining
            CallManager's music-on-hold group), or L{None}.
        """
        media = config.media
        unreachableMs = media.unreachableMs
        wrap: Callable[[RtpStream], DatagramProtocol] | None = None
        if controlPlane is not None:
            wrap = partial(PolicingDatagramProtocol, controlPlane=controlPlane, protocol="udp")
        self.pump = MediaPump(reactor)
        self.media = PortMediaResources(
            reactor, RtpPortAllocator(media.address, media.rtpPortRange), self.pump, debug=debug,
            unreachableTimeout=unreachableMs / 1000.0 if unreachableMs else None, wrap=wrap,
            multicastReactor=multicastReactor)
        self.ports = [newVoicePort(port, SimulatedBackend(port.name, port.signal), debug=debug)
                      for port in config.voicePorts]
        self.endpoints: dict[str, VoicePortEndpoint] = {}
        self.directory: PortDirectory | None = None
        self.engine = callEngine
        self._held: set[str] = set()
        self._holding = _Held()
        if callEngine is not None:
            debugLog = debug.logger(DEBUG_NAMESPACE)
            for port in self.ports:
                portConfig = port.config
                self.endpoints[port.name] = VoicePortEndpoint(
                    callEngine, port, self.media, debugLog=debugLog,
                    number=portNumber(port.name, config.dialPeers, portConfig.stationIdNumber),
                    name=portConfig.stationIdName or "", plar=portConfig.plarNumber, voicemail=voicemail)
            for peer in config.dialPeers:
                endpoint = self.endpoints.get(peer.port)
                if endpoint is not None and not endpoint.dialPeer:
                    endpoint.dialPeer = peer.tag
            self.directory = PortDirectory(config.dialPeers, self.endpoints)
            callEngine.addDirectory(self.directory)

    def hold(self, names: frozenset[str]) -> None:
        """
        Take the ports C{names} out of local call control with no one else
        to control them yet (an MGCP gateway still being configured): the
        line is ignored, no dial tone, no call offered, as a port MGCP
        controls before the call agent answers.  L{release} ends it.
        """
        for port in self.ports:
            if port.name in names and port.name not in self._held:
                endpoint = self.endpoints.get(port.name)
                if endpoint is not None:
                    endpoint.giveUpControl()
                port.subscribe(self._holding)
                self._held.add(port.name)

    def release(self, toLocal: frozenset[str]) -> None:
        """
        End L{hold}: the held ports in C{toLocal} go back to local call
        control, the others stay out of it (their new owner took them).
        """
        for port in self.ports:
            if port.name in self._held:
                port.unsubscribe(self._holding)
                endpoint = self.endpoints.get(port.name)
                if endpoint is not None and port.name in toLocal:
                    endpoint.takeControl()
        self._held.clear()

    def mediaOf(self, name: str) -> StreamSnapshot | None:
        """
        @return: the statistics of the open media stream of the port
            C{name} under local call control, or L{None} (the service
            adds MGCP connections: L{srst.service.RouterService}).
        """
        endpoint = self.endpoints.get(name)
        if endpoint is not None and endpoint.mediaLeg is not None:
            return endpoint.mediaSnapshot()
        return None

    def port(self, name: str) -> VoicePort:
        """
        @return: the voice port called C{name}.
        @raise KeyError: when there is none.
        """
        for port in self.ports:
            if port.name == name:
                return port
        raise KeyError(name)

    def stopService(self) -> Deferred:
        """
        Stop the pump, give up every running recording (its temporary file
        is removed), take the ports out of service (the engine clears their
        calls: the other sides get the hang-up, no call timer is left) and
        close every open media leg; fires once every leg the endpoints
        closed (now or before) has stopped listening.
        """
        Service.stopService(self)
        self.pump.stop()
        for port in self.ports:
            if isinstance(port.backend, SimulatedBackend):
                port.backend.discardRecording("the router is stopping")
        if self.engine is not None:
            for endpoint in self.endpoints.values():
                self.engine.endpointGone(endpoint)
        closing = [endpoint.closeMedia() for endpoint in self.endpoints.values()]
        return gatherResults(closing).addCallback(lambda ignored: None)


__all__ = ["VoicePortService"]
