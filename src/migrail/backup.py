"""Backups taken before a rollback, kept under git's common directory, and restored from there.

SQLite uses the online backup API; PostgreSQL `pg_dump -Fc` / `pg_restore`;
MySQL and MariaDB `mysqldump` / `mysql`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrail.errors import MigrailError


@dataclass(frozen=True)
class Backup:
    path: Path
    alias: str
    vendor: str
    database: str
    created: str

    @property
    def name(self) -> str:
        return self.path.name


def take_backup(
    directory: Path, alias: str, vendor: str, settings: dict[str, Any], kept: int
) -> Backup:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1_000_000:06d}"
    suffix = {"sqlite": "sqlite3", "postgresql": "dump", "mysql": "sql"}.get(vendor, "bak")
    path = directory / f"{stamp}-{alias}.{suffix}"
    name = str(settings["NAME"])
    if vendor == "sqlite":
        _sqlite_copy(name, path)
    elif vendor == "postgresql":
        _run(["pg_dump", "-Fc", "-f", str(path), *_pg_args(settings), name], _pg_env(settings))
    elif vendor == "mysql":
        with path.open("wb") as out:
            _run(
                ["mysqldump", "--single-transaction", *_mysql_args(settings), name],
                _mysql_env(settings),
                stdout=out,
            )
    else:
        raise MigrailError(
            f"migrail cannot back up a {vendor} database; use --no-backup to go on without"
        )
    meta = {
        "alias": alias,
        "vendor": vendor,
        "database": name,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    path.with_suffix(path.suffix + ".json").write_text(json.dumps(meta))
    _prune(directory, kept)
    return Backup(path, alias, vendor, name, meta["created"])


def list_backups(directory: Path) -> list[Backup]:
    found = []
    for meta_path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        data = json.loads(meta_path.read_text())
        path = meta_path.with_suffix("")
        if path.exists():
            found.append(
                Backup(path, data["alias"], data["vendor"], data["database"], data["created"])
            )
    return found


def restore_backup(backup: Backup, settings: dict[str, Any]) -> None:
    name = str(settings["NAME"])
    if backup.vendor == "sqlite":
        _sqlite_copy(backup.path, name)
    elif backup.vendor == "postgresql":
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--single-transaction",
                *_pg_args(settings),
                "-d",
                name,
                str(backup.path),
            ],
            _pg_env(settings),
        )
    elif backup.vendor == "mysql":
        with backup.path.open("rb") as dump:
            _run(["mysql", *_mysql_args(settings), name], _mysql_env(settings), stdin=dump)


def _sqlite_copy(source_path: str | Path, target_path: str | Path) -> None:
    """SQLite's online backup: a consistent copy even while another connection writes."""
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()


def _prune(directory: Path, kept: int) -> None:
    for old in list_backups(directory)[:-kept] if kept > 0 else []:
        old.path.unlink(missing_ok=True)
        old.path.with_suffix(old.path.suffix + ".json").unlink(missing_ok=True)


def _run(command: list[str], env: dict[str, str], **kwargs: Any) -> None:
    if shutil.which(command[0]) is None:
        raise MigrailError(f"{command[0]} is not installed; install it, or use --no-backup")
    stdout = kwargs.pop("stdout", subprocess.PIPE)
    proc = subprocess.run(
        command, env={**os.environ, **env}, stdout=stdout, stderr=subprocess.PIPE, **kwargs
    )
    if proc.returncode != 0:
        raise MigrailError(f"{command[0]} failed: {proc.stderr.decode(errors='replace').strip()}")


def _pg_args(settings: dict[str, Any]) -> list[str]:
    args = []
    if settings.get("HOST"):
        args += ["-h", str(settings["HOST"])]
    if settings.get("PORT"):
        args += ["-p", str(settings["PORT"])]
    if settings.get("USER"):
        args += ["-U", str(settings["USER"])]
    return args


def _pg_env(settings: dict[str, Any]) -> dict[str, str]:
    return {"PGPASSWORD": str(settings["PASSWORD"])} if settings.get("PASSWORD") else {}


def _mysql_args(settings: dict[str, Any]) -> list[str]:
    args = []
    if settings.get("HOST"):
        host = str(settings["HOST"])
        args += [f"--socket={host}"] if host.startswith("/") else [f"--host={host}"]
    if settings.get("PORT"):
        args += [f"--port={settings['PORT']}"]
    if settings.get("USER"):
        args += [f"--user={settings['USER']}"]
    return args


def _mysql_env(settings: dict[str, Any]) -> dict[str, str]:
    return {"MYSQL_PWD": str(settings["PASSWORD"])} if settings.get("PASSWORD") else {}
