"""Scenarios the tests share: branches with migrations, and what a repaired or untouched
repository looks like. One place, so each test file reads as what it checks."""

from __future__ import annotations

import os

from tests.djangoproject import DjangoProject, add_field, create_model, migration_source


def main_branch(p: DjangoProject) -> None:
    p.add_app("shop")
    p.add_app("billing")
    p.migration("shop", "0001_initial", migration_source([], create_model("Item", "name")))
    p.migration(
        "billing",
        "0001_initial",
        migration_source([("shop", "0001_initial")], create_model("Invoice")),
    )
    p.write("shop/migrations/max_migration.txt", "0001_initial\n")
    p.write("billing/migrations/max_migration.txt", "0001_initial\n")
    p.commit("main")


def feature_branch(p: DjangoProject, *, shop_operation: str | None = None) -> None:
    p.git("switch", "-q", "-c", "feature")
    p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], shop_operation or add_field("item", "stock")),
    )
    p.migration(
        "billing",
        "0002_seen",
        migration_source(
            [("billing", "0001_initial"), ("shop", "0002_stock")], add_field("invoice", "seen")
        ),
    )
    p.write("shop/migrations/max_migration.txt", "0002_stock\n")
    p.write("billing/migrations/max_migration.txt", "0002_seen\n")
    p.commit("feature")


def fresh_schema(p: DjangoProject, fresh_name: str) -> dict[str, object]:
    """What a plain `migrate` of the checked-out tree gives on an empty database."""
    proc = p.manage("migrate", env={"TEST_DB_NAME": fresh_name})
    assert proc.returncode == 0, proc.stderr
    return p.schema(fresh_name)


def sync(p: DjangoProject, *args: str) -> str:
    proc = p.migrail("sync", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def base(p: DjangoProject) -> None:
    p.linear_app("shop", "0002_price")
    p.commit("base")


def add_migration(
    p: DjangoProject, app: str, name: str, parent: str, *, commit: bool = True
) -> None:
    p.migration(app, name, migration_source([(app, parent)], add_field("item", name[5:])))
    p.write(f"{app}/migrations/max_migration.txt", f"{name}\n")
    if commit:
        p.commit(name)


def diverge(p: DjangoProject, ours: list[str], theirs: list[str]) -> None:
    """feature gets `ours` (a chain after 0002_price), main gets `theirs`."""
    p.git("switch", "-q", "-c", "feature")
    parent = "0002_price"
    for name in ours:
        add_migration(p, "shop", name, parent)
        parent = name
    p.git("switch", "-q", "main")
    parent = "0002_price"
    for name in theirs:
        add_migration(p, "shop", name, parent)
        parent = name
    p.git("switch", "-q", "feature")


def assert_repaired(p: DjangoProject) -> None:
    proc = p.migrail("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    leaves = p.django_graph()["leaves"]
    assert len(leaves) == len({app for app, _ in leaves})  # one leaf per app


def rebase(p: DjangoProject, *args: str) -> str:
    proc = p.migrail("rebase", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def repository_state(p: DjangoProject) -> dict[str, object]:
    """Everything a failed rebase must leave as it was: every file's bytes, the index, the status."""
    files = {
        str(path.relative_to(p.root)): (
            os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        )
        for path in sorted(p.root.rglob("*"))
        if ".git" not in path.relative_to(p.root).parts
        and "__pycache__" not in path.parts
        and not path.name.endswith(".sqlite3")
        and (path.is_file() or path.is_symlink())
    }
    return {
        "files": files,
        "status": p.git("status", "--porcelain"),
        "staged": p.git("diff", "--cached"),
        "index": p.git("ls-files", "--stage"),
    }
