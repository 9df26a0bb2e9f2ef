"""What sync would do: applied versus target migrations, as a `SyncPlan`.

Read-only: Django's `MigrationLoader` on the working tree (and on the
orphans' restored sources) decides the order and what each migration does.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrail.errors import MigrailError
from migrail.graph.parser import Key, ParsedMigration, parse_migration
from migrail.sources.config import Config
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

JOIN_FORK = "join them with `migrail rebase` or `python manage.py makemigrations --merge`"


@dataclass
class SyncPlan:
    alias: str
    vendor: str
    orphans: list[Key]
    unapply: list[Key]
    apply: list[Key]
    sources: dict[Key, bytes]
    missing_sources: list[Key] = field(default_factory=list)
    irreversible: list[str] = field(default_factory=list)
    effects: dict[Key, list[Effect]] = field(default_factory=dict)  # unapply's and apply's
    not_installed: list[str] = field(default_factory=list)
    squash_records: list[Key] = field(default_factory=list)
    hidden: list[Key] = field(default_factory=list)
    tree_leaves: dict[str, list[str]] = field(default_factory=dict)
    last_applied: dict[str, str] = field(default_factory=dict)
    unloadable: str | None = None  # why the orphans cannot be loaded (status only)
    elsewhere: bool = False  # `unapply` is the old code's child's, which printed it
    edited: list[Key] = field(default_factory=list)  # changed since they were applied
    # Recorded as applied instead of run (why, for the user): a completed squash (its
    # `replaces` gone) whose replaced migrations are all applied, as Django records a squash;
    # and the replaced migrations an applied squash stands for, on a tree that has them.
    record: dict[Key, str] = field(default_factory=dict)

    def effects_of(self, keys: list[Key]) -> dict[Key, list[Effect]]:
        return {key: self.effects[key] for key in keys if key in self.effects}

    @property
    def in_step(self) -> bool:
        return not (
            self.unapply or self.apply or self.missing_sources or self.squash_records
        ) and not (self.unloadable or self.forked or self.edited or self.record)

    @property
    def forked(self) -> dict[str, list[str]]:
        """Apps whose tree has several leaves: `migrate` refuses them."""
        return {app: leaves for app, leaves in self.tree_leaves.items() if len(leaves) > 1}


@dataclass(frozen=True)
class Target:
    """The migrations the database should keep when they are not the working tree's (switch)."""

    keys: frozenset[Key]
    apps: frozenset[str]
    # Apps from outside the work tree (contrib, third-party) the checkout no longer installs:
    # rolled back to zero by the code that still installs them, as a person removing the
    # package would; an app that code does not install either is left alone.
    uninstalled: frozenset[str] = frozenset()


def static_target(repo: GitRepo, config: Config, rev: str | None) -> Target:
    """A commit's migrations, read statically from git objects (None: the working tree's)."""
    from migrail.checks.lint import load_packages
    from migrail.sources.trees import Commit, WorkingTree

    keys: set[Key] = set()
    source = WorkingTree(repo) if rev is None else Commit(repo, rev)
    for package in load_packages(repo, source, config):
        for migration_file in package.migrations.values():
            keys.add((package.label, migration_file.name))
            if migration_file.migration is not None:
                keys |= {(r.app, r.name) for r in migration_file.migration.replaces}
    return Target(frozenset(keys), frozenset(app for app, _ in keys))


def plan_sync(
    repo: GitRepo,
    config: Config,
    loaded: LoadedMigrations,
    from_rev: str | None,
    target: Target | None = None,
    *,
    code_root: Path | None = None,
    unapplied_elsewhere: frozenset[Key] | None = None,
    strict: bool = True,
    redo_edited: bool = False,
) -> SyncPlan:
    """The plan for `loaded.connection`, with the code this process runs.

    The loader with the orphans restored stays in `loaded` for the rollback to use.

    `target`: the migrations to keep, when not the loaded tree's (switch, rebase, and
    the rollback with an older commit's code); migrations of apps whose code is outside
    `code_root` (contrib, third-party) are always kept as the environment has them.
    `unapplied_elsewhere`: orphans a child process rolls back (or would, for a dry run)
    with the code that applied them; the plan then only applies.
    `strict=False` (status): orphans that cannot be loaded are reported in
    `plan.unloadable` instead of raising.
    `redo_edited`: migrations changed since they were applied are unapplied with the
    applied version (migrail's copy) like orphans, and so applied again.
    """
    from django.db.migrations.recorder import MigrationRecorder

    root = code_root or repo.root
    connection = loaded.connection
    recorder = MigrationRecorder(connection)
    records = recorder.applied_migrations() if recorder.has_table() else {}
    applied: set[Key] = set(records)
    tree = loaded.tree
    on_disk = set(tree.disk_migrations)
    first_party = first_party_apps(tree, root)
    edited = (
        edited_since_applied(repo, tree, records, first_party)
        if target is None and code_root is None
        else []
    )
    if target is None:
        target = tree_target(tree)
    else:
        outside = outside_keys(tree, first_party)
        removing = target.uninstalled & set(tree.migrated_apps)
        kept = frozenset(k for k in outside if k[0] not in removing)
        target = Target(target.keys | kept, target.apps | removing)
    gone = applied - target.keys
    candidates = sorted(k for k in gone if k[0] in first_party | target.apps)
    not_installed = sorted({k[0] for k in gone} - {k[0] for k in candidates})
    # What history says was squashed: a completed squash has no `replaces` left.
    history = squash_history(repo, tree, {k[0] for k in candidates}, code_root=root)
    covering = squashes_kept(history, target.keys, applied)
    covered = {key for replaced in covering.values() for key in replaced}
    record = {
        s: "it squashes " + ", ".join(f"{a}.{n}" for a, n in sorted(r)) + ", all applied"
        for s, r in covering.items()
        if s not in applied
    }
    candidates = [k for k in candidates if k not in covered]  # kept as the squash is
    if unapplied_elsewhere is not None:
        plan = SyncPlan(
            connection.alias, connection.vendor, [], sorted(unapplied_elsewhere), [], {}
        )
        plan.elsewhere = True
        plan.edited = edited
        plan.record = record
        plan.not_installed = [a for a in not_installed if a not in {k[0] for k in plan.unapply}]
        _fill_tree_state(plan, tree, applied)
        return plan
    sources, missing = find_sources(
        repo, tree, [k for k in candidates if k not in on_disk], from_rev, code_root=root
    )
    orphans = []
    squash_records: dict[Key, Key] = {}
    for key in candidates:
        if key in on_disk:
            replaces = list(tree.disk_migrations[key].replaces)
        else:
            parsed = parse_migration(sources[key]) if key in sources else None
            replaces = (
                [(r.app, r.name) for r in parsed.replaces]
                if isinstance(parsed, ParsedMigration)
                else []
            )
        replaces = replaces or sorted(history.get(key, ()))
        if replaces and set(replaces) <= target.keys:
            # A squash's record; the migrations it replaces are kept, and Django, which ran
            # it, recorded them too unless its `replaces` was gone (a completed squash).
            for replaced in sorted(set(replaces) - applied):
                record[replaced] = f"{key[0]}.{key[1]}, applied, squashes it"
            continue
        if replaces:
            # Unapplying the squash would undo what it replaces, kept ones included;
            # the replaced migrations the target lacks are orphans of their own.
            squash_records[key] = replaces[-1]
            continue
        orphans.append(key)
    if redo_edited and edited:
        for key in sorted(edited):
            orphans.append(key)
            sources[key] = applied_source(repo, key)
        edited = []
    # An orphan whose file here (an older commit's, in the old code's child) was edited
    # after it was applied (an amend): unapplied as it was applied, from migrail's copy.
    changed = edited_since_applied(
        repo, tree, {k: records[k] for k in orphans if k in on_disk}, first_party
    )
    for key in changed:
        sources[key] = applied_source(repo, key)
    squash_records |= squashes_depended_on(repo, tree, orphans, sources, from_rev, code_root=root)
    for key, squash in tree.replacements.items():
        # Older code's squash of orphans: Django would put it in the orphans' place.
        if key not in target.keys and set(squash.replaces) & set(orphans):
            squash_records.setdefault(key, squash.replaces[-1])
    # A squash on disk whose replaced migrations go (older code): hidden from the loader,
    # and the migrations on disk that depend on it are restored pointing past it.
    hidden = sorted(k for k in squash_records if k in on_disk)
    restored = set(orphans)
    if orphans:
        applied_after = dependents_as_applied(repo, tree, orphans, applied)
        applied_after = {k: v for k, v in applied_after.items() if k not in sources}
        sources |= applied_after
        restored |= set(applied_after)
        parents = applied_dependencies(
            repo,
            tree,
            {k: sources[k] for k in restored if k in sources},
            applied,
            from_rev,
            code_root=root,
        )
        sources |= parents
        restored |= set(parents)
    if hidden:
        for key, migration in tree.disk_migrations.items():
            if set(migration.dependencies) & set(hidden) and key not in sources:
                module = sys.modules[type(migration).__module__]
                sources[key] = Path(str(module.__file__)).read_bytes()
                restored.add(key)
        replaced = sorted(
            {r for k in hidden for r in tree.disk_migrations[k].replaces} - on_disk - set(sources)
        )
        found, lost = find_sources(repo, tree, replaced, from_rev, code_root=root)
        sources |= found
        missing += lost
        restored |= set(replaced)
    plan = SyncPlan(
        alias=connection.alias,
        vendor=connection.vendor,
        orphans=orphans,
        unapply=[],
        apply=[],
        sources={
            k: point_past_squashes(v, squash_records) for k, v in sources.items() if k in restored
        },
        missing_sources=[k for k in missing if k in restored],
        not_installed=not_installed,
        squash_records=sorted(squash_records),
        hidden=hidden,
        edited=edited,
        record=record,
    )
    if orphans and not plan.missing_sources:
        try:
            rollback = (
                loaded.with_orphans(plan.sources, plan.hidden)
                if plan.sources or plan.hidden
                else tree
            )
        except OrphanUnloadable as err:
            commit = commit_with(repo, tree, err.orphan, code_root=root)
            error = err.in_commit(commit) if commit else err
            if strict:
                raise error from err.__cause__
            plan.unloadable = f"{error.reason}; {error.way_out}"
            rollback = None
        if rollback is not None:
            _plan_rollback(plan, rollback, orphans)
    _fill_tree_state(plan, tree, applied)
    return plan


def squashes_kept(
    history: dict[Key, frozenset[Key]], keys: frozenset[Key], applied: set[Key]
) -> dict[Key, frozenset[Key]]:
    """The squashes (as history has them) the target keeps whose replaced migrations need
    no rollback: the squash is applied, or all it replaced is (so it is recorded instead)."""
    return {
        squash: replaced
        for squash, replaced in history.items()
        if squash in keys and (squash in applied or replaced <= applied)
    }


def _plan_rollback(plan: SyncPlan, rollback: Any, orphans: list[Key]) -> None:
    """What unapplying the orphans takes, in the loader that has them."""
    for orphan in orphans:
        if orphan not in rollback.graph.nodes:
            raise MigrailError(
                f"{orphan[0]}.{orphan[1]} is applied but Django's loader does not place it "
                "in the graph once its source is restored; nothing was changed"
            )
        for key in rollback.graph.backwards_plan(orphan):
            if key in rollback.applied_migrations and key not in plan.unapply:
                plan.unapply.append(key)
    for key in plan.unapply:
        migration = rollback.graph.nodes[key]
        plan.effects[key] = effects_backwards(migration)
        plan.irreversible += [
            f"{key[0]}.{key[1]}: {op.describe()} (operation {number}) is not reversible"
            for number, op in enumerate(migration.operations, 1)
            if not op.reversible
        ]


def _fill_tree_state(plan: SyncPlan, tree: Any, applied: set[Key]) -> None:
    for app, name in tree.graph.leaf_nodes():
        plan.tree_leaves.setdefault(app, []).append(name)
    for app, name in sorted(applied):
        plan.last_applied[app] = name  # by name: the order migrations are numbered in
    # The loader's view: a squash counts as applied when all it replaces is.
    remaining = (applied | set(tree.applied_migrations) | set(plan.record)) - set(plan.unapply)
    plan.apply = [key for key, backwards in _forward_plan(tree, remaining) if not backwards]
    for key in plan.apply:
        if forwards := effects_forwards(tree.graph.nodes[key]):
            plan.effects[key] = forwards


def tree_target(tree: Any) -> Target:
    """Everything the loaded code knows: its migration files and what their squashes replace."""
    on_disk = set(tree.disk_migrations)
    replaced = {key for m in tree.disk_migrations.values() for key in m.replaces}
    return Target(frozenset(on_disk | replaced), frozenset(tree.migrated_apps))


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


def _forward_plan(tree: Any, applied: set[Key]) -> list[tuple[Key, bool]]:
    plan = []
    seen: set[Key] = set()
    for leaf in tree.graph.leaf_nodes():
        for key in tree.graph.forwards_plan(leaf):
            if key not in applied and key not in seen:
                seen.add(key)
                plan.append((key, False))
    return plan


def describe_plan(plan: SyncPlan, *, first: bool = False) -> str:
    """The plan's heading and steps.

    `first`: the rollback that `switch` and `rebase --unapply` run before git moves files.
    """
    if first:
        counts = f"{len(plan.unapply)} to unapply first"
    elif plan.elsewhere:
        counts = f"{len(plan.apply)} to apply once those are unapplied"
    else:
        counts = f"{len(plan.unapply)} to unapply, {len(plan.apply)} to apply"
    lines = [f"migrail: database {plan.alias!r} ({plan.vendor}): {counts}"]
    for key in [] if plan.elsewhere else plan.unapply:
        lines.append(f"  - {key[0]}.{key[1]}")
        lines += [f"      {effect.text}" for effect in plan.effects.get(key, [])]
    for key in plan.apply:
        lines.append(f"  + {key[0]}.{key[1]}")
        lines += [f"      {effect.text}" for effect in plan.effects.get(key, [])]
    lines += [f"  = {line}" for line in describe_record(plan)]
    lines += [f"  note: {note}" for note in describe_not_installed(plan)]
    lines += [f"  note: {edited}" for edited in describe_edited(plan)]
    return "\n".join(lines)


def describe_record(plan: SyncPlan) -> list[str]:
    return [
        f"{app}.{name} recorded as applied: {why}"
        for (app, name), why in sorted(plan.record.items())
    ]


def describe_not_installed(plan: SyncPlan) -> list[str]:
    return [
        f"app {app!r} has applied migrations but is not installed; left alone (if your "
        "project removed it, `migrail sync --from REV` with a commit that has it rolls it back)"
        for app in plan.not_installed
    ]


def describe_edited(plan: SyncPlan) -> list[str]:
    return [
        f"{app}.{name} changed since it was applied, and `migrate` does not re-run it: "
        "`migrail sync --redo-edited` unapplies the applied version and applies this one"
        for app, name in sorted(plan.edited)
    ]


def describe_status(plan: SyncPlan) -> str:
    state = "matches the working tree" if plan.in_step else "is out of step"
    lines = [f"migrail: database {plan.alias!r} ({plan.vendor}) {state}"]
    touched = sorted(
        {
            app
            for app, _ in [
                *plan.orphans,
                *plan.unapply,
                *plan.apply,
                *plan.missing_sources,
                *plan.record,
            ]
        }
    )
    for app in touched:
        leaves = ", ".join(plan.tree_leaves.get(app, [])) or "none (app not in the tree)"
        lines.append(
            f"  {app}: tree leaf {leaves}; last applied {plan.last_applied.get(app, 'none')}"
        )
        lines += [
            f"    orphan (applied, not in the tree): {a}.{n}" for a, n in plan.orphans if a == app
        ]
        lines += [f"    would unapply: {a}.{n}" for a, n in plan.unapply if a == app]
        lines += [f"    would apply: {a}.{n}" for a, n in plan.apply if a == app]
        lines += [
            f"    would record: {line}"
            for line in describe_record(plan)
            if line.startswith(f"{app}.")
        ]
        lines += [f"    source not found: {a}.{n}" for a, n in plan.missing_sources if a == app]
    lines += [f"  cannot unapply: {line}" for line in plan.irreversible]
    lines += [f"  {edited}" for edited in describe_edited(plan)]
    lines += [f"  note: {note}" for note in describe_not_installed(plan)]
    lines += [
        f"  {app}: forked, leaves {', '.join(leaves)}: `migrate` refuses it; {JOIN_FORK}"
        for app, leaves in sorted(plan.forked.items())
    ]
    if plan.unloadable:
        lines.append(f"  {plan.unloadable}")
    return "\n".join(lines)
