"""One database's sync: carry out a `SyncPlan` (the commands in `migrail.commands` call it).

Refuse what is unsafe before connecting, lock the database, plan (see
`sync_plan`), refuse irreversible or sourceless rollbacks before changing
anything, back up, unapply through Django's `MigrationExecutor` (in one
transaction where DDL is transactional), then `migrate`. When the commit the
database followed is known and migrations are to be unapplied, the planning,
refusals, backup and unapply run in a child process with that commit's code
(`old_code_rollback`); this process keeps the lock and migrates afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError
from migrail.graph.parser import Key
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.effects import drops_hold_rows
from migrail.sync.errors import lock_in_chain
from migrail.sync.half_applied import check_half_applied
from migrail.sync.loader import LoadedMigrations
from migrail.sync.migrate import MigrationFailed, forward_plan, run_plan

# Imported here, not where it is called: it starts the old code's child with the tree's
# files, which `old_tree.prepare` writes before this session runs.
from migrail.sync.old_code_rollback import roll_back_with_commit
from migrail.sync.orphan_sources import remember_applied_sources, squash_history
from migrail.sync.output import ProgressPrinter, in_step_line
from migrail.sync.plan import (
    JOIN_FORK,
    SyncPlan,
    Target,
    describe_plan,
    plan_sync,
    squashes_kept,
    static_target,
    tree_target,
)
from migrail.sync.rollback import SyncRefused, check_rollback, roll_back
from migrail.sync.rollback_safety import (
    back_up,
    recover_interrupted_sync,
)
from migrail.sync.sync_feature import NO_FEATURE, SyncFeature


@dataclass
class SyncOptions:
    from_rev: str | None = None
    dry_run: bool = False
    database: str | None = None
    backup: bool = True
    redo_edited: bool = False
    accept_edited: bool = False  # the edited migrations' files are what the database ran
    feature: SyncFeature = NO_FEATURE  # an optional feature joining the sync (snapshots)


def refuse_unsafe(alias: str, config: Config, *, read_only: bool = False) -> None:
    """Refuse remote databases; and `DEBUG = False` unless nothing will change."""
    from django.conf import settings

    from migrail.sync.safety import refusal

    reason = refusal(
        alias,
        settings.DATABASES[alias],
        debug=bool(settings.DEBUG),
        allow_remote=config.allow_remote_databases,
        allow_debug_false=config.allow_debug_false or read_only,
    )
    if reason:
        raise SyncRefused(reason)


def sync_alias(
    repo: GitRepo, config: Config, alias: str, options: SyncOptions, target: Target | None = None
) -> int:
    refuse_unsafe(alias, config, read_only=options.dry_run)  # before any connection is opened
    return SyncSession(repo, config, alias, options, target).run()


class SyncSession:
    """One database's sync, in order: lock, recover, plan (the orphans unapplied first with
    the code that applied them), refuse, back up, roll back, plan again, migrate.

    `target` set: only the rollback that `migrail switch` and `rebase --unapply` run before
    git moves files.
    """

    def __init__(
        self,
        repo: GitRepo,
        config: Config,
        alias: str,
        options: SyncOptions,
        target: Target | None = None,
    ) -> None:
        from django.db import connections

        self.repo, self.config, self.options, self.target = repo, config, options, target
        self.alias = alias
        self.connection = connections[alias]
        self.backup: str | None = None  # the backup this sync took, whoever took it
        self.rolled_back_elsewhere = False  # by the old code's child, which printed it

    def run(self) -> int:
        from migrail.sync.lock import database_lock

        started = time.monotonic()
        with database_lock(self.repo.migrail_dir / "locks", self.alias, self.connection):
            recover_interrupted_sync(
                self.repo, self.config, self.connection, dry_run=self.options.dry_run
            )
            said = check_half_applied(self.repo, self.connection, refuse=not self.options.dry_run)
            if said:
                print(said)
            with LoadedMigrations(self.connection) as loaded:  # one loader, plan to unapply
                plan = self._plan(loaded)
                if self.options.dry_run:
                    return EXIT_CLEAN if plan.in_step else EXIT_FINDINGS
                rolled_back = bool(plan.unapply or plan.squash_records)
                if rolled_back:
                    self.backup = roll_back(
                        self.repo,
                        self.config,
                        plan,
                        loaded,
                        self.options.from_rev,
                        backup=self._backup_wanted(),
                        progress=ProgressPrinter(),
                        data_of=self.options.feature.data_of(self.repo, self.connection),
                    )
            if self.target is not None:
                return EXIT_CLEAN
            if rolled_back:  # what is applied changed; the orphans' packages are gone
                loaded.reload_tree()
            self._migrate(loaded, plan)
        seconds = time.monotonic() - started
        print(in_step_line(self.alias, seconds, edited=bool(plan.edited)))
        return EXIT_CLEAN

    def _plan(self, loaded: LoadedMigrations) -> SyncPlan:
        """Plan, print it, refuse what cannot be done before anything changes."""
        if self.options.accept_edited and not self.options.dry_run:
            self._accept_edits(loaded)
        plan = self._plan_after_old_code(loaded)
        if self._worth_printing(plan):
            first = self.target is not None
            print(describe_plan(plan, first=first, then=self.rolled_back_elsewhere))
        if self.target is None:
            _refuse_forked(plan)
        checkout = self.target or tree_target(loaded.tree)
        check_rollback(plan, self.repo, self.connection, self.options.feature, checkout)
        return plan

    def _accept_edits(self, loaded: LoadedMigrations) -> None:
        from migrail.sync.edited_migrations import accept_edits
        from migrail.sync.target import first_party_apps

        first_party = first_party_apps(loaded.tree, self.repo.root)
        for app, name in accept_edits(self.repo, loaded.tree, self.connection, first_party):
            print(
                f"migrail: {app}.{name} is taken as applied in its edited form: the database "
                "is not changed"
            )

    def _worth_printing(self, plan: SyncPlan) -> bool:
        """The plan, unless the old code's child printed the rollback and nothing is left."""
        if plan.unapply or plan.squash_records:
            return True
        if self.target is not None:
            return False
        # Nothing to do: the closing line says so (a dry run has only this to say).
        return self.options.dry_run or not plan.in_step

    def _plan_after_old_code(self, loaded: LoadedMigrations) -> SyncPlan:
        """With `--from`, the orphans are unapplied first with the code that applied them."""
        options, elsewhere = self.options, None
        if self.target is None and options.from_rev:
            old = _orphans_need_old_code(self.repo, self.config, loaded, options.from_rev)
            if old is not None:
                result = roll_back_with_commit(
                    self.repo,
                    self.config,
                    options.from_rev,
                    self.alias,
                    old,
                    dry_run=options.dry_run,
                    backup=self._backup_wanted(),
                    feature=options.feature,
                )
                self.backup = result.backup
                self.rolled_back_elsewhere = bool(result.unapplied)
                if options.dry_run:
                    elsewhere = frozenset(result.unapplied)
                else:
                    loaded.reload_tree()  # the child changed what is applied
        plan = plan_sync(
            self.repo,
            self.config,
            loaded,
            options.from_rev,
            self.target,
            unapplied_elsewhere=elsewhere,
            redo_edited=options.redo_edited,
        )
        if self.target is not None:
            plan.apply = []  # the target's migrations are applied after the switch
            plan.record = {}
        return plan

    def _migrate(self, loaded: LoadedMigrations, plan: SyncPlan) -> None:
        """The forward part: `migrate`, after a copy of what it drops; then remember sources."""
        if plan.record:  # before `migrate`, which would run them again
            _record_applied(self.connection, plan.record)
            loaded.reload_tree()  # what is applied changed
        self._keep_what_migrate_drops(plan)
        migrate_forward(loaded, self.repo)
        remember_applied_sources(self.repo, self.connection, loaded.tree, keep=plan.edited)
        self.options.feature.after_sync(self.repo, self.connection)

    def _backup_wanted(self) -> bool:
        """A backup before a rollback, unless asked not to or a copy as it stands is kept."""
        if self.options.backup and self.options.feature.keeps_as_it_stands(self.alias):
            print(
                f"migrail: no backup of database {self.alias!r}: the snapshot this switch just "
                "saved holds it as it stands"
            )
            return False
        return self.options.backup

    def _keep_what_migrate_drops(self, plan: SyncPlan) -> None:
        """Nothing dropped without a copy: before migrations that drop tables or columns
        holding rows, a backup (unless this sync took one, or a snapshot holds the data)."""
        dropping = plan.apply_effects
        if not dropping or drops_hold_rows(self.connection, dropping) is False:
            return
        what = "; ".join(
            f"{app}.{name} {effect.text}"
            for (app, name), effects in dropping.items()
            for effect in effects
        )
        if self.options.feature.keeps_as_it_stands(self.alias):
            print(f"migrail: {what}: the snapshot this switch just saved holds its rows")
            return
        if self.backup is None and self.options.backup:
            # Of the commit the database followed (its migrations, less what was unapplied).
            data_of = self.options.feature.data_of(self.repo, self.connection)
            taken = back_up(self.repo, self.config, self.connection, self.options.from_rev, data_of)
            self.backup = taken.name
        if self.backup is None:
            print(f"migrail: {what}, rows included, with no backup (--no-backup)")
            return
        print(f"migrail: {what}, rows included; `migrail restore {self.backup}` brings them back")


def _refuse_forked(plan: SyncPlan) -> None:
    """A forked tree cannot be migrated: refuse before rolling anything back."""
    if plan.forked:
        apps = "; ".join(
            f"{app}: {', '.join(leaves)}" for app, leaves in sorted(plan.forked.items())
        )
        raise SyncRefused(
            f"the working tree's migrations are forked ({apps}), which `migrate` refuses; "
            f"nothing was changed: {JOIN_FORK}"
        )


def _orphans_need_old_code(
    repo: GitRepo, config: Config, loaded: LoadedMigrations, from_rev: str
) -> Target | None:
    """The target for a rollback with `from_rev`'s code, or None when nothing is to unapply.

    The target keeps what this tree's code knows; the apps it decides are the installed
    ones and the first-party apps of `from_rev` that this checkout removed.
    """
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(loaded.connection)
    if not recorder.has_table():
        return None
    applied = set(recorder.applied_migrations())
    target = tree_target(loaded.tree, applied)
    gone = applied - target.keys
    if gone:  # a completed squash's replaced migrations are not orphans
        history = squash_history(repo, loaded.tree, {app for app, _ in gone})
        gone -= {k for r in squashes_kept(history, target.keys, applied).values() for k in r}
        gone -= {k for k in gone if k in history and history[k] <= target.keys}  # its record
    apps = set(target.apps)
    uninstalled = {app for app, _ in gone} - apps
    packages: set[str] = set()
    if uninstalled:
        # Removed with its code: rolled back. Only uninstalled in settings, its migrations
        # still in the tree: left alone, as a switch that changes no migration leaves it.
        kept = static_target(repo, config, None).apps
        had = static_target(repo, config, from_rev).apps
        apps |= uninstalled & (had - kept)
        # An app from outside the work tree (contrib, a package) that a settings change took
        # out of INSTALLED_APPS: rolled back by the code that installs it, if it does.
        if _settings_changed(repo, from_rev):
            packages = uninstalled - had - kept
    if not packages and not target.redo and not any(app in apps for app, _ in gone):
        return None
    return Target(target.keys, frozenset(apps), frozenset(packages), target.redo)


def _settings_changed(repo: GitRepo, from_rev: str) -> bool:
    """Whether a settings file differs between `from_rev` and the working tree."""
    from migrail.sources.checkout_decision import SETTINGS_PATHSPECS

    names = repo.run(
        "diff", "--name-only", "--end-of-options", from_rev, "--", *SETTINGS_PATHSPECS, check=False
    )
    return names.strip() != b""


def _record_applied(connection: Any, record: dict[Key, str]) -> None:
    """What Django records when it applies a squash, where a completed squash (its `replaces`
    gone, the last step of Django's squash procedure) left it unrecorded."""
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    for app, name in sorted(record):
        recorder.record_applied(app, name)


def migrate_forward(loaded: LoadedMigrations, repo: GitRepo) -> None:
    """`manage.py migrate` on the tree's loader: its checks, its plan, its signals (even with
    nothing to apply, as `migrate` sends them), each migration reported as it runs (and, where
    DDL is not transactional, noted while it runs: `half_applied`)."""
    from django.db.migrations.exceptions import InconsistentMigrationHistory

    from migrail.sync.half_applied import left_behind, noting_each_migration
    from migrail.sync.lock_wait import giving_up_on_locks

    connection = loaded.connection
    executor = loaded.executor({}, [])
    try:
        plan = forward_plan(executor)
    except InconsistentMigrationHistory as err:
        raise MigrailError(f"`migrate` stopped: {err}") from err
    try:
        with giving_up_on_locks(connection, "migrate"):
            progress = noting_each_migration(repo, connection, loaded.tree, ProgressPrinter())
            run_plan(executor, plan, progress)
    except MigrationFailed as err:
        if lock_in_chain(err.cause):  # the database, not the migration: the guard names it
            raise err.cause from None
        keys = [(m.app_label, m.name) for m, _ in plan]
        left = keys[keys.index(err.key) :] if err.key in keys else [err.key]
        names = ", ".join(f"{app}.{name}" for app, name in left)
        what = left_behind(repo, connection)
        undo = (
            f"{connection.vendor} cannot roll DDL back, so it left {what}: undo that by hand "
            f"(`python manage.py sqlmigrate {err.key[0]} {err.key[1]}` shows what it runs), "
            if what
            else ""
        )
        raise MigrationFailed(
            err.key,
            False,
            err.cause,
            f"; database {connection.alias!r} has {len(left)} left to apply ({names}): "
            f"{undo}mend the migration, then sync again",
        ) from err.cause
