"""`migrail sync`: make each database match the working tree.

The work of one database is `sync.session.SyncSession`; this sets Django up, refuses
an unsafe database before the optional feature (snapshots) says what it is about to
do, and runs a session per database. `roll_back_for_switch` is the rollback alone,
with the current tree's code, that `rebase --unapply` runs before files move.
"""

from __future__ import annotations

from dataclasses import replace

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.plan import Target
from migrail.sync.session import SyncOptions, refuse_unsafe, sync_alias
from migrail.sync.settings import database_aliases


def run(
    *,
    from_rev: str | None,
    dry_run: bool,
    database: str | None,
    backup: bool,
    redo_edited: bool,
    accept_edited: bool = False,
) -> int:
    """The command line's `migrail sync`."""
    from migrail.commands.features import sync_feature
    from migrail.snapshots.branches import finish_interrupted
    from migrail.sources.config import load_config
    from migrail.sync.errors import database_errors
    from migrail.sync.settings import require_sqlite_files

    with database_errors():
        repo = GitRepo.discover()
        config = load_config(repo.root)
        finish_interrupted(repo, config)
        if dry_run:
            require_sqlite_files(repo.root, config, "sync --dry-run", database)
        options = SyncOptions(
            # Validated here, and passed on as the commit id: sync never sees the user's string.
            from_rev=None if from_rev is None else repo.resolve(from_rev),
            dry_run=dry_run,
            database=database,
            backup=backup,
            redo_edited=redo_edited,
            accept_edited=accept_edited,
            feature=sync_feature(repo, config),
        )
        status = EXIT_FINDINGS
        try:
            status = run_sync(repo, config, options)
            return status
        finally:
            if config.snapshots and not dry_run:
                from migrail.snapshots.branches import note_sync_result

                # As after a switch: a failure noted, so the next snapshot saved of the
                # database is not taken for the checkout's whole migrations.
                note_sync_result(
                    repo,
                    config,
                    options.from_rev,
                    synced=status == EXIT_CLEAN,
                    database=database,
                )


def run_sync(repo: GitRepo, config: Config, options: SyncOptions) -> int:
    from migrail.sources import old_tree
    from migrail.sync.settings import setup_django

    if options.from_rev:
        old_tree.prepare(repo, options.from_rev)  # written while Django starts
    try:
        setup_django(repo.root, config)
        aliases = database_aliases(config, options.database)
        for alias in aliases:  # refused before a feature says what it is about to do
            refuse_unsafe(alias, config, read_only=options.dry_run)
        if not options.dry_run:
            from_rev = options.feature.before_sync(repo, config, options.from_rev, options.database)
            options = replace(options, from_rev=from_rev)
        status = EXIT_CLEAN
        for alias in aliases:
            status = max(status, sync_alias(repo, config, alias, options))
        return status
    finally:
        old_tree.discard_prepared()


def roll_back_for_switch(
    repo: GitRepo, config: Config, target: Target, options: SyncOptions
) -> None:
    """Unapply what `target` lacks while the current tree's files are still here."""
    from migrail.sync.settings import setup_django

    setup_django(repo.root, config)
    for alias in database_aliases(config, options.database):
        sync_alias(repo, config, alias, options, target=target)
