"""
The seed's Configuration 1 voice part (C{voice-port}, C{ccm-manager},
C{mgcp}, C{dial-peer}, C{call-manager-fallback}, C{call application})
through L{srst.ports.iosconfig}, L{srst.mgcp.iosconfig} and
L{srst.sccp.iosconfig}: imported into router.yaml's sections, read as srst
reads them, and printed back line for line.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.configreader import Reader
from srst.iostext import ImportNotes, parseIosConfig
from srst.mgcp import iosconfig as mgcpios
from srst.mgcp.config import readCcmManager, readMgcp
from srst.ports import iosconfig as portsios
from srst.ports.config import readDialPeers, readVoicePorts
from srst.sccp import iosconfig as sccpios
from srst.sccp.config import readCallManagerFallback
from tests.pkihelpers import fixture


def seedVoice() -> str:
    """
    @return: the seed's voice part (tests/fixtures/seed/running-config-voice.txt).
    """
    with open(fixture("running-config-voice.txt")) as f:
        return f.read()


def commands(text: str) -> list[str]:
    """
    @return: the commands of C{text} as IOS prints them (indentation kept,
        trailing blanks, comments, C{!} and blank lines dropped).
    """
    return [line.rstrip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("!")]


class SeedVoiceTests(SynchronousTestCase):
    """
    The seed's voice configuration, imported and printed back.
    """

    def setUp(self) -> None:
        self.document: dict = {}
        notes = ImportNotes()
        rest = list(parseIosConfig(seedVoice()))
        for module in (portsios, mgcpios, sccpios):
            rest = module.importIos(rest, self.document, notes)
        self.skipped = [str(each) for s in notes.sortedSkipped() for each in s.each()]
        self.rest = [line.text for line in rest]
        self.problems: list = []
        root = Reader(self.document, "", self.problems)
        self.voicePorts = readVoicePorts(root.child("voice-ports"))
        self.dialPeers = readDialPeers(root, "dial-peers", self.voicePorts)
        self.mgcp = readMgcp(root.child("mgcp"))
        self.ccmManager = readCcmManager(root.child("ccm-manager"))
        self.fallback = readCallManagerFallback(
            root.child("call-manager-fallback"), lambda name: object() if name == "srstca" else None,
            ["7970", "PEM", "7960"])

    def test_imports(self) -> None:
        """
        Every voice line imports but the G.726 payload type (srst carries
        G.711 only); C{credentials} is left for its own importer; what
        was written reads as router.yaml without a problem.
        """
        self.assertEqual(self.skipped, [
            "line 42: mgcp rtp payload-type g726r16 static: srst carries G.711 only: "
            "no g726r16 payload type to set"])
        self.assertEqual(self.rest, ["credentials"])
        self.assertEqual(self.problems, [])
        self.assertEqual(list(self.document), ["voice-ports", "dial-peers", "mgcp", "ccm-manager",
                                               "call-manager-fallback"])
        self.assertEqual(self.fallback.trustpoint, "srstca")
        self.assertEqual([(p.name, p.signal.configName) for p in self.voicePorts],
                         [(f"1/{m}/{n}", "fxs-loop-start" if m == 0 else "fxo-loop-start")
                          for m in (0, 1) for n in range(4)])

    def test_rendersBack(self) -> None:
        """
        Printed in IOS order (C{call application}, voice ports,
        C{ccm-manager}, C{mgcp}, dial-peers, C{call-manager-fallback}), the
        imported sections give back the seed's lines, each as the seed has
        it; besides the skipped payload type and the credentials block, the
        only difference is C{mgcp validate call-agent source-ipaddr}, which
        srst keeps on, and the seed's order of the C{ccm-manager} lines
        (IOS prints them before C{mgcp}).
        """
        rendered = (mgcpios.callApplicationConfig(self.ccmManager)
                    + portsios.voicePortsConfig(self.voicePorts)
                    + mgcpios.runningConfig(self.mgcp, self.ccmManager)
                    + portsios.dialPeersConfig(self.dialPeers)
                    + sccpios.runningConfig(self.fallback, "srstca", ["7970", "PEM", "7960"]))
        seed = commands(seedVoice())
        ccm = [line for line in seed if line.startswith("ccm-manager")]
        seed = [line for line in seed if line not in ccm and line != "mgcp rtp payload-type g726r16 static"]
        credentials = seed.index("credentials")
        self.assertEqual(seed[credentials + 1:credentials + 3],
                         [" ip source-address 10.1.1.22 port 2445", " trustpoint srstca"])
        del seed[credentials:credentials + 3]
        at = seed.index("mgcp")
        seed[at:at] = ccm
        at = seed.index("mgcp fax t38 inhibit")
        seed[at:at] = ["mgcp validate call-agent source-ipaddr"]
        self.assertEqual(commands("\n".join(rendered)), seed)
        self.assertEqual(sccpios.srstOnly(self.fallback, "srstca", ["7970", "PEM", "7960"])
                         + mgcpios.srstOnly(self.mgcp, self.ccmManager), [])
