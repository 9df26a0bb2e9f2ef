"""The `migrail` executable's first step: answer "nothing to do" before importing anything heavy.

pre-commit's `migrail-sync` entry runs on every checkout; when no migration
file differs between the two commits (the common case) this returns after one
`git diff --quiet`, as the installed hook scripts do in the shell.
"""

from __future__ import annotations

import os
import subprocess
import sys

ZERO_SHA = "0" * 40
PATHSPECS = (":(glob)**/migrations/**", ":(glob)**/apps.py")


def main() -> int:
    if sys.argv[1:3] == ["hook", "pre-commit-sync"] and _post_checkout_has_nothing_to_do(
        os.environ
    ):
        return 0
    from migrail.cli import main as cli_main

    return cli_main()


def _post_checkout_has_nothing_to_do(env: os._Environ[str]) -> bool:
    if env.get("MIGRAIL_SKIP") == "1":
        return True
    if "PRE_COMMIT_CHECKOUT_TYPE" not in env or env.get("CI"):
        return False  # post-merge, post-rewrite, or CI (which the configuration decides)
    old, new = env.get("PRE_COMMIT_FROM_REF", ""), env.get("PRE_COMMIT_TO_REF", "")
    if env["PRE_COMMIT_CHECKOUT_TYPE"] != "1" or old in ("", ZERO_SHA):
        return True  # a file checkout, or a clone
    diff = subprocess.run(["git", "diff", "--quiet", old, new, "--", *PATHSPECS], check=False)
    return diff.returncode == 0
