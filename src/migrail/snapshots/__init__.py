"""Branch snapshots: an optional feature above the sync core.

This package's own module holds only where the catalogue lives, so that the command that
decides whether the feature joins a sync can look without loading the feature.
"""

from __future__ import annotations

SNAPSHOTS_DIRECTORY = "snapshots"  # under git's migrail directory: the catalogue
OWNERS = "owners"  # in the catalogue: which branch's data each database holds
