"""migrail's own records under git's common directory: private and durable.

Backups, journals and snapshots describe databases (names, hosts, what was applied), so
their directories are 0700 and their files 0600 from the first byte, whatever the umask;
a record is written beside its final name, fsync'd and renamed, so a kill leaves either
the old record or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path


def private_directory(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) != 0o700:
        os.chmod(directory, 0o700)  # only when needed: a directory of another user refuses it
    return directory


def write_private_json(path: Path, data: object) -> None:
    """Write `data` as JSON at `path` atomically and durably, 0600 from the start."""
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    sync_directory(path.parent)


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write `data` at `path` atomically, 0600 from the start; never through a link."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(partial, flags, 0o600), "wb") as handle:
        handle.write(data)
    os.replace(partial, path)


def sync_directory(directory: Path) -> None:
    """Make a rename or unlink in `directory` survive a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
