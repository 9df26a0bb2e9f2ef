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

import ast
from typing import Any

from migrail.graph.parser import Key
from migrail.sources.gitrepo import GitRepo
from migrail.sync.orphan_sources import (
    applied_at,
    applied_copy,
    migration_file,
    read_applied_copy,
)


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
        if _same_forwards(current.read_bytes(), cached.read_bytes()):
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


# Where a migration sits in the graph, not what it does: Django's squashing docs ask
# for dependencies to be pointed at the squash once the replaced migrations go.
PLACEMENT = {"dependencies", "replaces", "run_before", "initial"}


def _same_forwards(one: bytes, other: bytes) -> bool:
    """Whether two versions do the same forwards: a reverse given since (what the refusal of
    an irreversible rollback advises) changes only how it is undone, and `migrate` would
    not re-run it either way; the file's own reverse is then the one a rollback uses."""
    if one == other:
        return True  # nearly always: parse only what differs
    try:
        return _what_it_does(one) == _what_it_does(other)
    except (SyntaxError, ValueError, RecursionError):
        return one == other


# The argument of each operation that only says how to undo it.
REVERSES = {"RunPython": (1, "reverse_code"), "RunSQL": (1, "reverse_sql")}


def _what_it_does(source: bytes) -> str:
    module = ast.parse(source)
    for node in ast.walk(module):
        if isinstance(node, ast.ClassDef):
            node.body = [statement for statement in node.body if not _placement(statement)]
        if isinstance(node, ast.Call):
            _drop_reverse(node)
    return ast.dump(module)


def _drop_reverse(call: ast.Call) -> None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in REVERSES:
        return
    position, keyword = REVERSES[name]
    call.args = call.args[:position]
    call.keywords = [kw for kw in call.keywords if kw.arg != keyword]


def _placement(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    else:
        return False
    return all(isinstance(t, ast.Name) and t.id in PLACEMENT for t in targets)
