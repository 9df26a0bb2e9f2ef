"""What a new user's trial of `migrail rebase` found: it creates no database, says to sync only
when there is something to sync, and a fork on one branch names a command that repairs it."""

from __future__ import annotations

from tests.djangoproject import DjangoProject
from tests.scenarios import add_migration, assert_repaired, base, diverge, rebase, sync

SYNC_HINT = "run `migrail sync` to apply the renamed migrations"


def test_the_database_check_creates_no_sqlite_file(project: DjangoProject) -> None:
    """A checkout with no db.sqlite3 has nothing applied: it stays without one."""
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    database = project.root / "db.sqlite3"
    assert not database.exists()
    assert "CONFLICT" in project.git("merge", "main", check=False)
    out = rebase(project)
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    assert not database.exists()
    assert SYNC_HINT not in out


def test_sync_is_advised_only_when_migrations_were_rolled_back(project: DjangoProject) -> None:
    """A database without this branch's migrations applied has nothing to apply again."""
    base(project)
    sync(project)  # 0001_initial and 0002_price
    diverge(project, ["0003_stock"], ["0003_color"])
    assert "CONFLICT" in project.git("merge", "main", check=False)
    out = rebase(project)
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in out
    assert SYNC_HINT not in out
    project.git("commit", "-q", "--no-edit")
    sync(project)
    # Applied, then moved: rolled back, and sync applies it again under its new name.
    project.git("switch", "-q", "-c", "later")
    add_migration(project, "shop", "0005_weight", "0004_stock")
    project.git("switch", "-q", "feature")
    add_migration(project, "shop", "0005_size", "0004_stock")
    sync(project)
    assert "CONFLICT" in project.git("merge", "later", check=False)
    out = rebase(project, "--unapply")
    assert "unapplying shop.0005_size" in out
    assert out.endswith(f"migrail: {SYNC_HINT} to your database\n")
    project.git("commit", "-q", "--no-edit")
    sync(project)
    assert_repaired(project)


def refused(p: DjangoProject, advice: str) -> None:
    proc = p.migrail("rebase", "shop")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "migrail: error: shop's migrations that main lacks are forked themselves "
        f"(0003_aaa, 0003_bbb): {advice}; nothing was changed\n"
    )


def test_a_fork_on_this_branch_with_one_side_uncommitted_names_onto_head(
    project: DjangoProject,
) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_aaa", "0002_price")
    add_migration(project, "shop", "0003_bbb", "0002_price", commit=False)
    refused(
        project,
        "`migrail rebase shop --onto HEAD` keeps the names of those HEAD has and moves the "
        "others after them",
    )
    out = rebase(project, "shop", "--onto", "HEAD")
    assert "renamed shop/migrations/0003_bbb.py -> shop/migrations/0004_bbb.py" in out
    assert_repaired(project)


def test_a_fork_on_this_branch_in_two_commits_names_the_commit_before(
    project: DjangoProject,
) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_aaa", "0002_price")
    add_migration(project, "shop", "0003_bbb", "0002_price")
    project.write("notes.txt", "later\n")
    project.commit("a later commit")
    refused(
        project,
        "`migrail rebase shop --onto HEAD~2` keeps the names of those HEAD~2 has and moves the "
        "others after them",
    )
    out = rebase(project, "shop", "--onto", "HEAD~2")
    assert "renamed shop/migrations/0003_bbb.py -> shop/migrations/0004_bbb.py" in out
    project.git("commit", "-q", "-m", "repair")
    assert_repaired(project)


def test_a_fork_on_this_branch_in_one_commit_names_a_merge_migration(
    project: DjangoProject,
) -> None:
    """No commit has one side without the other: no --onto can keep one side."""
    base(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_aaa", "0002_price", commit=False)
    add_migration(project, "shop", "0003_bbb", "0002_price")
    refused(
        project,
        "no commit of this branch has one side without the other: join them with "
        "`python manage.py makemigrations --merge shop`",
    )
    made = project.manage("makemigrations", "--merge", "--noinput", "shop")
    assert made.returncode == 0, made.stdout + made.stderr
    assert len(project.django_graph()["leaves"]) == 1
