"""What migrail made for each linked worktree, under `<git common dir>/migrail/worktrees/`.

One record per worktree (named as git names it under `<common dir>/worktrees/`): its
path, and per database alias the identity of the database made for it and of the main
worktree's it was copied from. `migrail worktree prune` drops only databases recorded
here as made by migrail. Files are 0600 in a 0700 directory.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migrail.sync.private_files import private_directory, write_private_json

COPYING, COPIED, EMPTY, FOUND = "copying", "copied", "empty", "found"


@dataclass(frozen=True)
class WorktreeDatabase:
    alias: str
    identity: dict[str, str]  # the worktree's database (`DatabaseIdentity.as_json`)
    main: dict[str, str]  # the main worktree's, which it was copied from
    # COPYING (a kill may have left it half made), COPIED, EMPTY (made empty, then migrated),
    # FOUND (it existed already: not migrail's, never dropped by prune)
    state: str

    @property
    def made(self) -> bool:
        return self.state != FOUND

    @property
    def name(self) -> str:
        return self.identity.get("name", "")


@dataclass(frozen=True)
class WorktreeRecord:
    worktree: str  # the NAME of <common dir>/worktrees/NAME
    path: str
    databases: list[WorktreeDatabase] = field(default_factory=list)
    created: float = 0.0

    def database(self, alias: str) -> WorktreeDatabase | None:
        return next((d for d in self.databases if d.alias == alias), None)


class WorktreeCatalogue:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, worktree: str) -> Path:
        return self.directory / f"{worktree}.json"

    def find(self, worktree: str) -> WorktreeRecord | None:
        try:
            return _from_json(json.loads(self._path(worktree).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def all(self) -> list[WorktreeRecord]:
        found = []
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            try:
                found.append(_from_json(json.loads(path.read_text())))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # torn or foreign: not a record
        return found

    def note(self, worktree: str, path: str, database: WorktreeDatabase) -> None:
        """Record (or replace) one alias's database in the worktree's record."""
        record = self.find(worktree)
        if record is None or record.path != path:
            record = WorktreeRecord(worktree, path, [], time.time())
        databases = [d for d in record.databases if d.alias != database.alias] + [database]
        record = WorktreeRecord(worktree, path, databases, record.created)
        write_private_json(private_directory(self.directory) / f"{worktree}.json", asdict(record))

    def write(self, record: WorktreeRecord) -> None:
        write_private_json(
            private_directory(self.directory) / f"{record.worktree}.json", asdict(record)
        )

    def forget(self, worktree: str) -> None:
        self._path(worktree).unlink(missing_ok=True)


def _from_json(data: dict[str, Any]) -> WorktreeRecord:
    return WorktreeRecord(
        str(data["worktree"]),
        str(data["path"]),
        [WorktreeDatabase(**d) for d in data["databases"]],
        float(data.get("created", 0.0)),
    )
