"""PostgreSQL: `pg_dump -Fc` backups checked by `pg_restore` reading the whole archive and
loaded into a scratch database renamed into place; snapshots by `CREATE DATABASE …
TEMPLATE` and `ALTER DATABASE … RENAME` (both need nobody else connected); the
advisory lock, `lock_timeout`, `pg_blocking_pids`; libpq's idea of the host."""

from __future__ import annotations

import os
import re
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from migrail.engines import libpq
from migrail.engines.base import (
    Backup,
    Database,
    DatabaseInUse,
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

COPY_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
SCRATCH = "_migrail_restore"
OLD = "_migrail_old"
LOCK_TIMEOUT = "55P03"  # SQLSTATE lock_not_available
CONNECTION_FLAGS = ("-U", "-h", "-p")  # what Django's client puts before the database name
# Settings Django's client reads at the top level only, and the driver from OPTIONS as well.
FROM_OPTIONS = (("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("PASSWORD", "password"))
# The libpq parameters Django's client passes on (as flags, the database or the environment).
CLIENT_READS = frozenset(
    {"host", "port", "user", "password", "dbname", "service", "passfile"}
    | {"sslmode", "sslrootcert", "sslcert", "sslkey"}
)
CONNECTION_STRING_ORIGINS = tuple(f"OPTIONS[{key!r}]" for key in libpq.CONNECTION_STRINGS)
FILE_COPY_FROM = 256 * 1024 * 1024  # bytes: PostgreSQL copies larger databases file by file
SESSION_GRACE = 1.0  # seconds PostgreSQL sessions get to go away before a copy or rename
# Client sessions in database %s other than this one.
OTHER_SESSIONS = (
    "FROM pg_stat_activity WHERE datname = %s "
    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


def pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresqlEngine(Engine):
    vendor = "postgresql"
    backup_suffix = "dump"
    default_port = "5432"
    bounds_lock_waits = True

    def client_command(
        self,
        program: str,
        settings: Mapping[str, Any],
        parameters: Iterable[str] = (),
        *,
        database: str | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """Django's `psql` line with `program` for `psql`, the database as `-d` (pg_restore
        takes its archive where psql takes the database). OPTIONS' host, port, user and
        password count where the top-level setting is empty, as they do for the driver;
        what else the driver passes libpq (a `conninfo` string's parameters, `hostaddr`,
        any other libpq option) goes in a connection string given as `-d`, the password
        always through the environment."""
        from django.db.backends.postgresql.client import DatabaseClient

        given = client_settings(settings)
        for key, option in FROM_OPTIONS:
            if not given[key] and given["OPTIONS"].get(option):
                given[key] = given["OPTIONS"][option]
        if database is not None:
            given["NAME"] = database
        args, env = DatabaseClient.settings_to_cmd_args_env(given, [])
        connection, rest = [], list(args[1:])
        while len(rest) >= 2 and rest[0] in CONNECTION_FLAGS:
            connection += rest[:2]
            rest = rest[2:]
        environ = {key: str(value) for key, value in (env or {}).items()}
        extra = _not_in_client(settings)
        if database is not None:
            extra.pop("dbname", None)
        if "password" in extra and "PGPASSWORD" not in environ:
            environ["PGPASSWORD"] = extra["password"]
        extra.pop("password", None)
        if extra:
            rest = [conninfo({**({"dbname": rest[0]} if rest else {}), **extra})]
        named = ["-d", *rest] if rest else []
        return [program, *connection, *named, *parameters], environ

    def dump(
        self, database: Database, settings: Mapping[str, Any], path: Path, out: IO[bytes]
    ) -> None:
        wait = lock_wait_seconds()
        command, env = self.client_command(
            "pg_dump", settings, ["-Fc", f"--lock-wait-timeout={wait}s"]
        )
        notice = (
            f"migrail: waiting for pg_dump of database {database.alias!r}: another session "
            f"holds a lock on a table (migrail gives up after {wait}s)"
        )
        try:
            run_program(command, env, stdout=out, slow_notice=notice)
        except ProgramFailed as err:
            if "could not obtain lock" in err.stderr or "statement timeout" in err.stderr:
                raise DumpFailed(f"another session held a table locked for {wait}s") from err
            raise DumpFailed(str(err)) from err

    def dump_problem(self, path: Path) -> str | None:
        try:
            run_program(["pg_restore", "--file=/dev/null", str(path)], {})
        except ProgramFailed as err:
            return f"pg_restore cannot read it ({str(err).removeprefix('pg_restore failed: ')})"
        return None

    def connected_database(self, connection: Any) -> str | None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            return str(cursor.fetchone()[0])

    def dump_contents(self, path: Path) -> tuple[str | None, list[set[tuple[str, str]]]]:
        """The archive's `dbname` (`pg_restore -l`), and its `django_migrations` tables."""
        listing = run_program(["pg_restore", "--list", str(path)], {}).decode(errors="replace")
        names = [
            line.split(":", 1)[1].strip()
            for line in listing.splitlines()
            if line.startswith(";     dbname:")
        ]
        data = run_program(
            ["pg_restore", "--data-only", "--table=django_migrations", "--file=-", str(path)], {}
        ).decode(errors="replace")
        return (names[0] if names else None), _copied_migrations(data)

    def load(self, backup: Backup, settings: Mapping[str, Any]) -> None:
        """`pg_restore` into a scratch database, then both renamed in one transaction."""
        name = self.database_name(settings, os.environ)
        scratch, old = name[:47] + SCRATCH, name[:51] + OLD

        def psql(*commands: str) -> None:
            args = [arg for command in commands for arg in ("-c", command)]
            line, env = self.client_command(
                "psql", settings, ["-X", "-q", "-v", "ON_ERROR_STOP=1", *args], database="postgres"
            )
            run_program(line, env)

        psql(f"DROP DATABASE IF EXISTS {pg_quote(scratch)}", f"CREATE DATABASE {pg_quote(scratch)}")
        try:
            line, env = self.client_command(
                "pg_restore",
                settings,
                ["--exit-on-error", "--single-transaction", "--no-owner", str(backup.path)],
                database=scratch,
            )
            run_program(line, env)
            swap = (
                f"BEGIN; ALTER DATABASE {pg_quote(name)} RENAME TO {pg_quote(old)}; "
                f"ALTER DATABASE {pg_quote(scratch)} RENAME TO {pg_quote(name)}; COMMIT;"
            )
            try:
                psql(swap)
            except ProgramFailed as err:
                if "being accessed by other users" in err.stderr:
                    raise DatabaseInUse(str(err)) from err
                raise
        except BaseException:
            psql(f"DROP DATABASE IF EXISTS {pg_quote(scratch)}")
            raise
        psql(f"DROP DATABASE IF EXISTS {pg_quote(old)}")

    @contextmanager
    def snapshot_steps(
        self, connection: Any, live: str, store: SnapshotStore
    ) -> Iterator[SnapshotSteps]:
        with connection._nodb_cursor() as cursor:
            yield PostgresSnapshots(live, store, cursor)

    @contextmanager
    def server_lock(self, connection: Any) -> Iterator[None]:
        key = _lock_key(connection)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])

    def session_id(self, cursor: Any) -> int:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])

    def set_lock_timeouts(self, cursor: Any, wait: int) -> list[Any]:
        cursor.execute("SELECT current_setting('lock_timeout')")
        previous = [cursor.fetchone()[0]]
        cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{wait}s"])
        return previous

    def restore_lock_timeouts(self, cursor: Any, previous: list[Any]) -> None:
        cursor.execute("SELECT set_config('lock_timeout', %s, false)", previous)

    def lock_holder(self, cursor: Any, own: int) -> str | None:
        cursor.execute(
            "SELECT pid, state FROM pg_stat_activity "
            "WHERE pid = ANY(pg_blocking_pids(%s)) ORDER BY pid",
            [own],
        )
        rows = cursor.fetchall()
        if not rows:
            return None
        pid, state = rows[0]
        more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
        return f" (pid {pid}, {state or 'unknown state'}{more})"

    def is_lock_timeout_error(self, err: BaseException) -> bool:
        return LOCK_TIMEOUT in (getattr(err, "sqlstate", None), getattr(err, "pgcode", None))

    @contextmanager
    def short_lock_wait(self, cursor: Any) -> Iterator[None]:
        cursor.execute("SET lock_timeout = '1s'")
        try:
            yield
        finally:
            cursor.execute("RESET lock_timeout")

    def destinations(
        self, settings_dict: Mapping[str, Any], env: Mapping[str, str]
    ) -> list[Destination]:
        """libpq's host and hostaddr (both must be local), from the driver's parameters,
        then the service file's, then the environment's; a NAME that PostgreSQL's programs
        would read as a connection string counts as one more place they could go."""
        try:
            params = libpq.resolve(settings_dict, env)
        except libpq.Unresolvable as err:
            return [Destination(None, str(err))]
        places = [Destination(params.get("host"), params.origins.get("host", "PGHOST"))]
        if params.get("hostaddr"):
            places.append(Destination(params.get("hostaddr"), params.origins["hostaddr"]))
        if _reads_as_conninfo(params.get("dbname")):
            places.append(Destination(None, f"{params.origins['dbname']} {params.get('dbname')!r}"))
        return places

    def database_name(self, settings_dict: Mapping[str, Any], env: Mapping[str, str]) -> str:
        try:
            return libpq.database_name(libpq.resolve(settings_dict, env), env)
        except libpq.Unresolvable:
            return str(settings_dict.get("NAME") or "")


def _not_in_client(settings: Mapping[str, Any]) -> dict[str, str]:
    """The libpq parameters the driver passes that Django's client leaves out: every one
    from a connection string, and OPTIONS it does not read."""
    params = libpq.driver_parameters(settings, strict=False)  # allow_remote_databases
    return {
        key: value
        for key, value in params.values.items()
        if key not in CLIENT_READS or params.origins[key].startswith(CONNECTION_STRING_ORIGINS)
    }


def conninfo(values: Mapping[str, str]) -> str:
    """A libpq `key='value'` connection string."""
    quoted = (value.replace("\\", "\\\\").replace("'", "\\'") for value in values.values())
    return " ".join(f"{key}='{value}'" for key, value in zip(values, quoted, strict=True))


def _copied_migrations(script: str) -> list[set[tuple[str, str]]]:
    """(app, name) of the rows of each `COPY schema.django_migrations (id, app, name, …)`:
    one table a schema (django-tenants has one in each)."""
    tables: list[set[tuple[str, str]]] = []
    copying = False
    for line in script.splitlines():
        if line.startswith("COPY ") and "django_migrations (id, app, name," in line:
            copying = True
            tables.append(set())
        elif copying and line == "\\.":
            copying = False
        elif copying:
            fields = line.split("\t")
            if len(fields) >= 3:
                tables[-1].add((_unescape(fields[1]), _unescape(fields[2])))
    return tables


def _unescape(field: str) -> str:
    """A COPY text field: backslash escapes undone (migration names rarely have any)."""
    return re.sub(r"\\(.)", lambda m: COPY_ESCAPES.get(m.group(1), m.group(1)), field)


def _reads_as_conninfo(name: str) -> bool:
    return "=" in name or name.startswith(("postgresql://", "postgres://"))


def _lock_key(connection: Any) -> int:
    return zlib.crc32(f"migrail:{connection.settings_dict.get('NAME')}".encode())


class PostgresSnapshots(SnapshotSteps):
    """A snapshot is a database of its own: copied by TEMPLATE, parked by RENAME."""

    vendor = "postgresql"

    def _exists(self, name: str) -> bool:
        self.cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return self.cursor.fetchone() is not None

    def statements_running(self, names: set[str]) -> int:
        self.cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active'"
        )
        return sum(any(n in str(row[0]) for n in names) for row in self.cursor.fetchall())

    def others_connected(self, name: str) -> int:
        self.cursor.execute(f"SELECT count(*) {OTHER_SESSIONS}", [name])
        return int(self.cursor.fetchone()[0])

    def _others_once_settled(self) -> int:
        """Other sessions, given up to SESSION_GRACE to go: a client that just closed (or a
        session just ended) has a server process that outlives it for a moment."""
        others = self.others_connected(self.live)
        deadline = time.monotonic() + SESSION_GRACE
        while others and time.monotonic() < deadline:
            time.sleep(0.05)
            others = self.others_connected(self.live)
        return others

    def refusal(self, *, terminate_others: bool = False) -> str | None:
        others = self._others_once_settled()
        if others and terminate_others:
            self.cursor.execute(
                f"SELECT count(pg_terminate_backend(pid)) {OTHER_SESSIONS}", [self.live]
            )
            print(
                f"migrail: ended {others} other session(s) of database {self.live!r} "
                "(snapshot_terminate_sessions = true)"
            )
            others = self._others_once_settled()
        if others:
            return (
                f"database {self.live!r} is open in {others} other session(s) (a dev server?); "
                "PostgreSQL copies or renames a database only when nobody is connected to it"
            )
        return None

    def snapshot_in_use(self, snapshot: Snapshot) -> str | None:
        name = self.place(snapshot)
        others = self.others_connected(name)
        if not others:
            return None
        return (
            f"its copy {name!r} is open in {others} other session(s); PostgreSQL renames a "
            "database only when nobody is connected to it"
        )

    def exists(self, snapshot: Snapshot) -> bool:
        return self._exists(self.place(snapshot))

    def size(self, snapshot: Snapshot) -> int | None:
        if not self.exists(snapshot):
            return None
        self.cursor.execute("SELECT pg_database_size(%s)", [self.place(snapshot)])
        return int(self.cursor.fetchone()[0])

    def swap_steps(self, save_as: Snapshot, restore: Snapshot) -> list[Step]:
        return [
            ["drop", self.place(save_as)],
            ["rename", self.live, self.place(save_as)],
            ["rename", self.place(restore), self.live],
        ]

    def run(self, step: Step) -> None:
        op, *names = step
        if op == "drop":
            self.cursor.execute(f"DROP DATABASE IF EXISTS {pg_quote(names[0])}")
        elif op == "copy":
            source, target = names
            if not self._exists(target):
                self.cursor.execute(
                    f"CREATE DATABASE {pg_quote(target)} TEMPLATE {pg_quote(source)}"
                    + self._strategy(source)
                )
        elif op == "create":  # an empty database (a worktree's, when no copy can be made)
            if not self._exists(names[0]):
                self.cursor.execute(f"CREATE DATABASE {pg_quote(names[0])}")
        elif op == "rename":
            source, target = names
            if self._exists(source) and not self._exists(target):
                self.cursor.execute(
                    f"ALTER DATABASE {pg_quote(source)} RENAME TO {pg_quote(target)}"
                )
            elif not self._exists(target):
                raise MigrailError(f"neither database {source!r} nor {target!r} exists")
            elif self._exists(source):
                raise StepBlocked(source, target)  # made again since: neither is lost
        else:
            raise MigrailError(f"unknown snapshot step {step!r}")

    def _strategy(self, source: str) -> str:
        """PostgreSQL 15+ copies a large database faster file by file (after a checkpoint)
        than through the WAL, its default; measured: 1 GB 1.4-1.5 s against 2.2-3.7 s,
        100 MB about even."""
        self.cursor.execute(
            "SELECT current_setting('server_version_num')::int >= 150000 "
            "AND pg_database_size(%s) >= %s",
            [source, FILE_COPY_FROM],
        )
        return " STRATEGY FILE_COPY" if self.cursor.fetchone()[0] else ""
