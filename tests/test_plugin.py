"""
Tests for the twistd plugin (twisted/plugins/srst_plugin.py) and
L{srst.service.Options}.
"""

import os

from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from srst.service import Options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PluginTests(SynchronousTestCase):
    """
    twistd finds the srst plugin.
    """

    def test_discovered(self):
        """
        "srst" is among the tapnames of the IServiceMaker plugins.
        """
        names = [p.tapname for p in getPlugins(IServiceMaker)]
        self.assertIn("srst", names)

    def test_noInitInPluginDirectory(self):
        """
        Neither twisted/ nor twisted/plugins/ in the checkout has an __init__.py
        (it would shadow Twisted's own plugin package).
        """
        self.assertFalse(os.path.exists(os.path.join(ROOT, "twisted", "__init__.py")))
        self.assertFalse(os.path.exists(os.path.join(ROOT, "twisted", "plugins", "__init__.py")))

    def test_optionsFromPlugin(self):
        """
        The plugin's options are srst.service.Options.
        """
        [maker] = [p for p in getPlugins(IServiceMaker) if p.tapname == "srst"]
        self.assertIs(maker.options, Options)


class OptionsTests(SynchronousTestCase):
    """
    --config is loaded and validated by postOptions.
    """

    def test_validConfig(self):
        """
        The shipped configuration parses into Options.routerConfig.
        """
        cwd = os.getcwd()
        os.chdir(ROOT)
        self.addCleanup(os.chdir, cwd)
        options = Options()
        options.parseOptions(["--config", "etc/router.yaml"])
        self.assertEqual(options.routerConfig.hostname, "branch-router")

    def test_badConfigIsUsageError(self):
        """
        A configuration error becomes one UsageError whose lines name the YAML
        paths, so twistd prints them and exits without a traceback.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("hostname: 'a b'\ncredentials: {port: -1}\n")
        options = Options()
        error = self.assertRaises(usage.UsageError, options.parseOptions, ["--config", path])
        lines = str(error).splitlines()
        self.assertTrue(any("hostname: 'a b'" in l for l in lines), lines)
        self.assertTrue(any("credentials.port: -1" in l for l in lines), lines)
        self.assertTrue(any("credentials.ip-source-address: missing" in l for l in lines), lines)

    def test_missingConfig(self):
        """
        A missing configuration file is reported by name.
        """
        options = Options()
        error = self.assertRaises(usage.UsageError, options.parseOptions, ["--config", "/nonexistent.yaml"])
        self.assertIn("/nonexistent.yaml", str(error))
