"""Parsed migrations cached by git blob id, so an unchanged file is parsed once.

The cache is a pickle under git's common directory; it is a pure speed-up: a
missing, stale or corrupt file is ignored and rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from migrail.sources.pickle_file import load_pickle, store_pickle

if TYPE_CHECKING:  # a warm check asks only where the cache is, and imports no parser
    from migrail.graph.parser import ParsedMigration, ParseProblem

FORMAT = 4  # 2: operation_count and irreversible_operations instead of every operation
# 3: E010 for code that binds names from strings, a base's decorator or __init_subclass__,
# a swappable_dependency that may not be Django's (verdicts cached before were wrong)
# 4: no operations at all (nothing read them)
MAX_ENTRIES = 100_000
FILE_NAME = "parse-cache.pickle"  # in migrail's directory under git's common directory

Parsed: TypeAlias = "ParsedMigration | ParseProblem"


class ParseCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, Parsed] = {}
        self._used: set[str] = set()
        self._dirty = False
        stored = load_pickle(path) if path is not None else None
        if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == FORMAT:
            self._entries = stored[1]

    @classmethod
    def of_repository(cls, migrail_dir: Path) -> ParseCache:
        """The repository's cache, shared by every worktree."""
        return cls(migrail_dir / FILE_NAME)

    def __contains__(self, blob: str) -> bool:
        return blob in self._entries

    def get(self, blob: str) -> Parsed | None:
        found = self._entries.get(blob)
        if found is not None:
            self._used.add(blob)
        return found

    def put(self, blob: str, parsed: Parsed) -> None:
        if blob.startswith("unreadable:"):
            return
        self._entries[blob] = parsed
        self._used.add(blob)
        self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        entries = self._entries
        if len(entries) > MAX_ENTRIES:
            entries = {k: v for k, v in entries.items() if k in self._used}
        store_pickle(self.path, (FORMAT, entries))
