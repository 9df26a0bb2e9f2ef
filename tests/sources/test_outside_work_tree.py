"""A repository's files never lead migrail outside the work tree, and are never echoed at length."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from migrail.sources.trees import leaves_work_tree, link_target_leaves_tree
from tests.djangoproject import DjangoProject, migration_source

LEAVES = "is a symbolic link that leads outside the work tree; migrail does not follow it"
SECRETS = "SECRET_TOKEN=hunter2\0AWS_SECRET_ACCESS_KEY=abc123\0PATH=/usr/bin\0"


def shop(p: DjangoProject) -> None:
    p.linear_app("shop", "0002_price")


def link(p: DjangoProject, path: str, target: str | Path) -> None:
    (p.root / path).unlink(missing_ok=True)
    os.symlink(target, p.root / path)


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_fix_never_writes_through_a_link_out_of_the_tree(
    project: DjangoProject, tmp_path: Path, relative: bool
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("0001_initial\n")  # stale: a fix would rewrite it
    shop(project)
    link(project, "shop/migrations/max_migration.txt", "../../../victim" if relative else victim)
    project.commit()
    proc = project.migrail("check", "--fix")
    assert victim.read_text() == "0001_initial\n"
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == (
        f"shop/migrations/max_migration.txt:1: E011 max_migration.txt cannot be read: {LEAVES}"
    )
    assert "wrote" not in proc.stderr


def test_fix_never_writes_through_an_ignored_link(project: DjangoProject, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    shop(project)
    (project.root / "shop/migrations/max_migration.txt").unlink()
    project.write(".gitignore", "max_migration.txt\n")
    link(project, "shop/migrations/max_migration.txt", victim)
    proc = project.migrail("check", "--fix")
    assert victim.read_text() == "keep me\n"
    assert proc.returncode == 1


def test_annotations_never_print_a_linked_files_content(
    project: DjangoProject, tmp_path: Path
) -> None:
    secrets = tmp_path / "environ"
    secrets.write_text(SECRETS)
    shop(project)
    link(project, "shop/migrations/max_migration.txt", secrets)
    project.commit()
    for args in ((), ("--staged",), ("--rev", "HEAD")):
        proc = project.migrail("check", "--format", "github", *args)
        assert (proc.returncode, proc.stdout.splitlines()) == (
            1,
            [
                "::error file=shop/migrations/max_migration.txt,line=1,title=migrail E011::"
                f"max_migration.txt cannot be read: {LEAVES}. "
                "Hint: replace the link with the file itself, or with a link inside the repository"
            ],
        ), args
        assert "hunter2" not in proc.stdout + proc.stderr


def test_a_migration_linked_out_of_the_tree_is_e011(project: DjangoProject, tmp_path: Path) -> None:
    outside = tmp_path / "0003_outside.py"
    outside.write_text(migration_source([("shop", "0009_gone")]))
    shop(project)
    link(project, "shop/migrations/0003_outside.py", outside)
    project.write("shop/migrations/max_migration.txt", "0003_outside\n")
    project.commit()
    for args in ((), ("--staged",), ("--rev", "HEAD")):
        proc = project.migrail("check", "--format", "json", *args)
        found = json.loads(proc.stdout)["findings"]
        assert (proc.returncode, [(f["code"], f["path"], f["message"]) for f in found]) == (
            1,
            [
                (
                    "E011",
                    "shop/migrations/0003_outside.py",
                    f"0003_outside cannot be read: {LEAVES}",
                )
            ],
        ), args


def test_a_link_into_gits_own_directory_leaves_the_work_tree(project: DjangoProject) -> None:
    shop(project)
    link(project, "shop/migrations/max_migration.txt", "../../.git/description")
    proc = project.migrail("check", "--fix")
    assert proc.stdout.splitlines()[0].endswith(LEAVES)
    assert "0002_price" not in (project.root / ".git/description").read_text()


def test_the_guard(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "app/migrations").mkdir(parents=True)
    (root / "app/real.txt").write_text("x")
    os.symlink("../real.txt", root / "app/migrations/inside")
    os.symlink("../../../elsewhere", root / "app/migrations/outside")
    os.symlink(tmp_path, root / "app/linked_dir")
    assert not leaves_work_tree(root, "app/migrations/inside")
    assert not leaves_work_tree(root, "app/migrations/missing.txt")
    assert leaves_work_tree(root, "app/migrations/outside")
    assert leaves_work_tree(root, "app/linked_dir/elsewhere.txt")
    assert not link_target_leaves_tree("app/migrations/x", b"../real.txt")
    assert link_target_leaves_tree("app/migrations/x", b"../../../x")
    assert link_target_leaves_tree("app/migrations/x", b"/etc/passwd")
    assert link_target_leaves_tree("app/migrations/x", b"../../.git/config")


def test_messages_quote_only_an_excerpt(project: DjangoProject) -> None:
    shop(project)
    project.write("shop/migrations/max_migration.txt", "0009_" + "x" * 200 + "\n")
    proc = project.migrail("check")
    assert (proc.returncode, "0009_xxxxx" in proc.stdout) == (1, True)
    assert "x" * 60 not in proc.stdout
    project.write("shop/migrations/max_migration.txt", "0009_" + "x" * 5000 + "\n")
    proc = project.migrail("check", "--format", "json")
    assert (proc.returncode, "x" * 60 in proc.stdout) == (1, False)
    assert json.loads(proc.stdout)["findings"][0]["message"] == (
        "shop's max_migration.txt is not a migration name (too long)"
    )
    project.migration("shop", "0003_far", migration_source([("shop", "y" * 5000)]))
    proc = project.migrail("check")
    assert (proc.returncode, "shop.yyyyy" in proc.stdout) == (1, True)
    assert "y" * 60 not in proc.stdout
    conflict = "<<<<<<< HEAD\n" + "a" * 3000 + "\n=======\n" + "b" * 3000 + "\n>>>>>>> x\n"
    project.write("shop/migrations/max_migration.txt", conflict)
    proc = project.migrail("check")
    assert "ours aaaaa" in proc.stdout
    assert "theirs bbbbb" in proc.stdout
    assert "a" * 60 not in proc.stdout
    assert "b" * 60 not in proc.stdout
