"""post-checkout, post-merge and post-rewrite: sync the database after git moved HEAD.

The installed hook script already returned when no migration changed; this
repeats those checks for callers that skip the script (the pre-commit
framework's `migrail-sync` entry) before importing Django.
"""

from __future__ import annotations

import os
import sys

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError
from migrail.sources.checkout_decision import ZERO_SHA, checkout_needs_sync
from migrail.sources.config import load_config
from migrail.sources.gitrepo import GitRepo


def run_sync_hook(name: str, args: list[str]) -> int:
    repo = GitRepo.discover()
    config = load_config(repo.root)
    if os.environ.get("CI") and not config.sync_in_ci:
        return EXIT_CLEAN
    if name == "pre-commit-sync":
        name, args = _from_pre_commit_environment()
    from_rev = _previous_head(repo, name, args)
    if from_rev is None:
        return EXIT_CLEAN
    from migrail.database.errors import database_errors
    from migrail.database.sync import SyncOptions, run_sync

    try:
        with database_errors():
            if name == "post-checkout" and config.snapshots:
                from migrail.database.branch_snapshots import arrive_after_checkout

                from_rev = arrive_after_checkout(repo, config, from_rev)
            return run_sync(repo, config, SyncOptions(from_rev=from_rev))
    except MigrailError as err:
        print(f"migrail: the database was not synced: {err}", file=sys.stderr)
        print(f"migrail: when that is fixed, run {_retry(repo, from_rev)}", file=sys.stderr)
        return EXIT_FINDINGS


def _retry(repo: GitRepo, from_rev: str | None) -> str:
    """The command that finishes this sync later: with the commit, since ORIG_HEAD moves on."""
    try:
        return (
            f"`migrail sync --from {repo.resolve(from_rev)[:12]}`" if from_rev else "`migrail sync`"
        )
    except MigrailError:
        return "`migrail sync`"


def _previous_head(repo: GitRepo, name: str, args: list[str]) -> str | None:
    """The commit whose migrations the database follows now, or None when there is nothing to do."""
    if name == "post-checkout":
        if len(args) != 3:
            return None
        for state in ("rebase-merge", "rebase-apply"):
            if (repo.git_dir / state).exists():
                return None  # post-rewrite syncs once the rebase is done
        old, new, flag = args
        return old if checkout_needs_sync(old, new, flag, cwd=repo.root) else None
    if name == "post-merge":
        return "ORIG_HEAD"
    if name == "post-rewrite":
        return "ORIG_HEAD" if args[:1] == ["rebase"] else "HEAD@{1}"
    raise MigrailError(f"unknown hook {name!r}")


def _from_pre_commit_environment() -> tuple[str, list[str]]:
    env = os.environ
    if "PRE_COMMIT_CHECKOUT_TYPE" in env:
        return "post-checkout", [
            env.get("PRE_COMMIT_FROM_REF", ZERO_SHA),
            env.get("PRE_COMMIT_TO_REF", ""),
            env["PRE_COMMIT_CHECKOUT_TYPE"],
        ]
    if "PRE_COMMIT_REWRITE_COMMAND" in env:
        return "post-rewrite", [env["PRE_COMMIT_REWRITE_COMMAND"]]
    return "post-merge", []
