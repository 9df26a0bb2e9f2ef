"""What running a migration does to stored data: the tables and columns it drops.

A plan's effects are values, not sentences: the plan prints their text, and the
rules that keep data (the backup before a sync that drops rows, the snapshot hint)
read their table and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str]


@dataclass(frozen=True)
class Effect:
    """One operation's effect on data; `table` (and `column`) set when it drops them."""

    text: str
    table: str | None = None
    column: str | None = None


def effects_backwards(
    loader: Any, unapply: list[Key], applied: Set[Key]
) -> dict[Key, list[Effect]]:
    """What unapplying `unapply` (in that order) does to the database holding `applied`:
    for each migration, its operations' effects in the order its file lists them."""
    names = _Names(loader, applied)
    effects: dict[Key, list[Effect]] = {}
    for key in unapply:
        app = key[0]
        effects[key] = listed = []
        for operation in reversed(_database_operations(loader.graph.nodes[key].operations)):
            kind = type(operation).__name__
            if kind == "CreateModel":
                text = operation.options.get("db_table") or f"{app}_{operation.name_lower}"
                listed.append(Effect(f"drops table {text}", names.table(app, operation.name)))
                names.gone(app, operation.name)
            elif kind == "AddField":
                listed.append(names.field_drop(app, operation.model_name, operation.name))
                names.field_gone(app, operation.model_name, operation.name)
            else:
                listed.append(Effect(f"undoes: {operation.describe()}"))
                names.follow(app, operation, backwards=True)
        listed.reverse()  # in the migration's order, as its file lists them
    return effects


def effects_forwards(loader: Any, apply: list[Key], applied: Set[Key]) -> dict[Key, list[Effect]]:
    """The drops among what applying `apply` (in that order) does to the database holding
    `applied` (`RemoveField`, `DeleteModel`), for each migration that drops something."""
    names = _Names(loader, applied)
    effects: dict[Key, list[Effect]] = {}
    for key in apply:
        app = key[0]
        for operation in _database_operations(loader.graph.nodes[key].operations):
            kind = type(operation).__name__
            if kind == "DeleteModel":
                table = names.table(app, operation.name)
                text = table or f"{app}_{operation.name_lower}"
                effects.setdefault(key, []).append(Effect(f"drops table {text}", table))
                names.gone(app, operation.name)
            elif kind == "RemoveField":
                drop = names.field_drop(app, operation.model_name, operation.name)
                effects.setdefault(key, []).append(drop)
                names.field_gone(app, operation.model_name, operation.name)
            else:
                names.follow(app, operation, backwards=False)
    return effects


def _database_operations(operations: list[Any]) -> list[Any]:
    """The operations that run on the database (`SeparateDatabaseAndState`'s own)."""
    flat = []
    for operation in operations:
        if type(operation).__name__ == "SeparateDatabaseAndState":
            flat += _database_operations(operation.database_operations)
        else:
            flat.append(operation)
    return flat


class _Names:
    """Models and fields followed through the renames a plan makes, back to the database's
    names before it: a plan that renames a model (or field) and then drops it drops rows
    that sit under the old names today, where the row probe must look.

    The database's names come from Django's project state of `applied` (a model's
    `db_table`, a field's `db_column`), built on first use; a model or field the plan
    makes has no rows before it (None)."""

    def __init__(self, loader: Any, applied: Set[Key]) -> None:
        self.loader, self.applied = loader, applied
        self.models: dict[tuple[str, str], tuple[str, str] | None] = {}
        self.fields: dict[tuple[str, str, str], str | None] = {}  # keyed by the model now
        self._state: Any = None

    def model(self, app: str, name: str) -> tuple[str, str] | None:
        key = (app, name.lower())
        return self.models.get(key, key)

    def gone(self, app: str, name: str) -> None:
        self.models[(app, name.lower())] = None  # a later model of that name is a new one

    def field(self, app: str, model: str, name: str) -> tuple[tuple[str, str], str] | None:
        origin = self.model(app, model)
        if origin is None:
            return None
        field = self.fields.get((origin[0], origin[1], name.lower()), name.lower())
        return None if field is None else (origin, field)

    def field_gone(self, app: str, model: str, name: str) -> None:
        if (origin := self.model(app, model)) is not None:
            self.fields[(origin[0], origin[1], name.lower())] = None

    def follow(self, app: str, operation: Any, *, backwards: bool) -> None:
        """Follow a rename, or a model or field made, as `operation` runs in that direction."""
        kind = type(operation).__name__
        if kind == "RenameModel":
            old, new = operation.old_name, operation.new_name
            old, new = (new, old) if backwards else (old, new)
            self.models[(app, new.lower())] = self.model(app, old)
            self.gone(app, old)
        elif kind == "RenameField":
            old, new = operation.old_name, operation.new_name
            old, new = (new, old) if backwards else (old, new)
            if (origin := self.model(app, operation.model_name)) is not None:
                field = self.field(app, operation.model_name, old)
                self.fields[(origin[0], origin[1], new.lower())] = field[1] if field else None
                self.fields[(origin[0], origin[1], old.lower())] = None
        elif kind == ("DeleteModel" if backwards else "CreateModel"):
            self.gone(app, operation.name)
        elif kind == ("RemoveField" if backwards else "AddField"):
            self.field_gone(app, operation.model_name, operation.name)

    def table(self, app: str, model: str) -> str | None:
        """The table `model` (as named at this point of the plan) has in the database now."""
        origin = self.model(app, model)
        state = self.state().models.get(origin) if origin else None
        if state is None or origin is None:
            return None
        if state.options.get("proxy") or not state.options.get("managed", True):
            return None
        return str(state.options.get("db_table") or f"{origin[0]}_{origin[1]}")

    def field_drop(self, app: str, model: str, name: str) -> Effect:
        """Dropping field `name` of `model`: its column, or the table of a many-to-many."""
        text = f"drops column {name} of {app}.{model.lower()}"
        found = self.field(app, model, name)
        table = self.table(app, model)
        if found is None or table is None:
            return Effect(text)
        origin, wanted = found
        # A model state's fields are unbound: their name is the key they are listed under.
        fields = {n.lower(): (n, f) for n, f in self.state().models[origin].fields.items()}
        if wanted not in fields:
            return Effect(text)
        field_name, field = fields[wanted]
        if getattr(field, "many_to_many", False):
            if field.remote_field.through is not None:
                return Effect(text)  # its own model's table, which stays
            return Effect(text, str(field.db_table or f"{table}_{field_name}"))
        return Effect(text, table, str(field.db_column or field_name))

    def state(self) -> Any:
        if self._state is None:
            self._state = applied_state(self.loader, self.applied)
        return self._state


def applied_state(loader: Any, applied: Set[Key]) -> Any:
    """Django's project state of the database holding `applied` (as `migrate` builds it
    before it runs a plan): the models, tables and columns that exist before the plan. Each
    applied migration's state once, in graph order (Django's `make_state` checks membership
    in a list: quadratic in a project's migrations)."""
    from django.db.migrations.state import ProjectState

    graph = loader.graph
    held = {key for key in applied if key in graph.nodes}
    leaves = [key for key in held if not any(c.key in held for c in graph.node_map[key].children)]
    seen: set[Key] = set()
    state = ProjectState(real_apps=loader.unmigrated_apps)
    for leaf in sorted(leaves):
        for key in graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                state = graph.nodes[key].mutate_state(state, preserve=False)
    return state


def drops(effects: dict[Any, list[Effect]]) -> tuple[list[str], list[tuple[str, str]]]:
    """(tables dropped, (table, column)s dropped) among `effects`."""
    tables = [e.table for es in effects.values() for e in es if e.table and e.column is None]
    columns = [(e.table, e.column) for es in effects.values() for e in es if e.table and e.column]
    return tables, columns


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
