"""
Tests for L{srst.mgcp.config}: the C{mgcp:} and C{ccm-manager:} sections of
router.yaml, read into L{srst.config.RouterConfig}.
"""

import os

import attrs
from twisted.trial.unittest import SynchronousTestCase

from srst.config import load, loadString
from srst.configreader import ConfigError
from srst.media import config as mediaConfig
from srst.media.config import MediaConfig
from srst.mgcp import config
from srst.mgcp.config import (
    DEFAULT_PACKAGES,
    CcmManagerConfig,
    ConfigDownload,
    HostPort,
    MgcpConfig,
    MgcpTimers,
    Switchback,
    SwitchbackMode,
    mgcpPortNames,
    parseSwitchback,
)
from tests.test_config import MINIMAL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


MGCP = """
mgcp:
  call-agent: {host: 127.0.0.2}
"""


def problemsOf(test, text):
    """
    Load C{text}, which must fail, and return its problem lines.
    """
    error = test.assertRaises(ConfigError, loadString, text, "router.yaml")
    return str(error).splitlines()


class MgcpConfigTests(SynchronousTestCase):
    """
    The C{mgcp:} section.
    """

    def test_absent(self):
        """
        Without C{mgcp:} there is no MGCP gateway and no ccm-manager.
        """
        c = loadString(MINIMAL)
        self.assertIsNone(c.mgcp)
        self.assertIsNone(c.ccmManager)

    def test_defaults(self):
        """
        Only the call agent's host is required; everything else has the
        Cisco defaults of mgcp.md 5.1 and the seed.
        """
        m = loadString(MINIMAL + MGCP).mgcp
        self.assertEqual(m, MgcpConfig(callAgent=HostPort("127.0.0.2", 2427)))
        self.assertEqual(m.bind, HostPort("127.0.0.1", 2427))
        self.assertEqual((m.version, m.dtmfRelay, m.sdp), ("0.1", "out-of-band", "simple"))
        self.assertEqual((m.rtpUnreachableTimeoutMs, m.rtpUnreachableAction), (1000, "notify"))
        self.assertEqual(m.restartDelay, 0)
        self.assertEqual(m.packageCapabilities, DEFAULT_PACKAGES)
        self.assertEqual(m.timers, MgcpTimers(500, 4000, 5, 7, 20, 30, 15, 15, 600))

    def test_allValues(self):
        """
        Every key is read into the frozen value.
        """
        c = loadString(MINIMAL + """
mgcp:
  bind: {host: 127.0.0.2, port: 0}
  call-agent: {host: 127.0.0.1, port: 2727, version: 1.0}
  dtmf-relay: none
  sdp: full
  rtp-unreachable: {timeout-ms: 2000, action: notify}
  restart-delay: 30
  package-capabilities: [sst, R, L, D]
  timers: {request-timeout-ms: 200, request-timeout-max-ms: 2000, max1-retries: 3, max2-retries: 4,
           tsmax: 10, thist: 20, tdinit: 5, tdmin: 6, tdmax: 300}
""")
        self.assertEqual(c.mgcp, MgcpConfig(
            callAgent=HostPort("127.0.0.1", 2727), bind=HostPort("127.0.0.2", 0), version="1.0",
            dtmfRelay="none", sdp="full", rtpUnreachableTimeoutMs=2000, rtpUnreachableAction="notify",
            restartDelay=30, packageCapabilities=("L", "D", "R", "SST"),
            timers=MgcpTimers(200, 2000, 3, 4, 10, 20, 5, 6, 300)))
        self.assertEqual(c.mgcp.callAgent.address, ("127.0.0.1", 2727))

    def test_persistent(self):
        """
        C{mgcp: persistent} (IOS C{mgcp persistent offhook|onhook|hookflash})
        defaults to IOS's C{offhook} alone; a list names the events, kept in
        C{show mgcp} order; an empty list makes none persistent.
        """
        base = MINIMAL + "mgcp:\n  call-agent: {host: 127.0.0.2}\n"
        self.assertEqual(loadString(base).mgcp.persistent, ("offhook",))
        self.assertEqual(loadString(base + "  persistent: [onhook, OffHook, hookflash]\n").mgcp.persistent,
                         ("hookflash", "offhook", "onhook"))
        self.assertEqual(loadString(base + "  persistent: []\n").mgcp.persistent, ())

    def test_persistentProblems(self):
        """
        An unknown event, a repeated one or a value that is no list is a
        problem naming its path.
        """
        base = MINIMAL + "mgcp:\n  call-agent: {host: 127.0.0.2}\n"
        text = "\n".join(problemsOf(self, base + "  persistent: [onhook, ringing, onhook]\n"))
        self.assertIn("router.yaml: mgcp.persistent[1]", text)
        self.assertIn("expected an event name: hookflash, offhook, onhook", text)
        self.assertIn("expected each event at most once", text)
        text = "\n".join(problemsOf(self, base + "  persistent: onhook\n"))
        self.assertIn("router.yaml: mgcp.persistent", text)
        self.assertIn("expected a list", text)

    def test_validateSource(self):
        """
        C{mgcp: validate: call-agent-source-ipaddr} (C{mgcp validate
        call-agent source-ipaddr}) is on unless turned off; a value that is
        no boolean, or another key under C{validate:}, is a problem naming
        its path.
        """
        base = MINIMAL + MGCP
        self.assertTrue(loadString(base).mgcp.validateSource)
        self.assertTrue(loadString(base + "  validate: {call-agent-source-ipaddr: true}\n").mgcp.validateSource)
        self.assertFalse(loadString(base + "  validate: {call-agent-source-ipaddr: false}\n").mgcp.validateSource)
        lines = problemsOf(self, base + "  validate: {call-agent-source-ipaddr: maybe, domain-name: true}\n")
        text = "\n".join(lines)
        self.assertIn("router.yaml: mgcp.validate.call-agent-source-ipaddr: 'maybe' is not allowed", text)
        self.assertIn("router.yaml: mgcp.validate.domain-name: True is not allowed; unknown key", text)

    def test_mgcpUnreachableDisabled(self):
        """
        C{mgcp: rtp-unreachable: null} (no mgcp rtp unreachable timeout)
        turns the MGCP check off; absent, it is 1000 ms.
        """
        base = MINIMAL + "mgcp:\n  call-agent: {host: 127.0.0.2}\n"
        self.assertEqual(loadString(base).mgcp.rtpUnreachableTimeoutMs, 1000)
        self.assertIsNone(loadString(base + "  rtp-unreachable: null\n").mgcp.rtpUnreachableTimeoutMs)

    def test_mgcpUnreachableSilence(self):
        """
        C{rtp-unreachable.silence-timeout-ms} (the silence timer, no IOS
        command) is off by default and with C{null}; a value outside
        1000-600000 ms is refused naming its path.
        """
        base = MINIMAL + "mgcp:\n  call-agent: {host: 127.0.0.2}\n"
        self.assertIsNone(loadString(base).mgcp.rtpUnreachableSilenceMs)
        self.assertIsNone(loadString(base + "  rtp-unreachable: {silence-timeout-ms: null}\n")
                          .mgcp.rtpUnreachableSilenceMs)
        both = loadString(base + "  rtp-unreachable: {timeout-ms: 2000, silence-timeout-ms: 30000}\n").mgcp
        self.assertEqual((both.rtpUnreachableTimeoutMs, both.rtpUnreachableSilenceMs), (2000, 30000))
        self.assertIsNone(loadString(base + "  rtp-unreachable: null\n").mgcp.rtpUnreachableSilenceMs)
        [line] = problemsOf(self, base + "  rtp-unreachable: {silence-timeout-ms: 500}\n")
        self.assertIn("router.yaml: mgcp.rtp-unreachable.silence-timeout-ms: 500 is not allowed; "
                      "expected an integer from 1000 to 600000", line)

    def test_frozen(self):
        """
        The MGCP configuration values cannot be changed.
        """
        m = loadString(MINIMAL + MGCP).mgcp
        self.assertRaises(attrs.exceptions.FrozenInstanceError, setattr, m, "sdp", "full")
        self.assertRaises(attrs.exceptions.FrozenInstanceError, setattr, m.timers, "tsmax", 1)

    def test_callAgentRequired(self):
        """
        An C{mgcp:} without a call agent host names the missing key.
        """
        [line] = problemsOf(self, MINIMAL + "mgcp: {sdp: simple}\n")
        self.assertIn("mgcp.call-agent.host: missing; required", line)

    def test_problems(self):
        """
        Bad values everywhere in the section are all reported, each with
        its YAML path and what is allowed.
        """
        lines = problemsOf(self, MINIMAL + """
mgcp:
  bind: {host: localhost}
  call-agent: {host: 127.0.0.1, port: 99999, version: "2.0", colour: red}
  dtmf-relay: in-band
  sdp: fancy
  rtp-unreachable: {timeout-ms: 10, action: drop}
  restart-delay: 601
  package-capabilities: [L, FXR, L]
  timers: {max1-retries: 2, max2-retries: 31, tsmax: 0, thist: 0, tdinit: 31, tdmin: 0, tdmax: 100,
           request-timeout-ms: 0, request-timeout-max-ms: 0, t-foo: 1}
""")
        text = "\n".join(lines)
        for path in ["mgcp.bind.host", "mgcp.call-agent.port", "mgcp.call-agent.version",
                     "mgcp.call-agent.colour", "mgcp.dtmf-relay", "mgcp.sdp",
                     "mgcp.rtp-unreachable.timeout-ms", "mgcp.rtp-unreachable.action",
                     "mgcp.restart-delay", "mgcp.package-capabilities[1]", "mgcp.package-capabilities:",
                     "mgcp.timers.max1-retries", "mgcp.timers.max2-retries", "mgcp.timers.tsmax",
                     "mgcp.timers.thist", "mgcp.timers.tdinit", "mgcp.timers.tdmin", "mgcp.timers.tdmax",
                     "mgcp.timers.request-timeout-ms", "mgcp.timers.request-timeout-max-ms",
                     "mgcp.timers.t-foo"]:
            self.assertIn("router.yaml: " + path, text)
        self.assertIn("expected a package name: L, D, G, R, SST", text)
        self.assertIn("expected each package at most once", text)

    def test_callAgentIsTheGateway(self):
        """
        A call agent at the gateway's own address and port (the seed's two
        addresses mapped onto one loopback address) is refused, naming the
        path; the default bind counts.
        """
        for bind in ("", "  bind: {host: 127.0.0.1, port: 2427}\n"):
            lines = problemsOf(self, MINIMAL + "mgcp:\n" + bind + "  call-agent: {host: 127.0.0.1, port: 2427}\n")
            self.assertEqual(lines, ["router.yaml: mgcp.call-agent: '127.0.0.1 2427' is not allowed; the gateway's"
                                     " own address and port (mgcp.bind): the call agent is another host or port"])

    def test_timerConsistency(self):
        """
        The maximum request timeout may not be below the initial one, nor
        Max2 below Max1.
        """
        lines = problemsOf(self, MINIMAL + MGCP + (
            "  timers: {request-timeout-ms: 1000, request-timeout-max-ms: 500, max1-retries: 8, max2-retries: 6}\n"))
        self.assertEqual(lines, [
            "router.yaml: mgcp.timers.request-timeout-max-ms: 500 is not allowed; "
            "expected at least request-timeout-ms (1000)",
            "router.yaml: mgcp.timers.max2-retries: 6 is not allowed; expected at least max1-retries (8)",
        ])

    def test_unknownKey(self):
        """
        Unknown keys in C{mgcp:} are problems listing the known ones.
        """
        [line] = problemsOf(self, MINIMAL + MGCP + "  fax: t38\n")
        self.assertIn("mgcp.fax: 't38' is not allowed; unknown key; known keys here: bind, call-agent", line)


class CcmManagerConfigTests(SynchronousTestCase):
    """
    The C{ccm-manager:} section.
    """

    def test_defaults(self):
        """
        An empty C{ccm-manager:} has fallback off, graceful switchback and
        the 15 s / 30 s keepalive and failover intervals.
        """
        c = loadString(MINIMAL + MGCP + "ccm-manager: {}\n")
        self.assertEqual(c.ccmManager, CcmManagerConfig())
        self.assertEqual(c.ccmManager, CcmManagerConfig(False, Switchback(SwitchbackMode.GRACEFUL), 15, 30, ()))

    def test_values(self):
        """
        Every key is read; redundant hosts default to port 2427.
        """
        c = loadString(MINIMAL + MGCP + """
ccm-manager:
  fallback-mgcp: true
  switchback: uptime-delay 10
  keepalive-interval: 5
  failover-interval: 12
  redundant-hosts: [{host: 127.0.0.2}, {host: 127.0.0.3, port: 2428}]
""")
        self.assertEqual(c.ccmManager, CcmManagerConfig(
            fallbackMgcp=True, switchback=Switchback(SwitchbackMode.UPTIME_DELAY, minutes=10),
            keepaliveInterval=5, failoverInterval=12,
            redundantHosts=(HostPort("127.0.0.2", 2427), HostPort("127.0.0.3", 2428))))

    def test_switchbackForms(self):
        """
        Every IOS switchback form parses into its mode and argument, and
        prints back as written.
        """
        cases = {
            "immediate": Switchback(SwitchbackMode.IMMEDIATE),
            "graceful": Switchback(SwitchbackMode.GRACEFUL),
            "never": Switchback(SwitchbackMode.NEVER),
            "schedule-time 02:30": Switchback(SwitchbackMode.SCHEDULE_TIME, time=(2, 30)),
            "schedule-time 23:59": Switchback(SwitchbackMode.SCHEDULE_TIME, time=(23, 59)),
            "uptime-delay 1": Switchback(SwitchbackMode.UPTIME_DELAY, minutes=1),
            "uptime-delay 1440": Switchback(SwitchbackMode.UPTIME_DELAY, minutes=1440),
        }
        for text, expected in cases.items():
            self.assertEqual(parseSwitchback(text), expected, text)
            self.assertEqual(str(expected), text)
        self.assertEqual(parseSwitchback("  Schedule-Time   7:05 "), Switchback(SwitchbackMode.SCHEDULE_TIME, time=(7, 5)))

    def test_badSwitchback(self):
        """
        Malformed or out-of-range switchback values are rejected, naming
        every allowed form.
        """
        for bad in ["sometimes", "schedule-time 24:00", "schedule-time 12:60", "schedule-time noon",
                    "uptime-delay 0", "uptime-delay 1441", "uptime-delay", 5, True]:
            self.assertIsNone(parseSwitchback(bad), bad)
        [line] = problemsOf(self, MINIMAL + MGCP + "ccm-manager: {switchback: uptime-delay 0}\n")
        self.assertEqual(line, "router.yaml: ccm-manager.switchback: 'uptime-delay 0' is not allowed; "
                               "expected immediate, graceful, never, schedule-time HH:MM (00:00 to 23:59) "
                               "or uptime-delay N (minutes, 1 to 1440)")

    def test_failoverMustExceedKeepalive(self):
        """
        The failover interval must be longer than the keepalive interval,
        and the problem says why.
        """
        [line] = problemsOf(self, MINIMAL + MGCP + "ccm-manager: {keepalive-interval: 30, failover-interval: 30}\n")
        self.assertIn("ccm-manager.failover-interval: 30 is not allowed; expected more seconds than "
                      "keepalive-interval (30)", line)

    def test_redundantHostProblems(self):
        """
        More than two redundant hosts, a host that is no address and a bad
        entry are each reported.
        """
        lines = problemsOf(self, MINIMAL + MGCP + """
ccm-manager:
  fallback-mgcp: yes please
  redundant-hosts: [{host: 127.0.0.2}, {host: ccm.example}, 7]
""")
        text = "\n".join(lines)
        self.assertIn("ccm-manager.fallback-mgcp: 'yes please' is not allowed; expected true or false", text)
        self.assertIn("ccm-manager.redundant-hosts[1].host: 'ccm.example'", text)
        self.assertIn("ccm-manager.redundant-hosts[2]: 7 is not allowed; expected {host: <ip>, port: 2427}", text)
        self.assertIn("ccm-manager.redundant-hosts: ", text)
        self.assertIn("expected at most 2 backup call agents", text)

    def test_musicOnHold(self):
        """
        C{music-on-hold} (IOS C{ccm-manager music-on-hold}) is off by
        default, read as a boolean, and anything else is reported at its
        path.
        """
        self.assertFalse(loadString(MINIMAL + MGCP + "ccm-manager: {}\n").ccmManager.musicOnHold)
        self.assertTrue(loadString(MINIMAL + MGCP + "ccm-manager: {music-on-hold: true}\n").ccmManager.musicOnHold)
        [line] = problemsOf(self, MINIMAL + MGCP + "ccm-manager: {music-on-hold: multicast}\n")
        self.assertEqual(line, "router.yaml: ccm-manager.music-on-hold: 'multicast' is not allowed; "
                               "expected true or false")

    def test_needsMgcp(self):
        """
        A C{ccm-manager:} without an C{mgcp:} section is a problem at
        C{ccm-manager}.
        """
        [line] = problemsOf(self, MINIMAL + "ccm-manager: {fallback-mgcp: true}\n")
        self.assertTrue(line.startswith("router.yaml: ccm-manager: "), line)
        self.assertIn("ccm-manager needs an mgcp: section", line)


class MgcpPortsTests(SynchronousTestCase):
    """
    Only the voice ports an C{application mgcpapp} dial-peer binds are
    MGCP endpoints (mgcp.md 9.3).
    """

    PORTS = """
voice-ports:
  1/0/0: {signal: fxs-loop-start}
  1/0/1: {signal: fxs-loop-start}
  1/0/2: {signal: fxs-loop-start}
"""

    def test_boundPorts(self):
        """
        A dial-peer with C{application: mgcpapp} (any case) binds its port;
        one with another application or none does not; several peers on a
        port bind it once.
        """
        c = loadString(MINIMAL + MGCP + self.PORTS + """
dial-peers:
  - {tag: 1, destination-pattern: "81234", port: 1/0/0, application: mgcpapp}
  - {tag: 2, port: 1/0/0, application: mgcpapp}
  - {tag: 3, port: 1/0/1, application: MGCPAPP}
  - {tag: 4, destination-pattern: "81237", port: 1/0/2}
  - {tag: 5, destination-pattern: "81238", port: 1/0/2, application: session}
""")
        self.assertEqual(mgcpPortNames(c.dialPeers), {"1/0/0", "1/0/1"})
        self.assertEqual(mgcpPortNames(()), frozenset())

    def test_unknownPort(self):
        """
        An mgcpapp dial-peer naming no configured voice port is refused,
        with the YAML path of its C{port}.
        """
        lines = problemsOf(self, MINIMAL + MGCP + self.PORTS + """
dial-peers:
  - {tag: 1, port: 1/0/0, application: mgcpapp}
  - {tag: 2, port: 1/0/3, application: mgcpapp}
""")
        self.assertEqual(lines, ["router.yaml: dial-peers[1].port: '1/0/3' is not allowed; "
                                 "expected the name of a voice port under voice-ports"])


class ShippedConfigurationTests(SynchronousTestCase):
    """
    The shipped etc/router.yaml has the seed's MGCP gateway.
    """

    def test_shipped(self):
        """
        etc/router.yaml configures media, an MGCP gateway talking to the
        loopback call agent on 2727, and fallback with graceful switchback.
        """
        cwd = os.getcwd()
        os.chdir(ROOT)
        self.addCleanup(os.chdir, cwd)
        c = load(os.path.join("etc", "router.yaml"))
        self.assertEqual(c.media, MediaConfig())
        self.assertEqual(c.mgcp.callAgent, HostPort("127.0.0.1", 2727))
        self.assertEqual(c.mgcp.bind, HostPort("127.0.0.1", 2427))
        self.assertEqual(c.mgcp.packageCapabilities, ("L", "D", "G", "R", "SST"))
        self.assertTrue(c.ccmManager.fallbackMgcp)
        self.assertEqual(c.ccmManager.switchback, Switchback(SwitchbackMode.GRACEFUL))
        ports = {p.name: p for p in c.voicePorts}
        self.assertEqual((ports["1/0/1"].stationIdNumber, ports["1/0/1"].stationIdName), ("81236", "Lobby"))
        self.assertEqual(ports["1/1/1"].plarNumber, "2002")
        self.assertEqual(mgcpPortNames(c.dialPeers), {"1/0/0", "1/0/1", "1/1/0"})

    def test_exported(self):
        """
        The sections' owners export their section types: C{media:} from
        L{srst.media.config}, C{mgcp:} and C{ccm-manager:} from
        L{srst.mgcp.config}.
        """
        self.assertIn("MediaConfig", mediaConfig.__all__)
        for name in ["MgcpConfig", "MgcpTimers", "CcmManagerConfig", "HostPort",
                     "Switchback", "SwitchbackMode"]:
            self.assertIn(name, config.__all__)


class ConfigDownloadTests(SynchronousTestCase):
    """
    C{ccm-manager.config}: C{ccm-manager config server <ip>}.
    """

    def test_defaults(self) -> None:
        """
        Only the server is required: port 69, the file named after the
        hostname (L{None} here), 5 s.
        """
        c = loadString(MINIMAL + MGCP + "ccm-manager: {config: {server: 10.1.1.13}}\n").ccmManager
        self.assertEqual(c.config, ConfigDownload(HostPort("10.1.1.13", 69), None, 5))

    def test_problems(self) -> None:
        """
        Each bad value is named by its YAML path.
        """
        lines = problemsOf(self, MINIMAL + MGCP + "ccm-manager: {config: {server: ccm, file: a/b,"
                                                  " timeout-seconds: 0}}\n")
        self.assertEqual(len(lines), 3, lines)
        for path in ("ccm-manager.config.server", "ccm-manager.config.file",
                     "ccm-manager.config.timeout-seconds"):
            self.assertTrue(any(path in line for line in lines), (path, lines))
