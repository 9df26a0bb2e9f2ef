"""`migrail switch BRANCH`: refuse what would go wrong, `git switch`, then sync as the hook does.

For people without the hooks. Everything that can refuse without the database comes
first (an uncommitted or untracked file, a branch git would not take): then nothing has
changed. `git switch` runs with the hooks skipped, and this process then does what
the post-checkout hook does (`hook.AfterCheckout`): with snapshots, save the branch
left and restore the branch arrived at; then `sync --from` the commit left, whose
rollback runs with that commit's code (`old_code_rollback`) and whose migrate runs with
the new checkout's settings and code, set up here for the first time.
"""

from __future__ import annotations

import os
import subprocess
import sys

from migrail.errors import EXIT_FINDINGS, MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo


def run(*, branch: str, database: str | None, backup: bool) -> int:
    """The command line's `migrail switch BRANCH`."""
    if _django_started():
        return _in_a_fresh_process(branch, database, backup)
    from migrail.sources.config import load_config
    from migrail.sync.errors import database_errors

    with database_errors():
        repo = GitRepo.discover()
        return run_switch(repo, load_config(repo.root), branch, database=database, backup=backup)


def run_switch(
    repo: GitRepo, config: Config, branch: str, *, database: str | None, backup: bool
) -> int:
    from migrail.commands.hook import AfterCheckout
    from migrail.snapshots.branches import current_branch, finish_interrupted

    commit = _local_branch(repo, branch)
    left = repo.resolve("HEAD")
    left_branch = current_branch(repo)
    _refuse_uncommitted_changes(repo, branch)
    _refuse_a_switch_git_would_refuse(repo, branch, commit)
    env = {**os.environ, "MIGRAIL_SKIP": "1"}  # this command syncs; the hooks need not
    switched = subprocess.run(["git", "switch", "--end-of-options", branch], cwd=repo.root, env=env)
    if switched.returncode != 0:
        print(f"migrail: git switch {branch} failed; nothing was changed", file=sys.stderr)
        return EXIT_FINDINGS
    finish_interrupted(repo, config)  # with the new checkout's settings, as its sync uses
    moved = (left_branch, branch) if config.snapshots and left_branch != branch else None
    after = AfterCheckout(repo, config, left, switch=moved, database=database, backup=backup)
    return after.run()


def _django_started() -> bool:
    """Whether this process set Django up already (`manage.py migrail switch`): with the
    settings and code of the branch left, which the migrate after the switch must not use."""
    conf = sys.modules.get("django.conf")
    return conf is not None and bool(conf.settings.configured)


def _in_a_fresh_process(branch: str, database: str | None, backup: bool) -> int:
    """The whole switch in a process of its own, which sets Django up after `git switch`."""
    command = [sys.executable, "-m", "migrail", "switch"]
    command += ["--database", database] if database else []
    command += [] if backup else ["--no-backup"]
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run([*command, "--", branch]).returncode


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


def _local_branch(repo: GitRepo, branch: str) -> str:
    """The commit of local branch `branch`, which must be one `git switch` takes as it is.

    Anything else (a remote branch, a tag, a commit, a branch another worktree has
    checked out) would make `git switch` refuse after the rollback had run.
    """
    ref = f"refs/heads/{branch}"
    commit = (
        repo.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        .decode()
        .strip()
    )
    if not commit:
        raise MigrailError(
            f"{branch!r} is not a local branch, and migrail switch takes only those; "
            "nothing was changed (for a remote branch: `git branch NAME REMOTE/BRANCH`, "
            "then `migrail switch NAME`)"
        )
    current = repo.run("symbolic-ref", "--quiet", "HEAD", check=False).decode().strip()
    if ref != current:
        for block in repo.run("worktree", "list", "--porcelain").decode().split("\n\n"):
            lines = block.splitlines()
            if f"branch {ref}" in lines and lines and lines[0].startswith("worktree "):
                raise MigrailError(
                    f"branch {branch!r} is checked out in another worktree "
                    f"({lines[0].removeprefix('worktree ')}); nothing was changed"
                )
    return commit


def _refuse_a_switch_git_would_refuse(repo: GitRepo, branch: str, commit: str) -> None:
    """Ask git first (a dry-run two-tree merge, as checkout does), so that a refusal says
    "nothing was changed" as the other refusals do (an untracked file in the way).
    """
    proc = subprocess.run(
        ["git", "read-tree", "-n", "-m", "-u", "HEAD", commit],
        cwd=repo.root,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[0].removeprefix("error: ") if lines else f"exit status {proc.returncode}"
        raise MigrailError(f"git switch {branch} would fail ({reason}); nothing was changed")
