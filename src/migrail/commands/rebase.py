"""`migrail rebase`: the static repair, guarded by the local database when there is one.

Moving a migration that a local database has applied would leave the database
recording a name that no longer exists; that is refused, or with `--unapply`
rolled back first through sync. When the database cannot be consulted
(settings that do not import, a database that does not answer), nothing moves
unless the user says `--no-db-check`: the repair itself needs no settings, but
it must not guess that nothing is applied.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from migrail.checks.lint import load_packages
from migrail.errors import EXIT_FINDINGS, MigrailError
from migrail.graph.parser import Key
from migrail.repair.merge_state import Operation
from migrail.repair.rebase import plan_rebase, run_rebase
from migrail.sources.config import Config, load_config
from migrail.sources.gitrepo import GitRepo
from migrail.sources.packages import MigrationPackage
from migrail.sources.trees import WorkingTree


class DatabaseUnknown(MigrailError):
    """The local database could not be consulted, and the user did not waive the check."""


def run(apps: list[str], *, onto: str | None, unapply: bool, db_check: bool = True) -> int:
    repo = GitRepo.discover()
    config = load_config(repo.root)
    packages = load_packages(repo, WorkingTree(repo), config)
    plan = plan_rebase(repo, packages, apps, onto)
    if onto and plan.is_empty and not plan.forked and not _merged(repo, plan.operation):
        print(
            f"migrail: error: {onto} is not in this branch yet, so no app forks here; "
            f"`git fetch`, then `git merge {onto}` (or `git rebase {onto}`), then run this again",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    unapplied: list[Key] = []  # rolled back below, to apply again under their new names
    if plan.moved and db_check:
        applied = _applied_locally(repo, config, plan.moved)
        if applied and not unapply:
            names = ", ".join(f"{a}.{n}" for a, n in applied)
            several = len(applied) > 1
            it, its, name = ("them", "their", "names") if several else ("it", "its", "name")
            again = " ".join(["migrail rebase", *apps, *(["--onto", onto] if onto else [])])
            print(
                f"migrail: error: {names} would be renamed but the local database has {it} "
                f"applied; nothing was changed. Run `{again} --unapply` to roll {it} back "
                f"first (then `migrail sync` applies {it} again under {its} new {name}).",
                file=sys.stderr,
            )
            return EXIT_FINDINGS
        if applied:
            _unapply(repo, config, packages, applied)
            unapplied = applied
    status = run_rebase(repo, plan)
    if unapplied:  # else no database had the moved migrations: nothing to apply again
        print("migrail: run `migrail sync` to apply the renamed migrations to your database")
    return status


def _merged(repo: GitRepo, operation: Operation) -> bool:
    """Whether the side to keep is in HEAD's history, or being merged or rebased onto now."""
    if operation.kind != "none":
        return True
    return not repo.run("rev-list", "-1", operation.base, "--not", "HEAD", check=False).strip()


def _applied_locally(repo: GitRepo, config: Config, keys: list[Key]) -> list[Key]:
    """Which of `keys` a local database records as applied: settings and a cursor, no apps.

    Raises `DatabaseUnknown` when it cannot tell.
    """
    try:
        from django.conf import settings
        from django.db import connections

        from migrail.sync.applied_rows import django_applied_rows
        from migrail.sync.safety import is_local
        from migrail.sync.settings import configure_settings, database_aliases

        configure_settings(repo.root, config)
        applied: set[Key] = set()
        for alias in database_aliases(config):
            if not is_local(settings.DATABASES[alias]) or _no_file(settings.DATABASES[alias]):
                continue
            connection = connections[alias]
            with warnings.catch_warnings():
                # Deliberately before the apps load: they may not import mid-merge.
                warnings.simplefilter("ignore", RuntimeWarning)
                applied |= set(django_applied_rows(connection))
    except Exception as err:  # whatever the settings or the driver raise: one line, no traceback
        names = ", ".join(f"{a}.{n}" for a, n in keys)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatabaseUnknown(
            f"cannot tell whether a local database has {names} applied ({reason}); "
            "nothing was changed. Renaming an applied migration breaks that database: "
            "fix the settings or the database, or run `migrail rebase --no-db-check` if no "
            f"database has {'them' if len(keys) > 1 else 'it'} applied."
        ) from err
    return [key for key in keys if key in applied]


def _no_file(settings_dict: Mapping[str, Any]) -> bool:
    """A SQLite database whose file does not exist: nothing applied, and opening it would
    create it (an empty file in a checkout that had none)."""
    from migrail.engines import stores_in_file

    name = str(settings_dict.get("NAME") or "")
    return (
        stores_in_file(settings_dict)
        and name not in ("", ":memory:")
        and not name.startswith("file:")
        and not os.path.lexists(name)
    )


def _unapply(
    repo: GitRepo, config: Config, packages: list[MigrationPackage], applied: list[Key]
) -> None:
    from migrail.commands.features import sync_feature
    from migrail.commands.sync import roll_back_for_switch
    from migrail.sync.plan import Target
    from migrail.sync.session import SyncOptions

    keys = {(p.label, name) for p in packages for name in p.migrations} - set(applied)
    target = Target(frozenset(keys), frozenset(app for app, _ in keys))
    roll_back_for_switch(repo, config, target, SyncOptions(feature=sync_feature(repo, config)))
