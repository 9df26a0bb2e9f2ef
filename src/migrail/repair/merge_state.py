"""Which git operation is in progress, and so which side's migrations stay and which move.

Read from git's own state files, never guessed from the graph:

- merge (`MERGE_HEAD`): this branch is HEAD; its migrations move after MERGE_HEAD's;
- rebase, either backend (`rebase-merge/`, `rebase-apply/`): HEAD is the new base;
  the commit being replayed (`REBASE_HEAD`) is this branch's, and moves;
- cherry-pick (`CHERRY_PICK_HEAD`): the picked commit's migrations move after HEAD's;
- nothing in progress: what the default branch lacks moves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from migrail.errors import MigrailError, Refusal
from migrail.graph.parser import Key
from migrail.sources.gitrepo import GitRepo
from migrail.sources.packages import is_migration_module

Kind = Literal["merge", "rebase", "cherry-pick", "none"]
DEFAULT_BRANCHES = ("origin/HEAD", "main", "master", "@{upstream}")


@dataclass(frozen=True)
class Operation:
    kind: Kind
    base: str  # the revision whose migrations keep their names
    session: str | None = None  # identifies one rebase, across its steps
    base_name: str = ""  # how the user knows `base`: a branch, MERGE_HEAD, HEAD, --onto's REV
    # In a merge: this branch's migrations on a remote's default branch (path, where), which
    # made `base` this branch's side instead of MERGE_HEAD's.
    published: tuple[tuple[str, str], ...] = ()


def current_operation(repo: GitRepo, onto: str | None = None) -> Operation:
    """The operation in progress; `onto`, when given, is validated and names the side to keep."""
    base = repo.resolve(onto) if onto is not None else None
    git_dir = repo.git_dir
    if (git_dir / "MERGE_HEAD").exists():
        return Operation(
            "merge", base or repo.resolve("MERGE_HEAD"), base_name=onto or "MERGE_HEAD"
        )
    for state in ("rebase-merge", "rebase-apply"):
        if (git_dir / state).is_dir():
            orig = git_dir / state / "orig-head"
            session = orig.read_text().strip() if orig.exists() else state
            return Operation("rebase", base or repo.resolve("HEAD"), session, onto or "HEAD")
    if (git_dir / "CHERRY_PICK_HEAD").exists():
        return Operation("cherry-pick", base or repo.resolve("HEAD"), base_name=onto or "HEAD")
    if base is not None:
        return Operation("none", base, base_name=onto or "")
    head = repo.head()
    for ref in DEFAULT_BRANCHES:
        try:
            sha = repo.resolve(ref)
        except MigrailError:
            continue
        if sha != head:
            return Operation("none", sha, base_name=ref)
    raise MigrailError(
        "no merge, rebase or cherry-pick is in progress and no default branch differs from HEAD; "
        "name the side to keep with --onto REV"
    )


def keeping_published(repo: GitRepo, operation: Operation, packages: list[str]) -> Operation:
    """In a merge (no --onto), this branch's migrations move after MERGE_HEAD's, unless, in
    the forked migration `packages`, this branch's are published (on a remote's default
    branch: deployed databases may have applied them) and MERGE_HEAD's are not; then
    MERGE_HEAD's move. Both published: refused."""
    if operation.kind != "merge" or operation.base_name != "MERGE_HEAD":
        return operation
    head, merge_head = repo.resolve("HEAD"), operation.base
    ours = _published(repo, _only_in(repo, head, merge_head, packages))
    theirs = _published(repo, _only_in(repo, merge_head, head, packages))
    if ours and theirs:
        raise Refusal(
            "both sides' migrations are on a remote's main branch ("
            + ", ".join(f"{path} on {where}" for path, where in {**ours, **theirs}.items())
            + "): renaming either breaks the databases that applied them; join them with "
            "`python manage.py makemigrations --merge APP` instead; nothing was changed"
        )
    if ours:
        return Operation("merge", head, base_name="HEAD", published=tuple(ours.items()))
    return operation


def _only_in(repo: GitRepo, commit: str, other: str, packages: list[str]) -> list[str]:
    """Migration files of `packages` (directories) that `commit` has and `other` lacks."""
    if not packages:
        return []
    out = repo.run(
        "diff",
        "--name-only",
        "--no-renames",
        "--diff-filter=D",
        commit,
        other,
        "--",
        *(f":(literal){package}" for package in packages),
    )
    return [
        path for path in out.decode().splitlines() if is_migration_module(path.rpartition("/")[2])
    ]


def _published(repo: GitRepo, paths: list[str]) -> dict[str, str]:
    """Those of `paths` a remote's default branch has (`origin/HEAD`, `*/main`, `*/master`),
    each with the first such branch (`origin/main`): what deploys and teammates apply. A
    pushed feature branch is not published so."""
    if not paths:
        return {}
    refs = (
        repo.run(
            "for-each-ref",
            "--format=%(refname)",
            "refs/remotes/*/HEAD",
            "refs/remotes/*/main",
            "refs/remotes/*/master",
        )
        .decode()
        .split()
    )
    if not refs:
        return {}
    wanted = "".join(f"{ref}:{path}\n" for path in paths for ref in refs)
    found = repo.run("cat-file", "--batch-check=%(objecttype)", stdin=wanted.encode()).decode()
    kinds = iter(found.splitlines())
    published = {}
    for path in paths:
        where = [ref for ref in refs if next(kinds, "") == "blob"]
        if where:
            published[path] = where[0].removeprefix("refs/remotes/")
    return published


def branch_being_rebased(repo: GitRepo) -> tuple[str, str] | None:
    """(the branch a rebase in progress rewrites, the commit it was at), or None.

    Mid-rebase HEAD is detached on the new base; the database still holds what the
    branch had before (its original head), which is what a backup taken now records.
    """
    for state in ("rebase-merge", "rebase-apply"):
        directory = repo.git_dir / state
        try:
            name = (directory / "head-name").read_text().strip()
            orig = (directory / "orig-head").read_text().strip()
        except OSError:
            continue
        branch = name.removeprefix("refs/heads/") if name.startswith("refs/heads/") else ""
        return branch, orig
    return None


def _renames_path(repo: GitRepo) -> Path:
    return repo.migrail_dir / "rebase-renames.json"


def remembered_renames(repo: GitRepo, operation: Operation) -> dict[Key, Key]:
    """Renames made by earlier steps of the same rebase, so later commits follow them."""
    if operation.kind != "rebase":
        return {}
    try:
        data = json.loads(_renames_path(repo).read_text())
    except (OSError, ValueError):
        return {}
    if data.get("session") != operation.session:
        return {}
    return {(a, o): (a, n) for a, o, n in data.get("renames", [])}


def remember_renames(
    repo: GitRepo, operation: Operation, renames: list[tuple[str, str, str]]
) -> None:
    """Add this step's renames (app, old, new) to those of the rebase's earlier steps."""
    previous = remembered_renames(repo, operation)
    kept = [[a, o, n] for (a, o), (_, n) in previous.items()]
    kept += [list(rename) for rename in renames]
    _renames_path(repo).write_text(json.dumps({"session": operation.session, "renames": kept}))
