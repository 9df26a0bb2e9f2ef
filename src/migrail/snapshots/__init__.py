"""Branch snapshots: an optional feature above the sync core."""
