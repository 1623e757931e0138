"""The package is layered: no import cycle between its subpackages (function-local imports included)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "searchgym"

# Cycles not yet removed, as (importing module, imported module) edges that the walk skips. Each entry
# says why it is still here; shrink this set, never grow it.
ALLOWED: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every searchgym module ``name`` imports, at any depth of its code (``if TYPE_CHECKING`` too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # "from a.b import c" imports module a.b.c if there is one, else the name c of package a.b
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            targets = [node.args[0].value]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("searchgym") and target != name:
                found.add(target)
    return found


def _layer(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to: ``searchgym.envs.factory`` -> ``envs``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "searchgym"


def subpackage_graph() -> dict[str, dict[str, list[tuple[str, str]]]]:
    """``graph[a][b]``: the module edges through which layer ``a`` imports layer ``b``."""
    modules = _modules()
    graph: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for name, path in modules.items():
        if name == "searchgym":
            continue  # the package facade re-exports from every layer; nothing inside may import it
        for target in _imports(name, path, modules):
            a, b = _layer(name), _layer(target)
            if a != b and (name, target) not in ALLOWED:
                graph[a][b].append((name, target))
    return graph


def find_cycle(graph: dict[str, dict[str, list]]) -> list[str] | None:
    """One cycle of the graph as ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_no_import_cycle_between_subpackages() -> None:
    graph = subpackage_graph()
    cycle = find_cycle(graph)
    if cycle is not None:
        edges = "\n".join(f"  {a} -> {b}: " + ", ".join(f"{m} imports {t}" for m, t in graph[a][b][:4])
                          for a, b in zip(cycle, cycle[1:]))
        raise AssertionError(f"import cycle {' -> '.join(cycle)}:\n{edges}")


def test_nothing_inside_imports_the_package_facade() -> None:
    modules = _modules()
    offenders = [name for name, path in modules.items() if name != "searchgym" and "searchgym" in _imports(name, path, modules)]
    assert not offenders, f"these modules import the searchgym facade (import its layers instead): {offenders}"


def test_the_walk_finds_a_planted_cycle() -> None:
    graph = {"a": {"b": [("x.a.m", "x.b.n")]}, "b": {"c": [("x.b.n", "x.c.o")]}, "c": {"a": [("x.c.o", "x.a.m")]}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {}}) is None
