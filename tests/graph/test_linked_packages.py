"""A `migrations` package that is a link to a directory: followed inside the work tree (Django
imports through it), E011 when it leaves the tree; the same in the working tree, the index
(`--staged`) and a commit (`--rev`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.djangoproject import DjangoProject, add_field, migration_source
from tests.graph.test_graph_agreement import static_graph

SOURCES = (["check"], ["check", "--staged"], ["check", "--rev", "HEAD"])


def linked_app(p: DjangoProject, target: Path, link: str, *, forked: bool) -> None:
    """`shop`, its migrations moved to `target` and `shop/migrations` a link `link` to it."""
    p.linear_app("shop", "0002_price", max_migration=not forked)
    if forked:
        p.migration(
            "shop",
            "0002_stock",
            migration_source([("shop", "0001_initial")], add_field("item", "stock")),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(p.root / "shop/migrations", target)
    (p.root / "shop/migrations").symlink_to(link)
    p.commit("linked migrations")


def findings(p: DjangoProject, *command: str) -> tuple[int, list[tuple[str, str, str]]]:
    proc = p.migrail(*command, "--format", "json")
    found = json.loads(proc.stdout)["findings"]
    return proc.returncode, [(f["code"], f["path"], f["message"]) for f in found]


@pytest.mark.parametrize("command", SOURCES, ids=["worktree", "staged", "rev"])
def test_a_forked_package_behind_an_in_tree_link_is_seen(
    project: DjangoProject, command: list[str]
) -> None:
    linked_app(
        project, project.root / "shared/shop_migrations", "../shared/shop_migrations", forked=True
    )
    django = project.django_graph()
    assert sorted(django["leaves"]) == [["shop", "0002_price"], ["shop", "0002_stock"]]
    code, found = findings(project, *command)
    assert code == 1
    (fork,) = [f for f in found if f[0] == "E001"]
    assert fork[1:] == (
        "shop/migrations/max_migration.txt",
        "app 'shop' has 2 leaf migrations: 0002_price, 0002_stock",
    )


def test_a_linear_package_behind_an_in_tree_link_agrees_with_django(
    project: DjangoProject,
) -> None:
    linked_app(
        project, project.root / "shared/shop_migrations", "../shared/shop_migrations", forked=False
    )
    (project.root / "shop/migrations/max_migration.txt").write_text("0002_price\n")
    project.commit("max_migration")
    for command in SOURCES:
        assert findings(project, *command) == (0, []), command
    assert static_graph(project) == project.django_graph()


@pytest.mark.parametrize("command", SOURCES, ids=["worktree", "staged", "rev"])
def test_a_package_link_leaving_the_tree_is_e011(
    project: DjangoProject, tmp_path: Path, command: list[str]
) -> None:
    outside = tmp_path / "elsewhere/shop_migrations"
    linked_app(project, outside, str(outside), forked=True)
    code, found = findings(project, *command)
    assert code == 1
    assert found == [
        (
            "E011",
            "shop/migrations",
            "migrations cannot be read: is a symbolic link that leads outside the work tree; "
            "migrail does not follow it",
        )
    ]
