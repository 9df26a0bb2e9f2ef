"""A killed sync converges: MariaDB has no transactional DDL, so a sync killed midway
leaves a column dropped while its migration is still recorded. The journal written
before the first change names the backup; the next sync restores it, says so, and
plans again. Also: a killed run's files are removed, and journaled backups are kept.
The projects have Django's contrib apps (a user, a session) and a third-party app installed
outside the work tree (a row): a recovery restores the backup whole, and loses none of them."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from migrail.sync.backup import Origin, list_backups, prune, take_backup
from migrail.sync.identity import identity_of
from tests.databases import database_settings
from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_user_rows,
    create_model,
    migration_source,
    real_project,
    run_env,
    user_rows,
)
from tests.scenarios import fresh_schema, sync

STEPS = 20
SLOW_REVERSE = """
def forward(apps, schema_editor):
    pass


def slow_reverse(apps, schema_editor):
    import time

    print("reversed {name}", flush=True)
    time.sleep(0.3)
"""


def twenty_migrations_on_feature(project: DjangoProject) -> None:
    """main: shop.Item with rows. feature: 20 migrations, each adding a column, then a slow
    reversible RunPython: unapplied, each drops its column, then sleeps in the RunPython."""
    project.add_app("shop")
    project.migration("shop", "0001_initial", migration_source([], create_model("Item", "name")))
    project.write("shop/migrations/max_migration.txt", "0001_initial\n")
    project.write("pyproject.toml", "[tool.migrail]\nbackups_kept = 1\n")
    project.commit("main")
    sync(project)
    add_user_rows(project)
    project.query("INSERT INTO shop_item (name) VALUES (10), (20), (30)")
    project.git("switch", "-q", "-c", "feature")
    parent = "0001_initial"
    for step in range(1, STEPS + 1):
        name = f"{step + 1:04d}_f{step:02d}"
        operations = (
            "migrations.RunPython(forward, slow_reverse),\n"
            f"migrations.AddField(model_name='item', name='f{step:02d}', "
            "field=models.IntegerField(default=0)),"
        )
        project.migration(
            "shop",
            name,
            migration_source([("shop", parent)], operations, header=SLOW_REVERSE.format(name=name)),
        )
        parent = name
    project.write("shop/migrations/max_migration.txt", f"{parent}\n")
    project.commit("feature")
    sync(project)
    project.git("switch", "-q", "main")


def kill_sync_after(project: DjangoProject, marker: str, count: int, env: dict[str, str]) -> int:
    """Start `migrail sync`, kill -9 it once `marker` has started `count` output lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrail", "sync", "--from", "feature"],
        cwd=project.root,
        env=run_env({"PYTHONUNBUFFERED": "1", **project.env, **env}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:
        seen += line.startswith(marker)
        if seen == count:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"sync finished before {marker!r} x{count}"
    return proc.pid


@pytest.mark.parametrize(
    ("marker", "count"),
    [("reversed", 1), ("reversed", 7), ("reversed", STEPS)],
    ids=["first-migration", "seventh-migration", "last-migration"],
)
def test_killed_mariadb_rollback_converges(tmp_path: Path, marker: str, count: int) -> None:
    with database_settings("mariadb", tmp_path) as (settings, fresh_name):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        twenty_migrations_on_feature(project)
        temp = tmp_path / "tmp"
        temp.mkdir()
        env = {"TMPDIR": str(temp)}
        kill_sync_after(project, marker, count, env)
        journals = project.root / ".git/migrail/journal"
        assert [p.suffix for p in journals.iterdir()] == [".json"]  # what to go back to
        for _ in range(2):  # a re-run converges; the next one has nothing left to do
            proc = project.migrail("sync", env=env)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        assert project.schema() == fresh_schema(project, fresh_name)
        assert project.query("SELECT id, name FROM shop_item ORDER BY id") == [
            [1, 10],
            [2, 20],
            [3, 30],
        ]
        assert user_rows(project) == USER_ROWS_ADDED
        assert not journals.exists() or list(journals.iterdir()) == []
        assert list(temp.iterdir()) == []  # the killed run's rollback directory is gone


def test_rerun_after_a_kill_restores_the_backup_and_says_so(tmp_path: Path) -> None:
    with database_settings("mariadb", tmp_path) as (settings, _):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        twenty_migrations_on_feature(project)
        kill_sync_after(project, "reversed", 3, {})
        project.git("config", "migrail.backupsKept", "5")  # keeps the recovery's own backup
        (backup,) = list_backups(project.root / ".git/migrail/backups")
        broken = project.schema()
        project.query(  # written after the kill: the restore must not lose it
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) VALUES "
            "('x', 0, 'after_the_kill', '', '', '', 0, 1, '2026-01-01')"
        )
        note = (
            "migrail: the last sync of database 'default' stopped midway; `migrail sync` will "
            f"first back up the database as it stands, then restore {backup.name}, taken before it\n"
        )
        proc = project.migrail("sync", "--dry-run")
        assert proc.returncode == 1
        assert proc.stdout.startswith(note)
        status = project.migrail("status")
        assert status.returncode == 1
        assert note in status.stdout
        assert project.schema() == broken  # a dry run changes nothing
        proc = project.migrail("sync")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (as_it_stood,) = [
            b for b in list_backups(project.root / ".git/migrail/backups") if b.name != backup.name
        ][-1:]  # the oldest but the journal's: the rollback after the restore took another
        assert proc.stdout.startswith(
            "migrail: the last sync of database 'default' stopped midway; restoring "
            f"{backup.name}, taken before it, then planning again (the database as it stood, with "
            f"anything written since, is backed up: `migrail restore {as_it_stood.name}`)\n"
        )
        assert user_rows(project) == USER_ROWS_ADDED
        assert b"after_the_kill" in as_it_stood.path.read_bytes()


def test_finished_sync_leaves_no_journal_and_removes_a_killed_runs_files(tmp_path: Path) -> None:
    project = real_project(tmp_path / "repo", tmp_path / "packages")
    project.add_app("shop")
    project.migration("shop", "0001_initial", migration_source([], create_model("Item")))
    project.commit("main")
    sync(project)
    add_user_rows(project)
    project.migration(
        "shop", "0002_more", migration_source([("shop", "0001_initial")], create_model("More"))
    )
    project.commit("more")
    backups = project.root / ".git/migrail/backups"
    backups.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    partial = backups / f".20260101-000000-000000-default.sql.{gone.pid}.partial"
    partial.write_bytes(b"-- MySQL dump, cut short by kill -9\nCREATE TABLE")
    unlisted = backups / "20260101-000000-000001-default.sql"  # a dump without its metadata
    unlisted.write_bytes(b"-- MySQL dump\n")
    writing = backups / f".20260101-000000-000002-default.sql.{os.getpid()}.partial"
    writing.write_bytes(b"-- MySQL dump, still being written\n")
    temp = tmp_path / "tmp"
    stale = temp / f"migrail-rollback-{gone.pid}-abc123"
    (stale / "_migrail_rollback_shop").mkdir(parents=True)
    live = temp / f"migrail-rollback-{os.getpid()}-def456"
    live.mkdir()
    proc = project.migrail("sync", env={"TMPDIR": str(temp)})
    assert proc.returncode == 0, proc.stderr
    assert not partial.exists()
    assert not unlisted.exists()
    assert writing.exists()  # a backup another sync is taking right now
    assert not stale.exists()
    assert live.exists()  # a sync still running elsewhere keeps its own
    assert not (project.root / ".git/migrail/journal").exists() or not list(
        (project.root / ".git/migrail/journal").iterdir()
    )
    assert ["shop", "0002_more"] in project.query("SELECT app, name FROM django_migrations")
    assert user_rows(project) == USER_ROWS_ADDED


def test_backup_named_by_an_unfinished_journal_is_never_pruned(tmp_path: Path) -> None:
    from migrail.sync.journal import begin, protected_backups

    db = tmp_path / "db.sqlite3"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE django_migrations (app, name)")
    connection.close()
    database = identity_of("default", "sqlite", {"NAME": str(db)})
    directory, journals = tmp_path / "backups", tmp_path / "journal"

    def backup() -> str:
        taken = take_backup(
            directory,
            database,
            {"NAME": str(db)},
            origin=Origin("main", "0" * 40),
            applied=[],
        )
        prune(directory, 1, protected_backups(journals))
        return taken.name

    first = backup()
    begin(journals, database, [("shop", "0002_f01")], first, transactional=False)
    backup()
    newest = backup()
    assert [b.name for b in list_backups(directory)] == [newest, first]
