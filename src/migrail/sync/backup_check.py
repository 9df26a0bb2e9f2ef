"""Is a backup whole? Checked completely before a restore touches anything.

Every backup: present, not empty, the SHA-256 its metadata recorded. Then its engine's
own check (`Engine.dump_problem`): SQLite's `PRAGMA integrity_check` on the file (opened
read-only) and a `django_migrations` table; PostgreSQL's `pg_restore` reading the whole
archive into nowhere; a MySQL dump's `-- Dump completed` line at its end, which
`mysqldump` writes last.
"""

from __future__ import annotations

from migrail.engines import UnknownEngine, engine_for
from migrail.errors import MigrailError
from migrail.sync.backup import Backup, file_sha256


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
    try:
        engine = engine_for(backup.vendor)
    except UnknownEngine:
        return f"migrail cannot restore a {backup.vendor} backup"
    return engine.dump_problem(path)
