"""This branch's chain of an app's migrations on the graph `check` builds: its order, its
roots and leaves, and the other side's one leaf (`rebase` moves the chain after it). A squash
with `replaces` stands for its originals, as Django's loader has it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from migrail.errors import MigrailError
from migrail.graph.graph import MigrationGraph, build_graph
from migrail.graph.parser import Dependency, Key, ParsedMigration
from migrail.sources.packages import MigrationPackage


class RebaseRefused(MigrailError):
    pass


@dataclass(frozen=True)
class Dep:
    name: str  # after renames remembered from earlier steps of this rebase
    written: str  # as the file has it


def same_app_deps(package: MigrationPackage, name: str, remembered: dict[Key, Key]) -> list[Dep]:
    parsed = package.migrations[name].parsed
    assert isinstance(parsed, ParsedMigration)
    deps = []
    for dep in parsed.dependencies:
        key = remembered.get((dep.app, dep.name), (dep.app, dep.name))
        if key[0] == package.label and dep.swappable_setting is None:
            deps.append(Dep(key[1], dep.name))
    return deps


def graph_after(packages: list[MigrationPackage], remembered: dict[Key, Key]) -> MigrationGraph:
    """The project graph as `project_graph` builds it, each name an earlier step of this
    rebase renamed read as its new name."""
    migrations = {}
    for package in packages:
        for migration_file in package.migrations.values():
            if (parsed := migration_file.migration) is not None:
                migrations[(package.label, migration_file.name)] = replace(
                    parsed,
                    dependencies=renamed(parsed.dependencies, remembered),
                    run_before=renamed(parsed.run_before, remembered),
                    replaces=renamed(parsed.replaces, remembered),
                )
    return build_graph(migrations, known_apps=[p.label for p in packages]).graph


def renamed(deps: tuple[Dependency, ...], remembered: dict[Key, Key]) -> tuple[Dependency, ...]:
    return tuple(
        replace(d, name=remembered[(d.app, d.name)][1]) if (d.app, d.name) in remembered else d
        for d in deps
    )


def _within(graph: MigrationGraph, app: str, names: set[str]) -> dict[str, set[str]]:
    """Each of `names` that is a node of `graph` (a replaced migration is not: its squash
    stands for it), with its parents among them."""
    return {
        name: {parent for a, parent in graph.parents[(app, name)] if a == app and parent in names}
        for name in names
        if (app, name) in graph.parents
    }


def chain_in_order(
    graph: MigrationGraph, app: str, moving: set[str]
) -> tuple[list[str], list[str]]:
    """This branch's migrations of the app in dependency order, and the chain's roots."""
    parents = _within(graph, app, moving)
    order: list[str] = []
    ready = sorted(n for n, p in parents.items() if not p)
    roots = list(ready)
    done: set[str] = set()
    while ready:
        name = ready.pop(0)
        order.append(name)
        done.add(name)
        ready += sorted(n for n in parents.keys() - done - set(ready) if parents[n] <= done)
    if len(order) != len(parents):
        raise RebaseRefused(f"{app}'s migrations on this branch depend on each other in a cycle")
    return order, roots


def leaves_among(graph: MigrationGraph, app: str, names: set[str]) -> set[str]:
    """Those of `names` that no other of them depends on, as the graph has them."""
    parents = _within(graph, app, names)
    return parents.keys() - {p for ps in parents.values() for p in ps}


def single_leaf(graph: MigrationGraph, app: str, staying: set[str]) -> str | None:
    leaves = sorted(leaves_among(graph, app, staying))
    if len(leaves) > 1:
        raise RebaseRefused(
            f"the other side's {app} migrations are forked themselves "
            f"({', '.join(leaves)}); repair that side first"
        )
    return leaves[0] if leaves else None
