"""E013-E015: a branch that edits, renames or deletes a migration its base already has.

A database that applied a migration records its name only: `migrate` never runs an
edited one again, and a renamed or deleted one leaves a record Django no longer finds.
Unless a squash that `replaces` it stands for it (Django's way to retire migrations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from posixpath import dirname

from migrail.checks import findings as codes
from migrail.checks.findings import Finding
from migrail.graph.parser import Key
from migrail.graph.same_code import same_forwards
from migrail.sources.packages import MigrationFile, MigrationPackage
from migrail.sources.trees import Unreadable


@dataclass(frozen=True)
class Sides:
    """Content ids by path: the merge base, this branch, and the base's tip (`rev`)."""

    rev: str
    merge_base: dict[str, str]
    branch: dict[str, str]
    base: dict[str, str]
    read_branch: Callable[[str], bytes]
    read_base: Callable[[str], bytes]


def published_findings(
    sides: Sides, base: list[MigrationPackage], merged: list[MigrationPackage]
) -> list[Finding]:
    """What this branch did since the merge base to migrations the base's tip has."""
    replaced = _replaced(base) | _replaced(merged)
    # The base's squashes too: finishing a squash drops its `replaces` on the branch.
    squashes = _squashes(base) | _squashes(merged)
    merged_files = {f.path: f for _, f in _migrations(merged)}
    merged_packages = {package.path for package in merged}
    found: list[Finding] = []
    for key, migration_file in _migrations(base):
        path = migration_file.path
        if sides.branch.get(path) == sides.merge_base.get(path) or key in replaced:
            continue  # not changed here, or a squash stands for it
        if path not in sides.branch:
            if dirname(path) in merged_packages:  # else the app itself goes, records ignored
                found.append(_gone(sides, key, migration_file, merged_files))
            continue
        edit = _edit(sides, key, migration_file, merged_files.get(path), squashes)
        if edit is not None:
            found.append(edit)
    return found


def _code(read: Callable[[str], bytes], path: str) -> bytes | None:
    try:
        return read(path)
    except Unreadable:
        return None


def _migrations(packages: list[MigrationPackage]) -> Iterable[tuple[Key, MigrationFile]]:
    for package in packages:
        for name, migration_file in package.migrations.items():
            yield (package.label, name), migration_file


def _replaced(packages: list[MigrationPackage]) -> set[Key]:
    return {
        (r.app, r.name)
        for _, f in _migrations(packages)
        if f.migration is not None
        for r in f.migration.replaces
    }


def _squashes(packages: list[MigrationPackage]) -> set[Key]:
    return {
        key for key, f in _migrations(packages) if f.migration is not None and f.migration.replaces
    }


def _gone(sides: Sides, key: Key, old: MigrationFile, merged: dict[str, MigrationFile]) -> Finding:
    """E014 when a file this branch added holds the same code in the same package, else E015."""
    app, name = key
    code = _code(sides.read_base, old.path)
    for path, added in sorted(merged.items()):
        if (
            code is not None
            and dirname(path) == dirname(old.path)
            and path not in sides.merge_base
            and path not in sides.base
            and path in sides.branch
            and same_forwards(code, _code(sides.read_branch, path) or b"")
        ):
            return Finding(
                codes.RENAMED_PUBLISHED,
                app,
                path,
                1,
                f"{app}.{name} is on {sides.rev} already, and this branch renames it to "
                f"{added.name}",
                f"databases that applied it record the name {name}: keep that name "
                f"(`git mv {path} {old.path}`)",
            )
    return Finding(
        codes.DELETED_PUBLISHED,
        app,
        old.path,
        1,
        f"{app}.{name} is on {sides.rev} already, and this branch deletes it",
        f"databases that applied it keep a record Django no longer finds: restore it "
        f"(`git checkout {sides.rev} -- {old.path}`); to retire migrations, squash them "
        "(`manage.py squashmigrations`) and delete them once every database applied the squash",
    )


def _edit(
    sides: Sides,
    key: Key,
    old: MigrationFile,
    new: MigrationFile | None,
    squashes: set[Key],
) -> Finding | None:
    app, name = key
    if sides.branch[old.path] == sides.base.get(old.path):
        return None  # the base has this very version too
    restore = f"restore it (`git checkout {sides.rev} -- {old.path}`)"
    then, now = _code(sides.read_base, old.path), _code(sides.read_branch, old.path)
    if then is None or now is None:
        return None  # E011 says why the file cannot be read
    if not same_forwards(then, now):
        return Finding(
            codes.EDITED_PUBLISHED,
            app,
            old.path,
            1,
            f"{app}.{name} is on {sides.rev} already, and this branch changes its code",
            f"databases that applied it will not run it again: {restore} and put the change "
            "in a new migration (`manage.py makemigrations`)",
        )
    added = _added_dependencies(old, new, squashes)
    if not added:
        return None  # formatting, comments, a reverse, re-pointing at a squash
    return Finding(
        codes.EDITED_PUBLISHED,
        app,
        old.path,
        new.migration.class_line if new is not None and new.migration is not None else 1,
        f"{app}.{name} is on {sides.rev} already, and this branch makes it depend on "
        f"{', '.join(f'{a}.{n}' for a, n in added)}",
        f"databases that applied it lack that: `migrate` stops with "
        f"InconsistentMigrationHistory; {restore} and depend on it from a new migration",
    )


def _added_dependencies(
    old: MigrationFile, new: MigrationFile | None, squashes: set[Key]
) -> list[Key]:
    """Dependencies the new version has and the old one had not, squashes aside (Django's
    squashing docs ask for dependencies to be pointed at the squash)."""
    if old.migration is None or new is None or new.migration is None:
        return []
    before = {(d.app, d.name) for d in old.migration.dependencies}
    return sorted(
        {(d.app, d.name) for d in new.migration.dependencies if d.app} - before - squashes
    )
