"""Put a verified backup back, loading it where a failure cannot hurt.

SQLite: the online backup API writes the live file in one transaction. PostgreSQL:
`pg_restore` into a scratch database, then both renamed in one transaction.
MySQL/MariaDB: the dump loaded into a scratch schema, then every table moved in
one `RENAME TABLE`. A load that fails drops the scratch copy and leaves the
database as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from migrail.database.backup import Backup, sqlite_copy
from migrail.database.client_programs import ProgramFailed, mysql_args, pg_args, run_program
from migrail.database.identity import identity_of
from migrail.errors import MigrailError

SCRATCH = "_migrail_restore"
OLD = "_migrail_old"


def load_backup(backup: Backup, settings: Mapping[str, Any]) -> None:
    name = str(settings["NAME"])
    if backup.vendor == "sqlite":
        try:
            sqlite_copy(backup.path, name)
        except sqlite3.Error as err:
            raise MigrailError(
                f"cannot restore {backup.name} into {name}: {err}; nothing was changed"
            ) from err
    elif backup.vendor == "postgresql":
        _load_postgresql(backup, settings, name)
    elif backup.vendor == "mysql":
        _load_mysql(backup, settings, name)
    else:
        raise MigrailError(f"migrail cannot restore a {backup.vendor} backup")


def _load_postgresql(backup: Backup, settings: Mapping[str, Any], name: str) -> None:
    scratch, old = name[:47] + SCRATCH, name[:51] + OLD

    def psql(*commands: str) -> None:
        args = [arg for command in commands for arg in ("-c", command)]
        run_program(
            [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                *pg_args(settings),
                "-d",
                "postgres",
                *args,
            ],
            settings,
        )

    psql(f"DROP DATABASE IF EXISTS {_pg_quote(scratch)}", f"CREATE DATABASE {_pg_quote(scratch)}")
    try:
        run_program(
            [
                "pg_restore",
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                *pg_args(settings),
                "-d",
                scratch,
                str(backup.path),
            ],
            settings,
        )
        swap = (
            f"BEGIN; ALTER DATABASE {_pg_quote(name)} RENAME TO {_pg_quote(old)}; "
            f"ALTER DATABASE {_pg_quote(scratch)} RENAME TO {_pg_quote(name)}; COMMIT;"
        )
        try:
            psql(swap)
        except ProgramFailed as err:
            if "being accessed by other users" in err.stderr:
                live = identity_of(backup.database.alias, "postgresql", settings).describe()
                raise MigrailError(
                    f"cannot restore {backup.name}: {live} is in use by another session "
                    "(a running server or shell?); stop it and try again; nothing was changed"
                ) from err
            raise
    except BaseException:
        psql(f"DROP DATABASE IF EXISTS {_pg_quote(scratch)}")
        raise
    psql(f"DROP DATABASE IF EXISTS {_pg_quote(old)}")


def _load_mysql(backup: Backup, settings: Mapping[str, Any], name: str) -> None:
    scratch, old = name[:48] + SCRATCH, name[:52] + OLD

    def mysql(sql: str, database: str = "") -> list[str]:
        command = ["mysql", *mysql_args(settings), "--batch", "--skip-column-names", "-e", sql]
        out = run_program([*command, *([database] if database else [])], settings)
        return out.decode().splitlines()

    def tables(schema: str) -> list[str]:
        return mysql(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = {_my_string(schema)} AND table_type = 'BASE TABLE'"
        )

    charset = mysql(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
        "FROM information_schema.SCHEMATA "
        f"WHERE SCHEMA_NAME = {_my_string(name)}"
    )
    options = ""
    if charset:
        character_set, collation = charset[0].split("\t")
        options = f" CHARACTER SET {character_set} COLLATE {collation}"
    mysql(f"DROP DATABASE IF EXISTS {_my_quote(scratch)}")
    mysql(f"CREATE DATABASE {_my_quote(scratch)}{options}")
    try:
        with backup.path.open("rb") as dump:
            run_program(["mysql", *mysql_args(settings), scratch], settings, stdin=dump)
        mysql(f"DROP DATABASE IF EXISTS {_my_quote(old)}; CREATE DATABASE {_my_quote(old)}")
        moves = [
            f"{_my_quote(name)}.{_my_quote(t)} TO {_my_quote(old)}.{_my_quote(t)}"
            for t in tables(name)
        ]
        moves += [
            f"{_my_quote(scratch)}.{_my_quote(t)} TO {_my_quote(name)}.{_my_quote(t)}"
            for t in tables(scratch)
        ]
        if moves:
            mysql("SET FOREIGN_KEY_CHECKS = 0; RENAME TABLE " + ", ".join(moves))
    finally:
        mysql(f"DROP DATABASE IF EXISTS {_my_quote(scratch)}")
        mysql(f"DROP DATABASE IF EXISTS {_my_quote(old)}")


def _pg_quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _my_quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def _my_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
