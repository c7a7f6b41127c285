"""
Tests for the CI guard against silent skips: L{tests.toolhelpers} (a
missing tool skips, or fails under C{SRST_REQUIRE_TOOLS=1}) and
C{.ci/summarize.py} (the closing line, failing on a skip that names a tool
CI must have).
"""

import importlib.util
import io
import os
import sys

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests import toolhelpers
from tests.routerhelpers import ROOT

_spec = importlib.util.spec_from_file_location("summarize", os.path.join(ROOT, ".ci", "summarize.py"))
summarize = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(summarize)

SKIPPED_TSHARK = """\
tests.test_x
  T
    test_a ...                                                          [SKIPPED]
    test_b ...                                                               [OK]

===============================================================================
[SKIPPED]
tshark not installed

tests.test_x.T.test_a
-------------------------------------------------------------------------------
Ran 2 tests in 0.002s

PASSED (skips=1, successes=1)
"""

SKIPPED_PLATFORM = SKIPPED_TSHARK.replace("tshark not installed",
                                          "needs 127.0.0.2 on the loopback interface (Linux)")


class ToolHelpersTests(SynchronousTestCase):
    """
    A missing tool or data file skips by default and fails when required.
    """

    def setUp(self):
        self.patch(os, "environ", dict(os.environ))
        os.environ.pop(toolhelpers.REQUIRE_TOOLS, None)

    def test_skipsByDefault(self):
        """
        Without SRST_REQUIRE_TOOLS a missing program skips, saying which.
        """
        error = self.assertRaises(SkipTest, toolhelpers.requireTool, "srst-no-such-tool")
        self.assertEqual(str(error), "srst-no-such-tool not installed")

    def test_failsWhenRequired(self):
        """
        With SRST_REQUIRE_TOOLS=1 a missing program or file is a failure
        (an AssertionError) naming it and the variable.
        """
        os.environ[toolhelpers.REQUIRE_TOOLS] = "1"
        error = self.assertRaises(toolhelpers.RequiredToolMissing, toolhelpers.requireTool, "srst-no-such-tool")
        self.assertIsInstance(error, AssertionError)
        self.assertEqual(str(error), "srst-no-such-tool not installed (SRST_REQUIRE_TOOLS=1: required, not skipped)")
        missing = os.path.join(self.mktemp(), "seed.txt")
        error = self.assertRaises(toolhelpers.RequiredToolMissing, toolhelpers.requireFile, missing, "the seed")
        self.assertIn(f"the seed is not present at {missing}", str(error))

    def test_presentTool(self):
        """
        A program on PATH is returned, required or not.
        """
        os.environ[toolhelpers.REQUIRE_TOOLS] = "1"
        self.assertTrue(toolhelpers.requireTool("sh").endswith("/sh"))


class SummarizeTests(SynchronousTestCase):
    """
    .ci/summarize.py prints the closing line and fails on a required skip.
    """

    def setUp(self):
        self.out, self.err = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", self.out)
        self.patch(sys, "stderr", self.err)

    def run_(self, text, status="0"):
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return summarize.main(path, status)

    def test_requiredToolSkipped(self):
        """
        A skip whose reason names tshark fails CI, though trial passed.
        """
        self.assertEqual(summarize.skippedTests(SKIPPED_TSHARK), [("tshark not installed", ["tests.test_x.T.test_a"])])
        self.assertEqual(self.run_(SKIPPED_TSHARK), 1)
        self.assertEqual(self.out.getvalue(), "trial: 1 passed, 0 failed, 1 skipped\n")
        self.assertEqual(self.err.getvalue(),
                         "ci: a required check did not run (tshark not installed): tests.test_x.T.test_a\n")

    def test_otherSkip(self):
        """
        A skip for another reason is counted but does not fail CI.
        """
        self.assertEqual(self.run_(SKIPPED_PLATFORM), 0)

    def test_failedOrMissing(self):
        """
        A failed run, a non-zero status or no summary at all fails.
        """
        self.assertEqual(self.run_(SKIPPED_PLATFORM.replace("PASSED (skips=1, successes=1)",
                                                            "FAILED (failures=1, successes=1)")), 1)
        self.assertEqual(self.run_(SKIPPED_PLATFORM, "1"), 1)
        self.assertEqual(self.run_("nothing\n"), 1)
