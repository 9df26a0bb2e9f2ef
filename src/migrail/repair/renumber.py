"""Renumbering a chain of migrations, as text: new names, and dependencies rewritten in place.

Only the string literals that name a migration in `dependencies`, `run_before`
and `replaces` change; every other byte of the file stays as it was.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

from migrail.graph.graph import NUMBER
from migrail.graph.parser import Key

SQUASHED = re.compile(r".*_squashed_(\d+)")
"""A squash's name (`0001_squashed_0004_x`, `0003_sku_squashed_0004_x`): its last number."""


def new_names(chain: list[str], after: str) -> dict[str, str]:
    """Names for `chain` (in dependency order) numbered on from `after`; unnumbered names stay.

    After a squash, numbering goes on from the last number it replaces, as
    `makemigrations` numbers (Django's `MigrationAutodetector.parse_number`).
    """
    base = NUMBER.match(after)
    if base is None:
        return {}
    squashed = SQUASHED.match(after)
    digits = squashed.group(1) if squashed else base.group(1)
    width, number = len(digits), int(digits)
    renamed = {}
    for name in chain:
        match = NUMBER.match(name)
        if match is None:
            continue
        number += 1
        new = f"{number:0{width}d}_{match.group(2)}"
        if new != name:
            renamed[name] = new
    return renamed


def rewrite_dependencies(source: bytes, mapping: Mapping[Key, Key]) -> bytes:
    """Point every reference to a key of `mapping` at its new key, editing only the literals."""
    module = ast.parse(source)
    edits: list[tuple[int, int, int, bytes, bytes]] = []
    for node in module.body:
        if not (isinstance(node, ast.ClassDef) and node.name == "Migration"):
            continue
        for stmt in node.body:
            if not isinstance(stmt, ast.Assign) or not any(
                isinstance(t, ast.Name) and t.id in ("dependencies", "run_before", "replaces")
                for t in stmt.targets
            ):
                continue
            if not isinstance(stmt.value, (ast.List, ast.Tuple)):
                continue
            for item in stmt.value.elts:
                edit = _edit_for(item, mapping)
                if edit is not None:
                    edits.append(edit)
    if not edits:
        return source
    lines = source.splitlines(keepends=True)
    for line, start, end, old, new in sorted(edits, reverse=True):
        raw = lines[line - 1]
        literal = raw[start:end]  # the literal as written: its quotes and prefix stay
        lines[line - 1] = raw[:start] + literal.replace(old, new, 1) + raw[end:]
    return b"".join(lines)


def _edit_for(
    item: ast.expr, mapping: Mapping[Key, Key]
) -> tuple[int, int, int, bytes, bytes] | None:
    if not (isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) == 2):
        return None
    app, name = item.elts
    if not (
        isinstance(app, ast.Constant)
        and isinstance(app.value, str)
        and isinstance(name, ast.Constant)
        and isinstance(name.value, str)
    ):
        return None
    target = mapping.get((app.value, name.value))
    if target is None or name.end_col_offset is None or name.end_lineno != name.lineno:
        return None
    return (
        name.lineno,
        name.col_offset,
        name.end_col_offset,
        name.value.encode(),
        target[1].encode(),
    )
