"""migrail keeps the source of each migration as the database ran it: a migration applied
and deleted before any commit had it can be rolled back, and a return to an older release
whose file differs from a newer one's is not taken for an edit."""

from __future__ import annotations

from pathlib import Path

from tests.djangoproject import (
    add_field,
    create_model,
    migration_source,
    real_project,
)
from tests.scenarios import fresh_schema, main_branch

SHOP_ROWS = "SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY name"


def test_a_migration_applied_by_hand_and_deleted_uncommitted_is_rolled_back(
    tmp_path: Path,
) -> None:
    """With "migrail" in INSTALLED_APPS, `manage.py migrate` keeps the source too: the
    migration thrown away before any commit had it is unapplied with that copy."""
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    p.apps.append("migrail")
    p.write_settings()
    main_branch(p)
    stock = p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    migrated = p.manage("migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    stock.unlink()  # the work thrown away, never committed

    proc = p.migrail("sync")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  - unapplying shop.0002_stock (" in proc.stdout
    assert p.query(SHOP_ROWS) == [["0001_initial"]]
    assert p.schema() == fresh_schema(p, str(tmp_path / "fresh.sqlite3"))


def test_without_a_copy_the_refusal_says_where_it_looked(tmp_path: Path) -> None:
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    stock = p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    assert p.manage("migrate").returncode == 0
    stock.unlink()

    proc = p.migrail("sync")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    copies = p.root / ".git/migrail/sources"
    assert (
        "cannot find the source of shop.0002_stock: no commit of any branch, tag or the reflog "
        f"has it, nor migrail's copies in {copies}"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert p.query(SHOP_ROWS) == [["0001_initial"], ["0002_stock"]]  # nothing changed


def test_returning_to_an_older_release_of_a_migration_is_not_an_edit(tmp_path: Path) -> None:
    """v2 rewrites applied 0002 to import a helper only v2 has (the same operations). The
    database ran v1's file; back at v1, that file is what it ran: no "changed" note."""
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    assert p.migrail("install").returncode == 0
    p.git("switch", "-q", "-c", "v1")
    p.migration(
        "shop", "0002_stock", migration_source([("shop", "0001_initial")], create_model("Stock"))
    )
    p.write("shop/migrations/max_migration.txt", "0002_stock\n")
    p.commit("v1")
    assert p.migrail("sync").returncode == 0
    p.git("switch", "-q", "-c", "v2")
    p.write("shop/naming.py", "def stock():\n    return 'Stock'\n")
    p.migration(
        "shop",
        "0002_stock",
        migration_source(
            [("shop", "0001_initial")],
            create_model("Stock").replace("'Stock'", "stock()"),
            header="from shop.naming import stock\n",
        ),
    )
    p.commit("v2: the name from a helper")
    at_v2 = p.migrail("sync")  # the same operations: not an edit, nothing to do
    assert at_v2.returncode == 0, at_v2.stdout + at_v2.stderr
    assert "changed since it was applied" not in at_v2.stdout

    out = p.git("switch", "v1")

    assert "changed since it was applied" not in out
    status = p.migrail("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "changed since it was applied" not in status.stdout
