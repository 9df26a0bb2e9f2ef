"""The tree a merge would make: a base commit's files plus a branch's changes since their
merge base, as `check --base` reads it (CI on a pull request whose base moved on).

A file both sides changed is taken as the branch has it: the checks that read this tree
report such a file themselves (a published migration edited, `max_migration.txt` forked).
"""

from __future__ import annotations

from pathlib import Path

from migrail.sources.trees import Source


class MergedTree:
    def __init__(
        self, base: Source, branch: Source, merge_base: dict[str, str], description: str
    ) -> None:
        self.description = description
        self._entries = dict(base.entries())
        self._owners: dict[str, Source] = dict.fromkeys(self._entries, base)
        ours = branch.entries()
        self.changed: frozenset[str] = frozenset(
            path for path in {*merge_base, *ours} if merge_base.get(path) != ours.get(path)
        )
        for path in self.changed:
            if path in ours:
                self._entries[path] = ours[path]
                self._owners[path] = branch
            else:
                self._entries.pop(path, None)
                self._owners.pop(path, None)

    @property
    def disk_root(self) -> Path | None:
        return None

    def entries(self) -> dict[str, str]:
        return self._entries

    def read(self, path: str) -> bytes:
        return self._owners[path].read(path)
