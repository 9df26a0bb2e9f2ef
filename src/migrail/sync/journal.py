"""The journal of a sync in progress: written (and fsync'd) before the first change,
removed when the sync finishes. One file per database under git's common directory.

A journal still there when the next sync starts means the last one was killed or
failed midway; on an engine without transactional DDL its backup is what the
database must go back to, so that backup is never pruned while the journal exists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from migrail.errors import MigrailError
from migrail.sync.identity import DatabaseIdentity
from migrail.sync.private_files import private_directory, sync_directory, write_private_json

if TYPE_CHECKING:
    from migrail.graph.parser import Key
    from migrail.sources.gitrepo import GitRepo

JOURNAL_DIRECTORY = "journal"  # under git's migrail directory


def journal_dir(repo: GitRepo) -> Path:
    return repo.migrail_dir / JOURNAL_DIRECTORY


def any_sync_stopped(repo: GitRepo) -> bool:
    """Whether a sync of any database stopped midway (its journal is still there)."""
    return any(journal_dir(repo).glob("*.json"))


@dataclass(frozen=True)
class Journal:
    database: DatabaseIdentity
    unapply: tuple[Key, ...]
    backup: str | None
    transactional: bool
    started: str


def journal_path(directory: Path, database: DatabaseIdentity) -> Path:
    key = "\0".join((database.vendor, database.name, database.host, database.port))
    return directory / f"{database.alias}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"


def begin(
    directory: Path,
    database: DatabaseIdentity,
    unapply: Sequence[Key],
    backup: str | None,
    *,
    transactional: bool,
) -> Journal:
    journal = Journal(
        database,
        tuple(unapply),
        backup,
        transactional,
        datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    private_directory(directory)
    data = {
        "database": database.as_json(),
        "unapply": [list(key) for key in journal.unapply],
        "backup": backup,
        "transactional": transactional,
        "started": journal.started,
    }
    write_private_json(journal_path(directory, database), data)
    return journal


def finish(directory: Path, database: DatabaseIdentity) -> None:
    journal_path(directory, database).unlink(missing_ok=True)
    if directory.is_dir():
        sync_directory(directory)


def unfinished(directory: Path, database: DatabaseIdentity) -> Journal | None:
    return _read(journal_path(directory, database))


def protected_backups(directory: Path) -> set[str]:
    """Backups named by any unfinished journal: never pruned."""
    names = set()
    for path in directory.glob("*.json") if directory.is_dir() else []:
        try:
            journal = _read(path)
        except MigrailError:
            continue
        if journal is not None and journal.backup:
            names.add(journal.backup)
    return names


def _read(path: Path) -> Journal | None:
    try:
        data = json.loads(path.read_text())
        return Journal(
            DatabaseIdentity.from_json(data["database"]),
            tuple((str(app), str(name)) for app, name in data["unapply"]),
            data["backup"],
            bool(data["transactional"]),
            str(data["started"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        # Written whole (fsync, then rename), so unreadable means edited by hand: never guess.
        raise MigrailError(
            f"cannot read migrail's journal {path} ({err}); check the database, "
            "then remove that file"
        ) from err
