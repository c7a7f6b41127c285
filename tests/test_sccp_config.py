"""
Tests for L{srst.sccp.config}: the C{call-manager-fallback:} section of
router.yaml, read through L{srst.config}.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.config import loadString
from srst.calls.alias import Alias
from srst.calls.dialplan import DialplanPattern
from srst.calls.voicemail import PATTERN_SYNTAX, VmPattern
from srst.sccp.config import normalizeMac
from tests.test_config import MINIMAL, problemsOf


class CallManagerFallbackConfigTests(SynchronousTestCase):
    """
    Valid C{call-manager-fallback:} sections.
    """

    def test_callManagerFallbackDefaults(self):
        """
        The secure SCCP port defaults to port + 443, and ephones are normalised.
        """
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  port: 2000
  max-dn: 30 dual-line
  ephones:
    - mac: 1000.1111.0002
      buttons: [{line: 1, dn: "2002", label: "2002", name: Reception}]
      speed-dials: [{button: 2, number: "2003", label: Lab}]
""")
        cmf = c.callManagerFallback
        self.assertEqual(cmf.securePort, 2443)
        self.assertEqual(cmf.maxDn, 30)
        self.assertEqual(cmf.channelsPerDn, 2)
        self.assertEqual(cmf.ephones[0].mac, "100011110002")
        self.assertEqual(cmf.ephones[0].buttons[0].dn, "2002")

    def test_connectionLimitsDerived(self):
        """
        By default an SCCP listener pair keeps at most two connections per
        phone plus a margin of 16, and 4 per source address.
        """
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  max-ephones: 100
""")
        cmf = c.callManagerFallback
        self.assertEqual((cmf.maxConnections, cmf.maxConnectionsPerHost), (None, None))
        self.assertEqual((cmf.connectionLimit, cmf.connectionLimitPerHost), (216, 4))

    def test_connectionLimitsConfigured(self):
        """
        C{max-connections} and C{max-connections-per-host} override the
        derived caps; a per-host cap is never above the global one.
        """
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  max-connections: 50
  max-connections-per-host: 30
""")
        cmf = c.callManagerFallback
        self.assertEqual((cmf.connectionLimit, cmf.connectionLimitPerHost), (50, 30))
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  max-connections: 3
""")
        self.assertEqual(c.callManagerFallback.connectionLimitPerHost, 3)
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  max-ephones: 2
  max-connections-per-host: 300
""")
        self.assertEqual(c.callManagerFallback.connectionLimitPerHost, 20)
    def test_reservationTimeout(self):
        """
        C{auto-assign.reservation-timeout-days} defaults to 365 (phones are
        seen only during WAN outages, months apart); C{0},
        C{none} and C{null} turn expiry off.
        """
        def timeout(extra):
            return loadString(MINIMAL + f"""
call-manager-fallback:
  ip-source-address: 127.0.0.1
  auto-assign: {{dn-range: "2000-2099"{extra}}}
""").callManagerFallback.reservationTimeoutDays

        self.assertEqual(timeout(""), 365)
        self.assertEqual(timeout(", reservation-timeout-days: 7"), 7)
        self.assertEqual(timeout(", reservation-timeout-days: 3650"), 3650)
        for off in ("0", "none", "None", "null"):
            self.assertIsNone(timeout(f", reservation-timeout-days: {off}"), off)

    def test_normalizeMac(self):
        """
        The three spellings of a MAC address give twelve upper-case hex
        digits; anything else gives C{None}.
        """
        for text in ("1000.1111.000a", "10001111000A", "SEP10001111000a"):
            self.assertEqual(normalizeMac(text), "10001111000A")
        self.assertIsNone(normalizeMac("1000.1111"))


class CallManagerFallbackErrorTests(SynchronousTestCase):
    """
    Problems in C{call-manager-fallback:} name their YAML path.
    """

    def test_ephoneProblems(self):
        """
        Bad MACs, bad DNs and reused buttons in ephones are reported.
        """
        text = MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  ephones:
    - {mac: nonsense}
    - mac: 1000.1111.0003
      buttons: [{line: 1, dn: "20a2"}]
    - mac: 1000.1111.0004
      buttons: [{line: 1, dn: "2004"}]
      speed-dials: [{button: 1, number: "2003"}]
"""
        lines = problemsOf(self, text)
        self.assertTrue(any("ephones[0].mac: 'nonsense'" in l for l in lines), lines)
        self.assertTrue(any("ephones[1].buttons[0].dn: '20a2'" in l for l in lines), lines)
        self.assertTrue(any("ephones[2].buttons" in l and "used once" in l for l in lines), lines)

    def test_pickupGroup(self):
        """
        A line button's C{pickup-group} (IOS C{ephone-dn ... pickup-group})
        is read as digits; anything else is reported with its YAML path.
        """
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  ephones:
    - mac: 1000.1111.0002
      buttons: [{line: 1, dn: "2002", pickup-group: 5}, {line: 2, dn: "2003"}]
""")
        buttons = c.callManagerFallback.ephones[0].buttons
        self.assertEqual([b.pickupGroup for b in buttons], ["5", ""])
        lines = problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  ephones:
    - mac: 1000.1111.0002
      buttons: [{line: 1, dn: "2002", pickup-group: sales}]
""")
        self.assertIn("call-manager-fallback.ephones[0].buttons[0].pickup-group: 'sales' is not allowed; "
                      "expected a pickup group number of 1 to 32 digits", "\n".join(lines))

    def test_voicemail(self):
        """
        C{voicemail} (IOS C{voicemail 2105}) is the number the Messages
        button dials; YAML's integer is read as digits, anything else is
        reported with its YAML path.
        """
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  voicemail: 2105
""")
        self.assertEqual(c.callManagerFallback.voicemail, "2105")
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
""")
        self.assertIsNone(c.callManagerFallback.voicemail)
        lines = problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  voicemail: mailbox
""")
        self.assertIn("call-manager-fallback.voicemail: 'mailbox' is not allowed; "
                      "expected a directory number of 1 to 24 digits (0-9, * and #)", "\n".join(lines))

    def test_vmIntegration(self):
        """
        C{vm-integration.pattern} (IOS C{vm-integration} / C{pattern direct},
        C{pattern ext-to-ext busy}, C{pattern ext-to-ext no-answer}) takes
        a list of tags and tokens or one string as IOS writes it; tokens in
        any case.
        """
        c = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  voicemail: 1101
  vm-integration:
    pattern:
      direct: ["*", cgn]
      ext-to-ext-busy: "# CDN #2"
      ext-to-ext-no-answer: ["#", FDN, 3]
""")
        vm = c.callManagerFallback.vmIntegration
        self.assertEqual((vm.direct, vm.extToExtBusy, vm.extToExtNoAnswer),
                         (VmPattern(("*", "CGN")), VmPattern(("#", "CDN", "#2")), VmPattern(("#", "FDN", "3"))))

    def test_vmIntegrationProblems(self):
        """Bad patterns, unknown keys and patterns without a voicemail number name their YAML path."""
        lines = "\n".join(problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  voicemail: 1101
  vm-integration:
    pattern:
      direct: "CGN #"
      ext-to-ext-busy: ["#", {a: 1}]
      trunk-to-ext-busy: "# CDN"
"""))
        self.assertIn("call-manager-fallback.vm-integration.pattern.direct: 'CGN #' is not allowed; " + PATTERN_SYNTAX,
                      lines)
        self.assertIn("call-manager-fallback.vm-integration.pattern.ext-to-ext-busy: ", lines)
        self.assertIn("call-manager-fallback.vm-integration.pattern.trunk-to-ext-busy", lines)
        lines = "\n".join(problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  vm-integration: {pattern: {direct: "* CGN"}}
"""))
        self.assertIn("call-manager-fallback.vm-integration: {'pattern': {'direct': '* CGN'}} is not allowed; "
                      "needs call-manager-fallback.voicemail", lines)

    def test_connectionLimitProblems(self):
        """
        Connection caps must be positive integers, and the per-host cap may
        not exceed C{max-connections}.
        """
        lines = problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  max-connections: 0
""")
        self.assertIn("call-manager-fallback.max-connections: 0 is not allowed; expected an integer from 1 to 100000",
                      "\n".join(lines))
        lines = problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  max-connections: 10
  max-connections-per-host: 11
""")
        self.assertIn("call-manager-fallback.max-connections-per-host: 11 is not allowed; expected at most "
                      "max-connections (10)", "\n".join(lines))

    def test_badReservationTimeout(self):
        """
        A reservation timeout that is not a number of days from 1 to 3650
        (or 0/none) is reported at its YAML path.
        """
        for bad, shown in (("-1", "-1"), ("3651", "3651"), ("30d", "'30d'"), ("true", "True"), ("1.5", "1.5")):
            lines = problemsOf(self, MINIMAL + f"""
call-manager-fallback:
  ip-source-address: 127.0.0.1
  auto-assign: {{dn-range: "2000-2099", reservation-timeout-days: {bad}}}
""")
            self.assertEqual(lines, [
                f"router.yaml: call-manager-fallback.auto-assign.reservation-timeout-days: {shown} is not allowed;"
                " expected a number of days from 1 to 3650, or 0 or none for reservations that never expire"])

    def test_unknownTrustpoint(self):
        """
        The secure listener's trustpoint must be an identity trustpoint
        under C{pki:}.
        """
        lines = problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  trustpoint: nosuch
""")
        self.assertIn("router.yaml: call-manager-fallback.trustpoint: 'nosuch' is not allowed; "
                      "expected the name of an identity trustpoint under pki.trustpoints", lines)

    def test_transferPatterns(self):
        """
        C{transfer-pattern} entries are dial patterns; one ending in
        C{blind} (IOS C{transfer-pattern 2... blind}) is also a blind one.
        """
        config = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  transfer-pattern: ["9....", "2... blind", 4000]
""")
        cmf = config.callManagerFallback
        self.assertEqual((cmf.transferPatterns, cmf.blindTransferPatterns), (("9....", "2...", "4000"), ("2...",)))

    def test_transferPatternProblems(self):
        """
        A bad C{transfer-pattern} entry, with or without C{blind}, keeps
        the message it always had.
        """
        lines = problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  transfer-pattern: ["2x.. blind", "blind", "9... consult"]
""")
        for index, value in enumerate(["'2x.. blind'", "'blind'", "'9... consult'"]):
            self.assertIn("router.yaml: call-manager-fallback.transfer-pattern[%d]: %s is not allowed; "
                          "expected a dial pattern such as ..... or 9T" % (index, value), lines)

    def test_dialplanPatterns(self):
        """
        C{dialplan-patterns} are read into L{DialplanPattern}s.
        """
        config = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  dialplan-patterns:
    - {tag: 2, pattern: "40855501..", extension-length: 3, extension-pattern: "4..", no-reg: true}
    - {tag: 1, pattern: 40833350.., extension-length: 4}
""")
        self.assertEqual(config.callManagerFallback.dialplanPatterns, (
            DialplanPattern(2, "40855501..", 3, "4..", True), DialplanPattern(1, "40833350..", 4)))

    def test_dialplanPatternProblems(self):
        """
        A bad C{dialplan-patterns} entry is reported at its YAML path with
        what is wrong.
        """
        lines = problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  dialplan-patterns:
    - {tag: 1, pattern: "408.550123", extension-length: 4}
    - {tag: 6, pattern: "40855501..", extension-length: 4}
    - {pattern: "40855501..", extension-length: 4, colour: red}
    - {tag: 2, pattern: "40855501..", extension-length: 3, extension-pattern: "4."}
    - {tag: 3, pattern: "4085550123", extension-length: 4}
    - {tag: 3, pattern: "4085550124", extension-length: 4}
    - x
""")
        text = "\n".join(lines)
        self.assertIn("call-manager-fallback.dialplan-patterns[0]: {'tag': 1, 'pattern': '408.550123', "
                      "'extension-length': 4} is not allowed; every '.' must be in the last extension-length "
                      "digits (or give extension-pattern)", text)
        self.assertIn("call-manager-fallback.dialplan-patterns[1].tag: 6 is not allowed; expected an integer "
                      "from 1 to 5", text)
        self.assertIn("call-manager-fallback.dialplan-patterns[2].tag", text)
        self.assertIn("call-manager-fallback.dialplan-patterns[2].colour", text)
        self.assertIn("call-manager-fallback.dialplan-patterns[3]: ", text)
        self.assertIn("extension-pattern must have extension-length (3) characters", text)
        self.assertIn("call-manager-fallback.dialplan-patterns[5].tag: 3 is not allowed; each dialplan-pattern "
                      "needs its own tag", text)
        self.assertIn("call-manager-fallback.dialplan-patterns[6]: 'x' is not allowed; expected a mapping such as "
                      "{tag: 1, pattern: 40855501.., extension-length: 4}", text)
        self.assertEqual(len(lines), 7, lines)

    def test_aliases(self):
        """
        C{aliases} are read into L{Alias}es (the IOS example C{alias 1 60..
        to 5001 preference 1 cfw 2000 timeout 10}); C{huntstop} defaults on
        and C{huntstop: false} is IOS C{no huntstop}.
        """
        config = loadString(MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  huntstop: false
  aliases:
    - {tag: 1, pattern: 60.., to: "5001", preference: 1, cfw: {number: "2000", timeout: 10}}
    - {tag: 50, pattern: "1[0-5]0.", to: 5002, huntstop: true}
""")
        cmf = config.callManagerFallback
        self.assertEqual(cmf.aliases, (Alias(1, "60..", "5001", 1, "2000", 10), Alias(50, "1[0-5]0.", "5002",
                                                                                     huntstop=True)))
        self.assertFalse(cmf.huntstop)
        self.assertTrue(loadString(MINIMAL + "call-manager-fallback: {ip-source-address: 127.0.0.1}\n")
                        .callManagerFallback.huntstop)

    def test_aliasProblems(self):
        """
        A bad C{aliases} entry is reported at its YAML path with what is
        wrong (IOS ranges: tag 1-50, preference 0-10, cfw timeout 3-60000).
        """
        lines = problemsOf(self, MINIMAL + """
call-manager-fallback:
  ip-source-address: 127.0.0.1
  aliases:
    - {tag: 51, pattern: 60.., to: "5001"}
    - {tag: 1, pattern: "6[0-", to: "5001"}
    - {tag: 2, pattern: 60.., to: "50x1", preference: 11}
    - {tag: 3, pattern: 60.., to: "5001", cfw: {number: "2000", timeout: 2}}
    - {tag: 4, pattern: 60.., to: "5001", cfw: {timeout: 10}}
    - {tag: 5, pattern: 60.., to: "5001"}
    - {tag: 5, pattern: 70.., to: "5001"}
    - {tag: 6, pattern: 60.., to: "5001", colour: red}
    - x
""")
        text = "\n".join(lines)
        self.assertIn("call-manager-fallback.aliases[0].tag: 51 is not allowed; expected an integer from 1 to 50",
                      text)
        self.assertIn("call-manager-fallback.aliases[1].pattern: '6[0-' is not allowed; bad destination-pattern",
                      text)
        self.assertIn("call-manager-fallback.aliases[2].to: '50x1' is not allowed; expected a directory number",
                      text)
        self.assertIn("call-manager-fallback.aliases[2].preference: 11 is not allowed; expected an integer from "
                      "0 to 10", text)
        self.assertIn("call-manager-fallback.aliases[3].cfw.timeout: 2 is not allowed; expected an integer from "
                      "3 to 60000", text)
        self.assertIn("call-manager-fallback.aliases[4].cfw.number", text)
        self.assertIn("call-manager-fallback.aliases[6].tag: 5 is not allowed; each alias needs its own tag", text)
        self.assertIn("router.yaml: call-manager-fallback.aliases[7].colour: 'red' is not allowed; unknown key; "
                      "known keys here: "
                      "cfw, huntstop, pattern, preference, tag, to", lines)
        self.assertIn("call-manager-fallback.aliases[8]: 'x' is not allowed; expected a mapping such as "
                      "{tag: 1, pattern: 60.., to: 5001}", text)
        self.assertEqual(len(lines), 9, lines)
