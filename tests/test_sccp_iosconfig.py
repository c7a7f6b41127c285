"""
Tests for L{srst.sccp.iosconfig}: C{call-manager-fallback} (with
C{vm-integration}, C{ephone-dn} and C{ephone}) in C{show running-config},
and its import from IOS text.
"""

from functools import partial

from twisted.trial.unittest import SynchronousTestCase

from srst.configreader import Reader
from srst.sccp.config import readCallManagerFallback
from srst.sccp.iosconfig import importIos, runningConfig, srstOnly
from tests.ioshelpers import imported

FULL = {
    "ip-source-address": "127.0.0.1",
    "port": 2000,
    "trustpoint": "srstca",
    "max-ephones": 24,
    "max-dn": "48 dual-line",
    "secondary-dialtone": "9",
    "transfer-system": "full-blind",
    "transfer-pattern": ["2...", "9T blind"],
    "dialplan-patterns": [{"tag": 1, "pattern": "40855501..", "extension-length": 4},
                          {"tag": 2, "pattern": "51055501..", "extension-length": 3,
                           "extension-pattern": "5..", "no-reg": True}],
    "aliases": [{"tag": 1, "pattern": "60..", "to": "5001", "preference": 1,
                 "cfw": {"number": "2000", "timeout": 10}},
                {"tag": 2, "pattern": "7001", "to": "5002", "huntstop": True}],
    "huntstop": False,
    "timeouts": {"keepalive": 45, "ringing": 60, "busy": 5, "interdigit": 8},
    "call-forward": {"all": "3000", "busy": "3001", "no-answer": "3002", "no-answer-timeout": 15},
    "system-message": "Branch in fallback",
    "voicemail": "7000",
    "vm-integration": {"pattern": {"direct": "2 CGN *", "ext-to-ext-busy": "7 FDN * CGN *",
                                   "ext-to-ext-no-answer": "5 FDN * CGN *"}},
    "date-format": "d/m/y",
    "moh": "music-on-hold.wav",
    "multicast-moh": {"address": "239.1.1.1", "port": 16384},
    "max-conferences": 4,
    "ephones": [
        {"mac": "1000.1111.0002", "type": "7970",
         "buttons": [{"line": 1, "dn": "2002", "label": "Front", "name": "Reception"},
                     {"line": 3, "dn": "2010", "pickup-group": "5"}],
         "speed-dials": [{"button": 2, "number": "2003", "label": "Lab bench"}]},
        {"mac": "1000.1111.0003",
         "buttons": [{"line": 1, "dn": "2002", "label": "Front", "name": "Reception"}]},
    ],
}

FULL_LINES = [
    "call-manager-fallback",
    " secondary-dialtone 9",
    " transfer-system full-blind",
    " ip source-address 127.0.0.1 port 2000",
    " max-ephones 24",
    " max-dn 48 dual-line",
    " transfer-pattern 2...",
    " transfer-pattern 9T blind",
    " keepalive 45",
    " timeouts busy 5",
    " timeouts interdigit 8",
    " timeouts ringing 60",
    " dialplan-pattern 1 40855501.. extension-length 4",
    " dialplan-pattern 2 51055501.. extension-length 3 extension-pattern 5.. no-reg",
    " alias 1 60.. to 5001 preference 1 cfw 2000 timeout 10",
    " alias 2 7001 to 5002 huntstop",
    " no huntstop",
    " call-forward all 3000",
    " call-forward busy 3001",
    " call-forward noan 3002 timeout 15",
    " voicemail 7000",
    " system message primary Branch in fallback",
    " date-format dd-mm-yy",
    " moh music-on-hold.wav",
    " multicast moh 239.1.1.1 port 16384",
    " max-conferences 4",
    "!",
    "vm-integration",
    " pattern direct 2 CGN *",
    " pattern ext-to-ext busy 7 FDN * CGN *",
    " pattern ext-to-ext no-answer 5 FDN * CGN *",
    "!",
    "ephone-dn 1",
    " number 2002",
    " label Front",
    " name Reception",
    "!",
    "ephone-dn 2",
    " number 2010",
    " pickup-group 5",
    "!",
    "ephone 1",
    " mac-address 1000.1111.0002",
    " type 7970",
    " button 1:1 3:2",
    ' speed-dial 2 2003 label "Lab bench"',
    "!",
    "ephone 2",
    " mac-address 1000.1111.0003",
    " button 1:1",
    "!",
]


def read(section, problems=None):
    """
    Read a C{call-manager-fallback:} mapping as srst reads router.yaml, with
    an identity trustpoint C{srstca} and a phone CA trustpoint C{7970}.
    """
    problems = [] if problems is None else problems
    return readCallManagerFallback(
        Reader(section, "call-manager-fallback", problems),
        lambda name: object() if name == "srstca" else None, ["7970"])


importText = partial(imported, importIos)
"""Import C{text} with L{importIos} (see L{imported})."""


class RenderTests(SynchronousTestCase):
    """
    Fallback as IOS prints it.
    """

    def test_seed(self):
        """
        The seed's C{call-manager-fallback} prints the seed's lines (the
        commands srst has defaults for, as IOS lists them, included).
        """
        config = read({"ip-source-address": "10.1.1.22", "port": 2000, "max-ephones": 15, "max-dn": 30,
                       "secondary-dialtone": "9", "transfer-system": "full-consult",
                       "transfer-pattern": ["....."]})
        self.assertEqual(runningConfig(config), [
            "call-manager-fallback",
            " secondary-dialtone 9",
            " transfer-system full-consult",
            " ip source-address 10.1.1.22 port 2000",
            " max-ephones 15",
            " max-dn 30",
            " transfer-pattern .....",
            "!",
        ])

    def test_everyCommand(self):
        """
        Every key with an IOS command prints it; C{vm-integration} is its
        own global block; ephones print as CME's C{ephone-dn} (one per
        number, label, name and pickup group, shared by the phones that
        have it) and C{ephone} blocks.
        """
        problems = []
        config = read(FULL, problems)
        self.assertEqual(problems, [])
        self.assertEqual(runningConfig(config, "srstca", ["7970"]), FULL_LINES)

    def test_absent(self):
        """
        No section, no lines.
        """
        self.assertEqual(runningConfig(None), [])
        self.assertEqual(srstOnly(None), [])

    def test_srstOnly(self):
        """
        Keys IOS has no command for, set away from their defaults, are
        C{! srst:} comments; the trustpoint is one only when it is not the
        credentials trustpoint IOS would present.
        """
        section = {"ip-source-address": "127.0.0.1", "port": 2000, "secure-port": 2500, "trustpoint": "srstca",
                   "phone-trustpoints": ["7970"], "tls-profile": "legacy", "max-connections": 100,
                   "max-connections-per-host": 40,
                   "auto-assign": {"dn-range": "2000-2099", "reservation-timeout-days": 30},
                   "call-forward": {"no-answer-timeout": 12}, "date-format": "m/d/ya",
                   "moh": "m.wav", "moh-secure": "tone", "multicast-moh": {"address": "239.1.1.1", "port": 16384,
                                                                          "ttl": 4},
                   "conference-secure": False}
        config = read(section)
        self.assertEqual(srstOnly(config, "other", ["7970", "PEM"]), [
            "! srst: call-manager-fallback.secure-port 2500",
            "! srst: call-manager-fallback.trustpoint srstca",
            "! srst: call-manager-fallback.phone-trustpoints 7970",
            "! srst: call-manager-fallback.tls-profile legacy",
            "! srst: call-manager-fallback.max-connections 100",
            "! srst: call-manager-fallback.max-connections-per-host 40",
            "! srst: call-manager-fallback.auto-assign.dn-range 2000-2099",
            "! srst: call-manager-fallback.auto-assign.reservation-timeout-days 30",
            "! srst: call-manager-fallback.call-forward.no-answer-timeout 12",
            "! srst: call-manager-fallback.date-format m/d/ya",
            "! srst: call-manager-fallback.moh-secure tone",
            "! srst: call-manager-fallback.multicast-moh.ttl 4",
            "! srst: call-manager-fallback.conference-secure false",
        ])
        self.assertEqual(srstOnly(read({"ip-source-address": "127.0.0.1", "trustpoint": "srstca"}),
                                  "srstca", ["7970"]), [])


class ImportTests(SynchronousTestCase):
    """
    Fallback read from IOS text.
    """

    def test_seed(self):
        """
        The seed's block imports into router.yaml's keys, in its order, and
        the secure listener presents the C{credentials} trustpoint (as IOS
        secure SRST does), which stays for the credentials importer.
        """
        document, skipped, rest = importText(
            "credentials\n ip source-address 10.1.1.22 port 2445\n trustpoint srstca\n!\n"
            "call-manager-fallback\n secondary-dialtone 9\n transfer-system full-consult \n"
            " ip source-address 10.1.1.22 port 2000\n max-ephones 15\n max-dn 30\n transfer-pattern .....\n")
        self.assertEqual(list(document["call-manager-fallback"].items()), [
            ("ip-source-address", "10.1.1.22"), ("port", 2000), ("trustpoint", "srstca"), ("max-ephones", 15),
            ("max-dn", 30), ("secondary-dialtone", "9"), ("transfer-system", "full-consult"),
            ("transfer-pattern", ["....."])])
        self.assertEqual((skipped, rest), ([], ["credentials"]))

    def test_roundTrip(self):
        """
        What L{runningConfig} prints imports back into the same section.
        """
        config = read(FULL)
        document, skipped, rest = importText(
            "credentials\n trustpoint srstca\n" + "\n".join(runningConfig(config)))
        problems = []
        self.assertEqual(read(document["call-manager-fallback"], problems), config)
        self.assertEqual((problems, skipped, rest), ([], [], ["credentials"]))

    def test_skipped(self):
        """
        Every line srst cannot take is listed with its reason; partly
        imported lines say what was taken.
        """
        document, skipped, rest = importText(
            "call-manager-fallback\n"                                   # 1
            " ip source-address 10.1.1.22 port 2000 strict-match\n"    # 2
            " max-dn 30 preference 1\n"                                 # 3
            " max-conferences 8 gain -6\n"                              # 4
            " multicast moh 239.1.1.1 port 16384 route 10.1.1.22\n"    # 5
            " moh music.au\n"                                           # 6
            " system message secondary Call 911\n"                      # 7
            " user-locale DE\n"                                         # 8
            " alias 1 60.. to 5001 ring\n"                              # 9
            " dialplan-pattern x 4085.. extension-length 4\n"           # 10
            "vm-integration\n"                                          # 11
            " pattern trunk-to-ext busy 6 FDN\n"                        # 12
            "ephone-dn 1 dual-line\n"                                   # 13
            " number 2002\n"                                            # 14
            " call-forward busy 3000\n"                                 # 15
            "ephone-dn 2\n"                                             # 16
            " number 2003\n"                                            # 17
            "ephone-dn 3\n"                                             # 18
            " label orphan\n"                                           # 19
            "ephone 1\n"                                                # 20
            " mac-address 1000.1111.0002\n"                             # 21
            " button 1:1\n"                                             # 22
            " button 2s2\n"                                             # 23
            " speed-dial 3 2004 Lab\n"                                  # 24
            " keep-conference\n"                                        # 25
            "ephone 2\n"                                                # 26
            " type 7960\n"                                              # 27
            "telephony-service\n")                                      # 28
        self.assertEqual(skipped, [
            "line 3: max-dn 30 preference 1: srst has max-dn <n> [dual-line | octo-line] (no preference)",
            "line 4: max-conferences 8 gain -6: srst mixes at unity gain: imported max-conferences 8 "
            "without gain -6",
            "line 5: multicast moh 239.1.1.1 port 16384 route 10.1.1.22: srst sends multicast music from "
            "the media address (no route list): imported without route 10.1.1.22",
            "line 7: system message secondary Call 911: srst shows one system message (system message primary)",
            "line 8: user-locale DE: srst has no call-manager-fallback user-locale",
            "line 9: alias 1 60.. to 5001 ring: expected alias <tag> <pattern> to <number> [preference <n>] "
            "[cfw <number> timeout <s>] [huntstop]",
            "line 10: dialplan-pattern x 4085.. extension-length 4: expected dialplan-pattern <tag> <pattern> "
            "extension-length <n> [extension-pattern <p>] [no-reg]",
            "line 12: pattern trunk-to-ext busy 6 FDN: srst has no vm-integration pattern trunk-to-ext",
            "line 13: ephone-dn 1 dual-line: srst sets dual-line or octo-line for every number "
            "(max-dn <n> dual-line): imported ephone-dn 1 without dual-line",
            "line 15: call-forward busy 3000: srst has no ephone-dn call-forward busy",
            "line 16: ephone-dn 2: no ephone has a button for this ephone-dn: srst keeps numbers on "
            "phones' buttons",
            "line 18: ephone-dn 3: srst needs a number on an ephone-dn",
            "line 19: label orphan: srst needs a number on an ephone-dn",
            "line 23: button 2s2: srst has plain line buttons N:DN-TAG of configured ephone-dns only",
            'line 24: speed-dial 3 2004 Lab: expected speed-dial <button> <number> [label "text"]',
            "line 25: keep-conference: srst has no ephone keep-conference",
            "line 26: ephone 2: srst needs a mac-address on an ephone",
        ])
        self.assertEqual(rest, ["telephony-service"])
        self.assertEqual(document["call-manager-fallback"], {
            "ip-source-address": "10.1.1.22", "port": 2000, "moh": "music.au",
            "multicast-moh": {"address": "239.1.1.1", "port": 16384}, "max-conferences": 8,
            "ephones": [{"mac": "1000.1111.0002", "buttons": [{"line": 1, "dn": "2002"}]}]})

    def test_unknownCommand(self):
        """
        A command srst lacks is named by its keywords, not its values.
        """
        document, skipped, rest = importText(
            "call-manager-fallback\n ip source-address 10.1.1.22\n call-forward pattern .T\n"
            " cor incoming allowed default\n")
        self.assertEqual(skipped, [
            "line 3: call-forward pattern .T: srst has no call-manager-fallback call-forward pattern",
            "line 4: cor incoming allowed default: srst has no call-manager-fallback cor"])

    def test_needsFallback(self):
        """
        C{vm-integration} and ephones without C{call-manager-fallback}, or a
        C{call-manager-fallback} without C{ip source-address}, import
        nothing and say why.
        """
        document, skipped, rest = importText("ephone 1\n mac-address 1000.1111.0002\nvm-integration\n")
        self.assertEqual(document, {})
        reason = "srst keeps this under call-manager-fallback, which this configuration lacks"
        self.assertEqual(skipped, [f"line 1: ephone 1: {reason}",
                                   f"line 2: mac-address 1000.1111.0002: {reason}",
                                   f"line 3: vm-integration: {reason}"])
        document, skipped, rest = importText("call-manager-fallback\n max-ephones 4\n")
        self.assertEqual(document, {})
        reason = "srst needs ip source-address in call-manager-fallback"
        self.assertEqual(skipped, [f"line 1: call-manager-fallback: {reason}",
                                   f"line 2: max-ephones 4: {reason}"])
