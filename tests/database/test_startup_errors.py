"""A file that does not compile while Django starts or loads migrations is named by its
path in the repository (`shop/models.py`), not by Python's bare file name: one line, exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.djangoproject import DjangoProject, real_project
from tests.scenarios import main_branch, sync

BROKEN_CLASS = "from django.db import models\n\n\nclass Item(models.Model)\n    pass\n"


def project_on_main(tmp_path: Path) -> DjangoProject:
    project = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(project)
    sync(project)
    return project


def test_a_models_py_that_does_not_compile_is_named_by_its_path(tmp_path: Path) -> None:
    project = project_on_main(tmp_path)
    project.write("shop/models.py", BROKEN_CLASS)
    for command in (["status"], ["sync"], ["sync", "--dry-run"]):
        proc = project.migrail(*command)
        assert proc.returncode == 2, command
        assert proc.stdout == ""
        assert proc.stderr == (
            "migrail: error: Django could not start with settings 'project.settings': "
            "expected ':' (shop/models.py, line 4)\n"
        )


def test_settings_that_do_not_compile_are_named_by_their_path(tmp_path: Path) -> None:
    project = project_on_main(tmp_path)
    settings = project.read("project/settings.py")
    project.write("project/settings.py", settings + "DEBUG = (\n")
    line = len(settings.splitlines()) + 1
    proc = project.migrail("restore")
    assert proc.returncode == 2
    assert proc.stderr == (
        "migrail: error: cannot import the settings 'project.settings': "
        f"'(' was never closed (project/settings.py, line {line})\n"
    )


def test_a_migration_that_does_not_compile_is_named_by_its_path(tmp_path: Path) -> None:
    project = project_on_main(tmp_path)
    project.migration("shop", "0002_broken", BROKEN_CLASS)
    for command in (["status"], ["sync"]):
        proc = project.migrail(*command)
        assert proc.returncode == 2, command
        assert proc.stderr == (
            "migrail: error: Django cannot load the migrations: SyntaxError: expected ':' "
            "(shop/migrations/0002_broken.py, line 4)\n"
        )


def test_an_installed_app_this_python_lacks_says_which_python_runs_migrail(tmp_path: Path) -> None:
    """The usual cause: migrail installed in an environment of its own (the README's demo
    command), without the project's packages."""
    project = project_on_main(tmp_path)
    project.apps.append("not_in_this_environment")
    project.write_settings()
    proc = project.migrail("status")
    assert proc.returncode == 2
    assert proc.stderr == (
        "migrail: error: cannot import the settings 'project.settings' or an installed app: "
        f"No module named 'not_in_this_environment' (migrail runs with {sys.executable}: if "
        "manage.py runs with another Python, install migrail there and run `migrail install` "
        "again from it)\n"
    )


def test_a_settings_import_that_fails_names_the_file_and_line(tmp_path: Path) -> None:
    project = project_on_main(tmp_path)
    project.write("project/settings.py", project.read("project/settings.py") + "\nimport toolbar\n")
    lines = project.read("project/settings.py").count("\n")
    proc = project.migrail("status")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "migrail: error: cannot import the settings 'project.settings' or an installed app: "
        f"No module named 'toolbar' (project/settings.py, line {lines}; migrail runs with "
    ), proc.stderr


def test_conflict_markers_left_in_models_py_are_called_so(tmp_path: Path) -> None:
    project = project_on_main(tmp_path)
    models = "from django.db import models\n"
    project.write(
        "shop/models.py",
        f"{models}<<<<<<< HEAD\nA = 1\n=======\nA = 2\n>>>>>>> 1e2f3a4 (feature)\n",
    )
    line = len(models.splitlines()) + 5  # where Python stops: the `>>>>>>>` line
    proc = project.migrail("status")
    assert proc.returncode == 2
    assert proc.stderr == (
        "migrail: error: Django could not start with settings 'project.settings': a merge "
        f"conflict left unresolved (conflict markers) (shop/models.py, line {line})\n"
    )
