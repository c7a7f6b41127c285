"""
Tests for L{srst.tools.phone}, the C{srst-phone} command line: its
parser, C{issue-lsc}, and C{register} against
L{tests.phonehelpers.MiniRouter} on real 127.0.0.1 sockets, plain and TLS.
"""

import io
import json
import os

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.tools import phone as cli
from tests.phonehelpers import (
    MAC,
    RouterFixture,
    mutualTLS,
    names,
    synchronously,
)
from tests.pkihelpers import makeCA, writeKey, writePem
from tests.routerhelpers import bounded


class ParserTests(SynchronousTestCase):
    """
    The C{srst-phone} command line.
    """

    def parse(self, *argv):
        return cli.makeParser().parse_args(list(argv))

    def assertUsageError(self, *argv):
        self.patch(cli.argparse.ArgumentParser, "_print_message",
                   lambda *a, **k: None)
        e = self.assertRaises(SystemExit, self.parse, *argv)
        self.assertEqual(e.code, 2)

    def test_defaults(self):
        """register defaults to one 7970 on 127.0.0.1:2000 at protocol 11."""
        args = self.parse("register")
        self.assertEqual((args.host, args.port, args.count, args.mac),
                         ("127.0.0.1", 2000, 1, "000000000001"))
        self.assertEqual(args.deviceType, 30006)
        self.assertEqual(args.protocolVersion, 11)
        self.assertEqual(args.concurrency, 100)
        self.assertIsNone(args.hold)
        self.assertFalse(args.tls)

    def test_options(self):
        """Every register option is parsed into its value."""
        args = self.parse("register", "--host", "127.0.0.2", "--port", "2001",
                          "--count", "50", "--mac", "00:00:00:00:01:00",
                          "--type", "7912", "--version", "6",
                          "--concurrency", "8", "--hold", "1.5", "--alarm",
                          "--json")
        self.assertEqual((args.host, args.port, args.count, args.mac),
                         ("127.0.0.2", 2001, 50, "000000000100"))
        self.assertEqual(args.deviceType, 30007)
        self.assertEqual((args.protocolVersion, args.concurrency, args.hold),
                         (6, 8, 1.5))
        self.assertTrue(args.alarm and args.json)
        self.assertFalse(args.decodeAll)
        self.assertTrue(self.parse("register", "--decode-all").decodeAll)

    def test_tlsPort(self):
        """With --tls the port defaults to 2443."""
        args = self.parse("register", "--tls", "--ca", "ca.pem", "--cert",
                          "c.pem", "--key", "c.key")
        self.assertEqual(args.port, 2443)
        self.assertTrue(args.verifyHost)

    def test_issueFromCA(self):
        """--issue-from-ca with --ca-key selects per-phone LSCs."""
        args = self.parse("register", "--tls", "--ca", "ca.pem",
                          "--issue-from-ca", "capf.pem", "--ca-key",
                          "capf.key", "--lsc-key-type", "rsa",
                          "--share-key", "--no-verify-host")
        self.assertEqual((args.issueFromCA, args.caKey, args.lscKeyType),
                         ("capf.pem", "capf.key", "rsa"))
        self.assertTrue(args.shareKey)
        self.assertFalse(args.verifyHost)

    def test_usageErrors(self):
        """Inconsistent or bad options are usage errors (exit 2)."""
        for argv in [
            ("register", "--cert", "c.pem", "--key", "c.key"),
            ("register", "--tls"),
            ("register", "--tls", "--ca", "ca", "--cert", "c.pem"),
            ("register", "--tls", "--ca", "ca", "--issue-from-ca", "x"),
            ("register", "--tls", "--ca", "ca", "--cert", "c", "--key", "k",
             "--issue-from-ca", "x", "--ca-key", "y"),
            ("register", "--type", "nokia"),
            ("register", "--mac", "xyz"),
            ("register", "--count", "0"),
            ("register", "--mac", "FFFFFFFFFFFF", "--count", "2"),
            ("register", "--version", "300"),
            ("register", "--hold", "-1"),
            ("issue-lsc", "--ca-cert", "a"),
            ("issue-lsc", "--ca-cert", "a", "--ca-key", "b", "--mac", "1",
             "--out-cert", "c", "--out-key", "d"),
            ("issue-lsc", "--ca-cert", "a", "--ca-key", "b", "--mac",
             MAC, "--out-cert", "c", "--out-key", "d", "--not-after", "x"),
            (),
        ]:
            self.assertUsageError(*argv)

    def test_issueLSCOptions(self):
        """issue-lsc parses the validity window as UTC times."""
        args = self.parse("issue-lsc", "--ca-cert", "a", "--ca-key", "b",
                          "--mac", "00:11:22:33:44:55", "--out-cert", "c",
                          "--out-key", "d", "--not-before", "2020-01-01",
                          "--not-after", "2020-02-01T00:00:00+00:00",
                          "--chain")
        self.assertEqual(args.mac, MAC)
        self.assertEqual(args.notBefore.isoformat(),
                         "2020-01-01T00:00:00+00:00")
        self.assertTrue(args.chain)


class EndingTests(SynchronousTestCase):
    """
    C{_Ending}: the hang-up and unregister of C{call}, C{answer} and C{run},
    whether the flow ends or Ctrl-C's shutdown trigger asks first.
    """

    def test_runsOnce(self) -> None:
        """
        The ending runs once, when first asked; every caller (the flow and
        the shutdown trigger) waits for its one exit code.
        """
        runs: list[Deferred[int]] = []

        async def end() -> int:
            runs.append(Deferred())
            return await runs[-1]

        ending = cli._Ending(end)
        self.assertFalse(ending.started)
        first = ending()
        self.assertTrue(ending.started)
        ending.start()
        second = ending()
        self.assertEqual(len(runs), 1)
        self.assertNoResult(first)
        runs[0].callback(cli.EXIT_OK)
        self.assertEqual((self.successResultOf(first), self.successResultOf(second),
                          self.successResultOf(ending.wait())), (cli.EXIT_OK,) * 3)
        self.assertEqual(len(runs), 1)


class IssueCommandTests(SynchronousTestCase):
    """
    C{srst-phone issue-lsc}.
    """

    def setUp(self):
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.ca = makeCA("CAPF-cli")
        self.caCert = writePem(self.directory, "ca.pem", self.ca.certificate)
        self.caKey = writeKey(self.directory, "ca.key", self.ca.key)

    def runCommand(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        code = self.successResultOf(cli.run(Clock(), argv, out, err,
                                            synchronously))
        return code, out.getvalue(), err.getvalue()

    def test_issue(self):
        """issue-lsc writes an LSC for the MAC, signed by the CA, and says so."""
        from srst.pki.trust import loadCertificateFile
        certPath = os.path.join(self.directory, "lsc.pem")
        code, out, err = self.runCommand(
            "issue-lsc", "--ca-cert", self.caCert, "--ca-key", self.caKey,
            "--mac", "00:11:22:33:44:55", "--out-cert", certPath,
            "--out-key", os.path.join(self.directory, "lsc.key"),
            "--not-before", "2020-01-01", "--not-after", "2020-01-02")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("CN=SEP001122334455", out)
        [certificate] = loadCertificateFile(certPath)
        certificate.verify_directly_issued_by(self.ca.certificate)
        self.assertEqual(certificate.not_valid_after_utc.isoformat(),
                         "2020-01-02T00:00:00+00:00")

    def test_missingCA(self):
        """An unreadable CA file exits 3 naming the file."""
        code, out, err = self.runCommand(
            "issue-lsc", "--ca-cert", os.path.join(self.directory, "nope"),
            "--ca-key", self.caKey, "--mac", MAC, "--out-cert", "c",
            "--out-key", "k")
        self.assertEqual(code, 3)
        self.assertIn("nope", err)

    def test_emptyWindow(self):
        """A window that ends before it starts exits 3 with the reason."""
        code, out, err = self.runCommand(
            "issue-lsc", "--ca-cert", self.caCert, "--ca-key", self.caKey,
            "--mac", MAC, "--out-cert", os.path.join(self.directory, "c"),
            "--out-key", os.path.join(self.directory, "k"),
            "--not-before", "2020-01-02", "--not-after", "2020-01-01")
        self.assertEqual(code, 3)
        self.assertIn("cannot issue LSC", err)


class RegisterCommandTests(TestCase):
    """
    C{srst-phone register} against a MiniRouter on 127.0.0.1.
    """

    timeout = 30

    @bounded
    def test_cliRegister(self):
        """srst-phone register --hold 0 registers, prints JSON figures and exits 0."""
        router = RouterFixture(self)
        out, err = io.StringIO(), io.StringIO()
        code = yield cli.run(reactor, [
            "register", "--port", str(router.portNumber), "--count", "3",
            "--hold", "0", "--json"], out, err, synchronously)
        self.assertEqual((code, err.getvalue()), (0, ""))
        figures = json.loads(out.getvalue().splitlines()[0])
        self.assertEqual(figures["registered"], 3)
        self.assertEqual(names(router.factory.received).count("Unregister"), 3)

    @bounded
    def test_cliIncomplete(self):
        """srst-phone register exits 1 when a phone is refused."""
        router = RouterFixture(self, refuse={"SEP000000000001"})
        out, err = io.StringIO(), io.StringIO()
        code = yield cli.run(reactor, [
            "register", "--port", str(router.portNumber), "--hold", "0"],
            out, err, synchronously)
        self.assertEqual(code, 1)
        self.assertIn("registered 0/1 phones", out.getvalue())
        self.assertIn("1 rejected", out.getvalue())


class RegisterTLSCommandTests(TestCase):
    """
    C{srst-phone register --tls} against a MiniRouter that requires a
    client certificate from the phone CA.
    """

    timeout = 30

    def setUp(self):
        self.routerCA, self.phoneCA, self.options = mutualTLS()

    @bounded
    def test_cliIssueFromCA(self):
        """srst-phone register --tls --issue-from-ca mints an LSC per phone and registers them all."""
        router = RouterFixture(self, tlsOptions=self.options)
        directory = self.mktemp()
        os.makedirs(directory)
        out, err = io.StringIO(), io.StringIO()
        code = yield cli.run(reactor, [
            "register", "--port", str(router.portNumber), "--count", "2",
            "--tls", "--ca",
            writePem(directory, "router-ca.pem", self.routerCA.certificate),
            "--issue-from-ca",
            writePem(directory, "capf.pem", self.phoneCA.certificate),
            "--ca-key", writeKey(directory, "capf.key", self.phoneCA.key),
            "--hold", "0"], out, err, synchronously)
        self.assertEqual((code, err.getvalue()), (0, ""))
        self.assertIn("registered 2/2 phones", out.getvalue())
        self.assertIn("unregistered 2 phones (0 failed)", out.getvalue())

    @bounded
    def test_cliBadFiles(self):
        """srst-phone register exits 3 when a TLS file cannot be read."""
        out, err = io.StringIO(), io.StringIO()
        code = yield cli.run(reactor, [
            "register", "--tls", "--ca", "/nonexistent/ca.pem", "--hold",
            "0"], out, err, synchronously)
        self.assertEqual(code, 3)
        self.assertIn("/nonexistent/ca.pem", err.getvalue())
