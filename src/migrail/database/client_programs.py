"""Command lines for the database servers' own programs (`pg_dump`, `pg_restore`, `psql`,
`mysqldump`, `mysql`), run with the connection settings of a Django database.

Passwords go through the environment, never the command line; a program that
fails ends in a `MigrailError` carrying its first error line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import IO, Any

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
    settings: Mapping[str, Any],
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | int | None = subprocess.PIPE,
    slow_notice: str | None = None,
) -> bytes:
    """Run `command`; print `slow_notice` when it has not finished after a second."""
    if shutil.which(command[0]) is None:
        raise ProgramMissing(f"{command[0]} is not installed (not found on PATH)")
    env = {**os.environ, **_password_env(command[0], settings)}
    proc = subprocess.Popen(command, env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
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


def pg_args(settings: Mapping[str, Any]) -> list[str]:
    options: Mapping[str, Any] = settings.get("OPTIONS") or {}
    host = settings.get("HOST") or options.get("host")
    args = []
    if host:
        args += ["-h", str(host)]
    if settings.get("PORT") or options.get("port"):
        args += ["-p", str(settings.get("PORT") or options.get("port"))]
    if settings.get("USER") or options.get("user"):
        args += ["-U", str(settings.get("USER") or options.get("user"))]
    return args


def mysql_args(settings: Mapping[str, Any]) -> list[str]:
    """Host first from OPTIONS (they win in Django's MySQL backend), as the driver connects."""
    options: Mapping[str, Any] = settings.get("OPTIONS") or {}
    args = []
    if options.get("read_default_file"):
        args.append(f"--defaults-extra-file={options['read_default_file']}")
    host = str(options.get("host") or settings.get("HOST") or "")
    socket = str(options.get("unix_socket") or "")
    if host.startswith("/"):
        socket, host = host, ""
    if host:
        args.append(f"--host={host}")
    if socket:
        args.append(f"--socket={socket}")
    if settings.get("PORT") or options.get("port"):
        args.append(f"--port={settings.get('PORT') or options.get('port')}")
    if settings.get("USER") or options.get("user"):
        args.append(f"--user={settings.get('USER') or options.get('user')}")
    return args


def _password_env(program: str, settings: Mapping[str, Any]) -> dict[str, str]:
    options: Mapping[str, Any] = settings.get("OPTIONS") or {}
    password = settings.get("PASSWORD") or options.get("password") or options.get("passwd")
    if not password:
        return {}
    return {"MYSQL_PWD" if program.startswith("mysql") else "PGPASSWORD": str(password)}
