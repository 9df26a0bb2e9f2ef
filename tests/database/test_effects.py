"""A plan's drops, followed through the renames it makes first (in process, over a graph of
migrations held in memory, as Django's `test_graph.py` builds one)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.in_process_django import configure_django

configure_django()

from django.db import migrations, models  # noqa: E402  (after the settings above)
from django.db.migrations.graph import MigrationGraph  # noqa: E402

from migrail.sync.effects import Effect, effects_backwards, effects_forwards  # noqa: E402

Key = tuple[str, str]


def loader_of(*chain: tuple[str, list[Any]]) -> tuple[Any, list[Key]]:
    """A loader-like object whose graph is `chain`, one migration after another in app `lib`."""
    graph = MigrationGraph()
    keys: list[Key] = []
    for name, operations in chain:
        key = ("lib", name)
        migration = type("Migration", (migrations.Migration,), {"operations": operations})
        graph.add_node(key, migration(name, "lib"))
        if keys:
            graph.add_dependency(None, key, keys[-1])
        keys.append(key)
    return SimpleNamespace(graph=graph, unmigrated_apps=set()), keys


BOOK = migrations.CreateModel(
    name="Book",
    fields=[
        ("id", models.AutoField(primary_key=True)),
        ("title", models.CharField(max_length=10, db_column="book_title")),
        ("tags", models.ManyToManyField("lib.Tag")),
        ("shelf", models.ForeignKey("lib.Tag", models.CASCADE, related_name="+")),
    ],
)
TAG = migrations.CreateModel(name="Tag", fields=[("id", models.AutoField(primary_key=True))])


def test_a_renamed_field_is_probed_under_its_column_today() -> None:
    loader, keys = loader_of(
        ("0001_initial", [TAG, BOOK]),
        ("0002_rename", [migrations.RenameField("book", "title", "name")]),
        ("0003_remove", [migrations.RemoveField("book", "name")]),
    )
    effects = effects_forwards(loader, keys[1:], set(keys[:1]))
    assert effects == {keys[2]: [Effect("drops column name of lib.book", "lib_book", "book_title")]}


def test_a_many_to_many_drops_its_table_and_a_foreign_key_its_column() -> None:
    loader, keys = loader_of(
        ("0001_initial", [TAG, BOOK]),
        (
            "0002_remove",
            [migrations.RemoveField("book", "tags"), migrations.RemoveField("book", "shelf")],
        ),
    )
    assert effects_forwards(loader, keys[1:], set(keys[:1])) == {
        keys[1]: [
            Effect("drops column tags of lib.book", "lib_book_tags"),
            Effect("drops column shelf of lib.book", "lib_book", "shelf"),
        ]
    }


def test_what_the_plan_makes_itself_holds_no_rows_today() -> None:
    """A model the plan creates, then renames and deletes, is nowhere in the database yet."""
    loader, keys = loader_of(
        ("0001_initial", [TAG]),
        ("0002_book", [BOOK]),
        ("0003_rename", [migrations.RenameModel("Book", "Volume")]),
        ("0004_delete", [migrations.DeleteModel("Volume")]),
    )
    effects = effects_forwards(loader, keys[1:], set(keys[:1]))
    assert effects == {keys[3]: [Effect("drops table lib_volume")]}


def test_a_rollback_follows_a_rename_back_to_the_table_of_today() -> None:
    """Unapplying AddField after a RenameModel drops the column from the renamed table."""
    loader, keys = loader_of(
        ("0001_initial", [TAG]),
        ("0002_add", [migrations.AddField("tag", "label", models.TextField(default=""))]),
        ("0003_rename", [migrations.RenameModel("Tag", "Label")]),
    )
    effects = effects_backwards(loader, keys[:0:-1], set(keys))
    assert effects == {
        keys[2]: [Effect("undoes: Rename model Tag to Label")],
        keys[1]: [Effect("drops column label of lib.tag", "lib_label", "label")],
    }
