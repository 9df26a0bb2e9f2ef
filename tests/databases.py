"""Real databases for the sync tests: SQLite files, and throwaway databases on the
local PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) servers.

Without a server the tests skip with the reason; with `CI` set they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
MARIADB: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def unavailable(what: str, err: Exception) -> None:
    message = f"{what} is not reachable: {err}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this fails instead of skipping)")
    pytest.skip(message)


@contextmanager
def throwaway_databases(
    server: str, connect: Callable[[], Any], quote: str, drop_options: str = ""
) -> Iterator[list[str]]:
    """Two new, empty databases on `server`, dropped afterwards."""
    try:
        admin = connect()
    except Exception as err:
        unavailable(server, err)

    def execute(sql: str) -> None:
        with admin.cursor() as cursor:
            cursor.execute(sql)

    names = [f"migrail_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for name in names:
        execute(f"CREATE DATABASE {quote}{name}{quote}")
    try:
        yield names
    finally:
        for name in names:
            execute(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{drop_options}")
        admin.close()


def _postgres() -> Any:
    import psycopg

    return psycopg.connect(PG_DSN, autocommit=True)


def _mariadb() -> Any:
    import pymysql

    return pymysql.connect(connect_timeout=5, autocommit=True, **MARIADB)


@contextmanager
def database_settings(vendor: str, tmp_path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """(settings for the project's database, NAME of a second, empty one for a fresh migrate)."""
    if vendor == "sqlite":
        yield (
            {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")},
            str(tmp_path / "fresh.sqlite3"),
        )
    elif vendor == "postgresql":
        server = "PostgreSQL on 127.0.0.1:5432"
        with throwaway_databases(server, _postgres, '"', " WITH (FORCE)") as (name, fresh):
            yield (
                {
                    "ENGINE": "django.db.backends.postgresql",
                    "NAME": name,
                    "HOST": "127.0.0.1",
                    "PORT": "5432",
                    "USER": "postgres",
                },
                fresh,
            )
    else:
        with throwaway_databases("MariaDB on 127.0.0.1:3306", _mariadb, "`") as (name, fresh):
            yield (
                {
                    "ENGINE": "django.db.backends.mysql",
                    "NAME": name,
                    "HOST": "127.0.0.1",
                    "PORT": "3306",
                    "USER": "root",
                    "PASSWORD": "",
                },
                fresh,
            )
