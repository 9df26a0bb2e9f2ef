"""A rollback waiting on another session's lock says so, and gives up in time.

An `ALTER TABLE` waits for every other session's lock on the table, however
old: a dev shell idle in a transaction makes `git switch` hang without a word.
While the rollback runs, the server is told to give up on a lock after
`MIGRAIL_LOCK_WAIT` seconds (PostgreSQL `lock_timeout`; MySQL/MariaDB
`lock_wait_timeout` for metadata locks, `innodb_lock_wait_timeout` for rows),
and a watcher thread, on its own connection, says once that the rollback is
waiting and for whom. Giving up is one line; what was done is undone where the
engine allows (PostgreSQL's one transaction) and resumed through the journal
where it does not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from migrail.database.client_programs import lock_wait_seconds
from migrail.errors import MigrailError

NOTICE_AFTER = 2.0  # seconds before the watcher first looks
POLL_EVERY = 1.0
PG_LOCK_TIMEOUT = "55P03"  # lock_not_available
MYSQL_LOCK_WAIT_TIMEOUT = 1205  # ER_LOCK_WAIT_TIMEOUT, metadata locks included


class LockWaitExceeded(MigrailError):
    """Another session held a lock longer than MIGRAIL_LOCK_WAIT."""


@contextmanager
def giving_up_on_locks(connection: Any, what: str) -> Iterator[None]:
    """Run `what` on `connection` with a bounded lock wait and a notice while it waits."""
    if connection.vendor not in ("postgresql", "mysql"):
        yield
        return
    wait = lock_wait_seconds()
    own = _session_id(connection)
    previous = _set_timeouts(connection, wait)
    watcher = _Watcher(connection.alias, connection.vendor, own, what, wait)
    watcher.start()
    try:
        yield
    except Exception as err:
        if not is_lock_timeout(err):
            raise
        atomic = "nothing was changed" in str(err)
        outcome = (
            "nothing was changed" if atomic else "it stopped midway, where the next sync takes over"
        )
        raise LockWaitExceeded(
            f"{what} of database {connection.alias!r} gave up: another session held a lock on "
            f"a table it changes for {wait}s (MIGRAIL_LOCK_WAIT); {outcome}. End that session "
            "(a shell or server in an open transaction?) and run `migrail sync` again"
        ) from err
    finally:
        watcher.stop()
        with suppress(Exception):  # a broken connection keeps its settings no longer
            _restore_timeouts(connection, previous)


def _session_id(connection: Any) -> int:
    query = (
        "SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT CONNECTION_ID()"
    )
    with connection.cursor() as cursor:
        cursor.execute(query)
        return int(cursor.fetchone()[0])


def _set_timeouts(connection: Any, wait: int) -> list[Any]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT current_setting('lock_timeout')")
            previous = [cursor.fetchone()[0]]
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{wait}s"])
            return previous
        cursor.execute("SELECT @@SESSION.lock_wait_timeout, @@SESSION.innodb_lock_wait_timeout")
        previous = list(cursor.fetchone())
        cursor.execute(
            "SET SESSION lock_wait_timeout = %s, SESSION innodb_lock_wait_timeout = %s",
            [wait, wait],
        )
        return previous


def _restore_timeouts(connection: Any, previous: list[Any]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", previous)
        else:
            cursor.execute(
                "SET SESSION lock_wait_timeout = %s, SESSION innodb_lock_wait_timeout = %s",
                previous,
            )


def is_lock_timeout(err: BaseException | None) -> bool:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if getattr(err, "sqlstate", None) == PG_LOCK_TIMEOUT:
            return True
        if getattr(err, "pgcode", None) == PG_LOCK_TIMEOUT:
            return True
        if err.args and err.args[0] == MYSQL_LOCK_WAIT_TIMEOUT:
            return True
        err = err.__cause__ or err.__context__
    return False


class _Watcher:
    """Looks, on its own connection, whether session `own` waits for another's lock."""

    def __init__(self, alias: str, vendor: str, own: int, what: str, wait: int) -> None:
        self.alias, self.vendor, self.own, self.what, self.wait = alias, vendor, own, what, wait
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="migrail-lock-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        if self._stopped.wait(NOTICE_AFTER):
            return
        from django.db import connections

        connection = connections.create_connection(self.alias)
        try:
            while not self._stopped.is_set():
                holder = self._blocked_by(connection)
                if holder is not None:
                    print(
                        f"migrail: {self.what} of database {self.alias!r} is waiting for a lock "
                        f"held by another session{holder}; migrail gives up after "
                        f"{self.wait}s (MIGRAIL_LOCK_WAIT)",
                        flush=True,
                    )
                    return
                self._stopped.wait(POLL_EVERY)
        except Exception:  # a notice only: it never fails the rollback
            pass
        finally:
            connection.close()

    def _blocked_by(self, connection: Any) -> str | None:
        """None when not waiting; else a description of the holder (may be empty)."""
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute(
                    "SELECT pid, state FROM pg_stat_activity "
                    "WHERE pid = ANY(pg_blocking_pids(%s)) ORDER BY pid",
                    [self.own],
                )
                rows = cursor.fetchall()
                if not rows:
                    return None
                pid, state = rows[0]
                more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
                return f" (pid {pid}, {state or 'unknown state'}{more})"
            cursor.execute(
                "SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = %s", [self.own]
            )
            row = cursor.fetchone()
            state = str(row[0] or "") if row else ""
            return f" ({state.lower()})" if "lock" in state.lower() else None
