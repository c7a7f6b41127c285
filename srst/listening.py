# -*- test-case-name: tests.test_listening,tests.test_service -*-
"""
Listener services that fail start-up loudly and expose the bound port.

Twisted's C{StreamServerEndpointService} logs a bind error and carries on
without the listener; srst wants a busy port to stop start-up, and tests want
the ephemeral port a listener got (style.md section 2.3).
"""

from __future__ import annotations

import ipaddress
import resource
from abc import ABC, abstractmethod
from typing import Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IReactorTCP, IReactorUDP
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger


class ListenerError(RuntimeError):
    """
    A listener could not be bound.
    """

    def __init__(self, name: str, address: str, port: int, reason: str) -> None:
        RuntimeError.__init__(self, name, address, port, reason)
        self.name = name
        self.address = address
        self.port = port
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot listen for {self.name} on {self.address} port {self.port}: {self.reason}"


class ListenerService(Service, ABC):
    """
    A listener bound when the service starts: a port that cannot be bound
    stops start-up with L{ListenerError}.  Subclasses say how to bind
    (L{_listen}).

    @ivar address: the address to bind.
    @ivar port: the port to bind (0 for any free port).
    @ivar listeningPort: the L{IListeningPort} once listening.
    """

    log = Logger()

    def __init__(self, name: str, address: str, port: int) -> None:
        self.setName(name)
        self.address = address
        self.port = port
        self.listeningPort: IListeningPort | None = None
        self._waiting: list[Deferred[IListeningPort]] = []

    @abstractmethod
    def _listen(self) -> IListeningPort:
        """
        Bind.

        @raise CannotListenError: if the port cannot be bound.
        """

    def startService(self) -> None:
        """
        Bind now; raise L{ListenerError} if the port cannot be bound.
        """
        Service.startService(self)
        try:
            self.listeningPort = self._listen()
        except CannotListenError as e:
            Service.stopService(self)
            raise ListenerError(self.name, self.address, self.port, str(e.socketError)) from e
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(self.listeningPort)

    def boundPort(self) -> int | None:
        """
        @return: the port actually bound (useful when configured as 0).
        """
        if self.listeningPort is None:
            return None
        return self.listeningPort.getHost().port

    def whenListening(self) -> Deferred[IListeningPort]:
        """
        @return: a L{Deferred} firing with the L{IListeningPort} once bound.
        """
        if self.listeningPort is not None:
            return succeed(self.listeningPort)
        d: Deferred[IListeningPort] = Deferred()
        self._waiting.append(d)
        return d

    def stopService(self) -> Deferred[None] | None:
        """
        Stop listening.
        """
        Service.stopService(self)
        port, self.listeningPort = self.listeningPort, None
        if port is not None:
            return port.stopListening()
        return None


class TCPListenerService(ListenerService):
    """
    Listen on a TCP port (TLS, when wanted, is inside the factory: policing
    wraps TLS wraps the application, style.md section 2.9).
    """

    backlog = 1024
    """Pending connections the kernel queues; a flood of new connections
    must reach the policer (which counts and drops them), not overflow."""

    def __init__(self, name: str, reactor: IReactorTCP, address: str, port: int,
                 factory: IProtocolFactory) -> None:
        """
        @param name: the service name (C{"credentials"}, C{"sccp"}, ...).
        @param reactor: binds the port.
        @param address: the address to bind.
        @param port: the port to bind (0 for any free port).
        @param factory: the listener's factory.
        """
        ListenerService.__init__(self, name, address, port)
        self._reactor = reactor
        self.factory = factory

    def _listen(self) -> IListeningPort:
        listeningPort = self._reactor.listenTCP(self.port, self.factory, backlog=self.backlog,
                                                interface=self.address)
        self.log.info(
            "{name} listening on {address} port {port}",
            name=self.name,
            address=self.address,
            port=listeningPort.getHost().port,
        )
        return listeningPort


class UDPListenerService(ListenerService):
    """
    The same for a UDP L{DatagramProtocol} (MGCP, RTP).
    """

    def __init__(self, name: str, reactor: IReactorUDP, address: str, port: int,
                 protocol: DatagramProtocol) -> None:
        """
        @param name: the service name (C{"mgcp"}).
        @param reactor: binds the port.
        @param address: the address to bind.
        @param port: the port to bind (0 for any free port).
        @param protocol: the listener's protocol.
        """
        ListenerService.__init__(self, name, address, port)
        self._reactor = reactor
        self.protocol = protocol

    def _listen(self) -> IListeningPort:
        return self._reactor.listenUDP(self.port, self.protocol, interface=self.address)


def isIPv6(address: str) -> bool:
    """
    @return: whether C{address} is an IPv6 literal.
    """
    return isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address)


def raiseOpenFileLimit(
    log: Logger,
    getrlimit: Callable[[int], tuple[int, int]] = resource.getrlimit,
    setrlimit: Callable[[int, tuple[int, int]], None] = resource.setrlimit,
) -> int | None:
    """
    Raise the process's soft open-file limit (C{RLIMIT_NOFILE}) to its hard
    limit, so that every descriptor the system grants the router is usable
    (a shell's C{ulimit -n} is often 1024 with a much higher hard limit),
    and log one line with the old and new values.

    @param log: where the line goes.
    @param getrlimit: reads the limit (L{resource.getrlimit}).
    @param setrlimit: sets it (L{resource.setrlimit}).
    @return: the soft limit now in force, or L{None} when it is unlimited.
    """
    soft, hard = getrlimit(resource.RLIMIT_NOFILE)
    new = soft
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as e:
            log.warn("open-file limit (RLIMIT_NOFILE) stays {soft}: cannot raise it to the hard limit {hard}: "
                     "{error}", soft=_limitText(soft), hard=_limitText(hard), error=str(e))
            return soft
        new = hard
    log.info("open-file limit (RLIMIT_NOFILE) {old} -> {new} (hard limit {hard})",
             old=_limitText(soft), new=_limitText(new), hard=_limitText(hard))
    return None if new == resource.RLIM_INFINITY else new


def _limitText(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)
