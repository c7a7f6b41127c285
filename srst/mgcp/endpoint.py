# -*- test-case-name: tests.test_mgcp_endpoint -*-
"""
One MGCP endpoint per analog voice port (mgcp.md 6, 7).

An L{MgcpEndpoint} executes the call agent's commands for its port
(CRCX, MDCX, DLCX, RQNT, AUEP, AUCX, EPCF; the gateway dispatches them),
listens to the port (L{srst.ports.interfaces.IVoicePortListener}) and turns
line events into notifications through the C{notify} callable.

Requested events (C{R:}) are matched in order; actions C{N} (the default)
notify, C{A} accumulate, C{D} collect digits against the digit map with the
T(critical)/T(partial) timers, C{I} ignore, C{K} keep signals and
C{E(...)} switch to an embedded request.  Persistent events (IOS C{mgcp
persistent}: off-hook by default, on-hook and hook flash when configured)
are notified even when the current request does not ask for them.  Quarantine follows C{Q:}: C{step} (the
default, as on IOS) holds events back after a notification until the next
request, C{loop} does not; C{process} (default) replays held events
against the new request, C{discard} drops them.

Signals (C{S:}) map onto the port: ringing and call-progress tones with
their time-out, C{L/ci} gives the ring its caller id, C{D/<digit>} plays
the DTMF digit on the line (and, with C{mgcp dtmf-relay} out of band, sends
it as RFC 4733 telephone-events to a far end whose SDP offered them, as it
does the digits dialled on the line).  The port plays dial
tone by itself when lifted; under MGCP that tone is stopped unless the call
agent asked for C{L/dl}.

While relinquished (MGCP gateway fallback, mgcp.md 9.3) the endpoint
ignores the line, keeps a connected call's media until the line goes on
hook or the call agent deletes it, and then reports the port idle.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from srst.mgcp._connections import (
    PCMA,
    PCMU,
    Connection,
    ConnectionInfo,
    checkMode,
    choosePayloadType,
    connectionStatistics,
    localDescription,
    remoteAddress,
    splitMulticast,
    telephoneEventOf,
)
from srst.mgcp._control import ControlCore, ControlState, EndpointControl, EndpointControlMachine, WhenIdle
from srst.mgcp._requests import NotificationRequest, NotificationState, commandResponse
from srst.mgcp._signals import PERSISTENT, MgcpCommandError
from srst.mgcp.constants import ResponseCode
from srst.mgcp.messages import Command, ConnectionParameters, NotifiedEntity, ObservedEvent, Response
from srst.ports.interfaces import IVoicePortListener
from srst.ports.media import PortMediaLeg
from srst.ports.voiceport import PortStatus, VoicePort

__all__ = ["MgcpEndpoint", "MgcpCommandError", "ConnectionInfo", "ControlState", "NotificationRequest",
           "NotificationState", "bearerPayloadType"]

_HOLDING = (PortStatus.OFF_HOOK, PortStatus.COLLECTING, PortStatus.CONNECTED)


@implementer(IVoicePortListener)
class MgcpEndpoint:
    """
    The MGCP endpoint of one voice port.

    @ivar name: the full endpoint name, C{aaln/S1/SU0/0@gw1.example.com}.
    @ivar port: the L{VoicePort}.
    @ivar notification: the L{NotificationState}: the current request
        (C{X:}, C{R:}, C{S:}, C{D:}, C{Q:}, C{N:}), what it observed and
        the signals it plays.
    @ivar connections: live L{Connection}s by upper-case id.
    @ivar payloadType: the bearer law's payload type (EPCF C{B: e:mu|e:A}).
    @ivar musicOnHold: C{ccm-manager music-on-hold}: whether a multicast
        remote descriptor's stream is joined and played to the port.
    """

    log = Logger()

    def __init__(self, *, clock: IReactorTime, name: str, port: VoicePort,
                 newLeg: Callable[[VoicePort, int], PortMediaLeg], newConnectionId: Callable[[], str],
                 notify: Callable[[MgcpEndpoint, tuple[ObservedEvent, ...], str], object],
                 activity: Callable[[MgcpEndpoint], object], tcrit: float = 4.0,
                 tpar: float = 16.0, maxConnections: int = 4, debugLog: Logger,
                 persistent: frozenset[tuple[str, str]] = PERSISTENT,
                 mediaLost: Optional[Callable[[MgcpEndpoint, Connection, ConnectionParameters],
                                              object]] = None,
                 dtmfOutOfBand: bool = True, musicOnHold: bool = False) -> None:
        """
        @param clock: timers (signal time-outs, digit map timers).
        @param name: the full endpoint name.
        @param port: the voice port; the endpoint subscribes to it.
        @param newLeg: C{newLeg(port, payloadType)} makes a
            L{srst.ports.media.PortMediaLeg}.
        @param newConnectionId: returns a fresh hex connection id.
        @param notify: C{notify(endpoint, observedEvents, requestId)} sends
            an NTFY.
        @param activity: called when the user lifts the handset (local
            activity for the disconnected procedure).
        @param tcrit: T(critical) inter-digit timer, seconds.
        @param tpar: T(partial) inter-digit timer, seconds.
        @param maxConnections: connections per endpoint before 540.
        @param persistent: the persistent events, C{(package, name)} pairs.
        @param debugLog: the C{srst.debug.mgcp} logger.
        @param mediaLost: C{mediaLost(endpoint, connection, statistics)} once
            a connection whose RTP stopped arriving (the leg's unreachable
            timeout) has been deleted here: the gateway tells the call
            agent with a DLCX of its own.
        @param dtmfOutOfBand: C{mgcp dtmf-relay ... mode out-of-band}: the
            connections offer telephone-events, and send DTMF (the C{D/x}
            signals and the digits dialled on the line) as RFC 4733 events
            to a far end that offered them; else DTMF stays in the audio.
        @param musicOnHold: C{ccm-manager music-on-hold}.
        """
        self.clock = clock
        self.name = name
        self.port = port
        self.debugLog = debugLog
        self.notification = NotificationState(
            clock=clock, port=port, endpointName=name, debugLog=debugLog, tcrit=tcrit, tpar=tpar,
            persistent=persistent, notify=lambda observed, requestId: notify(self, observed, requestId),
            relayDigits=self._relayDigits)
        self._controlCore = ControlCore(portName=port.name, notification=self.notification,
                                        dropTransient=self._dropTransient)
        self._control: EndpointControl = EndpointControlMachine(self._controlCore)
        self.connections: dict[str, Connection] = {}
        self.payloadType = PCMU
        self.maxConnections = maxConnections
        self._newLeg = newLeg
        self._newConnectionId = newConnectionId
        self._mediaLost = mediaLost
        self.dtmfOutOfBand = dtmfOutOfBand
        self.musicOnHold = musicOnHold
        self._activity = activity
        port.subscribe(self)

    def __repr__(self) -> str:
        return "<MgcpEndpoint %s port %s%s>" % (self.name, self.port.name,
                                                 "" if self.controlled else " relinquished")

    @property
    def isFxs(self) -> bool:
        """Whether the port faces a telephone."""
        return bool(self.port.config.signal.isFxs)

    @property
    def notifiedEntity(self) -> Optional[NotifiedEntity]:
        """The last C{N:} received, or C{None} for the gateway's call agent."""
        return self.notification.notifiedEntity

    @property
    def controlled(self) -> bool:
        """Whether MGCP controls the port (see L{srst.mgcp._control})."""
        return self._control.status() is ControlState.CONTROLLED

    @property
    def controlState(self) -> ControlState:
        """The endpoint's L{ControlState}."""
        return self._control.status()

    @property
    def carriesConnectedCall(self) -> bool:
        """Whether the line is off hook with a connection carrying a call."""
        return self.port.status in _HOLDING and any(c.carriesCall for c in self.connections.values())

    @property
    def isIdle(self) -> bool:
        """Whether the port is on hook and has no connection."""
        return not self.connections and self.port.status is PortStatus.IDLE

    def connectionInfos(self) -> tuple[ConnectionInfo, ...]:
        """@return: the live connections, oldest first."""
        return tuple(connection.info for connection in self.connections.values())

    # -- line events ----------------------------------------------------------------------------

    def offHook(self, port: VoicePort) -> None:
        """The line went off hook: report C{L/hd}."""
        if not self.controlled:
            return
        if (self.isFxs and self.port.status is PortStatus.OFF_HOOK
                and not any(self.notification.playing("L", name) for name in ("dl", "sl"))):
            self.port.stopTone()
        self._activity(self)
        self.notification.event("L", "hd")

    def onHook(self, port: VoicePort) -> None:
        """The line went on hook: report C{L/hu} (or, relinquished, end the kept call)."""
        self.notification.lineOnHook()
        if not self.controlled:
            self._dropConnections(self.connections.values())
            self._checkIdle()
            return
        self.notification.event("L", "hu")

    def digit(self, port: VoicePort, digit: str) -> None:
        """A DTMF digit: report C{D/<digit>} or feed the digit map."""
        if self.controlled:
            self.notification.event("D", digit.upper())

    def _relayDigits(self, digits: str) -> None:
        """DTMF signals played on the line go to each far end that takes telephone-events."""
        for connection in self.connections.values():
            connection.leg.relayDigits(digits)

    def flash(self, port: VoicePort) -> None:
        """A hook flash: report C{L/hf}."""
        if self.controlled:
            self.notification.event("L", "hf")

    def incoming(self, port: VoicePort, callerId: Optional[str]) -> None:
        """FXO: the exchange rings the line: report C{L/rg}."""
        if self.controlled:
            self.notification.event("L", "rg")

    # -- connections ------------------------------------------------------------------------

    def _connection(self, command: Command) -> Connection:
        ids = command.get("I")
        if not ids:
            raise MgcpCommandError(ResponseCode.PROTOCOL_ERROR, "missing I: ConnectionId")
        connection = self.connections.get(ids[0].upper())
        if connection is None:
            raise MgcpCommandError(ResponseCode.INCORRECT_CONNECTION_ID,
                                   "no connection %s on %s" % (ids[0], self.name))
        callId = command.get("C")
        if callId is not None and callId.upper() != connection.callId.upper():
            raise MgcpCommandError(ResponseCode.UNKNOWN_CALL_ID,
                                   "connection %s is not in call %s" % (ids[0], callId))
        return connection

    def createConnection(self, command: Command) -> Response:
        """
        Execute a CRCX (mgcp.md 6.2): bind an RTP port, answer with C{I:}
        and the local simple SDP.

        @raise MgcpCommandError: 510 missing C{C:}/C{M:}, 517 mode, 534/535
            codec, 540 too many connections, 403 no RTP port, or the
            embedded request's error.
        """
        callId = command.get("C")
        if callId is None:
            raise MgcpCommandError(ResponseCode.PROTOCOL_ERROR, "missing C: CallId")
        if command.get("M") is None:
            raise MgcpCommandError(ResponseCode.PROTOCOL_ERROR, "missing M: ConnectionMode")
        mode = checkMode(command.get("M"))
        if len(self.connections) >= self.maxConnections:
            raise MgcpCommandError(ResponseCode.CONNECTION_LIMIT_EXCEEDED,
                                   "%d connections on %s" % (len(self.connections), self.name))
        options = command.get("L")
        remoteSdp = command.sdp[0] if command.sdp else None
        payloadType = choosePayloadType(options, remoteSdp, self.payloadType)
        remote, group = splitMulticast(remoteAddress(remoteSdp))
        request = self.notification.prepareRequest(command, required=False)
        leg = self._newLeg(self.port, payloadType)
        try:
            local = leg.open()
        except RuntimeError as error:
            leg.close()
            raise MgcpCommandError(ResponseCode.NO_RESOURCES_NOW, str(error)) from error
        connectionId = self._newConnectionId()
        leg.onUnreachable = lambda: self._rtpUnreachable(connectionId)
        leg.telephoneEvent = telephoneEventOf(remoteSdp, self.dtmfOutOfBand)
        localSdp = localDescription(local[0], local[1], payloadType, self.dtmfOutOfBand, remoteSdp)
        connection = Connection(connectionId, callId, mode, leg, local, localSdp,
                                remote, remoteSdp, options)
        self.connections[connectionId.upper()] = connection
        if not self.isFxs and self.port.status in (PortStatus.IDLE, PortStatus.RINGING):
            self.port.seize()
        connection.applyMode()
        self._applyGroup(connection, group)
        self._finishRequest(command, request)
        self.debugLog.debug("MGCP endpoint {endpoint}: connection {connection} {mode} local "
                            "{local} remote {remote}", endpoint=self.name,
                            connection=connectionId, mode=mode.value, local=local,
                            remote=connection.remote)
        return commandResponse(command, ResponseCode.OK, [("I", connectionId)], [localSdp])

    def modifyConnection(self, command: Command) -> Response:
        """
        Execute an MDCX (mgcp.md 6.3): new mode, remote descriptor, options.

        @raise MgcpCommandError: 510 missing C{I:}, 515 unknown connection,
            516 wrong call, 517 mode, 534 codec, or the embedded request's
            error.
        """
        connection = self._connection(command)
        mode = checkMode(command.get("M")) if command.has("M") else connection.mode
        options = command.get("L")
        remoteSdp = command.sdp[0] if command.sdp else None
        if options is not None or remoteSdp is not None:
            chosen = choosePayloadType(options, remoteSdp, connection.leg.payloadType)
            if chosen != connection.leg.payloadType:
                offered = remoteSdp.payloadTypes if remoteSdp is not None else ()
                if connection.leg.payloadType not in offered:
                    raise MgcpCommandError(ResponseCode.CODEC_NEGOTIATION_FAILURE,
                                           "connection %s carries payload type %d"
                                           % (connection.connectionId, connection.leg.payloadType))
        remote, group = (splitMulticast(remoteAddress(remoteSdp)) if remoteSdp is not None
                         else (connection.remote, connection.group))
        request = self.notification.prepareRequest(command, required=False)
        connection.mode = mode
        if remoteSdp is not None:
            connection.remoteSdp = remoteSdp
            connection.remote = remote
            connection.leg.telephoneEvent = telephoneEventOf(remoteSdp, self.dtmfOutOfBand)
        if options is not None:
            connection.options = options
        connection.applyMode()
        self._applyGroup(connection, group)
        self._finishRequest(command, request)
        sdp = [connection.localSdp] if options is not None else []
        return commandResponse(command, ResponseCode.OK, (), sdp)

    def _applyGroup(self, connection: Connection, group: Optional[tuple[str, int]]) -> None:
        """
        Follow the remote descriptor's multicast group (CallManager's
        multicast music on hold): with C{ccm-manager music-on-hold}, join
        it and play it to the port, leaving it on a unicast descriptor;
        without, log once per connection that it is not relayed (IOS
        without the command).
        """
        if group == connection.group:
            return
        connection.group = group
        leg = connection.leg
        if group is None:
            leg.leaveGroup()
            return
        if not self.musicOnHold:
            self.log.info("MGCP endpoint {endpoint}: connection {connection}: multicast music on hold "
                          "from {group}:{port} not relayed (no ccm-manager music-on-hold)",
                          endpoint=self.name, connection=connection.connectionId, group=group[0], port=group[1])
            return
        self.debugLog.debug("MGCP endpoint {endpoint}: connection {connection} joins multicast "
                            "music on hold {group}:{port}", endpoint=self.name,
                            connection=connection.connectionId, group=group[0], port=group[1])
        leg.listenGroup(*group).addErrback(
            lambda failure: self.log.warn("MGCP endpoint {endpoint}: cannot join multicast music on hold "
                                          "{group}:{port}: {error}", endpoint=self.name, group=group[0],
                                          port=group[1], error=failure.getErrorMessage()))

    def deleteConnections(self, command: Command) -> Deferred[Response]:
        """
        Execute a DLCX (mgcp.md 6.4): one connection (C{C:}+C{I:}), a call's
        (C{C:}), or all of them.  The response (250, with C{P:} for a single
        connection) comes once the RTP ports are closed.

        @raise MgcpCommandError: 515 unknown connection, 516 unknown call,
            or the embedded request's error.
        """
        callId = command.get("C")
        if command.get("I"):
            targets = [self._connection(command)]
        elif callId is not None:
            targets = [c for c in self.connections.values() if c.callId.upper() == callId.upper()]
            if not targets:
                raise MgcpCommandError(ResponseCode.UNKNOWN_CALL_ID,
                                       "no connection of call %s on %s" % (callId, self.name))
        else:
            targets = list(self.connections.values())
        request = self.notification.prepareRequest(command, required=False) if self.controlled else None
        parameters = []
        if len(targets) == 1:
            parameters.append(("P", connectionStatistics(targets[0].leg.snapshot())))
        closing = self._dropConnections(targets)
        if self.controlled:
            self._finishRequest(command, request)
        self._checkIdle()
        return closing.addCallback(
            lambda ignored: commandResponse(command, ResponseCode.CONNECTION_DELETED, parameters))

    def _finishRequest(self, command: Command, request: Optional[NotificationRequest]) -> None:
        if request is not None:
            self.notification.applyRequest(request)
        elif command.has("N"):
            self.notification.notifiedEntity = command.get("N")

    def notificationRequest(self, command: Command) -> Response:
        """
        Execute an RQNT (mgcp.md 6.5).

        @raise MgcpCommandError: with the previous request left in place.
        """
        return self.notification.notificationRequest(command)

    def notificationFailed(self) -> None:
        """
        The call agent refused or never answered a notification (see
        L{NotificationState.notificationFailed}).
        """
        self.notification.notificationFailed()

    def dropConnections(self, targets: Iterable[Connection]) -> Deferred[Any]:
        """
        Delete connections without a response (wildcard DLCX, fallback):
        close their legs, release a seized FXO line left without one, and
        report the port idle if it now is and is relinquished.

        @param targets: L{Connection}s of this endpoint.
        @return: fires when their RTP ports are closed.
        """
        closing = self._dropConnections(targets)
        self._checkIdle()
        return closing

    def _dropConnections(self, targets: Iterable[Connection]) -> Deferred[Any]:
        targets = list(targets)
        closing = []
        for connection in targets:
            self.connections.pop(connection.connectionId.upper(), None)
            closing.append(connection.leg.close())
        if (targets and not self.connections and not self.isFxs
                and self.port.status in _HOLDING):
            self.port.release()
        if not closing:
            return succeed(None)
        return DeferredList(closing, consumeErrors=True)

    def auditConnection(self, command: Command) -> Response:
        """
        Execute an AUCX (mgcp.md 6.8): C{F:} among C{C N L M P LC RC}.

        @raise MgcpCommandError: 515 unknown connection, 539 unknown info.
        """
        connection = self._connection(command)
        parameters: list[Any] = []
        sdp = []
        wanted = command.get("F") or ()
        for info in wanted:
            if info == "C":
                parameters.append(("C", connection.callId))
            elif info == "N":
                if self.notification.notifiedEntity is not None:
                    parameters.append(("N", self.notification.notifiedEntity))
            elif info == "L":
                if connection.options is not None:
                    parameters.append(("L", connection.options))
            elif info == "M":
                parameters.append(("M", connection.mode.value))
            elif info == "P":
                parameters.append(("P", connectionStatistics(connection.leg.snapshot())))
            elif info not in ("LC", "RC"):
                raise MgcpCommandError(ResponseCode.UNSUPPORTED_PARAMETER,
                                       "cannot audit %s of a connection" % (info,))
        if "LC" in wanted:
            sdp.append(connection.localSdp)
        if "RC" in wanted and connection.remoteSdp is not None:
            sdp.append(connection.remoteSdp)
        return commandResponse(command, ResponseCode.OK, parameters, sdp)

    # -- audit and configuration ----------------------------------------------------------------

    def auditEndpoint(self, command: Command, capabilities: str, packages: str,
                      maxDatagram: int) -> Response:
        """
        Execute an AUEP (mgcp.md 6.7) for this endpoint.

        @param capabilities: the C{A:} value.
        @param packages: the C{PL:} value.
        @param maxDatagram: the C{MD:} value.
        @raise MgcpCommandError: 539 for an info code it cannot return.
        """
        held = self.port.status in (PortStatus.IDLE, PortStatus.RINGING)
        notification = self.notification
        values: dict[str, Any] = {
            "A": capabilities,
            "R": notification.requested,
            "S": notification.activeSignals,
            "D": notification.digitMap.encode() if notification.digitMap is not None else "",
            "X": notification.requestId,
            "I": ",".join(c.connectionId for c in self.connections.values()),
            "ES": "L/hu" if held else "L/hd",
            "RM": "restart",
            "RD": 0,
            "Q": "process,step" if notification.step else "process,loop",
            "T": "",
            "O": notification.observedEvents,
            "E": "000 Endpoint state is normal",
            "PL": packages,
            "MD": maxDatagram,
            "B": "e:A" if self.payloadType == PCMA else "e:mu",
        }
        parameters: list[Any] = []
        for info in command.get("F") or ():
            if info == "N":
                if notification.notifiedEntity is not None:
                    parameters.append(("N", notification.notifiedEntity))
            elif info in values:
                parameters.append((info, values[info]))
            else:
                raise MgcpCommandError(ResponseCode.UNSUPPORTED_PARAMETER,
                                       "cannot audit %s of an endpoint" % (info,))
        return commandResponse(command, ResponseCode.OK, parameters)

    def configure(self, command: Command) -> Response:
        """
        Execute an EPCF (mgcp.md 6.1): C{B: e:mu} or C{e:A} picks the law
        new connections prefer.

        @raise MgcpCommandError: 532 for another encoding.
        """
        bearer = command.get("B")
        if bearer is not None:
            self.payloadType = bearerPayloadType(bearer.get("e"))
        return commandResponse(command, ResponseCode.OK)

    # -- fallback --------------------------------------------------------------------------

    def relinquish(self, whenIdle: WhenIdle) -> None:
        """
        Stop MGCP control (fallback): forget the request and signals, drop
        transient connections locally, keep a connected call's media, and
        call C{whenIdle(portName)} once the port is idle (maybe at once).

        @param whenIdle: called once with the voice-port name.
        """
        self._controlInput(self._control.relinquish, whenIdle)
        self._checkIdle()

    def reclaim(self) -> None:
        """
        MGCP controls the port again, with an empty request (the call agent
        re-arms it after the restart RSIP).
        """
        self._controlInput(self._control.reclaim)

    def _controlInput(self, input: Callable[..., None], *args: object) -> None:
        """
        Feed the control machine, then hand out the reports of a port gone
        local that its transitions queued (L{ControlCore.flushReports}).
        """
        input(*args)
        self._controlCore.flushReports()

    def _dropTransient(self) -> None:
        """
        Relinquished (the control machine's C{dropTransient}): drop the
        connections unless they carry a connected call (kept until it ends).
        """
        if not self.carriesConnectedCall:
            self._dropConnections(self.connections.values())

    def _rtpUnreachable(self, connectionId: str) -> None:
        """
        No RTP arrived on a connection for C{mgcp rtp unreachable timeout}
        (mgcp.md 6.4, C{action notify}): delete it here and report it (to
        the call agent only while it controls the port: reported before a
        relinquished port that is now idle can be handed back), then see
        whether the port is idle.
        """
        connection = self.connections.get(connectionId.upper())
        if connection is None:
            return
        statistics = connectionStatistics(connection.leg.snapshot())
        self.debugLog.debug("MGCP endpoint {endpoint}: connection {connection} RTP unreachable; deleted",
                            endpoint=self.name, connection=connectionId)
        self._dropConnections([connection])
        if self._mediaLost is not None:
            self._mediaLost(self, connection, statistics)
        self._checkIdle()

    def _checkIdle(self) -> None:
        if self.isIdle:
            self._controlInput(self._control.idle)

    def close(self) -> Deferred[Any]:
        """
        Cancel every timer and close every connection (gateway stop).

        @return: fires when the RTP ports are closed.
        """
        self.notification.forget()
        self.port.unsubscribe(self)
        return self._dropConnections(self.connections.values())


def bearerPayloadType(encoding: Optional[str]) -> int:
    """
    @param encoding: the C{e:} value of C{B:}, C{"mu"} or C{"A"}.
    @return: 0 or 8.
    @raise MgcpCommandError: 532 for anything else.
    """
    if encoding is not None and encoding.lower() == "mu":
        return PCMU
    if encoding is not None and encoding.lower() == "a":
        return PCMA
    raise MgcpCommandError(ResponseCode.UNSUPPORTED_LCO_VALUE, "bearer encoding %r" % (encoding,))

