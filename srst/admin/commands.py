# -*- test-case-name: tests.test_admin_commands -*-
"""
The operator command table: IOS-style words mapped to handlers.

Every subsystem registers its own commands on one L{CommandTable}; the admin
socket server (L{srst.admin.server}) only parses a request into words and
dispatches here.  A handler returns a L{CommandResult} (or a L{Deferred} that
fires with one): the IOS-style text, and the same facts as JSON-serialisable
data for C{srst-cli --json}.

Patterns are tuples of words; a word in angle brackets (C{"<name>"}) matches any
single word and is passed to the handler as a keyword argument of that name
(C{"<serial>"} becomes C{serial=...}).  A trailing C{"[<tp>]"} is an optional
argument.  Matching is case-insensitive on the literal words.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from attrs import field, frozen


@frozen
class CommandResult:
    """
    What a command answers.

    @ivar text: the IOS-style rendering, lines joined with C{"\\n"}.
    @ivar data: the same facts, JSON-serialisable, for C{--json}.
    @ivar exitCode: 0 on success; the CLI exits with it.
    """

    text: str
    data: Any = None
    exitCode: int = 0


class CommandError(ValueError):
    """
    A command was understood but cannot be carried out (unknown trustpoint,
    request id not queued, ...).  The CLI prints C{% <message>} and exits 1.
    """

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(CommandError):
    """
    The words match no command: IOS answers C{% Invalid input detected}.
    """

    def __init__(self, words: Sequence[str]) -> None:
        CommandError.__init__(self, "Invalid input detected")
        self.words = tuple(words)


def _isVariable(word: str) -> bool:
    return word.startswith("<") and word.endswith(">")


def _isOptional(word: str) -> bool:
    return word.startswith("[<") and word.endswith(">]")


def _variableName(word: str) -> str:
    return word.strip("[]<>").replace("-", "_")


@frozen
class Command:
    """
    One registered command.

    @ivar pattern: the words, with C{<var>} and a final optional C{[<var>]}.
    @ivar handler: called with the variables as keyword arguments.
    @ivar help: one line for C{srst-cli help}.
    @ivar streaming: C{True} for C{debug ...} commands whose handler returns
        a L{DebugRequest} instead of a result.
    """

    pattern: tuple[str, ...]
    handler: Callable[..., Any]
    help: str = ""
    streaming: bool = False

    def match(self, words: Sequence[str]) -> dict[str, str] | None:
        """
        @return: the variables if C{words} match this pattern, else C{None}.
        """
        variables: dict[str, str] = {}
        pattern = self.pattern
        optional = pattern and _isOptional(pattern[-1])
        required = pattern[:-1] if optional else pattern
        if len(words) < len(required) or len(words) > len(pattern):
            return None
        for index, word in enumerate(words):
            expected = pattern[index]
            if _isVariable(expected) or _isOptional(expected):
                variables[_variableName(expected)] = word
            elif expected.lower() != word.lower():
                return None
        return variables


@frozen
class DebugRequest:
    """
    What a streaming (debug) handler returns: the banner IOS prints when the
    switch is turned on (C{"Credentials server debugging is enabled"}) and the
    log namespaces the CLI session should receive until it disconnects.
    """

    banner: str
    namespaces: tuple[str, ...] = field(converter=tuple)


class CommandTable:
    """
    All commands the router understands.
    """

    def __init__(self) -> None:
        self._commands: list[Command] = []

    def add(
        self,
        pattern: str,
        handler: Callable[..., Any],
        help: str = "",
        streaming: bool = False,
    ) -> None:
        """
        Register C{handler} for C{pattern} (words separated by spaces, e.g.
        C{"crypto pki server <name> grant <id>"}).

        @raise ValueError: if the same pattern is registered twice.
        """
        words = tuple(pattern.split())
        for existing in self._commands:
            if existing.pattern == words:
                raise ValueError(f"command registered twice: {pattern!r}")
        self._commands.append(Command(words, handler, help, streaming))

    def remove(self, pattern: str) -> None:
        """
        Unregister the command for C{pattern} (one that stands in for
        another until that can be had), if there is one.
        """
        words = tuple(pattern.split())
        self._commands = [command for command in self._commands if command.pattern != words]

    def lookup(self, words: Sequence[str]) -> tuple[Command, dict[str, str]]:
        """
        Find the command for C{words}.  Literal patterns win over patterns
        with variables when both match.

        @raise InvalidInput: when nothing matches.
        """
        best: tuple[int, Command, dict[str, str]] | None = None
        for command in self._commands:
            variables = command.match(words)
            if variables is None:
                continue
            literals = sum(1 for w in command.pattern if not w.startswith(("<", "[<")))
            if best is None or literals > best[0]:
                best = (literals, command, variables)
        if best is None:
            raise InvalidInput(words)
        return best[1], best[2]

    def commands(self) -> list[Command]:
        """
        @return: every registered command, in registration order.
        """
        return list(self._commands)
