"""What every engine does, and what it says about itself: the roles, with shared helpers.

An `Engine` is chosen by Django's `connection.vendor` (see `engines.engine_for`). Each role
method is one job the sync core and the snapshot feature hand to the engine: dump, verify
and load a backup; copy, park and drop a snapshot (`SnapshotSteps`); the server's advisory
lock; a bounded lock wait and who holds the lock; whether tables hold rows; where the
server is; and the command line of the server's client programs.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from migrail.errors import MigrailError

LOCAL_HOSTS = frozenset({"", "localhost", "localhost.localdomain"})
SETTLE_WAIT = 60.0  # seconds a replay waits for a killed run's copy still on the server

Step = list[str]


class Database(Protocol):
    """What an engine reads of a `DatabaseIdentity` (kept apart: identity imports engines)."""

    @property
    def alias(self) -> str: ...


class Backup(Protocol):
    """What an engine reads of a `backup.Backup`."""

    @property
    def path(self) -> Path: ...

    @property
    def name(self) -> str: ...


class Snapshot(Protocol):
    """What an engine reads of a `snapshot_store.Snapshot`."""

    @property
    def object_name(self) -> str: ...


class SnapshotStore(Protocol):
    """What an engine reads of a `snapshot_store.SnapshotStore`."""

    def file_for(self, snapshot: Any) -> Path: ...


class UnknownEngine(MigrailError):
    """No engine for this vendor: migrail knows SQLite, PostgreSQL and MySQL/MariaDB."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        super().__init__(
            f"migrail does not work with {vendor!r} databases "
            "(it knows sqlite, postgresql and mysql)"
        )


class DumpFailed(MigrailError):
    """A dump did not finish; `cause` says why, for the caller's one line."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(cause)


class DatabaseInUse(MigrailError):
    """A load cannot replace the database: another session has it open. Nothing changed."""


class SnapshotUnavailable(MigrailError):
    """No snapshot can be taken or restored now; the database is as it was."""


class StepBlocked(MigrailError):
    """A step's target holds something made since the run that wrote the journal (a database
    created again after a killed switch): the step would lose one of the two, so it stops."""

    def __init__(self, source: str, target: str) -> None:
        self.source, self.target = source, target
        super().__init__(
            f"{target!r} exists again (made since the switch stopped?), while {source!r}, "
            "which was to move there, still holds its data"
        )


class CopyGaveUp(SnapshotUnavailable):
    """A copy into the live database waited too long for a lock and wrote nothing: the
    steps before it only made copies, which are undone."""


@dataclass(frozen=True)
class Destination:
    """Where the driver would connect: a host (or None when unknown) and where that came from."""

    host: str | None
    origin: str

    @property
    def is_local(self) -> bool:
        return self.host is not None and all(
            is_local_host(part.strip()) for part in self.host.split(",")
        )


def is_local_host(host: str) -> bool:
    """This machine: no host (the default socket), a socket path, `localhost` in any case,
    a loopback or unspecified address in any spelling a resolver takes (`127.1`,
    `::ffff:127.0.0.1`, `0.0.0.0`)."""
    if host.lower() in LOCAL_HOSTS or host.startswith(("/", "@")):
        return True
    address = _address(host.strip("[]"))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and (address.is_loopback or address.is_unspecified)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or not all(c.isalnum() or c == "." for c in host):
        return None
    import socket  # here: a switch of SQLite databases never asks

    try:  # the classic forms getaddrinfo also takes: 127.1, 0x7f.0.0.1, 2130706433
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def client_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` with every key Django's `settings_to_cmd_args_env` reads, as a configured
    connection's `settings_dict` has them."""
    given = {"NAME": "", "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", **settings}
    given["OPTIONS"] = dict(settings.get("OPTIONS") or {})
    return given


class SnapshotSteps:
    """The snapshot steps for one database; `run` carries out one step.

    A step is a JSON list (`["rename", "a", "b"]`) so the journal can replay it; each
    one can run again after a kill and reach the same end.
    """

    vendor = ""

    def __init__(self, live: str, store: SnapshotStore, cursor: Any) -> None:
        self.live = live
        self.store = store
        self.cursor = cursor

    def place(self, snapshot: Snapshot) -> str:
        return snapshot.object_name

    def refusal(self, *, terminate_others: bool = False) -> str | None:
        return None

    def snapshot_in_use(self, snapshot: Snapshot) -> str | None:
        """Why `snapshot` cannot be moved into place now (a session in it), or None."""
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


class Engine:
    """One database engine's rules. The defaults are an engine without a server (SQLite)."""

    vendor = ""
    backup_suffix = ""
    default_port = ""
    stores_in_file = False  # the database is a file on this machine, named by NAME
    bounds_lock_waits = False  # the server can be told to give up on a lock (lock wait role)

    # -- client programs -------------------------------------------------------------

    def client_command(
        self,
        program: str,
        settings: Mapping[str, Any],
        parameters: Iterable[str] = (),
        *,
        database: str | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """`program`'s command line and extra environment for `settings`, built by Django's
        own `DatabaseClient.settings_to_cmd_args_env` as `manage.py dbshell` builds them.
        `database` replaces NAME (`""`: none, where the program allows it)."""
        raise MigrailError(f"{self.vendor} databases have no client programs")

    # -- backups ---------------------------------------------------------------------

    def dump(
        self, database: Database, settings: Mapping[str, Any], path: Path, out: IO[bytes]
    ) -> None:
        """Write a dump of the database to `out` (the open file at `path`); `DumpFailed`."""
        raise NotImplementedError

    def dump_problem(self, path: Path) -> str | None:
        """Why the dump at `path` cannot be restored, or None (the checksum is checked apart)."""
        raise NotImplementedError

    def load(self, backup: Backup, settings: Mapping[str, Any]) -> None:
        """Put a verified backup back; a load that fails leaves the database as it was."""
        raise NotImplementedError

    # -- snapshots -------------------------------------------------------------------

    @contextmanager
    def snapshot_steps(
        self, connection: Any, live: str, store: SnapshotStore
    ) -> Iterator[SnapshotSteps]:
        """The steps for `live`, on a server cursor of their own where the engine has one."""
        raise SnapshotUnavailable(f"migrail takes no snapshots of {self.vendor} databases")
        yield  # pragma: no cover

    # -- locks -----------------------------------------------------------------------

    @contextmanager
    def server_lock(self, connection: Any) -> Iterator[None]:
        """The server's advisory lock for migrail on this database, where it has one."""
        yield

    def session_id(self, cursor: Any) -> int:
        raise NotImplementedError

    def set_lock_timeouts(self, cursor: Any, wait: int) -> list[Any]:
        """Give up on another session's lock after `wait` seconds; return what to restore."""
        raise NotImplementedError

    def restore_lock_timeouts(self, cursor: Any, previous: list[Any]) -> None:
        raise NotImplementedError

    def lock_holder(self, cursor: Any, own: int) -> str | None:
        """None when session `own` waits for no lock; else the holder, described (may be "")."""
        return None

    def is_lock_timeout_error(self, err: BaseException) -> bool:
        """Whether `err` itself (not its causes) is this server giving up on a lock."""
        return False

    @contextmanager
    def constraint_checks_off(self, connection: Any) -> Iterator[None]:
        """Around a rollback run in one transaction: the engine's constraint checks off where
        they cannot be turned off inside it (SQLite)."""
        yield

    # -- rows ------------------------------------------------------------------------

    def holds_rows(
        self, connection: Any, tables: Iterable[str], columns: Iterable[tuple[str, str]]
    ) -> bool:
        """Whether any of these tables, or the tables of these (table, column)s, has a row.

        Never waits on another session's table lock more than a second: that raises.
        """
        with connection.cursor() as cursor, self.short_lock_wait(cursor):
            return _any_row(connection, cursor, tables, columns)

    @contextmanager
    def short_lock_wait(self, cursor: Any) -> Iterator[None]:
        """A one-second lock wait for the statements run inside."""
        yield

    # -- where the server is ---------------------------------------------------------

    def destinations(
        self, settings_dict: Mapping[str, Any], env: Mapping[str, str]
    ) -> list[Destination]:
        """Every place the driver (or the engine's client programs) could connect to; a
        file on this machine has none."""
        return []

    def database_name(self, settings_dict: Mapping[str, Any], env: Mapping[str, str]) -> str:
        """The database the driver connects to: NAME, unless the engine's driver says more."""
        return str(settings_dict.get("NAME") or "")

    def connected_database(self, connection: Any) -> str | None:
        """The database an open connection is on, as the server says; None: no server."""
        return None

    def dump_contents(self, path: Path) -> tuple[str | None, list[set[tuple[str, str]]]]:
        """The database a dump says it is of (None when it does not say), and the (app,
        name) rows of each `django_migrations` table in it (none: no table or no rows)."""
        raise NotImplementedError


def _any_row(
    connection: Any, cursor: Any, tables: Iterable[str], columns: Iterable[tuple[str, str]]
) -> bool:
    """Each table probed once for a row; a table named for its columns only is described
    (once, whatever the number of its columns asked about) only when it holds a row."""
    existing = set(connection.introspection.table_names(cursor))
    whole = {t for t in tables if t in existing}
    by_table: dict[str, set[str]] = {}
    for table, column in columns:
        if table in existing and table not in whole:
            by_table.setdefault(table, set()).update((column, f"{column}_id"))
    for table in sorted(whole | by_table.keys()):
        cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")
        if cursor.fetchone() is None:
            continue
        if table in whole:
            return True
        described = connection.introspection.get_table_description(cursor, table)
        if by_table[table] & {c.name for c in described}:
            return True
    return False
