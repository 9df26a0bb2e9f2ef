"""Which settings sync uses, as django-admin decides: --settings, DJANGO_SETTINGS_MODULE,
configuration (git config over [tool.migrail]), then manage.py's default."""

from __future__ import annotations

from tests.djangoproject import DjangoProject
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
        "`git config migrail.settings MODULE`\n"
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
        "`git config migrail.settings MODULE`\n"
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
    assert proc.stdout.startswith("migrail: database 'default' (sqlite) is out of step\n")
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
