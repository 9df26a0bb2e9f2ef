"""The commit, merge and push guards, through real git and the pre-commit framework."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrail.commands.install import HOOKS, render_script
from tests.djangoproject import DjangoProject, add_field, create_model, migration_source, run_env

ROOT = Path(__file__).resolve().parents[2]  # the repository


def shop(p: DjangoProject) -> None:
    p.add_app("shop")
    p.migration("shop", "0001_initial", migration_source([], create_model("Item")))
    p.write("shop/migrations/max_migration.txt", "0001_initial\n")
    p.commit("shop")


def add(p: DjangoProject, name: str, parent: str, *, max_migration: bool = True) -> None:
    p.migration("shop", name, migration_source([("shop", parent)], add_field("item", name[5:])))
    if max_migration:
        p.write("shop/migrations/max_migration.txt", f"{name}\n")


def test_committed_hook_scripts_are_what_install_writes() -> None:
    for name in HOOKS:
        assert (ROOT / "hooks" / name).read_text() == render_script(name), name
        assert os.access(ROOT / "hooks" / name, os.X_OK)


def test_install_chains_existing_hook_and_uninstall_restores_it(project: DjangoProject) -> None:
    existing = project.root / ".git/hooks/pre-commit"
    existing.write_text("#!/bin/sh\necho earlier hook ran >&2\n")
    existing.chmod(0o755)
    proc = project.migrail("install")
    assert proc.returncode == 0, proc.stderr
    assert (
        "kept the existing pre-commit hook as pre-commit.pre-migrail; it runs first" in proc.stdout
    )
    shop(project)
    assert "earlier hook ran" in project.git("commit", "-q", "--allow-empty", "-m", "x")
    assert project.migrail("install").returncode == 0  # idempotent: does not chain itself
    assert not (project.root / ".git/hooks/pre-commit.pre-migrail.pre-migrail").exists()
    assert project.migrail("uninstall").returncode == 0
    assert existing.read_text() == "#!/bin/sh\necho earlier hook ran >&2\n"
    assert not (project.root / ".git/hooks/post-checkout").exists()


def test_install_honours_core_hookspath_and_linked_worktrees(
    project: DjangoProject, tmp_path: Path
) -> None:
    shop(project)
    project.git("config", "core.hooksPath", ".githooks")
    assert project.migrail("install").returncode == 0
    assert (project.root / ".githooks/pre-commit").exists()
    project.git("config", "--unset", "core.hooksPath")
    project.git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    proc = subprocess.run(
        [sys.executable, "-m", "migrail", "install"],
        cwd=tmp_path / "wt",
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (project.root / ".git/hooks/pre-commit").exists()  # worktrees share the common hooks


def test_pre_commit_hook_blocks_a_fork_and_checks_the_index(project: DjangoProject) -> None:
    shop(project)
    assert project.migrail("install").returncode == 0
    add(project, "0002_price", "0001_initial")
    project.commit("price")
    add(project, "0002_stock", "0001_initial", max_migration=False)
    project.git("add", "-A")
    proc = subprocess.run(
        ["git", "commit", "-m", "stock"],
        cwd=project.root,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock" in proc.stderr
    assert "migrail: pre-commit stopped" in proc.stderr
    # An unstaged removal does not fool it: the index is what gets committed.
    (project.root / "shop/migrations/0002_stock.py").unlink()
    proc = subprocess.run(
        ["git", "commit", "-m", "stock"],
        cwd=project.root,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    proc = subprocess.run(
        ["git", "commit", "-m", "stock"],
        cwd=project.root,
        env=run_env({"MIGRAIL_SKIP": "1"}),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0


def test_a_migration_left_unstaged_by_commit_a_is_named_with_git_add(
    project: DjangoProject,
) -> None:
    """`git commit -a` stages max_migration.txt but not the new migration file: the hint is
    to add that file (`check --fix` has nothing to fix in the working tree)."""
    shop(project)
    assert project.migrail("install").returncode == 0
    add(project, "0002_price", "0001_initial")
    proc = commit_all(project, "price")
    assert proc.returncode == 1
    assert (
        "shop/migrations/max_migration.txt:1: E003 max_migration.txt of shop names 0002_price, "
        "which does not exist, but the latest migration is 0001_initial\n"
        "    hint: it is not staged: `git add shop/migrations/0002_price.py`\n"
    ) in proc.stderr
    project.git("add", "shop/migrations/0002_price.py")
    proc = commit_all(project, "price")
    assert proc.returncode == 0, proc.stderr


def commit_all(p: DjangoProject, message: str) -> subprocess.CompletedProcess[str]:
    """`git commit -a`, its hooks installed, as a user runs it."""
    return subprocess.run(
        ["git", "commit", "-a", "-m", message],
        cwd=p.root,
        env=run_env(),
        capture_output=True,
        text=True,
    )


def test_pre_merge_commit_stops_a_fork_with_no_textual_conflict(project: DjangoProject) -> None:
    shop(project)
    project.git("switch", "-q", "-c", "feature")
    add(project, "0002_stock", "0001_initial", max_migration=False)  # forgot max_migration.txt
    project.commit("stock")
    project.git("switch", "-q", "main")
    add(project, "0002_price", "0001_initial")
    before = project.commit("price")
    assert project.migrail("install").returncode == 0
    out = project.git("merge", "--no-edit", "feature", check=False)
    assert "E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock" in out
    assert "migrail: pre-merge-commit stopped" in out
    assert project.git("rev-parse", "HEAD").strip() == before  # no merge commit


def test_pre_push_checks_each_pushed_tip(project: DjangoProject, tmp_path: Path) -> None:
    shop(project)
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "remote.git")], check=True)
    project.git("remote", "add", "origin", str(tmp_path / "remote.git"))
    project.git("push", "-q", "origin", "main")
    add(project, "0002_price", "0001_initial")
    add(project, "0002_stock", "0001_initial", max_migration=False)
    project.git("add", "-A")
    project.git("commit", "-q", "-m", "fork")  # no hooks yet: the fork is committed
    project.git(
        "switch", "-q", "--detach", "HEAD~1"
    )  # whatever is checked out, the pushed tip counts
    assert project.migrail("install").returncode == 0
    out = project.git("push", "origin", "main", check=False)
    assert "migrail: push of refs/heads/main stopped" in out
    assert project.git("ls-remote", str(tmp_path / "remote.git"), "main").split()[0] == (
        project.git("rev-parse", "HEAD").strip()
    )


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def test_pre_commit_framework_hooks(project: DjangoProject, pre_commit_home: Path) -> None:
    """This repository as a pre-commit hook repo, in its own isolated environment."""
    project.use_this_repository_in_pre_commit(
        "migrail", "migrail-check", hook_types="pre-commit, pre-merge-commit"
    )
    shop(project)
    env = project.install_pre_commit(pre_commit_home)
    add(project, "0002_price", "0001_initial", max_migration=False)
    project.git("add", "-A")
    proc = subprocess.run(
        ["git", "commit", "-m", "price"], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "migrail: wrote shop/migrations/max_migration.txt" in proc.stdout + proc.stderr
    assert project.read("shop/migrations/max_migration.txt") == "0002_price\n"
    project.git("add", "-A")
    proc = subprocess.run(
        ["git", "commit", "-m", "price"], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A migration being written, not staged, is not what the commit holds: it is not checked,
    # and max_migration.txt is not pointed at it.
    add(project, "0003_wip", "0002_price", max_migration=False)
    project.write("shop/apps.py", "from django.apps import AppConfig\n")
    project.git("add", "shop/apps.py")
    proc = subprocess.run(
        ["git", "commit", "-m", "apps"], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.read("shop/migrations/max_migration.txt") == "0002_price\n"
    (project.root / "shop/migrations/0003_wip.py").unlink()
    add(project, "0002_stock", "0001_initial", max_migration=False)
    project.git("add", "-A")
    proc = subprocess.run(
        ["git", "commit", "-m", "stock"], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert (
        "E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock" in proc.stdout + proc.stderr
    )


def test_conflicted_merge_resolved_by_hand_is_caught_at_commit(project: DjangoProject) -> None:
    """git skips pre-merge-commit for a conflicted merge; the later `git commit` runs pre-commit."""
    shop(project)
    project.git("switch", "-q", "-c", "feature")
    add(project, "0002_stock", "0001_initial")
    project.commit("stock")
    project.git("switch", "-q", "main")
    add(project, "0002_price", "0001_initial")
    project.commit("price")
    assert project.migrail("install").returncode == 0
    assert "CONFLICT" in project.git("merge", "feature", check=False)
    project.write("shop/migrations/max_migration.txt", "0002_price\n")  # "resolved": one side kept
    project.git("add", "-A")
    proc = subprocess.run(
        ["git", "commit", "--no-edit"],
        cwd=project.root,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock" in proc.stderr
    assert "run `migrail rebase shop`" in proc.stderr


def test_pre_commit_framework_check_stops_a_forking_merge(
    project: DjangoProject, pre_commit_home: Path
) -> None:
    project.use_this_repository_in_pre_commit("migrail-check", hook_types="pre-merge-commit")
    shop(project)
    project.git("switch", "-q", "-c", "feature")
    add(project, "0002_stock", "0001_initial", max_migration=False)
    project.commit("stock")
    project.git("switch", "-q", "main")
    add(project, "0002_price", "0001_initial")
    before = project.commit("price")
    env = project.install_pre_commit(pre_commit_home)
    proc = subprocess.run(
        ["git", "merge", "--no-edit", "feature"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert (
        "E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock" in proc.stdout + proc.stderr
    )
    assert project.git("rev-parse", "HEAD").strip() == before


def test_hooks_without_migrail_say_so(project: DjangoProject, tmp_path: Path) -> None:
    shop(project)
    hooks = project.root / ".git/hooks"
    for name in ("pre-commit", "post-checkout"):
        (hooks / name).write_text(render_script(name, str(tmp_path / "gone/bin/python")))
        (hooks / name).chmod(0o755)
    env = {**run_env(), "PATH": "/usr/bin:/bin"}  # no migrail anywhere
    add(project, "0002_price", "0001_initial")
    project.git("add", "-A")
    proc = subprocess.run(
        ["git", "commit", "-m", "x"], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "migrail: not found (installed from " in proc.stderr
    proc = subprocess.run(
        ["git", "switch", "-c", "other"], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0  # a post-checkout hook never fails the switch for this
