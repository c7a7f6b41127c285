# -*- test-case-name: tests.test_service,tests.test_service_reload -*-
"""
The composition root: C{makeService(config, reactor)} builds the router's
L{RouterService} from a validated L{RouterConfig}, and L{Options} is what
C{twistd srst} parses.

Start-up order: the admin socket and the plain listeners come up at once;
the PKI (certificate server, the router's identities, phone trustpoints) is
brought up off the reactor thread, and the TLS listeners that present an
identity start when it is enrolled (with C{grant: manual}, when the operator
grants the router's request).
"""

from __future__ import annotations

import datetime
import os
import signal
import socket
import sys
from functools import partial
from typing import IO, Any, Callable, Protocol

from attrs import evolve
from cryptography.hazmat.primitives.serialization import Encoding
from prometheus_client import CollectorRegistry
from twisted.application.service import MultiService, Service
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    DeferredLock,
    FirstError,
    TimeoutError,
    gatherResults,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.logger import FileLogObserver, Logger, eventAsJSON, formatEvent
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.web.client import Agent

from srst._files import ensureDirectory, makeDirectory
from srst.configreader import ConfigError, ConfigProblem
from srst.admin.commands import CommandResult, CommandTable, DebugRequest
from srst.calls.alias import Aliases
from srst.calls.commands import ControlledCallRow, registerCallCommands
from srst.calls.engine import CallEngine
from srst.calls.forward import ForwardSettings
from srst.calls.voicemail import Voicemail
from srst.admin.server import AdminFactory, AdminSocketError, AdminSocketService, adminSocketProblem
from srst.config import RouterConfig, load
from srst.iosconfig import ChainCertificate, renderRunningConfig
from srst.credentials import CredentialsFactory, registerCredentialsCommands
from srst.debug import DebugSwitches
from srst.ipsec.commands import registerIpsecCommands
from srst.ipsec.connections import Connection
from srst.ipsec.plan import connectionsFor
from srst.ipsec.service import DEBUG_NAMESPACE as IPSEC_DEBUG_NAMESPACE
from srst.ipsec.service import IpsecService
from srst.http.metrics import METRICS_PATH, MetricsResource
from srst.http.site import HttpSite
from srst.http.status import renderStatus
from srst.listening import ListenerError, TCPListenerService, isIPv6, raiseOpenFileLimit
from srst.mgcp.commands import registerMgcpCommands
from srst.mgcp.config import CcmManagerConfig, mgcpPortNames
from srst.mgcp.control import MgcpService
from srst.mgcp.download import GatewayConfigDownload
from srst.mgcp.gateway import DEBUG_NAMESPACE as MGCP_DEBUG_NAMESPACE
from srst.mgcp.gateway import MgcpGateway, mediaLegs
from srst.mgcp.transactions import RetransmissionPolicy
from srst.media.multicast import MulticastReactor
from srst.media.transport import StreamSnapshot
from srst.media.udpport import UDPReactor
from srst.metrics import RouterCollector
from srst.pki.ca import CertificateServer
from srst.pki.commands import PkiTimer, registerPkiCommands
from srst.pki.config import IdentityTrustpointConfig
from srst.pki.crl import CdpCrls, CdpPolicy, CrlChecker, CrlError, CrlService, loadCrlFile, registerCrlCommands
from srst.pki.errors import CertificateServerError, TrustpointError
from srst.pki.publication import CrlRenewal, CrlResource, crlPath
from srst.pki.scepcommands import registerScepCommands
from srst.pki.scepenroll import AutoEnroll, ScepEnrollment
from srst.pki.scepresource import SCEP_PATH, ScepResource
from srst.pki.scepserver import ChallengePasswords, ScepServer
from srst.pki.tls import ServerTLSOptions, serverTLSOptions
from srst.pki.trust import (
    CertificateFileError,
    IdentityTrustpoint,
    PhoneTrustpoint,
    loadIdentityCertificateFile,
    loadPrivateKeyFile,
    loadTrustpointCertificateFile,
)
from srst.ports.bridge import BridgePool
from srst.ports.commands import registerVoicePortCommands
from srst.ports.farmcommands import dspChannels, registerMediaFarmCommands
from srst.ports.moh import MohSource
from srst.ports.wav import WavError, readWav
from srst.policing.commands import registerPolicingCommands
from srst.policing.meter import ControlPlane
from srst.policing.stream import PolicingFactory
from srst.ports.service import VoicePortService
from srst.sccp.callcontrol import SccpCallControl
from srst.sccp.commands import registerOffhookCommand, registerSccpCommands
from srst.sccp.factory import SkinnyFactory
from srst.web.operator import OPERATOR_PATH, OperatorPage, streamLimit
from srst.sccp.limits import ConnectionCaps, ConnectionLimitFactory, ConnectionLimits, fitConnectionCaps
from srst.sccp.mediaconfig import ConferenceConfig, MohConfig
from srst.sccp.registry import EphoneRegistry, ReservationService


class RouterReactor(UDPReactor, MulticastReactor, Protocol):
    """
    What the router needs of its reactor, as one type: the clock and UDP
    (L{UDPReactor}: media legs, MGCP), multicast (L{MulticastReactor}:
    C{multicast-moh}), TCP listeners
    (L{twisted.internet.interfaces.IReactorTCP}), the admin socket
    (L{twisted.internet.interfaces.IReactorUNIX}), the thread pool for the
    PKI (L{twisted.internet.interfaces.IReactorThreads},
    L{twisted.internet.interfaces.IReactorFromThreads}) and C{stop}
    (L{twisted.internet.interfaces.IReactorCore}) when start-up fails.
    """

    def listenTCP(self, port: int, factory: IProtocolFactory, backlog: int = 50,
                  interface: str = "") -> IListeningPort:
        "See L{twisted.internet.interfaces.IReactorTCP.listenTCP}."

    def listenUNIX(self, address: str, factory: IProtocolFactory, backlog: int = 50, mode: int = 0o666,
                   wantPID: bool = False) -> IListeningPort:
        "See L{twisted.internet.interfaces.IReactorUNIX.listenUNIX}."

    def getThreadPool(self) -> ThreadPool:
        "See L{twisted.internet.interfaces.IReactorThreads.getThreadPool}."

    def callFromThread(self, callable: Callable[..., Any], *args: object, **kwargs: object) -> None:
        "See L{twisted.internet.interfaces.IReactorFromThreads.callFromThread}."

    def stop(self) -> None:
        "See L{twisted.internet.interfaces.IReactorCore.stop}."


def utcNow() -> datetime.datetime:
    """
    The wall clock for certificate validity (style.md section 2.3: only
    certificates use wall-clock time).
    """
    return datetime.datetime.now(datetime.timezone.utc)


class Options(usage.Options):
    """
    C{twistd srst} options.
    """

    optParameters = [
        ["config", "c", "etc/router.yaml", "the router configuration (YAML)"],
        ["log-format", None, "text",
         "text: twistd's log lines; json: one JSON object per line (twisted.logger's eventAsJSON plus "
         "the formatted message as \"text\"), for supervisord or a log shipper"],
    ]

    def postOptions(self) -> None:
        """
        Load and validate the configuration, including the certificate files
        it names; any problem becomes one L{usage.UsageError} with a line per
        problem.  C{--log-format json} makes twistd log through
        L{jsonLogObserver} on stdout (it needs twistd's C{-n}; a
        C{--logfile} other than C{-} is refused: the supervisor rotates).
        """
        if self["log-format"] not in LOG_FORMATS:
            raise usage.UsageError(f"--log-format: {self['log-format']!r} is not allowed; expected text or json")
        try:
            self.routerConfig = load(self["config"])
            preflight(self.routerConfig)
        except ConfigError as e:
            raise usage.UsageError(str(e))
        twistd = self.parent
        if self["log-format"] == "json" and twistd is not None:
            if twistd.get("logger") is not None:
                raise usage.UsageError("--log-format json and twistd's --logger both choose the log observer; "
                                       "give one of them")
            if not twistd.get("nodaemon") or twistd.get("logfile") not in (None, "", "-"):
                raise usage.UsageError("--log-format json writes to stdout: run twistd in the foreground "
                                       "(-n) with --logfile=- or no --logfile")
            # twistd builds its log observer from its own options once all are parsed: a
            # fully qualified name, resolved by its postOptions after ours.
            twistd["logger"] = f"{__name__}.stdoutJsonLog"


LOG_FORMATS = ("text", "json")
"""The values of C{twistd srst --log-format}."""


def jsonLogObserver(outFile: IO[str]) -> FileLogObserver:
    """
    Log one JSON object per line: the event as twisted.logger's
    C{eventAsJSON} writes it (C{log_namespace}, C{log_level}, C{log_time},
    C{log_format} and the event's fields; a field JSON cannot hold is
    C{{"unpersistable": true}}) with C{"text"}, the line a text log would
    show, added.  No record separator: line-oriented readers
    (supervisord, a log shipper's JSON-lines input) take it as it is.

    @param outFile: where the lines go.
    """
    return FileLogObserver(outFile, lambda event: eventAsJSON(dict(event, text=formatEvent(event))) + "\n")


def stdoutJsonLog() -> FileLogObserver:
    """
    twistd's C{--logger} for C{srst --log-format json}: L{jsonLogObserver}
    on stdout.
    """
    return jsonLogObserver(sys.stdout)


def preflight(config: RouterConfig) -> None:
    """
    Check that every certificate and key file the configuration names is
    usable, before anything starts or is written.

    @raise ConfigError: naming the YAML path and the file's problem.
    """
    problems = []
    for tp in config.pki.phoneTrustpoints:
        for index, path in enumerate(tp.certificates):
            try:
                loadTrustpointCertificateFile(path, tp.name)
            except CertificateFileError as e:
                problems.append(ConfigProblem(f"pki.trustpoints.{tp.name}.certificates[{index}]", path, e.reason))
    for tp in config.pki.phoneTrustpoints:
        if not tp.checksCrl or tp.crl is None or tp.crl.file is None or tp.crlOptional:
            continue
        try:
            loadCrlFile(tp.crl.file, PhoneTrustpoint.fromFiles(tp.name, tp.certificates).certificates)
        except CrlError as e:
            problems.append(ConfigProblem(f"pki.trustpoints.{tp.name}.crl.file", tp.crl.file, e.reason))
        except (CertificateFileError, TrustpointError):
            pass  # the certificates' own problem is listed above
    for identity in config.pki.identities:
        if identity.enrollment != "terminal":
            continue
        base = f"pki.trustpoints.{identity.name}.terminal"
        try:
            loadIdentityCertificateFile(identity.certificateFile, identity.name)
        except CertificateFileError as e:
            problems.append(ConfigProblem(f"{base}.certificate", identity.certificateFile, e.reason))
        try:
            loadPrivateKeyFile(identity.keyFile)
        except CertificateFileError as e:
            problems.append(ConfigProblem(f"{base}.key", identity.keyFile, e.reason))
        for index, path in enumerate(identity.chainFiles):
            try:
                loadTrustpointCertificateFile(path, identity.name)
            except CertificateFileError as e:
                problems.append(ConfigProblem(f"{base}.chain[{index}]", path, e.reason))
    problems.extend(_mohProblems(config))
    problems.extend(_stateProblems(config))
    problems.extend(_listenerProblems(config))
    if problems:
        raise ConfigError(config.source, problems)


def _mohProblems(config: RouterConfig) -> list[ConfigProblem]:
    """
    The music-on-hold file (C{call-manager-fallback.moh}) is a readable
    8 kHz mono WAV within the size and duration limits.
    """
    cmf = config.callManagerFallback
    path = cmf.moh.path if cmf is not None else None
    if path is None:
        return []
    try:
        readWav(path)
    except WavError as e:
        return [ConfigProblem("call-manager-fallback.moh", path, e.reason)]
    return []


def _stateProblems(config: RouterConfig) -> list[ConfigProblem]:
    """
    The state directory and the admin socket can be created: no file where
    a directory must be, no file, directory or live server where the socket
    goes.
    """
    problems = []
    for key, directory in [("state-dir", config.stateDir), ("admin.socket", os.path.dirname(config.admin.socket))]:
        existing = os.path.abspath(directory)
        while not os.path.exists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            what = "exists and is not a directory" if existing == os.path.abspath(directory) else \
                f"cannot be created: {existing} is not a directory"
            problems.append(ConfigProblem.because(key, f"{directory} {what}"))
    if not problems:
        reason = adminSocketProblem(config.admin.socket)
        if reason is not None:
            problems.append(ConfigProblem.because("admin.socket", f"{config.admin.socket} {reason}"))
    return problems


def _listeners(config: RouterConfig) -> list[tuple[str, int, str, int]]:
    """
    @return: C{(YAML path, socket type, address, port)} of every port the
        router listens on.
    """
    listeners = []
    if config.credentials is not None:
        listeners.append(("credentials.port", socket.SOCK_STREAM, config.credentials.ipSourceAddress,
                          config.credentials.port))
    if config.httpServer is not None:
        listeners.append(("http-server.port", socket.SOCK_STREAM, config.httpServer.address,
                          config.httpServer.port))
    cmf = config.callManagerFallback
    if cmf is not None:
        listeners.append(("call-manager-fallback.port", socket.SOCK_STREAM, cmf.ipSourceAddress, cmf.port))
        if cmf.trustpoint is not None:
            listeners.append(("call-manager-fallback.secure-port", socket.SOCK_STREAM, cmf.ipSourceAddress,
                              cmf.securePort))
    if config.mgcp is not None:
        host, port = config.mgcp.bind.address
        listeners.append(("mgcp.bind.port", socket.SOCK_DGRAM, host, port))
    return listeners


def _listenerProblems(config: RouterConfig) -> list[ConfigProblem]:
    """
    Every configured port can be bound now (as the reactor binds it: TCP
    with C{SO_REUSEADDR}), and no two listeners share one, so that a port
    in use stops start-up before anything is written rather than after the
    PKI is up.  (A port taken in between still stops start-up:
    L{RouterService.startService}.)
    """
    problems = []
    taken: dict[tuple[int, str, int], str] = {}
    for path, kind, address, port in _listeners(config):
        if port == 0:
            continue
        where = f"{address} port {port}"
        if (kind, address, port) in taken:
            problems.append(ConfigProblem.because(path, f"{where} is {taken[kind, address, port]} already"))
            continue
        taken[kind, address, port] = path
        probe = socket.socket(socket.AF_INET6 if isIPv6(address) else socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((address, port))
        except OSError as e:
            problems.append(ConfigProblem.because(path, f"cannot listen on {where}: {e.strerror}"))
        finally:
            probe.close()
    return problems


class StartupError(RuntimeError):
    """
    The router could not start: a port, the admin socket or the state
    directory could not be had.  Its text is the one line the operator sees.
    """

    def __init__(self, reason: str) -> None:
        RuntimeError.__init__(self, reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


DOWNLOAD_COMMANDS = ("show mgcp", "show ccm-manager")
"""What answers, while the C{ccm-manager config} download is under way, that it is."""

def ipsecHold(ipsec: IpsecService) -> float:
    """
    @return: seconds the MGCP gateway waits at most, with a C{crypto:}
        section, for IPsec's first load into charon: as long as a charon
        slow to answer (each VICI request within its timeout) can take to
        answer every request of that load (L{IpsecService.firstAttemptBound});
        a silent charon ends the attempt sooner, when its first request
        times out.
    """
    return ipsec.firstAttemptBound()

_STARTUP_ERRORS = (ListenerError, AdminSocketError, CertificateServerError, TrustpointError, OSError)
"""What stops start-up for a reason outside srst (a port or file in the way,
a damaged state directory): one line, no traceback."""


def makeService(config: RouterConfig, reactor: RouterReactor) -> "RouterService":
    """
    Build the router from its configuration.  The only caller that passes
    the global reactor is the twistd plugin.  The process's soft open-file
    limit is raised to its hard limit first (the SCCP connection caps are
    fitted to it).
    """
    openFileLimit = raiseOpenFileLimit(RouterService.log)
    runInThread = partial(deferToThreadPool, reactor, reactor.getThreadPool())
    return RouterService(config, reactor, now=utcNow, runInThread=runInThread,
                         callFromThread=reactor.callFromThread, openFileLimit=openFileLimit)


class MediaFarmService(Service):
    """
    The media the router terminates for itself, beside the voice ports'
    legs: music on hold (C{call-manager-fallback moh}) and the conference
    bridges (C{max-conferences}).  Started after the voice-port service,
    so stopped before it.

    @ivar holdMusic: the L{MohSource}, or L{None} without C{moh}.
    @ivar bridges: the L{BridgePool}.
    @ivar loaded: fires once the music-on-hold file is loaded (at once
        without one); the router is ready after it.
    """

    name = "media-farm"

    def __init__(self, holdMusic: MohSource | None, bridges: BridgePool) -> None:
        self.holdMusic = holdMusic
        self.bridges = bridges
        self.loaded: Deferred[None] = succeed(None)

    def startService(self) -> None:
        """
        Load the music-on-hold file off the reactor thread and start its
        checks (and the multicast stream).
        """
        Service.startService(self)
        if self.holdMusic is not None:
            self.loaded = Deferred.fromCoroutine(self.holdMusic.start())

    def stopService(self) -> Deferred[None]:
        """
        Release every bridge and close every music-on-hold listener.

        @return: fires once their RTP ports are back in the range.
        """
        Service.stopService(self)
        if not self.loaded.called:
            self.loaded.cancel()
        closing = [self.bridges.close()]
        if self.holdMusic is not None:
            closing.append(self.holdMusic.stop())
        return gatherResults(closing).addCallback(lambda ignored: None)


_RESTART_SECTIONS = (
    ("hostname", "hostname"), ("state-dir", "stateDir"), ("pki", "pki"), ("credentials", "credentials"),
    ("call-manager-fallback", "callManagerFallback"), ("control-plane", "controlPlane"), ("admin", "admin"),
    ("voice-ports", "voicePorts"), ("dial-peers", "dialPeers"), ("media", "media"), ("mgcp", "mgcp"),
    ("ccm-manager", "ccmManager"), ("http-server", "httpServer"),
)
"""The sections of router.yaml a reload does not apply (YAML key, L{RouterConfig}
attribute): a change to one takes effect at the next restart.  C{access-lists}
is not among them: the crypto maps use the new lists at once, and a
control-plane class map that matches a changed list is a change to
C{control-plane} (its policy holds the list)."""


def _entryName(connection: Connection) -> str:
    """
    @return: a crypto map entry as IOS names it: C{rtp 1}.
    """
    return f"{connection.mapName} {connection.sequence}"


class RouterService(MultiService):
    """
    Everything srst runs, as one service.

    @ivar config: the L{RouterConfig}.
    @ivar commands: the admin L{CommandTable}.
    @ivar debug: the L{DebugSwitches}.
    @ivar controlPlane: the control-plane policy runtime shared by every
        listener.
    @ivar certificateServer: the L{CertificateServer}, or C{None}.
    @ivar identities: the router's L{IdentityTrustpoint}s by name.
    @ivar phoneTrustpoints: the L{PhoneTrustpoint}s by name.
    @ivar httpSite: the L{HttpSite} of C{http-server:} (IOS C{ip http
        server}), or C{None}; packages serving over HTTP add their
        resources to it (the certificate server's CRL is at
        C{/crl/<server>.crl}).
    @ivar crlRenewal: re-signs the certificate server's CRL before it
        expires, or C{None} without a certificate server.
    @ivar credentialsFactory: the L{CredentialsFactory} once its identity
        is enrolled.
    """

    log = Logger()

    def __init__(
        self,
        config: RouterConfig,
        reactor: RouterReactor,
        *,
        now: Callable[[], datetime.datetime],
        runInThread: Callable[..., Deferred],
        callFromThread: Callable[..., Any],
        openFileLimit: int | None = None,
    ) -> None:
        """
        @param openFileLimit: the process's open-file limit, which the SCCP
            connection caps must leave room under (L{None}: no limit).
        """
        MultiService.__init__(self)
        self.setName("srst")
        self.config = config
        self.reactor = reactor
        self.now = now
        self.runInThread = runInThread
        self.commands = CommandTable()
        self.debug = DebugSwitches(clock=reactor)
        self.controlPlane = ControlPlane(config.controlPlane, reactor) if config.controlPlane else None
        self.pkiDirectory = os.path.join(config.stateDir, "pki")
        self.certificateServer = None
        server = config.pki.server
        if server is not None:
            self.certificateServer = CertificateServer(
                server.name,
                os.path.join(self.pkiDirectory, "server", server.name),
                server.issuerName,
                now=now,
                keyType=server.keypair.type,
                keyBits=server.keypair.bits if server.keypair.type == "rsa" else None,
                databaseLevel=server.databaseLevel,
                grant=server.grant,
                caLifetimeDays=server.caDays,
                certificateLifetimeDays=server.certificateDays,
                crlLifetimeHours=server.crlHours,
                cdpUrl=server.cdpUrl,
                callFromThread=callFromThread,
            )
        self.identities = {
            identity.name: IdentityTrustpoint(
                identity.name,
                os.path.join(self.pkiDirectory, "trustpoints", identity.name),
                subjectName=identity.subjectName,
                keyType=identity.keypair.type,
                keyBits=identity.keypair.bits if identity.keypair.type == "rsa" else None,
            )
            for identity in config.pki.identities
        }
        self.phoneTrustpoints = {
            tp.name: PhoneTrustpoint.fromFiles(tp.name, tp.certificates, now())
            for tp in config.pki.phoneTrustpoints
        }
        self.crlService: CrlService | None = None
        checkers = [
            CrlChecker(tp.name, self.phoneTrustpoints[tp.name].certificates, reactor,
                       file=tp.crl.file, url=tp.crl.url, agent=Agent(reactor) if tp.crl.url else None,
                       optional=tp.crlOptional,
                       cacheSeconds=tp.crl.cacheDeleteAfterMinutes * 60.0 if tp.crl.cacheDeleteAfterMinutes else None)
            for tp in config.pki.phoneTrustpoints if tp.checksCrl and tp.crl is not None
        ]
        # Certificates no configured CRL covers (all of them without crl:, those under an
        # intermediate CA otherwise) are checked against the CRL of their distribution point.
        policies = [
            CdpPolicy(tp.name, self.phoneTrustpoints[tp.name].certificates, tp.crlOptional)
            for tp in config.pki.phoneTrustpoints if tp.checksCrl
        ]
        cdp = CdpCrls(reactor, Agent(reactor)) if policies else None
        if checkers or policies:
            self.crlService = CrlService(checkers, policies, cdp)
            self.crlService.setName("crl")
            self.crlService.setServiceParent(self)
        self.credentialsFactory: CredentialsFactory | None = None
        # The TLS listeners' server sides, with the trustpoint each presents
        # (a renewed certificate is handed to them).
        self._tlsIdentities: list[tuple[str, ServerTLSOptions]] = []
        self._ready: Deferred | None = None
        self._readyWaiters: list[Deferred] = []
        self._outcome: Failure | RouterService | None = None
        self._stopping: Deferred[None] | None = None

        adminFactory = AdminFactory(self.commands, self.debug, reactor)
        self.admin = AdminSocketService(reactor, config.admin.socket, adminFactory)
        self.admin.setName("admin")
        self.admin.setServiceParent(self)
        registerPkiCommands(
            self.commands,
            self.certificateServer,
            list(self.identities.values()),
            list(self.phoneTrustpoints.values()),
            runInThread=runInThread,
            timers=self._pkiTimers,
        )
        registerCrlCommands(self.commands, checkers, cdp)
        if self.controlPlane is not None:
            registerPolicingCommands(self.commands, self.controlPlane)
        self.ipsec: IpsecService | None = None
        self._ipsecCommands: list[str] = []
        self._reloads = DeferredLock()
        if config.crypto is not None:
            self.ipsec = self._ipsecService(config, reactor)
        self.crlRenewal: CrlRenewal | None = None
        if self.certificateServer is not None:
            self.crlRenewal = CrlRenewal(self.certificateServer, reactor, now, runInThread)
            self.crlRenewal.setServiceParent(self)
        # The certificate server's SCEP face (RFC 8894): its one-time challenge passwords are an
        # admin command; its operations are served on the HTTP site, as IOS's ip http server does.
        self.scep: ScepServer | None = None
        if self.certificateServer is not None:
            self.scep = ScepServer(self.certificateServer, ChallengePasswords(now), now=now)
        registerScepCommands(self.commands, self.scep)
        self.httpSite: HttpSite | None = None
        if config.httpServer is not None:
            web = config.httpServer
            self.httpSite = HttpSite(reactor, maxBody=web.maxBody, maxHeaderBytes=web.maxHeaderBytes,
                                     idleTimeout=web.idle, maxConnections=web.maxConnections, life=web.life,
                                     requests=web.requests)
            if self.certificateServer is not None:
                self.httpSite.add(crlPath(self.certificateServer), CrlResource(self.certificateServer))
            if self.scep is not None:
                self.httpSite.add(SCEP_PATH.decode("ascii"),
                                  ScepResource(self.scep, runInThread, self.httpSite.logLimiter))
            self.httpSite.add(OPERATOR_PATH, OperatorPage(self.commands, reactor, web.operatorPassword,
                                                          base=OPERATOR_PATH,
                                                          maxStreams=streamLimit(web.maxConnections),
                                                          logLimiter=self.httpSite.logLimiter))
            listener = TCPListenerService("http", reactor, config.httpServer.address, config.httpServer.port,
                                          self.policed(self.httpSite.factory))
            listener.setServiceParent(self)

        def showHttpStatus() -> CommandResult:
            return CommandResult(*renderStatus(config.httpServer, self.httpSite))

        self.commands.add("show ip http server status", showHttpStatus, "HTTP server (ip http server) status")
        self.registry: EphoneRegistry | None = None
        self.callEngine: CallEngine | None = None
        self.callControl: SccpCallControl | None = None
        self.skinnyFactories: list[SkinnyFactory] = []
        self.connectionLimits: ConnectionLimits | None = None
        cmf = config.callManagerFallback
        if cmf is not None:
            caps = fitConnectionCaps(ConnectionCaps.fromConfig(cmf), openFileLimit, self.log)
            self.connectionLimits = ConnectionLimits(caps, reactor)
            self.registry = EphoneRegistry(cmf, config.stateDir, reactor, runInThread=runInThread)
            reservations = ReservationService(self.registry)
            reservations.setName("sccp-auto-assign")
            reservations.setServiceParent(self)
            self.callEngine = CallEngine(
                reactor,
                interdigit=cmf.timeouts.interdigit,
                ringing=cmf.timeouts.ringing,
                busy=cmf.timeouts.busy,
                secondaryDialtone=cmf.secondaryDialtone,
                forwards=ForwardSettings.fromConfig(cmf.callForward),
                transferSystem=cmf.transferSystem,
                transferPatterns=cmf.transferPatterns,
                blindTransferPatterns=cmf.blindTransferPatterns,
                channelsPerDn=cmf.channelsPerDn,
                dialplanPatterns=cmf.dialplanPatterns,
                aliases=Aliases(cmf.aliases, cmf.huntstop),
            )
            self.callControl = SccpCallControl(self.callEngine, self.registry)
            plain = self._skinnyFactory(secure=False)
            listener = TCPListenerService("sccp", reactor, cmf.ipSourceAddress, cmf.port,
                                          self.policed(ConnectionLimitFactory(plain, self.connectionLimits)))
            listener.setServiceParent(self)
            registerSccpCommands(self.commands, self.registry, self.skinnyFactories, self.connectionLimits,
                                 self.callEngine.dialplanPatterns)
            registerOffhookCommand(self.commands, self.callControl)
            registerCallCommands(self.commands, self.callEngine, self._mgcpCallRows)
        cmf = config.callManagerFallback
        voicemail = (Voicemail(cmf.voicemail, cmf.vmIntegration)
                     if cmf is not None and cmf.voicemail is not None else None)
        self.portService = VoicePortService(config, reactor, self.callEngine, self.controlPlane, self.debug,
                                            voicemail=voicemail, multicastReactor=reactor)
        self.portService.setServiceParent(self)
        self.voicePorts = self.portService.ports
        self.portEndpoints = self.portService.endpoints
        registerVoicePortCommands(self.commands, self.voicePorts, self._portMediaOf, runInThread=runInThread)
        self.mediaFarm: MediaFarmService | None = None
        if self.callEngine is not None and cmf is not None:
            self.mediaFarm = self._mediaFarm(cmf.moh, cmf.conference, runInThread)
        self.mgcpService: MgcpService | None = None
        self._heldForMgcp: frozenset[str] = frozenset()
        self.gatewayConfig: GatewayConfigDownload | None = None
        self._mgcpStarting: Deferred[None] | None = None
        if config.mgcp is not None:
            download = (config.ccmManager or CcmManagerConfig()).config
            if download is None:
                # With crypto configured its start waits for IPsec's first load (startService).
                self.mgcpService = self._mgcp(config, mgcpPortNames(config.dialPeers), start=self.ipsec is None)
            else:
                self.gatewayConfig = GatewayConfigDownload(
                    reactor, download, config.hostname, config.stateDir, config.mgcp.bind.host,
                    config.ccmManager, frozenset(port.name for port in config.voicePorts), runInThread)
                self._holdDuringDownload(mgcpPortNames(config.dialPeers))
        if config.credentials is not None:
            registerCredentialsCommands(
                self.commands,
                config.credentials.ipSourceAddress,
                config.credentials.port,
                config.credentials.trustpoint,
            )
        self.commands.add("show running-config", self._showRunningConfig,
                          help="the configuration as IOS commands (private keys never shown)")
        self.commands.add("configure reload", lambda: Deferred.fromCoroutine(self._configureReload()),
                          help=f"read {config.source} again and apply its crypto section (as SIGHUP does)")
        if self.httpSite is not None and config.httpServer is not None and config.httpServer.metrics:
            self.httpSite.add(METRICS_PATH, MetricsResource(self._metricsRegistry()))

    def _metricsRegistry(self) -> CollectorRegistry:
        """
        @return: the registry C{/metrics} serves: the router's collector
            (L{RouterCollector}) alone, without the client library's
            process and platform collectors (the router's counters are
            what the dashboard is for; the process is the supervisor's).
        """
        registry = CollectorRegistry()
        registry.register(RouterCollector(
            registry=self.registry, skinnyFactories=lambda: self.skinnyFactories, callEngine=self.callEngine,
            controlPlane=self.controlPlane, portNames=[port.name for port in self.voicePorts],
            mediaOf=self._portMediaOf, mgcp=lambda: self.mgcpService, credentials=lambda: self.credentialsFactory,
            certificateServer=self.certificateServer, farmStreams=self._farmStreams))
        return registry

    def _farmStreams(self) -> list[StreamSnapshot]:
        """
        @return: the media farm's open streams (music on hold, conference
            bridge ports), for C{/metrics}.
        """
        farm = self.mediaFarm
        if farm is None:
            return []
        return [snapshot for _, _, snapshot in dspChannels(farm.holdMusic, farm.bridges)]

    def _ipsecService(self, config: RouterConfig, reactor: RouterReactor) -> IpsecService:
        """
        The crypto maps of C{crypto:} as connections in the charon whose VICI
        socket the section names: a service beside the others that never
        holds start-up up (srst works without charon or with the tunnel down,
        and says so in the log and in C{show crypto ...}); broken algorithms
        allowed by C{allow-legacy-crypto} are warned about at every start.
        """
        crypto = config.crypto
        assert crypto is not None
        skipped: list[str] = []
        connections = connectionsFor(crypto, config.accessLists, skipped)
        for line in crypto.legacyChoices():
            self.log.warn("{line}; allowed by crypto.allow-legacy-crypto", line=line)
        for line in skipped:
            self.log.warn("{line}", line=line)
        service = IpsecService(connections, UNIXClientEndpoint(reactor, crypto.viciSocket), crypto.viciSocket,
                               reactor, self.debug.logger(IPSEC_DEBUG_NAMESPACE))
        service.setName("ipsec")
        service.setServiceParent(self)
        before = {command.pattern for command in self.commands.commands()}
        registerIpsecCommands(self.commands, service)
        self._ipsecCommands = [" ".join(command.pattern) for command in self.commands.commands()
                               if command.pattern not in before]
        return service

    # -- configuration reload

    def reloadConfiguration(self) -> Deferred[list[str]]:
        """
        Read the configuration file again (C{configure reload}, SIGHUP) and
        apply what can be applied while running: the C{crypto:} section
        (with the access lists its maps match).  A crypto map entry added,
        changed or removed is loaded, reloaded (its SAs terminated and
        negotiated again) or unloaded in charon; an unchanged one is left
        alone with its SAs; a C{crypto:} section added or removed starts or
        stops IPsec.  Any other section that differs is named in one log
        line and takes effect at the next restart.  One reload at a time.

        @return: a L{Deferred} firing with the lines saying what was done
            (each also logged).
        @raise ConfigError: (through the L{Deferred}) when the file no
            longer loads; every problem is logged and the running
            configuration is kept.
        """
        return self._reloads.run(lambda: Deferred.fromCoroutine(self._reload()))

    async def _reload(self) -> list[str]:
        source = self.config.source
        try:
            new = load(source)
        except ConfigError as e:
            for problem in e.problems:
                self.log.error("reload of {source} refused: {problem}", source=source, problem=str(problem))
            self.log.error("reload of {source} refused: the running configuration is kept", source=source)
            raise
        lines = await self._reloadCrypto(new)
        later = [name for name, attribute in _RESTART_SECTIONS
                 if getattr(self.config, attribute) != getattr(new, attribute)]
        self.config = evolve(self.config, crypto=new.crypto, accessLists=new.accessLists)
        if later:
            lines.append(f"changes to {', '.join(later)} take effect at the next restart")
        if not lines:
            lines.append("no changes to apply")
        for line in lines:
            self.log.info("reload of {source}: {line}", source=source, line=line)
        return lines

    async def _reloadCrypto(self, new: RouterConfig) -> list[str]:
        """
        Apply C{new}'s crypto section.

        @return: what was done, as lines (none when nothing changed).
        """
        old = self.config.crypto
        lines = []
        if old is not None and (new.crypto is None or new.crypto.viciSocket != old.viciSocket):
            service, self.ipsec = self.ipsec, None
            assert service is not None
            for pattern in self._ipsecCommands:
                self.commands.remove(pattern)
            self._ipsecCommands = []
            await maybeDeferred(service.disownServiceParent)
            lines.append(f"crypto: IPsec stopped (charon at {old.viciSocket}); what srst loaded is unloaded")
        if new.crypto is None:
            return lines
        if self.ipsec is None:
            self.ipsec = self._ipsecService(new, self.reactor)
            names = ", ".join(_entryName(c) for c in self.ipsec.connections.values()) or "none"
            lines.append(f"crypto: IPsec started with charon at {new.crypto.viciSocket}; crypto map entries: {names}")
            return lines
        skipped: list[str] = []
        connections = {c.name: c for c in connectionsFor(new.crypto, new.accessLists, skipped)}
        before = self.ipsec.connections
        changes = [
            ("added", [c for name, c in connections.items() if name not in before]),
            ("changed", [c for name, c in connections.items() if name in before and before[name] != c]),
            ("removed", [c for name, c in before.items() if name not in connections]),
        ]
        if not any(entries for _, entries in changes):
            return lines
        for line in new.crypto.legacyChoices() + skipped:
            self.log.warn("crypto: {line}", line=line)
        await self.ipsec.reconfigure(connections.values())
        unchanged = [c for name, c in connections.items() if before.get(name) == c]
        changes.append(("unchanged", unchanged))
        lines.append("crypto map entries " + "; ".join(
            f"{what}: {', '.join(_entryName(c) for c in entries)}" for what, entries in changes if entries))
        return lines

    async def _configureReload(self) -> CommandResult:
        """
        C{configure reload}: L{reloadConfiguration} for the operator.
        """
        source = self.config.source
        try:
            lines = await self.reloadConfiguration()
        except ConfigError as e:
            problems = [f"{e.source}: {problem}" for problem in e.problems]
            text = "\n".join([f"% {line}" for line in problems] + ["% the running configuration is kept"])
            return CommandResult(text, {"reloaded": False, "source": source, "problems": problems}, exitCode=1)
        return CommandResult("\n".join(lines), {"reloaded": True, "source": source, "lines": lines})

    def _trustpointChains(self) -> dict[str, list[ChainCertificate]]:
        """
        The certificates each trustpoint holds now, router certificate
        first, for the C{crypto pki certificate chain} blocks.
        """
        chains: dict[str, list[ChainCertificate]] = {}
        for name, identity in self.identities.items():
            if identity.certificate is not None:
                chains[name] = [ChainCertificate(identity.certificate.public_bytes(Encoding.DER), False)] + [
                    ChainCertificate(ca.public_bytes(Encoding.DER), True) for ca in identity.chain]
        server = self.certificateServer
        if server is not None and server.started:
            chains[server.name] = [ChainCertificate(server.caCertificate.public_bytes(Encoding.DER), True)]
        for name, phones in self.phoneTrustpoints.items():
            chains[name] = [ChainCertificate(der, True) for der in phones.derCertificates()]
        return chains

    def _showRunningConfig(self) -> CommandResult:
        text = renderRunningConfig(self.config, chains=self._trustpointChains())
        return CommandResult(text.rstrip("\n"), {"lines": text.splitlines()})

    def _mediaFarm(self, moh: MohConfig, conference: ConferenceConfig,
                   runInThread: Callable[..., Deferred]) -> MediaFarmService:
        """
        The router's own media ends, on the voice ports' media resources
        (the RTP port range and the pump exist with or without voice
        ports): music on hold when C{moh} is set, and the conference
        bridges (C{max-conferences} 0: every Confrn is refused); handed to
        the call engine.
        """
        media = self.portService.media
        holdMusic = None
        if moh.path is not None:
            holdMusic = MohSource(media, moh.path, moh.secureMode, multicast=moh.multicast,
                                  multicastReactor=self.reactor, runInThread=runInThread, clock=self.reactor)
        bridges = BridgePool(media, self.callEngine, maxConferences=conference.maxConferences,
                             secureAllowed=conference.secure)
        self.callEngine.useMediaServices(holdMusic, bridges)
        farm = MediaFarmService(holdMusic, bridges)
        farm.setServiceParent(self)
        registerMediaFarmCommands(self.commands, holdMusic, bridges, self.callEngine)
        return farm

    def _holdDuringDownload(self, names: frozenset[str]) -> None:
        """
        Until the C{ccm-manager config} download ends and the MGCP gateway
        is built, the mgcpapp ports are MGCP's as at any boot before the
        call agent answers the RSIP: out of local call control (no dial
        tone, no calls offered); and C{show mgcp} and C{show ccm-manager}
        say the download is under way.  L{_mgcp} ends both.
        """
        self._heldForMgcp = names
        self.portService.hold(names)
        source = self.gatewayConfig.source if self.gatewayConfig is not None else ""
        waiting = CommandResult(f"MGCP gateway configuration download from {source} in progress",
                                {"downloading": source})
        for pattern in DOWNLOAD_COMMANDS:
            self.commands.add(pattern, lambda: waiting, help="MGCP status (the gateway configuration is downloading)")

    def _portMediaOf(self, name: str) -> StreamSnapshot | None:
        """
        @return: the statistics of the voice port C{name}'s open media
            stream, under local call control or, failing that, of its
            newest MGCP connection; L{None} when it has neither.
        """
        snapshot = self.portService.mediaOf(name)
        if snapshot is None and self.mgcpService is not None:
            snapshot = self.mgcpService.gateway.mediaOf(name)
        return snapshot

    def _mgcpCallRows(self) -> list[ControlledCallRow]:
        """
        @return: C{show voice call status} rows of the connections under
            MGCP control (none without a gateway); a call kept on a port
            in fallback is still the call agent's, and listed.
        """
        if self.mgcpService is None:
            return []
        gateway = self.mgcpService.gateway
        rows = []
        for name in gateway.endpoints:
            for info in gateway.connectionsOf(name):
                rows.append(ControlledCallRow(
                    port=name, callId=info.callId, connectionId=info.connectionId,
                    codec="g711alaw" if info.payloadType == 8 else "g711ulaw", remote=info.remote,
                    mode=info.mode))
        return rows

    def _mgcp(self, config: RouterConfig, bound: frozenset[str], start: bool = True) -> MgcpService:
        """
        The MGCP gateway for the voice ports in C{bound} (those an
        C{application mgcpapp} dial-peer binds, or the gateway configuration
        file's endpoints; the others stay under local call control), with
        its fallback monitor and the C{show ccm-manager} and C{debug mgcp}
        commands; started with the router unless not C{start}
        (L{_startHeldMgcp} starts it).
        """
        mgcp = config.mgcp
        timers = mgcp.timers
        media = self.portService.media
        gateway = MgcpGateway(
            clock=self.reactor, domain=config.hostname,
            ports=[port for port in self.voicePorts if port.name in bound],
            newLeg=mediaLegs(media, mgcp),
            callAgent=mgcp.callAgent.address, restartDelay=mgcp.restartDelay,
            policy=RetransmissionPolicy.fromTimers(timers), version=mgcp.version, tdinit=timers.tdinit,
            tdmin=timers.tdmin, tdmax=timers.tdmax, packages=mgcp.packageCapabilities,
            debugLog=self.debug.logger(MGCP_DEBUG_NAMESPACE), validateSource=mgcp.validateSource,
            persistent=mgcp.persistent, dtmfRelay=mgcp.dtmfRelay,
            redundantHosts=[host.host for host in (config.ccmManager or CcmManagerConfig()).redundantHosts],
            musicOnHold=(config.ccmManager or CcmManagerConfig()).musicOnHold)
        service = MgcpService(self.reactor, gateway, self.portEndpoints,
                              config.ccmManager or CcmManagerConfig(), mgcp.bind.address, self.now,
                              self.controlPlane)
        if start:
            service.setServiceParent(self)
        for pattern in DOWNLOAD_COMMANDS:
            self.commands.remove(pattern)
        registerMgcpCommands(self.commands, service.monitor, config, self.now, gateway=gateway)
        # Held during the download but not an MGCP port after all (the
        # gateway file's endpoint list): local call control's again.
        self.portService.release(self._heldForMgcp - frozenset(gateway.endpoints))
        self._heldForMgcp = frozenset()
        self.commands.add("debug mgcp", lambda: DebugRequest("MGCP packets debugging is on", (MGCP_DEBUG_NAMESPACE,)),
                          help="stream MGCP packets, executions and endpoint events", streaming=True)
        return service

    async def _startConfiguredMgcp(self) -> None:
        """
        C{ccm-manager config}: download the gateway configuration (bounded
        by its timeout; the local copy or router.yaml alone when that
        fails), lay it over router.yaml and start the MGCP gateway with the
        result.
        """
        await self._ipsecFirstAttempt()
        config = self.config
        ccm = config.ccmManager or CcmManagerConfig()
        ports = mgcpPortNames(config.dialPeers)
        gatewayFile = await self.gatewayConfig.run()
        if gatewayFile is not None:
            mgcp, ccm, ports = gatewayFile.apply(config.mgcp, ccm, ports)
            config = evolve(config, mgcp=mgcp, ccmManager=ccm)
        if self.running:
            self.mgcpService = self._mgcp(config, ports)

    async def _startHeldMgcp(self) -> None:
        """
        Start the MGCP gateway built at construction once IPsec's first
        load into charon has ended (L{_ipsecFirstAttempt}).
        """
        await self._ipsecFirstAttempt()
        assert self.mgcpService is not None
        if self.running:
            self.mgcpService.setServiceParent(self)

    async def _ipsecFirstAttempt(self) -> None:
        """
        With a C{crypto:} section, wait for the IPsec service's first attempt
        to load the crypto maps into charon (loaded, refused or charon
        unreachable), for at most L{ipsecHold} seconds: MGCP (and the
        gateway configuration download) to the call agent must meet the
        crypto map's trap policy, not leave in clear before it is loaded.
        Without charon the attempt fails at once and MGCP starts.
        """
        ipsec = self.ipsec
        if ipsec is None:
            return
        hold = ipsecHold(ipsec)
        try:
            await ipsec.firstAttempt().addTimeout(hold, self.reactor)
        except TimeoutError:
            self.log.warn("MGCP: starting without IPsec: charon at {socket} did not finish loading the crypto "
                          "maps within {hold:g} s", socket=ipsec.socketPath, hold=hold)

    # -- listeners

    def policed(self, factory: IProtocolFactory, protocol: str = "tcp") -> IProtocolFactory:
        """
        Wrap a listener's factory in the control-plane policy, when there is one.
        """
        if self.controlPlane is None:
            return factory
        return PolicingFactory(factory, self.controlPlane, self.reactor, protocol=protocol)

    def _startCredentials(self) -> None:
        c = self.config.credentials
        identity = self.identities[c.trustpoint]
        options = serverTLSOptions(
            "credentials", identity.certificate, identity.privateKey, identity.chain, profile=c.tlsProfile
        )
        self._tlsIdentities.append((c.trustpoint, options))
        self.credentialsFactory = CredentialsFactory(
            identity.certificate.public_bytes(Encoding.DER),
            self.reactor,
            handshakeTimeout=c.handshakeTimeout,
            idleTimeout=c.idleTimeout,
            debugLog=self.debug.logger("srst.debug.credentials"),
        )
        tls = TLSMemoryBIOFactory(options, False, self.credentialsFactory, clock=self.reactor)
        listener = TCPListenerService("credentials", self.reactor, c.ipSourceAddress, c.port, self.policed(tls))
        listener.setServiceParent(self)

    def _skinnyFactory(self, secure: bool, tlsOptions: ServerTLSOptions | None = None) -> SkinnyFactory:
        factory = SkinnyFactory(
            self.config.callManagerFallback,
            self.reactor,
            self.registry,
            self.now,
            secure=secure,
            tlsOptions=tlsOptions,
            serverName=self.config.hostname,
            debug=self.debug,
            listener=self.callControl,
        )
        self.skinnyFactories.append(factory)
        return factory

    def _startSecureSccp(self) -> None:
        cmf = self.config.callManagerFallback
        identity = self.identities[cmf.trustpoint]
        anchors = []
        for name in cmf.phoneTrustpoints:
            if name in self.phoneTrustpoints:
                anchors.extend(self.phoneTrustpoints[name].certificates)
            else:
                anchors.append(self.certificateServer.caCertificate)
        options = serverTLSOptions(
            "sccp secure", identity.certificate, identity.privateKey, identity.chain,
            profile=cmf.tlsProfile, trustedCertificates=anchors,
            revocation=self.crlService.checks if self.crlService is not None else None,
        )
        self._tlsIdentities.append((cmf.trustpoint, options))
        factory = self._skinnyFactory(secure=True, tlsOptions=options)
        tls = TLSMemoryBIOFactory(options, False, factory, clock=self.reactor)
        limited = ConnectionLimitFactory(tls, self.connectionLimits)
        listener = TCPListenerService("sccp-secure", self.reactor, cmf.ipSourceAddress, cmf.securePort,
                                      self.policed(limited))
        listener.setServiceParent(self)

    def listener(self, name: str) -> TCPListenerService | None:
        """
        @return: the listener service called C{name} (C{"credentials"}, ...).
        """
        try:
            return self.getServiceNamed(name)
        except KeyError:
            return None

    def ports(self) -> dict[str, int | None]:
        """
        @return: the bound port of every TCP/UDP listener, by name.
        """
        listeners = [service for service in self if isinstance(service, TCPListenerService)]
        if self.mgcpService is not None:
            listeners.append(self.mgcpService.listener)
        return {service.name: service.boundPort() for service in listeners}

    # -- lifecycle

    def startService(self) -> None:
        """
        Start the admin socket, then bring up the PKI and the TLS listeners.

        @raise StartupError: if the state directory, the admin socket or a
            listener bound at once cannot be had; what had started is
            stopped again.  (A TLS listener that cannot bind later fails
            L{whenReady}, or, with nobody waiting, logs one line and stops
            the reactor.)
        """
        try:
            self._prepareStateDirectory()
        except OSError as e:
            raise StartupError(f"state-dir {self.config.stateDir}: cannot create {e.filename}: {e.strerror}") from e
        try:
            MultiService.startService(self)
        except (ListenerError, AdminSocketError) as e:
            self._stopStarted()
            raise StartupError(str(e)) from e
        bringUp = Deferred.fromCoroutine(self._bringUp())
        if self.gatewayConfig is not None:
            self._mgcpStarting = Deferred.fromCoroutine(self._startConfiguredMgcp())
        elif self.mgcpService is not None and self.mgcpService.parent is None:
            self._mgcpStarting = Deferred.fromCoroutine(self._startHeldMgcp())
        if self._mgcpStarting is not None:
            # The MGCP gateway waits for its configuration download and/or
            # IPsec's first load, side by side with the PKI: ready once both
            # are, failed (or cancelled) as soon as either is, and neither
            # outcome left unconsumed.
            both = gatherResults([bringUp, self._mgcpStarting], consumeErrors=True)
            bringUp = both.addErrback(lambda failure: failure.value.subFailure
                                      if failure.check(FirstError) else failure)
        self._ready = bringUp
        self._ready.addCallbacks(self._up, self._failed)

    def _stopStarted(self) -> None:
        """
        Stop the children that started before one failed (the admin socket
        file goes away with its listener).
        """
        stopping = [maybeDeferred(child.stopService) for child in reversed(list(self)) if child.running]
        self.running = False
        self._stopping = DeferredList(stopping, consumeErrors=True).addCallback(lambda _: None)

    def _reason(self, error: BaseException) -> str:
        """
        @return: the one line saying why start-up failed.
        """
        if isinstance(error, OSError) and error.filename is not None:
            return f"state-dir {self.config.stateDir}: {error.filename}: {error.strerror}"
        return str(error)

    def _prepareStateDirectory(self) -> None:
        """
        Create the state directory (mode 0700 whatever the umask; an
        existing one is the operator's and is left as it is) and the
        directories srst keeps its keys in (0700; tightened with a warning
        when an older run left them open to other users).
        """
        makeDirectory(self.config.stateDir)
        subdirectories = [self.pkiDirectory] if self.certificateServer or self.identities else []
        if self.certificateServer is not None:
            subdirectories.append(os.path.join(self.pkiDirectory, "server"))
        if self.identities:
            subdirectories.append(os.path.join(self.pkiDirectory, "trustpoints"))
        for directory in subdirectories:
            ensureDirectory(directory)

    async def _bringUp(self) -> None:
        if self.mediaFarm is not None:
            await self.mediaFarm.loaded
        server = self.certificateServer
        if server is not None:
            await self.runInThread(server.start)
            assert self.crlRenewal is not None
            self.crlRenewal.schedule()
        for config in self.config.pki.identities:
            await self._enroll(config)
        if self.config.credentials is not None and self.running:
            self._startCredentials()
        cmf = self.config.callManagerFallback
        if cmf is not None and cmf.trustpoint is not None and self.running:
            if self.crlService is not None:
                await self.crlService.firstAttempts
            self._startSecureSccp()

    async def _enroll(self, config: IdentityTrustpointConfig) -> None:
        identity = self.identities[config.name]
        if config.enrollment == "terminal":
            await self.runInThread(identity.installFromFiles, config.certificateFile, config.keyFile,
                                   list(config.chainFiles))
            return
        dnsNames, addresses = self._subjectAltNames()
        if config.enrollment == "url":
            await self._enrollOverScep(config, identity, dnsNames, addresses)
            return
        if not (await self.runInThread(identity.load)):
            if identity.pendingRequestId is None:
                self.log.info("trustpoint {name}: enrolling with certificate server {server}",
                              name=config.name, server=config.server)
        await identity.enroll(self.certificateServer, dnsNames, addresses, self.runInThread)
        self.log.info("trustpoint {name}: certificate serial {serial} from {issuer}, MD5 fingerprint {fp}",
                      name=config.name, serial=format(identity.certificate.serial_number, "X"),
                      issuer=identity.certificate.issuer.rfc4514_string(), fp=identity.fingerprint("md5"))

    async def _enrollOverScep(self, config: IdentityTrustpointConfig, identity: IdentityTrustpoint,
                              dnsNames: list[str], addresses: list[str]) -> None:
        assert config.url is not None
        enrollment = ScepEnrollment(config.name, config.url, config.fingerprint, config.password,
                                    agent=Agent(self.reactor), clock=self.reactor, now=self.now,
                                    configPath=f"pki.trustpoints.{config.name}.enrollment",
                                    pollInterval=config.retryPeriod * 60, pollLimit=config.retryCount)
        if not (await self.runInThread(identity.load)):
            self.log.info("trustpoint {name}: enrolling over SCEP with {url}", name=config.name, url=config.url)
            await enrollment.enroll(identity, dnsNames, self.runInThread, addresses)
        assert identity.certificate is not None
        self.log.info("trustpoint {name}: certificate serial {serial} from {issuer}, MD5 fingerprint {fp}",
                      name=config.name, serial=format(identity.certificate.serial_number, "X"),
                      issuer=identity.certificate.issuer.rfc4514_string(), fp=identity.fingerprint("md5"))
        if config.autoEnroll is not None and self.running:
            renewal = AutoEnroll(enrollment, identity, config.autoEnroll, dnsNames=dnsNames, ipAddresses=addresses,
                                 runInThread=self.runInThread, renewed=lambda: self._renewed(config.name))
            renewal.setServiceParent(self)
            renewal.schedule()

    def _pkiTimers(self) -> list[PkiTimer]:
        """
        The PKI timers armed now, for C{show crypto pki timers}: each phone
        trustpoint's CRL refresh, each auto-enroll renewal, the certificate
        server's CRL re-signing and its CA certificate's expiry.
        """
        now = self.reactor.seconds()
        timers = []
        if self.crlService is not None:
            for checker in self.crlService.checks.checkers:
                if checker.nextRefresh is not None:
                    timers.append(PkiTimer("PKI", f"CRL UPDATE {checker.trustpoint}", checker.nextRefresh - now))
        for service in self:
            if isinstance(service, AutoEnroll) and service.scheduled is not None:
                timers.append(PkiTimer("PKI", f"RENEW {service.identity.name}", service.scheduled - now))
        if self.crlRenewal is not None and self.crlRenewal.scheduled is not None:
            timers.append(PkiTimer("CS", "CS CRL UPDATE", self.crlRenewal.scheduled - now))
        if self.certificateServer is not None and self.certificateServer.started:
            left = self.certificateServer.caCertificate.not_valid_after_utc - self.now()
            timers.append(PkiTimer("CS", "CS CERT EXPIRE", left.total_seconds()))
        return timers

    def _renewed(self, name: str) -> None:
        """
        Trustpoint C{name} has a renewed certificate: the TLS listeners
        presenting it present the new one from their next handshake on, and
        the credentials service answers it.
        """
        identity = self.identities[name]
        assert identity.certificate is not None and identity.privateKey is not None
        for trustpoint, options in self._tlsIdentities:
            if trustpoint == name:
                options.useIdentity(identity.certificate, identity.privateKey)
        if self.credentialsFactory is not None and self.config.credentials.trustpoint == name:
            self.credentialsFactory.certificate = identity.certificate.public_bytes(Encoding.DER)

    def _subjectAltNames(self) -> tuple[list[str], list[str]]:
        addresses = []
        for section in (self.config.credentials, self.config.callManagerFallback):
            if section is not None and section.ipSourceAddress not in addresses:
                addresses.append(section.ipSourceAddress)
        return [self.config.hostname], addresses

    def _up(self, _: None) -> None:
        self.log.info("srst {hostname} ready: {ports}", hostname=self.config.hostname, ports=self.ports())
        self._outcome = self
        waiters, self._readyWaiters = self._readyWaiters, []
        for d in waiters:
            d.callback(self)

    def _failed(self, failure: Failure) -> None:
        self._outcome = failure
        waiters, self._readyWaiters = self._readyWaiters, []
        for d in waiters:
            d.errback(failure)
        if failure.check(CancelledError):
            return
        if not waiters:
            if failure.check(*_STARTUP_ERRORS):
                self.log.critical("srst could not start: {reason}", reason=self._reason(failure.value))
            else:
                self.log.failure("srst could not start", failure)
            if self.running:
                self.reactor.stop()

    @property
    def startFailed(self) -> bool:
        """
        Whether start-up failed (not merely cancelled by a stop).
        """
        outcome = self._outcome
        return isinstance(outcome, Failure) and not outcome.check(CancelledError)

    def whenReady(self) -> Deferred:
        """
        @return: a L{Deferred} firing with this service once every listener
            is up (failing if start-up failed).
        """
        if isinstance(self._outcome, Failure):
            return Deferred.fromFailure(self._outcome)
        if self._outcome is not None:
            return succeed(self)
        d: Deferred = Deferred()
        self._readyWaiters.append(d)
        return d

    def stopService(self) -> Deferred:
        """
        Stop every listener and cancel a start-up still in progress (after
        a failed start, wait for what had started to stop).
        """
        if self._ready is not None and not self._ready.called:
            self._ready.cancel()
        if self._mgcpStarting is not None and not self._mgcpStarting.called:
            self._mgcpStarting.cancel()
        if not self.running and self._stopping is not None:
            return self._stopping
        return maybeDeferred(MultiService.stopService, self)


class ExitOnStartupError(MultiService):
    """
    What C{twistd srst} runs: the L{RouterService} as its one child, with a
    L{StartupError} turned into one logged line and exit status 1 (as twistd
    does itself when it cannot drop privileges), where twistd would print a
    traceback for an exception raised while starting.  A start-up that
    fails once the reactor runs (an enrollment, a listener started late)
    stops the reactor; L{exitStatus} is then 1, and the twistd plugin makes
    it the process's exit status (L{exitOnFailedStart}), so a supervisor
    does not take the stop for a normal exit.

    @ivar router: the L{RouterService}.
    """

    log = Logger()

    def __init__(self, router: RouterService) -> None:
        MultiService.__init__(self)
        self.router = router
        router.setServiceParent(self)

    def startService(self) -> None:
        """
        Start the router.

        @raise SystemExit: with status 1, once the reason is logged, if the
            router could not start.
        """
        try:
            MultiService.startService(self)
        except StartupError as e:
            self.running = False
            self.log.critical("srst could not start: {reason}", reason=e.reason)
            raise SystemExit(1) from e

    @property
    def exitStatus(self) -> int:
        """
        The process's exit status as things stand: 1 if the router's
        start-up failed, else 0.
        """
        return 1 if self.router.startFailed else 0


class ReloadOnHangup(Service):
    """
    SIGHUP (C{kill -HUP}, C{supervisorctl signal HUP srst}) reloads the
    router's configuration (L{RouterService.reloadConfiguration}), as it
    does for most UNIX daemons; without this a SIGHUP ends the process.
    The handler is installed while the service runs, and only by the twistd
    plugin (never in a test process); twistd installs it in
    C{privilegedStartService}, before the router starts, so that a SIGHUP
    sent once the router says it is ready never finds the default action
    still in place.  The reload itself runs on the
    reactor: the handler only hands it over with C{callFromThread}, as
    twistd's own SIGUSR1 log rotation does, which also wakes the reactor.
    """

    log = Logger()

    def __init__(self, router: RouterService, reactor: IReactorFromThreads) -> None:
        self.router = router
        self.reactor = reactor
        self._previous: Any = None

    def privilegedStartService(self) -> None:
        Service.privilegedStartService(self)
        self._install()

    def startService(self) -> None:
        Service.startService(self)
        self._install()

    def _install(self) -> None:
        if self._previous is None:
            self._previous = signal.signal(signal.SIGHUP, self.hangup)

    def stopService(self) -> None:
        Service.stopService(self)
        if self._previous is not None:
            signal.signal(signal.SIGHUP, self._previous)
            self._previous = None

    def hangup(self, signum: int, frame: object) -> None:
        """
        The SIGHUP handler: L{reload} on the reactor thread.
        """
        self.reactor.callFromThread(self.reload)

    def reload(self) -> Deferred[None]:
        """
        Reload the router's configuration; a file that does not load is
        logged by the router, which keeps running as it was.
        """
        self.log.info("SIGHUP: reloading {source}", source=self.router.config.source)
        reloading = self.router.reloadConfiguration()
        reloading.addCallback(lambda lines: None)
        reloading.addErrback(lambda failure: failure.trap(ConfigError) and None)
        reloading.addErrback(lambda failure: self.log.failure("SIGHUP: reload failed", failure))
        return reloading


def exitOnFailedStart(service: ExitOnStartupError) -> None:
    """
    At interpreter exit (C{atexit}, once twistd has stopped the reactor,
    removed its pidfile and stopped logging): exit with C{service}'s
    L{ExitOnStartupError.exitStatus} when it is not 0.  twistd itself
    always exits 0 after its reactor stops.
    """
    status = service.exitStatus
    if status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
