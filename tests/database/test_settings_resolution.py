"""Which settings sync uses, as django-admin decides: --settings, DJANGO_SETTINGS_MODULE,
configuration (git config over [tool.migrail]), then manage.py's default."""

from __future__ import annotations

import sqlite3

from tests.djangoproject import DjangoProject, add_field, migration_source
from tests.scenarios import main_branch

NO_DEFAULT_MANAGE_PY = """\
import sys

from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""
APPLIED = [["billing", "0001_initial"], ["shop", "0001_initial"]]


def applied(p: DjangoProject) -> list[list[object]]:
    return p.query("SELECT app, name FROM django_migrations ORDER BY app, name")


def test_settings_from_the_environment_when_manage_py_sets_none(project: DjangoProject) -> None:
    project.write("manage.py", NO_DEFAULT_MANAGE_PY)
    main_branch(project)
    proc = project.migrail("sync")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"migrail: error: {project.root / 'manage.py'}: sets no DJANGO_SETTINGS_MODULE: pass "
        "--settings MODULE, export DJANGO_SETTINGS_MODULE, or run "
        "`git config migrail.settings MODULE`; if manage.py is in a subdirectory, "
        "`git config migrail.projectDir DIR`\n"
    )
    proc = project.migrail("sync", env={"DJANGO_SETTINGS_MODULE": "project.settings"})
    assert proc.returncode == 0, proc.stderr
    assert applied(project) == APPLIED


def test_the_environment_wins_over_manage_py_and_settings_option_over_both(
    project: DjangoProject,
) -> None:
    main_branch(project)
    project.write("project/other.py", "from project.settings import *\nDEBUG = False\n")
    project.commit("other settings")
    proc = project.migrail("sync", env={"DJANGO_SETTINGS_MODULE": "project.other"})
    assert proc.returncode == 1
    assert "settings have DEBUG = False" in proc.stderr
    env = {"DJANGO_SETTINGS_MODULE": "project.other"}
    proc = project.migrail("sync", "--settings", "project.settings", env=env)
    assert proc.returncode == 0, proc.stderr


def test_project_without_manage_py_uses_git_config(project: DjangoProject) -> None:
    main_branch(project)
    project.git("rm", "-q", "manage.py")
    project.commit("no manage.py")
    proc = project.migrail("status")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"migrail: error: no manage.py in {project.root} to name the settings: pass "
        "--settings MODULE, export DJANGO_SETTINGS_MODULE, or run "
        "`git config migrail.settings MODULE`; if manage.py is in a subdirectory, "
        "`git config migrail.projectDir DIR`\n"
    )
    project.git("config", "migrail.settings", "project.settings")
    proc = project.migrail("sync")
    assert proc.returncode == 0, proc.stderr
    assert applied(project) == APPLIED


def test_git_config_overrides_pyproject(project: DjangoProject) -> None:
    project.write("pyproject.toml", '[tool.migrail]\nsettings = "project.missing"\n')
    main_branch(project)
    proc = project.migrail("sync")
    assert proc.returncode == 2
    assert "cannot import the settings 'project.missing'" in proc.stderr
    project.git("config", "migrail.settings", "project.settings")
    assert project.migrail("sync").returncode == 0
    assert applied(project) == APPLIED


def test_debug_false_blocks_only_what_changes_the_database(project: DjangoProject) -> None:
    main_branch(project)
    project.write_settings("DEBUG = False\n")
    (project.root / "db.sqlite3").touch()  # an empty database: read-only commands create none
    proc = project.migrail("status")
    assert proc.returncode == 1, proc.stderr  # out of step, and says so
    assert "migrail: database 'default' (sqlite) is out of step\n" in proc.stdout
    proc = project.migrail("sync", "--dry-run")
    assert proc.returncode == 1, proc.stderr
    assert "0 to unapply, 2 to apply" in proc.stdout
    proc = project.migrail("sync")
    assert proc.returncode == 1
    assert "settings have DEBUG = False" in proc.stderr
    project.git("config", "migrail.allowDebugFalse", "true")  # camelCase, as git users write it
    assert project.migrail("sync").returncode == 0
    assert applied(project) == APPLIED


def test_git_config_keys_with_dashes_and_bad_values(project: DjangoProject) -> None:
    """Git allows no underscore in a key: `allow-debug-false` stands for `allow_debug_false`."""
    main_branch(project)
    project.write_settings("DEBUG = False\n")
    project.git("config", "migrail.allow-debug-false", "maybe")
    proc = project.migrail("sync")
    assert proc.returncode == 2
    assert proc.stderr == (
        "migrail: error: git config migrail.allow-debug-false: expected true or false, "
        "not 'maybe'\n"
    )
    project.git("config", "migrail.allow-debug-false", "yes")
    assert project.migrail("sync").returncode == 0
    project.git("config", "migrail.settingz", "x")
    proc = project.migrail("status")
    assert proc.returncode == 2
    assert proc.stderr == "migrail: error: git config migrail.settingz: unknown migrail key\n"


def monorepo(project: DjangoProject) -> None:
    """manage.py and the Django project under backend/, a frontend beside it; SQLite named
    relative to where manage.py runs; no configuration."""
    main_branch(project)
    (project.root / "backend").mkdir()
    settings = project.read("project/settings.py").replace(
        repr(str(project.root / "db.sqlite3")), "'db.sqlite3'"
    )
    project.write("project/settings.py", settings)
    project.write("frontend/package.json", "{}\n")
    for path in ("manage.py", "project", "shop", "billing"):
        project.git("mv", path, f"backend/{path}")
    project.git("add", "-A")
    project.git("commit", "-q", "-m", "backend/")


def test_a_manage_py_in_a_subdirectory_is_found_with_no_configuration(
    project: DjangoProject,
) -> None:
    monorepo(project)
    proc = project.migrail("sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    db = project.root / "backend/db.sqlite3"
    assert db.is_file()
    assert not (project.root / "db.sqlite3").exists()
    proc = project.migrail("status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The hooks roll back with the previous commit's code, found the same way.
    assert project.migrail("install").returncode == 0
    project.git("switch", "-q", "-c", "feature")
    project.migration(
        "backend/shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    project.write("backend/shop/migrations/max_migration.txt", "0002_stock\n")
    project.commit("stock")
    assert project.migrail("sync").returncode == 0
    out = project.git("switch", "main")
    assert "  - shop.0002_stock\n" in out
    assert "with the code of" in out
    rows = sqlite3.connect(db).execute("SELECT app, name FROM django_migrations WHERE app = 'shop'")
    assert rows.fetchall() == [("shop", "0001_initial")]


def test_several_manage_py_files_ask_which_one(project: DjangoProject) -> None:
    monorepo(project)
    project.write("tools/manage.py", NO_DEFAULT_MANAGE_PY)
    proc = project.migrail("sync")
    assert (proc.returncode, proc.stderr) == (
        2,
        "migrail: error: several manage.py files (backend/manage.py, tools/manage.py): name the "
        "project directory with `git config migrail.projectDir DIR` (or project_dir in "
        "[tool.migrail])\n",
    )
    project.git("config", "migrail.projectDir", "backend")
    assert project.migrail("sync").returncode == 0
