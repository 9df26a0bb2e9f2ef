"""MySQL and MariaDB: `mysqldump --single-transaction` backups, whole when they end in
`-- Dump completed`, loaded into a scratch schema whose tables move in one
`RENAME TABLE`; snapshots as schemas of their own; `GET_LOCK`, `lock_wait_timeout`,
the process list; the driver's idea of the host (OPTIONS win, then option files)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from migrail.engines import mysql_options
from migrail.engines.base import (
    Backup,
    Database,
    Destination,
    DumpFailed,
    Engine,
    Snapshot,
    SnapshotSteps,
    SnapshotStore,
    Step,
    StepBlocked,
    client_settings,
)
from migrail.engines.programs import ProgramFailed, lock_wait_seconds, run_program
from migrail.errors import MigrailError

MYSQLDUMP_END = b"-- Dump completed"
SCRATCH = "_migrail_restore"
OLD = "_migrail_old"
LOCK_WAIT_TIMEOUT = 1205  # ER_LOCK_WAIT_TIMEOUT, metadata locks included
SERVER_LOCK_WAIT = 600  # seconds GET_LOCK waits for another migrail sync
DUMP_HEADER = re.compile(r"-- Host: .*?\s+Database: (.*)$")
MIGRATION_ROWS = "INSERT INTO `django_migrations` VALUES"
ROW = re.compile(r"\(\d+,'((?:[^'\\]|\\.)*)','((?:[^'\\]|\\.)*)',")
# What Django's backend and the drivers (mysqlclient, PyMySQL) take in OPTIONS.
DRIVER_OPTIONS = frozenset(
    {
        "isolation_level", "init_command", "charset", "collation", "use_unicode", "sql_mode",
        "host", "user", "passwd", "password", "db", "database", "port", "unix_socket",
        "read_default_file", "read_default_group", "connect_timeout", "read_timeout",
        "write_timeout", "compress", "named_pipe", "client_flag", "ssl", "ssl_mode",
        "ssl_ca", "ssl_cert", "ssl_key", "ssl_key_password", "ssl_disabled",
        "ssl_verify_cert", "ssl_verify_identity", "local_infile", "autocommit", "conv",
        "cursorclass", "binary_prefix", "auth_plugin_map", "server_public_key",
        "bind_address", "defer_connect", "program_name", "max_allowed_packet",
    }
)  # fmt: skip


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "0": "\0"}.get(m[1], m[1]), text)


def mysql_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def mysql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class MysqlEngine(Engine):
    vendor = "mysql"
    backup_suffix = "sql"
    default_port = "3306"
    bounds_lock_waits = True

    def client_command(
        self,
        program: str,
        settings: Mapping[str, Any],
        parameters: Iterable[str] = (),
        *,
        database: str | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """Django's `mysql` line with `program` for `mysql`: its options first
        (`--defaults-file` must be), then `parameters`, then the database; plus
        OPTIONS['unix_socket'], which the driver reads and Django's client does not. The
        programs read what the driver reads, no more: no option file when OPTIONS name
        none (`--no-defaults`), and not MYSQL_HOST (set empty)."""
        from django.db.backends.mysql.client import DatabaseClient

        given = client_settings(settings)
        if database is not None:
            given["NAME"] = database
            given["OPTIONS"].pop("database", None)
            given["OPTIONS"].pop("db", None)
        args, env = DatabaseClient.settings_to_cmd_args_env(given, [])
        flags = [arg for arg in args[1:] if arg.startswith("--")]
        names = [arg for arg in args[1:] if not arg.startswith("--")]
        socket = given["OPTIONS"].get("unix_socket")
        if socket and not any(flag.startswith("--socket=") for flag in flags):
            flags.append(f"--socket={socket}")
        if not _option_files(given["OPTIONS"], {}):
            flags.insert(0, "--no-defaults")  # the driver reads no option file either
        environ = {key: str(value) for key, value in (env or {}).items()}
        environ["MYSQL_HOST"] = ""  # which the programs read and the drivers do not
        return [program, *flags, *parameters, *names], environ

    def dump(
        self, database: Database, settings: Mapping[str, Any], path: Path, out: IO[bytes]
    ) -> None:
        command, env = self.client_command("mysqldump", settings, ["--single-transaction"])
        try:
            run_program(command, env, stdout=out)
        except ProgramFailed as err:
            raise DumpFailed(str(err)) from err

    def dump_problem(self, path: Path) -> str | None:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 4096))
            tail = handle.read()
        lines = [line for line in tail.splitlines() if line.strip()]
        if lines and lines[-1].startswith(MYSQLDUMP_END):
            return None
        return "the dump is incomplete (no `-- Dump completed` at its end)"

    def database_name(self, settings_dict: Mapping[str, Any], env: Mapping[str, str]) -> str:
        """OPTIONS' `database` or `db` over NAME, as Django's backend and client have it."""
        options: Mapping[str, Any] = settings_dict.get("OPTIONS") or {}
        return str(options.get("database", options.get("db", settings_dict.get("NAME"))) or "")

    def connected_database(self, connection: Any) -> str | None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT DATABASE()")
            return str(cursor.fetchone()[0] or "")

    def dump_contents(self, path: Path) -> tuple[str | None, list[set[tuple[str, str]]]]:
        """The `Database:` of mysqldump's header, and the `django_migrations` rows of its
        `INSERT`s."""
        database: str | None = None
        rows: set[tuple[str, str]] = set()
        inserting = False  # within an INSERT of them (a row a line, or all on one)
        with path.open("rb") as dump:
            for raw in dump:
                line = raw.decode(errors="replace").rstrip("\n")
                if database is None and (header := DUMP_HEADER.match(line)):
                    database = header.group(1).rstrip()
                inserting = inserting or line.startswith(MIGRATION_ROWS)
                if inserting:
                    rows |= {(_unquote(app), _unquote(name)) for app, name in ROW.findall(line)}
                    inserting = not line.endswith(";")
        return database, [rows] if rows else []

    def load(self, backup: Backup, settings: Mapping[str, Any]) -> None:
        """The dump loaded into a scratch schema, then every table moved in one `RENAME
        TABLE`; the scratch schema is dropped whatever happens."""
        name = self.database_name(settings, {})
        scratch, old = name[:48] + SCRATCH, name[:52] + OLD

        def mysql(sql: str, database: str = "") -> list[str]:
            line, env = self.client_command(
                "mysql", settings, ["--batch", "--skip-column-names", "-e", sql], database=database
            )
            return run_program(line, env).decode().splitlines()

        def tables(schema: str) -> list[str]:
            return mysql(
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema = {mysql_string(schema)} AND table_type = 'BASE TABLE'"
            )

        charset = mysql(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
            "FROM information_schema.SCHEMATA "
            f"WHERE SCHEMA_NAME = {mysql_string(name)}"
        )
        options = ""
        if charset:
            character_set, collation = charset[0].split("\t")
            options = f" CHARACTER SET {character_set} COLLATE {collation}"
        mysql(f"DROP DATABASE IF EXISTS {mysql_quote(scratch)}")
        mysql(f"CREATE DATABASE {mysql_quote(scratch)}{options}")
        try:
            with backup.path.open("rb") as dump:
                line, env = self.client_command("mysql", settings, database=scratch)
                run_program(line, env, stdin=dump)
            mysql(f"DROP DATABASE IF EXISTS {mysql_quote(old)}; CREATE DATABASE {mysql_quote(old)}")
            moves = [
                f"{mysql_quote(name)}.{mysql_quote(t)} TO {mysql_quote(old)}.{mysql_quote(t)}"
                for t in tables(name)
            ]
            moves += [
                f"{mysql_quote(scratch)}.{mysql_quote(t)} TO {mysql_quote(name)}.{mysql_quote(t)}"
                for t in tables(scratch)
            ]
            if moves:
                mysql("SET FOREIGN_KEY_CHECKS = 0; RENAME TABLE " + ", ".join(moves))
        finally:
            mysql(f"DROP DATABASE IF EXISTS {mysql_quote(scratch)}")
            mysql(f"DROP DATABASE IF EXISTS {mysql_quote(old)}")

    @contextmanager
    def snapshot_steps(
        self, connection: Any, live: str, store: SnapshotStore
    ) -> Iterator[SnapshotSteps]:
        with connection._nodb_cursor() as cursor:
            # A `RENAME TABLE` waits for every session's metadata lock, however old (a shell
            # idle in a transaction): bounded as sync's rollback is.
            cursor.execute("SET SESSION lock_wait_timeout = %s", [lock_wait_seconds()])
            yield MysqlSnapshots(live, store, cursor)

    @contextmanager
    def server_lock(self, connection: Any) -> Iterator[None]:
        name = f"migrail:{connection.settings_dict.get('NAME')}"[:64]
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, %s)", [name, SERVER_LOCK_WAIT])
            if cursor.fetchone()[0] != 1:
                raise MigrailError("timed out waiting for another migrail sync of this database")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [name])

    def session_id(self, cursor: Any) -> int:
        cursor.execute("SELECT CONNECTION_ID()")
        return int(cursor.fetchone()[0])

    def set_lock_timeouts(self, cursor: Any, wait: int) -> list[Any]:
        """`lock_wait_timeout` for metadata locks, `innodb_lock_wait_timeout` for rows."""
        cursor.execute("SELECT @@SESSION.lock_wait_timeout, @@SESSION.innodb_lock_wait_timeout")
        previous = list(cursor.fetchone())
        self.restore_lock_timeouts(cursor, [wait, wait])
        return previous

    def restore_lock_timeouts(self, cursor: Any, previous: list[Any]) -> None:
        cursor.execute(
            "SET SESSION lock_wait_timeout = %s, SESSION innodb_lock_wait_timeout = %s",
            previous,
        )

    def lock_holder(self, cursor: Any, own: int) -> str | None:
        cursor.execute("SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = %s", [own])
        row = cursor.fetchone()
        state = str(row[0] or "") if row else ""
        return f" ({state.lower()})" if "lock" in state.lower() else None

    def is_lock_timeout_error(self, err: BaseException) -> bool:
        return bool(err.args) and err.args[0] == LOCK_WAIT_TIMEOUT

    @contextmanager
    def short_lock_wait(self, cursor: Any) -> Iterator[None]:
        cursor.execute("SELECT @@SESSION.lock_wait_timeout")
        (saved,) = cursor.fetchone()
        cursor.execute("SET SESSION lock_wait_timeout = 1")
        try:
            yield
        finally:
            cursor.execute("SET SESSION lock_wait_timeout = %s", [int(saved)])

    def destinations(
        self, settings_dict: Mapping[str, Any], env: Mapping[str, str]
    ) -> list[Destination]:
        """OPTIONS' host, else HOST (the driver and Django's client alike), else every host
        in the option files the driver or `mysqldump` reads; MYSQL_HOST counts for neither
        (the driver ignores it, the programs are given the host)."""
        options: Mapping[str, Any] = settings_dict.get("OPTIONS") or {}
        unknown = sorted(key for key in options if key not in DRIVER_OPTIONS)
        if unknown:
            return [
                Destination(None, f"OPTIONS[{unknown[0]!r}], which migrail does not understand")
            ]
        if options.get("host"):
            return [Destination(str(options["host"]), "OPTIONS['host']")]
        if settings_dict.get("HOST"):
            return [Destination(str(settings_dict["HOST"]), "HOST")]
        try:
            found = [
                Destination(option.host, option.where)
                for path, required in _option_files(options, env)
                for option in mysql_options.hosts_in(path, required=required)
            ]
        except mysql_options.UnreadableOptionFile as err:
            return [Destination(None, str(err))]
        return found or [Destination("", "no host given")]


def _option_files(options: Mapping[str, Any], env: Mapping[str, str]) -> list[tuple[Path, bool]]:
    """The option files a client reads, each with whether it must exist:
    OPTIONS['read_default_file'] (Django's client gives it to the programs too), or the
    default ones when only a group is named (the programs are told to read none else)."""
    if options.get("read_default_file"):
        return [(Path(str(options["read_default_file"])).expanduser(), True)]
    if options.get("read_default_group"):
        return [(path, False) for path in mysql_options.default_files(env)]
    return []


class MysqlSnapshots(SnapshotSteps):
    """A snapshot is a schema of its own; `RENAME TABLE` moves every table at once across
    schemas; a copy is `SHOW CREATE TABLE` plus `INSERT … SELECT`."""

    vendor = "mysql"

    def _tables(self, schema: str) -> list[str]:
        self.cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
            [schema],
        )
        return [row[0] for row in self.cursor.fetchall()]

    def _schema_exists(self, schema: str) -> bool:
        self.cursor.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema]
        )
        return self.cursor.fetchone() is not None

    def refusal(self, *, terminate_others: bool = False) -> str | None:
        found = []
        for what, sql in (
            ("view", "SELECT table_name FROM information_schema.views WHERE table_schema = %s"),
            (
                "trigger",
                "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = %s",
            ),
            (
                "routine",
                "SELECT routine_name FROM information_schema.routines WHERE routine_schema = %s",
            ),
        ):
            self.cursor.execute(sql, [self.live])
            found += [f"{what} {row[0]}" for row in self.cursor.fetchall()]
        if found:
            return (
                f"schema {self.live!r} has {', '.join(found)}; migrail moves tables between "
                "schemas and cannot move those, so it takes no snapshot of it"
            )
        return None

    def exists(self, snapshot: Snapshot) -> bool:
        return self._schema_exists(self.place(snapshot))

    def statements_running(self, names: set[str]) -> int:
        self.cursor.execute(
            "SELECT info FROM information_schema.processlist "
            "WHERE id <> CONNECTION_ID() AND info IS NOT NULL"
        )
        return sum(any(n in str(row[0]) for n in names) for row in self.cursor.fetchall())

    def size(self, snapshot: Snapshot) -> int | None:
        if not self.exists(snapshot):
            return None
        self.cursor.execute(
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
            "WHERE table_schema = %s",
            [self.place(snapshot)],
        )
        return int(self.cursor.fetchone()[0])

    def save_steps(self, snapshot: Snapshot) -> list[Step]:
        return [["copy", self.live, self.place(snapshot)]]

    def swap_steps(self, save_as: Snapshot, restore: Snapshot) -> list[Step]:
        return [
            ["drop", self.place(save_as)],
            ["create", self.place(save_as), self.live],
            ["move", self.live, self.place(save_as)],
            ["move", self.place(restore), self.live],
            ["drop", self.place(restore)],
        ]

    def restore_copy_steps(self, snapshot: Snapshot) -> list[Step]:
        return [["copy", self.place(snapshot), self.live]]

    def run(self, step: Step) -> None:
        op, *names = step
        if op == "drop":
            self.cursor.execute(f"DROP DATABASE IF EXISTS {mysql_quote(names[0])}")
        elif op == "create":
            self._create_like(*names)
        elif op == "move":
            source, target = names
            tables = self._tables(source)
            if tables and self._tables(target):
                raise StepBlocked(source, target)  # made again since: neither is lost
            if tables:  # one statement: MariaDB and MySQL rename them all or none
                self.cursor.execute(
                    "RENAME TABLE "
                    + ", ".join(
                        f"{mysql_quote(source)}.{mysql_quote(t)} TO "
                        f"{mysql_quote(target)}.{mysql_quote(t)}"
                        for t in tables
                    )
                )
        elif op == "copy":
            self._copy(*names)
        else:
            raise MigrailError(f"unknown snapshot step {step!r}")

    def _create_like(self, schema: str, like: str) -> None:
        self.cursor.execute(
            "SELECT default_character_set_name, default_collation_name "
            "FROM information_schema.schemata WHERE schema_name = %s",
            [like],
        )
        row = self.cursor.fetchone()
        options = f" CHARACTER SET {row[0]} COLLATE {row[1]}" if row else ""
        self.cursor.execute(f"CREATE DATABASE IF NOT EXISTS {mysql_quote(schema)}{options}")

    def _copy(self, source: str, target: str) -> None:
        """Drop `target`, then rebuild it table by table from `source` (constraints included)."""
        self.cursor.execute(f"DROP DATABASE IF EXISTS {mysql_quote(target)}")
        self._create_like(target, source)
        self.cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        try:
            self.cursor.execute(f"USE {mysql_quote(target)}")
            for table in self._tables(source):
                qualified = f"{mysql_quote(source)}.{mysql_quote(table)}"
                self.cursor.execute(f"SHOW CREATE TABLE {qualified}")
                self.cursor.execute(self.cursor.fetchone()[1])  # names resolve in `target`
                self.cursor.execute(
                    f"INSERT INTO {mysql_quote(target)}.{mysql_quote(table)} "
                    f"SELECT * FROM {qualified}"
                )
        finally:
            self.cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
