"""What a snapshot's label and a switch's notes say, from a new user's trial: a snapshot saved
after a forward migrate that failed partway names the commit whose code applied what it holds,
and a switch that saved a snapshot never says it could not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.database.test_snapshots import drop_snapshot_databases  # noqa: F401
from tests.databases import PG_DSN, database_settings
from tests.djangoproject import DjangoProject, add_field, migration_source
from tests.scenarios import add_migration, main_branch, sync


def broken_branch(project: DjangoProject) -> str:
    """broken, made from main with the hooks off: 0003_color, then 0004_broken, which raises
    (SQL on a table that does not exist). Returns its commit; main is checked out again."""
    project.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "-c", "broken")
    project.migration(
        "shop",
        "0003_color",
        migration_source([("shop", "0001_initial")], add_field("item", "color")),
    )
    project.migration(
        "shop",
        "0004_broken",
        migration_source(
            [("shop", "0003_color")], "migrations.RunSQL('UPDATE no_such_table SET x = 1'),"
        ),
    )
    project.write("shop/migrations/max_migration.txt", "0004_broken\n")
    broken = project.commit("broken")
    project.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "main")
    return broken


@pytest.mark.parametrize("db_project", ["sqlite", "postgresql"], indirect=True)
def test_a_forward_migrate_that_failed_partway_is_labelled_with_the_code_that_ran_it(
    db_project: tuple[DjangoProject, str],
) -> None:
    project, _ = db_project
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    main = project.git("rev-parse", "HEAD").strip()
    broken = broken_branch(project)

    out = project.git("switch", "broken", check=False)
    assert "+ shop.0003_color" in out
    assert "migrail: the sync did not finish" in out
    out = project.git("switch", "main")
    label = (
        "migrail: saved database 'default' as the snapshot of 'broken' (not synced: it holds the "
        f"migrations of commit {broken[:12]})"
    )
    assert label in out, out  # it said main's commit, whose code lacks 0003_color
    assert f"migrations of commit {main[:12]}" not in out
    assert f"  broken    branch  {broken[:12]}  no  " in project.migrail("snapshot", "list").stdout

    # Back on broken, its snapshot syncs from its own code: 0004_broken fails again, and the
    # snapshot saved next still says so (its commit is the branch's own, but not all applied).
    out = project.git("switch", "broken", check=False)
    assert "restored the snapshot of 'broken'" in out
    assert "0003_color" not in out
    assert "migrail: the sync did not finish" in out
    assert label in project.git("switch", "main")


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


def test_a_sync_failed_by_a_migration_that_cannot_load_keeps_its_note(
    project: DjangoProject,
) -> None:
    """The failed sync's note asks the checkout's code what it has: a migration file that
    cannot even be imported (what failed the sync) leaves the note as it was, its commit the
    one the sync went from, and the hook's own message the last word."""
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    main = project.git("rev-parse", "HEAD").strip()
    project.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "-c", "unloadable")
    project.migration(
        "shop",
        "0002_typo",
        migration_source([("shop", "0001_initial")], header="import no_such_module_typo"),
    )
    project.write("shop/migrations/max_migration.txt", "0002_typo\n")
    project.git("add", "-A")
    project.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "unloadable")
    project.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "main")

    out = project.git("switch", "unloadable", check=False)
    assert "Traceback" not in out, out
    out = project.git("switch", "main")
    assert (
        "as the snapshot of 'unloadable' (not synced: it holds the migrations of commit "
        f"{main[:12]})"
    ) in out, out


def test_a_plain_sync_that_failed_partway_leaves_the_snapshot_not_synced(
    project: DjangoProject,
) -> None:
    """`migrail sync` on a new branch, 0003_color applied and 0004_broken failing: the
    snapshot the next switch saves of it is not taken for the branch's whole migrations."""
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    broken = broken_branch(project)
    project.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "broken")
    assert project.migrail("sync").returncode == 1
    out = project.git("switch", "main")
    assert (
        "migrail: saved database 'default' as the snapshot of 'broken' (not synced: it holds the "
        f"migrations of commit {broken[:12]})"
    ) in out, out
    assert f"  broken    branch  {broken[:12]}  no  " in project.migrail("snapshot", "list").stdout
