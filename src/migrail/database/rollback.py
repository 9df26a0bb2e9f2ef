"""Unapply a plan's migrations through Django's executor, safely.

Refuse what cannot be undone before anything changes; back up and journal; one
transaction where DDL is transactional. Used by sync in this process and by the
child that rolls back with an older commit's code (`old_code_rollback`).
"""

from __future__ import annotations

from typing import Any

from migrail.database.errors import lock_in_chain
from migrail.database.loader import LoadedMigrations
from migrail.database.lock_wait import giving_up_on_locks
from migrail.database.plan import SyncPlan
from migrail.database.rollback_safety import (
    backup_before_rollback,
    begin_rollback,
    end_rollback,
    usable_backups,
)
from migrail.errors import MigrailError, Refusal
from migrail.graph.parser import Key
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo

WAYS_OUT = """\
Ways out:
  - give the operation a reverse (for data migrations with nothing to undo,
    reverse_code=migrations.RunPython.noop or reverse_sql=migrations.RunSQL.noop),
    on the branch that has it, and switch back and forth again;
  - or restore an earlier copy of the database: `migrail restore`;
  - or start this database afresh (drop it, then `python manage.py migrate`)."""


class NothingUnapplied(MigrailError):
    """The rollback's one transaction failed and was rolled back: the database is as it was."""


class SyncRefused(Refusal):
    """Sync stopped before changing anything; the database is left as it was."""


def check_rollback(plan: SyncPlan, repo: GitRepo, connection: Any, config: Config) -> None:
    """Refuse, before anything changes, a rollback that cannot be carried out.

    A rollback that would drop rows no snapshot keeps first says how to keep them.
    """
    if plan.unapply:
        from migrail.database.branch_snapshots import rollback_hint

        if hint := rollback_hint(connection, plan.drops, config):  # never fails: a hint only
            print(hint)
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
    """Offer a restore only when a usable backup of this database exists, and this
    branch's snapshot when one is kept (a switch that could not restore it, say)."""
    usable = usable_backups(repo, connection.alias, connection.vendor, connection.settings_dict)
    if usable:
        ways = WAYS_OUT.replace("`migrail restore`", f"`migrail restore {usable[0].name}`")
    else:
        ways = "\n".join(line for line in WAYS_OUT.splitlines() if "migrail restore" not in line)
    if snapshot := _this_branchs_snapshot(repo, connection):
        lines = ways.splitlines()
        second = next(n for n, line in enumerate(lines) if line.startswith("  - or "))
        lines.insert(
            second,
            "  - or restore this branch's snapshot (its data as you left it): "
            f"`migrail snapshot restore {snapshot}`, then `migrail sync`;",
        )
        ways = "\n".join(lines)
    return ways


def _this_branchs_snapshot(repo: GitRepo, connection: Any) -> str | None:
    from migrail.database.branch_snapshots import current_branch, snapshot_store
    from migrail.database.snapshot_store import identity_of

    identity = identity_of(connection.alias, connection.vendor, connection.settings_dict)
    try:
        branch = current_branch(repo)
    except MigrailError:  # an unborn branch
        return None
    return branch if snapshot_store(repo).find(identity, branch) is not None else None


def roll_back(
    repo: GitRepo,
    config: Config,
    plan: SyncPlan,
    loaded: LoadedMigrations,
    from_rev: str | None,
    *,
    backup: bool,
) -> None:
    """Back up, write the journal, unapply: in this process or in the old code's child.

    The journal is finished by whoever ends the sync (`end_rollback`), after migrate.
    """
    connection = loaded.connection
    if backup and config.snapshots:
        from migrail.database.branch_snapshots import saved_as_it_stands

        if saved_as_it_stands(connection.alias):
            print(
                f"migrail: no backup of database {connection.alias!r}: the snapshot this "
                "switch just saved holds it as it stands"
            )
            backup = False
    taken = backup_before_rollback(repo, config, connection, from_rev) if backup else None
    begin_rollback(connection, repo, plan.unapply, taken)
    try:
        with giving_up_on_locks(connection, "the rollback"):
            unapply(plan, loaded)
    except NothingUnapplied:
        end_rollback(connection, repo)  # its transaction rolled back: no sync is midway
        raise


def unapply(plan: SyncPlan, loaded: LoadedMigrations) -> None:
    """Unapply `plan.unapply` through Django's executor, on the loader the plan was made with."""
    from django.db import transaction

    connection = loaded.connection
    executor = loaded.executor(plan.sources, plan.hidden)
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
        if locked := lock_in_chain(err):
            error = NothingUnapplied if atomic else MigrailError
            where = "nothing was changed" if atomic else "re-run `migrail sync` to go on"
            raise error(
                f"unapplying failed ({where}): database {connection.alias!r}: {locked} (a "
                "shell or dev server in an open transaction?)"
            ) from err
        if atomic:
            raise NothingUnapplied(
                f"unapplying failed (nothing was changed): {type(err).__name__}: {err}"
            ) from err
        raise MigrailError(
            f"unapplying failed (re-run `migrail sync` to go on): {type(err).__name__}: {err}"
        ) from err


def _run_backwards(executor: Any, steps: list[tuple[Any, bool]], squash_records: list[Key]) -> None:
    if steps:
        executor.migrate([], plan=steps)
    for app, name in squash_records:
        executor.recorder.record_unapplied(app, name)
