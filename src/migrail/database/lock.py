"""One sync at a time per database: a file lock under git's common directory
(shared by linked worktrees), plus the server's own advisory lock on
PostgreSQL and MySQL/MariaDB for worktrees that share a server database."""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migrail.errors import MigrailError


@contextmanager
def database_lock(directory: Path, alias: str, connection: Any) -> Iterator[None]:
    with file_lock(directory, alias), _server_lock(connection):
        yield


@contextmanager
def file_lock(directory: Path, alias: str) -> Iterator[None]:
    """The lock alone, for `restore`: a server session would block its database rename."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{alias}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"migrail: waiting for another sync of database {alias!r} to finish", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def _server_lock(connection: Any) -> Iterator[None]:
    name = f"migrail:{connection.settings_dict.get('NAME')}"
    key = zlib.crc32(name.encode())
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    elif connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 600)", [name[:64]])
            if cursor.fetchone()[0] != 1:
                raise MigrailError("timed out waiting for another migrail sync of this database")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [name[:64]])
    else:
        yield
