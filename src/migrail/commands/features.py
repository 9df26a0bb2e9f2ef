"""Which optional feature joins a sync: decided without importing the feature's code."""

from __future__ import annotations

from migrail.snapshots import OWNERS, SNAPSHOTS_DIRECTORY, SwitchRecord  # no feature code
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.sync_feature import NO_FEATURE, SNAPSHOTS_DECLINED, SyncFeature


def sync_feature(
    repo: GitRepo, config: Config, switched: SwitchRecord | None = None
) -> SyncFeature:
    """`switched`: what a switch's snapshot step just did, for the sync that follows it."""
    if config.snapshots:
        from migrail.snapshots.feature import SnapshotFeature

        return SnapshotFeature(switched or SwitchRecord(), config)
    if (repo.migrail_dir / SNAPSHOTS_DIRECTORY / OWNERS).is_dir():
        from migrail.snapshots.feature import ForgetsWhoseData

        return ForgetsWhoseData(declined="snapshots" in config.chosen)
    return SNAPSHOTS_DECLINED if "snapshots" in config.chosen else NO_FEATURE
