"""`migrail switch BRANCH`: roll back while the current files are present, switch, migrate.

For people without the hooks: the rollback runs with the current code before git
changes the files, so it needs no older tree. The target is the branch's first-party
migrations; contrib and third-party migrations stay (see `sync_plan.plan_sync`).
"""

from __future__ import annotations

import os
import subprocess
import sys

from migrail.database.plan import static_target
from migrail.database.settings import caller_settings_module
from migrail.database.sync import SyncOptions, roll_back_for_switch
from migrail.errors import EXIT_FINDINGS, MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo


def run_switch(repo: GitRepo, config: Config, branch: str, options: SyncOptions) -> int:
    target = static_target(repo, config, repo.resolve(branch))
    left = repo.resolve("HEAD")
    if repo.run("status", "--porcelain", "--untracked-files=no").strip():
        raise MigrailError("the working tree has uncommitted changes; commit or stash them first")
    if config.snapshots:
        from migrail.database.branch_snapshots import switch_with_snapshots

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
        from migrail.database.branch_snapshots import note_sync_result

        note_sync_result(repo, config, left, synced=status == 0, database=options.database)
    if switched.returncode != 0:
        print(
            f"migrail: git switch {branch} failed; the database was put back to this branch's "
            "migrations",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    return status
