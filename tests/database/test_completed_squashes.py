"""A completed squash (Django's procedure: delete the replaced migrations, then the squash's
`replaces`) is one schema with the migrations it replaced: never an orphan to roll back.

Only history says so, so these build it in real commits, on every engine, with rows."""

from __future__ import annotations

from pathlib import Path

from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_field,
    add_user_rows,
    git,
    migration_source,
    user_rows,
)
from tests.scenarios import fresh_schema, main_branch, sync

SQUASH = "0002_stock_squashed_0003_size"
REPLACES = "    replaces = [('shop', '0002_stock'), ('shop', '0003_size')]\n\n"


def with_stock_and_size(project: DjangoProject) -> None:
    """main, then shop.0002_stock and 0003_size applied, with a row in both columns."""
    main_branch(project)
    assert project.migrail("install").returncode == 0
    project.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    project.migration(
        "shop", "0003_size", migration_source([("shop", "0002_stock")], add_field("item", "size"))
    )
    project.write("shop/migrations/max_migration.txt", "0003_size\n")
    project.commit("stock, size")


def squash(root: Path, *, replaces: bool) -> None:
    """shop.0002_stock and 0003_size squashed (Django's first step), committed."""
    ops = add_field("item", "stock") + "\n" + add_field("item", "size")
    extra = REPLACES if replaces else ""
    source = migration_source([("shop", "0001_initial")], ops, extra=extra)
    (root / f"shop/migrations/{SQUASH}.py").write_text(source)
    (root / "shop/migrations/max_migration.txt").write_text(f"{SQUASH}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "squash" if replaces else "squash: done")


def complete_the_squash(root: Path) -> None:
    """Django's second step: the replaced migrations go, and so does `replaces`."""
    git(root, "rm", "-q", "shop/migrations/0002_stock.py", "shop/migrations/0003_size.py")
    squash(root, replaces=False)


def assert_kept(project: DjangoProject, tables: object) -> None:
    """`tables`: a fresh migrate's (every branch here has the same). Tables, not records:
    the database also records the replaced migrations, as Django left them."""
    assert project.schema()["tables"] == tables
    assert project.query("SELECT name, stock, size FROM shop_item") == [[1, 2, 3]]
    assert user_rows(project) == USER_ROWS_ADDED
    migrate = project.manage("migrate", "--check")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr  # nothing left to apply


def test_a_completed_squash_keeps_its_columns_on_every_switch(
    real_db_project: tuple[DjangoProject, str],
) -> None:
    project, fresh_name = real_db_project
    with_stock_and_size(project)
    project.git("switch", "-q", "-c", "squash")
    squash(project.root, replaces=True)
    sync(project)  # the squash recorded beside what it replaces, as Django records it
    add_user_rows(project)
    project.query("INSERT INTO shop_item (name, stock, size) VALUES (1, 2, 3)")
    complete_the_squash(project.root)
    tables = fresh_schema(project, fresh_name)["tables"]

    out = sync(project)
    assert "unapplying" not in out
    assert_kept(project, tables)

    out = project.git("switch", "main")
    assert "unapplying" not in out
    assert "drops column" not in out
    assert_kept(project, tables)
    out = project.git("switch", "squash")
    assert "unapplying" not in out
    assert_kept(project, tables)


def test_a_pulled_squash_of_applied_migrations_is_recorded_not_run_again(
    tmp_path: Path, real_db_project: tuple[DjangoProject, str]
) -> None:
    """The database never saw the squash: its replaced migrations are all applied."""
    project, fresh_name = real_db_project
    with_stock_and_size(project)
    sync(project)
    add_user_rows(project)
    project.query("INSERT INTO shop_item (name, stock, size) VALUES (1, 2, 3)")
    mate = tmp_path / "mate"
    git(tmp_path, "clone", "-q", str(project.root), str(mate))
    squash(mate, replaces=True)
    complete_the_squash(mate)
    project.git("pull", "-q", "--ff-only", str(mate), "main")  # post-merge syncs

    recorded = project.query(
        f"SELECT COUNT(*) FROM django_migrations WHERE app = 'shop' AND name = '{SQUASH}'"
    )
    assert recorded == [[1]]
    assert_kept(project, fresh_schema(project, fresh_name)["tables"])
    proc = project.migrail("status")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sync_says_it_records_a_completed_squash(project: DjangoProject) -> None:
    with_stock_and_size(project)
    sync(project)
    squash(project.root, replaces=True)
    complete_the_squash(project.root)
    project.query("DELETE FROM django_migrations WHERE name = '" + SQUASH + "'")
    proc = project.migrail("status")
    assert proc.returncode == 1
    assert (
        f"    would record: shop.{SQUASH} recorded as applied: it squashes shop.0002_stock, "
        "shop.0003_size, all applied\n"
    ) in proc.stdout
    out = sync(project)
    assert (
        "migrail: database 'default' (sqlite): 0 to unapply, 0 to apply\n"
        f"  = shop.{SQUASH} recorded as applied: it squashes shop.0002_stock, shop.0003_size, "
        "all applied\n"
    ) in out
    assert project.migrail("status").returncode == 0


def test_a_squash_completed_past_a_half_applied_database_rolls_back_and_applies(
    project: DjangoProject, tmp_path: Path
) -> None:
    """Only 0002_stock applied: the squash cannot be recorded, so stock is rolled back
    (with its source from history) and the squash applied whole."""
    main_branch(project)
    project.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    project.write("shop/migrations/max_migration.txt", "0002_stock\n")
    project.commit("stock")
    sync(project)
    project.migration(
        "shop", "0003_size", migration_source([("shop", "0002_stock")], add_field("item", "size"))
    )
    squash(project.root, replaces=True)
    complete_the_squash(project.root)

    out = sync(project)
    assert "  - shop.0002_stock\n      drops column stock of shop.item\n" in out
    assert f"  + shop.{SQUASH}\n" in out
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))
    assert project.migrail("status").returncode == 0


def test_a_database_made_after_the_squash_was_completed_goes_back_to_the_replaced_ones(
    project: DjangoProject, tmp_path: Path
) -> None:
    """A teammate's or CI database migrated after the squash was completed records the squash
    only; a branch with the replaced migrations gets them recorded, as Django would have."""
    with_stock_and_size(project)
    project.git("switch", "-q", "-c", "squash")
    squash(project.root, replaces=True)
    complete_the_squash(project.root)
    sync(project)  # a new database: the squash alone is recorded
    project.query("INSERT INTO shop_item (name, stock, size) VALUES (1, 2, 3)")

    out = project.git("switch", "main")
    assert (
        f"  = shop.0002_stock recorded as applied: shop.{SQUASH}, applied, squashes it\n"
        f"  = shop.0003_size recorded as applied: shop.{SQUASH}, applied, squashes it\n"
    ) in out
    assert "Traceback" not in out
    tables = fresh_schema(project, str(tmp_path / "fresh.sqlite3"))["tables"]
    assert_kept_rows(project, tables)
    assert project.migrail("status").returncode == 0
    out = project.git("switch", "squash")
    assert "unapplying" not in out
    assert_kept_rows(project, tables)


def assert_kept_rows(project: DjangoProject, tables: object) -> None:
    assert project.schema()["tables"] == tables
    assert project.query("SELECT name, stock, size FROM shop_item") == [[1, 2, 3]]
    migrate = project.manage("migrate", "--check")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
