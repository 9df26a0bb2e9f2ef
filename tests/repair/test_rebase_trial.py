"""What a new user's trial of `migrail rebase` found: it creates no database, says to sync only
when there is something to sync, and a fork on one branch names a command that repairs it."""

from __future__ import annotations

from tests.djangoproject import DjangoProject
from tests.scenarios import base, diverge, rebase


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
