"""`migrail rebase` with a squash on the other side: leaves as Django's loader (and `check`)
count them, where a squash with `replaces` stands for its originals still on disk."""

from __future__ import annotations

import pytest

from tests.djangoproject import DjangoProject
from tests.scenarios import add_migration, assert_repaired, rebase, repository_state

SQUASH = "0001_squashed_0004_backfill_sku"


def squash(p: DjangoProject, app: str, start: str, end: str) -> None:
    """Django's own `squashmigrations`, its originals left on disk (as Django advises while
    the squash deploys)."""
    args = ["squashmigrations", "--noinput", app, *([start] if start else []), end]
    made = p.manage(*args)
    assert made.returncode == 0, made.stdout + made.stderr


def catalog_squashed(p: DjangoProject) -> None:
    """catalog 0001..0004 and their squash, committed on main."""
    p.linear_app("catalog", "0002_name", "0003_sku", "0004_backfill_sku")
    p.commit("catalog")
    squash(p, "catalog", "", "0004_backfill_sku")
    assert (p.root / f"catalog/migrations/{SQUASH}.py").exists()
    p.write("catalog/migrations/max_migration.txt", f"{SQUASH}\n")
    p.commit("squash")
    assert p.migrail("check").returncode == 0


@pytest.mark.parametrize("parent", [SQUASH, "0004_backfill_sku"])
def test_replaced_originals_are_not_leaves_of_the_other_side(
    project: DjangoProject, parent: str
) -> None:
    """main: originals, their squash, then 0005..0007 after the squash; feature: 0005_stock
    (after the squash, or after the last original it replaces)."""
    catalog_squashed(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "catalog", "0005_stock", parent)
    project.git("switch", "-q", "main")
    parent = SQUASH
    for name in ("0005_color", "0006_weight", "0007_size"):
        add_migration(project, "catalog", name, parent)
        parent = name
    assert project.migrail("check").returncode == 0  # main alone is clean
    project.git("switch", "-q", "feature")
    assert "CONFLICT" in project.git("merge", "main", check=False)
    out = rebase(project, "catalog", "--no-db-check")
    assert "renamed catalog/migrations/0005_stock.py -> catalog/migrations/0008_stock.py" in out
    assert "('catalog', '0007_size')" in project.read("catalog/migrations/0008_stock.py")
    assert project.read("catalog/migrations/max_migration.txt") == "0008_stock\n"
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)
    assert ["catalog", "0008_stock"] in project.django_graph()["leaves"]


def test_a_squash_as_the_other_sides_leaf(project: DjangoProject) -> None:
    """main squashed 0003..0004 (its leaf is the squash); feature added 0003_stock after 0002.

    The chain follows the squash, numbered after the squash's last number (as
    `makemigrations` numbers after a squash): 0005_stock, depending on the squash.
    """
    project.linear_app("catalog", "0002_name")
    project.commit("base")
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "catalog", "0003_stock", "0002_name")
    add_migration(project, "catalog", "0004_size", "0003_stock")
    project.git("switch", "-q", "main")
    add_migration(project, "catalog", "0003_sku", "0002_name")
    add_migration(project, "catalog", "0004_backfill_sku", "0003_sku")
    squash(project, "catalog", "0003_sku", "0004_backfill_sku")
    squashed = "0003_sku_squashed_0004_backfill_sku"
    assert (project.root / f"catalog/migrations/{squashed}.py").exists()
    project.write("catalog/migrations/max_migration.txt", f"{squashed}\n")
    project.commit("squash")
    assert project.migrail("check").returncode == 0
    project.git("switch", "-q", "feature")
    assert "CONFLICT" in project.git("merge", "main", check=False)
    out = rebase(project, "--no-db-check")
    assert "renamed catalog/migrations/0003_stock.py -> catalog/migrations/0005_stock.py" in out
    assert "renamed catalog/migrations/0004_size.py -> catalog/migrations/0006_size.py" in out
    root = project.read("catalog/migrations/0005_stock.py")
    assert f"('catalog', '{squashed}')" in root
    assert "0002_name" not in root
    assert "('catalog', '0005_stock')" in project.read("catalog/migrations/0006_size.py")
    assert project.read("catalog/migrations/max_migration.txt") == "0006_size\n"
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)
    assert ["catalog", "0006_size"] in project.django_graph()["leaves"]


def test_a_squash_of_this_branchs_own_migrations_is_refused(project: DjangoProject) -> None:
    """Renumbering a squash would mean renaming it and its `replaces` with its originals."""
    project.linear_app("catalog", "0002_name")
    project.commit("base")
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "catalog", "0003_stock", "0002_name")
    add_migration(project, "catalog", "0004_size", "0003_stock")
    squash(project, "catalog", "0003_stock", "0004_size")
    project.write("catalog/migrations/max_migration.txt", "0003_stock_squashed_0004_size\n")
    project.commit("squash")
    project.git("switch", "-q", "main")
    add_migration(project, "catalog", "0003_color", "0002_name")
    project.git("switch", "-q", "feature")
    assert "CONFLICT" in project.git("merge", "main", check=False)
    before = repository_state(project)
    proc = project.migrail("rebase", "--no-db-check")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "migrail: error: catalog/migrations/0003_stock_squashed_0004_size.py is a squash (it has "
        "`replaces`) among the migrations to move; migrail rebase does not renumber squashes: "
        "join the fork with `python manage.py makemigrations --merge catalog` instead; "
        "nothing was changed\n"
    )
    assert repository_state(project) == before
    made = project.manage("makemigrations", "--merge", "--noinput", "catalog")
    assert made.returncode == 0, made.stdout + made.stderr
    assert len(project.django_graph()["leaves"]) == 1  # the advice joins the fork
