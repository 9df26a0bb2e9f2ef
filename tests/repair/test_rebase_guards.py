"""`migrail rebase` moves only forked apps, all or nothing, and never blind to the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.djangoproject import DjangoProject, add_field, migration_source
from tests.scenarios import assert_repaired, base, diverge, repository_state


def add(p: DjangoProject, name: str, parent: str, field: str) -> None:
    p.migration("shop", name, migration_source([("shop", parent)], add_field("item", field)))
    p.write("shop/migrations/max_migration.txt", f"{name}\n")
    p.commit(name)


def merge_migration_committed(p: DjangoProject) -> None:
    """feature 0003_stock, main 0003_color, joined on feature by `makemigrations --merge`."""
    base(p)
    diverge(p, ["0003_stock"], ["0003_color"])
    p.git("merge", "main", check=False)
    made = p.manage("makemigrations", "--merge", "--noinput", "--name", "joined", "shop")
    assert made.returncode == 0, made.stdout + made.stderr
    p.write("shop/migrations/max_migration.txt", "0004_joined\n")
    p.git("add", "-A")
    p.git("commit", "-q", "--no-edit")
    assert p.migrail("check").returncode == 0


NOTHING = "migrail: nothing to rebase: no app has several leaf migrations\n"


def test_fork_resolved_by_a_merge_migration_is_left_alone(project: DjangoProject) -> None:
    merge_migration_committed(project)
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, NOTHING, "")
    assert repository_state(project) == before


def test_a_linear_graph_on_the_default_branch_itself_is_left_alone(
    project: DjangoProject,
) -> None:
    """On main, nothing in progress, no fork: there is no other side to name, and no need."""
    base(project)
    before = repository_state(project)
    proc = project.migrail("rebase", "shop")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, NOTHING, "")
    assert repository_state(project) == before


def test_linear_graph_during_a_merge_is_left_alone(project: DjangoProject) -> None:
    merge_migration_committed(project)
    project.write("notes.txt", "feature\n")
    project.commit("feature notes")
    project.git("switch", "-q", "main")
    project.write("notes.txt", "main\n")
    project.commit("main notes")
    project.git("switch", "-q", "feature")
    assert "CONFLICT" in project.git("merge", "main", check=False)
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, NOTHING, "")
    assert repository_state(project) == before


def test_linear_graph_during_a_rebase_is_left_alone(project: DjangoProject) -> None:
    base(project)
    project.write("notes.txt", "base\n")
    project.commit("notes")
    project.git("switch", "-q", "-c", "feature")
    add(project, "0003_stock", "0002_price", "stock")
    project.write("notes.txt", "feature\n")
    project.commit("feature notes")
    project.git("switch", "-q", "main")
    project.write("notes.txt", "main\n")
    project.commit("main notes")
    project.git("switch", "-q", "feature")
    assert "CONFLICT" in project.git("rebase", "main", check=False)
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, NOTHING, "")
    assert repository_state(project) == before


def test_linear_chain_is_not_renumbered_during_a_rebase(project: DjangoProject) -> None:
    """0003_stock follows 0003_color in one line: a shared number, but nothing forked to move."""
    base(project)
    add(project, "0003_color", "0002_price", "color")
    project.write("notes.txt", "base\n")
    project.commit("notes")
    project.git("switch", "-q", "-c", "feature")
    project.migration(
        "shop", "0003_stock", migration_source([("shop", "0003_color")], add_field("item", "s"))
    )
    project.write("shop/migrations/max_migration.txt", "0003_stock\n")
    project.write("notes.txt", "feature\n")
    project.commit("stock, and notes")
    project.git("switch", "-q", "main")
    project.write("notes.txt", "main\n")
    project.commit("main notes")
    project.git("switch", "-q", "feature")
    assert "CONFLICT" in project.git("rebase", "main", check=False)
    assert not project.git("ls-tree", "HEAD", "shop/migrations/0003_stock.py")  # being replayed
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, NOTHING, "")
    assert repository_state(project) == before


@pytest.mark.parametrize("broken", ["settings", "database"])
def test_applied_migrations_are_not_moved_blind(project: DjangoProject, broken: str) -> None:
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    assert project.migrail("sync").returncode == 0  # 0003_stock is applied
    project.git("merge", "main", check=False)
    if broken == "settings":
        project.write("project/settings.py", "import no_such_module\n")
        reason = "cannot import the settings 'project.settings': No module named 'no_such_module'"
    else:
        # Something is there (a missing file would have nothing applied), but no database.
        (project.root / "db-directory").mkdir()
        name = str(project.root / "db-directory")
        project.database = {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
        project.write_settings()
        reason = "unable to open database file"
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"migrail: error: cannot tell whether a local database has shop.0003_stock applied "
        f"({reason}); nothing was changed. Renaming an applied migration breaks that database: "
        "fix the settings or the database, or run `migrail rebase --no-db-check` if no database has "
        "it applied.\n"
    )
    assert proc.stdout == ""
    assert repository_state(project) == before
    proc = project.migrail("rebase", "--no-db-check")
    assert proc.returncode == 0, proc.stderr
    assert "renamed shop/migrations/0003_stock.py -> shop/migrations/0004_stock.py" in proc.stdout
    assert proc.stderr == ""


def test_chain_renamed_onto_its_own_names(project: DjangoProject) -> None:
    """0003_backfill becomes 0004_backfill while 0004_backfill becomes 0005_backfill."""
    base(project)
    project.git("switch", "-q", "-c", "feature")
    project.migration(
        "shop", "0003_backfill", migration_source([("shop", "0002_price")], add_field("item", "a"))
    )
    project.migration(
        "shop",
        "0004_backfill",
        migration_source([("shop", "0003_backfill")], add_field("item", "b")),
    )
    project.write("shop/migrations/max_migration.txt", "0004_backfill\n")
    project.commit("backfill")
    project.git("switch", "-q", "main")
    add(project, "0003_stock", "0002_price", "stock")
    project.git("switch", "-q", "feature")
    project.git("merge", "main", check=False)
    proc = project.migrail("rebase")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[:3] == [
        "migrail: renamed shop/migrations/0003_backfill.py -> shop/migrations/0004_backfill.py",
        "migrail: renamed shop/migrations/0004_backfill.py -> shop/migrations/0005_backfill.py",
        "migrail: wrote shop/migrations/max_migration.txt: 0005_backfill",
    ]
    assert not (project.root / "shop/migrations/0003_backfill.py").exists()
    moved_a = project.read("shop/migrations/0004_backfill.py")
    moved_b = project.read("shop/migrations/0005_backfill.py")
    assert "('shop', '0003_stock')" in moved_a
    assert "name='a'" in moved_a
    assert "('shop', '0004_backfill')" in moved_b
    assert "name='b'" in moved_b
    assert project.git("status", "--porcelain", "--no-renames", "shop/migrations") == (
        "D  shop/migrations/0003_backfill.py\n"
        "A  shop/migrations/0003_stock.py\n"
        "M  shop/migrations/0004_backfill.py\n"
        "A  shop/migrations/0005_backfill.py\n"
        "M  shop/migrations/max_migration.txt\n"
    )
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)


def forked_chain_mid_merge(p: DjangoProject) -> None:
    base(p)
    diverge(p, ["0003_stock", "0004_size"], ["0003_color"])
    p.git("merge", "main", check=False)


def test_destination_taken_by_an_ignored_file_changes_nothing(project: DjangoProject) -> None:
    forked_chain_mid_merge(project)
    (project.root / ".git/info/exclude").write_text("0005_size.py\n")
    project.write("shop/migrations/0005_size.py", "# someone's work in progress\n")
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert proc.returncode == 2
    assert proc.stderr == (
        "migrail: error: shop/migrations/0005_size.py already exists and is not a migration "
        "being moved; nothing was changed. Move it away, then run `migrail rebase` again.\n"
    )
    assert repository_state(project) == before


def test_git_failing_while_staging_puts_everything_back(project: DjangoProject) -> None:
    forked_chain_mid_merge(project)
    (project.root / ".git/index.lock").write_text("")  # another git process holds the index
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert proc.returncode == 2
    assert proc.stderr.startswith("migrail: error: git add ")
    assert proc.stderr.endswith("; nothing was changed\n")
    assert "Traceback" not in proc.stderr
    (project.root / ".git/index.lock").unlink()
    assert repository_state(project) == before
    assert project.migrail("rebase").returncode == 0  # and the repair still works afterwards
    project.git("commit", "-q", "--no-edit")
    assert_repaired(project)


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_symlinked_migration_is_refused(
    project: DjangoProject, tmp_path: Path, where: str
) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    source = migration_source([("shop", "0002_price")], add_field("item", "stock"))
    target = tmp_path / "outside.py" if where == "outside" else project.root / "shared/stock.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)
    (project.root / "shop/migrations/0003_stock.py").symlink_to(target)
    project.write("shop/migrations/max_migration.txt", "0003_stock\n")
    project.commit("stock")
    project.git("switch", "-q", "main")
    add(project, "0003_color", "0002_price", "color")
    project.git("switch", "-q", "feature")
    project.git("merge", "main", check=False)
    before = repository_state(project)
    proc = project.migrail("rebase")
    assert proc.returncode == 2
    if where == "outside":
        # The static reading never follows it (E011), so rebase cannot plan past it.
        expected = (
            "migrail: error: shop/migrations/0003_stock.py:1: 0003_stock cannot be read: is a "
            "symbolic link that leads outside the work tree; migrail does not follow it; fix it "
            "first, then run `migrail rebase` again\n"
        )
    else:
        expected = (
            "migrail: error: shop/migrations/0003_stock.py is a symbolic link; migrail rebase does "
            "not edit or rename links: replace it with the file it points to, then run "
            "`migrail rebase` again\n"
        )
    assert proc.stderr == expected
    assert repository_state(project) == before
    assert target.read_text() == source


def test_a_fork_the_default_branch_has_neither_side_of_is_refused(project: DjangoProject) -> None:
    # Two topic branches merged (the guard skipped) on a third: main has neither side, so
    # "what main lacks" is both chains, and renumbering them after main's leaf forks again.
    base(project)
    for branch, name in (("fa", "0003_subtitle"), ("fb", "0003_views")):
        project.git("switch", "-q", "-c", branch, "main")
        add(project, name, "0002_price", name[5:])
    project.git("switch", "-q", "-c", "fc", "main")
    project.git("merge", "-q", "fa")
    project.git("merge", "-q", "--no-edit", "fb", check=False)
    project.write("shop/migrations/max_migration.txt", "0003_views\n")
    project.git("add", "-A")
    project.git("commit", "-q", "--no-edit", "--no-verify")
    before = repository_state(project)
    proc = project.migrail("rebase", "shop", "--no-db-check")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "migrail: error: shop's migrations that main lacks are forked themselves "
        "(0003_subtitle, 0003_views): `migrail rebase shop --onto HEAD~1` keeps the names of "
        "those HEAD~1 has and moves the others after them; nothing was changed\n"
    )
    assert repository_state(project) == before
    proc = project.migrail("rebase", "shop", "--no-db-check", "--onto", "HEAD~1")  # fa's tip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "renamed shop/migrations/0003_views.py -> shop/migrations/0004_views.py" in proc.stdout
    assert project.migrail("check").returncode == 0


def test_several_applied_migrations_are_named_as_them(project: DjangoProject) -> None:
    base(project)
    diverge(project, ["0003_stock", "0004_size"], ["0003_color"])
    assert project.migrail("sync").returncode == 0
    project.git("merge", "main", check=False)
    proc = project.migrail("rebase")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        "migrail: error: shop.0003_stock, shop.0004_size would be renamed but the local "
        "database has them applied; nothing was changed. Run `migrail rebase --unapply` to "
        "roll them back first (then `migrail sync` applies them again under their new names).\n"
    )
    assert (project.root / "shop/migrations/0004_size.py").exists()


def test_the_unapply_hint_keeps_the_apps_and_onto_and_following_it_works(
    project: DjangoProject,
) -> None:
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    assert project.migrail("sync").returncode == 0
    project.git("merge", "main", check=False)
    proc = project.migrail("rebase", "shop", "--onto", "main")
    assert proc.returncode == 1
    hint = "Run `migrail rebase shop --onto main --unapply` to roll it back first"
    assert hint in proc.stderr, proc.stderr
    followed = project.migrail("rebase", "shop", "--onto", "main", "--unapply")
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert project.migrail("check").returncode == 0


def test_onto_a_branch_not_merged_yet_says_to_merge_it_first(project: DjangoProject) -> None:
    """What check --base advises, run before the base is brought in: no fork here yet, so
    nothing to rebase; it says so and what comes first, instead of "nothing to rebase"."""
    base(project)
    diverge(project, ["0003_stock"], ["0003_size"])
    proc = project.migrail("rebase", "--onto", "main", "shop")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == (
        "migrail: error: main is not in this branch yet, so no app forks here; `git fetch`, "
        "then `git merge main` (or `git rebase main`), then run this again\n"
    )
    project.git("merge", "-q", "main", check=False)  # max_migration.txt conflicts
    proc = project.migrail("rebase", "--onto", "main", "shop")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0004_stock" in proc.stdout
