"""The phases of `plan.plan_sync`, in the order it runs them, each with one job.

1. `applied_and_target`: what the database has applied, and the migrations it should keep.
2. `gone_from_target` and `orphans_and_squashes`: which applied migrations the target lacks,
   and of those which are orphans to unapply, squashes' records, or recorded instead.
3. `restored_sources`: the sources Django's loader needs to place the orphans in its graph.
4. `rollback`: the loader with the orphans restored, and what unapplying them takes.
5. `tree_state`: the working tree's leaves, the last applied migrations, what to apply.

Each phase returns its result as a value; only `plan_sync` puts them into a `SyncPlan`.
"""

from __future__ import annotations

import sys
from collections.abc import Set
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from migrail.errors import MigrailError
from migrail.graph.parser import Key, ParsedMigration, parse_migration
from migrail.sources.gitrepo import GitRepo
from migrail.sync.edited_migrations import applied_source, edited_since_applied
from migrail.sync.effects import Effect, effects_backwards, effects_forwards
from migrail.sync.loader import LoadedMigrations, OrphanUnloadable
from migrail.sync.orphan_sources import (
    applied_dependencies,
    commit_with,
    dependents_as_applied,
    find_sources,
    point_past_squashes,
    squash_history,
    squashes_depended_on,
)
from migrail.sync.target import Target, first_party_apps, outside_keys, squashes_kept, tree_target

# Phase 1 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """What the database has applied, and what it should keep."""

    records: dict[Key, Any]  # the recorder's rows
    keys: frozenset[Key]
    first_party: frozenset[str]  # apps whose code is in the work tree (or `code_root`)
    target: Target  # with the outside apps' migrations kept
    edited: list[Key]  # applied, and changed since (the working tree's code only)


def applied_and_target(
    repo: GitRepo, tree: Any, connection: Any, target: Target | None, code_root: Path | None
) -> Applied:
    """Phase 1: the applied migrations, those edited since, and the target.

    Without `target`, the loaded tree's. A given one (a switch, the old code's child)
    also keeps the migrations of apps from outside `code_root` (contrib, third-party) as
    the environment has them, but those of its `uninstalled` apps this code installs.
    """
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    records = recorder.applied_migrations() if recorder.has_table() else {}
    first_party = first_party_apps(tree, code_root or repo.root)
    edited = (
        edited_since_applied(repo, tree, records, first_party)
        if target is None and code_root is None
        else []
    )
    if target is None:
        target = tree_target(tree, frozenset(records))
    else:
        outside = outside_keys(tree, first_party)
        removing = target.uninstalled & set(tree.migrated_apps)
        kept = frozenset(k for k in outside if k[0] not in removing)
        target = Target(target.keys | kept, target.apps | removing, redo=target.redo)
    return Applied(records, frozenset(records), first_party, target, edited)


# Phase 2 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gone:
    """The applied migrations the target lacks, before their sources are looked at."""

    candidates: list[Key]  # of apps in play, less those a squash the target keeps covers
    not_installed: list[str]  # apps with such migrations that no code here installs
    history: dict[Key, frozenset[Key]]  # squashes as some commit wrote them → replaced
    record: dict[Key, str]  # completed squashes to record as applied → why


def gone_from_target(repo: GitRepo, tree: Any, applied: Applied, root: Path) -> Gone:
    """Phase 2a: the orphan candidates, and the completed squashes history knows of.

    A squash the target keeps stands for the migrations it replaced (as history has them)
    when it is applied, or when they all are (it is then recorded, not run).
    """
    target = applied.target
    gone = (applied.keys - target.keys) | (target.redo & applied.keys)
    candidates = sorted(k for k in gone if k[0] in applied.first_party | target.apps)
    not_installed = sorted({k[0] for k in gone} - {k[0] for k in candidates})
    # What history says was squashed: a completed squash has no `replaces` left.
    history = squash_history(repo, tree, {k[0] for k in candidates}, code_root=root)
    covering = squashes_kept(history, target.keys, applied.keys)
    covered = {key for replaced in covering.values() for key in replaced}
    record = {
        s: "it squashes " + ", ".join(f"{a}.{n}" for a, n in sorted(r)) + ", all applied"
        for s, r in covering.items()
        if s not in applied.keys
    }
    candidates = [k for k in candidates if k not in covered]  # kept as the squash is
    return Gone(candidates, not_installed, history, record)


@dataclass(frozen=True)
class Orphans:
    """The applied migrations to unapply, and the squashes in their way."""

    orphans: list[Key]  # in the order found: the candidates', then the edited ones redone
    squash_records: dict[Key, Key]  # a squash → its last replaced migration
    hidden: list[Key]  # squashes on disk the rollback's loader must not see
    record: dict[Key, str]  # to record as applied instead of run → why
    edited: list[Key]  # edited since applied and not redone
    sources: dict[Key, bytes]  # found so far: the candidates' and the applied copies
    missing: list[Key]  # candidates whose source was not found


def orphans_and_squashes(
    repo: GitRepo,
    tree: Any,
    applied: Applied,
    gone: Gone,
    *,
    from_rev: str | None,
    root: Path,
    redo_edited: bool,
) -> Orphans:
    """Phase 2b: each candidate is an orphan, or a squash's record whose replaced migrations
    the target keeps (recorded too), or a squash that goes with what it replaces.

    `redo_edited`: the migrations edited since applied are orphans too, with the applied copy.
    """
    on_disk = set(tree.disk_migrations)
    sources, missing = find_sources(
        repo, tree, [k for k in gone.candidates if k not in on_disk], from_rev, code_root=root
    )
    record = dict(gone.record)
    orphans = []
    squash_records: dict[Key, Key] = {}
    for key in gone.candidates:
        replaces = _replaces(tree, key, sources) or sorted(gone.history.get(key, ()))
        if replaces and set(replaces) <= applied.target.keys:
            # A squash's record; the migrations it replaces are kept, and Django, which ran
            # it, recorded them too unless its `replaces` was gone (a completed squash).
            for replaced in sorted(set(replaces) - applied.keys):
                record[replaced] = f"{key[0]}.{key[1]}, applied, squashes it"
        elif replaces:
            # Unapplying the squash would undo what it replaces, kept ones included;
            # the replaced migrations the target lacks are orphans of their own.
            squash_records[key] = replaces[-1]
        else:
            orphans.append(key)
    edited = applied.edited
    if redo_edited and edited:
        for key in sorted(edited):
            orphans.append(key)
            sources[key] = applied_source(repo, key)
        edited = []
    _applied_versions(repo, tree, applied, orphans, sources)
    squash_records |= squashes_depended_on(repo, tree, orphans, sources, from_rev, code_root=root)
    for key, last in _older_squashes(tree, applied.target, orphans).items():
        squash_records.setdefault(key, last)
    # A squash on disk whose replaced migrations go (older code): hidden from the loader.
    hidden = sorted(k for k in squash_records if k in on_disk)
    return Orphans(orphans, squash_records, hidden, record, edited, sources, missing)


def redo_takes(tree: Any, edited: list[Key], applied: Set[Key]) -> dict[Key, list[Key]]:
    """For each edited migration, the other applied migrations a redo would unapply with it
    (those after it in the graph): a redo is advised only when there are none."""
    return {
        key: [k for k in tree.graph.backwards_plan(key) if k in applied and k != key]
        for key in edited
        if key in tree.graph.nodes
    }


def _replaces(tree: Any, key: Key, sources: dict[Key, bytes]) -> list[Key]:
    """What `key` replaces, as its file on disk or its found source says."""
    if key in tree.disk_migrations:
        return list(tree.disk_migrations[key].replaces)
    parsed = parse_migration(sources[key]) if key in sources else None
    if isinstance(parsed, ParsedMigration):
        return [(r.app, r.name) for r in parsed.replaces]
    return []


def _applied_versions(
    repo: GitRepo, tree: Any, applied: Applied, orphans: list[Key], sources: dict[Key, bytes]
) -> None:
    """An orphan whose file here (an older commit's, in the old code's child) was edited
    after it was applied (an amend): unapplied as it was applied, from migrail's copy."""
    on_disk = set(tree.disk_migrations)
    changed = edited_since_applied(
        repo, tree, {k: applied.records[k] for k in orphans if k in on_disk}, applied.first_party
    )
    for key in changed:
        sources[key] = applied_source(repo, key)


def _older_squashes(tree: Any, target: Target, orphans: list[Key]) -> dict[Key, Key]:
    """Older code's squashes of orphans (Django would put them in the orphans' place), each
    with its last replaced migration."""
    return {
        key: squash.replaces[-1]
        for key, squash in tree.replacements.items()
        if key not in target.keys and set(squash.replaces) & set(orphans)
    }


# Phase 3 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    """What Django's loader is shown so that it places the orphans in its graph."""

    sources: dict[Key, bytes]  # each restored migration's source, pointing past squashes
    missing: list[Key]  # restored migrations whose source was not found


def restored_sources(
    repo: GitRepo,
    tree: Any,
    applied: Applied,
    orphans: Orphans,
    *,
    from_rev: str | None,
    root: Path,
) -> Restored:
    """Phase 3: the orphans' sources, with the applied migrations they need around them.

    Restored with them: applied migrations on disk that were applied after an orphan (as
    migrail kept them), applied parents the loaded code lacks, and for a hidden squash the
    migrations on disk that depend on it and the ones it replaced.
    """
    sources = dict(orphans.sources)
    missing = list(orphans.missing)
    restored = set(orphans.orphans)
    if orphans.orphans:
        restored |= _around_orphans(
            repo, tree, applied, orphans.orphans, sources, from_rev=from_rev, root=root
        )
    if orphans.hidden:
        replaced, lost = _around_hidden(
            repo, tree, orphans.hidden, sources, from_rev=from_rev, root=root
        )
        missing += lost
        restored |= replaced
    return Restored(
        sources={
            k: point_past_squashes(v, orphans.squash_records)
            for k, v in sources.items()
            if k in restored
        },
        missing=[k for k in missing if k in restored],
    )


def _around_orphans(
    repo: GitRepo,
    tree: Any,
    applied: Applied,
    orphans: list[Key],
    sources: dict[Key, bytes],
    *,
    from_rev: str | None,
    root: Path,
) -> set[Key]:
    """Adds to `sources` the applied migrations the orphans' rollback needs in the graph:
    those applied after them and their applied parents the loaded code lacks."""
    restored = set(orphans)
    applied_after = dependents_as_applied(repo, tree, orphans, applied.keys)
    applied_after = {k: v for k, v in applied_after.items() if k not in sources}
    sources |= applied_after
    restored |= set(applied_after)
    parents = applied_dependencies(
        repo,
        tree,
        {k: sources[k] for k in restored if k in sources},
        applied.keys,
        from_rev,
        code_root=root,
    )
    sources |= parents
    return restored | set(parents)


def _around_hidden(
    repo: GitRepo,
    tree: Any,
    hidden: list[Key],
    sources: dict[Key, bytes],
    *,
    from_rev: str | None,
    root: Path,
) -> tuple[set[Key], list[Key]]:
    """Adds to `sources` the migrations on disk that depend on a hidden squash (restored
    pointing past it) and the ones it replaced; returns those and the ones not found."""
    restored = set()
    for key, migration in tree.disk_migrations.items():
        if set(migration.dependencies) & set(hidden) and key not in sources:
            module = sys.modules[type(migration).__module__]
            sources[key] = Path(str(module.__file__)).read_bytes()
            restored.add(key)
    on_disk = set(tree.disk_migrations)
    replaced = sorted(
        {r for k in hidden for r in tree.disk_migrations[k].replaces} - on_disk - set(sources)
    )
    found, lost = find_sources(repo, tree, replaced, from_rev, code_root=root)
    sources |= found
    return restored | set(replaced), lost


# Phase 4 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rollback:
    """What unapplying the orphans takes."""

    unapply: list[Key]  # in the order Django unapplies them
    effects: dict[Key, list[Effect]]
    irreversible: list[str]  # the operations that cannot be undone, described
    unloadable: str | None = None  # why the orphans cannot be loaded (status only)
    # The restored sources the orphans load from (None: all of `Restored.sources`); fewer
    # when a copy as applied cannot import here and this code's file stands in for it.
    sources: dict[Key, bytes] | None = None


def rollback(
    repo: GitRepo,
    loaded: LoadedMigrations,
    orphans: Orphans,
    restored: Restored,
    root: Path,
    *,
    strict: bool,
) -> Rollback:
    """Phase 4: the loader with the orphans restored (built once, kept in `loaded` for the
    rollback to run on), and what unapplying them takes there.

    Nothing without orphans, or while a source is missing. An orphan the restored sources
    cannot load raises, naming the commit with its code; with `strict=False` (status) it is
    reported in `unloadable` instead.
    """
    if not orphans.orphans or restored.missing:
        return Rollback([], {}, [])
    sources = dict(restored.sources)
    while True:
        try:
            loader = (
                loaded.with_orphans(sources, orphans.hidden)
                if sources or orphans.hidden
                else loaded.tree
            )
            break
        except OrphanUnloadable as err:
            if err.orphan in sources and err.orphan in loaded.tree.disk_migrations:
                # The copy as applied imports what this code no longer has (a helper
                # inlined since): unapplied with this code's file, as `migrate` would.
                del sources[err.orphan]
                continue
            commit = commit_with(repo, loaded.tree, err.orphan, code_root=root)
            error = err.in_commit(commit) if commit else err
            if strict:
                raise error from err.__cause__
            return Rollback([], {}, [], unloadable=f"{error.reason}; {error.way_out}")
    in_order = unapply_in_order(loader, orphans.orphans)
    return replace(in_order, sources=sources)


def unapply_in_order(loader: Any, orphans: list[Key]) -> Rollback:
    """What unapplying the orphans takes in `loader`, which has them: the applied migrations
    Django's backwards plans undo, in order, with their effects and irreversible operations."""
    unapply: list[Key] = []
    for orphan in orphans:
        if orphan not in loader.graph.nodes:
            raise MigrailError(
                f"{orphan[0]}.{orphan[1]} is applied but Django's loader does not place it "
                "in the graph once its source is restored; nothing was changed"
            )
        for key in loader.graph.backwards_plan(orphan):
            if key in loader.applied_migrations and key not in unapply:
                unapply.append(key)
    effects = effects_backwards(loader, unapply, loader.applied_migrations.keys())
    irreversible = []
    for key in unapply:
        migration = loader.graph.nodes[key]
        irreversible += [
            f"{key[0]}.{key[1]}: {op.describe()} (operation {number}) is not reversible"
            for number, op in enumerate(migration.operations, 1)
            if not op.reversible
        ]
    return Rollback(unapply, effects, irreversible)


# Phase 5 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeState:
    """The working tree's side of the plan."""

    leaves: dict[str, list[str]]  # app → its leaf migrations (several: forked)
    last_applied: dict[str, str]  # app → its applied migration last by name
    apply: list[Key]  # what `migrate` applies, in order
    effects: dict[Key, list[Effect]]  # what applying them does, when it drops something


def tree_state(
    tree: Any, applied: Set[Key], record: dict[Key, str], unapply: list[Key]
) -> TreeState:
    """Phase 5: the tree's leaves, the last applied migration of each app, and what to apply
    once `unapply` is unapplied and `record` recorded, as the loader sees it (a squash
    counts as applied when all it replaces is)."""
    leaves: dict[str, list[str]] = {}
    for app, name in tree.graph.leaf_nodes():
        leaves.setdefault(app, []).append(name)
    last_applied = {}
    for app, name in sorted(applied):
        last_applied[app] = name  # by name: the order migrations are numbered in
    remaining = (applied | set(tree.applied_migrations) | set(record)) - set(unapply)
    apply = _forward_plan(tree, remaining)
    return TreeState(leaves, last_applied, apply, effects_forwards(tree, apply, remaining))


def _forward_plan(tree: Any, applied: Set[Key]) -> list[Key]:
    plan = []
    seen: set[Key] = set()
    for leaf in tree.graph.leaf_nodes():
        for key in tree.graph.forwards_plan(leaf):
            if key not in applied and key not in seen:
                seen.add(key)
                plan.append(key)
    return plan
