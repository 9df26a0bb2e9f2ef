"""A forward migration cut short where DDL is not transactional (MySQL/MariaDB).

PostgreSQL and SQLite apply a migration in one transaction: a kill, or a failing
operation, leaves none of it. MySQL and MariaDB commit each DDL statement as it runs,
so a migration stopped between two of its statements leaves tables or columns that
`django_migrations` knows nothing of: every later `migrate` fails on them ("Table
'shop_category' already exists"), and a switch to a branch without the migration
leaves them behind unseen.

So on those engines each migration is noted before it runs (with the tables and
columns it creates) and the note removed once Django recorded it. A note still there
at the next sync or status names the migration and what it left; the sync refuses
until that is undone (it then goes on by itself), and forgets a note whose migration
was recorded after all or left nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from migrail.errors import Refusal
from migrail.graph.parser import Key
from migrail.sources.gitrepo import GitRepo
from migrail.sync.journal import journal_path
from migrail.sync.migrate import Progress, ProgressCallback
from migrail.sync.private_files import private_directory, sync_directory, write_private_json

Created = tuple[str, ...]  # ("table", name) or ("column", table, column)


class HalfApplied(Refusal):
    """A migration stopped midway left what it created; nothing was changed (exit 1)."""


def note_path(repo: GitRepo, connection: Any) -> Path:
    from migrail.sync.journal import journal_dir
    from migrail.sync.rollback_safety import database_of

    # Beside the rollback journals, not among them: they are read as one per database.
    return journal_path(journal_dir(repo).with_name("applying"), database_of(connection))


def noting_each_migration(
    repo: GitRepo, connection: Any, loader: Any, progress: ProgressCallback
) -> ProgressCallback:
    """`progress`, noting each migration while it runs where DDL is not transactional."""
    if connection.features.can_rollback_ddl:
        return progress
    path = note_path(repo, connection)

    def report(step: Progress) -> None:
        if step.seconds is None and not step.backwards:
            migration = loader.graph.nodes[step.key]
            private_directory(path.parent)
            created = [list(c) for c in creates(migration)]
            note = {"migration": list(step.key), "creates": created, "steps": steps(migration)}
            write_private_json(path, note)
        elif step.seconds is not None and not step.failed and path.exists():
            path.unlink()  # recorded by Django: done
            sync_directory(path.parent)
        progress(step)

    return report


def steps(migration: Any) -> int:
    """How many statements of its own the migration runs, at least: one per operation, one
    per SQL statement given as a list to `RunSQL`. With one, a failure leaves nothing."""
    from django.db.migrations import operations

    return sum(
        len(op.sql) if isinstance(op, operations.RunSQL) and isinstance(op.sql, list) else 1
        for op in migration.operations
    )


def creates(migration: Any) -> list[Created]:
    """The tables and columns the migration's operations create, as Django names them by
    default (a `db_table` or `db_column` given is used)."""
    from django.db.migrations import operations

    app = migration.app_label
    made: list[Created] = []
    for op in migration.operations:
        if isinstance(op, operations.CreateModel):
            made.append(("table", op.options.get("db_table") or f"{app}_{op.name_lower}"))
        elif isinstance(op, operations.AddField) and not op.field.many_to_many:
            column = op.field.db_column or (f"{op.name}_id" if op.field.is_relation else op.name)
            made.append(("column", f"{app}_{op.model_name_lower}", column))
    return made


def check_half_applied(repo: GitRepo, connection: Any, *, refuse: bool = True) -> str | None:
    """The note a stopped migration left, judged against the database: None when there is
    none (or it no longer holds, and is removed); else what it left, raised as `HalfApplied`
    (or returned, for `status`, with `refuse=False`)."""
    stopped = _stopped(repo, connection, forget=refuse)
    if stopped is None:
        return None
    key, left = stopped
    name = f"{key[0]}.{key[1]}"
    what = ", ".join(_describe(c) for c in left) if left else "whatever it ran first"
    said = (
        f"migration {name} stopped midway on database {connection.alias!r} "
        f"({connection.vendor} cannot roll DDL back) and left {what}; undo that by hand "
        f"(`python manage.py sqlmigrate {key[0]} {key[1]}`, on a branch that has it, shows what "
        "it runs) or restore "
        "a backup (`migrail restore`), then sync again"
    )
    if refuse and left:
        raise HalfApplied(said + "; nothing was changed")
    if refuse:
        note_path(repo, connection).unlink(missing_ok=True)  # nothing to look for: said once
    return "migrail: " + said


def left_behind(repo: GitRepo, connection: Any) -> str | None:
    """Right after a migration failed: what it left that the engine could not roll back
    (`column weight of shop_product`), or None."""
    stopped = _stopped(repo, connection, forget=False)
    if stopped is None or not stopped[1]:
        return None
    return ", ".join(_describe(c) for c in stopped[1])


def _stopped(repo: GitRepo, connection: Any, *, forget: bool) -> tuple[Key, list[Created]] | None:
    """(the migration a note names, what it made that is still there), if the note holds."""
    path = note_path(repo, connection)
    try:
        note = json.loads(path.read_text())
        key: Key = (str(note["migration"][0]), str(note["migration"][1]))
        made = [tuple(str(part) for part in c) for c in note["creates"]]
        single = int(note.get("steps", 2)) <= 1
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        path.unlink(missing_ok=True)  # written whole: unreadable is edited; it guards nothing
        return None
    left = _still_there(connection, made)
    if _recorded(connection, key) or (made and not left) or (single and not left):
        if forget:
            path.unlink(missing_ok=True)
        return None
    return key, left


def _recorded(connection: Any, key: Key) -> bool:
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    return recorder.has_table() and key in recorder.applied_migrations()


def _still_there(connection: Any, made: list[Created]) -> list[Created]:
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        there = []
        for created in made:
            if created[1] not in tables:
                continue
            if created[0] == "column":
                described = connection.introspection.get_table_description(cursor, created[1])
                if created[2] not in {column.name for column in described}:
                    continue
            there.append(created)
        return there


def _describe(created: Created) -> str:
    return (
        f"table {created[1]}" if created[0] == "table" else f"column {created[2]} of {created[1]}"
    )
