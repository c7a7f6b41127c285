"""
Tests for L{srst.pki.scepcommands}: C{crypto pki server <name> password
generate}.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from srst.admin.commands import CommandError, CommandTable
from srst.pki.scep import PkiStatus
from srst.pki.scepcommands import registerScepCommands
from srst.pki.scepserver import ChallengePasswords, ScepServer
from tests.scephelpers import START, Client, Now, rsaCertificateServer


class PasswordGenerateTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.now = Now()
        self.ca = rsaCertificateServer(os.path.join(self.mktemp(), "srstcaserver"), self.now, "manual")
        self.scep = ScepServer(self.ca, ChallengePasswords(self.now), now=self.now)
        self.table = CommandTable()
        registerScepCommands(self.table, self.scep)

    def dispatch(self, line: str) -> Any:
        command, variables = self.table.lookup(line.split())
        return command.handler(**variables)

    def test_generatedPasswordEnrolls(self) -> None:
        """
        The printed password lets one PKCSReq through at once under grant
        manual.
        """
        result = self.dispatch("crypto pki server srstcaserver password generate 10")
        header, password = result.text.split("\n")
        self.assertEqual(header, "% New one-time password for the next enrollment (valid 10 minutes):")
        self.assertEqual(result.data, {"password": password, "minutes": 10})
        client = Client(self.ca.caCertificate, "SEP001122334455", START)
        reply, [cert], _ = client.reply(self.scep.pkiOperation(client.pkcsReq(password)).der)
        self.assertEqual(reply.pkiStatus, PkiStatus.SUCCESS)
        self.assertEqual(self.ca.pendingRequests(), [])

    def test_defaultAndErrors(self) -> None:
        """
        The default lifetime is 60 minutes; a bad lifetime or server name is
        a clear error.
        """
        self.assertIn("(valid 60 minutes)", self.dispatch("crypto pki server srstcaserver password generate").text)
        e = self.assertRaises(CommandError, self.dispatch, "crypto pki server srstcaserver password generate 2000")
        self.assertEqual(str(e), "Invalid lifetime '2000': the password lifetime is 1-1440 minutes")
        e = self.assertRaises(CommandError, self.dispatch, "crypto pki server other password generate")
        self.assertEqual(str(e), "Certificate server other is not configured (configured: srstcaserver)")
