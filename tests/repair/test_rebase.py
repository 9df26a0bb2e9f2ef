"""`migrail rebase` repairs real merge and rebase conflicts; Django's loader then finds one leaf."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.djangoproject import DjangoProject, add_field, create_model, git, migration_source
from tests.scenarios import (
    add_migration,
    assert_repaired,
    base,
    diverge,
    rebase,
    repository_state,
)


@pytest.mark.parametrize("style", ["merge", "diff3", "zdiff3"])
def test_merge_conflict_renumbers_this_branchs_chain(project: DjangoProject, style: str) -> None:
    base(project)
    diverge(project, ["0003_stock", "0004_size"], ["0003_color"])
    project.git("config", "merge.conflictStyle", style)
    out = project.git("merge", "main", check=False)
    assert "CONFLICT (content): Merge conflict in shop/migrations/max_migration.txt" in out
    out = rebase(project)
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    assert "renamed shop/migrations/0004_size.py -> shop/migrations/0005_size.py" in out
    assert project.read("shop/migrations/max_migration.txt") == "0005_size\n"
    assert "('shop', '0003_color')" in project.read("shop/migrations/0004_stock.py")
    assert "('shop', '0004_stock')" in project.read("shop/migrations/0005_size.py")
    assert project.git("diff", "--name-only", "--diff-filter=U").strip() == ""  # all staged
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)


def test_rebase_of_a_chain_of_three_commits(project: DjangoProject) -> None:
    base(project)
    diverge(project, ["0003_a", "0004_b", "0005_c"], ["0003_main"])
    project.git("config", "rerere.enabled", "true")
    out = project.git("rebase", "main", check=False)
    steps = 0
    while "CONFLICT" in out:
        steps += 1
        rebase(project)
        proc = project.git("-c", "core.editor=true", "rebase", "--continue", check=False)
        out = proc
    assert steps == 3
    names = sorted(p.name for p in (project.root / "shop/migrations").glob("0*.py"))
    assert names == [
        "0001_initial.py",
        "0002_price.py",
        "0003_main.py",
        "0004_a.py",
        "0005_b.py",
        "0006_c.py",
    ]
    assert project.read("shop/migrations/max_migration.txt") == "0006_c\n"
    assert project.git("log", "--format=%s", "-3").split() == ["0005_c", "0004_b", "0003_a"]
    assert_repaired(project)


def test_moved_file_keeps_every_other_byte(project: DjangoProject) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    source = (
        "# A hand-written note that must survive.\n"
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("shop", "0002_price")]  # trailing comment\n\n'
        "    operations = [\n"
        "        migrations.AddField('item', 'stock', models.IntegerField(default=0)),  # 0002_price\n"
        "    ]\n"
    )
    project.migration("shop", "0003_stock", source)
    project.write("shop/migrations/max_migration.txt", "0003_stock\n")
    project.commit("stock")
    project.git("switch", "-q", "main")
    add_migration(project, "shop", "0003_color", "0002_price")
    project.git("switch", "-q", "feature")
    project.git("rebase", "main", check=False)
    rebase(project)
    assert project.read("shop/migrations/0004_stock.py") == source.replace(
        '("shop", "0002_price")]', '("shop", "0003_color")]'
    )


def test_two_apps_forked_at_once_and_a_cross_app_dependency(project: DjangoProject) -> None:
    base(project)
    project.add_app("billing")
    project.migration(
        "billing",
        "0001_initial",
        migration_source([("shop", "0002_price")], create_model("Invoice")),
    )
    project.write("billing/migrations/max_migration.txt", "0001_initial\n")
    project.commit("billing")
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_stock", "0002_price", commit=False)
    project.migration(
        "billing",
        "0002_stock",
        migration_source(
            [("billing", "0001_initial"), ("shop", "0003_stock")], add_field("invoice", "stock")
        ),
    )
    project.write("billing/migrations/max_migration.txt", "0002_stock\n")
    project.commit("feature")
    project.git("switch", "-q", "main")
    add_migration(project, "shop", "0003_color", "0002_price", commit=False)
    project.migration(
        "billing",
        "0002_total",
        migration_source([("billing", "0001_initial")], add_field("invoice", "total")),
    )
    project.write("billing/migrations/max_migration.txt", "0002_total\n")
    project.commit("main")
    project.git("switch", "-q", "feature")
    project.git("merge", "main", check=False)
    out = rebase(project)
    assert "renamed billing/migrations/0002_stock.py -> billing/migrations/0003_stock.py" in out
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    moved = project.read("billing/migrations/0003_stock.py")
    assert "('billing', '0002_total')" in moved
    assert "('shop', '0004_stock')" in moved
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)


def test_cross_app_reference_elsewhere_is_updated_and_reported(project: DjangoProject) -> None:
    base(project)
    project.add_app("billing")
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_stock", "0002_price", commit=False)
    project.migration(
        "billing",
        "0001_initial",
        migration_source([("shop", "0003_stock")], create_model("Invoice")),
    )
    project.write("billing/migrations/max_migration.txt", "0001_initial\n")
    project.commit("feature")
    project.git("switch", "-q", "main")
    add_migration(project, "shop", "0003_color", "0002_price")
    project.git("switch", "-q", "feature")
    project.git("merge", "main", check=False)
    out = rebase(project)
    assert (
        "updated billing/migrations/0001_initial.py: its dependency on shop.0003_stock now reads "
        "shop.0004_stock"
    ) in out
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)


def test_fork_without_conflict_uses_the_default_branch(project: DjangoProject) -> None:
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    (project.root / "shop/migrations/max_migration.txt").write_text("0003_stock\n")
    project.git("merge", "-q", "-X", "ours", "--no-edit", "main")  # textual conflict resolved badly
    assert project.migrail("check").returncode == 1
    out = rebase(project)
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    project.git("commit", "-q", "-m", "repair")
    assert_repaired(project)


def test_applied_migration_is_refused_and_unapply_rolls_it_back(project: DjangoProject) -> None:
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    assert project.migrail("sync").returncode == 0
    project.git("merge", "main", check=False)
    proc = project.migrail("rebase")
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "migrail: error: shop.0003_stock would be renamed but the local database has it applied; "
        "nothing was changed."
    )
    assert (project.root / "shop/migrations/0003_stock.py").exists()
    out = rebase(project, "--unapply")
    assert "unapplying shop.0003_stock" in out
    project.git("commit", "-q", "--no-edit")
    assert project.migrail("sync").returncode == 0
    applied = project.query("SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY name")
    assert applied == [["0001_initial"], ["0002_price"], ["0003_color"], ["0004_stock"]]
    assert_repaired(project)


def test_unapply_mid_rebase_labels_its_backup_with_the_branch_being_rebased(
    project: DjangoProject,
) -> None:
    """Mid-rebase HEAD is detached on main; the database holds feature's migrations."""
    import json

    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    assert project.migrail("sync").returncode == 0
    feature = project.git("rev-parse", "feature").strip()
    assert "CONFLICT" in project.git("rebase", "main", check=False)
    out = rebase(project, "--unapply")
    assert "unapplying shop.0003_stock" in out
    (meta,) = (project.root / ".git/migrail/backups").glob("*.json")
    data = json.loads(meta.read_text())
    assert (data["branch"], data["commit"]) == ("feature", feature)
    assert [k for k in data["applied"] if k[1] == "0003_stock"] == [["shop", "0003_stock"]]
    project.git("-c", "core.editor=true", "rebase", "--continue")
    assert project.migrail("sync").returncode == 0
    assert_repaired(project)


def test_rebase_refuses_a_file_with_conflict_markers(project: DjangoProject) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_stock", "0002_price")
    project.git("switch", "-q", "main")
    project.migration(
        "shop", "0003_stock", migration_source([("shop", "0002_price")], add_field("item", "other"))
    )
    project.write("shop/migrations/max_migration.txt", "0003_stock\n")
    project.commit("same name")
    project.git("switch", "-q", "feature")
    project.git("merge", "main", check=False)
    proc = project.migrail("rebase")
    assert proc.returncode == 2
    assert proc.stderr.startswith("migrail: error: shop/migrations/0003_stock.py:")
    assert "has unresolved git conflict markers; fix it first" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("backend", ["--merge", "--apply"])
def test_both_rebase_backends(project: DjangoProject, backend: str) -> None:
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    assert "CONFLICT" in project.git("rebase", backend, "main", check=False)
    out = rebase(project)
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    assert "`git rebase --continue`" in out
    project.git("-c", "core.editor=true", "rebase", "--continue")
    assert_repaired(project)


def test_cherry_pick_moves_the_picked_migration(project: DjangoProject) -> None:
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    picked = project.git("rev-parse", "feature").strip()
    project.git("switch", "-q", "main")
    assert "CONFLICT" in project.git("cherry-pick", picked, check=False)
    out = rebase(project)
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    assert "`git cherry-pick --continue`" in out
    project.git("-c", "core.editor=true", "cherry-pick", "--continue")
    assert_repaired(project)
    assert (project.root / "shop/migrations/0003_color.py").exists()  # main's stays put


def test_applied_migration_is_refused_even_when_the_apps_cannot_import(
    project: DjangoProject,
) -> None:
    """Mid-merge, a models.py may hold conflict markers; the database is still consulted."""
    base(project)
    project.write("shop/models.py", "from django.db import models\n")
    project.commit("models")
    diverge(project, ["0003_stock"], ["0003_color"])
    project.write("shop/models.py", "from django.db import models\n# feature\n")
    project.commit("feature models")
    assert project.migrail("sync").returncode == 0
    project.git("switch", "-q", "main")
    project.write("shop/models.py", "from django.db import models\n# main\n")
    project.commit("main models")
    project.git("switch", "-q", "feature")
    project.git("merge", "main", check=False)
    assert "<<<<<<<" in project.read("shop/models.py")
    proc = project.migrail("rebase")
    assert proc.returncode == 1
    assert "shop.0003_stock would be renamed but the local database has it applied" in proc.stderr
    assert "Warning" not in proc.stderr
    assert (project.root / "shop/migrations/0003_stock.py").exists()


def published_main_and_feature(project: DjangoProject, tmp_path: Path) -> None:
    """main's 0003_color is on origin/main; feature's 0003_stock is pushed as a branch only."""
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    project.git("switch", "-q", "main")
    project.linear_app("billing")  # main's too, but no fork: never named below
    project.commit("billing")
    project.git("switch", "-q", "feature")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    project.git("remote", "add", "origin", str(bare))
    project.git("push", "-q", "origin", "main", "feature")


def test_a_merge_into_main_moves_the_unpublished_side(
    project: DjangoProject, tmp_path: Path
) -> None:
    published_main_and_feature(project, tmp_path)
    project.git("switch", "-q", "main")
    assert "CONFLICT" in project.git("merge", "feature", check=False)
    out = rebase(project)
    assert (
        "migrail: shop/migrations/0003_color.py is on origin/main already (databases deployed "
        "from there may have applied it), so the migrations of MERGE_HEAD move after it "
        "instead\n"
    ) in out
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    assert (project.root / "shop/migrations/0003_color.py").exists()
    assert project.read("shop/migrations/max_migration.txt") == "0004_stock\n"
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)


def test_a_merge_into_a_pushed_feature_branch_moves_the_feature(
    project: DjangoProject, tmp_path: Path
) -> None:
    """A feature branch pushed for review is not published so: its migrations move."""
    published_main_and_feature(project, tmp_path)
    assert "CONFLICT" in project.git("merge", "main", check=False)
    out = rebase(project)
    assert "published" not in out
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)


def test_a_merge_of_two_published_sides_is_refused(project: DjangoProject, tmp_path: Path) -> None:
    published_main_and_feature(project, tmp_path)
    other = tmp_path / "upstream.git"
    git(tmp_path, "init", "-q", "--bare", str(other))
    project.git("remote", "add", "upstream", str(other))
    project.git("push", "-q", "upstream", "feature:main")
    project.git("fetch", "-q", "upstream")
    project.git("switch", "-q", "main")
    assert "CONFLICT" in project.git("merge", "feature", check=False)
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert proc.returncode == 1
    assert proc.stderr == (
        "migrail: error: both sides' migrations are on a remote's main branch "
        "(shop/migrations/0003_color.py on origin/main, shop/migrations/0003_stock.py on "
        "upstream/main): renaming either breaks "
        "the databases that applied them; join them with `python manage.py makemigrations "
        "--merge APP` instead; nothing was changed\n"
    )
    assert repository_state(project) == before
