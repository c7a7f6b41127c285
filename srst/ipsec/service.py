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

The lifecycle (connecting, loading, up with the periodic tunnel check,
retrying, stopping) is the IPsec machine's (L{srst.ipsec._machine}, over
the core in L{srst.ipsec._core}): the service feeds it inputs and shows
what its core knows.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.logger import Logger

from srst.ipsec._core import (
    CHARON_HINT,
    DEBUG_NAMESPACE,
    RETRY_INTERVAL,
    IpsecCore,
    connectReason,
    failureReason,
    isakmpDebugLine,
)
from srst.ipsec._machine import IpsecInputs, IpsecMachine, IpsecStatus
from srst.ipsec.connections import Connection
from srst.ipsec.vici import REQUEST_TIMEOUT


class IpsecService(Service):
    """
    Keeps srst's crypto map entries loaded in charon.

    What C{show} and C{--json} read is the machine core's (see
    L{IpsecCore}): L{connections}, L{problem}, L{tunnelsDown}, L{errors},
    L{failures}; L{status} is the machine's state.
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
        self._core = IpsecCore({c.name: c for c in connections}, endpoint, socketPath, clock, debugLog,
                               retryInterval)
        self._machine: IpsecInputs = IpsecMachine(self._core)

    # -- what show reads

    @property
    def connections(self) -> dict[str, Connection]:
        """What is configured, by charon name."""
        return self._core.connections

    @property
    def socketPath(self) -> str:
        return self._core.socketPath

    @property
    def retryInterval(self) -> float:
        return self._core.retryInterval

    @property
    def problem(self) -> str | None:
        """Why IPsec is not working now (charon unreachable), or L{None}."""
        return self._core.problem

    @property
    def tunnelsDown(self) -> set[str]:
        """The names of entries with no IKE SA at the last check."""
        return self._core.tunnelsDown

    @property
    def errors(self) -> dict[str, str]:
        """Per entry name, the last reason charon refused it."""
        return self._core.errors

    @property
    def failures(self) -> dict[str, str]:
        """Per entry name, why its SAs last failed or went down."""
        return self._core.failures

    def status(self) -> IpsecStatus:
        """@return: the machine's state."""
        return self._machine.status()

    # -- lifecycle

    def startService(self) -> None:
        Service.startService(self)
        self._machine.start()

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        stopped = self._core.whenStopped()
        self._machine.stop()
        return stopped

    def firstAttemptBound(self) -> float:
        """
        @return: seconds within which the first attempt ends even with a
            charon slow to answer: the VICI request timeout for the
            connection and for each request the attempt makes (a request
            unanswered within it drops the connection, ending the attempt).
        """
        return REQUEST_TIMEOUT * (1 + self._core.attemptRequests())

    def firstAttempt(self) -> Deferred[None]:
        """
        @return: a L{Deferred} firing once the first attempt to load the
            entries has finished: loaded (each entry loaded or refused),
            charon unreachable or lost, or the service stopped.
        """
        return self._core.whenFirstAttempted()

    # -- events and queries

    def charonEvent(self, name: str, message: dict[str, Any]) -> None:
        """One event from charon (see L{IpsecCore.charonEvent})."""
        self._core.charonEvent(name, message)

    async def listSas(self) -> list[dict[str, Any]]:
        """
        @return: charon's C{list-sas} events (one dict per IKE_SA, keyed by
            its name), only those of srst's connections.
        @raise ViciError: when charon is not reachable.
        """
        return await self._core.listSas()

    def clear(self) -> Deferred[None]:
        """
        C{clear crypto sa}: as IOS, clear srst's IPsec SAs (phase 2), not
        the IKE SAs: terminate each CHILD_SA and initiate it again (over
        the same IKE_SA when it is up).  Fails with L{ViciError} when
        charon is not connected.
        """
        done: Deferred[None] = Deferred()
        self._machine.clear(done)
        return done

    def reconfigure(self, connections: Iterable[Connection]) -> Deferred[None]:
        """
        Load the difference after a config change: entries gone or changed
        have their IKE SA terminated (as IOS clears the SAs of a crypto map
        entry it no longer has: charon would keep them up after unloading
        their connection) and are unloaded, new or changed ones loaded and
        initiated; the rest is left alone (its SAs stay up).  With charon
        not connected the new entries are loaded as a whole on connecting.
        """
        done: Deferred[None] = Deferred()
        self._machine.reconfigure(connections, done)
        return done


__all__ = ["CHARON_HINT", "DEBUG_NAMESPACE", "RETRY_INTERVAL", "IpsecService", "IpsecStatus", "connectReason",
           "failureReason", "isakmpDebugLine"]
