# -*- test-case-name: tests.test_sccp_protocol -*-
"""
The SCCP listener factory: one L{SkinnyFactory} per listener, plain (TCP
2000) or secure (TLS 2443, C{secure=True}).

The composition root wires them as::

    registry = EphoneRegistry(config.callManagerFallback, stateDir, reactor)
    plain = SkinnyFactory(cmf, reactor, registry, now, secure=False, ...)
    secure = SkinnyFactory(cmf, reactor, registry, now, secure=True,
                           tlsOptions=serverOptions, ...)
    PolicingFactory(plain, ...)                                   # port
    PolicingFactory(TLSMemoryBIOFactory(serverOptions, False, secure), ...)  # secure port

Both share the registry, so C{max-ephones}, ephone numbers and directory
numbers span the two listeners.  The factory holds the configuration, the
clock and the collaborators, builds protocol + station pairs, counts
connections, handshakes and errors, and writes the C{debug ephone register}
lines about sockets and TLS (seed: C{New Skinny socket accepted [2] (0
active)}, C{sin_family 2, sin_port 51617, in_addr 10.5.43.177}, C{Start TLS
Handshake 0 10.5.43.177 51617}, C{add_skinny_secure_socket ...},
C{skinny_secure_handshake ...}, C{TLS Handshake retcode
OPSSLReadWouldBlockErr} for each handshake step that waits for the phone,
C{CRYPTO_PKI_OPSSL - Verifying 1 Certs}, C{TLS Handshake completes}).  It
does not parse or decide.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections import Counter
from typing import Any, Callable

from cryptography import x509
from twisted.internet.interfaces import IAddress, IReactorTime, ITransport
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.debug import DebugSwitches
from srst.lograte import LogLimiter
from srst.pki.tls import HandshakeFailure, IHandshakeObserver, ServerTLSOptions, describeSSLError
from srst.sccp._templates import StationSettings, dateTemplate, idlePrompt
from srst.sccp.config import CallManagerFallbackConfig
from srst.sccp.limits import IAdmittedConnection
from srst.sccp.protocol import SkinnyProtocol
from srst.sccp.registry import EphoneRegistry
from srst.sccp.station import IStationListener, RegistrationCounters, Station, StationCore

REGISTER_NAMESPACE = "srst.debug.ephone.register"
"""The log namespace of C{debug ephone register}."""

STATE_NAMESPACE = "srst.debug.ephone.state"
"""The log namespace of C{debug ephone state}."""

MACHINE_NAMESPACE = "srst.debug.sccp.machine"
"""
The log namespace of the station machine's transitions (C{[26]:new ->
connected (TCP connection)}): IOS prints no such lines, so they stay out of
C{debug ephone state} and no command streams them; a developer enables the
namespace on the L{srst.debug.DebugSwitches}.
"""

HANDSHAKE_TIMED_OUT = "handshake timed out"
"""The handshake-failure reason of a phone that did not finish in time."""


@implementer(IHandshakeObserver)
class _HandshakeDebug:
    """
    Writes the C{debug ephone register} lines of one connection's TLS
    handshake steps (while that debug is on).
    """

    def __init__(self, factory: SkinnyFactory, protocol: SkinnyProtocol) -> None:
        self.factory = factory
        self.fields = dict(socket=protocol.socketNumber, ip=protocol.peerHost, port=protocol.peerPort)

    def readWouldBlock(self) -> None:
        if self.factory._registerDebug():
            self.factory.registerLog.debug("TLS Handshake retcode OPSSLReadWouldBlockErr", **self.fields)

    def verifying(self, count: int) -> None:
        if self.factory._registerDebug():
            self.factory.registerLog.debug("CRYPTO_PKI_OPSSL - Verifying {count} Certs", count=count, **self.fields)


class SkinnyFactory(Factory):
    """
    Builds the sessions of one SCCP listener.

    @ivar config: the C{call-manager-fallback} section.
    @ivar clock: timers.
    @ivar registry: the shared L{EphoneRegistry}.
    @ivar secure: whether this is the TLS listener.
    @ivar activeConnections: connections open now.
    @ivar connectionsAccepted: connections accepted since start.
    @ivar handshakesCompleted: TLS handshakes completed.
    @ivar handshakeFailures: failed TLS handshakes, by reason.
    @ivar inputErrors: connections closed for bad input, by kind.
    @ivar registrations: the L{RegistrationCounters} of the Registers
        heard on this listener.
    @ivar protocols: the open connections, by socket number.
    @ivar logLimiter: the L{LogLimiter} of the lines a peer can cause at
        will (bad frames, failed handshakes, refused Registers); it stops
        with the listener.
    """

    noisy = False
    log = Logger()

    def __init__(
        self,
        config: CallManagerFallbackConfig,
        clock: IReactorTime,
        registry: EphoneRegistry,
        now: Callable[[], datetime.datetime],
        *,
        secure: bool,
        debug: DebugSwitches,
        tlsOptions: ServerTLSOptions | None = None,
        serverName: str = "srst",
        listener: IStationListener | None = None,
    ) -> None:
        """
        @param config: the C{call-manager-fallback} section.
        @param clock: the reactor's L{IReactorTime}.
        @param registry: the registry both listeners share.
        @param now: local wall-clock time, for DefineTimeDate.
        @param secure: C{True} for the TLS listener.
        @param debug: the router's debug switches: the C{debug ephone
            register} and C{debug ephone state} loggers come from them, and
            their lines are not even built while those are off.
        @param tlsOptions: the listener's L{srst.pki.tls.ServerTLSOptions}
            (its C{handshakeFailure} explains failed handshakes); L{None}
            describes them from the connection's error alone.
        @param serverName: the router's name in ConfigStat and ServerRes.
        @param listener: the call adapter: receives a registered phone's
            call-control messages, says whether a phone has a call (its
            Unregister is then refused), and is told when a registration
            ends; L{None} logs and ignores call-control messages.
        """
        self.config = config
        self.clock = clock
        self.registry = registry
        self.now = now
        self.secure = secure
        self.tlsOptions = tlsOptions
        self.serverName = serverName
        self.registerLog = debug.logger(REGISTER_NAMESPACE)
        self.stateLog = debug.logger(STATE_NAMESPACE)
        self.machineLog = debug.logger(MACHINE_NAMESPACE)
        self.listener = listener
        self.debugEnabled = debug.isEnabled
        self.settings = StationSettings(
            keepAlive=config.timeouts.keepalive,
            dateTemplate=dateTemplate(config.dateFormat),
            idlePrompt=idlePrompt(config.systemMessage),
            serverName=serverName,
            serverAddress=config.ipSourceAddress,
            serverPort=config.securePort if secure else config.port,
            secure=secure,
        )
        self.activeConnections = 0
        self.connectionsAccepted = 0
        self.handshakesCompleted = 0
        self.handshakeFailures: Counter[str] = Counter()
        self.inputErrors: Counter[str] = Counter()
        self.registrations = RegistrationCounters()
        self.protocols: dict[int, SkinnyProtocol] = {}
        self._sockets = 0
        self.logLimiter = LogLimiter(clock)

    def startFactory(self) -> None:
        """The listener started: rate-limit peer log lines."""
        self.logLimiter.start()

    def stopFactory(self) -> None:
        """The listener stopped: log what the rate limit held back."""
        self.logLimiter.stop()

    def buildProtocol(self, addr: IAddress) -> SkinnyProtocol:
        """
        @return: a L{SkinnyProtocol} with the next socket number (from 1).
        """
        self._sockets += 1
        return SkinnyProtocol(self, self._sockets)

    # -- called by the protocol ------------------------------------------------------

    def connectionOpened(self, protocol: SkinnyProtocol) -> Station:
        """
        Count and log a new connection and build its session (told the
        connection caps of L{srst.sccp.limits} when the transport is
        counted by them: the limits' wrapper, or TLS over it).

        @param protocol: the connection.
        @return: its L{Station}.
        """
        log = self.registerLog
        debug = self._registerDebug()
        fields = dict(socket=protocol.socketNumber, ip=protocol.peerHost, port=protocol.peerPort)
        if debug:
            log.debug("New Skinny socket accepted [{socket}] ({active} active)", active=self.activeConnections,
                      **fields)
            family = socket.AF_INET6 if ":" in protocol.peerHost else socket.AF_INET
            log.debug("sin_family {family}, sin_port {port}, in_addr {ip}", family=int(family), **fields)
        self.activeConnections += 1
        self.connectionsAccepted += 1
        self.protocols[protocol.socketNumber] = protocol
        if self.secure and debug:
            log.debug("skinny_socket_process: secure skinny sessions = {sessions}",
                      sessions=self.activeConnections, **fields)
            pid = os.getpid()
            log.debug("add_skinny_secure_socket: pid ={pid}, new_sock={socket}, ip address = {ip}", pid=pid, **fields)
            log.debug("skinny_secure_handshake: pid ={pid}, sock={socket}, args->pid={pid}, ip address = {ip}", pid=pid,
                      **fields)
            log.debug("Start TLS Handshake {socket} {ip} {port}", **fields)
        if self.secure and self.tlsOptions is not None:
            self.tlsOptions.observeHandshake(protocol.transport, _HandshakeDebug(self, protocol))
        core = StationCore(
            clock=self.clock, sender=protocol, registry=self.registry, settings=self.settings, now=self.now,
            socket=protocol.socketNumber, peerHost=protocol.peerHost, peerPort=protocol.peerPort,
            registerLog=self.registerLog, stateLog=self.stateLog, machineLog=self.machineLog,
            listener=self.listener,
            debugEnabled=self.debugEnabled, logLimiter=self.logLimiter, registrations=self.registrations,
            admitted=IAdmittedConnection(protocol.transport, None))
        return Station(core)

    def handshakeCompleted(self, protocol: SkinnyProtocol, certificate: x509.Certificate | None) -> None:
        """
        Count and log a completed TLS handshake.

        @param protocol: the connection.
        @param certificate: the phone's verified certificate.
        """
        self.handshakesCompleted += 1
        if not self._registerDebug():
            return
        self.registerLog.debug(
            "TLS Handshake completes", socket=protocol.socketNumber, ip=protocol.peerHost, port=protocol.peerPort,
            subject=certificate.subject.rfc4514_string() if certificate is not None else None)

    def describeHandshakeFailure(self, transport: ITransport, reason: Failure, timedOut: bool) -> HandshakeFailure:
        """
        Why the TLS handshake on C{transport} failed.

        @param transport: the protocol's transport (the TLS protocol).
        @param reason: the C{connectionLost} reason.
        @param timedOut: whether the session gave up waiting for it.
        @return: the failure, with the certificate verification error when
            the TLS options recorded one.
        """
        if timedOut:
            return HandshakeFailure(HANDSHAKE_TIMED_OUT)
        if self.tlsOptions is not None:
            return self.tlsOptions.handshakeFailure(transport, reason)
        return describeSSLError(reason)

    def handshakeFailed(self, protocol: SkinnyProtocol, failure: HandshakeFailure) -> None:
        """
        Count and log a TLS handshake that did not complete.

        @param protocol: the connection.
        @param failure: why (L{HandshakeFailure.reason} is what is counted).
        """
        self.handshakeFailures[failure.reason] += 1
        fields = dict(socket=protocol.socketNumber, ip=protocol.peerHost, port=protocol.peerPort,
                      reason=failure.reason, detail=failure.detail, subject=failure.subject,
                      verifyCode=failure.verifyCode)
        self.logLimiter.warn(self.log, protocol.peerHost, "failed TLS handshakes",
                             "TLS handshake failed with {ip} {port} (socket {socket}): {reason}", **fields)
        if self._registerDebug():
            self.registerLog.debug("TLS Handshake fails: {reason}", **fields)

    def countInputError(self, kind: str) -> None:
        """
        Count a connection closed for bad input.

        @param kind: e.g. C{"bad frame"}.
        """
        self.inputErrors[kind] += 1

    def connectionClosed(self, protocol: SkinnyProtocol) -> None:
        """
        A connection ended.

        @param protocol: the connection.
        """
        if self.protocols.pop(protocol.socketNumber, None) is not None:
            self.activeConnections -= 1
        if not self._registerDebug():
            return
        self.registerLog.debug("Skinny socket [{socket}] closed ({active} active)", socket=protocol.socketNumber,
                               active=self.activeConnections, ip=protocol.peerHost, port=protocol.peerPort)

    def _registerDebug(self) -> bool:
        return self.debugEnabled(self.registerLog.namespace)

    # -- for show commands -------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """
        @return: the listener's counters (JSON-serialisable).
        """
        return {
            "secure": self.secure,
            "activeConnections": self.activeConnections,
            "connectionsAccepted": self.connectionsAccepted,
            "handshakesCompleted": self.handshakesCompleted,
            "handshakeFailures": dict(self.handshakeFailures),
            "inputErrors": dict(self.inputErrors),
        }


__all__ = ["HANDSHAKE_TIMED_OUT", "MACHINE_NAMESPACE", "REGISTER_NAMESPACE", "STATE_NAMESPACE", "SkinnyFactory"]
