"""In process, as Django's `test_executor.py` drives `MigrationExecutor`: `run_plan` sends
`migrate`'s signals, reports each migration, names the one that fails; a plan's effects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from migrail.sync.effects import (
    Effect,
    drops,
    drops_hold_rows,
    effects_backwards,
    effects_forwards,
)
from migrail.sync.migrate import MigrationFailed, Progress, run_plan
from tests.in_process_django import configure_django, empty_database

configure_django()

from django.db import connection  # noqa: E402  (after the settings above)
from django.db.migrations.executor import MigrationExecutor  # noqa: E402


@pytest.fixture
def executor() -> Iterator[Any]:
    """An empty in-memory database for each test, nothing applied."""
    empty_database()
    yield MigrationExecutor(connection)
    empty_database()


def migrate_to(executor: Any, *targets: tuple[str, str | None]) -> list[Progress]:
    events: list[Progress] = []
    executor.loader.build_graph()
    run_plan(executor, executor.migration_plan(list(targets)), events.append)
    return events


def content_types() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT app_label, model FROM django_content_type WHERE app_label = 'shop'")
        return sorted(cursor.fetchall())


def test_each_migration_is_reported_as_it_starts_and_ends(executor: Any) -> None:
    events = migrate_to(executor, ("contenttypes", "0002_remove_content_type_name"))
    keys = [event.key for event in events]
    assert keys == [
        ("contenttypes", "0001_initial"),
        ("contenttypes", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    assert [event.seconds is None for event in events] == [True, False, True, False]
    assert all(not event.backwards and not event.failed for event in events)


def test_unapplying_a_rename_renames_its_content_type_back(executor: Any) -> None:
    """contenttypes' `pre_migrate` handler injects the content type's rename into the plan:
    the executor alone (no signals) leaves `shop.product` behind."""
    migrate_to(executor, ("contenttypes", "0002_remove_content_type_name"), ("shop", "0002_rename"))
    assert content_types() == [("shop", "product")]

    events = migrate_to(executor, ("shop", "0001_initial"))

    assert [(e.key, e.backwards) for e in events if e.seconds is not None] == [
        (("shop", "0002_rename"), True)
    ]
    assert content_types() == [("shop", "item")]


def test_a_failing_migration_is_named_with_the_databases_word(executor: Any) -> None:
    events: list[Progress] = []
    executor.loader.build_graph()
    plan = executor.migration_plan([("broken", "0001_initial")])
    with pytest.raises(MigrationFailed) as failed:
        run_plan(executor, plan, events.append)
    assert failed.value.key == ("broken", "0001_initial")
    assert str(failed.value) == "migration broken.0001_initial failed: no such table: no_such_table"
    assert failed.value.exit_status == 1
    assert events[-1].failed
    assert events[-1].key == ("broken", "0001_initial")
    executor.loader.build_graph()
    assert ("broken", "0001_initial") not in executor.loader.applied_migrations


SHOP = [("shop", "0001_initial"), ("shop", "0002_rename"), ("shop", "0003_remove_price")]


def test_effects_name_the_tables_and_columns_dropped(executor: Any) -> None:
    loader = executor.loader
    unapply = list(reversed(SHOP))
    assert effects_backwards(loader, unapply, set(SHOP)) == {
        ("shop", "0003_remove_price"): [Effect("undoes: Remove field price from product")],
        ("shop", "0002_rename"): [Effect("undoes: Rename model Item to Product")],
        # named by its migration, probed where it is now: renamed by 0002
        ("shop", "0001_initial"): [Effect("drops table shop_item", "shop_product")],
    }
    remove = effects_forwards(loader, SHOP[2:], set(SHOP[:2]))
    assert remove == {
        ("shop", "0003_remove_price"): [
            Effect("drops column price of shop.product", "shop_product", "price")
        ]
    }
    assert effects_forwards(loader, SHOP[1:2], set(SHOP[:1])) == {}
    assert drops(remove) == ([], [("shop_product", "price")])


def test_a_drop_after_a_rename_in_the_same_plan_is_probed_under_todays_name(
    executor: Any,
) -> None:
    """RenameModel then RemoveField in one `migrate`: the rows the column holds sit in the
    table as named before the plan (`shop_item`), which is where the probe looks."""
    migrate_to(executor, SHOP[0])
    effects = effects_forwards(executor.loader, SHOP[1:], set(SHOP[:1]))
    assert effects == {
        ("shop", "0003_remove_price"): [
            Effect("drops column price of shop.product", "shop_item", "price")
        ]
    }
    assert drops_hold_rows(connection, effects) is False
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO shop_item (price) VALUES (5)")
    assert drops_hold_rows(connection, effects) is True


def test_drops_hold_rows_only_when_a_dropped_column_has_one(executor: Any) -> None:
    migrate_to(executor, ("shop", "0002_rename"))
    remove = effects_forwards(executor.loader, SHOP[2:], set(SHOP[:2]))
    assert drops_hold_rows(connection, remove) is False
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO shop_product (price) VALUES (5)")
    assert drops_hold_rows(connection, remove) is True
    assert drops_hold_rows(connection, {("shop", "0002_rename"): []}) is False
