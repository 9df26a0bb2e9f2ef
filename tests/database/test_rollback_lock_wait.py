"""A rollback blocked by another session's lock says once that it waits, and for whom, and
gives up after MIGRAIL_LOCK_WAIT seconds with one line and nothing half-done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.databases import database_settings
from tests.djangoproject import DjangoProject, real_project, run_env
from tests.scenarios import feature_branch, main_branch, sync


def holder_session(vendor: str, settings: dict[str, Any]) -> Any:
    """Another session, idle in a transaction that read shop_item (a shell left open)."""
    if vendor == "postgresql":
        import psycopg

        dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={settings['NAME']}"
        connection = psycopg.connect(dsn)
        connection.execute("SELECT * FROM shop_item").fetchall()
        return connection
    import pymysql

    connection = pymysql.connect(
        host="127.0.0.1", port=3306, user="root", database=settings["NAME"]
    )
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT * FROM shop_item")
        cursor.fetchall()
    return connection


def sync_with_wait(project: DjangoProject, seconds: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrail", "sync"],
        cwd=project.root,
        env=run_env({**project.env, "MIGRAIL_LOCK_WAIT": str(seconds)}),
        capture_output=True,
        text=True,
        timeout=300,  # not a speed check: without a lock timeout the rollback waits forever
    )


@pytest.mark.parametrize("vendor", ["postgresql", "mariadb"])
def test_a_rollback_blocked_by_another_session_says_so_and_gives_up(
    tmp_path: Path, vendor: str
) -> None:
    with database_settings(vendor, tmp_path) as (settings, _):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        main_branch(project)
        feature_branch(project)
        sync(project)
        project.query("INSERT INTO shop_item (name, stock) VALUES (1, 9)")
        project.git("switch", "-q", "main")
        before = project.schema()
        holder = holder_session(vendor, settings)
        try:
            proc = sync_with_wait(project, 4)
        finally:
            holder.rollback()
            holder.close()
        waiting = [line for line in proc.stdout.splitlines() if "is waiting for a lock" in line]
        if vendor == "postgresql":
            assert len(waiting) == 1, proc.stdout
            assert waiting[0].startswith(
                "migrail: the rollback of database 'default' is waiting for a lock held by "
                "another session (pid "
            )
            assert waiting[0].endswith(
                ", idle in transaction); migrail gives up after 4s (MIGRAIL_LOCK_WAIT)"
            )
            outcome = "nothing was changed"
        else:
            assert waiting == [
                "migrail: the rollback of database 'default' is waiting for a lock held by "
                "another session (waiting for table metadata lock); migrail gives up after 4s "
                "(MIGRAIL_LOCK_WAIT)"
            ], proc.stdout
            outcome = "it stopped midway, where the next sync takes over"
        assert proc.stderr == (
            "migrail: error: the rollback of database 'default' gave up: another session held "
            f"a lock on a table it changes for 4s (MIGRAIL_LOCK_WAIT); {outcome}. End that "
            "session (a shell or server in an open transaction?) and sync again\n"
        )
        assert proc.returncode == 2
        backups = [
            p for p in (project.root / ".git/migrail/backups").iterdir() if p.suffix != ".json"
        ]
        if vendor == "postgresql":
            assert project.schema() == before  # one transaction: nothing half-done
            assert "migrail: removed backup " in proc.stdout  # the database is what it held
            assert backups == []
        else:
            assert len(backups) == 1  # the next sync restores it first
        proc = sync_with_wait(project, 4)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "waiting for a lock" not in proc.stdout
        assert ("stopped midway" in proc.stdout) is (vendor == "mariadb"), proc.stdout
        assert project.query("SELECT id, name FROM shop_item") == [[1, 1]]
        applied = project.query("SELECT name FROM django_migrations WHERE app = 'billing'")
        assert applied == [["0001_initial"]]


def test_migrate_blocked_by_another_session_gives_up_too(tmp_path: Path) -> None:
    with database_settings("postgresql", tmp_path) as (settings, _):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        main_branch(project)
        sync(project)
        feature_branch(project)  # not synced: shop.0002_stock alters shop_item
        holder = holder_session("postgresql", settings)
        try:
            proc = sync_with_wait(project, 3)
        finally:
            holder.rollback()
            holder.close()
        assert (
            "migrail: migrate of database 'default' is waiting for a lock held by another "
            "session (pid "
        ) in proc.stdout
        assert proc.stderr == (
            "migrail: error: migrate of database 'default' gave up: another session held a lock "
            "on a table it changes for 3s (MIGRAIL_LOCK_WAIT); it stopped midway, where the next "
            "sync takes over. End that session (a shell or server in an open transaction?) and "
            "sync again\n"
        )
        assert proc.returncode == 2
        assert "stock" not in str(project.schema()["tables"])
        out = sync(project)
        assert "+ shop.0002_stock" in out
        assert "stock" in str(project.schema()["tables"])
