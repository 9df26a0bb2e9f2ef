"""After a restore: the command that brings the database in step with this checkout.

A backup holds the migrations of the commit it was taken at. Restored on another
checkout, the database may have migrations this tree lacks (only that commit's
code can unapply them: `migrail sync --from COMMIT`) or lack some the tree has
(a plain `migrail sync` applies them). Decided statically from the migration
files, like `migrail check`: Django's apps need not import.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import suppress

from migrail.errors import MigrailError
from migrail.graph.parser import Key
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sources.packages import MigrationPackage, discover_packages
from migrail.sources.parse_cache import ParseCache
from migrail.sources.trees import Commit, WorkingTree


def next_step(repo: GitRepo, config: Config, applied: Collection[Key], commit: str) -> str | None:
    """One line naming the sync to run, or None when the database already matches the tree."""
    cache = ParseCache.of_repository(repo.migrail_dir)
    tree = discover_packages(WorkingTree(repo), config, cache)
    labels = {package.label for package in tree}
    if commit:
        # When the commit is gone, the tree's apps are all migrail can judge.
        with suppress(MigrailError):
            labels |= {p.label for p in discover_packages(Commit(repo, commit), config, cache)}
    orphans, pending = compare(tree, labels, set(applied))
    if orphans:
        target = commit[:12] if commit else "REV"
        return f"migrail: next: migrail sync --from {target}"
    if pending:
        return "migrail: next: migrail sync"
    return None


def compare(
    tree: list[MigrationPackage], labels: set[str], applied: set[Key]
) -> tuple[list[Key], list[Key]]:
    """(applied first-party migrations the tree lacks, the tree's migrations not applied)."""
    present: set[Key] = set()
    replaced: dict[Key, set[Key]] = {}
    for package in tree:
        for name, file in package.migrations.items():
            key = (package.label, name)
            present.add(key)
            if file.migration is not None and file.migration.replaces:
                replaced[key] = {(d.app, d.name) for d in file.migration.replaces}
    covered = present | {key for keys in replaced.values() for key in keys}
    orphans = sorted(key for key in applied if key[0] in labels and key not in covered)
    pending = sorted(
        key
        for key in present - applied
        if not (key in replaced and replaced[key] <= applied)  # a squash of applied ones
    )
    return orphans, pending
