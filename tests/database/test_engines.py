"""The engine modules: their pure parts in process (client command lines built by Django's
own `DatabaseClient`, the choice of engine), and a dump, verify and load round trip on
each real database (SQLite always; PostgreSQL and MariaDB skip without their server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrail.engines import (
    UnknownEngine,
    engine_for,
    engine_named_in,
    is_lock_timeout,
    rules_for,
    stores_in_file,
)
from migrail.errors import MigrailError
from migrail.sync.backup import Origin, take_backup
from migrail.sync.backup_check import verify_backup
from migrail.sync.backup_load import load_backup
from migrail.sync.identity import identity_of
from tests.databases import MARIADB, database_settings

PG_SETTINGS: dict[str, Any] = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "shop",
    "USER": "app",
    "PASSWORD": "secret",
    "HOST": "db.internal",
    "PORT": 5433,
    "OPTIONS": {
        "service": "shop_service",
        "sslmode": "verify-full",
        "sslcert": "/certs/client.crt",
        "passfile": "/home/app/.pgpass",
    },
}


def test_pg_dump_gets_what_dbshell_gets_options_included() -> None:
    command, env = engine_for("postgresql").client_command("pg_dump", PG_SETTINGS, ["-Fc"])
    assert command == [
        "pg_dump",
        *["-U", "app", "-h", "db.internal", "-p", "5433"],
        *["-d", "shop", "-Fc"],
    ]
    assert env == {
        "PGPASSWORD": "secret",
        "PGSERVICE": "shop_service",
        "PGSSLMODE": "verify-full",
        "PGSSLCERT": "/certs/client.crt",
        "PGPASSFILE": "/home/app/.pgpass",
    }
    assert "secret" not in " ".join(command)


def test_pg_service_alone_names_the_database() -> None:
    settings = {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {"service": "shop"}}
    command, env = engine_for("postgresql").client_command("psql", settings, ["-c", "SELECT 1"])
    assert command == ["psql", "-c", "SELECT 1"]  # the service file says which database
    assert env == {"PGSERVICE": "shop"}


def test_pg_restore_takes_the_database_as_an_option_and_options_fill_empty_settings() -> None:
    settings = {"NAME": "shop", "OPTIONS": {"host": "/run/postgresql", "user": "app"}}
    command, env = engine_for("postgresql").client_command(
        "pg_restore", settings, ["--no-owner", "backup.dump"], database="shop_scratch"
    )
    assert command == [
        "pg_restore",
        *["-U", "app", "-h", "/run/postgresql"],
        *["-d", "shop_scratch", "--no-owner", "backup.dump"],
    ]
    assert env == {}


def test_mysqldump_reads_the_option_file_first_and_the_password_from_the_environment() -> None:
    settings = {
        "ENGINE": "django.db.backends.mysql",
        "NAME": "shop",
        "USER": "app",
        "PASSWORD": "secret",
        "OPTIONS": {"read_default_file": "/etc/mysql/shop.cnf", "charset": "utf8mb4"},
    }
    command, env = engine_for("mysql").client_command(
        "mysqldump", settings, ["--single-transaction"]
    )
    assert command == [
        "mysqldump",
        "--defaults-file=/etc/mysql/shop.cnf",
        "--user=app",
        "--default-character-set=utf8mb4",
        "--single-transaction",
        "shop",
    ]
    assert env == {"MYSQL_PWD": "secret", "MYSQL_HOST": ""}  # the drivers ignore MYSQL_HOST


def test_mysql_options_win_a_socket_counts_and_an_empty_database_means_none() -> None:
    settings = {
        "NAME": "shop",
        "HOST": "127.0.0.1",
        "OPTIONS": {"host": "/run/mysqld/mysqld.sock", "db": "other", "passwd": "pw"},
    }
    command, env = engine_for("mysql").client_command("mysql", settings, ["-e", "SELECT 1"])
    assert command == [
        "mysql",
        "--no-defaults",  # the driver reads no option file: neither do the programs
        "--socket=/run/mysqld/mysqld.sock",
        *["-e", "SELECT 1", "other"],
    ]
    assert env == {"MYSQL_PWD": "pw", "MYSQL_HOST": ""}
    command, _ = engine_for("mysql").client_command(
        "mysql", {"NAME": "shop", "OPTIONS": {"unix_socket": "/tmp/my.sock"}}, database=""
    )
    assert command == ["mysql", "--no-defaults", "--socket=/tmp/my.sock"]


def test_an_unknown_vendor_is_one_clear_line() -> None:
    with pytest.raises(MigrailError) as caught:
        engine_for("oracle")
    assert isinstance(caught.value, UnknownEngine)
    assert "\n" not in str(caught.value)
    assert "'oracle'" in str(caught.value)


def test_engines_are_chosen_by_vendor_and_by_engine_path() -> None:
    assert [engine_for(v).vendor for v in ("sqlite", "postgresql", "mysql")] == [
        "sqlite",
        "postgresql",
        "mysql",
    ]
    named = engine_named_in({"ENGINE": "django.db.backends.postgresql"})
    assert named is not None
    assert named.vendor == "postgresql"
    assert engine_named_in({"ENGINE": "django.db.backends.oracle"}) is None
    assert stores_in_file({"ENGINE": "django.db.backends.sqlite3"})
    assert not stores_in_file({"ENGINE": "django.db.backends.mysql"})
    with pytest.raises(MigrailError):
        engine_for("sqlite").client_command("psql", {})
    generic = rules_for("oracle")  # a backend migrail does not know: nothing engine-specific
    assert not generic.bounds_lock_waits
    assert rules_for("mysql") is engine_for("mysql")


class _PgLockTimeout(Exception):
    sqlstate = "55P03"


def test_lock_timeouts_are_told_by_code_through_causes() -> None:
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = _PgLockTimeout("canceling statement due to lock timeout")
    assert is_lock_timeout(wrapped)
    assert is_lock_timeout(Exception(1205, "Lock wait timeout exceeded"))
    assert not is_lock_timeout(Exception(1213, "Deadlock found"))
    assert not is_lock_timeout(None)


# -- round trips on the real servers ---------------------------------------------------


def _execute(vendor: str, settings: dict[str, Any], *statements: str) -> list[tuple[Any, ...]]:
    """Run `statements` on the database, each committed; the last one's rows."""
    if vendor == "sqlite":
        import sqlite3

        connection: Any = sqlite3.connect(settings["NAME"], isolation_level=None)
    elif vendor == "postgresql":
        import psycopg

        connection = psycopg.connect(
            host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
            dbname=settings["NAME"], autocommit=True,
        )  # fmt: skip
    else:
        import pymysql

        connection = pymysql.connect(database=settings["NAME"], autocommit=True, **MARIADB)
    try:
        cursor = connection.cursor()
        for sql in statements:
            cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    finally:
        connection.close()


@pytest.mark.parametrize("server", ["sqlite", "postgresql", "mariadb"])
def test_a_dump_verifies_and_loads_back(server: str, tmp_path: Path) -> None:
    vendor = "mysql" if server == "mariadb" else server
    with database_settings(server, tmp_path) as (settings, _fresh):
        _execute(
            vendor,
            settings,
            "CREATE TABLE django_migrations (app VARCHAR(50), name VARCHAR(100))",
            "INSERT INTO django_migrations VALUES ('shop', '0001_initial')",
            "CREATE TABLE shop_item (name VARCHAR(20))",
            "INSERT INTO shop_item VALUES ('kept')",
        )
        database = identity_of("default", vendor, settings)
        backup = take_backup(
            tmp_path / "backups",
            database,
            settings,
            origin=Origin("main", "0" * 40),
            applied=[("shop", "0001_initial")],
        )
        assert backup.path.name.endswith("." + engine_for(vendor).backup_suffix)
        verify_backup(backup)

        _execute(vendor, settings, "DELETE FROM shop_item", "INSERT INTO shop_item VALUES ('new')")
        load_backup(backup, settings)

        assert _execute(vendor, settings, "SELECT name FROM shop_item") == [("kept",)]


def test_a_sqlite_snapshot_copy_replaces_what_a_killed_copy_left(tmp_path: Path) -> None:
    """A kill mid-copy leaves part of a snapshot file; the journal's replay copies again
    into a new file (it was reopened as a database: `file is not a database`, every run)."""
    import sqlite3

    from migrail.engines.sqlite import SqliteSnapshots
    from migrail.snapshots.store import SnapshotStore

    live = tmp_path / "db.sqlite3"
    with sqlite3.connect(live) as connection:
        connection.execute("CREATE TABLE shop_item (name TEXT)")
        connection.execute("INSERT INTO shop_item VALUES ('kept')")
    connection.close()
    partial = tmp_path / "snapshots/migrail_snap_0123456789abcdef0123.sqlite3"
    partial.parent.mkdir()
    partial.write_bytes(live.read_bytes()[:700] + b"\0" * 300)  # torn at a page boundary

    SqliteSnapshots(str(live), SnapshotStore(partial.parent), None).run(
        ["copy", str(live), str(partial)]
    )
    with sqlite3.connect(partial) as copied:
        assert copied.execute("SELECT name FROM shop_item").fetchall() == [("kept",)]
    copied.close()
