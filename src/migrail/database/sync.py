"""`migrail sync`, `status` and the rollback of `switch`: carry out a `SyncPlan`.

Refuse what is unsafe before connecting, lock the database, plan (see
`sync_plan`), refuse irreversible or sourceless rollbacks before changing
anything, back up, unapply through Django's `MigrationExecutor` (in one
transaction where DDL is transactional), then `migrate`. When the commit the
database followed is known and migrations are to be unapplied, the planning,
refusals, backup and unapply run in a child process with that commit's code
(`old_code_rollback`); this process keeps the lock and migrates afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from migrail.database.branch_snapshots import clear_unsynced_note
from migrail.database.loader import LoadedMigrations
from migrail.database.orphan_sources import remember_applied_sources, squash_history
from migrail.database.plan import (
    JOIN_FORK,
    SyncPlan,
    Target,
    describe_plan,
    describe_status,
    plan_sync,
    squashes_kept,
    static_target,
    tree_target,
)
from migrail.database.rollback import SyncRefused, check_rollback, roll_back
from migrail.database.rollback_safety import (
    end_rollback,
    interrupted_sync_note,
    recover_interrupted_sync,
)
from migrail.database.settings import database_aliases
from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError
from migrail.graph.parser import Key
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo


@dataclass
class SyncOptions:
    from_rev: str | None = None
    dry_run: bool = False
    database: str | None = None
    backup: bool = True
    redo_edited: bool = False


def run_sync(repo: GitRepo, config: Config, options: SyncOptions) -> int:
    from migrail.database.settings import setup_django
    from migrail.sources import old_tree

    if options.from_rev:
        old_tree.prepare(repo, options.from_rev)  # written while Django starts
    try:
        setup_django(repo.root, config)
        if not options.dry_run:
            from migrail.database.branch_snapshots import (
                catch_up_with_live_data,
                forget_whose_data,
            )

            if config.snapshots:
                from_rev = catch_up_with_live_data(repo, config, options.from_rev, options.database)
                options = replace(options, from_rev=from_rev)
            else:
                forget_whose_data(repo, config, options.database)
        status = EXIT_CLEAN
        for alias in database_aliases(config, options.database):
            status = max(status, _sync_alias(repo, config, alias, options))
        return status
    finally:
        old_tree.discard_prepared()


def run_status(repo: GitRepo, config: Config, database: str | None) -> int:
    from django.db import connections

    from migrail.database.settings import setup_django

    setup_django(repo.root, config)
    status = EXIT_CLEAN
    for alias in database_aliases(config, database):
        _refuse_unsafe(alias, config, read_only=True)
        with LoadedMigrations(connections[alias]) as loaded:
            plan = plan_sync(repo, config, loaded, None, strict=False)
        print(describe_status(plan))
        if note := interrupted_sync_note(repo, connections[alias]):
            print(note)
            status = EXIT_FINDINGS
        from migrail.database.branch_snapshots import status_line

        if line := status_line(repo, config, alias):
            print(line)
        if not plan.in_step:
            status = EXIT_FINDINGS
    return status


def _refuse_unsafe(alias: str, config: Config, *, read_only: bool = False) -> None:
    """Refuse remote databases; and `DEBUG = False` unless nothing will change."""
    from django.conf import settings

    from migrail.database.safety import refusal

    reason = refusal(
        alias,
        settings.DATABASES[alias],
        debug=bool(settings.DEBUG),
        allow_remote=config.allow_remote_databases,
        allow_debug_false=config.allow_debug_false or read_only,
    )
    if reason:
        raise SyncRefused(reason)


def roll_back_for_switch(
    repo: GitRepo, config: Config, target: Target, options: SyncOptions
) -> None:
    """Unapply what `target` lacks while the current tree's files are still here."""
    from migrail.database.settings import setup_django

    setup_django(repo.root, config)
    for alias in database_aliases(config, options.database):
        _sync_alias(repo, config, alias, options, target=target)


def _sync_alias(
    repo: GitRepo, config: Config, alias: str, options: SyncOptions, target: Target | None = None
) -> int:
    from django.db import connections

    from migrail.database.lock import database_lock

    _refuse_unsafe(alias, config, read_only=options.dry_run)  # before any connection is opened
    connection = connections[alias]
    started = time.monotonic()
    with database_lock(repo.migrail_dir / "locks", alias, connection):
        recover_interrupted_sync(repo, config, connection, dry_run=options.dry_run)
        with LoadedMigrations(connection) as loaded:  # one loader from plan to unapply
            plan = _plan_alias(repo, config, loaded, options, target)
            if target is None or plan.unapply or plan.squash_records:
                print(describe_plan(plan, first=target is not None))
            if target is None:
                _refuse_forked(plan)
            check_rollback(plan, repo, connection, config)
            if options.dry_run:
                return EXIT_CLEAN if plan.in_step else EXIT_FINDINGS
            if plan.unapply or plan.squash_records:
                roll_back(repo, config, plan, loaded, options.from_rev, backup=options.backup)
        if target is not None:
            end_rollback(connection, repo)
            return EXIT_CLEAN
        if plan.record:  # before `migrate`, which would run them again
            _record_applied(loaded.connection, plan.record)
        if plan.apply:  # Django's `migrate` builds its own loader: only when it has work
            _migrate_forward(alias)
        remember_applied_sources(repo, connection, loaded.tree, keep=plan.edited)
        end_rollback(connection, repo)
        clear_unsynced_note(repo, connection)  # a failed hook sync's note no longer holds
    state = "matches the working tree"
    if plan.edited:
        state += ", but for the changed migrations named above"
    print(f"migrail: database {alias!r} {state} ({time.monotonic() - started:.2f}s)")
    return EXIT_CLEAN


def _plan_alias(
    repo: GitRepo,
    config: Config,
    loaded: LoadedMigrations,
    options: SyncOptions,
    target: Target | None,
) -> SyncPlan:
    """Plan; first, with `--from`, unapply the orphans with the code that applied them."""
    elsewhere = None
    if target is None and options.from_rev:
        old = _orphans_need_old_code(repo, config, loaded, options.from_rev)
        if old is not None:
            from migrail.database.old_code_rollback import roll_back_with_commit

            unapplied = roll_back_with_commit(
                repo,
                config,
                options.from_rev,
                loaded.connection.alias,
                old,
                dry_run=options.dry_run,
                backup=options.backup,
            )
            if options.dry_run:
                elsewhere = frozenset(unapplied)
            else:
                loaded.reload_tree()  # the child changed what is applied
    plan = plan_sync(
        repo,
        config,
        loaded,
        options.from_rev,
        target,
        unapplied_elsewhere=elsewhere,
        redo_edited=options.redo_edited,
    )
    if target is not None:
        plan.apply = []  # the target's migrations are applied after the switch
        plan.record = {}
    return plan


def _refuse_forked(plan: SyncPlan) -> None:
    """A forked tree cannot be migrated: refuse before rolling anything back."""
    if plan.forked:
        apps = "; ".join(
            f"{app}: {', '.join(leaves)}" for app, leaves in sorted(plan.forked.items())
        )
        raise SyncRefused(
            f"the working tree's migrations are forked ({apps}), which `migrate` refuses; "
            f"nothing was changed: {JOIN_FORK}"
        )


def _orphans_need_old_code(
    repo: GitRepo, config: Config, loaded: LoadedMigrations, from_rev: str
) -> Target | None:
    """The target for a rollback with `from_rev`'s code, or None when nothing is to unapply.

    The target keeps what this tree's code knows; the apps it decides are the installed
    ones and the first-party apps of `from_rev` that this checkout removed.
    """
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(loaded.connection)
    if not recorder.has_table():
        return None
    target = tree_target(loaded.tree)
    applied = set(recorder.applied_migrations())
    gone = applied - target.keys
    if gone:  # a completed squash's replaced migrations are not orphans
        history = squash_history(repo, loaded.tree, {app for app, _ in gone})
        gone -= {k for r in squashes_kept(history, target.keys, applied).values() for k in r}
        gone -= {k for k in gone if k in history and history[k] <= target.keys}  # its record
    apps = set(target.apps)
    uninstalled = {app for app, _ in gone} - apps
    if uninstalled:
        # Removed with its code: rolled back. Only uninstalled in settings, its migrations
        # still in the tree: left alone, as a switch that changes no migration leaves it.
        kept = static_target(repo, config, None).apps
        removed = static_target(repo, config, from_rev).apps - kept
        apps |= uninstalled & removed
    if not any(app in apps for app, _ in gone):
        return None
    return Target(target.keys, frozenset(apps))


def _record_applied(connection: Any, record: dict[Key, str]) -> None:
    """What Django records when it applies a squash, where a completed squash (its `replaces`
    gone, the last step of Django's squash procedure) left it unrecorded."""
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    for app, name in sorted(record):
        recorder.record_applied(app, name)


def _migrate_forward(alias: str) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import connections
    from django.db.migrations.exceptions import InconsistentMigrationHistory

    from migrail.database.lock_wait import giving_up_on_locks

    try:
        with giving_up_on_locks(connections[alias], "migrate"):
            call_command("migrate", database=alias, interactive=False, verbosity=0)
    except (CommandError, InconsistentMigrationHistory) as err:
        raise MigrailError(f"`migrate` stopped: {err}") from err
