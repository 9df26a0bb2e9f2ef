"""Does a checkout need migrail? One `git diff --quiet`, no heavy imports.

This module imports nothing but `os` and `subprocess`, so the executable's entry
can answer the common case (nothing under a migrations directory changed, snapshots
off) before loading the rest of migrail; the installed hook scripts make the same
decision in the shell, from the same pathspecs and the same reading of the settings.
"""

from __future__ import annotations

import os
import subprocess

ZERO_SHA = "0" * 40
# The reflog subjects of the commits that move the work tree (a plain commit or an amend
# does not): the post-commit script and the pre-commit framework's post-commit stage.
COMMITS_THAT_MOVE_THE_TREE = (
    "revert: ",
    "cherry-pick: ",
    "commit (merge): ",
    "commit (cherry-pick): ",
)
# `**/migrations` itself: a package that is a link to a directory (git stores the link).
MIGRATION_PATHSPECS = (":(glob)**/migrations/**", ":(glob)**/migrations", ":(glob)**/apps.py")
# What a checkout that may change the migrations to apply touches: the migrations, and the
# settings, where a branch adds an app from site-packages (`django.contrib.sites`, a
# third-party package) to INSTALLED_APPS, or points MIGRATION_MODULES elsewhere.
SETTINGS_PATHSPECS = (":(glob)**/*settings*.py", ":(glob)**/settings/**")
CHECKOUT_PATHSPECS = (*MIGRATION_PATHSPECS, *SETTINGS_PATHSPECS)
_FALSE = ("false", "no", "off", "0", "")


def checkout_needs_sync(old: str, new: str, flag: str, cwd: os.PathLike[str] | None = None) -> bool:
    """A branch checkout (flag 1), not a clone (no old HEAD), that changed a migration file
    or a settings file."""
    if not is_branch_checkout(old, flag):
        return False
    diff = subprocess.run(
        ["git", "diff", "--quiet", "--end-of-options", old, new, "--", *CHECKOUT_PATHSPECS],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    return diff.returncode != 0


def migrations_as_committed(cwd: os.PathLike[str] | None = None) -> bool:
    """No migration file in the work tree differs from HEAD's, untracked ones included."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", *MIGRATION_PATHSPECS],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    return status.returncode == 0 and not status.stdout.strip()


def is_branch_checkout(old: str, flag: str) -> bool:
    """post-checkout's flag 1 (not a file checkout) with an old HEAD (not a clone)."""
    return flag == "1" and old not in ("", ZERO_SHA)


def snapshots_may_be_on(cwd: os.PathLike[str] | None = None) -> bool:
    """Whether branch snapshots may be on, without importing a TOML parser.

    `git config migrail.snapshots` decides when set (a value that is not a boolean says
    yes: migrail then reports it); else the line scan the hook script does of
    pyproject.toml (`cwd`: hooks run at the top of the work tree): a line holding
    `snapshots` then `true`, on or after one naming migrail. The scan may say yes wrongly
    (a comment; the full configuration then says no), never no to `snapshots = true`.
    """
    proc = subprocess.run(
        ["git", "config", "--get", "migrail.snapshots"], cwd=cwd, capture_output=True, check=False
    )
    if proc.returncode == 0:
        return proc.stdout.decode(errors="replace").strip().lower() not in _FALSE
    try:
        with open(os.path.join(cwd or ".", "pyproject.toml"), errors="replace") as file:
            text = file.read()
    except OSError:
        return False
    seen = False
    for line in text.splitlines():
        seen = seen or "migrail" in line
        where = line.find("snapshots")
        if seen and where >= 0 and "true" in line[where:]:
            return True
    return False
