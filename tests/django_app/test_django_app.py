"""`INSTALLED_APPS += ["migrail"]`: real management commands in real projects."""

from __future__ import annotations

from pathlib import Path

import django.contrib.auth

from tests.djangoproject import DjangoProject, add_field, migration_source

MODELS = "from django.db import models\n\n\nclass Item(models.Model):\n{fields}"


def models(p: DjangoProject, app_dir: str, *fields: str) -> None:
    body = "".join(f"    {f} = models.IntegerField(default=0)\n" for f in fields) or "    pass\n"
    p.write(f"{app_dir}/models.py", MODELS.format(fields=body))


def django_project(p: DjangoProject) -> None:
    p.apps.append("migrail")
    p.add_app("shop")
    models(p, "shop")


def manage(p: DjangoProject, *args: str) -> str:
    proc = p.manage(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def max_migration(p: DjangoProject, app_dir: str = "shop") -> str:
    return p.read(f"{app_dir}/migrations/max_migration.txt")


def test_makemigrations_flags_keep_max_migration_current(project: DjangoProject) -> None:
    django_project(project)
    manage(project, "makemigrations")
    assert max_migration(project) == "0001_initial\n"
    models(project, "shop", "price")
    manage(project, "makemigrations", "--name", "price")
    assert max_migration(project) == "0002_price\n"
    manage(project, "makemigrations", "shop", "--empty")
    assert max_migration(project).startswith("0003_")
    (project.root / f"shop/migrations/{max_migration(project).strip()}.py").unlink()
    project.write("shop/migrations/max_migration.txt", "0002_price\n")
    models(project, "shop", "price", "stock")
    manage(project, "makemigrations", "--update")
    assert max_migration(project) != "0002_price\n"
    assert (project.root / f"shop/migrations/{max_migration(project).strip()}.py").exists()
    assert project.migrail("check").returncode == 0


def test_dry_run_and_check_write_nothing(project: DjangoProject) -> None:
    django_project(project)
    manage(project, "makemigrations")
    models(project, "shop", "price")
    manage(project, "makemigrations", "--dry-run")
    assert project.manage("makemigrations", "--check").returncode == 1
    assert max_migration(project) == "0001_initial\n"
    assert sorted(p.name for p in (project.root / "shop/migrations").glob("0*.py")) == [
        "0001_initial.py"
    ]


def test_merge_writes_the_merge_migration(project: DjangoProject) -> None:
    django_project(project)
    manage(project, "makemigrations")
    project.migration(
        "shop", "0002_a", migration_source([("shop", "0001_initial")], add_field("item", "a"))
    )
    project.migration(
        "shop", "0002_b", migration_source([("shop", "0001_initial")], add_field("item", "b"))
    )
    manage(project, "makemigrations", "--merge", "--no-input")
    assert max_migration(project).startswith("0003_merge")


def test_squashmigrations_names_the_squash(project: DjangoProject) -> None:
    django_project(project)
    manage(project, "makemigrations")
    models(project, "shop", "price")
    manage(project, "makemigrations")
    manage(project, "squashmigrations", "shop", "0002", "--no-input")
    assert max_migration(project) == "0001_squashed_0002_item_price\n"
    assert project.migrail("check").returncode == 0


def test_system_checks_report_and_do_not_block_the_repair(project: DjangoProject) -> None:
    django_project(project)
    manage(project, "makemigrations")
    out = manage(project, "check")
    assert out == "System check identified no issues (0 silenced).\n"
    project.write("shop/migrations/max_migration.txt", "0009_gone\n")
    proc = project.manage("check")
    assert proc.returncode == 1
    assert (
        "?: (migrail.E003) shop/migrations/max_migration.txt:1: max_migration.txt of shop names "
        "0009_gone, which does not exist, but the latest migration is 0001_initial"
    ) in proc.stderr
    assert "HINT: run `migrail check --fix` to update it" in proc.stderr
    assert project.manage("check", env={"MIGRAIL_SKIP": "1"}).returncode == 0
    migrated = project.manage("migrate", "shop")  # never blocked: a warning
    assert migrated.returncode == 0, migrated.stderr
    assert "?: (migrail.E003) shop/migrations/max_migration.txt:1:" in migrated.stderr
    assert project.manage("migrate", "shop", "zero").returncode == 0  # rolling back by hand
    models(project, "shop", "price")
    manage(project, "makemigrations")  # not blocked by migrail's own error
    assert max_migration(project) == "0002_item_price\n"
    assert manage(project, "check") == "System check identified no issues (0 silenced).\n"


def test_custom_label_and_migration_modules(project: DjangoProject) -> None:
    project.apps.append("migrail")
    project.add_app("store", path="apps/store", config_label="warehouse")
    models(project, "apps/store")
    project.write("apps/store_migrations/__init__.py", "")
    project.add_app("archive")
    models(project, "archive")
    project.write_settings(
        "MIGRATION_MODULES = {'warehouse': 'apps.store_migrations', 'archive': None}\n"
    )
    manage(project, "makemigrations")
    assert project.read("apps/store_migrations/max_migration.txt") == "0001_initial\n"
    assert not (project.root / "apps/store/migrations/max_migration.txt").exists()
    assert not list(project.root.glob("archive/**/max_migration.txt"))
    project.write("apps/store_migrations/max_migration.txt", "0002_x\n")
    proc = project.manage("check")
    assert (
        "(migrail.E003) apps/store_migrations/max_migration.txt:1: max_migration.txt of warehouse"
        in proc.stderr
    )


def test_third_party_apps_never_get_a_file(project: DjangoProject) -> None:
    project.apps += ["django.contrib.contenttypes", "django.contrib.auth"]
    django_project(project)
    manage(project, "makemigrations")
    manage(project, "migrate")
    assert manage(project, "check") == "System check identified no issues (0 silenced).\n"
    assert not (Path(django.contrib.auth.__file__).parent / "migrations/max_migration.txt").exists()


def test_a_project_subclass_of_makemigrations_keeps_working(project: DjangoProject) -> None:
    project.apps.append("tools")
    project.write("tools/__init__.py", "")
    project.write("tools/management/__init__.py", "")
    project.write("tools/management/commands/__init__.py", "")
    project.write(
        "tools/management/commands/makemigrations.py",
        (
            "from migrail.management.commands.makemigrations import Command as Base\n\n\n"
            "class Command(Base):\n"
            "    def handle(self, *args, **options):\n"
            "        self.stdout.write('project override ran')\n"
            "        return super().handle(*args, **options)\n"
        ),
    )
    django_project(project)
    out = manage(project, "makemigrations")
    assert "project override ran" in out
    assert max_migration(project) == "0001_initial\n"


def test_manage_py_migrail_runs_the_cli_with_the_configured_settings(
    project: DjangoProject,
) -> None:
    django_project(project)
    manage(project, "makemigrations")
    project.commit()
    assert manage(project, "migrail", "check") == ""
    out = manage(project, "migrail", "sync")
    assert "0 to unapply, 1 to apply\n  + shop.0001_initial" in out
    assert "matches the working tree" in manage(project, "migrail", "status")
    proc = project.manage("migrail", "check", "--rev", "nope")
    assert proc.returncode == 2


def test_hand_over_from_django_linear_migrations(project: DjangoProject) -> None:
    project.apps.append("django_linear_migrations")
    project.add_app("shop")
    models(project, "shop")
    manage(project, "makemigrations")
    theirs = max_migration(project)
    project.apps.remove("django_linear_migrations")
    project.apps.append("migrail")
    project.write_settings()
    assert manage(project, "check") == "System check identified no issues (0 silenced).\n"
    assert max_migration(project) == theirs
    models(project, "shop", "price")
    manage(project, "makemigrations")
    assert max_migration(project) == "0002_item_price\n"
    project.apps.append("django_linear_migrations")
    project.write_settings()
    proc = project.migrail("check")
    assert "W002 django_linear_migrations is in INSTALLED_APPS alongside migrail" in proc.stdout
    assert proc.returncode == 0  # a warning
    assert "(migrail.W002) django_linear_migrations is installed alongside migrail" in (
        project.manage("check").stderr
    )


FILL_FUNCTION = """def fill(apps, schema_editor):
    apps.get_model("shop", "Item").objects.update(price=1)
"""
FILL = f"""from django.db import migrations


{FILL_FUNCTION}

class Migration(migrations.Migration):
    dependencies = [("shop", "0002_item_price")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
"""


def test_a_squash_to_port_by_hand_says_max_migration_txt_waits(project: DjangoProject) -> None:
    """Django writes a squash that cannot compile until its RunPython functions are copied in:
    max_migration.txt cannot be written yet, and squashmigrations says so instead of leaving it
    stale without a word; ported, `migrail check` names the stale file and its fix."""
    django_project(project)
    manage(project, "makemigrations")
    models(project, "shop", "price")
    manage(project, "makemigrations")
    project.write("shop/migrations/0003_fill.py", FILL)
    project.write("shop/migrations/max_migration.txt", "0003_fill\n")
    proc = project.manage("squashmigrations", "shop", "0003", "--no-input")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Manual porting required" in proc.stdout
    squash = "shop/migrations/0001_squashed_0003_fill.py"
    lines = [line for line in proc.stderr.splitlines() if line.startswith("migrail:")]
    assert len(lines) == 1
    assert lines[0].startswith(
        "migrail: max_migration.txt of shop was not updated (it names 0003_fill): "
        "0001_squashed_0003_fill has a syntax error: "
    )
    assert lines[0].endswith(
        f" ({squash}:{_code_line(project, squash)}); when that is fixed, run `migrail check --fix`"
    )
    assert max_migration(project) == "0003_fill\n"

    ported = project.read(squash).replace("code=shop.migrations.0003_fill.fill", "code=fill")
    ported = ported.replace("class Migration(", f"{FILL_FUNCTION}\n\nclass Migration(")
    project.write(squash, ported)
    proc = project.migrail("check")
    assert proc.returncode == 1
    assert (
        "shop/migrations/max_migration.txt:1: E003 max_migration.txt of shop names 0003_fill, "
        "but the latest migration is 0001_squashed_0003_fill\n"
        "    hint: run `migrail check --fix` to update it\n"
    ) in proc.stdout
    assert project.migrail("check", "--fix").returncode == 1
    assert project.migrail("check").returncode == 0
    assert max_migration(project) == "0001_squashed_0003_fill\n"


def _code_line(project: DjangoProject, path: str) -> int:
    """The line of the squash where Django names the function to copy."""
    text = project.read(path).splitlines()
    return next(n for n, line in enumerate(text, 1) if "shop.migrations.0003_fill.fill" in line)
