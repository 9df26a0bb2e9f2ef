"""Copy, park and un-park a database, per engine, as journalled steps.

PostgreSQL: `CREATE DATABASE … TEMPLATE` copies, `ALTER DATABASE … RENAME` parks and
un-parks (no copy, whatever the size); both need nobody else connected.
MySQL/MariaDB: a schema per snapshot; `RENAME TABLE` moves every table at once
across schemas; a copy is `SHOW CREATE TABLE` plus `INSERT … SELECT`.
SQLite: the online backup API, both ways (safe while a dev server holds the file).

A step is a JSON list (`["rename", "a", "b"]`) so the journal can replay it; each
one can run again after a kill and reach the same end.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migrail.database.client_programs import lock_wait_seconds
from migrail.database.lock_wait import is_lock_timeout
from migrail.database.snapshot_store import Identity, Snapshot, SnapshotStore
from migrail.errors import MigrailError

NOTICE_AFTER = 2.0  # seconds a copy waits for a lock before it says so
SQLITE_BUSY, SQLITE_LOCKED = 5, 6  # result codes (the module names them from Python 3.11)

Step = list[str]
FILE_COPY_FROM = 256 * 1024 * 1024  # bytes: PostgreSQL copies larger databases file by file
SESSION_GRACE = 1.0  # seconds PostgreSQL sessions get to go away before a copy or rename
SETTLE_WAIT = 60.0  # seconds a replay waits for a killed run's copy still on the server


class SnapshotUnavailable(MigrailError):
    """No snapshot can be taken or restored now; the database is as it was."""


class CopyGaveUp(SnapshotUnavailable):
    """A copy into the live database waited too long for a lock and wrote nothing: the
    steps before it only made copies, which are undone."""


def pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def mysql_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class Engine:
    """The steps for one database; `run` carries out one step."""

    vendor = ""

    def __init__(self, live: str, store: SnapshotStore, cursor: Any) -> None:
        self.live = live
        self.store = store
        self.cursor = cursor

    def place(self, snapshot: Snapshot) -> str:
        return snapshot.object_name

    def refusal(self, *, terminate_others: bool = False) -> str | None:
        return None

    def exists(self, snapshot: Snapshot) -> bool:
        raise NotImplementedError

    def size(self, snapshot: Snapshot) -> int | None:
        raise NotImplementedError

    def save_steps(self, snapshot: Snapshot) -> list[Step]:
        """Copy the live database into `snapshot`; the live one goes on as it is."""
        return [["drop", self.place(snapshot)], ["copy", self.live, self.place(snapshot)]]

    def swap_steps(self, save_as: Snapshot, restore: Snapshot) -> list[Step]:
        """Park the live database as `save_as`, un-park `restore` as the live one."""
        raise NotImplementedError

    def restore_copy_steps(self, snapshot: Snapshot) -> list[Step]:
        """Replace the live database by a copy of `snapshot`, which is kept."""
        return [["drop", self.live], ["copy", self.place(snapshot), self.live]]

    def drop_steps(self, snapshot: Snapshot) -> list[Step]:
        return [["drop", self.place(snapshot)]]

    def run(self, step: Step) -> None:
        raise NotImplementedError

    def statements_running(self, names: set[str]) -> int:
        """Other sessions' statements naming one of `names` (a killed run's, which the server
        carries on with after its client is gone)."""
        return 0

    def settle(self, steps: list[Step]) -> None:
        """Before replaying a journal: wait, up to SETTLE_WAIT, for a killed run's statement
        still running on the server, so its steps are seen done or not done, not halfway."""
        names = {name for step in steps for name in step[1:]}
        deadline = time.monotonic() + SETTLE_WAIT
        while self.statements_running(names) and time.monotonic() < deadline:
            time.sleep(0.05)


# Client sessions in database %s other than this one.
OTHER_SESSIONS = (
    "FROM pg_stat_activity WHERE datname = %s "
    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


class PostgresEngine(Engine):
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
        elif op == "rename":
            source, target = names
            if self._exists(source) and not self._exists(target):
                self.cursor.execute(
                    f"ALTER DATABASE {pg_quote(source)} RENAME TO {pg_quote(target)}"
                )
            elif not self._exists(target):
                raise MigrailError(f"neither database {source!r} nor {target!r} exists")
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


class MysqlEngine(Engine):
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


class SqliteEngine(Engine):
    vendor = "sqlite"

    def place(self, snapshot: Snapshot) -> str:
        return str(self.store.file_for(snapshot))

    def refusal(self, *, terminate_others: bool = False) -> str | None:
        if self.live in ("", ":memory:") or self.live.startswith("file:"):
            return f"database {self.live!r} is not a file"
        return None

    def exists(self, snapshot: Snapshot) -> bool:
        return Path(self.place(snapshot)).is_file()

    def size(self, snapshot: Snapshot) -> int | None:
        path = Path(self.place(snapshot))
        return path.stat().st_size if path.is_file() else None

    def save_steps(self, snapshot: Snapshot) -> list[Step]:
        return [["copy", self.live, self.place(snapshot)]]

    def swap_steps(self, save_as: Snapshot, restore: Snapshot) -> list[Step]:
        return [
            ["copy", self.live, self.place(save_as)],
            ["copy", self.place(restore), self.live],
            ["drop", self.place(restore)],
        ]

    def restore_copy_steps(self, snapshot: Snapshot) -> list[Step]:
        return [["copy", self.place(snapshot), self.live]]

    def run(self, step: Step) -> None:
        op, *names = step
        if op == "drop":
            Path(names[0]).unlink(missing_ok=True)
        elif op == "copy":
            self._copy(*names)
        else:
            raise MigrailError(f"unknown snapshot step {step!r}")

    def _copy(self, source: str, target: str) -> None:
        """The online backup API, then one fsync: the journal's order makes it safe.

        Into the live file, its rollback journal is kept (another process never sees a
        half-copied file, and a kill rolls back) but not fsync'd (`synchronous=OFF`);
        into a new snapshot file, no journal at all. Either way an OS crash mid-copy
        leaves a step the snapshot journal, fsync'd before it, runs again.
        """
        fresh = not Path(target).exists() or Path(target).stat().st_size == 0
        if fresh:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
        source_db = sqlite3.connect(source)
        # Into the live file: poll for its lock ourselves (say so, give up in time).
        target_db = sqlite3.connect(target, timeout=0.2 if target == self.live else 30)
        try:
            target_db.execute("PRAGMA synchronous = OFF")
            if fresh and target != self.live:
                target_db.execute("PRAGMA journal_mode = OFF")
            with target_db:
                progress = _LockWait(target) if target == self.live else None
                source_db.backup(target_db, progress=progress)
        finally:
            source_db.close()
            target_db.close()
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _LockWait:
    """The backup's progress callback: one notice after `NOTICE_AFTER` s waiting for another
    connection's lock, and `CopyGaveUp` after `MIGRAIL_LOCK_WAIT` s (the copy is all pages
    in one step, so until it gets the lock it has written nothing)."""

    def __init__(self, database: str) -> None:
        from migrail.database.client_programs import lock_wait_seconds

        self.database = database
        self.wait = lock_wait_seconds()
        self.started = time.monotonic()
        self.told = False

    def __call__(self, status: int, remaining: int, total: int) -> None:
        if status not in (SQLITE_BUSY, SQLITE_LOCKED):
            return
        waited = time.monotonic() - self.started
        if waited >= self.wait:
            raise CopyGaveUp(
                f"the copy into {self.database!r} waited {self.wait}s (MIGRAIL_LOCK_WAIT) for "
                "another connection's transaction; nothing was changed"
            )
        if waited >= NOTICE_AFTER and not self.told:
            self.told = True
            print(
                f"migrail: the snapshot copy is waiting for another connection to database "
                f"{self.database!r} (a shell or server in an open transaction?); giving up "
                f"after {self.wait}s (MIGRAIL_LOCK_WAIT)",
                flush=True,
            )


@contextmanager
def open_engine(connection: Any, store: SnapshotStore) -> Iterator[Engine]:
    """The engine for Django's `connection`, which is closed first: renames need it gone."""
    live = str(connection.settings_dict.get("NAME") or "")
    connection.close()
    if connection.vendor == "sqlite":
        yield SqliteEngine(live, store, None)
        return
    kinds: dict[str, type[Engine]] = {"postgresql": PostgresEngine, "mysql": MysqlEngine}
    kind = kinds.get(connection.vendor)
    if kind is None:
        raise SnapshotUnavailable(f"migrail takes no snapshots of {connection.vendor} databases")
    with connection._nodb_cursor() as cursor:
        if connection.vendor == "mysql":
            # A `RENAME TABLE` waits for every session's metadata lock, however old (a shell
            # idle in a transaction): bounded as sync's rollback is.
            cursor.execute("SET SESSION lock_wait_timeout = %s", [lock_wait_seconds()])
        yield kind(live, store, cursor)


def run_journalled(
    engine: Engine,
    store: SnapshotStore,
    identity: Identity,
    steps: list[Step],
    *,
    record: Snapshot | None = None,
    forget: list[str] | None = None,
) -> None:
    """Write the journal, run each step, update the catalogue, clear the journal.

    A step that fails while only old snapshots were dropped ends cleanly
    (`SnapshotUnavailable`); later, the journal stays for the next run to finish.
    """
    from dataclasses import asdict

    journal: dict[str, Any] = {
        "vendor": engine.vendor,
        "steps": steps,
        "done": 0,
        "record": asdict(record) if record else None,
        "forget": forget or [],
    }
    store.write_journal(identity, journal)
    for number, step in enumerate(steps):
        try:
            engine.run(step)
        except Exception as err:
            gave_up = isinstance(err, CopyGaveUp)  # the steps before it only made copies
            if is_lock_timeout(err) and all(e[0] in ("drop", "create") for e in steps[:number]):
                err = CopyGaveUp(  # nothing moved yet: a RENAME TABLE is all or nothing
                    f"another session holds a lock on a table of database {identity.name!r} (a "
                    f"shell or server in an open transaction?), and migrail gave up after "
                    f"{lock_wait_seconds()}s (MIGRAIL_LOCK_WAIT)"
                )
                gave_up = True
            if gave_up or all(earlier[0] == "drop" for earlier in steps[:number]):
                if record is not None:  # the snapshot it replaced is gone or torn
                    engine.run(["drop", engine.place(record)])
                    store.forget([record.id])
                store.clear_journal(identity)
                if gave_up:
                    raise err from None
                raise SnapshotUnavailable(f"{type(err).__name__}: {err}".strip()) from err
            raise MigrailError(
                f"a snapshot switch of database {identity.describe()} stopped at step "
                f"{number + 1} of {len(steps)} ({err}); run `migrail sync` to finish it"
            ) from err
        journal["done"] = number + 1
        store.write_journal(identity, journal)
    _finish(store, identity, journal)


def finish_journal(engine: Engine, store: SnapshotStore, identity: Identity) -> bool:
    """Carry out what an interrupted run left in the journal; False when there was none."""
    journal = store.read_journal(identity)
    if journal is None:
        return False
    steps: list[Step] = journal["steps"]
    engine.settle(steps[int(journal["done"]) :])
    for number in range(int(journal["done"]), len(steps)):
        engine.run(steps[number])
        journal["done"] = number + 1
        store.write_journal(identity, journal)
    _finish(store, identity, journal)
    return True


def _finish(store: SnapshotStore, identity: Identity, journal: dict[str, Any]) -> None:
    from migrail.database.snapshot_store import snapshot_from_json

    store.forget(list(journal["forget"]))
    if journal["record"]:
        store.record(snapshot_from_json(journal["record"]))
    store.clear_journal(identity)
