"""Branch snapshots: an optional feature above the sync core.

This package's own module holds only where the catalogue lives, so that the command that
decides whether the feature joins a sync can look without loading the feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SNAPSHOTS_DIRECTORY = "snapshots"  # under git's migrail directory: the catalogue
OWNERS = "owners"  # in the catalogue: which branch's data each database holds


@dataclass
class SwitchRecord:
    """What this process's snapshot step did, database alias by alias, for the sync after it.

    `tried`: the step saw the database (swapped, or fell back to a plain sync), so the sync
    does not try again. `saved`: the database, as it stands, is the snapshot just saved of
    the branch left, so a rollback of it needs no backup. `unsaved`: the step could not
    save it (another connection held it) and fell back to a plain sync."""

    tried: set[str] = field(default_factory=set)
    saved: set[str] = field(default_factory=set)
    unsaved: set[str] = field(default_factory=set)
