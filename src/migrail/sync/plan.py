"""What sync would do: applied versus target migrations, as a `SyncPlan`.

Read-only: Django's `MigrationLoader` on the working tree (and on the
orphans' restored sources) decides the order and what each migration does.
`plan_sync` runs the phases of `plan_phases`, one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from migrail.graph.parser import Key
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.effects import Effect
from migrail.sync.loader import LoadedMigrations
from migrail.sync.plan_phases import (
    Applied,
    Gone,
    applied_and_target,
    gone_from_target,
    orphans_and_squashes,
    redo_takes,
    restored_sources,
    rollback,
    tree_state,
)
from migrail.sync.target import Target, squashes_kept, tree_target

__all__ = [
    "JOIN_FORK",
    "SyncPlan",
    "Target",
    "describe_plan",
    "describe_status",
    "plan_sync",
    "squashes_kept",
    "static_target",
    "tree_target",
]

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
    effects: dict[Key, list[Effect]] = field(default_factory=dict)  # unapplying `unapply`
    apply_effects: dict[Key, list[Effect]] = field(default_factory=dict)  # applying `apply`
    not_installed: list[str] = field(default_factory=list)
    squash_records: list[Key] = field(default_factory=list)
    hidden: list[Key] = field(default_factory=list)
    tree_leaves: dict[str, list[str]] = field(default_factory=dict)
    last_applied: dict[str, str] = field(default_factory=dict)
    unloadable: str | None = None  # why the orphans cannot be loaded (status only)
    elsewhere: bool = False  # `unapply` is the old code's child's, which printed it
    edited: list[Key] = field(default_factory=list)  # changed since they were applied
    # Each edited migration → the other applied migrations a redo would unapply with it.
    edited_dependents: dict[Key, list[Key]] = field(default_factory=dict)
    # Recorded as applied instead of run (why, for the user): a completed squash (its
    # `replaces` gone) whose replaced migrations are all applied, as Django records a squash;
    # and the replaced migrations an applied squash stands for, on a tree that has them.
    record: dict[Key, str] = field(default_factory=dict)

    @property
    def in_step(self) -> bool:
        return not (
            self.unapply or self.apply or self.missing_sources or self.squash_records
        ) and not (self.unloadable or self.forked or self.edited or self.record)

    @property
    def forked(self) -> dict[str, list[str]]:
        """Apps whose tree has several leaves: `migrate` refuses them."""
        return {app: leaves for app, leaves in self.tree_leaves.items() if len(leaves) > 1}


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
    tree, connection = loaded.tree, loaded.connection
    root = code_root or repo.root
    applied = applied_and_target(repo, tree, connection, target, code_root)
    gone = gone_from_target(repo, tree, applied, root)
    if unapplied_elsewhere is not None:
        return _plan_elsewhere(loaded, applied, gone, unapplied_elsewhere)
    orphans = orphans_and_squashes(
        repo, tree, applied, gone, from_rev=from_rev, root=root, redo_edited=redo_edited
    )
    restored = restored_sources(repo, tree, applied, orphans, from_rev=from_rev, root=root)
    rolled = rollback(repo, loaded, orphans, restored, root, strict=strict)
    state = tree_state(tree, applied.keys, orphans.record, rolled.unapply)
    return SyncPlan(
        alias=connection.alias,
        vendor=connection.vendor,
        orphans=orphans.orphans,
        unapply=rolled.unapply,
        apply=state.apply,
        sources=restored.sources if rolled.sources is None else rolled.sources,
        missing_sources=restored.missing,
        irreversible=rolled.irreversible,
        effects=rolled.effects,
        apply_effects=state.effects,
        not_installed=gone.not_installed,
        squash_records=sorted(orphans.squash_records),
        hidden=orphans.hidden,
        tree_leaves=state.leaves,
        last_applied=state.last_applied,
        unloadable=rolled.unloadable,
        edited=orphans.edited,
        edited_dependents=redo_takes(tree, orphans.edited, applied.keys),
        record=orphans.record,
    )


def _plan_elsewhere(
    loaded: LoadedMigrations, applied: Applied, gone: Gone, unapplied: frozenset[Key]
) -> SyncPlan:
    """The plan once the old code's child has unapplied `unapplied` (or would, for a dry
    run): only what to apply and record, the rollback being the child's."""
    unapply = sorted(unapplied)
    state = tree_state(loaded.tree, applied.keys, gone.record, unapply)
    return SyncPlan(
        alias=loaded.connection.alias,
        vendor=loaded.connection.vendor,
        orphans=[],
        unapply=unapply,
        apply=state.apply,
        sources={},
        apply_effects=state.effects,
        not_installed=[a for a in gone.not_installed if a not in {k[0] for k in unapply}],
        tree_leaves=state.leaves,
        last_applied=state.last_applied,
        elsewhere=True,
        edited=applied.edited,
        edited_dependents=redo_takes(loaded.tree, applied.edited, applied.keys),
        record=gone.record,
    )


def describe_plan(plan: SyncPlan, *, first: bool = False, then: bool = False) -> str:
    """The plan's heading and steps.

    `first`: the rollback that `switch` and `rebase --unapply` run before git moves files.
    `then`: the old code's rollback, printed above, came first (`then 2 to apply`).
    """
    if first:
        counts = f"{len(plan.unapply)} to unapply first"
    elif then and not plan.unapply:
        counts = f"then {len(plan.apply)} to apply with this checkout's code"
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
        lines += [f"      {effect.text}" for effect in plan.apply_effects.get(key, [])]
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
    """Each edited migration, and the redo only where it unapplies nothing else."""
    lines = []
    for key in sorted(plan.edited):
        said = f"{key[0]}.{key[1]} changed since it was applied, and `migrate` does not re-run it"
        dependents = plan.edited_dependents.get(key, [])
        if dependents:
            names = ", ".join(f"{app}.{name}" for app, name in dependents[:3])
            names += ", …" if len(dependents) > 3 else ""
            said += (
                f"; a redo would unapply {len(dependents)} more applied "
                f"migration{'s' if len(dependents) > 1 else ''} after it ({names}), "
                "so put the change in a new migration"
            )
        else:
            said += (
                ": `migrail sync --redo-edited` unapplies the applied version and applies this one"
            )
        lines.append(said)
    if lines:
        lines.append(
            "an edit that changes nothing the database holds (a helper inlined, a value spelled "
            "another way): `migrail sync --accept-edited` takes it as applied"
        )
    return lines


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
