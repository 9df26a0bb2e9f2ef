"""The `migrail` executable's first step: answer "nothing to do" before importing anything heavy.

pre-commit's `migrail-sync` entry runs on every checkout; when no migration
file differs between the two commits (the common case) and branch snapshots are off,
this returns after one `git diff --quiet` and one `git config`, as the installed hook
scripts do in the shell.
"""

from __future__ import annotations

import os
import sys

from migrail.sources.checkout_decision import (
    checkout_needs_sync,
    is_branch_checkout,
    snapshots_may_be_on,
)

# `migrail check` with no option, or only these, spelt out in full: the command line needs no
# parser. Building argparse's (every command's options, a help formatter per option) is
# about 10 ms of any check (a warm one of 10,000 files went 0.113 -> 0.103 s).
CHECK_FLAGS = ("--staged", "--fix")


def main() -> int:
    if sys.argv[1:3] == ["hook", "pre-commit-sync"] and _post_checkout_has_nothing_to_do(
        os.environ
    ):
        return 0
    if sys.argv[1:2] == ["check"] and _plain_flags(sys.argv[2:]):
        return _check(staged="--staged" in sys.argv, fix="--fix" in sys.argv)
    if sys.argv[1:2] == ["hook"] and len(sys.argv) > 2 and not sys.argv[2].startswith("-"):
        return _hook(sys.argv[2], sys.argv[3:])  # `hook NAME ARGS…`, as the hook scripts call it
    from migrail.cli.main import main as cli_main

    return cli_main()


def _plain_flags(args: list[str]) -> bool:
    return len(set(args)) == len(args) and all(arg in CHECK_FLAGS for arg in args)


def _check(*, staged: bool, fix: bool) -> int:
    """`check`, as `cli.main` runs it: its errors, an interrupt and a closed pipe alike."""
    from migrail.cli.reported import reported
    from migrail.commands import check

    return reported(lambda: check.run(staged=staged, fix=fix))


def _hook(name: str, args: list[str]) -> int:
    """`hook`, as `cli.main` runs it, without building the parser (argparse and the shutil
    its help formatter imports are about a tenth of a return trip's imports)."""
    from migrail.cli.reported import reported
    from migrail.commands import hook

    return reported(lambda: hook.run(name, args))


def _post_checkout_has_nothing_to_do(env: os._Environ[str]) -> bool:
    if env.get("MIGRAIL_SKIP") == "1":
        return True
    if "PRE_COMMIT_CHECKOUT_TYPE" not in env or env.get("CI"):
        return False  # post-merge, post-rewrite, or CI (which the configuration decides)
    old, flag = env.get("PRE_COMMIT_FROM_REF", ""), env["PRE_COMMIT_CHECKOUT_TYPE"]
    if not is_branch_checkout(old, flag):
        return not (flag == "1" and os.path.isfile(".git"))  # a new worktree: may make its database
    if checkout_needs_sync(old, env.get("PRE_COMMIT_TO_REF", ""), flag):
        return False
    return not snapshots_may_be_on()  # the same migrations: only snapshots have work
