"""One line, never a traceback, when a database or the disk says no.

Every database command (`sync`, `status`, `restore`, `switch`) and the sync
hooks run inside `database_errors()`: a server that is down, an SQLite file
another process holds locked, a backups directory that is full or read-only
end as a `MigrailError` (exit 2) naming the database and the cause.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migrail.errors import MigrailError

DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG}
# A file where migrail's directory should be, or a link where it opens with O_NOFOLLOW.
PATH_ERRORS = {errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ELOOP}


class DatabaseUnavailable(MigrailError):
    pass


class NothingChanged(MigrailError):
    """A change that failed and was rolled back with its transaction: the database is as it
    was, so no sync is midway and the backup taken for the change is not needed."""


@contextmanager
def database_errors() -> Iterator[None]:
    try:
        yield
    except MigrailError as err:
        _name_the_file(err)
        raise
    except OSError as err:
        if err.errno not in DISK_ERRORS | PATH_ERRORS:
            raise
        where = f" {err.filename}" if err.filename else ""
        raise DatabaseUnavailable(f"cannot write{where}: {err.strerror}") from err
    except Exception as err:
        if not _is_database_error(err):
            raise
        raise DatabaseUnavailable(f"{_which_database()}: {_cause(err)}") from err


def lock_in_chain(err: BaseException) -> str | None:
    """ "another process holds it locked …" when `err` comes of SQLite's lock: Django turns it
    into other errors (TransactionManagementError inside an atomic block, say)."""
    seen: BaseException | None = err
    for _ in range(20):
        if seen is None:
            return None
        if _is_database_error(seen) and "database is locked" in str(seen).lower():
            return _cause(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _is_database_error(err: BaseException) -> bool:
    if isinstance(err, sqlite3.OperationalError):
        return True
    try:
        from django.db.utils import InterfaceError, OperationalError
    except ImportError:  # pragma: no cover - without Django nothing connects
        return False
    return isinstance(err, (OperationalError, InterfaceError))


def driver_words(err: BaseException) -> str:
    """What a database driver said, as words: MySQL's drivers give (code, message), which
    `str()` shows as a tuple (`(1045, "Access denied…")`)."""
    args = err.args
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"{args[1]} (error {args[0]})"
    return str(err)


def _cause(err: BaseException) -> str:
    lines = [line.strip() for line in driver_words(err).splitlines() if line.strip()]
    text = lines[0] if lines else type(err).__name__
    lowered = " ".join(lines).lower()
    if "database is locked" in lowered:
        return "another process holds it locked (database is locked)"
    if "connection refused" in lowered or "can't connect" in lowered:
        return f"the server is not reachable ({text})"
    if ("does not exist" in lowered or "unknown database" in lowered) and _in_linked_worktree():
        return f"{text}; in this linked worktree, `migrail worktree init` makes its database"
    return text


def _in_linked_worktree() -> bool:
    from migrail.worktree_names import find_linked_worktree

    return find_linked_worktree(str(Path.cwd())) is not None


def _which_database() -> str:
    """The alias being worked on: the one whose connection failed, else the only one open."""
    try:
        from django.db import connections
    except ImportError:  # pragma: no cover
        return "database"
    opened: list[Any] = list(connections.all(initialized_only=True))
    broken = [c for c in opened if c.connection is None]
    candidates = broken if len(broken) == 1 else opened
    if len(candidates) != 1:
        return "database"
    from migrail.sync.identity import identity_of

    connection = candidates[0]
    identity = identity_of(connection.alias, connection.vendor, connection.settings_dict)
    return f"database {connection.alias!r} ({identity.describe()})"


def syntax_error_text(err: SyntaxError) -> str:
    """Python's `msg (models.py, line 8)`, with the file as the user knows it: `shop/models.py`."""
    if not err.filename or err.lineno is None:
        return str(err)
    message = err.msg
    if (err.text or "").startswith(CONFLICT_MARKERS):
        message = "a merge conflict left unresolved (conflict markers)"
    return f"{message} ({shown_path(err.filename)}, line {err.lineno})"


CONFLICT_MARKERS = ("<<<<<<< ", "=======", ">>>>>>> ", "||||||| ")


def shown_path(filename: str) -> str:
    """A path relative to its repository (or to the old commit's tree migrail wrote under
    `.git/migrail/trees/`); one outside any repository as it is."""
    path = Path(filename).absolute()
    for parent in path.parents:
        if parent.parent.name == "trees" and parent.parent.parent.name == "migrail":
            return str(path.relative_to(parent))  # an older commit's files
        if (parent / ".git").exists():
            return str(path.relative_to(parent))
    return filename


def _name_the_file(err: MigrailError) -> None:
    """A message quoting a SyntaxError names the file by its basename, as Python does;
    rewrite it to the path in the repository (loaders and the old-code child quote it)."""
    cause = err.__cause__
    while cause is not None and not isinstance(cause, SyntaxError):
        cause = cause.__cause__
    if cause is None or len(err.args) != 1 or not isinstance(err.args[0], str):
        return
    quoted, better = str(cause), syntax_error_text(cause)
    if quoted != better and quoted in err.args[0]:
        err.args = (err.args[0].replace(quoted, better),)
