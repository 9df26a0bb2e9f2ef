"""The one reader of `django_migrations` outside Django's `MigrationRecorder`.

Sync plans with the recorder, through Django's loader. What must not load the migration
graph reads the rows here, over any DB-API cursor: Django's (a snapshot's applied
leaves, the rollback's safety check, `rebase`'s check of local databases) or sqlite3's (a
return trip, which starts no Django). Rows come in the order they were applied.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

TABLE = "django_migrations"

Key = tuple[str, str]


def applied_rows(cursor: Any, tables: Collection[str]) -> list[Key]:
    """(app, name) of every applied migration, in the order applied; none without the table
    (`tables`: the database's table names)."""
    if TABLE not in tables:
        return []
    cursor.execute(f"SELECT app, name FROM {TABLE} ORDER BY id")
    return [(str(app), str(name)) for app, name in cursor.fetchall()]


def django_applied_rows(connection: Any) -> list[Key]:
    """`applied_rows` over Django's `connection`."""
    with connection.cursor() as cursor:
        return applied_rows(cursor, connection.introspection.table_names(cursor))


def sqlite_applied_rows(connection: Any) -> list[Key]:
    """`applied_rows` over a `sqlite3` connection, without Django."""
    cursor = connection.cursor()
    listed = cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return applied_rows(cursor, {str(name) for (name,) in listed})


def leaves_of(rows: Iterable[Key]) -> dict[str, str]:
    """The last applied migration of each app, by the order `rows` were applied."""
    return dict(rows)
