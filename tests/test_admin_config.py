"""
Tests for L{srst.admin.config}: the C{admin:} section of router.yaml.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.admin.config import AdminConfig, readAdmin
from srst.config import loadString
from srst.configreader import Reader
from tests.test_config import MINIMAL, problemsOf


class AdminConfigTests(SynchronousTestCase):
    """
    L{readAdmin}.
    """

    def test_defaultInStateDir(self):
        """
        Without C{admin:} the socket is C{srst.sock} in the state directory.
        """
        config = loadString(MINIMAL.replace("state-dir: var", "state-dir: /srv/srst"))
        self.assertEqual(config.admin, AdminConfig("/srv/srst/srst.sock"))

    def test_socket(self):
        """
        C{admin.socket} names the socket.
        """
        problems = []
        config = readAdmin(Reader({"socket": "/run/srst.sock"}, "admin", problems), "var")
        self.assertEqual((config, problems), (AdminConfig("/run/srst.sock"), []))

    def test_unknownKey(self):
        """
        An unknown key in C{admin:} is reported with its path.
        """
        lines = problemsOf(self, MINIMAL + "admin: {sock: x}\n")
        self.assertEqual(lines, [
            "router.yaml: admin.sock: 'x' is not allowed; unknown key; known keys here: socket",
        ])
