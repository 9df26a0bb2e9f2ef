"""A commit's files, written outside the working tree for the length of a rollback.

`git read-tree` into a private index and `git checkout-index --prefix`: no worktree
is registered and nothing in the working tree or the real index changes. Trees live
under `<git common dir>/migrail/trees/`, named after the process that wrote them, so
the next run removes what a killed run left behind.

Writing a large tree costs what its files cost the file system, so sync starts it in
a thread as soon as the diff says migrations went away (`prepare`), while Django starts;
removal also runs in a thread, while the tree's pending migrations are applied. Work that
needs the tree's name but not yet its files (the layer above starts the process that will
run there, `start_with_each_tree`) starts with the writing, and is discarded with the files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from migrail.errors import MigrailError
from migrail.sources.checkout_decision import MIGRATION_PATHSPECS
from migrail.sources.gitrepo import GitRepo
from migrail.sources.processes import process_alive


class Companion(Protocol):
    """Work started with a commit's files, ended with them."""

    def discard(self) -> None: ...


Starter = Callable[[GitRepo, Path], Companion]
_starters: list[Starter] = []


def start_with_each_tree(starter: Starter) -> None:
    """Call `starter(repo, directory)` as each commit's files start being written (in the
    thread that asked for them): its result's `discard()` runs when the files are removed."""
    if starter not in _starters:
        _starters.append(starter)


class CommitFiles:
    """The files of one commit, written by a background thread."""

    def __init__(self, repo: GitRepo, commit: str) -> None:
        parent = repo.migrail_dir / "trees"
        parent.mkdir(mode=0o700, exist_ok=True)
        remove_leftovers(parent)
        self.commit = commit
        self.directory = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
        self._index = self.directory.with_name(self.directory.name + ".index")
        self._error: str | None = None
        self._writer = threading.Thread(target=self._write, args=(repo.root,))
        self._writer.start()
        self._companions = [start(repo, self.directory) for start in _starters]

    def _write(self, root: Path) -> None:
        env = {**os.environ, "GIT_INDEX_FILE": str(self._index)}
        for args in (
            ["read-tree", self.commit],
            ["checkout-index", "--all", "--force", f"--prefix={self.directory}/"],
        ):
            proc = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True)
            if proc.returncode != 0:
                self._error = proc.stderr.decode(errors="replace").strip()
                return

    def path(self) -> Path:
        self._writer.join()
        if self._error is not None:
            raise MigrailError(f"cannot write the files of {self.commit[:12]}: {self._error}")
        return self.directory

    def discard(self) -> None:
        """Remove the files in the background (the process waits for it before exiting)."""
        for companion in self._companions:
            companion.discard()

        def remove() -> None:
            self._writer.join()
            shutil.rmtree(self.directory, ignore_errors=True)
            self._index.unlink(missing_ok=True)

        threading.Thread(target=remove).start()


_prepared: dict[str, CommitFiles] = {}


def prepare(repo: GitRepo, rev: str) -> None:
    """Start writing `rev`'s files when migration files it has are gone from the checkout."""
    try:
        commit = repo.resolve(rev)
    except MigrailError:
        return  # said where the commit is needed, if it is
    diff = ["git", "diff", "--quiet", "--no-renames", "--diff-filter=D", commit]
    gone = subprocess.run(
        [*diff, "--", *MIGRATION_PATHSPECS],
        cwd=repo.root,
        capture_output=True,
    )
    if gone.returncode == 1:
        _prepared.setdefault(commit, CommitFiles(repo, commit))


def discard_prepared() -> None:
    while _prepared:
        _prepared.popitem()[1].discard()


@contextmanager
def commit_tree(repo: GitRepo, commit: str) -> Iterator[Path]:
    """The files of `commit` (a full sha) in a fresh directory, removed afterwards."""
    files = _prepared.pop(commit, None) or CommitFiles(repo, commit)
    try:
        yield files.path()
    finally:
        files.discard()


def remove_dead_trees(repo: GitRepo) -> None:
    """Every sync's first step: a killed run's trees go even when no rollback follows."""
    parent = repo.migrail_dir / "trees"
    if parent.is_dir():
        remove_leftovers(parent)


def remove_leftovers(parent: Path) -> None:
    """Trees and indexes of processes that no longer run (a killed sync)."""
    for path in parent.iterdir():
        pid = path.name.split("-", 1)[0]
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
