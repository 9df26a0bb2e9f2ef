"""migrail: Django migrations that follow your git branches."""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False  # `typing` costs milliseconds, and settings import this package
if TYPE_CHECKING:
    from migrail.worktree_names import per_worktree as per_worktree


def __getattr__(name: str) -> object:
    """`migrail.per_worktree`, imported on first use: `import migrail` stays cheap."""
    if name == "per_worktree":
        from migrail.worktree_names import per_worktree

        return per_worktree
    raise AttributeError(f"module 'migrail' has no attribute {name!r}")
