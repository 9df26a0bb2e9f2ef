"""The database follows the branch: real git switches, real migrations, real databases."""

from __future__ import annotations

import time
from pathlib import Path

from tests.djangoproject import DjangoProject
from tests.scenarios import feature_branch, fresh_schema, main_branch, sync


def test_switching_branches_rolls_back_and_forward(db_project: tuple[DjangoProject, str]) -> None:
    project, fresh_name = db_project
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project)
    sync(project)
    project.query("INSERT INTO shop_item (name, stock) VALUES (7, 5)")

    out = project.git("switch", "main")
    assert "- billing.0002_seen" in out
    assert "drops column stock of shop.item" in out
    assert project.schema() == fresh_schema(project, fresh_name)
    assert project.query("SELECT name FROM shop_item") == [
        [7]
    ]  # the row survives its dropped column

    out = project.git("switch", "feature")
    assert "+ billing.0002_seen" in out
    # The fresh database holds main's migrations; migrating it on feature is a fresh migrate of feature.
    assert project.schema() == fresh_schema(project, fresh_name)
    assert "stock" in project.schema()["tables"]["shop_item"]  # type: ignore[index]


def test_status_and_dry_run_change_nothing(project: DjangoProject) -> None:
    main_branch(project)
    sync(project)
    feature_branch(project)
    sync(project)
    project.git(
        "switch", "-q", "main"
    )  # no hooks installed: the database keeps feature's migrations
    before = project.schema()
    proc = project.migrail("status")
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "migrail: settings project.settings, project directory .",
        "migrail: database 'default' (sqlite) is out of step",
        "  billing: tree leaf 0001_initial; last applied 0002_seen",
        "    orphan (applied, not in the tree): billing.0002_seen",
        "    would unapply: billing.0002_seen",
        "  shop: tree leaf 0001_initial; last applied 0002_stock",
        "    orphan (applied, not in the tree): shop.0002_stock",
        "    would unapply: shop.0002_stock",
    ]
    proc = project.migrail("sync", "--dry-run")
    assert proc.returncode == 1
    assert project.schema() == before
    sync(project)
    assert project.migrail("status").returncode == 0


def test_irreversible_migration_is_refused_before_anything_changes(project: DjangoProject) -> None:
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project, shop_operation=("migrations.RunSQL('UPDATE shop_item SET name = 1'),"))
    sync(project)
    db = project.root / "db.sqlite3"
    before = db.read_bytes()
    out = project.git("switch", "main", check=False)  # the hook's status: out of step
    assert project.git("branch", "--show-current").strip() == "main"
    assert "shop.0002_stock: Raw SQL operation (operation 1) is not reversible" in out
    assert "migrail: the sync did not finish: nothing was changed" in out
    assert "Ways out:" in out
    assert db.read_bytes() == before
    assert not list((project.root / ".git/migrail/backups").glob("*.sqlite3"))


def test_remote_database_is_refused_before_connecting(project: DjangoProject) -> None:
    project.database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "app",
        "HOST": "prod-db.invalid",
    }
    main_branch(project)
    started = time.monotonic()
    proc = project.migrail("sync")
    assert proc.returncode == 1
    assert proc.stderr == (
        "migrail: error: database 'default' is on 'prod-db.invalid', not this machine; migrail syncs "
        "local databases only (set `allow_remote_databases = true` in [tool.migrail] to allow it)\n"
    )
    assert time.monotonic() - started < 10


def test_debug_false_is_refused(project: DjangoProject) -> None:
    main_branch(project)
    project.write_settings("DEBUG = False\n")
    proc = project.migrail("sync")
    assert proc.returncode == 1
    assert "settings have DEBUG = False" in proc.stderr
    assert not (project.root / "db.sqlite3").exists()


def test_rollback_after_the_branch_is_deleted_and_collected(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    sync(project)
    feature_branch(project)
    sync(project)
    project.git("switch", "-q", "main")
    project.git("branch", "-D", "feature")
    project.git("reflog", "expire", "--expire=now", "--all")
    project.git("gc", "-q", "--prune=now")
    out = sync(project)
    assert "- shop.0002_stock" in out
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))


def test_backup_is_taken_and_restored(db_project: tuple[DjangoProject, str]) -> None:
    project, _ = db_project
    main_branch(project)
    sync(project)
    feature_branch(project)
    sync(project)
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 9)")
    on_feature = project.schema()
    project.git("switch", "-q", "main")
    sync(project)
    listing = project.migrail("restore")
    assert listing.returncode == 0
    name = listing.stdout.splitlines()[1].split()[0]  # under the header line
    assert name.endswith(("-default.sqlite3", "-default.dump", "-default.sql"))
    proc = project.migrail("restore", name)
    assert proc.returncode == 0, proc.stderr
    assert project.schema() == on_feature
    assert project.query("SELECT stock FROM shop_item") == [[9]]


def test_a_reverse_that_fails_is_a_migration_to_mend_like_a_forward_one(
    project: DjangoProject,
) -> None:
    """Exit 1 both ways (work left undone), the migration named; its backup is not kept, the
    database being as it was."""
    main_branch(project)
    feature_branch(
        project,
        shop_operation="migrations.RunSQL('SELECT 1', reverse_sql='SELECT * FROM no_such_table'),",
    )
    sync(project)
    project.git("switch", "-q", "main")
    proc = project.migrail("sync")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == (
        "migrail: error: unapplying shop.0002_stock failed (nothing was changed): no such table: "
        "no_such_table\n"
    )
    assert not list((project.root / ".git/migrail/backups").glob("*.sqlite3"))
    applied = project.query("SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY id")
    assert applied == [["0001_initial"], ["0002_stock"]]
