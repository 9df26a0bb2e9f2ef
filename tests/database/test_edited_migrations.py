"""A migration edited after it was applied (an amend) is named, never silently "in step"."""

from __future__ import annotations

import time
from pathlib import Path

from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_field,
    add_user_rows,
    migration_source,
    real_project,
    user_rows,
)
from tests.scenarios import feature_branch, fresh_schema, main_branch, sync

# billing.0002_seen depends on shop.0002_stock: a redo would unapply it too, so none is advised.
NOTE = (
    "shop.0002_stock changed since it was applied, and `migrate` does not re-run it; a redo "
    "would unapply 1 more applied migration after it (billing.0002_seen), so put the change "
    "in a new migration"
)


def feature_applied(tmp_path: Path) -> DjangoProject:
    """Hooks installed, feature's migrations applied by a sync, the user rows added."""
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    assert p.migrail("install").returncode == 0
    feature_branch(p)
    sync(p)
    add_user_rows(p)
    return p


def test_an_amended_migration_is_named_until_it_is_applied_again(tmp_path: Path) -> None:
    p = feature_applied(tmp_path)

    # Reformatting is not a change.
    stock = p.root / "shop/migrations/0002_stock.py"
    stock.write_text("# formatted\n" + stock.read_text().replace("    ", "        "))
    out = p.git("commit", "-qa", "--amend", "--no-edit")
    assert "changed since it was applied" not in out
    assert p.migrail("status").returncode == 0

    # Rewritten as upstream projects do (a shim, a value read another way), the same
    # operations: no change either.
    stock.write_text(
        migration_source(
            [("shop", "0001_initial")],
            "migrations.AddField(model_name=MODEL, name='st' + 'ock', "
            "field=models.IntegerField(default=0)),",
            header="MODEL = 'item'\n",
        )
    )
    out = p.git("commit", "-qa", "--amend", "--no-edit")
    assert "changed since it was applied" not in out
    assert p.migrail("status").returncode == 0

    # A field added to the applied migration in place: post-rewrite syncs and says so.
    stock.write_text(
        migration_source(
            [("shop", "0001_initial")], add_field("item", "stock") + add_field("item", "price")
        )
    )
    out = p.git("commit", "-qa", "--amend", "--no-edit")
    assert f"  note: {NOTE}\n" in out
    assert (
        "migrail: database 'default' matches the working tree, but for the changed migrations "
        "named above"
    ) in out
    proc = p.migrail("status")
    assert proc.returncode == 1
    assert f"  {NOTE}\n  an edit that changes nothing the database holds" in proc.stdout
    assert "price" not in str(p.schema()["tables"])

    # The way out it gives works, and then all is in step.
    out = sync(p, "--redo-edited")
    assert "2 to unapply, 2 to apply\n  - billing.0002_seen\n" in out
    assert "changed since" not in out
    assert "price" in str(p.schema()["tables"])
    assert p.migrail("status").returncode == 0
    assert user_rows(p) == USER_ROWS_ADDED


def test_a_renamed_migration_is_rolled_back_after_what_was_applied_on_it(
    tmp_path: Path,
) -> None:
    """A branch renames applied 0002 (and re-points 0003 at the new name); a plain sync,
    with no --from, still unapplies 0003 first: its applied copy depends on the old name."""
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    p.migration(
        "shop",
        "0003_stock_text",
        migration_source(
            [("shop", "0002_stock")],
            "migrations.AlterField(model_name='item', name='stock', "
            "field=models.CharField(max_length=10, default='0')),",
        ),
    )
    p.write("shop/migrations/max_migration.txt", "0003_stock_text\n")
    p.commit("stock as text")
    sync(p)
    add_user_rows(p)
    p.git("mv", "shop/migrations/0002_stock.py", "shop/migrations/0002_add_stock.py")
    third = p.root / "shop/migrations/0003_stock_text.py"
    third.write_text(third.read_text().replace("'0002_stock'", "'0002_add_stock'"))
    p.commit("rename")

    out = sync(p)
    assert "  - shop.0003_stock_text\n" in out
    assert "  - shop.0002_stock\n" in out
    assert "  + shop.0002_add_stock\n  + shop.0003_stock_text\n" in out
    assert p.schema() == fresh_schema(p, str(tmp_path / "fresh.sqlite3"))
    assert user_rows(p) == USER_ROWS_ADDED
    assert p.migrail("status").returncode == 0


def test_an_amend_after_a_return_visit_is_named_and_the_switch_undoes_what_was_applied(
    tmp_path: Path,
) -> None:
    """The hook applied 0002_stock again on a return visit; an amend then adds a field to it.
    It is named, and switching away unapplies the version that was applied, not the amended."""
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    assert p.migrail("install").returncode == 0
    feature_branch(p)
    sync(p)
    add_user_rows(p)
    p.git("switch", "-q", "main")
    p.git("switch", "-q", "feature")  # applied again by the hook
    time.sleep(1.1)  # the amend comes later than that application, as a person's would
    stock = p.root / "shop/migrations/0002_stock.py"
    stock.write_text(
        migration_source(
            [("shop", "0001_initial")], add_field("item", "stock") + add_field("item", "size")
        )
    )
    out = p.git("commit", "-qa", "--amend", "--no-edit")
    assert f"  note: {NOTE}\n" in out
    assert p.migrail("status").returncode == 1

    out = p.git("switch", "main")
    assert "drops column size" not in out
    assert "migrail: database 'default' matches the working tree" in out
    assert p.schema() == fresh_schema(p, str(tmp_path / "fresh.sqlite3"))
    assert user_rows(p) == USER_ROWS_ADDED


def test_a_damaged_copy_is_named_ignored_and_never_blocks_a_switch(tmp_path: Path) -> None:
    """migrail's copy of an applied migration that does not compile is not taken for an
    edit, nor run to roll back: the commit's file is, and the copy is named."""
    p = feature_applied(tmp_path)
    copy = p.root / ".git/migrail/sources/shop/0002_stock.py"
    assert copy.is_file()
    copy.write_text("def broken(:\n")
    said = (
        f"migrail: {copy} (migrail's copy of shop.0002_stock as it was applied) does not "
        "compile; it is ignored (remove it)\n"
    )
    proc = p.migrail("status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "changed since it was applied" not in proc.stdout
    assert proc.stderr == said
    out = p.git("switch", "main")
    assert "  - unapplying shop.0002_stock (" in out
    assert p.schema() == fresh_schema(p, str(tmp_path / "fresh.sqlite3"))
    assert user_rows(p) == USER_ROWS_ADDED


def test_an_edited_migration_whose_applied_copy_needs_a_removed_helper_is_unapplied_as_by_hand(
    tmp_path: Path,
) -> None:
    """A branch inlines a helper into the migration that imported it and deletes the helper:
    going back, the copy as applied cannot load in that branch's code, so the migration is
    unapplied with the branch's own file, as `manage.py migrate shop 0001` there would (no
    `--from` advice that names the same commit again)."""
    p = DjangoProject(tmp_path / "repo")
    main_branch(p)
    assert p.migrail("install").returncode == 0
    p.git("switch", "-q", "-c", "feature")
    p.write(
        "shop/helpers.py",
        "from django.db import models\n\n\ndef stock_field():\n"
        "    return models.IntegerField(default=0)\n",
    )
    header = "from shop.helpers import stock_field\n"
    operation = "migrations.AddField('item', 'stock', stock_field()),"
    p.migration(
        "shop", "0002_stock", migration_source([("shop", "0001_initial")], operation, header=header)
    )
    p.write("shop/migrations/max_migration.txt", "0002_stock\n")
    p.commit("stock")
    sync(p)
    p.git("switch", "-q", "-c", "inlined")
    (p.root / "shop/helpers.py").unlink()
    p.migration(
        "shop",
        "0002_stock",
        migration_source(
            [("shop", "0001_initial")],
            "migrations.AddField('item', 'stock', models.IntegerField(default=1)),",
        ),
    )
    p.commit("inline the helper")
    assert "changed since it was applied" in sync(p)

    out = p.git("switch", "main")
    assert "cannot load" not in out, out
    assert "unapplying shop.0002_stock" in out, out
    shop = "SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY name"
    assert p.query(shop) == [["0001_initial"]]
    assert p.migrail("status").returncode == 0


def test_an_edit_that_changes_nothing_in_the_database_is_accepted_once_asked(
    tmp_path: Path,
) -> None:
    """A helper inlined into the applied migration: status exits 1 until
    `sync --accept-edited` takes the new file as applied, which runs nothing."""
    p = feature_applied(tmp_path)
    stock = p.root / "shop/migrations/0002_stock.py"
    stock.write_text(stock.read_text().replace("default=0", "default=1"))
    p.git("commit", "-qa", "--amend", "--no-edit")
    assert p.migrail("status").returncode == 1
    before = p.query("SELECT id, app, name FROM django_migrations ORDER BY id")

    out = sync(p, "--accept-edited")

    assert "migrail: shop.0002_stock is taken as applied in its edited form" in out
    assert "applying" not in out
    assert p.query("SELECT id, app, name FROM django_migrations ORDER BY id") == before
    status = p.migrail("status")
    assert status.returncode == 0, status.stdout
    assert "changed since it was applied" not in status.stdout
    assert user_rows(p) == USER_ROWS_ADDED
