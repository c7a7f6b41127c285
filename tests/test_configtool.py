"""
Tests for L{srst.tools.configtool}, the C{srst-config} console script, run
as a real subprocess.
"""

from __future__ import annotations

import os
import sys

import yaml
from twisted.internet import reactor
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from srst.config import load
from tests.routerhelpers import ROOT, bounded, stateDirectory

SEED = os.path.join(ROOT, "tests", "fixtures", "seed")


def runTool(*argv: str, path: str | None = None):
    """
    Run C{python -m srst.tools.configtool ARGV...} from the repository root.

    @return: a L{Deferred} firing with (stdout, stderr, exit code) as text.
    """
    env = dict(os.environ, PYTHONPATH=ROOT)
    d = getProcessOutputAndValue(sys.executable, ["-m", "srst.tools.configtool", *argv], env=env,
                                 path=path or ROOT, reactor=reactor)
    return d.addCallback(lambda r: (r[0].decode(), r[1].decode(), r[2]))


class ImportIosTests(TestCase):
    """
    C{srst-config import-ios}: the YAML, the skipped lines and the exit
    status.
    """

    @bounded(timeout=30)
    async def test_nothingSkipped(self):
        """
        The seed's Configuration 2 imports whole: the YAML on stdout, exit
        0, nothing on stderr.
        """
        out, err, code = await runTool("import-ios", os.path.join(SEED, "configuration-2.txt"))
        self.assertEqual((err, code), ("", 0))
        self.assertTrue(out.startswith("# srst router configuration imported from configuration-2.txt"
                                       " (srst-config import-ios)\n"))
        self.assertEqual(list(yaml.safe_load(out)), ["access-lists", "control-plane"])

    @bounded(timeout=30)
    async def test_skippedToFiles(self):
        """
        The whole seed, addresses mapped to loopback, into a file: exit 1,
        each skipped line on stderr, the phone CA chains written beside the
        YAML, which loads.
        """
        directory = stateDirectory(self)
        seed = os.path.join(directory, "seed.txt")
        with open(seed, "w") as f:
            for name in ("configuration-1.txt", "configuration-2.txt"):
                with open(os.path.join(SEED, name)) as part:
                    f.write(part.read())
        output = os.path.join(directory, "router.yaml")
        out, err, code = await runTool("import-ios", seed, "-o", output, "--map-address", "10.1.1.22=127.0.0.1",
                                       "--map-address", "10.1.1.13=127.0.0.2")
        self.assertEqual((out, code), ("", 1))
        lines = err.splitlines()
        self.assertEqual(lines[:3], [f"srst-config: wrote {os.path.join(directory, name)}.pem"
                                     for name in ("7970", "PEM", "7960")])
        self.assertIn("line 21: database url nvram: srst keeps the CA database in state-dir (pki/server/<name>)",
                      lines)
        self.assertIn("line 244: ip classless: routing is the host's: srst does not route", lines)
        # A block not imported for one reason is one entry with its lines'
        # range (not one entry per certificate hex line); the count is of
        # lines.
        self.assertIn("lines 65-100: crypto pki certificate chain srstca (36 lines): needs the private key: srst"
                      " enrolls this trustpoint itself at start-up (the IOS router's key is not in the"
                      " configuration)", lines)
        self.assertEqual(len(lines), 3 + 10 + 1)
        self.assertEqual(lines[-1], "srst-config: 71 line(s) not imported")
        config = load(output)
        self.assertEqual([tp.certificates for tp in config.pki.phoneTrustpoints],
                         [(os.path.join(directory, f"{name}.pem"),) for name in ("7970", "PEM", "7960")])
        self.assertEqual(config.credentials.ipSourceAddress, "127.0.0.1")
        self.assertNotIn("does not load", err)

    @bounded(timeout=30)
    async def test_resultDoesNotLoad(self):
        """
        The seed's router and CallManager both mapped to 127.0.0.1 put the
        MGCP call agent on the gateway's own address and port: the tool
        says so as the router would at start-up, and exits 1.
        """
        directory = stateDirectory(self)
        output = os.path.join(directory, "router.yaml")
        out, err, code = await runTool("import-ios", os.path.join(SEED, "configuration-1.txt"), "-o", output,
                                       "--map-address", "10.1.1.22=127.0.0.1", "--map-address", "10.1.1.13=127.0.0.1")
        self.assertEqual((out, code), ("", 1))
        self.assertIn(f"srst-config: the result does not load: {output}: mgcp.call-agent: '127.0.0.1 2427' is not"
                      " allowed; the gateway's own address and port (mgcp.bind): the call agent is another host or"
                      " port", err.splitlines())

    @bounded(timeout=30)
    async def test_usage(self):
        """
        A missing command, a malformed or non-address C{--map-address}:
        the usage on stderr, exit 2.
        """
        configuration = os.path.join(SEED, "configuration-2.txt")
        for argv, message in [
            ((), "srst-config: error: the following arguments are required: command"),
            (("import-ios", configuration, "--map-address", "10.1.1.22"),
             "srst-config: error: --map-address expects OLD=NEW, not '10.1.1.22'"),
            (("import-ios", configuration, "--map-address", "router=127.0.0.1"),
             "srst-config: error: --map-address router=127.0.0.1: router is not an IP address"),
        ]:
            out, err, code = await runTool(*argv)
            self.assertEqual((out, code), ("", 2), argv)
            self.assertTrue(err.startswith("usage: srst-config"), err)
            self.assertEqual(err.splitlines()[-1], message)

    @bounded(timeout=30)
    async def test_files(self):
        """
        An unreadable input or an unwritable output: the reason, exit 3.
        """
        directory = stateDirectory(self)
        missing = os.path.join(directory, "missing.txt")
        out, err, code = await runTool("import-ios", missing)
        self.assertEqual((out, err, code), ("", f"srst-config: cannot read {missing}: No such file or directory\n", 3))
        binary = os.path.join(directory, "binary.txt")
        with open(binary, "wb") as f:
            f.write(b"\xff\xfe")
        out, err, code = await runTool("import-ios", binary)
        self.assertEqual((out, err, code), ("", f"srst-config: cannot read {binary}: not UTF-8 text\n", 3))
        output = os.path.join(directory, "nowhere", "router.yaml")
        out, err, code = await runTool("import-ios", os.path.join(SEED, "configuration-2.txt"), "-o", output)
        self.assertEqual((out, err, code), ("", f"srst-config: cannot write {output}: No such file or directory\n", 3))
