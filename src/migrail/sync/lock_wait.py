"""A rollback waiting on another session's lock says so, and gives up in time.

An `ALTER TABLE` waits for every other session's lock on the table, however
old: a dev shell idle in a transaction makes `git switch` hang without a word.
While the rollback runs, the server is told to give up on a lock after
`MIGRAIL_LOCK_WAIT` seconds (`Engine.set_lock_timeouts`: PostgreSQL `lock_timeout`;
MySQL/MariaDB `lock_wait_timeout` for metadata locks, `innodb_lock_wait_timeout` for rows),
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

from migrail.engines import Engine, is_lock_timeout, rules_for
from migrail.engines.programs import lock_wait_seconds
from migrail.errors import MigrailError
from migrail.sync.errors import NothingChanged

NOTICE_AFTER = 2.0  # seconds before the watcher first looks
POLL_EVERY = 1.0


class LockWaitExceeded(MigrailError):
    """Another session held a lock longer than MIGRAIL_LOCK_WAIT."""


class LockWaitRolledBack(LockWaitExceeded, NothingChanged):
    """… and what waited was rolled back with its transaction."""


@contextmanager
def giving_up_on_locks(connection: Any, what: str) -> Iterator[None]:
    """Run `what` on `connection` with a bounded lock wait and a notice while it waits."""
    engine = rules_for(connection.vendor)
    if not engine.bounds_lock_waits:
        yield
        return
    wait = lock_wait_seconds()
    with connection.cursor() as cursor:
        own = engine.session_id(cursor)
        previous = engine.set_lock_timeouts(cursor, wait)
    watcher = _Watcher(connection.alias, engine, own, what, wait)
    watcher.start()
    try:
        yield
    except Exception as err:
        if not is_lock_timeout(err):
            raise
        atomic = isinstance(err, NothingChanged)
        outcome = (
            "nothing was changed" if atomic else "it stopped midway, where the next sync takes over"
        )
        raise (LockWaitRolledBack if atomic else LockWaitExceeded)(
            f"{what} of database {connection.alias!r} gave up: another session held a lock on "
            f"a table it changes for {wait}s (MIGRAIL_LOCK_WAIT); {outcome}. End that session "
            "(a shell or server in an open transaction?) and sync again"
        ) from err
    finally:
        watcher.stop()
        # A broken connection keeps its settings no longer.
        with suppress(Exception), connection.cursor() as cursor:
            engine.restore_lock_timeouts(cursor, previous)


class _Watcher:
    """Looks, on its own connection, whether session `own` waits for another's lock."""

    def __init__(self, alias: str, engine: Engine, own: int, what: str, wait: int) -> None:
        self.alias, self.engine, self.own, self.what, self.wait = alias, engine, own, what, wait
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
                with connection.cursor() as cursor:
                    holder = self.engine.lock_holder(cursor, self.own)
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
