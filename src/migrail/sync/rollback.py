"""Unapply a plan's migrations through Django's executor, safely.

Refuse what cannot be undone before anything changes; back up and journal; one
transaction where DDL is transactional. Used by sync in this process and by the
child that rolls back with an older commit's code (`old_code_rollback`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from migrail.engines import rules_for
from migrail.errors import EXIT_FINDINGS, MigrailError, Refusal
from migrail.graph.parser import Key
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.backup import Backup
from migrail.sync.errors import NothingChanged, lock_in_chain
from migrail.sync.loader import LoadedMigrations
from migrail.sync.lock_wait import giving_up_on_locks
from migrail.sync.migrate import (
    MigrationFailed,
    ProgressCallback,
    describe_cause,
    run_plan,
)
from migrail.sync.plan import SyncPlan
from migrail.sync.rollback_safety import (
    backup_before_rollback,
    begin_rollback,
    discard_backup,
    end_rollback,
    prune_backups,
    usable_backups,
)
from migrail.sync.sync_feature import SyncFeature
from migrail.sync.target import Target

WAYS_OUT = """\
Ways out:
  - give the operation a reverse (for data migrations with nothing to undo,
    reverse_code=migrations.RunPython.noop or reverse_sql=migrations.RunSQL.noop),
    on the branch that has it, and switch back and forth again;
  - or restore an earlier copy of the database: `migrail restore`;
  - or start this database afresh (drop it, then `python manage.py migrate`)."""


class NothingUnapplied(NothingChanged):
    """The rollback's one transaction failed and was rolled back: the database is as it was."""


class SyncRefused(Refusal):
    """Sync stopped before changing anything; the database is left as it was."""


def check_rollback(
    plan: SyncPlan, repo: GitRepo, connection: Any, feature: SyncFeature, checkout: Target
) -> None:
    """Refuse, before anything changes, a rollback that cannot be carried out (`checkout`:
    the migrations the checkout has, for the ways out).

    A rollback that would drop rows no copy keeps first says how to keep them.
    """
    if plan.unapply:
        hint = feature.drops_hint(connection, plan.effects)  # never fails
        if hint:
            print(hint)
    if plan.missing_sources:
        names = ", ".join(f"{a}.{n}" for a, n in plan.missing_sources)
        raise SyncRefused(
            f"cannot find the source of {names}: no commit of any branch, tag or the reflog "
            f"has it, nor migrail's copies in {repo.migrail_dir / 'sources'} (it was applied "
            "where migrail did not see it); nothing was changed. Pass a commit that has it "
            "with --from REV, or put the file back and unapply it with `python manage.py "
            'migrate APP PREVIOUS` before removing it (with "migrail" in INSTALLED_APPS, '
            "`manage.py migrate` keeps a copy too)"
        )
    if plan.irreversible:
        raise SyncRefused(
            "nothing was changed: these migrations cannot be unapplied:\n"
            + "\n".join(f"  - {line}" for line in plan.irreversible)
            + "\n"
            + _ways_out(repo, connection, feature, plan, checkout)
        )


def _ways_out(
    repo: GitRepo, connection: Any, feature: SyncFeature, plan: SyncPlan, checkout: Target
) -> str:
    """Offer a restore only of a backup that fits (this database's, whole, and holding none
    of the migrations that cannot be unapplied), with its branch and age, the one holding
    nothing of the checkout's apps that the checkout lacks first, or else what of that it
    holds; and what the feature keeps (this branch's snapshot) before it."""
    usable = usable_backups(repo, connection.alias, connection.vendor, connection.settings_dict)
    refused = set(plan.unapply)
    fitting = [backup for backup in usable if not refused & set(backup.applied)]

    def lacked(backup: Backup) -> list[Key]:
        return sorted(k for k in backup.applied if k[0] in checkout.apps and k not in checkout.keys)

    lines = WAYS_OUT.splitlines()
    restore = next(n for n, line in enumerate(lines) if "migrail restore" in line)
    if fitting:
        backup = min(fitting, key=lambda b: bool(lacked(b)))  # the newest of the best
        branch = f"branch {backup.branch!r}, " if backup.branch else ""
        foreign = lacked(backup)
        also = (
            f"; it holds {_keys(foreign)}, which this checkout lacks: the next sync unapplies "
            f"{'them' if len(foreign) > 1 else 'it'}"
            if foreign
            else ""
        )
        lines[restore] = (
            f"  - or restore a copy taken before they were applied: `migrail restore "
            f"{backup.name}` ({branch}{age(backup.created)}{also}; rows written since are lost);"
        )
    else:
        del lines[restore]
    second = next(n for n, line in enumerate(lines) if line.startswith("  - or "))
    lines[second:second] = [f"  - or {way}" for way in feature.ways_out(repo, connection)]
    return "\n".join(lines)


def _keys(keys: list[Key]) -> str:
    shown = ", ".join(f"{app}.{name}" for app, name in keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def age(created: str, now: datetime | None = None) -> str:
    """`3 minutes ago` for an ISO 8601 UTC time; the time itself when it cannot be read."""
    try:
        then = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    seconds = int(((now or datetime.now(timezone.utc)) - then).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def roll_back(
    repo: GitRepo,
    config: Config,
    plan: SyncPlan,
    loaded: LoadedMigrations,
    from_rev: str | None,
    *,
    backup: bool,
    progress: ProgressCallback | None = None,
    data_of: str | None = None,
) -> str | None:
    """Back up, write the journal, unapply, close the journal: all in this process (this
    one, or the old code's child), so the journal says what committed.

    Returns the name of the backup taken, if any. An unfinished journal is left only when
    a rollback that the engine cannot take back stopped midway: the next sync restores
    its backup.
    """
    connection = loaded.connection
    taken = backup_before_rollback(repo, config, connection, from_rev, data_of) if backup else None
    begin_rollback(connection, repo, plan.unapply, taken)
    changed = True
    try:
        with giving_up_on_locks(connection, "the rollback"):
            unapply(plan, loaded, progress)
    except NothingChanged:
        changed = False
        end_rollback(connection, repo)  # its transaction rolled back: no sync is midway
        if taken is not None:
            discard_backup(taken)  # the database is what it holds: a retry takes its own
        raise
    finally:
        if changed:  # done, or stopped midway: the backup is needed, older ones may go
            prune_backups(repo, config)
    end_rollback(connection, repo)
    return taken.name if taken else None


def unapply(
    plan: SyncPlan, loaded: LoadedMigrations, progress: ProgressCallback | None = None
) -> None:
    """Unapply `plan.unapply` as `migrate APP TARGET` would (signals included), on the loader
    the plan was made with; in one transaction where the engine can take DDL back."""
    from django.db import transaction

    connection = loaded.connection
    executor = loaded.executor(plan.sources, plan.hidden)
    steps = [(executor.loader.graph.nodes[key], True) for key in plan.unapply]
    atomic = connection.features.can_rollback_ddl and all(m.atomic for m, _ in steps)
    try:
        if not atomic:
            # MySQL/MariaDB: per migration, so a re-run resumes where this stopped.
            _run_backwards(executor, steps, plan.squash_records, progress)
            return
        # One transaction, records included: Django alone commits each schema change
        # before deleting its django_migrations row.
        with (
            rules_for(connection.vendor).constraint_checks_off(connection),
            transaction.atomic(using=connection.alias),
        ):
            _run_backwards(executor, steps, plan.squash_records, progress)
    except Exception as err:
        raise _unapply_failed(err, connection.alias, atomic=atomic) from err


def _unapply_failed(err: Exception, alias: str, *, atomic: bool) -> MigrailError:
    """One line: which migration, what the database said, and what state it is in."""
    where = (
        "nothing was changed"
        if atomic
        else "it stopped there: mend what failed, or switch back to a branch that has the "
        "migration; `migrail status` says what the next sync does first"
    )
    kind = NothingUnapplied if atomic else MigrailError
    if atomic and not isinstance(err, MigrationFailed):
        # Failed outside any one migration (at the commit): the lines that said each was
        # unapplied spoke of a transaction that is gone.
        where = "nothing was changed: the unapplying above was rolled back with its transaction"
    if locked := lock_in_chain(err):
        return kind(
            f"unapplying failed ({where}): database {alias!r}: {locked} (a "
            "shell or dev server in an open transaction?)"
        )
    if isinstance(err, MigrationFailed):
        key = f"{err.key[0]}.{err.key[1]}"
        failed = kind(f"unapplying {key} failed ({where}): {describe_cause(err.cause)}")
        failed.exit_status = EXIT_FINDINGS  # a migration to mend, as when one fails forward
        return failed
    if isinstance(err, MigrailError):
        return err
    return kind(f"unapplying failed ({where}): {describe_cause(err)}")


def _run_backwards(
    executor: Any,
    steps: list[tuple[Any, bool]],
    squash_records: list[Key],
    progress: ProgressCallback | None,
) -> None:
    if steps:
        run_plan(executor, steps, progress)
    for app, name in squash_records:
        executor.recorder.record_unapplied(app, name)
