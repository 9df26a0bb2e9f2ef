"""Where migration files come from: the working tree, the index, or a commit.

Each source lists the candidate files (tracked, plus untracked unignored ones
for the working tree) with a content id, the git blob id, so that parsing can
be cached by content, and reads a file's bytes on demand.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from migrail.sources.gitrepo import MIGRATION_PATHSPECS, GitRepo, TreeEntry

LEAVES_WORK_TREE = "is a symbolic link that leads outside the work tree; migrail does not follow it"


class Unreadable(Exception):
    """A listed file whose bytes cannot be had (vanished, a symlink loop, permissions)."""


def leaves_work_tree(root: Path, path: str) -> bool:
    """Would reading or writing `root/path` follow a symbolic link out of the work tree?

    Any link on the way counts (the file, or a directory above it), dangling
    or not; git's own directory counts as outside. Call this before touching
    a file whose path comes from the repository.
    """
    top = os.path.realpath(root)
    real = os.path.realpath(os.path.join(top, path))
    inside = os.path.relpath(real, top)
    first = inside.split(os.sep, 1)[0]
    return first in (os.pardir, ".git") or os.path.isabs(inside)


def link_target_leaves_tree(path: str, target: bytes) -> bool:
    """Does a link stored in git at `path` (a blob of mode 120000) point outside the tree?"""
    try:
        text = target.decode()
    except UnicodeDecodeError:
        return True
    if text.startswith("/") or "\0" in text:
        return True
    inside = posixpath.normpath(posixpath.join(posixpath.dirname(path), text))
    return inside.split("/", 1)[0] in ("..", ".git")


class Source(Protocol):
    description: str

    @property
    def disk_root(self) -> Path | None:
        """Where the files can be read straight from disk, if they can."""
        ...

    def entries(self) -> dict[str, str]:
        """Path (relative to the repository root, `/`-separated) to content id."""
        ...

    def read(self, path: str) -> bytes: ...


def blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob, so cache keys agree with git's."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_candidate(path: str) -> bool:
    parts = path.split("/")
    return ("migrations" in parts[:-1]) or parts[-1] == "apps.py"


@dataclass
class WorkingTree:
    repo: GitRepo
    description: str = "the working tree"

    def __post_init__(self) -> None:
        self._changed: dict[str, bytes | Exception] = {}
        self._entries: dict[str, str] | None = None

    def entries(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = self._list()
        return self._entries

    def _list(self) -> dict[str, str]:
        index, modified, deleted, untracked = self.repo.index_and_worktree(MIGRATION_PATHSPECS)
        result = {path: entry.blob for path, entry in index.items() if path not in deleted}
        for path in modified | untracked:
            if path in deleted:
                continue
            try:
                data = self._read_disk(path)
            except Unreadable as err:
                self._changed[path] = err
                result[path] = f"unreadable:{path}"
                continue
            self._changed[path] = data
            result[path] = blob_id(data)
        for path, entry in index.items():
            if entry.is_symlink and path in result and path not in self._changed:
                # The blob of a symlink is its target's name, not the file's bytes.
                try:
                    self._changed[path] = data = self._read_disk(path)
                    result[path] = blob_id(data)
                except Unreadable as err:
                    self._changed[path] = err
                    result[path] = f"unreadable:{path}"
        return result

    @property
    def disk_root(self) -> Path | None:
        return self.repo.root

    def read(self, path: str) -> bytes:
        known = self._changed.get(path)
        if isinstance(known, Exception):
            raise Unreadable(str(known))
        if known is not None:
            return known
        return self._read_disk(path)

    def _read_disk(self, path: str) -> bytes:
        return read_inside(self.repo.root, path)


@dataclass
class _GitObjects:
    repo: GitRepo
    description: str

    def __post_init__(self) -> None:
        self._entries: dict[str, TreeEntry] = {}

    @property
    def disk_root(self) -> Path | None:
        return None

    def entries(self) -> dict[str, str]:
        return {path: entry.blob for path, entry in self._entries.items()}

    def read(self, path: str) -> bytes:
        entry = self._entries[path]
        if entry.is_symlink:
            if link_target_leaves_tree(path, self.repo.read_blob(entry.blob)):
                raise Unreadable(LEAVES_WORK_TREE)
            raise Unreadable(
                f"is a symbolic link in {self.description}; migrail reads only files there"
            )
        return self.repo.read_blob(entry.blob)


class Index(_GitObjects):
    """What the next commit will hold: the pre-commit hook checks this, not the files on disk."""

    def __init__(self, repo: GitRepo) -> None:
        super().__init__(repo, "the index")
        self._entries = repo.index_entries(MIGRATION_PATHSPECS)


class Commit(_GitObjects):
    def __init__(self, repo: GitRepo, rev: str) -> None:
        sha = repo.resolve(rev)
        super().__init__(repo, f"commit {rev}" if rev == sha else f"{rev} ({sha[:12]})")
        self.sha = sha
        self._entries = {p: e for p, e in repo.tree_entries(sha).items() if is_candidate(p)}


@dataclass
class Directory:
    """Files read straight from disk under `root`; Django's view of the project uses this."""

    root: Path
    description: str = "the file system"

    @property
    def disk_root(self) -> Path | None:
        return self.root

    def entries(self) -> dict[str, str]:
        return {}

    def read(self, path: str) -> bytes:
        return read_inside(self.root, path)


def read_inside(root: Path, path: str) -> bytes:
    """The bytes of `root/path`, refused when a symbolic link would lead outside `root`."""
    if leaves_work_tree(root, path):
        raise Unreadable(LEAVES_WORK_TREE)
    try:
        return (root / path).read_bytes()
    except OSError as err:
        raise Unreadable(err.strerror or str(err)) from err
