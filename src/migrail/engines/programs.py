"""Running the database servers' own programs (`pg_dump`, `pg_restore`, `psql`,
`mysqldump`, `mysql`), whose command lines the engines build (`Engine.client_command`).

Passwords go through the environment, never the command line; a program that
fails ends in a `MigrailError` carrying its first error line.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import IO

from migrail.errors import MigrailError

LOCK_WAIT_SECONDS = 10
"""How long `pg_dump` waits for a table another session holds locked (`MIGRAIL_LOCK_WAIT`)."""


def lock_wait_seconds() -> int:
    try:
        return max(1, int(os.environ.get("MIGRAIL_LOCK_WAIT", LOCK_WAIT_SECONDS)))
    except ValueError:
        return LOCK_WAIT_SECONDS


def run_program(
    command: list[str],
    env: Mapping[str, str],
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | int | None = subprocess.PIPE,
    slow_notice: str | None = None,
) -> bytes:
    """Run `command` with `env` added to the environment (an engine's `client_command`
    builds both); print `slow_notice` when it has not finished after a second."""
    import shutil  # here: a switch of SQLite databases runs no program

    if shutil.which(command[0]) is None:
        raise ProgramMissing(f"{command[0]} is not installed (not found on PATH)")
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE
    )
    try:
        out, err = proc.communicate(timeout=1 if slow_notice else None)
    except subprocess.TimeoutExpired:
        print(slow_notice, flush=True)
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise ProgramFailed(command[0], err.decode(errors="replace"))
    return out or b""


class ProgramMissing(MigrailError):
    """The server's client program is not on PATH; nothing was run."""


class ProgramFailed(MigrailError):
    def __init__(self, program: str, stderr: str) -> None:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        self.program = program
        self.stderr = stderr
        super().__init__(f"{program} failed: {lines[0] if lines else 'no message'}")
