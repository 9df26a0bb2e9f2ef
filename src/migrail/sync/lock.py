"""One sync at a time per database: a file lock under git's common directory
(shared by linked worktrees), plus the server's own advisory lock on
PostgreSQL and MySQL/MariaDB (`Engine.server_lock`) for worktrees that share a
server database."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migrail.engines import rules_for
from migrail.sync.private_files import private_directory


@contextmanager
def database_lock(directory: Path, alias: str, connection: Any) -> Iterator[None]:
    from migrail.sync.identity import identity_of

    database = identity_of(alias, connection.vendor, connection.settings_dict)
    with file_lock(directory, alias, database.key), _server_lock(connection):
        yield


@contextmanager
def file_lock(directory: Path, alias: str, database_key: str) -> Iterator[None]:
    """The lock alone, for `restore`: a server session would block its database rename.
    One per database (`DatabaseIdentity.key`), not per alias: linked worktrees with
    databases of their own never wait for each other."""
    private_directory(directory)
    path = directory / f"{database_key}.lock"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"migrail: waiting for another sync of database {alias!r} to finish", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def _server_lock(connection: Any) -> Iterator[None]:
    with rules_for(connection.vendor).server_lock(connection):
        yield
