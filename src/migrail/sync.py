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
from dataclasses import dataclass
from typing import Any

from migrail.config import Config
from migrail.django_project import database_aliases
from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError
from migrail.gitrepo import GitRepo
from migrail.orphan_sources import materialised, remember_applied_sources
from migrail.parser import Key
from migrail.rollback_safety import (
    backup_before_rollback,
    begin_rollback,
    end_rollback,
    recover_interrupted_sync,
    usable_backups,
)
from migrail.sync_plan import (
    SyncPlan,
    Target,
    describe_plan,
    describe_status,
    load_migrations,
    plan_sync,
    static_target,
    tree_target,
)

WAYS_OUT = """\
Ways out:
  - give the operation a reverse (for data migrations with nothing to undo,
    reverse_code=migrations.RunPython.noop or reverse_sql=migrations.RunSQL.noop),
    on the branch that has it, and switch back and forth again;
  - or restore an earlier copy of the database: `migrail restore`;
  - or start this database afresh (drop it, then `python manage.py migrate`)."""


@dataclass
class SyncOptions:
    from_rev: str | None = None
    dry_run: bool = False
    database: str | None = None
    backup: bool = True


def run_sync(repo: GitRepo, config: Config, options: SyncOptions) -> int:
    from migrail import old_tree
    from migrail.django_project import setup_django

    if options.from_rev:
        old_tree.prepare(repo, options.from_rev)  # written while Django starts
    try:
        setup_django(repo.root, config)
        status = EXIT_CLEAN
        for alias in database_aliases(config, options.database):
            status = max(status, _sync_alias(repo, config, alias, options))
        return status
    finally:
        old_tree.discard_prepared()


def run_status(repo: GitRepo, config: Config, database: str | None) -> int:
    from django.db import connections

    from migrail.django_project import setup_django

    setup_django(repo.root, config)
    status = EXIT_CLEAN
    for alias in database_aliases(config, database):
        _refuse_unsafe(alias, config, read_only=True)
        plan = plan_sync(repo, config, connections[alias], None)
        print(describe_status(plan))
        from migrail.branch_snapshots import status_line

        if line := status_line(repo, config, alias):
            print(line)
        if not plan.in_step:
            status = EXIT_FINDINGS
    return status


def _refuse_unsafe(alias: str, config: Config, *, read_only: bool = False) -> None:
    """Refuse remote databases; and `DEBUG = False` unless nothing will change."""
    from django.conf import settings

    from migrail.database_safety import refusal

    reason = refusal(
        alias,
        settings.DATABASES[alias],
        debug=bool(settings.DEBUG),
        allow_remote=config.allow_remote_databases,
        allow_debug_false=config.allow_debug_false or read_only,
    )
    if reason:
        raise SyncRefused(reason)


class SyncRefused(MigrailError):
    """Sync stopped before changing anything; the database is left as it was."""

    exit_status = EXIT_FINDINGS


def roll_back_for_switch(
    repo: GitRepo, config: Config, target: Target, options: SyncOptions
) -> None:
    """Unapply what `target` lacks while the current tree's files are still here."""
    from migrail.django_project import setup_django

    setup_django(repo.root, config)
    for alias in database_aliases(config, options.database):
        _sync_alias(repo, config, alias, options, target=target)


def _sync_alias(
    repo: GitRepo, config: Config, alias: str, options: SyncOptions, target: Target | None = None
) -> int:
    from django.db import connections

    from migrail.lock import database_lock

    _refuse_unsafe(alias, config, read_only=options.dry_run)  # before any connection is opened
    connection = connections[alias]
    started = time.monotonic()
    with database_lock(repo.migrail_dir / "locks", alias, connection):
        recover_interrupted_sync(repo, connection, dry_run=options.dry_run)
        elsewhere = None
        if target is None and options.from_rev:
            old = _orphans_need_old_code(repo, config, connection, options.from_rev)
            if old is not None:
                from migrail.old_code_rollback import roll_back_with_commit

                unapplied = roll_back_with_commit(
                    repo,
                    config,
                    options.from_rev,
                    alias,
                    old,
                    dry_run=options.dry_run,
                    backup=options.backup,
                )
                elsewhere = frozenset(unapplied) if options.dry_run else None
        plan = plan_sync(
            repo, config, connection, options.from_rev, target, unapplied_elsewhere=elsewhere
        )
        if target is not None:
            plan.apply = []  # the target's migrations are applied after the switch
        print(describe_plan(plan))
        check_rollback(plan, repo, connection, config)
        if options.dry_run:
            return EXIT_CLEAN if plan.in_step else EXIT_FINDINGS
        if plan.unapply or plan.squash_records:
            roll_back(repo, config, plan, connection, options.from_rev, backup=options.backup)
        if target is not None:
            end_rollback(connection, repo)
            return EXIT_CLEAN
        _migrate_forward(alias)
        remember_applied_sources(repo, connection)
        end_rollback(connection, repo)
    print(
        f"migrail: database {alias!r} matches the working tree ({time.monotonic() - started:.2f}s)"
    )
    return EXIT_CLEAN


def _orphans_need_old_code(
    repo: GitRepo, config: Config, connection: Any, from_rev: str
) -> Target | None:
    """The target for a rollback with `from_rev`'s code, or None when nothing is to unapply.

    The target keeps what this tree's code knows; the apps it decides are the installed
    ones and the first-party apps of `from_rev` that this checkout removed.
    """
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return None
    tree = load_migrations(connection)
    target = tree_target(tree)
    gone = set(recorder.applied_migrations()) - target.keys
    apps = set(target.apps)
    uninstalled = {app for app, _ in gone} - apps
    if uninstalled:
        apps |= uninstalled & static_target(repo, config, from_rev).apps
    if not any(app in apps for app, _ in gone):
        return None
    return Target(target.keys, frozenset(apps))


def check_rollback(plan: SyncPlan, repo: GitRepo, connection: Any, config: Config) -> None:
    """Refuse, before anything changes, a rollback that cannot be carried out.

    A rollback that would drop rows first says how snapshots would keep them.
    """
    if plan.unapply and not config.snapshots:
        from migrail.branch_snapshots import SNAPSHOT_HINT, plan_drops_hold_rows

        if plan_drops_hold_rows(connection, plan.drops):  # never fails: a hint only
            print(SNAPSHOT_HINT)
    if plan.missing_sources:
        names = ", ".join(f"{a}.{n}" for a, n in plan.missing_sources)
        raise SyncRefused(
            f"cannot find the source of {names} in any commit or in migrail's cache; "
            "nothing was changed. Pass the commit that has them with --from REV."
        )
    if plan.irreversible:
        raise SyncRefused(
            "nothing was changed: these migrations cannot be unapplied:\n"
            + "\n".join(f"  - {line}" for line in plan.irreversible)
            + "\n"
            + _ways_out(repo, connection)
        )


def _ways_out(repo: GitRepo, connection: Any) -> str:
    """Offer a restore only when a usable backup of this database exists."""
    usable = usable_backups(repo, connection.alias, connection.vendor, connection.settings_dict)
    if usable:
        return WAYS_OUT.replace("`migrail restore`", f"`migrail restore {usable[0].name}`")
    return "\n".join(line for line in WAYS_OUT.splitlines() if "migrail restore" not in line)


def roll_back(
    repo: GitRepo,
    config: Config,
    plan: SyncPlan,
    connection: Any,
    from_rev: str | None,
    *,
    backup: bool,
) -> None:
    """Back up, write the journal, unapply: in this process or in the old code's child.

    The journal is finished by whoever ends the sync (`end_rollback`), after migrate.
    """
    taken = backup_before_rollback(repo, config, connection, from_rev) if backup else None
    begin_rollback(connection, repo, plan.unapply, taken)
    unapply(plan, connection)


def unapply(plan: SyncPlan, connection: Any) -> None:
    """Unapply `plan.unapply` through Django's executor, with the orphans' sources restored."""
    from django.db import transaction
    from django.db.migrations.executor import MigrationExecutor

    tree = load_migrations(connection)
    with materialised(tree, plan.sources, plan.hidden):
        executor = MigrationExecutor(connection)
        steps = [(executor.loader.graph.nodes[key], True) for key in plan.unapply]
        atomic = connection.features.can_rollback_ddl and all(m.atomic for m, _ in steps)
        for key in plan.unapply:
            print(f"  - unapplying {key[0]}.{key[1]}", flush=True)
        try:
            if not atomic:
                # MySQL/MariaDB: per migration, so a re-run resumes where this stopped.
                _run_backwards(executor, steps, plan.squash_records)
                return
            # One transaction, records included: Django alone commits each schema change
            # before deleting its django_migrations row.
            if connection.vendor == "sqlite":
                connection.disable_constraint_checking()
            try:
                with transaction.atomic(using=connection.alias):
                    _run_backwards(executor, steps, plan.squash_records)
            finally:
                if connection.vendor == "sqlite":
                    connection.enable_constraint_checking()
        except MigrailError:
            raise
        except Exception as err:
            where = "nothing was changed" if atomic else "re-run `migrail sync` to go on"
            raise MigrailError(f"unapplying failed ({where}): {type(err).__name__}: {err}") from err


def _run_backwards(executor: Any, steps: list[tuple[Any, bool]], squash_records: list[Key]) -> None:
    if steps:
        executor.migrate([], plan=steps)
    for app, name in squash_records:
        executor.recorder.record_unapplied(app, name)


def _migrate_forward(alias: str) -> None:
    from django.core.management import call_command

    call_command("migrate", database=alias, interactive=False, verbosity=0)
