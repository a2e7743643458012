"""The import graph of chalicelib (DESIGN.md §2): no cycles, and dependencies point one way.

Every module is parsed with `ast`, never imported, so the test sees imports Python would
only run later (inside functions, under `if TYPE_CHECKING:`): a deferred import is still a
dependency, and deferring one to dodge a cycle is exactly what this test is here to stop.

Layers and what each may import (besides the standard library and third-party packages):
- config    -> nothing of ours (the stage's settings, a plain dataclass)
- observability -> nothing of ours (logs and metrics; messaging and above use it)
- domain    -> domain (pure rules: no I/O, nothing of ours outside domain)
- repo      -> domain, repo
- messaging -> domain, messaging
- pdf       -> nothing of ours (the PDF writer, standard library only)
- compiled_templates -> nothing of ours (Jinja's cache of the templates the bundle compiled)
- services  -> config, domain, repo, messaging, services, pdf
- runtime   -> config, domain, repo, messaging, services (the composition root: it makes
               the dependencies each request and job run is handed)
- web       -> anything; nothing but app.py imports web
- app       -> anything (app.py, outside chalicelib: it registers the route table)
Nothing below web imports runtime, and in web only the two places a request or a job
run begins (request_state, jobs_entry) do: every other view is handed `Deps`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "chalicelib"

ALLOWED: dict[str, frozenset[str]] = {
    "config": frozenset({"config"}),
    # chalicelib/observability.py: logs and metrics, standard library only, used by all.
    "observability": frozenset(),
    "domain": frozenset({"domain"}),
    "repo": frozenset({"domain", "repo"}),
    "messaging": frozenset({"domain", "messaging", "observability", "compiled_templates"}),
    "pdf": frozenset(),  # chalicelib/pdf.py: the PDF writer, standard library only
    # chalicelib/compiled_templates.py: where the bundle's compiled templates are read.
    "compiled_templates": frozenset(),
    "services": frozenset(
        {"config", "domain", "repo", "messaging", "services", "pdf", "observability"}
    ),
    "runtime": frozenset(
        {"config", "domain", "repo", "messaging", "services", "runtime", "observability"}
    ),
    "web": frozenset(
        {
            "config",
            "domain",
            "repo",
            "messaging",
            "services",
            "runtime",
            "web",
            "observability",
            "compiled_templates",
        }
    ),
    "app": frozenset(
        {"config", "domain", "repo", "messaging", "services", "runtime", "web", "observability"}
    ),
    # chalicelib/__init__.py: importing any layer's module runs it, so it imports none.
    "package": frozenset(),
}

# Imports against the layers that are known and accepted. Exact on purpose: a new entry
# fails the test, and so does an entry that is no longer true. Empty since every service
# is handed its dependencies (issue 13).
KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()

# The web modules where a request or a job run begins: the only ones that ask the
# composition root for dependencies.
ENTRY_POINTS = frozenset({"chalicelib.web.request_state", "chalicelib.web.jobs_entry"})


# --- Reading the graph -----------------------------------------------------------------


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of chalicelib, plus app.py (it is the one allowed to import web)."""
    files = {module_name(path, root): path for path in sorted((root / PACKAGE).rglob("*.py"))}
    app = root / "app.py"
    if app.exists():
        files["app"] = app
    return files


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, str]]:
    """(module, name) for every import anywhere in the tree; name is "" for `import x`.

    Relative imports are made absolute, so `from . import x` in chalicelib.web.views
    gives ("chalicelib.web", "x").
    """
    for node in ast.walk(tree):  # walks function bodies too: deferred imports count
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module, is_package)
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                yield base, alias.name


def resolve(base: str, name: str, known: Iterable[str]) -> str | None:
    """The module of ours an import loads: `from chalicelib import runtime` is the module
    chalicelib.runtime; `from chalicelib.domain.money import parse_money` is
    chalicelib.domain.money. None for anything that is not ours."""
    modules = set(known)
    if name and f"{base}.{name}" in modules:
        return f"{base}.{name}"
    candidate = base
    while candidate:
        if candidate in modules:
            return candidate
        candidate = candidate.rpartition(".")[0]
    return None


def build_graph(files: Mapping[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Edges between our modules, and imports of ours that name no module we have."""
    graph: dict[str, set[str]] = {module: set() for module in files}
    unresolved: list[str] = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for base, name in imported_names(tree, module, path.name == "__init__.py"):
            if base != PACKAGE and not base.startswith(PACKAGE + "."):
                continue  # standard library or third party
            target = resolve(base, name, files)
            if target is None or (target == PACKAGE and name and f"{base}.{name}" not in files):
                # `from chalicelib import nothing_here`: a typo or a module that moved.
                unresolved.append(f"{module}: from {base} import {name or '*'}")
            elif target != module:
                graph[module].add(target)
    return graph, unresolved


def layer_of(module: str) -> str | None:
    if module == "app":
        return "app"
    if module == PACKAGE:
        return "package"
    if module == f"{PACKAGE}.runtime":
        return "runtime"
    if module == f"{PACKAGE}.config":
        return "config"
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == PACKAGE and parts[1] in ALLOWED:
        return parts[1]
    return None


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One closed path (first module repeated last) per strongly connected component of
    more than one module (Tarjan's algorithm, iterative so depth is no concern)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return [_closed_path(graph, component) for component in components]


def _closed_path(graph: Mapping[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, for a readable failure."""
    first = min(component)
    paths = {first: [first]}
    frontier = [first]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == first:
                    return [*paths[node], first]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {first}")  # a component always has one


def layer_violations(graph: Mapping[str, set[str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for module, targets in graph.items():
        allowed = ALLOWED.get(layer_of(module) or "", frozenset())
        for target in targets:
            if layer_of(target) not in allowed:
                found.add((module, target))
    return found


# --- The rules -------------------------------------------------------------------------

FILES = source_files()
GRAPH, UNRESOLVED = build_graph(FILES)


def test_every_import_of_ours_names_a_module_we_have() -> None:
    # Otherwise an edge could go missing from the graph and a cycle with it.
    assert UNRESOLVED == []


def test_every_module_belongs_to_a_layer() -> None:
    # A new top-level module must be given a layer (and rules) here before it is used.
    assert [m for m in FILES if layer_of(m) is None] == []


def test_there_is_no_import_cycle() -> None:
    found = cycles(GRAPH)
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_dependencies_point_one_way() -> None:
    found = layer_violations(GRAPH)
    new = sorted(found - KNOWN_EXCEPTIONS)
    assert new == [], "imports against the layers:\n" + "\n".join(f"{a} -> {b}" for a, b in new)
    gone = sorted(KNOWN_EXCEPTIONS - found)
    assert gone == [], "no longer true, remove from KNOWN_EXCEPTIONS: " + repr(gone)


def test_nothing_below_web_imports_runtime_or_web() -> None:
    # Spelled out on its own because it is the rule most easily broken by a deferred import.
    below = {"domain", "repo", "messaging", "services"}
    found = {
        (module, target)
        for module, targets in GRAPH.items()
        if layer_of(module) in below
        for target in targets
        if layer_of(target) in {"runtime", "web"}
    }
    assert sorted(found - KNOWN_EXCEPTIONS) == []


def test_views_are_handed_their_dependencies() -> None:
    # A view that asked runtime for the table or the clock would make a second `now`.
    reaching = sorted(
        module
        for module, targets in GRAPH.items()
        if layer_of(module) == "web" and module not in ENTRY_POINTS
        if f"{PACKAGE}.runtime" in targets
    )
    assert reaching == []


# --- The reader itself -----------------------------------------------------------------


def _graph_of(tmp_path: Path, sources: Mapping[str, str]) -> dict[str, set[str]]:
    for relative, text in sources.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    graph, unresolved = build_graph(source_files(tmp_path))
    assert unresolved == []
    return graph


def test_the_reader_sees_deferred_relative_and_from_package_imports(tmp_path: Path) -> None:
    graph = _graph_of(
        tmp_path,
        {
            "chalicelib/__init__.py": "",
            "chalicelib/runtime.py": "",
            "chalicelib/domain/__init__.py": "",
            "chalicelib/domain/a.py": "def f():\n    from chalicelib.domain import b\n",
            "chalicelib/domain/b.py": "from . import c\nfrom .c import thing\n",
            "chalicelib/domain/c.py": "import os\nimport chalicelib.domain.a as again\n",
            "chalicelib/messaging/__init__.py": "",
            "chalicelib/messaging/m.py": "from chalicelib import runtime\nfrom ..domain import a\n",
        },
    )
    assert graph["chalicelib.domain.a"] == {"chalicelib.domain.b"}
    assert graph["chalicelib.domain.b"] == {"chalicelib.domain.c"}
    assert graph["chalicelib.domain.c"] == {"chalicelib.domain.a"}
    assert graph["chalicelib.messaging.m"] == {"chalicelib.runtime", "chalicelib.domain.a"}
    loop = ["chalicelib.domain.a", "chalicelib.domain.b", "chalicelib.domain.c"]
    assert cycles(graph) == [[*loop, loop[0]]]
    assert layer_violations(graph) == {("chalicelib.messaging.m", "chalicelib.runtime")}


def test_the_reader_reports_imports_of_modules_that_do_not_exist(tmp_path: Path) -> None:
    (tmp_path / "chalicelib").mkdir()
    (tmp_path / "chalicelib" / "__init__.py").write_text("")
    (tmp_path / "chalicelib" / "runtime.py").write_text("from chalicelib import gone\n")
    _, unresolved = build_graph(source_files(tmp_path))
    assert unresolved == ["chalicelib.runtime: from chalicelib import gone"]
