"""
Tests for L{srst.admin.commands}, the operator command table contract.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.admin.commands import (
    Command,
    CommandError,
    CommandResult,
    CommandTable,
    DebugRequest,
    InvalidInput,
)


def handler(**variables):
    return CommandResult("ok", variables)


class CommandMatchTests(SynchronousTestCase):
    """
    Tests for L{Command.match}.
    """

    def test_literal(self):
        """
        Literal words match case-insensitively and yield no variables.
        """
        command = Command(("show", "credentials"), handler)
        self.assertEqual(command.match(["SHOW", "Credentials"]), {})
        self.assertIsNone(command.match(["show", "ephone"]))

    def test_variable(self):
        """
        C{<name>} matches any word, keeping its case, under its name with
        hyphens turned into underscores.
        """
        command = Command(("crypto", "pki", "server", "<name>", "grant", "<request-id>"), handler)
        self.assertEqual(
            command.match(["crypto", "pki", "server", "SrstCA", "grant", "all"]),
            {"name": "SrstCA", "request_id": "all"},
        )

    def test_optional(self):
        """
        A trailing C{[<var>]} may be given or left out.
        """
        command = Command(("show", "ephone", "[<filter>]"), handler)
        self.assertEqual(command.match(["show", "ephone"]), {})
        self.assertEqual(command.match(["show", "ephone", "offhook"]), {"filter": "offhook"})

    def test_wrongLength(self):
        """
        Too few or too many words do not match.
        """
        command = Command(("show", "ephone", "[<filter>]"), handler)
        self.assertIsNone(command.match(["show"]))
        self.assertIsNone(command.match(["show", "ephone", "offhook", "extra"]))
        self.assertIsNone(Command(("show", "credentials"), handler).match([]))


class CommandTableTests(SynchronousTestCase):
    """
    Tests for L{CommandTable}.
    """

    def setUp(self):
        self.table = CommandTable()

    def test_lookup(self):
        """
        C{lookup} returns the registered command and its variables, and the
        handler runs with them as keyword arguments.
        """
        self.table.add("show ephone [<filter>]", handler, help="registered phones")
        command, variables = self.table.lookup(["show", "ephone", "offhook"])
        self.assertEqual(command.help, "registered phones")
        self.assertFalse(command.streaming)
        self.assertEqual(command.handler(**variables), CommandResult("ok", {"filter": "offhook"}))

    def test_literalWins(self):
        """
        When a literal pattern and a variable pattern both match, the literal
        one is chosen, whatever the registration order.
        """
        self.table.add("show crypto pki server [<name>]", lambda name=None: "server")
        self.table.add("show crypto pki server requests", lambda: "requests")
        command, variables = self.table.lookup(["show", "crypto", "pki", "server", "requests"])
        self.assertEqual((command.handler(**variables), variables), ("requests", {}))
        command, variables = self.table.lookup(["show", "crypto", "pki", "server", "srstcaserver"])
        self.assertEqual(variables, {"name": "srstcaserver"})

    def test_invalidInput(self):
        """
        Words matching no command raise L{InvalidInput}, a L{CommandError}
        reading C{Invalid input detected} and keeping the words.
        """
        self.table.add("show credentials", handler)
        error = self.assertRaises(InvalidInput, self.table.lookup, ["show", "bogus"])
        self.assertIsInstance(error, CommandError)
        self.assertIsInstance(error, ValueError)
        self.assertEqual(str(error), "Invalid input detected")
        self.assertEqual(error.words, ("show", "bogus"))

    def test_registeredTwice(self):
        """
        Registering the same pattern twice is refused.
        """
        self.table.add("show credentials", handler)
        self.assertRaises(ValueError, self.table.add, "show  credentials", handler)

    def test_streaming(self):
        """
        A streaming command is flagged so, and its handler's
        L{DebugRequest} holds the namespaces as a tuple.
        """
        self.table.add(
            "debug credentials",
            lambda: DebugRequest("Credentials server debugging is enabled", ["srst.debug.credentials"]),
            streaming=True,
        )
        command, variables = self.table.lookup(["debug", "credentials"])
        self.assertTrue(command.streaming)
        self.assertEqual(command.handler(**variables).namespaces, ("srst.debug.credentials",))

    def test_commands(self):
        """
        C{commands} lists every command in registration order, and changing
        the list does not change the table.
        """
        self.table.add("show b", handler)
        self.table.add("show a", handler)
        commands = self.table.commands()
        self.assertEqual([c.pattern for c in commands], [("show", "b"), ("show", "a")])
        commands.clear()
        self.assertEqual(len(self.table.commands()), 2)


class ValueTests(SynchronousTestCase):
    """
    Tests for L{CommandResult} and L{CommandError}.
    """

    def test_resultDefaults(self):
        """
        A result defaults to no data and exit code 0.
        """
        result = CommandResult("text")
        self.assertEqual((result.text, result.data, result.exitCode), ("text", None, 0))

    def test_commandError(self):
        """
        L{CommandError} reads as its message, which it keeps.
        """
        error = CommandError("Request 7 not found")
        self.assertEqual((str(error), error.message), ("Request 7 not found", "Request 7 not found"))
