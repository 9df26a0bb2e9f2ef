"""Does a checkout need the database synced? One `git diff --quiet`, no heavy imports.

This module imports nothing but `os` and `subprocess`, so the executable's entry can
answer the common case (nothing under a migrations directory changed) before
loading the rest of migrail; the installed hook scripts make the same decision
in the shell, from the same pathspecs.
"""

from __future__ import annotations

import os
import subprocess

ZERO_SHA = "0" * 40
MIGRATION_PATHSPECS = (":(glob)**/migrations/**", ":(glob)**/apps.py")


def checkout_needs_sync(old: str, new: str, flag: str, cwd: os.PathLike[str] | None = None) -> bool:
    """A branch checkout (flag 1), not a clone (no old HEAD), that changed a migration file."""
    if flag != "1" or old in ("", ZERO_SHA):
        return False
    diff = subprocess.run(
        ["git", "diff", "--quiet", "--end-of-options", old, new, "--", *MIGRATION_PATHSPECS],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    return diff.returncode != 0
