# -*- test-case-name: tests.test_policing_stream,tests.test_policing_stream_integration -*-
"""
The stream half of control-plane policing: L{PolicingFactory} and
L{PolicingProtocol}, a L{WrappingFactory}/L{ProtocolWrapper} pair that sits
outside TLS on every policed TCP listener.  See L{srst.policing} for how IOS
actions map onto a byte stream.
"""

from __future__ import annotations

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    ITCPTransport,
)
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure

from srst.policing.addressing import LocalPort, resolvePort, sourceAddressOf
from srst.policing.config import IPAddress, IPProtocol, PoliceAction, PolicyClass
from srst.policing.meter import SEGMENT_BYTES, ControlPlane, Verdict

_RESUME_SLACK = 1e-6
"""Seconds of refill not worth waiting for (floating-point noise)."""


def _segments(nbytes: int) -> int:
    return max(1, -(-nbytes // SEGMENT_BYTES))


class PolicingProtocol(ProtocolWrapper):
    """
    The per-connection half of L{PolicingFactory}: meters reads in a policed
    class, pauses the transport to hold a class to its rate, and merges its
    own pauses with those of the wrapped protocol (TLS or the application
    may pause the transport too; the transport resumes only when neither
    wants it paused).

    @ivar policyClass: the connection's L{PolicyClass}, or C{None} for
        class-default (delivered untouched).
    """

    def __init__(
        self,
        factory: PolicingFactory,
        wrappedProtocol: IProtocol | None,
        policyClass: PolicyClass | None = None,
        pendingAddress: IAddress | None = None,
    ) -> None:
        """
        @param factory: the L{PolicingFactory}.
        @param wrappedProtocol: the protocol built by the wrapped factory, or
            C{None} when C{pendingAddress} is given.
        @param policyClass: the class decided in C{buildProtocol}.
        @param pendingAddress: the peer address, when the decision waits for
            the accepted socket's port (L{PolicingFactory} without a
            C{localPort}).
        """
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.policyClass = policyClass
        self._pendingAddress = pendingAddress
        self._resumeCall: IDelayedCall | None = None
        self._resumeAt = 0
        self._throttled = False
        self._innerPaused = False
        self._aborted = False
        self._warnedThrottle = False

    def logPrefix(self) -> str:
        """
        Name the wrapped protocol in log prefixes (just this class while the
        decision on the connection is pending).
        """
        if self.wrappedProtocol is None:
            return self.__class__.__name__
        return ProtocolWrapper.logPrefix(self)

    # -- connection set-up and tear-down

    def makeConnection(self, transport: ITCPTransport) -> None:
        """
        Connect the wrapped protocol, first deciding on the connection if
        C{buildProtocol} could not (it then aborts a refused connection
        before the wrapped factory is asked for a protocol).
        """
        if self._pendingAddress is not None:
            addr, self._pendingAddress = self._pendingAddress, None
            decided = self.factory._decideAccepted(addr, transport)
            if decided is None:
                self.transport = transport
                self._aborted = True
                transport.abortConnection()
                return
            self.wrappedProtocol, self.policyClass = decided
        ProtocolWrapper.makeConnection(self, transport)

    def connectionLost(self, reason: Failure) -> None:
        """
        Cancel the resume timer, unregister, and tell the wrapped protocol.
        """
        self._cancelResume()
        if self in self.factory.protocols:
            self.factory.unregisterProtocol(self)
        wrapped, self.wrappedProtocol = self.wrappedProtocol, None
        if wrapped is not None:
            wrapped.connectionLost(reason)

    # -- metering

    def dataReceived(self, data: bytes) -> None:
        """
        Meter C{data} against the connection's class and apply the action;
        class-default data is counted and delivered.
        """
        wrapped = self.wrappedProtocol
        if wrapped is None or self._aborted:
            return
        controlPlane = self.factory.controlPlane
        policyClass = self.policyClass
        nbytes = len(data)
        if policyClass is None:
            controlPlane.passDefault(nbytes, _segments(nbytes))
            wrapped.dataReceived(data)
            return
        conformDrop = False
        exceededBytes = 0
        for offset in range(0, nbytes, SEGMENT_BYTES):
            size = min(SEGMENT_BYTES, nbytes - offset)
            verdict = controlPlane.police(policyClass, size)
            if verdict.action == PoliceAction.DROP:
                if verdict.conformed:
                    conformDrop = True
                else:
                    exceededBytes += size
        if conformDrop:
            self._abort(policyClass, nbytes)
            return
        if exceededBytes:
            resumeAt = min(nbytes, SEGMENT_BYTES)
            self._throttle(controlPlane.throttle(policyClass, exceededBytes, resumeAt), resumeAt)
        wrapped.dataReceived(data)

    def _abort(self, policyClass: PolicyClass, nbytes: int) -> None:
        controlPlane = self.factory.controlPlane
        controlPlane.recordDrop(policyClass, nbytes, _segments(nbytes))
        controlPlane.recordAbort(policyClass)
        peer = self.transport.getPeer()
        controlPlane.warn(
            "abort",
            policyClass,
            "control-plane {policyClass}: conform-action drop, aborting the connection from {peer}",
            peer=getattr(peer, "host", str(peer)),
            peerPort=getattr(peer, "port", None),
        )
        self._aborted = True
        self._cancelResume()
        self.transport.abortConnection()

    def _throttle(self, delay: float, resumeAt: int) -> None:
        if delay <= 0 or getattr(self.transport, "disconnecting", False):
            return
        self._resumeAt = resumeAt
        if not self._throttled:
            self._throttled = True
            if not self._innerPaused:
                self.transport.pauseProducing()
        if not self._warnedThrottle:
            self._warnedThrottle = True
            peer = self.transport.getPeer()
            self.factory.controlPlane.warn(
                "throttle",
                self.policyClass,
                "control-plane {policyClass}: {peer} exceeds the police rate, pausing reads for {delay:.3f} s",
                peer=getattr(peer, "host", str(peer)),
                peerPort=getattr(peer, "port", None),
                delay=delay,
            )
        if self._resumeCall is not None and self._resumeCall.active():
            self._resumeCall.reset(delay)
        else:
            self._resumeCall = self.factory.clock.callLater(delay, self._resume)

    def _resume(self) -> None:
        self._resumeCall = None
        delay = self.factory.controlPlane.timeUntil(self.policyClass, self._resumeAt)
        if delay > _RESUME_SLACK:
            # Other connections of the class drew on the shared bucket.
            self._resumeCall = self.factory.clock.callLater(delay, self._resume)
            return
        self._throttled = False
        if not self._innerPaused and not getattr(self.transport, "disconnecting", False):
            self.transport.resumeProducing()

    def _cancelResume(self) -> None:
        call, self._resumeCall = self._resumeCall, None
        if call is not None and call.active():
            call.cancel()

    @property
    def throttled(self) -> bool:
        """
        Whether reads are paused to hold the class to its rate.
        """
        return self._throttled

    # -- the wrapped protocol's view of the transport as a producer

    def pauseProducing(self) -> None:
        """
        The wrapped protocol wants reads paused.
        """
        self._innerPaused = True
        if not self._throttled:
            self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """
        The wrapped protocol wants reads again; they resume unless the
        policer is holding them.
        """
        self._innerPaused = False
        if not self._throttled:
            self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """
        Relay C{stopProducing} to the transport.
        """
        self._cancelResume()
        self.transport.stopProducing()


class PolicingFactory(WrappingFactory):
    """
    Wrap a stream listener's factory in the control-plane policy.

    @ivar controlPlane: the shared L{ControlPlane}.
    @ivar clock: the L{IReactorTime} for resume timers.
    @ivar ipProtocol: the L{IPProtocol} of this listener (C{tcp}).
    @ivar localPort: see L{LocalPort}.
    """

    protocol = PolicingProtocol
    noisy = False

    def __init__(
        self,
        wrappedFactory: IProtocolFactory,
        controlPlane: ControlPlane,
        clock: IReactorTime,
        protocol: IPProtocol | str = "tcp",
        localPort: LocalPort = None,
    ) -> None:
        """
        @param wrappedFactory: the factory to wrap (for TLS listeners, the
            L{TLSMemoryBIOFactory}).
        @param controlPlane: the router's L{ControlPlane}.
        @param clock: schedules resumes of throttled connections.
        @param protocol: the listener's protocol as access lists name it.
        @param localPort: the destination port access lists compare with;
            give the configured service port so that a listener bound to an
            ephemeral port (tests) is classified as its service.  C{None}
            uses the accepted socket's port, deciding in C{makeConnection}.
        """
        WrappingFactory.__init__(self, wrappedFactory)
        self.controlPlane = controlPlane
        self.clock = clock
        self.ipProtocol = IPProtocol(protocol)
        self.localPort = localPort

    def buildProtocol(self, addr: IAddress) -> PolicingProtocol | None:
        """
        Classify the connection by peer address and listener port; refuse it
        (C{None}) when its class's action is C{drop}.  Otherwise wrap what
        the wrapped factory builds (C{None} from it is passed on).
        """
        source = sourceAddressOf(addr)
        port = resolvePort(self.localPort)
        if port is None and source is not None:
            return self.protocol(self, None, pendingAddress=addr)
        admission = self.controlPlane.admitConnection(self.ipProtocol, source, port)
        if not admission.allowed:
            self._logRefusal(admission.policyClass, admission.verdict, source, addr, port)
            return None
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped, admission.policyClass)

    def _decideAccepted(
        self, addr: IAddress, transport: ITCPTransport
    ) -> tuple[IProtocol, PolicyClass | None] | None:
        """
        Decide on a connection in C{makeConnection}, with the port of the
        accepted socket.

        @return: the wrapped protocol and the class, or C{None} to abort.
        """
        source = sourceAddressOf(addr)
        port = resolvePort(self.localPort)
        if port is None:
            port = getattr(transport.getHost(), "port", None)
        admission = self.controlPlane.admitConnection(self.ipProtocol, source, port)
        if not admission.allowed:
            self._logRefusal(admission.policyClass, admission.verdict, source, addr, port)
            return None
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return wrapped, admission.policyClass

    def _logRefusal(self, policyClass: PolicyClass, verdict: Verdict, source: IPAddress | None, addr: IAddress,
                    port: int | None) -> None:
        self.controlPlane.warn(
            "refuse",
            policyClass,
            "control-plane {policyClass}: dropped a connection from {peer} to port {port} ({outcome}, {action})",
            peer=str(source),
            peerPort=getattr(addr, "port", None),
            port=port,
            outcome="conformed" if verdict.conformed else "exceeded",
            action=str(verdict.action),
        )

    def unregisterProtocol(self, p: PolicingProtocol) -> None:
        """
        Cancel C{p}'s resume timer and forget it (the base class does the
        forgetting).
        """
        p._cancelResume()
        WrappingFactory.unregisterProtocol(self, p)

    def doStart(self) -> None:
        """
        The listener started: start as usual and tell the control plane.
        """
        WrappingFactory.doStart(self)
        self.controlPlane.listenerStarted()

    def doStop(self) -> None:
        """
        The listener stopped: cancel every resume timer (throttled
        connections stay paused until they close), tell the control plane,
        then stop as usual.
        """
        for p in list(self.protocols):
            p._cancelResume()
        self.controlPlane.listenerStopped()
        WrappingFactory.doStop(self)
