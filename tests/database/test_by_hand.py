"""A switch through the installed hooks leaves exactly what the by-hand sequence leaves on a
copy of the same database: `manage.py migrate APP TARGET` with the code that applied the
migrations, the checkout, `manage.py migrate`. Every table, every row."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.by_hand import assert_same_as_by_hand, copy_database, migrate_by_hand
from tests.databases import database_settings
from tests.djangoproject import (
    DjangoProject,
    add_user_rows,
    create_model,
    git,
    migration_source,
    real_project,
    run_env,
)

NOTE_MODEL = """\
migrations.CreateModel(
    name="Note",
    fields=[
        ("id", models.AutoField(primary_key=True)),
        ("object_id", models.IntegerField()),
        ("text", models.TextField()),
        ("content_type", models.ForeignKey(
            on_delete=models.CASCADE, to="contenttypes.contenttype")),
    ],
),"""

NOTES_MODELS = """\
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Note(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.IntegerField()
    text = models.TextField()
    target = GenericForeignKey("content_type", "object_id")
"""


def models_module(model: str, *fields: str) -> str:
    """The models.py that goes with `create_model(model, *fields)` (contenttypes and auth
    create their rows only for apps with a models module)."""
    return "from django.db import models\n" + model_class(model, *fields)


def model_class(model: str, *fields: str) -> str:
    """One model of `create_model(model, *fields)`, for the end of a models module."""
    columns = "".join(f"    {f} = models.IntegerField(default=0)\n" for f in fields)
    return (
        f"\n\nclass {model}(models.Model):\n    id = models.AutoField(primary_key=True)\n{columns}"
    )


def shop_branch(
    p: DjangoProject,
    branch: str,
    name: str,
    parent: str,
    operations: str,
    *,
    models: str | None = None,
    start: str | None = None,
) -> None:
    """Branch `branch` (from `start`, else here, the hooks skipped) with one more shop
    migration, `models` as shop/models.py, committed."""
    args = ["switch", "-q", "-c", branch, *([start] if start else [])]
    git(p.root, *args, env={**p.env, "MIGRAIL_SKIP": "1"})
    p.migration("shop", name, migration_source([("shop", parent)], operations))
    if models is not None:
        p.write("shop/models.py", models)
    p.write("shop/migrations/max_migration.txt", f"{name}\n")
    p.commit(branch)


# A note on an item, as django-taggit or django-comments hold a tag or a comment: by content type.
NOTE_ON_ITEM = """\
import django
django.setup()
from django.contrib.contenttypes.models import ContentType
from django.db import connection
item = ContentType.objects.get(app_label="shop", model="item")
with connection.cursor() as cursor:
    cursor.execute("INSERT INTO shop_item (id) VALUES (7)")
    cursor.execute(
        "INSERT INTO notes_note (object_id, text, content_type_id) VALUES (7, 'kept', %s)",
        [item.pk],
    )
"""

SET_PRICE = """\
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("UPDATE shop_item SET price = 5")
"""

NOTE_TARGET = """\
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute(
        "SELECT ct.app_label, ct.model FROM notes_note n "
        "JOIN django_content_type ct ON ct.id = n.content_type_id"
    )
    print([tuple(row) for row in cursor.fetchall()])
"""


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shaped(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[DjangoProject, str]]:
    """Contrib apps with rows, a third-party app outside the work tree, a generic relation;
    with the NAME of a second database for the by-hand copy."""
    with database_settings(request.param, tmp_path) as (settings, copy_name):
        p = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        p.add_app("shop")
        p.add_app("notes")
        p.migration("shop", "0001_initial", migration_source([], create_model("Item")))
        p.migration(
            "notes",
            "0001_initial",
            migration_source([("contenttypes", "0002_remove_content_type_name")], NOTE_MODEL),
        )
        p.write("shop/models.py", models_module("Item"))
        p.write("notes/models.py", NOTES_MODELS)
        p.write("shop/migrations/max_migration.txt", "0001_initial\n")
        p.write("notes/migrations/max_migration.txt", "0001_initial\n")
        p.commit("main")
        assert p.manage("migrate").returncode == 0
        add_user_rows(p)
        assert p.python(NOTE_ON_ITEM).returncode == 0
        installed = p.migrail("install")
        assert installed.returncode == 0, installed.stderr
        yield p, copy_name


def switch(p: DjangoProject, *args: str, check: bool = True) -> str:
    """git with its hooks; everything git and the hooks printed."""
    proc = subprocess.run(
        ["git", *args], cwd=p.root, env=run_env(p.env), capture_output=True, text=True
    )
    assert proc.returncode == 0 or not check, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_switching_back_past_a_renamed_model_keeps_its_generic_relations(
    shaped: tuple[DjangoProject, str],
) -> None:
    """contenttypes renames the content type back when `RenameModel` is unapplied through
    `migrate` (its `pre_migrate` handler): the note stays on the item."""
    p, copy_name = shaped
    rename = "migrations.RenameModel(old_name='Item', new_name='Product'),"
    shop_branch(p, "rename", "0002_rename", "0001_initial", rename, models=models_module("Product"))
    assert p.manage("migrate").returncode == 0  # as the branch's author did
    assert p.python(NOTE_TARGET).stdout.strip() == "[('shop', 'product')]"

    copy_database(p, copy_name)
    migrate_by_hand(p, copy_name, "shop", "0001")
    out = switch(p, "switch", "main")
    migrate_by_hand(p, copy_name)

    assert p.python(NOTE_TARGET).stdout.strip() == "[('shop', 'item')]"
    assert_same_as_by_hand(p, copy_name)
    assert "  - unapplying shop.0002_rename (" in out  # as it ran, with its time


def test_a_forward_switch_sends_migrates_signals_as_migrate_does(
    shaped: tuple[DjangoProject, str],
) -> None:
    """Arriving at a branch that adds a model: its content type and permissions are created,
    as `manage.py migrate` creates them, and every row equals the by-hand result."""
    p, copy_name = shaped
    models = models_module("Item") + models_module("Stock", "count")
    stock = create_model("Stock", "count")
    shop_branch(p, "stock", "0002_stock", "0001_initial", stock, models=models)
    p.git("switch", "-q", "main")  # 0002_stock never applied: nothing to roll back

    copy_database(p, copy_name)
    out = switch(p, "switch", "stock")
    migrate_by_hand(p, copy_name)

    permissions = p.query(
        "SELECT codename FROM auth_permission WHERE codename LIKE '%stock' ORDER BY codename"
    )
    assert permissions == [["add_stock"], ["change_stock"], ["delete_stock"], ["view_stock"]]
    assert_same_as_by_hand(p, copy_name)
    assert "  + applying shop.0002_stock (" in out  # as it ran, with its time


def test_a_failing_migration_is_named_and_the_next_sync_tells_the_truth(
    shaped: tuple[DjangoProject, str],
) -> None:
    """The rollback with the old commit's code committed; the forward migrate then fails on
    a broken migration: one line names it, and the next sync says nothing false about a
    transaction rolled back: it has that migration (and only it) left to apply."""
    p, _ = shaped
    shop_branch(p, "stock", "0002_stock", "0001_initial", create_model("Stock", "count"))
    assert p.manage("migrate").returncode == 0
    broken = "migrations.RunSQL('SELECT * FROM no_such_table'),"
    shop_branch(p, "broken", "0002_broken", "0001_initial", broken, start="main")
    git(p.root, "switch", "-q", "stock", env={**p.env, "MIGRAIL_SKIP": "1"})

    out = switch(p, "switch", "broken", check=False)

    assert "  - unapplying shop.0002_stock (" in out
    assert "migration shop.0002_broken failed: " in out
    assert "no_such_table" in out.split("migration shop.0002_broken failed: ")[1].splitlines()[0]
    assert "Traceback" not in out
    assert out.endswith("migrail: when that is fixed, run `migrail sync`\n")  # no --from: done
    assert p.query("SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY name") == [
        ["0001_initial"]
    ]
    again = p.migrail("sync")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "stopped midway" not in again.stdout + again.stderr
    assert "0 to unapply, 1 to apply\n  + shop.0002_broken\n" in again.stdout
    assert "migration shop.0002_broken failed: " in again.stderr
    assert "left to apply (shop.0002_broken)" in again.stderr


def test_a_forward_switch_that_drops_a_column_holding_rows_backs_it_up_first(
    shaped: tuple[DjangoProject, str],
) -> None:
    """Snapshots off, no rollback: applying a `RemoveField` on a column with rows names what it
    drops and the backup that brings it back; the restore does."""
    remove = "migrations.RemoveField(model_name='item', name='price'),"
    drops_price_with_a_backup(*shaped, remove, "Item")


@pytest.mark.parametrize("shaped", ["sqlite"], indirect=True)
def test_a_column_dropped_after_a_rename_in_the_same_switch_is_backed_up_too(
    shaped: tuple[DjangoProject, str],
) -> None:
    """RenameModel, then RemoveField of the renamed model, applied by one switch: the rows
    sit in the table under its name before the switch, which is where they are probed."""
    rename_and_remove = (
        "migrations.RenameModel(old_name='Item', new_name='Thing'),\n"
        "        migrations.RemoveField(model_name='thing', name='price'),"
    )
    drops_price_with_a_backup(*shaped, rename_and_remove, "Thing")


def drops_price_with_a_backup(p: DjangoProject, copy_name: str, remove: str, model: str) -> None:
    add_price = (
        "migrations.AddField(model_name='item', name='price', "
        "field=models.IntegerField(default=0)),"
    )
    priced = models_module("Item", "price")
    shop_branch(p, "price", "0002_price", "0001_initial", add_price, models=priced)
    assert p.manage("migrate").returncode == 0
    assert p.python(SET_PRICE).returncode == 0
    shop_branch(p, "slim", "0003_remove_price", "0002_price", remove, models=models_module(model))
    git(p.root, "switch", "-q", "price", env={**p.env, "MIGRAIL_SKIP": "1"})

    copy_database(p, copy_name)
    out = switch(p, "switch", "slim")
    migrate_by_hand(p, copy_name)

    assert_same_as_by_hand(p, copy_name)
    said = (
        f"migrail: shop.0003_remove_price drops column price of shop.{model.lower()}, "
        "rows included; "
    )
    assert said in out, out
    backup = out.split(said + "`migrail restore ")[1].split("`")[0]
    restored = p.migrail("restore", backup)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert p.query("SELECT price FROM shop_item") == [[5]]


def test_an_app_only_the_branch_left_installs_is_rolled_back_to_zero(
    shaped: tuple[DjangoProject, str],
) -> None:
    """`django.contrib.sites`, added to INSTALLED_APPS on a branch: switching away rolls it
    back to zero with that branch's code, as `migrate sites zero` before the checkout does."""
    p, copy_name = shaped
    p.git("switch", "-q", "-c", "sites")
    p.apps.append("django.contrib.sites")
    p.write_settings("SITE_ID = 1\n")
    p.commit("sites")
    assert p.manage("migrate").returncode == 0
    assert p.query("SELECT domain FROM django_site") == [["example.com"]]

    copy_database(p, copy_name)
    migrate_by_hand(p, copy_name, "sites", "zero")
    out = switch(p, "switch", "main")
    migrate_by_hand(p, copy_name)

    assert "  - unapplying sites.0001_initial (" in out
    assert p.query("SELECT COUNT(*) FROM django_migrations WHERE app = 'sites'") == [[0]]
    assert_same_as_by_hand(p, copy_name)
    status = p.migrail("status")
    assert status.returncode == 0, status.stdout + status.stderr


@pytest.mark.parametrize("shaped", ["sqlite"], indirect=True)
def test_a_sync_with_nothing_to_apply_still_records_a_squash_as_migrate_does(
    shaped: tuple[DjangoProject, str],
) -> None:
    """A squash arrives whose replaced migrations are all applied: `migrate` has nothing to
    run but records the squash (its bookkeeping), and so does the switch."""
    p, copy_name = shaped
    p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], create_model("Stock", "count")),
    )
    p.write("shop/migrations/max_migration.txt", "0002_stock\n")
    p.commit("stock")
    assert p.manage("migrate").returncode == 0
    p.git("switch", "-q", "-c", "squashed")
    p.migration(
        "shop",
        "0001_squashed_0002_stock",
        migration_source(
            [],
            create_model("Item") + "\n" + create_model("Stock", "count"),
            extra="    replaces = [('shop', '0001_initial'), ('shop', '0002_stock')]\n",
        ),
    )
    p.write("shop/migrations/max_migration.txt", "0001_squashed_0002_stock\n")
    p.commit("squash")
    git(p.root, "switch", "-q", "main", env={**p.env, "MIGRAIL_SKIP": "1"})

    copy_database(p, copy_name)
    switch(p, "switch", "squashed")
    migrate_by_hand(p, copy_name)

    recorded = "SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY name"
    assert p.query(recorded) == [["0001_initial"], ["0001_squashed_0002_stock"], ["0002_stock"]]
    assert_same_as_by_hand(p, copy_name)


def test_going_back_past_a_release_that_deleted_a_migration_unapplies_its_successor_first(
    shaped: tuple[DjangoProject, str],
) -> None:
    """v2 deletes 0002_price and points 0003_stock past it. From a database migrated at v2,
    switching back to v1 (where 0003_stock depends on 0002_price) takes the careful order:
    `migrate shop 0001` with v2's code, the checkout, `migrate` (0002 then 0003 again)."""
    p, copy_name = shaped
    add_price = (
        "migrations.AddField(model_name='item', name='price', "
        "field=models.IntegerField(default=0)),"
    )
    stock = create_model("Stock", "count")
    with_price = models_module("Item", "price") + model_class("Stock", "count")
    shop_branch(p, "v1", "0002_price", "0001_initial", add_price, models=with_price)
    p.migration("shop", "0003_stock", migration_source([("shop", "0002_price")], stock))
    p.write("shop/migrations/max_migration.txt", "0003_stock\n")
    p.commit("v1: stock")
    git(p.root, "switch", "-q", "-c", "v2", env={**p.env, "MIGRAIL_SKIP": "1"})
    (p.root / "shop/migrations/0002_price.py").unlink()
    p.migration("shop", "0003_stock", migration_source([("shop", "0001_initial")], stock))
    p.write("shop/models.py", models_module("Item") + model_class("Stock", "count"))
    p.commit("v2: the price goes, its migration with it")
    assert p.manage("migrate").returncode == 0  # {0001_initial, 0003_stock}

    copy_database(p, copy_name)
    migrate_by_hand(p, copy_name, "shop", "0001")
    out = switch(p, "switch", "v1")
    migrate_by_hand(p, copy_name)

    assert "  - unapplying shop.0003_stock (" in out, out
    assert "  + applying shop.0002_price (" in out, out
    assert_same_as_by_hand(p, copy_name)
