"""The `gps_admin` modules import each other in one direction: no cycle, one module per command, and what two
commands share lives in a public module (no `from gps_admin.demo import _command`).

Read from the source with `ast`: every import counts, at the top of a module or inside a function (a deferred
import is how a cycle hides), and under `if TYPE_CHECKING:` too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from gps_admin.cli import COMMANDS

PACKAGE = "gps_admin"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


@dataclass(frozen=True)
class Use:
    """`importer` uses `name` of the module `module` (name None: the module itself)."""

    importer: str
    module: str
    name: str | None
    line: int


def modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((package, *parts))] = path
    return out


def uses(name: str, path: Path, known: Mapping[str, Path], package: str = PACKAGE) -> Iterator[Use]:
    """Every use `name` makes of a module of the package: imports, and `module._private` on an imported module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    aliases: dict[str, str] = {}  # local name → module of the package it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package or alias.name.startswith(package + "."):
                    if alias.asname is not None:
                        aliases[alias.asname] = alias.name
                    yield Use(name, alias.name, None, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from .console import y
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source != package and not source.startswith(package + "."):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:  # from gps_admin import demo: the module demo
                    aliases[alias.asname or alias.name] = submodule
                    yield Use(name, submodule, None, node.lineno)
                else:
                    yield Use(name, source, alias.name, node.lineno)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            yield Use(name, aliases[node.value.id], node.attr, node.lineno)


def import_graph(known: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of the package it imports (itself left out)."""
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for use in uses(name, path, known):
            if use.module != name and use.module in known:
                graph[name].add(use.module)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module, or a module importing itself
    (Tarjan), each sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_cycle_finder_finds_cycles_and_only_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}, "b": set()}) == [["a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    assert cycles({"x": {"y"}, "y": {"x"}, "p": {"q"}, "q": {"p"}}) == [["p", "q"], ["x", "y"]]


def test_the_reader_sees_deferred_relative_and_private_uses(tmp_path: Path) -> None:
    """What the old CLI did: `cli` imports the commands, a command imports `cli.endpoints` back inside a function,
    `simulate` takes `demo`'s private helpers."""
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("from gps_admin import demo, simulate\n")
    (pkg / "demo.py").write_text("def run() -> None:\n    from gps_admin.cli import endpoints\n")
    (pkg / "simulate.py").write_text("from .demo import _command\nfrom gps_admin import demo as d\nd._crew\n")
    known = modules(pkg)
    assert cycles(import_graph(known)) == [["gps_admin.cli", "gps_admin.demo", "gps_admin.simulate"]]
    private = {(u.importer, u.module, u.name) for u in _all_uses(known) if _private(u)}
    assert private == {
        ("gps_admin.simulate", "gps_admin.demo", "_command"),
        ("gps_admin.simulate", "gps_admin.demo", "_crew"),
    }


def test_gps_admin_has_no_import_cycle() -> None:
    known = modules()
    graph = import_graph(known)
    assert "gps_admin.demo" in graph["gps_admin.cli"]  # the graph is the sources'
    assert cycles(graph) == []


def test_no_module_uses_another_ones_private_names() -> None:
    offenders = [f"{u.importer}:{u.line} uses {u.module}.{u.name}" for u in _all_uses(modules()) if _private(u)]
    assert offenders == []


def test_one_module_per_command() -> None:
    assert {name: module.__name__ for name, module in COMMANDS.items()} == {  # type: ignore[attr-defined]
        name: f"{PACKAGE}.{name}" for name in COMMANDS
    }


def _all_uses(known: Mapping[str, Path]) -> list[Use]:
    return [u for n, p in known.items() for u in uses(n, p, known)]


def _private(use: Use) -> bool:
    """A name with a leading underscore taken from another module (dunders such as `__name__` are public)."""
    return (
        use.name is not None
        and use.name.startswith("_")
        and not use.name.startswith("__")
        and use.module != use.importer
    )
