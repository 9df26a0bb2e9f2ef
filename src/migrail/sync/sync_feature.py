"""The points where an optional feature (branch snapshots) joins a sync.

The sync core calls these and knows nothing else of the feature: the commands pass
the feature in, and with snapshots off they pass this base, which does nothing, so a
sync without snapshots loads no snapshot code.
"""

from __future__ import annotations

from typing import Any

from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.effects import Effect, drops_hold_rows

DROPS_ROWS = "migrail: this rollback drops tables or columns that hold rows"
SNAPSHOT_HINT = (
    f"{DROPS_ROWS}; to keep each branch's data instead, run `git config migrail.snapshots true`"
)


class SyncFeature:
    """No feature: a sync as the core runs it."""

    def before_sync(
        self, repo: GitRepo, config: Config, from_rev: str | None, database: str | None
    ) -> str | None:
        """Runs once Django is set up, before any database is locked; returns the revision
        the sync goes from (a feature may change whose code applied the database)."""
        return from_rev

    def keeps_as_it_stands(self, alias: str) -> bool:
        """Whether a copy of the database as it stands now is kept, so no backup is needed."""
        return False

    def drops_hint(self, connection: Any, effects: dict[Any, list[Effect]]) -> str | None:
        """A line to print before a rollback that drops rows, or None."""
        return SNAPSHOT_HINT if drops_hold_rows(connection, effects) else None

    def data_of(self, repo: GitRepo, connection: Any) -> str | None:
        """The branch whose data the database holds, when the feature knows it (a switch that
        did not swap leaves another branch's data live): what its backups are labelled with."""
        return None

    def ways_out(self, repo: GitRepo, connection: Any) -> list[str]:
        """More ways out of an irreversible rollback than the core's, one line each."""
        return []

    def after_sync(self, repo: GitRepo, connection: Any) -> None:
        """The database now holds the working tree's migrations."""

    def status_lines(self, repo: GitRepo, config: Config, alias: str) -> list[str]:
        """What `migrail status` says of the feature, for this database."""
        return []

    def unfinished(self, repo: GitRepo, alias: str) -> str | None:
        """Work of the feature a kill left half done, which leaves the database not what it
        seems (`status` says this instead of planning), or None."""
        return None


class SnapshotsDeclined(SyncFeature):
    """No feature, by the user's choice (`migrail.snapshots false`): a rollback that drops
    rows says so without urging snapshots on."""

    def drops_hint(self, connection: Any, effects: dict[Any, list[Effect]]) -> str | None:
        return DROPS_ROWS if drops_hold_rows(connection, effects) else None


NO_FEATURE = SyncFeature()
SNAPSHOTS_DECLINED = SnapshotsDeclined()
