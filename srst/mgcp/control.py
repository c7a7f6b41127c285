# -*- test-case-name: tests.test_mgcp_control,tests.test_mgcp_acceptance -*-
"""
Who controls each voice port: CallManager over MGCP, or the router's own
call control in fallback (mgcp.md 9.3, 9.4).

L{PortControl} is the L{IFallbackTarget} the fallback monitor drives.  A
port has one owner at a time:

  - B{MGCP}: the gateway's endpoint follows the line and the call agent;
    the local L{srst.ports.callendpoint.VoicePortEndpoint} is inactive (it
    ignores the line and takes no calls).
  - B{LOCAL}: on fallback every port is relinquished by the gateway:
    calls being set up are cleared at once, a connected MGCP call keeps
    its media until the line hangs up; then the local endpoint becomes
    active and the port's dial-peers route its calls (SRST).
  - Switchback returns a port to MGCP only when the local endpoint has no
    call on it (L{isPortIdle}); the monitor decides when (immediate,
    graceful, schedule-time, uptime-delay) and sends the RSIP.

Only the gateway's ports (those an C{application mgcpapp} dial-peer binds,
L{srst.mgcp.config.mgcpPortNames}) have an owner to change.  Every other
voice port is local from start to stop: its endpoint is never made
inactive, fallback and switchback never touch it, and the call agent
cannot name it (the gateway answers 500, endpoint unknown).

L{MgcpService} puts the gateway on its UDP socket (inside the
control-plane policy), starts the monitor and stops both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Mapping, Protocol, Sequence

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from zope.interface import implementer

from srst.listening import UDPListenerService
from srst.media.udpport import UDPReactor
from srst.mgcp.config import CcmManagerConfig
from srst.mgcp.fallback import FallbackMonitor, IFallbackTarget, newFallbackMonitor
from srst.mgcp.gateway import MgcpGateway
from srst.mgcp.messages import Response
from srst.policing.datagram import PolicingDatagramProtocol
from srst.policing.meter import ControlPlane
from srst.ports.voiceport import PortStatus


class LocalEndpoint(Protocol):
    """
    What L{PortControl} uses of a port's local call control (the voice
    port's call endpoint, L{srst.ports.callendpoint.VoicePortEndpoint}).

    @ivar active: whether local call control has the port.
    @ivar leg: the local call's leg, or L{None}.
    @ivar mediaLeg: the local call's media, or L{None}.
    """

    active: bool
    leg: object
    mediaLeg: object

    def takeControl(self) -> None:
        "Local call control has the port now."

    def giveUpControl(self) -> None:
        "The port is MGCP's."

    def whenIdle(self, observer: Callable[[str], object]) -> None:
        "Call C{observer(portName)} whenever a local call ends and the line is idle."


@implementer(IFallbackTarget)
class PortControl:
    """
    The owner of each voice port between the MGCP gateway and local call
    control.

    @ivar gateway: the L{srst.mgcp.gateway.MgcpGateway}.
    @ivar local: port name to its L{VoicePortEndpoint}, for the gateway's
        ports only (a gateway port missing here stays with MGCP only).
    @ivar monitor: the L{FallbackMonitor} told when a local port goes idle
        (set after construction).
    """

    log = Logger()

    def __init__(self, gateway: MgcpGateway, local: Mapping[str, LocalEndpoint]) -> None:
        """
        @param gateway: the MGCP gateway (it controls every port of its own
            at first).
        @param local: the local endpoints of the voice ports; those of the
            gateway's ports are made inactive here, the others are left
            alone (local call control keeps them).
        """
        self.gateway = gateway
        self.local = {name: endpoint for name, endpoint in local.items() if name in gateway.endpoints}
        self.monitor: FallbackMonitor | None = None
        self._returnWhenIdle: set[str] = set()
        for name, endpoint in self.local.items():
            endpoint.giveUpControl()
            endpoint.whenIdle(self._localIdle)

    def owner(self, name: str) -> str:
        """
        @return: C{"MGCP"} or C{"LOCAL"} for voice port C{name} (C{"LOCAL"}
            always for a port the gateway does not serve).
        """
        if name not in self.gateway.endpoints:
            return "LOCAL"
        return "MGCP" if self.gateway.controlled(name) else "LOCAL"

    # -- IFallbackTarget -----------------------------------------------------------------------

    def sendKeepalive(self) -> Deferred[Response]:
        """See L{IFallbackTarget.sendKeepalive}."""
        return self.gateway.sendKeepalive()

    def sendRestart(self, method: str, portNames: Sequence[str]) -> Deferred[Response]:
        """See L{IFallbackTarget.sendRestart}."""
        return self.gateway.sendRestart(method, portNames=list(portNames))

    def enterFallback(self) -> None:
        """
        Relinquish every port: the gateway clears transient calls and keeps
        connected ones; each port turns local once idle.
        """
        for name in self.portNames():
            if self.gateway.controlled(name):
                self.gateway.relinquish(name, self._relinquished)

    def useCallAgent(self, address: tuple[str, int]) -> None:
        """See L{IFallbackTarget.useCallAgent}."""
        self.gateway.useCallAgent(address)

    def forgetCallAgent(self, address: tuple[str, int]) -> None:
        """See L{IFallbackTarget.forgetCallAgent}."""
        self.gateway.forgetCallAgent(address)

    def probeCallAgent(self, address: tuple[str, int]) -> Deferred[Response]:
        """See L{IFallbackTarget.probeCallAgent}."""
        return self.gateway.probeCallAgent(address)

    def portNames(self) -> Sequence[str]:
        """See L{IFallbackTarget.portNames}."""
        return list(self.gateway.endpoints)

    def isPortIdle(self, name: str) -> bool:
        """
        @return: whether neither MGCP nor local call control has a call on
            the port and its line is idle.
        """
        endpoint = self.local.get(name)
        if endpoint is not None and (endpoint.leg is not None or endpoint.mediaLeg is not None):
            return False
        port = self.gateway.endpoints[name].port
        return bool(self.gateway.isIdle(name)) and port.status is PortStatus.IDLE

    def returnPort(self, name: str) -> None:
        """
        Give the port back to MGCP (switchback).  A call the local control
        still has on it stays up and the port is handed over when it ends.
        """
        endpoint = self.local.get(name)
        if endpoint is not None and not self.isPortIdle(name):
            self.log.info("voice-port {port}: switchback waits for the local call to end", port=name)
            self._returnWhenIdle.add(name)
            return
        self._returnWhenIdle.discard(name)
        if endpoint is not None:
            endpoint.giveUpControl()
        if not self.gateway.controlled(name):
            self.gateway.reclaim(name)
            self.log.info("voice-port {port}: back under MGCP control", port=name)

    # -- internals -------------------------------------------------------------------------------

    def _relinquished(self, name: str) -> None:
        endpoint = self.local.get(name)
        if endpoint is not None:
            endpoint.takeControl()
        self.log.info("voice-port {port}: under local call control (fallback)", port=name)
        if self.monitor is not None and name in self.monitor.pendingPorts:
            # A call kept through fallback outlasted it: the port, waiting
            # for switchback, goes back now that it is idle.
            self.monitor.portIdle(name)

    def _localIdle(self, name: str) -> None:
        if name in self._returnWhenIdle:
            self.returnPort(name)
            return
        if self.monitor is not None:
            self.monitor.portIdle(name)


class MgcpService(MultiService):
    """
    The MGCP gateway on its UDP port, with the fallback monitor.

    @ivar gateway: the L{srst.mgcp.gateway.MgcpGateway}.
    @ivar control: the L{PortControl}.
    @ivar monitor: the L{FallbackMonitor}.
    @ivar listener: the UDP listener (named C{mgcp}).
    """

    name = "mgcp"

    def __init__(self, reactor: UDPReactor, gateway: MgcpGateway, local: Mapping[str, LocalEndpoint],
                 ccmManager: CcmManagerConfig, bind: tuple[str, int], now: Callable[[], datetime],
                 controlPlane: ControlPlane | None = None) -> None:
        """
        @param reactor: C{listenUDP} and the clock.
        @param gateway: the gateway (not started).
        @param local: the ports' local endpoints.
        @param ccmManager: the C{ccm-manager:} settings.
        @param bind: the gateway's C{(host, port)}.
        @param now: aware wall-clock time.
        @param controlPlane: the control-plane policy its datagrams go
            through (L{srst.policing.meter.ControlPlane}), or L{None}.
        """
        MultiService.__init__(self)
        self.gateway = gateway
        self.control = PortControl(gateway, local)
        host, port = gateway.callAgent
        self.monitor = newFallbackMonitor(reactor, now, ccmManager, host, self.control, gateway.debugLog,
                                          callAgentPort=port)
        self.control.monitor = self.monitor
        gateway.trafficObservers.append(self.monitor.trafficReceived)
        gateway.commandObservers.append(self.monitor.commandReceived)
        gateway.timeoutObservers.append(self.monitor.transactionTimedOut)
        gateway.endpointTimeoutObservers.append(self.monitor.endpointTimedOut)
        self._clock = reactor
        self._booting: IDelayedCall | None = None
        protocol: DatagramProtocol = gateway.protocol
        if controlPlane is not None:
            protocol = PolicingDatagramProtocol(protocol, controlPlane, "udp")
        self.listener = UDPListenerService("mgcp", reactor, bind[0], bind[1], protocol)
        self.listener.setServiceParent(self)

    def startService(self) -> None:
        """
        Bind the socket, then after C{mgcp restart-delay} let the monitor
        register with the call agent (the boot RSIP).
        """
        MultiService.startService(self)
        self._booting = self._clock.callLater(self.gateway.restartDelay, self._boot)

    def _boot(self) -> None:
        self._booting = None
        self.monitor.start()

    def stopService(self) -> Deferred[None]:
        """Stop the monitor and the gateway's timers and connections, then the socket."""
        booting, self._booting = self._booting, None
        if booting is not None and booting.active():
            booting.cancel()
        self.monitor.stop()
        stopping = self.gateway.stop()
        return stopping.addBoth(lambda ignored: maybeDeferred(MultiService.stopService, self))


__all__ = ["MgcpService", "PortControl"]
