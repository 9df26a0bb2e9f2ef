"""Backups of a database, kept under git's common directory: taken, listed, pruned.

Each engine dumps its own way (`Engine.dump`: SQLite's online backup API, PostgreSQL's
`pg_dump -Fc`, MySQL and MariaDB's `mysqldump`). Each dump `X` gets `X.json`, written
last (atomically): the database it came from, the branch and commit, the applied migrations, a
SHA-256 of the dump, the time in UTC and the size. A dump without its
metadata is what a killed run left behind, and the next run removes it.
Files are 0600 in 0700 directories whatever the umask: dumps of a server
database are readable only by their owner.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from migrail.engines import UnknownEngine, all_engines, engine_for
from migrail.engines.base import DumpFailed
from migrail.engines.programs import ProgramMissing
from migrail.errors import MigrailError
from migrail.graph.parser import Key
from migrail.sources.processes import process_alive
from migrail.sync.identity import DatabaseIdentity
from migrail.sync.private_files import private_directory, write_private_json

METADATA = ".json"
PARTIAL = ".partial"  # `.NAME.PID.partial` while the dump is written


@dataclass(frozen=True)
class Backup:
    path: Path
    database: DatabaseIdentity
    branch: str
    commit: str
    applied: tuple[Key, ...]
    sha256: str
    created: str  # ISO 8601, UTC
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def vendor(self) -> str:
        return self.database.vendor

    @property
    def metadata_path(self) -> Path:
        return metadata_path(self.path)


@dataclass(frozen=True)
class Origin:
    """The branch and commit whose migrations the database holds when it is backed up."""

    branch: str
    commit: str


def metadata_path(path: Path) -> Path:
    return path.with_name(path.name + METADATA)


def take_backup(
    directory: Path,
    database: DatabaseIdentity,
    settings: Mapping[str, Any],
    *,
    origin: Origin,
    applied: Collection[Key],
    live_name: str | None = None,
) -> Backup:
    """Dump the database to a new file (older ones are the caller's to `prune`, once it knows
    the backup is needed).

    With `live_name` (the database the connection is on, as the server says), the dump is
    checked to be of it, holding the `applied` migrations, before it counts as taken: the
    dump program's connection is not Django's, and a backup of another database would let
    the change go ahead with no copy of this one."""
    try:
        private_directory(directory)
        now = time.time_ns()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now // 10**9))
        stamp += f"-{now // 1000 % 10**6:06d}"  # microseconds: names sort in time order
        try:
            suffix = engine_for(database.vendor).backup_suffix
        except UnknownEngine as err:
            raise MigrailError(
                f"migrail cannot back up a {database.vendor} database; "
                "use --no-backup to go on without"
            ) from err
        path = directory / f"{stamp}-{database.alias}.{suffix}"
        partial = directory / f".{path.name}.{os.getpid()}{PARTIAL}"
        with _new_private_file(partial) as out:
            _dump(database, settings, partial, out)
        if live_name is not None:
            _check_dump_is_of(database, partial, live_name, applied)
        os.replace(partial, path)
        backup = Backup(
            path,
            database,
            origin.branch,
            origin.commit,
            tuple(sorted(applied)),
            file_sha256(path),
            datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            path.stat().st_size,
        )
        _write_metadata(backup)
    except OSError as err:
        cause = err.strerror or str(err)
        if err.errno in (errno.EACCES, errno.EPERM):
            cause = "permission denied"
        raise MigrailError(
            f"cannot write a backup of database {database.alias!r} in {directory}: "
            f"{cause}; nothing was changed"
        ) from err
    return backup


def list_backups(directory: Path) -> list[Backup]:
    """Every complete backup with readable metadata, newest first."""
    found = []
    for meta in _metadata_files(directory):
        try:
            found.append(read_backup(meta))
        except UnreadableMetadata:
            continue  # listed apart by `unreadable_backups`
    return sorted(found, key=lambda b: b.name, reverse=True)  # names start with the UTC time


def unreadable_backups(directory: Path) -> list[tuple[Path, str]]:
    """Dumps whose metadata cannot be read (damaged, or an older migrail's), with why."""
    found = []
    for meta in _metadata_files(directory):
        try:
            read_backup(meta)
        except UnreadableMetadata as err:
            found.append((meta.with_name(meta.name[: -len(METADATA)]), str(err)))
    return sorted(found, reverse=True)


class UnreadableMetadata(Exception):
    """`str()` says why a backup's `.json` cannot be read."""


def read_backup(meta: Path) -> Backup:
    path = meta.with_name(meta.name[: -len(METADATA)])
    try:
        data = json.loads(meta.read_text())
        return Backup(
            path,
            DatabaseIdentity.from_json(data["database"]),
            str(data["branch"]),
            str(data["commit"]),
            tuple((str(app), str(name)) for app, name in data["applied"]),
            str(data["sha256"]),
            str(data["created"]),
            int(data["size"]),
        )
    except OSError as err:
        raise UnreadableMetadata(err.strerror or str(err)) from err
    except UnicodeDecodeError as err:
        raise UnreadableMetadata("not UTF-8 text") from err
    except ValueError as err:
        raise UnreadableMetadata(
            f"not JSON ({err})" if isinstance(err, json.JSONDecodeError) else f"a bad value ({err})"
        ) from err
    except KeyError as err:
        raise UnreadableMetadata(f"no {err} in it") from err
    except (TypeError, AttributeError) as err:
        raise UnreadableMetadata("not what migrail writes (a field of the wrong kind)") from err


def _metadata_files(directory: Path) -> list[Path]:
    """The `.json` of every dump that exists."""
    if not directory.is_dir():
        return []
    return [
        meta
        for meta in directory.glob(f"*{METADATA}")
        if meta.with_name(meta.name[: -len(METADATA)]).is_file()
    ]


def prune(directory: Path, kept: int, protected: Collection[str] = ()) -> None:
    """Keep the newest `kept` backups of each database, and every protected one; say which
    went (a rollback's line said `migrail restore NAME` brings its database back)."""
    seen: dict[DatabaseIdentity, int] = {}
    for backup in list_backups(directory):
        key = replace(backup.database, alias="")
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > max(kept, 1) and backup.name not in protected:
            delete_backup(backup)
            branch = f"branch {backup.branch!r}, " if backup.branch else ""
            kept_per = f"{max(kept, 1)} {'is' if max(kept, 1) == 1 else 'are'} kept"
            print(
                f"migrail: removed backup {backup.name} ({branch}{backup.created}): "
                f"{kept_per} per database (`backups_kept`)"
            )


def delete_backup(backup: Backup) -> None:
    """The dump and its metadata."""
    backup.path.unlink(missing_ok=True)
    backup.metadata_path.unlink(missing_ok=True)


def remove_leftovers(directory: Path, protected: Collection[str] = ()) -> list[Path]:
    """A killed run's files: partial dumps of processes that are gone, dumps without metadata."""
    removed = []
    for path in directory.glob(f".*{PARTIAL}") if directory.is_dir() else []:
        pid = path.name[: -len(PARTIAL)].rsplit(".", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    for suffix in {engine.backup_suffix for engine in all_engines()}:
        for path in directory.glob(f"*.{suffix}") if directory.is_dir() else []:
            if not metadata_path(path).exists() and path.name not in protected:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dump(database: DatabaseIdentity, settings: Mapping[str, Any], path: Path, out: Any) -> None:
    try:
        engine_for(database.vendor).dump(database, settings, path, out)
    except ProgramMissing as err:
        raise _cannot_back_up(database, f"{err}; install it, or sync with --no-backup") from err
    except DumpFailed as err:
        raise _cannot_back_up(database, err.cause) from err.__cause__


def _check_dump_is_of(
    database: DatabaseIdentity, path: Path, live_name: str, applied: Collection[Key]
) -> None:
    """Raise, the dump removed, unless it says it is of `live_name` and holds `applied`."""
    try:
        dumped, tables = engine_for(database.vendor).dump_contents(path)
    except MigrailError as err:
        path.unlink(missing_ok=True)
        raise _cannot_back_up(database, f"its dump cannot be read back ({err})") from err
    live = f"{live_name!r}, the database about to change"
    if dumped is not None and dumped != live_name:
        problem = f"the dump is of database {dumped!r}, not of {live}"
    elif set(applied) not in (tables or [set()]):
        differ = min(len(rows ^ set(applied)) for rows in tables or [set()])
        problem = f"the dump does not hold the migrations applied in {live} ({differ} differ)"
    else:
        return
    path.unlink(missing_ok=True)
    raise MigrailError(
        f"cannot back up database {database.alias!r}: {problem}; the dump program connects "
        "elsewhere than Django does; nothing was changed"
    )


def _cannot_back_up(database: DatabaseIdentity, cause: str) -> MigrailError:
    return MigrailError(
        f"cannot back up database {database.alias!r} ({database.describe()}): {cause}; "
        "nothing was changed"
    )


@contextmanager
def _new_private_file(path: Path) -> Iterator[Any]:
    """Created 0600 whatever the umask; removed again when the dump fails."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _write_metadata(backup: Backup) -> None:
    data = {
        "database": backup.database.as_json(),
        "branch": backup.branch,
        "commit": backup.commit,
        "applied": [list(key) for key in backup.applied],
        "sha256": backup.sha256,
        "created": backup.created,
        "size": backup.size,
    }
    write_private_json(backup.metadata_path, data)
