"""
Two real strongSwan charons in two network namespaces joined by a veth
pair, for the IPsec tests (issue 18 item 4).

The router is namespace A (L{ROUTER_ADDRESS} on C{rtr0}), "CallManager"
namespace B (L{CALLMANAGER_ADDRESS} on C{ccm0}).  The pair is created
directly inside the namespaces (C{ip -n A link add rtr0 type veth peer
name ccm0 netns B}), so no interface of the root namespace is ever created,
renamed or addressed; the /30 exists only inside the two namespaces, so
tests running at the same time (each with its own namespaces) never clash.

What this machine taught (strongSwan 5.9.8, Debian packages):

  - The kernel may have no ESP xfrm type (C{ip xfrm state add ... proto
    esp} fails with "Requested type not found"), so the charons use the
    userspace C{kernel-libipsec} plugin: each creates a TUN device
    C{ipsec0} in its namespace, routes the protected traffic into it
    (table 220, rule C{not fwmark 0x42}) and does ESP itself.  Before 5.9.11
    libipsec cannot send raw ESP: it always encapsulates ESP in UDP on the
    IKE socket (port 4500), whether or not the connection sets C{encap =
    yes} (it does not here; charon then says "remote host is behind NAT"
    although there is no NAT), C{list-sas} shows the CHILD SA as
    C{TUNNEL-in-UDP} (C{encap: yes}), and tshark on the veth decodes the
    packets as C{ESP} inside UDP 4500 (C{-Y esp} matches, with the SA's
    SPIs; the plaintext never appears on the wire).
  - The traffic selectors are the two IKE peers themselves (the seed's
    C{access-list 116 permit ip host 10.1.1.22 host 10.1.1.13}): libipsec
    refuses that unless C{kernel-libipsec.allow_peer_ts = yes} (quick mode
    completes, then "can't install route for 10.213.0.1/32 ===
    10.213.0.2/32 out, conflicts with IKE traffic", "unable to install
    IPsec policies (SPD) in kernel"), and then charon's own IKE/NAT-T
    packets to the peer would be routed into the tunnel too, unless its
    sockets carry a firewall mark that the routing rule excludes:
    C{socket-default.fwmark = 0x42} and C{kernel-netlink.fwmark = !0x42}
    (with marks that do not match, no CHILD SA survives).
  - charon's pid file is compiled in (C{/var/run/charon.pid}, no setting
    moves it), and a second charon refuses to start while it exists ("charon
    already running").  Each charon therefore runs in a private mount
    namespace (C{unshare --mount}) with the test's own directory bound over
    C{/run}.  The VICI socket is C{charon.plugins.vici.socket} in the test's
    directory (a short C{mkdtemp} path: UNIX socket paths are limited to 108
    bytes).
  - The strongswan.conf written here loads an explicit plugin list
    (C{charon.load}), so nothing from C{/etc/strongswan.d} is read, and logs
    both to a file (C{charon.log} in the test's directory) and to stderr,
    which the test reads: readiness is the C{loaded plugins:} line (charon
    logs it after every plugin, the VICI socket included, is up), so no
    polling of the socket is needed.
  - IKEv1 with a wrong PSK is not "AUTHENTICATION_FAILED" as in IKEv2:
    main mode message 5 cannot be decrypted.  The responder logs "invalid
    ID_V1 payload length, decryption failed?" and answers with an
    C{N(PLD_MAL)} notify; the initiator logs "invalid HASH_V1 payload
    length, decryption failed?", retransmits and gives up ("establishing
    IKE_SA failed, peer not responding").  A mismatched ESP proposal fails
    quick mode only: the responder logs "no matching proposal found,
    sending NO_PROPOSAL_CHOSEN", the initiator "received NO_PROPOSAL_CHOSEN
    error notify", and the IKE SA stays ESTABLISHED (IOS: QM_IDLE without an
    IPsec SA).  A peer that is down costs C{retransmit_timeout} times the
    sum of C{retransmit_base} powers: with 0.5 s, 1.4 and two retries,
    about 2.2 s, then "giving up after 2 retransmits".

  - charon needs more than a handful of worker threads with these plugins:
    libipsec, kernel-netlink, the sockets and vici each keep one busy, and
    with C{charon.threads = 8} VICI connections were accepted but never
    answered.  The default (16) is kept.
  - Every child (charon, tshark, the echo sockets, a router) is started
    with C{ip netns exec}, which execs it, so the pid the test holds is the
    program's own and signals reach it; charon additionally runs under
    C{setpriv --pdeathsig KILL}, so a test run that is killed outright
    leaves no charon behind (its namespaces, C{srst-<pid>-<n>-a}/C{-b}, do
    stay then: C{ip netns delete} them).
  - tshark prints a packet only once libpcap hands it over (blocks, up to a
    second late), and packets still in the kernel's buffer when it is
    stopped are lost: L{Capture} prints each packet's addresses and
    protocol as it arrives and a test waits for the one it expects.

Running srst across the tunnel (L{tests.test_ipsec_tunnel.MgcpThroughTunnelTests}):
the router is C{ip netns exec A python -c "from twisted.scripts.twistd
import run; run()" -n --pidfile= srst --config router.yaml} (as
L{tests.routerhelpers.spawnRouter} runs it, with C{PYTHONPATH} the checkout
and the state directory as working directory) with C{mgcp.bind} on
L{ROUTER_ADDRESS} port 2427 and C{mgcp.call-agent} L{CALLMANAGER_ADDRESS}
port 2727; its other listeners stay on 127.0.0.1, which is the namespace's
own C{lo}.  The call agent is C{ip netns exec B python -c "from
srst.tools.ccm import main; main()" mgcp agent --listen 10.213.0.2:2727
--domain branch-router --line 81234=1/0/0}; it prints C{registered 81234 1
of 1 endpoints armed} once the gateway's RSIP, its AUEP and RQNT went
through the tunnel.  srst's own charon would be started the same way as
L{startCharon} does, with srst's VICI socket path in the strongswan.conf.

VICI is used through the C{vici} package (the one matching Debian's
strongSwan), whose calls block: each runs in the reactor's thread pool
(L{Charon.call}), on its own connection.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import socket
import textwrap
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.threads import deferToThread
from twisted.internet.utils import getProcessOutputAndValue

from tests.routerhelpers import bounded, stateDirectory, within
from tests.toolhelpers import requireFile, requireTool, unavailable

CHARON = "/usr/lib/ipsec/charon"

ROUTER_ADDRESS = "10.213.0.1"
"""The router's address, on C{rtr0} in namespace A."""

CALLMANAGER_ADDRESS = "10.213.0.2"
"""CallManager's address, on C{ccm0} in namespace B."""

ROUTER_INTERFACE = "rtr0"
CALLMANAGER_INTERFACE = "ccm0"

STRONGSWAN_CONF = """\
charon {{
  load = random nonce openssl aes sha1 sha2 hmac gmp kdf pem pkcs1 kernel-libipsec kernel-netlink socket-default vici
  retransmit_tries = 2
  retransmit_timeout = 0.5
  retransmit_base = 1.4
  retransmit_jitter = 0
  plugins {{
    vici {{
      socket = unix://{socket}
    }}
    kernel-libipsec {{
      allow_peer_ts = yes
    }}
    kernel-netlink {{
      fwmark = !0x42
    }}
    socket-default {{
      fwmark = 0x42
    }}
  }}
  filelog {{
    charonlog {{
      path = {log}
      time_format = %T
      default = 1
      ike = 2
      cfg = 2
      flush_line = yes
    }}
    stderr {{
      default = 1
      ike = 2
      cfg = 2
    }}
  }}
}}
"""
"""A charon's strongswan.conf; C{{socket}} and C{{log}} are in the test's directory."""

_counter = itertools.count()


def requireIpsec() -> None:
    """
    Skip (or fail under C{SRST_REQUIRE_TOOLS=1}) unless this process can
    create network namespaces and run charon (with its kernel-libipsec and
    vici plugins), ip and tshark, and the C{vici} package is installed.
    """
    requireTool("ip")
    requireTool("unshare")
    requireTool("tshark")
    requireFile(CHARON, "strongSwan's charon")
    requireFile("/dev/net/tun", "the TUN device kernel-libipsec needs")
    for plugin in ("kernel-libipsec", "vici"):
        requireFile(f"/usr/lib/ipsec/plugins/libstrongswan-{plugin}.so", f"strongSwan's {plugin} plugin")
    if importlib.util.find_spec("vici") is None:
        unavailable("the vici package (strongSwan's VICI client) is not installed")
    if os.geteuid() != 0:
        unavailable("network namespaces for the IPsec tests need root")


async def run(*argv: str) -> bytes:
    """
    Run a command to its end.

    @return: its output (stdout then stderr).
    @raise AssertionError: when it exits non-zero, with its output.
    """
    out, err, code = await getProcessOutputAndValue(argv[0], argv[1:], env=os.environ)
    if code != 0:
        raise AssertionError(f"{' '.join(argv)} exited {code}: {(out + err).decode('utf-8', 'replace')}")
    return out + err


class Watched(ProcessProtocol):
    """
    A child process whose output (stdout and stderr together) is kept and
    can be waited on.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.output = b""
        self.ended: Deferred[None] = Deferred()
        self._waiting: list[tuple[bytes, Callable[[bytes], bool], Deferred[None]]] = []

    def outReceived(self, data: bytes) -> None:
        self.output += data
        for entry in list(self._waiting):
            _, said, d = entry
            if said(self.output):
                self._waiting.remove(entry)
                d.callback(None)

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        waiting, self._waiting = self._waiting, []
        for marker, _, d in waiting:
            d.errback(AssertionError(f"{self.name} ended before saying {marker!r}:\n{self.text()}"))
        self.ended.callback(None)

    def _wait(self, marker: bytes, said: Callable[[bytes], bool]) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        if said(self.output):
            d.callback(None)
        elif self.ended.called:
            d.errback(AssertionError(f"{self.name} ended before saying {marker!r}:\n{self.text()}"))
        else:
            self._waiting.append((marker, said, d))
        return d

    def waitFor(self, marker: bytes) -> Deferred[None]:
        """
        @return: a L{Deferred} that fires once the output contains
            C{marker} (at once if it does already), or fails if the process
            ends first.
        """
        return self._wait(marker, lambda output: marker in output)

    def waitForMatch(self, pattern: bytes, start: int = 0) -> Deferred[None]:
        """
        @return: a L{Deferred} that fires once the output from offset
            C{start} on matches the regular expression C{pattern} (a line
            whose unique ids depend on charon's trap policies:
            C{rb"CHILD_SA rtp-1\{\d+\} established"}), or fails if the
            process ends first.
        """
        compiled = re.compile(pattern)
        return self._wait(pattern, lambda output: compiled.search(output, start) is not None)

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def signal(self, name: str) -> None:
        """
        Send signal C{name} unless the process has ended.
        """
        if not self.ended.called:
            self.transport.signalProcess(name)


def spawnIn(testCase: Any, namespace: str, argv: list[str], name: str, env: dict[str, str] | None = None,
            stopSignal: str = "TERM", path: str | None = None) -> Watched:
    """
    Run C{argv} in network namespace C{namespace} (C{ip netns exec}, which
    execs it: the child's pid is C{argv}'s own); at cleanup it gets
    C{stopSignal} and, if it has not ended within 5 s, C{KILL}, and the
    cleanup waits for its end.  C{path} is its working directory.
    """
    watched = Watched(name)
    ip = requireTool("ip")
    reactor.spawnProcess(watched, ip, [ip, "netns", "exec", namespace] + argv,
                         env=dict(os.environ, **(env or {})), path=path)

    def stop() -> Deferred[None]:
        if watched.ended.called:
            return watched.ended
        watched.signal(stopSignal)
        killer = reactor.callLater(5, watched.signal, "KILL")
        return watched.ended.addBoth(lambda result: killer.cancel() if killer.active() else None)

    testCase.addCleanup(stop)
    return watched


class Namespaces:
    """
    Two network namespaces joined by a veth pair (see the module docstring).
    """

    def __init__(self, router: str, callManager: str) -> None:
        self.router = router
        self.callManager = callManager


@bounded
async def makeNamespaces(testCase: Any) -> Namespaces:
    """
    Create the two namespaces and their veth pair, with C{lo} up in each;
    both are deleted at cleanup (which deletes the veth pair and every
    TUN device in them), after every process started later is stopped.
    """
    base = f"srst-{os.getpid()}-{next(_counter)}"
    pair = Namespaces(base + "-a", base + "-b")
    for name in (pair.router, pair.callManager):
        await run("ip", "netns", "add", name)
        testCase.addCleanup(run, "ip", "netns", "delete", name)
    await run("ip", "-n", pair.router, "link", "add", ROUTER_INTERFACE, "type", "veth",
              "peer", "name", CALLMANAGER_INTERFACE, "netns", pair.callManager)
    for name, interface, address in ((pair.router, ROUTER_INTERFACE, ROUTER_ADDRESS),
                                     (pair.callManager, CALLMANAGER_INTERFACE, CALLMANAGER_ADDRESS)):
        await run("ip", "-n", name, "address", "add", address + "/30", "dev", interface)
        await run("ip", "-n", name, "link", "set", "lo", "up")
        await run("ip", "-n", name, "link", "set", interface, "up")
    return pair


class Charon:
    """
    A running charon in a namespace, and blocking VICI calls on it run in
    the reactor's thread pool.
    """

    def __init__(self, namespace: str, directory: str, process: Watched) -> None:
        self.namespace = namespace
        self.directory = directory
        self.socketPath = os.path.join(directory, "vici.sock")
        self.logPath = os.path.join(directory, "charon.log")
        self.process = process

    def call(self, f: Callable[[Any], Any]) -> Deferred[Any]:
        """
        Run C{f(session)} in a thread with a new VICI session on this
        charon (closed afterwards).

        @return: a L{Deferred} firing with its result.
        """
        import vici

        def inThread() -> Any:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(self.socketPath)
                return f(vici.Session(s))

        return deferToThread(inThread)

    def stop(self) -> Deferred[None]:
        """
        Stop charon (SIGTERM).

        @return: a L{Deferred} firing once it has ended.
        """
        self.process.signal("TERM")
        return self.process.ended


@bounded
async def startCharon(testCase: Any, namespace: str) -> Charon:
    """
    Start a charon in C{namespace} with its own strongswan.conf, VICI
    socket, log file and C{/run} in a new temporary directory; it is stopped
    at cleanup.

    @return: the L{Charon}, once its VICI socket accepts.
    """
    directory = stateDirectory(testCase)
    run_ = os.path.join(directory, "run")
    os.mkdir(run_)
    conf = os.path.join(directory, "strongswan.conf")
    with open(conf, "w") as f:
        f.write(STRONGSWAN_CONF.format(socket=os.path.join(directory, "vici.sock"),
                                       log=os.path.join(directory, "charon.log")))
    process = spawnIn(
        testCase, namespace,
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount --bind "$0" /run && exec setpriv --pdeathsig KILL "$1"', run_, CHARON],
        f"charon in {namespace}", env={"STRONGSWAN_CONF": conf})
    await process.waitFor(b"loaded plugins: ")
    return Charon(namespace, directory, process)


async def startCharons(testCase: Any, pair: Namespaces) -> tuple[Charon, Charon]:
    """
    @return: a charon in each namespace of C{pair}, router first.
    """
    router, callManager = await gatherResults(
        [startCharon(testCase, pair.router), startCharon(testCase, pair.callManager)])
    return router, callManager


def childEstablished(name: str) -> bytes:
    """
    @return: the pattern of charon's "CHILD_SA C{name}{I{n}} established"
        line for L{Watched.waitForMatch}, whatever its unique id I{n} (with
        trap policies each trap is a CHILD_SA too and takes an id).
    """
    return re.escape(f"CHILD_SA {name}{{".encode()) + rb"\d+\} established"


def ikeConnection(local: str, remote: str, esp: str = "aes256-sha256", name: str = "cm") -> dict[str, Any]:
    """
    The seed's crypto map as a VICI connection: IKEv1 main mode, PSK,
    aes256-sha256-modp2048, an ESP tunnel between C{local} and C{remote}
    with the two hosts as traffic selectors (C{access-list 116 permit ip
    host local host remote}).  No C{encap}: libipsec encapsulates in UDP
    regardless.
    """
    return {name: {
        "version": "1",
        "aggressive": "no",
        "local_addrs": [local],
        "remote_addrs": [remote],
        "proposals": ["aes256-sha256-modp2048"],
        "local": {"auth": "psk", "id": local},
        "remote": {"auth": "psk", "id": remote},
        "children": {name: {
            "mode": "tunnel",
            "local_ts": [local + "/32"],
            "remote_ts": [remote + "/32"],
            "esp_proposals": [esp],
        }},
    }}


def loadTunnel(charon: Charon, local: str, remote: str, psk: str = "cisco123",
               esp: str = "aes256-sha256") -> Deferred[None]:
    """
    Load L{ikeConnection} and its pre-shared key into C{charon}.
    """

    def load(session: Any) -> None:
        session.load_conn(ikeConnection(local, remote, esp))
        session.load_shared({"id": "cm-psk", "type": "IKE", "data": psk, "owners": [local, remote]})

    return charon.call(load)


def initiate(charon: Charon, name: str = "cm") -> Deferred[tuple[bool, list[str]]]:
    """
    Initiate CHILD SA C{name} (and its IKE SA) and wait for the outcome.

    @return: a L{Deferred} firing with whether it succeeded and the log
        lines charon streamed while trying (C{"IKE received ..."}).
    """
    import vici

    def go(session: Any) -> tuple[bool, list[str]]:
        lines: list[str] = []
        try:
            for log in session.initiate({"child": name, "ike": name, "timeout": "15000", "loglevel": "1"}):
                lines.append(f"{log['group'].decode()} {log['msg'].decode()}")
        except vici.exception.CommandException as e:
            lines.append(str(e))
            return False, lines
        return True, lines

    return charon.call(go)


GATEWAY = f"""
voice-ports:
  1/0/0: {{signal: fxs-loop-start}}
dial-peers:
  - {{tag: 81234, type: pots, destination-pattern: "81234", port: 1/0/0, application: mgcpapp}}
mgcp:
  bind: {{host: {ROUTER_ADDRESS}, port: 2427}}
  call-agent: {{host: {CALLMANAGER_ADDRESS}, port: 2727}}
"""
"""srst's MGCP gateway on the router's veth address with one FXS port bound by an mgcpapp
dial-peer, its call agent srst-ccm on CallManager's (port 2727): the router.yaml lines
the tunnel tests add."""


def decoded(value: Any) -> Any:
    """
    @return: an answer of the vici package with its bytes values decoded to
        text, through dicts and lists.
    """
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {k: decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


def listSas(charon: Charon) -> Deferred[dict[str, Any]]:
    """
    @return: a L{Deferred} firing with C{list-sas}: IKE SA name to its
        attributes, values decoded to text.
    """

    def go(session: Any) -> dict[str, Any]:
        sas: dict[str, Any] = {}
        for sa in session.list_sas():
            sas.update(decoded(sa))
        return sas

    return charon.call(go)


ECHO_SERVER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], 0))
    print("ready", s.getsockname()[1], flush=True)
    data, peer = s.recvfrom(2048)
    print("got", data.decode(), "from", peer[0], flush=True)
    s.sendto(data, peer)
""")

ECHO_CLIENT = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    data, peer = s.recvfrom(2048)
    print("reply", data.decode(), "from", peer[0], flush=True)
""")


@bounded
async def udpEcho(testCase: Any, pair: Namespaces, payload: str) -> tuple[str, str]:
    """
    Send C{payload} in a UDP datagram from a socket in the router's
    namespace to an echo socket on CallManager's address, and wait for the
    echo.

    @return: what the echo server and the client printed.
    """
    import sys

    server = spawnIn(testCase, pair.callManager, [sys.executable, "-c", ECHO_SERVER, CALLMANAGER_ADDRESS],
                     "echo server")
    await server.waitFor(b"\n")
    port = server.text().split()[1]
    client = spawnIn(testCase, pair.router,
                     [sys.executable, "-c", ECHO_CLIENT, CALLMANAGER_ADDRESS, port, payload], "echo client")
    await client.ended
    await server.ended
    return server.text(), client.text()


class Capture:
    """
    tshark capturing on an interface of a namespace into a file, printing
    each packet's C{ip.src ip.dst protocol} as it goes (C{-P -l -T fields}),
    e.g. C{"10.213.0.2 10.213.0.1 ESP"}: libpcap hands packets
    to tshark in blocks (up to a second late), and packets still in the
    kernel's buffer when tshark is stopped are lost, so a test waits for the
    lines it expects (L{Watched.waitFor} on C{process}) before
    stopping the capture.
    """

    def __init__(self, process: Watched, path: str) -> None:
        self.process = process
        self.path = path

    async def stop(self) -> bytes:
        """
        Stop the capture.

        @return: the capture file's bytes.
        """
        self.process.signal("INT")
        await within(self.process.ended, "tshark to stop")
        with open(self.path, "rb") as f:
            return f.read()

    async def decode(self, *arguments: str) -> list[str]:
        """
        @return: C{tshark -n -r FILE arguments} as lines.
        """
        out = await run(requireTool("tshark"), "-n", "-r", self.path, *arguments)
        return [line for line in out.decode("utf-8", "replace").splitlines()
                if line and not line.startswith("Running as user")]


@bounded
async def capture(testCase: Any, namespace: str, interface: str) -> Capture:
    """
    Start tshark on C{interface} of C{namespace} (IPv4 only: no IPv6 router
    solicitations); stopped at cleanup if the test has not.

    @return: the L{Capture}, once tshark captures.
    """
    path = os.path.join(stateDirectory(testCase), "veth.pcapng")
    process = spawnIn(testCase, namespace, [requireTool("tshark"), "-n", "-l", "-P", "-T", "fields", "-E", "separator=/s",
                       "-e", "ip.src", "-e", "ip.dst", "-e", "_ws.col.Protocol", "-i", interface, "-f", "ip", "-w", path],
                      "tshark", stopSignal="INT")
    await process.waitFor(b"Capturing on")
    return Capture(process, path)

