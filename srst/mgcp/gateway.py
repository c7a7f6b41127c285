# -*- test-case-name: tests.test_mgcp_gateway,tests.test_mgcp_gateway_integration -*-
"""
The MGCP gateway: the router's analog voice ports as MGCP endpoints under
a call agent (CallManager), mgcp.md 3-6 and 9.

L{MgcpGateway} owns one L{srst.mgcp.endpoint.MgcpEndpoint} per voice port it is given (the router gives it the ports an C{application mgcpapp} dial-peer binds)
(C{1/0/0} is C{aaln/S1/SU0/0@<domain>}), runs the transaction layer of
L{srst.mgcp.transactions} on its L{MgcpGateway.protocol} (bind it with
C{reactor.listenUDP(port, gateway.protocol, interface=host)}), dispatches
the call agent's commands by endpoint name and verb, sends NTFY, RSIP and
keepalives, and runs the disconnected procedure (mgcp.md 5.3) when a
command to the call agent times out.

Dispatch rules: a domain other than the gateway's, or a local name that is
no endpoint, gets 500; a verb the gateway does not execute (NTFY, RSIP,
MESG, C{X...}) 504.  C{*} ("all of") is accepted by RQNT, DLCX, EPCF and
AUEP (which then lists the endpoints in C{Z:} lines); C{$} ("any of") by
CRCX, which picks an idle endpoint (410 when none) and names it in C{Z:};
other wildcards get 503.  An endpoint relinquished to local call control
(fallback) answers 501 (endpoint not ready), except that DLCX of a call it
still carries is executed.

Source validation (C{mgcp validate call-agent source-ipaddr}, on by
default): only the call agent (the configured one, the one a 521 redirect
moved the gateway to) and the C{ccm-manager redundant-host}s may command
the gateway.  Another host may only answer the gateway's own commands sent
to it (an NTFY to a notified entity a call agent named): a datagram from it
is taken when every message in it is a response to a command sent to that
host and port (L{MgcpTransactions.answersReceived}).  Any other datagram
from another host, a command from such a notified entity too, is dropped,
before it is decoded when no command went to its address: no answer at all
(not even to a malformed one), nothing executed,
counted in L{GatewayCounters.refused} (C{show mgcp statistics}), and logged
through the transaction layer's L{srst.lograte.LogLimiter}: the first
datagram per source host at once, the ones after it summed up once a
minute (C{"127.0.0.2: 4 more MGCP datagrams dropped (not a call agent) in
the last minute"}).

Every datagram in and out is logged at debug level in the
C{srst.debug.mgcp} namespace in the shape of IOS C{debug mgcp packets}.
"""

from __future__ import annotations

import ipaddress
import random as _random
from functools import partial
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from attrs import frozen
from twisted.internet.defer import Deferred, DeferredList, gatherResults, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from srst.mgcp._disconnected import DisconnectedCore, DisconnectedInputs, DisconnectedMachine, DisconnectedStatus
from srst.mgcp._naming import (
    ALL_OF,
    ANY_OF,
    localNameOf,
    matchEndpoints,
    splitEndpointName,
    wildcardKind,
)
from srst.mgcp._signals import DEFAULT_PERSISTENT, PERSISTENT_EVENTS, MgcpCommandError, persistentEvents
from srst.mgcp.constants import GATEWAY_PORT, MAX_MESSAGE_SIZE, ReasonCode, ResponseCode, Verb, responseText
from srst.media.transport import StreamSnapshot
from srst.mgcp._connections import Connection
from srst.mgcp.endpoint import ConnectionInfo, MgcpEndpoint
from srst.mgcp.messages import Command, ConnectionParameters, NotifiedEntity, Reason, Response
from srst.mgcp.config import MgcpConfig
from srst.ports.media import PortMediaLeg, PortMediaResources
from srst.ports.voiceport import VoicePort
from srst.mgcp.transactions import (
    ITransactionOwner,
    MgcpTimeout,
    MgcpTransactions,
    Peer,
    RetransmissionPolicy,
)

__all__ = ["MgcpGateway", "mediaLegs", "DisconnectedStatus", "GatewayCounters", "GatewayProtocol", "MgcpErrorResponse",
           "UnknownVoicePort", "RELINQUISHED_CODE", "DEBUG_NAMESPACE", "REFUSED_WHAT",
           "expectSuccess", "peerText", "printable"]

DEBUG_NAMESPACE = "srst.debug.mgcp"
"""The C{debug mgcp} category: packets, executions, endpoint events."""

RELINQUISHED_CODE = ResponseCode.ENDPOINT_NOT_READY
"""What a relinquished (fallback) endpoint answers the call agent: 501."""

_MAX_REDIRECTS = 3

REFUSED_WHAT = "MGCP datagrams dropped (not a call agent)"
"""What the summary of datagrams dropped by source validation calls them (L{srst.lograte})."""


def mediaLegs(media: PortMediaResources, config: MgcpConfig) -> Callable[[VoicePort, int], PortMediaLeg]:
    """
    The C{newLeg} of an L{MgcpGateway}: legs from the voice ports' media
    resources with C{mgcp rtp unreachable}'s timing.  A connection is
    deleted for RTP unreachable as IOS does it: when the far end's host
    answers its RTP with ICMP port unreachable and no RTP arrives within
    C{timeout-ms}; a quiet far end keeps its connection, unless
    C{silence-timeout-ms} asks for the silence timer too (armed once RTP
    has arrived).  The voice ports' own timer (C{media.rtp-unreachable-ms})
    is not used.

    @param media: the voice ports' L{PortMediaResources}.
    @param config: the C{mgcp:} section.
    @return: C{newLeg(port, payloadType)}.
    """
    refused = config.rtpUnreachableTimeoutMs
    silence = config.rtpUnreachableSilenceMs

    def newLeg(port: VoicePort, payloadType: int) -> PortMediaLeg:
        return media.newLeg(port, payloadType, unreachableAfterMedia=True,
                            refusedTimeout=refused / 1000.0 if refused is not None else None,
                            unreachableTimeout=silence / 1000.0 if silence is not None else None)

    return newLeg


def _hostKey(host: Any) -> str:
    """
    @return: C{host} in one canonical text form (an IPv4-mapped IPv6
        address as its IPv4 address), for comparing addresses.
    """
    text = str(host).strip("[]")
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text.lower()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class MgcpErrorResponse(RuntimeError):
    """
    The call agent answered one of the gateway's commands with a non-2xx
    code.

    @ivar response: the L{Response}.
    """

    def __init__(self, response: Response) -> None:
        RuntimeError.__init__(self, response)
        self.response = response

    @property
    def code(self) -> int:
        """The response code."""
        return self.response.code

    def __str__(self) -> str:
        return "call agent answered %03d %s" % (self.response.code,
                                                self.response.commentary or responseText(
                                                    self.response.code))


class UnknownVoicePort(KeyError):
    """
    A voice-port name the gateway has no endpoint for.
    """

    def __str__(self) -> str:
        return "no MGCP endpoint for voice-port %r" % (self.args[0],)


@frozen
class GatewayCounters:
    """
    What the gateway has seen and done, for show commands.

    @ivar received: datagrams received.
    @ivar sent: datagrams sent.
    @ivar commandsReceived: well-formed commands received (duplicates too).
    @ivar malformed: messages that failed to decode (dropped or answered 5xx).
    @ivar duplicates: duplicate commands answered from the response cache.
    @ivar unknownEndpoint: commands answered 500.
    @ivar unknownVerb: commands answered 504.
    @ivar notifications: NTFYs sent (keepalives excluded).
    @ivar keepalives: keepalive NTFYs sent.
    @ivar restarts: RSIPs sent.
    @ivar retransmissions: commands and responses resent.
    @ivar timeouts: outgoing commands that exhausted retransmission.
    @ivar errors: error responses sent, by code (400 and up).
    @ivar connectionsLost: connections deleted because their RTP stopped
        (reported to the call agent with a DLCX while it controls the port).
    @ivar refused: datagrams dropped unanswered because their source is no
        call agent (C{mgcp validate call-agent source-ipaddr}).
    """

    received: int
    sent: int
    commandsReceived: int
    malformed: int
    duplicates: int
    unknownEndpoint: int
    unknownVerb: int
    notifications: int
    keepalives: int
    restarts: int
    retransmissions: int
    timeouts: int
    errors: dict[int, int]
    connectionsLost: int = 0
    refused: int = 0


class GatewayProtocol(DatagramProtocol):
    """The UDP face of an L{MgcpGateway}."""

    def __init__(self, gateway: MgcpGateway) -> None:
        self.gateway = gateway

    def datagramReceived(self, datagram: bytes, addr: Peer) -> None:
        """Hand the datagram to the gateway."""
        self.gateway.datagramReceived(datagram, addr)

    def write(self, data: bytes, peer: Peer) -> None:
        """Send one datagram, if bound."""
        if self.transport is not None:
            self.transport.write(data, peer)


def peerText(peer: Peer) -> str:
    """
    @param peer: a datagram address.
    @return: C{"host:port"}.
    """
    try:
        host, port = peer[0], peer[1]
    except (TypeError, IndexError):
        return str(peer)
    return "%s:%s" % (host, port)


def expectSuccess(response: Response) -> Response:
    """
    @param response: a final response from the call agent.
    @return: it, when 2xx.
    @raise MgcpErrorResponse: otherwise.
    """
    if not 200 <= response.code <= 299:
        raise MgcpErrorResponse(response)
    return response


def printable(data: bytes) -> str:
    """
    @param data: a datagram.
    @return: its text for the debug log, LF line ends.
    """
    return data.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n")


@implementer(ITransactionOwner)
class MgcpGateway:
    """
    The router's MGCP gateway.

    @ivar domain: the endpoint domain (C{hostname.domain}).
    @ivar callAgent: the call agent's C{(host, port)}.
    @ivar endpoints: the L{MgcpEndpoint}s by voice-port name.
    @ivar protocol: the C{DatagramProtocol} to bind.
    @ivar transactions: the L{MgcpTransactions} core.
    @ivar disconnected: the whole gateway's disconnected procedure's inputs
        (L{srst.mgcp._disconnected.DisconnectedInputs}): a command for
        C{*@<domain>} (keepalive, wildcard RSIP) timed out.  Each endpoint
        has its own procedure (L{disconnectedStatus}): a command for it
        timed out (RFC 3435 4.3, 4.4.7).
    @ivar registered: whether the call agent accepted the last restart RSIP.
    @ivar trafficObservers: called with no argument whenever the call
        agent answers one of the gateway's own commands (the response
        matched by transaction id and by the address the command went to):
        the proof that it is alive.
    @ivar commandObservers: called with no argument for every datagram
        from the call agent's address that carried a valid command: traffic
        that holds off keepalives, but no proof that it is alive (anyone can
        send a datagram from an address).
    @ivar timeoutObservers: called with no argument whenever an outgoing
        command for the whole gateway (C{*@<domain>}) exhausts its
        retransmissions.
    @ivar endpointTimeoutObservers: called with no argument whenever an
        outgoing command for one endpoint exhausts its retransmissions.
    @ivar disconnectedProcedure: whether timeouts start the disconnected
        procedure.
    @ivar debugLog: the C{srst.debug.mgcp} logger (packets in and out).
    """

    log = Logger()

    def __init__(self, *, clock: IReactorTime, domain: str, ports: Iterable[VoicePort],
                 newLeg: Callable[[VoicePort, int], PortMediaLeg], callAgent: tuple[str, int],
                 restartDelay: float = 0.0,
                 policy: RetransmissionPolicy = RetransmissionPolicy(),
                 random: Callable[[], float] = _random.random, version: str = "0.1",
                 tdinit: float = 15.0, tdmin: float = 15.0, tdmax: float = 600.0,
                 tcrit: float = 4.0, tpar: float = 16.0,
                 packages: Iterable[str] = ("L", "D", "G", "R"),
                 firstTransactionId: Optional[int] = None, maxConnections: int = 4,
                 debugLog: Logger, disconnectedProcedure: bool = True,
                 validateSource: bool = True, redundantHosts: Iterable[str] = (),
                 persistent: Iterable[str] = DEFAULT_PERSISTENT, dtmfRelay: str = "out-of-band",
                 musicOnHold: bool = False) -> None:
        """
        @param clock: the reactor's L{IReactorTime} (a L{task.Clock} in tests).
        @param domain: the endpoint domain, e.g. C{"gw1.example.com"}.
        @param ports: the L{srst.ports.voiceport.VoicePort}s to control.
        @param newLeg: C{newLeg(port, payloadType)} returns an unopened
            L{srst.ports.media.PortMediaLeg}.
        @param callAgent: C{(host, port)} of C{mgcp call-agent}.
        @param restartDelay: seconds from L{start} to the boot RSIP.
        @param policy: retransmission timers (mgcp.md 5.1).
        @param random: returns a float in C{[0, 1)} (the Tdinit draw).
        @param version: the protocol version sent, C{"0.1"} or C{"1.0"}.
        @param tdinit: disconnected procedure initial window, seconds.
        @param tdmin: disconnected procedure minimum wait, seconds.
        @param tdmax: disconnected procedure maximum timer, seconds.
        @param tcrit: digit map T(critical), seconds.
        @param tpar: digit map T(partial), seconds.
        @param packages: package names advertised in AUEP.
        @param firstTransactionId: the first id of the gateway's commands
            (random by default, see L{MgcpTransactions}).
        @param maxConnections: connections per endpoint.
        @param debugLog: the C{srst.debug.mgcp} logger, made by the router's
            L{srst.debug.DebugSwitches.logger}.
        @param disconnectedProcedure: whether a timed-out command starts
            the disconnected procedure of mgcp.md 5.3.
        @param validateSource: C{mgcp validate call-agent source-ipaddr}:
            drop datagrams from hosts that are no call agent (see the
            module docstring).
        @param redundantHosts: the C{ccm-manager redundant-host} addresses,
            also call agents for source validation.
        @param persistent: C{mgcp persistent}: the IOS keywords
            (C{offhook}, C{onhook}, C{hookflash}) of the events every
            endpoint notifies whatever its current request says.
        @param dtmfRelay: C{mgcp dtmf-relay}: C{"out-of-band"} (RFC 4733
            telephone-events to a far end that offers them) or C{"none"}
            (DTMF in the audio).
        @param musicOnHold: C{ccm-manager music-on-hold}: relay a multicast
            remote descriptor's stream to the port.
        """
        self.clock = clock
        self.domain = domain
        self.callAgent = (str(callAgent[0]), int(callAgent[1]))
        self.validateSource = validateSource
        self.trustedHosts = frozenset(_hostKey(host) for host in (self.callAgent[0], *redundantHosts))
        self._refused = 0
        self.restartDelay = restartDelay
        self.version = "MGCP " + version
        self.packages = tuple(packages)
        self.registered = False
        self.disconnectedProcedure = disconnectedProcedure
        self.debugLog = debugLog
        self.trafficObservers: list[Callable[[], None]] = []
        self.commandObservers: list[Callable[[], None]] = []
        self.timeoutObservers: list[Callable[[], None]] = []
        self.endpointTimeoutObservers: list[Callable[[], None]] = []
        self.protocol = GatewayProtocol(self)
        self.transactions = MgcpTransactions(clock, self._write, self, policy, firstTransactionId,
                                             debugLog=debugLog)
        self._heard = False
        self._outage = False
        self._endpointOutages: set[str] = set()
        self._procedures: dict[str, DisconnectedInputs] = {}
        self._executing: tuple[Peer, int] | None = None
        self._afterAnswer: dict[tuple[Peer, int], list[Callable[[], object]]] = {}
        self.disconnected: DisconnectedInputs = DisconnectedMachine(DisconnectedCore(
            clock=clock, random=random,
            sendRestart=lambda seconds: self.sendRestart("disconnected", seconds),
            tdinit=tdinit, tdmin=tdmin, tdmax=tdmax))
        self._received = self._sent = self._notifications = 0
        self._keepalives = self._restarts = self._timeouts = 0
        self._connectionsLost = 0
        self._errors: dict[int, int] = {}
        self._nextConnectionId = 1
        self._bootCall: Optional[IDelayedCall] = None
        self._stopped = False
        persistent = set(persistent)
        events = persistentEvents(persistent)
        self.persistent = tuple(name for name in PERSISTENT_EVENTS if name in persistent)
        self.endpoints: dict[str, MgcpEndpoint] = {}
        self._byLocalName: dict[str, MgcpEndpoint] = {}
        for port in ports:
            name = "%s@%s" % (localNameOf(port.name), domain)
            endpoint = MgcpEndpoint(
                clock=clock, name=name, port=port, newLeg=newLeg,
                newConnectionId=self._newConnectionId, notify=self._notify,
                activity=self._localActivity,
                tcrit=tcrit, tpar=tpar, maxConnections=maxConnections, debugLog=self.debugLog,
                mediaLost=self._mediaLost, persistent=events, dtmfOutOfBand=dtmfRelay == "out-of-band",
                musicOnHold=musicOnHold)
            self.endpoints[port.name] = endpoint
            self._byLocalName[localNameOf(port.name).lower()] = endpoint
            self._procedures[name.lower()] = DisconnectedMachine(DisconnectedCore(
                clock=clock, random=random,
                sendRestart=partial(self._restart, "disconnected", endpointName=name, redirects=0),
                tdinit=tdinit, tdmin=tdmin, tdmax=tdmax, endpoint=name))

    # -- public API for the service and the fallback glue ------------------------------------

    def endpointName(self, portName: str) -> str:
        """
        @param portName: a voice-port name, C{"1/0/0"}.
        @return: its endpoint name, C{"aaln/S1/SU0/0@<domain>"}.
        @raise UnknownVoicePort: when the gateway does not control that port.
        """
        return self._endpoint(portName).name

    def disconnectedStatus(self, portName: str) -> DisconnectedStatus:
        """
        @param portName: a voice-port name.
        @return: the state of its endpoint's own disconnected procedure.
        @raise UnknownVoicePort: when the gateway does not control that port.
        """
        return self._procedures[self._endpoint(portName).name.lower()].status()

    def mediaOf(self, portName: str) -> StreamSnapshot | None:
        """
        @param portName: a voice-port name.
        @return: the stream statistics (a L{srst.media.transport.StreamSnapshot})
            of the newest connection on the port's endpoint, or L{None}
            when it has none (or the gateway does not serve the port).
        """
        endpoint = self.endpoints.get(portName)
        if endpoint is None or not endpoint.connections:
            return None
        *_, newest = endpoint.connections.values()
        return newest.leg.snapshot()

    def start(self) -> None:
        """
        Send the boot RSIP (C{RM: restart} for C{*@<domain>}) after the
        restart delay.  Does nothing after L{stop}, which is final.
        """
        if not self._stopped and self._bootCall is None:
            self._bootCall = self.clock.callLater(self.restartDelay, self._boot)

    def _boot(self) -> None:
        self._bootCall = None
        self.sendRestart("restart").addErrback(
            lambda failure: self.log.warn("MGCP: boot RSIP failed: {error}",
                                          error=failure.getErrorMessage()))

    def stop(self) -> Deferred[None]:
        """
        Cancel every timer, fail outstanding commands and close every RTP
        port.

        @return: fires when the RTP ports are closed.
        """
        self._stopped = True
        call, self._bootCall = self._bootCall, None
        if call is not None and call.active():
            call.cancel()
        self.disconnected.stop()
        for procedure in self._procedures.values():
            procedure.stop()
        self.transactions.close()
        self._afterAnswer.clear()
        closing = [endpoint.close() for endpoint in self.endpoints.values()]
        return DeferredList(closing, consumeErrors=True).addCallback(lambda ignored: None)

    def sendKeepalive(self) -> Deferred[Response]:
        """
        Send the keepalive: an empty C{NTFY <id> *@<domain>} with C{N:},
        C{X: 0} and an empty C{O:} (mgcp.md 9.1).

        @return: fires with the 2xx L{Response}; fails with L{MgcpTimeout}
            or L{MgcpErrorResponse}.
        """
        self._keepalives += 1
        command = Command("NTFY", 1, "*@" + self.domain, self.version,
                          parameters=[("N", self._defaultEntity()), ("X", "0"), ("O", "")])
        return self._sendCommand(command, self.callAgent).addCallback(expectSuccess)

    def probeCallAgent(self, address: tuple[str, int]) -> Deferred[Response]:
        """
        Send the keepalive NTFY to a call agent that is not the active one
        (the primary while a backup is active, mgcp.md 9.2): its answer is
        no traffic of the active call agent and its silence no outage (no
        disconnected procedure, no timeout reported).

        @return: fires with the 2xx L{Response}; fails with L{MgcpTimeout}
            or L{MgcpErrorResponse}.
        """
        self._keepalives += 1
        command = Command("NTFY", 1, "*@" + self.domain, self.version,
                          parameters=[("N", NotifiedEntity(None, address[0], address[1])), ("X", "0"), ("O", "")])
        return self.transactions.sendCommand(command, address).addCallback(expectSuccess)

    def useCallAgent(self, address: tuple[str, int]) -> None:
        """
        Make C{address} the active call agent (failover to a C{ccm-manager
        redundant-host}, or back to the primary): commands, NTFYs and
        keepalives go to it, and every endpoint's notified entity is reset
        to it (an C{N:} the previous call agent set names that one).

        @param address: its C{(host, port)}.
        """
        address = (str(address[0]), int(address[1]))
        if address == self.callAgent:
            return
        self.log.info("MGCP: active call agent now {callAgent} (was {previous})",
                      callAgent=peerText(address), previous=peerText(self.callAgent))
        self.callAgent = address
        self.registered = False
        for endpoint in self.endpoints.values():
            endpoint.notification.notifiedEntity = None

    def forgetCallAgent(self, address: tuple[str, int]) -> None:
        """
        The call agent at C{address} is lost and a backup takes over
        (L{useCallAgent} follows): every command still outstanding to it
        (NTFYs, DLCXs, a disconnected RSIP) ends now, superseded, and the
        disconnected procedures stop, so nothing is retransmitted to it
        and no time-out of them sends the backup an C{RSIP RM:
        disconnected} (the RSIP restart the backup gets covers the
        endpoints).

        @param address: its C{(host, port)}.
        """
        if self._stopped:
            return
        self._outage = False
        self._endpointOutages.clear()
        self.disconnected.stop()
        for procedure in self._procedures.values():
            procedure.stop()
        superseded = self.transactions.supersede(str(address[0]), float("inf"))
        if superseded:
            self.log.info("MGCP: call agent {peer} lost; {count} request(s) to it superseded: {transactionIds}",
                          peer=peerText(address), count=len(superseded),
                          transactionIds=" ".join(map(str, superseded)))

    def sendRestart(self, method: str, delay: Optional[int] = None,
                    portNames: Optional[Sequence[str]] = None) -> Deferred[Response]:
        """
        Send C{RSIP <id> *@<domain>} with C{RM: <method>} (and C{RD:}).  A
        521 answer with C{N:} moves the gateway to that call agent and the
        RSIP is sent there.

        @param method: C{"restart"}, C{"graceful"}, C{"forced"},
            C{"disconnected"} or C{"cancel-graceful"}.
        @param delay: the C{RD:} value in seconds, or C{None} for none.
        @param portNames: restart only these voice ports' endpoints, one
            RSIP each (graceful switchback); C{None}, or every port, sends
            the single wildcard RSIP; an empty list sends nothing.
        @return: fires with the 2xx L{Response} (the first one when several
            RSIPs were sent, C{None} when none was); fails with L{MgcpTimeout} or
            L{MgcpErrorResponse} (the first failure).
        @raise UnknownVoicePort: for a port the gateway does not control.
        """
        if portNames is not None and not portNames:
            return succeed(None)
        if portNames is not None and set(portNames) != set(self.endpoints):
            names = [self._endpoint(name).name for name in portNames]
            sending = [self._restart(method, delay, name, 0) for name in names]
            return gatherResults(sending, consumeErrors=True).addCallbacks(
                lambda responses: responses[0], lambda failure: failure.value.subFailure)
        return self._restart(method, delay, "*@" + self.domain, 0)

    def _restart(self, method: str, delay: Optional[int], endpointName: str,
                 redirects: int) -> Deferred[Response]:
        self._restarts += 1
        parameters: list[Any] = [("RM", method)]
        if delay is not None:
            parameters.append(("RD", int(delay)))
        command = Command("RSIP", 1, endpointName, self.version, parameters=parameters)

        def answered(response: Response) -> Union[Response, Deferred[Response]]:
            entity = response.get("N") if response.code == 521 else None
            if entity is not None and redirects < _MAX_REDIRECTS:
                self.callAgent = self._entityAddress(entity)
                self.log.info("MGCP: redirected to call agent {callAgent}",
                              callAgent=self.callAgent)
                return self._restart(method, delay, endpointName, redirects + 1)
            procedure = self._procedures.get(endpointName.lower())
            if method in ("restart", "disconnected") and (procedure is None or method == "restart"):
                self.registered = 200 <= response.code <= 299
            self.disconnected.stop()
            for stopped in (self._procedures.values() if procedure is None else (procedure,)):
                stopped.stop()
            return expectSuccess(response)

        return self._sendCommand(command, self.callAgent).addCallback(answered)

    def relinquish(self, portName: str, whenIdle: Callable[[str], object]) -> None:
        """
        Hand a port to local call control (MGCP gateway fallback): its
        requested events, signals and transient connections are cleared
        locally (no message is sent), a connected call keeps its media until
        the line goes on hook or the call agent deletes it, and
        C{whenIdle(portName)} is called once the port is idle (at once when
        it already is; when a command of the call agent, such as the DLCX
        of the kept call, made it idle: once that command is answered).
        Meanwhile the endpoint ignores the line and answers the call agent
        L{RELINQUISHED_CODE} (501).

        @param portName: the voice-port name.
        @param whenIdle: called once with C{portName}.
        @raise UnknownVoicePort: for a port the gateway does not control.
        """
        self._endpoint(portName).relinquish(lambda name: self._afterCommand(whenIdle, name))

    def _afterCommand(self, function: Callable[[str], object], portName: str) -> None:
        """
        Call C{function(portName)} now, or, when a command of the call agent
        being executed set it off, once that command's final response is on
        the wire (L{commandAnswered}; a DLCX is answered only once its RTP
        ports have closed): what it triggers follows the command's answer.
        """
        if self._executing is not None:
            self._afterAnswer.setdefault(self._executing, []).append(partial(function, portName))
        else:
            function(portName)

    def reclaim(self, portName: str) -> None:
        """
        MGCP controls the port again (the local call control must have
        left it idle).

        @param portName: the voice-port name.
        @raise UnknownVoicePort: for a port the gateway does not control.
        """
        self._endpoint(portName).reclaim()

    def controlled(self, portName: str) -> bool:
        """
        @param portName: the voice-port name.
        @return: whether MGCP controls the port (not relinquished).
        @raise UnknownVoicePort: for a port the gateway does not control.
        """
        return self._endpoint(portName).controlled

    def connectionsOf(self, portName: str) -> tuple[ConnectionInfo, ...]:
        """
        @param portName: the voice-port name.
        @return: the port's MGCP connections.
        @raise UnknownVoicePort: for a port the gateway does not control.
        """
        return self._endpoint(portName).connectionInfos()

    def isIdle(self, portName: str) -> bool:
        """
        @param portName: the voice-port name.
        @return: whether the port is on hook without MGCP connections.
        @raise UnknownVoicePort: for a port the gateway does not control.
        """
        return self._endpoint(portName).isIdle

    @property
    def counters(self) -> GatewayCounters:
        """The counters, as a frozen snapshot."""
        core = self.transactions.counters
        return GatewayCounters(
            received=self._received, sent=self._sent,
            commandsReceived=core.commandsReceived, malformed=core.malformed,
            duplicates=core.duplicates, unknownEndpoint=self._errors.get(500, 0),
            unknownVerb=self._errors.get(504, 0), notifications=self._notifications,
            keepalives=self._keepalives, restarts=self._restarts,
            retransmissions=core.retransmissions, timeouts=self._timeouts,
            errors=dict(self._errors), connectionsLost=self._connectionsLost,
            refused=self._refused)

    # -- datagrams --------------------------------------------------------------------------

    def datagramReceived(self, data: bytes, peer: Peer) -> None:
        """
        Log and count one datagram and hand it to the transaction layer.

        @param data: the datagram.
        @param peer: its source.
        """
        self._received += 1
        if self.validateSource and not self.isCallAgent(peer[0]):
            # Validation is of commands: a host that is no call agent may
            # still answer the gateway's own commands sent to it (an NTFY
            # to the notified entity a call agent named).
            if self.transactions.answersReceived(data, peer):
                self._logReceived(data, peer)
            else:
                self._refuse(peer)
            return
        self._logReceived(data, peer)
        self._heard = False
        self.transactions.datagramReceived(data, peer)
        heard, self._heard = self._heard, False
        if heard and peer[0] == self.callAgent[0]:
            # Commands hold off keepalives; only an answer to the gateway's
            # own command proves the call agent alive (_answered).
            for observer in list(self.commandObservers):
                with self.log.failuresHandled("while reporting an MGCP command"):
                    observer()

    def _logReceived(self, data: bytes, peer: Peer) -> None:
        self.debugLog.debug("MGCP Packet received from {peer}--->\n{text}\n<---",
                            peer=peerText(peer), text=printable(data), size=len(data))

    def isCallAgent(self, host: str) -> bool:
        """
        @param host: a datagram's source host.
        @return: whether it is a call agent: the configured one, a
            C{redundant-host}, or the one the gateway now works with.
        """
        key = _hostKey(host)
        return key in self.trustedHosts or key == _hostKey(self.callAgent[0])

    def _refuse(self, peer: Peer) -> None:
        self._refused += 1
        self.transactions.logLimiter.warn(
            self.log, _hostKey(peer[0]), REFUSED_WHAT,
            "MGCP: datagram from {peer} dropped: not a call agent (mgcp validate call-agent source-ipaddr)",
            peer=peerText(peer))

    def _write(self, data: bytes, peer: Peer) -> None:
        self._sent += 1
        self.debugLog.debug("MGCP Packet sent to {peer}--->\n{text}\n<---",
                            peer=peerText(peer), text=printable(data), size=len(data))
        self.protocol.write(data, peer)

    # -- ITransactionOwner ------------------------------------------------------------------

    def messageHandled(self, message: Union[Command, Response], peer: Peer) -> None:
        """
        A well-formed message of the datagram being received was handled:
        once the datagram is done, a command from the call agent is
        reported to the L{commandObservers} (L{datagramReceived}).
        """
        if isinstance(message, Command):
            self._heard = True

    def commandAnswered(self, transactionId: int, peer: Peer) -> None:
        """
        A command of the call agent is answered: do what it set off
        (L{_afterCommand}).  A failure there is logged; the rest still runs.
        """
        for function in self._afterAnswer.pop((peer, transactionId), ()):
            with self.log.failuresHandled("while doing what MGCP transaction {transactionId} set off",
                                          transactionId=transactionId):
                function()

    def responseSent(self, code: int, transactionId: int, peer: Peer) -> None:
        """
        Count the error responses sent (400 and up; resent and
        retransmitted ones too) by code.
        """
        if code >= 400:
            code = int(code)
            self._errors[code] = self._errors.get(code, 0) + 1

    def _traffic(self) -> None:
        for observer in list(self.trafficObservers):
            with self.log.failuresHandled("while reporting MGCP traffic"):
                observer()

    # -- outgoing commands ------------------------------------------------------------------

    def _sendCommand(self, command: Command, peer: Peer) -> Deferred[Response]:
        return self.transactions.sendCommand(command, peer).addCallbacks(
            partial(self._answered, peer, self.clock.seconds(), command.endpoint),
            partial(self._commandFailed, command.endpoint))

    def _localActivity(self, endpoint: MgcpEndpoint) -> None:
        self.disconnected.localActivity()
        self._procedures[endpoint.name.lower()].localActivity()

    def _answered(self, peer: Peer, sentAt: float, endpointName: str, response: Response) -> Response:
        """
        The call agent answered one of the gateway's commands (first sent
        at C{sentAt}): it is alive.  After an outage (a command timed out),
        the commands still outstanding to it that are older than the one
        it answered are from the outage and it never answered them: the
        disconnected procedure ends and they are superseded (not
        retransmitted behind what the gateway sends now, such as the
        switchback's RSIP restart: a late C{RM: disconnected} makes a call
        agent reset every line).  Likewise for one endpoint: when the call
        agent answers a command for an endpoint whose command had timed out,
        that endpoint's procedure ends and its older commands are
        superseded; an answer for another endpoint, or to a keepalive,
        proves nothing for it.
        """
        key = endpointName.lower()
        if key in self._endpointOutages and not self._stopped:
            self._endpointOutages.discard(key)
            self._procedures[key].stop()
            superseded = self.transactions.supersede(peer[0], sentAt, endpointName)
            if superseded:
                self.log.info("MGCP: call agent {peer} answers for {endpoint} again; {count} request(s) from "
                              "its outage superseded: {transactionIds}", peer=peerText(peer),
                              endpoint=endpointName, count=len(superseded),
                              transactionIds=" ".join(map(str, superseded)))
        if self._outage and not self._stopped:
            self._outage = False
            self.disconnected.stop()
            superseded = self.transactions.supersede(peer[0], sentAt)
            if superseded:
                self.log.info("MGCP: call agent {peer} answers again; {count} request(s) from the outage "
                              "superseded: {transactionIds}", peer=peerText(peer), count=len(superseded),
                              transactionIds=" ".join(map(str, superseded)))
        if peer[0] == self.callAgent[0]:
            self._traffic()
        return response

    def _commandFailed(self, endpointName: str, failure: Failure) -> Failure:
        """
        A command failed.  A timeout makes what it named disconnected (RFC
        3435 4.3): one endpoint (its own procedure; nothing else changes,
        unless the whole gateway is disconnected already, which covers it),
        or, for C{*@<domain>}, the whole gateway (whose procedure replaces
        the endpoints' ones).  The L{timeoutObservers} hear of the whole
        gateway's timeouts, the L{endpointTimeoutObservers} of one
        endpoint's: the fallback monitor decides from them and from what the
        call agent still answers whether it is lost (L{srst.mgcp.fallback});
        an endpoint's timeout only makes it check with a keepalive.
        """
        if failure.check(MgcpTimeout) and not self._stopped:
            self._timeouts += 1
            key = endpointName.lower()
            procedure = self._procedures.get(key)
            if procedure is None:
                self._outage = True
                self.registered = False
                self._endpointOutages.clear()
            elif not self._outage:
                self._endpointOutages.add(key)
            observers = self.timeoutObservers if procedure is None else self.endpointTimeoutObservers
            for observer in list(observers):
                with self.log.failuresHandled("while reporting an MGCP timeout"):
                    observer()
            if self.disconnectedProcedure:
                if procedure is None:
                    for each in self._procedures.values():
                        each.stop()
                    self.disconnected.commandTimedOut()
                elif not self._outage:
                    procedure.commandTimedOut()
        return failure

    def _defaultEntity(self) -> NotifiedEntity:
        return NotifiedEntity(None, self.callAgent[0], self.callAgent[1])

    def _entityAddress(self, entity: NotifiedEntity) -> tuple[str, int]:
        host = entity.host.strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            self.log.warn("MGCP: notified entity {entity} is no address; using the call agent",
                          entity=entity.encode())
            host = self.callAgent[0]
        return (host, entity.port or GATEWAY_PORT)

    def _notify(self, endpoint: MgcpEndpoint, observed: tuple, requestId: str) -> None:
        entity = endpoint.notifiedEntity or self._defaultEntity()
        command = Command("NTFY", 1, endpoint.name, self.version,
                          parameters=[("N", entity), ("X", requestId), ("O", observed)])
        self._notifications += 1

        def answered(response: Response) -> None:
            if not 200 <= response.code <= 299:
                self.log.warn("MGCP: NTFY for {endpoint} refused: {code}",
                              endpoint=endpoint.name, code=response.code)
                endpoint.notificationFailed()

        def failed(failure: Failure) -> None:
            self.log.warn("MGCP: NTFY for {endpoint} failed: {error}", endpoint=endpoint.name,
                          error=failure.getErrorMessage())
            endpoint.notificationFailed()

        self._sendCommand(command, self._entityAddress(entity)).addCallbacks(answered, failed)

    def _mediaLost(self, endpoint: MgcpEndpoint, connection: Connection,
                   statistics: ConnectionParameters) -> None:
        """
        A connection was deleted because its RTP stopped (C{mgcp rtp
        unreachable ... action notify}): tell the call agent with a DLCX
        carrying C{C:}, C{I:}, C{E: 902} and the C{P:} statistics (mgcp.md
        6.4).  While the port is relinquished (fallback) nobody is told.
        """
        self._connectionsLost += 1
        self.log.warn("MGCP: {endpoint} connection {connection}: RTP unreachable; deleted",
                      endpoint=endpoint.name, connection=connection.connectionId)
        if not endpoint.controlled:
            return
        entity = endpoint.notifiedEntity or self._defaultEntity()
        command = Command("DLCX", 1, endpoint.name, self.version, parameters=[
            ("C", connection.callId), ("I", connection.connectionId),
            ("E", Reason(ReasonCode.LOSS_OF_LOWER_LAYER_CONNECTIVITY, "RTP unreachable")),
            ("P", statistics)])

        def failed(failure: Failure) -> None:
            self.log.warn("MGCP: DLCX for {endpoint} failed: {error}", endpoint=endpoint.name,
                          error=failure.getErrorMessage())

        self._sendCommand(command, self._entityAddress(entity)).addErrback(failed)

    def _newConnectionId(self) -> str:
        value = self._nextConnectionId
        self._nextConnectionId = value % 0xFFFFFFFF + 1
        return "%X" % (value,)

    # -- incoming commands -------------------------------------------------------------------

    def _endpoint(self, portName: str) -> MgcpEndpoint:
        try:
            return self.endpoints[portName]
        except KeyError:
            raise UnknownVoicePort(portName) from None

    def commandReceived(self, command: Command, peer: Peer) -> Union[Response, Deferred[Response]]:
        """
        Execute a command of the call agent (see the module docstring for
        the dispatch rules); a refused one is answered with its error code.
        """
        self.disconnected.commandReceived()
        self._executing = (peer, command.transactionId)
        try:
            return self._dispatch(command)
        except MgcpCommandError as error:
            self.debugLog.debug("MGCP: {verb} {transactionId} {endpoint} refused: {error}",
                                verb=command.verb, transactionId=command.transactionId,
                                endpoint=command.endpoint, error=str(error))
            return Response(error.code, command.transactionId, responseText(error.code))
        finally:
            self._executing = None

    def _dispatch(self, command: Command) -> Union[Response, Deferred[Response]]:
        verb = Verb.lookup(command.verb)
        handler = {Verb.CRCX: self._crcx, Verb.MDCX: self._single, Verb.AUCX: self._single,
                   Verb.DLCX: self._dlcx, Verb.RQNT: self._rqnt, Verb.AUEP: self._auep,
                   Verb.EPCF: self._epcf}.get(verb)  # type: ignore[call-overload]
        if handler is None:
            raise MgcpCommandError(ResponseCode.UNKNOWN_COMMAND,
                                   "the gateway does not execute %s" % (command.verb,))
        local, domain = splitEndpointName(command.endpoint)
        if domain.lower() != self.domain.lower():
            raise MgcpCommandError(ResponseCode.UNKNOWN_ENDPOINT,
                                   "domain %r is not %r" % (domain, self.domain))
        kind = wildcardKind(local)
        if kind is None:
            endpoint = self._byLocalName.get(local.lower())
            if endpoint is None:
                raise MgcpCommandError(ResponseCode.UNKNOWN_ENDPOINT, "no endpoint %r" % (local,))
            targets = [endpoint]
        else:
            names = matchEndpoints(local, list(self._byLocalName))
            if not names:
                raise MgcpCommandError(ResponseCode.UNKNOWN_ENDPOINT, "no endpoint %r" % (local,))
            targets = [self._byLocalName[name] for name in names]
        for target in targets:
            self._procedures[target.name.lower()].commandReceived()
        return handler(command, kind, targets)

    def _controlledOnly(self, endpoint: MgcpEndpoint) -> MgcpEndpoint:
        if not endpoint.controlled:
            raise MgcpCommandError(RELINQUISHED_CODE,
                                   "%s is under local call control" % (endpoint.name,))
        return endpoint

    def _crcx(self, command: Command, kind: Optional[str], targets: list[MgcpEndpoint]) -> Response:
        if kind == ALL_OF:
            raise MgcpCommandError(ResponseCode.WILDCARD_TOO_COMPLICATED, "CRCX on all of")
        if kind == ANY_OF:
            free = [e for e in targets if e.controlled and e.isIdle]
            if not free:
                raise MgcpCommandError(ResponseCode.NO_ENDPOINT_AVAILABLE, "no idle endpoint")
            response = free[0].createConnection(command)
            return Response(response.code, response.transactionId, response.commentary,
                            parameters=response.parameters + (("Z", free[0].name),),
                            sdp=response.sdp)
        return self._controlledOnly(targets[0]).createConnection(command)

    def _single(self, command: Command, kind: Optional[str], targets: list[MgcpEndpoint]) -> Response:
        if kind is not None:
            raise MgcpCommandError(ResponseCode.WILDCARD_TOO_COMPLICATED,
                                   "%s on a wildcard" % (command.verb,))
        endpoint = self._controlledOnly(targets[0])
        if command.verb == "MDCX":
            return endpoint.modifyConnection(command)
        return endpoint.auditConnection(command)

    def _dlcx(self, command: Command, kind: Optional[str],
              targets: list[MgcpEndpoint]) -> Union[Response, Deferred[Response]]:
        if kind == ANY_OF:
            raise MgcpCommandError(ResponseCode.WILDCARD_TOO_COMPLICATED, "DLCX on any of")
        if kind is None:
            endpoint = targets[0]
            if not endpoint.controlled and not endpoint.connections:
                self._controlledOnly(endpoint)
            return endpoint.deleteConnections(command)
        if command.get("I"):
            raise MgcpCommandError(ResponseCode.WILDCARD_TOO_COMPLICATED, "DLCX I: on a wildcard")
        callId = command.get("C")
        closing = []
        for endpoint in targets:
            chosen = [c for c in endpoint.connections.values()
                      if callId is None or c.callId.upper() == callId.upper()]
            if chosen:
                closing.append(endpoint.dropConnections(chosen))
        response = Response(ResponseCode.CONNECTION_DELETED, command.transactionId,
                            responseText(ResponseCode.CONNECTION_DELETED))
        if not closing:
            return succeed(response)
        return DeferredList(closing, consumeErrors=True).addCallback(lambda ignored: response)

    def _rqnt(self, command: Command, kind: Optional[str], targets: list[MgcpEndpoint]) -> Response:
        if kind == ANY_OF:
            raise MgcpCommandError(ResponseCode.WILDCARD_TOO_COMPLICATED, "RQNT on any of")
        if kind is None:
            return self._controlledOnly(targets[0]).notificationRequest(command)
        live = [endpoint for endpoint in targets if endpoint.controlled]
        requests = [(endpoint, endpoint.notification.prepareRequest(command, required=True))
                    for endpoint in live]
        for endpoint, request in requests:
            endpoint.notification.applyRequest(request)
        return Response(ResponseCode.OK, command.transactionId, responseText(ResponseCode.OK))

    def _auep(self, command: Command, kind: Optional[str], targets: list[MgcpEndpoint]) -> Response:
        if kind is not None:
            return Response(ResponseCode.OK, command.transactionId, responseText(ResponseCode.OK),
                            parameters=[("Z", endpoint.name) for endpoint in targets])
        return self._controlledOnly(targets[0]).auditEndpoint(
            command, self.capabilities, self.packageList, MAX_MESSAGE_SIZE)

    def _epcf(self, command: Command, kind: Optional[str], targets: list[MgcpEndpoint]) -> Response:
        if kind == ANY_OF:
            raise MgcpCommandError(ResponseCode.WILDCARD_TOO_COMPLICATED, "EPCF on any of")
        live = [endpoint for endpoint in targets if endpoint.controlled]
        if kind is None:
            self._controlledOnly(targets[0])
        response = Response(ResponseCode.OK, command.transactionId, responseText(ResponseCode.OK))
        for endpoint in live:
            response = endpoint.configure(command)
        return response

    @property
    def capabilities(self) -> str:
        """The AUEP C{A:} value (mgcp.md 6.7, G.711 only)."""
        return ("a:PCMU;PCMA, p:20, e:on, s:off, v:%s, "
                "m:sendonly;recvonly;sendrecv;inactive;confrnce" % (";".join(self.packages),))

    @property
    def packageList(self) -> str:
        """The AUEP C{PL:} value."""
        return ",".join("%s:%d" % (name, 1 if name == "L" else 0) for name in self.packages)
