"""`"NAME": "db.sqlite3"` is the project directory's file, wherever migrail is run from (as
`manage.py`, run there, opens it); and a read-only command never creates a database file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.djangoproject import DjangoProject, real_project, run_env
from tests.scenarios import feature_branch, main_branch, sync

RELATIVE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}


def migrail_in(project: DjangoProject, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrail", *args],
        cwd=cwd,
        env=run_env(project.env),
        capture_output=True,
        text=True,
    )


def test_a_relative_sqlite_name_is_the_project_directorys_file(tmp_path: Path) -> None:
    project = real_project(tmp_path / "repo", tmp_path / "packages", RELATIVE)
    main_branch(project)
    feature_branch(project)
    sync(project)
    shop = project.root / "shop"
    status = migrail_in(project, shop, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout == (
        "migrail: settings project.settings, project directory .\n"
        "migrail: database 'default' (sqlite) matches the working tree\n"
    )
    project.git("switch", "-q", "main")
    proc = migrail_in(project, shop, "sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  - billing.0002_seen" in proc.stdout
    assert not (shop / "db.sqlite3").exists()
    applied = project.query("SELECT name FROM django_migrations WHERE app = 'shop'")
    assert applied == [["0001_initial"]]


def test_read_only_commands_never_create_the_database(tmp_path: Path) -> None:
    project = real_project(tmp_path / "repo", tmp_path / "packages", RELATIVE)
    main_branch(project)
    database = project.root / "db.sqlite3"
    for command in (["status"], ["sync", "--dry-run"]):
        for cwd in (project.root, project.root / "shop"):
            proc = migrail_in(project, cwd, *command)
            assert proc.returncode == 2
            assert proc.stdout == ""
            assert proc.stderr == (
                f"migrail: error: database 'default': the SQLite file {database} does not exist; "
                f"`migrail {' '.join(command)}` creates nothing "
                "(`migrail sync` creates and migrates it)\n"
            )
    assert sorted(p.name for p in project.root.rglob("*.sqlite3")) == []
    sync(project)
    assert database.is_file()
