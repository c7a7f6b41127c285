# -*- test-case-name: tests.test_ipsec_service -*-
"""
L{IpsecService}: srst's crypto maps loaded into a running charon over VICI.

At start the service connects to charon's VICI socket (C{crypto.vici-socket};
charon itself is started by the deployment) and, per crypto map entry, loads
the pre-shared key (C{load-shared}, owner the peer's address), the
connection with the access list's traffic selectors (C{load-conn}) and
initiates its CHILD_SA (C{initiate}, returning at once: IKE goes on in charon).
At stop it unloads what it loaded, and only that, by name.

srst never depends on charon: when the socket is missing or refused, when
charon goes away or when a tunnel is down, the service says so once in the
log (again only after it recovered), keeps the reason for C{show}, and
retries on the injected clock every L{RETRY_INTERVAL} seconds: reconnecting
(then loading everything again: a restarted charon has forgotten it) and
initiating again the entries with no IKE SA.  Calls and fallback do not
wait for any of it.

charon's C{log} events go to the C{debug crypto isakmp} category, its
C{ike-updown} and C{child-updown} events too.  They also tell why a tunnel
does not come up: L{failureReason} picks the errors out of them (a wrong
pre-shared key, no proposal in common, a peer not responding, an SA gone
down); per crypto map entry the service keeps the last one for C{show} and
logs it at warn once, again only when it changes or after the tunnel came
up in between.  Within one IKE_SA (charon's unique id) a specific reason is
not replaced by the generic one that follows it: with IKEv1 a wrong key
stays "decryption failed? (wrong pre-shared key?)" although charon then
also gives up on the unresponsive peer.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure

from srst.ipsec.connections import Connection, loadConnMessage, loadSharedMessage
from srst.ipsec.vici import ViciCommandFailed, ViciError, ViciProtocol, connectVici

log = Logger()

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


class IpsecService(Service):
    """
    Keeps srst's crypto map entries loaded in charon.

    @ivar connections: what is configured, by charon name.
    @ivar problem: why IPsec is not working now (charon unreachable), or
        L{None}; shown by the C{show crypto} commands.
    @ivar tunnelsDown: the names of entries with no IKE SA at the last check.
    @ivar errors: per entry name, the last reason charon refused it.
    @ivar failures: per entry name, why its SAs last failed or went down
        (from charon's events; see L{failureReason}); an entry is removed
        once its IPsec SA is up.
    """

    def __init__(
        self,
        connections: Sequence[Connection],
        endpoint: IStreamClientEndpoint,
        socketPath: str,
        clock: IReactorTime,
        debugLog: Logger,
        retryInterval: float = RETRY_INTERVAL,
    ) -> None:
        self.connections: dict[str, Connection] = {c.name: c for c in connections}
        self.endpoint = endpoint
        self.socketPath = socketPath
        self.clock = clock
        self.debugLog = debugLog
        self.retryInterval = retryInterval
        self.vici: ViciProtocol | None = None
        self.problem: str | None = None
        self.tunnelsDown: set[str] = set()
        self.errors: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self._attempts: dict[str, tuple[str, int]] = {}
        self._loaded: set[str] = set()
        self._timer: IDelayedCall | None = None
        self._busy: Deferred[None] | None = None
        self._attempted = False
        self._attemptWaiters: list[Deferred[None]] = []

    # -- lifecycle

    def startService(self) -> None:
        Service.startService(self)
        self._attempt()

    def firstAttempt(self) -> Deferred[None]:
        """
        @return: a L{Deferred} firing once the first attempt since start to
            load srst's crypto maps into charon has ended, whatever its
            outcome (loaded, refused, charon unreachable or gone, or the
            service stopped); at once when it has.  It never fails.
        """
        if self._attempted:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._attemptWaiters.append(waiter)
        return waiter

    def _attemptEnded(self) -> None:
        if self._attempted:
            return
        self._attempted = True
        waiters, self._attemptWaiters = self._attemptWaiters, []
        for waiter in waiters:
            waiter.callback(None)

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        self._cancelTimer()
        self._attemptEnded()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self._busy is not None:
            await self._busy
        vici, self.vici = self.vici, None
        if vici is None:
            return
        for name in sorted(self._loaded):
            await self._unload(vici, name)
        vici.transport.loseConnection()

    def _cancelTimer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _schedule(self) -> None:
        self._cancelTimer()
        if self.running:
            self._timer = self.clock.callLater(self.retryInterval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.vici is None:
            self._attempt()
        else:
            self._track(self._check())

    def _track(self, coroutine: Any) -> None:
        done: Deferred[None] = Deferred.fromCoroutine(coroutine)

        def finished(result: object) -> object:
            self._busy = None
            self._attemptEnded()
            self._schedule()
            if isinstance(result, Failure) and result.check(ViciError):
                return None  # charon went away: _lost says so and retries
            return result

        self._busy = done
        done.addBoth(finished).addErrback(lambda f: log.failure("IPsec: unexpected error", f))

    def _attempt(self) -> None:
        connecting = connectVici(self.endpoint, self.charonEvent, self._lost, self.clock)
        connecting.addCallbacks(self._connected, self._unreachable)

    def _unreachable(self, failure: Failure) -> None:
        reason = f"{connectReason(failure)} {CHARON_HINT}"
        if self.problem is None:
            log.warn(
                "IPsec: charon not reachable at {socket}: {reason}; srst goes on without IPsec "
                "and retries every {interval:g} s",
                socket=self.socketPath, reason=reason, interval=self.retryInterval)
        self.problem = f"charon not reachable at {self.socketPath}: {reason}"
        self._schedule()
        self._attemptEnded()

    def _connected(self, vici: ViciProtocol) -> None:
        if not self.running:
            vici.transport.loseConnection()
            return
        self.vici = vici
        if self.problem is not None:
            log.info("IPsec: charon reachable again at {socket}", socket=self.socketPath)
        self.problem = None
        self._loaded.clear()
        self._track(self._loadAll())

    def _lost(self, reason: Failure) -> None:
        if self.vici is None:
            return
        self.vici = None
        self._loaded.clear()
        self.problem = f"lost the VICI connection to charon at {self.socketPath}: {reason.getErrorMessage()}"
        log.warn("IPsec: {problem}; retrying every {interval:g} s", problem=self.problem,
                 interval=self.retryInterval)
        self._schedule()

    # -- loading

    async def _loadAll(self) -> None:
        vici = self.vici
        assert vici is not None
        for event in ("log", "ike-updown", "child-updown"):
            await vici.register(event)
        for connection in self.connections.values():
            await self._load(vici, connection)

    async def _load(self, vici: ViciProtocol, connection: Connection) -> None:
        try:
            await vici.request("load-shared", loadSharedMessage(connection))
            self._loaded.add(connection.name)
            await vici.request("load-conn", loadConnMessage(connection))
            await self._initiate(vici, connection)
        except ViciError as e:
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

    async def _unload(self, vici: ViciProtocol, name: str) -> None:
        self._loaded.discard(name)
        for command, message in (("unload-conn", {"name": name}), ("unload-shared", {"id": f"srst-{name}"})):
            try:
                await vici.request(command, message)
            except ViciError as e:
                log.warn("IPsec: charon did not {command} {name}: {reason}", command=command, name=name,
                         reason=str(e))

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
            if name in self._loaded:
                try:
                    await self._initiate(vici, connection)
                except ViciError as e:
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
        attempt = self._attempts.get(ike)
        if attempt is not None and attempt[0] == uniqueid and attempt[1] > rank:
            return  # charon's generic aftermath of a reason already kept
        self._attempts[ike] = (uniqueid, rank)
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
        self._attempts.pop(ike, None)
        if self.failures.pop(ike, None) is not None:
            log.info("IPsec: crypto map {map} {sequence} (peer {peer}): IPsec SA up", map=connection.mapName,
                     sequence=connection.sequence, peer=connection.remoteAddress)

    async def listSas(self) -> list[dict[str, Any]]:
        """
        @return: charon's C{list-sas} events (one dict per IKE_SA, keyed by
            its name), only those of srst's connections.
        @raise ViciError: when charon is not reachable.
        """
        vici = self.vici
        if vici is None:
            raise ViciError(self.problem or "not connected to charon")
        events, _ = await vici.streamedRequest("list-sas", "list-sa")
        return [sa for sa in events if any(name in self.connections for name in sa)]

    async def clear(self) -> None:
        """
        C{clear crypto sa}: as IOS, clear srst's IPsec SAs (phase 2), not
        the IKE SAs: terminate each CHILD_SA and initiate it again (over
        the same IKE_SA when it is up).
        """
        vici = self.vici
        if vici is None:
            raise ViciError(self.problem or "not connected to charon")
        for name in sorted(self._loaded):
            connection = self.connections[name]
            for child, _, _ in connection.children:
                try:
                    await vici.request("terminate", {"child": child})
                except ViciCommandFailed:
                    pass  # no such CHILD_SA up: nothing to clear
            await self._initiate(vici, connection)

    async def reconfigure(self, connections: Iterable[Connection]) -> None:
        """
        Load the difference after a config change: entries gone or changed
        have their IKE SA terminated (as IOS clears the SAs of a crypto map
        entry it no longer has: charon would keep them up after unloading
        their connection) and are unloaded, new or changed ones loaded and
        initiated; the rest is left alone (its SAs stay up).
        """
        new = {c.name: c for c in connections}
        old, self.connections = self.connections, new
        for name in set(old) - set(new):
            self.failures.pop(name, None)
            self._attempts.pop(name, None)
            self.errors.pop(name, None)
            self.tunnelsDown.discard(name)
        vici = self.vici
        if vici is None:
            return  # loaded as a whole on connecting
        for name, connection in old.items():
            if new.get(name) != connection and name in self._loaded:
                try:
                    await vici.request("terminate", {"ike": name, "timeout": "-1"})
                except ViciError:
                    pass  # no SA to terminate
                await self._unload(vici, name)
        for name, connection in new.items():
            if old.get(name) != connection:
                await self._load(vici, connection)
