"""A commit's files, written outside the working tree for the length of a rollback.

`git read-tree` into a private index and `git checkout-index --prefix`: no worktree
is registered and nothing in the working tree or the real index changes. Trees live
under `<git common dir>/migrail/trees/`, named after the process that wrote them, so
the next run removes what a killed run left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from migrail.errors import MigrailError
from migrail.gitrepo import GitRepo


@contextmanager
def commit_tree(repo: GitRepo, commit: str) -> Iterator[Path]:
    """The files of `commit` (a full sha) in a fresh directory, removed afterwards."""
    parent = repo.migrail_dir / "trees"
    parent.mkdir(mode=0o700, exist_ok=True)
    remove_leftovers(parent)
    directory = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
    index = directory.with_name(directory.name + ".index")
    try:
        env = {**os.environ, "GIT_INDEX_FILE": str(index)}
        for args in (
            ["read-tree", commit],
            ["checkout-index", "--all", "--force", f"--prefix={directory}/"],
        ):
            proc = subprocess.run(
                ["git", *args], cwd=repo.root, env=env, capture_output=True, check=False
            )
            if proc.returncode != 0:
                message = proc.stderr.decode(errors="replace").strip()
                raise MigrailError(f"cannot write the files of {commit[:12]}: {message}")
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        index.unlink(missing_ok=True)


def remove_leftovers(parent: Path) -> None:
    """Trees and indexes of processes that no longer run (a killed sync)."""
    for path in parent.iterdir():
        pid = path.name.split("-", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
