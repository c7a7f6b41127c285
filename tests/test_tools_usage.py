"""
Tests for L{srst.tools._usage}.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.tools._usage import RaisingParser, UsageError


class RaisingParserTests(SynchronousTestCase):
    """
    L{RaisingParser} raises instead of exiting.
    """

    def test_badArgument(self) -> None:
        """
        A bad command line raises L{UsageError} with argparse's message, in
        a subcommand's parser too; nothing is printed and nothing exits.
        """
        parser = RaisingParser(prog="tool")
        commands = parser.add_subparsers(dest="command", required=True, parser_class=RaisingParser)
        commands.add_parser("go").add_argument("--count", type=int)
        e = self.assertRaises(UsageError, parser.parse_args, ["go", "--count", "many"])
        self.assertEqual(str(e), "argument --count: invalid int value: 'many'")
        e = self.assertRaises(UsageError, parser.parse_args, [])
        self.assertEqual(str(e), "the following arguments are required: command")
