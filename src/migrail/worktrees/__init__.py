"""A database per linked git worktree: an optional feature above the sync core.

`migrail.worktree_names`, what settings call through `migrail.per_worktree`, lives
outside the layers (as `migrail.errors` does: `import migrail` may load it) and imports
neither Django nor git; `copy` makes a new worktree's database from the main worktree's;
`catalogue` records what was made, so `migrail worktree prune` drops only migrail's own.
"""

from __future__ import annotations

WORKTREES_DIRECTORY = "worktrees"  # under git's migrail directory: the catalogue
