"""After `makemigrations --merge`, check is clean; a linear app's conflicted file asks for --fix."""

from __future__ import annotations

from tests.djangoproject import DjangoProject
from tests.scenarios import diverge


def forked_and_merged(p: DjangoProject) -> str:
    """feature 0003_stock, main 0003_color, merged; the migrations joined by Django's merge."""
    p.apps.append("migrail")
    p.linear_app("shop", "0002_price")
    p.commit("base")
    diverge(p, ["0003_stock"], ["0003_color"])
    assert "CONFLICT" in p.git("merge", "main", check=False)
    made = p.manage("makemigrations", "--merge", "--noinput", "--name", "joined", "shop")
    assert made.returncode == 0, made.stdout + made.stderr
    return "0004_joined"


def test_shared_number_joined_by_a_merge_migration_is_not_a_warning(
    project: DjangoProject,
) -> None:
    merged = forked_and_merged(project)
    project.write("shop/migrations/max_migration.txt", f"{merged}\n")
    project.git("add", "-A")
    project.git("commit", "-q", "--no-edit")
    proc = project.migrail("check")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    for command in (["check"], ["migrate", "--noinput"]):
        proc = project.manage(*command)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "migrail.W001" not in proc.stdout + proc.stderr


def test_conflict_markers_on_a_linear_app_suggest_check_fix(project: DjangoProject) -> None:
    merged = forked_and_merged(project)
    project.write(
        "shop/migrations/max_migration.txt",
        "<<<<<<< HEAD\n0003_stock\n=======\n0003_color\n>>>>>>> main\n",
    )
    proc = project.migrail("check")
    assert proc.returncode == 1
    assert proc.stdout == (
        "shop/migrations/max_migration.txt:1: E004 shop's max_migration.txt has git conflict "
        "markers: ours 0003_stock, theirs 0003_color\n"
        "    hint: run `migrail check --fix` to write the latest migration, 0004_joined, in it\n"
        "migrail: 1 error, 0 warnings in 1 app\n"
    )
    proc = project.migrail("check", "--fix")
    assert (proc.returncode, proc.stdout) == (
        1,
        "migrail: wrote shop/migrations/max_migration.txt\n",
    )
    assert project.read("shop/migrations/max_migration.txt") == f"{merged}\n"
    assert project.migrail("check").returncode == 0
