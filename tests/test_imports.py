"""The import graph of ``segmentum/``: no cycles, no other package's private names, light imports.

The graph is read with ``ast`` from the source (every ``import`` and ``from … import``,
those inside functions included, since a lazy import only hides a cycle; imports under
``if TYPE_CHECKING:`` are left out, they never run). Two checks:

- no cycle between modules, and none between packages (``segmentum.maps.*`` is one node,
  ``segmentum.profiles.*`` another, each root module such as ``segmentum.project`` its own);
- no module imports a ``_private`` module or name of another package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "segmentum"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, str | None]]:
    """(imported module, imported name or None) for every import that runs."""
    out: list[tuple[str, str | None]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            out.extend((target, alias.name) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def import_graph() -> tuple[dict[str, set[str]], dict[str, list[tuple[str, str | None]]]]:
    """Module → the segmentum modules it imports; module → its raw segmentum imports."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    raw: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, name in _imports(tree, module, path.name == "__init__.py"):
            if not (target == "segmentum" or target.startswith("segmentum.")):
                continue
            raw[module].append((target, name))
            # `from pkg import submodule` imports the submodule
            if name is not None and f"{target}.{name}" in files:
                graph[module].add(f"{target}.{name}")
            elif target in files:
                graph[module].add(target)
    return graph, raw


def node_of(module: str) -> str:
    """The package a module belongs to: ``segmentum.maps.x`` → ``maps``; root modules alone."""
    parts = module.split(".")
    if len(parts) == 1:
        return "segmentum"
    if (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return parts[1]  # a root module such as segmentum.project is its own node


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node, or a self-loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for a, targets in graph.items():
        for b in targets:
            if node_of(a) != node_of(b):
                out[node_of(a)].add(node_of(b))
    return dict(out)


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_is_read() -> None:
    graph, _ = import_graph()
    # a known edge, so the checks below cannot pass on an empty graph
    assert "segmentum.stats" in graph["segmentum.profiles.profile"]
    assert len(graph) > 50


def test_no_import_cycles_between_modules() -> None:
    graph, _ = import_graph()
    assert cycles(graph) == []


def test_no_import_cycles_between_packages() -> None:
    graph, _ = import_graph()
    assert cycles(package_graph(graph)) == []


def private_imports(raw: dict[str, list[tuple[str, str | None]]]) -> list[str]:
    """Imports of another package's ``_private`` module or name."""
    offenders = []
    for module, imports in raw.items():
        for target, name in imports:
            if node_of(target) == node_of(module):
                continue
            private_module = any(p.startswith("_") for p in target.split(".")[1:])
            private_name = name is not None and name.startswith("_") and name != "__version__"
            if private_module or private_name:
                offenders.append(f"{module}: {target}{'.' + name if name else ''}")
    return offenders


def test_private_check_finds_planted_offenders() -> None:
    raw = {
        "segmentum.maps.projection": [
            ("segmentum.profiles._stats", "weighted_mean"),  # private module elsewhere
            ("segmentum.profiles.profile", "_align_labels"),  # private name elsewhere
            ("segmentum.maps.text", "clean_texts"),
        ],
        "segmentum.value.cost": [("segmentum.value.summary", "_quote")],  # same package: fine
    }
    assert private_imports(raw) == [
        "segmentum.maps.projection: segmentum.profiles._stats.weighted_mean",
        "segmentum.maps.projection: segmentum.profiles.profile._align_labels",
    ]


def test_no_private_names_of_another_package() -> None:
    _, raw = import_graph()
    assert private_imports(raw) == []


def test_stats_is_neutral() -> None:
    graph, _ = import_graph()
    for module, targets in graph.items():
        if module.startswith("segmentum.stats"):
            assert all(t.startswith("segmentum.stats") for t in targets), (module, targets)


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )


@pytest.mark.parametrize("package", ["segmentum.segments", "segmentum.value", "segmentum.stats"])
def test_stage_packages_import_without_duckdb_or_the_run(package: str) -> None:
    code = (
        f"import {package}, sys\n"
        "heavy = [m for m in ('duckdb', 'segmentum.data.ingest', 'segmentum.project',"
        " 'segmentum.runs') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = _fresh(code)
    assert done.returncode == 0, done.stderr


def test_project_stays_available_lazily() -> None:
    done = _fresh(
        "import segmentum, sys\n"
        "assert 'segmentum.project' not in sys.modules\n"
        "assert segmentum.Project.__name__ == 'Project' and segmentum.RunResult\n"
        "assert 'segmentum.project' in sys.modules\n"
    )
    assert done.returncode == 0, done.stderr


def test_demo_without_its_own_import() -> None:
    done = _fresh(
        "import segmentum\n"
        "m = segmentum.demo.make_market(seed=0, n_customers=300, n_respondents=200)\n"
        "assert len(m.survey) == 200\n"
    )
    assert done.returncode == 0, done.stderr


def test_summary_sql_importable_where_the_readme_says() -> None:
    import datetime as dt

    from segmentum.value import summary_sql

    sql = summary_sql(
        "tx",
        customer_id="customer_id",
        timestamp="date",
        amount="amount",
        calibration_end=dt.date(1997, 9, 30),
    )
    assert "GROUP BY" in sql.upper() and "customer_id" in sql
