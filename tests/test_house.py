"""The shape of the house: no import circle, a small top level, layers that import downwards only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "fanlab"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the fanlab modules it imports, at the top or inside a function alike."""
    mods = {_module(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for name in names:
                while name and name not in mods:  # `from fanlab.x import y`: y a name, not a module
                    name = name.rpartition(".")[0]
                if name and name != mod and name != "fanlab":
                    graph[mod].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_counting_imports_inside_functions():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_at_most_ten_modules_at_the_top():
    top = sorted(p.name for p in SRC.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 10, top


def test_the_run_layer_never_imports_the_report_layer():
    graph = import_graph()
    for mod, deps in graph.items():
        if mod.startswith(("fanlab.engine", "fanlab.models", "fanlab.intervals", "fanlab.metrics", "fanlab.data")):
            assert not {d for d in deps if d.startswith("fanlab.report")}, mod
        if mod.startswith(("fanlab.models", "fanlab.intervals", "fanlab.metrics", "fanlab.data")):
            assert not {d for d in deps if d.startswith("fanlab.engine")}, mod


def test_a_method_plugin_does_not_load_the_runner():
    code = ("import sys, fanlab.intervals.pooled; "
            "print(sorted(m for m in sys.modules if m.startswith(('fanlab.engine', 'fanlab.report', 'pyarrow.parquet'))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]", res.stdout


def test_fanlab_run_stays_the_function_after_the_engine_is_imported():
    code = ("import fanlab, fanlab.engine.cells, fanlab.engine.runner, fanlab.report.build; "
            "print(callable(fanlab.run), fanlab.run is fanlab.api.run)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["True", "True"], res.stdout


def test_no_subpackage_shadows_a_top_level_name():
    import fanlab

    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert not packages & set(fanlab.__all__), packages & set(fanlab.__all__)
