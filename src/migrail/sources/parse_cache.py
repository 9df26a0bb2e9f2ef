"""Parsed migrations cached by git blob id, so an unchanged file is parsed once.

The cache is a pickle under git's common directory; it is a pure speed-up: a
missing, stale or corrupt file is ignored and rebuilt.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from migrail.sources.pickle_file import UNREADABLE, load_pickle, store_pickle

if TYPE_CHECKING:  # a warm check asks only where the cache is, and imports no parser
    from migrail.graph.parser import ParsedMigration, ParseProblem

FORMAT = 5  # 2: operation_count and irreversible_operations instead of every operation
# 3: E010 for code that binds names from strings, a base's decorator or __init_subclass__,
# a swappable_dependency that may not be Django's (verdicts cached before were wrong)
# 4: no operations at all (nothing read them), stored in chunks
# 5: a whole git conflict block is E004 even where it parses (inside a string)
MAX_ENTRIES = 100_000
MAX_CHUNKS = 32  # a check with new files adds one
FILE_NAME = "parse-cache.pickle"  # in migrail's directory under git's common directory

Parsed: TypeAlias = "ParsedMigration | ParseProblem"


class ParseCache:
    """Stored as chunks, each a pickled dict of blob ids to parses: a chunk loaded, or pickled
    by whoever parsed it (a cold check's parsing children), is saved again as it is, and only
    what was put one by one since is pickled anew."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, Parsed] = {}
        self._chunks: list[bytes] = []  # pickled dicts, every entry of which is in _entries
        self._loose: dict[str, Parsed] = {}  # put since, in no chunk
        self._used: set[str] = set()
        self._dirty = False
        stored = load_pickle(path) if path is not None else None
        if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == FORMAT:
            self._load(stored[1])

    def _load(self, chunks: object) -> None:
        """Every chunk's entries, or none if one is not a pickled dict (a pure speed-up: a
        corrupt cache is as none)."""
        if not isinstance(chunks, list) or not all(isinstance(c, bytes) for c in chunks):
            return
        entries: dict[str, Parsed] = {}
        for chunk in chunks:
            try:
                loaded = pickle.loads(chunk)
            except UNREADABLE:
                return
            if not isinstance(loaded, dict):
                return
            entries.update(loaded)
        self._entries, self._chunks = entries, chunks

    @classmethod
    def of_repository(cls, migrail_dir: Path) -> ParseCache:
        """The repository's cache, shared by every worktree."""
        return cls(migrail_dir / FILE_NAME)

    @staticmethod
    def repository_has_one(migrail_dir: Path) -> bool:
        """Is there a cache to load (else a check is cold), without loading it?"""
        return (migrail_dir / FILE_NAME).exists()

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
        self._entries[blob] = self._loose[blob] = parsed
        self._used.add(blob)
        self._dirty = True

    def add_pickled(self, data: bytes, parsed: dict[str, Parsed]) -> None:
        """`parsed`, and `data`, its pickle, to be saved as it is."""
        self._entries.update(parsed)
        self._chunks.append(data)
        self._used.update(parsed)
        self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        if len(self._entries) > MAX_ENTRIES:  # only what this run used
            used = {k: v for k, v in self._entries.items() if k in self._used}
            chunks = [pickle.dumps(used, pickle.HIGHEST_PROTOCOL)]
        elif len(self._chunks) >= MAX_CHUNKS:  # one again, before loading many costs more
            chunks = [pickle.dumps(self._entries, pickle.HIGHEST_PROTOCOL)]
        else:
            loose = [pickle.dumps(self._loose, pickle.HIGHEST_PROTOCOL)] if self._loose else []
            chunks = self._chunks + loose
        store_pickle(self.path, (FORMAT, chunks))
