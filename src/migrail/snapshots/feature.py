"""Branch snapshots as a `SyncFeature`: what the snapshot feature adds to a sync.

Imported only when snapshots are on (or were: a sync with them off forgets whose data
the database held), by `features.sync_feature`; the sync core never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrail.errors import MigrailError
from migrail.snapshots import SwitchRecord
from migrail.snapshots import branches as snapshots
from migrail.snapshots.catalogue import status_line
from migrail.snapshots.switching import catch_up_with_live_data
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.effects import Effect, drops_hold_rows
from migrail.sync.identity import identity_of
from migrail.sync.sync_feature import SNAPSHOTS_DECLINED, SyncFeature


class _Journalled(SyncFeature):
    """A snapshot switch a kill left half done: the live database may be missing, empty or
    another branch's until `migrail sync` finishes it."""

    def unfinished(self, repo: GitRepo, alias: str) -> str | None:
        from django.conf import settings
        from django.db import connections

        from migrail.snapshots.steps import pending_note

        identity = identity_of(alias, connections[alias].vendor, settings.DATABASES[alias])
        return pending_note(snapshots.snapshot_store(repo), identity)


@dataclass
class SnapshotFeature(_Journalled):
    """Snapshots on: catch up with a switch that did not swap, skip the backup a snapshot
    just saved makes needless, offer this branch's snapshot as a way out. `switched`: what
    the switch's snapshot step before this sync did, if there was one."""

    switched: SwitchRecord = field(default_factory=SwitchRecord)
    config: Config = field(default_factory=Config)

    def before_sync(
        self, repo: GitRepo, config: Config, from_rev: str | None, database: str | None
    ) -> str | None:
        return catch_up_with_live_data(repo, config, from_rev, database, self.switched)

    def keeps_as_it_stands(self, alias: str) -> bool:
        return alias in self.switched.saved

    def drops_hint(self, connection: Any, effects: dict[Any, list[Effect]]) -> str | None:
        if connection.alias in self.switched.saved:
            return None  # this switch saved the database as it stands: its snapshot has them
        if not drops_hold_rows(connection, effects):
            return None
        if connection.alias in self.switched.unsaved:  # this switch's save gave up
            return snapshots.NOT_SAVED_HINT
        if connection.alias in self.switched.tried:  # mid-switch: too late to save one first
            return snapshots.MID_SWITCH_HINT
        return snapshots.SAVE_FIRST_HINT

    def data_of(self, repo: GitRepo, connection: Any) -> str | None:
        from migrail.snapshots.catalogue import DETACHED, live_owner

        identity = identity_of(connection.alias, connection.vendor, connection.settings_dict)
        owner = live_owner(repo, snapshots.snapshot_store(repo), identity)
        return None if owner is None or DETACHED.fullmatch(owner) else owner

    def ways_out(self, repo: GitRepo, connection: Any) -> list[str]:
        identity = identity_of(connection.alias, connection.vendor, connection.settings_dict)
        try:
            branch = snapshots.current_branch(repo)
        except MigrailError:  # an unborn branch
            return []
        if snapshots.snapshot_store(repo).find(identity, branch) is None:
            return []
        return [
            "restore this branch's snapshot (its data as you left it): "
            f"`migrail snapshot restore {branch}`, then `migrail sync`;"
        ]

    def after_sync(self, repo: GitRepo, connection: Any) -> None:
        from migrail.snapshots.settings_seen import settings_key

        # A failed hook sync's note no longer holds; the database is exactly HEAD's.
        snapshots.note_synced(repo, connection, settings_key(repo, self.config))

    def status_lines(self, repo: GitRepo, config: Config, alias: str) -> list[str]:
        line = status_line(repo, config, alias)
        return [line] if line else []


@dataclass
class ForgetsWhoseData(_Journalled):
    """Snapshots off, but on once: the database follows the branch by rollbacks now, so the
    record of whose data it held goes (turned on again, a switch saves it as the branch it
    leaves, and keeps that branch's earlier snapshot under a name of its own). `declined`:
    turned off on purpose (`migrail.snapshots false`), so not urged on again."""

    declined: bool = False

    def drops_hint(self, connection: Any, effects: dict[Any, list[Effect]]) -> str | None:
        if self.declined:
            return SNAPSHOTS_DECLINED.drops_hint(connection, effects)
        return super().drops_hint(connection, effects)

    def before_sync(
        self, repo: GitRepo, config: Config, from_rev: str | None, database: str | None
    ) -> str | None:
        snapshots.forget_whose_data(repo, config, database)
        return from_rev
