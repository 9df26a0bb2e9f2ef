"""What running a migration does to stored data: the tables and columns it drops.

A plan's effects are values, not sentences: the plan prints their text, and the
rules that keep data (the backup before a sync that drops rows, the snapshot hint)
read their table and column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Effect:
    """One operation's effect on data; `table` (and `column`) set when it drops them."""

    text: str
    table: str | None = None
    column: str | None = None


def effects_backwards(migration: Any) -> list[Effect]:
    """What unapplying `migration` does, operation by operation (its last one first)."""
    app = migration.app_label
    effects = []
    for operation in migration.operations:
        kind = type(operation).__name__
        if kind == "CreateModel":
            table = operation.options.get("db_table") or f"{app}_{operation.name_lower}"
            effects.append(Effect(f"drops table {table}", table))
        elif kind == "AddField":
            table = _table_of(app, operation.model_name_lower)
            text = f"drops column {operation.name} of {app}.{operation.model_name_lower}"
            effects.append(Effect(text, table, operation.name))
        else:
            effects.append(Effect(f"undoes: {operation.describe()}"))
    return effects


def effects_forwards(migration: Any) -> list[Effect]:
    """The drops among what applying `migration` does (`RemoveField`, `DeleteModel`)."""
    app = migration.app_label
    effects = []
    for operation in migration.operations:
        kind = type(operation).__name__
        if kind == "DeleteModel":
            table = _table_of(app, operation.name_lower)
            effects.append(Effect(f"drops table {table}", table))
        elif kind == "RemoveField":
            table = _table_of(app, operation.model_name_lower)
            text = f"drops column {operation.name} of {app}.{operation.model_name_lower}"
            effects.append(Effect(text, table, operation.name))
    return effects


def drops(effects: dict[Any, list[Effect]]) -> tuple[list[str], list[tuple[str, str]]]:
    """(tables dropped, (table, column)s dropped) among `effects`."""
    tables = [e.table for es in effects.values() for e in es if e.table and e.column is None]
    columns = [(e.table, e.column) for es in effects.values() for e in es if e.table and e.column]
    return tables, columns


def _table_of(app: str, model: str) -> str:
    """The model's table as the loaded code names it; Django's default when it has no model."""
    from django.apps import apps

    try:
        return str(apps.get_model(app, model)._meta.db_table)
    except LookupError:
        return f"{app}_{model}"


def drops_hold_rows(connection: Any, effects: dict[Any, list[Effect]]) -> bool | None:
    """Whether any table or column these effects drop holds a row; None when the database
    cannot say in time (another session's lock)."""
    tables, columns = drops(effects)
    if not tables and not columns:
        return False
    try:
        return holds_rows(connection, tables, columns)
    except Exception:
        return None


def holds_rows(connection: Any, tables: Iterable[str], columns: Iterable[tuple[str, str]]) -> bool:
    """Whether any of these tables, or the tables of these (table, column)s, has a row:
    the engine's row probe, which never waits on another session's lock for long."""
    from migrail.engines import rules_for

    return rules_for(connection.vendor).holds_rows(connection, tables, columns)
