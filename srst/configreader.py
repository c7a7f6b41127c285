# -*- test-case-name: tests.test_configreader,tests.test_config -*-
"""
A small validating reader for YAML mappings that collects every problem with
its YAML path instead of stopping at the first one.

This is the bottom layer of the house: each package's C{config} module reads
its own section of router.yaml with a L{Reader}, and L{srst.config} walks the
document, hands each section to its owner and reports the problems together.

L{parseDocument} turns the YAML text into the plain values a L{Reader} walks,
refusing what a hand-written router.yaml never holds and what would make the
walk (or an error message) explode: an empty document, a duplicate key,
nesting deeper than L{MAX_DEPTH} levels, and aliases that expand to more than
L{MAX_EXPANDED_VALUES} values (a "billion laughs" alias bomb).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Iterable, TypeVar

import yaml
from attrs import frozen
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

T = TypeVar("T")

_MISSING = object()
_REASON_ONLY = object()

MAX_DEPTH = 64
"""The deepest nesting of mappings and lists router.yaml may have (a real one
has fewer than ten levels; Python's recursion limit is reached near 500)."""

MAX_EXPANDED_VALUES = 1_000_000
"""How many values the document may hold once every alias is expanded (a
router with thousands of ephones holds well under 100,000)."""

REPR_LIMIT = 200
"""The longest rendering of a value in an error message, in characters."""


def boundedRepr(value: Any, limit: int = REPR_LIMIT) -> str:
    """
    C{repr(value)} for the values YAML produces, cut to C{limit} characters
    (followed by C{...}) without rendering more than that: a value built from
    aliases may expand to gigabytes.

    @param value: a value read from YAML (dicts, lists and scalars).
    @param limit: the longest result before the C{...} marker.
    @return: the (possibly shortened) repr.
    """
    pieces: list[str] = []
    length = 0
    # What is left to render, last first: (False, text) or (True, value).
    stack: list[tuple[bool, Any]] = [(True, value)]
    while stack and length <= limit:
        isValue, item = stack.pop()
        if not isValue:
            text = item
        elif type(item) is dict or type(item) is list:
            isDict = type(item) is dict
            elements = iter(item.items() if isDict else item)
            parts: list[tuple[bool, Any]] = [(False, "{" if isDict else "[")]
            # Never more elements than characters left: each renders as one at least.
            for index, element in zip(range(limit + 1), elements):
                if index:
                    parts.append((False, ", "))
                if isDict:
                    parts.extend([(True, element[0]), (False, ": "), (True, element[1])])
                else:
                    parts.append((True, element))
            parts.append((False, "}" if isDict else "]"))
            stack.extend(reversed(parts))
            continue
        elif isinstance(item, (str, bytes)):
            text = repr(item[:limit + 1])
        else:
            text = repr(item)
        pieces.append(text)
        length += len(text)
    rendered = "".join(pieces)
    if length > limit or stack:
        return rendered[:limit] + "..."
    return rendered


@frozen
class ConfigProblem:
    """
    One thing wrong with the configuration.

    @ivar path: the YAML path, e.g. C{pki.server.grant}.
    @ivar value: the offending value (or C{None} when a key is missing).
    @ivar allowed: what is allowed there, in words.
    """

    path: str
    value: Any
    allowed: str

    @classmethod
    def because(cls, path: str, reason: str) -> "ConfigProblem":
        """
        A problem with no single bad value to show (a duplicate key, an
        empty document, a socket path already in use).

        @param path: the YAML path (or C{<document>}, C{<yaml>}).
        @param reason: what is wrong, in words.
        """
        return cls(path, _REASON_ONLY, reason)

    def __str__(self) -> str:
        if self.value is _MISSING:
            return f"{self.path}: missing; {self.allowed}"
        if self.value is _REASON_ONLY:
            return f"{self.path}: {self.allowed}"
        return f"{self.path}: {boundedRepr(self.value)} is not allowed; {self.allowed}"


class ConfigError(ValueError):
    """
    The configuration cannot be used.  One line per problem.

    @ivar source: the file the configuration came from.
    @ivar problems: the L{ConfigProblem}s found.
    """

    def __init__(self, source: str, problems: Iterable[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        ValueError.__init__(self, str(self))

    def __str__(self) -> str:
        return "\n".join(f"{self.source}: {problem}" for problem in self.problems)


class Reader:
    """
    Walks one YAML mapping, recording problems on a shared list.

    @ivar path: the YAML path of this mapping (C{""} for the document root).
    """

    def __init__(self, data: Any, path: str, problems: list[ConfigProblem]) -> None:
        self.path = path
        self.problems = problems
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem(None, data, "expected a mapping of keys to values")
            data = {}
        self._data = data
        self._seen: set[str] = set()

    def sub(self, key: str) -> str:
        """
        @return: the YAML path of C{key} below this mapping.
        """
        return f"{self.path}.{key}" if self.path else str(key)

    def problem(self, key: str | None, value: Any, allowed: str) -> None:
        """
        Record a problem at C{key} (or at this mapping when C{key} is C{None}).
        """
        path = self.sub(key) if key is not None else (self.path or "<document>")
        self.problems.append(ConfigProblem(path, value, allowed))

    def has(self, key: str) -> bool:
        """
        @return: whether C{key} is present.
        """
        return key in self._data

    def raw(self, key: str, default: Any = None) -> Any:
        """
        @return: the value at C{key} unchecked, marking the key as known.
        """
        self._seen.add(key)
        return self._data.get(key, default)

    def child(self, key: str) -> "Reader":
        """
        @return: a L{Reader} for the mapping at C{key} (empty when absent).
        """
        return Reader(self.raw(key), self.sub(key), self.problems)

    def optionalChild(self, key: str) -> "Reader | None":
        """
        @return: a L{Reader} for the mapping at C{key}, or L{None} when
            C{key} is absent; either way C{key} is a known key here (an
            unknown key's problem lists it).
        """
        self._seen.add(key)
        return self.child(key) if key in self._data else None

    def keys(self) -> list[Any]:
        """
        @return: every key of this mapping (marking them all as known).
        """
        self._seen.update(str(k) for k in self._data)
        return list(self._data)

    def _get(self, key: str, default: Any, required: bool, allowed: str) -> Any:
        self._seen.add(key)
        if key not in self._data:
            if required:
                self.problems.append(ConfigProblem(self.sub(key), _MISSING, allowed))
            return _MISSING
        return self._data[key]

    def string(self, key: str, default: str | None = None, required: bool = False,
               choices: Iterable[str] | None = None, allowEmpty: bool = False,
               allowed: str | None = None, numbers: bool = True) -> Any:
        """
        Read a string (numbers are accepted and turned into strings, since
        YAML reads C{2002} as an integer).

        @param choices: the values allowed (matched case-insensitively and
            returned in lower case), or L{None} for any string.
        @param allowed: what a problem says is allowed, instead of the
            generic C{expected one of: ...} / C{expected a string}.
        @param numbers: whether a number is read as a string; when false it
            is a problem, shown as written.
        """
        choiceList = list(choices) if choices is not None else None
        if allowed is None:
            allowed = (f"expected one of: {', '.join(choiceList)}" if choiceList
                       else "expected a string")
        value = self._get(key, default, required, "required; " + allowed)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int) if numbers else str):
            self.problem(key, value, allowed)
            return default
        value = str(value)
        if not value and not allowEmpty:
            self.problem(key, value, allowed + " (not empty)")
            return default
        if choiceList is not None and value.lower() not in choiceList:
            self.problem(key, value, allowed)
            return default
        return value.lower() if choiceList is not None else value

    def integer(self, key: str, default: int | None = None, minimum: int | None = None,
                maximum: int | None = None, required: bool = False, allowed: str | None = None) -> Any:
        """
        Read an integer within C{[minimum, maximum]}.

        @param allowed: what a problem says is allowed, instead of the
            generic C{expected an integer from ...}.
        """
        if allowed is None:
            allowed = "expected an integer"
            if minimum is not None and maximum is not None:
                allowed = f"expected an integer from {minimum} to {maximum}"
            elif minimum is not None:
                allowed = f"expected an integer of at least {minimum}"
        value = self._get(key, default, required, "required; " + allowed)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, value, allowed)
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.problem(key, value, allowed)
            return default
        return value

    def required(self, key: str, convert: Callable[[Any], T | None], allowed: str) -> T | None:
        """
        Read a required value with C{convert}, which returns the value to use
        or L{None} when the one written is not allowed.

        @param allowed: what is allowed, in words (the problem when C{key}
            is missing reads C{missing; required; <allowed>}).
        @return: the converted value, or L{None} after recording a problem.
        """
        value = self._get(key, None, True, "required; " + allowed)
        if value is _MISSING:
            return None
        converted = convert(value)
        if converted is None:
            self.problem(key, value, allowed)
        return converted

    def boolean(self, key: str, default: bool = False) -> bool:
        """
        Read C{true}/C{false}.
        """
        value = self._get(key, default, False, "")
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.problem(key, value, "expected true or false")
            return default
        return value

    def port(self, key: str, default: int) -> int:
        """
        Read a TCP/UDP port; 0 means "any free port" (tests).
        """
        return self.integer(key, default, 0, 65535)

    def address(self, key: str, default: str | None = None, required: bool = False) -> Any:
        """
        Read an IPv4 or IPv6 address literal.
        """
        value = self.string(key, default, required)
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            self.problem(key, value, "expected an IPv4 or IPv6 address such as 127.0.0.1")
            return default

    def listOf(self, key: str, item: Callable[[Any, str], T | None]) -> list[T]:
        """
        Read a list, converting each element with C{item(value, path)}; items
        that return C{None} are dropped (their problem was recorded).
        """
        value = self._get(key, None, False, "")
        if value is _MISSING or value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, value, "expected a list")
            return []
        result = []
        for index, element in enumerate(value):
            converted = item(element, f"{self.sub(key)}[{index}]")
            if converted is not None:
                result.append(converted)
        return result

    def finish(self) -> None:
        """
        Record every key of this mapping nobody asked for as unknown.
        """
        known = sorted(self._seen)
        for key in self._data:
            if str(key) not in self._seen:
                self.problem(str(key), self._data[key],
                             "unknown key; known keys here: " + ", ".join(known))


class _DocumentProblem(Exception):
    """
    The document is refused before it is walked (raised while composing).
    """

    def __init__(self, mark: Mark | None, reason: str) -> None:
        Exception.__init__(self, reason)
        self.mark = mark
        self.reason = reason


def _where(mark: Mark | None) -> str:
    return f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else "somewhere"


class _BoundedLoader(yaml.SafeLoader):
    """
    PyYAML's safe loader, refusing nesting deeper than L{MAX_DEPTH} while it
    composes (before Python's recursion limit is reached).
    """

    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            return yaml.SafeLoader.compose_node(self, parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _DocumentProblem(self.peek_event().start_mark,
                                       f"nested deeper than {MAX_DEPTH} levels")
            return yaml.SafeLoader.compose_node(self, parent, index)
        finally:
            self._depth -= 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _checkExpansion(root: Node) -> None:
    """
    Count the values C{root} holds with every alias expanded, without
    expanding anything (each node is counted once and its total reused).

    @raise _DocumentProblem: past L{MAX_EXPANDED_VALUES}, or when an alias
        refers to a node that contains it (an endless expansion).
    """
    totals: dict[Node, int] = {}
    open_: set[Node] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, childrenDone = stack.pop()
        if node in totals:
            continue
        children = _children(node)
        if not childrenDone:
            open_.add(node)
            stack.append((node, True))
            for child in children:
                if child in open_:
                    raise _DocumentProblem(child.start_mark, "an alias refers to a node that contains it")
                if child not in totals:
                    stack.append((child, False))
            continue
        open_.discard(node)
        total = 1 + sum(totals[child] for child in children)
        if total > MAX_EXPANDED_VALUES:
            raise _DocumentProblem(
                node.start_mark,
                f"aliases expand to more than {MAX_EXPANDED_VALUES} values (an alias bomb?)")
        totals[node] = total


def _duplicateKeys(root: Node) -> list[ConfigProblem]:
    """
    Every key that appears twice in one mapping, with the YAML path a
    L{Reader} would give it (a mapping reached through several aliases is
    checked once, under its first path).
    """
    problems = []
    keys = SafeConstructor()
    seen: set[Node] = set()
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        later: list[tuple[Node, str]] = []
        if isinstance(node, SequenceNode):
            later = [(child, f"{path}[{index}]") for index, child in enumerate(node.value)]
        elif isinstance(node, MappingNode):
            first: dict[Any, Node] = {}
            for keyNode, valueNode in node.value:
                if keyNode.tag == "tag:yaml.org,2002:merge" or not isinstance(keyNode, ScalarNode):
                    later.append((valueNode, path))
                    continue
                key = keys.construct_object(keyNode, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue
                keyPath = f"{path}.{key}" if path else str(key)
                if key in first:
                    here, there = keyNode.start_mark, first[key].start_mark
                    if here.line == there.line:
                        where = f"line {here.line + 1} column {here.column + 1}"
                        firstWhere = f"column {there.column + 1}"
                    else:
                        where, firstWhere = f"line {here.line + 1}", f"line {there.line + 1}"
                    problems.append(ConfigProblem.because(keyPath, f"duplicate key at {where} (first at {firstWhere})"))
                else:
                    first[key] = keyNode
                later.append((valueNode, keyPath))
        stack.extend(reversed(later))
    return problems


def parseDocument(text: str, source: str) -> Any:
    """
    Parse router.yaml into the plain values a L{Reader} walks.

    @param text: the YAML text.
    @param source: the file it came from (for messages).
    @return: the document's value (a mapping unless the L{Reader} is to
        report otherwise).
    @raise ConfigError: on a YAML syntax error, an empty document (nothing,
        only comments, or C{null}), a duplicate key (naming both lines),
        nesting deeper than L{MAX_DEPTH}, or aliases expanding past
        L{MAX_EXPANDED_VALUES}; nothing has been walked yet.
    """
    loader = _BoundedLoader(text)
    try:
        try:
            root = loader.get_single_node()
            if root is not None:
                _checkExpansion(root)
                duplicates = _duplicateKeys(root)
                if duplicates:
                    raise ConfigError(source, duplicates)
                data = loader.construct_document(root)
            else:
                data = None
        except _DocumentProblem as e:
            raise ConfigError(source, [ConfigProblem.because("<yaml>", f"{e.reason} at {_where(e.mark)}")])
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            problem = getattr(e, "problem", None) or str(e)
            raise ConfigError(source, [ConfigProblem("<yaml>", _where(mark), f"YAML syntax error: {problem}")])
    finally:
        loader.dispose()
    if data is None:
        raise ConfigError(source, [ConfigProblem.because(
            "<document>", "empty (nothing but comments or null); expected a mapping of keys to values")])
    return data
