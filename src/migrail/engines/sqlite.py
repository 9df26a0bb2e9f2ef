"""SQLite: a file on this machine. Backups, loads and snapshots all use the online backup
API (a consistent copy even while a dev server holds the file); a dump is checked by
`PRAGMA integrity_check` on the file opened read-only, and must hold `django_migrations`."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from migrail.engines.base import (
    Backup,
    CopyGaveUp,
    Database,
    DumpFailed,
    Engine,
    Snapshot,
    SnapshotSteps,
    SnapshotStore,
    Step,
)
from migrail.engines.programs import lock_wait_seconds
from migrail.errors import MigrailError

SQLITE_HEADER = b"SQLite format 3\x00"
NOTICE_AFTER = 2.0  # seconds a copy waits for a lock before it says so
SQLITE_BUSY, SQLITE_LOCKED = 5, 6  # result codes (the module names them from Python 3.11)


def sqlite_copy(source_path: str | Path, target_path: str | Path) -> None:
    """SQLite's online backup: a consistent copy even while another connection writes.

    The target is written in one transaction: a failure leaves it as it was.
    """
    source = sqlite3.connect(Path(source_path).resolve().as_uri() + "?mode=ro", uri=True)
    target = sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()


class SqliteEngine(Engine):
    vendor = "sqlite"
    backup_suffix = "sqlite3"
    stores_in_file = True

    def dump(
        self, database: Database, settings: Mapping[str, Any], path: Path, out: IO[bytes]
    ) -> None:
        try:
            sqlite_copy(str(settings["NAME"]), path)
        except sqlite3.Error as err:
            raise DumpFailed(str(err)) from err

    def dump_problem(self, path: Path) -> str | None:
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return "it is not an SQLite database"
        try:
            connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            finally:
                connection.close()
        except sqlite3.DatabaseError as err:
            return f"SQLite finds it damaged ({err})"
        if result != ["ok"]:
            return f"SQLite finds it damaged ({result[0]})"
        if "django_migrations" not in tables:
            return "it holds no django_migrations table"
        return None

    def load(self, backup: Backup, settings: Mapping[str, Any]) -> None:
        name = str(settings["NAME"])
        try:
            sqlite_copy(backup.path, name)
        except sqlite3.Error as err:
            raise MigrailError(
                f"cannot restore {backup.name} into {name}: {err}; nothing was changed"
            ) from err

    @contextmanager
    def snapshot_steps(
        self, connection: Any, live: str, store: SnapshotStore
    ) -> Iterator[SnapshotSteps]:
        yield SqliteSnapshots(live, store, None)

    @contextmanager
    def constraint_checks_off(self, connection: Any) -> Iterator[None]:
        connection.disable_constraint_checking()
        try:
            yield
        finally:
            connection.enable_constraint_checking()


class SqliteSnapshots(SnapshotSteps):
    """A snapshot is a file of its own under the snapshot directory."""

    vendor = "sqlite"

    def place(self, snapshot: Snapshot) -> str:
        return str(self.store.file_for(snapshot))

    def refusal(self, *, terminate_others: bool = False) -> str | None:
        if self.live in ("", ":memory:") or self.live.startswith("file:"):
            return f"database {self.live!r} is not a file"
        return None

    def exists(self, snapshot: Snapshot) -> bool:
        return Path(self.place(snapshot)).is_file()

    def size(self, snapshot: Snapshot) -> int | None:
        path = Path(self.place(snapshot))
        return path.stat().st_size if path.is_file() else None

    def save_steps(self, snapshot: Snapshot) -> list[Step]:
        return [["copy", self.live, self.place(snapshot)]]

    def swap_steps(self, save_as: Snapshot, restore: Snapshot) -> list[Step]:
        return [
            ["copy", self.live, self.place(save_as)],
            ["copy", self.place(restore), self.live],
            ["drop", self.place(restore)],
        ]

    def restore_copy_steps(self, snapshot: Snapshot) -> list[Step]:
        return [["copy", self.place(snapshot), self.live]]

    def run(self, step: Step) -> None:
        op, *names = step
        if op == "drop":
            Path(names[0]).unlink(missing_ok=True)
        elif op == "copy":
            self._copy(*names)
        elif op == "create":  # an empty database: a new file, 0600 as the copies are
            os.close(os.open(names[0], os.O_WRONLY | os.O_CREAT, 0o600))
        else:
            raise MigrailError(f"unknown snapshot step {step!r}")

    def _copy(self, source: str, target: str) -> None:
        """The online backup API, then one fsync: the journal's order makes it safe.

        Into the live file, its rollback journal is kept (another process never sees a
        half-copied file, and a kill rolls back) but not fsync'd (`synchronous=OFF`);
        into a new snapshot file, no journal at all. Either way an OS crash mid-copy
        leaves a step the snapshot journal, fsync'd before it, runs again.
        """
        fresh = not Path(target).exists() or Path(target).stat().st_size == 0
        if target != self.live:  # a snapshot's file: made anew (a killed copy left part of one)
            Path(target).unlink(missing_ok=True)
            fresh = True
        if fresh:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
        source_db = sqlite3.connect(source)
        # Into the live file: poll for its lock ourselves (say so, give up in time).
        target_db = sqlite3.connect(target, timeout=0.2 if target == self.live else 30)
        try:
            target_db.execute("PRAGMA synchronous = OFF")
            if fresh and target != self.live:
                target_db.execute("PRAGMA journal_mode = OFF")
            with target_db:
                progress = _LockWait(target) if target == self.live else None
                source_db.backup(target_db, progress=progress)
        finally:
            source_db.close()
            target_db.close()
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _LockWait:
    """The backup's progress callback: one notice after `NOTICE_AFTER` s waiting for another
    connection's lock, and `CopyGaveUp` after `MIGRAIL_LOCK_WAIT` s (the copy is all pages
    in one step, so until it gets the lock it has written nothing)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.wait = lock_wait_seconds()
        self.started = time.monotonic()
        self.told = False

    def __call__(self, status: int, remaining: int, total: int) -> None:
        if status not in (SQLITE_BUSY, SQLITE_LOCKED):
            return
        waited = time.monotonic() - self.started
        if waited >= self.wait:
            raise CopyGaveUp(
                f"the copy into {self.database!r} waited {self.wait}s (MIGRAIL_LOCK_WAIT) for "
                "another connection's transaction; nothing was changed"
            )
        if waited >= NOTICE_AFTER and not self.told:
            self.told = True
            print(
                f"migrail: the snapshot copy is waiting for another connection to database "
                f"{self.database!r} (a shell or server in an open transaction?); giving up "
                f"after {self.wait}s (MIGRAIL_LOCK_WAIT)",
                flush=True,
            )
