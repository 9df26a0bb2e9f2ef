"""What a snapshot's label and a switch's notes say, from a new user's trial: a snapshot saved
after a forward migrate that failed partway names the commit whose code applied what it holds,
and a switch that saved a snapshot never says it could not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.database.test_snapshots import drop_snapshot_databases  # noqa: F401
from tests.databases import PG_DSN, database_settings
from tests.djangoproject import DjangoProject
from tests.scenarios import add_migration, main_branch, sync


def test_a_switch_that_saved_never_says_it_could_not(tmp_path: Path) -> None:
    """`git switch stock` with a psql session open fell back to syncing; `migrail sync` made
    the swap it could not; `git switch main` then saved stock's snapshot and restored main's,
    which holds stock's 0002_stock (synced in by the fallback): its rollback drops rows no
    snapshot keeps, but this switch saved one, and must not say it could not."""
    psycopg = pytest.importorskip("psycopg")

    with database_settings("postgresql", tmp_path) as (settings, _):
        project = DjangoProject(tmp_path / "repo", database=settings)
        project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
        main_branch(project)
        assert project.migrail("install").returncode == 0
        sync(project)
        project.query("INSERT INTO shop_item (name) VALUES (1)")
        project.git("switch", "-q", "-c", "stock")  # main's snapshot saved
        add_migration(project, "shop", "0002_stock", "0001_initial")
        sync(project)
        project.git("switch", "main")

        dsn = PG_DSN.replace("dbname=postgres", f"dbname={settings['NAME']}")
        with psycopg.connect(dsn, autocommit=True):  # psql
            out = project.git("switch", "stock")
        assert "syncing without snapshots instead" in out
        assert "holds the data of 'main'; saving it before this sync" in sync(project)
        out = project.git("switch", "main")

        assert "saved database 'default' as the snapshot of 'stock' and restored the " in out
        assert "- unapplying shop.0002_stock" in out
        assert "this switch could not save one" not in out, out
        assert (
            "migrail: this rollback drops tables or columns that hold rows, and no snapshot keeps "
            "them; bring them back from the backup with `migrail restore`\n"
        ) in out, out
        assert project.query("SELECT name FROM shop_item") == [[1]]
