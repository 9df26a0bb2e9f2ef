"""Parsed migrations cached by git blob id, so an unchanged file is parsed once.

The cache is a pickle under git's common directory; it is a pure speed-up: a
missing, stale or corrupt file is ignored and rebuilt.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

from migrail.parser import ParsedMigration, ParseProblem

FORMAT = 1
MAX_ENTRIES = 100_000

Parsed = ParsedMigration | ParseProblem


class ParseCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, Parsed] = {}
        self._used: set[str] = set()
        self._dirty = False
        if path is not None:
            try:
                with path.open("rb") as fh:
                    version, entries = pickle.load(fh)
                if version == FORMAT and isinstance(entries, dict):
                    self._entries = entries
            except (
                OSError,
                pickle.UnpicklingError,
                EOFError,
                ValueError,
                TypeError,
                AttributeError,
            ):
                pass

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
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".parse-cache-")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump((FORMAT, entries), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
