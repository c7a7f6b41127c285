# -*- test-case-name: tests.test_iostext -*-
"""
IOS configuration text, read and written (sans-IO).

An IOS running-config is a list of commands; a command that opens a mode
(C{crypto pki trustpoint srstca}, C{dial-peer voice 81235 pots}) owns the
indented lines under it, to any depth (C{policy-map} > C{class} > C{police}).
L{parseIosConfig} turns the text into that tree of L{IosLine}s; comments
(C{!}, C{!--- ...}) and blank lines separate commands and are dropped.  A
C{banner} is one command whatever its text holds (L{readIosConfig}); what
follows a top-level C{end} is read apart (L{IosText.afterEnd}).

L{ImportNotes} is where an importer says what it did not carry over: every
line of the input is either imported or listed, with the reason, as a
L{Skipped} -- a mode not imported as a whole is one L{Skipped} with its
line range (C{lines 65-100: crypto pki certificate chain srstca (36
lines): ...}), not one per certificate hex line.

The other direction is plain: each package renders its section as a list of
lines (one space of indentation per mode level, C{!} between blocks as IOS
prints them), and L{indent} builds the lines of a mode.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from attrs import Factory, define, field, frozen

__all__ = [
    "BANNER_KINDS",
    "ImportNotes",
    "IosLine",
    "IosText",
    "Skipped",
    "indent",
    "parseIosConfig",
    "readIosConfig",
    "setCommands",
]


@frozen
class IosLine:
    """
    One command of an IOS configuration, with the commands of the mode it opens.

    @ivar text: the command without its indentation or trailing blanks.
    @ivar lineno: its line number in the text (1-based).
    @ivar children: the indented commands under it, in order.
    """

    text: str
    lineno: int
    children: tuple[IosLine, ...] = ()

    @property
    def words(self) -> list[str]:
        """
        @return: the command's words (split on blanks).
        """
        return self.text.split()

    def startswith(self, *words: str) -> bool:
        """
        @return: whether the command's first words are C{words}
            (case-insensitive, as IOS reads keywords).
        """
        mine = self.words
        return len(mine) >= len(words) and all(
            a.lower() == b.lower() for a, b in zip(mine, words))

    def walk(self) -> Iterable[IosLine]:
        """
        @return: this line and every line under it, depth first, in order.
        """
        yield self
        for child in self.children:
            yield from child.walk()


def _depth(raw: str) -> int:
    return len(raw) - len(raw.lstrip(" "))


BANNER_KINDS = frozenset({"motd", "login", "exec", "incoming", "slip-ppp", "prompt-timeout", "config-save"})
"""The C{banner} keywords IOS knows; C{banner <delimiter> ...} is C{motd}."""


def _bannerDelimiter(stripped: str) -> tuple[str, str] | None:
    """
    @return: for a C{banner} command, its delimiter and the text after it on
        the same line; L{None} for any other line (or a banner without a
        delimiter).  The delimiter is C{^C} (as C{show running-config}
        prints the ETX character) or any one character.
    """
    words = stripped.split(None, 2)
    if not words or words[0].lower() != "banner":
        return None
    if len(words) >= 2 and words[1].lower() in BANNER_KINDS:
        rest = words[2] if len(words) == 3 else ""
    else:
        rest = stripped.split(None, 1)[1] if len(words) >= 2 else ""
    if not rest:
        return None
    delimiter = "^C" if rest.startswith("^C") else rest[0]
    return delimiter, rest[len(delimiter):]


@frozen
class IosText:
    """
    An IOS configuration read into commands.

    @ivar lines: the top-level commands up to C{end}.
    @ivar afterEnd: the top-level commands after a top-level C{end} (IOS
        reads nothing there).
    """

    lines: tuple[IosLine, ...]
    afterEnd: tuple[IosLine, ...] = ()


def readIosConfig(text: str) -> IosText:
    """
    Read IOS configuration text into its command tree.

    A line indented deeper than the line before it belongs to that line's
    mode; a line indented less closes modes until it finds its level (a line
    less indented than every open mode is top level).  Tabs count as one
    blank.  Comments (first non-blank character C{!}) and blank lines are
    dropped; C{end} at top level ends the configuration (what follows is
    L{IosText.afterEnd}).  A C{banner <kind> <delimiter> ... <delimiter>}
    is one command whatever its text holds: the lines of its text (the
    body may start on the banner's line and end on any line) are its
    children.

    @param text: the configuration, as C{show running-config} prints it.
    """
    numbered = list(enumerate(text.splitlines(), start=1))
    lines, end = _parse(numbered, stopAtEnd=True)
    if end is None:
        return IosText(lines)
    return IosText(lines, _parse(numbered[end + 1:], stopAtEnd=False)[0])


def _parse(numbered: list[tuple[int, str]],
           stopAtEnd: bool) -> tuple[tuple[IosLine, ...], int | None]:
    """
    @return: the top-level commands of C{numbered}, and the index in it of
        the top-level C{end} they stopped at (L{None} if none).
    """
    # Each open mode: (depth, text, lineno, children collected so far).
    stack: list[tuple[int, str, int, list[IosLine]]] = [(-1, "", 0, [])]
    # An open banner: (delimiter, text, lineno, its text's lines so far).
    banner: tuple[str, str, int, list[IosLine]] | None = None
    end = None

    def close() -> None:
        depth, line, lineno, children = stack.pop()
        stack[-1][3].append(IosLine(line, lineno, tuple(children)))

    for index, (lineno, raw) in enumerate(numbered):
        raw = raw.replace("\t", " ").rstrip()
        stripped = raw.strip()
        if banner is not None:
            delimiter, head, start, body = banner
            if stripped:
                body.append(IosLine(stripped, lineno))
            if delimiter in raw:
                stack[-1][3].append(IosLine(head, start, tuple(body)))
                banner = None
            continue
        if not stripped or stripped.startswith("!"):
            continue
        depth = _depth(raw)
        while len(stack) > 1 and stack[-1][0] >= depth:
            close()
        if stopAtEnd and len(stack) == 1 and stripped.lower() == "end":
            end = index
            break
        opened = _bannerDelimiter(stripped)
        if opened is not None and opened[0] not in opened[1]:
            banner = (opened[0], stripped, lineno, [])
            continue
        stack.append((depth, stripped, lineno, []))
    if banner is not None:  # never closed: the rest of the text is its body
        stack[-1][3].append(IosLine(banner[1], banner[2], tuple(banner[3])))
    while len(stack) > 1:
        close()
    return tuple(stack[0][3]), end


def parseIosConfig(text: str) -> tuple[IosLine, ...]:
    """
    Read IOS configuration text into its command tree, up to C{end}
    (L{readIosConfig}).

    @param text: the configuration, as C{show running-config} prints it.
    @return: the top-level commands.
    """
    return readIosConfig(text).lines


@frozen
class Skipped:
    """
    A line of an IOS configuration that was not imported, or a block of
    lines not imported for one reason (a mode and every line under it).

    @ivar lineno: where it is in the input (a block's first line).
    @ivar text: the command (a block's first line).
    @ivar reason: why srst did not take it, for the operator.
    @ivar block: every line it stands for, as (line number, command), in
        order; just C{(lineno, text)} for one line.
    """

    lineno: int
    text: str
    reason: str
    block: tuple[tuple[int, str], ...] = field(
        default=Factory(lambda self: ((self.lineno, self.text),), takes_self=True))

    @property
    def lastLine(self) -> int:
        """
        @return: the line number of its last line.
        """
        return self.block[-1][0]

    @property
    def count(self) -> int:
        """
        @return: how many lines it stands for.
        """
        return len(self.block)

    @property
    def linenos(self) -> frozenset[int]:
        """
        @return: the line numbers of the lines it stands for.
        """
        return frozenset(lineno for lineno, text in self.block)

    def each(self) -> list[Skipped]:
        """
        @return: one L{Skipped} per line it stands for, with its reason.
        """
        return [Skipped(lineno, text, self.reason) for lineno, text in self.block]

    def __str__(self) -> str:
        if self.count == 1:
            return f"line {self.lineno}: {self.text}: {self.reason}"
        return f"lines {self.lineno}-{self.lastLine}: {self.text} ({self.count} lines): {self.reason}"


@define
class ImportNotes:
    """
    What an import left out, in input order once sorted (L{sortedSkipped}).
    """

    skipped: list[Skipped] = field(factory=list)

    def skip(self, line: IosLine, reason: str) -> None:
        """
        Record that C{line} (and nothing under it) was not imported.
        """
        self.skipped.append(Skipped(line.lineno, line.text, reason))

    def skipTree(self, line: IosLine, reason: str) -> None:
        """
        Record that C{line} and every line under it were not imported, for
        C{reason}: one entry for the whole block, with its line range.
        """
        self.skipped.append(Skipped(line.lineno, line.text, reason,
                                    tuple((each.lineno, each.text) for each in line.walk())))

    def sortedSkipped(self) -> list[Skipped]:
        """
        @return: the skipped lines in the order of the input.
        """
        return sorted(self.skipped, key=lambda s: s.lineno)

    @property
    def lineCount(self) -> int:
        """
        @return: how many lines were not imported.
        """
        return sum(s.count for s in self.skipped)


def indent(head: str, body: Sequence[str]) -> list[str]:
    """
    The lines of a mode: C{head}, then each of C{body} one blank deeper.

    @param head: the command opening the mode.
    @param body: its lines, themselves possibly indented (nested modes).
    @return: the mode's lines.
    """
    return [head] + [" " + line for line in body]


def setCommands(*commands: tuple[str, object]) -> list[str]:
    """
    The lines of the settings that are set, for a C{show running-config}
    mode: IOS prints a command only when it is configured.

    @param commands: (command, value) pairs, in the order IOS prints them.
    @return: C{"command value"} for each pair whose value is not L{None}.
    """
    return [f"{command} {value}" for command, value in commands if value is not None]
