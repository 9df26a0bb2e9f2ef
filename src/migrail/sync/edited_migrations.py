"""Applied migrations whose file changed since they were applied (an amend, an edit in place).

Django records only a migration's name, so `migrate` never notices that
`0004_comment.py` gained a field after it ran. migrail keeps the source of every
migration it saw applied (`orphan_sources.remember_applied_sources`). A file
whose syntax tree, less dependencies and replaces, differs from that copy, while
the database row is older than the copy, was edited after it was applied
(formatting, comments, a squash's re-pointing and a reverse given since do not
count). Sync names it; `sync --redo-edited` unapplies it with that copy and
applies it again. Sync does not do so unasked: a rollback drops data, and a copy
may be older than a `migrate` run by hand.
"""

from __future__ import annotations

from typing import Any

from migrail.graph.parser import Key
from migrail.graph.same_code import same_forwards
from migrail.sources.gitrepo import GitRepo
from migrail.sync.orphan_sources import (
    applied_at,
    applied_copy,
    migration_file,
    read_applied_copy,
)
from migrail.sync.private_files import write_private_bytes


def edited_since_applied(
    repo: GitRepo, tree: Any, applied: dict[Key, Any], first_party: frozenset[str]
) -> list[Key]:
    """The applied migrations whose file's code is not the code that was applied."""
    edited: list[Key] = []
    replaced = {r for squash in tree.replacements.values() for r in squash.replaces}
    for key, record in applied.items():
        if key[0] not in first_party or key not in tree.disk_migrations:
            continue
        cached = applied_copy(repo, key)
        current = migration_file(tree, key)
        if current is None or read_applied_copy(repo, key) is None:
            continue  # no copy, or a damaged one: nothing to compare with
        if applied_at(record, missing=float("inf")) >= cached.stat().st_mtime:
            continue  # applied again since the copy was taken: the copy may be the stale one
        if key in replaced:
            continue  # a squash in the tree stands for it: the loader never runs it
        if same_forwards(current.read_bytes(), cached.read_bytes()):
            continue
        if not _same_operations(tree.disk_migrations[key], cached, key):
            edited.append(key)
    return sorted(edited)


def _same_operations(migration: Any, copy: Any, key: Key) -> bool:
    """Whether the applied copy's operations, as Django's migration writer writes them, are
    the file's: an upstream rewrite (a compatibility shim, a setting read another way) that
    yields the same operations is no edit. A copy that does not import is taken as one."""
    import importlib.util

    from django.db.migrations.writer import OperationWriter

    # Under the file's own module name (not put in sys.modules), so functions a RunPython
    # names serialize alike in both.
    name = type(migration).__module__
    try:
        spec = importlib.util.spec_from_file_location(name, copy)
        if spec is None or spec.loader is None:
            return False
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        then = module.Migration(key[1], key[0]).operations
        now = migration.operations
        return [OperationWriter(op).serialize()[0] for op in then] == [
            OperationWriter(op).serialize()[0] for op in now
        ]
    except Exception:
        return False


def applied_source(repo: GitRepo, key: Key) -> bytes:
    """migrail's copy of `key` as it was applied."""
    return applied_copy(repo, key).read_bytes()


def accept_edits(
    repo: GitRepo, tree: Any, connection: Any, first_party: frozenset[str]
) -> list[Key]:
    """`sync --accept-edited`: the applied migrations edited since are taken to be what the
    database ran (an edit that changes nothing it holds: a helper inlined, a value spelled
    another way), so their copies become this checkout's files. Returns them."""
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    records = recorder.applied_migrations() if recorder.has_table() else {}
    accepted = edited_since_applied(repo, tree, records, first_party)
    for key in accepted:
        current = migration_file(tree, key)
        if current is not None:
            write_private_bytes(applied_copy(repo, key), current.read_bytes())
    return accepted
