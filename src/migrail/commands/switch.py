"""`migrail switch BRANCH` (`-c NEW [START]`, `--detach REV`): refuse what would go wrong,
`git switch`, then sync as the hook does.

For people without the hooks. Everything that can refuse without the database comes
first (an uncommitted or untracked file, a branch git would not take): then nothing has
changed. `git switch` runs with the hooks skipped, and this process then does what
the post-checkout hook does (`after_checkout.AfterCheckout`): with snapshots, save the branch
left and restore the branch arrived at; then `sync --from` the commit left, whose
rollback runs with that commit's code (`old_code_rollback`) and whose migrate runs with
the new checkout's settings and code, set up here for the first time.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from dataclasses import dataclass

from migrail.errors import EXIT_FINDINGS, MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo


@dataclass(frozen=True)
class Destination:
    """Where `git switch` goes: what it is given after `switch`, and the commit it checks out."""

    git_args: tuple[str, ...]
    commit: str
    name: str  # as the user gave it, for messages


def run(
    *,
    branch: str | None,
    create: str | None = None,
    detach: bool = False,
    database: str | None,
    backup: bool,
) -> int:
    """The command line's `migrail switch BRANCH`, `-c NEW [START]`, `--detach [REV]`."""
    if _django_started():
        return _in_a_fresh_process(branch, create, detach, database, backup)
    from migrail.sources.config import load_config
    from migrail.sync.errors import database_errors

    with database_errors():
        repo = GitRepo.discover()
        destination = destination_of(repo, branch, create=create, detach=detach)
        return run_switch(
            repo, load_config(repo.root), destination, database=database, backup=backup
        )


def destination_of(
    repo: GitRepo, name: str | None, *, create: str | None = None, detach: bool = False
) -> Destination:
    """What `git switch` is asked, checked as git would check it; raises `MigrailError`."""
    if create is not None:
        return _new_branch(repo, create, name)
    if detach:
        rev = name or "HEAD"
        return Destination(("--detach", "--end-of-options", rev), _commit(repo, rev), rev)
    if name is None:
        raise MigrailError("name a branch (or -c NEW to make one, --detach REV for a commit)")
    if name == "-":
        name = _previous_branch(repo)
    return _local_branch(repo, name)


def _previous_branch(repo: GitRepo) -> str:
    """`-`, as `git switch -` reads it: the branch checked out before this one."""
    ref = repo.run("rev-parse", "--symbolic-full-name", "@{-1}", check=False).decode().strip()
    if not ref.startswith("refs/heads/"):
        raise MigrailError(
            "`-` names the branch checked out before this one, and there is none (the last "
            "checkout came from a detached HEAD, or there was none); nothing was changed"
        )
    return ref.removeprefix("refs/heads/")


def run_switch(
    repo: GitRepo, config: Config, destination: Destination, *, database: str | None, backup: bool
) -> int:
    from migrail.commands.after_checkout import AfterCheckout, said_interrupted
    from migrail.snapshots.branches import branch_switch, finish_interrupted

    left = repo.resolve("HEAD")
    _refuse_uncommitted_changes(repo, destination.name)
    _refuse_a_switch_git_would_refuse(repo, destination)
    env = {**os.environ, "MIGRAIL_SKIP": "1"}  # this command syncs; the hooks need not
    command = ["git", "switch", *destination.git_args]
    switched = subprocess.run(command, cwd=repo.root, env=env)
    if switched.returncode != 0:
        said = " ".join(destination.git_args).replace(" --end-of-options", "")
        print(f"migrail: git switch {said} failed; nothing was changed", file=sys.stderr)
        return EXIT_FINDINGS
    finish_interrupted(repo, config)  # with the new checkout's settings, as its sync uses
    moved = branch_switch(repo, left) if config.snapshots else None  # as the hook finds it
    after = AfterCheckout(repo, config, left, switch=moved, database=database, backup=backup)
    try:
        return after.run()
    except KeyboardInterrupt:
        return said_interrupted(repo, after.from_rev)


def _django_started() -> bool:
    """Whether this process set Django up already (`manage.py migrail switch`): with the
    settings and code of the branch left, which the migrate after the switch must not use."""
    conf = sys.modules.get("django.conf")
    return conf is not None and bool(conf.settings.configured)


def _in_a_fresh_process(
    branch: str | None, create: str | None, detach: bool, database: str | None, backup: bool
) -> int:
    """The whole switch in a process of its own, which sets Django up after `git switch`."""
    command = [sys.executable, "-m", "migrail", "switch"]
    command += ["--database", database] if database else []
    command += [] if backup else ["--no-backup"]
    command += ["--create", create] if create is not None else []
    command += ["--detach"] if detach else []
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run([*command, "--", *([branch] if branch else [])]).returncode


def _refuse_uncommitted_changes(repo: GitRepo, branch: str) -> None:
    changed = repo.run("status", "--porcelain", "--untracked-files=no").decode().splitlines()
    if changed:
        names = ", ".join(line[3:] for line in changed[:5]) + (", …" if len(changed) > 5 else "")
        raise MigrailError(
            f"the working tree has uncommitted changes ({names}); commit or stash them first"
        )
    untracked = [
        path
        for path in repo.run(
            "ls-files", "--others", "--exclude-standard", "--", ":(glob)**/migrations/*.py"
        )
        .decode()
        .splitlines()
        if not path.rsplit("/", 1)[-1].startswith("__")
    ]
    if untracked:
        names = ", ".join(untracked[:5]) + (", …" if len(untracked) > 5 else "")
        raise MigrailError(
            f"the working tree has untracked migrations ({names}), which git would carry to "
            f"{branch!r}; commit them, stash them (`git stash -u`) or remove them first; "
            "nothing was changed"
        )


def _local_branch(repo: GitRepo, branch: str) -> Destination:
    """Local branch `branch`, which `git switch` takes as it is; or, as git guesses, the one
    remote branch of that name, made a local branch tracking it.

    Anything else (a tag, a commit, a name that is nowhere, a branch another worktree has
    checked out) would make `git switch` refuse after the rollback had run.
    """
    ref = f"refs/heads/{branch}"
    commit = _verify(repo, ref)
    if not commit:
        remotes = _remote_branches_named(repo, branch)
        if len(remotes) == 1:
            return Destination(
                ("--track", "--end-of-options", remotes[0]), _commit(repo, remotes[0]), branch
            )
        raise MigrailError(_not_a_branch(repo, branch, remotes))
    current = repo.run("symbolic-ref", "--quiet", "HEAD", check=False).decode().strip()
    if ref != current:
        for block in repo.run("worktree", "list", "--porcelain").decode().split("\n\n"):
            lines = block.splitlines()
            if f"branch {ref}" in lines and lines and lines[0].startswith("worktree "):
                raise MigrailError(
                    f"branch {branch!r} is checked out in another worktree "
                    f"({lines[0].removeprefix('worktree ')}); nothing was changed"
                )
    return Destination(("--end-of-options", branch), commit, branch)


def _new_branch(repo: GitRepo, new: str, start: str | None) -> Destination:
    """`-c NEW [START]`: a name git takes for a new branch, and a commit to start it at."""
    valid = repo.run("check-ref-format", "--branch", new, check=False).decode().strip()
    if not valid or valid != new:
        raise MigrailError(f"{new!r} is not a valid branch name; nothing was changed")
    if _verify(repo, f"refs/heads/{new}"):
        raise MigrailError(
            f"a branch named {new!r} already exists (`migrail switch {new}` switches to it); "
            "nothing was changed"
        )
    rev = start or "HEAD"
    args = ("-c", new, "--end-of-options", *([start] if start else []))
    return Destination(args, _commit(repo, rev), new)


def _commit(repo: GitRepo, rev: str) -> str:
    commit = _verify(repo, f"{rev}^{{commit}}")
    if not commit:
        raise MigrailError(f"{rev!r} is not a commit git knows; nothing was changed")
    return commit


def _verify(repo: GitRepo, rev: str) -> str:
    return (
        repo.run("rev-parse", "--verify", "--quiet", "--end-of-options", rev, check=False)
        .decode()
        .strip()
    )


def _remote_branches_named(repo: GitRepo, branch: str) -> list[str]:
    refs = repo.run("for-each-ref", "--format=%(refname:short)", "refs/remotes").decode().split()
    return sorted(ref for ref in refs if ref.split("/", 1)[-1] == branch)


def _not_a_branch(repo: GitRepo, name: str, remotes: list[str]) -> str:
    """Why `name` is not a local branch, and the command that does what was meant."""
    unchanged = "; nothing was changed"
    if remotes:
        choices = " or ".join(f"`migrail switch -c {name} {remote}`" for remote in remotes)
        return f"{name!r} is a branch of several remotes: {choices}{unchanged}"
    if _verify(repo, f"refs/tags/{name}"):
        return (
            f"{name!r} is a tag, not a branch: `migrail switch --detach {name}` checks it out, "
            f"`migrail switch -c NEW {name}` starts a branch there{unchanged}"
        )
    if _verify(repo, f"refs/remotes/{name}"):
        local = name.split("/", 1)[-1]
        return (
            f"{name!r} is a remote branch: `migrail switch {local}` makes a local branch "
            f"tracking it (or `migrail switch -c NEW {name}`){unchanged}"
        )
    if _verify(repo, f"{name}^{{commit}}"):
        return f"{name!r} is a commit, not a branch: `migrail switch --detach {name}`{unchanged}"
    branches = repo.run("for-each-ref", "--format=%(refname:short)", "refs/heads").decode().split()
    close = difflib.get_close_matches(name, branches, n=3)
    if close:
        meant = " or ".join(map(repr, close))
        return f"no local branch {name!r} (did you mean {meant}?){unchanged}"
    return f"no local branch {name!r} (`migrail switch -c {name}` makes one here){unchanged}"


def _refuse_a_switch_git_would_refuse(repo: GitRepo, destination: Destination) -> None:
    """Ask git first (a dry-run two-tree merge, as checkout does), so that a refusal says
    "nothing was changed" as the other refusals do (an untracked file in the way).
    """
    proc = subprocess.run(
        ["git", "read-tree", "-n", "-m", "-u", "HEAD", destination.commit],
        cwd=repo.root,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[0].removeprefix("error: ") if lines else f"exit status {proc.returncode}"
        raise MigrailError(
            f"git switch {destination.name} would fail ({reason}); nothing was changed"
        )
