"""Is a backup whole? Checked completely before a restore touches anything.

Every backup: present, not empty, the SHA-256 its metadata recorded. Then by
engine: SQLite's `PRAGMA integrity_check` on the file (opened read-only) and a
`django_migrations` table; PostgreSQL's `pg_restore` reading the whole archive
into nowhere; a MySQL dump's `-- Dump completed` line at its end, which
`mysqldump` writes last.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from migrail.database.backup import Backup, file_sha256
from migrail.database.client_programs import ProgramFailed, run_program
from migrail.errors import MigrailError

SQLITE_HEADER = b"SQLite format 3\x00"
MYSQLDUMP_END = b"-- Dump completed"


class BadBackup(MigrailError):
    """The backup cannot be restored; nothing was changed."""


def verify_backup(backup: Backup) -> None:
    problem = _problem(backup)
    if problem:
        raise BadBackup(f"backup {backup.name} cannot be restored: {problem}; nothing was changed")


def _problem(backup: Backup) -> str | None:
    path = backup.path
    if not path.is_file():
        return "the file is gone"
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    if size != backup.size or file_sha256(path) != backup.sha256:
        return "the file changed since it was taken (its checksum does not match)"
    if backup.vendor == "sqlite":
        return _sqlite_problem(path)
    if backup.vendor == "postgresql":
        try:
            run_program(["pg_restore", "--file=/dev/null", str(path)], {})
        except ProgramFailed as err:
            return f"pg_restore cannot read it ({str(err).removeprefix('pg_restore failed: ')})"
        return None
    if backup.vendor == "mysql":
        return (
            None
            if _mysqldump_completed(path)
            else "the dump is incomplete (no `-- Dump completed` at its end)"
        )
    return f"migrail cannot restore a {backup.vendor} backup"


def _sqlite_problem(path: Path) -> str | None:
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


def _mysqldump_completed(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        tail = handle.read()
    lines = [line for line in tail.splitlines() if line.strip()]
    return bool(lines) and lines[-1].startswith(MYSQLDUMP_END)
