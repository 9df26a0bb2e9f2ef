"""The oracle: what a careful person's `manage.py migrate APP TARGET`, checkout, `manage.py
migrate` leaves, run on a copy of the same database, compared with migrail's result table by
table and row by row (content types, permissions, contrib and third-party rows included).

The copy is made here with the engines' own tools, never with migrail's code.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.databases import MARIADB, PG_DSN
from tests.djangoproject import DjangoProject

# Every table: its columns, and every row as text, sorted. `django_migrations` by (app, name):
# its ids and times are the only columns two honest runs may differ in.
DUMP = """\
import json
import django
django.setup()
from django.db import connection
dump = {}
with connection.cursor() as cursor:
    for table in sorted(connection.introspection.table_names(cursor)):
        columns = sorted(c.name for c in connection.introspection.get_table_description(cursor, table))
        quoted = connection.ops.quote_name(table)
        if table == "django_migrations":
            cursor.execute(f"SELECT app, name FROM {quoted}")
        else:
            cursor.execute(f"SELECT * FROM {quoted}")
        rows = sorted(json.dumps([str(v) for v in row]) for row in cursor.fetchall())
        dump[table] = {"columns": columns, "rows": rows}
print(json.dumps(dump))
"""


def database_dump(p: DjangoProject, db_name: str | None = None) -> dict[str, Any]:
    """Every table of the project's database (or of `db_name`), columns and rows."""
    env = {"TEST_DB_NAME": db_name} if db_name else None
    proc = p.python(DUMP, env)
    assert proc.returncode == 0, proc.stderr
    dump: dict[str, Any] = json.loads(proc.stdout)
    return dump


def copy_database(p: DjangoProject, copy_name: str) -> None:
    """A copy of the project's database under `copy_name` (an empty database or a file path)."""
    settings = p.database or {"ENGINE": "sqlite3", "NAME": str(p.root / "db.sqlite3")}
    engine, name = settings["ENGINE"], settings["NAME"]
    if "sqlite" in engine:
        import sqlite3

        with sqlite3.connect(name) as source, sqlite3.connect(copy_name) as target:
            source.backup(target)
    elif "postgresql" in engine:
        import psycopg

        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{copy_name}" TEMPLATE "{name}"')
    else:
        host, port, user = MARIADB["host"], str(MARIADB["port"]), MARIADB["user"]
        client = ["--host", host, "--port", port, "--user", user]
        dumped = subprocess.run(
            ["mysqldump", *client, "--single-transaction", "--routines", name],
            capture_output=True,
            check=True,
        )
        subprocess.run(["mysql", *client, copy_name], input=dumped.stdout, check=True)


def migrate_by_hand(p: DjangoProject, copy_name: str, *args: str) -> None:
    """`manage.py migrate ARGS` on the copy, with the code checked out now."""
    proc = p.manage("migrate", *args, env={"TEST_DB_NAME": copy_name})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def assert_same_as_by_hand(p: DjangoProject, copy_name: str) -> None:
    """The database equals the copy the by-hand sequence left, every table and every row."""
    ours, by_hand = database_dump(p), database_dump(p, copy_name)
    assert sorted(ours) == sorted(by_hand), "tables differ"
    for table in by_hand:
        assert ours[table] == by_hand[table], f"table {table} differs"
