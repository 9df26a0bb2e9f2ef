"""`migrail sync`, `status` and the rollback of `switch`: carry out a `SyncPlan`.

Refuse what is unsafe before connecting, lock the database, plan (see
`sync_plan`), refuse irreversible or sourceless rollbacks before changing
anything, back up, unapply through Django's `MigrationExecutor` (in one
transaction where DDL is transactional), then `migrate`.
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
from migrail.sync_plan import (
    SyncPlan,
    Target,
    describe_plan,
    describe_status,
    load_migrations,
    plan_sync,
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
    from migrail.django_project import setup_django

    setup_django(repo.root, config)
    status = EXIT_CLEAN
    for alias in database_aliases(config, options.database):
        status = max(status, _sync_alias(repo, config, alias, options))
    return status


def run_status(repo: GitRepo, config: Config, database: str | None) -> int:
    from django.db import connections

    from migrail.django_project import setup_django

    setup_django(repo.root, config)
    status = EXIT_CLEAN
    for alias in database_aliases(config, database):
        _refuse_unsafe(alias, config)
        plan = plan_sync(repo, config, connections[alias], None)
        print(describe_status(plan))
        from migrail.branch_snapshots import status_line

        if line := status_line(repo, config, alias):
            print(line)
        if not plan.in_step:
            status = EXIT_FINDINGS
    return status


def _refuse_unsafe(alias: str, config: Config) -> None:
    from django.conf import settings

    from migrail.database_safety import refusal

    reason = refusal(
        alias,
        settings.DATABASES[alias],
        debug=bool(settings.DEBUG),
        allow_remote=config.allow_remote_databases,
        allow_debug_false=config.allow_debug_false,
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

    _refuse_unsafe(alias, config)  # before any connection is opened
    connection = connections[alias]
    started = time.monotonic()
    with database_lock(repo.migrail_dir / "locks", alias, connection):
        plan = plan_sync(repo, config, connection, options.from_rev, target)
        if target is not None:
            plan.apply = []  # the target's migrations are applied after the switch
        print(describe_plan(plan))
        if plan.unapply and not config.snapshots and not options.dry_run:
            from migrail.branch_snapshots import SNAPSHOT_HINT, plan_drops_hold_rows

            if plan_drops_hold_rows(connection, plan.drops):  # never fails: a hint only
                print(SNAPSHOT_HINT)
        if plan.missing_sources:
            names = ", ".join(f"{a}.{n}" for a, n in plan.missing_sources)
            raise SyncRefused(
                f"cannot find the source of {names} in any commit or in migrail's cache; "
                "nothing was changed. Pass the commit that has them with --from REV."
            )
        if plan.removed_apps:
            names = ", ".join(repr(app) for app in plan.removed_apps)
            raise SyncRefused(
                f"app {names} is gone from this checkout but its migrations are applied; "
                "migrail cannot unapply them without the app's code, so nothing was changed.\n"
                f"Ways out: check out {options.from_rev} again and run `python manage.py migrate "
                f"{plan.removed_apps[0]} zero` there (or use `migrail switch`, which rolls back "
                "before switching); or keep its tables and run `migrail sync` to go on."
            )
        if plan.irreversible:
            raise SyncRefused(
                "nothing was changed: these migrations cannot be unapplied:\n"
                + "\n".join(f"  - {line}" for line in plan.irreversible)
                + "\n"
                + WAYS_OUT
            )
        if options.dry_run:
            return EXIT_CLEAN if plan.in_step else EXIT_FINDINGS
        if plan.unapply or plan.squash_records:
            if options.backup:
                _backup(repo, config, alias, connection)
            _unapply(plan, connection)
        if target is not None:
            return EXIT_CLEAN
        _migrate_forward(alias)
        remember_applied_sources(repo, connection)
    print(
        f"migrail: database {alias!r} matches the working tree ({time.monotonic() - started:.2f}s)"
    )
    return EXIT_CLEAN


def _unapply(plan: SyncPlan, connection: Any) -> None:
    from django.db import transaction
    from django.db.migrations.executor import MigrationExecutor

    tree = load_migrations(connection)
    with materialised(tree, plan.sources):
        executor = MigrationExecutor(connection)
        steps = [(executor.loader.graph.nodes[key], True) for key in plan.unapply]
        atomic = connection.features.can_rollback_ddl and all(m.atomic for m, _ in steps)
        for key in plan.unapply:
            print(f"  - unapplying {key[0]}.{key[1]}")
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


def _backup(repo: GitRepo, config: Config, alias: str, connection: Any) -> None:
    from migrail.backup import take_backup

    backup = take_backup(
        repo.migrail_dir / "backups",
        alias,
        connection.vendor,
        connection.settings_dict,
        config.backups_kept,
    )
    print(f"migrail: backed up database {alias!r} to {backup.path}")
