"""
Tests for L{srst.mgcp.iosconfig}: C{ccm-manager}, C{mgcp}, C{mgcp profile
default} and C{call application alternate DEFAULT} in C{show
running-config}, and their import from IOS text.
"""

from functools import partial

from twisted.trial.unittest import SynchronousTestCase

from srst.configreader import Reader
from srst.mgcp.config import (
    CcmManagerConfig,
    ConfigDownload,
    HostPort,
    MgcpConfig,
    MgcpTimers,
    Switchback,
    SwitchbackMode,
    readCcmManager,
    readMgcp,
)
from srst.mgcp.iosconfig import callApplicationConfig, importIos, runningConfig, srstOnly
from tests.ioshelpers import imported

SEED_MGCP = [
    "mgcp",
    "mgcp call-agent 10.1.1.13 2427 service-type mgcp version 0.1",
    "mgcp dtmf-relay voip codec all mode out-of-band",
    "mgcp rtp unreachable timeout 1000 action notify",
    "mgcp package-capability rtp-package",
    "mgcp package-capability sst-package",
    "no mgcp package-capability fxr-package",
    "no mgcp timer receive-rtcp",
    "mgcp sdp simple",
]

SEED_CCM = [
    "ccm-manager fallback-mgcp",
    "ccm-manager mgcp",
    "ccm-manager music-on-hold",
    "ccm-manager config server 10.1.1.13",
    "ccm-manager config",
]


importText = partial(imported, importIos)
"""Import C{text} with L{importIos} (see L{imported})."""


def readBack(document):
    """
    Read an imported document's C{mgcp:} and C{ccm-manager:} as srst reads
    router.yaml.

    @return: the two sections and the problems found.
    """
    problems = []
    root = Reader(document, "", problems)
    mgcp = readMgcp(root.child("mgcp"))
    ccm = readCcmManager(root.child("ccm-manager")) if "ccm-manager" in document else None
    return mgcp, ccm, problems


class RenderTests(SynchronousTestCase):
    """
    The gateway as IOS prints it.
    """

    def test_seed(self):
        """
        The seed's gateway prints the seed's lines (and C{mgcp validate
        call-agent source-ipaddr}, which srst keeps on), C{ccm-manager} then
        C{mgcp} then C{mgcp profile default}, each closed by C{!}.
        """
        mgcp = MgcpConfig(HostPort("10.1.1.13", 2427), packageCapabilities=("L", "D", "G", "R", "SST"))
        ccm = CcmManagerConfig(fallbackMgcp=True, musicOnHold=True,
                               config=ConfigDownload(HostPort("10.1.1.13", 69)))
        self.assertEqual(runningConfig(mgcp, ccm), SEED_CCM + ["!"] + SEED_MGCP + [
            "mgcp validate call-agent source-ipaddr",
            "mgcp fax t38 inhibit",
            "!",
            "mgcp profile default",
            "!",
        ])
        self.assertEqual(callApplicationConfig(ccm), ["call application alternate DEFAULT", "!"])
        self.assertEqual(srstOnly(mgcp, ccm), [])

    def test_nonDefaults(self):
        """
        IOS defaults that srst does not keep print as C{no ...} (or by
        leaving the command out: in-band DTMF, full SDP); the profile timers
        that differ from IOS's print under C{mgcp profile default}.
        """
        mgcp = MgcpConfig(
            HostPort("127.0.0.1", 2727), version="1.0", dtmfRelay="none", sdp="full",
            rtpUnreachableTimeoutMs=None, restartDelay=5, packageCapabilities=("D", "G", "R"),
            timers=MgcpTimers(requestTimeoutMs=300, tsmax=25, max2Retries=9), validateSource=False,
            persistent=("hookflash", "onhook"))
        ccm = CcmManagerConfig(
            redundantHosts=(HostPort("127.0.0.2"), HostPort("127.0.0.3")),
            switchback=Switchback(SwitchbackMode.SCHEDULE_TIME, time=(3, 5)))
        self.assertEqual(runningConfig(mgcp, ccm), [
            "ccm-manager redundant-host 127.0.0.2 127.0.0.3",
            "ccm-manager switchback schedule-time 03:05",
            "ccm-manager mgcp",
            "!",
            "mgcp",
            "mgcp call-agent 127.0.0.1 2727 service-type mgcp version 1.0",
            "mgcp restart-delay 5",
            "no mgcp package-capability line-package",
            "mgcp package-capability rtp-package",
            "no mgcp package-capability fxr-package",
            "no mgcp timer receive-rtcp",
            "mgcp request timeout 300",
            "no mgcp validate call-agent source-ipaddr",
            "mgcp persistent hookflash",
            "mgcp persistent onhook",
            "no mgcp persistent offhook",
            "mgcp fax t38 inhibit",
            "!",
            "mgcp profile default",
            " timeout tsmax 25",
            " max2 retries 9",
            "!",
        ])
        self.assertEqual(callApplicationConfig(ccm), [])

    def test_absent(self):
        """
        No section, no lines.
        """
        self.assertEqual(runningConfig(None, None), [])
        self.assertEqual(callApplicationConfig(None), [])
        self.assertEqual(srstOnly(None, None), [])

    def test_srstOnly(self):
        """
        Keys with no IOS command, set away from their defaults, are
        C{! srst:} comments.
        """
        mgcp = MgcpConfig(HostPort("127.0.0.1", 2727), bind=HostPort("127.0.0.1", 2428),
                          rtpUnreachableSilenceMs=5000, timers=MgcpTimers(requestTimeoutMaxMs=8000))
        ccm = CcmManagerConfig(keepaliveInterval=10, failoverInterval=25,
                               redundantHosts=(HostPort("127.0.0.2", 2729),),
                               config=ConfigDownload(HostPort("127.0.0.1", 6969), "gw.cnf.xml", 9))
        self.assertEqual(srstOnly(mgcp, ccm), [
            "! srst: mgcp.bind 127.0.0.1 2428",
            "! srst: mgcp.rtp-unreachable.silence-timeout-ms 5000",
            "! srst: mgcp.timers.request-timeout-max-ms 8000",
            "! srst: ccm-manager.keepalive-interval 10",
            "! srst: ccm-manager.failover-interval 25",
            "! srst: ccm-manager.redundant-hosts[0].port 2729",
            "! srst: ccm-manager.config.port 6969",
            "! srst: ccm-manager.config.file gw.cnf.xml",
            "! srst: ccm-manager.config.timeout-seconds 9",
        ])


class ImportTests(SynchronousTestCase):
    """
    The gateway read from IOS text.
    """

    def test_seed(self):
        """
        The seed's gateway lines become router.yaml's C{mgcp:} and
        C{ccm-manager:}; the G.726 payload type is the one line skipped.
        """
        document, skipped, rest = importText("\n".join(
            SEED_CCM + ["call application alternate DEFAULT"] + SEED_MGCP
            + ["mgcp fax t38 inhibit", "mgcp rtp payload-type g726r16 static", "!",
               "mgcp profile default", "!", "ip classless"]))
        self.assertEqual(document, {
            "mgcp": {
                "call-agent": {"host": "10.1.1.13", "port": 2427, "version": "0.1"},
                "dtmf-relay": "out-of-band",
                "sdp": "simple",
                "rtp-unreachable": {"timeout-ms": 1000, "action": "notify"},
                "package-capabilities": ["L", "D", "G", "R", "SST"],
            },
            "ccm-manager": {"fallback-mgcp": True, "music-on-hold": True, "config": {"server": "10.1.1.13"}},
        })
        self.assertEqual(skipped, [
            "line 17: mgcp rtp payload-type g726r16 static: srst carries G.711 only: "
            "no g726r16 payload type to set"])
        self.assertEqual(rest, ["ip classless"])

    def test_iosDefaults(self):
        """
        Commands an IOS gateway leaves out mean IOS's behaviour: in-band
        DTMF, full SDP, no RTP-unreachable teardown, the line, DTMF and
        generic media packages.
        """
        document, skipped, rest = importText("mgcp\nmgcp call-agent 10.1.1.13\n")
        self.assertEqual(document, {"mgcp": {
            "call-agent": {"host": "10.1.1.13", "port": 2427, "version": "0.1"},
            "dtmf-relay": "none", "sdp": "full", "rtp-unreachable": None,
            "package-capabilities": ["L", "D", "G"]}})
        self.assertEqual((skipped, rest), ([], []))

    def test_skipped(self):
        """
        Every line srst cannot take is listed with its reason.
        """
        document, skipped, rest = importText(
            "mgcp\n"                                                     # 1
            "mgcp call-agent 10.1.1.13 2427 service-type mgcp version 0.1\n"  # 2
            "mgcp dtmf-relay voip codec all mode nte-gw\n"               # 3
            "mgcp package-capability fxr-package\n"                      # 4
            "mgcp modem passthrough voip mode nse\n"                     # 5
            "mgcp profile default\n"                                     # 6
            " timeout tcrit 10\n"                                        # 7
            "mgcp profile other\n"                                       # 8
            " max1 retries 3\n"                                          # 9
            "call application alternate session\n"                       # 10
            "ccm-manager fax protocol cisco\n"                           # 11
            "ccm-manager config server 10.1.1.13\n"                      # 12
            "!\n")
        self.assertEqual(skipped, [
            "line 3: mgcp dtmf-relay voip codec all mode nte-gw: srst relays DTMF out-of-band "
            "(RFC 2833) for all codecs or not at all",
            "line 4: mgcp package-capability fxr-package: srst has no fxr-package "
            "(it offers line, dtmf, gm, rtp and sst packages)",
            "line 5: mgcp modem passthrough voip mode nse: srst has no mgcp modem passthrough",
            "line 7: timeout tcrit 10: srst has no mgcp profile timeout tcrit",
            "line 8: mgcp profile other: srst has the default MGCP profile only",
            "line 9: max1 retries 3: srst has the default MGCP profile only",
            "line 10: call application alternate session: srst has no IOS call applications "
            "(Tcl/VoiceXML); its own call control is the default",
            "line 11: ccm-manager fax protocol cisco: srst has no ccm-manager fax protocol",
            "line 12: ccm-manager config server 10.1.1.13: without ccm-manager config the gateway "
            "downloads nothing: srst keeps no server",
        ])
        self.assertEqual(document["ccm-manager"], {})
        self.assertEqual(rest, [])

    def test_needsCallAgent(self):
        """
        Without C{mgcp call-agent} (or a call agent srst can use) there is
        no gateway: every gateway line is skipped saying so, and
        C{ccm-manager} with it.
        """
        document, skipped, rest = importText(
            "mgcp\nmgcp call-agent cm1.example.com\nmgcp sdp simple\nccm-manager config\n")
        self.assertEqual(document, {})
        self.assertEqual(skipped, [
            "line 1: mgcp: srst needs both mgcp and mgcp call-agent to run the MGCP gateway",
            "line 2: mgcp call-agent cm1.example.com: expected mgcp call-agent <ip> [<port>] "
            "service-type mgcp version 0.1|1.0 (srst has no DNS names or other service types)",
            "line 2: mgcp call-agent cm1.example.com: srst needs both mgcp and mgcp call-agent to run "
            "the MGCP gateway",
            "line 3: mgcp sdp simple: srst needs both mgcp and mgcp call-agent to run the MGCP gateway",
            "line 4: ccm-manager config: srst's ccm-manager needs the mgcp gateway "
            "(no mgcp call-agent imported)",
        ])
        self.assertEqual(rest, [])

    def test_configWithoutServer(self):
        """
        C{ccm-manager config} alone (the server from DHCP) is skipped.
        """
        document, skipped, rest = importText("mgcp\nmgcp call-agent 10.1.1.13\nccm-manager config\n")
        self.assertEqual(skipped, [
            "line 3: ccm-manager config: srst needs ccm-manager config server <ip> (no DHCP option 150)"])

    def test_roundTrip(self):
        """
        What L{runningConfig} prints imports back into the same sections.
        """
        cases = [
            (MgcpConfig(HostPort("10.1.1.13", 2427), packageCapabilities=("L", "D", "G", "R", "SST")),
             CcmManagerConfig(fallbackMgcp=True, musicOnHold=True,
                              config=ConfigDownload(HostPort("10.1.1.13", 69)))),
            (MgcpConfig(HostPort("127.0.0.1", 2727), version="1.0", dtmfRelay="none", sdp="full",
                        rtpUnreachableTimeoutMs=None, restartDelay=5, packageCapabilities=("D", "G", "R"),
                        timers=MgcpTimers(requestTimeoutMs=300, tsmax=25, thist=40, tdinit=10, tdmin=5,
                                          tdmax=300, max1Retries=4, max2Retries=9),
                        validateSource=False, persistent=("hookflash", "onhook")),
             CcmManagerConfig(redundantHosts=(HostPort("127.0.0.2"), HostPort("127.0.0.3")),
                              switchback=Switchback(SwitchbackMode.UPTIME_DELAY, minutes=10))),
            (MgcpConfig(HostPort("127.0.0.1", 2727)), None),
        ]
        for mgcp, ccm in cases:
            document, skipped, rest = importText("\n".join(runningConfig(mgcp, ccm)))
            self.assertEqual(readBack(document), (mgcp, ccm, []))
            self.assertEqual((skipped, rest), ([], []))
