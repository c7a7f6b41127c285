# -*- test-case-name: tests.test_ipsec_machine -*-
"""
The core of the IPsec machine (L{srst.ipsec._machine}): what the service
knows about charon and srst's crypto map entries, and the work the
machine's transitions start (connect, load, check the tunnels, unload) and
the log lines they write.  Work that talks to charon runs as a coroutine;
when it ends the core feeds the machine the matching input
(L{IpsecInputs.loaded}, L{IpsecInputs.checked}, L{IpsecInputs.unloaded}).

The helpers that read charon's events (L{failureReason},
L{isakmpDebugLine}, L{connectReason}) live here too; L{srst.ipsec.service}
re-exports every public name: import them from there.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Iterable

from attrs import define, field
from twisted.internet.defer import Deferred, DeferredLock, succeed
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst.ipsec.connections import Connection, loadConnMessage, loadSharedMessage
from srst.ipsec.vici import (
    ViciCommandFailed,
    ViciConnectionLost,
    ViciDecodeError,
    ViciError,
    ViciProtocol,
    ViciTimeout,
    ViciUnknownCommand,
    connectVici,
)

if TYPE_CHECKING:
    from srst.ipsec._machine import IpsecInputs

log = Logger(namespace="srst.ipsec.service")
"""The service's log lines keep the namespace of L{srst.ipsec.service}."""

RETRY_INTERVAL = 10.0
"""Seconds between attempts to reach charon, and between tunnel checks."""

DEBUG_NAMESPACE = "srst.debug.crypto.isakmp"
"""The C{debug crypto isakmp} category."""


_REASONS: tuple[tuple[str, int, str], ...] = (
    ("decryption failed?", 3, " (wrong pre-shared key?)"),
    ("AUTHENTICATION_FAILED", 3, " (wrong pre-shared key?)"),
    ("NO_PROPOSAL_CHOSEN", 3, " (no transform set or isakmp policy in common with the peer)"),
    ("no matching proposal found", 3, " (no transform set or isakmp policy in common with the peer)"),
    ("INVALID_ID_INFORMATION", 3, " (the access lists do not mirror each other)"),
    ("TS_UNACCEPTABLE", 3, " (the access lists do not mirror each other)"),
    ("peer not responding", 2, ""),
)
"""charon's C{log} messages that say why an SA did not come up: a part of
the message, how specific it is, and the hint srst adds for the operator."""

_REFUSED = (ViciCommandFailed, ViciUnknownCommand)
"""charon's answer that it will not do what was asked."""

_LOST = (ViciConnectionLost, ViciTimeout, ViciDecodeError)
"""The connection to charon is gone (or being dropped): the machine's
C{lost} input follows, work cut short by it is not a refusal."""

EVENTS = ("log", "ike-updown", "child-updown")
"""The charon events srst registers for on connecting."""

_DOWN = 1
"""How specific an C{ike-updown}/C{child-updown} without C{up} is."""


def failureReason(name: str, message: dict[str, Any]) -> tuple[str, str, int, str] | None:
    """
    @return: for a charon event that says an SA failed or went down, the
        connection (IKE_SA) name it is about, charon's unique id of the
        IKE_SA, how specific the reason is (higher is more) and the reason
        as C{show} prints it; L{None} for any other event.
    """
    if name == "log":
        ike, text = message.get("ikesa-name"), message.get("msg", "")
        if not ike:
            return None
        for marker, rank, hint in _REASONS:
            if marker in text:
                return ike, message.get("ikesa-uniqueid", ""), rank, text + hint
        return None
    if name in ("ike-updown", "child-updown") and message.get("up") != "yes":
        for ike, sa in message.items():
            if ike == "up" or not isinstance(sa, dict):
                continue
            what = "IKE SA" if name == "ike-updown" else "IPsec SA"
            return ike, sa.get("uniqueid", ""), _DOWN, f"{what} with {sa.get('remote-host', 'the peer')} went down"
    return None


CHARON_HINT = "(is charon running? see etc/supervisord.conf [program:charon])"
"""Said after why charon's VICI socket could not be reached."""


def connectReason(failure: Failure) -> str:
    """
    @return: why connecting to charon failed, as the OS says it
        (C{"No such file or directory"}, C{"Connection refused"}).
    """
    error = failure.value
    if isinstance(error, ConnectError) and isinstance(error.osError, int):
        return os.strerror(error.osError)
    if isinstance(error, ConnectError) and error.args and error.args[0]:
        return str(error.args[0])
    return failure.getErrorMessage()


def isakmpDebugLine(name: str, message: dict[str, Any]) -> str:
    """
    @return: the C{debug crypto isakmp} line for one charon event: a C{log}
        event's text with the IKE_SA it is about, or what went up or down.
    """
    if name == "log":
        ike = message.get("ikesa-name")
        where = f" ({ike}[{message.get('ikesa-uniqueid', '')}])" if ike else ""
        return f"ISAKMP{where}: {message.get('msg', '')}"
    direction = "up" if message.get("up") == "yes" else "down"
    what = "IKE SA" if name == "ike-updown" else "IPsec SA"
    sas = ", ".join(key for key in message if key != "up")
    return f"ISAKMP: {what} {sas} {direction}"



@define
class IpsecCore:
    """
    The IPsec machine's core: its collaborators, what it knows about
    charon and the entries, and the work its transitions start.

    @ivar connections: what is configured, by charon name.
    @ivar endpoint: charon's VICI socket.
    @ivar socketPath: its path, for the log and C{show}.
    @ivar clock: retries, tunnel checks and VICI request timeouts.
    @ivar debugLog: the C{debug crypto isakmp} logger.
    @ivar retryInterval: seconds between attempts to reach charon, and
        between tunnel checks.
    @ivar vici: the connection to charon while there is one.
    @ivar problem: why IPsec is not working now (charon unreachable), or
        L{None}; shown by the C{show crypto} commands.
    @ivar tunnelsDown: the names of entries with no IKE SA at the last check.
    @ivar errors: per entry name, the last reason charon refused it.
    @ivar failures: per entry name, why its SAs last failed or went down
        (see L{failureReason}); an entry is removed once its IPsec SA is up.
    @ivar attempts: per entry name, charon's unique id of the IKE_SA whose
        failure reason is kept, and how specific that reason is.
    @ivar loaded: the entries srst loaded into the charon it is connected
        to (only those are unloaded at stop).
    """

    connections: dict[str, Connection]
    endpoint: IStreamClientEndpoint
    socketPath: str
    clock: IReactorTime
    debugLog: Logger
    retryInterval: float = RETRY_INTERVAL
    vici: ViciProtocol | None = None
    problem: str | None = None
    tunnelsDown: set[str] = field(factory=set)
    errors: dict[str, str] = field(factory=dict)
    failures: dict[str, str] = field(factory=dict)
    attempts: dict[str, tuple[str, int]] = field(factory=dict)
    loaded: set[str] = field(factory=set)
    _firstAttempt: list[Deferred[None]] | None = field(factory=list)
    _stopped: list[Deferred[None]] | None = field(factory=list)
    _work: DeferredLock = field(factory=DeferredLock)

    # -- timers and work

    def startTimer(self, inputs: IpsecInputs) -> IDelayedCall:
        """
        @return: the state's timer: C{tick} after L{retryInterval}.
        """
        return self.clock.callLater(self.retryInterval, inputs.tick)

    def _serially(self, work: Callable[[], Coroutine[Any, Any, None]]) -> Deferred[None]:
        """
        Run one piece of work with charon once the work before it has
        ended: one piece at a time, so a reconfiguration never races the
        loading or the check, and unloading sees what they loaded.

        @return: a L{Deferred} with the work's result.
        """
        return self._work.run(lambda: Deferred.fromCoroutine(work()))

    def _run(self, work: Callable[[], Coroutine[Any, Any, None]], done: Any) -> None:
        """
        Run one piece of work with charon (see L{_serially}), then feed the
        machine C{done}; not when the connection was lost under it (the
        C{lost} input says so, and moves on).  Anything but a L{ViciError}
        is a bug, logged.
        """
        def finished(result: object) -> None:
            if isinstance(result, Failure):
                if result.check(*_LOST):
                    return
                if not result.check(ViciError):
                    log.failure("IPsec: unexpected error", result)
            done()

        self._serially(work).addBoth(finished).addErrback(lambda f: log.failure("IPsec: unexpected error", f))

    # -- connecting

    def connect(self, inputs: IpsecInputs) -> None:
        """Connect to charon: the machine gets C{connected} or C{connectFailed}."""
        connecting = connectVici(self.endpoint, self.charonEvent, inputs.lost, self.clock)
        connecting.addCallbacks(inputs.connected, inputs.connectFailed)

    def unreachable(self, failure: Failure) -> None:
        """Connecting failed: say so once, keep the reason for C{show}."""
        reason = f"{connectReason(failure)} {CHARON_HINT}"
        if self.problem is None:
            log.warn(
                "IPsec: charon not reachable at {socket}: {reason}; srst goes on without IPsec "
                "and retries every {interval:g} s",
                socket=self.socketPath, reason=reason, interval=self.retryInterval)
        self.problem = f"charon not reachable at {self.socketPath}: {reason}"

    def connected(self, vici: ViciProtocol) -> None:
        """Connected to charon (again): it knows nothing of srst's entries yet."""
        self.vici = vici
        if self.problem is not None:
            log.info("IPsec: charon reachable again at {socket}", socket=self.socketPath)
        self.problem = None
        self.loaded.clear()

    def lost(self, reason: Failure) -> None:
        """The connection to charon is gone: say so, keep the reason for C{show}."""
        self.vici = None
        self.loaded.clear()
        self.problem = f"lost the VICI connection to charon at {self.socketPath}: {reason.getErrorMessage()}"
        log.warn("IPsec: {problem}; retrying every {interval:g} s", problem=self.problem,
                 interval=self.retryInterval)

    def gone(self) -> None:
        """The connection to charon is gone while stopping: nothing is left to unload."""
        self.vici = None
        self.loaded.clear()

    @staticmethod
    def close(vici: ViciProtocol) -> None:
        """Close a connection made after the service stopped."""
        vici.transport.loseConnection()

    # -- waiting for the machine

    def whenFirstAttempted(self) -> Deferred[None]:
        """@return: a L{Deferred} firing once the first attempt to load has finished."""
        if self._firstAttempt is None:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._firstAttempt.append(waiter)
        return waiter

    def attemptRequests(self) -> int:
        """
        @return: how many VICI requests an attempt to load makes (the
            event registrations, then per entry C{load-shared}, C{load-conn}
            and an C{initiate} per CHILD_SA); each ends within the request
            timeout, and one that does not drops the connection, ending the
            attempt.
        """
        return len(EVENTS) + sum(2 + len(c.children) for c in self.connections.values())

    def attemptFinished(self) -> None:
        """An attempt to load finished (loaded, refused, charon unreachable or gone, or stopped)."""
        waiters, self._firstAttempt = self._firstAttempt, None
        for waiter in waiters or ():
            waiter.callback(None)

    def whenStopped(self) -> Deferred[None]:
        """@return: a L{Deferred} firing once the service has stopped."""
        if self._stopped is None:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._stopped.append(waiter)
        return waiter

    def stopped(self) -> None:
        """Stopped: nothing is loaded, connected or timed any more."""
        self.attemptFinished()
        waiters, self._stopped = self._stopped, None
        for waiter in waiters or ():
            waiter.callback(None)

    # -- loading

    def loadAll(self, inputs: IpsecInputs) -> None:
        """Load every entry into the charon just connected to; then C{loaded}."""
        self._run(self._loadAll, inputs.loaded)

    async def _loadAll(self) -> None:
        vici = self.vici
        assert vici is not None
        for event in EVENTS:
            await vici.register(event)
        for connection in self.connections.values():
            await self._load(vici, connection)

    async def _load(self, vici: ViciProtocol, connection: Connection) -> None:
        """
        Load and initiate one entry; charon's refusal is logged and kept.

        @raise ViciError: one of L{_LOST}: the connection is gone.
        """
        try:
            await vici.request("load-shared", loadSharedMessage(connection))
            self.loaded.add(connection.name)
            await vici.request("load-conn", loadConnMessage(connection))
            await self._initiate(vici, connection)
        except _REFUSED as e:
            self.errors[connection.name] = str(e)
            log.warn("IPsec: charon refused crypto map {map} {sequence}: {reason}",
                     map=connection.mapName, sequence=connection.sequence, reason=str(e))
        else:
            self.errors.pop(connection.name, None)
            log.info("IPsec: loaded crypto map {map} {sequence} (peer {peer}) into charon and initiated it",
                     map=connection.mapName, sequence=connection.sequence, peer=connection.remoteAddress)

    async def _initiate(self, vici: ViciProtocol, connection: Connection) -> None:
        for child, _, _ in connection.children:
            await vici.request("initiate", {"child": child, "ike": connection.name, "timeout": "-1"})

    # -- stopping

    def unloadAll(self, inputs: IpsecInputs) -> None:
        """Unload what srst loaded, and only that, then close; then C{unloaded}."""
        self._run(self._unloadAll, inputs.unloaded)

    async def _unloadAll(self) -> None:
        vici, self.vici = self.vici, None
        if vici is None:
            return
        try:
            for name in sorted(self.loaded):
                await self._unload(vici, name)
        except _LOST as e:
            left = sorted(self.loaded)
            self.loaded.clear()
            log.warn("IPsec: lost charon while unloading srst's crypto maps ({reason}); not unloaded: {names}",
                     reason=str(e), names=", ".join(left) or "none")
        vici.transport.loseConnection()

    async def _unload(self, vici: ViciProtocol, name: str) -> None:
        """
        Unload one entry's connection and secret; charon refusing is logged
        per command, a lost connection is raised (the caller's to report once).
        """
        for command, message in (("unload-conn", {"name": name}), ("unload-shared", {"id": f"srst-{name}"})):
            try:
                await vici.request(command, message)
            except _REFUSED as e:
                log.warn("IPsec: charon did not {command} {name}: {reason}", command=command, name=name,
                         reason=str(e))
        self.loaded.discard(name)

    # -- the tunnel check

    def check(self, inputs: IpsecInputs) -> None:
        """Look for entries with no IKE SA and initiate them again; then C{checked}."""
        self._run(self._check, inputs.checked)

    async def _check(self) -> None:
        vici = self.vici
        if vici is None:
            return
        sas = await self.listSas()
        up = {name for sa in sas for name in sa}
        for name, connection in self.connections.items():
            if name in up:
                if name in self.tunnelsDown:
                    log.info("IPsec: tunnel to {peer} (crypto map {map} {sequence}) is up",
                             peer=connection.remoteAddress, map=connection.mapName, sequence=connection.sequence)
                self.tunnelsDown.discard(name)
                continue
            if name not in self.tunnelsDown:
                log.warn("IPsec: no IKE SA with {peer} (crypto map {map} {sequence}); tunnel down, "
                         "initiating again every {interval:g} s",
                         peer=connection.remoteAddress, map=connection.mapName, sequence=connection.sequence,
                         interval=self.retryInterval)
            self.tunnelsDown.add(name)
            if name in self.loaded:
                try:
                    await self._initiate(vici, connection)
                except _REFUSED as e:
                    self.errors[name] = str(e)

    # -- events and queries

    def charonEvent(self, name: str, message: dict[str, Any]) -> None:
        """
        One event from charon: to C{debug crypto isakmp}, and to
        L{failures} (logged) when it says why one of srst's SAs failed, or
        that its IPsec SA is up.
        """
        self.debugLog.debug("{line}", line=isakmpDebugLine(name, message))
        if name == "child-updown" and message.get("up") == "yes":
            for ike in message:
                self._up(ike)
            return
        failure = failureReason(name, message)
        if failure is None or failure[0] not in self.connections:
            return
        ike, uniqueid, rank, reason = failure
        attempt = self.attempts.get(ike)
        if attempt is not None and attempt[0] == uniqueid and attempt[1] > rank:
            return  # charon's generic aftermath of a reason already kept
        self.attempts[ike] = (uniqueid, rank)
        if self.failures.get(ike) == reason:
            return
        self.failures[ike] = reason
        connection = self.connections[ike]
        log.warn("IPsec: crypto map {map} {sequence} (peer {peer}): {reason}", map=connection.mapName,
                 sequence=connection.sequence, peer=connection.remoteAddress, reason=reason)

    def _up(self, ike: str) -> None:
        connection = self.connections.get(ike)
        if connection is None:
            return
        self.attempts.pop(ike, None)
        if self.failures.pop(ike, None) is not None:
            log.info("IPsec: crypto map {map} {sequence} (peer {peer}): IPsec SA up", map=connection.mapName,
                     sequence=connection.sequence, peer=connection.remoteAddress)

    def notConnected(self) -> ViciError:
        """@return: the error for a request made while charon is not connected."""
        return ViciError(self.problem or "not connected to charon")

    async def listSas(self) -> list[dict[str, Any]]:
        """
        @return: charon's C{list-sas} events (one dict per IKE_SA, keyed by
            its name), only those of srst's connections.
        @raise ViciError: when charon is not reachable.
        """
        vici = self.vici
        if vici is None:
            raise self.notConnected()
        events, _ = await vici.streamedRequest("list-sas", "list-sa")
        return [sa for sa in events if any(name in self.connections for name in sa)]

    def clear(self, done: Deferred[None]) -> None:
        """C{clear crypto sa} on the connected charon once the work in flight has ended; then C{done}."""
        self._serially(self._clear).chainDeferred(done)

    async def _clear(self) -> None:
        vici = self.vici
        if vici is None:
            raise self.notConnected()
        for name in sorted(self.loaded):
            connection = self.connections.get(name)
            if connection is None:
                continue  # removed: unloaded by the reconfiguration queued behind
            for child, _, _ in connection.children:
                try:
                    await vici.request("terminate", {"child": child})
                except ViciCommandFailed:
                    pass  # no such CHILD_SA up: nothing to clear
            await self._initiate(vici, connection)

    def replace(self, connections: Iterable[Connection]) -> dict[str, Connection]:
        """
        Take the new configuration, forgetting what was kept about entries
        that are gone.

        @return: the entries configured before.
        """
        new = {c.name: c for c in connections}
        old, self.connections = self.connections, new
        for name in set(old) - set(new):
            self.failures.pop(name, None)
            self.attempts.pop(name, None)
            self.errors.pop(name, None)
            self.tunnelsDown.discard(name)
        return old

    def reconfigure(self, connections: Iterable[Connection], done: Deferred[None]) -> None:
        """
        Take the new configuration now and load the difference into the
        connected charon once the work in flight has ended; then C{done}.
        """
        old = self.replace(connections)
        new = self.connections
        self._serially(lambda: self._reconfigure(old, new)).chainDeferred(done)

    async def _reconfigure(self, old: dict[str, Connection], new: dict[str, Connection]) -> None:
        vici = self.vici
        if vici is None:
            return  # loaded as a whole on connecting
        try:
            await self._difference(vici, old, new)
        except _LOST:
            pass  # the lost input follows: loaded as a whole on connecting again

    async def _difference(self, vici: ViciProtocol, old: dict[str, Connection], new: dict[str, Connection]) -> None:
        for name, connection in old.items():
            if new.get(name) != connection and name in self.loaded:
                try:
                    await vici.request("terminate", {"ike": name, "timeout": "-1"})
                except _REFUSED:
                    pass  # no SA to terminate
                await self._unload(vici, name)
        for name, connection in new.items():
            if old.get(name) != connection:
                await self._load(vici, connection)
