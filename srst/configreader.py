# -*- test-case-name: tests.test_config -*-
"""
A small validating reader for YAML mappings that collects every problem with
its YAML path instead of stopping at the first one.

This is the bottom layer of the house: each package's C{config} module reads
its own section of router.yaml with a L{Reader}, and L{srst.config} walks the
document, hands each section to its owner and reports the problems together.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Iterable, TypeVar

from attrs import frozen

T = TypeVar("T")

_MISSING = object()


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

    def __str__(self) -> str:
        if self.value is _MISSING:
            return f"{self.path}: missing; {self.allowed}"
        return f"{self.path}: {self.value!r} is not allowed; {self.allowed}"


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
               choices: Iterable[str] | None = None, allowEmpty: bool = False) -> Any:
        """
        Read a string (numbers are accepted and turned into strings, since
        YAML reads C{2002} as an integer).
        """
        choiceList = list(choices) if choices is not None else None
        allowed = (f"expected one of: {', '.join(choiceList)}" if choiceList
                   else "expected a string")
        value = self._get(key, default, required, "required; " + allowed)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int)):
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
                maximum: int | None = None, required: bool = False) -> Any:
        """
        Read an integer within C{[minimum, maximum]}.
        """
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
