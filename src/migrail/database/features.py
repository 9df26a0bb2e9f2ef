"""Which optional feature joins a sync: decided without importing the feature's code."""

from __future__ import annotations

from migrail.database.sync_feature import NO_FEATURE, SyncFeature
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo

SNAPSHOTS_DIRECTORY = "snapshots"  # under git's migrail directory: the snapshot catalogue


def sync_feature(repo: GitRepo, config: Config) -> SyncFeature:
    if config.snapshots:
        from migrail.database.snapshot_feature import SnapshotFeature

        return SnapshotFeature()
    if (repo.migrail_dir / SNAPSHOTS_DIRECTORY / "owners").is_dir():
        from migrail.database.snapshot_feature import ForgetsWhoseData

        return ForgetsWhoseData()
    return NO_FEATURE
