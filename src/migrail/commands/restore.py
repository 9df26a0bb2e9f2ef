"""`migrail restore [BACKUP]`: list this database's backups, or put one back.

A restore obeys sync's rules (local databases, no `DEBUG = False`), refuses a
backup of another database or engine, verifies the backup whole, backs up the
current state (so a restore can be undone), then loads it where a failure
cannot hurt (see `backup_load`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migrail.engines import find_engine
from migrail.errors import EXIT_CLEAN, MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.applied_rows import django_applied_rows
from migrail.sync.backup import (
    Backup,
    list_backups,
    metadata_path,
    prune,
    take_backup,
    unreadable_backups,
)
from migrail.sync.backup_check import BadBackup, verify_backup
from migrail.sync.backup_load import load_backup
from migrail.sync.identity import DatabaseIdentity, identity_of
from migrail.sync.journal import journal_dir, protected_backups
from migrail.sync.lock import file_lock
from migrail.sync.next_step import next_step
from migrail.sync.rollback_safety import backups_dir, origin_of
from migrail.sync.safety import UnsafeDatabase, refusal


def run(*, backup: str | None, database: str) -> int:
    """The command line's `migrail restore [BACKUP]`."""
    from migrail.sources.config import load_config
    from migrail.sync.errors import database_errors

    with database_errors():
        repo = GitRepo.discover()
        return run_restore(repo, load_config(repo.root), backup, database)


def run_restore(repo: GitRepo, config: Config, name: str | None, alias: str) -> int:
    from django.conf import settings
    from django.db import connections

    from migrail.sync.settings import configure_settings

    configure_settings(repo.root, config)
    if alias not in settings.DATABASES:
        raise MigrailError(f"no database {alias!r} in settings.DATABASES")
    connection = connections[alias]
    database = identity_of(alias, connection.vendor, connection.settings_dict)
    backups = list_backups(backups_dir(repo))
    unreadable = unreadable_backups(backups_dir(repo))
    if name is None:
        print_listing(database, backups, unreadable)
        return EXIT_CLEAN
    refuse_unsafe(alias, config)  # before any connection is opened
    chosen = [b for b in backups if b.name == name]
    for path, why in unreadable:
        if path.name == name:
            raise BadBackup(
                f"backup {name} cannot be restored: its metadata {metadata_path(path)} is "
                f"unreadable: {why}; nothing was changed"
            )
    if not chosen:
        raise MigrailError(f"no backup named {name!r}; `migrail restore` lists them")
    backup = chosen[0]
    if not backup.database.same_database(database):
        raise BadBackup(
            f"backup {backup.name} is of {backup.database.describe()}, not of database "
            f"{alias!r} ({database.describe()}); nothing was changed"
        )
    with file_lock(repo.migrail_dir / "locks", alias, database.key), warnings.catch_warnings():
        # Restore reads the settings without `django.setup()`, so that a project whose apps
        # do not import can still be restored; Django would warn about every query.
        warnings.filterwarnings("ignore", "Accessing the database during app initialization")
        verify_backup(backup)
        undo = _back_up_current_state(repo, config, connection, database, keep=backup.name)
        connection.close()
        load_backup(backup, connection.settings_dict)
    print(
        f"migrail: restored database {alias!r} from {backup.name} "
        f"({backup.branch or 'no branch'} at {backup.commit[:10] or 'unknown commit'})"
    )
    if undo is not None:
        print(f"migrail: to undo this, run `migrail restore {undo.name}`")
    try:
        step = next_step(repo, config, backup.applied, backup.commit)
    except MigrailError:
        step = None  # the restore is done; only the hint could not be worked out
    if step:
        print(step)
    return EXIT_CLEAN


def print_listing(
    database: DatabaseIdentity, backups: list[Backup], unreadable: Sequence[tuple[Path, str]] = ()
) -> None:
    """This database's backups, newest first; the others only counted; the unreadable named."""
    mine = [b for b in backups if b.database.same_database(database)]
    hidden = len(backups) - len(mine)
    if not mine:
        print(
            f"migrail: no backups of database {database.alias!r} ({database.describe()}) yet "
            "(sync takes one before every rollback)"
        )
    else:
        print("\n".join(listing_table(mine)))
    if hidden:
        print(f"migrail: {hidden} backup{'s' if hidden != 1 else ''} of other databases not shown")
    for path, why in unreadable:
        print(
            f"migrail: {path.name} cannot be restored: "
            f"{metadata_path(path).name} is unreadable: {why}"
        )
    for backup in mine:
        size = backup.path.stat().st_size if backup.path.is_file() else 0
        if size != backup.size:  # the cheap half of what restore checks
            print(
                f"migrail: {backup.name} cannot be restored: the file has {size} bytes, "
                f"{backup.size} were written (damaged or cut short)"
            )


LISTING_HEADERS = ("BACKUP", "ALIAS", "BRANCH", "COMMIT", "TAKEN (UTC)", "SIZE")


def listing_table(backups: list[Backup]) -> list[str]:
    """A header line and one line per backup, columns aligned; the size right-aligned."""
    rows = [LISTING_HEADERS] + [
        (
            backup.name,
            backup.database.alias,
            backup.branch or "-",
            backup.commit[:10] or "-",
            backup.created.replace("T", " ").rstrip("Z"),
            _size(backup.size),
        )
        for backup in backups
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(LISTING_HEADERS))]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        cells[-1] = row[-1].rjust(widths[-1])
        lines.append("  ".join(cells))
    return lines


def _back_up_current_state(
    repo: GitRepo, config: Config, connection: Any, database: DatabaseIdentity, *, keep: str
) -> Backup | None:
    engine = find_engine(database.vendor)
    if engine is not None and engine.stores_in_file and not Path(database.name).is_file():
        return None  # nothing there to lose
    from migrail.commands.features import sync_feature

    data_of = sync_feature(repo, config).data_of(repo, connection)
    origin = origin_of(repo, config, None, applied := django_applied_rows(connection), data_of)
    backup = take_backup(
        backups_dir(repo),
        database,
        connection.settings_dict,
        origin=origin,
        applied=applied,
        live_name=engine.connected_database(connection) if engine is not None else None,
    )
    prune(backups_dir(repo), config.backups_kept, {keep, *protected_backups(journal_dir(repo))})
    print(f"migrail: backed up the current state of database {database.alias!r} to {backup.path}")
    return backup


def refuse_unsafe(alias: str, config: Config) -> None:
    """Sync's rules: local databases only, no `DEBUG = False` (unless configured)."""
    from django.conf import settings

    reason = refusal(
        alias,
        settings.DATABASES[alias],
        debug=bool(settings.DEBUG),
        allow_remote=config.allow_remote_databases,
        allow_debug_false=config.allow_debug_false,
    )
    if reason:
        raise UnsafeDatabase(reason)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    scaled = float(size)
    for unit in ("kB", "MB", "GB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GB":
            break
    return f"{scaled:.1f} {unit}"
