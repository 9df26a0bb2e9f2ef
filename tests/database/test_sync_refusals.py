"""What sync and switch refuse before changing anything, with the rows kept to prove it.

A forked tree (`migrate` would stop halfway with a traceback), settings with no
DATABASES (nothing synced, silently), and switches git would refuse after the
rollback had dropped a branch's columns.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_field,
    add_user_rows,
    git,
    migration_source,
    real_project,
    user_rows,
)
from tests.scenarios import feature_branch, main_branch, sync

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


@pytest.fixture
def real(tmp_path: Path) -> DjangoProject:
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    assert p.migrail("install").returncode == 0
    sync(p)
    add_user_rows(p)
    return p


def forked(p: DjangoProject) -> None:
    """A commit whose shop app has two leaves, made with the hooks off."""
    p.git("switch", "-q", "-c", "forked")
    for name in ("0002_a", "0002_b"):
        p.migration(
            "shop", name, migration_source([("shop", "0001_initial")], add_field("item", name[-1]))
        )
    p.git("add", "-A")
    p.git(*NO_HOOKS, "commit", "-qm", "forked")


def test_a_forked_tree_is_refused_before_anything_changes(real: DjangoProject) -> None:
    forked(real)
    before = real.schema()
    proc = real.migrail("sync")
    assert (proc.returncode, proc.stderr) == (
        1,
        "migrail: error: the working tree's migrations are forked (shop: 0002_a, 0002_b), "
        "which `migrate` refuses; nothing was changed: join them with `migrail rebase` or "
        "`python manage.py makemigrations --merge`\n",
    )
    assert real.schema() == before
    assert user_rows(real) == USER_ROWS_ADDED

    proc = real.migrail("status")
    assert proc.returncode == 1
    assert (
        "  shop: forked, leaves 0002_a, 0002_b: `migrate` refuses it; join them with "
        "`migrail rebase` or `python manage.py makemigrations --merge`\n"
    ) in proc.stdout

    # Through the installed hook: one message, no traceback, git's checkout done.
    real.git(*NO_HOOKS, "switch", "-q", "main")
    out = real.git("checkout", "forked", check=False)
    assert "Traceback" not in out
    assert "the working tree's migrations are forked (shop: 0002_a, 0002_b)" in out
    assert real.git("branch", "--show-current").strip() == "forked"
    assert real.schema() == before
    assert user_rows(real) == USER_ROWS_ADDED


@pytest.mark.parametrize(
    "source",
    [
        "SECRET_KEY = 'x'\nINSTALLED_APPS = []\n",
        # the project's apps, contrib and migrail included, without DATABASES
        "from project.settings import *  # noqa\nINSTALLED_APPS = [*INSTALLED_APPS, 'migrail']\n"
        "del DATABASES\n",
    ],
    ids=["bare", "apps-without-databases"],
)
def test_settings_without_databases_say_so(real: DjangoProject, source: str) -> None:
    real.write("project/empty.py", source)
    for command in ("status", "sync"):
        proc = real.migrail(command, "--settings", "project.empty")
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            2,
            "",
            "migrail: error: the settings 'project.empty' define no DATABASES, so there is "
            "nothing to sync; name the settings module you run with: DJANGO_SETTINGS_MODULE, "
            "--settings, or `git config migrail.settings MODULE`\n",
        )


def feature_with_rows(p: DjangoProject) -> None:
    feature_branch(p)
    sync(p)
    p.query("INSERT INTO shop_item (name, stock) VALUES (7, 5)")


def assert_feature_kept(p: DjangoProject, proc_stderr: str, message: str) -> None:
    assert proc_stderr == f"migrail: error: {message}\n"
    assert p.query("SELECT name, stock FROM shop_item") == [[7, 5]]
    assert user_rows(p) == USER_ROWS_ADDED
    assert p.git("branch", "--show-current").strip() == "feature"


def test_switch_refuses_what_git_switch_would_refuse_before_rolling_back(
    real: DjangoProject, tmp_path: Path
) -> None:
    feature_with_rows(real)
    remote = tmp_path / "remote.git"
    real.git("init", "-q", "--bare", str(remote))
    real.git("remote", "add", "origin", str(remote))
    real.git("push", "-q", "origin", "main")
    real.git("fetch", "-q", "origin")

    proc = real.migrail("switch", "origin/main")
    assert proc.returncode == 2
    assert_feature_kept(
        real,
        proc.stderr,
        "'origin/main' is a remote branch: `migrail switch main` makes a local branch tracking "
        "it (or `migrail switch -c NEW origin/main`); nothing was changed",
    )

    real.git("worktree", "add", "-q", str(tmp_path / "other"), "main")
    proc = real.migrail("switch", "main")
    assert proc.returncode == 2
    assert_feature_kept(
        real,
        proc.stderr,
        f"branch 'main' is checked out in another worktree ({tmp_path / 'other'}); "
        "nothing was changed",
    )
    real.git("worktree", "remove", str(tmp_path / "other"))

    # main tracks a file that feature has untracked in its place.
    real.git(*NO_HOOKS, "switch", "-q", "main")
    real.write("notes.txt", "main's\n")
    real.git("add", "notes.txt")
    real.git(*NO_HOOKS, "commit", "-qm", "notes")
    real.git(*NO_HOOKS, "switch", "-q", "feature")
    real.write("notes.txt", "mine, untracked\n")
    proc = real.migrail("switch", "main")
    assert proc.returncode == 2
    assert_feature_kept(
        real,
        proc.stderr,
        "git switch main would fail (Untracked working tree file 'notes.txt' would be "
        "overwritten by merge.); nothing was changed",
    )
    assert (real.root / "notes.txt").read_text() == "mine, untracked\n"

    (real.root / "notes.txt").unlink()
    proc = real.migrail("switch", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert real.git("branch", "--show-current").strip() == "main"
    assert user_rows(real) == USER_ROWS_ADDED


def test_switch_names_the_uncommitted_files(real: DjangoProject) -> None:
    feature_with_rows(real)
    settings = real.root / "project/settings.py"
    settings.write_text(settings.read_text() + "# edited\n")
    proc = real.migrail("switch", "main")
    assert proc.returncode == 2
    assert_feature_kept(
        real,
        proc.stderr,
        "the working tree has uncommitted changes (project/settings.py); commit or stash them "
        "first",
    )


def test_switch_refuses_untracked_migrations_git_would_carry_over(real: DjangoProject) -> None:
    """An untracked (applied) migration would stay in the working tree on main, where its
    parent does not exist: refused before anything is rolled back."""
    feature_with_rows(real)
    real.migration(
        "shop",
        "0003_local",
        migration_source([("shop", "0002_stock")], add_field("item", "local")),
    )
    sync(real)
    proc = real.migrail("switch", "main")
    assert proc.returncode == 2
    assert proc.stderr == (
        "migrail: error: the working tree has untracked migrations (shop/migrations/0003_local.py), "
        "which git would carry to 'main'; commit them, stash them (`git stash -u`) or remove them "
        "first; nothing was changed\n"
    )
    assert real.query("SELECT name, stock, local FROM shop_item") == [[7, 5, 0]]
    assert user_rows(real) == USER_ROWS_ADDED
    assert real.git("branch", "--show-current").strip() == "feature"


def test_a_refusal_comes_before_any_word_of_what_it_prevents(tmp_path: Path) -> None:
    """Snapshots on, another branch's data live (a switch that did not swap): with
    `DEBUG = False` sync refuses first, and says nothing of saving a snapshot it never saves."""
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    p.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    main_branch(p)
    assert p.migrail("install").returncode == 0
    sync(p)
    feature_branch(p)
    sync(p)
    git(p.root, "switch", "-q", "main", env={**p.env, "MIGRAIL_SKIP": "1"})  # no swap
    p.write_settings("DEBUG = False\n")
    snapshots = p.root / ".git/migrail/snapshots"
    before = sorted((path.name, path.stat().st_mtime_ns) for path in snapshots.iterdir())

    proc = p.migrail("sync")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "DEBUG = False" in proc.stderr
    assert "saving it before this sync" not in proc.stdout + proc.stderr
    assert sorted((path.name, path.stat().st_mtime_ns) for path in snapshots.iterdir()) == before


def test_switch_makes_a_branch_and_detaches_as_git_switch_does(real: DjangoProject) -> None:
    """`-c NEW START` and `--detach REV`: the database follows, as with a local branch."""
    feature_with_rows(real)
    real.git("tag", "v1", "main")

    made = real.migrail("switch", "-c", "hotfix", "v1")
    assert made.returncode == 0, made.stdout + made.stderr
    assert real.git("branch", "--show-current").strip() == "hotfix"
    assert "  - unapplying shop.0002_stock (" in made.stdout
    assert real.query("SELECT name FROM django_migrations WHERE name = '0002_stock'") == []

    detached = real.migrail("switch", "--detach", "feature")
    assert detached.returncode == 0, detached.stdout + detached.stderr
    assert real.git("branch", "--show-current").strip() == ""
    assert "  + applying shop.0002_stock (" in detached.stdout
    assert user_rows(real) == USER_ROWS_ADDED
