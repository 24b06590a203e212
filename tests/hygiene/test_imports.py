"""The import graph of src/incidentscope: core without UI, no cycles, and the layers.

    cli  ->  api  ->  core (load, replay, report, ...)  ->  base (workspace, config, errors, ...)

The contract is the data below (LAYERS, ONLY_CLI_IMPORTS_API, INDEPENDENT, CONFINED and the
listed EXCEPTIONS); docs/architecture.md explains it. The graph is read from the source with
`ast`, so a test failure names the file and line of the import.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "src" / "incidentscope"

# --- the contract ------------------------------------------------------------------------

# Top to bottom. A module may import modules of its own layer or of a lower one (at module
# level, inside a function or for type checking alike). A module not named here is in
# "core"; patterns are fnmatch patterns of dotted module names, the first layer that
# names a module wins.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cli", ("incidentscope.cli", "incidentscope.cli_*", "incidentscope.__main__")),
    ("api", ("incidentscope.api",)),
    ("core", ("*",)),
    # (notification: the incident file's [notification] section, part of its model)
    ("base", ("incidentscope", "incidentscope.config", "incidentscope.contract",
              "incidentscope.errors", "incidentscope.notification", "incidentscope.results",
              "incidentscope.sqlutil", "incidentscope.workspace")),
)
_LAYER_ORDER = ("cli", "api", "base", "core")  # the order in which patterns are tried

# Nothing imports the API but the command line (tools/ and tests/ are outside src).
ONLY_CLI_IMPORTS_API = ("incidentscope.cli",)

# Groups of core that must not import each other: renderers read results, not the engines,
# and the engines know nothing of how their results are shown.
INDEPENDENT: dict[str, tuple[str, ...]] = {
    "report": ("incidentscope.report.*",),
    "engine": ("incidentscope.ingest", "incidentscope.ingest_*", "incidentscope.loadplan",
               "incidentscope.finishing", "incidentscope.compaction", "incidentscope.inputs",
               "incidentscope.validate", "incidentscope.normalize", "incidentscope.replay",
               "incidentscope.engine", "incidentscope.estimate", "incidentscope.investigate",
               "incidentscope.spark", "incidentscope.spark.*"),
}

# Third-party packages and the only modules that may import them: the user interface and
# the optional engines stay out of the core.
CONFINED: dict[str, tuple[str, ...]] = {
    "typer": ("incidentscope.cli", "incidentscope.cli_*"),
    "rich": ("incidentscope.cli", "incidentscope.cli_*", "incidentscope.report.terminal"),
    "matplotlib": ("incidentscope.report.charts", "incidentscope.report.regulator"),
    "fpdf": ("incidentscope.report.regulator",),
    "pyspark": ("incidentscope.spark", "incidentscope.spark.*"),
    "sqlglot": ("incidentscope.spark", "incidentscope.spark.*"),
    "pandas": ("incidentscope.spark", "incidentscope.spark.*"),
}

# Known breaches, each with its reason: (importing module, imported module) -> why.
# A test fails when one no longer occurs, so that the list only shrinks.
EXCEPTIONS: dict[tuple[str, str], str] = {  # none left (issue 18 removed the last three)
}

# What `import incidentscope.api` must not load.
NOT_IN_CORE = ("matplotlib", "pyspark", "typer", "rich", "fpdf", "sqlglot")


# --- the graph ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # an incidentscope module, or the top-level name of another package
    where: str  # path:line
    module_level: bool  # False inside a function or under `if TYPE_CHECKING:`

    @property
    def internal(self) -> bool:
        return self.target == "incidentscope" or self.target.startswith("incidentscope.")


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = ("incidentscope", *path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str:
    """An imported incidentscope name as the longest module it names."""
    known = modules()
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _is_type_checking(node: ast.If) -> bool:
    return ast.unparse(node.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


def _scan(source: str, path: Path) -> Iterator[Import]:
    is_package = path.name == "__init__.py"
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path

    def targets(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
            return
        base = node.module or ""
        if node.level:
            package = source.split(".") if is_package else source.split(".")[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base

    def visit(node: ast.AST, module_level: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in dict.fromkeys(targets(child)):
                    internal = target == "incidentscope" or target.startswith("incidentscope.")
                    yield Import(source, _resolve(target) if internal else target.split(".")[0],
                                 f"{where}:{child.lineno}", module_level)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), module_level)
            else:
                yield from visit(child, module_level)

    yield from visit(ast.parse(path.read_text("utf-8"), str(path)), True)


@cache
def imports() -> tuple[Import, ...]:
    return tuple(imp for name, path in modules().items() for imp in _scan(name, path))


def _matches(module: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(module, p) for p in patterns)


def layer_of(module: str) -> str:
    layers = dict(LAYERS)
    return next(name for name in _LAYER_ORDER if _matches(module, layers[name]))


def group_of(module: str) -> str | None:
    if layer_of(module) != "core":
        return None
    return next((g for g, patterns in INDEPENDENT.items() if _matches(module, patterns)), None)


def _rank(layer: str) -> int:
    return [name for name, _ in LAYERS].index(layer)


def breaches() -> Iterator[tuple[Import, str]]:
    """Every import that breaks the contract, with the rule it breaks."""
    for imp in imports():
        if imp.internal and imp.target != imp.source:
            source_layer, target_layer = layer_of(imp.source), layer_of(imp.target)
            if _rank(target_layer) < _rank(source_layer):
                yield imp, f"{source_layer} imports {target_layer}"
            if imp.target == "incidentscope.api" and imp.source not in ONLY_CLI_IMPORTS_API:
                yield imp, "only the cli imports the api"
            source_group, target_group = group_of(imp.source), group_of(imp.target)
            if source_group and target_group and source_group != target_group:
                yield imp, f"{source_group} imports {target_group}"
        elif not imp.internal and imp.target in CONFINED \
                and not _matches(imp.source, CONFINED[imp.target]):
            yield imp, f"{imp.target} only in {', '.join(CONFINED[imp.target])}"


# --- the tests ---------------------------------------------------------------------------

def test_importing_the_api_loads_no_user_interface_and_no_optional_engine() -> None:
    code = "import json, sys, incidentscope.api; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "incidentscope" in loaded
    assert not loaded & set(NOT_IN_CORE), (
        f"`import incidentscope.api` loads {sorted(loaded & set(NOT_IN_CORE))}; import them "
        "inside the function that needs them")


def test_there_are_no_import_cycles() -> None:
    """Module-level imports only: an import inside a function runs after both modules loaded."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    where: dict[tuple[str, str], str] = {}
    for imp in imports():
        if imp.internal and imp.module_level and imp.target != imp.source:
            graph[imp.source].add(imp.target)
            where.setdefault((imp.source, imp.target), imp.where)
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert not cycles, "import cycles:\n" + "\n".join(
        "  " + ", ".join(f"{a} -> {b} ({where[a, b]})" for a in cycle for b in cycle
                         if (a, b) in where) for cycle in cycles)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            found.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_imports_keep_the_layers() -> None:
    found = [(imp, rule) for imp, rule in breaches()
             if (imp.source, imp.target) not in EXCEPTIONS]
    assert not found, "imports that break the layers (tests/hygiene/test_imports.py):\n" + \
        "\n".join(f"  {imp.where}: {imp.source} -> {imp.target} ({rule})" for imp, rule in found)


def test_every_listed_exception_still_occurs() -> None:
    occurring = {(imp.source, imp.target) for imp, _ in breaches()}
    stale = [pair for pair in EXCEPTIONS if pair not in occurring]
    assert not stale, f"fixed: remove from EXCEPTIONS in tests/hygiene/test_imports.py: {stale}"


def test_the_graph_is_read_from_every_module() -> None:
    """The scanner sees the imports that matter (a scanner that saw nothing would pass)."""
    seen = {(imp.source, imp.target, imp.module_level) for imp in imports()}
    assert ("incidentscope.api", "incidentscope.replay", True) in seen
    assert ("incidentscope.cli", "typer", True) in seen
    assert ("incidentscope.report.regulator", "matplotlib", False) in seen
    assert layer_of("incidentscope.report.charts") == "core"
    assert layer_of("incidentscope.errors") == "base"
    assert group_of("incidentscope.spark.ingest") == "engine"


@pytest.mark.parametrize(("source", "text", "rule"), [
    ("incidentscope.workspace", "from incidentscope import replay", "base imports core"),
    ("incidentscope.replay", "import rich", "rich only in"),
    ("incidentscope.report.markdown", "from incidentscope.replay import run",
     "report imports engine"),
    ("incidentscope.status", "def f():\n    from incidentscope import api\n",
     "core imports api"),
])
def test_a_breach_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str,
                           text: str, rule: str) -> None:
    fake = tmp_path / modules()[source].name
    fake.write_text(text)
    extra = list(_scan(source, fake))
    monkeypatch.setattr(sys.modules[__name__], "imports", lambda: extra)
    assert any(rule in found for _, found in breaches())

