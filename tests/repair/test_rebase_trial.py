"""What a new user's trial of `migrail rebase` found: it creates no database, says to sync only
when there is something to sync, and a fork on one branch names a command that repairs it."""

from __future__ import annotations

from tests.djangoproject import DjangoProject
from tests.scenarios import add_migration, assert_repaired, base, diverge, rebase, sync

SYNC_HINT = "run `migrail sync` to apply the renamed migrations"


def test_the_database_check_creates_no_sqlite_file(project: DjangoProject) -> None:
    """A checkout with no db.sqlite3 has nothing applied: it stays without one."""
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    database = project.root / "db.sqlite3"
    assert not database.exists()
    assert "CONFLICT" in project.git("merge", "main", check=False)
    out = rebase(project)
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    assert not database.exists()
    assert SYNC_HINT not in out


def test_sync_is_advised_only_when_migrations_were_rolled_back(project: DjangoProject) -> None:
    """A database without this branch's migrations applied has nothing to apply again."""
    base(project)
    sync(project)  # 0001_initial and 0002_price
    diverge(project, ["0003_stock"], ["0003_color"])
    assert "CONFLICT" in project.git("merge", "main", check=False)
    out = rebase(project)
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    assert SYNC_HINT not in out
    project.git("commit", "-q", "--no-edit")
    sync(project)
    # Applied, then moved: rolled back, and sync applies it again under its new name.
    project.git("switch", "-q", "-c", "later")
    add_migration(project, "shop", "0005_weight", "0004_stock")
    project.git("switch", "-q", "feature")
    add_migration(project, "shop", "0005_size", "0004_stock")
    sync(project)
    assert "CONFLICT" in project.git("merge", "later", check=False)
    out = rebase(project, "--unapply")
    assert "unapplying shop.0005_size" in out
    assert out.endswith(f"migrail: {SYNC_HINT} to your database\n")
    project.git("commit", "-q", "--no-edit")
    sync(project)
    assert_repaired(project)
