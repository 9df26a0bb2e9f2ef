"""`migrail switch BRANCH`: roll back while the current files are present, switch, migrate.

For people without the hooks: the rollback runs with the current code before git
changes the files, so it needs no older tree. The target is the branch's first-party
migrations; contrib and third-party migrations stay (see `sync_plan.plan_sync`).
"""

from __future__ import annotations

import os
import subprocess
import sys

from migrail.commands.sync import roll_back_for_switch
from migrail.errors import EXIT_FINDINGS, MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.plan import static_target
from migrail.sync.session import SyncOptions
from migrail.sync.settings import caller_settings_module


def run(*, branch: str, database: str | None, backup: bool) -> int:
    """The command line's `migrail switch BRANCH`."""
    from migrail.commands.features import sync_feature
    from migrail.snapshots.branches import finish_interrupted
    from migrail.sources.config import load_config
    from migrail.sync.errors import database_errors

    with database_errors():
        repo = GitRepo.discover()
        config = load_config(repo.root)
        finish_interrupted(repo, config)
        options = SyncOptions(database=database, backup=backup, feature=sync_feature(repo, config))
        return run_switch(repo, config, branch, options)


def run_switch(repo: GitRepo, config: Config, branch: str, options: SyncOptions) -> int:
    commit = _local_branch(repo, branch)
    target = static_target(repo, config, commit)
    left = repo.resolve("HEAD")
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
    _refuse_a_switch_git_would_refuse(repo, branch, commit)
    if config.snapshots:
        from migrail.snapshots.branches import switch_with_snapshots

        done = switch_with_snapshots(repo, config, branch, options.database)
        if done is not None:
            return done
    roll_back_for_switch(repo, config, target, options)
    env = {**os.environ, "MIGRAIL_SKIP": "1"}  # this command migrates; the hooks need not
    switched = subprocess.run(["git", "switch", "--end-of-options", branch], cwd=repo.root, env=env)
    forward = [sys.executable, "-m", "migrail", "sync", "--no-backup"]
    if options.database:
        forward += ["--database", options.database]
    # The settings are resolved anew against the new branch's files, as its hooks would.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    caller = caller_settings_module()
    if caller:
        env["DJANGO_SETTINGS_MODULE"] = caller
    status = subprocess.run(forward, cwd=repo.root, env=env).returncode
    if config.snapshots and switched.returncode == 0:
        from migrail.snapshots.branches import note_sync_result

        note_sync_result(repo, config, left, synced=status == 0, database=options.database)
    if switched.returncode != 0:
        outcome = (
            "the database was put back to this branch's migrations"
            if status == 0
            else "putting the database back failed too (see above); run `migrail sync`"
        )
        print(f"migrail: git switch {branch} failed; {outcome}", file=sys.stderr)
        return EXIT_FINDINGS
    return status


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
    """Ask git first (a dry-run two-tree merge, as checkout does), before rolling anything back.

    An untracked file in the way would stop `git switch` after the rollback.
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
