"""What the database should keep: the target of a sync, and the facts about a loaded tree
it is made of (which apps are the project's own, what its graph applied too early)."""

from __future__ import annotations

import sys
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrail.graph.parser import Key


@dataclass(frozen=True)
class Target:
    """The migrations the database should keep when they are not the working tree's (switch)."""

    keys: frozenset[Key]
    apps: frozenset[str]
    # Apps from outside the work tree (contrib, third-party) the checkout no longer installs:
    # rolled back to zero by the code that still installs them, as a person removing the
    # package would; an app that code does not install either is left alone.
    uninstalled: frozenset[str] = frozenset()
    # Applied migrations the target keeps but whose dependencies there are not applied (a
    # release deleted a migration and pointed its successor past it): unapplied as well, by
    # the code that applied them, and applied again after their dependencies.
    redo: frozenset[Key] = frozenset()


def tree_target(tree: Any, applied: Set[Key] = frozenset()) -> Target:
    """Everything the loaded code knows: its migration files and what their squashes replace;
    what of `applied` its graph has applied before a dependency is to be redone."""
    on_disk = set(tree.disk_migrations)
    replaced = {key for m in tree.disk_migrations.values() for key in m.replaces}
    redo = applied_before_dependencies(tree, applied)
    return Target(frozenset(on_disk | replaced), frozenset(tree.migrated_apps), redo=redo)


def applied_before_dependencies(tree: Any, applied: Set[Key]) -> frozenset[Key]:
    """The applied migrations of `tree`'s graph with a parent not applied, as Django's
    `check_consistent_history` finds them (a squash counts as applied when all it replaces
    is): `migrate` refuses the database until they are unapplied."""
    early = set()
    for key in applied:
        if key not in tree.graph.nodes:
            continue
        for parent in tree.graph.node_map[key].parents:
            if parent.key in applied:
                continue
            squash = tree.replacements.get(parent.key)
            if squash is None or not all(r in applied for r in squash.replaces):
                early.add(key)
    return frozenset(early)


def first_party_apps(tree: Any, root: Path) -> frozenset[str]:
    """Apps whose migrations package lives in the work tree `root` (not contrib, not installed)."""
    root = root.resolve()
    apps = set()
    for app in tree.migrated_apps:
        module_name, _ = tree.migrations_module(app)
        module = sys.modules.get(module_name)
        for entry in getattr(module, "__path__", []):
            path = Path(entry).resolve()
            inside = path == root or root in path.parents
            if inside and not {"site-packages", "dist-packages"} & set(path.parts):
                apps.add(app)
    return frozenset(apps)


def outside_keys(tree: Any, first_party: frozenset[str]) -> frozenset[Key]:
    """Migrations of contrib and third-party apps, as the environment has them."""
    keys = tree_target(tree).keys
    return frozenset(k for k in keys if k[0] not in first_party)


def squashes_kept(
    history: dict[Key, frozenset[Key]], keys: frozenset[Key], applied: Set[Key]
) -> dict[Key, frozenset[Key]]:
    """The squashes (as history has them) the target keeps whose replaced migrations need
    no rollback: the squash is applied, or all it replaced is (so it is recorded instead)."""
    return {
        squash: replaced
        for squash, replaced in history.items()
        if squash in keys and (squash in applied or replaced <= applied)
    }
