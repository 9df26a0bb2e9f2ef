"""The package layout is the architecture: layers checked by import-linter, and no cycles."""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each import cycle among migrail's modules, found once (depth-first search)."""
    modules = sorted(m for m in graph.modules if m.startswith("migrail"))
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith("migrail"):
                continue
            if state.get(imported) == 1:
                found.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported)
        path.pop()
        state[module] = 2

    for module in modules:
        if module not in state:
            visit(module)
    return found


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("migrail")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("migrail.a", "migrail.b", "migrail.c"):
        graph.add_module(name)
    graph.add_import(importer="migrail.a", imported="migrail.b")
    graph.add_import(importer="migrail.b", imported="migrail.c")
    graph.add_import(importer="migrail.c", imported="migrail.a")
    assert _cycles(graph) == [["migrail.a", "migrail.b", "migrail.c", "migrail.a"]]
