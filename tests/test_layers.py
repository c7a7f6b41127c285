# -*- test-case-name: tests.test_layers -*-
"""
The house rules of docs/architecture.md, checked on the source: which
package may import which (layers import downwards only), nobody imports
another package's private module, config modules import no runtime code,
the call engine knows no device, and nothing dodges re-entrancy with
C{callLater(0, ...)}.

The checks read the source with L{ast}; they import nothing from srst.
"""

from __future__ import annotations

import ast
import os
from typing import Iterator

from twisted.trial.unittest import SynchronousTestCase

import srst

ROOT = os.path.dirname(os.path.abspath(srst.__file__))

LAYERS: tuple[tuple[str, ...], ...] = (
    ("srst.configreader", "srst._files", "srst.iostext"),
    ("srst.debug", "srst.lograte"),
    ("srst.admin", "srst.http", "srst.listening", "srst.tftp"),
    ("srst.pki", "srst.policing", "srst.web"),
    ("srst.media",),
    ("srst.calls",),
    ("srst.sccp", "srst.ports", "srst.credentials", "srst.ipsec"),
    ("srst.mgcp",),
    ("srst.config",),
    ("srst.iosconfig",),
    ("srst.metrics",),
    ("srst.service",),
    ("srst.tools",),
)
"""The layers, lowest first (docs/architecture.md, "Layers")."""


def _units() -> dict[str, int]:
    return {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unitOf(module: str) -> str | None:
    """
    @return: the layer unit (package or top-level module) C{module}
        belongs to, or L{None} for C{srst} itself.
    """
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return ".".join(parts[:2])


def modules() -> Iterator[tuple[str, str]]:
    """@return: C{(module name, path)} of every module under C{srst/}."""
    for directory, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            path = os.path.join(directory, filename)
            relative = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
            if relative.endswith(".__init__"):
                relative = relative[: -len(".__init__")]
            yield relative, path


def imports(path: str) -> Iterator[tuple[int, str]]:
    """
    @return: C{(line, module)} for every C{srst} module the file imports
        (C{from srst.x import y} gives C{srst.x.y} when that is a module,
        else C{srst.x}).
    """
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "srst" or node.module.startswith("srst."):
                for alias in node.names:
                    candidate = node.module + "." + alias.name
                    yield node.lineno, candidate if _isModule(candidate) else node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("srst."):
                    yield node.lineno, alias.name


def _isModule(name: str) -> bool:
    base = os.path.join(os.path.dirname(ROOT), *name.split("."))
    return os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py"))


def _private(module: str) -> str | None:
    """@return: the package a private module belongs to, or L{None} for a public module."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and i > 1:
            return ".".join(parts[:i])
    return None


class LayerTests(SynchronousTestCase):
    """
    The import rules of the house.
    """

    def test_everyModuleHasALayer(self) -> None:
        """
        Every top-level package and module of C{srst} is in L{LAYERS}, so no
        new one escapes the rules.
        """
        units = _units()
        missing = sorted({unitOf(name) for name, _ in modules()} - set(units) - {None})
        self.assertEqual(missing, [])

    def test_importsGoDownwards(self) -> None:
        """
        A module imports only from its own package or from a lower layer.
        """
        units = _units()
        wrong = []
        for name, path in modules():
            own = unitOf(name)
            if own is None:
                continue
            for line, target in imports(path):
                other = unitOf(target)
                if other is None or other == own:
                    continue
                if units[other] >= units[own]:
                    wrong.append(f"{name}:{line} imports {target}")
        self.assertEqual(wrong, [])

    def test_noPrivateImportsFromOutside(self) -> None:
        """
        A private module (C{srst.x._y}) is imported only from inside its
        package.
        """
        wrong = []
        for name, path in modules():
            for line, target in imports(path):
                owner = _private(target)
                if owner is not None and not (name == owner or name.startswith(owner + ".")):
                    wrong.append(f"{name}:{line} imports {target}")
        self.assertEqual(wrong, [])

    def test_callsKnowNoDevice(self) -> None:
        """
        Nothing in C{srst.calls} imports a device package (SCCP, voice
        ports, MGCP): they plug into the engine from above.
        """
        wrong = [f"{name}:{line} imports {target}"
                 for name, path in modules() if name.startswith("srst.calls")
                 for line, target in imports(path)
                 if unitOf(target) in ("srst.sccp", "srst.ports", "srst.mgcp")]
        self.assertEqual(wrong, [])

    def test_configModulesImportNoRuntime(self) -> None:
        """
        A package's C{config} module imports only the config reader, other
        config modules and sans-IO modules that import nothing from Twisted.
        """
        paths = dict(modules())
        wrong = []
        for name, path in paths.items():
            if name.rsplit(".", 1)[-1] != "config" or name == "srst.config":
                continue
            for line, target in imports(path):
                if target == "srst.configreader" or target.rsplit(".", 1)[-1] == "config":
                    continue
                if _usesTwisted(target, paths):
                    wrong.append(f"{name}:{line} imports {target}")
        self.assertEqual(wrong, [])

    def test_noRuntimeImportsRouterConfig(self) -> None:
        """
        Only the composition root, the tools and the IOS rendering of the
        whole configuration (C{srst.iosconfig}) import C{srst.config}.
        """
        wrong = [f"{name}:{line}" for name, path in modules()
                 for line, target in imports(path)
                 if target == "srst.config" and unitOf(name) not in ("srst.service", "srst.tools", "srst.iosconfig")]
        self.assertEqual(wrong, [])

    def test_noCallLaterZero(self) -> None:
        """
        Nothing in C{srst} or C{benchmarks/} schedules C{callLater(0, ...)}
        to dodge re-entrancy: an input raised during a transition is queued
        by its owner (a benchmark ends once its reply is flushed).
        """
        wrong = []
        benchmarks = os.path.join(os.path.dirname(ROOT), "benchmarks")
        scripts = [(f"benchmarks.{f[:-3]}", os.path.join(benchmarks, f))
                   for f in sorted(os.listdir(benchmarks)) if f.endswith(".py")]
        for name, path in list(modules()) + scripts:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and _zeroDelay(node):
                    wrong.append(f"{name}:{node.lineno}")
        self.assertEqual(wrong, [])


def _zeroDelay(call: ast.Call) -> bool:
    """
    @return: whether C{call} is C{x.callLater(0, ...)} (or C{delay=0}), or
        C{deferLater(clock, 0, ...)}.
    """
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    if name == "callLater":
        delay = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "delay"), None)
    elif name == "deferLater":
        delay = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "delay"), None)
    else:
        return False
    return isinstance(delay, ast.Constant) and delay.value == 0


def _usesTwisted(module: str, paths: dict[str, str], seen: set[str] | None = None) -> bool:
    """
    @return: whether C{module}, or an srst module it imports, imports
        anything from Twisted.
    """
    seen = set() if seen is None else seen
    if module in seen or module not in paths:
        return False
    seen.add(module)
    with open(paths[module], encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "twisted":
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "twisted" for a in node.names):
            return True
    return any(_usesTwisted(target, paths, seen) for _, target in imports(paths[module]))
