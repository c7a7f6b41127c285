"""
Tests for L{srst._files}: state directories are private whatever the umask.
"""

import os
import stat

from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from srst._files import ensureDirectory, makeDirectory


def modeOf(path):
    """
    @return: the permission bits of C{path}.
    """
    return stat.S_IMODE(os.stat(path).st_mode)


def withUmask(testCase, umask):
    """
    Set the process umask for the rest of the test.
    """
    testCase.addCleanup(os.umask, os.umask(umask))


class MakeDirectoryTests(SynchronousTestCase):
    """
    L{makeDirectory}.
    """

    def test_everyLevelPrivateUnderOpenUmask(self):
        """
        Under umask 000 every directory created, parents included, is 0700
        (C{os.makedirs} would leave the parents 0777).
        """
        withUmask(self, 0)
        base = self.mktemp()
        path = os.path.join(base, "pki", "server", "srstcaserver")
        makeDirectory(path)
        for directory in [base, os.path.join(base, "pki"), os.path.join(base, "pki", "server"), path]:
            self.assertEqual(modeOf(directory), 0o700, directory)

    def test_existingLeftAlone(self):
        """
        A directory that exists keeps its permissions (the operator's
        state-dir may be shared).
        """
        path = self.mktemp()
        os.mkdir(path)
        os.chmod(path, 0o755)
        with capturedLogs() as events:
            makeDirectory(os.path.join(path, "pki"))
        self.assertEqual(modeOf(path), 0o755)
        self.assertEqual(modeOf(os.path.join(path, "pki")), 0o700)
        self.assertEqual(events, [])

    def test_fileInTheWay(self):
        """
        A file where a directory should be raises L{OSError} naming it.
        """
        path = self.mktemp()
        with open(path, "w"):
            pass
        error = self.assertRaises(OSError, makeDirectory, os.path.join(path, "pki"))
        self.assertEqual(error.filename, os.path.abspath(path))


class EnsureDirectoryTests(SynchronousTestCase):
    """
    L{ensureDirectory}.
    """

    def test_createsPrivate(self):
        """
        A missing directory is created 0700 under umask 000.
        """
        withUmask(self, 0)
        path = os.path.join(self.mktemp(), "trustpoints")
        ensureDirectory(path)
        self.assertEqual(modeOf(path), 0o700)
        self.assertEqual(modeOf(os.path.dirname(path)), 0o700)

    def test_tightensOpenDirectory(self):
        """
        An existing directory open to others (left by a run under a loose
        umask) is tightened to 0700, with a warning saying so.
        """
        path = self.mktemp()
        os.mkdir(path)
        os.chmod(path, 0o777)
        with capturedLogs() as events:
            ensureDirectory(path)
        self.assertEqual(modeOf(path), 0o700)
        [event] = events
        self.assertEqual(event["log_namespace"], "srst.files")
        self.assertEqual(event["log_level"].name, "warn")
        self.assertEqual((event["path"], event["old"], event["new"]), (path, "0777", "0700"))

    def test_privateDirectoryQuiet(self):
        """
        A directory that is already private is left alone, silently.
        """
        path = self.mktemp()
        os.mkdir(path, 0o700)
        os.chmod(path, 0o500)
        self.addCleanup(os.chmod, path, 0o700)
        with capturedLogs() as events:
            ensureDirectory(path)
        self.assertEqual(modeOf(path), 0o500)
        self.assertEqual(events, [])
