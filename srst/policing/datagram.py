# -*- test-case-name: tests.test_policing_datagram,tests.test_policing_datagram_integration -*-
"""
The datagram half of control-plane policing: L{PolicingDatagramProtocol}
wraps a UDP listener's protocol (MGCP, RTP).  L{WrappingFactory} is
stream-only; for UDP, dropping a datagram is legitimate, so the wrapper
simply checks each one before delivering it.
"""

from __future__ import annotations

from twisted.internet.interfaces import IUDPTransport
from twisted.internet.protocol import DatagramProtocol

from srst.policing.addressing import LocalPort, resolvePort, sourceAddressOf
from srst.policing.config import IPProtocol, PoliceAction
from srst.policing.meter import ControlPlane


class PolicingDatagramProtocol(DatagramProtocol):
    """
    Wrap a UDP listener's L{DatagramProtocol} in the control-plane policy:
    each datagram is classified by source address and listener port and
    metered; a C{drop} action drops it (legitimate in UDP), anything else is
    delivered.  The wrapped protocol is connected to the real transport, so
    its writes are untouched.

    @ivar wrappedProtocol: the wrapped L{DatagramProtocol}.
    @ivar controlPlane: the shared L{ControlPlane}.
    @ivar ipProtocol: the L{IPProtocol} of this listener (C{udp}).
    @ivar localPort: see L{LocalPort}.
    """

    noisy = False

    def __init__(
        self,
        wrappedProtocol: DatagramProtocol,
        controlPlane: ControlPlane,
        protocol: IPProtocol | str = "udp",
        localPort: LocalPort = None,
    ) -> None:
        """
        @param wrappedProtocol: the protocol to wrap.
        @param controlPlane: the router's L{ControlPlane}.
        @param protocol: the listener's protocol as access lists name it.
        @param localPort: the destination port access lists compare with;
            C{None} uses the bound port of the transport.
        """
        self.wrappedProtocol = wrappedProtocol
        self.controlPlane = controlPlane
        self.ipProtocol = IPProtocol(protocol)
        self.localPort = localPort

    def logPrefix(self) -> str:
        """
        Name the wrapped protocol in log prefixes.
        """
        return f"{self.wrappedProtocol.logPrefix()} (PolicingDatagramProtocol)"

    def makeConnection(self, transport: IUDPTransport) -> None:
        """
        Start, and connect the wrapped protocol to the same transport.
        """
        DatagramProtocol.makeConnection(self, transport)
        self.wrappedProtocol.makeConnection(transport)

    def doStart(self) -> None:
        """
        Start, and tell the control plane.
        """
        DatagramProtocol.doStart(self)
        self.controlPlane.listenerStarted()

    def doStop(self) -> None:
        """
        Stop, tell the control plane, and stop the wrapped protocol.
        """
        DatagramProtocol.doStop(self)
        self.controlPlane.listenerStopped()
        self.wrappedProtocol.doStop()

    def connectionRefused(self) -> None:
        """
        Relay ICMP port unreachable (connected UDP) to the wrapped protocol.
        """
        self.wrappedProtocol.connectionRefused()

    def _port(self) -> int | None:
        port = resolvePort(self.localPort)
        if port is None and self.transport is not None:
            port = getattr(self.transport.getHost(), "port", None)
        return port

    def datagramReceived(self, datagram: bytes, addr: tuple[str | int, ...]) -> None:
        """
        Classify, meter, and deliver or drop C{datagram}.
        """
        source = sourceAddressOf(addr)
        policyClass = None
        if source is not None:
            policyClass = self.controlPlane.classify(self.ipProtocol, source, self._port())
        if policyClass is None:
            self.controlPlane.passDefault(len(datagram))
            self.wrappedProtocol.datagramReceived(datagram, addr)
            return
        verdict = self.controlPlane.police(policyClass, len(datagram))
        if verdict.action == PoliceAction.DROP:
            self.controlPlane.recordDrop(policyClass, len(datagram))
            self.controlPlane.warn(
                "datagram",
                policyClass,
                "control-plane {policyClass}: dropped a datagram from {peer} ({outcome})",
                peer=str(source),
                peerPort=addr[1] if isinstance(addr, tuple) and len(addr) > 1 else None,
                outcome="conformed" if verdict.conformed else "exceeded",
            )
            return
        self.wrappedProtocol.datagramReceived(datagram, addr)
