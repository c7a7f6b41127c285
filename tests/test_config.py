"""
Tests for L{srst.config}: router.yaml to frozen objects, and errors naming
the YAML path, the bad value and what is allowed.
"""

import ipaddress
import os

from twisted.trial.unittest import SynchronousTestCase

from srst import config
from srst.config import ConfigError, load, loadString

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MINIMAL = """
hostname: branch-router
state-dir: var
pki:
  server: {name: srstcaserver, issuer-name: CN=srstcaserver}
  trustpoints:
    srstca: {enrollment: {server: srstcaserver}, subject-name: CN=branch-router}
credentials: {ip-source-address: 127.0.0.1, port: 0, trustpoint: srstca}
"""


def problemsOf(test, text):
    """
    Load C{text}, which must fail, and return its problem lines.
    """
    error = test.assertRaises(ConfigError, loadString, text, "router.yaml")
    return str(error).splitlines()


class LoadTests(SynchronousTestCase):
    """
    Loading valid configurations.
    """

    def setUp(self):
        self.cwd = os.getcwd()
        os.chdir(ROOT)
        self.addCleanup(os.chdir, self.cwd)

    def test_shippedConfiguration(self):
        """
        The shipped etc/router.yaml loads, with the seed's values.
        """
        c = load(os.path.join("etc", "router.yaml"))
        self.assertEqual(c.hostname, "branch-router")
        self.assertEqual(c.credentials.ipSourceAddress, "127.0.0.1")
        self.assertEqual(c.credentials.port, 2445)
        self.assertEqual(c.credentials.trustpoint, "srstca")
        self.assertEqual(c.pki.server.name, "srstcaserver")
        self.assertEqual(c.pki.server.grant, "auto")
        self.assertEqual(c.pki.server.databaseLevel, "complete")
        self.assertEqual([tp.name for tp in c.pki.phoneTrustpoints], ["7970", "PEM", "7960"])
        self.assertEqual(c.admin.socket, "var/srst.sock")
        self.assertEqual((c.httpServer.address, c.httpServer.port), ("127.0.0.1", 8080))
        self.assertEqual(c.pki.server.cdpUrl, "http://127.0.0.1:8080/crl/srstcaserver.crl")
        acl = c.accessLists[140]
        self.assertEqual(len(acl.entries), 3)
        self.assertEqual(acl.entries[0].source, ipaddress.ip_network("127.0.0.1/32"))
        self.assertEqual(acl.entries[1].source, None)
        [policyClass] = c.controlPlane.classes
        self.assertEqual(policyClass.classMap.name, "sccp-class")
        self.assertEqual(policyClass.police.rateBps, 8000)
        self.assertEqual(policyClass.police.conformAction, "drop")

    def test_portsMayBeZero(self):
        """
        Port 0 (ephemeral) is accepted so tests can run servers side by side.
        """
        c = loadString(MINIMAL)
        self.assertEqual(c.credentials.port, 0)

    def test_frozen(self):
        """
        Configuration objects cannot be changed after loading.
        """
        c = loadString(MINIMAL)
        self.assertRaises(AttributeError, setattr, c, "hostname", "x")

class ErrorTests(SynchronousTestCase):
    """
    Every problem is reported, one line each, with its YAML path.
    """

    def test_yamlSyntaxError(self):
        """
        A YAML syntax error names the line.
        """
        [line] = problemsOf(self, "hostname: [unclosed\n")
        self.assertIn("router.yaml: <yaml>", line)
        self.assertIn("YAML syntax error", line)

    def test_unknownKey(self):
        """
        An unknown key is rejected with its path and the known keys.
        """
        lines = problemsOf(self, MINIMAL + "colour: blue\n")
        self.assertEqual(len(lines), 1)
        self.assertIn("router.yaml: colour: 'blue' is not allowed; unknown key", lines[0])
        self.assertIn("hostname", lines[0])

    def test_nestedUnknownKey(self):
        """
        Unknown keys deep in a section name their full path.
        """
        lines = problemsOf(self, MINIMAL.replace("issuer-name:", "issuer:"))
        self.assertTrue(any("pki.server.issuer" in l for l in lines), lines)

    def test_wrongTypeAndChoice(self):
        """
        Wrong types and values outside a choice are each reported.
        """
        text = MINIMAL.replace("port: 0,", "port: seventy,").replace(
            "issuer-name: CN=srstcaserver", "issuer-name: CN=srstcaserver, grant: sometimes")
        lines = problemsOf(self, text)
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(any("credentials.port: 'seventy'" in l and "integer from 0 to 65535" in l for l in lines))
        self.assertTrue(any("pki.server.grant: 'sometimes'" in l and "auto, manual" in l for l in lines))

    def test_badAddress(self):
        """
        An address that is not an IP literal is rejected.
        """
        lines = problemsOf(self, MINIMAL.replace("ip-source-address: 127.0.0.1", "ip-source-address: localhost"))
        self.assertIn("credentials.ip-source-address: 'localhost'", lines[0])

    def test_missingConfigFile(self):
        """
        A configuration file that does not exist is one clear line.
        """
        error = self.assertRaises(ConfigError, load, "/nonexistent/router.yaml")
        self.assertIn("/nonexistent/router.yaml", str(error))
        self.assertIn("cannot read it", str(error))

    def test_unknownTrustpointReference(self):
        """
        credentials.trustpoint must name an identity trustpoint.
        """
        lines = problemsOf(self, MINIMAL.replace("trustpoint: srstca", "trustpoint: nosuch"))
        self.assertIn("credentials.trustpoint: 'nosuch'", lines[0])

    def test_errorsListedTogether(self):
        """
        Several problems in different sections all appear, one per line.
        """
        text = MINIMAL.replace("hostname: branch-router", "hostname: 'bad host!'") + "admin: {socket: 5, extra: 1}\n"
        lines = problemsOf(self, text)
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(all(l.startswith("router.yaml: ") for l in lines))

    def test_emptyFile(self):
        """
        An empty file (or one holding only comments) is an error, not a
        router with no services.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("# call-manager-fallback:\n#   max-ephones: 15\n")
        error = self.assertRaises(ConfigError, load, path)
        self.assertEqual(str(error), f"{path}: <document>: empty (nothing but comments or null);"
                                     " expected a mapping of keys to values")

    def test_duplicateKey(self):
        """
        A key given twice is an error naming both lines (the last value used
        to win silently).
        """
        lines = problemsOf(self, MINIMAL + "state-dir: elsewhere\n")
        self.assertEqual(lines, ["router.yaml: state-dir: duplicate key at line 9 (first at line 3)"])

    def test_tooDeep(self):
        """
        Nesting past Python's recursion limit is one line, not a
        L{RecursionError}.
        """
        [line] = problemsOf(self, MINIMAL + "x: " + "[" * 2000 + "]" * 2000 + "\n")
        self.assertEqual(line, "router.yaml: <yaml>: nested deeper than 64 levels at line 9 column 67")

    def test_exportedNames(self):
        """
        The module exports its loader and error type.
        """
        self.assertIn("load", config.__all__)
        self.assertIs(config.ConfigError, ConfigError)
