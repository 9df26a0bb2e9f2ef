"""MariaDB commits each DDL statement: a migration that stops midway (killed, or failing
after its first operation) leaves tables Django never recorded. The next sync and status
name the migration and what it left, instead of failing on it forever; once it is undone,
sync goes on by itself. PostgreSQL and SQLite roll such a migration back whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrail.sync.half_applied import creates
from tests.databases import database_settings
from tests.djangoproject import DjangoProject, create_model, migration_source
from tests.scenarios import main_branch, sync

CATEGORY_THEN_BROKEN = (
    create_model("Category") + "\nmigrations.RunSQL('SELECT * FROM no_such_table'),"
)


def test_what_a_migration_creates_is_named_as_django_names_it() -> None:
    from django.db import migrations, models

    migration = migrations.Migration("0002_more", "shop")
    migration.operations = [
        migrations.CreateModel("Category", [("id", models.AutoField(primary_key=True))]),
        migrations.CreateModel("Tag", [], options={"db_table": "tags"}),
        migrations.AddField("item", "size", models.IntegerField(default=0)),
        migrations.AddField("item", "category", models.ForeignKey("shop.Category", models.CASCADE)),
        migrations.AddField("item", "tags", models.ManyToManyField("shop.Tag")),
        migrations.RunSQL("SELECT 1"),
    ]

    assert creates(migration) == [
        ("table", "shop_category"),
        ("table", "tags"),
        ("column", "shop_item", "size"),
        ("column", "shop_item", "category_id"),
    ]


@pytest.mark.mariadb
def test_a_migration_stopped_midway_on_mariadb_is_named_until_undone(tmp_path: Path) -> None:
    with database_settings("mariadb", tmp_path) as (settings, _):
        p = DjangoProject(tmp_path / "repo", database=settings)
        main_branch(p)
        sync(p)
        p.migration(
            "shop",
            "0002_category",
            migration_source([("shop", "0001_initial")], CATEGORY_THEN_BROKEN),
        )
        p.write("shop/migrations/max_migration.txt", "0002_category\n")
        p.commit("category")

        failed = p.migrail("sync")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "migration shop.0002_category failed: " in failed.stderr
        assert (  # said as it fails, not only by the next status
            "database 'default' has 1 left to apply (shop.0002_category): mysql cannot roll DDL "
            "back, so it left table shop_category: undo that by hand (`python manage.py "
            "sqlmigrate shop 0002_category` shows what it runs), mend the migration, then sync "
            "again"
        ) in failed.stderr, failed.stderr

        status = p.migrail("status")
        assert status.returncode == 1
        said = (
            "migration shop.0002_category stopped midway on database 'default' (mysql cannot "
            "roll DDL back) and left table shop_category; undo that by hand"
        )
        assert said in status.stdout, status.stdout
        p.migration(
            "shop",
            "0002_category",
            migration_source([("shop", "0001_initial")], create_model("Category")),
        )
        p.commit("category, mended")
        again = p.migrail("sync")
        assert again.returncode == 1, again.stdout + again.stderr
        assert said in again.stderr
        assert "already exists" not in again.stderr  # not Django failing on it

        p.query("DROP TABLE shop_category")
        done = p.migrail("sync")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "  + applying shop.0002_category (" in done.stdout
        assert p.migrail("status").returncode == 0
