"""`max_migration.txt`: one line, the latest migration's name, a newline.

Byte for byte the format of django-linear-migrations, so projects can move
between the two with no change.
"""

from __future__ import annotations

from dataclasses import dataclass

LONGEST_NAME = 255  # a file name's limit on the usual file systems


@dataclass(frozen=True)
class MaxMigration:
    name: str


@dataclass(frozen=True)
class ConflictedMaxMigration:
    """Git left both sides in the file: `ours` above `=======`, `theirs` below."""

    ours: tuple[str, ...]
    theirs: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class MalformedMaxMigration:
    reason: str
    line: int


def render(name: str) -> bytes:
    return f"{name}\n".encode()


def read_max_migration(
    data: bytes,
) -> MaxMigration | ConflictedMaxMigration | MalformedMaxMigration:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return MalformedMaxMigration("is not UTF-8 text", 1)
    lines = text.splitlines()
    if any(line.startswith("<<<<<<<") for line in lines):
        return _read_conflict(lines)
    names = [(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]
    if not names:
        return MalformedMaxMigration("is empty", 1)
    if len(names) > 1:
        return MalformedMaxMigration("contains multiple lines", names[1][0])
    if len(names[0][1]) > LONGEST_NAME:
        # No module has such a name; and the line is not worth echoing anywhere.
        return MalformedMaxMigration("is not a migration name (too long)", names[0][0])
    return MaxMigration(names[0][1])


def _read_conflict(lines: list[str]) -> ConflictedMaxMigration:
    ours: list[str] = []
    theirs: list[str] = []
    base: list[str] = []  # diff3/zdiff3's merge-base section: neither side
    side: list[str] | None = None
    first = 0
    for number, line in enumerate(lines, 1):
        if line.startswith("<<<<<<<"):
            first = first or number
            side = ours
        elif line.startswith("|||||||"):
            side = base
        elif line.startswith("======="):
            side = theirs
        elif line.startswith(">>>>>>>"):
            side = None
        elif line.strip():
            # zdiff3 may hoist common lines outside the markers: they belong to both.
            for target in (side,) if side is not None else (ours, theirs):
                target.append(line.strip())
    return ConflictedMaxMigration(tuple(ours), tuple(theirs), first)
