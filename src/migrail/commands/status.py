"""`migrail status`: what sync would unapply and apply, per database (read-only)."""

from __future__ import annotations

import os
from pathlib import Path

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.sync_feature import NO_FEATURE, SyncFeature


def run(*, database: str | None) -> int:
    """The command line's `migrail status`."""
    from migrail.commands.features import sync_feature
    from migrail.sources.config import load_config
    from migrail.sync.errors import database_errors
    from migrail.sync.settings import require_sqlite_files

    with database_errors():
        repo = GitRepo.discover()
        config = load_config(repo.root)
        require_sqlite_files(repo.root, config, "status", database)
        return run_status(repo, config, database, sync_feature(repo, config))


def run_status(
    repo: GitRepo, config: Config, database: str | None, feature: SyncFeature = NO_FEATURE
) -> int:
    from django.db import connections

    from migrail.sync.half_applied import check_half_applied
    from migrail.sync.loader import LoadedMigrations
    from migrail.sync.plan import describe_status, plan_sync
    from migrail.sync.rollback_safety import interrupted_sync_note
    from migrail.sync.session import refuse_unsafe
    from migrail.sync.settings import database_aliases, project_directory, setup_django

    setup_django(repo.root, config)
    aliases = database_aliases(config, database)
    for alias in aliases:  # before a word of status: a refused database is not looked at
        refuse_unsafe(alias, config, read_only=True)
    print(_settings_line(repo, project_directory()))
    if config.worktree_databases:
        from migrail.commands.worktree import status_line

        print(status_line(repo, aliases))
    status = EXIT_CLEAN
    for alias in aliases:
        if unfinished := feature.unfinished(repo, alias):
            print(unfinished)  # the live database may be missing or another's: no plan
            status = EXIT_FINDINGS
            continue
        with LoadedMigrations(connections[alias]) as loaded:
            plan = plan_sync(repo, config, loaded, None, strict=False)
        print(describe_status(plan))
        if note := interrupted_sync_note(repo, connections[alias]):
            print(note)
            status = EXIT_FINDINGS
        if note := check_half_applied(repo, connections[alias], refuse=False):
            print(note)
            status = EXIT_FINDINGS
        for line in feature.status_lines(repo, config, alias):
            print(line)
        if not plan.in_step:
            status = EXIT_FINDINGS
    return status


def _settings_line(repo: GitRepo, project_dir: Path) -> str:
    """Which settings and project directory Django was started with, as a user finds them."""
    try:
        shown = project_dir.resolve().relative_to(repo.root.resolve()).as_posix() or "."
    except ValueError:
        shown = str(project_dir)
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
    return f"migrail: settings {module}, project directory {shown}"
