"""An app-spanning migration graph built the way Django's `MigrationLoader(None)` builds it.

`build_graph` follows `MigrationLoader.build_graph` step by step: nodes, same-app
dependencies, cross-app dependencies and `run_before` (with `__first__` and
`__latest__` resolved), then every squash collapses the nodes it replaces.
With no database nothing is applied, so Django always collapses; so do we.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from migrail.graph.parser import Dependency, Key, ParsedMigration

NUMBER = re.compile(r"^(\d+)_(.*)$")
"""A numbered migration name: its number, and the rest."""

DEFAULT_SWAPPABLE = {"AUTH_USER_MODEL": "auth.User"}


@dataclass(frozen=True)
class DanglingDependency:
    child: Key
    parent: Key
    line: int


@dataclass
class MigrationGraph:
    parents: dict[Key, set[Key]] = field(default_factory=dict)
    children: dict[Key, set[Key]] = field(default_factory=dict)

    @property
    def nodes(self) -> list[Key]:
        return sorted(self.parents)

    def add_node(self, key: Key) -> None:
        self.parents.setdefault(key, set())
        self.children.setdefault(key, set())

    def add_edge(self, child: Key, parent: Key) -> None:
        # `parents` and `children` always have the same keys: one lookup says both are there.
        if child not in self.parents:
            self.add_node(child)
        if parent not in self.parents:
            self.add_node(parent)
        self.parents[child].add(parent)
        self.children[parent].add(child)

    def remove_node(self, key: Key) -> None:
        for parent in self.parents.pop(key, set()):
            self.children[parent].discard(key)
        for child in self.children.pop(key, set()):
            self.parents[child].discard(key)

    def apps(self) -> list[str]:
        return sorted({app for app, _ in self.parents})

    def leaf_nodes(self, app: str | None = None) -> list[Key]:
        """Nodes with no child in their own app (Django's definition)."""
        return _ends(self.children, app)

    def root_nodes(self, app: str | None = None) -> list[Key]:
        return _ends(self.parents, app)

    def leaves_by_app(self) -> dict[str, list[Key]]:
        """`leaf_nodes(app)` for every app in one pass."""
        return _by_app(self.leaf_nodes())

    def roots_by_app(self) -> dict[str, list[Key]]:
        return _by_app(self.root_nodes())

    def forwards_plan(self, target: Key) -> list[Key]:
        """`target` and its ancestors, parents first: Django's `iterative_dfs`, so orders agree."""
        return self._dfs(target, self.parents)

    def backwards_plan(self, target: Key) -> list[Key]:
        """`target` and its descendants, children first."""
        return self._dfs(target, self.children)

    @staticmethod
    def _dfs(start: Key, neighbours: dict[Key, set[Key]]) -> list[Key]:
        visited: list[Key] = []
        seen: set[Key] = set()
        stack: list[tuple[Key, bool]] = [(start, False)]
        while stack:
            key, processed = stack.pop()
            if key in seen:
                continue
            if processed:
                seen.add(key)
                visited.append(key)
            else:
                stack.append((key, True))
                stack += [(other, False) for other in sorted(neighbours[key])]
        return visited

    def full_plan(self) -> list[Key]:
        """What `migrate` would apply on an empty database, in order."""
        plan: list[Key] = []
        planned: set[Key] = set()
        for leaf in self.leaf_nodes():
            for key in self.forwards_plan(leaf):
                if key not in planned:
                    planned.add(key)
                    plan.append(key)
        return plan

    def is_acyclic(self) -> bool:
        """Kahn's algorithm: cheaper than finding the cycles, which are rare."""
        waiting = {key: len(parents) for key, parents in self.parents.items()}
        ready = [key for key, count in waiting.items() if count == 0]
        seen = 0
        while ready:
            key = ready.pop()
            seen += 1
            for child in self.children[key]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        return seen == len(waiting)

    def cycles(self) -> list[list[Key]]:
        """Each group of migrations that depend on each other (Tarjan's SCCs)."""
        if self.is_acyclic():
            return []
        index: dict[Key, int] = {}
        low: dict[Key, int] = {}
        on_stack: set[Key] = set()
        stack: list[Key] = []
        found: list[list[Key]] = []
        counter = 0
        for root in self.nodes:
            if root in index:
                continue
            work: list[tuple[Key, list[Key]]] = [(root, sorted(self.children[root]))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                key, pending = work[-1]
                if pending:
                    child = pending.pop()
                    if child not in index:
                        index[child] = low[child] = counter
                        counter += 1
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, sorted(self.children[child])))
                    elif child in on_stack:
                        low[key] = min(low[key], index[child])
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[key])
                if low[key] == index[key]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == key:
                            break
                    if len(component) > 1 or key in self.children[key]:
                        found.append(sorted(component))
        return sorted(found)


@dataclass
class GraphBuild:
    graph: MigrationGraph
    dangling: list[DanglingDependency]


def build_graph(
    migrations: Mapping[Key, ParsedMigration],
    *,
    swappable: Mapping[str, str] = DEFAULT_SWAPPABLE,
    known_apps: Iterable[str] = (),
) -> GraphBuild:
    """Build the graph of `migrations`.

    `known_apps` are first-party apps with a migrations package but possibly
    no migrations; a dependency on an app outside both is third-party and is
    left out, as it cannot be checked statically.
    """
    builder = _GraphBuilder(migrations, swappable, known_apps)
    builder.add_same_app_edges()
    builder.add_cross_app_edges()
    builder.collapse_squashes()
    dangling = builder.drop_dangling()
    return GraphBuild(builder.graph, dangling)


class _GraphBuilder:
    """`build_graph`'s state between its phases, which run in `MigrationLoader`'s order.

    `real` is the set of nodes backed by a migration that is still in the
    graph; `wanted` is the source line of each edge a migration asked for,
    kept so that a dangling edge can point at the line that wrote it.
    """

    def __init__(
        self,
        migrations: Mapping[Key, ParsedMigration],
        swappable: Mapping[str, str],
        known_apps: Iterable[str],
    ) -> None:
        """Every migration as a node, and nothing else yet."""
        self.migrations = migrations
        self.swappable = swappable
        self.graph = MigrationGraph({k: set() for k in migrations}, {k: set() for k in migrations})
        self.apps = {app for app, _ in migrations} | set(known_apps)
        self.real = set(migrations)
        self.wanted: dict[tuple[Key, Key], int] = {}
        self.roots: dict[str, list[Key]] = {}
        self.leaves: dict[str, list[Key]] = {}

    def depend(self, child: Key, parent: Key, line: int) -> None:
        """Add the edge `child` -> `parent`, remembering the first line that asked for it."""
        self.graph.add_edge(child, parent)
        self.wanted.setdefault((child, parent), line)

    def add_same_app_edges(self) -> None:
        """Dependencies within an app by name, then each app's roots and leaves from them.

        `__first__` and `__latest__` of another app are resolved against these
        roots and leaves, as Django resolves them before any cross-app edge.
        """
        graph, wanted = self.graph, self.wanted
        for key, migration in self.migrations.items():
            for dep in migration.dependencies:
                if dep.swappable_setting is None and dep.app == key[0] and dep.name != "__first__":
                    parent = (dep.app, dep.name)
                    graph.add_edge(key, parent)  # `depend`, inlined: once per migration
                    wanted.setdefault((key, parent), dep.line)
        self.roots = self.graph.roots_by_app()
        self.leaves = self.graph.leaves_by_app()

    def add_cross_app_edges(self) -> None:
        """Dependencies on other apps (swappable ones included), then every `run_before`."""
        for key, migration in self.migrations.items():
            for dep in migration.dependencies:
                if dep.swappable_setting is None and dep.app == key[0]:
                    continue
                parent = self.resolve(dep, key[0])
                if parent is not None:
                    self.depend(key, parent, dep.line)
            for dep in migration.run_before:
                child = self.resolve(dep, key[0])
                if child is not None:
                    self.depend(child, key, dep.line)

    def resolve(self, dep: Dependency, current_app: str) -> Key | None:
        """The node `dep` names, or None where it is third-party or cannot be resolved.

        A swappable setting names its model's app; `__first__` and `__latest__`
        are that app's root and leaf, unless a migration has that very name.
        """
        app = dep.app
        if dep.swappable_setting is not None:
            value = self.swappable.get(dep.swappable_setting)
            if value is None:
                return None
            app = value.split(".", 1)[0]
        if app not in self.apps:
            return None
        if dep.name not in ("__first__", "__latest__") or (app, dep.name) in self.real:
            return (app, dep.name)
        if app == current_app:
            return None
        nodes = (self.roots if dep.name == "__first__" else self.leaves).get(app, [])
        candidates = [n for n in nodes if n in self.real]
        return candidates[0] if candidates else None

    def collapse_squashes(self) -> None:
        """Each squash, in name order, takes over the edges of the nodes it replaces.

        With no database nothing is applied, so Django always collapses.
        """
        for squash in sorted(k for k, m in self.migrations.items() if m.replaces):
            if squash in self.graph.parents:
                self.collapse(squash)

    def collapse(self, squash: Key) -> None:
        """Point the edges of every node `squash` replaces at `squash`, then drop those nodes."""
        graph = self.graph
        replaced = {(r.app, r.name) for r in self.migrations[squash].replaces}
        for old in sorted(replaced):
            if old not in graph.parents:
                continue
            for child in graph.children[old] - replaced - {squash}:
                graph.add_edge(child, squash)
                _move_line(self.wanted, (child, old), (child, squash))
            for parent in graph.parents[old] - replaced - {squash}:
                graph.add_edge(squash, parent)
            graph.remove_node(old)
            self.real.discard(old)

    def drop_dangling(self) -> list[DanglingDependency]:
        """Remove every node no migration backs, returning the edges that pointed at one."""
        dangling = []
        for node in sorted(n for n in self.graph.parents if n not in self.real):
            for child in sorted(self.graph.children[node]):
                dangling.append(DanglingDependency(child, node, self.wanted.get((child, node), 1)))
            self.graph.remove_node(node)
        return dangling


def _ends(neighbours: dict[Key, set[Key]], app: str | None) -> list[Key]:
    """The nodes (of `app`, or all) with no neighbour in their own app, sorted."""
    ends = []
    for key, others in neighbours.items():
        if app is not None and key[0] != app:
            continue
        for other in others:  # a loop, not all(): called for every node of 10,000
            if other[0] == key[0]:
                break
        else:
            ends.append(key)
    ends.sort()
    return ends


def _by_app(keys: list[Key]) -> dict[str, list[Key]]:
    grouped: dict[str, list[Key]] = {}
    for key in keys:
        grouped.setdefault(key[0], []).append(key)
    return grouped


def _move_line(
    lines: dict[tuple[Key, Key], int], old: tuple[Key, Key], new: tuple[Key, Key]
) -> None:
    if old in lines:
        lines.setdefault(new, lines[old])
