"""After `makemigrations --merge`, check is clean; a linear app's conflicted file asks for --fix."""

from __future__ import annotations

import json

from tests.djangoproject import DjangoProject, add_field, migration_source
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
        "shop/migrations/max_migration.txt:1: E004 max_migration.txt of shop has git conflict "
        "markers: ours 0003_stock, theirs 0003_color\n"
        "    hint: run `migrail check --fix` to write the latest migration, 0004_joined, in it\n"
        "migrail: 1 error, 0 warnings (1 app checked)\n"
    )
    proc = project.migrail("check", "--fix")
    assert (proc.returncode, proc.stdout) == (
        1,
        "migrail: wrote shop/migrations/max_migration.txt\n",
    )
    assert project.read("shop/migrations/max_migration.txt") == f"{merged}\n"
    assert project.migrail("check").returncode == 0


def test_a_merge_sharing_its_parents_number_is_not_a_warning(project: DjangoProject) -> None:
    """django-celery-beat's 0006_periodictask_priority joins two 0006 siblings."""
    project.linear_app("beat", "0005_base")
    for name in ("0006_auto_a", "0006_auto_b"):
        project.migration(
            "beat", name, migration_source([("beat", "0005_base")], add_field("item", name[-1]))
        )
    project.migration(
        "beat",
        "0006_priority",
        migration_source([("beat", "0006_auto_a"), ("beat", "0006_auto_b")]),
    )
    project.write("beat/migrations/max_migration.txt", "0006_priority\n")
    project.commit("celery-beat's shape")
    proc = project.migrail("check")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_an_app_settings_swappable_dependency_is_read(project: DjangoProject) -> None:
    """django-oauth-toolkit's `swappable_dependency(oauth2_settings.REFRESH_TOKEN_MODEL)`."""
    project.linear_app("tokens", "0002_size")
    project.write(
        "tokens/migrations/0002_size.py",
        project.read("tokens/migrations/0002_size.py")
        .replace(
            "dependencies = [\n",
            "dependencies = [\n        migrations.swappable_dependency(oauth2_settings.TOKEN_MODEL),\n",
        )
        .replace(
            "from django.db import",
            "from tokens.conf import oauth2_settings\nfrom django.db import",
        ),
    )
    project.commit("tokens")
    proc = project.migrail("check", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    assert report["apps"]["tokens"]["leaves"] == ["0002_size"]
