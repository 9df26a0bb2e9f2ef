"""Errors that end a command with a message and an exit status, never a traceback."""

from __future__ import annotations

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class MigrailError(Exception):
    """A failure the user can act on; `str()` is the whole message."""

    exit_status = EXIT_USAGE


class NotAGitRepository(MigrailError):
    pass


class GitCommandError(MigrailError):
    pass


class Refusal(MigrailError):
    """A refusal that changed nothing (a remote database, `DEBUG = False`, an irreversible
    rollback): exit 1, as the README's table of exit statuses says."""

    exit_status = EXIT_FINDINGS
