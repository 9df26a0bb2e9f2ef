"""The tree a merge would make: a base commit's files plus a branch's changes since their
merge base, as `check --base` reads it (CI on a pull request whose base moved on).

A file both sides changed is taken as the branch has it: the checks that read this tree
report such a file themselves (a published migration edited, `max_migration.txt` forked).
"""

from __future__ import annotations

from pathlib import Path

from migrail.sources.gitrepo import GitRepo
from migrail.sources.trees import Source


class MergedTree:
    def __init__(
        self,
        repo: GitRepo,
        base: Source,
        branch: Source,
        merge_base: dict[str, str],
        description: str,
    ) -> None:
        self.description = description
        self._repo = repo
        self._branch = branch
        ours = branch.entries()
        self._entries = dict(base.entries())
        # A file the branch holds as the base does is read from the branch (the working tree:
        # from disk); the others, the base's changes, from git objects in one batch.
        self._owners: dict[str, Source] = {
            path: branch if ours.get(path) == blob else base for path, blob in self._entries.items()
        }
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
        self._batched = False

    @property
    def disk_root(self) -> Path | None:
        return None

    def entries(self) -> dict[str, str]:
        return self._entries

    def read(self, path: str) -> bytes:
        owner = self._owners[path]
        if owner is not self._branch and not self._batched:
            self._batched = True
            self._repo.read_blobs(
                {
                    blob
                    for p, blob in self._entries.items()
                    if self._owners[p] is not self._branch and not blob.startswith("unreadable:")
                }
            )
        return owner.read(path)
