"""The import directions of docs/architecture.md: no cycle between the package's areas, and the
leaf modules import nothing of the package. Read from the source with ast (nothing imported)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gecko_bench", "trainers", "dashboards")


def _area(module: str) -> str | None:
    """The area a module belongs to: a gecko_bench subpackage or top module, or a top package."""
    parts = module.split(".")
    if parts[0] in ("trainers", "dashboards"):
        return parts[0]
    if parts[0] != "gecko_bench":
        return None
    return parts[1] if len(parts) > 1 else "gecko_bench"


def _imports(path: Path) -> list[str]:
    """Every absolute module a file imports (``from gecko_bench import x`` counts as ``x``),
    at the top or inside functions alike."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += ([f"gecko_bench.{a.name}" for a in node.names]
                    if node.module == "gecko_bench" else [node.module])
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


def area_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            source = _area(module.removesuffix(".__init__"))
            for target in filter(None, map(_area, _imports(path))):
                if target not in (source, "gecko_bench", "__version__"):
                    edges[source].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one area (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_areas():
    edges = area_graph()
    assert {"eval", "store", "fret", "trainers", "cli"} <= set(edges)  # the graph was read
    assert cycles(edges) == []


def test_leaves_import_nothing_of_the_package():
    edges = area_graph()
    assert edges.get("errors", set()) == set()
    for leaf in ("store", "config", "hardware", "assets"):
        assert edges.get(leaf, set()) <= {"errors"}, (leaf, edges.get(leaf))
    # the dashboard reads the store and its analyses, never the job or the trainers
    assert edges["dashboards"] <= {"errors", "store", "compare", "regress"}
