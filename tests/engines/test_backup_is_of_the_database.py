"""A backup counts only when it is of the database about to change: the dump says which
database it is of (`pg_dump`'s archive, mysqldump's header) and holds the migrations the
connection sees applied. Real dumps on the real servers; a mismatch is one line, and no
file is left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrail.engines import engine_for
from migrail.errors import MigrailError
from migrail.sync.backup import Origin, take_backup
from migrail.sync.backup_load import load_backup
from migrail.sync.identity import identity_of
from tests.databases import MARIADB, database_settings

APPLIED = [("shop", "0001_initial"), ("shop", "0002_it's")]


def execute(vendor: str, settings: dict[str, Any], *statements: str) -> None:
    if vendor == "postgresql":
        import psycopg

        connection: Any = psycopg.connect(
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
    finally:
        connection.close()


def back_up(
    vendor: str, settings: dict[str, Any], tmp_path: Path, live: str, applied: list[Any]
) -> Any:
    return take_backup(
        tmp_path / "backups",
        identity_of("default", vendor, settings),
        settings,
        origin=Origin("main", "0" * 40),
        applied=applied,
        live_name=live,
    )


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_a_dump_of_another_database_is_refused_and_removed(server: str, tmp_path: Path) -> None:
    vendor = "mysql" if server == "mariadb" else server
    with database_settings(server, tmp_path) as (settings, other):
        execute(
            vendor,
            settings,
            "CREATE TABLE django_migrations "
            "(id INTEGER PRIMARY KEY, app VARCHAR(50), name VARCHAR(100), applied VARCHAR(40))",
            "INSERT INTO django_migrations VALUES (1, 'shop', '0001_initial', 'now'), "
            "(2, 'shop', '0002_it''s', 'now')",
        )
        name = settings["NAME"]
        taken = back_up(vendor, settings, tmp_path, name, APPLIED)
        assert engine_for(vendor).dump_contents(taken.path) == (name, [set(APPLIED)])

        with pytest.raises(MigrailError) as caught:
            back_up(vendor, settings, tmp_path, other, APPLIED)
        assert str(caught.value) == (
            f"cannot back up database 'default': the dump is of database {name!r}, not of "
            f"{other!r}, the database about to change; the dump program connects elsewhere "
            "than Django does; nothing was changed"
        )
        with pytest.raises(MigrailError) as caught:
            back_up(vendor, settings, tmp_path, name, [*APPLIED, ("shop", "0003_more")])
        assert "does not hold the migrations applied in" in str(caught.value)
        assert "(1 differ)" in str(caught.value)

        left = sorted(p.name for p in (tmp_path / "backups").iterdir())
        assert left == sorted([taken.name, taken.metadata_path.name])


def test_pg_dump_connects_with_the_drivers_conninfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database_settings("postgresql", tmp_path) as (settings, _):
        monkeypatch.setenv("PGHOST", str(tmp_path / "no-server-here"))  # the conninfo wins
        conninfo = f"host={settings['HOST']} port={settings['PORT']} user={settings['USER']}"
        given = {"ENGINE": settings["ENGINE"], "NAME": settings["NAME"]}
        given["OPTIONS"] = {"conninfo": conninfo}
        taken = back_up("postgresql", given, tmp_path, settings["NAME"], [])
        assert engine_for("postgresql").dump_contents(taken.path) == (settings["NAME"], [])


def test_a_django_migrations_table_in_each_schema_is_one_table_each(tmp_path: Path) -> None:
    """django-tenants keeps one in each tenant's schema: the applied migrations are one of them."""
    table = "(id INTEGER PRIMARY KEY, app VARCHAR(50), name VARCHAR(100), applied VARCHAR(40))"
    with database_settings("postgresql", tmp_path) as (settings, _):
        execute(
            "postgresql",
            settings,
            f"CREATE TABLE django_migrations {table}",
            "INSERT INTO django_migrations VALUES (1, 'shop', '0001_initial', 'now')",
            "CREATE SCHEMA tenant",
            f"CREATE TABLE tenant.django_migrations {table}",
            "INSERT INTO tenant.django_migrations VALUES (1, 'blog', '0001_initial', 'now')",
        )
        taken = back_up("postgresql", settings, tmp_path, settings["NAME"], [APPLIED[0]])
        _, tables = engine_for("postgresql").dump_contents(taken.path)
        assert sorted(map(sorted, tables)) == [[("blog", "0001_initial")], [APPLIED[0]]]
        with pytest.raises(MigrailError):
            back_up("postgresql", settings, tmp_path, settings["NAME"], APPLIED)


def test_the_mysql_programs_go_where_the_driver_goes_whatever_mysql_host_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drivers ignore MYSQL_HOST; `mysql`, which loads a backup, reads it: kept from it."""
    with database_settings("mariadb", tmp_path) as (server, _):
        monkeypatch.setenv("MYSQL_HOST", "db.invalid")
        settings = {**server, "HOST": "", "PORT": ""}  # this machine's server, by its socket
        execute("mysql", settings, "CREATE TABLE kept (id INTEGER)")
        taken = back_up("mysql", settings, tmp_path, settings["NAME"], [])
        execute("mysql", settings, "DROP TABLE kept")
        load_backup(taken, settings)
        execute("mysql", settings, "SELECT * FROM kept")
