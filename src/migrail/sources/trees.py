"""Where migration files come from: the working tree, the index, or a commit.

Each source lists the candidate files (tracked, plus untracked unignored ones
for the working tree) with a content id, the git blob id, so that parsing can
be cached by content, and reads a file's bytes on demand.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from migrail.graph.excerpt import excerpt
from migrail.sources.gitrepo import MIGRATION_PATHSPECS, GitRepo, TreeEntry

if TYPE_CHECKING:
    import subprocess

LEAVES_WORK_TREE = "is a symbolic link that leads outside the work tree; migrail does not follow it"
# What a link stored in git (the index, a commit) can fail on besides leaving the tree.
MAX_LINKS = 40  # Linux's limit on links followed in one lookup (MAXSYMLINKS)
LINK_LOOP = f"is a symbolic link loop, or a chain of more than {MAX_LINKS} links"
DANGLING_LINK = "is a dangling symbolic link"
LINKED = TreeEntry("120000", "")  # a file reached through a linked `migrations` directory
LINK_TO_DIRECTORY = "is a symbolic link to a directory"


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


class StoredTree:
    """Every path of the index or of a commit (not only the candidates): where links lead."""

    def __init__(self, entries: Mapping[str, TreeEntry]) -> None:
        self.entries = entries
        self._sorted: list[str] | None = None

    def is_directory(self, path: str) -> bool:
        """Does some file live under `path`? (git stores files, not directories.)"""
        if not path:
            return True
        if self._sorted is None:
            self._sorted = sorted(self.entries)
        prefix = f"{path}/"
        at = bisect.bisect_left(self._sorted, prefix)
        return at < len(self._sorted) and self._sorted[at].startswith(prefix)

    def files_in(self, directory: str) -> list[str]:
        """The names of the files directly in `directory` (not in its subdirectories)."""
        if self._sorted is None:
            self._sorted = sorted(self.entries)
        prefix = f"{directory}/" if directory else ""
        names = []
        for path in self._sorted[bisect.bisect_left(self._sorted, prefix) :]:
            if not path.startswith(prefix):
                break
            if "/" not in path[len(prefix) :]:
                names.append(path[len(prefix) :])
        return names


def follow_link(
    path: str,
    tree: StoredTree,
    read_blob: Callable[[str], bytes],
    *,
    root: Path,
    description: str,
) -> str:
    """The blob a link stored in git at `path` (mode 120000) leads to, within `tree`.

    The target is resolved as the operating system resolves it on disk, one
    component at a time from the link's directory: a component that is itself a
    link (a linked directory, the next link of a chain) is replaced by its target,
    and `..` climbs from where the links led, not from the text. An absolute
    target counts only when it names a path under `root`, the work tree. What it
    reaches is read from `tree` (the index or a commit), never from disk.

    Raises `Unreadable` when the target leaves the tree (above its top, into
    `.git`, an absolute path elsewhere), when the chain loops or is longer than
    `MAX_LINKS`, or when `tree` has no file there.
    """
    found, todo = _resolve(path, tree, read_blob, root=root)
    entry = tree.entries.get(found)
    if not todo and entry is not None and entry.is_file:
        return entry.blob
    if not todo and (entry is not None or tree.is_directory(found)):
        raise Unreadable(f"{LINK_TO_DIRECTORY} ({excerpt(found)}), not a file")
    raise Unreadable(f"{DANGLING_LINK}: {description} has no {excerpt(found)}")


def _resolve(
    path: str, tree: StoredTree, read_blob: Callable[[str], bytes], *, root: Path
) -> tuple[str, list[str]]:
    """Where `path` leads in `tree`, every link on the way followed (see `follow_link`):
    the path reached, and what was left unwalked when a `..` met what is not there."""
    done: list[str] = []  # the real directories walked so far, from the top of the tree
    todo = path.split("/")
    links = 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not done:
                raise Unreadable(LEAVES_WORK_TREE)
            if not tree.is_directory("/".join(done)):
                break  # the OS cannot climb out of what is not there either
            done.pop()
            continue
        if not done and part == ".git":
            raise Unreadable(LEAVES_WORK_TREE)
        entry = tree.entries.get("/".join([*done, part]))
        if entry is None or not entry.is_symlink:
            done.append(part)
            continue
        links += 1
        if links > MAX_LINKS:
            raise Unreadable(LINK_LOOP)
        target = os.fsdecode(read_blob(entry.blob))
        if "\0" in target:
            raise Unreadable(LEAVES_WORK_TREE)
        if target.startswith("/"):
            todo = [*_inside_root(target, root), *todo]
            done = []
        else:
            todo = [*target.split("/"), *todo]
    return "/".join(done), todo


def resolve_directory_link(
    path: str, tree: StoredTree, read_blob: Callable[[str], bytes], *, root: Path
) -> str | None:
    """The directory of `tree` a link at `path` leads to, or None when it leads to none
    there; `Unreadable` when it leaves the tree or loops, as `follow_link`."""
    found, todo = _resolve(path, tree, read_blob, root=root)
    return found if not todo and tree.is_directory(found) else None


def _inside_root(target: str, root: Path) -> list[str]:
    """The components of an absolute link target below the work tree's top, if it is there."""
    parts = [part for part in target.split("/") if part not in ("", ".")]
    for top in {str(root), os.path.realpath(root)}:
        top_parts = [part for part in top.split("/") if part]
        if parts[: len(top_parts)] == top_parts:
            return parts[len(top_parts) :]
    raise Unreadable(LEAVES_WORK_TREE)


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
    return "migrations" in parts[:-1] or parts[-1] in ("apps.py", "migrations")


def is_package_link(path: str, entry: TreeEntry) -> bool:
    """A `migrations` package that is a link (to a directory, if anything)."""
    return entry.is_symlink and path.rpartition("/")[2] == "migrations"


@dataclass
class WorkingTree:
    repo: GitRepo
    description: str = "the working tree"

    def __post_init__(self) -> None:
        self._changed: dict[str, bytes | Exception] = {}
        self._entries: dict[str, str] | None = None
        self._started: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]] | None = None
        self._index: dict[str, TreeEntry] | None = None

    def start_listing(self) -> None:
        """Start git's listing now, so it runs while the caller imports and reads what it
        needs; `entries` finishes it."""
        if self._entries is None and self._started is None:
            self._started = self.repo.start_index_and_worktree(MIGRATION_PATHSPECS)

    def tracked(self) -> dict[str, TreeEntry]:
        """The index's entries, as soon as git lists them: before its status of the work tree,
        which `entries` waits for."""
        if self._index is None:
            if self._started is None:
                self._started = self.repo.start_index_and_worktree(MIGRATION_PATHSPECS)
            self._index = self.repo.finish_index(self._started[1])
        return self._index

    def entries(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = self._list()
        return self._entries

    def _list(self) -> dict[str, str]:
        index = self.tracked()
        started, self._started = self._started, None
        assert started is not None  # `tracked` started both listings
        modified, deleted, untracked = self.repo.finish_worktree(started[0])
        result = {path: entry.blob for path, entry in index.items() if path not in deleted}
        for path in sorted({*result, *untracked}):
            if path.rpartition("/")[2] == "migrations" and (self.repo.root / path).is_symlink():
                self._expand_package_link(path, result)
                untracked.discard(path)
                modified.discard(path)
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

    def _expand_package_link(self, path: str, result: dict[str, str]) -> None:
        """A `migrations` link on disk: the files of the directory it leads to, under its own
        path (read through it, as Django imports them); one leaving the tree is unreadable."""
        result.pop(path, None)
        if leaves_work_tree(self.repo.root, path):
            self._changed[path] = Unreadable(LEAVES_WORK_TREE)
            result[path] = f"unreadable:{path}"
            return
        directory = self.repo.root / path
        for child in sorted(directory.iterdir()) if directory.is_dir() else []:
            inside = f"{path}/{child.name}"
            if not child.is_file() or inside in result:
                continue
            try:
                self._changed[inside] = data = self._read_disk(inside)
                result[inside] = blob_id(data)
            except Unreadable as err:
                self._changed[inside] = err
                result[inside] = f"unreadable:{inside}"

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
    """Files as git stores them: a link (mode 120000) reads as the file it leads to there."""

    repo: GitRepo
    description: str

    def __post_init__(self) -> None:
        self._entries: dict[str, TreeEntry] = {}
        self._followed: dict[str, str | Unreadable] = {}
        self._ids: dict[str, str] | None = None

    @property
    def disk_root(self) -> Path | None:
        return None

    def _whole_tree(self) -> StoredTree:
        """Every path, not only the candidates: a link may lead anywhere in the tree."""
        raise NotImplementedError

    def entries(self) -> dict[str, str]:
        # A link's content id is its target's blob id, so caches follow the target's
        # content; one that cannot be followed is never cached.
        if self._ids is None:
            self._ids = {}
            for path, entry in list(self._entries.items()):
                if is_package_link(path, entry):
                    self._expand_package_link(path)
                    continue
                blob = self._follow(path) if entry.is_symlink else entry.blob
                self._ids[path] = blob if isinstance(blob, str) else f"unreadable:{path}"
        return self._ids

    def _expand_package_link(self, path: str) -> None:
        """A `migrations` link to a directory of the tree lists that directory's files under
        its own path, as Django imports them through it; one leaving the tree is unreadable."""
        assert self._ids is not None
        tree = self._whole_tree()
        try:
            target = resolve_directory_link(path, tree, self.repo.read_blob, root=self.repo.root)
        except Unreadable as err:
            self._followed[path] = err
            self._ids[path] = f"unreadable:{path}"
            return
        del self._entries[path]  # a directory, not a file
        for name in tree.files_in(target) if target is not None else []:
            inside = f"{path}/{name}"
            self._entries[inside] = LINKED  # read by following `path` on the way
            blob = self._follow(inside)
            self._ids[inside] = blob if isinstance(blob, str) else f"unreadable:{inside}"

    def read(self, path: str) -> bytes:
        entry = self._entries[path]
        blob = self._follow(path) if entry.is_symlink else entry.blob
        if isinstance(blob, Unreadable):
            raise Unreadable(str(blob))
        return self.repo.read_blob(blob)

    def _follow(self, path: str) -> str | Unreadable:
        if path not in self._followed:
            try:
                self._followed[path] = follow_link(
                    path,
                    self._whole_tree(),
                    self.repo.read_blob,
                    root=self.repo.root,
                    description=self.description,
                )
            except Unreadable as err:
                self._followed[path] = err
        return self._followed[path]


class Index(_GitObjects):
    """What the next commit will hold: the pre-commit hook checks this, not the files on disk."""

    def __init__(self, repo: GitRepo) -> None:
        super().__init__(repo, "the index")
        self._entries = repo.index_entries(MIGRATION_PATHSPECS)
        self._everything: StoredTree | None = None

    def _whole_tree(self) -> StoredTree:
        if self._everything is None:  # listed only when there is a link to follow
            self._everything = StoredTree(self.repo.index_entries(()))
        return self._everything


class Commit(_GitObjects):
    def __init__(self, repo: GitRepo, rev: str) -> None:
        sha = repo.resolve(rev)
        super().__init__(repo, f"commit {rev}" if rev == sha else f"{rev} ({sha[:12]})")
        self.sha = sha
        everything = repo.tree_entries(sha)
        self._everything = StoredTree(everything)
        self._entries = {p: e for p, e in everything.items() if is_candidate(p)}

    def _whole_tree(self) -> StoredTree:
        return self._everything


def read_at(repo: GitRepo, rev: str, path: str) -> bytes | None:
    """The file at `path` in commit `rev` as `check --rev` reads it, or None if it has none.

    A link is followed inside that commit's tree (the whole tree is listed only then);
    one that cannot be followed reads as no file.
    """
    out = repo.run(
        "--literal-pathspecs",
        "ls-tree",
        "-z",
        "--full-tree",
        "--end-of-options",
        rev,
        "--",
        path,
        check=False,
    )
    for record in out.split(b"\0"):
        meta, _, name = record.partition(b"\t")
        if not name or os.fsdecode(name) != path:
            continue
        mode, kind, blob = meta.decode().split(" ")
        if kind != "blob":
            return None
        entry = TreeEntry(mode, blob)
        if not entry.is_symlink:
            return repo.read_blob(entry.blob)
        tree = StoredTree(repo.tree_entries(rev))
        try:
            target = follow_link(path, tree, repo.read_blob, root=repo.root, description=rev)
        except Unreadable:
            return None
        return repo.read_blob(target)
    return None


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
